-- pg_dump / pg_restore keeps the whole catalog, the labels, the keys and the
-- audit log: the restored database has the same policy, the same subject
-- references, and an intact audit chain that new entries extend.
SET client_min_messages = warning;
CREATE EXTENSION opendims_privacy CASCADE;
RESET client_min_messages;
\i test/fixtures/shop_schema.sql
\set doc `cat test/fixtures/shop-policy.json`
SELECT (privacy.apply_policy(:'doc') ->> 'changed')::boolean AS applied;
SECURITY LABEL FOR privacy ON COLUMN shop.shipments.tracking_note IS 'content';
UPDATE privacy.categories SET description = description;
SELECT privacy_internal._audit(current_user, 'test.entry', 'customer', '7', NULL, '{}') IS NULL AS audited_at_commit;
-- Ledger events and an erasure receipt travel too, and still agree with
-- the log after the restore.
\i test/fixtures/shop_data.sql
SELECT privacy.grant_consent('customer', '2', 'marketing', 'direct', '{}') > 0 AS granted;
SELECT (privacy.erase_subject('customer', '3', 'no longer a customer') ->> 'changed')::boolean AS erased;
-- Protected tables: the restored policies are still what protect() installs.
SELECT privacy.protect(t) FROM unnest(ARRAY['shop.customers', 'shop.order_lines']::regclass[]) t;

SELECT privacy.seal_audit_log() AS sealed \gset
CREATE TABLE public.dump_expected AS
SELECT privacy.policy() AS policy,
       (SELECT jsonb_agg(to_jsonb(c) ORDER BY c.table_name::text, c.column_name)
          FROM privacy.classified_columns c) AS classified,
       privacy.subject_ref('customer', '7') AS ref,
       (SELECT count(*) FROM privacy.audit_log) AS audit_entries,
       (SELECT count(*) FROM privacy.policy_versions) AS versions;

\set original_db :DBNAME
\setenv PRIVACY_TEST_DB :DBNAME
\! pg_dump -Fc -f /tmp/opendims_privacy_regress.dump "$PRIVACY_TEST_DB"
\! dropdb --if-exists privacy_restored
\! createdb privacy_restored
\! pg_restore --exit-on-error -d privacy_restored /tmp/opendims_privacy_regress.dump
\c privacy_restored
SELECT privacy.seal_audit_log() AS sealed \gset
SELECT e.policy = privacy.policy() AS same_policy,
       e.classified = (SELECT jsonb_agg(to_jsonb(c) ORDER BY c.table_name::text, c.column_name)
                         FROM privacy.classified_columns c) AS same_classification,
       e.ref = privacy.subject_ref('customer', '7') AS same_keys,
       e.audit_entries = (SELECT count(*) FROM privacy.audit_log) AS same_audit_log,
       e.versions = (SELECT count(*) FROM privacy.policy_versions) AS same_versions
  FROM public.dump_expected e;
SELECT privacy.seal_audit_log() AS sealed \gset
SELECT intact FROM privacy.verify_audit_log();
SELECT * FROM privacy.verify_evidence();
SELECT * FROM privacy_internal._lint_installed_protection();
SELECT count(*) AS receipts, count(*) FILTER (WHERE subject_ref = privacy.subject_ref('customer', '3')) AS cy
  FROM privacy.erasures;
-- The restored chain goes on.
SELECT privacy_internal._audit(current_user, 'test.after_restore', NULL, NULL, NULL, NULL) IS NULL AS audited_at_commit;
SELECT privacy.seal_audit_log() AS sealed \gset
SELECT intact, entries FROM privacy.verify_audit_log();
-- The restored policy is applied again without change.
SELECT privacy.apply_policy(privacy.policy()::text) ->> 'changed' AS changed;
\c :original_db
\! dropdb privacy_restored
\! rm -f /tmp/opendims_privacy_regress.dump

DROP TABLE public.dump_expected;
DROP SCHEMA shop CASCADE;
DROP EXTENSION opendims_privacy CASCADE;
