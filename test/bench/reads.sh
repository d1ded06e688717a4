#!/usr/bin/env bash
# Benchmarks of protected reads on a schema shaped like an application's
# customer table rather than the consent benchmark's event log: wide text
# rows, the subject kind anchored on the table itself (an integer key), and
# throughput measured the way a client sees it, with pgbench and prepared
# statements, one client. Each case runs against an unprotected copy of
# the same rows, alternately (see lib.sh); prints one CSV row per case.
#
#   bash test/bench/reads.sh [SCALE]    50,000 and 1,000,000 x SCALE customers
#
# Each table holds customers whose rows carry about 450 bytes of text; 90 %
# consented to "marketing", the others never did. Statements run as an
# ordinary role allowed "marketing" with privacy.purpose = 'marketing',
# each pgbench run in a new connection. Times are milliseconds per
# statement (1000 / the run's statements per second).
#
# Benchmarks (each with the data size as its case, e.g. "50k rows"):
#   read scan serial    SELECT count(*) over the table, no parallel workers
#                       (target: at most 1.15 times the unprotected table);
#   read scan parallel  the same with parallel workers allowed (same target);
#   read pk lookup      SELECT * ... WHERE id = random id, one statement each
#                       (target: at most 1.05 times as long);
#   read scan serial / parallel / pk lookup while consent changes
#                       the same while another connection withdraws and
#                       gives again the consent of random customers,
#                       CHURN_RATE changes a second (each committed on its
#                       own), on both sides: what a busy application's
#                       stream of consent changes costs its readers.
set -euo pipefail
cd "$(dirname "$0")/../.."
. test/bench/lib.sh

SCALE=${1:-${BENCH_SCALE:-1}}
SIZES=$(awk -v s="$SCALE" 'BEGIN { for (i = 1; i <= 2; i++) { n = int((i == 1 ? 50000 : 1000000) * s); printf "%d ", (n > 0 ? n : 10) } }')
# Seconds per pgbench run.
SECONDS_PER_RUN=${BENCH_READS_SECONDS:-3}
# Consent changes a second in the "consent changing" rows.
CHURN_RATE=${BENCH_READS_CHURN_RATE:-50}
# A lookup takes a small fraction of a millisecond.
BENCH_DECIMALS=6

cleanup() {
	PGOPTIONS= bench_psql -c "DROP SCHEMA IF EXISTS bench_reads CASCADE" >/dev/null 2>&1 || true
	PGOPTIONS= bench_psql -c "DROP OWNED BY bench_reads_reader" >/dev/null 2>&1 || true
	PGOPTIONS= bench_psql -c "DROP ROLE IF EXISTS bench_reads_reader" >/dev/null 2>&1 || true
}
WORK=$(mktemp -d)
trap 'cleanup; rm -rf "$WORK"' EXIT
cleanup

# One subject kind per size, anchored on its table.
kinds=
classes=
for n in $SIZES; do
	kinds="$kinds${kinds:+, }jsonb_build_object('name', 'customer_$n', 'table', 'bench_reads.customers_$n', 'key', 'id')"
	for c in name email address notes; do
		classes="$classes${classes:+, }jsonb_build_object('table', 'bench_reads.customers_$n', 'column', '$c', 'category', 'contact')"
	done
done

{
	cat <<'SQL'
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS opendims_privacy CASCADE;
CREATE SCHEMA bench_reads;
CREATE ROLE bench_reads_reader;
GRANT USAGE ON SCHEMA bench_reads TO bench_reads_reader;
SQL
	for n in $SIZES; do
		cat <<SQL
CREATE TABLE bench_reads.customers_$n (
	id integer PRIMARY KEY,
	name text NOT NULL,
	email text NOT NULL,
	address text NOT NULL,
	notes text NOT NULL
);
INSERT INTO bench_reads.customers_$n
SELECT g, 'Customer ' || g, 'customer' || g || '@example.com',
	   g || ' Long Street, ' || (g % 9000 + 1000) || ' Some Town, Denmark',
	   repeat(md5(g::text), 11)
  FROM generate_series(1, $n) g;
CREATE TABLE bench_reads.customers_${n}_plain (LIKE bench_reads.customers_$n INCLUDING ALL);
INSERT INTO bench_reads.customers_${n}_plain SELECT * FROM bench_reads.customers_$n;
GRANT SELECT ON bench_reads.customers_$n, bench_reads.customers_${n}_plain TO bench_reads_reader;
SQL
	done
	cat <<SQL
SELECT privacy.apply_policy(jsonb_build_object(
	'format', 1, 'version', 'bench-reads-1', 'effective_date', '2026-06-24',
	'controller', jsonb_build_object('name', 'Bench ApS', 'contact', 'bench@example.com'),
	'purposes', jsonb_build_array(jsonb_build_object('name', 'marketing', 'legal_basis', 'consent')),
	'subject_kinds', jsonb_build_array($kinds),
	'classifications', jsonb_build_array($classes))::text);
SELECT privacy.allow_purpose('marketing', 'bench_reads_reader');
SQL
	for n in $SIZES; do
		cat <<SQL
SELECT privacy.protect('bench_reads.customers_$n');
-- Nine in ten customers consent, loaded as a restore would.
INSERT INTO privacy.consent_ledger (actor, kind, subject, action, purpose, source, policy_version)
SELECT current_user, 'customer_$n', g::text, 'consent.grant', 'marketing', 'direct', 'bench-reads-1'
  FROM generate_series(1, $n) g WHERE g % 10 <> 0;
SQL
	done
	echo "VACUUM ANALYZE;"
} | bench_psql >/dev/null

