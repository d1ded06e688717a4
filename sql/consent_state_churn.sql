-- A session that holds the whole consent state brings it up to date with
-- each committed change by looking up the subjects it touched: after a
-- few hundred random changes of integer- and text-keyed subjects, each
-- committed on its own, what the row check lets through always equals what
-- the ledger says, and the image was brought up to date rather than read
-- again (where the library is preloaded and shares state).
SET client_min_messages = warning;
CREATE EXTENSION opendims_privacy CASCADE;
RESET client_min_messages;
\set SHOW_CONTEXT never

CREATE SCHEMA upd;
-- Integer keys in two ranges, so that some changes fall beyond the keys an
-- image holds; text keys for members.
CREATE TABLE upd.customers (id bigint PRIMARY KEY, name text NOT NULL);
INSERT INTO upd.customers SELECT g, 'Customer ' || g FROM generate_series(1, 300) g;
INSERT INTO upd.customers SELECT g, 'Customer ' || g FROM generate_series(90001, 90040) g;
CREATE TABLE upd.members (handle text PRIMARY KEY, name text NOT NULL);
INSERT INTO upd.members SELECT 'member-' || g, 'Member ' || g FROM generate_series(1, 100) g;
SELECT privacy.apply_policy(jsonb_build_object(
	'format', 1, 'version', 'upd-1', 'effective_date', '2026-06-24',
	'controller', jsonb_build_object('name', 'Example ApS', 'contact', 'privacy@example.com'),
	'purposes', jsonb_build_array(jsonb_build_object('name', 'marketing', 'legal_basis', 'consent')),
	'subject_kinds', jsonb_build_array(
		jsonb_build_object('name', 'customer', 'table', 'upd.customers', 'key', 'id'),
		jsonb_build_object('name', 'member', 'table', 'upd.members', 'key', 'handle')),
	'classifications', jsonb_build_array(
		jsonb_build_object('table', 'upd.customers', 'column', 'name', 'category', 'contact.name'),
		jsonb_build_object('table', 'upd.members', 'column', 'name', 'category', 'contact.name')))::text)
	->> 'changed' AS applied;
SELECT privacy.protect('upd.customers') IS NOT NULL AS protected;
SELECT privacy.protect('upd.members') IS NOT NULL AS protected;
SELECT count(privacy.grant_consent('customer', g::text, 'marketing')) FROM generate_series(1, 300, 2) g;
SELECT count(privacy.grant_consent('member', 'member-' || g, 'marketing')) FROM generate_series(1, 100, 2) g;
CREATE ROLE upd_reader;
GRANT USAGE ON SCHEMA upd TO upd_reader;
GRANT SELECT ON ALL TABLES IN SCHEMA upd TO upd_reader;
SELECT privacy.allow_purpose('marketing', 'upd_reader');

-- What the ledger says the reader may see.
CREATE FUNCTION upd.expected() RETURNS bigint LANGUAGE sql AS $$
	SELECT (SELECT count(*) FROM upd.customers c
			 WHERE EXISTS (SELECT FROM privacy.consent_state s WHERE s.kind = 'customer'
							  AND s.subject = c.id::text AND s.purpose = 'marketing' AND s.status = 'granted')
			   AND NOT EXISTS (SELECT FROM privacy.consent_state s WHERE s.kind = 'customer'
								  AND s.subject = c.id::text AND s.status = 'restricted'))
		 + (SELECT count(*) FROM upd.members m
			 WHERE EXISTS (SELECT FROM privacy.consent_state s WHERE s.kind = 'member'
							  AND s.subject = m.handle AND s.purpose = 'marketing' AND s.status = 'granted'))
$$;

-- What the row check lets through, as the reader with its purpose.
CREATE FUNCTION upd.seen() RETURNS bigint LANGUAGE sql
	SET role = 'upd_reader' SET privacy.purpose = 'marketing' AS $$
	SELECT (SELECT count(*) FROM upd.customers) + (SELECT count(*) FROM upd.members)
$$;

-- The same counted by a parallel worker (from the image its leader brought
-- up to date before starting it).
CREATE FUNCTION upd.seen_by_worker() RETURNS bigint LANGUAGE sql STABLE
	SET role = 'upd_reader' SET privacy.purpose = 'marketing' SET force_parallel_mode = on AS $$
	SELECT (SELECT count(*) FROM upd.customers) + (SELECT count(*) FROM upd.members)
$$;

CREATE TABLE upd.rounds (round int, seen bigint, expected bigint, cache text,
						 seen_by_worker bigint, expected_then bigint);

-- One random change a transaction, then a check in the next.
CREATE PROCEDURE upd.churn(rounds int) LANGUAGE plpgsql AS $$
DECLARE
	op int;
	id bigint;
	counted bigint;
BEGIN
	PERFORM setseed(0.25);
	FOR i IN 1 .. rounds LOOP
		op := floor(random() * 6)::int;
		id := CASE WHEN random() < 0.2 THEN 90001 + floor(random() * 40)::int
				   ELSE 1 + floor(random() * 300)::int END;
		CASE op
			WHEN 0, 1 THEN PERFORM privacy.grant_consent('customer', id::text, 'marketing');
			WHEN 2 THEN PERFORM privacy.withdraw_consent('customer', id::text, 'marketing');
			WHEN 3 THEN
				IF EXISTS (SELECT FROM privacy.consent_state s WHERE s.kind = 'customer'
							  AND s.subject = id::text AND s.status = 'restricted') THEN
					PERFORM privacy.lift_restriction('customer', id::text);
				ELSE
					PERFORM privacy.restrict('customer', id::text, 'accuracy contested');
				END IF;
			WHEN 4 THEN PERFORM privacy.grant_consent('member', 'member-' || (id % 100 + 1), 'marketing');
			ELSE PERFORM privacy.withdraw_consent('member', 'member-' || (id % 100 + 1), 'marketing');
		END CASE;
		COMMIT;
		counted := upd.seen();
		INSERT INTO upd.rounds SELECT i, counted, upd.expected(), cache FROM privacy.consent_cache_status();
		COMMIT;
		IF i % 3 = 0 THEN
			-- a change the session has not taken in yet, then a worker
			PERFORM privacy.grant_consent('member', 'member-' || (i % 100 + 1), 'marketing');
			COMMIT;
			SELECT upd.seen_by_worker() INTO counted;
			UPDATE upd.rounds SET seen_by_worker = counted, expected_then = upd.expected() WHERE round = i;
		END IF;
		COMMIT;
	END LOOP;
END
$$;

-- A first read of the whole state, then the changes.
SELECT upd.seen() = upd.expected() AS agrees;
CALL upd.churn(300);
SELECT count(*) AS rounds, count(*) FILTER (WHERE seen <> expected) AS disagreeing,
	   count(seen_by_worker) AS checked_by_worker,
	   count(*) FILTER (WHERE seen_by_worker <> expected_then) AS worker_disagreeing
  FROM upd.rounds;
-- Brought up to date in (nearly) every round where state is shared.
SELECT NOT (SELECT shared_memory FROM privacy.consent_cache_status())
	   OR count(*) FILTER (WHERE cache = 'updated') >= 290 AS updated_in_place
  FROM upd.rounds;

DROP SCHEMA upd CASCADE;
DROP ROLE upd_reader;
DROP EXTENSION opendims_privacy CASCADE;
