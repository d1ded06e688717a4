/*
 * shard_statistics.c
 *		The erasure and the planner's statistics of the shards of a table
 *		Citus manages: removing, in the shard's part of the erasure's
 *		transaction, the values the erasure took out of the shard.
 *
 * On one server the erasure looks the values of the subject's rows up in
 * the table's statistics and removes those no row holds any more
 * (erasure_statistics.c). A table Citus manages keeps no statistics on
 * the coordinator: each shard has its own, on the node that holds it. So
 * the erasure's DELETE of such a table has, as its last condition, a call
 * of privacy_internal._erased_from_shard(t0.tableoid, the names of its
 * classified columns, t0.*) with the row, which Citus runs where the row
 * is deleted (it allows immutable functions of a row in a DELETE, and runs
 * them on the shard; a value's conversion to text is not always
 * immutable, so the call converts the values itself). The call notes the
 * shard, the columns and the values (an array's elements too); before that
 * node's part of the transaction commits (or is prepared for two-phase
 * commit), the values the shard's statistics hold and no row of the shard
 * has any more (looked for in its first rows, as on one server) are
 * removed from them, as ANALYZE would drop them (or the shard is analyzed
 * again where they cannot be edited). Where the statistics hold none of
 * them, which is the common case, that costs a look-up in this backend's
 * cache of the statistics' values. Nothing of the values leaves the node,
 * and a transaction that rolls back removes nothing.
 *
 * The call checks that the current user owns the shard: the erasure runs
 * its statements as the table's owner.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "parser/parse_coerce.h"
#include "storage/lmgr.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/typcache.h"

#include "base/extension_objects.h"
#include "base/qualified_name.h"
#include "rights/erasure.h"

PG_FUNCTION_INFO_V1(privacy_erased_from_shard);

/* The values of one column of one relation that the erasure took out. */
typedef struct ErasedColumn
{
	Oid			relid;
	char	   *column;
	List	   *values;			/* of char *, as noted (repeats included) */
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

/*
 * Whether one of the relation's first rows still holds value in the column
 * (as text, or as an element), as the erasure asks on one server: a value
 * found in none of them is taken as gone, and at worst the statistics
 * lose a value some later row still has.
 */
static bool
still_held(const char *relation, const char *column, bool is_array, const char *value)
{
	Oid			argtype = TEXTOID;
	Datum		arg = CStringGetTextDatum(value);
	const char *quoted = quote_identifier(column);
	SPIPlanPtr	plan;
	bool		isnull;

	/*
	 * Kept for the session, one generic plan (the shard is a table of this
	 * node): a worker session erases subject after subject.
	 */
	plan = privacy_cached_plan(psprintf("SELECT EXISTS (SELECT FROM (SELECT * FROM %s LIMIT 1000) r"
										" WHERE r.%s::pg_catalog.text OPERATOR(pg_catalog.=) $1%s)",
										relation, quoted,
										is_array ? psprintf(" OR $1 OPERATOR(pg_catalog.=) ANY (r.%s::pg_catalog.text[])",
															quoted) : ""),
							   true, true, 1, &argtype);
	if (SPI_execute_plan(plan, &arg, NULL, true, 1) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "could not look for a value in a shard");
	return DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
}

static int
compare_values(const ListCell *a, const ListCell *b)
{
	return strcmp(lfirst(a), lfirst(b));
}

/*
 * The values noted for one column that its statistics hold, as a text[];
 * NULL if none (or the column or its statistics are gone). Read without a
 * lock: the removal reads the statistics again under one.
 */
static ArrayType *
values_held(ErasedColumn *entry, AttrNumber *attnum)
{
	Datum	   *elems;
	int			n = 0;
	const char *last = NULL;
	ListCell   *lc;
	ArrayType  *held;

	*attnum = get_attnum(entry->relid, entry->column);
	if (*attnum == InvalidAttrNumber)
		return NULL;
	/* each value once: a subject's rows repeat many of them */
	list_sort(entry->values, compare_values);
	elems = palloc(sizeof(Datum) * list_length(entry->values));
	foreach(lc, entry->values)
	{
		const char *value = lfirst(lc);

		if (last == NULL || strcmp(value, last) != 0)
			elems[n++] = CStringGetTextDatum(value);
		last = value;
	}
	held = statistics_values_held(entry->relid, *attnum,
								  construct_array(elems, n, TEXTOID, -1, false, TYPALIGN_INT));
	return (held != NULL && ArrayGetNItems(ARR_NDIM(held), ARR_DIMS(held)) > 0) ? held : NULL;
}

/*
 * Removes from the statistics of one column the held values no row holds
 * any more; inside SPI, as the relation's owner. Whether the relation must
 * be analyzed again instead.
 */
static bool
remove_gone(ErasedColumn *entry, const char *relation, AttrNumber attnum, ArrayType *held)
{
	Datum	   *held_elems;
	bool	   *held_nulls;
	int			nheld;
	Datum	   *gone;
	int			ngone = 0;
	/* as note_value() splits it: a domain over an array is an array too */
	bool		is_array = TypeCategory(get_atttype(entry->relid, attnum)) == TYPCATEGORY_ARRAY;

	deconstruct_array(held, TEXTOID, -1, false, TYPALIGN_INT, &held_elems, &held_nulls, &nheld);
	gone = palloc(sizeof(Datum) * Max(nheld, 1));
	for (int i = 0; i < nheld; i++)
		if (!held_nulls[i] &&
			!still_held(relation, entry->column, is_array, TextDatumGetCString(held_elems[i])))
			gone[ngone++] = held_elems[i];
	if (ngone == 0)
		return false;
	return statistics_values_remove(entry->relid, attnum,
									construct_array(gone, ngone, TEXTOID, -1, false, TYPALIGN_INT)) < 0;
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
		AttrNumber	attnum = InvalidAttrNumber;
		ArrayType  *held = values_held(entry, &attnum);
		char	   *relation;
		PrivacyUserContext save;
		bool		analyze;

		/* the common case: the shard's statistics hold none of the values */
		if (held == NULL || (relation = privacy_qualified_name(entry->relid)) == NULL)
			continue;
		/* what ANALYZE takes, so that none changes the statistics meanwhile */
		LockRelationOid(entry->relid, ShareUpdateExclusiveLock);
		privacy_begin_as_role(privacy_relation_owner(entry->relid), SECURITY_NOFORCE_RLS, &save);
		/* no statement runs at commit: the queries below need a snapshot */
		PushActiveSnapshot(GetTransactionSnapshot());
		PG_TRY();
		{
			if (SPI_connect() != SPI_OK_CONNECT)
				elog(ERROR, "could not connect to SPI");
			analyze = remove_gone(entry, relation, attnum, held);
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
 * Notes the text of a deleted row's value of one column, as the erasure
 * reads it on one server (the value as text and, for an array, the text of
 * each element), in TopTransactionContext.
 */
static void
note_value(Oid relid, const char *column, Oid type, Datum value)
{
	ErasedColumn *entry = erased_column(relid, column);
	Oid			output;
	bool		varlena;

	getTypeOutputInfo(type, &output, &varlena);
	entry->values = lappend(entry->values, OidOutputFunctionCall(output, value));
	if (TypeCategory(type) == TYPCATEGORY_ARRAY)
	{
		ArrayType  *array = DatumGetArrayTypeP(value);
		Oid			element = ARR_ELEMTYPE(array);
		int16		len;
		bool		byval;
		char		align;
		Datum	   *elems;
		bool	   *nulls;
		int			n;

		get_typlenbyvalalign(element, &len, &byval, &align);
		deconstruct_array(array, element, len, byval, align, &elems, &nulls, &n);
		getTypeOutputInfo(element, &output, &varlena);
		for (int i = 0; i < n; i++)
			if (!nulls[i])
				entry->values = lappend(entry->values, OidOutputFunctionCall(output, elems[i]));
	}
}

/*
 * privacy_internal._erased_from_shard(rel regclass, column_names text[],
 * deleted_row record) → true: notes the values of the named columns of a
 * row an erasure deleted from rel, to be removed from its statistics when
 * the transaction commits. The erasure's DELETE passes its whole row, so
 * that its condition holds no conversion to text, which Citus would refuse
 * where it is not immutable (a date's, a time's, an array's).
 */
Datum
privacy_erased_from_shard(PG_FUNCTION_ARGS)
{
	Oid			relid;
	Datum	   *names;
	bool	   *name_nulls;
	int			nnames;
	HeapTupleHeader row;
	TupleDesc	desc;
	HeapTupleData tuple;
	MemoryContext old;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2))
		PG_RETURN_BOOL(true);
	relid = PG_GETARG_OID(0);
	if (!pg_class_ownercheck(relid, GetUserId()))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("must be owner of table %s", get_rel_name(relid)),
				 errdetail("Only an erasure, which runs as the table's owner, notes the values it removed.")));
	deconstruct_array(PG_GETARG_ARRAYTYPE_P(1), TEXTOID, -1, false, TYPALIGN_INT, &names, &name_nulls, &nnames);
	row = PG_GETARG_HEAPTUPLEHEADER(2);
	desc = lookup_rowtype_tupdesc(HeapTupleHeaderGetTypeId(row), HeapTupleHeaderGetTypMod(row));
	tuple.t_len = HeapTupleHeaderGetDatumLength(row);
	ItemPointerSetInvalid(&tuple.t_self);
	tuple.t_tableOid = InvalidOid;
	tuple.t_data = row;

	if (!callback_registered)
	{
		RegisterXactCallback(shard_statistics_xact_callback, NULL);
		callback_registered = true;
	}
	old = MemoryContextSwitchTo(TopTransactionContext);
	for (int i = 0; i < nnames; i++)
	{
		char	   *column;
		int			attno = 0;
		bool		isnull;
		Datum		value;

		if (name_nulls[i])
			continue;
		column = TextDatumGetCString(names[i]);
		for (int k = 0; k < desc->natts && attno == 0; k++)
			if (!TupleDescAttr(desc, k)->attisdropped && strcmp(NameStr(TupleDescAttr(desc, k)->attname), column) == 0)
				attno = k + 1;
		if (attno == 0)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("column \"%s\" of table %s does not exist", column, get_rel_name(relid))));
		value = heap_getattr(&tuple, attno, desc, &isnull);
		if (!isnull)
			note_value(relid, column, TupleDescAttr(desc, attno - 1)->atttypid, value);
	}
	MemoryContextSwitchTo(old);
	ReleaseTupleDesc(desc);
	PG_RETURN_BOOL(true);
}
