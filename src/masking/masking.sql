-- masking: the masked value of each classified column, the masking views
-- that masked roles read in schema privacy_masked (kept current by
-- event triggers), and anonymised copies. C: src/masking/.

CREATE SCHEMA privacy_masked;

COMMENT ON SCHEMA privacy_masked IS 'Masking views of classified tables, first on the search_path of masked roles';

REVOKE ALL ON SCHEMA privacy_masked FROM PUBLIC;

CREATE FUNCTION privacy_internal._mask_text(text) RETURNS text
    LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'privacy_mask_text';

COMMENT ON FUNCTION privacy_internal._mask_text(text) IS 'The mask of a text column: as privacy.mask() for an e-mail address, international phone number or IP address, else the first character and "***"';

CREATE FUNCTION privacy_internal._mask_pseudonym(text) RETURNS text
    LANGUAGE c STABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'privacy_mask_pseudonym';

COMMENT ON FUNCTION privacy_internal._mask_pseudonym(text) IS 'The keyed pseudonym of a value given as text (HMAC-SHA-256 under the pseudonym key, in hex)';

REVOKE ALL ON FUNCTION privacy_internal._mask_pseudonym(text) FROM PUBLIC;

CREATE TABLE privacy._masking_views (
    view_name name NOT NULL,
    table_name regclass NOT NULL,
    definition text NOT NULL,
    CONSTRAINT _masking_views_pkey PRIMARY KEY (view_name)
);

COMMENT ON TABLE privacy._masking_views IS 'The query of each masking view in privacy_masked, as last generated';

REVOKE ALL ON TABLE privacy._masking_views FROM PUBLIC;

-- The rule that masks a column: its own, else its category's, else the
-- nearest parent category's; a column without one is masked by "mask" if
-- it is of a personal-data type, else by "null".
CREATE FUNCTION privacy_internal._masking_rule(target_table regclass, target_column name, target_category text, target_type oid)
RETURNS TABLE (method text, parameters jsonb)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT r.method, r.parameters
	  FROM (SELECT m.method, m.parameters, 0 AS rank
			  FROM privacy.masking_rules m
			 WHERE m.table_name OPERATOR(pg_catalog.=) target_table AND m.column_name OPERATOR(pg_catalog.=) target_column
			UNION ALL
			SELECT m.method, m.parameters, 1000 OPERATOR(pg_catalog.-) pg_catalog.length(m.category)
			  FROM privacy.masking_rules m
			 WHERE m.category OPERATOR(pg_catalog.=) target_category
				OR pg_catalog.starts_with(target_category, m.category OPERATOR(pg_catalog.||) '.')
			UNION ALL
			SELECT CASE WHEN target_type OPERATOR(pg_catalog.=) ANY (ARRAY['privacy.email'::pg_catalog.regtype,
									'privacy.phone'::pg_catalog.regtype,
									'privacy.ip_address'::pg_catalog.regtype]::pg_catalog.oid[])
						THEN 'mask' ELSE 'null' END,
				   '{}'::pg_catalog.jsonb, 2000) r
	 ORDER BY r.rank
	 LIMIT 1;
END;

COMMENT ON FUNCTION privacy_internal._masking_rule(target_table regclass, target_column name, target_category text, target_type oid) IS 'The masking method and parameters that apply to a classified column';

-- The SQL expression that masks column col (of type typ, typmod typmod) of
-- rel by method; an error if the method does not suit the type.
CREATE FUNCTION privacy_internal._mask_expression(rel regclass, col name, typ oid, typmod integer, method text, parameters jsonb)
RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	c text := pg_catalog.quote_ident(col);
	full_type text := pg_catalog.format_type(typ, typmod);
	personal boolean := typ OPERATOR(pg_catalog.=) ANY (ARRAY['privacy.email'::pg_catalog.regtype,
									'privacy.phone'::pg_catalog.regtype,
									'privacy.ip_address'::pg_catalog.regtype]::pg_catalog.oid[]);
	category char := (SELECT t.typcategory FROM pg_catalog.pg_type t WHERE t.oid OPERATOR(pg_catalog.=) typ);
	expr text;
