-- privacy.phone: international and national formats into E.164, the
-- privacy.default_country_code setting, errors, binary I/O, casts,
-- comparison with btree and hash support, masking, pseudonyms, and
-- self-classification.
SET client_min_messages = warning;
CREATE EXTENSION opendims_privacy CASCADE;
-- pgcrypto checks the pseudonyms independently of the extension's code.
CREATE EXTENSION pgcrypto;
RESET client_min_messages;
SET search_path = public, privacy;

-- How a text converts to a type: the result, or the error's SQLSTATE,
-- message (cut short) and detail.
CREATE FUNCTION pg_temp.convert(input text, target regtype,
	OUT code text, OUT result text, OUT detail text)
LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE format('SELECT %L::%s::text', input, target) INTO result;
	code := '00000';
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS code = RETURNED_SQLSTATE, result = MESSAGE_TEXT,
		detail = PG_EXCEPTION_DETAIL;
	result := left(result, 60);
END
$$;

-- How a binary value is received: its bytes are written as the one field
-- of a binary COPY file (in the server's data directory) and copied into
-- target; the SQLSTATE, message and detail of the outcome.
CREATE FUNCTION pg_temp.receive(target regclass, data bytea,
	OUT code text, OUT message text, OUT detail text)
LANGUAGE plpgsql AS $$
DECLARE
	file text := current_setting('data_directory') || '/opendims_privacy_regress.bin';
BEGIN
	EXECUTE format('COPY (SELECT %L::bytea) TO %L (FORMAT binary)', data, file);
	EXECUTE format('COPY %s FROM %L (FORMAT binary)', target, file);
	code := '00000';
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS code = RETURNED_SQLSTATE, message = MESSAGE_TEXT,
		detail = PG_EXCEPTION_DETAIL;
END
$$;

-- The setting: no default country code unless one is set.
SELECT name, setting, context, vartype, min_val, max_val, short_desc
  FROM pg_settings WHERE name = 'privacy.default_country_code';

-- International numbers, with "+" or "00", in common groupings.
SELECT input, r.*
  FROM (VALUES ('+4512345678'),
			   ('+45 12 34 56 78'),
			   ('  +45-12-34-56-78	'),
			   ('+45.12.34.56.78'),
			   ('(+45) 12 34 56 78'),
			   ('0045 12 34 56 78'),
			   ('+1 (212) 555-0100'),
			   ('+44 (0)20 7946 0000'),
			   ('0044 (0)20 7946 0000'),
			   ('+49 30/12345678'),
			   ('+39 06 1234 5678'),
			   ('+683 4002'),
			   ('+882 1234 5678 9012')) AS t(input),
	   LATERAL pg_temp.convert(input, 'privacy.phone') AS r;

-- A national number needs a default country code.
SELECT '12 34 56 78'::privacy.phone;
SET privacy.default_country_code = 45;
SELECT input, r.*
  FROM (VALUES ('12 34 56 78'), ('12-34-56-78'), ('12345678'), ('+46 70 123 45 67')) AS t(input),
	   LATERAL pg_temp.convert(input, 'privacy.phone') AS r;

-- Trunk prefixes are dropped from national numbers by the rule of the
-- default country ("0" mostly, "1" in North America, "8" in Russia, "06" in
-- Hungary; Italy keeps its leading 0).
SELECT cc, input, (pg_temp.convert(input, 'privacy.phone')).result
  FROM (VALUES (44, '020 7946 0000'), (44, '(0)20 7946 0000'), (49, '030 12345678'),
			   (1, '(212) 555-0100'), (1, '1 212 555 0100'), (7, '8 495 123-45-67'),
			   (7, '800 123 45 67'), (36, '06 30 123 4567'), (39, '06 1234 5678'),
			   (33, '06 12 34 56 78')) AS t(cc, input),
	   LATERAL (SELECT set_config('privacy.default_country_code', cc::text, true)) AS s;
SHOW privacy.default_country_code;

-- The setting accepts 0 and assigned country codes only.
CREATE FUNCTION pg_temp.set_default(value text, OUT code text, OUT message text, OUT detail text)
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM set_config('privacy.default_country_code', value, true);
	code := '00000';
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS code = RETURNED_SQLSTATE, message = MESSAGE_TEXT,
		detail = PG_EXCEPTION_DETAIL;
END
$$;
SELECT value, r.*
  FROM (VALUES ('0'), ('1'), ('299'), ('999'), ('259'), ('1000'), ('-1'), ('DK')) AS t(value),
	   LATERAL pg_temp.set_default(value) AS r;
SET privacy.default_country_code = 999;

-- A stored number is E.164: changing the setting later changes nothing.
CREATE TABLE public.phones (id serial PRIMARY KEY, phone privacy.phone UNIQUE, note text);
INSERT INTO public.phones (phone) VALUES ('12 34 56 78');
SET privacy.default_country_code = 46;
SELECT phone FROM public.phones;
INSERT INTO public.phones (phone) VALUES ('+45 12 34 56 78');
RESET privacy.default_country_code;

-- Invalid input: 22P02 with a detail saying what is wrong.
SET privacy.default_country_code = 45;
SELECT input, r.*
  FROM (VALUES (''),
			   ('   '),
			   ('+'),
			   ('+45 1234 5678 ext 12'),
			   ('1-800-FLOWERS'),
			   ('+45 12#345678'),
			   ('+45 1234 5678;'),
			   ('+45 12 34 56 78 +'),
			   ('++4512345678'),
			   ('+45 12--34 56 78'),
			   ('-4512345678'),
			   ('+45 12345678-'),
			   ('+45 (12 34 56 78'),
			   ('+45 12) 34 56 78'),
			   ('+45 () 12345678'),
			   ('+45 ((12)) 345678'),
			   ('+45 12 (0)34 5678'),
			   ('+999 12345678'),
			   ('+0 12345678'),
			   ('00'),
			   ('+45 123'),
			   ('+683 400'),
			   ('+45 1234 5678 9012 34'),
			   ('+45 1234 5678 9012 3456 7890'),
			   ('+45 12 34 56 78 ')) AS t(input),
	   LATERAL pg_temp.convert(input, 'privacy.phone') AS r;
SELECT length(input), (pg_temp.convert(input, 'privacy.phone')).code
  FROM (VALUES (repeat(' ', 100000) || '+4512345678'), ('+45' || repeat('1', 100000)),
			   (repeat('-', 100000))) AS t(input);
RESET privacy.default_country_code;

-- E.164 lengths: 7 to 15 digits with the country code.
SELECT input, (pg_temp.convert(input, 'privacy.phone')).code
  FROM (VALUES ('+683 4002'), ('+683 400'), ('+882 1234 5678 9012'), ('+882 1234 5678 9012 3')) AS t(input);

-- NULL in, NULL out.
SELECT NULL::privacy.phone IS NULL AS is_null, privacy.mask(NULL::privacy.phone) IS NULL AS mask_null;

-- Casts: text both ways, in assignments too.
SELECT '+45 12 34 56 78'::text::privacy.phone AS from_text,
	   '+45 12 34 56 78'::privacy.phone::text AS to_text;
SELECT castsource::regtype, casttarget::regtype, castcontext, castmethod
  FROM pg_cast
 WHERE 'privacy.phone'::regtype IN (castsource, casttarget)
 ORDER BY castsource::regtype::text, casttarget::regtype::text;
CREATE TABLE public.phone_source (t text);
INSERT INTO public.phone_source VALUES ('+45 87 65 43 21'), ('0046 70 123 45 67');
INSERT INTO public.phones (phone) SELECT t FROM public.phone_source;
INSERT INTO public.phone_source SELECT phone FROM public.phones;
SELECT t FROM public.phone_source ORDER BY t COLLATE "C";

-- Operators: numbers order as their E.164 digit strings.
SELECT a, b, a = b AS eq, a <> b AS ne, a < b AS lt, a <= b AS le, a > b AS gt, a >= b AS ge,
	   phone_cmp(a, b) AS cmp, phone_hash(a) = phone_hash(b) AS same_hash,
	   phone_hash_extended(a, 7) = phone_hash_extended(b, 7) AS same_hash_ext
  FROM (VALUES ('+45 12 34 56 78'::privacy.phone, '0045 12345678'::privacy.phone),
			   ('+4512345678', '+4598765432'),
			   ('+4512345678', '+451234567'),
			   ('+12125550100', '+4512345678')) AS t(a, b);
SELECT p FROM (VALUES ('+4598765432'::privacy.phone), ('+12125550100'), ('+4512345678'),
					  ('+451234567'), ('+442079460000'), ('+6834002')) AS t(p)
 ORDER BY p;

-- A unique index, an index scan for equality, a hash index, and joins.
INSERT INTO public.phones (phone, note)
SELECT ('+4520' || lpad(g::text, 6, '0'))::privacy.phone, 'row ' || g FROM generate_series(1, 20000) AS g;
ANALYZE public.phones;
SELECT o.opcname, o.opcdefault
  FROM pg_index i JOIN pg_opclass o ON o.oid = i.indclass[0]
 WHERE i.indexrelid = 'public.phones_phone_key'::regclass;
EXPLAIN (COSTS OFF) SELECT note FROM public.phones WHERE phone = '+45 20 00 00 42';
SELECT phone, note FROM public.phones WHERE phone = '+45 20 00 00 42';
INSERT INTO public.phones (phone) VALUES ('0045 20 00 00 42');
CREATE TABLE public.hashed AS SELECT phone, note FROM public.phones;
CREATE INDEX hashed_phone ON public.hashed USING hash (phone);
ANALYZE public.hashed;
EXPLAIN (COSTS OFF) SELECT note FROM public.hashed WHERE phone = '+4520000007';
SELECT note FROM public.hashed WHERE phone = '+4520000007';
CREATE TABLE public.callers (phone privacy.phone);
INSERT INTO public.callers VALUES ('+45 20 00 00 01'), ('+45-20-00-00-02'), ('+1 212 555 0100');
ANALYZE public.callers;
SET enable_nestloop = off;
SET enable_mergejoin = off;
EXPLAIN (COSTS OFF) SELECT p.note FROM public.phones p JOIN public.callers c ON c.phone = p.phone;
SELECT p.phone, p.note FROM public.phones p JOIN public.callers c ON c.phone = p.phone ORDER BY p.phone;
RESET enable_mergejoin;
SET enable_hashjoin = off;
EXPLAIN (COSTS OFF) SELECT p.note FROM public.phones p JOIN public.callers c ON c.phone = p.phone;
SELECT p.phone, p.note FROM public.phones p JOIN public.callers c ON c.phone = p.phone ORDER BY p.phone;
RESET enable_hashjoin;
RESET enable_nestloop;

-- Binary I/O: a round trip through COPY in binary format.
CREATE TEMP TABLE binary_copy (p privacy.phone);
\copy (SELECT phone FROM public.phones) TO 'results/phone_type.bin' (FORMAT binary)
\copy binary_copy FROM 'results/phone_type.bin' (FORMAT binary)
SELECT count(*) AS copied,
	   count(*) FILTER (WHERE p NOT IN (SELECT phone FROM public.phones)) AS changed
  FROM binary_copy;

-- The binary format is the E.164 number as an int8, validated on input;
-- malformed data is 22P03 (too short, too long, no valid number).
SELECT privacy.phone_send('+4512345678') = int8send(4512345678) AS send_is_int8;
SELECT data, r.*
  FROM (VALUES (int8send(4512345678)),
			   ('\x'),
			   (substring(int8send(4512345678) FROM 1 FOR 7)),
			   (int8send(4512345678) || '\x00'::bytea),
			   (int8send(0)),
			   (int8send(-4512345678)),
			   (int8send(99912345678)),
			   (int8send(451234)),
			   (int8send(4512345678901234))) AS t(data),
	   LATERAL pg_temp.receive('binary_copy', data) AS r;
SELECT p FROM binary_copy WHERE p = '+4512345678';

-- Masking keeps the country code and the last two digits.
SELECT p, privacy.mask(p)
  FROM (VALUES ('+4512345678'::privacy.phone), ('+12125550100'), ('+33612345678'), ('+6834002'),
			   ('+882123456789012')) AS t(p);

-- Pseudonyms: HMAC-SHA-256 of "phone", a NUL and the E.164 text under the
-- key named pseudonym; the same for every way of writing the number.
SELECT privacy.pseudonymize('+45 12 34 56 78'::privacy.phone) AS pseudonym \gset
SELECT length(:'pseudonym') AS length, :'pseudonym' ~ '^[0-9a-f]{64}$' AS hex,
	   :'pseudonym' = privacy.pseudonymize('0045-12-34-56-78'::privacy.phone) AS same_for_other_format,
	   :'pseudonym' <> privacy.pseudonymize('+4512345679'::privacy.phone) AS differs,
	   :'pseudonym' = encode(hmac('\x70686f6e6500'::bytea || convert_to('+4512345678', 'UTF8'),
								  (SELECT key FROM privacy._keys WHERE name = 'pseudonym'), 'sha256'), 'hex')
		   AS is_keyed_hmac;
CREATE ROLE phone_type_user;
SET ROLE phone_type_user;
-- Computing pseudonyms is granted, not public: a role that may compute them
-- can test guesses against a pseudonym it sees.
SELECT privacy.pseudonymize('+4512345678'::privacy.phone);
RESET ROLE;
GRANT EXECUTE ON FUNCTION privacy.pseudonymize(privacy.phone) TO phone_type_user;
SET ROLE phone_type_user;
SELECT privacy.pseudonymize('+4512345678'::privacy.phone) = :'pseudonym' AS same_pseudonym,
	   privacy.mask('+4512345678'::privacy.phone) AS mask;
SELECT key FROM privacy._keys;
RESET ROLE;
REVOKE EXECUTE ON FUNCTION privacy.pseudonymize(privacy.phone) FROM phone_type_user;
DROP ROLE phone_type_user;

-- Columns of the type are classified as contact.phone without a label or
-- a policy entry.
CREATE TABLE public.contacts (id int, phone privacy.phone, name text);
SELECT table_name, column_name, category, source, origin
  FROM privacy.classified_columns
 WHERE table_name IN ('public.contacts'::regclass, 'public.phones'::regclass)
 ORDER BY table_name::text, column_name;
SELECT count(*) AS labels FROM pg_seclabel WHERE provider = 'privacy';
SELECT count(*) AS policy_entries FROM privacy.classifications;

-- Markings and comments of everything the type brings; the input function
-- is stable, since it reads the setting.
SELECT p.oid::regprocedure AS function, p.provolatile, p.proisstrict, p.proparallel, p.proleakproof,
	   obj_description(p.oid, 'pg_proc') IS NOT NULL AS commented
  FROM pg_proc p
 WHERE p.pronamespace = 'privacy'::regnamespace
   AND 'privacy.phone'::regtype IN (p.prorettype, p.proargtypes[0])
 ORDER BY p.oid::regprocedure::text;
SELECT oprname, obj_description(o.oid, 'pg_operator') IS NOT NULL AS commented
  FROM pg_operator o WHERE oprleft = 'privacy.phone'::regtype ORDER BY 1;
SELECT typlen, typbyval, obj_description(oid, 'pg_type') IS NOT NULL AS type_commented
  FROM pg_type WHERE oid = 'privacy.phone'::regtype;

DROP TABLE binary_copy;
DROP TABLE public.contacts, public.callers, public.hashed, public.phones, public.phone_source;
DROP EXTENSION pgcrypto;
DROP EXTENSION opendims_privacy CASCADE;
