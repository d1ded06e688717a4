/* opendims_privacy--1.0.sql: the policy catalog, the subject map, lint, the processing record and the audit log. */

\echo Use "CREATE EXTENSION opendims_privacy" to load this file. \quit

-- While this script runs, names resolve in pg_catalog only (pg_temp last).
-- CREATE EXTENSION ... CASCADE puts the schema pgcrypto was created in
-- (public, usually) on the script's search_path; an operator, function or
-- type that another role planted there must never be bound into the
-- extension's objects nor run with the installing superuser's rights.
-- Everything the script creates is qualified with the schema privacy, and
-- CREATE and ALTER EXTENSION restore the caller's search_path afterwards.
SELECT pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', true);

-- The schema must be ours alone: a schema "privacy" that someone else
-- created beforehand could hold objects that shadow the extension's, and its
-- owner could drop the extension's objects later.
DO $$
BEGIN
	IF EXISTS (SELECT FROM pg_catalog.pg_namespace n
				WHERE n.nspname OPERATOR(pg_catalog.=) 'privacy'
				  AND n.nspowner OPERATOR(pg_catalog.<>) (SELECT r.oid FROM pg_catalog.pg_roles r
															 WHERE r.rolname OPERATOR(pg_catalog.=) CURRENT_USER))
	   OR EXISTS (SELECT FROM pg_catalog.pg_class c
				   WHERE c.relnamespace OPERATOR(pg_catalog.=) 'privacy'::pg_catalog.regnamespace::pg_catalog.oid)
	   OR EXISTS (SELECT FROM pg_catalog.pg_proc p
				   WHERE p.pronamespace OPERATOR(pg_catalog.=) 'privacy'::pg_catalog.regnamespace::pg_catalog.oid)
	   OR EXISTS (SELECT FROM pg_catalog.pg_type t
				   WHERE t.typnamespace OPERATOR(pg_catalog.=) 'privacy'::pg_catalog.regnamespace::pg_catalog.oid)
	   OR EXISTS (SELECT FROM pg_catalog.pg_operator o
				   WHERE o.oprnamespace OPERATOR(pg_catalog.=) 'privacy'::pg_catalog.regnamespace::pg_catalog.oid) THEN
		RAISE EXCEPTION 'schema "privacy" already exists and is not empty, or belongs to another role'
			USING ERRCODE = 'duplicate_schema',
				  HINT = 'The extension installs into a schema of its own: drop or rename the existing schema "privacy" first.';
	END IF;
END
$$;

-- Nothing here is for PUBLIC unless granted below, object by object.
REVOKE ALL ON SCHEMA privacy FROM PUBLIC;
GRANT USAGE ON SCHEMA privacy TO PUBLIC;

------------------------------------------------------------------------------
-- Restoring over install-time rows
------------------------------------------------------------------------------

-- CREATE EXTENSION seeds some configuration rows (built-in categories and
-- sources, the secret keys, the audit chain head). pg_dump dumps them with
-- the rest of the configuration, so on restore the dumped row must replace
-- the seeded one instead of failing on the primary key.
CREATE FUNCTION privacy._restore_over_seed()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	cols text;
	updated bigint;
BEGIN
	SELECT pg_catalog.string_agg(pg_catalog.quote_ident(a.attname), ', ' ORDER BY a.attnum)
	  INTO cols
	  FROM pg_catalog.pg_attribute a
	 WHERE a.attrelid = TG_RELID AND a.attnum > 0 AND NOT a.attisdropped;
	EXECUTE pg_catalog.format(
		'UPDATE %s AS t SET (%s) = (SELECT %s FROM pg_catalog.jsonb_populate_record(NULL::%s, $1)) WHERE t.%I::text = $2',
		TG_RELID::regclass, cols, cols, TG_RELID::regclass, TG_ARGV[0])
	USING pg_catalog.to_jsonb(NEW), pg_catalog.to_jsonb(NEW) OPERATOR(pg_catalog.->>) TG_ARGV[0];
	GET DIAGNOSTICS updated = ROW_COUNT;
	IF updated > 0 THEN
		RETURN NULL;
	END IF;
	RETURN NEW;
END
$$;
REVOKE ALL ON FUNCTION privacy._restore_over_seed() FROM PUBLIC;
COMMENT ON FUNCTION privacy._restore_over_seed() IS
'Trigger: an inserted row whose key matches a row seeded by CREATE EXTENSION updates that row instead (used when restoring a dump)';

------------------------------------------------------------------------------
-- Secret keys
------------------------------------------------------------------------------

CREATE FUNCTION privacy._random_key(bytes integer)
RETURNS bytea
AS 'MODULE_PATHNAME', 'privacy_random_key'
LANGUAGE C STRICT VOLATILE PARALLEL SAFE;
REVOKE ALL ON FUNCTION privacy._random_key(integer) FROM PUBLIC;
COMMENT ON FUNCTION privacy._random_key(integer) IS
'A random key of the given length from the server''s strong random source';

CREATE TABLE privacy._keys (
	name text PRIMARY KEY,
	key bytea NOT NULL CHECK (pg_catalog.length(key) >= 16)
);
REVOKE ALL ON privacy._keys FROM PUBLIC;
COMMENT ON TABLE privacy._keys IS
'Secret keys for pseudonyms, subject references and signed tokens; readable by no ordinary role';
CREATE TRIGGER restore_over_seed BEFORE INSERT ON privacy._keys
	FOR EACH ROW EXECUTE FUNCTION privacy._restore_over_seed('name');
INSERT INTO privacy._keys (name, key)
SELECT k, privacy._random_key(32)
  FROM pg_catalog.unnest(ARRAY['pseudonym', 'subject_ref', 'token']) AS k;
SELECT pg_catalog.pg_extension_config_dump('privacy._keys', '');

CREATE FUNCTION privacy.subject_ref(kind text, subject text)
RETURNS text
AS 'MODULE_PATHNAME', 'privacy_subject_ref'
LANGUAGE C STRICT STABLE PARALLEL SAFE;
REVOKE ALL ON FUNCTION privacy.subject_ref(text, text) FROM PUBLIC;
COMMENT ON FUNCTION privacy.subject_ref(text, text) IS
'The keyed hash (HMAC-SHA-256) that stands for a data subject in the audit log, so that it holds no raw identifier';

------------------------------------------------------------------------------
-- The policy catalog, written by privacy.apply_policy()
------------------------------------------------------------------------------

CREATE TABLE privacy.policy_versions (
	id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
	version text NOT NULL,
	effective_date date NOT NULL,
	document jsonb NOT NULL,
	applied_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
	applied_by name NOT NULL DEFAULT CURRENT_USER
);
COMMENT ON TABLE privacy.policy_versions IS
'Every policy document applied, in canonical form, with when and by whom';
SELECT pg_catalog.pg_extension_config_dump('privacy.policy_versions', '');
SELECT pg_catalog.pg_extension_config_dump('privacy.policy_versions_id_seq', '');

CREATE TABLE privacy.purposes (
	name text PRIMARY KEY,
	legal_basis text NOT NULL
		CHECK (legal_basis IN ('contract', 'legitimate_interest', 'consent', 'legal_obligation')),
	description text NOT NULL DEFAULT '',
	allowed_under_restriction boolean NOT NULL DEFAULT false
);
COMMENT ON TABLE privacy.purposes IS
'Purposes of processing, each with its legal basis (GDPR Art. 6)';
SELECT pg_catalog.pg_extension_config_dump('privacy.purposes', '');

CREATE TABLE privacy.categories (
	name text PRIMARY KEY,
	description text NOT NULL DEFAULT '',
	special boolean NOT NULL DEFAULT false,
	builtin boolean NOT NULL DEFAULT false
);
COMMENT ON TABLE privacy.categories IS
'The data-category taxonomy; special categories are those the controller refuses to hold';
CREATE TRIGGER restore_over_seed BEFORE INSERT ON privacy.categories
	FOR EACH ROW EXECUTE FUNCTION privacy._restore_over_seed('name');
SELECT pg_catalog.pg_extension_config_dump('privacy.categories', '');

