#!/usr/bin/env bash
# make demo: the product at work on a sample OpenDIMS database.
#
# Installs what is missing, builds and installs the extension, starts a
# throw-away cluster, loads the sample schema and data (test/demo/schema.sql,
# test/demo/data.sql), applies the OpenDIMS privacy policy
# (test/demo/opendims-policy.json) and then shows, step by step, what the
# extension knows and enforces.  The cluster is removed on exit; the script
# exits non-zero as soon as a step fails.
#
# Each step is one function named step_*; a new feature gets one more such
# function, called from main at the end of this file.
set -euo pipefail
cd "$(dirname "$0")/../.."
. test/scripts/common.sh

DEMO_DIR=test/demo
POLICY_FILE=$DEMO_DIR/opendims-policy.json
STEP_NO=0

# step TITLE: prints the heading that says what the next output shows.
step() {
	STEP_NO=$((STEP_NO + 1))
	printf '\n\n======== %d. %s\n\n' "$STEP_NO" "$*"
}

# sql [PSQL ARGS...]: psql on the demo database, statements from stdin or -c;
# stops at the first error.
sql() {
	psql -X -q -v ON_ERROR_STOP=1 --pset=footer=off -d opendims "$@"
}

# sql_doc [PSQL ARGS...]: like sql, for queries that return one jsonb_pretty
# document: no header and no borders, so the JSON reads as it is.
sql_doc() {
	sql -A -t "$@"
}

# expect_error [PSQL ARGS...]: runs statements that must fail and shows the
# error as a client sees it; fails if they succeed.
expect_error() {
	if sql "$@" 2>&1; then
		echo "the statement above was expected to fail, but it succeeded" >&2
		return 1
	fi
}

setup() {
	ensure_packages $BASE_PACKAGES
	log "building and installing opendims_privacy"
	build_and_install
	log "starting a throw-away PostgreSQL $PG_MAJOR cluster with database opendims"
	# start_cluster points pg_cron at CRON_DATABASE and creates it.
	CRON_DATABASE=opendims
	start_cluster "shared_preload_libraries = 'pg_cron,opendims_privacy'" \
		"cron.database_name = '$CRON_DATABASE'"
}

step_install() {
	step "Installing the extension in database opendims (CASCADE brings in pgcrypto)"
	sql <<-'SQL'
		CREATE EXTENSION opendims_privacy CASCADE;
		SELECT extname AS extension, extversion AS version, extnamespace::regnamespace AS schema
		FROM pg_extension
		WHERE extname <> 'plpgsql'
		ORDER BY extname;
	SQL
}

step_load_sample() {
	step "Loading the sample OpenDIMS schema and data: rows per table"
	sql -f "$DEMO_DIR/schema.sql"
	sql -f "$DEMO_DIR/data.sql" >/dev/null
	sql <<-'SQL'
		SELECT 'tenants' AS "table", count(*) AS rows FROM opendims.tenants
		UNION ALL SELECT 'users', count(*) FROM opendims.users
		UNION ALL SELECT 'customers', count(*) FROM opendims.customers
		UNION ALL SELECT 'products', count(*) FROM opendims.products
		UNION ALL SELECT 'orders', count(*) FROM opendims.orders
		UNION ALL SELECT 'order_lines', count(*) FROM opendims.order_lines
		UNION ALL SELECT 'invoices', count(*) FROM opendims.invoices
		UNION ALL SELECT 'support_tickets', count(*) FROM opendims.support_tickets
		UNION ALL SELECT 'support_messages', count(*) FROM opendims.support_messages
		UNION ALL SELECT 'tracking_events', count(*) FROM opendims.tracking_events;
	SQL
}

step_apply_policy() {
	step "Applying the OpenDIMS privacy policy ($POLICY_FILE): what changed"
	sql_doc <<-'SQL'
		\set doc `cat test/demo/opendims-policy.json`
		SELECT jsonb_pretty(privacy.apply_policy(:'doc'));
	SQL
}

step_apply_policy_again() {
	step "Applying the same document a second time changes nothing"
	sql_doc <<-'SQL'
		\set doc `cat test/demo/opendims-policy.json`
		SELECT jsonb_pretty(privacy.apply_policy(:'doc'));
	SQL
}

step_policy() {
	step "The policy in force, privacy.policy(): controller, purposes, recipients, retention rules"
	sql_doc <<-'SQL'
		SELECT jsonb_pretty(privacy.policy() -> 'controller');
	SQL
	sql <<-'SQL'
		SELECT p ->> 'name' AS purpose, p ->> 'legal_basis' AS legal_basis,
		       p -> 'allowed_under_restriction' AS under_restriction
		FROM jsonb_array_elements(privacy.policy() -> 'purposes') AS p;

		SELECT r ->> 'name' AS recipient, r ->> 'kind' AS kind,
		       r ->> 'dpa_reference' AS dpa_reference, r -> 'purposes' AS purposes
		FROM jsonb_array_elements(privacy.policy() -> 'recipients') AS r;

		SELECT r ->> 'name' AS rule, r ->> 'table' AS "table", r ->> 'anchor' AS anchor,
		       r ->> 'period' AS period, r ->> 'action' AS action,
		       r ->> 'legal_basis' AS legal_basis, r ->> 'minimum' AS minimum,
		       r ->> 'minimum_from' AS minimum_from
		FROM jsonb_array_elements(privacy.policy() -> 'retention_rules') AS r;
	SQL
	echo "Applying the policy in force as a document changes nothing:"
	sql_doc <<-'SQL'
		SELECT jsonb_pretty(privacy.apply_policy(privacy.policy()::text));
	SQL
}

