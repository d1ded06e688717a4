#!/usr/bin/env bash
# Benchmarks of the data-subject rights (issue #5): privacy.export_subject
# and privacy.erase_subject against the hand-written SQL an application
# would otherwise run, at two data sizes; prints one CSV row per case (see
# lib.sh).
#
#   bash test/bench/rights.sh [SCALE]     SCALE multiplies the data (default 1)
#
# Data: schema bench_rights, ten tables that all reach the subject kind
# "customer" through foreign keys, every foreign key indexed:
#   customers <- addresses, orders <- order_lines, invoices <- payments,
#   tickets <- messages, events, logins
# Every customer has the same shape, 20 rows in all (1 customer, 1 address,
# 3 orders, 6 order lines, 2 invoices, 2 payments, 1 ticket, 2 messages,
# 1 event, 1 login), so 100k subjects are 2M rows at SCALE 1. Every table
# has classified columns; the policy document (built with jsonb_build_object
# and loaded with privacy.apply_policy) has no retention rule, so erasure
# deletes all 20 rows and the hand-written DELETEs do the same work.
#
# Cases, at 100k subjects and again after growing the data to 10 times that
# (1m subjects, 20M rows), each timed as RIGHTS_CALLS calls (default 200,
# fewer below scale 0.2: see CALLS) on different subjects inside one DO
# block, reported per call. Both sides
# run in one session, as an application's pooled connection would call
# them: each once to warm the session, then alternately (bench_compare_warm);
# what a new session costs is its own case:
#   export      privacy.export_subject('customer', id) against the export an
#               application would write by hand (one indexed SELECT per
#               table aggregated with jsonb_agg into one jsonb) plus the
#               audit entry every export writes (privacy_internal._audit), for the
#               same subjects (target: at most 1.3 times as long);
#   erasure     privacy.erase_subject('customer', id, reason) against
#               hand-written DELETEs in foreign-key order plus the audit
#               entry and the row of privacy.erasures holding the receipt
#               (one taken from a real erasure); erasure destroys its
#               subjects, so every run (measured and baseline alternately)
#               takes fresh ones (target: at most 1.3 times);
#   hand-written plus audit entry (export), hand-written plus audit entry
#   and erasure record (erasure)   what those requirements cost by
#               themselves: the baselines above against the hand-written SQL
#               alone;
#   export, first call after unrelated DDL   in one session, alternately
#               an export right after a CREATE TEMP TABLE and a warm export,
#               each one call of a function that times it (target: at most
#               2 times the warm call); the session has had a temporary
#               table before, as an application that makes them has;
#   export, first call after the session's first temporary table   the
#               same in a new session, whose first CREATE TEMP TABLE gives
#               it a temporary schema, which PostgreSQL answers by planning
#               every cached statement of the session again (the
#               hand-written export's too: its figure is the baseline);
#   per-call growth at 10x data   the time per call at 10 times the data
#               against the time per call before growing it, for the
#               extension and its baseline (the hand-written SQL with the
#               audit entry, and the erasure record), and the extension's
#               growth against the baseline's (target: no more);
#   export, first call in a new session   one export as the first statement
#               of a new connection (planning, compiling the functions,
#               reading the catalogs and building the session's subject
#               cache), against the hand-written export's.
# Before timing, one export and one erasure are run and checked against the
# hand-written result.
set -euo pipefail
cd "$(dirname "$0")/../.."
. test/bench/lib.sh

SCALE=${1:-${BENCH_SCALE:-1}}
SMALL=$(awk -v s="$SCALE" 'BEGIN { printf "%d", 100000 * s + 0.5 }')
LARGE=$((SMALL * 10))
# Subjects each size uses up: one export set, and one fresh batch per
# erasure run (the warm-up run and BENCH_RUNS timed runs, on both sides, of
# two comparisons). The calls per run scale with the data: 200 from scale
# 0.2 up, fewer below, as many as the smaller size has subjects for
# (20 at scale 0.02, 1 at the smallest scale, 0.001 with 5 runs).
BATCHES=$((4 * (BENCH_RUNS + 1)))
FIT=$((SMALL / (4 * (BATCHES + 1))))
CALLS=${RIGHTS_CALLS:-$((FIT < 200 ? FIT : 200))}
if [ "$CALLS" -lt 1 ] || [ "$SMALL" -lt $((4 * (BATCHES + 1) * CALLS)) ]; then
	echo "rights.sh: scale $SCALE gives $SMALL subjects, too few for ${CALLS} calls per run" \
		"(with $BENCH_RUNS runs, the smallest scale is $(awk -v n=$((4 * (BATCHES + 1))) 'BEGIN { print n / 100000 }'))" >&2
	exit 2
