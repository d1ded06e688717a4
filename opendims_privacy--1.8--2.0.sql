/*
 * opendims_privacy 1.8 -> 2.0: what changed in the catalog between the two
 * releases (CHANGELOG.md, 2.0). The upgrade test builds 1.8 from its commit,
 * runs this script and compares the result with a fresh install of 2.0.
 */

\echo Use "ALTER EXTENSION opendims_privacy UPDATE TO '2.0'" to load this file. \quit

-- Names resolve in pg_catalog only while this script runs (see the install
-- script); ALTER EXTENSION restores the caller's search_path afterwards.
SELECT pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', true);

-- 2.0 no longer requires pgcrypto (the control file says so; ALTER
-- EXTENSION drops the dependency). pgcrypto itself stays installed.

-- The functions only the extension calls (names starting with "_") move to
-- the schema privacy_internal, so that privacy holds the product's surface.
-- Row policies, triggers, defaults and SQL-standard function bodies refer to
-- them by OID and follow; bodies written as text (PL/pgSQL, and SQL given as
-- a string) are recreated with the new qualified names.
CREATE SCHEMA privacy_internal;
COMMENT ON SCHEMA privacy_internal IS 'Internal functions of opendims_privacy: called by the extension, its row policies and its triggers, not by applications';
REVOKE ALL ON SCHEMA privacy_internal FROM PUBLIC;
GRANT USAGE ON SCHEMA privacy_internal TO PUBLIC;

-- The extension's event triggers would call functions half-way through
-- their move: they are off until it is done.
ALTER EVENT TRIGGER privacy_forget_subject_plans DISABLE;
ALTER EVENT TRIGGER privacy_forget_subject_plans_on_drop DISABLE;
ALTER EVENT TRIGGER privacy_protect_new_children DISABLE;

DO $$
DECLARE
	f record;
	moved text[];
	pattern text;
	def text;
BEGIN
	SELECT pg_catalog.array_agg(DISTINCT p.proname::text) INTO moved
	  FROM pg_catalog.pg_proc p
	  JOIN pg_catalog.pg_depend d ON d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_proc'::pg_catalog.regclass
		   AND d.objid OPERATOR(pg_catalog.=) p.oid AND d.deptype OPERATOR(pg_catalog.=) 'e'
	  JOIN pg_catalog.pg_extension e ON e.oid OPERATOR(pg_catalog.=) d.refobjid
		   AND e.extname OPERATOR(pg_catalog.=) 'opendims_privacy'
	 WHERE p.pronamespace OPERATOR(pg_catalog.=) 'privacy'::pg_catalog.regnamespace
	   AND p.proname OPERATOR(pg_catalog.~~) '\_%';
	pattern := '\mprivacy\.(' OPERATOR(pg_catalog.||) pg_catalog.array_to_string(moved, '|')
			   OPERATOR(pg_catalog.||) ')\M';

	FOR f IN SELECT p.oid::pg_catalog.regprocedure AS fn
			   FROM pg_catalog.pg_proc p
			  WHERE p.pronamespace OPERATOR(pg_catalog.=) 'privacy'::pg_catalog.regnamespace
				AND p.proname::text OPERATOR(pg_catalog.=) ANY (moved) LOOP
		EXECUTE pg_catalog.format('ALTER ROUTINE %s SET SCHEMA privacy_internal', f.fn);
	END LOOP;

	-- Bodies kept as text: recreated with the new names (the definition keeps
	-- its attributes, privileges, comment and dependants).
	FOR f IN SELECT p.oid
			   FROM pg_catalog.pg_proc p
			   JOIN pg_catalog.pg_depend d ON d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_proc'::pg_catalog.regclass
					AND d.objid OPERATOR(pg_catalog.=) p.oid AND d.deptype OPERATOR(pg_catalog.=) 'e'
			   JOIN pg_catalog.pg_extension e ON e.oid OPERATOR(pg_catalog.=) d.refobjid
					AND e.extname OPERATOR(pg_catalog.=) 'opendims_privacy'
			  WHERE p.prosqlbody IS NULL
				AND p.prolang OPERATOR(pg_catalog.<>) (SELECT l.oid FROM pg_catalog.pg_language l
														 WHERE l.lanname OPERATOR(pg_catalog.=) 'c')
				AND p.prosrc OPERATOR(pg_catalog.~) pattern LOOP
		def := pg_catalog.regexp_replace(pg_catalog.pg_get_functiondef(f.oid), pattern, 'privacy_internal.\1', 'g');
		EXECUTE def;
	END LOOP;

END
$$;

ALTER EVENT TRIGGER privacy_forget_subject_plans ENABLE;
ALTER EVENT TRIGGER privacy_forget_subject_plans_on_drop ENABLE;
ALTER EVENT TRIGGER privacy_protect_new_children ENABLE;

-- Comments that name a moved function.
COMMENT ON FUNCTION privacy_internal._run_lint_checks() IS 'The findings of every privacy_internal._lint_* check function';
COMMENT ON FUNCTION privacy_internal._retention_run_rule_status(run_id bigint, rule_name text, rule_status text) IS 'Sets the state of one rule in a retention run (running, done, held, time_budget; locked is set by privacy_internal._retention_run_rule_locked)';
COMMENT ON TABLE privacy._subject_locks IS 'Keys of the subjects locked by transactions in progress (privacy_internal._lock_subject); empty between transactions';