-- The policy's own categories, and the GDPR Art. 9 special categories plus
-- national identification and payment card numbers, which the policy says it
-- does not process.
INSERT INTO privacy.categories (name, description, special, builtin) VALUES
	('contact', 'General personal data: name, address, telephone number, e-mail and other contact information', false, true),
	('contact.name', 'A person''s name', false, true),
	('contact.address', 'A postal address', false, true),
	('contact.phone', 'A telephone number', false, true),
	('contact.email', 'An e-mail address', false, true),
	('credentials', 'User credentials: login ID, username, IP address and user behaviour in the system', false, true),
	('credentials.login', 'A login ID', false, true),
	('credentials.username', 'A username', false, true),
	('credentials.ip_address', 'An IP address', false, true),
	('credentials.behaviour', 'User behaviour in the system', false, true),
	('content', 'Information entered or uploaded into the system, e.g. product data and customer data', false, true),
	('support', 'Communication with the support team via e-mail or other channels', false, true),
	('health', 'Data concerning health', true, true),
	('genetic', 'Genetic data', true, true),
	('biometric', 'Biometric data for the purpose of uniquely identifying a person', true, true),
	('racial_or_ethnic_origin', 'Racial or ethnic origin', true, true),
	('political_opinions', 'Political opinions', true, true),
	('religious_beliefs', 'Religious or philosophical beliefs', true, true),
	('trade_union_membership', 'Trade union membership', true, true),
	('sex_life', 'Sex life or sexual orientation', true, true),
	('criminal_convictions', 'Criminal convictions and offences', true, true),
	('national_id', 'National identification numbers such as the Danish CPR number', true, true),
	('payment_card', 'Payment card numbers, which are processed only by the payment processor', true, true);

CREATE TABLE privacy.sources (
	name text PRIMARY KEY,
	description text NOT NULL DEFAULT '',
	builtin boolean NOT NULL DEFAULT false
);
COMMENT ON TABLE privacy.sources IS
'Where personal data comes from (GDPR Art. 14(2)(f))';
CREATE TRIGGER restore_over_seed BEFORE INSERT ON privacy.sources
	FOR EACH ROW EXECUTE FUNCTION privacy._restore_over_seed('name');
SELECT pg_catalog.pg_extension_config_dump('privacy.sources', '');
INSERT INTO privacy.sources (name, description, builtin) VALUES
	('direct', 'Directly from the data subject', true),
	('automatic', 'Automatically, through cookies and other tracking technologies', true),
	('partner', 'From business partners', true);

CREATE TABLE privacy.recipients (
	name text PRIMARY KEY,
	kind text NOT NULL CHECK (kind IN ('internal', 'processor', 'authority')),
	dpa_reference text,
	purposes text[] NOT NULL DEFAULT '{}',
	description text NOT NULL DEFAULT '',
	CHECK ((kind = 'processor') = (dpa_reference IS NOT NULL))
);
COMMENT ON TABLE privacy.recipients IS
'Recipients of personal data: internal staff, processors under a data processing agreement, authorities';
SELECT pg_catalog.pg_extension_config_dump('privacy.recipients', '');

CREATE TABLE privacy.subject_kinds (
	name text PRIMARY KEY,
	table_name regclass NOT NULL,
	key_column name NOT NULL,
	description text NOT NULL DEFAULT ''
);
COMMENT ON TABLE privacy.subject_kinds IS
'Kinds of data subject, each anchored on a table and its key column';
SELECT pg_catalog.pg_extension_config_dump('privacy.subject_kinds', '');

CREATE TABLE privacy.subject_paths (
	kind text NOT NULL REFERENCES privacy.subject_kinds ON DELETE CASCADE,
	table_name regclass NOT NULL,
	via name[] NOT NULL CHECK (pg_catalog.cardinality(via) > 0),
	PRIMARY KEY (kind, table_name)
);
COMMENT ON TABLE privacy.subject_paths IS
'Foreign-key paths pinned by the policy where a table reaches a subject kind in more than one way';
SELECT pg_catalog.pg_extension_config_dump('privacy.subject_paths', '');

CREATE TABLE privacy.classifications (
	table_name regclass NOT NULL,
	column_name name NOT NULL,
	category text NOT NULL REFERENCES privacy.categories,
	source text NOT NULL REFERENCES privacy.sources,
	PRIMARY KEY (table_name, column_name)
);
COMMENT ON TABLE privacy.classifications IS
'Columns classified by the policy document';
SELECT pg_catalog.pg_extension_config_dump('privacy.classifications', '');

CREATE TABLE privacy.retention_rules (
	name text PRIMARY KEY,
	table_name regclass NOT NULL,
	anchor name NOT NULL,
	period text NOT NULL CHECK (period::interval > '0'::interval),
	action text NOT NULL CHECK (action IN ('delete', 'anonymize', 'truncate_ip')),
	columns name[] NOT NULL DEFAULT '{}',
	legal_basis text NOT NULL
		CHECK (legal_basis IN ('contract', 'legitimate_interest', 'consent', 'legal_obligation')),
	minimum text CHECK (minimum::interval > '0'::interval),
	minimum_from text NOT NULL DEFAULT 'anchor'
		CHECK (minimum_from IN ('anchor', 'end_of_financial_year')),
	description text NOT NULL DEFAULT '',
	CHECK ((action = 'delete') = (pg_catalog.cardinality(columns) = 0))
);
COMMENT ON TABLE privacy.retention_rules IS
'How long rows are kept and what happens to them then (enforced by the retention job)';
SELECT pg_catalog.pg_extension_config_dump('privacy.retention_rules', '');

-- Columns of these types hold personal data of the category named, without
-- a label or a policy entry (rows are added with the types themselves).
CREATE TABLE privacy._type_categories (
	type_name regtype PRIMARY KEY,
	category text NOT NULL REFERENCES privacy.categories
);
COMMENT ON TABLE privacy._type_categories IS
'Personal-data column types and the category each classifies its columns into';

-- The catalog is not personal data: anyone may read it.
GRANT SELECT ON privacy.policy_versions, privacy.purposes, privacy.categories,
	privacy.sources, privacy.recipients, privacy.subject_kinds,
	privacy.subject_paths, privacy.classifications, privacy.retention_rules,
	privacy._type_categories TO PUBLIC;

-- The qualified, quoted name of a table, as policy documents write it.
CREATE FUNCTION privacy._qualified_name(rel regclass)
RETURNS text
LANGUAGE sql STABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT pg_catalog.format('%I.%I', n.nspname, c.relname)
	  FROM pg_catalog.pg_class c
	  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
	 WHERE c.oid = rel;
END;
COMMENT ON FUNCTION privacy._qualified_name(regclass) IS
'The schema-qualified, quoted name of a table';

-- Every classified column: by the policy document, by a security label, or
-- by its personal-data type, in that order of precedence.
CREATE VIEW privacy.classified_columns AS
SELECT DISTINCT ON (table_name, column_name)
	   table_name, column_name, category, source, origin
  FROM (
	SELECT cl.table_name, cl.column_name, cl.category, cl.source, 'policy'::text AS origin, 1 AS rank
	  FROM privacy.classifications cl
	UNION ALL
	SELECT l.objoid::regclass, a.attname, l.label, 'direct', 'label', 2
	  FROM pg_catalog.pg_seclabel l
	  JOIN pg_catalog.pg_attribute a ON a.attrelid = l.objoid AND a.attnum = l.objsubid
	 WHERE l.provider = 'privacy'
	   AND l.classoid = 'pg_catalog.pg_class'::pg_catalog.regclass
	   AND l.objsubid > 0
	UNION ALL
	SELECT a.attrelid::regclass, a.attname, tc.category, 'direct', 'type', 3
	  FROM pg_catalog.pg_attribute a
	  JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
	  JOIN privacy._type_categories tc
		ON tc.type_name IN (t.oid, t.typbasetype, t.typelem)
	  JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
	 WHERE a.attnum > 0 AND NOT a.attisdropped
	   AND c.relkind IN ('r', 'p')
	   AND c.relnamespace NOT IN ('pg_catalog'::pg_catalog.regnamespace,
								  'information_schema'::pg_catalog.regnamespace,
								  'privacy'::pg_catalog.regnamespace)
  ) AS all_classifications
 ORDER BY table_name, column_name, rank;
COMMENT ON VIEW privacy.classified_columns IS
'Every column holding personal data: classified by the policy document, a SECURITY LABEL FOR privacy, or its personal-data type';
GRANT SELECT ON privacy.classified_columns TO PUBLIC;

------------------------------------------------------------------------------
-- The policy document: apply_policy() and policy()
------------------------------------------------------------------------------

