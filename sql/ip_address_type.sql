-- privacy.ip_address: IPv4 and IPv6 host addresses, output and order as
-- inet's, errors, binary I/O, casts (text and inet), btree and hash support,
-- masking, truncation, pseudonyms, and self-classification.
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

-- Valid input, and its canonical form next to inet's.
SELECT input, (pg_temp.convert(input, 'privacy.ip_address')).result,
	   host(btrim(input, E' \t')::inet) AS inet_host
  FROM (VALUES ('192.168.1.20'),
			   ('0.0.0.0'),
			   ('255.255.255.255'),
			   (' 10.0.0.1	'),
			   ('::'),
			   ('::1'),
			   ('2001:DB8::1'),
			   ('2001:0db8:0000:0000:0000:0000:0000:0001'),
			   ('1:0:0:1:0:0:0:1'),
			   ('1:0:0:1:0:0:1:1'),
			   ('1:2:3:4:5:6:7::'),
			   ('::2:3:4:5:6:7:8'),
			   ('::ffff:1.2.3.4'),
			   ('::FFFF:102:304'),
			   ('::1.2.3.4'),
			   ('::0.0.1.2'),
			   ('::fffe:1.2.3.4'),
			   ('1:2:3:4:5:6:1.2.3.4'),
			   ('fe80::1:2')) AS t(input);

-- Canonical output and order agree with inet on thousands of addresses
-- (IPv4, IPv6 with runs of zero groups, IPv4-mapped and -compatible).
SELECT setseed(0.25);
CREATE TEMP TABLE samples AS
SELECT CASE g % 5
		 WHEN 0 THEN v4
		 WHEN 1 THEN '::ffff:' || v4
		 WHEN 2 THEN '::' || v4
		 ELSE (SELECT string_agg(CASE WHEN random() < 0.5 THEN '0'
									  WHEN random() < 0.2 THEN 'ffff'
									  ELSE to_hex((random() * 65535)::int) END, ':')
				 FROM generate_series(1, 8) WHERE g > 0)
	   END AS a
  FROM generate_series(1, 5000) AS g,
	   LATERAL (SELECT concat_ws('.', (random() * 255)::int, (random() * 255)::int,
								 (random() * 255)::int, (random() * 255)::int) || left(g::text, 0)) AS v(v4);
SELECT count(*) AS samples,
	   count(*) FILTER (WHERE a::privacy.ip_address::text <> host(a::inet)) AS text_differs,
	   count(*) FILTER (WHERE a::inet::privacy.ip_address::text <> host(a::inet)) AS from_inet_differs,
	   count(*) FILTER (WHERE a::privacy.ip_address::inet <> a::inet) AS to_inet_differs,
	   count(DISTINCT a::privacy.ip_address) = count(DISTINCT a::inet) AS same_distinct
  FROM samples;
SELECT count(*) AS order_differs
  FROM (SELECT rank() OVER (ORDER BY a::privacy.ip_address) AS by_ip,
			   rank() OVER (ORDER BY a::inet) AS by_inet
		  FROM samples) AS r
 WHERE by_ip <> by_inet;

-- Invalid input: 22P02 with a detail saying what is wrong.
SELECT input, r.*
  FROM (VALUES (''),
			   ('   '),
			   ('192.168.1.20/24'),
			   ('fe80::1%eth0'),
			   ('192.168.1.x'),
			   ('192.168.1 .20'),
			   ('0x1.2.3.4'),
			   ('1.2.3.æ'),
			   ('1.2.3'),
			   ('1.2.3.4.5'),
			   ('1..3.4'),
			   ('1.2.3.256'),
			   ('010.1.1.1'),
			   ('12345::'),
			   ('1::2::3'),
			   (':1:2:3:4:5:6:7'),
			   ('1:2:3:4:5:6:7:'),
			   (':::'),
			   ('1:2:3:4:5:6:7'),
			   ('1:2:3:4:5:6:7:8:9'),
			   ('1:2:3:4:5:6:7:8::'),
			   ('1.2.3.4::'),
			   ('::1.2.3')) AS t(input),
	   LATERAL pg_temp.convert(input, 'privacy.ip_address') AS r;
