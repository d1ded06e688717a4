/*
 * consent_qual.c
 *		Evaluates the row check of a protected table's scan without the
 *		expression interpreter, where the scan's filter is that check alone.
 *
 * The filter of a scan of a table privacy.protect() protected is, when the
 * query adds no condition of its own that the index does not take, the
 * row policy alone: privacy_internal._may_process(kind, key, owned) for
 * each subject kind, the key a column of the scanned row (widened to
 * bigint if it is a smaller integer) and owned a constant or "the key is
 * not null". Interpreting that expression costs more per row than the
 * check itself (a step per argument, the cast, a call through fmgr), about
 * as much as the whole scan of an index-only count(*). Before an executor
 * runs, each scan filter of exactly that shape gets an evaluation function
 * that reads the key from the scanned slot and calls the same check
 * (consent_row_may_process) with the call's own FunctionCallInfo: the same
 * arguments, the same call site in fn_extra, the same answer, the same
 * errors. Anything else (another condition in the filter, a key computed
 * by a subquery, track_functions counting calls, a shape this version of
 * PostgreSQL compiles differently) keeps the interpreter.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/execExpr.h"
#include "nodes/execnodes.h"
#include "nodes/nodeFuncs.h"
#include "utils/fmgroids.h"

#include "consent/consent_check.h"

/* One check of the filter: the call it stands for and where its key is. */
typedef struct QualCheck
{
	FunctionCallInfo fcinfo;	/* of the check's step, Const arguments in place */
	bool		text_key;		/* _may_process(text, text, boolean) */
	bool		owned_if_key;	/* owned is "the key is not null" */
	AttrNumber	attnum;			/* of the key in the scanned slot */
	Oid			key_type;		/* int2, int4, int8 or text */
	int			steps;			/* compiled into: arguments, call, qual step */
} QualCheck;

/* A filter evaluated here, and what to give it back to if its slot does not fit. */
typedef struct CheckedQual
{
	ExprStateEvalFunc interpreter;
	void	   *interpreter_private;
	bool		slot_verified;
	AttrNumber	max_attnum;
	int			n_checks;
	QualCheck	checks[FLEXIBLE_ARRAY_MEMBER];
} CheckedQual;

/*
 * The key argument of a check: a column of the scanned row, as it is or
 * widened to bigint by the built-in cast (one step more).
 */
static Var *
key_var(Node *arg, bool text_key, int *steps)
{
	Oid			want = text_key ? TEXTOID : INT8OID;
	Var		   *var;

	*steps = 1;
	if (!text_key && IsA(arg, FuncExpr) && list_length(((FuncExpr *) arg)->args) == 1)
	{
		Oid			cast = ((FuncExpr *) arg)->funcid;

		want = cast == F_INT8_INT4 ? INT4OID : cast == F_INT8_INT2 ? INT2OID : InvalidOid;
		arg = linitial(((FuncExpr *) arg)->args);
		*steps = 2;
	}
	if (!IsA(arg, Var))
		return NULL;
	var = (Var *) arg;
	if (var->vartype != want || var->varattno <= 0 || var->varlevelsup != 0 ||
		var->varno == INNER_VAR || var->varno == OUTER_VAR)
		return NULL;
	return var;
}

/* Whether one clause of a filter is a check of the shape evaluated here; fills check but its fcinfo. */
static bool
match_check(Node *clause, QualCheck *check)
{
	FuncExpr   *call = (FuncExpr *) clause;
	Const	   *kind;
	Node	   *owned;
	Var		   *key;
	int			key_steps;

	if (!IsA(clause, FuncExpr) || call->funcresulttype != BOOLOID || list_length(call->args) != 3 ||
		!IsA(linitial(call->args), Const))
		return false;
	kind = (Const *) linitial(call->args);
	owned = lthird(call->args);
	if (kind->consttype != TEXTOID || kind->constisnull)
		return false;
	check->text_key = exprType(lsecond(call->args)) == TEXTOID;
	key = key_var(lsecond(call->args), check->text_key, &key_steps);
	if (key == NULL)
		return false;
	check->attnum = key->varattno;
	check->key_type = key->vartype;
	check->steps = key_steps + 2;
	if (IsA(owned, Const) && ((Const *) owned)->consttype == BOOLOID && !((Const *) owned)->constisnull)
		check->owned_if_key = false;
	else if (IsA(owned, NullTest) && ((NullTest *) owned)->nulltesttype == IS_NOT_NULL &&
			 !((NullTest *) owned)->argisrow && equal(((NullTest *) owned)->arg, key))
	{
		check->owned_if_key = true;
		check->steps += 2;		/* the column, the test */
	}
	else
		return false;
	return true;
}

/*
 * Whether the slot's columns are of the types the filter was planned for,
 * as the interpreter checks on a filter's first evaluation.
 */
static bool
slot_fits(const CheckedQual *qual, TupleTableSlot *slot)
{
	TupleDesc	desc = slot->tts_tupleDescriptor;
	int			i;

	for (i = 0; i < qual->n_checks; i++)
	{
		const QualCheck *check = &qual->checks[i];
		Form_pg_attribute att;

		if (desc == NULL || check->attnum > desc->natts)
			return false;
		att = TupleDescAttr(desc, check->attnum - 1);
		if (att->attisdropped || att->atttypid != check->key_type)
			return false;
	}
	return true;
}

