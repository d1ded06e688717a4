/* opendims_privacy--1.2--1.3.sql: retention rules enforced: triggers, legal holds and the batched retention job. */

\echo Use "ALTER EXTENSION opendims_privacy UPDATE TO '1.3'" to load this file. \quit

-- While this script runs, names resolve in pg_catalog only (pg_temp last).
-- CREATE EXTENSION ... CASCADE puts the schema pgcrypto was created in
-- (public, usually) on the script's search_path; an operator, function or
-- type that another role planted there must never be bound into the
-- extension's objects nor run with the installing superuser's rights.
-- Everything the script creates is qualified with the schema privacy, and
-- CREATE and ALTER EXTENSION restore the caller's search_path afterwards.
SELECT pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', true);

------------------------------------------------------------------------------
-- Deadline arithmetic (C, src/retention_time.c and retention_deadline.c)
--
-- A row of a rule is due when its period, counted from its anchor, has
-- passed, and so has the rule's legal minimum, counted from the anchor or
-- from the end of the anchor's financial year. The due time is monotonic in
-- the anchor, so the rows due at any moment are exactly those whose anchor
-- is at most one cutoff value: the job and the status view select them with
-- a range condition on the anchor column, which its index serves, and no
-- deadline is stored in the rows.
------------------------------------------------------------------------------

CREATE FUNCTION privacy._retention_cutoff(period text, minimum text, minimum_from text,
										  fy_end text, at timestamptz)
RETURNS timestamptz
AS 'MODULE_PATHNAME', 'privacy_retention_cutoff'
LANGUAGE C STABLE PARALLEL SAFE;
REVOKE ALL ON FUNCTION privacy._retention_cutoff(text, text, text, text, timestamptz) FROM PUBLIC;
COMMENT ON FUNCTION privacy._retention_cutoff(text, text, text, text, timestamptz) IS
'The newest anchor value that is due at the given time under a period, an optional minimum and the financial year end';

CREATE FUNCTION privacy._retention_due_at(period text, minimum text, minimum_from text,
										  fy_end text, anchor timestamptz)
RETURNS timestamptz
AS 'MODULE_PATHNAME', 'privacy_retention_due_at'
LANGUAGE C STABLE PARALLEL SAFE;
REVOKE ALL ON FUNCTION privacy._retention_due_at(text, text, text, text, timestamptz) FROM PUBLIC;
COMMENT ON FUNCTION privacy._retention_due_at(text, text, text, text, timestamptz) IS
'When a row with this anchor is due: its period and its minimum, if any, have passed';

CREATE FUNCTION privacy._retention_minimum_end(minimum text, minimum_from text, fy_end text,
											   anchor timestamptz)
RETURNS timestamptz
AS 'MODULE_PATHNAME', 'privacy_retention_minimum_end'
LANGUAGE C STABLE PARALLEL SAFE;
REVOKE ALL ON FUNCTION privacy._retention_minimum_end(text, text, text, timestamptz) FROM PUBLIC;
COMMENT ON FUNCTION privacy._retention_minimum_end(text, text, text, timestamptz) IS
'When a legal minimum ends for a row with this anchor (NULL without a minimum)';

-- The controller's financial year end, "MM-DD", from the policy in force.
CREATE FUNCTION privacy._financial_year_end()
RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT COALESCE((SELECT v.document -> 'controller' ->> 'financial_year_end'
					   FROM privacy.policy_versions v ORDER BY v.id DESC LIMIT 1), '12-31');
END;
REVOKE ALL ON FUNCTION privacy._financial_year_end() FROM PUBLIC;
COMMENT ON FUNCTION privacy._financial_year_end() IS
'The controller''s financial year end (MM-DD) in the policy in force; 12-31 if none is applied';

CREATE FUNCTION privacy._minimum_end(rule_name text, anchor timestamptz)
RETURNS timestamptz
LANGUAGE plpgsql STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	r privacy.retention_rules;
BEGIN
	SELECT * INTO r FROM privacy.retention_rules rr WHERE rr.name = rule_name;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'retention rule "%" does not exist', rule_name
			USING ERRCODE = 'undefined_object',
				  HINT = 'Retention rules are declared by the policy document; privacy.retention_rules lists them.';
	END IF;
	RETURN privacy._retention_minimum_end(r.minimum, r.minimum_from, privacy._financial_year_end(), anchor);
END
$$;
REVOKE ALL ON FUNCTION privacy._minimum_end(text, timestamptz) FROM PUBLIC;
COMMENT ON FUNCTION privacy._minimum_end(text, timestamptz) IS
'When the legal minimum of a retention rule ends for a row with this anchor value (NULL if the rule has no minimum)';

-- The cutoff of one rule at a given time.
CREATE FUNCTION privacy._retention_rule_cutoff(rule privacy.retention_rules, at timestamptz)
RETURNS timestamptz
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT privacy._retention_cutoff(rule.period, rule.minimum, rule.minimum_from,
									 privacy._financial_year_end(), at);
END;
REVOKE ALL ON FUNCTION privacy._retention_rule_cutoff(privacy.retention_rules, timestamptz) FROM PUBLIC;
COMMENT ON FUNCTION privacy._retention_rule_cutoff(privacy.retention_rules, timestamptz) IS
'The newest anchor value of a rule''s rows that is due at the given time';

------------------------------------------------------------------------------
-- What a rule does to a row, as SQL
------------------------------------------------------------------------------

-- The value that anonymize writes into a column: NULL where the column
-- allows it; otherwise a fixed marker for text and the personal-data types;
-- for any other NOT NULL column an error (the rule cannot be enforced).
CREATE FUNCTION privacy._anonymized_value(rule_name text, rel regclass, col name)
RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	a record;
BEGIN
	SELECT at.attnotnull, at.atttypid::regtype AS typ,
		   pg_catalog.format_type(at.atttypid, at.atttypmod) AS typ_text,
		   t.typcategory
	  INTO a
	  FROM pg_catalog.pg_attribute at
	  JOIN pg_catalog.pg_type t ON t.oid = at.atttypid
	 WHERE at.attrelid = rel AND at.attname = col AND at.attnum > 0 AND NOT at.attisdropped;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'column "%" of retention rule "%" does not exist in table %', col, rule_name, rel
			USING ERRCODE = 'undefined_column',
				  HINT = 'Apply a policy document that matches the table.';
	END IF;
	IF NOT a.attnotnull THEN
		RETURN NULL;
	ELSIF a.typ = 'privacy.email'::pg_catalog.regtype THEN
		RETURN 'anonymized@anonymized.invalid';
	ELSIF a.typ = 'privacy.ip_address'::pg_catalog.regtype OR a.typ = 'inet'::pg_catalog.regtype THEN
		RETURN '0.0.0.0';
	ELSIF a.typcategory = 'S' THEN
		RETURN '[anonymized]';
	END IF;
	RAISE EXCEPTION 'retention rule "%" cannot anonymize column "%" of table %', rule_name, col, rel
		USING ERRCODE = 'datatype_mismatch',
			  DETAIL = pg_catalog.format('The column is NOT NULL and of type %s, which has no anonymous marker value.', a.typ_text),
			  HINT = 'Allow NULL in the column (ALTER TABLE ... ALTER COLUMN ... DROP NOT NULL), or make the rule delete the rows.';
