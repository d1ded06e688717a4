-- Protection of partitions and inheritance children: a query that names a
-- partition or a child of a protected table reads it under its own row
-- policies, so privacy.protect() gives every partition and child (at any
-- depth) the check of the protected table, an event trigger protects the
-- ones created, attached or made children later, unprotect() releases
-- them, and lint() reports one left open.
SET client_min_messages = warning;
CREATE EXTENSION opendims_privacy CASCADE;
RESET client_min_messages;
\set SHOW_CONTEXT never

CREATE SCHEMA ch;
CREATE TABLE ch.customers (id integer PRIMARY KEY, name text NOT NULL);
CREATE TABLE ch.orders (id integer PRIMARY KEY, customer_id integer NOT NULL REFERENCES ch.customers,
						address text);
CREATE TABLE ch.events (at date NOT NULL, customer_id integer REFERENCES ch.customers, detail text)
	PARTITION BY RANGE (at);
CREATE TABLE ch.events_2026 PARTITION OF ch.events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01')
	PARTITION BY RANGE (at);
CREATE TABLE ch.events_2026_h1 PARTITION OF ch.events_2026 FOR VALUES FROM ('2026-01-01') TO ('2026-07-01');
CREATE TABLE ch.events_2026_h2 PARTITION OF ch.events_2026 FOR VALUES FROM ('2026-07-01') TO ('2027-01-01');
CREATE TABLE ch.orders_archive (archived_on date) INHERITS (ch.orders);
INSERT INTO ch.customers SELECT g, 'Customer ' || g FROM generate_series(1, 3) g;
INSERT INTO ch.orders VALUES (10, 1, 'Street 1'), (11, 2, 'Street 2');
INSERT INTO ch.orders_archive VALUES (20, 1, 'Old Street 1', '2025-12-31'), (21, 2, 'Old Street 2', '2025-12-31');
INSERT INTO ch.events VALUES ('2026-02-01', 1, 'event of 1'), ('2026-02-02', 2, 'event of 2'),
							 ('2026-08-03', 3, 'event of 3'), ('2026-08-04', NULL, 'event of nobody');
SELECT privacy.apply_policy(jsonb_build_object(
	'format', 1, 'version', 'ch-1', 'effective_date', '2026-06-24',
	'controller', jsonb_build_object('name', 'Example ApS', 'contact', 'privacy@example.com'),
	'purposes', jsonb_build_array(jsonb_build_object('name', 'marketing', 'legal_basis', 'consent')),
	'subject_kinds', jsonb_build_array(
		jsonb_build_object('name', 'customer', 'table', 'ch.customers', 'key', 'id')),
	'classifications', jsonb_build_array(
		jsonb_build_object('table', 'ch.customers', 'column', 'name', 'category', 'contact.name'),
		jsonb_build_object('table', 'ch.orders', 'column', 'address', 'category', 'contact.address'),
		jsonb_build_object('table', 'ch.events', 'column', 'detail', 'category', 'content')))::text)
	->> 'changed' AS applied;
SELECT privacy.grant_consent('customer', '1', 'marketing') > 0 AS granted;
CREATE ROLE ch_app;
GRANT USAGE ON SCHEMA ch TO ch_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA ch TO ch_app;
SELECT privacy.allow_purpose('marketing', 'ch_app');
ANALYZE ch.events_2026_h1, ch.orders_archive;

-- Protecting the partitioned table and the parent protects every
-- partition, sub-partition and inheritance child with them.
SELECT privacy.protect('ch.events'), privacy.protect('ch.orders');
SELECT table_name, kinds, child_of FROM privacy.protected_tables ORDER BY table_name::text;
SELECT privacy.seal_audit_log() AS sealed \gset
SELECT summary FROM privacy.audit_log WHERE action = 'protect' ORDER BY id;
SELECT relname, relrowsecurity, relforcerowsecurity FROM pg_class
 WHERE relnamespace = 'ch'::regnamespace AND relkind IN ('r', 'p') ORDER BY relname;

