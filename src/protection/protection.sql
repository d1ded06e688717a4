-- protection: protect() and unprotect(): forced row security on protected
-- tables, the tables on their paths and their children, rectification
-- auditing, and the lint checks of installed protection. C: src/protection/.

CREATE FUNCTION privacy_internal._audit_rectification() RETURNS trigger
    LANGUAGE c
    AS 'MODULE_PATHNAME', 'privacy_audit_rectification';

COMMENT ON FUNCTION privacy_internal._audit_rectification() IS 'Statement trigger installed by privacy.protect(): records each rectified row in the audit log, naming its subject and the changed columns but not their values, in one set-based write per UPDATE; refuses to run as any other trigger';

REVOKE ALL ON FUNCTION privacy_internal._audit_rectification() FROM PUBLIC;

CREATE FUNCTION privacy_internal._check_citus_table(rel regclass, expression text) RETURNS boolean
    LANGUAGE c STRICT
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS 'MODULE_PATHNAME', 'privacy_check_citus_table';

COMMENT ON FUNCTION privacy_internal._check_citus_table(rel regclass, expression text) IS 'Whether Citus manages a table about to be protected with the given row policy expression; refuses one whose policy the worker nodes could not check';

REVOKE ALL ON FUNCTION privacy_internal._check_citus_table(rel regclass, expression text) FROM PUBLIC;

CREATE FUNCTION privacy_internal._install_protection(rel regclass, kinds text[], path_only boolean) RETURNS void
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
	cls pg_catalog.pg_class;
	qname text := privacy_internal._qualified_name(rel);
	using_expr text := privacy_internal._protection_expr(rel, kinds, 'privacy_internal._may_process');
	trigger_args text := '';
	k text;
BEGIN
	SELECT * INTO STRICT cls FROM pg_catalog.pg_class c WHERE c.oid OPERATOR(pg_catalog.=) rel;
	-- Citus creates the policies and the trigger on every shard of a table
	-- it manages (a trigger only when allowed to, for this function alone).
	IF privacy_internal._check_citus_table(rel, using_expr) THEN
		PERFORM pg_catalog.set_config('citus.enable_unsafe_triggers', 'on', true);
	END IF;
	EXECUTE pg_catalog.format('CREATE POLICY privacy_purpose ON %s AS RESTRICTIVE FOR ALL TO PUBLIC USING (%s) WITH CHECK (%s)',
							  qname, using_expr,
							  privacy_internal._protection_expr(rel, kinds, 'privacy_internal._may_write'));
	IF NOT cls.relrowsecurity THEN
		EXECUTE pg_catalog.format('CREATE POLICY privacy_rows ON %s AS PERMISSIVE FOR ALL TO PUBLIC USING (true) WITH CHECK (true)', qname);
	END IF;
	EXECUTE pg_catalog.format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY', qname);
	IF EXISTS (SELECT FROM privacy.classified_columns cc WHERE cc.table_name OPERATOR(pg_catalog.=) rel) THEN
		FOREACH k IN ARRAY kinds LOOP
			trigger_args := trigger_args OPERATOR(pg_catalog.||)
				pg_catalog.format('%s%L, %L', CASE WHEN trigger_args OPERATOR(pg_catalog.=) '' THEN '' ELSE ', ' END,
								  k, privacy_internal._subject_key_sql(k, rel, cls.relname));
		END LOOP;
		EXECUTE pg_catalog.format('CREATE TRIGGER privacy_rectification AFTER UPDATE ON %s REFERENCING OLD TABLE AS privacy_old NEW TABLE AS privacy_new FOR EACH STATEMENT EXECUTE FUNCTION privacy_internal._audit_rectification(%s)',
								  qname, trigger_args);
	END IF;
	INSERT INTO privacy.protected_tables (table_name, kinds, base_policy, had_row_security,
										  had_force_row_security, protected_by, path_only)
	VALUES (rel, kinds, NOT cls.relrowsecurity, cls.relrowsecurity, cls.relforcerowsecurity,
			privacy_internal._acting_role(), path_only);
END
$$;

COMMENT ON FUNCTION privacy_internal._install_protection(rel regclass, kinds text[], path_only boolean) IS 'Puts purpose-aware row policies (and, on a personal table, the rectification trigger) on a table and registers it as protected';

REVOKE ALL ON FUNCTION privacy_internal._install_protection(rel regclass, kinds text[], path_only boolean) FROM PUBLIC;

CREATE TABLE privacy.protected_tables (
    table_name regclass NOT NULL,
    kinds text[] NOT NULL,
    base_policy boolean NOT NULL,
    had_row_security boolean NOT NULL,
    had_force_row_security boolean NOT NULL,
    protected_at timestamp with time zone DEFAULT now() NOT NULL,
    protected_by name NOT NULL,
    path_only boolean DEFAULT false NOT NULL,
    child_of regclass,
    CONSTRAINT protected_tables_pkey PRIMARY KEY (table_name)
);

