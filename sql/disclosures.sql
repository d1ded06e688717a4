-- The disclosure log: recording disclosures to the policy's recipients,
-- validation, privileges, the export's list, the recipients an erasure,
-- restriction or rectification must be told of, and processing_record().
SET client_min_messages = warning;
CREATE EXTENSION opendims_privacy CASCADE;
RESET client_min_messages;
\i test/fixtures/shop_schema.sql
\set doc `cat test/fixtures/shop-policy.json`
SELECT (privacy.apply_policy(:'doc') ->> 'changed')::boolean AS applied;
\i test/fixtures/shop_data.sql
INSERT INTO shop.customers (id, name) VALUES (4, 'Di Dalgas-Unique');
\set SHOW_CONTEXT never

-- Recording: one subject, and many at once from a query; keys are
-- canonical ('01' is customer 1).
SELECT privacy.record_disclosure('customer', '01', 'hosting', ARRAY['contact.email', 'contact.name', 'contact.email'],
                                 'contract', NULL, '{"channel": "sftp"}') AS first_id \gset
SELECT subject, disclosure_id - :first_id AS n
  FROM privacy.record_disclosures('customer', ARRAY(SELECT id::text FROM shop.customers WHERE id IN (1, 2) ORDER BY id),
                                  'authorities', ARRAY['contact.phone'], 'legal_obligation', 'Court order 2026/417',
                                  '{"case": "Unique case file"}');
SELECT id - :first_id AS n, actor = current_user AS by_me, kind, subject, subject_ref = privacy.subject_ref('customer', subject) AS ref_ok,
       recipient, categories, legal_basis, reference, details, disclosed_at <= clock_timestamp() AS dated
  FROM privacy.disclosures ORDER BY id;
-- One audit entry per disclosure, by subject reference, without the
-- reference or the details.
SELECT privacy.seal_audit_log() AS sealed \gset
SELECT action, subject_ref = privacy.subject_ref('customer', '1') AS ada, summary - 'disclosure_id' AS summary
  FROM privacy.audit_log WHERE action = 'disclosure' ORDER BY id;
SELECT privacy.seal_audit_log() AS sealed \gset
SELECT count(*) AS values_in_log FROM privacy.audit_log WHERE summary::text ~ 'Court order|sftp|Unique';
SELECT privacy.disclosed_to('customer', '1') AS ada, privacy.disclosed_to('customer', '2') AS bo,
       privacy.disclosed_to('customer', '4') AS di;

-- Validation: each error changes nothing.
CREATE TEMP TABLE before AS SELECT count(*) AS n FROM privacy.disclosures;
SELECT privacy.record_disclosure('customer', '1', 'cloud', ARRAY['contact.email'], 'contract');
SELECT privacy.record_disclosure('customer', '1', NULL, ARRAY['contact.email'], 'contract');
SELECT privacy.record_disclosure('customer', '1', 'hosting', ARRAY['shoe_size'], 'contract');
SELECT privacy.record_disclosure('customer', '1', 'hosting', ARRAY['health'], 'contract');
SELECT privacy.record_disclosure('customer', '1', 'hosting', '{}', 'contract');
SELECT privacy.record_disclosure('customer', '1', 'hosting', ARRAY['contact.email', NULL], 'contract');
SELECT privacy.record_disclosure('customer', '1', 'hosting', ARRAY['contact.email'], 'court order');
SELECT privacy.record_disclosure('customer', '1', 'hosting', ARRAY['contact.email'], NULL);
SELECT privacy.record_disclosure('customer', '1', 'hosting', ARRAY['contact.email'], 'consent');
SELECT privacy.record_disclosure('customer', '1', 'authorities', ARRAY['contact.email'], 'legal_obligation');
SELECT privacy.record_disclosure('customer', '1', 'authorities', ARRAY['contact.email'], 'legal_obligation', '  ');
SELECT privacy.record_disclosure('customer', '1', 'hosting', ARRAY['contact.email'], 'contract', NULL, '"sftp"');
SELECT privacy.record_disclosure('customer', '1', 'hosting', ARRAY['contact.email'], 'contract', NULL, NULL);
SELECT privacy.record_disclosure('customer', '999', 'hosting', ARRAY['contact.email'], 'contract');
SELECT privacy.record_disclosure('customer', 'x', 'hosting', ARRAY['contact.email'], 'contract');
SELECT privacy.record_disclosure('supplier', '1', 'hosting', ARRAY['contact.email'], 'contract');
SELECT privacy.record_disclosure('customer', NULL, 'hosting', ARRAY['contact.email'], 'contract');
-- A set is recorded whole or not at all.
SELECT * FROM privacy.record_disclosures('customer', ARRAY['1', '2', '999'], 'hosting', ARRAY['contact.email'], 'contract');
SELECT * FROM privacy.record_disclosures('customer', ARRAY['1', '2', '01'], 'hosting', ARRAY['contact.email'], 'contract');
-- The first subject that repeats an earlier one is named.
SELECT * FROM privacy.record_disclosures('customer', ARRAY['3', '1', '2', '01', '3'], 'hosting', ARRAY['contact.email'], 'contract');
SELECT * FROM privacy.record_disclosures('customer', ARRAY['1', NULL], 'hosting', ARRAY['contact.email'], 'contract');
SELECT * FROM privacy.record_disclosures('customer', '{}', 'hosting', ARRAY['contact.email'], 'contract');
SELECT (SELECT count(*) FROM privacy.disclosures) = n AS nothing_recorded FROM before;