BEGIN
	IF personal THEN
		-- A masked value of a personal-data type is text, so that neither
		-- a masking view nor a copy is classified by its type again.
		full_type := 'pg_catalog.text';
	END IF;
	expr := CASE method
		WHEN 'null' THEN pg_catalog.format('NULL::%s', full_type)
		WHEN 'constant' THEN pg_catalog.format('%L::%s', parameters OPERATOR(pg_catalog.->>) 'value', full_type)
		WHEN 'mask' THEN
			CASE WHEN personal THEN pg_catalog.format('privacy.mask(%s)', c)
				 WHEN category OPERATOR(pg_catalog.=) 'S' THEN pg_catalog.format('privacy_internal._mask_text(%s::pg_catalog.text)', c) END
		WHEN 'pseudonymize' THEN
			CASE WHEN personal THEN pg_catalog.format('privacy.pseudonymize(%s)', c)
				 ELSE pg_catalog.format('privacy_internal._mask_pseudonym(%s::pg_catalog.text)', c) END
		WHEN 'first_letters' THEN
			CASE WHEN category OPERATOR(pg_catalog.=) 'S' THEN
				pg_catalog.format('pg_catalog.left(%s::pg_catalog.text, %s)', c, (parameters OPERATOR(pg_catalog.->>) 'length')::pg_catalog.int4) END
		WHEN 'range' THEN
			CASE WHEN category OPERATOR(pg_catalog.=) 'N' THEN
				pg_catalog.format('(pg_catalog.floor(%s::pg_catalog.numeric OPERATOR(pg_catalog./) %s) OPERATOR(pg_catalog.*) %s)::%s',
								  c, (parameters OPERATOR(pg_catalog.->>) 'step')::pg_catalog.int4,
								  (parameters OPERATOR(pg_catalog.->>) 'step')::pg_catalog.int4, full_type) END
		WHEN 'network' THEN
			CASE WHEN typ OPERATOR(pg_catalog.=) 'privacy.ip_address'::pg_catalog.regtype THEN
					pg_catalog.format('privacy.truncate_ip(%s, pg_catalog.least(%s, CASE WHEN pg_catalog.family(%s::pg_catalog.inet) OPERATOR(pg_catalog.=) 4 THEN 32 ELSE 128 END))::pg_catalog.text',
									  c, (parameters OPERATOR(pg_catalog.->>) 'prefix')::pg_catalog.int4, c)
				 WHEN typ OPERATOR(pg_catalog.=) ANY (ARRAY['pg_catalog.inet'::pg_catalog.regtype, 'pg_catalog.cidr'::pg_catalog.regtype]::pg_catalog.oid[]) THEN
					pg_catalog.format('pg_catalog.network(pg_catalog.set_masklen(%s::pg_catalog.inet, pg_catalog.least(%s, CASE WHEN pg_catalog.family(%s) OPERATOR(pg_catalog.=) 4 THEN 32 ELSE 128 END)))::%s',
									  c, (parameters OPERATOR(pg_catalog.->>) 'prefix')::pg_catalog.int4, c, full_type) END
		WHEN 'month' THEN
			CASE WHEN category OPERATOR(pg_catalog.=) 'D' AND typ OPERATOR(pg_catalog.<>) 'pg_catalog.time'::pg_catalog.regtype THEN
				pg_catalog.format('pg_catalog.date_trunc(''month'', %s)::%s', c, full_type) END
		WHEN 'year' THEN
			CASE WHEN category OPERATOR(pg_catalog.=) 'D' AND typ OPERATOR(pg_catalog.<>) 'pg_catalog.time'::pg_catalog.regtype THEN
				pg_catalog.format('pg_catalog.date_trunc(''year'', %s)::%s', c, full_type) END
	END;
	IF expr IS NULL THEN
		RAISE EXCEPTION 'masking method "%" does not apply to column "%" of table % of type %',
			method, col, privacy_internal._qualified_name(rel), full_type
			USING ERRCODE = 'datatype_mismatch',
				  HINT = 'Give the column a masking rule whose method suits its type (docs/masking.md lists them), such as "null" or "constant".';
	END IF;
	RETURN expr;
END
$$;

COMMENT ON FUNCTION privacy_internal._mask_expression(rel regclass, col name, typ oid, typmod integer, method text, parameters jsonb) IS 'The SQL expression that masks a column by a masking method';