END
$$;
REVOKE ALL ON FUNCTION privacy._anonymized_value(text, regclass, name) FROM PUBLIC;
COMMENT ON FUNCTION privacy._anonymized_value(text, regclass, name) IS
'What anonymize writes into a column: NULL if it is nullable, else a fixed marker ([anonymized], anonymized@anonymized.invalid, 0.0.0.0)';

-- The SQL pieces that enforce one rule, for rows of its table aliased t:
-- the anchor's type, todo (a condition true for rows the action still has
-- to change) and action (the DELETE or UPDATE statement without its WHERE
-- clause, which the job adds).
-- Raises an error if the rule cannot be enforced on the table as it is.
CREATE FUNCTION privacy._retention_rule_sql(rule privacy.retention_rules,
											OUT anchor_type text, OUT todo text, OUT action text)
RETURNS record
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	col name;
	typ pg_catalog.regtype;
	marker text;
	new_value text;
	sets text[] := '{}';
	todos text[] := '{}';
BEGIN
	SELECT a.atttypid::regtype INTO typ
	  FROM pg_catalog.pg_attribute a
	 WHERE a.attrelid = rule.table_name AND a.attname = rule.anchor AND a.attnum > 0 AND NOT a.attisdropped;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'anchor column "%" of retention rule "%" does not exist in table %',
			rule.anchor, rule.name, rule.table_name
			USING ERRCODE = 'undefined_column',
				  HINT = 'Apply a policy document that matches the table.';
	END IF;
	IF typ NOT IN ('date'::pg_catalog.regtype, 'timestamp'::pg_catalog.regtype, 'timestamptz'::pg_catalog.regtype) THEN
		RAISE EXCEPTION 'anchor column "%" of retention rule "%" is of type %, not a date or timestamp',
			rule.anchor, rule.name, typ
			USING ERRCODE = 'datatype_mismatch',
				  HINT = 'An anchor is a column of type date, timestamp or timestamp with time zone.';
	END IF;
	anchor_type := pg_catalog.format_type(typ, NULL);

	IF rule.action = 'delete' THEN
		todo := 'true';
		action := pg_catalog.format('DELETE FROM %s t', privacy._qualified_name(rule.table_name));
		RETURN;
	END IF;

	FOREACH col IN ARRAY rule.columns LOOP
		IF rule.action = 'anonymize' THEN
			marker := privacy._anonymized_value(rule.name, rule.table_name, col);
			IF marker IS NULL THEN
				sets := sets || pg_catalog.format('%I = NULL', col);
				todos := todos || pg_catalog.format('t.%I IS NOT NULL', col);
			ELSE
				sets := sets || pg_catalog.format('%I = %L', col, marker);
				todos := todos || pg_catalog.format('t.%I::text IS DISTINCT FROM %L', col, marker);
			END IF;
		ELSE
			SELECT a.atttypid::regtype INTO typ
			  FROM pg_catalog.pg_attribute a
			 WHERE a.attrelid = rule.table_name AND a.attname = col AND a.attnum > 0 AND NOT a.attisdropped;
			IF NOT FOUND THEN
				RAISE EXCEPTION 'column "%" of retention rule "%" does not exist in table %', col, rule.name, rule.table_name
					USING ERRCODE = 'undefined_column',
						  HINT = 'Apply a policy document that matches the table.';
			END IF;
			-- IPv4 addresses keep their /24 network, IPv6 addresses their /48.
			IF typ = 'privacy.ip_address'::pg_catalog.regtype THEN
				new_value := pg_catalog.format(
					'privacy.truncate_ip(t.%1$I, CASE WHEN pg_catalog.family(t.%1$I) OPERATOR(pg_catalog.=) 4 THEN 24 ELSE 48 END)', col);
			ELSIF typ = 'inet'::pg_catalog.regtype THEN
				new_value := pg_catalog.format(
					'pg_catalog.network(pg_catalog.set_masklen(t.%1$I, CASE WHEN pg_catalog.family(t.%1$I) OPERATOR(pg_catalog.=) 4 THEN 24 ELSE 48 END))::pg_catalog.inet', col);
			ELSE
				RAISE EXCEPTION 'retention rule "%" cannot truncate column "%" of table %: it is of type %, not an IP address',
					rule.name, col, rule.table_name, typ
					USING ERRCODE = 'datatype_mismatch',
						  HINT = 'truncate_ip applies to columns of type privacy.ip_address or inet; use anonymize for other columns.';
			END IF;
			sets := sets || pg_catalog.format('%I = %s', col, new_value);
			todos := todos || pg_catalog.format('t.%I::text IS DISTINCT FROM (%s)::text', col, new_value);
		END IF;
	END LOOP;
	todo := '(' || pg_catalog.array_to_string(todos, ' OR ') || ')';
	action := pg_catalog.format('UPDATE %s t SET %s', privacy._qualified_name(rule.table_name),
								pg_catalog.array_to_string(sets, ', '));
END
$$;
REVOKE ALL ON FUNCTION privacy._retention_rule_sql(privacy.retention_rules) FROM PUBLIC;
COMMENT ON FUNCTION privacy._retention_rule_sql(privacy.retention_rules) IS
'The SQL that enforces a retention rule: the anchor''s type, the condition for rows still to change, and the statement changing them';

------------------------------------------------------------------------------
-- Guard triggers: rows under a legal minimum (C, src/retention_trigger.c)
------------------------------------------------------------------------------

CREATE FUNCTION privacy._retention_guard()
RETURNS trigger
AS 'MODULE_PATHNAME', 'privacy_retention_guard'
LANGUAGE C;
REVOKE ALL ON FUNCTION privacy._retention_guard() FROM PUBLIC;
COMMENT ON FUNCTION privacy._retention_guard() IS
'Trigger: refuses to delete rows, change their personal columns or move their anchor earlier before the legal minimum of their retention rule ends';

CREATE FUNCTION privacy._allow_protected_changes()
RETURNS void
AS 'MODULE_PATHNAME', 'privacy_allow_protected_changes'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
REVOKE ALL ON FUNCTION privacy._allow_protected_changes() FROM PUBLIC;
COMMENT ON FUNCTION privacy._allow_protected_changes() IS
'Lets the rest of the current transaction anonymise the columns that anonymize and truncate_ip rules name in rows still under a legal minimum (for the extension''s erasure paths only)';