-- The log is append-only, even for its owner.
UPDATE privacy.disclosures SET recipient = 'staff';
UPDATE privacy.disclosures SET subject = NULL;
DELETE FROM privacy.disclosures;
TRUNCATE privacy.disclosures;

-- An ordinary role can neither read, record nor forge a disclosure, nor
-- learn whom another person's data went to.
CREATE ROLE disclosure_clerk;
CREATE ROLE disclosure_snoop;
GRANT USAGE ON SCHEMA shop TO disclosure_snoop;
SET ROLE disclosure_snoop;
SELECT count(*) FROM privacy.disclosures;
SELECT count(*) FROM privacy.rectification_notices;
SELECT privacy.record_disclosure('customer', '1', 'hosting', ARRAY['contact.email'], 'contract');
SELECT * FROM privacy.record_disclosures('customer', ARRAY['1'], 'hosting', ARRAY['contact.email'], 'contract');
SELECT privacy.disclosed_to('customer', '1');
SELECT privacy_internal._record_disclosures('customer', ARRAY['1'], 'hosting', ARRAY['contact.email'], 'contract', NULL, '{}');
SELECT privacy_internal._disclosure_recipients('customer', 'x');
INSERT INTO privacy.disclosures (actor, kind, subject, subject_ref, recipient, categories, legal_basis)
VALUES ('dpo', 'customer', '1', 'x', 'hosting', '{contact.email}', 'contract');
RESET ROLE;
-- A DBA delegates recording by GRANT; the entry names the acting role.
GRANT EXECUTE ON FUNCTION privacy.record_disclosure(text, text, text, text[], text, text, jsonb) TO disclosure_clerk;
SET ROLE disclosure_clerk;
SELECT privacy.record_disclosure('customer', '3', 'staff', ARRAY['contact.phone'], 'contract') > 0 AS recorded;
SELECT count(*) FROM privacy.disclosures;
RESET ROLE;
SELECT actor, subject, recipient FROM privacy.disclosures ORDER BY id DESC LIMIT 1;

-- The export lists the subject's own disclosures, and no one else's.
CREATE TEMP TABLE ada AS SELECT privacy.export_subject('customer', '1') AS e;
SELECT jsonb_pretty(jsonb_agg(d - 'time' - 'recorded_by')) AS disclosures,
       bool_and((d ->> 'time')::timestamptz <= now() AND d ->> 'recorded_by' = current_user) AS dated
  FROM ada, jsonb_array_elements(e -> 'disclosures') d;
SELECT jsonb_agg(d - 'time') AS disclosures FROM (SELECT privacy.export_subject('customer', '3') AS e) cy,
       jsonb_array_elements(e -> 'disclosures') d;
SELECT privacy.export_subject('customer', '4') -> 'disclosures' AS di_disclosures;
SELECT jsonb_array_length(privacy.export_subject('customer', '2') -> 'disclosures') AS bo_disclosures;
-- One index lookup.
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT * FROM privacy.disclosures d WHERE d.kind = 'customer' AND d.subject_ref = 'x';
RESET enable_seqscan;

