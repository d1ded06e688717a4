-- consent: purposes and who may use them, the consent ledger and its state,
-- the per-row checks row security calls, and unsubscribe links.
-- C: src/consent/.

CREATE FUNCTION privacy_internal._consent_history_sql(kind_sql text, key_sql text)
RETURNS text
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
RETURN pg_catalog.format($sql$(
	SELECT COALESCE(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
				'time', l.recorded_at, 'action', l.action, 'purpose', l.purpose,
				'source', l.source, 'policy_version', l.policy_version,
				'evidence', l.evidence, 'recorded_by', l.actor) ORDER BY l.id), '[]')
	  FROM privacy.consent_ledger l,
		   (SELECT k.key, privacy.subject_ref(%1$s, k.key) AS ref FROM (SELECT %2$s AS key) k) s
	 WHERE l.kind = %1$s AND l.subject = ANY (ARRAY[s.key, s.ref])
	   AND l.subject = CASE WHEN l.forgotten THEN s.ref ELSE s.key END)$sql$, kind_sql, key_sql);

COMMENT ON FUNCTION privacy_internal._consent_history_sql(kind_sql text, key_sql text) IS 'The expression giving a subject''s consent history, for privacy.consent_history() (the export reads the same events through the ledger''s subject index)';

REVOKE ALL ON FUNCTION privacy_internal._consent_history_sql(kind_sql text, key_sql text) FROM PUBLIC;

CREATE FUNCTION privacy_internal._consent_ledger_is_append_only() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
BEGIN
	IF TG_OP = 'UPDATE' AND NOT OLD.forgotten AND NEW.forgotten
	   AND NEW.subject = privacy.subject_ref(OLD.kind, OLD.subject)
	   AND NEW.evidence = privacy_internal._redacted_evidence(OLD.evidence)
	   AND (NEW.id, NEW.recorded_at, NEW.actor, NEW.kind, NEW.action, NEW.purpose, NEW.source, NEW.policy_version)
		   IS NOT DISTINCT FROM
		   (OLD.id, OLD.recorded_at, OLD.actor, OLD.kind, OLD.action, OLD.purpose, OLD.source, OLD.policy_version) THEN
		RETURN NEW;
	END IF;
	RAISE EXCEPTION 'privacy.consent_ledger is append-only'
		USING ERRCODE = 'insufficient_privilege',
			  DETAIL = pg_catalog.format('%s is not allowed on the consent ledger.', TG_OP),
			  HINT = 'Events are added by privacy.grant_consent(), privacy.withdraw_consent(), privacy.object(), privacy.restrict() and privacy.lift_restriction().';
END
$$;

COMMENT ON FUNCTION privacy_internal._consent_ledger_is_append_only() IS 'Trigger: refuses UPDATE (except forgetting an erased subject), DELETE and TRUNCATE on the consent ledger';

REVOKE ALL ON FUNCTION privacy_internal._consent_ledger_is_append_only() FROM PUBLIC;

CREATE FUNCTION privacy_internal._forget_subject_in_ledgers(kind text, subject text)
RETURNS jsonb
LANGUAGE c SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'privacy_forget_subject_in_ledgers';

COMMENT ON FUNCTION privacy_internal._forget_subject_in_ledgers(kind text, subject text) IS 'After erasure: replaces an erased subject''s key by its reference in the ledgers; returns the counts of events and state rows changed';

REVOKE ALL ON FUNCTION privacy_internal._forget_subject_in_ledgers(kind text, subject text) FROM PUBLIC;

CREATE FUNCTION privacy_internal._import_key(subject text) RETURNS text
    LANGUAGE c STABLE
    AS 'MODULE_PATHNAME', 'privacy_import_key';

COMMENT ON FUNCTION privacy_internal._import_key(subject text) IS 'The canonical key of a staged subject, for the statement of privacy.import_consents() only (an error elsewhere)';

REVOKE ALL ON FUNCTION privacy_internal._import_key(subject text) FROM PUBLIC;

CREATE FUNCTION privacy_internal._invalidate_consent_cache() RETURNS trigger
    LANGUAGE c
    AS 'MODULE_PATHNAME', 'privacy_invalidate_consent_cache';

COMMENT ON FUNCTION privacy_internal._invalidate_consent_cache() IS 'Trigger: tells every session that the ledger state or the purposes changed, so that their row-check caches are rebuilt';

REVOKE ALL ON FUNCTION privacy_internal._invalidate_consent_cache() FROM PUBLIC;

CREATE FUNCTION privacy_internal._maintain_ledger_state() RETURNS trigger
    LANGUAGE c
    AS 'MODULE_PATHNAME', 'privacy_maintain_ledger_state';

COMMENT ON FUNCTION privacy_internal._maintain_ledger_state() IS 'Statement trigger: applies the ledger events a statement inserted to privacy._ledger_state';

