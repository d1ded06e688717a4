-- Erasure and the retention job change each table as its owner: the code a
-- table's owner attached to it (statement and row triggers, domain CHECKs,
-- generated columns) runs with that owner's rights, never as the superuser
-- or extension owner running the erasure or the job; the statements run
-- with search_path pinned. A trigger or rule that keeps rows the erasure or
-- the job set out to delete or anonymise (a soft delete) makes them fail
-- naming the table, and lint() warns of it.
SET client_min_messages = warning;
CREATE EXTENSION opendims_privacy CASCADE;
RESET client_min_messages;
\i test/fixtures/shop_schema.sql
\i test/fixtures/shop_data.sql

-- An application role with a schema of its own, allowed to reference the
-- customers. Whatever its code runs as is written down in appschema.ran.
CREATE ROLE eto_app;
CREATE SCHEMA appschema AUTHORIZATION eto_app;
GRANT USAGE ON SCHEMA shop TO eto_app;
GRANT REFERENCES ON shop.customers TO eto_app;
SET ROLE eto_app;
CREATE TABLE appschema.ran (what text, who name);
-- Records who runs it and tries to make eto_app a superuser.
CREATE FUNCTION appschema.trap() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO appschema.ran VALUES (TG_TABLE_NAME || ' ' || TG_NAME, current_user);
	BEGIN
		EXECUTE 'ALTER ROLE eto_app SUPERUSER';
	EXCEPTION WHEN OTHERS THEN
		NULL;
	END;
	IF TG_LEVEL = 'STATEMENT' THEN
		RETURN NULL;
	END IF;
	RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END
$$;
CREATE FUNCTION appschema.checked(v text) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO appschema.ran VALUES ('domain check', current_user);
	BEGIN
		EXECUTE 'ALTER ROLE eto_app SUPERUSER';
	EXCEPTION WHEN OTHERS THEN
		NULL;
	END;
	RETURN true;
END
$$;
CREATE DOMAIN appschema.checked_text AS text CHECK (appschema.checked(VALUE));
-- A statement trigger (the erasure deletes these rows in one statement).
CREATE TABLE appschema.prefs (customer_id integer REFERENCES shop.customers, email text);
CREATE TRIGGER trap BEFORE DELETE OR UPDATE ON appschema.prefs
	FOR EACH STATEMENT EXECUTE FUNCTION appschema.trap();
-- A row trigger that lets the row go.
CREATE TABLE appschema.notes (customer_id integer REFERENCES shop.customers, note text);
CREATE TRIGGER trap BEFORE DELETE OR UPDATE ON appschema.notes
	FOR EACH ROW EXECUTE FUNCTION appschema.trap();
-- A personal column of a domain type with a CHECK, in a row another row
-- keeps referencing: the erasure anonymises it.
CREATE TABLE appschema.contacts (id integer PRIMARY KEY, customer_id integer REFERENCES shop.customers,
								 email appschema.checked_text);
CREATE TABLE appschema.contact_uses (contact_id integer REFERENCES appschema.contacts, used_at date);
-- Events the retention job deletes, with a statement and a row trap.
CREATE TABLE appschema.events (customer_id integer REFERENCES shop.customers, at date, detail text);
CREATE TRIGGER trap_statement BEFORE DELETE ON appschema.events
	FOR EACH STATEMENT EXECUTE FUNCTION appschema.trap();
CREATE TRIGGER trap_row BEFORE DELETE ON appschema.events
	FOR EACH ROW EXECUTE FUNCTION appschema.trap();
