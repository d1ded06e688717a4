-- rights: data-subject requests, export_subject(), erase_subject() and the
-- erasure receipts, and removing erased values from planner statistics.
-- C: src/rights/.

CREATE FUNCTION privacy_internal._erase_subject(kind text, subject text, reason text, request_id bigint)
RETURNS jsonb
LANGUAGE c
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'privacy_erase_subject_for_request';

COMMENT ON FUNCTION privacy_internal._erase_subject(kind text, subject text, reason text, request_id bigint) IS 'The erasure of one data subject, audited with the request it answers';

REVOKE ALL ON FUNCTION privacy_internal._erase_subject(kind text, subject text, reason text, request_id bigint) FROM PUBLIC;

CREATE FUNCTION privacy_internal._erasure_grounds()
RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
RETURN ARRAY['no longer necessary', 'consent withdrawn', 'objection', 'objection upheld',
			 'unlawful processing', 'legal obligation', 'child consent', 'retention period expired'];

COMMENT ON FUNCTION privacy_internal._erasure_grounds() IS 'The erasure reasons recorded as given (grounds of GDPR Art. 17(1)); any other reason is recorded by its keyed hash';

REVOKE ALL ON FUNCTION privacy_internal._erasure_grounds() FROM PUBLIC;

CREATE FUNCTION privacy_internal._erasure_reason(reason text)
RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT CASE
		WHEN reason IS NULL OR pg_catalog.btrim(reason) OPERATOR(pg_catalog.=) '' THEN reason
		WHEN pg_catalog.lower(pg_catalog.regexp_replace(pg_catalog.btrim(reason), '\s+', ' ', 'g'))
			 OPERATOR(pg_catalog.=) ANY (privacy_internal._erasure_grounds())
			THEN pg_catalog.lower(pg_catalog.regexp_replace(pg_catalog.btrim(reason), '\s+', ' ', 'g'))
		ELSE 'other ground (keyed hash ' OPERATOR(pg_catalog.||) privacy.subject_ref('erasure.reason', reason)
			 OPERATOR(pg_catalog.||) ')' END;
END;

COMMENT ON FUNCTION privacy_internal._erasure_reason(reason text) IS 'The reason an erasure records: a ground of GDPR Art. 17(1), or "other ground" with the keyed hash of the text given';

REVOKE ALL ON FUNCTION privacy_internal._erasure_reason(reason text) FROM PUBLIC;

CREATE FUNCTION privacy_internal._erasures_are_append_only() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
BEGIN
	RAISE EXCEPTION 'privacy.erasures is append-only'
		USING ERRCODE = 'insufficient_privilege',
			  DETAIL = pg_catalog.format('%s is not allowed on erasure receipts.', TG_OP),
			  HINT = 'Receipts are added by privacy.erase_subject(); privacy.verify_audit_log() detects a receipt removed or changed by other means.';
END
$$;

COMMENT ON FUNCTION privacy_internal._erasures_are_append_only() IS 'Trigger: refuses UPDATE, DELETE and TRUNCATE on the erasure receipts';

REVOKE ALL ON FUNCTION privacy_internal._erasures_are_append_only() FROM PUBLIC;

CREATE FUNCTION privacy_internal._subject_rights()
RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT pg_catalog.jsonb_build_array(
		pg_catalog.jsonb_build_object('right', 'access', 'article', 'GDPR Art. 15',
			'description', 'The right to access the personal data we process about you.'),
		pg_catalog.jsonb_build_object('right', 'rectification', 'article', 'GDPR Art. 16',
			'description', 'The right to rectification of incorrect information.'),
		pg_catalog.jsonb_build_object('right', 'erasure', 'article', 'GDPR Art. 17',
			'description', 'The right to erasure of data in accordance with the law.'),
		pg_catalog.jsonb_build_object('right', 'restriction', 'article', 'GDPR Art. 18',
			'description', 'The right to restriction of processing.'),
		pg_catalog.jsonb_build_object('right', 'portability', 'article', 'GDPR Art. 20',
			'description', 'The right to data portability: this document is machine-readable JSON.'),
		pg_catalog.jsonb_build_object('right', 'objection', 'article', 'GDPR Art. 21',
			'description', 'The right to object to processing based on legitimate interest.'),
		pg_catalog.jsonb_build_object('right', 'withdraw_consent', 'article', 'GDPR Art. 7(3)',
			'description', 'The right to withdraw consent at any time, e.g. to opt out of marketing.'),
		pg_catalog.jsonb_build_object('right', 'complaint', 'article', 'GDPR Art. 77',
			'description', 'The right to lodge a complaint with a supervisory authority (in Denmark: Datatilsynet).'));
