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

-- Consent events are recorded in C with statements kept per session; the
-- ledger's state follows from one statement trigger per inserting
-- statement (set-based, for imports too), and the state's primary key,
-- (kind, subject, purpose), also serves lookups by subject.
CREATE OR REPLACE FUNCTION privacy_internal._record(action text, kind text, subject text, purpose text, source text, evidence jsonb) RETURNS bigint
    LANGUAGE c SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS 'MODULE_PATHNAME', 'privacy_record';

CREATE OR REPLACE FUNCTION privacy.grant_consent(kind text, subject text, purpose text,
									  source text DEFAULT 'direct', evidence jsonb DEFAULT '{}')
RETURNS bigint
LANGUAGE c SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'privacy_grant_consent';

CREATE OR REPLACE FUNCTION privacy.withdraw_consent(kind text, subject text, purpose text,
										 source text DEFAULT 'direct', evidence jsonb DEFAULT '{}')
RETURNS bigint
LANGUAGE c SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'privacy_withdraw_consent';

CREATE OR REPLACE FUNCTION privacy.object(kind text, subject text, purpose text,
							   source text DEFAULT 'direct', evidence jsonb DEFAULT '{}')
RETURNS bigint
LANGUAGE c SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'privacy_object';

CREATE OR REPLACE FUNCTION privacy.lift_restriction(kind text, subject text, reason text DEFAULT NULL)
RETURNS bigint
LANGUAGE c SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'privacy_lift_restriction';

DROP TRIGGER maintain_state ON privacy.consent_ledger;
CREATE OR REPLACE FUNCTION privacy_internal._maintain_ledger_state() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
BEGIN
	-- One statement for all the events a statement inserted: the latest
	-- event of each (kind, subject, purpose) decides its state.
	WITH latest AS (
		SELECT DISTINCT ON (e.kind, e.subject, COALESCE(e.purpose, ''))
			   e.kind, e.subject, COALESCE(e.purpose, '') AS purpose, e.id,
			   CASE e.action WHEN 'consent.grant' THEN 'granted'
							 WHEN 'objection' THEN 'objected'
							 WHEN 'restriction' THEN 'restricted' END AS status
		  FROM new_events e
		 ORDER BY e.kind, e.subject, COALESCE(e.purpose, ''), e.id DESC),
	ended AS (
		DELETE FROM privacy._ledger_state s
		 USING latest l
		 WHERE l.status IS NULL
		   AND s.kind = l.kind AND s.subject = l.subject AND s.purpose = l.purpose)
	INSERT INTO privacy._ledger_state AS s (kind, purpose, subject, status, event_id)
	SELECT l.kind, l.purpose, l.subject, l.status, l.id FROM latest l WHERE l.status IS NOT NULL
	ON CONFLICT (kind, subject, purpose)
	DO UPDATE SET status = EXCLUDED.status, event_id = EXCLUDED.event_id;
	RETURN NULL;
END
$$;
COMMENT ON FUNCTION privacy_internal._maintain_ledger_state() IS 'Statement trigger: applies the ledger events a statement inserted to privacy._ledger_state';
CREATE TRIGGER maintain_state AFTER INSERT ON privacy.consent_ledger REFERENCING NEW TABLE AS new_events FOR EACH STATEMENT EXECUTE FUNCTION privacy_internal._maintain_ledger_state();

-- The subject first in the state's key: it tells rows apart at the first
-- column, where the kind, the same in nearly every row, never does.
ALTER TABLE privacy._ledger_state DROP CONSTRAINT _ledger_state_pkey,
	ADD CONSTRAINT _ledger_state_pkey PRIMARY KEY (subject, kind, purpose);
DROP INDEX privacy._ledger_state_subject_idx;

-- Bulk consent import from a staging table (privacy.import_consents).
CREATE FUNCTION privacy_internal._import_consents(kind text, purpose text, source text, staging regclass,
												 has_granted_at boolean, has_evidence boolean, evidence jsonb,
												 anchor text, key_column text, key_type text, key_operator text)
RETURNS jsonb
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
SET jit = off
SET enable_nestloop = off
AS $_$
DECLARE
	p privacy.purposes := privacy_internal._require_purpose(purpose, ARRAY['consent'], 'import consents for');
	version text := privacy_internal._policy_version();
	actor name := privacy_internal._acting_role();
	n_rows bigint;
	n_distinct bigint;
	n_future bigint;
	n_bad_evidence bigint;
	n_absent bigint;
	n_erased bigint;
	n_recorded bigint;
	n_imported bigint;
	first_id bigint;
	last_id bigint;
	staged text;
	present text;
	recorded text;
	summary jsonb;
BEGIN
	IF source IS NULL OR NOT EXISTS (SELECT FROM privacy.sources s WHERE s.name OPERATOR(pg_catalog.=) source) THEN
		RAISE EXCEPTION 'unrecognized source "%"', source
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Sources are declared by the policy document; privacy.sources lists them.';
	END IF;
	IF evidence IS NULL OR pg_catalog.jsonb_typeof(evidence) OPERATOR(pg_catalog.<>) 'object' THEN
		RAISE EXCEPTION 'evidence must be a JSON object'
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Describe how the consents were captured, for example {"store": "crm", "form": "signup"}.';
	END IF;

	-- The import is ordered with every other change of the ledger: events
	-- of single subjects (which lock the ledger in ROW EXCLUSIVE mode when
	-- they insert) and erasures wait for it, and it for them.
	LOCK TABLE privacy.consent_ledger IN SHARE ROW EXCLUSIVE MODE;

	-- Each staged row with its canonical key (an invalid or null key is an
	-- error; OFFSET 0 keeps it computed once per row), read twice: to check
	-- every row, then to record them.
	staged := pg_catalog.format($sql$
		SELECT privacy_internal._canonical_subject($1, x.subject::pg_catalog.text, false) AS key,
			   %1$s AS granted_at, %2$s AS evidence
		  FROM %3$s x OFFSET 0$sql$,
		CASE WHEN has_granted_at THEN 'x.granted_at' ELSE 'NULL::pg_catalog.timestamptz' END,
		CASE WHEN has_evidence THEN 'x.evidence' ELSE 'NULL::pg_catalog.jsonb' END,
		staging);
	-- Whether the subject exists, and whether the ledger already holds an
	-- event of the subject for the purpose.
	present := pg_catalog.format('EXISTS (SELECT FROM %s a WHERE a.%s %s i.key::%s)',
								 anchor, key_column, key_operator, key_type);
	recorded := 'EXISTS (SELECT FROM privacy.consent_ledger l'
				' WHERE l.kind OPERATOR(pg_catalog.=) $1 AND l.subject OPERATOR(pg_catalog.=) i.key'
				' AND l.purpose OPERATOR(pg_catalog.=) $2 AND NOT l.forgotten)';

	-- A subject that does not exist may have been erased since the previous
	-- store recorded its consent: it is skipped. Any other is an error.
	EXECUTE pg_catalog.format($sql$
		SELECT pg_catalog.count(*), pg_catalog.count(DISTINCT i.key),
			   pg_catalog.count(*) FILTER (WHERE i.granted_at OPERATOR(pg_catalog.>) pg_catalog.now()),
			   pg_catalog.count(*) FILTER (WHERE pg_catalog.jsonb_typeof(i.evidence) OPERATOR(pg_catalog.<>) 'object'),
			   pg_catalog.count(*) FILTER (WHERE NOT i.present),
			   pg_catalog.count(*) FILTER (WHERE NOT i.present AND privacy_internal._subject_erased($1, i.key)),
			   pg_catalog.count(*) FILTER (WHERE i.present AND i.recorded)
		  FROM (SELECT i.*, %s AS present, %s AS recorded FROM (%s) i OFFSET 0) i$sql$,
		present, recorded, staged)
	  INTO n_rows, n_distinct, n_future, n_bad_evidence, n_absent, n_erased, n_recorded
	  USING kind, p.name;
	IF n_distinct OPERATOR(pg_catalog.<>) n_rows THEN
		RAISE EXCEPTION 'cannot import consents: "%" names a subject more than once', staging
			USING ERRCODE = 'unique_violation',
				  DETAIL = pg_catalog.format('Rows naming a subject that another row names too: %s. Each subject is imported once, with one consent.',
											 n_rows OPERATOR(pg_catalog.-) n_distinct),
				  HINT = 'Keep one row per subject, for example the latest consent of each.';
	END IF;
	IF n_future OPERATOR(pg_catalog.>) 0 THEN
		RAISE EXCEPTION 'cannot import consents: "%" has consents granted in the future', staging
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = pg_catalog.format('Rows whose granted_at is later than now: %s. granted_at is when the subject consented in the previous store.', n_future);
	END IF;
	IF n_bad_evidence OPERATOR(pg_catalog.>) 0 THEN
		RAISE EXCEPTION 'cannot import consents: evidence in "%" must be JSON objects', staging
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = pg_catalog.format('Rows whose evidence is not an object: %s.', n_bad_evidence),
				  HINT = 'Leave evidence null or make it an object, for example {"form": "signup"}.';
	END IF;
	IF n_erased OPERATOR(pg_catalog.<>) n_absent THEN
		RAISE EXCEPTION 'cannot import consents: "%" names subjects of kind "%" that do not exist', staging, kind
			USING ERRCODE = 'no_data_found',
				  DETAIL = pg_catalog.format('Rows naming a subject that no row of %s has as its %s, and that was not erased: %s.',
											 anchor, key_column, n_absent OPERATOR(pg_catalog.-) n_erased),
				  HINT = 'Remove the rows of subjects that do not exist from the staging table.';
	END IF;

	-- One ledger event per subject; a subject whose ledger already holds an
	-- event for the purpose keeps its history and is skipped. The ledger's
	-- trigger applies the events to the state in one statement. (No nested
	-- loops: one that scanned the ledger for each row would also scan the
	-- rows this statement inserts.)
	EXECUTE pg_catalog.format($sql$
		WITH events AS (
			INSERT INTO privacy.consent_ledger (actor, kind, subject, action, purpose, source, policy_version, evidence)
			SELECT $3, $1, i.key, 'consent.grant', $2, $4, $5,
				   $6 OPERATOR(pg_catalog.||) COALESCE(i.evidence, '{}')
				   OPERATOR(pg_catalog.||) pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object(
					   'imported', true, 'granted_at', i.granted_at))
			  FROM (%s) i
			 WHERE %s AND NOT %s
			RETURNING id)
		SELECT pg_catalog.count(*), pg_catalog.min(e.id), pg_catalog.max(e.id) FROM events e$sql$,
		staged, present, recorded)
	  INTO n_imported, first_id, last_id
	  USING kind, p.name, actor, source, version, evidence;

	summary := pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object(
		'purpose', p.name, 'source', source, 'policy_version', version, 'staging_table', staging::text,
		'imported', n_imported, 'skipped_recorded', n_recorded, 'skipped_erased', n_erased,
		'first_event_id', first_id, 'last_event_id', last_id));
	PERFORM privacy_internal._audit(actor, 'consent.import', kind, NULL, NULL, summary);
	RETURN summary;
END
$_$;

COMMENT ON FUNCTION privacy_internal._import_consents(kind text, purpose text, source text, staging regclass, has_granted_at boolean, has_evidence boolean, evidence jsonb, anchor text, key_column text, key_type text, key_operator text) IS 'The set-based part of privacy.import_consents(), run as the extension''s owner: validates every staged row, then records one ledger event per subject and one audit entry';

REVOKE ALL ON FUNCTION privacy_internal._import_consents(kind text, purpose text, source text, staging regclass, has_granted_at boolean, has_evidence boolean, evidence jsonb, anchor text, key_column text, key_type text, key_operator text) FROM PUBLIC;

CREATE FUNCTION privacy.import_consents(kind text, purpose text, source text, staging regclass,
										evidence jsonb DEFAULT '{}')
RETURNS jsonb
LANGUAGE c
AS 'MODULE_PATHNAME', 'privacy_import_consents';

