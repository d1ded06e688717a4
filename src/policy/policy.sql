-- policy: the catalog the policy document is written to (purposes,
-- categories, sources, recipients, subject kinds and paths, classifications,
-- retention rules), apply_policy() and policy(), lint(), processing_record()
-- and discover(). C: src/policy/ (the JSON parser is in src/pure/).

CREATE FUNCTION privacy_internal._apply_document(doc jsonb, tables jsonb, actor name) RETURNS jsonb
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
	before jsonb;
	after jsonb;
	changes jsonb;
	before_entries jsonb;
BEGIN
	-- One policy change at a time; readers are not blocked.
	LOCK TABLE privacy.policy_versions IN SHARE ROW EXCLUSIVE MODE;

	before := privacy.policy();
	before_entries := COALESCE((SELECT pg_catalog.jsonb_agg(e) FROM privacy_internal._policy_table_entries() e), '[]');
	PERFORM privacy_internal._write_catalog(doc, tables);
	PERFORM privacy_internal._check_policy_owners(before_entries, actor);
	PERFORM privacy_internal._check_catalog();
	PERFORM privacy_internal._refresh_masking(true);
	after := privacy_internal._catalog_document(doc);
	changes := privacy_internal._document_changes(before, after);

	IF changes OPERATOR(pg_catalog.=) '{}'::pg_catalog.jsonb THEN
		RETURN pg_catalog.jsonb_build_object('changed', false, 'version', after OPERATOR(pg_catalog.->) 'version');
	END IF;

	IF EXISTS (SELECT FROM privacy.policy_versions v
				WHERE v.version OPERATOR(pg_catalog.=) (after OPERATOR(pg_catalog.->>) 'version')
				  AND v.document OPERATOR(pg_catalog.<>) after) THEN
		RAISE EXCEPTION 'policy version "%" was already applied with different content', after OPERATOR(pg_catalog.->>) 'version'
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = 'Consent given under a policy version must be traceable to exactly one text.',
				  HINT = 'Give the changed document a new "version".';
	END IF;

	INSERT INTO privacy.policy_versions (version, effective_date, document, applied_by)
	VALUES (after OPERATOR(pg_catalog.->>) 'version', (after OPERATOR(pg_catalog.->>) 'effective_date')::pg_catalog.date, after, actor);

	PERFORM privacy_internal._audit(actor, 'policy.apply', NULL, NULL, NULL,
						   pg_catalog.jsonb_build_object('version', after OPERATOR(pg_catalog.->) 'version',
														 'previous_version', before OPERATOR(pg_catalog.->) 'version',
														 'changes', changes));

	RETURN pg_catalog.jsonb_build_object('changed', true,
										 'version', after OPERATOR(pg_catalog.->) 'version',
										 'previous_version', before OPERATOR(pg_catalog.->) 'version',
										 'changes', changes);
END
$$;

COMMENT ON FUNCTION privacy_internal._apply_document(doc jsonb, tables jsonb, actor name) IS 'Applies a parsed and checked policy document; called by privacy.apply_policy()';

REVOKE ALL ON FUNCTION privacy_internal._apply_document(doc jsonb, tables jsonb, actor name) FROM PUBLIC;

-- The catalog tables name each other (a classification its category and
-- source, a path its subject kind, a masking rule its category, a masked
-- recipient its recipient) without foreign keys: pg_dump dumps their rows
-- as an extension's configuration and orders them for a serial restore
-- only; a parallel pg_restore loads them in any order, so a foreign key
-- would fail it. _write_catalog(), their only writer, removes dependents
-- before what they name, and lint() reports a name that refers to nothing
-- (_lint_catalog_references).
CREATE TABLE privacy.categories (
    name text NOT NULL,
    description text DEFAULT ''::text NOT NULL,
    special boolean DEFAULT false NOT NULL,
    builtin boolean DEFAULT false NOT NULL,
    CONSTRAINT categories_pkey PRIMARY KEY (name)
);

COMMENT ON TABLE privacy.categories IS 'The data-category taxonomy; special categories are those the controller refuses to hold';

GRANT SELECT ON TABLE privacy.categories TO PUBLIC;

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
SELECT pg_catalog.pg_extension_config_dump('privacy.categories', '');

CREATE TABLE privacy.classifications (
    table_name regclass NOT NULL,
    column_name name NOT NULL,
    category text NOT NULL,
    source text NOT NULL,
    CONSTRAINT classifications_pkey PRIMARY KEY (table_name, column_name)
);

COMMENT ON TABLE privacy.classifications IS 'Columns classified by the policy document';

GRANT SELECT ON TABLE privacy.classifications TO PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('privacy.classifications', '');

CREATE TABLE privacy.purposes (
    name text NOT NULL,
    legal_basis text NOT NULL,
    description text DEFAULT ''::text NOT NULL,
    allowed_under_restriction boolean DEFAULT false NOT NULL,
    CONSTRAINT purposes_legal_basis_check CHECK ((legal_basis = ANY (ARRAY['contract'::text, 'legitimate_interest'::text, 'consent'::text, 'legal_obligation'::text]))),
    CONSTRAINT purposes_pkey PRIMARY KEY (name)
);

COMMENT ON TABLE privacy.purposes IS 'Purposes of processing, each with its legal basis (GDPR Art. 6)';

GRANT SELECT ON TABLE privacy.purposes TO PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('privacy.purposes', '');

CREATE TABLE privacy.recipients (
    name text NOT NULL,
    kind text NOT NULL,
    dpa_reference text,
    purposes text[] DEFAULT '{}'::text[] NOT NULL,
    description text DEFAULT ''::text NOT NULL,
    CONSTRAINT recipients_check CHECK (((kind = 'processor'::text) = (dpa_reference IS NOT NULL))),
    CONSTRAINT recipients_kind_check CHECK ((kind = ANY (ARRAY['internal'::text, 'processor'::text, 'authority'::text]))),
    CONSTRAINT recipients_pkey PRIMARY KEY (name)
);

COMMENT ON TABLE privacy.recipients IS 'Recipients of personal data: internal staff, processors under a data processing agreement, authorities';

GRANT SELECT ON TABLE privacy.recipients TO PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('privacy.recipients', '');

