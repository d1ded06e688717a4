-- Dynamic masking and anonymised copies: masking rules in the policy
-- document, masking views for masked roles, every route a masked role might
-- take to a raw value, row security on top, and an anonymised copy that
-- holds no classified value of the source.
SET client_min_messages = warning;
CREATE EXTENSION opendims_privacy CASCADE;
RESET client_min_messages;
\i test/fixtures/shop_schema.sql
INSERT INTO shop.customers VALUES
	(1, 'Jens Mask-Unique', 'jens.unique@example.dk', '+4512345678', NULL),
	(2, 'Anna Mask-Unique', 'anna.unique@firma.dk', NULL, 1);
INSERT INTO shop.orders VALUES
	(10, 1, '2026-03-17 12:00+00', NULL, 'Maskvej 1 Unique'),
	(11, 2, '2026-04-02 09:30+00', NULL, 'Maskgade 2 Unique');
INSERT INTO shop.invoices VALUES (100, 10, 1, '2026-03-18', 'Jens Billing Unique');
INSERT INTO shop.products VALUES (1, 'Teapot');
CREATE ROLE mask_support;
GRANT USAGE ON SCHEMA shop TO mask_support;
GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA shop TO mask_support;
CREATE SCHEMA mask_own AUTHORIZATION mask_support;

-- The document: roles, recipients and rules, validated and round-tripped.
SECURITY LABEL FOR privacy ON COLUMN shop.orders.placed_at IS 'content';
\set doc `cat test/fixtures/shop-masking-policy.json`
SELECT privacy.apply_policy(:'doc') ->> 'changed' AS changed;
SELECT privacy.apply_policy(privacy.policy()::text) ->> 'changed' AS changed_again;
SELECT jsonb_pretty(privacy.policy() -> 'masking');
SELECT jsonb_pretty((privacy.processing_record() -> 'masking') - 'rules');
SELECT table_name, column_name, category, method, parameters, masking_view
  FROM privacy.masked_columns ORDER BY 1::text, 2;
SELECT privacy.apply_policy(jsonb_set(:'doc'::jsonb, '{masking,rules,0}',
	'{"category": "contact.email", "method": "range"}')::text);
SELECT privacy.apply_policy(jsonb_set(:'doc'::jsonb, '{masking,rules,0}',
	'{"category": "contact.email", "table": "shop.customers", "method": "mask"}')::text);
SELECT privacy.apply_policy(jsonb_set(:'doc'::jsonb, '{masking,rules,0}',
	'{"category": "health", "method": "null"}')::text);
SELECT privacy.apply_policy(jsonb_set(:'doc'::jsonb, '{masking,rules,0}',
	'{"category": "contact", "method": "null"}')::text);
SELECT privacy.apply_policy(jsonb_set(:'doc'::jsonb, '{masking,rules,0}',
	'{"table": "shop.customers", "column": "email", "method": "month"}')::text);
SELECT privacy.apply_policy(jsonb_set(:'doc'::jsonb, '{masking,recipients}', '["nobody"]')::text);
SELECT privacy.apply_policy(jsonb_set(:'doc'::jsonb, '{masking,roles}', '["no_such_role"]')::text);
SELECT privacy.apply_policy(jsonb_set(:'doc'::jsonb, '{masking,roles}', '["postgres"]')::text);

-- What the masked role was granted on the tables is gone; it reads views.
SELECT has_table_privilege('mask_support', 'shop.customers', 'SELECT') AS raw_select,
	   has_any_column_privilege('mask_support', 'shop.customers', 'SELECT, INSERT, UPDATE, REFERENCES') AS any_column,
	   has_table_privilege('mask_support', 'shop.products', 'SELECT') AS unclassified_table;
SELECT setconfig FROM pg_db_role_setting WHERE setrole = 'mask_support'::regrole;

SET ROLE mask_support;
SET search_path = privacy_masked, shop;
SELECT * FROM customers ORDER BY id;
SELECT id, customer_id, placed_at, length(delivery_address) AS pseudonym_length FROM orders ORDER BY id;
SELECT * FROM invoices;
SELECT title FROM products;
-- Joins, functions, casts and predicates see masked values only.
SELECT c.name, o.delivery_address = (SELECT delivery_address FROM orders WHERE id = 10) AS same_pseudonym
  FROM customers c JOIN orders o ON o.customer_id = c.id ORDER BY c.id;
SELECT count(*) AS probe_hits FROM customers WHERE email = 'jens.unique@example.dk' OR name LIKE 'Jens M%';
SELECT upper(email), length(name) FROM customers ORDER BY id;
SELECT email::privacy.email FROM customers WHERE id = 1;
SELECT name::integer FROM customers WHERE id = 1;
-- The tables themselves, by name, by COPY, in a function of its own.
SELECT * FROM shop.customers;
SELECT email FROM shop.customers;
COPY shop.customers TO STDOUT;
COPY (SELECT email, phone FROM customers ORDER BY id) TO STDOUT;
CREATE FUNCTION mask_own.peek() RETURNS SETOF text LANGUAGE sql SECURITY DEFINER
	AS $$ SELECT email FROM shop.customers $$;