COMMENT ON FUNCTION privacy.import_consents(kind text, purpose text, source text, staging regclass, evidence jsonb) IS 'Records the consents of many subjects to a consent purpose at once, from a staging table with a column subject and optionally granted_at (timestamptz) and evidence (jsonb): every row is validated or nothing is imported; one ledger event per subject (its evidence marked imported, with the original granted_at) and one audit entry; subjects erased since, or with events for the purpose already, are skipped; returns the counts';

REVOKE ALL ON FUNCTION privacy.import_consents(kind text, purpose text, source text, staging regclass, evidence jsonb) FROM PUBLIC;


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


-- The disclosure log (src/recipients/): disclosures of a subject's data to
-- the policy's recipients, listed by the export, forgotten with the erased
-- subject, counted by processing_record(); restrict() records the
-- recipients to tell.
CREATE TABLE privacy.disclosures (
    id bigint GENERATED BY DEFAULT AS IDENTITY,
    disclosed_at timestamp with time zone DEFAULT clock_timestamp() NOT NULL,
    actor text NOT NULL,
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

	-- Every subject is checked before anything is recorded: none is null,
	-- each exists (its canonical key, in order), and no two name the same
	-- subject (found by sorting, not by comparing each with every other).
	IF pg_catalog.array_position(subjects, NULL) IS NOT NULL THEN
		RAISE EXCEPTION 'subject of a disclosure must not be null'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	keys := ARRAY(SELECT privacy_internal._canonical_subject(kind, s.subject, true)
					FROM pg_catalog.unnest(subjects) WITH ORDINALITY s(subject, n) ORDER BY s.n);
	SELECT pg_catalog.min(d.n) INTO i
	  FROM (SELECT k.n, pg_catalog.row_number() OVER (PARTITION BY k.key ORDER BY k.n) AS nth
			  FROM pg_catalog.unnest(keys) WITH ORDINALITY k(key, n)) d
	 WHERE d.nth OPERATOR(pg_catalog.>) 1;
	IF i IS NOT NULL THEN
		RAISE EXCEPTION 'subjects of a disclosure must be distinct'
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = pg_catalog.format('Subject %s names the same subject as an earlier one.', i);
	END IF;

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

-- Masking rules, masked roles and recipients in the policy document;
-- masking views and anonymised copies (src/masking/).

CREATE TABLE privacy.masking_rules (
    category text,
    table_name regclass,
    column_name name,
    method text NOT NULL,
    parameters jsonb DEFAULT '{}'::jsonb NOT NULL,
    CONSTRAINT masking_rules_method_check CHECK ((method = ANY (ARRAY['mask'::text, 'pseudonymize'::text, 'null'::text, 'constant'::text, 'month'::text, 'year'::text, 'range'::text, 'network'::text, 'first_letters'::text]))),
    CONSTRAINT masking_rules_target_check CHECK (((category IS NULL) = (table_name IS NOT NULL)) AND ((table_name IS NULL) = (column_name IS NULL))),
    CONSTRAINT masking_rules_target_key UNIQUE NULLS NOT DISTINCT (category, table_name, column_name)
);

COMMENT ON TABLE privacy.masking_rules IS 'How the values of a category or a column are masked for masked roles and in anonymised copies';

GRANT SELECT ON TABLE privacy.masking_rules TO PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('privacy.masking_rules', '');

CREATE TABLE privacy.masked_roles (
    role_name name NOT NULL,
    CONSTRAINT masked_roles_pkey PRIMARY KEY (role_name)
);

COMMENT ON TABLE privacy.masked_roles IS 'Roles that read masked values of classified columns, never the raw ones';

GRANT SELECT ON TABLE privacy.masked_roles TO PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('privacy.masked_roles', '');

CREATE TABLE privacy.masked_recipients (
    recipient text NOT NULL,
    CONSTRAINT masked_recipients_pkey PRIMARY KEY (recipient)
);

COMMENT ON TABLE privacy.masked_recipients IS 'Recipients that receive personal data only masked or in anonymised copies';

GRANT SELECT ON TABLE privacy.masked_recipients TO PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('privacy.masked_recipients', '');


CREATE OR REPLACE FUNCTION privacy_internal._catalog_document(top jsonb)
RETURNS jsonb
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
SELECT pg_catalog.jsonb_build_object(
	'format', 1,
	'version', top -> 'version',
	'effective_date', top -> 'effective_date',
	'controller', top -> 'controller',
	'purposes', (
		SELECT COALESCE(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
			'name', p.name, 'legal_basis', p.legal_basis, 'description', p.description,
			'allowed_under_restriction', p.allowed_under_restriction) ORDER BY p.name), '[]')
		  FROM privacy.purposes p),
	'categories', (
		SELECT COALESCE(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
			'name', c.name, 'description', c.description) ORDER BY c.name), '[]')
		  FROM privacy.categories c WHERE NOT c.special),
	'special_categories', (
		SELECT COALESCE(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
			'name', c.name, 'description', c.description) ORDER BY c.name), '[]')
		  FROM privacy.categories c WHERE c.special),
	'sources', (
		SELECT COALESCE(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
			'name', s.name, 'description', s.description) ORDER BY s.name), '[]')
		  FROM privacy.sources s),
	'recipients', (
		SELECT COALESCE(pg_catalog.jsonb_agg(
			pg_catalog.jsonb_build_object('name', r.name, 'kind', r.kind)
			|| CASE WHEN r.dpa_reference IS NULL THEN '{}'::jsonb
					ELSE pg_catalog.jsonb_build_object('dpa_reference', r.dpa_reference) END
			|| pg_catalog.jsonb_build_object('purposes', pg_catalog.to_jsonb(r.purposes),
											 'description', r.description)
			ORDER BY r.name), '[]')
		  FROM privacy.recipients r),
	'subject_kinds', (
		SELECT COALESCE(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
			'name', k.name, 'table', privacy_internal._qualified_name(k.table_name),
			'key', k.key_column, 'description', k.description,
			'paths', (SELECT COALESCE(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
						'table', privacy_internal._qualified_name(sp.table_name), 'via', pg_catalog.to_jsonb(sp.via))
						ORDER BY privacy_internal._qualified_name(sp.table_name)), '[]')
						FROM privacy.subject_paths sp WHERE sp.kind = k.name))
			ORDER BY k.name), '[]')
		  FROM privacy.subject_kinds k),
	'classifications', (
		SELECT COALESCE(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
			'table', privacy_internal._qualified_name(cl.table_name), 'column', cl.column_name,
			'category', cl.category, 'source', cl.source)
			ORDER BY privacy_internal._qualified_name(cl.table_name), cl.column_name), '[]')
		  FROM privacy.classifications cl),
	'retention_rules', (
		SELECT COALESCE(pg_catalog.jsonb_agg(
			pg_catalog.jsonb_build_object(
				'name', rr.name, 'table', privacy_internal._qualified_name(rr.table_name),
				'anchor', rr.anchor, 'period', rr.period, 'action', rr.action,
				'columns', pg_catalog.to_jsonb(rr.columns), 'legal_basis', rr.legal_basis)
			|| CASE WHEN rr.minimum IS NULL THEN '{}'::jsonb
					ELSE pg_catalog.jsonb_build_object('minimum', rr.minimum,
													   'minimum_from', rr.minimum_from) END
			|| pg_catalog.jsonb_build_object('description', rr.description)
			ORDER BY rr.name), '[]')
		  FROM privacy.retention_rules rr),
	'masking', pg_catalog.jsonb_build_object(
		'roles', (SELECT COALESCE(pg_catalog.jsonb_agg(mr.role_name ORDER BY mr.role_name), '[]')
					FROM privacy.masked_roles mr),
		'recipients', (SELECT COALESCE(pg_catalog.jsonb_agg(mp.recipient ORDER BY mp.recipient), '[]')
						 FROM privacy.masked_recipients mp),
		'rules', (SELECT COALESCE(pg_catalog.jsonb_agg(
					pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object(
						'category', m.category,
						'table', privacy_internal._qualified_name(m.table_name),
						'column', m.column_name))
					|| pg_catalog.jsonb_build_object('method', m.method) || m.parameters
					ORDER BY m.category NULLS LAST, privacy_internal._qualified_name(m.table_name), m.column_name), '[]')
				   FROM privacy.masking_rules m))
);
END;


CREATE OR REPLACE FUNCTION privacy_internal._document_changes(before jsonb, after jsonb)
RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	WITH sections(section, key_fields) AS (
		VALUES ('purposes', ARRAY['name']), ('categories', ARRAY['name']),
			   ('special_categories', ARRAY['name']), ('sources', ARRAY['name']),
			   ('recipients', ARRAY['name']), ('subject_kinds', ARRAY['name']),
			   ('classifications', ARRAY['table', 'column']),
			   ('retention_rules', ARRAY['name'])
	),
	items AS (
		SELECT s.section, side, e AS item,
			   (SELECT pg_catalog.string_agg(e ->> f, '.' ORDER BY o)
				  FROM pg_catalog.unnest(s.key_fields) WITH ORDINALITY AS k(f, o)) AS item_key
		  FROM sections s,
			   LATERAL (SELECT 'before' AS side, x AS e FROM pg_catalog.jsonb_array_elements(before -> s.section) x
						UNION ALL
						SELECT 'after', x FROM pg_catalog.jsonb_array_elements(after -> s.section) x) sides
	),
	paired AS (
		SELECT COALESCE(a.section, b.section) AS section,
			   COALESCE(a.item_key, b.item_key) AS item_key,
			   CASE WHEN b.item IS NULL THEN 'added'
					WHEN a.item IS NULL THEN 'removed'
					WHEN a.item <> b.item THEN 'updated' END AS change
		  FROM (SELECT * FROM items WHERE side = 'before') b
		  FULL JOIN (SELECT * FROM items WHERE side = 'after') a
			ON a.section = b.section AND a.item_key = b.item_key
	),
	per_section AS (
		SELECT section, pg_catalog.jsonb_object_agg(change, keys) AS changes
		  FROM (SELECT section, change, pg_catalog.jsonb_agg(item_key ORDER BY item_key) AS keys
				  FROM paired WHERE change IS NOT NULL
				 GROUP BY section, change) c
		 GROUP BY section
	),
	top_level AS (
		SELECT f AS section, '"updated"'::jsonb AS changes
		  FROM pg_catalog.unnest(ARRAY['version', 'effective_date', 'controller', 'masking']) f
		 WHERE (before -> f) IS DISTINCT FROM (after -> f)
	)
	SELECT COALESCE(pg_catalog.jsonb_object_agg(section, changes), '{}')
	  FROM (SELECT * FROM top_level UNION ALL SELECT * FROM per_section) all_changes;
END;


CREATE OR REPLACE FUNCTION privacy_internal._policy_table_entries()
RETURNS TABLE (table_name oid, entry text)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT k.table_name::oid, pg_catalog.format('subject kind %s', pg_catalog.to_jsonb(k))
	  FROM privacy.subject_kinds k
	UNION ALL
	SELECT p.table_name::oid, pg_catalog.format('path %s', pg_catalog.to_jsonb(p))
	  FROM privacy.subject_paths p
	UNION ALL
	SELECT c.table_name::oid, pg_catalog.format('classification %s', pg_catalog.to_jsonb(c))
	  FROM privacy.classifications c
	UNION ALL
	SELECT r.table_name::oid, pg_catalog.format('retention rule %s', pg_catalog.to_jsonb(r))
	  FROM privacy.retention_rules r
	UNION ALL
	SELECT m.table_name::oid, pg_catalog.format('masking rule %s', pg_catalog.to_jsonb(m))
	  FROM privacy.masking_rules m WHERE m.table_name IS NOT NULL;
END;


CREATE OR REPLACE FUNCTION privacy_internal._write_catalog(doc jsonb, tables jsonb) RETURNS void
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
	dup record;
