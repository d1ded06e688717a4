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

-- A restore loads privacy.policy_versions without installing or removing
-- guard triggers (those are in the dump) and without audit entries, also
-- with pg_restore -j.
CREATE FUNCTION privacy_internal._loading_table(rel regclass) RETURNS boolean
    LANGUAGE c STABLE STRICT PARALLEL RESTRICTED
    AS 'MODULE_PATHNAME', 'privacy_loading_table_sql';

COMMENT ON FUNCTION privacy_internal._loading_table(rel regclass) IS 'Whether the client''s statement is itself a COPY ... FROM or an INSERT into the table, as when pg_restore or psql loads it from a dump (not a write by one of the extension''s functions)';

REVOKE ALL ON FUNCTION privacy_internal._loading_table(rel regclass) FROM PUBLIC;

CREATE OR REPLACE FUNCTION privacy_internal._install_retention_triggers_on_policy() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
BEGIN
	-- A restore loads the policy versions, the rules and the guard triggers
	-- each from the dump, in any order (pg_restore -j): the triggers are
	-- restored as they were, and nothing is to be installed or audited.
	IF privacy_internal._loading_table(TG_RELID) THEN
		RETURN NULL;
	END IF;
	PERFORM privacy.install_retention_triggers();
	RETURN NULL;
END
$$;

COMMENT ON FUNCTION privacy_internal._install_retention_triggers_on_policy() IS 'Trigger: installs the retention guard triggers for the policy version just applied; does nothing while a restore loads privacy.policy_versions';

-- lint() reports purpose grants the audit log has in force but
-- privacy.purpose_grants lacks, as after a restore without the roles.
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

-- DROP EXTENSION ... CASCADE gives protected tables back their row-security
-- settings from before protect().
CREATE FUNCTION privacy_internal._release_protected_tables() RETURNS void
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
	rel regclass;
BEGIN
	-- A protected table dropped since has nothing left to give back.
	FOR rel IN SELECT pt.table_name
				 FROM privacy.protected_tables pt
				 JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) pt.table_name::pg_catalog.oid
				ORDER BY c.oid LOOP
		PERFORM privacy_internal._remove_protection(rel);
	END LOOP;
END
$$;

COMMENT ON FUNCTION privacy_internal._release_protected_tables() IS 'Removes the protection of every protected table and restores its earlier row-security settings, without audit entries; run when the extension is dropped with CASCADE';

REVOKE ALL ON FUNCTION privacy_internal._release_protected_tables() FROM PUBLIC;

CREATE FUNCTION privacy_internal._release_tables_on_drop() RETURNS event_trigger
    LANGUAGE c
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS 'MODULE_PATHNAME', 'privacy_release_tables_on_drop';

COMMENT ON FUNCTION privacy_internal._release_tables_on_drop() IS 'Event trigger: before DROP EXTENSION opendims_privacy CASCADE, gives every protected table back its row-security settings from before privacy.protect()';

REVOKE ALL ON FUNCTION privacy_internal._release_tables_on_drop() FROM PUBLIC;

CREATE EVENT TRIGGER privacy_release_tables_on_drop ON ddl_command_start
         WHEN TAG IN ('DROP EXTENSION')
   EXECUTE FUNCTION privacy_internal._release_tables_on_drop();

-- The retention job runs for any role granted it: each of its steps runs as
-- the extension's owner and checks the role running the job. Its schedule
-- is registered in pg_cron's database from any database, through a
-- background worker, and shown by privacy.retention_schedule.
DROP FUNCTION privacy_internal._require_pg_cron();

CREATE FUNCTION privacy_internal._retention_job_check(run_id bigint) RETURNS integer
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
	size integer;
BEGIN
	-- The steps of the job run as the extension's owner: they check the
	-- role that runs the job, which a security-definer function cannot
	-- change (the role set by SET ROLE, or the session user).
	IF NOT pg_catalog.has_function_privilege(privacy_internal._acting_role(),
			'privacy.enforce_retention(integer, interval)'::pg_catalog.regprocedure, 'EXECUTE') THEN
		RAISE EXCEPTION 'permission denied for procedure enforce_retention'
			USING ERRCODE = 'insufficient_privilege',
				  DETAIL = 'The steps of the retention job run only for a role that may run privacy.enforce_retention().';
	END IF;
	IF run_id IS NULL THEN
		RETURN NULL;
	END IF;
	SELECT r.batch_size INTO size
	  FROM privacy.retention_runs r
	  JOIN pg_catalog.pg_stat_activity a ON a.pid OPERATOR(pg_catalog.=) r.pid
	 WHERE r.id OPERATOR(pg_catalog.=) run_id AND r.status OPERATOR(pg_catalog.=) 'running'
	   AND r.pid OPERATOR(pg_catalog.=) pg_catalog.pg_backend_pid()
	   AND r.backend_start IS NOT DISTINCT FROM a.backend_start;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'retention run % is not running in this session', run_id
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  HINT = 'Run the retention job with CALL privacy.enforce_retention().';
	END IF;
	RETURN size;
END
$$;

COMMENT ON FUNCTION privacy_internal._retention_job_check(run_id bigint) IS 'Raises an error unless the role running the job may CALL privacy.enforce_retention() and the run (if given) is running in this session; returns the run''s batch size';

REVOKE ALL ON FUNCTION privacy_internal._retention_job_check(run_id bigint) FROM PUBLIC;

CREATE FUNCTION privacy_internal._retention_require_table_rights(rule privacy.retention_rules) RETURNS void
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
	right_needed text := CASE WHEN rule.action OPERATOR(pg_catalog.=) 'delete' THEN 'DELETE' ELSE 'UPDATE' END;
BEGIN
	-- The batches run as the table's owner; the role running the job must
	-- still have the rights it would use to change the rows itself.
	IF NOT (pg_catalog.has_table_privilege(privacy_internal._acting_role(), rule.table_name, 'SELECT')
			AND pg_catalog.has_table_privilege(privacy_internal._acting_role(), rule.table_name, right_needed)) THEN
		RAISE EXCEPTION 'permission denied for table %', privacy_internal._qualified_name(rule.table_name)
			USING ERRCODE = 'insufficient_privilege',
				  DETAIL = pg_catalog.format('Retention rule "%s" %s rows of the table; the role running the job needs SELECT and %s on it.',
					rule.name, CASE WHEN rule.action OPERATOR(pg_catalog.=) 'delete' THEN 'deletes' ELSE 'updates' END,
					right_needed);
	END IF;
END
$$;

COMMENT ON FUNCTION privacy_internal._retention_require_table_rights(rule privacy.retention_rules) IS 'Raises an error unless the role running the retention job has SELECT and DELETE or UPDATE (as the rule''s action needs) on the rule''s table';

REVOKE ALL ON FUNCTION privacy_internal._retention_require_table_rights(rule privacy.retention_rules) FROM PUBLIC;

CREATE FUNCTION privacy_internal._retention_run_rules(run_id bigint) RETURNS text[]
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
BEGIN
	PERFORM privacy_internal._retention_job_check(run_id);
	-- Rules whose table was locked when the run counted them wait for the next run.
	RETURN ARRAY(SELECT o.rule_name FROM privacy_internal._retention_order() o
				  WHERE NOT EXISTS (SELECT FROM privacy.retention_runs r
									 WHERE r.id OPERATOR(pg_catalog.=) run_id
									   AND r.rules -> o.rule_name ->> 'status' OPERATOR(pg_catalog.=) 'locked'));
END
$$;

COMMENT ON FUNCTION privacy_internal._retention_run_rules(run_id bigint) IS 'The rules a retention run processes, in order (children before the tables they reference), without those whose table was locked when the run started';

