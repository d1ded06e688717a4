-- Subject keys: one spelling for one subject ('03' and '3' of an integer
-- key are the same customer) in requests, erasure, export, ledgers, tokens
-- and holds; after an erasure no table of the extension holds the raw key.
SET client_min_messages = warning;
CREATE EXTENSION opendims_privacy CASCADE;
RESET client_min_messages;
\set SHOW_CONTEXT never
\i test/fixtures/shop_schema.sql
\set doc `cat test/fixtures/shop-policy.json`
SELECT (privacy.apply_policy(:'doc') ->> 'changed')::boolean AS applied;
INSERT INTO shop.customers (id, name) VALUES (2, 'Bo'), (3, 'Cy'), (4, 'Di'), (5, 'Ed'), (6, 'Fy');

-- A request opened for '3' is the request of the subject erased as '03':
-- the erasure drops its key, and the request can be closed for good.
SELECT privacy.open_request('customer', '3', 'erasure') AS request_3 \gset
SELECT subject, subject_ref = privacy.subject_ref('customer', '3') AS canonical_ref
  FROM privacy.subject_requests WHERE id = :request_3;
SELECT r ->> 'rows_deleted' AS deleted, r ->> 'subject_ref' = privacy.subject_ref('customer', '3') AS canonical_ref
  FROM privacy.erase_subject('customer', '03', 'consent withdrawn') r;
SELECT subject IS NULL AS key_dropped, status FROM privacy.subject_requests WHERE id = :request_3;
-- The request is completed by erase_subject() with the earlier receipt.
SELECT r ->> 'already_erased' AS already_erased, r ->> 'changed' AS changed,
       r ->> 'subject_ref' = privacy.subject_ref('customer', '3') AS canonical_ref
  FROM privacy.erase_subject(:request_3, 'consent withdrawn') r;
SELECT status, outcome ->> 'erasure_id' = (SELECT max(id)::text FROM privacy.erasures) AS outcome_is_receipt
  FROM privacy.subject_requests WHERE id = :request_3;

-- Erasing '02' and then '2': one reference, and the second knows the
-- first (already_erased), even though the row is gone.
SELECT r ->> 'changed' AS changed, r ->> 'already_erased' AS already_erased
  FROM privacy.erase_subject('customer', '02', 'no longer a customer') r;
SELECT r ->> 'changed' AS changed, r ->> 'already_erased' AS already_erased
  FROM privacy.erase_subject('customer', '2', 'no longer a customer') r;
SELECT r ->> 'already_erased' AS already_erased
  FROM privacy.erase_subject('customer', ' +0002 ', 'no longer a customer') r;
SELECT count(DISTINCT subject_ref) AS refs, count(*) AS erasures FROM privacy.erasures;
SELECT privacy.seal_audit_log() AS sealed \gset
SELECT count(DISTINCT subject_ref) AS refs_in_audit
  FROM privacy.audit_log WHERE action = 'erasure' AND subject_ref <> privacy.subject_ref('customer', '3');

-- Export, ledgers and unsubscribe tokens use the canonical key.
SELECT privacy.export_subject('customer', '004') -> 'subject' AS exported_subject;
SELECT privacy.grant_consent('customer', '04', 'marketing') > 0 AS granted;
SELECT kind, subject, status FROM privacy.consent_state WHERE kind = 'customer';
SELECT privacy.unsubscribe_token('customer', '4', 'marketing') = privacy.unsubscribe_token('customer', '0004', 'marketing')
	AS one_token;
SELECT privacy.unsubscribe(privacy.unsubscribe_token('customer', '004', 'marketing')) ->> 'withdrawn' AS withdrawn;
SELECT subject, status FROM privacy.consent_state WHERE kind = 'customer';
SELECT privacy.restrict('customer', '0004', 'accuracy contested') > 0 AS restricted;
SELECT privacy.lift_restriction('customer', '4') > 0 AS lifted;
SELECT privacy.seal_audit_log() AS sealed \gset
SELECT count(*) AS audit_refs_of_4 FROM privacy.audit_log
 WHERE subject_ref = privacy.subject_ref('customer', '4');
