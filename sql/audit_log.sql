-- privacy.audit_log: append-only, hash-chained, verified; subject references
-- are keyed hashes, never raw identifiers.
SET client_min_messages = warning;
CREATE EXTENSION opendims_privacy CASCADE;
RESET client_min_messages;

SELECT privacy.seal_audit_log() AS sealed \gset
SELECT privacy.verify_audit_log();
-- An entry gets its id when its transaction commits: privacy_internal._audit() returns NULL.
SELECT privacy_internal._audit(current_user, 'test.one', 'customer', '42', NULL, '{"n": 1}') IS NULL AS id_at_commit;
SELECT privacy_internal._audit(current_user, 'test.two', 'customer', '42', 7, '{"n": 2}') IS NULL AS id_at_commit;
SELECT privacy_internal._audit(current_user, 'test.three', NULL, NULL, NULL, NULL) IS NULL AS id_at_commit;
SELECT privacy.seal_audit_log() AS sealed \gset
SELECT id AS first_id FROM privacy.audit_log WHERE action = 'test.one' \gset
SELECT privacy.seal_audit_log() AS sealed \gset
SELECT id - :first_id AS n, actor = current_user AS by_me, action, request_id, summary,
       subject_ref ~ '^[0-9a-f]{64}$' AS keyed_hash, subject_ref = privacy.subject_ref('customer', '42') AS same_ref
  FROM privacy.audit_log ORDER BY id;
SELECT privacy.seal_audit_log() AS sealed \gset
SELECT count(DISTINCT subject_ref) FROM privacy.audit_log WHERE subject_ref IS NOT NULL;
SELECT privacy.subject_ref('customer', '42') <> privacy.subject_ref('user', '42') AS kind_matters;
SELECT privacy.seal_audit_log() AS sealed \gset
SELECT privacy.verify_audit_log();

-- A transaction's entries are appended to the chain when it commits, in the
-- order it wrote them: until then they are not in the log, and nothing of
-- the chain is locked. Entries of a rolled-back subtransaction or of an
-- aborted transaction are never appended; a committed subtransaction's are.
BEGIN;
SELECT privacy_internal._audit(current_user, 'test.pending.first', NULL, NULL, NULL, NULL) IS NULL AS id_at_commit;
SELECT count(*) AS visible_before_commit FROM privacy.audit_log WHERE action LIKE 'test.pending.%';
SELECT count(*) AS head_locked FROM pg_locks
 WHERE locktype = 'relation' AND relation = 'privacy._audit_head'::regclass AND pid = pg_backend_pid();
SAVEPOINT rolled_back;
SELECT privacy_internal._audit(current_user, 'test.pending.rolled_back', NULL, NULL, NULL, NULL) IS NULL AS id_at_commit;
ROLLBACK TO SAVEPOINT rolled_back;
SAVEPOINT released;
SAVEPOINT inner_released;
SELECT privacy_internal._audit(current_user, 'test.pending.released', NULL, NULL, NULL, NULL) IS NULL AS id_at_commit;
RELEASE SAVEPOINT released;
SAVEPOINT rolled_back_after_release;
SAVEPOINT nested;
SELECT privacy_internal._audit(current_user, 'test.pending.inner_rolled_back', NULL, NULL, NULL, NULL) IS NULL AS id_at_commit;
RELEASE SAVEPOINT nested;
ROLLBACK TO SAVEPOINT rolled_back_after_release;
SELECT privacy_internal._audit(current_user, 'test.pending.last', 'customer', '42', NULL, NULL) IS NULL AS id_at_commit;
COMMIT;
BEGIN;
SELECT privacy_internal._audit(current_user, 'test.pending.aborted', NULL, NULL, NULL, NULL) IS NULL AS id_at_commit;
ROLLBACK;
SELECT privacy.seal_audit_log() AS sealed \gset
SELECT action, id > :first_id AS after_first,
       subject_ref = privacy.subject_ref('customer', '42') AS same_ref
  FROM privacy.audit_log WHERE action LIKE 'test.pending.%' ORDER BY id;
