-- audit: the hash-chained audit log, its verification and pruning, and the
-- evidence check over receipts and ledgers. C: src/audit/.

CREATE FUNCTION privacy_internal._audit(actor name, action text, kind text, subject text, request_id bigint, summary jsonb) RETURNS bigint
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
BEGIN
	PERFORM privacy_internal._audit_append(
		pg_catalog.clock_timestamp(),
		COALESCE(actor, SESSION_USER),
		SESSION_USER,
		action,
		CASE WHEN subject IS NOT NULL THEN privacy.subject_ref(COALESCE(kind, ''), subject) END,
		request_id,
		COALESCE(summary, '{}'::pg_catalog.jsonb));
	RETURN NULL;
END
$$;

COMMENT ON FUNCTION privacy_internal._audit(actor name, action text, kind text, subject text, request_id bigint, summary jsonb) IS 'Writes one audit log entry, written to the unsealed entries when the transaction commits and sealed into the hash chain after; returns NULL (the entry''s id is assigned when it is sealed)';

REVOKE ALL ON FUNCTION privacy_internal._audit(actor name, action text, kind text, subject text, request_id bigint, summary jsonb) FROM PUBLIC;

CREATE FUNCTION privacy_internal._audit_append(logged_at timestamp with time zone, actor name, session_role name, action text, subject_ref text, request_id bigint, summary jsonb) RETURNS void
    LANGUAGE c
    AS 'MODULE_PATHNAME', 'privacy_audit_append';

COMMENT ON FUNCTION privacy_internal._audit_append(logged_at timestamp with time zone, actor name, session_role name, action text, subject_ref text, request_id bigint, summary jsonb) IS 'Queues one audit log entry of the current transaction; the entries are written to privacy._audit_unsealed when the transaction commits';

REVOKE ALL ON FUNCTION privacy_internal._audit_append(logged_at timestamp with time zone, actor name, session_role name, action text, subject_ref text, request_id bigint, summary jsonb) FROM PUBLIC;

CREATE FUNCTION privacy_internal._audit_entry_text(id bigint, logged_at timestamptz,
										  actor text, session_role text, action text,
										  subject_ref text, request_id bigint, summary jsonb)
