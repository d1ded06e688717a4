/*
 * row_keepers.c
 *		privacy_internal._rows_may_be_kept(rel) → boolean: whether a DELETE or an
 *		UPDATE on rel (or on a table inheriting from it) may leave a row it
 *		meant to change as it was, without an error.
 *
 * A BEFORE ROW trigger on DELETE or UPDATE returning NULL (the usual
 * soft-delete pattern) skips the row, and one on UPDATE can give the row
 * its old values back; a rule on DELETE or UPDATE can do anything instead.
 * Erasure and the retention job check, on the tables where this can
 * happen, that every row they meant to change did change, and fail naming
 * the table otherwise. The extension's own triggers (functions in its
 * schemas, where no other role may create one) raise errors instead of
 * keeping rows and are not counted; a disabled trigger or rule is not
 * either.
 */
#include "postgres.h"

#include "access/table.h"
#include "catalog/pg_inherits.h"
#include "catalog/namespace.h"
#include "catalog/pg_trigger.h"
#include "commands/trigger.h"
#include "fmgr.h"
#include "rewrite/prs2lock.h"
#include "rewrite/rewriteDefine.h"
#include "storage/lockdefs.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"

#include "base/extension_objects.h"

PG_FUNCTION_INFO_V1(privacy_rows_may_be_kept);

/* Whether one relation has such a trigger or rule. */
static bool
relation_may_keep_rows(Relation rel, Oid privacy_namespace, Oid internal_namespace)
{
	if (rel->trigdesc != NULL)
	{
		for (int i = 0; i < rel->trigdesc->numtriggers; i++)
		{
			Trigger    *trigger = &rel->trigdesc->triggers[i];
			Oid			function_namespace;

			if (trigger->tgenabled == TRIGGER_DISABLED ||
				!TRIGGER_FOR_ROW(trigger->tgtype) ||
				!TRIGGER_FOR_BEFORE(trigger->tgtype) ||
				!(TRIGGER_FOR_DELETE(trigger->tgtype) || TRIGGER_FOR_UPDATE(trigger->tgtype)))
				continue;
			function_namespace = get_func_namespace(trigger->tgfoid);
			if (function_namespace == privacy_namespace ||
				function_namespace == internal_namespace)
				continue;
			return true;
		}
	}
	if (rel->rd_rules != NULL)
	{
		for (int i = 0; i < rel->rd_rules->numLocks; i++)
		{
			RewriteRule *rule = rel->rd_rules->rules[i];

			if (rule->enabled != RULE_DISABLED &&
				(rule->event == CMD_DELETE || rule->event == CMD_UPDATE))
				return true;
		}
	}
	return false;
}

Datum
privacy_rows_may_be_kept(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	Oid			privacy_namespace = get_namespace_oid(PRIVACY_SCHEMA, false);
	Oid			internal_namespace = get_namespace_oid(PRIVACY_INTERNAL_SCHEMA, false);
	List	   *rels = find_all_inheritors(relid, AccessShareLock, NULL);
	ListCell   *lc;
	bool		result = false;

	foreach(lc, rels)
	{
		Relation	rel = try_table_open(lfirst_oid(lc), NoLock);

		if (rel == NULL)
			continue;
		result = relation_may_keep_rows(rel, privacy_namespace, internal_namespace);
		table_close(rel, NoLock);
		if (result)
			break;
	}
	PG_RETURN_BOOL(result);
}