REVOKE ALL ON FUNCTION privacy_internal._mask_expression(rel regclass, col name, typ oid, typmod integer, method text, parameters jsonb) FROM PUBLIC;

-- Every classified column of a table with the select-list item that masks
-- it; unclassified columns pass through.
CREATE FUNCTION privacy_internal._masked_select_list(rel regclass) RETURNS text
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT pg_catalog.string_agg(
			CASE WHEN cc.column_name IS NULL THEN pg_catalog.quote_ident(a.attname)
				 ELSE pg_catalog.format('%s AS %I',
						privacy_internal._mask_expression(rel, a.attname, a.atttypid, a.atttypmod, r.method, r.parameters),
						a.attname) END,
			', ' ORDER BY a.attnum)
	  FROM pg_catalog.pg_attribute a
	  LEFT JOIN privacy.classified_columns cc
		ON cc.table_name OPERATOR(pg_catalog.=) rel AND cc.column_name OPERATOR(pg_catalog.=) a.attname
	  LEFT JOIN LATERAL privacy_internal._masking_rule(rel, a.attname, cc.category, a.atttypid) r
		ON cc.column_name IS NOT NULL
	 WHERE a.attrelid OPERATOR(pg_catalog.=) rel AND a.attnum OPERATOR(pg_catalog.>) 0 AND NOT a.attisdropped;
END;

COMMENT ON FUNCTION privacy_internal._masked_select_list(rel regclass) IS 'The select list that reads a table with its classified columns masked';

REVOKE ALL ON FUNCTION privacy_internal._masked_select_list(rel regclass) FROM PUBLIC;

CREATE VIEW privacy.masked_columns AS
SELECT cc.table_name, cc.column_name, cc.category, r.method, r.parameters,
	   pg_catalog.format('privacy_masked.%I', c.relname) AS masking_view
  FROM privacy.classified_columns cc
  JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) cc.table_name
  JOIN pg_catalog.pg_attribute a ON a.attrelid OPERATOR(pg_catalog.=) c.oid AND a.attname OPERATOR(pg_catalog.=) cc.column_name
  CROSS JOIN LATERAL privacy_internal._masking_rule(cc.table_name, cc.column_name, cc.category, a.atttypid) r;

COMMENT ON VIEW privacy.masked_columns IS 'Every classified column with the masking method that masked roles and anonymised copies see it through';

GRANT SELECT ON TABLE privacy.masked_columns TO PUBLIC;

-- The tables that get a masking view: every ordinary or partitioned table
-- outside the extension's schemas with a classified column.
CREATE FUNCTION privacy_internal._masked_tables()
RETURNS TABLE (table_name regclass, view_name name)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT DISTINCT c.oid::pg_catalog.regclass, c.relname
	  FROM privacy.classified_columns cc
	  JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) cc.table_name
	 WHERE c.relkind OPERATOR(pg_catalog.=) ANY (ARRAY['r', 'p']::"char"[])
	   AND NOT c.relispartition
	   AND c.relpersistence OPERATOR(pg_catalog.=) 'p'
	   AND c.relnamespace OPERATOR(pg_catalog.<>) ALL (ARRAY['privacy'::pg_catalog.regnamespace,
						'privacy_internal'::pg_catalog.regnamespace, 'privacy_masked'::pg_catalog.regnamespace]::pg_catalog.oid[]);
END;

COMMENT ON FUNCTION privacy_internal._masked_tables() IS 'The tables with classified columns that masked roles read through masking views';

REVOKE ALL ON FUNCTION privacy_internal._masked_tables() FROM PUBLIC;

-- True if role holds a privilege itself (not through PUBLIC or another
-- role) in acl.
CREATE FUNCTION privacy_internal._acl_names(acl aclitem[], role oid) RETURNS boolean
    LANGUAGE sql IMMUTABLE
    SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT EXISTS (SELECT FROM pg_catalog.aclexplode(acl) e WHERE e.grantee OPERATOR(pg_catalog.=) role);
END;

COMMENT ON FUNCTION privacy_internal._acl_names(acl aclitem[], role oid) IS 'Whether an access control list grants a role anything directly';

REVOKE ALL ON FUNCTION privacy_internal._acl_names(acl aclitem[], role oid) FROM PUBLIC;

