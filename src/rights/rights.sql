-- rights: data-subject requests, export_subject(), erase_subject() and the
-- erasure receipts, and removing erased values from planner statistics.
-- C: src/rights/.

CREATE FUNCTION privacy_internal._anonymized_value_sql(rel regclass, column_name name, row_alias text) RETURNS text
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
	a record;
BEGIN
	SELECT att.attnotnull, t.typcategory, t.typname, n.nspname INTO a
	  FROM pg_catalog.pg_attribute att
	  JOIN pg_catalog.pg_type t ON t.oid = att.atttypid
	  JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
	 WHERE att.attrelid = rel AND att.attname = column_name AND NOT att.attisdropped;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'column "%" of relation % does not exist', column_name, rel
			USING ERRCODE = 'undefined_column',
				  HINT = 'Apply a policy document that matches the schema; privacy.lint() lists such entries.';
	END IF;
	IF NOT a.attnotnull THEN
		RETURN 'NULL';
	END IF;
	IF a.typcategory = 'S' THEN
		RETURN pg_catalog.format('''[erased '' || pg_catalog.substr(pg_catalog.md5(%s.ctid::text || pg_catalog.clock_timestamp()::text), 1, 12) || '']''', row_alias);
	END IF;
	IF a.nspname = 'privacy' AND a.typname = 'email' THEN
		RETURN pg_catalog.format('(''erased-'' || pg_catalog.substr(pg_catalog.md5(%s.ctid::text || pg_catalog.clock_timestamp()::text), 1, 12) || ''@erased.invalid'')::privacy.email', row_alias);
	END IF;
	RAISE EXCEPTION 'cannot anonymise column "%" of relation %: it is NOT NULL and of type %', column_name, rel, a.typname
		USING ERRCODE = 'not_null_violation',
			  HINT = 'Allow NULL in the column (ALTER TABLE ... ALTER COLUMN ... DROP NOT NULL), so that erasure can clear it.';
END
$$;

COMMENT ON FUNCTION privacy_internal._anonymized_value_sql(rel regclass, column_name name, row_alias text) IS 'SQL for the value an anonymised personal column gets';

REVOKE ALL ON FUNCTION privacy_internal._anonymized_value_sql(rel regclass, column_name name, row_alias text) FROM PUBLIC;

CREATE FUNCTION privacy_internal._unreferenced_condition(rel regclass, row_alias text)
RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT COALESCE(pg_catalog.string_agg(pg_catalog.format(
						' AND NOT EXISTS (SELECT FROM %s r WHERE %s)',
						privacy_internal._qualified_name(f.from_table), privacy_internal._join_condition(f, row_alias, 'r')), ''
						ORDER BY f.constraint_name), '')
	  FROM privacy.foreign_keys f WHERE f.to_table = rel;
END;

COMMENT ON FUNCTION privacy_internal._unreferenced_condition(rel regclass, row_alias text) IS 'A condition true of the rows of a table that no row references';

REVOKE ALL ON FUNCTION privacy_internal._unreferenced_condition(rel regclass, row_alias text) FROM PUBLIC;

CREATE FUNCTION privacy_internal._delete_unreferenced_sql(rel regclass)
RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT pg_catalog.format(
		'WITH gone AS (DELETE FROM %s t WHERE t.ctid = ANY ($1)%s RETURNING t.ctid) '
		'SELECT COALESCE(pg_catalog.array_agg(gone.ctid), ''{}'') FROM gone',
		privacy_internal._qualified_name(rel), privacy_internal._unreferenced_condition(rel, 't'));
END;

COMMENT ON FUNCTION privacy_internal._delete_unreferenced_sql(rel regclass) IS 'SQL deleting the given rows of a table that no other row references';

REVOKE ALL ON FUNCTION privacy_internal._delete_unreferenced_sql(rel regclass) FROM PUBLIC;

