# The policy on a Citus cluster: a coordinator and two workers, each its own
# throw-away server on a Unix socket, and a multi-tenant schema distributed
# by the customer's id: customers, their orders, order lines two hops away
# and support tickets, co-located, with composite foreign keys that include
# the distribution column, and two reference tables.
#
# It checks that the extension reaches the workers, that every node uses the
# coordinator's keys (also a node added later), that export and erasure are
# complete and exact (an erasure, which Citus cannot plan yet, fails as a
# whole and deletes nothing), and that protect() refuses a distributed table with a
# hint rather than leaving it readable by every role: also a protected
# table distributed afterwards, and after a shard move, shows no row to a
# role without a purpose.
#
# Skipped when Citus is not installed in the server under test.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $pkglibdir = `pg_config --pkglibdir`;
chomp $pkglibdir;
plan skip_all => 'Citus is not installed' unless -f "$pkglibdir/citus.so";

# node NAME: a started server with Citus, pg_cron and the extension preloaded.
sub node
{
	my ($name) = @_;
	my $node = PostgreSQL::Test::Cluster->new($name);
	$node->init;
	$node->append_conf(
		'postgresql.conf', qq{
shared_preload_libraries = 'citus,pg_cron,opendims_privacy'
max_prepared_transactions = 10
citus.local_hostname = '@{[$node->host]}'
cron.database_name = 'postgres'
fsync = off
});
	$node->start;
	$node->safe_psql('postgres', 'SET client_min_messages = warning; CREATE EXTENSION citus');
	return $node;
}

my $coordinator = node('coordinator');
my @workers = (node('worker1'), node('worker2'));

# sql SQL: runs SQL on the coordinator and returns its output.
sub sql { return $coordinator->safe_psql('postgres', $_[0]); }

sql(qq{SELECT citus_set_coordinator_host('@{[$coordinator->host]}', @{[$coordinator->port]})});
sql(qq{SELECT citus_add_node('@{[$_->host]}', @{[$_->port]})}) for @workers;
sql('SET client_min_messages = warning; CREATE EXTENSION opendims_privacy CASCADE');
is( $_->safe_psql('postgres',
		"SELECT extversion FROM pg_extension WHERE extname = 'opendims_privacy'"),
	'2.0',
	'the extension reaches worker ' . $_->name) for @workers;

sql(q{
CREATE SCHEMA saas;
CREATE TABLE saas.countries (code text PRIMARY KEY, name text NOT NULL);
CREATE TABLE saas.plans (id integer PRIMARY KEY, title text NOT NULL);
SELECT create_reference_table('saas.countries');
SELECT create_reference_table('saas.plans');
INSERT INTO saas.countries VALUES ('DK', 'Denmark'), ('SE', 'Sweden');
INSERT INTO saas.plans VALUES (1, 'Basic'), (2, 'Pro');

CREATE TABLE saas.customers (
	id bigint PRIMARY KEY,
	name text NOT NULL,
	email text,
	country text NOT NULL,
	plan_id integer NOT NULL
);
SELECT create_distributed_table('saas.customers', 'id', shard_count => 4);
ALTER TABLE saas.customers ADD FOREIGN KEY (country) REFERENCES saas.countries;
ALTER TABLE saas.customers ADD FOREIGN KEY (plan_id) REFERENCES saas.plans;

CREATE TABLE saas.orders (
	customer_id bigint NOT NULL REFERENCES saas.customers,
	id bigint NOT NULL,
	placed_at timestamptz NOT NULL DEFAULT now(),
	delivery_address text,
	PRIMARY KEY (customer_id, id)
);
SELECT create_distributed_table('saas.orders', 'customer_id', colocate_with => 'saas.customers');

CREATE TABLE saas.order_lines (
	customer_id bigint NOT NULL,
	order_id bigint NOT NULL,
	line integer NOT NULL,
	product text NOT NULL,
	gift_message text,
	PRIMARY KEY (customer_id, order_id, line),
	FOREIGN KEY (customer_id, order_id) REFERENCES saas.orders (customer_id, id)
);
SELECT create_distributed_table('saas.order_lines', 'customer_id', colocate_with => 'saas.customers');

CREATE TABLE saas.tickets (
	customer_id bigint NOT NULL REFERENCES saas.customers,
	id bigint NOT NULL,
	body text NOT NULL,
	PRIMARY KEY (customer_id, id)
);
SELECT create_distributed_table('saas.tickets', 'customer_id', colocate_with => 'saas.customers');

INSERT INTO saas.customers
SELECT g, 'Customer ' || g, 'c' || g || '@example.com', CASE WHEN g % 2 = 0 THEN 'DK' ELSE 'SE' END, 1 + g % 2
  FROM generate_series(1, 40) g;
INSERT INTO saas.orders (customer_id, id, delivery_address)
SELECT c, o, 'Street ' || c || '-' || o FROM generate_series(1, 40) c, generate_series(1, 2) o;
INSERT INTO saas.order_lines
SELECT c, o, l, 'Product ' || l, 'Gift from ' || c FROM generate_series(1, 40) c, generate_series(1, 2) o, generate_series(1, 2) l;
INSERT INTO saas.tickets SELECT c, 1, 'Help, I am customer ' || c FROM generate_series(1, 40) c;

CREATE TABLE saas.leads (id bigint PRIMARY KEY, email text NOT NULL);
INSERT INTO saas.leads SELECT g, 'lead' || g || '@example.com' FROM generate_series(1, 20) g;
});