-- Two functions that told the extension's functions apart by their schema.
CREATE OR REPLACE FUNCTION privacy_internal._run_lint_checks() RETURNS TABLE(severity text, object text, problem text, hint text)
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
	check_fn regprocedure;
BEGIN
	FOR check_fn IN
		SELECT p.oid::regprocedure
		  FROM pg_catalog.pg_proc p
		 WHERE p.pronamespace = 'privacy_internal'::pg_catalog.regnamespace
		   AND p.proname LIKE '\_lint\_%' AND p.pronargs = 0
		   AND pg_catalog.has_function_privilege(p.oid, 'EXECUTE')
		 ORDER BY p.proname
	LOOP
		RETURN QUERY EXECUTE pg_catalog.format('SELECT * FROM %s', check_fn);
	END LOOP;
END
$$;

CREATE OR REPLACE FUNCTION privacy_internal._lint_row_keepers()
RETURNS TABLE (severity text, object text, problem text, hint text)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT 'warning', privacy_internal._qualified_name(x.table_name),
		   pg_catalog.format('%s can keep rows that erasure or the retention job delete or anonymise: both then fail on this table', x.what),
		   'Let erasure and retention pass (a BEFORE trigger must return the row it was given, unchanged in the personal columns), or drop it.'
	  FROM (SELECT DISTINCT c.oid::regclass AS table_name,
				   pg_catalog.format('trigger "%s" (BEFORE %s FOR EACH ROW%s)', tg.tgname,
						pg_catalog.concat_ws(' OR ', CASE WHEN tg.tgtype::integer OPERATOR(pg_catalog.&) 8 OPERATOR(pg_catalog.<>) 0 THEN 'DELETE' END,
												  CASE WHEN tg.tgtype::integer OPERATOR(pg_catalog.&) 16 OPERATOR(pg_catalog.<>) 0 THEN 'UPDATE' END),
						CASE WHEN tg.tgrelid OPERATOR(pg_catalog.<>) c.oid
							 THEN pg_catalog.format(' on %s', privacy_internal._qualified_name(tg.tgrelid)) ELSE '' END) AS what
			  FROM pg_catalog.pg_class c
			  JOIN pg_catalog.pg_trigger tg
				ON tg.tgrelid OPERATOR(pg_catalog.=) c.oid
				OR tg.tgrelid OPERATOR(pg_catalog.=) ANY (ARRAY(SELECT pt.relid FROM pg_catalog.pg_partition_tree(c.oid) pt))
			  JOIN pg_catalog.pg_proc p ON p.oid OPERATOR(pg_catalog.=) tg.tgfoid
			 WHERE c.oid OPERATOR(pg_catalog.=) ANY (ARRAY(SELECT DISTINCT m.table_name::pg_catalog.oid FROM privacy.subject_map m))
			   AND NOT tg.tgisinternal AND tg.tgenabled OPERATOR(pg_catalog.<>) 'D'
			   AND tg.tgtype::integer OPERATOR(pg_catalog.&) 3 OPERATOR(pg_catalog.=) 3
			   AND tg.tgtype::integer OPERATOR(pg_catalog.&) 24 OPERATOR(pg_catalog.<>) 0
			   AND p.pronamespace OPERATOR(pg_catalog.<>) ALL (ARRAY['privacy'::pg_catalog.regnamespace,
																	 'privacy_internal'::pg_catalog.regnamespace]::pg_catalog.oid[])
			UNION
			SELECT DISTINCT c.oid::regclass,
				   pg_catalog.format('rule "%s" (ON %s)', r.rulename, CASE WHEN r.ev_type OPERATOR(pg_catalog.=) '4' THEN 'DELETE' ELSE 'UPDATE' END)
			  FROM pg_catalog.pg_class c
			  JOIN pg_catalog.pg_rewrite r ON r.ev_class OPERATOR(pg_catalog.=) c.oid
			 WHERE c.oid OPERATOR(pg_catalog.=) ANY (ARRAY(SELECT DISTINCT m.table_name::pg_catalog.oid FROM privacy.subject_map m))
			   AND r.ev_type OPERATOR(pg_catalog.=) ANY ('{2,4}'::pg_catalog."char"[]) AND r.ev_enabled OPERATOR(pg_catalog.<>) 'D') x
	 ORDER BY 2, 3;
END;

-- The subject (kind and key resolution, canonical key and reference,
-- foreign-key paths and the statements generated from them) is owned by
-- one C module with a backend-local cache, kept current by relcache and
-- syscache invalidations (src/subject/); export and erasure run on it in C
-- (src/rights/). The cache tables, the event triggers that emptied them on
-- every DDL command and the PL/pgSQL helpers that generated and ran the
-- statements go.

