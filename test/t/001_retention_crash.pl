# A crash in the middle of a retention run: the backend running
# privacy.enforce_retention() is killed with SIGKILL while it works through
# its batches, and the server restarts. Afterwards nothing is half-done: the
# rows gone are exactly those of the batches the run committed, which its
# progress row counts; the audit chain is intact. The next run marks the
# dead run interrupted, processes exactly the rows left, and finishes.

use strict;
use warnings;

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $rows = 20000;
my $batch = 500;

my $node = PostgreSQL::Test::Cluster->new('retention');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'opendims_privacy'");
$node->append_conf('postgresql.conf', "restart_after_crash = on");
$node->start;

# A table of due rows whose deletion is slowed down by a trigger, so that
# the run is still going when it is killed.
$node->safe_psql(
	'postgres', qq{
SET client_min_messages = warning;
CREATE EXTENSION opendims_privacy CASCADE;
CREATE TABLE visits (id integer PRIMARY KEY, visited_at timestamptz NOT NULL, visitor text);
CREATE INDEX ON visits (visited_at);
INSERT INTO visits SELECT g, '2015-01-01'::timestamptz + g * interval '1 minute', 'visitor ' || g
  FROM generate_series(1, $rows) g;
CREATE FUNCTION slow_down() RETURNS trigger LANGUAGE plpgsql AS
  \$\$ BEGIN PERFORM pg_sleep(0.0005); RETURN OLD; END \$\$;
CREATE TRIGGER slow_down BEFORE DELETE ON visits FOR EACH ROW EXECUTE FUNCTION slow_down();
SELECT privacy.apply_policy(jsonb_build_object(
	'format', 1, 'version', 'crash-1', 'effective_date', '2026-01-01',
	'controller', jsonb_build_object('name', 'A', 'contact', 'a\@example.com'),
	'retention_rules', jsonb_build_array(jsonb_build_object(
		'name', 'visits', 'table', 'visits', 'anchor', 'visited_at', 'period', '1 year',
		'action', 'delete', 'legal_basis', 'legitimate_interest')))::text);
});

# The run, in the background.
my ($stdout, $stderr) = ('', '');
my $run = IPC::Run::start(
	[
		'psql', '-X', '-q', '-d', $node->connstr('postgres'),
		'-c', "CALL privacy.enforce_retention(batch_size => $batch, time_budget => '10 minutes')"
	],
	'>', \$stdout, '2>', \$stderr);

# Kill it once a few batches have committed.
ok( $node->poll_query_until(
		'postgres',
		"SELECT rows_done >= 3 * $batch FROM privacy.retention_runs WHERE status = 'running'"),
	'the run commits batches');
my $pid = $node->safe_psql('postgres',
	"SELECT pid FROM privacy.retention_runs WHERE status = 'running'");
ok(kill('KILL', $pid), "backend $pid killed with SIGKILL");
$run->finish;
isnt($?, 0, 'the run ended with an error');

# The postmaster restarts after the crash.
ok($node->poll_query_until('postgres', 'SELECT true'), 'server back after crash recovery');

my ($left, $done, $status) = split /\|/, $node->safe_psql('postgres',
	"SELECT (SELECT count(*) FROM visits), r.rows_done, r.status FROM privacy.retention_runs r");
cmp_ok($left, '<', $rows, 'the run had deleted rows before it died');
cmp_ok($left, '>', 0, 'the run died before it finished');
is($done + $left, $rows, 'rows deleted are exactly those the run counted as done');
is($done % $batch, 0, 'only whole batches were committed');
is($status, 'running', 'the dead run still looks running');
is($node->safe_psql('postgres', 'SELECT intact FROM privacy.verify_audit_log()'),
	't', 'audit chain intact after the crash');

# The next run.
$node->safe_psql('postgres',
	"CALL privacy.enforce_retention(batch_size => $batch, time_budget => '10 minutes')");
is($node->safe_psql('postgres', 'SELECT count(*) FROM visits'), '0', 'the next run finishes the work');
is( $node->safe_psql(
		'postgres', 'SELECT string_agg(status, \',\' ORDER BY id) FROM privacy.retention_runs'),
	'interrupted,finished',
	'the dead run is marked interrupted');
is( $node->safe_psql(
		'postgres', "SELECT rows_due || '|' || rows_done FROM privacy.retention_runs WHERE status = 'finished'"),
	"$left|$left",
	'the next run found and did exactly the rows left');
$node->safe_psql('postgres', 'SELECT privacy.seal_audit_log()');
is( $node->safe_psql(
		'postgres',
		"SELECT string_agg(summary ->> 'status', ',' ORDER BY id) FROM privacy.audit_log WHERE action = 'retention.run'"
	),
	'interrupted,finished',
	'both runs are in the audit log');
is($node->safe_psql('postgres', 'SELECT intact FROM privacy.verify_audit_log()'),
	't', 'audit chain intact');

$node->stop;
done_testing();
