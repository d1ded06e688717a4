#!/usr/bin/env bash
# Benchmarks of the write path with durable commits: fsync and
# synchronous_commit are ON for this script's duration (bench_commit_durably
# in lib.sh; the rest of `make bench` runs with them off), because what
# these rows measure is how audited and protected writes commit. Each case
# runs pgbench (custom scripts, -n, -j 2) against a baseline doing the same
# job without the extension, alternately: a short warm-up of each, then
# WRITES_ROUNDS rounds (default 3) of WRITES_SECONDS seconds (default 5)
# each; the row holds the median, minimum and maximum over the rounds of
# the mean time per transaction seen by a client (1000 x clients / tps, in
# ms), so the throughput relative to the baseline is 1 / ratio. Prints one
# CSV row per case (see lib.sh).
#
#   bash test/bench/writes.sh [SCALE]     100,000 x SCALE customers
#
# Data: schema bench_writes. customers (the subject kind "customer", its
# email classified, under privacy.protect) and customers_plain, an
# unprotected copy of the same rows; addresses (one per customer), orders
# and logins (two each) reach customers through indexed foreign keys and
# are classified too, so that an export reads four tables. The copy is
# referenced by the same three foreign keys (from empty tables), so that an
# update of it runs the same referential-integrity triggers. Every customer
# consented to "marketing"; the updates run as an ordinary role that
# declares it, so the protected rows are visible and writable; a session
# without a purpose sees none of them.
#
# Cases:
#   single-row UPDATE   UPDATE of the classified email of one random customer,
#                       protected table against the unprotected copy, from 1
#                       and from 8 clients (target: at least 0.8 times the
#                       throughput, i.e. a ratio of at most 1.25); and the
#                       same against the unprotected copy's update plus an
#                       unchained audit row in the same statement (what
#                       auditing the update by hand costs);
#   bulk UPDATE         one UPDATE of the email of every customer (100k rows
#                       at scale 1) in its own transaction, new values each
#                       run, timed by the client including the commit;
#                       WRITES_ROUNDS runs of each, alternating, each
#                       after the earlier entries are sealed, a VACUUM of
#                       its table and a CHECKPOINT (the data is already in
#                       memory: no warm-up) (target: at most 1.5 times as
#                       long); and the protected run's time until its
#                       entries are sealed too (no target);
#   grant_consent       privacy.grant_consent of a random customer to
#                       "newsletter" from 8 clients, against an upsert into a
#                       plain consent table plus an insert into an unchained
#                       audit table (target: a ratio of at most 1.25); and
#                       against the same records kept by hand: the event
#                       in a history table too (no target);
#   export_subject      privacy.export_subject of a random customer from 8
#                       clients, against the hand-written export (one SELECT
#                       per table aggregated into jsonb, as in rights.sh)
#                       plus an insert into an unchained audit table (target:
#                       a ratio of at most 1.25); and against the same
#                       document written by hand (those rows with their
#                       categories, the policy's Art. 15 sections as a
#                       constant, the consent history and the disclosures
#                       read by key) plus the same audit insert, checked
#                       equal to export_subject's but for its time;
#   commit-to-seal delay   during the 8-client grant_consent load, one more
#                       client commits a grant_consent at a time and polls
#                       privacy.audit_log until its entry is there and
#                       hashed; the row holds the p99 of those waits over all
#                       rounds (min and max: the rounds' own p99) against
#                       the p99 of the probe's own call and commit (target:
#                       p99 at most 1000 ms). N/A if it cannot be measured.
# Before timing, the updates are checked to change as many rows on both
# sides, as the role that runs them.
set -euo pipefail
cd "$(dirname "$0")/../.."
. test/bench/lib.sh

SCALE=${1:-${BENCH_SCALE:-1}}
N=$(awk -v s="$SCALE" 'BEGIN { n = int(100000 * s); print (n >= 1000 ? n : 1000) }')
SECS=${WRITES_SECONDS:-5}
ROUNDS=${WRITES_ROUNDS:-3}
CLIENTS=8
WORK=$(mktemp -d)
APP="-c role=bench_writes_app -c privacy.purpose=marketing"

progress() { printf '%s: %s\n' "$(date +%T)" "$*" >&2; }

