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
	step "Installing the extension in database opendims"
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

step_rights() {
	step "A customer asks for their data: a request with its deadline, then the export (GDPR Art. 15 and 20)"
	sql <<-'SQL'
		SELECT privacy.open_request('customer', '7', 'access') AS request \gset
		SELECT id, kind, "right", deadline::date, days_left, status FROM privacy.requests WHERE id = :request;
		CREATE TEMP TABLE export AS SELECT privacy.export_subject(:request) AS e;
		SELECT t AS "table", jsonb_array_length(e -> 'data' -> t -> 'rows') AS rows,
		       e -> 'data' -> t -> 'categories' AS categories
		  FROM export, jsonb_object_keys(e -> 'data') t ORDER BY t;
		SELECT jsonb_pretty(e -> 'data' -> 'opendims.customers' -> 'rows' -> 0) AS customer_row FROM export;
		SELECT jsonb_array_length(e -> 'purposes') AS purposes, jsonb_array_length(e -> 'recipients') AS recipients,
		       jsonb_array_length(e -> 'retention') AS retention_rules, jsonb_array_length(e -> 'rights') AS rights
		  FROM export;
		SELECT status, outcome FROM privacy.requests WHERE id = :request;
	SQL

	step "The same customer asks to be erased: what is deleted, anonymised and retained (GDPR Art. 17)"
	sql <<-'SQL'
		SELECT privacy.open_request('customer', '7', 'erasure') AS request \gset
		CREATE TEMP TABLE receipt AS SELECT privacy.erase_subject(:request, 'consent withdrawn') AS r;
		SELECT l ->> 'table' AS "table", l ->> 'deleted' AS deleted, l ->> 'anonymized' AS anonymized,
		       l ->> 'retained' AS retained, l ->> 'retained_until' AS retained_until, l ->> 'retention_rule' AS rule
		  FROM receipt, jsonb_array_elements(r -> 'tables') l;
		SELECT r ->> 'rows_deleted' AS deleted, r ->> 'rows_anonymized' AS anonymized,
		       r ->> 'rows_retained' AS retained, r ->> 'subject_ref' AS receipt_names_only
		  FROM receipt;
		SELECT id, left(name, 30) AS name, email, phone FROM opendims.customers WHERE id = 7;
		SELECT r ->> 'changed' AS changed_again, r ->> 'already_erased' AS already_erased
		  FROM privacy.erase_subject('customer', '7', 'consent withdrawn') r;
		SELECT action, left(subject_ref, 16) || '…' AS subject_ref, request_id, summary ->> 'rows_deleted' AS deleted
		  FROM privacy.audit_log WHERE action IN ('export', 'erasure') ORDER BY id;
		SELECT * FROM privacy.verify_audit_log();
	SQL
}

