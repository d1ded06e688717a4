/*
 * restore.c
 *		Telling a restore's load of a table from the extension's own writes.
 *
 * pg_restore, serial or parallel, and psql running a plain dump load each
 * table with one COPY ... FROM statement (with INSERT statements for a dump
 * made with --inserts), sent by the client as it stands. The extension
 * writes its own tables from inside its functions, never as the client's
 * statement. A trigger on one of the extension's tables that derives
 * something from a row (guard triggers installed for a new policy version)
 * asks privacy_loading_table() first: while the table is loaded from a
 * dump, what it would derive is itself in the dump, restored as it was.
 *
 * Only a role that may write the table can load it, and no ordinary role
 * may write the extension's tables; the test says nothing about tables
 * other roles write, and no trigger on a user's table relies on it.
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "nodes/parsenodes.h"
#include "nodes/plannodes.h"
#include "parser/parsetree.h"
#include "utils/builtins.h"
#include "tcop/pquery.h"

#include "base/restore.h"

PG_FUNCTION_INFO_V1(privacy_loading_table_sql);

bool
privacy_loading_table(Oid relid)
{
	Portal		portal = ActivePortal;
	PlannedStmt *stmt;

	/*
	 * The client's statement runs in the active portal; a function's own
	 * statements run without one (SPI), or in portals of their own whose
	 * command is never a COPY.
	 */
	if (portal == NULL || list_length(portal->stmts) != 1)
		return false;
	stmt = linitial_node(PlannedStmt, portal->stmts);

	if (stmt->commandType == CMD_UTILITY)
	{
		CopyStmt   *copy = (CopyStmt *) stmt->utilityStmt;

		if (copy == NULL || !IsA(copy, CopyStmt) || !copy->is_from || copy->relation == NULL)
			return false;
		return RangeVarGetRelid(copy->relation, NoLock, true) == relid;
	}
	if (stmt->commandType == CMD_INSERT && list_length(stmt->resultRelations) == 1)
		return rt_fetch(linitial_int(stmt->resultRelations), stmt->rtable)->relid == relid;
	return false;
}

/* privacy_internal._loading_table(rel): privacy_loading_table() for SQL. */
Datum
privacy_loading_table_sql(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(privacy_loading_table(PG_GETARG_OID(0)));
}