-- Under marketing only customer 1 consents: each partition and the child,
-- named directly, shows customer 1's rows and the row of no customer.
SET ROLE ch_app;
SET privacy.purpose = 'marketing';
SELECT * FROM ch.events ORDER BY at;
SELECT * FROM ch.events_2026 ORDER BY at;
SELECT * FROM ch.events_2026_h1 ORDER BY at;
SELECT * FROM ch.events_2026_h2 ORDER BY at;
SELECT id, customer_id, address FROM ch.orders ORDER BY id;
SELECT id, customer_id, address FROM ch.orders_archive ORDER BY id;
-- Planner statistics of a partition are out of reach too.
SELECT tablename, attname FROM pg_stats WHERE schemaname = 'ch' ORDER BY tablename, attname;
-- Writing a row of a hidden customer into a partition or the child is refused.
INSERT INTO ch.events_2026_h1 VALUES ('2026-03-01', 2, 'new event of 2');
INSERT INTO ch.orders_archive VALUES (22, 2, 'New Street 2', '2026-01-01');
UPDATE ch.orders_archive SET customer_id = 1 WHERE id = 21;
-- A visible row of a partition can be rectified, and the rectification is
-- audited for its subject.
UPDATE ch.events_2026_h1 SET detail = 'event of 1, corrected' WHERE customer_id = 1;
UPDATE ch.orders_archive SET address = 'Old Street 1, corrected' WHERE id = 20;
RESET ROLE;
SELECT privacy.seal_audit_log() AS sealed \gset
SELECT summary ->> 'table' AS "table", summary -> 'columns' AS columns,
	   subject_ref = privacy.subject_ref('customer', '1') AS subject_is_1
  FROM privacy.audit_log WHERE action = 'rectification' ORDER BY id;

-- New partitions and children are protected in the statement that makes
-- them: CREATE TABLE ... PARTITION OF, ATTACH PARTITION, INHERITS and
-- ALTER TABLE ... INHERIT.
CREATE TABLE ch.events_2027 PARTITION OF ch.events FOR VALUES FROM ('2027-01-01') TO ('2028-01-01');
CREATE TABLE ch.events_2028 (LIKE ch.events);
INSERT INTO ch.events_2028 VALUES ('2028-01-01', 2, 'event of 2 in 2028');
ALTER TABLE ch.events ATTACH PARTITION ch.events_2028 FOR VALUES FROM ('2028-01-01') TO ('2029-01-01');
CREATE TABLE ch.orders_2025 () INHERITS (ch.orders);
CREATE TABLE ch.orders_import (id integer NOT NULL, customer_id integer NOT NULL, address text);
INSERT INTO ch.orders_import VALUES (30, 2, 'Imported Street 2');
ALTER TABLE ch.orders_import INHERIT ch.orders;
GRANT SELECT ON ch.events_2027, ch.events_2028, ch.orders_2025, ch.orders_import TO ch_app;
SELECT table_name, child_of FROM privacy.protected_tables WHERE child_of IS NOT NULL ORDER BY table_name::text;
SET ROLE ch_app;
SET privacy.purpose = 'marketing';
SELECT * FROM ch.events_2028;
SELECT * FROM ch.orders_import;
RESET ROLE;
SELECT count(*) AS lint_children FROM privacy.lint() WHERE problem LIKE '%not protected: a query that names it%';

-- A child made while the event trigger is off is reported by lint(), and
-- running protect() again on its parent protects it (the statements that
-- protect it fire the event trigger, which protects any other left open).
ALTER EVENT TRIGGER privacy_protect_new_children DISABLE;
CREATE TABLE ch.events_2029 PARTITION OF ch.events FOR VALUES FROM ('2029-01-01') TO ('2030-01-01');
CREATE TABLE ch.orders_2024 () INHERITS (ch.orders_archive);
ALTER EVENT TRIGGER privacy_protect_new_children ENABLE;
SELECT severity, object, problem, hint FROM privacy.lint() WHERE problem LIKE '%not protected: a query that names it%';
SELECT privacy.protect('ch.events');
SELECT table_name, child_of FROM privacy.protected_tables
 WHERE table_name IN ('ch.events_2029'::regclass, 'ch.orders_2024'::regclass) ORDER BY table_name::text;
SELECT count(*) AS lint_children FROM privacy.lint() WHERE problem LIKE '%not protected: a query that names it%';
-- With nothing left to protect, protect() says the table is protected.
SELECT privacy.protect('ch.orders');

-- A protected child stays protected while its parent is.
SELECT privacy.unprotect('ch.orders_archive');
-- Unprotecting the parent releases its partitions and children (a
-- partition dropped meanwhile is forgotten), and restores their
-- row-security settings.
DROP TABLE ch.events_2027;
SELECT privacy.unprotect('ch.events'), privacy.unprotect('ch.orders');
SELECT count(*) AS protected FROM privacy.protected_tables;
SELECT relname FROM pg_class WHERE relnamespace = 'ch'::regnamespace AND relrowsecurity ORDER BY relname;
SELECT count(*) AS policies FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid
 WHERE c.relnamespace = 'ch'::regnamespace;
SELECT privacy.seal_audit_log() AS sealed \gset
SELECT summary FROM privacy.audit_log WHERE action = 'unprotect' ORDER BY id;

DROP SCHEMA ch CASCADE;
DROP OWNED BY ch_app;
DROP ROLE ch_app;
DROP EXTENSION opendims_privacy;
