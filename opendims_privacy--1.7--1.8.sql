/* opendims_privacy--1.7--1.8.sql: security release; what SQL the extension runs on anyone's behalf cannot be redirected by the caller, evidence cannot be forged or silently removed, and hidden or erased subjects stay out of reach. */

\echo Use "ALTER EXTENSION opendims_privacy UPDATE TO '1.8'" to load this file. \quit

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

-- As in 1.3, and a rule that cannot be enforced now is recorded in the run
-- as skipped, with the reason, instead of failing the whole run.
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
	rules jsonb := '{}';
	total bigint := 0;
	run_id bigint;
BEGIN
	FOR stale IN
		UPDATE privacy.retention_runs r
		   SET status = 'interrupted', finished_at = pg_catalog.clock_timestamp()
		 WHERE r.status OPERATOR(pg_catalog.=) 'running'
		   AND NOT EXISTS (SELECT FROM pg_catalog.pg_stat_activity a
							WHERE a.pid OPERATOR(pg_catalog.=) r.pid
							  AND a.backend_start IS NOT DISTINCT FROM r.backend_start)
		RETURNING r.*
	LOOP
		PERFORM privacy._retention_audit_run(stale);
	END LOOP;

	FOR rr IN SELECT r.* FROM privacy.retention_rules r ORDER BY r.name LOOP
		problem := privacy._retention_rule_problem(rr);
		CONTINUE WHEN problem IS NULL;
		RAISE WARNING 'retention rule "%" skipped: %', rr.name, problem
			USING HINT = 'Apply a policy document that matches the schema; privacy.lint() lists what does not.';
		rules := rules OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object(rr.name, pg_catalog.jsonb_build_object(
			'table', COALESCE(privacy._qualified_name(rr.table_name), (rr.table_name::oid)::text),
			'action', rr.action, 'due', 0, 'done', 0, 'held', 0, 'blocked', 0,
			'status', 'skipped', 'problem', problem));
	END LOOP;

	FOR rr IN
		SELECT r.* FROM privacy._retention_order() o
		  JOIN privacy.retention_rules r ON r.name OPERATOR(pg_catalog.=) o.rule_name
	LOOP
		counts := privacy._retention_counts(rr, pg_catalog.now());
		rules := rules OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object(rr.name, pg_catalog.jsonb_build_object(
			'table', privacy._qualified_name(rr.table_name), 'action', rr.action,
			'due', counts.rows_due OPERATOR(pg_catalog.-) counts.rows_held, 'done', 0, 'held', counts.rows_held,
			'blocked', 0, 'status', 'pending'));
		total := total OPERATOR(pg_catalog.+) counts.rows_due OPERATOR(pg_catalog.-) counts.rows_held;
	END LOOP;

	INSERT INTO privacy.retention_runs (backend_start, batch_size, time_budget, rows_due, rules)
	SELECT a.backend_start, batch_size, time_budget, total, rules
	  FROM pg_catalog.pg_stat_activity a WHERE a.pid OPERATOR(pg_catalog.=) pg_catalog.pg_backend_pid()
	RETURNING id INTO run_id;
	RETURN run_id;
END
$$;

-- As in 1.3, and a rule that cannot be enforced now shows without counts
-- instead of failing the whole view.
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
	FOR rr IN SELECT * FROM privacy.retention_rules ORDER BY name LOOP
		rule := rr.name;
		table_name := rr.table_name;
		action := rr.action;
		period := rr.period;
		minimum := rr.minimum;
		IF privacy._retention_rule_problem(rr) IS NULL THEN
			counts := privacy._retention_counts(rr, pg_catalog.now());
			due_through := privacy._retention_rule_cutoff(rr, pg_catalog.now());
			rows_due := counts.rows_due;
			oldest_due := counts.oldest_due;
			rows_held := counts.rows_held;
		ELSE
			due_through := NULL;
			rows_due := NULL;
			oldest_due := NULL;
			rows_held := NULL;
		END IF;
		table_hold := (SELECT h.reference FROM privacy.legal_holds h
						WHERE h.released_at IS NULL AND h.table_name OPERATOR(pg_catalog.=) rr.table_name
						ORDER BY h.placed_at, h.id LIMIT 1);
		guarded := rr.minimum IS NULL
				   OR COALESCE((SELECT g.current FROM privacy._retention_guards g
								 WHERE g.table_name OPERATOR(pg_catalog.=) rr.table_name), false);
		SELECT * INTO last_run FROM privacy.retention_runs r
		 WHERE r.rules OPERATOR(pg_catalog.?) rr.name AND r.status OPERATOR(pg_catalog.<>) 'running'
		 ORDER BY r.id DESC LIMIT 1;
		last_run_id := last_run.id;
		last_run_at := last_run.finished_at;
		last_run_status := last_run.rules OPERATOR(pg_catalog.->) rr.name OPERATOR(pg_catalog.->>) 'status';
		last_run_done := (last_run.rules OPERATOR(pg_catalog.->) rr.name OPERATOR(pg_catalog.->>) 'done')::bigint;
		last_run_blocked := (last_run.rules OPERATOR(pg_catalog.->) rr.name OPERATOR(pg_catalog.->>) 'blocked')::bigint;
		RETURN NEXT;
	END LOOP;
END
$$;

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
