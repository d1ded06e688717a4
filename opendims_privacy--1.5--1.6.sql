/* opendims_privacy--1.5--1.6.sql: export, erasure and the retention job keep their statements' plans; the job gives way to the load beside it. */

\echo Use "ALTER EXTENSION opendims_privacy UPDATE TO '1.6'" to load this file. \quit

-- While this script runs, names resolve in pg_catalog only (pg_temp last).
-- CREATE EXTENSION ... CASCADE puts the schema pgcrypto was created in
-- (public, usually) on the script's search_path; an operator, function or
-- type that another role planted there must never be bound into the
-- extension's objects nor run with the installing superuser's rights.
-- Everything the script creates is qualified with the schema privacy, and
-- CREATE and ALTER EXTENSION restore the caller's search_path afterwards.
SELECT pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', true);

------------------------------------------------------------------------------
-- Generated statements with plans kept for the session
------------------------------------------------------------------------------

-- Export, erasure and the subject checks run statements generated from the
-- subject map. PL/pgSQL's EXECUTE planned them on every call, which was most
-- of an export's or an erasure's time; this runs them with a plan kept for
-- the rest of the session (replanned by the plan cache when a table
-- changes). It runs as the calling role, like EXECUTE.
CREATE FUNCTION privacy._cached_value(sql text, result_type anyelement, VARIADIC args "any")
RETURNS anyelement
AS 'MODULE_PATHNAME', 'privacy_cached_value'
LANGUAGE C VOLATILE;
REVOKE ALL ON FUNCTION privacy._cached_value(text, anyelement, "any") FROM PUBLIC;
COMMENT ON FUNCTION privacy._cached_value(text, anyelement, "any") IS
'Runs a generated statement with its plan kept for the session and returns the first column of its only row; result_type is a type marker such as NULL::jsonb';

CREATE FUNCTION privacy._cached_row_count(sql text, VARIADIC args "any")
RETURNS bigint
AS 'MODULE_PATHNAME', 'privacy_cached_row_count'
LANGUAGE C VOLATILE;
REVOKE ALL ON FUNCTION privacy._cached_row_count(text, "any") FROM PUBLIC;
COMMENT ON FUNCTION privacy._cached_row_count(text, "any") IS
'Runs a generated statement (an INSERT, UPDATE or DELETE) with its plan kept for the session and returns how many rows it processed';

-- How a subject kind's keys are read, in one place: its table, the key
-- column and the column's type. An unknown kind is an error.
CREATE FUNCTION privacy._subject_kind_key(kind text, OUT table_name regclass, OUT key_column name,
										  OUT key_type text)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	SELECT sk.table_name, sk.key_column, pg_catalog.format_type(a.atttypid, a.atttypmod)
	  INTO table_name, key_column, key_type
	  FROM privacy.subject_kinds sk
	  JOIN pg_catalog.pg_attribute a
		ON a.attrelid = sk.table_name AND a.attname = sk.key_column AND NOT a.attisdropped
	 WHERE sk.name = kind;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'unrecognized subject kind "%"', kind
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Subject kinds are declared by the policy document; privacy.subject_kinds lists them.';
	END IF;
END
$$;
REVOKE ALL ON FUNCTION privacy._subject_kind_key(text) FROM PUBLIC;
COMMENT ON FUNCTION privacy._subject_kind_key(text) IS
'The table, key column and key type of a subject kind; an unknown kind is an error';

-- A subject's key in the canonical text of the key's type, with what
-- privacy._subject_kind_key() says about the kind. A NULL key, or one that
-- is not a value of the type, is an error.
CREATE FUNCTION privacy._subject_key(kind text, subject text, OUT key text, OUT table_name regclass,
									 OUT key_column name, OUT key_type text)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	k record := privacy._subject_kind_key(kind);
BEGIN
	table_name := k.table_name;
	key_column := k.key_column;
	key_type := k.key_type;
	IF subject IS NULL THEN
		RAISE EXCEPTION 'subject key must not be null'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	BEGIN
		key := privacy._cached_value(pg_catalog.format('SELECT ($1::%s)::text', key_type), NULL::text, subject);
	EXCEPTION WHEN data_exception THEN
		RAISE EXCEPTION 'invalid subject key for subject kind "%"', kind
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = pg_catalog.format('A key of this kind is a value of type %s, the type of %s.%I.',
											 key_type, privacy._qualified_name(table_name), key_column);
	END;