-- The policy document for the catalog as it is now, with the top-level
-- fields (version, effective date, controller) taken from top.
CREATE FUNCTION privacy._catalog_document(top jsonb)
RETURNS jsonb
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
SELECT pg_catalog.jsonb_build_object(
	'format', 1,
	'version', top -> 'version',
	'effective_date', top -> 'effective_date',
	'controller', top -> 'controller',
	'purposes', (
		SELECT COALESCE(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
			'name', p.name, 'legal_basis', p.legal_basis, 'description', p.description,
			'allowed_under_restriction', p.allowed_under_restriction) ORDER BY p.name), '[]')
		  FROM privacy.purposes p),
	'categories', (
		SELECT COALESCE(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
			'name', c.name, 'description', c.description) ORDER BY c.name), '[]')
		  FROM privacy.categories c WHERE NOT c.special),
	'special_categories', (
		SELECT COALESCE(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
			'name', c.name, 'description', c.description) ORDER BY c.name), '[]')
		  FROM privacy.categories c WHERE c.special),
	'sources', (
		SELECT COALESCE(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
			'name', s.name, 'description', s.description) ORDER BY s.name), '[]')
		  FROM privacy.sources s),
	'recipients', (
		SELECT COALESCE(pg_catalog.jsonb_agg(
			pg_catalog.jsonb_build_object('name', r.name, 'kind', r.kind)
			|| CASE WHEN r.dpa_reference IS NULL THEN '{}'::jsonb
					ELSE pg_catalog.jsonb_build_object('dpa_reference', r.dpa_reference) END
			|| pg_catalog.jsonb_build_object('purposes', pg_catalog.to_jsonb(r.purposes),
											 'description', r.description)
			ORDER BY r.name), '[]')
		  FROM privacy.recipients r),
	'subject_kinds', (
		SELECT COALESCE(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
			'name', k.name, 'table', privacy._qualified_name(k.table_name),
			'key', k.key_column, 'description', k.description,
			'paths', (SELECT COALESCE(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
						'table', privacy._qualified_name(sp.table_name), 'via', pg_catalog.to_jsonb(sp.via))
						ORDER BY privacy._qualified_name(sp.table_name)), '[]')
						FROM privacy.subject_paths sp WHERE sp.kind = k.name))
			ORDER BY k.name), '[]')
		  FROM privacy.subject_kinds k),
	'classifications', (
		SELECT COALESCE(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
			'table', privacy._qualified_name(cl.table_name), 'column', cl.column_name,
			'category', cl.category, 'source', cl.source)
			ORDER BY privacy._qualified_name(cl.table_name), cl.column_name), '[]')
		  FROM privacy.classifications cl),
	'retention_rules', (
		SELECT COALESCE(pg_catalog.jsonb_agg(
			pg_catalog.jsonb_build_object(
				'name', rr.name, 'table', privacy._qualified_name(rr.table_name),
				'anchor', rr.anchor, 'period', rr.period, 'action', rr.action,
				'columns', pg_catalog.to_jsonb(rr.columns), 'legal_basis', rr.legal_basis)
			|| CASE WHEN rr.minimum IS NULL THEN '{}'::jsonb
					ELSE pg_catalog.jsonb_build_object('minimum', rr.minimum,
													   'minimum_from', rr.minimum_from) END
			|| pg_catalog.jsonb_build_object('description', rr.description)
			ORDER BY rr.name), '[]')
		  FROM privacy.retention_rules rr)
);
END;
COMMENT ON FUNCTION privacy._catalog_document(jsonb) IS
'The catalog as a policy document, with the given version, effective date and controller';

CREATE FUNCTION privacy.policy()
RETURNS jsonb
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT privacy._catalog_document(COALESCE(
		(SELECT v.document FROM privacy.policy_versions v ORDER BY v.id DESC LIMIT 1),
		'{"version": null, "effective_date": null, "controller": null}'::jsonb));
END;
COMMENT ON FUNCTION privacy.policy() IS
'The policy in force, as a policy document: privacy.apply_policy(privacy.policy()::text) changes nothing';
GRANT EXECUTE ON FUNCTION privacy.policy() TO PUBLIC;

-- Replaces the catalog's contents with those of a canonical document whose
-- catalog references the caller has already checked; tables maps each table
-- name as written in the document to the OID it resolved to.
CREATE FUNCTION privacy._write_catalog(doc jsonb, tables jsonb)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	dup record;
BEGIN
	-- Two spellings of one table ("customers", "app.customers") resolve to
	-- the same OID: the column is then classified twice.
	SELECT d."column", (tables ->> d."table")::oid::regclass AS rel INTO dup
	  FROM pg_catalog.jsonb_to_recordset(doc -> 'classifications') AS d("table" text, "column" text)
	 GROUP BY 1, 2 HAVING pg_catalog.count(*) > 1 LIMIT 1;
	IF FOUND THEN
		RAISE EXCEPTION 'column "%" of table % is classified more than once', dup."column", dup.rel
			USING ERRCODE = 'duplicate_object',
				  HINT = 'Keep one entry per column in "classifications".';
	END IF;
	SELECT k ->> 'name' AS kind, (tables ->> (p ->> 'table'))::oid::regclass AS rel INTO dup
	  FROM pg_catalog.jsonb_array_elements(doc -> 'subject_kinds') k,
		   pg_catalog.jsonb_array_elements(k -> 'paths') p
	 GROUP BY 1, 2 HAVING pg_catalog.count(*) > 1 LIMIT 1;
	IF FOUND THEN
		RAISE EXCEPTION 'subject kind "%" pins more than one path for table %', dup.kind, dup.rel
			USING ERRCODE = 'duplicate_object',
				  HINT = 'Keep one entry per table in "paths".';
	END IF;

	-- What the document no longer has goes first, dependents before what
	-- they reference.
	DELETE FROM privacy.classifications cl
	 WHERE NOT EXISTS (SELECT FROM pg_catalog.jsonb_to_recordset(doc -> 'classifications')
							   AS d("table" text, "column" text)
					    WHERE (tables ->> d."table")::oid = cl.table_name::oid AND d."column" = cl.column_name);
	DELETE FROM privacy.retention_rules rr
	 WHERE rr.name NOT IN (SELECT d ->> 'name' FROM pg_catalog.jsonb_array_elements(doc -> 'retention_rules') d);
	DELETE FROM privacy.subject_paths;
	DELETE FROM privacy.subject_kinds k
	 WHERE k.name NOT IN (SELECT d ->> 'name' FROM pg_catalog.jsonb_array_elements(doc -> 'subject_kinds') d);
	DELETE FROM privacy.recipients r
	 WHERE r.name NOT IN (SELECT d ->> 'name' FROM pg_catalog.jsonb_array_elements(doc -> 'recipients') d);
	DELETE FROM privacy.purposes p
	 WHERE p.name NOT IN (SELECT d ->> 'name' FROM pg_catalog.jsonb_array_elements(doc -> 'purposes') d);
	DELETE FROM privacy.categories c
	 WHERE NOT c.builtin
	   AND c.name NOT IN (SELECT d ->> 'name' FROM pg_catalog.jsonb_array_elements(doc -> 'categories') d
						  UNION ALL
						  SELECT d ->> 'name' FROM pg_catalog.jsonb_array_elements(doc -> 'special_categories') d);
	DELETE FROM privacy.sources s
	 WHERE NOT s.builtin
	   AND s.name NOT IN (SELECT d ->> 'name' FROM pg_catalog.jsonb_array_elements(doc -> 'sources') d);

	INSERT INTO privacy.sources AS s (name, description, builtin)
	SELECT d.name, d.description, COALESCE(old.builtin, false)
	  FROM pg_catalog.jsonb_to_recordset(doc -> 'sources') AS d(name text, description text)
	  LEFT JOIN privacy.sources old ON old.name = d.name
	ON CONFLICT (name) DO UPDATE SET description = excluded.description;

	INSERT INTO privacy.categories AS c (name, description, special, builtin)
	SELECT d.name, d.description, d.special, COALESCE(old.builtin, false)
	  FROM (SELECT x.name, x.description, false AS special
			  FROM pg_catalog.jsonb_to_recordset(doc -> 'categories') AS x(name text, description text)
			UNION ALL
			SELECT x.name, x.description, true
			  FROM pg_catalog.jsonb_to_recordset(doc -> 'special_categories') AS x(name text, description text)) d
	  LEFT JOIN privacy.categories old ON old.name = d.name
	ON CONFLICT (name) DO UPDATE SET description = excluded.description, special = excluded.special;

	INSERT INTO privacy.purposes AS p (name, legal_basis, description, allowed_under_restriction)
	SELECT d.name, d.legal_basis, d.description, d.allowed_under_restriction
	  FROM pg_catalog.jsonb_to_recordset(doc -> 'purposes')
		   AS d(name text, legal_basis text, description text, allowed_under_restriction boolean)
	ON CONFLICT (name) DO UPDATE
	   SET legal_basis = excluded.legal_basis, description = excluded.description,
		   allowed_under_restriction = excluded.allowed_under_restriction;

	INSERT INTO privacy.recipients AS r (name, kind, dpa_reference, purposes, description)
	SELECT d.name, d.kind, d.dpa_reference,
		   ARRAY(SELECT pg_catalog.jsonb_array_elements_text(d.purposes)), d.description
	  FROM pg_catalog.jsonb_to_recordset(doc -> 'recipients')
		   AS d(name text, kind text, dpa_reference text, purposes jsonb, description text)
	ON CONFLICT (name) DO UPDATE
	   SET kind = excluded.kind, dpa_reference = excluded.dpa_reference,
		   purposes = excluded.purposes, description = excluded.description;

	INSERT INTO privacy.subject_kinds AS k (name, table_name, key_column, description)
	SELECT d.name, (tables ->> d."table")::oid::regclass, d.key, d.description
	  FROM pg_catalog.jsonb_to_recordset(doc -> 'subject_kinds')
		   AS d(name text, "table" text, key text, description text)
	ON CONFLICT (name) DO UPDATE
	   SET table_name = excluded.table_name, key_column = excluded.key_column,
		   description = excluded.description;

	INSERT INTO privacy.subject_paths (kind, table_name, via)
	SELECT k ->> 'name', (tables ->> (p ->> 'table'))::oid::regclass,
		   ARRAY(SELECT pg_catalog.jsonb_array_elements_text(p -> 'via'))::name[]
	  FROM pg_catalog.jsonb_array_elements(doc -> 'subject_kinds') k,
		   pg_catalog.jsonb_array_elements(k -> 'paths') p;

	INSERT INTO privacy.classifications AS cl (table_name, column_name, category, source)
	SELECT (tables ->> d."table")::oid::regclass, d."column", d.category, d.source
	  FROM pg_catalog.jsonb_to_recordset(doc -> 'classifications')
		   AS d("table" text, "column" text, category text, source text)
	ON CONFLICT (table_name, column_name) DO UPDATE
	   SET category = excluded.category, source = excluded.source;

	INSERT INTO privacy.retention_rules AS rr
		(name, table_name, anchor, period, action, columns, legal_basis, minimum, minimum_from, description)
	SELECT d.name, (tables ->> d."table")::oid::regclass, d.anchor, d.period, d.action,
		   ARRAY(SELECT pg_catalog.jsonb_array_elements_text(d.columns))::name[],
		   d.legal_basis, d.minimum, COALESCE(d.minimum_from, 'anchor'), d.description
	  FROM pg_catalog.jsonb_to_recordset(doc -> 'retention_rules')
		   AS d(name text, "table" text, anchor text, period text, action text, columns jsonb,
				legal_basis text, minimum text, minimum_from text, description text)
	ON CONFLICT (name) DO UPDATE
	   SET table_name = excluded.table_name, anchor = excluded.anchor, period = excluded.period,
		   action = excluded.action, columns = excluded.columns, legal_basis = excluded.legal_basis,
		   minimum = excluded.minimum, minimum_from = excluded.minimum_from,
		   description = excluded.description;
