# Replicas. One primary (wal_level = logical) with the shop schema, policy,
# data and the extension, feeding
#
# (a) a physical streaming standby: a consent withdrawal, a retention run and
#     an erasure on the primary reach it through WAL; after each, the
#     standby's shop tables, consent ledger state, retention runs, erasures
#     and audit log equal the primary's, its audit chain verifies, and a
#     session that stays open on the standby with purpose 'marketing' sees
#     the withdrawal at its next statement (the row check's per-backend
#     cache is invalidated by the relcache invalidation the primary's commit
#     carries in WAL), also when the standby is promoted in between;
#
# (b) a logical-replication subscriber with the same schema, the extension
#     and the same policy, subscribed to the personal tables that have a
#     primary key (default replica identity). Consent reaches it by
#     publishing the ledger too: privacy.consent_ledger and
#     privacy._ledger_state. The apply worker runs with
#     session_replication_role = replica, so the ledger's ordinary triggers
#     do not fire there: maintain_state must not (the derived state arrives
#     itself, replicated), but the relcache invalidation the row check's
#     cache depends on must, and it comes from a statement trigger, which
#     logical apply never fires (not even ENABLE ALWAYS). The subscriber
#     therefore adds a row trigger with the same function, ENABLE REPLICA.
#     Consent is then recorded on the primary only (a consent recorded on
#     the subscriber would collide with the replicated ledger ids). protect() on the subscriber's customers
#     makes the subscriber enforce row policies for its own readers: a role
#     with purpose 'marketing' sees only consenting customers, a withdrawal
#     on the primary hides the customer from an open subscriber session, and
#     after an erasure on the primary the erased values are gone on the
#     subscriber (deleted rows deleted, anonymised rows anonymised, the
#     subject's consent forgotten).
#
# It also shows, with test_decoding on the primary, that the WAL-decoded
# changes of an erasure carry the old row's personal values for a table with
# REPLICA IDENTITY FULL and not for tables with the default identity (the
# docs/operations.md's reason not to use FULL on personal tables), and that a personal
# table without a primary key in a publication that publishes deletes makes
# the erasure fail (as a whole) on the primary.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $fixtures = "$ENV{TESTDIR}/fixtures";
my $policy = slurp_file("$fixtures/shop-policy.json");

# Schema, policy, the shipment note labelled personal (as in
# sql/erasure.sql), protection of customers and a marketing role.
sub setup_shop
{
	my ($node) = @_;
	$node->safe_psql('postgres',
		"SET client_min_messages = warning; CREATE EXTENSION opendims_privacy CASCADE;");
	$node->safe_psql('postgres', slurp_file("$fixtures/shop_schema.sql"));
	$node->safe_psql('postgres', "SELECT privacy.apply_policy(\$policy\$$policy\$policy\$)");
	$node->safe_psql(
		'postgres', q{
SECURITY LABEL FOR privacy ON COLUMN shop.shipments.tracking_note IS 'content';
SELECT privacy.protect('shop.customers');
CREATE ROLE mailer;
GRANT USAGE ON SCHEMA shop TO mailer;
GRANT SELECT ON shop.customers TO mailer;
SELECT privacy.allow_purpose('marketing', 'mailer');
});
}

my $primary = PostgreSQL::Test::Cluster->new('primary');
$primary->init(allows_streaming => 'logical');
$primary->append_conf('postgresql.conf', "shared_preload_libraries = 'opendims_privacy'");
$primary->start;
setup_shop($primary);
$primary->safe_psql('postgres', slurp_file("$fixtures/shop_data.sql"));
# An order closed long ago, whose address the retention rule "orders"
# anonymises; invoice 102 (2015) is past its rule too.
$primary->safe_psql(
	'postgres', q{
INSERT INTO shop.orders (id, customer_id, placed_at, closed_at, delivery_address)
VALUES (13, 3, '2019-12-01', '2020-01-01', 'Cy Old Street Unique');
SELECT privacy.grant_consent('customer', '1', 'marketing', 'direct', '{"form": "signup"}');
SELECT privacy.grant_consent('customer', '2', 'marketing', 'direct', '{"form": "signup"}');
});

