-- What row security does not hide, as docs/security.md says ("What row
-- security does not cover"): PostgreSQL applies row policies as filters and
-- checks constraints against every row, so a role can learn that a hidden
-- row exists (never its values) from the filter counts of EXPLAIN ANALYZE
-- and from a unique violation. These tests keep that document honest: if
-- one starts failing, PostgreSQL changed and docs/security.md must say so.
SET client_min_messages = warning;
CREATE EXTENSION opendims_privacy CASCADE;
RESET client_min_messages;
\set SHOW_CONTEXT never

CREATE SCHEMA lim;
CREATE TABLE lim.customers (id integer PRIMARY KEY, name text NOT NULL, email text UNIQUE);
INSERT INTO lim.customers VALUES (1, 'Customer 1', 'one@example.com'), (2, 'Customer 2', 'two@example.com');
SELECT privacy.apply_policy(jsonb_build_object(
	'format', 1, 'version', 'lim-1', 'effective_date', '2026-06-24',
	'controller', jsonb_build_object('name', 'Example ApS', 'contact', 'privacy@example.com'),
	'purposes', jsonb_build_array(jsonb_build_object('name', 'marketing', 'legal_basis', 'consent')),
	'subject_kinds', jsonb_build_array(
		jsonb_build_object('name', 'customer', 'table', 'lim.customers', 'key', 'id')),
	'classifications', jsonb_build_array(
		jsonb_build_object('table', 'lim.customers', 'column', 'name', 'category', 'contact.name'),
		jsonb_build_object('table', 'lim.customers', 'column', 'email', 'category', 'contact.email')))::text)
	->> 'changed' AS applied;
SELECT privacy.protect('lim.customers');
-- Customer 1 consents to marketing; customer 2 does not.
SELECT privacy.grant_consent('customer', '1', 'marketing') > 0 AS granted;
CREATE ROLE lim_app;
GRANT USAGE ON SCHEMA lim TO lim_app;
GRANT SELECT, UPDATE ON lim.customers TO lim_app;
SELECT privacy.allow_purpose('marketing', 'lim_app');

SET ROLE lim_app;
SET privacy.purpose = 'marketing';
SET enable_seqscan = off;
-- Customer 2 is hidden.
SELECT id FROM lim.customers ORDER BY id;
SELECT count(*) AS found FROM lim.customers WHERE email = 'two@example.com';
-- EXPLAIN ANALYZE counts the rows the policy removed: one for an address
-- a hidden customer has, none for an address nobody has.
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)
SELECT id FROM lim.customers WHERE email = 'two@example.com';
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)
SELECT id FROM lim.customers WHERE email = 'nobody@example.com';
-- A unique violation tells that the address is taken, by a row the role
-- cannot see; the error does not show the key (PostgreSQL leaves it out
-- when row security applies to the table).
UPDATE lim.customers SET email = 'two@example.com' WHERE id = 1;
UPDATE lim.customers SET email = 'three@example.com' WHERE id = 1 RETURNING id, email;
RESET ROLE;

SET client_min_messages = warning;
DROP SCHEMA lim CASCADE;
DROP EXTENSION opendims_privacy CASCADE;
DROP OWNED BY lim_app;
DROP ROLE lim_app;