END
$$;
REVOKE ALL ON FUNCTION privacy._write_catalog(jsonb, jsonb) FROM PUBLIC;
COMMENT ON FUNCTION privacy._write_catalog(jsonb, jsonb) IS
'Makes the catalog hold exactly what a checked, canonical policy document declares';

-- Checks what only the whole catalog can tell: the same column classified
-- twice under different spellings, labels left without their category, and
-- pinned paths that do not lead to their anchor.
CREATE FUNCTION privacy._check_catalog()
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	r record;
BEGIN
	FOR r IN
		SELECT cc.table_name, cc.column_name, cc.category, c.special
		  FROM privacy.classified_columns cc
		  LEFT JOIN privacy.categories c ON c.name = cc.category
		 WHERE cc.origin = 'label' AND (c.name IS NULL OR c.special)
	LOOP
		RAISE EXCEPTION 'column "%" of table % is labeled with category "%", which the policy does not allow',
			r.column_name, r.table_name, r.category
			USING ERRCODE = 'dependent_objects_still_exist',
				  DETAIL = CASE WHEN r.special IS NULL THEN 'The document no longer declares this category.'
								ELSE 'The document makes it a special category, which the policy refuses to hold.' END,
				  HINT = 'Keep the category in the document, or change the label with SECURITY LABEL FOR privacy first.';
	END LOOP;

	FOR r IN
		SELECT sp.kind, sp.table_name, sp.via, k.table_name AS anchor
		  FROM privacy.subject_paths sp
		  JOIN privacy.subject_kinds k ON k.name = sp.kind
	LOOP
		PERFORM privacy._resolve_path(r.table_name, r.via, r.anchor, r.kind);
	END LOOP;
END
$$;
REVOKE ALL ON FUNCTION privacy._check_catalog() FROM PUBLIC;
COMMENT ON FUNCTION privacy._check_catalog() IS
'Raises an error if the catalog contradicts itself after a policy change';

-- Applies a parsed, canonical document (privacy.apply_policy() has parsed
-- and checked it, and resolved its table names into tables): writes the
-- catalog, records the version, audits the change as done by actor, and
-- returns what changed.
CREATE FUNCTION privacy._apply_document(doc jsonb, tables jsonb, actor name)
RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	current_top jsonb;
	before jsonb;
	after jsonb;
	changes jsonb;
BEGIN
	-- One policy change at a time; readers are not blocked.
	LOCK TABLE privacy.policy_versions IN SHARE ROW EXCLUSIVE MODE;

	before := privacy.policy();
	PERFORM privacy._write_catalog(doc, tables);
	PERFORM privacy._check_catalog();
	after := privacy._catalog_document(doc);
	changes := privacy._document_changes(before, after);

	IF changes = '{}' THEN
		RETURN pg_catalog.jsonb_build_object('changed', false, 'version', after -> 'version');
	END IF;

	IF EXISTS (SELECT FROM privacy.policy_versions v
				WHERE v.version = after ->> 'version' AND v.document <> after) THEN
		RAISE EXCEPTION 'policy version "%" was already applied with different content', after ->> 'version'
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = 'Consent given under a policy version must be traceable to exactly one text.',
				  HINT = 'Give the changed document a new "version".';
	END IF;

	INSERT INTO privacy.policy_versions (version, effective_date, document, applied_by)
	VALUES (after ->> 'version', (after ->> 'effective_date')::date, after, actor);

	PERFORM privacy._audit(actor, 'policy.apply', NULL, NULL, NULL,
						   pg_catalog.jsonb_build_object('version', after -> 'version',
														 'previous_version', before -> 'version',
														 'changes', changes));

	RETURN pg_catalog.jsonb_build_object('changed', true,
										 'version', after -> 'version',
										 'previous_version', before -> 'version',
										 'changes', changes);
END
$$;
REVOKE ALL ON FUNCTION privacy._apply_document(jsonb, jsonb, name) FROM PUBLIC;
COMMENT ON FUNCTION privacy._apply_document(jsonb, jsonb, name) IS
'Applies a parsed and checked policy document; called by privacy.apply_policy()';

-- What differs between two policy documents: per section, the keys of the
-- items added, removed and updated; for top-level fields, "updated".
CREATE FUNCTION privacy._document_changes(before jsonb, after jsonb)
RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	WITH sections(section, key_fields) AS (
		VALUES ('purposes', ARRAY['name']), ('categories', ARRAY['name']),
			   ('special_categories', ARRAY['name']), ('sources', ARRAY['name']),
			   ('recipients', ARRAY['name']), ('subject_kinds', ARRAY['name']),
			   ('classifications', ARRAY['table', 'column']),
			   ('retention_rules', ARRAY['name'])
	),
	items AS (
		SELECT s.section, side, e AS item,
			   (SELECT pg_catalog.string_agg(e ->> f, '.' ORDER BY o)
				  FROM pg_catalog.unnest(s.key_fields) WITH ORDINALITY AS k(f, o)) AS item_key
		  FROM sections s,
			   LATERAL (SELECT 'before' AS side, x AS e FROM pg_catalog.jsonb_array_elements(before -> s.section) x
						UNION ALL
						SELECT 'after', x FROM pg_catalog.jsonb_array_elements(after -> s.section) x) sides
	),
	paired AS (
		SELECT COALESCE(a.section, b.section) AS section,
			   COALESCE(a.item_key, b.item_key) AS item_key,
			   CASE WHEN b.item IS NULL THEN 'added'
					WHEN a.item IS NULL THEN 'removed'
					WHEN a.item <> b.item THEN 'updated' END AS change
		  FROM (SELECT * FROM items WHERE side = 'before') b
		  FULL JOIN (SELECT * FROM items WHERE side = 'after') a
			ON a.section = b.section AND a.item_key = b.item_key
	),
	per_section AS (
		SELECT section, pg_catalog.jsonb_object_agg(change, keys) AS changes
		  FROM (SELECT section, change, pg_catalog.jsonb_agg(item_key ORDER BY item_key) AS keys
				  FROM paired WHERE change IS NOT NULL
				 GROUP BY section, change) c
		 GROUP BY section
	),
	top_level AS (
		SELECT f AS section, '"updated"'::jsonb AS changes
		  FROM pg_catalog.unnest(ARRAY['version', 'effective_date', 'controller']) f
		 WHERE (before -> f) IS DISTINCT FROM (after -> f)
	)
	SELECT COALESCE(pg_catalog.jsonb_object_agg(section, changes), '{}')
	  FROM (SELECT * FROM top_level UNION ALL SELECT * FROM per_section) all_changes;
