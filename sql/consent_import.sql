-- Bulk consent: privacy.import_consents() records the consents of many
-- subjects from a staging table in one operation (every row validated, or
-- nothing changes; erased subjects and subjects with history skipped; one
-- ledger event per subject, one audit entry per import); and single grants
-- for any number of subjects in one statement.
SET client_min_messages = warning;
CREATE EXTENSION opendims_privacy CASCADE;
RESET client_min_messages;
\set SHOW_CONTEXT never

CREATE SCHEMA shop;
CREATE TABLE shop.customers (id bigint PRIMARY KEY, name text NOT NULL);
INSERT INTO shop.customers SELECT g, 'Customer ' || g FROM generate_series(1, 60000) g;
SELECT privacy.apply_policy(jsonb_build_object(
	'format', 1, 'version', 'shop-1', 'effective_date', '2026-06-24',
	'controller', jsonb_build_object('name', 'Example ApS', 'contact', 'privacy@example.com'),
	'purposes', jsonb_build_array(
		jsonb_build_object('name', 'service', 'legal_basis', 'contract'),
		jsonb_build_object('name', 'marketing', 'legal_basis', 'consent'),
		jsonb_build_object('name', 'newsletter', 'legal_basis', 'consent')),
	'subject_kinds', jsonb_build_array(
		jsonb_build_object('name', 'customer', 'table', 'shop.customers', 'key', 'id')),
	'classifications', jsonb_build_array(
		jsonb_build_object('table', 'shop.customers', 'column', 'name', 'category', 'contact.name')))::text) ->> 'changed' AS applied;

-- The state the row check reads equals the state derived from the history.
CREATE VIEW shop.drift AS
SELECT count(*) AS drift FROM (
	(SELECT kind, purpose, subject, status, event_id FROM privacy.consent_state
	 EXCEPT SELECT kind, purpose, subject, status, event_id FROM privacy._ledger_state)
	UNION ALL
	(SELECT kind, purpose, subject, status, event_id FROM privacy._ledger_state
	 EXCEPT SELECT kind, purpose, subject, status, event_id FROM privacy.consent_state)) d;
CREATE VIEW shop.counts AS
SELECT (SELECT count(*) FROM privacy.consent_ledger) AS events,
	   (SELECT count(*) FROM privacy._ledger_state) AS states,
	   (SELECT count(*) FROM privacy.audit_log) AS audit_entries;

-- 50,000 single grants in one statement: the per-subject lock takes no
-- entry in the lock manager, so this needs no max_locks_per_transaction.
SELECT count(privacy.grant_consent('customer', id::text, 'marketing', 'direct', '{}')) AS granted
  FROM shop.customers WHERE id <= 50000;
SELECT count(*) AS granted_state FROM privacy._ledger_state WHERE purpose = 'marketing' AND status = 'granted';
SELECT count(*) AS locks_left FROM privacy._subject_locks;
SELECT * FROM shop.drift;

-- Customer 60000 is erased before the import; customer 59999 already has a
-- newsletter history (a withdrawal the import must not overwrite).
SELECT privacy.withdraw_consent('customer', '59999', 'newsletter');
SELECT privacy.open_request('customer', '60000', 'erasure') AS request \gset
SELECT privacy.erase_subject(:request, 'asked') ->> 'kind' AS erased_kind;

-- The staging table: one row per subject (any key type; keys are made
-- canonical), optionally when the subject consented and how.
CREATE TABLE shop.staging (subject text, granted_at timestamptz, evidence jsonb);
INSERT INTO shop.staging
SELECT g::text, timestamptz '2024-05-01 12:00+00' + g * interval '1 minute',
	   CASE WHEN g % 2 = 0 THEN jsonb_build_object('form', 'signup') END
  FROM generate_series(50001, 59998) g;