fi

progress() { printf 'rights: %s\n' "$*" >&2; }

cleanup() {
	bench_psql -c "DROP SCHEMA IF EXISTS bench_rights CASCADE" >/dev/null 2>&1 || true
}
trap cleanup EXIT

progress "creating the schema and the policy"
bench_psql -v version="bench-rights-$SCALE" >/dev/null <<'SQL'
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS opendims_privacy CASCADE;
DROP SCHEMA IF EXISTS bench_rights CASCADE;
CREATE SCHEMA bench_rights;

CREATE TABLE bench_rights.customers (
	id bigint PRIMARY KEY,
	name text NOT NULL,
	email text NOT NULL,
	phone text,
	created_at timestamptz NOT NULL
);
CREATE TABLE bench_rights.addresses (
	id bigint PRIMARY KEY,
	customer_id bigint NOT NULL REFERENCES bench_rights.customers,
	street text NOT NULL,
	postcode text NOT NULL,
	city text NOT NULL
);
CREATE TABLE bench_rights.orders (
	id bigint PRIMARY KEY,
	customer_id bigint NOT NULL REFERENCES bench_rights.customers,
	placed_at timestamptz NOT NULL,
	delivery_address text,
	total numeric(10, 2) NOT NULL
);
CREATE TABLE bench_rights.order_lines (
	id bigint PRIMARY KEY,
	order_id bigint NOT NULL REFERENCES bench_rights.orders,
	product text NOT NULL,
	quantity integer NOT NULL,
	gift_message text
);
CREATE TABLE bench_rights.invoices (
	id bigint PRIMARY KEY,
	customer_id bigint NOT NULL REFERENCES bench_rights.customers,
	issued_on date NOT NULL,
	billing_name text,
	amount numeric(10, 2) NOT NULL
);
CREATE TABLE bench_rights.payments (
	id bigint PRIMARY KEY,
	invoice_id bigint NOT NULL REFERENCES bench_rights.invoices,
	paid_at timestamptz NOT NULL,
	card_last4 text,
	amount numeric(10, 2) NOT NULL
);
CREATE TABLE bench_rights.tickets (
	id bigint PRIMARY KEY,
	customer_id bigint NOT NULL REFERENCES bench_rights.customers,
	opened_at timestamptz NOT NULL,
	subject text
);
CREATE TABLE bench_rights.messages (
	id bigint PRIMARY KEY,
	ticket_id bigint NOT NULL REFERENCES bench_rights.tickets,
	sent_at timestamptz NOT NULL,
	body text
);
CREATE TABLE bench_rights.events (
	id bigint PRIMARY KEY,
	customer_id bigint NOT NULL REFERENCES bench_rights.customers,
	happened_at timestamptz NOT NULL,
	ip text,
	user_agent text
);
CREATE TABLE bench_rights.logins (
	id bigint PRIMARY KEY,
	customer_id bigint NOT NULL REFERENCES bench_rights.customers,
	logged_in_at timestamptz NOT NULL,
	ip text,
	username text
);
CREATE INDEX ON bench_rights.addresses (customer_id);
CREATE INDEX ON bench_rights.orders (customer_id);
CREATE INDEX ON bench_rights.order_lines (order_id);
CREATE INDEX ON bench_rights.invoices (customer_id);
CREATE INDEX ON bench_rights.payments (invoice_id);
CREATE INDEX ON bench_rights.tickets (customer_id);
CREATE INDEX ON bench_rights.messages (ticket_id);
CREATE INDEX ON bench_rights.events (customer_id);
CREATE INDEX ON bench_rights.logins (customer_id);

