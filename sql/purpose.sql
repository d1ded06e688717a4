-- Purpose-bound sessions: a role declares the purpose it processes personal
-- data for, and can only declare a purpose it was allowed, by no route.
--
-- This file has two expected outputs: purpose.out with the library in
-- shared_preload_libraries (make test), purpose_1.out without it, where a
-- setting made before the library is loaded is a placeholder that nothing
-- checked when it was set.
SET client_min_messages = warning;
CREATE EXTENSION opendims_privacy CASCADE;
RESET client_min_messages;
\set SHOW_CONTEXT never
SELECT current_user AS superuser \gset

CREATE SCHEMA crm;
CREATE TABLE crm.customers (id bigint PRIMARY KEY, name text NOT NULL);
INSERT INTO crm.customers SELECT g, 'Customer ' || g FROM generate_series(1, 4) g;
SELECT privacy.apply_policy(jsonb_build_object(
	'format', 1, 'version', 'crm-1', 'effective_date', '2026-06-24',
	'controller', jsonb_build_object('name', 'Example ApS', 'contact', 'privacy@example.com'),
	'purposes', jsonb_build_array(
		jsonb_build_object('name', 'service', 'legal_basis', 'contract'),
		jsonb_build_object('name', 'marketing', 'legal_basis', 'consent'),
		jsonb_build_object('name', 'analytics', 'legal_basis', 'legitimate_interest')),
	'subject_kinds', jsonb_build_array(
		jsonb_build_object('name', 'customer', 'table', 'crm.customers', 'key', 'id')),
	'classifications', jsonb_build_array(
		jsonb_build_object('table', 'crm.customers', 'column', 'name', 'category', 'contact.name')))::text)
	->> 'changed' AS applied;
SELECT privacy.protect('crm.customers');
SELECT privacy.grant_consent('customer', g::text, 'marketing') FROM generate_series(1, 2) g;
SELECT privacy.object('customer', '3', 'analytics');

CREATE ROLE purpose_marketer LOGIN;
CREATE ROLE purpose_clerk LOGIN;
CREATE ROLE purpose_team;
GRANT purpose_team TO purpose_clerk;
GRANT USAGE ON SCHEMA crm TO purpose_marketer, purpose_clerk, purpose_team;
GRANT SELECT ON crm.customers TO purpose_marketer, purpose_clerk, purpose_team;

-- Allowing purposes: superusers only (or whom they grant the functions).
SELECT privacy.allow_purpose('marketing', 'purpose_marketer');
SELECT privacy.allow_purpose('analytics', 'purpose_team');
SELECT privacy.allow_purpose('marketing', 'purpose_marketer');
SELECT privacy.allow_purpose('newsletter', 'purpose_marketer');
SELECT privacy.allow_purpose('marketing', NULL);
SELECT privacy.allow_purpose('marketing', 'no_such_role');
SELECT privacy.revoke_purpose('service', 'purpose_marketer');
SELECT purpose, role, granted_by = current_user AS by_me FROM privacy.purpose_grants ORDER BY 1, 2;
SELECT privacy.seal_audit_log() AS sealed \gset
SELECT action, summary FROM privacy.audit_log WHERE action LIKE 'purpose.%' ORDER BY id;
SET ROLE purpose_clerk;
SELECT privacy.allow_purpose('marketing', 'purpose_clerk');
INSERT INTO privacy.purpose_grants (purpose, role, granted_by) VALUES ('marketing', 'purpose_clerk', 'me');
SELECT count(*) AS grants_visible FROM privacy.purpose_grants;
RESET ROLE;

-- A fresh session of a role that was not allowed "analytics". With the
-- library preloaded the SET fails at once; without it, the value is a
-- placeholder until the first use loads the library, and it fails there.
\c - purpose_marketer
\set SHOW_CONTEXT never
SET privacy.purpose = 'analytics';
SELECT count(*) AS rows_seen FROM crm.customers;
RESET privacy.purpose;
-- The same through a SECURITY DEFINER function of a role allowed the
-- purpose: the definer's rights do not lend it to the caller.
\c - :superuser
CREATE FUNCTION crm.team_count() RETURNS bigint LANGUAGE sql SECURITY DEFINER
	SET search_path = pg_catalog AS 'SELECT count(*) FROM crm.customers';
ALTER FUNCTION crm.team_count() OWNER TO purpose_team;
GRANT EXECUTE ON FUNCTION crm.team_count() TO purpose_marketer;
\c - purpose_marketer
\set SHOW_CONTEXT never
SET privacy.purpose = 'analytics';
SELECT crm.team_count() AS rows_seen_by_definer;
-- A placeholder for the superuser-only default purpose, set by an ordinary
-- role, is discarded when the library is loaded (or refused outright).
\c - purpose_marketer
\set SHOW_CONTEXT never
SET privacy.default_purpose = 'service';
SELECT count(*) AS rows_seen FROM crm.customers;
SELECT current_setting('privacy.default_purpose') AS default_purpose;
-- LOAD after a placeholder SET: the value set before is checked at use.
\c - :superuser
\set SHOW_CONTEXT never
SET ROLE purpose_marketer;
SET privacy.purpose = 'analytics';
RESET ROLE;
LOAD 'opendims_privacy';
SET ROLE purpose_marketer;
SELECT count(*) AS rows_seen FROM crm.customers;
RESET ROLE;
RESET privacy.purpose;