SELECT '192.168.1.20/24'::privacy.ip_address;
SELECT length(input), (pg_temp.convert(input, 'privacy.ip_address')).code
  FROM (VALUES (repeat('1', 100000)), (repeat(':', 100000)), (repeat('1.', 50000))) AS t(input);

-- NULL in, NULL out.
SELECT NULL::privacy.ip_address IS NULL AS is_null, privacy.mask(NULL::privacy.ip_address) IS NULL AS mask_null,
	   privacy.truncate_ip(NULL, 24) IS NULL AS truncate_null;

-- Casts: text both ways in assignments; inet implicitly from ip_address (so
-- inet's operators and functions apply), in assignments to it (its
-- netmask is dropped, as host() drops it).
SELECT castsource::regtype, casttarget::regtype, castcontext, castmethod
  FROM pg_cast
 WHERE 'privacy.ip_address'::regtype IN (castsource, casttarget)
 ORDER BY castsource::regtype::text, casttarget::regtype::text;
SELECT '192.168.1.20'::privacy.ip_address::inet AS v4_inet,
	   '2001:db8::1'::privacy.ip_address::inet AS v6_inet,
	   '192.168.1.20/24'::inet::privacy.ip_address AS from_inet_with_mask,
	   '10.1.2.3'::cidr::inet::privacy.ip_address AS from_cidr;
SELECT '192.168.1.20'::privacy.ip_address << '192.168.0.0/16'::inet AS within,
	   family('2001:db8::1'::privacy.ip_address) AS family,
	   host('::ffff:1.2.3.4'::privacy.ip_address) AS host;
CREATE TABLE public.logins (id serial PRIMARY KEY, ip privacy.ip_address UNIQUE, note text);
CREATE TABLE public.ip_source (t text, i inet);
INSERT INTO public.ip_source VALUES ('192.0.2.1', '192.0.2.2/24'), ('2001:DB8::A', '2001:db8::b');
INSERT INTO public.logins (ip) SELECT t FROM public.ip_source;
INSERT INTO public.logins (ip) SELECT i FROM public.ip_source;
SELECT ip FROM public.logins ORDER BY ip;

-- Operators: IPv4 sorts before IPv6, then numerically, as inet does.
SELECT a, b, a = b AS eq, a <> b AS ne, a < b AS lt, a <= b AS le, a > b AS gt, a >= b AS ge,
	   ip_address_cmp(a, b) AS cmp, ip_address_hash(a) = ip_address_hash(b) AS same_hash,
	   ip_address_hash_extended(a, 7) = ip_address_hash_extended(b, 7) AS same_hash_ext
  FROM (VALUES ('2001:DB8::1'::privacy.ip_address, '2001:db8:0:0::1'::privacy.ip_address),
			   ('10.0.0.1', '9.255.255.255'),
			   ('255.255.255.255', '::'),
			   ('::1.2.3.4', '1.2.3.4')) AS t(a, b);

-- A unique index, an index scan for equality, a hash index, and joins.
INSERT INTO public.logins (ip, note)
SELECT ('10.' || g / 65536 || '.' || g / 256 % 256 || '.' || g % 256)::privacy.ip_address, 'row ' || g
  FROM generate_series(1, 20000) AS g;
ANALYZE public.logins;
SELECT o.opcname, o.opcdefault
  FROM pg_index i JOIN pg_opclass o ON o.oid = i.indclass[0]
 WHERE i.indexrelid = 'public.logins_ip_key'::regclass;