-- Takes every privilege on the table away from a masked role, and refuses
-- a role that can still read or write it through PUBLIC or another role.
CREATE FUNCTION privacy_internal._unmask_proof(rel regclass, role oid) RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	via text;
BEGIN
	IF privacy_internal._acl_names((SELECT c.relacl FROM pg_catalog.pg_class c WHERE c.oid OPERATOR(pg_catalog.=) rel), role)
	   OR EXISTS (SELECT FROM pg_catalog.pg_attribute a
				   WHERE a.attrelid OPERATOR(pg_catalog.=) rel AND a.attacl IS NOT NULL
					 AND privacy_internal._acl_names(a.attacl, role)) THEN
		EXECUTE pg_catalog.format('REVOKE ALL ON TABLE %s FROM %I', rel, role::pg_catalog.regrole);
	END IF;
	IF pg_catalog.pg_has_role(role, (SELECT c.relowner FROM pg_catalog.pg_class c WHERE c.oid OPERATOR(pg_catalog.=) rel), 'USAGE')
	   OR pg_catalog.has_any_column_privilege(role, rel, 'SELECT, INSERT, UPDATE, REFERENCES') THEN
		via := (SELECT pg_catalog.string_agg(pg_catalog.quote_ident(g.rolname), ', ' ORDER BY g.rolname)
				  FROM pg_catalog.pg_roles g
				 WHERE g.oid OPERATOR(pg_catalog.<>) role AND pg_catalog.pg_has_role(role, g.oid, 'USAGE')
				   AND pg_catalog.has_any_column_privilege(g.oid, rel, 'SELECT, INSERT, UPDATE, REFERENCES'));
		RAISE EXCEPTION 'masked role "%" can still read or write table % directly', role::pg_catalog.regrole,
			privacy_internal._qualified_name(rel)
			USING ERRCODE = 'insufficient_privilege',
				  DETAIL = pg_catalog.format('The role owns the table, or is granted privileges on it through %s.',
											 COALESCE('the roles ' OPERATOR(pg_catalog.||) via, 'PUBLIC')),
				  HINT = 'A masked role may hold no privilege on a classified table: revoke them from PUBLIC or the roles it is a member of, or remove the role from "masking"."roles".';
	END IF;
END
$$;

COMMENT ON FUNCTION privacy_internal._unmask_proof(rel regclass, role oid) IS 'Revokes a masked role''s privileges on a classified table; an error if it keeps any through PUBLIC, membership or ownership';

REVOKE ALL ON FUNCTION privacy_internal._unmask_proof(rel regclass, role oid) FROM PUBLIC;

-- Drops the masking views not named in keep.
CREATE FUNCTION privacy_internal._drop_masking_views(keep name[]) RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	stale name;
BEGIN
	FOR stale IN SELECT c.relname FROM pg_catalog.pg_class c
				  WHERE c.relnamespace OPERATOR(pg_catalog.=) 'privacy_masked'::pg_catalog.regnamespace
					AND c.relkind OPERATOR(pg_catalog.=) 'v'
					AND c.relname OPERATOR(pg_catalog.<>) ALL (keep)
	LOOP
		EXECUTE pg_catalog.format('DROP VIEW privacy_masked.%I', stale);
	END LOOP;
	DELETE FROM privacy._masking_views mv WHERE mv.view_name OPERATOR(pg_catalog.<>) ALL (keep);
END
$$;

COMMENT ON FUNCTION privacy_internal._drop_masking_views(keep name[]) IS 'Drops the masking views in privacy_masked except those named';

REVOKE ALL ON FUNCTION privacy_internal._drop_masking_views(keep name[]) FROM PUBLIC;

-- Makes the masking views and the masked roles' privileges match the
-- catalog. Runs DDL only where something differs, so that the event
-- triggers it sets off find nothing more to do.
CREATE FUNCTION privacy_internal._refresh_masking(strict_roles boolean) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	t record;
	r record;
	def text;
	roles oid[];
	clash name;
	uses_pseudonyms boolean;