END;
COMMENT ON FUNCTION privacy._document_changes(jsonb, jsonb) IS
'What changed between two policy documents, section by section';

CREATE FUNCTION privacy.apply_policy(document text)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'privacy_apply_policy'
LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE;
REVOKE ALL ON FUNCTION privacy.apply_policy(text) FROM PUBLIC;
COMMENT ON FUNCTION privacy.apply_policy(text) IS
'Loads a policy-as-code JSON document: all or nothing, idempotent; returns what changed';

------------------------------------------------------------------------------
-- The subject map: how each personal table reaches its data subjects
------------------------------------------------------------------------------

-- Foreign keys, with their columns and whether the referencing side has an
-- index a per-subject lookup can use (one whose leading columns are exactly
-- the foreign-key columns).
CREATE VIEW privacy.foreign_keys AS
SELECT c.oid AS constraint_oid,
	   c.conname AS constraint_name,
	   c.conrelid::regclass AS from_table,
	   ARRAY(SELECT a.attname
			   FROM pg_catalog.unnest(c.conkey) WITH ORDINALITY AS k(attnum, ord)
			   JOIN pg_catalog.pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum
			  ORDER BY k.ord) AS from_columns,
	   c.confrelid::regclass AS to_table,
	   ARRAY(SELECT a.attname
			   FROM pg_catalog.unnest(c.confkey) WITH ORDINALITY AS k(attnum, ord)
			   JOIN pg_catalog.pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.attnum
			  ORDER BY k.ord) AS to_columns,
	   EXISTS (SELECT FROM pg_catalog.pg_index i,
					  LATERAL (SELECT (pg_catalog.string_to_array(i.indkey::text, ' ')::int2[])
									  [1:pg_catalog.cardinality(c.conkey)] AS lead) l
				WHERE i.indrelid = c.conrelid AND i.indisvalid AND i.indpred IS NULL
				  AND l.lead @> c.conkey AND l.lead <@ c.conkey) AS indexed
  FROM pg_catalog.pg_constraint c
 WHERE c.contype = 'f';
COMMENT ON VIEW privacy.foreign_keys IS
'Foreign keys with their columns and whether an index on the referencing columns serves per-subject lookups';
GRANT SELECT ON privacy.foreign_keys TO PUBLIC;

-- Resolves a pinned path (constraint names from rel up to the anchor) to
-- constraint OIDs, or raises an error saying where it breaks.
CREATE FUNCTION privacy._resolve_path(rel regclass, via name[], anchor regclass, kind text)
RETURNS oid[]
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	hops oid[] := '{}';
	at_rel regclass := rel;
	hop name;
	fk record;
BEGIN
	FOREACH hop IN ARRAY via LOOP
		SELECT c.oid, c.confrelid::regclass AS parent INTO fk
		  FROM pg_catalog.pg_constraint c
		 WHERE c.conrelid = at_rel AND c.conname = hop AND c.contype = 'f';
		IF NOT FOUND THEN
			RAISE EXCEPTION 'foreign key "%" of table % does not exist', hop, at_rel
				USING ERRCODE = 'undefined_object',
					  DETAIL = pg_catalog.format('The pinned path of table %s for subject kind "%s" names it.', rel, kind),
					  HINT = 'List the foreign-key constraint names from the table up to the anchor table, one per hop.';
		END IF;
		hops := hops || fk.oid;
		at_rel := fk.parent;
	END LOOP;
	IF at_rel <> anchor THEN
		RAISE EXCEPTION 'pinned path of table % for subject kind "%" ends at table %, not at its anchor table %',
			rel, kind, at_rel, anchor
			USING ERRCODE = 'invalid_foreign_key',
				  HINT = 'The last foreign key of the path must reference the anchor table.';
	END IF;
	RETURN hops;
END
$$;
COMMENT ON FUNCTION privacy._resolve_path(regclass, name[], regclass, text) IS
'Resolves a pinned foreign-key path to constraint OIDs, checking that it ends at the anchor';

-- A path (constraint OIDs from a table up to the anchor) as readable text.
CREATE FUNCTION privacy._path_text(hops oid[])
RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT pg_catalog.string_agg(pg_catalog.format('%s(%s) -> %s(%s)',
				privacy._qualified_name(f.from_table), pg_catalog.array_to_string(f.from_columns, ', '),
				privacy._qualified_name(f.to_table), pg_catalog.array_to_string(f.to_columns, ', ')),
				' / ' ORDER BY h.ord)
	  FROM pg_catalog.unnest(hops) WITH ORDINALITY AS h(oid, ord)
	  JOIN privacy.foreign_keys f ON f.constraint_oid = h.oid;
END;
COMMENT ON FUNCTION privacy._path_text(oid[]) IS
'A foreign-key path as text: table(columns) -> table(columns) / ...';

-- Every table each subject kind reaches through foreign keys, with the path
-- a per-subject lookup takes: the shortest one, or the one the policy pins.
-- status: anchor, ok, pinned, or ambiguous (two shortest paths and none
-- pinned; hops is then NULL and path lists the candidates).
CREATE FUNCTION privacy._subject_paths()
RETURNS TABLE (kind text, table_name regclass, hops oid[], status text, path text)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	WITH RECURSIVE walk(kind, rel, hops, visited) AS (
		SELECT k.name, k.table_name::oid, '{}'::oid[], ARRAY[k.table_name::oid]
		  FROM privacy.subject_kinds k
		UNION ALL
		SELECT w.kind, c.conrelid, c.oid || w.hops, w.visited || c.conrelid
		  FROM walk w
		  JOIN pg_catalog.pg_constraint c ON c.contype = 'f' AND c.confrelid = w.rel
		 WHERE c.conrelid <> ALL (w.visited) AND pg_catalog.cardinality(w.hops) < 8
	),
	shortest AS (
		SELECT w.kind, w.rel, w.hops
		  FROM (SELECT walk.*, pg_catalog.rank() OVER (PARTITION BY walk.kind, walk.rel
												 ORDER BY pg_catalog.cardinality(walk.hops)) AS r
				  FROM walk) w
		 WHERE w.r = 1
	),
	grouped AS (
		SELECT s.kind, s.rel, pg_catalog.count(*) AS n, pg_catalog.min(s.hops) AS hops,
			   pg_catalog.string_agg(privacy._path_text(s.hops), ' | ' ORDER BY s.hops) AS candidates
		  FROM shortest s
		 GROUP BY s.kind, s.rel
	)
	SELECT g.kind, g.rel::regclass,
		   CASE WHEN pin.via IS NOT NULL
				THEN privacy._resolve_path(pin.table_name, pin.via, k.table_name, g.kind)
				WHEN g.n = 1 THEN g.hops END,
		   CASE WHEN g.rel = k.table_name THEN 'anchor'
				WHEN pin.via IS NOT NULL THEN 'pinned'
				WHEN g.n = 1 THEN 'ok'
				ELSE 'ambiguous' END,
		   CASE WHEN pin.via IS NOT NULL
				THEN privacy._path_text(privacy._resolve_path(pin.table_name, pin.via, k.table_name, g.kind))
				ELSE g.candidates END
	  FROM grouped g
	  JOIN privacy.subject_kinds k ON k.name = g.kind
	  LEFT JOIN privacy.subject_paths pin ON pin.kind = g.kind AND pin.table_name = g.rel::regclass;
END;
COMMENT ON FUNCTION privacy._subject_paths() IS
'For each subject kind, every table it reaches through foreign keys and the path a per-subject lookup takes';

-- The resolved path from rel to the anchor of kind, or an error saying why
-- there is none: the single entry point for code that needs a path.
CREATE FUNCTION privacy._subject_path(kind text, rel regclass)
RETURNS oid[]
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	p record;
BEGIN
	IF NOT EXISTS (SELECT FROM privacy.subject_kinds k WHERE k.name = kind) THEN
		RAISE EXCEPTION 'unrecognized subject kind "%"', kind
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Subject kinds are declared by the policy document; privacy.subject_kinds lists them.';
	END IF;
	SELECT * INTO p FROM privacy._subject_paths() sp WHERE sp.kind = $1 AND sp.table_name = rel;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'table % does not reach subject kind "%"', rel, kind
			USING ERRCODE = 'invalid_foreign_key',
				  HINT = 'Only tables that reference the anchor table through foreign keys hold a subject''s rows; see privacy.subject_map.';
	END IF;
	IF p.status = 'ambiguous' THEN
		RAISE EXCEPTION 'table % reaches subject kind "%" by more than one path', rel, kind
			USING ERRCODE = 'invalid_foreign_key',
				  DETAIL = pg_catalog.format('The candidates are: %s.', p.path),
				  HINT = 'Pin one path in the policy document with "paths" under the subject kind.';
	END IF;
	RETURN p.hops;
