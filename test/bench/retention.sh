#!/usr/bin/env bash
# Benchmarks of the retention job, privacy.enforce_retention(), each against
# a baseline measured in the same run (see lib.sh); prints one CSV row per
# case.
#
#   bash test/bench/retention.sh [SCALE]     1,000,000 x SCALE due rows
#
# The table is an invoice-like one: rows anchored in 2015 under a rule that
# deletes them after 5 years with a legal minimum of 5 years from the end of
# the financial year (so the C guard trigger checks every deleted row), a
# b-tree index on the anchor, and a tenth as many recent rows that are not
# due and that the OLTP load works on. Every measurement starts from freshly
# loaded and vacuumed data; autovacuum is off for the table, so that a
# vacuum of the rows one measurement deleted cannot start in the middle of
# the next one.
#
# Cases:
#   job vs plain DELETE   the job (batches of 5000, one transaction each)
#                         deleting every due row, against one plain DELETE of
#                         the same rows in one transaction; the ratio is job
#                         time / DELETE time, so throughput relative to the
#                         DELETE is 1 / ratio (target: at least 0.7, i.e. a
#                         ratio of at most 1.43);
#   OLTP p99 during job   the 99th percentile latency (counted from each
#                         transaction's scheduled start) of a rate-limited
#                         pgbench load (select and update of one recent row,
#                         insert of a new one) while the job runs, against
#                         the same load with no job; one percentile over the
#                         transactions of all runs on each side (min and max
#                         are the runs' own);
#   OLTP p99 during one plain DELETE   the same, while one plain DELETE of
#                         the due rows runs instead of the job: what the
#                         work itself costs the load;
#   OLTP p99 during job vs during one plain DELETE   the target: each run's
#                         p99 during the job against the same run's p99
#                         during the plain DELETE, medians over the runs
#                         (target: at most 1, the job weighs on the load no
#                         more than deleting the same rows at once).
# BENCH_RUNS (default 3 here) runs of each are made, alternating.
set -euo pipefail
cd "$(dirname "$0")/../.."
. test/bench/lib.sh

SCALE=${1:-${BENCH_SCALE:-1}}
N=$(awk -v s="$SCALE" 'BEGIN { n = int(1000000 * s); print (n > 0 ? n : 1) }')
RECENT=$((N / 10 > 100 ? N / 10 : 100))
RUNS=${BENCH_RUNS:-3}
BATCH=5000
CLIENTS=${BENCH_CLIENTS:-2}
RATE=${BENCH_RATE:-200}
WORK=$(mktemp -d)
SIZE=$(bench_size "$N" "due rows")

note() { printf '%s\n' "$*" >&2; }

cleanup() {
	bench_psql -c "DROP SCHEMA IF EXISTS bench_retention CASCADE" >/dev/null 2>&1 || true
	rm -rf "$WORK"
}
trap cleanup EXIT

# now_ms: wall-clock time in milliseconds.
now_ms() { date +%s%3N; }

bench_psql >/dev/null <<'SQL'
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS opendims_privacy CASCADE;
DROP SCHEMA IF EXISTS bench_retention CASCADE;
CREATE SCHEMA bench_retention;
CREATE TABLE bench_retention.invoices (
	id bigint PRIMARY KEY,
	issued_on date NOT NULL,
	customer_id integer NOT NULL,
	billing_name text NOT NULL,
	amount numeric(12, 2) NOT NULL
) WITH (autovacuum_enabled = false);
CREATE INDEX invoices_issued_on_idx ON bench_retention.invoices (issued_on);
SQL

# The policy: one rule on the benchmark table (it replaces the catalog's
# rules, so nothing else is processed by the job).
bench_psql -At >/dev/null <<SQL
SELECT privacy.apply_policy(jsonb_build_object(
	'format', 1, 'version', 'bench-retention-' || extract(epoch FROM now())::bigint,
	'effective_date', '2026-01-01',
	'controller', jsonb_build_object('name', 'Bench ApS', 'contact', 'bench@example.com'),
	'classifications', jsonb_build_array(jsonb_build_object(
		'table', 'bench_retention.invoices', 'column', 'billing_name', 'category', 'contact.name')),
	'retention_rules', jsonb_build_array(jsonb_build_object(
		'name', 'bench_invoices', 'table', 'bench_retention.invoices', 'anchor', 'issued_on',
		'period', '5 years', 'action', 'delete', 'legal_basis', 'legal_obligation',
		'minimum', '5 years', 'minimum_from', 'end_of_financial_year')))::text);