SELECT privacy.seal_audit_log() AS sealed \gset
SELECT count(*) AS audit_refs_of_raw_spellings FROM privacy.audit_log
 WHERE subject_ref IN (privacy.subject_ref('customer', '04'), privacy.subject_ref('customer', '004'),
					   privacy.subject_ref('customer', '0004'), privacy.subject_ref('customer', '03'),
					   privacy.subject_ref('customer', '02'));

-- Holds: placed under one spelling, found under another; the retention job
-- and erasure honour them whatever the spelling.
SELECT privacy.place_hold('customer', '005', 'Dispute', 'Case 1') AS hold_5 \gset
SELECT kind, subject, subject_ref = privacy.subject_ref('customer', '5') AS canonical_ref
  FROM privacy.legal_holds WHERE id = :hold_5;
SELECT privacy.place_hold('customer', '5', 'Dispute', 'Case 1');
SELECT privacy_internal._hold_reference('customer', '5', 'shop.customers')
       = 'redacted (keyed hash ' || privacy_internal._hold_reference_ref('Case 1') || ')' AS held_under_case_1;

-- Erasing a held subject keeps its rows and the hold (reason, reference),
-- but the hold names the subject by reference only; the retention job's
-- condition still keeps the held rows.
SELECT r ->> 'rows_held' AS held, r ->> 'rows_deleted' AS deleted
  FROM privacy.erase_subject('customer', '05', 'consent withdrawn') r;
SELECT kind, subject, subject_ref = privacy.subject_ref('customer', '5') AS canonical_ref, reason, reference
  FROM privacy.legal_holds WHERE id = :hold_5;
SELECT privacy_internal._hold_reference('customer', '5', 'shop.customers')
       = 'redacted (keyed hash ' || privacy_internal._hold_reference_ref('Case 1') || ')' AS still_held_under_case_1;
SELECT privacy_internal._retention_held_sql('shop.orders') LIKE '%privacy.subject_ref(%' AS held_by_reference;
SELECT privacy.place_hold('customer', '5', 'Dispute', 'Case 1');
-- Releasing the hold completes the erasure it kept pending, with the key
-- kept for it meanwhile.
SELECT privacy.release_hold(:hold_5, 'settled');
SELECT receipt ->> 'rows_deleted' AS deleted, receipt -> 'continues' ? 'erasure_id' AS continues
  FROM privacy.erasures ORDER BY id DESC LIMIT 1;
SELECT count(*) AS keys_kept_for_pending_erasures FROM privacy._held_erasures;

-- A released hold loses the raw key at erasure too.
SELECT privacy.place_hold('customer', '6', 'Complaint', 'Case 2') AS hold_6 \gset
SELECT privacy.release_hold(:hold_6, 'withdrawn');
SELECT r ->> 'rows_deleted' AS deleted FROM privacy.erase_subject('customer', '0006', 'consent withdrawn') r;

-- After the erasures no table of the extension holds a raw key of an
-- erased subject (2, 3, 5, 6 in any spelling) in a column that names a
-- subject; customer 4 is not erased and keeps its key.
SELECT 'subject_requests' AS tbl, subject FROM privacy.subject_requests WHERE subject IS NOT NULL
UNION ALL SELECT 'legal_holds', subject FROM privacy.legal_holds WHERE subject IS NOT NULL
UNION ALL SELECT 'consent_ledger', subject FROM privacy.consent_ledger
		   WHERE subject IN ('2', '02', '3', '03', '5', '05', '6', '0006')
UNION ALL SELECT '_ledger_state', subject FROM privacy._ledger_state
		   WHERE subject IN ('2', '02', '3', '03', '5', '05', '6', '0006')
ORDER BY 1, 2;
SELECT count(*) AS receipts_with_raw_key FROM privacy.erasures
 WHERE receipt::text ~ '"(0*2|0*3|0*5|0*6)"';
SELECT privacy.seal_audit_log() AS sealed \gset
SELECT count(*) AS audit_entries_with_raw_key FROM privacy.audit_log
 WHERE summary::text ~ '"(0*2|0*3|0*5|0*6)"';

DROP SCHEMA shop CASCADE;
DROP EXTENSION opendims_privacy CASCADE;