-- An allowed role declares its purpose and sees what it may process.
SET ROLE purpose_marketer;
SELECT privacy.current_purpose() AS no_purpose_yet;
SELECT count(*) AS rows_without_purpose FROM crm.customers;
SET privacy.purpose = 'marketing';
SELECT privacy.current_purpose();
SELECT id FROM crm.customers ORDER BY id;
RESET privacy.purpose;
-- For one transaction only (pooled connections).
BEGIN;
SET LOCAL privacy.purpose = 'marketing';
SELECT count(*) AS rows_in_transaction FROM crm.customers;
COMMIT;
SELECT privacy.current_purpose() AS after_commit;
SET privacy.purpose = 'newsletter';
-- Members inherit the purposes of their roles.
RESET ROLE;
SET ROLE purpose_clerk;
SET privacy.purpose = 'analytics';
SELECT id FROM crm.customers ORDER BY id;
RESET privacy.purpose;

-- Escalation routes for a role that was not allowed "analytics".
SET ROLE purpose_marketer;
-- SET
SET privacy.purpose = 'analytics';
-- set_config(), for the session and for the transaction
SELECT set_config('privacy.purpose', 'analytics', false);
SELECT set_config('privacy.purpose', 'analytics', true);
-- a function's SET clause
RESET ROLE;
CREATE FUNCTION crm.analytics_count() RETURNS bigint LANGUAGE sql
	SET privacy.purpose = 'analytics' AS 'SELECT count(*) FROM crm.customers';
SET ROLE purpose_marketer;
SELECT crm.analytics_count();
-- A SECURITY DEFINER function with that SET clause, owned by a role allowed
-- the purpose, is how a purpose is lent on purpose: it works inside ...
RESET ROLE;
ALTER FUNCTION crm.analytics_count() SECURITY DEFINER;
ALTER FUNCTION crm.analytics_count() OWNER TO purpose_team;
SET ROLE purpose_marketer;
SELECT crm.analytics_count();
SELECT privacy.current_purpose() AS purpose_after_call;
-- ... but a purpose such a function leaves behind is not the caller's.
RESET ROLE;
CREATE FUNCTION crm.leave_analytics() RETURNS text LANGUAGE sql SECURITY DEFINER
	SET search_path = pg_catalog AS $$SELECT set_config('privacy.purpose', 'analytics', false)$$;
ALTER FUNCTION crm.leave_analytics() OWNER TO purpose_team;
SET ROLE purpose_marketer;
SELECT crm.leave_analytics();
SELECT count(*) FROM crm.customers;
SELECT privacy.current_purpose();
RESET privacy.purpose;
-- SET ROLE after SET privacy.purpose: the purpose is checked against the
-- role in force when the data is read.
RESET ROLE;
SET privacy.purpose = 'analytics';
SET ROLE purpose_marketer;
SELECT count(*) FROM crm.customers;
RESET ROLE;
RESET privacy.purpose;
-- A purpose that is revoked stops working at the next statement, and
-- RESET brings back only what was there before.
SET ROLE purpose_marketer;
SET privacy.purpose = 'marketing';
SELECT count(*) AS rows_before_revoke FROM crm.customers;
RESET ROLE;
SELECT privacy.revoke_purpose('marketing', 'purpose_marketer');
SET ROLE purpose_marketer;
SELECT count(*) FROM crm.customers;
RESET privacy.purpose;
SELECT count(*) AS rows_after_reset FROM crm.customers;
RESET ROLE;
SELECT privacy.allow_purpose('marketing', 'purpose_marketer');
-- ALTER ROLE ... SET by the role itself is accepted as a setting (refused
-- outright where the library is not loaded), but at login the value is
-- checked and dropped.
\c - purpose_clerk
\set SHOW_CONTEXT never
ALTER ROLE purpose_clerk SET privacy.purpose = 'marketing';
\c - purpose_clerk
\set SHOW_CONTEXT never
SELECT current_setting('privacy.purpose') AS purpose_at_login;
SELECT count(*) AS rows_seen FROM crm.customers;
ALTER ROLE purpose_clerk RESET privacy.purpose;
-- Set by a superuser for a role that is allowed the purpose, it works.
\c - :superuser
ALTER ROLE purpose_marketer SET privacy.purpose = 'marketing';
\c - purpose_marketer
\set SHOW_CONTEXT never
SELECT privacy.current_purpose() AS purpose_at_login;
\c - :superuser
\set SHOW_CONTEXT never
ALTER ROLE purpose_marketer RESET privacy.purpose;

-- The default purpose: superuser-only, and only a contract purpose.
SET ROLE purpose_marketer;
SET privacy.default_purpose = 'service';
RESET ROLE;
SET privacy.default_purpose = 'marketing';
SET privacy.default_purpose = 'newsletter';
SET privacy.default_purpose = 'service';
SET ROLE purpose_marketer;
SELECT privacy.current_purpose() AS assumed;
SELECT id FROM crm.customers ORDER BY id;
-- A declared purpose takes precedence.
SET privacy.purpose = 'marketing';
SELECT privacy.current_purpose() AS declared;
RESET privacy.purpose;
RESET ROLE;
RESET privacy.default_purpose;

-- A setting longer than any purpose name.
SET privacy.purpose = 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa';

SET client_min_messages = warning;
DROP SCHEMA crm CASCADE;
DROP EXTENSION opendims_privacy CASCADE;
DROP ROLE purpose_clerk;
DROP OWNED BY purpose_team;
DROP ROLE purpose_team;
DROP ROLE purpose_marketer;