END;

COMMENT ON FUNCTION privacy_internal._subject_rights() IS 'The rights of a data subject, as listed in an export';

CREATE FUNCTION privacy_internal._export_policy_sections()
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
						'article', privacy_internal._legal_basis_article(p.legal_basis)) ORDER BY p.name), '[]')
			  FROM privacy.purposes p),
		'recipients', (
			SELECT COALESCE(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
						'recipient', r.name, 'kind', r.kind, 'purposes', pg_catalog.to_jsonb(r.purposes),
						'description', r.description) ORDER BY r.name), '[]')
			  FROM privacy.recipients r),
		'rights', privacy_internal._subject_rights(),
		'contact', top.document -> 'controller' -> 'contact')
	  FROM (SELECT (SELECT v.document FROM privacy.policy_versions v ORDER BY v.id DESC LIMIT 1) AS document) top;
END;

COMMENT ON FUNCTION privacy_internal._export_policy_sections() IS 'The sections of an export that depend on the policy alone';

REVOKE ALL ON FUNCTION privacy_internal._export_policy_sections() FROM PUBLIC;

CREATE FUNCTION privacy_internal._export_statement(kind text)
RETURNS text
LANGUAGE c
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'privacy_export_statement';

COMMENT ON FUNCTION privacy_internal._export_statement(text) IS
	'The statement the export of a subject kind runs first, as the anchor''s owner (the subject''s existence and the rows of that owner''s personal tables), as this session''s subject cache holds it; an unknown kind is an error';

REVOKE ALL ON FUNCTION privacy_internal._export_statement(kind text) FROM PUBLIC;

CREATE FUNCTION privacy_internal._export_subject(kind text, subject text, request_id bigint)
RETURNS jsonb
LANGUAGE c
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'privacy_export_subject_for_request';

COMMENT ON FUNCTION privacy_internal._export_subject(kind text, subject text, request_id bigint) IS 'The export of one data subject, audited with the request it answers';

REVOKE ALL ON FUNCTION privacy_internal._export_subject(kind text, subject text, request_id bigint) FROM PUBLIC;

CREATE FUNCTION privacy_internal._lint_row_keepers()
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

COMMENT ON FUNCTION privacy_internal._lint_row_keepers() IS 'lint: triggers and rules on subject-map tables that can keep rows erasure or retention delete or anonymise';

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

CREATE FUNCTION privacy_internal._note_ref(note jsonb)
RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
RETURN privacy.subject_ref('evidence', note::pg_catalog.text);

COMMENT ON FUNCTION privacy_internal._note_ref(note jsonb) IS 'The keyed hash that stands for a request''s note in the audit log and after its subject''s erasure';

REVOKE ALL ON FUNCTION privacy_internal._note_ref(note jsonb) FROM PUBLIC;

CREATE TABLE privacy.subject_requests (
    id bigint GENERATED BY DEFAULT AS IDENTITY,
    kind text NOT NULL,
    subject text,
    subject_ref text NOT NULL,
    request_right text NOT NULL,
    received_at timestamp with time zone NOT NULL,
    deadline timestamp with time zone NOT NULL,
    extension_reason text,
    status text DEFAULT 'open'::text NOT NULL,
    completed_at timestamp with time zone,
    outcome jsonb,
    opened_by name DEFAULT CURRENT_USER NOT NULL,
    CONSTRAINT subject_requests_check CHECK (((status = ANY (ARRAY['open'::text, 'held'::text])) = (completed_at IS NULL))),
    CONSTRAINT subject_requests_check1 CHECK ((deadline <= (received_at + '3 mons'::interval))),
    CONSTRAINT subject_requests_request_right_check CHECK ((request_right = ANY (ARRAY['access'::text, 'rectification'::text, 'erasure'::text, 'restriction'::text, 'portability'::text, 'objection'::text]))),
    CONSTRAINT subject_requests_status_check CHECK ((status = ANY (ARRAY['open'::text, 'held'::text, 'completed'::text, 'rejected'::text]))),
    CONSTRAINT subject_requests_pkey PRIMARY KEY (id)
);

COMMENT ON TABLE privacy.subject_requests IS 'Data-subject requests with their deadlines; the raw subject identifier is dropped once the subject is erased';

