/*
 * retention_job.c
 *		What the retention job (privacy.enforce_retention(), a PL/pgSQL
 *		procedure) needs from C: refusing to start where it could not
 *		commit its batches.
 */
#include "postgres.h"

#include "access/xact.h"
#include "fmgr.h"

PG_FUNCTION_INFO_V1(privacy_retention_require_own_transactions);

/*
 * privacy._retention_require_own_transactions(): an error inside a
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
