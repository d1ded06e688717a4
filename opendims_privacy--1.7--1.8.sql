/* opendims_privacy--1.7--1.8.sql: security release; what SQL the extension runs on anyone's behalf cannot be redirected by the caller, evidence cannot be forged or silently removed, and hidden or erased subjects stay out of reach. */

\echo Use "ALTER EXTENSION opendims_privacy UPDATE TO '1.8'" to load this file. \quit

-- While this script runs, names resolve in pg_catalog only (pg_temp last).
-- CREATE EXTENSION ... CASCADE puts the schema pgcrypto was created in
-- (public, usually) on the script's search_path; an operator, function or
-- type that another role planted there must never be bound into the
-- extension's objects nor run with the installing superuser's rights.
-- Everything the script creates is qualified with the schema privacy, and
-- CREATE and ALTER EXTENSION restore the caller's search_path afterwards.
SELECT pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', true);

------------------------------------------------------------------------------
-- An install that bound a planted object is refused
------------------------------------------------------------------------------

-- Before 1.8 the scripts resolved names through the install search_path, on
-- which CREATE EXTENSION ... CASCADE puts the schema pgcrypto went to
-- (public, usually). An operator or function that another role had created
-- there could be bound into the extension's functions, views, defaults or
-- policies, and run with the rights of the role installing or updating the
-- extension. Such an install is not updated: the bound objects are not known
-- in advance (they depend on what was planted), recreating a guessed list
-- would leave others in place, and the planted code has already run with
-- those rights, which the database's owner needs to know about. The update
-- stops, names what is bound, and says how to recover: dump and restore,
-- which installs 1.8 afresh, and nothing can be bound from 1.8 on.
--
-- The extension's objects are its members and what belongs to them (a
-- table's indexes, constraints, triggers, policies, defaults and row type;
-- a view's rule); each may depend only on objects made by initdb, on the
-- extension itself, its schema and its other objects.
DO $$
DECLARE
	bound text;
BEGIN
	WITH RECURSIVE ext AS (
		SELECT e.oid FROM pg_catalog.pg_extension e
		 WHERE e.extname OPERATOR(pg_catalog.=) 'opendims_privacy'
	), ours(classid, objid) AS (
		SELECT d.classid, d.objid
		  FROM pg_catalog.pg_depend d, ext
		 WHERE d.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_extension'::pg_catalog.regclass
		   AND d.refobjid OPERATOR(pg_catalog.=) ext.oid
		   AND d.deptype OPERATOR(pg_catalog.=) 'e'
		UNION
		SELECT d.classid, d.objid
		  FROM pg_catalog.pg_depend d
		  JOIN ours o ON d.refclassid OPERATOR(pg_catalog.=) o.classid
					 AND d.refobjid OPERATOR(pg_catalog.=) o.objid
		 WHERE d.deptype OPERATOR(pg_catalog.=) ANY ('{i,a}'::pg_catalog."char"[])
	)
	SELECT pg_catalog.string_agg(DISTINCT pg_catalog.format('%s (used by %s)',
				pg_catalog.pg_describe_object(d.refclassid, d.refobjid, 0),
				pg_catalog.pg_describe_object(d.classid, d.objid, 0)), '; ')
	  INTO bound
	  FROM pg_catalog.pg_depend d
	  JOIN ours o ON d.classid OPERATOR(pg_catalog.=) o.classid
				 AND d.objid OPERATOR(pg_catalog.=) o.objid
	 CROSS JOIN ext
	 WHERE d.refobjid OPERATOR(pg_catalog.>=) 16384::pg_catalog.oid
	   AND NOT (d.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_extension'::pg_catalog.regclass
				AND d.refobjid OPERATOR(pg_catalog.=) ext.oid)
	   AND NOT (d.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_namespace'::pg_catalog.regclass
				AND d.refobjid OPERATOR(pg_catalog.=) 'privacy'::pg_catalog.regnamespace)
	   AND NOT EXISTS (SELECT FROM ours o2
						WHERE o2.classid OPERATOR(pg_catalog.=) d.refclassid
						  AND o2.objid OPERATOR(pg_catalog.=) d.refobjid);
	IF bound IS NOT NULL THEN
		RAISE EXCEPTION 'cannot update extension "opendims_privacy": its objects use objects it did not create'
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  DETAIL = pg_catalog.format('Bound when an earlier version was installed or updated: %s. Whatever these objects run ran with the rights of the role that installed or updated the extension.', bound),
				  HINT = 'Find out who created these objects and what they did. Then dump the database with pg_dump and restore it into a new database: the restore installs the extension afresh, and from version 1.8 on no object outside pg_catalog is bound.';
	END IF;
