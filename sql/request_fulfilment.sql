-- Data-subject requests are completed by what fulfils them, never by a
-- forged outcome; free text given with a request or an erasure stays out
-- of the append-only audit log and erasure receipts.
SET client_min_messages = warning;
CREATE EXTENSION opendims_privacy CASCADE;
RESET client_min_messages;
\i test/fixtures/shop_schema.sql
\set doc `cat test/fixtures/shop-policy.json`
-- (with a purpose based on legitimate interest, which a subject may object to)
SELECT (privacy.apply_policy((:'doc'::jsonb || jsonb_build_object('purposes', (:'doc'::jsonb -> 'purposes')
		|| '[{"name": "analytics", "legal_basis": "legitimate_interest"}]'::jsonb))::text) ->> 'changed')::boolean AS applied;
\i test/fixtures/shop_data.sql
\set SHOW_CONTEXT never

-- A role granted only opening and closing requests.
CREATE ROLE desk_clerk;
GRANT USAGE ON SCHEMA privacy TO desk_clerk;
GRANT EXECUTE ON FUNCTION privacy.open_request(text, text, text, timestamptz),
	privacy.close_request(bigint, text, jsonb) TO desk_clerk;
SET ROLE desk_clerk;
SELECT privacy.open_request('customer', '3', 'erasure', now()) AS erasure_3 \gset
-- An erasure cannot be closed as done: only the erasure completes it.
SELECT privacy.close_request(:erasure_3, 'completed',
	'{"erased": true, "rows_deleted": 4, "note": "Eve Referred-Unique, eve.unique@example.com"}');
SELECT privacy.open_request('customer', '2', 'access') AS access_2 \gset
SELECT privacy.open_request('customer', '2', 'portability') AS portability_2 \gset
SELECT privacy.close_request(:access_2, 'completed', '{"exported_tables": 5}');
SELECT privacy.close_request(:portability_2, 'completed');
-- A rectification, restriction or objection is completed once it is
-- recorded, and not before.
SELECT privacy.open_request('customer', '1', 'rectification', now() - interval '1 day') AS rectification_1 \gset
SELECT privacy.open_request('customer', '1', 'restriction', now() - interval '1 day') AS restriction_1 \gset
SELECT privacy.close_request(:rectification_1, 'completed', '{"note": "address corrected"}');
SELECT privacy.close_request(:restriction_1, 'completed');
-- A rejection needs its reasons, as a JSON object.
SELECT privacy.close_request(:portability_2, 'rejected');
SELECT privacy.close_request(:portability_2, 'rejected', '"no"');
SELECT privacy.close_request(:portability_2, 'rejected',
	'{"reason": "identity not confirmed: Bo wrote from bo.private-unique@example.net", "redacted": "yes"}');
RESET ROLE;
SELECT id - :erasure_3 AS n, "right", status, outcome FROM privacy.requests ORDER BY id;
SELECT * FROM shop.customers WHERE id = 3;

-- Fulfilment completes them: the erasure with its receipt, the export
-- with its summary, the recorded rectification and restriction.
SELECT (privacy.erase_subject(:erasure_3, 'Consent  withdrawn ') ->> 'reason') AS reason;
SELECT jsonb_typeof(privacy.export_subject(:access_2)) AS exported;
SELECT privacy.protect('shop.customers');
UPDATE shop.customers SET phone = '+4500000001' WHERE id = 1;
SELECT privacy.restrict('customer', '1', 'accuracy contested') > 0 AS restricted;
SELECT privacy.close_request(:rectification_1, 'completed', '{"note": "phone corrected"}');
SELECT privacy.close_request(:restriction_1, 'completed');
SELECT privacy.seal_audit_log() AS sealed \gset
SELECT id - :erasure_3 AS n, "right", status,
       outcome ?| '{erased_at,exported_tables}' AS fulfilment_summary,
       (outcome ->> 'audit_id')::bigint = (SELECT max(a.id) FROM privacy.audit_log a WHERE a.action = 'rectification') AS rectification_entry,
       (outcome ->> 'ledger_event_id')::bigint = (SELECT max(l.id) FROM privacy.consent_ledger l WHERE l.action = 'restriction') AS restriction_event,
       outcome -> 'note' AS note
  FROM privacy.requests ORDER BY id;
-- The erasure's receipt is the request's outcome.
SELECT r.outcome ->> 'subject_ref' = e.subject_ref AND (r.outcome ->> 'request_id')::bigint = r.id AS receipt_is_outcome
  FROM privacy.requests r JOIN privacy.erasures e ON e.request_id = r.id WHERE r.id = :erasure_3;

-- Free text reaches the append-only audit log as a keyed hash only.
SELECT privacy.seal_audit_log() AS sealed \gset
SELECT action, summary ? 'note_ref' AS note_ref, summary ?| '{audit_id,ledger_event_id}' AS names_record,
       summary - '{note_ref,deadline,audit_id,ledger_event_id}'::text[] AS summary
  FROM privacy.audit_log WHERE action LIKE 'request.%' ORDER BY id;
SELECT privacy.seal_audit_log() AS sealed \gset
SELECT count(*) AS free_text_in_log FROM privacy.audit_log
 WHERE summary::text ~* 'unique|bo\.private|corrected|not confirmed';

