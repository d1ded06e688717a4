-- Erasure under a legal hold: the erasure stays pending and its request
-- held; releasing the last hold on it completes both, with a receipt that
-- names the erasure it continues; a completion that fails at the release is
-- tried again by the next retention run.
SET client_min_messages = warning;
CREATE EXTENSION opendims_privacy CASCADE;
RESET client_min_messages;
\set SHOW_CONTEXT never
SET TimeZone = 'UTC';
SET DateStyle = 'ISO, YMD';
\i test/fixtures/shop_schema.sql
\set doc `cat test/fixtures/shop-policy.json`
SELECT (privacy.apply_policy(:'doc') ->> 'changed')::boolean AS applied;
\i test/fixtures/shop_data.sql

-- Customer 2 under two holds asks for erasure.
SELECT privacy.place_hold('customer', '2', 'Dispute over unpaid invoices', 'Case 1') AS hold_1 \gset
SELECT privacy.place_hold('customer', '2', 'Insurance claim', 'Case 2') AS hold_2 \gset
SELECT privacy.open_request('customer', '2', 'erasure') AS request \gset
SELECT r ->> 'changed' AS changed, r ->> 'pending' AS pending, r ->> 'rows_held' AS held,
       r ->> 'already_erased' AS already_erased
  FROM privacy.erase_subject(:request, 'consent withdrawn') r;
SELECT status, completed_at IS NULL AS open_ended, overdue, outcome ->> 'pending' AS pending
  FROM privacy.requests WHERE id = :request;
SELECT name FROM shop.customers WHERE id = 2;
SELECT kind, subject, held_tables FROM privacy._held_erasures;

-- Releasing one hold leaves the erasure pending under the other.
SELECT privacy.release_hold(:hold_1, 'Paid');
SELECT status FROM privacy.requests WHERE id = :request;
SELECT count(*) AS orders_of_2 FROM shop.orders WHERE customer_id = 2;

-- Releasing the last one completes it.
SELECT privacy.release_hold(:hold_2, 'Claim settled');
SELECT status, completed_at IS NOT NULL AS completed, outcome ->> 'rows_deleted' AS deleted,
       outcome ->> 'rows_anonymized' AS anonymized, outcome ->> 'changed' AS changed,
       outcome ->> 'already_erased' AS already_erased, outcome ->> 'pending' AS pending,
       (outcome -> 'continues' ->> 'erasure_id')::bigint = (SELECT min(id) FROM privacy.erasures) AS continues_first,
       (outcome -> 'continues' ->> 'erased_at')::timestamptz <= (outcome ->> 'erased_at')::timestamptz AS dated
  FROM privacy.requests WHERE id = :request;
SELECT count(*) AS orders_of_2 FROM shop.orders WHERE customer_id = 2;
SELECT name LIKE '[erased %' AS name_erased FROM shop.customers WHERE id = 2;
SELECT count(*) AS keys_kept FROM privacy._held_erasures;
SELECT count(*) AS requests_naming_the_key FROM privacy.subject_requests WHERE subject IS NOT NULL AND id = :request;
SELECT privacy.seal_audit_log() AS sealed \gset
SELECT action, summary ->> 'right' AS "right" FROM privacy.audit_log
 WHERE request_id = :request ORDER BY id;

-- Erasing again finds nothing more, and says so.
SELECT r ->> 'changed' AS changed, r ->> 'already_erased' AS already_erased
  FROM privacy.erase_subject('customer', '2', 'consent withdrawn') r;

-- A table hold keeps customer 1's orders; the erasure (without a request)
-- is pending on that table only.
SELECT privacy.place_hold('shop.orders', 'Tax audit', 'SKAT-7') AS table_hold \gset
SELECT r ->> 'pending' AS pending, r ->> 'rows_held' AS held
  FROM privacy.erase_subject('customer', '1', 'no longer necessary') r;
SELECT kind, held_tables FROM privacy._held_erasures;

-- A completion that fails when the hold is released is reported, leaves
-- the erasure pending and does not undo the release; the next retention
-- run completes it.
CREATE FUNCTION shop.refuse() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION 'orders are frozen';
END
$$;
CREATE TRIGGER frozen BEFORE UPDATE OR DELETE ON shop.orders FOR EACH ROW EXECUTE FUNCTION shop.refuse();
SELECT privacy.release_hold(:table_hold, 'Audit closed');
SELECT released_at IS NOT NULL AS released FROM privacy.legal_holds WHERE id = :table_hold;
SELECT count(*) AS pending FROM privacy._held_erasures;
DROP TRIGGER frozen ON shop.orders;
CALL privacy.enforce_retention();
SELECT count(*) AS pending FROM privacy._held_erasures;
SELECT receipt ->> 'rows_held' AS held, receipt ->> 'pending' AS pending, receipt -> 'continues' ? 'erasure_id' AS continues
  FROM privacy.erasures ORDER BY id DESC LIMIT 1;
SELECT count(*) AS orders_of_1 FROM shop.orders WHERE customer_id = 1;

-- Nobody but the extension reads the keys kept meanwhile.
CREATE ROLE held_erasure_reader;
SET ROLE held_erasure_reader;
SELECT * FROM privacy._held_erasures;
SELECT privacy_internal._complete_held_erasures();
RESET ROLE;
DROP ROLE held_erasure_reader;

SELECT privacy.seal_audit_log() AS sealed \gset
SELECT intact FROM privacy.verify_audit_log();
DROP SCHEMA shop CASCADE;
DROP EXTENSION opendims_privacy CASCADE;
