-- What the extension runs on someone's behalf cannot be redirected through
-- the caller's search_path: operators planted in a schema the caller puts
-- before pg_catalog, and types planted in pg_temp (searched first for types
-- unless named), never run, neither as the extension's owner (key lookup,
-- audit entries, the policy loader, the retention guard) nor as the caller
-- where the statement's result decides what is protected (security labels,
-- discovery, the guard's own checks). Every attack is made by an ordinary
-- role; afterwards no planted function has run and no role became superuser.
SET client_min_messages = warning;
CREATE EXTENSION opendims_privacy CASCADE;
RESET client_min_messages;
\set SHOW_CONTEXT never
\i test/fixtures/shop_schema.sql
\set doc `cat test/fixtures/shop-policy.json`
SELECT (privacy.apply_policy(:'doc') ->> 'changed')::boolean AS applied;
\i test/fixtures/shop_data.sql

-- The application role: rights on the personal tables and a schema of its
-- own; the policy role: granted apply_policy and nothing else.
CREATE ROLE osp_app;
CREATE ROLE osp_dba;
CREATE SCHEMA osp AUTHORIZATION osp_app;
GRANT USAGE ON SCHEMA osp TO PUBLIC;
GRANT USAGE ON SCHEMA shop TO osp_app, osp_dba;
GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON ALL TABLES IN SCHEMA shop TO osp_app;
GRANT EXECUTE ON FUNCTION privacy.apply_policy(text) TO osp_dba;
GRANT EXECUTE ON FUNCTION privacy.pseudonymize(privacy.email) TO osp_app;
CREATE TABLE shop.notes (id integer PRIMARY KEY, body text);
SELECT privacy.guard('shop.notes', ARRAY['body'], 'redact');
GRANT INSERT ON shop.notes TO osp_app;

-- The planted code (see the fixture), and operators for the type pairs of
-- the statements attacked below, each giving the right answer but for
-- >(date, date), which says no date is later than another (no row under a
-- retention minimum).
SET ROLE osp_app;
\set planted_schema osp
\set ECHO none
\i test/fixtures/planted_code.sql
\set ECHO all
SELECT pg_catalog.count(osp.plant_operator(oprname, lefttype, righttype, answer)) AS planted
  FROM (VALUES
	('=', 'text', 'text', 'a OPERATOR(pg_catalog.=) b'),
	('=', 'name', 'name', 'a OPERATOR(pg_catalog.=) b'),
	('=', 'oid', 'oid', 'a OPERATOR(pg_catalog.=) b'),
	('=', 'oid', 'regprocedure', 'a OPERATOR(pg_catalog.=) b'),
	('>', 'smallint', 'integer', 'a OPERATOR(pg_catalog.>) b'),
	('>', 'date', 'date', 'false')) AS v(oprname, lefttype, righttype, answer);
RESET ROLE;

-- 1. The key behind pseudonymize() is read as the owner, with = planted.
SET ROLE osp_app;
SET search_path = osp, pg_catalog, public;
SELECT pg_catalog.length(privacy.pseudonymize('jens@example.dk'::privacy.email)::pg_catalog.text)
	OPERATOR(pg_catalog.>) 0 AS pseudonymized;
RESET search_path;
RESET ROLE;

-- 2. The policy loader runs as the owner; a role granted apply_policy plants
-- a jsonb and a name in pg_temp, and operators in a schema it puts first.
SET ROLE osp_dba;
CREATE DOMAIN pg_temp.jsonb AS pg_catalog.jsonb CHECK (osp.trap('jsonb'));
CREATE DOMAIN pg_temp.name AS pg_catalog.name CHECK (osp.trap('name'));
SET search_path = osp, pg_catalog, public;
SELECT (privacy.apply_policy(privacy.policy()::pg_catalog.text) OPERATOR(pg_catalog.->>) 'changed') AS changed;
RESET search_path;
DROP DOMAIN pg_temp.jsonb, pg_temp.name;
RESET ROLE;