END
$$;
COMMENT ON FUNCTION privacy._subject_path(text, regclass) IS
'The foreign-key path (constraint OIDs) from a table to the anchor of a subject kind, or an error';

-- A SQL expression that yields the subject key of kind for the row of rel
-- written as row_alias: the row's own column where it references the
-- anchor's key directly, else scalar subqueries up the path (each a primary-
-- or unique-key lookup). Used where one row's subject matters (row security,
-- holds, triggers).
CREATE FUNCTION privacy._subject_key_sql(kind text, rel regclass, row_alias text)
RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	k privacy.subject_kinds;
	hops oid[] := privacy._subject_path(kind, rel);
	hop privacy.foreign_keys;
	cur text := pg_catalog.quote_ident(row_alias);
	alias text;
	opening text := '';
	closing text := '';
	i integer;
	pos integer;
BEGIN
	SELECT * INTO STRICT k FROM privacy.subject_kinds sk WHERE sk.name = kind;
	FOR i IN 1 .. COALESCE(pg_catalog.array_length(hops, 1), 0) LOOP
		SELECT * INTO STRICT hop FROM privacy.foreign_keys f WHERE f.constraint_oid = hops[i];
		pos := pg_catalog.array_position(hop.to_columns, k.key_column);
		IF i = pg_catalog.array_length(hops, 1) AND pos IS NOT NULL THEN
			RETURN opening || cur || '.' || pg_catalog.quote_ident(hop.from_columns[pos]) || closing;
		END IF;
		alias := pg_catalog.quote_ident('_privacy_p' || i);
		opening := opening || '(SELECT ';
		closing := pg_catalog.format(' FROM %s %s WHERE %s)',
									 privacy._qualified_name(hop.to_table), alias,
									 privacy._join_condition(hop, alias, cur)) || closing;
		cur := alias;
	END LOOP;
	RETURN opening || cur || '.' || pg_catalog.quote_ident(k.key_column) || closing;
END
$$;
COMMENT ON FUNCTION privacy._subject_key_sql(text, regclass, text) IS
'A SQL expression yielding the subject key of a row of a table (for row security, holds and triggers)';

-- "FROM ... WHERE ..." selecting the rows of rel (aliased t0) that belong to
-- the subject whose key is $1 (text, cast to the key's type), joining from
-- the table up its path so that each hop can use its foreign-key index.
CREATE FUNCTION privacy._subject_rows_sql(kind text, rel regclass)
RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	k privacy.subject_kinds;
	hops oid[] := privacy._subject_path(kind, rel);
	hop privacy.foreign_keys;
	key_type text;
	from_clause text := privacy._qualified_name(rel) || ' AS t0';
	cur text := 't0';
	alias text;
	i integer;
	pos integer;
BEGIN
	SELECT * INTO STRICT k FROM privacy.subject_kinds sk WHERE sk.name = kind;
	SELECT pg_catalog.format_type(a.atttypid, a.atttypmod) INTO STRICT key_type
	  FROM pg_catalog.pg_attribute a
	 WHERE a.attrelid = k.table_name AND a.attname = k.key_column AND NOT a.attisdropped;
	FOR i IN 1 .. COALESCE(pg_catalog.array_length(hops, 1), 0) LOOP
		SELECT * INTO STRICT hop FROM privacy.foreign_keys f WHERE f.constraint_oid = hops[i];
		pos := pg_catalog.array_position(hop.to_columns, k.key_column);
		IF i = pg_catalog.array_length(hops, 1) AND pos IS NOT NULL THEN
			RETURN pg_catalog.format('FROM %s WHERE %s.%I = $1::%s',
									 from_clause, cur, hop.from_columns[pos], key_type);
		END IF;
		alias := 't' || i;
		from_clause := from_clause || pg_catalog.format(' JOIN %s AS %s ON %s',
			privacy._qualified_name(hop.to_table), alias, privacy._join_condition(hop, alias, cur));
		cur := alias;
	END LOOP;
	RETURN pg_catalog.format('FROM %s WHERE %s.%I = $1::%s', from_clause, cur, k.key_column, key_type);
END
$$;
COMMENT ON FUNCTION privacy._subject_rows_sql(text, regclass) IS
'FROM and WHERE clauses selecting one subject''s rows of a table (alias t0), the subject key being $1';

-- The join condition of one foreign-key hop between the referenced table
-- (parent_alias) and the referencing one (child_alias).
CREATE FUNCTION privacy._join_condition(hop privacy.foreign_keys, parent_alias text, child_alias text)
RETURNS text
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT pg_catalog.string_agg(pg_catalog.format('%s.%I = %s.%I', parent_alias, c.to_col, child_alias, c.from_col),
								 ' AND ' ORDER BY c.ord)
	  FROM ROWS FROM (pg_catalog.unnest(hop.to_columns), pg_catalog.unnest(hop.from_columns))
		   WITH ORDINALITY AS c(to_col, from_col, ord);
END;
COMMENT ON FUNCTION privacy._join_condition(privacy.foreign_keys, text, text) IS
'The join condition of a foreign-key hop';

CREATE VIEW privacy.subject_map AS
WITH paths AS MATERIALIZED (
	SELECT * FROM privacy._subject_paths()
), personal AS (
	SELECT DISTINCT cc.table_name FROM privacy.classified_columns cc
), fks AS MATERIALIZED (
	SELECT * FROM privacy.foreign_keys
)
SELECT p.kind,
	   p.table_name,
	   pg_catalog.cardinality(p.hops) AS depth,
	   p.status,
	   EXISTS (SELECT FROM personal WHERE personal.table_name = p.table_name) AS personal,
	   p.path,
	   (SELECT pg_catalog.bool_and(f.indexed) FROM fks f
		 WHERE f.constraint_oid = ANY (p.hops)) AS indexed,
	   (SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
				'constraint', f.constraint_name,
				'from_table', privacy._qualified_name(f.from_table),
				'from_columns', pg_catalog.to_jsonb(f.from_columns),
				'to_table', privacy._qualified_name(f.to_table),
				'to_columns', pg_catalog.to_jsonb(f.to_columns),
				'indexed', f.indexed) ORDER BY h.ord)
		  FROM pg_catalog.unnest(p.hops) WITH ORDINALITY AS h(oid, ord)
		  JOIN fks f ON f.constraint_oid = h.oid) AS hops
  FROM paths p
UNION ALL
SELECT NULL, personal.table_name, NULL, 'unreachable', true, NULL, NULL, NULL
  FROM personal
 WHERE NOT EXISTS (SELECT FROM paths WHERE paths.table_name = personal.table_name);
COMMENT ON VIEW privacy.subject_map IS
'Per subject kind and table: the foreign-key path from the table to the subject, whether each hop is indexed, and whether the table holds personal data';
GRANT SELECT ON privacy.subject_map TO PUBLIC;

------------------------------------------------------------------------------
-- The audit log: append-only and hash-chained
------------------------------------------------------------------------------

CREATE TABLE privacy.audit_log (
	id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
	logged_at timestamptz NOT NULL,
	actor name NOT NULL,
	session_role name NOT NULL,
	action text NOT NULL,
	subject_ref text,
	request_id bigint,
	summary jsonb NOT NULL,
	prev_hash bytea NOT NULL,
	hash bytea NOT NULL
);
REVOKE ALL ON privacy.audit_log FROM PUBLIC;
COMMENT ON TABLE privacy.audit_log IS
'Every export, erasure, consent change and policy change: append-only, each entry hash-chained to the one before';
SELECT pg_catalog.pg_extension_config_dump('privacy.audit_log', '');
SELECT pg_catalog.pg_extension_config_dump('privacy.audit_log_id_seq', '');

-- The newest entry's hash; its row lock serialises writers of the chain.
CREATE TABLE privacy._audit_head (
	singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
	last_id bigint,
	last_hash bytea NOT NULL,
	-- Where the chain starts once old entries were pruned: the newest pruned
	-- entry's id and hash.
	pruned_through_id bigint,
	pruned_through_hash bytea
);
REVOKE ALL ON privacy._audit_head FROM PUBLIC;
COMMENT ON TABLE privacy._audit_head IS
'The hash of the newest audit log entry, which the next entry chains to';
CREATE TRIGGER restore_over_seed BEFORE INSERT ON privacy._audit_head
	FOR EACH ROW EXECUTE FUNCTION privacy._restore_over_seed('singleton');
