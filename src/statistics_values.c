/*
 * statistics_values.c
 *		Which of some values the planner's statistics of a column hold.
 *
 * Erasure asks, for each table it is about to change, whether the
 * statistics ANALYZE left (most common values, histogram bounds, most
 * common elements; pg_statistic, shown by pg_stats) hold a value of the
 * erased subject's rows, so that it can refresh them. Reading the values
 * in SQL means printing and re-parsing whole arrays per call; here each
 * sampled value is printed with its type's output function and compared
 * with the given texts, without the executor.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_statistic.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"

PG_FUNCTION_INFO_V1(privacy_statistics_values);

/*
 * Adds to *found (an array of texts) those of the texts in wanted[] that
 * are among the values of the statistics tuple's slots.
 */
static void
statistics_tuple_values(HeapTuple tuple, Datum *wanted, bool *wanted_nulls, int nwanted,
						bool *found)
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
		if (sslot.nvalues == 0)
		{
			free_attstatsslot(&sslot);
			continue;
		}
		getTypeOutputInfo(sslot.valuetype, &typoutput, &typisvarlena);
		for (int v = 0; v < sslot.nvalues; v++)
		{
			char	   *text = OidOutputFunctionCall(typoutput, sslot.values[v]);
			size_t		len = strlen(text);

			for (int w = 0; w < nwanted; w++)
			{
				if (found[w] || wanted_nulls[w])
					continue;
				if (VARSIZE_ANY_EXHDR(DatumGetPointer(wanted[w])) == len &&
					memcmp(VARDATA_ANY(DatumGetPointer(wanted[w])), text, len) == 0)
					found[w] = true;
			}
			pfree(text);
		}
		free_attstatsslot(&sslot);
	}
}

/*
 * privacy._statistics_values(rel oid, attnum smallint, wanted text[])
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
	Datum	   *wanted;
	bool	   *wanted_nulls;
	bool	   *found;
	int			nwanted;
	int			nfound = 0;
	Datum	   *result;

	if (ARR_ELEMTYPE(wanted_array) != TEXTOID)
		elog(ERROR, "privacy._statistics_values() takes a text array");
	deconstruct_array(wanted_array, TEXTOID, -1, false, TYPALIGN_INT,
					  &wanted, &wanted_nulls, &nwanted);
	if (nwanted == 0)
		PG_RETURN_NULL();
	found = palloc0(sizeof(bool) * nwanted);

	for (int inherited = 0; inherited <= 1; inherited++)
	{
		HeapTuple	tuple = SearchSysCache3(STATRELATTINH, ObjectIdGetDatum(relid),
											Int16GetDatum(attnum), BoolGetDatum(inherited != 0));

		if (!HeapTupleIsValid(tuple))
			continue;
		statistics_tuple_values(tuple, wanted, wanted_nulls, nwanted, found);
		ReleaseSysCache(tuple);
	}

	result = palloc(sizeof(Datum) * nwanted);
	for (int w = 0; w < nwanted; w++)
		if (found[w])
			result[nfound++] = wanted[w];
	if (nfound == 0)
		PG_RETURN_NULL();
	PG_RETURN_ARRAYTYPE_P(construct_array(result, nfound, TEXTOID, -1, false, TYPALIGN_INT));
}