CREATE TABLE privacy.retention_rules (
    name text NOT NULL,
    table_name regclass NOT NULL,
    anchor name NOT NULL,
    period text NOT NULL,
    action text NOT NULL,
    columns name[] DEFAULT '{}'::name[] NOT NULL,
    legal_basis text NOT NULL,
    minimum text,
    minimum_from text DEFAULT 'anchor'::text NOT NULL,
    description text DEFAULT ''::text NOT NULL,
    CONSTRAINT retention_rules_action_check CHECK ((action = ANY (ARRAY['delete'::text, 'anonymize'::text, 'truncate_ip'::text]))),
    CONSTRAINT retention_rules_check CHECK (((action = 'delete'::text) = (cardinality(columns) = 0))),
    CONSTRAINT retention_rules_legal_basis_check CHECK ((legal_basis = ANY (ARRAY['contract'::text, 'legitimate_interest'::text, 'consent'::text, 'legal_obligation'::text]))),
    CONSTRAINT retention_rules_minimum_check CHECK (((minimum)::interval > '00:00:00'::interval)),
    CONSTRAINT retention_rules_minimum_from_check CHECK ((minimum_from = ANY (ARRAY['anchor'::text, 'end_of_financial_year'::text]))),
    CONSTRAINT retention_rules_period_check CHECK (((period)::interval > '00:00:00'::interval)),
    CONSTRAINT retention_rules_pkey PRIMARY KEY (name)
);

COMMENT ON TABLE privacy.retention_rules IS 'How long rows are kept and what happens to them then (enforced by the retention job)';

GRANT SELECT ON TABLE privacy.retention_rules TO PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('privacy.retention_rules', '');

CREATE TABLE privacy.sources (
    name text NOT NULL,
    description text DEFAULT ''::text NOT NULL,
    builtin boolean DEFAULT false NOT NULL,
    CONSTRAINT sources_pkey PRIMARY KEY (name)
);

COMMENT ON TABLE privacy.sources IS 'Where personal data comes from (GDPR Art. 14(2)(f))';

GRANT SELECT ON TABLE privacy.sources TO PUBLIC;

INSERT INTO privacy.sources (name, description, builtin) VALUES
	('direct', 'Directly from the data subject', true),
	('automatic', 'Automatically, through cookies and other tracking technologies', true),
	('partner', 'From business partners', true);
SELECT pg_catalog.pg_extension_config_dump('privacy.sources', '');

CREATE TABLE privacy.subject_kinds (
    name text NOT NULL,
    table_name regclass NOT NULL,
    key_column name NOT NULL,
    description text DEFAULT ''::text NOT NULL,
    CONSTRAINT subject_kinds_pkey PRIMARY KEY (name)
);

COMMENT ON TABLE privacy.subject_kinds IS 'Kinds of data subject, each anchored on a table and its key column';

GRANT SELECT ON TABLE privacy.subject_kinds TO PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('privacy.subject_kinds', '');

CREATE TABLE privacy.subject_paths (
    kind text NOT NULL,
    table_name regclass NOT NULL,
    via name[] NOT NULL,
    CONSTRAINT subject_paths_via_check CHECK ((cardinality(via) > 0)),
    CONSTRAINT subject_paths_pkey PRIMARY KEY (kind, table_name)
);

COMMENT ON TABLE privacy.subject_paths IS 'Foreign-key paths pinned by the policy where a table reaches a subject kind in more than one way';

GRANT SELECT ON TABLE privacy.subject_paths TO PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('privacy.subject_paths', '');

CREATE TABLE privacy.masking_rules (
    category text,
    table_name regclass,
    column_name name,
    method text NOT NULL,
    parameters jsonb DEFAULT '{}'::jsonb NOT NULL,
    CONSTRAINT masking_rules_method_check CHECK ((method = ANY (ARRAY['mask'::text, 'pseudonymize'::text, 'null'::text, 'constant'::text, 'month'::text, 'year'::text, 'range'::text, 'network'::text, 'first_letters'::text]))),
    CONSTRAINT masking_rules_target_check CHECK (((category IS NULL) = (table_name IS NOT NULL)) AND ((table_name IS NULL) = (column_name IS NULL))),
    CONSTRAINT masking_rules_target_key UNIQUE NULLS NOT DISTINCT (category, table_name, column_name)
);

COMMENT ON TABLE privacy.masking_rules IS 'How the values of a category or a column are masked for masked roles and in anonymised copies';

GRANT SELECT ON TABLE privacy.masking_rules TO PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('privacy.masking_rules', '');

CREATE TABLE privacy.masked_roles (
    role_name name NOT NULL,
    CONSTRAINT masked_roles_pkey PRIMARY KEY (role_name)
);

COMMENT ON TABLE privacy.masked_roles IS 'Roles that read masked values of classified columns, never the raw ones';

GRANT SELECT ON TABLE privacy.masked_roles TO PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('privacy.masked_roles', '');

CREATE TABLE privacy.masked_recipients (
    recipient text NOT NULL,
    CONSTRAINT masked_recipients_pkey PRIMARY KEY (recipient)
);

COMMENT ON TABLE privacy.masked_recipients IS 'Recipients that receive personal data only masked or in anonymised copies';

GRANT SELECT ON TABLE privacy.masked_recipients TO PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('privacy.masked_recipients', '');

