-- Consent, objection and restriction ledgers: an append-only history from
-- which the current state is derived; every refusal is an error and
-- changes nothing; ordinary roles cannot read or write the ledger.
SET client_min_messages = warning;
CREATE EXTENSION opendims_privacy CASCADE;
RESET client_min_messages;
\set SHOW_CONTEXT never

CREATE SCHEMA crm;
CREATE TABLE crm.customers (id bigint PRIMARY KEY, name text NOT NULL);
CREATE TABLE crm.members (handle text PRIMARY KEY, display_name text);
INSERT INTO crm.customers SELECT g, 'Customer ' || g FROM generate_series(1, 8) g;
INSERT INTO crm.members VALUES ('ada', 'Ada'), ('bob', 'Bob');
CREATE FUNCTION crm.policy_doc(version text) RETURNS text LANGUAGE sql AS $$
	SELECT jsonb_build_object(
		'format', 1, 'version', version, 'effective_date', '2026-06-24',
		'controller', jsonb_build_object('name', 'Example ApS', 'contact', 'privacy@example.com'),
		'purposes', jsonb_build_array(
			jsonb_build_object('name', 'service', 'legal_basis', 'contract'),
			jsonb_build_object('name', 'marketing', 'legal_basis', 'consent'),
			jsonb_build_object('name', 'analytics', 'legal_basis', 'legitimate_interest'),
			jsonb_build_object('name', 'bookkeeping', 'legal_basis', 'legal_obligation',
							   'allowed_under_restriction', true)),
		'subject_kinds', jsonb_build_array(
			jsonb_build_object('name', 'customer', 'table', 'crm.customers', 'key', 'id'),
			jsonb_build_object('name', 'member', 'table', 'crm.members', 'key', 'handle')),
		'classifications', jsonb_build_array(
			jsonb_build_object('table', 'crm.customers', 'column', 'name', 'category', 'contact.name'),
			jsonb_build_object('table', 'crm.members', 'column', 'display_name', 'category', 'contact.name')))::text
$$;
SELECT privacy.apply_policy(crm.policy_doc('crm-1')) ->> 'changed' AS applied;

-- Events: each returns its ledger id. Subject keys are stored in the key
-- column's canonical form ('007' is customer 7).
SELECT privacy.grant_consent('customer', '1', 'marketing', 'direct', '{"form": "signup"}');
SELECT privacy.grant_consent('customer', '007', 'marketing', 'partner');
SELECT privacy.withdraw_consent('customer', '7', 'marketing', 'direct', '{"via": "phone"}');
SELECT privacy.object('member', 'ada', 'analytics');
SELECT privacy.restrict('customer', '2', 'accuracy contested');
SELECT privacy.lift_restriction('customer', '2', 'corrected');
SELECT privacy.restrict('customer', '3', 'objection pending');
SELECT privacy.grant_consent('member', 'bob', 'marketing', 'automatic', '{"banner": "v2"}');
-- Withdrawal is possible at any time, even without a recorded consent.
SELECT privacy.withdraw_consent('customer', '4', 'marketing');

SELECT id, actor = current_user AS by_me, kind, subject, action, purpose, source,
       policy_version, evidence, forgotten
  FROM privacy.consent_ledger ORDER BY id;
SELECT kind, subject, purpose, status, event_id FROM privacy.consent_state ORDER BY kind, subject, purpose;

-- The state the row check reads equals the state derived from the history.
CREATE VIEW crm.drift AS
SELECT count(*) AS drift FROM (
	(SELECT kind, purpose, subject, status, event_id FROM privacy.consent_state
	 EXCEPT SELECT kind, purpose, subject, status, event_id FROM privacy._ledger_state)
	UNION ALL
	(SELECT kind, purpose, subject, status, event_id FROM privacy._ledger_state
	 EXCEPT SELECT kind, purpose, subject, status, event_id FROM privacy.consent_state)) d;
SELECT * FROM crm.drift;

-- History of one subject, oldest first (times are real timestamps).
SELECT e - 'time' AS event FROM jsonb_array_elements(privacy.consent_history('customer', '07')) e;
SELECT bool_and((e ->> 'time')::timestamptz <= now()) AS timed
  FROM jsonb_array_elements(privacy.consent_history('customer', '7')) e;
SELECT privacy.consent_history('customer', '2') -> 0 ->> 'evidence' AS restriction_reason;
SELECT privacy.consent_history('customer', '5') AS no_events;

-- A new policy version is recorded with the events given under it.
SELECT privacy.apply_policy(crm.policy_doc('crm-2')) ->> 'version' AS version;
SELECT privacy.grant_consent('customer', '7', 'marketing');
SELECT policy_version FROM privacy.consent_ledger ORDER BY id DESC LIMIT 1;

