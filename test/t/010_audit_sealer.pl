# The audit log's sealer on a server that preloads the library: committed
# entries are sealed into the hash chain by a background worker, in every
# database that has the extension, within privacy.seal_delay (200 ms) and
# well under a second of their commit. A crash between a commit and its
# seal, or in the middle of a seal, loses nothing and seals nothing twice:
# after the restart every committed entry is in the chain exactly once, the
# chain verifies, and no entry of an aborted transaction or rolled-back
# savepoint is ever sealed.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);

my $node = PostgreSQL::Test::Cluster->new('sealer');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'opendims_privacy'");
$node->append_conf('postgresql.conf', "restart_after_crash = on");
$node->start;

my $setup = q{
SET client_min_messages = warning;
CREATE EXTENSION opendims_privacy CASCADE;
CREATE SCHEMA iso;
CREATE TABLE iso.customers (id bigint PRIMARY KEY, name text NOT NULL);
INSERT INTO iso.customers SELECT g, 'Customer ' || g FROM generate_series(1, 50) g;
SELECT privacy.apply_policy(jsonb_build_object(
	'format', 1, 'version', 'iso-1', 'effective_date', '2026-06-24',
	'controller', jsonb_build_object('name', 'A', 'contact', 'a@example.com'),
	'purposes', jsonb_build_array(
		jsonb_build_object('name', 'service', 'legal_basis', 'contract'),
		jsonb_build_object('name', 'marketing', 'legal_basis', 'consent')),
	'subject_kinds', jsonb_build_array(
		jsonb_build_object('name', 'customer', 'table', 'iso.customers', 'key', 'id')),
	'classifications', jsonb_build_array(
		jsonb_build_object('table', 'iso.customers', 'column', 'name', 'category', 'contact.name')))::text);
SELECT privacy.protect('iso.customers');
};
$node->safe_psql('postgres', $setup);
$node->safe_psql('postgres', 'CREATE DATABASE other');
$node->safe_psql('other', $setup);
$node->safe_psql('postgres', 'CREATE DATABASE without_extension');

# Polls until the database's backlog is empty; returns the seconds it took.
sub wait_sealed
{
	my ($db, $limit) = @_;
	my $start = time;
	while (time - $start < $limit)
	{
		return time - $start
		  if $node->safe_psql($db, 'SELECT entries FROM privacy.audit_backlog') eq '0';
		usleep(20_000);
	}
	return undef;
}

# The chain's entries of test actions, in chain order, and whether it verifies.
sub chain
{
	my ($db) = @_;
	return $node->safe_psql(
		$db, q{
SELECT string_agg(action, ',' ORDER BY id) FROM privacy.audit_log WHERE action LIKE 'test.%';
SELECT intact || ' ' || unsealed FROM privacy.verify_audit_log();
});
}

# 1. Sealed by the worker, in both databases, within the bound.
ok(defined wait_sealed('postgres', 10), 'the setup\'s entries are sealed');
ok(defined wait_sealed('other', 10), 'the setup\'s entries in the other database are sealed');
for my $db ('postgres', 'other')
{
	my $start = time;
	$node->safe_psql($db,
		q{SELECT privacy_internal._audit(current_user, 'test.first', NULL, NULL, NULL, '{}')});
	my $took = wait_sealed($db, 10);
	ok(defined $took, "$db: a committed entry is sealed by the worker");
	cmp_ok(time - $start, '<', 1.0, "$db: within a second of its commit (took ${took}s)");
}
is( $node->safe_psql(
		'postgres',
		"SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'opendims_privacy sealer launcher'"),
	'1',
	'one launcher runs');
is( $node->safe_psql(
		'postgres', q{
SELECT count(*) FROM pg_stat_activity a JOIN pg_database d ON d.oid = a.datid
 WHERE a.backend_type = 'opendims_privacy sealer' AND d.datname = 'without_extension'}),
	'0',
	'no worker stays in a database without the extension');

# A statement's many entries, in batches of 7, and a rectification.
$node->append_conf('postgresql.conf', 'privacy.seal_batch_size = 7');
$node->reload;
$node->safe_psql(
	'postgres', q{
SELECT privacy_internal._audit(current_user, 'test.batch', NULL, NULL, NULL, jsonb_build_object('n', g))
  FROM generate_series(1, 30) g;
UPDATE iso.customers SET name = name || '!' WHERE id <= 20;
});
ok(defined wait_sealed('postgres', 10), '30 entries and 20 rectifications are sealed in batches of 7');
is($node->safe_psql('postgres', q{SELECT count(*) FROM privacy.audit_log WHERE action IN ('test.batch', 'rectification')}),
	'50', 'each of them once');
