#!/usr/bin/env bash
# Benchmarks of the personal-data column types privacy.email, privacy.phone
# and privacy.ip_address, each against a baseline measured in the same run
# (see lib.sh); prints one CSV row per case.
#
#   bash test/bench/types.sh [SCALE]   1,000,000 x SCALE values of each type
#
# Cases, for each type:
#   input+output   N values converted from text to the type and back to
#                  text (textout, TYPE_in, TYPE_out, textin) against the same
#                  round trip through text's own input and output functions
#                  (target: at most 1.3 times as long);
#   vs domain      the same round trip against a domain over text with a
#                  regular-expression CHECK, the usual alternative (target:
#                  faster);
#   lookup         N/10 equality lookups, one index scan each, through the
#                  type's btree index against a text column with a btree
#                  index (target: at most 1.1 times as long).
# Text columns compare with the database's collation: in a database whose
# collation is not C, text comparisons are slower than here.
set -euo pipefail
cd "$(dirname "$0")/../.."
. test/bench/lib.sh

SCALE=${1:-${BENCH_SCALE:-1}}
N=$(awk -v s="$SCALE" 'BEGIN { n = int(1000000 * s); print (n > 0 ? n : 10) }')
PROBES=$((N / 10 > 0 ? N / 10 : 1))

# The types' operators live in schema privacy: put it on the search path,
# as an application using the types does.
export PGOPTIONS="${PGOPTIONS:-} -c search_path=public,privacy"

cleanup() {
	bench_psql -c "DROP SCHEMA IF EXISTS bench_types CASCADE" >/dev/null 2>&1 || true
}
trap cleanup EXIT

# Test data: N addresses, E.164 numbers and IP addresses (one in four IPv6)
# as text; typed and text copies of each with a unique btree index; the
# probe values for the lookups; the domains.
bench_psql -v n="$N" -v probes="$PROBES" >/dev/null <<'SQL'
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS opendims_privacy CASCADE;
DROP SCHEMA IF EXISTS bench_types CASCADE;
CREATE SCHEMA bench_types;

CREATE TABLE bench_types.src AS
SELECT g,
	   'user' || g || '.name@mail' || g % 1000 || '.example.com' AS email,
	   '+45' || (20000000 + g) AS phone,
	   CASE WHEN g % 4 = 0 THEN '2001:db8:' || to_hex(g % 65536) || '::' || to_hex(g / 65536 + 1)
			ELSE '10.' || g / 65536 % 256 || '.' || g / 256 % 256 || '.' || g % 256 END AS ip
  FROM generate_series(1, :n) AS g;

CREATE DOMAIN bench_types.email_domain AS text
	CHECK (length(VALUE) <= 254 AND
		   VALUE ~ '^[A-Za-z0-9.!#$%&''*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$');
CREATE DOMAIN bench_types.phone_domain AS text
	CHECK (VALUE ~ '^\+[1-9][0-9]{6,14}$');
CREATE DOMAIN bench_types.ip_domain AS text
	CHECK (VALUE ~ '^(((25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])\.){3}(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])|[0-9A-Fa-f]{0,4}(:[0-9A-Fa-f]{0,4}){2,7})$');

CREATE TABLE bench_types.t_email (v privacy.email PRIMARY KEY);
CREATE TABLE bench_types.t_email_text (v text PRIMARY KEY);
CREATE TABLE bench_types.t_phone (v privacy.phone PRIMARY KEY);
CREATE TABLE bench_types.t_phone_text (v text PRIMARY KEY);
CREATE TABLE bench_types.t_ip (v privacy.ip_address PRIMARY KEY);
CREATE TABLE bench_types.t_ip_text (v text PRIMARY KEY);
INSERT INTO bench_types.t_email SELECT email::privacy.email FROM bench_types.src;
INSERT INTO bench_types.t_email_text SELECT email FROM bench_types.src;
INSERT INTO bench_types.t_phone SELECT phone::privacy.phone FROM bench_types.src;
INSERT INTO bench_types.t_phone_text SELECT phone FROM bench_types.src;
INSERT INTO bench_types.t_ip SELECT ip::privacy.ip_address FROM bench_types.src;
INSERT INTO bench_types.t_ip_text SELECT ip FROM bench_types.src;

-- Every tenth value, in random order, to look up.
CREATE TABLE bench_types.probes AS
SELECT email, phone, ip FROM bench_types.src WHERE g % 10 = 0 ORDER BY random() LIMIT :probes;
CREATE TABLE bench_types.p_email AS SELECT email::privacy.email AS v FROM bench_types.probes;
CREATE TABLE bench_types.p_email_text AS SELECT email AS v FROM bench_types.probes;
CREATE TABLE bench_types.p_phone AS SELECT phone::privacy.phone AS v FROM bench_types.probes;
CREATE TABLE bench_types.p_phone_text AS SELECT phone AS v FROM bench_types.probes;
CREATE TABLE bench_types.p_ip AS SELECT ip::privacy.ip_address AS v FROM bench_types.probes;
CREATE TABLE bench_types.p_ip_text AS SELECT ip AS v FROM bench_types.probes;
VACUUM ANALYZE;
SQL

for t in email phone ip; do
	case $t in
	email) type=email ;;
	phone) type=phone ;;
	ip) type=ip_address ;;
	esac
	# Each value goes text -> cstring -> value -> cstring -> text, calling
	# the input and output functions directly, as the baselines do.
	roundtrip="SELECT count(*) FROM bench_types.src
		WHERE textin(privacy.${type}_out(privacy.${type}_in(textout($t)))) <> ''"

	bench_compare types "$t input+output" "$roundtrip" \
		"text" \
		"SELECT count(*) FROM bench_types.src WHERE textin(textout(textin(textout($t)))) <> ''"

	bench_compare types "$t input+output vs domain" "$roundtrip" \
		"text domain with regex CHECK" \
		"SELECT count(*) FROM bench_types.src WHERE textin(textout(textin(textout($t))::bench_types.${t}_domain)) <> ''"

	bench_compare types "$t lookup" \
		"SELECT count(*) FROM bench_types.p_$t p, LATERAL (SELECT 1 FROM bench_types.t_$t t WHERE t.v = p.v LIMIT 1) AS hit" \
		"text btree" \
		"SELECT count(*) FROM bench_types.p_${t}_text p, LATERAL (SELECT 1 FROM bench_types.t_${t}_text t WHERE t.v = p.v LIMIT 1) AS hit"
done