REVOKE ALL ON FUNCTION privacy_internal._maintain_ledger_state() FROM PUBLIC;

CREATE FUNCTION privacy_internal._ledger_event_is_valid(action text, purpose text, evidence jsonb) RETURNS boolean
    LANGUAGE c IMMUTABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'privacy_ledger_event_is_valid';

COMMENT ON FUNCTION privacy_internal._ledger_event_is_valid(action text, purpose text, evidence jsonb) IS 'The consent ledger''s CHECK constraint: a known action, a purpose exactly when the action is not a restriction or lifted restriction, evidence that is a JSON object';

REVOKE ALL ON FUNCTION privacy_internal._ledger_event_is_valid(action text, purpose text, evidence jsonb) FROM PUBLIC;

-- COST 2: a row's cheaper conditions that leak nothing (the key's equality
-- in a query by key) come first, so that a scan checks only the rows they
-- keep.
CREATE FUNCTION privacy_internal._may_process(kind text, subject bigint, owned boolean DEFAULT true) RETURNS boolean
    LANGUAGE c STABLE PARALLEL SAFE COST 2
    AS 'MODULE_PATHNAME', 'privacy_may_process_int8';

COMMENT ON FUNCTION privacy_internal._may_process(kind text, subject bigint, owned boolean) IS 'Row policy check: whether the current purpose may process the data of this subject now (false without a purpose)';

CREATE FUNCTION privacy_internal._may_process(kind text, subject text, owned boolean DEFAULT true) RETURNS boolean
    LANGUAGE c STABLE PARALLEL SAFE COST 2
    AS 'MODULE_PATHNAME', 'privacy_may_process_text';

COMMENT ON FUNCTION privacy_internal._may_process(kind text, subject text, owned boolean) IS 'Row policy check: whether the current purpose may process the data of this subject now (false without a purpose)';

CREATE FUNCTION privacy_internal._may_write(kind text, subject bigint, owned boolean DEFAULT true) RETURNS boolean
    LANGUAGE c STABLE PARALLEL RESTRICTED
    AS 'MODULE_PATHNAME', 'privacy_may_write_int8';

COMMENT ON FUNCTION privacy_internal._may_write(kind text, subject bigint, owned boolean) IS 'Row policy write check: true, or one error (naming the purpose, not the subject''s status) if the current purpose may not process this subject''s data or the subject was erased';

CREATE FUNCTION privacy_internal._may_write(kind text, subject text, owned boolean DEFAULT true) RETURNS boolean
    LANGUAGE c STABLE PARALLEL RESTRICTED
    AS 'MODULE_PATHNAME', 'privacy_may_write_text';

COMMENT ON FUNCTION privacy_internal._may_write(kind text, subject text, owned boolean) IS 'Row policy write check: true, or one error (naming the purpose, not the subject''s status) if the current purpose may not process this subject''s data or the subject was erased';

CREATE FUNCTION privacy_internal._record(action text, kind text, subject text, purpose text, source text, evidence jsonb) RETURNS bigint
    LANGUAGE c SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS 'MODULE_PATHNAME', 'privacy_record';

COMMENT ON FUNCTION privacy_internal._record(action text, kind text, subject text, purpose text, source text, evidence jsonb) IS 'Appends one validated, audited event to the consent ledger and returns its id';

REVOKE ALL ON FUNCTION privacy_internal._record(action text, kind text, subject text, purpose text, source text, evidence jsonb) FROM PUBLIC;

CREATE FUNCTION privacy_internal._redacted_evidence(evidence jsonb)
RETURNS jsonb
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT CASE WHEN evidence OPERATOR(pg_catalog.=) '{}'::jsonb THEN '{}'::jsonb
				ELSE pg_catalog.jsonb_build_object('redacted', true,
					'evidence_ref', privacy.subject_ref('evidence', evidence::text)) END;
END;

COMMENT ON FUNCTION privacy_internal._redacted_evidence(evidence jsonb) IS 'The evidence of a ledger event after its subject is erased: a keyed hash of it';

REVOKE ALL ON FUNCTION privacy_internal._redacted_evidence(evidence jsonb) FROM PUBLIC;

CREATE FUNCTION privacy_internal._require_purpose(name text, bases text[], action text) RETURNS privacy.purposes
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $_$
DECLARE
	p privacy.purposes;
BEGIN
	IF name IS NULL THEN
		RAISE EXCEPTION 'purpose must not be null'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	SELECT * INTO p FROM privacy.purposes pp WHERE pp.name = $1;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'unrecognized purpose "%"', name
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Purposes are declared by the policy document; privacy.purposes lists them.';
	END IF;
	IF NOT (p.legal_basis = ANY (bases)) THEN
		RAISE EXCEPTION 'cannot % purpose "%"', action, name
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = pg_catalog.format('Its legal basis is %s, not %s.', p.legal_basis,
											 pg_catalog.array_to_string(bases, ' or ')),
				  HINT = CASE WHEN p.legal_basis = 'legitimate_interest'
							  THEN 'A data subject objects to processing based on legitimate interest with privacy.object().'
							  WHEN p.legal_basis = 'consent'
							  THEN 'A data subject who no longer wants processing based on consent withdraws it with privacy.withdraw_consent().'
							  ELSE 'Processing based on contract or legal obligation needs neither consent nor gives a right to object; a data subject may ask for restriction with privacy.restrict().' END;
	END IF;
	RETURN p;