my $policy = q{{
  "format": 1, "version": "saas-1", "effective_date": "2026-06-24",
  "controller": {"name": "Example SaaS", "contact": "privacy@example.com"},
  "purposes": [
    {"name": "service", "legal_basis": "contract"},
    {"name": "marketing", "legal_basis": "consent"}
  ],
  "categories": [{"name": "support", "description": "What a customer wrote to support"}],
  "subject_kinds": [
    {"name": "customer", "table": "saas.customers", "key": "id"},
    {"name": "lead", "table": "saas.leads", "key": "id"}
  ],
  "classifications": [
    {"table": "saas.customers", "column": "name", "category": "contact.name"},
    {"table": "saas.customers", "column": "email", "category": "contact.email"},
    {"table": "saas.orders", "column": "delivery_address", "category": "contact.address"},
    {"table": "saas.order_lines", "column": "gift_message", "category": "support"},
    {"table": "saas.tickets", "column": "body", "category": "support"},
    {"table": "saas.leads", "column": "email", "category": "contact.email"}
  ]
}};
sql("SELECT privacy.apply_policy(\$policy\$$policy\$policy\$)");
is( sql(q{SELECT string_agg(table_name::text || ':' || depth, ' ' ORDER BY table_name::text)
		    FROM privacy.subject_map WHERE kind = 'customer'}),
	'saas.customers:0 saas.order_lines:2 saas.orders:1 saas.tickets:1',
	'the subject map follows the distributed tables');


# The export runs on distributed tables, complete and exact.
is( sql(q{SELECT string_agg(t || ':' || jsonb_array_length(d -> 'data' -> t -> 'rows'), ' ' ORDER BY t)
		    FROM (SELECT privacy.export_subject(privacy.open_request('customer', '7', 'access')) d) e,
		         jsonb_object_keys(d -> 'data') t}),
	'saas.customers:1 saas.order_lines:4 saas.orders:2 saas.tickets:1',
	'the export of a customer is complete');
is( sql(q{SELECT (privacy.export_subject('customer', '7') -> 'data' -> 'saas.order_lines' -> 'rows')
		    @> '[{"customer_id": 7, "gift_message": "Gift from 7"}]'
		    AND NOT (privacy.export_subject('customer', '7')::text LIKE '%Gift from 8%')}),
	't', 'and exact');
# The erasure's first statement locks the subject in a local table of the
# extension together with the distributed anchor, which Citus cannot plan
# yet: the erasure fails as a whole and deletes nothing.
my ($rc, $out, $err) = $coordinator->psql('postgres',
	q{SELECT privacy.erase_subject(privacy.open_request('customer', '7', 'erasure'), 'test')});
isnt($rc, 0, 'an erasure Citus cannot plan fails');
is( sql(q{SELECT (SELECT count(*) FROM saas.customers) || ' ' || (SELECT count(*) FROM saas.orders) || ' '
		    || (SELECT count(*) FROM saas.order_lines) || ' ' || (SELECT count(*) FROM saas.tickets)}),
	'40 80 160 40', 'as a whole: no row is deleted');

