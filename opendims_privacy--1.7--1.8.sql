/* opendims_privacy--1.7--1.8.sql: security release; what SQL the extension runs on anyone's behalf cannot be redirected by the caller, evidence cannot be forged or silently removed, and hidden or erased subjects stay out of reach. */

\echo Use "ALTER EXTENSION opendims_privacy UPDATE TO '1.8'" to load this file. \quit

------------------------------------------------------------------------------
-- Evidence: internal functions, erasure receipts, the ledger state and
-- installed protection.
------------------------------------------------------------------------------

-- Internal functions are executable by the extension's owner only, except
-- those that ordinary roles reach as themselves:
--   row security on protected tables: _may_process, _may_write;
--   CREATE TRIGGER by whoever calls privacy.guard() (or restores a guarded
--     table): _guard_trigger, which cannot be called other than as a trigger;
--   the read-only entry points granted to PUBLIC, which run as the caller:
--     lint() (_run_lint_checks and the _lint_* checks), the subject_map view
--     (_subject_paths, _path_text, _resolve_path, _qualified_name), policy()
--     (_catalog_document) and processing_record() (_legal_basis_article,
--     _subject_rights). These read only what PUBLIC may read and write
--     nothing.
-- Everything else, among it every function that writes, is revoked here;
-- the regression test internal_privileges lists what stays.
REVOKE ALL ON FUNCTION privacy._audit_entry_hash(bytea, bigint, timestamptz, name, name, text, text, bigint, jsonb),
	privacy._audit_log_is_append_only(),
	privacy._document_changes(jsonb, jsonb),
	privacy._subject_path(text, regclass),
	privacy._subject_key_sql(text, regclass, text),
	privacy._subject_rows_sql(text, regclass),
	privacy._join_condition(privacy.foreign_keys, text, text),
	privacy._delete_unreferenced_sql(regclass),
	privacy._anonymized_value_sql(regclass, name, text),
	privacy._forget_subject_plans_on_policy()
	FROM PUBLIC;

-- The rectification trigger writes its audit entry itself, as the owner of
-- the log. Only the trigger manager can call a trigger function, and only
-- roles that may execute this one (the extension's owner, through
-- privacy.protect()) can create a trigger on it; the function checks too
-- that the trigger is the one protect() installs, on a table it protects.
-- privacy._record_rectification(), which any role could call from a trigger
-- of its own, is gone.
DROP FUNCTION privacy._record_rectification(regclass, text, text, text[]);

CREATE OR REPLACE FUNCTION privacy._audit_rectification()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	kinds text[];
	changed text[];
	subject text;
	i integer;
BEGIN
	SELECT pt.kinds INTO kinds
	  FROM privacy.protected_tables pt
	  JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) pt.table_name
	 WHERE pt.table_name OPERATOR(pg_catalog.=) TG_RELID
	   AND c.relpersistence OPERATOR(pg_catalog.<>) 't';
	IF kinds IS NULL
	   OR TG_NAME OPERATOR(pg_catalog.<>) 'privacy_rectification'
	   OR TG_WHEN OPERATOR(pg_catalog.<>) 'AFTER' OR TG_LEVEL OPERATOR(pg_catalog.<>) 'ROW'
	   OR TG_OP OPERATOR(pg_catalog.<>) 'UPDATE' THEN
		RAISE EXCEPTION 'privacy._audit_rectification() may only run as the rectification trigger of a protected table'
			USING ERRCODE = 'insufficient_privilege',
				  HINT = 'privacy.protect() installs this trigger.';
	END IF;
	SELECT pg_catalog.array_agg(n.key ORDER BY n.key) INTO changed
	  FROM pg_catalog.jsonb_each(pg_catalog.to_jsonb(NEW)) n
	 WHERE n.value IS DISTINCT FROM (pg_catalog.to_jsonb(OLD) OPERATOR(pg_catalog.->) n.key);
	IF changed IS NULL THEN
		RETURN NULL;
	END IF;
	FOR i IN 0 .. TG_NARGS / 2 - 1 LOOP
		IF NOT TG_ARGV[2 * i] OPERATOR(pg_catalog.=) ANY (kinds) THEN
			RAISE EXCEPTION 'privacy._audit_rectification() may only run as the rectification trigger of a protected table'
				USING ERRCODE = 'insufficient_privilege',
					  DETAIL = 'The trigger names a subject kind the table is not protected for.',
					  HINT = 'privacy.protect() installs this trigger.';
		END IF;
		EXECUTE pg_catalog.format('SELECT (%s)::text FROM (SELECT ($1).*) AS %I', TG_ARGV[2 * i + 1], TG_TABLE_NAME)
		   INTO subject USING NEW;
		PERFORM privacy._audit(privacy._acting_role(), 'rectification', TG_ARGV[2 * i], subject, NULL,
							   pg_catalog.jsonb_build_object('table', privacy._qualified_name(TG_RELID),
															 'columns', pg_catalog.to_jsonb(changed)));
	END LOOP;
	RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION privacy._audit_rectification() FROM PUBLIC;
