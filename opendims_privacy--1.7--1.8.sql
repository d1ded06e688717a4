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
COMMENT ON FUNCTION privacy._audit_rectification() IS
'Trigger installed by privacy.protect(): records each rectification in the audit log, naming the changed columns but not their values; refuses to run as any other trigger';

-- Erasure receipts are evidence: like the audit log, they are append-only.
-- (Only a superuser acting as a replica gets past these triggers;
-- privacy.verify_audit_log() detects what such a session removes.)
CREATE FUNCTION privacy._erasures_are_append_only()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	RAISE EXCEPTION 'privacy.erasures is append-only'
		USING ERRCODE = 'insufficient_privilege',
			  DETAIL = pg_catalog.format('%s is not allowed on erasure receipts.', TG_OP),
			  HINT = 'Receipts are added by privacy.erase_subject(); privacy.verify_audit_log() detects a receipt removed or changed by other means.';
END
$$;
REVOKE ALL ON FUNCTION privacy._erasures_are_append_only() FROM PUBLIC;
COMMENT ON FUNCTION privacy._erasures_are_append_only() IS
'Trigger: refuses UPDATE, DELETE and TRUNCATE on the erasure receipts';
CREATE TRIGGER append_only BEFORE UPDATE OR DELETE ON privacy.erasures
	FOR EACH ROW EXECUTE FUNCTION privacy._erasures_are_append_only();
CREATE TRIGGER append_only_truncate BEFORE TRUNCATE ON privacy.erasures
	FOR EACH STATEMENT EXECUTE FUNCTION privacy._erasures_are_append_only();