END
$_$;

COMMENT ON FUNCTION privacy_internal._require_purpose(name text, bases text[], action text) IS 'The named purpose, or an error if it does not exist or does not rest on one of the given legal bases';

REVOKE ALL ON FUNCTION privacy_internal._require_purpose(name text, bases text[], action text) FROM PUBLIC;

CREATE FUNCTION privacy_internal._sign_unsubscribe_token(kind text, subject text, purpose text) RETURNS text
    LANGUAGE c STABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'privacy_sign_unsubscribe_token';

COMMENT ON FUNCTION privacy_internal._sign_unsubscribe_token(kind text, subject text, purpose text) IS 'The signed, URL-safe token naming a subject and a purpose (no checks: see privacy.unsubscribe_token)';

REVOKE ALL ON FUNCTION privacy_internal._sign_unsubscribe_token(kind text, subject text, purpose text) FROM PUBLIC;

CREATE FUNCTION privacy_internal._verify_unsubscribe_token(token text, OUT kind text, OUT subject text, OUT purpose text) RETURNS record
    LANGUAGE c STABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'privacy_verify_unsubscribe_token';

COMMENT ON FUNCTION privacy_internal._verify_unsubscribe_token(token text, OUT kind text, OUT subject text, OUT purpose text) IS 'What an unsubscribe token names, if its signature is valid; an error otherwise';

REVOKE ALL ON FUNCTION privacy_internal._verify_unsubscribe_token(token text, OUT kind text, OUT subject text, OUT purpose text) FROM PUBLIC;

CREATE FUNCTION privacy.allow_purpose(purpose text, role regrole) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $_$
DECLARE
	p privacy.purposes := privacy_internal._require_purpose(purpose, ARRAY['contract', 'legitimate_interest', 'consent', 'legal_obligation'], 'allow');
BEGIN
	IF role IS NULL THEN
		RAISE EXCEPTION 'role must not be null'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF EXISTS (SELECT FROM privacy.purpose_grants g WHERE g.purpose = p.name AND g.role = $2) THEN
		RAISE EXCEPTION 'role "%" is already allowed purpose "%"', pg_catalog.pg_get_userbyid(role), p.name
			USING ERRCODE = 'duplicate_object';
	END IF;
	INSERT INTO privacy.purpose_grants (purpose, role, granted_by)
	VALUES (p.name, role, privacy_internal._acting_role());
	PERFORM privacy_internal._audit(privacy_internal._acting_role(), 'purpose.allow', NULL, NULL, NULL,
						   pg_catalog.jsonb_build_object('purpose', p.name, 'role', pg_catalog.pg_get_userbyid(role)));
END
$_$;

COMMENT ON FUNCTION privacy.allow_purpose(purpose text, role regrole) IS 'Allows a role (and its members) to declare a purpose for its sessions';

REVOKE ALL ON FUNCTION privacy.allow_purpose(purpose text, role regrole) FROM PUBLIC;

CREATE FUNCTION privacy.consent_cache_status(OUT shared_memory boolean, OUT cache text, OUT image_bytes bigint) RETURNS record
    LANGUAGE c STRICT PARALLEL RESTRICTED
    AS 'MODULE_PATHNAME', 'privacy_consent_cache_status';

COMMENT ON FUNCTION privacy.consent_cache_status(OUT shared_memory boolean, OUT cache text, OUT image_bytes bigint) IS 'How this session''s row-check cache was filled by its last statement that checked rows: empty, probed, read (by this session), shared (copied from another session''s image), updated (this session''s image brought up to date with the subjects changed since) or coordinator (a Citus worker''s copy of the coordinator''s state); shared_memory says whether sessions can share it (library preloaded, not a standby)';

CREATE FUNCTION privacy.consent_history(kind text, subject text) RETURNS jsonb
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $_$
BEGIN
	RETURN privacy_internal._cached_value('SELECT ' || privacy_internal._consent_history_sql('$1', '$2'), NULL::jsonb,
								 kind, privacy_internal._canonical_subject(kind, subject, false));
END
$_$;

COMMENT ON FUNCTION privacy.consent_history(kind text, subject text) IS 'A data subject''s consents, withdrawals, objections and restrictions, oldest first: time, action, purpose, source, policy version, evidence';

REVOKE ALL ON FUNCTION privacy.consent_history(kind text, subject text) FROM PUBLIC;