-- Customers first .. last, 20 rows each, with keys derived from the
-- customer's, so that the data can grow by filling the next range. Rows
-- are consistent by construction; the caller may skip the per-row
-- foreign-key checks (session_replication_role = replica).
CREATE FUNCTION bench_rights.fill(first bigint, last bigint)
RETURNS void
LANGUAGE sql
BEGIN ATOMIC
	INSERT INTO bench_rights.customers
	SELECT s, 'Customer ' || s, 'customer' || s || '@mail' || s % 1000 || '.example.com',
		   '+4520' || lpad((s % 1000000)::text, 6, '0'),
		   timestamptz '2020-01-01' + s * interval '1 minute'
	  FROM generate_series(first, last) s;
	INSERT INTO bench_rights.addresses
	SELECT s, s, s % 500 || ' Example Street', lpad((1000 + s % 9000)::text, 4, '0'), 'Town ' || s % 300
	  FROM generate_series(first, last) s;
	INSERT INTO bench_rights.orders
	SELECT (s - 1) * 3 + j, s, timestamptz '2024-01-01' + ((s * 3 + j) % 50000) * interval '1 hour',
		   s % 500 || ' Example Street, Town ' || s % 300, (s * 7 + j) % 1000 + 0.95
	  FROM generate_series(first, last) s, generate_series(1, 3) j;
	INSERT INTO bench_rights.order_lines
	SELECT (o - 1) * 2 + j, o, 'Product ' || (o * 2 + j) % 5000, 1 + j,
		   CASE WHEN j = 1 THEN 'Happy birthday from order ' || o END
	  FROM generate_series((first - 1) * 3 + 1, last * 3) o, generate_series(1, 2) j;
	INSERT INTO bench_rights.invoices
	SELECT (s - 1) * 2 + j, s, date '2024-01-01' + ((s + j) % 700)::integer, 'Customer ' || s,
		   (s * 11 + j) % 2000 + 0.5
	  FROM generate_series(first, last) s, generate_series(1, 2) j;
	INSERT INTO bench_rights.payments
	SELECT i, i, timestamptz '2024-01-02' + (i % 50000) * interval '1 hour',
		   lpad((i % 10000)::text, 4, '0'), (i * 11) % 2000 + 0.5
	  FROM generate_series((first - 1) * 2 + 1, last * 2) i;
	INSERT INTO bench_rights.tickets
	SELECT s, s, timestamptz '2024-03-01' + (s % 50000) * interval '1 hour', 'Question about order ' || s * 3
	  FROM generate_series(first, last) s;
	INSERT INTO bench_rights.messages
	SELECT (s - 1) * 2 + j, s, timestamptz '2024-03-01' + (s % 50000) * interval '1 hour' + j * interval '5 minutes',
		   CASE WHEN j = 1 THEN 'Hello, where is my parcel? Regards, customer ' || s
				ELSE 'Your parcel is on its way. Kind regards, support' END
	  FROM generate_series(first, last) s, generate_series(1, 2) j;
	INSERT INTO bench_rights.events
	SELECT s, s, timestamptz '2024-01-01' + (s % 90000) * interval '1 minute',
		   '10.' || s / 65536 % 256 || '.' || s / 256 % 256 || '.' || s % 256,
		   'Mozilla/5.0 (X11; Linux x86_64; rv:' || 100 + s % 30 || '.0) Gecko/20100101 Firefox'
	  FROM generate_series(first, last) s;
	INSERT INTO bench_rights.logins
	SELECT s, s, timestamptz '2024-01-01' + (s % 90000) * interval '1 minute',
		   '10.' || s / 65536 % 256 || '.' || s / 256 % 256 || '.' || s % 256, 'user' || s
	  FROM generate_series(first, last) s;
END;

