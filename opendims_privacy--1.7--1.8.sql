/* opendims_privacy--1.7--1.8.sql: security release; what SQL the extension runs on anyone's behalf cannot be redirected by the caller, evidence cannot be forged or silently removed, and hidden or erased subjects stay out of reach. */

\echo Use "ALTER EXTENSION opendims_privacy UPDATE TO '1.8'" to load this file. \quit

------------------------------------------------------------------------------
-- Subject keys: one spelling; no raw key after an erasure, in a hold or in
-- an error; no erased value in the planner's statistics
------------------------------------------------------------------------------

-- A subject key is made canonical in one place, privacy._canonical_subject()
-- (through privacy._subject_key(): the key column's type input, then its
-- output, so that '03' and '3' of an integer key are one subject; text keys
-- stay as they are). It needs the kind only, not the subject's row, so an
-- erased subject's key is canonical too. The ledger functions and the
-- unsubscribe token used it already; requests, export, erasure and holds
-- now do as well, and what they store, hash and compare is the canonical key.
-- Errors name the subject's kind, never its key.

-- Holds name their subject by reference as well as by key, so that an
-- erasure can remove the raw key and leave the hold, its reason and its
-- reference in place; a hold on an erased subject is matched by reference.
ALTER TABLE privacy.legal_holds ADD COLUMN subject_ref text;
COMMENT ON COLUMN privacy.legal_holds.subject IS
'The held subject''s key (canonical), as text; NULL for a table hold, and after the subject was erased';
COMMENT ON COLUMN privacy.legal_holds.subject_ref IS
'The held subject''s reference (privacy.subject_ref of the canonical key); NULL for a table hold';

-- Keys stored by 1.7 as they were given: made canonical where the kind is
-- still declared and the key is a value of its type (others are left as
-- they are), and dropped from requests and holds of subjects that were
-- erased since.
ALTER TABLE privacy.legal_holds DROP CONSTRAINT legal_holds_check;
DO $$
DECLARE
	r record;
	key text;
	ref text;
	gone boolean;
BEGIN
	FOR r IN SELECT 'hold' AS what, h.id, h.kind, h.subject FROM privacy.legal_holds h WHERE h.kind IS NOT NULL
			 UNION ALL
			 SELECT 'request', sr.id, sr.kind, sr.subject FROM privacy.subject_requests sr WHERE sr.subject IS NOT NULL
	LOOP
		gone := false;
		BEGIN
			key := privacy._canonical_subject(r.kind, r.subject, false);
			ref := privacy.subject_ref(r.kind, key);
			gone := EXISTS (SELECT FROM privacy.erasures e
							 WHERE e.kind OPERATOR(pg_catalog.=) r.kind AND e.subject_ref OPERATOR(pg_catalog.=) ref)
					AND NOT privacy._subject_exists(r.kind, key, false);
		EXCEPTION WHEN invalid_parameter_value THEN
			key := r.subject;
			ref := privacy.subject_ref(r.kind, key);
		END;
		IF r.what OPERATOR(pg_catalog.=) 'hold' THEN
			BEGIN
				UPDATE privacy.legal_holds h SET subject = CASE WHEN NOT gone THEN key END, subject_ref = ref
				 WHERE h.id OPERATOR(pg_catalog.=) r.id;
			EXCEPTION WHEN unique_violation THEN
				-- The same hold under two spellings: the second keeps its own.
				UPDATE privacy.legal_holds h SET subject_ref = ref WHERE h.id OPERATOR(pg_catalog.=) r.id;
			END;
		ELSE
			UPDATE privacy.subject_requests sr SET subject = CASE WHEN NOT gone THEN key END, subject_ref = ref
			 WHERE sr.id OPERATOR(pg_catalog.=) r.id;
		END IF;
	END LOOP;
END
$$;
ALTER TABLE privacy.legal_holds ADD CONSTRAINT legal_holds_check
	CHECK ((kind IS NOT NULL AND subject_ref IS NOT NULL AND table_name IS NULL)
		   OR (kind IS NULL AND subject IS NULL AND subject_ref IS NULL AND table_name IS NOT NULL));

CREATE OR REPLACE FUNCTION privacy.open_request(kind text, subject text, request_right text,
												received_at timestamptz DEFAULT pg_catalog.now())