END
$$;

------------------------------------------------------------------------------
-- Statements generated for the retention job name only pg_catalog's types
-- and operators
------------------------------------------------------------------------------

-- The retention job (privacy.enforce_retention) is a procedure run as the
-- calling role under the caller's search_path, so that the users' triggers
-- run as for any statement of the caller; the statements it builds must
-- therefore not depend on that search_path. The anchor's type is now
-- schema-qualified (it was "date", resolved through the caller's
-- search_path), and a column still to anonymise or truncate is found with
-- OPERATOR(pg_catalog.<>) and pg_catalog.text instead of IS DISTINCT FROM
-- and text, which resolve "=" and the type through it.
CREATE OR REPLACE FUNCTION privacy._retention_rule_sql(rule privacy.retention_rules,
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
	SELECT pg_catalog.format('%I.%I', n.nspname, t.typname) INTO anchor_type
	  FROM pg_catalog.pg_type t
	  JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) t.typnamespace
	 WHERE t.oid OPERATOR(pg_catalog.=) typ;

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
				todos := todos || pg_catalog.format('(t.%1$I IS NULL OR t.%1$I::pg_catalog.text OPERATOR(pg_catalog.<>) %2$L)',
													col, marker);
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
			todos := todos || pg_catalog.format('(t.%1$I IS NOT NULL AND t.%1$I::pg_catalog.text OPERATOR(pg_catalog.<>) (%2$s)::pg_catalog.text)',
												col, new_value);
		END IF;
	END LOOP;
	todo := '(' || pg_catalog.array_to_string(todos, ' OR ') || ')';
	action := pg_catalog.format('UPDATE %s t SET %s', privacy._qualified_name(rule.table_name),
								pg_catalog.array_to_string(sets, ', '));
END
$$;
COMMENT ON FUNCTION privacy._retention_rule_sql(privacy.retention_rules) IS
'The SQL that enforces a retention rule: the anchor''s type, the condition for rows still to change, and the statement changing them';

------------------------------------------------------------------------------
-- Protection along the whole subject path
--
-- A protected table finds its rows' subject by reading, under the querying
-- role's row security, the tables between it and the anchor (the path the
-- subject map gives). A path table without row policies let a role that
-- may update it move the protected rows of a hidden subject to a visible
-- one; so protect() now also protects every table on that path, the
-- anchor included, with the same row policies (registered with
-- path_only), unprotect() releases them once no protected table needs
-- them, and lint() reports a protected table whose path is open.
------------------------------------------------------------------------------

ALTER TABLE privacy.protected_tables ADD COLUMN path_only boolean NOT NULL DEFAULT false;
COMMENT ON COLUMN privacy.protected_tables.path_only IS
'Protected only because it is on the subject path of another protected table; released when no protected table''s path runs through it';

-- For each protected table and each subject kind its row check checks,
-- the tables on the path from it to the kind's anchor (path_table), each
-- with the rest of the path from there (hops) and the path the subject map
-- gives that table itself (path_table_hops, NULL if none or ambiguous):
-- the tables its subject key expression (privacy._subject_key_sql) reads,
-- and the anchor, which it may not read but whose rows a role could
-- otherwise re-key or delete, and with them (through ON UPDATE and ON
-- DELETE actions, which bypass row security) move or orphan the rows that
-- reference them. A kind whose path is ambiguous is left out
-- (privacy._subject_path reports it).
CREATE FUNCTION privacy._protected_paths()
RETURNS TABLE (table_name regclass, kind text, path_table regclass, hops oid[], path_table_hops oid[])
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	WITH p AS MATERIALIZED (SELECT * FROM privacy._subject_paths())
	SELECT p.table_name, p.kind, f.to_table, p.hops[h.ord OPERATOR(pg_catalog.+) 1:], own.hops
	  FROM p
	  JOIN privacy.protected_tables pt ON pt.table_name OPERATOR(pg_catalog.=) p.table_name
									  AND p.kind OPERATOR(pg_catalog.=) ANY (pt.kinds)
	 CROSS JOIN LATERAL pg_catalog.unnest(p.hops) WITH ORDINALITY AS h(oid, ord)
	  JOIN privacy.foreign_keys f ON f.constraint_oid OPERATOR(pg_catalog.=) h.oid
	  LEFT JOIN p own ON own.kind OPERATOR(pg_catalog.=) p.kind
					 AND own.table_name OPERATOR(pg_catalog.=) f.to_table;
