/*
 * statistics_values.c
 *		Which of some values the planner's statistics of a column hold, and
 *		removing values from them.
 *
 * Erasure asks, for each table it is about to change, whether the
 * statistics ANALYZE left (most common values, histogram bounds, most
 * common elements; pg_statistic, shown by pg_stats) hold a value of the
 * erased subject's rows. Each column's sampled values are printed once
 * with their type's output function and kept, sorted, in a backend-local
 * cache until the column's rows of pg_statistic change (ANALYZE or an
 * erasure's removal, here or in another session), so that the question
 * costs a binary search per value; other columns stay cached. A value that
 * the erasure removed from the table is then removed from the statistics
 * too (with its frequency), in the erasure's transaction: what ANALYZE
 * would drop, without sampling the table again.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/indexing.h"
#include "catalog/pg_statistic.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/syscache.h"

#include "rights/erasure.h"

PG_FUNCTION_INFO_V1(privacy_statistics_values);

typedef struct StatisticsKey
{
	Oid			relid;
	int16		attnum;
} StatisticsKey;

/* The sampled values of one column (own and inherited statistics), sorted. */
typedef struct StatisticsEntry
{
	StatisticsKey key;
	uint32		hashes[2];		/* catalog cache hashes of its own and inherited rows */
	int			nvalues;
	char	  **values;
} StatisticsEntry;

static HTAB *statistics_cache = NULL;
static MemoryContext statistics_cache_context = NULL;
static bool statistics_callback_registered = false;

/* The rows of the column being read into the cache, and whether they changed meanwhile. */
static uint32 reading_hashes[2];
static bool reading = false;
static bool reading_changed = false;

/* The catalog cache hashes of the pg_statistic rows of a column (own, inherited). */
static void
statistics_hashes(Oid relid, int16 attnum, uint32 *hashes)
{
	for (int inherited = 0; inherited <= 1; inherited++)
		hashes[inherited] = GetSysCacheHashValue3(STATRELATTINH, ObjectIdGetDatum(relid),
												  Int16GetDatum(attnum), BoolGetDatum(inherited != 0));
}

/*
 * A change of a row of pg_statistic forgets its column; a reset of the
 * catalog caches (hash 0) empties the cache.
 */
static void
statistics_cache_invalidate(Datum arg, int cacheid, uint32 hashvalue)
{
	HASH_SEQ_STATUS status;
	StatisticsEntry *entry;

	if (reading && (hashvalue == 0 || hashvalue == reading_hashes[0] || hashvalue == reading_hashes[1]))
		reading_changed = true;
	if (hashvalue == 0)
	{
		if (statistics_cache_context != NULL)
			MemoryContextReset(statistics_cache_context);
		statistics_cache = NULL;
		return;
	}
	if (statistics_cache == NULL)
		return;
	hash_seq_init(&status, statistics_cache);
	while ((entry = (StatisticsEntry *) hash_seq_search(&status)) != NULL)
	{
		if (entry->hashes[0] != hashvalue && entry->hashes[1] != hashvalue)
			continue;
		for (int i = 0; i < entry->nvalues; i++)
			pfree(entry->values[i]);
		pfree(entry->values);
		(void) hash_search(statistics_cache, &entry->key, HASH_REMOVE, NULL);
	}
}

static int
compare_strings(const void *a, const void *b)
{
	return strcmp(*(const char *const *) a, *(const char *const *) b);
}

/* Appends the text of every value of the statistics tuple's slots. */
static void
collect_tuple_values(HeapTuple tuple, char ***values, int *nvalues, int *capacity)
{
	Form_pg_statistic stats = (Form_pg_statistic) GETSTRUCT(tuple);
	int16		kinds[STATISTIC_NUM_SLOTS] = {stats->stakind1, stats->stakind2, stats->stakind3,
	stats->stakind4, stats->stakind5};

	for (int slot = 0; slot < STATISTIC_NUM_SLOTS; slot++)
	{
		AttStatsSlot sslot;
		Oid			typoutput;
		bool		typisvarlena;
		bool		isnull;

		/* Slots such as the correlation's hold numbers only. */
		if (kinds[slot] == 0)
			continue;
		(void) SysCacheGetAttr(STATRELATTINH, tuple, Anum_pg_statistic_stavalues1 + slot, &isnull);
		if (isnull)
			continue;
		if (!get_attstatsslot(&sslot, tuple, kinds[slot], InvalidOid, ATTSTATSSLOT_VALUES))
			continue;
		getTypeOutputInfo(sslot.valuetype, &typoutput, &typisvarlena);
		for (int v = 0; v < sslot.nvalues; v++)
		{
			if (*nvalues == *capacity)
			{
				*capacity *= 2;
				*values = repalloc(*values, sizeof(char *) * *capacity);
			}
			(*values)[(*nvalues)++] = OidOutputFunctionCall(typoutput, sslot.values[v]);
		}
		free_attstatsslot(&sslot);
	}
}

