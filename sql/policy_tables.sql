-- The tables a policy document may name: only tables the applying role
-- owns may gain, change or lose entries; system catalogs, the extension's
-- own tables and temporary tables never; a subject kind's key must be NOT
-- NULL and unique on its own. A rule whose table is dropped afterwards is
-- skipped by the retention job, recorded in its run, and reported by lint.
SET client_min_messages = warning;
CREATE EXTENSION opendims_privacy CASCADE;
RESET client_min_messages;
\set SHOW_CONTEXT never
SET TimeZone = 'UTC';
SET DateStyle = 'ISO, YMD';
\i test/fixtures/shop_schema.sql
\set doc `cat test/fixtures/shop-policy.json`
SELECT (privacy.apply_policy(:'doc')) ->> 'changed' AS applied;

-- A role granted only apply_policy, with a schema of its own; another role
-- with a ledger.
CREATE ROLE policy_loader;
CREATE ROLE ledger_keeper;
GRANT EXECUTE ON FUNCTION privacy.apply_policy(text) TO policy_loader;
GRANT USAGE ON SCHEMA shop TO policy_loader;
CREATE SCHEMA loader_own AUTHORIZATION policy_loader;
CREATE TABLE loader_own.notes (id integer PRIMARY KEY, written_at timestamptz NOT NULL, body text);
ALTER TABLE loader_own.notes OWNER TO policy_loader;
CREATE SCHEMA ledger AUTHORIZATION ledger_keeper;
GRANT USAGE ON SCHEMA ledger TO policy_loader;
CREATE TABLE ledger.vledger (id integer PRIMARY KEY, created_at timestamptz NOT NULL, amount numeric);
ALTER TABLE ledger.vledger OWNER TO ledger_keeper;
INSERT INTO ledger.vledger VALUES (1, '2020-01-01', 10), (2, '2021-01-01', 20);

-- The document in force with extra entries: \set new to the extra entries
-- of one section, and :with_rules, :with_kinds build the document
-- (each as a version of its own, so that every attempt stands alone).
\set with_rules 'jsonb_set(jsonb_set(:''doc''::jsonb, ''{version}'', to_jsonb(''candidate '' || md5(:''new''))), ''{retention_rules}'', (:''doc''::jsonb -> ''retention_rules'') || :''new''::jsonb)::text'
\set with_kinds 'jsonb_set(jsonb_set(:''doc''::jsonb, ''{version}'', to_jsonb(''candidate '' || md5(:''new''))), ''{subject_kinds}'', (:''doc''::jsonb -> ''subject_kinds'') || :''new''::jsonb)::text'

SET ROLE policy_loader;
-- A retention rule on another role's table is refused, naming the table.
\set new '[{"name": "wipe", "table": "ledger.vledger", "anchor": "created_at", "period": "1 day", "action": "delete", "legal_basis": "contract"}]'
SELECT privacy.apply_policy(:with_rules);
-- System catalogs, the information schema, TOAST and the extension's own
-- tables are never a policy's, whoever applies it.
\set new '[{"name": "pw", "table": "pg_catalog.pg_authid", "anchor": "rolvaliduntil", "period": "1 day", "action": "anonymize", "columns": ["rolpassword"], "legal_basis": "contract"}]'
SELECT privacy.apply_policy(:with_rules);
\set new '[{"name": "staff", "table": "pg_catalog.pg_authid", "key": "oid"}]'
SELECT privacy.apply_policy(:with_kinds);
\set new '[{"name": "versions", "table": "privacy.policy_versions", "anchor": "applied_at", "period": "1 day", "action": "delete", "legal_basis": "contract"}]'
SELECT privacy.apply_policy(:with_rules);
-- A temporary table is gone with its session and unreadable by others.
CREATE TEMP TABLE tt (id integer PRIMARY KEY, made_at timestamptz NOT NULL);
\set new '[{"name": "temp", "table": "pg_temp.tt", "anchor": "made_at", "period": "1 day", "action": "delete", "legal_basis": "contract"}]'
SELECT privacy.apply_policy(:with_rules);
DROP TABLE tt;

