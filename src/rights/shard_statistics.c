/*
 * shard_statistics.c
 *		The erasure and the planner's statistics of the shards of a table
 *		Citus manages: removing, in the shard's part of the erasure's
 *		transaction, the values the erasure took out of the shard.
 *
 * On one server the erasure looks the values of the subject's rows up in
 * the table's statistics and removes those no row holds any more
 * (erasure_statistics.c). A table Citus distributes keeps no statistics on
 * the coordinator: each shard has its own, on the node that holds it. So
 * the erasure's DELETE of such a table returns, beside the values it reads
 * for itself, one call of privacy_internal._erased_from_shard(t0.tableoid,
 * column, values) per classified column, which Citus runs where the row was
 * deleted (it allows immutable functions in RETURNING, and runs them on the
 * shard). The call notes the shard, the column and the values; before that
 * node's part of the transaction commits (or is prepared for two-phase
 * commit), the values the shard's statistics hold and no row of the shard
 * holds any more are removed from them, as ANALYZE would drop them (or the
 * shard is analyzed again where they cannot be edited). Nothing of the
 * values leaves the node, and a transaction that rolls back removes
 * nothing.
 *
 * The call checks that the current user owns the shard: the erasure runs
 * its statements as the table's owner.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

#include "base/extension_objects.h"
#include "base/qualified_name.h"
#include "rights/erasure.h"

PG_FUNCTION_INFO_V1(privacy_erased_from_shard);

/* The values of one column of one relation that the erasure took out. */
typedef struct ErasedColumn
{
	Oid			relid;
	char	   *column;
	List	   *values;			/* of char *, each once */
} ErasedColumn;

/* The current transaction's, in TopTransactionContext. */
static List *erased_columns = NIL;
static bool callback_registered = false;

/* The entry of relid's column, made if missing. */
static ErasedColumn *
erased_column(Oid relid, const char *column)
{
	ListCell   *lc;
	ErasedColumn *entry;

	foreach(lc, erased_columns)
	{
		entry = lfirst(lc);
		if (entry->relid == relid && strcmp(entry->column, column) == 0)
			return entry;
	}
	entry = palloc0(sizeof(ErasedColumn));
	entry->relid = relid;
	entry->column = pstrdup(column);
	erased_columns = lappend(erased_columns, entry);
	return entry;
}

/* Whether some row of the relation still holds value in the column (as text, or as an element). */
static bool
still_held(const char *relation, const char *column, bool is_array, const char *value)
{
	Oid			argtype = TEXTOID;
	Datum		arg = CStringGetTextDatum(value);
	const char *quoted = quote_identifier(column);
	char	   *sql;
	bool		isnull;

	sql = psprintf("SELECT EXISTS (SELECT FROM %s r WHERE r.%s::pg_catalog.text OPERATOR(pg_catalog.=) $1%s)",
				   relation, quoted,
				   is_array ? psprintf(" OR $1 OPERATOR(pg_catalog.=) ANY (r.%s::pg_catalog.text[])", quoted) : "");
	if (SPI_execute_with_args(sql, 1, &argtype, &arg, NULL, true, 1) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "could not look for a value in a shard");
	return DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
}

/*
 * Removes from the statistics of one column the values noted that they
 * hold and no row holds any more; inside SPI, as the relation's owner.
 * Whether the relation must be analyzed again instead.
 */
static bool
scrub_column(ErasedColumn *entry, const char *relation)
{
	AttrNumber	attnum = get_attnum(entry->relid, entry->column);
	Datum	   *elems;
	int			n = 0;
	ArrayType  *held;
	Datum	   *held_elems;
	bool	   *held_nulls;
	int			nheld;
	Datum	   *gone;
	int			ngone = 0;
	bool		is_array;
	ListCell   *lc;

	if (attnum == InvalidAttrNumber)
		return false;
	elems = palloc(sizeof(Datum) * list_length(entry->values));
	foreach(lc, entry->values)
		elems[n++] = CStringGetTextDatum((char *) lfirst(lc));
	held = statistics_values_held(entry->relid, attnum,
								  construct_array(elems, n, TEXTOID, -1, false, TYPALIGN_INT));
	/* no statistics of the column, or none of the values in them */
	if (held == NULL)
		return false;
	deconstruct_array(held, TEXTOID, -1, false, TYPALIGN_INT, &held_elems, &held_nulls, &nheld);
	if (nheld == 0)
		return false;

	is_array = type_is_array(get_atttype(entry->relid, attnum));
	gone = palloc(sizeof(Datum) * nheld);
	for (int i = 0; i < nheld; i++)
		if (!held_nulls[i] &&
			!still_held(relation, entry->column, is_array, TextDatumGetCString(held_elems[i])))
			gone[ngone++] = held_elems[i];
	if (ngone == 0)
		return false;
	return statistics_values_remove(entry->relid, attnum,
									construct_array(gone, ngone, TEXTOID, -1, false, TYPALIGN_INT)) < 0;
}