END;
REVOKE ALL ON FUNCTION privacy._protected_paths() FROM PUBLIC;
COMMENT ON FUNCTION privacy._protected_paths() IS
'The tables on the path from each protected table to each of its subject kinds'' anchor, anchor included, with the path onward from each';

-- Tables as a JSON array of their qualified names, in the array's order.
CREATE FUNCTION privacy._qualified_names(tables regclass[])
RETURNS jsonb
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT pg_catalog.jsonb_agg(privacy._qualified_name(u.t) ORDER BY u.o)
	  FROM pg_catalog.unnest(tables) WITH ORDINALITY AS u(t, o);
END;
REVOKE ALL ON FUNCTION privacy._qualified_names(regclass[]) FROM PUBLIC;
COMMENT ON FUNCTION privacy._qualified_names(regclass[]) IS
'Tables as a JSON array of qualified names (for audit summaries)';

-- The protected tables (other than rel) with rel on their subject path.
CREATE FUNCTION privacy._path_needed_by(rel regclass)
RETURNS regclass[]
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT pg_catalog.array_agg(DISTINCT pp.table_name ORDER BY pp.table_name)
	  FROM privacy._protected_paths() pp
	 WHERE pp.path_table OPERATOR(pg_catalog.=) rel
	   AND pp.table_name OPERATOR(pg_catalog.<>) rel;
END;
REVOKE ALL ON FUNCTION privacy._path_needed_by(regclass) FROM PUBLIC;
COMMENT ON FUNCTION privacy._path_needed_by(regclass) IS
'The protected tables whose subject path runs through a table';

-- Puts the row policies, row security and (on a table holding personal
-- data) the rectification trigger on rel, and registers it.
CREATE FUNCTION privacy._install_protection(rel regclass, kinds text[], path_only boolean)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	cls pg_catalog.pg_class;
	qname text := privacy._qualified_name(rel);
	trigger_args text := '';
	k text;
BEGIN
	SELECT * INTO STRICT cls FROM pg_catalog.pg_class c WHERE c.oid OPERATOR(pg_catalog.=) rel;
	EXECUTE pg_catalog.format('CREATE POLICY privacy_purpose ON %s AS RESTRICTIVE FOR ALL TO PUBLIC USING (%s) WITH CHECK (%s)',
							  qname, privacy._protection_expr(rel, kinds, 'privacy._may_process'),
							  privacy._protection_expr(rel, kinds, 'privacy._may_write'));
	IF NOT cls.relrowsecurity THEN
		EXECUTE pg_catalog.format('CREATE POLICY privacy_rows ON %s AS PERMISSIVE FOR ALL TO PUBLIC USING (true) WITH CHECK (true)', qname);
	END IF;
	EXECUTE pg_catalog.format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY', qname);
	IF EXISTS (SELECT FROM privacy.classified_columns cc WHERE cc.table_name OPERATOR(pg_catalog.=) rel) THEN
		FOREACH k IN ARRAY kinds LOOP
			trigger_args := trigger_args OPERATOR(pg_catalog.||)
				pg_catalog.format('%s%L, %L', CASE WHEN trigger_args OPERATOR(pg_catalog.=) '' THEN '' ELSE ', ' END,
								  k, privacy._subject_key_sql(k, rel, cls.relname));
		END LOOP;
		EXECUTE pg_catalog.format('CREATE TRIGGER privacy_rectification AFTER UPDATE ON %s FOR EACH ROW EXECUTE FUNCTION privacy._audit_rectification(%s)',
								  qname, trigger_args);
	END IF;
	INSERT INTO privacy.protected_tables (table_name, kinds, base_policy, had_row_security,
										  had_force_row_security, protected_by, path_only)
	VALUES (rel, kinds, NOT cls.relrowsecurity, cls.relrowsecurity, cls.relforcerowsecurity,
			privacy._acting_role(), path_only);