-- Entries the document leaves as they are need no right on their tables:
-- the loader re-applies the policy in force, and changes what names no
-- table (a purpose) or only its own table.
SELECT (privacy.apply_policy(privacy.policy()::text)) ->> 'changed' AS changed;
SELECT (privacy.apply_policy(jsonb_set(jsonb_set(:'doc'::jsonb, '{version}', '"shop-2"'), '{purposes}',
	(:'doc'::jsonb -> 'purposes') || '[{"name": "support", "legal_basis": "contract"}]')::text)) -> 'changes' AS changes;
\set new '[{"name": "notes", "table": "loader_own.notes", "anchor": "written_at", "period": "1 year", "action": "delete", "legal_basis": "contract"}]'
SELECT (privacy.apply_policy(jsonb_set(jsonb_set(privacy.policy(), '{version}', '"shop-3"'), '{retention_rules}',
	(privacy.policy() -> 'retention_rules') || :'new'::jsonb)::text)) -> 'changes' AS changes;
-- Changing or removing an entry of a table it does not own is refused.
SELECT privacy.apply_policy(jsonb_set(jsonb_set(privacy.policy(), '{version}', '"shop-4a"'),
	'{retention_rules,0,period}', '"1 day"')::text);
SELECT privacy.apply_policy(jsonb_set(jsonb_set(privacy.policy(), '{version}', '"shop-4b"'), '{classifications}',
	(privacy.policy() -> 'classifications') - 0)::text);
