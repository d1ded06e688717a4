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
	children regclass[];
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
	-- Run again on a protected table, protects its partitions and
	-- children that are not protected yet (as after an update from a
	-- version that left them open).
	IF EXISTS (SELECT FROM privacy.protected_tables pt WHERE pt.table_name OPERATOR(pg_catalog.=) rel) THEN
		children := privacy._protect_children(true, rel);
		IF pg_catalog.cardinality(children) OPERATOR(pg_catalog.>) 0 THEN
			PERFORM privacy._audit(privacy._acting_role(), 'protect', NULL, NULL, NULL,
								   pg_catalog.jsonb_build_object('table', qname, 'children', privacy._qualified_names(children)));
			RETURN;
		END IF;
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
	children := privacy._protect_children(true, rel);
	path_tables := privacy._protect_path_tables();
	children := children OPERATOR(pg_catalog.||) privacy._protect_children(true, NULL);

	summary := pg_catalog.jsonb_build_object('table', qname, 'kinds', pg_catalog.to_jsonb(kinds));
	IF pg_catalog.cardinality(path_tables) OPERATOR(pg_catalog.>) 0 THEN
		summary := summary OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object('path_tables',
			privacy._qualified_names(path_tables));
	END IF;
	IF pg_catalog.cardinality(children) OPERATOR(pg_catalog.>) 0 THEN
		summary := summary OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object('children',
			privacy._qualified_names(children));
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
	children regclass[];
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
	IF pt.child_of IS NOT NULL
	   AND EXISTS (SELECT FROM pg_catalog.pg_inherits i WHERE i.inhrelid OPERATOR(pg_catalog.=) rel) THEN
		RAISE EXCEPTION 'cannot unprotect table % because it is a partition or child of protected table %',
			qname, privacy._qualified_name(pt.child_of)
			USING ERRCODE = 'dependent_objects_still_exist',
				  DETAIL = 'A query that names it would read its rows unchecked; it is unprotected with that table.',
				  HINT = pg_catalog.format('Unprotect %s, or detach the table from it first.', privacy._qualified_name(pt.child_of));
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
	children := privacy._release_children();
	IF pg_catalog.cardinality(released) OPERATOR(pg_catalog.>) 0 THEN
		summary := summary OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object('path_tables',
			privacy._qualified_names(released));
	END IF;
	IF pg_catalog.cardinality(children) OPERATOR(pg_catalog.>) 0 THEN
		summary := summary OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object('children',
			privacy._qualified_names(children));
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
-- Subject locks no outsider can take
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

-- The consent ledger and the forgetting of an erased subject in the ledgers
-- take the subject's lock with privacy._lock_subject() instead of an
-- advisory lock; nothing else changes in the forgetting. Erasure takes it
-- too (see its definition under "Subject keys" below), and so does
-- privacy._record() (defined under "Unsubscribing" below, which also
-- refuses an erased subject).
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

------------------------------------------------------------------------------
-- The retention job skips a table it cannot lock in time
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
	problem text;
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

	-- A rule whose table was dropped or no longer fits it is skipped and
	-- recorded with the reason; the other rules run.
	FOR rr IN SELECT r.* FROM privacy.retention_rules r ORDER BY r.name LOOP
		problem := privacy._retention_rule_problem(rr);
		CONTINUE WHEN problem IS NULL;
		RAISE WARNING 'retention rule "%" skipped: %', rr.name, problem
			USING HINT = 'Apply a policy document that matches the schema; privacy.lint() lists what does not.';
		rules := rules OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object(rr.name, pg_catalog.jsonb_build_object(
			'table', COALESCE(privacy._qualified_name(rr.table_name), (rr.table_name::pg_catalog.oid)::pg_catalog.text),
			'action', rr.action, 'due', 0, 'done', 0, 'held', 0, 'blocked', 0,
			'status', 'skipped', 'problem', problem));
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

-- The job takes the lock of each batch's tables first (its definition is
-- under "Erasure and retention change each table as its owner" below).

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
		-- A rule that cannot be enforced (its table dropped or changed), or
		-- whose table another session keeps locked, shows no counts.
		IF privacy._retention_rule_problem(rr) IS NULL THEN
			BEGIN
				counts := privacy._retention_counts(rr, pg_catalog.now());
			EXCEPTION WHEN lock_not_available THEN
				SELECT NULL::bigint AS rows_due, NULL::timestamptz AS oldest_due, NULL::bigint AS rows_held INTO counts;
			END;
		ELSE
			SELECT NULL::bigint AS rows_due, NULL::timestamptz AS oldest_due, NULL::bigint AS rows_held INTO counts;
		END IF;
		rule := rr.name;
		table_name := rr.table_name;
		action := rr.action;
		period := rr.period;
		minimum := rr.minimum;
		due_through := CASE WHEN privacy._retention_rule_problem(rr) IS NULL
							THEN privacy._retention_rule_cutoff(rr, pg_catalog.now()) END;
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
	-- VALUES rows (name, the row's values as a text array, whether extended
	-- statistics hold them), one per statistics.
	value_rows text;
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
		'SELECT privacy._statistics_matches(%1$L::pg_catalog.regclass, '
		'privacy._cached_value_as_owner(%1$L::pg_catalog.regclass, %2$L, NULL::pg_catalog.jsonb, $1), %3$L::pg_catalog.jsonb)',
		privacy._qualified_name(rel),
		pg_catalog.format($sql$SELECT pg_catalog.jsonb_agg(DISTINCT pg_catalog.jsonb_build_array(v.name, v.vals, v.extended))
	  FROM (SELECT t0.* %1$s) r
	 CROSS JOIN LATERAL (VALUES %2$s) v(name, vals, extended)$sql$,
			privacy._subject_rows_sql(kind, rel), value_rows),
		targets);
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
		IF NOT privacy._cached_value_as_owner(rel,
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

-- Erasure works with the subject's canonical key from the start, finds holds
-- and strips them of the raw key by the subject's reference, and refreshes
-- the statistics of the tables it changed where they held a value of the
-- subject's rows (the receipt lists them under "statistics_refreshed"); its
-- definition is under "Erasure and retention change each table as its
-- owner" below.

------------------------------------------------------------------------------
-- Evidence: internal functions, erasure receipts, the ledger state and
-- installed protection.
------------------------------------------------------------------------------

-- Internal functions are executable by the extension's owner only, except
-- those that ordinary roles reach as themselves:
--   row security on protected tables: _may_process, _may_write;
--   the read-only entry points granted to PUBLIC, which run as the caller:
--     lint() (_run_lint_checks and the _lint_* checks), the subject_map view
--     (_subject_paths, _path_text, _resolve_path, _qualified_name), policy()
--     (_catalog_document) and processing_record() (_legal_basis_article,
--     _subject_rights). These read only what PUBLIC may read and write
--     nothing.
-- Everything else, among it every function that writes, is revoked here;
-- the regression test internal_privileges lists what stays.
REVOKE ALL ON FUNCTION privacy._audit_entry_hash(bytea, bigint, timestamptz, name, name, text, text, bigint, jsonb),
	privacy._audit_log_is_append_only(),
	privacy._document_changes(jsonb, jsonb),
	privacy._subject_path(text, regclass),
	privacy._subject_key_sql(text, regclass, text),
	privacy._subject_rows_sql(text, regclass),
	privacy._join_condition(privacy.foreign_keys, text, text),
	privacy._delete_unreferenced_sql(regclass),
	privacy._anonymized_value_sql(regclass, name, text),
	privacy._forget_subject_plans_on_policy()
	FROM PUBLIC;

-- privacy.guard() creates its trigger as the extension's owner, so no other
-- role needs to execute the trigger function: a role attaching it to a table
-- of its own could have it write guard.redact entries at will.
REVOKE ALL ON FUNCTION privacy._guard_trigger() FROM PUBLIC;

-- The rectification trigger writes its audit entry itself, as the owner of
-- the log. Only the trigger manager can call a trigger function, and only
-- roles that may execute this one (the extension's owner, through
-- privacy.protect()) can create a trigger on it; the function checks too
-- that the trigger is the one protect() installs, on a table it protects.
-- privacy._record_rectification(), which any role could call from a trigger
-- of its own, is gone.
DROP FUNCTION privacy._record_rectification(regclass, text, text, text[]);

CREATE OR REPLACE FUNCTION privacy._audit_rectification()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	kinds text[];
	changed text[];
	subject text;
	row_name name;
	i integer;
BEGIN
	SELECT pt.kinds INTO kinds
	  FROM privacy.protected_tables pt
	  JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) pt.table_name
	 WHERE pt.table_name OPERATOR(pg_catalog.=) TG_RELID
	   AND c.relpersistence OPERATOR(pg_catalog.<>) 't';
	IF kinds IS NULL
	   OR TG_NAME OPERATOR(pg_catalog.<>) 'privacy_rectification'
	   OR TG_WHEN OPERATOR(pg_catalog.<>) 'AFTER' OR TG_LEVEL OPERATOR(pg_catalog.<>) 'ROW'
	   OR TG_OP OPERATOR(pg_catalog.<>) 'UPDATE' THEN
		RAISE EXCEPTION 'privacy._audit_rectification() may only run as the rectification trigger of a protected table'
			USING ERRCODE = 'insufficient_privilege',
				  HINT = 'privacy.protect() installs this trigger.';
	END IF;
	SELECT pg_catalog.array_agg(n.key ORDER BY n.key) INTO changed
	  FROM pg_catalog.jsonb_each(pg_catalog.to_jsonb(NEW)) n
	 WHERE n.value IS DISTINCT FROM (pg_catalog.to_jsonb(OLD) OPERATOR(pg_catalog.->) n.key);
	IF changed IS NULL THEN
		RETURN NULL;
	END IF;
	-- The key expressions name the row by the table protect() was called
	-- for: on a partition, the trigger is a clone of its root's.
	WITH RECURSIVE up AS (
		SELECT t.tgrelid, t.tgparentid FROM pg_catalog.pg_trigger t
		 WHERE t.tgrelid OPERATOR(pg_catalog.=) TG_RELID AND t.tgname OPERATOR(pg_catalog.=) TG_NAME
		UNION ALL
		SELECT t.tgrelid, t.tgparentid FROM up JOIN pg_catalog.pg_trigger t ON t.oid OPERATOR(pg_catalog.=) up.tgparentid
	)
	SELECT c.relname INTO row_name
	  FROM up JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) up.tgrelid
	 WHERE up.tgparentid OPERATOR(pg_catalog.=) 0::pg_catalog.oid;
	FOR i IN 0 .. TG_NARGS / 2 - 1 LOOP
		IF NOT TG_ARGV[2 * i] OPERATOR(pg_catalog.=) ANY (kinds) THEN
			RAISE EXCEPTION 'privacy._audit_rectification() may only run as the rectification trigger of a protected table'
				USING ERRCODE = 'insufficient_privilege',
					  DETAIL = 'The trigger names a subject kind the table is not protected for.',
					  HINT = 'privacy.protect() installs this trigger.';
		END IF;
		EXECUTE pg_catalog.format('SELECT (%s)::pg_catalog.text FROM (SELECT ($1).*) AS %I', TG_ARGV[2 * i + 1],
								  COALESCE(row_name, TG_TABLE_NAME))
		   INTO subject USING NEW;
		PERFORM privacy._audit(privacy._acting_role(), 'rectification', TG_ARGV[2 * i], subject, NULL,
							   pg_catalog.jsonb_build_object('table', privacy._qualified_name(TG_RELID),
															 'columns', pg_catalog.to_jsonb(changed)));
	END LOOP;
	RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION privacy._audit_rectification() FROM PUBLIC;
COMMENT ON FUNCTION privacy._audit_rectification() IS
'Trigger installed by privacy.protect(): records each rectification in the audit log, naming the changed columns but not their values; refuses to run as any other trigger';

-- Erasure receipts are evidence: like the audit log, they are append-only.
-- (Only a superuser acting as a replica gets past these triggers;
-- privacy.verify_audit_log() detects what such a session removes.)
CREATE FUNCTION privacy._erasures_are_append_only()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	RAISE EXCEPTION 'privacy.erasures is append-only'
		USING ERRCODE = 'insufficient_privilege',
			  DETAIL = pg_catalog.format('%s is not allowed on erasure receipts.', TG_OP),
			  HINT = 'Receipts are added by privacy.erase_subject(); privacy.verify_audit_log() detects a receipt removed or changed by other means.';
END
$$;
REVOKE ALL ON FUNCTION privacy._erasures_are_append_only() FROM PUBLIC;
COMMENT ON FUNCTION privacy._erasures_are_append_only() IS
'Trigger: refuses UPDATE, DELETE and TRUNCATE on the erasure receipts';
CREATE TRIGGER append_only BEFORE UPDATE OR DELETE ON privacy.erasures
	FOR EACH ROW EXECUTE FUNCTION privacy._erasures_are_append_only();
CREATE TRIGGER append_only_truncate BEFORE TRUNCATE ON privacy.erasures
	FOR EACH STATEMENT EXECUTE FUNCTION privacy._erasures_are_append_only();