BEGIN
	-- Two spellings of one table ("customers", "app.customers") resolve to
	-- the same OID: the column is then classified twice.
	SELECT d."column", (tables ->> d."table")::oid::regclass AS rel INTO dup
	  FROM pg_catalog.jsonb_to_recordset(doc -> 'classifications') AS d("table" text, "column" text)
	 GROUP BY 1, 2 HAVING pg_catalog.count(*) > 1 LIMIT 1;
	IF FOUND THEN
		RAISE EXCEPTION 'column "%" of table % is classified more than once', dup."column", dup.rel
			USING ERRCODE = 'duplicate_object',
				  HINT = 'Keep one entry per column in "classifications".';
	END IF;
	SELECT k ->> 'name' AS kind, (tables ->> (p ->> 'table'))::oid::regclass AS rel INTO dup
	  FROM pg_catalog.jsonb_array_elements(doc -> 'subject_kinds') k,
		   pg_catalog.jsonb_array_elements(k -> 'paths') p
	 GROUP BY 1, 2 HAVING pg_catalog.count(*) > 1 LIMIT 1;
	IF FOUND THEN
		RAISE EXCEPTION 'subject kind "%" pins more than one path for table %', dup.kind, dup.rel
			USING ERRCODE = 'duplicate_object',
				  HINT = 'Keep one entry per table in "paths".';
	END IF;

	-- What the document no longer has goes first, dependents before what
	-- they reference.
	DELETE FROM privacy.masking_rules;
	DELETE FROM privacy.masked_recipients;
	DELETE FROM privacy.masked_roles;
	DELETE FROM privacy.classifications cl
	 WHERE NOT EXISTS (SELECT FROM pg_catalog.jsonb_to_recordset(doc -> 'classifications')
							   AS d("table" text, "column" text)
					    WHERE (tables ->> d."table")::oid = cl.table_name::oid AND d."column" = cl.column_name);
	DELETE FROM privacy.retention_rules rr
	 WHERE rr.name NOT IN (SELECT d ->> 'name' FROM pg_catalog.jsonb_array_elements(doc -> 'retention_rules') d);
	DELETE FROM privacy.subject_paths;
	DELETE FROM privacy.subject_kinds k
	 WHERE k.name NOT IN (SELECT d ->> 'name' FROM pg_catalog.jsonb_array_elements(doc -> 'subject_kinds') d);
	DELETE FROM privacy.recipients r
	 WHERE r.name NOT IN (SELECT d ->> 'name' FROM pg_catalog.jsonb_array_elements(doc -> 'recipients') d);
	DELETE FROM privacy.purposes p
	 WHERE p.name NOT IN (SELECT d ->> 'name' FROM pg_catalog.jsonb_array_elements(doc -> 'purposes') d);
	DELETE FROM privacy.categories c
	 WHERE NOT c.builtin
	   AND c.name NOT IN (SELECT d ->> 'name' FROM pg_catalog.jsonb_array_elements(doc -> 'categories') d
						  UNION ALL
						  SELECT d ->> 'name' FROM pg_catalog.jsonb_array_elements(doc -> 'special_categories') d);
	DELETE FROM privacy.sources s
	 WHERE NOT s.builtin
	   AND s.name NOT IN (SELECT d ->> 'name' FROM pg_catalog.jsonb_array_elements(doc -> 'sources') d);

	INSERT INTO privacy.sources AS s (name, description, builtin)
	SELECT d.name, d.description, COALESCE(old.builtin, false)
	  FROM pg_catalog.jsonb_to_recordset(doc -> 'sources') AS d(name text, description text)
	  LEFT JOIN privacy.sources old ON old.name = d.name
	ON CONFLICT (name) DO UPDATE SET description = excluded.description;

	INSERT INTO privacy.categories AS c (name, description, special, builtin)
	SELECT d.name, d.description, d.special, COALESCE(old.builtin, false)
	  FROM (SELECT x.name, x.description, false AS special
			  FROM pg_catalog.jsonb_to_recordset(doc -> 'categories') AS x(name text, description text)
			UNION ALL
			SELECT x.name, x.description, true
			  FROM pg_catalog.jsonb_to_recordset(doc -> 'special_categories') AS x(name text, description text)) d
	  LEFT JOIN privacy.categories old ON old.name = d.name
	ON CONFLICT (name) DO UPDATE SET description = excluded.description, special = excluded.special;

	INSERT INTO privacy.purposes AS p (name, legal_basis, description, allowed_under_restriction)
	SELECT d.name, d.legal_basis, d.description, d.allowed_under_restriction
	  FROM pg_catalog.jsonb_to_recordset(doc -> 'purposes')
		   AS d(name text, legal_basis text, description text, allowed_under_restriction boolean)
	ON CONFLICT (name) DO UPDATE
	   SET legal_basis = excluded.legal_basis, description = excluded.description,
		   allowed_under_restriction = excluded.allowed_under_restriction;

	INSERT INTO privacy.recipients AS r (name, kind, dpa_reference, purposes, description)
	SELECT d.name, d.kind, d.dpa_reference,
		   ARRAY(SELECT pg_catalog.jsonb_array_elements_text(d.purposes)), d.description
	  FROM pg_catalog.jsonb_to_recordset(doc -> 'recipients')
		   AS d(name text, kind text, dpa_reference text, purposes jsonb, description text)
	ON CONFLICT (name) DO UPDATE
	   SET kind = excluded.kind, dpa_reference = excluded.dpa_reference,
		   purposes = excluded.purposes, description = excluded.description;

	INSERT INTO privacy.subject_kinds AS k (name, table_name, key_column, description)
	SELECT d.name, (tables ->> d."table")::oid::regclass, d.key, d.description
	  FROM pg_catalog.jsonb_to_recordset(doc -> 'subject_kinds')
		   AS d(name text, "table" text, key text, description text)
	ON CONFLICT (name) DO UPDATE
	   SET table_name = excluded.table_name, key_column = excluded.key_column,
		   description = excluded.description;

	INSERT INTO privacy.subject_paths (kind, table_name, via)
	SELECT k ->> 'name', (tables ->> (p ->> 'table'))::oid::regclass,
		   ARRAY(SELECT pg_catalog.jsonb_array_elements_text(p -> 'via'))::name[]
	  FROM pg_catalog.jsonb_array_elements(doc -> 'subject_kinds') k,
		   pg_catalog.jsonb_array_elements(k -> 'paths') p;

	INSERT INTO privacy.classifications AS cl (table_name, column_name, category, source)
	SELECT (tables ->> d."table")::oid::regclass, d."column", d.category, d.source
	  FROM pg_catalog.jsonb_to_recordset(doc -> 'classifications')
		   AS d("table" text, "column" text, category text, source text)
	ON CONFLICT (table_name, column_name) DO UPDATE
	   SET category = excluded.category, source = excluded.source;

	INSERT INTO privacy.retention_rules AS rr
		(name, table_name, anchor, period, action, columns, legal_basis, minimum, minimum_from, description)
	SELECT d.name, (tables ->> d."table")::oid::regclass, d.anchor, d.period, d.action,
		   ARRAY(SELECT pg_catalog.jsonb_array_elements_text(d.columns))::name[],
		   d.legal_basis, d.minimum, COALESCE(d.minimum_from, 'anchor'), d.description
	  FROM pg_catalog.jsonb_to_recordset(doc -> 'retention_rules')
		   AS d(name text, "table" text, anchor text, period text, action text, columns jsonb,
				legal_basis text, minimum text, minimum_from text, description text)
	ON CONFLICT (name) DO UPDATE
	   SET table_name = excluded.table_name, anchor = excluded.anchor, period = excluded.period,
		   action = excluded.action, columns = excluded.columns, legal_basis = excluded.legal_basis,
		   minimum = excluded.minimum, minimum_from = excluded.minimum_from,
		   description = excluded.description;

	INSERT INTO privacy.masked_roles (role_name)
	SELECT pg_catalog.jsonb_array_elements_text(doc -> 'masking' -> 'roles');
	INSERT INTO privacy.masked_recipients (recipient)
	SELECT pg_catalog.jsonb_array_elements_text(doc -> 'masking' -> 'recipients');
	INSERT INTO privacy.masking_rules (category, table_name, column_name, method, parameters)
	SELECT r ->> 'category', (tables ->> (r ->> 'table'))::oid::regclass, r ->> 'column', r ->> 'method',
		   r - ARRAY['category', 'table', 'column', 'method']
	  FROM pg_catalog.jsonb_array_elements(doc -> 'masking' -> 'rules') r;
END
$$;


CREATE OR REPLACE FUNCTION privacy_internal._apply_document(doc jsonb, tables jsonb, actor name) RETURNS jsonb
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
	before jsonb;
	after jsonb;
	changes jsonb;
	before_entries jsonb;
BEGIN
	-- One policy change at a time; readers are not blocked.
	LOCK TABLE privacy.policy_versions IN SHARE ROW EXCLUSIVE MODE;

	before := privacy.policy();
	before_entries := COALESCE((SELECT pg_catalog.jsonb_agg(e) FROM privacy_internal._policy_table_entries() e), '[]');
	PERFORM privacy_internal._write_catalog(doc, tables);
	PERFORM privacy_internal._check_policy_owners(before_entries, actor);
	PERFORM privacy_internal._check_catalog();
	PERFORM privacy_internal._refresh_masking(true);
	after := privacy_internal._catalog_document(doc);
	changes := privacy_internal._document_changes(before, after);

	IF changes OPERATOR(pg_catalog.=) '{}'::pg_catalog.jsonb THEN
		RETURN pg_catalog.jsonb_build_object('changed', false, 'version', after OPERATOR(pg_catalog.->) 'version');
	END IF;

	IF EXISTS (SELECT FROM privacy.policy_versions v
				WHERE v.version OPERATOR(pg_catalog.=) (after OPERATOR(pg_catalog.->>) 'version')
				  AND v.document OPERATOR(pg_catalog.<>) after) THEN
		RAISE EXCEPTION 'policy version "%" was already applied with different content', after OPERATOR(pg_catalog.->>) 'version'
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = 'Consent given under a policy version must be traceable to exactly one text.',
				  HINT = 'Give the changed document a new "version".';
	END IF;

	INSERT INTO privacy.policy_versions (version, effective_date, document, applied_by)
	VALUES (after OPERATOR(pg_catalog.->>) 'version', (after OPERATOR(pg_catalog.->>) 'effective_date')::pg_catalog.date, after, actor);

	PERFORM privacy_internal._audit(actor, 'policy.apply', NULL, NULL, NULL,
						   pg_catalog.jsonb_build_object('version', after OPERATOR(pg_catalog.->) 'version',
														 'previous_version', before OPERATOR(pg_catalog.->) 'version',
														 'changes', changes));

	RETURN pg_catalog.jsonb_build_object('changed', true,
										 'version', after OPERATOR(pg_catalog.->) 'version',
										 'previous_version', before OPERATOR(pg_catalog.->) 'version',
										 'changes', changes);
END
$$;


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
		'masking', pg_catalog.jsonb_build_object(
			'statement', 'These roles and recipients receive the classified columns only masked, by the methods listed.',
			'roles', doc.d -> 'masking' -> 'roles',
			'recipients', doc.d -> 'masking' -> 'recipients',
			'rules', doc.d -> 'masking' -> 'rules'),
		'tables_without_retention_rule', (
			SELECT COALESCE(pg_catalog.jsonb_agg(DISTINCT cc.qualified), '[]')
			  FROM classified cc
			 WHERE NOT EXISTS (SELECT FROM privacy.retention_rules rr WHERE rr.table_name = cc.table_name)))
	  FROM doc
$$;


CREATE SCHEMA privacy_masked;

COMMENT ON SCHEMA privacy_masked IS 'Masking views of classified tables, first on the search_path of masked roles';

REVOKE ALL ON SCHEMA privacy_masked FROM PUBLIC;

CREATE FUNCTION privacy_internal._mask_text(text) RETURNS text
    LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'privacy_mask_text';

COMMENT ON FUNCTION privacy_internal._mask_text(text) IS 'The mask of a text column: as privacy.mask() for an e-mail address, international phone number or IP address, else the first character and "***"';

CREATE FUNCTION privacy_internal._mask_pseudonym(text) RETURNS text
    LANGUAGE c STABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'privacy_mask_pseudonym';