COMMENT ON COLUMN privacy.subject_requests.subject IS 'The subject''s key in its anchor table, as text; NULL after the subject was erased';
SELECT pg_catalog.pg_extension_config_dump('privacy.subject_requests', '');
SELECT pg_catalog.pg_extension_config_dump('privacy.subject_requests_id_seq', '');

CREATE FUNCTION privacy_internal._open_request_for(request_id bigint, rights text[]) RETURNS privacy.subject_requests
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
	r privacy.subject_requests;
BEGIN
	IF request_id IS NULL THEN
		RAISE EXCEPTION 'request id must not be null' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	SELECT * INTO r FROM privacy.subject_requests sr WHERE sr.id = request_id FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'request % does not exist', request_id USING ERRCODE = 'no_data_found';
	END IF;
	IF r.status <> 'open' THEN
		RAISE EXCEPTION 'request % is already %', request_id, r.status
			USING ERRCODE = 'object_not_in_prerequisite_state';
	END IF;
	IF r.request_right <> ALL (rights) THEN
		RAISE EXCEPTION 'request % asks for %, not for %', request_id, r.request_right,
			pg_catalog.array_to_string(rights, ' or ')
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	RETURN r;
END
$$;

COMMENT ON FUNCTION privacy_internal._open_request_for(request_id bigint, rights text[]) IS 'Locks an open request and checks the right it asks for';

REVOKE ALL ON FUNCTION privacy_internal._open_request_for(request_id bigint, rights text[]) FROM PUBLIC;

CREATE FUNCTION privacy_internal._redact_erased_subject_text(kind text, ref text)
RETURNS void
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	UPDATE privacy.subject_requests sr
	   SET outcome = CASE WHEN sr.outcome OPERATOR(pg_catalog.?) 'note'
						  THEN (sr.outcome OPERATOR(pg_catalog.-) 'note'::text) OPERATOR(pg_catalog.||)
							   pg_catalog.jsonb_build_object('note_ref',
									privacy_internal._note_ref(sr.outcome OPERATOR(pg_catalog.->) 'note'))
						  ELSE sr.outcome END,
		   extension_reason = privacy_internal._redacted_text('request.extension', sr.extension_reason)
	 WHERE sr.kind OPERATOR(pg_catalog.=) $1 AND sr.subject_ref OPERATOR(pg_catalog.=) $2
	   AND (sr.outcome OPERATOR(pg_catalog.?) 'note'
			OR sr.extension_reason IS DISTINCT FROM privacy_internal._redacted_text('request.extension', sr.extension_reason));
	UPDATE privacy.legal_holds h
	   SET reason = privacy_internal._redacted_text('hold.reason', h.reason),
		   reference = privacy_internal._redacted_text('hold.reference', h.reference),
		   release_reason = privacy_internal._redacted_text('hold.release_reason', h.release_reason)
	 WHERE h.kind OPERATOR(pg_catalog.=) $1 AND h.subject_ref OPERATOR(pg_catalog.=) $2
	   AND h.released_at IS NOT NULL
	   AND (h.reason, h.reference, h.release_reason) IS DISTINCT FROM
		   (privacy_internal._redacted_text('hold.reason', h.reason), privacy_internal._redacted_text('hold.reference', h.reference),
			privacy_internal._redacted_text('hold.release_reason', h.release_reason));
END;

COMMENT ON FUNCTION privacy_internal._redact_erased_subject_text(kind text, ref text) IS 'After an erasure: replaces the notes and extension reasons of the subject''s requests, and the reasons and references of its released holds, by keyed hashes';

REVOKE ALL ON FUNCTION privacy_internal._redact_erased_subject_text(kind text, ref text) FROM PUBLIC;

CREATE FUNCTION privacy_internal._refresh_statistics(rel regclass, gone jsonb, targets jsonb) RETURNS void
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
	entry record;
	target jsonb;
	analyze_it boolean := false;
