-- privacy.apply_policy() and privacy.policy(): loading, idempotence, what
-- changed, versions, and every kind of bad document.
SET client_min_messages = warning;
CREATE EXTENSION opendims_privacy CASCADE;
RESET client_min_messages;
\i test/fixtures/shop_schema.sql
\set doc `cat test/fixtures/shop-policy.json`

-- Before any policy: built-in taxonomy, no version.
SELECT privacy.policy() -> 'version' AS version,
       jsonb_array_length(privacy.policy() -> 'categories') AS categories,
       jsonb_array_length(privacy.policy() -> 'special_categories') AS special,
       privacy.policy() -> 'sources' -> 0 ->> 'name' AS first_source;

-- First load: everything is added.
SELECT jsonb_pretty(privacy.apply_policy(:'doc'));
SELECT name, legal_basis, allowed_under_restriction FROM privacy.purposes ORDER BY name;
SELECT name, kind, dpa_reference, purposes FROM privacy.recipients ORDER BY name;
SELECT * FROM privacy.classifications ORDER BY 1, 2;
SELECT name, table_name, anchor, period, action, columns, minimum, minimum_from FROM privacy.retention_rules ORDER BY name;
SELECT kind, table_name, via FROM privacy.subject_paths;

-- Idempotent: the same document again, and the policy in force, change nothing.
SELECT privacy.apply_policy(:'doc');
SELECT privacy.apply_policy(privacy.policy()::text);
SELECT count(*) AS versions FROM privacy.policy_versions;

-- Names written differently (unqualified on the search_path) are the same tables.
SET search_path = shop, public;
SELECT privacy.apply_policy(replace(:'doc', '"shop.', '"'));
RESET search_path;

-- A new version: one purpose added, one classification removed, one updated.
SELECT jsonb_pretty(privacy.apply_policy(
  jsonb_set(jsonb_set(jsonb_set(:'doc'::jsonb, '{version}', '"shop-2"'),
    '{purposes}', (:'doc'::jsonb -> 'purposes') || '[{"name": "analytics", "legal_basis": "legitimate_interest"}]'),
    '{classifications}', (SELECT jsonb_agg(CASE WHEN c ->> 'column' = 'email'
                                                THEN c || '{"source": "direct"}' ELSE c END)
                            FROM jsonb_array_elements(:'doc'::jsonb -> 'classifications') c
                           WHERE c ->> 'column' <> 'phone'))::text));
SELECT version, effective_date, applied_by = current_user AS by_me FROM privacy.policy_versions ORDER BY id;

-- Changing content without a new version is refused.
SELECT privacy.apply_policy(jsonb_set(privacy.policy(), '{purposes,0,description}', '"changed"')::text);
-- Reusing an old version string for other content is refused too.
SELECT privacy.apply_policy(jsonb_set(jsonb_set(privacy.policy(), '{version}', '"shop-1"'),
                                      '{purposes,0,description}', '"changed"')::text);

-- Going back to the first document is a change recorded as its own version row.
SELECT privacy.apply_policy(:'doc') -> 'changes';
SELECT count(*) AS versions FROM privacy.policy_versions;

-- Every policy change is in the audit log, without personal data.
SELECT privacy.seal_audit_log() AS sealed \gset
SELECT action, summary -> 'version' AS version, summary -> 'previous_version' AS previous
  FROM privacy.audit_log ORDER BY id;