END
$$;
REVOKE ALL ON FUNCTION privacy._subject_key(text, text) FROM PUBLIC;
COMMENT ON FUNCTION privacy._subject_key(text, text) IS
'A subject''s key in canonical form, with its kind''s table, key column and key type';

CREATE OR REPLACE FUNCTION privacy._canonical_subject(kind text, subject text, must_exist boolean)
RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	s record := privacy._subject_key(kind, subject);
BEGIN
	IF must_exist AND NOT privacy._cached_value(
			pg_catalog.format('SELECT EXISTS (SELECT FROM %s WHERE %I OPERATOR(pg_catalog.=) $1::%s)',
							  privacy._qualified_name(s.table_name), s.key_column, s.key_type),
			NULL::boolean, s.key) THEN
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
	RETURN privacy._cached_value(
		pg_catalog.format('SELECT EXISTS (SELECT FROM %s t WHERE t.%I = $1::%s %s)',
						  privacy._qualified_name(s.table_name), s.key_column, s.key_type,
						  CASE WHEN lock_it THEN 'FOR UPDATE' ELSE '' END),
		NULL::boolean, s.key);
END
$$;

------------------------------------------------------------------------------
-- Export: one generated statement per subject kind
------------------------------------------------------------------------------

-- The statement that reads one subject's personal rows from every table of
-- a kind at once ($1 is the subject key): a jsonb object with one key per
-- table (its quoted, qualified name) whose value is the array of the
-- subject's rows, or null where it has none.
CREATE FUNCTION privacy._export_sql(kind text)
RETURNS text
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT COALESCE(
		'SELECT pg_catalog.jsonb_build_object('
		|| pg_catalog.string_agg(pg_catalog.format(
				'%L, (SELECT pg_catalog.jsonb_agg(pg_catalog.to_jsonb(t0)) %s)',
				privacy._qualified_name(p.table_name), p.rows_sql), ', ' ORDER BY p.depth, p.table_name::text)
		|| ')',
		-- A kind whose tables hold no personal column exports nothing.
		'SELECT ''{}''::pg_catalog.jsonb WHERE $1 IS NOT NULL')
	  FROM privacy._subject_plan(kind) p
	 WHERE p.personal;
END;
REVOKE ALL ON FUNCTION privacy._export_sql(text) FROM PUBLIC;
COMMENT ON FUNCTION privacy._export_sql(text) IS
'The statement reading one subject''s personal rows from every table of a kind';

-- What an export says about each table of a kind, keyed like the export
-- statement's result: the table (oid), its columns' categories and their
-- sources.
CREATE FUNCTION privacy._export_tables(kind text)
RETURNS jsonb
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT COALESCE(pg_catalog.jsonb_object_agg(privacy._qualified_name(p.table_name), pg_catalog.jsonb_build_object(
				'oid', p.table_name::oid,
				'categories', (SELECT pg_catalog.jsonb_object_agg(cc.column_name, cc.category ORDER BY cc.column_name)
								 FROM privacy.classified_columns cc WHERE cc.table_name = p.table_name),
				'sources', (SELECT COALESCE(pg_catalog.jsonb_agg(DISTINCT cc.source), '[]')
							  FROM privacy.classified_columns cc WHERE cc.table_name = p.table_name))), '{}')
	  FROM privacy._subject_plan(kind) p
	 WHERE p.personal;
END;
REVOKE ALL ON FUNCTION privacy._export_tables(text) FROM PUBLIC;
COMMENT ON FUNCTION privacy._export_tables(text) IS
'Per table of a subject kind: its oid and its personal columns'' categories and sources, for the export';

-- The sections of an export that depend on the policy alone: controller,
-- policy version, purposes with their legal bases, recipients, rights and
-- contact.
CREATE FUNCTION privacy._export_policy_sections()
RETURNS jsonb
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT pg_catalog.jsonb_build_object(
		'controller', top.document -> 'controller',
		'policy_version', top.document -> 'version',
		'purposes', (
			SELECT COALESCE(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
						'purpose', p.name, 'description', p.description, 'legal_basis', p.legal_basis,
						'article', privacy._legal_basis_article(p.legal_basis)) ORDER BY p.name), '[]')
			  FROM privacy.purposes p),
		'recipients', (
			SELECT COALESCE(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
						'recipient', r.name, 'kind', r.kind, 'purposes', pg_catalog.to_jsonb(r.purposes),
						'description', r.description) ORDER BY r.name), '[]')
			  FROM privacy.recipients r),
		'rights', privacy._subject_rights(),
		'contact', top.document -> 'controller' -> 'contact')
	  FROM (SELECT (SELECT v.document FROM privacy.policy_versions v ORDER BY v.id DESC LIMIT 1) AS document) top;
