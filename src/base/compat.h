/*
 * compat.h
 *		The one place for PG_VERSION_NUM guards, so that the rest of the code
 *		reads as if written for a single PostgreSQL major version.
 *
 * Tested with PostgreSQL 15; the guards keep newer majors building.
 */
#ifndef PRIVACY_COMPAT_H
#define PRIVACY_COMPAT_H

#if PG_VERSION_NUM < 150000
#error "opendims_privacy requires PostgreSQL 15 or later"
#endif

#include "utils/guc.h"
#include "utils/guc_tables.h"

/* PostgreSQL 16 moved varatt macros out of postgres.h. */
#if PG_VERSION_NUM >= 160000
#include "varatt.h"
#endif

/* The parameters of ExecutorRun_hook, and the call passing them on. */
#if PG_VERSION_NUM >= 180000
#define PRIVACY_EXECUTOR_RUN_PARAMS \
	QueryDesc *queryDesc, ScanDirection direction, uint64 count
#define PRIVACY_EXECUTOR_RUN_ARGS queryDesc, direction, count
#else
#define PRIVACY_EXECUTOR_RUN_PARAMS \
	QueryDesc *queryDesc, ScanDirection direction, uint64 count, bool execute_once
#define PRIVACY_EXECUTOR_RUN_ARGS queryDesc, direction, count, execute_once
#endif

/* PostgreSQL 17 moved the backend's local transaction id into its vxid. */
#if PG_VERSION_NUM >= 170000
#define PRIVACY_LOCAL_XID() (MyProc->vxid.lxid)
#else
#define PRIVACY_LOCAL_XID() (MyProc->lxid)
#endif

/* PostgreSQL 16 gave stringToQualifiedNameList a soft-error argument. */
#if PG_VERSION_NUM >= 160000
#define privacy_string_to_qualified_name_list(string) \
	stringToQualifiedNameList((string), NULL)
#else
#define privacy_string_to_qualified_name_list(string) \
	stringToQualifiedNameList(string)
#endif

/*
 * A setting's GUC record, or NULL: PostgreSQL 16 exported find_option() and
 * gave get_guc_variables() a count argument.
 */
#if PG_VERSION_NUM >= 160000
#define privacy_find_guc(name) find_option((name), false, true, ERROR)
#else
static inline struct config_generic *
privacy_find_guc(const char *name)
{
	struct config_generic **vars = get_guc_variables();
	int			n = GetNumConfigOptions();
	int			i;

	for (i = 0; i < n; i++)
		if (pg_strcasecmp(vars[i]->name, name) == 0)
			return vars[i];
	return NULL;
}
#endif

#endif							/* PRIVACY_COMPAT_H */
