#!/usr/bin/env bash
# check-readme.sh: checks that the README's walk-through runs as written and
# that the documentation points at files that exist; prints TAP.
#
# Run it from anywhere once the extension is built and installed into the
# server (make test installs it; so does
# bash -c '. test/scripts/common.sh; build_and_install'):
#
#   bash test/scripts/check-readme.sh
#   PG_BINDIR=/path/to/postgresql/bin bash test/scripts/check-readme.sh
#
# PG_BINDIR names the server's programs, as for test/scripts/common.sh;
# CHECK_README_OUTPUT=FILE keeps what the walk-through printed in FILE.
# As root, the throw-away cluster runs as postgres.  The script exits
# non-zero if any test failed, and 2 if it could not run at all.
#
# What it checks, one TAP line each:
#
#   - Every ```sql block of README.md's section "## A ten-minute
#     walk-through", in order, runs without error.  The blocks run in one
#     psql session (psql -X -v ON_ERROR_STOP=1, from the top of the tree),
#     as a reader pasting them into psql would, on database opendims of a
#     throw-away cluster set up as the README's installation section says
#     (opendims_privacy and pg_cron preloaded, cron.database_name =
#     'opendims'); before the first block, the sample schema and data are
#     loaded with psql -f, as the walk-through's shell commands do.  Only
#     ```sql blocks in that section run: ```sh blocks, plain ``` blocks and
#     blocks elsewhere do not.  A block whose last statement lacks its
#     semicolon fails; after a failed block the rest are reported as not
#     run.
#   - README.md has at most 300 lines.
#   - Every docs/... path named in README.md and docs/*.md exists, and so
#     does every relative Markdown link target in them (with a #fragment,
#     also the heading it names).
#   - docs/reference.md's generated part is what test/scripts/reference.sh
#     prints for the walk-through's database.
#
# The walk-through's CREATE EXTENSION names no CASCADE: the extension needs
# no other extension.
set -uo pipefail
cd "$(dirname "$0")/../.."
. test/scripts/common.sh
export PATH="$PG_BINDIR:$PATH"

README=README.md
SECTION='## A ten-minute walk-through'
MAX_LINES=300
DB=opendims

with_work_dir check-readme

TEST_NO=0
FAILED=0

# ok DESCRIPTION / not_ok DESCRIPTION [DIAGNOSTIC LINES...]: one TAP line.
ok() {
	TEST_NO=$((TEST_NO + 1))
	echo "ok $TEST_NO - $1"
}
not_ok() {
	TEST_NO=$((TEST_NO + 1))
	FAILED=$((FAILED + 1))
	echo "not ok $TEST_NO - $1"
	shift
	local line
	for line in "$@"; do echo "# $line"; done
}

bail_out() {
	echo "Bail out! $*"
	exit 2
}

# extract_blocks: writes the walk-through's ```sql blocks to
# $WORK/block.N.sql and prints how many there are.
extract_blocks() {
	awk -v section="$SECTION" -v dir="$WORK" '
		$0 == section { inside = 1; next }
		inside && /^## / { inside = 0 }
		!inside { next }
		fence == "" && /^```/ {
			fence = $0
			if ($0 == "```sql") { n++; file = dir "/block." n ".sql"; printf "" > file }
			next
		}
		fence != "" && /^```[[:space:]]*$/ {
			if (fence == "```sql") close(file)
			fence = ""
			next
		}
		fence == "```sql" { print > file }
		END { print n + 0 }
	' "$README"
}

# ends_statement FILE: whether the last line that is not blank or a
# comment ends its statement (a semicolon, or a psql backslash command).
ends_statement() {
	local last
	last=$(sed -e 's/[[:space:]]*--.*$//' -e '/^[[:space:]]*$/d' "$1" | tail -n 1)
	[[ $last =~ \;[[:space:]]*$ || $last =~ ^[[:space:]]*\\ || $last =~ \\[a-z]+[^\;]*$ ]]
}

check_walk_through() {
	local blocks i marker combined="$WORK/walk-through.sql" first_failed=0
	blocks=$(extract_blocks)
	if [ "$blocks" -eq 0 ]; then
		not_ok "README walk-through has sql blocks" "no \`\`\`sql block found under \"$SECTION\""
		return
	fi

	: >"$combined"
	for i in $(seq 1 "$blocks"); do
		cat "$WORK/block.$i.sql" >>"$combined"
		printf '\n\\echo @@check-readme: block %d done@@\n' "$i" >>"$combined"
	done

	CRON_DATABASE=$DB
	start_cluster "shared_preload_libraries = 'pg_cron,opendims_privacy'" \
		"cron.database_name = '$DB'" >"$WORK/start.log" 2>&1 ||
		bail_out "could not start a cluster: $(tail -n 3 "$WORK/start.log" | tr '\n' ' ')"
	# start_cluster has created database $DB for pg_cron: the walk-through's
	# createdb.  Then its psql -f commands:
	if ! { psql -X -q -v ON_ERROR_STOP=1 -d "$DB" -f test/demo/schema.sql &&
			psql -X -q -v ON_ERROR_STOP=1 -d "$DB" -f test/demo/data.sql; } \
		>"$WORK/load.out" 2>"$WORK/load.err"; then
		not_ok "sample schema and data load" "$(tail -n 3 "$WORK/load.err")"
		return
	fi
	psql -X -v ON_ERROR_STOP=1 -d "$DB" -f "$combined" >"$WORK/walk-through.out" 2>"$WORK/walk-through.err"
	[ -z "${CHECK_README_OUTPUT:-}" ] ||
		cat "$WORK/walk-through.out" "$WORK/walk-through.err" >"$CHECK_README_OUTPUT"

	for i in $(seq 1 "$blocks"); do
		marker="@@check-readme: block $i done@@"
		if ! ends_statement "$WORK/block.$i.sql"; then
			not_ok "block $i" "its last statement does not end with a semicolon"
			[ "$first_failed" -ne 0 ] || first_failed=$i
		elif [ "$first_failed" -ne 0 ]; then
			not_ok "block $i # not run: block $first_failed failed"
		elif grep -qxF "$marker" "$WORK/walk-through.out"; then
			ok "block $i"
		else
			first_failed=$i
			local diag=() server_log=()
			mapfile -t diag < <(grep -v '^psql:.*NOTICE:' "$WORK/walk-through.err" | tail -n 6)
			# A crashed backend shows in the server's log, not in psql's output.
			mapfile -t server_log < <(as_cluster_owner tail -n 4 "$CLUSTER_DIR/server.log" 2>/dev/null)
			not_ok "block $i" "first line: $(grep -m1 -v '^[[:space:]]*$' "$WORK/block.$i.sql")" \
				"${diag[@]}" "server log:" "${server_log[@]}"
		fi
	done
}

