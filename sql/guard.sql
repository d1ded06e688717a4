SET client_min_messages = warning;
CREATE EXTENSION opendims_privacy CASCADE;

-- The sensitive-data guard: privacy.guard() keeps CPR and payment card
-- numbers out of text columns, by rejecting or redacting them.
CREATE TABLE tickets (
	id integer PRIMARY KEY,
	body text,
	subject varchar(40),
	code character(30),
	note text,
	priority integer,
	body_length integer GENERATED ALWAYS AS (length(body)) STORED
);
CREATE VIEW ticket_view AS SELECT * FROM tickets;

-- Bad arguments are errors that change nothing.
SELECT privacy.guard(NULL, ARRAY['body']);
\echo :LAST_ERROR_SQLSTATE
SELECT privacy.guard('tickets', NULL);
SELECT privacy.guard('tickets', ARRAY['body'], NULL);
SELECT privacy.guard('tickets', ARRAY['body'], 'block');
\echo :LAST_ERROR_SQLSTATE
SELECT privacy.guard('tickets', ARRAY[]::text[]);
SELECT privacy.guard('tickets', ARRAY['body', NULL]);
SELECT privacy.guard('tickets', ARRAY['nosuch']);
\echo :LAST_ERROR_SQLSTATE
SELECT privacy.guard('tickets', ARRAY['body', 'priority']);
\echo :LAST_ERROR_SQLSTATE
SELECT privacy.guard('tickets', ARRAY['body_length']);
SELECT privacy.guard('tickets', ARRAY['ctid']);
SELECT privacy.guard('tickets', ARRAY['body', 'body']);
SELECT privacy.guard('ticket_view', ARRAY['body']);
\echo :LAST_ERROR_SQLSTATE
SELECT privacy.unguard(NULL);
SELECT privacy.unguard('tickets');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM privacy.guards;

-- Reject mode (the default).
SELECT privacy.guard('tickets', ARRAY['body', 'subject', 'code']);
SELECT * FROM privacy.guards;
SELECT pg_catalog.pg_get_triggerdef(oid) FROM pg_catalog.pg_trigger WHERE tgname = 'privacy_guard';

-- Other personal data, and numbers that are not CPR or card numbers, pass.
INSERT INTO tickets (id, body, subject) VALUES
	(1, 'Ring 22 34 56 78 eller skriv til anna@firma.dk', 'IP 10.0.0.1'),
	(2, 'Ordre 0101901234567 og 320190-1234', 'kort 4111 1111 1111 1112'),
	(3, NULL, NULL);

-- A CPR number or a card number in a guarded column is refused.
INSERT INTO tickets (id, body) VALUES (10, 'Mit CPR-nummer er 010190-1234.');
\echo :LAST_ERROR_SQLSTATE
INSERT INTO tickets (id, subject) VALUES (11, 'kort 4111 1111 1111 1111');
INSERT INTO tickets (id, code) VALUES (12, '0101901234');
UPDATE tickets SET body = 'CPR 170349-5678' WHERE id = 1;
\echo :LAST_ERROR_SQLSTATE
SELECT id, body FROM tickets ORDER BY id;

-- The error names the column and the table, never the value.
DO $$
DECLARE
	state text;
	msg text;
	detail text;
	hint text;
	col text;
	tab text;
BEGIN
	INSERT INTO tickets (id, body) VALUES (13, 'x 010190-1234 y');
EXCEPTION WHEN check_violation THEN
	GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, msg = MESSAGE_TEXT,
		detail = PG_EXCEPTION_DETAIL, hint = PG_EXCEPTION_HINT,
		col = COLUMN_NAME, tab = TABLE_NAME;
	RAISE WARNING 'sqlstate %, table %, column %, value in message: %, in detail: %, in hint: %',
		state, tab, col, pg_catalog.strpos(msg, '010190') > 0,
		pg_catalog.strpos(detail, '010190') > 0, pg_catalog.strpos(hint, '010190') > 0;
END
$$;

-- Unguarded columns are not examined, and an UPDATE that does not set a
-- guarded column does not fire the guard.
INSERT INTO tickets (id, note) VALUES (20, 'CPR 010190-1234');
UPDATE tickets SET note = 'kort 4111111111111111' WHERE id = 1;
SELECT id, note FROM tickets WHERE note IS NOT NULL ORDER BY id;