-- Evidence that the hash chain does not cover, checked against what does:
-- each erasure entry of the audit log must have its receipt (the entry's
-- summary is part of the receipt; an entry carrying receipt_sha256 must
-- match the receipt's digest), each receipt newer than the oldest entry
-- kept must have its entry, and the ledger state the row check reads must
-- be what the append-only ledger says. One row per difference.
CREATE FUNCTION privacy.verify_evidence()
RETURNS TABLE (evidence text, id bigint, problem text)
LANGUAGE plpgsql STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	oldest_kept timestamptz;
BEGIN
	RETURN QUERY
		SELECT 'erasure entry', a.id,
			   'the audit log records an erasure whose receipt is missing from privacy.erasures or was changed'
		  FROM privacy.audit_log a
		 WHERE a.action OPERATOR(pg_catalog.=) 'erasure'
		   AND a.summary OPERATOR(pg_catalog.?) 'erased_at'
		   AND NOT EXISTS (
				SELECT FROM privacy.erasures e
				 WHERE e.subject_ref OPERATOR(pg_catalog.=) a.subject_ref
				   AND e.receipt OPERATOR(pg_catalog.@>) (a.summary OPERATOR(pg_catalog.-) 'receipt_sha256'::text)
				   AND (NOT a.summary OPERATOR(pg_catalog.?) 'receipt_sha256'
						OR pg_catalog.encode(pg_catalog.sha256(pg_catalog.convert_to(e.receipt::text, 'UTF8')), 'hex')
						   OPERATOR(pg_catalog.=) (a.summary OPERATOR(pg_catalog.->>) 'receipt_sha256')))
		 ORDER BY a.id;

	-- Receipts older than the oldest entry kept may have lost their entry
	-- to privacy.prune_audit_log().
	SELECT pg_catalog.min(a.logged_at) INTO oldest_kept FROM privacy.audit_log a;
	RETURN QUERY
		SELECT 'erasure receipt', e.id,
			   'an erasure receipt has no erasure entry in the audit log: it was added or changed by other means'
		  FROM privacy.erasures e
		 WHERE (e.erased_at OPERATOR(pg_catalog.>=) oldest_kept
				OR NOT EXISTS (SELECT FROM privacy._audit_head h WHERE h.pruned_through_id IS NOT NULL))
		   AND NOT EXISTS (
				SELECT FROM privacy.audit_log a
				 WHERE a.action OPERATOR(pg_catalog.=) 'erasure'
				   AND a.subject_ref OPERATOR(pg_catalog.=) e.subject_ref
				   AND e.receipt OPERATOR(pg_catalog.@>) (a.summary OPERATOR(pg_catalog.-) 'receipt_sha256'::text))
		 ORDER BY e.id;

	RETURN QUERY
		SELECT 'ledger state', COALESCE(cs.event_id, s.event_id),
			   pg_catalog.format('subject kind "%s", purpose "%s": the ledger says %s, privacy._ledger_state says %s',
								 COALESCE(cs.kind, s.kind),
								 CASE WHEN COALESCE(cs.purpose, s.purpose) OPERATOR(pg_catalog.=) ''
									  THEN '(restriction)' ELSE COALESCE(cs.purpose, s.purpose) END,
								 COALESCE(cs.status || ' (event ' || cs.event_id || ')', 'nothing in force'),
								 COALESCE(s.status || ' (event ' || s.event_id || ')', 'nothing in force'))
		  FROM privacy.consent_state cs
		  FULL JOIN privacy._ledger_state s
			ON s.kind OPERATOR(pg_catalog.=) cs.kind AND s.purpose OPERATOR(pg_catalog.=) cs.purpose
		   AND s.subject OPERATOR(pg_catalog.=) cs.subject
		 WHERE cs.kind IS NULL OR s.kind IS NULL
			OR s.status OPERATOR(pg_catalog.<>) cs.status OR s.event_id OPERATOR(pg_catalog.<>) cs.event_id
		 ORDER BY 2;
END
$$;
REVOKE ALL ON FUNCTION privacy.verify_evidence() FROM PUBLIC;
COMMENT ON FUNCTION privacy.verify_evidence() IS
'Every difference between the audit log and the erasure receipts, and between the consent ledger and the ledger state the row check reads';

-- verify_audit_log() keeps its result and reports, after an intact chain,
-- the first difference privacy.verify_evidence() finds.
CREATE OR REPLACE FUNCTION privacy.verify_audit_log(
	OUT intact boolean, OUT entries bigint, OUT first_broken_id bigint, OUT problem text)
RETURNS record
LANGUAGE plpgsql STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	e privacy.audit_log;
	head privacy._audit_head;
	prev bytea;
	last_id bigint;
	finding record;
	findings bigint;
BEGIN
	SELECT * INTO head FROM privacy._audit_head;
	prev := COALESCE(head.pruned_through_hash,
					 pg_catalog.sha256(pg_catalog.convert_to('opendims_privacy audit log', 'UTF8')));
	last_id := head.pruned_through_id;
	intact := true;
	entries := 0;
	FOR e IN SELECT * FROM privacy.audit_log ORDER BY id LOOP
		entries := entries + 1;
		IF e.prev_hash OPERATOR(pg_catalog.<>) prev THEN
			intact := false; first_broken_id := e.id;
			problem := 'the entry does not chain to the one before it: an entry was removed or changed';
			RETURN;
		END IF;
		IF e.hash OPERATOR(pg_catalog.<>) privacy._audit_entry_hash(e.prev_hash, e.id, e.logged_at, e.actor,
											   e.session_role, e.action, e.subject_ref,
											   e.request_id, e.summary) THEN
			intact := false; first_broken_id := e.id;
			problem := 'the entry''s contents do not match its hash: it was changed';
			RETURN;
		END IF;
		prev := e.hash;
		last_id := e.id;
	END LOOP;
	IF head.last_hash OPERATOR(pg_catalog.<>) prev OR head.last_id IS DISTINCT FROM last_id THEN
		intact := false; first_broken_id := head.last_id;
		problem := 'the newest entries are missing: the log was truncated';
		RETURN;
	END IF;
	findings := 0;
	FOR finding IN SELECT * FROM privacy.verify_evidence() LOOP
		findings := findings + 1;
		IF findings OPERATOR(pg_catalog.=) 1 THEN
			intact := false;
			first_broken_id := CASE WHEN finding.evidence OPERATOR(pg_catalog.=) 'erasure entry' THEN finding.id END;
			problem := CASE WHEN finding.evidence OPERATOR(pg_catalog.=) 'ledger state'
							THEN 'ledger state: ' || finding.problem
							ELSE pg_catalog.format('%s %s: %s', finding.evidence, finding.id, finding.problem) END;
		END IF;
	END LOOP;
	IF findings OPERATOR(pg_catalog.>) 1 THEN
		problem := pg_catalog.format('%s; %s more: privacy.verify_evidence() lists every difference',
									 problem, findings - 1);
	END IF;
END
$$;
COMMENT ON FUNCTION privacy.verify_audit_log() IS
'Recomputes the audit log''s hash chain (from the last pruning, if any) and reports the first broken link; with the chain intact, the first difference privacy.verify_evidence() finds';

-- Whether a row policy expression as pg_policy stores it is what CREATE
-- POLICY makes of an expression now (compared as pg_get_expr() shows both,
-- so spelling, a dump and restore, or a renamed column make no difference).
CREATE FUNCTION privacy._same_policy_expression(rel regclass, installed pg_catalog.pg_node_tree, expression text)
RETURNS boolean
AS 'MODULE_PATHNAME', 'privacy_same_policy_expression'
LANGUAGE C STABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp;
REVOKE ALL ON FUNCTION privacy._same_policy_expression(regclass, pg_catalog.pg_node_tree, text) FROM PUBLIC;
COMMENT ON FUNCTION privacy._same_policy_expression(regclass, pg_catalog.pg_node_tree, text) IS
'Whether an installed row policy expression (pg_policy.polqual or polwithcheck) is what CREATE POLICY makes of the given expression';

-- lint: protection installed by protect(), guard() and
-- install_retention_triggers() that a table owner weakened since: a row
-- policy rewritten (ALTER POLICY), made permissive, narrowed to some roles
-- or commands; a rectification, guard or retention trigger disabled or
-- dropped. (Row security switched off or the policy dropped:
-- privacy._lint_protection(); a missing or outdated retention trigger:
-- privacy._lint_retention_enforcement().)
CREATE FUNCTION privacy._lint_installed_protection()
RETURNS TABLE (severity text, object text, problem text, hint text)
LANGUAGE plpgsql STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	pt privacy.protected_tables;
	pol pg_catalog.pg_policy;
	qname text;
	same_using boolean;
	same_check boolean;
	tg record;
BEGIN
	FOR pt IN SELECT p.* FROM privacy.protected_tables p
				JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) p.table_name
			   ORDER BY p.table_name::text LOOP
		qname := privacy._qualified_name(pt.table_name);
		severity := 'error';
		object := qname;
		hint := pg_catalog.format('Restore it: SELECT privacy.unprotect(%1$L); SELECT privacy.protect(%1$L);', qname);
		SELECT * INTO pol FROM pg_catalog.pg_policy p
		 WHERE p.polrelid OPERATOR(pg_catalog.=) pt.table_name AND p.polname OPERATOR(pg_catalog.=) 'privacy_purpose';
		IF FOUND THEN
			IF pol.polpermissive THEN
				problem := 'policy "privacy_purpose" was made permissive: other policies can now show rows it hides';
				RETURN NEXT;
			END IF;
			IF pol.polcmd OPERATOR(pg_catalog.<>) '*' THEN
				problem := 'policy "privacy_purpose" no longer applies to every command';
				RETURN NEXT;
			END IF;
			IF pol.polroles OPERATOR(pg_catalog.<>) '{0}'::pg_catalog.oid[] THEN
				problem := 'policy "privacy_purpose" no longer applies to every role';
				RETURN NEXT;
			END IF;
			BEGIN
				same_using := privacy._same_policy_expression(pt.table_name, pol.polqual,
					privacy._protection_expr(pt.table_name, pt.kinds, 'privacy._may_process'));
				same_check := privacy._same_policy_expression(pt.table_name, pol.polwithcheck,
					privacy._protection_expr(pt.table_name, pt.kinds, 'privacy._may_write'));
			EXCEPTION WHEN OTHERS THEN
				RETURN QUERY SELECT 'warning'::text, qname,
					'policy "privacy_purpose" cannot be compared with what privacy.protect() installs: ' || SQLERRM,
					'Repair the subject map (see privacy.subject_map), then restore the protection: '
					|| pg_catalog.format('SELECT privacy.unprotect(%1$L); SELECT privacy.protect(%1$L);', qname);
				same_using := true;
				same_check := true;
			END;
			IF NOT COALESCE(same_using, false) THEN
				problem := pg_catalog.format('policy "privacy_purpose" was changed: it shows the rows where %s',
											 COALESCE(pg_catalog.pg_get_expr(pol.polqual, pol.polrelid), 'true'));
				RETURN NEXT;
			END IF;
			IF NOT COALESCE(same_check, false) THEN
				problem := pg_catalog.format('policy "privacy_purpose" was changed: it accepts the rows written where %s',
											 COALESCE(pg_catalog.pg_get_expr(pol.polwithcheck, pol.polrelid),
													  pg_catalog.pg_get_expr(pol.polqual, pol.polrelid), 'true'));
				RETURN NEXT;
			END IF;
		END IF;
		SELECT t.tgenabled INTO tg FROM pg_catalog.pg_trigger t
		 WHERE t.tgrelid OPERATOR(pg_catalog.=) pt.table_name
		   AND t.tgname OPERATOR(pg_catalog.=) 'privacy_rectification'
		   AND t.tgfoid OPERATOR(pg_catalog.=) 'privacy._audit_rectification()'::pg_catalog.regprocedure;
		-- protect() installs the trigger only on a table holding personal data
		-- (a table protected for its path alone has none).
		IF NOT FOUND AND EXISTS (SELECT FROM privacy.classified_columns cc
								  WHERE cc.table_name OPERATOR(pg_catalog.=) pt.table_name) THEN
			problem := 'trigger "privacy_rectification" was dropped: rectifications are no longer audited';
			RETURN NEXT;
		ELSIF tg.tgenabled OPERATOR(pg_catalog.=) ANY ('{D,R}'::"char"[]) THEN
			problem := 'trigger "privacy_rectification" is disabled: rectifications are not audited';
			hint := pg_catalog.format('ALTER TABLE %s ENABLE TRIGGER privacy_rectification;', qname);
			RETURN NEXT;
		END IF;
	END LOOP;

	RETURN QUERY
		SELECT 'error', privacy._qualified_name(t.tgrelid),
			   pg_catalog.format('trigger "%s" is disabled: %s', t.tgname,
								 CASE WHEN t.tgfoid OPERATOR(pg_catalog.=) 'privacy._guard_trigger()'::pg_catalog.regprocedure
									  THEN 'the sensitive-data guard lets CPR and card numbers in'
									  ELSE 'the retention guard no longer keeps rows under their legal minimum' END),
			   pg_catalog.format('ALTER TABLE %s ENABLE TRIGGER %I;', privacy._qualified_name(t.tgrelid), t.tgname)
		  FROM pg_catalog.pg_trigger t
		 WHERE t.tgfoid OPERATOR(pg_catalog.=) ANY (ARRAY['privacy._guard_trigger()'::pg_catalog.regprocedure,
														  'privacy._retention_guard()'::pg_catalog.regprocedure]::pg_catalog.oid[])
		   AND t.tgparentid OPERATOR(pg_catalog.=) 0
		   AND t.tgenabled OPERATOR(pg_catalog.=) ANY ('{D,R}'::"char"[])
		 ORDER BY 2, t.tgname;
END
$$;
REVOKE ALL ON FUNCTION privacy._lint_installed_protection() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION privacy._lint_installed_protection() TO PUBLIC;
COMMENT ON FUNCTION privacy._lint_installed_protection() IS
'lint: row policies, rectification, guard and retention triggers that a table owner changed, disabled or dropped since the extension installed them';

------------------------------------------------------------------------------
-- Pseudonyms are computed by the roles granted it
------------------------------------------------------------------------------

-- A pseudonym is a keyed hash: whoever may compute it can test guesses (a
-- phone number space, an IPv4 range, likely e-mail addresses) against a
-- pseudonym it sees, without the key. Computing pseudonyms is therefore
-- granted to the roles that produce them, not to PUBLIC.
REVOKE ALL ON FUNCTION privacy.pseudonymize(privacy.email),
	privacy.pseudonymize(privacy.phone),
	privacy.pseudonymize(privacy.ip_address)
	FROM PUBLIC;
------------------------------------------------------------------------------
-- The tables a policy may name
--
-- apply_policy() writes the catalog as the extension's owner, and what the
-- catalog names, the retention job (run by a superuser from pg_cron)
-- deletes and rewrites and export reads. So the document's tables are
-- checked: apply_policy() (C, src/policy_document.c) refuses system
-- catalogs, the information schema, TOAST tables, the extension's own
-- tables and temporary tables, and subject keys that are not NOT NULL and
-- unique on their own; and privacy._apply_document() refuses a document
-- that adds, changes or removes a subject kind, path, classification or
-- retention rule of a table the caller does not own (is not a member of
-- its owner role). Entries the document leaves as they are need no such
-- right, so that a role granted apply_policy may change the parts of the
-- policy that are its own, or that name no table, without owning every
-- table the policy names.
--
-- A table the catalog names may still be dropped or change afterwards:
-- the retention job then skips its rules and records why in its run
-- (status "skipped"), going on with the others, and lint() reports it.
------------------------------------------------------------------------------

