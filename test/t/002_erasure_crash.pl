# A crash in the middle of an erasure: privacy.erase_subject('customer', '1')
# runs in a background session, slowed down by a BEFORE DELETE trigger on
# shop.order_lines, and its backend is killed with SIGKILL while it is inside
# the erasure (after it has already deleted the subject's shipment). The
# server goes through crash recovery. Afterwards none of the erasure
# happened: every table of the shop is exactly as before (every row and
# value of subject 1 is still there), there is no privacy.erasures row and
# no erasure in the audit log, and the audit chain verifies. Running the
# erasure again completes it with the receipt docs/erasure.md describes
# (children deleted, the recent invoice retained, orders and the customer
# row anonymised), records it once, and the chain still verifies.

use strict;
use warnings;

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $fixtures = "$ENV{TESTDIR}/fixtures";

my $node = PostgreSQL::Test::Cluster->new('erasure');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'opendims_privacy'");
$node->append_conf('postgresql.conf', "restart_after_crash = on");
$node->start;

my $policy = slurp_file("$fixtures/shop-policy.json");
$node->safe_psql('postgres',
	"SET client_min_messages = warning; CREATE EXTENSION opendims_privacy CASCADE;");
$node->safe_psql('postgres', slurp_file("$fixtures/shop_schema.sql"));
$node->safe_psql('postgres',
	"SELECT privacy.apply_policy(\$policy\$$policy\$policy\$)");
# As in sql/erasure.sql: the shipment note is personal, so the erasure
# deletes shipments first (children first), then order lines.
$node->safe_psql('postgres',
	"SECURITY LABEL FOR privacy ON COLUMN shop.shipments.tracking_note IS 'content'");
$node->safe_psql('postgres', slurp_file("$fixtures/shop_data.sql"));

# One second per deleted order line: the erasure is still running, with
# the shipment already deleted in its transaction, when it is killed.
$node->safe_psql(
	'postgres', q{
CREATE FUNCTION public.slow_down() RETURNS trigger LANGUAGE plpgsql AS
  $$ BEGIN PERFORM pg_sleep(1); RETURN OLD; END $$;
CREATE TRIGGER slow_down BEFORE DELETE ON shop.order_lines
  FOR EACH ROW EXECUTE FUNCTION public.slow_down();
});

# Every row and value of every shop table, in a fixed order.
my $snapshot_sql = q{
SELECT string_agg(t, E'\n' ORDER BY t) FROM (
  SELECT 'customers ' || c::text AS t FROM shop.customers c
  UNION ALL SELECT 'orders ' || o::text FROM shop.orders o
  UNION ALL SELECT 'order_lines ' || l::text FROM shop.order_lines l
  UNION ALL SELECT 'shipments ' || s::text FROM shop.shipments s
  UNION ALL SELECT 'invoices ' || i::text FROM shop.invoices i) x
};
my $before = $node->safe_psql('postgres', $snapshot_sql);
$node->safe_psql('postgres', 'SELECT privacy.seal_audit_log()');
my $audit_before = $node->safe_psql('postgres', 'SELECT count(*) FROM privacy.audit_log');
like($before, qr/Ada Lovelace-Unique/, 'subject 1 is in the shop before the erasure');

# The erasure, in the background.
my ($stdout, $stderr) = ('', '');
my $run = IPC::Run::start(
	[
		'psql', '-X', '-q', '-d', $node->connstr('postgres'),
		'-c', "SELECT privacy.erase_subject('customer', '1', 'test')"
	],
	'>', \$stdout, '2>', \$stderr);

# Kill it while it sleeps in the trigger, that is mid-erasure.
ok( $node->poll_query_until(
		'postgres', q{
SELECT EXISTS (SELECT FROM pg_stat_activity
				WHERE query LIKE '%erase_subject%' AND pid <> pg_backend_pid()
				  AND state = 'active' AND wait_event = 'PgSleep')}),
	'the erasure is running, inside the slowed-down delete');
my $pid = $node->safe_psql(
	'postgres', q{
SELECT pid FROM pg_stat_activity
 WHERE query LIKE '%erase_subject%' AND pid <> pg_backend_pid() AND wait_event = 'PgSleep'});
like($pid, qr/^\d+$/, 'found the erasing backend');
is( $node->safe_psql(
		'postgres', qq{
SELECT string_agg(relation::regclass::text, ',' ORDER BY relation::regclass::text) FROM pg_locks
 WHERE pid = $pid AND mode = 'RowExclusiveLock'
   AND relation IN ('shop.shipments'::regclass, 'shop.order_lines'::regclass)}),
	'shop.order_lines,shop.shipments',
	'it is mid-erasure: it holds write locks on shipments (done first) and order_lines (being deleted)');
