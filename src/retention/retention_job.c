/*
 * retention_job.c
 *		What the retention job (privacy.enforce_retention(), a PL/pgSQL
 *		procedure) needs from C: refusing to start where it could not
 *		commit its batches, and lowering the CPU priority of the backend
 *		that runs it (the privacy.retention_nice setting), and how long it
 *		waits for the lock on a rule's table before it leaves the rule to
 *		the next run (the privacy.retention_lock_timeout setting).
 */
#include "postgres.h"

#include <errno.h>
#include <limits.h>
#include <sys/resource.h>

#include "access/xact.h"
#include "fmgr.h"
#include "utils/guc.h"

#include "retention/retention.h"

PG_FUNCTION_INFO_V1(privacy_retention_require_own_transactions);
PG_FUNCTION_INFO_V1(privacy_retention_lower_priority);
PG_FUNCTION_INFO_V1(privacy_retention_lock_timeout);

/* The highest nice value: the lowest CPU priority. */
#define NICE_LOWEST_PRIORITY 19

static int	retention_nice = 10;

/* Milliseconds; read by the job's SQL with current_setting(). */
static int	retention_lock_timeout = 5000;

void
RetentionInit(void)
{
	DefineCustomIntVariable("privacy.retention_nice",
							"CPU priority (nice value) the backend running the retention job gives itself.",
							"0 leaves the priority alone. A process can lower its own priority "
							"but not raise it again, so the backend keeps it until it exits.",
							&retention_nice,
							10, 0, NICE_LOWEST_PRIORITY,
							PGC_SUSET, 0,
							NULL, NULL, NULL);
	DefineCustomIntVariable("privacy.retention_lock_timeout",
							"Longest wait of the retention job for the lock on a rule's table before it skips the rule until the next run.",
							"A session that keeps the table (or a table referencing it) locked "
							"cannot stall the job: the run records the rule as locked and goes on "
							"with the other rules.",
							&retention_lock_timeout,
							5000, 1, INT_MAX,
							PGC_USERSET, GUC_UNIT_MS,
							NULL, NULL, NULL);
}

/*
 * privacy_internal._retention_require_own_transactions(): an error inside a
 * transaction block, where the job could not commit after each batch.
 */
Datum
privacy_retention_require_own_transactions(PG_FUNCTION_ARGS)
{
	if (IsTransactionBlock())
		ereport(ERROR,
				(errcode(ERRCODE_ACTIVE_SQL_TRANSACTION),
				 errmsg("privacy.enforce_retention() cannot run inside a transaction block"),
				 errdetail("The retention job commits after each batch."),
				 errhint("CALL it on its own, outside BEGIN and COMMIT.")));
	PG_RETURN_VOID();
}

/*
 * privacy_internal._retention_lower_priority() → integer: lowers this backend's CPU
 * priority to privacy.retention_nice (never raises it) and returns the nice
 * value it runs at. The job is a long stream of CPU-bound batches; at a
 * lower priority it takes the CPU only when the sessions beside it do not
 * need it. Failing to change the priority is a warning, not an error.
 */
Datum
privacy_retention_lower_priority(PG_FUNCTION_ARGS)
{
	int			current;

	errno = 0;
	current = getpriority(PRIO_PROCESS, 0);
	if (current == -1 && errno != 0)
	{
		ereport(WARNING,
				(errmsg("could not read the CPU priority of this backend: %m")));
		PG_RETURN_NULL();
	}
	if (retention_nice > current)
	{
		if (setpriority(PRIO_PROCESS, 0, retention_nice) != 0)
			ereport(WARNING,
					(errmsg("could not lower the CPU priority of this backend to %d: %m",
							retention_nice)));
		else
			current = retention_nice;
	}
	PG_RETURN_INT32(current);
}

/*
 * privacy_internal._retention_lock_timeout() → integer: privacy.retention_lock_timeout
 * in milliseconds, for the job's SQL to set lock_timeout from (calling it
 * loads the library, so the setting is defined whenever the job reads it).
 */
Datum
privacy_retention_lock_timeout(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32(retention_lock_timeout);
}