step_types_and_discovery() {
	step "Personal-data column types: validated, normalised, masked, pseudonymised, and classified by their type"
	sql <<-'SQL'
		SET search_path = opendims, public, privacy;
		SET privacy.default_country_code = 45;
		CREATE TABLE opendims.newsletter_signups (
			email privacy.email PRIMARY KEY,
			phone privacy.phone,
			signup_ip privacy.ip_address
		);
		INSERT INTO opendims.newsletter_signups VALUES
			('Mette.Holm@Example.DK', '20 12 34 56', '192.0.2.77'),
			('lars@example.com', '+45 31-22-33-44', '2001:db8::1:2');
		SELECT email, phone, signup_ip FROM opendims.newsletter_signups;
		SELECT privacy.mask(email) AS email, privacy.mask(phone) AS phone, privacy.mask(signup_ip) AS ip,
		       left(privacy.pseudonymize(email), 16) || '…' AS pseudonym
		  FROM opendims.newsletter_signups;
		SELECT table_name, column_name, category, origin FROM privacy.classified_columns
		 WHERE table_name = 'opendims.newsletter_signups'::regclass;
	SQL
	echo "The same address in other letter case is the same person:"
	expect_error <<-'SQL'
		INSERT INTO opendims.newsletter_signups (email) VALUES ('mette.holm@example.dk');
	SQL
	echo "Invalid values are refused with a reason:"
	expect_error <<-'SQL'
		INSERT INTO opendims.newsletter_signups (email) VALUES ('mette@@example.dk');
	SQL

	step "Finding personal data nobody declared: privacy.discover() samples unclassified text columns"
	sql <<-'SQL'
		CREATE TABLE opendims.imported_notes (id integer PRIMARY KEY, note text);
		INSERT INTO opendims.imported_notes
		SELECT g, CASE g % 4 WHEN 0 THEN 'call back on +45 20 30 40 50'
		                     WHEN 1 THEN 'wrote from kunde' || g || '@example.dk'
		                     WHEN 2 THEN 'customer number ' || g
		                     ELSE 'CPR 010190-1234 on the form' END
		  FROM generate_series(1, 400) g;
		SELECT table_name, column_name, suspected_category, round(hit_ratio::numeric, 2) AS hit_ratio, rows_sampled
		  FROM privacy.discover(200) ORDER BY 1, 2, 3;
	SQL

	step "Keeping sensitive data out: a guard on support messages rejects or redacts CPR and card numbers"
	sql <<-'SQL'
		SELECT privacy.guard('opendims.support_messages', ARRAY['body']);
	SQL
	expect_error <<-'SQL'
		INSERT INTO opendims.support_messages (ticket_id, sent_at, body)
		VALUES (1, now(), 'My CPR is 010190-1234, please update it');
	SQL
	sql <<-'SQL'
		SELECT privacy.guard('opendims.support_messages', ARRAY['body'], mode => 'redact');
		INSERT INTO opendims.support_messages (ticket_id, sent_at, body)
		VALUES (1, now(), 'Card 4111 1111 1111 1111 was charged twice')
		RETURNING body;
		SELECT action, summary FROM privacy.audit_log WHERE action = 'guard.redact';
		SELECT privacy.unguard('opendims.support_messages');
	SQL
}