BEGIN
	EXECUTE 'LOCK TABLE ' || privacy_internal._qualified_name(rel) || ' IN SHARE UPDATE EXCLUSIVE MODE';
	FOR entry IN SELECT g.pair ->> 0 AS name, pg_catalog.array_agg(DISTINCT g.pair ->> 1) AS vals
				   FROM pg_catalog.jsonb_array_elements(gone) g(pair)
				  GROUP BY 1 ORDER BY 1 LOOP
		IF NOT COALESCE(targets ? entry.name, false) THEN
			analyze_it := true;
			CONTINUE;
		END IF;
		FOR target IN SELECT t.x FROM pg_catalog.jsonb_array_elements(targets -> entry.name) t(x) LOOP
			IF privacy_internal._statistics_remove_values(pg_catalog.to_regclass(target ->> 0)::pg_catalog.oid,
												 (target ->> 1)::pg_catalog.int2, entry.vals) < 0 THEN
				analyze_it := true;
			END IF;
		END LOOP;
	END LOOP;
	IF analyze_it THEN
		EXECUTE 'ANALYZE ' || privacy_internal._qualified_name(rel);
	END IF;
END
$$;

COMMENT ON FUNCTION privacy_internal._refresh_statistics(rel regclass, gone jsonb, targets jsonb) IS 'Removes values an erasure removed from a table from its statistics, or analyzes it again where that cannot be done';

REVOKE ALL ON FUNCTION privacy_internal._refresh_statistics(rel regclass, gone jsonb, targets jsonb) FROM PUBLIC;

CREATE FUNCTION privacy_internal._rows_kept_error(rel regclass, what text) RETURNS void
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
BEGIN
	RAISE EXCEPTION '% left rows of table % unchanged', what, privacy_internal._qualified_name(rel)
		USING ERRCODE = 'object_not_in_prerequisite_state',
			  DETAIL = 'A trigger or rule of the table kept rows that were to be deleted or anonymised; nothing of this was done.',
			  HINT = 'A BEFORE DELETE or BEFORE UPDATE trigger that returns NULL (a soft delete) or restores values, or a rule on DELETE or UPDATE, keeps rows: let it pass these changes. privacy.lint() lists such triggers.';
END
$$;

COMMENT ON FUNCTION privacy_internal._rows_kept_error(rel regclass, what text) IS 'Raises the error of an erasure or retention batch that a trigger or rule kept rows from';

REVOKE ALL ON FUNCTION privacy_internal._rows_kept_error(rel regclass, what text) FROM PUBLIC;

CREATE FUNCTION privacy_internal._rows_may_be_kept(rel regclass) RETURNS boolean
    LANGUAGE c STABLE STRICT
    AS 'MODULE_PATHNAME', 'privacy_rows_may_be_kept';

COMMENT ON FUNCTION privacy_internal._rows_may_be_kept(rel regclass) IS 'Whether a trigger or rule of a table (or of a table inheriting from it) may keep a row that a DELETE or UPDATE meant to change';

REVOKE ALL ON FUNCTION privacy_internal._rows_may_be_kept(rel regclass) FROM PUBLIC;

CREATE FUNCTION privacy_internal._statistics_matches(rel regclass, found jsonb, targets jsonb) RETURNS jsonb
    LANGUAGE sql STABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
	WITH f (name, vals, extended) AS (
		SELECT p.x ->> 0, ARRAY(SELECT pg_catalog.jsonb_array_elements_text(p.x -> 1)), (p.x ->> 2)::boolean
		  FROM pg_catalog.jsonb_array_elements(COALESCE(found, '[]')) p(x)),
	rels (relids) AS (
		SELECT COALESCE(NULLIF(ARRAY(SELECT pt.relid::oid FROM pg_catalog.pg_partition_tree(rel) pt), '{}'), ARRAY[rel::oid])),
	st (name, vals) AS MATERIALIZED (
		SELECT 'e' || x.oid || '.' || e.n,
			   COALESCE(d.stxdexpr[e.n].stavalues1::text::text[], '{}') || COALESCE(d.stxdexpr[e.n].stavalues2::text::text[], '{}')
			   || COALESCE(d.stxdexpr[e.n].stavalues3::text::text[], '{}') || COALESCE(d.stxdexpr[e.n].stavalues4::text::text[], '{}')
			   || COALESCE(d.stxdexpr[e.n].stavalues5::text::text[], '{}')
		  FROM pg_catalog.pg_statistic_ext x
		  JOIN pg_catalog.pg_statistic_ext_data d ON d.stxoid = x.oid
		 CROSS JOIN LATERAL pg_catalog.generate_subscripts(d.stxdexpr, 1) e(n)
		 WHERE x.stxrelid IN (SELECT pg_catalog.unnest(r.relids) FROM rels r)
		UNION ALL
		SELECT 'mcv', pg_catalog.array_agg(m.v)
		  FROM pg_catalog.pg_statistic_ext x
		  JOIN pg_catalog.pg_statistic_ext_data d ON d.stxoid = x.oid
		 CROSS JOIN LATERAL pg_catalog.pg_mcv_list_items(d.stxdmcv) i
		 CROSS JOIN LATERAL pg_catalog.unnest(i.values) m(v)
		 WHERE x.stxrelid IN (SELECT pg_catalog.unnest(r.relids) FROM rels r))
	SELECT pg_catalog.jsonb_agg(DISTINCT m.pair) FROM (
		SELECT pg_catalog.jsonb_build_array(f.name, v.val)
		  FROM f
		 CROSS JOIN LATERAL pg_catalog.jsonb_array_elements(targets -> f.name) t(target)
		 CROSS JOIN LATERAL pg_catalog.unnest(privacy_internal._statistics_values(pg_catalog.to_regclass(t.target ->> 0)::oid,
																		 (t.target ->> 1)::smallint, f.vals)) v(val)
		 WHERE NOT f.extended
		UNION ALL
		SELECT pg_catalog.jsonb_build_array(f.name, v.val)
		  FROM f
		  JOIN st ON st.name = f.name
		 CROSS JOIN LATERAL pg_catalog.unnest(f.vals) v(val)
		 WHERE f.extended AND v.val = ANY (st.vals)) m(pair)
