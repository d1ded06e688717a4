-- The rectification trigger privacy.protect() puts on a table holding
-- personal data: one statement trigger per UPDATE, reading the statement's
-- old and new rows from its transition tables, that writes one audit entry
-- per changed row and subject kind, naming the subject (by its reference)
-- and the changed columns, never their values, in one set-based write.
SET client_min_messages = warning;
CREATE EXTENSION opendims_privacy CASCADE;
RESET client_min_messages;

CREATE SCHEMA rect;
CREATE TABLE rect.customers (id bigint PRIMARY KEY, name text NOT NULL, email text, note text);
CREATE TABLE rect.users (id bigint PRIMARY KEY, login text NOT NULL);
CREATE TABLE rect.orders (id bigint PRIMARY KEY, customer_id bigint NOT NULL REFERENCES rect.customers,
						  note text, amount numeric);
CREATE INDEX ON rect.orders (customer_id);
CREATE TABLE rect.order_lines (id bigint PRIMARY KEY, order_id bigint NOT NULL REFERENCES rect.orders,
							   gift_message text);
CREATE INDEX ON rect.order_lines (order_id);
CREATE TABLE rect.tickets (id bigint PRIMARY KEY, customer_id bigint NOT NULL REFERENCES rect.customers,
						   user_id bigint NOT NULL REFERENCES rect.users, body text);
CREATE INDEX ON rect.tickets (customer_id);
CREATE INDEX ON rect.tickets (user_id);
CREATE TABLE rect.events (id bigint NOT NULL, customer_id bigint NOT NULL REFERENCES rect.customers,
						  payload text) PARTITION BY RANGE (id);
CREATE TABLE rect.events_low PARTITION OF rect.events FOR VALUES FROM (0) TO (100);
CREATE TABLE rect.events_high PARTITION OF rect.events FOR VALUES FROM (100) TO (200);
CREATE INDEX ON rect.events (customer_id);
INSERT INTO rect.customers SELECT g, 'Customer ' || g, 'c' || g || '@example.com', NULL FROM generate_series(1, 4) g;
INSERT INTO rect.users VALUES (1, 'agent1'), (2, 'agent2');
INSERT INTO rect.orders SELECT g, (g - 1) % 3 + 1, 'order ' || g, 10 * g FROM generate_series(1, 6) g;
INSERT INTO rect.order_lines SELECT g, g, 'message ' || g FROM generate_series(1, 6) g;
INSERT INTO rect.tickets VALUES (1, 1, 2, 'help'), (2, 3, 1, 'more help');
INSERT INTO rect.events VALUES (1, 1, 'low'), (150, 2, 'high');
SELECT privacy.apply_policy(jsonb_build_object(
	'format', 1, 'version', 'rect-1', 'effective_date', '2026-06-24',
	'controller', jsonb_build_object('name', 'Example ApS', 'contact', 'privacy@example.com'),
	'purposes', jsonb_build_array(jsonb_build_object('name', 'service', 'legal_basis', 'contract')),
	'subject_kinds', jsonb_build_array(
		jsonb_build_object('name', 'customer', 'table', 'rect.customers', 'key', 'id'),
		jsonb_build_object('name', 'user', 'table', 'rect.users', 'key', 'id')),
	'classifications', jsonb_build_array(
		jsonb_build_object('table', 'rect.customers', 'column', 'name', 'category', 'contact.name'),
		jsonb_build_object('table', 'rect.customers', 'column', 'email', 'category', 'contact.email'),
		jsonb_build_object('table', 'rect.users', 'column', 'login', 'category', 'credentials.username'),
		jsonb_build_object('table', 'rect.orders', 'column', 'note', 'category', 'content'),
		jsonb_build_object('table', 'rect.order_lines', 'column', 'gift_message', 'category', 'content'),
		jsonb_build_object('table', 'rect.tickets', 'column', 'body', 'category', 'support'),
		jsonb_build_object('table', 'rect.events', 'column', 'payload', 'category', 'content')))::text)
	->> 'changed' AS applied;
SELECT privacy.protect(t) FROM unnest(ARRAY['rect.customers', 'rect.users', 'rect.orders',
											'rect.order_lines', 'rect.tickets', 'rect.events']::regclass[]) t;

-- One statement trigger on each table with personal data, partitions too.
SELECT tgrelid::regclass AS "table", tgtype & 1 = 0 AS per_statement,
       tgoldtable, tgnewtable, tgnargs
  FROM pg_trigger WHERE tgname = 'privacy_rectification' ORDER BY tgrelid::regclass::text;

