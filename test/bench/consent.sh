#!/usr/bin/env bash
# Benchmarks of consent-aware row policies (privacy.protect), each against a
# baseline measured in the same run (see lib.sh); prints one CSV row per case.
#
#   bash test/bench/consent.sh [SCALE]     1,000,000 x SCALE protected rows
#
# N rows of events belong to N/10 customers; every customer consented to
# "marketing" and one in ten withdrew. Three copies of the events table hold
# the same rows: events (protected by privacy.protect), events_plain (no row
# security) and events_hand (the hand-written alternative: a row policy with
# an EXISTS subquery on a consent table). Queries run as an ordinary role
# allowed "marketing", with privacy.purpose = 'marketing', each measurement
# in a new connection (so the per-backend cache starts cold every time).
#
# Benchmarks (each with the data size as its case, e.g. "1m rows"):
#   protected scan count and total payload length of every visible row
#                  (target: at most 1.15 times the unprotected scan);
#   pk lookup      N/10 primary-key lookups, one index scan each, fetching
#                  the row, in one statement, reported per lookup (target:
#                  at most 1.05 times as long);
#   protected insert  N/10 rows inserted into a protected table (with the
#                  write check) against the same insert into an unprotected
#                  one (target: at least 0.85 times the throughput, that is
#                  a time ratio of at most 1.18);
#   path scan      the scan of N/10 invoices that reach their customers
#                  through orders, a table without personal columns, with
#                  the orders protected too (as protect() does from version
#                  1.8) against the same tables with the orders left open
#                  (as before): what protecting the path costs;
#   consent import privacy.import_consents() of N/10 subjects' consents to
#                  "newsletter" from a staging table, against a plain
#                  INSERT ... SELECT of the same rows into a table of the
#                  ledger's shape (target: at least 0.5 times its
#                  throughput, a time ratio of at most 2); each run is
#                  rolled back, so every run imports every subject;
# and each protected case against the hand-written policy.
set -euo pipefail
cd "$(dirname "$0")/../.."
. test/bench/lib.sh

SCALE=${1:-${BENCH_SCALE:-1}}
N=$(awk -v s="$SCALE" 'BEGIN { n = int(1000000 * s); print (n > 0 ? n : 10) }')
SUBJECTS=$((N / 10 > 0 ? N / 10 : 1))
PROBES=$((N / 10 > 0 ? N / 10 : 1))
SMALL=$((N / 10 > 0 ? N / 10 : 1))
ROWS=$(bench_size "$N" rows)
SMALL_ROWS=$(bench_size "$SMALL" rows)

cleanup() {
	PGOPTIONS= bench_psql -c "DROP SCHEMA IF EXISTS bench_consent CASCADE" >/dev/null 2>&1 || true
	PGOPTIONS= bench_psql -c "DROP OWNED BY bench_consent_reader" >/dev/null 2>&1 || true
	PGOPTIONS= bench_psql -c "DROP ROLE IF EXISTS bench_consent_reader" >/dev/null 2>&1 || true
}
trap cleanup EXIT
cleanup

bench_psql -v n="$N" -v subjects="$SUBJECTS" -v probes="$PROBES" -v small="$SMALL" >/dev/null <<'SQL'
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS opendims_privacy CASCADE;
CREATE SCHEMA bench_consent;
CREATE TABLE bench_consent.customers (id bigint PRIMARY KEY, name text NOT NULL);
INSERT INTO bench_consent.customers SELECT g, 'Customer ' || g FROM generate_series(1, :subjects) g;

CREATE TABLE bench_consent.events (
	id bigint PRIMARY KEY,
	customer_id bigint NOT NULL REFERENCES bench_consent.customers,
	payload text NOT NULL
);
INSERT INTO bench_consent.events
SELECT g, (g - 1) % :subjects + 1, 'event ' || g || ' of customer ' || ((g - 1) % :subjects + 1)
  FROM generate_series(1, :n) g;
