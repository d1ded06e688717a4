#!/usr/bin/env bash
# make bench [SCALE=n]: installs missing packages, builds and installs the
# extension, starts one throw-away cluster tuned for benchmarking, runs
# every benchmark script test/bench/*.sh (except lib.sh) against database
# "bench", and collects their CSV rows (see test/bench/lib.sh) into
#   - an aligned table on stdout,
#   - test/bench/out/results.csv,
#   - test/bench/out/scaling.png: cost against data size of every benchmark
#     with cases at two data sizes or more (export, erasure),
#   - test/bench/out/ratios.png: every case's ratio to its baseline.
# A script that fails is reported and the others still run; the closing
# line says how many scripts ran and how many failed, and the exit status
# is non-zero if any failed.
#
# SCALE (default 1, a positive number; fractions make quick runs) is passed
# to every script as $1 and in BENCH_SCALE; BENCH_RUNS (default 5) is the
# number of timed runs per statement; BENCH_TIMEOUT (default 3600) is the
# seconds a script may take before it is stopped and counted as failed;
# BENCH_ONLY (e.g. "consent rights") runs only the benchmarks named.
#
# The cluster's settings are the same for every case: fsync off (from
# start_cluster) and synchronous_commit off, because the cluster is thrown
# away and commits should cost CPU, not disk flushes; shared_buffers large
# enough to keep the data sets in memory; JIT off, so that no case pays
# for compiling its plans; checkpoints far apart, so that none lands in the
# middle of a timed run by chance. The exception is writes.sh, whose rows
# measure how writes commit: it turns fsync and synchronous_commit on with
# ALTER SYSTEM for its duration. Every ALTER SYSTEM setting is reset after
# each script, however it ended, so that the next starts from the same
# settings.
set -uo pipefail
cd "$(dirname "$0")/../.."
. test/scripts/common.sh

SCALE=${1:-1}
if ! awk -v s="$SCALE" 'BEGIN { exit !(s ~ /^[0-9]*\.?[0-9]+$/ && s > 0) }'; then
	echo "SCALE must be a positive number, not \"$SCALE\"" >&2
	exit 2
fi
export BENCH_SCALE=$SCALE
export BENCH_RUNS=${BENCH_RUNS:-5}
BENCH_TIMEOUT=${BENCH_TIMEOUT:-3600}
OUT=test/bench/out
started=$(date +%s)

ensure_packages $BASE_PACKAGES gnuplot-nox
export PATH="$PG_BINDIR:$PATH"

log "building and installing"
build_and_install || { echo "0 benchmarks ran, build failed"; exit 1; }

# On exit, also on interruption: stop the running script, then the cluster.
pid=
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null
	stop_cluster
}
trap cleanup EXIT
log "starting the benchmark cluster"
CRON_DATABASE=bench start_cluster \
	"shared_preload_libraries = 'pg_cron,opendims_privacy'" \
	"shared_buffers = '4GB'" \
	"work_mem = '64MB'" \
	"maintenance_work_mem = '1GB'" \
	"max_wal_size = '16GB'" \
	"checkpoint_timeout = '30min'" \
	"synchronous_commit = off" \
	"jit = off" ||
	{ echo "0 benchmarks ran, the cluster did not start"; exit 1; }
export PGDATABASE=bench
if ! psql -X -q -v ON_ERROR_STOP=1 -c "SET client_min_messages = warning" \
	-c "CREATE EXTENSION opendims_privacy CASCADE" >/dev/null; then
	echo "0 benchmarks ran, CREATE EXTENSION failed"
	exit 1
fi
psql -X -At -c "SELECT 'PostgreSQL ' || current_setting('server_version') || ', shared_buffers ' ||
	current_setting('shared_buffers') || ', work_mem ' || current_setting('work_mem')"

rm -rf "$OUT"
mkdir -p "$OUT"
rows="$OUT/rows.csv"
: >"$rows"
ran=0
failed=0
failures=()

# new_database NAME: a new database with the extension. Each benchmark runs
# in one of its own, so that what one leaves behind (ledger events, audit
# entries, erasure records, dead rows) cannot change another's figures.
new_database() {
	dropdb --if-exists "$1" &&
		createdb "$1" &&
		psql -X -q -v ON_ERROR_STOP=1 -d "$1" -c "SET client_min_messages = warning" \
			-c "CREATE EXTENSION opendims_privacy CASCADE" >/dev/null
}

# A row is "benchmark,case,median,min,max,baseline,baseline median,ratio";
# a case that could not be measured has N/A for every figure.
fig='([0-9.]+|N/A)'
row_re="^[^,]+,[^,]+,$fig,$fig,$fig,[^,]+,$fig,$fig\$"

# reset_settings: undoes whatever ALTER SYSTEM a script made.
reset_settings() {
	psql -X -q -c "ALTER SYSTEM RESET ALL" -c "SELECT pg_reload_conf()" >/dev/null
}