-- Guarding again replaces the guard, and says so.
SET client_min_messages = notice;
SELECT privacy.guard('tickets', ARRAY['body', 'subject', 'code'], 'redact');
SET client_min_messages = warning;
SELECT * FROM privacy.guards;

-- Redact mode replaces the numbers and writes the audit log.
INSERT INTO tickets (id, body, code) VALUES
	(30, 'CPR 010190-1234 og 0101901234, kort 4111-1111-1111-1111, mail anna@firma.dk',
	 '5555 5555 5555 4444');
SELECT id, body, code, pg_catalog.length(code) FROM tickets WHERE id = 30;
UPDATE tickets SET body = body || ' og 170349-5678' WHERE id = 2 RETURNING id, body;
SELECT privacy.seal_audit_log() AS sealed \gset
SELECT action, summary FROM privacy.audit_log WHERE action = 'guard.redact' ORDER BY id;
SELECT privacy.seal_audit_log() AS sealed \gset
SELECT pg_catalog.bool_or(summary::text LIKE '%0101%' OR summary::text LIKE '%4111%')
	   AS value_in_audit_log
  FROM privacy.audit_log;
SELECT privacy.seal_audit_log() AS sealed \gset
SELECT (privacy.verify_audit_log()).intact;

-- A redacted value must still fit its column.
INSERT INTO tickets (id, subject) VALUES (31, '0101901234 0101901234 0101901234');
\echo :LAST_ERROR_SQLSTATE

-- The guard follows a renamed column.
ALTER TABLE tickets RENAME COLUMN body TO message;
SELECT * FROM privacy.guards;
INSERT INTO tickets (id, message) VALUES (32, '010190-1234') RETURNING message;

-- A trigger of the same name that is not a guard is left alone.
CREATE TABLE other (body text);
CREATE FUNCTION other_trigger() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NEW; END$$;
CREATE TRIGGER privacy_guard BEFORE INSERT ON other FOR EACH ROW EXECUTE FUNCTION other_trigger();
SELECT privacy.guard('other', ARRAY['body']);
\echo :LAST_ERROR_SQLSTATE
SELECT privacy.unguard('other');
\echo :LAST_ERROR_SQLSTATE

-- A partitioned table is guarded with its partitions.
CREATE TABLE parted (k integer, body text) PARTITION BY LIST (k);
CREATE TABLE parted_1 PARTITION OF parted FOR VALUES IN (1);
SELECT privacy.guard('parted', ARRAY['body']);
INSERT INTO parted VALUES (1, 'CPR 010190-1234');
SELECT table_name, columns, mode FROM privacy.guards ORDER BY 1;

-- Only the table owner may guard or unguard; the functions are not granted
-- to PUBLIC.
CREATE ROLE regress_guard_stranger;
SET ROLE regress_guard_stranger;
SELECT privacy.guard('tickets', ARRAY['note']);
RESET ROLE;
GRANT EXECUTE ON FUNCTION privacy.guard(regclass, text[], text),
	privacy.unguard(regclass) TO regress_guard_stranger;
SET ROLE regress_guard_stranger;
SELECT privacy.guard('tickets', ARRAY['note']);
\echo :LAST_ERROR_SQLSTATE
SELECT privacy.unguard('tickets');
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;

-- An owner who is not superuser may guard its own table.
CREATE TABLE stranger_table (body text);
ALTER TABLE stranger_table OWNER TO regress_guard_stranger;
SET ROLE regress_guard_stranger;
SELECT privacy.guard('stranger_table', ARRAY['body'], 'redact');
INSERT INTO stranger_table VALUES ('kort 4111111111111111') RETURNING body;
SELECT privacy.unguard('stranger_table');
RESET ROLE;

-- unguard removes the guard.
SELECT privacy.unguard('tickets');
SELECT privacy.unguard('parted');
SELECT * FROM privacy.guards;
INSERT INTO tickets (id, message) VALUES (40, 'CPR 010190-1234') RETURNING message;

-- The trigger function cannot be called directly.
SELECT privacy_internal._guard_trigger();

