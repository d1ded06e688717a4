-- SECURITY LABEL FOR privacy: classifying columns, validation, and how
-- labels, policy entries and types combine in privacy.classified_columns.
SET client_min_messages = warning;
CREATE EXTENSION opendims_privacy CASCADE;
RESET client_min_messages;
\i test/fixtures/shop_schema.sql
\set doc `cat test/fixtures/shop-policy.json`

SECURITY LABEL FOR privacy ON COLUMN shop.customers.email IS 'contact.email';
SECURITY LABEL FOR privacy ON COLUMN shop.order_lines.gift_message IS 'content';
SELECT * FROM privacy.classified_columns ORDER BY table_name::text, column_name;

-- Bad labels: unknown and special categories, tables, views, non-tables.
SECURITY LABEL FOR privacy ON COLUMN shop.customers.phone IS 'contact.fax';
SECURITY LABEL FOR privacy ON COLUMN shop.customers.phone IS 'health';
SECURITY LABEL FOR privacy ON TABLE shop.customers IS 'contact';
CREATE VIEW shop.customer_names AS SELECT name FROM shop.customers;
SECURITY LABEL FOR privacy ON COLUMN shop.customer_names.name IS 'contact.name';
SECURITY LABEL FOR privacy ON SCHEMA shop IS 'contact';
SELECT count(*) AS labels FROM pg_seclabel WHERE provider = 'privacy';

-- The policy document takes precedence over a label on the same column.
SELECT (privacy.apply_policy(:'doc') ->> 'changed')::boolean AS applied;
SELECT table_name, column_name, category, source, origin
  FROM privacy.classified_columns ORDER BY table_name::text, column_name;

-- Labels may use categories the document declares.
SECURITY LABEL FOR privacy ON COLUMN shop.shipments.tracking_note IS 'commerce.gift_message';
SELECT category, origin FROM privacy.classified_columns
 WHERE table_name = 'shop.shipments'::regclass;
-- A document that drops a category still used by a label is refused.
SELECT privacy.apply_policy(jsonb_set(jsonb_set(:'doc'::jsonb, '{version}', '"shop-2"'),
  '{categories}', '[{"name": "commerce"}]')::jsonb #- '{classifications,4}' #>> '{}');
-- Removing the label (IS NULL) is always allowed.
SECURITY LABEL FOR privacy ON COLUMN shop.shipments.tracking_note IS NULL;
SELECT count(*) FROM privacy.classified_columns WHERE table_name = 'shop.shipments'::regclass;

-- Labeling needs ownership of the table, as for every security label.
CREATE ROLE label_stranger;
GRANT USAGE ON SCHEMA shop TO label_stranger;
SET ROLE label_stranger;
SECURITY LABEL FOR privacy ON COLUMN shop.customers.phone IS 'contact.phone';
RESET ROLE;
DROP OWNED BY label_stranger;
DROP ROLE label_stranger;

DROP SCHEMA shop CASCADE;
DROP EXTENSION opendims_privacy CASCADE;
