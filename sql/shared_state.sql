-- The row check's consent state: read once, shared with new sessions and
-- parallel workers through shared memory, and never shared stale.
SET client_min_messages = warning;
CREATE EXTENSION opendims_privacy CASCADE;
RESET client_min_messages;
\set SHOW_CONTEXT never

-- Enough subjects that a full scan reads the whole state (a few are looked
-- up one by one): customers (integer keys) and members (text keys).
CREATE SCHEMA par;
CREATE TABLE par.customers (id bigint PRIMARY KEY, name text NOT NULL);
INSERT INTO par.customers SELECT g, 'Customer ' || g FROM generate_series(1, 500) g;
CREATE TABLE par.events (id bigint PRIMARY KEY, customer_id bigint NOT NULL REFERENCES par.customers,
						 payload text NOT NULL);
INSERT INTO par.events SELECT g, (g - 1) % 500 + 1, 'event ' || g FROM generate_series(1, 20000) g;
CREATE INDEX ON par.events (customer_id);
CREATE TABLE par.members (handle text PRIMARY KEY, display_name text NOT NULL);
INSERT INTO par.members SELECT 'member-' || g, 'Member ' || g FROM generate_series(1, 300) g;
SELECT privacy.apply_policy(jsonb_build_object(
	'format', 1, 'version', 'par-1', 'effective_date', '2026-06-24',
	'controller', jsonb_build_object('name', 'Example ApS', 'contact', 'privacy@example.com'),
	'purposes', jsonb_build_array(jsonb_build_object('name', 'marketing', 'legal_basis', 'consent')),
	'subject_kinds', jsonb_build_array(
		jsonb_build_object('name', 'customer', 'table', 'par.customers', 'key', 'id'),
		jsonb_build_object('name', 'member', 'table', 'par.members', 'key', 'handle')),
	'classifications', jsonb_build_array(
		jsonb_build_object('table', 'par.customers', 'column', 'name', 'category', 'contact.name'),
		jsonb_build_object('table', 'par.events', 'column', 'payload', 'category', 'content'),
		jsonb_build_object('table', 'par.members', 'column', 'display_name', 'category', 'contact.name')))::text)
	->> 'changed' AS applied;
SELECT privacy.protect('par.events') IS NOT NULL AS protected;
SELECT privacy.protect('par.members') IS NOT NULL AS protected;
-- Everyone consents; one in ten withdraws.
SELECT count(privacy.grant_consent('customer', g::text, 'marketing')) FROM generate_series(1, 500) g;
SELECT count(privacy.withdraw_consent('customer', g::text, 'marketing')) FROM generate_series(10, 500, 10) g;
SELECT count(privacy.grant_consent('member', 'member-' || g, 'marketing')) FROM generate_series(1, 300) g;
SELECT count(privacy.withdraw_consent('member', 'member-' || g, 'marketing')) FROM generate_series(10, 300, 10) g;
CREATE ROLE par_reader;
GRANT USAGE ON SCHEMA par TO par_reader;
GRANT SELECT ON ALL TABLES IN SCHEMA par TO par_reader;
SELECT privacy.allow_purpose('marketing', 'par_reader');

-- The first session to scan reads the whole state (and shares it).
SET ROLE par_reader;
SET privacy.purpose = 'marketing';
SELECT count(*) AS events_seen FROM par.events;
SELECT count(*) AS members_seen FROM par.members;
SELECT cache, image_bytes > 0 AS holds_state FROM privacy.consent_cache_status();

-- A new session starts from the shared image (where the library is
-- preloaded), and sees the same rows.
\c
SET ROLE par_reader;
SET privacy.purpose = 'marketing';
SELECT count(*) AS events_seen FROM par.events;
SELECT count(*) AS members_seen FROM par.members;
SELECT cache = 'shared' OR NOT shared_memory AS from_shared_image FROM privacy.consent_cache_status();
SELECT count(*) AS members_seen FROM par.members WHERE handle IN ('member-1', 'member-10', 'member-11', 'nobody');