BEGIN
	SELECT pg_catalog.array_agg(g.oid ORDER BY g.oid) INTO roles
	  FROM privacy.masked_roles mr JOIN pg_catalog.pg_roles g ON g.rolname OPERATOR(pg_catalog.=) mr.role_name;
	FOR r IN SELECT mr.role_name FROM privacy.masked_roles mr
			  WHERE NOT EXISTS (SELECT FROM pg_catalog.pg_roles g WHERE g.rolname OPERATOR(pg_catalog.=) mr.role_name)
	LOOP
		IF strict_roles THEN
			RAISE EXCEPTION 'masked role "%" does not exist', r.role_name
				USING ERRCODE = 'undefined_object',
					  HINT = 'Create the role first, or remove it from "masking"."roles".';
		END IF;
	END LOOP;
	FOR r IN SELECT g.rolname FROM pg_catalog.pg_roles g
			  WHERE g.oid OPERATOR(pg_catalog.=) ANY (roles) AND g.rolsuper
	LOOP
		RAISE EXCEPTION 'cannot mask role "%"', r.rolname
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = 'A superuser reads every table, whatever its privileges.';
	END LOOP;

	SELECT m.view_name INTO clash FROM privacy_internal._masked_tables() m
	 GROUP BY m.view_name HAVING pg_catalog.count(*) OPERATOR(pg_catalog.>) 1 LIMIT 1;
	IF FOUND THEN
		RAISE EXCEPTION 'two classified tables are called "%"', clash
			USING ERRCODE = 'duplicate_table',
				  DETAIL = 'Masked roles read every classified table through a view of the same name in schema privacy_masked.',
				  HINT = 'Rename one of the tables.';
	END IF;

	-- Views of tables that are gone or no longer classified.
	PERFORM privacy_internal._drop_masking_views(
		CASE WHEN roles IS NULL THEN '{}'::name[]
			 ELSE ARRAY(SELECT m.view_name FROM privacy_internal._masked_tables() m) END);
	FOR r IN SELECT e.grantee::pg_catalog.regrole AS grantee
			   FROM pg_catalog.pg_namespace n, pg_catalog.aclexplode(n.nspacl) e
			  WHERE n.oid OPERATOR(pg_catalog.=) 'privacy_masked'::pg_catalog.regnamespace
				AND e.grantee OPERATOR(pg_catalog.<>) n.nspowner AND e.grantee OPERATOR(pg_catalog.<>) 0
				AND e.grantee OPERATOR(pg_catalog.<>) ALL (COALESCE(roles, '{}'))
	LOOP
		EXECUTE pg_catalog.format('REVOKE ALL ON SCHEMA privacy_masked FROM %s', r.grantee);
	END LOOP;
	IF roles IS NULL THEN
		RETURN;
	END IF;
	-- The views belong to a role that is neither superuser nor owner of the
	-- tables, so that row security applies to them as to any reader.
	IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles g WHERE g.rolname OPERATOR(pg_catalog.=) 'privacy_masking') THEN
		CREATE ROLE privacy_masking NOLOGIN NOINHERIT;
		COMMENT ON ROLE privacy_masking IS 'Owner of the masking views of opendims_privacy; nobody logs in as it or is a member of it';
	END IF;

	FOR t IN SELECT * FROM privacy_internal._masked_tables() m ORDER BY m.view_name
	LOOP
		def := pg_catalog.format('SELECT %s FROM %s', privacy_internal._masked_select_list(t.table_name), t.table_name);
		IF NOT EXISTS (SELECT FROM privacy._masking_views v
						WHERE v.view_name OPERATOR(pg_catalog.=) t.view_name AND v.definition OPERATOR(pg_catalog.=) def
						  AND v.table_name OPERATOR(pg_catalog.=) t.table_name) THEN
			IF pg_catalog.to_regclass(pg_catalog.format('privacy_masked.%I', t.view_name)) IS NOT NULL THEN
				EXECUTE pg_catalog.format('DROP VIEW privacy_masked.%I', t.view_name);
			END IF;
			EXECUTE pg_catalog.format('CREATE VIEW privacy_masked.%I AS %s', t.view_name, def);
			EXECUTE pg_catalog.format('ALTER VIEW privacy_masked.%I OWNER TO privacy_masking', t.view_name);
			EXECUTE pg_catalog.format('COMMENT ON VIEW privacy_masked.%I IS %L', t.view_name,
									  pg_catalog.format('Table %s with its classified columns masked', t.table_name));
			INSERT INTO privacy._masking_views (view_name, table_name, definition)
			VALUES (t.view_name, t.table_name, def)
			ON CONFLICT (view_name) DO UPDATE SET table_name = excluded.table_name, definition = excluded.definition;
		END IF;
		IF NOT pg_catalog.has_table_privilege('privacy_masking', t.table_name, 'SELECT') THEN
			EXECUTE pg_catalog.format('GRANT SELECT ON TABLE %s TO privacy_masking', t.table_name);
		END IF;
		FOR r IN SELECT g.oid FROM pg_catalog.pg_roles g WHERE g.oid OPERATOR(pg_catalog.=) ANY (roles)
		LOOP
			PERFORM privacy_internal._unmask_proof(t.table_name, r.oid);
			IF NOT pg_catalog.has_table_privilege(r.oid, pg_catalog.format('privacy_masked.%I', t.view_name), 'SELECT') THEN
				EXECUTE pg_catalog.format('GRANT SELECT ON privacy_masked.%I TO %I', t.view_name, r.oid::pg_catalog.regrole);
			END IF;
		END LOOP;
	END LOOP;

	uses_pseudonyms := EXISTS (SELECT FROM privacy.masked_columns mc WHERE mc.method OPERATOR(pg_catalog.=) 'pseudonymize');
	FOR r IN SELECT g.oid, g.rolname,
					(SELECT s.setconfig FROM pg_catalog.pg_db_role_setting s
					  WHERE s.setrole OPERATOR(pg_catalog.=) g.oid AND s.setdatabase OPERATOR(pg_catalog.=) 0) AS config
			   FROM pg_catalog.pg_roles g WHERE g.oid OPERATOR(pg_catalog.=) ANY (roles)
	LOOP
		IF NOT pg_catalog.has_schema_privilege(r.oid, 'privacy_masked', 'USAGE') THEN
			EXECUTE pg_catalog.format('GRANT USAGE ON SCHEMA privacy_masked TO %I', r.rolname);
		END IF;
		IF uses_pseudonyms AND NOT pg_catalog.has_function_privilege(r.oid, 'privacy_internal._mask_pseudonym(pg_catalog.text)', 'EXECUTE') THEN
			EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION privacy_internal._mask_pseudonym(pg_catalog.text), privacy.pseudonymize(privacy.email), privacy.pseudonymize(privacy.phone), privacy.pseudonymize(privacy.ip_address) TO %I', r.rolname);
		END IF;
		IF NOT EXISTS (SELECT FROM pg_catalog.unnest(r.config) s WHERE s LIKE 'search\_path=privacy\_masked%') THEN
			EXECUTE pg_catalog.format('ALTER ROLE %I SET search_path = %s', r.rolname,
				COALESCE('privacy_masked, ' OPERATOR(pg_catalog.||)
						 (SELECT pg_catalog.substr(s, 13) FROM pg_catalog.unnest(r.config) s WHERE s LIKE 'search\_path=%'),
						 'privacy_masked, "$user", public'));
		END IF;
	END LOOP;

	-- Roles no longer masked lose the views (their table privileges are
	-- theirs to grant again).
	FOR r IN SELECT DISTINCT e.grantee::pg_catalog.regrole AS grantee, c.relname
			   FROM pg_catalog.pg_class c, pg_catalog.aclexplode(c.relacl) e
			  WHERE c.relnamespace OPERATOR(pg_catalog.=) 'privacy_masked'::pg_catalog.regnamespace
				AND e.grantee OPERATOR(pg_catalog.<>) c.relowner AND e.grantee OPERATOR(pg_catalog.<>) 0
				AND e.grantee OPERATOR(pg_catalog.<>) ALL (roles)
	LOOP
		EXECUTE pg_catalog.format('REVOKE ALL ON privacy_masked.%I FROM %s', r.relname, r.grantee);
	END LOOP;