drop_objects() {
	PGOPTIONS= bench_psql -c "DROP SCHEMA IF EXISTS bench_writes CASCADE" >/dev/null 2>&1 || true
	PGOPTIONS= bench_psql -c "DROP OWNED BY bench_writes_app" >/dev/null 2>&1 || true
	PGOPTIONS= bench_psql -c "DROP ROLE IF EXISTS bench_writes_app" >/dev/null 2>&1 || true
}
# cleanup: restores the commit settings and drops what the script made;
# once, from the script's own shell (not the subshells a signal reaches too).
cleanup() {
	[ "$BASHPID" = "$$" ] || return 0
	bench_commit_fast >/dev/null 2>&1 || true
	drop_objects
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 143' TERM INT
drop_objects

progress "loading $N customers"
bench_psql -v n="$N" -v version="bench-writes-$(date +%s)" >/dev/null <<'SQL'
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS opendims_privacy CASCADE;
CREATE SCHEMA bench_writes;
CREATE TABLE bench_writes.customers (
	id bigint PRIMARY KEY,
	name text NOT NULL,
	email text NOT NULL,
	created_at timestamptz NOT NULL
);
INSERT INTO bench_writes.customers
SELECT g, 'Customer ' || g, 'customer' || g || '@example.com', timestamptz '2020-01-01' + g * interval '1 minute'
  FROM generate_series(1, :n) g;
CREATE TABLE bench_writes.customers_plain (LIKE bench_writes.customers INCLUDING ALL);
INSERT INTO bench_writes.customers_plain SELECT * FROM bench_writes.customers;
-- Three tables of the customers' details, each with one classified
-- column: one address, two orders and two logins per customer.
CREATE TABLE bench_writes.details (name text PRIMARY KEY, per_customer integer NOT NULL, category text NOT NULL);
INSERT INTO bench_writes.details VALUES
	('addresses', 1, 'contact.address'), ('orders', 2, 'contact.address'), ('logins', 2, 'credentials.ip_address');
DO $$
DECLARE
	d bench_writes.details;
	customers bigint := (SELECT count(*) FROM bench_writes.customers);
BEGIN
	FOR d IN SELECT * FROM bench_writes.details LOOP
		EXECUTE format('CREATE TABLE bench_writes.%I (id bigint PRIMARY KEY,
			customer_id bigint NOT NULL REFERENCES bench_writes.customers, detail text NOT NULL)', d.name);
		EXECUTE format('INSERT INTO bench_writes.%I SELECT g, (g - 1) / %s + 1, %L || g
			FROM generate_series(1, %s) g', d.name, d.per_customer, d.name || ' detail ', d.per_customer * customers);
		EXECUTE format('CREATE INDEX ON bench_writes.%I (customer_id)', d.name);
		EXECUTE format('CREATE TABLE bench_writes.%I (id bigint PRIMARY KEY,
			customer_id bigint NOT NULL REFERENCES bench_writes.customers_plain, detail text NOT NULL)',
			d.name || '_plain');
	END LOOP;
END
$$;

SELECT privacy.apply_policy(jsonb_build_object(
	'format', 1, 'version', :'version', 'effective_date', '2026-06-24',
	'controller', jsonb_build_object('name', 'Bench ApS', 'contact', 'bench@example.com'),
	'purposes', (SELECT jsonb_agg(jsonb_build_object('name', p, 'legal_basis', 'consent'))
				   FROM unnest(ARRAY['marketing', 'newsletter']) p),
	'subject_kinds', jsonb_build_array(
		jsonb_build_object('name', 'customer', 'table', 'bench_writes.customers', 'key', 'id')),
	'classifications', jsonb_build_array(
		jsonb_build_object('table', 'bench_writes.customers', 'column', 'name', 'category', 'contact.name'),
		jsonb_build_object('table', 'bench_writes.customers', 'column', 'email', 'category', 'contact.email'))
		|| (SELECT jsonb_agg(jsonb_build_object('table', 'bench_writes.' || d.name, 'column', 'detail',
												'category', d.category))
			  FROM bench_writes.details d))::text);
SELECT privacy.protect('bench_writes.customers');

-- Every customer consented to "marketing", loaded as a restore would.
INSERT INTO privacy.consent_ledger (actor, kind, subject, action, purpose, source, policy_version)
SELECT current_user, 'customer', g::text, 'consent.grant', 'marketing', 'direct', :'version'
  FROM generate_series(1, :n) g;

-- The hand-rolled consent and audit an application would keep itself.
CREATE TABLE bench_writes.consents (
	customer_id bigint NOT NULL REFERENCES bench_writes.customers,
	purpose text NOT NULL,
	granted boolean NOT NULL,
	changed_at timestamptz NOT NULL,
	PRIMARY KEY (customer_id, purpose)
);
CREATE TABLE bench_writes.audit_plain (
	id bigserial PRIMARY KEY,
	logged_at timestamptz NOT NULL,
	actor name NOT NULL,
	action text NOT NULL,
	customer_id bigint NOT NULL,
	summary jsonb NOT NULL
);

-- A consent granted by hand: the upsert and its audit row.
CREATE FUNCTION bench_writes.grant_by_hand(customer_key bigint, purpose_name text)
RETURNS void
LANGUAGE sql
BEGIN ATOMIC
	INSERT INTO bench_writes.consents VALUES (customer_key, purpose_name, true, now())
	ON CONFLICT (customer_id, purpose) DO UPDATE SET granted = true, changed_at = excluded.changed_at;
	INSERT INTO bench_writes.audit_plain (logged_at, actor, action, customer_id, summary)
	VALUES (clock_timestamp(), current_user, 'consent.grant', customer_key,
			jsonb_build_object('purpose', purpose_name, 'source', 'direct'));
END;

-- The same records as grant_consent's, kept by hand: the event in a
-- history of the subject's consents (what the ledger keeps of it: time,
-- actor, action, purpose, source, policy version, evidence; indexed by
-- customer), then the current state and the audit row as above.
CREATE TABLE bench_writes.consent_history (
	id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
	recorded_at timestamptz NOT NULL,
	actor text NOT NULL,
	customer_id bigint NOT NULL,
	action text NOT NULL,
	purpose text NOT NULL,
	source text NOT NULL,
	policy_version text NOT NULL,
	evidence jsonb NOT NULL
);
CREATE INDEX ON bench_writes.consent_history (customer_id);
CREATE FUNCTION bench_writes.grant_records_by_hand(customer_key bigint, purpose_name text)
RETURNS void
LANGUAGE sql
BEGIN ATOMIC
	INSERT INTO bench_writes.consent_history (recorded_at, actor, customer_id, action, purpose, source,
											  policy_version, evidence)
	VALUES (clock_timestamp(), current_user, customer_key, 'consent.grant', purpose_name, 'direct',
			:'version', '{}');
	SELECT bench_writes.grant_by_hand(customer_key, purpose_name);
