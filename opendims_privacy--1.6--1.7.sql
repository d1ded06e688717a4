/* opendims_privacy--1.6--1.7.sql: an export is one generated statement per subject kind; erasure does less around its statements; the subject checks share one statement. */

\echo Use "ALTER EXTENSION opendims_privacy UPDATE TO '1.7'" to load this file. \quit

-- While this script runs, names resolve in pg_catalog only (pg_temp last).
-- CREATE EXTENSION ... CASCADE puts the schema pgcrypto was created in
-- (public, usually) on the script's search_path; an operator, function or
-- type that another role planted there must never be bound into the
-- extension's objects nor run with the installing superuser's rights.
-- Everything the script creates is qualified with the schema privacy, and
-- CREATE and ALTER EXTENSION restore the caller's search_path afterwards.
SELECT pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', true);

------------------------------------------------------------------------------
-- The subject checks: one statement for all
------------------------------------------------------------------------------

-- 1.6 wrote the statement that tells whether a subject's row exists twice,
-- in privacy._canonical_subject() and privacy._subject_exists(); both, and
-- the export statement below, now take it from here. $1 is the subject key.
CREATE FUNCTION privacy._subject_exists_sql(table_name regclass, key_column name, key_type text, lock_it boolean)
RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
RETURN pg_catalog.format('SELECT EXISTS (SELECT FROM %s t WHERE t.%I OPERATOR(pg_catalog.=) $1::%s%s)',
						 privacy._qualified_name(table_name), key_column, key_type,
						 CASE WHEN lock_it THEN ' FOR UPDATE' ELSE '' END);
REVOKE ALL ON FUNCTION privacy._subject_exists_sql(regclass, name, text, boolean) FROM PUBLIC;
COMMENT ON FUNCTION privacy._subject_exists_sql(regclass, name, text, boolean) IS
'The statement telling whether the row of a subject key ($1) exists, locking it if asked';

CREATE OR REPLACE FUNCTION privacy._canonical_subject(kind text, subject text, must_exist boolean)
RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	s record := privacy._subject_key(kind, subject);
BEGIN
	IF must_exist AND NOT privacy._cached_value(
			privacy._subject_exists_sql(s.table_name, s.key_column, s.key_type, false), NULL::boolean, s.key) THEN
		RAISE EXCEPTION 'subject of kind "%" does not exist', kind
			USING ERRCODE = 'no_data_found',
				  DETAIL = pg_catalog.format('No row of %s has this %I.',
											 privacy._qualified_name(s.table_name), s.key_column);
	END IF;
	RETURN s.key;
END
$$;

CREATE OR REPLACE FUNCTION privacy._subject_exists(kind text, subject text, lock_it boolean)
RETURNS boolean
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	-- Checks the kind and the key's syntax, with the ledger's errors.
	s record := privacy._subject_key(kind, subject);
BEGIN
	RETURN privacy._cached_value(privacy._subject_exists_sql(s.table_name, s.key_column, s.key_type, lock_it),
								 NULL::boolean, s.key);
END
$$;

------------------------------------------------------------------------------
-- Export: one statement reads the subject, its rows and its history
------------------------------------------------------------------------------

-- In 1.6 an export ran a statement for the subject's rows and then, in
-- PL/pgSQL, checked the subject, looked up the categories, sources and
-- retention rules of the tables with rows, and read the consent history:
-- about a dozen statements, most of an export's time. What the policy says
-- about each table does not change between exports, so it now goes into the
-- generated statement as constants, and one statement per subject kind does
-- everything that depends on the subject.

-- A subject's consent, objection and restriction events, oldest first, as
-- a jsonb array: an expression, for privacy.consent_history() and the export
-- statement, given SQL for the kind and for the canonical key (text). It
-- reads the ledger through its (kind, subject) index; an erased subject's
-- events are found by the subject's reference.
CREATE FUNCTION privacy._consent_history_sql(kind_sql text, key_sql text)
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
REVOKE ALL ON FUNCTION privacy._consent_history_sql(text, text) FROM PUBLIC;
COMMENT ON FUNCTION privacy._consent_history_sql(text, text) IS
'The expression giving a subject''s consent history, for privacy.consent_history() and the export statement';