-- The entries written since the mark, with the subject they name.
SELECT privacy.seal_audit_log() AS sealed \gset
SELECT coalesce(max(id), 0) AS mark FROM privacy.audit_log \gset
CREATE VIEW rect_log AS
SELECT a.id, a.action,
       (SELECT k.kind || ' ' || s FROM (VALUES ('customer'), ('user')) k(kind), generate_series(1, 4) s
         WHERE privacy.subject_ref(k.kind, s::text) = a.subject_ref) AS subject,
       a.summary, a.actor = current_user AS by_me
  FROM privacy.audit_log a WHERE a.action = 'rectification';

-- Several rows of several subjects in one UPDATE: one entry per row.
UPDATE rect.orders SET note = note || ' (corrected)' WHERE id <= 4;
-- Rows that change different columns, and a row that changes nothing:
-- each row's own columns, by name in order; no entry for the unchanged row.
UPDATE rect.customers
   SET name = CASE WHEN id = 1 THEN 'Customer One' ELSE name END,
       email = CASE WHEN id IN (1, 2) THEN 'new' || id || '@example.com' ELSE email END,
       note = CASE WHEN id = 3 THEN 'note' ELSE note END
 WHERE id <= 4;
-- A table reaching its subjects through another table: the subject is
-- found through the path.
UPDATE rect.order_lines SET gift_message = 'Happy birthday' WHERE id IN (1, 2, 4);
-- A table reaching two kinds: one entry per row and kind.
UPDATE rect.tickets SET body = body || '!';
-- An UPDATE of no row, and one that sets values to what they were.
UPDATE rect.orders SET note = 'none' WHERE id > 100;
UPDATE rect.orders SET amount = amount WHERE id = 5;
SELECT privacy.seal_audit_log() AS sealed \gset
SELECT subject, summary, by_me FROM rect_log WHERE id > :mark ORDER BY id;

-- A savepoint rolled back takes its entries along; the rest of the
-- transaction's are kept.
SELECT coalesce(max(id), 0) AS mark FROM privacy.audit_log \gset
BEGIN;
UPDATE rect.orders SET note = 'kept' WHERE id = 6;
SAVEPOINT s;
UPDATE rect.orders SET note = 'rolled back' WHERE id IN (1, 2);
ROLLBACK TO SAVEPOINT s;
UPDATE rect.users SET login = 'agent-two' WHERE id = 2;
COMMIT;
BEGIN;
UPDATE rect.orders SET note = 'aborted' WHERE id = 3;
ROLLBACK;
SELECT privacy.seal_audit_log() AS sealed \gset
SELECT subject, summary FROM rect_log WHERE id > :mark ORDER BY id;

-- A partitioned table: an UPDATE naming it logs every row it changed in
-- its partitions (moving a row to another partition too), under its name;
-- one naming a partition, under the partition's.
SELECT coalesce(max(id), 0) AS mark FROM privacy.audit_log \gset
UPDATE rect.events SET payload = payload || '+';
UPDATE rect.events SET id = 120 WHERE id = 1;
UPDATE rect.events_high SET payload = 'direct' WHERE id = 150;
SELECT privacy.seal_audit_log() AS sealed \gset
SELECT subject, summary FROM rect_log WHERE id > :mark ORDER BY id;

-- Many rows: one set-based write, each row once.
INSERT INTO rect.orders SELECT g, (g - 1) % 4 + 1, 'bulk ' || g, g FROM generate_series(100, 2099) g;
SELECT coalesce(max(id), 0) AS mark FROM privacy.audit_log \gset
UPDATE rect.orders SET note = upper(note) WHERE id >= 100;
SELECT privacy.seal_audit_log() AS sealed;
SELECT subject, count(*) AS entries FROM rect_log WHERE id > :mark GROUP BY 1 ORDER BY 1;

-- The entries hold no value of the rows.
SELECT count(*) AS entries_with_values FROM privacy.audit_log
 WHERE action = 'rectification'
   AND ((summary - 'table')::text ~ 'Customer|example.com|corrected|agent|help|BULK|low|high|direct|birthday');
SELECT intact, unsealed FROM privacy.verify_audit_log();

-- The function runs only as that trigger: not per row, not without its
-- transition tables, not on a table protect() did not protect.
\set VERBOSITY terse
CREATE TABLE rect.decoy (id bigint);
INSERT INTO rect.decoy VALUES (1);
CREATE TRIGGER privacy_rectification AFTER UPDATE ON rect.decoy
	REFERENCING OLD TABLE AS privacy_old NEW TABLE AS privacy_new
	FOR EACH STATEMENT EXECUTE FUNCTION privacy_internal._audit_rectification('customer', '1');
UPDATE rect.decoy SET id = 2;
DROP TRIGGER privacy_rectification ON rect.decoy;
BEGIN;
DROP TRIGGER privacy_rectification ON rect.orders;
CREATE TRIGGER privacy_rectification AFTER UPDATE ON rect.orders
	FOR EACH ROW EXECUTE FUNCTION privacy_internal._audit_rectification('customer', 'orders.customer_id');