COMMENT ON FUNCTION privacy_internal._mask_pseudonym(text) IS 'The keyed pseudonym of a value given as text (HMAC-SHA-256 under the pseudonym key, in hex)';

REVOKE ALL ON FUNCTION privacy_internal._mask_pseudonym(text) FROM PUBLIC;

CREATE TABLE privacy._masking_views (
    view_name name NOT NULL,
    table_name regclass NOT NULL,
    definition text NOT NULL,
    CONSTRAINT _masking_views_pkey PRIMARY KEY (view_name)
);

COMMENT ON TABLE privacy._masking_views IS 'The query of each masking view in privacy_masked, as last generated';

REVOKE ALL ON TABLE privacy._masking_views FROM PUBLIC;

-- The rule that masks a column: its own, else its category's, else the
-- nearest parent category's; a column without one is masked by "mask" if
-- it is of a personal-data type, else by "null".
CREATE FUNCTION privacy_internal._masking_rule(target_table regclass, target_column name, target_category text, target_type oid)
RETURNS TABLE (method text, parameters jsonb)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT r.method, r.parameters
	  FROM (SELECT m.method, m.parameters, 0 AS rank
			  FROM privacy.masking_rules m
			 WHERE m.table_name OPERATOR(pg_catalog.=) target_table AND m.column_name OPERATOR(pg_catalog.=) target_column
			UNION ALL
			SELECT m.method, m.parameters, 1000 OPERATOR(pg_catalog.-) pg_catalog.length(m.category)
			  FROM privacy.masking_rules m
			 WHERE m.category OPERATOR(pg_catalog.=) target_category
				OR pg_catalog.starts_with(target_category, m.category OPERATOR(pg_catalog.||) '.')
			UNION ALL
			SELECT CASE WHEN target_type OPERATOR(pg_catalog.=) ANY (ARRAY['privacy.email'::pg_catalog.regtype,
									'privacy.phone'::pg_catalog.regtype,
									'privacy.ip_address'::pg_catalog.regtype]::pg_catalog.oid[])
						THEN 'mask' ELSE 'null' END,
				   '{}'::pg_catalog.jsonb, 2000) r
	 ORDER BY r.rank
	 LIMIT 1;
END;

COMMENT ON FUNCTION privacy_internal._masking_rule(target_table regclass, target_column name, target_category text, target_type oid) IS 'The masking method and parameters that apply to a classified column';

-- The SQL expression that masks column col (of type typ, typmod typmod) of
-- rel by method; an error if the method does not suit the type.
CREATE FUNCTION privacy_internal._mask_expression(rel regclass, col name, typ oid, typmod integer, method text, parameters jsonb)
RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	c text := pg_catalog.quote_ident(col);
	full_type text := pg_catalog.format_type(typ, typmod);
	personal boolean := typ OPERATOR(pg_catalog.=) ANY (ARRAY['privacy.email'::pg_catalog.regtype,
									'privacy.phone'::pg_catalog.regtype,
									'privacy.ip_address'::pg_catalog.regtype]::pg_catalog.oid[]);
	category char := (SELECT t.typcategory FROM pg_catalog.pg_type t WHERE t.oid OPERATOR(pg_catalog.=) typ);
	expr text;
BEGIN
	IF personal THEN
		-- A masked value of a personal-data type is text, so that neither
		-- a masking view nor a copy is classified by its type again.
		full_type := 'pg_catalog.text';
	END IF;
	expr := CASE method
		WHEN 'null' THEN pg_catalog.format('NULL::%s', full_type)
		WHEN 'constant' THEN pg_catalog.format('%L::%s', parameters OPERATOR(pg_catalog.->>) 'value', full_type)
		WHEN 'mask' THEN
			CASE WHEN personal THEN pg_catalog.format('privacy.mask(%s)', c)
				 WHEN category OPERATOR(pg_catalog.=) 'S' THEN pg_catalog.format('privacy_internal._mask_text(%s::pg_catalog.text)', c) END
		WHEN 'pseudonymize' THEN
			CASE WHEN personal THEN pg_catalog.format('privacy.pseudonymize(%s)', c)
				 ELSE pg_catalog.format('privacy_internal._mask_pseudonym(%s::pg_catalog.text)', c) END
		WHEN 'first_letters' THEN
			CASE WHEN category OPERATOR(pg_catalog.=) 'S' THEN
				pg_catalog.format('pg_catalog.left(%s::pg_catalog.text, %s)', c, (parameters OPERATOR(pg_catalog.->>) 'length')::pg_catalog.int4) END
		WHEN 'range' THEN
			CASE WHEN category OPERATOR(pg_catalog.=) 'N' THEN
				pg_catalog.format('(pg_catalog.floor(%s::pg_catalog.numeric OPERATOR(pg_catalog./) %s) OPERATOR(pg_catalog.*) %s)::%s',
								  c, (parameters OPERATOR(pg_catalog.->>) 'step')::pg_catalog.int4,
								  (parameters OPERATOR(pg_catalog.->>) 'step')::pg_catalog.int4, full_type) END
		WHEN 'network' THEN
			CASE WHEN typ OPERATOR(pg_catalog.=) 'privacy.ip_address'::pg_catalog.regtype THEN
					pg_catalog.format('privacy.truncate_ip(%s, pg_catalog.least(%s, CASE WHEN pg_catalog.family(%s::pg_catalog.inet) OPERATOR(pg_catalog.=) 4 THEN 32 ELSE 128 END))::pg_catalog.text',
									  c, (parameters OPERATOR(pg_catalog.->>) 'prefix')::pg_catalog.int4, c)
				 WHEN typ OPERATOR(pg_catalog.=) ANY (ARRAY['pg_catalog.inet'::pg_catalog.regtype, 'pg_catalog.cidr'::pg_catalog.regtype]::pg_catalog.oid[]) THEN
					pg_catalog.format('pg_catalog.network(pg_catalog.set_masklen(%s::pg_catalog.inet, pg_catalog.least(%s, CASE WHEN pg_catalog.family(%s) OPERATOR(pg_catalog.=) 4 THEN 32 ELSE 128 END)))::%s',
									  c, (parameters OPERATOR(pg_catalog.->>) 'prefix')::pg_catalog.int4, c, full_type) END
		WHEN 'month' THEN
			CASE WHEN category OPERATOR(pg_catalog.=) 'D' AND typ OPERATOR(pg_catalog.<>) 'pg_catalog.time'::pg_catalog.regtype THEN
				pg_catalog.format('pg_catalog.date_trunc(''month'', %s)::%s', c, full_type) END
		WHEN 'year' THEN
			CASE WHEN category OPERATOR(pg_catalog.=) 'D' AND typ OPERATOR(pg_catalog.<>) 'pg_catalog.time'::pg_catalog.regtype THEN
				pg_catalog.format('pg_catalog.date_trunc(''year'', %s)::%s', c, full_type) END
	END;
	IF expr IS NULL THEN
		RAISE EXCEPTION 'masking method "%" does not apply to column "%" of table % of type %',
			method, col, privacy_internal._qualified_name(rel), full_type
			USING ERRCODE = 'datatype_mismatch',
				  HINT = 'Give the column a masking rule whose method suits its type (docs/masking.md lists them), such as "null" or "constant".';
	END IF;
	RETURN expr;
END
$$;

COMMENT ON FUNCTION privacy_internal._mask_expression(rel regclass, col name, typ oid, typmod integer, method text, parameters jsonb) IS 'The SQL expression that masks a column by a masking method';

REVOKE ALL ON FUNCTION privacy_internal._mask_expression(rel regclass, col name, typ oid, typmod integer, method text, parameters jsonb) FROM PUBLIC;

-- Every classified column of a table with the select-list item that masks
-- it; unclassified columns pass through.
CREATE FUNCTION privacy_internal._masked_select_list(rel regclass) RETURNS text
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT pg_catalog.string_agg(
			CASE WHEN cc.column_name IS NULL THEN pg_catalog.quote_ident(a.attname)
				 ELSE pg_catalog.format('%s AS %I',
						privacy_internal._mask_expression(rel, a.attname, a.atttypid, a.atttypmod, r.method, r.parameters),
						a.attname) END,
			', ' ORDER BY a.attnum)
	  FROM pg_catalog.pg_attribute a
	  LEFT JOIN privacy.classified_columns cc
		ON cc.table_name OPERATOR(pg_catalog.=) rel AND cc.column_name OPERATOR(pg_catalog.=) a.attname
	  LEFT JOIN LATERAL privacy_internal._masking_rule(rel, a.attname, cc.category, a.atttypid) r
		ON cc.column_name IS NOT NULL
	 WHERE a.attrelid OPERATOR(pg_catalog.=) rel AND a.attnum OPERATOR(pg_catalog.>) 0 AND NOT a.attisdropped;
END;

COMMENT ON FUNCTION privacy_internal._masked_select_list(rel regclass) IS 'The select list that reads a table with its classified columns masked';

REVOKE ALL ON FUNCTION privacy_internal._masked_select_list(rel regclass) FROM PUBLIC;

CREATE VIEW privacy.masked_columns AS
SELECT cc.table_name, cc.column_name, cc.category, r.method, r.parameters,
	   pg_catalog.format('privacy_masked.%I', c.relname) AS masking_view
  FROM privacy.classified_columns cc
  JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) cc.table_name
  JOIN pg_catalog.pg_attribute a ON a.attrelid OPERATOR(pg_catalog.=) c.oid AND a.attname OPERATOR(pg_catalog.=) cc.column_name
  CROSS JOIN LATERAL privacy_internal._masking_rule(cc.table_name, cc.column_name, cc.category, a.atttypid) r;

COMMENT ON VIEW privacy.masked_columns IS 'Every classified column with the masking method that masked roles and anonymised copies see it through';

GRANT SELECT ON TABLE privacy.masked_columns TO PUBLIC;

-- The tables that get a masking view: every ordinary or partitioned table
-- outside the extension's schemas with a classified column.
CREATE FUNCTION privacy_internal._masked_tables()
RETURNS TABLE (table_name regclass, view_name name)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT DISTINCT c.oid::pg_catalog.regclass, c.relname
	  FROM privacy.classified_columns cc
	  JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) cc.table_name
	 WHERE c.relkind OPERATOR(pg_catalog.=) ANY (ARRAY['r', 'p']::"char"[])
	   AND NOT c.relispartition
	   AND c.relpersistence OPERATOR(pg_catalog.=) 'p'
	   AND c.relnamespace OPERATOR(pg_catalog.<>) ALL (ARRAY['privacy'::pg_catalog.regnamespace,
						'privacy_internal'::pg_catalog.regnamespace, 'privacy_masked'::pg_catalog.regnamespace]::pg_catalog.oid[]);
END;

COMMENT ON FUNCTION privacy_internal._masked_tables() IS 'The tables with classified columns that masked roles read through masking views';

REVOKE ALL ON FUNCTION privacy_internal._masked_tables() FROM PUBLIC;

-- True if role holds a privilege itself (not through PUBLIC or another
-- role) in acl.
CREATE FUNCTION privacy_internal._acl_names(acl aclitem[], role oid) RETURNS boolean
    LANGUAGE sql IMMUTABLE
    SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT EXISTS (SELECT FROM pg_catalog.aclexplode(acl) e WHERE e.grantee OPERATOR(pg_catalog.=) role);
END;

COMMENT ON FUNCTION privacy_internal._acl_names(acl aclitem[], role oid) IS 'Whether an access control list grants a role anything directly';

REVOKE ALL ON FUNCTION privacy_internal._acl_names(acl aclitem[], role oid) FROM PUBLIC;