COMMENT ON TABLE privacy.protected_tables IS 'Tables protected by privacy.protect(), the subject kinds their policies check, and the row-security settings to restore on unprotect';

COMMENT ON COLUMN privacy.protected_tables.path_only IS 'Protected only because it is on the subject path of another protected table; released when no protected table''s path runs through it';

COMMENT ON COLUMN privacy.protected_tables.child_of IS 'For a partition or inheritance child protected with its ancestor: that protected ancestor, whose subject path and kinds its policies check; released with it';

GRANT SELECT ON TABLE privacy.protected_tables TO PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('privacy.protected_tables', '');

CREATE FUNCTION privacy_internal._lint_children()
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
	SELECT DISTINCT ON (d.child) 'error', privacy_internal._qualified_name(d.child::pg_catalog.regclass),
		   pg_catalog.format('is a %s of protected table %s but is not protected: a query that names it reads every row',
							 CASE WHEN c.relispartition THEN 'partition' ELSE 'child' END,
							 privacy_internal._qualified_name(d.root::pg_catalog.regclass)),
		   pg_catalog.format('Protect it with its parent: SELECT privacy.protect(%L);',
							 privacy_internal._qualified_name(d.root::pg_catalog.regclass))
	  FROM descendant d
	  JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) d.child
	 WHERE NOT EXISTS (SELECT FROM privacy.protected_tables st WHERE st.table_name OPERATOR(pg_catalog.=) d.child)
	 ORDER BY d.child, d.depth;
END;

COMMENT ON FUNCTION privacy_internal._lint_children() IS 'lint: partitions and inheritance children of a protected table that are not protected';

CREATE FUNCTION privacy_internal._lint_installed_protection() RETURNS TABLE(severity text, object text, problem text, hint text)
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $_$
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
		qname := privacy_internal._qualified_name(pt.table_name);
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
				same_using := privacy_internal._same_policy_expression(pt.table_name, pol.polqual,
					privacy_internal._protection_expr(pt.table_name, pt.kinds, 'privacy_internal._may_process'));
				same_check := privacy_internal._same_policy_expression(pt.table_name, pol.polwithcheck,
					privacy_internal._protection_expr(pt.table_name, pt.kinds, 'privacy_internal._may_write'));
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
		SELECT t.tgenabled, t.tgtype, t.tgoldtable, t.tgnewtable INTO tg FROM pg_catalog.pg_trigger t
		 WHERE t.tgrelid OPERATOR(pg_catalog.=) pt.table_name
		   AND t.tgname OPERATOR(pg_catalog.=) 'privacy_rectification'
		   AND t.tgfoid OPERATOR(pg_catalog.=) 'privacy_internal._audit_rectification()'::pg_catalog.regprocedure;
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
		ELSIF FOUND AND ((tg.tgtype::integer OPERATOR(pg_catalog.&) 1) OPERATOR(pg_catalog.<>) 0
						 OR tg.tgoldtable IS NULL OR tg.tgnewtable IS NULL) THEN
			-- 1 is TRIGGER_TYPE_ROW: the trigger must fire once per statement,
			-- reading the statement's rows from its transition tables.
			problem := 'trigger "privacy_rectification" was changed: it no longer fires once per UPDATE statement with the statement''s old and new rows, so rectifications are not audited';
			hint := pg_catalog.format('SELECT privacy.unprotect(%1$L); SELECT privacy.protect(%1$L);', qname);
			RETURN NEXT;
		END IF;
	END LOOP;

	RETURN QUERY
		SELECT 'error', privacy_internal._qualified_name(t.tgrelid),
			   pg_catalog.format('trigger "%s" is disabled: %s', t.tgname,
								 CASE WHEN t.tgfoid OPERATOR(pg_catalog.=) 'privacy_internal._guard_trigger()'::pg_catalog.regprocedure
									  THEN 'the sensitive-data guard lets CPR and card numbers in'
									  ELSE 'the retention guard no longer keeps rows under their legal minimum' END),
			   pg_catalog.format('ALTER TABLE %s ENABLE TRIGGER %I;', privacy_internal._qualified_name(t.tgrelid), t.tgname)
		  FROM pg_catalog.pg_trigger t
		 WHERE t.tgfoid OPERATOR(pg_catalog.=) ANY (ARRAY['privacy_internal._guard_trigger()'::pg_catalog.regprocedure,
														  'privacy_internal._retention_guard()'::pg_catalog.regprocedure]::pg_catalog.oid[])
		   AND t.tgparentid OPERATOR(pg_catalog.=) 0
		   AND t.tgenabled OPERATOR(pg_catalog.=) ANY ('{D,R}'::"char"[])
		 ORDER BY 2, t.tgname;