-- What invalidates the cache: a statement trigger on each table of the
-- extension that kinds are built from (subject_kinds and purposes have the
-- consent cache's, which invalidates the same relcache entry).
CREATE FUNCTION privacy_internal._invalidate_subject_cache()
RETURNS trigger
LANGUAGE c
AS 'MODULE_PATHNAME', 'privacy_invalidate_subject_cache';
REVOKE ALL ON FUNCTION privacy_internal._invalidate_subject_cache() FROM PUBLIC;
COMMENT ON FUNCTION privacy_internal._invalidate_subject_cache() IS
	'Statement trigger: a change of a table subject kinds are built from invalidates every session''s subject cache';

CREATE TRIGGER invalidate_subject_cache AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON privacy.subject_paths
	FOR EACH STATEMENT EXECUTE FUNCTION privacy_internal._invalidate_subject_cache();
CREATE TRIGGER invalidate_subject_cache AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON privacy.classifications
	FOR EACH STATEMENT EXECUTE FUNCTION privacy_internal._invalidate_subject_cache();
CREATE TRIGGER invalidate_subject_cache AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON privacy.categories
	FOR EACH STATEMENT EXECUTE FUNCTION privacy_internal._invalidate_subject_cache();
CREATE TRIGGER invalidate_subject_cache AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON privacy.sources
	FOR EACH STATEMENT EXECUTE FUNCTION privacy_internal._invalidate_subject_cache();
CREATE TRIGGER invalidate_subject_cache AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON privacy.retention_rules
	FOR EACH STATEMENT EXECUTE FUNCTION privacy_internal._invalidate_subject_cache();
CREATE TRIGGER invalidate_subject_cache AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON privacy.recipients
	FOR EACH STATEMENT EXECUTE FUNCTION privacy_internal._invalidate_subject_cache();
CREATE TRIGGER invalidate_subject_cache AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON privacy.policy_versions
	FOR EACH STATEMENT EXECUTE FUNCTION privacy_internal._invalidate_subject_cache();
CREATE TRIGGER invalidate_subject_cache AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON privacy._type_categories
	FOR EACH STATEMENT EXECUTE FUNCTION privacy_internal._invalidate_subject_cache();

-- The cache tables and what filled and emptied them.
DROP EVENT TRIGGER privacy_forget_subject_plans;
DROP EVENT TRIGGER privacy_forget_subject_plans_on_drop;
DROP TRIGGER forget_subject_plans ON privacy.policy_versions;
DROP FUNCTION privacy_internal._forget_subject_plans();
DROP FUNCTION privacy_internal._forget_subject_plans_on_policy();
DROP FUNCTION privacy_internal._forget_subject_caches();
DROP FUNCTION privacy_internal._erase_table(text, text, privacy._subject_plans);
DROP FUNCTION privacy_internal._subject_plan(text);
DROP FUNCTION privacy_internal._fill_subject_plans(text);
DROP TABLE privacy._subject_plans;
DROP TABLE privacy._export_statements;

-- The generators of the statements, now in C.
DROP FUNCTION privacy_internal._export_sql(text);
DROP FUNCTION privacy_internal._export_section_sql(text);
DROP FUNCTION privacy_internal._export_entry_sql(bigint, bigint[], jsonb);
DROP TYPE privacy._export_result;
DROP FUNCTION privacy_internal._subject_key(text, text);
DROP FUNCTION privacy_internal._subject_exists_sql(regclass, name, text, boolean);
DROP FUNCTION privacy_internal._subject_erase_sql(text, regclass);
DROP FUNCTION privacy_internal._delete_unreferenced_sql(regclass);
DROP FUNCTION privacy_internal._unreferenced_condition(regclass, text);
DROP FUNCTION privacy_internal._anonymized_value_sql(regclass, name, text);
DROP FUNCTION privacy_internal._statistics_check_sql(text, regclass);
DROP FUNCTION privacy_internal._statistics_gone_values(regclass, jsonb, jsonb);

-- Kind and key resolution.
CREATE OR REPLACE FUNCTION privacy_internal._canonical_subject(kind text, subject text, must_exist boolean)
RETURNS text
LANGUAGE c STABLE
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'privacy_canonical_subject';

CREATE OR REPLACE FUNCTION privacy_internal._subject_exists(kind text, subject text, lock_it boolean)
RETURNS boolean
LANGUAGE c
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'privacy_subject_exists';

-- What the cache holds for a kind, to look at.
CREATE FUNCTION privacy_internal._subject_plan(kind text)
RETURNS TABLE (kind text, table_name regclass, depth integer, personal boolean, hops oid[],
			   rows_sql text, erase_sql text, lock_sql text, delete_sql text, statistics_sql text,
			   build bigint)
LANGUAGE c
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'privacy_subject_plan';
REVOKE ALL ON FUNCTION privacy_internal._subject_plan(text) FROM PUBLIC;
COMMENT ON FUNCTION privacy_internal._subject_plan(text) IS
	'Every table a subject kind reaches, with the statements that read and erase one subject''s rows, as this session''s subject cache holds them (build numbers the kinds the session has read from the catalog)';

CREATE OR REPLACE FUNCTION privacy_internal._export_statement(kind text)
RETURNS text
LANGUAGE c
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'privacy_export_statement';
COMMENT ON FUNCTION privacy_internal._export_statement(text) IS
	'The statement the export of a subject kind runs as the extension''s owner (the subject''s existence, reference and consent history), as this session''s subject cache holds it; an unknown kind is an error';

-- Export and erasure.
CREATE OR REPLACE FUNCTION privacy_internal._export_subject(kind text, subject text, request_id bigint)
RETURNS jsonb
LANGUAGE c
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'privacy_export_subject_for_request';

CREATE OR REPLACE FUNCTION privacy.export_subject(kind text, subject text)
RETURNS jsonb
LANGUAGE c SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'privacy_export_subject';

CREATE OR REPLACE FUNCTION privacy_internal._forget_subject_in_ledgers(kind text, subject text)
RETURNS jsonb
LANGUAGE c SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'privacy_forget_subject_in_ledgers';

CREATE OR REPLACE FUNCTION privacy_internal._erase_subject(kind text, subject text, reason text, request_id bigint)
RETURNS jsonb
LANGUAGE c
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'privacy_erase_subject_for_request';

CREATE OR REPLACE FUNCTION privacy.erase_subject(kind text, subject text, reason text)
RETURNS jsonb
LANGUAGE c SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'privacy_erase_subject';

-- Audit entries are written without a global lock and sealed into the hash
-- chain after commit (docs/audit.md): the unsealed entries, their sealer,
-- the backlog view, and verify_audit_log() reporting the unsealed tail.
CREATE FUNCTION privacy_internal._audit_entry_text(id bigint, logged_at timestamptz,
										  actor name, session_role name, action text,
										  subject_ref text, request_id bigint, summary jsonb)
RETURNS bytea
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT pg_catalog.convert_to(pg_catalog.concat_ws(E'\x1f',
			id::text,
			pg_catalog.to_char(logged_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
			actor::text, session_role::text, action,
			COALESCE(subject_ref, ''),
			COALESCE(request_id::text, ''),
			summary::text), 'UTF8');
END;

COMMENT ON FUNCTION privacy_internal._audit_entry_text(id bigint, logged_at timestamp with time zone, actor name, session_role name, action text, subject_ref text, request_id bigint, summary jsonb) IS 'The canonical text of one audit log entry, which its hash covers';
REVOKE ALL ON FUNCTION privacy_internal._audit_entry_text(id bigint, logged_at timestamp with time zone, actor name, session_role name, action text, subject_ref text, request_id bigint, summary jsonb) FROM PUBLIC;
CREATE OR REPLACE FUNCTION privacy_internal._audit_entry_hash(prev_hash bytea, id bigint, logged_at timestamptz,
										  actor name, session_role name, action text,
										  subject_ref text, request_id bigint, summary jsonb)
RETURNS bytea
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT pg_catalog.sha256(prev_hash OPERATOR(pg_catalog.||)
			privacy_internal._audit_entry_text(id, logged_at, actor, session_role, action,
											   subject_ref, request_id, summary));
END;

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

DROP FUNCTION privacy.verify_audit_log(OUT intact boolean, OUT entries bigint, OUT first_broken_id bigint, OUT problem text);
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

CREATE OR REPLACE FUNCTION privacy.verify_evidence() RETURNS TABLE(evidence text, id bigint, problem text)
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
COMMENT ON TABLE privacy._audit_head IS 'The hash of the newest sealed audit log entry, which the next entry sealed chains to';
COMMENT ON FUNCTION privacy_internal._audit(actor name, action text, kind text, subject text, request_id bigint, summary jsonb) IS 'Writes one audit log entry, written to the unsealed entries when the transaction commits and sealed into the hash chain after; returns NULL (the entry''s id is assigned when it is sealed)';
COMMENT ON FUNCTION privacy_internal._audit_append(logged_at timestamp with time zone, actor name, session_role name, action text, subject_ref text, request_id bigint, summary jsonb) IS 'Queues one audit log entry of the current transaction; the entries are written to privacy._audit_unsealed when the transaction commits';
CREATE TABLE privacy._audit_unsealed (
    id bigint GENERATED BY DEFAULT AS IDENTITY,
    logged_at timestamp with time zone NOT NULL,
    actor name NOT NULL,
    session_role name NOT NULL,
    action text NOT NULL,
    subject_ref text,
    request_id bigint,
    summary jsonb NOT NULL,
    subject_refs text[],
    CONSTRAINT _audit_unsealed_pkey PRIMARY KEY (id),
    CONSTRAINT _audit_unsealed_one_subject_check CHECK (subject_ref IS NULL OR subject_refs IS NULL)
);

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

-- The rectification trigger is one statement trigger per protected table,
-- in C, reading the statement's rows from its transition tables.
CREATE OR REPLACE FUNCTION privacy_internal._audit_rectification() RETURNS trigger
    LANGUAGE c
    AS 'MODULE_PATHNAME', 'privacy_audit_rectification';

COMMENT ON FUNCTION privacy_internal._audit_rectification() IS 'Statement trigger installed by privacy.protect(): records each rectified row in the audit log, naming its subject and the changed columns but not their values, in one set-based write per UPDATE; refuses to run as any other trigger';

CREATE OR REPLACE FUNCTION privacy_internal._install_protection(rel regclass, kinds text[], path_only boolean) RETURNS void
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
	cls pg_catalog.pg_class;
	qname text := privacy_internal._qualified_name(rel);
	trigger_args text := '';
	k text;
BEGIN
	SELECT * INTO STRICT cls FROM pg_catalog.pg_class c WHERE c.oid OPERATOR(pg_catalog.=) rel;
	EXECUTE pg_catalog.format('CREATE POLICY privacy_purpose ON %s AS RESTRICTIVE FOR ALL TO PUBLIC USING (%s) WITH CHECK (%s)',
							  qname, privacy_internal._protection_expr(rel, kinds, 'privacy_internal._may_process'),
							  privacy_internal._protection_expr(rel, kinds, 'privacy_internal._may_write'));
	IF NOT cls.relrowsecurity THEN
		EXECUTE pg_catalog.format('CREATE POLICY privacy_rows ON %s AS PERMISSIVE FOR ALL TO PUBLIC USING (true) WITH CHECK (true)', qname);
	END IF;
	EXECUTE pg_catalog.format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY', qname);
	IF EXISTS (SELECT FROM privacy.classified_columns cc WHERE cc.table_name OPERATOR(pg_catalog.=) rel) THEN
		FOREACH k IN ARRAY kinds LOOP
			trigger_args := trigger_args OPERATOR(pg_catalog.||)
				pg_catalog.format('%s%L, %L', CASE WHEN trigger_args OPERATOR(pg_catalog.=) '' THEN '' ELSE ', ' END,
								  k, privacy_internal._subject_key_sql(k, rel, cls.relname));
		END LOOP;
		EXECUTE pg_catalog.format('CREATE TRIGGER privacy_rectification AFTER UPDATE ON %s REFERENCING OLD TABLE AS privacy_old NEW TABLE AS privacy_new FOR EACH STATEMENT EXECUTE FUNCTION privacy_internal._audit_rectification(%s)',
								  qname, trigger_args);
	END IF;
	INSERT INTO privacy.protected_tables (table_name, kinds, base_policy, had_row_security,
										  had_force_row_security, protected_by, path_only)
	VALUES (rel, kinds, NOT cls.relrowsecurity, cls.relrowsecurity, cls.relforcerowsecurity,
			privacy_internal._acting_role(), path_only);
END
$$;


CREATE OR REPLACE FUNCTION privacy_internal._lint_installed_protection() RETURNS TABLE(severity text, object text, problem text, hint text)
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $_$
DECLARE
	pt privacy.protected_tables;
	pol pg_catalog.pg_policy;
	qname text;
	same_using boolean;
	same_check boolean;
	tg record;
BEGIN
	FOR pt IN SELECT p.* FROM privacy.protected_tables p
				JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) p.table_name
			   ORDER BY p.table_name::text LOOP
		qname := privacy_internal._qualified_name(pt.table_name);
		severity := 'error';
		object := qname;
		hint := pg_catalog.format('Restore it: SELECT privacy.unprotect(%1$L); SELECT privacy.protect(%1$L);', qname);
		SELECT * INTO pol FROM pg_catalog.pg_policy p
		 WHERE p.polrelid OPERATOR(pg_catalog.=) pt.table_name AND p.polname OPERATOR(pg_catalog.=) 'privacy_purpose';
		IF FOUND THEN
			IF pol.polpermissive THEN
				problem := 'policy "privacy_purpose" was made permissive: other policies can now show rows it hides';
				RETURN NEXT;
			END IF;
			IF pol.polcmd OPERATOR(pg_catalog.<>) '*' THEN
				problem := 'policy "privacy_purpose" no longer applies to every command';
				RETURN NEXT;
			END IF;
			IF pol.polroles OPERATOR(pg_catalog.<>) '{0}'::pg_catalog.oid[] THEN
				problem := 'policy "privacy_purpose" no longer applies to every role';
				RETURN NEXT;
			END IF;
			BEGIN
				same_using := privacy_internal._same_policy_expression(pt.table_name, pol.polqual,
					privacy_internal._protection_expr(pt.table_name, pt.kinds, 'privacy_internal._may_process'));
				same_check := privacy_internal._same_policy_expression(pt.table_name, pol.polwithcheck,
					privacy_internal._protection_expr(pt.table_name, pt.kinds, 'privacy_internal._may_write'));
			EXCEPTION WHEN OTHERS THEN
				RETURN QUERY SELECT 'warning'::text, qname,
					'policy "privacy_purpose" cannot be compared with what privacy.protect() installs: ' || SQLERRM,
					'Repair the subject map (see privacy.subject_map), then restore the protection: '
					|| pg_catalog.format('SELECT privacy.unprotect(%1$L); SELECT privacy.protect(%1$L);', qname);
				same_using := true;
				same_check := true;
			END;
			IF NOT COALESCE(same_using, false) THEN
				problem := pg_catalog.format('policy "privacy_purpose" was changed: it shows the rows where %s',
											 COALESCE(pg_catalog.pg_get_expr(pol.polqual, pol.polrelid), 'true'));
				RETURN NEXT;
			END IF;
			IF NOT COALESCE(same_check, false) THEN
				problem := pg_catalog.format('policy "privacy_purpose" was changed: it accepts the rows written where %s',
											 COALESCE(pg_catalog.pg_get_expr(pol.polwithcheck, pol.polrelid),
													  pg_catalog.pg_get_expr(pol.polqual, pol.polrelid), 'true'));
				RETURN NEXT;
			END IF;
		END IF;
		SELECT t.tgenabled, t.tgtype, t.tgoldtable, t.tgnewtable INTO tg FROM pg_catalog.pg_trigger t
		 WHERE t.tgrelid OPERATOR(pg_catalog.=) pt.table_name
		   AND t.tgname OPERATOR(pg_catalog.=) 'privacy_rectification'
		   AND t.tgfoid OPERATOR(pg_catalog.=) 'privacy_internal._audit_rectification()'::pg_catalog.regprocedure;
		-- protect() installs the trigger only on a table holding personal data
		-- (a table protected for its path alone has none).
		IF NOT FOUND AND EXISTS (SELECT FROM privacy.classified_columns cc
								  WHERE cc.table_name OPERATOR(pg_catalog.=) pt.table_name) THEN
			problem := 'trigger "privacy_rectification" was dropped: rectifications are no longer audited';
			RETURN NEXT;
		ELSIF tg.tgenabled OPERATOR(pg_catalog.=) ANY ('{D,R}'::"char"[]) THEN
			problem := 'trigger "privacy_rectification" is disabled: rectifications are not audited';
			hint := pg_catalog.format('ALTER TABLE %s ENABLE TRIGGER privacy_rectification;', qname);
			RETURN NEXT;
		ELSIF FOUND AND ((tg.tgtype::integer OPERATOR(pg_catalog.&) 1) OPERATOR(pg_catalog.<>) 0
						 OR tg.tgoldtable IS NULL OR tg.tgnewtable IS NULL) THEN
			-- 1 is TRIGGER_TYPE_ROW: the trigger must fire once per statement,
			-- reading the statement's rows from its transition tables.
			problem := 'trigger "privacy_rectification" was changed: it no longer fires once per UPDATE statement with the statement''s old and new rows, so rectifications are not audited';
			hint := pg_catalog.format('SELECT privacy.unprotect(%1$L); SELECT privacy.protect(%1$L);', qname);
			RETURN NEXT;
		END IF;
	END LOOP;

	RETURN QUERY
		SELECT 'error', privacy_internal._qualified_name(t.tgrelid),
			   pg_catalog.format('trigger "%s" is disabled: %s', t.tgname,
								 CASE WHEN t.tgfoid OPERATOR(pg_catalog.=) 'privacy_internal._guard_trigger()'::pg_catalog.regprocedure
									  THEN 'the sensitive-data guard lets CPR and card numbers in'
									  ELSE 'the retention guard no longer keeps rows under their legal minimum' END),
			   pg_catalog.format('ALTER TABLE %s ENABLE TRIGGER %I;', privacy_internal._qualified_name(t.tgrelid), t.tgname)
		  FROM pg_catalog.pg_trigger t
		 WHERE t.tgfoid OPERATOR(pg_catalog.=) ANY (ARRAY['privacy_internal._guard_trigger()'::pg_catalog.regprocedure,
														  'privacy_internal._retention_guard()'::pg_catalog.regprocedure]::pg_catalog.oid[])
		   AND t.tgparentid OPERATOR(pg_catalog.=) 0
		   AND t.tgenabled OPERATOR(pg_catalog.=) ANY ('{D,R}'::"char"[])
		 ORDER BY 2, t.tgname;
END
$_$;


CREATE OR REPLACE FUNCTION privacy_internal._protect_children(check_owner boolean, of regclass) RETURNS regclass[]
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
	c record;
	trigger_args text;
	k text;
	added regclass[] := '{}';
BEGIN
	FOR c IN
		WITH RECURSIVE descendant(root, child, depth) AS (
			SELECT pt.table_name::pg_catalog.oid, i.inhrelid, 1
			  FROM privacy.protected_tables pt
			  JOIN pg_catalog.pg_inherits i ON i.inhparent OPERATOR(pg_catalog.=) pt.table_name
			 WHERE pt.child_of IS NULL AND (of IS NULL OR pt.table_name OPERATOR(pg_catalog.=) of)
			UNION
			SELECT d.root, i.inhrelid, d.depth OPERATOR(pg_catalog.+) 1
			  FROM descendant d JOIN pg_catalog.pg_inherits i ON i.inhparent OPERATOR(pg_catalog.=) d.child
			 WHERE d.depth OPERATOR(pg_catalog.<) 32
		)
		SELECT DISTINCT ON (d.child) d.child::pg_catalog.regclass AS child, d.root::pg_catalog.regclass AS root,
			   pt.kinds, cls.relowner, cls.relname, cls.relrowsecurity, cls.relforcerowsecurity, cls.relispartition
		  FROM descendant d
		  JOIN privacy.protected_tables pt ON pt.table_name OPERATOR(pg_catalog.=) d.root
		  JOIN pg_catalog.pg_class cls ON cls.oid OPERATOR(pg_catalog.=) d.child
		 WHERE NOT EXISTS (SELECT FROM privacy.protected_tables st WHERE st.table_name OPERATOR(pg_catalog.=) d.child)
		 ORDER BY d.child, d.depth
	LOOP
		-- The event trigger may have protected it meanwhile (see below).
		IF EXISTS (SELECT FROM privacy.protected_tables st WHERE st.table_name OPERATOR(pg_catalog.=) c.child) THEN
			CONTINUE;
		END IF;
		IF check_owner AND NOT pg_catalog.pg_has_role(privacy_internal._acting_role(), c.relowner, 'USAGE') THEN
			RAISE EXCEPTION 'must be owner of table %', privacy_internal._qualified_name(c.child)
				USING ERRCODE = 'insufficient_privilege',
					  DETAIL = pg_catalog.format('It is a partition or child of protected table %s, whose rows it holds.',
												 privacy_internal._qualified_name(c.root));
		END IF;
		-- Registered first: the statements below fire the event trigger
		-- that calls this function, which must find nothing left to do.
		INSERT INTO privacy.protected_tables (table_name, kinds, base_policy, had_row_security,
											  had_force_row_security, protected_by, path_only, child_of)
		VALUES (c.child, c.kinds, NOT c.relrowsecurity, c.relrowsecurity, c.relforcerowsecurity,
				privacy_internal._acting_role(), false, c.root);
		EXECUTE pg_catalog.format('CREATE POLICY privacy_purpose ON %s AS RESTRICTIVE FOR ALL TO PUBLIC USING (%s) WITH CHECK (%s)',
								  privacy_internal._qualified_name(c.child),
								  privacy_internal._protection_expr(c.root, c.kinds, 'privacy_internal._may_process', c.child),
								  privacy_internal._protection_expr(c.root, c.kinds, 'privacy_internal._may_write', c.child));
		IF NOT c.relrowsecurity THEN
			EXECUTE pg_catalog.format('CREATE POLICY privacy_rows ON %s AS PERMISSIVE FOR ALL TO PUBLIC USING (true) WITH CHECK (true)',
									  privacy_internal._qualified_name(c.child));
		END IF;
		EXECUTE pg_catalog.format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY',
								  privacy_internal._qualified_name(c.child));
		-- Each child gets its own statement trigger (statement triggers are
		-- not cloned to partitions), for the UPDATEs that name the child; an
		-- UPDATE naming its ancestor fires the ancestor's, whose transition
		-- tables hold the child's rows too.
		IF EXISTS (SELECT FROM pg_catalog.pg_trigger t
					WHERE t.tgrelid OPERATOR(pg_catalog.=) c.root AND t.tgname OPERATOR(pg_catalog.=) 'privacy_rectification')
		   AND NOT EXISTS (SELECT FROM pg_catalog.pg_trigger t
							WHERE t.tgrelid OPERATOR(pg_catalog.=) c.child
							  AND t.tgname OPERATOR(pg_catalog.=) 'privacy_rectification') THEN
			trigger_args := '';
			FOREACH k IN ARRAY c.kinds LOOP
				trigger_args := trigger_args OPERATOR(pg_catalog.||)
					pg_catalog.format('%s%L, %L', CASE WHEN trigger_args OPERATOR(pg_catalog.=) '' THEN '' ELSE ', ' END,
									  k, privacy_internal._subject_key_sql(k, c.root, c.relname));
			END LOOP;
			EXECUTE pg_catalog.format('CREATE TRIGGER privacy_rectification AFTER UPDATE ON %s REFERENCING OLD TABLE AS privacy_old NEW TABLE AS privacy_new FOR EACH STATEMENT EXECUTE FUNCTION privacy_internal._audit_rectification(%s)',
									  privacy_internal._qualified_name(c.child), trigger_args);
		END IF;
		added := added OPERATOR(pg_catalog.||) c.child;
	END LOOP;
	RETURN added;
