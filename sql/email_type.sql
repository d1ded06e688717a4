-- privacy.email: validation and normalisation, errors, binary I/O, casts,
-- case-insensitive comparison with btree and hash support, masking,
-- pseudonyms, and self-classification.
SET client_min_messages = warning;
CREATE EXTENSION opendims_privacy CASCADE;
-- pgcrypto checks the pseudonyms independently of the extension's code.
CREATE EXTENSION pgcrypto;
RESET client_min_messages;
-- The operators live in schema privacy with the type: a query finds them
-- through the search path, or names them as OPERATOR(privacy.=).
SELECT 'Jens@Example.dk'::privacy.email OPERATOR(privacy.=) 'jens@example.dk' AS qualified;
-- Without privacy on the search path, a comparison finds no operator, and
-- the error's hint says what to do; ip_address casts implicitly to inet,
-- whose operators are in pg_catalog.
SELECT 'Jens@Example.dk'::privacy.email = 'jens@example.dk';
SELECT '+4520123456'::privacy.phone < '+4520123457';
SELECT - '+4520123456'::privacy.phone;
SELECT '192.0.2.1'::privacy.ip_address = '192.0.2.1' AS ip_address_without_search_path;
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

-- Valid input: white space around is dropped, the domain is lower-cased,
-- the local part is kept as written.
SELECT input, r.*
  FROM (VALUES ('jens@example.dk'),
			   ('Jens.Hansen@Example.DK'),
			   ('  user+tag@Sub.Example.ORG	'),
			   ('!#$%&''*+-/=?^_`{|}~@example.org'),
			   ('o''brien@xn--bcher-kva.example'),
			   ('x@123.example.com'),
			   ('j@x.io')) AS t(input),
	   LATERAL pg_temp.convert(input, 'privacy.email') AS r;

-- The limits: local part 64, label 63, address 254.
SELECT length(v) AS length, (pg_temp.convert(v, 'privacy.email')).code
  FROM (VALUES (repeat('a', 64) || '@example.com'),
			   (repeat('a', 65) || '@example.com'),
			   ('a@' || repeat('b', 63) || '.com'),
			   ('a@' || repeat('b', 64) || '.com'),
			   ('a@' || repeat(repeat('c', 63) || '.', 3) || repeat('d', 60)),
			   ('a@' || repeat(repeat('c', 63) || '.', 3) || repeat('d', 61))) AS t(v);

-- Invalid input: 22P02 with a detail saying what is wrong.
SELECT input, r.*
  FROM (VALUES (''),
			   ('   '),
			   ('jens.example.dk'),
			   ('jens@@example.dk'),
			   ('"jens"@example.dk'),
			   ('@example.dk'),
			   ('.jens@example.dk'),
			   ('jens.@example.dk'),
			   ('je..ns@example.dk'),
			   ('je ns@example.dk'),
			   ('je,ns@example.dk'),
			   ('jæns@example.dk'),
			   ('jens@'),
			   ('jens@[192.0.2.1]'),
			   ('jens@localhost'),
			   ('jens@example..dk'),
			   ('jens@example.dk.'),
			   ('jens@-example.dk'),
			   ('jens@exa_mple.dk'),
			   ('jens@192.0.2.1')) AS t(input),
	   LATERAL pg_temp.convert(input, 'privacy.email') AS r;
SELECT length(input), r.*
  FROM (VALUES (repeat('a', 65) || '@example.com'),
			   ('a@' || repeat('b', 64) || '.com'),
			   ('a@' || repeat(repeat('c', 63) || '.', 3) || repeat('d', 61)),
			   (repeat('x', 1000000) || '@example.com')) AS t(input),
	   LATERAL pg_temp.convert(input, 'privacy.email') AS r;

-- As the client sees it.
SELECT 'jens@example'::privacy.email;
SELECT privacy.email_in('je ns@example.dk');

-- NULL in, NULL out.
SELECT NULL::privacy.email IS NULL AS is_null, privacy.mask(NULL::privacy.email) IS NULL AS mask_null;

-- Casts: text both ways, in assignments too.
SELECT 'Jens@Example.DK'::text::privacy.email AS from_text,
	   'Jens@Example.DK'::privacy.email::text AS to_text,
	   pg_typeof('Jens@Example.DK'::privacy.email::text) AS type;
SELECT castsource::regtype, casttarget::regtype, castcontext, castmethod
  FROM pg_cast
 WHERE 'privacy.email'::regtype IN (castsource, casttarget)
 ORDER BY castsource::regtype::text, casttarget::regtype::text;
