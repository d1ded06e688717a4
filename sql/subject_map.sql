-- privacy.subject_map and privacy.foreign_keys: multi-hop and composite
-- paths, pinned and ambiguous paths, cycles, unreachable tables, indexes.
SET client_min_messages = warning;
CREATE EXTENSION opendims_privacy CASCADE;
RESET client_min_messages;
\i test/fixtures/shop_schema.sql
\set doc `cat test/fixtures/shop-policy.json`
SELECT (privacy.apply_policy(:'doc') ->> 'changed')::boolean AS applied;

SELECT kind, table_name, depth, status, personal, indexed, path
  FROM privacy.subject_map ORDER BY kind, depth, table_name::text;

-- Hops in detail for the composite two-hop path.
SELECT jsonb_pretty(hops) FROM privacy.subject_map WHERE table_name = 'shop.shipments'::regclass;

-- Indexing the composite hop makes the path fully indexed.
CREATE INDEX ON shop.shipments (line, order_id);
SELECT indexed FROM privacy.subject_map WHERE table_name = 'shop.shipments'::regclass;
-- A partial index does not count.
CREATE TABLE shop.notes (customer_id integer REFERENCES shop.customers, note text);
CREATE INDEX ON shop.notes (customer_id) WHERE note IS NOT NULL;
SECURITY LABEL FOR privacy ON COLUMN shop.notes.note IS 'support';
SELECT status, indexed FROM privacy.subject_map WHERE table_name = 'shop.notes'::regclass;

-- Without the pinned path, invoices take the shortest path (the direct one).
SELECT privacy.apply_policy(jsonb_set(jsonb_set(:'doc'::jsonb, '{version}', '"shop-2"'),
                                      '{subject_kinds,0,paths}', '[]')::text) -> 'changes';
SELECT status, depth, path FROM privacy.subject_map WHERE table_name = 'shop.invoices'::regclass;
-- Pinning the longer path through orders is allowed too.
SELECT privacy.apply_policy(jsonb_set(jsonb_set(:'doc'::jsonb, '{version}', '"shop-3"'),
                                      '{subject_kinds,0,paths,0,via}',
                                      '["invoices_order_id_fkey", "orders_customer_id_fkey"]')::text) -> 'changes';
SELECT status, depth, path FROM privacy.subject_map WHERE table_name = 'shop.invoices'::regclass;
-- Two shortest paths of the same length: ambiguous until one is pinned.
CREATE TABLE shop.referrals (
	referrer_id integer NOT NULL REFERENCES shop.customers,
	referee_id integer NOT NULL REFERENCES shop.customers,
	note text
);
SECURITY LABEL FOR privacy ON COLUMN shop.referrals.note IS 'content';
SELECT status, depth, path, hops FROM privacy.subject_map WHERE table_name = 'shop.referrals'::regclass;
SELECT severity, problem FROM privacy.lint() WHERE object = 'shop.referrals';
SELECT privacy.apply_policy(jsonb_set(jsonb_set(:'doc'::jsonb, '{version}', '"shop-3b"'),
                                      '{subject_kinds,0,paths}',
                                      '[{"table": "shop.referrals", "via": ["referrals_referrer_id_fkey"]}]')::text) -> 'changes';
SELECT status, depth, path FROM privacy.subject_map WHERE table_name = 'shop.referrals'::regclass;
-- A pinned path that does not end at the anchor is refused.
SELECT privacy.apply_policy(jsonb_set(jsonb_set(:'doc'::jsonb, '{version}', '"shop-4"'),
                                      '{subject_kinds,0,paths,0,via}', '["invoices_order_id_fkey"]')::text);

-- A classified table no subject kind reaches.
CREATE TABLE shop.newsletter (address text);
SECURITY LABEL FOR privacy ON COLUMN shop.newsletter.address IS 'contact.email';
SELECT kind, status, personal FROM privacy.subject_map WHERE table_name = 'shop.newsletter'::regclass;

