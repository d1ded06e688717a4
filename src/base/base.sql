-- base: the schema, the extension's secret keys and the small helpers every
-- other area uses. C: src/base/.

-- The schema must be ours alone: a schema "privacy" that someone else
-- created beforehand could hold objects that shadow the extension's, and its
-- owner could drop the extension's objects later.
DO $$
BEGIN
	IF EXISTS (SELECT FROM pg_catalog.pg_namespace n
				WHERE n.nspname OPERATOR(pg_catalog.=) 'privacy'
				  AND n.nspowner OPERATOR(pg_catalog.<>) (SELECT r.oid FROM pg_catalog.pg_roles r
															 WHERE r.rolname OPERATOR(pg_catalog.=) CURRENT_USER))
	   OR EXISTS (SELECT FROM pg_catalog.pg_class c
				   WHERE c.relnamespace OPERATOR(pg_catalog.=) 'privacy'::pg_catalog.regnamespace::pg_catalog.oid)
	   OR EXISTS (SELECT FROM pg_catalog.pg_proc p
				   WHERE p.pronamespace OPERATOR(pg_catalog.=) 'privacy'::pg_catalog.regnamespace::pg_catalog.oid)
	   OR EXISTS (SELECT FROM pg_catalog.pg_type t
				   WHERE t.typnamespace OPERATOR(pg_catalog.=) 'privacy'::pg_catalog.regnamespace::pg_catalog.oid)
	   OR EXISTS (SELECT FROM pg_catalog.pg_operator o
				   WHERE o.oprnamespace OPERATOR(pg_catalog.=) 'privacy'::pg_catalog.regnamespace::pg_catalog.oid) THEN
		RAISE EXCEPTION 'schema "privacy" already exists and is not empty, or belongs to another role'
			USING ERRCODE = 'duplicate_schema',
				  HINT = 'The extension installs into a schema of its own: drop or rename the existing schema "privacy" first.';
	END IF;
END
$$;

-- Nothing here is for PUBLIC unless granted below, object by object.
REVOKE ALL ON SCHEMA privacy FROM PUBLIC;
GRANT USAGE ON SCHEMA privacy TO PUBLIC;

-- The functions only the extension calls (their names start with "_") live
-- in a schema of their own, so that privacy holds the product's surface.
-- Row security and triggers on users' tables call some of them as the
-- querying role, hence USAGE for PUBLIC; EXECUTE is granted function by
-- function.
CREATE SCHEMA privacy_internal;
COMMENT ON SCHEMA privacy_internal IS 'Internal functions of opendims_privacy: called by the extension, its row policies and its triggers, not by applications';
REVOKE ALL ON SCHEMA privacy_internal FROM PUBLIC;
GRANT USAGE ON SCHEMA privacy_internal TO PUBLIC;

CREATE FUNCTION privacy_internal._acting_role()
RETURNS name
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT COALESCE(NULLIF(pg_catalog.current_setting('role'), 'none'), SESSION_USER::text)::name;
END;

COMMENT ON FUNCTION privacy_internal._acting_role() IS 'The role on whose behalf a function runs: the role set by SET ROLE, else the session user';

REVOKE ALL ON FUNCTION privacy_internal._acting_role() FROM PUBLIC;

CREATE FUNCTION privacy_internal._citus_table(rel regclass) RETURNS boolean
    LANGUAGE c STABLE STRICT
    AS 'MODULE_PATHNAME', 'privacy_citus_table_sql';

COMMENT ON FUNCTION privacy_internal._citus_table(rel regclass) IS 'Whether Citus manages a table (distributed, reference or Citus local); false without Citus';

REVOKE ALL ON FUNCTION privacy_internal._citus_table(rel regclass) FROM PUBLIC;

CREATE FUNCTION privacy_internal._loading_table(rel regclass) RETURNS boolean
    LANGUAGE c STABLE STRICT PARALLEL RESTRICTED
    AS 'MODULE_PATHNAME', 'privacy_loading_table_sql';

COMMENT ON FUNCTION privacy_internal._loading_table(rel regclass) IS 'Whether the client''s statement is itself a COPY ... FROM or an INSERT into the table, as when pg_restore or psql loads it from a dump (not a write by one of the extension''s functions)';

REVOKE ALL ON FUNCTION privacy_internal._loading_table(rel regclass) FROM PUBLIC;

CREATE FUNCTION privacy_internal._qualified_name(rel regclass) RETURNS text
    LANGUAGE c STABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'privacy_qualified_name_sql';

COMMENT ON FUNCTION privacy_internal._qualified_name(rel regclass) IS 'The schema-qualified, quoted name of a table';

