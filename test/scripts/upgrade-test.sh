#!/usr/bin/env bash
# The upgrade test (part of make test): builds the previous release from its
# commit (PREVIOUS_VERSION and PREVIOUS_COMMIT in the Makefile), installs it
# into a database holding the sample shop schema, policy and some history,
# installs the current build over it, runs ALTER EXTENSION ... UPDATE, and
# compares the catalog (test/fixtures/catalog_snapshot.sql: functions'
# definitions, tables' columns, constraints, indexes, triggers, policies,
# views, types, ACLs, comments, seeded rows) with a fresh install, in both
# directions; it also checks that the update kept the data and the audit
# chain. Prints TAP lines.
#
#   bash test/scripts/upgrade-test.sh      (as make test does; needs git, the
#                                           clone's history and the right to
#                                           install into the server)
#
# It replaces the installed extension files twice, so it leaves the current
# build installed again, and nothing else, when it ends.
set -uo pipefail
cd "$(dirname "$0")/../.."
. test/scripts/common.sh
export PATH="$PG_BINDIR:$PATH"

make_var() { make -s --no-print-directory -f Makefile print-"$1" PG_CONFIG="$PG_BINDIR/pg_config"; }
PREVIOUS_VERSION=$(make_var PREVIOUS_VERSION)
PREVIOUS_COMMIT=$(make_var PREVIOUS_COMMIT)
CURRENT_VERSION=$(make_var EXTVERSION)
n=0
failed=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $*"; }
check() { local what=$1; shift; if "$@"; then ok "$what"; else not_ok "$what"; fi; }

work=$(mktemp -d /tmp/opendims_privacy_upgrade.XXXXXX)
# build_and_install leaves exactly the current build installed.
cleanup() { stop_cluster; build_and_install; rm -rf "$work"; }
trap cleanup EXIT

# 1. The previous release, built from its commit.
if ! git cat-file -e "$PREVIOUS_COMMIT^{commit}" 2>/dev/null; then
	not_ok "commit $PREVIOUS_COMMIT of release $PREVIOUS_VERSION is in this clone (fetch the full history)"
	echo "1..$n"
	exit 1
fi
git archive "$PREVIOUS_COMMIT" | tar -x -C "$work"
if ! (cd "$work" && make -s PG_CONFIG="$PG_BINDIR/pg_config" >/dev/null 2>&1 &&
	make -s install PG_CONFIG="$PG_BINDIR/pg_config" >/dev/null 2>&1); then
	not_ok "release $PREVIOUS_VERSION builds and installs from $PREVIOUS_COMMIT"
	echo "1..$n"
	exit 1
fi
ok "release $PREVIOUS_VERSION builds and installs from $PREVIOUS_COMMIT"