CREATE OR REPLACE FUNCTION privacy.consent_history(kind text, subject text)
RETURNS jsonb
LANGUAGE plpgsql STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	RETURN privacy._cached_value('SELECT ' || privacy._consent_history_sql('$1', '$2'), NULL::jsonb,
								 kind, privacy._canonical_subject(kind, subject, false));
END
$$;

-- What the export statement returns: the export document and, for its
-- audit entry, how many tables and rows it holds.
CREATE TYPE privacy._export_result AS (document jsonb, table_count integer, row_count bigint);

-- The export statement of a kind; $1 is the subject key as given (text).
-- Its only row (none when no row of the kind's table has that key) is the
-- whole export document:
--   controller, policy_version, purposes, recipients, rights, contact
--                    the policy's sections (constants);
--   subject, generated_at;
--   data             per table with rows (its quoted, qualified name): the
--                    columns' categories and the rows;
--   categories, sources, retention
--                    the entries that concern those tables;
--   consent_history  the subject's ledger events, oldest first.
-- (Volatile: on first use for a kind it fills the plan cache.)
CREATE OR REPLACE FUNCTION privacy._export_sql(kind text)
RETURNS text
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	k record := privacy._subject_kind_key(kind);
	-- The personal tables in the order of the export, and the FROM clause
	-- of each one's rows of the subject; the sections below name the tables
	-- they concern by their number in this order.
	personal regclass[];
	from_clauses text[];
	tables text;
	categories text;
	sources text;
	retention text;
	policy_sections text;
BEGIN
	SELECT pg_catalog.array_agg(p.table_name ORDER BY p.depth, p.table_name::text),
		   pg_catalog.array_agg(p.rows_sql ORDER BY p.depth, p.table_name::text)
	  INTO personal, from_clauses
	  FROM privacy._subject_plan(kind) p
	 WHERE p.personal;

	SELECT pg_catalog.string_agg(pg_catalog.format(
				'(%s, %L, (SELECT pg_catalog.jsonb_build_object(''categories'', %L::pg_catalog.jsonb, '
				'''rows'', pg_catalog.jsonb_agg(pg_catalog.to_jsonb(t0))) %s HAVING pg_catalog.count(*) > 0))',
				t.n, privacy._qualified_name(t.table_name),
				(SELECT pg_catalog.jsonb_object_agg(cc.column_name, cc.category ORDER BY cc.column_name)
				   FROM privacy.classified_columns cc WHERE cc.table_name = t.table_name),
				t.rows_sql), ', ' ORDER BY t.n)
	  INTO tables
	  FROM ROWS FROM (pg_catalog.unnest(personal), pg_catalog.unnest(from_clauses)) WITH ORDINALITY t(table_name, rows_sql, n);

	-- The categories and the sources of the personal columns, each with the
	-- tables whose columns have it.
	SELECT pg_catalog.string_agg(privacy._export_entry_sql(e.ord, e.ns, e.entry), ', ' ORDER BY e.ord)
			   FILTER (WHERE e.section = 'categories'),
		   pg_catalog.string_agg(privacy._export_entry_sql(e.ord, e.ns, e.entry), ', ' ORDER BY e.ord)
			   FILTER (WHERE e.section = 'sources')
	  INTO categories, sources
	  FROM (SELECT x.section, x.entry, pg_catalog.array_agg(DISTINCT t.n) AS ns,
				   pg_catalog.row_number() OVER (PARTITION BY x.section ORDER BY x.name) AS ord
			  FROM pg_catalog.unnest(personal) WITH ORDINALITY t(table_name, n)
			  JOIN privacy.classified_columns cc ON cc.table_name = t.table_name
			  CROSS JOIN LATERAL (
					SELECT 'categories', c.name, pg_catalog.jsonb_build_object('category', c.name, 'description', c.description)
					  FROM privacy.categories c WHERE c.name = cc.category
					UNION ALL
					SELECT 'sources', s.name, pg_catalog.jsonb_build_object('source', s.name, 'description', s.description)
					  FROM privacy.sources s WHERE s.name = cc.source) x(section, name, entry)
			 GROUP BY x.section, x.name, x.entry) e;

	SELECT pg_catalog.string_agg(privacy._export_entry_sql(e.ord, ARRAY[e.n], e.entry), ', ' ORDER BY e.ord)
	  INTO retention
	  FROM (SELECT pg_catalog.row_number() OVER (ORDER BY rr.name) AS ord, t.n,
				   pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object(
						'table', privacy._qualified_name(rr.table_name), 'period', rr.period,
						'counted_from', rr.anchor, 'action', rr.action, 'legal_basis', rr.legal_basis,
						'minimum', rr.minimum,
						'minimum_from', CASE WHEN rr.minimum IS NOT NULL THEN rr.minimum_from END,
						'description', NULLIF(rr.description, ''))) AS entry
			  FROM privacy.retention_rules rr
			  JOIN pg_catalog.unnest(personal) WITH ORDINALITY t(table_name, n) ON t.table_name = rr.table_name) e;

	SELECT pg_catalog.string_agg(pg_catalog.format('%L, %L::pg_catalog.jsonb', x.key, x.value), ', ' ORDER BY x.key)
	  INTO policy_sections
	  FROM pg_catalog.jsonb_each(privacy._export_policy_sections()) x;

	RETURN pg_catalog.format($sql$
WITH tables (n, name, entry) AS (%1$s),
present AS (
	SELECT pg_catalog.array_agg(t.n) AS ns,
		   COALESCE(pg_catalog.jsonb_object_agg(t.name, t.entry), '{}') AS data,
		   COALESCE(pg_catalog.sum(pg_catalog.jsonb_array_length(t.entry -> 'rows')), 0) AS row_count
	  FROM tables t
	 WHERE t.entry IS NOT NULL)
SELECT ROW(pg_catalog.jsonb_build_object(
	%2$s,
	'subject', pg_catalog.jsonb_build_object('kind', %3$L, 'key', $1),
	'generated_at', pg_catalog.now(),
	'data', p.data,
	'categories', %4$s,
	'sources', %5$s,
	'retention', %6$s,
	'consent_history', %8$s),
	COALESCE(pg_catalog.cardinality(p.ns), 0), p.row_count)::privacy._export_result
  FROM present p
 WHERE (%7$s)$sql$,
		-- A kind whose tables hold no personal column has no rows to read.
		COALESCE('VALUES ' || tables,
				 'SELECT NULL::pg_catalog.int4, NULL::pg_catalog.text, NULL::pg_catalog.jsonb WHERE false'),
		policy_sections, kind,
		privacy._export_section_sql(categories),
		privacy._export_section_sql(sources),
		privacy._export_section_sql(retention),
		privacy._subject_exists_sql(k.table_name, k.key_column, k.key_type, false),
		privacy._consent_history_sql(pg_catalog.quote_literal(kind), pg_catalog.format('($1::%s)::text', k.key_type)));
END
$$;

-- One entry of a section of the export statement: a VALUES row of its place
-- in the section, the numbers of the tables it concerns, and the entry.
CREATE FUNCTION privacy._export_entry_sql(ord bigint, tables bigint[], entry jsonb)
RETURNS text
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
RETURN pg_catalog.format('(%s, %L::pg_catalog.int4[], %L::pg_catalog.jsonb)', ord, tables, entry);
REVOKE ALL ON FUNCTION privacy._export_entry_sql(bigint, bigint[], jsonb) FROM PUBLIC;
COMMENT ON FUNCTION privacy._export_entry_sql(bigint, bigint[], jsonb) IS
'One entry of a section of the export statement, as a VALUES row';

-- One section of the export statement from its entries (VALUES rows of
-- privacy._export_entry_sql, or NULL for none): an expression giving the
-- array of the entries that concern a table where the subject has rows
-- (p.ns, the numbers of those tables).
CREATE FUNCTION privacy._export_section_sql(entries text)
RETURNS text
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
RETURN CASE WHEN entries IS NULL THEN '''[]''::pg_catalog.jsonb'
			ELSE pg_catalog.format('(SELECT COALESCE(pg_catalog.jsonb_agg(e.entry ORDER BY e.ord), ''[]'') '
								   'FROM (VALUES %s) e(ord, ns, entry) WHERE e.ns OPERATOR(pg_catalog.&&) p.ns)',
								   entries) END;
REVOKE ALL ON FUNCTION privacy._export_section_sql(text) FROM PUBLIC;
COMMENT ON FUNCTION privacy._export_section_sql(text) IS
'One section of the export statement: the entries that concern the tables where the subject has rows';

-- The cache keeps the statement alone: the policy's sections and what the
-- export says about each table are now part of it.
SELECT privacy._forget_subject_caches();
DROP FUNCTION privacy._export_statement(text);
ALTER TABLE privacy._export_statements DROP COLUMN tables, DROP COLUMN sections;
COMMENT ON TABLE privacy._export_statements IS
'Cache: per subject kind, the export statement; cleared on DDL and policy changes';
DROP FUNCTION privacy._export_tables(text);

CREATE FUNCTION privacy._export_statement(kind text)
RETURNS text
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	statement text;
BEGIN
	SELECT s.export_sql INTO statement FROM privacy._export_statements s WHERE s.kind = _export_statement.kind;
	IF NOT FOUND THEN
		statement := privacy._export_sql(kind);
		INSERT INTO privacy._export_statements (kind, export_sql) VALUES (kind, statement) ON CONFLICT DO NOTHING;
	END IF;
	RETURN statement;
END
$$;
REVOKE ALL ON FUNCTION privacy._export_statement(text) FROM PUBLIC;
COMMENT ON FUNCTION privacy._export_statement(text) IS
'The export statement of a subject kind (cached); an unknown kind is an error';

CREATE OR REPLACE FUNCTION privacy._export_subject(kind text, subject text, request_id bigint)
RETURNS jsonb
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	statement text;
	export privacy._export_result;
BEGIN
	IF kind IS NULL OR subject IS NULL THEN
		RAISE EXCEPTION 'kind and subject must not be null' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	statement := privacy._export_statement(kind);
	BEGIN
		export := privacy._cached_value(statement, NULL::privacy._export_result, subject);
	EXCEPTION WHEN data_exception THEN
		-- A key that is not a value of the key's type gets the error every
		-- function taking a subject gives; any other error stands.
		PERFORM privacy._subject_key(kind, subject);
		RAISE;
	END;
	IF export.document IS NULL THEN
		RAISE EXCEPTION 'subject "%" of kind "%" does not exist', subject, kind
			USING ERRCODE = 'no_data_found';
	END IF;
	PERFORM privacy._audit(SESSION_USER, 'export', kind, subject, request_id,
						   pg_catalog.jsonb_build_object('tables', export.table_count, 'rows', export.row_count));
	RETURN export.document;
END
$$;

------------------------------------------------------------------------------
-- Erasure: less work around the statements
------------------------------------------------------------------------------

-- Filling the per-table plan cache of a kind is a step of its own, so that
-- erasure can read the cache table directly (in the order it needs, without
-- privacy._subject_plan()'s set-returning call) after making sure it is full.
CREATE FUNCTION privacy._fill_subject_plans(kind text)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF NOT EXISTS (SELECT FROM privacy._subject_plans p WHERE p.kind = _fill_subject_plans.kind) THEN
		INSERT INTO privacy._subject_plans (kind, table_name, depth, personal, hops, rows_sql, delete_sql, erase_sql)
		SELECT m.kind, m.table_name, m.depth, m.personal,
			   privacy._subject_path(m.kind, m.table_name),
			   privacy._subject_rows_sql(m.kind, m.table_name),
			   privacy._delete_unreferenced_sql(m.table_name),
			   privacy._subject_erase_sql(m.kind, m.table_name)
		  FROM privacy.subject_map m
		 WHERE m.kind = _fill_subject_plans.kind
		ON CONFLICT DO NOTHING;
	END IF;
END
$$;
REVOKE ALL ON FUNCTION privacy._fill_subject_plans(text) FROM PUBLIC;
COMMENT ON FUNCTION privacy._fill_subject_plans(text) IS
'Fills the per-table plan cache of a subject kind unless it holds the kind already';

CREATE OR REPLACE FUNCTION privacy._subject_plan(kind text)
RETURNS SETOF privacy._subject_plans
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	PERFORM privacy._fill_subject_plans(kind);
	RETURN QUERY SELECT * FROM privacy._subject_plans p WHERE p.kind = _subject_plan.kind
				 ORDER BY p.depth, p.table_name::text;
END
$$;

-- The same steps as in 1.6, with less around them: the kind is checked once
-- (by privacy._subject_exists), the tables are read from the plan cache
-- directly, and the receipt's lines and totals are collected as the tables
-- are erased instead of being added up from a jsonb array afterwards.
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
	PERFORM pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtextextended('privacy.erase ' || ref, 0));
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