# Every measured connection: the ordinary role, declaring "marketing".
export PGOPTIONS="${PGOPTIONS:-} -c role=bench_reads_reader -c privacy.purpose=marketing"

for n in $SIZES; do
	visible=$(bench_psql -At -c "SELECT (SELECT count(*) FROM bench_reads.customers_$n) || ' ' ||
		(SELECT count(*) FROM bench_reads.customers_${n}_plain)")
	read -r protected plain <<<"$visible"
	if [ "$protected" -ne $((n - n / 10)) ] || [ "$plain" -ne "$n" ]; then
		echo "customers_$n: $protected rows visible under protection and $plain without, expected $((n - n / 10)) and $n" >&2
		exit 1
	fi
done

# pgbench_ms SCRIPT [OPTION...]: one pgbench run of SCRIPT (one client,
# prepared statements, a new connection) for SECONDS_PER_RUN seconds (the
# first option may be -T to change that); prints milliseconds per statement.
pgbench_ms() {
	local script=$1 out
	shift
	if ! out=$(pgbench -n -M prepared -c 1 -j 1 -T "$SECONDS_PER_RUN" "$@" -f "$script" 2>&1); then
		printf '%s\n' "$out" >&2
		return 1
	fi
	printf '%s\n' "$out" | awk '/^tps = / { printf "%.6f\n", 1000 / $3 }'
}

# compare BENCHMARK CASE MEASURED_SCRIPT BASELINE_SCRIPT [OPTION...]: both
# scripts alternately, a short warm-up each and BENCH_RUNS timed runs each.
compare() {
	local benchmark=$1 case=$2 measured=$3 baseline=$4 m=() b=() i
	shift 4
	pgbench_ms "$measured" -T 1 "$@" >/dev/null
	pgbench_ms "$baseline" -T 1 "$@" >/dev/null
	for i in $(seq "$BENCH_RUNS"); do
		m+=("$(pgbench_ms "$measured" "$@")")
		b+=("$(pgbench_ms "$baseline" "$@")")
	done
	read -r ms_med ms_min ms_max <<<"$(bench_stats "${m[@]}")"
	read -r bs_med _ _ <<<"$(bench_stats "${b[@]}")"
	bench_row "$benchmark" "$case" "$ms_med" "$ms_min" "$ms_max" "unprotected" "$bs_med"
}

# with_churn N COMMAND...: runs COMMAND while another connection, as the
# extension's owner, withdraws and gives again the marketing consent of
# random consenting customers of customers_N, CHURN_RATE changes a second.
with_churn() {
	local n=$1 churn_pid status=0
	shift
	# Customers whose key is not a multiple of ten consented.
	printf '%s\n' "\\set tens random(0, $((n / 10 - 1)))" '\set one random(1, 9)' \
		"SELECT privacy.withdraw_consent('customer_$n', (:tens * 10 + :one)::text, 'marketing');" \
		"SELECT privacy.grant_consent('customer_$n', (:tens * 10 + :one)::text, 'marketing');" \
		>"$WORK/churn_$n.sql"
	PGOPTIONS= pgbench -n -c 1 -j 1 -R "$(awk -v r="$CHURN_RATE" 'BEGIN { print r / 2 }')" -T 3600 \
		-f "$WORK/churn_$n.sql" >"$WORK/churn.log" 2>&1 &
	churn_pid=$!
	sleep 1
	"$@" || status=$?
	kill "$churn_pid" 2>/dev/null || true
	wait "$churn_pid" 2>/dev/null || true
	if grep -q 'error' "$WORK/churn.log"; then
		cat "$WORK/churn.log" >&2
		return 1
	fi
	return "$status"
}

for n in $SIZES; do
	ROWS=$(bench_size "$n" rows)
	for t in "customers_$n" "customers_${n}_plain"; do
		echo "SELECT count(*) FROM bench_reads.$t;" >"$WORK/scan_$t.sql"
		printf '\\set id random(1, %d)\nSELECT * FROM bench_reads.%s WHERE id = :id;\n' "$n" "$t" >"$WORK/pk_$t.sql"
	done
	echo "reads: $ROWS" >&2
	PGOPTIONS="$PGOPTIONS -c max_parallel_workers_per_gather=0" \
		compare "read scan serial" "$ROWS" "$WORK/scan_customers_$n.sql" "$WORK/scan_customers_${n}_plain.sql"
	compare "read scan parallel" "$ROWS" "$WORK/scan_customers_$n.sql" "$WORK/scan_customers_${n}_plain.sql"
	compare "read pk lookup" "$ROWS" "$WORK/pk_customers_$n.sql" "$WORK/pk_customers_${n}_plain.sql"
	PGOPTIONS="$PGOPTIONS -c max_parallel_workers_per_gather=0" \
		with_churn "$n" compare "read scan serial while consent changes" "$ROWS" \
		"$WORK/scan_customers_$n.sql" "$WORK/scan_customers_${n}_plain.sql"
	with_churn "$n" compare "read scan parallel while consent changes" "$ROWS" \
		"$WORK/scan_customers_$n.sql" "$WORK/scan_customers_${n}_plain.sql"
	with_churn "$n" compare "read pk lookup while consent changes" "$ROWS" \
		"$WORK/pk_customers_$n.sql" "$WORK/pk_customers_${n}_plain.sql"
done
