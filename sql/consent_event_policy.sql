-- What a consent event is checked against (the purposes' legal bases, the
-- declared sources, the policy version in force) is read once per session
-- and again after it changes: a policy applied in the same session, a
-- change rolled back, and a declared source dropped are all seen by the
-- next event. Also: one transaction may record many events of one subject
-- (its own ledger lock does not make it wait), and leaves no lock row.
SET client_min_messages = warning;
CREATE EXTENSION opendims_privacy CASCADE;
RESET client_min_messages;
\set SHOW_CONTEXT never

CREATE TABLE customers (id bigint PRIMARY KEY, name text NOT NULL);
INSERT INTO customers SELECT g, 'Customer ' || g FROM generate_series(1, 3) g;
CREATE FUNCTION policy_doc(version text, newsletter_basis text, sources text[]) RETURNS text LANGUAGE sql AS $$
	SELECT jsonb_build_object(
		'format', 1, 'version', version, 'effective_date', '2026-06-24',
		'controller', jsonb_build_object('name', 'Example ApS', 'contact', 'privacy@example.com'),
		'purposes', jsonb_build_array(
			jsonb_build_object('name', 'marketing', 'legal_basis', 'consent'),
			jsonb_build_object('name', 'newsletter', 'legal_basis', newsletter_basis)),
		'sources', (SELECT coalesce(jsonb_agg(jsonb_build_object('name', s)), '[]') FROM unnest(sources) s),
		'subject_kinds', jsonb_build_array(
			jsonb_build_object('name', 'customer', 'table', 'customers', 'key', 'id')),
		'classifications', jsonb_build_array(
			jsonb_build_object('table', 'customers', 'column', 'name', 'category', 'contact.name')))::text
$$;
SELECT privacy.apply_policy(policy_doc('v1', 'consent', ARRAY['kiosk'])) ->> 'changed' AS applied;

-- The first event reads the policy; the next ones use what it read.
SELECT privacy.grant_consent('customer', '1', 'newsletter', 'kiosk') > 0 AS granted;
SELECT privacy.grant_consent('customer', '2', 'marketing', 'direct') > 0 AS granted;

-- A new version applied in this session: the next event records it, and
-- the purpose that now rests on legitimate interest takes an objection,
-- not a consent. The source the new version no longer declares is refused.
SELECT privacy.apply_policy(policy_doc('v2', 'legitimate_interest', ARRAY[]::text[])) ->> 'changed' AS applied;
SELECT privacy.grant_consent('customer', '3', 'marketing', 'direct') > 0 AS granted;
SELECT privacy.grant_consent('customer', '3', 'newsletter', 'direct');
SELECT privacy.object('customer', '3', 'newsletter', 'direct') > 0 AS objected;
SELECT privacy.grant_consent('customer', '3', 'marketing', 'kiosk');
SELECT action, purpose, source, policy_version FROM privacy.consent_ledger ORDER BY id;

-- A policy applied and rolled back: inside the transaction its events use
-- it; after the rollback, the policy before it again.
BEGIN;
SELECT privacy.apply_policy(policy_doc('v3', 'consent', ARRAY['kiosk'])) ->> 'changed' AS applied;
SELECT privacy.grant_consent('customer', '1', 'newsletter', 'kiosk') > 0 AS granted;
SELECT policy_version FROM privacy.consent_ledger ORDER BY id DESC LIMIT 1;
ROLLBACK;
SELECT privacy.grant_consent('customer', '1', 'newsletter', 'kiosk');
SELECT privacy.withdraw_consent('customer', '1', 'marketing', 'direct') > 0 AS withdrawn;
SELECT policy_version FROM privacy.consent_ledger ORDER BY id DESC LIMIT 1;

-- One transaction records several events of one subject without waiting
-- on its own lock; the subject lock table is empty afterwards.
BEGIN;
SELECT count(*) AS events
  FROM generate_series(1, 5) g,
	   LATERAL (SELECT CASE WHEN g % 2 = 1
						   THEN privacy.grant_consent('customer', '2', 'marketing', 'direct')
						   ELSE privacy.withdraw_consent('customer', '2', 'marketing', 'direct') END) e;
COMMIT;
SELECT status FROM privacy.consent_state WHERE subject = '2' AND purpose = 'marketing';
SELECT count(*) AS lock_rows FROM privacy._subject_locks;

-- A read-only transaction (as every transaction on a standby is) records
-- nothing and takes no lock: refused as before, with SQLSTATE 25006.
\set VERBOSITY terse
BEGIN READ ONLY;
SELECT privacy.grant_consent('customer', '3', 'marketing', 'direct');
ROLLBACK;
BEGIN READ ONLY;
SELECT privacy.erase_subject('customer', '3', 'read-only attempt');
ROLLBACK;
\set VERBOSITY default

DROP EXTENSION opendims_privacy CASCADE;
DROP FUNCTION policy_doc(text, text, text[]);
DROP TABLE customers;