$$;

COMMENT ON FUNCTION privacy_internal._statistics_matches(rel regclass, found jsonb, targets jsonb) IS 'Which of the values computed on a subject''s rows of a table the table''s statistics hold';

REVOKE ALL ON FUNCTION privacy_internal._statistics_matches(rel regclass, found jsonb, targets jsonb) FROM PUBLIC;

CREATE FUNCTION privacy_internal._statistics_remove_values(rel oid, attnum smallint, gone text[]) RETURNS integer
    LANGUAGE c STRICT
    AS 'MODULE_PATHNAME', 'privacy_statistics_remove_values';

COMMENT ON FUNCTION privacy_internal._statistics_remove_values(rel oid, attnum smallint, gone text[]) IS 'Removes values from the planner statistics of a column of a table or index, with their frequencies';

REVOKE ALL ON FUNCTION privacy_internal._statistics_remove_values(rel oid, attnum smallint, gone text[]) FROM PUBLIC;

CREATE FUNCTION privacy_internal._erased_from_shard(rel regclass, column_names text[], deleted_row record) RETURNS boolean
    LANGUAGE c IMMUTABLE PARALLEL UNSAFE COST 1000
    AS 'MODULE_PATHNAME', 'privacy_erased_from_shard';

COMMENT ON FUNCTION privacy_internal._erased_from_shard(rel regclass, column_names text[], deleted_row record) IS 'Notes the values of the named columns of a row that an erasure deleted from a shard of a table Citus manages (an array column''s elements too), to be removed from the shard''s statistics when the transaction commits; true. The erasure''s DELETE calls it as its last condition where it finds the rows by the table''s own column of the key (it is marked costly so that the planner evaluates it after the cheap ones, the key''s among them), else in its RETURNING list; marked immutable because Citus runs only immutable functions of a row in a DELETE, on the node of the shard; it has no result but true';

REVOKE ALL ON FUNCTION privacy_internal._erased_from_shard(rel regclass, column_names text[], deleted_row record) FROM PUBLIC;
-- The erasure's statements run as the table's owner, whom the function checks.
GRANT EXECUTE ON FUNCTION privacy_internal._erased_from_shard(rel regclass, column_names text[], deleted_row record) TO PUBLIC;

CREATE FUNCTION privacy_internal._statistics_values(rel oid, attnum smallint, wanted text[]) RETURNS text[]
    LANGUAGE c STABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'privacy_statistics_values';

COMMENT ON FUNCTION privacy_internal._statistics_values(rel oid, attnum smallint, wanted text[]) IS 'Which of the given texts are values held by the planner statistics of a column of a table or index';

REVOKE ALL ON FUNCTION privacy_internal._statistics_values(rel oid, attnum smallint, wanted text[]) FROM PUBLIC;

CREATE FUNCTION privacy_internal._subject_erased(kind text, subject text) RETURNS boolean
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
BEGIN
	IF NOT EXISTS (SELECT FROM privacy.erasures e
					WHERE e.kind OPERATOR(pg_catalog.=) _subject_erased.kind
					  AND e.subject_ref OPERATOR(pg_catalog.=) privacy.subject_ref(_subject_erased.kind, subject)) THEN
		RETURN false;
	END IF;
	RETURN NOT privacy_internal._subject_exists(kind, subject, false);
