-- Data-subject requests: deadlines, extensions, overdue ones, and export and
-- erasure run against a request.
SET client_min_messages = warning;
CREATE EXTENSION opendims_privacy CASCADE;
RESET client_min_messages;
\i test/fixtures/shop_schema.sql
\set doc `cat test/fixtures/shop-policy.json`
SELECT (privacy.apply_policy(:'doc') ->> 'changed')::boolean AS applied;
\i test/fixtures/shop_data.sql

SELECT privacy.open_request('customer', '1', 'access', '2026-01-31 10:00+00') AS access_id \gset
SELECT privacy.open_request('customer', '2', 'erasure') AS erasure_id \gset
SELECT privacy.open_request('customer', '3', 'rectification', now() - interval '40 days') AS late_id \gset
SELECT id - :access_id AS n, kind, "right", deadline = received_at + interval '1 month' AS one_month, status,
       overdue, days_left IS NOT NULL AS has_days_left
  FROM privacy.requests ORDER BY id;
-- One month after 31 January is the end of February.
SELECT deadline AT TIME ZONE 'UTC' AS deadline FROM privacy.requests WHERE id = :access_id;

-- Extending: with a reason, to at most three months after receipt.
SELECT privacy.extend_request(:late_id, 'complex request', '1 month') - now() > interval '0' AS extended_into_future;
SELECT overdue, extension_reason FROM privacy.requests WHERE id = :late_id;
\set VERBOSITY terse
SELECT privacy.extend_request(:late_id, 'again', '2 months');
\set VERBOSITY default
SELECT privacy.extend_request(:late_id, '', '1 day');

-- Export and erasure against requests complete them.
SELECT jsonb_object_keys(privacy.export_subject(:access_id) -> 'data') ORDER BY 1;
SELECT status, completed_at IS NOT NULL AS completed, outcome FROM privacy.requests WHERE id = :access_id;
SELECT privacy.export_subject(:access_id);
SELECT privacy.export_subject(:erasure_id);
SELECT (privacy.erase_subject(:erasure_id, 'objection upheld') ->> 'changed')::boolean AS erased;
SELECT status, outcome ->> 'request_id' = :'erasure_id' AS linked FROM privacy.requests WHERE id = :erasure_id;
-- The erased subject's raw identifier is gone from the request.
SELECT subject IS NULL AS subject_dropped FROM privacy.subject_requests WHERE id = :erasure_id;
SELECT privacy.seal_audit_log() AS sealed \gset
SELECT request_id - :access_id AS n, action FROM privacy.audit_log WHERE request_id IS NOT NULL ORDER BY id;

-- Closing by hand: a rejection with its reasons (request_fulfilment tests
-- what completes a request), and errors.
SELECT privacy.close_request(:late_id, 'rejected', '{"reason": "manifestly unfounded"}');
SELECT status, outcome FROM privacy.requests WHERE id = :late_id;
SELECT privacy.close_request(:late_id, 'rejected', '{"reason": "again"}');
SELECT privacy.close_request(:late_id, 'maybe');
SELECT privacy.open_request('customer', '1', 'forgetting');
SELECT privacy.open_request('customer', '999', 'access');
SELECT privacy.open_request('customer', '1', 'access', now() + interval '1 day');
SELECT privacy.open_request('customer', NULL, 'access');
SELECT privacy.extend_request(123456, 'x');

DROP SCHEMA shop CASCADE;
DROP EXTENSION opendims_privacy CASCADE;
