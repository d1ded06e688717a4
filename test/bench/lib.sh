# Helpers for the benchmark scripts in test/bench/*.sh, which bench.sh runs
# against a running throw-away cluster (PGHOST, PGPORT, PGUSER and
# PGDATABASE are set). Source it; it defines functions only.
#
# A benchmark script is run as `bash test/bench/NAME.sh SCALE`: SCALE is a
# positive number (default 1, fractions allowed for quick runs) that
# multiplies the script's data sizes; BENCH_SCALE holds the same value.
# Scripts use their own schema and drop it when they finish.
#
# A benchmark compares a measured statement with a baseline measured in the
# same run: both run alternately, several times, and the median, minimum and
# maximum of each are reported with the ratio of the medians as one CSV row
#   benchmark,case,median_ms,min_ms,max_ms,baseline,baseline_median_ms,ratio
# on stdout. bench.sh collects the rows into a table, a CSV file and a plot.
# Only such rows go to stdout; progress and diagnostics go to stderr. Names
# hold no commas.
#
# Cases that vary the data size end their name with the size, written by
# bench_size: a number with the suffix k (thousand) or m (million), then a
# unit of one or more words, e.g. "export,100k subjects", "export,1m
# subjects", "protected scan,10m rows", "retention,job vs plain DELETE 1m
# due rows". bench.sh plots each benchmark that has such cases: cost (median
# ms, and the baseline's median ms) against the size, one line per benchmark
# and the words of the case before the size. A case such as "per-call
# growth at 10x data" that compares two sizes does not end in a size.
#
# Where one measured statement makes many calls (e.g. 200 erasures in one
# DO block), bench_compare_per_call (or bench_per_call after
# bench_compare_warm) divides the times by the number of calls, so that the
# row reports milliseconds per call.

BENCH_RUNS=${BENCH_RUNS:-5}

# bench_psql ARGS...: psql without .psqlrc, stopping on the first error.
bench_psql() {
	psql -X -q -v ON_ERROR_STOP=1 "$@"
}

# bench_timed_do SQL LABEL: a DO block that runs SQL and raises the notice
# LABEL=<elapsed ms>.
bench_timed_do() {
	printf 'DO $bench$ DECLARE t0 timestamptz := clock_timestamp(); BEGIN EXECUTE $sql$ %s $sql$; RAISE NOTICE '"'"'%s=%%'"'"', round(extract(epoch FROM clock_timestamp() - t0) * 1000, 3); END $bench$;\n' "$1" "$2"
}

# bench_time_ms SQL: runs SQL once and prints its server-side time in ms
# (the statement runs inside a DO block, so its result is not shipped); on
# an error it prints psql's message on stderr and nothing on stdout.
bench_time_ms() {
	local out
	if ! out=$(bench_psql -At -c "$(bench_timed_do "$1" elapsed_ms)" 2>&1); then
		printf '%s\n' "$out" >&2
		return 1
	fi
	printf '%s\n' "$out" | sed -n 's/.*elapsed_ms=\([0-9.]*\).*/\1/p'
}

# Decimals of the times bench_stats and bench_row print (6 suits times of
# a small fraction of a millisecond).
BENCH_DECIMALS=${BENCH_DECIMALS:-3}

# stats MS...: prints "median min max" of its arguments.
bench_stats() {
	printf '%s\n' "$@" | sort -g | awk -v d="$BENCH_DECIMALS" '{ v[NR] = $1 }
		END { m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; f = "%." d "f"
			  printf f " " f " " f "\n", m, v[1], v[NR] }'
}

# bench_time_as ROLE SQL: bench_time_ms, connected as ROLE (if not empty).
bench_time_as() {
	if [ -n "$1" ]; then
		PGUSER=$1 bench_time_ms "$2"
	else
		bench_time_ms "$2"
	fi
}

