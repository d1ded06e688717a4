-- privacy.export_subject(): every personal row of a subject across the
-- subject map, with what GDPR Art. 15 requires; nothing of anyone else.
SET client_min_messages = warning;
CREATE EXTENSION opendims_privacy CASCADE;
RESET client_min_messages;
\i test/fixtures/shop_schema.sql
\set doc `cat test/fixtures/shop-policy.json`
SELECT (privacy.apply_policy(:'doc') ->> 'changed')::boolean AS applied;
SECURITY LABEL FOR privacy ON COLUMN shop.shipments.tracking_note IS 'content';
\i test/fixtures/shop_data.sql
-- A personal-data type classifies itself and exports in canonical form.
ALTER TABLE shop.customers ADD COLUMN work_email privacy.email;
UPDATE shop.customers SET work_email = 'Ada.Work@EXAMPLE.COM' WHERE id = 1;
-- Consent history goes into the export.
SELECT privacy.grant_consent('customer', '1', 'marketing', 'webshop', '{"form": "newsletter signup"}') > 0 AS granted;
SELECT privacy.withdraw_consent('customer', '1', 'marketing') > 0 AS withdrawn;

CREATE TEMP TABLE ada AS SELECT privacy.export_subject('customer', '1') AS e;
-- (The retained invoice was issued 30 days before the test runs.)
SELECT jsonb_pretty(replace((e -> 'data')::text, to_char(current_date - 30, 'YYYY-MM-DD'),
                            'thirty days ago')::jsonb) FROM ada;
SELECT e -> 'subject' AS subject, e -> 'policy_version' AS version,
       (e ->> 'generated_at')::timestamptz <= now() AS dated,
       e -> 'contact' AS contact FROM ada;
SELECT jsonb_pretty(jsonb_build_object(
  'categories', e -> 'categories', 'sources', e -> 'sources', 'retention', e -> 'retention',
  'consent_history', (SELECT jsonb_agg(h - 'time') FROM jsonb_array_elements(e -> 'consent_history') h))) FROM ada;
SELECT jsonb_array_length(e -> 'purposes') AS purposes, jsonb_array_length(e -> 'recipients') AS recipients,
       (SELECT jsonb_agg(r -> 'right') FROM jsonb_array_elements(e -> 'rights') r) AS rights
  FROM ada;
-- Nothing of Bo or Cy is in Ada's export.
SELECT position('Bo ' IN e::text) = 0 AND position('bo.unique' IN e::text) = 0
       AND position('Cy ' IN e::text) = 0 AND position('Bo Street' IN e::text) = 0 AS nothing_of_others
  FROM ada;
-- A subject with rows in only one table: the categories, sources and
-- retention rules are those of that table.
CREATE TEMP TABLE cy AS SELECT privacy.export_subject('customer', '3') AS e;
SELECT jsonb_object_keys(e -> 'data') FROM cy;
SELECT e -> 'categories' AS categories, e -> 'sources' AS sources, e -> 'retention' AS retention FROM cy;
-- The export is audited, by subject reference only.
SELECT privacy.seal_audit_log() AS sealed \gset
SELECT action, subject_ref = privacy.subject_ref('customer', '1') AS ref_ok, summary
  FROM privacy.audit_log WHERE action = 'export' ORDER BY id;

-- Errors: unknown subject, bad key, unknown kind, NULLs.
SELECT privacy.export_subject('customer', '999');
SELECT privacy.export_subject('customer', 'not-a-number');
SELECT privacy.export_subject('supplier', '1');
SELECT privacy.export_subject(NULL, '1');
-- An ambiguous path is refused rather than guessed.
CREATE TABLE shop.referrals (referrer_id integer REFERENCES shop.customers, referee_id integer REFERENCES shop.customers, note text);
SECURITY LABEL FOR privacy ON COLUMN shop.referrals.note IS 'content';
SELECT privacy.export_subject('customer', '1');
DROP TABLE shop.referrals;
-- Cached plans follow the schema: a new personal table appears in the next export.
CREATE TABLE shop.notes (customer_id integer REFERENCES shop.customers, note text);
CREATE INDEX ON shop.notes (customer_id);
SECURITY LABEL FOR privacy ON COLUMN shop.notes.note IS 'support';
INSERT INTO shop.notes VALUES (1, 'called about a late parcel');
SELECT privacy.export_subject('customer', '1') -> 'data' -> 'shop.notes' -> 'rows';

-- Every lookup of the export's statements can use an index: with
-- sequential scans disabled, the plan of its first statement for any
-- subject (the generic plan, which the export keeps: run as the anchor's
-- owner, it finds the subject and reads that owner's tables), and that of
-- the statement reading each table's rows (run as the table's owner), scan
-- sequentially only the tables whose path the subject map reports as not
-- indexed. (The consent ledger and the disclosure log are read through
-- their subject indexes directly, below.) The ledger holds other subjects'
-- events too.
INSERT INTO privacy.consent_ledger (actor, kind, subject, action, purpose, source)
SELECT current_user, 'customer', g::text, 'consent.grant', 'marketing', 'webshop' FROM generate_series(1000, 3000) g;
ANALYZE privacy.consent_ledger;
SET enable_seqscan = off;
SET plan_cache_mode = force_generic_plan;
CREATE TEMP TABLE export_plan (line text);
DO $$
DECLARE
	line text;
	rows_sql text;
