-- The write check of protected tables: a row the purpose may not write is
-- refused with one error, whatever the reason (no consent, an objection, a
-- restriction, an erased subject, a subject out of sight), naming the
-- purpose but not the subject's status; and the kept, anonymised rows of
-- an erased subject can be read but not written, so that no one can
-- attach the person's data to them again.
SET client_min_messages = warning;
CREATE EXTENSION opendims_privacy CASCADE;
RESET client_min_messages;
\set SHOW_CONTEXT never
\i test/fixtures/shop_schema.sql
\i test/fixtures/shop_data.sql
\set doc `cat test/fixtures/shop-policy.json`
SELECT (privacy.apply_policy(:'doc') ->> 'changed')::boolean AS applied;
SELECT privacy.protect('shop.customers'), privacy.protect('shop.orders'), privacy.protect('shop.invoices');
CREATE ROLE wr_app;
GRANT USAGE ON SCHEMA shop TO wr_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA shop TO wr_app;
SELECT privacy.allow_purpose(p, 'wr_app') FROM unnest(ARRAY['service', 'marketing', 'bookkeeping']) p;
-- Customer 1 consents to marketing; 3 asked for restriction.
SELECT privacy.grant_consent('customer', '1', 'marketing') > 0 AS granted,
	   privacy.restrict('customer', '3', 'accuracy contested') > 0 AS restricted;

-- One error for every refusal: SQLSTATE 42501, nothing in it of consent,
-- objection or restriction.
SET ROLE wr_app;
SET privacy.purpose = 'service';
INSERT INTO shop.orders VALUES (41, 3, now(), NULL, 'Cy New Street');
\echo :LAST_ERROR_SQLSTATE
SET privacy.purpose = 'marketing';
INSERT INTO shop.orders VALUES (42, 2, now(), NULL, 'Bo New Street');
\echo :LAST_ERROR_SQLSTATE
UPDATE shop.orders SET customer_id = 3 WHERE id = 10;
\echo :LAST_ERROR_SQLSTATE
-- A customer that does not exist passes the check and meets the foreign key.
SET privacy.purpose = 'service';
INSERT INTO shop.orders VALUES (43, 999, now(), NULL, 'Nobody Street');
-- Without a purpose, the error says so.
RESET privacy.purpose;
INSERT INTO shop.orders VALUES (44, 1, now(), NULL, 'Ada New Street');
RESET ROLE;

-- Customer 2 is erased; an invoice under its legal minimum keeps the
-- customer's row, anonymised.
SELECT r ->> 'rows_retained' AS retained, r ->> 'rows_anonymized' AS anonymized
  FROM privacy.erase_subject('customer', '2', 'consent withdrawn') r;
SET ROLE wr_app;
SET privacy.purpose = 'service';
-- The kept rows are read as before.
SELECT id, name LIKE '[erased %' AS anonymised FROM shop.customers WHERE id = 2;
SELECT id, customer_id FROM shop.invoices WHERE customer_id = 2;
-- Writing the person back is refused: the kept row, a new row referencing
-- it, and a row moved to it,
UPDATE shop.customers SET name = 'Bo Reidentified', email = 'bo.again@example.com' WHERE id = 2;
\echo :LAST_ERROR_SQLSTATE
INSERT INTO shop.orders VALUES (30, 2, now(), NULL, 'Bo New Street Unique');
UPDATE shop.orders SET customer_id = 2 WHERE id = 12;
-- under every purpose, bookkeeping (allowed under restriction) included.
SET privacy.purpose = 'bookkeeping';
UPDATE shop.customers SET phone = '+4512121212' WHERE id = 2;
-- Other customers are written as before.
SET privacy.purpose = 'service';
UPDATE shop.customers SET email = 'ada.new@example.com' WHERE id = 1;
INSERT INTO shop.orders VALUES (31, 1, now(), NULL, 'Ada New Street');
RESET ROLE;
SELECT count(*) AS reidentified FROM shop.customers WHERE name LIKE 'Bo %' OR email LIKE 'bo%' OR phone = '+4512121212';
SELECT count(*) AS orders_of_2 FROM shop.orders WHERE customer_id = 2;

-- The check remembers that customer 1 may be written; the erasure of
-- customer 1 (whose recent invoice keeps the customer's row) makes the
-- next write refused.
SELECT r ->> 'rows_retained' AS retained FROM privacy.erase_subject('customer', '1', 'consent withdrawn') r;
SET ROLE wr_app;
SET privacy.purpose = 'service';
UPDATE shop.customers SET email = 'ada.again@example.com' WHERE id = 1;
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;
SELECT count(*) AS reidentified FROM shop.customers WHERE email LIKE 'ada%';

DROP SCHEMA shop CASCADE;
DROP OWNED BY wr_app;
DROP ROLE wr_app;
DROP EXTENSION opendims_privacy;