for script in test/bench/*.sh; do
	name=$(basename "$script" .sh)
	[ "$name" = lib ] && continue
	# BENCH_ONLY="consent rights" runs only the benchmarks named.
	if [ -n "${BENCH_ONLY:-}" ] && [[ " $BENCH_ONLY " != *" $name "* ]]; then
		continue
	fi
	ran=$((ran + 1))
	log "$name (scale $SCALE)"
	t0=$(date +%s)
	if ! new_database "bench_$name"; then
		failed=$((failed + 1))
		failures+=("$name (its database could not be created)")
		continue
	fi
	PGDATABASE="bench_$name" timeout "$BENCH_TIMEOUT" bash "$script" "$SCALE" </dev/null >"$OUT/$name.out" 2>"$OUT/$name.log" &
	pid=$!
	# Show the script's progress while it runs, and its rows when it ends.
	tail -n +1 -f --pid=$pid "$OUT/$name.log" 2>/dev/null &
	tailer=$!
	wait $pid
	rc=$?
	pid=
	wait $tailer 2>/dev/null
	reset_settings
	dropdb --if-exists "bench_$name"
	cat "$OUT/$name.out"
	good=$(grep -cE "$row_re" "$OUT/$name.out")
	bad=$(grep -vcE "$row_re|^$" "$OUT/$name.out")
	grep -E "$row_re" "$OUT/$name.out" >>"$rows"
	if [ $rc -ne 0 ] || [ "$good" -eq 0 ] || [ "$bad" -gt 0 ]; then
		failed=$((failed + 1))
		why="exit $rc"
		[ $rc -eq 124 ] && why="stopped after ${BENCH_TIMEOUT}s"
		[ "$bad" -gt 0 ] && why="$why, $bad malformed lines"
		[ "$good" -eq 0 ] && why="$why, no rows"
		failures+=("$name ($why)")
		echo "$name FAILED ($why) after $(($(date +%s) - t0))s; its log is $OUT/$name.log"
	else
		echo "$name: $good rows in $(($(date +%s) - t0))s"
	fi
done

# The results: CSV with a header, and the same as an aligned table.
{
	echo "benchmark,case,median_ms,min_ms,max_ms,baseline,baseline_median_ms,ratio"
	cat "$rows"
} >"$OUT/results.csv"
log "results (ms; $(nproc) CPUs, $(free -g | awk '/^Mem:/ { print $2 }') GB memory, scale $SCALE, $BENCH_RUNS runs per statement)"
awk -F, '
	NR == 1 { split("benchmark,case,median ms,min,max,baseline,baseline median,ratio", h, ",") }
	{ n = NR; for (i = 1; i <= 8; i++) { c[n, i] = (NR == 1 ? h[i] : $i); if (length(c[n, i]) > w[i]) w[i] = length(c[n, i]) } }
	END {
		for (r = 1; r <= n; r++) {
			line = ""
			for (i = 1; i <= 8; i++) {
				f = (i <= 2 || i == 6) ? "%-" w[i] "s" : "%" w[i] "s"
				line = line (i > 1 ? "  " : "") sprintf(f, c[r, i])
			}
			sub(/ +$/, "", line)
			print line
		}
	}' "$OUT/results.csv" | tee "$OUT/results.txt"

# Two plots. scaling.png: every row whose case ends in a size ("100k
# subjects", "job vs plain DELETE 1m due rows") is a point of the line of its
# benchmark and the rest of its case name, with the baseline's median as a
# dashed line; only lines with two sizes or more are drawn; one panel per
# benchmark, and one more for its latency cases (p99 latencies do not share
# an axis with run times); x from half the smallest to twice the largest
# size. ratios.png: every row's ratio to its baseline, one bar each, from 1
# (the extension adds nothing) to the ratio, on a log scale. The index lists
# panel, x range, data file, panel title, series title, unit and baseline.
mkdir -p "$OUT/plot"
awk -F, -v dir="$OUT/plot" '
	function mult(s) { return s == "k" ? 1e3 : s == "m" ? 1e6 : 1 }
	$3 != "N/A" && match($2, /(^| )[0-9]+(\.[0-9]+)?[km]? [A-Za-z][A-Za-z ]*$/) {
		token = substr($2, RSTART, RLENGTH); sub(/^ /, "", token)
		rest = substr($2, 1, RSTART - 1)
		sub(/ +$/, "", rest)
		num = token; sub(/ .*/, "", num)
		units = token; sub(/^[^ ]+ /, "", units)
		suffix = ""
		if (num ~ /[km]$/) { suffix = substr(num, length(num)); num = substr(num, 1, length(num) - 1) }
		name = $1 (rest ~ /latency/ ? " latency" : "")
		series = $1 "\t" rest
		if (!(series in file)) {
			file[series] = dir "/series" ++k ".dat"
			if (!(name in panel)) panel[name] = ++panels
			p[k] = panel[name]
			line[k] = file[series] "\t" name "\t" (rest != "" ? rest : $1) "\t" units "\t" $6
		}
		x = num * mult(suffix)
		points[file[series], x] = 1
		print x, $3, $7 >file[series]
	}
	END {
		for (series in file) close(file[series])
		for (key in points) { split(key, f, SUBSEP); sizes[f[1]]++ }
		for (i = 1; i <= k; i++) {
			split(line[i], f, "\t")
			if (sizes[f[1]] < 2) continue
			n = p[i]
			drawn[n] = 1
			# x range per panel over the lines drawn
			while ((getline v < f[1]) > 0) {
				split(v, xy, " ")
				if (!(n in lo) || xy[1] < lo[n]) lo[n] = xy[1]
				if (!(n in hi) || xy[1] > hi[n]) hi[n] = xy[1]
			}
			close(f[1])
		}
		for (i = 1; i <= k; i++) {
			split(line[i], f, "\t")
			if (sizes[f[1]] >= 2) print p[i] "\t" lo[p[i]] / 2 "\t" hi[p[i]] * 2 "\t" line[i]
		}
	}' "$rows" |
	sort -t$'\t' -k1,1n -s >"$OUT/plot/index"

