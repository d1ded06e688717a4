-- Erasure and the planner's statistics: pg_stats, readable by every role
-- that may read a table, shows sampled values (most common values,
-- histogram bounds, of columns, index expressions and extended
-- statistics). An erasure refreshes the statistics of the tables it
-- changed whose statistics held a value of the subject's rows, says so in
-- its receipt, and leaves other tables' statistics alone.
SET client_min_messages = warning;
CREATE EXTENSION opendims_privacy CASCADE;
RESET client_min_messages;
\set SHOW_CONTEXT never
\i test/fixtures/shop_schema.sql
\set doc `cat test/fixtures/shop-policy.json`
SELECT (privacy.apply_policy(:'doc') ->> 'changed')::boolean AS applied;
-- Only the ANALYZE below makes statistics.
ALTER TABLE shop.customers SET (autovacuum_enabled = false);
ALTER TABLE shop.orders SET (autovacuum_enabled = false);

-- Ada (1) has many orders to the same street, so that her street is a most
-- common value; her e-mail sorts first, so that it is a histogram bound;
-- her name in lower case is a most common value of an index expression,
-- and her phone of an extended statistics object's MCV list.
INSERT INTO shop.customers (id, name, email, phone)
SELECT g, CASE WHEN g = 1 THEN 'Ada Stats-Unique' ELSE 'Customer ' || g END,
	   CASE WHEN g = 1 THEN 'aaa.ada.stats@example.com' ELSE 'c' || g || '@example.com' END,
	   CASE WHEN g = 1 THEN '+4570707070' ELSE NULL END
  FROM generate_series(1, 200) g;
INSERT INTO shop.orders (id, customer_id, placed_at, delivery_address)
SELECT g, CASE WHEN g <= 40 THEN 1 ELSE 2 + g % 150 END, '2026-01-01',
	   CASE WHEN g <= 40 THEN 'Ada Stats Street 1' WHEN g % 2 = 0 THEN 'Common Street 9' ELSE 'Street ' || g END
  FROM generate_series(1, 400) g;
CREATE INDEX customers_lower_name ON shop.customers (lower(name));
-- A partial index whose expression fails outside its predicate (for Ada):
-- the check evaluates it only where the predicate holds.
CREATE INDEX customers_partial ON shop.customers ((100 / (id - 1))) WHERE id <> 1;
CREATE STATISTICS shop.customers_name_phone (mcv) ON name, phone FROM shop.customers;
INSERT INTO shop.customers (id, name, email, phone)
SELECT 1000 + g, 'Ada Stats-Unique', NULL, '+4570707070' FROM generate_series(1, 30) g;
SET default_statistics_target = 10;
ANALYZE shop.customers, shop.orders, shop.invoices;
RESET default_statistics_target;
DELETE FROM shop.customers WHERE id > 1000;

-- Where Ada's values are seen, and by whom: any role that may read the table.
CREATE ROLE stats_reader;
GRANT USAGE ON SCHEMA shop TO stats_reader;
GRANT SELECT ON shop.customers, shop.orders TO stats_reader;
CREATE VIEW pg_temp.ada_in_stats AS
SELECT s.tablename, s.attname
  FROM pg_stats s
 WHERE s.schemaname = 'shop'
   AND concat(s.most_common_vals::text, s.histogram_bounds::text)
		~* '(Ada Stats Street 1|aaa\.ada\.stats@example\.com|\+4570707070|Ada Stats-Unique)'
UNION ALL
SELECT 'extended ' || e.statistics_name, NULL
  FROM pg_stats_ext e
 WHERE e.schemaname = 'shop' AND e.most_common_vals::text ~ '\+4570707070';
SELECT * FROM pg_temp.ada_in_stats ORDER BY 1, 2;
SET ROLE stats_reader;
SELECT tablename, attname FROM pg_stats
 WHERE schemaname = 'shop' AND most_common_vals::text ~ 'Ada Stats Street 1';
RESET ROLE;

-- Erasing someone none of whose values is in the statistics refreshes
-- nothing: the receipt does not mention statistics.
SELECT r ? 'statistics_refreshed' AS refreshed, r ->> 'rows_deleted' AS deleted
  FROM privacy.erase_subject('customer', '200', 'consent withdrawn') r;

-- Customer 100's orders go to a street many others' orders go to: a value
-- the statistics hold, but one that stays in the table, so the orders'
-- statistics stay as they are. Customer 100's name is in the MCV list of
-- the customers' extended statistics (which keeps every combination of a
-- table this small), and the name is anonymised: those are refreshed.
SELECT count(*) AS common_street_in_stats FROM pg_stats
 WHERE schemaname = 'shop' AND tablename = 'orders' AND most_common_vals::text ~ 'Common Street 9';
SELECT statistics_name FROM pg_stats_ext
 WHERE schemaname = 'shop' AND most_common_vals::text ~ '"Customer 100"';
