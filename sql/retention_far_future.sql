-- Retention minimums that would end after the last timestamp PostgreSQL can
-- represent (294276-12-31): they end never, so the guard keeps the row,
-- instead of overflowing into the past and letting it go at once.
SET client_min_messages = warning;
CREATE EXTENSION opendims_privacy CASCADE;
RESET client_min_messages;
\set SHOW_CONTEXT never
\set VERBOSITY default
SET TimeZone = 'UTC';
SET DateStyle = 'ISO, YMD';
\i test/fixtures/shop_schema.sql
\set doc `cat test/fixtures/shop-policy.json`
SELECT (privacy.apply_policy(:'doc')) ->> 'changed' AS applied;
SELECT privacy.install_retention_triggers() IS NOT NULL AS guards_installed;

-- "invoices" keeps rows 5 years from the end of the anchor's financial year.
INSERT INTO shop.customers (id, name) VALUES (1, 'Far Future');
INSERT INTO shop.invoices (id, customer_id, issued_on, billing_name) VALUES
	(1, 1, '2015-06-01', 'old'),
	(2, 1, '294270-06-01', 'near the end'),
	(3, 1, '294273-06-01', 'minimum past the end'),
	(4, 1, '300000-06-01', 'anchor past the end'),
	(5, 1, '2000000-06-01', 'anchor far past the end'),
	(6, 1, 'infinity', 'infinite anchor');

-- A row whose minimum has ended goes; one whose minimum ends within range
-- is kept with its end date.
DELETE FROM shop.invoices WHERE id = 1;
DELETE FROM shop.invoices WHERE id = 2;

-- Minimums that would end after 294276-12-31 never end: every such row is
-- kept, and the DETAIL says so (never a wrapped-around date).
DELETE FROM shop.invoices WHERE id = 3;
DELETE FROM shop.invoices WHERE id = 4;
DELETE FROM shop.invoices WHERE id = 5;
UPDATE shop.invoices SET billing_name = 'changed' WHERE id = 4;
DELETE FROM shop.invoices WHERE id = 6;
TRUNCATE shop.invoices;
SELECT id, issued_on FROM shop.invoices ORDER BY id;

-- Moving an anchor beyond the end keeps the row at least as long.
UPDATE shop.invoices SET issued_on = '2000000-06-01' WHERE id = 2;
SELECT issued_on FROM shop.invoices WHERE id = 2;
-- Moving it back from beyond the end would shorten the minimum.
UPDATE shop.invoices SET issued_on = '294270-06-01' WHERE id = 4;

-- The SQL face agrees: the minimum of an anchor near the end is infinity.
SELECT privacy_internal._retention_minimum_end('5 years', 'anchor', '12-31', '294273-06-01') AS minimum_end,
       privacy_internal._retention_due_at('1 day', '5 years', 'end_of_financial_year', '12-31',
								 '294276-06-01') AS due_at,
       privacy_internal._retention_minimum_end('5 years', 'anchor', '12-31', '294271-06-01') AS in_range;

-- The job leaves them all.
CALL privacy.enforce_retention();
SELECT id FROM shop.invoices ORDER BY id;

DROP SCHEMA shop CASCADE;
DROP EXTENSION opendims_privacy CASCADE;