-- Evidence that the hash chain does not cover, checked against what does:
-- each erasure entry of the audit log must have its receipt (the entry's
-- summary is part of the receipt; an entry carrying receipt_sha256 must
-- match the receipt's digest), each receipt newer than the oldest entry
-- kept must have its entry, and the ledger state the row check reads must
-- be what the append-only ledger says. One row per difference.
CREATE FUNCTION privacy.verify_evidence()
RETURNS TABLE (evidence text, id bigint, problem text)
LANGUAGE plpgsql STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	oldest_kept timestamptz;
BEGIN
	RETURN QUERY
		SELECT 'erasure entry', a.id,
			   'the audit log records an erasure whose receipt is missing from privacy.erasures or was changed'
		  FROM privacy.audit_log a
		 WHERE a.action OPERATOR(pg_catalog.=) 'erasure'
		   AND a.summary OPERATOR(pg_catalog.?) 'erased_at'
		   AND NOT EXISTS (
				SELECT FROM privacy.erasures e
				 WHERE e.subject_ref OPERATOR(pg_catalog.=) a.subject_ref
				   AND e.receipt OPERATOR(pg_catalog.@>) (a.summary OPERATOR(pg_catalog.-) 'receipt_sha256'::text)
				   AND (NOT a.summary OPERATOR(pg_catalog.?) 'receipt_sha256'
						OR pg_catalog.encode(pg_catalog.sha256(pg_catalog.convert_to(e.receipt::text, 'UTF8')), 'hex')
						   OPERATOR(pg_catalog.=) (a.summary OPERATOR(pg_catalog.->>) 'receipt_sha256')))
		 ORDER BY a.id;

	-- Receipts older than the oldest entry kept may have lost their entry
	-- to privacy.prune_audit_log().
	SELECT pg_catalog.min(a.logged_at) INTO oldest_kept FROM privacy.audit_log a;
	RETURN QUERY
		SELECT 'erasure receipt', e.id,
			   'an erasure receipt has no erasure entry in the audit log: it was added or changed by other means'
		  FROM privacy.erasures e
		 WHERE (e.erased_at OPERATOR(pg_catalog.>=) oldest_kept
				OR NOT EXISTS (SELECT FROM privacy._audit_head h WHERE h.pruned_through_id IS NOT NULL))
		   AND NOT EXISTS (
				SELECT FROM privacy.audit_log a
				 WHERE a.action OPERATOR(pg_catalog.=) 'erasure'
				   AND a.subject_ref OPERATOR(pg_catalog.=) e.subject_ref
				   AND e.receipt OPERATOR(pg_catalog.@>) (a.summary OPERATOR(pg_catalog.-) 'receipt_sha256'::text))
		 ORDER BY e.id;

	RETURN QUERY
		SELECT 'ledger state', COALESCE(cs.event_id, s.event_id),
			   pg_catalog.format('subject kind "%s", purpose "%s": the ledger says %s, privacy._ledger_state says %s',
								 COALESCE(cs.kind, s.kind),
								 CASE WHEN COALESCE(cs.purpose, s.purpose) OPERATOR(pg_catalog.=) ''
									  THEN '(restriction)' ELSE COALESCE(cs.purpose, s.purpose) END,
								 COALESCE(cs.status || ' (event ' || cs.event_id || ')', 'nothing in force'),
								 COALESCE(s.status || ' (event ' || s.event_id || ')', 'nothing in force'))
		  FROM privacy.consent_state cs
		  FULL JOIN privacy._ledger_state s
			ON s.kind OPERATOR(pg_catalog.=) cs.kind AND s.purpose OPERATOR(pg_catalog.=) cs.purpose
		   AND s.subject OPERATOR(pg_catalog.=) cs.subject
		 WHERE cs.kind IS NULL OR s.kind IS NULL
			OR s.status OPERATOR(pg_catalog.<>) cs.status OR s.event_id OPERATOR(pg_catalog.<>) cs.event_id
		 ORDER BY 2;
END
$$;
REVOKE ALL ON FUNCTION privacy.verify_evidence() FROM PUBLIC;
COMMENT ON FUNCTION privacy.verify_evidence() IS
'Every difference between the audit log and the erasure receipts, and between the consent ledger and the ledger state the row check reads';

-- verify_audit_log() keeps its result and reports, after an intact chain,
-- the first difference privacy.verify_evidence() finds.
CREATE OR REPLACE FUNCTION privacy.verify_audit_log(
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
	finding record;
	findings bigint;
BEGIN
	SELECT * INTO head FROM privacy._audit_head;
	prev := COALESCE(head.pruned_through_hash,
					 pg_catalog.sha256(pg_catalog.convert_to('opendims_privacy audit log', 'UTF8')));
	last_id := head.pruned_through_id;
	intact := true;
	entries := 0;
	FOR e IN SELECT * FROM privacy.audit_log ORDER BY id LOOP
		entries := entries + 1;
		IF e.prev_hash OPERATOR(pg_catalog.<>) prev THEN
			intact := false; first_broken_id := e.id;
			problem := 'the entry does not chain to the one before it: an entry was removed or changed';
			RETURN;
		END IF;
		IF e.hash OPERATOR(pg_catalog.<>) privacy._audit_entry_hash(e.prev_hash, e.id, e.logged_at, e.actor,
											   e.session_role, e.action, e.subject_ref,
											   e.request_id, e.summary) THEN
			intact := false; first_broken_id := e.id;
			problem := 'the entry''s contents do not match its hash: it was changed';
			RETURN;
		END IF;
		prev := e.hash;
		last_id := e.id;
	END LOOP;
	IF head.last_hash OPERATOR(pg_catalog.<>) prev OR head.last_id IS DISTINCT FROM last_id THEN
		intact := false; first_broken_id := head.last_id;
		problem := 'the newest entries are missing: the log was truncated';
		RETURN;
	END IF;
	findings := 0;
	FOR finding IN SELECT * FROM privacy.verify_evidence() LOOP
		findings := findings + 1;
		IF findings OPERATOR(pg_catalog.=) 1 THEN
			intact := false;
			first_broken_id := CASE WHEN finding.evidence OPERATOR(pg_catalog.=) 'erasure entry' THEN finding.id END;
			problem := CASE WHEN finding.evidence OPERATOR(pg_catalog.=) 'ledger state'
							THEN 'ledger state: ' || finding.problem
							ELSE pg_catalog.format('%s %s: %s', finding.evidence, finding.id, finding.problem) END;
		END IF;
	END LOOP;
	IF findings OPERATOR(pg_catalog.>) 1 THEN
		problem := pg_catalog.format('%s; %s more: privacy.verify_evidence() lists every difference',
									 problem, findings - 1);
	END IF;
END
$$;
COMMENT ON FUNCTION privacy.verify_audit_log() IS
'Recomputes the audit log''s hash chain (from the last pruning, if any) and reports the first broken link; with the chain intact, the first difference privacy.verify_evidence() finds';

-- Whether a row policy expression as pg_policy stores it is what CREATE
-- POLICY makes of an expression now (compared as pg_get_expr() shows both,
-- so spelling, a dump and restore, or a renamed column make no difference).
CREATE FUNCTION privacy._same_policy_expression(rel regclass, installed pg_catalog.pg_node_tree, expression text)
RETURNS boolean
AS 'MODULE_PATHNAME', 'privacy_same_policy_expression'
LANGUAGE C STABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp;
REVOKE ALL ON FUNCTION privacy._same_policy_expression(regclass, pg_catalog.pg_node_tree, text) FROM PUBLIC;
COMMENT ON FUNCTION privacy._same_policy_expression(regclass, pg_catalog.pg_node_tree, text) IS
'Whether an installed row policy expression (pg_policy.polqual or polwithcheck) is what CREATE POLICY makes of the given expression';

-- lint: protection installed by protect(), guard() and
-- install_retention_triggers() that a table owner weakened since: a row
-- policy rewritten (ALTER POLICY), made permissive, narrowed to some roles
-- or commands; a rectification, guard or retention trigger disabled or
-- dropped. (Row security switched off or the policy dropped:
-- privacy._lint_protection(); a missing or outdated retention trigger:
-- privacy._lint_retention_enforcement().)
CREATE FUNCTION privacy._lint_installed_protection()
RETURNS TABLE (severity text, object text, problem text, hint text)
LANGUAGE plpgsql STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	pt privacy.protected_tables;
	pol pg_catalog.pg_policy;
	qname text;
	same_using boolean;
	same_check boolean;
	tg record;
BEGIN
	FOR pt IN SELECT p.* FROM privacy.protected_tables p
				JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) p.table_name
			   ORDER BY p.table_name::text LOOP
		qname := privacy._qualified_name(pt.table_name);
		severity := 'error';
		object := qname;
		hint := pg_catalog.format('Restore it: SELECT privacy.unprotect(%1$L); SELECT privacy.protect(%1$L);', qname);
		SELECT * INTO pol FROM pg_catalog.pg_policy p
		 WHERE p.polrelid OPERATOR(pg_catalog.=) pt.table_name AND p.polname OPERATOR(pg_catalog.=) 'privacy_purpose';
		IF FOUND THEN
			IF pol.polpermissive THEN
				problem := 'policy "privacy_purpose" was made permissive: other policies can now show rows it hides';
				RETURN NEXT;
			END IF;
			IF pol.polcmd OPERATOR(pg_catalog.<>) '*' THEN
				problem := 'policy "privacy_purpose" no longer applies to every command';
				RETURN NEXT;
			END IF;
			IF pol.polroles OPERATOR(pg_catalog.<>) '{0}'::pg_catalog.oid[] THEN
				problem := 'policy "privacy_purpose" no longer applies to every role';
				RETURN NEXT;
			END IF;
			BEGIN
				same_using := privacy._same_policy_expression(pt.table_name, pol.polqual,
					privacy._protection_expr(pt.table_name, pt.kinds, 'privacy._may_process'));
				same_check := privacy._same_policy_expression(pt.table_name, pol.polwithcheck,
					privacy._protection_expr(pt.table_name, pt.kinds, 'privacy._may_write'));
			EXCEPTION WHEN OTHERS THEN
				RETURN QUERY SELECT 'warning'::text, qname,
					'policy "privacy_purpose" cannot be compared with what privacy.protect() installs: ' || SQLERRM,
					'Repair the subject map (see privacy.subject_map), then restore the protection: '
					|| pg_catalog.format('SELECT privacy.unprotect(%1$L); SELECT privacy.protect(%1$L);', qname);
				same_using := true;
				same_check := true;
			END;
			IF NOT COALESCE(same_using, false) THEN
				problem := pg_catalog.format('policy "privacy_purpose" was changed: it shows the rows where %s',
											 COALESCE(pg_catalog.pg_get_expr(pol.polqual, pol.polrelid), 'true'));
				RETURN NEXT;
			END IF;
			IF NOT COALESCE(same_check, false) THEN
				problem := pg_catalog.format('policy "privacy_purpose" was changed: it accepts the rows written where %s',
											 COALESCE(pg_catalog.pg_get_expr(pol.polwithcheck, pol.polrelid),
													  pg_catalog.pg_get_expr(pol.polqual, pol.polrelid), 'true'));
				RETURN NEXT;
			END IF;
		END IF;
		SELECT t.tgenabled INTO tg FROM pg_catalog.pg_trigger t
		 WHERE t.tgrelid OPERATOR(pg_catalog.=) pt.table_name
		   AND t.tgname OPERATOR(pg_catalog.=) 'privacy_rectification'
		   AND t.tgfoid OPERATOR(pg_catalog.=) 'privacy._audit_rectification()'::pg_catalog.regprocedure;
		IF NOT FOUND THEN
			problem := 'trigger "privacy_rectification" was dropped: rectifications are no longer audited';
			RETURN NEXT;
		ELSIF tg.tgenabled OPERATOR(pg_catalog.=) ANY ('{D,R}'::"char"[]) THEN
			problem := 'trigger "privacy_rectification" is disabled: rectifications are not audited';
			hint := pg_catalog.format('ALTER TABLE %s ENABLE TRIGGER privacy_rectification;', qname);
			RETURN NEXT;
		END IF;
	END LOOP;

	RETURN QUERY
		SELECT 'error', privacy._qualified_name(t.tgrelid),
			   pg_catalog.format('trigger "%s" is disabled: %s', t.tgname,
								 CASE WHEN t.tgfoid OPERATOR(pg_catalog.=) 'privacy._guard_trigger()'::pg_catalog.regprocedure
									  THEN 'the sensitive-data guard lets CPR and card numbers in'
									  ELSE 'the retention guard no longer keeps rows under their legal minimum' END),
			   pg_catalog.format('ALTER TABLE %s ENABLE TRIGGER %I;', privacy._qualified_name(t.tgrelid), t.tgname)
		  FROM pg_catalog.pg_trigger t
		 WHERE t.tgfoid OPERATOR(pg_catalog.=) ANY (ARRAY['privacy._guard_trigger()'::pg_catalog.regprocedure,
														  'privacy._retention_guard()'::pg_catalog.regprocedure]::pg_catalog.oid[])
		   AND t.tgparentid OPERATOR(pg_catalog.=) 0
		   AND t.tgenabled OPERATOR(pg_catalog.=) ANY ('{D,R}'::"char"[])
		 ORDER BY 2, t.tgname;
END
$$;
REVOKE ALL ON FUNCTION privacy._lint_installed_protection() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION privacy._lint_installed_protection() TO PUBLIC;
COMMENT ON FUNCTION privacy._lint_installed_protection() IS
'lint: row policies, rectification, guard and retention triggers that a table owner changed, disabled or dropped since the extension installed them';