# bench_compare BENCHMARK CASE MEASURED_SQL BASELINE_NAME BASELINE_SQL:
# runs both BENCH_RUNS times, alternating, and prints the CSV row. With
# BENCH_MEASURED_ROLE or BENCH_BASELINE_ROLE set, that side connects as
# that role.
bench_compare() {
	local benchmark=$1 case=$2 measured=$3 baseline_name=$4 baseline=$5
	local mrole=${BENCH_MEASURED_ROLE:-} brole=${BENCH_BASELINE_ROLE:-}
	local m=() b=() i ms bs
	bench_time_as "$mrole" "$measured" >/dev/null
	bench_time_as "$brole" "$baseline" >/dev/null
	for i in $(seq "$BENCH_RUNS"); do
		m+=("$(bench_time_as "$mrole" "$measured")")
		b+=("$(bench_time_as "$brole" "$baseline")")
	done
	read -r ms_med ms_min ms_max <<<"$(bench_stats "${m[@]}")"
	read -r bs_med bs_min bs_max <<<"$(bench_stats "${b[@]}")"
	bench_row "$benchmark" "$case" "$ms_med" "$ms_min" "$ms_max" "$baseline_name" "$bs_med"
}

# bench_size N UNIT: the size token of a case name, e.g. "bench_size 100000
# subjects" prints "100k subjects" and "bench_size 2500000 rows" prints
# "2.5m rows".
bench_size() {
	awk -v n="$1" -v u="$2" 'BEGIN {
		if (n >= 1000000) { v = n / 1000000; s = "m" }
		else if (n >= 1000) { v = n / 1000; s = "k" }
		else { v = n; s = "" }
		t = sprintf("%.2f", v); sub(/0+$/, "", t); sub(/\.$/, "", t)
		printf "%s%s %s\n", t, s, u }'
}

# bench_compare_warm BENCHMARK CASE MEASURED_SQL BASELINE_NAME BASELINE_SQL:
# bench_compare in one session: each statement runs once to warm the
# session (its plans, caches and compiled functions), then BENCH_RUNS times,
# alternating. For statements whose cost per call in a long-lived session
# is the point (an application's pooled connection); bench_compare instead
# pays each session's start-up in every run.
bench_compare_warm() {
	local benchmark=$1 case=$2 measured=$3 baseline_name=$4 baseline=$5
	local script out i
	script=$(bench_timed_do "$measured" warm_measured; bench_timed_do "$baseline" warm_baseline
		for i in $(seq "$BENCH_RUNS"); do bench_timed_do "$measured" measured_ms; bench_timed_do "$baseline" baseline_ms; done)
	if ! out=$(printf '%s\n' "$script" | bench_psql 2>&1); then
		printf '%s\n' "$out" >&2
		return 1
	fi
	bench_row_of "$out" "$benchmark" "$case" measured_ms "$baseline_name" baseline_ms
}

# bench_row_of OUTPUT BENCHMARK CASE MEASURED_LABEL BASELINE_NAME
# BASELINE_LABEL: the row of the times OUTPUT holds as LABEL=<ms>, one a
# line (a notice or a query result).
bench_row_of() {
	local out=$1 benchmark=$2 case=$3 measured=$4 baseline_name=$5 baseline=$6 m=() b=()
	mapfile -t m < <(printf '%s\n' "$out" | sed -n "s/.*$measured=\\([0-9.]*\\).*/\\1/p")
	mapfile -t b < <(printf '%s\n' "$out" | sed -n "s/.*$baseline=\\([0-9.]*\\).*/\\1/p")
	read -r ms_med ms_min ms_max <<<"$(bench_stats "${m[@]}")"
	read -r bs_med _ _ <<<"$(bench_stats "${b[@]}")"
	bench_row "$benchmark" "$case" "$ms_med" "$ms_min" "$ms_max" "$baseline_name" "$bs_med"
}

# bench_per_call CALLS: filters bench_compare rows of statements that each
# make CALLS calls: the times become per call (the ratio is unchanged), with
# six decimals below 0.1 ms.
bench_per_call() {
	awk -F, -v OFS=, -v n="$1" '
		function ms(v) { v /= n; return sprintf(v >= 0.1 ? "%.3f" : "%.6f", v) }
		{ $3 = ms($3); $4 = ms($4); $5 = ms($5); $7 = ms($7); print }'
}