-- The export an application would write by hand: one indexed SELECT per
-- table, aggregated with jsonb_agg into one jsonb; PL/pgSQL keeps its plan,
-- as a prepared statement would.
CREATE FUNCTION bench_rights.export_by_hand(customer_key bigint)
RETURNS jsonb
LANGUAGE plpgsql STABLE
AS $$
BEGIN
	RETURN jsonb_build_object(
		'bench_rights.customers',
			(SELECT jsonb_agg(to_jsonb(c)) FROM bench_rights.customers c WHERE c.id = customer_key),
		'bench_rights.addresses',
			(SELECT jsonb_agg(to_jsonb(a)) FROM bench_rights.addresses a WHERE a.customer_id = customer_key),
		'bench_rights.orders',
			(SELECT jsonb_agg(to_jsonb(o)) FROM bench_rights.orders o WHERE o.customer_id = customer_key),
		'bench_rights.order_lines',
			(SELECT jsonb_agg(to_jsonb(l)) FROM bench_rights.order_lines l
			   JOIN bench_rights.orders o ON o.id = l.order_id WHERE o.customer_id = customer_key),
		'bench_rights.invoices',
			(SELECT jsonb_agg(to_jsonb(i)) FROM bench_rights.invoices i WHERE i.customer_id = customer_key),
		'bench_rights.payments',
			(SELECT jsonb_agg(to_jsonb(p)) FROM bench_rights.payments p
			   JOIN bench_rights.invoices i ON i.id = p.invoice_id WHERE i.customer_id = customer_key),
		'bench_rights.tickets',
			(SELECT jsonb_agg(to_jsonb(t)) FROM bench_rights.tickets t WHERE t.customer_id = customer_key),
		'bench_rights.messages',
			(SELECT jsonb_agg(to_jsonb(m)) FROM bench_rights.messages m
			   JOIN bench_rights.tickets t ON t.id = m.ticket_id WHERE t.customer_id = customer_key),
		'bench_rights.events',
			(SELECT jsonb_agg(to_jsonb(e)) FROM bench_rights.events e WHERE e.customer_id = customer_key),
		'bench_rights.logins',
			(SELECT jsonb_agg(to_jsonb(g)) FROM bench_rights.logins g WHERE g.customer_id = customer_key));
END
$$;

-- The erasure an application would write by hand: DELETEs in foreign-key
-- order, children first.
CREATE FUNCTION bench_rights.erase_by_hand(customer_key bigint)
RETURNS void
LANGUAGE plpgsql
AS $$
BEGIN
	DELETE FROM bench_rights.order_lines l USING bench_rights.orders o
	 WHERE l.order_id = o.id AND o.customer_id = customer_key;
	DELETE FROM bench_rights.payments p USING bench_rights.invoices i
	 WHERE p.invoice_id = i.id AND i.customer_id = customer_key;
	DELETE FROM bench_rights.messages m USING bench_rights.tickets t
	 WHERE m.ticket_id = t.id AND t.customer_id = customer_key;
	DELETE FROM bench_rights.addresses a WHERE a.customer_id = customer_key;
	DELETE FROM bench_rights.orders o WHERE o.customer_id = customer_key;
	DELETE FROM bench_rights.invoices i WHERE i.customer_id = customer_key;
	DELETE FROM bench_rights.tickets t WHERE t.customer_id = customer_key;
	DELETE FROM bench_rights.events e WHERE e.customer_id = customer_key;
	DELETE FROM bench_rights.logins g WHERE g.customer_id = customer_key;
	DELETE FROM bench_rights.customers c WHERE c.id = customer_key;
END
$$;

-- What the issue requires besides the data, by itself: the audit entry of
-- an export, and for an erasure also the row of privacy.erasures with its
-- receipt (sample_receipt holds one from a real erasure).
CREATE TABLE bench_rights.sample_receipt (receipt jsonb NOT NULL);

CREATE FUNCTION bench_rights.export_by_hand_audited(customer_key bigint)
RETURNS jsonb
LANGUAGE plpgsql
AS $$
DECLARE
	result jsonb := bench_rights.export_by_hand(customer_key);
BEGIN
	PERFORM privacy_internal._audit(SESSION_USER, 'export', 'customer', customer_key::text, NULL,
						   jsonb_build_object('tables', 10, 'rows', 20));
	RETURN result;
END
$$;

CREATE FUNCTION bench_rights.erase_by_hand_recorded(customer_key bigint)
RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
	receipt jsonb := (SELECT r.receipt FROM bench_rights.sample_receipt r);
BEGIN
	PERFORM bench_rights.erase_by_hand(customer_key);
	INSERT INTO privacy.erasures (kind, subject_ref, erased_at, reason, receipt)
	VALUES ('customer', privacy.subject_ref('customer', customer_key::text), now(), 'benchmark', receipt);
	PERFORM privacy_internal._audit(SESSION_USER, 'erasure', 'customer', customer_key::text, NULL,
						   receipt - 'tables' - 'subject_ref' - 'kind' - 'ledgers');
END
$$;

-- The subjects the exports read (n = 1 ..), and the pool of subjects the
-- erasures use up, one batch per timed statement.
CREATE TABLE bench_rights.export_subjects (n integer PRIMARY KEY, subject bigint NOT NULL);
CREATE TABLE bench_rights.erase_pool (batch bigint NOT NULL, subject bigint PRIMARY KEY);
CREATE INDEX ON bench_rights.erase_pool (batch);
CREATE SEQUENCE bench_rights.erase_batches;