-- Parallel workers run the check too, and agree with the session.
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
EXPLAIN (COSTS OFF) SELECT count(*) FROM par.events;
SELECT count(*) AS events_seen, count(DISTINCT customer_id) AS customers_seen FROM par.events;
SELECT count(*) AS withdrawn_seen FROM par.events WHERE customer_id % 10 = 0;

-- A withdrawal committed by another session is honoured by the next
-- statement, in the session and in its workers; the image shared before it
-- is not used again unless brought up to date.
RESET ROLE;
SELECT privacy.withdraw_consent('customer', '1', 'marketing') > 0 AS withdrawn;
SET ROLE par_reader;
SELECT count(*) AS events_seen, bool_and(customer_id <> 1) AS customer_1_hidden FROM par.events;
SET force_parallel_mode = on;
SELECT count(*) AS events_seen, bool_and(customer_id <> 1) AS customer_1_hidden FROM par.events;
RESET force_parallel_mode;
\c
SET ROLE par_reader;
SET privacy.purpose = 'marketing';
SELECT count(*) AS events_seen, bool_and(customer_id <> 1) AS customer_1_hidden FROM par.events;
-- (from the image the first session brought up to date and shared)
SELECT cache IN ('shared', 'updated') OR NOT shared_memory AS current_image FROM privacy.consent_cache_status();
\c
SET ROLE par_reader;
SET privacy.purpose = 'marketing';
SELECT count(*) AS events_seen FROM par.events;
SELECT cache = 'shared' OR NOT shared_memory AS from_shared_image FROM privacy.consent_cache_status();

-- A change not yet committed is not shared: the transaction that made it
-- sees it, no other session does, and after a rollback nobody does.
RESET ROLE;
BEGIN;
SELECT privacy.withdraw_consent('customer', '2', 'marketing') > 0 AS withdrawn;
SET LOCAL ROLE par_reader;
SELECT count(*) AS events_seen_inside FROM par.events;
SET LOCAL force_parallel_mode = on;
SELECT count(*) AS events_seen_inside_by_worker FROM par.events;
ROLLBACK;
\c
SET ROLE par_reader;
SET privacy.purpose = 'marketing';
SELECT count(*) AS events_seen FROM par.events;

-- A worker checks the purpose again: a purpose revoked after it was
-- declared is refused there too.
RESET ROLE;
SELECT privacy.revoke_purpose('marketing', 'par_reader');
SET ROLE par_reader;
SET force_parallel_mode = on;
SELECT count(*) FROM par.events;
RESET force_parallel_mode;
RESET ROLE;
SELECT privacy.allow_purpose('marketing', 'par_reader');

-- A transaction that changed consent state cannot be prepared for
-- two-phase commit (its commit would not reach the shared state); others can.
BEGIN;
SELECT privacy.withdraw_consent('customer', '3', 'marketing') > 0 AS withdrawn;
PREPARE TRANSACTION 'consent_change';
SELECT privacy.consent_history('customer', '3') -> -1 ->> 'action' AS last_action;
-- A server without prepared transactions (max_prepared_transactions = 0,
-- the default) cannot show the others: expected/shared_state_1.out.
SELECT current_setting('max_prepared_transactions')::integer > 0 AS two_phase \gset
\if :two_phase
BEGIN;
INSERT INTO par.customers VALUES (1000, 'Customer 1000');
PREPARE TRANSACTION 'other_change';
ROLLBACK PREPARED 'other_change';
\else
\echo 'NOTICE:  skipped: max_prepared_transactions is 0, so no transaction can be prepared'
\endif

RESET ROLE;
SET client_min_messages = warning;
DROP SCHEMA par CASCADE;
DROP EXTENSION opendims_privacy CASCADE;
DROP OWNED BY par_reader;
DROP ROLE par_reader;
