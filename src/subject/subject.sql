-- subject: resolving a data subject's kind and key, the foreign-key paths
-- from each table to the subject, and the per-subject lock. C: src/subject/.

CREATE FUNCTION privacy_internal._cached_row_count(sql text, VARIADIC args "any") RETURNS bigint
    LANGUAGE c
    AS 'MODULE_PATHNAME', 'privacy_cached_row_count';

COMMENT ON FUNCTION privacy_internal._cached_row_count(sql text, VARIADIC args "any") IS 'Runs a generated statement (an INSERT, UPDATE or DELETE) with its plan kept for the session and returns how many rows it processed';

REVOKE ALL ON FUNCTION privacy_internal._cached_row_count(sql text, VARIADIC args "any") FROM PUBLIC;

CREATE FUNCTION privacy_internal._cached_row_count_as_owner(rel regclass, sql text, VARIADIC args "any") RETURNS bigint
    LANGUAGE c
    AS 'MODULE_PATHNAME', 'privacy_cached_row_count_as_owner';

COMMENT ON FUNCTION privacy_internal._cached_row_count_as_owner(rel regclass, sql text, VARIADIC args "any") IS 'Runs a generated statement (an UPDATE or DELETE) as the owner of a table, with its plan kept, and returns how many rows it processed';

REVOKE ALL ON FUNCTION privacy_internal._cached_row_count_as_owner(rel regclass, sql text, VARIADIC args "any") FROM PUBLIC;

CREATE FUNCTION privacy_internal._cached_value(sql text, result_type anyelement, VARIADIC args "any") RETURNS anyelement
    LANGUAGE c
    AS 'MODULE_PATHNAME', 'privacy_cached_value';

COMMENT ON FUNCTION privacy_internal._cached_value(sql text, result_type anyelement, VARIADIC args "any") IS 'Runs a generated statement with its plan kept for the session and returns the first column of its only row; result_type is a type marker such as NULL::jsonb';

REVOKE ALL ON FUNCTION privacy_internal._cached_value(sql text, result_type anyelement, VARIADIC args "any") FROM PUBLIC;

CREATE FUNCTION privacy_internal._cached_value_as_owner(rel regclass, sql text, result_type anyelement, VARIADIC args "any") RETURNS anyelement
    LANGUAGE c
    AS 'MODULE_PATHNAME', 'privacy_cached_value_as_owner';

COMMENT ON FUNCTION privacy_internal._cached_value_as_owner(rel regclass, sql text, result_type anyelement, VARIADIC args "any") IS 'Runs a generated statement as the owner of a table (restricted, search_path pinned, forced row security of its own tables off) with its plan kept, and returns the first column of its only row';

REVOKE ALL ON FUNCTION privacy_internal._cached_value_as_owner(rel regclass, sql text, result_type anyelement, VARIADIC args "any") FROM PUBLIC;

CREATE FUNCTION privacy_internal._row_id_sql(rel regclass, param integer) RETURNS text[]
    LANGUAGE c STABLE STRICT
    AS 'MODULE_PATHNAME', 'privacy_row_id_sql';

COMMENT ON FUNCTION privacy_internal._row_id_sql(rel regclass, param integer) IS 'How the retention job names rows of a table (alias t): {the row id as text, the condition that the row is one of the ids in $param, the locking clause for picking rows}; by ctid, or by primary key where Citus distributes the table';

REVOKE ALL ON FUNCTION privacy_internal._row_id_sql(rel regclass, param integer) FROM PUBLIC;

CREATE FUNCTION privacy_internal._canonical_subject(kind text, subject text, must_exist boolean)
RETURNS text
LANGUAGE c STABLE
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'privacy_canonical_subject';

COMMENT ON FUNCTION privacy_internal._canonical_subject(kind text, subject text, must_exist boolean) IS 'A subject key in canonical text form, checked against its kind (and optionally its anchor table)';

REVOKE ALL ON FUNCTION privacy_internal._canonical_subject(kind text, subject text, must_exist boolean) FROM PUBLIC;

CREATE FUNCTION privacy_internal._join_condition(hop privacy.foreign_keys, parent_alias text, child_alias text)
RETURNS text
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT pg_catalog.string_agg(pg_catalog.format('%s.%I = %s.%I', parent_alias, c.to_col, child_alias, c.from_col),
								 ' AND ' ORDER BY c.ord)
	  FROM ROWS FROM (pg_catalog.unnest(hop.to_columns), pg_catalog.unnest(hop.from_columns))
		   WITH ORDINALITY AS c(to_col, from_col, ord);
END;