-- The next unused batch of subjects to erase.
CREATE FUNCTION bench_rights.next_erase_batch()
RETURNS bigint[]
LANGUAGE plpgsql
AS $$
DECLARE
	b bigint := nextval('bench_rights.erase_batches');
	subjects bigint[];
BEGIN
	SELECT array_agg(p.subject ORDER BY p.subject) INTO subjects
	  FROM bench_rights.erase_pool p WHERE p.batch = b;
	IF subjects IS NULL THEN
		RAISE EXCEPTION 'the pool of subjects to erase is used up (batch %)', b;
	END IF;
	RETURN subjects;
END
$$;

-- The timed statements: calls exports of the export subjects, or the
-- erasure of the next batch, through the extension ('extension'), by hand
-- ('hand'), or by hand with what the issue requires besides ('hand_audited',
-- 'hand_recorded').
CREATE FUNCTION bench_rights.run_export(how text, calls integer)
RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
	s bigint;
BEGIN
	FOR s IN SELECT e.subject FROM bench_rights.export_subjects e WHERE e.n <= calls ORDER BY e.n LOOP
		CASE how
			WHEN 'extension' THEN PERFORM privacy.export_subject('customer', s::text);
			WHEN 'hand' THEN PERFORM bench_rights.export_by_hand(s);
			WHEN 'hand_audited' THEN PERFORM bench_rights.export_by_hand_audited(s);
		END CASE;
	END LOOP;
END
$$;

CREATE FUNCTION bench_rights.run_erasure(how text)
RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
	s bigint;
BEGIN
	FOREACH s IN ARRAY bench_rights.next_erase_batch() LOOP
		CASE how
			WHEN 'extension' THEN PERFORM privacy.erase_subject('customer', s::text, 'benchmark');
			WHEN 'hand' THEN PERFORM bench_rights.erase_by_hand(s);
			WHEN 'hand_recorded' THEN PERFORM bench_rights.erase_by_hand_recorded(s);
		END CASE;
	END LOOP;
END
$$;

-- One export of a subject, timed inside the session (in ms), for the cases
-- that time a single call.
CREATE FUNCTION bench_rights.time_export(how text, s bigint)
RETURNS double precision
LANGUAGE plpgsql
AS $$
DECLARE
	t0 timestamptz := clock_timestamp();
BEGIN
	IF how = 'extension' THEN
		PERFORM privacy.export_subject('customer', s::text);
	ELSE
		PERFORM bench_rights.export_by_hand(s);
	END IF;
	RETURN extract(epoch FROM clock_timestamp() - t0) * 1000;
END
$$;

-- The policy: one subject kind, a classified column or more in every table.
SELECT privacy.apply_policy(jsonb_build_object(
	'format', 1,
	'version', :'version',
	'effective_date', '2026-01-01',
	'controller', jsonb_build_object('name', 'Benchmark Shop ApS', 'contact', 'privacy@example.com'),
	'purposes', jsonb_build_array(
		jsonb_build_object('name', 'service', 'legal_basis', 'contract', 'description', 'Selling and delivering orders'),
		jsonb_build_object('name', 'support', 'legal_basis', 'contract', 'description', 'Answering customers'),
		jsonb_build_object('name', 'security', 'legal_basis', 'legitimate_interest', 'description', 'Keeping accounts safe')),
	'categories', jsonb_build_array(
		jsonb_build_object('name', 'commerce', 'description', 'What a customer bought and paid'),
		jsonb_build_object('name', 'commerce.gift_message', 'description', 'Messages written on gifts'),
		jsonb_build_object('name', 'commerce.payment', 'description', 'Payment card details')),
	'recipients', jsonb_build_array(
		jsonb_build_object('name', 'staff', 'kind', 'internal', 'purposes', jsonb_build_array('service', 'support')),
		jsonb_build_object('name', 'hosting', 'kind', 'processor', 'dpa_reference', 'DPA-BENCH-1',
						   'purposes', jsonb_build_array('service', 'support', 'security'))),
	'subject_kinds', jsonb_build_array(
		jsonb_build_object('name', 'customer', 'table', 'bench_rights.customers', 'key', 'id')),
	'classifications', (
		SELECT jsonb_agg(jsonb_build_object('table', 'bench_rights.' || c.t, 'column', c.col, 'category', c.cat))
		  FROM (VALUES ('customers', 'name', 'contact.name'), ('customers', 'email', 'contact.email'),
					   ('customers', 'phone', 'contact.phone'),
					   ('addresses', 'street', 'contact.address'), ('addresses', 'postcode', 'contact.address'),
					   ('addresses', 'city', 'contact.address'),
					   ('orders', 'delivery_address', 'contact.address'),
					   ('order_lines', 'gift_message', 'commerce.gift_message'),
					   ('invoices', 'billing_name', 'contact.name'),
					   ('payments', 'card_last4', 'commerce.payment'),
					   ('tickets', 'subject', 'support'), ('messages', 'body', 'support'),
					   ('events', 'ip', 'credentials.ip_address'), ('events', 'user_agent', 'credentials.behaviour'),
					   ('logins', 'ip', 'credentials.ip_address'), ('logins', 'username', 'credentials.username'))
			   AS c(t, col, cat)))::text);