CREATE FUNCTION privacy_internal._qualified_names(tables regclass[])
RETURNS jsonb
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT pg_catalog.jsonb_agg(privacy_internal._qualified_name(u.t) ORDER BY u.o)
	  FROM pg_catalog.unnest(tables) WITH ORDINALITY AS u(t, o);
END;

COMMENT ON FUNCTION privacy_internal._qualified_names(tables regclass[]) IS 'Tables as a JSON array of qualified names (for audit summaries)';

REVOKE ALL ON FUNCTION privacy_internal._qualified_names(tables regclass[]) FROM PUBLIC;

CREATE FUNCTION privacy_internal._random_key(bytes integer) RETURNS bytea
    LANGUAGE c STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'privacy_random_key';

COMMENT ON FUNCTION privacy_internal._random_key(bytes integer) IS 'A random key of the given length from the server''s strong random source';

REVOKE ALL ON FUNCTION privacy_internal._random_key(bytes integer) FROM PUBLIC;

CREATE FUNCTION privacy_internal._restore_over_seed() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $_$
DECLARE
	cols text;
	updated bigint;
BEGIN
	SELECT pg_catalog.string_agg(pg_catalog.quote_ident(a.attname), ', ' ORDER BY a.attnum)
	  INTO cols
	  FROM pg_catalog.pg_attribute a
	 WHERE a.attrelid = TG_RELID AND a.attnum > 0 AND NOT a.attisdropped;
	EXECUTE pg_catalog.format(
		'UPDATE %s AS t SET (%s) = (SELECT %s FROM pg_catalog.jsonb_populate_record(NULL::%s, $1)) WHERE t.%I::text = $2',
		TG_RELID::regclass, cols, cols, TG_RELID::regclass, TG_ARGV[0])
	USING pg_catalog.to_jsonb(NEW), pg_catalog.to_jsonb(NEW) OPERATOR(pg_catalog.->>) TG_ARGV[0];
	GET DIAGNOSTICS updated = ROW_COUNT;
	IF updated > 0 THEN
		RETURN NULL;
	END IF;
	RETURN NEW;
END
$_$;

COMMENT ON FUNCTION privacy_internal._restore_over_seed() IS 'Trigger: an inserted row whose key matches a row seeded by CREATE EXTENSION updates that row instead (used when restoring a dump)';

REVOKE ALL ON FUNCTION privacy_internal._restore_over_seed() FROM PUBLIC;

CREATE FUNCTION privacy_internal._trigger_args_bytea(args text[])
RETURNS bytea
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT COALESCE(pg_catalog.string_agg(pg_catalog.convert_to(a, pg_catalog.getdatabaseencoding())
										  OPERATOR(pg_catalog.||) '\x00'::bytea, ''::bytea ORDER BY o), ''::bytea)
	  FROM pg_catalog.unnest(args) WITH ORDINALITY AS u(a, o);
END;

COMMENT ON FUNCTION privacy_internal._trigger_args_bytea(args text[]) IS 'Trigger arguments in the form of pg_trigger.tgargs';

REVOKE ALL ON FUNCTION privacy_internal._trigger_args_bytea(args text[]) FROM PUBLIC;

CREATE TABLE privacy._keys (
    name text NOT NULL,
    key bytea NOT NULL,
    CONSTRAINT _keys_key_check CHECK ((length(key) >= 16)),
    CONSTRAINT _keys_pkey PRIMARY KEY (name)
);

COMMENT ON TABLE privacy._keys IS 'Secret keys for pseudonyms, subject references and signed tokens; readable by no ordinary role';

INSERT INTO privacy._keys (name, key)
SELECT k, privacy_internal._random_key(32)
  FROM pg_catalog.unnest(ARRAY['pseudonym', 'subject_ref', 'token']) AS k;
SELECT pg_catalog.pg_extension_config_dump('privacy._keys', '');

CREATE TRIGGER restore_over_seed BEFORE INSERT ON privacy._keys FOR EACH ROW EXECUTE FUNCTION privacy_internal._restore_over_seed('name');

-- Sessions keep the keys they read until the table changes (src/base/keys.c).
CREATE FUNCTION privacy_internal._invalidate_key_cache()
RETURNS trigger
LANGUAGE c
AS 'MODULE_PATHNAME', 'privacy_invalidate_key_cache';
REVOKE ALL ON FUNCTION privacy_internal._invalidate_key_cache() FROM PUBLIC;
COMMENT ON FUNCTION privacy_internal._invalidate_key_cache() IS
	'Statement trigger: a change of the keys makes every session read them again';

CREATE TRIGGER invalidate_key_cache AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON privacy._keys
	FOR EACH STATEMENT EXECUTE FUNCTION privacy_internal._invalidate_key_cache();
ALTER TABLE privacy._keys ENABLE ALWAYS TRIGGER invalidate_key_cache;
