-- The install script creates functions without checking their bodies (an
-- area's functions may use objects of a later area): every SQL and PL/pgSQL
-- function of the installed extension passes its language's validator.
SET client_min_messages = warning;
CREATE EXTENSION opendims_privacy;
RESET client_min_messages;
SET check_function_bodies = on;
DO $$
DECLARE
	f record;
	checked integer := 0;
BEGIN
	FOR f IN SELECT p.oid, p.oid::pg_catalog.regprocedure AS name, l.lanname
			   FROM pg_catalog.pg_proc p
			   JOIN pg_catalog.pg_language l ON l.oid = p.prolang
			   JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass
					AND d.objid = p.oid AND d.deptype = 'e'
			   JOIN pg_catalog.pg_extension e ON e.oid = d.refobjid AND e.extname = 'opendims_privacy'
			  WHERE l.lanname IN ('sql', 'plpgsql')
			  ORDER BY 2::text LOOP
		BEGIN
			IF f.lanname = 'sql' THEN
				PERFORM pg_catalog.fmgr_sql_validator(f.oid);
			ELSE
				PERFORM pg_catalog.plpgsql_validator(f.oid);
			END IF;
			checked := checked + 1;
		EXCEPTION WHEN OTHERS THEN
			RAISE WARNING '% does not validate: %', f.name, SQLERRM;
		END;
	END LOOP;
	RAISE NOTICE 'functions that validate: more than 100: %', checked > 100;
END
$$;
DROP EXTENSION opendims_privacy;