-- Every table reaches the subject through one indexed path.
DO $check$
DECLARE
	bad text;
BEGIN
	SELECT string_agg(format('%s (%s, indexed %s)', m.table_name, m.status, m.indexed), ', ') INTO bad
	  FROM privacy.subject_map m
	 WHERE m.table_name::text LIKE 'bench_rights.%'
	   AND (m.kind IS DISTINCT FROM 'customer' OR m.status NOT IN ('anchor', 'ok') OR NOT m.personal
			OR (m.status = 'ok' AND NOT m.indexed));
	IF bad IS NOT NULL OR (SELECT count(*) FROM privacy.subject_map m WHERE m.kind = 'customer') <> 10 THEN
		RAISE EXCEPTION 'unexpected subject map: %', COALESCE(bad, 'not 10 tables');
	END IF;
END
$check$;
SQL

# grow FIRST LAST: adds customers FIRST .. LAST with their rows, skipping
# the per-row foreign-key checks, then vacuums and analyzes the benchmark's
# tables, so that both sizes are timed in the state autovacuum would reach.
# The extension's own tables are left to autovacuum, as on a real server: a
# manual VACUUM of the audit log or the erasure records while they are still
# empty would record them as empty, and a plan a session makes from that
# (a sequential scan) would stay while they grow during the measurement.
grow() {
	progress "loading customers $1 .. $2 ($(bench_size $((($2 - $1 + 1) * 20)) rows))"
	bench_psql -v first="$1" -v last="$2" >/dev/null <<'SQL'
SET session_replication_role = replica;
SELECT bench_rights.fill(:first, :last);
RESET session_replication_role;
SELECT 'VACUUM (ANALYZE) ' || string_agg(c.oid::regclass::text, ', ')
  FROM pg_class c WHERE c.relnamespace = 'bench_rights'::regnamespace AND c.relkind = 'r'
\gexec
SQL
}

# pick_subjects: at random among the subjects not picked before, an export
# set of CALLS + 1 subjects (the last one for the check), one subject to
# erase in the check (batch 0) and BATCHES batches of CALLS subjects for the
# timed erasures, numbered from the next value of the batch counter.
pick_subjects() {
	bench_psql -v calls="$CALLS" -v batches="$BATCHES" >/dev/null <<'SQL'
TRUNCATE bench_rights.export_subjects;
CREATE TEMP TABLE picked AS
SELECT c.id, row_number() OVER () AS r
  FROM (SELECT c.id FROM bench_rights.customers c
		 WHERE NOT EXISTS (SELECT FROM bench_rights.erase_pool p WHERE p.subject = c.id)
		 ORDER BY random() LIMIT :calls * (:batches + 1) + 2) c;
INSERT INTO bench_rights.export_subjects SELECT r, id FROM picked WHERE r <= :calls + 1;
INSERT INTO bench_rights.erase_pool SELECT 0, id FROM picked WHERE r = :calls + 2;
INSERT INTO bench_rights.erase_pool
SELECT s.last_value + s.is_called::integer + (p.r - :calls - 3) / :calls, p.id
  FROM picked p, bench_rights.erase_batches s
 WHERE p.r > :calls + 2;
SQL
}