END
$_$;

COMMENT ON FUNCTION privacy_internal._lint_installed_protection() IS 'lint: row policies, rectification, guard and retention triggers that a table owner changed, disabled or dropped since the extension installed them';

CREATE FUNCTION privacy_internal._protected_paths()
RETURNS TABLE (table_name regclass, kind text, path_table regclass, hops oid[], path_table_hops oid[])
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	WITH p AS MATERIALIZED (SELECT * FROM privacy_internal._subject_paths())
	SELECT p.table_name, p.kind, f.to_table, p.hops[h.ord OPERATOR(pg_catalog.+) 1:], own.hops
	  FROM p
	  JOIN privacy.protected_tables pt ON pt.table_name OPERATOR(pg_catalog.=) p.table_name
									  AND p.kind OPERATOR(pg_catalog.=) ANY (pt.kinds)
	 CROSS JOIN LATERAL pg_catalog.unnest(p.hops) WITH ORDINALITY AS h(oid, ord)
	  JOIN privacy.foreign_keys f ON f.constraint_oid OPERATOR(pg_catalog.=) h.oid
	  LEFT JOIN p own ON own.kind OPERATOR(pg_catalog.=) p.kind
					 AND own.table_name OPERATOR(pg_catalog.=) f.to_table;
END;

COMMENT ON FUNCTION privacy_internal._protected_paths() IS 'The tables on the path from each protected table to each of its subject kinds'' anchor, anchor included, with the path onward from each';

REVOKE ALL ON FUNCTION privacy_internal._protected_paths() FROM PUBLIC;

CREATE FUNCTION privacy_internal._lint_path_tables()
RETURNS TABLE (severity text, object text, problem text, hint text)
LANGUAGE sql STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT DISTINCT 'error', privacy_internal._qualified_name(r.path_table),
		   pg_catalog.format('is on the subject path of protected table %s but is not protected: a role that may update it can move that table''s rows to another subject',
							 privacy_internal._qualified_name(r.reader)),
		   pg_catalog.format('Protect the whole path: SELECT privacy.unprotect(%1$L); SELECT privacy.protect(%1$L);',
							 privacy_internal._qualified_name(r.reader))
	  FROM (SELECT pol.polrelid::regclass AS reader, d.refobjid::regclass AS path_table
			  FROM privacy.protected_tables pt
			  JOIN pg_catalog.pg_policy pol ON pol.polrelid OPERATOR(pg_catalog.=) pt.table_name
										   AND pol.polname OPERATOR(pg_catalog.=) 'privacy_purpose'
			  JOIN pg_catalog.pg_depend d ON d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_policy'::pg_catalog.regclass
										 AND d.objid OPERATOR(pg_catalog.=) pol.oid
										 AND d.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass
										 AND d.refobjid OPERATOR(pg_catalog.<>) pol.polrelid
			UNION
			SELECT pp.table_name, pp.path_table FROM privacy_internal._protected_paths() pp) r
	 WHERE NOT EXISTS (SELECT FROM privacy.protected_tables st
						WHERE st.table_name OPERATOR(pg_catalog.=) r.path_table)
	UNION ALL
	SELECT 'error', privacy_internal._qualified_name(pp.path_table),
		   pg_catalog.format('is on the subject path of protected table %s for subject kind "%s", but its protection does not check that kind along the same path',
							 privacy_internal._qualified_name(pp.table_name), pp.kind),
		   CASE WHEN pp.path_table_hops IS DISTINCT FROM pp.hops
				THEN pg_catalog.format('Pin the path of %s to kind "%s" in the policy document to: %s; then rebuild the protection of %s.',
									   privacy_internal._qualified_name(pp.path_table), pp.kind,
									   privacy_internal._path_text(pp.hops), privacy_internal._qualified_name(pp.table_name))
				ELSE pg_catalog.format('Rebuild its protection: SELECT privacy.unprotect(%1$L); SELECT privacy.protect(%1$L);',
									   privacy_internal._qualified_name(pp.path_table)) END
	  FROM privacy_internal._protected_paths() pp
	  JOIN privacy.protected_tables st ON st.table_name OPERATOR(pg_catalog.=) pp.path_table
	 WHERE NOT pp.kind OPERATOR(pg_catalog.=) ANY (st.kinds) OR pp.path_table_hops IS DISTINCT FROM pp.hops;
END;

COMMENT ON FUNCTION privacy_internal._lint_path_tables() IS 'lint: tables on the subject path of a protected table that are not protected, or not for the same kind along the same path';

