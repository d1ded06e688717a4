-- privacy_internal._cached_value(): the generated statements of export, erasure and
-- the subject checks run with plans kept for the session; results, errors
-- and schema changes behave as with EXECUTE.
SET client_min_messages = warning;
CREATE EXTENSION opendims_privacy CASCADE;
RESET client_min_messages;
CREATE SCHEMA cs;
CREATE TABLE cs.t (id integer PRIMARY KEY, v text);
INSERT INTO cs.t VALUES (1, 'one'), (2, 'two');

-- The first column of the only row, in the type asked for; NULL for no row.
SELECT privacy_internal._cached_value('SELECT v FROM cs.t WHERE id = $1', NULL::text, 1) AS one;
SELECT privacy_internal._cached_value('SELECT v FROM cs.t WHERE id = $1', NULL::text, 2) AS two;
SELECT privacy_internal._cached_value('SELECT v FROM cs.t WHERE id = $1', NULL::text, 3) IS NULL AS none;
-- Arguments keep their own types; an untyped literal is text.
SELECT privacy_internal._cached_value('SELECT pg_catalog.format(''%s %s %s'', $1, $2, $3)', NULL::text,
                             7::bigint, 'lit', ARRAY[1, 2]) AS mixed;
SELECT privacy_internal._cached_value('SELECT count(*) FROM cs.t WHERE id = ANY ($1)', NULL::bigint, ARRAY[1, 2]) AS n;
-- A data-modifying statement, counted through a CTE.
SELECT privacy_internal._cached_value('WITH u AS (UPDATE cs.t SET v = upper(v) WHERE id = $1 RETURNING 1) '
                             'SELECT count(*)::int FROM u', NULL::integer, 1) AS updated;
SELECT v FROM cs.t ORDER BY id;

-- A statement without a result: how many rows it processed.
SELECT privacy_internal._cached_row_count('UPDATE cs.t SET v = lower(v) WHERE id <= $1', 2) AS updated;
SELECT privacy_internal._cached_row_count('UPDATE cs.t SET v = lower(v) WHERE id <= $1', 0) AS none_updated;
SELECT privacy_internal._cached_row_count('DELETE FROM cs.t WHERE id = $1 AND v = $2', 5, 'five') AS none_deleted;
SELECT privacy_internal._cached_row_count(NULL, 1);
SELECT privacy_internal._cached_row_count('SELECT $1', VARIADIC ARRAY[1]);

-- Errors: wrong type, several rows, no result, a NULL statement, VARIADIC.
SELECT privacy_internal._cached_value('SELECT id FROM cs.t WHERE id = $1', NULL::text, 1);
SELECT privacy_internal._cached_value('SELECT v FROM cs.t WHERE id > $1', NULL::text, 0);
SELECT privacy_internal._cached_value('UPDATE cs.t SET v = v WHERE id = $1', NULL::text, 1);
SELECT privacy_internal._cached_value(NULL, NULL::text, 1);
SELECT privacy_internal._cached_value('SELECT $1', NULL::text, VARIADIC ARRAY['a']);
-- Statements SPI cannot run are refused as such.
SELECT privacy_internal._cached_value('COMMIT', NULL::integer, 1);
SELECT privacy_internal._cached_row_count('COPY cs.t TO STDOUT', 1);
-- A failing statement leaves nothing behind: the same text runs fine later.
SELECT privacy_internal._cached_value('SELECT v FROM cs.nothing_here WHERE id = $1', NULL::text, 1);
CREATE TABLE cs.nothing_here (id integer, v text);
INSERT INTO cs.nothing_here VALUES (1, 'now here');
SELECT privacy_internal._cached_value('SELECT v FROM cs.nothing_here WHERE id = $1', NULL::text, 1) AS later;

-- A kept plan follows the schema: a new column, then a table dropped and
-- created again under the same name.
SELECT privacy_internal._cached_value('SELECT pg_catalog.to_jsonb(t) FROM cs.t WHERE id = $1', NULL::jsonb, 2) AS before;
ALTER TABLE cs.t ADD COLUMN w integer DEFAULT 5;
SELECT privacy_internal._cached_value('SELECT pg_catalog.to_jsonb(t) FROM cs.t WHERE id = $1', NULL::jsonb, 2) AS after_alter;
DROP TABLE cs.t;
CREATE TABLE cs.t (id integer PRIMARY KEY, v text, z text DEFAULT 'new');
INSERT INTO cs.t VALUES (2, 'again');
SELECT privacy_internal._cached_value('SELECT pg_catalog.to_jsonb(t) FROM cs.t WHERE id = $1', NULL::jsonb, 2) AS recreated;

-- More distinct statements than the cache keeps: still right.
SELECT count(*) FILTER (WHERE privacy_internal._cached_value(format('SELECT %s + $1', g), NULL::integer, 1) = g + 1) AS right_answers
  FROM generate_series(1, 300) g;

-- The statement runs as the caller, so only the extension's owner may call it.
SELECT has_function_privilege('public', 'privacy_internal._cached_value(text, anyelement, "any")', 'EXECUTE') AS public_may_call,
       has_function_privilege('public', 'privacy_internal._cached_row_count(text, "any")', 'EXECUTE') AS public_may_count;
CREATE ROLE cs_user;
SET ROLE cs_user;
SELECT privacy_internal._cached_value('SELECT 1', NULL::integer, 1);
SELECT privacy_internal._cached_row_count('SELECT 1', 1);
RESET ROLE;
DROP ROLE cs_user;
DROP SCHEMA cs CASCADE;
DROP EXTENSION opendims_privacy;