-- Bad documents: an error naming line, column and path, and nothing changes.
CREATE TEMP TABLE before AS SELECT privacy.policy() AS p;
\set VERBOSITY default
SELECT privacy.apply_policy('');
SELECT privacy.apply_policy('{"format": 1,');
SELECT privacy.apply_policy('[1, 2]');
SELECT privacy.apply_policy('{
  "format": 1,
  "version": "bad",
  "effective_date": "2026-02-30",
  "controller": {"name": "X", "contact": "x@example.com"}
}');
SELECT privacy.apply_policy('{
  "format": 1, "version": "bad", "effective_date": "2026-01-01",
  "controller": {"name": "X", "contact": "x@example.com"},
  "purposes": [
    {"name": "service", "legal_basis": "contract"},
    {"name": "service", "legal_basis": "contract"}
  ]
}');
SELECT privacy.apply_policy('{
  "format": 1, "version": "bad", "effective_date": "2026-01-01",
  "controller": {"name": "X", "contact": "x@example.com"},
  "purposes": [{"name": "service", "legal_basis": "whim"}]
}');
SELECT privacy.apply_policy('{
  "format": 1, "version": "bad", "effective_date": "2026-01-01",
  "controller": {"name": "X", "contact": "x@example.com", "colour": "blue"}
}');
SELECT privacy.apply_policy('{
  "format": 1, "version": "bad", "effective_date": "2026-01-01",
  "controller": {"name": "X", "contact": "x@example.com"},
  "purposes": "service"
}');
SELECT privacy.apply_policy('{
  "format": 1, "version": "bad", "effective_date": "2026-01-01",
  "controller": {"name": "X", "contact": "x@example.com"},
  "classifications": [{"table": "shop.customers", "column": "email", "category": "contact.mail"}]
}');
SELECT privacy.apply_policy('{
  "format": 1, "version": "bad", "effective_date": "2026-01-01",
  "controller": {"name": "X", "contact": "x@example.com"},
  "classifications": [{"table": "shop.customers", "column": "email", "category": "health"}]
}');
SELECT privacy.apply_policy('{
  "format": 1, "version": "bad", "effective_date": "2026-01-01",
  "controller": {"name": "X", "contact": "x@example.com"},
  "classifications": [{"table": "shop.clients", "column": "email", "category": "contact.email"}]
}');
SELECT privacy.apply_policy('{
  "format": 1, "version": "bad", "effective_date": "2026-01-01",
  "controller": {"name": "X", "contact": "x@example.com"},
  "classifications": [{"table": "shop.customers", "column": "e_mail", "category": "contact.email"}]
}');
SET search_path = shop, public;
SELECT privacy.apply_policy('{
  "format": 1, "version": "bad", "effective_date": "2026-01-01",
  "controller": {"name": "X", "contact": "x@example.com"},
  "classifications": [{"table": "shop.customers", "column": "email", "category": "contact.email"},
                      {"table": "customers", "column": "email", "category": "contact.email"}]
}');
RESET search_path;
SELECT privacy.apply_policy('{
  "format": 1, "version": "bad", "effective_date": "2026-01-01",
  "controller": {"name": "X", "contact": "x@example.com"},
  "subject_kinds": [{"name": "customer", "table": "shop.customers", "key": "id",
                     "paths": [{"table": "shop.invoices", "via": ["invoices_order_id_fkey"]}]}]
}');
SELECT privacy.apply_policy('{
  "format": 1, "version": "bad", "effective_date": "2026-01-01",
  "controller": {"name": "X", "contact": "x@example.com"},
  "subject_kinds": [{"name": "customer", "table": "shop.customers", "key": "id",
                     "paths": [{"table": "shop.invoices", "via": ["no_such_fkey"]}]}]
}');
SELECT privacy.apply_policy('{
  "format": 1, "version": "bad", "effective_date": "2026-01-01",
  "controller": {"name": "X", "contact": "x@example.com"},
  "recipients": [{"name": "cloud", "kind": "processor"}]
}');
SELECT privacy.apply_policy('{
  "format": 1, "version": "bad", "effective_date": "2026-01-01",
  "controller": {"name": "X", "contact": "x@example.com"},
  "retention_rules": [{"name": "r", "table": "shop.orders", "anchor": "closed_at", "period": "3 fortnights",
                       "action": "delete", "legal_basis": "contract"}]
}');
SELECT privacy.apply_policy('{"format": 1, "version": "bad", "effective_date": "2026-01-01",
  "controller": {"name": "X", "contact": "x@example.com"}, "version": "dup"}');
SELECT privacy.apply_policy(repeat('[', 10000));
SELECT privacy.apply_policy(NULL) IS NULL AS null_in_null_out;
SELECT privacy.policy() = p AS unchanged FROM before;

-- Identifiers are data, never SQL: a table whose name needs quoting.
CREATE TABLE shop."Odd ""Name""; DROP TABLE shop.customers" (id integer PRIMARY KEY, "E-mail" text);
SELECT privacy.apply_policy(jsonb_set(jsonb_set(privacy.policy(), '{version}', '"shop-3"'),
  '{classifications}', (privacy.policy() -> 'classifications') ||
  jsonb_build_array(jsonb_build_object('table', 'shop."Odd ""Name""; DROP TABLE shop.customers"',
                                       'column', 'E-mail', 'category', 'contact.email')))::text) -> 'changes';
SELECT table_name, column_name FROM privacy.classifications WHERE column_name = 'E-mail';
SELECT c ->> 'table' AS written_back FROM jsonb_array_elements(privacy.policy() -> 'classifications') c
 WHERE c ->> 'column' = 'E-mail';
SELECT count(*) AS customers_table_still_there FROM shop.customers;

-- Only those granted it may apply a policy.
CREATE ROLE policy_reader;
SET ROLE policy_reader;
SELECT privacy.apply_policy(:'doc');
SELECT privacy.policy() ->> 'version' AS readable;
RESET ROLE;
DROP ROLE policy_reader;

DROP SCHEMA shop CASCADE;
DROP EXTENSION opendims_privacy CASCADE;
