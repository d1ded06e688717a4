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

CREATE OR REPLACE FUNCTION privacy.restrict(kind text, subject text, reason text)
RETURNS bigint
LANGUAGE c SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'privacy_restrict';

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

ALTER TABLE privacy._ledger_state DROP CONSTRAINT _ledger_state_pkey,
	ADD CONSTRAINT _ledger_state_pkey PRIMARY KEY (kind, subject, purpose);
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
