/*
 * distributed_tables.c
 *		Protection and Citus: which tables Citus manages protect() can
 *		protect, and the purpose policy stays restrictive on their shards.
 *
 * Citus checks the row policies of a distributed or reference table on the
 * workers that hold its shards. The statements the coordinator sends there
 * carry the session's purpose and the consent state version
 * (consent/purpose_forward.c), and the workers check rows against a copy of
 * the coordinator's purposes, grants and consent state
 * (consent/node_state.c). A policy that reads another table (the subject
 * found through a table in between) cannot be checked there: Citus would
 * have to plan that read on the worker, inside the shard's scan. Such a
 * table is refused with a hint, as is any Citus table while the library is
 * not preloaded (the state version lives in shared memory).
 *
 * Citus creates the policies of each shard, on create_distributed_table(),
 * on protect() and on every shard move or split, from a CREATE POLICY
 * statement it writes without AS RESTRICTIVE: the purpose policy would
 * become permissive there and, ORed with the table's permissive policy, let
 * every role read every row of the shard. A utility hook on every node
 * turns a permissive CREATE POLICY privacy_purpose into a restrictive one
 * while Citus is installed, so that a shard is never more open than its
 * table.
 */
#include "postgres.h"

#include "fmgr.h"
#include "nodes/nodeFuncs.h"
#include "nodes/parsenodes.h"
#include "parser/parser.h"
#include "tcop/utility.h"
#include "utils/builtins.h"

#include "base/citus.h"
#include "base/qualified_name.h"
#include "consent/consent_shared.h"
#include "protection/protection.h"

PG_FUNCTION_INFO_V1(privacy_check_citus_table);

static ProcessUtility_hook_type prev_process_utility = NULL;

static bool
find_sublink(Node *node, void *context)
{
	if (node == NULL)
		return false;
	if (IsA(node, SubLink))
		return true;
	return raw_expression_tree_walker(node, find_sublink, context);
}

/* Whether a row policy expression reads another table (holds a subquery). */
static bool
expression_reads_tables(const char *expression)
{
	List	   *stmts = raw_parser(psprintf("SELECT %s", expression), RAW_PARSE_DEFAULT);

	return find_sublink(((RawStmt *) linitial(stmts))->stmt, NULL);
}

/*
 * privacy_internal._check_citus_table(rel regclass, expression text) returns
 * boolean: whether Citus manages rel; an error if its row policy, with the
 * given expression, could not be checked on the workers.
 */
Datum
privacy_check_citus_table(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	char	   *expression = text_to_cstring(PG_GETARG_TEXT_PP(1));

	if (!privacy_citus_table(relid))
		PG_RETURN_BOOL(false);
	if (!consent_shared_available())
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("cannot protect table %s because opendims_privacy is not in shared_preload_libraries",
						privacy_qualified_name(relid)),
				 errdetail("Citus checks the row policies of the table on the worker nodes, which learn of consent changes through a version the coordinator keeps in shared memory."),
				 errhint("Add opendims_privacy to shared_preload_libraries after citus on every node and restart them.")));
	if (expression_reads_tables(expression))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot protect table %s because Citus distributes it and its rows reach their subjects through another table",
						privacy_qualified_name(relid)),
				 errdetail("Citus checks the row policies of the table on the worker nodes, where a policy cannot read another distributed table."),
				 errhint("Give the table the subject's key as its distribution column, with a foreign key that includes it, or keep the table on the coordinator (undistribute_table()).")));
	PG_RETURN_BOOL(true);
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
