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

#endif							/* PRIVACY_COMPAT_H */
