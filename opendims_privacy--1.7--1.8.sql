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

------------------------------------------------------------------------------
-- The retention job skips a table it cannot lock in time (issue 13, class 5)
------------------------------------------------------------------------------

-- Up to 1.7 a session holding a lock on a rule's table (LOCK TABLE in a long
-- transaction) stalled the job until statement_timeout, which pg_cron does
-- not set. The job now waits at most privacy.retention_lock_timeout
-- (default 5s) for each table it writes; a rule whose table it cannot lock
-- in that time gets the status "locked" in privacy.retention_runs (with the
-- table in "locked_table"), a WARNING names it, and the run goes on with
-- the other rules. The next run tries the rule again.

-- privacy.retention_lock_timeout in milliseconds (the setting lives with the
-- rest of the job in the library).
CREATE FUNCTION privacy._retention_lock_timeout()
RETURNS integer
AS 'MODULE_PATHNAME', 'privacy_retention_lock_timeout'
LANGUAGE C STABLE PARALLEL SAFE;
REVOKE ALL ON FUNCTION privacy._retention_lock_timeout() FROM PUBLIC;
COMMENT ON FUNCTION privacy._retention_lock_timeout() IS
'The privacy.retention_lock_timeout setting in milliseconds: how long the retention job waits for a table''s lock';

-- Locks, for one batch of a rule, the legal holds against new holds (SHARE,
-- as privacy._retention_lock_holds() then does: a hold placed in a
-- transaction left open would otherwise stall the job too), the rule's
-- table (ROW EXCLUSIVE, as its DELETE or UPDATE will) and, for a delete
-- rule, the tables whose foreign keys the DELETE checks or changes
-- (ROW SHARE, or ROW EXCLUSIVE for ON DELETE CASCADE, SET NULL and
-- SET DEFAULT), waiting at most privacy.retention_lock_timeout for each.
-- Returns NULL when every lock is held, else the table that could not be
-- locked (and holds none).
-- SECURITY DEFINER: the foreign-key checks run as the tables' owners, so
-- the job's role may have no privilege on the referencing tables.
CREATE FUNCTION privacy._retention_lock_tables(rule privacy.retention_rules)
RETURNS regclass
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	rel regclass := 'privacy.legal_holds'::pg_catalog.regclass;
	lock_mode text;
BEGIN
	PERFORM pg_catalog.set_config('lock_timeout', privacy._retention_lock_timeout()::text, true);
	BEGIN
		LOCK TABLE privacy.legal_holds IN SHARE MODE;
		rel := rule.table_name;
		EXECUTE pg_catalog.format('LOCK TABLE %s IN ROW EXCLUSIVE MODE', privacy._qualified_name(rel));
		IF rule.action = 'delete' THEN
			FOR rel, lock_mode IN
				SELECT c.conrelid::regclass,
					   CASE WHEN pg_catalog.bool_or(c.confdeltype IN ('c', 'n', 'd'))
							THEN 'ROW EXCLUSIVE' ELSE 'ROW SHARE' END
				  FROM pg_catalog.pg_constraint c
				 WHERE c.contype = 'f' AND c.confrelid = rule.table_name AND c.conrelid <> rule.table_name
				 GROUP BY c.conrelid
				 ORDER BY c.conrelid
			LOOP
				EXECUTE pg_catalog.format('LOCK TABLE %s IN %s MODE', privacy._qualified_name(rel), lock_mode);
			END LOOP;
		END IF;
	EXCEPTION WHEN lock_not_available THEN
		RETURN rel;
	END;
	RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION privacy._retention_lock_tables(privacy.retention_rules) FROM PUBLIC;
COMMENT ON FUNCTION privacy._retention_lock_tables(privacy.retention_rules) IS
'Locks the legal holds and the tables one retention batch of a rule writes, waiting at most privacy.retention_lock_timeout for each; returns the table it could not lock, or NULL';