# (a) The physical standby.
$primary->backup('base');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'base', has_streaming => 1);
$standby->start;

# (b) The logical subscriber.
my $subscriber = PostgreSQL::Test::Cluster->new('subscriber');
$subscriber->init;
$subscriber->append_conf('postgresql.conf', "shared_preload_libraries = 'opendims_privacy'");
$subscriber->start;
setup_shop($subscriber);
# The apply worker fires row triggers only (ENABLE REPLICA or ALWAYS), never
# statement triggers: the extension ships a row trigger on the ledger state,
# enabled for replica sessions only, that sends the row check's cache
# invalidation for every applied change, so sessions already open on the
# subscriber honour a withdrawal at once.
$primary->safe_psql(
	'postgres', q{
CREATE PUBLICATION shop_pub FOR TABLE shop.customers, shop.orders, shop.order_lines, shop.invoices,
	privacy.consent_ledger, privacy._ledger_state;
});
my $connstr = $primary->connstr . ' dbname=postgres';
$subscriber->safe_psql('postgres',
	"CREATE SUBSCRIPTION shop_sub CONNECTION '$connstr' PUBLICATION shop_pub");
$subscriber->wait_for_subscription_sync($primary, 'shop_sub');
$primary->wait_for_catchup($standby);

sub catch_up
{
	# the audit entries committed so far are sealed first, so that the
	# sealer's worker does not change the primary between the two reads
	$primary->safe_psql('postgres', 'SELECT privacy.seal_audit_log()');
	$primary->wait_for_catchup($standby);
	$primary->wait_for_catchup('shop_sub');
}

# What the standby must equal: every row of the shop and of the extension's
# state that the operations change.
my $state_sql = q{
SELECT string_agg(t, E'\n' ORDER BY t) FROM (
  SELECT 'customers ' || c::text AS t FROM shop.customers c
  UNION ALL SELECT 'orders ' || o::text FROM shop.orders o
  UNION ALL SELECT 'order_lines ' || l::text FROM shop.order_lines l
  UNION ALL SELECT 'shipments ' || s::text FROM shop.shipments s
  UNION ALL SELECT 'invoices ' || i::text FROM shop.invoices i
  UNION ALL SELECT 'ledger ' || l::text FROM privacy.consent_ledger l
  UNION ALL SELECT 'ledger_state ' || s::text FROM privacy._ledger_state s
  UNION ALL SELECT 'retention_run ' || r.id || ' ' || r.status || ' ' || r.rows_done FROM privacy.retention_runs r
  UNION ALL SELECT 'erasure ' || e::text FROM privacy.erasures e
  UNION ALL SELECT 'audit ' || a.id || ' ' || a.action FROM privacy.audit_log a) x
};
# What the subscriber must equal: the published tables.
my $published_sql = q{
SELECT string_agg(t, E'\n' ORDER BY t) FROM (
  SELECT 'customers ' || c::text AS t FROM shop.customers c
  UNION ALL SELECT 'orders ' || o::text FROM shop.orders o
  UNION ALL SELECT 'order_lines ' || l::text FROM shop.order_lines l
  UNION ALL SELECT 'invoices ' || i::text FROM shop.invoices i
  UNION ALL SELECT 'ledger ' || l::text FROM privacy.consent_ledger l
  UNION ALL SELECT 'ledger_state ' || s::text FROM privacy._ledger_state s) x
};
my $marketing_sql = q{SELECT coalesce(string_agg(id::text, ',' ORDER BY id), 'none') FROM shop.customers};

sub same_state
{
	my ($what) = @_;
	is($standby->safe_psql('postgres', $state_sql),
		$primary->safe_psql('postgres', $state_sql), "$what: standby equals primary");
	is($subscriber->safe_psql('postgres', $published_sql),
		$primary->safe_psql('postgres', $published_sql),
		"$what: subscriber's published tables and ledger equal primary's");
}

same_state('initial copy');