step_classified_columns() {
	step "Every column that holds personal data, privacy.classified_columns"
	sql <<-'SQL'
		SELECT * FROM privacy.classified_columns;
	SQL
}

step_subject_map() {
	step "How each table reaches its data subject through foreign keys, privacy.subject_map"
	sql <<-'SQL'
		SELECT kind, table_name, depth, status, personal, indexed, path
		FROM privacy.subject_map
		ORDER BY kind, depth, table_name::text;
	SQL
	echo "Each hop of those paths, and whether an index on the referencing columns serves it:"
	sql <<-'SQL'
		SELECT m.kind, m.table_name, h.ord AS hop, h.hop ->> 'constraint' AS "constraint",
		       h.hop -> 'from_columns' AS from_columns, h.hop ->> 'to_table' AS to_table,
		       (h.hop -> 'indexed')::boolean AS indexed
		FROM privacy.subject_map AS m,
		     jsonb_array_elements(m.hops) WITH ORDINALITY AS h (hop, ord)
		ORDER BY m.kind, m.depth, m.table_name::text, h.ord;
	SQL
}

step_lint() {
	step "What privacy.lint() finds wrong with the schema"
	sql <<-'SQL'
		SELECT * FROM privacy.lint();
	SQL
}

step_processing_record() {
	step "The record of processing activities (GDPR Art. 30), privacy.processing_record()"
	echo "Purposes with the article of their legal basis:"
	sql <<-'SQL'
		SELECT p ->> 'purpose' AS purpose, p ->> 'legal_basis' AS legal_basis, p ->> 'article' AS article
		FROM jsonb_array_elements(privacy.processing_record() -> 'purposes') AS p;
	SQL
	echo "The rest of the record, without the purposes, sources and recipients shown above:"
	sql_doc <<-'SQL'
		SELECT jsonb_pretty(privacy.processing_record() - 'purposes' - 'sources' - 'recipients');
	SQL
}

step_security_label() {
	step "Classifying a column with a security label: tracking_events.user_agent"
	echo "Before, the policy document classifies two columns of tracking_events:"
	sql <<-'SQL'
		SELECT * FROM privacy.classified_columns
		WHERE table_name = 'opendims.tracking_events'::regclass;
	SQL
	echo "After SECURITY LABEL FOR privacy ON COLUMN opendims.tracking_events.user_agent IS 'credentials.behaviour':"
	sql <<-'SQL'
		SECURITY LABEL FOR privacy ON COLUMN opendims.tracking_events.user_agent
			IS 'credentials.behaviour';
		SELECT * FROM privacy.classified_columns
		WHERE table_name = 'opendims.tracking_events'::regclass;
	SQL
	echo "A category that does not exist is an error:"
	expect_error <<-'SQL'
		SECURITY LABEL FOR privacy ON COLUMN opendims.tracking_events.user_agent
			IS 'credentials.shoe_size';
	SQL
}

step_invalid_document() {
	step "Invalid policy documents are rejected, naming line and column, and nothing changes"
	local bad_basis="$CLUSTER_DIR/bad-legal-basis.json" bad_syntax="$CLUSTER_DIR/bad-syntax.json" before
	before=$(sql -A -t -c 'SELECT md5(privacy.policy()::text)')

	sed 's/"legal_basis": "consent"/"legal_basis": "opt_in"/' "$POLICY_FILE" >"$bad_basis"
	echo "The marketing purpose given a legal basis that does not exist:"
	grep -n '"opt_in"' "$bad_basis"
	expect_error -v doc="$(cat "$bad_basis")" <<-'SQL'
		SELECT privacy.apply_policy(:'doc');
	SQL

	sed '2s/,$//' "$POLICY_FILE" >"$bad_syntax"
	echo
	echo "A comma missing at the end of line 2:"
	sed -n '1,3{=;p}' "$bad_syntax" | paste -d: - -
	expect_error -v doc="$(cat "$bad_syntax")" <<-'SQL'
		SELECT privacy.apply_policy(:'doc');
	SQL

	echo
	echo "The policy in force is the one applied before:"
	sql -v before="$before" <<-'SQL'
		SELECT md5(privacy.policy()::text) = :'before' AS policy_unchanged,
		       jsonb_path_query_first(privacy.policy(),
		           '$.purposes[*] ? (@.name == "marketing").legal_basis') #>> '{}' AS marketing_legal_basis;
	SQL
	[ "$(sql -A -t -c 'SELECT md5(privacy.policy()::text)')" = "$before" ]
}

main() {
	trap stop_cluster EXIT
	setup
	step_install
	step_load_sample
	step_apply_policy
	step_apply_policy_again
	step_policy
	step_classified_columns
	step_subject_map
	step_lint
	step_processing_record
	step_security_label
	step_invalid_document
	log "demo finished"
}

main "$@"