CREATE FUNCTION privacy_internal._lint_protection()
RETURNS TABLE (severity text, object text, problem text, hint text)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT DISTINCT 'warning', privacy_internal._qualified_name(cc.table_name),
		   'holds personal data but is not protected by purpose-aware row policies',
		   pg_catalog.format('Every query sees its rows whatever its purpose, consent or restriction: SELECT privacy.protect(%L);',
							 privacy_internal._qualified_name(cc.table_name))
	  FROM privacy.classified_columns cc
	 WHERE NOT EXISTS (SELECT FROM privacy.protected_tables pt WHERE pt.table_name = cc.table_name)
	UNION ALL
	SELECT 'error', privacy_internal._qualified_name(pt.table_name),
		   'is registered as protected, but its row security or its policy "privacy_purpose" was removed',
		   pg_catalog.format('Restore the protection: SELECT privacy.unprotect(%1$L); SELECT privacy.protect(%1$L);',
							 privacy_internal._qualified_name(pt.table_name))
	  FROM privacy.protected_tables pt
	  JOIN pg_catalog.pg_class c ON c.oid = pt.table_name
	 WHERE NOT (c.relrowsecurity AND c.relforcerowsecurity
				AND EXISTS (SELECT FROM pg_catalog.pg_policy pol
							 WHERE pol.polrelid = c.oid AND pol.polname = 'privacy_purpose'));
END;

COMMENT ON FUNCTION privacy_internal._lint_protection() IS 'lint: tables holding personal data without purpose-aware row policies, and protected tables whose protection was removed';

CREATE FUNCTION privacy_internal._path_needed_by(rel regclass)
RETURNS regclass[]
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT pg_catalog.array_agg(DISTINCT pp.table_name ORDER BY pp.table_name)
	  FROM privacy_internal._protected_paths() pp
	 WHERE pp.path_table OPERATOR(pg_catalog.=) rel
	   AND pp.table_name OPERATOR(pg_catalog.<>) rel;
END;

COMMENT ON FUNCTION privacy_internal._path_needed_by(rel regclass) IS 'The protected tables whose subject path runs through a table';

REVOKE ALL ON FUNCTION privacy_internal._path_needed_by(rel regclass) FROM PUBLIC;

CREATE FUNCTION privacy_internal._protect_children(check_owner boolean, of regclass) RETURNS regclass[]
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
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
		IF check_owner AND NOT pg_catalog.pg_has_role(privacy_internal._acting_role(), c.relowner, 'USAGE') THEN
			RAISE EXCEPTION 'must be owner of table %', privacy_internal._qualified_name(c.child)
				USING ERRCODE = 'insufficient_privilege',
					  DETAIL = pg_catalog.format('It is a partition or child of protected table %s, whose rows it holds.',
												 privacy_internal._qualified_name(c.root));
		END IF;
		-- Registered first: the statements below fire the event trigger
		-- that calls this function, which must find nothing left to do.
		INSERT INTO privacy.protected_tables (table_name, kinds, base_policy, had_row_security,
											  had_force_row_security, protected_by, path_only, child_of)
		VALUES (c.child, c.kinds, NOT c.relrowsecurity, c.relrowsecurity, c.relforcerowsecurity,
				privacy_internal._acting_role(), false, c.root);
		EXECUTE pg_catalog.format('CREATE POLICY privacy_purpose ON %s AS RESTRICTIVE FOR ALL TO PUBLIC USING (%s) WITH CHECK (%s)',
								  privacy_internal._qualified_name(c.child),
								  privacy_internal._protection_expr(c.root, c.kinds, 'privacy_internal._may_process', c.child),
								  privacy_internal._protection_expr(c.root, c.kinds, 'privacy_internal._may_write', c.child));
		IF NOT c.relrowsecurity THEN
			EXECUTE pg_catalog.format('CREATE POLICY privacy_rows ON %s AS PERMISSIVE FOR ALL TO PUBLIC USING (true) WITH CHECK (true)',
									  privacy_internal._qualified_name(c.child));
		END IF;
		EXECUTE pg_catalog.format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY',
								  privacy_internal._qualified_name(c.child));
		-- Each child gets its own statement trigger (statement triggers are
		-- not cloned to partitions), for the UPDATEs that name the child; an
		-- UPDATE naming its ancestor fires the ancestor's, whose transition
		-- tables hold the child's rows too.
		IF EXISTS (SELECT FROM pg_catalog.pg_trigger t
					WHERE t.tgrelid OPERATOR(pg_catalog.=) c.root AND t.tgname OPERATOR(pg_catalog.=) 'privacy_rectification')
		   AND NOT EXISTS (SELECT FROM pg_catalog.pg_trigger t
							WHERE t.tgrelid OPERATOR(pg_catalog.=) c.child
							  AND t.tgname OPERATOR(pg_catalog.=) 'privacy_rectification') THEN
			trigger_args := '';
			FOREACH k IN ARRAY c.kinds LOOP
				trigger_args := trigger_args OPERATOR(pg_catalog.||)
					pg_catalog.format('%s%L, %L', CASE WHEN trigger_args OPERATOR(pg_catalog.=) '' THEN '' ELSE ', ' END,
									  k, privacy_internal._subject_key_sql(k, c.root, c.relname));
			END LOOP;
			EXECUTE pg_catalog.format('CREATE TRIGGER privacy_rectification AFTER UPDATE ON %s REFERENCING OLD TABLE AS privacy_old NEW TABLE AS privacy_new FOR EACH STATEMENT EXECUTE FUNCTION privacy_internal._audit_rectification(%s)',
									  privacy_internal._qualified_name(c.child), trigger_args);
		END IF;
		added := added OPERATOR(pg_catalog.||) c.child;
	END LOOP;
	RETURN added;