-- The arguments of the guard trigger of a table (see retention_trigger.c):
-- per rule with a minimum, its name, anchor, minimum, minimum_from, the
-- financial year end, the columns its action may change early, and the
-- table's personal columns. NULL if no rule of the table has a minimum.
CREATE FUNCTION privacy._retention_guard_args(rel regclass)
RETURNS text[]
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	WITH personal AS (
		SELECT ARRAY(SELECT cc.column_name::text FROM privacy.classified_columns cc
					  WHERE cc.table_name = rel ORDER BY cc.column_name) AS cols
	)
	SELECT pg_catalog.array_agg(arg ORDER BY rr.name, ord)
	  FROM privacy.retention_rules rr, personal p,
		   LATERAL pg_catalog.unnest(
			ARRAY[rr.name, rr.anchor::text, rr.minimum, rr.minimum_from, privacy._financial_year_end(),
				  CASE WHEN rr.action = 'delete' THEN '0' ELSE pg_catalog.cardinality(rr.columns)::text END]
			|| CASE WHEN rr.action = 'delete' THEN '{}'::text[] ELSE rr.columns::text[] END
			|| pg_catalog.cardinality(p.cols)::text
			|| p.cols) WITH ORDINALITY AS a(arg, ord)
	 WHERE rr.table_name = rel AND rr.minimum IS NOT NULL;
END;
REVOKE ALL ON FUNCTION privacy._retention_guard_args(regclass) FROM PUBLIC;
COMMENT ON FUNCTION privacy._retention_guard_args(regclass) IS
'The arguments the guard trigger of a table must have for the rules and classifications in force';

-- Trigger arguments as pg_trigger.tgargs stores them.
CREATE FUNCTION privacy._trigger_args_bytea(args text[])
RETURNS bytea
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT COALESCE(pg_catalog.string_agg(pg_catalog.convert_to(a, pg_catalog.getdatabaseencoding())
										  OPERATOR(pg_catalog.||) '\x00'::bytea, ''::bytea ORDER BY o), ''::bytea)
	  FROM pg_catalog.unnest(args) WITH ORDINALITY AS u(a, o);
END;
REVOKE ALL ON FUNCTION privacy._trigger_args_bytea(text[]) FROM PUBLIC;
COMMENT ON FUNCTION privacy._trigger_args_bytea(text[]) IS
'Trigger arguments in the form of pg_trigger.tgargs';

-- Guard triggers as installed, and as the rules in force want them.
CREATE VIEW privacy._retention_guards AS
WITH installed AS (
	SELECT tg.tgrelid::regclass AS table_name, tg.tgargs
	  FROM pg_catalog.pg_trigger tg
	 WHERE tg.tgfoid = 'privacy._retention_guard()'::pg_catalog.regprocedure
	   AND tg.tgname = 'privacy_retention_guard'
), wanted AS (
	SELECT DISTINCT rr.table_name FROM privacy.retention_rules rr WHERE rr.minimum IS NOT NULL
)
SELECT COALESCE(w.table_name, i.table_name) AS table_name,
	   w.table_name IS NOT NULL AS wanted,
	   i.table_name IS NOT NULL AS installed,
	   w.table_name IS NOT NULL AND i.table_name IS NOT NULL
		 AND i.tgargs = privacy._trigger_args_bytea(privacy._retention_guard_args(w.table_name))
		 AND EXISTS (SELECT FROM pg_catalog.pg_trigger t2
					  WHERE t2.tgrelid = w.table_name AND t2.tgname = 'privacy_retention_guard_truncate'
						AND t2.tgfoid = 'privacy._retention_guard()'::pg_catalog.regprocedure
						AND t2.tgargs = i.tgargs) AS current
  FROM wanted w
  FULL JOIN installed i ON i.table_name = w.table_name;
REVOKE ALL ON privacy._retention_guards FROM PUBLIC;
COMMENT ON VIEW privacy._retention_guards IS
'Tables whose rules have a legal minimum, and whether their guard triggers are installed and current';

CREATE FUNCTION privacy.install_retention_triggers()
RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	g record;
	rr privacy.retention_rules;
	args text;
	installed text[] := '{}';
	removed text[] := '{}';
	unchanged text[] := '{}';
BEGIN
	-- Every rule must be enforceable before any trigger changes.
	FOR rr IN SELECT * FROM privacy.retention_rules ORDER BY name LOOP
		PERFORM privacy._retention_rule_sql(rr);
	END LOOP;

	FOR g IN SELECT * FROM privacy._retention_guards ORDER BY table_name::text LOOP
		IF g.current THEN
			unchanged := unchanged || privacy._qualified_name(g.table_name);
			CONTINUE;
		END IF;
		IF g.installed THEN
			EXECUTE pg_catalog.format('DROP TRIGGER privacy_retention_guard ON %s', g.table_name);
		END IF;
		IF EXISTS (SELECT FROM pg_catalog.pg_trigger t
					WHERE t.tgrelid = g.table_name AND t.tgname = 'privacy_retention_guard_truncate') THEN
			EXECUTE pg_catalog.format('DROP TRIGGER privacy_retention_guard_truncate ON %s', g.table_name);
		END IF;
		IF NOT g.wanted THEN
			removed := removed || privacy._qualified_name(g.table_name);
			CONTINUE;
		END IF;
		SELECT pg_catalog.string_agg(pg_catalog.quote_literal(a), ', ' ORDER BY o) INTO args
		  FROM pg_catalog.unnest(privacy._retention_guard_args(g.table_name)) WITH ORDINALITY AS u(a, o);
		EXECUTE pg_catalog.format(
			'CREATE TRIGGER privacy_retention_guard BEFORE UPDATE OR DELETE ON %s FOR EACH ROW EXECUTE FUNCTION privacy._retention_guard(%s)',
			g.table_name, args);
		EXECUTE pg_catalog.format(
			'CREATE TRIGGER privacy_retention_guard_truncate BEFORE TRUNCATE ON %s FOR EACH STATEMENT EXECUTE FUNCTION privacy._retention_guard(%s)',
			g.table_name, args);
		installed := installed || privacy._qualified_name(g.table_name);
	END LOOP;

	IF pg_catalog.cardinality(installed) > 0 OR pg_catalog.cardinality(removed) > 0 THEN
		PERFORM privacy._audit(SESSION_USER, 'retention.triggers', NULL, NULL, NULL,
							   pg_catalog.jsonb_build_object('installed', installed, 'removed', removed));
	END IF;
	RETURN pg_catalog.jsonb_build_object('installed', installed, 'removed', removed, 'unchanged', unchanged);
END
$$;
REVOKE ALL ON FUNCTION privacy.install_retention_triggers() FROM PUBLIC;
COMMENT ON FUNCTION privacy.install_retention_triggers() IS
'Installs, updates or removes the guard triggers of tables whose retention rules have a legal minimum; run after every policy or classification change; returns what it did';

------------------------------------------------------------------------------
-- Legal holds
------------------------------------------------------------------------------

