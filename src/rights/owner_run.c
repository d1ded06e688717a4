/*
 * owner_run.c
 *		Running the statements of export and erasure: as a table's owner for
 *		what reads or changes the table, as the current user (the
 *		extension's owner) for the extension's own tables.
 *
 * A statement on a table runs as the table's owner, the way PostgreSQL
 * runs ANALYZE, REFRESH MATERIALIZED VIEW and its referential actions: the
 * owner's triggers, rules, casts to json, domain and CHECK constraints,
 * generated columns and index expressions run with the owner's rights,
 * never with those of the extension's owner or of a superuser calling the
 * export. The switch is a restricted security operation with search_path
 * pinned to pg_catalog, pg_temp; forced row security of the owner's tables
 * does not hide their rows from their owner. Row security of another table
 * the statement reads would hide rows silently, so it is an error.
 */
#include "postgres.h"

#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/plancache.h"
#include "utils/rls.h"

#include "base/extension_objects.h"
#include "base/qualified_name.h"
#include "base/spi_statements.h"
#include "rights/rights.h"

/* The error context of a statement run as an owner. */
static void
owner_context(void *arg)
{
	RightsOwnerRun *run = (RightsOwnerRun *) arg;
	const char *owner = GetUserNameFromId(run->owner, true);
	const char *tables = run->tables != NULL ? run->tables : privacy_qualified_name(run->relid);

	if (tables == NULL)
		return;
	if (run->single)
		errcontext("statement on table %s run as its owner \"%s\"", tables, owner);
	else
		errcontext("statement on tables %s run as their owner \"%s\"", tables, owner);
}

/*
 * An error if row security applied to the statement just run (plan) for
 * the current user, the owner of the tables it is about: rows it did not
 * see would be left unerased or unexported without a word. Names the first
 * table whose row security applies. (A plan depends on row security also
 * where the environment only exempts the user from it, as for a superuser
 * or with the owner's forced row security off; those tables are not
 * errors.)
 */
static void
check_no_row_security(SPIPlanPtr plan)
{
	ListCell   *lc;

	foreach(lc, SPI_plan_get_plan_sources(plan))
	{
		CachedPlanSource *source = (CachedPlanSource *) lfirst(lc);
		ListCell   *rc;

		if (!source->dependsOnRLS)
			continue;
		foreach(rc, source->relationOids)
		{
			Oid			relid = lfirst_oid(rc);
			char	   *name;

			if (check_enable_rls(relid, InvalidOid, true) != RLS_ENABLED)
				continue;
			name = privacy_qualified_name(relid);
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("row security of table %s applies to role \"%s\"",
							name ? name : "?",
							GetUserNameFromId(GetUserId(), true)),
					 errdetail("The statement reads that table as the owner of the table it changes, and rows that row security hides would be left unchanged."),
					 errhint("Let the table's owner bypass its row security (ALTER ROLE ... BYPASSRLS) or give both tables the same owner.")));
		}
	}
}

/*
 * Runs fn(arg), which runs one statement and returns its plan, as
 * run->owner (see the file's header); an error if row security applied to
 * the statement. Restores the caller's user and settings however it ends.
 */
void
rights_as_owner(RightsOwnerRun *run, SPIPlanPtr (*fn) (void *arg), void *arg)
{
	PrivacyUserContext save;
	ErrorContextCallback context;

	privacy_begin_as_role(run->owner, SECURITY_NOFORCE_RLS, &save);
	PG_TRY();
	{
		/* PG_TRY restores error_context_stack on error */
		context.callback = owner_context;
		context.arg = run;
		context.previous = error_context_stack;
		error_context_stack = &context;
		check_no_row_security(fn(arg));
		error_context_stack = context.previous;
	}
	PG_FINALLY();
	{
		privacy_end_as_owner(&save);
	}
	PG_END_TRY();
}

/* A statement of a kind to run as an owner, and what it returned. */
typedef struct KindStatementRun
{
	SubjectKind *kind;
	SubjectStatement *statement;
	bool		keep;
	Datum	   *values;
	const char *nulls;
	bool		read_only;
	long		tcount;
	int			rc;
} KindStatementRun;

static SPIPlanPtr
run_kind_statement(void *arg)
{
	KindStatementRun *r = (KindStatementRun *) arg;
	SPIPlanPtr	plan;

	if (r->keep)
		plan = subject_statement_plan(r->kind, r->statement);
	else
	{
		plan = SPI_prepare(r->statement->sql, r->statement->nargs, r->statement->argtypes);
		if (plan == NULL)
			elog(ERROR, "SPI_prepare failed for a generated statement: %s",
				 SPI_result_code_string(SPI_result));
	}
	r->rc = SPI_execute_plan(plan, subject_statement_arguments(r->kind, r->statement, r->values),
							 r->nulls, r->read_only, r->tcount);
	if (r->rc < 0)
		elog(ERROR, "SPI_execute_plan failed for a generated statement: %s",
			 SPI_result_code_string(r->rc));
	return plan;
}

int
rights_run_as_owner(SubjectKind *kind, SubjectStatement *statement, bool keep,
					Oid owner, const char *tables, bool single,
					Datum *values, const char *nulls, bool read_only, long tcount)
{
	RightsOwnerRun run;
	KindStatementRun r;

	run.owner = owner;
	run.relid = InvalidOid;
	run.tables = tables;
	run.single = single;
	r.kind = kind;
	r.statement = statement;
	r.keep = keep;
	r.values = values;
	r.nulls = nulls;
	r.read_only = read_only;
	r.tcount = tcount;
	r.rc = 0;
	rights_as_owner(&run, run_kind_statement, &r);
	return r.rc;
}

int
rights_run(SubjectKind *kind, SubjectStatement *statement,
		   Datum *values, const char *nulls, bool read_only, long tcount)
{
	int			rc = SPI_execute_plan(subject_statement_plan(kind, statement),
									  subject_statement_arguments(kind, statement, values), nulls,
									  read_only, tcount);

	if (rc < 0)
		elog(ERROR, "SPI_execute_plan failed for a generated statement: %s",
			 SPI_result_code_string(rc));
	return rc;
}

int
rights_run_kept(SPIPlanPtr *plan, const char *sql, int nargs, Oid *argtypes,
				Datum *values, const char *nulls, bool read_only, long tcount)
{
	int			rc = SPI_execute_plan(privacy_kept_plan(plan, sql, nargs, argtypes),
									  values, nulls, read_only, tcount);

	if (rc < 0)
		elog(ERROR, "SPI_execute_plan failed for a statement of the extension: %s",
			 SPI_result_code_string(rc));
	return rc;
}
