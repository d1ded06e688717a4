#!/usr/bin/env bash
# Benchmarks of the data-subject rights on a Citus cluster: router export
# and erasure against the hand-written SQL on the same cluster; prints one
# CSV row per case (see lib.sh), or rows of N/A when Citus is not installed
# in the server under test.
#
#   bash test/bench/citus.sh [SCALE]     SCALE multiplies the data (default 1)
#
# It starts its own cluster of three throw-away servers (a coordinator and
# two workers, on Unix sockets in a temporary directory, Citus, pg_cron and
# the extension preloaded) and removes it when it ends; the server bench.sh
# started is not used. Data: schema bench_citus, 5000 customers at SCALE 1,
# each with 2 orders, 4 order lines and 1 ticket (8 rows), distributed by
# the customer's id with 8 shards, co-located, composite foreign keys that
# include the distribution column; a classified column in every table and no
# retention rule, so erasure deletes every row and the hand-written DELETEs
# do the same work.
#
# Cases, each timed as CITUS_CALLS calls (default 50) on different
# customers in one DO block, reported per call, both sides in one session
# (bench_compare_warm: each once to warm the session, then alternately):
#   router export   privacy.export_subject('customer', id) against the
#                   export by hand: one SELECT of the four tables' rows
#                   aggregated with jsonb_agg, which Citus routes to the
#                   customer's shard (target: at most 2 times as long);
#   router erasure  privacy.erase_subject('customer', id, reason) against
#                   DELETEs by hand, children first, each routed to the
#                   customer's shard; erasure destroys its customers, so
#                   every run takes fresh ones (target: at most 2 times).
# Before timing, one export is checked against the hand-written one.
#
# Then, with the customers protected and CITUS_ERASURES (default 100,000)
# erasures recorded (rows inserted into privacy.erasures, which every
# worker copies from the coordinator):
#   new session     the first statement of a new session, a router query
#                   of a protected table, which opens the session's
#                   connection to the worker and, there, its copy of the
#                   coordinator's state, against the same of an unprotected
#                   copy of the table (each a psql session of its own, as
#                   a role with a purpose, timed with \timing; no target:
#                   it shows what a worker session's copy of the state
#                   costs).
#   router query    SELECT name FROM bench_citus.customers WHERE id = :id,
#   (simple,        a random customer's, from one pgbench client
#   prepared)       connected as that role, against the same query of the
#                   unprotected copy, both mixed in one pgbench run (each
#                   query picks one of the two at random): BENCH_RUNS runs
#                   of CITUS_QUERY_SECONDS (default 5) seconds after a
#                   warm-up, in the simple and in the prepared protocol;
#                   reported as each query's mean latency (target: at most
#                   1.2 times).
set -euo pipefail
cd "$(dirname "$0")/../.."
. test/bench/lib.sh
. test/scripts/common.sh

SCALE=${1:-${BENCH_SCALE:-1}}
CUSTOMERS=$(awk -v s="$SCALE" 'BEGIN { printf "%d", 5000 * s + 0.5 }')
CALLS=${CITUS_CALLS:-50}
QUERY_SECONDS=${CITUS_QUERY_SECONDS:-5}
ERASURES=${CITUS_ERASURES:-100000}
# The erasure runs use up (BENCH_RUNS + 1) * 2 batches of CALLS customers.
if [ "$CUSTOMERS" -lt $(((BENCH_RUNS + 1) * 2 * CALLS + CALLS)) ]; then
	echo "citus.sh: scale $SCALE gives $CUSTOMERS customers, too few for $CALLS calls per run" >&2
	exit 2
fi

PKGLIBDIR=$("$PG_BINDIR/pg_config" --pkglibdir)
if [ ! -f "$PKGLIBDIR/citus.so" ]; then
	echo "citus: Citus is not installed in $PKGLIBDIR; skipped" >&2
	bench_row_na citus "router export" "export by hand"
	bench_row_na citus "router erasure" "DELETEs by hand"
	bench_row_na citus "new session" "unprotected"
	bench_row_na citus "router query (simple)" "unprotected"
	bench_row_na citus "router query (prepared)" "unprotected"
	exit 0