SELECT r -> 'statistics_refreshed' AS refreshed, r -> 'tables' -> 0 ->> 'table' AS changed,
	   r -> 'tables' -> 0 ->> 'anonymized' AS anonymized
  FROM privacy.erase_subject('customer', '100', 'consent withdrawn') r;

-- An erasure rolled back leaves the statistics as they were.
BEGIN;
SELECT r -> 'statistics_refreshed' AS refreshed
  FROM privacy.erase_subject('customer', '1', 'consent withdrawn') r;
SELECT count(*) AS ada_values_in_stats_in_transaction FROM pg_temp.ada_in_stats;
ROLLBACK;
SELECT count(*) AS ada_values_in_stats_after_rollback FROM pg_temp.ada_in_stats;

-- Each kind of statistics is looked at: with only the index expression's,
-- or only the extended statistics' MCV list left to hold her values, the
-- customers' statistics are still refreshed.
BEGIN;
DELETE FROM pg_statistic WHERE starelid = 'shop.customers'::regclass;
DELETE FROM pg_statistic_ext_data
 WHERE stxoid = (SELECT oid FROM pg_statistic_ext WHERE stxname = 'customers_name_phone');
SELECT r -> 'statistics_refreshed' AS refreshed_for_index_expression
  FROM privacy.erase_subject('customer', '1', 'consent withdrawn') r;
ROLLBACK;
BEGIN;
DELETE FROM pg_statistic
 WHERE starelid IN ('shop.customers'::regclass, 'shop.customers_lower_name'::regclass);
SELECT r -> 'statistics_refreshed' AS refreshed_for_extended_statistics
  FROM privacy.erase_subject('customer', '1', 'consent withdrawn') r;
ROLLBACK;

-- Erasing Ada refreshes the statistics of the tables it changed, and says
-- which; afterwards no statistics show her values.
SELECT most_common_vals::text AS orders_common_addresses_before, most_common_freqs AS freqs_before
  FROM pg_stats WHERE schemaname = 'shop' AND tablename = 'orders' AND attname = 'delivery_address';
SELECT r -> 'statistics_refreshed' AS refreshed, r ->> 'rows_deleted' AS deleted
  FROM privacy.erase_subject('customer', '1', 'consent withdrawn') r;
SELECT * FROM pg_temp.ada_in_stats ORDER BY 1, 2;
-- The orders' statistics lost Ada's street, with its frequency, and kept
-- the rest as sampled (no new ANALYZE); the customers', whose extended
-- statistics held her values, were analyzed again.
SELECT most_common_vals::text AS orders_common_addresses_after, most_common_freqs AS freqs_after
  FROM pg_stats WHERE schemaname = 'shop' AND tablename = 'orders' AND attname = 'delivery_address';

-- The audit entry of the erasure is as before: counts, no table names.
SELECT privacy.seal_audit_log() AS sealed \gset
SELECT summary ? 'statistics_refreshed' AS audit_names_tables
  FROM privacy.audit_log WHERE action = 'erasure' ORDER BY id DESC LIMIT 1;

-- The session keeps each column's sampled values until that column's
-- statistics change: a new ANALYZE shows the new values at once, and
-- rolling it back shows the old ones again.
CREATE FUNCTION pg_temp.sampled(rel regclass, col name, wanted text[]) RETURNS text[]
LANGUAGE sql AS $$
	SELECT privacy_internal._statistics_values(rel, a.attnum, wanted)
	  FROM pg_attribute a WHERE a.attrelid = rel AND a.attname = col
$$;
SELECT pg_temp.sampled('shop.orders', 'delivery_address', '{Common Street 9,Later Street 5}') AS orders_sampled,
	   pg_temp.sampled('shop.customers', 'email', '{c2@example.com,later@example.com}') AS customers_sampled;
BEGIN;
UPDATE shop.orders SET delivery_address = 'Later Street 5';
ANALYZE shop.orders;
SELECT pg_temp.sampled('shop.orders', 'delivery_address', '{Common Street 9,Later Street 5}') AS orders_analyzed,
	   pg_temp.sampled('shop.customers', 'email', '{c2@example.com,later@example.com}') AS customers_unchanged;
ROLLBACK;
SELECT pg_temp.sampled('shop.orders', 'delivery_address', '{Common Street 9,Later Street 5}') AS orders_rolled_back;
UPDATE shop.customers SET email = 'later@example.com' WHERE id = 2;
ANALYZE shop.customers;
SELECT pg_temp.sampled('shop.customers', 'email', '{c2@example.com,later@example.com}') AS customers_analyzed,
	   pg_temp.sampled('shop.orders', 'delivery_address', '{Common Street 9,Later Street 5}') AS orders_unchanged;

DROP SCHEMA shop CASCADE;
DROP ROLE stats_reader;
DROP EXTENSION opendims_privacy CASCADE;
