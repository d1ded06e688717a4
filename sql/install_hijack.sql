-- Installing and updating the extension binds nothing another role
-- planted: a role with CREATE on public (the default before PostgreSQL 15,
-- and kept by pg_upgrade) plants operators for the type pairs the scripts
-- compare, and functions they could call, in public (on the search_path of
-- an install script whenever a required extension lives there, as pgcrypto
-- did up to 1.8). Whatever a superuser then installs or updates, no planted
-- code runs, the role does not become superuser, and no object of the
-- extension depends on anything outside pg_catalog and the extension.
SET client_min_messages = warning;
\set SHOW_CONTEXT never
CREATE ROLE ih_planter;
GRANT CREATE ON SCHEMA public TO ih_planter;
SET ROLE ih_planter;
\set planted_schema public
\set ECHO none
\i test/fixtures/planted_code.sql
\set ECHO all
-- Every comparison between the types the scripts compare (and || with
-- text), each giving the right answer so that nothing else would show.
-- Where pg_catalog has no operator for the exact pair (oid and
-- regnamespace, regclass and regclass, ...), the planted one is the best
-- match for any search_path that reaches public.
WITH types(t) AS (
	SELECT pg_catalog.unnest(ARRAY['oid', 'regclass', 'regnamespace', 'regproc', 'regprocedure',
								   'regtype', 'regrole', 'text', 'name', '"char"',
								   'character varying', 'jsonb', 'integer', 'bigint', 'smallint',
								   'boolean', 'timestamp with time zone', 'date', 'interval',
								   'bytea', 'numeric'])
)
SELECT pg_catalog.count(public.plant_operator(op, l.t, r.t,
											  pg_catalog.format('a OPERATOR(pg_catalog.%s) b', op)))
	AS planted_operators
  FROM types l, types r, pg_catalog.unnest(ARRAY['=', '<>', '<', '>', '<=', '>=', '||']) AS op
 WHERE op OPERATOR(pg_catalog.<>) '||' OR 'text' OPERATOR(pg_catalog.=) ANY (ARRAY[l.t, r.t]);
-- Functions that match arguments of these types better than pg_catalog's.
CREATE FUNCTION public.format(text, text) RETURNS text LANGUAGE plpgsql AS
	$$ BEGIN PERFORM public.trap('format(text, text)'); RETURN pg_catalog.format($1, $2); END $$;
CREATE FUNCTION public.concat(text, text) RETURNS text LANGUAGE plpgsql AS
	$$ BEGIN PERFORM public.trap('concat(text, text)'); RETURN pg_catalog.concat($1, $2); END $$;
CREATE FUNCTION public.jsonb_build_object(VARIADIC text[]) RETURNS jsonb LANGUAGE plpgsql AS
	$$ BEGIN PERFORM public.trap('jsonb_build_object(text[])'); RETURN pg_catalog.jsonb_object($1); END $$;
CREATE FUNCTION public.length(name) RETURNS integer LANGUAGE plpgsql AS
	$$ BEGIN PERFORM public.trap('length(name)'); RETURN pg_catalog.length($1::pg_catalog.text); END $$;
CREATE FUNCTION public.lower(name) RETURNS text LANGUAGE plpgsql AS
	$$ BEGIN PERFORM public.trap('lower(name)'); RETURN pg_catalog.lower($1::pg_catalog.text); END $$;
CREATE FUNCTION public.quote_ident(name) RETURNS text LANGUAGE plpgsql AS
	$$ BEGIN PERFORM public.trap('quote_ident(name)'); RETURN pg_catalog.quote_ident($1::pg_catalog.text); END $$;
RESET ROLE;