CREATE FUNCTION privacy_internal._catalog_document(top jsonb)
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
			'name', k.name, 'table', privacy_internal._qualified_name(k.table_name),
			'key', k.key_column, 'description', k.description,
			'paths', (SELECT COALESCE(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
						'table', privacy_internal._qualified_name(sp.table_name), 'via', pg_catalog.to_jsonb(sp.via))
						ORDER BY privacy_internal._qualified_name(sp.table_name)), '[]')
						FROM privacy.subject_paths sp WHERE sp.kind = k.name))
			ORDER BY k.name), '[]')
		  FROM privacy.subject_kinds k),
	'classifications', (
		SELECT COALESCE(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
			'table', privacy_internal._qualified_name(cl.table_name), 'column', cl.column_name,
			'category', cl.category, 'source', cl.source)
			ORDER BY privacy_internal._qualified_name(cl.table_name), cl.column_name), '[]')
		  FROM privacy.classifications cl),
	'retention_rules', (
		SELECT COALESCE(pg_catalog.jsonb_agg(
			pg_catalog.jsonb_build_object(
				'name', rr.name, 'table', privacy_internal._qualified_name(rr.table_name),
				'anchor', rr.anchor, 'period', rr.period, 'action', rr.action,
				'columns', pg_catalog.to_jsonb(rr.columns), 'legal_basis', rr.legal_basis)
			|| CASE WHEN rr.minimum IS NULL THEN '{}'::jsonb
					ELSE pg_catalog.jsonb_build_object('minimum', rr.minimum,
													   'minimum_from', rr.minimum_from) END
			|| pg_catalog.jsonb_build_object('description', rr.description)
			ORDER BY rr.name), '[]')
		  FROM privacy.retention_rules rr),
	'masking', pg_catalog.jsonb_build_object(
		'roles', (SELECT COALESCE(pg_catalog.jsonb_agg(mr.role_name ORDER BY mr.role_name), '[]')
					FROM privacy.masked_roles mr),
		'recipients', (SELECT COALESCE(pg_catalog.jsonb_agg(mp.recipient ORDER BY mp.recipient), '[]')
						 FROM privacy.masked_recipients mp),
		'rules', (SELECT COALESCE(pg_catalog.jsonb_agg(
					pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object(
						'category', m.category,
						'table', privacy_internal._qualified_name(m.table_name),
						'column', m.column_name))
					|| pg_catalog.jsonb_build_object('method', m.method) || m.parameters
					ORDER BY m.category NULLS LAST, privacy_internal._qualified_name(m.table_name), m.column_name), '[]')
				   FROM privacy.masking_rules m))
);
END;

COMMENT ON FUNCTION privacy_internal._catalog_document(top jsonb) IS 'The catalog as a policy document, with the given version, effective date and controller';

CREATE FUNCTION privacy_internal._check_catalog() RETURNS void
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
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
		PERFORM privacy_internal._resolve_path(r.table_name, r.via, r.anchor, r.kind);
	END LOOP;
END
$$;

COMMENT ON FUNCTION privacy_internal._check_catalog() IS 'Raises an error if the catalog contradicts itself after a policy change';

REVOKE ALL ON FUNCTION privacy_internal._check_catalog() FROM PUBLIC;

CREATE FUNCTION privacy_internal._check_policy_owners(before jsonb, actor name) RETURNS void
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
	denied regclass;
BEGIN
	SELECT c.oid::regclass INTO denied
	  FROM (SELECT d.table_name
			  FROM (SELECT b.table_name, b.entry
					  FROM pg_catalog.jsonb_to_recordset(before) AS b(table_name oid, entry text)
					EXCEPT
					SELECT e.table_name, e.entry FROM privacy_internal._policy_table_entries() e
					UNION
					(SELECT e.table_name, e.entry FROM privacy_internal._policy_table_entries() e
					 EXCEPT
					 SELECT b.table_name, b.entry
					   FROM pg_catalog.jsonb_to_recordset(before) AS b(table_name oid, entry text))) d) changed
	  JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) changed.table_name
	 WHERE NOT pg_catalog.pg_has_role(actor, c.relowner, 'USAGE')
	 ORDER BY c.oid
	 LIMIT 1;
	IF FOUND THEN
		RAISE EXCEPTION 'permission denied to change the policy of table %', privacy_internal._qualified_name(denied)
			USING ERRCODE = 'insufficient_privilege',
				  DETAIL = 'The document adds, changes or removes a subject kind, path, classification or retention rule of this table; only a member of the role that owns a table may change what the policy declares about it.',
				  HINT = 'Leave the entries of this table as privacy.policy() has them, or have the table''s owner apply the document.';
	END IF;
END
$$;

COMMENT ON FUNCTION privacy_internal._check_policy_owners(before jsonb, actor name) IS 'Raises an error if a policy change touches the entries of a table the actor does not own';

REVOKE ALL ON FUNCTION privacy_internal._check_policy_owners(before jsonb, actor name) FROM PUBLIC;

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

COMMENT ON VIEW privacy.foreign_keys IS 'Foreign keys with their columns and whether an index on the referencing columns serves per-subject lookups';

GRANT SELECT ON TABLE privacy.foreign_keys TO PUBLIC;

CREATE FUNCTION privacy_internal._document_changes(before jsonb, after jsonb)
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
		  FROM pg_catalog.unnest(ARRAY['version', 'effective_date', 'controller', 'masking']) f
		 WHERE (before -> f) IS DISTINCT FROM (after -> f)
	)
	SELECT COALESCE(pg_catalog.jsonb_object_agg(section, changes), '{}')
	  FROM (SELECT * FROM top_level UNION ALL SELECT * FROM per_section) all_changes;
END;

COMMENT ON FUNCTION privacy_internal._document_changes(before jsonb, after jsonb) IS 'What changed between two policy documents, section by section';

REVOKE ALL ON FUNCTION privacy_internal._document_changes(before jsonb, after jsonb) FROM PUBLIC;

CREATE FUNCTION privacy_internal._legal_basis_article(legal_basis text)
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

COMMENT ON FUNCTION privacy_internal._legal_basis_article(legal_basis text) IS 'The article of the GDPR that a legal basis rests on';

CREATE TABLE privacy.policy_versions (
    id bigint GENERATED BY DEFAULT AS IDENTITY,
    version text NOT NULL,
    effective_date date NOT NULL,
    document jsonb NOT NULL,
    applied_at timestamp with time zone DEFAULT now() NOT NULL,
    applied_by name DEFAULT CURRENT_USER NOT NULL,
    CONSTRAINT policy_versions_pkey PRIMARY KEY (id)
);

COMMENT ON TABLE privacy.policy_versions IS 'Every policy document applied, in canonical form, with when and by whom';

GRANT SELECT ON TABLE privacy.policy_versions TO PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('privacy.policy_versions', '');
SELECT pg_catalog.pg_extension_config_dump('privacy.policy_versions_id_seq', '');

CREATE FUNCTION privacy_internal._lint_catalog()
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

COMMENT ON FUNCTION privacy_internal._lint_catalog() IS 'lint: classifications, subject kinds and retention rules naming tables or columns that no longer exist';