-- A second kind over the same tables, and a cycle between two tables.
CREATE TABLE shop.a (id integer PRIMARY KEY, b_id integer);
CREATE TABLE shop.b (id integer PRIMARY KEY, a_id integer REFERENCES shop.a, customer_id integer REFERENCES shop.customers);
ALTER TABLE shop.a ADD FOREIGN KEY (b_id) REFERENCES shop.b;
SELECT table_name, depth, status, path FROM privacy.subject_map
 WHERE table_name IN ('shop.a'::regclass, 'shop.b'::regclass) ORDER BY depth;

-- The generated lookups: a row's subject, and a subject's rows.
INSERT INTO shop.customers VALUES (1, 'Ada', 'ada@example.com', NULL, NULL), (2, 'Bo', NULL, NULL, 1);
INSERT INTO shop.orders VALUES (10, 1, now(), NULL, 'Street 1'), (11, 2, now(), NULL, 'Street 2'), (12, 1, now(), NULL, NULL);
INSERT INTO shop.order_lines VALUES (10, 1, 'tea', NULL), (10, 2, 'cup', 'Happy birthday'), (11, 1, 'tea', NULL);
INSERT INTO shop.shipments VALUES (10, 2, 'left at door'), (11, 1, NULL);
INSERT INTO shop.invoices VALUES (100, 10, 1, '2026-01-01', 'Ada'), (101, 11, 2, '2026-01-02', 'Bo');
SELECT privacy_internal._subject_key_sql('customer', 'shop.shipments', 'row');
SELECT privacy_internal._subject_key_sql('customer', 'shop.orders', 'row');
SELECT privacy_internal._subject_key_sql('customer', 'shop.customers', 'row');
SELECT privacy_internal._subject_rows_sql('customer', 'shop.shipments');
SELECT privacy_internal._subject_rows_sql('customer', 'shop.invoices');
CREATE FUNCTION pg_temp.subject_of(rel regclass) RETURNS TABLE (row_data text, subject integer)
LANGUAGE plpgsql AS $$
BEGIN
	RETURN QUERY EXECUTE format('SELECT to_jsonb(r)::text, %s FROM %s r ORDER BY 1',
								privacy_internal._subject_key_sql('customer', rel, 'r'), rel);
END $$;
CREATE FUNCTION pg_temp.rows_of(rel regclass, subject text) RETURNS SETOF text
LANGUAGE plpgsql AS $$
BEGIN
	RETURN QUERY EXECUTE 'SELECT to_jsonb(t0)::text ' || privacy_internal._subject_rows_sql('customer', rel) || ' ORDER BY 1'
	USING subject;
END $$;
SELECT * FROM pg_temp.subject_of('shop.shipments');
SELECT * FROM pg_temp.subject_of('shop.invoices');
SELECT pg_temp.rows_of('shop.shipments', '1');
SELECT pg_temp.rows_of('shop.order_lines', '1');
SELECT pg_temp.rows_of('shop.customers', '2');
SELECT pg_temp.rows_of('shop.orders', '3');
-- The lookup joins down the foreign-key indexes.
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT t0.* FROM shop.shipments AS t0 JOIN shop.order_lines AS t1 ON t1.order_id = t0.order_id AND t1.line = t0.line JOIN shop.orders AS t2 ON t2.id = t1.order_id WHERE t2.customer_id = 1;
RESET enable_seqscan;
-- Errors: unknown kind, unreachable table, ambiguous path.
SELECT privacy_internal._subject_rows_sql('supplier', 'shop.orders');
SELECT privacy_internal._subject_rows_sql('customer', 'shop.products');
SELECT privacy.apply_policy(jsonb_set(jsonb_set(:'doc'::jsonb, '{version}', '"shop-5"'),
                                      '{subject_kinds,0,paths}', '[]')::text) ->> 'changed' AS changed;
SELECT privacy_internal._subject_key_sql('customer', 'shop.referrals', 'r');

-- foreign_keys reports index coverage per constraint.
SELECT constraint_name, from_table, from_columns, to_table, to_columns, indexed
  FROM privacy.foreign_keys WHERE from_table::text LIKE 'shop.%' ORDER BY 1;

DROP SCHEMA shop CASCADE;
DROP EXTENSION opendims_privacy CASCADE;