EXPLAIN (COSTS OFF) SELECT note FROM public.logins WHERE ip = '10.0.0.42';
SELECT ip, note FROM public.logins WHERE ip = '10.0.0.42';
INSERT INTO public.logins (ip) VALUES (' 10.0.0.42 ');
CREATE TABLE public.hashed AS SELECT ip, note FROM public.logins;
CREATE INDEX hashed_ip ON public.hashed USING hash (ip);
ANALYZE public.hashed;
EXPLAIN (COSTS OFF) SELECT note FROM public.hashed WHERE ip = '10.0.0.7';
SELECT note FROM public.hashed WHERE ip = '10.0.0.7';
CREATE TABLE public.blocked (ip privacy.ip_address);
INSERT INTO public.blocked VALUES ('10.0.0.1'), ('10.0.0.2'), ('2001:db8::ff');
ANALYZE public.blocked;
SET enable_nestloop = off;
SET enable_mergejoin = off;
EXPLAIN (COSTS OFF) SELECT l.note FROM public.logins l JOIN public.blocked b ON b.ip = l.ip;
SELECT l.ip, l.note FROM public.logins l JOIN public.blocked b ON b.ip = l.ip ORDER BY l.ip;
RESET enable_mergejoin;
SET enable_hashjoin = off;
EXPLAIN (COSTS OFF) SELECT l.note FROM public.logins l JOIN public.blocked b ON b.ip = l.ip;
SELECT l.ip, l.note FROM public.logins l JOIN public.blocked b ON b.ip = l.ip ORDER BY l.ip;
RESET enable_hashjoin;
RESET enable_nestloop;

-- Binary I/O: a round trip through COPY in binary format.
CREATE TEMP TABLE binary_copy (ip privacy.ip_address);
\copy (SELECT ip FROM public.logins UNION ALL SELECT a::privacy.ip_address FROM samples) TO 'results/ip_address_type.bin' (FORMAT binary)
\copy binary_copy FROM 'results/ip_address_type.bin' (FORMAT binary)
SELECT count(*) AS copied,
	   count(*) FILTER (WHERE ip NOT IN (SELECT ip FROM public.logins
										 UNION ALL SELECT a::privacy.ip_address FROM samples)) AS changed
  FROM binary_copy;

-- The binary format is the family (4 or 6), then the address bytes;
-- malformed data is 22P03 (no family, an unknown family, a short address,
-- bytes left over).
SELECT ip_address_send('192.168.1.20') AS v4, ip_address_send('2001:db8::1') AS v6;
SELECT data, r.*
  FROM (VALUES ('\x04c0a80115'::bytea),
			   ('\x0620010db8000000000000000000000002'),
			   ('\x'),
			   ('\x05c0a80114'),
			   ('\x00'),
			   ('\x04c0a801'),
			   ('\x0620010db80000000000000000000000'),
			   ('\x04c0a8011400')) AS t(data),
	   LATERAL pg_temp.receive('binary_copy', data) AS r;
SELECT ip FROM binary_copy WHERE ip IN ('192.168.1.21', '2001:db8::2') ORDER BY ip;

-- Masking shows the network: /24 for IPv4 (also inside an IPv4-mapped
-- IPv6 address), /48 for IPv6.
SELECT ip, privacy.mask(ip), privacy.mask(ip)::cidr::text = privacy.mask(ip) AS is_cidr
  FROM (VALUES ('192.168.1.20'::privacy.ip_address), ('10.20.30.40'),
			   ('2001:db8:1234:5678:9abc:def0:1234:5678'), ('::ffff:1.2.3.4'), ('::1')) AS t(ip);

-- Truncation zeroes the host bits; the prefix length is checked per family.
SELECT ip, bits, privacy.truncate_ip(ip, bits)
  FROM (VALUES ('192.168.1.20'::privacy.ip_address, 24), ('192.168.1.255', 25), ('192.168.1.20', 32),
			   ('192.168.1.20', 0), ('2001:db8:1234:5678::1', 48), ('2001:db8:1234:5678::1', 64),
			   ('2001:db8:1234:5678::1', 128), ('::ffff:1.2.3.4', 120)) AS t(ip, bits);
CREATE FUNCTION pg_temp.try_truncate(ip privacy.ip_address, bits int,
	OUT code text, OUT message text, OUT detail text)
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM privacy.truncate_ip(ip, bits);
	code := '00000';
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS code = RETURNED_SQLSTATE, message = MESSAGE_TEXT,
		detail = PG_EXCEPTION_DETAIL;
