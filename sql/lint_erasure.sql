-- lint() foresees erasures that cannot succeed: a classified NOT NULL
-- column of a type erasure cannot clear, in a table whose rows erasure
-- anonymises instead of deleting (its rule anonymises, or rows kept
-- elsewhere reference them), is named with the fix before any request.
SET client_min_messages = warning;
CREATE EXTENSION opendims_privacy CASCADE;
RESET client_min_messages;
\set SHOW_CONTEXT never
\i test/fixtures/shop_schema.sql
\set doc `cat test/fixtures/shop-policy.json`
SELECT (privacy.apply_policy(:'doc') ->> 'changed')::boolean AS applied;

-- The shop policy as it is: nothing to foresee.
SELECT count(*) AS findings FROM privacy.lint() WHERE problem LIKE '%erasure cannot clear%';

-- A table whose rows retained invoices reference: customers (an integer
-- column classified, NOT NULL), and orders (its placed_at, whose rule also
-- anonymises). A nullable or text column is fine.
ALTER TABLE shop.customers ADD COLUMN born smallint NOT NULL DEFAULT 1990;
ALTER TABLE shop.customers ADD COLUMN nickname text NOT NULL DEFAULT 'x';
SECURITY LABEL FOR privacy ON COLUMN shop.customers.born IS 'contact';
SECURITY LABEL FOR privacy ON COLUMN shop.customers.nickname IS 'contact';
SECURITY LABEL FOR privacy ON COLUMN shop.orders.placed_at IS 'commerce';
SELECT severity, object, problem, hint FROM privacy.lint()
 WHERE problem LIKE '%erasure cannot clear%' ORDER BY object;

-- What lint foresaw: the erasure of a customer with such rows fails.
INSERT INTO shop.customers (id, name) VALUES (1, 'Ann');
INSERT INTO shop.orders VALUES (1, 1, now(), now(), 'Street 1');
INSERT INTO shop.invoices VALUES (1, 1, 1, current_date, 'Ann');
SELECT privacy.erase_subject('customer', '1', 'consent withdrawn');

-- The fixes lint names clear the findings, and the erasure succeeds.
ALTER TABLE shop.customers ALTER COLUMN born DROP NOT NULL;
SECURITY LABEL FOR privacy ON COLUMN shop.orders.placed_at IS NULL;
SELECT count(*) AS findings FROM privacy.lint() WHERE problem LIKE '%erasure cannot clear%';
SELECT r ->> 'rows_anonymized' AS anonymized, r ->> 'rows_retained' AS retained
  FROM privacy.erase_subject('customer', '1', 'consent withdrawn') r;

-- A table that only a legal hold would make erasure anonymise: a warning.
CREATE TABLE shop.notes (id integer PRIMARY KEY, customer_id integer NOT NULL REFERENCES shop.customers,
	written_on date NOT NULL);
CREATE TABLE shop.note_links (note_id integer NOT NULL REFERENCES shop.notes, url text);
SECURITY LABEL FOR privacy ON COLUMN shop.notes.written_on IS 'contact';
SECURITY LABEL FOR privacy ON COLUMN shop.note_links.url IS 'contact';
SELECT severity, object, problem FROM privacy.lint()
 WHERE problem LIKE '%erasure cannot clear%' ORDER BY object;

DROP SCHEMA shop CASCADE;
DROP EXTENSION opendims_privacy CASCADE;
