/* opendims_privacy--1.1--1.2.sql: consent, objection and restriction ledgers, purpose-bound sessions and consent-aware row policies. */

\echo Use "ALTER EXTENSION opendims_privacy UPDATE TO '1.2'" to load this file. \quit

-- While this script runs, names resolve in pg_catalog only (pg_temp last).
-- CREATE EXTENSION ... CASCADE puts the schema pgcrypto was created in
-- (public, usually) on the script's search_path; an operator, function or
-- type that another role planted there must never be bound into the
-- extension's objects nor run with the installing superuser's rights.
-- Everything the script creates is qualified with the schema privacy, and
-- CREATE and ALTER EXTENSION restore the caller's search_path afterwards.
SELECT pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', true);

------------------------------------------------------------------------------
-- Shared helpers
------------------------------------------------------------------------------

-- The role on whose behalf a SECURITY DEFINER function runs: the role set
-- by SET ROLE, else the session user.
CREATE FUNCTION privacy._acting_role()
RETURNS name
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT COALESCE(NULLIF(pg_catalog.current_setting('role'), 'none'), SESSION_USER::text)::name;
END;
REVOKE ALL ON FUNCTION privacy._acting_role() FROM PUBLIC;
COMMENT ON FUNCTION privacy._acting_role() IS
'The role on whose behalf a function runs: the role set by SET ROLE, else the session user';

-- The version of the policy in force (NULL before any policy is applied).
CREATE FUNCTION privacy._policy_version()
RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT pv.version FROM privacy.policy_versions pv ORDER BY pv.id DESC LIMIT 1;
END;
REVOKE ALL ON FUNCTION privacy._policy_version() FROM PUBLIC;
COMMENT ON FUNCTION privacy._policy_version() IS
'The version of the policy document in force';

-- The subject key in canonical form (the key column's type, written as
-- text), so that '007' and '7' name one subject; an error for an unknown
-- kind, a key that is not a value of the key's type, or (if must_exist) a
-- key that no row of the anchor table has. Error messages never repeat the
-- key itself.
CREATE FUNCTION privacy._canonical_subject(kind text, subject text, must_exist boolean)
RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	k privacy.subject_kinds;
	key_type text;
	result text;
	found_row boolean;
BEGIN
	SELECT * INTO k FROM privacy.subject_kinds sk WHERE sk.name = kind;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'unrecognized subject kind "%"', kind
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Subject kinds are declared by the policy document; privacy.subject_kinds lists them.';
	END IF;
	IF subject IS NULL THEN
		RAISE EXCEPTION 'subject key must not be null'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	SELECT pg_catalog.format_type(a.atttypid, a.atttypmod) INTO STRICT key_type
	  FROM pg_catalog.pg_attribute a
	 WHERE a.attrelid = k.table_name AND a.attname = k.key_column AND NOT a.attisdropped;
	BEGIN
		EXECUTE pg_catalog.format('SELECT ($1::%s)::text', key_type) INTO result USING subject;
	EXCEPTION WHEN data_exception THEN
		RAISE EXCEPTION 'invalid subject key for subject kind "%"', kind
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = pg_catalog.format('A key of this kind is a value of type %s, the type of %s.%I.',
											 key_type, privacy._qualified_name(k.table_name), k.key_column);
	END;
	IF must_exist THEN
		EXECUTE pg_catalog.format('SELECT EXISTS (SELECT FROM %s WHERE %I OPERATOR(pg_catalog.=) $1::%s)',
								  privacy._qualified_name(k.table_name), k.key_column, key_type)
		   INTO found_row USING result;
		IF NOT found_row THEN
			RAISE EXCEPTION 'subject of kind "%" does not exist', kind
				USING ERRCODE = 'no_data_found',
					  DETAIL = pg_catalog.format('No row of %s has this %I.',
												 privacy._qualified_name(k.table_name), k.key_column);
		END IF;
	END IF;
	RETURN result;
END
$$;
REVOKE ALL ON FUNCTION privacy._canonical_subject(text, text, boolean) FROM PUBLIC;
COMMENT ON FUNCTION privacy._canonical_subject(text, text, boolean) IS
'A subject key in canonical text form, checked against its kind (and optionally its anchor table)';

-- The purpose called name, checked to rest on one of the given legal bases;
-- action says what was attempted, for the error message.
CREATE FUNCTION privacy._require_purpose(name text, bases text[], action text)
RETURNS privacy.purposes
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
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
$$;
REVOKE ALL ON FUNCTION privacy._require_purpose(text, text[], text) FROM PUBLIC;
COMMENT ON FUNCTION privacy._require_purpose(text, text[], text) IS
'The named purpose, or an error if it does not exist or does not rest on one of the given legal bases';

------------------------------------------------------------------------------
-- Cache invalidation for the per-row check
------------------------------------------------------------------------------

CREATE FUNCTION privacy._invalidate_consent_cache()
RETURNS trigger
AS 'MODULE_PATHNAME', 'privacy_invalidate_consent_cache'
LANGUAGE C;
REVOKE ALL ON FUNCTION privacy._invalidate_consent_cache() FROM PUBLIC;
COMMENT ON FUNCTION privacy._invalidate_consent_cache() IS
'Trigger: tells every session that the ledger state or the purposes changed, so that their row-check caches are rebuilt';

