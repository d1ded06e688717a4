/*
 * erasure_statistics.c
 *		The erasure and the planner's statistics: which values of the
 *		subject's rows of a table the statistics hold (pg_statistic, read by
 *		privacy_internal._statistics_values() and its backend-local cache, and for
 *		extended statistics privacy_internal._statistics_matches()), which of those
 *		the erasure took out of the table, and removing them from the
 *		statistics (privacy_internal._refresh_statistics()).
 *
 * The values are those of the subject's rows before the erasure changed
 * them: the erasure's own statement of the table reads them in its
 * snapshot (subject_statements.c), or on the careful way a statement of
 * their own does first. They are computed as the table's owner (index
 * expressions, casts to text); the statistics are read as the extension's
 * owner.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"

#include "rights/erasure.h"

static SPIPlanPtr matches_plan = NULL;
static SPIPlanPtr refresh_plan = NULL;

static void
add_pair(StatisticsValues *set, int entry, const char *value, int capacity)
{
	for (int i = 0; i < set->n; i++)
		if (set->entries[i] == entry && strcmp(set->values[i], value) == 0)
			return;
	Assert(set->n < capacity);
	set->entries[set->n] = entry;
	set->values[set->n] = pstrdup(value);
	set->n++;
}

/* Adds a pair to found unless it holds it, growing found as needed. */
static void
add_found(StatisticsValues *found, int entry, const char *value, int *capacity)
{
	if (found->n == *capacity)
	{
		*capacity = Max(16, *capacity * 2);
		if (found->entries == NULL)
		{
			found->entries = palloc(sizeof(int) * *capacity);
			found->values = palloc(sizeof(char *) * *capacity);
		}
		else
		{
			found->entries = repalloc(found->entries, sizeof(int) * *capacity);
			found->values = repalloc(found->values, sizeof(char *) * *capacity);
		}
	}
	add_pair(found, entry, value, *capacity);
}

/*
 * Adds to found the values of the rows SPI returned from row first on,
 * where column marker_col (if not 0) is not null: one text[] per entry of
 * the table, from column first_col on.
 */
void
erasure_statistics_read_rows(SubjectTable *table, int marker_col, int first_col,
							 StatisticsValues *found)
{
	int			capacity = found->n;

	for (uint64 row = 0; row < SPI_processed; row++)
	{
		HeapTuple	tuple = SPI_tuptable->vals[row];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;

		if (marker_col > 0)
		{
			(void) SPI_getbinval(tuple, desc, marker_col, &isnull);
			if (isnull)
				continue;
		}
		for (int i = 0; i < table->nstatistics; i++)
		{
			Datum		d = SPI_getbinval(tuple, desc, first_col + i, &isnull);
			Datum	   *elems;
			bool	   *nulls;
			int			n;

			if (isnull)
				continue;
			deconstruct_array(DatumGetArrayTypeP(d), TEXTOID, -1, false, TYPALIGN_INT,
							  &elems, &nulls, &n);
			for (int k = 0; k < n; k++)
				if (!nulls[k])
					add_found(found, i, TextDatumGetCString(elems[k]), &capacity);
		}
	}
}

/* Adds the pairs of more to found. */
void
erasure_statistics_merge(StatisticsValues *found, const StatisticsValues *more)
{
	int			capacity = found->n;

	for (int i = 0; i < more->n; i++)
		add_found(found, more->entries[i], more->values[i], &capacity);
}

/*
 * Reads the (entry, value) pairs a statement returned as an int4[] (entry
 * numbers from 1) and a text[] in columns entries_col and values_col.
 */
void
erasure_statistics_read(int entries_col, int values_col, StatisticsValues *found)
{
	bool		isnull;
	Datum		d;
	Datum	   *entries;
	Datum	   *values;
	bool	   *nulls;
	int			n;
	int			nvalues;

	found->n = 0;
	d = rights_result(entries_col, &isnull);
	if (isnull)
		return;
	deconstruct_array(DatumGetArrayTypeP(d), INT4OID, 4, true, TYPALIGN_INT, &entries, &nulls, &n);
	d = rights_result(values_col, &isnull);
	if (isnull)
		return;
	deconstruct_array(DatumGetArrayTypeP(d), TEXTOID, -1, false, TYPALIGN_INT, &values, &nulls, &nvalues);
	if (n != nvalues)
		elog(ERROR, "statistics values and their entries do not pair up");
	found->entries = palloc(sizeof(int) * Max(n, 1));
	found->values = palloc(sizeof(char *) * Max(n, 1));
	for (int i = 0; i < n; i++)
	{
		found->entries[i] = DatumGetInt32(entries[i]) - 1;
		found->values[i] = TextDatumGetCString(values[i]);
	}
	found->n = n;
}