END
$$;


-- Existing row triggers become statement triggers with the same arguments
-- (dropping a partitioned table's trigger drops its partitions' clones);
-- then each partition that had a clone gets its own, as protect() gives it.
DO $$
DECLARE
	t record;
	c record;
	trigger_args text;
	k text;
BEGIN
	FOR t IN SELECT tg.oid, tg.tgrelid
			   FROM pg_catalog.pg_trigger tg
			  WHERE tg.tgname OPERATOR(pg_catalog.=) 'privacy_rectification'
				AND tg.tgfoid OPERATOR(pg_catalog.=) 'privacy_internal._audit_rectification()'::pg_catalog.regprocedure
				AND (tg.tgtype::integer OPERATOR(pg_catalog.&) 1) OPERATOR(pg_catalog.=) 1
				AND tg.tgparentid OPERATOR(pg_catalog.=) 0
			  ORDER BY tg.oid LOOP
		trigger_args := pg_catalog.replace(pg_catalog.pg_get_triggerdef(t.oid), ' FOR EACH ROW ',
			' REFERENCING OLD TABLE AS privacy_old NEW TABLE AS privacy_new FOR EACH STATEMENT ');
		EXECUTE pg_catalog.format('DROP TRIGGER privacy_rectification ON %s', privacy_internal._qualified_name(t.tgrelid));
		EXECUTE trigger_args;
	END LOOP;
	FOR c IN SELECT pt.table_name AS child, pt.child_of AS root, pt.kinds, cl.relname
			   FROM privacy.protected_tables pt
			   JOIN pg_catalog.pg_class cl ON cl.oid OPERATOR(pg_catalog.=) pt.table_name
			  WHERE pt.child_of IS NOT NULL
				AND EXISTS (SELECT FROM pg_catalog.pg_trigger tg
							 WHERE tg.tgrelid OPERATOR(pg_catalog.=) pt.child_of
							   AND tg.tgname OPERATOR(pg_catalog.=) 'privacy_rectification')
				AND NOT EXISTS (SELECT FROM pg_catalog.pg_trigger tg
								 WHERE tg.tgrelid OPERATOR(pg_catalog.=) pt.table_name
								   AND tg.tgname OPERATOR(pg_catalog.=) 'privacy_rectification')
			  ORDER BY pt.table_name::pg_catalog.oid LOOP
		trigger_args := '';
		FOREACH k IN ARRAY c.kinds LOOP
			trigger_args := trigger_args OPERATOR(pg_catalog.||)
				pg_catalog.format('%s%L, %L', CASE WHEN trigger_args OPERATOR(pg_catalog.=) '' THEN '' ELSE ', ' END,
								  k, privacy_internal._subject_key_sql(k, c.root, c.relname));
		END LOOP;
		EXECUTE pg_catalog.format('CREATE TRIGGER privacy_rectification AFTER UPDATE ON %s REFERENCING OLD TABLE AS privacy_old NEW TABLE AS privacy_new FOR EACH STATEMENT EXECUTE FUNCTION privacy_internal._audit_rectification(%s)',
								  privacy_internal._qualified_name(c.child), trigger_args);
	END LOOP;
