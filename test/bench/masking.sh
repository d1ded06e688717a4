#!/usr/bin/env bash
# Benchmarks of masking (docs/masking.md): a masked role's reads against an
# unmasked role's, and an anonymised copy against a plain copy of the same
# tables; prints one CSV row per case (see lib.sh).
#
#   bash test/bench/masking.sh [SCALE]   200,000 x SCALE customers
#
# Data: schema bench_masking, customers (name, e-mail, phone, city, a note
# and a date) and two orders each (a delivery address, an amount, a time),
# the order's customer a foreign key. The policy classifies the customers'
# name, e-mail, phone and city and the orders' delivery address and time,
# and masks them for role bench_masked: e-mail and phone by their type's
# mask, the name by its first letter, the city as a constant, the address
# by its keyed pseudonym, the time by its month. Role bench_unmasked reads
# the tables themselves.
#
# Cases:
#   full scan     every row of the customers with all their columns, as
#                 text (so that every masking expression is computed), read
#                 by bench_masked through its masking view, against the
#                 same read by bench_unmasked of the table (target: at most
#                 1.3 times as long);
#   anonymised copy   privacy.anonymized_copy() of the schema into a new
#                 one, against creating the same tables with their keys
#                 and indexes (CREATE TABLE ... LIKE ... INCLUDING ALL) and
#                 filling them with INSERT ... SELECT (target: at least half
#                 the throughput, so at most 2 times as long); each run
#                 drops the copy of the run before first, on both sides.
set -euo pipefail
cd "$(dirname "$0")/../.."
. test/bench/lib.sh

SCALE=${1:-${BENCH_SCALE:-1}}
N=$(awk -v s="$SCALE" 'BEGIN { n = int(200000 * s); print (n > 100 ? n : 100) }')

cleanup() {
	bench_psql >/dev/null 2>&1 <<'SQL' || true
DROP SCHEMA IF EXISTS bench_masking, bench_masking_anon, bench_masking_plain CASCADE;
DROP OWNED BY bench_masked, bench_unmasked;
DROP ROLE IF EXISTS bench_masked;
DROP ROLE IF EXISTS bench_unmasked;
SQL
}
trap cleanup EXIT
cleanup

bench_psql -v n="$N" >/dev/null <<'SQL'
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS opendims_privacy CASCADE;
CREATE SCHEMA bench_masking;
CREATE TABLE bench_masking.customers (
	id bigint PRIMARY KEY,
	name text NOT NULL,
	email privacy.email,
	phone privacy.phone,
	city text,
	note text,
	created_on date NOT NULL
);
CREATE TABLE bench_masking.orders (
	id bigint PRIMARY KEY,
	customer_id bigint NOT NULL REFERENCES bench_masking.customers,
	delivery_address text,
	amount numeric(10, 2) NOT NULL,
	placed_at timestamptz NOT NULL
);
CREATE INDEX ON bench_masking.orders (customer_id);
INSERT INTO bench_masking.customers
SELECT g, 'Customer ' || g, ('customer' || g || '@mail' || g % 100 || '.example.com')::privacy.email,
	   ('+4520' || lpad((g % 1000000)::text, 6, '0'))::privacy.phone, 'Town ' || g % 300,
	   'Prefers deliveries in the morning', date '2020-01-01' + g % 2000
  FROM generate_series(1, :n) g;
INSERT INTO bench_masking.orders
SELECT (g - 1) * 2 + j, g, g % 500 || ' Example Street, Town ' || g % 300, (g * 7 + j) % 1000 + 0.95,
	   timestamptz '2024-01-01' + ((g * 2 + j) % 50000) * interval '1 hour'
  FROM generate_series(1, :n) g, generate_series(1, 2) j;
VACUUM ANALYZE bench_masking.customers, bench_masking.orders;

CREATE ROLE bench_masked LOGIN;
CREATE ROLE bench_unmasked LOGIN;
GRANT USAGE ON SCHEMA bench_masking TO bench_masked, bench_unmasked;
GRANT SELECT ON ALL TABLES IN SCHEMA bench_masking TO bench_masked, bench_unmasked;

