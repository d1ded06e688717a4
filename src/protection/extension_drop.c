/*
 * extension_drop.c
 *		DROP EXTENSION opendims_privacy CASCADE gives protected tables back
 *		as they were before privacy.protect().
 *
 * CASCADE drops the row policies and triggers that call the extension's
 * functions, but not what protect() put on a table that calls none: the
 * permissive policy privacy_rows and the table's row-security flags. An
 * event trigger at ddl_command_start of DROP EXTENSION, while the
 * extension's catalog still exists, runs
 * privacy_internal._release_protected_tables() when the statement drops
 * this extension with CASCADE. Without CASCADE, PostgreSQL refuses the drop
 * itself, naming the policies and triggers that depend on the extension.
 * Only the statement's parse tree says which extensions it drops, which is
 * why the trigger function is in C.
 */
#include "postgres.h"

#include "commands/event_trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "nodes/parsenodes.h"

PG_FUNCTION_INFO_V1(privacy_release_tables_on_drop);

/* Whether a DROP EXTENSION statement drops opendims_privacy with CASCADE. */
static bool
drops_this_extension(Node *parsetree)
{
	DropStmt   *stmt = (DropStmt *) parsetree;
	ListCell   *lc;

	if (parsetree == NULL || !IsA(parsetree, DropStmt) ||
		stmt->removeType != OBJECT_EXTENSION || stmt->behavior != DROP_CASCADE)
		return false;
	foreach(lc, stmt->objects)
	{
		if (strcmp(strVal(lfirst(lc)), "opendims_privacy") == 0)
			return true;
	}
	return false;
}

Datum
privacy_release_tables_on_drop(PG_FUNCTION_ARGS)
{
	EventTriggerData *trigdata;

	if (!CALLED_AS_EVENT_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("function \"%s\" was not called by the event trigger manager",
						"privacy_internal._release_tables_on_drop")));
	trigdata = (EventTriggerData *) fcinfo->context;
	if (!drops_this_extension(trigdata->parsetree))
		PG_RETURN_VOID();

	/*
	 * Only for a role that may drop the extension: anyone else's DROP
	 * EXTENSION then fails with PostgreSQL's own error, and nothing changed.
	 */
	SPI_connect();
	if (SPI_execute("SELECT FROM pg_catalog.pg_extension e"
					" WHERE e.extname OPERATOR(pg_catalog.=) 'opendims_privacy'"
					" AND pg_catalog.pg_has_role(e.extowner, 'USAGE')", true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read the owner of extension \"opendims_privacy\"");
	if (SPI_processed == 1 &&
		SPI_execute("SELECT privacy_internal._release_protected_tables()", false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not release the protected tables");
	SPI_finish();
	PG_RETURN_VOID();
}
