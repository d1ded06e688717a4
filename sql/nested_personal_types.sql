-- Columns whose type holds a personal-data type: a composite type with an
-- e-mail field, arrays of it, domains over it, composites nested in
-- composites, a table's row type, ranges. They are classified, exported,
-- erased and reported like any other personal column.
SET client_min_messages = warning;
CREATE EXTENSION opendims_privacy CASCADE;
RESET client_min_messages;
\i test/fixtures/shop_schema.sql
\set doc `cat test/fixtures/shop-policy.json`
SELECT (privacy.apply_policy(:'doc') ->> 'changed')::boolean AS applied;
\i test/fixtures/shop_data.sql

CREATE SCHEMA crm2;
CREATE TYPE crm2.ct AS (label text, e privacy.email);
CREATE DOMAIN crm2.ct_domain AS crm2.ct;
CREATE TYPE crm2.card AS (numbers crm2.ct[], phone privacy.phone);
CREATE TYPE crm2.plain AS (label text, n integer);
CREATE TYPE crm2.ip_range AS RANGE (subtype = privacy.ip_address);
CREATE TABLE crm2.contacts2 (
	customer_id integer REFERENCES shop.customers,
	c crm2.ct,
	cs crm2.ct[],
	d crm2.ct_domain,
	card crm2.card,
	p crm2.plain,
	whole_customer shop.customers,
	note text
);
CREATE INDEX ON crm2.contacts2 (customer_id);
INSERT INTO crm2.contacts2 VALUES
	(1, ROW('work', 'eve.unique@example.com'), ARRAY[ROW('home', 'eve.home-unique@example.com')::crm2.ct],
	 ROW('old', 'eve.old-unique@example.com'), ROW(ARRAY[ROW('x', 'eve.card-unique@example.com')::crm2.ct], '+4522334455'),
	 ROW('plain', 1), (SELECT c FROM shop.customers c WHERE id = 1), 'a note'),
	(2, ROW('work', 'bo.work@example.com'), NULL, NULL, NULL, ROW('plain', 2), NULL, 'kept');
-- A table of customers' alternative contacts, kept anonymous when orders
-- still reference the customer.
ALTER TABLE shop.customers ADD COLUMN alternative crm2.ct;
UPDATE shop.customers SET alternative = ROW('alt', 'ada.alt-unique@example.com') WHERE id = 1;

SELECT table_name, column_name, category, origin FROM privacy.classified_columns
 WHERE table_name IN ('crm2.contacts2'::regclass, 'shop.customers'::regclass) ORDER BY 1, 2;
-- A plain composite holds no personal data; a range over IP addresses does.
SELECT t.oid::regtype AS type, pt.category
  FROM pg_type t LEFT JOIN privacy_internal._personal_types() pt ON pt.type_oid = t.oid
 WHERE t.oid IN ('crm2.ct'::regtype, 'crm2.ct[]'::regtype, 'crm2.ct_domain'::regtype, 'crm2.card'::regtype,
				 'crm2.plain'::regtype, 'crm2.ip_range'::regtype, 'crm2.ip_multirange'::regtype,
				 'shop.customers'::regtype, 'shop.products'::regtype)
 ORDER BY t.oid::regtype::text;

-- lint sees the table: it holds personal data and is not protected.
SELECT severity, problem FROM privacy.lint() WHERE object = 'crm2.contacts2' ORDER BY problem;

-- Export includes the columns, with their category.
SELECT privacy.export_subject('customer', '1') -> 'data' -> 'crm2.contacts2' -> 'categories' AS categories;
SELECT privacy.export_subject('customer', '1') -> 'data' -> 'crm2.contacts2' -> 'rows' -> 0 -> 'c' AS c;

-- Erasure deletes the rows; where a row is kept (customer 1 is referenced
-- by an invoice kept for bookkeeping) the composite column is cleared.
SELECT t ->> 'table' AS "table", t -> 'deleted' AS deleted, t -> 'anonymized' AS anonymized
  FROM jsonb_array_elements(privacy.erase_subject('customer', '1', 'consent withdrawn') -> 'tables') t
 WHERE t ->> 'table' IN ('crm2.contacts2', 'shop.customers');
SELECT customer_id, c, note FROM crm2.contacts2 ORDER BY 1;
SELECT id, alternative FROM shop.customers WHERE id = 1;
SELECT count(*) AS erased_values_left FROM crm2.contacts2 WHERE contacts2::text ~ 'unique';

-- Protection applies to the table like to any other personal table.
SELECT privacy.protect('crm2.contacts2');
SELECT table_name::text FROM privacy.protected_tables WHERE table_name = 'crm2.contacts2'::regclass;

-- Personal data that export and erasure do not reach: a materialized view
-- holding such a column is reported.
CREATE MATERIALIZED VIEW crm2.contact_copy AS SELECT customer_id, c, note FROM crm2.contacts2;
SELECT severity, object, problem FROM privacy.lint() WHERE object LIKE 'crm2.contact_copy%';

SET client_min_messages = warning;
DROP SCHEMA crm2 CASCADE;
DROP SCHEMA shop CASCADE;
DROP EXTENSION opendims_privacy CASCADE;