SELECT privacy.apply_policy((jsonb_set(privacy.policy(), '{version}', '"shop-4c"') #- '{subject_kinds,0,paths}')::text);
RESET ROLE;
SELECT name, table_name, period FROM privacy.retention_rules ORDER BY name;

-- Its owner may name the ledger, and a member of the owner role too.
GRANT ledger_keeper TO policy_loader;
SET ROLE policy_loader;
SELECT privacy.policy() AS doc \gset
\set new '[{"name": "ledger", "table": "ledger.vledger", "anchor": "created_at", "period": "9999 years", "action": "delete", "legal_basis": "legal_obligation"}]'
SELECT (privacy.apply_policy(jsonb_set(jsonb_set(:'doc'::jsonb, '{version}', '"shop-4"'), '{retention_rules}',
	(:'doc'::jsonb -> 'retention_rules') || :'new'::jsonb)::text)) -> 'changes' AS changes;
RESET ROLE;
REVOKE ledger_keeper FROM policy_loader;
SELECT privacy.policy() AS doc \gset

-- A subject kind's key names one row: NOT NULL and unique on its own.
CREATE TABLE shop.members (
	id integer PRIMARY KEY,
	code text UNIQUE,
	email text NOT NULL,
	region text NOT NULL,
	badge text NOT NULL,
	UNIQUE (region, email)
);
CREATE UNIQUE INDEX members_badge_active ON shop.members (badge) WHERE id > 0;
CREATE UNIQUE INDEX members_email_lower ON shop.members (lower(email));
\set new '[{"name": "referrer", "table": "shop.customers", "key": "referred_by"}]'
SELECT privacy.apply_policy(:with_kinds);
\set new '[{"name": "member", "table": "shop.members", "key": "code"}]'
SELECT privacy.apply_policy(:with_kinds);
\set new '[{"name": "member", "table": "shop.members", "key": "badge"}]'
SELECT privacy.apply_policy(:with_kinds);
\set new '[{"name": "member", "table": "shop.members", "key": "email"}]'
SELECT privacy.apply_policy(:with_kinds);
\set new '[{"name": "member", "table": "shop.members", "key": "region"}]'
SELECT privacy.apply_policy(:with_kinds);
-- A key of a type defined in the database (its casts and domain checks
-- would run for every call that names a subject, whoever makes it).
CREATE TYPE shop.tier AS ENUM ('gold', 'silver');
CREATE DOMAIN shop.member_no AS integer CHECK (VALUE > 0);
CREATE TABLE shop.tiered (tier shop.tier PRIMARY KEY, no shop.member_no NOT NULL UNIQUE);
\set new '[{"name": "tiered", "table": "shop.tiered", "key": "tier"}]'
SELECT privacy.apply_policy(:with_kinds);
\set new '[{"name": "tiered", "table": "shop.tiered", "key": "no"}]'
SELECT privacy.apply_policy(:with_kinds);
DROP TABLE shop.tiered;
DROP DOMAIN shop.member_no;
DROP TYPE shop.tier;
ALTER TABLE shop.members ALTER COLUMN code SET NOT NULL;
\set new '[{"name": "member", "table": "shop.members", "key": "code"}]'
SELECT (privacy.apply_policy(jsonb_set(:with_kinds::jsonb, '{version}', '"shop-5"')::text)) -> 'changes' AS changes;
-- lint reports a key whose constraint is dropped later.
ALTER TABLE shop.members DROP CONSTRAINT members_code_key;
SELECT severity, object, problem FROM privacy.lint() WHERE object LIKE 'shop.members%';
ALTER TABLE shop.members ALTER COLUMN code DROP NOT NULL;
SELECT severity, object, problem FROM privacy.lint() WHERE object LIKE 'shop.members%';
-- Until the key is restored, no document that keeps the kind applies.
SELECT privacy.apply_policy(jsonb_set(privacy.policy(), '{version}', '"candidate"')::text);
ALTER TABLE shop.members ALTER COLUMN code SET NOT NULL, ADD UNIQUE (code);

-- A rule whose table is dropped: the job skips it, records why in its run,
-- and goes on with the others; lint and the status view report it.
SELECT privacy.policy() AS doc \gset
CREATE TABLE shop.scratch (id integer PRIMARY KEY, made_at timestamptz NOT NULL);
\set new '[{"name": "scratch", "table": "shop.scratch", "anchor": "made_at", "period": "1 day", "action": "delete", "legal_basis": "contract"}]'
SELECT (privacy.apply_policy(jsonb_set(:with_rules::jsonb, '{version}', '"shop-6"')::text)) ->> 'changed' AS changed;
INSERT INTO loader_own.notes VALUES (1, '2000-01-01', 'old'), (2, 'infinity', 'new');
DROP TABLE shop.scratch;
CALL privacy.enforce_retention();
SELECT status, rules -> 'scratch' ->> 'status' AS scratch, rules -> 'scratch' ->> 'problem' AS problem,
	   rules -> 'notes' ->> 'status' AS notes, rules -> 'notes' ->> 'done' AS notes_done
  FROM privacy.retention_runs ORDER BY id DESC LIMIT 1;
SELECT id FROM loader_own.notes;
SELECT problem ~ 'skipped by the retention job' AS reported FROM privacy.lint() WHERE object = 'retention rule "scratch"' AND problem LIKE 'is skipped%';
SELECT rule, rows_due FROM privacy.retention_status WHERE rule IN ('scratch', 'notes') ORDER BY rule;
SELECT count(*) AS ledger_rows FROM ledger.vledger;

-- A rule on a temporary table that an earlier version let in (written here
-- directly): the job skips it, and lint reports the table.
CREATE TEMP TABLE leftover (id integer PRIMARY KEY, made_at timestamptz NOT NULL);
INSERT INTO leftover VALUES (1, '2000-01-01');
INSERT INTO privacy.retention_rules (name, table_name, anchor, period, action, legal_basis)
VALUES ('leftover', 'pg_temp.leftover', 'made_at', '1 day', 'delete', 'contract');
CALL privacy.enforce_retention();
SELECT rules -> 'leftover' ->> 'status' AS leftover, rules -> 'leftover' ->> 'problem' AS problem
  FROM privacy.retention_runs ORDER BY id DESC LIMIT 1;
SELECT count(*) AS leftover_rows FROM leftover;
SELECT severity, problem FROM privacy.lint() WHERE problem LIKE '%temporary%';
DELETE FROM privacy.retention_rules WHERE name = 'leftover';

DROP SCHEMA shop, loader_own, ledger CASCADE;
DROP EXTENSION opendims_privacy CASCADE;
DROP ROLE policy_loader;
DROP ROLE ledger_keeper;