-- Refusals: clear errors, and nothing is recorded.
SELECT count(*) AS events_before FROM privacy.consent_ledger \gset
SELECT privacy.grant_consent('customer', '1', 'analytics');
SELECT privacy.grant_consent('customer', '1', 'service');
SELECT privacy.grant_consent('customer', '1', 'bookkeeping');
SELECT privacy.grant_consent('customer', '1', 'newsletter');
SELECT privacy.grant_consent('supplier', '1', 'marketing');
SELECT privacy.grant_consent('customer', '999', 'marketing');
SELECT privacy.grant_consent('member', 'zoe', 'marketing');
SELECT privacy.grant_consent('customer', 'abc', 'marketing');
SELECT privacy.grant_consent('customer', NULL, 'marketing');
SELECT privacy.grant_consent('customer', '1', NULL);
SELECT privacy.grant_consent('customer', '1', 'marketing', 'carrier_pigeon');
SELECT privacy.grant_consent('customer', '1', 'marketing', 'direct', '["signup"]');
SELECT privacy.grant_consent('customer', '1', 'marketing', 'direct', NULL);
SELECT privacy.withdraw_consent('customer', '1', 'analytics');
SELECT privacy.object('customer', '1', 'marketing');
SELECT privacy.object('customer', '1', 'service');
SELECT privacy.object('customer', '999', 'analytics');
SELECT privacy.restrict('customer', '1', '  ');
SELECT privacy.restrict('customer', '1', NULL);
SELECT privacy.restrict('customer', '999', 'accuracy contested');
SELECT privacy.lift_restriction('customer', '1');
SELECT privacy.lift_restriction('customer', '2');
SELECT privacy.consent_history('supplier', '1');
SELECT count(*) - :events_before AS recorded_by_refusals FROM privacy.consent_ledger;

-- Every event is audited with its subject reference, never with the key,
-- the evidence or a restriction's reason.
SELECT privacy.seal_audit_log() AS sealed \gset
SELECT a.action, a.subject_ref = privacy.subject_ref(l.kind, l.subject) AS same_subject,
       a.summary - 'event_id' AS summary
  FROM privacy.audit_log a
  JOIN privacy.consent_ledger l ON l.id = (a.summary ->> 'event_id')::bigint
 WHERE a.action IN ('consent.grant', 'consent.withdraw', 'objection', 'restriction', 'restriction.lift')
 ORDER BY a.id;
SELECT privacy.seal_audit_log() AS sealed \gset
SELECT count(*) AS personal_values_in_audit FROM privacy.audit_log
 WHERE summary::text ~ '(signup|phone|accuracy|objection pending|corrected|banner|ada|bob)';
SELECT privacy.seal_audit_log() AS sealed \gset
SELECT intact FROM privacy.verify_audit_log();

-- Append-only, even for a superuser.
UPDATE privacy.consent_ledger SET purpose = 'analytics' WHERE id = 1;
UPDATE privacy.consent_ledger SET forgotten = true, subject = 'someone else' WHERE id = 1;
DELETE FROM privacy.consent_ledger WHERE id = 1;
TRUNCATE privacy.consent_ledger;

-- Ordinary roles neither read nor write the ledgers.
CREATE ROLE ledger_stranger;
SET ROLE ledger_stranger;
SELECT count(*) FROM privacy.consent_ledger;
SELECT count(*) FROM privacy.consent_state;
SELECT count(*) FROM privacy._ledger_state;
INSERT INTO privacy.consent_ledger (actor, kind, subject, action, purpose, source)
VALUES ('me', 'customer', '5', 'consent.grant', 'marketing', 'direct');
SELECT privacy.consent_history('customer', '1');
SELECT privacy.grant_consent('customer', '5', 'marketing');
SELECT privacy.withdraw_consent('customer', '1', 'marketing');
SELECT privacy.object('customer', '5', 'analytics');
SELECT privacy.restrict('customer', '5', 'accuracy contested');
SELECT privacy.lift_restriction('customer', '3');
SELECT privacy_internal._record('consent.grant', 'customer', '5', 'marketing', 'direct', '{}');
SELECT privacy_internal._forget_subject_in_ledgers('customer', '1');
RESET ROLE;

-- An application role given the functions records events in its own name,
-- and still cannot read the ledger.
CREATE ROLE consent_app;
GRANT EXECUTE ON FUNCTION privacy.grant_consent(text, text, text, text, jsonb) TO consent_app;
SET ROLE consent_app;
SELECT privacy.grant_consent('customer', '5', 'marketing') > 0 AS recorded;
SELECT count(*) FROM privacy.consent_ledger;
RESET ROLE;
SELECT actor, subject, action FROM privacy.consent_ledger ORDER BY id DESC LIMIT 1;
SELECT privacy.seal_audit_log() AS sealed \gset
SELECT actor FROM privacy.audit_log ORDER BY id DESC LIMIT 1;

-- After erasure: the subject key becomes its reference, evidence a keyed
-- hash; the history still proves what happened, without personal data.
SELECT privacy_internal._forget_subject_in_ledgers('customer', '07');
SELECT id, subject = privacy.subject_ref('customer', '7') AS subject_is_ref, forgotten, action,
       purpose, source, policy_version,
       CASE WHEN evidence = '{}' THEN '{}' ELSE evidence - 'evidence_ref' END AS evidence,
       evidence ->> 'evidence_ref' = privacy.subject_ref('evidence', '{"via": "phone"}') AS proves_evidence
  FROM privacy.consent_ledger WHERE kind = 'customer' AND forgotten ORDER BY id;
