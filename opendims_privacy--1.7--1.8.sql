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
