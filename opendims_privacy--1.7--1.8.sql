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

------------------------------------------------------------------------------
-- Subject locks no outsider can take (issue 13, class 5)
------------------------------------------------------------------------------

-- Up to 1.7 the ledger serialised the events of a subject on an advisory
-- lock whose key anyone could compute (and erasure on one that pg_locks
-- shows to every role): any role that could log in took that lock with
-- pg_advisory_lock() and blocked the subject's withdrawal, unsubscribe or
-- erasure for as long as it liked. Advisory locks belong to everyone, so
-- the extension no longer takes any. A subject is now locked by inserting
-- its lock key into a table no ordinary role can read, write or lock, and
-- deleting it again in the same transaction: an insert of the same key by
-- another transaction waits until this one ends (a unique index waits for
-- the transaction that inserted a conflicting key), and then finds the key
-- gone and takes it in turn. So the lock is held to commit, exactly like
-- the transaction-level advisory lock it replaces, different subjects never
-- wait for each other, and the table is always empty once the transactions
-- end. Unlogged: a lock needs no WAL and does not outlive a crash.
CREATE UNLOGGED TABLE privacy._subject_locks (
	lock_key bigint PRIMARY KEY
);
REVOKE ALL ON privacy._subject_locks FROM PUBLIC;
COMMENT ON TABLE privacy._subject_locks IS
'Keys of the subjects locked by transactions in progress (privacy._lock_subject); empty between transactions';

-- The key is a 64-bit hash of the scope, the kind and the key, so the table
-- never holds a subject key, not even in the dead rows vacuum has yet to
-- remove; two subjects sharing a hash would only wait for each other.
CREATE FUNCTION privacy._lock_subject(scope text, kind text, subject text)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
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
REVOKE ALL ON FUNCTION privacy._lock_subject(text, text, text) FROM PUBLIC;
COMMENT ON FUNCTION privacy._lock_subject(text, text, text) IS
'Locks a subject in a scope (consent_ledger, erase) until the end of the transaction; waits while another transaction holds it; no role without rights on the extension''s tables can take or hold it';

-- The consent ledger, erasure and the forgetting of an erased subject in
-- the ledgers take the subject's lock with privacy._lock_subject() instead
-- of an advisory lock; nothing else changes in them.
CREATE OR REPLACE FUNCTION privacy._record(action text, kind text, subject text, purpose text,
								source text, evidence jsonb)
RETURNS bigint
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	p privacy.purposes;
	key text;
	version text := privacy._policy_version();
	event_id bigint;
	actor name := privacy._acting_role();
BEGIN
	key := privacy._canonical_subject(kind, subject, action <> 'consent.withdraw');
	IF action IN ('consent.grant', 'consent.withdraw') THEN
		p := privacy._require_purpose(purpose, ARRAY['consent'],
									  CASE action WHEN 'consent.grant' THEN 'record consent for'
												  ELSE 'withdraw consent for' END);
	ELSIF action = 'objection' THEN
		p := privacy._require_purpose(purpose, ARRAY['legitimate_interest'], 'record an objection to');
	END IF;
	IF source IS NULL OR NOT EXISTS (SELECT FROM privacy.sources s WHERE s.name = source) THEN
		RAISE EXCEPTION 'unrecognized source "%"', source
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Sources are declared by the policy document; privacy.sources lists them.';
	END IF;
	IF evidence IS NULL OR pg_catalog.jsonb_typeof(evidence) <> 'object' THEN
		RAISE EXCEPTION 'evidence must be a JSON object'
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Describe how the event was captured, for example {"form": "signup", "text_version": "3"}.';
	END IF;

	PERFORM privacy._lock_subject('consent_ledger', kind, key);
	IF action = 'restriction.lift' AND NOT EXISTS (
			SELECT FROM privacy._ledger_state s
			 WHERE s.kind = $2 AND s.purpose = '' AND s.subject = key) THEN
		RAISE EXCEPTION 'processing of this subject of kind "%" is not restricted', kind
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  HINT = 'privacy.consent_history() shows the subject''s restrictions.';
	END IF;

	INSERT INTO privacy.consent_ledger (actor, kind, subject, action, purpose, source, policy_version, evidence)
	VALUES (actor, kind, key, action, p.name, source, version, evidence)
	RETURNING id INTO event_id;
	PERFORM privacy._audit(actor, action, kind, key, NULL,
						   pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object(
							   'event_id', event_id, 'purpose', p.name, 'source', source,
							   'policy_version', version)));
	RETURN event_id;