CREATE INDEX ON bench_consent.events (customer_id);
CREATE TABLE bench_consent.events_plain (LIKE bench_consent.events INCLUDING ALL);
ALTER TABLE bench_consent.events_plain ADD FOREIGN KEY (customer_id) REFERENCES bench_consent.customers;
INSERT INTO bench_consent.events_plain SELECT * FROM bench_consent.events;
CREATE TABLE bench_consent.events_hand (LIKE bench_consent.events INCLUDING ALL);
ALTER TABLE bench_consent.events_hand ADD FOREIGN KEY (customer_id) REFERENCES bench_consent.customers;
INSERT INTO bench_consent.events_hand SELECT * FROM bench_consent.events;
-- The first tenth of the rows again, for the cost of a scan against size.
CREATE TABLE bench_consent.events_small (LIKE bench_consent.events INCLUDING ALL);
ALTER TABLE bench_consent.events_small ADD FOREIGN KEY (customer_id) REFERENCES bench_consent.customers;
INSERT INTO bench_consent.events_small SELECT * FROM bench_consent.events WHERE id <= :small;
CREATE TABLE bench_consent.events_small_plain (LIKE bench_consent.events_small INCLUDING ALL);
ALTER TABLE bench_consent.events_small_plain ADD FOREIGN KEY (customer_id) REFERENCES bench_consent.customers;
INSERT INTO bench_consent.events_small_plain SELECT * FROM bench_consent.events_small;

-- Invoices reaching customers through orders (two per customer), and a
-- copy whose orders are left unprotected below.
CREATE TABLE bench_consent.orders (id bigint PRIMARY KEY,
	customer_id bigint NOT NULL REFERENCES bench_consent.customers);
INSERT INTO bench_consent.orders SELECT g, (g - 1) % :subjects + 1 FROM generate_series(1, 2 * :subjects) g;
CREATE INDEX ON bench_consent.orders (customer_id);
CREATE TABLE bench_consent.invoices (id bigint PRIMARY KEY,
	order_id bigint NOT NULL REFERENCES bench_consent.orders, payload text NOT NULL);
INSERT INTO bench_consent.invoices
SELECT g, (g - 1) % (2 * :subjects) + 1, 'invoice ' || g FROM generate_series(1, :small) g;
CREATE INDEX ON bench_consent.invoices (order_id);
CREATE TABLE bench_consent.orders_open (LIKE bench_consent.orders INCLUDING ALL);
ALTER TABLE bench_consent.orders_open ADD FOREIGN KEY (customer_id) REFERENCES bench_consent.customers;
INSERT INTO bench_consent.orders_open SELECT * FROM bench_consent.orders;
CREATE TABLE bench_consent.invoices_open (LIKE bench_consent.invoices INCLUDING ALL);
ALTER TABLE bench_consent.invoices_open ADD FOREIGN KEY (order_id) REFERENCES bench_consent.orders_open;
INSERT INTO bench_consent.invoices_open SELECT * FROM bench_consent.invoices;

-- Empty tables for the insert case, one of each kind.
CREATE TABLE bench_consent.ins (id bigserial PRIMARY KEY,
	customer_id bigint NOT NULL REFERENCES bench_consent.customers, payload text NOT NULL);
CREATE INDEX ON bench_consent.ins (customer_id);
CREATE TABLE bench_consent.ins_plain (LIKE bench_consent.ins INCLUDING ALL);
ALTER TABLE bench_consent.ins_plain ADD FOREIGN KEY (customer_id) REFERENCES bench_consent.customers;
CREATE TABLE bench_consent.ins_hand (LIKE bench_consent.ins INCLUDING ALL);
ALTER TABLE bench_consent.ins_hand ADD FOREIGN KEY (customer_id) REFERENCES bench_consent.customers;

SELECT privacy.apply_policy(jsonb_build_object(
	'format', 1, 'version', 'bench-1', 'effective_date', '2026-06-24',
	'controller', jsonb_build_object('name', 'Bench ApS', 'contact', 'bench@example.com'),
	'purposes', jsonb_build_array(jsonb_build_object('name', 'marketing', 'legal_basis', 'consent'),
		jsonb_build_object('name', 'newsletter', 'legal_basis', 'consent')),
	'subject_kinds', jsonb_build_array(
		jsonb_build_object('name', 'customer', 'table', 'bench_consent.customers', 'key', 'id')),
	'classifications', jsonb_build_array(
		jsonb_build_object('table', 'bench_consent.events', 'column', 'payload', 'category', 'content'),
		jsonb_build_object('table', 'bench_consent.events_small', 'column', 'payload', 'category', 'content'),
		jsonb_build_object('table', 'bench_consent.ins', 'column', 'payload', 'category', 'content'),
		jsonb_build_object('table', 'bench_consent.invoices', 'column', 'payload', 'category', 'content'),
		jsonb_build_object('table', 'bench_consent.invoices_open', 'column', 'payload', 'category', 'content')))::text);