SELECT privacy.apply_policy(jsonb_build_object(
	'format', 1,
	'version', 'bench-masking',
	'effective_date', '2026-01-01',
	'controller', jsonb_build_object('name', 'Benchmark Shop ApS', 'contact', 'privacy@example.com'),
	'purposes', jsonb_build_array(
		jsonb_build_object('name', 'service', 'legal_basis', 'contract', 'description', 'Selling and delivering orders')),
	'categories', jsonb_build_array(
		jsonb_build_object('name', 'commerce', 'description', 'What a customer bought')),
	'recipients', jsonb_build_array(
		jsonb_build_object('name', 'staff', 'kind', 'internal', 'purposes', jsonb_build_array('service'))),
	'subject_kinds', jsonb_build_array(
		jsonb_build_object('name', 'customer', 'table', 'bench_masking.customers', 'key', 'id')),
	'classifications', jsonb_build_array(
		jsonb_build_object('table', 'bench_masking.customers', 'column', 'name', 'category', 'contact.name'),
		jsonb_build_object('table', 'bench_masking.customers', 'column', 'email', 'category', 'contact.email'),
		jsonb_build_object('table', 'bench_masking.customers', 'column', 'phone', 'category', 'contact.phone'),
		jsonb_build_object('table', 'bench_masking.customers', 'column', 'city', 'category', 'contact.address'),
		jsonb_build_object('table', 'bench_masking.orders', 'column', 'delivery_address', 'category', 'contact.address'),
		jsonb_build_object('table', 'bench_masking.orders', 'column', 'placed_at', 'category', 'commerce')),
	'masking', jsonb_build_object(
		'roles', jsonb_build_array('bench_masked'),
		'rules', jsonb_build_array(
			jsonb_build_object('category', 'contact.email', 'method', 'mask'),
			jsonb_build_object('category', 'contact.phone', 'method', 'mask'),
			jsonb_build_object('category', 'contact.name', 'method', 'first_letters', 'length', 1),
			jsonb_build_object('table', 'bench_masking.customers', 'column', 'city', 'method', 'constant',
							   'value', '(hidden)'),
			jsonb_build_object('table', 'bench_masking.orders', 'column', 'delivery_address',
							   'method', 'pseudonymize'),
			jsonb_build_object('table', 'bench_masking.orders', 'column', 'placed_at', 'method', 'month')))
	)::text);

-- The copies each run makes, the one before it dropped first.
CREATE FUNCTION bench_masking.anonymized_copy() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	DROP SCHEMA IF EXISTS bench_masking_anon CASCADE;
	PERFORM privacy.anonymized_copy('bench_masking', 'bench_masking_anon');
END
$$;
CREATE FUNCTION bench_masking.plain_copy() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	DROP SCHEMA IF EXISTS bench_masking_plain CASCADE;
	CREATE SCHEMA bench_masking_plain;
	CREATE TABLE bench_masking_plain.customers_copy (LIKE bench_masking.customers INCLUDING ALL);
	CREATE TABLE bench_masking_plain.orders_copy (LIKE bench_masking.orders INCLUDING ALL);
	INSERT INTO bench_masking_plain.customers_copy SELECT * FROM bench_masking.customers;
	INSERT INTO bench_masking_plain.orders_copy SELECT * FROM bench_masking.orders;
	ALTER TABLE bench_masking_plain.orders_copy ADD FOREIGN KEY (customer_id)
		REFERENCES bench_masking_plain.customers_copy;
END
$$;
SQL

# The masked role reads masked values, the unmasked one raw values, of the
# same rows.
check=$(PGUSER=bench_masked bench_psql -At -c "SELECT count(*), count(*) FILTER (WHERE email::text LIKE 'customer%@%') FROM privacy_masked.customers")
if [ "$check" != "$N|0" ]; then
	echo "masking.sh: the masked role read \"$check\", not $N masked rows" >&2
	exit 1
fi
check=$(PGUSER=bench_unmasked bench_psql -At -c "SELECT count(*) FILTER (WHERE email::text LIKE 'customer%@%') FROM bench_masking.customers")
if [ "$check" != "$N" ]; then
	echo "masking.sh: the unmasked role read \"$check\" raw e-mail addresses, not $N" >&2
	exit 1
fi

size=$(bench_size "$N" customers)
BENCH_MEASURED_ROLE=bench_masked BENCH_BASELINE_ROLE=bench_unmasked \
	bench_compare masking "full scan of $size by a masked role" \
	"SELECT sum(length(c::text)) FROM privacy_masked.customers c" \
	"unmasked role on the table" \
	"SELECT sum(length(c::text)) FROM bench_masking.customers c"

bench_compare masking "anonymised copy $size and $(bench_size $((N * 2)) orders)" \
	"SELECT bench_masking.anonymized_copy()" \
	"CREATE TABLE LIKE and INSERT ... SELECT" \
	"SELECT bench_masking.plain_copy()"