BEGIN
	EXECUTE 'PREPARE export_statement(text) AS ' || privacy_internal._export_statement('customer');
	FOR line IN EXECUTE 'EXPLAIN (COSTS OFF) EXECUTE export_statement(''1'')' LOOP
		INSERT INTO export_plan VALUES (line);
	END LOOP;
	DEALLOCATE export_statement;
	FOR rows_sql IN SELECT p.rows_sql FROM privacy_internal._subject_plan('customer') p WHERE p.personal LOOP
		EXECUTE 'PREPARE export_statement(text) AS SELECT pg_catalog.jsonb_agg(pg_catalog.to_jsonb(t0)) ' || rows_sql;
		FOR line IN EXECUTE 'EXPLAIN (COSTS OFF) EXECUTE export_statement(''1'')' LOOP
			INSERT INTO export_plan VALUES (line);
		END LOOP;
		DEALLOCATE export_statement;
	END LOOP;
END
$$;
RESET plan_cache_mode;
RESET enable_seqscan;
SELECT DISTINCT substring(line FROM 'Seq Scan on (\S+)') AS scanned_sequentially
  FROM export_plan WHERE line LIKE '%Seq Scan%' ORDER BY 1;
SELECT table_name, indexed FROM privacy.subject_map WHERE kind = 'customer' AND NOT indexed ORDER BY 1;
-- Every other table of the kind is read through an index.
SELECT DISTINCT COALESCE(substring(line FROM 'Index (?:Only )?Scan using \S+ on (\S+)'),
                         substring(line FROM 'Bitmap Heap Scan on (\S+)')) AS read_by_index
  FROM export_plan WHERE line ~ 'Index (Only )?Scan using|Bitmap Heap Scan' ORDER BY 1;

-- The consent history in the export is the subject's, event for event and
-- value for value, as privacy.consent_history() gives it: also an event
-- an erasure forgot (recorded under the subject's reference since) and,
-- among the ledger's events of other subjects, none of theirs.
SELECT privacy.grant_consent('customer', '1', 'marketing', 'webshop', '{"form": "second signup"}') > 0 AS granted_again;
UPDATE privacy.consent_ledger l
   SET forgotten = true, subject = privacy.subject_ref(l.kind, l.subject),
       evidence = privacy_internal._redacted_evidence(l.evidence)
 WHERE l.id = (SELECT min(f.id) FROM privacy.consent_ledger f WHERE f.kind = 'customer' AND f.subject = '1');
SELECT jsonb_array_length(h) AS events, h = privacy.consent_history('customer', '1') AS as_consent_history,
       (SELECT count(*) FROM jsonb_array_elements(h) e WHERE e -> 'evidence' = privacy_internal._redacted_evidence('{"form": "newsletter signup"}')) AS forgotten,
       (SELECT array_agg(e ->> 'action') FROM jsonb_array_elements(h) e) AS actions
  FROM (SELECT privacy.export_subject('customer', '1') -> 'consent_history' AS h) x;

-- A kind whose anchor holds no personal data, and whose personal table has
-- another owner: the first statement, as the anchor's owner, finds the
-- subject by a test of its own and reads no table; the next reads the
-- personal table as its owner.
CREATE ROLE export_visits_owner;
CREATE TABLE shop.visitors (id integer PRIMARY KEY);
GRANT USAGE ON SCHEMA shop TO export_visits_owner;
GRANT CREATE ON SCHEMA shop TO export_visits_owner;
GRANT REFERENCES ON shop.visitors TO export_visits_owner;
SET ROLE export_visits_owner;
CREATE TABLE shop.visits (visitor_id integer NOT NULL REFERENCES shop.visitors, page text);
CREATE INDEX ON shop.visits (visitor_id);
RESET ROLE;
SECURITY LABEL FOR privacy ON COLUMN shop.visits.page IS 'support';
INSERT INTO shop.visitors VALUES (1), (2);
INSERT INTO shop.visits VALUES (1, '/pricing'), (1, '/contact');
SELECT (privacy.apply_policy(jsonb_set(jsonb_set(privacy.policy(), '{version}', '"shop-1-visitors"'), '{subject_kinds}',
        (privacy.policy() -> 'subject_kinds') || '[{"name": "visitor", "table": "shop.visitors", "key": "id"}]')::text)
        ->> 'changed')::boolean AS applied;
SELECT privacy_internal._export_statement('visitor') ~ '^SELECT EXISTS \(SELECT FROM shop\.visitors ' AS finds_by_test,
       privacy_internal._export_statement('visitor') !~ 'visits' AS reads_no_table;
SELECT e -> 'data' AS data FROM (SELECT privacy.export_subject('visitor', '1') AS e) x;
SELECT jsonb_object_keys(privacy.export_subject('visitor', '2') -> 'data') AS visitor_2_tables;
SELECT privacy.export_subject('visitor', '3');

-- Only roles granted it may export.
CREATE ROLE export_stranger;
SET ROLE export_stranger;
SELECT privacy.export_subject('customer', '1');
RESET ROLE;
DROP ROLE export_stranger;

DROP SCHEMA shop CASCADE;
DROP OWNED BY export_visits_owner;
DROP ROLE export_visits_owner;
DROP EXTENSION opendims_privacy CASCADE;
