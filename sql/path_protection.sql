-- Protection along the whole subject path: privacy.protect() also protects
-- every table its row check reads between a protected table and the
-- subject, so that no role can move a hidden subject's rows to a visible
-- one through a table that holds no personal data; lint() reports a path
-- left open.
SET client_min_messages = warning;
CREATE EXTENSION opendims_privacy;
RESET client_min_messages;
\set SHOW_CONTEXT never

-- Invoices reach customers through sales orders, which hold no personal
-- data; delivery notes reach them through invoices; an order may also be
-- billed to an account of a customer. A customer's new key cascades to
-- the customer's orders and accounts.
CREATE SCHEMA pp;
CREATE TABLE pp.customers (id integer PRIMARY KEY, name text NOT NULL);
CREATE TABLE pp.accounts (id integer PRIMARY KEY,
						  customer_id integer NOT NULL REFERENCES pp.customers ON UPDATE CASCADE);
CREATE TABLE pp.sales_order (id integer PRIMARY KEY,
							 customer_id integer NOT NULL REFERENCES pp.customers ON UPDATE CASCADE,
							 account_id integer REFERENCES pp.accounts, placed_on date NOT NULL);
CREATE TABLE pp.invoice (id integer PRIMARY KEY, order_id integer NOT NULL REFERENCES pp.sales_order,
						 billing_name text, billing_address text);
CREATE TABLE pp.delivery_note (id integer PRIMARY KEY, invoice_id integer NOT NULL REFERENCES pp.invoice,
							   recipient text);
CREATE INDEX ON pp.accounts (customer_id);
CREATE INDEX ON pp.sales_order (customer_id);
CREATE INDEX ON pp.sales_order (account_id);
CREATE INDEX ON pp.invoice (order_id);
CREATE INDEX ON pp.delivery_note (invoice_id);
INSERT INTO pp.customers SELECT g, 'Customer ' || g FROM generate_series(1, 5) g;
INSERT INTO pp.accounts SELECT 20 + g, g FROM generate_series(1, 5) g;
INSERT INTO pp.sales_order SELECT 10 + g, g, 20 + g, date '2026-01-01' + g FROM generate_series(1, 5) g;
INSERT INTO pp.invoice SELECT 100 + g, 10 + g, 'Name ' || g, 'Street ' || g FROM generate_series(1, 5) g;
INSERT INTO pp.delivery_note SELECT 200 + g, 100 + g, 'Recipient ' || g FROM generate_series(1, 5) g;
CREATE FUNCTION pp.policy(paths jsonb) RETURNS text LANGUAGE sql AS $$
SELECT jsonb_build_object(
	'format', 1, 'version', 'pp-' || md5(paths::text), 'effective_date', '2026-06-24',
	'controller', jsonb_build_object('name', 'Example ApS', 'contact', 'privacy@example.com'),
	'purposes', jsonb_build_array(jsonb_build_object('name', 'marketing', 'legal_basis', 'consent'),
								  jsonb_build_object('name', 'analytics', 'legal_basis', 'legitimate_interest')),
	'subject_kinds', jsonb_build_array(
		jsonb_build_object('name', 'customer', 'table', 'pp.customers', 'key', 'id', 'paths', paths)),
	'classifications', jsonb_build_array(
		jsonb_build_object('table', 'pp.customers', 'column', 'name', 'category', 'contact.name'),
		jsonb_build_object('table', 'pp.invoice', 'column', 'billing_name', 'category', 'contact.name'),
		jsonb_build_object('table', 'pp.invoice', 'column', 'billing_address', 'category', 'contact.address'),
		jsonb_build_object('table', 'pp.delivery_note', 'column', 'recipient', 'category', 'contact.name')))::text
$$;
SELECT privacy.apply_policy(pp.policy('[]')) ->> 'changed' AS applied;

-- A protection that left the sales orders and the customers open (as one
-- made before 1.8 did, simulated by removing their protection): lint says so.
SELECT privacy.protect('pp.invoice');
SELECT privacy_internal._remove_protection('pp.sales_order'), privacy_internal._remove_protection('pp.customers');
SELECT severity, object, problem, hint FROM privacy.lint() WHERE problem LIKE '%subject path%';
-- Following the hint protects the path.
SELECT privacy.unprotect('pp.invoice'), privacy.protect('pp.invoice');
SELECT table_name, kinds, path_only FROM privacy.protected_tables ORDER BY table_name::text;
SELECT tablename, policyname, permissive, cmd, qual, with_check
  FROM pg_policies WHERE schemaname = 'pp' AND tablename = 'sales_order' ORDER BY policyname;