CREATE TABLE public.email_source (t text);
INSERT INTO public.email_source VALUES ('Ann@Example.COM'), ('bo@example.com');
CREATE TABLE public.email_target (e privacy.email);
INSERT INTO public.email_target SELECT t FROM public.email_source;
INSERT INTO public.email_source SELECT e FROM public.email_target;
SELECT t FROM public.email_source ORDER BY t COLLATE "C";
INSERT INTO public.email_source VALUES ('not an address');
INSERT INTO public.email_target SELECT t FROM public.email_source;

-- Comparison ignores case; so do ordering and hashing.
SELECT a, b, a = b AS eq, a <> b AS ne, a < b AS lt, a <= b AS le, a > b AS gt, a >= b AS ge,
	   privacy.email_cmp(a, b) AS cmp,
	   privacy.email_hash(a) = privacy.email_hash(b) AS same_hash,
	   privacy.email_hash_extended(a, 7) = privacy.email_hash_extended(b, 7) AS same_hash_ext
  FROM (VALUES ('John.Doe@example.com'::privacy.email, 'john.doe@EXAMPLE.com'::privacy.email),
			   ('ann@example.com', 'bo@example.com'),
			   ('bo@example.com', 'Ann@example.com'),
			   ('ann@example.com', 'ann@example.comm')) AS t(a, b);
SELECT e FROM (VALUES ('b@x.dk'::privacy.email), ('A@x.dk'), ('a.b@x.dk'), ('_@x.dk'), ('c@x.dk')) AS t(e)
 ORDER BY e;
SELECT count(DISTINCT e) AS distinct_addresses
  FROM (VALUES ('Ann@x.dk'::privacy.email), ('ann@x.dk'), ('ANN@X.DK'), ('bo@x.dk')) AS t(e);

-- A unique index rejects a case variant of an address it holds.
CREATE TABLE public.people (id serial PRIMARY KEY, email privacy.email UNIQUE, note text);
INSERT INTO public.people (email) VALUES ('jens@example.dk');
INSERT INTO public.people (email) VALUES ('JENS@Example.dk');
SELECT o.opcname, o.opcdefault
  FROM pg_index i JOIN pg_opclass o ON o.oid = i.indclass[0]
 WHERE i.indexrelid = 'public.people_email_key'::regclass;

-- With enough rows, equality is an index scan through that opclass, and
-- finds the row whatever the case of the constant.
INSERT INTO public.people (email, note)
SELECT 'user' || g || '@example.com', 'row ' || g FROM generate_series(1, 20000) AS g;
ANALYZE public.people;
EXPLAIN (COSTS OFF) SELECT note FROM public.people WHERE email = 'User42@Example.com';
SELECT email, note FROM public.people WHERE email = 'User42@Example.com';
EXPLAIN (COSTS OFF) SELECT count(*) FROM public.people
 WHERE email >= 'user42@example.com' AND email < 'user43@example.com';
SELECT count(*) FROM public.people WHERE email >= 'user42@example.com' AND email < 'user43@example.com';

-- A hash index works too.
CREATE TABLE public.hashed AS SELECT email, note FROM public.people;
CREATE INDEX hashed_email ON public.hashed USING hash (email);
ANALYZE public.hashed;
EXPLAIN (COSTS OFF) SELECT note FROM public.hashed WHERE email = 'USER7@example.com';
SELECT note FROM public.hashed WHERE email = 'USER7@example.com';

-- Joins: hash join and merge join match case variants.
CREATE TABLE public.newsletter (email privacy.email);
INSERT INTO public.newsletter VALUES ('USER1@EXAMPLE.COM'), ('User2@Example.com'), ('nobody@example.com');
ANALYZE public.newsletter;
SET enable_nestloop = off;
SET enable_mergejoin = off;
EXPLAIN (COSTS OFF) SELECT p.note FROM public.people p JOIN public.newsletter n ON n.email = p.email;
SELECT p.email, n.email, p.note FROM public.people p JOIN public.newsletter n ON n.email = p.email ORDER BY p.id;
RESET enable_mergejoin;
SET enable_hashjoin = off;
EXPLAIN (COSTS OFF) SELECT p.note FROM public.people p JOIN public.newsletter n ON n.email = p.email;
SELECT p.email, n.email, p.note FROM public.people p JOIN public.newsletter n ON n.email = p.email ORDER BY p.id;
RESET enable_hashjoin;
RESET enable_nestloop;

-- Binary I/O: a round trip through COPY in binary format keeps every
-- address as written.
CREATE TEMP TABLE binary_copy (e privacy.email);
\copy (SELECT email FROM public.people UNION ALL SELECT email FROM public.newsletter) TO 'results/email_type.bin' (FORMAT binary)
\copy binary_copy FROM 'results/email_type.bin' (FORMAT binary)
SELECT count(*) AS copied,
	   count(*) FILTER (WHERE e::text NOT IN (SELECT email::text FROM public.people
										   UNION ALL SELECT email::text FROM public.newsletter)) AS changed
  FROM binary_copy;