CREATE FUNCTION privacy_internal._erase_subject(kind text, subject text, reason text, request_id bigint) RETURNS jsonb
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
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
	subject := privacy_internal._canonical_subject(kind, subject, false);
	ref := privacy.subject_ref(kind, subject);

	-- One erasure of a subject at a time (a lock no ordinary role can take or
	-- hold); the anchor row stays locked, so that no new row can be attached
	-- to the subject until this commits.
	PERFORM privacy_internal._lock_subject('erase', kind, ref);
	IF NOT privacy_internal._subject_exists(kind, subject, true) THEN
		SELECT * INTO previous FROM privacy.erasures e
		 WHERE e.kind = _erase_subject.kind AND e.subject_ref = ref ORDER BY e.id DESC LIMIT 1;
		IF NOT FOUND THEN
			RAISE EXCEPTION 'subject of kind "%" does not exist', kind
				USING ERRCODE = 'no_data_found';
		END IF;
		receipt := pg_catalog.jsonb_build_object('kind', kind, 'subject_ref', ref, 'changed', false,
			'already_erased', true, 'erased_at', previous.erased_at, 'tables', '[]'::jsonb,
			'note', 'The subject was erased before; nothing more was found to erase.');
		PERFORM privacy_internal._audit(SESSION_USER, 'erasure', kind, subject, request_id,
							   pg_catalog.jsonb_build_object('changed', false, 'already_erased', true));
		RETURN receipt;
	END IF;

	PERFORM privacy_internal._allow_protected_changes();
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
	PERFORM privacy_internal._fill_subject_plans(kind);
	FOR plan IN SELECT * FROM privacy._subject_plans p
				 WHERE p.kind = _erase_subject.kind AND p.personal
				 ORDER BY p.depth DESC, p.table_name::text LOOP
		-- The values of the subject's rows in the table that its statistics
		-- hold, asked before the rows change.
		in_statistics := NULL;
		IF plan.statistics_sql IS NOT NULL THEN
			in_statistics := privacy_internal._cached_value(plan.statistics_sql, NULL::jsonb, subject);
		END IF;
		-- A table whose triggers or rules may keep rows takes the careful
		-- way too, which checks that every row it meant to change changed.
		IF subject_held OR plan.table_name = ANY (careful_tables) OR privacy_internal._rows_may_be_kept(plan.table_name) THEN
			line := privacy_internal._erase_table(kind, subject, plan);
		ELSE
			counts := privacy_internal._cached_value_as_owner(plan.table_name, plan.erase_sql, NULL::integer[], subject);
			IF counts[1] > counts[2] THEN
				-- Rows that rows kept elsewhere still reference are anonymised.
				line := privacy_internal._erase_table(kind, subject, plan);
				line := COALESCE(line, pg_catalog.jsonb_build_object('table', privacy_internal._qualified_name(plan.table_name)))
					|| pg_catalog.jsonb_build_object(
						'rows', counts[2] + COALESCE((line ->> 'rows')::integer, 0),
						'deleted', counts[2] + COALESCE((line ->> 'deleted')::integer, 0));
			ELSIF counts[2] > 0 THEN
				line := pg_catalog.jsonb_build_object('table', privacy_internal._qualified_name(plan.table_name),
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
				gone := privacy_internal._statistics_gone_values(plan.table_name, in_statistics, plan.statistics_conditions);
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
		PERFORM privacy_internal._refresh_statistics(stale[i], stale_values[i], stale_targets[i]);
		refreshed := refreshed || privacy_internal._qualified_name(stale[i]);
	END LOOP;
	ledgers := privacy_internal._forget_subject_in_ledgers(kind, subject);
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
	-- The entry carries the receipt's digest, so that privacy.verify_evidence()
	-- detects a receipt changed or removed by any means.
	PERFORM privacy_internal._audit(SESSION_USER, 'erasure', kind, subject, request_id,
						   receipt - 'tables' - 'subject_ref' - 'kind' - 'ledgers' - 'statistics_refreshed'
						   || pg_catalog.jsonb_build_object('receipt_sha256',
								pg_catalog.encode(pg_catalog.sha256(pg_catalog.convert_to(receipt::pg_catalog.text, 'UTF8')), 'hex')));
	RETURN receipt;
END
$$;

COMMENT ON FUNCTION privacy_internal._erase_subject(kind text, subject text, reason text, request_id bigint) IS 'The erasure of one data subject, audited with the request it answers';

REVOKE ALL ON FUNCTION privacy_internal._erase_subject(kind text, subject text, reason text, request_id bigint) FROM PUBLIC;

CREATE FUNCTION privacy_internal._erase_table(kind text, subject text, plan privacy._subject_plans) RETURNS jsonb
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $_$
DECLARE
	rel regclass := plan.table_name;
	ctids tid[];
	kept tid[];
	retained tid[] := '{}';
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
	counts integer[];
BEGIN
	IF NOT plan.personal THEN
		RETURN NULL;
	END IF;
	ctids := privacy_internal._cached_value_as_owner(rel,
		'SELECT pg_catalog.array_agg(s.ctid) FROM (SELECT t0.ctid ' || plan.rows_sql || ' FOR UPDATE OF t0) s',
		NULL::tid[], subject);
	IF ctids IS NULL THEN
		RETURN NULL;
	END IF;
	entry := pg_catalog.jsonb_build_object('table', privacy_internal._qualified_name(rel), 'rows', pg_catalog.cardinality(ctids));

	hold := privacy_internal._hold_reference(kind, subject, rel);
	IF hold IS NOT NULL THEN
		RETURN entry || pg_catalog.jsonb_build_object('held', pg_catalog.cardinality(ctids), 'hold_reference', hold);
	END IF;

	-- Rows a legal minimum still keeps stay untouched, with their end date.
	-- (These read the rows' anchors only, of a date or timestamp type.)
	FOR rule IN SELECT rr.name, rr.anchor, rr.legal_basis FROM privacy.retention_rules rr
				 WHERE rr.table_name = rel AND rr.minimum IS NOT NULL ORDER BY rr.name LOOP
		kept := privacy_internal._cached_value(pg_catalog.format(
			'SELECT pg_catalog.array_agg(t.ctid) FROM %s t '
			'WHERE t.ctid = ANY ($1) AND privacy_internal._minimum_end(%L, t.%I::timestamptz) > pg_catalog.now()',
			privacy_internal._qualified_name(rel), rule.name, rule.anchor), NULL::tid[], ctids);
		IF kept IS NOT NULL THEN
			retained_until := privacy_internal._cached_value(pg_catalog.format(
				'SELECT pg_catalog.max(privacy_internal._minimum_end(%L, t.%I::timestamptz)) FROM %s t WHERE t.ctid = ANY ($1)',
				rule.name, rule.anchor, privacy_internal._qualified_name(rel)), NULL::timestamptz, kept);
			ctids := ARRAY(SELECT c FROM pg_catalog.unnest(ctids) c EXCEPT SELECT k FROM pg_catalog.unnest(kept) k);
			retained := retained || kept;
			entry := entry || pg_catalog.jsonb_build_object(
				'retained', pg_catalog.cardinality(kept), 'retained_until', retained_until::date,
				'retention_rule', rule.name, 'basis', rule.legal_basis);
		END IF;
	END LOOP;

	SELECT rr.name INTO anonymize_rule FROM privacy.retention_rules rr
	 WHERE rr.table_name = rel AND rr.action = 'anonymize' ORDER BY rr.name LIMIT 1;

	IF anonymize_rule IS NULL AND pg_catalog.cardinality(ctids) > 0 THEN
		-- Delete what no remaining row references.
		deleted_ctids := privacy_internal._cached_value_as_owner(rel, plan.delete_sql, NULL::tid[], ctids);
		ctids := ARRAY(SELECT c FROM pg_catalog.unnest(ctids) c EXCEPT SELECT d FROM pg_catalog.unnest(deleted_ctids) d);
		entry := entry || pg_catalog.jsonb_build_object('deleted', pg_catalog.cardinality(deleted_ctids));
		-- Every row of the subject left, but those retained, must be one
		-- that rows kept elsewhere reference (the rows are locked: only a
		-- trigger or rule can have kept another, perhaps as a new version).
		IF privacy_internal._rows_may_be_kept(rel)
		   AND privacy_internal._cached_value_as_owner(rel,
				'SELECT pg_catalog.count(*) OPERATOR(pg_catalog.>) 0 ' || plan.rows_sql
				|| ' AND t0.ctid OPERATOR(pg_catalog.<>) ALL ($2)' || privacy_internal._unreferenced_condition(rel, 't0'),
				NULL::boolean, subject, retained) THEN
			PERFORM privacy_internal._rows_kept_error(rel, 'the erasure');
		END IF;
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
		SELECT pg_catalog.string_agg(pg_catalog.format('%I = %s', c, privacy_internal._anonymized_value_sql(rel, c, 't')), ', '),
			   pg_catalog.string_agg(pg_catalog.format(
					'(t.%1$I IS NOT NULL AND t.%1$I::pg_catalog.text NOT LIKE ''[erased %%'' AND t.%1$I::pg_catalog.text NOT LIKE ''erased-%%@erased.invalid'')', c), ' OR ')
		  INTO set_list, not_yet_anonymized
		  FROM pg_catalog.unnest(anonymize_columns) c;
		IF detach <> '' THEN
			SELECT not_yet_anonymized || ' OR ' || pg_catalog.string_agg(pg_catalog.format('t.%I IS NOT NULL', c), ' OR ')
			  INTO not_yet_anonymized
			  FROM privacy.foreign_keys f, pg_catalog.unnest(f.from_columns) c
			 WHERE f.constraint_oid = plan.hops[1];
		END IF;
		-- {rows to anonymise, rows changed, changed rows still personal}: a
		-- row a trigger or rule skipped, or gave its values back, is an error.
		counts := privacy_internal._cached_value_as_owner(rel, pg_catalog.format(
			'WITH changed AS (UPDATE %1$s t SET %2$s%3$s WHERE t.ctid OPERATOR(pg_catalog.=) ANY ($1) AND (%4$s) RETURNING (%4$s) AS personal) '
			'SELECT ARRAY[(SELECT pg_catalog.count(*) FROM %1$s t WHERE t.ctid OPERATOR(pg_catalog.=) ANY ($1) AND (%4$s)), '
			'pg_catalog.count(*), pg_catalog.count(*) FILTER (WHERE changed.personal)]::pg_catalog.int4[] FROM changed',
			privacy_internal._qualified_name(rel), set_list, detach, not_yet_anonymized), NULL::integer[], ctids);
		IF counts[2] OPERATOR(pg_catalog.<) counts[1] OR counts[3] OPERATOR(pg_catalog.>) 0 THEN
			PERFORM privacy_internal._rows_kept_error(rel, 'the erasure');
		END IF;
		entry := entry || pg_catalog.jsonb_build_object('anonymized', counts[2], 'kept_anonymous', pg_catalog.cardinality(ctids),
			'anonymized_because', CASE WHEN anonymize_rule IS NOT NULL
									   THEN pg_catalog.format('retention rule "%s" keeps the rows without the person', anonymize_rule)
									   ELSE 'rows that are kept reference them' END);
	END IF;
	RETURN entry;
END
$_$;

COMMENT ON FUNCTION privacy_internal._erase_table(kind text, subject text, plan privacy._subject_plans) IS 'Erases one subject''s rows of one table and returns that table''s line of the receipt';

REVOKE ALL ON FUNCTION privacy_internal._erase_table(kind text, subject text, plan privacy._subject_plans) FROM PUBLIC;

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

CREATE FUNCTION privacy_internal._export_entry_sql(ord bigint, tables bigint[], entry jsonb)
RETURNS text
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
RETURN pg_catalog.format('(%s, %L::pg_catalog.int4[], %L::pg_catalog.jsonb)', ord, tables, entry);

COMMENT ON FUNCTION privacy_internal._export_entry_sql(ord bigint, tables bigint[], entry jsonb) IS 'One entry of a section of the export statement, as a VALUES row';

REVOKE ALL ON FUNCTION privacy_internal._export_entry_sql(ord bigint, tables bigint[], entry jsonb) FROM PUBLIC;

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

CREATE FUNCTION privacy_internal._export_section_sql(entries text)
RETURNS text
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
RETURN CASE WHEN entries IS NULL THEN '''[]''::pg_catalog.jsonb'
			ELSE pg_catalog.format('(SELECT COALESCE(pg_catalog.jsonb_agg(e.entry ORDER BY e.ord), ''[]'') '
								   'FROM (VALUES %s) e(ord, ns, entry) WHERE e.ns OPERATOR(pg_catalog.&&) p.ns)',
								   entries) END;

COMMENT ON FUNCTION privacy_internal._export_section_sql(entries text) IS 'One section of the export statement: the entries that concern the tables where the subject has rows';

REVOKE ALL ON FUNCTION privacy_internal._export_section_sql(entries text) FROM PUBLIC;

CREATE FUNCTION privacy_internal._export_sql(kind text) RETURNS text
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $_$
DECLARE
	k record := privacy_internal._subject_kind_key(kind);
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
	  FROM privacy_internal._subject_plan(kind) p
	 WHERE p.personal;

	SELECT pg_catalog.string_agg(pg_catalog.format(
				'(%s, %L, privacy_internal._cached_value_as_owner(%L::pg_catalog.regclass, %L, NULL::pg_catalog.jsonb, $1))',
				t.n, privacy_internal._qualified_name(t.table_name), privacy_internal._qualified_name(t.table_name),
				pg_catalog.format(
					'SELECT pg_catalog.jsonb_build_object(''categories'', %L::pg_catalog.jsonb, '
					'''rows'', pg_catalog.jsonb_agg(pg_catalog.to_jsonb(t0))) %s HAVING pg_catalog.count(*) OPERATOR(pg_catalog.>) 0',
					(SELECT pg_catalog.jsonb_object_agg(cc.column_name, cc.category ORDER BY cc.column_name)
					   FROM privacy.classified_columns cc WHERE cc.table_name = t.table_name),
					t.rows_sql)), ', ' ORDER BY t.n)
	  INTO tables
	  FROM ROWS FROM (pg_catalog.unnest(personal), pg_catalog.unnest(from_clauses)) WITH ORDINALITY t(table_name, rows_sql, n);

	-- The categories and the sources of the personal columns, each with the
	-- tables whose columns have it.
	SELECT pg_catalog.string_agg(privacy_internal._export_entry_sql(e.ord, e.ns, e.entry), ', ' ORDER BY e.ord)
			   FILTER (WHERE e.section = 'categories'),
		   pg_catalog.string_agg(privacy_internal._export_entry_sql(e.ord, e.ns, e.entry), ', ' ORDER BY e.ord)
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

	SELECT pg_catalog.string_agg(privacy_internal._export_entry_sql(e.ord, ARRAY[e.n], e.entry), ', ' ORDER BY e.ord)
	  INTO retention
	  FROM (SELECT pg_catalog.row_number() OVER (ORDER BY rr.name) AS ord, t.n,
				   pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object(
						'table', privacy_internal._qualified_name(rr.table_name), 'period', rr.period,
						'counted_from', rr.anchor, 'action', rr.action, 'legal_basis', rr.legal_basis,
						'minimum', rr.minimum,
						'minimum_from', CASE WHEN rr.minimum IS NOT NULL THEN rr.minimum_from END,
						'description', NULLIF(rr.description, ''))) AS entry
			  FROM privacy.retention_rules rr
			  JOIN pg_catalog.unnest(personal) WITH ORDINALITY t(table_name, n) ON t.table_name = rr.table_name) e;

	SELECT pg_catalog.string_agg(pg_catalog.format('%L, %L::pg_catalog.jsonb', x.key, x.value), ', ' ORDER BY x.key)
	  INTO policy_sections
	  FROM pg_catalog.jsonb_each(privacy_internal._export_policy_sections()) x;

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
		privacy_internal._export_section_sql(categories),
		privacy_internal._export_section_sql(sources),
		privacy_internal._export_section_sql(retention),
		privacy_internal._subject_exists_sql(k.table_name, k.key_column, k.key_type, false),
		privacy_internal._consent_history_sql(pg_catalog.quote_literal(kind), pg_catalog.format('($1::%s)::text', k.key_type)));