COMMENT ON FUNCTION privacy_internal._join_condition(hop privacy.foreign_keys, parent_alias text, child_alias text) IS 'The join condition of a foreign-key hop';

REVOKE ALL ON FUNCTION privacy_internal._join_condition(hop privacy.foreign_keys, parent_alias text, child_alias text) FROM PUBLIC;

CREATE FUNCTION privacy.subject_ref(kind text, subject text) RETURNS text
    LANGUAGE c STABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'privacy_subject_ref';

COMMENT ON FUNCTION privacy.subject_ref(kind text, subject text) IS 'The keyed hash (HMAC-SHA-256) that stands for a data subject in the audit log, so that it holds no raw identifier';

REVOKE ALL ON FUNCTION privacy.subject_ref(kind text, subject text) FROM PUBLIC;

CREATE FUNCTION privacy_internal._lint_nullable_paths()
RETURNS TABLE (severity text, object text, problem text, hint text)
LANGUAGE sql STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	WITH paths AS MATERIALIZED (SELECT * FROM privacy_internal._subject_paths())
	SELECT 'error', privacy_internal._qualified_name(p.table_name),
		   pg_catalog.format('reaches subject kind "%s" through foreign key "%s", whose columns may be NULL, while its foreign key "%s" also leads to that kind: a row with the first NULL and the second set belongs to no subject for row security, export and erasure',
							 p.kind, f.constraint_name, other.constraint_name),
		   pg_catalog.format('Make %s NOT NULL, or pin the path of %s for kind "%s" through a foreign key that is never NULL.',
							 pg_catalog.array_to_string(f.from_columns, ', '), privacy_internal._qualified_name(p.table_name), p.kind)
	  FROM paths p
	  JOIN privacy.subject_kinds k ON k.name OPERATOR(pg_catalog.=) p.kind
	  JOIN privacy.foreign_keys f ON f.constraint_oid OPERATOR(pg_catalog.=) p.hops[1]
	 CROSS JOIN LATERAL (
		SELECT o.constraint_name FROM privacy.foreign_keys o
		 WHERE o.from_table OPERATOR(pg_catalog.=) p.table_name
		   AND o.constraint_oid OPERATOR(pg_catalog.<>) f.constraint_oid
		   AND o.to_table OPERATOR(pg_catalog.<>) p.table_name
		   AND (o.to_table OPERATOR(pg_catalog.=) k.table_name
				OR EXISTS (SELECT FROM paths q
							WHERE q.kind OPERATOR(pg_catalog.=) p.kind AND q.table_name OPERATOR(pg_catalog.=) o.to_table))
		 ORDER BY o.constraint_name LIMIT 1) other
	 WHERE p.status OPERATOR(pg_catalog.=) ANY (ARRAY['ok', 'pinned'])
	   AND EXISTS (SELECT FROM pg_catalog.pg_attribute a
					WHERE a.attrelid OPERATOR(pg_catalog.=) p.table_name
					  AND a.attname OPERATOR(pg_catalog.=) ANY (f.from_columns) AND NOT a.attnotnull);
END;

COMMENT ON FUNCTION privacy_internal._lint_nullable_paths() IS 'lint: subject paths that begin with a nullable foreign key while another foreign key leads to the same kind';

CREATE FUNCTION privacy_internal._lock_subject(scope text, kind text, subject text) RETURNS void
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
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

COMMENT ON FUNCTION privacy_internal._lock_subject(scope text, kind text, subject text) IS 'Locks a subject in a scope (consent_ledger, erase) until the end of the transaction; waits while another transaction holds it; no role without rights on the extension''s tables can take or hold it';

REVOKE ALL ON FUNCTION privacy_internal._lock_subject(scope text, kind text, subject text) FROM PUBLIC;

CREATE FUNCTION privacy_internal._subject_clauses(kind text, rel regclass, OUT joined text, OUT conditions text) RETURNS record
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $_$
DECLARE
	k record := privacy_internal._subject_kind_key(kind);
	hops oid[] := privacy_internal._subject_path(kind, rel);
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
		tables := tables || pg_catalog.format('%s AS %s', privacy_internal._qualified_name(hop.to_table), alias);
		conds := conds || privacy_internal._join_condition(hop, alias, cur);
		cur := alias;
	END LOOP;
	conds := conds || pg_catalog.format('%s.%I = $1::%s', cur, key_column, k.key_type);
	joined := pg_catalog.array_to_string(tables, ', ');
	conditions := pg_catalog.array_to_string(conds, ' AND ');
END
$_$;

COMMENT ON FUNCTION privacy_internal._subject_clauses(kind text, rel regclass, OUT joined text, OUT conditions text) IS 'The other tables and the conditions of the path from a table (alias t0) to one subject, the subject key being $1';