-- 3. The guard in redact mode writes its audit entry as the owner; the role
-- that inserts plants a jsonb in pg_temp.
SET ROLE osp_app;
CREATE DOMAIN pg_temp.jsonb AS pg_catalog.jsonb CHECK (osp.trap('jsonb'));
CREATE DOMAIN pg_temp.name AS pg_catalog.name CHECK (osp.trap('name'));
SET search_path = osp, pg_catalog, public;
INSERT INTO shop.notes VALUES (1, 'CPR 010190-1234');
RESET search_path;
DROP DOMAIN pg_temp.jsonb, pg_temp.name;
RESET ROLE;
SELECT body FROM shop.notes;
SELECT privacy.seal_audit_log() AS sealed \gset
SELECT summary ->> 'category' AS category FROM privacy.audit_log
 WHERE action = 'guard.redact' ORDER BY id;

-- 4. The retention guard's TRUNCATE check reads the table as the owner; the
-- anchor is a date, planted both as a type in pg_temp and with >.
SET ROLE osp_app;
CREATE DOMAIN pg_temp.date AS pg_catalog.date CHECK (osp.trap('date'));
SET search_path = osp, pg_catalog, public;
TRUNCATE shop.invoices CASCADE;
RESET search_path;
DROP DOMAIN pg_temp.date;
RESET ROLE;
SELECT count(*) AS invoices_kept FROM shop.invoices;

-- 5. A security label is checked against the categories as the caller, and
-- the check's result decides whether a special category is refused.
SET ROLE osp_app;
CREATE TABLE osp.profile (note text);
SET search_path = osp, pg_catalog, public;
SECURITY LABEL FOR privacy ON COLUMN osp.profile.note IS 'health';
SECURITY LABEL FOR privacy ON COLUMN osp.profile.note IS 'commerce';
RESET search_path;
RESET ROLE;

-- 6. Discovery and the guard's own catalog checks, as the caller.
GRANT EXECUTE ON FUNCTION privacy.discover(integer), privacy.guard(regclass, text[], text),
	privacy.unguard(regclass) TO osp_app;
SET ROLE osp_app;
CREATE TABLE osp.leads (contact text);
INSERT INTO osp.leads VALUES ('mail anna@firma.dk');
SET search_path = osp, pg_catalog, public;
SELECT table_name, column_name, suspected_category FROM privacy.discover(10)
 WHERE table_name OPERATOR(pg_catalog.=) 'osp.leads'::pg_catalog.regclass;
SELECT privacy.guard('osp.profile', ARRAY['note'], 'reject');
SELECT privacy.unguard('osp.profile');
RESET search_path;
RESET ROLE;

-- 7. The retention job runs as the calling role, under its search_path (the
-- users' triggers run as for any statement of theirs); the statements it
-- builds name only pg_catalog's types and operators, even for a caller
-- whose search_path lists the application's schema first, where a date
-- type has been planted.
SET ROLE osp_app;
CREATE DOMAIN osp.date AS pg_catalog.date CHECK (osp.trap('osp.date'));
RESET ROLE;
SET client_min_messages = warning;
SET search_path = osp, pg_catalog, public;
CALL privacy.enforce_retention();
RESET search_path;
RESET client_min_messages;
SELECT id FROM shop.invoices ORDER BY id;

-- Nothing planted ran, and the application role is not superuser.
SELECT what, as_role FROM osp.ran;
SELECT rolsuper FROM pg_roles WHERE rolname = 'osp_app';
-- Each statement got the caller's search_path back.
SET ROLE osp_app;
SET search_path = osp, public;
SELECT privacy.pseudonymize('jens@example.dk'::privacy.email) IS NOT NULL AS pseudonymized;
SHOW search_path;
RESET search_path;
RESET ROLE;

SET client_min_messages = warning;
DROP SCHEMA osp CASCADE;
REVOKE ALL ON FUNCTION privacy.discover(integer), privacy.guard(regclass, text[], text),
	privacy.unguard(regclass) FROM osp_app;
DROP OWNED BY osp_app, osp_dba;
DROP ROLE osp_app, osp_dba;
DROP SCHEMA shop CASCADE;
DROP EXTENSION opendims_privacy CASCADE;