if [ -s "$OUT/plot/index" ]; then
	for f in $(cut -f4 "$OUT/plot/index"); do sort -g -o "$f" "$f"; done
	panels=$(cut -f1 "$OUT/plot/index" | sort -u | wc -l)
	columns=$((panels < 3 ? panels : 3))
	lines=$(((panels + columns - 1) / columns))
	{
		echo "set terminal pngcairo noenhanced size $((520 * columns)),$((400 * lines + 40)) font ',9'"
		echo "set output '$OUT/scaling.png'"
		echo "set multiplot layout $lines,$columns title 'opendims_privacy: cost against data size (scale $SCALE; solid: measured, dashed: baseline; log-log)'"
		echo "set logscale xy"
		echo "set grid"
		echo "set key top left box opaque font ',8'"
		echo "set format x '%.0s%c'"
		echo "set offsets 0, 0, graph 0.1, graph 0.1"
		current=
		plot=
		i=0
		while IFS=$'\t' read -r panel xmin xmax file name title unit baseline; do
			if [ "$panel" != "$current" ]; then
				[ -n "$plot" ] && echo "${plot%,}"
				current=$panel
				i=0
				echo "set title '${name//\'/}'"
				echo "set xlabel '${unit//\'/}'"
				[[ $name == *latency ]] && echo "set ylabel 'p99 latency ms'" || echo "set ylabel 'median ms'"
				echo "set xrange [$xmin:$xmax]"
				plot="plot"
			fi
			i=$((i + 1))
			plot="$plot '$file' using 1:2 with linespoints lw 2 pt 7 lc $i title '${title//\'/}',"
			plot="$plot '$file' using 1:3 with linespoints lw 1 dt 2 pt 6 lc $i title '${baseline//\'/}',"
		done <"$OUT/plot/index"
		echo "${plot%,}"
		echo "unset multiplot"
	} >"$OUT/plot/scaling.gp"
	if gnuplot "$OUT/plot/scaling.gp" 2>"$OUT/plot/gnuplot.log"; then
		echo "plot: $OUT/scaling.png"
	else
		cat "$OUT/plot/gnuplot.log" >&2
		echo "plot: gnuplot failed (see $OUT/plot/gnuplot.log)"
	fi
else
	echo "plot: no benchmark has cases at two data sizes, no scaling plot"
fi

# ratios.png: "benchmark: case" and the ratio of every row with one.
awk -F, -v OFS='\t' '$8 > 0 { print $1 ": " $2, $8 }' "$rows" >"$OUT/plot/ratios.dat"
if [ -s "$OUT/plot/ratios.dat" ]; then
	bars=$(wc -l <"$OUT/plot/ratios.dat")
	cat >"$OUT/plot/ratios.gp" <<-GP
		set terminal pngcairo noenhanced size 1400,$((22 * bars + 120)) font ',9'
		set output '$OUT/ratios.png'
		set title 'opendims_privacy: each case against its baseline (scale $SCALE; ratio of medians, 1 = no cost)'
		set datafile separator '\t'
		set logscale x
		set grid x
		set xlabel 'ratio (log scale)'
		set yrange [-1:$bars]
		set ytics scale 0 font ',8'
		set key off
		plot '$OUT/plot/ratios.dat' using (\$2 > 1 ? 1 : \$2):0:(\$2 > 1 ? 1 : \$2):(\$2 > 1 ? \$2 : 1):(\$0 - 0.35):(\$0 + 0.35):ytic(1) with boxxyerror fill solid 0.5 lc rgb '#4477aa', \
		     '' using 2:0:(sprintf(' %.2f', \$2)) with labels left font ',8'
	GP
	if gnuplot "$OUT/plot/ratios.gp" 2>>"$OUT/plot/gnuplot.log"; then
		echo "plot: $OUT/ratios.png"
	else
		cat "$OUT/plot/gnuplot.log" >&2
		echo "plot: gnuplot failed (see $OUT/plot/gnuplot.log)"
	fi
fi

echo
echo "results: $OUT/results.csv (took $(($(date +%s) - started))s)"
[ ${#failures[@]} -gt 0 ] && echo "failed: ${failures[*]}"
echo "$ran benchmarks ran, $failed failed"
[ $failed -eq 0 ]
