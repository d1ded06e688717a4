/* opendims_privacy--1.7--1.8.sql: security release; what SQL the extension runs on anyone's behalf cannot be redirected by the caller, evidence cannot be forged or silently removed, and hidden or erased subjects stay out of reach. */

\echo Use "ALTER EXTENSION opendims_privacy UPDATE TO '1.8'" to load this file. \quit

------------------------------------------------------------------------------
-- Subject locks no outsider can take (issue 13, class 5)
------------------------------------------------------------------------------

-- Up to 1.7 the ledger serialised the events of a subject on an advisory
-- lock whose key anyone could compute (and erasure on one that pg_locks
-- shows to every role): any role that could log in took that lock with
-- pg_advisory_lock() and blocked the subject's withdrawal, unsubscribe or
-- erasure for as long as it liked. Advisory locks belong to everyone, so
-- the extension no longer takes any. A subject is now locked by inserting
-- its lock key into a table no ordinary role can read, write or lock, and
-- deleting it again in the same transaction: an insert of the same key by
-- another transaction waits until this one ends (a unique index waits for
-- the transaction that inserted a conflicting key), and then finds the key
-- gone and takes it in turn. So the lock is held to commit, exactly like
-- the transaction-level advisory lock it replaces, different subjects never
-- wait for each other, and the table is always empty once the transactions
-- end. Unlogged: a lock needs no WAL and does not outlive a crash.
CREATE UNLOGGED TABLE privacy._subject_locks (
	lock_key bigint PRIMARY KEY
);
REVOKE ALL ON privacy._subject_locks FROM PUBLIC;
COMMENT ON TABLE privacy._subject_locks IS
'Keys of the subjects locked by transactions in progress (privacy._lock_subject); empty between transactions';

-- The key is a 64-bit hash of the scope, the kind and the key, so the table
-- never holds a subject key, not even in the dead rows vacuum has yet to
-- remove; two subjects sharing a hash would only wait for each other.
CREATE FUNCTION privacy._lock_subject(scope text, kind text, subject text)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	key_hash bigint := pg_catalog.hashtextextended(scope OPERATOR(pg_catalog.||) E'\x1f'
												   OPERATOR(pg_catalog.||) kind OPERATOR(pg_catalog.||) E'\x1f'
												   OPERATOR(pg_catalog.||) subject, 0);
BEGIN
	IF key_hash IS NULL THEN
		RAISE EXCEPTION 'scope, kind and subject of a subject lock must not be null'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	INSERT INTO privacy._subject_locks (lock_key) VALUES (key_hash) ON CONFLICT DO NOTHING;
	DELETE FROM privacy._subject_locks l WHERE l.lock_key OPERATOR(pg_catalog.=) key_hash;
END
$$;
REVOKE ALL ON FUNCTION privacy._lock_subject(text, text, text) FROM PUBLIC;
COMMENT ON FUNCTION privacy._lock_subject(text, text, text) IS
'Locks a subject in a scope (consent_ledger, erase) until the end of the transaction; waits while another transaction holds it; no role without rights on the extension''s tables can take or hold it';

-- The consent ledger, erasure and the forgetting of an erased subject in
-- the ledgers take the subject's lock with privacy._lock_subject() instead
-- of an advisory lock; nothing else changes in them.
CREATE OR REPLACE FUNCTION privacy._record(action text, kind text, subject text, purpose text,
								source text, evidence jsonb)
RETURNS bigint
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	p privacy.purposes;
	key text;
	version text := privacy._policy_version();
	event_id bigint;
	actor name := privacy._acting_role();
