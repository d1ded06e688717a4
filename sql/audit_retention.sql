-- privacy.prune_audit_log(): the only way entries leave the audit log; the
-- rest of the chain stays verifiable and the pruning is itself audited.
SET client_min_messages = warning;
CREATE EXTENSION opendims_privacy CASCADE;
RESET client_min_messages;

-- Three entries from two years ago, chained as privacy_internal._audit() would.
DO $$
DECLARE
	head privacy._audit_head;
	e privacy.audit_log;
	i integer;
BEGIN
	FOR i IN 1 .. 3 LOOP
		SELECT * INTO head FROM privacy._audit_head;
		e.id := nextval('privacy.audit_log_id_seq');
		e.logged_at := now() - interval '2 years' + i * interval '1 day';
		e.actor := current_user; e.session_role := session_user;
		e.action := 'test.old'; e.summary := jsonb_build_object('i', i);
		e.prev_hash := head.last_hash;
		e.hash := privacy_internal._audit_entry_hash(e.prev_hash, e.id, e.logged_at, e.actor, e.session_role,
											e.action, e.subject_ref, e.request_id, e.summary);
		INSERT INTO privacy.audit_log VALUES (e.*);
		UPDATE privacy._audit_head SET last_id = e.id, last_hash = e.hash;
	END LOOP;
END $$;
SELECT privacy_internal._audit(current_user, 'test.new', NULL, NULL, NULL, '{}') IS NULL AS audited_at_commit;
SELECT privacy.seal_audit_log() AS sealed \gset
SELECT intact, entries FROM privacy.verify_audit_log();

SELECT privacy.prune_audit_log('3 months');
SELECT privacy.prune_audit_log(NULL);
SELECT privacy.prune_audit_log('18 months') AS pruned;
SELECT privacy.seal_audit_log() AS sealed \gset
SELECT action, summary ->> 'entries' AS entries FROM privacy.audit_log ORDER BY id;
SELECT privacy.seal_audit_log() AS sealed \gset
SELECT intact, entries FROM privacy.verify_audit_log();
SELECT privacy.prune_audit_log('18 months') AS pruned_again;

-- Deleting by hand is still refused, and detected if forced.
SELECT privacy.seal_audit_log() AS sealed \gset
DELETE FROM privacy.audit_log;
SET session_replication_role = replica;
SELECT privacy.seal_audit_log() AS sealed \gset
DELETE FROM privacy.audit_log WHERE action = 'test.new';
RESET session_replication_role;
SELECT privacy.seal_audit_log() AS sealed \gset
SELECT intact, problem FROM privacy.verify_audit_log();

CREATE ROLE prune_stranger;
SET ROLE prune_stranger;
SELECT privacy.prune_audit_log('5 years');
RESET ROLE;
DROP ROLE prune_stranger;

DROP EXTENSION opendims_privacy CASCADE;