SELECT mask_own.peek();
-- Writes: no raw value in, and RETURNING gives masked values only.
UPDATE customers SET email = 'x@example.dk' WHERE id = 1;
INSERT INTO shop.customers (id, name) VALUES (3, 'Forged') RETURNING *;
UPDATE shop.customers SET name = name WHERE id = 1 RETURNING email;
-- Prepared statements and cursors.
PREPARE peek AS SELECT email FROM customers WHERE id = $1;
EXECUTE peek(1);
BEGIN;
DECLARE c CURSOR FOR SELECT phone FROM customers WHERE phone IS NOT NULL;
FETCH c;
COMMIT;
-- Planner statistics: none of the tables' sampled values are readable.
RESET ROLE;
CREATE STATISTICS shop.customers_stats (mcv) ON name, email FROM shop.customers;
ANALYZE shop.customers;
SET ROLE mask_support;
SELECT count(*) AS pg_stats_rows FROM pg_stats WHERE schemaname IN ('shop', 'privacy_masked');
SELECT count(*) AS pg_stats_ext_rows FROM pg_stats_ext WHERE schemaname = 'shop';
SELECT count(*) AS pg_stats_ext_exprs_rows FROM pg_stats_ext_exprs WHERE schemaname = 'shop';
-- EXPLAIN ANALYZE shows expressions, never a value.
DO $$
DECLARE
	line text;
	plan text := '';
BEGIN
	FOR line IN EXECUTE 'EXPLAIN (ANALYZE, VERBOSE, COSTS OFF, TIMING OFF) SELECT * FROM customers c JOIN orders o ON o.customer_id = c.id WHERE c.email LIKE ''j%'''
	LOOP
		plan := plan || line;
	END LOOP;
	RAISE NOTICE 'raw value in plan: %', plan ~ '(Unique|jens\.unique|4512345678)';
END
$$;
-- A rule that pseudonymises lets masked roles compute pseudonyms
-- (docs/masking.md, "Limits").
SELECT has_function_privilege('privacy_internal._mask_pseudonym(text)', 'EXECUTE') AS may_pseudonymize;
RESET ROLE;
RESET search_path;

-- A later grant is taken back at once; a grant through PUBLIC is refused.
GRANT SELECT ON shop.customers TO mask_support;
SELECT has_table_privilege('mask_support', 'shop.customers', 'SELECT') AS raw_select_after_grant;
GRANT SELECT (email) ON shop.customers TO PUBLIC;
-- DDL keeps the views current.
ALTER TABLE shop.customers ADD COLUMN nickname text;
SECURITY LABEL FOR privacy ON COLUMN shop.customers.nickname IS 'contact.name';
SELECT pg_get_viewdef('privacy_masked.customers') LIKE '%"left"(customers.nickname, 1) AS nickname%' AS nickname_masked;
ALTER TABLE shop.customers DROP COLUMN nickname;
SELECT count(*) AS views FROM pg_views WHERE schemaname = 'privacy_masked';

-- Row security on top: a purpose-bound, masked role sees only the rows its
-- purpose may process, and those masked.
SELECT privacy.protect('shop.customers');
SELECT privacy.allow_purpose('service', 'mask_support');
SET ROLE mask_support;
SELECT count(*) AS rows_without_purpose FROM privacy_masked.customers;
BEGIN;
SET LOCAL privacy.purpose = 'service';
SELECT id, email FROM privacy_masked.customers ORDER BY id;
COMMIT;
RESET ROLE;

-- The anonymised copy: masked by the rules, keys and foreign keys kept, no
-- classified value of the source and none of the extension's keys.
SELECT table_name, copied_rows FROM privacy.anonymized_copy('shop', 'shop_copy') ORDER BY 1::text;
SELECT * FROM shop_copy.customers ORDER BY id;
SELECT conname FROM pg_constraint WHERE connamespace = 'shop_copy'::regnamespace ORDER BY conname;
SELECT o.id, c.id AS customer FROM shop_copy.orders o JOIN shop_copy.customers c ON c.id = o.customer_id ORDER BY o.id;
SELECT privacy.anonymized_copy('shop', 'shop_copy');
SELECT privacy.anonymized_copy('privacy', 'stolen_keys');
\setenv PRIVACY_TEST_DB :DBNAME
SELECT encode(key, 'hex') AS key_hex FROM privacy._keys WHERE name = 'pseudonym' \gset
\setenv PRIVACY_KEY_HEX :key_hex
\! pg_dump -n shop_copy "$PRIVACY_TEST_DB" > /tmp/opendims_privacy_masking_copy.sql
\! grep -c -E 'jens\.unique@example\.dk|anna\.unique@firma\.dk|Mask-Unique|Maskvej|Maskgade|Billing Unique|\+4512345678|'"$PRIVACY_KEY_HEX" /tmp/opendims_privacy_masking_copy.sql
\! grep -c 'Teapot' /tmp/opendims_privacy_masking_copy.sql
\! rm -f /tmp/opendims_privacy_masking_copy.sql

-- Removing the role from the document takes the views away from it.
SELECT privacy.apply_policy(jsonb_set(jsonb_set(:'doc'::jsonb, '{masking,roles}', '[]'), '{version}', '"shop-masking-2"')::text) ->> 'changed' AS changed;
SELECT count(*) AS views FROM pg_views WHERE schemaname = 'privacy_masked';
SELECT has_schema_privilege('mask_support', 'privacy_masked', 'USAGE') AS schema_usage;

DROP SCHEMA shop_copy CASCADE;
DROP SCHEMA mask_own CASCADE;
SET client_min_messages = warning;
DROP SCHEMA shop CASCADE;
DROP EXTENSION opendims_privacy CASCADE;
DROP OWNED BY mask_support;
DROP ROLE mask_support;
DROP OWNED BY privacy_masking;
DROP ROLE privacy_masking;