SELECT relname, relrowsecurity, relforcerowsecurity FROM pg_class
 WHERE relnamespace = 'pp'::regnamespace AND relkind = 'r' ORDER BY relname;
SELECT tgrelid::regclass AS rectification_trigger_on FROM pg_trigger
 WHERE tgname = 'privacy_rectification' ORDER BY tgrelid::regclass::text;
SELECT privacy.seal_audit_log() AS sealed \gset
SELECT summary FROM privacy.audit_log WHERE action IN ('protect', 'unprotect') ORDER BY id DESC LIMIT 2;
SELECT count(*) AS path_findings FROM privacy.lint() WHERE problem LIKE '%subject path%';
-- A table protected for its path holds no personal data, so it has no
-- rectification trigger, and lint does not miss one.
SELECT count(*) AS installed_findings FROM privacy_internal._lint_installed_protection();

-- Customers 1 and 2 consent to marketing, 5 consented and withdrew; 4
-- objected to analytics.
SELECT count(*) AS events FROM (
	SELECT privacy.object('customer', '4', 'analytics')
	UNION ALL SELECT privacy.grant_consent('customer', '1', 'marketing')
	UNION ALL SELECT privacy.grant_consent('customer', '2', 'marketing')
	UNION ALL SELECT privacy.grant_consent('customer', '5', 'marketing')
	UNION ALL SELECT privacy.withdraw_consent('customer', '5', 'marketing')) e;
CREATE ROLE pp_app;
GRANT USAGE ON SCHEMA pp TO pp_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA pp TO pp_app;
SELECT privacy.allow_purpose(p, 'pp_app') FROM unnest(ARRAY['marketing', 'analytics']) p;

SET ROLE pp_app;
-- Without a purpose no sales order is visible; under marketing only those
-- of consenting customers.
SELECT count(*) AS orders_without_purpose FROM pp.sales_order;
SET privacy.purpose = 'marketing';
SELECT id, customer_id FROM pp.sales_order ORDER BY id;
SELECT id, billing_name FROM pp.invoice ORDER BY id;

-- The attack: move customer 5's order to customer 2, read 5's invoices,
-- roll back. The order of 5 cannot be seen, so it is not moved.
BEGIN;
UPDATE pp.sales_order SET customer_id = 2 WHERE customer_id = 5 RETURNING id;
SELECT id, billing_name, billing_address FROM pp.invoice ORDER BY id;
ROLLBACK;
-- Nor through the account it is billed to.
UPDATE pp.sales_order SET account_id = 22 WHERE id = 15 RETURNING id;
-- A new order for customer 5, or a visible order moved to customer 5, is
-- refused with the reason.
INSERT INTO pp.sales_order VALUES (16, 5, NULL, date '2026-02-01');
UPDATE pp.sales_order SET customer_id = 5 WHERE id = 12;
-- Customer 5's order cannot be deleted either.
DELETE FROM pp.sales_order WHERE customer_id = 5 RETURNING id;
-- Customer 5's invoice cannot be moved to a visible order, and a visible
-- invoice cannot be moved onto customer 5's order.
UPDATE pp.invoice SET order_id = 12 WHERE id = 105 RETURNING id;
UPDATE pp.invoice SET order_id = 15 WHERE id = 102;
-- Orders of visible customers are processed as before.
UPDATE pp.sales_order SET placed_on = placed_on + 1 WHERE id = 12 RETURNING id;
INSERT INTO pp.sales_order VALUES (17, 1, NULL, date '2026-02-01') RETURNING id;
DELETE FROM pp.sales_order WHERE id = 17 RETURNING id;
-- Under analytics customer 4, who objected, is hidden: giving customer 4
-- another key, which its orders and accounts would follow, would make its
-- invoice someone else's.
SET privacy.purpose = 'analytics';
UPDATE pp.customers SET id = 99 WHERE id = 4 RETURNING id;
SELECT id, billing_name FROM pp.invoice ORDER BY id;
RESET ROLE;
SELECT id, customer_id, account_id FROM pp.sales_order ORDER BY id;
SELECT id, order_id FROM pp.invoice ORDER BY id;

-- A table protected only for its path cannot be unprotected on its own;
-- it is released with the last table that needs it.
SELECT privacy.unprotect('pp.sales_order');
SELECT privacy.unprotect('pp.invoice');
SELECT table_name, path_only FROM privacy.protected_tables ORDER BY table_name::text;
SELECT privacy.seal_audit_log() AS sealed \gset
SELECT summary FROM privacy.audit_log WHERE action = 'unprotect' ORDER BY id DESC LIMIT 1;
SELECT relname, relrowsecurity, relforcerowsecurity FROM pg_class
 WHERE relnamespace = 'pp'::regnamespace AND relkind = 'r' ORDER BY relname;

