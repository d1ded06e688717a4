# An open cursor and a withdrawal, on a server that does not preload the
# library (test/isolation/consent_cursor.spec shows the same with preloading):
# the library is loaded by the session's first row check, and from then on
# every FETCH checks the rows it reads against the consent state committed
# before it began. The reader first reads every customer, so that its
# cache holds the state of customer 2 from before the withdrawal.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('cursor');
$node->init;
$node->start;

$node->safe_psql(
	'postgres', q{
SET client_min_messages = warning;
CREATE EXTENSION opendims_privacy CASCADE;
CREATE SCHEMA iso;
CREATE TABLE iso.customers (id bigint PRIMARY KEY, name text NOT NULL);
INSERT INTO iso.customers SELECT g, 'Customer ' || g FROM generate_series(1, 3) g;
SELECT privacy.apply_policy(jsonb_build_object(
	'format', 1, 'version', 'iso-1', 'effective_date', '2026-06-24',
	'controller', jsonb_build_object('name', 'A', 'contact', 'a@example.com'),
	'purposes', jsonb_build_array(jsonb_build_object('name', 'marketing', 'legal_basis', 'consent')),
	'subject_kinds', jsonb_build_array(
		jsonb_build_object('name', 'customer', 'table', 'iso.customers', 'key', 'id')),
	'classifications', jsonb_build_array(
		jsonb_build_object('table', 'iso.customers', 'column', 'name', 'category', 'contact.name')))::text);
SELECT privacy.protect('iso.customers');
SELECT privacy.grant_consent('customer', g::text, 'marketing') FROM generate_series(1, 3) g;
CREATE ROLE iso_reader;
GRANT USAGE ON SCHEMA iso TO iso_reader;
GRANT SELECT ON iso.customers TO iso_reader;
SELECT privacy.allow_purpose('marketing', 'iso_reader');
});

my $reader = $node->background_psql('postgres', on_error_stop => 1);
$reader->query_safe(
	"SET ROLE iso_reader; SET privacy.purpose = 'marketing'; "
	  . "SET enable_indexscan = off; SET enable_bitmapscan = off; BEGIN");
is($reader->query_safe('SELECT count(*) FROM iso.customers'),
	'3', 'the reader sees the three consenting customers');
is($reader->query_safe('SELECT shared_memory FROM privacy.consent_cache_status()'),
	'f', 'the library is not preloaded: no shared consent state');
$reader->query_safe('DECLARE c NO SCROLL CURSOR FOR SELECT id FROM iso.customers');
is($reader->query_safe('FETCH 1 FROM c'), '1', 'the first FETCH returns customer 1');

$node->safe_psql('postgres', "SELECT privacy.withdraw_consent('customer', '2', 'marketing')");

is($reader->query_safe('FETCH ALL FROM c'),
	'3', 'the next FETCH does not return customer 2, who withdrew after the cursor was opened');
$reader->query_safe('COMMIT');
$reader->quit;

$node->stop;
done_testing();