END
$_$;

COMMENT ON FUNCTION privacy_internal._export_sql(kind text) IS 'The statement reading one subject''s personal rows from every table of a kind';

REVOKE ALL ON FUNCTION privacy_internal._export_sql(kind text) FROM PUBLIC;

CREATE FUNCTION privacy_internal._export_statement(kind text) RETURNS text
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
	statement text;
BEGIN
	SELECT s.export_sql INTO statement FROM privacy._export_statements s WHERE s.kind = _export_statement.kind;
	IF NOT FOUND THEN
		statement := privacy_internal._export_sql(kind);
		INSERT INTO privacy._export_statements (kind, export_sql) VALUES (kind, statement) ON CONFLICT DO NOTHING;
	END IF;
	RETURN statement;
END
$$;

COMMENT ON FUNCTION privacy_internal._export_statement(kind text) IS 'The export statement of a subject kind (cached); an unknown kind is an error';

REVOKE ALL ON FUNCTION privacy_internal._export_statement(kind text) FROM PUBLIC;

CREATE FUNCTION privacy_internal._export_subject(kind text, subject text, request_id bigint) RETURNS jsonb
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
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
	key := privacy_internal._canonical_subject(kind, subject, false);
	export := privacy_internal._cached_value(privacy_internal._export_statement(kind), NULL::privacy._export_result, key);
	IF export.document IS NULL THEN
		RAISE EXCEPTION 'subject of kind "%" does not exist', kind
			USING ERRCODE = 'no_data_found';
	END IF;
	PERFORM privacy_internal._audit(SESSION_USER, 'export', kind, key, request_id,
						   pg_catalog.jsonb_build_object('tables', export.table_count, 'rows', export.row_count));
	RETURN export.document;