# Sessions of the marketing role that stay open on both replicas.
my %session;
for my $node ($standby, $subscriber)
{
	my $s = $node->background_psql('postgres', on_error_stop => 1);
	$s->query_safe("SET ROLE mailer");
	is($s->query_safe($marketing_sql), 'none',
		$node->name . ': no purpose declared, the protected table shows nothing');
	$s->query_safe("SET privacy.purpose = 'marketing'");
	is($s->query_safe($marketing_sql), '1,2',
		$node->name . ': purpose marketing sees only the consenting customers 1 and 2');
	$session{ $node->name } = $s;
}
is($subscriber->safe_psql('postgres', 'SELECT count(*) FROM shop.customers'),
	'3', 'subscriber: all three customers are there for its superuser');

# Consent withdrawal on the primary.
$primary->safe_psql('postgres',
	"SELECT privacy.withdraw_consent('customer', '2', 'marketing', 'direct', '{\"form\": \"unsubscribe\"}')");
catch_up();
same_state('after the withdrawal');
for my $node ($standby, $subscriber)
{
	is($session{ $node->name }->query_safe($marketing_sql), '1',
		$node->name . ': the open marketing session no longer sees customer 2');
}

# A retention run on the primary: invoice 102 deleted, order 13 anonymised.
$primary->safe_psql('postgres', 'CALL privacy.enforce_retention()');
is( $primary->safe_psql(
		'postgres',
		q{SELECT (SELECT status FROM privacy.retention_runs ORDER BY id DESC LIMIT 1)
		      || '|' || (SELECT count(*) FROM shop.invoices WHERE id = 102)
		      || '|' || (SELECT count(*) FROM shop.orders WHERE id = 13 AND delivery_address IS NULL)}),
	'finished|0|1',
	'primary: the retention run deleted invoice 102 and anonymised order 13');
catch_up();
same_state('after the retention run');

# The erasure of customer 1, decoded with test_decoding on the way. orders
# gets REPLICA IDENTITY FULL; customers and order_lines keep their primary
# key.
$primary->safe_psql(
	'postgres', q{
ALTER TABLE shop.orders REPLICA IDENTITY FULL;
SELECT pg_create_logical_replication_slot('peek', 'test_decoding');
});
my $receipt = $primary->safe_psql('postgres',
	q{SELECT r ->> 'changed' || '|' || (r ->> 'rows_retained') FROM privacy.erase_subject('customer', '1', 'test') r});
is($receipt, 'true|1', 'primary: customer 1 erased, the recent invoice retained');
my $decoded = $primary->safe_psql('postgres',
	q{SELECT string_agg(data, E'\n') FROM pg_logical_slot_peek_changes('peek', NULL, NULL)});
like($decoded, qr/table shop\.orders: UPDATE: old-key: .*delivery_address\[text\]:'Ada Street 1 Unique'/,
	'REPLICA IDENTITY FULL: the anonymised order\'s old address travels in the decoded change');
like($decoded, qr/table shop\.order_lines: DELETE: order_id\[integer\]:10 line\[integer\]:2$/m,
	'default identity: a deleted order line travels as its primary key only');
like($decoded, qr/table shop\.customers: UPDATE: id\[integer\]:1 /,
	'default identity: the anonymised customer row is in the decoded changes');
my @leaked = grep { index($decoded, $_) >= 0 }
  ('Ada Lovelace-Unique', 'ada.unique@example.com', '+4511223344',
	'Happy birthday Ada Unique', 'For Ada Unique', 'left at Ada door Unique');
is_deeply(\@leaked, [],
	'default identity: no old personal value of customer 1 is in the decoded changes');
$primary->safe_psql(
	'postgres', q{
SELECT pg_drop_replication_slot('peek');
ALTER TABLE shop.orders REPLICA IDENTITY DEFAULT;
});

catch_up();
same_state('after the erasure');
is($subscriber->safe_psql('postgres', $published_sql) =~ /Ada (Lovelace|Street|Unique)|ada\.unique|For Ada|birthday Ada/ ? 'found' : 'none',
	'none', 'subscriber: no erased value of customer 1 is left');
