-- Consent-aware row policies: privacy.protect() makes every query see, and
-- write, only the rows of subjects its purpose may lawfully process now.
SET client_min_messages = warning;
CREATE EXTENSION opendims_privacy CASCADE;
RESET client_min_messages;
\set SHOW_CONTEXT never

-- Customers (integer keys) and members (text keys); orders and their lines
-- reach customers through one and two foreign keys; visits reach both kinds.
CREATE SCHEMA crm;
CREATE TABLE crm.customers (id bigint PRIMARY KEY, name text NOT NULL);
CREATE TABLE crm.orders (id integer PRIMARY KEY, customer_id bigint REFERENCES crm.customers, note text);
CREATE INDEX ON crm.orders (customer_id);
CREATE TABLE crm.order_lines (order_id integer NOT NULL REFERENCES crm.orders, line integer NOT NULL,
							  gift_message text, PRIMARY KEY (order_id, line));
CREATE TABLE crm.members (handle text PRIMARY KEY, display_name text);
CREATE TABLE crm.visits (id integer PRIMARY KEY, member text REFERENCES crm.members,
						 customer_id bigint REFERENCES crm.customers, page text);
CREATE INDEX ON crm.visits (member);
CREATE INDEX ON crm.visits (customer_id);
CREATE TABLE crm.notes (id integer PRIMARY KEY, customer_id bigint REFERENCES crm.customers,
						body text, author name NOT NULL DEFAULT current_user);
CREATE TABLE crm.products (id integer PRIMARY KEY, title text);
CREATE TABLE crm.loose (id integer PRIMARY KEY, email text);
INSERT INTO crm.customers SELECT g, 'Customer ' || g FROM generate_series(1, 6) g;
INSERT INTO crm.orders SELECT 10 + g, g, 'order of ' || g FROM generate_series(1, 6) g;
INSERT INTO crm.orders VALUES (99, NULL, 'anonymous order');
INSERT INTO crm.order_lines SELECT 10 + g, 1, 'gift ' || g FROM generate_series(1, 6) g;
INSERT INTO crm.members VALUES ('ada', 'Ada'), ('bob', 'Bob');
INSERT INTO crm.visits VALUES (1, 'ada', 1, '/a'), (2, 'bob', 2, '/b'), (3, 'ada', NULL, '/c'), (4, NULL, 3, '/d');
INSERT INTO crm.notes VALUES (1, 1, 'note on 1'), (2, 3, 'note on 3');
SELECT privacy.apply_policy(jsonb_build_object(
	'format', 1, 'version', 'crm-1', 'effective_date', '2026-06-24',
	'controller', jsonb_build_object('name', 'Example ApS', 'contact', 'privacy@example.com'),
	'purposes', jsonb_build_array(
		jsonb_build_object('name', 'service', 'legal_basis', 'contract'),
		jsonb_build_object('name', 'marketing', 'legal_basis', 'consent'),
		jsonb_build_object('name', 'analytics', 'legal_basis', 'legitimate_interest'),
		jsonb_build_object('name', 'bookkeeping', 'legal_basis', 'legal_obligation',
						   'allowed_under_restriction', true)),
	'subject_kinds', jsonb_build_array(
		jsonb_build_object('name', 'customer', 'table', 'crm.customers', 'key', 'id'),
		jsonb_build_object('name', 'member', 'table', 'crm.members', 'key', 'handle')),
	'classifications', jsonb_build_array(
		jsonb_build_object('table', 'crm.customers', 'column', 'name', 'category', 'contact.name'),
		jsonb_build_object('table', 'crm.orders', 'column', 'note', 'category', 'content'),
		jsonb_build_object('table', 'crm.order_lines', 'column', 'gift_message', 'category', 'content'),
		jsonb_build_object('table', 'crm.members', 'column', 'display_name', 'category', 'contact.name'),
		jsonb_build_object('table', 'crm.visits', 'column', 'page', 'category', 'credentials.behaviour'),
		jsonb_build_object('table', 'crm.notes', 'column', 'body', 'category', 'content'),
		jsonb_build_object('table', 'crm.loose', 'column', 'email', 'category', 'contact.email')))::text)
	->> 'changed' AS applied;