SELECT privacy.install_retention_triggers();
SQL

# load: N due rows (issued in 2015) and RECENT rows issued this year.
load() {
	bench_psql -v n="$N" -v recent="$RECENT" >/dev/null <<'SQL'
SET client_min_messages = warning;
-- Recent rows are under the legal minimum, so the guard trigger refuses
-- TRUNCATE; the benchmark's reload bypasses triggers as a superuser may.
SET session_replication_role = replica;
TRUNCATE bench_retention.invoices;
RESET session_replication_role;
INSERT INTO bench_retention.invoices
SELECT g, DATE '2015-01-01' + (g::bigint * 365 / :n)::integer, g % 50000, 'Customer ' || g % 50000, g % 1000
  FROM generate_series(1, :n) g;
INSERT INTO bench_retention.invoices
SELECT :n + g, current_date - (g % 30), g % 50000, 'Customer ' || g % 50000, g % 1000
  FROM generate_series(1, :recent) g;
VACUUM ANALYZE bench_retention.invoices;
CHECKPOINT;
SQL
}

# The job, and the plain DELETE of the same rows it is compared with.
JOB_SQL="CALL privacy.enforce_retention(batch_size => $BATCH, time_budget => '1 hour')"
DELETE_SQL="DELETE FROM bench_retention.invoices WHERE issued_on < DATE '2016-01-01'"

# run_ms SQL: runs SQL (without its notices) and prints its time in ms.
run_ms() {
	local t0 t1
	t0=$(now_ms)
	bench_psql -c "SET client_min_messages = warning" -c "$1" >/dev/null
	t1=$(now_ms)
	echo $((t1 - t0))
}

# left_due: due rows left (must be 0 after either).
left_due() {
	bench_psql -At -c "SELECT count(*) FROM bench_retention.invoices WHERE issued_on < DATE '2016-01-01'"
}

cat >"$WORK/oltp.sql" <<SQL
\\set id random($N + 1, $N + $RECENT)
BEGIN;
SELECT billing_name, amount FROM bench_retention.invoices WHERE id = :id;
UPDATE bench_retention.invoices SET amount = amount + 1 WHERE id = :id;
INSERT INTO bench_retention.invoices (id, issued_on, customer_id, billing_name, amount)
VALUES (nextval('bench_retention.oltp_ids'), current_date, :id % 50000, 'New customer', 1);
END;
SQL
bench_psql -c "CREATE SEQUENCE bench_retention.oltp_ids START $((N * 2 + RECENT * 2))" >/dev/null

# oltp SECONDS PREFIX: runs the pgbench load, logging every transaction.
oltp() {
	(cd "$WORK" && pgbench -n -c "$CLIENTS" -j 1 -R "$RATE" -T "$1" -l --log-prefix="$2" \
		-f oltp.sql "${PGDATABASE:-postgres}" >"$WORK/$2.out" 2>&1)
}

# latencies PREFIX [FROM_MS TO_MS]: the latency in ms of each logged
# transaction (that started within the window). Under --rate, pgbench counts
# a transaction's latency from its scheduled start, so it includes the time
# the transaction waited to start (schedule lag).
latencies() {
	cat "$WORK/$1".* | awk -v from="${2:-0}" -v to="${3:-0}" '
		{ start_ms = ($5 * 1000 + $6 / 1000) - $3 / 1000
		  if (to > 0 && (start_ms < from || start_ms > to)) next
		  print $3 / 1000 }'
}

jobs_t=()
dels_t=()
for i in $(seq "$RUNS"); do
	load
	jobs_t+=("$(run_ms "$JOB_SQL")")
	[ "$(left_due)" = 0 ] || { note "the job left due rows"; exit 1; }
	load
	dels_t+=("$(run_ms "$DELETE_SQL")")
	note "run $i: job ${jobs_t[-1]} ms, plain DELETE ${dels_t[-1]} ms"