CREATE TABLE privacy.legal_holds (
	id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
	kind text,
	subject text,
	table_name regclass,
	reason text NOT NULL CHECK (reason <> ''),
	reference text NOT NULL CHECK (reference <> ''),
	placed_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
	placed_by name NOT NULL DEFAULT SESSION_USER,
	released_at timestamptz,
	released_by name,
	release_reason text,
	CHECK ((kind IS NOT NULL AND subject IS NOT NULL AND table_name IS NULL)
		   OR (kind IS NULL AND subject IS NULL AND table_name IS NOT NULL)),
	CHECK ((released_at IS NULL) = (released_by IS NULL))
);
CREATE UNIQUE INDEX legal_holds_active_subject ON privacy.legal_holds (kind, subject, reference)
	WHERE released_at IS NULL AND kind IS NOT NULL;
CREATE UNIQUE INDEX legal_holds_active_table ON privacy.legal_holds (table_name, reference)
	WHERE released_at IS NULL AND table_name IS NOT NULL;
REVOKE ALL ON privacy.legal_holds FROM PUBLIC;
COMMENT ON TABLE privacy.legal_holds IS
'Legal holds on a data subject or a whole table: held rows are kept by the retention job and by erasure until the hold is released';
SELECT pg_catalog.pg_extension_config_dump('privacy.legal_holds', '');
SELECT pg_catalog.pg_extension_config_dump('privacy.legal_holds_id_seq', '');

CREATE FUNCTION privacy.place_hold(kind text, subject text, reason text, reference text)
RETURNS bigint
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	k privacy.subject_kinds;
	key_type text;
	found_subject boolean;
	hold_id bigint;
BEGIN
	SELECT * INTO k FROM privacy.subject_kinds sk WHERE sk.name = kind;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'unrecognized subject kind "%"', kind
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Subject kinds are declared by the policy document; privacy.subject_kinds lists them.';
	END IF;
	IF reason = '' OR reference = '' THEN
		RAISE EXCEPTION 'a legal hold needs a reason and a reference'
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Give the reason for the hold and the reference of the case or order behind it.';
	END IF;
	SELECT pg_catalog.format_type(a.atttypid, a.atttypmod) INTO key_type
	  FROM pg_catalog.pg_attribute a
	 WHERE a.attrelid = k.table_name AND a.attname = k.key_column AND NOT a.attisdropped;
	BEGIN
		EXECUTE pg_catalog.format('SELECT EXISTS (SELECT FROM %s t WHERE t.%I OPERATOR(pg_catalog.=) $1::%s)',
								  privacy._qualified_name(k.table_name), k.key_column, key_type)
		   INTO found_subject USING subject;
	EXCEPTION WHEN data_exception THEN
		found_subject := false;
	END;
	IF NOT found_subject THEN
		RAISE EXCEPTION 'subject "%" of kind "%" does not exist', subject, kind
			USING ERRCODE = 'no_data_found',
				  HINT = pg_catalog.format('A hold names a subject by the value of %s.%I.', k.table_name, k.key_column);
	END IF;
	INSERT INTO privacy.legal_holds (kind, subject, reason, reference)
	VALUES (kind, subject, reason, reference)
	RETURNING id INTO hold_id;
	PERFORM privacy._audit(SESSION_USER, 'retention.hold.place', kind, subject, NULL,
						   pg_catalog.jsonb_build_object('hold_id', hold_id, 'reference', reference));
	RETURN hold_id;
EXCEPTION WHEN unique_violation THEN
	RAISE EXCEPTION 'subject "%" of kind "%" is already held under reference "%"', subject, kind, reference
		USING ERRCODE = 'duplicate_object',
			  HINT = 'privacy.legal_holds lists the holds in force.';
END
$$;
REVOKE ALL ON FUNCTION privacy.place_hold(text, text, text, text) FROM PUBLIC;
COMMENT ON FUNCTION privacy.place_hold(text, text, text, text) IS
'Places a legal hold on a data subject: the retention job and erasure keep all of its rows until the hold is released; returns the hold''s id';

CREATE FUNCTION privacy.place_hold(rel regclass, reason text, reference text)
RETURNS bigint
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	hold_id bigint;
BEGIN
	IF rel IS NULL OR reason IS NULL OR reference IS NULL THEN
		RAISE EXCEPTION 'table, reason and reference must not be null' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF reason = '' OR reference = '' THEN
		RAISE EXCEPTION 'a legal hold needs a reason and a reference'
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Give the reason for the hold and the reference of the case or order behind it.';
	END IF;
	IF NOT EXISTS (SELECT FROM pg_catalog.pg_class c WHERE c.oid = rel AND c.relkind IN ('r', 'p')) THEN
		RAISE EXCEPTION '% is not a table', rel
			USING ERRCODE = 'wrong_object_type';
	END IF;
	INSERT INTO privacy.legal_holds (table_name, reason, reference)
	VALUES (rel, reason, reference)
	RETURNING id INTO hold_id;
	PERFORM privacy._audit(SESSION_USER, 'retention.hold.place', NULL, NULL, NULL,
						   pg_catalog.jsonb_build_object('hold_id', hold_id, 'table', privacy._qualified_name(rel),
														 'reference', reference));
	RETURN hold_id;
EXCEPTION WHEN unique_violation THEN
	RAISE EXCEPTION 'table % is already held under reference "%"', rel, reference
		USING ERRCODE = 'duplicate_object',
			  HINT = 'privacy.legal_holds lists the holds in force.';
END
$$;
REVOKE ALL ON FUNCTION privacy.place_hold(regclass, text, text) FROM PUBLIC;
COMMENT ON FUNCTION privacy.place_hold(regclass, text, text) IS
'Places a legal hold on a whole table: the retention job and erasure keep all of its rows until the hold is released; returns the hold''s id';

CREATE FUNCTION privacy.release_hold(hold_id bigint, reason text)
RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	h privacy.legal_holds;
BEGIN
	IF hold_id IS NULL OR reason IS NULL THEN
		RAISE EXCEPTION 'hold id and reason must not be null' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	SELECT * INTO h FROM privacy.legal_holds lh WHERE lh.id = hold_id FOR UPDATE;
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
	IF reason = '' THEN
		RAISE EXCEPTION 'releasing a legal hold needs a reason'
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Say why the hold ends, for example that the case was closed.';
	END IF;
	UPDATE privacy.legal_holds lh
	   SET released_at = pg_catalog.now(), released_by = SESSION_USER, release_reason = release_hold.reason
	 WHERE lh.id = hold_id;
	PERFORM privacy._audit(SESSION_USER, 'retention.hold.release', h.kind, h.subject, NULL,
						   pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object(
							'hold_id', h.id, 'table', privacy._qualified_name(h.table_name),
							'reference', h.reference)));
END
$$;
REVOKE ALL ON FUNCTION privacy.release_hold(bigint, text) FROM PUBLIC;
COMMENT ON FUNCTION privacy.release_hold(bigint, text) IS
'Releases a legal hold, with the reason; the rows it kept are processed by the next retention run';