-- Records that a rule is skipped until the next run because a table it
-- writes stayed locked, and says so in a WARNING (which reaches the server
-- log and pg_cron's record of the run).
CREATE FUNCTION privacy._retention_run_rule_locked(run_id bigint, rule_name text, locked regclass)
RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	UPDATE privacy.retention_runs r
	   SET rules = pg_catalog.jsonb_set(r.rules, ARRAY[rule_name],
				(r.rules -> rule_name) || pg_catalog.jsonb_build_object(
					'status', 'locked', 'locked_table', privacy._qualified_name(locked)))
	 WHERE r.id = run_id;
	RAISE WARNING 'retention rule "%" skipped until the next run: table % stayed locked by another session for longer than privacy.retention_lock_timeout (%)',
		rule_name, privacy._qualified_name(locked), pg_catalog.current_setting('privacy.retention_lock_timeout')
		USING HINT = 'pg_locks shows which session holds the lock.';
END
$$;
REVOKE ALL ON FUNCTION privacy._retention_run_rule_locked(bigint, text, regclass) FROM PUBLIC;
COMMENT ON FUNCTION privacy._retention_run_rule_locked(bigint, text, regclass) IS
'Marks a rule of a retention run as skipped because a table it writes stayed locked (status locked, locked_table)';

COMMENT ON FUNCTION privacy._retention_run_rule_status(bigint, text, text) IS
'Sets the state of one rule in a retention run (running, done, held, time_budget; locked is set by privacy._retention_run_rule_locked)';

-- The run's start counts each rule's due rows with the same bound on the wait.
CREATE OR REPLACE FUNCTION privacy._retention_run_start(batch_size integer, time_budget interval)
RETURNS bigint
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	stale privacy.retention_runs;
	rr privacy.retention_rules;
	counts record;
	locked regclass;
	locked_rules text[] := '{}';
	locked_tables regclass[] := '{}';
	i integer;
	rules jsonb := '{}';
	total bigint := 0;
	run_id bigint;
BEGIN
	FOR stale IN
		UPDATE privacy.retention_runs r
		   SET status = 'interrupted', finished_at = pg_catalog.clock_timestamp()
		 WHERE r.status = 'running'
		   AND NOT EXISTS (SELECT FROM pg_catalog.pg_stat_activity a
							WHERE a.pid = r.pid AND a.backend_start IS NOT DISTINCT FROM r.backend_start)
		RETURNING r.*
	LOOP
		PERFORM privacy._retention_audit_run(stale);
	END LOOP;

	-- Counting reads each rule's table: one that another session keeps
	-- locked for longer than privacy.retention_lock_timeout is left to the
	-- next run (status locked, its counts unknown) instead of stalling this one.
	PERFORM pg_catalog.set_config('lock_timeout', privacy._retention_lock_timeout()::text, true);
	FOR rr IN
		SELECT r.* FROM privacy._retention_order() o
		  JOIN privacy.retention_rules r ON r.name = o.rule_name
	LOOP
		BEGIN
			counts := privacy._retention_counts(rr, pg_catalog.now());
			locked := NULL;
		EXCEPTION WHEN lock_not_available THEN
			locked := rr.table_name;
		END;
		IF locked IS NOT NULL THEN
			rules := rules || pg_catalog.jsonb_build_object(rr.name, pg_catalog.jsonb_build_object(
				'table', privacy._qualified_name(rr.table_name), 'action', rr.action,
				'due', NULL, 'done', 0, 'held', NULL, 'blocked', 0, 'status', 'pending'));
			locked_rules := locked_rules || rr.name;
			locked_tables := locked_tables || locked;
			CONTINUE;
		END IF;
		rules := rules || pg_catalog.jsonb_build_object(rr.name, pg_catalog.jsonb_build_object(
			'table', privacy._qualified_name(rr.table_name), 'action', rr.action,
			'due', counts.rows_due - counts.rows_held, 'done', 0, 'held', counts.rows_held,
			'blocked', 0, 'status', 'pending'));
		total := total + counts.rows_due - counts.rows_held;
	END LOOP;

	INSERT INTO privacy.retention_runs (backend_start, batch_size, time_budget, rows_due, rules)
	SELECT a.backend_start, batch_size, time_budget, total, rules
	  FROM pg_catalog.pg_stat_activity a WHERE a.pid = pg_catalog.pg_backend_pid()
	RETURNING id INTO run_id;
	FOR i IN 1 .. pg_catalog.cardinality(locked_rules) LOOP
		PERFORM privacy._retention_run_rule_locked(run_id, locked_rules[i], locked_tables[i]);
	END LOOP;
	RETURN run_id;
END
$$;

-- The job: as in 1.7, with the lock of each batch's tables taken first.
CREATE OR REPLACE PROCEDURE privacy.enforce_retention(batch_size integer DEFAULT 5000,
										   time_budget interval DEFAULT '1 minute')
LANGUAGE plpgsql
AS $$
DECLARE
	run_id bigint;
	stop_at timestamptz;
	run_status text := 'finished';
	run_due bigint;
	run_done bigint := 0;
	rule_names text[];
	rule_name text;
	rule privacy.retention_rules;
	s record;
	rel text;
	anchor_col text;
	cutoff timestamptz;
	held text;
	locked regclass;
	skipped text[];
	due_sql text;
	last_anchor text;
	after_last boolean;
	window_first text;
	window_last text;
	window_rows integer;
	excluded tid[];
	tids tid[];
	batch_last text;
	found_rows integer;
	done bigint;
	blocked bigint;
	step bigint;
	one tid;
	rule_done bigint;
	careful boolean;
	batch_result text[];
	wal_method text;
	run privacy.retention_runs;
BEGIN
	PERFORM privacy._retention_require_own_transactions();
	PERFORM privacy._retention_lower_priority();
	IF batch_size IS NULL OR batch_size OPERATOR(pg_catalog.<) 1 THEN
		RAISE EXCEPTION 'batch_size must be a positive number of rows'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF time_budget IS NULL OR time_budget OPERATOR(pg_catalog.<=) '0'::interval THEN
		RAISE EXCEPTION 'time_budget must be a positive interval'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	stop_at := pg_catalog.clock_timestamp() OPERATOR(pg_catalog.+) time_budget;
	-- Most of the WAL a batch writes is full-page images of the pages it
	-- changes first after a checkpoint; compressed, they weigh less on the
	-- WAL writer and on the sessions writing WAL beside the job. Unless the
	-- server compresses them already, the job's own batches do (lz4 where
	-- the server has it).
	IF pg_catalog.current_setting('wal_compression') OPERATOR(pg_catalog.=) 'off' THEN
		wal_method := CASE WHEN EXISTS (SELECT FROM pg_catalog.pg_settings ps
										 WHERE ps.name OPERATOR(pg_catalog.=) 'wal_compression'
										   AND 'lz4' OPERATOR(pg_catalog.=) ANY (ps.enumvals))
						   THEN 'lz4' ELSE 'pglz' END;
	END IF;
	run_id := privacy._retention_run_start(batch_size, time_budget);
	rule_names := ARRAY(SELECT o.rule_name FROM privacy._retention_order() o);
	-- Rules whose table was locked when the run counted them wait for the next run.
	SELECT r.rows_due,
		   ARRAY(SELECT e.key FROM pg_catalog.jsonb_each(r.rules) e
				  WHERE e.value OPERATOR(pg_catalog.->>) 'status' OPERATOR(pg_catalog.=) 'locked')
	  INTO run_due, skipped
	  FROM privacy.retention_runs r WHERE r.id OPERATOR(pg_catalog.=) run_id;
	COMMIT;

	<<rules>>
	FOREACH rule_name IN ARRAY rule_names LOOP
		SELECT * INTO rule FROM privacy.retention_rules rr WHERE rr.name OPERATOR(pg_catalog.=) rule_name;
		CONTINUE WHEN NOT FOUND OR rule_name OPERATOR(pg_catalog.=) ANY (skipped);
		s := privacy._retention_rule_sql(rule);
		rel := privacy._qualified_name(rule.table_name);
		anchor_col := pg_catalog.quote_ident(rule.anchor);
		-- Rows are due up to the cutoff at the rule's start; rows that fall
		-- due during the run are left to the next one.
		cutoff := privacy._retention_rule_cutoff(rule, pg_catalog.now());
		PERFORM privacy._retention_run_rule_status(run_id, rule_name, 'running');
		COMMIT;
		last_anchor := NULL;
		after_last := false;
		excluded := '{}';
		rule_done := 0;
		LOOP
			IF pg_catalog.clock_timestamp() OPERATOR(pg_catalog.>=) stop_at THEN
				run_status := 'time_budget';
				PERFORM privacy._retention_run_rule_status(run_id, rule_name, 'time_budget');
				COMMIT;
				EXIT rules;
			END IF;
			-- Each batch first locks the tables it writes, waiting at most
			-- privacy.retention_lock_timeout: a table another session keeps
			-- locked is skipped until the next run.
			locked := privacy._retention_lock_tables(rule);
			IF locked IS NOT NULL THEN
				PERFORM privacy._retention_run_rule_locked(run_id, rule_name, locked);
				COMMIT;
				CONTINUE rules;
			END IF;
			held := privacy._retention_lock_holds(rule.table_name);
			IF held IS NULL THEN
				PERFORM privacy._retention_run_rule_status(run_id, rule_name, 'held');
				RAISE NOTICE 'retention rule "%": table % is under a legal hold, skipped', rule_name, rule.table_name;
				COMMIT;
				CONTINUE rules;
			END IF;

			-- Due rows still to do after the last batch ($1 the cutoff, $2
			-- the last batch's end).
			-- (Each bound is cast once, in a subquery, not once per row.)
			due_sql := pg_catalog.format('t.%1$s OPERATOR(pg_catalog.<=) (SELECT $1::%2$s) %3$s AND %4$s',
				anchor_col, s.anchor_type,
				CASE WHEN last_anchor IS NULL THEN ''
					 ELSE pg_catalog.format('AND t.%s OPERATOR(pg_catalog.%s) (SELECT $2::%s)', anchor_col,
											CASE WHEN after_last THEN '>' ELSE '>=' END, s.anchor_type) END,
				s.todo);
			done := 0;
			blocked := 0;
			window_rows := NULL;
			-- No wait of this batch for a row lock lasts longer than this.
			PERFORM pg_catalog.set_config('lock_timeout', '100ms', true);
			IF wal_method IS NOT NULL THEN
				PERFORM pg_catalog.set_config('wal_compression', wal_method, true);
			END IF;
			BEGIN
				-- The window: the anchors of the next batch_size such rows,
				-- from the index. The range statement acts on every row up
				-- to the window's last anchor, unless the whole window has
				-- one anchor value (a range would not bound the batch).
				-- (Both statements are the same for every batch of the rule,
				-- so their plans are kept: privacy._cached_value.)
				batch_result := privacy._cached_value(pg_catalog.format(
					'SELECT ARRAY[pg_catalog.min(x.a)::text, pg_catalog.max(x.a)::text, pg_catalog.count(*)::text]
					   FROM (SELECT t.%1$s AS a FROM %2$s t WHERE %3$s ORDER BY t.%1$s LIMIT $3) x',
					anchor_col, rel, due_sql),
					NULL::text[], cutoff, last_anchor, batch_size, excluded);
				window_first := batch_result[1];
				window_last := batch_result[2];
				window_rows := batch_result[3]::integer;
				IF window_rows OPERATOR(pg_catalog.>) 0
				   AND (window_rows OPERATOR(pg_catalog.<) batch_size OR window_first OPERATOR(pg_catalog.<>) window_last) THEN
					done := privacy._cached_row_count(pg_catalog.format(
						'%1$s WHERE %2$s AND t.%3$s OPERATOR(pg_catalog.<=) (SELECT $5::%4$s)%5$s%6$s',
						s.action, due_sql, anchor_col, s.anchor_type,
						CASE WHEN held OPERATOR(pg_catalog.=) 'false' THEN '' ELSE ' AND NOT ' OPERATOR(pg_catalog.||) held END,
						CASE WHEN pg_catalog.cardinality(excluded) OPERATOR(pg_catalog.=) 0 THEN ''
							 ELSE ' AND t.ctid OPERATOR(pg_catalog.<>) ALL ($4)' END),
						cutoff, last_anchor, batch_size, excluded, window_last);
				END IF;
				careful := window_rows OPERATOR(pg_catalog.=) batch_size
						   AND window_first OPERATOR(pg_catalog.=) window_last;
				IF NOT careful THEN
					found_rows := window_rows;
					batch_last := window_last;
					after_last := true;
				END IF;
			EXCEPTION WHEN foreign_key_violation OR lock_not_available THEN
				careful := true;
			END;
			EXIT WHEN NOT careful AND window_rows OPERATOR(pg_catalog.=) 0;
			IF careful THEN
				-- Lock the next batch_size rows that are free, never waiting
				-- for the others, and act on them; one by one if the batch
				-- fails as a whole.
				EXECUTE pg_catalog.format(
					'SELECT pg_catalog.array_agg(b.tid), pg_catalog.max(b.a)::text FROM (
					   SELECT t.ctid AS tid, t.%1$s AS a FROM %2$s t
						WHERE %3$s AND NOT %4$s AND t.ctid OPERATOR(pg_catalog.<>) ALL ($4)
						ORDER BY t.%1$s LIMIT $3 FOR UPDATE OF t SKIP LOCKED) b',
					anchor_col, rel, due_sql, held)
				   INTO tids, batch_last
				  USING cutoff, last_anchor, batch_size, excluded;
				found_rows := COALESCE(pg_catalog.cardinality(tids), 0);
				after_last := false;
				BEGIN
					EXECUTE s.action OPERATOR(pg_catalog.||) ' WHERE t.ctid OPERATOR(pg_catalog.=) ANY ($1)' USING tids;
					GET DIAGNOSTICS done = ROW_COUNT;
				EXCEPTION WHEN foreign_key_violation OR lock_not_available THEN
					done := 0;
					FOREACH one IN ARRAY COALESCE(tids, '{}') LOOP
						BEGIN
							EXECUTE s.action OPERATOR(pg_catalog.||) ' WHERE t.ctid OPERATOR(pg_catalog.=) $1' USING one;
							GET DIAGNOSTICS step = ROW_COUNT;
							done := done OPERATOR(pg_catalog.+) step;
						EXCEPTION WHEN foreign_key_violation THEN
							blocked := blocked OPERATOR(pg_catalog.+) 1;
							excluded := excluded OPERATOR(pg_catalog.||) one;
						WHEN lock_not_available THEN
							excluded := excluded OPERATOR(pg_catalog.||) one;
						END;
					END LOOP;
				END;
			END IF;
			IF found_rows OPERATOR(pg_catalog.>) 0 THEN
				last_anchor := batch_last;
			END IF;
			rule_done := rule_done OPERATOR(pg_catalog.+) done;
			run_done := run_done OPERATOR(pg_catalog.+) done;
			PERFORM privacy._retention_run_progress(run_id, rule_name, done, blocked, 'running');
			IF found_rows OPERATOR(pg_catalog.>) 0 THEN
				RAISE NOTICE 'retention rule "%": % done in this batch, % in all; run % has done % of % due rows',
					rule_name, done, rule_done, run_id, run_done, run_due;
			END IF;
			COMMIT;
			-- The last batch: the range took every row left, or the careful
			-- path found fewer free rows than it asked for.
			EXIT WHEN (NOT careful AND window_rows OPERATOR(pg_catalog.<) batch_size)
				   OR (careful AND found_rows OPERATOR(pg_catalog.<) batch_size);
		END LOOP;
		PERFORM privacy._retention_run_rule_status(run_id, rule_name, 'done');
		COMMIT;
	END LOOP;

	run := privacy._retention_run_finish(run_id, run_status);
	RAISE NOTICE 'retention run % %: % of % due rows done in % batches', run_id,
		CASE WHEN run_status OPERATOR(pg_catalog.=) 'finished' THEN 'finished' ELSE 'stopped at its time budget' END,
		run.rows_done, run.rows_due, run.batches;
	COMMIT;
