-- The subject cache: each session keeps a kind's subject map and the
-- statements generated from it until something they were built from
-- changes (the policy, a label, the tables of the map, their schemas);
-- unrelated DDL, VACUUM and ANALYZE leave it as it was. The statements are
-- schema-qualified throughout, so no search_path reaches them.
SET client_min_messages = warning;
CREATE EXTENSION opendims_privacy CASCADE;
RESET client_min_messages;
\set SHOW_CONTEXT never
\i test/fixtures/shop_schema.sql
\set doc `cat test/fixtures/shop-policy.json`
SELECT (privacy.apply_policy(:'doc') ->> 'changed')::boolean AS applied;
\i test/fixtures/shop_data.sql
CREATE FUNCTION pg_temp.build() RETURNS bigint LANGUAGE sql
AS $$ SELECT DISTINCT p.build FROM privacy_internal._subject_plan('customer') p $$;
CREATE FUNCTION pg_temp.order_categories() RETURNS jsonb LANGUAGE sql
AS $$ SELECT privacy.export_subject('customer', '1') -> 'data' -> 'shop.orders' -> 'categories' $$;
SELECT pg_temp.build() AS first_build \gset

-- Unrelated DDL, and VACUUM and ANALYZE of the map's tables, keep the build.
CREATE TEMP TABLE scratch (id integer);
CREATE TABLE public.unrelated (id integer PRIMARY KEY, note text);
DROP TABLE public.unrelated;
VACUUM ANALYZE shop.customers, shop.orders;
SELECT pg_temp.build() = :first_build AS same_build;

-- A new column of a map's table, labelled: the next call reads the kind
-- again and exports the column with its category; the label removed, it
-- is gone from the export.
ALTER TABLE shop.orders ADD COLUMN note text;
SECURITY LABEL FOR privacy ON COLUMN shop.orders.note IS 'content';
SELECT pg_temp.build() > :first_build AS rebuilt;
SELECT pg_temp.order_categories();
SECURITY LABEL FOR privacy ON COLUMN shop.orders.note IS NULL;
SELECT pg_temp.order_categories();
SELECT pg_temp.build() AS second_build \gset

-- A change of the policy's tables is seen by the same transaction, and
-- forgotten when it rolls back.
BEGIN;
UPDATE privacy.categories SET description = 'Where parcels go' WHERE name = 'contact.address';
SELECT e -> 'description' AS in_transaction
  FROM jsonb_array_elements(privacy.export_subject('customer', '1') -> 'categories') e
 WHERE e ->> 'category' = 'contact.address';
ROLLBACK;
SELECT e -> 'description' AS after_rollback
  FROM jsonb_array_elements(privacy.export_subject('customer', '1') -> 'categories') e
 WHERE e ->> 'category' = 'contact.address';
SELECT pg_temp.build() > :second_build AS rebuilt;

-- Renamed schemas, tables and columns on a path are followed.
ALTER SCHEMA shop RENAME TO boutique;
SELECT jsonb_object_keys(privacy.export_subject('customer', '1') -> 'data') AS renamed_schema ORDER BY 1;
ALTER SCHEMA boutique RENAME TO shop;
ALTER TABLE shop.order_lines RENAME TO lines;
ALTER TABLE shop.orders RENAME COLUMN customer_id TO buyer_id;
SELECT jsonb_object_keys(privacy.export_subject('customer', '1') -> 'data') AS renamed_table ORDER BY 1;
SELECT jsonb_array_length(privacy.export_subject('customer', '1') -> 'data' -> 'shop.orders' -> 'rows') AS ada_orders;
ALTER TABLE shop.lines RENAME TO order_lines;
ALTER TABLE shop.orders RENAME COLUMN buyer_id TO customer_id;

-- A table dropped from the map is no longer exported.
DROP TABLE shop.shipments;
SELECT jsonb_object_keys(privacy.export_subject('customer', '1') -> 'data') AS after_drop ORDER BY 1;

-- No operator, function or type of the caller's search_path is reached:
-- an equality that holds for every pair of integers, planted first on the
-- path, changes nothing.
CREATE FUNCTION public.always_equal(integer, integer) RETURNS boolean LANGUAGE sql AS 'SELECT true';
CREATE OPERATOR public.= (LEFTARG = integer, RIGHTARG = integer, FUNCTION = public.always_equal);
SET search_path = public, pg_catalog;
SELECT jsonb_array_length(privacy.export_subject('customer', '1') -> 'data' -> 'shop.orders' -> 'rows') AS ada_orders,
       privacy_internal._canonical_subject('customer', ' 002', true) AS bo;
RESET search_path;
SELECT count(*) AS unqualified_operators FROM privacy_internal._subject_plan('customer') p
 WHERE concat(p.rows_sql, p.erase_sql, p.lock_sql, p.delete_sql, p.statistics_sql) ~ '[^(.]= '
    OR privacy_internal._export_statement('customer') ~ '[^(.]= ';

-- A table's owner's code runs as the owner, with search_path pinned, and
-- what it sets is undone: its trigger cannot set the caller's search_path.
CREATE ROLE subject_cache_owner;
CREATE SCHEMA owned AUTHORIZATION subject_cache_owner;
GRANT USAGE ON SCHEMA shop TO subject_cache_owner;
GRANT REFERENCES, SELECT ON shop.customers TO subject_cache_owner;
SET ROLE subject_cache_owner;
CREATE TABLE owned.notes (customer_id integer REFERENCES shop.customers, note text);
CREATE FUNCTION owned.note_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	RAISE NOTICE 'deleting as %, search_path %', current_user, current_setting('search_path');
	PERFORM set_config('search_path', 'owned, pg_catalog', false);
	RETURN OLD;
END
$$;
CREATE TRIGGER note_deleted BEFORE DELETE ON owned.notes FOR EACH ROW EXECUTE FUNCTION owned.note_deleted();
INSERT INTO owned.notes VALUES (3, 'Cy note');
RESET ROLE;
SECURITY LABEL FOR privacy ON COLUMN owned.notes.note IS 'content';
SELECT r ->> 'rows_deleted' AS deleted FROM privacy.erase_subject('customer', '3', 'consent withdrawn') r;
SHOW search_path;
DROP SCHEMA owned CASCADE;
REVOKE ALL ON SCHEMA shop FROM subject_cache_owner;
REVOKE ALL ON shop.customers FROM subject_cache_owner;
DROP ROLE subject_cache_owner;

-- The cache is the session's: it is not granted to anyone.
SELECT has_function_privilege('public', 'privacy_internal._subject_plan(text)', 'EXECUTE') AS public_may_look;

DROP OPERATOR public.= (integer, integer);
DROP FUNCTION public.always_equal(integer, integer);
DROP SCHEMA shop CASCADE;
DROP EXTENSION opendims_privacy CASCADE;