END
$$;

COMMENT ON FUNCTION privacy_internal._protect_children(check_owner boolean, of regclass) IS 'Protects every partition and inheritance child of a protected table with its ancestor''s check; returns those it protected';

REVOKE ALL ON FUNCTION privacy_internal._protect_children(check_owner boolean, of regclass) FROM PUBLIC;

CREATE FUNCTION privacy_internal._protect_new_children() RETURNS event_trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
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
	added := privacy_internal._protect_children(false, NULL);
	IF pg_catalog.cardinality(added) OPERATOR(pg_catalog.>) 0 THEN
		PERFORM privacy_internal._audit(privacy_internal._acting_role(), 'protect', NULL, NULL, NULL,
							   pg_catalog.jsonb_build_object('children', privacy_internal._qualified_names(added)));
	END IF;
END
$$;

COMMENT ON FUNCTION privacy_internal._protect_new_children() IS 'Event trigger: protects a new partition or inheritance child of a protected table with it';

REVOKE ALL ON FUNCTION privacy_internal._protect_new_children() FROM PUBLIC;

CREATE FUNCTION privacy_internal._protect_path_tables() RETURNS regclass[]
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $_$
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
			  FROM privacy_internal._protected_paths() pp
			  LEFT JOIN privacy.protected_tables st ON st.table_name OPERATOR(pg_catalog.=) pp.path_table
			 ORDER BY pp.table_name, pp.kind, pp.path_table
		LOOP
			IF p.path_table_hops IS DISTINCT FROM p.hops THEN
				RAISE EXCEPTION 'table % reaches subject kind "%" through table %, which reaches that kind by another path',
					privacy_internal._qualified_name(p.reader), p.kind, privacy_internal._qualified_name(p.path_table)
					USING ERRCODE = 'invalid_foreign_key',
						  DETAIL = pg_catalog.format('The path onward from %s is: %s.', privacy_internal._qualified_name(p.path_table),
													 privacy_internal._path_text(p.hops)),
						  HINT = pg_catalog.format('Pin the path of %s to that one in the policy document, with "paths" under the subject kind.',
												   privacy_internal._qualified_name(p.path_table));
			END IF;
			IF p.registered AND p.kind OPERATOR(pg_catalog.=) ANY (p.path_kinds) THEN
				CONTINUE;
			END IF;
			IF p.registered AND NOT p.path_only THEN
				RAISE EXCEPTION 'table % reaches subject kind "%" through table %, whose protection does not check that kind',
					privacy_internal._qualified_name(p.reader), p.kind, privacy_internal._qualified_name(p.path_table)
					USING ERRCODE = 'object_not_in_prerequisite_state',
						  HINT = pg_catalog.format('Rebuild its protection: SELECT privacy.unprotect(%1$L); SELECT privacy.protect(%1$L);',
												   privacy_internal._qualified_name(p.path_table));
			END IF;
			SELECT c.relowner INTO STRICT owner FROM pg_catalog.pg_class c WHERE c.oid OPERATOR(pg_catalog.=) p.path_table;
			IF NOT pg_catalog.pg_has_role(privacy_internal._acting_role(), owner, 'USAGE') THEN
				RAISE EXCEPTION 'must be owner of table %', privacy_internal._qualified_name(p.path_table)
					USING ERRCODE = 'insufficient_privilege',
						  DETAIL = pg_catalog.format('It is on the subject path of table %s, so protecting %s protects it too.',
													 privacy_internal._qualified_name(p.reader), privacy_internal._qualified_name(p.reader));
			END IF;
			IF p.registered THEN
				PERFORM privacy_internal._remove_protection(p.path_table);
			END IF;
			SELECT pg_catalog.array_agg(sp.kind ORDER BY sp.kind) INTO kinds
			  FROM privacy_internal._subject_paths() sp WHERE sp.table_name OPERATOR(pg_catalog.=) p.path_table;
			PERFORM privacy_internal._install_protection(p.path_table, kinds, true);
			IF NOT p.path_table OPERATOR(pg_catalog.=) ANY (added) THEN
				added := added OPERATOR(pg_catalog.||) p.path_table;
			END IF;
			again := true;
			EXIT;
		END LOOP;
	END LOOP;
	RETURN added;