SELECT privacy.seal_audit_log() AS sealed \gset
SELECT intact, entries FROM privacy.verify_audit_log();
-- A transaction with entries cannot be prepared: they are appended at
-- commit, which COMMIT PREPARED cannot do.
BEGIN;
SELECT privacy_internal._audit(current_user, 'test.pending.prepared', NULL, NULL, NULL, NULL) IS NULL AS id_at_commit;
PREPARE TRANSACTION 'audit_log_prepared';
SELECT count(*) > 0 AS prepared FROM pg_prepared_xacts WHERE gid = 'audit_log_prepared' \gset
SELECT :'prepared' AS prepared;
\if :prepared
ROLLBACK PREPARED 'audit_log_prepared';
\endif
SELECT count(*) AS appended FROM privacy.audit_log WHERE action = 'test.pending.prepared';

-- A read-only transaction cannot write an entry: the audited action is
-- refused before it returns anything, not when the transaction commits.
\set VERBOSITY terse
BEGIN READ ONLY;
SELECT privacy_internal._audit(current_user, 'test.read_only', NULL, NULL, NULL, NULL);
ROLLBACK;
\set VERBOSITY default

-- Timestamps hash the same whatever the session's settings.
SET TimeZone = 'America/New_York';
SET DateStyle = 'SQL, DMY';
SELECT privacy.seal_audit_log() AS sealed \gset
SELECT intact FROM privacy.verify_audit_log();
RESET TimeZone;
RESET DateStyle;

-- Append-only, even for its owner.
SELECT privacy.seal_audit_log() AS sealed \gset
UPDATE privacy.audit_log SET action = 'forged';
DELETE FROM privacy.audit_log;
TRUNCATE privacy.audit_log;

-- A superuser who goes around the triggers is caught by verification.
ALTER TABLE privacy.audit_log DISABLE TRIGGER append_only;
UPDATE privacy.audit_log SET summary = '{"n": 20}' WHERE id = :first_id + 1;
SELECT intact, first_broken_id - :first_id AS broken, problem FROM privacy.verify_audit_log();
UPDATE privacy.audit_log SET summary = '{"n": 2}' WHERE id = :first_id + 1;
SELECT intact FROM privacy.verify_audit_log();
-- The acting role's name is hashed whole: one of the longest a role can
-- have, lengthened in the log, no longer verifies.
SELECT privacy_internal._audit(repeat('r', 63), 'test.long_actor', NULL, NULL, NULL, NULL) IS NULL AS written;
SELECT privacy.seal_audit_log() AS sealed \gset
SELECT intact FROM privacy.verify_audit_log();
UPDATE privacy.audit_log SET actor = actor || 'x' WHERE action = 'test.long_actor';
SELECT intact, first_broken_id = (SELECT id FROM privacy.audit_log WHERE action = 'test.long_actor') AS at_the_entry,
       problem
  FROM privacy.verify_audit_log();
UPDATE privacy.audit_log SET actor = repeat('r', 63) WHERE action = 'test.long_actor';
SELECT intact FROM privacy.verify_audit_log();
DELETE FROM privacy.audit_log WHERE id = :first_id + 1;
SELECT intact, first_broken_id - :first_id AS broken, problem FROM privacy.verify_audit_log();
ALTER TABLE privacy.audit_log ENABLE TRIGGER append_only;
DROP EXTENSION opendims_privacy CASCADE;
SET client_min_messages = warning;
CREATE EXTENSION opendims_privacy CASCADE;
RESET client_min_messages;

-- Sealing. A committed entry waits in privacy._audit_unsealed until the
-- sealer (the worker of the preloaded library, or privacy.seal_audit_log())
-- chains it. Here this session holds the chain's head, as a sealer does, so
-- that the worker cannot seal; another session's audited transaction still
-- commits at once (writers take no lock on the chain), and its entry waits.
SELECT privacy.seal_audit_log() AS sealed \gset
\setenv PRIVACY_TEST_DB :DBNAME
BEGIN;
LOCK TABLE privacy._audit_head IN SHARE ROW EXCLUSIVE MODE;
\! psql -X -q -At -d "$PRIVACY_TEST_DB" -c "SET lock_timeout = '5s'" -c "SELECT privacy_internal._audit(current_user, 'test.waiting', 'customer', '42', NULL, '{\"n\": 1}') IS NULL AS written" -c "SELECT privacy_internal._audit(current_user, 'test.waiting', NULL, NULL, NULL, '{\"n\": 2}') IS NULL AS written"
SELECT entries, oldest_logged_at IS NOT NULL AS oldest_known, oldest_age > interval '0' AS age_known
  FROM privacy.audit_backlog;