RETURNS bigint
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	key text;
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
	key := privacy._canonical_subject(kind, subject, true);
	INSERT INTO privacy.subject_requests (kind, subject, subject_ref, request_right, received_at, deadline, opened_by)
	VALUES (kind, key, privacy.subject_ref(kind, key), request_right, received_at,
			received_at + interval '1 month', SESSION_USER)
	RETURNING id INTO request_id;
	PERFORM privacy._audit(SESSION_USER, 'request.open', kind, key, request_id,
						   pg_catalog.jsonb_build_object('right', request_right,
														 'deadline', received_at + interval '1 month'));
	RETURN request_id;
END
$$;

CREATE OR REPLACE FUNCTION privacy._export_subject(kind text, subject text, request_id bigint)
RETURNS jsonb
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	key text;
	export privacy._export_result;
BEGIN
	IF kind IS NULL OR subject IS NULL THEN
		RAISE EXCEPTION 'kind and subject must not be null' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	-- Checks the kind and the key (an error naming neither the key nor its
	-- value), and gives the key the export statement reads and reports.
	key := privacy._canonical_subject(kind, subject, false);
	export := privacy._cached_value(privacy._export_statement(kind), NULL::privacy._export_result, key);
	IF export.document IS NULL THEN
		RAISE EXCEPTION 'subject of kind "%" does not exist', kind
			USING ERRCODE = 'no_data_found';
	END IF;
	PERFORM privacy._audit(SESSION_USER, 'export', kind, key, request_id,
						   pg_catalog.jsonb_build_object('tables', export.table_count, 'rows', export.row_count));
	RETURN export.document;
END
$$;

CREATE OR REPLACE FUNCTION privacy.place_hold(kind text, subject text, reason text, reference text)
RETURNS bigint
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
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
	key := privacy._canonical_subject(kind, subject, true);
	ref := privacy.subject_ref(kind, key);
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
	PERFORM privacy._audit(SESSION_USER, 'retention.hold.place', kind, key, NULL,
						   pg_catalog.jsonb_build_object('hold_id', hold_id, 'reference', reference));
	RETURN hold_id;
EXCEPTION WHEN unique_violation THEN
	RAISE EXCEPTION 'the subject of kind "%" is already held under reference "%"', kind, reference
		USING ERRCODE = 'duplicate_object',
			  HINT = 'privacy.legal_holds lists the holds in force.';
END
$$;

-- The hold keeping rel's rows of a subject (given by its canonical key):
-- one on the table, or one on the subject, found by its reference.
CREATE OR REPLACE FUNCTION privacy._hold_reference(kind text, subject text, rel regclass)
RETURNS text
LANGUAGE sql STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT h.reference
	  FROM privacy.legal_holds h
	 WHERE h.released_at IS NULL
	   AND (h.table_name = $3 OR (h.kind = $1 AND h.subject_ref = privacy.subject_ref($1, $2)))
	 ORDER BY h.table_name IS NULL, h.placed_at, h.id
	 LIMIT 1;
END;

-- As in 1.3, and a hold on a subject erased while held (its key gone from
-- the hold) keeps the rows whose key has the hold's reference.
CREATE OR REPLACE FUNCTION privacy._retention_held_sql(rel regclass)
RETURNS text
LANGUAGE plpgsql STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	held record;
	path_status text;
	key_sql text;
	conditions text[] := '{}';