CREATE FUNCTION privacy.current_purpose() RETURNS text
    LANGUAGE c STABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'privacy_current_purpose';

COMMENT ON FUNCTION privacy.current_purpose() IS 'The purpose the current statement processes personal data for (privacy.purpose, else privacy.default_purpose), checked against the current role; NULL if none';

CREATE FUNCTION privacy.grant_consent(kind text, subject text, purpose text,
									  source text DEFAULT 'direct', evidence jsonb DEFAULT '{}')
RETURNS bigint
LANGUAGE c SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'privacy_grant_consent';

COMMENT ON FUNCTION privacy.grant_consent(kind text, subject text, purpose text, source text, evidence jsonb) IS 'Records that a data subject consents to a purpose whose legal basis is consent; returns the ledger event id';

REVOKE ALL ON FUNCTION privacy.grant_consent(kind text, subject text, purpose text, source text, evidence jsonb) FROM PUBLIC;

CREATE FUNCTION privacy.import_consents(kind text, purpose text, source text, staging regclass,
										evidence jsonb DEFAULT '{}')
RETURNS jsonb
LANGUAGE c
AS 'MODULE_PATHNAME', 'privacy_import_consents';

COMMENT ON FUNCTION privacy.import_consents(kind text, purpose text, source text, staging regclass, evidence jsonb) IS 'Records the consents of many subjects to a consent purpose at once, from a staging table with a column subject and optionally granted_at (timestamptz) and evidence (jsonb): every row is validated or nothing is imported; one ledger event per subject (its evidence marked imported, with the original granted_at) and one audit entry; subjects erased since, or with events for the purpose already, are skipped; returns the counts';

REVOKE ALL ON FUNCTION privacy.import_consents(kind text, purpose text, source text, staging regclass, evidence jsonb) FROM PUBLIC;

CREATE FUNCTION privacy.lift_restriction(kind text, subject text, reason text DEFAULT NULL)
RETURNS bigint
LANGUAGE c SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'privacy_lift_restriction';

COMMENT ON FUNCTION privacy.lift_restriction(kind text, subject text, reason text) IS 'Lifts a restriction of processing; an error if the subject''s processing is not restricted';

REVOKE ALL ON FUNCTION privacy.lift_restriction(kind text, subject text, reason text) FROM PUBLIC;

CREATE FUNCTION privacy.object(kind text, subject text, purpose text,
							   source text DEFAULT 'direct', evidence jsonb DEFAULT '{}')
RETURNS bigint
LANGUAGE c SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'privacy_object';

COMMENT ON FUNCTION privacy.object(kind text, subject text, purpose text, source text, evidence jsonb) IS 'Records a data subject''s objection (GDPR Art. 21) to a purpose based on legitimate interest; returns the ledger event id';

REVOKE ALL ON FUNCTION privacy.object(kind text, subject text, purpose text, source text, evidence jsonb) FROM PUBLIC;

CREATE FUNCTION privacy.restrict(kind text, subject text, reason text) RETURNS bigint
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
BEGIN
	IF reason IS NULL OR pg_catalog.btrim(reason) = '' THEN
		RAISE EXCEPTION 'reason for restriction must not be empty'
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'GDPR Art. 18 names the grounds, for example "accuracy contested" or "objection pending".';
	END IF;
	-- The recipients to tell of the restriction (GDPR Art. 19) are recorded
	-- with it.
	RETURN privacy_internal._record('restriction', kind, subject, NULL, 'direct',
						   pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object('reason', reason,
							   'notify_recipients', pg_catalog.to_jsonb(NULLIF(privacy.disclosed_to(kind, subject), '{}')))));
END
$$;

COMMENT ON FUNCTION privacy.restrict(kind text, subject text, reason text) IS 'Restricts processing of a data subject''s data (GDPR Art. 18) to the purposes allowed under restriction, recording the recipients to tell (GDPR Art. 19) with it; returns the ledger event id';

REVOKE ALL ON FUNCTION privacy.restrict(kind text, subject text, reason text) FROM PUBLIC;

CREATE FUNCTION privacy.revoke_purpose(purpose text, role regrole) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $_$
BEGIN
	IF purpose IS NULL OR role IS NULL THEN
		RAISE EXCEPTION 'purpose and role must not be null' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	DELETE FROM privacy.purpose_grants g WHERE g.purpose = $1 AND g.role = $2;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'role "%" is not allowed purpose "%"', pg_catalog.pg_get_userbyid(role), purpose
			USING ERRCODE = 'undefined_object',
				  HINT = 'privacy.purpose_grants lists the purposes allowed to each role.';
	END IF;
	PERFORM privacy_internal._audit(privacy_internal._acting_role(), 'purpose.revoke', NULL, NULL, NULL,
						   pg_catalog.jsonb_build_object('purpose', purpose, 'role', pg_catalog.pg_get_userbyid(role)));