CREATE FUNCTION privacy_internal._lint_catalog_references()
RETURNS TABLE (severity text, object text, problem text, hint text)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT 'error', ref.object,
		   pg_catalog.format('%s names %s "%s", which the catalog does not have', ref.what, ref.target, ref.name),
		   'Apply the policy document again: privacy.apply_policy() writes the catalog consistently.'
	  FROM (SELECT 'the classification' AS what, pg_catalog.format('%s.%I', cl.table_name, cl.column_name) AS object,
				   'category' AS target, cl.category AS name
			  FROM privacy.classifications cl
			 WHERE NOT EXISTS (SELECT FROM privacy.categories c WHERE c.name = cl.category)
			UNION ALL
			SELECT 'the classification', pg_catalog.format('%s.%I', cl.table_name, cl.column_name), 'source', cl.source
			  FROM privacy.classifications cl
			 WHERE NOT EXISTS (SELECT FROM privacy.sources s WHERE s.name = cl.source)
			UNION ALL
			SELECT 'the subject path', p.table_name::text, 'subject kind', p.kind
			  FROM privacy.subject_paths p
			 WHERE NOT EXISTS (SELECT FROM privacy.subject_kinds k WHERE k.name = p.kind)
			UNION ALL
			SELECT 'the masking rule', pg_catalog.format('category %s', m.category), 'category', m.category
			  FROM privacy.masking_rules m
			 WHERE m.category IS NOT NULL
			   AND NOT EXISTS (SELECT FROM privacy.categories c WHERE c.name = m.category)
			UNION ALL
			SELECT 'the masked recipient', m.recipient, 'recipient', m.recipient
			  FROM privacy.masked_recipients m
			 WHERE NOT EXISTS (SELECT FROM privacy.recipients r WHERE r.name = m.recipient)) ref;
END;

COMMENT ON FUNCTION privacy_internal._lint_catalog_references() IS 'lint: catalog rows naming a category, source, subject kind or recipient the catalog does not have (the catalog tables have no foreign keys among them, so that a parallel restore can load them in any order)';

CREATE TABLE privacy._type_categories (
    type_name regtype NOT NULL,
    category text NOT NULL,
    CONSTRAINT _type_categories_pkey PRIMARY KEY (type_name),
    CONSTRAINT _type_categories_category_fkey FOREIGN KEY (category) REFERENCES privacy.categories(name)
);

COMMENT ON TABLE privacy._type_categories IS 'Personal-data column types and the category each classifies its columns into';

GRANT SELECT ON TABLE privacy._type_categories TO PUBLIC;

INSERT INTO privacy._type_categories (type_name, category) VALUES
	('privacy.email', 'contact.email'),
	('privacy.phone', 'contact.phone'),
	('privacy.ip_address', 'credentials.ip_address');

CREATE FUNCTION privacy_internal._personal_types()
RETURNS TABLE (type_oid oid, category text)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
SET jit = off
BEGIN ATOMIC
	-- Which type holds which: a domain its base type, an array its element,
	-- a composite its attributes, a range its subtype, a multirange its
	-- range. Types in temporary schemas are left out: no table a policy may
	-- name can use them, and any role may create them (a chain of them in
	-- another session would otherwise cost every caller its length).
	WITH RECURSIVE permanent AS MATERIALIZED (
		SELECT t.oid, t.typtype, t.typbasetype, t.typarray, t.typrelid
		  FROM pg_catalog.pg_type t
		  JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) t.typnamespace
		 WHERE n.nspname OPERATOR(pg_catalog.!~) '^pg_(toast_)?temp_'
	), holds(held, holder) AS MATERIALIZED (
		SELECT t.typbasetype, t.oid FROM permanent t
		 WHERE t.typtype OPERATOR(pg_catalog.=) 'd'
		UNION ALL
		SELECT t.oid, t.typarray FROM permanent t
		 WHERE t.typarray OPERATOR(pg_catalog.<>) 0::pg_catalog.oid
		UNION ALL
		SELECT a.atttypid, t.oid
		  FROM permanent t
		  JOIN pg_catalog.pg_attribute a ON a.attrelid OPERATOR(pg_catalog.=) t.typrelid
		 WHERE t.typtype OPERATOR(pg_catalog.=) 'c' AND a.attnum OPERATOR(pg_catalog.>) 0 AND NOT a.attisdropped
		UNION ALL
		SELECT r.rngsubtype, r.rngtypid
		  FROM pg_catalog.pg_range r JOIN permanent t ON t.oid OPERATOR(pg_catalog.=) r.rngtypid
		UNION ALL
		SELECT r.rngtypid, r.rngmultitypid
		  FROM pg_catalog.pg_range r JOIN permanent t ON t.oid OPERATOR(pg_catalog.=) r.rngmultitypid
	), personal(type_oid, category, depth) AS (
		SELECT tc.type_name::pg_catalog.oid, tc.category, 0 FROM privacy._type_categories tc
		UNION
		-- Nesting deeper than 32 types is not followed: that bounds the walk
		-- whatever the catalog holds.
		SELECT h.holder, p.category, p.depth OPERATOR(pg_catalog.+) 1
		  FROM personal p
		  JOIN holds h ON h.held OPERATOR(pg_catalog.=) p.type_oid
		 WHERE p.depth OPERATOR(pg_catalog.<) 32
	)
	SELECT DISTINCT ON (p.type_oid) p.type_oid, p.category
	  FROM personal p
	 ORDER BY p.type_oid, p.category;
END;

COMMENT ON FUNCTION privacy_internal._personal_types() IS 'Every type holding a value of a personal-data type (the type itself, a domain, array, composite, range or multirange over one), with the category it classifies its columns into';