-- Every catalog entry that names a table, as the table and the entry's text
-- (two states of the catalog differ for a table exactly when these differ).
CREATE FUNCTION privacy._policy_table_entries()
RETURNS TABLE (table_name oid, entry text)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT k.table_name::oid, pg_catalog.format('subject kind %s', pg_catalog.to_jsonb(k))
	  FROM privacy.subject_kinds k
	UNION ALL
	SELECT p.table_name::oid, pg_catalog.format('path %s', pg_catalog.to_jsonb(p))
	  FROM privacy.subject_paths p
	UNION ALL
	SELECT c.table_name::oid, pg_catalog.format('classification %s', pg_catalog.to_jsonb(c))
	  FROM privacy.classifications c
	UNION ALL
	SELECT r.table_name::oid, pg_catalog.format('retention rule %s', pg_catalog.to_jsonb(r))
	  FROM privacy.retention_rules r;
END;
REVOKE ALL ON FUNCTION privacy._policy_table_entries() FROM PUBLIC;
COMMENT ON FUNCTION privacy._policy_table_entries() IS
'Every subject kind, path, classification and retention rule of the catalog, with the table it names';

-- Raises an error if the catalog differs from before (entries as
-- privacy._policy_table_entries() gave them, as a JSON array of
-- {"table_name", "entry"}) for a table that actor does not own.
CREATE FUNCTION privacy._check_policy_owners(before jsonb, actor name)
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	denied regclass;
BEGIN
	SELECT c.oid::regclass INTO denied
	  FROM (SELECT d.table_name
			  FROM (SELECT b.table_name, b.entry
					  FROM pg_catalog.jsonb_to_recordset(before) AS b(table_name oid, entry text)
					EXCEPT
					SELECT e.table_name, e.entry FROM privacy._policy_table_entries() e
					UNION
					(SELECT e.table_name, e.entry FROM privacy._policy_table_entries() e
					 EXCEPT
					 SELECT b.table_name, b.entry
					   FROM pg_catalog.jsonb_to_recordset(before) AS b(table_name oid, entry text))) d) changed
	  JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) changed.table_name
	 WHERE NOT pg_catalog.pg_has_role(actor, c.relowner, 'USAGE')
	 ORDER BY c.oid
	 LIMIT 1;
	IF FOUND THEN
		RAISE EXCEPTION 'permission denied to change the policy of table %', privacy._qualified_name(denied)
			USING ERRCODE = 'insufficient_privilege',
				  DETAIL = 'The document adds, changes or removes a subject kind, path, classification or retention rule of this table; only a member of the role that owns a table may change what the policy declares about it.',
				  HINT = 'Leave the entries of this table as privacy.policy() has them, or have the table''s owner apply the document.';
	END IF;
END
$$;
REVOKE ALL ON FUNCTION privacy._check_policy_owners(jsonb, name) FROM PUBLIC;
COMMENT ON FUNCTION privacy._check_policy_owners(jsonb, name) IS
'Raises an error if a policy change touches the entries of a table the actor does not own';

-- As in 1.0, and the catalog's entries of a table change only if the actor
-- owns the table.
CREATE OR REPLACE FUNCTION privacy._apply_document(doc jsonb, tables jsonb, actor name)
RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	before jsonb;
	after jsonb;
	changes jsonb;
	before_entries jsonb;
BEGIN
	-- One policy change at a time; readers are not blocked.
	LOCK TABLE privacy.policy_versions IN SHARE ROW EXCLUSIVE MODE;

	before := privacy.policy();
	before_entries := COALESCE((SELECT pg_catalog.jsonb_agg(e) FROM privacy._policy_table_entries() e), '[]');
	PERFORM privacy._write_catalog(doc, tables);
	PERFORM privacy._check_policy_owners(before_entries, actor);
	PERFORM privacy._check_catalog();
	after := privacy._catalog_document(doc);
	changes := privacy._document_changes(before, after);

	IF changes OPERATOR(pg_catalog.=) '{}'::pg_catalog.jsonb THEN
		RETURN pg_catalog.jsonb_build_object('changed', false, 'version', after OPERATOR(pg_catalog.->) 'version');
	END IF;

	IF EXISTS (SELECT FROM privacy.policy_versions v
				WHERE v.version OPERATOR(pg_catalog.=) (after OPERATOR(pg_catalog.->>) 'version')
				  AND v.document OPERATOR(pg_catalog.<>) after) THEN
		RAISE EXCEPTION 'policy version "%" was already applied with different content', after OPERATOR(pg_catalog.->>) 'version'
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = 'Consent given under a policy version must be traceable to exactly one text.',
				  HINT = 'Give the changed document a new "version".';
	END IF;

	INSERT INTO privacy.policy_versions (version, effective_date, document, applied_by)
	VALUES (after OPERATOR(pg_catalog.->>) 'version', (after OPERATOR(pg_catalog.->>) 'effective_date')::pg_catalog.date, after, actor);

	PERFORM privacy._audit(actor, 'policy.apply', NULL, NULL, NULL,
						   pg_catalog.jsonb_build_object('version', after OPERATOR(pg_catalog.->) 'version',
														 'previous_version', before OPERATOR(pg_catalog.->) 'version',
														 'changes', changes));

	RETURN pg_catalog.jsonb_build_object('changed', true,
										 'version', after OPERATOR(pg_catalog.->) 'version',
										 'previous_version', before OPERATOR(pg_catalog.->) 'version',
										 'changes', changes);
END
$$;

-- Why the retention job cannot enforce a rule on its table as it is now
-- (the table was dropped, is temporary or not a table, or a column is
-- missing or of the wrong type), or NULL if it can.
CREATE FUNCTION privacy._retention_rule_problem(rule privacy.retention_rules)
RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	rel record;
BEGIN
	SELECT c.relkind, c.relpersistence, n.nspname INTO rel
	  FROM pg_catalog.pg_class c
	  JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace
	 WHERE c.oid OPERATOR(pg_catalog.=) rule.table_name::oid;
	IF NOT FOUND THEN
		RETURN 'its table was dropped';
	ELSIF rel.relpersistence OPERATOR(pg_catalog.=) 't' THEN
		RETURN 'its table is a temporary table';
	ELSIF rel.relkind OPERATOR(pg_catalog.<>) ALL (ARRAY['r', 'p']::"char"[]) THEN
		RETURN 'it names a relation that is not a table';
	ELSIF rel.nspname OPERATOR(pg_catalog.=) ANY (ARRAY['pg_catalog', 'information_schema', 'pg_toast', 'privacy']::name[]) THEN
		RETURN pg_catalog.format('its table is in schema %s, which a policy cannot name', rel.nspname);
	END IF;
	BEGIN
		PERFORM privacy._retention_rule_sql(rule);
	EXCEPTION WHEN undefined_column OR datatype_mismatch THEN
		RETURN SQLERRM;
	END;
	RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION privacy._retention_rule_problem(privacy.retention_rules) FROM PUBLIC;
COMMENT ON FUNCTION privacy._retention_rule_problem(privacy.retention_rules) IS
'Why a retention rule cannot be enforced on its table as it is now, or NULL if it can';

-- As in 1.3, without the rules that cannot be enforced now (the job skips
-- them; privacy._retention_run_start() records them).
CREATE OR REPLACE FUNCTION privacy._retention_order()
RETURNS TABLE (rule_name text, table_name regclass, height integer)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	WITH RECURSIVE usable AS MATERIALIZED (
		SELECT rr.* FROM privacy.retention_rules rr
		 WHERE privacy._retention_rule_problem(rr) IS NULL
	), down(rel, start, depth, visited) AS (
		SELECT DISTINCT u.table_name::oid, u.table_name::oid, 0, ARRAY[u.table_name::oid]
		  FROM usable u
		UNION ALL
		SELECT c.conrelid, d.start, d.depth OPERATOR(pg_catalog.+) 1, d.visited OPERATOR(pg_catalog.||) c.conrelid
		  FROM down d
		  JOIN pg_catalog.pg_constraint c ON c.contype OPERATOR(pg_catalog.=) 'f' AND c.confrelid OPERATOR(pg_catalog.=) d.rel
		 WHERE c.conrelid OPERATOR(pg_catalog.<>) ALL (d.visited) AND d.depth OPERATOR(pg_catalog.<) 8
	), heights AS (
		SELECT d.start, pg_catalog.max(d.depth) AS height FROM down d GROUP BY d.start
	)
	SELECT u.name, u.table_name, h.height::integer
	  FROM usable u
	  JOIN heights h ON h.start OPERATOR(pg_catalog.=) u.table_name::oid
	 ORDER BY h.height, u.table_name::oid, u.action OPERATOR(pg_catalog.=) 'delete', u.name;
END;

-- The run's start records a rule that cannot be enforced now as skipped,
-- with the reason, instead of failing the whole run, and the status view
-- shows it without counts (both are defined above, with the lock timeout).

-- Catalog entries on tables a policy may not name (left by an earlier
-- version, which did not refuse them), subject keys that no longer name one
-- row, and retention rules the job skips because their table was dropped.
CREATE FUNCTION privacy._lint_policy_tables()
RETURNS TABLE (severity text, object text, problem text, hint text)
LANGUAGE sql STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT DISTINCT 'error', privacy._qualified_name(c.oid::regclass),
		   CASE WHEN c.relpersistence OPERATOR(pg_catalog.=) 't'
				THEN 'is a temporary table named by the policy'
				ELSE pg_catalog.format('is in schema %s, which a policy cannot name', n.nspname) END,
		   'Remove its entries from the policy document and apply it again: the retention job skips them, and export must not read them.'
	  FROM privacy._policy_table_entries() e
	  JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) e.table_name
	  JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace
	 WHERE c.relpersistence OPERATOR(pg_catalog.=) 't'
		OR n.nspname OPERATOR(pg_catalog.=) ANY (ARRAY['pg_catalog', 'information_schema', 'pg_toast', 'privacy']::name[])
	UNION ALL
	SELECT 'error', pg_catalog.format('%s(%I)', privacy._qualified_name(k.table_name), k.key_column),
		   pg_catalog.format('key of subject kind "%s" %s', k.name,
							 CASE WHEN NOT a.attnotnull THEN 'allows NULL'
								  ELSE 'is not unique on its own' END),
		   pg_catalog.format('Export and erasure treat every row sharing a key value as one subject: restore the constraint (ALTER TABLE %s ADD UNIQUE (%I), and SET NOT NULL), or declare another key.',
							 privacy._qualified_name(k.table_name), k.key_column)
	  FROM privacy.subject_kinds k
	  JOIN pg_catalog.pg_attribute a ON a.attrelid OPERATOR(pg_catalog.=) k.table_name
									AND a.attname OPERATOR(pg_catalog.=) k.key_column
									AND a.attnum OPERATOR(pg_catalog.>) 0 AND NOT a.attisdropped
	 WHERE NOT a.attnotnull
		OR NOT EXISTS (SELECT FROM pg_catalog.pg_index i
						WHERE i.indrelid OPERATOR(pg_catalog.=) k.table_name
						  AND i.indisunique AND i.indimmediate AND i.indisvalid
						  AND i.indnkeyatts OPERATOR(pg_catalog.=) 1
						  AND i.indkey[0] OPERATOR(pg_catalog.=) a.attnum
						  AND i.indpred IS NULL AND i.indexprs IS NULL)
	UNION ALL
	SELECT 'error', pg_catalog.format('retention rule "%s"', rr.name),
		   pg_catalog.format('is skipped by the retention job: %s', privacy._retention_rule_problem(rr)),
		   'Apply a policy document that matches the schema, or restore the table.'
	  FROM privacy.retention_rules rr
	 WHERE NOT EXISTS (SELECT FROM pg_catalog.pg_class c WHERE c.oid OPERATOR(pg_catalog.=) rr.table_name::oid);
END;
REVOKE ALL ON FUNCTION privacy._lint_policy_tables() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION privacy._lint_policy_tables() TO PUBLIC;
COMMENT ON FUNCTION privacy._lint_policy_tables() IS
'lint: policy entries on temporary or system tables, subject keys that are not NOT NULL and unique on their own, retention rules whose table was dropped';

------------------------------------------------------------------------------
-- Row security for partitions, inheritance children and erased subjects
--
-- A query names a partition or an inheritance child directly and reads it
-- under its own row policies, not its parent's: protect() now protects
-- every partition and child of a protected table (recursively) with the
-- parent's check, along the parent's subject path; an event trigger
-- protects the ones created, attached or made children later; unprotect()
-- releases them; lint() reports one left open. The write check refuses a
-- row of an erased subject (reading the kept, anonymised rows stays as it
-- was), so it learns of every erasure as it learns of consent changes; and
-- lint() reports a subject path that begins with a nullable foreign key
-- while another path to the same kind exists, since a row with that key
-- NULL belongs to no subject along the path though it belongs to one.
------------------------------------------------------------------------------

COMMENT ON FUNCTION privacy._may_write(text, bigint, boolean) IS
'Row policy write check: true, or one error (naming the purpose, not the subject''s status) if the current purpose may not process this subject''s data or the subject was erased';
COMMENT ON FUNCTION privacy._may_write(text, text, boolean) IS
'Row policy write check: true, or one error (naming the purpose, not the subject''s status) if the current purpose may not process this subject''s data or the subject was erased';

-- An erasure receipt changes what the write check allows.
CREATE TRIGGER invalidate_consent_cache
	AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON privacy.erasures
	FOR EACH STATEMENT EXECUTE FUNCTION privacy._invalidate_consent_cache();
CREATE TRIGGER invalidate_consent_cache_on_apply
	AFTER INSERT OR UPDATE OR DELETE ON privacy.erasures
	FOR EACH ROW EXECUTE FUNCTION privacy._invalidate_consent_cache();
ALTER TABLE privacy.erasures ENABLE REPLICA TRIGGER invalidate_consent_cache_on_apply;

ALTER TABLE privacy.protected_tables ADD COLUMN child_of regclass;
COMMENT ON COLUMN privacy.protected_tables.child_of IS
'For a partition or inheritance child protected with its ancestor: that protected ancestor, whose subject path and kinds its policies check; released with it';

-- The row policy expression of row_rel checking every subject kind in kinds
-- along the subject path of path_rel: row_rel is path_rel itself, or a
-- partition or inheritance child of it, whose rows have path_rel's columns
-- and reach its subjects the way path_rel's rows do. A row whose first
-- foreign key on the path is NULL belongs to no subject of that kind (owned
-- is false); a row whose parent the querying role cannot see has a NULL key
-- and is hidden.
CREATE FUNCTION privacy._protection_expr(path_rel regclass, kinds text[], check_fn text, row_rel regclass)
RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	k privacy.subject_kinds;
	relname name;
	alias text;
	hops oid[];
	hop privacy.foreign_keys;
	key_type regtype;
	guard text;
	terms text[] := '{}';
