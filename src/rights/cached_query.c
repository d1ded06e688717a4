/*
 * cached_query.c
 *		privacy_internal._cached_value(sql, result_type, VARIADIC args "any") and
 *		privacy_internal._cached_row_count(sql, VARIADIC args "any"): run one of the
 *		statements the extension generates (export, erasure, subject checks,
 *		retention batches) and return the first column of its single result
 *		row, or how many rows it processed.
 *
 *		PL/pgSQL's EXECUTE plans its statement on every call; the generated
 *		statements are the same for every subject of a kind, so planning them
 *		again and again was most of the cost of an export or an erasure.
 *		Here each statement is prepared once per session and kept (SPI saved
 *		plans, which the plan cache replans when a table they use changes),
 *		keyed by its text and argument types. The generated text names every
 *		table, so a statement for a changed schema is simply a new key; the
 *		cache is emptied when it reaches CACHED_STATEMENTS_MAX entries.
 *
 *		A statement runs as the calling role, exactly as EXECUTE would; the
 *		functions are for the extension's own functions and are not granted
 *		to PUBLIC.
 *
 *		privacy_internal._cached_value_as_owner(rel, sql, ...) and
 *		privacy_internal._cached_row_count_as_owner(rel, sql, ...) run a statement on
 *		a table as the table's owner, the way PostgreSQL runs ANALYZE,
 *		REFRESH MATERIALIZED VIEW and its referential actions: erasure and
 *		retention change tables of any owner, and that owner's triggers,
 *		rules, domain and CHECK constraints, generated columns and index
 *		expressions must run with the owner's rights, never with those of
 *		the extension's owner or of the role running the job. The switch is
 *		a restricted security operation with search_path pinned to
 *		pg_catalog, pg_temp; forced row security of the table does not hide
 *		its rows from its owner. Row security of another table the statement
 *		reads would hide rows silently, so it is an error.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/syscache.h"

#include "base/citus.h"
#include "base/extension_objects.h"
#include "rights/rights.h"

PG_FUNCTION_INFO_V1(privacy_cached_value);
PG_FUNCTION_INFO_V1(privacy_cached_row_count);
PG_FUNCTION_INFO_V1(privacy_cached_value_as_owner);
PG_FUNCTION_INFO_V1(privacy_cached_row_count_as_owner);

/* More distinct statements than this in one session empty the cache. */
#define CACHED_STATEMENTS_MAX 256

typedef struct CachedStatement
{
	uint64		key;			/* hash of text, argument types and mode; hash key */
	char	   *sql;			/* the statement's text */
	bool		as_owner;		/* planned to run as the owner of a table */
	bool		local;			/* reads no table Citus manages: generic plan */
	int			nargs;
	Oid		   *argtypes;
	SPIPlanPtr	plan;			/* kept with SPI_keepplan */
} CachedStatement;

static HTAB *cached_statements = NULL;
static MemoryContext cached_statements_context = NULL;

/*
 * How many generated statements are running in this backend (one can call a
 * function that runs another); no kept plan is freed while one runs.
 */
static int	statements_running = 0;

/*
 * A statement run as a table's owner has plans of its own: the plan cache
 * replans for another role, but not for the forced row security that the
 * owner's run ignores.
 */
static uint64
statement_key(const char *sql, bool as_owner, bool local, int nargs, const Oid *argtypes)
{
	uint64		key = hash_bytes_extended((const unsigned char *) sql, strlen(sql),
										  (as_owner ? 1 : 0) | (local ? 2 : 0));

	if (nargs > 0)
		key = hash_bytes_extended((const unsigned char *) argtypes,
								  nargs * sizeof(Oid), key);
	return key;
}

static bool
statement_matches(const CachedStatement *entry, const char *sql, bool as_owner, bool local,
				  int nargs, const Oid *argtypes)
{
	return entry->nargs == nargs && entry->as_owner == as_owner && entry->local == local &&
		strcmp(entry->sql, sql) == 0 &&
		(nargs == 0 || memcmp(entry->argtypes, argtypes, nargs * sizeof(Oid)) == 0);
}