SELECT privacy.protect('bench_consent.events');
SELECT privacy.protect('bench_consent.events_small');
SELECT privacy.protect('bench_consent.ins');
SELECT privacy.protect('bench_consent.invoices');
SELECT privacy.protect('bench_consent.invoices_open');
-- The path left open, as protect() left it before version 1.8.
ALTER TABLE bench_consent.orders_open NO FORCE ROW LEVEL SECURITY, DISABLE ROW LEVEL SECURITY;

-- The ledger, loaded as a restore would: every customer consents, one in
-- ten withdraws (the trigger on the ledger maintains the state).
INSERT INTO privacy.consent_ledger (actor, kind, subject, action, purpose, source, policy_version)
SELECT current_user, 'customer', g::text, 'consent.grant', 'marketing', 'direct', 'bench-1'
  FROM generate_series(1, :subjects) g;
INSERT INTO privacy.consent_ledger (actor, kind, subject, action, purpose, source, policy_version)
SELECT current_user, 'customer', g::text, 'consent.withdraw', 'marketing', 'direct', 'bench-1'
  FROM generate_series(10, :subjects, 10) g;

-- The hand-written alternative: a consent table and an EXISTS policy.
CREATE TABLE bench_consent.consents (customer_id bigint, purpose text, granted boolean NOT NULL,
	PRIMARY KEY (customer_id, purpose));
INSERT INTO bench_consent.consents SELECT g, 'marketing', g % 10 <> 0 FROM generate_series(1, :subjects) g;
ALTER TABLE bench_consent.events_hand ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY consented ON bench_consent.events_hand
	USING (EXISTS (SELECT 1 FROM bench_consent.consents k
				   WHERE k.customer_id = events_hand.customer_id
					 AND k.purpose = current_setting('privacy.purpose', true) AND k.granted));
ALTER TABLE bench_consent.ins_hand ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY consented ON bench_consent.ins_hand
	USING (true)
	WITH CHECK (EXISTS (SELECT 1 FROM bench_consent.consents k
						WHERE k.customer_id = ins_hand.customer_id
						  AND k.purpose = current_setting('privacy.purpose', true) AND k.granted));

-- Point lookups of random rows (one in ten of a withdrawn customer).
CREATE TABLE bench_consent.probes AS
SELECT id FROM bench_consent.events ORDER BY random() LIMIT :probes;
-- Rows to insert: only consenting customers (a refused row ends the statement).
CREATE TABLE bench_consent.new_rows AS
SELECT (g - 1) % :subjects + 1 AS customer_id, 'new event ' || g AS payload
  FROM generate_series(1, :probes) g WHERE ((g - 1) % :subjects + 1) % 10 <> 0;

-- The consent import and its baseline, each run in a subtransaction that
-- is rolled back so that the next run imports the same subjects again.
CREATE TABLE bench_consent.staging AS
SELECT g AS subject, timestamptz '2024-01-01' + g * interval '1 second' AS granted_at
  FROM generate_series(1, :subjects) g;
CREATE TABLE bench_consent.plain_ledger (LIKE privacy.consent_ledger
	INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING INDEXES INCLUDING IDENTITY);