BEGIN
	IF EXISTS (SELECT FROM privacy.legal_holds h WHERE h.released_at IS NULL AND h.table_name = rel) THEN
		RETURN NULL;
	END IF;
	FOR held IN
		SELECT h.kind,
			   pg_catalog.array_agg(DISTINCT h.subject) FILTER (WHERE h.subject IS NOT NULL) AS subjects,
			   pg_catalog.array_agg(DISTINCT h.subject_ref) FILTER (WHERE h.subject IS NULL) AS refs
		  FROM privacy.legal_holds h
		 WHERE h.released_at IS NULL AND h.kind IS NOT NULL
		 GROUP BY h.kind ORDER BY h.kind
	LOOP
		SELECT p.status INTO path_status FROM privacy._subject_paths() p
		 WHERE p.kind = held.kind AND p.table_name = rel;
		CONTINUE WHEN NOT FOUND;
		IF path_status = 'ambiguous' THEN
			RETURN NULL;
		END IF;
		key_sql := pg_catalog.format('(%s)::pg_catalog.text', privacy._subject_key_sql(held.kind, rel, 't'));
		IF held.subjects IS NOT NULL THEN
			conditions := conditions || pg_catalog.format('%s OPERATOR(pg_catalog.=) ANY (%L::pg_catalog.text[])',
														  key_sql, held.subjects);
		END IF;
		IF held.refs IS NOT NULL THEN
			conditions := conditions || pg_catalog.format(
				'privacy.subject_ref(%L, %s) OPERATOR(pg_catalog.=) ANY (%L::pg_catalog.text[])',
				held.kind, key_sql, held.refs);
		END IF;
	END LOOP;
	IF pg_catalog.cardinality(conditions) = 0 THEN
		RETURN 'false';
	END IF;
	RETURN 'COALESCE(' || pg_catalog.array_to_string(conditions, ' OR ') || ', false)';
END
$$;