END
$$;

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
	PERFORM privacy._lock_subject('consent_ledger', kind, key);
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
	PERFORM privacy._lock_subject('erase', kind, ref);
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

------------------------------------------------------------------------------
-- The retention job skips a table it cannot lock in time (issue 13, class 5)
------------------------------------------------------------------------------

-- Up to 1.7 a session holding a lock on a rule's table (LOCK TABLE in a long
-- transaction) stalled the job until statement_timeout, which pg_cron does
-- not set. The job now waits at most privacy.retention_lock_timeout
-- (default 5s) for each table it writes; a rule whose table it cannot lock
-- in that time gets the status "locked" in privacy.retention_runs (with the
-- table in "locked_table"), a WARNING names it, and the run goes on with
-- the other rules. The next run tries the rule again.

-- privacy.retention_lock_timeout in milliseconds (the setting lives with the
-- rest of the job in the library).
CREATE FUNCTION privacy._retention_lock_timeout()
RETURNS integer
AS 'MODULE_PATHNAME', 'privacy_retention_lock_timeout'
LANGUAGE C STABLE PARALLEL SAFE;
REVOKE ALL ON FUNCTION privacy._retention_lock_timeout() FROM PUBLIC;
COMMENT ON FUNCTION privacy._retention_lock_timeout() IS
'The privacy.retention_lock_timeout setting in milliseconds: how long the retention job waits for a table''s lock';

-- Locks, for one batch of a rule, the legal holds against new holds (SHARE,
-- as privacy._retention_lock_holds() then does: a hold placed in a
-- transaction left open would otherwise stall the job too), the rule's
-- table (ROW EXCLUSIVE, as its DELETE or UPDATE will) and, for a delete
-- rule, the tables whose foreign keys the DELETE checks or changes
-- (ROW SHARE, or ROW EXCLUSIVE for ON DELETE CASCADE, SET NULL and
-- SET DEFAULT), waiting at most privacy.retention_lock_timeout for each.
-- Returns NULL when every lock is held, else the table that could not be
-- locked (and holds none).
-- SECURITY DEFINER: the foreign-key checks run as the tables' owners, so
-- the job's role may have no privilege on the referencing tables.
CREATE FUNCTION privacy._retention_lock_tables(rule privacy.retention_rules)
RETURNS regclass
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	rel regclass := 'privacy.legal_holds'::pg_catalog.regclass;
	lock_mode text;
BEGIN
	PERFORM pg_catalog.set_config('lock_timeout', privacy._retention_lock_timeout()::text, true);
	BEGIN
		LOCK TABLE privacy.legal_holds IN SHARE MODE;
		rel := rule.table_name;
		EXECUTE pg_catalog.format('LOCK TABLE %s IN ROW EXCLUSIVE MODE', privacy._qualified_name(rel));
		IF rule.action = 'delete' THEN
			FOR rel, lock_mode IN
				SELECT c.conrelid::regclass,
					   CASE WHEN pg_catalog.bool_or(c.confdeltype IN ('c', 'n', 'd'))
							THEN 'ROW EXCLUSIVE' ELSE 'ROW SHARE' END
				  FROM pg_catalog.pg_constraint c
				 WHERE c.contype = 'f' AND c.confrelid = rule.table_name AND c.conrelid <> rule.table_name
				 GROUP BY c.conrelid
				 ORDER BY c.conrelid
			LOOP
				EXECUTE pg_catalog.format('LOCK TABLE %s IN %s MODE', privacy._qualified_name(rel), lock_mode);
			END LOOP;
		END IF;
	EXCEPTION WHEN lock_not_available THEN
		RETURN rel;
	END;
	RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION privacy._retention_lock_tables(privacy.retention_rules) FROM PUBLIC;
COMMENT ON FUNCTION privacy._retention_lock_tables(privacy.retention_rules) IS
'Locks the legal holds and the tables one retention batch of a rule writes, waiting at most privacy.retention_lock_timeout for each; returns the table it could not lock, or NULL';