INSERT INTO privacy._audit_head (last_id, last_hash)
VALUES (NULL, pg_catalog.sha256(pg_catalog.convert_to('opendims_privacy audit log', 'UTF8')));
SELECT pg_catalog.pg_extension_config_dump('privacy._audit_head', '');

-- The hash of one entry: SHA-256 over the previous hash and a canonical text
-- of the entry (UTC timestamps, jsonb's canonical text), independent of the
-- session's DateStyle and TimeZone.
CREATE FUNCTION privacy._audit_entry_hash(prev_hash bytea, id bigint, logged_at timestamptz,
										  actor name, session_role name, action text,
										  subject_ref text, request_id bigint, summary jsonb)
RETURNS bytea
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT pg_catalog.sha256(prev_hash || pg_catalog.convert_to(pg_catalog.concat_ws(E'\x1f',
			id::text,
			pg_catalog.to_char(logged_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
			actor::text, session_role::text, action,
			COALESCE(subject_ref, ''),
			COALESCE(request_id::text, ''),
			summary::text), 'UTF8'));
END;
COMMENT ON FUNCTION privacy._audit_entry_hash(bytea, bigint, timestamptz, name, name, text, text, bigint, jsonb) IS
'The chained hash of one audit log entry';

-- Appends an entry; kind and subject become a keyed subject reference, so
-- the log never holds a raw identifier. Returns the entry's id.
CREATE FUNCTION privacy._audit(actor name, action text, kind text, subject text,
							   request_id bigint, summary jsonb)
RETURNS bigint
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	head privacy._audit_head;
	entry privacy.audit_log;
BEGIN
	SELECT * INTO STRICT head FROM privacy._audit_head FOR UPDATE;
	entry.id := pg_catalog.nextval('privacy.audit_log_id_seq'::pg_catalog.regclass);
	entry.logged_at := pg_catalog.clock_timestamp();
	entry.actor := COALESCE(actor, SESSION_USER);
	entry.session_role := SESSION_USER;
	entry.action := action;
	entry.subject_ref := CASE WHEN subject IS NOT NULL
							  THEN privacy.subject_ref(COALESCE(kind, ''), subject) END;
	entry.request_id := request_id;
	entry.summary := COALESCE(summary, '{}');
	entry.prev_hash := head.last_hash;
	entry.hash := privacy._audit_entry_hash(entry.prev_hash, entry.id, entry.logged_at,
											entry.actor, entry.session_role, entry.action,
											entry.subject_ref, entry.request_id, entry.summary);
	INSERT INTO privacy.audit_log VALUES (entry.*);
	UPDATE privacy._audit_head SET last_id = entry.id, last_hash = entry.hash;
	RETURN entry.id;
END
$$;
REVOKE ALL ON FUNCTION privacy._audit(name, text, text, text, bigint, jsonb) FROM PUBLIC;
COMMENT ON FUNCTION privacy._audit(name, text, text, text, bigint, jsonb) IS
'Appends one hash-chained entry to the audit log';

CREATE FUNCTION privacy._audit_log_is_append_only()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	RAISE EXCEPTION 'privacy.audit_log is append-only'
		USING ERRCODE = 'insufficient_privilege',
			  DETAIL = pg_catalog.format('%s is not allowed on the audit log.', TG_OP),
			  HINT = 'Entries are added by the extension''s functions; privacy.verify_audit_log() detects any change made by other means.';
END
$$;
COMMENT ON FUNCTION privacy._audit_log_is_append_only() IS
'Trigger: refuses UPDATE, DELETE and TRUNCATE on the audit log';
CREATE TRIGGER append_only BEFORE UPDATE OR DELETE ON privacy.audit_log
	FOR EACH ROW EXECUTE FUNCTION privacy._audit_log_is_append_only();
CREATE TRIGGER append_only_truncate BEFORE TRUNCATE ON privacy.audit_log
	FOR EACH STATEMENT EXECUTE FUNCTION privacy._audit_log_is_append_only();

CREATE FUNCTION privacy.verify_audit_log(
	OUT intact boolean, OUT entries bigint, OUT first_broken_id bigint, OUT problem text)
RETURNS record
LANGUAGE plpgsql STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	e privacy.audit_log;
	head privacy._audit_head;
	prev bytea;
	last_id bigint;
BEGIN
	SELECT * INTO head FROM privacy._audit_head;
	prev := COALESCE(head.pruned_through_hash,
					 pg_catalog.sha256(pg_catalog.convert_to('opendims_privacy audit log', 'UTF8')));
	last_id := head.pruned_through_id;
	intact := true;
	entries := 0;
	FOR e IN SELECT * FROM privacy.audit_log ORDER BY id LOOP
		entries := entries + 1;
		IF e.prev_hash <> prev THEN
			intact := false; first_broken_id := e.id;
			problem := 'the entry does not chain to the one before it: an entry was removed or changed';
			RETURN;
		END IF;
		IF e.hash <> privacy._audit_entry_hash(e.prev_hash, e.id, e.logged_at, e.actor,
											   e.session_role, e.action, e.subject_ref,
											   e.request_id, e.summary) THEN
			intact := false; first_broken_id := e.id;
			problem := 'the entry''s contents do not match its hash: it was changed';
			RETURN;
		END IF;
		prev := e.hash;
		last_id := e.id;
	END LOOP;
	IF head.last_hash <> prev OR head.last_id IS DISTINCT FROM last_id THEN
		intact := false; first_broken_id := head.last_id;
		problem := 'the newest entries are missing: the log was truncated';
	END IF;
END
$$;
REVOKE ALL ON FUNCTION privacy.verify_audit_log() FROM PUBLIC;
COMMENT ON FUNCTION privacy.verify_audit_log() IS
'Recomputes the audit log''s hash chain (from the last pruning, if any) and reports the first broken link';

------------------------------------------------------------------------------
-- lint() and the record of processing activities
------------------------------------------------------------------------------

-- Personal tables no subject kind reaches, ambiguous paths, foreign keys on
-- subject paths without an index.
CREATE FUNCTION privacy._lint_subject_map()
RETURNS TABLE (severity text, object text, problem text, hint text)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT 'error', privacy._qualified_name(m.table_name),
		   'holds personal data that no subject kind reaches',
		   'Declare a subject kind whose anchor table this table references through foreign keys, or add the missing foreign key; until then export and erasure cannot find its rows.'
	  FROM privacy.subject_map m WHERE m.status = 'unreachable'
	UNION ALL
	SELECT 'error', privacy._qualified_name(m.table_name),
		   pg_catalog.format('reaches subject kind "%s" by more than one shortest path: %s', m.kind, m.path),
		   'Pin one path in the policy document with "paths" under the subject kind.'
	  FROM privacy.subject_map m WHERE m.status = 'ambiguous'
	UNION ALL
	SELECT DISTINCT 'warning',
		   pg_catalog.format('%s(%s)', privacy._qualified_name(f.from_table),
							 pg_catalog.array_to_string(f.from_columns, ', ')),
		   pg_catalog.format('foreign key "%s" on the path to subject kind "%s" has no index',
							 f.constraint_name, p.kind),
		   pg_catalog.format('Per-subject lookups scan the whole table: CREATE INDEX ON %s (%s);',
							 privacy._qualified_name(f.from_table),
							 (SELECT pg_catalog.string_agg(pg_catalog.quote_ident(c), ', ')
								FROM pg_catalog.unnest(f.from_columns) c))
	  FROM privacy._subject_paths() p
	  JOIN privacy.foreign_keys f ON f.constraint_oid = ANY (p.hops)
	 WHERE NOT f.indexed;
END;
COMMENT ON FUNCTION privacy._lint_subject_map() IS
'lint: personal tables no subject kind reaches, ambiguous paths, foreign keys on subject paths without an index';

-- Personal tables without a retention rule.
CREATE FUNCTION privacy._lint_retention()
RETURNS TABLE (severity text, object text, problem text, hint text)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT DISTINCT 'warning', privacy._qualified_name(cc.table_name),
		   'holds personal data but has no retention rule',
		   'The policy keeps personal data only as long as necessary: add a rule for this table to "retention_rules".'
	  FROM privacy.classified_columns cc
	 WHERE NOT EXISTS (SELECT FROM privacy.retention_rules rr WHERE rr.table_name = cc.table_name);
END;
COMMENT ON FUNCTION privacy._lint_retention() IS
'lint: tables holding personal data without a retention rule';

-- Catalog entries whose table or column no longer exists.
CREATE FUNCTION privacy._lint_catalog()
RETURNS TABLE (severity text, object text, problem text, hint text)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT 'error', pg_catalog.format('%s.%I', ref.table_name, ref.column_name),
		   pg_catalog.format('%s refers to a column or table that does not exist', ref.what),
		   'Apply a policy document that matches the schema, or restore the column.'
	  FROM (SELECT 'a classification' AS what, cl.table_name, cl.column_name
			  FROM privacy.classifications cl
			UNION ALL
			SELECT pg_catalog.format('subject kind "%s"', k.name), k.table_name, k.key_column
			  FROM privacy.subject_kinds k
			UNION ALL
			SELECT pg_catalog.format('retention rule "%s"', rr.name), rr.table_name, c.col
			  FROM privacy.retention_rules rr,
				   LATERAL pg_catalog.unnest(rr.anchor || rr.columns) AS c(col)) ref
	 WHERE NOT EXISTS (SELECT FROM pg_catalog.pg_attribute a
						WHERE a.attrelid = ref.table_name AND a.attname = ref.column_name
						  AND a.attnum > 0 AND NOT a.attisdropped);
END;
COMMENT ON FUNCTION privacy._lint_catalog() IS
'lint: classifications, subject kinds and retention rules naming tables or columns that no longer exist';

-- Unclassified columns whose names suggest personal data.
CREATE FUNCTION privacy._lint_column_names()
RETURNS TABLE (severity text, object text, problem text, hint text)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT 'notice', pg_catalog.format('%s.%I', privacy._qualified_name(c.oid), a.attname),
		   'column name suggests personal data, but the column is not classified',
		   pg_catalog.format('Classify it: SECURITY LABEL FOR privacy ON COLUMN %s.%I IS ''<category>''; or add it to "classifications".',
							 privacy._qualified_name(c.oid), a.attname)
	  FROM pg_catalog.pg_class c
	  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
	  JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
	 WHERE c.relkind IN ('r', 'p')
	   AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'privacy', 'cron')
	   AND n.nspname !~ '^pg_'
	   AND a.attname ~* '(^|_)(e_?mail|phone|mobile|tlf|fax|ip|ip_?addr(ess)?|address|street|zip|post_?code|postal|birth(day|date)?|dob|cpr|ssn|first_?name|last_?name|full_?name|surname|username|user_?name|login)($|_)'
	   AND NOT EXISTS (SELECT FROM privacy.classified_columns cc
						WHERE cc.table_name = c.oid AND cc.column_name = a.attname)
	 ORDER BY 2;
END;
COMMENT ON FUNCTION privacy._lint_column_names() IS
'lint: unclassified columns whose names suggest personal data';

-- Runs every check function (privacy._lint_*, a plug-in point for later
-- features) and returns their findings.
CREATE FUNCTION privacy._run_lint_checks()
RETURNS TABLE (severity text, object text, problem text, hint text)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	check_fn regprocedure;
BEGIN
	FOR check_fn IN
		SELECT p.oid::regprocedure
		  FROM pg_catalog.pg_proc p
		 WHERE p.pronamespace = 'privacy'::pg_catalog.regnamespace
		   AND p.proname LIKE '\_lint\_%' AND p.pronargs = 0
		   AND pg_catalog.has_function_privilege(p.oid, 'EXECUTE')
		 ORDER BY p.proname
	LOOP
		RETURN QUERY EXECUTE pg_catalog.format('SELECT * FROM %s', check_fn);
	END LOOP;
END
$$;
COMMENT ON FUNCTION privacy._run_lint_checks() IS
'The findings of every privacy._lint_* check function';

CREATE FUNCTION privacy.lint()
RETURNS TABLE (severity text, object text, problem text, hint text)
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT f.severity, f.object, f.problem, f.hint
	  FROM privacy._run_lint_checks() f
	 ORDER BY CASE f.severity WHEN 'error' THEN 1 WHEN 'warning' THEN 2 ELSE 3 END,
			  f.object, f.problem;
END;
COMMENT ON FUNCTION privacy.lint() IS
'Problems in how personal data is declared and protected: (severity, object, problem, hint), most severe first';
GRANT EXECUTE ON FUNCTION privacy.lint() TO PUBLIC;

-- The GDPR article a legal basis rests on.
CREATE FUNCTION privacy._legal_basis_article(legal_basis text)
RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT CASE legal_basis
		WHEN 'consent' THEN 'GDPR Art. 6(1)(a)'
		WHEN 'contract' THEN 'GDPR Art. 6(1)(b)'
		WHEN 'legal_obligation' THEN 'GDPR Art. 6(1)(c)'
		WHEN 'legitimate_interest' THEN 'GDPR Art. 6(1)(f)'
	END;
END;
COMMENT ON FUNCTION privacy._legal_basis_article(text) IS
'The article of the GDPR that a legal basis rests on';

CREATE FUNCTION privacy.processing_record()
RETURNS jsonb
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	WITH doc AS (SELECT privacy.policy() AS d),
	classified AS MATERIALIZED (
		SELECT cc.*, privacy._qualified_name(cc.table_name) AS qualified
		  FROM privacy.classified_columns cc),
	mapped AS MATERIALIZED (
		SELECT m.kind, m.table_name, m.depth FROM privacy.subject_map m WHERE m.personal)
	SELECT pg_catalog.jsonb_build_object(
		'record', 'Record of processing activities (GDPR Art. 30(1))',
		'generated_at', pg_catalog.now(),
		'policy_version', doc.d -> 'version',
		'effective_date', doc.d -> 'effective_date',
		'controller', doc.d -> 'controller',
		'purposes', (
			SELECT COALESCE(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
				'purpose', p.name, 'description', p.description,
				'legal_basis', p.legal_basis,
				'article', privacy._legal_basis_article(p.legal_basis),
				'allowed_under_restriction', p.allowed_under_restriction) ORDER BY p.name), '[]')
			  FROM privacy.purposes p),
		'categories_of_data_subjects', (
			SELECT COALESCE(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
				'kind', k.name, 'description', k.description,
				'anchor', pg_catalog.format('%s.%I', privacy._qualified_name(k.table_name), k.key_column),
				'tables', (SELECT COALESCE(pg_catalog.jsonb_agg(
								privacy._qualified_name(m.table_name) ORDER BY m.depth, m.table_name), '[]')
							 FROM mapped m WHERE m.kind = k.name))
				ORDER BY k.name), '[]')
			  FROM privacy.subject_kinds k),
		'categories_of_personal_data', (
			SELECT COALESCE(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
				'category', c.name, 'description', c.description,
				'columns', cols.columns, 'sources', cols.sources) ORDER BY c.name), '[]')
			  FROM privacy.categories c
			  JOIN LATERAL (
				SELECT pg_catalog.jsonb_agg(pg_catalog.format('%s.%I', cc.qualified, cc.column_name)
											ORDER BY cc.qualified, cc.column_name) AS columns,
					   pg_catalog.jsonb_agg(DISTINCT cc.source) AS sources
				  FROM classified cc WHERE cc.category = c.name) cols ON cols.columns IS NOT NULL),
		'special_categories', pg_catalog.jsonb_build_object(
			'statement', 'The controller does not intend to process these categories of data and refuses columns classified into them.',
			'categories', (SELECT COALESCE(pg_catalog.jsonb_agg(c.name ORDER BY c.name), '[]')
							 FROM privacy.categories c WHERE c.special)),
		'sources', doc.d -> 'sources',
		'recipients', (
			SELECT COALESCE(pg_catalog.jsonb_agg(pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object(
				'recipient', r.name, 'kind', r.kind, 'dpa_reference', r.dpa_reference,
				'purposes', pg_catalog.to_jsonb(r.purposes), 'description', r.description)) ORDER BY r.name), '[]')
			  FROM privacy.recipients r),
		'retention', (
			SELECT COALESCE(pg_catalog.jsonb_agg(pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object(
				'rule', rr.name, 'table', privacy._qualified_name(rr.table_name),
				'categories', (SELECT pg_catalog.jsonb_agg(DISTINCT cc.category) FROM classified cc
								WHERE cc.table_name = rr.table_name
								  AND (rr.action = 'delete' OR cc.column_name = ANY (rr.columns))),
				'period', rr.period, 'counted_from', rr.anchor, 'action', rr.action,
				'legal_basis', rr.legal_basis, 'minimum', rr.minimum,
				'minimum_from', CASE WHEN rr.minimum IS NOT NULL THEN rr.minimum_from END,
				'description', rr.description)) ORDER BY rr.name), '[]')
			  FROM privacy.retention_rules rr),
		'tables_without_retention_rule', (
			SELECT COALESCE(pg_catalog.jsonb_agg(DISTINCT cc.qualified), '[]')
			  FROM classified cc
			 WHERE NOT EXISTS (SELECT FROM privacy.retention_rules rr WHERE rr.table_name = cc.table_name)))
	  FROM doc;
END;
COMMENT ON FUNCTION privacy.processing_record() IS
'The record of processing activities (GDPR Art. 30), generated from the catalog';
GRANT EXECUTE ON FUNCTION privacy.processing_record() TO PUBLIC;
