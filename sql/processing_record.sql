-- privacy.processing_record(): the GDPR Art. 30 record, from the catalog.
SET client_min_messages = warning;
CREATE EXTENSION opendims_privacy CASCADE;
RESET client_min_messages;
\i test/fixtures/shop_schema.sql
\set doc `cat test/fixtures/shop-policy.json`
SELECT (privacy.apply_policy(:'doc') ->> 'changed')::boolean AS applied;
SECURITY LABEL FOR privacy ON COLUMN shop.shipments.tracking_note IS 'content';

SELECT jsonb_pretty(privacy.processing_record() - 'generated_at');
SELECT (privacy.processing_record() ->> 'generated_at')::timestamptz <= now() AS dated;

DROP SCHEMA shop CASCADE;
DROP EXTENSION opendims_privacy CASCADE;