-- The purposes and subject kinds decide what the row check does.
CREATE TRIGGER invalidate_consent_cache
	AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON privacy.purposes
	FOR EACH STATEMENT EXECUTE FUNCTION privacy._invalidate_consent_cache();
CREATE TRIGGER invalidate_consent_cache
	AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON privacy.subject_kinds
	FOR EACH STATEMENT EXECUTE FUNCTION privacy._invalidate_consent_cache();

------------------------------------------------------------------------------
-- Purposes allowed to roles
------------------------------------------------------------------------------

CREATE TABLE privacy.purpose_grants (
	purpose text NOT NULL,
	role regrole NOT NULL,
	granted_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
	granted_by name NOT NULL,
	PRIMARY KEY (purpose, role)
);
REVOKE ALL ON privacy.purpose_grants FROM PUBLIC;
GRANT SELECT ON privacy.purpose_grants TO PUBLIC;
COMMENT ON TABLE privacy.purpose_grants IS
'The purposes each role may declare for its session (privacy.purpose); members of a role inherit its purposes';
SELECT pg_catalog.pg_extension_config_dump('privacy.purpose_grants', '');
CREATE TRIGGER invalidate_consent_cache
	AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON privacy.purpose_grants
	FOR EACH STATEMENT EXECUTE FUNCTION privacy._invalidate_consent_cache();

CREATE FUNCTION privacy.allow_purpose(purpose text, role regrole)
RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	p privacy.purposes := privacy._require_purpose(purpose, ARRAY['contract', 'legitimate_interest', 'consent', 'legal_obligation'], 'allow');
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
	VALUES (p.name, role, privacy._acting_role());
	PERFORM privacy._audit(privacy._acting_role(), 'purpose.allow', NULL, NULL, NULL,
						   pg_catalog.jsonb_build_object('purpose', p.name, 'role', pg_catalog.pg_get_userbyid(role)));
END
$$;
REVOKE ALL ON FUNCTION privacy.allow_purpose(text, regrole) FROM PUBLIC;
COMMENT ON FUNCTION privacy.allow_purpose(text, regrole) IS
'Allows a role (and its members) to declare a purpose for its sessions';

CREATE FUNCTION privacy.revoke_purpose(purpose text, role regrole)
RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
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
	PERFORM privacy._audit(privacy._acting_role(), 'purpose.revoke', NULL, NULL, NULL,
						   pg_catalog.jsonb_build_object('purpose', purpose, 'role', pg_catalog.pg_get_userbyid(role)));
END
$$;
REVOKE ALL ON FUNCTION privacy.revoke_purpose(text, regrole) FROM PUBLIC;
COMMENT ON FUNCTION privacy.revoke_purpose(text, regrole) IS
'Takes a purpose away from a role; sessions of the role that declared it fail at their next statement on a protected table';

CREATE FUNCTION privacy.current_purpose()
RETURNS text
AS 'MODULE_PATHNAME', 'privacy_current_purpose'
LANGUAGE C STABLE PARALLEL SAFE;
REVOKE ALL ON FUNCTION privacy.current_purpose() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION privacy.current_purpose() TO PUBLIC;
COMMENT ON FUNCTION privacy.current_purpose() IS
'The purpose the current statement processes personal data for (privacy.purpose, else privacy.default_purpose), checked against the current role; NULL if none';

------------------------------------------------------------------------------
-- The consent, objection and restriction ledger
------------------------------------------------------------------------------

CREATE TABLE privacy.consent_ledger (
	id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
	recorded_at timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
	actor name NOT NULL,
	kind text NOT NULL,
	subject text NOT NULL,
	forgotten boolean NOT NULL DEFAULT false,
	action text NOT NULL
		CHECK (action IN ('consent.grant', 'consent.withdraw', 'objection', 'restriction', 'restriction.lift')),
	purpose text,
	source text NOT NULL,
	policy_version text,
	evidence jsonb NOT NULL DEFAULT '{}' CHECK (pg_catalog.jsonb_typeof(evidence) = 'object'),
	CHECK ((purpose IS NULL) = (action IN ('restriction', 'restriction.lift')))
);
CREATE INDEX consent_ledger_subject_idx ON privacy.consent_ledger (kind, subject);
REVOKE ALL ON privacy.consent_ledger FROM PUBLIC;
COMMENT ON TABLE privacy.consent_ledger IS
'Every consent given or withdrawn, objection, restriction and lifted restriction: append-only; the current state is derived from it';
SELECT pg_catalog.pg_extension_config_dump('privacy.consent_ledger', '');
SELECT pg_catalog.pg_extension_config_dump('privacy.consent_ledger_id_seq', '');