END;
REVOKE ALL ON FUNCTION privacy._export_policy_sections() FROM PUBLIC;
COMMENT ON FUNCTION privacy._export_policy_sections() IS
'The sections of an export that depend on the policy alone';

-- Cache of all three, cleared with the per-table plans (and so on every
-- policy change).
CREATE TABLE privacy._export_statements (
	kind text PRIMARY KEY,
	export_sql text NOT NULL,
	tables jsonb NOT NULL,
	sections jsonb NOT NULL
);
REVOKE ALL ON privacy._export_statements FROM PUBLIC;
COMMENT ON TABLE privacy._export_statements IS
'Cache: per subject kind, the statement reading one subject''s personal rows, what the export says about each table, and the sections that depend on the policy alone; cleared on DDL and policy changes';

CREATE FUNCTION privacy._export_statement(kind text)
RETURNS privacy._export_statements
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	statement privacy._export_statements;
BEGIN
	SELECT * INTO statement FROM privacy._export_statements s WHERE s.kind = _export_statement.kind;
	IF NOT FOUND THEN
		statement := ROW(kind, privacy._export_sql(kind), privacy._export_tables(kind),
						 privacy._export_policy_sections());
		INSERT INTO privacy._export_statements VALUES (statement.*) ON CONFLICT DO NOTHING;
	END IF;
	RETURN statement;
END
$$;
REVOKE ALL ON FUNCTION privacy._export_statement(text) FROM PUBLIC;
COMMENT ON FUNCTION privacy._export_statement(text) IS
'The export statement of a subject kind, what the export says about its tables, and the policy''s sections (cached)';

-- Everything derived from the subject map goes at once, whether DDL, a
-- security label or a policy change cleared it.
CREATE FUNCTION privacy._forget_subject_caches()
RETURNS void
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	DELETE FROM privacy._subject_plans;
	DELETE FROM privacy._export_statements;
END;
REVOKE ALL ON FUNCTION privacy._forget_subject_caches() FROM PUBLIC;
COMMENT ON FUNCTION privacy._forget_subject_caches() IS
'Empties the caches derived from the subject map: per-table plans and export statements';

CREATE OR REPLACE FUNCTION privacy._forget_subject_plans()
RETURNS event_trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	PERFORM privacy._forget_subject_caches();
END
$$;

CREATE OR REPLACE FUNCTION privacy._forget_subject_plans_on_policy()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	PERFORM privacy._forget_subject_caches();
	RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION privacy._export_subject(kind text, subject text, request_id bigint)
RETURNS jsonb
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	statement privacy._export_statements;
	data jsonb;
	tables regclass[];
	total bigint;
	result jsonb;
