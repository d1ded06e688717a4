-- The filter of a protected table's scan, when it is the row check alone,
-- is evaluated without the expression interpreter (consent_qual.c). It
-- must show exactly the rows the interpreted check shows, in every shape
-- the check takes (keys of every integer type and of text, a nullable
-- foreign key, two subject kinds, index-only and parallel scans), and
-- follow every change the interpreted check follows: consent, objection
-- and restriction, the purpose and the role, between statements, between
-- FETCHes of a cursor and between rows of one scan.
SET client_min_messages = warning;
CREATE EXTENSION opendims_privacy CASCADE;
RESET client_min_messages;
\set SHOW_CONTEXT never

CREATE SCHEMA rcf;
CREATE TABLE rcf.small_people (id smallint PRIMARY KEY, name text NOT NULL);
CREATE TABLE rcf.people (id integer PRIMARY KEY, name text NOT NULL);
CREATE TABLE rcf.big_people (id bigint PRIMARY KEY, name text NOT NULL);
CREATE TABLE rcf.members (handle text PRIMARY KEY, name text NOT NULL);
-- Reaches people through a nullable foreign key, and members too.
CREATE TABLE rcf.visits (id integer PRIMARY KEY, person_id integer REFERENCES rcf.people,
						 member text REFERENCES rcf.members, page text NOT NULL);
INSERT INTO rcf.small_people SELECT g, 'small ' || g FROM generate_series(1, 20) g;
INSERT INTO rcf.people SELECT g, 'person ' || g FROM generate_series(1, 20) g;
INSERT INTO rcf.big_people SELECT g, 'big ' || g FROM generate_series(1, 20) g;
INSERT INTO rcf.members SELECT 'm' || g, 'member ' || g FROM generate_series(1, 20) g;
INSERT INTO rcf.visits
SELECT g, CASE WHEN g % 7 = 0 THEN NULL ELSE (g - 1) % 20 + 1 END,
	   CASE WHEN g % 5 = 0 THEN NULL ELSE 'm' || ((g - 1) % 20 + 1) END, '/page/' || g
  FROM generate_series(1, 60) g;
-- The policy: four kinds, one per key type, and three purposes.
SELECT privacy.apply_policy($doc${
  "format": 1, "version": "rcf-1", "effective_date": "2026-06-24",
  "controller": {"name": "Example ApS", "contact": "privacy@example.com"},
  "purposes": [{"name": "service", "legal_basis": "contract"},
               {"name": "marketing", "legal_basis": "consent"},
               {"name": "analytics", "legal_basis": "legitimate_interest"}],
  "subject_kinds": [{"name": "small", "table": "rcf.small_people", "key": "id"},
                    {"name": "person", "table": "rcf.people", "key": "id"},
                    {"name": "big", "table": "rcf.big_people", "key": "id"},
                    {"name": "member", "table": "rcf.members", "key": "handle"}],
  "classifications": [{"table": "rcf.small_people", "column": "name", "category": "contact.name"},
                      {"table": "rcf.people", "column": "name", "category": "contact.name"},
                      {"table": "rcf.big_people", "column": "name", "category": "contact.name"},
                      {"table": "rcf.members", "column": "name", "category": "contact.name"},
                      {"table": "rcf.visits", "column": "page", "category": "credentials.behaviour"}]
}$doc$) ->> 'changed' AS applied;
SELECT privacy.protect(t) FROM unnest(ARRAY['rcf.small_people', 'rcf.people', 'rcf.big_people',
	'rcf.members', 'rcf.visits']::regclass[]) t;
-- The policies whose shapes the fast evaluation takes: a widened smallint
-- and integer key, a bigint and a text key, a nullable foreign key guarded
-- by "owned", two kinds.
SELECT c.relname, pg_get_expr(p.polqual, p.polrelid) AS check
  FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid
 WHERE p.polname = 'privacy_purpose' ORDER BY c.relname;

-- Consent to marketing: every subject but each fourth; the third withdrew;
-- the fifth objected to analytics; the sixth restricted processing.
DO $$
DECLARE
	k text;
	key text;
BEGIN
	FOREACH k IN ARRAY ARRAY['small', 'person', 'big', 'member'] LOOP
		FOR i IN 1..20 LOOP
			key := CASE k WHEN 'member' THEN 'm' || i ELSE i::text END;
			IF i % 4 <> 0 THEN
				PERFORM privacy.grant_consent(k, key, 'marketing', 'direct', '{}');
			END IF;
		END LOOP;
		key := CASE k WHEN 'member' THEN 'm3' ELSE '3' END;
		PERFORM privacy.withdraw_consent(k, key, 'marketing', 'direct', '{}');
		key := CASE k WHEN 'member' THEN 'm5' ELSE '5' END;
		PERFORM privacy.object(k, key, 'analytics', 'direct', '{}');
		key := CASE k WHEN 'member' THEN 'm6' ELSE '6' END;
		PERFORM privacy.restrict(k, key, 'disputed accuracy');
	END LOOP;
END
$$;

CREATE ROLE rcf_reader;
GRANT USAGE ON SCHEMA rcf TO rcf_reader;
GRANT SELECT ON ALL TABLES IN SCHEMA rcf TO rcf_reader;
SELECT privacy.allow_purpose('marketing', 'rcf_reader');
SELECT privacy.allow_purpose('analytics', 'rcf_reader');
SELECT privacy.allow_purpose('service', 'rcf_reader');

-- rcf_reader's view of each table: the filter alone (evaluated fast), and
-- the filter with a condition of the query's own (interpreted): the same
-- rows, for each purpose.
CREATE FUNCTION rcf.seen(purpose text) RETURNS TABLE (tab text, fast text, interpreted text)
LANGUAGE plpgsql AS $$
DECLARE
	t text;
	key text;