/* The evaluation function of a filter made of checks: whether every check passes. */
static Datum
eval_checks(ExprState *state, ExprContext *econtext, bool *isnull)
{
	CheckedQual *qual = (CheckedQual *) state->evalfunc_private;
	TupleTableSlot *slot = econtext->ecxt_scantuple;
	int			i;

	if (unlikely(!qual->slot_verified))
	{
		if (!slot_fits(qual, slot))
		{
			state->evalfunc = qual->interpreter;
			state->evalfunc_private = qual->interpreter_private;
			return state->evalfunc(state, econtext, isnull);
		}
		qual->slot_verified = true;
	}
	*isnull = false;
	slot_getsomeattrs(slot, qual->max_attnum);
	for (i = 0; i < qual->n_checks; i++)
	{
		const QualCheck *check = &qual->checks[i];
		FunctionCallInfo fcinfo = check->fcinfo;
		Datum		key = slot->tts_values[check->attnum - 1];
		bool		key_isnull = slot->tts_isnull[check->attnum - 1];

		if (key_isnull)
			key = (Datum) 0;
		else if (check->key_type == INT4OID)
			key = Int64GetDatum((int64) DatumGetInt32(key));
		else if (check->key_type == INT2OID)
			key = Int64GetDatum((int64) DatumGetInt16(key));
		fcinfo->args[1].value = key;
		fcinfo->args[1].isnull = key_isnull;
		if (check->owned_if_key)
		{
			fcinfo->args[2].value = BoolGetDatum(!key_isnull);
			fcinfo->args[2].isnull = false;
		}
		if (!consent_row_may_process(fcinfo, check->text_key))
			return BoolGetDatum(false);
	}
	return BoolGetDatum(true);
}

/*
 * Whether a step is of the kind wanted. Looking a step's kind up costs a
 * binary search of the interpreter's table where steps hold the addresses
 * of their code; the address of each kind wanted here is remembered the
 * first time a step of that kind is seen.
 */
static bool
step_is(ExprState *state, ExprEvalStep *step, ExprEvalOp want)
{
	static intptr_t addresses[EEOP_LAST];

	if (!(state->flags & EEO_FLAG_DIRECT_THREADED))
		return step->opcode == (intptr_t) want;
	if (addresses[want] != 0)
		return step->opcode == addresses[want];
	if (ExecEvalStepOp(state, step) != want)
		return false;
	addresses[want] = step->opcode;
	return true;
}

/*
 * Whether a filter of checks was compiled into the steps expected of it:
 * a fetch of the scanned row's columns (none for a slot whose columns are
 * always there), then per check the steps of its arguments, its call and
 * a qual step, then the end; and whether each call's step calls the check.
 * Points each check at its call's arguments.
 */
static bool
steps_match(ExprState *state, CheckedQual *qual, List *clauses)
{
	int			expected = 1;	/* the end */
	int			step;
	int			i;

	for (i = 0; i < qual->n_checks; i++)
		expected += qual->checks[i].steps;
	if (state->steps_len == expected + 1 && step_is(state, &state->steps[0], EEOP_SCAN_FETCHSOME))
		step = 1;
	else if (state->steps_len == expected)
		step = 0;
	else
		return false;
	for (i = 0; i < qual->n_checks; i++)
	{
		QualCheck  *check = &qual->checks[i];
		ExprEvalStep *call;

		step += check->steps;
		call = &state->steps[step - 2];
		if (!step_is(state, call, EEOP_FUNCEXPR) || !step_is(state, &state->steps[step - 1], EEOP_QUAL) ||
			call->d.func.finfo->fn_expr != list_nth(clauses, i) ||
			call->d.func.fn_addr != (check->text_key ? privacy_may_process_text : privacy_may_process_int8))
			return false;
		check->fcinfo = call->d.func.fcinfo_data;
	}
	return step_is(state, &state->steps[step], EEOP_DONE);
}

/* Takes over a plan node's filter if it is made of checks alone. */
static void
take_over_filter(PlanState *planstate)
{
	ExprState  *state = planstate->qual;
	List	   *clauses;
	CheckedQual *qual;
	ListCell   *lc;

	if (state == NULL || state->evalfunc == eval_checks || !(state->flags & EEO_FLAG_IS_QUAL) ||
		state->expr == NULL || !IsA(state->expr, List) ||
		!IsA(linitial((List *) state->expr), FuncExpr))
		return;
	clauses = (List *) state->expr;
	qual = MemoryContextAllocZero(planstate->state->es_query_cxt,
								  offsetof(CheckedQual, checks) + sizeof(QualCheck) * list_length(clauses));
	foreach(lc, clauses)
	{
		QualCheck  *check = &qual->checks[qual->n_checks++];

		if (!match_check(lfirst(lc), check))
		{
			pfree(qual);
			return;
		}
		qual->max_attnum = Max(qual->max_attnum, check->attnum);
	}
	if (!steps_match(state, qual, clauses))
	{
		pfree(qual);
		return;
	}
	qual->interpreter = state->evalfunc;
	qual->interpreter_private = state->evalfunc_private;
	state->evalfunc_private = qual;
	state->evalfunc = eval_checks;
}

static bool
take_over_filters(PlanState *planstate, void *context)
{
	take_over_filter(planstate);
	return planstate_tree_walker(planstate, take_over_filters, context);
}

void
consent_qual_prepare(PlanState *planstate)
{
	if (planstate != NULL)
		take_over_filters(planstate, NULL);
}