-- lint reports personal tables without row policies.
SELECT severity, object, problem FROM privacy_internal._lint_protection() ORDER BY object;

-- What protect() refuses.
CREATE VIEW crm.customer_view AS SELECT * FROM crm.customers;
SELECT privacy.protect('crm.customer_view');
SELECT privacy.protect('crm.products');
SELECT privacy.protect('crm.loose');
SELECT privacy.protect(NULL);
SELECT privacy.unprotect('crm.customers');
-- Only superusers may call protect() and unprotect(), and whoever they
-- grant them to may use them only on tables they own.
CREATE ROLE rp_app;
GRANT USAGE ON SCHEMA crm TO rp_app;
SET ROLE rp_app;
SELECT privacy.protect('crm.customers');
RESET ROLE;
GRANT EXECUTE ON FUNCTION privacy.protect(regclass), privacy.unprotect(regclass) TO rp_app;
SET ROLE rp_app;
SELECT privacy.protect('crm.customers');
RESET ROLE;
REVOKE EXECUTE ON FUNCTION privacy.protect(regclass), privacy.unprotect(regclass) FROM rp_app;

-- notes already has row security and a policy of its own: protect() adds
-- its restrictive policy beside it.
ALTER TABLE crm.notes ENABLE ROW LEVEL SECURITY;
CREATE POLICY own_notes ON crm.notes USING (author = current_user);
SELECT privacy.protect(t) FROM unnest(ARRAY['crm.customers', 'crm.orders', 'crm.order_lines',
	'crm.members', 'crm.visits', 'crm.notes']::regclass[]) t;
SELECT privacy.protect('crm.customers');
SELECT table_name, kinds, base_policy, had_row_security, had_force_row_security
  FROM privacy.protected_tables ORDER BY table_name::text;
SELECT tablename, policyname, permissive, cmd, qual, with_check
  FROM pg_policies WHERE schemaname = 'crm' ORDER BY tablename, policyname;
SELECT relname, relrowsecurity, relforcerowsecurity FROM pg_class
 WHERE relnamespace = 'crm'::regnamespace AND relkind = 'r' ORDER BY relname;
SELECT privacy.seal_audit_log() AS sealed \gset
SELECT summary FROM privacy.audit_log WHERE action = 'protect' ORDER BY id;
SELECT severity, object, problem FROM privacy_internal._lint_protection() ORDER BY object;

-- The ledger: customers 1 and 2 consent to marketing, 3 consented and
-- withdrew, 4 asked for restriction, 5 objected to analytics; member ada
-- consents to marketing, bob objected to analytics.
SELECT count(*) AS events FROM (
	SELECT privacy.grant_consent('customer', '1', 'marketing')
	UNION ALL SELECT privacy.grant_consent('customer', '2', 'marketing')
	UNION ALL SELECT privacy.grant_consent('customer', '3', 'marketing')
	UNION ALL SELECT privacy.withdraw_consent('customer', '3', 'marketing')
	UNION ALL SELECT privacy.restrict('customer', '4', 'accuracy contested')
	UNION ALL SELECT privacy.object('customer', '5', 'analytics')
	UNION ALL SELECT privacy.grant_consent('member', 'ada', 'marketing')
	UNION ALL SELECT privacy.object('member', 'bob', 'analytics')) e;

GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA crm TO rp_app;
SELECT privacy.allow_purpose(p, 'rp_app') FROM unnest(ARRAY['service', 'marketing', 'analytics', 'bookkeeping']) p;
CREATE VIEW crm.rows_seen AS
SELECT 'customers' AS t, string_agg(id::text, ',' ORDER BY id) AS rows FROM crm.customers
UNION ALL SELECT 'orders', string_agg(id::text, ',' ORDER BY id) FROM crm.orders
UNION ALL SELECT 'order_lines', string_agg(order_id::text, ',' ORDER BY order_id) FROM crm.order_lines
UNION ALL SELECT 'members', string_agg(handle, ',' ORDER BY handle) FROM crm.members
UNION ALL SELECT 'visits', string_agg(id::text, ',' ORDER BY id) FROM crm.visits;
ALTER VIEW crm.rows_seen SET (security_invoker = true);
GRANT SELECT ON crm.rows_seen TO rp_app;