done
read -r j_med j_min j_max <<<"$(bench_stats "${jobs_t[@]}")"
read -r d_med _ _ <<<"$(bench_stats "${dels_t[@]}")"
bench_row retention "job vs plain DELETE $SIZE" "$j_med" "$j_min" "$j_max" "plain DELETE" "$d_med"
note "job throughput relative to one plain DELETE: $(awk -v j="$j_med" -v d="$d_med" 'BEGIN { printf "%.2f", d / j }') (target >= 0.7)"

# The load runs a little longer than the job takes.
SECONDS_LOAD=$(awk -v j="$j_med" 'BEGIN { s = int(j / 1000 * 1.2) + 4; print (s < 8 ? 8 : s) }')
# oltp_during PREFIX SQL: runs the load, and 2 s into it SQL; writes the
# latencies of the transactions that started while SQL ran to
# PREFIX.latencies and prints how long SQL took (ms).
oltp_during() {
	local prefix=$1 load_pid t0 took
	oltp "$SECONDS_LOAD" "$prefix" &
	load_pid=$!
	sleep 2
	t0=$(now_ms)
	took=$(run_ms "$2")
	wait "$load_pid"
	latencies "$prefix" "$t0" "$((t0 + took))" >"$WORK/$prefix.latencies"
	echo "$took"
}

# p99_row CASE PREFIX BASELINE_PREFIX: the CSV row of one p99 over the
# transactions of all runs of PREFIX, against BASELINE_PREFIX's (a single
# run gives only a few hundred transactions); min and max are the runs' own.
p99_row() {
	local all base min max
	all=$(cat "$WORK/$2"*.latencies | bench_p99)
	base=$(cat "$WORK/$3"*.latencies | bench_p99)
	read -r _ min max <<<"$(bench_stats $(for f in "$WORK/$2"*.latencies; do bench_p99 <"$f"; done))"
	note "OLTP p99 over all runs: $base ms without the job ($(cat "$WORK/$3"*.latencies | wc -l) transactions), $all ms $1 ($(cat "$WORK/$2"*.latencies | wc -l) transactions)"
	bench_row retention "OLTP p99 latency $1 $SIZE" "$all" "$min" "$max" "same load without job" "$base"
}

rm -f "$WORK"/base* "$WORK"/during* "$WORK"/delete*
for i in $(seq "$RUNS"); do
	load
	oltp "$SECONDS_LOAD" "base$i"
	latencies "base$i" >"$WORK/base$i.latencies"
	job_took=$(oltp_during "during$i" "$JOB_SQL")
	load
	delete_took=$(oltp_during "delete$i" "$DELETE_SQL")
	note "run $i: OLTP p99 $(bench_p99 <"$WORK/base$i.latencies") ms without the job, $(bench_p99 <"$WORK/during$i.latencies") ms during the job ($(wc -l <"$WORK/during$i.latencies") transactions in $job_took ms), $(bench_p99 <"$WORK/delete$i.latencies") ms during one plain DELETE ($(wc -l <"$WORK/delete$i.latencies") transactions in $delete_took ms)"
done
p99_row "during job" during base
p99_row "during one plain DELETE" delete base
per_run_p99() { for f in "$WORK/$1"*.latencies; do bench_p99 <"$f"; done; }
read -r jp_med jp_min jp_max <<<"$(bench_stats $(per_run_p99 during))"
read -r dp_med _ _ <<<"$(bench_stats $(per_run_p99 delete))"
bench_row retention "OLTP p99 latency during job vs during one plain DELETE $SIZE" "$jp_med" "$jp_min" "$jp_max" \
	"same load during one plain DELETE" "$dp_med"
note "job's p99 effect against one plain DELETE's, median over runs: $jp_med ms against $dp_med ms (target: at most 1)"

# Leave no rule behind that names the table about to be dropped.
bench_psql -At >/dev/null <<'SQL'
SELECT privacy.apply_policy(jsonb_build_object(
	'format', 1, 'version', 'bench-retention-done-' || extract(epoch FROM now())::bigint,
	'effective_date', '2026-01-01',
	'controller', jsonb_build_object('name', 'Bench ApS', 'contact', 'bench@example.com'))::text);
SELECT privacy.install_retention_triggers();
SQL