# Keys: every node computes subject references and pseudonyms with the
# coordinator's keys, also in a statement the coordinator sends to a worker,
# and also a node added after the extension was created.
my $keyed = q{SELECT privacy.subject_ref('customer', '7') || ' '
	|| privacy.pseudonymize('c7@example.com'::privacy.email)};
my $expected = sql($keyed);
is($_->safe_psql('postgres', $keyed), $expected, 'worker ' . $_->name . ' uses the coordinator\'s keys')
  for @workers;
is( sql(q{SELECT privacy.subject_ref('customer', c.id::text) FROM saas.customers c WHERE c.id = 7}),
	(split / /, $expected)[0],
	'a subject reference computed on a shard equals the coordinator\'s');
my $late = node('worker3');
sql(qq{SELECT citus_add_node('@{[$late->host]}', @{[$late->port]})});
is($late->safe_psql('postgres', $keyed), $expected, 'a node added later uses the coordinator\'s keys');
push @workers, $late;

# policies_on NODE TABLE: the row policies on the table's shards on a node,
# as "name:permissive" lines.
sub policies_on
{
	my ($node, $table) = @_;
	return $node->safe_psql('postgres', qq{SET citus.override_table_visibility = off;
		SELECT string_agg(DISTINCT p.policyname || ':' || p.permissive, ' ' ORDER BY p.policyname || ':' || p.permissive)
		  FROM pg_policies p WHERE p.schemaname = 'saas' AND p.tablename LIKE '${table}_%'});
}

# protect() refuses a distributed table, and leaves nothing on it or its
# shards.
($rc, $out, $err) = $coordinator->psql('postgres', q{SELECT privacy.protect('saas.customers')});
like($err, qr/cannot protect table saas\.customers because Citus distributes it/,
	'protect() refuses a distributed table');
like($err, qr/HINT:  Keep tables that need rows filtered by purpose on the coordinator/, 'with a hint');
is(sql(q{SELECT count(*) FROM pg_policy WHERE polrelid = 'saas.customers'::regclass}), '0',
	'no policy is left on the distributed table');
is(policies_on($_, 'customers'), '', 'nor on its shards on ' . $_->name) for @workers;

# A table protected before it was distributed (which needs the user's
# citus.enable_unsafe_triggers, for the rectification trigger): its shards
# get the purpose policy as RESTRICTIVE too, also after a shard move, and a
# role without a purpose sees none of its rows through the coordinator,
# neither in a router query nor in a multi-shard one.
sql(q{
SELECT privacy.protect('saas.leads');
CREATE ROLE reader LOGIN;
GRANT USAGE ON SCHEMA saas TO reader;
GRANT SELECT ON saas.leads TO reader;
SET citus.enable_unsafe_triggers = on;
SELECT create_distributed_table('saas.leads', 'id', colocate_with => 'none', shard_count => 2);
});
my $reads = q{SET ROLE reader; SELECT (SELECT count(*) FROM saas.leads WHERE id = 3) || ' ' || (SELECT count(*) FROM saas.leads)};
is(sql($reads), '0 0', 'a role without a purpose sees no row of a protected table distributed later');
my $shard_policies = 'privacy_purpose:RESTRICTIVE privacy_rows:PERMISSIVE';
is(policies_on($_, 'leads'), $shard_policies, 'its purpose policy is restrictive on the shards on ' . $_->name)
  for @workers[0 .. 1];
my ($shard, $from) = split /\|/, sql(q{SELECT s.shardid, n.nodeport FROM pg_dist_shard s
	JOIN pg_dist_placement p USING (shardid) JOIN pg_dist_node n USING (groupid)
	WHERE s.logicalrelid = 'saas.leads'::regclass ORDER BY s.shardid LIMIT 1});
my ($target) = grep { $_->port != $from } @workers;
sql(qq{SELECT citus_move_shard_placement($shard, nodeid_from, $from, '@{[$target->host]}', @{[$target->port]},
	shard_transfer_mode => 'block_writes') FROM (SELECT nodename AS nodeid_from FROM pg_dist_node WHERE nodeport = $from) n});
is(policies_on($target, 'leads'), $shard_policies, 'a moved shard keeps its purpose policy restrictive');
is(sql($reads), '0 0', 'after the move a role without a purpose still sees no row');

done_testing();