-- Takes every privilege on the table away from a masked role, and refuses
-- a role that can still read or write it through PUBLIC or another role.
CREATE FUNCTION privacy_internal._unmask_proof(rel regclass, role oid) RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	via text;
BEGIN
	IF privacy_internal._acl_names((SELECT c.relacl FROM pg_catalog.pg_class c WHERE c.oid OPERATOR(pg_catalog.=) rel), role)
	   OR EXISTS (SELECT FROM pg_catalog.pg_attribute a
				   WHERE a.attrelid OPERATOR(pg_catalog.=) rel AND a.attacl IS NOT NULL
					 AND privacy_internal._acl_names(a.attacl, role)) THEN
		EXECUTE pg_catalog.format('REVOKE ALL ON TABLE %s FROM %I', rel, role::pg_catalog.regrole);
	END IF;
	IF pg_catalog.pg_has_role(role, (SELECT c.relowner FROM pg_catalog.pg_class c WHERE c.oid OPERATOR(pg_catalog.=) rel), 'USAGE')
	   OR pg_catalog.has_any_column_privilege(role, rel, 'SELECT, INSERT, UPDATE, REFERENCES') THEN
		via := (SELECT pg_catalog.string_agg(pg_catalog.quote_ident(g.rolname), ', ' ORDER BY g.rolname)
				  FROM pg_catalog.pg_roles g
				 WHERE g.oid OPERATOR(pg_catalog.<>) role AND pg_catalog.pg_has_role(role, g.oid, 'USAGE')
				   AND pg_catalog.has_any_column_privilege(g.oid, rel, 'SELECT, INSERT, UPDATE, REFERENCES'));
		RAISE EXCEPTION 'masked role "%" can still read or write table % directly', role::pg_catalog.regrole,
			privacy_internal._qualified_name(rel)
			USING ERRCODE = 'insufficient_privilege',
				  DETAIL = pg_catalog.format('The role owns the table, or is granted privileges on it through %s.',
											 COALESCE('the roles ' OPERATOR(pg_catalog.||) via, 'PUBLIC')),
				  HINT = 'A masked role may hold no privilege on a classified table: revoke them from PUBLIC or the roles it is a member of, or remove the role from "masking"."roles".';
	END IF;
END
$$;

COMMENT ON FUNCTION privacy_internal._unmask_proof(rel regclass, role oid) IS 'Revokes a masked role''s privileges on a classified table; an error if it keeps any through PUBLIC, membership or ownership';

REVOKE ALL ON FUNCTION privacy_internal._unmask_proof(rel regclass, role oid) FROM PUBLIC;

-- Drops the masking views not named in keep.
CREATE FUNCTION privacy_internal._drop_masking_views(keep name[]) RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	stale name;
BEGIN
	FOR stale IN SELECT c.relname FROM pg_catalog.pg_class c
				  WHERE c.relnamespace OPERATOR(pg_catalog.=) 'privacy_masked'::pg_catalog.regnamespace
					AND c.relkind OPERATOR(pg_catalog.=) 'v'
					AND c.relname OPERATOR(pg_catalog.<>) ALL (keep)
	LOOP
		EXECUTE pg_catalog.format('DROP VIEW privacy_masked.%I', stale);
	END LOOP;
	DELETE FROM privacy._masking_views mv WHERE mv.view_name OPERATOR(pg_catalog.<>) ALL (keep);
END
$$;

COMMENT ON FUNCTION privacy_internal._drop_masking_views(keep name[]) IS 'Drops the masking views in privacy_masked except those named';

REVOKE ALL ON FUNCTION privacy_internal._drop_masking_views(keep name[]) FROM PUBLIC;

-- Makes the masking views and the masked roles' privileges match the
-- catalog. Runs DDL only where something differs, so that the event
-- triggers it sets off find nothing more to do.
CREATE FUNCTION privacy_internal._refresh_masking(strict_roles boolean) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	t record;
	r record;
	def text;
	roles oid[];
	clash name;
	uses_pseudonyms boolean;
BEGIN
	SELECT pg_catalog.array_agg(g.oid ORDER BY g.oid) INTO roles
	  FROM privacy.masked_roles mr JOIN pg_catalog.pg_roles g ON g.rolname OPERATOR(pg_catalog.=) mr.role_name;
	FOR r IN SELECT mr.role_name FROM privacy.masked_roles mr
			  WHERE NOT EXISTS (SELECT FROM pg_catalog.pg_roles g WHERE g.rolname OPERATOR(pg_catalog.=) mr.role_name)
	LOOP
		IF strict_roles THEN
			RAISE EXCEPTION 'masked role "%" does not exist', r.role_name
				USING ERRCODE = 'undefined_object',
					  HINT = 'Create the role first, or remove it from "masking"."roles".';
		END IF;
	END LOOP;
	FOR r IN SELECT g.rolname FROM pg_catalog.pg_roles g
			  WHERE g.oid OPERATOR(pg_catalog.=) ANY (roles) AND g.rolsuper
	LOOP
		RAISE EXCEPTION 'cannot mask role "%"', r.rolname
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = 'A superuser reads every table, whatever its privileges.';
	END LOOP;

	SELECT m.view_name INTO clash FROM privacy_internal._masked_tables() m
	 GROUP BY m.view_name HAVING pg_catalog.count(*) OPERATOR(pg_catalog.>) 1 LIMIT 1;
	IF FOUND THEN
		RAISE EXCEPTION 'two classified tables are called "%"', clash
			USING ERRCODE = 'duplicate_table',
				  DETAIL = 'Masked roles read every classified table through a view of the same name in schema privacy_masked.',
				  HINT = 'Rename one of the tables.';
	END IF;

	-- Views of tables that are gone or no longer classified.
	PERFORM privacy_internal._drop_masking_views(
		CASE WHEN roles IS NULL THEN '{}'::name[]
			 ELSE ARRAY(SELECT m.view_name FROM privacy_internal._masked_tables() m) END);
	FOR r IN SELECT e.grantee::pg_catalog.regrole AS grantee
			   FROM pg_catalog.pg_namespace n, pg_catalog.aclexplode(n.nspacl) e
			  WHERE n.oid OPERATOR(pg_catalog.=) 'privacy_masked'::pg_catalog.regnamespace
				AND e.grantee OPERATOR(pg_catalog.<>) n.nspowner AND e.grantee OPERATOR(pg_catalog.<>) 0
				AND e.grantee OPERATOR(pg_catalog.<>) ALL (COALESCE(roles, '{}'))
	LOOP
		EXECUTE pg_catalog.format('REVOKE ALL ON SCHEMA privacy_masked FROM %s', r.grantee);
	END LOOP;
	IF roles IS NULL THEN
		RETURN;
	END IF;
	-- The views belong to a role that is neither superuser nor owner of the
	-- tables, so that row security applies to them as to any reader.
	IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles g WHERE g.rolname OPERATOR(pg_catalog.=) 'privacy_masking') THEN
		CREATE ROLE privacy_masking NOLOGIN NOINHERIT;
		COMMENT ON ROLE privacy_masking IS 'Owner of the masking views of opendims_privacy; nobody logs in as it or is a member of it';
	END IF;

	FOR t IN SELECT * FROM privacy_internal._masked_tables() m ORDER BY m.view_name
	LOOP
		def := pg_catalog.format('SELECT %s FROM %s', privacy_internal._masked_select_list(t.table_name), t.table_name);
		IF NOT EXISTS (SELECT FROM privacy._masking_views v
						WHERE v.view_name OPERATOR(pg_catalog.=) t.view_name AND v.definition OPERATOR(pg_catalog.=) def
						  AND v.table_name OPERATOR(pg_catalog.=) t.table_name) THEN
			IF pg_catalog.to_regclass(pg_catalog.format('privacy_masked.%I', t.view_name)) IS NOT NULL THEN
				EXECUTE pg_catalog.format('DROP VIEW privacy_masked.%I', t.view_name);
			END IF;
			EXECUTE pg_catalog.format('CREATE VIEW privacy_masked.%I AS %s', t.view_name, def);
			EXECUTE pg_catalog.format('ALTER VIEW privacy_masked.%I OWNER TO privacy_masking', t.view_name);
			EXECUTE pg_catalog.format('COMMENT ON VIEW privacy_masked.%I IS %L', t.view_name,
									  pg_catalog.format('Table %s with its classified columns masked', t.table_name));
			INSERT INTO privacy._masking_views (view_name, table_name, definition)
			VALUES (t.view_name, t.table_name, def)
			ON CONFLICT (view_name) DO UPDATE SET table_name = excluded.table_name, definition = excluded.definition;
		END IF;
		IF NOT pg_catalog.has_table_privilege('privacy_masking', t.table_name, 'SELECT') THEN
			EXECUTE pg_catalog.format('GRANT SELECT ON TABLE %s TO privacy_masking', t.table_name);
		END IF;
		FOR r IN SELECT g.oid FROM pg_catalog.pg_roles g WHERE g.oid OPERATOR(pg_catalog.=) ANY (roles)
		LOOP
			PERFORM privacy_internal._unmask_proof(t.table_name, r.oid);
			IF NOT pg_catalog.has_table_privilege(r.oid, pg_catalog.format('privacy_masked.%I', t.view_name), 'SELECT') THEN
				EXECUTE pg_catalog.format('GRANT SELECT ON privacy_masked.%I TO %I', t.view_name, r.oid::pg_catalog.regrole);
			END IF;
		END LOOP;
	END LOOP;

	uses_pseudonyms := EXISTS (SELECT FROM privacy.masked_columns mc WHERE mc.method OPERATOR(pg_catalog.=) 'pseudonymize');
	FOR r IN SELECT g.oid, g.rolname,
					(SELECT s.setconfig FROM pg_catalog.pg_db_role_setting s
					  WHERE s.setrole OPERATOR(pg_catalog.=) g.oid AND s.setdatabase OPERATOR(pg_catalog.=) 0) AS config
			   FROM pg_catalog.pg_roles g WHERE g.oid OPERATOR(pg_catalog.=) ANY (roles)
	LOOP
		IF NOT pg_catalog.has_schema_privilege(r.oid, 'privacy_masked', 'USAGE') THEN
			EXECUTE pg_catalog.format('GRANT USAGE ON SCHEMA privacy_masked TO %I', r.rolname);
		END IF;
		IF uses_pseudonyms AND NOT pg_catalog.has_function_privilege(r.oid, 'privacy_internal._mask_pseudonym(pg_catalog.text)', 'EXECUTE') THEN
			EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION privacy_internal._mask_pseudonym(pg_catalog.text), privacy.pseudonymize(privacy.email), privacy.pseudonymize(privacy.phone), privacy.pseudonymize(privacy.ip_address) TO %I', r.rolname);
		END IF;
		IF NOT EXISTS (SELECT FROM pg_catalog.unnest(r.config) s WHERE s LIKE 'search\_path=privacy\_masked%') THEN
			EXECUTE pg_catalog.format('ALTER ROLE %I SET search_path = %s', r.rolname,
				COALESCE('privacy_masked, ' OPERATOR(pg_catalog.||)
						 (SELECT pg_catalog.substr(s, 13) FROM pg_catalog.unnest(r.config) s WHERE s LIKE 'search\_path=%'),
						 'privacy_masked, "$user", public'));
		END IF;
	END LOOP;

	-- Roles no longer masked lose the views (their table privileges are
	-- theirs to grant again).
	FOR r IN SELECT DISTINCT e.grantee::pg_catalog.regrole AS grantee, c.relname
			   FROM pg_catalog.pg_class c, pg_catalog.aclexplode(c.relacl) e
			  WHERE c.relnamespace OPERATOR(pg_catalog.=) 'privacy_masked'::pg_catalog.regnamespace
				AND e.grantee OPERATOR(pg_catalog.<>) c.relowner AND e.grantee OPERATOR(pg_catalog.<>) 0
				AND e.grantee OPERATOR(pg_catalog.<>) ALL (roles)
	LOOP
		EXECUTE pg_catalog.format('REVOKE ALL ON privacy_masked.%I FROM %s', r.relname, r.grantee);
	END LOOP;
END
$$;

COMMENT ON FUNCTION privacy_internal._refresh_masking(strict_roles boolean) IS 'Brings the masking views in privacy_masked and the masked roles'' privileges in line with the catalog';

REVOKE ALL ON FUNCTION privacy_internal._refresh_masking(strict_roles boolean) FROM PUBLIC;

CREATE FUNCTION privacy.update_masking() RETURNS void
    LANGUAGE sql
    SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT privacy_internal._refresh_masking(true);
END;