END
$$;
REVOKE ALL ON FUNCTION privacy._install_protection(regclass, text[], boolean) FROM PUBLIC;
COMMENT ON FUNCTION privacy._install_protection(regclass, text[], boolean) IS
'Puts purpose-aware row policies (and, on a personal table, the rectification trigger) on a table and registers it as protected';

-- Removes what privacy._install_protection() added to rel, restores its
-- earlier row-security settings and forgets it.
CREATE FUNCTION privacy._remove_protection(rel regclass)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	pt privacy.protected_tables;
	qname text := privacy._qualified_name(rel);
BEGIN
	SELECT * INTO STRICT pt FROM privacy.protected_tables p WHERE p.table_name OPERATOR(pg_catalog.=) rel;
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
REVOKE ALL ON FUNCTION privacy._remove_protection(regclass) FROM PUBLIC;
COMMENT ON FUNCTION privacy._remove_protection(regclass) IS
'Removes a table''s purpose-aware row policies and rectification trigger, restores its row-security settings and forgets it';

-- Protects every table on the subject path of a protected table that is
-- not protected yet (or is protected for its path only, without a kind it
-- must now check), until none is left; refuses a path table whose own path
-- to the kind is not the rest of the protected table's path from there
-- (its policy would check another subject than the one the protected table
-- finds) and a path table the acting role does not own. Returns the tables
-- it protected.
CREATE FUNCTION privacy._protect_path_tables()
RETURNS regclass[]
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	p record;
	owner oid;
	kinds text[];
	added regclass[] := '{}';
	again boolean := true;
BEGIN
	WHILE again LOOP
		again := false;
		FOR p IN
			SELECT pp.table_name AS reader, pp.kind, pp.path_table, pp.hops, pp.path_table_hops,
				   st.table_name IS NOT NULL AS registered, st.path_only, st.kinds AS path_kinds
			  FROM privacy._protected_paths() pp
			  LEFT JOIN privacy.protected_tables st ON st.table_name OPERATOR(pg_catalog.=) pp.path_table
			 ORDER BY pp.table_name, pp.kind, pp.path_table
		LOOP
			IF p.path_table_hops IS DISTINCT FROM p.hops THEN
				RAISE EXCEPTION 'table % reaches subject kind "%" through table %, which reaches that kind by another path',
					privacy._qualified_name(p.reader), p.kind, privacy._qualified_name(p.path_table)
					USING ERRCODE = 'invalid_foreign_key',
						  DETAIL = pg_catalog.format('The path onward from %s is: %s.', privacy._qualified_name(p.path_table),
													 privacy._path_text(p.hops)),
						  HINT = pg_catalog.format('Pin the path of %s to that one in the policy document, with "paths" under the subject kind.',
												   privacy._qualified_name(p.path_table));
			END IF;
			IF p.registered AND p.kind OPERATOR(pg_catalog.=) ANY (p.path_kinds) THEN
				CONTINUE;
			END IF;
			IF p.registered AND NOT p.path_only THEN
				RAISE EXCEPTION 'table % reaches subject kind "%" through table %, whose protection does not check that kind',
					privacy._qualified_name(p.reader), p.kind, privacy._qualified_name(p.path_table)
					USING ERRCODE = 'object_not_in_prerequisite_state',
						  HINT = pg_catalog.format('Rebuild its protection: SELECT privacy.unprotect(%1$L); SELECT privacy.protect(%1$L);',
												   privacy._qualified_name(p.path_table));
			END IF;
			SELECT c.relowner INTO STRICT owner FROM pg_catalog.pg_class c WHERE c.oid OPERATOR(pg_catalog.=) p.path_table;
			IF NOT pg_catalog.pg_has_role(privacy._acting_role(), owner, 'USAGE') THEN
				RAISE EXCEPTION 'must be owner of table %', privacy._qualified_name(p.path_table)
					USING ERRCODE = 'insufficient_privilege',
						  DETAIL = pg_catalog.format('It is on the subject path of table %s, so protecting %s protects it too.',
													 privacy._qualified_name(p.reader), privacy._qualified_name(p.reader));
			END IF;
			IF p.registered THEN
				PERFORM privacy._remove_protection(p.path_table);
			END IF;
			SELECT pg_catalog.array_agg(sp.kind ORDER BY sp.kind) INTO kinds
			  FROM privacy._subject_paths() sp WHERE sp.table_name OPERATOR(pg_catalog.=) p.path_table;
			PERFORM privacy._install_protection(p.path_table, kinds, true);
			IF NOT p.path_table OPERATOR(pg_catalog.=) ANY (added) THEN
				added := added OPERATOR(pg_catalog.||) p.path_table;
			END IF;
			again := true;
			EXIT;
		END LOOP;
	END LOOP;
	RETURN added;
