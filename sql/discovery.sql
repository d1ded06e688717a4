SET client_min_messages = warning;
CREATE EXTENSION opendims_privacy CASCADE;

-- Discovery: privacy.discover() samples unclassified text columns and
-- reports those whose values look like personal data. Only the objects of
-- this test are shown, so that leftovers elsewhere do not matter.
CREATE SCHEMA disc;
CREATE TABLE disc.people (
	id integer PRIMARY KEY,
	email text,
	phone varchar(40),
	phone_dk character(20),
	ip text,
	ip6 text,
	cpr text,
	card text,
	note text,
	doc jsonb,
	quantity integer,
	labelled text,
	by_policy text,
	rare_phone text,
	rare_cpr text
);
INSERT INTO disc.people
SELECT i,
	   'person' || i || '@example.com',
	   '+45 22 34 ' || lpad((i % 100)::text, 2, '0') || ' 78',
	   '2234' || lpad(i::text, 4, '0'),
	   '10.0.' || (i % 256) || '.' || (i % 200 + 1),
	   CASE WHEN i % 2 = 0 THEN '2001:db8::' || i END,
	   '0101' || lpad((i % 100)::text, 2, '0') || '-' || lpad(i::text, 4, '0'),
	   CASE WHEN i % 4 = 0 THEN '4111 1111 1111 1111' ELSE 'no card' END,
	   'Order ' || i || ' shipped, nothing personal here',
	   pg_catalog.jsonb_build_object('login', 'user' || i, 'from', '192.168.1.' || (i % 250)),
	   i,
	   'labelled' || i || '@example.com',
	   'policy' || i || '@example.com',
	   CASE WHEN i = 7 THEN 'call 22345678' ELSE 'nothing' END,
	   CASE WHEN i = 7 THEN 'CPR 010190-1234' ELSE 'nothing' END
  FROM pg_catalog.generate_series(1, 200) AS i;

-- A label and a policy classification make a column classified: skipped.
SECURITY LABEL FOR privacy ON COLUMN disc.people.labelled IS 'contact.email';
INSERT INTO privacy.classifications (table_name, column_name, category, source)
VALUES ('disc.people', 'by_policy', 'contact.email', 'direct');
SELECT column_name, origin FROM privacy.classified_columns
 WHERE table_name = 'disc.people'::regclass ORDER BY 1;

-- Every pattern: e-mail, international and Danish telephone numbers, IPv4
-- and IPv6 (also inside jsonb), CPR and card numbers. A CPR number in one
-- row of 200 is reported (the policy refuses it); a telephone number in one
-- row of 200 is below the 1% threshold. No integer column is scanned.
SELECT column_name, suspected_category, pg_catalog.round(hit_ratio::numeric, 3) AS hit_ratio,
	   rows_sampled
  FROM privacy.discover()
 WHERE table_name = 'disc.people'::regclass
 ORDER BY column_name, suspected_category;

-- The sample is at most sample_rows rows.
SELECT DISTINCT rows_sampled FROM privacy.discover(50)
 WHERE table_name = 'disc.people'::regclass;

-- json, citext and domains over text are scanned too.
CREATE EXTENSION citext;
CREATE DOMAIN disc.note AS text;
CREATE TABLE disc.misc (j json, c citext, d disc.note, v varchar(30)[]);
INSERT INTO disc.misc VALUES
	('{"card": "5555 5555 5555 4444"}', 'Anna@Firma.dk', 'ip 192.0.2.7', '{anna@firma.dk}');
SELECT column_name, suspected_category, hit_ratio, rows_sampled
  FROM privacy.discover()
 WHERE table_name = 'disc.misc'::regclass
 ORDER BY column_name, suspected_category;

-- Numbers as people type them are found: Unicode dashes and spaces,
-- dotted dates, full-width digits, card groups separated by dots or
-- slashes. Dates, times and prices are not.
CREATE TABLE disc.spelled (cpr_dash text, cpr_dotted text, cpr_fullwidth text,
	card_dots text, card_slashes text, card_nbsp text, ordinary text);
INSERT INTO disc.spelled VALUES
	(E'CPR 010190\u20131234', 'CPR 01.01.90-1234',
	 E'CPR \uFF10\uFF11\uFF10\uFF11\uFF19\uFF10\uFF0D\uFF11\uFF12\uFF13\uFF14',
	 'kort 4111.1111.1111.1111', 'kort 4111/1111/1111/1111',
	 E'kort 5555\u00A05555\u00A05555\u00A04444',
	 E'leveret 01.01.2024 12:34, pris 12\u00A0499,00 kr., sider 245\u2013289');