END;

-- The export an application would write by hand (one indexed SELECT per
-- table aggregated into one jsonb), and its audit row.
CREATE FUNCTION bench_writes.export_by_hand(customer_key bigint)
RETURNS jsonb
LANGUAGE plpgsql
AS $$
DECLARE
	result jsonb := (
		SELECT jsonb_object_agg(t.name, t.rows) FROM (
			SELECT 'bench_writes.customers' AS name, jsonb_agg(to_jsonb(c)) AS rows
			  FROM bench_writes.customers c WHERE c.id = customer_key
			UNION ALL
			SELECT 'bench_writes.addresses', jsonb_agg(to_jsonb(a))
			  FROM bench_writes.addresses a WHERE a.customer_id = customer_key
			UNION ALL
			SELECT 'bench_writes.orders', jsonb_agg(to_jsonb(o))
			  FROM bench_writes.orders o WHERE o.customer_id = customer_key
			UNION ALL
			SELECT 'bench_writes.logins', jsonb_agg(to_jsonb(l))
			  FROM bench_writes.logins l WHERE l.customer_id = customer_key) t);
BEGIN
	INSERT INTO bench_writes.audit_plain (logged_at, actor, action, customer_id, summary)
	VALUES (clock_timestamp(), current_user, 'export', customer_key,
			jsonb_build_object('tables', 4, 'rows', 6));
	RETURN result;
END
$$;

