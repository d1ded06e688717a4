# Helpers for the benchmark scripts in test/bench/*.sh, which bench.sh runs
# against a running throw-away cluster (PGHOST, PGPORT, PGUSER and
# PGDATABASE are set). Source it; it defines functions only.
#
# A benchmark compares a measured statement with a baseline measured in the
# same run: both run alternately, several times, and the median, minimum and
# maximum of each are reported with the ratio of the medians as one CSV row
#   benchmark,case,median_ms,min_ms,max_ms,baseline,baseline_median_ms,ratio
# on stdout. bench.sh collects the rows into a table, a CSV file and a plot.

BENCH_RUNS=${BENCH_RUNS:-5}

# bench_psql ARGS...: psql without .psqlrc, stopping on the first error.
bench_psql() {
	psql -X -q -v ON_ERROR_STOP=1 "$@"
}

# bench_time_ms SQL: runs SQL once and prints its server-side time in ms
# (the statement runs inside a DO block, so its result is not shipped).
bench_time_ms() {
	bench_psql -At -c "DO \$bench\$
DECLARE t0 timestamptz := clock_timestamp();
BEGIN
	EXECUTE \$sql\$ $1 \$sql\$;
	RAISE NOTICE 'elapsed_ms=%', round(extract(epoch FROM clock_timestamp() - t0) * 1000, 3);
END \$bench\$" 2>&1 | sed -n 's/.*elapsed_ms=\([0-9.]*\).*/\1/p'
}

# stats MS...: prints "median min max" of its arguments.
bench_stats() {
	printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 }
		END { m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2;
			  printf "%.3f %.3f %.3f\n", m, v[1], v[NR] }'
}

# bench_compare BENCHMARK CASE MEASURED_SQL BASELINE_NAME BASELINE_SQL:
# runs both BENCH_RUNS times, alternating, and prints the CSV row.
bench_compare() {
	local benchmark=$1 case=$2 measured=$3 baseline_name=$4 baseline=$5
	local m=() b=() i ms bs
	bench_time_ms "$measured" >/dev/null
	bench_time_ms "$baseline" >/dev/null
	for i in $(seq "$BENCH_RUNS"); do
		m+=("$(bench_time_ms "$measured")")
		b+=("$(bench_time_ms "$baseline")")
	done
	read -r ms_med ms_min ms_max <<<"$(bench_stats "${m[@]}")"
	read -r bs_med bs_min bs_max <<<"$(bench_stats "${b[@]}")"
	awk -v n="$benchmark" -v c="$case" -v mm="$ms_med" -v mi="$ms_min" -v mx="$ms_max" \
		-v bn="$baseline_name" -v bm="$bs_med" \
		'BEGIN { printf "%s,%s,%.3f,%.3f,%.3f,%s,%.3f,%.3f\n", n, c, mm, mi, mx, bn, bm, (bm > 0 ? mm / bm : 0) }'
}
