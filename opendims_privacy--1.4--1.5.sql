/* opendims_privacy--1.4--1.5.sql: the row check runs in parallel workers. */

\echo Use "ALTER EXTENSION opendims_privacy UPDATE TO '1.5'" to load this file. \quit

-- While this script runs, names resolve in pg_catalog only (pg_temp last).
-- CREATE EXTENSION ... CASCADE puts the schema pgcrypto was created in
-- (public, usually) on the script's search_path; an operator, function or
-- type that another role planted there must never be bound into the
-- extension's objects nor run with the installing superuser's rights.
-- Everything the script creates is qualified with the schema privacy, and
-- CREATE and ALTER EXTENSION restore the caller's search_path afterwards.
SELECT pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', true);

-- The row check now starts from the consent state that sessions share in
-- memory (when the library is preloaded), so a parallel worker no longer
-- reads the state again for every statement: a scan of a protected table
-- may run in parallel like one of an unprotected table. A worker checks
-- the purpose against the role of the query and the role outside any
-- SECURITY DEFINER function (it cannot know which role set the purpose;
-- every one of them must be allowed it). The write check stays
-- PARALLEL RESTRICTED: writes do not run in parallel workers anyway.
ALTER FUNCTION privacy._may_process(text, bigint, boolean) PARALLEL SAFE;
ALTER FUNCTION privacy._may_process(text, text, boolean) PARALLEL SAFE;

-- What an operator needs to see whether sessions share the state.
CREATE FUNCTION privacy.consent_cache_status(OUT shared_memory boolean, OUT cache text,
	OUT image_bytes bigint)
RETURNS record
AS 'MODULE_PATHNAME', 'privacy_consent_cache_status'
LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION privacy.consent_cache_status() IS
'How this session''s row-check cache was filled by its last statement that checked rows: empty, probed, read (by this session) or shared (copied from another session''s image); shared_memory says whether sessions can share it (library preloaded, not a standby)';

-- Export, erasure and retention name every table they touch on every call:
-- the name now comes from the syscache instead of a catalog query.
CREATE OR REPLACE FUNCTION privacy._qualified_name(rel regclass)
RETURNS text
AS 'MODULE_PATHNAME', 'privacy_qualified_name_sql'
LANGUAGE C STABLE STRICT PARALLEL SAFE;