SELECT count(*) AS sealed_yet FROM privacy.audit_log WHERE action = 'test.waiting';
-- verify_audit_log() reports the sealed chain and, apart, the unsealed tail.
SELECT intact, entries, unsealed, oldest_unsealed IS NOT NULL AS oldest_known FROM privacy.verify_audit_log();
-- The unsealed entries are append-only too, even for their owner.
SAVEPOINT refused;
UPDATE privacy._audit_unsealed SET action = 'forged';
ROLLBACK TO SAVEPOINT refused;
DELETE FROM privacy._audit_unsealed;
ROLLBACK TO SAVEPOINT refused;
TRUNCATE privacy._audit_unsealed;
ROLLBACK TO SAVEPOINT refused;
-- The manual seal chains them, in the order they were written; it is part
-- of this transaction, and the entries are then gone from the backlog.
SELECT privacy.seal_audit_log() AS sealed;
SELECT action, summary, subject_ref = privacy.subject_ref('customer', '42') AS same_ref
  FROM privacy.audit_log WHERE action = 'test.waiting' ORDER BY id;
SELECT entries, oldest_logged_at, oldest_age FROM privacy.audit_backlog;
COMMIT;
SELECT intact, entries, unsealed, oldest_unsealed FROM privacy.verify_audit_log();
SELECT privacy.seal_audit_log() AS nothing_left;

-- A transaction's own entries: queued ones are written at commit and are
-- not in the backlog before; the rectification trigger's are written as the
-- UPDATE runs, are in the transaction's own view of the backlog, and go
-- with a savepoint rolled back.
CREATE SCHEMA audit_test;
CREATE TABLE audit_test.customers (id bigint PRIMARY KEY, name text NOT NULL);
INSERT INTO audit_test.customers VALUES (1, 'One'), (2, 'Two');
SELECT privacy.apply_policy(jsonb_build_object(
	'format', 1, 'version', 'al-1', 'effective_date', '2026-06-24',
	'controller', jsonb_build_object('name', 'Example ApS', 'contact', 'privacy@example.com'),
	'purposes', jsonb_build_array(jsonb_build_object('name', 'service', 'legal_basis', 'contract')),
	'subject_kinds', jsonb_build_array(
		jsonb_build_object('name', 'customer', 'table', 'audit_test.customers', 'key', 'id')),
	'classifications', jsonb_build_array(
		jsonb_build_object('table', 'audit_test.customers', 'column', 'name', 'category', 'contact.name')))::text)
	->> 'changed' AS applied;
SELECT privacy.protect('audit_test.customers');
SELECT privacy.seal_audit_log() AS sealed \gset
BEGIN;
SELECT privacy_internal._audit(current_user, 'test.own', NULL, NULL, NULL, NULL) IS NULL AS queued;
SELECT entries AS own_backlog FROM privacy.audit_backlog;
UPDATE audit_test.customers SET name = 'Uno' WHERE id = 1;
SELECT entries AS own_backlog FROM privacy.audit_backlog;
SAVEPOINT s;
UPDATE audit_test.customers SET name = 'Dos' WHERE id = 2;
SELECT entries AS own_backlog FROM privacy.audit_backlog;
ROLLBACK TO SAVEPOINT s;
SELECT entries AS own_backlog FROM privacy.audit_backlog;
-- A transaction with entries written as it ran cannot be prepared either.
PREPARE TRANSACTION 'audit_log_rectified';
SELECT privacy.seal_audit_log() AS sealed \gset
SELECT action, subject_ref = privacy.subject_ref('customer', '1') AS customer_1
  FROM privacy.audit_log WHERE action IN ('test.own', 'rectification') ORDER BY id;