-- The same document as export_subject's, written by hand: the rows as
-- above, what GDPR Art. 15 adds to them (the policy's sections, kept as a
-- constant taken from one export; the subject; the time; the consent
-- history and the disclosures, read from the extension's ledger and log by
-- the customer's key), and the audit row.
CREATE TABLE bench_writes.art15_sections (sections jsonb NOT NULL);
INSERT INTO bench_writes.art15_sections
SELECT privacy.export_subject('customer', '1') - ARRAY['data', 'subject', 'generated_at', 'consent_history', 'disclosures'];
CREATE FUNCTION bench_writes.export_document_by_hand(customer_key bigint)
RETURNS jsonb
LANGUAGE plpgsql
AS $$
DECLARE
	data jsonb := (
		SELECT jsonb_object_agg(t.name, jsonb_build_object('rows', t.rows, 'categories', t.categories)) FROM (
			SELECT 'bench_writes.customers' AS name, jsonb_agg(to_jsonb(c)) AS rows,
				   '{"name": "contact.name", "email": "contact.email"}'::jsonb AS categories
			  FROM bench_writes.customers c WHERE c.id = customer_key
			UNION ALL
			SELECT 'bench_writes.addresses', jsonb_agg(to_jsonb(a)), '{"detail": "contact.address"}'
			  FROM bench_writes.addresses a WHERE a.customer_id = customer_key
			UNION ALL
			SELECT 'bench_writes.orders', jsonb_agg(to_jsonb(o)), '{"detail": "contact.address"}'
			  FROM bench_writes.orders o WHERE o.customer_id = customer_key
			UNION ALL
			SELECT 'bench_writes.logins', jsonb_agg(to_jsonb(l)), '{"detail": "credentials.ip_address"}'
			  FROM bench_writes.logins l WHERE l.customer_id = customer_key) t);
BEGIN
	INSERT INTO bench_writes.audit_plain (logged_at, actor, action, customer_id, summary)
	VALUES (clock_timestamp(), current_user, 'export', customer_key,
			jsonb_build_object('tables', 4, 'rows', 6));
	RETURN (SELECT s.sections FROM bench_writes.art15_sections s) || jsonb_build_object(
		'data', data,
		'subject', jsonb_build_object('kind', 'customer', 'key', customer_key::text),
		'generated_at', now(),
		'consent_history', (
			SELECT COALESCE(jsonb_agg(jsonb_build_object('time', l.recorded_at, 'action', l.action,
						'purpose', l.purpose, 'source', l.source, 'policy_version', l.policy_version,
						'evidence', l.evidence, 'recorded_by', l.actor) ORDER BY l.id), '[]')
			  FROM privacy.consent_ledger l WHERE l.kind = 'customer' AND l.subject = customer_key::text),
		'disclosures', (
			SELECT COALESCE(jsonb_agg(jsonb_build_object('time', d.disclosed_at, 'recipient', d.recipient,
						'categories', d.categories, 'legal_basis', d.legal_basis, 'reference', d.reference,
						'details', d.details, 'recorded_by', d.actor) ORDER BY d.id), '[]')
			  FROM privacy.disclosures d WHERE d.kind = 'customer' AND d.subject = customer_key::text));
END
$$;

CREATE ROLE bench_writes_app;
GRANT USAGE ON SCHEMA bench_writes TO bench_writes_app;
GRANT SELECT, UPDATE ON bench_writes.customers, bench_writes.customers_plain TO bench_writes_app;
GRANT INSERT ON bench_writes.audit_plain TO bench_writes_app;
GRANT USAGE ON SEQUENCE bench_writes.audit_plain_id_seq TO bench_writes_app;
SELECT privacy.allow_purpose('marketing', 'bench_writes_app');
VACUUM ANALYZE;
SQL

# The updates change the same rows on both sides, as the role that runs
# them; without a purpose, that role sees no protected row.
counts=$(PGOPTIONS="$APP" bench_psql -At <<'SQL'
BEGIN;
WITH u AS (UPDATE bench_writes.customers SET email = email RETURNING 1) SELECT count(*) FROM u;
WITH u AS (UPDATE bench_writes.customers_plain SET email = email RETURNING 1) SELECT count(*) FROM u;
WITH u AS (UPDATE bench_writes.customers SET email = email WHERE id = 1 RETURNING 1) SELECT count(*) FROM u;
WITH u AS (UPDATE bench_writes.customers_plain SET email = email WHERE id = 1 RETURNING 1) SELECT count(*) FROM u;
ROLLBACK;
SQL
)
hidden=$(PGOPTIONS="-c role=bench_writes_app" bench_psql -At -c "SELECT count(*) FROM bench_writes.customers")
if [ "$(echo $counts)" != "$N $N 1 1" ] || [ "$hidden" != 0 ]; then
	echo "the updates change $(echo $counts) rows (protected all, plain all, protected one, plain one; expected $N $N 1 1), and $hidden protected rows are visible without a purpose (expected 0)" >&2
	exit 1
fi
# Both exports return the customer's six rows.
exported=$(bench_psql -At -c "SELECT (SELECT sum(jsonb_array_length(t.value -> 'rows'))
		FROM jsonb_each(privacy.export_subject('customer', '1') -> 'data') t) || ' ' ||
	(SELECT sum(jsonb_array_length(t.value)) FROM jsonb_each(bench_writes.export_by_hand(1)) t)")
if [ "$exported" != "6 6" ]; then
	echo "the exports of customer 1 hold $exported rows (extension, hand-written; expected 6 6)" >&2
	exit 1
fi
# The document written by hand is export_subject's but for its time.
same=$(bench_psql -At -c "SELECT privacy.export_subject('customer', '2') - 'generated_at'
	= bench_writes.export_document_by_hand(2) - 'generated_at'")
if [ "$same" != t ]; then
	echo "the hand-written document of customer 2 is not export_subject's" >&2
	exit 1
fi

bench_commit_durably
progress "fsync and synchronous_commit are on"

# script NAME SQL: writes a pgbench script of a random customer :id.
script() {
	printf '\\set id random(1, %s)\n%s\n' "$N" "$2" >"$WORK/$1.sql"
	echo "$WORK/$1.sql"
}

# compare BENCHMARK CASE CLIENTS MEASURED_SCRIPT BASELINE_NAME BASELINE_SCRIPT
compare() {
	progress "$1, $2 ($ROUNDS rounds of ${SECS}s each side)"
	bench_compare_pgbench "$1" "$2" "$3" "$SECS" "$ROUNDS" "$4" "$5" "$6"
}

UPDATE_ONE="UPDATE bench_writes.%s SET email = 'customer' || :id || '.' || random() || '@example.com' WHERE id = :id;"
# shellcheck disable=SC2059
update_protected=$(script update_protected "$(printf "$UPDATE_ONE" customers)")
# shellcheck disable=SC2059
update_plain=$(script update_plain "$(printf "$UPDATE_ONE" customers_plain)")
# The same update audited by hand: one statement that updates the
# unprotected copy and inserts an unchained audit row naming the customer
# and the changed column, what the protected table's rectification entry
# records (without row security, chain or seal).
update_audited=$(script update_audited "WITH u AS (UPDATE bench_writes.customers_plain
	SET email = 'customer' || :id || '.' || random() || '@example.com' WHERE id = :id RETURNING id)
INSERT INTO bench_writes.audit_plain (logged_at, actor, action, customer_id, summary)
SELECT clock_timestamp(), current_user, 'rectification', u.id,
	'{\"table\": \"bench_writes.customers\", \"columns\": [\"email\"]}' FROM u;")
for clients in 1 "$CLIENTS"; do
	label="$clients client$([ "$clients" = 1 ] || echo s)"
	PGOPTIONS="$APP" compare "single-row UPDATE" "$label (fsync on)" \
		"$clients" "$update_protected" "unprotected" "$update_plain"
	PGOPTIONS="$APP" compare "single-row UPDATE" "$label vs an audit row by hand (fsync on)" \
		"$clients" "$update_protected" "unprotected copy plus unchained audit insert" "$update_audited"
done

# wait_sealed: waits (up to 120 s) until the audit log has no unsealed
# entry, so that no timed run shares the machine with the sealing of an
# earlier one; prints how long it waited, in ms.
wait_sealed() {
	PGOPTIONS= bench_psql -At <<'SQL'
DO $$
DECLARE
	started timestamptz := clock_timestamp();
BEGIN
	WHILE (SELECT entries FROM privacy.audit_backlog) > 0 LOOP
		IF clock_timestamp() > started + interval '120 s' THEN
			RAISE EXCEPTION 'the audit log still has unsealed entries after 120 s';
		END IF;
		PERFORM pg_sleep(0.01);
	END LOOP;
	RAISE NOTICE 'waited %', round(extract(epoch FROM clock_timestamp() - started) * 1000, 3);
END
$$;
SQL
}

# bulk_update_ms TABLE RUN: one UPDATE of every row's email in its own
# transaction (psql's autocommit), timed by the client including the
# commit; fails unless it updated N rows. Before it, the audit log's
# earlier entries are sealed, the table is vacuumed and a CHECKPOINT
# writes out what earlier work left in memory, so that each run starts
# from the same state: no earlier write is still reaching the disk while
# it waits for its own WAL's flush, and, as on a server where checkpoints
# come every few minutes, the update writes each page's full image once.
# Prints the UPDATE's time, and that time plus the wait until its own
# entries are sealed.
bulk_update_ms() {
	local out ms sealed
	if ! wait_sealed >/dev/null 2>&1; then
		echo "bulk UPDATE of $1: the audit log still has unsealed entries after 120 s" >&2
		return 1
	fi
	bench_psql -c "VACUUM bench_writes.$1" -c "CHECKPOINT" >/dev/null
	out=$(PGOPTIONS="$APP" bench_psql -c '\timing on' \
		-c "UPDATE bench_writes.$1 SET email = 'run$2.' || id || '@example.com'" -c '\echo updated :ROW_COUNT')
	if ! grep -qx "updated $N" <<<"$out"; then
		printf 'bulk UPDATE of %s: %s\n' "$1" "$out" >&2
		return 1
	fi
	ms=$(sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' <<<"$out")
	sealed=$(wait_sealed 2>&1 >/dev/null | sed -n 's/.*waited \([0-9.]*\).*/\1/p')
	if [ -z "$sealed" ]; then
		echo "bulk UPDATE of $1: its entries were not sealed within 120 s" >&2
		return 1
	fi
	awk -v u="$ms" -v s="$sealed" 'BEGIN { printf "%s %.3f\n", u, u + s }'
}

progress "bulk UPDATE of $N rows ($ROUNDS runs each side)"
bulk_m=()
bulk_m_sealed=()
bulk_b=()
for i in $(seq "$ROUNDS"); do
	read -r ms sealed <<<"$(bulk_update_ms customers "$i")"
	[ -n "$sealed" ] || exit 1
	bulk_m+=("$ms")
	bulk_m_sealed+=("$sealed")
	read -r ms _ <<<"$(bulk_update_ms customers_plain "$i")"
	[ -n "$ms" ] || exit 1
	bulk_b+=("$ms")
done
read -r m_med m_min m_max <<<"$(bench_stats "${bulk_m[@]}")"
read -r s_med s_min s_max <<<"$(bench_stats "${bulk_m_sealed[@]}")"
read -r b_med _ _ <<<"$(bench_stats "${bulk_b[@]}")"
bench_row "bulk UPDATE" "one transaction of $(bench_size "$N" rows) (fsync on)" "$m_med" "$m_min" "$m_max" \
	"unprotected" "$b_med"
bench_row "bulk UPDATE" "the same until its entries are sealed (fsync on)" "$s_med" "$s_min" "$s_max" \
	"unprotected" "$b_med"

grant=$(script grant "SELECT privacy.grant_consent('customer', (:id)::text, 'newsletter');")
grant_hand=$(script grant_hand "SELECT bench_writes.grant_by_hand(:id, 'newsletter');")
compare "grant_consent" "$CLIENTS clients (fsync on)" "$CLIENTS" "$grant" \
	"upsert plus unchained audit insert" "$grant_hand"
grant_records=$(script grant_records "SELECT bench_writes.grant_records_by_hand(:id, 'newsletter');")
compare "grant_consent" "$CLIENTS clients vs the same records by hand (fsync on)" "$CLIENTS" "$grant" \
	"history insert plus upsert plus unchained audit insert" "$grant_records"

export_ext=$(script export "SELECT privacy.export_subject('customer', (:id)::text);")
export_hand=$(script export_hand "SELECT bench_writes.export_by_hand(:id);")
compare "export_subject" "$CLIENTS clients (fsync on)" "$CLIENTS" "$export_ext" \
	"hand-written export plus unchained audit insert" "$export_hand"
export_document=$(script export_document "SELECT bench_writes.export_document_by_hand(:id);")
compare "export_subject" "$CLIENTS clients vs the same document by hand (fsync on)" "$CLIENTS" "$export_ext" \
	"hand-written document plus unchained audit insert" "$export_document"

# The commit-to-seal probe: grants consent to a random customer, commits,
# then polls privacy.audit_log every millisecond until the entry of that
# ledger event is there with its hash (entries later than the newest one
# before the call, read through the primary key), or TIMEOUT seconds have
# passed; raises "probe commit_ms=<call and commit> seal_ms=<wait or
# timeout>", pauses 20 ms, and repeats for SECONDS seconds. What it relies
# on: the entry's action is 'consent.grant' and its summary holds the
# ledger event's id; an entry not yet sealed either is not in the log or
# has no hash.
bench_psql >/dev/null <<'SQL'
CREATE PROCEDURE bench_writes.seal_probe(customers bigint, seconds double precision, timeout double precision)
LANGUAGE plpgsql
AS $$
DECLARE
	deadline timestamptz := clock_timestamp() + make_interval(secs => seconds);
	before bigint;
	event bigint;
	called timestamptz;
	committed timestamptz;
	sealed boolean;
BEGIN
	WHILE clock_timestamp() < deadline LOOP
		SELECT COALESCE(max(a.id), 0) INTO before FROM privacy.audit_log a;
		called := clock_timestamp();
		event := privacy.grant_consent('customer', (1 + floor(random() * customers))::bigint::text, 'newsletter');
		COMMIT;
		committed := clock_timestamp();
		LOOP
			sealed := EXISTS (SELECT FROM privacy.audit_log a
							   WHERE a.id > before AND a.action = 'consent.grant'
								 AND a.summary ->> 'event_id' = event::text AND a.hash IS NOT NULL);
			EXIT WHEN sealed OR clock_timestamp() > committed + make_interval(secs => timeout);
			PERFORM pg_sleep(0.001);
		END LOOP;
		RAISE NOTICE 'probe commit_ms=% seal_ms=%',
			round(extract(epoch FROM committed - called) * 1000, 3),
			CASE WHEN sealed THEN round(extract(epoch FROM clock_timestamp() - committed) * 1000, 3)::text
				 ELSE 'timeout' END;
		COMMIT;
		PERFORM pg_sleep(0.02);
	END LOOP;
END
$$;
SQL

# seal_delay_row: ROUNDS rounds of the 8-client grant_consent load, each
# with the probe running alongside; prints the row of the p99 of the
# probes' waits against the p99 of their own call and commit, or a row of
# N/A if the probe failed or more than 1 % of its entries did not appear
# within 10 s (the p99 is then unknown).
seal_delay_row() {
	local i load out all seal commit per_round=() timeouts name="commit-to-seal delay"
	local case="p99 under the $CLIENTS-client grant_consent load (fsync on)" base="the probe's own call and commit p99"
	: >"$WORK/probes"
	for i in $(seq "$ROUNDS"); do
		progress "$name, round $i of $ROUNDS (${SECS}s)"
		pgbench -n -c "$CLIENTS" -j 2 -T "$SECS" -f "$grant" >"$WORK/seal_load.out" 2>&1 &
		load=$!
		if ! out=$(bench_psql -c "CALL bench_writes.seal_probe($N, $SECS, 10)" 2>&1); then
			wait "$load" || true
			printf '%s\n' "$out" >&2
			bench_row_na "$name" "$case" "$base"
			return 0
		fi
		wait "$load" || { cat "$WORK/seal_load.out" >&2; return 1; }
		sed -n 's/.*probe commit_ms=\([0-9.]*\) seal_ms=\([0-9.]*\|timeout\).*/\1 \2/p' <<<"$out" >"$WORK/round"
		cat "$WORK/round" >>"$WORK/probes"
		per_round+=("$(awk '$2 != "timeout" { print $2 }' "$WORK/round" | bench_p99)")
	done
	timeouts=$(awk '$2 == "timeout"' "$WORK/probes" | wc -l)
	all=$(wc -l <"$WORK/probes")
	progress "$name: $all probes, $timeouts not sealed within 10 s"
	if [ "$all" -eq 0 ] || [ $((timeouts * 100)) -gt "$all" ]; then
		bench_row_na "$name" "$case" "$base"
		return 0
	fi
	seal=$(awk '{ print ($2 == "timeout" ? 10000 : $2) }' "$WORK/probes" | bench_p99)
	commit=$(awk '{ print $1 }' "$WORK/probes" | bench_p99)
	read -r _ r_min r_max <<<"$(bench_stats "${per_round[@]}")"
	bench_row "$name" "$case" "$seal" "$r_min" "$r_max" "$base" "$commit"
}
seal_delay_row