REVOKE ALL ON FUNCTION privacy_internal._retention_run_rules(run_id bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION privacy_internal._retention_run_rules(run_id bigint) TO PUBLIC;

CREATE FUNCTION privacy_internal._retention_rule_start(run_id bigint, rule_name text) RETURNS timestamp with time zone
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
	rule privacy.retention_rules;
BEGIN
	PERFORM privacy_internal._retention_job_check(run_id);
	SELECT * INTO rule FROM privacy.retention_rules rr WHERE rr.name OPERATOR(pg_catalog.=) rule_name;
	IF NOT FOUND THEN
		RETURN NULL;
	END IF;
	PERFORM privacy_internal._retention_require_table_rights(rule);
	PERFORM privacy_internal._retention_run_rule_status(run_id, rule_name, 'running');
	-- Rows are due up to the cutoff at the rule's start; rows that fall due
	-- during the run are left to the next one.
	RETURN privacy_internal._retention_rule_cutoff(rule, pg_catalog.now());
END
$$;

COMMENT ON FUNCTION privacy_internal._retention_rule_start(run_id bigint, rule_name text) IS 'Starts a rule in a retention run: checks the rights of the role running the job and returns the cutoff its batches use (NULL if the rule is gone)';

REVOKE ALL ON FUNCTION privacy_internal._retention_rule_start(run_id bigint, rule_name text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION privacy_internal._retention_rule_start(run_id bigint, rule_name text) TO PUBLIC;

CREATE FUNCTION privacy_internal._retention_batch(run_id bigint, rule_name text, cutoff timestamp with time zone, stop_at timestamp with time zone, INOUT last_anchor text, INOUT after_last boolean, INOUT excluded tid[], OUT outcome text) RETURNS record
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $_$
DECLARE
	batch_size integer;
	rule privacy.retention_rules;
	s record;
	rel text;
	anchor_col text;
	held text;
	locked regclass;
	due_sql text;
	window_first text;
	window_last text;
	window_rows integer;
	tids tid[];
	batch_last text;
	found_rows integer;
	done bigint;
	blocked bigint;
	one tid;
	careful boolean;
	batch_result text[];
	wal_method text;
	may_keep boolean;
	kept_sql text;
	changed bigint[];
	progress record;
BEGIN
	batch_size := privacy_internal._retention_job_check(run_id);
	SELECT * INTO rule FROM privacy.retention_rules rr WHERE rr.name OPERATOR(pg_catalog.=) rule_name;
	IF NOT FOUND THEN
		outcome := 'skipped';
		RETURN;
	END IF;
	IF pg_catalog.clock_timestamp() OPERATOR(pg_catalog.>=) stop_at THEN
		PERFORM privacy_internal._retention_run_rule_status(run_id, rule_name, 'time_budget');
		outcome := 'time_budget';
		RETURN;
	END IF;
	PERFORM privacy_internal._retention_require_table_rights(rule);
	-- No batch takes a row that is not due now, whatever cutoff it is given.
	cutoff := LEAST(cutoff, privacy_internal._retention_rule_cutoff(rule, pg_catalog.now()));
	excluded := COALESCE(excluded, '{}');
	after_last := COALESCE(after_last, false);
	s := privacy_internal._retention_rule_sql(rule);
	rel := privacy_internal._qualified_name(rule.table_name);
	-- On a table whose triggers or rules may keep rows, each batch checks
	-- that the rows it meant to change changed (kept_sql: of a changed row,
	-- whether it still is to do).
	may_keep := privacy_internal._rows_may_be_kept(rule.table_name);
	kept_sql := CASE WHEN rule.action OPERATOR(pg_catalog.=) 'delete' THEN 'false' ELSE s.todo END;
	anchor_col := pg_catalog.quote_ident(rule.anchor);
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
	-- Each batch first locks the tables it writes, waiting at most
	-- privacy.retention_lock_timeout: a table another session keeps locked
	-- is skipped until the next run.
	locked := privacy_internal._retention_lock_tables(rule);
	IF locked IS NOT NULL THEN
		PERFORM privacy_internal._retention_run_rule_locked(run_id, rule_name, locked);
		outcome := 'skipped';
		RETURN;
	END IF;
	held := privacy_internal._retention_lock_holds(rule.table_name);
	IF held IS NULL THEN
		PERFORM privacy_internal._retention_run_rule_status(run_id, rule_name, 'held');
		RAISE NOTICE 'retention rule "%": table % is under a legal hold, skipped', rule_name, rule.table_name;
		outcome := 'skipped';
		RETURN;
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
		-- so their plans are kept: privacy_internal._cached_value.)
		batch_result := privacy_internal._cached_value_as_owner(rule.table_name, pg_catalog.format(
			'SELECT ARRAY[pg_catalog.min(x.a)::text, pg_catalog.max(x.a)::text, pg_catalog.count(*)::text]
			   FROM (SELECT t.%1$s AS a FROM %2$s t WHERE %3$s ORDER BY t.%1$s LIMIT $3) x',
			anchor_col, rel, due_sql),
			NULL::text[], cutoff, last_anchor, batch_size, excluded);
		window_first := batch_result[1];
		window_last := batch_result[2];
		window_rows := batch_result[3]::integer;
		-- The range statement runs as the table's owner, which may
		-- not compute the subject references of holds: under a hold
		-- on the table's subjects each batch takes the careful way.
		IF window_rows OPERATOR(pg_catalog.>) 0 AND held OPERATOR(pg_catalog.=) 'false'
		   AND (window_rows OPERATOR(pg_catalog.<) batch_size OR window_first OPERATOR(pg_catalog.<>) window_last) THEN
			done := privacy_internal._cached_row_count_as_owner(rule.table_name, pg_catalog.format(
				'%1$s WHERE %2$s AND t.%3$s OPERATOR(pg_catalog.<=) (SELECT $5::%4$s)%5$s%6$s',
				s.action, due_sql, anchor_col, s.anchor_type,
				CASE WHEN held OPERATOR(pg_catalog.=) 'false' THEN '' ELSE ' AND NOT ' OPERATOR(pg_catalog.||) held END,
				CASE WHEN pg_catalog.cardinality(excluded) OPERATOR(pg_catalog.=) 0 THEN ''
					 ELSE ' AND t.ctid OPERATOR(pg_catalog.<>) ALL ($4)' END),
				cutoff, last_anchor, batch_size, excluded, window_last);
			-- A row a trigger or rule kept is still due in the range.
			IF may_keep AND privacy_internal._cached_value(pg_catalog.format(
					'SELECT EXISTS (SELECT FROM %1$s t WHERE %2$s AND t.%3$s OPERATOR(pg_catalog.<=) (SELECT $5::%4$s)%5$s)',
					rel, due_sql, anchor_col, s.anchor_type,
					CASE WHEN pg_catalog.cardinality(excluded) OPERATOR(pg_catalog.=) 0 THEN ''
						 ELSE ' AND t.ctid OPERATOR(pg_catalog.<>) ALL ($4)' END),
					NULL::boolean, cutoff, last_anchor, batch_size, excluded, window_last) THEN
				PERFORM privacy_internal._rows_kept_error(rule.table_name, pg_catalog.format('retention rule "%s"', rule_name));
			END IF;
		END IF;
		careful := (window_rows OPERATOR(pg_catalog.>) 0 AND held OPERATOR(pg_catalog.<>) 'false')
				   OR (window_rows OPERATOR(pg_catalog.=) batch_size
					   AND window_first OPERATOR(pg_catalog.=) window_last);
		IF NOT careful THEN
			found_rows := window_rows;
			batch_last := window_last;
			after_last := true;
		END IF;
	EXCEPTION WHEN foreign_key_violation OR lock_not_available THEN
		careful := true;
	END;
	IF NOT careful AND window_rows OPERATOR(pg_catalog.=) 0 THEN
		PERFORM privacy_internal._retention_run_rule_status(run_id, rule_name, 'done');
		outcome := 'done';
		RETURN;
	END IF;
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
			-- {rows changed, changed rows still to do}, as the owner.
			changed := privacy_internal._cached_value_as_owner(rule.table_name, pg_catalog.format(
				'WITH c AS (%s WHERE t.ctid OPERATOR(pg_catalog.=) ANY ($1) RETURNING %s AS k) '
				'SELECT ARRAY[pg_catalog.count(*), pg_catalog.count(*) FILTER (WHERE c.k)] FROM c',
				s.action, kept_sql), NULL::bigint[], tids);
			IF changed[1] OPERATOR(pg_catalog.<) COALESCE(pg_catalog.cardinality(tids), 0)
			   OR changed[2] OPERATOR(pg_catalog.>) 0 THEN
				PERFORM privacy_internal._rows_kept_error(rule.table_name, pg_catalog.format('retention rule "%s"', rule_name));
			END IF;
			done := changed[1];
		EXCEPTION WHEN foreign_key_violation OR lock_not_available THEN
			done := 0;
			FOREACH one IN ARRAY COALESCE(tids, '{}') LOOP
				BEGIN
					changed := privacy_internal._cached_value_as_owner(rule.table_name, pg_catalog.format(
						'WITH c AS (%s WHERE t.ctid OPERATOR(pg_catalog.=) $1 RETURNING %s AS k) '
						'SELECT ARRAY[pg_catalog.count(*), pg_catalog.count(*) FILTER (WHERE c.k)] FROM c',
						s.action, kept_sql), NULL::bigint[], one);
					IF changed[1] OPERATOR(pg_catalog.<) 1 OR changed[2] OPERATOR(pg_catalog.>) 0 THEN
						PERFORM privacy_internal._rows_kept_error(rule.table_name, pg_catalog.format('retention rule "%s"', rule_name));
					END IF;
					done := done OPERATOR(pg_catalog.+) changed[1];
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
	PERFORM privacy_internal._retention_run_progress(run_id, rule_name, done, blocked, 'running');
	IF found_rows OPERATOR(pg_catalog.>) 0 THEN
		SELECT (r.rules -> rule_name ->> 'done')::bigint AS rule_done, r.rows_done, r.rows_due INTO progress
		  FROM privacy.retention_runs r WHERE r.id OPERATOR(pg_catalog.=) run_id;
		RAISE NOTICE 'retention rule "%": % done in this batch, % in all; run % has done % of % due rows',
			rule_name, done, progress.rule_done, run_id, progress.rows_done, progress.rows_due;
	END IF;
	-- The last batch: the range took every row left, or the careful path
	-- found fewer free rows than it asked for.
	IF (NOT careful AND window_rows OPERATOR(pg_catalog.<) batch_size)
	   OR (careful AND found_rows OPERATOR(pg_catalog.<) batch_size) THEN
		PERFORM privacy_internal._retention_run_rule_status(run_id, rule_name, 'done');
		outcome := 'done';
	ELSE
		outcome := 'more';
	END IF;
END
$_$;

COMMENT ON FUNCTION privacy_internal._retention_batch(run_id bigint, rule_name text, cutoff timestamp with time zone, stop_at timestamp with time zone, INOUT last_anchor text, INOUT after_last boolean, INOUT excluded tid[], OUT outcome text) IS 'One batch of a retention run for one rule: the next due rows after the last batch, deleted or anonymised as the table''s owner; returns where the next batch starts and whether the rule is done, skipped (locked or held), stopped at the time budget, or has more';

REVOKE ALL ON FUNCTION privacy_internal._retention_batch(run_id bigint, rule_name text, cutoff timestamp with time zone, stop_at timestamp with time zone, INOUT last_anchor text, INOUT after_last boolean, INOUT excluded tid[], OUT outcome text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION privacy_internal._retention_batch(run_id bigint, rule_name text, cutoff timestamp with time zone, stop_at timestamp with time zone, INOUT last_anchor text, INOUT after_last boolean, INOUT excluded tid[], OUT outcome text) TO PUBLIC;

CREATE FUNCTION privacy_internal._require_view_privilege(view_name regclass) RETURNS void
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
BEGIN
	-- A view calls its functions as the querying role: the function behind
	-- a status view runs as the extension's owner for the roles the view is
	-- granted to, and for no one else.
	IF NOT pg_catalog.has_table_privilege(privacy_internal._acting_role(), view_name, 'SELECT') THEN
		RAISE EXCEPTION 'permission denied for view %', view_name
			USING ERRCODE = 'insufficient_privilege';
	END IF;
END
$$;

COMMENT ON FUNCTION privacy_internal._require_view_privilege(view_name regclass) IS 'Raises an error unless the role on whose behalf a function runs may SELECT from the view';

REVOKE ALL ON FUNCTION privacy_internal._require_view_privilege(view_name regclass) FROM PUBLIC;

CREATE FUNCTION privacy_internal._retention_schedule() RETURNS TABLE(job_id bigint, job_name text, schedule text, username name, active boolean, last_run_status text, last_run_started timestamp with time zone, cron_database name)
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
BEGIN
	PERFORM privacy_internal._require_view_privilege('privacy.retention_schedule');
	RETURN QUERY SELECT * FROM privacy_internal._retention_cron('list', NULL, NULL);
END
$$;

COMMENT ON FUNCTION privacy_internal._retention_schedule() IS 'This database''s retention job as pg_cron keeps it, for the roles that may read privacy.retention_schedule';

REVOKE ALL ON FUNCTION privacy_internal._retention_schedule() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION privacy_internal._retention_schedule() TO PUBLIC;

CREATE FUNCTION privacy_internal._retention_cron(operation text, job_role name, job_schedule text) RETURNS TABLE(job_id bigint, job_name text, schedule text, username name, active boolean, last_run_status text, last_run_started timestamp with time zone, cron_database name)
    LANGUAGE c
    AS 'MODULE_PATHNAME', 'privacy_retention_cron';

COMMENT ON FUNCTION privacy_internal._retention_cron(operation text, job_role name, job_schedule text) IS 'Schedules (schedule) or removes (unschedule) this database''s retention job for a role, or lists it (list), in pg_cron''s database, through a background worker; returns the jobs concerned';

REVOKE ALL ON FUNCTION privacy_internal._retention_cron(operation text, job_role name, job_schedule text) FROM PUBLIC;

CREATE OR REPLACE FUNCTION privacy_internal._retention_run_start(batch_size integer, time_budget interval) RETURNS bigint
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
	stale privacy.retention_runs;
	rr privacy.retention_rules;
	counts record;
	problem text;
	locked regclass;
	locked_rules text[] := '{}';
	locked_tables regclass[] := '{}';
	i integer;
	rules jsonb := '{}';
	total bigint := 0;
	run_id bigint;
BEGIN
	PERFORM privacy_internal._retention_job_check(NULL);
	PERFORM privacy_internal._retention_lower_priority();
	-- Erasures whose legal holds were released and that could not complete
	-- then are tried again.
	PERFORM privacy_internal._complete_held_erasures();
	FOR stale IN
		UPDATE privacy.retention_runs r
		   SET status = 'interrupted', finished_at = pg_catalog.clock_timestamp()
		 WHERE r.status = 'running'
		   AND NOT EXISTS (SELECT FROM pg_catalog.pg_stat_activity a
							WHERE a.pid = r.pid AND a.backend_start IS NOT DISTINCT FROM r.backend_start)
		RETURNING r.*
	LOOP
		PERFORM privacy_internal._retention_audit_run(stale);
	END LOOP;

	-- A rule whose table was dropped or no longer fits it is skipped and
	-- recorded with the reason; the other rules run.
	FOR rr IN SELECT r.* FROM privacy.retention_rules r ORDER BY r.name LOOP
		problem := privacy_internal._retention_rule_problem(rr);
		CONTINUE WHEN problem IS NULL;
		RAISE WARNING 'retention rule "%" skipped: %', rr.name, problem
			USING HINT = 'Apply a policy document that matches the schema; privacy.lint() lists what does not.';
		rules := rules OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object(rr.name, pg_catalog.jsonb_build_object(
			'table', COALESCE(privacy_internal._qualified_name(rr.table_name), (rr.table_name::pg_catalog.oid)::pg_catalog.text),
			'action', rr.action, 'due', 0, 'done', 0, 'held', 0, 'blocked', 0,
			'status', 'skipped', 'problem', problem));
	END LOOP;

	-- Counting reads each rule's table: one that another session keeps
	-- locked for longer than privacy.retention_lock_timeout is left to the
	-- next run (status locked, its counts unknown) instead of stalling this one.
	PERFORM pg_catalog.set_config('lock_timeout', privacy_internal._retention_lock_timeout()::text, true);
	FOR rr IN
		SELECT r.* FROM privacy_internal._retention_order() o
		  JOIN privacy.retention_rules r ON r.name = o.rule_name
	LOOP
		BEGIN
			counts := privacy_internal._retention_counts(rr, pg_catalog.now());
			locked := NULL;
		EXCEPTION WHEN lock_not_available THEN
			locked := rr.table_name;
		END;
		IF locked IS NOT NULL THEN
			rules := rules || pg_catalog.jsonb_build_object(rr.name, pg_catalog.jsonb_build_object(
				'table', privacy_internal._qualified_name(rr.table_name), 'action', rr.action,
				'due', NULL, 'done', 0, 'held', NULL, 'blocked', 0, 'status', 'pending'));
			locked_rules := locked_rules || rr.name;
			locked_tables := locked_tables || locked;
			CONTINUE;
		END IF;
		rules := rules || pg_catalog.jsonb_build_object(rr.name, pg_catalog.jsonb_build_object(
			'table', privacy_internal._qualified_name(rr.table_name), 'action', rr.action,
			'due', counts.rows_due - counts.rows_held, 'done', 0, 'held', counts.rows_held,
			'blocked', 0, 'status', 'pending'));
		total := total + counts.rows_due - counts.rows_held;
	END LOOP;

	INSERT INTO privacy.retention_runs (backend_start, batch_size, time_budget, rows_due, rules)
	SELECT a.backend_start, batch_size, time_budget, total, rules
	  FROM pg_catalog.pg_stat_activity a WHERE a.pid = pg_catalog.pg_backend_pid()
	RETURNING id INTO run_id;
	FOR i IN 1 .. pg_catalog.cardinality(locked_rules) LOOP
		PERFORM privacy_internal._retention_run_rule_locked(run_id, locked_rules[i], locked_tables[i]);
	END LOOP;
	RETURN run_id;
END
$$;

COMMENT ON FUNCTION privacy_internal._retention_run_start(batch_size integer, time_budget interval) IS 'Records the start of a retention run and what is due, and lowers the backend''s CPU priority; marks runs whose backend is gone as interrupted and completes held erasures whose holds were released';

REVOKE ALL ON FUNCTION privacy_internal._retention_run_start(batch_size integer, time_budget interval) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION privacy_internal._retention_run_start(batch_size integer, time_budget interval) TO PUBLIC;

CREATE OR REPLACE FUNCTION privacy_internal._retention_run_finish(run_id bigint, run_status text) RETURNS privacy.retention_runs
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
	run privacy.retention_runs;
BEGIN
	PERFORM privacy_internal._retention_job_check(run_id);
	UPDATE privacy.retention_runs r
	   SET status = run_status, finished_at = pg_catalog.clock_timestamp()
	 WHERE r.id = run_id
	RETURNING r.* INTO STRICT run;
	PERFORM privacy_internal._retention_audit_run(run);
	RETURN run;
END
$$;

COMMENT ON FUNCTION privacy_internal._retention_run_finish(run_id bigint, run_status text) IS 'Records the end of a retention run and audits its summary';

REVOKE ALL ON FUNCTION privacy_internal._retention_run_finish(run_id bigint, run_status text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION privacy_internal._retention_run_finish(run_id bigint, run_status text) TO PUBLIC;

CREATE OR REPLACE FUNCTION privacy_internal._retention_status() RETURNS TABLE(rule text, table_name regclass, action text, period text, minimum text, due_through timestamp with time zone, rows_due bigint, oldest_due timestamp with time zone, rows_held bigint, table_hold text, guarded boolean, last_run_id bigint, last_run_at timestamp with time zone, last_run_status text, last_run_done bigint, last_run_blocked bigint)
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
	rr privacy.retention_rules;
	counts record;
	last_run privacy.retention_runs;
BEGIN
	PERFORM privacy_internal._require_view_privilege('privacy.retention_status');
	PERFORM pg_catalog.set_config('lock_timeout', privacy_internal._retention_lock_timeout()::text, true);
	FOR rr IN SELECT * FROM privacy.retention_rules ORDER BY name LOOP
		-- A rule that cannot be enforced (its table dropped or changed), or
		-- whose table another session keeps locked, shows no counts.
		IF privacy_internal._retention_rule_problem(rr) IS NULL THEN
			BEGIN
				counts := privacy_internal._retention_counts(rr, pg_catalog.now());
			EXCEPTION WHEN lock_not_available THEN
				SELECT NULL::bigint AS rows_due, NULL::timestamptz AS oldest_due, NULL::bigint AS rows_held INTO counts;
			END;
		ELSE
			SELECT NULL::bigint AS rows_due, NULL::timestamptz AS oldest_due, NULL::bigint AS rows_held INTO counts;
		END IF;
		rule := rr.name;
		table_name := rr.table_name;
		action := rr.action;
		period := rr.period;
		minimum := rr.minimum;
		due_through := CASE WHEN privacy_internal._retention_rule_problem(rr) IS NULL
							THEN privacy_internal._retention_rule_cutoff(rr, pg_catalog.now()) END;
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

COMMENT ON FUNCTION privacy_internal._retention_status() IS 'Per retention rule: what is due now, what is held, and what the last run did';

REVOKE ALL ON FUNCTION privacy_internal._retention_status() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION privacy_internal._retention_status() TO PUBLIC;

CREATE OR REPLACE PROCEDURE privacy.enforce_retention(IN batch_size integer DEFAULT 5000, IN time_budget interval DEFAULT '00:01:00'::interval)
    LANGUAGE plpgsql
    AS $_$
DECLARE
	run_id bigint;
	stop_at timestamptz;
	run_status text := 'finished';
	rule_name text;
	cutoff timestamptz;
	last_anchor text;
	after_last boolean;
	excluded tid[];
	outcome text;
	run privacy.retention_runs;
BEGIN
	-- The procedure commits after each step, so it runs as its caller; each
	-- step is a function that runs as the extension's owner and checks that
	-- the caller may run the job (privacy_internal._retention_job_check).
	PERFORM privacy_internal._retention_require_own_transactions();
	IF batch_size IS NULL OR batch_size OPERATOR(pg_catalog.<) 1 THEN
		RAISE EXCEPTION 'batch_size must be a positive number of rows'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF time_budget IS NULL OR time_budget OPERATOR(pg_catalog.<=) '0'::interval THEN
		RAISE EXCEPTION 'time_budget must be a positive interval'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	stop_at := pg_catalog.clock_timestamp() OPERATOR(pg_catalog.+) time_budget;
	run_id := privacy_internal._retention_run_start(batch_size, time_budget);
	COMMIT;

	<<rules>>
	FOREACH rule_name IN ARRAY privacy_internal._retention_run_rules(run_id) LOOP
		cutoff := privacy_internal._retention_rule_start(run_id, rule_name);
		CONTINUE WHEN cutoff IS NULL;
		COMMIT;
		last_anchor := NULL;
		after_last := false;
		excluded := '{}';
		LOOP
			SELECT b.last_anchor, b.after_last, b.excluded, b.outcome
			  INTO last_anchor, after_last, excluded, outcome
			  FROM privacy_internal._retention_batch(run_id, rule_name, cutoff, stop_at,
													 last_anchor, after_last, excluded) b;
			COMMIT;
			IF outcome OPERATOR(pg_catalog.=) 'time_budget' THEN
				run_status := 'time_budget';
				EXIT rules;
			END IF;
			EXIT WHEN outcome OPERATOR(pg_catalog.<>) 'more';
		END LOOP;
	END LOOP;

	run := privacy_internal._retention_run_finish(run_id, run_status);
	RAISE NOTICE 'retention run % %: % of % due rows done in % batches', run_id,
		CASE WHEN run_status OPERATOR(pg_catalog.=) 'finished' THEN 'finished' ELSE 'stopped at its time budget' END,
		run.rows_done, run.rows_due, run.batches;
	COMMIT;
END
$_$;

COMMENT ON PROCEDURE privacy.enforce_retention(IN batch_size integer, IN time_budget interval) IS 'The retention job: deletes, anonymises or truncates due rows in batches of batch_size, one short transaction each (FOR UPDATE SKIP LOCKED), children before parents, skipping held rows, until done or time_budget is used; resumable; audited';

REVOKE ALL ON PROCEDURE privacy.enforce_retention(IN batch_size integer, IN time_budget interval) FROM PUBLIC;

CREATE OR REPLACE FUNCTION privacy.schedule_retention(schedule text DEFAULT '*/15 * * * *'::text) RETURNS bigint
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
	job_role name := privacy_internal._acting_role();
	job record;
BEGIN
	IF NOT pg_catalog.has_function_privilege(job_role,
			'privacy.enforce_retention(integer, interval)'::pg_catalog.regprocedure, 'EXECUTE') THEN
		RAISE EXCEPTION 'role "%" may not run the retention job', job_role
			USING ERRCODE = 'insufficient_privilege',
				  DETAIL = 'pg_cron would run CALL privacy.enforce_retention() as this role.',
				  HINT = 'GRANT EXECUTE ON PROCEDURE privacy.enforce_retention TO the role first.';
	END IF;
	SELECT * INTO job FROM privacy_internal._retention_cron('schedule', job_role, schedule) c;
	PERFORM privacy_internal._audit(SESSION_USER, 'retention.schedule', NULL, NULL, NULL,
						   pg_catalog.jsonb_build_object('job_id', job.job_id, 'schedule', schedule,
														 'role', job_role, 'cron_database', job.cron_database));
	RETURN job.job_id;
END
$$;

COMMENT ON FUNCTION privacy.schedule_retention(schedule text) IS 'Registers this database''s retention job (CALL privacy.enforce_retention()) with pg_cron, in the database pg_cron runs in, as job "opendims_privacy_retention" (":" and the database name follow outside pg_cron''s database), run as the calling role; scheduling again changes the schedule; returns the job id';

REVOKE ALL ON FUNCTION privacy.schedule_retention(schedule text) FROM PUBLIC;

CREATE OR REPLACE FUNCTION privacy.unschedule_retention() RETURNS boolean
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
	job_ids bigint[];
BEGIN
	SELECT pg_catalog.array_agg(c.job_id) INTO job_ids
	  FROM privacy_internal._retention_cron('unschedule', privacy_internal._acting_role(), NULL) c;
	IF job_ids IS NULL THEN
		RETURN false;
	END IF;
	PERFORM privacy_internal._audit(SESSION_USER, 'retention.unschedule', NULL, NULL, NULL,
						   pg_catalog.jsonb_build_object('job_id', job_ids[1], 'role', privacy_internal._acting_role()));
	RETURN true;
END
$$;

COMMENT ON FUNCTION privacy.unschedule_retention() IS 'Removes this database''s retention job of the calling role from pg_cron; false if the role had not scheduled it';

REVOKE ALL ON FUNCTION privacy.unschedule_retention() FROM PUBLIC;

CREATE OR REPLACE FUNCTION privacy.release_hold(hold_id bigint, reason text) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
	h privacy.legal_holds;
BEGIN
	IF hold_id IS NULL OR reason IS NULL THEN
		RAISE EXCEPTION 'hold id and reason must not be null' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	SELECT * INTO h FROM privacy.legal_holds lh WHERE lh.id OPERATOR(pg_catalog.=) hold_id FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'legal hold % does not exist', hold_id
			USING ERRCODE = 'undefined_object',
				  HINT = 'privacy.legal_holds lists the holds.';
	END IF;
	IF h.released_at IS NOT NULL THEN
		RAISE EXCEPTION 'legal hold % was already released', hold_id
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  DETAIL = pg_catalog.format('It was released by %s.', h.released_by),
				  HINT = 'privacy.legal_holds lists the holds in force.';
	END IF;
	IF reason OPERATOR(pg_catalog.=) '' THEN
		RAISE EXCEPTION 'releasing a legal hold needs a reason'
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Say why the hold ends, for example that the case was closed.';
	END IF;
	UPDATE privacy.legal_holds lh
	   SET released_at = pg_catalog.now(), released_by = SESSION_USER, release_reason = release_hold.reason
	 WHERE lh.id OPERATOR(pg_catalog.=) hold_id;
	PERFORM privacy_internal._audit(SESSION_USER, 'retention.hold.release', h.kind, h.subject, NULL,
						   pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object(
							'hold_id', h.id, 'table', privacy_internal._qualified_name(h.table_name),
							'reference', CASE WHEN h.table_name IS NOT NULL THEN h.reference END,
							'reference_ref', CASE WHEN h.table_name IS NULL
												  THEN privacy_internal._hold_reference_ref(h.reference) END)));
	-- A hold on a subject erased while held keeps no free text once released.
	IF h.kind IS NOT NULL AND h.subject IS NULL THEN
		PERFORM privacy_internal._redact_erased_subject_text(h.kind, h.subject_ref);
	END IF;
	-- Erasures this hold kept pending complete now, unless another hold
	-- still keeps them.
	PERFORM privacy_internal._complete_held_erasures();
END
$$;

COMMENT ON FUNCTION privacy.release_hold(hold_id bigint, reason text) IS 'Releases a legal hold, with the reason; erasures it kept pending complete at once, and the rows it kept from the retention job are processed by the next run';

REVOKE ALL ON FUNCTION privacy.release_hold(hold_id bigint, reason text) FROM PUBLIC;

CREATE VIEW privacy.retention_schedule AS
SELECT c.job_id, c.job_name, c.schedule, c.username, c.active, c.last_run_status, c.last_run_started, c.cron_database
  FROM privacy_internal._retention_schedule() c;

COMMENT ON VIEW privacy.retention_schedule IS 'This database''s retention job as pg_cron keeps it in its own database: schedule, role, whether it is active, and how its last run ended';

GRANT EXECUTE ON FUNCTION privacy_internal._retention_require_own_transactions() TO PUBLIC;

-- An erasure that legal holds keep rows from stays pending, with the
-- subject's key, until the holds are released; its request is held until
-- then.
ALTER TABLE privacy.subject_requests
	DROP CONSTRAINT subject_requests_check,
	DROP CONSTRAINT subject_requests_status_check,
	ADD CONSTRAINT subject_requests_check CHECK (((status = ANY (ARRAY['open'::text, 'held'::text])) = (completed_at IS NULL))),
	ADD CONSTRAINT subject_requests_status_check CHECK ((status = ANY (ARRAY['open'::text, 'held'::text, 'completed'::text, 'rejected'::text])));

CREATE TABLE privacy._held_erasures (
    kind text NOT NULL,
    subject_ref text NOT NULL,
    subject text NOT NULL,
    erasure_id bigint NOT NULL,
    request_id bigint,
    reason text NOT NULL,
    held_tables regclass[] NOT NULL,
    CONSTRAINT _held_erasures_pkey PRIMARY KEY (kind, subject_ref)
);

COMMENT ON TABLE privacy._held_erasures IS 'Erasures that legal holds left pending, with the subject''s key (readable by no ordinary role) until the erasure completes';

COMMENT ON COLUMN privacy._held_erasures.held_tables IS 'The tables whose rows the holds kept at the last attempt; the erasure is tried again once no hold on the subject or on these tables is in force';
SELECT pg_catalog.pg_extension_config_dump('privacy._held_erasures', '');

CREATE FUNCTION privacy_internal._held_erasure(kind text, ref text) RETURNS jsonb
    LANGUAGE sql STABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
    BEGIN ATOMIC
	SELECT pg_catalog.jsonb_build_object('erasure_id', e.id, 'erased_at', e.erased_at,
										 'held_tables', privacy_internal._qualified_names(h.held_tables))
	  FROM privacy._held_erasures h
	  JOIN privacy.erasures e ON e.id OPERATOR(pg_catalog.=) h.erasure_id
	 WHERE h.kind OPERATOR(pg_catalog.=) $1 AND h.subject_ref OPERATOR(pg_catalog.=) $2;
END;

COMMENT ON FUNCTION privacy_internal._held_erasure(kind text, ref text) IS 'The pending erasure of a subject that legal holds kept rows from (its id, when it ran and the tables held), or NULL';

REVOKE ALL ON FUNCTION privacy_internal._held_erasure(kind text, ref text) FROM PUBLIC;

CREATE FUNCTION privacy_internal._track_held_erasure(kind text, subject text, ref text, reason text, request_id bigint, receipt jsonb) RETURNS void
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
	erasure_id bigint;
	held regclass[];
	r record;
BEGIN
	SELECT pg_catalog.max(e.id) INTO erasure_id FROM privacy.erasures e
	 WHERE e.kind OPERATOR(pg_catalog.=) _track_held_erasure.kind AND e.subject_ref OPERATOR(pg_catalog.=) ref;
	IF (receipt OPERATOR(pg_catalog.->>) 'pending')::boolean THEN
		held := ARRAY(SELECT DISTINCT (t.line OPERATOR(pg_catalog.->>) 'table')::pg_catalog.regclass
						FROM pg_catalog.jsonb_array_elements(receipt OPERATOR(pg_catalog.->) 'tables') t(line)
					   WHERE (t.line OPERATOR(pg_catalog.->>) 'held')::bigint OPERATOR(pg_catalog.>) 0
					   ORDER BY 1);
		-- The first erasure is the one the pending state names.
		INSERT INTO privacy._held_erasures AS h (kind, subject_ref, subject, erasure_id, request_id, reason, held_tables)
		VALUES (_track_held_erasure.kind, ref, subject, erasure_id, request_id, reason, held)
		ON CONFLICT ON CONSTRAINT _held_erasures_pkey
		DO UPDATE SET held_tables = EXCLUDED.held_tables,
					  request_id = COALESCE(h.request_id, EXCLUDED.request_id);
		RETURN;
	END IF;
	DELETE FROM privacy._held_erasures h
	 WHERE h.kind OPERATOR(pg_catalog.=) _track_held_erasure.kind AND h.subject_ref OPERATOR(pg_catalog.=) ref;
	-- Requests that waited for the holds are fulfilled by this erasure.
	FOR r IN
		UPDATE privacy.subject_requests sr
		   SET status = 'completed', completed_at = pg_catalog.now(),
			   outcome = receipt OPERATOR(pg_catalog.-) 'tables'::text OPERATOR(pg_catalog.-) 'ledgers'::text
		 WHERE sr.kind OPERATOR(pg_catalog.=) _track_held_erasure.kind AND sr.subject_ref OPERATOR(pg_catalog.=) ref
		   AND sr.status OPERATOR(pg_catalog.=) 'held'
		RETURNING sr.id
	LOOP
		PERFORM privacy_internal._audit(SESSION_USER, 'request.completed', _track_held_erasure.kind, NULL, r.id,
							   pg_catalog.jsonb_build_object('right', 'erasure', 'erasure_id', erasure_id));
	END LOOP;
END
$$;

COMMENT ON FUNCTION privacy_internal._track_held_erasure(kind text, subject text, ref text, reason text, request_id bigint, receipt jsonb) IS 'After an erasure: keeps it pending while legal holds keep rows of the subject, or ends the pending state and completes the requests that waited for it';

REVOKE ALL ON FUNCTION privacy_internal._track_held_erasure(kind text, subject text, ref text, reason text, request_id bigint, receipt jsonb) FROM PUBLIC;

CREATE FUNCTION privacy_internal._complete_held_erasures() RETURNS integer
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
	p privacy._held_erasures;
	completed integer := 0;
BEGIN
	FOR p IN
		SELECT h.* FROM privacy._held_erasures h
		 WHERE NOT EXISTS (SELECT FROM privacy.legal_holds l
							WHERE l.released_at IS NULL
							  AND ((l.kind OPERATOR(pg_catalog.=) h.kind AND l.subject_ref OPERATOR(pg_catalog.=) h.subject_ref)
								   OR l.table_name OPERATOR(pg_catalog.=) ANY (h.held_tables)))
		 ORDER BY h.erasure_id
	LOOP
		BEGIN
			-- Another session may have completed it meanwhile.
			PERFORM FROM privacy._held_erasures h
			 WHERE h.kind OPERATOR(pg_catalog.=) p.kind AND h.subject_ref OPERATOR(pg_catalog.=) p.subject_ref
			   FOR UPDATE;
			CONTINUE WHEN NOT FOUND;
			PERFORM privacy_internal._erase_subject(p.kind, p.subject, p.reason, p.request_id);
			completed := completed OPERATOR(pg_catalog.+) 1;
		EXCEPTION WHEN OTHERS THEN
			RAISE WARNING 'could not complete erasure %, which legal holds had kept pending: %', p.erasure_id, SQLERRM
				USING HINT = 'The next retention run tries again; privacy.lint() names what keeps an erasure from succeeding.';
		END;
	END LOOP;
	RETURN completed;
END
$$;

COMMENT ON FUNCTION privacy_internal._complete_held_erasures() IS 'Runs again the pending erasures whose legal holds were all released (called when a hold is released and by each retention run); returns how many it ran';

REVOKE ALL ON FUNCTION privacy_internal._complete_held_erasures() FROM PUBLIC;

CREATE FUNCTION privacy_internal._lint_erasure_anonymization()
RETURNS TABLE (severity text, object text, problem text, hint text)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	-- Erasure anonymises, instead of deleting, the rows of a personal table
	-- that rows kept elsewhere reference, and every row of a table whose
	-- rule anonymises; it clears their classified columns to NULL, or to a
	-- marker where the column is NOT NULL and of a text type or
	-- privacy.email. Any other NOT NULL classified column fails it (23502).
	-- Rows are kept for sure by a rule with a legal minimum or that
	-- anonymises, and by a table erasure does not touch; otherwise only a
	-- legal hold keeps them.
	WITH personal AS (
		SELECT DISTINCT m.kind, m.table_name FROM privacy.subject_map m
		 WHERE m.kind IS NOT NULL AND m.personal AND m.status OPERATOR(pg_catalog.<>) 'ambiguous'
	), keepers AS (
		SELECT p.table_name,
			   pg_catalog.array_agg(DISTINCT c.conrelid::regclass ORDER BY c.conrelid::regclass)
				 FILTER (WHERE EXISTS (SELECT FROM privacy.retention_rules rr
										 WHERE rr.table_name OPERATOR(pg_catalog.=) c.conrelid
										   AND (rr.minimum IS NOT NULL OR rr.action OPERATOR(pg_catalog.=) 'anonymize'))
							OR NOT EXISTS (SELECT FROM personal q
											WHERE q.kind OPERATOR(pg_catalog.=) p.kind
											  AND q.table_name OPERATOR(pg_catalog.=) c.conrelid)) AS keeping,
			   pg_catalog.bool_or(c.oid IS NOT NULL) AS referenced,
			   EXISTS (SELECT FROM privacy.retention_rules rr
						WHERE rr.table_name OPERATOR(pg_catalog.=) p.table_name
						  AND rr.action OPERATOR(pg_catalog.=) 'anonymize') AS anonymized
		  FROM personal p
		  LEFT JOIN pg_catalog.pg_constraint c
			ON c.contype OPERATOR(pg_catalog.=) 'f' AND c.confrelid OPERATOR(pg_catalog.=) p.table_name
		   AND c.conrelid OPERATOR(pg_catalog.<>) p.table_name
		 GROUP BY p.table_name
	)
	SELECT CASE WHEN k.anonymized OR k.keeping IS NOT NULL THEN 'error' ELSE 'warning' END,
		   pg_catalog.format('%s(%I)', privacy_internal._qualified_name(k.table_name), cc.column_name),
		   pg_catalog.format('is classified, NOT NULL and of type %s, which erasure cannot clear when it anonymises a row: %s',
			   pg_catalog.format_type(a.atttypid, a.atttypmod),
			   CASE WHEN k.anonymized THEN 'the table''s retention rule anonymises its rows'
					WHEN k.keeping IS NOT NULL
					THEN pg_catalog.format('rows of %s that erasure keeps reference its rows',
										   pg_catalog.array_to_string(ARRAY(SELECT privacy_internal._qualified_name(x)
																			   FROM pg_catalog.unnest(k.keeping) x), ', '))
					ELSE 'rows of tables referencing it that a legal hold keeps make erasure anonymise its rows' END),
		   pg_catalog.format('Allow NULL in the column (ALTER TABLE %s ALTER COLUMN %I DROP NOT NULL), or stop classifying it; until then privacy.erase_subject() fails with SQLSTATE 23502 for every subject with such a row.',
							 privacy_internal._qualified_name(k.table_name), cc.column_name)
	  FROM keepers k
	  JOIN privacy.classified_columns cc ON cc.table_name OPERATOR(pg_catalog.=) k.table_name
	  JOIN pg_catalog.pg_attribute a
		ON a.attrelid OPERATOR(pg_catalog.=) k.table_name AND a.attname OPERATOR(pg_catalog.=) cc.column_name
	   AND a.attnum OPERATOR(pg_catalog.>) 0 AND NOT a.attisdropped
	  JOIN pg_catalog.pg_type t ON t.oid OPERATOR(pg_catalog.=) a.atttypid
	 WHERE (k.anonymized OR k.referenced) AND a.attnotnull
	   AND t.typcategory OPERATOR(pg_catalog.<>) 'S' AND a.atttypid OPERATOR(pg_catalog.<>) 'privacy.email'::pg_catalog.regtype
	 ORDER BY 2, 3;
END;

COMMENT ON FUNCTION privacy_internal._lint_erasure_anonymization() IS 'lint: classified NOT NULL columns of a type erasure cannot clear, in tables whose rows erasure anonymises instead of deleting';

CREATE OR REPLACE FUNCTION privacy.erase_subject(request_id bigint, reason text) RETURNS jsonb
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
	r privacy.subject_requests;
	previous privacy.erasures;
	receipt jsonb;
	result jsonb;
	held boolean;
BEGIN
	r := privacy_internal._open_request_for(request_id, ARRAY['erasure']);
	IF r.subject IS NULL THEN
		-- The subject was erased after the request was opened: that
		-- erasure's receipt is the request's outcome.
		SELECT * INTO previous FROM privacy.erasures e
		 WHERE e.kind OPERATOR(pg_catalog.=) r.kind AND e.subject_ref OPERATOR(pg_catalog.=) r.subject_ref
		 ORDER BY e.id DESC LIMIT 1;
		IF NOT FOUND THEN
			RAISE EXCEPTION 'request % names a subject that no longer exists and has no erasure receipt', request_id
				USING ERRCODE = 'object_not_in_prerequisite_state',
					  HINT = 'Close the request as rejected with privacy.close_request(), giving the reasons.';
		END IF;
		receipt := pg_catalog.jsonb_build_object('kind', r.kind, 'subject_ref', r.subject_ref, 'changed', false,
			'already_erased', true, 'erased_at', previous.erased_at, 'erasure_id', previous.id,
			'request_id', r.id, 'tables', '[]'::jsonb,
			'note', 'The subject was erased before; nothing more was found to erase.');
		result := (previous.receipt OPERATOR(pg_catalog.-) 'tables'::text OPERATOR(pg_catalog.-) 'ledgers'::text)
				   OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object('erasure_id', previous.id);
	ELSE
		receipt := privacy_internal._erase_subject(r.kind, r.subject, privacy_internal._erasure_reason(reason), r.id);
		result := receipt OPERATOR(pg_catalog.-) 'tables'::text OPERATOR(pg_catalog.-) 'ledgers'::text;
	END IF;
	-- Rows a legal hold keeps leave the request held: it completes when the
	-- erasure does (privacy_internal._track_held_erasure).
	held := COALESCE((receipt OPERATOR(pg_catalog.->>) 'pending')::boolean, false);
	UPDATE privacy.subject_requests sr
	   SET status = CASE WHEN held THEN 'held' ELSE 'completed' END,
		   completed_at = CASE WHEN held THEN NULL ELSE pg_catalog.now() END, outcome = result
	 WHERE sr.id OPERATOR(pg_catalog.=) r.id;
	PERFORM privacy_internal._redact_erased_subject_text(r.kind, r.subject_ref);
	PERFORM privacy_internal._audit(SESSION_USER, CASE WHEN held THEN 'request.held' ELSE 'request.completed' END,
						   r.kind, NULL, r.id,
						   pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object('right', 'erasure',
								'erasure_id', previous.id)));
	RETURN receipt;
END
$$;

COMMENT ON FUNCTION privacy.erase_subject(request_id bigint, reason text) IS 'Runs the erasure an erasure request asks for and marks the request completed, with the receipt as its outcome (the earlier receipt if the subject was erased meanwhile); held instead while legal holds keep rows, until the erasure completes when they are released';

REVOKE ALL ON FUNCTION privacy.erase_subject(request_id bigint, reason text) FROM PUBLIC;

-- protect() refuses a table Citus distributes (src/protection/distributed_tables.c):
-- _install_protection() calls the refusal before it creates any policy.
CREATE FUNCTION privacy_internal._refuse_citus_table(rel regclass) RETURNS void
    LANGUAGE c STRICT SET search_path TO 'pg_catalog', 'pg_temp'
    AS 'MODULE_PATHNAME', 'privacy_refuse_citus_table';
REVOKE ALL ON FUNCTION privacy_internal._refuse_citus_table(rel regclass) FROM PUBLIC;
COMMENT ON FUNCTION privacy_internal._refuse_citus_table(rel regclass) IS 'Refuses to protect a table Citus distributes: the workers would check its row policies without the purpose grants, consent or purpose';
DO $$
BEGIN
	EXECUTE pg_catalog.regexp_replace(
		pg_catalog.pg_get_functiondef('privacy_internal._install_protection(regclass, text[], boolean)'::pg_catalog.regprocedure),
		'(\n\tEXECUTE pg_catalog\.format\(''CREATE POLICY privacy_purpose)',
		E'\n\tPERFORM privacy_internal._refuse_citus_table(rel);\\1');
END
$$;

-- The disclosure log (src/recipients/): disclosures of a subject's data to
-- the policy's recipients, listed by the export, forgotten with the erased
-- subject, counted by processing_record(); restrict() records the
-- recipients to tell.
CREATE TABLE privacy.disclosures (
    id bigint GENERATED BY DEFAULT AS IDENTITY,
    disclosed_at timestamp with time zone DEFAULT clock_timestamp() NOT NULL,
    actor name NOT NULL,
    kind text NOT NULL,
    subject text,
    subject_ref text NOT NULL,
    recipient text NOT NULL,
    categories text[] NOT NULL,
    legal_basis text NOT NULL,
    reference text,
    details jsonb DEFAULT '{}'::jsonb NOT NULL,
    CONSTRAINT disclosures_categories_check CHECK ((cardinality(categories) > 0)),
    CONSTRAINT disclosures_details_check CHECK ((jsonb_typeof(details) = 'object'::text)),
    CONSTRAINT disclosures_legal_basis_check CHECK ((legal_basis = ANY (ARRAY['contract'::text, 'legitimate_interest'::text, 'consent'::text, 'legal_obligation'::text]))),
    CONSTRAINT disclosures_pkey PRIMARY KEY (id)
);

COMMENT ON TABLE privacy.disclosures IS 'Every disclosure of a data subject''s personal data to a recipient: append-only; an erased subject''s entries keep only its reference';
SELECT pg_catalog.pg_extension_config_dump('privacy.disclosures', '');
SELECT pg_catalog.pg_extension_config_dump('privacy.disclosures_id_seq', '');

CREATE INDEX disclosures_subject_idx ON privacy.disclosures USING btree (kind, subject_ref);

CREATE FUNCTION privacy_internal._disclosures_are_append_only() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
BEGIN
	IF TG_OP = 'UPDATE' AND OLD.subject IS NOT NULL AND NEW.subject IS NULL
	   AND NEW.details = privacy_internal._redacted_evidence(OLD.details)
	   AND NEW.reference IS NOT DISTINCT FROM privacy_internal._redacted_text('disclosure.reference', OLD.reference)
	   AND (NEW.id, NEW.disclosed_at, NEW.actor, NEW.kind, NEW.subject_ref, NEW.recipient, NEW.categories, NEW.legal_basis)
		   IS NOT DISTINCT FROM
		   (OLD.id, OLD.disclosed_at, OLD.actor, OLD.kind, OLD.subject_ref, OLD.recipient, OLD.categories, OLD.legal_basis) THEN
		RETURN NEW;
	END IF;
	RAISE EXCEPTION 'privacy.disclosures is append-only'
		USING ERRCODE = 'insufficient_privilege',
			  DETAIL = pg_catalog.format('%s is not allowed on the disclosure log.', TG_OP),
			  HINT = 'Disclosures are added by privacy.record_disclosure() and privacy.record_disclosures().';
END
$$;

COMMENT ON FUNCTION privacy_internal._disclosures_are_append_only() IS 'Trigger: refuses UPDATE (except forgetting an erased subject), DELETE and TRUNCATE on the disclosure log';

REVOKE ALL ON FUNCTION privacy_internal._disclosures_are_append_only() FROM PUBLIC;

CREATE TRIGGER append_only BEFORE DELETE OR UPDATE ON privacy.disclosures FOR EACH ROW EXECUTE FUNCTION privacy_internal._disclosures_are_append_only();

CREATE TRIGGER append_only_truncate BEFORE TRUNCATE ON privacy.disclosures FOR EACH STATEMENT EXECUTE FUNCTION privacy_internal._disclosures_are_append_only();

CREATE FUNCTION privacy_internal._record_disclosures(kind text, subjects text[], recipient text, categories text[],
													 legal_basis text, reference text, details jsonb)
RETURNS TABLE (subject text, disclosure_id bigint)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $_$
DECLARE
	r privacy.recipients;
	bases text[];
	unknown text;
	cats text[];
	keys text[] := '{}';
	key text;
	ref text;
	erased boolean;
	i integer;
	actor name := privacy_internal._acting_role();
BEGIN
	IF recipient IS NULL THEN
		RAISE EXCEPTION 'recipient must not be null'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	SELECT * INTO r FROM privacy.recipients rr WHERE rr.name OPERATOR(pg_catalog.=) recipient;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'unrecognized recipient "%"', recipient
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Recipients are declared by the policy document; privacy.recipients lists them.';
	END IF;
	IF categories IS NULL OR pg_catalog.cardinality(categories) OPERATOR(pg_catalog.=) 0
	   OR pg_catalog.array_position(categories, NULL) IS NOT NULL THEN
		RAISE EXCEPTION 'a disclosure needs at least one category of personal data, and no null one'
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Name the categories disclosed, for example ARRAY[''contact.email''].';
	END IF;
	SELECT c INTO unknown FROM pg_catalog.unnest(categories) c
	 WHERE NOT EXISTS (SELECT FROM privacy.categories pc WHERE pc.name OPERATOR(pg_catalog.=) c) LIMIT 1;
	IF FOUND THEN
		RAISE EXCEPTION 'unrecognized category "%"', unknown
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Categories are declared by the policy document; privacy.categories lists them.';
	END IF;
	SELECT c INTO unknown FROM pg_catalog.unnest(categories) c
	  JOIN privacy.categories pc ON pc.name OPERATOR(pg_catalog.=) c WHERE pc.special LIMIT 1;
	IF FOUND THEN
		RAISE EXCEPTION 'cannot record a disclosure of special category "%"', unknown
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = 'The controller does not hold special categories of personal data.',
				  HINT = 'privacy.processing_record() lists the special categories the policy refuses.';
	END IF;
	SELECT pg_catalog.array_agg(DISTINCT c ORDER BY c) INTO cats FROM pg_catalog.unnest(categories) c;
	IF legal_basis IS NULL OR NOT legal_basis OPERATOR(pg_catalog.=) ANY (ARRAY['contract', 'legitimate_interest', 'consent', 'legal_obligation']) THEN
		RAISE EXCEPTION 'unrecognized legal basis "%"', legal_basis
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Valid legal bases are contract, legitimate_interest, consent and legal_obligation.';
	END IF;
	SELECT pg_catalog.array_agg(DISTINCT p.legal_basis) INTO bases
	  FROM privacy.purposes p WHERE p.name OPERATOR(pg_catalog.=) ANY (r.purposes);
	IF bases IS NOT NULL AND NOT legal_basis OPERATOR(pg_catalog.=) ANY (bases) THEN
		RAISE EXCEPTION 'recipient "%" receives no data under legal basis "%"', r.name, legal_basis
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = pg_catalog.format('Its purposes rest on %s.', pg_catalog.array_to_string(bases, ', ')),
				  HINT = 'The policy document declares the purposes of each recipient.';
	END IF;
	IF r.kind OPERATOR(pg_catalog.=) 'authority' AND (reference IS NULL OR pg_catalog.btrim(reference) OPERATOR(pg_catalog.=) '') THEN
		RAISE EXCEPTION 'a disclosure to authority "%" needs a reference', r.name
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Give the reference of the court order or of the authority''s request.';
	END IF;
	IF details IS NULL OR pg_catalog.jsonb_typeof(details) OPERATOR(pg_catalog.<>) 'object' THEN
		RAISE EXCEPTION 'details of a disclosure must be a JSON object'
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Describe the disclosure, for example {"channel": "sftp", "file": "export-42.csv"}.';
	END IF;
	IF subjects IS NULL OR pg_catalog.cardinality(subjects) OPERATOR(pg_catalog.=) 0 THEN
		RAISE EXCEPTION 'a disclosure needs at least one subject'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;

	-- Every subject is checked before anything is recorded.
	FOR i IN 1 .. pg_catalog.cardinality(subjects) LOOP
		IF subjects[i] IS NULL THEN
			RAISE EXCEPTION 'subject of a disclosure must not be null'
				USING ERRCODE = 'null_value_not_allowed';
		END IF;
		key := privacy_internal._canonical_subject(kind, subjects[i], true);
		IF key OPERATOR(pg_catalog.=) ANY (keys) THEN
			RAISE EXCEPTION 'subjects of a disclosure must be distinct'
				USING ERRCODE = 'invalid_parameter_value',
					  DETAIL = pg_catalog.format('Subject %s names the same subject as an earlier one.', i);
		END IF;
		keys := keys OPERATOR(pg_catalog.||) key;
	END LOOP;

	FOR i IN 1 .. pg_catalog.cardinality(keys) LOOP
		-- Under the subject's ledger lock, which the erasure takes to
		-- forget the subject: an erasure that committed meanwhile leaves
		-- no subject to disclose, or only rows kept under a legal
		-- obligation, whose disclosure is recorded as forgotten at once.
		PERFORM privacy_internal._lock_subject('consent_ledger', kind, keys[i]);
		PERFORM privacy_internal._canonical_subject(kind, keys[i], true);
		ref := privacy.subject_ref(kind, keys[i]);
		erased := EXISTS (SELECT FROM privacy.erasures e
						   WHERE e.kind OPERATOR(pg_catalog.=) _record_disclosures.kind
							 AND e.subject_ref OPERATOR(pg_catalog.=) ref);
		subject := subjects[i];
		INSERT INTO privacy.disclosures (actor, kind, subject, subject_ref, recipient, categories, legal_basis, reference, details)
		VALUES (actor, kind, CASE WHEN erased THEN NULL ELSE keys[i] END, ref, r.name, cats, legal_basis,
				CASE WHEN erased THEN privacy_internal._redacted_text('disclosure.reference', reference) ELSE reference END,
				CASE WHEN erased THEN privacy_internal._redacted_evidence(details) ELSE details END)
		RETURNING id INTO disclosure_id;
		PERFORM privacy_internal._audit(actor, 'disclosure', kind, keys[i], NULL,
							   pg_catalog.jsonb_build_object('disclosure_id', disclosure_id, 'recipient', r.name,
															 'categories', pg_catalog.to_jsonb(cats), 'legal_basis', legal_basis));
		RETURN NEXT;
	END LOOP;
END
$_$;

COMMENT ON FUNCTION privacy_internal._record_disclosures(kind text, subjects text[], recipient text, categories text[], legal_basis text, reference text, details jsonb) IS 'Validates a disclosure and appends one audited entry per subject to the disclosure log; all or nothing';

REVOKE ALL ON FUNCTION privacy_internal._record_disclosures(kind text, subjects text[], recipient text, categories text[], legal_basis text, reference text, details jsonb) FROM PUBLIC;

CREATE FUNCTION privacy.record_disclosure(kind text, subject text, recipient text, categories text[],
										  legal_basis text, reference text DEFAULT NULL, details jsonb DEFAULT '{}')
RETURNS bigint
LANGUAGE sql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT d.disclosure_id
	  FROM privacy_internal._record_disclosures(kind, ARRAY[subject], recipient, categories, legal_basis, reference, details) d;
END;

COMMENT ON FUNCTION privacy.record_disclosure(kind text, subject text, recipient text, categories text[], legal_basis text, reference text, details jsonb) IS 'Records that categories of a data subject''s personal data were disclosed to a recipient of the policy under a legal basis (an authority needs the reference of its court order or request); returns the disclosure''s id';

REVOKE ALL ON FUNCTION privacy.record_disclosure(kind text, subject text, recipient text, categories text[], legal_basis text, reference text, details jsonb) FROM PUBLIC;

CREATE FUNCTION privacy.record_disclosures(kind text, subjects text[], recipient text, categories text[],
										   legal_basis text, reference text DEFAULT NULL, details jsonb DEFAULT '{}')
RETURNS TABLE (subject text, disclosure_id bigint)
LANGUAGE sql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT d.subject, d.disclosure_id
	  FROM privacy_internal._record_disclosures(kind, subjects, recipient, categories, legal_basis, reference, details) d;
END;

COMMENT ON FUNCTION privacy.record_disclosures(kind text, subjects text[], recipient text, categories text[], legal_basis text, reference text, details jsonb) IS 'Records one disclosure of many data subjects at once (for example subjects => ARRAY(SELECT ...)): one entry per subject, all or none; returns each subject as given with its disclosure''s id';

REVOKE ALL ON FUNCTION privacy.record_disclosures(kind text, subjects text[], recipient text, categories text[], legal_basis text, reference text, details jsonb) FROM PUBLIC;

CREATE FUNCTION privacy_internal._disclosure_recipients(kind text, subject_ref text)
RETURNS text[]
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT COALESCE(pg_catalog.array_agg(DISTINCT d.recipient ORDER BY d.recipient), '{}')
	  FROM privacy.disclosures d
	 WHERE d.kind OPERATOR(pg_catalog.=) _disclosure_recipients.kind
	   AND d.subject_ref OPERATOR(pg_catalog.=) _disclosure_recipients.subject_ref;
END;

COMMENT ON FUNCTION privacy_internal._disclosure_recipients(kind text, subject_ref text) IS 'The recipients a subject''s data was disclosed to, by the subject''s reference';

REVOKE ALL ON FUNCTION privacy_internal._disclosure_recipients(kind text, subject_ref text) FROM PUBLIC;

CREATE FUNCTION privacy.disclosed_to(kind text, subject text)
RETURNS text[]
LANGUAGE sql STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT privacy_internal._disclosure_recipients(kind,
			   privacy.subject_ref(kind, privacy_internal._canonical_subject(kind, subject, false)));
END;

COMMENT ON FUNCTION privacy.disclosed_to(kind text, subject text) IS 'The recipients a data subject''s personal data was disclosed to, also after its erasure: those to tell of a rectification, erasure or restriction (GDPR Art. 19)';

REVOKE ALL ON FUNCTION privacy.disclosed_to(kind text, subject text) FROM PUBLIC;

CREATE FUNCTION privacy_internal._disclosure_counts()
RETURNS TABLE (recipient text, disclosures bigint)
LANGUAGE sql STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT d.recipient, pg_catalog.count(*) FROM privacy.disclosures d GROUP BY d.recipient;
END;

COMMENT ON FUNCTION privacy_internal._disclosure_counts() IS 'The number of disclosures to each recipient, for privacy.processing_record()';

REVOKE ALL ON FUNCTION privacy_internal._disclosure_counts() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION privacy_internal._disclosure_counts() TO PUBLIC;

CREATE VIEW privacy.rectification_notices AS
WITH last_disclosure AS (
	SELECT d.kind, d.subject, d.subject_ref, d.recipient, pg_catalog.max(d.disclosed_at) AS disclosed_at
	  FROM privacy.disclosures d
	 WHERE d.subject IS NOT NULL
	 GROUP BY d.kind, d.subject, d.subject_ref, d.recipient
)
SELECT l.kind, l.subject, l.recipient, l.disclosed_at,
	   pg_catalog.max(a.logged_at) AS rectified_at,
	   pg_catalog.array_agg(DISTINCT a.summary OPERATOR(pg_catalog.->>) 'table') AS tables
  FROM last_disclosure l
  JOIN privacy.audit_log a ON a.subject_ref OPERATOR(pg_catalog.=) l.subject_ref
 WHERE a.action OPERATOR(pg_catalog.=) 'rectification'
   AND a.logged_at OPERATOR(pg_catalog.>) l.disclosed_at
 GROUP BY l.kind, l.subject, l.recipient, l.disclosed_at;

COMMENT ON VIEW privacy.rectification_notices IS 'Recipients to tell of a rectification (GDPR Art. 19): a subject''s data rectified after its last disclosure to the recipient; passing on the corrected data, recorded with privacy.record_disclosure(), settles the notice';

CREATE OR REPLACE FUNCTION privacy.restrict(kind text, subject text, reason text) RETURNS bigint
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

-- processing_record() reads the disclosure log of a later area, hence a
-- string body.
CREATE OR REPLACE FUNCTION privacy.processing_record()
RETURNS jsonb
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
	WITH doc AS (SELECT privacy.policy() AS d),
	classified AS MATERIALIZED (
		SELECT cc.*, privacy_internal._qualified_name(cc.table_name) AS qualified
		  FROM privacy.classified_columns cc),
	mapped AS MATERIALIZED (
		SELECT m.kind, m.table_name, m.depth FROM privacy.subject_map m WHERE m.personal)
	SELECT pg_catalog.jsonb_build_object(
		'record', 'Record of processing activities (GDPR Art. 30(1))',
		'generated_at', pg_catalog.now(),
		'policy_version', doc.d -> 'version',
		'effective_date', doc.d -> 'effective_date',
		'controller', doc.d -> 'controller',
		'purposes', (
			SELECT COALESCE(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
				'purpose', p.name, 'description', p.description,
				'legal_basis', p.legal_basis,
				'article', privacy_internal._legal_basis_article(p.legal_basis),
				'allowed_under_restriction', p.allowed_under_restriction) ORDER BY p.name), '[]')
			  FROM privacy.purposes p),
		'categories_of_data_subjects', (
			SELECT COALESCE(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
				'kind', k.name, 'description', k.description,
				'anchor', pg_catalog.format('%s.%I', privacy_internal._qualified_name(k.table_name), k.key_column),
				'tables', (SELECT COALESCE(pg_catalog.jsonb_agg(
								privacy_internal._qualified_name(m.table_name) ORDER BY m.depth, m.table_name), '[]')
							 FROM mapped m WHERE m.kind = k.name))
				ORDER BY k.name), '[]')
			  FROM privacy.subject_kinds k),
		'categories_of_personal_data', (
			SELECT COALESCE(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
				'category', c.name, 'description', c.description,
				'columns', cols.columns, 'sources', cols.sources) ORDER BY c.name), '[]')
			  FROM privacy.categories c
			  JOIN LATERAL (
				SELECT pg_catalog.jsonb_agg(pg_catalog.format('%s.%I', cc.qualified, cc.column_name)
											ORDER BY cc.qualified, cc.column_name) AS columns,
					   pg_catalog.jsonb_agg(DISTINCT cc.source) AS sources
				  FROM classified cc WHERE cc.category = c.name) cols ON cols.columns IS NOT NULL),
		'special_categories', pg_catalog.jsonb_build_object(
			'statement', 'The controller does not intend to process these categories of data and refuses columns classified into them.',
			'categories', (SELECT COALESCE(pg_catalog.jsonb_agg(c.name ORDER BY c.name), '[]')
							 FROM privacy.categories c WHERE c.special)),
		'sources', doc.d -> 'sources',
		'recipients', (
			SELECT COALESCE(pg_catalog.jsonb_agg(pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object(
				'recipient', r.name, 'kind', r.kind, 'dpa_reference', r.dpa_reference,
				'purposes', pg_catalog.to_jsonb(r.purposes), 'description', r.description,
				'disclosures', COALESCE(n.disclosures, 0))) ORDER BY r.name), '[]')
			  FROM privacy.recipients r
			  LEFT JOIN privacy_internal._disclosure_counts() n ON n.recipient = r.name),
		'retention', (
			SELECT COALESCE(pg_catalog.jsonb_agg(pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object(
				'rule', rr.name, 'table', privacy_internal._qualified_name(rr.table_name),
				'categories', (SELECT pg_catalog.jsonb_agg(DISTINCT cc.category) FROM classified cc
								WHERE cc.table_name = rr.table_name
								  AND (rr.action = 'delete' OR cc.column_name = ANY (rr.columns))),
				'period', rr.period, 'counted_from', rr.anchor, 'action', rr.action,
				'legal_basis', rr.legal_basis, 'minimum', rr.minimum,
				'minimum_from', CASE WHEN rr.minimum IS NOT NULL THEN rr.minimum_from END,
				'description', rr.description)) ORDER BY rr.name), '[]')
			  FROM privacy.retention_rules rr),
		'tables_without_retention_rule', (
			SELECT COALESCE(pg_catalog.jsonb_agg(DISTINCT cc.qualified), '[]')
			  FROM classified cc
			 WHERE NOT EXISTS (SELECT FROM privacy.retention_rules rr WHERE rr.table_name = cc.table_name)))
	  FROM doc
$$;

COMMENT ON FUNCTION privacy.processing_record() IS 'The record of processing activities (GDPR Art. 30), generated from the catalog, with the number of disclosures to each recipient';

COMMENT ON FUNCTION privacy.export_subject(kind text, subject text) IS 'Every personal row of a data subject, grouped by table with each column''s category, and what GDPR Art. 15 requires: purposes, legal bases, categories, recipients, retention, sources, consent history, disclosures, rights';