END
$$;

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
    CONSTRAINT subject_requests_check CHECK (((status = 'open'::text) = (completed_at IS NULL))),
    CONSTRAINT subject_requests_check1 CHECK ((deadline <= (received_at + '3 mons'::interval))),
    CONSTRAINT subject_requests_request_right_check CHECK ((request_right = ANY (ARRAY['access'::text, 'rectification'::text, 'erasure'::text, 'restriction'::text, 'portability'::text, 'objection'::text]))),
    CONSTRAINT subject_requests_status_check CHECK ((status = ANY (ARRAY['open'::text, 'completed'::text, 'rejected'::text]))),
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

CREATE FUNCTION privacy_internal._statistics_check_sql(kind text, rel regclass, OUT check_sql text, OUT conditions jsonb, OUT targets jsonb) RETURNS record
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $_$
DECLARE
	-- The table and, if it is partitioned, its partitions.
	rels oid[] := COALESCE(NULLIF(ARRAY(SELECT pt.relid FROM pg_catalog.pg_partition_tree(rel) pt), '{}'),
						   ARRAY[rel::oid]);
	columns name[];
	-- VALUES rows (name, the row's values as a text array, whether extended
	-- statistics hold them), one per statistics.
	value_rows text;
	names text[];
	conds text[];
BEGIN
	columns := ARRAY(SELECT cc.column_name FROM privacy.classified_columns cc WHERE cc.table_name = rel);
	WITH stats (ord, name, relid, attnum, relation, vals, cond, extended) AS (
		-- The columns, each under its name, in the table and its partitions.
		SELECT 1, a.attname::text, pa.attrelid::text, pa.attnum, privacy_internal._qualified_name(pa.attrelid::regclass),
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
			   pg_catalog.format('pg_catalog.to_regclass(%L)', privacy_internal._qualified_name(i.indexrelid::regclass)),
			   k.n::smallint, privacy_internal._qualified_name(i.indexrelid::regclass),
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
	SELECT pg_catalog.string_agg(DISTINCT pg_catalog.format('(%L, %s, %L::pg_catalog.bool)', s.name, s.vals, s.extended), ', '),
		   pg_catalog.array_agg(DISTINCT s.name), pg_catalog.array_agg(DISTINCT s.name || E'\x1f' || s.cond),
		   (SELECT pg_catalog.jsonb_object_agg(t.name, t.pairs)
			  FROM (SELECT t.name, pg_catalog.jsonb_agg(pg_catalog.jsonb_build_array(t.relation, t.attnum)
														ORDER BY t.relation, t.attnum) AS pairs
					  FROM stats t WHERE NOT t.extended GROUP BY t.name) t)
	  INTO value_rows, names, conds, targets
	  FROM stats s;

	IF names IS NULL THEN
		RETURN;
	END IF;
	conditions := pg_catalog.jsonb_object(names,
		ARRAY(SELECT pg_catalog.split_part(c, E'\x1f', 2) FROM pg_catalog.unnest(conds) c
			   ORDER BY pg_catalog.array_position(names, pg_catalog.split_part(c, E'\x1f', 1))));
	-- The subject's rows and every expression on them are evaluated as the
	-- table's owner; the statistics are read as the extension's owner.
	check_sql := pg_catalog.format(
		'SELECT privacy_internal._statistics_matches(%1$L::pg_catalog.regclass, '
		'privacy_internal._cached_value_as_owner(%1$L::pg_catalog.regclass, %2$L, NULL::pg_catalog.jsonb, $1), %3$L::pg_catalog.jsonb)',
		privacy_internal._qualified_name(rel),
		pg_catalog.format($sql$SELECT pg_catalog.jsonb_agg(DISTINCT pg_catalog.jsonb_build_array(v.name, v.vals, v.extended))
	  FROM (SELECT t0.* %1$s) r
	 CROSS JOIN LATERAL (VALUES %2$s) v(name, vals, extended)$sql$,
			privacy_internal._subject_rows_sql(kind, rel), value_rows),
		targets);
END
$_$;

COMMENT ON FUNCTION privacy_internal._statistics_check_sql(kind text, rel regclass, OUT check_sql text, OUT conditions jsonb, OUT targets jsonb) IS 'The statement giving the values of one subject''s rows in a table that the table''s statistics hold, and how to find each value in the table';

REVOKE ALL ON FUNCTION privacy_internal._statistics_check_sql(kind text, rel regclass, OUT check_sql text, OUT conditions jsonb, OUT targets jsonb) FROM PUBLIC;

CREATE FUNCTION privacy_internal._statistics_gone_values(rel regclass, matches jsonb, conditions jsonb) RETURNS jsonb
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
	pair jsonb;
	gone jsonb[] := '{}';
BEGIN
	FOR pair IN SELECT m.pair FROM pg_catalog.jsonb_array_elements(matches) m(pair) LOOP
		IF NOT privacy_internal._cached_value_as_owner(rel,
				pg_catalog.format('SELECT EXISTS (SELECT FROM (SELECT * FROM %s LIMIT 1000) r WHERE %s)',
								  privacy_internal._qualified_name(rel), conditions ->> (pair ->> 0)),
				NULL::boolean, pair ->> 1) THEN
			gone := gone || pair;
		END IF;
	END LOOP;
	RETURN CASE WHEN pg_catalog.cardinality(gone) > 0 THEN pg_catalog.to_jsonb(gone) END;
END
$$;

COMMENT ON FUNCTION privacy_internal._statistics_gone_values(rel regclass, matches jsonb, conditions jsonb) IS 'Which of the values that the statistics of a table held are no longer in the table';

REVOKE ALL ON FUNCTION privacy_internal._statistics_gone_values(rel regclass, matches jsonb, conditions jsonb) FROM PUBLIC;

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

CREATE FUNCTION privacy_internal._statistics_values(rel oid, attnum smallint, wanted text[]) RETURNS text[]
    LANGUAGE c STABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'privacy_statistics_values';

COMMENT ON FUNCTION privacy_internal._statistics_values(rel oid, attnum smallint, wanted text[]) IS 'Which of the given texts are values held by the planner statistics of a column of a table or index';

REVOKE ALL ON FUNCTION privacy_internal._statistics_values(rel oid, attnum smallint, wanted text[]) FROM PUBLIC;

CREATE FUNCTION privacy_internal._subject_erase_sql(kind text, rel regclass)
RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT pg_catalog.format(
		'WITH gone AS (DELETE FROM %1$s AS t0%2$s WHERE %3$s%4$s RETURNING 1) '
		'SELECT ARRAY[%5$s, g.n]::pg_catalog.int4[] FROM (SELECT pg_catalog.count(*) AS n FROM gone) g',
		privacy_internal._qualified_name(rel),
		CASE WHEN c.joined <> '' THEN ' USING ' || c.joined ELSE '' END,
		c.conditions,
		u.condition,
		CASE WHEN u.condition = '' THEN 'g.n'
			 ELSE pg_catalog.format('(SELECT pg_catalog.count(*) FROM %s AS t0%s WHERE %s)',
									privacy_internal._qualified_name(rel),
									CASE WHEN c.joined <> '' THEN ', ' || c.joined ELSE '' END,
									c.conditions) END)
	  FROM privacy_internal._subject_clauses(kind, rel) c,
		   privacy_internal._unreferenced_condition(rel, 't0') u(condition);
END;

COMMENT ON FUNCTION privacy_internal._subject_erase_sql(kind text, rel regclass) IS 'The statement deleting one subject''s unreferenced rows of a table and counting the subject''s rows';

REVOKE ALL ON FUNCTION privacy_internal._subject_erase_sql(kind text, rel regclass) FROM PUBLIC;

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
	UPDATE privacy.subject_requests sr
	   SET status = 'completed', completed_at = pg_catalog.now(), outcome = result
	 WHERE sr.id OPERATOR(pg_catalog.=) r.id;
	PERFORM privacy_internal._redact_erased_subject_text(r.kind, r.subject_ref);
	PERFORM privacy_internal._audit(SESSION_USER, 'request.completed', r.kind, NULL, r.id,
						   pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object('right', 'erasure',
								'erasure_id', previous.id)));
	RETURN receipt;
