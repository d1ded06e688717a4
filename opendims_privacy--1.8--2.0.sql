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