# bench_compare_per_call CALLS BENCHMARK CASE MEASURED_SQL BASELINE_NAME
# BASELINE_SQL: bench_compare for statements that each make CALLS calls,
# reported per call.
bench_compare_per_call() {
	local calls=$1
	shift
	bench_compare "$@" | bench_per_call "$calls"
}

# bench_row BENCHMARK CASE MEDIAN MIN MAX BASELINE_NAME BASELINE_MEDIAN:
# prints a row computed from earlier measurements (e.g. the growth of a
# per-call time between two data sizes), in bench_compare's format.
bench_row() {
	awk -v n="$1" -v c="$2" -v mm="$3" -v mi="$4" -v mx="$5" -v bn="$6" -v bm="$7" -v d="$BENCH_DECIMALS" \
		'BEGIN { f = "%." d "f"; printf "%s,%s," f "," f "," f ",%s," f ",%.3f\n", n, c, mm, mi, mx, bn, bm, (bm > 0 ? mm / bm : 0) }'
}

# bench_row_na BENCHMARK CASE BASELINE_NAME: the row of a case that could
# not be measured, N/A in place of every figure (never a made-up one).
bench_row_na() {
	printf '%s,%s,N/A,N/A,N/A,%s,N/A,N/A\n' "$1" "$2" "$3"
}

# bench_p99: the 99th percentile of the numbers on stdin (0 if none).
bench_p99() {
	sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) { print 0; exit } i = int(NR * 0.99); if (i < 1) i = 1; printf "%.3f\n", v[i] }'
}

# bench_commit_durably: turns fsync and synchronous_commit on (ALTER
# SYSTEM and a reload; the cluster runs with both off) and waits until a
# new session has them, so that every commit waits for its WAL to reach the
# disk; bench_commit_fast returns them to the cluster's settings. A script
# that calls the first calls the second from its EXIT trap, and bench.sh
# resets every ALTER SYSTEM setting after each script whatever happened.
bench_commit_durably() {
	BENCH_COMMIT_BEFORE=$(bench_commit_now) &&
		bench_commit_settings "ALTER SYSTEM SET fsync = on" "ALTER SYSTEM SET synchronous_commit = on" on/on
}

bench_commit_fast() {
	bench_commit_settings "ALTER SYSTEM RESET fsync" "ALTER SYSTEM RESET synchronous_commit" \
		"${BENCH_COMMIT_BEFORE:-off/off}"
}

# bench_commit_now: fsync and synchronous_commit as a new session has them
# ("off/off"). These functions connect as the cluster's superuser, whatever
# role PGOPTIONS may set.
bench_commit_now() {
	PGOPTIONS= bench_psql -At -c "SELECT current_setting('fsync') || '/' || current_setting('synchronous_commit')"
}

# bench_commit_settings FSYNC_SQL SYNCHRONOUS_COMMIT_SQL EXPECTED: runs
# both, reloads, and waits up to 5 s for a new session to show
# bench_commit_now as EXPECTED.
bench_commit_settings() {
	local i now
	PGOPTIONS= bench_psql -c "$1" -c "$2" -c "SELECT pg_reload_conf()" >/dev/null || return 1
	for i in $(seq 50); do
		now=$(bench_commit_now)
		[ "$now" = "$3" ] && return 0
		sleep 0.1
	done
	echo "fsync/synchronous_commit are $now, not $3" >&2
	return 1
}