fi

progress() { printf 'citus: %s\n' "$*" >&2; }
export PGUSER=${PGUSER:-$([ "$(id -u)" -eq 0 ] && echo postgres || id -un)}

NODES=$(mktemp -d /tmp/opendims_privacy_citus.XXXXXX)
chmod 755 "$NODES"
[ "$(id -u)" -eq 0 ] && chown postgres: "$NODES"
PORTS=(6401 6402 6403)
cleanup() {
	local p
	for p in "${PORTS[@]}"; do
		[ -f "$NODES/$p/postmaster.pid" ] &&
			as_cluster_owner "$PG_BINDIR/pg_ctl" -D "$NODES/$p" -m immediate stop >/dev/null 2>&1
	done
	rm -rf "$NODES"
}
trap cleanup EXIT

progress "starting a coordinator and two workers"
for p in "${PORTS[@]}"; do
	as_cluster_owner "$PG_BINDIR/initdb" -D "$NODES/$p" -U "$PGUSER" -A trust --no-sync -E UTF8 \
		--locale=C >/dev/null
	cat >>"$NODES/$p/postgresql.conf" <<CONF
listen_addresses = ''
unix_socket_directories = '$NODES'
port = $p
shared_preload_libraries = 'citus,pg_cron,opendims_privacy'
max_prepared_transactions = 20
citus.local_hostname = '$NODES'
cron.database_name = 'postgres'
fsync = off
synchronous_commit = off
jit = off
CONF
	as_cluster_owner "$PG_BINDIR/pg_ctl" -D "$NODES/$p" -l "$NODES/$p.log" -w start >/dev/null
	PGHOST=$NODES PGPORT=$p PGDATABASE=postgres bench_psql \
		-c "SET client_min_messages = warning" -c "CREATE EXTENSION citus"
done
export PGHOST=$NODES PGPORT=${PORTS[0]} PGDATABASE=postgres

progress "creating the schema, $CUSTOMERS customers and the policy"
bench_psql -v nodes="$NODES" -v w1="${PORTS[1]}" -v w2="${PORTS[2]}" -v customers="$CUSTOMERS" \
	-v coordinator="${PORTS[0]}" >/dev/null <<'SQL'
SET client_min_messages = warning;
SELECT citus_set_coordinator_host(:'nodes', :coordinator);
SELECT citus_add_node(:'nodes', :w1);
SELECT citus_add_node(:'nodes', :w2);
CREATE EXTENSION opendims_privacy CASCADE;
SET citus.shard_count = 8;

CREATE SCHEMA bench_citus;
CREATE TABLE bench_citus.customers (id bigint PRIMARY KEY, name text NOT NULL, email text);
SELECT create_distributed_table('bench_citus.customers', 'id');
CREATE TABLE bench_citus.orders (
	customer_id bigint NOT NULL REFERENCES bench_citus.customers,
	id bigint NOT NULL,
	delivery_address text,
	PRIMARY KEY (customer_id, id)
);
SELECT create_distributed_table('bench_citus.orders', 'customer_id', colocate_with => 'bench_citus.customers');
CREATE TABLE bench_citus.order_lines (
	customer_id bigint NOT NULL,
	order_id bigint NOT NULL,
	line integer NOT NULL,
	gift_message text,
	PRIMARY KEY (customer_id, order_id, line),
	FOREIGN KEY (customer_id, order_id) REFERENCES bench_citus.orders (customer_id, id)
);
SELECT create_distributed_table('bench_citus.order_lines', 'customer_id', colocate_with => 'bench_citus.customers');
CREATE TABLE bench_citus.tickets (
	customer_id bigint NOT NULL REFERENCES bench_citus.customers,
	id bigint NOT NULL,
	body text,
	PRIMARY KEY (customer_id, id)
);
SELECT create_distributed_table('bench_citus.tickets', 'customer_id', colocate_with => 'bench_citus.customers');