END
$$;
REVOKE ALL ON FUNCTION privacy._protect_path_tables() FROM PUBLIC;
COMMENT ON FUNCTION privacy._protect_path_tables() IS
'Protects every table on the subject path of a protected table; returns those it protected';

-- Releases the tables protected for their path only that no protected
-- table's subject path runs through any more; returns them.
CREATE FUNCTION privacy._release_path_tables()
RETURNS regclass[]
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	rel regclass;
	released regclass[] := '{}';
	again boolean := true;
BEGIN
	WHILE again LOOP
		again := false;
		FOR rel IN
			WITH needed AS MATERIALIZED (SELECT pp.table_name, pp.path_table FROM privacy._protected_paths() pp)
			SELECT pt.table_name FROM privacy.protected_tables pt
			 WHERE pt.path_only
			   AND NOT EXISTS (SELECT FROM needed n
								WHERE n.path_table OPERATOR(pg_catalog.=) pt.table_name
								  AND n.table_name OPERATOR(pg_catalog.<>) pt.table_name)
			 ORDER BY pt.table_name
		LOOP
			PERFORM privacy._remove_protection(rel);
			released := released OPERATOR(pg_catalog.||) rel;
			again := true;
		END LOOP;
	END LOOP;
	RETURN released;
END
$$;
REVOKE ALL ON FUNCTION privacy._release_path_tables() FROM PUBLIC;
COMMENT ON FUNCTION privacy._release_path_tables() IS
'Unprotects the tables protected for their subject path only that no protected table needs any more; returns them';

CREATE OR REPLACE FUNCTION privacy.protect("table" regclass)
RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	rel regclass := "table";
	cls pg_catalog.pg_class;
	qname text;
	kinds text[];
	path_tables regclass[];
	summary jsonb;