-- Planner statistics keep sampled values (most common values, histogram
-- bounds, most common elements; of columns, of index expressions, of
-- extended statistics) until the next ANALYZE, and pg_stats shows them to
-- every role that may read the table. An erasure therefore asks, before it
-- changes a table, which values of the subject's rows there the table's
-- statistics hold; after changing it, whether one of those values is now
-- gone from the table (a value other rows still have, like a common city,
-- is not the erased person's alone, and a new ANALYZE would keep it); and
-- if so refreshes the table's statistics, ANALYZE within the erasure's own
-- transaction: rows the transaction deleted are not sampled, and the new
-- statistics commit or roll back with the erasure.
--
-- Which of some texts are the text of a value that the statistics of a
-- column (of a table or an index) hold; NULL when none is. Reads
-- pg_statistic: not for PUBLIC.
CREATE FUNCTION privacy._statistics_values(rel oid, attnum smallint, wanted text[])
RETURNS text[]
AS 'MODULE_PATHNAME', 'privacy_statistics_values'
LANGUAGE C STRICT STABLE PARALLEL SAFE;
REVOKE ALL ON FUNCTION privacy._statistics_values(oid, smallint, text[]) FROM PUBLIC;
COMMENT ON FUNCTION privacy._statistics_values(oid, smallint, text[]) IS
'Which of the given texts are values held by the planner statistics of a column of a table or index';

-- Removes the values with these texts from the statistics of a column (of
-- a table or an index), with their frequencies, in the current
-- transaction; the number removed, or -1 when one of them is in statistics
-- of a kind it does not edit. Writes pg_statistic: not for PUBLIC.
CREATE FUNCTION privacy._statistics_remove_values(rel oid, attnum smallint, gone text[])
RETURNS integer
AS 'MODULE_PATHNAME', 'privacy_statistics_remove_values'
LANGUAGE C STRICT VOLATILE;
REVOKE ALL ON FUNCTION privacy._statistics_remove_values(oid, smallint, text[]) FROM PUBLIC;
COMMENT ON FUNCTION privacy._statistics_remove_values(oid, smallint, text[]) IS
'Removes values from the planner statistics of a column of a table or index, with their frequencies';

-- What the statistics of rel are asked about a subject of kind: check_sql
-- (NULL when no statistics of rel could hold a personal value) gives the
-- values of the subject's rows ($1 the subject's key) that the statistics
-- hold, as a jsonb array of [statistics, value] pairs; conditions maps each
-- statistics' name to the condition on a row r of rel that it has the
-- value $1; targets maps the name of column and index expression
-- statistics to the [relation, column number] pairs holding them (a
-- partitioned table's partitions each hold their own). Values are compared
-- as text (the type's output). Looked at are
-- the personal (classified) columns, each with its own statistics (and a
-- partitioned table's partitions' statistics), an array's elements too;
-- every index expression and every expression of extended statistics,
-- evaluated on the subject's rows; and the personal columns with the MCV
-- lists of extended statistics. A key or foreign key column is looked at
-- only if it is classified: a surrogate key whose row is gone tells
-- nothing about the person, and erasing subjects in key order would
-- otherwise refresh a table at nearly every histogram bound. The statement
-- depends on the table's definition only (not on what ANALYZE found), so it
-- is kept in the plan cache, which DDL clears.
CREATE FUNCTION privacy._statistics_check_sql(kind text, rel regclass, OUT check_sql text, OUT conditions jsonb,
											  OUT targets jsonb)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	-- The table and, if it is partitioned, its partitions.
	rels oid[] := COALESCE(NULLIF(ARRAY(SELECT pt.relid FROM pg_catalog.pg_partition_tree(rel) pt), '{}'),
						   ARRAY[rel::oid]);
	columns name[];
	-- The values of pg_statistic's slots of the row %1$s, as text.
	slot_values text := $s$COALESCE(%1$s.stavalues1::pg_catalog.text::pg_catalog.text[], '{}')
		OPERATOR(pg_catalog.||) COALESCE(%1$s.stavalues2::pg_catalog.text::pg_catalog.text[], '{}')
		OPERATOR(pg_catalog.||) COALESCE(%1$s.stavalues3::pg_catalog.text::pg_catalog.text[], '{}')
		OPERATOR(pg_catalog.||) COALESCE(%1$s.stavalues4::pg_catalog.text::pg_catalog.text[], '{}')
		OPERATOR(pg_catalog.||) COALESCE(%1$s.stavalues5::pg_catalog.text::pg_catalog.text[], '{}')$s$;
	-- VALUES rows (name, relation, column number, the row's values as a
	-- text array) of the statistics of columns and index expressions, and
	-- (name, values) of those of extended statistics.
	catalog_rows text;
	extended_rows text;
	names text[];
	conds text[];
BEGIN
	columns := ARRAY(SELECT cc.column_name FROM privacy.classified_columns cc WHERE cc.table_name = rel);
	WITH stats (ord, name, relid, attnum, relation, vals, cond, extended) AS (
		-- The columns, each under its name, in the table and its partitions.
		SELECT 1, a.attname::text, pa.attrelid::text, pa.attnum, privacy._qualified_name(pa.attrelid::regclass),
			   pg_catalog.format('ARRAY[r.%1$I::pg_catalog.text]%2$s', a.attname,
					CASE WHEN t.typcategory = 'A'
						 THEN pg_catalog.format(' OPERATOR(pg_catalog.||) r.%I::pg_catalog.text[]', a.attname) END),
			   pg_catalog.format('r.%1$I::pg_catalog.text OPERATOR(pg_catalog.=) $1%2$s', a.attname,
					CASE WHEN t.typcategory = 'A'
						 THEN pg_catalog.format(' OR $1 OPERATOR(pg_catalog.=) ANY (r.%I::pg_catalog.text[])', a.attname) END),
			   false
		  FROM pg_catalog.pg_attribute a
		  JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
		  JOIN pg_catalog.pg_attribute pa ON pa.attrelid = ANY (rels) AND pa.attname = a.attname AND NOT pa.attisdropped
		 WHERE a.attrelid = rel AND a.attname = ANY (columns) AND a.attnum > 0 AND NOT a.attisdropped
		UNION ALL
		-- Index expressions (of the table's indexes and its partitions'), as
		-- 'i<index oid>.<column number>'; of a partial index, only on rows
		-- its predicate admits (those ANALYZE sampled). The index is named,
		-- not given by oid: REINDEX CONCURRENTLY keeps the name, not the oid.
		SELECT 2, 'i' || i.indexrelid || '.' || k.n,
			   pg_catalog.format('pg_catalog.to_regclass(%L)', privacy._qualified_name(i.indexrelid::regclass)),
			   k.n::smallint, privacy._qualified_name(i.indexrelid::regclass),
			   pg_catalog.format('ARRAY[%s(%s)::pg_catalog.text%s]',
					CASE WHEN i.indpred IS NOT NULL
						 THEN pg_catalog.format('CASE WHEN %s THEN ', pg_catalog.pg_get_expr(i.indpred, i.indrelid, false)) END,
					pg_catalog.pg_get_indexdef(i.indexrelid, k.n::integer, true),
					CASE WHEN i.indpred IS NOT NULL THEN ' END' END),
			   pg_catalog.format('%s(%s)::pg_catalog.text OPERATOR(pg_catalog.=) $1',
					CASE WHEN i.indpred IS NOT NULL
						 THEN pg_catalog.format('(%s) AND ', pg_catalog.pg_get_expr(i.indpred, i.indrelid, false)) END,
					pg_catalog.pg_get_indexdef(i.indexrelid, k.n::integer, true)),
			   false
		  FROM pg_catalog.pg_index i
		 CROSS JOIN LATERAL pg_catalog.unnest(i.indkey::pg_catalog.int2[]) WITH ORDINALITY k(attnum, n)
		 WHERE i.indrelid = ANY (rels) AND k.attnum = 0
		UNION ALL
		-- Expressions of extended statistics, as 'e<statistics oid>.<number>'.
		SELECT 3, 'e' || x.oid || '.' || e.n, NULL, NULL, NULL,
			   pg_catalog.format('ARRAY[(%s)::pg_catalog.text]', e.expr),
			   pg_catalog.format('(%s)::pg_catalog.text OPERATOR(pg_catalog.=) $1', e.expr),
			   true
		  FROM pg_catalog.pg_statistic_ext x
		 CROSS JOIN LATERAL pg_catalog.unnest(pg_catalog.pg_get_statisticsobjdef_expressions(x.oid)) WITH ORDINALITY e(expr, n)
		 WHERE x.stxrelid = ANY (rels)
		UNION ALL
		-- The MCV lists of extended statistics, as 'mcv', with the columns.
		SELECT 4, 'mcv', NULL, NULL, NULL,
			   pg_catalog.format('ARRAY[%s]', pg_catalog.string_agg(pg_catalog.format('r.%I::pg_catalog.text', a.attname), ', ' ORDER BY a.attnum)),
			   pg_catalog.string_agg(pg_catalog.format('r.%I::pg_catalog.text OPERATOR(pg_catalog.=) $1', a.attname), ' OR ' ORDER BY a.attnum),
			   true
		  FROM pg_catalog.pg_attribute a
		 WHERE a.attrelid = rel AND a.attname = ANY (columns) AND a.attnum > 0 AND NOT a.attisdropped
		   AND EXISTS (SELECT FROM pg_catalog.pg_statistic_ext x
						WHERE x.stxrelid = ANY (rels) AND 'm' = ANY (x.stxkind))
		HAVING pg_catalog.count(*) > 0)
	SELECT pg_catalog.string_agg(pg_catalog.format('(%L, (%s)::pg_catalog.oid, %s::pg_catalog.int2, %s)', s.name, s.relid, s.attnum, s.vals),
								 ', ' ORDER BY s.ord, s.name, s.relid) FILTER (WHERE NOT s.extended),
		   pg_catalog.string_agg(pg_catalog.format('(%L, %s)', s.name, s.vals), ', ' ORDER BY s.ord, s.name)
			   FILTER (WHERE s.extended),
		   pg_catalog.array_agg(DISTINCT s.name), pg_catalog.array_agg(DISTINCT s.name || E'\x1f' || s.cond),
		   (SELECT pg_catalog.jsonb_object_agg(t.name, t.pairs)
			  FROM (SELECT t.name, pg_catalog.jsonb_agg(pg_catalog.jsonb_build_array(t.relation, t.attnum)
														ORDER BY t.relation, t.attnum) AS pairs
					  FROM stats t WHERE NOT t.extended GROUP BY t.name) t)
	  INTO catalog_rows, extended_rows, names, conds, targets
	  FROM stats s;

	IF names IS NULL THEN
		RETURN;
	END IF;
	conditions := pg_catalog.jsonb_object(names,
		ARRAY(SELECT pg_catalog.split_part(c, E'\x1f', 2) FROM pg_catalog.unnest(conds) c
			   ORDER BY pg_catalog.array_position(names, pg_catalog.split_part(c, E'\x1f', 1))));
	check_sql := 'SELECT pg_catalog.jsonb_agg(DISTINCT m.pair) FROM ('
		|| CASE WHEN catalog_rows IS NOT NULL THEN pg_catalog.format($sql$
	SELECT pg_catalog.jsonb_build_array(v.name, x.val)
	  FROM (SELECT t0.* %1$s) r
	 CROSS JOIN LATERAL (VALUES %2$s) v(name, relid, attnum, vals)
	 CROSS JOIN LATERAL pg_catalog.unnest(privacy._statistics_values(v.relid, v.attnum, v.vals)) x(val)$sql$,
			privacy._subject_rows_sql(kind, rel), catalog_rows) ELSE '' END
		|| CASE WHEN catalog_rows IS NOT NULL AND extended_rows IS NOT NULL THEN ' UNION ALL ' ELSE '' END
		|| CASE WHEN extended_rows IS NOT NULL THEN pg_catalog.format($sql$(
	WITH st (name, vals) AS MATERIALIZED (
		SELECT 'e' OPERATOR(pg_catalog.||) x.oid OPERATOR(pg_catalog.||) '.' OPERATOR(pg_catalog.||) e.n, %3$s
		  FROM pg_catalog.pg_statistic_ext x
		  JOIN pg_catalog.pg_statistic_ext_data d ON d.stxoid OPERATOR(pg_catalog.=) x.oid
		 CROSS JOIN LATERAL pg_catalog.generate_subscripts(d.stxdexpr, 1) e(n)
		 WHERE x.stxrelid OPERATOR(pg_catalog.=) ANY (%4$L::pg_catalog.oid[])
		UNION ALL
		SELECT 'mcv', pg_catalog.array_agg(m.v)
		  FROM pg_catalog.pg_statistic_ext x
		  JOIN pg_catalog.pg_statistic_ext_data d ON d.stxoid OPERATOR(pg_catalog.=) x.oid
		 CROSS JOIN LATERAL pg_catalog.pg_mcv_list_items(d.stxdmcv) i
		 CROSS JOIN LATERAL pg_catalog.unnest(i.values) m(v)
		 WHERE x.stxrelid OPERATOR(pg_catalog.=) ANY (%4$L::pg_catalog.oid[]))
	SELECT pg_catalog.jsonb_build_array(v.name, x.val)
	  FROM (SELECT t0.* %1$s) r
	 CROSS JOIN LATERAL (VALUES %2$s) v(name, vals)
	 CROSS JOIN LATERAL pg_catalog.unnest(v.vals) x(val)
	 JOIN st ON st.name OPERATOR(pg_catalog.=) v.name
	 WHERE x.val OPERATOR(pg_catalog.=) ANY (st.vals))$sql$,
			privacy._subject_rows_sql(kind, rel), extended_rows,
			pg_catalog.format(slot_values, '(d.stxdexpr[e.n])'), rels) ELSE '' END
		|| ') m(pair)';
END
$$;
REVOKE ALL ON FUNCTION privacy._statistics_check_sql(text, regclass) FROM PUBLIC;
COMMENT ON FUNCTION privacy._statistics_check_sql(text, regclass) IS
'The statement giving the values of one subject''s rows in a table that the table''s statistics hold, and how to find each value in the table';

-- The plan cache keeps them with the other statements of each table.
SELECT privacy._forget_subject_caches();
ALTER TABLE privacy._subject_plans ADD COLUMN statistics_sql text, ADD COLUMN statistics_conditions jsonb,
	ADD COLUMN statistics_targets jsonb;

CREATE OR REPLACE FUNCTION privacy._fill_subject_plans(kind text)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF NOT EXISTS (SELECT FROM privacy._subject_plans p WHERE p.kind = _fill_subject_plans.kind) THEN
		INSERT INTO privacy._subject_plans (kind, table_name, depth, personal, hops, rows_sql, delete_sql, erase_sql,
											statistics_sql, statistics_conditions, statistics_targets)
		SELECT m.kind, m.table_name, m.depth, m.personal,
			   privacy._subject_path(m.kind, m.table_name),
			   privacy._subject_rows_sql(m.kind, m.table_name),
			   privacy._delete_unreferenced_sql(m.table_name),
			   privacy._subject_erase_sql(m.kind, m.table_name),
			   st.check_sql, st.conditions, st.targets
		  FROM privacy.subject_map m
		  LEFT JOIN LATERAL privacy._statistics_check_sql(m.kind, m.table_name) st ON m.personal
		 WHERE m.kind = _fill_subject_plans.kind
		ON CONFLICT DO NOTHING;
	END IF;
END
$$;

-- Of the values the statistics of rel held (matches: [statistics, value]
-- pairs from the statement of privacy._statistics_check_sql), those not
-- found in rel after an erasure changed it, or NULL if none. It looks at
-- the first 1000 rows only, so that a rare value costs no scan of a large
-- table: a common value (one the statistics should keep) is found there,
-- and removing a value that some later row still has from the statistics
-- costs the planner a little accuracy until the next ANALYZE, nothing more.
CREATE FUNCTION privacy._statistics_gone_values(rel regclass, matches jsonb, conditions jsonb)
RETURNS jsonb
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	pair jsonb;
	gone jsonb[] := '{}';
BEGIN
	FOR pair IN SELECT m.pair FROM pg_catalog.jsonb_array_elements(matches) m(pair) LOOP
		IF NOT privacy._cached_value(
				pg_catalog.format('SELECT EXISTS (SELECT FROM (SELECT * FROM %s LIMIT 1000) r WHERE %s)',
								  privacy._qualified_name(rel), conditions ->> (pair ->> 0)),
				NULL::boolean, pair ->> 1) THEN
			gone := gone || pair;
		END IF;
	END LOOP;
	RETURN CASE WHEN pg_catalog.cardinality(gone) > 0 THEN pg_catalog.to_jsonb(gone) END;
END
$$;
REVOKE ALL ON FUNCTION privacy._statistics_gone_values(regclass, jsonb, jsonb) FROM PUBLIC;
COMMENT ON FUNCTION privacy._statistics_gone_values(regclass, jsonb, jsonb) IS
'Which of the values that the statistics of a table held are no longer in the table';

-- Refreshes the statistics of rel after an erasure removed values (gone:
-- [statistics, value] pairs) from it: removes them from the statistics of
-- columns and index expressions that held them (targets, from
-- privacy._statistics_check_sql), and runs ANALYZE instead where that
-- cannot be done (extended statistics, statistics of other kinds). Takes
-- the lock ANALYZE takes, until the end of the transaction.
CREATE FUNCTION privacy._refresh_statistics(rel regclass, gone jsonb, targets jsonb)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	entry record;
	target jsonb;
	analyze_it boolean := false;
BEGIN
	EXECUTE 'LOCK TABLE ' || privacy._qualified_name(rel) || ' IN SHARE UPDATE EXCLUSIVE MODE';
	FOR entry IN SELECT g.pair ->> 0 AS name, pg_catalog.array_agg(DISTINCT g.pair ->> 1) AS vals
				   FROM pg_catalog.jsonb_array_elements(gone) g(pair)
				  GROUP BY 1 ORDER BY 1 LOOP
		IF NOT COALESCE(targets ? entry.name, false) THEN
			analyze_it := true;
			CONTINUE;
		END IF;
		FOR target IN SELECT t.x FROM pg_catalog.jsonb_array_elements(targets -> entry.name) t(x) LOOP
			IF privacy._statistics_remove_values(pg_catalog.to_regclass(target ->> 0)::pg_catalog.oid,
												 (target ->> 1)::pg_catalog.int2, entry.vals) < 0 THEN
				analyze_it := true;
			END IF;
		END LOOP;
	END LOOP;
	IF analyze_it THEN
		EXECUTE 'ANALYZE ' || privacy._qualified_name(rel);
	END IF;
END
$$;
REVOKE ALL ON FUNCTION privacy._refresh_statistics(regclass, jsonb, jsonb) FROM PUBLIC;
COMMENT ON FUNCTION privacy._refresh_statistics(regclass, jsonb, jsonb) IS
'Removes values an erasure removed from a table from its statistics, or analyzes it again where that cannot be done';

-- As in 1.7, with the subject's canonical key from the start, holds found
-- and stripped of the raw key by the subject's reference, and the
-- statistics of the tables it changed refreshed where they held a value of
-- the subject's rows (the receipt lists them under "statistics_refreshed").
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
	in_statistics jsonb;
	gone jsonb;
	stale regclass[] := '{}';
	stale_values jsonb[] := '{}';
	stale_targets jsonb[] := '{}';
	refreshed text[] := '{}';
	i integer;
BEGIN
	IF kind IS NULL OR subject IS NULL THEN
		RAISE EXCEPTION 'kind and subject must not be null' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF reason IS NULL OR pg_catalog.btrim(reason) = '' THEN
		RAISE EXCEPTION 'an erasure needs a reason'
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Give the ground of GDPR Art. 17(1), e.g. ''consent withdrawn'', without personal data.';
	END IF;
	-- From here on the subject is its canonical key (errors name the kind,
	-- never the key).
	subject := privacy._canonical_subject(kind, subject, false);
	ref := privacy.subject_ref(kind, subject);

	-- One erasure of a subject at a time; the anchor row stays locked, so
	-- that no new row can be attached to the subject until this commits.
	PERFORM pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtextextended('privacy.erase ' || ref, 0));
	IF NOT privacy._subject_exists(kind, subject, true) THEN
		SELECT * INTO previous FROM privacy.erasures e
		 WHERE e.kind = _erase_subject.kind AND e.subject_ref = ref ORDER BY e.id DESC LIMIT 1;
		IF NOT FOUND THEN
			RAISE EXCEPTION 'subject of kind "%" does not exist', kind
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
							 WHERE h.released_at IS NULL AND h.kind = _erase_subject.kind AND h.subject_ref = ref);
	careful_tables := ARRAY(SELECT h.table_name FROM privacy.legal_holds h
							 WHERE h.released_at IS NULL AND h.table_name IS NOT NULL
							UNION
							SELECT rr.table_name FROM privacy.retention_rules rr
							 WHERE rr.minimum IS NOT NULL OR rr.action = 'anonymize');
	PERFORM privacy._fill_subject_plans(kind);
	FOR plan IN SELECT * FROM privacy._subject_plans p
				 WHERE p.kind = _erase_subject.kind AND p.personal
				 ORDER BY p.depth DESC, p.table_name::text LOOP
		-- The values of the subject's rows in the table that its statistics
		-- hold, asked before the rows change.
		in_statistics := NULL;
		IF plan.statistics_sql IS NOT NULL THEN
			in_statistics := privacy._cached_value(plan.statistics_sql, NULL::jsonb, subject);
		END IF;
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
			IF in_statistics IS NOT NULL
			   AND (COALESCE((line ->> 'deleted')::integer, 0) > 0 OR COALESCE((line ->> 'anonymized')::integer, 0) > 0) THEN
				gone := privacy._statistics_gone_values(plan.table_name, in_statistics, plan.statistics_conditions);
				IF gone IS NOT NULL THEN
					stale := stale || plan.table_name;
					stale_values := stale_values || gone;
					stale_targets := stale_targets || plan.statistics_targets;
				END IF;
			END IF;
		END IF;
	END LOOP;
	-- In the order of the tables' oids, so that two erasures never wait for
	-- each other's refresh the other way round.
	FOR i IN SELECT s.i FROM pg_catalog.generate_subscripts(stale, 1) s(i) ORDER BY stale[s.i]::oid LOOP
		PERFORM privacy._refresh_statistics(stale[i], stale_values[i], stale_targets[i]);
		refreshed := refreshed || privacy._qualified_name(stale[i]);
	END LOOP;
	ledgers := privacy._forget_subject_in_ledgers(kind, subject);
	UPDATE privacy.subject_requests sr SET subject = NULL
	 WHERE sr.kind = _erase_subject.kind AND sr.subject_ref = ref;
	-- Holds stay, with their reason and reference, and name the subject by
	-- its reference only.
	UPDATE privacy.legal_holds h SET subject = NULL
	 WHERE h.kind = _erase_subject.kind AND h.subject_ref = ref AND h.subject IS NOT NULL;

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
	IF pg_catalog.cardinality(refreshed) > 0 THEN
		receipt := receipt || pg_catalog.jsonb_build_object('statistics_refreshed', pg_catalog.to_jsonb(refreshed));
	END IF;

	INSERT INTO privacy.erasures (kind, subject_ref, erased_at, request_id, reason, receipt)
	VALUES (kind, ref, erased_at, request_id, reason, receipt);
	PERFORM privacy._audit(SESSION_USER, 'erasure', kind, subject, request_id,
						   receipt - 'tables' - 'subject_ref' - 'kind' - 'ledgers' - 'statistics_refreshed');
	RETURN receipt;
END
$$;