INSERT INTO shop.staging VALUES ('059999', NULL, NULL), ('60000', NULL, NULL);
SELECT privacy.seal_audit_log() AS sealed \gset
SELECT * FROM shop.counts \gset before_
CREATE ROLE import_clerk;
GRANT USAGE ON SCHEMA shop TO import_clerk;

-- Not granted to PUBLIC.
SET ROLE import_clerk;
SELECT privacy.import_consents('customer', 'newsletter', 'direct', 'shop.staging');
RESET ROLE;
GRANT EXECUTE ON FUNCTION privacy.import_consents(text, text, text, regclass, jsonb) TO import_clerk;
-- The caller must be able to read the staging table, without row security.
SET ROLE import_clerk;
SELECT privacy.import_consents('customer', 'newsletter', 'direct', 'shop.staging');
RESET ROLE;
CREATE TABLE shop.hidden_staging (subject text);
ALTER TABLE shop.hidden_staging ENABLE ROW LEVEL SECURITY;
GRANT SELECT ON shop.hidden_staging, shop.staging TO import_clerk;
SET ROLE import_clerk;
SELECT privacy.import_consents('customer', 'newsletter', 'direct', 'shop.hidden_staging');
RESET ROLE;

-- Bad input: a clear error, and nothing changes.
SELECT privacy.import_consents('customer', 'service', 'direct', 'shop.staging');
SELECT privacy.import_consents('customer', 'nosuch', 'direct', 'shop.staging');
SELECT privacy.import_consents('customer', 'newsletter', 'fax', 'shop.staging');
SELECT privacy.import_consents('customer', 'newsletter', 'direct', 'shop.staging', '[1]');
SELECT privacy.import_consents('robot', 'newsletter', 'direct', 'shop.staging');
SELECT privacy.import_consents('customer', 'newsletter', 'direct', NULL);
SELECT privacy.import_consents('customer', 'newsletter', 'direct', 'shop.drift');
CREATE TABLE shop.no_subject (id bigint);
SELECT privacy.import_consents('customer', 'newsletter', 'direct', 'shop.no_subject');
CREATE TABLE shop.wrong_types (subject bigint, granted_at text);
SELECT privacy.import_consents('customer', 'newsletter', 'direct', 'shop.wrong_types');
-- Each kind of bad row, added to a copy of the staging table in turn.
CREATE TABLE shop.bad (LIKE shop.staging);
CREATE FUNCTION shop.try_with(bad_row text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	detail text;
BEGIN
	TRUNCATE shop.bad;
	INSERT INTO shop.bad SELECT * FROM shop.staging;
	EXECUTE 'INSERT INTO shop.bad VALUES ' || bad_row;
	PERFORM privacy.import_consents('customer', 'newsletter', 'direct', 'shop.bad');
	RETURN 'imported';
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS detail = PG_EXCEPTION_DETAIL;
	RETURN SQLSTATE || ': ' || SQLERRM || COALESCE(' / ' || NULLIF(detail, ''), '');
END
$$;
SELECT shop.try_with($$('abc', NULL, NULL)$$) AS invalid_key;
SELECT shop.try_with($$(NULL, NULL, NULL)$$) AS null_key;
SELECT shop.try_with($$('123456789', NULL, NULL)$$) AS unknown_subject;
SELECT shop.try_with($$('50001', NULL, NULL)$$) AS duplicate;
SELECT shop.try_with($$('0050002', NULL, NULL)$$) AS duplicate_in_another_form;
SELECT shop.try_with($$('1', now() + interval '1 day', NULL)$$) AS granted_in_future;
SELECT shop.try_with($$('2', NULL, '"text"')$$) AS evidence_not_object;
SELECT privacy.seal_audit_log() AS sealed \gset
SELECT (SELECT count(*) FROM privacy.consent_ledger) = :before_events AS no_event_added,
	   (SELECT count(*) FROM privacy._ledger_state) = :before_states AS no_state_added,
	   (SELECT count(*) FROM privacy.audit_log) = :before_audit_entries AS no_audit_entry_added;

-- The import: 9,998 subjects recorded, the erased one and the one with
-- history skipped.
SET ROLE import_clerk;
SELECT jsonb_pretty(privacy.import_consents('customer', 'newsletter', 'direct', 'shop.staging',
											'{"store": "legacy crm"}') - 'first_event_id' - 'last_event_id');
RESET ROLE;
SELECT (SELECT count(*) FROM privacy.consent_ledger) - :before_events AS events_added,
	   (SELECT count(*) FROM privacy._ledger_state) - :before_states AS states_added;
SELECT count(*) AS newsletter_granted FROM privacy._ledger_state
 WHERE purpose = 'newsletter' AND status = 'granted';
SELECT * FROM shop.drift;
-- The withdrawal of customer 59999 stands.
SELECT status FROM privacy.consent_state WHERE subject = '59999' AND purpose = 'newsletter';
-- Each imported event shows it was imported, with the original time.
SELECT actor, action, purpose, source, evidence FROM privacy.consent_ledger
 WHERE kind = 'customer' AND subject IN ('50001', '50002') AND purpose = 'newsletter' ORDER BY subject;
SELECT jsonb_path_query_array(privacy.consent_history('customer', '50002'), '$[*] ? (@.purpose == "newsletter").evidence') AS history;
SELECT jsonb_path_query_array(privacy.export_subject('customer', '50002') -> 'consent_history',
							  '$[*] ? (@.purpose == "newsletter").evidence') AS exported;
-- One audit entry names the import and its size.
SELECT privacy.seal_audit_log() AS sealed \gset
SELECT actor, action, subject_ref IS NULL AS names_no_subject,
	   summary - 'first_event_id' - 'last_event_id' AS summary,
	   (summary ->> 'last_event_id')::bigint - (summary ->> 'first_event_id')::bigint + 1 AS event_range
  FROM privacy.audit_log WHERE action = 'consent.import';
SELECT privacy.seal_audit_log() AS sealed \gset
SELECT intact AS chain_intact FROM privacy.verify_audit_log();

-- Imported again: every subject has history now, nothing is recorded.
SELECT privacy.import_consents('customer', 'newsletter', 'direct', 'shop.staging') ->> 'imported' AS imported_again;
-- A withdrawal after the import ends the consent as usual.
SELECT privacy.withdraw_consent('customer', '50001', 'newsletter') IS NOT NULL AS withdrawn;
SELECT count(*) AS newsletter_granted FROM privacy._ledger_state WHERE purpose = 'newsletter';
SELECT * FROM shop.drift;

-- The subject column is cast to text as the extension's owner: a cast
-- through a function an ordinary user wrote is refused before anything
-- runs, and the function never runs.
CREATE TYPE shop.tagged AS (tag text);
CREATE FUNCTION shop.tagged_text(shop.tagged) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	RAISE NOTICE 'cast ran as %', current_user;
	RETURN $1.tag;
END
$$;
CREATE CAST (shop.tagged AS text) WITH FUNCTION shop.tagged_text(shop.tagged);
CREATE TABLE shop.tagged_staging (subject shop.tagged);
INSERT INTO shop.tagged_staging VALUES (ROW('50003'));
GRANT SELECT ON shop.tagged_staging TO import_clerk;
SET ROLE import_clerk;
SELECT privacy.import_consents('customer', 'marketing', 'direct', 'shop.tagged_staging');
RESET ROLE;

-- The function that makes staged keys canonical serves the import's own
-- statement only.
SELECT privacy_internal._import_key('50003');

-- A kind's key is unique when the policy declares it; should its unique
-- constraint be dropped later, the import compares keys with the anchor
-- by a semi-join, and a key the anchor holds twice is imported once.
CREATE TABLE shop.visitors (handle text NOT NULL CONSTRAINT visitors_handle_key UNIQUE);
SELECT privacy.apply_policy(jsonb_set(privacy.policy() || '{"version": "shop-2"}', '{subject_kinds}',
	privacy.policy() -> 'subject_kinds' || jsonb_build_array(jsonb_build_object(
		'name', 'visitor', 'table', 'shop.visitors', 'key', 'handle')))::text) IS NOT NULL AS applied;
ALTER TABLE shop.visitors DROP CONSTRAINT visitors_handle_key;
INSERT INTO shop.visitors VALUES ('ann'), ('ben'), ('ben');
CREATE TABLE shop.visitor_staging (subject text);
INSERT INTO shop.visitor_staging VALUES ('ann'), ('ben');
SELECT privacy.import_consents('visitor', 'newsletter', 'direct', 'shop.visitor_staging')
	   - 'first_event_id' - 'last_event_id' - 'policy_version' AS visitors;
SELECT subject, status FROM privacy._ledger_state WHERE kind = 'visitor' ORDER BY subject;
INSERT INTO shop.visitor_staging VALUES ('cyd');
SELECT privacy.import_consents('visitor', 'newsletter', 'direct', 'shop.visitor_staging');
SELECT * FROM shop.drift;

-- A state the ledger does not explain (changed by hand) stops the import,
-- with an error that names no subject.
INSERT INTO privacy._ledger_state (kind, purpose, subject, status, event_id)
VALUES ('customer', 'marketing', '50004', 'granted', 1);
CREATE TABLE shop.tampered_staging (subject text);
INSERT INTO shop.tampered_staging VALUES ('50004'), ('50005');
SELECT privacy.import_consents('customer', 'marketing', 'direct', 'shop.tampered_staging');
DELETE FROM privacy._ledger_state WHERE kind = 'customer' AND purpose = 'marketing' AND subject = '50004';
SELECT privacy.import_consents('customer', 'marketing', 'direct', 'shop.tampered_staging') ->> 'imported' AS imported;
SELECT * FROM shop.drift;

-- The import appends to the ledger as COPY does and fires none of its
-- triggers: it writes the state itself, and the row check of this session
-- (and of the others, by the same invalidation) sees the new consents at
-- once, even where it had already looked the subject up.
SET privacy.purpose = 'marketing';
SELECT privacy_internal._may_process('customer', 50200) AS may_process_before;
CREATE TABLE shop.late_staging (subject bigint);
INSERT INTO shop.late_staging VALUES (50200);
SELECT privacy.import_consents('customer', 'marketing', 'direct', 'shop.late_staging') ->> 'imported' AS imported;
SELECT privacy_internal._may_process('customer', 50200) AS may_process_after;
RESET privacy.purpose;
SELECT * FROM shop.drift;
-- A trigger someone added to the ledger would be bypassed: the import
-- refuses to run, and writes nothing.
CREATE FUNCTION shop.copy_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	RETURN NULL;
END
$$;
CREATE TRIGGER copy_event AFTER INSERT ON privacy.consent_ledger
	FOR EACH ROW EXECUTE FUNCTION shop.copy_event();
INSERT INTO shop.late_staging VALUES (50201);
SELECT * FROM shop.counts \gset before_
SELECT privacy.import_consents('customer', 'marketing', 'direct', 'shop.late_staging');
SELECT events = :before_events AND states = :before_states AS nothing_written FROM shop.counts;
DROP TRIGGER copy_event ON privacy.consent_ledger;
SELECT privacy.import_consents('customer', 'marketing', 'direct', 'shop.late_staging') ->> 'imported' AS imported;

DROP FUNCTION shop.try_with(text);
REVOKE ALL ON FUNCTION privacy.import_consents(text, text, text, regclass, jsonb) FROM import_clerk;
DROP OWNED BY import_clerk;
DROP ROLE import_clerk;
DROP SCHEMA shop CASCADE;
DROP EXTENSION opendims_privacy CASCADE;