CREATE VIEW privacy.classified_columns AS
SELECT DISTINCT ON (table_name, column_name)
	   table_name, column_name, category, source, origin
  FROM (
	SELECT cl.table_name, cl.column_name, cl.category, cl.source, 'policy'::text AS origin, 1 AS rank
	  FROM privacy.classifications cl
	UNION ALL
	SELECT l.objoid::pg_catalog.regclass, a.attname, l.label, 'direct', 'label', 2
	  FROM pg_catalog.pg_seclabel l
	  JOIN pg_catalog.pg_attribute a ON a.attrelid OPERATOR(pg_catalog.=) l.objoid
									AND a.attnum OPERATOR(pg_catalog.=) l.objsubid
	 WHERE l.provider OPERATOR(pg_catalog.=) 'privacy'
	   AND l.classoid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass
	   AND l.objsubid OPERATOR(pg_catalog.>) 0
	UNION ALL
	SELECT a.attrelid::pg_catalog.regclass, a.attname, pt.category, 'direct', 'type', 3
	  FROM pg_catalog.pg_attribute a
	  JOIN privacy_internal._personal_types() pt ON pt.type_oid OPERATOR(pg_catalog.=) a.atttypid
	  JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) a.attrelid
	 WHERE a.attnum OPERATOR(pg_catalog.>) 0 AND NOT a.attisdropped
	   AND c.relkind OPERATOR(pg_catalog.=) ANY (ARRAY['r', 'p']::"char"[])
	   AND c.relnamespace OPERATOR(pg_catalog.<>) ALL (ARRAY['pg_catalog'::pg_catalog.regnamespace,
															 'information_schema'::pg_catalog.regnamespace,
															 'privacy'::pg_catalog.regnamespace]::pg_catalog.oid[])
  ) AS all_classifications
 ORDER BY table_name, column_name, rank;

COMMENT ON VIEW privacy.classified_columns IS 'Every column holding personal data: classified by the policy document, a SECURITY LABEL FOR privacy, or its type (a personal-data type, or a domain, array, composite or range holding one)';

GRANT SELECT ON TABLE privacy.classified_columns TO PUBLIC;

CREATE FUNCTION privacy_internal._lint_column_names()
RETURNS TABLE (severity text, object text, problem text, hint text)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT 'notice', pg_catalog.format('%s.%I', privacy_internal._qualified_name(c.oid), a.attname),
		   'column name suggests personal data, but the column is not classified',
		   pg_catalog.format('Classify it: SECURITY LABEL FOR privacy ON COLUMN %s.%I IS ''<category>''; or add it to "classifications".',
							 privacy_internal._qualified_name(c.oid), a.attname)
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

COMMENT ON FUNCTION privacy_internal._lint_column_names() IS 'lint: unclassified columns whose names suggest personal data';

CREATE FUNCTION privacy.discover(sample_rows integer DEFAULT 1000) RETURNS TABLE(table_name regclass, column_name name, suspected_category text, hit_ratio double precision, rows_sampled bigint)
    LANGUAGE c STRICT PARALLEL RESTRICTED
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS 'MODULE_PATHNAME', 'privacy_discover';

COMMENT ON FUNCTION privacy.discover(sample_rows integer) IS 'Samples up to sample_rows rows of every unclassified text column the caller can read and reports the columns whose values look like personal data, with the share of sampled rows that do';

REVOKE ALL ON FUNCTION privacy.discover(sample_rows integer) FROM PUBLIC;

CREATE FUNCTION privacy_internal._lint_discovery()
RETURNS TABLE (severity text, object text, problem text, hint text)
LANGUAGE sql VOLATILE PARALLEL RESTRICTED
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT CASE WHEN d.suspected_category IN ('national_id', 'payment_card')
				THEN 'error' ELSE 'warning' END,
		   pg_catalog.format('%s.%I', privacy_internal._qualified_name(d.table_name), d.column_name),
		   pg_catalog.format('column is not classified, but %s of %s sampled rows hold values that look like "%s"',
							 pg_catalog.round(d.hit_ratio * d.rows_sampled), d.rows_sampled,
							 d.suspected_category),
		   CASE WHEN d.suspected_category IN ('national_id', 'payment_card')
				THEN pg_catalog.format('The policy does not allow this data: remove the values, and keep new ones out with SELECT privacy.guard(%L, ARRAY[%L]);',
									   privacy_internal._qualified_name(d.table_name), d.column_name)
				ELSE pg_catalog.format('Classify it: SECURITY LABEL FOR privacy ON COLUMN %s.%I IS %L; or add it to "classifications" in the policy document.',
									   privacy_internal._qualified_name(d.table_name), d.column_name,
									   d.suspected_category)
		   END
	  FROM privacy.discover(100) d;
END;

COMMENT ON FUNCTION privacy_internal._lint_discovery() IS 'lint: unclassified columns whose sampled values look like personal data (errors for CPR and payment card numbers, which the policy refuses)';

REVOKE ALL ON FUNCTION privacy_internal._lint_discovery() FROM PUBLIC;

CREATE FUNCTION privacy_internal._path_text(hops oid[])
RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT pg_catalog.string_agg(pg_catalog.format('%s(%s) -> %s(%s)',
				privacy_internal._qualified_name(f.from_table), pg_catalog.array_to_string(f.from_columns, ', '),
				privacy_internal._qualified_name(f.to_table), pg_catalog.array_to_string(f.to_columns, ', ')),
				' / ' ORDER BY h.ord)
	  FROM pg_catalog.unnest(hops) WITH ORDINALITY AS h(oid, ord)
	  JOIN privacy.foreign_keys f ON f.constraint_oid = h.oid;
END;

COMMENT ON FUNCTION privacy_internal._path_text(hops oid[]) IS 'A foreign-key path as text: table(columns) -> table(columns) / ...';

CREATE FUNCTION privacy_internal._resolve_path(rel regclass, via name[], anchor regclass, kind text) RETURNS oid[]
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
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

COMMENT ON FUNCTION privacy_internal._resolve_path(rel regclass, via name[], anchor regclass, kind text) IS 'Resolves a pinned foreign-key path to constraint OIDs, checking that it ends at the anchor';

CREATE FUNCTION privacy_internal._subject_paths()
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
			   pg_catalog.string_agg(privacy_internal._path_text(s.hops), ' | ' ORDER BY s.hops) AS candidates
		  FROM shortest s
		 GROUP BY s.kind, s.rel
	)
	SELECT g.kind, g.rel::regclass,
		   CASE WHEN pin.via IS NOT NULL
				THEN privacy_internal._resolve_path(pin.table_name, pin.via, k.table_name, g.kind)
				WHEN g.n = 1 THEN g.hops END,
		   CASE WHEN g.rel = k.table_name THEN 'anchor'
				WHEN pin.via IS NOT NULL THEN 'pinned'
				WHEN g.n = 1 THEN 'ok'
				ELSE 'ambiguous' END,
		   CASE WHEN pin.via IS NOT NULL
				THEN privacy_internal._path_text(privacy_internal._resolve_path(pin.table_name, pin.via, k.table_name, g.kind))
				ELSE g.candidates END
	  FROM grouped g
	  JOIN privacy.subject_kinds k ON k.name = g.kind
	  LEFT JOIN privacy.subject_paths pin ON pin.kind = g.kind AND pin.table_name = g.rel::regclass;