END
$$;

COMMENT ON FUNCTION privacy_internal._subject_erased(kind text, subject text) IS 'Whether a subject, given by its canonical key, was erased and does not exist now';

REVOKE ALL ON FUNCTION privacy_internal._subject_erased(kind text, subject text) FROM PUBLIC;

CREATE FUNCTION privacy.close_request(request_id bigint, status text, outcome jsonb DEFAULT '{}'::jsonb) RETURNS void
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

COMMENT ON FUNCTION privacy.close_request(request_id bigint, status text, outcome jsonb) IS 'Rejects a request with the reasons, or completes a rectification, restriction or objection request whose fulfilment was recorded; erasure, access and portability requests are completed by erase_subject() and export_subject()';

REVOKE ALL ON FUNCTION privacy.close_request(request_id bigint, status text, outcome jsonb) FROM PUBLIC;

CREATE FUNCTION privacy.erase_subject(request_id bigint, reason text) RETURNS jsonb
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

CREATE FUNCTION privacy.erase_subject(kind text, subject text, reason text)
RETURNS jsonb
LANGUAGE c SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'privacy_erase_subject';

COMMENT ON FUNCTION privacy.erase_subject(kind text, subject text, reason text) IS 'Erases a data subject in one transaction: deletes their rows children first, anonymises rows the policy keeps without the person, retains rows a legal obligation keeps (with the date their retention ends); returns a receipt without personal data';

REVOKE ALL ON FUNCTION privacy.erase_subject(kind text, subject text, reason text) FROM PUBLIC;

CREATE FUNCTION privacy.export_subject(request_id bigint) RETURNS jsonb
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
	r privacy.subject_requests;
	result jsonb;
BEGIN
	r := privacy_internal._open_request_for(request_id, ARRAY['access', 'portability']);
	IF r.subject IS NULL THEN
		RAISE EXCEPTION 'request % names a subject that was erased', request_id
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  HINT = 'Close the request as rejected with privacy.close_request(), giving the reasons.';
	END IF;
	result := privacy_internal._export_subject(r.kind, r.subject, r.id);
	UPDATE privacy.subject_requests sr
	   SET status = 'completed', completed_at = pg_catalog.now(),
		   outcome = pg_catalog.jsonb_build_object('exported_tables',
				(SELECT pg_catalog.count(*) FROM pg_catalog.jsonb_object_keys(result OPERATOR(pg_catalog.->) 'data')))
	 WHERE sr.id OPERATOR(pg_catalog.=) r.id;
	PERFORM privacy_internal._audit(SESSION_USER, 'request.completed', r.kind, r.subject, r.id,
						   pg_catalog.jsonb_build_object('right', r.request_right));
	RETURN result;
END
$$;

COMMENT ON FUNCTION privacy.export_subject(request_id bigint) IS 'Runs the export an access or portability request asks for and marks the request completed';

REVOKE ALL ON FUNCTION privacy.export_subject(request_id bigint) FROM PUBLIC;

CREATE FUNCTION privacy.export_subject(kind text, subject text)
RETURNS jsonb
LANGUAGE c SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'privacy_export_subject';

COMMENT ON FUNCTION privacy.export_subject(kind text, subject text) IS 'Every personal row of a data subject, grouped by table with each column''s category, and what GDPR Art. 15 requires: purposes, legal bases, categories, recipients, retention, sources, consent history, disclosures, rights';

REVOKE ALL ON FUNCTION privacy.export_subject(kind text, subject text) FROM PUBLIC;

CREATE FUNCTION privacy.extend_request(request_id bigint, reason text, extension interval DEFAULT '2 mons'::interval) RETURNS timestamp with time zone
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
	r privacy.subject_requests;