COMMENT ON FUNCTION privacy.update_masking() IS 'Regenerates the masking views and the masked roles'' privileges now (apply_policy() and DDL do it by themselves)';

REVOKE ALL ON FUNCTION privacy.update_masking() FROM PUBLIC;

-- Before DDL that may change or drop a masked table, the masking views
-- step aside; the end trigger creates them again, in the same transaction.
CREATE FUNCTION privacy_internal._masking_ddl_start() RETURNS event_trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	PERFORM privacy_internal._drop_masking_views('{}');
END
$$;

COMMENT ON FUNCTION privacy_internal._masking_ddl_start() IS 'Event trigger: drops the masking views before DDL that may alter or drop the tables they read';

REVOKE ALL ON FUNCTION privacy_internal._masking_ddl_start() FROM PUBLIC;

CREATE FUNCTION privacy_internal._masking_ddl_end() RETURNS event_trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF EXISTS (SELECT FROM privacy.masked_roles)
	   OR EXISTS (SELECT FROM pg_catalog.pg_class c
				   WHERE c.relnamespace OPERATOR(pg_catalog.=) 'privacy_masked'::pg_catalog.regnamespace) THEN
		PERFORM privacy_internal._refresh_masking(false);
	END IF;
END
$$;

COMMENT ON FUNCTION privacy_internal._masking_ddl_end() IS 'Event trigger: brings the masking views and privileges up to date after DDL';

REVOKE ALL ON FUNCTION privacy_internal._masking_ddl_end() FROM PUBLIC;

CREATE EVENT TRIGGER privacy_masking_ddl_start ON ddl_command_start
	WHEN TAG IN ('ALTER TABLE', 'DROP TABLE', 'DROP SCHEMA', 'ALTER SCHEMA', 'DROP OWNED')
	EXECUTE FUNCTION privacy_internal._masking_ddl_start();

CREATE EVENT TRIGGER privacy_masking_ddl_end ON ddl_command_end
	WHEN TAG IN ('ALTER TABLE', 'DROP TABLE', 'DROP SCHEMA', 'ALTER SCHEMA', 'DROP OWNED',
				 'CREATE TABLE', 'CREATE TABLE AS', 'SELECT INTO', 'SECURITY LABEL', 'GRANT', 'REVOKE',
				 'CREATE DOMAIN', 'ALTER DOMAIN')
	EXECUTE FUNCTION privacy_internal._masking_ddl_end();

-- An anonymised copy: each table of source_schema recreated in
-- target_schema with its classified columns masked by their rules, its
-- other columns as they are, and the primary keys, unique constraints and
-- foreign keys among the copied tables whose columns were copied
-- unchanged.
CREATE FUNCTION privacy.anonymized_copy(source_schema name, target_schema name)
RETURNS TABLE (table_name regclass, copied_rows bigint)
    LANGUAGE plpgsql STRICT
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	t record;
	k record;
	n bigint;
	target regclass;
BEGIN
	IF source_schema OPERATOR(pg_catalog.=) ANY (ARRAY['privacy', 'privacy_internal', 'privacy_masked', 'pg_catalog', 'information_schema']::name[]) THEN
		RAISE EXCEPTION 'cannot make an anonymised copy of schema "%"', source_schema
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = 'The extension''s schemas and the system catalogs are never copied.';
	END IF;
	IF pg_catalog.to_regnamespace(pg_catalog.quote_ident(source_schema)) IS NULL THEN
		RAISE EXCEPTION 'schema "%" does not exist', source_schema USING ERRCODE = 'invalid_schema_name';
	END IF;
	EXECUTE pg_catalog.format('CREATE SCHEMA %I', target_schema);
	FOR t IN SELECT c.oid::pg_catalog.regclass AS rel, c.relname
			   FROM pg_catalog.pg_class c
			  WHERE c.relnamespace OPERATOR(pg_catalog.=) pg_catalog.to_regnamespace(pg_catalog.quote_ident(source_schema))
				AND c.relkind OPERATOR(pg_catalog.=) ANY (ARRAY['r', 'p']::"char"[]) AND NOT c.relispartition
			  ORDER BY c.relname
	LOOP
		EXECUTE pg_catalog.format('CREATE TABLE %I.%I AS SELECT %s FROM %s WITH NO DATA',
								  target_schema, t.relname, privacy_internal._masked_select_list(t.rel), t.rel);
		EXECUTE pg_catalog.format('INSERT INTO %I.%I SELECT %s FROM %s',
								  target_schema, t.relname, privacy_internal._masked_select_list(t.rel), t.rel);
		GET DIAGNOSTICS n = ROW_COUNT;
		table_name := pg_catalog.format('%I.%I', target_schema, t.relname)::pg_catalog.regclass;
		copied_rows := n;
		RETURN NEXT;
	END LOOP;
	-- Keys first, then the foreign keys that reference them.
	FOR k IN SELECT con.conname, con.conrelid, con.contype, c.relname,
					pg_catalog.pg_get_constraintdef(con.oid) AS def
			   FROM pg_catalog.pg_constraint con
			   JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) con.conrelid
			  WHERE c.relnamespace OPERATOR(pg_catalog.=) pg_catalog.to_regnamespace(pg_catalog.quote_ident(source_schema))
				AND con.contype OPERATOR(pg_catalog.=) ANY (ARRAY['p', 'u', 'f']::"char"[])
				AND NOT EXISTS (SELECT FROM pg_catalog.unnest(con.conkey) a(n)
								 JOIN pg_catalog.pg_attribute att ON att.attrelid OPERATOR(pg_catalog.=) con.conrelid
																  AND att.attnum OPERATOR(pg_catalog.=) a.n
								 JOIN privacy.classified_columns cc ON cc.table_name OPERATOR(pg_catalog.=) con.conrelid
																   AND cc.column_name OPERATOR(pg_catalog.=) att.attname)
				AND (con.contype OPERATOR(pg_catalog.<>) 'f'
					 OR ((SELECT r.relnamespace FROM pg_catalog.pg_class r WHERE r.oid OPERATOR(pg_catalog.=) con.confrelid)
						 OPERATOR(pg_catalog.=) c.relnamespace
						 AND NOT EXISTS (SELECT FROM pg_catalog.unnest(con.confkey) a(n)
										  JOIN pg_catalog.pg_attribute att ON att.attrelid OPERATOR(pg_catalog.=) con.confrelid
																		   AND att.attnum OPERATOR(pg_catalog.=) a.n
										  JOIN privacy.classified_columns cc ON cc.table_name OPERATOR(pg_catalog.=) con.confrelid
																			AND cc.column_name OPERATOR(pg_catalog.=) att.attname)))
			  ORDER BY con.contype OPERATOR(pg_catalog.=) 'f', c.relname, con.conname
	LOOP
		target := pg_catalog.format('%I.%I', target_schema, k.relname)::pg_catalog.regclass;
		IF k.contype OPERATOR(pg_catalog.=) 'f' THEN
			-- The referenced table, named as the source names it, becomes
			-- its copy.
			k.def := pg_catalog.replace(k.def, pg_catalog.format(' REFERENCES %s(', (SELECT con.confrelid::pg_catalog.regclass FROM pg_catalog.pg_constraint con WHERE con.conrelid OPERATOR(pg_catalog.=) k.conrelid AND con.conname OPERATOR(pg_catalog.=) k.conname)),
										pg_catalog.format(' REFERENCES %I.%I(', target_schema,
											(SELECT r.relname FROM pg_catalog.pg_constraint con JOIN pg_catalog.pg_class r ON r.oid OPERATOR(pg_catalog.=) con.confrelid
											  WHERE con.conrelid OPERATOR(pg_catalog.=) k.conrelid AND con.conname OPERATOR(pg_catalog.=) k.conname)));
		END IF;
		EXECUTE pg_catalog.format('ALTER TABLE %s ADD CONSTRAINT %I %s', target, k.conname, k.def);
	END LOOP;
END
$$;

COMMENT ON FUNCTION privacy.anonymized_copy(source_schema name, target_schema name) IS 'Copies every table of a schema into a new schema with its classified columns masked by their masking rules; keys and foreign keys among unmasked columns are kept';

REVOKE ALL ON FUNCTION privacy.anonymized_copy(source_schema name, target_schema name) FROM PUBLIC;

-- Audit entries are written without a global lock and sealed into the hash
-- chain after commit (docs/audit.md): the unsealed entries, their sealer,
-- the backlog view, and verify_audit_log() reporting the unsealed tail.
-- An entry's actor and session role are text rather than name (64 bytes
-- each): the same strings, so every sealed entry's hash stays as it was.
-- The log is rewritten once.
ALTER TABLE privacy.audit_log ALTER COLUMN actor TYPE text, ALTER COLUMN session_role TYPE text;
-- So is the actor of a consent ledger event (rewritten once too).
ALTER TABLE privacy.consent_ledger ALTER COLUMN actor TYPE text;
DROP FUNCTION privacy_internal._audit_entry_hash(bytea, bigint, timestamp with time zone, name, name, text, text, bigint, jsonb);
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
	PERFORM privacy_internal._refuse_citus_table(rel);
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

