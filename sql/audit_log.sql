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
SELECT privacy.seal_audit_log() AS sealed \gset
DELETE FROM privacy.audit_log;
TRUNCATE privacy.audit_log;

-- A superuser who goes around the triggers is caught by verification.
ALTER TABLE privacy.audit_log DISABLE TRIGGER append_only;
SELECT privacy.seal_audit_log() AS sealed \gset
UPDATE privacy.audit_log SET summary = '{"n": 20}' WHERE id = :first_id + 1;
SELECT privacy.seal_audit_log() AS sealed \gset
SELECT intact, first_broken_id - :first_id AS broken, problem FROM privacy.verify_audit_log();
SELECT privacy.seal_audit_log() AS sealed \gset
UPDATE privacy.audit_log SET summary = '{"n": 2}' WHERE id = :first_id + 1;
SELECT privacy.seal_audit_log() AS sealed \gset
SELECT intact FROM privacy.verify_audit_log();
SELECT privacy.seal_audit_log() AS sealed \gset
DELETE FROM privacy.audit_log WHERE id = :first_id + 1;
SELECT privacy.seal_audit_log() AS sealed \gset
SELECT intact, first_broken_id - :first_id AS broken, problem FROM privacy.verify_audit_log();
ALTER TABLE privacy.audit_log ENABLE TRIGGER append_only;

-- Ordinary roles can neither read nor write the log, nor the keys.
CREATE ROLE audit_stranger;
SET ROLE audit_stranger;
SELECT count(*) FROM privacy.audit_log;
SELECT privacy_internal._audit('x', 'forged', NULL, NULL, NULL, NULL);
SELECT count(*) FROM privacy._keys;
SELECT privacy.verify_audit_log();
SELECT privacy.subject_ref('customer', '42');
RESET ROLE;
DROP ROLE audit_stranger;

DROP EXTENSION opendims_privacy CASCADE;