BEGIN;
SELECT privacy_internal._audit(current_user, 'test.own', NULL, NULL, NULL, NULL) IS NULL AS queued;
UPDATE audit_test.customers SET name = 'Uno' WHERE id = 1;
COMMIT;
SELECT privacy.seal_audit_log() AS sealed \gset
SELECT action, subject_ref = privacy.subject_ref('customer', '1') AS customer_1
  FROM privacy.audit_log WHERE action IN ('test.own', 'rectification') ORDER BY id;
SELECT intact, unsealed FROM privacy.verify_audit_log();

-- A superuser who goes around the unsealed entries' triggers changes what
-- will be sealed; once sealed, the entry is covered by the chain like any.
BEGIN;
LOCK TABLE privacy._audit_head IN SHARE ROW EXCLUSIVE MODE;
\! psql -X -q -At -d "$PRIVACY_TEST_DB" -c "SELECT privacy_internal._audit(current_user, 'test.changed_before_seal', NULL, NULL, NULL, '{}') IS NULL AS written"
ALTER TABLE privacy._audit_unsealed DISABLE TRIGGER append_only;
UPDATE privacy._audit_unsealed SET summary = '{"changed": true}' WHERE action = 'test.changed_before_seal';
ALTER TABLE privacy._audit_unsealed ENABLE TRIGGER append_only;
SELECT privacy.seal_audit_log() AS sealed;
COMMIT;
SELECT summary FROM privacy.audit_log WHERE action = 'test.changed_before_seal';
SELECT intact FROM privacy.verify_audit_log();
ALTER TABLE privacy.audit_log DISABLE TRIGGER append_only;
UPDATE privacy.audit_log SET summary = '{"changed": "again"}' WHERE action = 'test.changed_before_seal';
ALTER TABLE privacy.audit_log ENABLE TRIGGER append_only;
SELECT intact, problem FROM privacy.verify_audit_log();

-- A trigger of the DBA's own on the log (say, one that ships entries
-- elsewhere) fires for every sealed entry: the seal inserts them with a
-- statement then, rather than directly, and chains them the same way.
CREATE TABLE audit_test.shipped (id bigint, action text);
CREATE FUNCTION audit_test.ship() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO audit_test.shipped VALUES (NEW.id, NEW.action);
	RETURN NULL;
END
$$;
CREATE TRIGGER ship AFTER INSERT ON privacy.audit_log FOR EACH ROW EXECUTE FUNCTION audit_test.ship();
SELECT privacy_internal._audit(current_user, 'test.shipped', NULL, NULL, NULL, '{"n": 1}') IS NULL AS written;
SELECT privacy_internal._audit(current_user, 'test.shipped', 'customer', '42', NULL, '{"n": 2}') IS NULL AS written;
SELECT privacy.seal_audit_log() AS sealed \gset
SELECT s.action, l.summary FROM audit_test.shipped s JOIN privacy.audit_log l ON l.id = s.id ORDER BY s.id;
SELECT count(*) AS chained FROM privacy.audit_log l
 WHERE l.action = 'test.shipped'
   AND l.hash = privacy_internal._audit_entry_hash(l.prev_hash, l.id, l.logged_at, l.actor, l.session_role,
												   l.action, l.subject_ref, l.request_id, l.summary);
DROP TRIGGER ship ON privacy.audit_log;

-- Ordinary roles can neither read nor write the log, nor the keys.
CREATE ROLE audit_stranger;
GRANT USAGE ON SCHEMA audit_test TO audit_stranger;
SET ROLE audit_stranger;
SELECT count(*) FROM privacy.audit_log;
SELECT count(*) FROM privacy._audit_unsealed;
INSERT INTO privacy._audit_unsealed (logged_at, actor, session_role, action, summary)
VALUES (now(), 'x', 'x', 'forged', '{}');
SELECT * FROM privacy.audit_backlog;
SELECT privacy.seal_audit_log();
SELECT privacy_internal._audit('x', 'forged', NULL, NULL, NULL, NULL);
SELECT count(*) FROM privacy._keys;
SELECT privacy.verify_audit_log();
SELECT privacy.subject_ref('customer', '42');
RESET ROLE;
DROP OWNED BY audit_stranger;
DROP ROLE audit_stranger;

DROP EXTENSION opendims_privacy CASCADE;
DROP SCHEMA audit_test CASCADE;