# check SIZE: warms the plan cache, then checks that the extension's
# export of a subject (the last of the export set, which the timed runs do
# not read) holds exactly the rows of the hand-written one, and that the
# erasure of the subject of batch 0 deletes all 20 of its rows; keeps that
# erasure's receipt as the sample.
check() {
	progress "checking one export and one erasure at $1"
	bench_psql >/dev/null <<'SQL'
DO $check$
DECLARE
	s bigint := (SELECT e.subject FROM bench_rights.export_subjects e ORDER BY e.n DESC LIMIT 1);
	x bigint := (SELECT p.subject FROM bench_rights.erase_pool p
				  JOIN bench_rights.customers c ON c.id = p.subject WHERE p.batch = 0);
	ours jsonb;
	theirs jsonb;
	receipt jsonb;
BEGIN
	SELECT jsonb_object_agg(t.key, (SELECT jsonb_agg(r ORDER BY r ->> 'id')
									  FROM jsonb_array_elements(t.value -> 'rows') r))
	  INTO ours
	  FROM jsonb_each(privacy.export_subject('customer', s::text) -> 'data') t;
	SELECT jsonb_object_agg(t.key, (SELECT jsonb_agg(r ORDER BY r ->> 'id')
									  FROM jsonb_array_elements(t.value) r))
	  INTO theirs
	  FROM jsonb_each(bench_rights.export_by_hand(s)) t;
	IF ours IS DISTINCT FROM theirs THEN
		RAISE EXCEPTION 'the export of subject % differs from the hand-written one', s;
	END IF;
	receipt := privacy.erase_subject('customer', x::text, 'benchmark check');
	IF (receipt ->> 'rows_deleted')::integer IS DISTINCT FROM 20
	   OR EXISTS (SELECT FROM bench_rights.customers c WHERE c.id = x) THEN
		RAISE EXCEPTION 'the erasure of subject % deleted % rows, not 20', x, receipt ->> 'rows_deleted';
	END IF;
	TRUNCATE bench_rights.sample_receipt;
	INSERT INTO bench_rights.sample_receipt VALUES (receipt);
END
$check$;
SQL
}

# valid ROW: whether a CSV row holds positive medians on both sides.
valid() {
	awk -F, 'NF == 8 && $3 > 0 && $7 > 0 { ok = 1 } END { exit !ok }' <<<"$1"
}

# compare_calls BENCHMARK CASE MEASURED_SQL BASELINE_NAME BASELINE_SQL:
# bench_compare_warm per call, failing unless both sides were timed.
compare_calls() {
	local row
	row=$(bench_compare_warm "$@" | bench_per_call "$CALLS")
	valid "$row" || { echo "rights.sh: $1 at $2 failed" >&2; exit 1; }
	echo "$row"
}

# measure SIZE: the export and erasure rows at the current data size, and
# what the audit entry and the erasure record cost by themselves; sets
# export_row and erasure_row.
measure() {
	local size=$1 first
	progress "timing export at $size ($CALLS calls per run, one session)"
	export_row=$(compare_calls export "$size" \
		"SELECT bench_rights.run_export('extension', $CALLS)" \
		"hand-written export plus audit entry" \
		"SELECT bench_rights.run_export('hand_audited', $CALLS)")
	echo "$export_row"
	compare_calls export "hand-written plus audit entry $size" \
		"SELECT bench_rights.run_export('hand_audited', $CALLS)" \
		"hand-written SELECTs with jsonb_agg" \
		"SELECT bench_rights.run_export('hand', $CALLS)"
	progress "timing erasure at $size ($CALLS calls per run, one session, fresh subjects each run)"
	erasure_row=$(compare_calls erasure "$size" \
		"SELECT bench_rights.run_erasure('extension')" \
		"hand-written erasure plus audit entry and erasure record" \
		"SELECT bench_rights.run_erasure('hand_recorded')")
	echo "$erasure_row"
	compare_calls erasure "hand-written plus audit entry and erasure record $size" \
		"SELECT bench_rights.run_erasure('hand_recorded')" \
		"hand-written DELETEs in FK order" \
		"SELECT bench_rights.run_erasure('hand')"
	progress "timing the first export after unrelated DDL at $size"
	after_ddl "$size"
	after_first_temp_table "$size"
	progress "timing the first export of a new session at $size"
	first=$(bench_psql -At -c "SELECT e.subject FROM bench_rights.export_subjects e ORDER BY e.n DESC LIMIT 1")
	bench_compare export "first call in a new session at $size" \
		"SELECT privacy.export_subject('customer', '$first')" \
		"the hand-written export's first call" \
		"SELECT bench_rights.export_by_hand($first)"
}