INSERT INTO bench_citus.customers
SELECT g, 'Customer ' || g, 'c' || g || '@example.com' FROM generate_series(1, :customers) g;
INSERT INTO bench_citus.orders SELECT c, o, 'Street ' || c FROM generate_series(1, :customers) c, generate_series(1, 2) o;
INSERT INTO bench_citus.order_lines
SELECT c, o, l, 'Gift from ' || c FROM generate_series(1, :customers) c, generate_series(1, 2) o, generate_series(1, 2) l;
INSERT INTO bench_citus.tickets SELECT c, 1, 'Help, I am customer ' || c FROM generate_series(1, :customers) c;

SELECT privacy.apply_policy(jsonb_build_object(
	'format', 1, 'version', 'bench-citus', 'effective_date', '2026-01-01',
	'controller', jsonb_build_object('name', 'Benchmark SaaS', 'contact', 'privacy@example.com'),
	'purposes', jsonb_build_array(jsonb_build_object('name', 'service', 'legal_basis', 'contract')),
	'categories', jsonb_build_array(jsonb_build_object('name', 'support', 'description', 'What a customer wrote')),
	'subject_kinds', jsonb_build_array(
		jsonb_build_object('name', 'customer', 'table', 'bench_citus.customers', 'key', 'id')),
	'classifications', jsonb_build_array(
		jsonb_build_object('table', 'bench_citus.customers', 'column', 'email', 'category', 'contact.email'),
		jsonb_build_object('table', 'bench_citus.orders', 'column', 'delivery_address', 'category', 'contact.address'),
		jsonb_build_object('table', 'bench_citus.order_lines', 'column', 'gift_message', 'category', 'support'),
		jsonb_build_object('table', 'bench_citus.tickets', 'column', 'body', 'category', 'support')))::text);

-- The export an application would write by hand: one SELECT of the four
-- tables' rows, which Citus routes to the customer's shard; PL/pgSQL keeps
-- its plan, as a prepared statement would.
CREATE FUNCTION bench_citus.export_by_hand(customer_key bigint)
RETURNS jsonb
LANGUAGE plpgsql STABLE
AS $$
BEGIN
	RETURN (SELECT jsonb_build_object(
		'bench_citus.customers',
			(SELECT jsonb_agg(to_jsonb(c)) FROM bench_citus.customers c WHERE c.id = customer_key),
		'bench_citus.orders',
			(SELECT jsonb_agg(to_jsonb(o)) FROM bench_citus.orders o WHERE o.customer_id = customer_key),
		'bench_citus.order_lines',
			(SELECT jsonb_agg(to_jsonb(l)) FROM bench_citus.order_lines l WHERE l.customer_id = customer_key),
		'bench_citus.tickets',
			(SELECT jsonb_agg(to_jsonb(t)) FROM bench_citus.tickets t WHERE t.customer_id = customer_key)));
END
$$;

-- The erasure an application would write by hand: DELETEs, children
-- first, each routed to the customer's shard.
CREATE FUNCTION bench_citus.erase_by_hand(customer_key bigint)
RETURNS void
LANGUAGE plpgsql
AS $$
BEGIN
	DELETE FROM bench_citus.order_lines l WHERE l.customer_id = customer_key;
	DELETE FROM bench_citus.orders o WHERE o.customer_id = customer_key;
	DELETE FROM bench_citus.tickets t WHERE t.customer_id = customer_key;
	DELETE FROM bench_citus.customers c WHERE c.id = customer_key;
END
$$;

-- The timed statements: CALLS exports (of customers 1 ..), or the erasure
-- of the next CALLS customers, from the top of the range down.
CREATE SEQUENCE bench_citus.erased;
CREATE FUNCTION bench_citus.run_export(how text, calls integer)
RETURNS void
LANGUAGE plpgsql
AS $$
BEGIN
	FOR s IN 1 .. calls LOOP
		IF how = 'extension' THEN
			PERFORM privacy.export_subject('customer', s::text);
		ELSE
			PERFORM bench_citus.export_by_hand(s);
		END IF;
	END LOOP;
END
$$;

CREATE FUNCTION bench_citus.run_erasure(how text, calls integer, customers bigint)
RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
	s bigint;
BEGIN
	FOR i IN 1 .. calls LOOP
		s := customers - nextval('bench_citus.erased') + 1;
		IF how = 'extension' THEN
			PERFORM privacy.erase_subject('customer', s::text, 'benchmark');
		ELSE
			PERFORM bench_citus.erase_by_hand(s);
		END IF;
	END LOOP;
