# Backups as a DBA makes them. The sample OpenDIMS database (test/demo) with
# its policy applied, three protected tables, a purpose grant, consents, an
# objection and a restriction, a guard in redact mode, a legal hold, an
# erasure and a retention run is dumped with pg_dump -Fc and restored four
# ways: serially and with -j 4, each into an empty database and into one
# where the extension was created first. Every restore gives back exactly
# what was dumped, with nothing fired along the way: the extension's
# catalog, every table's rows (the audit log, the ledger state derived on
# load, the keys), the sequences, the security labels, and the triggers,
# policies and row-security flags on the sample tables. verify_audit_log(),
# verify_evidence() and lint() say what they said on the source; the guard
# triggers, the row policies and the rectification trigger work. Ten more
# parallel restores show that the order in which pg_restore -j loads the
# extension's configuration tables does not matter.
#
# A dump restored before the application's roles exist loses the purpose
# grants (privacy.purpose_grants names roles by OID); lint() then reports
# each grant the audit log has in force as missing.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $demo = "$ENV{TESTDIR}/demo";
my $fixtures = "$ENV{TESTDIR}/fixtures";

my $node = PostgreSQL::Test::Cluster->new('restore');
$node->init;
$node->append_conf('postgresql.conf',
	"shared_preload_libraries = 'opendims_privacy'\nmax_worker_processes = 16");
$node->start;

# The source database.
$node->safe_psql('postgres', 'CREATE DATABASE opendims');
$node->safe_psql('opendims', 'CREATE EXTENSION opendims_privacy');
$node->safe_psql('opendims', slurp_file("$demo/schema.sql"));
$node->safe_psql('opendims', slurp_file("$demo/data.sql"));
my $policy = slurp_file("$demo/opendims-policy.json");
$node->safe_psql(
	'opendims', qq{
SELECT privacy.apply_policy(\$doc\$$policy\$doc\$);
SELECT privacy.protect(t)
  FROM unnest(ARRAY['opendims.customers', 'opendims.users', 'opendims.tracking_events']::regclass[]) t;
CREATE ROLE marketer;
GRANT USAGE ON SCHEMA opendims TO marketer;
GRANT SELECT ON opendims.customers TO marketer;
SELECT privacy.allow_purpose('marketing', 'marketer');
SELECT privacy.grant_consent('customer', id::text, 'marketing', 'direct', '{}') FROM generate_series(1, 6) id;
SELECT privacy.withdraw_consent('customer', '2', 'marketing', 'direct', '{}');
SELECT privacy.restrict('customer', '3', 'accuracy contested');
SELECT privacy.object('user', '1', 'analytics');
SELECT privacy.guard('opendims.support_messages', ARRAY['body'], mode => 'redact');
SELECT privacy.place_hold('customer', '12', 'Dispute over unpaid invoices', 'Case 2026-117');
SECURITY LABEL FOR privacy ON COLUMN opendims.support_tickets.subject IS 'contact';
});
$node->safe_psql('opendims',
	q{SELECT privacy.erase_subject(privacy.open_request('customer', '7', 'erasure'), 'consent withdrawn')});
$node->safe_psql('opendims', q{CALL privacy.enforce_retention(batch_size => 1000)});
# Every audit entry sealed, so that the sealer's worker changes nothing
# between the snapshot of the source and its dump.
$node->safe_psql('opendims', q{SELECT privacy.seal_audit_log()});