ok(kill('KILL', $pid), "backend $pid killed with SIGKILL");
$run->finish;
isnt($?, 0, 'the erasure ended with an error');
unlike($stdout, qr/"changed"/, 'no receipt was returned');

ok($node->poll_query_until('postgres', 'SELECT true'), 'server back after crash recovery');
my $log = slurp_file($node->logfile);
like($log, qr/was terminated by signal 9/, 'the postmaster saw the backend die');
like($log, qr/automatic recovery in progress|all server processes terminated; reinitializing/,
	'the server went through crash recovery');

# None of the erasure happened.
is($node->safe_psql('postgres', $snapshot_sql), $before,
	'every row and value of the shop is as before, subject 1 included');
is( $node->safe_psql(
		'postgres',
		q{SELECT (SELECT count(*) FROM shop.customers WHERE id = 1 AND name = 'Ada Lovelace-Unique')
		      || '|' || (SELECT count(*) FROM shop.orders WHERE customer_id = 1)
		      || '|' || (SELECT count(*) FROM shop.order_lines WHERE order_id IN (10, 12))
		      || '|' || (SELECT count(*) FROM shop.shipments WHERE order_id = 10)
		      || '|' || (SELECT count(*) FROM shop.invoices WHERE customer_id = 1)}),
	'1|2|3|1|2',
	'subject 1: customer row, 2 orders, 3 order lines, 1 shipment, 2 invoices still there');
is($node->safe_psql('postgres', 'SELECT count(*) FROM privacy.erasures'),
	'0', 'no erasure recorded in privacy.erasures');
$node->safe_psql('postgres', 'SELECT privacy.seal_audit_log()');
is($node->safe_psql('postgres', 'SELECT count(*) FROM privacy.audit_log'),
	$audit_before, 'the audit log has no entry of the dead erasure');
is($node->safe_psql('postgres', 'SELECT intact FROM privacy.verify_audit_log()'),
	't', 'audit chain intact after the crash');

# The erasure again, to the end (three order lines: about three seconds).
my $receipt = $node->safe_psql(
	'postgres', q{
SELECT r ->> 'changed', r ->> 'already_erased', r ->> 'rows_deleted',
       r ->> 'rows_anonymized', r ->> 'rows_retained'
  FROM privacy.erase_subject('customer', '1', 'test') r});
is($receipt, 'true|false|5|2|1',
	'second attempt completes: 5 rows deleted, 2 anonymised, 1 retained');
is( $node->safe_psql(
		'postgres',
		q{SELECT (SELECT count(*) FROM shop.order_lines WHERE order_id IN (10, 12))
		      || '|' || (SELECT count(*) FROM shop.shipments WHERE order_id = 10)
		      || '|' || (SELECT string_agg(id::text, ',' ORDER BY id) FROM shop.invoices WHERE customer_id = 1)
		      || '|' || (SELECT count(*) FROM shop.orders WHERE customer_id = 1 AND delivery_address IS NULL)
		      || '|' || (SELECT count(*) FROM shop.customers
		                  WHERE id = 1 AND name LIKE '[erased %]' AND email IS NULL AND phone IS NULL)}),
	'0|0|100|2|1',
	'lines and shipment deleted, old invoice deleted, recent one retained, orders and customer anonymised');
my $after = $node->safe_psql('postgres', $snapshot_sql);
my @left = grep { /Ada/ } split /\n/, $after;
is_deeply(\@left, [ grep { /Ada Retained Billing/ } @left ],
	'no value of subject 1 is left but the retained invoice');
like($after, qr/Bo Bramsen-Unique/, 'other subjects untouched');
is($node->safe_psql('postgres', q{SELECT count(*) FROM privacy.erasures WHERE kind = 'customer'}),
	'1', 'the erasure is recorded once');
$node->safe_psql('postgres', 'SELECT privacy.seal_audit_log()');
is($node->safe_psql('postgres', q{SELECT count(*) FROM privacy.audit_log WHERE action = 'erasure'}),
	'1', 'the erasure is in the audit log once');
is($node->safe_psql('postgres', 'SELECT intact FROM privacy.verify_audit_log()'),
	't', 'audit chain intact after the erasure');

$node->stop;
done_testing();