END
$$;

COMMENT ON FUNCTION privacy_internal._refresh_masking(strict_roles boolean) IS 'Brings the masking views in privacy_masked and the masked roles'' privileges in line with the catalog';

REVOKE ALL ON FUNCTION privacy_internal._refresh_masking(strict_roles boolean) FROM PUBLIC;

CREATE FUNCTION privacy.update_masking() RETURNS void
    LANGUAGE sql
    SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT privacy_internal._refresh_masking(true);
END;

COMMENT ON FUNCTION privacy.update_masking() IS 'Regenerates the masking views and the masked roles'' privileges now (apply_policy() and DDL do it by themselves)';

REVOKE ALL ON FUNCTION privacy.update_masking() FROM PUBLIC;

-- Before DDL that may change or drop a masked table, the masking views
-- step aside; the end trigger creates them again, in the same transaction.
CREATE FUNCTION privacy_internal._masking_ddl_start() RETURNS event_trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	PERFORM privacy_internal._drop_masking_views('{}');
END
$$;

COMMENT ON FUNCTION privacy_internal._masking_ddl_start() IS 'Event trigger: drops the masking views before DDL that may alter or drop the tables they read';

REVOKE ALL ON FUNCTION privacy_internal._masking_ddl_start() FROM PUBLIC;

