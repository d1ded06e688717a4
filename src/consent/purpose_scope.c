/*
 * purpose_scope.c
 *		privacy.purpose_scope: whether a purpose may be declared for a whole
 *		session, or only for the transaction that declares it, as a
 *		transaction-pooling connection pooler needs.
 *
 * Behind a pooler in transaction mode, a session-level SET privacy.purpose
 * stays with the server connection and passes to the next client. With
 * privacy.purpose_scope = transaction (superuser-only: set per role or
 * database with ALTER ROLE / ALTER DATABASE ... SET, and not lowered by the
 * role itself) a purpose counts only while it is a transaction's own: set by
 * SET LOCAL, set_config(..., true) or a function's SET clause.
 *
 * GUC tells a check hook neither the action (SET or SET LOCAL) nor the nest
 * level, so the rule is read from GUC's stack of saved values, whose top
 * entry describes the latest assignment of the value in force:
 *
 * 1. Before a transaction commits or is prepared, a new, non-empty purpose
 *    that would outlive it (a plain SET, a RESET to a non-empty value) is an
 *    error, so the transaction, and the SET with it, rolls back: it never
 *    reaches the next client.
 * 2. When the purpose is used (privacy_purpose_check_scope, called as the
 *    purpose is resolved, and before a parallel plan starts, since parallel
 *    workers receive the leader's values without their scope), a non-empty
 *    purpose that outlives the transaction is an error: a SET not yet
 *    committed, or a value from ALTER ROLE or ALTER DATABASE ... SET, a
 *    startup option or the configuration file.
 */
#include "postgres.h"

#include "access/parallel.h"
#include "access/xact.h"
#include "executor/executor.h"
#include "miscadmin.h"
#include "utils/guc.h"

#include "base/compat.h"
#include "consent/node_state.h"
#include "consent/purpose.h"

typedef enum PurposeScope
{
	PURPOSE_SCOPE_SESSION,
	PURPOSE_SCOPE_TRANSACTION
} PurposeScope;

static const struct config_enum_entry purpose_scope_options[] = {
	{"session", PURPOSE_SCOPE_SESSION, false},
	{"transaction", PURPOSE_SCOPE_TRANSACTION, false},
	{NULL, 0, false}
};

static int	purpose_scope = PURPOSE_SCOPE_SESSION;

/* GUC's record of privacy.purpose, whose stack says how it was set. */
static struct config_string *purpose_guc = NULL;

static ExecutorStart_hook_type prev_executor_start = NULL;

static const char *
string_or_empty(const char *s)
{
	return s ? s : "";
}

/* Whether the purpose in force ends with the transaction, or sooner. */
static bool
purpose_transaction_scoped(void)
{
	GucStack   *stack = purpose_guc->gen.stack;

	return stack != NULL && stack->state != GUC_SET;
}

static bool
scope_enforced(void)
{
	return purpose_scope == PURPOSE_SCOPE_TRANSACTION && purpose_guc != NULL;
}

void
privacy_purpose_check_scope(void)
{
	const char *purpose;
	bool		scoped;

	if (!scope_enforced())
		return;
	purpose = string_or_empty(*purpose_guc->variable);
	if (*purpose == '\0')
		return;

	/*
	 * A parallel worker receives the leader's values without their stack,
	 * but with their source: a value from anywhere but a SET is refused, and
	 * the leader checked the rest before the workers started.
	 */
	if (IsParallelWorker() || InitializingParallelWorker)
		scoped = purpose_guc->gen.source >= PGC_S_SESSION;
	else
		scoped = purpose_transaction_scoped();
	if (scoped)
		return;
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("purpose \"%s\" was not declared for the current transaction", purpose),
			 errdetail("privacy.purpose_scope is \"transaction\": a purpose set for the whole session, by SET without LOCAL, set_config() with is_local false, ALTER ROLE or ALTER DATABASE ... SET, a startup option or the configuration file, is not honoured."),
			 errhint("Declare the purpose inside the transaction with SET LOCAL privacy.purpose.")));
}

/* Refuses to commit a new, non-empty purpose for the session. */
static void
purpose_scope_xact_callback(XactEvent event, void *arg)
{
	GucStack   *stack;
	const char *kept;

	if ((event != XACT_EVENT_PRE_COMMIT && event != XACT_EVENT_PRE_PREPARE) ||
		!scope_enforced() || IsParallelWorker())
		return;
	stack = purpose_guc->gen.stack;
	if (stack == NULL)
		return;
	if (stack->state == GUC_SET)
		kept = string_or_empty(*purpose_guc->variable);
	else if (stack->state == GUC_SET_LOCAL)
		kept = string_or_empty(stack->masked.val.stringval);
	else
		return;
	if (*kept == '\0' || strcmp(kept, string_or_empty(stack->prior.val.stringval)) == 0)
		return;
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("cannot set privacy.purpose for the session"),
			 errdetail("privacy.purpose_scope is \"transaction\", so a purpose lasts only for the transaction that declares it; the transaction is rolled back."),
			 errhint("Declare the purpose inside the transaction with SET LOCAL privacy.purpose.")));
}

/*
 * Parallel workers cannot see how a value was set: the leader checks the
 * purpose before a parallel plan starts, whether or not it then reads rows
 * itself. Statements the extension runs as its owner (a security-restricted
 * operation), such as the check hook's own lookup, are not the caller's.
 */
static void
purpose_scope_executor_start(QueryDesc *queryDesc, int eflags)
{
	if (queryDesc->plannedstmt->parallelModeNeeded && !(eflags & EXEC_FLAG_EXPLAIN_ONLY) &&
		!InSecurityRestrictedOperation())
		privacy_purpose_check_scope();
	if (prev_executor_start)
		prev_executor_start(queryDesc, eflags);
	else
		standard_ExecutorStart(queryDesc, eflags);
}

static void
assign_purpose_scope(int newval, void *extra)
{
	privacy_purpose_generation++;
	privacy_forwarded_plans_reset();
}

void
PurposeScopeInit(void)
{
	DefineCustomEnumVariable("privacy.purpose_scope",
							 "Whether privacy.purpose may be set for a session or only for a transaction.",
							 "With \"transaction\", only a purpose set by SET LOCAL, set_config(..., true) "
							 "or a function's SET clause is honoured, as transaction-pooling connection "
							 "poolers need. Set it per role or database with ALTER ROLE or ALTER DATABASE ... SET.",
							 &purpose_scope,
							 PURPOSE_SCOPE_SESSION,
							 purpose_scope_options,
							 PGC_SUSET, 0,
							 NULL, assign_purpose_scope, NULL);
	purpose_guc = (struct config_string *) privacy_find_guc("privacy.purpose");
	if (purpose_guc == NULL || purpose_guc->gen.vartype != PGC_STRING)
		elog(ERROR, "setting \"privacy.purpose\" is not defined");
	RegisterXactCallback(purpose_scope_xact_callback, NULL);
	prev_executor_start = ExecutorStart_hook;
	ExecutorStart_hook = purpose_scope_executor_start;
}