-- Records that a rule is skipped until the next run because a table it
-- writes stayed locked, and says so in a WARNING (which reaches the server
-- log and pg_cron's record of the run).
CREATE FUNCTION privacy._retention_run_rule_locked(run_id bigint, rule_name text, locked regclass)
RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	UPDATE privacy.retention_runs r
	   SET rules = pg_catalog.jsonb_set(r.rules, ARRAY[rule_name],
				(r.rules -> rule_name) || pg_catalog.jsonb_build_object(
					'status', 'locked', 'locked_table', privacy._qualified_name(locked)))
	 WHERE r.id = run_id;
	RAISE WARNING 'retention rule "%" skipped until the next run: table % stayed locked by another session for longer than privacy.retention_lock_timeout (%)',
		rule_name, privacy._qualified_name(locked), pg_catalog.current_setting('privacy.retention_lock_timeout')
		USING HINT = 'pg_locks shows which session holds the lock.';
END
$$;
REVOKE ALL ON FUNCTION privacy._retention_run_rule_locked(bigint, text, regclass) FROM PUBLIC;
COMMENT ON FUNCTION privacy._retention_run_rule_locked(bigint, text, regclass) IS
'Marks a rule of a retention run as skipped because a table it writes stayed locked (status locked, locked_table)';

COMMENT ON FUNCTION privacy._retention_run_rule_status(bigint, text, text) IS
'Sets the state of one rule in a retention run (running, done, held, time_budget; locked is set by privacy._retention_run_rule_locked)';

-- The run's start counts each rule's due rows with the same bound on the wait.
CREATE OR REPLACE FUNCTION privacy._retention_run_start(batch_size integer, time_budget interval)
RETURNS bigint
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	stale privacy.retention_runs;
	rr privacy.retention_rules;
	counts record;
	locked regclass;
	locked_rules text[] := '{}';
	locked_tables regclass[] := '{}';
	i integer;
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

	-- Counting reads each rule's table: one that another session keeps
	-- locked for longer than privacy.retention_lock_timeout is left to the
	-- next run (status locked, its counts unknown) instead of stalling this one.
	PERFORM pg_catalog.set_config('lock_timeout', privacy._retention_lock_timeout()::text, true);
	FOR rr IN
		SELECT r.* FROM privacy._retention_order() o
		  JOIN privacy.retention_rules r ON r.name = o.rule_name
	LOOP
		BEGIN
			counts := privacy._retention_counts(rr, pg_catalog.now());
			locked := NULL;
		EXCEPTION WHEN lock_not_available THEN
			locked := rr.table_name;
		END;
		IF locked IS NOT NULL THEN
			rules := rules || pg_catalog.jsonb_build_object(rr.name, pg_catalog.jsonb_build_object(
				'table', privacy._qualified_name(rr.table_name), 'action', rr.action,
				'due', NULL, 'done', 0, 'held', NULL, 'blocked', 0, 'status', 'pending'));
			locked_rules := locked_rules || rr.name;
			locked_tables := locked_tables || locked;
			CONTINUE;
		END IF;
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
	FOR i IN 1 .. pg_catalog.cardinality(locked_rules) LOOP
		PERFORM privacy._retention_run_rule_locked(run_id, locked_rules[i], locked_tables[i]);
	END LOOP;
	RETURN run_id;
END
$$;

-- The job: as in 1.7, with the lock of each batch's tables taken first.
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
	locked regclass;
	skipped text[];
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
	-- Rules whose table was locked when the run counted them wait for the next run.
	SELECT r.rows_due,
		   ARRAY(SELECT e.key FROM pg_catalog.jsonb_each(r.rules) e
				  WHERE e.value OPERATOR(pg_catalog.->>) 'status' OPERATOR(pg_catalog.=) 'locked')
	  INTO run_due, skipped
	  FROM privacy.retention_runs r WHERE r.id OPERATOR(pg_catalog.=) run_id;
	COMMIT;

	<<rules>>
	FOREACH rule_name IN ARRAY rule_names LOOP
		SELECT * INTO rule FROM privacy.retention_rules rr WHERE rr.name OPERATOR(pg_catalog.=) rule_name;
		CONTINUE WHEN NOT FOUND OR rule_name OPERATOR(pg_catalog.=) ANY (skipped);
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
			-- Each batch first locks the tables it writes, waiting at most
			-- privacy.retention_lock_timeout: a table another session keeps
			-- locked is skipped until the next run.
			locked := privacy._retention_lock_tables(rule);
			IF locked IS NOT NULL THEN
				PERFORM privacy._retention_run_rule_locked(run_id, rule_name, locked);
				COMMIT;
				CONTINUE rules;
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

-- The status view counts each rule's due rows with the same bound on the
-- wait: a rule whose table stays locked shows NULL counts instead of
-- stalling the view.
CREATE OR REPLACE FUNCTION privacy._retention_status()
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
	PERFORM pg_catalog.set_config('lock_timeout', privacy._retention_lock_timeout()::text, true);
	FOR rr IN SELECT * FROM privacy.retention_rules ORDER BY name LOOP
		BEGIN
			counts := privacy._retention_counts(rr, pg_catalog.now());
		EXCEPTION WHEN lock_not_available THEN
			SELECT NULL::bigint AS rows_due, NULL::timestamptz AS oldest_due, NULL::bigint AS rows_held INTO counts;
		END;
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

------------------------------------------------------------------------------
-- Audit entries are appended to the chain at commit
------------------------------------------------------------------------------

-- Before 1.8 privacy._audit() locked the chain's head (privacy._audit_head)
-- and held it until the writer's transaction ended: any role that could make
-- the extension write an entry (an UPDATE of a protected table, an insert
-- into a table guarded in redact mode, privacy.unsubscribe() with a valid
-- token) could leave its transaction open and stop every withdrawal, export,
-- erasure and retention run. Now an entry's fields are computed when it is
-- written and kept in the writing backend's memory (privacy._audit_append);
-- the library appends the transaction's entries to the chain when it
-- commits, in commit order, holding the head from pre-commit to the end of
-- the commit only (src/audit_pending.c). A transaction sees its own entries
-- in privacy.audit_log once it has committed.

CREATE FUNCTION privacy._audit_append(logged_at timestamptz, actor name, session_role name,
									  action text, subject_ref text, request_id bigint,
									  summary jsonb)
RETURNS void
LANGUAGE c VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'privacy_audit_append';
REVOKE ALL ON FUNCTION privacy._audit_append(timestamptz, name, name, text, text, bigint, jsonb) FROM PUBLIC;
COMMENT ON FUNCTION privacy._audit_append(timestamptz, name, name, text, text, bigint, jsonb) IS
'Queues one audit log entry of the current transaction; the entries are appended to the hash chain when the transaction commits';

-- Writes an entry; kind and subject become a keyed subject reference, so
-- the log never holds a raw identifier. The entry gets its id and its place
-- in the chain when the transaction commits; the function returns NULL.
CREATE OR REPLACE FUNCTION privacy._audit(actor name, action text, kind text, subject text,
										  request_id bigint, summary jsonb)
RETURNS bigint
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	PERFORM privacy._audit_append(
		pg_catalog.clock_timestamp(),
		COALESCE(actor, SESSION_USER),
		SESSION_USER,
		action,
		CASE WHEN subject IS NOT NULL THEN privacy.subject_ref(COALESCE(kind, ''), subject) END,
		request_id,
		COALESCE(summary, '{}'::pg_catalog.jsonb));
	RETURN NULL;
END
$$;
COMMENT ON FUNCTION privacy._audit(name, text, text, text, bigint, jsonb) IS
'Writes one audit log entry, appended to the hash chain when the transaction commits; returns NULL (the entry''s id is assigned at commit)';

-- Appending locks the head in SHARE ROW EXCLUSIVE mode (which conflicts with
-- itself) before reading it; pruning takes the same lock instead of the
-- head's row lock, so that an append waiting for the head and a pruning
-- transaction cannot each wait for the other.
CREATE OR REPLACE FUNCTION privacy.prune_audit_log(older_than interval)
RETURNS bigint
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	last_pruned privacy.audit_log;
	pruned bigint;
BEGIN
	IF older_than IS NULL OR older_than < interval '1 year' THEN
		RAISE EXCEPTION 'audit log entries are kept for at least one year'
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Pass an age of one year or more, e.g. ''6 years''.';
	END IF;
	LOCK TABLE privacy._audit_head IN SHARE ROW EXCLUSIVE MODE;
	SELECT * INTO last_pruned FROM privacy.audit_log a
	 WHERE a.logged_at OPERATOR(pg_catalog.<) (pg_catalog.now() OPERATOR(pg_catalog.-) older_than)
	 ORDER BY a.id DESC LIMIT 1;
	IF NOT FOUND THEN
		RETURN 0;
	END IF;
	-- The log's append-only triggers let only this path through: ordinary
	-- triggers do not fire while the session acts as a replica.
	SET LOCAL session_replication_role = replica;
	DELETE FROM privacy.audit_log a WHERE a.id OPERATOR(pg_catalog.<=) last_pruned.id;
	GET DIAGNOSTICS pruned = ROW_COUNT;
	SET LOCAL session_replication_role = origin;
	UPDATE privacy._audit_head
	   SET pruned_through_id = last_pruned.id, pruned_through_hash = last_pruned.hash;
	PERFORM privacy._audit(SESSION_USER, 'audit.prune', NULL, NULL, NULL,
						   pg_catalog.jsonb_build_object('entries', pruned, 'through_id', last_pruned.id,
														 'older_than', older_than::text));
	RETURN pruned;
END
$$;