is( $subscriber->safe_psql(
		'postgres',
		q{SELECT (SELECT count(*) FROM shop.order_lines WHERE order_id IN (10, 12))
		      || '|' || (SELECT count(*) FROM shop.customers WHERE id = 1 AND name LIKE '[erased %]' AND email IS NULL)
		      || '|' || (SELECT string_agg(id::text, ',' ORDER BY id) FROM shop.invoices WHERE customer_id = 1)
		      || '|' || (SELECT count(*) FROM privacy._ledger_state WHERE subject = '1')
		      || '|' || (SELECT count(*) FROM privacy.consent_ledger WHERE subject = '1')}),
	'0|1|100|0|0',
	'subscriber: lines deleted, customer anonymised, only the retained invoice left, consent forgotten');
for my $node ($standby, $subscriber)
{
	is($session{ $node->name }->query_safe($marketing_sql), 'none',
		$node->name . ': the open marketing session no longer sees the erased customer');
	$session{ $node->name }->quit;
	is($node->safe_psql('postgres', 'SELECT intact FROM privacy.verify_audit_log()'),
		't', $node->name . ': audit chain intact');
}
is($standby->safe_psql('postgres', q{SELECT count(*) FROM privacy.audit_log WHERE action = 'erasure'}),
	'1', 'standby: the erasure is in its (the primary\'s) audit log');

# The standby is read-only: consent and erasure are refused there as in a
# read-only transaction (SQLSTATE 25006), before they lock the subject.
for my $call (q{SELECT privacy.grant_consent('customer', '1', 'marketing')},
	q{SELECT privacy.erase_subject('customer', '1', 'test')})
{
	my ($rc, $out, $err) = $standby->psql('postgres', "\\set VERBOSITY verbose\n$call");
	like($err, qr/ERROR:  25006: cannot execute INSERT in a read-only transaction/,
		'standby refuses ' . ($call =~ /grant/ ? 'a consent' : 'an erasure') . ' as read-only');
}

# A personal table without a primary key in a publication that publishes
# deletes: the erasure cannot delete from it, so it fails as a whole.
$primary->safe_psql('postgres', 'CREATE PUBLICATION no_key FOR TABLE shop.shipments');
my ($rc, $out, $err) = $primary->psql('postgres',
	"SELECT privacy.erase_subject('customer', '2', 'test')");
isnt($rc, 0, 'erasure fails when a published personal table has no replica identity');
like($err, qr/cannot delete from table "shipments" because it does not have a replica identity/,
	'the error names the table without replica identity');
is( $primary->safe_psql(
		'postgres',
		q{SELECT (SELECT count(*) FROM privacy.erasures) || '|'
		      || (SELECT name FROM shop.customers WHERE id = 2)}),
	'1|Bo Bramsen-Unique',
	'nothing of customer 2 was erased');
$primary->safe_psql('postgres', 'DROP PUBLICATION no_key');

# A session on the standby that read the whole consent state during
# recovery reads it again after a promotion: the changes the standby
# replayed were never counted (sessions share no state during recovery),
# so its image cannot be brought up to date with them. A hundred customers
# consent on the primary; the standby's session reads them all; one of
# them withdraws, which the standby replays while the session is idle;
# after the promotion the session's next statement must not show it.
$primary->safe_psql(
	'postgres', q{
INSERT INTO shop.customers (id, name) SELECT g, 'Customer ' || g FROM generate_series(1000, 1099) g;
SELECT count(privacy.grant_consent('customer', g::text, 'marketing')) FROM generate_series(1000, 1099) g;
});
$primary->wait_for_catchup($standby);
my $late = $standby->background_psql('postgres', on_error_stop => 1);
$late->query_safe("SET ROLE mailer");
$late->query_safe("SET privacy.purpose = 'marketing'");
is($late->query_safe('SELECT count(*) FROM shop.customers'), '100',
	'standby: the session sees the hundred consenting customers');
$primary->safe_psql('postgres', q{SELECT privacy.withdraw_consent('customer', '1050', 'marketing')});
$primary->wait_for_catchup($standby);
$standby->promote;
is($late->query_safe('SELECT count(*) FROM shop.customers WHERE id BETWEEN 1049 AND 1051'), '2',
	'after the promotion the session honours the withdrawal the standby replayed before it');
$late->quit;

$subscriber->stop;
$standby->stop;
$primary->stop;
done_testing();