# 2. A database on the previous release, with a policy, protection, consent,
# a request, an erasure and audit entries.
start_cluster "shared_preload_libraries = 'pg_cron,opendims_privacy'" || exit 1
createdb updated
psql_updated() { psql -X -q -v ON_ERROR_STOP=1 -d updated "$@"; }
psql_updated_quiet() { psql_updated "$@" >/dev/null; }
check "release $PREVIOUS_VERSION installs with the sample data" psql_updated_quiet <<EOF
SET client_min_messages = warning;
CREATE EXTENSION opendims_privacy VERSION '$PREVIOUS_VERSION' CASCADE;
\i test/fixtures/shop_schema.sql
\i test/fixtures/shop_data.sql
\set doc \`cat test/fixtures/shop-policy.json\`
SELECT privacy.apply_policy(:'doc');
SELECT privacy.protect('shop.customers');
SELECT privacy.grant_consent('customer', '1', 'marketing', 'webshop', '{}');
SELECT privacy.withdraw_consent('customer', '2', 'marketing', 'webshop', '{}');
SELECT privacy.open_request('customer', '1', 'access', now());
SELECT privacy.erase_subject('customer', '3', 'consent withdrawn');
CREATE TABLE public.before_update AS
SELECT privacy.policy() AS policy,
	   (SELECT count(*) FROM privacy.audit_log) AS audit_entries,
	   (SELECT count(*) FROM privacy.consent_ledger) AS ledger_entries,
	   (SELECT count(*) FROM privacy.erasures) AS erasures,
	   privacy.export_subject('customer', '1') -> 'data' AS export;
EOF
# 3. The current build over it (the server restarts to load the new
# library, as after a package upgrade), and the update.
build_and_install
as_cluster_owner "$PG_BINDIR/pg_ctl" -D "$PGDATA" -l "$CLUSTER_DIR/server.log" -w restart >/dev/null ||
	{ not_ok "server restarts with the current library"; echo "1..$n"; exit 1; }
check "ALTER EXTENSION opendims_privacy UPDATE from $PREVIOUS_VERSION" psql_updated_quiet -c "ALTER EXTENSION opendims_privacy UPDATE"
version=$(psql -X -At -d updated -c "SELECT extversion FROM pg_extension WHERE extname = 'opendims_privacy'")
check "the update reaches $CURRENT_VERSION (got $version)" [ "$version" = "$CURRENT_VERSION" ]
kept=$(psql_updated -At <<'EOF'
SELECT b.policy || '{"masking": {"roles": [], "recipients": [], "rules": []}}' = privacy.policy(),
	   b.audit_entries < (SELECT count(*) FROM privacy.audit_log),
	   b.ledger_entries = (SELECT count(*) FROM privacy.consent_ledger),
	   b.erasures = (SELECT count(*) FROM privacy.erasures),
	   b.export = privacy.export_subject('customer', '1') -> 'data',
	   (SELECT intact FROM privacy.verify_audit_log()),
	   NOT EXISTS (SELECT FROM privacy.verify_evidence())
  FROM public.before_update b;
EOF
)
check "the update keeps policy, ledger, erasures, export and an intact audit chain ($kept)" [ "$kept" = "t|t|t|t|t|t|t" ]
rectified=$(psql_updated -At <<'EOF'
SELECT tgtype::int & 1 = 0 AND tgoldtable IS NOT NULL AND tgnewtable IS NOT NULL
  FROM pg_trigger WHERE tgrelid = 'shop.customers'::regclass AND tgname = 'privacy_rectification';
UPDATE shop.customers SET phone = '+4512345678' WHERE id IN (1, 2);
SELECT privacy.seal_audit_log() >= 0;
SELECT count(*) FROM privacy.audit_log WHERE action = 'rectification';
SELECT intact FROM privacy.verify_audit_log();
EOF
)
check "the rectification trigger becomes a statement trigger that audits each row ($(echo $rectified))" \
	[ "$(echo $rectified)" = "t t 2 t" ]

# 4. The catalog of the updated install against a fresh one, both ways.
createdb fresh
psql -X -q -d fresh -c "SET client_min_messages = warning" -c "CREATE EXTENSION opendims_privacy" >/dev/null
psql -X -q -d updated -c "DROP TABLE public.before_update" -c "DROP SCHEMA shop CASCADE" >/dev/null 2>&1
psql -X -At -d updated -f test/fixtures/catalog_snapshot.sql >"$work/updated.txt"
psql -X -At -d fresh -f test/fixtures/catalog_snapshot.sql >"$work/fresh.txt"
only_updated=$(LC_ALL=C comm -23 "$work/updated.txt" "$work/fresh.txt")
only_fresh=$(LC_ALL=C comm -13 "$work/updated.txt" "$work/fresh.txt")
check "the snapshot describes the extension ($(wc -l <"$work/fresh.txt") lines)" [ "$(wc -l <"$work/fresh.txt")" -gt 1000 ]
if [ -z "$only_updated" ]; then ok "nothing in the updated catalog that a fresh install lacks"
else not_ok "in the updated catalog only:"; echo "$only_updated" | head -n 40 | sed 's/^/#   /'; fi
if [ -z "$only_fresh" ]; then ok "nothing in a fresh install that the updated catalog lacks"
else not_ok "in a fresh install only:"; echo "$only_fresh" | head -n 40 | sed 's/^/#   /'; fi

echo "1..$n"
[ $failed -eq 0 ]