END
$_$;

COMMENT ON FUNCTION privacy_internal._protect_path_tables() IS 'Protects every table on the subject path of a protected table; returns those it protected';

REVOKE ALL ON FUNCTION privacy_internal._protect_path_tables() FROM PUBLIC;

CREATE FUNCTION privacy_internal._protection_expr(path_rel regclass, kinds text[], check_fn text, row_rel regclass) RETURNS text
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
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
		hops := privacy_internal._subject_path(k.name, path_rel);
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
			check_fn, k.name, privacy_internal._subject_key_sql(k.name, path_rel, relname),
			CASE WHEN key_type OPERATOR(pg_catalog.=) ANY (ARRAY['smallint', 'integer', 'bigint']::pg_catalog.regtype[])
				 THEN 'bigint' ELSE 'text' END,
			CASE WHEN guard IS NOT NULL THEN ', NOT (' OPERATOR(pg_catalog.||) guard OPERATOR(pg_catalog.||) ')' ELSE '' END);
	END LOOP;
	RETURN pg_catalog.array_to_string(terms, ' AND ');
END
$$;

COMMENT ON FUNCTION privacy_internal._protection_expr(path_rel regclass, kinds text[], check_fn text, row_rel regclass) IS 'The row policy expression of a table (or of a partition or child of it) checking every subject kind along the table''s subject path';

REVOKE ALL ON FUNCTION privacy_internal._protection_expr(path_rel regclass, kinds text[], check_fn text, row_rel regclass) FROM PUBLIC;

CREATE FUNCTION privacy_internal._protection_expr(rel regclass, kinds text[], check_fn text)
RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
RETURN privacy_internal._protection_expr(rel, kinds, check_fn, rel);

COMMENT ON FUNCTION privacy_internal._protection_expr(rel regclass, kinds text[], check_fn text) IS 'The row policy expression checking every subject kind that reaches a table';

REVOKE ALL ON FUNCTION privacy_internal._protection_expr(rel regclass, kinds text[], check_fn text) FROM PUBLIC;

CREATE FUNCTION privacy_internal._release_children() RETURNS regclass[]
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
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
			PERFORM privacy_internal._remove_protection(rel);
			released := released OPERATOR(pg_catalog.||) rel;
		ELSE
			DELETE FROM privacy.protected_tables pt WHERE pt.table_name OPERATOR(pg_catalog.=) rel;
		END IF;
	END LOOP;
	RETURN released;
END
$$;

COMMENT ON FUNCTION privacy_internal._release_children() IS 'Unprotects the partitions and inheritance children whose protected ancestor is no longer protected; returns them';

REVOKE ALL ON FUNCTION privacy_internal._release_children() FROM PUBLIC;

CREATE FUNCTION privacy_internal._release_path_tables() RETURNS regclass[]
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
	rel regclass;
	released regclass[] := '{}';
	again boolean := true;
BEGIN
	WHILE again LOOP
		again := false;
		FOR rel IN
			WITH needed AS MATERIALIZED (SELECT pp.table_name, pp.path_table FROM privacy_internal._protected_paths() pp)
			SELECT pt.table_name FROM privacy.protected_tables pt
			 WHERE pt.path_only
			   AND NOT EXISTS (SELECT FROM needed n
								WHERE n.path_table OPERATOR(pg_catalog.=) pt.table_name
								  AND n.table_name OPERATOR(pg_catalog.<>) pt.table_name)
			 ORDER BY pt.table_name
		LOOP
			PERFORM privacy_internal._remove_protection(rel);
			released := released OPERATOR(pg_catalog.||) rel;
			again := true;
		END LOOP;
	END LOOP;
	RETURN released;
END
$$;

COMMENT ON FUNCTION privacy_internal._release_path_tables() IS 'Unprotects the tables protected for their subject path only that no protected table needs any more; returns them';

REVOKE ALL ON FUNCTION privacy_internal._release_path_tables() FROM PUBLIC;

CREATE FUNCTION privacy_internal._remove_protection(rel regclass) RETURNS void
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
	pt privacy.protected_tables;
	qname text := privacy_internal._qualified_name(rel);
BEGIN
	SELECT * INTO STRICT pt FROM privacy.protected_tables p WHERE p.table_name OPERATOR(pg_catalog.=) rel;
	-- Citus drops the trigger of a table it manages on every shard too, when
	-- allowed to (for this function alone).
	IF EXISTS (SELECT FROM pg_catalog.pg_extension e WHERE e.extname OPERATOR(pg_catalog.=) 'citus') THEN
		PERFORM pg_catalog.set_config('citus.enable_unsafe_triggers', 'on', true);
	END IF;
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