-- Two hops: protecting delivery notes protects invoices, sales orders and
-- customers for their path; protecting invoices then makes them protected on their
-- own, and unprotecting delivery notes keeps what invoices need.
SELECT privacy.protect('pp.delivery_note');
SELECT table_name, kinds, path_only FROM privacy.protected_tables ORDER BY table_name::text;
SELECT tgrelid::regclass AS rectification_trigger_on FROM pg_trigger
 WHERE tgname = 'privacy_rectification' ORDER BY tgrelid::regclass::text;
SELECT privacy.protect('pp.invoice');
SELECT privacy.unprotect('pp.delivery_note');
SELECT table_name, path_only FROM privacy.protected_tables ORDER BY table_name::text;
-- Unprotecting a table on another one's path keeps it protected for that
-- one.
SELECT privacy.protect('pp.delivery_note');
SELECT privacy.unprotect('pp.invoice');
SELECT table_name, path_only FROM privacy.protected_tables ORDER BY table_name::text;
SELECT privacy.seal_audit_log() AS sealed \gset
SELECT summary FROM privacy.audit_log WHERE action = 'unprotect' ORDER BY id DESC LIMIT 1;
SELECT privacy.unprotect('pp.delivery_note');
SELECT table_name, path_only FROM privacy.protected_tables ORDER BY table_name::text;

-- Whoever may protect a table must own the tables on its path too.
CREATE ROLE pp_owner;
GRANT USAGE ON SCHEMA pp TO pp_owner;
ALTER TABLE pp.invoice OWNER TO pp_owner;
GRANT EXECUTE ON FUNCTION privacy.protect(regclass) TO pp_owner;
SET ROLE pp_owner;
SELECT privacy.protect('pp.invoice');
RESET ROLE;
REVOKE EXECUTE ON FUNCTION privacy.protect(regclass) FROM pp_owner;
ALTER TABLE pp.invoice OWNER TO CURRENT_USER;

-- The subject map changes after protect(): invoices are pinned to reach
-- customers through the account their order is billed to. The installed
-- policy still reads the sales orders, which stay protected; lint reports
-- the accounts, now on the path, and the sales orders, whose own path
-- differs, and protecting anew is refused until that path is pinned too.
SELECT privacy.protect('pp.invoice');
SELECT privacy.apply_policy(pp.policy(jsonb_build_array(jsonb_build_object(
	'table', 'pp.invoice',
	'via', jsonb_build_array('invoice_order_id_fkey', 'sales_order_account_id_fkey', 'accounts_customer_id_fkey')))))
	->> 'changed' AS applied;
SELECT severity, object, problem, hint FROM privacy_internal._lint_path_tables() ORDER BY object, problem;
SELECT privacy.unprotect('pp.invoice');
SELECT privacy.protect('pp.invoice');
SELECT table_name, path_only FROM privacy.protected_tables ORDER BY table_name::text;
SELECT privacy.apply_policy(pp.policy(jsonb_build_array(
	jsonb_build_object('table', 'pp.invoice',
		'via', jsonb_build_array('invoice_order_id_fkey', 'sales_order_account_id_fkey', 'accounts_customer_id_fkey')),
	jsonb_build_object('table', 'pp.sales_order',
		'via', jsonb_build_array('sales_order_account_id_fkey', 'accounts_customer_id_fkey')))))
	->> 'changed' AS applied;
SELECT privacy.protect('pp.invoice');
SELECT table_name, path_only FROM privacy.protected_tables ORDER BY table_name::text;
SELECT count(*) AS path_findings FROM privacy_internal._lint_path_tables();
-- The moved order is now reached through its account, which is protected.
SET ROLE pp_app;
SET privacy.purpose = 'marketing';
SELECT id, account_id FROM pp.sales_order ORDER BY id;
UPDATE pp.sales_order SET account_id = 22 WHERE id = 15 RETURNING id;
UPDATE pp.accounts SET customer_id = 2 WHERE id = 25 RETURNING id;
UPDATE pp.sales_order SET account_id = 25 WHERE id = 12;
SELECT id, billing_name FROM pp.invoice ORDER BY id;
RESET ROLE;

SET client_min_messages = warning;
DROP SCHEMA pp CASCADE;
DROP EXTENSION opendims_privacy CASCADE;
DROP OWNED BY pp_app, pp_owner;
DROP ROLE pp_app;
DROP ROLE pp_owner;