BEGIN
	IF kind IS NULL OR subject IS NULL THEN
		RAISE EXCEPTION 'kind and subject must not be null' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF NOT privacy._subject_exists(kind, subject, false) THEN
		RAISE EXCEPTION 'subject "%" of kind "%" does not exist', subject, kind
			USING ERRCODE = 'no_data_found';
	END IF;

	-- The subject's rows, table by table, with the categories of each table.
	statement := privacy._export_statement(kind);
	SELECT COALESCE(pg_catalog.jsonb_object_agg(r.key, pg_catalog.jsonb_build_object(
				'categories', statement.tables -> r.key -> 'categories', 'rows', r.value)), '{}'),
		   COALESCE(pg_catalog.array_agg((statement.tables -> r.key ->> 'oid')::pg_catalog.oid::pg_catalog.regclass), '{}'),
		   COALESCE(pg_catalog.sum(pg_catalog.jsonb_array_length(r.value)), 0)
	  INTO data, tables, total
	  FROM pg_catalog.jsonb_each(privacy._cached_value(statement.export_sql, NULL::jsonb, subject)) r
	 WHERE pg_catalog.jsonb_typeof(r.value) = 'array';

	result := statement.sections || pg_catalog.jsonb_build_object(
		'subject', pg_catalog.jsonb_build_object('kind', kind, 'key', subject),
		'generated_at', pg_catalog.now(),
		'data', data,
		'categories', (
			SELECT COALESCE(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
						'category', c.name, 'description', c.description) ORDER BY c.name), '[]')
			  FROM privacy.categories c
			 WHERE c.name IN (SELECT x.value FROM pg_catalog.jsonb_each(data) d,
									 pg_catalog.jsonb_each_text(d.value -> 'categories') x)),
		'sources', (
			SELECT COALESCE(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
						'source', s.name, 'description', s.description) ORDER BY s.name), '[]')
			  FROM privacy.sources s
			 WHERE s.name IN (SELECT pg_catalog.jsonb_array_elements_text(statement.tables -> d.key -> 'sources')
								FROM pg_catalog.jsonb_object_keys(data) d(key))),
		'retention', (
			SELECT COALESCE(pg_catalog.jsonb_agg(pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object(
						'table', privacy._qualified_name(rr.table_name), 'period', rr.period,
						'counted_from', rr.anchor, 'action', rr.action, 'legal_basis', rr.legal_basis,
						'minimum', rr.minimum,
						'minimum_from', CASE WHEN rr.minimum IS NOT NULL THEN rr.minimum_from END,
						'description', NULLIF(rr.description, '')))
					ORDER BY rr.name), '[]')
			  FROM privacy.retention_rules rr
			 WHERE rr.table_name = ANY (tables)),
		'consent_history', privacy.consent_history(kind, subject));

	PERFORM privacy._audit(SESSION_USER, 'export', kind, subject, request_id,
						   pg_catalog.jsonb_build_object('tables', pg_catalog.cardinality(tables), 'rows', total));
	RETURN result;
END
$$;

------------------------------------------------------------------------------
-- Erasure: the per-table statements keep their plans
------------------------------------------------------------------------------

CREATE OR REPLACE FUNCTION privacy._erase_table(kind text, subject text, plan privacy._subject_plans)
RETURNS jsonb
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	rel regclass := plan.table_name;
	ctids tid[];
	kept tid[];
	deleted_ctids tid[] := '{}';
	rule record;
	retained_until timestamptz;
	entry jsonb;
	hold text;
	anonymize_columns name[];
	anonymize_rule text;
	detach text := '';
	set_list text;
	not_yet_anonymized text;
	anonymized integer := 0;
