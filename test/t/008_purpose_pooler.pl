# The purpose behind PgBouncer in transaction mode, with one server
# connection for every client: with privacy.purpose_scope = session (the
# default) a client's SET privacy.purpose stays on the server connection and
# the next client, which declared nothing, sees what that purpose may see;
# with privacy.purpose_scope = transaction for the pooler's role, the SET is
# refused and rolled back, SET LOCAL works for its own transaction, and
# nothing passes to the next client.

use strict;
use warnings;

use File::Spec;
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my ($pgbouncer) =
  grep { -x $_ } map { "$_/pgbouncer" } (split(/:/, $ENV{PATH}), '/usr/sbin', '/usr/bin');
die "pgbouncer is not installed (Debian package pgbouncer)" unless $pgbouncer;

my $node = PostgreSQL::Test::Cluster->new('pooler');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'opendims_privacy'");
$node->start;

$node->safe_psql(
	'postgres', q{
SET client_min_messages = warning;
CREATE EXTENSION opendims_privacy;
CREATE SCHEMA shop;
CREATE TABLE shop.customers (id bigint PRIMARY KEY, name text NOT NULL);
INSERT INTO shop.customers SELECT g, 'Customer ' || g FROM generate_series(1, 6) g;
SELECT privacy.apply_policy(jsonb_build_object(
	'format', 1, 'version', 'pool-1', 'effective_date', '2026-06-24',
	'controller', jsonb_build_object('name', 'A', 'contact', 'a@example.com'),
	'purposes', jsonb_build_array(jsonb_build_object('name', 'marketing', 'legal_basis', 'consent')),
	'subject_kinds', jsonb_build_array(
		jsonb_build_object('name', 'customer', 'table', 'shop.customers', 'key', 'id')),
	'classifications', jsonb_build_array(
		jsonb_build_object('table', 'shop.customers', 'column', 'name', 'category', 'contact.name')))::text);
SELECT privacy.protect('shop.customers');
SELECT privacy.grant_consent('customer', g::text, 'marketing') FROM generate_series(1, 4) g;
CREATE ROLE mailer LOGIN;
GRANT USAGE ON SCHEMA shop TO mailer;
GRANT SELECT ON shop.customers TO mailer;
SELECT privacy.allow_purpose('marketing', 'mailer');
});

# PgBouncer on a Unix socket of its own, in transaction mode, with a pool of
# one server connection, so that consecutive clients share it.
my $dir = PostgreSQL::Test::Utils::tempdir_short;
my $port = PostgreSQL::Test::Cluster::get_free_port();
my $ini = File::Spec->catfile($dir, 'pgbouncer.ini');
PostgreSQL::Test::Utils::append_to_file("$dir/users.txt", qq{"mailer" ""\n});
PostgreSQL::Test::Utils::append_to_file(
	$ini, qq{[databases]
shop = host=@{[$node->host]} port=@{[$node->port]} dbname=postgres

[pgbouncer]
listen_addr =
listen_port = $port
unix_socket_dir = $dir
auth_type = trust
auth_file = $dir/users.txt
pool_mode = transaction
default_pool_size = 1
max_client_conn = 10
logfile = $dir/pgbouncer.log
pidfile = $dir/pgbouncer.pid
});
system($pgbouncer, '-d', $ini) == 0 or die "pgbouncer did not start";
END { kill 'TERM', PostgreSQL::Test::Utils::slurp_file("$dir/pgbouncer.pid") if $dir && -f "$dir/pgbouncer.pid"; }

# client SQL: one client connection through PgBouncer as mailer; returns
# (stdout, stderr).
sub client
{
	my ($sql) = @_;
	my ($out, $err) = ('', '');
	IPC::Run::run [ 'psql', '-X', '-q', '-A', '-t', '-h', $dir, '-p', $port, '-U', 'mailer',
		'-d', 'shop', '-c', $sql ], '>', \$out, '2>', \$err;
	chomp $out;
	return ($out, $err);
}

# The pooler's server connections end, so the next client gets a new one
# that reads the role's settings again.
sub drop_server_connections
{
	$node->safe_psql('postgres',
		"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = 'mailer'");
	$node->poll_query_until('postgres',
		"SELECT count(*) = 0 FROM pg_stat_activity WHERE usename = 'mailer'");
}

# privacy.purpose_scope = session: the leak the setting exists for.
my ($out, $err) = client("SET privacy.purpose = 'marketing'; SELECT pg_backend_pid()");
my $first_pid = $out;
is($err, '', 'scope session: a client sets its purpose for the session');
($out, $err) = client("SELECT pg_backend_pid() || ' ' || count(*) FROM shop.customers");
is($out, "$first_pid 4",
	'scope session: the next client, on the same server connection, inherits it and sees the 4 consenting customers');

$node->safe_psql('postgres', 'ALTER ROLE mailer SET privacy.purpose_scope = transaction');
drop_server_connections();

# privacy.purpose_scope = transaction for the pooler's role.
($out, $err) = client("SELECT current_setting('privacy.purpose_scope') || ' ' || pg_backend_pid()");
like($out, qr/^transaction \d+$/, 'scope transaction: the new server connection has the role\'s setting');
my ($scope, $pid) = split / /, $out;
($out, $err) = client("SET privacy.purpose = 'marketing'");
like($err, qr/ERROR:  cannot set privacy.purpose for the session/,
	'scope transaction: a session-level SET is refused');
($out, $err) = client("SELECT set_config('privacy.purpose', 'marketing', false)");
like($err, qr/ERROR:  cannot set privacy.purpose for the session/,
	'scope transaction: set_config(..., false) is refused');
($out, $err) = client(
	"SELECT pg_backend_pid() || ' ' || count(*) || ' [' || current_setting('privacy.purpose') || ']' FROM shop.customers");
is($out, "$pid 0 []",
	'scope transaction: the next client, on the same server connection, has no purpose and sees nothing');
($out, $err) = client(
	"BEGIN; SET LOCAL privacy.purpose = 'marketing'; SELECT count(*) FROM shop.customers; COMMIT");
is($out, "4", 'scope transaction: SET LOCAL in a transaction is honoured') or diag($err);
($out, $err) = client("SELECT pg_backend_pid() || ' ' || count(*) FROM shop.customers");
is($out, "$pid 0", 'scope transaction: after SET LOCAL, the next client sees nothing');

# The role cannot lift the setting from behind the pooler.
($out, $err) = client("SET privacy.purpose_scope = session");
like($err, qr/permission denied to set parameter "privacy.purpose_scope"/,
	'scope transaction: the role cannot lower the scope');

$node->stop;
done_testing();