CREATE FUNCTION privacy._hold_reference(kind text, subject text, rel regclass)
RETURNS text
LANGUAGE sql STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT h.reference
	  FROM privacy.legal_holds h
	 WHERE h.released_at IS NULL
	   AND (h.table_name = $3 OR (h.kind = $1 AND h.subject = $2))
	 ORDER BY h.table_name IS NULL, h.placed_at, h.id
	 LIMIT 1;
END;
REVOKE ALL ON FUNCTION privacy._hold_reference(text, text, regclass) FROM PUBLIC;
COMMENT ON FUNCTION privacy._hold_reference(text, text, regclass) IS
'The reference of a legal hold in force on this subject or this table (a table hold first), or NULL';

-- A condition true for rows of rel (aliased t) under a legal hold on their
-- subject ('false' if none is); NULL if the whole table is held, or if a
-- held subject kind reaches the table by more than one path, so that which
-- rows are held cannot be told (the table is then kept whole).
CREATE FUNCTION privacy._retention_held_sql(rel regclass)
RETURNS text
LANGUAGE plpgsql STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	held record;
	path_status text;
	conditions text[] := '{}';
BEGIN
	IF EXISTS (SELECT FROM privacy.legal_holds h WHERE h.released_at IS NULL AND h.table_name = rel) THEN
		RETURN NULL;
	END IF;
	FOR held IN
		SELECT h.kind, pg_catalog.array_agg(DISTINCT h.subject) AS subjects
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
		conditions := conditions || pg_catalog.format('(%s)::text OPERATOR(pg_catalog.=) ANY (%L::text[])',
													  privacy._subject_key_sql(held.kind, rel, 't'), held.subjects);
	END LOOP;
	IF pg_catalog.cardinality(conditions) = 0 THEN
		RETURN 'false';
	END IF;
	RETURN 'COALESCE(' || pg_catalog.array_to_string(conditions, ' OR ') || ', false)';
END
$$;
REVOKE ALL ON FUNCTION privacy._retention_held_sql(regclass) FROM PUBLIC;
COMMENT ON FUNCTION privacy._retention_held_sql(regclass) IS
'A condition on rows of a table (alias t) true for rows under a legal hold on their subject; NULL if the whole table is held';

-- Makes holds placed from now on wait for the current transaction, and
-- returns the held-rows condition of rel as privacy._retention_held_sql()
-- does: each retention batch calls it first, so a hold never misses a batch
-- that read the holds before it was placed.
CREATE FUNCTION privacy._retention_lock_holds(rel regclass)
RETURNS text
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	LOCK TABLE privacy.legal_holds IN SHARE MODE;
	RETURN privacy._retention_held_sql(rel);
END
$$;
REVOKE ALL ON FUNCTION privacy._retention_lock_holds(regclass) FROM PUBLIC;
COMMENT ON FUNCTION privacy._retention_lock_holds(regclass) IS
'Locks the legal holds against new holds until the end of the transaction and returns the condition for a table''s held rows (called by each retention batch)';

------------------------------------------------------------------------------
-- Retention runs: state, progress and history
------------------------------------------------------------------------------

CREATE TABLE privacy.retention_runs (
	id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
	started_at timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
	finished_at timestamptz,
	status text NOT NULL DEFAULT 'running'
		CHECK (status IN ('running', 'finished', 'time_budget', 'interrupted')),
	started_by name NOT NULL DEFAULT SESSION_USER,
	pid integer NOT NULL DEFAULT pg_catalog.pg_backend_pid(),
	backend_start timestamptz,
	batch_size integer NOT NULL,
	time_budget interval NOT NULL,
	rows_due bigint NOT NULL DEFAULT 0,
	rows_done bigint NOT NULL DEFAULT 0,
	batches integer NOT NULL DEFAULT 0,
	rules jsonb NOT NULL DEFAULT '{}'
);
REVOKE ALL ON privacy.retention_runs FROM PUBLIC;
GRANT SELECT ON privacy.retention_runs TO PUBLIC;
COMMENT ON TABLE privacy.retention_runs IS
'Every run of privacy.enforce_retention(): its progress while it runs (updated by each committed batch) and what it did, per rule';
SELECT pg_catalog.pg_extension_config_dump('privacy.retention_runs', '');
SELECT pg_catalog.pg_extension_config_dump('privacy.retention_runs_id_seq', '');

-- The rules in the order the job takes them: rules of tables that reference
-- other ruled tables first (children before parents), and within a table
-- anonymisation before deletion.
CREATE FUNCTION privacy._retention_order()
RETURNS TABLE (rule_name text, table_name regclass, height integer)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	WITH RECURSIVE down(rel, start, depth, visited) AS (
		SELECT DISTINCT rr.table_name::oid, rr.table_name::oid, 0, ARRAY[rr.table_name::oid]
		  FROM privacy.retention_rules rr
		UNION ALL
		SELECT c.conrelid, d.start, d.depth + 1, d.visited || c.conrelid
		  FROM down d
		  JOIN pg_catalog.pg_constraint c ON c.contype = 'f' AND c.confrelid = d.rel
		 WHERE c.conrelid <> ALL (d.visited) AND d.depth < 8
	), heights AS (
		SELECT d.start, pg_catalog.max(d.depth) AS height FROM down d GROUP BY d.start
	)
	SELECT rr.name, rr.table_name, h.height::integer
	  FROM privacy.retention_rules rr
	  JOIN heights h ON h.start = rr.table_name::oid
	 ORDER BY h.height, rr.table_name::oid, rr.action = 'delete', rr.name;
END;
REVOKE ALL ON FUNCTION privacy._retention_order() FROM PUBLIC;
COMMENT ON FUNCTION privacy._retention_order() IS
'Retention rules in the order the job processes them: children before the tables they reference';

-- Counts of one rule's rows at a time: due (including held ones), the
-- oldest due anchor, and how many of the due rows are held.
CREATE FUNCTION privacy._retention_counts(rule privacy.retention_rules, at timestamptz,
										  OUT rows_due bigint, OUT oldest_due timestamptz,
										  OUT rows_held bigint)
RETURNS record
LANGUAGE plpgsql STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	s record := privacy._retention_rule_sql(rule);
	held text := privacy._retention_held_sql(rule.table_name);
BEGIN
	EXECUTE pg_catalog.format(
		'SELECT pg_catalog.count(*), pg_catalog.min(t.%1$I)::timestamptz, pg_catalog.count(*) FILTER (WHERE %5$s)
		   FROM %2$s t WHERE t.%1$I OPERATOR(pg_catalog.<=) $1::%3$s AND %4$s',
		rule.anchor, privacy._qualified_name(rule.table_name), s.anchor_type, s.todo, COALESCE(held, 'true'))
	   INTO rows_due, oldest_due, rows_held
	  USING privacy._retention_rule_cutoff(rule, at);