# bench_pgbench_ms CLIENTS SECONDS SCRIPT: runs the pgbench script SCRIPT
# (-n, -j 2) from CLIENTS clients for SECONDS seconds and prints the mean
# time per transaction seen by a client, 1000 x CLIENTS / tps, in ms;
# fails, showing pgbench's output, if a transaction failed.
bench_pgbench_ms() {
	local out ms
	if out=$(pgbench -n -c "$1" -j 2 -T "$2" -f "$3" 2>&1) &&
		ms=$(awk -v c="$1" '/^number of failed transactions: [1-9]/ { bad = 1 } /^tps = / { tps = $3 }
			END { if (bad || tps <= 0) exit 1; printf "%.3f\n", 1000 * c / tps }' <<<"$out"); then
		echo "$ms"
		return 0
	fi
	printf '%s\n' "$out" >&2
	return 1
}

# bench_compare_pgbench BENCHMARK CASE CLIENTS SECONDS ROUNDS
# MEASURED_SCRIPT BASELINE_NAME BASELINE_SCRIPT: a warm-up of each pgbench
# script (2 s), then ROUNDS rounds of SECONDS seconds of each, alternating;
# prints the row of the times per transaction (bench_pgbench_ms), whose
# ratio is the inverse of the throughputs' ratio.
bench_compare_pgbench() {
	local benchmark=$1 case=$2 clients=$3 seconds=$4 rounds=$5 measured=$6 baseline_name=$7 baseline=$8
	local m=() b=() i
	bench_pgbench_ms "$clients" 2 "$measured" >/dev/null || return 1
	bench_pgbench_ms "$clients" 2 "$baseline" >/dev/null || return 1
	for i in $(seq "$rounds"); do
		m+=("$(bench_pgbench_ms "$clients" "$seconds" "$measured")") || return 1
		b+=("$(bench_pgbench_ms "$clients" "$seconds" "$baseline")") || return 1
	done
	read -r ms_med ms_min ms_max <<<"$(bench_stats "${m[@]}")"
	read -r bs_med _ _ <<<"$(bench_stats "${b[@]}")"
	printf '%s: throughput %.2f times the baseline (%s rounds of %s s, %s clients)\n' "$benchmark, $case" \
		"$(awk -v m="$ms_med" -v b="$bs_med" 'BEGIN { print b / m }')" "$rounds" "$seconds" "$clients" >&2
	bench_row "$benchmark" "$case" "$ms_med" "$ms_min" "$ms_max" "$baseline_name" "$bs_med"
}

# bench_compare_pgbench_mixed BENCHMARK CASE SECONDS ROUNDS MEASURED_SCRIPT
# BASELINE_NAME BASELINE_SCRIPT: one client runs both pgbench scripts mixed
# (each transaction picks one at random, half and half), so that both see
# the same machine at the same moments; a warm-up of 2 s, then ROUNDS runs
# of SECONDS seconds; prints the row of the two scripts' mean latencies in
# ms, as pgbench reports them per script (-n, the query protocol
# BENCH_PGBENCH_PROTOCOL, default simple). For statements of a fraction of
# a millisecond, where the machine's speed drifts more between runs than
# the difference measured.
bench_compare_pgbench_mixed() {
	local benchmark=$1 case=$2 seconds=$3 rounds=$4 measured=$5 baseline_name=$6 baseline=$7
	local m=() b=() i out pair
	for i in $(seq 0 "$rounds"); do
		if ! out=$(pgbench -n -M "${BENCH_PGBENCH_PROTOCOL:-simple}" -c 1 -T "$([ "$i" -eq 0 ] && echo 2 || echo "$seconds")" \
			-f "$measured" -f "$baseline" 2>&1) ||
			! pair=$(awk '/number of failed transactions: [1-9]/ { bad = 1 }
				/^SQL script [12]:/ { s = $3 + 0 } /^ - latency average = / { l[s] = $5 }
				END { if (bad || !(1 in l) || !(2 in l)) exit 1; print l[1], l[2] }' <<<"$out"); then
			printf '%s\n' "$out" >&2
			return 1
		fi
		if [ "$i" -gt 0 ]; then
			m+=("${pair% *}")
			b+=("${pair#* }")
			printf '%s, %s: run %d: %s ms, %s %s ms\n' "$benchmark" "$case" "$i" "${pair% *}" "$baseline_name" "${pair#* }" >&2
		fi
	done
	read -r ms_med ms_min ms_max <<<"$(bench_stats "${m[@]}")"
	read -r bs_med _ _ <<<"$(bench_stats "${b[@]}")"
	bench_row "$benchmark" "$case" "$ms_med" "$ms_min" "$ms_max" "$baseline_name" "$bs_med"
}