-- Without a purpose nothing personal is visible.
SET ROLE rp_app;
SELECT * FROM crm.rows_seen;
-- marketing (consent): only subjects with a current consent; an order of
-- no customer is no customer's data; a visit must pass both kinds.
SET privacy.purpose = 'marketing';
SELECT * FROM crm.rows_seen;
-- analytics (legitimate interest): everyone but objectors and the restricted.
SET privacy.purpose = 'analytics';
SELECT * FROM crm.rows_seen;
-- service (contract): everyone but the restricted.
SET privacy.purpose = 'service';
SELECT * FROM crm.rows_seen;
-- bookkeeping (legal obligation, allowed under restriction): everyone.
SET privacy.purpose = 'bookkeeping';
SELECT * FROM crm.rows_seen;
-- notes keep their own policy too: rp_app wrote none of them.
SELECT count(*) AS notes_seen FROM crm.notes;
RESET ROLE;

-- A change of the ledger is honoured by the very next statement.
SET ROLE rp_app;
SET privacy.purpose = 'marketing';
SELECT string_agg(id::text, ',' ORDER BY id) AS before FROM crm.customers;
RESET ROLE;
SELECT privacy.withdraw_consent('customer', '2', 'marketing') > 0 AS withdrawn;
SET ROLE rp_app;
SELECT string_agg(id::text, ',' ORDER BY id) AS after_withdrawal FROM crm.customers;
RESET ROLE;
SELECT privacy.restrict('customer', '1', 'objection pending') > 0 AS restricted;
SET ROLE rp_app;
SELECT string_agg(id::text, ',' ORDER BY id) AS after_restriction FROM crm.customers;
RESET ROLE;
SELECT privacy.lift_restriction('customer', '1') > 0 AS lifted,
       privacy.grant_consent('customer', '2', 'marketing') > 0 AS granted_again;
SET ROLE rp_app;
SELECT string_agg(id::text, ',' ORDER BY id) AS after_lift FROM crm.customers;

-- Writes under marketing: allowed for consenting subjects, refused with an
-- error that says why for the others.
INSERT INTO crm.orders VALUES (20, 1, 'new order of 1') RETURNING id, customer_id;
INSERT INTO crm.orders VALUES (21, 3, 'new order of 3');
INSERT INTO crm.orders VALUES (22, 4, 'new order of 4');
INSERT INTO crm.orders VALUES (23, NULL, 'new anonymous order') RETURNING id;
INSERT INTO crm.order_lines VALUES (13, 2, 'gift for 3');
INSERT INTO crm.visits VALUES (5, 'bob', 1, '/e');
UPDATE crm.orders SET customer_id = 3 WHERE id = 20;
-- Hidden rows cannot be changed or deleted, and RETURNING shows none.
UPDATE crm.orders SET note = note || '!' RETURNING id, note;
DELETE FROM crm.orders WHERE customer_id IN (3, 4, 5) RETURNING id;
SET privacy.purpose = 'analytics';
INSERT INTO crm.orders VALUES (24, 5, 'new order of 5');
RESET privacy.purpose;
INSERT INTO crm.orders VALUES (25, 1, 'undeclared');
INSERT INTO crm.orders VALUES (26, NULL, 'undeclared');
RESET ROLE;
SELECT id, customer_id FROM crm.orders WHERE id >= 20 ORDER BY id;

-- A leaky function in WHERE runs only on rows the policy let through.
CREATE FUNCTION crm.leak(text) RETURNS boolean LANGUAGE plpgsql COST 0.0000001 AS $$
BEGIN
	RAISE NOTICE 'saw %', $1;
	RETURN true;
END
$$;
SET ROLE rp_app;
SET privacy.purpose = 'marketing';
SELECT id FROM crm.customers WHERE crm.leak(name) ORDER BY id;
SELECT o.id FROM crm.orders o WHERE crm.leak(o.note) AND o.customer_id = 3;