SELECT count(*) AS raw_key_left FROM privacy.consent_ledger WHERE kind = 'customer' AND subject = '7';
SELECT count(*) AS raw_key_left FROM privacy._ledger_state WHERE kind = 'customer' AND subject = '7';
SELECT jsonb_array_length(privacy.consent_history('customer', '7')) AS events_still_provable;
SELECT subject = privacy.subject_ref('customer', '7') AS state_is_ref, status
  FROM privacy._ledger_state WHERE kind = 'customer' AND subject <> ALL (ARRAY['1', '3', '5']);
SELECT * FROM crm.drift;
-- Forgetting twice changes nothing more.
SELECT privacy_internal._forget_subject_in_ledgers('customer', '7');
SELECT privacy_internal._forget_subject_in_ledgers('customer', 'abc');

-- Events inserted into the ledger directly (as a restore or a DBA does)
-- reach the state through the ledger's trigger: one event in a statement,
-- and several, of which the latest of each subject and purpose decides.
INSERT INTO privacy.consent_ledger (actor, kind, subject, action, purpose, source)
VALUES (current_user, 'customer', '6', 'consent.grant', 'marketing', 'direct');
SELECT status FROM privacy._ledger_state WHERE kind = 'customer' AND subject = '6';
INSERT INTO privacy.consent_ledger (actor, kind, subject, action, purpose, source)
VALUES (current_user, 'customer', '6', 'consent.withdraw', 'marketing', 'direct');
SELECT count(*) AS state_of_6 FROM privacy._ledger_state WHERE kind = 'customer' AND subject = '6';
INSERT INTO privacy.consent_ledger (actor, kind, subject, action, purpose, source)
VALUES (current_user, 'customer', '6', 'consent.grant', 'marketing', 'direct'),
	   (current_user, 'customer', '6', 'consent.withdraw', 'marketing', 'direct'),
	   (current_user, 'customer', '8', 'consent.withdraw', 'marketing', 'direct'),
	   (current_user, 'customer', '8', 'consent.grant', 'marketing', 'direct'),
	   (current_user, 'customer', '8', 'restriction', NULL, 'direct');
SELECT subject, purpose, status FROM privacy._ledger_state
 WHERE kind = 'customer' AND subject IN ('6', '8') ORDER BY subject, purpose;
SELECT * FROM crm.drift;
-- The ledger's CHECK constraint holds for direct inserts too: a known
-- action, a purpose exactly when the event is not about restriction,
-- evidence that is an object.
\set VERBOSITY terse
INSERT INTO privacy.consent_ledger (actor, kind, subject, action, purpose, source)
VALUES (current_user, 'customer', '6', 'consent.granted', 'marketing', 'direct');
INSERT INTO privacy.consent_ledger (actor, kind, subject, action, purpose, source)
VALUES (current_user, 'customer', '6', 'consent.grant', NULL, 'direct');
INSERT INTO privacy.consent_ledger (actor, kind, subject, action, purpose, source)
VALUES (current_user, 'customer', '6', 'restriction', 'marketing', 'direct');
INSERT INTO privacy.consent_ledger (actor, kind, subject, action, purpose, source, evidence)
VALUES (current_user, 'customer', '6', 'objection', 'analytics', 'direct', '[]');
INSERT INTO privacy.consent_ledger (actor, kind, subject, action, purpose, source, evidence)
VALUES (current_user, 'customer', '6', 'objection', 'analytics', 'direct', NULL);
\set VERBOSITY default

-- The ledger functions write the state of their event in the statement that
-- records it. Should anything insert another event while that statement
-- runs (here a trigger a superuser added), whose state would then not be
-- written, the event is refused and nothing is recorded.
SELECT count(*) AS events_before FROM privacy.consent_ledger \gset
CREATE FUNCTION crm.echo_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO privacy.consent_ledger (actor, kind, subject, action, purpose, source)
	VALUES (NEW.actor, NEW.kind, '5', NEW.action, NEW.purpose, NEW.source);
	RETURN NULL;
END
$$;
CREATE TRIGGER echo AFTER INSERT ON privacy.consent_ledger
	FOR EACH ROW WHEN (NEW.subject = '4') EXECUTE FUNCTION crm.echo_event();
SELECT privacy.grant_consent('customer', '4', 'marketing');
DROP TRIGGER echo ON privacy.consent_ledger;
SELECT count(*) - :events_before AS recorded FROM privacy.consent_ledger;
SELECT privacy.grant_consent('customer', '4', 'marketing') > 0 AS recorded_after;
SELECT * FROM crm.drift;

DROP ROLE ledger_stranger;
REVOKE EXECUTE ON FUNCTION privacy.grant_consent(text, text, text, text, jsonb) FROM consent_app;
DROP ROLE consent_app;
DROP SCHEMA crm CASCADE;
DROP EXTENSION opendims_privacy CASCADE;
