-- Locks no outsider can take or hold: the consent ledger, unsubscribe and
-- erasure lock a subject through a table no ordinary role can touch, never
-- through an advisory lock (which any role can take); the retention job
-- waits for a table's lock at most privacy.retention_lock_timeout. The
-- isolation specs subject_lock_outsider and retention_locked_table show the
-- attacks failing; this file checks the pieces.
SET client_min_messages = warning;
CREATE EXTENSION opendims_privacy CASCADE;
RESET client_min_messages;
\set SHOW_CONTEXT never

CREATE SCHEMA crm;
CREATE TABLE crm.customers (id bigint PRIMARY KEY, name text NOT NULL);
INSERT INTO crm.customers SELECT g, 'Customer ' || g FROM generate_series(1, 3) g;
SELECT privacy.apply_policy(jsonb_build_object(
	'format', 1, 'version', 'crm-1', 'effective_date', '2026-06-24',
	'controller', jsonb_build_object('name', 'Example ApS', 'contact', 'privacy@example.com'),
	'purposes', jsonb_build_array(jsonb_build_object('name', 'marketing', 'legal_basis', 'consent')),
	'subject_kinds', jsonb_build_array(jsonb_build_object('name', 'customer', 'table', 'crm.customers', 'key', 'id')),
	'classifications', jsonb_build_array(
		jsonb_build_object('table', 'crm.customers', 'column', 'name', 'category', 'contact.name')))::text)
	->> 'changed' AS applied;

-- No ledger event, unsubscribe or erasure takes an advisory lock; the
-- subject's lock is held to commit, and leaves nothing behind.
BEGIN;
SELECT privacy.grant_consent('customer', '1', 'marketing') > 0 AS granted,
       privacy.withdraw_consent('customer', '2', 'marketing') > 0 AS withdrawn,
       privacy.unsubscribe(privacy.unsubscribe_token('customer', '1', 'marketing')) ->> 'withdrawn' AS unsubscribed,
       privacy.erase_subject('customer', '3', 'test') ->> 'rows_deleted' AS erased;
SELECT count(*) AS advisory_locks FROM pg_locks WHERE locktype = 'advisory';
SELECT count(*) AS lock_rows_visible FROM privacy._subject_locks;
COMMIT;
SELECT count(*) AS lock_rows_left FROM privacy._subject_locks;
SELECT relpersistence FROM pg_class WHERE oid = 'privacy._subject_locks'::regclass;
-- The same subject twice in one transaction, and a NULL part.
BEGIN;
SELECT privacy_internal._lock_subject('consent_ledger', 'customer', '1'), privacy_internal._lock_subject('consent_ledger', 'customer', '1');
ROLLBACK;
SELECT privacy_internal._lock_subject('consent_ledger', 'customer', NULL);

-- An ordinary role can neither see, write, lock nor take a subject lock.
CREATE ROLE lock_outsider;
SET ROLE lock_outsider;
SELECT count(*) FROM privacy._subject_locks;
INSERT INTO privacy._subject_locks VALUES (1);
BEGIN;
LOCK TABLE privacy._subject_locks IN ACCESS SHARE MODE;
ROLLBACK;
SELECT privacy_internal._lock_subject('consent_ledger', 'customer', '1');
RESET ROLE;

-- privacy.retention_lock_timeout: 5 s by default, at least 1 ms, and any
-- role may set it for its own job.
SHOW privacy.retention_lock_timeout;
SET privacy.retention_lock_timeout = 0;
SET ROLE lock_outsider;
SET privacy.retention_lock_timeout = '250ms';
SHOW privacy.retention_lock_timeout;
RESET privacy.retention_lock_timeout;
SELECT privacy_internal._retention_lock_timeout();
RESET ROLE;
SELECT privacy_internal._retention_lock_timeout();

DROP ROLE lock_outsider;
DROP SCHEMA crm CASCADE;
DROP EXTENSION opendims_privacy CASCADE;