step_consent() {
	local token forged
	step "Consent, objection, restriction and purpose-bound sessions: row policies that hold for every query"
	echo "Protecting the customer, user and tracking tables, and allowing purposes to two roles:"
	sql <<-'SQL'
		SELECT privacy.protect(t)
		  FROM unnest(ARRAY['opendims.customers', 'opendims.users', 'opendims.tracking_events']::regclass[]) t;
		SELECT table_name, kinds FROM privacy.protected_tables ORDER BY table_name::text;
		CREATE ROLE opendims_marketer;
		CREATE ROLE opendims_analyst;
		CREATE ROLE opendims_web;
		GRANT USAGE ON SCHEMA opendims TO opendims_marketer, opendims_analyst;
		GRANT SELECT ON ALL TABLES IN SCHEMA opendims TO opendims_marketer, opendims_analyst;
		SELECT privacy.allow_purpose('marketing', 'opendims_marketer'),
		       privacy.allow_purpose('analytics', 'opendims_analyst');
		SELECT purpose, role FROM privacy.purpose_grants ORDER BY purpose;
	SQL
	echo "Customers 1 to 4 consent to marketing; customer 2 withdraws; customer 3 asks for restriction:"
	sql <<-'SQL'
		SELECT privacy.grant_consent('customer', id::text, 'marketing', 'direct',
		                             '{"form": "newsletter signup", "text_version": "2026-06"}')
		  FROM generate_series(1, 4) id;
		SELECT privacy.withdraw_consent('customer', '2', 'marketing', 'direct', '{"via": "support ticket"}');
		SELECT privacy.restrict('customer', '3', 'accuracy contested');
		SELECT e ->> 'action' AS action, e ->> 'purpose' AS purpose, e ->> 'source' AS source,
		       e ->> 'policy_version' AS policy_version, e -> 'evidence' AS evidence
		  FROM jsonb_array_elements(privacy.consent_history('customer', '2')) e;
	SQL
	echo "The marketing role sees nothing personal until it declares its purpose, then only customers 1 and 4:"
	sql <<-'SQL'
		SET ROLE opendims_marketer;
		SELECT count(*) AS customers_without_purpose FROM opendims.customers;
		SET privacy.purpose = 'marketing';
		SELECT id, name, email FROM opendims.customers ORDER BY id;
	SQL
	echo "It cannot give itself another purpose:"
	expect_error <<-'SQL'
		SET ROLE opendims_marketer;
		SET privacy.purpose = 'analytics';
	SQL
	echo "User 1 objects to analytics: the analyst no longer sees that user's tracking events:"
	sql <<-'SQL'
		SET ROLE opendims_analyst;
		SET privacy.purpose = 'analytics';
		SELECT count(*) AS events_of_user_1_before FROM opendims.tracking_events WHERE user_id = 1;
		RESET ROLE;
		SELECT privacy.object('user', '1', 'analytics');
		SET ROLE opendims_analyst;
		SELECT count(*) AS events_of_user_1_after FROM opendims.tracking_events WHERE user_id = 1;
		SELECT count(*) AS events_of_others FROM opendims.tracking_events;
	SQL
	echo "An unsubscribe link for customer 4, used by a role with no other rights:"
	token=$(sql -A -t -c "SELECT privacy.unsubscribe_token('customer', '4', 'marketing')")
	echo "https://opendims.example/unsubscribe?t=$token"
	echo "A forged link (the 21st character changed) is refused and changes nothing:"
	forged="${token:0:20}A${token:21}"
	[ "$forged" != "$token" ] || forged="${token:0:20}B${token:21}"
	expect_error -v token="$forged" <<-'SQL'
		SET ROLE opendims_web;
		SELECT privacy.unsubscribe(:'token');
	SQL
	echo "The real link withdraws the consent:"
	sql -v token="$token" <<-'SQL'
		SET ROLE opendims_web;
		SELECT privacy.unsubscribe(:'token');
	SQL
	sql <<-'SQL'
		SET ROLE opendims_marketer;
		SET privacy.purpose = 'marketing';
		SELECT id, name FROM opendims.customers ORDER BY id;
	SQL
	echo "Every change is in the audit log, without personal values:"
	sql <<-'SQL'
		SELECT action, left(subject_ref, 16) || '…' AS subject_ref, summary - 'event_id' AS summary
		  FROM privacy.audit_log
		 WHERE action IN ('protect', 'purpose.allow', 'consent.grant', 'consent.withdraw', 'objection', 'restriction')
		 ORDER BY id DESC LIMIT 6;
	SQL
}