/* Frees every kept plan and empties the cache. */
static void
forget_cached_statements(void)
{
	HASH_SEQ_STATUS status;
	CachedStatement *entry;

	if (cached_statements == NULL)
		return;
	hash_seq_init(&status, cached_statements);
	while ((entry = hash_seq_search(&status)) != NULL)
		SPI_freeplan(entry->plan);
	hash_destroy(cached_statements);
	cached_statements = NULL;
	MemoryContextReset(cached_statements_context);
}

/* The cache, created on first use. */
static HTAB *
statement_table(void)
{
	if (cached_statements == NULL)
	{
		HASHCTL		ctl;

		if (cached_statements_context == NULL)
			cached_statements_context = AllocSetContextCreate(TopMemoryContext,
															  "opendims_privacy cached statements",
															  ALLOCSET_SMALL_SIZES);
		ctl.keysize = sizeof(uint64);
		ctl.entrysize = sizeof(CachedStatement);
		ctl.hcxt = cached_statements_context;
		cached_statements = hash_create("opendims_privacy cached statements", 32, &ctl,
										HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}
	return cached_statements;
}

/*
 * The kept plan of sql with these argument types, preparing it first if this
 * session has not. Must be called inside SPI_connect. When keeping it would
 * mean freeing another plan while a statement runs, the plan is not kept (it
 * goes with SPI_finish).
 */
SPIPlanPtr
privacy_cached_plan(const char *sql, bool as_owner, bool local, int nargs, Oid *argtypes)
{
	uint64		key = statement_key(sql, as_owner, local, nargs, argtypes);
	CachedStatement *entry;
	SPIPlanPtr	plan;
	bool		found;

	entry = hash_search(statement_table(), &key, HASH_FIND, NULL);
	if (entry != NULL && statement_matches(entry, sql, as_owner, local, nargs, argtypes))
		return entry->plan;

	/*
	 * Prepare before touching the cache, so that an error leaves it as it
	 * was. A generated statement looks a subject's rows up by key, so one
	 * generic plan serves every call; planning it for the values of the first
	 * calls (the plan cache's default) would only repeat the same plan
	 * (except where Citus plans it: privacy_statement_plan_options()).
	 */
	plan = SPI_prepare_cursor(sql, nargs, argtypes,
							  local ? CURSOR_OPT_GENERIC_PLAN : privacy_statement_plan_options());
	if (plan == NULL)
		elog(ERROR, "SPI_prepare failed for a generated statement: %s",
			 SPI_result_code_string(SPI_result));
	if (statements_running > 0 &&
		(entry != NULL || hash_get_num_entries(statement_table()) >= CACHED_STATEMENTS_MAX))
		return plan;
	if (SPI_keepplan(plan) != 0)
		elog(ERROR, "SPI_keepplan failed for a generated statement");

	if (entry != NULL)
	{
		/* Another statement with the same hash: it gives way. */
		SPI_freeplan(entry->plan);
		hash_search(cached_statements, &key, HASH_REMOVE, NULL);
	}
	else if (hash_get_num_entries(statement_table()) >= CACHED_STATEMENTS_MAX)
		forget_cached_statements();

	entry = hash_search(statement_table(), &key, HASH_ENTER, &found);
	entry->sql = MemoryContextStrdup(cached_statements_context, sql);
	entry->as_owner = as_owner;
	entry->local = local;
	entry->nargs = nargs;
	entry->argtypes = NULL;
	if (nargs > 0)
	{
		entry->argtypes = MemoryContextAlloc(cached_statements_context, nargs * sizeof(Oid));
		memcpy(entry->argtypes, argtypes, nargs * sizeof(Oid));
	}
	entry->plan = plan;
	return plan;
}

/* The statement's text and arguments, taken from a call of either function. */
typedef struct StatementCall
{
	char	   *sql;
	int			nargs;
	Oid		   *argtypes;
	Datum	   *values;
	char	   *nulls;
} StatementCall;

/*
 * Reads the statement (argument sql_arg) and its arguments (from argument
 * first_arg on, each of its own type) of a call of fname.
 */
static void
read_statement_call(FunctionCallInfo fcinfo, int sql_arg, int first_arg,
					const char *fname, StatementCall *call)
{
	int			nargs = PG_NARGS() - first_arg;

	if (PG_ARGISNULL(sql_arg))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("the statement must not be null")));
	if (get_fn_expr_variadic(fcinfo->flinfo))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("%s cannot take its arguments as a VARIADIC array", fname),
				 errhint("Pass each argument of the statement as an argument of its own.")));

	call->sql = text_to_cstring(PG_GETARG_TEXT_PP(sql_arg));
	call->nargs = nargs;
	call->argtypes = palloc(Max(nargs, 1) * sizeof(Oid));
	call->values = palloc(Max(nargs, 1) * sizeof(Datum));
	call->nulls = palloc(Max(nargs, 1) * sizeof(char));
	for (int i = 0; i < nargs; i++)
	{
		int			argno = first_arg + i;
		Oid			argtype = get_fn_expr_argtype(fcinfo->flinfo, argno);
		bool		isnull = PG_ARGISNULL(argno);

		if (!OidIsValid(argtype))
			elog(ERROR, "could not determine the type of argument %d", argno + 1);
		call->nulls[i] = isnull ? 'n' : ' ';
		call->values[i] = isnull ? (Datum) 0 : PG_GETARG_DATUM(argno);
		/* An untyped literal arrives as a C string: pass it as text. */
		if (argtype == UNKNOWNOID)
		{
			argtype = TEXTOID;
			if (!isnull)
				call->values[i] = PointerGetDatum(cstring_to_text(DatumGetCString(call->values[i])));
		}
		call->argtypes[i] = argtype;
	}
}