BEGIN
	SELECT c.relname INTO STRICT relname FROM pg_catalog.pg_class c WHERE c.oid OPERATOR(pg_catalog.=) row_rel;
	alias := pg_catalog.quote_ident(relname);
	FOR k IN SELECT * FROM privacy.subject_kinds sk WHERE sk.name OPERATOR(pg_catalog.=) ANY (kinds) ORDER BY sk.name LOOP
		hops := privacy._subject_path(k.name, path_rel);
		SELECT a.atttypid::pg_catalog.regtype INTO STRICT key_type
		  FROM pg_catalog.pg_attribute a
		 WHERE a.attrelid OPERATOR(pg_catalog.=) k.table_name AND a.attname OPERATOR(pg_catalog.=) k.key_column
		   AND NOT a.attisdropped;
		guard := NULL;
		IF pg_catalog.cardinality(hops) OPERATOR(pg_catalog.>) 0 THEN
			SELECT * INTO STRICT hop FROM privacy.foreign_keys f WHERE f.constraint_oid OPERATOR(pg_catalog.=) hops[1];
			SELECT pg_catalog.string_agg(pg_catalog.format('%s.%I IS NULL', alias, c), ' OR ')
			  INTO guard FROM pg_catalog.unnest(hop.from_columns) c;
		END IF;
		terms := terms OPERATOR(pg_catalog.||) pg_catalog.format('%s(%L, (%s)::%s%s)',
			check_fn, k.name, privacy._subject_key_sql(k.name, path_rel, relname),
			CASE WHEN key_type OPERATOR(pg_catalog.=) ANY (ARRAY['smallint', 'integer', 'bigint']::pg_catalog.regtype[])
				 THEN 'bigint' ELSE 'text' END,
			CASE WHEN guard IS NOT NULL THEN ', NOT (' OPERATOR(pg_catalog.||) guard OPERATOR(pg_catalog.||) ')' ELSE '' END);
	END LOOP;
	RETURN pg_catalog.array_to_string(terms, ' AND ');
END
$$;
REVOKE ALL ON FUNCTION privacy._protection_expr(regclass, text[], text, regclass) FROM PUBLIC;
COMMENT ON FUNCTION privacy._protection_expr(regclass, text[], text, regclass) IS
'The row policy expression of a table (or of a partition or child of it) checking every subject kind along the table''s subject path';

CREATE OR REPLACE FUNCTION privacy._protection_expr(rel regclass, kinds text[], check_fn text)
RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
RETURN privacy._protection_expr(rel, kinds, check_fn, rel);

-- The rectification trigger of a partitioned table is cloned onto its
-- partitions with the same arguments, written for the partitioned table's
-- name: privacy._audit_rectification() (under "Evidence" above) names the
-- row after the table the trigger was created on.

-- Protects, with the check of their protected ancestor along its subject
-- path, every partition and inheritance child (at any depth) of a
-- protected table (of that one only, unless of is NULL) that is not
-- protected itself; with check_owner, refuses one the acting role does not
-- own. Returns the tables it protected.
CREATE FUNCTION privacy._protect_children(check_owner boolean, of regclass)
RETURNS regclass[]
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	c record;
	trigger_args text;
	k text;
	added regclass[] := '{}';
BEGIN
	FOR c IN
		WITH RECURSIVE descendant(root, child, depth) AS (
			SELECT pt.table_name::pg_catalog.oid, i.inhrelid, 1
			  FROM privacy.protected_tables pt
			  JOIN pg_catalog.pg_inherits i ON i.inhparent OPERATOR(pg_catalog.=) pt.table_name
			 WHERE pt.child_of IS NULL AND (of IS NULL OR pt.table_name OPERATOR(pg_catalog.=) of)
			UNION
			SELECT d.root, i.inhrelid, d.depth OPERATOR(pg_catalog.+) 1
			  FROM descendant d JOIN pg_catalog.pg_inherits i ON i.inhparent OPERATOR(pg_catalog.=) d.child
			 WHERE d.depth OPERATOR(pg_catalog.<) 32
		)
		SELECT DISTINCT ON (d.child) d.child::pg_catalog.regclass AS child, d.root::pg_catalog.regclass AS root,
			   pt.kinds, cls.relowner, cls.relname, cls.relrowsecurity, cls.relforcerowsecurity, cls.relispartition
		  FROM descendant d
		  JOIN privacy.protected_tables pt ON pt.table_name OPERATOR(pg_catalog.=) d.root
		  JOIN pg_catalog.pg_class cls ON cls.oid OPERATOR(pg_catalog.=) d.child
		 WHERE NOT EXISTS (SELECT FROM privacy.protected_tables st WHERE st.table_name OPERATOR(pg_catalog.=) d.child)
		 ORDER BY d.child, d.depth
	LOOP
		-- The event trigger may have protected it meanwhile (see below).
		IF EXISTS (SELECT FROM privacy.protected_tables st WHERE st.table_name OPERATOR(pg_catalog.=) c.child) THEN
			CONTINUE;
		END IF;
		IF check_owner AND NOT pg_catalog.pg_has_role(privacy._acting_role(), c.relowner, 'USAGE') THEN
			RAISE EXCEPTION 'must be owner of table %', privacy._qualified_name(c.child)
				USING ERRCODE = 'insufficient_privilege',
					  DETAIL = pg_catalog.format('It is a partition or child of protected table %s, whose rows it holds.',
												 privacy._qualified_name(c.root));
		END IF;
		-- Registered first: the statements below fire the event trigger
		-- that calls this function, which must find nothing left to do.
		INSERT INTO privacy.protected_tables (table_name, kinds, base_policy, had_row_security,
											  had_force_row_security, protected_by, path_only, child_of)
		VALUES (c.child, c.kinds, NOT c.relrowsecurity, c.relrowsecurity, c.relforcerowsecurity,
				privacy._acting_role(), false, c.root);
		EXECUTE pg_catalog.format('CREATE POLICY privacy_purpose ON %s AS RESTRICTIVE FOR ALL TO PUBLIC USING (%s) WITH CHECK (%s)',
								  privacy._qualified_name(c.child),
								  privacy._protection_expr(c.root, c.kinds, 'privacy._may_process', c.child),
								  privacy._protection_expr(c.root, c.kinds, 'privacy._may_write', c.child));
		IF NOT c.relrowsecurity THEN
			EXECUTE pg_catalog.format('CREATE POLICY privacy_rows ON %s AS PERMISSIVE FOR ALL TO PUBLIC USING (true) WITH CHECK (true)',
									  privacy._qualified_name(c.child));
		END IF;
		EXECUTE pg_catalog.format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY',
								  privacy._qualified_name(c.child));
		-- A partition has the clone of its partitioned table's trigger; an
		-- inheritance child gets its own.
		IF EXISTS (SELECT FROM pg_catalog.pg_trigger t
					WHERE t.tgrelid OPERATOR(pg_catalog.=) c.root AND t.tgname OPERATOR(pg_catalog.=) 'privacy_rectification')
		   AND NOT EXISTS (SELECT FROM pg_catalog.pg_trigger t
							WHERE t.tgrelid OPERATOR(pg_catalog.=) c.child
							  AND t.tgname OPERATOR(pg_catalog.=) 'privacy_rectification') THEN
			trigger_args := '';
			FOREACH k IN ARRAY c.kinds LOOP
				trigger_args := trigger_args OPERATOR(pg_catalog.||)
					pg_catalog.format('%s%L, %L', CASE WHEN trigger_args OPERATOR(pg_catalog.=) '' THEN '' ELSE ', ' END,
									  k, privacy._subject_key_sql(k, c.root, c.relname));
			END LOOP;
			EXECUTE pg_catalog.format('CREATE TRIGGER privacy_rectification AFTER UPDATE ON %s FOR EACH ROW EXECUTE FUNCTION privacy._audit_rectification(%s)',
									  privacy._qualified_name(c.child), trigger_args);
		END IF;
		added := added OPERATOR(pg_catalog.||) c.child;
	END LOOP;
	RETURN added;
END
$$;
REVOKE ALL ON FUNCTION privacy._protect_children(boolean, regclass) FROM PUBLIC;
COMMENT ON FUNCTION privacy._protect_children(boolean, regclass) IS
'Protects every partition and inheritance child of a protected table with its ancestor''s check; returns those it protected';

-- Releases the partitions and children protected with an ancestor that is
-- no longer protected (and forgets those dropped since); returns them.
CREATE FUNCTION privacy._release_children()
RETURNS regclass[]
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	rel regclass;
	released regclass[] := '{}';
BEGIN
	FOR rel IN
		SELECT pt.table_name FROM privacy.protected_tables pt
		 WHERE pt.child_of IS NOT NULL
		   AND NOT EXISTS (SELECT FROM privacy.protected_tables a
							WHERE a.table_name OPERATOR(pg_catalog.=) pt.child_of)
		 ORDER BY pt.table_name
	LOOP
		IF EXISTS (SELECT FROM pg_catalog.pg_class c WHERE c.oid OPERATOR(pg_catalog.=) rel) THEN
			PERFORM privacy._remove_protection(rel);
			released := released OPERATOR(pg_catalog.||) rel;
		ELSE
			DELETE FROM privacy.protected_tables pt WHERE pt.table_name OPERATOR(pg_catalog.=) rel;
		END IF;
	END LOOP;
	RETURN released;
END
$$;
REVOKE ALL ON FUNCTION privacy._release_children() FROM PUBLIC;
COMMENT ON FUNCTION privacy._release_children() IS
'Unprotects the partitions and inheritance children whose protected ancestor is no longer protected; returns them';

-- Event trigger: a table created as a partition or child of a protected
-- table, attached to one, or made a child of one (all of which need the
-- ownership of the protected table) is protected with it in the same
-- statement. Runs as the extension's owner, which writes the registry.
CREATE FUNCTION privacy._protect_new_children()
RETURNS event_trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	added regclass[];
BEGIN
	IF NOT EXISTS (SELECT FROM privacy.protected_tables pt
					JOIN pg_catalog.pg_inherits i ON i.inhparent OPERATOR(pg_catalog.=) pt.table_name
				   WHERE NOT EXISTS (SELECT FROM privacy.protected_tables st
									  WHERE st.table_name OPERATOR(pg_catalog.=) i.inhrelid)) THEN
		RETURN;
	END IF;
	added := privacy._protect_children(false, NULL);
	IF pg_catalog.cardinality(added) OPERATOR(pg_catalog.>) 0 THEN
		PERFORM privacy._audit(privacy._acting_role(), 'protect', NULL, NULL, NULL,
							   pg_catalog.jsonb_build_object('children', privacy._qualified_names(added)));
	END IF;
END
$$;
REVOKE ALL ON FUNCTION privacy._protect_new_children() FROM PUBLIC;
COMMENT ON FUNCTION privacy._protect_new_children() IS
'Event trigger: protects a new partition or inheritance child of a protected table with it';

CREATE EVENT TRIGGER privacy_protect_new_children ON ddl_command_end
	WHEN TAG IN ('CREATE TABLE', 'ALTER TABLE')
	EXECUTE FUNCTION privacy._protect_new_children();

-- A partition or inheritance child (at any depth) of a protected table that
-- is not protected: a query that names it reads its rows unchecked.
CREATE FUNCTION privacy._lint_children()
RETURNS TABLE (severity text, object text, problem text, hint text)
LANGUAGE sql STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	WITH RECURSIVE descendant(root, child, depth) AS (
		SELECT pt.table_name::pg_catalog.oid, i.inhrelid, 1
		  FROM privacy.protected_tables pt
		  JOIN pg_catalog.pg_inherits i ON i.inhparent OPERATOR(pg_catalog.=) pt.table_name
		 WHERE pt.child_of IS NULL
		UNION
		SELECT d.root, i.inhrelid, d.depth OPERATOR(pg_catalog.+) 1
		  FROM descendant d JOIN pg_catalog.pg_inherits i ON i.inhparent OPERATOR(pg_catalog.=) d.child
		 WHERE d.depth OPERATOR(pg_catalog.<) 32
	)
	SELECT DISTINCT ON (d.child) 'error', privacy._qualified_name(d.child::pg_catalog.regclass),
		   pg_catalog.format('is a %s of protected table %s but is not protected: a query that names it reads every row',
							 CASE WHEN c.relispartition THEN 'partition' ELSE 'child' END,
							 privacy._qualified_name(d.root::pg_catalog.regclass)),
		   pg_catalog.format('Protect it with its parent: SELECT privacy.protect(%L);',
							 privacy._qualified_name(d.root::pg_catalog.regclass))
	  FROM descendant d
	  JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) d.child
	 WHERE NOT EXISTS (SELECT FROM privacy.protected_tables st WHERE st.table_name OPERATOR(pg_catalog.=) d.child)
	 ORDER BY d.child, d.depth;
END;
REVOKE ALL ON FUNCTION privacy._lint_children() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION privacy._lint_children() TO PUBLIC;
COMMENT ON FUNCTION privacy._lint_children() IS
'lint: partitions and inheritance children of a protected table that are not protected';

-- A table whose subject path begins with a foreign key that may be NULL
-- while another of its foreign keys also leads to the kind: a row with the
-- path's key NULL counts as no subject's (every purpose sees it, export
-- and erasure pass it by) though the other key makes it a subject's.
CREATE FUNCTION privacy._lint_nullable_paths()
RETURNS TABLE (severity text, object text, problem text, hint text)
LANGUAGE sql STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	WITH paths AS MATERIALIZED (SELECT * FROM privacy._subject_paths())
	SELECT 'error', privacy._qualified_name(p.table_name),
		   pg_catalog.format('reaches subject kind "%s" through foreign key "%s", whose columns may be NULL, while its foreign key "%s" also leads to that kind: a row with the first NULL and the second set belongs to no subject for row security, export and erasure',
							 p.kind, f.constraint_name, other.constraint_name),
		   pg_catalog.format('Make %s NOT NULL, or pin the path of %s for kind "%s" through a foreign key that is never NULL.',
							 pg_catalog.array_to_string(f.from_columns, ', '), privacy._qualified_name(p.table_name), p.kind)
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
REVOKE ALL ON FUNCTION privacy._lint_nullable_paths() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION privacy._lint_nullable_paths() TO PUBLIC;
COMMENT ON FUNCTION privacy._lint_nullable_paths() IS
'lint: subject paths that begin with a nullable foreign key while another foreign key leads to the same kind';

