-- privacy.lint(): what is missing in how personal data is declared.
SET client_min_messages = warning;
CREATE EXTENSION opendims_privacy CASCADE;
RESET client_min_messages;
\i test/fixtures/shop_schema.sql
\set doc `cat test/fixtures/shop-policy.json`

-- Nothing declared yet: only column names hint at personal data.
SELECT * FROM privacy.lint() WHERE object LIKE 'shop.%';

SELECT (privacy.apply_policy(:'doc') ->> 'changed')::boolean AS applied;
SELECT * FROM privacy.lint() WHERE object LIKE 'shop.%';

-- Fixing what lint reports makes the finding go away.
CREATE INDEX ON shop.shipments (order_id, line);
SELECT severity, object, problem FROM privacy.lint() WHERE object LIKE 'shop.%';

-- A classified column that is dropped later is reported.
ALTER TABLE shop.order_lines DROP COLUMN gift_message;
SELECT severity, object, problem FROM privacy.lint() WHERE severity = 'error';

-- The catalog tables name each other without foreign keys (a parallel
-- restore loads them in any order): a name that refers to nothing, as a
-- hand-edited dump could leave, is reported.
BEGIN;
INSERT INTO privacy.subject_paths (kind, table_name, via)
VALUES ('supplier', 'shop.orders', ARRAY['orders_customer_id_fkey']);
UPDATE privacy.classifications SET category = 'contact.fax', source = 'fax_form'
 WHERE table_name = 'shop.customers'::regclass AND column_name = 'email';
INSERT INTO privacy.masked_recipients VALUES ('nobody');
SELECT severity, object, problem FROM privacy.lint() WHERE problem LIKE '%which the catalog does not have' ORDER BY 2, 3;
ROLLBACK;
SELECT count(*) AS dangling FROM privacy.lint() WHERE problem LIKE '%which the catalog does not have';

-- A rule due to anonymise a personal column before another rule's legal
-- minimum on the same table ends would be stopped by the retention guard.
BEGIN;
INSERT INTO privacy.retention_rules (name, table_name, anchor, period, action, columns, legal_basis)
VALUES ('invoice_names', 'shop.invoices', 'issued_on', '1 year', 'anonymize', '{billing_name}', 'contract');
SELECT severity, object, problem, hint FROM privacy.lint() WHERE problem LIKE 'retention rule %';
ROLLBACK;

-- Anyone may run lint; it reads only the catalog.
CREATE ROLE lint_reader;
SET ROLE lint_reader;
SELECT count(*) > 0 AS has_findings FROM privacy.lint();
RESET ROLE;
DROP ROLE lint_reader;

DROP SCHEMA shop CASCADE;
DROP EXTENSION opendims_privacy CASCADE;
