#!/usr/bin/env bash
# Benchmarks of the sensitive-data guard and of discovery, run by bench.sh
# against a running throw-away cluster (see lib.sh for the CSV rows printed).
#
#   guard, reject: inserting support messages of about 200 characters
#     (200k at scale 1) into a table guarded in reject mode, against the same
#     insert into an unguarded table;
#   guard, redact: the same in redact mode, where 1% of the messages hold a
#     CPR number (replaced, and each replacement audited);
#   discover: privacy.discover(sample) on a database whose one unclassified
#     text column is in a table of 1m rows at scale 1, against counting the
#     rows matching an e-mail regular expression in the same sample, for
#     samples of 1000 and 100000 rows: the small sample shows the fixed cost
#     of a call (listing the columns, a new session's caches), the large one
#     the cost per value.
#
# Usage: test/bench/guard.sh [SCALE]   (SCALE multiplies the data sizes)
set -euo pipefail
cd "$(dirname "$0")/../.."
. test/bench/lib.sh

SCALE=${1:-${BENCH_SCALE:-1}}
ROWS=$(awk -v s="$SCALE" 'BEGIN { printf "%d", 200000 * s + 0.5 }')
DISCOVER_ROWS=$(awk -v s="$SCALE" 'BEGIN { printf "%d", 1000000 * s + 0.5 }')
SAMPLES="1000 100000"

bench_psql -v rows="$ROWS" -v discover_rows="$DISCOVER_ROWS" >/dev/null <<'SQL'
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS opendims_privacy CASCADE;
DROP SCHEMA IF EXISTS bench_guard CASCADE;
CREATE SCHEMA bench_guard;

-- Support messages of about 200 characters: a telephone number and an
-- e-mail address each (which the guard lets pass); 1% hold a CPR number.
CREATE TABLE bench_guard.source AS
SELECT i AS id,
	   pg_catalog.format('Hej support, ordre %s er stadig ikke leveret. Ring venligst paa 22 34 %s eller skriv til kunde%s@example.dk; jeg har ventet siden tirsdag kl. 10.30, sag nr. %s.%s',
						 i, pg_catalog.lpad((i % 10000)::text, 4, '0'), i, i * 7,
						 CASE WHEN i % 100 = 0 THEN ' CPR 010190-1234.' ELSE ' Mvh. Kunde' END) AS body
  FROM pg_catalog.generate_series(1, :rows) AS i;
CREATE TABLE bench_guard.clean AS
SELECT id, pg_catalog.replace(body, ' CPR 010190-1234.', ' Mvh. Kunde') AS body FROM bench_guard.source;
CREATE TABLE bench_guard.plain (id bigint, body text);
CREATE TABLE bench_guard.rejecting (id bigint, body text);
CREATE TABLE bench_guard.redacting (id bigint, body text);
SELECT privacy.guard('bench_guard.rejecting', ARRAY['body'], 'reject');
SELECT privacy.guard('bench_guard.redacting', ARRAY['body'], 'redact');

-- One unclassified text column, in a table of discover_rows rows; every
-- other text column is classified, so discover() scans only that one.
CREATE TABLE bench_guard.comments AS
SELECT i AS id,
	   CASE WHEN i % 10 = 0 THEN pg_catalog.format('kontakt mig paa bruger%s@example.org', i)
			ELSE pg_catalog.format('kommentar %s til vare %s, alt i orden', i, i % 977) END AS note
  FROM pg_catalog.generate_series(1, :discover_rows) AS i;
ANALYZE bench_guard.comments;
SECURITY LABEL FOR privacy ON COLUMN bench_guard.source.body IS 'support';
SECURITY LABEL FOR privacy ON COLUMN bench_guard.clean.body IS 'support';
SECURITY LABEL FOR privacy ON COLUMN bench_guard.plain.body IS 'support';
SECURITY LABEL FOR privacy ON COLUMN bench_guard.rejecting.body IS 'support';
SECURITY LABEL FOR privacy ON COLUMN bench_guard.redacting.body IS 'support';
SQL

bench_compare guard "reject $(bench_size "$ROWS" rows)" \
	"INSERT INTO bench_guard.rejecting SELECT * FROM bench_guard.clean" \
	"unguarded insert" \
	"INSERT INTO bench_guard.plain SELECT * FROM bench_guard.clean"
bench_compare guard "redact 1pct CPR $(bench_size "$ROWS" rows)" \
	"INSERT INTO bench_guard.redacting SELECT * FROM bench_guard.source" \
	"unguarded insert" \
	"INSERT INTO bench_guard.plain SELECT * FROM bench_guard.source"

# The baseline reads the same sample as discover(): TABLESAMPLE SYSTEM at
# the share discover.c computes for this table, and LIMIT.
for sample in $SAMPLES; do
	percent=$(bench_psql -At -c "SELECT LEAST(100, 100 * GREATEST(2.0 * $sample / reltuples, 32.0 / relpages))
		FROM pg_catalog.pg_class WHERE oid = 'bench_guard.comments'::pg_catalog.regclass")
	bench_compare discover "sample $sample of $(bench_size "$DISCOVER_ROWS" rows)" \
		"SELECT pg_catalog.count(*) FROM privacy.discover($sample)" \
		"regex count over the sample" \
		"SELECT pg_catalog.count(*) FROM (SELECT note FROM bench_guard.comments TABLESAMPLE SYSTEM ($percent) LIMIT $sample) s WHERE note ~ '[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\\.[A-Za-z]{2,}'"
done

bench_psql -c "SET client_min_messages = warning" -c "DROP SCHEMA bench_guard CASCADE" >/dev/null