RETURNS bytea
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT pg_catalog.convert_to(pg_catalog.concat_ws(E'\x1f',
			id::text,
			pg_catalog.to_char(logged_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
			actor, session_role, action,
			COALESCE(subject_ref, ''),
			COALESCE(request_id::text, ''),
			summary::text), 'UTF8');
END;

COMMENT ON FUNCTION privacy_internal._audit_entry_text(id bigint, logged_at timestamp with time zone, actor text, session_role text, action text, subject_ref text, request_id bigint, summary jsonb) IS 'The canonical text of one audit log entry, which its hash covers';

REVOKE ALL ON FUNCTION privacy_internal._audit_entry_text(id bigint, logged_at timestamp with time zone, actor text, session_role text, action text, subject_ref text, request_id bigint, summary jsonb) FROM PUBLIC;

CREATE FUNCTION privacy_internal._audit_entry_hash(prev_hash bytea, id bigint, logged_at timestamptz,
										  actor text, session_role text, action text,
										  subject_ref text, request_id bigint, summary jsonb)
RETURNS bytea
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT pg_catalog.sha256(prev_hash OPERATOR(pg_catalog.||)
			privacy_internal._audit_entry_text(id, logged_at, actor, session_role, action,
											   subject_ref, request_id, summary));
END;

COMMENT ON FUNCTION privacy_internal._audit_entry_hash(prev_hash bytea, id bigint, logged_at timestamp with time zone, actor text, session_role text, action text, subject_ref text, request_id bigint, summary jsonb) IS 'The chained hash of one audit log entry';

REVOKE ALL ON FUNCTION privacy_internal._audit_entry_hash(prev_hash bytea, id bigint, logged_at timestamp with time zone, actor text, session_role text, action text, subject_ref text, request_id bigint, summary jsonb) FROM PUBLIC;

CREATE FUNCTION privacy_internal._audit_log_is_append_only() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
BEGIN
	RAISE EXCEPTION 'privacy.audit_log is append-only'
		USING ERRCODE = 'insufficient_privilege',
			  DETAIL = pg_catalog.format('%s is not allowed on the audit log.', TG_OP),
			  HINT = 'Entries are added by the extension''s functions; privacy.verify_audit_log() detects any change made by other means.';
END
$$;

COMMENT ON FUNCTION privacy_internal._audit_log_is_append_only() IS 'Trigger: refuses UPDATE, DELETE and TRUNCATE on the audit log';

REVOKE ALL ON FUNCTION privacy_internal._audit_log_is_append_only() FROM PUBLIC;

CREATE FUNCTION privacy_internal._audit_unsealed_is_append_only() RETURNS trigger
    LANGUAGE c
    AS 'MODULE_PATHNAME', 'privacy_audit_unsealed_is_append_only';

COMMENT ON FUNCTION privacy_internal._audit_unsealed_is_append_only() IS 'Trigger: refuses UPDATE, DELETE and TRUNCATE on the unsealed audit log entries, except the sealer''s own deletion of the entries it seals';

REVOKE ALL ON FUNCTION privacy_internal._audit_unsealed_is_append_only() FROM PUBLIC;

CREATE FUNCTION privacy.seal_audit_log() RETURNS bigint
    LANGUAGE c
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS 'MODULE_PATHNAME', 'privacy_seal_audit_log';

COMMENT ON FUNCTION privacy.seal_audit_log() IS 'Seals every committed unsealed audit log entry into the hash chain now, in the order they were written; returns how many it sealed';

REVOKE ALL ON FUNCTION privacy.seal_audit_log() FROM PUBLIC;

CREATE FUNCTION privacy.prune_audit_log(older_than interval) RETURNS bigint
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
	last_pruned privacy.audit_log;
	pruned bigint;
BEGIN
	IF older_than IS NULL OR older_than < interval '1 year' THEN
		RAISE EXCEPTION 'audit log entries are kept for at least one year'
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Pass an age of one year or more, e.g. ''6 years''.';
	END IF;
	LOCK TABLE privacy._audit_head IN SHARE ROW EXCLUSIVE MODE;
	SELECT * INTO last_pruned FROM privacy.audit_log a
	 WHERE a.logged_at OPERATOR(pg_catalog.<) (pg_catalog.now() OPERATOR(pg_catalog.-) older_than)
	 ORDER BY a.id DESC LIMIT 1;
	IF NOT FOUND THEN
		RETURN 0;
	END IF;
	-- The log's append-only triggers let only this path through: ordinary
	-- triggers do not fire while the session acts as a replica.
	SET LOCAL session_replication_role = replica;
	DELETE FROM privacy.audit_log a WHERE a.id OPERATOR(pg_catalog.<=) last_pruned.id;
	GET DIAGNOSTICS pruned = ROW_COUNT;
	SET LOCAL session_replication_role = origin;
	UPDATE privacy._audit_head
	   SET pruned_through_id = last_pruned.id, pruned_through_hash = last_pruned.hash;
	PERFORM privacy_internal._audit(SESSION_USER, 'audit.prune', NULL, NULL, NULL,
						   pg_catalog.jsonb_build_object('entries', pruned, 'through_id', last_pruned.id,
														 'older_than', older_than::text));
	RETURN pruned;
END
$$;

COMMENT ON FUNCTION privacy.prune_audit_log(older_than interval) IS 'Deletes audit log entries older than the given age (at least a year), keeping the rest of the chain verifiable; the pruning itself is audited';

REVOKE ALL ON FUNCTION privacy.prune_audit_log(older_than interval) FROM PUBLIC;

CREATE FUNCTION privacy.verify_audit_log(OUT intact boolean, OUT entries bigint, OUT first_broken_id bigint, OUT problem text, OUT unsealed bigint, OUT oldest_unsealed timestamp with time zone) RETURNS record
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
	e privacy.audit_log;
	head privacy._audit_head;
	prev bytea;
	last_id bigint;
	finding record;
	findings bigint;
BEGIN
	-- The unsealed tail first: it is reported whatever the chain shows.
	SELECT COALESCE(pg_catalog.sum(COALESCE(pg_catalog.cardinality(u.subject_refs), 1)), 0)::bigint,
		   pg_catalog.min(u.logged_at) INTO unsealed, oldest_unsealed
	  FROM privacy._audit_unsealed u;
	SELECT * INTO head FROM privacy._audit_head;
	prev := COALESCE(head.pruned_through_hash,
					 pg_catalog.sha256(pg_catalog.convert_to('opendims_privacy audit log', 'UTF8')));
	last_id := head.pruned_through_id;
	intact := true;
	entries := 0;
	FOR e IN SELECT * FROM privacy.audit_log ORDER BY id LOOP
		entries := entries + 1;
		IF e.prev_hash OPERATOR(pg_catalog.<>) prev THEN
			intact := false; first_broken_id := e.id;
			problem := 'the entry does not chain to the one before it: an entry was removed or changed';
			RETURN;
		END IF;
		IF e.hash OPERATOR(pg_catalog.<>) privacy_internal._audit_entry_hash(e.prev_hash, e.id, e.logged_at, e.actor,
											   e.session_role, e.action, e.subject_ref,
											   e.request_id, e.summary) THEN
			intact := false; first_broken_id := e.id;
			problem := 'the entry''s contents do not match its hash: it was changed';
			RETURN;
		END IF;
		prev := e.hash;
		last_id := e.id;
	END LOOP;
	IF head.last_hash OPERATOR(pg_catalog.<>) prev OR head.last_id IS DISTINCT FROM last_id THEN
		intact := false; first_broken_id := head.last_id;
		problem := 'the newest entries are missing: the log was truncated';
		RETURN;
	END IF;
	findings := 0;
	FOR finding IN SELECT * FROM privacy.verify_evidence() LOOP
		findings := findings + 1;
		IF findings OPERATOR(pg_catalog.=) 1 THEN
			intact := false;
			first_broken_id := CASE WHEN finding.evidence OPERATOR(pg_catalog.=) 'erasure entry' THEN finding.id END;
			problem := CASE WHEN finding.evidence OPERATOR(pg_catalog.=) 'ledger state'
							THEN 'ledger state: ' || finding.problem
							ELSE pg_catalog.format('%s %s: %s', finding.evidence, finding.id, finding.problem) END;
		END IF;
	END LOOP;
	IF findings OPERATOR(pg_catalog.>) 1 THEN
		problem := pg_catalog.format('%s; %s more: privacy.verify_evidence() lists every difference',
									 problem, findings - 1);
	END IF;
END
$$;

COMMENT ON FUNCTION privacy.verify_audit_log(OUT intact boolean, OUT entries bigint, OUT first_broken_id bigint, OUT problem text, OUT unsealed bigint, OUT oldest_unsealed timestamp with time zone) IS 'Recomputes the sealed audit log''s hash chain (from the last pruning, if any) and reports the first broken link; with the chain intact, the first difference privacy.verify_evidence() finds; and, apart, how many entries wait to be sealed and the oldest one''s time';

REVOKE ALL ON FUNCTION privacy.verify_audit_log(OUT intact boolean, OUT entries bigint, OUT first_broken_id bigint, OUT problem text, OUT unsealed bigint, OUT oldest_unsealed timestamp with time zone) FROM PUBLIC;

CREATE FUNCTION privacy.verify_evidence() RETURNS TABLE(evidence text, id bigint, problem text)
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
	oldest_kept timestamptz;
BEGIN
	RETURN QUERY
		SELECT 'erasure entry', a.id,
			   'the audit log records an erasure whose receipt is missing from privacy.erasures or was changed'
		  FROM privacy.audit_log a
		 WHERE a.action OPERATOR(pg_catalog.=) 'erasure'
		   AND a.summary OPERATOR(pg_catalog.?) 'erased_at'
		   AND NOT EXISTS (
				SELECT FROM privacy.erasures e
				 WHERE e.subject_ref OPERATOR(pg_catalog.=) a.subject_ref
				   AND e.receipt OPERATOR(pg_catalog.@>) (a.summary OPERATOR(pg_catalog.-) 'receipt_sha256'::text)
				   AND (NOT a.summary OPERATOR(pg_catalog.?) 'receipt_sha256'
						OR pg_catalog.encode(pg_catalog.sha256(pg_catalog.convert_to(e.receipt::text, 'UTF8')), 'hex')
						   OPERATOR(pg_catalog.=) (a.summary OPERATOR(pg_catalog.->>) 'receipt_sha256')))
		 ORDER BY a.id;

	-- Receipts older than the oldest entry kept may have lost their entry
	-- to privacy.prune_audit_log().
	SELECT pg_catalog.min(a.logged_at) INTO oldest_kept FROM privacy.audit_log a;
	RETURN QUERY
		SELECT 'erasure receipt', e.id,
			   'an erasure receipt has no erasure entry in the audit log: it was added or changed by other means'
		  FROM privacy.erasures e
		 WHERE (e.erased_at OPERATOR(pg_catalog.>=) oldest_kept
				OR NOT EXISTS (SELECT FROM privacy._audit_head h WHERE h.pruned_through_id IS NOT NULL))
		   AND NOT EXISTS (
				SELECT FROM privacy.audit_log a
				 WHERE a.action OPERATOR(pg_catalog.=) 'erasure'
				   AND a.subject_ref OPERATOR(pg_catalog.=) e.subject_ref
				   AND e.receipt OPERATOR(pg_catalog.@>) (a.summary OPERATOR(pg_catalog.-) 'receipt_sha256'::text))
		   -- an erasure just committed may still wait to be sealed
		   AND NOT EXISTS (
				SELECT FROM privacy._audit_unsealed a
				 WHERE a.action OPERATOR(pg_catalog.=) 'erasure'
				   AND a.subject_ref OPERATOR(pg_catalog.=) e.subject_ref
				   AND e.receipt OPERATOR(pg_catalog.@>) (a.summary OPERATOR(pg_catalog.-) 'receipt_sha256'::text))
		 ORDER BY e.id;

	RETURN QUERY
		SELECT 'ledger state', COALESCE(cs.event_id, s.event_id),
			   pg_catalog.format('subject kind "%s", purpose "%s": the ledger says %s, privacy._ledger_state says %s',
								 COALESCE(cs.kind, s.kind),
								 CASE WHEN COALESCE(cs.purpose, s.purpose) OPERATOR(pg_catalog.=) ''
									  THEN '(restriction)' ELSE COALESCE(cs.purpose, s.purpose) END,
								 COALESCE(cs.status || ' (event ' || cs.event_id || ')', 'nothing in force'),
								 COALESCE(s.status || ' (event ' || s.event_id || ')', 'nothing in force'))
		  FROM privacy.consent_state cs
		  FULL JOIN privacy._ledger_state s
			ON s.kind OPERATOR(pg_catalog.=) cs.kind AND s.purpose OPERATOR(pg_catalog.=) cs.purpose
		   AND s.subject OPERATOR(pg_catalog.=) cs.subject
		 WHERE cs.kind IS NULL OR s.kind IS NULL
			OR s.status OPERATOR(pg_catalog.<>) cs.status OR s.event_id OPERATOR(pg_catalog.<>) cs.event_id
		 ORDER BY 2;
END
$$;

COMMENT ON FUNCTION privacy.verify_evidence() IS 'Every difference between the audit log (sealed or not) and the erasure receipts, and between the consent ledger and the ledger state the row check reads';

REVOKE ALL ON FUNCTION privacy.verify_evidence() FROM PUBLIC;

CREATE TABLE privacy._audit_head (
    singleton boolean DEFAULT true NOT NULL,
    last_id bigint,
    last_hash bytea NOT NULL,
    pruned_through_id bigint,
    pruned_through_hash bytea,
    CONSTRAINT _audit_head_singleton_check CHECK (singleton),
    CONSTRAINT _audit_head_pkey PRIMARY KEY (singleton)
);

COMMENT ON TABLE privacy._audit_head IS 'The hash of the newest sealed audit log entry, which the next entry sealed chains to';

INSERT INTO privacy._audit_head (last_id, last_hash)
VALUES (NULL, pg_catalog.sha256(pg_catalog.convert_to('opendims_privacy audit log', 'UTF8')));
SELECT pg_catalog.pg_extension_config_dump('privacy._audit_head', '');

CREATE TABLE privacy.audit_log (
    id bigint GENERATED BY DEFAULT AS IDENTITY,
    logged_at timestamp with time zone NOT NULL,
    actor text NOT NULL,
    session_role text NOT NULL,
    action text NOT NULL,
    subject_ref text,
    request_id bigint,
    summary jsonb NOT NULL,
    prev_hash bytea NOT NULL,
    hash bytea NOT NULL,
    CONSTRAINT audit_log_pkey PRIMARY KEY (id)
);

COMMENT ON TABLE privacy.audit_log IS 'Every export, erasure, consent change and policy change: append-only, each entry hash-chained to the one before';
SELECT pg_catalog.pg_extension_config_dump('privacy.audit_log', '');
SELECT pg_catalog.pg_extension_config_dump('privacy.audit_log_id_seq', '');

CREATE TRIGGER append_only BEFORE DELETE OR UPDATE ON privacy.audit_log FOR EACH ROW EXECUTE FUNCTION privacy_internal._audit_log_is_append_only();

CREATE TRIGGER append_only_truncate BEFORE TRUNCATE ON privacy.audit_log FOR EACH STATEMENT EXECUTE FUNCTION privacy_internal._audit_log_is_append_only();

CREATE TRIGGER restore_over_seed BEFORE INSERT ON privacy._audit_head FOR EACH ROW EXECUTE FUNCTION privacy_internal._restore_over_seed('singleton');

CREATE TABLE privacy._audit_unsealed (
    id bigint GENERATED BY DEFAULT AS IDENTITY,
    logged_at timestamp with time zone NOT NULL,
    actor text NOT NULL,
    session_role text NOT NULL,
    action text NOT NULL,
    subject_ref text,
    request_id bigint,
    summary jsonb NOT NULL,
    subject_refs text[],
    CONSTRAINT _audit_unsealed_pkey PRIMARY KEY (id),
    CONSTRAINT _audit_unsealed_one_subject_check CHECK (subject_ref IS NULL OR subject_refs IS NULL)
)
-- a queue: every row is deleted soon after it is written, and the sealer
-- reads it oldest first through its primary key, over the dead entries
-- until a vacuum removes them
WITH (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 10000);

-- A statement's subject references do not compress well (hex digests): not
-- worth the time of trying.
ALTER TABLE privacy._audit_unsealed ALTER COLUMN subject_refs SET STORAGE EXTERNAL;

COMMENT ON TABLE privacy._audit_unsealed IS 'Audit log entries of committed transactions that wait to be sealed into the hash chain of privacy.audit_log, in the order of their ids: append-only for all but the sealer';
COMMENT ON COLUMN privacy._audit_unsealed.subject_refs IS 'For the entries of one set-based write (a rectification statement): one entry per element, in order, naming that subject, with the row''s other fields';
SELECT pg_catalog.pg_extension_config_dump('privacy._audit_unsealed', '');
SELECT pg_catalog.pg_extension_config_dump('privacy._audit_unsealed_id_seq', '');

CREATE TRIGGER append_only BEFORE DELETE OR UPDATE ON privacy._audit_unsealed FOR EACH ROW EXECUTE FUNCTION privacy_internal._audit_unsealed_is_append_only();

CREATE TRIGGER append_only_truncate BEFORE TRUNCATE ON privacy._audit_unsealed FOR EACH STATEMENT EXECUTE FUNCTION privacy_internal._audit_unsealed_is_append_only();

CREATE VIEW privacy.audit_backlog AS
SELECT COALESCE(pg_catalog.sum(COALESCE(pg_catalog.cardinality(u.subject_refs), 1)), 0)::bigint AS entries,
       pg_catalog.min(u.logged_at) AS oldest_logged_at,
       pg_catalog.clock_timestamp() OPERATOR(pg_catalog.-) pg_catalog.min(u.logged_at) AS oldest_age
  FROM privacy._audit_unsealed u;

COMMENT ON VIEW privacy.audit_backlog IS 'The audit log entries that wait to be sealed into the hash chain: how many, when the oldest was written and how long ago';

REVOKE ALL ON TABLE privacy.audit_backlog FROM PUBLIC;

-- On a Citus cluster a worker hands its audit log entries to the
-- coordinator's log (audit_forward.c).
CREATE TABLE privacy._audit_received (
    node_group integer NOT NULL,
    remote_id bigint NOT NULL,
    CONSTRAINT _audit_received_pkey PRIMARY KEY (node_group, remote_id)
);

COMMENT ON TABLE privacy._audit_received IS 'On a Citus coordinator: the ids of the unsealed audit log entries taken from each worker group that the worker may not have deleted yet, so that each is taken once';

CREATE FUNCTION privacy_internal._audit_receive(node_group integer, entries jsonb) RETURNS bigint
    LANGUAGE c
    AS 'MODULE_PATHNAME', 'privacy_audit_receive';

COMMENT ON FUNCTION privacy_internal._audit_receive(node_group integer, entries jsonb) IS 'On a Citus coordinator: takes the unsealed audit log entries a worker of the group forwards, each once, into privacy._audit_unsealed; returns how many rows it took';

REVOKE ALL ON FUNCTION privacy_internal._audit_receive(node_group integer, entries jsonb) FROM PUBLIC;