-- Code the erasure's statistics check evaluates on the subject's rows: an
-- IMMUTABLE function in an index expression and a cast of the owner's
-- type to text.
CREATE FUNCTION appschema.record(what text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO appschema.ran VALUES (what, current_user);
	BEGIN
		EXECUTE 'ALTER ROLE eto_app SUPERUSER';
	EXCEPTION WHEN OTHERS THEN
		NULL;
	END;
END
$$;
CREATE FUNCTION appschema.folded(v text) RETURNS text LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
	PERFORM appschema.record('index expression');
	RETURN pg_catalog.lower(v);
END
$$;
CREATE TYPE appschema.label AS ENUM ('plain', 'vip');
CREATE FUNCTION appschema.label_text(v appschema.label) RETURNS text LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
	PERFORM appschema.record('cast to text');
	RETURN v::name::text;
END
$$;
CREATE CAST (appschema.label AS text) WITH FUNCTION appschema.label_text(appschema.label);
-- And a cast to json, which the export's to_jsonb runs.
CREATE FUNCTION appschema.label_json(v appschema.label) RETURNS json LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
	PERFORM appschema.record('cast to json');
	RETURN pg_catalog.to_json(v::name::text);
END
$$;
CREATE CAST (appschema.label AS json) WITH FUNCTION appschema.label_json(appschema.label);
CREATE TABLE appschema.tags (customer_id integer REFERENCES shop.customers, label appschema.label, name text);
CREATE INDEX tags_folded ON appschema.tags (appschema.folded(name));
INSERT INTO appschema.tags VALUES (3, 'vip', 'Cy Tag');
DELETE FROM appschema.ran;
INSERT INTO appschema.prefs VALUES (3, 'cy.prefs@example.com');
INSERT INTO appschema.notes VALUES (3, 'Cy note');
INSERT INTO appschema.contacts VALUES (30, 3, 'cy.contact@example.com');
INSERT INTO appschema.contact_uses VALUES (30, '2026-01-01');
INSERT INTO appschema.events VALUES (1, '2020-01-01', 'old event'), (1, current_date, 'new event');
RESET ROLE;

-- The policy classifies the application's columns and expires its events.
\set doc `cat test/fixtures/shop-policy.json`
SELECT (privacy.apply_policy(jsonb_set(jsonb_set(:'doc'::jsonb,
	'{classifications}', (:'doc'::jsonb -> 'classifications') || '[
		{"table": "appschema.prefs", "column": "email", "category": "contact.email"},
		{"table": "appschema.notes", "column": "note", "category": "contact.name"},
		{"table": "appschema.contacts", "column": "email", "category": "contact.email"},
		{"table": "appschema.events", "column": "detail", "category": "contact.name"},
		{"table": "appschema.tags", "column": "label", "category": "contact.name"},
		{"table": "appschema.tags", "column": "name", "category": "contact.name"}]'::jsonb),
	'{retention_rules}', (:'doc'::jsonb -> 'retention_rules') || '[
		{"name": "app_events", "table": "appschema.events", "anchor": "at", "period": "1 year",
		 "action": "delete", "legal_basis": "contract"}]'::jsonb)::text) ->> 'changed')::boolean AS applied;

-- A superuser exports customer 3: the rows of eto_app's table are read,
-- and turned into JSON by eto_app's cast, as eto_app.
SELECT privacy.export_subject('customer', '3') -> 'data' -> 'appschema.tags' -> 'rows' AS tags;
SELECT rolsuper FROM pg_roles WHERE rolname = 'eto_app';
SELECT what, who, count(*) FROM appschema.ran GROUP BY what, who ORDER BY what;
DELETE FROM appschema.ran;

-- A superuser erases customer 3: each application table is changed as
-- eto_app, whose code runs as eto_app and cannot make it a superuser; the
-- statistics check evaluates eto_app's index expression and cast as
-- eto_app too.
SELECT r -> 'tables' AS tables FROM privacy.erase_subject('customer', '3', 'request') r;
SELECT rolsuper FROM pg_roles WHERE rolname = 'eto_app';
SELECT what, who, count(*) FROM appschema.ran GROUP BY what, who ORDER BY what;
SELECT * FROM appschema.prefs;
SELECT * FROM appschema.notes;
SELECT * FROM appschema.contacts;
SELECT * FROM appschema.tags;
DELETE FROM appschema.ran;

-- A soft delete: a BEFORE DELETE trigger that keeps the row. The erasure
-- fails naming the table (not the key) and changes nothing; lint warns.
SET ROLE eto_app;
ALTER TABLE appschema.notes ADD COLUMN deleted boolean NOT NULL DEFAULT false;
CREATE FUNCTION appschema.soft_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	UPDATE appschema.notes SET deleted = true WHERE ctid = OLD.ctid;
	RETURN NULL;
END
$$;
CREATE TRIGGER soft_delete BEFORE DELETE ON appschema.notes
	FOR EACH ROW EXECUTE FUNCTION appschema.soft_delete();
INSERT INTO appschema.notes VALUES (2, 'Bo note', false);
RESET ROLE;
\set VERBOSITY default
SELECT privacy.erase_subject('customer', '2', 'request');
\set VERBOSITY terse
SELECT customer_id, note, deleted FROM appschema.notes;
SELECT id, name FROM shop.customers WHERE id = 2;
SELECT severity, object, problem FROM privacy.lint() WHERE problem LIKE '%can keep rows%' ORDER BY 2, 3;
-- A BEFORE UPDATE trigger that gives anonymised values back is refused too.
SET ROLE eto_app;
DROP TRIGGER soft_delete ON appschema.notes;
CREATE FUNCTION appschema.keep_email() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	NEW.email := OLD.email;
	RETURN NEW;
END
$$;
CREATE TRIGGER keep_email BEFORE UPDATE ON appschema.contacts
	FOR EACH ROW EXECUTE FUNCTION appschema.keep_email();
INSERT INTO appschema.contacts VALUES (20, 2, 'bo.contact@example.com');
INSERT INTO appschema.contact_uses VALUES (20, '2026-01-01');
RESET ROLE;
SELECT privacy.erase_subject('customer', '2', 'request');
SELECT id, customer_id, email FROM appschema.contacts ORDER BY id;
SET ROLE eto_app;
DROP TRIGGER keep_email ON appschema.contacts;
RESET ROLE;
DELETE FROM appschema.ran;

-- The owner of a table needs SELECT on the tables of its rows' path to the
-- subject: without it the erasure fails, naming the table and its owner.
GRANT REFERENCES ON shop.orders TO eto_app;
SET ROLE eto_app;
CREATE TABLE appschema.order_notes (order_id integer REFERENCES shop.orders, note text);
INSERT INTO appschema.order_notes VALUES (11, 'Bo order note');
RESET ROLE;
SECURITY LABEL FOR privacy ON COLUMN appschema.order_notes.note IS 'contact.name';
\set VERBOSITY default
SELECT privacy.erase_subject('customer', '2', 'request');
\set VERBOSITY terse
SELECT count(*) AS bo_left FROM shop.customers WHERE id = 2;
DROP TABLE appschema.order_notes;

-- The retention job, run by a superuser, deletes the old event as eto_app.
SET client_min_messages = warning;
CALL privacy.enforce_retention();
RESET client_min_messages;
SELECT rolsuper FROM pg_roles WHERE rolname = 'eto_app';
SELECT what, who, count(*) FROM appschema.ran GROUP BY what, who ORDER BY what;
SELECT customer_id, at = current_date AS recent, detail FROM appschema.events;

-- A soft delete on the rule's table makes the job fail on it, naming it.
SET ROLE eto_app;
CREATE FUNCTION appschema.keep_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	RETURN NULL;
END
$$;
CREATE TRIGGER keep_event BEFORE DELETE ON appschema.events
	FOR EACH ROW EXECUTE FUNCTION appschema.keep_event();
INSERT INTO appschema.events VALUES (1, '2019-01-01', 'kept event');
RESET ROLE;
SET client_min_messages = warning;
CALL privacy.enforce_retention();
RESET client_min_messages;
SELECT customer_id, detail FROM appschema.events ORDER BY at;

DROP SCHEMA appschema CASCADE;
DROP SCHEMA shop CASCADE;
DROP EXTENSION opendims_privacy CASCADE;
DROP ROLE eto_app;
