/*
 * opendims_privacy install script, built by the Makefile from the SQL of
 * each area in src/ (see "Layout" in README.md): edit those files, not this
 * one.
 */

\echo Use "CREATE EXTENSION opendims_privacy" to load this file. \quit

-- While this script runs, names resolve in pg_catalog only (pg_temp last):
-- an operator, function or type another role planted in a schema on the
-- caller's search_path must never be bound into the extension's objects nor
-- run with the installing superuser's rights. Everything the script creates
-- is qualified with the schema privacy. Function bodies are checked by the
-- test suite rather than here, so that an area's functions may use objects
-- of a later area. CREATE EXTENSION restores both settings afterwards.
SELECT pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', true);
SELECT pg_catalog.set_config('check_function_bodies', 'off', true);