END;

COMMENT ON FUNCTION privacy_internal._subject_paths() IS 'For each subject kind, every table it reaches through foreign keys and the path a per-subject lookup takes';

CREATE FUNCTION privacy_internal._policy_table_entries()
RETURNS TABLE (table_name oid, entry text)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT k.table_name::oid, pg_catalog.format('subject kind %s', pg_catalog.to_jsonb(k))
	  FROM privacy.subject_kinds k
	UNION ALL
	SELECT p.table_name::oid, pg_catalog.format('path %s', pg_catalog.to_jsonb(p))
	  FROM privacy.subject_paths p
	UNION ALL
	SELECT c.table_name::oid, pg_catalog.format('classification %s', pg_catalog.to_jsonb(c))
	  FROM privacy.classifications c
	UNION ALL
	SELECT r.table_name::oid, pg_catalog.format('retention rule %s', pg_catalog.to_jsonb(r))
	  FROM privacy.retention_rules r
	UNION ALL
	SELECT m.table_name::oid, pg_catalog.format('masking rule %s', pg_catalog.to_jsonb(m))
	  FROM privacy.masking_rules m WHERE m.table_name IS NOT NULL;
END;

COMMENT ON FUNCTION privacy_internal._policy_table_entries() IS 'Every subject kind, path, classification and retention rule of the catalog, with the table it names';

REVOKE ALL ON FUNCTION privacy_internal._policy_table_entries() FROM PUBLIC;

CREATE FUNCTION privacy_internal._retention_rule_problem(rule privacy.retention_rules) RETURNS text
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
	rel record;
BEGIN
	SELECT c.relkind, c.relpersistence, n.nspname INTO rel
	  FROM pg_catalog.pg_class c
	  JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace
	 WHERE c.oid OPERATOR(pg_catalog.=) rule.table_name::oid;
	IF NOT FOUND THEN
		RETURN 'its table was dropped';
	ELSIF rel.relpersistence OPERATOR(pg_catalog.=) 't' THEN
		RETURN 'its table is a temporary table';
	ELSIF rel.relkind OPERATOR(pg_catalog.<>) ALL (ARRAY['r', 'p']::"char"[]) THEN
		RETURN 'it names a relation that is not a table';
	ELSIF rel.nspname OPERATOR(pg_catalog.=) ANY (ARRAY['pg_catalog', 'information_schema', 'pg_toast', 'privacy']::name[]) THEN
		RETURN pg_catalog.format('its table is in schema %s, which a policy cannot name', rel.nspname);
	END IF;
	BEGIN
		PERFORM privacy_internal._retention_rule_sql(rule);
	EXCEPTION WHEN undefined_column OR datatype_mismatch THEN
		RETURN SQLERRM;
	END;
	RETURN NULL;
END
$$;

COMMENT ON FUNCTION privacy_internal._retention_rule_problem(rule privacy.retention_rules) IS 'Why a retention rule cannot be enforced on its table as it is now, or NULL if it can';

REVOKE ALL ON FUNCTION privacy_internal._retention_rule_problem(rule privacy.retention_rules) FROM PUBLIC;

CREATE FUNCTION privacy_internal._lint_policy_tables()
RETURNS TABLE (severity text, object text, problem text, hint text)
LANGUAGE sql STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT DISTINCT 'error', privacy_internal._qualified_name(c.oid::regclass),
		   CASE WHEN c.relpersistence OPERATOR(pg_catalog.=) 't'
				THEN 'is a temporary table named by the policy'
				ELSE pg_catalog.format('is in schema %s, which a policy cannot name', n.nspname) END,
		   'Remove its entries from the policy document and apply it again: the retention job skips them, and export must not read them.'
	  FROM privacy_internal._policy_table_entries() e
	  JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) e.table_name
	  JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace
	 WHERE c.relpersistence OPERATOR(pg_catalog.=) 't'
		OR n.nspname OPERATOR(pg_catalog.=) ANY (ARRAY['pg_catalog', 'information_schema', 'pg_toast', 'privacy']::name[])
	UNION ALL
	SELECT 'error', pg_catalog.format('%s(%I)', privacy_internal._qualified_name(k.table_name), k.key_column),
		   pg_catalog.format('key of subject kind "%s" %s', k.name,
							 CASE WHEN NOT a.attnotnull THEN 'allows NULL'
								  ELSE 'is not unique on its own' END),
		   pg_catalog.format('Export and erasure treat every row sharing a key value as one subject: restore the constraint (ALTER TABLE %s ADD UNIQUE (%I), and SET NOT NULL), or declare another key.',
							 privacy_internal._qualified_name(k.table_name), k.key_column)
	  FROM privacy.subject_kinds k
	  JOIN pg_catalog.pg_attribute a ON a.attrelid OPERATOR(pg_catalog.=) k.table_name
									AND a.attname OPERATOR(pg_catalog.=) k.key_column
									AND a.attnum OPERATOR(pg_catalog.>) 0 AND NOT a.attisdropped
	 WHERE NOT a.attnotnull
		OR NOT EXISTS (SELECT FROM pg_catalog.pg_index i
						WHERE i.indrelid OPERATOR(pg_catalog.=) k.table_name
						  AND i.indisunique AND i.indimmediate AND i.indisvalid
						  AND i.indnkeyatts OPERATOR(pg_catalog.=) 1
						  AND i.indkey[0] OPERATOR(pg_catalog.=) a.attnum
						  AND i.indpred IS NULL AND i.indexprs IS NULL)
	UNION ALL
	SELECT 'error', pg_catalog.format('retention rule "%s"', rr.name),
		   pg_catalog.format('is skipped by the retention job: %s', privacy_internal._retention_rule_problem(rr)),
		   'Apply a policy document that matches the schema, or restore the table.'
	  FROM privacy.retention_rules rr
	 WHERE NOT EXISTS (SELECT FROM pg_catalog.pg_class c WHERE c.oid OPERATOR(pg_catalog.=) rr.table_name::oid);
