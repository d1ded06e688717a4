-- A consent event needs its subject's row in the anchor table, and sees
-- the anchor as a statement run at that point would: rows the same
-- transaction inserted (also earlier in the same statement) or deleted,
-- and rows of the anchor's inheritance children, which its primary key
-- does not cover.
SET client_min_messages = warning;
CREATE EXTENSION opendims_privacy CASCADE;
RESET client_min_messages;
\set SHOW_CONTEXT never

CREATE TABLE customers (id bigint PRIMARY KEY, name text NOT NULL);
CREATE TABLE members (handle text PRIMARY KEY, display_name text);
INSERT INTO customers VALUES (1, 'Ada');
INSERT INTO members VALUES ('ada', 'Ada');
SELECT privacy.apply_policy(jsonb_build_object(
	'format', 1, 'version', 'v1', 'effective_date', '2026-06-24',
	'controller', jsonb_build_object('name', 'Example ApS', 'contact', 'privacy@example.com'),
	'purposes', jsonb_build_array(jsonb_build_object('name', 'marketing', 'legal_basis', 'consent')),
	'subject_kinds', jsonb_build_array(
		jsonb_build_object('name', 'customer', 'table', 'customers', 'key', 'id'),
		jsonb_build_object('name', 'member', 'table', 'members', 'key', 'handle')),
	'classifications', jsonb_build_array(
		jsonb_build_object('table', 'customers', 'column', 'name', 'category', 'contact.name'),
		jsonb_build_object('table', 'members', 'column', 'display_name', 'category', 'contact.name')))::text)
	->> 'changed' AS applied;

SELECT privacy.grant_consent('customer', '1', 'marketing') > 0 AS granted;
SELECT privacy.grant_consent('member', 'ada', 'marketing') > 0 AS granted;
SELECT privacy.grant_consent('customer', '2', 'marketing');
SELECT privacy.grant_consent('member', 'bob', 'marketing');

-- Inserted by the same transaction, or by the same statement before the
-- event: the subject exists.
BEGIN;
INSERT INTO customers VALUES (2, 'Bo');
SELECT privacy.grant_consent('customer', '2', 'marketing') > 0 AS granted;
COMMIT;
WITH c AS (INSERT INTO customers VALUES (3, 'Cy') RETURNING id)
SELECT privacy.grant_consent('customer', c.id::text, 'marketing') > 0 AS granted FROM c;
WITH m AS (INSERT INTO members VALUES ('cy', 'Cy') RETURNING handle)
SELECT privacy.grant_consent('member', m.handle, 'marketing') > 0 AS granted FROM m;

-- Deleted by the same transaction: it no longer does.
BEGIN;
DELETE FROM customers WHERE id = 3;
SELECT privacy.grant_consent('customer', '3', 'marketing');
ROLLBACK;

-- A row of a child table is a row of the anchor, as a query of the anchor
-- reads it.
CREATE TABLE former_customers () INHERITS (customers);
INSERT INTO former_customers VALUES (4, 'Di');
SELECT privacy.grant_consent('customer', '4', 'marketing') > 0 AS granted;
SELECT privacy.grant_consent('customer', '5', 'marketing');
DROP TABLE former_customers;

SELECT kind, subject, status FROM privacy.consent_state ORDER BY kind, subject;

DROP EXTENSION opendims_privacy CASCADE;
DROP TABLE customers, members;