------------------------------------------------------------------------------
-- Unsubscribing: nothing raw about an erased subject, no replays
------------------------------------------------------------------------------

-- Up to 1.7 a kept unsubscribe token still worked after its subject was
-- erased: the withdrawal went into the append-only ledger under the raw
-- key (for a kind keyed by e-mail address, the address, for good), with
-- forgotten = false and no effect on the state the erasure had moved to
-- the subject's reference. And each replay of a valid token appended one
-- more ledger event and one more audit entry.
--
-- Now the ledger never records an event under the raw key of a subject
-- that was erased and does not exist any more: withdraw_consent() refuses
-- it (grant_consent(), object(), restrict() and lift_restriction() need an
-- existing subject already), and unsubscribe() answers that there is
-- nothing to withdraw and records nothing. (A subject the application
-- deleted without erase_subject() is still in the ledger under its key; a
-- withdrawal for it is recorded as before.) A subject that exists again
-- under an erased key (a new customer with the e-mail address of an erased
-- one) is a subject like any other. Unsubscribing when the last event for
-- the purpose is a withdrawal already changes nothing either: no ledger
-- event, no audit entry. withdraw_consent() called by the application still
-- records every withdrawal it is given: an authorised role may have reason
-- to record a repeated withdrawal as evidence.

-- Whether a subject (canonical key) was erased and does not exist now. The
-- anchor table is read only for a subject that has an erasure receipt: a
-- withdrawal or unsubscribe of any other subject goes through while another
-- session keeps the anchor table locked.
CREATE FUNCTION privacy._subject_erased(kind text, subject text)
RETURNS boolean
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF NOT EXISTS (SELECT FROM privacy.erasures e
					WHERE e.kind OPERATOR(pg_catalog.=) _subject_erased.kind
					  AND e.subject_ref OPERATOR(pg_catalog.=) privacy.subject_ref(_subject_erased.kind, subject)) THEN
		RETURN false;
	END IF;
	RETURN NOT privacy._subject_exists(kind, subject, false);
END
$$;
REVOKE ALL ON FUNCTION privacy._subject_erased(text, text) FROM PUBLIC;
COMMENT ON FUNCTION privacy._subject_erased(text, text) IS
'Whether a subject, given by its canonical key, was erased and does not exist now';

-- As before, and a withdrawal for an erased subject is refused before
-- anything is written.
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
	key := privacy._canonical_subject(kind, subject, action OPERATOR(pg_catalog.<>) 'consent.withdraw');
	IF action OPERATOR(pg_catalog.=) ANY (ARRAY['consent.grant', 'consent.withdraw']) THEN
		p := privacy._require_purpose(purpose, ARRAY['consent'],
									  CASE action WHEN 'consent.grant' THEN 'record consent for'
												  ELSE 'withdraw consent for' END);
	ELSIF action OPERATOR(pg_catalog.=) 'objection' THEN
		p := privacy._require_purpose(purpose, ARRAY['legitimate_interest'], 'record an objection to');
	END IF;
	IF source IS NULL OR NOT EXISTS (SELECT FROM privacy.sources s WHERE s.name OPERATOR(pg_catalog.=) source) THEN
		RAISE EXCEPTION 'unrecognized source "%"', source
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Sources are declared by the policy document; privacy.sources lists them.';
	END IF;
	IF evidence IS NULL OR pg_catalog.jsonb_typeof(evidence) OPERATOR(pg_catalog.<>) 'object' THEN
		RAISE EXCEPTION 'evidence must be a JSON object'
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Describe how the event was captured, for example {"form": "signup", "text_version": "3"}.';
	END IF;

	PERFORM privacy._lock_subject('consent_ledger', kind, key);
	IF action OPERATOR(pg_catalog.=) 'consent.withdraw' AND privacy._subject_erased(kind, key) THEN
		RAISE EXCEPTION 'cannot withdraw consent for a subject of kind "%" that was erased', kind
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  DETAIL = 'The erasure ended every consent of the subject; the ledger keeps its events under the subject''s reference only.',
				  HINT = 'privacy.erasures holds the receipt of the erasure.';
	END IF;
	IF action OPERATOR(pg_catalog.=) 'restriction.lift' AND NOT EXISTS (
			SELECT FROM privacy._ledger_state s
			 WHERE s.kind OPERATOR(pg_catalog.=) $2 AND s.purpose OPERATOR(pg_catalog.=) ''
			   AND s.subject OPERATOR(pg_catalog.=) key) THEN
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

CREATE OR REPLACE FUNCTION privacy.unsubscribe(token text)
RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	claim record;
	key text;
	last_action text;
	result jsonb;
BEGIN
	IF token IS NULL THEN
		RAISE EXCEPTION 'unsubscribe token must not be null'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	SELECT * INTO STRICT claim FROM privacy._verify_unsubscribe_token(token);
	key := privacy._canonical_subject(claim.kind, claim.subject, false);
	result := pg_catalog.jsonb_build_object('kind', claim.kind, 'purpose', claim.purpose);
	-- Under the subject's ledger lock, so that two replays of a token
	-- record one withdrawal.
	PERFORM privacy._lock_subject('consent_ledger', claim.kind, key);
	IF privacy._subject_erased(claim.kind, key) THEN
		RETURN result OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object('withdrawn', false,
			'note', 'The subject was erased; there is no consent to withdraw.');
	END IF;
	SELECT l.action INTO last_action
	  FROM privacy.consent_ledger l
	 WHERE l.kind OPERATOR(pg_catalog.=) claim.kind AND l.subject OPERATOR(pg_catalog.=) key
	   AND NOT l.forgotten AND l.purpose OPERATOR(pg_catalog.=) claim.purpose
	 ORDER BY l.id DESC LIMIT 1;
	IF last_action OPERATOR(pg_catalog.=) 'consent.withdraw' THEN
		RETURN result OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object('withdrawn', true,
			'note', 'The consent was withdrawn already; nothing was recorded.');
	END IF;
	PERFORM privacy._record('consent.withdraw', claim.kind, key, claim.purpose, 'direct',
							pg_catalog.jsonb_build_object('via', 'unsubscribe_token'));
	RETURN result OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object('withdrawn', true);
END
$$;
COMMENT ON FUNCTION privacy.unsubscribe(text) IS
'Withdraws the consent an unsubscribe token names; needs no other privilege; a forged or altered token is an error and changes nothing; a consent withdrawn already, or an erased subject, records nothing';

------------------------------------------------------------------------------
-- Personal-data types inside other types
------------------------------------------------------------------------------

-- Up to 1.7 a column was classified by its type only when the type was a
-- personal-data type, a domain over one or an array of one: a column of a
-- composite type with an e-mail field (or an array of such, a domain over
-- it, a range over a personal type) was not classified, so it was neither
-- exported, nor erased, nor reported unprotected by lint(). The types that
-- hold personal data are now found by following every way one type holds
-- another, from the personal-data types up: the base type of a domain, the
-- element type of an array, the attributes of a composite type (a table's
-- row type included), the subtype of a range and the range of a multirange.
-- Such a column gets the category of a personal type it holds (the first by
-- name, when it holds several).

-- Every type that holds a value of a personal-data type, with the category
-- of that type. (Without JIT: the catalog scans are estimated costly enough
-- to be compiled, which takes several times as long as running them.)
CREATE FUNCTION privacy._personal_types()
RETURNS TABLE (type_oid oid, category text)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
SET jit = off
BEGIN ATOMIC
	-- Which type holds which: a domain its base type, an array its element,
	-- a composite its attributes, a range its subtype, a multirange its
	-- range. Types in temporary schemas are left out: no table a policy may
	-- name can use them, and any role may create them (a chain of them in
	-- another session would otherwise cost every caller its length).
	WITH RECURSIVE permanent AS MATERIALIZED (
		SELECT t.oid, t.typtype, t.typbasetype, t.typarray, t.typrelid
		  FROM pg_catalog.pg_type t
		  JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) t.typnamespace
		 WHERE n.nspname OPERATOR(pg_catalog.!~) '^pg_(toast_)?temp_'
	), holds(held, holder) AS MATERIALIZED (
		SELECT t.typbasetype, t.oid FROM permanent t
		 WHERE t.typtype OPERATOR(pg_catalog.=) 'd'
		UNION ALL
		SELECT t.oid, t.typarray FROM permanent t
		 WHERE t.typarray OPERATOR(pg_catalog.<>) 0::pg_catalog.oid
		UNION ALL
		SELECT a.atttypid, t.oid
		  FROM permanent t
		  JOIN pg_catalog.pg_attribute a ON a.attrelid OPERATOR(pg_catalog.=) t.typrelid
		 WHERE t.typtype OPERATOR(pg_catalog.=) 'c' AND a.attnum OPERATOR(pg_catalog.>) 0 AND NOT a.attisdropped
		UNION ALL
		SELECT r.rngsubtype, r.rngtypid
		  FROM pg_catalog.pg_range r JOIN permanent t ON t.oid OPERATOR(pg_catalog.=) r.rngtypid
		UNION ALL
		SELECT r.rngtypid, r.rngmultitypid
		  FROM pg_catalog.pg_range r JOIN permanent t ON t.oid OPERATOR(pg_catalog.=) r.rngmultitypid
	), personal(type_oid, category, depth) AS (
		SELECT tc.type_name::pg_catalog.oid, tc.category, 0 FROM privacy._type_categories tc
		UNION
		-- Nesting deeper than 32 types is not followed: that bounds the walk
		-- whatever the catalog holds.
		SELECT h.holder, p.category, p.depth OPERATOR(pg_catalog.+) 1
		  FROM personal p
		  JOIN holds h ON h.held OPERATOR(pg_catalog.=) p.type_oid
		 WHERE p.depth OPERATOR(pg_catalog.<) 32
	)
	SELECT DISTINCT ON (p.type_oid) p.type_oid, p.category
	  FROM personal p
	 ORDER BY p.type_oid, p.category;
END;
-- Executable by PUBLIC: the view privacy.classified_columns, which any role
-- may read, calls it as the reading role; it reads only the catalogs and
-- privacy._type_categories, which PUBLIC may read, and writes nothing.
REVOKE ALL ON FUNCTION privacy._personal_types() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION privacy._personal_types() TO PUBLIC;
COMMENT ON FUNCTION privacy._personal_types() IS
'Every type holding a value of a personal-data type (the type itself, a domain, array, composite, range or multirange over one), with the category it classifies its columns into';

CREATE OR REPLACE VIEW privacy.classified_columns AS
SELECT DISTINCT ON (table_name, column_name)
	   table_name, column_name, category, source, origin
  FROM (
	SELECT cl.table_name, cl.column_name, cl.category, cl.source, 'policy'::text AS origin, 1 AS rank
	  FROM privacy.classifications cl
	UNION ALL
	SELECT l.objoid::pg_catalog.regclass, a.attname, l.label, 'direct', 'label', 2
	  FROM pg_catalog.pg_seclabel l
	  JOIN pg_catalog.pg_attribute a ON a.attrelid OPERATOR(pg_catalog.=) l.objoid
									AND a.attnum OPERATOR(pg_catalog.=) l.objsubid
	 WHERE l.provider OPERATOR(pg_catalog.=) 'privacy'
	   AND l.classoid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass
	   AND l.objsubid OPERATOR(pg_catalog.>) 0
	UNION ALL
	SELECT a.attrelid::pg_catalog.regclass, a.attname, pt.category, 'direct', 'type', 3
	  FROM pg_catalog.pg_attribute a
	  JOIN privacy._personal_types() pt ON pt.type_oid OPERATOR(pg_catalog.=) a.atttypid
	  JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) a.attrelid
	 WHERE a.attnum OPERATOR(pg_catalog.>) 0 AND NOT a.attisdropped
	   AND c.relkind OPERATOR(pg_catalog.=) ANY (ARRAY['r', 'p']::"char"[])
	   AND c.relnamespace OPERATOR(pg_catalog.<>) ALL (ARRAY['pg_catalog'::pg_catalog.regnamespace,
															 'information_schema'::pg_catalog.regnamespace,
															 'privacy'::pg_catalog.regnamespace]::pg_catalog.oid[])
  ) AS all_classifications
 ORDER BY table_name, column_name, rank;
COMMENT ON VIEW privacy.classified_columns IS
'Every column holding personal data: classified by the policy document, a SECURITY LABEL FOR privacy, or its type (a personal-data type, or a domain, array, composite or range holding one)';

-- lint: personal data that export and erasure do not reach: a column of a
-- materialized view or a foreign table whose type holds a personal-data
-- type. Only tables and partitioned tables are classified, mapped to
-- subjects, exported and erased; these keep their copies after an erasure.
CREATE FUNCTION privacy._lint_unreached_personal_data()
RETURNS TABLE (severity text, object text, problem text, hint text)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT 'warning',
		   pg_catalog.format('%s(%s)', privacy._qualified_name(c.oid), pg_catalog.quote_ident(a.attname)),
		   pg_catalog.format('%s column of type %s holds personal data that export and erasure do not reach',
							 CASE c.relkind WHEN 'm' THEN 'materialized view' ELSE 'foreign table' END,
							 pg_catalog.format_type(a.atttypid, a.atttypmod)),
		   CASE c.relkind
				WHEN 'm' THEN pg_catalog.format('Refresh it after each erasure (REFRESH MATERIALIZED VIEW %s), or leave the column out of it.',
												privacy._qualified_name(c.oid))
				ELSE 'Erase the subject in the foreign server too, or leave the column out of the foreign table.' END
	  FROM pg_catalog.pg_attribute a
	  JOIN privacy._personal_types() pt ON pt.type_oid OPERATOR(pg_catalog.=) a.atttypid
	  JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) a.attrelid
	 WHERE a.attnum OPERATOR(pg_catalog.>) 0 AND NOT a.attisdropped
	   AND c.relkind OPERATOR(pg_catalog.=) ANY (ARRAY['m', 'f']::"char"[])
	   AND c.relnamespace OPERATOR(pg_catalog.<>) 'privacy'::pg_catalog.regnamespace
	 ORDER BY 2;