is( $node->safe_psql(
		'postgres',
		q{SELECT string_agg(summary ->> 'n', ',' ORDER BY id) = string_agg(g::text, ',' ORDER BY g)
		    FROM privacy.audit_log, generate_series(1, 30) g
		   WHERE action = 'test.batch' AND (summary ->> 'n')::int = g}),
	't',
	'in the order they were written');

# Writes committed, rolled back and rolled back to a savepoint; the numbers
# of each kind of entry the chain must hold once sealed.
my $writes = q{
SELECT privacy_internal._audit(current_user, 'test.committed', NULL, NULL, NULL, jsonb_build_object('n', g))
  FROM generate_series(1, 25) g;
UPDATE iso.customers SET name = name || '+' WHERE id BETWEEN 21 AND 30;
BEGIN;
SELECT privacy_internal._audit(current_user, 'test.aborted', NULL, NULL, NULL, '{}');
UPDATE iso.customers SET name = 'aborted' WHERE id = 40;
ROLLBACK;
BEGIN;
SELECT privacy_internal._audit(current_user, 'test.kept', NULL, NULL, NULL, '{}');
SAVEPOINT s;
SELECT privacy_internal._audit(current_user, 'test.aborted', NULL, NULL, NULL, '{}');
UPDATE iso.customers SET name = 'aborted' WHERE id = 41;
ROLLBACK TO SAVEPOINT s;
UPDATE iso.customers SET name = name || '+' WHERE id = 42;
COMMIT;
};
my $expected_counts = q{
SELECT string_agg(action || '=' || n, ',' ORDER BY action) FROM (
  SELECT action, count(*) AS n FROM privacy.audit_log
   WHERE id > %d AND action IN ('test.committed', 'test.kept', 'test.aborted', 'rectification')
   GROUP BY action) x;
};
my $done = 'rectification=11,test.committed=25,test.kept=1';

# 2. A crash between the commits and their seal.
$node->append_conf('postgresql.conf', "privacy.seal_delay = '1h'");
$node->reload;
sleep 1;
my $mark = $node->safe_psql('postgres', 'SELECT max(id) FROM privacy.audit_log');
$node->safe_psql('postgres', $writes);
is($node->safe_psql('postgres', 'SELECT entries FROM privacy.audit_backlog'),
	'37', 'committed entries wait to be sealed (the worker waits an hour)');
$node->stop('immediate');
$node->append_conf('postgresql.conf', "privacy.seal_delay = '200ms'");
$node->start;
ok(defined wait_sealed('postgres', 20), 'after the restart the worker seals the backlog');
is($node->safe_psql('postgres', sprintf($expected_counts, $mark)),
	$done, 'every committed entry is sealed exactly once, no aborted one');
like(chain('postgres'), qr/\ntrue 0$/, 'the chain verifies and nothing is left unsealed');

# 3. A crash in the middle of a seal: the worker has inserted a batch into
# the log, deleted it from the backlog and moved the head, and waits before
# committing.
$node->append_conf('postgresql.conf', "privacy.seal_pause_for_tests = '1h'");
$node->append_conf('postgresql.conf', 'privacy.seal_batch_size = 100');
$node->reload;
sleep 1;
$mark = $node->safe_psql('postgres', 'SELECT max(id) FROM privacy.audit_log');
$node->safe_psql('postgres', $writes);
ok( $node->poll_query_until(
		'postgres', q{
SELECT EXISTS (SELECT FROM pg_stat_activity a JOIN pg_database d ON d.oid = a.datid
				WHERE a.backend_type = 'opendims_privacy sealer' AND d.datname = 'postgres'
				  AND a.state = 'active' AND a.wait_event = 'Extension')}),
	'the worker is in the middle of a seal');
is($node->safe_psql('postgres', 'SELECT entries FROM privacy.audit_backlog'),
	'37', 'its seal is not committed: the entries are still unsealed for everyone else');