CREATE FUNCTION privacy_internal._masking_ddl_end() RETURNS event_trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF EXISTS (SELECT FROM privacy.masked_roles)
	   OR EXISTS (SELECT FROM pg_catalog.pg_class c
				   WHERE c.relnamespace OPERATOR(pg_catalog.=) 'privacy_masked'::pg_catalog.regnamespace) THEN
		PERFORM privacy_internal._refresh_masking(false);
	END IF;
END
$$;

COMMENT ON FUNCTION privacy_internal._masking_ddl_end() IS 'Event trigger: brings the masking views and privileges up to date after DDL';

REVOKE ALL ON FUNCTION privacy_internal._masking_ddl_end() FROM PUBLIC;

CREATE EVENT TRIGGER privacy_masking_ddl_start ON ddl_command_start
	WHEN TAG IN ('ALTER TABLE', 'DROP TABLE', 'DROP SCHEMA', 'ALTER SCHEMA', 'DROP OWNED')
	EXECUTE FUNCTION privacy_internal._masking_ddl_start();

CREATE EVENT TRIGGER privacy_masking_ddl_end ON ddl_command_end
	WHEN TAG IN ('ALTER TABLE', 'DROP TABLE', 'DROP SCHEMA', 'ALTER SCHEMA', 'DROP OWNED',
				 'CREATE TABLE', 'CREATE TABLE AS', 'SELECT INTO', 'SECURITY LABEL', 'GRANT', 'REVOKE',
				 'CREATE DOMAIN', 'ALTER DOMAIN')
	EXECUTE FUNCTION privacy_internal._masking_ddl_end();

-- An anonymised copy: each table of source_schema recreated in
-- target_schema with its classified columns masked by their rules, its
-- other columns as they are, and the primary keys, unique constraints and
-- foreign keys among the copied tables whose columns were copied
-- unchanged.
CREATE FUNCTION privacy.anonymized_copy(source_schema name, target_schema name)
RETURNS TABLE (table_name regclass, copied_rows bigint)
    LANGUAGE plpgsql STRICT
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	t record;
	k record;
	n bigint;
	target regclass;
