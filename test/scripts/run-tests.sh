#!/usr/bin/env bash
# make test: installs missing packages, builds with warnings as errors,
# installs, runs the C unit tests, the fuzz-corpus replay, pg_regress, the
# isolation specs, the TAP tests, the Debian package test and the upgrade
# test against throw-away clusters, and prints one closing line
# "N passed, N failed". Exits non-zero if anything failed.
set -uo pipefail
cd "$(dirname "$0")/../.."
. test/scripts/common.sh

ensure_packages $BASE_PACKAGES clang libclang-rt-14-dev libipc-run-perl perl pgbouncer
export PATH="$PG_BINDIR:$PATH"

passed=0
failed=0
failures=()
trap stop_cluster EXIT

# count_results NAME FILE: adds up "... ok" / "... FAILED" (pg_regress) and
# "ok N" / "not ok N" (TAP) lines of FILE.
count_results() {
	local name=$1 file=$2 ok bad
	ok=$(grep -cE '^(ok [0-9]+|.*\.\.\. ok( |$))' "$file")
	bad=$(grep -cE '^(not ok [0-9]+|.*\.\.\. (FAILED|failed)( |$))' "$file")
	passed=$((passed + ok))
	failed=$((failed + bad))
	[ "$bad" -gt 0 ] && failures+=("$name")
	echo "$name: $ok passed, $bad failed"
}

# run_suite NAME CMD...: runs CMD, shows and counts its results; a suite that
# fails without reporting a failed case counts as one failure itself.
run_suite() {
	local name=$1 out rc before=$failed
	shift
	out=$(mktemp)
	log "$name"
	"$@" >"$out" 2>&1
	rc=$?
	grep -vE '^(ok [0-9]+|# )' "$out" | tail -n 40
	count_results "$name" "$out"
	if [ $rc -ne 0 ] && [ $failed -eq $before ]; then
		failed=$((failed + 1))
		failures+=("$name (exit $rc)")
	fi
	rm -f "$out"
}

log "building (warnings are errors)"
make -s clean >/dev/null 2>&1
if ! build_and_install WERROR=1; then
	echo "0 passed, 1 failed"
	exit 1
fi

run_suite "unit tests" make -s unit
run_suite "fuzz corpus replay" make -s fuzz-replay

if start_cluster "shared_preload_libraries = 'pg_cron,opendims_privacy'"; then
	rm -rf results test/output_iso regression.diffs
	run_suite "pg_regress" make -s installcheck ISOLATION= PG_CONFIG="$PG_BINDIR/pg_config" \
		REGRESS_OPTS="--inputdir=. --use-existing --dbname=$CRON_DATABASE"
	[ -f regression.diffs ] && head -n 200 regression.diffs
	if [ -n "$(ls test/isolation/*.spec 2>/dev/null)" ]; then
		run_suite "isolation" make -s installcheck REGRESS= PG_CONFIG="$PG_BINDIR/pg_config"
		[ -f test/output_iso/regression.diffs ] && head -n 200 test/output_iso/regression.diffs
	fi
	stop_cluster
else
	failed=$((failed + 1))
	failures+=("cluster start")
fi

# TAP tests (PostgreSQL::Test::Cluster) make their own clusters, which the
# server refuses to run as root: they run as the cluster owner, from a copy
# of test/ (and of sql/ and expected/, which some run through pg_regress)
# that it may write to.
if [ -n "$(ls test/t/*.pl 2>/dev/null)" ]; then
	pgxs_dir=$(dirname "$("$PG_BINDIR/pg_config" --pgxs)")/../..
	tap_dir=$(mktemp -d /tmp/opendims_privacy_tap.XXXXXX)
	cp -r test sql expected "$tap_dir/"
	[ "$(id -u)" -eq 0 ] && chown -R postgres: "$tap_dir"
	run_suite "TAP" as_cluster_owner env -C "$tap_dir/test" TESTDIR="$tap_dir/test" \
		PATH="$PG_BINDIR:$PATH" PERL5LIB="$pgxs_dir/src/test/perl" \
		PG_REGRESS="$pgxs_dir/src/test/regress/pg_regress" prove -v --ext=.pl t/
	rm -rf "$tap_dir"
fi

# The README's walk-through runs as written; its links and the reference's
# generated part are current.
run_suite "README" bash test/scripts/check-readme.sh

# META.json and the Debian package, built from a copy of the tree and run
# from a copy of the server's installation.
run_suite "package" bash test/scripts/package-test.sh

# Last, since it installs the previous release and then the current build
# again: the previous release updated to this one matches a fresh install.
run_suite "upgrade" bash test/scripts/upgrade-test.sh

echo
[ ${#failures[@]} -gt 0 ] && echo "failing suites: ${failures[*]}"
echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
