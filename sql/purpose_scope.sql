-- privacy.purpose_scope = transaction: behind a transaction-pooling
-- connection pooler, a purpose must be declared for the transaction (SET
-- LOCAL, set_config(..., true), a function's SET clause); one set for the
-- session is refused when it is set and when it is used, and the role
-- cannot lower the setting. test/t/007_purpose_pooler.pl shows the same
-- through a real PgBouncer.
SET client_min_messages = warning;
CREATE EXTENSION opendims_privacy CASCADE;
RESET client_min_messages;
\set SHOW_CONTEXT never
SELECT current_user AS superuser \gset

CREATE SCHEMA scope;
CREATE TABLE scope.customers (id bigint PRIMARY KEY, name text NOT NULL);
INSERT INTO scope.customers SELECT g, 'Customer ' || g FROM generate_series(1, 6) g;
SELECT privacy.apply_policy(jsonb_build_object(
	'format', 1, 'version', 'scope-1', 'effective_date', '2026-06-24',
	'controller', jsonb_build_object('name', 'Example ApS', 'contact', 'privacy@example.com'),
	'purposes', jsonb_build_array(
		jsonb_build_object('name', 'service', 'legal_basis', 'contract'),
		jsonb_build_object('name', 'marketing', 'legal_basis', 'consent')),
	'subject_kinds', jsonb_build_array(
		jsonb_build_object('name', 'customer', 'table', 'scope.customers', 'key', 'id')),
	'classifications', jsonb_build_array(
		jsonb_build_object('table', 'scope.customers', 'column', 'name', 'category', 'contact.name')))::text)
	->> 'changed' AS applied;
SELECT privacy.protect('scope.customers');
SELECT count(*) AS consents FROM (
	SELECT privacy.grant_consent('customer', g::text, 'marketing') FROM generate_series(1, 4) g) c;

CREATE ROLE scope_mailer LOGIN;
CREATE ROLE scope_other LOGIN;
GRANT USAGE ON SCHEMA scope TO scope_mailer, scope_other;
GRANT SELECT ON scope.customers TO scope_mailer, scope_other;
SELECT privacy.allow_purpose('marketing', 'scope_mailer');
SELECT privacy.allow_purpose('service', 'scope_mailer');

-- A function that lends its owner's purpose with a SET clause, and one
-- whose body sets the purpose for the session (which outlives the call).
CREATE FUNCTION scope.count_for_marketing() RETURNS bigint
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
SET privacy.purpose = 'marketing'
AS $$ SELECT count(*) FROM scope.customers $$;
ALTER FUNCTION scope.count_for_marketing() OWNER TO scope_mailer;
CREATE FUNCTION scope.set_for_session() RETURNS text
LANGUAGE sql SET privacy.purpose = 'service'
AS $$ SELECT set_config('privacy.purpose', 'marketing', false) $$;
GRANT EXECUTE ON FUNCTION scope.count_for_marketing(), scope.set_for_session() TO scope_mailer, scope_other;

-- The default is "session": a SET lasts for the session.
SHOW privacy.purpose_scope;
SET ROLE scope_mailer;
SET privacy.purpose = 'marketing';
SELECT count(*) AS session_set_sees FROM scope.customers;
RESET privacy.purpose;

-- Only a superuser sets the scope: the role cannot lower it, by SET, RESET,
-- set_config, or its own session defaults.
SET privacy.purpose_scope = session;
SELECT set_config('privacy.purpose_scope', 'session', false);
ALTER ROLE scope_mailer SET privacy.purpose_scope = session;
RESET ROLE;
ALTER ROLE scope_mailer SET privacy.purpose_scope = transaction;
SET privacy.purpose_scope = sometimes;

-- A fresh session of the role: its scope is "transaction".
\c - scope_mailer
\set SHOW_CONTEXT never
SHOW privacy.purpose_scope;
RESET privacy.purpose_scope;
SET privacy.purpose_scope = session;
CREATE FUNCTION pg_temp.lower_scope() RETURNS int LANGUAGE sql
SET privacy.purpose_scope = session AS $$ SELECT 1 $$;

-- A session-level SET or set_config() is refused when its transaction
-- commits, and rolled back with it.
SET privacy.purpose = 'marketing';
SELECT current_setting('privacy.purpose') AS purpose_after_refused_set;
SELECT set_config('privacy.purpose', 'marketing', false);
SELECT current_setting('privacy.purpose') AS purpose_after_refused_set_config;
SELECT count(*) AS without_purpose FROM scope.customers;

-- Inside a transaction it is refused at use, and again at COMMIT.
BEGIN;
SET privacy.purpose = 'marketing';
SELECT count(*) FROM scope.customers;
ROLLBACK;
BEGIN;
SET privacy.purpose = 'marketing';
SELECT privacy.current_purpose();
ROLLBACK;
BEGIN;
SET privacy.purpose = 'marketing';
COMMIT;
SELECT current_setting('privacy.purpose') AS purpose_after_refused_commit;

-- SET LOCAL and set_config(..., true) are honoured for their transaction,
-- and nothing is left for the next one.
BEGIN;
SET LOCAL privacy.purpose = 'marketing';
SELECT count(*) AS set_local_sees FROM scope.customers;
COMMIT;
SELECT current_setting('privacy.purpose') AS purpose_after_commit,
	   count(*) AS next_transaction_sees FROM scope.customers;
BEGIN;
SELECT set_config('privacy.purpose', 'marketing', true) IS NOT NULL AS declared;
SELECT count(*) AS set_config_local_sees, privacy.current_purpose() FROM scope.customers;
COMMIT;

-- A SET LOCAL inside a savepoint, released or rolled back, is still the
-- transaction's own.
BEGIN;
SAVEPOINT s;
SET LOCAL privacy.purpose = 'marketing';
RELEASE SAVEPOINT s;
SELECT count(*) AS after_release_sees FROM scope.customers;
COMMIT;

-- A session SET followed by SET LOCAL: the LOCAL value is in force and may
-- be used, but the SET underneath would outlive the transaction.
BEGIN;
SET privacy.purpose = 'service';
SET LOCAL privacy.purpose = 'marketing';
SELECT count(*) AS local_over_set_sees FROM scope.customers;
COMMIT;
SELECT current_setting('privacy.purpose') AS purpose_after_refused_masked_set;

-- SET LOCAL followed by a plain SET in the same transaction: refused.
BEGIN;
SET LOCAL privacy.purpose = 'marketing';
SET privacy.purpose = 'marketing';
SELECT count(*) FROM scope.customers;
ROLLBACK;

-- Clearing the purpose for the session is always allowed.
SET privacy.purpose = '';
RESET privacy.purpose;

-- A function's SET clause lasts for the call: honoured. A set_config(...,
-- false) inside such a function outlives the call: refused at commit.
SELECT scope.count_for_marketing() AS lent_purpose_sees;
SELECT scope.set_for_session();
SELECT current_setting('privacy.purpose') AS purpose_after_function;

