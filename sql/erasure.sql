-- privacy.erase_subject(): children first, anonymise what the policy keeps
-- without the person, retain what the law keeps, one transaction, a receipt
-- without personal data, idempotent; afterwards the subject's values are
-- nowhere in a dump except the retained rows the receipt names.
SET client_min_messages = warning;
CREATE EXTENSION opendims_privacy CASCADE;
RESET client_min_messages;
\i test/fixtures/shop_schema.sql
\set doc `cat test/fixtures/shop-policy.json`
SELECT (privacy.apply_policy(:'doc') ->> 'changed')::boolean AS applied;
SECURITY LABEL FOR privacy ON COLUMN shop.shipments.tracking_note IS 'content';
\i test/fixtures/shop_data.sql

-- Erasing Ada: lines and shipments deleted unless kept rows reference them,
-- the recent invoice retained under the Bookkeeping Act, the old one deleted,
-- orders anonymised (their retention rule keeps them without the person),
-- and Ada's own row anonymised because kept rows still reference it.
SELECT jsonb_pretty(privacy.erase_subject('customer', '1', 'consent withdrawn') - 'erased_at' - 'subject_ref');
SELECT id, CASE WHEN name LIKE '[erased %]' THEN '[erased …]' ELSE name END AS name, email, phone, referred_by
  FROM shop.customers ORDER BY id;
SELECT id, customer_id, delivery_address FROM shop.orders ORDER BY id;
SELECT * FROM shop.order_lines ORDER BY order_id, line;
SELECT * FROM shop.shipments ORDER BY order_id, line;
SELECT id, customer_id, billing_name FROM shop.invoices ORDER BY id;

-- Idempotent: a second call erases nothing more and says so.
SELECT r ->> 'changed' AS changed, r ->> 'already_erased' AS already_erased,
       r ->> 'rows_deleted' AS deleted, r ->> 'rows_anonymized' AS anonymized,
       r ->> 'rows_retained' AS retained
  FROM privacy.erase_subject('customer', '1', 'consent withdrawn') r;

-- A subject whose anchor row goes entirely: Cy has no orders.
SELECT r -> 'tables' AS tables, r ->> 'rows_deleted' AS deleted
  FROM privacy.erase_subject('customer', '3', 'no longer a customer') r;
SELECT count(*) AS cy_left FROM shop.customers WHERE id = 3;
-- Erasing Cy again: the anchor is gone, the erasure is remembered.
SELECT r ->> 'already_erased' AS already_erased, r ->> 'changed' AS changed, r -> 'tables' AS tables
  FROM privacy.erase_subject('customer', '3', 'no longer a customer') r;

-- Errors, and nothing changes on error.
SELECT privacy.erase_subject('customer', '999', 'whatever');
SELECT privacy.erase_subject('customer', '2', '');
SELECT privacy.erase_subject('customer', '2', NULL);
SELECT privacy.erase_subject('supplier', '2', 'whatever');
SELECT privacy.erase_subject('customer', 'x', 'whatever');
SELECT count(*) AS bo_rows FROM shop.orders WHERE customer_id = 2;

-- The erasures ledger and the audit log hold references and counts only.
-- (A reason that is not a ground of GDPR Art. 17(1) is kept as its keyed
-- hash: request_fulfilment tests it.)
SELECT kind, subject_ref = privacy.subject_ref('customer', '1') AS ada_ref,
       regexp_replace(reason, '[0-9a-f]{64}', '(hash)') AS reason,
       receipt ->> 'rows_deleted' AS deleted
  FROM privacy.erasures ORDER BY id;
SELECT privacy.seal_audit_log() AS sealed \gset
SELECT action, summary ->> 'rows_deleted' AS deleted, summary ->> 'changed' AS changed
  FROM privacy.audit_log WHERE action = 'erasure' ORDER BY id;
SELECT privacy.seal_audit_log() AS sealed \gset
SELECT intact FROM privacy.verify_audit_log();

-- Ada's values are nowhere in a dump of the database, but for the retained
-- invoice the receipt names; Bo's are still there.
\setenv PRIVACY_TEST_DB :DBNAME
\! pg_dump --data-only "$PRIVACY_TEST_DB" > /tmp/opendims_privacy_erasure.sql
\! grep -c -E 'ada\.unique@example\.com|Ada Lovelace-Unique|Ada Street 1 Unique|For Ada Unique|Happy birthday Ada Unique|left at Ada door Unique|Ada Old Billing Unique|\+4511223344|Cy Carlsen-Unique|\+4599887766' /tmp/opendims_privacy_erasure.sql
\! grep -c 'Ada Retained Billing' /tmp/opendims_privacy_erasure.sql
\! grep -c 'Bo Bramsen-Unique' /tmp/opendims_privacy_erasure.sql
\! rm -f /tmp/opendims_privacy_erasure.sql

-- Only roles granted it may erase.
CREATE ROLE erase_stranger;
SET ROLE erase_stranger;
SELECT privacy.erase_subject('customer', '2', 'whatever');
RESET ROLE;
DROP ROLE erase_stranger;

DROP SCHEMA shop CASCADE;
DROP EXTENSION opendims_privacy CASCADE;