/*
 * Runs the statement with its kept plan, returning at most tcount rows (0:
 * all) in SPI_tuptable, and returns the plan. Must be called inside
 * SPI_connect. A statement SPI cannot run (COPY, transaction control) is
 * the caller's error, in fname.
 *
 * The statement runs under the caller's search_path, as EXECUTE would; the
 * extension's SQL callers set it to pg_catalog, pg_temp (SET search_path),
 * and a statement run as a table's owner has it pinned.
 */
static SPIPlanPtr
execute_statement_call(StatementCall *call, bool as_owner, long tcount, const char *fname)
{
	SPIPlanPtr	plan = privacy_cached_plan(call->sql, as_owner, false, call->nargs, call->argtypes);
	int			rc;

	statements_running++;
	PG_TRY();
	{
		rc = SPI_execute_plan(plan, call->values, call->nulls, false, tcount);
	}
	PG_FINALLY();
	{
		statements_running--;
	}
	PG_END_TRY();
	if (rc < 0)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("%s cannot run this statement", fname),
				 errdetail("SPI refused it with %s.", SPI_result_code_string(rc)),
				 errhint("COPY and transaction control statements cannot run inside a function.")));
	return plan;
}

/* A statement to run as a table's owner. */
typedef struct OwnerCall
{
	StatementCall *call;
	long		tcount;
	const char *fname;
} OwnerCall;

static SPIPlanPtr
execute_owner_call(void *arg)
{
	OwnerCall  *oc = (OwnerCall *) arg;

	return execute_statement_call(oc->call, true, oc->tcount, oc->fname);
}

/*
 * Runs the statement as the owner of relid (see the file's header): the
 * owner's user id in a restricted security context that does not force row
 * security on the owner's tables, search_path pinned; restored however the
 * statement ends.
 */
static void
execute_as_owner(Oid relid, StatementCall *call, long tcount, const char *fname)
{
	HeapTuple	tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	RightsOwnerRun run;
	OwnerCall	oc;

	if (!HeapTupleIsValid(tuple))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation with OID %u does not exist", relid)));
	run.relid = relid;
	run.tables = NULL;
	run.single = true;
	run.owner = ((Form_pg_class) GETSTRUCT(tuple))->relowner;
	ReleaseSysCache(tuple);
	oc.call = call;
	oc.tcount = tcount;
	oc.fname = fname;
	rights_as_owner(&run, execute_owner_call, &oc);
}