BEGIN
	PERFORM set_config('privacy.purpose', purpose, true);
	FOREACH t IN ARRAY ARRAY['small_people', 'people', 'big_people', 'members', 'visits'] LOOP
		key := CASE t WHEN 'members' THEN 'handle' ELSE 'id' END;
		tab := t;
		EXECUTE format('SELECT string_agg(%1$I::text, '','' ORDER BY %1$I) FROM rcf.%2$I', key, t) INTO fast;
		EXECUTE format('SELECT string_agg(%1$I::text, '','' ORDER BY %1$I) FROM rcf.%2$I x WHERE length(x::text) > 0',
					   key, t) INTO interpreted;
		RETURN NEXT;
	END LOOP;
END
$$;
GRANT EXECUTE ON FUNCTION rcf.seen(text) TO rcf_reader;

SET ROLE rcf_reader;
SELECT tab, fast, fast = interpreted AS same FROM rcf.seen('marketing');
SELECT tab, fast, fast = interpreted AS same FROM rcf.seen('analytics');
SELECT tab, fast, fast = interpreted AS same FROM rcf.seen('service');

-- Index-only scans and parallel scans.
SET privacy.purpose = 'marketing';
SET enable_seqscan = off;
SET enable_bitmapscan = off;
SELECT count(*) AS index_only FROM rcf.people;
RESET enable_seqscan;
RESET enable_bitmapscan;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
SET parallel_leader_participation = off;
EXPLAIN (COSTS OFF) SELECT count(*) FROM rcf.visits;
SELECT count(*) AS parallel, sum(id) AS ids FROM rcf.visits;
RESET parallel_leader_participation;
RESET max_parallel_workers_per_gather;
RESET min_parallel_table_scan_size;
RESET parallel_tuple_cost;
RESET parallel_setup_cost;
SELECT count(*) AS serial, sum(id) AS ids FROM rcf.visits;

-- A withdrawal between two FETCHes of a cursor hides the subject's rows
-- from the second FETCH on.
BEGIN;
DECLARE c CURSOR FOR SELECT id FROM rcf.people ORDER BY id;
FETCH 2 FROM c;
RESET ROLE;
SELECT privacy.withdraw_consent('person', '7', 'marketing', 'direct', '{}') IS NOT NULL AS withdrawn;
SET ROLE rcf_reader;
FETCH ALL FROM c;
COMMIT;
RESET ROLE;
SELECT privacy.grant_consent('person', '7', 'marketing', 'direct', '{}') IS NOT NULL AS granted_again;

-- A purpose changed by the query itself, between two rows of one scan:
-- the rows after the change are checked for the new purpose (marketing
-- hides persons 3, 4, 6, 8, ...; analytics hides 5 and 6).
SET ROLE rcf_reader;
SET privacy.purpose = 'marketing';
SELECT id, CASE WHEN id = 2 THEN set_config('privacy.purpose', 'analytics', false) END AS switched
  FROM rcf.people;
SHOW privacy.purpose;
-- A role that may not use the purpose is refused at once.
RESET ROLE;
CREATE ROLE rcf_other;
GRANT USAGE ON SCHEMA rcf TO rcf_other;
GRANT SELECT ON rcf.people TO rcf_other;
GRANT rcf_other TO rcf_reader;
SET ROLE rcf_reader;
SET privacy.purpose = 'marketing';
SELECT count(*) AS as_reader FROM rcf.people;
SET ROLE rcf_other;
SELECT count(*) AS as_other FROM rcf.people;
RESET ROLE;

-- A session that outlives the extension: dropped and created again, its
-- state is new, and the session's checks read the new state and follow
-- its changes.
SET ROLE rcf_reader;
SET privacy.purpose = 'marketing';
SELECT count(*) AS before_drop FROM rcf.people;
RESET ROLE;
RESET privacy.purpose;
SET client_min_messages = warning;
DROP EXTENSION opendims_privacy CASCADE;
CREATE EXTENSION opendims_privacy CASCADE;
RESET client_min_messages;
SELECT privacy.apply_policy($doc${
  "format": 1, "version": "rcf-2", "effective_date": "2026-06-24",
  "controller": {"name": "Example ApS", "contact": "privacy@example.com"},
  "purposes": [{"name": "marketing", "legal_basis": "consent"}],
  "subject_kinds": [{"name": "person", "table": "rcf.people", "key": "id"}],
  "classifications": [{"table": "rcf.people", "column": "name", "category": "contact.name"}]
}$doc$) ->> 'changed' AS applied;
SELECT privacy.protect('rcf.people');
SELECT privacy.allow_purpose('marketing', 'rcf_reader');
SELECT privacy.grant_consent('person', '2', 'marketing', 'direct', '{}') IS NOT NULL AS granted;
SET ROLE rcf_reader;
SET privacy.purpose = 'marketing';
SELECT string_agg(id::text, ',') AS after_create FROM rcf.people;
RESET ROLE;
SELECT privacy.withdraw_consent('person', '2', 'marketing', 'direct', '{}') IS NOT NULL AS withdrawn;
SET ROLE rcf_reader;
SELECT count(*) AS after_withdrawal FROM rcf.people;
RESET ROLE;

SET client_min_messages = warning;
DROP SCHEMA rcf CASCADE;
DROP EXTENSION opendims_privacy CASCADE;
DROP OWNED BY rcf_reader, rcf_other;
DROP ROLE rcf_reader;
DROP ROLE rcf_other;
