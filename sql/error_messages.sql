-- Errors never carry a subject key or a personal value: they reach the
-- server log. Every error a function taking a subject can raise, and the
-- personal-data types' input errors, are raised here with distinctive
-- keys and values; none of message, detail or hint may contain them.
SET client_min_messages = warning;
CREATE EXTENSION opendims_privacy CASCADE;
RESET client_min_messages;
CREATE SCHEMA leak;
-- A kind with a text key (its keys can be anything) and one with an
-- integer key (a key that is not an integer is an error of its own).
CREATE TABLE leak.accounts (handle text PRIMARY KEY, email privacy.email, phone privacy.phone);
CREATE TABLE leak.members (id integer PRIMARY KEY, nickname text);
SELECT (privacy.apply_policy($doc$
{
  "format": 1, "version": "leak-1", "effective_date": "2026-06-24",
  "controller": {"name": "Example ApS", "contact": "privacy@example.com"},
  "purposes": [
    {"name": "service", "legal_basis": "contract"},
    {"name": "marketing", "legal_basis": "consent"},
    {"name": "analytics", "legal_basis": "legitimate_interest"}
  ],
  "sources": [{"name": "webshop"}],
  "subject_kinds": [
    {"name": "account", "table": "leak.accounts", "key": "handle"},
    {"name": "member", "table": "leak.members", "key": "id"}
  ],
  "classifications": [
    {"table": "leak.members", "column": "nickname", "category": "contact.name"}
  ]
}
$doc$) ->> 'changed')::boolean AS applied;
INSERT INTO leak.accounts (handle, email) VALUES ('K3Y-0000-LEAK', 'k3y.0000.leak@example.com');
INSERT INTO leak.members (id, nickname) VALUES (7, 'K3Y-0000-NICK');

-- Runs a statement that must fail; returns its SQLSTATE and message, and
-- whether its message, detail or hint names a key or value of this test.
CREATE FUNCTION pg_temp.error_of(statement text, OUT code text, OUT message text, OUT leaks boolean)
LANGUAGE plpgsql AS $$
DECLARE
	detail text;
	hint text;
BEGIN
	EXECUTE statement;
	code := 'none';
	leaks := false;
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS code = RETURNED_SQLSTATE, message = MESSAGE_TEXT,
							detail = PG_EXCEPTION_DETAIL, hint = PG_EXCEPTION_HINT;
	leaks := pg_catalog.concat_ws(' ', message, detail, hint) ~* '(K3Y|0000)[-.](0000|LEAK|GONE|NICK)';
END
$$;

CREATE TEMPORARY TABLE cases (n serial, statement text);
INSERT INTO cases (statement) VALUES
	-- A subject that does not exist.
	($$SELECT privacy.open_request('account', 'K3Y-0000-GONE', 'access')$$),
	($$SELECT privacy.export_subject('account', 'K3Y-0000-GONE')$$),
	($$SELECT privacy.erase_subject('account', 'K3Y-0000-GONE', 'consent withdrawn')$$),
	($$SELECT privacy.place_hold('account', 'K3Y-0000-GONE', 'Dispute', 'Case 1')$$),
	($$SELECT privacy.grant_consent('account', 'K3Y-0000-GONE', 'marketing')$$),
	($$SELECT privacy.object('account', 'K3Y-0000-GONE', 'analytics')$$),
	($$SELECT privacy.restrict('account', 'K3Y-0000-GONE', 'accuracy contested')$$),
	($$SELECT privacy.unsubscribe_token('account', 'K3Y-0000-GONE', 'marketing')$$),
	-- A key that is not a value of the key's type.
	($$SELECT privacy.open_request('member', 'K3Y-0000-LEAK', 'access')$$),
	($$SELECT privacy.export_subject('member', 'K3Y-0000-LEAK')$$),
	($$SELECT privacy.erase_subject('member', 'K3Y-0000-LEAK', 'consent withdrawn')$$),
	($$SELECT privacy.place_hold('member', 'K3Y-0000-LEAK', 'Dispute', 'Case 1')$$),
	($$SELECT privacy.withdraw_consent('member', 'K3Y-0000-LEAK', 'marketing')$$),
	($$SELECT privacy.consent_history('member', 'K3Y-0000-LEAK')$$),
	-- An existing subject and a missing or repeated argument: checked
	-- before a row is written, so no constraint's detail shows the row.
	($$SELECT privacy.place_hold('account', 'K3Y-0000-LEAK', NULL, 'Case 1')$$),
	($$SELECT privacy.place_hold('account', 'K3Y-0000-LEAK', 'Dispute', NULL)$$),
	($$SELECT privacy.place_hold('account', 'K3Y-0000-LEAK', 'Dispute', 'Case 1'),
			  privacy.place_hold('account', 'K3Y-0000-LEAK', 'Dispute', 'Case 1')$$),
	($$SELECT privacy.lift_restriction('account', 'K3Y-0000-LEAK')$$),
	($$SELECT privacy.open_request('account', 'K3Y-0000-LEAK', 'access', NULL)$$),
	($$SELECT privacy.grant_consent('account', 'K3Y-0000-LEAK', 'marketing', NULL)$$),
	($$SELECT privacy.grant_consent('account', 'K3Y-0000-LEAK', 'marketing', 'webshop', NULL)$$),
	($$SELECT privacy.erase_subject('account', 'K3Y-0000-LEAK', NULL)$$),
	-- A token naming the subject, with its signature broken.
	($$SELECT privacy.unsubscribe(overlay(privacy.unsubscribe_token('account', 'K3Y-0000-LEAK', 'marketing')
										   PLACING 'AAAA' FROM 20 FOR 4))$$),
	-- Personal values that are not values of their types.
	($$SELECT 'K3Y-0000-LEAK'::privacy.email$$),
	($$SELECT 'K3Y-0000-LEAK'::privacy.phone$$),
	($$SELECT 'K3Y-0000-LEAK'::privacy.ip_address$$),
	($$INSERT INTO leak.accounts (handle, email) VALUES ('a', 'k3y.0000.leak@@example.com')$$),
	($$UPDATE leak.accounts SET phone = '+45 K3Y-0000-LEAK'$$);

SELECT c.n, e.code, e.message, e.leaks
  FROM cases c, LATERAL pg_temp.error_of(c.statement) e
 ORDER BY c.n;

DROP SCHEMA leak CASCADE;
DROP EXTENSION opendims_privacy CASCADE;