END;

COMMENT ON FUNCTION privacy_internal._lint_policy_tables() IS 'lint: policy entries on temporary or system tables, subject keys that are not NOT NULL and unique on their own, retention rules whose table was dropped';

CREATE VIEW privacy.subject_map AS
WITH paths AS MATERIALIZED (
	SELECT * FROM privacy_internal._subject_paths()
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
				'from_table', privacy_internal._qualified_name(f.from_table),
				'from_columns', pg_catalog.to_jsonb(f.from_columns),
				'to_table', privacy_internal._qualified_name(f.to_table),
				'to_columns', pg_catalog.to_jsonb(f.to_columns),
				'indexed', f.indexed) ORDER BY h.ord)
		  FROM pg_catalog.unnest(p.hops) WITH ORDINALITY AS h(oid, ord)
		  JOIN fks f ON f.constraint_oid = h.oid) AS hops
  FROM paths p
UNION ALL
SELECT NULL, personal.table_name, NULL, 'unreachable', true, NULL, NULL, NULL
  FROM personal
 WHERE NOT EXISTS (SELECT FROM paths WHERE paths.table_name = personal.table_name);

COMMENT ON VIEW privacy.subject_map IS 'Per subject kind and table: the foreign-key path from the table to the subject, whether each hop is indexed, and whether the table holds personal data';

GRANT SELECT ON TABLE privacy.subject_map TO PUBLIC;

CREATE FUNCTION privacy_internal._lint_subject_map()
RETURNS TABLE (severity text, object text, problem text, hint text)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT 'error', privacy_internal._qualified_name(m.table_name),
		   'holds personal data that no subject kind reaches',
		   'Declare a subject kind whose anchor table this table references through foreign keys, or add the missing foreign key; until then export and erasure cannot find its rows.'
	  FROM privacy.subject_map m WHERE m.status = 'unreachable'
	UNION ALL
	SELECT 'error', privacy_internal._qualified_name(m.table_name),
		   pg_catalog.format('reaches subject kind "%s" by more than one shortest path: %s', m.kind, m.path),
		   'Pin one path in the policy document with "paths" under the subject kind.'
	  FROM privacy.subject_map m WHERE m.status = 'ambiguous'
	UNION ALL
	SELECT DISTINCT 'warning',
		   pg_catalog.format('%s(%s)', privacy_internal._qualified_name(f.from_table),
							 pg_catalog.array_to_string(f.from_columns, ', ')),
		   pg_catalog.format('foreign key "%s" on the path to subject kind "%s" has no index',
							 f.constraint_name, p.kind),
		   pg_catalog.format('Per-subject lookups scan the whole table: CREATE INDEX ON %s (%s);',
							 privacy_internal._qualified_name(f.from_table),
							 (SELECT pg_catalog.string_agg(pg_catalog.quote_ident(c), ', ')
								FROM pg_catalog.unnest(f.from_columns) c))
	  FROM privacy_internal._subject_paths() p
	  JOIN privacy.foreign_keys f ON f.constraint_oid = ANY (p.hops)
	 WHERE NOT f.indexed;
END;

COMMENT ON FUNCTION privacy_internal._lint_subject_map() IS 'lint: personal tables no subject kind reaches, ambiguous paths, foreign keys on subject paths without an index';

CREATE FUNCTION privacy_internal._lint_unreached_personal_data()
RETURNS TABLE (severity text, object text, problem text, hint text)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT 'warning',
		   pg_catalog.format('%s(%s)', privacy_internal._qualified_name(c.oid), pg_catalog.quote_ident(a.attname)),
		   pg_catalog.format('%s column of type %s holds personal data that export and erasure do not reach',
							 CASE c.relkind WHEN 'm' THEN 'materialized view' ELSE 'foreign table' END,
							 pg_catalog.format_type(a.atttypid, a.atttypmod)),
		   CASE c.relkind
				WHEN 'm' THEN pg_catalog.format('Refresh it after each erasure (REFRESH MATERIALIZED VIEW %s), or leave the column out of it.',
												privacy_internal._qualified_name(c.oid))
				ELSE 'Erase the subject in the foreign server too, or leave the column out of the foreign table.' END
	  FROM pg_catalog.pg_attribute a
	  JOIN privacy_internal._personal_types() pt ON pt.type_oid OPERATOR(pg_catalog.=) a.atttypid
	  JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) a.attrelid
	 WHERE a.attnum OPERATOR(pg_catalog.>) 0 AND NOT a.attisdropped
	   AND c.relkind OPERATOR(pg_catalog.=) ANY (ARRAY['m', 'f']::"char"[])
	   AND c.relnamespace OPERATOR(pg_catalog.<>) 'privacy'::pg_catalog.regnamespace
	 ORDER BY 2;
END;

COMMENT ON FUNCTION privacy_internal._lint_unreached_personal_data() IS 'lint: columns of materialized views and foreign tables holding personal data, which export and erasure do not reach';

CREATE FUNCTION privacy_internal._policy_version()
RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT pv.version FROM privacy.policy_versions pv ORDER BY pv.id DESC LIMIT 1;
END;

COMMENT ON FUNCTION privacy_internal._policy_version() IS 'The version of the policy document in force';

REVOKE ALL ON FUNCTION privacy_internal._policy_version() FROM PUBLIC;

CREATE FUNCTION privacy_internal._run_lint_checks() RETURNS TABLE(severity text, object text, problem text, hint text)
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
	check_fn regprocedure;
BEGIN
	FOR check_fn IN
		SELECT p.oid::regprocedure
		  FROM pg_catalog.pg_proc p
		 WHERE p.pronamespace = 'privacy_internal'::pg_catalog.regnamespace
		   AND p.proname LIKE '\_lint\_%' AND p.pronargs = 0
		   AND pg_catalog.has_function_privilege(p.oid, 'EXECUTE')
		 ORDER BY p.proname
	LOOP
		RETURN QUERY EXECUTE pg_catalog.format('SELECT * FROM %s', check_fn);
	END LOOP;