BEGIN
	key := privacy._canonical_subject(kind, subject, action <> 'consent.withdraw');
	IF action IN ('consent.grant', 'consent.withdraw') THEN
		p := privacy._require_purpose(purpose, ARRAY['consent'],
									  CASE action WHEN 'consent.grant' THEN 'record consent for'
												  ELSE 'withdraw consent for' END);
	ELSIF action = 'objection' THEN
		p := privacy._require_purpose(purpose, ARRAY['legitimate_interest'], 'record an objection to');
	END IF;
	IF source IS NULL OR NOT EXISTS (SELECT FROM privacy.sources s WHERE s.name = source) THEN
		RAISE EXCEPTION 'unrecognized source "%"', source
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Sources are declared by the policy document; privacy.sources lists them.';
	END IF;
	IF evidence IS NULL OR pg_catalog.jsonb_typeof(evidence) <> 'object' THEN
		RAISE EXCEPTION 'evidence must be a JSON object'
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Describe how the event was captured, for example {"form": "signup", "text_version": "3"}.';
	END IF;

	PERFORM privacy._lock_subject('consent_ledger', kind, key);
	IF action = 'restriction.lift' AND NOT EXISTS (
			SELECT FROM privacy._ledger_state s
			 WHERE s.kind = $2 AND s.purpose = '' AND s.subject = key) THEN
		RAISE EXCEPTION 'processing of this subject of kind "%" is not restricted', kind
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  HINT = 'privacy.consent_history() shows the subject''s restrictions.';
	END IF;

	INSERT INTO privacy.consent_ledger (actor, kind, subject, action, purpose, source, policy_version, evidence)
	VALUES (actor, kind, key, action, p.name, source, version, evidence)
	RETURNING id INTO event_id;
	PERFORM privacy._audit(actor, action, kind, key, NULL,
						   pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object(
							   'event_id', event_id, 'purpose', p.name, 'source', source,
							   'policy_version', version)));
	RETURN event_id;
END
$$;

CREATE OR REPLACE FUNCTION privacy._forget_subject_in_ledgers(kind text, subject text)
RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	key text := privacy._canonical_subject(kind, subject, false);
	ref text := privacy.subject_ref(kind, key);
	n_events bigint;
	n_state bigint;
BEGIN
	PERFORM privacy._lock_subject('consent_ledger', kind, key);
	UPDATE privacy.consent_ledger l
	   SET subject = ref, forgotten = true, evidence = privacy._redacted_evidence(l.evidence)
	 WHERE l.kind = $1 AND l.subject = key AND NOT l.forgotten;
	GET DIAGNOSTICS n_events = ROW_COUNT;
	-- The state moves to the reference; a subject who never consented or
	-- objected changes nothing (so sessions keep their cached state).
	n_state := 0;
	IF n_events > 0 OR EXISTS (SELECT FROM privacy._ledger_state s WHERE s.kind = $1 AND s.subject = key) THEN
		DELETE FROM privacy._ledger_state s WHERE s.kind = $1 AND s.subject IN (key, ref);
		INSERT INTO privacy._ledger_state (kind, purpose, subject, status, event_id)
		SELECT cs.kind, cs.purpose, cs.subject, cs.status, cs.event_id
		  FROM privacy.consent_state cs
		 WHERE cs.kind = $1 AND cs.subject = ref;
		GET DIAGNOSTICS n_state = ROW_COUNT;
	END IF;
	RETURN pg_catalog.jsonb_build_object('consent_ledger', n_events, 'ledger_state', n_state);
END
$$;

CREATE OR REPLACE FUNCTION privacy._erase_subject(kind text, subject text, reason text, request_id bigint)
RETURNS jsonb
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	ref text;
	plan privacy._subject_plans;
	line jsonb;
	lines jsonb[] := '{}';
	previous privacy.erasures;
	ledgers jsonb;
	receipt jsonb;
	erased_at timestamptz := pg_catalog.now();
	subject_held boolean;
	careful_tables regclass[];
	counts integer[];
	deleted bigint := 0;
	anonymized bigint := 0;
	retained bigint := 0;
	held bigint := 0;
