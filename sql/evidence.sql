-- Evidence outside the hash chain: erasure receipts are append-only, and
-- privacy.verify_audit_log() / privacy.verify_evidence() find a receipt a
-- superuser removed or changed, and a ledger state that disagrees with the
-- ledger.
SET client_min_messages = warning;
CREATE EXTENSION opendims_privacy CASCADE;
RESET client_min_messages;
\set SHOW_CONTEXT never
\i test/fixtures/shop_schema.sql
\set doc `cat test/fixtures/shop-policy.json`
SELECT (privacy.apply_policy(:'doc') ->> 'changed')::boolean AS applied;
\i test/fixtures/shop_data.sql

SELECT privacy.grant_consent('customer', '2', 'marketing', 'direct', '{}') > 0 AS granted;
SELECT privacy.withdraw_consent('customer', '2', 'marketing', 'direct', '{}') > 0 AS withdrawn;
SELECT privacy.restrict('customer', '2', 'accuracy contested') > 0 AS restricted;
SELECT (privacy.erase_subject('customer', '1', 'consent withdrawn') ->> 'changed')::boolean AS erased;
SELECT (privacy.erase_subject('customer', '3', 'no longer a customer') ->> 'changed')::boolean AS erased;
SELECT privacy.seal_audit_log() AS sealed \gset
SELECT * FROM privacy.verify_audit_log();
SELECT * FROM privacy.verify_evidence();

-- Receipts cannot be changed or removed, even by their owner.
UPDATE privacy.erasures SET reason = 'forged';
DELETE FROM privacy.erasures;
TRUNCATE privacy.erasures;
SELECT count(*) AS receipts FROM privacy.erasures;

-- A superuser acting as a replica gets past the triggers; verification
-- names the erasure entry whose receipt went missing.
SELECT min(id) AS ada_receipt FROM privacy.erasures \gset
SELECT privacy.seal_audit_log() AS sealed \gset
SELECT id AS ada_entry FROM privacy.audit_log WHERE action = 'erasure' ORDER BY id LIMIT 1 \gset
BEGIN;
SET LOCAL session_replication_role = replica;
DELETE FROM privacy.erasures WHERE id = :ada_receipt;
SET LOCAL session_replication_role = origin;
SELECT intact, first_broken_id = :ada_entry AS names_the_entry, problem ~ 'receipt is missing' AS says_why
  FROM privacy.verify_audit_log();
SELECT evidence, id = :ada_entry AS ada_entry, problem FROM privacy.verify_evidence();
ROLLBACK;

-- A receipt changed (fewer rows deleted than the log records) is found the
-- same way; a receipt added without an erasure too.
BEGIN;
SET LOCAL session_replication_role = replica;
UPDATE privacy.erasures SET receipt = jsonb_set(receipt, '{rows_deleted}', '0') WHERE id = :ada_receipt;
INSERT INTO privacy.erasures (kind, subject_ref, erased_at, reason, receipt)
VALUES ('customer', 'forged', now(), 'forged', '{"changed": true}');
SET LOCAL session_replication_role = origin;
SELECT intact, problem ~ '; 2 more: ' AS counts_the_rest FROM privacy.verify_audit_log();
SELECT evidence, problem FROM privacy.verify_evidence();
ROLLBACK;

-- An erasure entry that carries the digest of its receipt (receipt_sha256)
-- covers the whole receipt, the per-table lines the summary leaves out too.
-- (Audit entries join the log when their transaction commits: the receipt
-- and its entry are committed first, then changed in a transaction that is
-- rolled back.)
SELECT jsonb_build_object('kind', 'customer', 'subject_ref', privacy.subject_ref('customer', '77'),
						  'erased_at', now(), 'reason', 'test', 'changed', true, 'rows_deleted', 1,
						  'tables', jsonb_build_array(jsonb_build_object('table', 'shop.orders', 'deleted', 1)))
	   AS receipt \gset
BEGIN;
INSERT INTO privacy.erasures (kind, subject_ref, erased_at, reason, receipt)
VALUES ('customer', privacy.subject_ref('customer', '77'), now(), 'test', :'receipt');
SELECT privacy_internal._audit(current_user, 'erasure', 'customer', '77', NULL,
					  (:'receipt'::jsonb - 'tables' - 'subject_ref' - 'kind')
					  || jsonb_build_object('receipt_sha256', encode(sha256(convert_to(:'receipt', 'UTF8')), 'hex')))
	   IS NULL AS audited_at_commit;
COMMIT;
SELECT privacy.seal_audit_log() AS sealed \gset
SELECT count(*) AS differences FROM privacy.verify_evidence();
BEGIN;
SET LOCAL session_replication_role = replica;
UPDATE privacy.erasures SET receipt = jsonb_set(receipt, '{tables,0,deleted}', '0')
 WHERE subject_ref = privacy.subject_ref('customer', '77');
SET LOCAL session_replication_role = origin;
SELECT evidence, problem FROM privacy.verify_evidence();
ROLLBACK;

-- A forged ledger state: customer 2, who withdrew, flipped back to granted,
-- and customer 2's restriction removed. Each difference is reported, without
-- the subject's key.
BEGIN;
INSERT INTO privacy._ledger_state (kind, purpose, subject, status, event_id)
SELECT 'customer', 'marketing', '2', 'granted', min(id) FROM privacy.consent_ledger WHERE subject = '2';
DELETE FROM privacy._ledger_state WHERE subject = '2' AND purpose = '';
SELECT intact, first_broken_id, problem FROM privacy.verify_audit_log();
SELECT evidence, problem FROM privacy.verify_evidence();
ROLLBACK;
SELECT privacy.seal_audit_log() AS sealed \gset
SELECT intact FROM privacy.verify_audit_log();

-- Verification is for those the owner grants it to.
CREATE ROLE evidence_stranger;
SET ROLE evidence_stranger;
SELECT * FROM privacy.verify_evidence();
RESET ROLE;
DROP ROLE evidence_stranger;

DROP SCHEMA shop CASCADE;
DROP EXTENSION opendims_privacy CASCADE;