END
$$;
REVOKE ALL ON FUNCTION privacy._retention_counts(privacy.retention_rules, timestamptz) FROM PUBLIC;
COMMENT ON FUNCTION privacy._retention_counts(privacy.retention_rules, timestamptz) IS
'How many rows of a rule are due at a time, the oldest due anchor, and how many due rows are under a legal hold';

-- Audits a run that has ended (or was found interrupted).
CREATE FUNCTION privacy._retention_audit_run(run privacy.retention_runs)
RETURNS void
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT privacy._audit(run.started_by, 'retention.run', NULL, NULL, NULL,
						  pg_catalog.jsonb_build_object('run_id', run.id, 'status', run.status,
														'started_at', run.started_at, 'finished_at', run.finished_at,
														'rows_due', run.rows_due, 'rows_done', run.rows_done,
														'batches', run.batches, 'rules', run.rules));
END;
REVOKE ALL ON FUNCTION privacy._retention_audit_run(privacy.retention_runs) FROM PUBLIC;
COMMENT ON FUNCTION privacy._retention_audit_run(privacy.retention_runs) IS
'Writes the summary of a retention run to the audit log';

-- Starts a run: marks runs whose backend is gone as interrupted (and audits
-- them), records the new run with the rules it will process and how many
-- rows each has due, and returns the run's id.
CREATE FUNCTION privacy._retention_run_start(batch_size integer, time_budget interval)
RETURNS bigint
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	stale privacy.retention_runs;
	rr privacy.retention_rules;
	counts record;
	rules jsonb := '{}';
	total bigint := 0;
	run_id bigint;
BEGIN
	FOR stale IN
		UPDATE privacy.retention_runs r
		   SET status = 'interrupted', finished_at = pg_catalog.clock_timestamp()
		 WHERE r.status = 'running'
		   AND NOT EXISTS (SELECT FROM pg_catalog.pg_stat_activity a
							WHERE a.pid = r.pid AND a.backend_start IS NOT DISTINCT FROM r.backend_start)
		RETURNING r.*
	LOOP
		PERFORM privacy._retention_audit_run(stale);
	END LOOP;

	FOR rr IN
		SELECT r.* FROM privacy._retention_order() o
		  JOIN privacy.retention_rules r ON r.name = o.rule_name
	LOOP
		counts := privacy._retention_counts(rr, pg_catalog.now());
		rules := rules || pg_catalog.jsonb_build_object(rr.name, pg_catalog.jsonb_build_object(
			'table', privacy._qualified_name(rr.table_name), 'action', rr.action,
			'due', counts.rows_due - counts.rows_held, 'done', 0, 'held', counts.rows_held,
			'blocked', 0, 'status', 'pending'));
		total := total + counts.rows_due - counts.rows_held;
	END LOOP;

	INSERT INTO privacy.retention_runs (backend_start, batch_size, time_budget, rows_due, rules)
	SELECT a.backend_start, batch_size, time_budget, total, rules
	  FROM pg_catalog.pg_stat_activity a WHERE a.pid = pg_catalog.pg_backend_pid()
	RETURNING id INTO run_id;
	RETURN run_id;
END
$$;
REVOKE ALL ON FUNCTION privacy._retention_run_start(integer, interval) FROM PUBLIC;
COMMENT ON FUNCTION privacy._retention_run_start(integer, interval) IS
'Records the start of a retention run and what is due; marks runs whose backend is gone as interrupted';