-- A point lookup stays an index scan; the check is a filter on the scanned
-- rows, and no plan reads the ledger.
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT name FROM crm.customers WHERE id = 1;
EXPLAIN (COSTS OFF) SELECT c.name, o.note FROM crm.customers c JOIN crm.orders o ON o.customer_id = c.id WHERE c.id = 1;
RESET enable_seqscan;
-- Scanned in full, a table's rows are checked after the cheaper conditions
-- that leak nothing, such as the key's equality: only the rows those keep.
SET enable_indexscan = off;
SET enable_bitmapscan = off;
EXPLAIN (COSTS OFF) SELECT name FROM crm.customers WHERE id = 1;
RESET enable_indexscan;
RESET enable_bitmapscan;
RESET ROLE;

-- Views: a security_invoker view applies the reader's purpose; the owner
-- of a table is subject to its policies too (FORCE ROW LEVEL SECURITY).
CREATE VIEW crm.customer_names WITH (security_invoker = true) AS SELECT id, name FROM crm.customers;
GRANT SELECT ON crm.customer_names TO rp_app;
SET ROLE rp_app;
SET privacy.purpose = 'marketing';
SELECT * FROM crm.customer_names ORDER BY id;
RESET ROLE;
CREATE ROLE rp_owner;
ALTER TABLE crm.members OWNER TO rp_owner;
GRANT USAGE ON SCHEMA crm TO rp_owner;
SELECT privacy.allow_purpose('marketing', 'rp_owner');
SET ROLE rp_owner;
SELECT handle FROM crm.members ORDER BY handle;
RESET privacy.purpose;
SELECT count(*) AS members_without_purpose FROM crm.members;
RESET ROLE;
-- Superusers (and BYPASSRLS roles) are not subject to row security.
SELECT count(*) AS superuser_sees FROM crm.customers;

-- Rectification is audited: which columns changed, never the values; one
-- entry per subject kind of the row; an update that changes nothing is not
-- a rectification.
SET ROLE rp_app;
SET privacy.purpose = 'marketing';
UPDATE crm.customers SET name = 'Customer One' WHERE id = 1;
UPDATE crm.visits SET page = '/a2', member = 'ada' WHERE id = 1;
UPDATE crm.order_lines SET gift_message = gift_message WHERE order_id = 11;
RESET ROLE;
SELECT privacy.seal_audit_log() AS sealed \gset
SELECT a.actor, a.kind_ref, a.summary FROM (
	SELECT actor, summary,
		   CASE subject_ref WHEN privacy.subject_ref('customer', '1') THEN 'customer 1'
							WHEN privacy.subject_ref('member', 'ada') THEN 'member ada' END AS kind_ref, id
	  FROM privacy.audit_log WHERE action = 'rectification') a ORDER BY a.id;
SELECT privacy.seal_audit_log() AS sealed \gset
SELECT count(*) AS values_in_audit FROM privacy.audit_log WHERE summary::text LIKE '%Customer One%';

-- lint notices protection that was removed behind the extension's back.
ALTER TABLE crm.visits NO FORCE ROW LEVEL SECURITY;
SELECT severity, object, problem FROM privacy_internal._lint_protection() ORDER BY object;
ALTER TABLE crm.visits FORCE ROW LEVEL SECURITY;

-- unprotect() removes what protect() added and restores the table's own
-- row-security settings.
SELECT privacy.unprotect(t) FROM unnest(ARRAY['crm.customers', 'crm.orders', 'crm.order_lines',
	'crm.members', 'crm.visits', 'crm.notes']::regclass[]) t;
SELECT tablename, policyname FROM pg_policies WHERE schemaname = 'crm' ORDER BY 1, 2;
SELECT relname, relrowsecurity, relforcerowsecurity FROM pg_class
 WHERE relnamespace = 'crm'::regnamespace AND relkind = 'r' ORDER BY relname;
SELECT count(*) AS triggers_left FROM pg_trigger WHERE tgname = 'privacy_rectification';
SELECT count(*) AS still_registered FROM privacy.protected_tables;
SELECT privacy.seal_audit_log() AS sealed \gset
SELECT summary FROM privacy.audit_log WHERE action = 'unprotect' ORDER BY id;
SET ROLE rp_app;
SELECT count(*) AS customers_seen_unprotected FROM crm.customers;
RESET ROLE;

SET client_min_messages = warning;
DROP SCHEMA crm CASCADE;
DROP EXTENSION opendims_privacy CASCADE;
DROP OWNED BY rp_app, rp_owner;
DROP ROLE rp_app;
DROP ROLE rp_owner;