END
$$;

COMMENT ON FUNCTION privacy_internal._run_lint_checks() IS 'The findings of every privacy_internal._lint_* check function';

CREATE FUNCTION privacy_internal._write_catalog(doc jsonb, tables jsonb) RETURNS void
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
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
	DELETE FROM privacy.masking_rules;
	DELETE FROM privacy.masked_recipients;
	DELETE FROM privacy.masked_roles;
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

	INSERT INTO privacy.masked_roles (role_name)
	SELECT pg_catalog.jsonb_array_elements_text(doc -> 'masking' -> 'roles');
	INSERT INTO privacy.masked_recipients (recipient)
	SELECT pg_catalog.jsonb_array_elements_text(doc -> 'masking' -> 'recipients');
	INSERT INTO privacy.masking_rules (category, table_name, column_name, method, parameters)
	SELECT r ->> 'category', (tables ->> (r ->> 'table'))::oid::regclass, r ->> 'column', r ->> 'method',
		   r - ARRAY['category', 'table', 'column', 'method']
	  FROM pg_catalog.jsonb_array_elements(doc -> 'masking' -> 'rules') r;
END
$$;

COMMENT ON FUNCTION privacy_internal._write_catalog(doc jsonb, tables jsonb) IS 'Makes the catalog hold exactly what a checked, canonical policy document declares';

REVOKE ALL ON FUNCTION privacy_internal._write_catalog(doc jsonb, tables jsonb) FROM PUBLIC;

CREATE FUNCTION privacy.apply_policy(document text) RETURNS jsonb
    LANGUAGE c STRICT
    AS 'MODULE_PATHNAME', 'privacy_apply_policy';

COMMENT ON FUNCTION privacy.apply_policy(document text) IS 'Loads a policy-as-code JSON document: all or nothing, idempotent; returns what changed';

REVOKE ALL ON FUNCTION privacy.apply_policy(document text) FROM PUBLIC;

CREATE FUNCTION privacy.lint()
RETURNS TABLE (severity text, object text, problem text, hint text)
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT f.severity, f.object, f.problem, f.hint
	  FROM privacy_internal._run_lint_checks() f
	 ORDER BY CASE f.severity WHEN 'error' THEN 1 WHEN 'warning' THEN 2 ELSE 3 END,
			  f.object, f.problem;
END;

COMMENT ON FUNCTION privacy.lint() IS 'Problems in how personal data is declared and protected: (severity, object, problem, hint), most severe first';

CREATE FUNCTION privacy.policy()
RETURNS jsonb
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT privacy_internal._catalog_document(COALESCE(
		(SELECT v.document FROM privacy.policy_versions v ORDER BY v.id DESC LIMIT 1),
		'{"version": null, "effective_date": null, "controller": null}'::jsonb));
END;

COMMENT ON FUNCTION privacy.policy() IS 'The policy in force, as a policy document: privacy.apply_policy(privacy.policy()::text) changes nothing';

-- A string body: it reads the disclosure log of a later area (recipients).
CREATE FUNCTION privacy.processing_record()
RETURNS jsonb
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
	WITH doc AS (SELECT privacy.policy() AS d),
	classified AS MATERIALIZED (
		SELECT cc.*, privacy_internal._qualified_name(cc.table_name) AS qualified
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
				'article', privacy_internal._legal_basis_article(p.legal_basis),
				'allowed_under_restriction', p.allowed_under_restriction) ORDER BY p.name), '[]')
			  FROM privacy.purposes p),
		'categories_of_data_subjects', (
			SELECT COALESCE(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
				'kind', k.name, 'description', k.description,
				'anchor', pg_catalog.format('%s.%I', privacy_internal._qualified_name(k.table_name), k.key_column),
				'tables', (SELECT COALESCE(pg_catalog.jsonb_agg(
								privacy_internal._qualified_name(m.table_name) ORDER BY m.depth, m.table_name), '[]')
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
				'purposes', pg_catalog.to_jsonb(r.purposes), 'description', r.description,
				'disclosures', COALESCE(n.disclosures, 0))) ORDER BY r.name), '[]')
			  FROM privacy.recipients r
			  LEFT JOIN privacy_internal._disclosure_counts() n ON n.recipient = r.name),
		'retention', (
			SELECT COALESCE(pg_catalog.jsonb_agg(pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object(
				'rule', rr.name, 'table', privacy_internal._qualified_name(rr.table_name),
				'categories', (SELECT pg_catalog.jsonb_agg(DISTINCT cc.category) FROM classified cc
								WHERE cc.table_name = rr.table_name
								  AND (rr.action = 'delete' OR cc.column_name = ANY (rr.columns))),
				'period', rr.period, 'counted_from', rr.anchor, 'action', rr.action,
				'legal_basis', rr.legal_basis, 'minimum', rr.minimum,
				'minimum_from', CASE WHEN rr.minimum IS NOT NULL THEN rr.minimum_from END,
				'description', rr.description)) ORDER BY rr.name), '[]')
			  FROM privacy.retention_rules rr),
		'masking', pg_catalog.jsonb_build_object(
			'statement', 'These roles and recipients receive the classified columns only masked, by the methods listed.',
			'roles', doc.d -> 'masking' -> 'roles',
			'recipients', doc.d -> 'masking' -> 'recipients',
			'rules', doc.d -> 'masking' -> 'rules'),
		'tables_without_retention_rule', (
			SELECT COALESCE(pg_catalog.jsonb_agg(DISTINCT cc.qualified), '[]')
			  FROM classified cc
			 WHERE NOT EXISTS (SELECT FROM privacy.retention_rules rr WHERE rr.table_name = cc.table_name)))
	  FROM doc
$$;

COMMENT ON FUNCTION privacy.processing_record() IS 'The record of processing activities (GDPR Art. 30), generated from the catalog, with the number of disclosures to each recipient';

CREATE TRIGGER restore_over_seed BEFORE INSERT ON privacy.categories FOR EACH ROW EXECUTE FUNCTION privacy_internal._restore_over_seed('name');

CREATE TRIGGER restore_over_seed BEFORE INSERT ON privacy.sources FOR EACH ROW EXECUTE FUNCTION privacy_internal._restore_over_seed('name');