END
$_$;

COMMENT ON FUNCTION privacy.revoke_purpose(purpose text, role regrole) IS 'Takes a purpose away from a role; sessions of the role that declared it fail at their next statement on a protected table';

REVOKE ALL ON FUNCTION privacy.revoke_purpose(purpose text, role regrole) FROM PUBLIC;

CREATE FUNCTION privacy.unsubscribe(token text) RETURNS jsonb
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
	claim record;
	key text;
	last_action text;
	result jsonb;
BEGIN
	IF token IS NULL THEN
		RAISE EXCEPTION 'unsubscribe token must not be null'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	SELECT * INTO STRICT claim FROM privacy_internal._verify_unsubscribe_token(token);
	key := privacy_internal._canonical_subject(claim.kind, claim.subject, false);
	result := pg_catalog.jsonb_build_object('kind', claim.kind, 'purpose', claim.purpose);
	-- Under the subject's ledger lock, so that two replays of a token
	-- record one withdrawal.
	PERFORM privacy_internal._lock_subject('consent_ledger', claim.kind, key);
	IF privacy_internal._subject_erased(claim.kind, key) THEN
		RETURN result OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object('withdrawn', false,
			'note', 'The subject was erased; there is no consent to withdraw.');
	END IF;
	SELECT l.action INTO last_action
	  FROM privacy.consent_ledger l
	 WHERE l.kind OPERATOR(pg_catalog.=) claim.kind AND l.subject OPERATOR(pg_catalog.=) key
	   AND NOT l.forgotten AND l.purpose OPERATOR(pg_catalog.=) claim.purpose
	 ORDER BY l.id DESC LIMIT 1;
	IF last_action OPERATOR(pg_catalog.=) 'consent.withdraw' THEN
		RETURN result OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object('withdrawn', true,
			'note', 'The consent was withdrawn already; nothing was recorded.');
	END IF;
	PERFORM privacy_internal._record('consent.withdraw', claim.kind, key, claim.purpose, 'direct',
							pg_catalog.jsonb_build_object('via', 'unsubscribe_token'));
	RETURN result OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object('withdrawn', true);
END
$$;

COMMENT ON FUNCTION privacy.unsubscribe(token text) IS 'Withdraws the consent an unsubscribe token names; needs no other privilege; a forged or altered token is an error and changes nothing; a consent withdrawn already, or an erased subject, records nothing';

CREATE FUNCTION privacy.unsubscribe_token(kind text, subject text, purpose text) RETURNS text
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
	key text := privacy_internal._canonical_subject(kind, subject, true);
	p privacy.purposes := privacy_internal._require_purpose(purpose, ARRAY['consent'], 'make an unsubscribe token for');
BEGIN
	RETURN privacy_internal._sign_unsubscribe_token(kind, key, p.name);
END
$$;

COMMENT ON FUNCTION privacy.unsubscribe_token(kind text, subject text, purpose text) IS 'A signed, URL-safe token with which the subject withdraws consent to a purpose through privacy.unsubscribe()';

REVOKE ALL ON FUNCTION privacy.unsubscribe_token(kind text, subject text, purpose text) FROM PUBLIC;

CREATE FUNCTION privacy.withdraw_consent(kind text, subject text, purpose text,
										 source text DEFAULT 'direct', evidence jsonb DEFAULT '{}')
RETURNS bigint
LANGUAGE c SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'privacy_withdraw_consent';

COMMENT ON FUNCTION privacy.withdraw_consent(kind text, subject text, purpose text, source text, evidence jsonb) IS 'Records that a data subject withdraws consent to a purpose (at any time, even if none was recorded); returns the ledger event id';

REVOKE ALL ON FUNCTION privacy.withdraw_consent(kind text, subject text, purpose text, source text, evidence jsonb) FROM PUBLIC;

CREATE TABLE privacy._ledger_state (
    kind text NOT NULL,
    purpose text NOT NULL,
    subject text NOT NULL,
    status text NOT NULL,
    event_id bigint NOT NULL,
    CONSTRAINT _ledger_state_status_check CHECK ((status = ANY (ARRAY['granted'::text, 'objected'::text, 'restricted'::text]))),
    CONSTRAINT _ledger_state_pkey PRIMARY KEY (subject, kind, purpose)
);

COMMENT ON TABLE privacy._ledger_state IS 'The current state of privacy.consent_ledger (as privacy.consent_state derives it), maintained by a trigger, read by the row check';

CREATE TABLE privacy.consent_ledger (
    id bigint GENERATED BY DEFAULT AS IDENTITY,
    recorded_at timestamp with time zone DEFAULT clock_timestamp() NOT NULL,
    actor text NOT NULL,
    kind text NOT NULL,
    subject text NOT NULL,
    forgotten boolean DEFAULT false NOT NULL,
    action text NOT NULL,
    purpose text,
    source text NOT NULL,
    policy_version text,
    evidence jsonb DEFAULT '{}'::jsonb NOT NULL,
    CONSTRAINT consent_ledger_event_check CHECK (privacy_internal._ledger_event_is_valid(action, purpose, evidence)),
    CONSTRAINT consent_ledger_pkey PRIMARY KEY (id)
);