-- Records one committed batch of a run (in the batch's transaction, so the
-- run's counters are exactly the work committed).
CREATE FUNCTION privacy._retention_run_progress(run_id bigint, rule_name text, done bigint,
												blocked bigint, rule_status text)
RETURNS void
LANGUAGE sql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	UPDATE privacy.retention_runs r
	   SET rows_done = r.rows_done + done,
		   batches = r.batches + 1,
		   rules = pg_catalog.jsonb_set(r.rules, ARRAY[rule_name],
				(r.rules -> rule_name) || pg_catalog.jsonb_build_object(
					'done', ((r.rules -> rule_name ->> 'done')::bigint + done),
					'blocked', ((r.rules -> rule_name ->> 'blocked')::bigint + blocked),
					'status', rule_status))
	 WHERE r.id = run_id;
END;
REVOKE ALL ON FUNCTION privacy._retention_run_progress(bigint, text, bigint, bigint, text) FROM PUBLIC;
COMMENT ON FUNCTION privacy._retention_run_progress(bigint, text, bigint, bigint, text) IS
'Adds one committed batch to the progress of a retention run';

-- Sets the status of one rule in a run without counting a batch.
CREATE FUNCTION privacy._retention_run_rule_status(run_id bigint, rule_name text, rule_status text)
RETURNS void
LANGUAGE sql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	UPDATE privacy.retention_runs r
	   SET rules = pg_catalog.jsonb_set(r.rules, ARRAY[rule_name, 'status'], pg_catalog.to_jsonb(rule_status))
	 WHERE r.id = run_id;
END;
REVOKE ALL ON FUNCTION privacy._retention_run_rule_status(bigint, text, text) FROM PUBLIC;
COMMENT ON FUNCTION privacy._retention_run_rule_status(bigint, text, text) IS
'Sets the state of one rule in a retention run (running, done, held, time_budget)';

-- Ends a run and writes its summary to the audit log.
CREATE FUNCTION privacy._retention_run_finish(run_id bigint, run_status text)
RETURNS privacy.retention_runs
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	run privacy.retention_runs;
BEGIN
	UPDATE privacy.retention_runs r
	   SET status = run_status, finished_at = pg_catalog.clock_timestamp()
	 WHERE r.id = run_id
	RETURNING r.* INTO STRICT run;
	PERFORM privacy._retention_audit_run(run);
	RETURN run;
END
$$;
REVOKE ALL ON FUNCTION privacy._retention_run_finish(bigint, text) FROM PUBLIC;
COMMENT ON FUNCTION privacy._retention_run_finish(bigint, text) IS
'Records the end of a retention run and audits its summary';

CREATE VIEW privacy.retention_progress AS
SELECT r.id AS run_id, r.started_at, r.started_by, r.pid,
	   r.rows_done, r.rows_due,
	   CASE WHEN r.rows_due > 0
			THEN pg_catalog.round(100.0 * r.rows_done / r.rows_due, 1) END AS percent_done,
	   r.batches,
	   (SELECT pg_catalog.string_agg(e.key, ', ') FROM pg_catalog.jsonb_each(r.rules) e
		 WHERE e.value ->> 'status' = 'running') AS current_rule,
	   pg_catalog.clock_timestamp() - r.started_at AS elapsed
  FROM privacy.retention_runs r
 WHERE r.status = 'running';
REVOKE ALL ON privacy.retention_progress FROM PUBLIC;
GRANT SELECT ON privacy.retention_progress TO PUBLIC;
COMMENT ON VIEW privacy.retention_progress IS
'Retention runs in progress: rows done of rows due so far (each committed batch counts), like a pg_stat_progress view';

------------------------------------------------------------------------------
-- The retention job
------------------------------------------------------------------------------

CREATE FUNCTION privacy._retention_require_own_transactions()
RETURNS void
AS 'MODULE_PATHNAME', 'privacy_retention_require_own_transactions'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
REVOKE ALL ON FUNCTION privacy._retention_require_own_transactions() FROM PUBLIC;
COMMENT ON FUNCTION privacy._retention_require_own_transactions() IS
'Raises an error inside a transaction block, where the retention job could not commit its batches';

-- A procedure, so that it can commit after each batch: it is therefore
-- SECURITY INVOKER without a SET clause (PostgreSQL allows transaction
-- control only there). Its helpers are SECURITY DEFINER, and the SQL it
-- builds qualifies every name and operator, so it does not depend on the
-- caller's search_path; triggers of the users' tables run under it as they
-- would for any other statement of the caller.
--
-- Each batch takes the next batch_size due rows of one rule in anchor order
-- (a keyset on the anchor, so each batch starts in the anchor's index where
-- the last one stopped), acts on them, records its progress in the same
-- transaction, and commits: a crash or a cancel loses at most the batch in
-- flight, which the next run does again from the rows themselves.
--
-- Usually a batch is one range statement, "DELETE (or UPDATE) ... WHERE the
-- anchor is between the last batch's end and this one's", the end being
-- the anchor of the batch_size-th due row (read from the index), so the
-- batch costs what a plain DELETE of its rows costs. It waits at most
-- 100 ms (lock_timeout) for a row another session holds; it is then undone
-- and the batch takes only the rows that are free (FOR UPDATE SKIP LOCKED,
-- batch_size of them), leaving the others to a later batch or run, so two
-- runs share the work without processing a row twice and without
-- deadlocks. The same careful path takes a batch whose rows all share one
-- anchor value (a range would not bound it), and acts row by row when a
-- row is still referenced by rows no rule removes (reported as blocked).
CREATE PROCEDURE privacy.enforce_retention(batch_size integer DEFAULT 5000,
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
	run privacy.retention_runs;
BEGIN
	PERFORM privacy._retention_require_own_transactions();
	IF batch_size IS NULL OR batch_size OPERATOR(pg_catalog.<) 1 THEN
		RAISE EXCEPTION 'batch_size must be a positive number of rows'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF time_budget IS NULL OR time_budget OPERATOR(pg_catalog.<=) '0'::interval THEN
		RAISE EXCEPTION 'time_budget must be a positive interval'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	stop_at := pg_catalog.clock_timestamp() OPERATOR(pg_catalog.+) time_budget;
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
			BEGIN
				-- The window: the anchors of the next batch_size such rows,
				-- from the index. The range statement acts on every row up
				-- to the window's last anchor, unless the whole window has
				-- one anchor value (a range would not bound the batch).
				EXECUTE pg_catalog.format(
					'WITH w AS MATERIALIZED (
					   SELECT pg_catalog.min(x.a) AS first_a, pg_catalog.max(x.a) AS last_a,
							  pg_catalog.count(*)::integer AS n
						 FROM (SELECT t.%3$s AS a FROM %4$s t WHERE %2$s ORDER BY t.%3$s LIMIT $3) x),
					 d AS (%1$s WHERE %2$s AND t.%3$s OPERATOR(pg_catalog.<=) (SELECT w.last_a FROM w)%5$s%6$s
							 AND (SELECT w.n OPERATOR(pg_catalog.<) $3 OR w.first_a OPERATOR(pg_catalog.<>) w.last_a FROM w)
						   RETURNING 1)
					 SELECT w.first_a::text, w.last_a::text, w.n, (SELECT pg_catalog.count(*) FROM d) FROM w',
					s.action, due_sql, anchor_col, rel,
					CASE WHEN held OPERATOR(pg_catalog.=) 'false' THEN '' ELSE ' AND NOT ' OPERATOR(pg_catalog.||) held END,
					CASE WHEN pg_catalog.cardinality(excluded) OPERATOR(pg_catalog.=) 0 THEN ''
						 ELSE ' AND t.ctid OPERATOR(pg_catalog.<>) ALL ($4)' END)
				   INTO window_first, window_last, window_rows, done
				  USING cutoff, last_anchor, batch_size, excluded;
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
REVOKE ALL ON PROCEDURE privacy.enforce_retention(integer, interval) FROM PUBLIC;
COMMENT ON PROCEDURE privacy.enforce_retention(integer, interval) IS
'The retention job: deletes, anonymises or truncates due rows in batches of batch_size, one short transaction each (FOR UPDATE SKIP LOCKED), children before parents, skipping held rows, until done or time_budget is used; resumable; audited';

------------------------------------------------------------------------------
-- Status
------------------------------------------------------------------------------

CREATE FUNCTION privacy._retention_status()
RETURNS TABLE (rule text, table_name regclass, action text, period text, minimum text,
			   due_through timestamptz, rows_due bigint, oldest_due timestamptz,
			   rows_held bigint, table_hold text, guarded boolean, last_run_id bigint,
			   last_run_at timestamptz, last_run_status text, last_run_done bigint,
			   last_run_blocked bigint)
LANGUAGE plpgsql STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	rr privacy.retention_rules;
	counts record;
	last_run privacy.retention_runs;
BEGIN
	FOR rr IN SELECT * FROM privacy.retention_rules ORDER BY name LOOP
		counts := privacy._retention_counts(rr, pg_catalog.now());
		rule := rr.name;
		table_name := rr.table_name;
		action := rr.action;
		period := rr.period;
		minimum := rr.minimum;
		due_through := privacy._retention_rule_cutoff(rr, pg_catalog.now());
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
REVOKE ALL ON FUNCTION privacy._retention_status() FROM PUBLIC;
COMMENT ON FUNCTION privacy._retention_status() IS
'Per retention rule: what is due now, what is held, and what the last run did';

CREATE VIEW privacy.retention_status AS
SELECT * FROM privacy._retention_status();
REVOKE ALL ON privacy.retention_status FROM PUBLIC;
COMMENT ON VIEW privacy.retention_status IS
'Per retention rule: rows due now (held ones included) and the oldest due anchor, rows under a legal hold, whether the guard trigger is current, and the last run''s result for the rule';

------------------------------------------------------------------------------
-- Scheduling with pg_cron
------------------------------------------------------------------------------

-- Raises the error for pg_cron missing from this database.
CREATE FUNCTION privacy._require_pg_cron()
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF NOT EXISTS (SELECT FROM pg_catalog.pg_extension e WHERE e.extname = 'pg_cron') THEN
		RAISE EXCEPTION 'extension "pg_cron" is not installed in database "%"', pg_catalog.current_database()
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  DETAIL = 'The retention job is scheduled with pg_cron.',
				  HINT = pg_catalog.format('Add pg_cron to shared_preload_libraries, set cron.database_name = ''%s'', restart the server and run CREATE EXTENSION pg_cron; or call privacy.enforce_retention() from another scheduler.',
										   pg_catalog.current_database());
	END IF;
END
$$;
REVOKE ALL ON FUNCTION privacy._require_pg_cron() FROM PUBLIC;
COMMENT ON FUNCTION privacy._require_pg_cron() IS
'Raises an error with a hint when pg_cron is not installed in this database';

CREATE FUNCTION privacy.schedule_retention(schedule text DEFAULT '*/15 * * * *')
RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	job_id bigint;
BEGIN
	PERFORM privacy._require_pg_cron();
	EXECUTE 'SELECT cron.schedule($1, $2, $3)'
	   INTO job_id
	  USING 'opendims_privacy_retention', schedule, 'CALL privacy.enforce_retention()';
	PERFORM privacy._audit(SESSION_USER, 'retention.schedule', NULL, NULL, NULL,
						   pg_catalog.jsonb_build_object('job_id', job_id, 'schedule', schedule));
	RETURN job_id;
END
$$;
REVOKE ALL ON FUNCTION privacy.schedule_retention(text) FROM PUBLIC;
COMMENT ON FUNCTION privacy.schedule_retention(text) IS
'Registers the retention job with pg_cron as job "opendims_privacy_retention" (CALL privacy.enforce_retention()), run as the calling role; scheduling again changes the schedule; returns the job id';

CREATE FUNCTION privacy.unschedule_retention()
RETURNS boolean
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	job_id bigint;
BEGIN
	PERFORM privacy._require_pg_cron();
	EXECUTE 'SELECT j.jobid FROM cron.job j WHERE j.jobname OPERATOR(pg_catalog.=) $1 AND j.username OPERATOR(pg_catalog.=) CURRENT_USER'
	   INTO job_id USING 'opendims_privacy_retention';
	IF job_id IS NULL THEN
		RETURN false;
	END IF;
	EXECUTE 'SELECT cron.unschedule($1)' USING job_id;
	PERFORM privacy._audit(SESSION_USER, 'retention.unschedule', NULL, NULL, NULL,
						   pg_catalog.jsonb_build_object('job_id', job_id));
	RETURN true;
END
$$;
REVOKE ALL ON FUNCTION privacy.unschedule_retention() FROM PUBLIC;
COMMENT ON FUNCTION privacy.unschedule_retention() IS
'Removes the retention job from pg_cron; false if the calling role had not scheduled it';

------------------------------------------------------------------------------
-- lint
------------------------------------------------------------------------------

-- Rules that cannot be enforced, minimums without a current guard trigger,
-- anchors without an index.
CREATE FUNCTION privacy._lint_retention_enforcement()
RETURNS TABLE (severity text, object text, problem text, hint text)
LANGUAGE plpgsql STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	rr privacy.retention_rules;
BEGIN
	FOR rr IN SELECT * FROM privacy.retention_rules ORDER BY name LOOP
		IF NOT EXISTS (SELECT FROM pg_catalog.pg_class c WHERE c.oid = rr.table_name) THEN
			CONTINUE;
		END IF;
		BEGIN
			PERFORM privacy._retention_rule_sql(rr);
		EXCEPTION WHEN undefined_column THEN
			CONTINUE;	-- privacy._lint_catalog() reports it
		WHEN datatype_mismatch THEN
			severity := 'error';
			object := pg_catalog.format('retention rule "%s"', rr.name);
			problem := 'cannot be enforced: ' || SQLERRM;
			hint := 'Change the column or the rule; until then privacy.enforce_retention() fails on this rule.';
			RETURN NEXT;
			CONTINUE;
		END;
		IF rr.minimum IS NOT NULL AND NOT COALESCE(
				(SELECT g.current FROM privacy._retention_guards g WHERE g.table_name = rr.table_name), false) THEN
			severity := 'error';
			object := privacy._qualified_name(rr.table_name);
			problem := pg_catalog.format('retention rule "%s" has a legal minimum, but the table''s guard trigger is missing or out of date', rr.name);
			hint := 'Run SELECT privacy.install_retention_triggers(); after every policy or classification change.';
			RETURN NEXT;
		END IF;
		IF NOT EXISTS (SELECT FROM pg_catalog.pg_index i
						JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
					   WHERE i.indrelid = rr.table_name AND a.attname = rr.anchor
						 AND i.indisvalid AND i.indpred IS NULL) THEN
			severity := 'warning';
			object := pg_catalog.format('%s(%I)', privacy._qualified_name(rr.table_name), rr.anchor);
			problem := pg_catalog.format('anchor of retention rule "%s" has no index', rr.name);
			hint := pg_catalog.format('Each batch of the retention job scans the table: CREATE INDEX ON %s (%I);',
									  privacy._qualified_name(rr.table_name), rr.anchor);
			RETURN NEXT;
		END IF;
	END LOOP;
	-- (Holds name their subject kind without a foreign key, so that the
	-- history of released holds never pins a kind in the policy.)
	RETURN QUERY
		SELECT DISTINCT 'error', pg_catalog.format('legal hold %s', h.id),
			   pg_catalog.format('is in force on a subject of kind "%s", which the policy no longer declares', h.kind),
			   'The retention job cannot tell which rows the hold keeps: declare the subject kind again, or release the hold with privacy.release_hold().'
		  FROM privacy.legal_holds h
		 WHERE h.released_at IS NULL AND h.kind IS NOT NULL
		   AND NOT EXISTS (SELECT FROM privacy.subject_kinds k WHERE k.name = h.kind);
	RETURN QUERY
		SELECT 'warning', privacy._qualified_name(g.table_name),
			   'has a retention guard trigger that no rule with a legal minimum needs any more',
			   'Run SELECT privacy.install_retention_triggers(); after every policy or classification change.'
		  FROM privacy._retention_guards g
		 WHERE g.installed AND NOT g.wanted;
END
$$;
REVOKE ALL ON FUNCTION privacy._lint_retention_enforcement() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION privacy._lint_retention_enforcement() TO PUBLIC;
COMMENT ON FUNCTION privacy._lint_retention_enforcement() IS
'lint: retention rules that cannot be enforced, legal minimums without a current guard trigger, guard triggers no rule needs, anchors without an index, holds on subject kinds no longer declared';

-- A new policy version may add, change or drop rules with a legal minimum:
-- the guard triggers follow it in the same transaction, and a rule that
-- cannot be enforced makes the policy change fail.
CREATE FUNCTION privacy._install_retention_triggers_on_policy()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	PERFORM privacy.install_retention_triggers();
	RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION privacy._install_retention_triggers_on_policy() FROM PUBLIC;
COMMENT ON FUNCTION privacy._install_retention_triggers_on_policy() IS
'Trigger: installs the retention guard triggers for the policy version just applied';
CREATE TRIGGER install_retention_triggers AFTER INSERT ON privacy.policy_versions
	FOR EACH STATEMENT EXECUTE FUNCTION privacy._install_retention_triggers_on_policy();