/* The owner of relid. */
static Oid
relation_owner(Oid relid)
{
	HeapTuple	tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	Oid			owner;

	if (!HeapTupleIsValid(tuple))
		elog(ERROR, "cache lookup failed for relation %u", relid);
	owner = ((Form_pg_class) GETSTRUCT(tuple))->relowner;
	ReleaseSysCache(tuple);
	return owner;
}

/* Scrubs the statistics of every relation noted in this transaction. */
static void
scrub_noted(void)
{
	List	   *entries = erased_columns;
	ListCell   *lc;

	/* noted once: an error below leaves nothing to do again */
	erased_columns = NIL;
	foreach(lc, entries)
	{
		ErasedColumn *entry = lfirst(lc);
		char	   *relation = privacy_qualified_name(entry->relid);
		PrivacyUserContext save;
		bool		analyze;

		if (relation == NULL)
			continue;
		/* what ANALYZE takes, so that none changes the statistics meanwhile */
		LockRelationOid(entry->relid, ShareUpdateExclusiveLock);
		privacy_begin_as_role(relation_owner(entry->relid), SECURITY_NOFORCE_RLS, &save);
		/* no statement runs at commit: the queries below need a snapshot */
		PushActiveSnapshot(GetTransactionSnapshot());
		PG_TRY();
		{
			if (SPI_connect() != SPI_OK_CONNECT)
				elog(ERROR, "could not connect to SPI");
			analyze = scrub_column(entry, relation);
			if (analyze && SPI_execute(psprintf("ANALYZE %s", relation), false, 0) != SPI_OK_UTILITY)
				elog(ERROR, "could not analyze a shard again");
			SPI_finish();
		}
		PG_FINALLY();
		{
			PopActiveSnapshot();
			privacy_end_as_owner(&save);
		}
		PG_END_TRY();
	}
}

static void
shard_statistics_xact_callback(XactEvent event, void *arg)
{
	if (erased_columns == NIL)
		return;
	if (event == XACT_EVENT_PRE_COMMIT || event == XACT_EVENT_PRE_PREPARE)
		scrub_noted();
	else if (event == XACT_EVENT_ABORT || event == XACT_EVENT_COMMIT || event == XACT_EVENT_PREPARE)
		erased_columns = NIL;	/* its memory went with the transaction */
}

/*
 * privacy_internal._erased_from_shard(rel regclass, column_name text,
 * vals text[]) → true: notes values of a column that an erasure took out of
 * rel, to be removed from its statistics when the transaction commits.
 */
Datum
privacy_erased_from_shard(PG_FUNCTION_ARGS)
{
	Oid			relid;
	char	   *column;
	ArrayType  *values;
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	MemoryContext old;
	ErasedColumn *entry;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2))
		PG_RETURN_BOOL(true);
	relid = PG_GETARG_OID(0);
	if (!pg_class_ownercheck(relid, GetUserId()))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("must be owner of table %s", get_rel_name(relid)),
				 errdetail("Only an erasure, which runs as the table's owner, notes the values it removed.")));
	column = text_to_cstring(PG_GETARG_TEXT_PP(1));
	values = PG_GETARG_ARRAYTYPE_P(2);
	deconstruct_array(values, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);

	if (!callback_registered)
	{
		RegisterXactCallback(shard_statistics_xact_callback, NULL);
		callback_registered = true;
	}
	old = MemoryContextSwitchTo(TopTransactionContext);
	entry = erased_column(relid, column);
	for (int i = 0; i < n; i++)
	{
		char	   *value;
		ListCell   *lc;
		bool		seen = false;

		if (nulls[i])
			continue;
		value = TextDatumGetCString(elems[i]);
		foreach(lc, entry->values)
			if (strcmp(lfirst(lc), value) == 0)
				seen = true;
		if (!seen)
			entry->values = lappend(entry->values, value);
	}
	MemoryContextSwitchTo(old);
	PG_RETURN_BOOL(true);
}
