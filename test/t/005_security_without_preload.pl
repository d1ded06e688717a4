# The attacks on the extension without the library preloaded: the
# regression tests of its security (operators and types planted for what the
# extension runs on someone's behalf and for its install and update
# scripts, internal functions and forged evidence, hidden subjects reached
# through path tables or missed by the row check's fast evaluation, locks
# an outsider could hold, subject keys and erased values, weakened
# protection, the tables a policy may name) run
# against a server whose shared_preload_libraries does not name the
# extension, so that the library is loaded by the first call of one of its
# functions in each session. They must give exactly the output they give
# with the library preloaded.

use strict;
use warnings;

use File::Spec;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

# The project's top directory: sql/, expected/ and test/fixtures/.
my $top = File::Spec->rel2abs(File::Spec->catdir($ENV{TESTDIR}, '..'));

my $node = PostgreSQL::Test::Cluster->new('unpreloaded');
$node->init;
$node->start;

is($node->safe_psql('postgres', 'SHOW shared_preload_libraries'),
	'', 'the library is not preloaded');
$node->safe_psql('postgres', 'CREATE DATABASE regress_unpreloaded');

my @security_tests = qw(
  adversarial owner_search_path install_hijack internal_privileges evidence
  path_protection row_security_limits lock_denial subject_keys error_messages
  erasure_statistics lint_installed_protection policy_tables
  retention_far_future child_protection write_refusal nullable_path
  unsubscribe_replay request_fulfilment nested_personal_types
  erasure_table_owner row_check_filter);

# pg_regress runs psql from the top directory, where the tests find their
# fixtures.
my $outdir = PostgreSQL::Test::Utils::tempdir;
chdir $top or die "could not change to $top: $!";
my $rc = system($ENV{PG_REGRESS},
	"--inputdir=$top", "--outputdir=$outdir",
	'--use-existing', '--dbname=regress_unpreloaded',
	'--host=' . $node->host, '--port=' . $node->port,
	@security_tests);
if ($rc != 0 && -f "$outdir/regression.diffs")
{
	diag(slurp_file("$outdir/regression.diffs"));
}
is($rc, 0, 'the security regression tests give the same output without preloading');

is($node->safe_psql('regress_unpreloaded',
		"SELECT count(*) FROM pg_roles WHERE rolsuper AND rolname <> current_user"),
	'0', 'no other role is superuser');

$node->stop;
done_testing();