REVOKE ALL ON FUNCTION privacy_internal._subject_clauses(kind text, rel regclass, OUT joined text, OUT conditions text) FROM PUBLIC;

CREATE FUNCTION privacy_internal._subject_exists(kind text, subject text, lock_it boolean)
RETURNS boolean
LANGUAGE c
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'privacy_subject_exists';

COMMENT ON FUNCTION privacy_internal._subject_exists(kind text, subject text, lock_it boolean) IS 'Whether a subject''s anchor row exists, optionally locking it';

REVOKE ALL ON FUNCTION privacy_internal._subject_exists(kind text, subject text, lock_it boolean) FROM PUBLIC;

CREATE FUNCTION privacy_internal._subject_key_sql(kind text, rel regclass, row_alias text) RETURNS text
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

COMMENT ON FUNCTION privacy_internal._subject_key_sql(kind text, rel regclass, row_alias text) IS 'A SQL expression yielding the subject key of a row of a table (for row security, holds and triggers)';

REVOKE ALL ON FUNCTION privacy_internal._subject_key_sql(kind text, rel regclass, row_alias text) FROM PUBLIC;

CREATE FUNCTION privacy_internal._subject_kind_key(kind text, OUT table_name regclass, OUT key_column name, OUT key_type text) RETURNS record
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
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

COMMENT ON FUNCTION privacy_internal._subject_kind_key(kind text, OUT table_name regclass, OUT key_column name, OUT key_type text) IS 'The table, key column and key type of a subject kind; an unknown kind is an error';

REVOKE ALL ON FUNCTION privacy_internal._subject_kind_key(kind text, OUT table_name regclass, OUT key_column name, OUT key_type text) FROM PUBLIC;

CREATE FUNCTION privacy_internal._subject_path(kind text, rel regclass) RETURNS oid[]
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $_$
DECLARE
	p record;
BEGIN
	IF NOT EXISTS (SELECT FROM privacy.subject_kinds k WHERE k.name = kind) THEN
		RAISE EXCEPTION 'unrecognized subject kind "%"', kind
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Subject kinds are declared by the policy document; privacy.subject_kinds lists them.';
	END IF;
	SELECT * INTO p FROM privacy_internal._subject_paths() sp WHERE sp.kind = $1 AND sp.table_name = rel;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'table % does not reach subject kind "%"', rel, kind
			USING ERRCODE = 'invalid_foreign_key',
				  HINT = 'Only tables that reference the anchor table through foreign keys hold a subject''s rows; see privacy.subject_map.';
	END IF;
	IF p.status = 'ambiguous' THEN
		RAISE EXCEPTION 'table % reaches subject kind "%" by more than one path', rel, kind
			USING ERRCODE = 'invalid_foreign_key',
				  DETAIL = pg_catalog.format('The candidates are: %s.', p.path),
				  HINT = 'Pin one path in the policy document with "paths" under the subject kind.';
	END IF;
	RETURN p.hops;
END
$_$;

COMMENT ON FUNCTION privacy_internal._subject_path(kind text, rel regclass) IS 'The foreign-key path (constraint OIDs) from a table to the anchor of a subject kind, or an error';

REVOKE ALL ON FUNCTION privacy_internal._subject_path(kind text, rel regclass) FROM PUBLIC;

CREATE FUNCTION privacy_internal._subject_rows_sql(kind text, rel regclass)
RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT pg_catalog.format('FROM %s AS t0%s WHERE %s', privacy_internal._qualified_name(rel),
							 CASE WHEN c.joined <> '' THEN ', ' || c.joined ELSE '' END, c.conditions)
	  FROM privacy_internal._subject_clauses(kind, rel) c;
END;

COMMENT ON FUNCTION privacy_internal._subject_rows_sql(kind text, rel regclass) IS 'FROM and WHERE clauses selecting one subject''s rows of a table (alias t0), the subject key being $1';

REVOKE ALL ON FUNCTION privacy_internal._subject_rows_sql(kind text, rel regclass) FROM PUBLIC;

CREATE UNLOGGED TABLE privacy._subject_locks (
    lock_key bigint NOT NULL,
    CONSTRAINT _subject_locks_pkey PRIMARY KEY (lock_key)
);

COMMENT ON TABLE privacy._subject_locks IS 'Keys of the subjects locked by transactions in progress (privacy_internal._lock_subject); empty between transactions';

-- The subject cache is kept per session (src/subject/subject_cache.c): a
-- change of a table subject kinds are built from invalidates it in every
-- session (subject_kinds and purposes have the consent cache's trigger,
-- which invalidates the same relcache entry).
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
