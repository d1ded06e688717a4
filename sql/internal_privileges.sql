-- Internal functions: which ones PUBLIC may execute, and that nothing an
-- ordinary role can call or trigger writes the audit log on its own say-so.
SET client_min_messages = warning;
CREATE EXTENSION opendims_privacy CASCADE;
RESET client_min_messages;
\set SHOW_CONTEXT never

-- The reviewed allow-list: every function of the extension that PUBLIC may
-- execute. The public API, the personal-data types' support functions, and
-- the internal functions ordinary roles reach as themselves (row security,
-- the guard's trigger, the read-only checks behind lint(), subject_map,
-- policy() and processing_record(), the retention job's steps and the
-- functions behind its status views, which check the role's grants
-- themselves: sql/delegation.sql). A new grant to PUBLIC shows up here.
SELECT p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')' AS executable_by_public
  FROM pg_proc p
  JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'
  JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'opendims_privacy'
 WHERE has_function_privilege('public', p.oid, 'EXECUTE')
 ORDER BY p.proname LIKE '\_%', 1;

-- A protected table, and an application role that may update it and create
-- objects of its own.
CREATE SCHEMA crm;
CREATE TABLE crm.customers (id bigint PRIMARY KEY, name text NOT NULL);
INSERT INTO crm.customers VALUES (1, 'Customer 1'), (2, 'Customer 2');
SELECT privacy.apply_policy(jsonb_build_object(
	'format', 1, 'version', 'ip-1', 'effective_date', '2026-06-24',
	'controller', jsonb_build_object('name', 'Example ApS', 'contact', 'privacy@example.com'),
	'purposes', jsonb_build_array(jsonb_build_object('name', 'service', 'legal_basis', 'contract')),
	'subject_kinds', jsonb_build_array(
		jsonb_build_object('name', 'customer', 'table', 'crm.customers', 'key', 'id')),
	'classifications', jsonb_build_array(
		jsonb_build_object('table', 'crm.customers', 'column', 'name', 'category', 'contact.name')))::text)
	->> 'changed' AS applied;
SELECT privacy.protect('crm.customers');
CREATE ROLE ip_app;
GRANT USAGE, CREATE ON SCHEMA crm TO ip_app;
GRANT SELECT, UPDATE ON crm.customers TO ip_app;
SELECT privacy.allow_purpose('service', 'ip_app');
SELECT privacy.seal_audit_log() AS sealed \gset
SELECT max(id) AS log_before FROM privacy.audit_log \gset

-- The attack: a trigger on the role's own temporary table that asks the
-- extension to log a rectification of customer 2, with a CPR number as the
-- "column". Neither the old writer nor the rectification trigger function
-- can be reached that way.
SET ROLE ip_app;
CREATE TEMP TABLE decoy (x integer);
CREATE FUNCTION pg_temp.forge() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	PERFORM privacy._record_rectification('crm.customers', 'customer', '2', ARRAY['010190-1234']);
	RETURN NULL;
END
$$;
CREATE TRIGGER forge AFTER INSERT ON decoy FOR EACH ROW EXECUTE FUNCTION pg_temp.forge();
INSERT INTO decoy VALUES (1);
CREATE TRIGGER privacy_rectification AFTER UPDATE ON decoy
	FOR EACH ROW EXECUTE FUNCTION privacy_internal._audit_rectification('customer', '2');
CREATE TABLE crm.decoy (x integer);
CREATE TRIGGER privacy_rectification AFTER UPDATE ON crm.decoy
	FOR EACH ROW EXECUTE FUNCTION privacy_internal._audit_rectification('customer', '2');
-- Calling the internal writers directly.
SELECT privacy_internal._audit('ip_app', 'rectification', 'customer', '2', NULL, '{"columns": ["010190-1234"]}');
SELECT privacy_internal._record('consent.grant', 'customer', '2', 'service', 'forged', '{}');
SELECT privacy_internal._forget_subject_in_ledgers('customer', '2');
SELECT privacy_internal._erase_subject('customer', '2', 'forged', NULL);
SELECT privacy_internal._retention_run_start(10, '1 minute');
SELECT privacy_internal._apply_document('{}', '{}', 'ip_app');
SELECT privacy_internal._audit_entry_hash('\x00', 1, now(), 'a', 'a', 'a', NULL, NULL, '{}');
-- The guard's trigger function cannot be attached to a table of the role's
-- own, where it would write guard.redact entries at will.
CREATE TABLE crm.own_notes (note text);
CREATE TRIGGER privacy_guard BEFORE INSERT ON crm.own_notes
	FOR EACH ROW EXECUTE FUNCTION privacy_internal._guard_trigger('redact', 'note');
DROP TABLE crm.own_notes;
-- The condition a Citus coordinator forwards to its workers gives no
-- purpose on a server that is not a Citus worker.
SELECT privacy_internal._statement_context('service', '1:1', repeat('0', 64)) AS forwarded,
       privacy.current_purpose() AS purpose, (SELECT count(*) FROM crm.customers) AS rows_seen;
-- What the role may do is still audited, as itself: a real rectification.
SET privacy.purpose = 'service';
UPDATE crm.customers SET name = 'Customer One' WHERE id = 1;
RESET privacy.purpose;
DROP TABLE decoy;
DROP FUNCTION pg_temp.forge();
RESET ROLE;
SELECT privacy.seal_audit_log() AS sealed \gset
SELECT actor, action, subject_ref = privacy.subject_ref('customer', '1') AS customer_1, summary
  FROM privacy.audit_log WHERE id > :log_before ORDER BY id;

-- Even the extension's owner cannot point the trigger function at a table
-- privacy.protect() does not protect, or give it another name.
CREATE TRIGGER privacy_rectification AFTER UPDATE ON crm.decoy
	FOR EACH ROW EXECUTE FUNCTION privacy_internal._audit_rectification('customer', '2');
INSERT INTO crm.decoy VALUES (1);
UPDATE crm.decoy SET x = 2;
ALTER TRIGGER privacy_rectification ON crm.customers RENAME TO renamed;
UPDATE crm.customers SET name = 'Customer Two' WHERE id = 2;
ALTER TRIGGER renamed ON crm.customers RENAME TO privacy_rectification;
SELECT privacy.seal_audit_log() AS sealed \gset
SELECT count(*) AS forged_entries FROM privacy.audit_log WHERE id > :log_before AND action = 'rectification'
   AND subject_ref = privacy.subject_ref('customer', '2');
SELECT privacy.seal_audit_log() AS sealed \gset
SELECT intact FROM privacy.verify_audit_log();

-- privacy_internal._erased_from_shard(), which PUBLIC may execute for the
-- erasure's statements on Citus shards, takes only a table the caller owns
-- and columns the row has; values the statistics do not hold change
-- nothing.
SET ROLE ip_app;
SELECT privacy_internal._erased_from_shard('crm.customers', ARRAY['name'], ROW('Customer One'));
RESET ROLE;
SELECT privacy_internal._erased_from_shard('crm.customers', ARRAY['nickname'], c) FROM crm.customers c WHERE c.id = 1;
BEGIN;
SELECT privacy_internal._erased_from_shard('crm.customers', ARRAY['name', 'id'], ROW(0, 'nobody')::crm.customers) AS noted;
COMMIT;

DROP SCHEMA crm CASCADE;
DROP ROLE ip_app;
DROP EXTENSION opendims_privacy CASCADE;