SELECT column_name, suspected_category, hit_ratio, rows_sampled
  FROM privacy.discover()
 WHERE table_name = 'disc.spelled'::regclass
 ORDER BY column_name, suspected_category;

-- Bad and null arguments.
SELECT * FROM privacy.discover(0);
SELECT count(*) FROM privacy.discover(NULL);

-- A table estimated much larger than the sample is block-sampled, and still
-- gives sample_rows rows.
CREATE TABLE disc.big (addr text);
INSERT INTO disc.big SELECT 'user' || i || '@example.org' FROM pg_catalog.generate_series(1, 30000) AS i;
ANALYZE disc.big;
SELECT relpages > 128 AS block_sampled FROM pg_catalog.pg_class WHERE oid = 'disc.big'::regclass;
SELECT column_name, suspected_category, hit_ratio, rows_sampled
  FROM privacy.discover(100) WHERE table_name = 'disc.big'::regclass;

-- Partitioned tables are sampled as a whole, not partition by partition;
-- the session's own temporary tables are scanned too.
CREATE TABLE disc.parted (k integer, contact text) PARTITION BY RANGE (k);
CREATE TABLE disc.parted_1 PARTITION OF disc.parted FOR VALUES FROM (0) TO (10);
CREATE TABLE disc.parted_2 PARTITION OF disc.parted FOR VALUES FROM (10) TO (20);
INSERT INTO disc.parted SELECT i, 'kontakt ' || i || '@firma.dk' FROM pg_catalog.generate_series(0, 19) AS i;
CREATE TEMP TABLE scratch (remark text);
INSERT INTO scratch VALUES ('ip 10.1.2.3'), ('ip ::1');
SELECT table_name, column_name, suspected_category, hit_ratio, rows_sampled
  FROM privacy.discover()
 WHERE table_name IN ('disc.parted'::regclass, 'disc.parted_1'::regclass,
					  'disc.parted_2'::regclass, 'scratch'::regclass)
 ORDER BY 1, 2;

-- Columns the caller cannot read are skipped, as are schemas it cannot use.
CREATE SCHEMA disc_hidden;
CREATE TABLE disc_hidden.secrets (s text);
INSERT INTO disc_hidden.secrets VALUES ('010190-1234');
CREATE ROLE regress_discovery_reader;
GRANT USAGE ON SCHEMA disc TO regress_discovery_reader;
GRANT SELECT (id, email, cpr) ON disc.people TO regress_discovery_reader;
GRANT EXECUTE ON FUNCTION privacy.discover(integer) TO regress_discovery_reader;
SET ROLE regress_discovery_reader;
SELECT table_name, column_name, suspected_category, hit_ratio
  FROM privacy.discover()
 WHERE table_name::text LIKE 'disc%'
 ORDER BY 1, 2, 3;
RESET ROLE;

-- discover() is a DBA tool: not granted to PUBLIC.
CREATE ROLE regress_discovery_nobody;
SET ROLE regress_discovery_nobody;
SELECT * FROM privacy.discover();
RESET ROLE;

-- lint() reports the columns discover(100) flags: errors for CPR and card
-- numbers, which the policy refuses, warnings for the rest.
SELECT severity, object, problem, hint FROM privacy_internal._lint_discovery()
 WHERE object LIKE 'disc.people.%'
 ORDER BY object, problem;
SELECT severity, object, problem FROM privacy.lint()
 WHERE object LIKE 'disc.people.c%' AND problem LIKE '%sampled%'
 ORDER BY severity, object;

-- A classified column is no longer reported.
SECURITY LABEL FOR privacy ON COLUMN disc.people.email IS 'contact.email';
SELECT count(*) FROM privacy.discover()
 WHERE table_name = 'disc.people'::regclass AND column_name = 'email';

DROP SCHEMA disc, disc_hidden CASCADE;
DROP EXTENSION citext;
DROP TABLE scratch;
REVOKE EXECUTE ON FUNCTION privacy.discover(integer) FROM regress_discovery_reader;
DROP ROLE regress_discovery_reader;
DROP ROLE regress_discovery_nobody;
DROP EXTENSION opendims_privacy CASCADE;
