-- A subject path that begins with a foreign key that may be NULL while
-- another foreign key of the table leads to the same subject kind: a row
-- with the first key NULL belongs to no subject along the path (row
-- security lets every purpose see it, export and erasure pass it by)
-- although the second key makes it a subject's. lint() reports such a
-- path as an error with the fix.
SET client_min_messages = warning;
CREATE EXTENSION opendims_privacy CASCADE;
RESET client_min_messages;
\i test/fixtures/shop_schema.sql
\set doc `cat test/fixtures/shop-policy.json`
SELECT (privacy.apply_policy(:'doc') ->> 'changed')::boolean AS applied;
\i test/fixtures/shop_data.sql

-- The shop pins invoices to invoices_customer_id_fkey; customer_id may be
-- NULL, and invoices_order_id_fkey leads to customers through orders.
SELECT severity, object, problem, hint FROM privacy.lint() WHERE problem LIKE '%may be NULL%';
-- What the finding means: an invoice of customer 2's order without a
-- customer_id is no customer's for row security.
INSERT INTO shop.invoices VALUES (103, 11, NULL, '2026-02-12', 'Bo Billing Without Customer');
SELECT privacy.protect('shop.invoices');
CREATE ROLE np_app;
GRANT USAGE ON SCHEMA shop TO np_app;
GRANT SELECT ON shop.invoices TO np_app;
SELECT privacy.allow_purpose('marketing', 'np_app');
SET ROLE np_app;
SET privacy.purpose = 'marketing';
SELECT id, billing_name FROM shop.invoices ORDER BY id;
RESET ROLE;
-- Following the hint: with the row given its customer and the column NOT
-- NULL, the finding is gone and the invoice is customer 2's.
UPDATE shop.invoices SET customer_id = 2 WHERE id = 103;
ALTER TABLE shop.invoices ALTER COLUMN customer_id SET NOT NULL;
SELECT count(*) AS findings FROM privacy.lint() WHERE problem LIKE '%may be NULL%';
SET ROLE np_app;
SET privacy.purpose = 'marketing';
SELECT id, billing_name FROM shop.invoices ORDER BY id;
RESET ROLE;
-- A nullable key on the only path is no finding: a NULL there means no
-- subject.
CREATE TABLE shop.notes (id integer PRIMARY KEY, customer_id integer REFERENCES shop.customers, body text);
SELECT count(*) AS findings FROM privacy.lint() WHERE object = 'shop.notes' AND problem LIKE '%may be NULL%';

DROP SCHEMA shop CASCADE;
DROP OWNED BY np_app;
DROP ROLE np_app;
DROP EXTENSION opendims_privacy;
