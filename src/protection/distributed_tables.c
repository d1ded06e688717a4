/*
 * distributed_tables.c
 *		Protection and Citus: protect() refuses a table Citus distributes,
 *		and the purpose policy stays restrictive on the shards of a table
 *		protected before it was distributed.
 *
 * Citus checks a distributed table's row policies on the workers, which
 * hold neither the purpose grants, nor the consent ledger, nor the
 * session's purpose: privacy.protect() refuses such a table. A table
 * protected first can still be distributed afterwards (Citus then wants
 * citus.enable_unsafe_triggers, for the rectification trigger). Citus
 * creates the policies of each shard, on create_distributed_table() and on
 * every shard move or split, from a CREATE POLICY statement it writes
 * without AS RESTRICTIVE: the purpose policy would become permissive there
 * and, ORed with the table's permissive policy, let every role read every
 * row of the shard. A utility hook on every node turns a permissive
 * CREATE POLICY privacy_purpose into a restrictive one while Citus is
 * installed, so that a shard is never more open than its table; on a worker
 * the purpose check then finds no purpose and shows no row.
 */
#include "postgres.h"

#include "fmgr.h"
#include "nodes/parsenodes.h"
#include "tcop/utility.h"

#include "base/citus.h"
#include "base/qualified_name.h"
#include "protection/protection.h"

PG_FUNCTION_INFO_V1(privacy_refuse_citus_table);

static ProcessUtility_hook_type prev_process_utility = NULL;

/* privacy_internal._refuse_citus_table(rel regclass): an error if Citus manages rel. */
Datum
privacy_refuse_citus_table(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);

	if (privacy_citus_table(relid))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot protect table %s because Citus distributes it",
						privacy_qualified_name(relid)),
				 errdetail("Row policies on a distributed or reference table are checked on the worker nodes, which hold neither the purpose grants, nor the consent ledger, nor the session's purpose."),
				 errhint("Keep tables that need rows filtered by purpose on the coordinator (undistribute_table()), or filter them in views there; export and erasure work on distributed tables.")));
	PG_RETURN_VOID();
}

/* A CREATE POLICY privacy_purpose that Citus wrote for a shard is made restrictive. */
static void
shard_policies_process_utility(PlannedStmt *pstmt, const char *queryString, bool readOnlyTree,
							   ProcessUtilityContext context, ParamListInfo params,
							   QueryEnvironment *queryEnv, DestReceiver *dest, QueryCompletion *qc)
{
	Node	   *stmt = pstmt->utilityStmt;

	if (IsA(stmt, CreatePolicyStmt) &&
		((CreatePolicyStmt *) stmt)->permissive &&
		strcmp(((CreatePolicyStmt *) stmt)->policy_name, PROTECTION_PURPOSE_POLICY) == 0 &&
		privacy_citus_installed())
	{
		if (readOnlyTree)
		{
			pstmt = copyObject(pstmt);
			readOnlyTree = false;
		}
		((CreatePolicyStmt *) pstmt->utilityStmt)->permissive = false;
	}
	if (prev_process_utility)
		prev_process_utility(pstmt, queryString, readOnlyTree, context, params, queryEnv, dest, qc);
	else
		standard_ProcessUtility(pstmt, queryString, readOnlyTree, context, params, queryEnv, dest, qc);
}

void
ProtectionInit(void)
{
	prev_process_utility = ProcessUtility_hook;
	ProcessUtility_hook = shard_policies_process_utility;
}