END
$$;

-- The status view counts each rule's due rows with the same bound on the
-- wait: a rule whose table stays locked shows NULL counts instead of
-- stalling the view.
CREATE OR REPLACE FUNCTION privacy._retention_status()
RETURNS TABLE (rule text, table_name regclass, action text, period text, minimum text,
			   due_through timestamptz, rows_due bigint, oldest_due timestamptz,
			   rows_held bigint, table_hold text, guarded boolean, last_run_id bigint,
			   last_run_at timestamptz, last_run_status text, last_run_done bigint,
			   last_run_blocked bigint)
LANGUAGE plpgsql STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	rr privacy.retention_rules;
	counts record;
	last_run privacy.retention_runs;
BEGIN
	PERFORM pg_catalog.set_config('lock_timeout', privacy._retention_lock_timeout()::text, true);
	FOR rr IN SELECT * FROM privacy.retention_rules ORDER BY name LOOP
		BEGIN
			counts := privacy._retention_counts(rr, pg_catalog.now());
		EXCEPTION WHEN lock_not_available THEN
			SELECT NULL::bigint AS rows_due, NULL::timestamptz AS oldest_due, NULL::bigint AS rows_held INTO counts;
		END;
		rule := rr.name;
		table_name := rr.table_name;
		action := rr.action;
		period := rr.period;
		minimum := rr.minimum;
		due_through := privacy._retention_rule_cutoff(rr, pg_catalog.now());
		rows_due := counts.rows_due;
		oldest_due := counts.oldest_due;
		rows_held := counts.rows_held;
		table_hold := (SELECT h.reference FROM privacy.legal_holds h
						WHERE h.released_at IS NULL AND h.table_name = rr.table_name
						ORDER BY h.placed_at, h.id LIMIT 1);
		guarded := rr.minimum IS NULL
				   OR COALESCE((SELECT g.current FROM privacy._retention_guards g
								 WHERE g.table_name = rr.table_name), false);
		SELECT * INTO last_run FROM privacy.retention_runs r
		 WHERE r.rules ? rr.name AND r.status <> 'running'
		 ORDER BY r.id DESC LIMIT 1;
		last_run_id := last_run.id;
		last_run_at := last_run.finished_at;
		last_run_status := last_run.rules -> rr.name ->> 'status';
		last_run_done := (last_run.rules -> rr.name ->> 'done')::bigint;
		last_run_blocked := (last_run.rules -> rr.name ->> 'blocked')::bigint;
		RETURN NEXT;
	END LOOP;
END
$$;