BEGIN
	IF reason IS NULL OR pg_catalog.btrim(reason) = '' THEN
		RAISE EXCEPTION 'an extension needs a reason'
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'GDPR Art. 12(3) requires telling the subject why the request takes longer.';
	END IF;
	SELECT * INTO r FROM privacy.subject_requests sr WHERE sr.id = request_id FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'request % does not exist', request_id USING ERRCODE = 'no_data_found';
	END IF;
	IF r.status <> 'open' THEN
		RAISE EXCEPTION 'request % is already %', request_id, r.status
			USING ERRCODE = 'object_not_in_prerequisite_state';
	END IF;
	IF extension IS NULL OR extension <= '0'::interval
	   OR r.deadline + extension > r.received_at + interval '3 months' THEN
		RAISE EXCEPTION 'a request''s deadline can be extended to at most three months after receipt'
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = pg_catalog.format('The request was received at %s.', r.received_at);
	END IF;
	UPDATE privacy.subject_requests sr
	   SET deadline = sr.deadline + extension,
		   extension_reason = reason
	 WHERE sr.id = request_id;
	PERFORM privacy_internal._audit(SESSION_USER, 'request.extend', NULL, NULL, request_id,
						   pg_catalog.jsonb_build_object('deadline', r.deadline + extension));
	RETURN r.deadline + extension;
END
$$;

COMMENT ON FUNCTION privacy.extend_request(request_id bigint, reason text, extension interval) IS 'Extends a request''s deadline, with a recorded reason, to at most three months after receipt';

REVOKE ALL ON FUNCTION privacy.extend_request(request_id bigint, reason text, extension interval) FROM PUBLIC;

CREATE FUNCTION privacy.open_request(kind text, subject text, request_right text, received_at timestamp with time zone DEFAULT now()) RETURNS bigint
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

COMMENT ON FUNCTION privacy.open_request(kind text, subject text, request_right text, received_at timestamp with time zone) IS 'Records a data-subject request; its deadline is one month after receipt (GDPR Art. 12(3))';

REVOKE ALL ON FUNCTION privacy.open_request(kind text, subject text, request_right text, received_at timestamp with time zone) FROM PUBLIC;

CREATE TABLE privacy.erasures (
    id bigint GENERATED BY DEFAULT AS IDENTITY,
    kind text NOT NULL,
    subject_ref text NOT NULL,
    erased_at timestamp with time zone NOT NULL,
    request_id bigint,
    reason text NOT NULL,
    receipt jsonb NOT NULL,
    CONSTRAINT erasures_pkey PRIMARY KEY (id)
);

COMMENT ON TABLE privacy.erasures IS 'Every erasure, by subject reference (never the raw identifier), with its receipt: what proves the erasure';
SELECT pg_catalog.pg_extension_config_dump('privacy.erasures', '');
SELECT pg_catalog.pg_extension_config_dump('privacy.erasures_id_seq', '');

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

CREATE VIEW privacy.requests AS
SELECT r.id, r.kind, r.subject_ref, r.request_right AS "right", r.received_at, r.deadline,
	   r.extension_reason, r.status, r.completed_at,
	   CASE WHEN r.status = 'open'
			THEN pg_catalog.date_part('day', pg_catalog.date_trunc('day', r.deadline) - pg_catalog.date_trunc('day', pg_catalog.now()))::integer
	   END AS days_left,
	   r.status = 'open' AND r.deadline < pg_catalog.now() AS overdue,
	   r.outcome
  FROM privacy.subject_requests r;

COMMENT ON VIEW privacy.requests IS 'Data-subject requests: status, deadline, days left, and which open ones are overdue';

CREATE INDEX erasures_kind_subject_ref_idx ON privacy.erasures USING btree (kind, subject_ref);

CREATE INDEX subject_requests_kind_subject_ref_idx ON privacy.subject_requests USING btree (kind, subject_ref);

CREATE TRIGGER append_only BEFORE DELETE OR UPDATE ON privacy.erasures FOR EACH ROW EXECUTE FUNCTION privacy_internal._erasures_are_append_only();

CREATE TRIGGER append_only_truncate BEFORE TRUNCATE ON privacy.erasures FOR EACH STATEMENT EXECUTE FUNCTION privacy_internal._erasures_are_append_only();

CREATE TRIGGER invalidate_consent_cache AFTER INSERT OR DELETE OR UPDATE OR TRUNCATE ON privacy.erasures FOR EACH STATEMENT EXECUTE FUNCTION privacy_internal._invalidate_consent_cache();

CREATE TRIGGER invalidate_consent_cache_on_apply AFTER INSERT OR DELETE OR UPDATE ON privacy.erasures FOR EACH ROW EXECUTE FUNCTION privacy_internal._invalidate_consent_cache();

ALTER TABLE privacy.erasures ENABLE REPLICA TRIGGER invalidate_consent_cache_on_apply;