BEGIN
	IF NOT plan.personal THEN
		RETURN NULL;
	END IF;
	ctids := privacy._cached_value(
		'SELECT pg_catalog.array_agg(s.ctid) FROM (SELECT t0.ctid ' || plan.rows_sql || ' FOR UPDATE OF t0) s',
		NULL::tid[], subject);
	IF ctids IS NULL THEN
		RETURN NULL;
	END IF;
	entry := pg_catalog.jsonb_build_object('table', privacy._qualified_name(rel), 'rows', pg_catalog.cardinality(ctids));

	hold := privacy._hold_reference(kind, subject, rel);
	IF hold IS NOT NULL THEN
		RETURN entry || pg_catalog.jsonb_build_object('held', pg_catalog.cardinality(ctids), 'hold_reference', hold);
	END IF;

	-- Rows a legal minimum still keeps stay untouched, with their end date.
	FOR rule IN SELECT rr.name, rr.anchor, rr.legal_basis FROM privacy.retention_rules rr
				 WHERE rr.table_name = rel AND rr.minimum IS NOT NULL ORDER BY rr.name LOOP
		kept := privacy._cached_value(pg_catalog.format(
			'SELECT pg_catalog.array_agg(t.ctid) FROM %s t '
			'WHERE t.ctid = ANY ($1) AND privacy._minimum_end(%L, t.%I::timestamptz) > pg_catalog.now()',
			privacy._qualified_name(rel), rule.name, rule.anchor), NULL::tid[], ctids);
		IF kept IS NOT NULL THEN
			retained_until := privacy._cached_value(pg_catalog.format(
				'SELECT pg_catalog.max(privacy._minimum_end(%L, t.%I::timestamptz)) FROM %s t WHERE t.ctid = ANY ($1)',
				rule.name, rule.anchor, privacy._qualified_name(rel)), NULL::timestamptz, kept);
			ctids := ARRAY(SELECT c FROM pg_catalog.unnest(ctids) c EXCEPT SELECT k FROM pg_catalog.unnest(kept) k);
			entry := entry || pg_catalog.jsonb_build_object(
				'retained', pg_catalog.cardinality(kept), 'retained_until', retained_until::date,
				'retention_rule', rule.name, 'basis', rule.legal_basis);
		END IF;
	END LOOP;

	SELECT rr.name INTO anonymize_rule FROM privacy.retention_rules rr
	 WHERE rr.table_name = rel AND rr.action = 'anonymize' ORDER BY rr.name LIMIT 1;

	IF anonymize_rule IS NULL AND pg_catalog.cardinality(ctids) > 0 THEN
		-- Delete what no remaining row references.
		deleted_ctids := privacy._cached_value(plan.delete_sql, NULL::tid[], ctids);
		ctids := ARRAY(SELECT c FROM pg_catalog.unnest(ctids) c EXCEPT SELECT d FROM pg_catalog.unnest(deleted_ctids) d);
		entry := entry || pg_catalog.jsonb_build_object('deleted', pg_catalog.cardinality(deleted_ctids));
	END IF;

	IF pg_catalog.cardinality(ctids) > 0 THEN
		-- The personal columns, and the foreign key that ties the row to the
		-- subject where it can be cleared.
		SELECT pg_catalog.array_agg(DISTINCT c) INTO anonymize_columns
		  FROM (SELECT cc.column_name AS c FROM privacy.classified_columns cc WHERE cc.table_name = rel
				UNION
				SELECT pg_catalog.unnest(rr.columns) FROM privacy.retention_rules rr
				 WHERE rr.table_name = rel AND rr.action = 'anonymize') cols;
		IF pg_catalog.cardinality(plan.hops) > 0 AND NOT EXISTS (
				SELECT FROM privacy.foreign_keys f
				  JOIN pg_catalog.pg_attribute a ON a.attrelid = f.from_table AND a.attname = ANY (f.from_columns)
				 WHERE f.constraint_oid = plan.hops[1] AND a.attnotnull) THEN
			SELECT pg_catalog.string_agg(pg_catalog.format(', %I = NULL', c), '')
			  INTO detach
			  FROM privacy.foreign_keys f, pg_catalog.unnest(f.from_columns) c
			 WHERE f.constraint_oid = plan.hops[1];
		END IF;
		-- Rows already anonymised (by an earlier erasure) are left as they are.
		SELECT pg_catalog.string_agg(pg_catalog.format('%I = %s', c, privacy._anonymized_value_sql(rel, c, 't')), ', '),
			   pg_catalog.string_agg(pg_catalog.format(
					'(t.%1$I IS NOT NULL AND t.%1$I::text NOT LIKE ''[erased %%'' AND t.%1$I::text NOT LIKE ''erased-%%@erased.invalid'')', c), ' OR ')
		  INTO set_list, not_yet_anonymized
		  FROM pg_catalog.unnest(anonymize_columns) c;
		IF detach <> '' THEN
			SELECT not_yet_anonymized || ' OR ' || pg_catalog.string_agg(pg_catalog.format('t.%I IS NOT NULL', c), ' OR ')
			  INTO not_yet_anonymized
			  FROM privacy.foreign_keys f, pg_catalog.unnest(f.from_columns) c
			 WHERE f.constraint_oid = plan.hops[1];
		END IF;
		anonymized := privacy._cached_value(pg_catalog.format(
			'WITH changed AS (UPDATE %s t SET %s%s WHERE t.ctid = ANY ($1) AND (%s) RETURNING 1) '
			'SELECT pg_catalog.count(*)::pg_catalog.int4 FROM changed',
			privacy._qualified_name(rel), set_list, detach, not_yet_anonymized), NULL::integer, ctids);
		entry := entry || pg_catalog.jsonb_build_object('anonymized', anonymized, 'kept_anonymous', pg_catalog.cardinality(ctids),
			'anonymized_because', CASE WHEN anonymize_rule IS NOT NULL
									   THEN pg_catalog.format('retention rule "%s" keeps the rows without the person', anonymize_rule)
									   ELSE 'rows that are kept reference them' END);
	END IF;
	RETURN entry;
END
$$;