-- The checks below run with pg_catalog alone on the search_path, since the
-- planted operators would otherwise be theirs too. An object of the
-- extension is a member or belongs to one (a table's indexes, constraints,
-- triggers, policies, defaults, row type; a view's rule).
CREATE FUNCTION pg_temp.foreign_dependencies() RETURNS TABLE (used text, by_objects bigint)
LANGUAGE sql SET search_path = pg_catalog AS $$
	WITH RECURSIVE ext AS (
		SELECT oid FROM pg_extension WHERE extname = 'opendims_privacy'
	), ours(classid, objid) AS (
		SELECT d.classid, d.objid FROM pg_depend d, ext
		 WHERE d.refclassid = 'pg_extension'::regclass AND d.refobjid = ext.oid AND d.deptype = 'e'
		UNION
		SELECT d.classid, d.objid FROM pg_depend d
		  JOIN ours o ON (d.refclassid, d.refobjid) = (o.classid, o.objid)
		 WHERE d.deptype IN ('i', 'a')
	)
	SELECT pg_describe_object(d.refclassid, d.refobjid, 0), count(DISTINCT (d.classid, d.objid))
	  FROM pg_depend d JOIN ours o ON (d.classid, d.objid) = (o.classid, o.objid), ext
	 WHERE d.refobjid >= 16384
	   AND (d.refclassid, d.refobjid) <> ('pg_extension'::regclass, ext.oid)
	   AND (d.refclassid, d.refobjid) <> ('pg_namespace'::regclass, 'privacy'::regnamespace)
	   AND (d.refclassid, d.refobjid) NOT IN (SELECT classid, objid FROM ours)
	 GROUP BY 1 ORDER BY 1
$$;
CREATE FUNCTION pg_temp.planted_code_ran() RETURNS TABLE (what text, as_role name, times bigint)
LANGUAGE sql SET search_path = pg_catalog AS $$
	SELECT what, as_role, count(*) FROM public.ran GROUP BY 1, 2 ORDER BY 1, 2
$$;

-- 1. CREATE EXTENSION ... CASCADE.
SHOW search_path;
CREATE EXTENSION opendims_privacy CASCADE;
SHOW search_path;
SELECT extversion FROM pg_catalog.pg_extension WHERE extname OPERATOR(pg_catalog.=) 'opendims_privacy';
SELECT * FROM pg_temp.foreign_dependencies();
SELECT * FROM pg_temp.planted_code_ran();
SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname OPERATOR(pg_catalog.=) 'ih_planter';
-- The extension's objects are where they belong.
SELECT n.nspname, pg_catalog.count(*) > 0 AS has_objects
  FROM pg_catalog.pg_depend d
  JOIN pg_catalog.pg_proc p ON p.oid OPERATOR(pg_catalog.=) d.objid
  JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) p.pronamespace
 WHERE d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_proc'::pg_catalog.regclass
   AND d.refobjid OPERATOR(pg_catalog.=) (SELECT e.oid FROM pg_catalog.pg_extension e
											WHERE e.extname OPERATOR(pg_catalog.=) 'opendims_privacy')
   AND d.deptype OPERATOR(pg_catalog.=) 'e'
 GROUP BY 1;
-- Every function written in SQL or PL/pgSQL, and every SECURITY DEFINER
-- function, runs with search_path = pg_catalog, pg_temp; the one exception
-- is the retention job, a procedure that commits (which a SET clause would
-- forbid) and qualifies what it runs.
SELECT p.oid::pg_catalog.regprocedure AS without_pinned_search_path
  FROM pg_catalog.pg_proc p
  JOIN pg_catalog.pg_language l ON l.oid OPERATOR(pg_catalog.=) p.prolang
  JOIN pg_catalog.pg_depend d ON d.objid OPERATOR(pg_catalog.=) p.oid
	   AND d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_proc'::pg_catalog.regclass
	   AND d.deptype OPERATOR(pg_catalog.=) 'e'
 WHERE d.refobjid OPERATOR(pg_catalog.=) (SELECT e.oid FROM pg_catalog.pg_extension e
											WHERE e.extname OPERATOR(pg_catalog.=) 'opendims_privacy')
   AND (p.prosecdef OR l.lanname OPERATOR(pg_catalog.<>) 'c')
   AND NOT COALESCE(p.proconfig OPERATOR(pg_catalog.@>) '{"search_path=pg_catalog, pg_temp"}'::pg_catalog.text[], false)
 ORDER BY 1;
DROP EXTENSION opendims_privacy;

-- 2. Every version installs and updates to the current one, binding
-- nothing on the way.
SET client_min_messages = notice;
DO $$
DECLARE
	v text;
	bound text;
BEGIN
	FOR v IN SELECT x.version FROM pg_catalog.pg_available_extension_versions x
			  WHERE x.name OPERATOR(pg_catalog.=) 'opendims_privacy' ORDER BY x.version LOOP
		EXECUTE pg_catalog.format('CREATE EXTENSION opendims_privacy VERSION %L', v);
		ALTER EXTENSION opendims_privacy UPDATE;
		SELECT pg_catalog.string_agg(f.used, ', ') INTO bound FROM pg_temp.foreign_dependencies() f;
		RAISE NOTICE 'from %: now %, bound: %', v,
			(SELECT e.extversion FROM pg_catalog.pg_extension e
			  WHERE e.extname OPERATOR(pg_catalog.=) 'opendims_privacy'),
			COALESCE(bound, 'nothing');
		DROP EXTENSION opendims_privacy;
	END LOOP;
END
$$;
SET client_min_messages = warning;
SELECT * FROM pg_temp.planted_code_ran();
SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname OPERATOR(pg_catalog.=) 'ih_planter';

-- Nothing planted ran at any point.
SELECT * FROM pg_temp.planted_code_ran();
SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname OPERATOR(pg_catalog.=) 'ih_planter';

DROP FUNCTION pg_temp.foreign_dependencies(), pg_temp.planted_code_ran();
DROP OWNED BY ih_planter;
REVOKE CREATE ON SCHEMA public FROM ih_planter;
DROP ROLE ih_planter;