# Everything a restore must give back, as sorted lines: the extension's
# catalog, each table's rows and each sequence's state in the sample and
# extension schemas, the triggers, row policies and row-security flags,
# the security labels.
my $catalog_snapshot = slurp_file("$fixtures/catalog_snapshot.sql");
my $state_snapshot = q{
SELECT 'rows|' || c.oid::regclass::text || '|' ||
       (xpath('/row/s/text()', query_to_xml(format(
           'SELECT count(*) || '' '' || md5(coalesce(string_agg(t::text, E''\n'' ORDER BY t::text), '''')) AS s FROM %s t',
           c.oid::regclass), false, true, '')))[1]::text
  FROM pg_class c
 WHERE c.relnamespace IN ('opendims'::regnamespace, 'privacy'::regnamespace) AND c.relkind = 'r'
UNION ALL
SELECT 'sequence|' || schemaname || '.' || sequencename || '|' || coalesce(last_value::text, 'null')
  FROM pg_sequences WHERE schemaname IN ('opendims', 'privacy')
UNION ALL
SELECT 'trigger|' || tgrelid::regclass::text || '|' || tgname || '|' || tgenabled::text || '|' || pg_get_triggerdef(oid)
  FROM pg_trigger WHERE NOT tgisinternal
UNION ALL
SELECT 'policy|' || schemaname || '.' || tablename || '|' || policyname || '|' || permissive || '|' || cmd
       || '|' || coalesce(qual, '-') || '|' || coalesce(with_check, '-')
  FROM pg_policies
UNION ALL
SELECT 'row security|' || oid::regclass::text || '|' || relrowsecurity || '|' || relforcerowsecurity
  FROM pg_class WHERE relnamespace = 'opendims'::regnamespace AND relkind IN ('r', 'p')
UNION ALL
SELECT 'label|' || objname || '|' || provider || '|' || label FROM pg_seclabels
ORDER BY 1;
};
my $checks = q{
-- Discovery samples rows at random: how many sampled rows look like a
-- category differs from one run to the next.
SELECT 'lint|' || severity || '|' || object || '|'
	   || regexp_replace(problem, '\d+ of \d+ sampled rows', 'some sampled rows') FROM privacy.lint()
UNION ALL
SELECT 'evidence|' || e::text FROM privacy.verify_evidence() e
UNION ALL
SELECT 'audit|' || intact || '|' || entries FROM privacy.verify_audit_log()
ORDER BY 1;
};

sub snapshot
{
	my ($db) = @_;
	return join("\n",
		$node->safe_psql($db, $catalog_snapshot),
		$node->safe_psql($db, $state_snapshot));
}

my $source = snapshot('opendims');
my $source_checks = $node->safe_psql('opendims', $checks);
my $marketing_view = q{
SET ROLE marketer;
SET privacy.purpose = 'marketing';
SELECT string_agg(id::text, ',' ORDER BY id) FROM opendims.customers;
};
my $source_view = $node->safe_psql('opendims', $marketing_view);
is($source_view, '1,4,5,6', 'the marketer sees the consenting customers on the source');
like($source_checks, qr/^audit\|true\|/m, 'the source audit chain verifies')
  or diag($source_checks);
unlike($source_checks, qr/^lint\|error\|/m, 'lint() finds no error on the source');
like($source, qr/^trigger\|opendims\.invoices\|privacy_retention_guard\|/m,
	'the source has the retention guard on invoices');

my $dump = $node->basedir . '/opendims.dump';
$node->command_ok([ 'pg_dump', '-Fc', '-f', $dump, '-d', $node->connstr('opendims') ],
	'pg_dump of the sample database');

my $n = 0;
foreach my $jobs (1, 4)
{
	foreach my $precreated (0, 1)
	{
		my $db = 'restored_' . ++$n;
		my $how = ($jobs > 1 ? "pg_restore -j $jobs" : 'pg_restore')
		  . ($precreated ? ', extension created first' : ', empty database');
		$node->safe_psql('postgres', "CREATE DATABASE $db");
		$node->safe_psql($db, 'CREATE EXTENSION opendims_privacy') if $precreated;
		my ($stdout, $stderr) = run_command(
			[ 'pg_restore', '-j', $jobs, '-d', $node->connstr($db), $dump ]);

		# The schema privacy is not a member of the extension (the control
		# file names it, and CREATE EXTENSION creates it), so the dump creates
		# it, which fails harmlessly where the extension already made it.
		my @errors = grep { /error:/ } split /\n/, $stderr;
		diag("$how:\n$stderr") if grep { !/schema "privacy" already exists/ } @errors;
		if ($precreated)
		{
			is(scalar(grep { !/schema "privacy" already exists/ } @errors), 0,
				"$how: no error but the existing schema privacy")
			  or diag($stderr);
		}
		else
		{
			is(scalar(@errors), 0, "$how: no error") or diag($stderr);
		}

		my $restored = snapshot($db);
		is($restored, $source, "$how: catalog, rows, sequences, triggers, policies and labels as dumped")
		  or diag(join("\n", grep { my $l = $_; index($source, $l) < 0 } split /\n/, $restored));
		is($node->safe_psql($db, $checks), $source_checks,
			"$how: verify_audit_log(), verify_evidence() and lint() as on the source");

		# The guards work.
		my ($rc, $out, $err) = $node->psql($db,
			q{DELETE FROM opendims.invoices WHERE id = (SELECT id FROM opendims.invoices ORDER BY issued_on DESC LIMIT 1)});
		like($err, qr/before the legal minimum of retention rule/,
			"$how: the retention guard refuses to delete a recent invoice");
		is( $node->safe_psql(
				$db, q{
BEGIN;
INSERT INTO opendims.support_messages (ticket_id, sent_at, body)
VALUES (1, now(), 'Card 4111 1111 1111 1111 was charged twice') RETURNING body LIKE '%4111 1111%';
ROLLBACK;
}),
			'f',
			"$how: the sensitive-data guard redacts a card number");
		is($node->safe_psql($db, $marketing_view), $source_view,
			"$how: the row policies show the marketer the consenting customers only");
		is( $node->safe_psql(
				$db, q{
SELECT privacy.seal_audit_log() AS sealed \\gset
SELECT count(*) AS before FROM privacy.audit_log WHERE action = 'rectification' \\gset
UPDATE opendims.customers SET phone = '+45 11 22 33 44' WHERE id = 1;
SELECT privacy.seal_audit_log() AS sealed \\gset
SELECT count(*) - :before FROM privacy.audit_log WHERE action = 'rectification';
SELECT intact FROM privacy.verify_audit_log();
}),
			"1\nt",
			"$how: a rectification is audited and the chain goes on");
	}
}

# Parallel pg_restore loads the extension's configuration tables in any
# order (pg_dump orders them for a serial restore only), so the order must
# not matter: ten more restores with -j 8 into empty databases, none with an
# error, each with the catalog as dumped. (With foreign keys among those
# tables, about one in five failed.)
my $parallel_ok = 0;
foreach my $round (1 .. 10)
{
	my $db = "parallel_$round";
	$node->safe_psql('postgres', "CREATE DATABASE $db");
	my ($stdout, $stderr) = run_command([ 'pg_restore', '-j', 8, '-d', $node->connstr($db), $dump ]);
	my @errors = grep { /error:/ } split /\n/, $stderr;
	if (@errors || snapshot($db) ne $source)
	{
		diag("pg_restore -j 8, round $round:\n$stderr");
		last;
	}
	$parallel_ok++;
	$node->safe_psql('postgres', "DROP DATABASE $db");
}
is($parallel_ok, 10, 'ten parallel restores (-j 8) give back the dumped state without an error');

# Without the application's roles: the grants cannot be loaded, and lint()
# says what is missing.
$node->safe_psql(
	'opendims', q{
CREATE ROLE restore_clerk;
SELECT privacy.allow_purpose('analytics', 'restore_clerk');
});
my $dump_with_clerk = $node->basedir . '/with_clerk.dump';
$node->command_ok(
	[ 'pg_dump', '-Fc', '-f', $dump_with_clerk, '-d', $node->connstr('opendims') ],
	'pg_dump with a purpose granted to role restore_clerk');
$node->safe_psql('opendims', q{SELECT privacy.revoke_purpose('analytics', 'restore_clerk'); DROP ROLE restore_clerk;});
$node->safe_psql('postgres', 'CREATE DATABASE without_roles');
my ($stdout, $stderr) = run_command(
	[ 'pg_restore', '-d', $node->connstr('without_roles'), $dump_with_clerk ]);
like($stderr, qr/role "restore_clerk" does not exist/, 'pg_restore reports the missing role');
is( $node->safe_psql(
		'without_roles', q{
SELECT string_agg(object || ': ' || problem, E'\n' ORDER BY object, problem)
  FROM privacy.lint() WHERE severity = 'error'}),
	qq{purpose "analytics": the audit log allows it to role "restore_clerk", but privacy.purpose_grants does not hold that grant\n}
	  . qq{purpose "marketing": the audit log allows it to role "marketer", but privacy.purpose_grants does not hold that grant},
	'lint() reports every purpose grant the restore lost');
like( $node->safe_psql(
		'without_roles', q{SELECT hint FROM privacy.lint() WHERE object = 'purpose "analytics"'}),
	qr/pg_dumpall --roles-only/,
	'the hint for a missing role says to restore the roles first');

# With the role created first, restoring the grants alone clears the finding.
$node->safe_psql('postgres', 'CREATE ROLE restore_clerk');
$node->command_ok(
	[
		'pg_restore', '--data-only', '--table=purpose_grants',
		'-d', $node->connstr('without_roles'), $dump_with_clerk
	],
	'the grants restore once the role exists');
is($node->safe_psql('without_roles', q{SELECT count(*) FROM privacy.lint() WHERE severity = 'error'}),
	'0', 'lint() finds no error once the grants are restored');

# A renamed role keeps its grant (by OID), and lint() does not count it missing.
$node->safe_psql('opendims', 'ALTER ROLE marketer RENAME TO marketing_team');
is($node->safe_psql('opendims', q{SELECT count(*) FROM privacy.lint() WHERE severity = 'error'}),
	'0', 'a renamed role with its grant is no lint error');
$node->safe_psql('opendims', 'ALTER ROLE marketing_team RENAME TO marketer');

$node->stop;
done_testing();