-- The current state, derived from the ledger: per subject and purpose the
-- latest event decides ('' stands for restriction, which covers every
-- purpose). A row exists while consent is given, an objection stands or
-- processing is restricted.
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
REVOKE ALL ON privacy.consent_state FROM PUBLIC;
COMMENT ON VIEW privacy.consent_state IS
'Current consents, objections and restrictions, derived from privacy.consent_ledger (purpose '''' is a restriction)';

-- The same state, kept up to date by a trigger on the ledger and read by
-- the per-row check; it is not dumped, because restoring the ledger
-- rebuilds it.
CREATE TABLE privacy._ledger_state (
	kind text NOT NULL,
	purpose text NOT NULL,
	subject text NOT NULL,
	status text NOT NULL CHECK (status IN ('granted', 'objected', 'restricted')),
	event_id bigint NOT NULL,
	PRIMARY KEY (kind, purpose, subject)
);
-- Erasure finds a subject's state across purposes.
CREATE INDEX _ledger_state_subject_idx ON privacy._ledger_state (kind, subject);
REVOKE ALL ON privacy._ledger_state FROM PUBLIC;
COMMENT ON TABLE privacy._ledger_state IS
'The current state of privacy.consent_ledger (as privacy.consent_state derives it), maintained by a trigger, read by the row check';
CREATE TRIGGER invalidate_consent_cache
	AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON privacy._ledger_state
	FOR EACH STATEMENT EXECUTE FUNCTION privacy._invalidate_consent_cache();
-- Logical replication's apply worker fires row triggers only, and only
-- those enabled for replicas: on a subscriber that receives the ledger state,
-- this one sends the invalidation for every applied change.
CREATE TRIGGER invalidate_consent_cache_on_apply
	AFTER INSERT OR UPDATE OR DELETE ON privacy._ledger_state
	FOR EACH ROW EXECUTE FUNCTION privacy._invalidate_consent_cache();
ALTER TABLE privacy._ledger_state ENABLE REPLICA TRIGGER invalidate_consent_cache_on_apply;

CREATE FUNCTION privacy._maintain_ledger_state()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF NEW.action IN ('consent.grant', 'objection', 'restriction') THEN
		INSERT INTO privacy._ledger_state AS s (kind, purpose, subject, status, event_id)
		VALUES (NEW.kind, COALESCE(NEW.purpose, ''), NEW.subject,
				CASE NEW.action WHEN 'consent.grant' THEN 'granted'
								WHEN 'objection' THEN 'objected'
								ELSE 'restricted' END,
				NEW.id)
		ON CONFLICT (kind, purpose, subject)
		DO UPDATE SET status = EXCLUDED.status, event_id = EXCLUDED.event_id;
	ELSE
		DELETE FROM privacy._ledger_state s
		 WHERE s.kind = NEW.kind AND s.purpose = COALESCE(NEW.purpose, '') AND s.subject = NEW.subject;
	END IF;
	RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION privacy._maintain_ledger_state() FROM PUBLIC;
COMMENT ON FUNCTION privacy._maintain_ledger_state() IS
'Trigger: applies a new ledger event to privacy._ledger_state';
CREATE TRIGGER maintain_state AFTER INSERT ON privacy.consent_ledger
	FOR EACH ROW EXECUTE FUNCTION privacy._maintain_ledger_state();

-- What replaces the evidence of an event once its subject is erased: a
-- keyed hash that proves what was recorded to whoever holds the evidence,
-- without keeping it.
CREATE FUNCTION privacy._redacted_evidence(evidence jsonb)
RETURNS jsonb
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT CASE WHEN evidence OPERATOR(pg_catalog.=) '{}'::jsonb THEN '{}'::jsonb
				ELSE pg_catalog.jsonb_build_object('redacted', true,
					'evidence_ref', privacy.subject_ref('evidence', evidence::text)) END;
END;
REVOKE ALL ON FUNCTION privacy._redacted_evidence(jsonb) FROM PUBLIC;
COMMENT ON FUNCTION privacy._redacted_evidence(jsonb) IS
'The evidence of a ledger event after its subject is erased: a keyed hash of it';

-- Append-only: the one change allowed is forgetting the subject of an
-- event (privacy._forget_subject_in_ledgers), which replaces the subject
-- key by its reference and the evidence by its keyed hash.
CREATE FUNCTION privacy._consent_ledger_is_append_only()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF TG_OP = 'UPDATE' AND NOT OLD.forgotten AND NEW.forgotten
	   AND NEW.subject = privacy.subject_ref(OLD.kind, OLD.subject)
	   AND NEW.evidence = privacy._redacted_evidence(OLD.evidence)
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
REVOKE ALL ON FUNCTION privacy._consent_ledger_is_append_only() FROM PUBLIC;
COMMENT ON FUNCTION privacy._consent_ledger_is_append_only() IS
'Trigger: refuses UPDATE (except forgetting an erased subject), DELETE and TRUNCATE on the consent ledger';
CREATE TRIGGER append_only BEFORE UPDATE OR DELETE ON privacy.consent_ledger
	FOR EACH ROW EXECUTE FUNCTION privacy._consent_ledger_is_append_only();
CREATE TRIGGER append_only_truncate BEFORE TRUNCATE ON privacy.consent_ledger
	FOR EACH STATEMENT EXECUTE FUNCTION privacy._consent_ledger_is_append_only();

-- Appends one event, audited. Events for one subject are serialised (an
-- advisory lock held to commit), so the order of their ids is the order
-- in which they take effect.
CREATE FUNCTION privacy._record(action text, kind text, subject text, purpose text,
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

	PERFORM pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('privacy.consent_ledger'),
											 pg_catalog.hashtext(kind || E'\x1f' || key));
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
REVOKE ALL ON FUNCTION privacy._record(text, text, text, text, text, jsonb) FROM PUBLIC;
COMMENT ON FUNCTION privacy._record(text, text, text, text, text, jsonb) IS
'Appends one validated, audited event to the consent ledger and returns its id';

CREATE FUNCTION privacy.grant_consent(kind text, subject text, purpose text,
									  source text DEFAULT 'direct', evidence jsonb DEFAULT '{}')
RETURNS bigint
LANGUAGE sql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT privacy._record('consent.grant', kind, subject, purpose, source, evidence);
END;
REVOKE ALL ON FUNCTION privacy.grant_consent(text, text, text, text, jsonb) FROM PUBLIC;
COMMENT ON FUNCTION privacy.grant_consent(text, text, text, text, jsonb) IS
'Records that a data subject consents to a purpose whose legal basis is consent; returns the ledger event id';

CREATE FUNCTION privacy.withdraw_consent(kind text, subject text, purpose text,
										 source text DEFAULT 'direct', evidence jsonb DEFAULT '{}')
RETURNS bigint
LANGUAGE sql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT privacy._record('consent.withdraw', kind, subject, purpose, source, evidence);
END;
REVOKE ALL ON FUNCTION privacy.withdraw_consent(text, text, text, text, jsonb) FROM PUBLIC;
COMMENT ON FUNCTION privacy.withdraw_consent(text, text, text, text, jsonb) IS
'Records that a data subject withdraws consent to a purpose (at any time, even if none was recorded); returns the ledger event id';

CREATE FUNCTION privacy.object(kind text, subject text, purpose text,
							   source text DEFAULT 'direct', evidence jsonb DEFAULT '{}')
RETURNS bigint
LANGUAGE sql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT privacy._record('objection', kind, subject, purpose, source, evidence);
END;
REVOKE ALL ON FUNCTION privacy.object(text, text, text, text, jsonb) FROM PUBLIC;
COMMENT ON FUNCTION privacy.object(text, text, text, text, jsonb) IS
'Records a data subject''s objection (GDPR Art. 21) to a purpose based on legitimate interest; returns the ledger event id';

CREATE FUNCTION privacy.restrict(kind text, subject text, reason text)
RETURNS bigint
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF reason IS NULL OR pg_catalog.btrim(reason) = '' THEN
		RAISE EXCEPTION 'reason for restriction must not be empty'
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'GDPR Art. 18 names the grounds, for example "accuracy contested" or "objection pending".';
	END IF;
	RETURN privacy._record('restriction', kind, subject, NULL, 'direct',
						   pg_catalog.jsonb_build_object('reason', reason));
END
$$;
REVOKE ALL ON FUNCTION privacy.restrict(text, text, text) FROM PUBLIC;
COMMENT ON FUNCTION privacy.restrict(text, text, text) IS
'Restricts processing of a data subject''s data (GDPR Art. 18) to the purposes allowed under restriction; returns the ledger event id';

CREATE FUNCTION privacy.lift_restriction(kind text, subject text, reason text DEFAULT NULL)
RETURNS bigint
LANGUAGE sql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT privacy._record('restriction.lift', kind, subject, NULL, 'direct',
						   pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object('reason', reason)));
END;
REVOKE ALL ON FUNCTION privacy.lift_restriction(text, text, text) FROM PUBLIC;
COMMENT ON FUNCTION privacy.lift_restriction(text, text, text) IS
'Lifts a restriction of processing; an error if the subject''s processing is not restricted';

-- Every event of one subject, oldest first, as a JSON array for export
-- (events of an erased subject are found by the subject's reference).
CREATE FUNCTION privacy.consent_history(kind text, subject text)
RETURNS jsonb
LANGUAGE plpgsql STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	key text := privacy._canonical_subject(kind, subject, false);
	ref text := privacy.subject_ref(kind, key);
BEGIN
	RETURN COALESCE((
		SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
				   'time', l.recorded_at, 'action', l.action, 'purpose', l.purpose,
				   'source', l.source, 'policy_version', l.policy_version,
				   'evidence', l.evidence, 'recorded_by', l.actor) ORDER BY l.id)
		  FROM privacy.consent_ledger l
		 WHERE l.kind = $1
		   AND ((NOT l.forgotten AND l.subject = key) OR (l.forgotten AND l.subject = ref))),
		'[]'::jsonb);
END
$$;
REVOKE ALL ON FUNCTION privacy.consent_history(text, text) FROM PUBLIC;
COMMENT ON FUNCTION privacy.consent_history(text, text) IS
'A data subject''s consents, withdrawals, objections and restrictions, oldest first: time, action, purpose, source, policy version, evidence';

-- After erasure: the subject key becomes its keyed reference and evidence
-- its keyed hash in every ledger event, so the history still proves what
-- was consented to and when, without personal data.
CREATE FUNCTION privacy._forget_subject_in_ledgers(kind text, subject text)
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
	PERFORM pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('privacy.consent_ledger'),
											 pg_catalog.hashtext(kind || E'\x1f' || key));
	UPDATE privacy.consent_ledger l
	   SET subject = ref, forgotten = true, evidence = privacy._redacted_evidence(l.evidence)
	 WHERE l.kind = $1 AND l.subject = key AND NOT l.forgotten;
	GET DIAGNOSTICS n_events = ROW_COUNT;
	DELETE FROM privacy._ledger_state s WHERE s.kind = $1 AND s.subject IN (key, ref);
	INSERT INTO privacy._ledger_state (kind, purpose, subject, status, event_id)
	SELECT cs.kind, cs.purpose, cs.subject, cs.status, cs.event_id
	  FROM privacy.consent_state cs
	 WHERE cs.kind = $1 AND cs.subject = ref;
	GET DIAGNOSTICS n_state = ROW_COUNT;
	RETURN pg_catalog.jsonb_build_object('consent_ledger', n_events, 'ledger_state', n_state);
END
$$;
REVOKE ALL ON FUNCTION privacy._forget_subject_in_ledgers(text, text) FROM PUBLIC;
COMMENT ON FUNCTION privacy._forget_subject_in_ledgers(text, text) IS
'After erasure: replaces an erased subject''s key by its reference in the ledgers; returns the counts of events and state rows changed';

------------------------------------------------------------------------------
-- Unsubscribe tokens
------------------------------------------------------------------------------

CREATE FUNCTION privacy._sign_unsubscribe_token(kind text, subject text, purpose text)
RETURNS text
AS 'MODULE_PATHNAME', 'privacy_sign_unsubscribe_token'
LANGUAGE C STRICT STABLE PARALLEL SAFE;
REVOKE ALL ON FUNCTION privacy._sign_unsubscribe_token(text, text, text) FROM PUBLIC;
COMMENT ON FUNCTION privacy._sign_unsubscribe_token(text, text, text) IS
'The signed, URL-safe token naming a subject and a purpose (no checks: see privacy.unsubscribe_token)';

CREATE FUNCTION privacy._verify_unsubscribe_token(token text, OUT kind text, OUT subject text, OUT purpose text)
RETURNS record
AS 'MODULE_PATHNAME', 'privacy_verify_unsubscribe_token'
LANGUAGE C STRICT STABLE PARALLEL SAFE;
REVOKE ALL ON FUNCTION privacy._verify_unsubscribe_token(text) FROM PUBLIC;
COMMENT ON FUNCTION privacy._verify_unsubscribe_token(text) IS
'What an unsubscribe token names, if its signature is valid; an error otherwise';

CREATE FUNCTION privacy.unsubscribe_token(kind text, subject text, purpose text)
RETURNS text
LANGUAGE plpgsql STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	key text := privacy._canonical_subject(kind, subject, true);
	p privacy.purposes := privacy._require_purpose(purpose, ARRAY['consent'], 'make an unsubscribe token for');
BEGIN
	RETURN privacy._sign_unsubscribe_token(kind, key, p.name);
END
$$;
REVOKE ALL ON FUNCTION privacy.unsubscribe_token(text, text, text) FROM PUBLIC;
COMMENT ON FUNCTION privacy.unsubscribe_token(text, text, text) IS
'A signed, URL-safe token with which the subject withdraws consent to a purpose through privacy.unsubscribe()';

CREATE FUNCTION privacy.unsubscribe(token text)
RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	claim record;
BEGIN
	IF token IS NULL THEN
		RAISE EXCEPTION 'unsubscribe token must not be null'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	SELECT * INTO STRICT claim FROM privacy._verify_unsubscribe_token(token);
	PERFORM privacy._record('consent.withdraw', claim.kind, claim.subject, claim.purpose, 'direct',
							pg_catalog.jsonb_build_object('via', 'unsubscribe_token'));
	RETURN pg_catalog.jsonb_build_object('kind', claim.kind, 'purpose', claim.purpose, 'withdrawn', true);
END
$$;
REVOKE ALL ON FUNCTION privacy.unsubscribe(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION privacy.unsubscribe(text) TO PUBLIC;
COMMENT ON FUNCTION privacy.unsubscribe(text) IS
'Withdraws the consent an unsubscribe token names; needs no other privilege; a forged or altered token is an error and changes nothing';

------------------------------------------------------------------------------
-- Consent-aware row policies
------------------------------------------------------------------------------

-- owned is false for a row that belongs to no subject of the kind (its
-- foreign key on the path is NULL): it may be processed for any declared
-- purpose. A NULL subject of an owned row (its parent is hidden) may not.
-- PARALLEL RESTRICTED: the check runs where its per-backend cache is warm
-- (a parallel worker would start cold on every statement), and where the
-- role that declared the purpose is known.
CREATE FUNCTION privacy._may_process(kind text, subject bigint, owned boolean DEFAULT true)
RETURNS boolean
AS 'MODULE_PATHNAME', 'privacy_may_process_int8'
LANGUAGE C STABLE PARALLEL RESTRICTED COST 1;
CREATE FUNCTION privacy._may_process(kind text, subject text, owned boolean DEFAULT true)
RETURNS boolean
AS 'MODULE_PATHNAME', 'privacy_may_process_text'
LANGUAGE C STABLE PARALLEL RESTRICTED COST 1;
CREATE FUNCTION privacy._may_write(kind text, subject bigint, owned boolean DEFAULT true)
RETURNS boolean
AS 'MODULE_PATHNAME', 'privacy_may_write_int8'
LANGUAGE C STABLE PARALLEL RESTRICTED COST 1;
CREATE FUNCTION privacy._may_write(kind text, subject text, owned boolean DEFAULT true)
RETURNS boolean
AS 'MODULE_PATHNAME', 'privacy_may_write_text'
LANGUAGE C STABLE PARALLEL RESTRICTED COST 1;
-- Row policies run with the querying role's privileges.
REVOKE ALL ON FUNCTION privacy._may_process(text, bigint, boolean), privacy._may_process(text, text, boolean),
	privacy._may_write(text, bigint, boolean), privacy._may_write(text, text, boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION privacy._may_process(text, bigint, boolean), privacy._may_process(text, text, boolean),
	privacy._may_write(text, bigint, boolean), privacy._may_write(text, text, boolean) TO PUBLIC;
COMMENT ON FUNCTION privacy._may_process(text, bigint, boolean) IS
'Row policy check: whether the current purpose may process the data of this subject now (false without a purpose)';
COMMENT ON FUNCTION privacy._may_process(text, text, boolean) IS
'Row policy check: whether the current purpose may process the data of this subject now (false without a purpose)';
COMMENT ON FUNCTION privacy._may_write(text, bigint, boolean) IS
'Row policy write check: true, or an error saying why the current purpose may not process this subject''s data';
COMMENT ON FUNCTION privacy._may_write(text, text, boolean) IS
'Row policy write check: true, or an error saying why the current purpose may not process this subject''s data';

CREATE TABLE privacy.protected_tables (
	table_name regclass PRIMARY KEY,
	kinds text[] NOT NULL,
	base_policy boolean NOT NULL,
	had_row_security boolean NOT NULL,
	had_force_row_security boolean NOT NULL,
	protected_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
	protected_by name NOT NULL
);
REVOKE ALL ON privacy.protected_tables FROM PUBLIC;
GRANT SELECT ON privacy.protected_tables TO PUBLIC;
COMMENT ON TABLE privacy.protected_tables IS
'Tables protected by privacy.protect(), the subject kinds their policies check, and the row-security settings to restore on unprotect';
SELECT pg_catalog.pg_extension_config_dump('privacy.protected_tables', '');

-- The row policy expression of rel: for each subject kind that reaches it,
-- the check on the row's subject key. A row whose first foreign key on the
-- path is NULL belongs to no subject of that kind (owned is false); a row
-- whose parent the querying role cannot see has a NULL key and is hidden.
CREATE FUNCTION privacy._protection_expr(rel regclass, kinds text[], check_fn text)
RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	k privacy.subject_kinds;
	relname name;
	alias text;
	hops oid[];
	hop privacy.foreign_keys;
	key_type regtype;
	guard text;
	terms text[] := '{}';
BEGIN
	SELECT c.relname INTO STRICT relname FROM pg_catalog.pg_class c WHERE c.oid = rel;
	alias := pg_catalog.quote_ident(relname);
	FOR k IN SELECT * FROM privacy.subject_kinds sk WHERE sk.name = ANY (kinds) ORDER BY sk.name LOOP
		hops := privacy._subject_path(k.name, rel);
		SELECT a.atttypid::regtype INTO STRICT key_type
		  FROM pg_catalog.pg_attribute a
		 WHERE a.attrelid = k.table_name AND a.attname = k.key_column AND NOT a.attisdropped;
		guard := NULL;
		IF pg_catalog.cardinality(hops) > 0 THEN
			SELECT * INTO STRICT hop FROM privacy.foreign_keys f WHERE f.constraint_oid = hops[1];
			SELECT pg_catalog.string_agg(pg_catalog.format('%s.%I IS NULL', alias, c), ' OR ')
			  INTO guard FROM pg_catalog.unnest(hop.from_columns) c;
		END IF;
		terms := terms || pg_catalog.format('%s(%L, (%s)::%s%s)',
			check_fn, k.name, privacy._subject_key_sql(k.name, rel, relname),
			CASE WHEN key_type IN ('smallint'::regtype, 'integer'::regtype, 'bigint'::regtype)
				 THEN 'bigint' ELSE 'text' END,
			CASE WHEN guard IS NOT NULL THEN ', NOT (' || guard || ')' ELSE '' END);
	END LOOP;
	RETURN pg_catalog.array_to_string(terms, ' AND ');
END
$$;
REVOKE ALL ON FUNCTION privacy._protection_expr(regclass, text[], text) FROM PUBLIC;
COMMENT ON FUNCTION privacy._protection_expr(regclass, text[], text) IS
'The row policy expression checking every subject kind that reaches a table';

-- Trigger on protected tables: audits a rectification (an UPDATE that
-- changes a row) with the names of the changed columns, never their values.
-- Arguments: pairs of subject kind and the SQL yielding the row's key.
CREATE FUNCTION privacy._audit_rectification()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	changed text[];
	subject text;
	i integer;
BEGIN
	SELECT pg_catalog.array_agg(n.key ORDER BY n.key) INTO changed
	  FROM pg_catalog.jsonb_each(pg_catalog.to_jsonb(NEW)) n
	 WHERE n.value IS DISTINCT FROM (pg_catalog.to_jsonb(OLD) OPERATOR(pg_catalog.->) n.key);
	IF changed IS NULL THEN
		RETURN NULL;
	END IF;
	FOR i IN 0 .. TG_NARGS / 2 - 1 LOOP
		EXECUTE pg_catalog.format('SELECT (%s)::text FROM (SELECT ($1).*) AS %I', TG_ARGV[2 * i + 1], TG_TABLE_NAME)
		   INTO subject USING NEW;
		PERFORM privacy._record_rectification(TG_RELID, TG_ARGV[2 * i], subject, changed);
	END LOOP;
	RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION privacy._audit_rectification() FROM PUBLIC;
COMMENT ON FUNCTION privacy._audit_rectification() IS
'Trigger on protected tables: records each rectification in the audit log, naming the changed columns but not their values';

CREATE FUNCTION privacy._record_rectification(rel regclass, kind text, subject text, columns text[])
RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF pg_catalog.pg_trigger_depth() < 1
	   OR NOT EXISTS (SELECT FROM privacy.protected_tables pt WHERE pt.table_name = rel AND kind = ANY (pt.kinds))
	   OR NOT pg_catalog.has_any_column_privilege(privacy._acting_role(), rel, 'UPDATE') THEN
		RAISE EXCEPTION 'privacy._record_rectification() may only be called by the rectification trigger of a protected table'
			USING ERRCODE = 'insufficient_privilege';
	END IF;
	PERFORM privacy._audit(privacy._acting_role(), 'rectification', kind, subject, NULL,
						   pg_catalog.jsonb_build_object('table', privacy._qualified_name(rel),
														 'columns', pg_catalog.to_jsonb(columns)));
END
$$;
REVOKE ALL ON FUNCTION privacy._record_rectification(regclass, text, text, text[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION privacy._record_rectification(regclass, text, text, text[]) TO PUBLIC;
COMMENT ON FUNCTION privacy._record_rectification(regclass, text, text, text[]) IS
'Writes the audit entry of a rectification (called by the trigger privacy.protect() puts on a table)';

CREATE FUNCTION privacy.protect("table" regclass)
RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	rel regclass := "table";
	cls pg_catalog.pg_class;
	qname text;
	kinds text[];
	using_expr text;
	check_expr text;
	trigger_args text := '';
	k text;
BEGIN
	IF rel IS NULL THEN
		RAISE EXCEPTION 'table must not be null' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	SELECT * INTO STRICT cls FROM pg_catalog.pg_class c WHERE c.oid = rel;
	qname := privacy._qualified_name(rel);
	IF cls.relkind NOT IN ('r', 'p') THEN
		RAISE EXCEPTION 'cannot protect % because it is not a table', qname
			USING ERRCODE = 'wrong_object_type';
	END IF;
	IF NOT pg_catalog.pg_has_role(privacy._acting_role(), cls.relowner, 'USAGE') THEN
		RAISE EXCEPTION 'must be owner of table %', qname
			USING ERRCODE = 'insufficient_privilege';
	END IF;
	IF EXISTS (SELECT FROM privacy.protected_tables pt WHERE pt.table_name = rel) THEN
		RAISE EXCEPTION 'table % is already protected', qname
			USING ERRCODE = 'duplicate_object',
				  HINT = 'To rebuild its policies after the policy document changed, run privacy.unprotect() and then privacy.protect().';
	END IF;
	IF NOT EXISTS (SELECT FROM privacy.classified_columns cc WHERE cc.table_name = rel) THEN
		RAISE EXCEPTION 'table % holds no personal data', qname
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Classify its personal columns in the policy document or with SECURITY LABEL FOR privacy first.';
	END IF;
	SELECT pg_catalog.array_agg(sp.kind ORDER BY sp.kind) INTO kinds
	  FROM privacy._subject_paths() sp WHERE sp.table_name = rel;
	IF kinds IS NULL THEN
		RAISE EXCEPTION 'table % does not reach any subject kind', qname
			USING ERRCODE = 'invalid_foreign_key',
				  HINT = 'Only tables that reference a subject kind''s anchor table through foreign keys can be protected; see privacy.subject_map.';
	END IF;

	using_expr := privacy._protection_expr(rel, kinds, 'privacy._may_process');
	check_expr := privacy._protection_expr(rel, kinds, 'privacy._may_write');
	FOREACH k IN ARRAY kinds LOOP
		trigger_args := trigger_args || pg_catalog.format('%s%L, %L', CASE WHEN trigger_args = '' THEN '' ELSE ', ' END,
			k, privacy._subject_key_sql(k, rel, cls.relname));
	END LOOP;

	EXECUTE pg_catalog.format('CREATE POLICY privacy_purpose ON %s AS RESTRICTIVE FOR ALL TO PUBLIC USING (%s) WITH CHECK (%s)',
							  qname, using_expr, check_expr);
	IF NOT cls.relrowsecurity THEN
		EXECUTE pg_catalog.format('CREATE POLICY privacy_rows ON %s AS PERMISSIVE FOR ALL TO PUBLIC USING (true) WITH CHECK (true)', qname);
	END IF;
	EXECUTE pg_catalog.format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY', qname);
	EXECUTE pg_catalog.format('CREATE TRIGGER privacy_rectification AFTER UPDATE ON %s FOR EACH ROW EXECUTE FUNCTION privacy._audit_rectification(%s)',
							  qname, trigger_args);
	INSERT INTO privacy.protected_tables (table_name, kinds, base_policy, had_row_security,
										  had_force_row_security, protected_by)
	VALUES (rel, kinds, NOT cls.relrowsecurity, cls.relrowsecurity, cls.relforcerowsecurity,
			privacy._acting_role());
	PERFORM privacy._audit(privacy._acting_role(), 'protect', NULL, NULL, NULL,
						   pg_catalog.jsonb_build_object('table', qname, 'kinds', pg_catalog.to_jsonb(kinds)));
END
$$;
REVOKE ALL ON FUNCTION privacy.protect(regclass) FROM PUBLIC;
COMMENT ON FUNCTION privacy.protect(regclass) IS
'Enables and forces row-level security on a table holding personal data, so that each purpose sees and writes only the rows of subjects it may lawfully process; audits rectifications';

CREATE FUNCTION privacy.unprotect("table" regclass)
RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	rel regclass := "table";
	pt privacy.protected_tables;
	cls pg_catalog.pg_class;
	qname text;
BEGIN
	IF "table" IS NULL THEN
		RAISE EXCEPTION 'table must not be null' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	SELECT * INTO pt FROM privacy.protected_tables p WHERE p.table_name = rel;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'table % is not protected', rel
			USING ERRCODE = 'undefined_object',
				  HINT = 'privacy.protected_tables lists the protected tables.';
	END IF;
	SELECT * INTO STRICT cls FROM pg_catalog.pg_class c WHERE c.oid = rel;
	qname := privacy._qualified_name(rel);
	IF NOT pg_catalog.pg_has_role(privacy._acting_role(), cls.relowner, 'USAGE') THEN
		RAISE EXCEPTION 'must be owner of table %', qname
			USING ERRCODE = 'insufficient_privilege';
	END IF;
	EXECUTE pg_catalog.format('DROP TRIGGER IF EXISTS privacy_rectification ON %s', qname);
	EXECUTE pg_catalog.format('DROP POLICY IF EXISTS privacy_purpose ON %s', qname);
	IF pt.base_policy THEN
		EXECUTE pg_catalog.format('DROP POLICY IF EXISTS privacy_rows ON %s', qname);
	END IF;
	EXECUTE pg_catalog.format('ALTER TABLE %s %s ROW LEVEL SECURITY, %s ROW LEVEL SECURITY', qname,
							  CASE WHEN pt.had_row_security THEN 'ENABLE' ELSE 'DISABLE' END,
							  CASE WHEN pt.had_force_row_security THEN 'FORCE' ELSE 'NO FORCE' END);
	DELETE FROM privacy.protected_tables p WHERE p.table_name = rel;
	PERFORM privacy._audit(privacy._acting_role(), 'unprotect', NULL, NULL, NULL,
						   pg_catalog.jsonb_build_object('table', qname));
END
$$;
REVOKE ALL ON FUNCTION privacy.unprotect(regclass) FROM PUBLIC;
COMMENT ON FUNCTION privacy.unprotect(regclass) IS
'Removes what privacy.protect() added to a table and restores its earlier row-security settings';

------------------------------------------------------------------------------
-- lint
------------------------------------------------------------------------------

CREATE FUNCTION privacy._lint_protection()
RETURNS TABLE (severity text, object text, problem text, hint text)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT DISTINCT 'warning', privacy._qualified_name(cc.table_name),
		   'holds personal data but is not protected by purpose-aware row policies',
		   pg_catalog.format('Every query sees its rows whatever its purpose, consent or restriction: SELECT privacy.protect(%L);',
							 privacy._qualified_name(cc.table_name))
	  FROM privacy.classified_columns cc
	 WHERE NOT EXISTS (SELECT FROM privacy.protected_tables pt WHERE pt.table_name = cc.table_name)
	UNION ALL
	SELECT 'error', privacy._qualified_name(pt.table_name),
		   'is registered as protected, but its row security or its policy "privacy_purpose" was removed',
		   pg_catalog.format('Restore the protection: SELECT privacy.unprotect(%1$L); SELECT privacy.protect(%1$L);',
							 privacy._qualified_name(pt.table_name))
	  FROM privacy.protected_tables pt
	  JOIN pg_catalog.pg_class c ON c.oid = pt.table_name
	 WHERE NOT (c.relrowsecurity AND c.relforcerowsecurity
				AND EXISTS (SELECT FROM pg_catalog.pg_policy pol
							 WHERE pol.polrelid = c.oid AND pol.polname = 'privacy_purpose'));
END;
REVOKE ALL ON FUNCTION privacy._lint_protection() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION privacy._lint_protection() TO PUBLIC;
COMMENT ON FUNCTION privacy._lint_protection() IS
'lint: tables holding personal data without purpose-aware row policies, and protected tables whose protection was removed';