-- Rectification notices see the rectifications that wait to be sealed too.
CREATE OR REPLACE VIEW privacy.rectification_notices AS
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
  -- the rectifications sealed into the audit log, and those that wait to be
  -- sealed (one entry per element of a statement's subject_refs)
  JOIN (SELECT s.subject_ref, s.logged_at, s.summary
		  FROM privacy.audit_log s
		 WHERE s.action OPERATOR(pg_catalog.=) 'rectification'
		UNION ALL
		SELECT r.ref, u.logged_at, u.summary
		  FROM privacy._audit_unsealed u
		 CROSS JOIN LATERAL pg_catalog.unnest(COALESCE(u.subject_refs, ARRAY[u.subject_ref])) AS r(ref)
		 WHERE u.action OPERATOR(pg_catalog.=) 'rectification') a
	ON a.subject_ref OPERATOR(pg_catalog.=) l.subject_ref
 WHERE a.logged_at OPERATOR(pg_catalog.>) l.disclosed_at
 GROUP BY l.kind, l.subject, l.recipient, l.disclosed_at;

-- The catalog tables lose their foreign keys among each other, so that a
-- parallel pg_restore, which loads configuration tables in any order, can
-- restore them; lint() reports a name that refers to nothing instead.
ALTER TABLE privacy.classifications DROP CONSTRAINT classifications_category_fkey;
ALTER TABLE privacy.classifications DROP CONSTRAINT classifications_source_fkey;
ALTER TABLE privacy.subject_paths DROP CONSTRAINT subject_paths_kind_fkey;

CREATE FUNCTION privacy_internal._lint_catalog_references()
RETURNS TABLE (severity text, object text, problem text, hint text)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT 'error', ref.object,
		   pg_catalog.format('%s names %s "%s", which the catalog does not have', ref.what, ref.target, ref.name),
		   'Apply the policy document again: privacy.apply_policy() writes the catalog consistently.'
	  FROM (SELECT 'the classification' AS what, pg_catalog.format('%s.%I', cl.table_name, cl.column_name) AS object,
				   'category' AS target, cl.category AS name
			  FROM privacy.classifications cl
			 WHERE NOT EXISTS (SELECT FROM privacy.categories c WHERE c.name = cl.category)
			UNION ALL
			SELECT 'the classification', pg_catalog.format('%s.%I', cl.table_name, cl.column_name), 'source', cl.source
			  FROM privacy.classifications cl
			 WHERE NOT EXISTS (SELECT FROM privacy.sources s WHERE s.name = cl.source)
			UNION ALL
			SELECT 'the subject path', p.table_name::text, 'subject kind', p.kind
			  FROM privacy.subject_paths p
			 WHERE NOT EXISTS (SELECT FROM privacy.subject_kinds k WHERE k.name = p.kind)
			UNION ALL
			SELECT 'the masking rule', pg_catalog.format('category %s', m.category), 'category', m.category
			  FROM privacy.masking_rules m
			 WHERE m.category IS NOT NULL
			   AND NOT EXISTS (SELECT FROM privacy.categories c WHERE c.name = m.category)
			UNION ALL
			SELECT 'the masked recipient', m.recipient, 'recipient', m.recipient
			  FROM privacy.masked_recipients m
			 WHERE NOT EXISTS (SELECT FROM privacy.recipients r WHERE r.name = m.recipient)) ref;
END;

COMMENT ON FUNCTION privacy_internal._lint_catalog_references() IS 'lint: catalog rows naming a category, source, subject kind or recipient the catalog does not have (the catalog tables have no foreign keys among them, so that a parallel restore can load them in any order)';
-- Where Citus distributes a table, the retention job names rows by primary
-- key (a ctid names a row only within one shard): the rows a run leaves out
-- are kept as text.
CREATE FUNCTION privacy_internal._row_id_sql(rel regclass, param integer) RETURNS text[]
    LANGUAGE c STABLE STRICT
    AS 'MODULE_PATHNAME', 'privacy_row_id_sql';

COMMENT ON FUNCTION privacy_internal._row_id_sql(rel regclass, param integer) IS 'How the retention job names rows of a table (alias t): {the row id as text, the condition that the row is one of the ids in $param, the locking clause for picking rows}; by ctid, or by primary key where Citus distributes the table';

REVOKE ALL ON FUNCTION privacy_internal._row_id_sql(rel regclass, param integer) FROM PUBLIC;

DROP FUNCTION privacy_internal._retention_batch(bigint, text, timestamp with time zone, timestamp with time zone, text, boolean, tid[]);

CREATE FUNCTION privacy_internal._retention_batch(run_id bigint, rule_name text, cutoff timestamp with time zone, stop_at timestamp with time zone, INOUT last_anchor text, INOUT after_last boolean, INOUT excluded text[], OUT outcome text) RETURNS record
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
	tids text[];
	row_ids text[];
	picked_ids text[];
	not_excluded text;
	recheck text;
	batch_last text;
	found_rows integer;
	done bigint;
	blocked bigint;
	one text;
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
	-- How rows are named (privacy_internal._row_id_sql): by ctid, or where
	-- Citus distributes the table by primary key; $4 holds the rows the
	-- run leaves out, $1 those a statement acts on.
	row_ids := privacy_internal._row_id_sql(rule.table_name, 4);
	not_excluded := 'NOT ' OPERATOR(pg_catalog.||) row_ids[2];
	picked_ids := privacy_internal._row_id_sql(rule.table_name, 1);
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
					 ELSE ' AND ' OPERATOR(pg_catalog.||) not_excluded END),
				cutoff, last_anchor, batch_size, excluded, window_last);
			-- A row a trigger or rule kept is still due in the range.
			IF may_keep AND privacy_internal._cached_value(pg_catalog.format(
					'SELECT EXISTS (SELECT FROM %1$s t WHERE %2$s AND t.%3$s OPERATOR(pg_catalog.<=) (SELECT $5::%4$s)%5$s)',
					rel, due_sql, anchor_col, s.anchor_type,
					CASE WHEN pg_catalog.cardinality(excluded) OPERATOR(pg_catalog.=) 0 THEN ''
						 ELSE ' AND ' OPERATOR(pg_catalog.||) not_excluded END),
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
		-- fails as a whole. Citus cannot lock rows of more than one
		-- shard this way: there the rows are picked without a lock, and
		-- the statement acting on them checks again that they are due.
		EXECUTE pg_catalog.format(
			'SELECT pg_catalog.array_agg(b.id), pg_catalog.max(b.a)::text FROM (
			   SELECT %5$s AS id, t.%1$s AS a FROM %2$s t
				WHERE %3$s AND NOT %4$s AND %6$s
				ORDER BY t.%1$s LIMIT $3%7$s) b',
			anchor_col, rel, due_sql, held, row_ids[1], not_excluded, row_ids[3])
		   INTO tids, batch_last
		  USING cutoff, last_anchor, batch_size, excluded;
		recheck := CASE WHEN row_ids[3] OPERATOR(pg_catalog.<>) '' THEN pg_catalog.format(
						' AND t.%1$s OPERATOR(pg_catalog.<=) (SELECT $2::%2$s) AND %3$s AND NOT %4$s',
						anchor_col, s.anchor_type, s.todo, held)
					ELSE '' END;
		found_rows := COALESCE(pg_catalog.cardinality(tids), 0);
		after_last := false;
		BEGIN
			-- {rows changed, changed rows still to do}, as the owner.
			changed := privacy_internal._cached_value_as_owner(rule.table_name, pg_catalog.format(
				'WITH c AS (%s WHERE %s%s RETURNING %s AS k) '
				'SELECT ARRAY[pg_catalog.count(*), pg_catalog.count(*) FILTER (WHERE c.k)] FROM c',
				s.action, picked_ids[2], recheck, kept_sql), NULL::bigint[], tids, cutoff);
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
						'WITH c AS (%s WHERE %s%s RETURNING %s AS k) '
						'SELECT ARRAY[pg_catalog.count(*), pg_catalog.count(*) FILTER (WHERE c.k)] FROM c',
						s.action, picked_ids[2], recheck, kept_sql), NULL::bigint[], ARRAY[one], cutoff);
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

COMMENT ON FUNCTION privacy_internal._retention_batch(run_id bigint, rule_name text, cutoff timestamp with time zone, stop_at timestamp with time zone, INOUT last_anchor text, INOUT after_last boolean, INOUT excluded text[], OUT outcome text) IS 'One batch of a retention run for one rule: the next due rows after the last batch, deleted or anonymised as the table''s owner; returns where the next batch starts and whether the rule is done, skipped (locked or held), stopped at the time budget, or has more';

