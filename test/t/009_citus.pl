# The policy on a Citus cluster: a coordinator and two workers, each its own
# throw-away server on a Unix socket, and a multi-tenant schema distributed
# by the customer's id: customers, their orders, order lines two hops away
# and support tickets, co-located, with composite foreign keys that include
# the distribution column, and two reference tables.
#
# It checks that the extension reaches the workers, that every node uses the
# coordinator's keys (also a node added later), that export and erasure are
# complete and exact (gone from the workers' shards and their planner
# statistics, other customers' rows untouched, also where rows are
# retained, anonymised or held, where columns hold dates, times or arrays,
# and for subjects keyed by a uuid), that the retention and sensitive-data
# guards work on the shards without
# citus.enable_unsafe_triggers, that protect() on distributed tables checks
# every read on the workers against the coordinator's purpose (its default
# purpose included, a worker's own ignored), grants and consent state
# (withdrawals honoured by the next statement, shard moves and a rebalance,
# forged purposes refused), that UPDATE and DELETE under row security reach
# the workers with their purpose and that every rectification on a shard (a
# user's UPDATE, an erasure's anonymisation) is audited once in the
# coordinator's log, refuses with a hint what it cannot check (an INSERT
# under row security) and never leaves a table readable by every role: also a protected table
# distributed afterwards, and after a shard move, shows no row to a role
# without a purpose. (The cost of protection on a router query is a
# benchmark: test/bench/citus.sh.)
#
# Skipped when Citus is not installed in the server under test.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use List::Util qw(sum);

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

-- A member's aliases are a domain over an array; every member has one alias
-- the others share.
CREATE DOMAIN saas.alias_list AS text[];
CREATE TABLE saas.members (id bigint PRIMARY KEY, aliases saas.alias_list, motto text NOT NULL, born date);
SELECT create_distributed_table('saas.members', 'id', shard_count => 4);
INSERT INTO saas.members
SELECT g, ARRAY['Alias ' || g || '-a', 'Alias ' || g || '-b', 'Alias shared'], 'Motto ' || g || '-m', date '1960-01-01' + g
  FROM generate_series(1, 40) g;
-- Badges hold no personal data: a member with a badge is anonymised.
CREATE TABLE saas.member_badges (member_id bigint NOT NULL REFERENCES saas.members, badge text NOT NULL,
	PRIMARY KEY (member_id, badge));
SELECT create_distributed_table('saas.member_badges', 'member_id', colocate_with => 'saas.members');
INSERT INTO saas.member_badges VALUES (22, 'founder');
-- A member's events are named by a time, and a kept reference to one of
-- them keeps it, anonymised.
CREATE TABLE saas.member_events (member_id bigint NOT NULL REFERENCES saas.members, at timestamptz NOT NULL,
	note text NOT NULL, PRIMARY KEY (member_id, at));
SELECT create_distributed_table('saas.member_events', 'member_id', colocate_with => 'saas.members');
CREATE TABLE saas.member_event_refs (member_id bigint NOT NULL, at timestamptz NOT NULL,
	PRIMARY KEY (member_id, at), FOREIGN KEY (member_id, at) REFERENCES saas.member_events);
SELECT create_distributed_table('saas.member_event_refs', 'member_id', colocate_with => 'saas.members');
INSERT INTO saas.member_events VALUES (23, '2026-01-02 03:04:05+00', 'Event of member 23');
INSERT INTO saas.member_event_refs VALUES (23, '2026-01-02 03:04:05+00');

-- Devices are subjects keyed by a uuid.
CREATE TABLE saas.devices (id uuid PRIMARY KEY, label text NOT NULL);
SELECT create_distributed_table('saas.devices', 'id', shard_count => 4);
CREATE TABLE saas.device_logins (device_id uuid NOT NULL REFERENCES saas.devices, n integer NOT NULL, ip inet,
	PRIMARY KEY (device_id, n));
SELECT create_distributed_table('saas.device_logins', 'device_id', colocate_with => 'saas.devices');
INSERT INTO saas.devices SELECT ('00000000-0000-0000-0000-' || lpad(g::text, 12, '0'))::uuid, 'Device ' || g
  FROM generate_series(1, 10) g;