-- Rectification: a change after the last disclosure to a recipient is
-- pending until the corrected data is passed on.
SELECT privacy.protect('shop.customers');
SELECT * FROM privacy.rectification_notices;
UPDATE shop.customers SET phone = '+4511111111' WHERE id = 1;
SELECT kind, subject, recipient, rectified_at > disclosed_at AS after_disclosure, tables
  FROM privacy.rectification_notices ORDER BY subject, recipient;
SELECT privacy.record_disclosure('customer', '1', 'authorities', ARRAY['contact.phone'], 'legal_obligation',
                                 'Court order 2026/417', '{"notice": "rectification"}') > 0 AS passed_on;
SELECT kind, subject, recipient FROM privacy.rectification_notices ORDER BY subject, recipient;

-- Restriction records the recipients to tell (none for a subject whose
-- data went nowhere).
SELECT privacy.restrict('customer', '1', 'accuracy contested') > 0 AS restricted;
SELECT privacy.restrict('customer', '4', 'accuracy contested') > 0 AS restricted;
SELECT subject, evidence FROM privacy.consent_ledger WHERE action = 'restriction' ORDER BY id;

-- Erasure: the receipt names the recipients to tell; the log keeps the
-- disclosures under the subject's reference only, with the reference
-- and details as keyed hashes.
SELECT r -> 'notify_recipients' AS notify_recipients, r -> 'ledgers' AS ledgers
  FROM privacy.erase_subject('customer', '2', 'consent withdrawn') r;
SELECT subject, subject_ref = privacy.subject_ref('customer', '2') AS ref_ok, recipient,
       reference ~ '^redacted \(keyed hash [0-9a-f]{64}\)$' AS reference_redacted,
       details - 'evidence_ref' AS details, details ->> 'evidence_ref' ~ '^[0-9a-f]{64}$' AS details_hashed
  FROM privacy.disclosures WHERE subject_ref = privacy.subject_ref('customer', '2');
SELECT count(*) AS bo_in_log FROM privacy.disclosures
 WHERE subject = '2' OR subject IS NULL AND (reference ~ 'Court order' OR details::text ~ 'Unique');
SELECT privacy.disclosed_to('customer', '2') AS bo_after_erasure;
-- A subject without disclosures gets no list.
SELECT privacy.erase_subject('customer', '4', 'consent withdrawn') ? 'notify_recipients' AS listed;
SELECT privacy.record_disclosure('customer', '4', 'hosting', ARRAY['contact.email'], 'contract');
-- Bo's invoice is kept under a legal obligation: its disclosure to an
-- authority is recorded, forgotten at once.
SELECT privacy.record_disclosure('customer', '2', 'authorities', ARRAY['contact.name'], 'legal_obligation',
                                 'Tax audit 2026-9', '{"file": "Unique invoices"}') AS bo_again \gset
SELECT subject, subject_ref = privacy.subject_ref('customer', '2') AS ref_ok,
       reference ~ '^redacted \(keyed hash [0-9a-f]{64}\)$' AS reference_redacted, details ? 'redacted' AS details_redacted
  FROM privacy.disclosures WHERE id = :bo_again;
-- The ledger's own forgetting forgets disclosures too.
SELECT privacy_internal._forget_subject_in_ledgers('customer', '1');
SELECT count(*) AS ada_keys_left FROM privacy.disclosures WHERE subject = '1';

-- The record of processing activities counts disclosures per recipient.
SELECT r ->> 'recipient' AS recipient, r -> 'disclosures' AS disclosures
  FROM jsonb_array_elements(privacy.processing_record() -> 'recipients') r;
SET ROLE disclosure_snoop;
SELECT jsonb_array_length(privacy.processing_record() -> 'recipients') AS recipients;
RESET ROLE;

REVOKE USAGE ON SCHEMA shop FROM disclosure_snoop;
DROP ROLE disclosure_snoop;
REVOKE ALL ON FUNCTION privacy.record_disclosure(text, text, text, text[], text, text, jsonb) FROM disclosure_clerk;
DROP ROLE disclosure_clerk;

DROP SCHEMA shop CASCADE;
DROP EXTENSION opendims_privacy CASCADE;