-- An erasure's reason is recorded as given only when it is a ground of
-- GDPR Art. 17(1); other text is recorded by its keyed hash.
SELECT privacy.open_request('customer', '2', 'rectification') AS rectification_2 \gset
SELECT privacy.place_hold('customer', '2', 'Dispute with Bo Unique', 'Case Bo Bramsen-Unique') AS hold_2 \gset
SELECT privacy.extend_request(:rectification_2, 'Bo asked to wait for bo.private-unique@example.net', '1 month') IS NOT NULL AS extended;
SELECT r ->> 'reason' ~ '^other ground \(keyed hash [0-9a-f]{64}\)$' AS reason_hashed,
       r ->> 'reason' = 'other ground (keyed hash ' || privacy.subject_ref('erasure.reason', 'asked by Gus Unique gus.unique@example.com') || ')' AS verifiable
  FROM privacy.erase_subject('customer', '2', 'asked by Gus Unique gus.unique@example.com') r;
SELECT count(*) AS free_text_in_receipts FROM privacy.erasures
 WHERE reason ~* 'unique' OR receipt::text ~* 'unique';
-- The receipt names the hold on Bo by its reference's keyed hash.
SELECT DISTINCT t ->> 'hold_reference' = 'redacted (keyed hash ' || privacy_internal._hold_reference_ref('Case Bo Bramsen-Unique') || ')' AS hold_named
  FROM privacy.erasures e, jsonb_array_elements(e.receipt -> 'tables') t
 WHERE e.subject_ref = privacy.subject_ref('customer', '2') AND t ? 'hold_reference';
SELECT privacy.seal_audit_log() AS sealed \gset
SELECT count(*) AS free_text_in_log FROM privacy.audit_log WHERE summary::text ~* 'unique';
-- Erasing the subject replaces the notes and extension reasons of its
-- requests by keyed hashes, the same the audit log holds.
SELECT id - :erasure_3 AS n, status, outcome ? 'note' AS has_note, outcome ? 'note_ref' AS note_redacted,
       extension_reason ~ '^redacted \(keyed hash [0-9a-f]{64}\)$' AS extension_reason_redacted
  FROM privacy.requests WHERE subject_ref = privacy.subject_ref('customer', '2') ORDER BY id;
SELECT privacy.seal_audit_log() AS sealed \gset
SELECT r.outcome ->> 'note_ref' = a.summary ->> 'note_ref' AS same_keyed_hash
  FROM privacy.requests r JOIN privacy.audit_log a ON a.request_id = r.id AND a.action = 'request.rejected'
 WHERE r.id = :portability_2;
SELECT count(*) AS free_text_in_requests FROM privacy.subject_requests
 WHERE outcome::text ~* 'unique' OR extension_reason ~* 'unique';
-- A hold in force keeps its reason and reference; released, it keeps their
-- keyed hashes only (the reference's is the audit log's).
SELECT reason, reference FROM privacy.legal_holds WHERE id = :hold_2;
SELECT privacy.release_hold(:hold_2, 'Settled with Bo Unique');
SELECT reason ~ '^redacted \(keyed hash [0-9a-f]{64}\)$' AS reason_redacted,
       reference = 'redacted (keyed hash ' || privacy_internal._hold_reference_ref('Case Bo Bramsen-Unique') || ')' AS reference_redacted,
       release_reason ~ '^redacted \(keyed hash [0-9a-f]{64}\)$' AS release_reason_redacted
  FROM privacy.legal_holds WHERE id = :hold_2;

-- An objection request is completed once the objection is recorded.
SELECT privacy.open_request('customer', '1', 'objection', now() - interval '1 hour') AS objection_1 \gset
SELECT privacy.close_request(:objection_1, 'completed');
SELECT privacy.object('customer', '1', 'analytics') AS objection_event \gset
SELECT privacy.close_request(:objection_1, 'completed');
SELECT status, (outcome ->> 'ledger_event_id')::bigint = :objection_event AS names_objection
  FROM privacy.requests WHERE id = :objection_1;

-- An access request of a subject erased since is rejected, not exported;
-- a hold's case reference, free text too, reaches the log as a keyed hash.
SELECT privacy.open_request('customer', '1', 'access') AS access_1 \gset
SELECT privacy.place_hold('customer', '1', 'Dispute with Ada Unique', 'Case Ada Lovelace-Unique') AS hold_1 \gset
SELECT privacy.release_hold(:hold_1, 'Settled with Ada Unique');
SELECT (privacy.erase_subject('customer', '1', 'consent withdrawn') ->> 'changed')::boolean AS erased;
SELECT privacy.export_subject(:access_1);
SELECT privacy.close_request(:access_1, 'rejected', '{"reason": "subject erased before the export"}');
SELECT privacy.seal_audit_log() AS sealed \gset
SELECT action, summary ->> 'reference_ref' = privacy_internal._hold_reference_ref('Case Ada Lovelace-Unique') AS reference_hashed
  FROM privacy.audit_log WHERE action LIKE 'retention.hold.%' AND (summary ->> 'hold_id')::bigint = :hold_1 ORDER BY id;
SELECT privacy.seal_audit_log() AS sealed \gset
SELECT count(*) AS free_text_in_log FROM privacy.audit_log WHERE summary::text ~* 'unique';
SELECT count(*) AS free_text_in_holds FROM privacy.legal_holds
 WHERE reason ~* 'unique' OR reference ~* 'unique' OR release_reason ~* 'unique';

SET client_min_messages = warning;
DROP OWNED BY desk_clerk;
DROP ROLE desk_clerk;
DROP SCHEMA shop CASCADE;
DROP EXTENSION opendims_privacy CASCADE;