COMMENT ON FUNCTION privacy_internal._remove_protection(rel regclass) IS 'Removes a table''s purpose-aware row policies and rectification trigger, restores its row-security settings and forgets it';

REVOKE ALL ON FUNCTION privacy_internal._remove_protection(rel regclass) FROM PUBLIC;

CREATE FUNCTION privacy_internal._same_policy_expression(rel regclass, installed pg_node_tree, expression text) RETURNS boolean
    LANGUAGE c STABLE STRICT PARALLEL SAFE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS 'MODULE_PATHNAME', 'privacy_same_policy_expression';

COMMENT ON FUNCTION privacy_internal._same_policy_expression(rel regclass, installed pg_node_tree, expression text) IS 'Whether an installed row policy expression (pg_policy.polqual or polwithcheck) is what CREATE POLICY makes of the given expression';

REVOKE ALL ON FUNCTION privacy_internal._same_policy_expression(rel regclass, installed pg_node_tree, expression text) FROM PUBLIC;

CREATE FUNCTION privacy.protect("table" regclass) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
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
	qname := privacy_internal._qualified_name(rel);
	IF cls.relkind OPERATOR(pg_catalog.<>) ALL (ARRAY['r', 'p']::"char"[]) THEN
		RAISE EXCEPTION 'cannot protect % because it is not a table', qname
			USING ERRCODE = 'wrong_object_type';
	END IF;
	IF NOT pg_catalog.pg_has_role(privacy_internal._acting_role(), cls.relowner, 'USAGE') THEN
		RAISE EXCEPTION 'must be owner of table %', qname
			USING ERRCODE = 'insufficient_privilege';
	END IF;
	-- Run again on a protected table, protects its partitions and
	-- children that are not protected yet (as after an update from a
	-- version that left them open).
	IF EXISTS (SELECT FROM privacy.protected_tables pt WHERE pt.table_name OPERATOR(pg_catalog.=) rel) THEN
		children := privacy_internal._protect_children(true, rel);
		IF pg_catalog.cardinality(children) OPERATOR(pg_catalog.>) 0 THEN
			PERFORM privacy_internal._audit(privacy_internal._acting_role(), 'protect', NULL, NULL, NULL,
								   pg_catalog.jsonb_build_object('table', qname, 'children', privacy_internal._qualified_names(children)));
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
	  FROM privacy_internal._subject_paths() sp WHERE sp.table_name OPERATOR(pg_catalog.=) rel;
	IF kinds IS NULL THEN
		RAISE EXCEPTION 'table % does not reach any subject kind', qname
			USING ERRCODE = 'invalid_foreign_key',
				  HINT = 'Only tables that reference a subject kind''s anchor table through foreign keys can be protected; see privacy.subject_map.';
	END IF;

	-- A table protected for another's path so far is protected anew, for
	-- itself and with the policies the subject map gives now.
	IF EXISTS (SELECT FROM privacy.protected_tables pt WHERE pt.table_name OPERATOR(pg_catalog.=) rel) THEN
		PERFORM privacy_internal._remove_protection(rel);
	END IF;
	PERFORM privacy_internal._install_protection(rel, kinds, false);
	children := privacy_internal._protect_children(true, rel);
	path_tables := privacy_internal._protect_path_tables();
	children := children OPERATOR(pg_catalog.||) privacy_internal._protect_children(true, NULL);

	summary := pg_catalog.jsonb_build_object('table', qname, 'kinds', pg_catalog.to_jsonb(kinds));
	IF pg_catalog.cardinality(path_tables) OPERATOR(pg_catalog.>) 0 THEN
		summary := summary OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object('path_tables',
			privacy_internal._qualified_names(path_tables));
	END IF;
	IF pg_catalog.cardinality(children) OPERATOR(pg_catalog.>) 0 THEN
		summary := summary OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object('children',
			privacy_internal._qualified_names(children));
	END IF;
	PERFORM privacy_internal._audit(privacy_internal._acting_role(), 'protect', NULL, NULL, NULL, summary);
END
$$;

COMMENT ON FUNCTION privacy.protect("table" regclass) IS 'Enables and forces row-level security on a table holding personal data, and on every table on the path to its subjects, so that each purpose sees and writes only the rows of subjects it may lawfully process; audits rectifications';

REVOKE ALL ON FUNCTION privacy.protect("table" regclass) FROM PUBLIC;

