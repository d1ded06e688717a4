-- guard: guard() and unguard(), the trigger that keeps personal data out of
-- free-text columns. C: src/guard/.

CREATE FUNCTION privacy_internal._guard_trigger() RETURNS trigger
    LANGUAGE c
    AS 'MODULE_PATHNAME', 'privacy_guard_trigger';

COMMENT ON FUNCTION privacy_internal._guard_trigger() IS 'Trigger installed by privacy.guard(): rejects or redacts CPR and payment card numbers in the columns named by its arguments (mode, column, ...)';

REVOKE ALL ON FUNCTION privacy_internal._guard_trigger() FROM PUBLIC;

CREATE FUNCTION privacy.guard(table_name regclass, columns text[], mode text DEFAULT 'reject'::text) RETURNS void
    LANGUAGE c
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS 'MODULE_PATHNAME', 'privacy_guard';

COMMENT ON FUNCTION privacy.guard(table_name regclass, columns text[], mode text) IS 'Guards text columns of a table against Danish CPR numbers and payment card numbers: mode reject refuses such values, mode redact replaces the numbers and audits it; replaces an existing guard';

REVOKE ALL ON FUNCTION privacy.guard(table_name regclass, columns text[], mode text) FROM PUBLIC;

CREATE FUNCTION privacy.unguard(table_name regclass) RETURNS void
    LANGUAGE c
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS 'MODULE_PATHNAME', 'privacy_unguard';

COMMENT ON FUNCTION privacy.unguard(table_name regclass) IS 'Removes the guard installed by privacy.guard() from a table';

REVOKE ALL ON FUNCTION privacy.unguard(table_name regclass) FROM PUBLIC;

CREATE VIEW privacy.guards AS
SELECT t.tgrelid::pg_catalog.regclass AS table_name,
	   ARRAY(SELECT a.attname
			   FROM pg_catalog.unnest(t.tgattr::pg_catalog.int2[]) WITH ORDINALITY AS g(attnum, ord)
			   JOIN pg_catalog.pg_attribute a ON a.attrelid = t.tgrelid AND a.attnum = g.attnum
			  ORDER BY g.ord) AS columns,
	   pg_catalog.split_part(pg_catalog.encode(t.tgargs, 'escape'), '\000', 1) AS mode
  FROM pg_catalog.pg_trigger t
 WHERE t.tgfoid = 'privacy_internal._guard_trigger()'::pg_catalog.regprocedure
   AND t.tgparentid = 0;

COMMENT ON VIEW privacy.guards IS 'Tables guarded by privacy.guard(): the columns examined and the mode (reject or redact)';

GRANT SELECT ON TABLE privacy.guards TO PUBLIC;