END
$$;

COMMENT ON FUNCTION privacy.erase_subject(request_id bigint, reason text) IS 'Runs the erasure an erasure request asks for and marks the request completed, with the receipt as its outcome (the earlier receipt if the subject was erased meanwhile)';

REVOKE ALL ON FUNCTION privacy.erase_subject(request_id bigint, reason text) FROM PUBLIC;

CREATE FUNCTION privacy.erase_subject(kind text, subject text, reason text) RETURNS jsonb
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
	receipt jsonb;
BEGIN
	receipt := privacy_internal._erase_subject(kind, subject, privacy_internal._erasure_reason(reason), NULL);
	PERFORM privacy_internal._redact_erased_subject_text(kind, receipt OPERATOR(pg_catalog.->>) 'subject_ref');
	RETURN receipt;
END
$$;

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
LANGUAGE sql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
RETURN privacy_internal._export_subject(kind, subject, NULL);

COMMENT ON FUNCTION privacy.export_subject(kind text, subject text) IS 'Every personal row of a data subject, grouped by table with each column''s category, and what GDPR Art. 15 requires: purposes, legal bases, categories, recipients, retention, sources, consent history, rights';

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
	INSERT INTO privacy.subject_requests (kind, subject, subject_ref, request_right, received_at, deadline, opened_by)
	VALUES (kind, key, privacy.subject_ref(kind, key), request_right, received_at,
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
