-- DROP EXTENSION opendims_privacy: refused without CASCADE while tables are
-- protected (their row policies call the extension's functions); with
-- CASCADE, every protected table gets back its row-security settings from
-- before protect(), its own policies stay, and nothing the extension put on
-- it is left. A role that may not drop the extension changes nothing.
SET client_min_messages = warning;
CREATE EXTENSION opendims_privacy CASCADE;
RESET client_min_messages;
\set SHOW_CONTEXT never
\set VERBOSITY terse
CREATE SCHEMA dropx;
CREATE TABLE dropx.customers (id bigint PRIMARY KEY, name text NOT NULL);
CREATE TABLE dropx.notes (id bigint PRIMARY KEY, customer_id bigint REFERENCES dropx.customers, written_on date, body text);
CREATE TABLE dropx.gone (id bigint PRIMARY KEY, customer_id bigint REFERENCES dropx.customers, note text);
-- A table with row security and a policy of its own before protect().
ALTER TABLE dropx.notes ENABLE ROW LEVEL SECURITY;
CREATE POLICY own_notes ON dropx.notes USING (true);
SELECT privacy.apply_policy(jsonb_build_object(
	'format', 1, 'version', 'drop-1', 'effective_date', '2026-06-24',
	'controller', jsonb_build_object('name', 'Example ApS', 'contact', 'privacy@example.com'),
	'purposes', jsonb_build_array(jsonb_build_object('name', 'service', 'legal_basis', 'contract')),
	'subject_kinds', jsonb_build_array(
		jsonb_build_object('name', 'customer', 'table', 'dropx.customers', 'key', 'id')),
	'classifications', jsonb_build_array(
		jsonb_build_object('table', 'dropx.customers', 'column', 'name', 'category', 'contact.name'),
		jsonb_build_object('table', 'dropx.notes', 'column', 'body', 'category', 'contact'),
		jsonb_build_object('table', 'dropx.gone', 'column', 'note', 'category', 'contact')),
	'retention_rules', jsonb_build_array(
		jsonb_build_object('name', 'notes', 'table', 'dropx.notes', 'anchor', 'written_on', 'period', '2 years',
						   'action', 'delete', 'legal_basis', 'legal_obligation', 'minimum', '1 year')))::text) ->> 'changed' AS applied;
SELECT privacy.protect('dropx.customers');
SELECT privacy.protect('dropx.notes');
-- A protected table dropped before the extension.
SELECT privacy.protect('dropx.gone');
DROP TABLE dropx.gone;
SELECT privacy.guard('dropx.notes', ARRAY['body']);

CREATE VIEW dropx.installed AS
SELECT c.relname, c.relrowsecurity AS rls, c.relforcerowsecurity AS force,
	   (SELECT string_agg(p.polname, ',' ORDER BY p.polname) FROM pg_policy p WHERE p.polrelid = c.oid) AS policies,
	   (SELECT string_agg(t.tgname, ',' ORDER BY t.tgname) FROM pg_trigger t
		 WHERE t.tgrelid = c.oid AND NOT t.tgisinternal) AS triggers
  FROM pg_class c WHERE c.relnamespace = 'dropx'::regnamespace AND c.relkind = 'r'
 ORDER BY c.relname;
SELECT * FROM dropx.installed;

-- Without CASCADE: refused, nothing changes.
DROP EXTENSION opendims_privacy;
SELECT * FROM dropx.installed;

-- A role that may not drop the extension changes nothing either, also on
-- a table it owns.
CREATE ROLE drop_outsider;
ALTER TABLE dropx.notes OWNER TO drop_outsider;
SET ROLE drop_outsider;
DROP EXTENSION opendims_privacy CASCADE;
RESET ROLE;
SELECT * FROM dropx.installed;
ALTER TABLE dropx.notes OWNER TO CURRENT_USER;

-- A DROP EXTENSION of another extension leaves protection alone.
CREATE EXTENSION pg_trgm;
DROP EXTENSION pg_trgm CASCADE;
SELECT count(*) AS protected FROM privacy.protected_tables;

SET client_min_messages = warning;
DROP EXTENSION opendims_privacy CASCADE;
RESET client_min_messages;
SELECT * FROM dropx.installed;
SELECT count(*) AS event_triggers FROM pg_event_trigger WHERE evtname LIKE 'privacy%';

DROP SCHEMA dropx CASCADE;
DROP ROLE drop_outsider;