static void
connect_spi(void)
{
	int			rc;

	if ((rc = SPI_connect()) != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed: %s", SPI_result_code_string(rc));
}

/*
 * The first column of the only row the statement just run returned, copied
 * out of SPI; *isnull when it returned no row. fname names the function.
 */
static Datum
statement_value(Oid result_type, const char *fname, bool *isnull)
{
	Datum		result = (Datum) 0;

	*isnull = true;
	if (SPI_tuptable == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the statement given to %s does not return rows", fname),
				 errdetail("Only a statement that returns one column can be run this way."),
				 errhint("Use privacy_internal._cached_row_count() for a statement without a result.")));
	if (SPI_processed > 1)
		ereport(ERROR,
				(errcode(ERRCODE_TOO_MANY_ROWS),
				 errmsg("the statement given to %s returned more than one row", fname)));
	if (SPI_tuptable->tupdesc->natts < 1 ||
		SPI_gettypeid(SPI_tuptable->tupdesc, 1) != result_type)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("the statement given to %s does not return type %s",
						fname, format_type_be(result_type))));
	if (SPI_processed == 1)
	{
		result = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, isnull);
		if (!*isnull)
		{
			int16		typlen;
			bool		typbyval;

			get_typlenbyval(result_type, &typlen, &typbyval);
			result = SPI_datumTransfer(result, typbyval, typlen);
		}
	}
	return result;
}

/*
 * A call of privacy_internal._cached_value or privacy_internal._cached_value_as_owner: the
 * table (as_owner), the statement, the result type marker, the arguments.
 */
static Datum
cached_value(FunctionCallInfo fcinfo, bool as_owner)
{
	const char *fname = as_owner ? "privacy_internal._cached_value_as_owner" : "privacy_internal._cached_value";
	int			first = as_owner ? 1 : 0;
	Oid			result_type = get_fn_expr_argtype(fcinfo->flinfo, first + 1);
	StatementCall call;
	Datum		result;
	bool		result_isnull;

	if (!OidIsValid(result_type))
		elog(ERROR, "could not determine the result type of %s", fname);
	if (as_owner && PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("the table must not be null")));
	read_statement_call(fcinfo, first, first + 2, fname, &call);

	connect_spi();
	if (as_owner)
		execute_as_owner(PG_GETARG_OID(0), &call, 2, fname);
	else
		(void) execute_statement_call(&call, false, 2, fname);
	result = statement_value(result_type, fname, &result_isnull);
	SPI_finish();

	if (result_isnull)
		PG_RETURN_NULL();
	PG_RETURN_DATUM(result);
}

/* A call of privacy_internal._cached_row_count or privacy_internal._cached_row_count_as_owner. */
static Datum
cached_row_count(FunctionCallInfo fcinfo, bool as_owner)
{
	const char *fname = as_owner ? "privacy_internal._cached_row_count_as_owner" : "privacy_internal._cached_row_count";
	int			first = as_owner ? 1 : 0;
	StatementCall call;
	uint64		processed;

	if (as_owner && PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("the table must not be null")));
	read_statement_call(fcinfo, first, first + 1, fname, &call);
	connect_spi();
	if (as_owner)
		execute_as_owner(PG_GETARG_OID(0), &call, 0, fname);
	else
		(void) execute_statement_call(&call, false, 0, fname);
	processed = SPI_processed;
	SPI_finish();
	PG_RETURN_INT64((int64) processed);
}

/*
 * privacy_internal._cached_value(sql text, result_type anyelement, VARIADIC args "any")
 * → anyelement: the first column of the statement's only row (NULL when it
 * returns no row); the statement's $1, $2, ... are args, of their own types.
 * result_type is only a type marker, e.g. NULL::jsonb.
 */
Datum
privacy_cached_value(PG_FUNCTION_ARGS)
{
	return cached_value(fcinfo, false);
}

/*
 * privacy_internal._cached_row_count(sql text, VARIADIC args "any") → bigint: runs a
 * statement (typically an INSERT, UPDATE or DELETE without RETURNING) and
 * returns how many rows it processed, as GET DIAGNOSTICS ROW_COUNT would.
 */
Datum
privacy_cached_row_count(PG_FUNCTION_ARGS)
{
	return cached_row_count(fcinfo, false);
}

/*
 * privacy_internal._cached_value_as_owner(rel regclass, sql text, result_type
 * anyelement, VARIADIC args "any"): privacy_internal._cached_value, run as the owner
 * of rel.
 */
Datum
privacy_cached_value_as_owner(PG_FUNCTION_ARGS)
{
	return cached_value(fcinfo, true);
}

/*
 * privacy_internal._cached_row_count_as_owner(rel regclass, sql text, VARIADIC args
 * "any"): privacy_internal._cached_row_count, run as the owner of rel.
 */
Datum
privacy_cached_row_count_as_owner(PG_FUNCTION_ARGS)
{
	return cached_row_count(fcinfo, true);
}
