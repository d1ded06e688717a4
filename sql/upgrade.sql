-- Installing the first version and updating keeps everything, and ends with
-- the same objects as a fresh install of the current version; every older
-- version updates to the current one.
SET client_min_messages = warning;
CREATE EXTENSION opendims_privacy VERSION '1.0' CASCADE;
RESET client_min_messages;
SELECT extversion FROM pg_extension WHERE extname = 'opendims_privacy';
\i test/fixtures/shop_schema.sql
\set doc `cat test/fixtures/shop-policy.json`
SELECT (privacy.apply_policy(:'doc') ->> 'changed')::boolean AS applied;
CREATE TABLE public.before_update AS SELECT privacy.policy() AS policy;

ALTER EXTENSION opendims_privacy UPDATE;
SELECT extversion FROM pg_extension WHERE extname = 'opendims_privacy';
SELECT b.policy = privacy.policy() AS same_policy FROM public.before_update b;
SELECT intact FROM privacy.verify_audit_log();

-- The objects of the updated extension, to compare with a fresh install.
CREATE TABLE public.updated_objects AS
SELECT pg_describe_object(classid, objid, objsubid) AS object
  FROM pg_depend
 WHERE refclassid = 'pg_extension'::regclass AND deptype = 'e'
   AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'opendims_privacy');

DROP SCHEMA shop CASCADE;
DROP EXTENSION opendims_privacy CASCADE;
SET client_min_messages = warning;
CREATE EXTENSION opendims_privacy;
RESET client_min_messages;
SELECT object AS only_after_update FROM public.updated_objects
EXCEPT
SELECT pg_describe_object(classid, objid, objsubid) FROM pg_depend
 WHERE refclassid = 'pg_extension'::regclass AND deptype = 'e'
   AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'opendims_privacy');
SELECT count(*) > 50 AS has_objects FROM public.updated_objects;

DROP TABLE public.before_update, public.updated_objects;
DROP EXTENSION opendims_privacy CASCADE;

-- Every older version installs and updates to the current one.
SELECT version FROM pg_available_extension_versions
 WHERE name = 'opendims_privacy' ORDER BY version;
DO $$
DECLARE
	v text;
BEGIN
	FOR v IN SELECT version FROM pg_available_extension_versions
			  WHERE name = 'opendims_privacy' ORDER BY version LOOP
		EXECUTE pg_catalog.format('CREATE EXTENSION opendims_privacy VERSION %L', v);
		ALTER EXTENSION opendims_privacy UPDATE;
		RAISE NOTICE 'from %: now %', v,
			(SELECT extversion FROM pg_extension WHERE extname = 'opendims_privacy');
		DROP EXTENSION opendims_privacy;
	END LOOP;
END $$;
DROP EXTENSION pgcrypto;
