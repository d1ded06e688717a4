-- Legal holds: on a subject and on a table; the retention job keeps held
-- rows (reporting them) and processes them once the hold is released;
-- privacy_internal._hold_reference() for erasure; holds are audited; bad input.
SET client_min_messages = warning;
CREATE EXTENSION opendims_privacy CASCADE;
RESET client_min_messages;
\set SHOW_CONTEXT never
SET TimeZone = 'UTC';
SET DateStyle = 'ISO, YMD';
\i test/fixtures/shop_schema.sql
\set doc `cat test/fixtures/shop-policy.json`
SELECT (privacy.apply_policy(:'doc') ->> 'changed')::boolean AS applied;
SELECT privacy.install_retention_triggers() ->> 'installed' AS guarded;

INSERT INTO shop.customers (id, name) VALUES (1, 'Ann'), (2, 'Bo'), (3, 'Cy');
INSERT INTO shop.orders (id, customer_id, placed_at, closed_at, delivery_address)
SELECT g, 1 + g % 3, '2015-01-01', '2015-01-02', 'Street ' || g FROM generate_series(1, 9) g;
INSERT INTO shop.invoices (id, order_id, customer_id, issued_on, billing_name)
SELECT g, g, 1 + g % 3, '2015-01-02', 'Name ' || g FROM generate_series(1, 9) g;

-- A hold on customer 2 (reached by invoices directly and by orders), and
-- one on the whole orders table.
SELECT privacy.place_hold('customer', '2', 'Dispute over unpaid invoices', 'Case 2026-17') AS customer_hold;
SELECT privacy.place_hold('shop.orders', 'Tax audit of 2015', 'SKAT-2026-0042') AS table_hold;
SELECT id, kind, subject, table_name, reason, reference, released_at FROM privacy.legal_holds ORDER BY id;

-- What erasure asks: the reference of a hold on a subject or a table.
-- (A hold on a subject is named by its reference's keyed hash, a hold on a
-- table by its reference: erasure receipts are append-only.)
SELECT privacy_internal._hold_reference('customer', '2', 'shop.invoices')
	   = 'redacted (keyed hash ' || privacy_internal._hold_reference_ref('Case 2026-17') || ')' AS customer_2_case_2026_17,
	   privacy_internal._hold_reference('customer', '1', 'shop.invoices') AS customer_1,
	   privacy_internal._hold_reference('customer', '1', 'shop.orders') AS customer_1_orders,
	   privacy_internal._hold_reference('customer', '2', NULL)
	   = 'redacted (keyed hash ' || privacy_internal._hold_reference_ref('Case 2026-17') || ')' AS customer_2_anywhere_case_2026_17;

SELECT rule, rows_due, rows_held, table_hold FROM privacy.retention_status ORDER BY rule;
CALL privacy.enforce_retention();
SELECT id, customer_id, billing_name FROM shop.invoices ORDER BY id;
SELECT count(*) FILTER (WHERE delivery_address IS NOT NULL) AS orders_kept FROM shop.orders;
SELECT rules -> 'invoices' AS invoices, rules -> 'orders' AS orders
  FROM privacy.retention_runs ORDER BY id DESC LIMIT 1;

-- Released holds: the next run processes what they kept.
SELECT privacy.release_hold(1, 'Dispute settled');
SELECT privacy.release_hold(2, 'Audit closed');
SELECT id, released_by IS NOT NULL AS released, release_reason FROM privacy.legal_holds ORDER BY id;
SELECT privacy_internal._hold_reference('customer', '2', 'shop.orders') AS after_release;
CALL privacy.enforce_retention();
SELECT count(*) AS invoices_left FROM shop.invoices;
SELECT count(*) FILTER (WHERE delivery_address IS NOT NULL) AS orders_kept FROM shop.orders;

-- Holds are audited, with a subject reference instead of the subject, and
-- a subject hold's case reference by its keyed hash.
SELECT privacy.seal_audit_log() AS sealed \gset
SELECT action, subject_ref IS NOT NULL AS names_subject,
       summary ->> 'reference_ref' = privacy_internal._hold_reference_ref('Case 2026-17') AS reference_hashed,
       summary - 'reference_ref' AS summary
  FROM privacy.audit_log WHERE action LIKE 'retention.hold%' ORDER BY id;
SELECT privacy.seal_audit_log() AS sealed \gset
SELECT count(*) AS raw_subject_in_log FROM privacy.audit_log
 WHERE action LIKE 'retention.hold%' AND summary::text LIKE '%"2"%';

-- A hold placed while a batch runs waits for the batch to commit, so no
-- batch acts on rows it did not know were held: the job locks the holds.
BEGIN;
SELECT privacy_internal._retention_lock_holds('shop.invoices') AS held_condition;
SELECT mode, granted FROM pg_locks WHERE relation = 'privacy.legal_holds'::regclass;
ROLLBACK;

-- A subject kind that reaches a table by two paths of the same length
-- cannot tell which rows are held: the whole table is kept.
SELECT privacy.apply_policy(jsonb_set(jsonb_set(:'doc'::jsonb, '{version}', '"shop-ambiguous"'),
	'{subject_kinds,0,paths}', '[]')::text) ->> 'changed' AS applied;
CREATE TABLE shop.notes (id integer PRIMARY KEY, customer_id integer REFERENCES shop.customers,
						 other_customer_id integer REFERENCES shop.customers, written_on date, note text);
SELECT privacy.place_hold('customer', '3', 'Complaint', 'Case 2026-18');
SELECT privacy_internal._retention_held_sql('shop.notes') IS NULL AS whole_table_kept,
	   privacy_internal._retention_held_sql('shop.invoices') AS invoices_condition;

-- Bad input.
SELECT privacy.place_hold('supplier', '1', 'Reason', 'Ref');
SELECT privacy.place_hold('customer', '99', 'Reason', 'Ref');
SELECT privacy.place_hold('customer', '1', '', 'Ref');
SELECT privacy.place_hold('customer', '3', 'Again', 'Case 2026-18');
SELECT privacy.place_hold('shop.orders', 'Reason', '');
SELECT privacy.place_hold('pg_catalog.pg_stat_activity', 'Reason', 'Ref');
SELECT privacy.place_hold('shop.orders', 'Audit', 'SKAT-1');
SELECT privacy.place_hold('shop.orders', 'Audit again', 'SKAT-1');
SELECT privacy.release_hold(999, 'No such hold');
SELECT privacy.release_hold(1, 'Twice');
SELECT privacy.release_hold(3, '');

-- A hold in force on a subject kind the policy drops is reported by lint;
-- released holds do not pin a kind.
SELECT privacy.apply_policy(jsonb_set(jsonb_set(:'doc'::jsonb, '{version}', '"shop-no-kinds"'),
	'{subject_kinds}', '[]')::text) ->> 'changed' AS applied;
SELECT severity, object, problem FROM privacy_internal._lint_retention_enforcement() WHERE object LIKE 'legal hold%';

-- Only privileged roles place, release or read holds.
CREATE ROLE hold_clerk;
SET ROLE hold_clerk;
SELECT privacy.place_hold('customer', '1', 'Reason', 'Ref');
SELECT privacy.release_hold(3, 'Reason');
SELECT * FROM privacy.legal_holds;
SELECT privacy_internal._hold_reference('customer', '1', NULL);
RESET ROLE;
DROP ROLE hold_clerk;

SELECT privacy.seal_audit_log() AS sealed \gset
SELECT intact FROM privacy.verify_audit_log();
DROP SCHEMA shop CASCADE;
DROP EXTENSION opendims_privacy CASCADE;