END
$$;

-- Closing a rectification request seals its entry if it waits to be sealed.
CREATE OR REPLACE FUNCTION privacy.close_request(request_id bigint, status text, outcome jsonb DEFAULT '{}'::jsonb) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
	r privacy.subject_requests;
	evidence jsonb := '{}';
	found_id bigint;
	summary jsonb;
BEGIN
	IF status IS NULL OR status OPERATOR(pg_catalog.<>) ALL (ARRAY['completed', 'rejected']) THEN
		RAISE EXCEPTION 'a request is closed as "completed" or "rejected"'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	outcome := COALESCE(outcome, '{}');
	IF pg_catalog.jsonb_typeof(outcome) OPERATOR(pg_catalog.<>) 'object' THEN
		RAISE EXCEPTION 'the outcome of a request must be a JSON object'
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'For example {"reason": "manifestly unfounded"}.';
	END IF;
	SELECT * INTO r FROM privacy.subject_requests sr WHERE sr.id OPERATOR(pg_catalog.=) request_id FOR UPDATE;
	IF NOT FOUND OR r.status OPERATOR(pg_catalog.<>) 'open' THEN
		RAISE EXCEPTION 'request % does not exist or is not open', request_id
			USING ERRCODE = 'object_not_in_prerequisite_state';
	END IF;

	IF status OPERATOR(pg_catalog.=) 'rejected' THEN
		IF outcome OPERATOR(pg_catalog.=) '{}'::jsonb THEN
			RAISE EXCEPTION 'a rejected request needs the reasons for the rejection'
				USING ERRCODE = 'invalid_parameter_value',
					  DETAIL = 'GDPR Art. 12(4) requires telling the subject why no action is taken.',
					  HINT = 'Give them as the outcome, for example {"reason": "manifestly unfounded"}.';
		END IF;
	ELSIF r.request_right OPERATOR(pg_catalog.=) ANY (ARRAY['erasure', 'access', 'portability']) THEN
		RAISE EXCEPTION 'cannot close request % as completed: it asks for %, which only its fulfilment completes',
			request_id, r.request_right
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  DETAIL = 'The receipt of the erasure or the summary of the export becomes the request''s outcome.',
				  HINT = CASE r.request_right WHEN 'erasure'
						 THEN pg_catalog.format('Run privacy.erase_subject(%s, reason), or close the request as rejected with the reasons.', request_id)
						 ELSE pg_catalog.format('Run privacy.export_subject(%s), or close the request as rejected with the reasons.', request_id) END;
	ELSE
		-- The act that fulfils the request, recorded since its receipt.
		IF r.request_right OPERATOR(pg_catalog.=) 'rectification' THEN
			-- A rectification committed a moment ago may wait to be sealed:
			-- sealed now, its entry has the id the outcome names.
			IF EXISTS (SELECT FROM privacy._audit_unsealed u
						WHERE u.action OPERATOR(pg_catalog.=) 'rectification'
						  AND r.subject_ref OPERATOR(pg_catalog.=) ANY (u.subject_refs)
						  AND u.logged_at OPERATOR(pg_catalog.>=) r.received_at) THEN
				PERFORM privacy.seal_audit_log();
			END IF;
			SELECT a.id INTO found_id FROM privacy.audit_log a
			 WHERE a.action OPERATOR(pg_catalog.=) 'rectification'
			   AND a.subject_ref OPERATOR(pg_catalog.=) r.subject_ref
			   AND a.logged_at OPERATOR(pg_catalog.>=) r.received_at
			 ORDER BY a.id DESC LIMIT 1;
			evidence := pg_catalog.jsonb_build_object('audit_id', found_id);
		ELSE
			SELECT l.id INTO found_id FROM privacy.consent_ledger l
			 WHERE l.kind OPERATOR(pg_catalog.=) r.kind
			   AND l.subject OPERATOR(pg_catalog.=) ANY (ARRAY[r.subject, r.subject_ref])
			   AND l.subject OPERATOR(pg_catalog.=) CASE WHEN l.forgotten THEN r.subject_ref ELSE r.subject END
			   AND l.action OPERATOR(pg_catalog.=) CASE r.request_right WHEN 'restriction' THEN 'restriction' ELSE 'objection' END
			   AND l.recorded_at OPERATOR(pg_catalog.>=) r.received_at
			 ORDER BY l.id DESC LIMIT 1;
			evidence := pg_catalog.jsonb_build_object('ledger_event_id', found_id);
		END IF;
		IF found_id IS NULL THEN
			RAISE EXCEPTION 'cannot close request % as completed: no % of its subject was recorded since it was received',
				request_id, r.request_right
				USING ERRCODE = 'object_not_in_prerequisite_state',
					  HINT = CASE r.request_right
							 WHEN 'rectification' THEN 'Rectify the data in a protected table (its rectification trigger records it), or close the request as rejected with the reasons.'
							 WHEN 'restriction' THEN 'Record it with privacy.restrict(), or close the request as rejected with the reasons.'
							 ELSE 'Record it with privacy.object(), or close the request as rejected with the reasons.' END;
		END IF;
	END IF;

	summary := pg_catalog.jsonb_build_object('right', r.request_right) OPERATOR(pg_catalog.||) evidence;
	IF outcome OPERATOR(pg_catalog.<>) '{}'::jsonb THEN
		evidence := evidence OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object('note', outcome);
		summary := summary OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object('note_ref', privacy_internal._note_ref(outcome));
	END IF;
	UPDATE privacy.subject_requests sr
	   SET status = close_request.status, completed_at = pg_catalog.now(), outcome = evidence
	 WHERE sr.id OPERATOR(pg_catalog.=) r.id;
	PERFORM privacy_internal._audit(SESSION_USER, 'request.' OPERATOR(pg_catalog.||) status, NULL, NULL, request_id, summary);
END
$$;