COMMENT ON TABLE privacy.consent_ledger IS 'Every consent given or withdrawn, objection, restriction and lifted restriction: append-only; the current state is derived from it';
SELECT pg_catalog.pg_extension_config_dump('privacy.consent_ledger', '');
SELECT pg_catalog.pg_extension_config_dump('privacy.consent_ledger_id_seq', '');

CREATE VIEW privacy.consent_state AS
SELECT latest.kind, latest.subject, latest.purpose, latest.status, latest.event_id, latest.since
  FROM (SELECT DISTINCT ON (l.kind, l.subject, COALESCE(l.purpose, ''))
			   l.kind, l.subject, COALESCE(l.purpose, '') AS purpose,
			   CASE l.action WHEN 'consent.grant' THEN 'granted'
							 WHEN 'objection' THEN 'objected'
							 WHEN 'restriction' THEN 'restricted' END AS status,
			   l.id AS event_id, l.recorded_at AS since
		  FROM privacy.consent_ledger l
		 ORDER BY l.kind, l.subject, COALESCE(l.purpose, ''), l.id DESC) latest
 WHERE latest.status IS NOT NULL;

COMMENT ON VIEW privacy.consent_state IS 'Current consents, objections and restrictions, derived from privacy.consent_ledger (purpose '''' is a restriction)';

CREATE TABLE privacy.purpose_grants (
    purpose text NOT NULL,
    role regrole NOT NULL,
    granted_at timestamp with time zone DEFAULT now() NOT NULL,
    granted_by name NOT NULL,
    CONSTRAINT purpose_grants_pkey PRIMARY KEY (purpose, role)
);

COMMENT ON TABLE privacy.purpose_grants IS 'The purposes each role may declare for its session (privacy.purpose); members of a role inherit its purposes';

GRANT SELECT ON TABLE privacy.purpose_grants TO PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('privacy.purpose_grants', '');

CREATE FUNCTION privacy_internal._lint_purpose_grants()
RETURNS TABLE (severity text, object text, problem text, hint text)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	-- The grants the audit log says are in force (each purpose and role
	-- name's last allow or revoke) that privacy.purpose_grants does not hold,
	-- beyond those a renamed role explains: a grant held under a name the
	-- log does not know. A restore without the application's roles loses
	-- the table's rows, not the log's.
	WITH last_event AS (
		SELECT DISTINCT ON (a.summary ->> 'purpose', a.summary ->> 'role')
			   a.summary ->> 'purpose' AS purpose, a.summary ->> 'role' AS role_name, a.action
		  FROM privacy.audit_log a
		 WHERE a.action IN ('purpose.allow', 'purpose.revoke')
		 ORDER BY a.summary ->> 'purpose', a.summary ->> 'role', a.id DESC
	), expected AS (
		SELECT e.purpose, e.role_name FROM last_event e WHERE e.action = 'purpose.allow'
	), held AS (
		SELECT g.purpose, pg_catalog.pg_get_userbyid(g.role) AS role_name FROM privacy.purpose_grants g
	), missing AS (
		SELECT x.purpose, x.role_name FROM expected x
		 WHERE NOT EXISTS (SELECT FROM held h WHERE h.purpose = x.purpose AND h.role_name = x.role_name)
	)
	SELECT 'error', pg_catalog.format('purpose "%s"', m.purpose),
		   pg_catalog.format('the audit log allows it to role "%s", but privacy.purpose_grants does not hold that grant', m.role_name),
		   CASE WHEN NOT EXISTS (SELECT FROM pg_catalog.pg_roles r WHERE r.rolname = m.role_name)
				THEN 'The role does not exist: a dump restored before the roles loses every purpose grant. Create the roles first (pg_dumpall --roles-only), then restore the grants with pg_restore --data-only --table=purpose_grants, or allow the purposes again with privacy.allow_purpose().'
				ELSE pg_catalog.format('Restore the grants with pg_restore --data-only --table=purpose_grants, or allow the purpose again: SELECT privacy.allow_purpose(%L, %L);', m.purpose, m.role_name)
		   END
	  FROM missing m
	 WHERE (SELECT pg_catalog.count(*) FROM missing m2 WHERE m2.purpose = m.purpose)
		   > (SELECT pg_catalog.count(*) FROM held h
			   WHERE h.purpose = m.purpose
				 AND NOT EXISTS (SELECT FROM expected x WHERE x.purpose = h.purpose AND x.role_name = h.role_name));
END;

COMMENT ON FUNCTION privacy_internal._lint_purpose_grants() IS 'lint: purpose grants the audit log records as in force that privacy.purpose_grants does not hold, as after a restore without the application''s roles';

REVOKE ALL ON FUNCTION privacy_internal._lint_purpose_grants() FROM PUBLIC;

CREATE INDEX consent_ledger_subject_idx ON privacy.consent_ledger USING btree (kind, subject);

CREATE TRIGGER append_only BEFORE DELETE OR UPDATE ON privacy.consent_ledger FOR EACH ROW EXECUTE FUNCTION privacy_internal._consent_ledger_is_append_only();

CREATE TRIGGER append_only_truncate BEFORE TRUNCATE ON privacy.consent_ledger FOR EACH STATEMENT EXECUTE FUNCTION privacy_internal._consent_ledger_is_append_only();

CREATE TRIGGER invalidate_consent_cache AFTER INSERT OR DELETE OR UPDATE OR TRUNCATE ON privacy._ledger_state FOR EACH STATEMENT EXECUTE FUNCTION privacy_internal._invalidate_consent_cache();

CREATE TRIGGER invalidate_consent_cache AFTER INSERT OR DELETE OR UPDATE OR TRUNCATE ON privacy.purpose_grants FOR EACH STATEMENT EXECUTE FUNCTION privacy_internal._invalidate_consent_cache();

CREATE TRIGGER invalidate_consent_cache AFTER INSERT OR DELETE OR UPDATE OR TRUNCATE ON privacy.purposes FOR EACH STATEMENT EXECUTE FUNCTION privacy_internal._invalidate_consent_cache();

CREATE TRIGGER invalidate_consent_cache AFTER INSERT OR DELETE OR UPDATE OR TRUNCATE ON privacy.subject_kinds FOR EACH STATEMENT EXECUTE FUNCTION privacy_internal._invalidate_consent_cache();

CREATE TRIGGER invalidate_consent_cache_on_apply AFTER INSERT OR DELETE OR UPDATE ON privacy._ledger_state FOR EACH ROW EXECUTE FUNCTION privacy_internal._invalidate_consent_cache();

ALTER TABLE privacy._ledger_state ENABLE REPLICA TRIGGER invalidate_consent_cache_on_apply;

CREATE TRIGGER maintain_state AFTER INSERT ON privacy.consent_ledger REFERENCING NEW TABLE AS new_events FOR EACH STATEMENT EXECUTE FUNCTION privacy_internal._maintain_ledger_state();

CREATE FUNCTION privacy_internal._state_version() RETURNS text
    LANGUAGE c VOLATILE STRICT PARALLEL RESTRICTED
    AS 'MODULE_PATHNAME', 'privacy_state_version_sql';

COMMENT ON FUNCTION privacy_internal._state_version() IS 'The consent state version of this server: it changes with every committed change of the consent state, the purposes or the purpose grants, and with a restart';

REVOKE ALL ON FUNCTION privacy_internal._state_version() FROM PUBLIC;

CREATE FUNCTION privacy_internal._state_changes_since(since text, OUT version text, OUT kinds text[], OUT subjects text[], OUT erasures_changed boolean, OUT erased_kinds text[], OUT erased_refs text[])
    LANGUAGE c VOLATILE PARALLEL RESTRICTED
    AS 'MODULE_PATHNAME', 'privacy_state_changes_since';

COMMENT ON FUNCTION privacy_internal._state_changes_since(since text, OUT version text, OUT kinds text[], OUT subjects text[], OUT erasures_changed boolean, OUT erased_kinds text[], OUT erased_refs text[]) IS 'This server''s consent state version and, when since is an earlier version of it whose changes this server still knows, the kinds and keys of the subjects whose state changed since, whether any erasure may have been written to privacy.erasures since, and the kinds and references of the erasures written since (NULL otherwise)';

REVOKE ALL ON FUNCTION privacy_internal._state_changes_since(since text, OUT version text, OUT kinds text[], OUT subjects text[], OUT erasures_changed boolean, OUT erased_kinds text[], OUT erased_refs text[]) FROM PUBLIC;

CREATE FUNCTION privacy_internal._node_state_since(since text) RETURNS text
    LANGUAGE plpgsql VOLATILE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
	-- Read before the state, whose statements take later snapshots: the
	-- state holds at least every change the version counts.
	changes record := privacy_internal._state_changes_since(since);
BEGIN
	RETURN pg_catalog.json_build_object(
		'version', changes.version,
		'purposes', (SELECT COALESCE(pg_catalog.json_agg(pg_catalog.json_build_object(
								'name', p.name, 'legal_basis', p.legal_basis,
								'allowed_under_restriction', p.allowed_under_restriction)), '[]'::pg_catalog.json)
					   FROM privacy.purposes p),
		'grants', (SELECT COALESCE(pg_catalog.json_agg(pg_catalog.json_build_object(
							  'purpose', g.purpose, 'role', pg_catalog.pg_get_userbyid(g.role::pg_catalog.oid))), '[]'::pg_catalog.json)
					 FROM privacy.purpose_grants g),
		-- the erasures (each its kind, a unit separator and its reference),
		-- unless the worker's copy holds them all already
		'erasures', CASE WHEN changes.subjects IS NULL OR changes.erasures_changed THEN
			(SELECT COALESCE(pg_catalog.json_agg(e.kind OPERATOR(pg_catalog.||) E'\x1f'
												  OPERATOR(pg_catalog.||) e.subject_ref), '[]'::pg_catalog.json)
			   FROM privacy.erasures e) END,
		-- else those added since, of the erasures named since
		'erasures_added', CASE WHEN changes.subjects IS NOT NULL AND NOT changes.erasures_changed
								AND pg_catalog.cardinality(changes.erased_refs) OPERATOR(pg_catalog.>) 0 THEN
			(SELECT COALESCE(pg_catalog.json_agg(e.kind OPERATOR(pg_catalog.||) E'\x1f'
												  OPERATOR(pg_catalog.||) e.subject_ref), '[]'::pg_catalog.json)
			   FROM privacy.erasures e
			  WHERE (e.kind, e.subject_ref) IN (SELECT n.kind, n.ref
												  FROM ROWS FROM (pg_catalog.unnest(changes.erased_kinds),
																  pg_catalog.unnest(changes.erased_refs)) AS n(kind, ref))) END,
		-- The subjects changed since the version the worker holds, with
		-- their rows now, when they are known; else the whole state.
		'since', CASE WHEN changes.subjects IS NOT NULL THEN since END,
		'changed', CASE WHEN changes.subjects IS NOT NULL THEN
			(SELECT COALESCE(pg_catalog.json_agg(pg_catalog.json_build_object(
						'kind', c.kind, 'subject', c.subject,
						'rows', (SELECT COALESCE(pg_catalog.json_agg(pg_catalog.json_build_object(
													 'purpose', s.purpose, 'status', s.status)), '[]'::pg_catalog.json)
								   FROM privacy._ledger_state s
								  WHERE s.kind OPERATOR(pg_catalog.=) c.kind
									AND s.subject OPERATOR(pg_catalog.=) c.subject))), '[]'::pg_catalog.json)
			   FROM ROWS FROM (pg_catalog.unnest(changes.kinds), pg_catalog.unnest(changes.subjects)) AS c(kind, subject)) END,
		-- one group per kind, purpose and status, its subjects one array: a
		-- tenth of the size of an object per subject; json, not jsonb, is
		-- written as it is built (100,000 subjects: 65 ms against 360)
		'state', CASE WHEN changes.subjects IS NULL THEN
			(SELECT COALESCE(pg_catalog.json_agg(pg_catalog.json_build_object(
						 'kind', g.kind, 'purpose', g.purpose, 'status', g.status, 'subjects', g.subjects)), '[]'::pg_catalog.json)
			   FROM (SELECT s.kind, s.purpose, s.status, pg_catalog.json_agg(s.subject) AS subjects
					   FROM privacy._ledger_state s
					  GROUP BY s.kind, s.purpose, s.status) g) END)::text;
END
$$;

COMMENT ON FUNCTION privacy_internal._node_state_since(since text) IS 'The purposes, purpose grants (by role name), erasures and consent state of this server with their version, as a Citus worker copies them from the coordinator to check the rows of protected tables: given the version the worker holds, only the subjects whose state changed since, when this server still knows them';

REVOKE ALL ON FUNCTION privacy_internal._node_state_since(since text) FROM PUBLIC;

CREATE FUNCTION privacy_internal._node_state() RETURNS text
    LANGUAGE sql VOLATILE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$ SELECT privacy_internal._node_state_since(NULL) $$;

COMMENT ON FUNCTION privacy_internal._node_state() IS 'The purposes, purpose grants (by role name), erasures and consent state of this server with their version, as a Citus worker copies them from the coordinator to check the rows of protected tables';

REVOKE ALL ON FUNCTION privacy_internal._node_state() FROM PUBLIC;

CREATE FUNCTION privacy_internal._statement_context(purpose text, state_version text, signature text) RETURNS boolean
    LANGUAGE c STABLE STRICT PARALLEL UNSAFE
    AS 'MODULE_PATHNAME', 'privacy_statement_context';

COMMENT ON FUNCTION privacy_internal._statement_context(purpose text, state_version text, signature text) IS 'Condition the Citus coordinator adds to each query level reading a protected table Citus manages: on a worker, verifies the signed purpose for the current role, makes it the purpose of the transaction and brings the copy of the coordinator''s consent state up to the version; true';

REVOKE ALL ON FUNCTION privacy_internal._statement_context(purpose text, state_version text, signature text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION privacy_internal._statement_context(purpose text, state_version text, signature text) TO PUBLIC;
