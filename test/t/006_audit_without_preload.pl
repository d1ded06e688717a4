# Audit entries sealed at commit, on a server that does not preload the
# library. Without the library preloaded no sealer's worker runs, so a
# committing transaction that wrote entries seals the committed backlog
# itself, under the chain's head lock, as releases before 2.0 did: nothing
# waits in privacy._audit_unsealed after a commit. (On a server that preloads the
# library the worker seals: test/t/007_audit_sealer.pl.) The library (test/isolation/audit_append_at_commit.spec shows the same with
# preloading): the library is loaded by a session's first call of one of
# its functions, and its transaction callbacks are registered then, so the
# entries of that very transaction are appended when it commits. An
# application role's open transaction after an update of a protected table
# (which writes a rectification entry) blocks no withdrawal.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('audit');
$node->init;
$node->start;

is($node->safe_psql('postgres', 'SHOW shared_preload_libraries'),
	'', 'the library is not preloaded');

$node->safe_psql(
	'postgres', q{
SET client_min_messages = warning;
CREATE EXTENSION opendims_privacy CASCADE;
CREATE SCHEMA iso;
CREATE TABLE iso.customers (id bigint PRIMARY KEY, name text NOT NULL);
INSERT INTO iso.customers SELECT g, 'Customer ' || g FROM generate_series(1, 13) g;
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
SELECT privacy.grant_consent('customer', '13', 'marketing');
CREATE ROLE iso_app;
GRANT USAGE ON SCHEMA iso TO iso_app;
GRANT SELECT, UPDATE ON iso.customers TO iso_app;
SELECT privacy.allow_purpose('service', 'iso_app');
});

# A new session's first audited transaction: the library is loaded within it.
is( $node->safe_psql(
		'postgres', q{
BEGIN;
DO $$ BEGIN PERFORM privacy_internal._audit(current_user, 'test.first_use', NULL, NULL, NULL, NULL); END $$;
COMMIT;
SELECT count(*) FROM privacy.audit_log WHERE action = 'test.first_use';
}),
	'1',
	'the entry of the transaction that loaded the library is sealed at its commit');

my $app = $node->background_psql('postgres', on_error_stop => 1);
$app->query_safe("SET ROLE iso_app; SET privacy.purpose = 'service'; BEGIN");
$app->query_safe("UPDATE iso.customers SET name = 'Changed' WHERE id = 12");

is( $node->safe_psql(
		'postgres', q{
SET lock_timeout = '2s';
SELECT privacy.withdraw_consent('customer', '13', 'marketing') > 0;
}),
	't',
	'a withdrawal goes through beside the open rectification transaction');

$app->query_safe('COMMIT');
$app->quit;

is( $node->safe_psql(
		'postgres', q{
SELECT string_agg(action, ',' ORDER BY id) FROM privacy.audit_log
 WHERE action IN ('consent.withdraw', 'rectification');
SELECT intact FROM privacy.verify_audit_log();
}),
	"consent.withdraw,rectification\nt",
	'both entries are in the chain, in commit order, and the chain is intact');

is( $node->safe_psql(
		'postgres', q{
SELECT entries FROM privacy.audit_backlog;
SELECT unsealed FROM privacy.verify_audit_log();
}),
	"0\n0",
	'nothing waits to be sealed after the commits');

# A rectification of several rows with a savepoint rolled back: the
# committing transaction seals what it kept, and only that.
$node->safe_psql(
	'postgres', q{
BEGIN;
UPDATE iso.customers SET name = name || '!' WHERE id IN (1, 2, 3);
SAVEPOINT s;
UPDATE iso.customers SET name = 'gone' WHERE id = 4;
ROLLBACK TO SAVEPOINT s;
COMMIT;
});
is( $node->safe_psql(
		'postgres', q{
SELECT count(*) FROM privacy.audit_log WHERE action = 'rectification';
SELECT entries FROM privacy.audit_backlog;
SELECT intact FROM privacy.verify_audit_log();
}),
	"4\n0\nt",
	'three more rectifications sealed at commit, none of the rolled-back savepoint');
is($node->safe_psql('postgres', 'SELECT privacy.seal_audit_log()'),
	'0', 'privacy.seal_audit_log() finds nothing left to seal');

$node->stop;
done_testing();