SELECT e FROM binary_copy WHERE e::text ~ '[A-Z]' ORDER BY e;

-- Binary input is validated and normalised like text input; malformed data
-- is 22P03 (a NUL byte, a byte that is not ASCII, no address at all).
SELECT data, r.*
  FROM (VALUES ('\x4a656e73404578616d706c652e444b'::bytea),
			   ('\x'),
			   ('\x6a00406578616d706c652e646b'),
			   ('\x6aff406578616d706c652e646b'),
			   ('\x6a656e73')) AS t(data),
	   LATERAL pg_temp.receive('binary_copy', data) AS r;
SELECT e FROM binary_copy WHERE e = 'jens@example.dk' ORDER BY e::text COLLATE "C";

-- Masking keeps the first characters and the top-level domain.
SELECT e, privacy.mask(e)
  FROM (VALUES ('jens@example.dk'::privacy.email), ('Jens.Hansen@mail.example.co.uk'), ('j@x.dk'), ('jo@ab.io')) AS t(e);

-- Pseudonyms: HMAC-SHA-256 of "email", a NUL and the address in lower case,
-- under the key named pseudonym; equal for case variants, different for
-- different addresses.
SELECT privacy.pseudonymize('Jens@Example.dk'::privacy.email) AS pseudonym \gset
SELECT length(:'pseudonym') AS length, :'pseudonym' ~ '^[0-9a-f]{64}$' AS hex,
	   :'pseudonym' = privacy.pseudonymize('jens@example.dk'::privacy.email) AS same_for_case_variant,
	   :'pseudonym' <> privacy.pseudonymize('jens@example.de'::privacy.email) AS differs,
	   :'pseudonym' = encode(hmac('\x656d61696c00'::bytea || convert_to('jens@example.dk', 'UTF8'),
								  (SELECT key FROM privacy._keys WHERE name = 'pseudonym'), 'sha256'), 'hex')
		   AS is_keyed_hmac;

-- An ordinary role can mask, and pseudonymize once granted, but cannot read
-- the key.
CREATE ROLE email_type_user;
SET ROLE email_type_user;
-- Computing pseudonyms is granted, not public: a role that may compute them
-- can test guesses against a pseudonym it sees.
SELECT privacy.pseudonymize('JENS@example.dk'::privacy.email);
RESET ROLE;
GRANT EXECUTE ON FUNCTION privacy.pseudonymize(privacy.email) TO email_type_user;
SET ROLE email_type_user;
SELECT privacy.pseudonymize('JENS@example.dk'::privacy.email) = :'pseudonym' AS same_pseudonym,
	   privacy.mask('jens@example.dk'::privacy.email) AS mask;
SELECT key FROM privacy._keys;
RESET ROLE;
REVOKE EXECUTE ON FUNCTION privacy.pseudonymize(privacy.email) FROM email_type_user;
DROP ROLE email_type_user;

-- Columns of the type are classified as contact.email without a label or
-- a policy entry (arrays of it too).
CREATE TABLE public.contacts (id int, email privacy.email, old_emails privacy.email[], name text);
SELECT table_name, column_name, category, source, origin
  FROM privacy.classified_columns
 WHERE table_name IN ('public.contacts'::regclass, 'public.people'::regclass)
 ORDER BY table_name::text, column_name;
SELECT count(*) AS labels FROM pg_seclabel WHERE provider = 'privacy';
SELECT count(*) AS policy_entries FROM privacy.classifications;

-- Markings and comments of everything the type brings.
SELECT p.oid::regprocedure AS function, p.provolatile, p.proisstrict, p.proparallel, p.proleakproof,
	   obj_description(p.oid, 'pg_proc') IS NOT NULL AS commented
  FROM pg_proc p
 WHERE p.pronamespace = 'privacy'::regnamespace
   AND 'privacy.email'::regtype IN (p.prorettype, p.proargtypes[0])
 ORDER BY p.oid::regprocedure::text;
SELECT oprname, obj_description(o.oid, 'pg_operator') IS NOT NULL AS commented
  FROM pg_operator o WHERE oprleft = 'privacy.email'::regtype ORDER BY 1;
SELECT obj_description('privacy.email'::regtype, 'pg_type') IS NOT NULL AS type_commented;

DROP TABLE binary_copy;
DROP TABLE public.contacts, public.newsletter, public.hashed, public.people, public.email_source, public.email_target;
DROP EXTENSION pgcrypto;
DROP EXTENSION opendims_privacy CASCADE;