$node->stop('immediate');
$node->append_conf('postgresql.conf', "privacy.seal_pause_for_tests = 0");
$node->start;
ok(defined wait_sealed('postgres', 20), 'after the restart the backlog is sealed');
is($node->safe_psql('postgres', sprintf($expected_counts, $mark)),
	$done, 'every committed entry is sealed exactly once, no aborted one');
like(chain('postgres'), qr/\ntrue 0$/, 'the chain verifies');

# 4. The same with the worker itself killed mid-seal: the server goes
# through crash recovery, the launcher starts again and seals.
$node->append_conf('postgresql.conf', "privacy.seal_pause_for_tests = '1h'");
$node->reload;
sleep 1;
$mark = $node->safe_psql('postgres', 'SELECT max(id) FROM privacy.audit_log');
$node->safe_psql('postgres', $writes);
ok( $node->poll_query_until(
		'postgres', q{
SELECT EXISTS (SELECT FROM pg_stat_activity a
				WHERE a.backend_type = 'opendims_privacy sealer'
				  AND a.state = 'active' AND a.wait_event = 'Extension')}),
	'the worker is in the middle of a seal again');
my $pid = $node->safe_psql('postgres',
	"SELECT pid FROM pg_stat_activity WHERE backend_type = 'opendims_privacy sealer' AND wait_event = 'Extension'");
ok(kill('KILL', $pid), "worker $pid killed with SIGKILL");
ok($node->poll_query_until('postgres', 'SELECT true'), 'server back after crash recovery');
# (a reload ends the pause of the worker started again, which may pause in
# its first seal)
$node->append_conf('postgresql.conf', "privacy.seal_pause_for_tests = 0");
$node->reload;
ok(defined wait_sealed('postgres', 30), 'the relaunched worker seals the backlog');
is($node->safe_psql('postgres', sprintf($expected_counts, $mark)),
	$done, 'every committed entry is sealed exactly once, no aborted one');
like(chain('postgres'), qr/\ntrue 0$/, 'the chain verifies');

# 5. The manual seal and the worker take turns on the chain's head.
$node->safe_psql(
	'postgres', q{
SELECT privacy_internal._audit(current_user, 'test.turns', NULL, NULL, NULL, jsonb_build_object('n', g))
  FROM generate_series(1, 200) g;
SELECT privacy.seal_audit_log() >= 0;
});
ok(defined wait_sealed('postgres', 10), 'sealed by one or the other');
is($node->safe_psql('postgres', q{SELECT count(*) FROM privacy.audit_log WHERE action = 'test.turns'}),
	'200', 'each entry once');
like(chain('postgres'), qr/\ntrue 0$/, 'the chain verifies');

# 6. The worker vacuums the queue of unsealed entries itself after sealing
# 20,000 entries: at thousands of entries a second, autovacuum, which
# visits a database once a minute, would let the dead rows pile up.
$node->append_conf('postgresql.conf', 'privacy.seal_batch_size = 10000');
$node->reload;
$node->safe_psql('postgres', q{SELECT pg_stat_reset_single_table_counters('privacy._audit_unsealed'::regclass)});
$node->safe_psql(
	'postgres', q{
SELECT privacy_internal._audit(current_user, 'test.many', NULL, NULL, NULL, jsonb_build_object('n', g))
  FROM generate_series(1, 21000) g;
});
ok(defined wait_sealed('postgres', 60), '21,000 entries are sealed');
ok( $node->poll_query_until(
		'postgres',
		q{SELECT vacuum_count > 0 FROM pg_stat_user_tables WHERE relid = 'privacy._audit_unsealed'::regclass}),
	'the worker vacuumed the queue');
is($node->safe_psql('postgres', q{SELECT count(*) FROM privacy.audit_log WHERE action = 'test.many'}),
	'21000', 'each entry sealed once');
like(chain('postgres'), qr/\ntrue 0$/, 'the chain verifies');

# 7. A worker does not keep an idle database: DROP DATABASE goes through.
$node->safe_psql('other',
	q{SELECT privacy_internal._audit(current_user, 'test.last', NULL, NULL, NULL, '{}')});
ok(defined wait_sealed('other', 10), 'the other database\'s entry is sealed');
my ($rc, $out, $err) = $node->psql('postgres', 'DROP DATABASE other');
is($rc, 0, 'the other database can be dropped once its worker has left') or diag($err);

$node->stop;
done_testing();