CREATE FUNCTION bench_consent.undone(sql text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE sql;
	RAISE EXCEPTION USING ERRCODE = 'P0001', MESSAGE = 'undo';
EXCEPTION WHEN raise_exception THEN
	NULL;
END
$$;

CREATE ROLE bench_consent_reader;
GRANT USAGE ON SCHEMA bench_consent TO bench_consent_reader;
GRANT SELECT ON ALL TABLES IN SCHEMA bench_consent TO bench_consent_reader;
GRANT INSERT ON bench_consent.ins, bench_consent.ins_plain, bench_consent.ins_hand TO bench_consent_reader;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA bench_consent TO bench_consent_reader;
SELECT privacy.allow_purpose('marketing', 'bench_consent_reader');
VACUUM ANALYZE;
SQL

# Every measured connection: the ordinary role, declaring "marketing"; the
# import runs as the DBA who set the bench up.
SUPERUSER_OPTIONS=${PGOPTIONS:-}
export PGOPTIONS="${PGOPTIONS:-} -c role=bench_consent_reader -c privacy.purpose=marketing"

# Sanity: the protected and hand-written tables show the same rows.
visible=$(bench_psql -At -c "SELECT (SELECT count(*) FROM bench_consent.events) || ' ' ||
	(SELECT count(*) FROM bench_consent.events_hand) || ' ' || (SELECT count(*) FROM bench_consent.events_plain)")
read -r protected hand plain <<<"$visible"
if [ "$protected" != "$hand" ] || [ "$protected" -ge "$plain" ]; then
	echo "protected ($protected), hand-written ($hand) and unprotected ($plain) row counts disagree" >&2
	exit 1
fi
visible=$(bench_psql -At -c "SELECT (SELECT count(*) FROM bench_consent.invoices) || ' ' ||
	(SELECT count(*) FROM bench_consent.invoices_open)")
read -r path_protected path_open <<<"$visible"
if [ "$path_protected" != "$path_open" ] || [ "$path_protected" -eq 0 ]; then
	echo "invoices with the path protected ($path_protected) and open ($path_open) disagree" >&2
	exit 1
fi

SCAN="SELECT count(*), sum(length(payload)) FROM bench_consent.%s"
# A lookup fetches the row: counting matches alone would let the
# unprotected table answer from its index without reading the row.
LOOKUP="SELECT count(*), sum(length(x.payload)) FROM bench_consent.probes p, LATERAL (SELECT e.payload FROM bench_consent.%s e WHERE e.id = p.id LIMIT 1) x"
INSERT="INSERT INTO bench_consent.%s (customer_id, payload) SELECT customer_id, payload FROM bench_consent.new_rows"
IMPORT="SELECT bench_consent.undone(\$\$SELECT privacy.import_consents('customer', 'newsletter', 'direct', 'bench_consent.staging', '{\"store\": \"bench\"}')\$\$)"
PLAIN_IMPORT="SELECT bench_consent.undone(\$\$INSERT INTO bench_consent.plain_ledger (actor, kind, subject, action, purpose, source, policy_version, evidence) SELECT current_user, 'customer', s.subject::text, 'consent.grant', 'newsletter', 'direct', 'bench-1', jsonb_build_object('store', 'bench', 'imported', true, 'granted_at', s.granted_at) FROM bench_consent.staging s\$\$)"

# shellcheck disable=SC2059
{
	bench_compare "protected scan" "$SMALL_ROWS" "$(printf "$SCAN" events_small)" \
		"unprotected" "$(printf "$SCAN" events_small_plain)"
	bench_compare "protected scan" "$ROWS" "$(printf "$SCAN" events)" \
		"unprotected" "$(printf "$SCAN" events_plain)"
	bench_compare "protected scan vs hand-written" "$ROWS" "$(printf "$SCAN" events)" \
		"EXISTS policy" "$(printf "$SCAN" events_hand)"
	bench_compare_per_call "$PROBES" "pk lookup" "$ROWS" "$(printf "$LOOKUP" events)" \
		"unprotected" "$(printf "$LOOKUP" events_plain)"
	bench_compare_per_call "$PROBES" "pk lookup vs hand-written" "$ROWS" "$(printf "$LOOKUP" events)" \
		"EXISTS policy" "$(printf "$LOOKUP" events_hand)"
	bench_compare "protected insert" "$ROWS" "$(printf "$INSERT" ins)" \
		"unprotected" "$(printf "$INSERT" ins_plain)"
	bench_compare "protected insert vs hand-written" "$ROWS" "$(printf "$INSERT" ins)" \
		"EXISTS policy" "$(printf "$INSERT" ins_hand)"
	bench_compare "path scan" "$SMALL_ROWS" "$(printf "$SCAN" invoices)" \
		"path open" "$(printf "$SCAN" invoices_open)"
	PGOPTIONS=$SUPERUSER_OPTIONS bench_compare "consent import vs plain INSERT" \
		"$(bench_size "$SUBJECTS" subjects)" "$IMPORT" "INSERT ... SELECT" "$PLAIN_IMPORT"
}
