-- Unsubscribe tokens kept after an erasure, and tokens replayed: the
-- ledger never gets an erased subject's raw key back, and a withdrawal in
-- force is not recorded again.
SET client_min_messages = warning;
CREATE EXTENSION opendims_privacy CASCADE;
RESET client_min_messages;
\set SHOW_CONTEXT never

CREATE SCHEMA crm;
CREATE TABLE crm.customers (id bigint PRIMARY KEY, name text);
CREATE TABLE crm.subscribers (address text PRIMARY KEY, name text);
INSERT INTO crm.customers SELECT g, 'Customer ' || g FROM generate_series(1, 6) g;
INSERT INTO crm.subscribers VALUES ('eve.unique@example.com', 'Eve');
SELECT privacy.apply_policy(jsonb_build_object(
	'format', 1, 'version', 'crm-1', 'effective_date', '2026-06-24',
	'controller', jsonb_build_object('name', 'Example ApS', 'contact', 'privacy@example.com'),
	'purposes', jsonb_build_array(
		jsonb_build_object('name', 'marketing', 'legal_basis', 'consent'),
		jsonb_build_object('name', 'analytics', 'legal_basis', 'legitimate_interest')),
	'subject_kinds', jsonb_build_array(
		jsonb_build_object('name', 'customer', 'table', 'crm.customers', 'key', 'id'),
		jsonb_build_object('name', 'subscriber', 'table', 'crm.subscribers', 'key', 'address')),
	'classifications', jsonb_build_array(
		jsonb_build_object('table', 'crm.customers', 'column', 'name', 'category', 'contact.name'),
		jsonb_build_object('table', 'crm.subscribers', 'column', 'name', 'category', 'contact.name')))::text)
	->> 'changed' AS applied;
CREATE ROLE unsub_anyone LOGIN;

-- Tokens kept by the subjects, who are then erased.
SELECT privacy.grant_consent('customer', '6', 'marketing') > 0 AS granted,
       privacy.grant_consent('subscriber', 'eve.unique@example.com', 'marketing') > 0 AS granted;
SELECT privacy.unsubscribe_token('customer', '6', 'marketing') AS token_6 \gset
SELECT privacy.unsubscribe_token('subscriber', 'eve.unique@example.com', 'marketing') AS token_eve \gset
SELECT (privacy.erase_subject('customer', '6', 'consent withdrawn') ->> 'changed')::boolean AS erased,
       (privacy.erase_subject('subscriber', 'eve.unique@example.com', 'consent withdrawn') ->> 'changed')::boolean AS erased;
SELECT count(*) AS ledger_before FROM privacy.consent_ledger \gset
SELECT privacy.seal_audit_log() AS sealed \gset
SELECT count(*) AS log_before FROM privacy.audit_log \gset

-- A role with nothing but LOGIN replays them: nothing to withdraw, nothing
-- recorded, however often.
SET ROLE unsub_anyone;
SELECT privacy.unsubscribe(:'token_6');
SELECT privacy.unsubscribe(:'token_6') ->> 'withdrawn' AS withdrawn;
SELECT privacy.unsubscribe(:'token_eve');
RESET ROLE;
SELECT count(*) - :ledger_before AS ledger_events_added FROM privacy.consent_ledger;
SELECT privacy.seal_audit_log() AS sealed \gset
SELECT count(*) - :log_before AS audit_entries_added FROM privacy.audit_log;
SELECT count(*) AS raw_keys_in_ledger FROM privacy.consent_ledger
 WHERE subject IN ('6', 'eve.unique@example.com') OR NOT forgotten AND kind = 'subscriber';
SELECT * FROM privacy.verify_evidence();

-- The application cannot write an erased subject's key back either.
SELECT privacy.withdraw_consent('customer', '6', 'marketing');
SELECT privacy.withdraw_consent('subscriber', 'eve.unique@example.com', 'marketing');
SELECT privacy.grant_consent('subscriber', 'eve.unique@example.com', 'marketing');
SELECT privacy.object('customer', '6', 'analytics');
SELECT privacy.restrict('customer', '6', 'accuracy contested');
SELECT privacy.lift_restriction('customer', '6');
SELECT count(*) - :ledger_before AS ledger_events_added FROM privacy.consent_ledger;
SELECT count(*) AS raw_keys_in_ledger FROM privacy.consent_ledger
 WHERE subject IN ('6', 'eve.unique@example.com');

-- Replays of a valid token: one withdrawal, one audit entry; a later grant
-- makes the token withdraw again.
SELECT privacy.grant_consent('customer', '1', 'marketing') > 0 AS granted;
SELECT privacy.unsubscribe_token('customer', '1', 'marketing') AS token_1 \gset
SELECT count(*) AS ledger_before FROM privacy.consent_ledger \gset
SELECT privacy.seal_audit_log() AS sealed \gset
SELECT count(*) AS log_before FROM privacy.audit_log \gset
SET ROLE unsub_anyone;
SELECT privacy.unsubscribe(:'token_1');
SELECT privacy.unsubscribe(:'token_1');
SELECT privacy.unsubscribe(:'token_1') ->> 'withdrawn' AS withdrawn;
RESET ROLE;
SELECT count(*) - :ledger_before AS ledger_events_added FROM privacy.consent_ledger;
SELECT privacy.seal_audit_log() AS sealed \gset
SELECT count(*) - :log_before AS audit_entries_added FROM privacy.audit_log;
SELECT status FROM privacy.consent_state WHERE kind = 'customer' AND subject = '1';
SELECT privacy.grant_consent('customer', '1', 'marketing') > 0 AS granted_again;
SET ROLE unsub_anyone;
SELECT privacy.unsubscribe(:'token_1') ->> 'note' IS NULL AS recorded;
RESET ROLE;
SELECT action, source, evidence FROM privacy.consent_ledger
 WHERE kind = 'customer' AND subject = '1' ORDER BY id;
-- The application may still record a withdrawal twice.
SELECT privacy.withdraw_consent('customer', '1', 'marketing') > 0 AS recorded;
SELECT count(*) AS withdrawals FROM privacy.consent_ledger
 WHERE kind = 'customer' AND subject = '1' AND action = 'consent.withdraw';

-- A new subject under an erased key is a subject like any other: the kept
-- token now names it.
INSERT INTO crm.customers VALUES (6, 'A new customer 6');
SELECT privacy.grant_consent('customer', '6', 'marketing') > 0 AS granted;
SET ROLE unsub_anyone;
SELECT privacy.unsubscribe(:'token_6');
RESET ROLE;
SELECT kind, subject, status FROM privacy.consent_state WHERE kind = 'customer' AND subject = '6';

SET client_min_messages = warning;
DROP ROLE unsub_anyone;
DROP SCHEMA crm CASCADE;
DROP EXTENSION opendims_privacy CASCADE;