check_readme_length() {
	local lines
	lines=$(wc -l <"$README")
	if [ "$lines" -le "$MAX_LINES" ]; then
		ok "README.md has $lines lines (at most $MAX_LINES)"
	else
		not_ok "README.md has $lines lines (at most $MAX_LINES)"
	fi
}

# headings FILE: the GitHub anchors of FILE's headings, outside code blocks.
headings() {
	awk '/^```/ { code = !code; next } !code && /^#+ / { sub(/^#+ +/, ""); print }' "$1" |
		tr '[:upper:]' '[:lower:]' | sed -e 's/[^a-z0-9 _-]//g' -e 's/ /-/g'
}

# references FILE: "target<TAB>FILE" for each docs/... path named in FILE
# (relative to the top) and each relative link target (resolved from FILE's
# directory), outside code blocks.
references() {
	local file=$1 dir
	dir=$(dirname "$file")
	awk '/^```/ { code = !code; next } !code' "$file" |
		grep -oE '(^|[^A-Za-z0-9_./-])docs/[A-Za-z0-9_./#-]*[A-Za-z0-9_#-]' |
		sed -E 's/^[^d]//' | sed "s|\$|	$file|"
	awk '/^```/ { code = !code; next } !code' "$file" |
		grep -oE '\]\([^)[:space:]]+\)' | sed -E 's/^\]\((.*)\)$/\1/' |
		grep -vE '^[a-z]+:' |
		while IFS= read -r target; do
			case $target in
			\#*) printf '%s%s\t%s\n' "$file" "$target" "$file" ;;
			*) printf '%s\t%s\n' "$(realpath -m --relative-to=. "$dir/${target%%#*}")${target#"${target%%#*}"}" "$file" ;;
			esac
		done
}

check_doc_paths() {
	local files=("$README" docs/*.md) target path fragment named
	local -A seen=()
	while IFS=$'\t' read -r target named; do
		seen[$target]="${seen[$target]:+${seen[$target]}, }$named"
	done < <(for f in "${files[@]}"; do references "$f"; done | sort -u)
	for target in $(printf '%s\n' "${!seen[@]}" | sort); do
		path=${target%%#*}
		fragment=${target#"$path"}
		fragment=${fragment#\#}
		if [ ! -e "$path" ]; then
			not_ok "$target exists" "named in ${seen[$target]}"
		elif [ -n "$fragment" ] && ! headings "$path" | grep -qxF "$fragment"; then
			not_ok "$target exists" "no heading with that anchor; named in ${seen[$target]}"
		else
			ok "$target exists"
		fi
	done
}

check_reference() {
	local marker='^<!-- generated by test\/scripts\/reference.sh'
	if [ -z "${CLUSTER_DIR:-}" ]; then
		not_ok "docs/reference.md matches the installed extension # not run: no cluster"
		return
	fi
	sed "1,/$marker/d" docs/reference.md >"$WORK/reference.doc"
	if ! bash test/scripts/reference.sh -d "$DB" >"$WORK/reference.db" 2>"$WORK/reference.err"; then
		not_ok "docs/reference.md matches the installed extension" "$(tail -n 3 "$WORK/reference.err")"
	elif diff -u "$WORK/reference.doc" "$WORK/reference.db" >"$WORK/reference.diff"; then
		ok "docs/reference.md matches the installed extension"
	else
		local diag=()
		mapfile -t diag < <(head -n 20 "$WORK/reference.diff")
		not_ok "docs/reference.md matches the installed extension" \
			"regenerate it with test/scripts/reference.sh; the differences begin:" "${diag[@]}"
	fi
}

[ -f "$(pg_config --sharedir 2>/dev/null)/extension/opendims_privacy.control" ] ||
	bail_out "opendims_privacy is not installed for $PG_BINDIR (make test installs it)"

check_walk_through
check_readme_length
check_doc_paths
check_reference
echo "1..$TEST_NO"
[ "$FAILED" -eq 0 ]