BEGIN
	IF rel IS NULL THEN
		RAISE EXCEPTION 'table must not be null' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	SELECT * INTO STRICT cls FROM pg_catalog.pg_class c WHERE c.oid OPERATOR(pg_catalog.=) rel;
	qname := privacy._qualified_name(rel);
	IF cls.relkind OPERATOR(pg_catalog.<>) ALL (ARRAY['r', 'p']::"char"[]) THEN
		RAISE EXCEPTION 'cannot protect % because it is not a table', qname
			USING ERRCODE = 'wrong_object_type';
	END IF;
	IF NOT pg_catalog.pg_has_role(privacy._acting_role(), cls.relowner, 'USAGE') THEN
		RAISE EXCEPTION 'must be owner of table %', qname
			USING ERRCODE = 'insufficient_privilege';
	END IF;
	IF EXISTS (SELECT FROM privacy.protected_tables pt
				WHERE pt.table_name OPERATOR(pg_catalog.=) rel AND NOT pt.path_only) THEN
		RAISE EXCEPTION 'table % is already protected', qname
			USING ERRCODE = 'duplicate_object',
				  HINT = 'To rebuild its policies after the policy document changed, run privacy.unprotect() and then privacy.protect().';
	END IF;
	IF NOT EXISTS (SELECT FROM privacy.classified_columns cc WHERE cc.table_name OPERATOR(pg_catalog.=) rel) THEN
		RAISE EXCEPTION 'table % holds no personal data', qname
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Classify its personal columns in the policy document or with SECURITY LABEL FOR privacy first.';
	END IF;
	SELECT pg_catalog.array_agg(sp.kind ORDER BY sp.kind) INTO kinds
	  FROM privacy._subject_paths() sp WHERE sp.table_name OPERATOR(pg_catalog.=) rel;
	IF kinds IS NULL THEN
		RAISE EXCEPTION 'table % does not reach any subject kind', qname
			USING ERRCODE = 'invalid_foreign_key',
				  HINT = 'Only tables that reference a subject kind''s anchor table through foreign keys can be protected; see privacy.subject_map.';
	END IF;

	-- A table protected for another's path so far is protected anew, for
	-- itself and with the policies the subject map gives now.
	IF EXISTS (SELECT FROM privacy.protected_tables pt WHERE pt.table_name OPERATOR(pg_catalog.=) rel) THEN
		PERFORM privacy._remove_protection(rel);
	END IF;
	PERFORM privacy._install_protection(rel, kinds, false);
	path_tables := privacy._protect_path_tables();

	summary := pg_catalog.jsonb_build_object('table', qname, 'kinds', pg_catalog.to_jsonb(kinds));
	IF pg_catalog.cardinality(path_tables) OPERATOR(pg_catalog.>) 0 THEN
		summary := summary OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object('path_tables',
			privacy._qualified_names(path_tables));
	END IF;
	PERFORM privacy._audit(privacy._acting_role(), 'protect', NULL, NULL, NULL, summary);
END
$$;
COMMENT ON FUNCTION privacy.protect(regclass) IS
'Enables and forces row-level security on a table holding personal data, and on every table on the path to its subjects, so that each purpose sees and writes only the rows of subjects it may lawfully process; audits rectifications';

CREATE OR REPLACE FUNCTION privacy.unprotect("table" regclass)
RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	rel regclass := "table";
	pt privacy.protected_tables;
	cls pg_catalog.pg_class;
	qname text;
	needed_by regclass[];
	released regclass[];
	summary jsonb;
BEGIN
	IF "table" IS NULL THEN
		RAISE EXCEPTION 'table must not be null' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	SELECT * INTO pt FROM privacy.protected_tables p WHERE p.table_name OPERATOR(pg_catalog.=) rel;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'table % is not protected', rel
			USING ERRCODE = 'undefined_object',
				  HINT = 'privacy.protected_tables lists the protected tables.';
	END IF;
	SELECT * INTO STRICT cls FROM pg_catalog.pg_class c WHERE c.oid OPERATOR(pg_catalog.=) rel;
	qname := privacy._qualified_name(rel);
	IF NOT pg_catalog.pg_has_role(privacy._acting_role(), cls.relowner, 'USAGE') THEN
		RAISE EXCEPTION 'must be owner of table %', qname
			USING ERRCODE = 'insufficient_privilege';
	END IF;
	needed_by := privacy._path_needed_by(rel);
	summary := pg_catalog.jsonb_build_object('table', qname);
	IF needed_by IS NOT NULL THEN
		-- Other protected tables find their rows' subjects through it: it
		-- stays protected for their sake until they are unprotected.
		IF pt.path_only THEN
			RAISE EXCEPTION 'cannot unprotect table % because it is on the subject path of protected table %',
				qname, privacy._qualified_name(needed_by[1])
				USING ERRCODE = 'dependent_objects_still_exist',
					  DETAIL = 'It was protected because it is on the path from that table to its subjects; it is unprotected with the last table that needs it.',
					  HINT = pg_catalog.format('Unprotect %s first.', privacy._qualified_name(needed_by[1]));
		END IF;
		UPDATE privacy.protected_tables p SET path_only = true WHERE p.table_name OPERATOR(pg_catalog.=) rel;
		RAISE NOTICE 'table % stays protected because it is on the subject path of protected table %',
			qname, privacy._qualified_name(needed_by[1])
			USING DETAIL = 'It is on the path from that table to its subjects; it is unprotected with the last table that needs it.';
		summary := summary OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object('kept_for',
			privacy._qualified_names(needed_by));
	ELSE
		PERFORM privacy._remove_protection(rel);
	END IF;
	released := privacy._release_path_tables();
	IF pg_catalog.cardinality(released) OPERATOR(pg_catalog.>) 0 THEN
		summary := summary OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object('path_tables',
			privacy._qualified_names(released));
	END IF;
	PERFORM privacy._audit(privacy._acting_role(), 'unprotect', NULL, NULL, NULL, summary);