-- The tables and conditions that reach one subject's rows of rel (alias
-- t0) through its foreign-key path: joined lists the other tables of the
-- path ("a AS t1, b AS t2", empty when rel holds the key itself) and
-- conditions the join conditions and the key's, the key being $1 (text,
-- cast to the key's type). The last hop stops short of the subject's own
-- table when the referencing column holds the key, so that each hop can
-- use its foreign-key index.
CREATE FUNCTION privacy._subject_clauses(kind text, rel regclass, OUT joined text, OUT conditions text)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	k record := privacy._subject_kind_key(kind);
	hops oid[] := privacy._subject_path(kind, rel);
	hop_count integer := COALESCE(pg_catalog.array_length(hops, 1), 0);
	hop privacy.foreign_keys;
	key_column text := k.key_column;
	tables text[] := '{}';
	conds text[] := '{}';
	cur text := 't0';
	alias text;
	pos integer;
BEGIN
	FOR i IN 1 .. hop_count LOOP
		SELECT * INTO STRICT hop FROM privacy.foreign_keys f WHERE f.constraint_oid = hops[i];
		pos := pg_catalog.array_position(hop.to_columns, k.key_column);
		IF i = hop_count AND pos IS NOT NULL THEN
			key_column := hop.from_columns[pos];
			EXIT;
		END IF;
		alias := 't' || i;
		tables := tables || pg_catalog.format('%s AS %s', privacy._qualified_name(hop.to_table), alias);
		conds := conds || privacy._join_condition(hop, alias, cur);
		cur := alias;
	END LOOP;
	conds := conds || pg_catalog.format('%s.%I = $1::%s', cur, key_column, k.key_type);
	joined := pg_catalog.array_to_string(tables, ', ');
	conditions := pg_catalog.array_to_string(conds, ' AND ');
END
$$;
REVOKE ALL ON FUNCTION privacy._subject_clauses(text, regclass) FROM PUBLIC;
COMMENT ON FUNCTION privacy._subject_clauses(text, regclass) IS
'The other tables and the conditions of the path from a table (alias t0) to one subject, the subject key being $1';

CREATE OR REPLACE FUNCTION privacy._subject_rows_sql(kind text, rel regclass)
RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT pg_catalog.format('FROM %s AS t0%s WHERE %s', privacy._qualified_name(rel),
							 CASE WHEN c.joined <> '' THEN ', ' || c.joined ELSE '' END, c.conditions)
	  FROM privacy._subject_clauses(kind, rel) c;
END;

-- " AND NOT EXISTS (...)" for every foreign key referencing rel: true of a
-- row (alias row_alias) that no row of any table references.
CREATE FUNCTION privacy._unreferenced_condition(rel regclass, row_alias text)
RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT COALESCE(pg_catalog.string_agg(pg_catalog.format(
						' AND NOT EXISTS (SELECT FROM %s r WHERE %s)',
						privacy._qualified_name(f.from_table), privacy._join_condition(f, row_alias, 'r')), ''
						ORDER BY f.constraint_name), '')
	  FROM privacy.foreign_keys f WHERE f.to_table = rel;
END;
REVOKE ALL ON FUNCTION privacy._unreferenced_condition(regclass, text) FROM PUBLIC;
COMMENT ON FUNCTION privacy._unreferenced_condition(regclass, text) IS
'A condition true of the rows of a table that no row references';

CREATE OR REPLACE FUNCTION privacy._delete_unreferenced_sql(rel regclass)
RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT pg_catalog.format(
		'WITH gone AS (DELETE FROM %s t WHERE t.ctid = ANY ($1)%s RETURNING t.ctid) '
		'SELECT COALESCE(pg_catalog.array_agg(gone.ctid), ''{}'') FROM gone',
		privacy._qualified_name(rel), privacy._unreferenced_condition(rel, 't'));
END;

-- The statement deleting one subject's rows of rel that no row references
-- ($1 the subject key), in one pass through the path: its result is
-- {rows of the subject in rel, rows deleted}, counted in the statement's
-- snapshot (where no foreign key references rel, every row goes and is not
-- counted twice). A DELETE follows a row that another transaction updates
-- meanwhile, which a delete by ctid would not.
CREATE FUNCTION privacy._subject_erase_sql(kind text, rel regclass)
RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT pg_catalog.format(
		'WITH gone AS (DELETE FROM %1$s AS t0%2$s WHERE %3$s%4$s RETURNING 1) '
		'SELECT ARRAY[%5$s, g.n]::pg_catalog.int4[] FROM (SELECT pg_catalog.count(*) AS n FROM gone) g',
		privacy._qualified_name(rel),
		CASE WHEN c.joined <> '' THEN ' USING ' || c.joined ELSE '' END,
		c.conditions,
		u.condition,
		CASE WHEN u.condition = '' THEN 'g.n'
			 ELSE pg_catalog.format('(SELECT pg_catalog.count(*) FROM %s AS t0%s WHERE %s)',
									privacy._qualified_name(rel),
									CASE WHEN c.joined <> '' THEN ', ' || c.joined ELSE '' END,
									c.conditions) END)
	  FROM privacy._subject_clauses(kind, rel) c,
		   privacy._unreferenced_condition(rel, 't0') u(condition);