END;
REVOKE ALL ON FUNCTION privacy._lint_unreached_personal_data() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION privacy._lint_unreached_personal_data() TO PUBLIC;
COMMENT ON FUNCTION privacy._lint_unreached_personal_data() IS
'lint: columns of materialized views and foreign tables holding personal data, which export and erasure do not reach';

------------------------------------------------------------------------------
-- Requests are completed by what fulfils them; free text stays out of the
-- append-only evidence
------------------------------------------------------------------------------

-- Up to 1.7 close_request() set any request to "completed" with any
-- outcome: a role allowed to close requests recorded an erasure as done
-- (with a made-up receipt) while the subject still existed, and the
-- outcome, free text included, went verbatim into the append-only audit
-- log; erase_subject()'s reason went verbatim into the receipt, which is
-- append-only too, and into the log.
--
-- Now:
-- * an erasure, access or portability request is completed only by
--   erase_subject(request_id, reason) or export_subject(request_id), whose
--   receipt or export summary becomes its outcome (an erasure request of a
--   subject erased meanwhile is completed by erase_subject(request_id, ...)
--   with the earlier erasure's receipt);
-- * close_request(request_id, 'completed') completes a rectification,
--   restriction or objection request only when the extension recorded the
--   act that fulfils it since the request was received (a rectification
--   in the audit log, a restriction or objection in the ledger); the
--   outcome names that record, and the caller's outcome is kept beside it
--   as a note;
-- * close_request(request_id, 'rejected', outcome) needs the reasons, as
--   a JSON object, kept as the note;
-- * notes and extension reasons stay in the request's row only, which is
--   not append-only: erasing the subject replaces them by keyed hashes.
--   The audit log gets the note's keyed hash ("note_ref"), which proves
--   what the note said to whoever holds it, without keeping it;
-- * an erasure's reason goes into the receipt as given only when it is one
--   of the grounds of GDPR Art. 17(1) (privacy._erasure_grounds()); any
--   other text is recorded as "other ground" with its keyed hash.
-- * a legal hold on a subject is named in the audit log and in erasure
--   receipts by the keyed hash of its case reference; once the subject is erased and the hold
--   released, its row keeps keyed hashes of its reason, reference and
--   release reason only;
-- * an access or portability request of a subject erased since it was
--   opened cannot be exported: it is rejected, with the reasons.

-- The grounds of GDPR Art. 17(1) an erasure's reason is recorded as.
CREATE FUNCTION privacy._erasure_grounds()
RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
RETURN ARRAY['no longer necessary', 'consent withdrawn', 'objection', 'objection upheld',
			 'unlawful processing', 'legal obligation', 'child consent', 'retention period expired'];
REVOKE ALL ON FUNCTION privacy._erasure_grounds() FROM PUBLIC;
COMMENT ON FUNCTION privacy._erasure_grounds() IS
'The erasure reasons recorded as given (grounds of GDPR Art. 17(1)); any other reason is recorded by its keyed hash';

-- The reason an erasure records: a ground of privacy._erasure_grounds() in
-- its canonical spelling, or "other ground" and the keyed hash of the text
-- (NULL and blank stay as they are, for the erasure's own error).
CREATE FUNCTION privacy._erasure_reason(reason text)
RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT CASE
		WHEN reason IS NULL OR pg_catalog.btrim(reason) OPERATOR(pg_catalog.=) '' THEN reason
		WHEN pg_catalog.lower(pg_catalog.regexp_replace(pg_catalog.btrim(reason), '\s+', ' ', 'g'))
			 OPERATOR(pg_catalog.=) ANY (privacy._erasure_grounds())
			THEN pg_catalog.lower(pg_catalog.regexp_replace(pg_catalog.btrim(reason), '\s+', ' ', 'g'))
		ELSE 'other ground (keyed hash ' OPERATOR(pg_catalog.||) privacy.subject_ref('erasure.reason', reason)
			 OPERATOR(pg_catalog.||) ')' END;
END;
REVOKE ALL ON FUNCTION privacy._erasure_reason(text) FROM PUBLIC;
COMMENT ON FUNCTION privacy._erasure_reason(text) IS
'The reason an erasure records: a ground of GDPR Art. 17(1), or "other ground" with the keyed hash of the text given';

-- The keyed hash standing for the note of a request in the audit log and,
-- once its subject is erased, in the request.
CREATE FUNCTION privacy._note_ref(note jsonb)
RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
RETURN privacy.subject_ref('evidence', note::pg_catalog.text);
REVOKE ALL ON FUNCTION privacy._note_ref(jsonb) FROM PUBLIC;
COMMENT ON FUNCTION privacy._note_ref(jsonb) IS
'The keyed hash that stands for a request''s note in the audit log and after its subject''s erasure';

-- A legal hold on a subject names its case in the audit log by the keyed
-- hash of its reference ("reference_ref"): a reference is free text and may
-- name the person. The hold's row keeps the reference itself until the
-- subject is erased and the hold released. A hold on a table names no
-- subject; its entries keep the reference as given.
CREATE FUNCTION privacy._hold_reference_ref(reference text)
RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
RETURN privacy.subject_ref('hold.reference', reference);
REVOKE ALL ON FUNCTION privacy._hold_reference_ref(text) FROM PUBLIC;
COMMENT ON FUNCTION privacy._hold_reference_ref(text) IS
'The keyed hash that stands for the reference of a legal hold on a subject in the audit log';

-- Free text kept with an erased subject's requests and released holds,
-- replaced by keyed hashes once the subject is erased (and, for a hold on a
-- subject erased while held, once the hold is released):
-- * the note of each request becomes its keyed hash ("note_ref", the one
--   the audit log holds). Whatever a caller put in a note stays under
--   "note", so a redacted request is one without it;
-- * an extension reason, and a released hold's reason, reference and
--   release reason, become a text naming their keyed hash (a reference's
--   is the audit log's "reference_ref"); a text already of exactly that
--   form is left as it is.
-- A hold in force keeps its reason and reference: they are what keeps the
-- subject's rows.
CREATE FUNCTION privacy._redacted_text(what text, value text)
RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
RETURN CASE WHEN value IS NULL OR value OPERATOR(pg_catalog.~) '^redacted \(keyed hash [0-9a-f]{64}\)$' THEN value
			ELSE 'redacted (keyed hash ' OPERATOR(pg_catalog.||)
				 CASE what WHEN 'hold.reference' THEN privacy._hold_reference_ref(value)
						   ELSE privacy.subject_ref(what, value) END OPERATOR(pg_catalog.||) ')' END;
REVOKE ALL ON FUNCTION privacy._redacted_text(text, text) FROM PUBLIC;
COMMENT ON FUNCTION privacy._redacted_text(text, text) IS
'Free text of an erased subject replaced by a text naming its keyed hash (unchanged if it is such a text already)';

CREATE FUNCTION privacy._redact_erased_subject_text(kind text, ref text)
RETURNS void
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	UPDATE privacy.subject_requests sr
	   SET outcome = CASE WHEN sr.outcome OPERATOR(pg_catalog.?) 'note'
						  THEN (sr.outcome OPERATOR(pg_catalog.-) 'note'::text) OPERATOR(pg_catalog.||)
							   pg_catalog.jsonb_build_object('note_ref',
									privacy._note_ref(sr.outcome OPERATOR(pg_catalog.->) 'note'))
						  ELSE sr.outcome END,
		   extension_reason = privacy._redacted_text('request.extension', sr.extension_reason)
	 WHERE sr.kind OPERATOR(pg_catalog.=) $1 AND sr.subject_ref OPERATOR(pg_catalog.=) $2
	   AND (sr.outcome OPERATOR(pg_catalog.?) 'note'
			OR sr.extension_reason IS DISTINCT FROM privacy._redacted_text('request.extension', sr.extension_reason));
	UPDATE privacy.legal_holds h
	   SET reason = privacy._redacted_text('hold.reason', h.reason),
		   reference = privacy._redacted_text('hold.reference', h.reference),
		   release_reason = privacy._redacted_text('hold.release_reason', h.release_reason)
	 WHERE h.kind OPERATOR(pg_catalog.=) $1 AND h.subject_ref OPERATOR(pg_catalog.=) $2
	   AND h.released_at IS NOT NULL
	   AND (h.reason, h.reference, h.release_reason) IS DISTINCT FROM
		   (privacy._redacted_text('hold.reason', h.reason), privacy._redacted_text('hold.reference', h.reference),
			privacy._redacted_text('hold.release_reason', h.release_reason));
END;
REVOKE ALL ON FUNCTION privacy._redact_erased_subject_text(text, text) FROM PUBLIC;
COMMENT ON FUNCTION privacy._redact_erased_subject_text(text, text) IS
'After an erasure: replaces the notes and extension reasons of the subject''s requests, and the reasons and references of its released holds, by keyed hashes';

-- An erasure receipt, append-only, names the hold that keeps a table's rows
-- of the subject: a hold on the subject by the keyed hash of its reference
-- (as its row will once released), a hold on the table by its reference.
CREATE OR REPLACE FUNCTION privacy._hold_reference(kind text, subject text, rel regclass)
RETURNS text
LANGUAGE sql STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT CASE WHEN h.table_name IS NULL THEN privacy._redacted_text('hold.reference', h.reference)
				ELSE h.reference END
	  FROM privacy.legal_holds h
	 WHERE h.released_at IS NULL
	   AND (h.table_name OPERATOR(pg_catalog.=) $3
			OR (h.kind OPERATOR(pg_catalog.=) $1 AND h.subject_ref OPERATOR(pg_catalog.=) privacy.subject_ref($1, $2)))
	 ORDER BY h.table_name IS NULL, h.placed_at, h.id
	 LIMIT 1;
END;

CREATE OR REPLACE FUNCTION privacy.erase_subject(kind text, subject text, reason text)
RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	receipt jsonb;
BEGIN
	receipt := privacy._erase_subject(kind, subject, privacy._erasure_reason(reason), NULL);
	PERFORM privacy._redact_erased_subject_text(kind, receipt OPERATOR(pg_catalog.->>) 'subject_ref');
	RETURN receipt;
END
$$;

CREATE OR REPLACE FUNCTION privacy.erase_subject(request_id bigint, reason text)
RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	r privacy.subject_requests;
	previous privacy.erasures;
	receipt jsonb;
	result jsonb;
BEGIN
	r := privacy._open_request_for(request_id, ARRAY['erasure']);
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
		receipt := privacy._erase_subject(r.kind, r.subject, privacy._erasure_reason(reason), r.id);
		result := receipt OPERATOR(pg_catalog.-) 'tables'::text OPERATOR(pg_catalog.-) 'ledgers'::text;
	END IF;
	UPDATE privacy.subject_requests sr
	   SET status = 'completed', completed_at = pg_catalog.now(), outcome = result
	 WHERE sr.id OPERATOR(pg_catalog.=) r.id;
	PERFORM privacy._redact_erased_subject_text(r.kind, r.subject_ref);
	PERFORM privacy._audit(SESSION_USER, 'request.completed', r.kind, NULL, r.id,
						   pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object('right', 'erasure',
								'erasure_id', previous.id)));
	RETURN receipt;
END
$$;
COMMENT ON FUNCTION privacy.erase_subject(bigint, text) IS
'Runs the erasure an erasure request asks for and marks the request completed, with the receipt as its outcome (the earlier receipt if the subject was erased meanwhile)';

CREATE OR REPLACE FUNCTION privacy.close_request(request_id bigint, status text, outcome jsonb DEFAULT '{}')
RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
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
		summary := summary OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object('note_ref', privacy._note_ref(outcome));
	END IF;
	UPDATE privacy.subject_requests sr
	   SET status = close_request.status, completed_at = pg_catalog.now(), outcome = evidence
	 WHERE sr.id OPERATOR(pg_catalog.=) r.id;
	PERFORM privacy._audit(SESSION_USER, 'request.' OPERATOR(pg_catalog.||) status, NULL, NULL, request_id, summary);
END
$$;
COMMENT ON FUNCTION privacy.close_request(bigint, text, jsonb) IS
'Rejects a request with the reasons, or completes a rectification, restriction or objection request whose fulfilment was recorded; erasure, access and portability requests are completed by erase_subject() and export_subject()';


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
						   pg_catalog.jsonb_build_object('hold_id', hold_id,
														 'reference_ref', privacy._hold_reference_ref(reference)));
	RETURN hold_id;
EXCEPTION WHEN unique_violation THEN
	RAISE EXCEPTION 'the subject of kind "%" is already held under reference "%"', kind, reference
		USING ERRCODE = 'duplicate_object',
			  HINT = 'privacy.legal_holds lists the holds in force.';
END
$$;

CREATE OR REPLACE FUNCTION privacy.release_hold(hold_id bigint, reason text)
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
	SELECT * INTO h FROM privacy.legal_holds lh WHERE lh.id OPERATOR(pg_catalog.=) hold_id FOR UPDATE;
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
	IF reason OPERATOR(pg_catalog.=) '' THEN
		RAISE EXCEPTION 'releasing a legal hold needs a reason'
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Say why the hold ends, for example that the case was closed.';
	END IF;
	UPDATE privacy.legal_holds lh
	   SET released_at = pg_catalog.now(), released_by = SESSION_USER, release_reason = release_hold.reason
	 WHERE lh.id OPERATOR(pg_catalog.=) hold_id;
	PERFORM privacy._audit(SESSION_USER, 'retention.hold.release', h.kind, h.subject, NULL,
						   pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object(
							'hold_id', h.id, 'table', privacy._qualified_name(h.table_name),
							'reference', CASE WHEN h.table_name IS NOT NULL THEN h.reference END,
							'reference_ref', CASE WHEN h.table_name IS NULL
												  THEN privacy._hold_reference_ref(h.reference) END)));
	-- A hold on a subject erased while held keeps no free text once released.
	IF h.kind IS NOT NULL AND h.subject IS NULL THEN
		PERFORM privacy._redact_erased_subject_text(h.kind, h.subject_ref);
	END IF;
END
$$;

-- An access or portability request of a subject erased since it was opened
-- cannot be answered with an export: it is rejected, with the reasons.
CREATE OR REPLACE FUNCTION privacy.export_subject(request_id bigint)
RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	r privacy.subject_requests;
	result jsonb;