step_masking() {
	step "Masking: a support role reads e-mail addresses and phone numbers only masked; an anonymised copy for developers"
	echo "The policy gains a masking section for role opendims_support (a new version of the document):"
	sql_doc <<-'SQL'
		CREATE ROLE opendims_support;
		GRANT USAGE ON SCHEMA opendims TO opendims_support;
		GRANT SELECT ON ALL TABLES IN SCHEMA opendims TO opendims_support;
		SELECT privacy.allow_purpose('service', 'opendims_support');
		\set doc `cat test/demo/opendims-policy.json`
		SELECT jsonb_pretty(privacy.apply_policy(jsonb_set(jsonb_set(:'doc'::jsonb, '{version}', '"2026.2-masking"'),
			'{masking}', '{"roles": ["opendims_support"],
			               "rules": [{"category": "contact.email", "method": "mask"},
			                         {"category": "contact.phone", "method": "mask"},
			                         {"category": "contact.name", "method": "first_letters", "length": 1}]}')::text)
			- 'tables');
	SQL
	echo "What the support role sees of the first customers, and what it gets when it names the table itself:"
	sql <<-'SQL'
		SET ROLE opendims_support;
		BEGIN;
		SET LOCAL privacy.purpose = 'service';
		SELECT id, name, email, phone FROM privacy_masked.customers ORDER BY id LIMIT 3;
		COMMIT;
		RESET ROLE;
	SQL
	expect_error <<-'SQL'
		SET ROLE opendims_support;
		SELECT email FROM opendims.customers LIMIT 1;
	SQL
	echo "An anonymised copy of schema opendims into schema opendims_dev, then dumped and restored into a developer's database:"
	sql <<-'SQL'
		SELECT privacy.anonymized_copy('opendims', 'opendims_dev');
		SELECT id, name, email, phone FROM opendims_dev.customers ORDER BY id LIMIT 3;
	SQL
	psql -X -q -d postgres -c "CREATE DATABASE opendims_developer"
	pg_dump -n opendims_dev opendims | psql -X -q -v ON_ERROR_STOP=1 -d opendims_developer >/dev/null
	psql -X -q --pset=footer=off -d opendims_developer \
		-c "SELECT id, name, email, phone FROM opendims_dev.customers ORDER BY id LIMIT 3"
}

step_retention() {
	step "Retention: what is due, a legal hold, the retention job, the bookkeeping minimum, pg_cron"
	echo "Guard triggers for the rules with a legal minimum, installed from the policy in force:"
	sql_doc <<-'SQL'
		SELECT jsonb_pretty(privacy.install_retention_triggers());
	SQL
	echo "What each rule has due now, privacy.retention_status:"
	sql <<-'SQL'
		SELECT rule, table_name, action, period, minimum, rows_due, oldest_due::date AS oldest_due, rows_held
		FROM privacy.retention_status;
	SQL
	echo "A legal hold on the customer with the oldest invoice: a dispute needs that customer's records kept."
	sql <<-'SQL'
		SELECT privacy.place_hold('customer',
		           (SELECT customer_id::text FROM opendims.invoices ORDER BY issued_on, id LIMIT 1),
		           'Dispute over unpaid invoices', 'Case 2026-117') AS hold_id;
		SELECT rule, rows_due, rows_held FROM privacy.retention_status WHERE rows_held > 0;
	SQL
	echo "The retention job, CALL privacy.enforce_retention(batch_size => 1000): one short transaction per batch:"
	sql <<-'SQL'
		CALL privacy.enforce_retention(batch_size => 1000);
	SQL
	echo "What the run did, per rule (privacy.retention_runs; the same summary is in the audit log):"
	sql <<-'SQL'
		SELECT r.key AS rule, r.value ->> 'action' AS action, (r.value ->> 'done')::bigint AS done,
		       (r.value ->> 'held')::bigint AS held, (r.value ->> 'blocked')::bigint AS blocked,
		       r.value ->> 'status' AS status
		FROM privacy.retention_runs AS run, jsonb_each(run.rules) AS r
		WHERE run.id = (SELECT max(id) FROM privacy.retention_runs)
		ORDER BY r.key;
		SELECT count(*) AS held_invoices_kept FROM opendims.invoices
		WHERE customer_id = (SELECT subject::bigint FROM privacy.legal_holds WHERE reference = 'Case 2026-117');
		SELECT action, summary ->> 'status' AS status, summary ->> 'rows_done' AS rows_done
		FROM privacy.audit_log WHERE action = 'retention.run' ORDER BY id DESC LIMIT 1;
	SQL
	echo "Nothing is due any more, except the held rows:"
	sql <<-'SQL'
		SELECT rule, rows_due, rows_held, last_run_status, last_run_done FROM privacy.retention_status;
	SQL
	echo "Deleting this year's newest invoice is refused: the Bookkeeping Act keeps it for 5 years after its financial year."
	expect_error <<-'SQL'
		DELETE FROM opendims.invoices WHERE id = (SELECT id FROM opendims.invoices ORDER BY issued_on DESC, id DESC LIMIT 1);
	SQL
	echo "Scheduling the job with pg_cron, every 15 minutes (pg_cron's database is opendims):"
	sql <<-'SQL'
		CREATE EXTENSION IF NOT EXISTS pg_cron;
		SELECT privacy.schedule_retention('*/15 * * * *') AS job_id;
		SELECT jobid, jobname, schedule, command, database, username FROM cron.job;
	SQL
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
	step_types_and_discovery
	step_consent
	step_masking
	step_rights
	step_retention
	log "demo finished"
}

main "$@"
