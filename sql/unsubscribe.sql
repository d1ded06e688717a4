-- Unsubscribe tokens: signed (HMAC-SHA-256), URL-safe, verified without a
-- lookup; privacy.unsubscribe() needs no privilege but the token, and a
-- forged, truncated or altered token is rejected and changes nothing.
SET client_min_messages = warning;
CREATE EXTENSION opendims_privacy CASCADE;
RESET client_min_messages;
\set SHOW_CONTEXT never

CREATE SCHEMA crm;
CREATE TABLE crm.customers (id bigint PRIMARY KEY, name text NOT NULL);
CREATE TABLE crm.members (handle text PRIMARY KEY, display_name text);
INSERT INTO crm.customers SELECT g, 'Customer ' || g FROM generate_series(1, 3) g;
INSERT INTO crm.members VALUES ('ada', 'Ada');
SELECT privacy.apply_policy(jsonb_build_object(
	'format', 1, 'version', 'crm-1', 'effective_date', '2026-06-24',
	'controller', jsonb_build_object('name', 'Example ApS', 'contact', 'privacy@example.com'),
	'purposes', jsonb_build_array(
		jsonb_build_object('name', 'service', 'legal_basis', 'contract'),
		jsonb_build_object('name', 'marketing', 'legal_basis', 'consent'),
		jsonb_build_object('name', 'analytics', 'legal_basis', 'legitimate_interest')),
	'subject_kinds', jsonb_build_array(
		jsonb_build_object('name', 'customer', 'table', 'crm.customers', 'key', 'id'),
		jsonb_build_object('name', 'member', 'table', 'crm.members', 'key', 'handle')),
	'classifications', jsonb_build_array(
		jsonb_build_object('table', 'crm.customers', 'column', 'name', 'category', 'contact.name'),
		jsonb_build_object('table', 'crm.members', 'column', 'display_name', 'category', 'contact.name')))::text)
	->> 'changed' AS applied;
SELECT privacy.grant_consent('customer', '1', 'marketing'), privacy.grant_consent('customer', '2', 'marketing'),
       privacy.grant_consent('member', 'ada', 'marketing');

-- Tokens are URL-safe base64, deterministic per subject and purpose, and
-- name the subject in canonical form.
SELECT privacy.unsubscribe_token('customer', '1', 'marketing') AS token1 \gset
SELECT :'token1' ~ '^[A-Za-z0-9_-]+$' AS url_safe, length(:'token1') AS length,
       privacy.unsubscribe_token('customer', '001', 'marketing') = :'token1' AS canonical,
       privacy.unsubscribe_token('customer', '2', 'marketing') <> :'token1' AS per_subject;
SELECT privacy.unsubscribe_token('member', 'ada', 'marketing') AS token_ada \gset
SELECT * FROM privacy_internal._verify_unsubscribe_token(:'token1');

-- What cannot have a token.
SELECT privacy.unsubscribe_token('customer', '9', 'marketing');
SELECT privacy.unsubscribe_token('customer', '1', 'analytics');
SELECT privacy.unsubscribe_token('customer', '1', 'newsletter');
SELECT privacy.unsubscribe_token('supplier', '1', 'marketing');
SELECT privacy_internal._sign_unsubscribe_token('customer', repeat('9', 513), 'marketing');

-- A role with no other rights unsubscribes with the token alone.
CREATE ROLE unsub_web;
SET ROLE unsub_web;
SELECT privacy.unsubscribe(:'token1');
SELECT privacy.unsubscribe(:'token_ada');
-- It can do nothing else with the functions behind it.
SELECT privacy.unsubscribe_token('customer', '2', 'marketing');
SELECT * FROM privacy_internal._verify_unsubscribe_token(:'token1');
SELECT privacy_internal._sign_unsubscribe_token('customer', '2', 'marketing');
SELECT privacy.withdraw_consent('customer', '2', 'marketing');
RESET ROLE;
SELECT kind, subject, action, purpose, source, evidence, actor FROM privacy.consent_ledger
 WHERE action = 'consent.withdraw' ORDER BY id;
SELECT kind, subject, status FROM privacy.consent_state ORDER BY kind, subject;
-- Unsubscribing twice records nothing more (unsubscribe_replay tests it).
SET ROLE unsub_web;
SELECT privacy.unsubscribe(:'token1') ->> 'withdrawn' AS withdrawn_again;
RESET ROLE;

-- Forged, truncated and altered tokens: errors, and nothing changes.
SELECT privacy.unsubscribe_token('customer', '2', 'marketing') AS token2 \gset
SELECT count(*) AS events_before FROM privacy.consent_ledger \gset
SET ROLE unsub_web;
-- truncated by one, two and many characters
SELECT privacy.unsubscribe(left(:'token2', -1));
SELECT privacy.unsubscribe(left(:'token2', -2));
SELECT privacy.unsubscribe(left(:'token2', 20));
-- one character changed, at the start, in the middle and at the end
SELECT privacy.unsubscribe(translate(left(:'token2', 1), 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_',
		'BCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_A') || substr(:'token2', 2));
SELECT privacy.unsubscribe(left(:'token2', 30) ||
		translate(substr(:'token2', 31, 1), 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_',
		'BCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_A') || substr(:'token2', 32));
SELECT privacy.unsubscribe(left(:'token2', -1) ||
		translate(right(:'token2', 1), 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_',
		'BCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_A'));
-- the subject inside a real token swapped for another one (customer 3):
-- the layout is public, the key is not.
SELECT privacy.unsubscribe(rtrim(translate(encode(
		overlay(decode(translate(:'token2', '-_', '+/') || repeat('=', (4 - length(:'token2') % 4) % 4), 'base64')
				placing '3'::bytea from 13 for 1), 'base64'), '+/', '-_'), '='));
-- padding, foreign characters, whitespace, an empty token, NULL, garbage
SELECT privacy.unsubscribe(:'token2' || '=');
SELECT privacy.unsubscribe(:'token2' || ' ');
SELECT privacy.unsubscribe('+' || substr(:'token2', 2));
SELECT privacy.unsubscribe('');
SELECT privacy.unsubscribe(NULL);
SELECT privacy.unsubscribe('AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA');
SELECT privacy.unsubscribe(repeat('A', 1000));
RESET ROLE;
SELECT count(*) - :events_before AS events_recorded FROM privacy.consent_ledger;
SELECT status FROM privacy.consent_state WHERE kind = 'customer' AND subject = '2';

-- The genuine token still works afterwards.
SET ROLE unsub_web;
SELECT privacy.unsubscribe(:'token2');
RESET ROLE;

-- A new token key invalidates every token made with the old one.
UPDATE privacy._keys SET key = privacy_internal._random_key(32) WHERE name = 'token';
SET ROLE unsub_web;
SELECT privacy.unsubscribe(:'token_ada');
RESET ROLE;

SELECT privacy.seal_audit_log() AS sealed \gset
SELECT action, summary FROM privacy.audit_log WHERE action = 'consent.withdraw' ORDER BY id;

DROP ROLE unsub_web;
SET client_min_messages = warning;
DROP SCHEMA crm CASCADE;
DROP EXTENSION opendims_privacy CASCADE;