BEGIN
	IF kind IS NULL OR subject IS NULL THEN
		RAISE EXCEPTION 'kind and subject must not be null' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF reason IS NULL OR pg_catalog.btrim(reason) = '' THEN
		RAISE EXCEPTION 'an erasure needs a reason'
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Give the ground of GDPR Art. 17(1), e.g. ''consent withdrawn'', without personal data.';
	END IF;
	ref := privacy.subject_ref(kind, subject);

	-- One erasure of a subject at a time; the anchor row stays locked, so
	-- that no new row can be attached to the subject until this commits.
	-- (privacy._subject_exists checks the kind and the key first.)
	PERFORM privacy._lock_subject('erase', kind, ref);
	IF NOT privacy._subject_exists(kind, subject, true) THEN
		SELECT * INTO previous FROM privacy.erasures e
		 WHERE e.kind = _erase_subject.kind AND e.subject_ref = ref ORDER BY e.id DESC LIMIT 1;
		IF NOT FOUND THEN
			RAISE EXCEPTION 'subject "%" of kind "%" does not exist', subject, kind
				USING ERRCODE = 'no_data_found';
		END IF;
		receipt := pg_catalog.jsonb_build_object('kind', kind, 'subject_ref', ref, 'changed', false,
			'already_erased', true, 'erased_at', previous.erased_at, 'tables', '[]'::jsonb,
			'note', 'The subject was erased before; nothing more was found to erase.');
		PERFORM privacy._audit(SESSION_USER, 'erasure', kind, subject, request_id,
							   pg_catalog.jsonb_build_object('changed', false, 'already_erased', true));
		RETURN receipt;
	END IF;

	PERFORM privacy._allow_protected_changes();
	-- Most tables need one statement: delete the subject's rows that no row
	-- references. Tables under a hold or with a retention rule that keeps
	-- rows (a legal minimum, or anonymisation), and every table while the
	-- subject is held, take the careful way row set by row set.
	subject_held := EXISTS (SELECT FROM privacy.legal_holds h
							 WHERE h.released_at IS NULL AND h.kind = _erase_subject.kind AND h.subject = _erase_subject.subject);
	careful_tables := ARRAY(SELECT h.table_name FROM privacy.legal_holds h
							 WHERE h.released_at IS NULL AND h.table_name IS NOT NULL
							UNION
							SELECT rr.table_name FROM privacy.retention_rules rr
							 WHERE rr.minimum IS NOT NULL OR rr.action = 'anonymize');
	PERFORM privacy._fill_subject_plans(kind);
	FOR plan IN SELECT * FROM privacy._subject_plans p
				 WHERE p.kind = _erase_subject.kind AND p.personal
				 ORDER BY p.depth DESC, p.table_name::text LOOP
		IF subject_held OR plan.table_name = ANY (careful_tables) THEN
			line := privacy._erase_table(kind, subject, plan);
		ELSE
			counts := privacy._cached_value(plan.erase_sql, NULL::integer[], subject);
			IF counts[1] > counts[2] THEN
				-- Rows that rows kept elsewhere still reference are anonymised.
				line := privacy._erase_table(kind, subject, plan);
				line := COALESCE(line, pg_catalog.jsonb_build_object('table', privacy._qualified_name(plan.table_name)))
					|| pg_catalog.jsonb_build_object(
						'rows', counts[2] + COALESCE((line ->> 'rows')::integer, 0),
						'deleted', counts[2] + COALESCE((line ->> 'deleted')::integer, 0));
			ELSIF counts[2] > 0 THEN
				line := pg_catalog.jsonb_build_object('table', privacy._qualified_name(plan.table_name),
													  'rows', counts[2], 'deleted', counts[2]);
			ELSE
				line := NULL;
			END IF;
		END IF;
		IF line IS NOT NULL THEN
			lines := lines || line;
			IF line ?| '{anonymized,retained,held}' THEN
				anonymized := anonymized + COALESCE((line ->> 'anonymized')::integer, 0);
				retained := retained + COALESCE((line ->> 'retained')::integer, 0);
				held := held + COALESCE((line ->> 'held')::integer, 0);
			END IF;
			deleted := deleted + COALESCE((line ->> 'deleted')::integer, 0);
		END IF;
	END LOOP;
	ledgers := privacy._forget_subject_in_ledgers(kind, subject);
	UPDATE privacy.subject_requests sr SET subject = NULL
	 WHERE sr.kind = _erase_subject.kind AND sr.subject_ref = ref;

	receipt := pg_catalog.jsonb_build_object(
		'kind', kind, 'subject_ref', ref, 'erased_at', erased_at, 'reason', reason,
		'request_id', request_id,
		'changed', deleted + anonymized > 0,
		'already_erased', EXISTS (SELECT FROM privacy.erasures e
								   WHERE e.kind = _erase_subject.kind AND e.subject_ref = ref),
		'rows_deleted', deleted,
		'rows_anonymized', anonymized,
		'rows_retained', retained,
		'rows_held', held,
		'tables', pg_catalog.to_jsonb(lines),
		'ledgers', ledgers);

	INSERT INTO privacy.erasures (kind, subject_ref, erased_at, request_id, reason, receipt)
	VALUES (kind, ref, erased_at, request_id, reason, receipt);
	PERFORM privacy._audit(SESSION_USER, 'erasure', kind, subject, request_id,
						   receipt - 'tables' - 'subject_ref' - 'kind' - 'ledgers');
	RETURN receipt;
END
$$;
