/*
 * policy_expression.c
 *		privacy_internal._same_policy_expression(rel, installed, expression): whether
 *		a row policy expression of rel as pg_policy stores it is what CREATE
 *		POLICY would make of expression now, so that lint can compare an
 *		installed policy with the one privacy.protect() would install.
 *
 * The expression is parsed and analysed exactly as CREATE POLICY does
 * (the table as the only range-table entry, then collations, the same for
 * USING and WITH CHECK), and both trees are deparsed by pg_get_expr()
 * itself. Comparing the two texts ignores how the expression was spelt
 * (and pg_dump's respelling), and follows renamed tables and columns, since
 * both sides are deparsed from the catalog as it is now.
 * Nothing is executed: analysis resolves names, operators and types only.
 */
#include "postgres.h"

#include "access/table.h"
#include "fmgr.h"
#include "nodes/nodeFuncs.h"
#include "nodes/nodes.h"
#include "nodes/parsenodes.h"
#include "parser/parse_clause.h"
#include "parser/parse_collate.h"
#include "parser/parse_node.h"
#include "parser/parse_relation.h"
#include "parser/parser.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/rel.h"

PG_FUNCTION_INFO_V1(privacy_same_policy_expression);

/* The one expression of "SELECT <expression>", or an error. */
static Node *
parse_expression(const char *expression)
{
	char	   *sql = psprintf("SELECT %s", expression);
	List	   *stmts = raw_parser(sql, RAW_PARSE_DEFAULT);
	SelectStmt *select;
	ResTarget  *target;

	if (list_length(stmts) != 1 ||
		!IsA(((RawStmt *) linitial(stmts))->stmt, SelectStmt))
		ereport(ERROR,
				(errcode(ERRCODE_SYNTAX_ERROR),
				 errmsg("a row policy expression must be a single expression")));
	select = (SelectStmt *) ((RawStmt *) linitial(stmts))->stmt;
	if (list_length(select->targetList) != 1 || select->fromClause != NIL ||
		select->whereClause != NULL || select->groupClause != NIL ||
		select->havingClause != NULL || select->windowClause != NIL ||
		select->sortClause != NIL || select->limitCount != NULL ||
		select->limitOffset != NULL || select->lockingClause != NIL ||
		select->withClause != NULL || select->distinctClause != NIL ||
		select->valuesLists != NIL || select->op != SETOP_NONE)
		ereport(ERROR,
				(errcode(ERRCODE_SYNTAX_ERROR),
				 errmsg("a row policy expression must be a single expression")));
	target = (ResTarget *) linitial(select->targetList);
	return target->val;
}

/*
 * Forgets the output names of subqueries: they are the column names at the
 * time the policy was created, and deparse as "AS old_name" once a column is
 * renamed, though the policy still reads the same column.
 */
static bool
forget_output_names(Node *node, void *context)
{
	if (node == NULL)
		return false;
	if (IsA(node, Query))
	{
		ListCell   *lc;

		foreach(lc, ((Query *) node)->targetList)
			((TargetEntry *) lfirst(lc))->resname = NULL;
		return query_tree_walker((Query *) node, forget_output_names, context, 0);
	}
	return expression_tree_walker(node, forget_output_names, context);
}

/* An analysed policy expression as pg_get_expr() shows it, output names aside. */
static char *
deparse_policy_expression(Node *expr, Oid relid)
{
	forget_output_names(expr, NULL);
	return TextDatumGetCString(DirectFunctionCall2(pg_get_expr,
												   CStringGetTextDatum(nodeToString(expr)),
												   ObjectIdGetDatum(relid)));
}

/*
 * privacy_internal._same_policy_expression(rel regclass, installed pg_node_tree,
 * expression text) returns boolean: whether a policy expression of rel as
 * pg_policy stores it (polqual or polwithcheck) is what CREATE POLICY makes
 * of expression now.
 */
Datum
privacy_same_policy_expression(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	char	   *installed = text_to_cstring(PG_GETARG_TEXT_PP(1));
	char	   *expression = text_to_cstring(PG_GETARG_TEXT_PP(2));
	Node	   *raw = parse_expression(expression);
	Relation	rel = table_open(relid, AccessShareLock);
	ParseState *pstate = make_parsestate(NULL);
	ParseNamespaceItem *nsitem;
	Node	   *expr;
	bool		same;

	nsitem = addRangeTableEntryForRelation(pstate, rel, AccessShareLock,
										   NULL, false, false);
	addNSItemToQuery(pstate, nsitem, false, true, true);
	expr = transformWhereClause(pstate, raw, EXPR_KIND_POLICY, "POLICY");
	assign_expr_collations(pstate, expr);
	free_parsestate(pstate);
	table_close(rel, AccessShareLock);

	same = strcmp(deparse_policy_expression(expr, relid),
				  deparse_policy_expression(stringToNode(installed), relid)) == 0;
	PG_RETURN_BOOL(same);
}