END;
REVOKE ALL ON FUNCTION privacy._subject_erase_sql(text, regclass) FROM PUBLIC;
COMMENT ON FUNCTION privacy._subject_erase_sql(text, regclass) IS
'The statement deleting one subject''s unreferenced rows of a table and counting the subject''s rows';

-- Erasure clears the subject from the requests that name it.
CREATE INDEX ON privacy.subject_requests (kind, subject_ref);

-- The cached plans gain the erasure statement; the cache starts empty.
SELECT privacy._forget_subject_caches();
ALTER TABLE privacy._subject_plans ADD COLUMN erase_sql text NOT NULL;

CREATE OR REPLACE FUNCTION privacy._subject_plan(kind text)
RETURNS SETOF privacy._subject_plans
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF NOT EXISTS (SELECT FROM privacy._subject_plans p WHERE p.kind = _subject_plan.kind) THEN
		INSERT INTO privacy._subject_plans (kind, table_name, depth, personal, hops, rows_sql, delete_sql, erase_sql)
		SELECT m.kind, m.table_name, m.depth, m.personal,
			   privacy._subject_path(m.kind, m.table_name),
			   privacy._subject_rows_sql(m.kind, m.table_name),
			   privacy._delete_unreferenced_sql(m.table_name),
			   privacy._subject_erase_sql(m.kind, m.table_name)
		  FROM privacy.subject_map m
		 WHERE m.kind = _subject_plan.kind
		ON CONFLICT DO NOTHING;
	END IF;
	RETURN QUERY SELECT * FROM privacy._subject_plans p WHERE p.kind = _subject_plan.kind
				 ORDER BY p.depth, p.table_name::text;
END
$$;

-- Erasure: one statement per table in the usual case.
CREATE OR REPLACE FUNCTION privacy._erase_subject(kind text, subject text, reason text, request_id bigint)
RETURNS jsonb
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	ref text;
	plan privacy._subject_plans;
	line jsonb;
	lines jsonb := '[]';
	previous privacy.erasures;
	ledgers jsonb;
	receipt jsonb;
	erased_at timestamptz := pg_catalog.now();
	subject_held boolean;
	careful_tables regclass[];
	counts integer[];
	rest jsonb;