# DDL_PAIRS: how many single calls each side of the DDL cases times.
DDL_PAIRS=$((BENCH_RUNS * 4 > 20 ? BENCH_RUNS * 4 : 20))

# after_ddl SIZE: in one session that has had a temporary table, alternately
# an export right after a CREATE TEMP TABLE and a warm export, one call each
# on different subjects; prints the row.
after_ddl() {
	local size=$1 script out i
	script=$(
		echo "SELECT bench_rights.time_export('extension', e.subject) FROM bench_rights.export_subjects e WHERE e.n = 1;"
		echo "CREATE TEMP TABLE bench_first_temporary_table (id integer);"
		echo "SELECT bench_rights.time_export('extension', e.subject) FROM bench_rights.export_subjects e WHERE e.n = 2;"
		for i in $(seq "$DDL_PAIRS"); do
			echo "CREATE TEMP TABLE bench_unrelated_$i (id integer);"
			echo "SELECT 'after_ddl_ms=' || bench_rights.time_export('extension', e.subject) FROM bench_rights.export_subjects e WHERE e.n = $((2 * i + 1));"
			echo "SELECT 'warm_ms=' || bench_rights.time_export('extension', e.subject) FROM bench_rights.export_subjects e WHERE e.n = $((2 * i + 2));"
		done)
	if ! out=$(printf '%s\n' "$script" | bench_psql -At 2>&1); then
		printf '%s\n' "$out" >&2
		exit 1
	fi
	bench_row_of "$out" export "first call after unrelated DDL $size" after_ddl_ms "a warm call" warm_ms
}

# after_first_temp_table SIZE: in new sessions, a warm export, the
# session's first CREATE TEMP TABLE, and one more export, timed; the same
# with the hand-written export in other new sessions; prints the row.
after_first_temp_table() {
	local size=$1 how i one out=
	for i in $(seq "$BENCH_RUNS"); do
		for how in extension hand; do
			if ! one=$(bench_psql -At 2>&1 <<SQL
SELECT bench_rights.time_export('$how', e.subject) FROM bench_rights.export_subjects e WHERE e.n = 1;
CREATE TEMP TABLE bench_first_temporary_table (id integer);
SELECT '${how}_ms=' || bench_rights.time_export('$how', e.subject) FROM bench_rights.export_subjects e WHERE e.n = 2;
SQL
			); then
				printf '%s\n' "$one" >&2
				exit 1
			fi
			out="$out$one"$'\n'
		done
	done
	bench_row_of "$out" export "first call after the session's first temporary table $size" extension_ms \
		"the hand-written export's in the same case" hand_ms
}

# growth BENCHMARK SMALL_ROW LARGE_ROW: the per-call time at the larger size
# against the one at the smaller, for the extension and for its baseline
# (whose row has only medians: its min and max repeat the median), and the
# extension's growth against the baseline's.
growth() {
	local benchmark=$1 small=$2 large=$3 small_size g h
	small_size=$(cut -d, -f2 <<<"$small")
	IFS=, read -r _ _ s_med _ _ _ s_base _ <<<"$small"
	IFS=, read -r _ _ l_med l_min l_max _ l_base _ <<<"$large"
	bench_row "$benchmark" "per-call growth at 10x data" "$l_med" "$l_min" "$l_max" \
		"same at $small_size" "$s_med"
	bench_row "$benchmark" "per-call growth at 10x data (baseline)" "$l_base" "$l_base" "$l_base" \
		"same at $small_size" "$s_base"
	read -r g h <<<"$(awk -v sm="$s_med" -v lm="$l_med" -v sb="$s_base" -v lb="$l_base" \
		'BEGIN { printf "%.6f %.6f\n", lm / sm, lb / sb }')"
	bench_row "$benchmark" "per-call growth at 10x data against the baseline's" "$g" "$g" "$g" \
		"the baseline's growth" "$h"
}

small_size=$(bench_size "$SMALL" subjects)
large_size=$(bench_size "$LARGE" subjects)

grow 1 "$SMALL"
pick_subjects
check "$small_size"
measure "$small_size"
small_export=$export_row
small_erasure=$erasure_row

grow $((SMALL + 1)) "$LARGE"
pick_subjects
check "$large_size"
measure "$large_size"

growth export "$small_export" "$export_row"
growth erasure "$small_erasure" "$erasure_row"
