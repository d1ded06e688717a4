-- Delegation: a DBA grants a role exactly what docs/operations.md lists for
-- each task (requests, export, erasure, holds, the retention job and its
-- status), and the role does each task as itself; a role without the grants
-- is refused; the job's internal steps do no more for a role than the job
-- would.
SET client_min_messages = warning;
CREATE EXTENSION opendims_privacy CASCADE;
RESET client_min_messages;
\set SHOW_CONTEXT never
SET TimeZone = 'UTC';
SET DateStyle = 'ISO, YMD';
\i test/fixtures/shop_schema.sql
\set doc `cat test/fixtures/shop-policy.json`
SELECT (privacy.apply_policy(:'doc') ->> 'changed')::boolean AS applied;
INSERT INTO shop.customers (id, name) VALUES (1, 'Ann'), (2, 'Bo'), (3, 'Cy');
INSERT INTO shop.orders (id, customer_id, placed_at, closed_at, delivery_address)
SELECT g, 1 + g % 3, '2015-01-01', '2015-01-02', 'Street ' || g FROM generate_series(1, 6) g;
-- Order 7 closed recently: not due.
INSERT INTO shop.orders VALUES (7, 1, now(), now(), 'Street 7');
INSERT INTO shop.invoices (id, order_id, customer_id, issued_on, billing_name)
SELECT g, g, 1 + g % 3, '2015-01-02', 'Name ' || g FROM generate_series(1, 6) g;

-- The grants of docs/operations.md, task by task.
CREATE ROLE privacy_operator NOLOGIN;
CREATE ROLE privacy_outsider NOLOGIN;
-- Requests.
GRANT EXECUTE ON FUNCTION privacy.open_request(text, text, text, timestamptz),
	privacy.extend_request(bigint, text, interval),
	privacy.close_request(bigint, text, jsonb) TO privacy_operator;
GRANT SELECT ON privacy.requests TO privacy_operator;
-- Export and erasure.
GRANT EXECUTE ON FUNCTION privacy.export_subject(bigint), privacy.erase_subject(bigint, text) TO privacy_operator;
-- Legal holds.
GRANT EXECUTE ON FUNCTION privacy.place_hold(text, text, text, text), privacy.place_hold(regclass, text, text),
	privacy.release_hold(bigint, text) TO privacy_operator;
-- The retention job and its status.
GRANT EXECUTE ON PROCEDURE privacy.enforce_retention(integer, interval) TO privacy_operator;
GRANT SELECT ON privacy.retention_status TO privacy_operator;
GRANT USAGE ON SCHEMA shop TO privacy_operator;
GRANT SELECT, DELETE ON shop.invoices TO privacy_operator;
GRANT SELECT, UPDATE ON shop.orders TO privacy_operator;

SET ROLE privacy_operator;
SELECT privacy.open_request('customer', '1', 'access') AS access_request \gset
SELECT privacy.extend_request(:access_request, 'Complex request', '1 month') > now() AS extended;
SELECT jsonb_array_length(privacy.export_subject(:access_request) -> 'data' -> 'shop.orders' -> 'rows') AS orders_exported;
SELECT privacy.open_request('customer', '2', 'objection') AS objection \gset
SELECT privacy.close_request(:objection, 'rejected', '{"reason": "manifestly unfounded"}');
SELECT privacy.open_request('customer', '3', 'erasure') AS erasure_request \gset
SELECT r ->> 'rows_deleted' AS deleted, r ->> 'rows_anonymized' AS anonymized
  FROM privacy.erase_subject(:erasure_request, 'consent withdrawn') r;
SELECT id = :access_request AS access, status FROM privacy.requests ORDER BY id;
SELECT privacy.place_hold('customer', '2', 'Dispute over unpaid invoices', 'Case 2026-1') AS hold \gset
SELECT privacy.place_hold('shop.invoices', 'Tax audit', 'SKAT-1') AS table_hold \gset
SELECT privacy.release_hold(:table_hold, 'Audit closed');
SELECT rule, rows_due, rows_held FROM privacy.retention_status ORDER BY rule;
CALL privacy.enforce_retention();
SELECT rule, rows_due, rows_held, last_run_status FROM privacy.retention_status ORDER BY rule;
SELECT started_by = session_user AS by_session_user, status, rows_done FROM privacy.retention_runs ORDER BY id;
RESET ROLE;
SELECT id, delivery_address FROM shop.orders ORDER BY id;
SELECT id, customer_id FROM shop.invoices ORDER BY id;

-- The job needs the rights it uses on each table: without DELETE on
-- invoices, the operator's run stops at that rule.
REVOKE DELETE ON shop.invoices FROM privacy_operator;
SELECT privacy.release_hold(:hold, 'Dispute settled');
SET ROLE privacy_operator;
CALL privacy.enforce_retention();
RESET ROLE;
SELECT count(*) AS invoices_left FROM shop.invoices;

-- A role without the grants is refused, task by task.
SET ROLE privacy_outsider;
SELECT privacy.open_request('customer', '1', 'access');
SELECT privacy.extend_request(:access_request, 'Complex request', '1 month');
SELECT privacy.close_request(:access_request, 'rejected', '{"reason": "no"}');
SELECT privacy.export_subject(:access_request);
SELECT privacy.erase_subject(:access_request, 'consent withdrawn');
SELECT privacy.place_hold('customer', '1', 'r', 'x');
SELECT privacy.release_hold(:hold, 'r');
CALL privacy.enforce_retention();
SELECT * FROM privacy.retention_status;
SELECT * FROM privacy.requests;
-- Nor can it run the job's steps itself, which run as the extension's owner.
SELECT privacy_internal._retention_run_start(10, '1 minute');
SELECT privacy_internal._retention_run_rules(1);
SELECT privacy_internal._retention_rule_start(1, 'orders');
SELECT * FROM privacy_internal._retention_batch(1, 'orders', 'infinity', 'infinity', NULL, false, '{}');
SELECT privacy_internal._retention_run_finish(1, 'finished');
RESET ROLE;

-- The operator's own steps do no more than the job would: a batch given a
-- cutoff in the future still takes only due rows, and a run that is not
-- running in the session is refused.
UPDATE shop.orders SET delivery_address = 'Street 1' WHERE id = 1;
SET ROLE privacy_operator;
SELECT privacy_internal._retention_run_start(10, '1 minute') AS run \gset
SELECT outcome FROM privacy_internal._retention_batch(:run, 'orders', 'infinity', 'infinity', NULL, false, '{}');
SELECT privacy_internal._retention_batch(1, 'orders', 'infinity', 'infinity', NULL, false, '{}');
SELECT privacy_internal._retention_run_finish(:run, 'finished') IS NOT NULL AS finished;
RESET ROLE;
SELECT id, delivery_address FROM shop.orders WHERE id IN (1, 7) ORDER BY id;

-- Nothing was granted to PUBLIC on the way.
SELECT count(*) AS public_grants_on_retention_status
  FROM information_schema.role_table_grants
 WHERE table_schema = 'privacy' AND table_name = 'retention_status' AND grantee = 'PUBLIC';

DROP OWNED BY privacy_operator, privacy_outsider;
DROP ROLE privacy_operator;
DROP ROLE privacy_outsider;
DROP EXTENSION opendims_privacy CASCADE;
DROP SCHEMA shop CASCADE;