-- Numbers as people type them are caught in both modes: a space, Unicode
-- hyphens, dashes, minus and spaces, dotted dates, full-width and
-- Arabic-Indic digits, card groups separated by dots or slashes, invisible
-- format characters (zero-width space, soft hyphen, word joiner, byte order
-- mark) anywhere among the digits, an underscore and a date in spaced pairs.
CREATE TABLE spelled (id integer PRIMARY KEY, body text);
CREATE TABLE spellings (id integer PRIMARY KEY, spelling text, what text);
INSERT INTO spellings VALUES
	(1, '010190 1234', 'space'),
	(2, E'010190\u20101234', 'U+2010 hyphen'),
	(3, E'010190\u20111234', 'U+2011 non-breaking hyphen'),
	(4, E'010190\u20121234', 'U+2012 figure dash'),
	(5, E'010190\u20131234', 'U+2013 en dash'),
	(6, E'010190\u22121234', 'U+2212 minus'),
	(7, E'010190\u00A01234', 'U+00A0 no-break space'),
	(8, E'010190\u202F1234', 'U+202F narrow no-break space'),
	(9, '01.01.90-1234', 'dotted date'),
	(10, E'\uFF10\uFF11\uFF10\uFF11\uFF19\uFF10\uFF0D\uFF11\uFF12\uFF13\uFF14', 'full-width digits and hyphen-minus'),
	(11, E'\u0660\u0661\u0660\u0661\u0669\u0660-\u0661\u0662\u0663\u0664', 'Arabic-Indic digits'),
	(12, '4111.1111.1111.1111', 'card, dots'),
	(13, '4111/1111/1111/1111', 'card, slashes'),
	(14, E'4111\u20131111\u20131111\u20131111', 'card, en dashes'),
	(15, E'4111\u20091111\u20091111\u20091111', 'card, thin spaces'),
	(16, E'\uFF14\uFF11\uFF11\uFF11 \uFF11\uFF11\uFF11\uFF11 \uFF11\uFF11\uFF11\uFF11 \uFF11\uFF11\uFF11\uFF11', 'card, full-width digits'),
	(17, E'010190\u200B-1234', 'U+200B zero-width space before the dash'),
	(18, E'0101\u00AD90-1234', 'U+00AD soft hyphen inside the date'),
	(19, E'4111\u200B1111\u200B1111\u200B1111', 'card, zero-width spaces'),
	(20, E'4111\u20601111\uFEFF1111\u200C1111', 'card, word joiner, U+FEFF, U+200C'),
	(21, '010190_1234', 'underscore'),
	(22, '01 01 90 12 34', 'date and digits in spaced pairs'),
	(23, '01 01 90-1234', 'date in spaced pairs, dash');
CREATE FUNCTION spelled_insert(spelling text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO spelled VALUES (0, 'Ref: ' || spelling || ', tak.');
	DELETE FROM spelled;
	RETURN 'accepted';
EXCEPTION WHEN check_violation THEN
	RETURN SQLERRM;
END
$$;
SELECT privacy.guard('spelled', ARRAY['body'], 'reject');
SELECT id, what, spelled_insert(spelling) FROM spellings ORDER BY id;

-- Ordinary numbers still pass.
SELECT spelled_insert(s) FROM (VALUES ('01.01.2024 12:34'), ('ordre 4711 120390 1234'),
	('6.283185307179586'), ('v4.19.0-21'), (E'pris 12\u00A0499,00\u00A0kr.'),
	(E'sider 245\u2013289'), ('ISBN 978-87-02-28457-3')) AS v(s);

-- Redact mode replaces every byte of the spelling, multibyte digits and
-- separators included.
SELECT privacy.guard('spelled', ARRAY['body'], 'redact');
INSERT INTO spelled SELECT id, 'Ref: ' || spelling || ', tak.' FROM spellings;
SELECT s.id, p.what, s.body FROM spelled s JOIN spellings p USING (id) ORDER BY s.id;
SELECT privacy.seal_audit_log() AS sealed \gset
SELECT summary->>'category' AS category, pg_catalog.sum((summary->>'count')::integer) AS redacted
  FROM privacy.audit_log
 WHERE action = 'guard.redact' AND summary->>'table' = 'public.spelled'
 GROUP BY 1 ORDER BY 1;

DROP TABLE spelled, spellings;
DROP FUNCTION spelled_insert(text);

DROP TABLE tickets CASCADE;
DROP TABLE other, parted, stranger_table;
DROP FUNCTION other_trigger();
REVOKE EXECUTE ON FUNCTION privacy.guard(regclass, text[], text),
	privacy.unguard(regclass) FROM regress_guard_stranger;
DROP ROLE regress_guard_stranger;
DROP EXTENSION opendims_privacy CASCADE;