BEGIN
	r := privacy._open_request_for(request_id, ARRAY['access', 'portability']);
	IF r.subject IS NULL THEN
		RAISE EXCEPTION 'request % names a subject that was erased', request_id
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  HINT = 'Close the request as rejected with privacy.close_request(), giving the reasons.';
	END IF;
	result := privacy._export_subject(r.kind, r.subject, r.id);
	UPDATE privacy.subject_requests sr
	   SET status = 'completed', completed_at = pg_catalog.now(),
		   outcome = pg_catalog.jsonb_build_object('exported_tables',
				(SELECT pg_catalog.count(*) FROM pg_catalog.jsonb_object_keys(result OPERATOR(pg_catalog.->) 'data')))
	 WHERE sr.id OPERATOR(pg_catalog.=) r.id;
	PERFORM privacy._audit(SESSION_USER, 'request.completed', r.kind, r.subject, r.id,
						   pg_catalog.jsonb_build_object('right', r.request_right));
	RETURN result;
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

------------------------------------------------------------------------------
-- Erasure and retention change each table as its owner
------------------------------------------------------------------------------

-- Erasure (SECURITY DEFINER, as the extension's owner) and the retention
-- job (as the role that runs it, usually a superuser from pg_cron) change
-- tables of any owner. Changing a row runs code the table's owner chose:
-- triggers, rules, domain and CHECK constraints, generated columns, index
-- expressions, and the triggers of referential actions. Run as the
-- extension's owner or a superuser, that code made its author superuser.
-- Every statement that changes a table (and the erasure's reads that
-- evaluate the table's expressions) now runs as the table's owner, the way
-- PostgreSQL runs ANALYZE and REFRESH MATERIALIZED VIEW: a restricted
-- security context, search_path pinned to pg_catalog, pg_temp, and forced
-- row security of the table not hiding its rows from its owner. A table
-- the statement reads whose row security applies to that owner is an
-- error (rows it hid would stay), and so is any privilege the owner lacks
-- (SELECT on the tables of the subject's path).

-- privacy._cached_value, run as the owner of rel.
CREATE FUNCTION privacy._cached_value_as_owner(rel regclass, sql text, result_type anyelement, VARIADIC args "any")
RETURNS anyelement
AS 'MODULE_PATHNAME', 'privacy_cached_value_as_owner'
LANGUAGE C VOLATILE;
REVOKE ALL ON FUNCTION privacy._cached_value_as_owner(regclass, text, anyelement, "any") FROM PUBLIC;
COMMENT ON FUNCTION privacy._cached_value_as_owner(regclass, text, anyelement, "any") IS
'Runs a generated statement as the owner of a table (restricted, search_path pinned, forced row security of its own tables off) with its plan kept, and returns the first column of its only row';

-- privacy._cached_row_count, run as the owner of rel.
CREATE FUNCTION privacy._cached_row_count_as_owner(rel regclass, sql text, VARIADIC args "any")
RETURNS bigint
AS 'MODULE_PATHNAME', 'privacy_cached_row_count_as_owner'
LANGUAGE C VOLATILE;
REVOKE ALL ON FUNCTION privacy._cached_row_count_as_owner(regclass, text, "any") FROM PUBLIC;
COMMENT ON FUNCTION privacy._cached_row_count_as_owner(regclass, text, "any") IS
'Runs a generated statement (an UPDATE or DELETE) as the owner of a table, with its plan kept, and returns how many rows it processed';

-- A BEFORE ROW trigger on DELETE or UPDATE that returns NULL (a soft
-- delete) or gives a row its old values back, or a rule on DELETE or
-- UPDATE, keeps rows that erasure and the retention job set out to delete
-- or anonymise. On such tables both check that every row they meant to
-- change did change, and fail naming the table (never the key) otherwise.
CREATE FUNCTION privacy._rows_may_be_kept(rel regclass)
RETURNS boolean
AS 'MODULE_PATHNAME', 'privacy_rows_may_be_kept'
LANGUAGE C STRICT STABLE;
REVOKE ALL ON FUNCTION privacy._rows_may_be_kept(regclass) FROM PUBLIC;
COMMENT ON FUNCTION privacy._rows_may_be_kept(regclass) IS
'Whether a trigger or rule of a table (or of a table inheriting from it) may keep a row that a DELETE or UPDATE meant to change';

-- The error of an erasure or a retention batch that left rows of rel it
-- meant to delete or anonymise as they were.
CREATE FUNCTION privacy._rows_kept_error(rel regclass, what text)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	RAISE EXCEPTION '% left rows of table % unchanged', what, privacy._qualified_name(rel)
		USING ERRCODE = 'object_not_in_prerequisite_state',
			  DETAIL = 'A trigger or rule of the table kept rows that were to be deleted or anonymised; nothing of this was done.',
			  HINT = 'A BEFORE DELETE or BEFORE UPDATE trigger that returns NULL (a soft delete) or restores values, or a rule on DELETE or UPDATE, keeps rows: let it pass these changes. privacy.lint() lists such triggers.';
END
$$;
REVOKE ALL ON FUNCTION privacy._rows_kept_error(regclass, text) FROM PUBLIC;
COMMENT ON FUNCTION privacy._rows_kept_error(regclass, text) IS
'Raises the error of an erasure or retention batch that a trigger or rule kept rows from';

-- As in 1.6, with every statement on the table run as its owner, and the
-- rows it meant to delete or anonymise checked: a row a trigger or rule
-- kept is an error, not a silent gap in the receipt.
CREATE OR REPLACE FUNCTION privacy._erase_table(kind text, subject text, plan privacy._subject_plans)
RETURNS jsonb
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
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
	ctids := privacy._cached_value_as_owner(rel,
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
	-- (These read the rows' anchors only, of a date or timestamp type.)
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
		deleted_ctids := privacy._cached_value_as_owner(rel, plan.delete_sql, NULL::tid[], ctids);
		ctids := ARRAY(SELECT c FROM pg_catalog.unnest(ctids) c EXCEPT SELECT d FROM pg_catalog.unnest(deleted_ctids) d);
		entry := entry || pg_catalog.jsonb_build_object('deleted', pg_catalog.cardinality(deleted_ctids));
		-- Every row of the subject left, but those retained, must be one
		-- that rows kept elsewhere reference (the rows are locked: only a
		-- trigger or rule can have kept another, perhaps as a new version).
		IF privacy._rows_may_be_kept(rel)
		   AND privacy._cached_value_as_owner(rel,
				'SELECT pg_catalog.count(*) OPERATOR(pg_catalog.>) 0 ' || plan.rows_sql
				|| ' AND t0.ctid OPERATOR(pg_catalog.<>) ALL ($2)' || privacy._unreferenced_condition(rel, 't0'),
				NULL::boolean, subject, retained) THEN
			PERFORM privacy._rows_kept_error(rel, 'the erasure');
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
		SELECT pg_catalog.string_agg(pg_catalog.format('%I = %s', c, privacy._anonymized_value_sql(rel, c, 't')), ', '),
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
		counts := privacy._cached_value_as_owner(rel, pg_catalog.format(
			'WITH changed AS (UPDATE %1$s t SET %2$s%3$s WHERE t.ctid OPERATOR(pg_catalog.=) ANY ($1) AND (%4$s) RETURNING (%4$s) AS personal) '
			'SELECT ARRAY[(SELECT pg_catalog.count(*) FROM %1$s t WHERE t.ctid OPERATOR(pg_catalog.=) ANY ($1) AND (%4$s)), '
			'pg_catalog.count(*), pg_catalog.count(*) FILTER (WHERE changed.personal)]::pg_catalog.int4[] FROM changed',
			privacy._qualified_name(rel), set_list, detach, not_yet_anonymized), NULL::integer[], ctids);
		IF counts[2] OPERATOR(pg_catalog.<) counts[1] OR counts[3] OPERATOR(pg_catalog.>) 0 THEN
			PERFORM privacy._rows_kept_error(rel, 'the erasure');
		END IF;
		entry := entry || pg_catalog.jsonb_build_object('anonymized', counts[2], 'kept_anonymous', pg_catalog.cardinality(ctids),
			'anonymized_because', CASE WHEN anonymize_rule IS NOT NULL
									   THEN pg_catalog.format('retention rule "%s" keeps the rows without the person', anonymize_rule)
									   ELSE 'rows that are kept reference them' END);
	END IF;
	RETURN entry;
END
$$;

-- privacy._statistics_gone_values() (with the statistics above) runs its
-- statement as the table's owner too: the conditions evaluate the table's
-- index expressions.

-- As above (statistics), with the statements that change each table run
-- as the table's owner, and a table whose triggers or rules may keep rows
-- erased the careful way, which fails rather than leave a row it meant to
-- delete or anonymise.
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

	-- One erasure of a subject at a time (a lock no ordinary role can take or
	-- hold); the anchor row stays locked, so that no new row can be attached
	-- to the subject until this commits.
	PERFORM privacy._lock_subject('erase', kind, ref);
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
		-- A table whose triggers or rules may keep rows takes the careful
		-- way too, which checks that every row it meant to change changed.
		IF subject_held OR plan.table_name = ANY (careful_tables) OR privacy._rows_may_be_kept(plan.table_name) THEN
			line := privacy._erase_table(kind, subject, plan);
		ELSE
			counts := privacy._cached_value_as_owner(plan.table_name, plan.erase_sql, NULL::integer[], subject);
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
	-- The entry carries the receipt's digest, so that privacy.verify_evidence()
	-- detects a receipt changed or removed by any means.
	PERFORM privacy._audit(SESSION_USER, 'erasure', kind, subject, request_id,
						   receipt - 'tables' - 'subject_ref' - 'kind' - 'ledgers' - 'statistics_refreshed'
						   || pg_catalog.jsonb_build_object('receipt_sha256',
								pg_catalog.encode(pg_catalog.sha256(pg_catalog.convert_to(receipt::pg_catalog.text, 'UTF8')), 'hex')));
	RETURN receipt;
END
$$;

-- The job: as above, with every batch's statements on a rule's table run
-- as the table's owner (the job's role must still have SELECT and DELETE or
-- UPDATE on it); under a hold on the table's subjects each batch takes the
-- careful way (rows locked, then changed as the owner). On a table whose
-- triggers or rules may keep rows, a row a batch left due is an error.
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
	one tid;
	rule_done bigint;
	careful boolean;
	batch_result text[];
	wal_method text;
	run privacy.retention_runs;
	may_keep boolean;
	kept_sql text;
	changed bigint[];
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
		-- The batches run as the table's owner; the job's role must still
		-- have the rights it would use to change the rows itself.
		IF NOT (pg_catalog.has_table_privilege(rule.table_name, 'SELECT')
				AND pg_catalog.has_table_privilege(rule.table_name,
					CASE WHEN rule.action OPERATOR(pg_catalog.=) 'delete' THEN 'DELETE' ELSE 'UPDATE' END)) THEN
			RAISE EXCEPTION 'permission denied for table %', rel
				USING ERRCODE = 'insufficient_privilege',
					  DETAIL = pg_catalog.format('Retention rule "%s" %s rows of the table; the role running the job needs SELECT and %s on it.',
						rule_name, CASE WHEN rule.action OPERATOR(pg_catalog.=) 'delete' THEN 'deletes' ELSE 'updates' END,
						CASE WHEN rule.action OPERATOR(pg_catalog.=) 'delete' THEN 'DELETE' ELSE 'UPDATE' END);
		END IF;
		-- On a table whose triggers or rules may keep rows, each batch
		-- checks that the rows it meant to change changed (kept_sql: of a
		-- changed row, whether it still is to do).
		may_keep := privacy._rows_may_be_kept(rule.table_name);
		kept_sql := CASE WHEN rule.action OPERATOR(pg_catalog.=) 'delete' THEN 'false' ELSE s.todo END;
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
				batch_result := privacy._cached_value_as_owner(rule.table_name, pg_catalog.format(
					'SELECT ARRAY[pg_catalog.min(x.a)::text, pg_catalog.max(x.a)::text, pg_catalog.count(*)::text]
					   FROM (SELECT t.%1$s AS a FROM %2$s t WHERE %3$s ORDER BY t.%1$s LIMIT $3) x',
					anchor_col, rel, due_sql),
					NULL::text[], cutoff, last_anchor, batch_size, excluded);
				window_first := batch_result[1];
				window_last := batch_result[2];
				window_rows := batch_result[3]::integer;
				-- The range statement runs as the table's owner, which may
				-- not compute the subject references of holds: under a hold
				-- on the table's subjects each batch takes the careful way.
				IF window_rows OPERATOR(pg_catalog.>) 0 AND held OPERATOR(pg_catalog.=) 'false'
				   AND (window_rows OPERATOR(pg_catalog.<) batch_size OR window_first OPERATOR(pg_catalog.<>) window_last) THEN
					done := privacy._cached_row_count_as_owner(rule.table_name, pg_catalog.format(
						'%1$s WHERE %2$s AND t.%3$s OPERATOR(pg_catalog.<=) (SELECT $5::%4$s)%5$s%6$s',
						s.action, due_sql, anchor_col, s.anchor_type,
						CASE WHEN held OPERATOR(pg_catalog.=) 'false' THEN '' ELSE ' AND NOT ' OPERATOR(pg_catalog.||) held END,
						CASE WHEN pg_catalog.cardinality(excluded) OPERATOR(pg_catalog.=) 0 THEN ''
							 ELSE ' AND t.ctid OPERATOR(pg_catalog.<>) ALL ($4)' END),
						cutoff, last_anchor, batch_size, excluded, window_last);
					-- A row a trigger or rule kept is still due in the range.
					IF may_keep AND privacy._cached_value(pg_catalog.format(
							'SELECT EXISTS (SELECT FROM %1$s t WHERE %2$s AND t.%3$s OPERATOR(pg_catalog.<=) (SELECT $5::%4$s)%5$s)',
							rel, due_sql, anchor_col, s.anchor_type,
							CASE WHEN pg_catalog.cardinality(excluded) OPERATOR(pg_catalog.=) 0 THEN ''
								 ELSE ' AND t.ctid OPERATOR(pg_catalog.<>) ALL ($4)' END),
							NULL::boolean, cutoff, last_anchor, batch_size, excluded, window_last) THEN
						PERFORM privacy._rows_kept_error(rule.table_name, pg_catalog.format('retention rule "%s"', rule_name));
					END IF;
				END IF;
				careful := (window_rows OPERATOR(pg_catalog.>) 0 AND held OPERATOR(pg_catalog.<>) 'false')
						   OR (window_rows OPERATOR(pg_catalog.=) batch_size
							   AND window_first OPERATOR(pg_catalog.=) window_last);
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
					-- {rows changed, changed rows still to do}, as the owner.
					changed := privacy._cached_value_as_owner(rule.table_name, pg_catalog.format(
						'WITH c AS (%s WHERE t.ctid OPERATOR(pg_catalog.=) ANY ($1) RETURNING %s AS k) '
						'SELECT ARRAY[pg_catalog.count(*), pg_catalog.count(*) FILTER (WHERE c.k)] FROM c',
						s.action, kept_sql), NULL::bigint[], tids);
					IF changed[1] OPERATOR(pg_catalog.<) COALESCE(pg_catalog.cardinality(tids), 0)
					   OR changed[2] OPERATOR(pg_catalog.>) 0 THEN
						PERFORM privacy._rows_kept_error(rule.table_name, pg_catalog.format('retention rule "%s"', rule_name));
					END IF;
					done := changed[1];
				EXCEPTION WHEN foreign_key_violation OR lock_not_available THEN
					done := 0;
					FOREACH one IN ARRAY COALESCE(tids, '{}') LOOP
						BEGIN
							changed := privacy._cached_value_as_owner(rule.table_name, pg_catalog.format(
								'WITH c AS (%s WHERE t.ctid OPERATOR(pg_catalog.=) $1 RETURNING %s AS k) '
								'SELECT ARRAY[pg_catalog.count(*), pg_catalog.count(*) FILTER (WHERE c.k)] FROM c',
								s.action, kept_sql), NULL::bigint[], one);
							IF changed[1] OPERATOR(pg_catalog.<) 1 OR changed[2] OPERATOR(pg_catalog.>) 0 THEN
								PERFORM privacy._rows_kept_error(rule.table_name, pg_catalog.format('retention rule "%s"', rule_name));
							END IF;
							done := done OPERATOR(pg_catalog.+) changed[1];
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

-- lint: user triggers and rules on the tables of the subject map that can
-- keep rows erasure or the retention job set out to delete or anonymise
-- (erasure and the job then fail on the table rather than leave them).
CREATE FUNCTION privacy._lint_row_keepers()
RETURNS TABLE (severity text, object text, problem text, hint text)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT 'warning', privacy._qualified_name(x.table_name),
		   pg_catalog.format('%s can keep rows that erasure or the retention job delete or anonymise: both then fail on this table', x.what),
		   'Let erasure and retention pass (a BEFORE trigger must return the row it was given, unchanged in the personal columns), or drop it.'
	  FROM (SELECT DISTINCT c.oid::regclass AS table_name,
				   pg_catalog.format('trigger "%s" (BEFORE %s FOR EACH ROW%s)', tg.tgname,
						pg_catalog.concat_ws(' OR ', CASE WHEN tg.tgtype::integer OPERATOR(pg_catalog.&) 8 OPERATOR(pg_catalog.<>) 0 THEN 'DELETE' END,
												  CASE WHEN tg.tgtype::integer OPERATOR(pg_catalog.&) 16 OPERATOR(pg_catalog.<>) 0 THEN 'UPDATE' END),
						CASE WHEN tg.tgrelid OPERATOR(pg_catalog.<>) c.oid
							 THEN pg_catalog.format(' on %s', privacy._qualified_name(tg.tgrelid)) ELSE '' END) AS what
			  FROM pg_catalog.pg_class c
			  JOIN pg_catalog.pg_trigger tg
				ON tg.tgrelid OPERATOR(pg_catalog.=) c.oid
				OR tg.tgrelid OPERATOR(pg_catalog.=) ANY (ARRAY(SELECT pt.relid FROM pg_catalog.pg_partition_tree(c.oid) pt))
			  JOIN pg_catalog.pg_proc p ON p.oid OPERATOR(pg_catalog.=) tg.tgfoid
			 WHERE c.oid OPERATOR(pg_catalog.=) ANY (ARRAY(SELECT DISTINCT m.table_name::pg_catalog.oid FROM privacy.subject_map m))
			   AND NOT tg.tgisinternal AND tg.tgenabled OPERATOR(pg_catalog.<>) 'D'
			   AND tg.tgtype::integer OPERATOR(pg_catalog.&) 3 OPERATOR(pg_catalog.=) 3
			   AND tg.tgtype::integer OPERATOR(pg_catalog.&) 24 OPERATOR(pg_catalog.<>) 0
			   AND p.pronamespace OPERATOR(pg_catalog.<>) 'privacy'::pg_catalog.regnamespace
			UNION
			SELECT DISTINCT c.oid::regclass,
				   pg_catalog.format('rule "%s" (ON %s)', r.rulename, CASE WHEN r.ev_type OPERATOR(pg_catalog.=) '4' THEN 'DELETE' ELSE 'UPDATE' END)
			  FROM pg_catalog.pg_class c
			  JOIN pg_catalog.pg_rewrite r ON r.ev_class OPERATOR(pg_catalog.=) c.oid
			 WHERE c.oid OPERATOR(pg_catalog.=) ANY (ARRAY(SELECT DISTINCT m.table_name::pg_catalog.oid FROM privacy.subject_map m))
			   AND r.ev_type OPERATOR(pg_catalog.=) ANY ('{2,4}'::pg_catalog."char"[]) AND r.ev_enabled OPERATOR(pg_catalog.<>) 'D') x
	 ORDER BY 2, 3;
END;
REVOKE ALL ON FUNCTION privacy._lint_row_keepers() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION privacy._lint_row_keepers() TO PUBLIC;
COMMENT ON FUNCTION privacy._lint_row_keepers() IS
'lint: triggers and rules on subject-map tables that can keep rows erasure or retention delete or anonymise';

-- ===========================================================================
-- The erasure's statistics check evaluates the table's expressions as the
-- table's owner.
-- ===========================================================================
-- The values of the subject's rows that the statistics are asked about are
-- computed by the table's index expressions, the expressions of its
-- extended statistics and casts of its column types to text: code the
-- table's owner chose. They are computed as that owner (restricted, with
-- search_path pinned, by privacy._cached_value_as_owner), and only the
-- comparison with pg_statistic and pg_statistic_ext_data, which the owner
-- may not read, runs as the extension's owner.

-- Of the values found (a jsonb array of [statistics, values, extended]
-- triples, computed on a subject's rows of rel as its owner), the
-- [statistics, value] pairs that the statistics of rel hold (targets as
-- from privacy._statistics_check_sql), or NULL if none.
CREATE FUNCTION privacy._statistics_matches(rel regclass, found jsonb, targets jsonb)
RETURNS jsonb
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
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
		 CROSS JOIN LATERAL pg_catalog.unnest(privacy._statistics_values(pg_catalog.to_regclass(t.target ->> 0)::oid,
																		 (t.target ->> 1)::smallint, f.vals)) v(val)
		 WHERE NOT f.extended
		UNION ALL
		SELECT pg_catalog.jsonb_build_array(f.name, v.val)
		  FROM f
		  JOIN st ON st.name = f.name
		 CROSS JOIN LATERAL pg_catalog.unnest(f.vals) v(val)
		 WHERE f.extended AND v.val = ANY (st.vals)) m(pair)
$$;
REVOKE ALL ON FUNCTION privacy._statistics_matches(regclass, jsonb, jsonb) FROM PUBLIC;
COMMENT ON FUNCTION privacy._statistics_matches(regclass, jsonb, jsonb) IS
'Which of the values computed on a subject''s rows of a table the table''s statistics hold';

-- privacy._statistics_check_sql() (with the statistics above) builds the
-- part that computes the values as the table's owner; they are compared with
-- the statistics by privacy._statistics_matches().

-- The plan cache keeps the statements of the old form.
SELECT privacy._forget_subject_caches();

-- ===========================================================================
-- The export reads each table's rows as the table's owner.
-- ===========================================================================
-- An export turns each of the subject's rows into JSON: a column of a type
-- the table's owner made, with a cast of its own to json, runs the owner's
-- cast function. Each table's rows are read and turned into JSON as the
-- table's owner (restricted, search_path pinned, by
-- privacy._cached_value_as_owner), never as the role asking for the export
-- or the extension's owner; the owner needs SELECT on the tables of its
-- rows' path to the subject, as for erasure. As in 1.7 otherwise.
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
				'(%s, %L, privacy._cached_value_as_owner(%L::pg_catalog.regclass, %L, NULL::pg_catalog.jsonb, $1))',
				t.n, privacy._qualified_name(t.table_name), privacy._qualified_name(t.table_name),
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


-- The cache keeps the statements of the old form.
SELECT privacy._forget_subject_caches();

-- ==== subject core in C ====
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
CREATE FUNCTION privacy._invalidate_subject_cache()
RETURNS trigger
LANGUAGE c
AS 'MODULE_PATHNAME', 'privacy_invalidate_subject_cache';
REVOKE ALL ON FUNCTION privacy._invalidate_subject_cache() FROM PUBLIC;
COMMENT ON FUNCTION privacy._invalidate_subject_cache() IS
	'Statement trigger: a change of a table subject kinds are built from invalidates every session''s subject cache';

CREATE TRIGGER invalidate_subject_cache AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON privacy.subject_paths
	FOR EACH STATEMENT EXECUTE FUNCTION privacy._invalidate_subject_cache();
CREATE TRIGGER invalidate_subject_cache AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON privacy.classifications
	FOR EACH STATEMENT EXECUTE FUNCTION privacy._invalidate_subject_cache();
CREATE TRIGGER invalidate_subject_cache AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON privacy.categories
	FOR EACH STATEMENT EXECUTE FUNCTION privacy._invalidate_subject_cache();
CREATE TRIGGER invalidate_subject_cache AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON privacy.sources
	FOR EACH STATEMENT EXECUTE FUNCTION privacy._invalidate_subject_cache();
CREATE TRIGGER invalidate_subject_cache AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON privacy.retention_rules
	FOR EACH STATEMENT EXECUTE FUNCTION privacy._invalidate_subject_cache();
CREATE TRIGGER invalidate_subject_cache AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON privacy.recipients
	FOR EACH STATEMENT EXECUTE FUNCTION privacy._invalidate_subject_cache();
CREATE TRIGGER invalidate_subject_cache AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON privacy.policy_versions
	FOR EACH STATEMENT EXECUTE FUNCTION privacy._invalidate_subject_cache();
CREATE TRIGGER invalidate_subject_cache AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON privacy._type_categories
	FOR EACH STATEMENT EXECUTE FUNCTION privacy._invalidate_subject_cache();

-- The cache tables and what filled and emptied them.
DROP EVENT TRIGGER privacy_forget_subject_plans;
DROP EVENT TRIGGER privacy_forget_subject_plans_on_drop;
DROP TRIGGER forget_subject_plans ON privacy.policy_versions;
DROP FUNCTION privacy._forget_subject_plans();
DROP FUNCTION privacy._forget_subject_plans_on_policy();
DROP FUNCTION privacy._forget_subject_caches();
DROP FUNCTION privacy._erase_table(text, text, privacy._subject_plans);
DROP FUNCTION privacy._subject_plan(text);
DROP FUNCTION privacy._fill_subject_plans(text);
DROP TABLE privacy._subject_plans;
DROP TABLE privacy._export_statements;

-- The generators of the statements, now in C.
DROP FUNCTION privacy._export_sql(text);
DROP FUNCTION privacy._export_section_sql(text);
DROP FUNCTION privacy._export_entry_sql(bigint, bigint[], jsonb);
DROP TYPE privacy._export_result;
DROP FUNCTION privacy._subject_key(text, text);
DROP FUNCTION privacy._subject_exists_sql(regclass, name, text, boolean);
DROP FUNCTION privacy._subject_erase_sql(text, regclass);
DROP FUNCTION privacy._delete_unreferenced_sql(regclass);
DROP FUNCTION privacy._unreferenced_condition(regclass, text);
DROP FUNCTION privacy._anonymized_value_sql(regclass, name, text);
DROP FUNCTION privacy._statistics_check_sql(text, regclass);
DROP FUNCTION privacy._statistics_gone_values(regclass, jsonb, jsonb);

-- Kind and key resolution.
CREATE OR REPLACE FUNCTION privacy._canonical_subject(kind text, subject text, must_exist boolean)
RETURNS text
LANGUAGE c STABLE
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'privacy_canonical_subject';

CREATE OR REPLACE FUNCTION privacy._subject_exists(kind text, subject text, lock_it boolean)
RETURNS boolean
LANGUAGE c
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'privacy_subject_exists';

-- What the cache holds for a kind, to look at.
CREATE FUNCTION privacy._subject_plan(kind text)
RETURNS TABLE (kind text, table_name regclass, depth integer, personal boolean, hops oid[],
			   rows_sql text, erase_sql text, lock_sql text, delete_sql text, statistics_sql text,
			   build bigint)
LANGUAGE c
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'privacy_subject_plan';
REVOKE ALL ON FUNCTION privacy._subject_plan(text) FROM PUBLIC;
COMMENT ON FUNCTION privacy._subject_plan(text) IS
	'Every table a subject kind reaches, with the statements that read and erase one subject''s rows, as this session''s subject cache holds them (build numbers the kinds the session has read from the catalog)';

CREATE OR REPLACE FUNCTION privacy._export_statement(kind text)
RETURNS text
LANGUAGE c
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'privacy_export_statement';
COMMENT ON FUNCTION privacy._export_statement(text) IS
	'The statement the export of a subject kind runs as the extension''s owner (the subject''s existence, reference and consent history), as this session''s subject cache holds it; an unknown kind is an error';

-- Export and erasure.
CREATE OR REPLACE FUNCTION privacy._export_subject(kind text, subject text, request_id bigint)
RETURNS jsonb
LANGUAGE c
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'privacy_export_subject_for_request';

CREATE OR REPLACE FUNCTION privacy.export_subject(kind text, subject text)
RETURNS jsonb
LANGUAGE c SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'privacy_export_subject';

CREATE OR REPLACE FUNCTION privacy._forget_subject_in_ledgers(kind text, subject text)
RETURNS jsonb
LANGUAGE c SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'privacy_forget_subject_in_ledgers';

CREATE OR REPLACE FUNCTION privacy._erase_subject(kind text, subject text, reason text, request_id bigint)
RETURNS jsonb
LANGUAGE c
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'privacy_erase_subject_for_request';

CREATE OR REPLACE FUNCTION privacy.erase_subject(kind text, subject text, reason text)
RETURNS jsonb
LANGUAGE c SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'privacy_erase_subject';