END
$$;
SELECT ip, bits, r.*
  FROM (VALUES ('192.168.1.20'::privacy.ip_address, 33), ('192.168.1.20', -1),
			   ('2001:db8::1', 129), ('2001:db8::1', 33)) AS t(ip, bits),
	   LATERAL pg_temp.try_truncate(ip, bits) AS r;
SELECT privacy.truncate_ip('192.168.1.20', 33);

-- Pseudonyms: HMAC-SHA-256 of "ip_address", a NUL and the canonical text
-- under the key named pseudonym; the same for every way of writing it.
SELECT privacy.pseudonymize('2001:db8::1'::privacy.ip_address) AS pseudonym \gset
SELECT length(:'pseudonym') AS length, :'pseudonym' ~ '^[0-9a-f]{64}$' AS hex,
	   :'pseudonym' = privacy.pseudonymize('2001:0DB8:0:0:0:0:0:0001'::privacy.ip_address) AS same_for_other_form,
	   :'pseudonym' <> privacy.pseudonymize('2001:db8::2'::privacy.ip_address) AS differs,
	   :'pseudonym' = encode(hmac('\x69705f6164647265737300'::bytea || convert_to('2001:db8::1', 'UTF8'),
								  (SELECT key FROM privacy._keys WHERE name = 'pseudonym'), 'sha256'), 'hex')
		   AS is_keyed_hmac;
CREATE ROLE ip_address_type_user;
SET ROLE ip_address_type_user;
-- Computing pseudonyms is granted, not public: a role that may compute them
-- can test guesses against a pseudonym it sees.
SELECT privacy.pseudonymize('2001:db8::1'::privacy.ip_address);
RESET ROLE;
GRANT EXECUTE ON FUNCTION privacy.pseudonymize(privacy.ip_address) TO ip_address_type_user;
SET ROLE ip_address_type_user;
SELECT privacy.pseudonymize('2001:db8::1'::privacy.ip_address) = :'pseudonym' AS same_pseudonym,
	   privacy.mask('192.168.1.20'::privacy.ip_address) AS mask,
	   privacy.truncate_ip('192.168.1.20', 16) AS truncated;
SELECT key FROM privacy._keys;
RESET ROLE;
REVOKE EXECUTE ON FUNCTION privacy.pseudonymize(privacy.ip_address) FROM ip_address_type_user;
DROP ROLE ip_address_type_user;

-- Columns of the type are classified as credentials.ip_address without a
-- label or a policy entry.
CREATE TABLE public.sessions (id int, client_ip privacy.ip_address, started timestamptz);
SELECT table_name, column_name, category, source, origin
  FROM privacy.classified_columns
 WHERE table_name IN ('public.sessions'::regclass, 'public.logins'::regclass)
 ORDER BY table_name::text, column_name;
SELECT count(*) AS labels FROM pg_seclabel WHERE provider = 'privacy';
SELECT count(*) AS policy_entries FROM privacy.classifications;

-- Markings and comments of everything the type brings.
SELECT p.oid::regprocedure AS function, p.provolatile, p.proisstrict, p.proparallel, p.proleakproof,
	   obj_description(p.oid, 'pg_proc') IS NOT NULL AS commented
  FROM pg_proc p
 WHERE p.pronamespace = 'privacy'::regnamespace
   AND 'privacy.ip_address'::regtype IN (p.prorettype, p.proargtypes[0])
 ORDER BY p.oid::regprocedure::text;
SELECT oprname, obj_description(o.oid, 'pg_operator') IS NOT NULL AS commented
  FROM pg_operator o WHERE oprleft = 'privacy.ip_address'::regtype ORDER BY 1;
SELECT typlen, typbyval, typalign, obj_description(oid, 'pg_type') IS NOT NULL AS type_commented
  FROM pg_type WHERE oid = 'privacy.ip_address'::regtype;

DROP FUNCTION pg_temp.try_truncate(privacy.ip_address, int);
DROP TABLE binary_copy, samples;
DROP TABLE public.sessions, public.blocked, public.hashed, public.logins, public.ip_source;
DROP EXTENSION pgcrypto;
DROP EXTENSION opendims_privacy CASCADE;