/* The cache entry of a column, read from pg_statistic if it is not cached. */
static StatisticsEntry *
statistics_entry(Oid relid, int16 attnum)
{
	StatisticsKey key;
	StatisticsEntry *entry;
	bool		found;
	MemoryContext old;
	int			capacity = 64;

	if (!statistics_callback_registered)
	{
		CacheRegisterSyscacheCallback(STATRELATTINH, statistics_cache_invalidate, (Datum) 0);
		statistics_callback_registered = true;
	}
	if (statistics_cache_context == NULL)
		statistics_cache_context = AllocSetContextCreate(TopMemoryContext, "privacy statistics values",
														 ALLOCSET_DEFAULT_SIZES);
	if (statistics_cache == NULL)
	{
		HASHCTL		ctl;

		ctl.keysize = sizeof(StatisticsKey);
		ctl.entrysize = sizeof(StatisticsEntry);
		ctl.hcxt = statistics_cache_context;
		statistics_cache = hash_create("privacy statistics values", 64, &ctl,
									   HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}

	memset(&key, 0, sizeof(key));
	key.relid = relid;
	key.attnum = attnum;
	entry = hash_search(statistics_cache, &key, HASH_FIND, NULL);
	if (entry != NULL)
		return entry;

	statistics_hashes(relid, attnum, reading_hashes);
	reading = true;
	reading_changed = false;
	old = MemoryContextSwitchTo(statistics_cache_context);
	{
		char	  **values = palloc(sizeof(char *) * capacity);
		int			nvalues = 0;

		for (int inherited = 0; inherited <= 1; inherited++)
		{
			HeapTuple	tuple = SearchSysCache3(STATRELATTINH, ObjectIdGetDatum(relid),
												Int16GetDatum(attnum), BoolGetDatum(inherited != 0));

			if (!HeapTupleIsValid(tuple))
				continue;
			collect_tuple_values(tuple, &values, &nvalues, &capacity);
			ReleaseSysCache(tuple);
		}
		qsort(values, nvalues, sizeof(char *), compare_strings);
		MemoryContextSwitchTo(old);
		reading = false;

		/*
		 * Reading the catalog may have processed an invalidation of the
		 * column's rows or one that emptied the cache; then read them afresh.
		 */
		if (statistics_cache == NULL)
			return statistics_entry(relid, attnum);
		if (reading_changed)
		{
			for (int i = 0; i < nvalues; i++)
				pfree(values[i]);
			pfree(values);
			return statistics_entry(relid, attnum);
		}
		entry = hash_search(statistics_cache, &key, HASH_ENTER, &found);
		memcpy(entry->hashes, reading_hashes, sizeof(entry->hashes));
		entry->nvalues = nvalues;
		entry->values = values;
	}
	return entry;
}

/*
 * privacy_internal._statistics_values(rel oid, attnum smallint, wanted text[])
 *		The texts of wanted that are the text of a value the statistics of
 *		column attnum of rel (a table or an index; its own and, for a
 *		parent, its inherited statistics) hold; NULL when none is.
 */
Datum
privacy_statistics_values(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	int16		attnum = PG_GETARG_INT16(1);
	ArrayType  *wanted_array = PG_GETARG_ARRAYTYPE_P(2);
	StatisticsEntry *entry;
	Datum	   *wanted;
	bool	   *wanted_nulls;
	int			nwanted;
	int			nfound = 0;
	Datum	   *result;

	if (ARR_ELEMTYPE(wanted_array) != TEXTOID)
		elog(ERROR, "privacy_internal._statistics_values() takes a text array");
	deconstruct_array(wanted_array, TEXTOID, -1, false, TYPALIGN_INT,
					  &wanted, &wanted_nulls, &nwanted);
	entry = statistics_entry(relid, attnum);
	if (nwanted == 0 || entry->nvalues == 0)
		PG_RETURN_NULL();

	result = palloc(sizeof(Datum) * nwanted);
	for (int w = 0; w < nwanted; w++)
	{
		char	   *value;

		if (wanted_nulls[w])
			continue;
		value = TextDatumGetCString(wanted[w]);
		if (bsearch(&value, entry->values, entry->nvalues, sizeof(char *), compare_strings) != NULL)
			result[nfound++] = wanted[w];
		pfree(value);
	}
	if (nfound == 0)
		PG_RETURN_NULL();
	PG_RETURN_ARRAYTYPE_P(construct_array(result, nfound, TEXTOID, -1, false, TYPALIGN_INT));
}

/*
 * Removes from one pg_statistic tuple the slot values whose text is in gone
 * (sorted C strings), with their frequencies; *removed counts them. Only
 * most common values, histogram bounds and most common elements are
 * edited; a value found in a slot of another kind sets *unedited.
 */
static HeapTuple
remove_tuple_values(Relation statrel, HeapTuple tuple, char **gone, int ngone,
					int *removed, bool *unedited)
{
	TupleDesc	desc = RelationGetDescr(statrel);
	Datum		values[Natts_pg_statistic];
	bool		nulls[Natts_pg_statistic];
	bool		replace[Natts_pg_statistic];
	bool		changed = false;

	heap_deform_tuple(tuple, desc, values, nulls);
	memset(replace, 0, sizeof(replace));

	for (int slot = 0; slot < STATISTIC_NUM_SLOTS; slot++)
	{
		int			kind_att = Anum_pg_statistic_stakind1 - 1 + slot;
		int			op_att = Anum_pg_statistic_staop1 - 1 + slot;
		int			coll_att = Anum_pg_statistic_stacoll1 - 1 + slot;
		int			numbers_att = Anum_pg_statistic_stanumbers1 - 1 + slot;
		int			values_att = Anum_pg_statistic_stavalues1 - 1 + slot;
		int16		kind = DatumGetInt16(values[kind_att]);
		ArrayType  *array;
		Oid			elemtype;
		int16		typlen;
		bool		typbyval;
		char		typalign;
		Datum	   *elems;
		bool	   *elemnulls;
		int			nelems;
		Oid			typoutput;
		bool		typisvarlena;
		bool	   *keep;
		int			nkeep = 0;
		int			minimum;

		if (kind == 0 || nulls[values_att])
			continue;
		array = DatumGetArrayTypeP(values[values_att]);
		elemtype = ARR_ELEMTYPE(array);
		get_typlenbyvalalign(elemtype, &typlen, &typbyval, &typalign);
		deconstruct_array(array, elemtype, typlen, typbyval, typalign, &elems, &elemnulls, &nelems);
		getTypeOutputInfo(elemtype, &typoutput, &typisvarlena);
		keep = palloc(sizeof(bool) * nelems);
		for (int i = 0; i < nelems; i++)
		{
			char	   *shown = elemnulls[i] ? NULL : OidOutputFunctionCall(typoutput, elems[i]);

			keep[i] = shown == NULL ||
				bsearch(&shown, gone, ngone, sizeof(char *), compare_strings) == NULL;
			if (keep[i])
				nkeep++;
		}
		if (nkeep == nelems)
			continue;
		if (kind != STATISTIC_KIND_MCV && kind != STATISTIC_KIND_HISTOGRAM &&
			kind != STATISTIC_KIND_MCELEM)
		{
			*unedited = true;
			continue;
		}
		*removed += nelems - nkeep;
		changed = true;
		replace[kind_att] = replace[op_att] = replace[coll_att] = true;
		replace[numbers_att] = replace[values_att] = true;

		/* A histogram needs two bounds; a list, one value. */
		minimum = kind == STATISTIC_KIND_HISTOGRAM ? 2 : 1;
		if (nkeep < minimum)
		{
			values[kind_att] = Int16GetDatum(0);
			values[op_att] = ObjectIdGetDatum(InvalidOid);
			values[coll_att] = ObjectIdGetDatum(InvalidOid);
			nulls[numbers_att] = nulls[values_att] = true;
			continue;
		}
		{
			Datum	   *kept = palloc(sizeof(Datum) * nkeep);
			int			k = 0;

			for (int i = 0; i < nelems; i++)
				if (keep[i])
					kept[k++] = elems[i];
			values[values_att] = PointerGetDatum(construct_array(kept, nkeep, elemtype,
																 typlen, typbyval, typalign));
		}
		/*
		 * Most common values and elements have one frequency per value
		 * (elements then three more: minimum, maximum, null frequency).
		 */
		if (kind != STATISTIC_KIND_HISTOGRAM && !nulls[numbers_att])
		{
			ArrayType  *numbers = DatumGetArrayTypeP(values[numbers_att]);
			Datum	   *freqs;
			int			nfreqs;
			Datum	   *kept;
			int			k = 0;

			deconstruct_array(numbers, FLOAT4OID, sizeof(float4), true, TYPALIGN_INT,
							  &freqs, NULL, &nfreqs);
			kept = palloc(sizeof(Datum) * nfreqs);
			for (int i = 0; i < nfreqs; i++)
				if (i >= nelems || keep[i])
					kept[k++] = freqs[i];
			values[numbers_att] = PointerGetDatum(construct_array(kept, k, FLOAT4OID,
																  sizeof(float4), true, TYPALIGN_INT));
		}
	}
	if (!changed)
		return NULL;
	return heap_modify_tuple(tuple, desc, values, nulls, replace);
}

/*
 * privacy_internal._statistics_remove_values(rel oid, attnum smallint, gone text[])
 *		Removes the values whose text is in gone from the statistics of
 *		column attnum of rel (own and inherited), with their frequencies,
 *		within the current transaction; returns how many it removed, or -1
 *		if one of them is in statistics of a kind it does not edit (the
 *		caller then runs ANALYZE). The caller holds a SHARE UPDATE EXCLUSIVE
 *		lock on the table, as ANALYZE would.
 */
PG_FUNCTION_INFO_V1(privacy_statistics_remove_values);

Datum
privacy_statistics_remove_values(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	int16		attnum = PG_GETARG_INT16(1);
	ArrayType  *gone_array = PG_GETARG_ARRAYTYPE_P(2);
	Datum	   *gone_datums;
	bool	   *gone_nulls;
	int			ngone_datums;
	char	  **gone;
	int			ngone = 0;
	int			removed = 0;
	bool		unedited = false;
	Relation	statrel;

	if (ARR_ELEMTYPE(gone_array) != TEXTOID)
		elog(ERROR, "privacy_internal._statistics_remove_values() takes a text array");
	deconstruct_array(gone_array, TEXTOID, -1, false, TYPALIGN_INT,
					  &gone_datums, &gone_nulls, &ngone_datums);
	gone = palloc(sizeof(char *) * Max(ngone_datums, 1));
	for (int i = 0; i < ngone_datums; i++)
		if (!gone_nulls[i])
			gone[ngone++] = TextDatumGetCString(gone_datums[i]);
	if (ngone == 0)
		PG_RETURN_INT32(0);
	qsort(gone, ngone, sizeof(char *), compare_strings);

	statrel = table_open(StatisticRelationId, RowExclusiveLock);
	for (int inherited = 0; inherited <= 1; inherited++)
	{
		HeapTuple	tuple = SearchSysCacheCopy3(STATRELATTINH, ObjectIdGetDatum(relid),
												Int16GetDatum(attnum), BoolGetDatum(inherited != 0));
		HeapTuple	updated;

		if (!HeapTupleIsValid(tuple))
			continue;
		updated = remove_tuple_values(statrel, tuple, gone, ngone, &removed, &unedited);
		if (updated != NULL)
			CatalogTupleUpdate(statrel, &updated->t_self, updated);
		heap_freetuple(tuple);
	}
	table_close(statrel, RowExclusiveLock);
	PG_RETURN_INT32(unedited ? -1 : removed);
}

/* Calls one of the functions above with (relid, attnum, values). */
static Datum
call_with_values(PGFunction function, Oid relid, int16 attnum, ArrayType *values, bool *isnull)
{
	LOCAL_FCINFO(fcinfo, 3);
	Datum		result;

	InitFunctionCallInfoData(*fcinfo, NULL, 3, InvalidOid, NULL, NULL);
	fcinfo->args[0].value = ObjectIdGetDatum(relid);
	fcinfo->args[0].isnull = false;
	fcinfo->args[1].value = Int16GetDatum(attnum);
	fcinfo->args[1].isnull = false;
	fcinfo->args[2].value = PointerGetDatum(values);
	fcinfo->args[2].isnull = false;
	result = function(fcinfo);
	*isnull = fcinfo->isnull;
	return result;
}

ArrayType *
statistics_values_held(Oid relid, int16 attnum, ArrayType *wanted)
{
	bool		isnull;
	Datum		held = call_with_values(privacy_statistics_values, relid, attnum, wanted, &isnull);

	return isnull ? NULL : DatumGetArrayTypeP(held);
}

int
statistics_values_remove(Oid relid, int16 attnum, ArrayType *gone)
{
	bool		isnull;
	Datum		removed = call_with_values(privacy_statistics_remove_values, relid, attnum, gone, &isnull);

	return isnull ? 0 : DatumGetInt32(removed);
}
