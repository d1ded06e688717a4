/* opendims_privacy--1.7--1.8.sql: security release; what SQL the extension runs on anyone's behalf cannot be redirected by the caller, evidence cannot be forged or silently removed, and hidden or erased subjects stay out of reach. */

\echo Use "ALTER EXTENSION opendims_privacy UPDATE TO '1.8'" to load this file. \quit

-- While this script runs, names resolve in pg_catalog only (pg_temp last).
-- CREATE EXTENSION ... CASCADE puts the schema pgcrypto was created in
-- (public, usually) on the script's search_path; an operator, function or
-- type that another role planted there must never be bound into the
-- extension's objects nor run with the installing superuser's rights.
-- Everything the script creates is qualified with the schema privacy, and
-- CREATE and ALTER EXTENSION restore the caller's search_path afterwards.
SELECT pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', true);

------------------------------------------------------------------------------
-- An install that bound a planted object is refused
------------------------------------------------------------------------------

-- Before 1.8 the scripts resolved names through the install search_path, on
-- which CREATE EXTENSION ... CASCADE puts the schema pgcrypto went to
-- (public, usually). An operator or function that another role had created
-- there could be bound into the extension's functions, views, defaults or
-- policies, and run with the rights of the role installing or updating the
-- extension. Such an install is not updated: the bound objects are not known
-- in advance (they depend on what was planted), recreating a guessed list
-- would leave others in place, and the planted code has already run with
-- those rights, which the database's owner needs to know about. The update
-- stops, names what is bound, and says how to recover: dump and restore,
-- which installs 1.8 afresh, and nothing can be bound from 1.8 on.
--
-- The extension's objects are its members and what belongs to them (a
-- table's indexes, constraints, triggers, policies, defaults and row type;
-- a view's rule); each may depend only on objects made by initdb, on the
-- extension itself, its schema and its other objects.
DO $$
DECLARE
	bound text;
BEGIN
	WITH RECURSIVE ext AS (
		SELECT e.oid FROM pg_catalog.pg_extension e
		 WHERE e.extname OPERATOR(pg_catalog.=) 'opendims_privacy'
	), ours(classid, objid) AS (
		SELECT d.classid, d.objid
		  FROM pg_catalog.pg_depend d, ext
		 WHERE d.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_extension'::pg_catalog.regclass
		   AND d.refobjid OPERATOR(pg_catalog.=) ext.oid
		   AND d.deptype OPERATOR(pg_catalog.=) 'e'
		UNION
		SELECT d.classid, d.objid
		  FROM pg_catalog.pg_depend d
		  JOIN ours o ON d.refclassid OPERATOR(pg_catalog.=) o.classid
					 AND d.refobjid OPERATOR(pg_catalog.=) o.objid
		 WHERE d.deptype OPERATOR(pg_catalog.=) ANY ('{i,a}'::pg_catalog."char"[])
	)
	SELECT pg_catalog.string_agg(DISTINCT pg_catalog.format('%s (used by %s)',
				pg_catalog.pg_describe_object(d.refclassid, d.refobjid, 0),
				pg_catalog.pg_describe_object(d.classid, d.objid, 0)), '; ')
	  INTO bound
	  FROM pg_catalog.pg_depend d
	  JOIN ours o ON d.classid OPERATOR(pg_catalog.=) o.classid
				 AND d.objid OPERATOR(pg_catalog.=) o.objid
	 CROSS JOIN ext
	 WHERE d.refobjid OPERATOR(pg_catalog.>=) 16384::pg_catalog.oid
	   AND NOT (d.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_extension'::pg_catalog.regclass
				AND d.refobjid OPERATOR(pg_catalog.=) ext.oid)
	   AND NOT (d.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_namespace'::pg_catalog.regclass
				AND d.refobjid OPERATOR(pg_catalog.=) 'privacy'::pg_catalog.regnamespace)
	   AND NOT EXISTS (SELECT FROM ours o2
						WHERE o2.classid OPERATOR(pg_catalog.=) d.refclassid
						  AND o2.objid OPERATOR(pg_catalog.=) d.refobjid);
	IF bound IS NOT NULL THEN
		RAISE EXCEPTION 'cannot update extension "opendims_privacy": its objects use objects it did not create'
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  DETAIL = pg_catalog.format('Bound when an earlier version was installed or updated: %s. Whatever these objects run ran with the rights of the role that installed or updated the extension.', bound),
				  HINT = 'Find out who created these objects and what they did. Then dump the database with pg_dump and restore it into a new database: the restore installs the extension afresh, and from version 1.8 on no object outside pg_catalog is bound.';
	END IF;
END
$$;

------------------------------------------------------------------------------
-- Statements generated for the retention job name only pg_catalog's types
-- and operators
------------------------------------------------------------------------------