BEGIN
	IF source_schema OPERATOR(pg_catalog.=) ANY (ARRAY['privacy', 'privacy_internal', 'privacy_masked', 'pg_catalog', 'information_schema']::name[]) THEN
		RAISE EXCEPTION 'cannot make an anonymised copy of schema "%"', source_schema
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = 'The extension''s schemas and the system catalogs are never copied.';
	END IF;
	IF pg_catalog.to_regnamespace(pg_catalog.quote_ident(source_schema)) IS NULL THEN
		RAISE EXCEPTION 'schema "%" does not exist', source_schema USING ERRCODE = 'invalid_schema_name';
	END IF;
	EXECUTE pg_catalog.format('CREATE SCHEMA %I', target_schema);
	FOR t IN SELECT c.oid::pg_catalog.regclass AS rel, c.relname
			   FROM pg_catalog.pg_class c
			  WHERE c.relnamespace OPERATOR(pg_catalog.=) pg_catalog.to_regnamespace(pg_catalog.quote_ident(source_schema))
				AND c.relkind OPERATOR(pg_catalog.=) ANY (ARRAY['r', 'p']::"char"[]) AND NOT c.relispartition
			  ORDER BY c.relname
	LOOP
		EXECUTE pg_catalog.format('CREATE TABLE %I.%I AS SELECT %s FROM %s WITH NO DATA',
								  target_schema, t.relname, privacy_internal._masked_select_list(t.rel), t.rel);
		EXECUTE pg_catalog.format('INSERT INTO %I.%I SELECT %s FROM %s',
								  target_schema, t.relname, privacy_internal._masked_select_list(t.rel), t.rel);
		GET DIAGNOSTICS n = ROW_COUNT;
		table_name := pg_catalog.format('%I.%I', target_schema, t.relname)::pg_catalog.regclass;
		copied_rows := n;
		RETURN NEXT;
	END LOOP;
	-- Keys first, then the foreign keys that reference them.
	FOR k IN SELECT con.conname, con.conrelid, con.contype, c.relname,
					pg_catalog.pg_get_constraintdef(con.oid) AS def
			   FROM pg_catalog.pg_constraint con
			   JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) con.conrelid
			  WHERE c.relnamespace OPERATOR(pg_catalog.=) pg_catalog.to_regnamespace(pg_catalog.quote_ident(source_schema))
				AND con.contype OPERATOR(pg_catalog.=) ANY (ARRAY['p', 'u', 'f']::"char"[])
				AND NOT EXISTS (SELECT FROM pg_catalog.unnest(con.conkey) a(n)
								 JOIN pg_catalog.pg_attribute att ON att.attrelid OPERATOR(pg_catalog.=) con.conrelid
																  AND att.attnum OPERATOR(pg_catalog.=) a.n
								 JOIN privacy.classified_columns cc ON cc.table_name OPERATOR(pg_catalog.=) con.conrelid
																   AND cc.column_name OPERATOR(pg_catalog.=) att.attname)
				AND (con.contype OPERATOR(pg_catalog.<>) 'f'
					 OR ((SELECT r.relnamespace FROM pg_catalog.pg_class r WHERE r.oid OPERATOR(pg_catalog.=) con.confrelid)
						 OPERATOR(pg_catalog.=) c.relnamespace
						 AND NOT EXISTS (SELECT FROM pg_catalog.unnest(con.confkey) a(n)
										  JOIN pg_catalog.pg_attribute att ON att.attrelid OPERATOR(pg_catalog.=) con.confrelid
																		   AND att.attnum OPERATOR(pg_catalog.=) a.n
										  JOIN privacy.classified_columns cc ON cc.table_name OPERATOR(pg_catalog.=) con.confrelid
																			AND cc.column_name OPERATOR(pg_catalog.=) att.attname)))
			  ORDER BY con.contype OPERATOR(pg_catalog.=) 'f', c.relname, con.conname
	LOOP
		target := pg_catalog.format('%I.%I', target_schema, k.relname)::pg_catalog.regclass;
		IF k.contype OPERATOR(pg_catalog.=) 'f' THEN
			-- The referenced table, named as the source names it, becomes
			-- its copy.
			k.def := pg_catalog.replace(k.def, pg_catalog.format(' REFERENCES %s(', (SELECT con.confrelid::pg_catalog.regclass FROM pg_catalog.pg_constraint con WHERE con.conrelid OPERATOR(pg_catalog.=) k.conrelid AND con.conname OPERATOR(pg_catalog.=) k.conname)),
										pg_catalog.format(' REFERENCES %I.%I(', target_schema,
											(SELECT r.relname FROM pg_catalog.pg_constraint con JOIN pg_catalog.pg_class r ON r.oid OPERATOR(pg_catalog.=) con.confrelid
											  WHERE con.conrelid OPERATOR(pg_catalog.=) k.conrelid AND con.conname OPERATOR(pg_catalog.=) k.conname)));
		END IF;
		EXECUTE pg_catalog.format('ALTER TABLE %s ADD CONSTRAINT %I %s', target, k.conname, k.def);
	END LOOP;
END
$$;

COMMENT ON FUNCTION privacy.anonymized_copy(source_schema name, target_schema name) IS 'Copies every table of a schema into a new schema with its classified columns masked by their masking rules; keys and foreign keys among unmasked columns are kept';

REVOKE ALL ON FUNCTION privacy.anonymized_copy(source_schema name, target_schema name) FROM PUBLIC;