UPDATE rect.orders SET note = 'x' WHERE id = 1;
ROLLBACK;
-- Lint names a trigger that no longer fires per statement with the
-- statement's rows (as a release before 2.0 installed it).
BEGIN;
DROP TRIGGER privacy_rectification ON rect.orders;
CREATE TRIGGER privacy_rectification AFTER UPDATE ON rect.orders
	FOR EACH ROW EXECUTE FUNCTION privacy_internal._audit_rectification('customer', 'orders.customer_id');
SELECT severity, object, problem, hint FROM privacy.lint() WHERE problem ~ 'privacy_rectification';
ROLLBACK;
\set VERBOSITY default

DROP VIEW rect_log;
DROP SCHEMA rect CASCADE;

-- Subject keys of other types, read from the row itself: each entry names
-- privacy.subject_ref(kind, key::text), as the key's output function
-- writes it (integer, smallint, text and uuid keys); a row without a
-- subject (its key column null) gets no subject.
CREATE SCHEMA rect2;
CREATE TABLE rect2.accounts (id integer PRIMARY KEY, name text);
CREATE TABLE rect2.members (code text PRIMARY KEY, name text);
CREATE TABLE rect2.devices (id uuid PRIMARY KEY, label text);
CREATE TABLE rect2.notes (id bigint PRIMARY KEY, account_id integer REFERENCES rect2.accounts,
						  member_code text REFERENCES rect2.members, body text);
CREATE TABLE rect2.small (id smallint PRIMARY KEY, account_id smallint REFERENCES rect2.accounts, body text);
INSERT INTO rect2.accounts VALUES (-7, 'minus seven'), (2147483647, 'max');
INSERT INTO rect2.members VALUES ('m-1', 'one'), ('Ünïcode', 'two');
INSERT INTO rect2.devices VALUES ('a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 'phone');
INSERT INTO rect2.notes VALUES (1, -7, 'm-1', 'a'), (2, 2147483647, 'Ünïcode', 'b'), (3, NULL, NULL, 'c');
INSERT INTO rect2.small VALUES (1, -7, 'x');
SELECT privacy.apply_policy(jsonb_build_object(
	'format', 1, 'version', 'rect-2', 'effective_date', '2026-06-24',
	'controller', jsonb_build_object('name', 'Example ApS', 'contact', 'privacy@example.com'),
	'purposes', jsonb_build_array(jsonb_build_object('name', 'service', 'legal_basis', 'contract')),
	'subject_kinds', jsonb_build_array(
		jsonb_build_object('name', 'account', 'table', 'rect2.accounts', 'key', 'id'),
		jsonb_build_object('name', 'member', 'table', 'rect2.members', 'key', 'code'),
		jsonb_build_object('name', 'device', 'table', 'rect2.devices', 'key', 'id')),
	'classifications', jsonb_build_array(
		jsonb_build_object('table', 'rect2.accounts', 'column', 'name', 'category', 'contact.name'),
		jsonb_build_object('table', 'rect2.members', 'column', 'name', 'category', 'contact.name'),
		jsonb_build_object('table', 'rect2.devices', 'column', 'label', 'category', 'content'),
		jsonb_build_object('table', 'rect2.notes', 'column', 'body', 'category', 'content'),
		jsonb_build_object('table', 'rect2.small', 'column', 'body', 'category', 'content')))::text)
	->> 'changed' AS applied;
SELECT privacy.protect(t) FROM unnest(ARRAY['rect2.accounts', 'rect2.members', 'rect2.devices',
											'rect2.notes', 'rect2.small']::regclass[]) t;
SELECT privacy.seal_audit_log() AS sealed \gset
SELECT coalesce(max(id), 0) AS mark FROM privacy.audit_log \gset
UPDATE rect2.accounts SET name = upper(name);
UPDATE rect2.members SET name = upper(name);
UPDATE rect2.devices SET label = upper(label);
UPDATE rect2.notes SET body = upper(body);
UPDATE rect2.small SET body = upper(body);
SELECT privacy.seal_audit_log() AS sealed \gset
SELECT a.summary ->> 'table' AS "table",
       (SELECT k.kind || ' ' || s FROM (VALUES ('account', '-7'), ('account', '2147483647'), ('member', 'm-1'),
											   ('member', 'Ünïcode'), ('device', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'))
									   AS k(kind, s)
         WHERE privacy.subject_ref(k.kind, k.s) = a.subject_ref) AS subject,
       a.subject_ref IS NULL AS no_subject
  FROM privacy.audit_log a
 WHERE a.action = 'rectification' AND a.id > :mark
 ORDER BY a.id;
DROP SCHEMA rect2 CASCADE;
DROP EXTENSION opendims_privacy CASCADE;