END
$$;
COMMENT ON FUNCTION privacy.unprotect(regclass) IS
'Removes what privacy.protect() added to a table and restores its earlier row-security settings; a table on the subject path of another protected table stays protected until that one is unprotected';

-- A protected table with a table on its subject path that is not protected
-- (read by its installed policy, as after an update from a version that did
-- not protect paths, or by the subject map now), or one protected without
-- checking the kind along the same path. Runs as the extension's owner:
-- it reads the subject map through internal functions.
CREATE FUNCTION privacy._lint_path_tables()
RETURNS TABLE (severity text, object text, problem text, hint text)
LANGUAGE sql STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT DISTINCT 'error', privacy._qualified_name(r.path_table),
		   pg_catalog.format('is on the subject path of protected table %s but is not protected: a role that may update it can move that table''s rows to another subject',
							 privacy._qualified_name(r.reader)),
		   pg_catalog.format('Protect the whole path: SELECT privacy.unprotect(%1$L); SELECT privacy.protect(%1$L);',
							 privacy._qualified_name(r.reader))
	  FROM (SELECT pol.polrelid::regclass AS reader, d.refobjid::regclass AS path_table
			  FROM privacy.protected_tables pt
			  JOIN pg_catalog.pg_policy pol ON pol.polrelid OPERATOR(pg_catalog.=) pt.table_name
										   AND pol.polname OPERATOR(pg_catalog.=) 'privacy_purpose'
			  JOIN pg_catalog.pg_depend d ON d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_policy'::pg_catalog.regclass
										 AND d.objid OPERATOR(pg_catalog.=) pol.oid
										 AND d.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass
										 AND d.refobjid OPERATOR(pg_catalog.<>) pol.polrelid
			UNION
			SELECT pp.table_name, pp.path_table FROM privacy._protected_paths() pp) r
	 WHERE NOT EXISTS (SELECT FROM privacy.protected_tables st
						WHERE st.table_name OPERATOR(pg_catalog.=) r.path_table)
	UNION ALL
	SELECT 'error', privacy._qualified_name(pp.path_table),
		   pg_catalog.format('is on the subject path of protected table %s for subject kind "%s", but its protection does not check that kind along the same path',
							 privacy._qualified_name(pp.table_name), pp.kind),
		   CASE WHEN pp.path_table_hops IS DISTINCT FROM pp.hops
				THEN pg_catalog.format('Pin the path of %s to kind "%s" in the policy document to: %s; then rebuild the protection of %s.',
									   privacy._qualified_name(pp.path_table), pp.kind,
									   privacy._path_text(pp.hops), privacy._qualified_name(pp.table_name))
				ELSE pg_catalog.format('Rebuild its protection: SELECT privacy.unprotect(%1$L); SELECT privacy.protect(%1$L);',
									   privacy._qualified_name(pp.path_table)) END
	  FROM privacy._protected_paths() pp
	  JOIN privacy.protected_tables st ON st.table_name OPERATOR(pg_catalog.=) pp.path_table
	 WHERE NOT pp.kind OPERATOR(pg_catalog.=) ANY (st.kinds) OR pp.path_table_hops IS DISTINCT FROM pp.hops;
END;
REVOKE ALL ON FUNCTION privacy._lint_path_tables() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION privacy._lint_path_tables() TO PUBLIC;
COMMENT ON FUNCTION privacy._lint_path_tables() IS
'lint: tables on the subject path of a protected table that are not protected, or not for the same kind along the same path';