CREATE FUNCTION privacy.unprotect("table" regclass) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
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
	qname := privacy_internal._qualified_name(rel);
	IF NOT pg_catalog.pg_has_role(privacy_internal._acting_role(), cls.relowner, 'USAGE') THEN
		RAISE EXCEPTION 'must be owner of table %', qname
			USING ERRCODE = 'insufficient_privilege';
	END IF;
	IF pt.child_of IS NOT NULL
	   AND EXISTS (SELECT FROM pg_catalog.pg_inherits i WHERE i.inhrelid OPERATOR(pg_catalog.=) rel) THEN
		RAISE EXCEPTION 'cannot unprotect table % because it is a partition or child of protected table %',
			qname, privacy_internal._qualified_name(pt.child_of)
			USING ERRCODE = 'dependent_objects_still_exist',
				  DETAIL = 'A query that names it would read its rows unchecked; it is unprotected with that table.',
				  HINT = pg_catalog.format('Unprotect %s, or detach the table from it first.', privacy_internal._qualified_name(pt.child_of));
	END IF;
	needed_by := privacy_internal._path_needed_by(rel);
	summary := pg_catalog.jsonb_build_object('table', qname);
	IF needed_by IS NOT NULL THEN
		-- Other protected tables find their rows' subjects through it: it
		-- stays protected for their sake until they are unprotected.
		IF pt.path_only THEN
			RAISE EXCEPTION 'cannot unprotect table % because it is on the subject path of protected table %',
				qname, privacy_internal._qualified_name(needed_by[1])
				USING ERRCODE = 'dependent_objects_still_exist',
					  DETAIL = 'It was protected because it is on the path from that table to its subjects; it is unprotected with the last table that needs it.',
					  HINT = pg_catalog.format('Unprotect %s first.', privacy_internal._qualified_name(needed_by[1]));
		END IF;
		UPDATE privacy.protected_tables p SET path_only = true WHERE p.table_name OPERATOR(pg_catalog.=) rel;
		RAISE NOTICE 'table % stays protected because it is on the subject path of protected table %',
			qname, privacy_internal._qualified_name(needed_by[1])
			USING DETAIL = 'It is on the path from that table to its subjects; it is unprotected with the last table that needs it.';
		summary := summary OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object('kept_for',
			privacy_internal._qualified_names(needed_by));
	ELSE
		PERFORM privacy_internal._remove_protection(rel);
	END IF;
	released := privacy_internal._release_path_tables();
	children := privacy_internal._release_children();
	IF pg_catalog.cardinality(released) OPERATOR(pg_catalog.>) 0 THEN
		summary := summary OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object('path_tables',
			privacy_internal._qualified_names(released));
	END IF;
	IF pg_catalog.cardinality(children) OPERATOR(pg_catalog.>) 0 THEN
		summary := summary OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object('children',
			privacy_internal._qualified_names(children));
	END IF;
	PERFORM privacy_internal._audit(privacy_internal._acting_role(), 'unprotect', NULL, NULL, NULL, summary);
END
$$;

COMMENT ON FUNCTION privacy.unprotect("table" regclass) IS 'Removes what privacy.protect() added to a table and restores its earlier row-security settings; a table on the subject path of another protected table stays protected until that one is unprotected';

REVOKE ALL ON FUNCTION privacy.unprotect("table" regclass) FROM PUBLIC;

CREATE FUNCTION privacy_internal._release_protected_tables() RETURNS void
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
	rel regclass;
BEGIN
	-- A protected table dropped since has nothing left to give back.
	FOR rel IN SELECT pt.table_name
				 FROM privacy.protected_tables pt
				 JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) pt.table_name::pg_catalog.oid
				ORDER BY c.oid LOOP
		PERFORM privacy_internal._remove_protection(rel);
	END LOOP;
END
$$;

COMMENT ON FUNCTION privacy_internal._release_protected_tables() IS 'Removes the protection of every protected table and restores its earlier row-security settings, without audit entries; run when the extension is dropped with CASCADE';

REVOKE ALL ON FUNCTION privacy_internal._release_protected_tables() FROM PUBLIC;

CREATE FUNCTION privacy_internal._release_tables_on_drop() RETURNS event_trigger
    LANGUAGE c
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS 'MODULE_PATHNAME', 'privacy_release_tables_on_drop';

COMMENT ON FUNCTION privacy_internal._release_tables_on_drop() IS 'Event trigger: before DROP EXTENSION opendims_privacy CASCADE, gives every protected table back its row-security settings from before privacy.protect()';

REVOKE ALL ON FUNCTION privacy_internal._release_tables_on_drop() FROM PUBLIC;

CREATE EVENT TRIGGER privacy_release_tables_on_drop ON ddl_command_start
         WHEN TAG IN ('DROP EXTENSION')
   EXECUTE FUNCTION privacy_internal._release_tables_on_drop();

CREATE EVENT TRIGGER privacy_protect_new_children ON ddl_command_end
         WHEN TAG IN ('CREATE TABLE', 'ALTER TABLE')
   EXECUTE FUNCTION privacy_internal._protect_new_children();
