-- Retention: deadline arithmetic, the guard triggers of legal minimums,
-- the retention job (every action, batching, children first, rows blocked
-- by references), its progress, status and audit entries, and bad input.
SET client_min_messages = warning;
CREATE EXTENSION opendims_privacy CASCADE;
RESET client_min_messages;
\set SHOW_CONTEXT never
SET TimeZone = 'UTC';
SET DateStyle = 'ISO, YMD';
\i test/fixtures/shop_schema.sql
\set doc `cat test/fixtures/shop-policy.json`

-- Tables for the other actions: logins with IP addresses to truncate, and
-- accounts whose events reference them without ON DELETE CASCADE.
CREATE TABLE shop.logins (
	id integer PRIMARY KEY,
	customer_id integer NOT NULL REFERENCES shop.customers,
	logged_in_at timestamptz NOT NULL,
	ip privacy.ip_address,
	proxy inet
);
CREATE TABLE shop.accounts (id integer PRIMARY KEY, closed_at date, holder text NOT NULL);
CREATE TABLE shop.account_events (
	id integer PRIMARY KEY,
	account_id integer NOT NULL REFERENCES shop.accounts,
	happened_at timestamp NOT NULL
);

-- The shop policy, with an early-anonymisation minimum on orders and rules
-- for the new tables.
SELECT (privacy.apply_policy(jsonb_set(jsonb_set(:'doc'::jsonb, '{retention_rules,1,minimum}', '"1 year"'),
	'{retention_rules}',
	(jsonb_set(:'doc'::jsonb, '{retention_rules,1,minimum}', '"1 year"') -> 'retention_rules') || '[
	 {"name": "login_ips", "table": "shop.logins", "anchor": "logged_in_at", "period": "90 days",
	  "action": "truncate_ip", "columns": ["ip", "proxy"], "legal_basis": "legitimate_interest"},
	 {"name": "logins", "table": "shop.logins", "anchor": "logged_in_at", "period": "2 years",
	  "action": "delete", "legal_basis": "legitimate_interest"},
	 {"name": "accounts", "table": "shop.accounts", "anchor": "closed_at", "period": "1 year",
	  "action": "delete", "legal_basis": "contract"},
	 {"name": "account_events", "table": "shop.account_events", "anchor": "happened_at", "period": "1 year",
	  "action": "delete", "legal_basis": "contract"}]')::text) ->> 'changed')::boolean AS applied;

-- Deadline arithmetic. Invoices: 5 years from the end of the financial
-- year of issued_on; the year ends on 12-31 unless the controller says
-- otherwise.
SELECT privacy_internal._minimum_end('invoices', '2020-03-15') AS invoice_2020_03_15_kept_until,
	   privacy_internal._minimum_end('invoices', '2020-12-31 23:00') AS invoice_2020_12_31_kept_until,
	   privacy_internal._minimum_end('invoices', '2021-01-01') AS invoice_2021_01_01_kept_until,
	   privacy_internal._minimum_end('logins', '2020-03-15') AS no_minimum;
SELECT privacy_internal._retention_minimum_end('5 years', 'end_of_financial_year', '06-30', '2020-06-30') AS fy_06_30_on_last_day,
	   privacy_internal._retention_minimum_end('5 years', 'end_of_financial_year', '06-30', '2020-07-01') AS fy_06_30_day_after,
	   privacy_internal._retention_minimum_end('1 year', 'anchor', '12-31', '2020-02-29 10:00') AS from_29_february;
-- The cutoff: rows whose anchor is at most it are due.
SELECT privacy_internal._retention_cutoff('5 years', '5 years', 'end_of_financial_year', '12-31', '2026-06-01 12:00') AS invoices_due_through,
	   privacy_internal._retention_cutoff('3 years', NULL, 'anchor', '12-31', '2026-06-01 12:00') AS orders_due_through,
	   privacy_internal._retention_due_at('3 years', '5 years', 'anchor', '12-31', '2020-01-01') AS minimum_longer_than_period;
SELECT privacy_internal._minimum_end('no_such_rule', now());
SELECT privacy_internal._retention_cutoff('5 yrs', NULL, 'anchor', '12-31', now());

-- The guard triggers: one table has a rule with a minimum.
SELECT privacy.install_retention_triggers();
SELECT privacy.install_retention_triggers() AS second_install_changes_nothing;
SELECT tgrelid::regclass AS "table", tgname, tgtype FROM pg_trigger
 WHERE tgname LIKE 'privacy_retention%' ORDER BY 1, 2;
-- lint reports anchors without an index, until they have one.
SELECT severity, object, problem FROM privacy_internal._lint_retention_enforcement();
CREATE INDEX ON shop.invoices (issued_on);
CREATE INDEX ON shop.orders (closed_at);
CREATE INDEX ON shop.logins (logged_in_at);
CREATE INDEX ON shop.accounts (closed_at);
CREATE INDEX ON shop.account_events (happened_at);
SELECT count(*) AS lint_findings FROM privacy_internal._lint_retention_enforcement();

-- Data: anchors long past, and anchors years ahead (still under a minimum
-- whenever this test runs before 2031).
INSERT INTO shop.customers (id, name, email) VALUES
	(1, 'Ann', 'ann@example.com'), (2, 'Bo', 'bo@example.com'), (3, 'Cy', NULL);
INSERT INTO shop.orders (id, customer_id, placed_at, closed_at, delivery_address) VALUES
	(1, 1, '2015-01-10', '2015-01-20', 'Street 1'),
	(2, 1, '2015-02-10', '2015-02-20', 'Street 2'),
	(3, 2, '2015-03-10', '2015-03-20', 'Street 3'),
	(4, 2, '2015-04-10', '2015-04-20', 'Street 4'),
	(5, 3, '2015-05-10', '2015-05-20', 'Street 5'),
	(6, 3, '2030-01-01', '2030-01-10 08:00', 'Street 6'),
	(7, 3, now(), NULL, 'Street 7');
INSERT INTO shop.invoices (id, order_id, customer_id, issued_on, billing_name) VALUES
	(1, 1, 1, '2015-01-20', 'Ann'),
	(2, 2, 1, '2015-02-20', 'Ann'),
	(3, 3, 2, '2015-03-20', 'Bo'),
	(4, 6, 3, '2030-03-15', 'Cy'),
	(5, 6, 3, '2030-04-15', 'Cy');
INSERT INTO shop.logins (id, customer_id, logged_in_at, ip, proxy) VALUES
	(1, 1, '2015-01-01', '192.0.2.77', '198.51.100.9/32'),
	(2, 1, now() - interval '100 days', '2001:db8:1:2:3:4:5:6', '2001:db8:1:2::1'),
	(3, 2, now() - interval '100 days', '203.0.113.200', NULL),
	(4, 2, now(), '203.0.113.201', '203.0.113.1');
INSERT INTO shop.accounts VALUES (1, '2015-06-01', 'Dee'), (2, '2015-06-01', 'Eve'), (3, current_date, 'Fay');
INSERT INTO shop.account_events VALUES (1, 1, '2015-05-01'), (2, 2, now()), (3, 3, now());

-- Rows under the minimum cannot be deleted, nor their personal columns
-- changed, nor their anchor moved earlier; other changes are allowed.
DELETE FROM shop.invoices WHERE id = 4;
UPDATE shop.invoices SET billing_name = 'Someone else' WHERE id = 4;
UPDATE shop.invoices SET issued_on = '2015-01-01' WHERE id = 4;
UPDATE shop.invoices SET issued_on = '2030-05-01' WHERE id = 4;
UPDATE shop.invoices SET order_id = 5 WHERE id = 4;
SELECT id, order_id, issued_on, billing_name FROM shop.invoices WHERE id = 4;
TRUNCATE shop.invoices;
TRUNCATE shop.invoices CASCADE;
-- Rows whose minimum has ended are not guarded.
BEGIN;
UPDATE shop.invoices SET billing_name = 'Corrected' WHERE id = 1;
DELETE FROM shop.invoices WHERE id = 1;
ROLLBACK;

-- Erasure paths: within a transaction that called
-- privacy_internal._allow_protected_changes(), the columns an anonymize rule names
-- may change early; deleting and other columns stay refused.
UPDATE shop.orders SET delivery_address = 'Elsewhere' WHERE id = 6;
BEGIN;
SELECT privacy_internal._allow_protected_changes();
UPDATE shop.orders SET delivery_address = NULL WHERE id = 6;
SAVEPOINT s;
DELETE FROM shop.orders WHERE id = 6;
ROLLBACK TO s;
UPDATE shop.invoices SET billing_name = 'Erased' WHERE id = 4;
ROLLBACK;
-- The permission ends with its transaction, and with a subtransaction
-- that is rolled back.
UPDATE shop.orders SET delivery_address = NULL WHERE id = 6;
BEGIN;
SAVEPOINT s;
SELECT privacy_internal._allow_protected_changes();
ROLLBACK TO s;
UPDATE shop.orders SET delivery_address = NULL WHERE id = 6;
ROLLBACK;
-- It is not a setting, and ordinary roles cannot call it.
SET privacy.allow_protected_changes = on;
CREATE ROLE retention_clerk;
GRANT USAGE ON SCHEMA shop TO retention_clerk;
GRANT SELECT, UPDATE, DELETE ON shop.orders TO retention_clerk;
SET ROLE retention_clerk;
SELECT privacy_internal._allow_protected_changes();
DELETE FROM shop.orders WHERE id = 6;
RESET ROLE;

-- What is due now, per rule, before the job runs.
SELECT rule, table_name, action, rows_due, oldest_due, rows_held, guarded, last_run_id
  FROM privacy.retention_status ORDER BY rule;

-- The job, in batches of two rows: children (account events, logins)
-- before parents; account 2 still has an event that is not due, so its
-- deletion is blocked and reported.
CALL privacy.enforce_retention(batch_size => 2);

SELECT id, closed_at, delivery_address FROM shop.orders ORDER BY id;
SELECT id, issued_on, billing_name FROM shop.invoices ORDER BY id;
SELECT id, ip, proxy FROM shop.logins ORDER BY id;
SELECT id FROM shop.accounts ORDER BY id;
SELECT id FROM shop.account_events ORDER BY id;

-- The run: its counters and per-rule results, as the status view shows.
SELECT id, status, rows_due, rows_done, batches, jsonb_pretty(rules) FROM privacy.retention_runs;
SELECT * FROM privacy.retention_progress;
SELECT rule, rows_due, rows_held, last_run_id, last_run_status, last_run_done, last_run_blocked
  FROM privacy.retention_status ORDER BY rule;
SELECT privacy.seal_audit_log() AS sealed \gset
SELECT action, summary - 'started_at' - 'finished_at' - 'rules' AS summary
  FROM privacy.audit_log WHERE action LIKE 'retention.%' ORDER BY id;

-- A second run finds only the blocked account; after its event goes, the
-- account goes too.
CALL privacy.enforce_retention();
UPDATE shop.account_events SET happened_at = '2015-06-01' WHERE id = 2;
CALL privacy.enforce_retention();
SELECT id FROM shop.accounts ORDER BY id;
SELECT id, status, rows_due, rows_done, batches FROM privacy.retention_runs ORDER BY id;

-- A time budget stops a run between batches; the next run goes on.
INSERT INTO shop.logins SELECT g, 3, '2015-01-01'::timestamptz + g * interval '1 minute', NULL, NULL
  FROM generate_series(10, 19) g;
CREATE FUNCTION shop.slow_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN PERFORM pg_sleep(0.02); RETURN OLD; END $$;
CREATE TRIGGER slow BEFORE DELETE ON shop.logins FOR EACH ROW EXECUTE FUNCTION shop.slow_delete();
SET client_min_messages = warning;
CALL privacy.enforce_retention(batch_size => 1, time_budget => '50 milliseconds');
RESET client_min_messages;
SELECT status, rows_done < 10 AS stopped_early, rules -> 'logins' ->> 'status' AS logins_status
  FROM privacy.retention_runs ORDER BY id DESC LIMIT 1;
SET client_min_messages = warning;
CALL privacy.enforce_retention(batch_size => 5);
RESET client_min_messages;
SELECT count(*) AS logins_left_from_2015 FROM shop.logins WHERE logged_in_at < '2016-01-01';
DROP TRIGGER slow ON shop.logins;

-- A run whose backend is gone is marked interrupted by the next run.
INSERT INTO privacy.retention_runs (pid, backend_start, batch_size, time_budget)
VALUES (0, now(), 10, '1 minute');
SET client_min_messages = warning;
CALL privacy.enforce_retention();
RESET client_min_messages;
SELECT id, status, finished_at IS NOT NULL AS finished FROM privacy.retention_runs WHERE pid = 0;
SELECT privacy.seal_audit_log() AS sealed \gset
SELECT summary ->> 'status' AS audited_status FROM privacy.audit_log
 WHERE action = 'retention.run' AND (summary ->> 'run_id')::bigint =
	   (SELECT id FROM privacy.retention_runs WHERE pid = 0);

-- A rule change that drops the minimum removes the guard triggers.
SELECT privacy.apply_policy(jsonb_set(jsonb_set(privacy.policy(), '{version}', '"shop-no-minimum"'),
	'{retention_rules}',
	(SELECT jsonb_agg(r - 'minimum' - 'minimum_from') FROM jsonb_array_elements(privacy.policy() -> 'retention_rules') r))::text) ->> 'changed' AS applied;
SELECT severity, object, problem FROM privacy_internal._lint_retention_enforcement();
SELECT privacy.install_retention_triggers();
SELECT count(*) AS guard_triggers FROM pg_trigger WHERE tgname LIKE 'privacy_retention%';

-- Rules that cannot be enforced are refused when the policy is applied
-- (privacy.apply_policy() installs the guards, which checks every rule), and
-- nothing changes.
ALTER TABLE shop.accounts ALTER COLUMN holder SET NOT NULL;
CREATE FUNCTION pg_temp.with_rule(version text, rule jsonb) RETURNS text LANGUAGE sql AS $$
	SELECT jsonb_set(jsonb_set(privacy.policy(), '{version}', to_jsonb(version)),
					 '{retention_rules}', (privacy.policy() -> 'retention_rules') || jsonb_build_array(rule))::text
$$;
SELECT privacy.apply_policy(pg_temp.with_rule('shop-bad', '{"name": "holders", "table": "shop.accounts",
	"anchor": "closed_at", "period": "1 year", "action": "anonymize", "columns": ["id"], "legal_basis": "contract"}'));
SELECT privacy.apply_policy(pg_temp.with_rule('shop-bad', '{"name": "holders", "table": "shop.accounts",
	"anchor": "closed_at", "period": "1 year", "action": "truncate_ip", "columns": ["holder"], "legal_basis": "contract"}'));
SELECT privacy.apply_policy(pg_temp.with_rule('shop-bad', '{"name": "holders", "table": "shop.accounts",
	"anchor": "holder", "period": "1 year", "action": "delete", "legal_basis": "contract"}'));
SELECT count(*) AS holders_rules FROM privacy.retention_rules WHERE name = 'holders';
SELECT severity, object, problem FROM privacy_internal._lint_retention_enforcement();
SELECT privacy.install_retention_triggers();

-- Bad arguments.
CALL privacy.enforce_retention(batch_size => 0);
CALL privacy.enforce_retention(time_budget => '0 seconds');
BEGIN;
CALL privacy.enforce_retention();
ROLLBACK;

-- The job's backend lowers its own CPU priority (privacy.retention_nice),
-- never raises it; only a superuser changes the setting. (Each check starts
-- in a new backend, at the server's priority 0.)
SHOW privacy.retention_nice;
SET privacy.retention_nice = 20;
\c
SET privacy.retention_nice = 3;
SELECT privacy_internal._retention_lower_priority() AS lowered_to;
SET privacy.retention_nice = 1;
SELECT privacy_internal._retention_lower_priority() AS not_raised;
\c
SET privacy.retention_nice = 5;
SET client_min_messages = warning;
CALL privacy.enforce_retention();
RESET client_min_messages;
SET privacy.retention_nice = 0;
SELECT privacy_internal._retention_lower_priority() AS after_the_job;
RESET privacy.retention_nice;

-- Only privileged roles run the job, set its priority or read the status.
SET ROLE retention_clerk;
SET privacy.retention_nice = 0;
SELECT privacy_internal._retention_lower_priority();
CALL privacy.enforce_retention();
SELECT * FROM privacy.retention_status;
SELECT count(*) >= 0 AS can_read_progress FROM privacy.retention_progress;
RESET ROLE;

SELECT privacy.seal_audit_log() AS sealed \gset
SELECT intact FROM privacy.verify_audit_log();
DROP SCHEMA shop CASCADE;
DROP OWNED BY retention_clerk;
DROP ROLE retention_clerk;
DROP EXTENSION opendims_privacy CASCADE;