/* The values of the subject's rows of the table, read as its owner. */
void
erasure_statistics_values(SubjectKind *kind, SubjectTable *table, const char *key,
						  StatisticsValues *found)
{
	Datum		values[1] = {CStringGetTextDatum(key)};

	found->n = 0;
	if (table->nstatistics == 0)
		return;
	if (rights_run_as_owner(kind, &table->statistics_values, true, table->owner, table->name, true,
							values, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read the statistics values of a subject's rows");
	erasure_statistics_read(1, 2, found);
}

/* A text[] of the values of entry i in found. */
static ArrayType *
values_of_entry(const StatisticsValues *found, int entry, int *n)
{
	Datum	   *elems = palloc(sizeof(Datum) * Max(found->n, 1));

	*n = 0;
	for (int i = 0; i < found->n; i++)
		if (found->entries[i] == entry)
			elems[(*n)++] = CStringGetTextDatum(found->values[i]);
	return construct_array(elems, *n, TEXTOID, -1, false, TYPALIGN_INT);
}

/* Adds the values of an extended statistics match (a jsonb [[name, value], ...]). */
static void
add_extended_matches(SubjectTable *table, Jsonb *pairs, StatisticsValues *matches, int capacity)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	int			depth = 0;
	char	   *name = NULL;
	int			position = 0;

	if (pairs == NULL)
		return;
	it = JsonbIteratorInit(&pairs->root);
	while ((tok = JsonbIteratorNext(&it, &v, false)) != WJB_DONE)
	{
		if (tok == WJB_BEGIN_ARRAY)
		{
			depth++;
			position = 0;
		}
		else if (tok == WJB_END_ARRAY)
			depth--;
		else if (tok == WJB_ELEM && depth == 2 && v.type == jbvString)
		{
			char	   *s = pnstrdup(v.val.string.val, v.val.string.len);

			if (position++ == 0)
				name = s;
			else
				for (int i = 0; i < table->nstatistics; i++)
					if (strcmp(table->statistics[i].name, name) == 0)
						add_pair(matches, i, s, capacity);
		}
	}
}

/*
 * The (entry, value) pairs of found that the statistics hold: for columns
 * and index expressions, in pg_statistic of each target; for extended
 * statistics, in their data.
 */
void
erasure_statistics_match(SubjectKind *kind, SubjectTable *table, const StatisticsValues *found,
						 StatisticsValues *matches)
{
	JsonbParseState *state = NULL;
	bool		extended = false;

	matches->n = 0;
	if (found->n == 0)
		return;
	matches->entries = palloc(sizeof(int) * found->n);
	matches->values = palloc(sizeof(char *) * found->n);
	pushJsonbValue(&state, WJB_BEGIN_ARRAY, NULL);
	for (int i = 0; i < table->nstatistics; i++)
	{
		SubjectStatistic *s = &table->statistics[i];
		int			n;
		ArrayType  *wanted = values_of_entry(found, i, &n);

		if (n == 0)
			continue;
		if (s->extended)
		{
			Datum	   *elems;
			bool	   *nulls;
			int			nelems;

			pushJsonbValue(&state, WJB_BEGIN_ARRAY, NULL);
			rights_push_string(&state, WJB_ELEM, s->name);
			pushJsonbValue(&state, WJB_BEGIN_ARRAY, NULL);
			deconstruct_array(wanted, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &nelems);
			for (int k = 0; k < nelems; k++)
				rights_push_string(&state, WJB_ELEM, TextDatumGetCString(elems[k]));
			pushJsonbValue(&state, WJB_END_ARRAY, NULL);
			rights_push_bool(&state, WJB_ELEM, true);
			pushJsonbValue(&state, WJB_END_ARRAY, NULL);
			extended = true;
			continue;
		}
		for (int k = 0; k < s->ntargets; k++)
		{
			ArrayType  *held = statistics_values_held(s->target_relids[k], s->target_attnums[k], wanted);
			Datum	   *elems;
			bool	   *nulls;
			int			nelems;

			if (held == NULL)
				continue;
			deconstruct_array(held, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &nelems);
			for (int e = 0; e < nelems; e++)
				add_pair(matches, i, TextDatumGetCString(elems[e]), found->n);
		}
	}
	if (extended)
	{
		Oid			argtypes[2] = {REGCLASSOID, JSONBOID};
		Datum		values[2];
		bool		isnull;
		Datum		d;

		values[0] = ObjectIdGetDatum(table->relid);
		values[1] = JsonbPGetDatum(JsonbValueToJsonb(pushJsonbValue(&state, WJB_END_ARRAY, NULL)));
		if (rights_run_kept(&matches_plan,
							"SELECT privacy_internal._statistics_matches($1, $2, '{}'::pg_catalog.jsonb)",
							2, argtypes, values, NULL, false, 1) != SPI_OK_SELECT)
			elog(ERROR, "could not match extended statistics");
		d = rights_result(1, &isnull);
		if (!isnull)
			add_extended_matches(table, DatumGetJsonbP(d), matches, found->n);
	}
}

/*
 * The matched values that no row of the table holds any more (checked in
 * its first rows, as its owner), as a jsonb [[name, value], ...]; NULL if
 * none.
 */
Jsonb *
erasure_statistics_gone(SubjectKind *kind, SubjectTable *table, const StatisticsValues *matches)
{
	JsonbParseState *state = NULL;
	int			gone = 0;

	pushJsonbValue(&state, WJB_BEGIN_ARRAY, NULL);
	for (int i = 0; i < matches->n; i++)
	{
		SubjectStatistic *s = &table->statistics[matches->entries[i]];
		Datum		values[1] = {CStringGetTextDatum(matches->values[i])};
		bool		isnull;

		if (rights_run_as_owner(kind, &s->still_there, true, table->owner, table->name, true,
								values, NULL, false, 1) != SPI_OK_SELECT)
			elog(ERROR, "could not check a statistics value");
		if (DatumGetBool(rights_result(1, &isnull)))
			continue;
		pushJsonbValue(&state, WJB_BEGIN_ARRAY, NULL);
		rights_push_string(&state, WJB_ELEM, s->name);
		rights_push_string(&state, WJB_ELEM, matches->values[i]);
		pushJsonbValue(&state, WJB_END_ARRAY, NULL);
		gone++;
	}
	if (gone == 0)
		return NULL;
	return JsonbValueToJsonb(pushJsonbValue(&state, WJB_END_ARRAY, NULL));
}

/* Removes the values gone from the table's statistics. */
void
erasure_statistics_refresh(SubjectTable *table, Jsonb *gone)
{
	JsonbParseState *state = NULL;
	Oid			argtypes[3] = {REGCLASSOID, JSONBOID, JSONBOID};
	Datum		values[3];

	pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
	for (int i = 0; i < table->nstatistics; i++)
	{
		SubjectStatistic *s = &table->statistics[i];

		if (s->extended || s->ntargets == 0)
			continue;
		rights_push_key(&state, s->name);
		pushJsonbValue(&state, WJB_BEGIN_ARRAY, NULL);
		for (int k = 0; k < s->ntargets; k++)
		{
			pushJsonbValue(&state, WJB_BEGIN_ARRAY, NULL);
			rights_push_string(&state, WJB_ELEM, s->target_names[k]);
			rights_push_int(&state, WJB_ELEM, s->target_attnums[k]);
			pushJsonbValue(&state, WJB_END_ARRAY, NULL);
		}
		pushJsonbValue(&state, WJB_END_ARRAY, NULL);
	}
	values[0] = ObjectIdGetDatum(table->relid);
	values[1] = JsonbPGetDatum(gone);
	values[2] = JsonbPGetDatum(rights_finish_object(&state));
	if (rights_run_kept(&refresh_plan, "SELECT privacy_internal._refresh_statistics($1, $2, $3)",
						3, argtypes, values, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not refresh statistics");
}