-- A purpose from the role's own session defaults outlives every
-- transaction: refused when used, and a SET LOCAL in a transaction still
-- works.
ALTER ROLE scope_mailer SET privacy.purpose = 'marketing';
\c - scope_mailer
\set SHOW_CONTEXT never
SHOW privacy.purpose;
SELECT count(*) FROM scope.customers;
-- A parallel plan is checked before its workers start (they receive the
-- value without its scope), even if the leader reads no row itself.
SET parallel_leader_participation = off;
SET force_parallel_mode = on;
EXPLAIN (COSTS OFF) SELECT count(*) FROM scope.customers;
SELECT count(*) FROM scope.customers;
BEGIN;
SET LOCAL privacy.purpose = 'marketing';
SELECT count(*) AS set_local_sees FROM scope.customers;
COMMIT;
RESET force_parallel_mode;
RESET parallel_leader_participation;
-- RESET to that value changes nothing and commits.
RESET privacy.purpose;
ALTER ROLE scope_mailer RESET privacy.purpose;

-- Per database, by a superuser; a role with no setting of its own gets it.
\c - :superuser
\set SHOW_CONTEXT never
ALTER ROLE scope_mailer RESET ALL;
SELECT current_database() AS db \gset
ALTER DATABASE :"db" SET privacy.purpose_scope = transaction;
\c - scope_mailer
\set SHOW_CONTEXT never
SHOW privacy.purpose_scope;
SET privacy.purpose = 'marketing';
\c - :superuser
ALTER DATABASE :"db" RESET privacy.purpose_scope;

-- A superuser's session may keep session scope (superusers set it).
SET privacy.purpose_scope = transaction;
SET privacy.purpose = 'marketing';
SET privacy.purpose_scope = session;
SET privacy.purpose = 'marketing';
RESET privacy.purpose;

DROP FUNCTION scope.count_for_marketing(), scope.set_for_session();
DROP SCHEMA scope CASCADE;
SET client_min_messages = warning;
DROP EXTENSION opendims_privacy;
RESET client_min_messages;
DROP OWNED BY scope_mailer, scope_other;
DROP ROLE scope_mailer, scope_other;