END
$$;
SQL

progress "checking an export against the hand-written one"
same=$(bench_psql -At -c "SELECT x @> y AND y @> x FROM (SELECT bench_citus.export_by_hand(7) AS y,
	(SELECT jsonb_object_agg(k, v -> 'rows') FROM jsonb_each(privacy.export_subject('customer', '7') -> 'data') e(k, v)) AS x) r")
if [ "$same" != t ]; then
	echo "citus.sh: the export differs from the hand-written one" >&2
	exit 1
fi

progress "router export, $CALLS calls per run"
bench_compare_warm citus "router export" "SELECT bench_citus.run_export('extension', $CALLS)" \
	"export by hand" "SELECT bench_citus.run_export('hand', $CALLS)" | bench_per_call "$CALLS"
progress "router erasure, $CALLS calls per run"
bench_compare_warm citus "router erasure" "SELECT bench_citus.run_erasure('extension', $CALLS, $CUSTOMERS)" \
	"DELETEs by hand" "SELECT bench_citus.run_erasure('hand', $CALLS, $CUSTOMERS)" | bench_per_call "$CALLS"

progress "first statement of a new session, ${ERASURES} erasures"
bench_psql -v erasures="$ERASURES" >/dev/null <<'SQL'
SET client_min_messages = warning;
SELECT privacy.protect('bench_citus.customers');
CREATE TABLE bench_citus.customers_open (LIKE bench_citus.customers INCLUDING ALL);
SELECT create_distributed_table('bench_citus.customers_open', 'id', colocate_with => 'bench_citus.customers');
INSERT INTO bench_citus.customers_open SELECT * FROM bench_citus.customers;
CREATE ROLE bench_agent LOGIN;
GRANT USAGE ON SCHEMA bench_citus TO bench_agent;
GRANT SELECT ON bench_citus.customers, bench_citus.customers_open TO bench_agent;
SELECT privacy.allow_purpose('service', 'bench_agent');
INSERT INTO privacy.erasures (kind, subject_ref, erased_at, reason, receipt)
SELECT 'customer', encode(sha256(('benchmark ' || g)::bytea), 'hex'), now(), 'benchmark', '{}'
FROM generate_series(1, :erasures) g;
SQL
# The time of a new session's first statement, a router query of table.
first_statement_ms() {
	PGOPTIONS='-c privacy.purpose=service' bench_psql -U bench_agent -c '\timing on' \
		-c "SELECT name FROM bench_citus.$1 WHERE id = $2" | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p'
}
# (a first session, not timed, in which each worker reads the whole state)
PGOPTIONS='-c privacy.purpose=service' bench_psql -U bench_agent -c 'SELECT count(*) FROM bench_citus.customers' >/dev/null
out=$(for i in $(seq "$BENCH_RUNS"); do
	echo "measured_ms=$(first_statement_ms customers "$i")"
	echo "baseline_ms=$(first_statement_ms customers_open "$i")"
done)
bench_row_of "$out" citus "new session" measured_ms "unprotected" baseline_ms

# Router queries by key, protected and not, each a pgbench script run by
# one client as the role with a purpose, of the customers no run erased.
for table in customers customers_open; do
	printf '\\set id random(1, %s)\nSELECT name FROM bench_citus.%s WHERE id = :id;\n' \
		"$((CUSTOMERS - (BENCH_RUNS + 1) * 2 * CALLS))" "$table" >"$NODES/router_$table.sql"
done
for protocol in simple prepared; do
	progress "router query, $protocol protocol, $BENCH_RUNS runs of ${QUERY_SECONDS}s, both tables mixed"
	BENCH_PGBENCH_PROTOCOL=$protocol PGUSER=bench_agent PGOPTIONS='-c privacy.purpose=service' \
		bench_compare_pgbench_mixed citus "router query ($protocol)" "$QUERY_SECONDS" "$BENCH_RUNS" \
		"$NODES/router_customers.sql" "unprotected" "$NODES/router_customers_open.sql"
done