-- The retention job (privacy.enforce_retention) is a procedure run as the
-- calling role under the caller's search_path, so that the users' triggers
-- run as for any statement of the caller; the statements it builds must
-- therefore not depend on that search_path. The anchor's type is now
-- schema-qualified (it was "date", resolved through the caller's
-- search_path), and a column still to anonymise or truncate is found with
-- OPERATOR(pg_catalog.<>) and pg_catalog.text instead of IS DISTINCT FROM
-- and text, which resolve "=" and the type through it.
CREATE OR REPLACE FUNCTION privacy._retention_rule_sql(rule privacy.retention_rules,
											OUT anchor_type text, OUT todo text, OUT action text)
RETURNS record
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	col name;
	typ pg_catalog.regtype;
	marker text;
	new_value text;
	sets text[] := '{}';
	todos text[] := '{}';
BEGIN
	SELECT a.atttypid::regtype INTO typ
	  FROM pg_catalog.pg_attribute a
	 WHERE a.attrelid = rule.table_name AND a.attname = rule.anchor AND a.attnum > 0 AND NOT a.attisdropped;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'anchor column "%" of retention rule "%" does not exist in table %',
			rule.anchor, rule.name, rule.table_name
			USING ERRCODE = 'undefined_column',
				  HINT = 'Apply a policy document that matches the table.';
	END IF;
	IF typ NOT IN ('date'::pg_catalog.regtype, 'timestamp'::pg_catalog.regtype, 'timestamptz'::pg_catalog.regtype) THEN
		RAISE EXCEPTION 'anchor column "%" of retention rule "%" is of type %, not a date or timestamp',
			rule.anchor, rule.name, typ
			USING ERRCODE = 'datatype_mismatch',
				  HINT = 'An anchor is a column of type date, timestamp or timestamp with time zone.';
	END IF;
	SELECT pg_catalog.format('%I.%I', n.nspname, t.typname) INTO anchor_type
	  FROM pg_catalog.pg_type t
	  JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) t.typnamespace
	 WHERE t.oid OPERATOR(pg_catalog.=) typ;

	IF rule.action = 'delete' THEN
		todo := 'true';
		action := pg_catalog.format('DELETE FROM %s t', privacy._qualified_name(rule.table_name));
		RETURN;
	END IF;

	FOREACH col IN ARRAY rule.columns LOOP
		IF rule.action = 'anonymize' THEN
			marker := privacy._anonymized_value(rule.name, rule.table_name, col);
			IF marker IS NULL THEN
				sets := sets || pg_catalog.format('%I = NULL', col);
				todos := todos || pg_catalog.format('t.%I IS NOT NULL', col);
			ELSE
				sets := sets || pg_catalog.format('%I = %L', col, marker);
				todos := todos || pg_catalog.format('(t.%1$I IS NULL OR t.%1$I::pg_catalog.text OPERATOR(pg_catalog.<>) %2$L)',
													col, marker);
			END IF;
		ELSE
			SELECT a.atttypid::regtype INTO typ
			  FROM pg_catalog.pg_attribute a
			 WHERE a.attrelid = rule.table_name AND a.attname = col AND a.attnum > 0 AND NOT a.attisdropped;
			IF NOT FOUND THEN
				RAISE EXCEPTION 'column "%" of retention rule "%" does not exist in table %', col, rule.name, rule.table_name
					USING ERRCODE = 'undefined_column',
						  HINT = 'Apply a policy document that matches the table.';
			END IF;
			-- IPv4 addresses keep their /24 network, IPv6 addresses their /48.
			IF typ = 'privacy.ip_address'::pg_catalog.regtype THEN
				new_value := pg_catalog.format(
					'privacy.truncate_ip(t.%1$I, CASE WHEN pg_catalog.family(t.%1$I) OPERATOR(pg_catalog.=) 4 THEN 24 ELSE 48 END)', col);
			ELSIF typ = 'inet'::pg_catalog.regtype THEN
				new_value := pg_catalog.format(
					'pg_catalog.network(pg_catalog.set_masklen(t.%1$I, CASE WHEN pg_catalog.family(t.%1$I) OPERATOR(pg_catalog.=) 4 THEN 24 ELSE 48 END))::pg_catalog.inet', col);
			ELSE
				RAISE EXCEPTION 'retention rule "%" cannot truncate column "%" of table %: it is of type %, not an IP address',
					rule.name, col, rule.table_name, typ
					USING ERRCODE = 'datatype_mismatch',
						  HINT = 'truncate_ip applies to columns of type privacy.ip_address or inet; use anonymize for other columns.';
			END IF;
			sets := sets || pg_catalog.format('%I = %s', col, new_value);
			todos := todos || pg_catalog.format('(t.%1$I IS NOT NULL AND t.%1$I::pg_catalog.text OPERATOR(pg_catalog.<>) (%2$s)::pg_catalog.text)',
												col, new_value);
		END IF;
	END LOOP;
	todo := '(' || pg_catalog.array_to_string(todos, ' OR ') || ')';
	action := pg_catalog.format('UPDATE %s t SET %s', privacy._qualified_name(rule.table_name),
								pg_catalog.array_to_string(sets, ', '));
END
$$;
COMMENT ON FUNCTION privacy._retention_rule_sql(privacy.retention_rules) IS
'The SQL that enforces a retention rule: the anchor''s type, the condition for rows still to change, and the statement changing them';
