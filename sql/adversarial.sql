-- Attacks on the extension itself: install-time squatting, search_path and
-- pg_temp shadowing, injection through names and keys, NULL in every
-- argument of every function, and an ordinary role reaching for what it
-- must not. Each case asserts the outcome and that nothing changed.
SET client_min_messages = warning;

-- 1. Install-time: a schema "privacy" created beforehand by someone else, or
-- holding objects already, is refused. (DROP EXTENSION leaves the empty
-- schema behind, so an earlier test's is dropped first.)
DROP SCHEMA IF EXISTS privacy;
CREATE ROLE squatter;
CREATE SCHEMA privacy AUTHORIZATION squatter;
CREATE EXTENSION opendims_privacy CASCADE;
DROP SCHEMA privacy;
CREATE SCHEMA privacy;
CREATE FUNCTION privacy.policy() RETURNS jsonb LANGUAGE sql AS 'SELECT ''{}''::jsonb';
CREATE EXTENSION opendims_privacy CASCADE;
DROP SCHEMA privacy CASCADE;
DROP ROLE squatter;
SELECT count(*) AS installed FROM pg_extension WHERE extname = 'opendims_privacy';

CREATE EXTENSION opendims_privacy CASCADE;
RESET client_min_messages;
\i test/fixtures/shop_schema.sql
\set doc `cat test/fixtures/shop-policy.json`
SELECT (privacy.apply_policy(:'doc') ->> 'changed')::boolean AS applied;
\i test/fixtures/shop_data.sql
-- Nobody but the extension's owner can create objects in its schema.
CREATE ROLE intruder;
SET ROLE intruder;
CREATE FUNCTION privacy.subject_ref(text, text, text) RETURNS text LANGUAGE sql AS 'SELECT 1::text';
CREATE TABLE privacy.audit_log_copy (x int);
RESET ROLE;

-- 2. search_path: functions and operators in a schema searched first, and
-- temporary objects, must never run inside the extension's functions.
CREATE SCHEMA evil;
CREATE TABLE evil.calls (what text);
GRANT ALL ON SCHEMA evil TO PUBLIC;
GRANT ALL ON evil.calls TO PUBLIC;
CREATE FUNCTION evil.format(text, VARIADIC text[]) RETURNS text LANGUAGE plpgsql AS
	$$ BEGIN INSERT INTO evil.calls VALUES ('format'); RETURN 'x'; END $$;
CREATE FUNCTION evil.jsonb_build_object(VARIADIC text[]) RETURNS jsonb LANGUAGE plpgsql AS
	$$ BEGIN INSERT INTO evil.calls VALUES ('jsonb_build_object'); RETURN '{}'; END $$;
CREATE FUNCTION evil.sha256(bytea) RETURNS bytea LANGUAGE plpgsql AS
	$$ BEGIN INSERT INTO evil.calls VALUES ('sha256'); RETURN '\x00'; END $$;
CREATE FUNCTION evil.text_eq_trap(text, text) RETURNS boolean LANGUAGE plpgsql AS
	$$ BEGIN INSERT INTO evil.calls VALUES ('operator ='); RETURN $1 OPERATOR(pg_catalog.=) $2; END $$;
CREATE OPERATOR evil.= (LEFTARG = text, RIGHTARG = text, FUNCTION = evil.text_eq_trap);
CREATE TEMP TABLE audit_log (id int);
CREATE TEMP TABLE subject_kinds (name text);
SET search_path = evil, pg_temp, public, pg_catalog;
SELECT (privacy.policy() ->> 'version') AS version;
SELECT count(*) > 0 AS lint_runs FROM privacy.lint();
SELECT privacy.processing_record() ? 'purposes' AS record_ok;
SELECT count(*) AS mapped FROM privacy.subject_map;
SELECT privacy.apply_policy(:'doc') ->> 'changed' AS changed;
SELECT privacy.export_subject('customer', '2') -> 'subject' AS exported;
SELECT privacy.erase_subject('customer', '3', 'test') ->> 'rows_deleted' AS erased;
SELECT privacy.seal_audit_log() AS sealed \gset
SELECT intact FROM privacy.verify_audit_log();
RESET search_path;
SELECT count(*) AS trap_calls FROM evil.calls;
SELECT privacy.seal_audit_log() AS sealed \gset
SELECT count(*) AS temp_audit_rows FROM pg_temp.audit_log;
DROP TABLE pg_temp.audit_log, pg_temp.subject_kinds;

-- 3. Injection: names and keys are data, never SQL.
SELECT privacy.export_subject('customer''; DROP TABLE shop.customers; --', '1');
SELECT privacy.export_subject('customer', '1; DROP TABLE shop.customers');
SELECT privacy.erase_subject('customer', '1) OR (1=1', 'x');
SELECT privacy.open_request('customer', '2', 'access''); DROP TABLE shop.orders; --');
SELECT privacy.apply_policy(jsonb_set(:'doc'::jsonb, '{purposes,0,name}', '"serv''ice; DROP TABLE shop.orders"')::text);
SELECT privacy.apply_policy(jsonb_set(:'doc'::jsonb, '{purposes,0,name}', '"Service"')::text);
SELECT privacy.apply_policy(jsonb_set(:'doc'::jsonb, '{purposes,0,name}', '"tjeneste_æøå"')::text);
SELECT count(*) AS customers, (SELECT count(*) FROM shop.orders) AS orders FROM shop.customers;

-- 4. NULL in every argument of every public function: an error with a
-- clear SQLSTATE or a NULL result, never a crash or a silent change.
DO $$
DECLARE
	f record;
	outcome text;
	result text;
BEGIN
	CREATE TEMP TABLE null_outcomes (fn text, outcome text);
	FOR f IN
		SELECT p.oid::regprocedure AS sig, p.proname,
			   (SELECT pg_catalog.string_agg(pg_catalog.format('NULL::%s', pg_catalog.format_type(t, NULL)), ', ' ORDER BY o)
				  FROM pg_catalog.unnest(p.proargtypes) WITH ORDINALITY AS a(t, o)) AS args
		  FROM pg_catalog.pg_proc p
		 WHERE p.pronamespace = 'privacy'::regnamespace
		   AND p.proname !~ '^_' AND p.prokind IN ('f', 'p')
		   AND p.prorettype NOT IN ('trigger'::regtype, 'event_trigger'::regtype, 'cstring'::regtype, 'internal'::regtype)
		   AND NOT EXISTS (SELECT FROM pg_catalog.unnest(p.proargtypes) t
							WHERE t IN ('internal'::regtype, 'cstring'::regtype))
		   AND p.pronargs > 0
		 ORDER BY 1::text
	LOOP
		BEGIN
			IF (SELECT prokind FROM pg_catalog.pg_proc WHERE oid = f.sig) = 'p' THEN
				EXECUTE pg_catalog.format('CALL privacy.%I(%s)', f.proname, f.args);
				outcome := 'ok';
			ELSE
				EXECUTE pg_catalog.format('SELECT (privacy.%I(%s))::text', f.proname, f.args) INTO result;
				outcome := CASE WHEN result IS NULL THEN 'null' ELSE 'value' END;
			END IF;
		EXCEPTION WHEN OTHERS THEN
			outcome := 'error ' || SQLSTATE;
		END;
		INSERT INTO null_outcomes VALUES (f.sig::text, outcome);
	END LOOP;
END $$;
SELECT outcome, count(*) FROM null_outcomes GROUP BY outcome ORDER BY outcome;
SELECT fn, outcome FROM null_outcomes WHERE outcome NOT IN ('null', 'error 22004', 'error 22023', 'error 42501') ORDER BY fn;
SELECT count(*) AS customers FROM shop.customers;

-- 5. An ordinary role: no reading of other subjects' data or the extension's
-- secrets, no writing of the catalog, no rights functions.
SET ROLE intruder;
SELECT count(*) FROM privacy._keys;
SELECT count(*) FROM privacy.audit_log;
SELECT count(*) FROM privacy.erasures;
SELECT count(*) FROM privacy.subject_requests;
SELECT count(*) FROM privacy.requests;
INSERT INTO privacy.classifications VALUES ('shop.customers', 'id', 'contact.name', 'direct');
DELETE FROM privacy.purposes;
UPDATE privacy.policy_versions SET version = 'forged';
SELECT privacy.apply_policy('{}');
SELECT privacy.export_subject('customer', '2');
SELECT privacy.erase_subject('customer', '2', 'x');
SELECT privacy.open_request('customer', '2', 'access');
SELECT privacy.prune_audit_log('10 years');
SELECT privacy_internal._audit('intruder', 'forged', NULL, NULL, NULL, NULL);
SELECT privacy_internal._erase_subject('customer', '2', 'x', NULL);
SELECT privacy.subject_ref('customer', '2');
-- What it may read: the catalog, which holds no personal data.
SELECT count(*) > 0 AS catalog_readable FROM privacy.classified_columns;
RESET ROLE;
SELECT count(*) AS customers, (SELECT count(*) FROM privacy.purposes) AS purposes FROM shop.customers;

-- 6. Row security: what a purpose may not process stays hidden, whatever
-- the route: COPY, errors as side channels, unique and foreign-key probes,
-- ON CONFLICT, RETURNING.
SELECT privacy.protect('shop.customers');
SELECT privacy.protect('shop.orders');
CREATE ROLE marketer;
GRANT USAGE ON SCHEMA shop TO marketer;
GRANT SELECT, INSERT, UPDATE ON shop.customers, shop.orders TO marketer;
SELECT privacy.allow_purpose('marketing', 'marketer');
SELECT privacy.grant_consent('customer', '2', 'marketing') > 0 AS bo_consents;
SET ROLE marketer;
SET privacy.purpose = 'marketing';
SELECT id, name FROM shop.customers ORDER BY id;
COPY shop.customers (id, name) TO STDOUT;
COPY (SELECT id FROM shop.orders ORDER BY id) TO STDOUT;
-- An expression that would fail on a hidden row is never evaluated on it.
SELECT count(*) FROM shop.customers WHERE 1 / (CASE WHEN id = 1 THEN 0 ELSE 1 END) = 1;
SELECT count(*) FROM shop.customers WHERE name = 'Ada Lovelace-Unique';
-- Probing a hidden subject with writes: refused, and no value is shown.
\set VERBOSITY default
INSERT INTO shop.customers (id, name) VALUES (1, 'probe');
INSERT INTO shop.customers (id, name) VALUES (2, 'probe');
INSERT INTO shop.customers (id, name) VALUES (1, 'probe') ON CONFLICT (id) DO UPDATE SET name = 'probed' RETURNING *;
INSERT INTO shop.orders (id, customer_id, placed_at) VALUES (99, 1, now()) RETURNING *;
UPDATE shop.customers SET name = name RETURNING id;
RESET privacy.purpose;
RESET ROLE;
SELECT name FROM shop.customers WHERE id = 1;

DROP SCHEMA evil CASCADE;
DROP OWNED BY marketer;
DROP ROLE marketer;
DROP ROLE intruder;
DROP SCHEMA shop CASCADE;
DROP EXTENSION opendims_privacy CASCADE;
