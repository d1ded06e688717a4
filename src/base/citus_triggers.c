/*
 * citus_triggers.c
 *		The extension's own triggers on tables Citus distributes: the
 *		retention guard and the sensitive-data guard are created there
 *		without the user setting citus.enable_unsafe_triggers.
 *
 * Citus refuses CREATE TRIGGER on a distributed or reference table unless
 * citus.enable_unsafe_triggers is on: a trigger then runs on the worker
 * nodes, on each shard, inside the shard's part of the transaction, where
 * a trigger function that reads or writes other tables can miss the rows
 * of other shards or deadlock with the coordinator. The two trigger
 * functions let through here do neither: privacy_internal._retention_guard()
 * decides from the row it is given and its own arguments (for TRUNCATE it
 * reads the table it fires on, which on a worker is the shard itself), and
 * privacy_internal._guard_trigger() from the row and its arguments. The
 * retention guard and the guard in reject mode only let the change pass or
 * raise an error; the guard in redact mode rewrites the row it is given
 * and writes an audit log entry, which a worker hands to the coordinator's
 * log (audit_forward.c): every copy of a reference table's row gets the
 * same redaction, and the coordinator's copy the one entry. On a shard they
 * do exactly what they do on a local table. A utility hook on the
 * coordinator turns the setting on for the one CREATE TRIGGER statement
 * that names such a function, and for a DROP TRIGGER of the names the
 * extension gives its triggers, and restores it afterwards; the user's own
 * triggers still need the setting.
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "nodes/parsenodes.h"
#include "tcop/utility.h"
#include "utils/guc.h"

#include "base/citus.h"

static ProcessUtility_hook_type prev_process_utility = NULL;

/* Whether a CREATE TRIGGER runs one of the trigger functions described above. */
static bool
is_shard_safe_trigger(CreateTrigStmt *stmt)
{
	char	   *schema;
	char	   *name;

	DeconstructQualifiedName(stmt->funcname, &schema, &name);
	if (schema == NULL || strcmp(schema, "privacy_internal") != 0)
		return false;
	if (strcmp(name, "_retention_guard") == 0)
		return true;
	return strcmp(name, "_guard_trigger") == 0;
}

/* Whether a DROP TRIGGER drops only triggers of the names the extension gives them. */
static bool
is_own_trigger_drop(DropStmt *stmt)
{
	ListCell   *lc;

	if (stmt->removeType != OBJECT_TRIGGER)
		return false;
	foreach(lc, stmt->objects)
	{
		const char *name = strVal(llast((List *) lfirst(lc)));

		if (strcmp(name, "privacy_retention_guard") != 0 &&
			strcmp(name, "privacy_retention_guard_truncate") != 0 &&
			strcmp(name, "privacy_guard") != 0)
			return false;
	}
	return true;
}

static void
citus_triggers_process_utility(PlannedStmt *pstmt, const char *queryString, bool readOnlyTree,
							   ProcessUtilityContext context, ParamListInfo params,
							   QueryEnvironment *queryEnv, DestReceiver *dest, QueryCompletion *qc)
{
	Node	   *stmt = pstmt->utilityStmt;
	int			nestlevel = -1;

	if (((IsA(stmt, CreateTrigStmt) && is_shard_safe_trigger((CreateTrigStmt *) stmt)) ||
		 (IsA(stmt, DropStmt) && is_own_trigger_drop((DropStmt *) stmt))) &&
		privacy_citus_installed())
	{
		nestlevel = NewGUCNestLevel();
		(void) set_config_option("citus.enable_unsafe_triggers", "on", PGC_USERSET, PGC_S_SESSION,
								 GUC_ACTION_SAVE, true, 0, false);
	}
	if (prev_process_utility)
		prev_process_utility(pstmt, queryString, readOnlyTree, context, params, queryEnv, dest, qc);
	else
		standard_ProcessUtility(pstmt, queryString, readOnlyTree, context, params, queryEnv, dest, qc);
	if (nestlevel >= 0)
		AtEOXact_GUC(true, nestlevel);
}

void
CitusTriggersInit(void)
{
	prev_process_utility = ProcessUtility_hook;
	ProcessUtility_hook = citus_triggers_process_utility;
}