BEGIN
	IF kind IS NULL OR subject IS NULL THEN
		RAISE EXCEPTION 'kind and subject must not be null' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF reason IS NULL OR pg_catalog.btrim(reason) = '' THEN
		RAISE EXCEPTION 'an erasure needs a reason'
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Give the ground of GDPR Art. 17(1), e.g. ''consent withdrawn'', without personal data.';
	END IF;
	IF NOT EXISTS (SELECT FROM privacy.subject_kinds sk WHERE sk.name = kind) THEN
		RAISE EXCEPTION 'unrecognized subject kind "%"', kind
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Subject kinds are declared by the policy document; privacy.subject_kinds lists them.';
	END IF;
	ref := privacy.subject_ref(kind, subject);

	-- One erasure of a subject at a time; the anchor row stays locked, so
	-- that no new row can be attached to the subject until this commits.
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
	FOR plan IN SELECT * FROM privacy._subject_plan(kind) p ORDER BY p.depth DESC, p.table_name::text LOOP
		CONTINUE WHEN NOT plan.personal;
		IF subject_held OR plan.table_name = ANY (careful_tables) THEN
			line := privacy._erase_table(kind, subject, plan);
		ELSE
			counts := privacy._cached_value(plan.erase_sql, NULL::integer[], subject);
			-- Rows that rows kept elsewhere still reference are anonymised.
			rest := CASE WHEN counts[1] > counts[2] THEN privacy._erase_table(kind, subject, plan) END;
			line := NULL;
			IF counts[2] > 0 OR rest IS NOT NULL THEN
				line := COALESCE(rest, pg_catalog.jsonb_build_object('table', privacy._qualified_name(plan.table_name)))
					|| pg_catalog.jsonb_build_object(
						'rows', counts[2] + COALESCE((rest ->> 'rows')::integer, 0),
						'deleted', counts[2] + COALESCE((rest ->> 'deleted')::integer, 0));
			END IF;
		END IF;
		IF line IS NOT NULL THEN
			lines := lines || line;
		END IF;
	END LOOP;
	ledgers := privacy._forget_subject_in_ledgers(kind, subject);
	UPDATE privacy.subject_requests sr SET subject = NULL
	 WHERE sr.kind = _erase_subject.kind AND sr.subject_ref = ref;

	SELECT pg_catalog.jsonb_build_object(
		'kind', kind, 'subject_ref', ref, 'erased_at', erased_at, 'reason', reason,
		'request_id', request_id,
		'changed', COALESCE(pg_catalog.sum(COALESCE((l ->> 'deleted')::integer, 0)
										   + COALESCE((l ->> 'anonymized')::integer, 0)), 0) > 0,
		'already_erased', EXISTS (SELECT FROM privacy.erasures e
								   WHERE e.kind = _erase_subject.kind AND e.subject_ref = ref),
		'rows_deleted', COALESCE(pg_catalog.sum((l ->> 'deleted')::integer), 0),
		'rows_anonymized', COALESCE(pg_catalog.sum((l ->> 'anonymized')::integer), 0),
		'rows_retained', COALESCE(pg_catalog.sum((l ->> 'retained')::integer), 0),
		'rows_held', COALESCE(pg_catalog.sum((l ->> 'held')::integer), 0),
		'tables', lines,
		'ledgers', ledgers)
	  INTO receipt
	  FROM pg_catalog.jsonb_array_elements(lines) l;

	INSERT INTO privacy.erasures (kind, subject_ref, erased_at, request_id, reason, receipt)
	VALUES (kind, ref, erased_at, request_id, reason, receipt);
	PERFORM privacy._audit(SESSION_USER, 'erasure', kind, subject, request_id,
						   receipt - 'tables' - 'subject_ref' - 'kind' - 'ledgers');
	RETURN receipt;
END
$$;

-- Forgetting a subject in the ledgers writes only if there is something to forget.
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
	PERFORM pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('privacy.consent_ledger'),
											 pg_catalog.hashtext(kind || E'\x1f' || key));
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

------------------------------------------------------------------------------
-- The retention job keeps the plan of its batch statement
------------------------------------------------------------------------------

-- The job's backend lowers its own CPU priority to privacy.retention_nice
-- (default 10), so that on a busy server the sessions beside it get the CPU
-- first.
CREATE FUNCTION privacy._retention_lower_priority()
RETURNS integer
AS 'MODULE_PATHNAME', 'privacy_retention_lower_priority'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
REVOKE ALL ON FUNCTION privacy._retention_lower_priority() FROM PUBLIC;
COMMENT ON FUNCTION privacy._retention_lower_priority() IS
'Lowers this backend''s CPU priority to privacy.retention_nice (never raises it) and returns its nice value (called by the retention job)';

-- A batch was one statement planned again for every batch: the window (the
-- anchors of the next batch_size due rows) and, in a data-modifying CTE,
-- the range DELETE or UPDATE up to the window's last anchor. The CTE's
-- RETURNING cost about a third more than the DELETE itself. Now the window
-- and the range statement are two statements in the batch's transaction,
-- each with a plan kept for the run, and the range statement's row count
-- comes from the executor.
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
	SELECT r.rows_due INTO run_due FROM privacy.retention_runs r WHERE r.id OPERATOR(pg_catalog.=) run_id;
	COMMIT;

	<<rules>>
	FOREACH rule_name IN ARRAY rule_names LOOP
		SELECT * INTO rule FROM privacy.retention_rules rr WHERE rr.name OPERATOR(pg_catalog.=) rule_name;
		CONTINUE WHEN NOT FOUND;
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

-- Counting a rule's due rows at the start of a run (and for the status
-- view) is a scan of the table: it runs without parallel workers, so that
-- the job's start does not take every CPU from the load it runs beside.
ALTER FUNCTION privacy._retention_counts(privacy.retention_rules, timestamptz)
	SET max_parallel_workers_per_gather = 0;