INSERT INTO saas.device_logins SELECT ('00000000-0000-0000-0000-' || lpad(g::text, 12, '0'))::uuid, n, ('10.0.0.' || g)::inet
  FROM generate_series(1, 10) g, generate_series(1, 2) n;
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
    {"name": "lead", "table": "saas.leads", "key": "id"},
    {"name": "member", "table": "saas.members", "key": "id"},
    {"name": "device", "table": "saas.devices", "key": "id"}
  ],
  "classifications": [
    {"table": "saas.customers", "column": "name", "category": "contact.name"},
    {"table": "saas.customers", "column": "email", "category": "contact.email"},
    {"table": "saas.orders", "column": "delivery_address", "category": "contact.address"},
    {"table": "saas.order_lines", "column": "gift_message", "category": "support"},
    {"table": "saas.tickets", "column": "body", "category": "support"},
    {"table": "saas.leads", "column": "email", "category": "contact.email"},
    {"table": "saas.members", "column": "aliases", "category": "contact.name"},
    {"table": "saas.members", "column": "motto", "category": "support"},
    {"table": "saas.members", "column": "born", "category": "contact"},
    {"table": "saas.member_events", "column": "note", "category": "support"},
    {"table": "saas.devices", "column": "label", "category": "content"},
    {"table": "saas.device_logins", "column": "ip", "category": "credentials.ip_address"}
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
# --- Erasure, the guards and retention on distributed tables -------------

# on_workers SQL: the sum of SQL's single number over every shard of a table
# on every worker, read on the workers themselves: SQL names the shard as
# SHARD, e.g. 'SELECT count(*) FROM SHARD WHERE customer_id = 7'.
sub on_workers
{
	my ($table, $query) = @_;
	my $sum = 0;
	for my $w (@workers)
	{
		my @shards = split /\n/, $w->safe_psql('postgres', qq{SET citus.override_table_visibility = off;
			SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
			 WHERE n.nspname = 'saas' AND c.relkind = 'r' AND c.relname ~ '^${table}_[0-9]+\$'});
		for my $shard (@shards)
		{
			(my $q = $query) =~ s/SHARD/saas.$shard/g;
			$sum += $w->safe_psql('postgres', $q);
		}
	}
	return $sum;
}

# others EXCEPT: a digest of every row of every customer but those listed,
# to show that an erasure left them exactly as they were.
sub others
{
	my $except = join ',', @_;
	return sql(qq{SELECT md5(string_agg(x, '|' ORDER BY x)) FROM (
		SELECT c::text AS x FROM saas.customers c WHERE id NOT IN ($except)
		UNION ALL SELECT o::text FROM saas.orders o WHERE customer_id NOT IN ($except)
		UNION ALL SELECT l::text FROM saas.order_lines l WHERE customer_id NOT IN ($except)
		UNION ALL SELECT t::text FROM saas.tickets t WHERE customer_id NOT IN ($except)) r});
}

# in_shard_element_statistics PATTERN: how many columns of the shards on
# the workers hold an array element like PATTERN in their statistics.
sub in_shard_element_statistics
{
	my ($pattern) = @_;
	return sum(map {
		$_->safe_psql('postgres', qq{SET citus.show_shards_for_app_name_prefixes = '*';
			SELECT count(*) FROM pg_stats WHERE schemaname = 'saas' AND most_common_elems::text LIKE '%$pattern%'})
	} @workers);
}

# A plain erasure: every row of the customer goes, on the workers' shards
# too, with the receipt, the erasure record, the request and the audit
# entry right, and every other customer's rows untouched.
# in_shard_statistics PATTERN: how many columns of the shards on the
# workers hold a value like PATTERN in their planner statistics.
sub in_shard_statistics
{
	my ($pattern) = @_;
	return sum(map {
		$_->safe_psql('postgres', qq{SET citus.show_shards_for_app_name_prefixes = '*';
			SELECT count(*) FROM pg_stats WHERE schemaname = 'saas'
			AND (most_common_vals::text LIKE '%$pattern%' OR histogram_bounds::text LIKE '%$pattern%')})
	} @workers);
}
sql("SELECT count(*) FROM run_command_on_shards('saas.$_', 'ANALYZE %s')") for ('customers', 'orders');
is(in_shard_statistics('c21@example.com') . ' ' . in_shard_statistics('Street 21-'), '1 1',
	'the statistics of the workers\' shards hold the customer\'s e-mail and addresses');
my $kept_values = in_shard_statistics('c24@example.com') . ' ' . in_shard_statistics('Street 24-');
my $others_before = others(21, 22, 23);
my $receipt = sql(q{SELECT privacy.erase_subject(privacy.open_request('customer', '21', 'erasure'), 'test')});
like($receipt, qr/"rows_deleted": 8\b/, 'an erasure on distributed tables deletes every row of the customer');
like($receipt, qr/"table": "saas.order_lines", "deleted": 4/, 'the receipt counts each table');
is( on_workers('customers', 'SELECT count(*) FROM SHARD WHERE id = 21') + on_workers('orders',
		'SELECT count(*) FROM SHARD WHERE customer_id = 21') + on_workers('order_lines',
		'SELECT count(*) FROM SHARD WHERE customer_id = 21') + on_workers('tickets',
		'SELECT count(*) FROM SHARD WHERE customer_id = 21'),
	0, 'the erased customer\'s rows are gone from the workers\' shards');
is(in_shard_statistics('c21@example.com') + in_shard_statistics('Street 21-'), 0,
	'and their values from the statistics of the shards');
is(in_shard_statistics('c24@example.com') . ' ' . in_shard_statistics('Street 24-'), $kept_values,
	'which keep the values of other customers');
# The same where a classified column holds an array or a date, whose
# conversion to text Citus does not run in a DELETE's RETURNING list: the
# erasure works, and each element of the erased row's array, its date and
# its text go from the shards' statistics.
sql("SELECT count(*) FROM run_command_on_shards('saas.members', 'ANALYZE %s')");
is(join(' ', map { in_shard_statistics($_) } 'Alias 21-a', 'Motto 21-m', '1960-01-22'), '1 1 1',
	'the statistics of the workers\' shards hold a member\'s aliases (an array), motto and birth date');
my $kept_member = join(' ', map { in_shard_statistics($_) } 'Alias 24-a', 'Motto 24-m', '1960-01-25');
my $shared_alias = in_shard_element_statistics('Alias shared');
is(in_shard_element_statistics('Alias 21-a') . ' ' . ($shared_alias > 0 ? 'some' : 'none'), '1 some',
	'the element statistics of the shards hold the member\'s own alias and the shared one');
like(sql(q{SELECT privacy.erase_subject('member', '21', 'test')}), qr/"rows_deleted": 1\b/,
	'an erasure of a member deletes its row');
is(on_workers('members', 'SELECT count(*) FROM SHARD WHERE id = 21'), 0, 'from the workers\' shards');
is(join(' ', map { in_shard_statistics($_) } 'Alias 21-', 'Motto 21-m', '1960-01-22'), '0 0 0',
	'and its array\'s elements, its motto and its birth date from the statistics of the shards');
is(join(' ', map { in_shard_statistics($_) } 'Alias 24-a', 'Motto 24-m', '1960-01-25'), $kept_member,
	'which keep those of other members');
is(in_shard_element_statistics('Alias 21-a') . ' ' . in_shard_element_statistics('Alias shared'), "0 $shared_alias",
	'the member\'s own alias goes from the element statistics, the one other members share stays');
like(sql(q{SELECT privacy.erase_subject('member', '22', 'test')}), qr/"rows_anonymized": 1\b/,
	'a member whose badge is kept is anonymised');
is(sql(q{SELECT aliases IS NULL AND born IS NULL AND motto LIKE '[erased %' FROM saas.members WHERE id = 22}), 't',
	'its array and its date cleared, its NOT NULL text replaced by a marker');
like(sql(q{SELECT privacy.erase_subject('member', '22', 'test')}), qr/"changed": false/,
	'and erasing it again changes nothing');
like(sql(q{SELECT privacy.erase_subject('member', '23', 'test')}), qr/"rows_anonymized": 2\b/,
	'a member whose event, named by a time, is kept is anonymised with it');
is(sql(q{SELECT note FROM saas.member_events WHERE member_id = 23}) =~ /^\[erased [0-9a-f]{12}\]$/ ? 1 : 0, 1,
	'the event\'s text replaced by a marker');
is( sql(q{SELECT (SELECT count(*) FROM privacy.erasures e WHERE e.kind = 'customer'
		      AND e.subject_ref = privacy.subject_ref('customer', '21') AND (e.receipt ->> 'rows_deleted')::int = 8)
		  || ' ' || (SELECT r.status FROM privacy.requests r WHERE r."right" = 'erasure'
		      AND r.subject_ref = privacy.subject_ref('customer', '21'))
		  || ' ' || (SELECT count(*) FROM privacy.audit_log a WHERE a.action = 'erasure'
		      AND a.subject_ref = privacy.subject_ref('customer', '21'))}),
	'1 completed 1', 'the erasure is recorded, its request completed and audited once');
is(others(21, 22, 23), $others_before, 'no other customer\'s row changed');
like(sql(q{SELECT privacy.erase_subject('customer', '21', 'test')}), qr/"already_erased": true/,
	'erasing the customer again finds nothing more');
# With auto_explain analysing every nested statement, Citus counts the rows
# a routed DELETE returns differently from the rows SPI receives, and SPI
# fails; the erasure's routed DELETEs return nothing.
like(sql(q{LOAD 'auto_explain'; SET auto_explain.log_min_duration = 0;
	SET auto_explain.log_nested_statements = on; SET auto_explain.log_analyze = on;
	SELECT privacy.erase_subject('customer', '25', 'test')}), qr/"changed": true/,
	'an erasure works while auto_explain analyses its statements');

# dump_of NODE: a data-only pg_dump of schema saas on a node, shards included
# (pg_dump locks each table it dumps, which Citus allows on a shard only
# with citus.enable_manual_changes_to_shards).
sub dump_of
{
	my ($node) = @_;
	local $ENV{PGOPTIONS} =
	  '-c citus.override_table_visibility=off -c citus.enable_manual_changes_to_shards=on';
	return `pg_dump -h @{[$node->host]} -p @{[$node->port]} --data-only --schema=saas postgres 2>&1`;
}
my $dumps = join '', map { dump_of($_) } @workers;
like($dumps, qr/c20\@example\.com/, 'a worker\'s pg_dump holds its shards\' rows');
unlike($dumps, qr/c21\@example\.com|Gift from 21\b|Street 21-|I am customer 21\b/,
	'but nothing of the erased customer');

# The product's own triggers on distributed tables: a retention rule with a
# legal minimum installs its guard, and guard() in reject mode works,
# without the user setting citus.enable_unsafe_triggers; the guards run on
# the workers' shards. (Redact mode is checked with the audit log below.)
my $retention_policy = $policy;
$retention_policy =~ s/"version": "saas-1"/"version": "saas-2"/;
$retention_policy =~ s/\{"name": "marketing", "legal_basis": "consent"\}/{"name": "marketing", "legal_basis": "consent"},
    {"name": "analytics", "legal_basis": "legitimate_interest"},
    {"name": "bookkeeping", "legal_basis": "legal_obligation"}/;
$retention_policy =~ s/\n\}$/,
  "retention_rules": [
    {"name": "orders", "table": "saas.orders", "anchor": "placed_at", "period": "5 years",
     "action": "delete", "legal_basis": "legal_obligation", "minimum": "5 years",
     "minimum_from": "end_of_financial_year"},
    {"name": "tickets", "table": "saas.tickets", "anchor": "created_at", "period": "1 year",
     "action": "delete", "legal_basis": "contract"}
  ]
}/;
$retention_policy =~ s/"subject_kinds": \[/"subject_kinds": [
    {"name": "partner", "table": "saas.partners", "key": "id"},/;
$retention_policy =~ s/"classifications": \[/"classifications": [
    {"table": "saas.partners", "column": "email", "category": "contact.email"},
    {"table": "saas.partner_notes", "column": "note", "category": "support"},/;
$retention_policy =~ s/"retention_rules": \[/"retention_rules": [
    {"name": "partner_notes", "table": "saas.partner_notes", "anchor": "written_at", "period": "5 years",
     "action": "delete", "legal_basis": "legal_obligation", "minimum": "5 years"},/;
sql(q{
CREATE TABLE saas.partners (id integer PRIMARY KEY, email text NOT NULL);
SELECT create_reference_table('saas.partners');
CREATE TABLE saas.partner_notes (
	partner_id integer NOT NULL REFERENCES saas.partners,
	n integer NOT NULL,
	note text,
	written_at timestamptz NOT NULL,
	PRIMARY KEY (partner_id, n)
);
SELECT create_reference_table('saas.partner_notes');
INSERT INTO saas.partners SELECT g, 'partner' || g || '@example.com' FROM generate_series(1, 5) g;
INSERT INTO saas.partner_notes
SELECT g, n, 'Note ' || n || ' on partner ' || g, CASE n WHEN 1 THEN now() ELSE now() - interval '10 years' END
  FROM generate_series(1, 5) g, generate_series(1, 2) n;
});
sql(q{ALTER TABLE saas.tickets ADD COLUMN created_at timestamptz NOT NULL DEFAULT now()});
$others_before = others(21, 22, 23);
sql("SELECT privacy.apply_policy(\$policy\$$retention_policy\$policy\$)");
is(sql(q{SELECT count(*) FROM pg_trigger WHERE tgrelid = 'saas.orders'::regclass AND tgname LIKE 'privacy_retention_guard%'}),
	'2', 'applying a retention rule installs its guard on a distributed table');
is(on_workers('orders', q{SELECT count(*) FROM pg_trigger WHERE tgrelid = 'SHARD'::regclass
		AND tgname LIKE 'privacy_retention_guard%'}),
	4, 'and on each of its shards');
is(sql(q{SHOW citus.enable_unsafe_triggers}), 'off', 'the user\'s citus.enable_unsafe_triggers is untouched');
my ($rc, $out, $err) = $coordinator->psql('postgres', q{DELETE FROM saas.orders WHERE customer_id = 5});
like($err, qr/cannot delete a row of table "saas\.orders_\d+" before the legal minimum of retention rule "orders" ends/,
	'the retention guard refuses on the shard to delete a row under its legal minimum');
($rc, $out, $err) = $coordinator->psql('postgres', q{TRUNCATE saas.order_lines, saas.orders});
like($err, qr/cannot truncate table "saas\.orders" while it holds rows under the legal minimum/,
	'and a truncation');
sql(q{SELECT privacy.guard('saas.tickets', ARRAY['body'])});
($rc, $out, $err) = $coordinator->psql('postgres',
	q{INSERT INTO saas.tickets (customer_id, id, body) VALUES (5, 9, 'my CPR number is 010190-1234')});
like($err, qr/value of column "body" contains a Danish CPR number/, 'guard() rejects a CPR number on a shard');

# The careful way names a row by its primary key where Citus distributes
# the table: a ctid is a shard's own, and the same ctid names other
# customers' rows on every other shard. Orders kept by their legal minimum
# stay, their lines go, and the customer they reference is anonymised; no
# other customer's row changes.
$receipt = sql(q{SELECT privacy.erase_subject('customer', '22', 'test')});
like($receipt, qr/"rows": 2, "basis": "legal_obligation", "table": "saas.orders", "retained": 2, "retained_until": "\d{4}-01-01"/,
	'orders under a legal minimum are retained, with the date it ends');
like($receipt, qr/"table": "saas.customers", "deleted": 0, "anonymized": 1/, 'the customer they reference is anonymised');
is( on_workers('customers', q{SELECT count(*) FROM SHARD WHERE id = 22 AND name LIKE '[erased %' AND email IS NULL})
	  . ' ' . on_workers('order_lines', 'SELECT count(*) FROM SHARD WHERE customer_id = 22')
	  . ' ' . on_workers('orders', q{SELECT count(*) FROM SHARD WHERE customer_id = 22}),
	'1 0 2', 'on the workers\' shards: the customer anonymised, the lines gone, the orders kept');
is(others(21, 22, 23), $others_before, 'no other customer\'s row changed');

# A legal hold on the customer keeps every row; released, the erasure
# completes.
sql(q{SELECT privacy.place_hold('customer', '23', 'litigation', 'case 1')});
like(sql(q{SELECT privacy.erase_subject('customer', '23', 'test')}), qr/"pending": true.*"rows_held": 8/,
	'a held customer\'s erasure keeps every row and stays pending');
is(on_workers('order_lines', 'SELECT count(*) FROM SHARD WHERE customer_id = 23'), 4, 'the held rows stay on the shards');
sql(q{SELECT privacy.release_hold(h.id, 'settled') FROM privacy.legal_holds h WHERE h.reference = 'case 1'});
is( on_workers('order_lines', 'SELECT count(*) FROM SHARD WHERE customer_id = 23') . ' '
	  . on_workers('customers', q{SELECT count(*) FROM SHARD WHERE id = 23 AND name LIKE '[erased %'}),
	'0 1', 'released, the held erasure completes on the shards');
is(others(21, 22, 23), $others_before, 'no other customer\'s row changed');

# Reference tables: a partner anchored on one, with notes kept under a
# legal minimum; every node's copy of the tables changes the same way, and
# no other partner's row changes.
my $partners_before = sql(q{SELECT md5(string_agg(p::text, '|' ORDER BY p::text)) FROM
	(SELECT p::text FROM saas.partners p WHERE id <> 2 UNION ALL SELECT n::text FROM saas.partner_notes n WHERE partner_id <> 2) p});
$receipt = sql(q{SELECT privacy.erase_subject('partner', '2', 'test')});
like($receipt, qr/"rows": 2, "basis": "legal_obligation", "table": "saas.partner_notes", "deleted": 1, "retained": 1/,
	'on reference tables the erasure deletes the note whose minimum ended and retains the other');
like($receipt, qr/"table": "saas.partners", "deleted": 0, "anonymized": 1/, 'and anonymises the partner it references');
my $marker = sql(q{SELECT email FROM saas.partners WHERE id = 2});
like($marker, qr/^\[erased [0-9a-f]{12}\]$/, 'the partner\'s email is replaced by a marker');
is( on_workers('partners', qq{SELECT count(*) FROM SHARD WHERE id = 2 AND email = '$marker'}) . ' '
	  . on_workers('partner_notes', 'SELECT count(*) FROM SHARD WHERE partner_id = 2'),
	'2 2', 'every worker\'s copy holds the same marker and the one retained note');
is( sql(q{SELECT md5(string_agg(p::text, '|' ORDER BY p::text)) FROM
		(SELECT p::text FROM saas.partners p WHERE id <> 2 UNION ALL SELECT n::text FROM saas.partner_notes n WHERE partner_id <> 2) p}),
	$partners_before, 'no other partner\'s row changed');

# Consent, objection, restriction and the request lifecycle of customers
# anchored on a distributed table: each is recorded once, a customer who
# does not exist is refused, and the export shows the history.
is( sql(q{SELECT (privacy.grant_consent('customer', '30', 'marketing', 'direct', '{"form": "signup"}') > 0)::text
		  || ' ' || (privacy.withdraw_consent('customer', '30', 'marketing', 'direct') > 0)::text
		  || ' ' || (privacy.object('customer', '30', 'analytics', 'direct', '{}') > 0)::text}),
	'true true true', 'consent, its withdrawal and an objection are recorded for a customer on a distributed table');
is(sql(q{SELECT jsonb_array_length(privacy.export_subject('customer', '30') -> 'consent_history')}), '3',
	'and the export shows them');
($rc, $out, $err) = $coordinator->psql('postgres',
	q{SELECT privacy.grant_consent('customer', '999', 'marketing', 'direct', '{}')});
like($err, qr/subject of kind "customer" does not exist/, 'consent for a customer who does not exist is refused');
my $request = sql(q{SELECT privacy.open_request('customer', '31', 'restriction')});
sql(q{SELECT privacy.restrict('customer', '31', 'accuracy contested')});
sql(qq{SELECT privacy.close_request($request, 'completed', '{"note": "restricted"}')});
my $late_request = sql(q{SELECT privacy.open_request('customer', '32', 'objection', now() - interval '2 months')});
is( sql(qq{SELECT (SELECT status FROM privacy.requests WHERE id = $request) || ' '
		  || (SELECT overdue FROM privacy.requests WHERE id = $late_request)}),
	'completed true', 'a restriction request completes; a late request shows as overdue');
sql(qq{SELECT privacy.close_request($late_request, 'rejected', '{"reason": "no grounds"}')});
sql(q{SELECT privacy.lift_restriction('customer', '31')});
is( sql(qq{SELECT (SELECT status FROM privacy.requests WHERE id = $late_request) || ' '
		  || (SELECT count(*) FROM privacy.consent_ledger WHERE action IN ('restriction', 'restriction.lift') AND subject = '31')}),
	'rejected 2', 'a request is rejected; a restriction and its lifting are in the ledger');

# The retention job on distributed and reference tables: due rows go from
# every shard and every copy, in batches of the size asked for, also where
# many due rows share one anchor value (the job then names them by primary
# key: a ctid is a shard's own), except those of a held customer; every
# other row stays.
sql(q{UPDATE saas.tickets SET created_at = '2020-01-01' WHERE customer_id BETWEEN 31 AND 36});
sql(q{SELECT privacy.place_hold('customer', '34', 'litigation', 'case 2')});
my $tickets_before = sql(q{SELECT md5(string_agg(t::text, '|' ORDER BY t::text)) FROM saas.tickets t
	WHERE customer_id NOT BETWEEN 31 AND 36});
($rc, $out, $err) = $coordinator->psql('postgres', q{CALL privacy.enforce_retention(2, '1 minute')});
is($rc, 0, 'the retention job runs on a distributed table');
like($err, qr/retention rule "tickets": 1 done in this batch, 5 in all.*retention run \d+ finished: 9 of 9 due rows done in 5 batches/s,
	'in batches of the size asked for');
is(on_workers('partner_notes', q{SELECT count(*) FROM SHARD WHERE written_at < now() - interval '5 years'}), 0,
	'due rows of a reference table are gone from every worker\'s copy');
is( on_workers('tickets', 'SELECT count(*) FROM SHARD WHERE customer_id BETWEEN 31 AND 36') . ' '
	  . on_workers('tickets', 'SELECT count(*) FROM SHARD WHERE customer_id = 34'),
	'1 1', 'due rows are gone from the workers\' shards, but the held customer\'s');
is( sql(q{SELECT md5(string_agg(t::text, '|' ORDER BY t::text)) FROM saas.tickets t
		   WHERE customer_id NOT BETWEEN 31 AND 36}),
	$tickets_before, 'no other row changed');
is(sql(q{SELECT status FROM privacy.retention_runs ORDER BY id DESC LIMIT 1}), 'finished', 'the run is recorded');

# --- end of erasure, the guards and retention on distributed tables -------

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

# ---- protect() on distributed tables: the purpose on every node ----------
# Roles with and without purposes; customers 1-10 consented to marketing.
sql(q{
CREATE ROLE nobody LOGIN;
CREATE ROLE agent LOGIN;
CREATE ROLE marketer LOGIN;
GRANT USAGE ON SCHEMA saas TO nobody, agent, marketer;
GRANT SELECT ON ALL TABLES IN SCHEMA saas TO nobody, agent, marketer;
SELECT privacy.allow_purpose('service', 'agent');
SELECT privacy.allow_purpose('marketing', 'marketer');
SELECT privacy.grant_consent('customer', g::text, 'marketing', 'direct', '{}') FROM generate_series(1, 10) g;
});

# A table whose rows reach their subject through a table in between,
# without the subject's key (visits of an agency's site, through reference
# tables), is refused with a hint, and nothing is left on it.
sql(q{
CREATE TABLE saas.agencies (id bigint PRIMARY KEY, email text NOT NULL);
CREATE TABLE saas.agency_sites (id bigint PRIMARY KEY, agency_id bigint NOT NULL REFERENCES saas.agencies);
SELECT create_reference_table('saas.agencies');
SELECT create_reference_table('saas.agency_sites');
CREATE TABLE saas.visits (customer_id bigint NOT NULL, site_id bigint NOT NULL, seen_from text,
	PRIMARY KEY (customer_id, site_id));
SELECT create_distributed_table('saas.visits', 'customer_id', colocate_with => 'saas.customers');
ALTER TABLE saas.visits ADD FOREIGN KEY (site_id) REFERENCES saas.agency_sites;
});
my $agency_policy = $retention_policy =~ s/\{"name": "lead", "table": "saas.leads", "key": "id"\}/{"name": "lead", "table": "saas.leads", "key": "id"},
    {"name": "agency", "table": "saas.agencies", "key": "id"}/r
  =~ s/\{"table": "saas.leads", "column": "email", "category": "contact.email"\}/{"table": "saas.leads", "column": "email", "category": "contact.email"},
    {"table": "saas.agencies", "column": "email", "category": "contact.email"},
    {"table": "saas.visits", "column": "seen_from", "category": "contact.address"}/r
  =~ s/"version": "saas-2"/"version": "saas-3"/r;
sql("SELECT privacy.apply_policy(\$policy\$$agency_policy\$policy\$)");
($rc, $out, $err) = $coordinator->psql('postgres', q{SELECT privacy.protect('saas.visits')});
like($err, qr/cannot protect table saas\.visits because Citus distributes it and its rows reach their subjects through another table/,
	'protect() refuses a distributed table whose path does not carry the subject\'s key');
like($err, qr/HINT:  Give the table the subject's key as its distribution column/, 'with a hint');
is(sql(q{SELECT count(*) FROM pg_policy WHERE polrelid = 'saas.visits'::regclass}), '0',
	'no policy is left on the refused table');
is(policies_on($_, 'visits'), '', 'nor on its shards on ' . $_->name) for @workers;

# Co-located tables that name their subject are protected, on every shard:
# also order lines, two hops from the anchor, whose foreign keys carry the
# customer's id (their policy reads it from the row).
sql(q{SELECT privacy.protect('saas.orders'); SELECT privacy.protect('saas.tickets'); SELECT privacy.protect('saas.order_lines');});
is( sql(q{SELECT string_agg(table_name::text || ':' || path_only, ' ' ORDER BY table_name::text) FROM privacy.protected_tables}),
	'saas.customers:true saas.order_lines:false saas.orders:false saas.tickets:false',
	'protect() protects distributed tables and their anchor');
is( sql(q{SELECT polqual IS NOT NULL AND pg_get_expr(polqual, polrelid) !~ 'SELECT' FROM pg_policy
		   WHERE polrelid = 'saas.order_lines'::regclass AND polname = 'privacy_purpose'}),
	't', 'the policy of order lines reads the customer from the row');
is(policies_on($_, 'order_lines'), 'privacy_purpose:RESTRICTIVE privacy_rows:PERMISSIVE',
	'the shards of order lines on ' . $_->name . ' have a restrictive purpose policy')
  for @workers[0 .. 1];
is(policies_on($_, 'customers'), 'privacy_purpose:RESTRICTIVE privacy_rows:PERMISSIVE',
	'the shards of the anchor on ' . $_->name . ' have a restrictive purpose policy')
  for @workers[0 .. 1];

# as ROLE, PURPOSE, SQL: SQL run on the coordinator as the role with the purpose.
sub as
{
	my ($role, $purpose, $query) = @_;
	return sql("SET ROLE $role; " . ($purpose ? "SET privacy.purpose = '$purpose'; " : '') . $query);
}
my $counts = q{SELECT (SELECT count(*) FROM saas.customers WHERE id = 3) || ' ' || (SELECT count(*) FROM saas.customers WHERE id = 20)
	|| ' ' || (SELECT count(*) FROM saas.customers) || ' ' || (SELECT count(*) FROM saas.orders) || ' ' || (SELECT count(*) FROM saas.tickets)
	|| ' ' || (SELECT count(*) FROM saas.order_lines)};
is(as('nobody', '', $counts), '0 0 0 0 0 0', 'without a purpose no row is read, in router and multi-shard queries');
# (The rights checks above erased and retired some rows: a contract purpose
# reads what a superuser, whom row security does not restrict, reads.)
is(as('agent', 'service', $counts), sql($counts), 'a contract purpose reads every customer on every node');
# The coordinator's privacy.default_purpose is forwarded with the statement;
# a worker's own is not applied to a statement the coordinator forwarded.
is(sql("SET privacy.default_purpose = 'service'; SET ROLE nobody; $counts"), sql($counts),
	"the coordinator's default purpose reaches the workers");
# (in the configuration file: a worker's catalog declares no purpose)
for my $default ('service', '')
{
	$_->append_conf('postgresql.conf', "privacy.default_purpose = '$default'") for @workers;
	$_->reload for @workers;
	$_->poll_query_until('postgres', "SELECT current_setting('privacy.default_purpose') = '$default'")
	  for @workers;
	is(as('nobody', '', $counts), '0 0 0 0 0 0',
		"a worker's own default purpose does not apply to a forwarded statement") if $default;
}
is(as('marketer', 'marketing', $counts), '1 0 10 20 10 40', 'a consent purpose reads the customers who consented, on every node');
is( as('marketer', 'marketing', q{SELECT string_agg(DISTINCT o.customer_id::text, ',' ORDER BY o.customer_id::text)
		FROM saas.orders o JOIN saas.customers c ON c.id = o.customer_id WHERE c.id IN (3, 20)}),
	'3', 'a co-located join checks both tables on the workers');

# A user cannot lift the purpose: not by SET, and not by writing the
# forwarded condition into a query, on the coordinator or on a worker.
($rc, $out, $err) = $coordinator->psql('postgres', q{SET ROLE nobody; SET privacy.purpose = 'marketing'});
like($err, qr/role "nobody" is not allowed to process personal data for purpose "marketing"/, 'SET of a purpose not allowed is refused');
($rc, $out, $err) = $coordinator->psql('postgres',
	q{SET ROLE nobody; SELECT count(*) FROM saas.customers WHERE privacy_internal._statement_context('marketing', '1:1', repeat('0', 64))});
like($err, qr/may only be called by the extension/, 'a query naming the forwarded condition is refused on the coordinator');
my $shard_query = q{SET ROLE nobody; SELECT privacy_internal._statement_context('marketing', '1:1', repeat('0', 64))};
($rc, $out, $err) = $workers[0]->psql('postgres', $shard_query);
like($err, qr/the purpose of this statement was not forwarded by the Citus coordinator for role "nobody"/,
	'a worker refuses a purpose the coordinator did not sign');

# A purpose granted to one role, forwarded and signed for it, does not
# serve another: the signature names the role.
my ($signed) = sql(q{SET ROLE marketer; SET privacy.purpose = 'marketing';
	EXPLAIN (VERBOSE, COSTS OFF) SELECT count(*) FROM saas.customers WHERE id = 3}) =~ /(privacy_internal\._statement_context\([^)]*\))/;
ok(defined $signed, 'the coordinator forwards the purpose in the worker query');
$signed //= 'x';
($rc, $out, $err) = $workers[0]->psql('postgres', "SET ROLE nobody; SELECT $signed");
like($err, qr/was not forwarded by the Citus coordinator for role "nobody"/, 'a signed purpose does not serve another role');

# A worker accepts the forwarded purpose as it plans the statement, which
# leaves no filter in the plan. A plan kept and run again in a later
# transaction finds no forwarded purpose there, and reads no row.
my ($shard3, $port3) = split /\|/, sql(q{SELECT shard_name('saas.customers', s.shardid), n.nodeport
	FROM pg_dist_shard s JOIN pg_dist_placement p USING (shardid) JOIN pg_dist_node n USING (groupid)
	WHERE s.shardid = get_shard_id_for_distribution_column('saas.customers', 3)});
my ($worker3) = grep { $_->port == $port3 } @workers;
my $plan = $worker3->safe_psql('postgres',
	"SET ROLE marketer; EXPLAIN (COSTS OFF) SELECT count(*) FROM $shard3 WHERE id = 3 AND $signed");
unlike($plan, qr/One-Time Filter|_statement_context/, 'a worker plans a forwarded statement without a filter for its purpose')
  or diag($plan);
is( $worker3->safe_psql('postgres', "SET ROLE marketer; SELECT count(*) FROM $shard3 WHERE id = 3 AND $signed;
		PREPARE kept AS SELECT count(*) FROM $shard3 WHERE id = 3 AND $signed; EXECUTE kept; EXECUTE kept;"),
	"1\n1\n0", 'and a plan of it kept and run again in a later transaction reads no row');

# A withdrawal recorded on the coordinator is honoured on every node by the
# next statement after its commit: in the same session, whose worker
# connections hold the earlier state, in a prepared statement that Citus
# and PostgreSQL keep a plan of, and in PL/pgSQL.
my @seen = split /\n/, sql(q{CREATE FUNCTION saas.visible(bigint) RETURNS bigint LANGUAGE plpgsql AS
		$$BEGIN RETURN (SELECT count(*) FROM saas.customers WHERE id = $1); END$$;
	SET ROLE marketer; SET privacy.purpose = 'marketing';
	PREPARE one(bigint) AS SELECT count(*) FROM saas.customers WHERE id = $1;
	EXECUTE one(3); EXECUTE one(3); EXECUTE one(3); EXECUTE one(3); EXECUTE one(3); EXECUTE one(3);
	SELECT saas.visible(3), saas.visible(3), saas.visible(3), saas.visible(3), saas.visible(3), saas.visible(3);
	SELECT (SELECT count(*) FROM saas.customers) || ' ' || (SELECT count(*) FROM saas.tickets);
	RESET ROLE;
	SELECT privacy.withdraw_consent('customer', '3', 'marketing') > 0;
	SET ROLE marketer;
	EXECUTE one(3);
	SELECT saas.visible(3);
	SELECT (SELECT count(*) FROM saas.customers WHERE id = 3) || ' ' || (SELECT count(*) FROM saas.customers)
		|| ' ' || (SELECT count(*) FROM saas.tickets);});
is(join(' ', @seen[0 .. 7]), '1 1 1 1 1 1 1|1|1|1|1|1 10 10', 'before the withdrawal the customer is read, also through kept plans');
is(join(' ', @seen[-3 .. -1]), '0 0 0 9 9',
	'a withdrawal is honoured on every node by the next statement, also by kept plans');
is(as('marketer', 'marketing', $counts), '0 0 9 18 9 36', 'and by every new session');

# The sessions of a worker share the copy of the coordinator's state: the
# first that needs a version reads it from the coordinator, the others copy
# it from shared memory (each new coordinator session gets worker sessions
# of its own), and see the same rows.
$_->safe_psql('postgres', q{ALTER SYSTEM SET log_min_messages = debug1; SELECT pg_reload_conf()}) for @workers;
my @log_from = map { -s $_->logfile } @workers;
sql(q{SELECT privacy.grant_consent('customer', '3', 'marketing', 'direct', '{}')});
my @reads = map { as('marketer', 'marketing', $counts) } 1 .. 3;
$_->safe_psql('postgres', q{ALTER SYSTEM RESET log_min_messages; SELECT pg_reload_conf()}) for @workers;
is(join(' | ', @reads), join(' | ', ('1 0 10 20 10 40') x 3), 'three new sessions read the state after the change');
# (the third worker, added later, holds no shard of these tables yet)
for my $i (0 .. 1)
{
	my $log = substr(slurp_file($workers[$i]->logfile), $log_from[$i]);
	# (the first session that needs the version brings an earlier one
	# another session published up to date, or reads it whole)
	my %read = map { $_ => 1 }
	  $log =~ /(?:read the coordinator's consent state of version|brought the copy of the coordinator's consent state from version \S+ up to) (\S+)/g;
	my @copied = grep { $read{$_} } $log =~ /copied the coordinator's consent state of version (\S+) from another session/g;
	is(scalar(keys %read), 1, 'worker ' . $workers[$i]->name . ' read that version from the coordinator once');
	ok(@copied >= 1, 'and its other sessions copied it') or diag($log);
	# So do they the coordinator's token key, which checks each forwarded
	# statement: sessions before these read it.
	my $key_reads = () = $log =~ /read the coordinator's key "token"/g;
	my $key_copies = () = $log =~ /copied the coordinator's key "token" from another session/g;
	ok($key_reads == 0 && $key_copies >= 3,
		"and copied the coordinator's token key rather than reading it ($key_copies copies, $key_reads reads)")
	  or diag($log);
}
# A query over several shards opens several sessions on each worker at
# once (Citus opens another while the first is busy): after a change only
# one of them asks the coordinator, the others wait for its read and copy
# what it published.
$_->safe_psql('postgres', q{ALTER SYSTEM SET log_min_messages = debug1; SELECT pg_reload_conf()}) for @workers;
@log_from = map { -s $_->logfile } @workers;
sql(q{SELECT privacy.withdraw_consent('customer', '3', 'marketing') > 0});
is(as('marketer', 'marketing', q{SELECT count(*) FROM saas.customers}), '9', 'a new session counts the customers after a change');
$_->safe_psql('postgres', q{ALTER SYSTEM RESET log_min_messages; SELECT pg_reload_conf()}) for @workers;
for my $i (0 .. 1)
{
	my $log = substr(slurp_file($workers[$i]->logfile), $log_from[$i]);
	my @asked = $log =~ /(?:read the coordinator's consent state of version|brought the copy of the coordinator's consent state from version \S+ up to) (\S+)/g;
	my $copied = @asked == 1 ? () = $log =~ /copied the coordinator's consent state of version \Q$asked[0]\E from another session/g : 0;
	ok(@asked == 1 && $copied >= 1,
		'worker ' . $workers[$i]->name . ' asked the coordinator in one session (' . scalar(@asked)
		  . "), its other copied what that one read ($copied)")
	  or diag($log);
}
is(as('marketer', 'marketing', $counts), '0 0 9 18 9 36', 'the next change is read again');

# A token key changed on the coordinator takes effect on the workers by
# itself: a worker whose sessions hold the earlier key, one that copied
# it from shared memory or one that read it in an earlier transaction,
# finds the signature of the next forwarded statement wrong and reads the
# key again before it refuses the statement.
my $agent_counts = as('agent', 'service', $counts);
my $token = sql(q{SELECT encode(key, 'hex') FROM privacy._keys WHERE name = 'token'});
my $kept = $coordinator->background_psql('postgres', on_error_stop => 1);
$kept->query_safe(q{SET ROLE agent; SET privacy.purpose = 'service'});
is($kept->query_safe($counts), $agent_counts, 'a session reads on every node before the token key changes');
$_->safe_psql('postgres', q{ALTER SYSTEM SET log_min_messages = debug1; SELECT pg_reload_conf()}) for @workers;
@log_from = map { -s $_->logfile } @workers;
sql(q{UPDATE privacy._keys SET key = privacy_internal._random_key(32) WHERE name = 'token'});
# (a change of the consent state since has the coordinator sign anew in any case)
sql(q{SELECT privacy.grant_consent('customer', '3', 'marketing', 'direct', '{}');
	SELECT privacy.withdraw_consent('customer', '3', 'marketing')});
is($kept->query_safe($counts), $agent_counts,
	'after the change, the same session (whose worker sessions hold the earlier key) reads on every node');
is(as('agent', 'service', $counts), $agent_counts, 'and so does a new session');
$_->safe_psql('postgres', q{ALTER SYSTEM RESET log_min_messages; SELECT pg_reload_conf()}) for @workers;
for my $i (0 .. 1)
{
	my $log = substr(slurp_file($workers[$i]->logfile), $log_from[$i]);
	my $again = () = $log =~ /a check under the coordinator's key "token" failed: reading the key again/g;
	ok($again >= 1, 'worker ' . $workers[$i]->name . " read the changed key again ($again times)") or diag($log);
}
($rc, $out, $err) = $workers[0]->psql('postgres', $shard_query);
like($err, qr/was not forwarded by the Citus coordinator for role "nobody"/,
	'a purpose the coordinator did not sign is still refused after the key is read again');
sql(qq{UPDATE privacy._keys SET key = decode('$token', 'hex') WHERE name = 'token'});
is($kept->query_safe($counts), $agent_counts, 'and the key changed back takes effect in the same way');
$kept->quit;

# A worker session that holds a copy of the coordinator's state asks only
# for the subjects changed since its version, and brings its copy up to
# date with their rows: a withdrawal and a new consent, each honoured by
# the next statement of the same coordinator session.
my $someone = sql(q{SELECT s.subject FROM privacy._ledger_state s
	WHERE s.kind = 'customer' AND s.purpose = 'marketing' AND s.status = 'granted'
	  AND NOT EXISTS (SELECT FROM privacy._ledger_state r
					   WHERE r.kind = s.kind AND r.subject = s.subject AND r.status = 'restricted')
	ORDER BY s.subject::bigint LIMIT 1});
my $their_tickets = sql("SELECT count(*) FROM saas.tickets WHERE customer_id = $someone");
$_->safe_psql('postgres', q{ALTER SYSTEM SET log_min_messages = debug1; SELECT pg_reload_conf()}) for @workers;
@log_from = map { -s $_->logfile } @workers;
my @updated = split /\n/, sql(qq{SET ROLE marketer; SET privacy.purpose = 'marketing';
	SELECT count(*) FROM saas.tickets;
	RESET ROLE;
	SELECT privacy.withdraw_consent('customer', '$someone', 'marketing') > 0;
	SET ROLE marketer;
	SELECT count(*) FROM saas.tickets;
	RESET ROLE;
	SELECT privacy.grant_consent('customer', '$someone', 'marketing', 'direct', '{}') > 0;
	SET ROLE marketer;
	SELECT count(*) FROM saas.tickets;});
$_->safe_psql('postgres', q{ALTER SYSTEM RESET log_min_messages; SELECT pg_reload_conf()}) for @workers;
ok($their_tickets > 0 && @updated == 5 && $updated[2] == $updated[0] - $their_tickets && $updated[4] == $updated[0],
	"a withdrawal and a consent are honoured by the next statement ($their_tickets tickets hidden, then shown again)")
	or diag(join(' ', $their_tickets, @updated));
my $brought = 0;
for my $i (0 .. 1)
{
	my $log = substr(slurp_file($workers[$i]->logfile), $log_from[$i]);
	$brought += () = $log =~ /brought the copy of the coordinator's consent state from version \S+ up to \S+/g;
}
ok($brought >= 2, "the workers brought their copies up to date with the changed subjects ($brought times) rather than reading the whole state");

# The coordinator sends a copy's erasures again only when they changed
# since its version; a copy brought up to date keeps its own, and still
# refuses to write the kept rows of a customer erased before (customer 22,
# anonymised above), in the session that brought it up to date and in a
# new one that copies it from shared memory.
my $version = sql(q{SELECT privacy_internal._state_version()});
sql("SELECT privacy.withdraw_consent('customer', '$someone', 'marketing') > 0");
is(sql("SELECT jsonb_typeof(d -> 'erasures') || ' ' || jsonb_array_length(d -> 'changed')
	FROM (SELECT privacy_internal._node_state_since('$version')::jsonb AS d) s"), 'null 1',
	'a change sends a worker the changed subject, not the erasures its copy holds');
sql("SELECT privacy.grant_consent('customer', '$someone', 'marketing', 'direct', '{}') > 0");
sql(q{GRANT UPDATE ON saas.customers TO agent});
($rc, $out, $err) = $coordinator->psql('postgres', qq{SET ROLE agent; SET privacy.purpose = 'service';
	SELECT count(*) FROM saas.customers;
	RESET ROLE;
	SELECT privacy.withdraw_consent('customer', '$someone', 'marketing') > 0;
	SET ROLE agent;
	UPDATE saas.customers SET email = NULL WHERE id = 22;});
like($err, qr/new row belongs to a data subject this purpose may not process/,
	'a worker copy brought up to date still refuses to write an erased customer\'s kept row');
($rc, $out, $err) = $coordinator->psql('postgres',
	q{SET ROLE agent; SET privacy.purpose = 'service'; UPDATE saas.customers SET email = NULL WHERE id = 22;});
like($err, qr/new row belongs to a data subject this purpose may not process/, 'and so does a new session');

# A worker session that copies the state from shared memory copies its
# erasures, which only a check of a row to write needs, when one first does:
# sessions that only read never copy them.
as('agent', 'service', $counts);
$_->safe_psql('postgres', q{ALTER SYSTEM SET log_min_messages = debug1; SELECT pg_reload_conf()}) for @workers;
@log_from = map { -s $_->logfile } @workers;
as('agent', 'service', $counts) for 1 .. 2;
($rc, $out, $err) = $coordinator->psql('postgres',
	q{SET ROLE agent; SET privacy.purpose = 'service'; UPDATE saas.customers SET email = NULL WHERE id = 22;});
$_->safe_psql('postgres', q{ALTER SYSTEM RESET log_min_messages; SELECT pg_reload_conf()}) for @workers;
like($err, qr/new row belongs to a data subject this purpose may not process/,
	'a session that copied the state without its erasures still refuses to write an erased customer\'s row');
my ($state_copies, $erasure_copies, $state_reads) = (0, 0, 0);
for my $i (0 .. 1)
{
	my $log = substr(slurp_file($workers[$i]->logfile), $log_from[$i]);
	$state_copies += () = $log =~ /copied the coordinator's consent state of version \S+ from another session/g;
	$erasure_copies += () = $log =~ /copied the erasures of the coordinator's consent state of version \S+ from another session/g;
	$state_reads += () = $log =~ /read the (?:erasures of the )?coordinator's consent state/g;
}
ok($state_copies >= 5 && $erasure_copies == 1 && $state_reads == 0,
	"the sessions copied the state $state_copies times and its erasures once, for the write ($erasure_copies)");
sql("SELECT privacy.grant_consent('customer', '$someone', 'marketing', 'direct', '{}') > 0");
sql(q{REVOKE UPDATE ON saas.customers FROM agent});

# A restriction hides the subject from every purpose not allowed under
# restriction, on every node.
sql(q{SELECT privacy.restrict('customer', '7', 'disputes the accuracy of the data')});
is(as('agent', 'service', q{SELECT (SELECT count(*) FROM saas.customers WHERE id = 7) || ' ' || (SELECT count(*) FROM saas.orders)}),
	'0 ' . sql(q{SELECT count(*) FROM saas.orders WHERE customer_id <> 7}), 'a restriction is honoured on every node');

# With privacy.purpose_scope = transaction, a session-wide purpose is not
# honoured on any node; SET LOCAL is.
($rc, $out, $err) = $coordinator->psql('postgres',
	q{SET privacy.purpose_scope = transaction; SET ROLE agent; SET privacy.purpose = 'service'; SELECT count(*) FROM saas.customers});
like($err, qr/cannot set privacy\.purpose for the session/, 'purpose_scope is honoured for distributed tables');
is( sql(q{SET privacy.purpose_scope = transaction; SET ROLE agent;
	BEGIN; SET LOCAL privacy.purpose = 'service'; SELECT count(*) FROM saas.customers; COMMIT;}),
	sql(q{SELECT count(*) FROM saas.customers WHERE id <> 7}), 'a purpose declared for the transaction reads on every node');

# Enforcement survives a shard move, to a node added after the extension
# was created, which copies the coordinator's state on its first statement.
my ($cshard, $cfrom) = split /\|/, sql(q{SELECT s.shardid, n.nodeport FROM pg_dist_shard s
	JOIN pg_dist_placement p USING (shardid) JOIN pg_dist_node n USING (groupid)
	WHERE s.logicalrelid = 'saas.customers'::regclass ORDER BY s.shardid LIMIT 1});
sql(q{SELECT replicate_reference_tables('block_writes')});
sql(qq{SELECT citus_move_shard_placement($cshard, n.nodename, $cfrom, '@{[$late->host]}', @{[$late->port]},
	shard_transfer_mode => 'block_writes') FROM pg_dist_node n WHERE n.nodeport = $cfrom});
is(policies_on($late, 'customers'), 'privacy_purpose:RESTRICTIVE privacy_rows:PERMISSIVE',
	'a shard moved to a node added later keeps its restrictive purpose policy');
# (the source node drops its copies of the moved shards later; now)
sql(q{CALL citus_cleanup_orphaned_resources()});
is(as('nobody', '', $counts), '0 0 0 0 0 0', 'after the move a role without a purpose reads nothing');
# (customer 7, restricted above, is hidden from marketing too)
is(as('marketer', 'marketing', $counts), '0 0 8 16 8 32', 'and the moved shard is checked against the coordinator\'s consent state');

# A reference table is protected on every node too: agencies, the anchor
# of their own subject kind.
sql(q{INSERT INTO saas.agencies SELECT g, 'agency' || g || '@example.com' FROM generate_series(1, 3) g;
	GRANT SELECT ON saas.agencies TO nobody, agent;
	SELECT privacy.protect('saas.agencies');});
is(policies_on($_, 'agencies'), 'privacy_purpose:RESTRICTIVE privacy_rows:PERMISSIVE',
	'the reference table\'s placement on ' . $_->name . ' has a restrictive purpose policy')
  for @workers;
is(as('nobody', '', q{SELECT count(*) FROM saas.agencies}), '0', 'a protected reference table shows no row without a purpose');
is(as('agent', 'service', q{SELECT count(*) FROM saas.agencies}), '3', 'and every row to a contract purpose');
is( $workers[1]->safe_psql('postgres', q{SET ROLE nobody; SET citus.override_table_visibility = off;
		SELECT count(*) FROM saas.agencies}),
	'0', 'read on a worker directly, it shows no row either');

# unprotect() takes the policies and the trigger off every shard, and
# protect() puts them back.
sql(q{SELECT privacy.unprotect('saas.tickets')});
is(policies_on($_, 'tickets'), '', 'unprotect() removes the policies from the shards on ' . $_->name) for @workers[0 .. 1];
is( $workers[0]->safe_psql('postgres', q{SELECT count(*) FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
		WHERE c.relname LIKE 'tickets\_%' AND t.tgname = 'privacy_rectification'}),
	'0', 'and the rectification trigger');
sql(q{SELECT privacy.protect('saas.tickets')});
is(as('marketer', 'marketing', q{SELECT count(*) FROM saas.tickets}), '8', 'protect() again checks every shard');

# Writes. An UPDATE or DELETE under row security carries the purpose to the
# workers too (its signature in a subquery, which Citus leaves for the
# worker), and changes only the rows the purpose may process there; an
# INSERT, all of whose expressions Citus evaluates on the coordinator, is
# refused there with a clear error. The rectification trigger on a shard
# audits an UPDATE in the worker's log, which hands its entries to the
# coordinator's: one audit log, in which each entry is sealed once.
sql(q{GRANT INSERT, UPDATE, DELETE ON saas.tickets TO agent, marketer, nobody});
# seal_wait: waits until the workers handed their entries over and the
# coordinator sealed them.
sub seal_wait
{
	for my $w (@workers)
	{
		$w->poll_query_until('postgres', q{SELECT count(*) = 0 FROM privacy._audit_unsealed})
		  or die 'a worker kept its audit log entries';
	}
	$coordinator->poll_query_until('postgres', q{SELECT count(*) = 0 FROM privacy._audit_unsealed})
	  or die 'the coordinator did not seal';
}
seal_wait();
my $last_entry = sql(q{SELECT COALESCE(max(id), 0) FROM privacy.audit_log});
($rc, $out, $err) = $coordinator->psql('postgres',
	q{SET ROLE agent; SET privacy.purpose = 'service'; INSERT INTO saas.tickets VALUES (5, 2, 'More help')});
like($err, qr/cannot insert into protected table saas\.tickets because Citus distributes it/,
	'an INSERT under row security into a protected distributed table is refused');
like($err, qr/HINT:  Insert such rows as a role that row security does not restrict/, 'with a hint');
is(sql(q{SELECT count(*) FROM saas.tickets WHERE customer_id = 5}), '1', 'and inserts nothing');
($rc, $out, $err) = $coordinator->psql('postgres',
	q{SET ROLE agent; SET privacy.purpose = 'service';
	MERGE INTO saas.tickets t USING (VALUES (5::bigint, 1::bigint)) v(c, i) ON t.customer_id = v.c AND t.id = v.i
	WHEN MATCHED THEN UPDATE SET body = 'Merged'});
like($err, qr/cannot merge into protected table saas\.tickets because Citus distributes it/,
	'so is a MERGE');
is(as('agent', 'service', q{UPDATE saas.tickets SET body = 'Edited by an agent' WHERE customer_id = 5 RETURNING id}),
	'1', 'a router UPDATE under row security reaches the worker with its purpose');
is(as('nobody', '', q{UPDATE saas.tickets SET body = 'Edited by nobody' RETURNING id}), '',
	'without a purpose a multi-shard UPDATE changes no row');
is(as('nobody', '', q{DELETE FROM saas.tickets RETURNING id}), '', 'nor does a DELETE');
my $consented = as('marketer', 'marketing', q{SELECT count(*) FROM saas.tickets});
my $five_for_marketing = as('marketer', 'marketing', q{SELECT count(*) FROM saas.tickets WHERE customer_id = 5});
cmp_ok($consented, '<', sql(q{SELECT count(*) FROM saas.tickets}), 'marketing may process the tickets of some customers only');
is(as('marketer', 'marketing', q{WITH u AS (UPDATE saas.tickets SET body = body || '.' RETURNING customer_id) SELECT count(*) FROM u}),
	$consented, 'a multi-shard UPDATE for marketing changes the tickets of the customers marketing may process');
is(sql(q{SELECT count(*) FROM saas.tickets WHERE body LIKE '%.'}), $consented, 'and no other customer\'s');
is(as('marketer', 'marketing', q{UPDATE saas.tickets SET body = 'x' WHERE customer_id = 20 RETURNING id}), '',
	'a router UPDATE of a customer who did not consent changes nothing');
($rc, $out, $err) = $coordinator->psql('postgres', q{SET ROLE agent; SET privacy.purpose = 'service';
	UPDATE saas.tickets SET body = 'forged' WHERE privacy_internal._statement_context('service', '1',
	(SELECT s.signature FROM (VALUES ('00'::text)) s(signature)))});
like($err, qr/may only be called by the extension/, 'an UPDATE naming the forwarded condition itself is refused');
sql(q{UPDATE saas.tickets SET body = 'Edited by a superuser' WHERE customer_id = 6});
# A protected reference table's copies are all updated; the coordinator's
# copy records the change, once.
sql(q{UPDATE saas.agencies SET email = 'agency2@example.org' WHERE id = 2});
seal_wait();
is( sql(qq{SELECT count(*) FROM privacy.audit_log WHERE action = 'rectification' AND id > $last_entry
		AND summary ->> 'table' = 'saas.agencies' AND subject_ref = privacy.subject_ref('agency', '2')}),
	'1', 'an UPDATE of a protected reference table is audited once, not once per copy');
is( sql(qq{SELECT count(*) || ' ' || count(*) FILTER (WHERE subject_ref = privacy.subject_ref('customer', '5'))
		|| ' ' || count(DISTINCT summary::text) FROM privacy.audit_log WHERE action = 'rectification' AND id > $last_entry
		AND summary ->> 'table' = 'saas.tickets'}),
	($consented + 2) . ' ' . (1 + $five_for_marketing) . ' 1',
	'each updated row is audited once in the coordinator\'s log, naming its customer: the router, multi-shard and superuser UPDATEs');
is(sql(q{SELECT summary::text FROM privacy.audit_log WHERE action = 'rectification'
		AND subject_ref = privacy.subject_ref('customer', '6') ORDER BY id DESC LIMIT 1}),
	'{"table": "saas.tickets", "columns": ["body"]}', 'under the distributed table\'s name, with the changed column');
is($_->safe_psql('postgres', q{SELECT count(*) FROM privacy.audit_log}), '0',
	'worker ' . $_->name . ' keeps no audit log of its own') for @workers;
is(sql(q{SELECT intact FROM privacy.verify_audit_log()}), 't', 'the coordinator\'s chain is intact');
# A worker whose entries the coordinator cannot take keeps them, and its
# sealer tries again until the coordinator takes them: none is lost.
my $mark = sql(q{SELECT max(id) FROM privacy.audit_log});
sql(q{ALTER FUNCTION privacy_internal._audit_receive(integer, jsonb) RENAME TO _audit_receive_away});
sql(q{UPDATE saas.tickets SET body = 'Edited while the coordinator refuses entries' WHERE customer_id = 7});
sleep 2;
is( sum(map { $_->safe_psql('postgres', q{SELECT count(*) FROM privacy._audit_unsealed}) } @workers),
	1, 'a worker keeps its entry while the coordinator cannot take it');
my ($holder) = grep { $_->safe_psql('postgres', q{SELECT count(*) FROM privacy._audit_unsealed}) > 0 } @workers;
($rc, $out, $err) = $holder->psql('postgres', q{SELECT privacy.seal_audit_log()});
like($err, qr/could not hand this worker's audit log entries to the audit log on the Citus coordinator/,
	'privacy.seal_audit_log() on the worker forwards too, and says why it cannot');
sql(q{ALTER FUNCTION privacy_internal._audit_receive_away(integer, jsonb) RENAME TO _audit_receive});
seal_wait();
is( sql(qq{SELECT count(*) FROM privacy.audit_log WHERE action = 'rectification'
		AND subject_ref = privacy.subject_ref('customer', '7') AND id > $mark}),
	'1', 'and hands it over once the coordinator can, once');
# A worker hands a backlog over in batches of about privacy.seal_batch_size
# entries, each taken once: twelve UPDATEs (one entry each, each of another
# customer's tickets) wait while the
# coordinator cannot take them, then go in batches of two. The coordinator
# remembers only the ids of each group's last batch, so a backlog sent in
# one batch would leave all of its ids there.
$_->append_conf('postgresql.conf', 'privacy.seal_batch_size = 2') for @workers;
$_->reload for @workers;
$_->poll_query_until('postgres', q{SELECT current_setting('privacy.seal_batch_size') = '2'}) for @workers;
$mark = sql(q{SELECT max(id) FROM privacy.audit_log});
sql(q{ALTER FUNCTION privacy_internal._audit_receive(integer, jsonb) RENAME TO _audit_receive_away});
my @backlog = split /,/,
  sql(q{SELECT string_agg(c::text, ',') FROM (SELECT DISTINCT customer_id AS c FROM saas.tickets ORDER BY 1 LIMIT 12) s});
is(scalar(@backlog), 12, 'twelve customers have tickets');
sql("UPDATE saas.tickets SET body = 'Edited in a backlog' WHERE customer_id = $_") for @backlog;
is( sum(map { $_->safe_psql('postgres', q{SELECT count(*) FROM privacy._audit_unsealed}) } @workers),
	12, 'the workers keep twelve entries while the coordinator cannot take them');
sql(q{ALTER FUNCTION privacy_internal._audit_receive_away(integer, jsonb) RENAME TO _audit_receive});
seal_wait();
is( sql(qq{SELECT count(*) || ' ' || count(DISTINCT subject_ref) FROM privacy.audit_log
		WHERE action = 'rectification' AND id > $mark AND summary ->> 'table' = 'saas.tickets'}),
	'12 12', 'all twelve reach the coordinator\'s log, each once');
cmp_ok(sql(q{SELECT max(n) FROM (SELECT count(*) AS n FROM privacy._audit_received GROUP BY node_group) g}),
	'<=', 2, 'in batches of at most two entries');
is(sql(q{SELECT intact FROM privacy.verify_audit_log()}), 't', 'the chain is intact after the batches');
$_->append_conf('postgresql.conf', 'privacy.seal_batch_size = 10000') for @workers;
$_->reload for @workers;
is(as('agent', 'service', q{DELETE FROM saas.tickets WHERE customer_id = 5 RETURNING id}), '1',
	'a DELETE under row security works');
# An erasure that anonymises rows of a protected distributed table (the
# customer's row, which retained orders still reference) updates them on
# the shards; their rectifications reach the coordinator's log.
($rc, $out, $err) = $coordinator->psql('postgres',
	q{SELECT privacy.erase_subject(privacy.open_request('customer', '12', 'erasure'), 'consent withdrawn')});
is($rc, 0, 'an erasure that anonymises rows of a protected distributed table works') or diag $err;
like(sql(q{SELECT name || ' ' || COALESCE(email, '-') FROM saas.customers WHERE id = 12}), qr/^(?!Customer 12)/,
	'the customer\'s row is anonymised');
seal_wait();
is( sql(q{SELECT count(*) > 0 FROM privacy.audit_log WHERE action = 'rectification'
		AND subject_ref = privacy.subject_ref('customer', '12') AND summary ->> 'table' = 'saas.customers'}),
	't', 'and audited in the coordinator\'s log');
is(sql(q{SELECT intact FROM privacy.verify_audit_log()}), 't', 'whose chain stays intact');
# guard() in redact mode on a distributed and a reference table: the shard
# (each copy of a reference table's shard) stores the redacted value, and
# the redaction is audited once, in the coordinator's log, under the
# table's name.
sql(q{SELECT privacy.guard('saas.tickets', ARRAY['body'], 'redact'); SELECT privacy.guard('saas.partner_notes', ARRAY['note'], 'redact')});
is(sql(q{SHOW citus.enable_unsafe_triggers}), 'off', 'guard() in redact mode needs no Citus setting');
sql(q{UPDATE saas.tickets SET body = 'my CPR number is 010190-1234' WHERE customer_id = 6;
	INSERT INTO saas.partner_notes VALUES (3, 3, 'call 010190-1234', now() - interval '1 day')});
unlike(sql(q{SELECT body FROM saas.tickets WHERE customer_id = 6}), qr/010190-1234/, 'a shard of a distributed table stores the redacted value');
is( on_workers('partner_notes', q{SELECT count(*) FROM SHARD WHERE note NOT LIKE '%010190-1234%' AND partner_id = 3 AND n = 3}),
	scalar(@workers), 'every copy of a reference table stores it');
seal_wait();
is( sql(q{SELECT string_agg(summary ->> 'table', ' ' ORDER BY summary ->> 'table') FROM privacy.audit_log WHERE action = 'guard.redact'}),
	'saas.partner_notes saas.tickets', 'each redaction is audited once in the coordinator\'s log, under its table\'s name');
is($_->safe_psql('postgres', q{SELECT count(*) FROM privacy.audit_log}), '0',
	'worker ' . $_->name . ' still keeps no audit log of its own') for @workers;
# ---- end of protect() on distributed tables -------------------------------

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

# A subject kind keyed by a uuid: its export, consent, protection and
# erasure on distributed tables.
my $device = '00000000-0000-0000-0000-000000000005';
is( sql(qq{SELECT string_agg(t || ':' || jsonb_array_length(d -> 'data' -> t -> 'rows'), ' ' ORDER BY t)
		    FROM (SELECT privacy.export_subject('device', '$device') d) e, jsonb_object_keys(d -> 'data') t}),
	'saas.device_logins:2 saas.devices:1', 'the export of a device keyed by a uuid is complete');
sql(qq{SELECT privacy.protect('saas.devices'); SELECT privacy.protect('saas.device_logins');
	SELECT privacy.grant_consent('device', '$device', 'marketing', 'direct', '{}')});
my $device_counts = qq{SELECT (SELECT count(*) FROM saas.devices) || ' ' || (SELECT count(*) FROM saas.device_logins)
	|| ' ' || (SELECT count(*) FROM saas.devices WHERE id = '$device')};
is(as('marketer', 'marketing', $device_counts), '1 2 1',
	'a purpose reads the rows of the one device that consented, in router and multi-shard queries');
is(as('nobody', '', $device_counts), '0 0 0', 'no purpose reads none');
sql(qq{SELECT privacy.withdraw_consent('device', '$device', 'marketing', 'direct', '{}')});
is(as('marketer', 'marketing', $device_counts), '0 0 0', 'nor after the withdrawal');
# A session whose worker sessions hold a copy of the coordinator's state
# (customer 22's erasure among its erasures) before the device's erasure.
my $before_erasure = sql(q{SELECT privacy_internal._state_version()});
sql(q{GRANT UPDATE ON saas.customers TO agent});
my $holder = $coordinator->background_psql('postgres', on_error_stop => 0);
$holder->query_safe(q{SET ROLE agent; SET privacy.purpose = 'service'});
$holder->query_safe($counts);
like(sql(qq{SELECT privacy.erase_subject('device', '$device', 'test')}), qr/"rows_deleted": 3\b/,
	'the erasure of a device deletes its rows');
# The coordinator sends a worker's copy the erasure made since, not every
# erasure; the copy brought up to date adds it to those it held (merged
# into the published copy's, where a session that only read never copied
# them).
is(sql(qq{SELECT jsonb_typeof(d -> 'erasures') || ' '
		|| jsonb_array_length(d -> 'erasures_added') || ' '
		|| (d -> 'erasures_added' ->> 0 = 'device' || chr(31) || privacy.subject_ref('device', '$device'))::text
	FROM (SELECT privacy_internal._node_state_since('$before_erasure')::jsonb AS d) s}), 'null 1 true',
	'an erasure sends a worker that erasure alone');
$_->safe_psql('postgres', q{ALTER SYSTEM SET log_min_messages = debug1; SELECT pg_reload_conf()}) for @workers;
@log_from = map { -s $_->logfile } @workers;
is($holder->query_safe(q{SELECT count(*) FROM saas.customers WHERE id = 22}), '1',
	'after the erasure the session reads the customer through the worker session it held');
$holder->query(q{UPDATE saas.customers SET email = NULL WHERE id = 22});
$_->safe_psql('postgres', q{ALTER SYSTEM RESET log_min_messages; SELECT pg_reload_conf()}) for @workers;
like($holder->{stderr}, qr/new row belongs to a data subject this purpose may not process/,
	'and still refuses to write the erased customer\'s row');
my ($added, $logs) = (0, '');
for my $i (0 .. 1)
{
	my $log = substr(slurp_file($workers[$i]->logfile), $log_from[$i]);
	$added += () = $log =~ /(?:added 1 erasures to the copy|merged 1 erasures into the shared copy) of the coordinator's consent state/g;
	$logs .= $log;
}
is($added, 1, 'its worker session added the one erasure to the erasures it held or to the published ones') or diag($logs);
$holder->quit;
# A check of a row to write whose copy's version another session replaced
# in shared memory while the statement ran (a consent changed, and a new
# session read the new version meanwhile) reads the erasures from the
# coordinator, and still refuses the erased customer's row.
sql(q{CREATE FUNCTION saas.pause(id bigint) RETURNS boolean IMMUTABLE LANGUAGE plpgsql
	AS $$BEGIN PERFORM pg_catalog.pg_sleep(5); RETURN true; END$$});
my ($port22) = sql(q{SELECT n.nodeport FROM pg_dist_shard s JOIN pg_dist_placement p USING (shardid)
	JOIN pg_dist_node n USING (groupid) WHERE s.shardid = get_shard_id_for_distribution_column('saas.customers', 22)});
my ($worker22) = grep { $_->port == $port22 } @workers;
my $writer = $coordinator->background_psql('postgres', on_error_stop => 0);
$writer->query_safe(q{SET ROLE agent; SET privacy.purpose = 'service'});
$_->safe_psql('postgres', q{ALTER SYSTEM SET log_min_messages = debug1; SELECT pg_reload_conf()}) for @workers;
@log_from = map { -s $_->logfile } @workers;
$writer->query_until(qr/pausing/, "\\echo pausing\nUPDATE saas.customers SET email = NULL WHERE id = 22 AND saas.pause(id);\n");
ok($worker22->poll_query_until('postgres', q{SELECT EXISTS (SELECT FROM pg_stat_activity WHERE wait_event = 'PgSleep')}),
	'a write of customer 22 pauses on its worker after its statement was accepted');
sql("SELECT privacy.withdraw_consent('customer', '$someone', 'marketing') > 0");
as('agent', 'service', $counts);
$writer->query(q{SELECT 'resumed'});
$_->safe_psql('postgres', q{ALTER SYSTEM RESET log_min_messages; SELECT pg_reload_conf()}) for @workers;
like($writer->{stderr}, qr/new row belongs to a data subject this purpose may not process/,
	'a write check whose version was replaced in shared memory meanwhile still refuses the erased customer\'s row');
my ($reread, $published) = (0, 0);
$logs = '';
for my $i (0 .. 1)
{
	my $log = substr(slurp_file($workers[$i]->logfile), $log_from[$i]);
	$reread += () = $log =~ /read the erasures of the coordinator's consent state again for version/g;
	$published += () = $log =~ /brought the copy of the coordinator's consent state from version \S+ up to/g;
	$logs .= $log;
}
ok($published >= 1 && $reread == 1, "it read the erasures from the coordinator ($reread) once a newer copy was published ($published)")
  or diag($logs);
$writer->quit;
sql("SELECT privacy.grant_consent('customer', '$someone', 'marketing', 'direct', '{}') > 0");
sql(q{DROP FUNCTION saas.pause(bigint)});
sql(q{REVOKE UPDATE ON saas.customers FROM agent});
# A write of privacy.erasures that the extension did not make may have
# added any erasure: the coordinator then sends them all.
my $before_insert = sql(q{SELECT privacy_internal._state_version()});
sql(q{INSERT INTO privacy.erasures (kind, subject_ref, erased_at, reason, receipt)
	VALUES ('device', repeat('0', 64), now(), 'test', '{}')});
is(sql(qq{SELECT jsonb_typeof(d -> 'erasures') || ' ' || jsonb_typeof(d -> 'erasures_added')
	FROM (SELECT privacy_internal._node_state_since('$before_insert')::jsonb AS d) s}), 'array null',
	'a DBA\'s insert into privacy.erasures sends every erasure');
is( on_workers('devices', qq{SELECT count(*) FROM SHARD WHERE id = '$device'})
	  + on_workers('device_logins', qq{SELECT count(*) FROM SHARD WHERE device_id = '$device'}),
	0, 'from the workers\' shards');

# A security label naming a category the policy declares (not a built-in
# one) reaches every worker, where the label provider accepts it too.
sql(q{SECURITY LABEL FOR privacy ON COLUMN saas.tickets.body IS 'support'});
is( $_->safe_psql('postgres', q{SELECT string_agg(s.label, ',') FROM pg_seclabel s JOIN pg_class c ON c.oid = s.objoid
		WHERE s.provider = 'privacy' AND c.relname = 'tickets' AND c.relnamespace = 'saas'::regnamespace}),
	'support', 'a label with a policy-declared category reaches ' . $_->name)
  for @workers[0 .. 1];

# A rebalance moves shards of the protected customers' co-located tables to
# the node added later: the purpose policy stays restrictive on them there,
# and every role reads what it read before.
my $before_rebalance = join(' | ', as('marketer', 'marketing', $counts), as('nobody', '', $counts));
sql(q{SELECT rebalance_table_shards('saas.customers', shard_transfer_mode => 'block_writes')});
ok( sql(qq{SELECT count(*) FROM pg_dist_placement p JOIN pg_dist_node n USING (groupid) JOIN pg_dist_shard s USING (shardid)
		WHERE s.logicalrelid = 'saas.customers'::regclass AND n.nodeport = @{[$late->port]}}) > 0,
	'a rebalance moves shards of the protected customers to the node added later');
is(policies_on($late, $_), $shard_policies, "the purpose policy of the $_ shards moved there is restrictive")
  for 'customers', 'orders', 'tickets';
is(join(' | ', as('marketer', 'marketing', $counts), as('nobody', '', $counts)), $before_rebalance,
	'every role reads what it read before the rebalance');

done_testing();