REVOKE ALL ON FUNCTION privacy_internal._retention_batch(run_id bigint, rule_name text, cutoff timestamp with time zone, stop_at timestamp with time zone, INOUT last_anchor text, INOUT after_last boolean, INOUT excluded text[], OUT outcome text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION privacy_internal._retention_batch(run_id bigint, rule_name text, cutoff timestamp with time zone, stop_at timestamp with time zone, INOUT last_anchor text, INOUT after_last boolean, INOUT excluded text[], OUT outcome text) TO PUBLIC;

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
	excluded text[];
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
-- The ledger's state trigger in C; the ledger functions and the import
-- write the state of their events themselves (src/consent/ledger_state.c).
CREATE OR REPLACE FUNCTION privacy_internal._maintain_ledger_state() RETURNS trigger
    LANGUAGE c
    AS 'MODULE_PATHNAME', 'privacy_maintain_ledger_state';

-- privacy.import_consents() validates and records in one statement of its
-- own (src/consent/consent_import.c).
DROP FUNCTION privacy_internal._import_consents(kind text, purpose text, source text, staging regclass,
												has_granted_at boolean, has_evidence boolean, evidence jsonb,
												anchor text, key_column text, key_type text, key_operator text);
CREATE FUNCTION privacy_internal._import_key(subject text) RETURNS text
    LANGUAGE c STABLE
    AS 'MODULE_PATHNAME', 'privacy_import_key';
COMMENT ON FUNCTION privacy_internal._import_key(subject text) IS 'The canonical key of a staged subject, for the statement of privacy.import_consents() only (an error elsewhere)';
REVOKE ALL ON FUNCTION privacy_internal._import_key(subject text) FROM PUBLIC;

-- The consent ledger's three CHECK constraints as one C function, which a
-- statement plans in a fraction of the time.
CREATE FUNCTION privacy_internal._ledger_event_is_valid(action text, purpose text, evidence jsonb) RETURNS boolean
    LANGUAGE c IMMUTABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'privacy_ledger_event_is_valid';
COMMENT ON FUNCTION privacy_internal._ledger_event_is_valid(action text, purpose text, evidence jsonb) IS 'The consent ledger''s CHECK constraint: a known action, a purpose exactly when the action is not a restriction or lifted restriction, evidence that is a JSON object';
REVOKE ALL ON FUNCTION privacy_internal._ledger_event_is_valid(action text, purpose text, evidence jsonb) FROM PUBLIC;
ALTER TABLE privacy.consent_ledger
	DROP CONSTRAINT consent_ledger_action_check,
	DROP CONSTRAINT consent_ledger_check,
	DROP CONSTRAINT consent_ledger_evidence_check,
	ADD CONSTRAINT consent_ledger_event_check CHECK (privacy_internal._ledger_event_is_valid(action, purpose, evidence));
-- protect() on tables Citus manages (issue 17): the coordinator forwards the
-- purpose and the consent state version to the workers, which copy the
-- coordinator's purposes, grants, erasures and consent state
-- (src/consent/purpose_forward.c, src/consent/node_state.c); a table whose
-- policy reads another table is refused (src/protection/distributed_tables.c).

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

COMMENT ON FUNCTION privacy.consent_cache_status(OUT shared_memory boolean, OUT cache text, OUT image_bytes bigint) IS 'How this session''s row-check cache was filled by its last statement that checked rows: empty, probed, read (by this session), shared (copied from another session''s image), updated (this session''s image brought up to date with the subjects changed since) or coordinator (a Citus worker''s copy of the coordinator''s state); shared_memory says whether sessions can share it (library preloaded, not a standby)';

CREATE FUNCTION privacy_internal._check_citus_table(rel regclass, expression text) RETURNS boolean
    LANGUAGE c STRICT
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS 'MODULE_PATHNAME', 'privacy_check_citus_table';

COMMENT ON FUNCTION privacy_internal._check_citus_table(rel regclass, expression text) IS 'Whether Citus manages a table about to be protected with the given row policy expression; refuses one whose policy the worker nodes could not check';

REVOKE ALL ON FUNCTION privacy_internal._check_citus_table(rel regclass, expression text) FROM PUBLIC;

CREATE OR REPLACE FUNCTION privacy_internal._install_protection(rel regclass, kinds text[], path_only boolean) RETURNS void
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
	cls pg_catalog.pg_class;
	qname text := privacy_internal._qualified_name(rel);
	using_expr text := privacy_internal._protection_expr(rel, kinds, 'privacy_internal._may_process');
	trigger_args text := '';
	k text;
BEGIN
	SELECT * INTO STRICT cls FROM pg_catalog.pg_class c WHERE c.oid OPERATOR(pg_catalog.=) rel;
	-- Citus creates the policies and the trigger on every shard of a table
	-- it manages (a trigger only when allowed to, for this function alone).
	IF privacy_internal._check_citus_table(rel, using_expr) THEN
		PERFORM pg_catalog.set_config('citus.enable_unsafe_triggers', 'on', true);
	END IF;
	EXECUTE pg_catalog.format('CREATE POLICY privacy_purpose ON %s AS RESTRICTIVE FOR ALL TO PUBLIC USING (%s) WITH CHECK (%s)',
							  qname, using_expr,
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


-- unprotect() of a table Citus manages drops the trigger on its shards too.
CREATE OR REPLACE FUNCTION privacy_internal._remove_protection(rel regclass) RETURNS void
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
	pt privacy.protected_tables;
	qname text := privacy_internal._qualified_name(rel);
BEGIN
	SELECT * INTO STRICT pt FROM privacy.protected_tables p WHERE p.table_name OPERATOR(pg_catalog.=) rel;
	-- Citus drops the trigger of a table it manages on every shard too, when
	-- allowed to (for this function alone).
	IF EXISTS (SELECT FROM pg_catalog.pg_extension e WHERE e.extname OPERATOR(pg_catalog.=) 'citus') THEN
		PERFORM pg_catalog.set_config('citus.enable_unsafe_triggers', 'on', true);
	END IF;
	IF EXISTS (SELECT FROM pg_catalog.pg_trigger t
				WHERE t.tgrelid OPERATOR(pg_catalog.=) rel AND t.tgname OPERATOR(pg_catalog.=) 'privacy_rectification') THEN
		EXECUTE pg_catalog.format('DROP TRIGGER privacy_rectification ON %s', qname);
	END IF;
	EXECUTE pg_catalog.format('DROP POLICY IF EXISTS privacy_purpose ON %s', qname);
	IF pt.base_policy THEN
		EXECUTE pg_catalog.format('DROP POLICY IF EXISTS privacy_rows ON %s', qname);
	END IF;
	EXECUTE pg_catalog.format('ALTER TABLE %s %s ROW LEVEL SECURITY, %s ROW LEVEL SECURITY', qname,
							  CASE WHEN pt.had_row_security THEN 'ENABLE' ELSE 'DISABLE' END,
							  CASE WHEN pt.had_force_row_security THEN 'FORCE' ELSE 'NO FORCE' END);
	DELETE FROM privacy.protected_tables p WHERE p.table_name OPERATOR(pg_catalog.=) rel;
END
$$;

-- On a table Citus manages, a subject key that every foreign key of the path
-- carries is read from the row itself (tables two hops from the anchor).
CREATE FUNCTION privacy_internal._citus_table(rel regclass) RETURNS boolean
    LANGUAGE c STABLE STRICT
    AS 'MODULE_PATHNAME', 'privacy_citus_table_sql';

COMMENT ON FUNCTION privacy_internal._citus_table(rel regclass) IS 'Whether Citus manages a table (distributed, reference or Citus local); false without Citus';

REVOKE ALL ON FUNCTION privacy_internal._citus_table(rel regclass) FROM PUBLIC;

CREATE OR REPLACE FUNCTION privacy_internal._subject_key_sql(kind text, rel regclass, row_alias text) RETURNS text
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
	k privacy.subject_kinds;
	hops oid[] := privacy_internal._subject_path(kind, rel);
	hop privacy.foreign_keys;
	cur text := pg_catalog.quote_ident(row_alias);
	alias text;
	opening text := '';
	closing text := '';
	i integer;
	pos integer;
	col name;
BEGIN
	SELECT * INTO STRICT k FROM privacy.subject_kinds sk WHERE sk.name = kind;
	-- On a table Citus manages, a key that every foreign key of the path
	-- carries (as co-located tables carry the distribution column) is read
	-- from the row itself: a row policy on a shard cannot read another
	-- distributed table. Where the foreign key holds, it is the same key.
	IF pg_catalog.array_length(hops, 1) > 1 AND privacy_internal._citus_table(rel) THEN
		col := k.key_column;
		FOR i IN REVERSE pg_catalog.array_length(hops, 1) .. 1 LOOP
			SELECT * INTO STRICT hop FROM privacy.foreign_keys f WHERE f.constraint_oid = hops[i];
			pos := pg_catalog.array_position(hop.to_columns, col);
			EXIT WHEN pos IS NULL;
			col := hop.from_columns[pos];
			IF i = 1 THEN
				RETURN cur || '.' || pg_catalog.quote_ident(col);
			END IF;
		END LOOP;
	END IF;
	FOR i IN 1 .. COALESCE(pg_catalog.array_length(hops, 1), 0) LOOP
		SELECT * INTO STRICT hop FROM privacy.foreign_keys f WHERE f.constraint_oid = hops[i];
		pos := pg_catalog.array_position(hop.to_columns, k.key_column);
		IF i = pg_catalog.array_length(hops, 1) AND pos IS NOT NULL THEN
			RETURN opening || cur || '.' || pg_catalog.quote_ident(hop.from_columns[pos]) || closing;
		END IF;
		alias := pg_catalog.quote_ident('_privacy_p' || i);
		opening := opening || '(SELECT ';
		closing := pg_catalog.format(' FROM %s %s WHERE %s)',
									 privacy_internal._qualified_name(hop.to_table), alias,
									 privacy_internal._join_condition(hop, alias, cur)) || closing;
		cur := alias;
	END LOOP;
	RETURN opening || cur || '.' || pg_catalog.quote_ident(k.key_column) || closing;
END
$$;
-- Sessions keep the keys they read until privacy._keys changes, instead of
-- reading them again in every transaction.
CREATE FUNCTION privacy_internal._invalidate_key_cache()
RETURNS trigger
LANGUAGE c
AS 'MODULE_PATHNAME', 'privacy_invalidate_key_cache';
REVOKE ALL ON FUNCTION privacy_internal._invalidate_key_cache() FROM PUBLIC;
COMMENT ON FUNCTION privacy_internal._invalidate_key_cache() IS
	'Statement trigger: a change of the keys makes every session read them again';

CREATE TRIGGER invalidate_key_cache AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON privacy._keys
	FOR EACH STATEMENT EXECUTE FUNCTION privacy_internal._invalidate_key_cache();
ALTER TABLE privacy._keys ENABLE ALWAYS TRIGGER invalidate_key_cache;

-- The export reads the consent history and the disclosures through their
-- subject indexes; its first statement, as the anchor's owner, finds the
-- subject.
COMMENT ON FUNCTION privacy_internal._export_statement(text) IS
	'The statement the export of a subject kind runs first, as the anchor''s owner (the subject''s existence and the rows of that owner''s personal tables), as this session''s subject cache holds it; an unknown kind is an error';
COMMENT ON FUNCTION privacy_internal._consent_history_sql(kind_sql text, key_sql text) IS 'The expression giving a subject''s consent history, for privacy.consent_history() (the export reads the same events through the ledger''s subject index)';

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

-- lint foresees a retention rule the guard of another rule's legal minimum
-- would stop.
CREATE FUNCTION privacy_internal._lint_retention_conflicts()
RETURNS TABLE (severity text, object text, problem text, hint text)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT 'warning',
		   pg_catalog.format('%s(%s)', privacy_internal._qualified_name(x.table_name), pg_catalog.quote_ident(c.col)),
		   pg_catalog.format('retention rule "%s" changes this column after %s, before the legal minimum of retention rule "%s" (%s) ends; the retention guard refuses that change and the retention job stops there',
							 x.name, x.period, y.name, y.minimum),
		   pg_catalog.format('Give rule "%s" a period of at least %s, or take the column out of it: personal data under a legal minimum stays as it was recorded until the minimum ends.',
							 x.name, y.minimum)
	  FROM privacy.retention_rules x
	 CROSS JOIN LATERAL pg_catalog.unnest(x.columns) AS c(col)
	  JOIN privacy.retention_rules y ON y.table_name = x.table_name AND y.name <> x.name AND y.minimum IS NOT NULL
	 WHERE x.action <> 'delete'
	   AND x.period::pg_catalog.interval < y.minimum::pg_catalog.interval
	   AND EXISTS (SELECT FROM privacy.classifications cl
				    WHERE cl.table_name = x.table_name AND cl.column_name = c.col);
END;

COMMENT ON FUNCTION privacy_internal._lint_retention_conflicts() IS 'lint: anonymize and truncate_ip rules due to change a personal column before another rule''s legal minimum on the same table ends';

-- On a Citus worker, an erasure removes the values it took out of a shard
-- from the shard's statistics (src/rights/shard_statistics.c).
CREATE FUNCTION privacy_internal._erased_from_shard(rel regclass, column_names text[], deleted_row record) RETURNS boolean
    LANGUAGE c IMMUTABLE PARALLEL UNSAFE COST 1000
    AS 'MODULE_PATHNAME', 'privacy_erased_from_shard';

COMMENT ON FUNCTION privacy_internal._erased_from_shard(rel regclass, column_names text[], deleted_row record) IS 'Notes the values of the named columns of a row that an erasure deleted from a shard of a table Citus manages (an array column''s elements too), to be removed from the shard''s statistics when the transaction commits; true. The erasure''s DELETE calls it as its last condition where it finds the rows by the table''s own column of the key (it is marked costly so that the planner evaluates it after the cheap ones, the key''s among them), else in its RETURNING list; marked immutable because Citus runs only immutable functions of a row in a DELETE, on the node of the shard; it has no result but true';

REVOKE ALL ON FUNCTION privacy_internal._erased_from_shard(rel regclass, column_names text[], deleted_row record) FROM PUBLIC;
-- The erasure's statements run as the table's owner, whom the function checks.
GRANT EXECUTE ON FUNCTION privacy_internal._erased_from_shard(rel regclass, column_names text[], deleted_row record) TO PUBLIC;

-- A request or a subject's hold is opened before an erasure of the subject
-- that is running or after it: both take the subject's erasure lock.
CREATE OR REPLACE FUNCTION privacy.open_request(kind text, subject text, request_right text, received_at timestamp with time zone DEFAULT now()) RETURNS bigint
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
	key text;
	ref text;
	request_id bigint;
BEGIN
	IF kind IS NULL OR subject IS NULL OR request_right IS NULL OR received_at IS NULL THEN
		RAISE EXCEPTION 'kind, subject, right and received_at must not be null'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF request_right NOT IN ('access', 'rectification', 'erasure', 'restriction', 'portability', 'objection') THEN
		RAISE EXCEPTION 'unrecognized data-subject right "%"', request_right
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Valid rights are access, rectification, erasure, restriction, portability and objection.';
	END IF;
	IF received_at > pg_catalog.now() THEN
		RAISE EXCEPTION 'a request cannot be received in the future'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	key := privacy_internal._canonical_subject(kind, subject, true);
	ref := privacy.subject_ref(kind, key);
	-- Opened before an erasure of the subject that is running, or after it
	-- (which would not see the request, and so not release it).
	PERFORM privacy_internal._lock_subject('erase', kind, ref);
	INSERT INTO privacy.subject_requests (kind, subject, subject_ref, request_right, received_at, deadline, opened_by)
	VALUES (kind, key, ref, request_right, received_at,
			received_at + interval '1 month', SESSION_USER)
	RETURNING id INTO request_id;
	PERFORM privacy_internal._audit(SESSION_USER, 'request.open', kind, key, request_id,
						   pg_catalog.jsonb_build_object('right', request_right,
														 'deadline', received_at + interval '1 month'));
	RETURN request_id;
END
$$;

CREATE OR REPLACE FUNCTION privacy.place_hold(kind text, subject text, reason text, reference text) RETURNS bigint
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
	key text;
	ref text;
	hold_id bigint;
BEGIN
	-- Every argument is checked before the row is written, so that no
	-- constraint's error shows the row (and the key) in its detail.
	IF kind IS NULL OR subject IS NULL OR reason IS NULL OR reference IS NULL THEN
		RAISE EXCEPTION 'kind, subject, reason and reference must not be null'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF reason = '' OR reference = '' THEN
		RAISE EXCEPTION 'a legal hold needs a reason and a reference'
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Give the reason for the hold and the reference of the case or order behind it.';
	END IF;
	key := privacy_internal._canonical_subject(kind, subject, true);
	ref := privacy.subject_ref(kind, key);
	-- Placed before an erasure of the subject that is running, or after it
	-- (which would neither honour nor release the hold).
	PERFORM privacy_internal._lock_subject('erase', kind, ref);
	-- A hold on a subject erased while held names it by reference only.
	IF EXISTS (SELECT FROM privacy.legal_holds h
				WHERE h.released_at IS NULL AND h.kind = place_hold.kind AND h.subject_ref = ref
				  AND h.reference = place_hold.reference) THEN
		RAISE EXCEPTION 'the subject of kind "%" is already held under reference "%"', kind, reference
			USING ERRCODE = 'duplicate_object',
				  HINT = 'privacy.legal_holds lists the holds in force.';
	END IF;
	INSERT INTO privacy.legal_holds (kind, subject, subject_ref, reason, reference)
	VALUES (kind, key, ref, reason, reference)
	RETURNING id INTO hold_id;
	PERFORM privacy_internal._audit(SESSION_USER, 'retention.hold.place', kind, key, NULL,
						   pg_catalog.jsonb_build_object('hold_id', hold_id,
														 'reference_ref', privacy_internal._hold_reference_ref(reference)));
	RETURN hold_id;
EXCEPTION WHEN unique_violation THEN
	RAISE EXCEPTION 'the subject of kind "%" is already held under reference "%"', kind, reference
		USING ERRCODE = 'duplicate_object',
			  HINT = 'privacy.legal_holds lists the holds in force.';
END
$$;

-- The row check costs more than a comparison: a row's cheaper conditions
-- that leak nothing come first.
ALTER FUNCTION privacy_internal._may_process(kind text, subject bigint, owned boolean) COST 2;
ALTER FUNCTION privacy_internal._may_process(kind text, subject text, owned boolean) COST 2;
