/*
 * erasure_table.c
 *		The careful way of erasing a subject's rows of one table, for tables
 *		under a legal hold, with a retention rule that keeps rows (a legal
 *		minimum, or anonymisation), whose triggers or rules can keep rows,
 *		for every table while the subject is held, and for the rows of a
 *		table that rows kept elsewhere still reference.
 *
 * The subject's rows are locked and taken row set by row set: all of them
 * are held if a hold covers the table or the subject; those a legal
 * minimum still keeps are retained, with the date it ends; of the rest,
 * those no row references are deleted (unless a rule anonymises the
 * table's rows) and the others anonymised: their personal columns and the
 * columns a rule names are cleared (NULL, or a marker where the column is
 * NOT NULL), and the foreign key that ties them to the subject too where it
 * may be NULL. A row a trigger or rule kept as it was is an error that
 * undoes the erasure.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_attribute.h"
#include "catalog/pg_type.h"
#include "lib/stringinfo.h"
#include "storage/itemptr.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"

#include "base/citus.h"
#include "rights/erasure.h"

extern PGDLLEXPORT Datum privacy_rows_may_be_kept(PG_FUNCTION_ARGS);

static SPIPlanPtr hold_plan = NULL;
static SPIPlanPtr kept_plan = NULL;

/*
 * A set of row ids: ctids, or for a table whose rows are named by key
 * (SubjectTable.rows_by_key) primary keys as text.
 */
typedef struct Tids
{
	int			n;
	Datum	   *ids;
	bool		by_key;
} Tids;

/* Whether a DELETE or UPDATE on the table can leave a row as it was (row_keepers.c). */
bool
erasure_rows_may_be_kept(Oid relid)
{
	return DatumGetBool(DirectFunctionCall1(privacy_rows_may_be_kept, ObjectIdGetDatum(relid)));
}

/* A trigger or rule kept rows the erasure meant to delete or anonymise. */
void
erasure_rows_kept_error(const SubjectTable *table)
{
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("the erasure left rows of table %s unchanged", table->name),
			 errdetail("A trigger or rule of the table kept rows that were to be deleted or anonymised; nothing of this was done."),
			 errhint("A BEFORE DELETE or BEFORE UPDATE trigger that returns NULL (a soft delete) or restores values, or a rule on DELETE or UPDATE, keeps rows: let it pass these changes. privacy.lint() lists such triggers.")));
}

/* The row ids in column col of SPI's only row (empty if null). */
static void
read_tids(int col, bool by_key, Tids *set)
{
	bool		isnull;
	Datum		d = rights_result(col, &isnull);
	bool	   *nulls;

	set->n = 0;
	set->ids = NULL;
	set->by_key = by_key;
	if (isnull)
		return;
	if (by_key)
		deconstruct_array(DatumGetArrayTypeP(d), TEXTOID, -1, false, TYPALIGN_INT,
						  &set->ids, &nulls, &set->n);
	else
		deconstruct_array(DatumGetArrayTypeP(d), TIDOID, sizeof(ItemPointerData), false, TYPALIGN_SHORT,
						  &set->ids, &nulls, &set->n);
}

/* Whether column col of SPI's only row is null. */
static bool
result_is_null(int col)
{
	bool		isnull;

	(void) rights_result(col, &isnull);
	return isnull;
}

static Datum
tids_array(const Tids *set)
{
	if (set->by_key)
		return PointerGetDatum(construct_array(set->ids, set->n, TEXTOID, -1, false, TYPALIGN_INT));
	return PointerGetDatum(construct_array(set->ids, set->n, TIDOID, sizeof(ItemPointerData), false,
										   TYPALIGN_SHORT));
}

static bool
tid_equal(const Tids *set, Datum a, Datum b)
{
	if (set->by_key)
		return VARSIZE_ANY_EXHDR(DatumGetPointer(a)) == VARSIZE_ANY_EXHDR(DatumGetPointer(b)) &&
			memcmp(VARDATA_ANY(DatumGetPointer(a)), VARDATA_ANY(DatumGetPointer(b)),
				   VARSIZE_ANY_EXHDR(DatumGetPointer(a))) == 0;
	return ItemPointerEquals((ItemPointer) DatumGetPointer(a), (ItemPointer) DatumGetPointer(b));
}

/* Removes from set the row ids in remove. */
static void
remove_tids(Tids *set, const Tids *remove)
{
	int			k = 0;

	for (int i = 0; i < set->n; i++)
	{
		bool		found = false;

		for (int j = 0; j < remove->n && !found; j++)
			found = tid_equal(set, set->ids[i], remove->ids[j]);
		if (!found)
			set->ids[k++] = set->ids[i];
	}
	set->n = k;
}

static void
append_tids(Tids *set, const Tids *more)
{
	if (more->n == 0)
		return;
	set->ids = set->ids == NULL ? palloc(sizeof(Datum) * more->n) :
		repalloc(set->ids, sizeof(Datum) * (set->n + more->n));
	memcpy(set->ids + set->n, more->ids, sizeof(Datum) * more->n);
	set->n += more->n;
}

/* What anonymisation needs to know of a column's type. */
typedef struct AnonymizedColumn
{
	bool		notnull;
	bool		string;			/* of the string category */
	bool		email;			/* privacy.email */
	char	   *typname;
} AnonymizedColumn;

/* The column's type, or an error for a column that does not exist. */
static AnonymizedColumn
anonymized_column(const SubjectTable *table, const char *column)
{
	HeapTuple	tuple = SearchSysCacheAttName(table->relid, column);
	AnonymizedColumn result;
	Oid			type;
	Form_pg_type typ;
	char	   *nspname;

	if (!HeapTupleIsValid(tuple))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("column \"%s\" of relation %s does not exist", column, table->name),
				 errhint("Apply a policy document that matches the schema; privacy.lint() lists such entries.")));
	result.notnull = ((Form_pg_attribute) GETSTRUCT(tuple))->attnotnull;
	type = ((Form_pg_attribute) GETSTRUCT(tuple))->atttypid;
	ReleaseSysCache(tuple);
	tuple = SearchSysCache1(TYPEOID, ObjectIdGetDatum(type));
	if (!HeapTupleIsValid(tuple))
		elog(ERROR, "cache lookup failed for type %u", type);
	typ = (Form_pg_type) GETSTRUCT(tuple);
	result.string = typ->typcategory == TYPCATEGORY_STRING;
	result.typname = pstrdup(NameStr(typ->typname));
	nspname = get_namespace_name(typ->typnamespace);
	result.email = nspname != NULL && strcmp(nspname, "privacy") == 0 && strcmp(result.typname, "email") == 0;
	ReleaseSysCache(tuple);
	return result;
}

/*
 * The expression that replaces a column's value when its row is
 * anonymised: NULL, or where the column is NOT NULL a marker of its type;
 * an error for a NOT NULL column of another type.
 */
static char *
anonymized_value(const SubjectTable *table, const char *column, const AnonymizedColumn *type,
				 const char *seed)
{
	if (!type->notnull)
		return "NULL";
	if (type->string)
		return psprintf("'[erased ' OPERATOR(pg_catalog.||) pg_catalog.substr(pg_catalog.md5(%s), 1, 12)"
						" OPERATOR(pg_catalog.||) ']'", seed);
	if (type->email)
		return psprintf("('erased-' OPERATOR(pg_catalog.||) pg_catalog.substr(pg_catalog.md5(%s), 1, 12)"
						" OPERATOR(pg_catalog.||) '@erased.invalid')::privacy.email", seed);
	ereport(ERROR,
			(errcode(ERRCODE_NOT_NULL_VIOLATION),
			 errmsg("cannot anonymise column \"%s\" of relation %s: it is NOT NULL and of type %s",
					column, table->name, type->typname),
			 errhint("Allow NULL in the column (ALTER TABLE ... ALTER COLUMN ... DROP NOT NULL), so that erasure can clear it.")));
	return NULL;				/* keep compiler quiet */
}

/*
 * The condition that row t still holds personal data in a column: a value
 * that is not an anonymisation's marker. Only a string or an e-mail
 * address can hold a marker; other columns are compared with NULL alone,
 * with no conversion to text, which Citus refuses in an UPDATE where it
 * is not immutable (a date's, an array's).
 */
static char *
personal_value_condition(const char *quoted_column, const AnonymizedColumn *type)
{
	if (!type->string && !type->email)
		return psprintf("t.%s IS NOT NULL", quoted_column);
	return psprintf("(t.%1$s IS NOT NULL AND t.%1$s::pg_catalog.text OPERATOR(pg_catalog.!~~) '[erased %%'"
					" AND t.%1$s::pg_catalog.text OPERATOR(pg_catalog.!~~) 'erased-%%@erased.invalid')",
					quoted_column);
}

static int
compare_names(const void *a, const void *b)
{
	return strcmp(*(const char *const *) a, *(const char *const *) b);
}

/*
 * The columns anonymisation clears: the classified ones and those an
 * anonymize rule names, distinct, in name order.
 */
static char **
anonymized_columns(const SubjectTable *table, int *n)
{
	int			capacity = table->ncolumns;
	char	  **columns;
	int			k = 0;

	for (int i = 0; i < table->nrules; i++)
		if (table->rules[i].anonymize)
			capacity += table->rules[i].ncolumns;
	columns = palloc(sizeof(char *) * Max(capacity, 1));
	for (int i = 0; i < table->ncolumns; i++)
		columns[k++] = table->columns[i];
	for (int i = 0; i < table->nrules; i++)
		if (table->rules[i].anonymize)
			for (int j = 0; j < table->rules[i].ncolumns; j++)
				columns[k++] = table->rules[i].columns[j];
	qsort(columns, k, sizeof(char *), compare_names);
	*n = 0;
	for (int i = 0; i < k; i++)
		if (*n == 0 || strcmp(columns[*n - 1], columns[i]) != 0)
			columns[(*n)++] = columns[i];
	return columns;
}

/*
 * Anonymises the rows in ctids (with route, for a table whose rows are
 * named by key, the values of their distribution column); returns how many
 * changed, an error if a trigger or rule skipped one or gave it its
 * personal values back.
 */
static int64
anonymize_rows(SubjectKind *kind, SubjectTable *table, const Tids *ctids, Datum route)
{
	int			ncolumns;
	char	  **columns = anonymized_columns(table, &ncolumns);
	StringInfoData set_list;
	StringInfoData personal;
	SubjectStatement statement;
	Oid			argtypes[3] = {TIDARRAYOID, TEXTARRAYOID, TEXTOID};
	Datum		values[3];
	const char *seed;
	char	   *rows;
	Datum	   *counts;
	bool	   *nulls;
	int			ncounts;
	bool		isnull;
	Datum		d;
	bool		detach = table->first_hop != NULL && table->first_hop->child_nullable;

	/*
	 * A marker of a NOT NULL column differs from row to row: the md5 of the
	 * row's ctid and the time, or where Citus manages the table, which
	 * refuses volatile functions in an UPDATE, of its primary key and a
	 * random salt ($3).
	 */
	if (ctids->by_key)
	{
		uint8		salt[16];
		char		hex[sizeof(salt) * 2 + 1];

		if (!pg_strong_random(salt, sizeof(salt)))
			ereport(ERROR,
					(errcode(ERRCODE_INTERNAL_ERROR),
					 errmsg("could not generate random bytes")));
		hex[hex_encode((const char *) salt, sizeof(salt), hex)] = '\0';
		argtypes[0] = TEXTARRAYOID;
		values[1] = route;
		values[2] = CStringGetTextDatum(hex);
		seed = "$3";
		for (int i = 0; i < table->nkey_columns; i++)
			seed = psprintf("%s OPERATOR(pg_catalog.||) %s", seed, subject_key_text(table, i, "t"));
		rows = psprintf("%s%s", subject_row_match(table, "t", 1), subject_row_route(table, "t", 2));
	}
	else
	{
		seed = "t.ctid::pg_catalog.text OPERATOR(pg_catalog.||) pg_catalog.clock_timestamp()::pg_catalog.text";
		rows = "t.ctid OPERATOR(pg_catalog.=) ANY ($1)";
	}

	initStringInfo(&set_list);
	initStringInfo(&personal);
	for (int i = 0; i < ncolumns; i++)
	{
		const char *c = quote_identifier(columns[i]);
		AnonymizedColumn type = anonymized_column(table, columns[i]);

		appendStringInfo(&set_list, "%s%s = %s", i > 0 ? ", " : "", c,
						 anonymized_value(table, columns[i], &type, seed));
		appendStringInfo(&personal, "%s%s", i > 0 ? " OR " : "", personal_value_condition(c, &type));
	}
	if (detach)
		for (int i = 0; i < table->first_hop->ncolumns; i++)
		{
			appendStringInfo(&set_list, ", %s = NULL", table->first_hop->child_columns[i]);
			appendStringInfo(&personal, " OR t.%s IS NOT NULL", table->first_hop->child_columns[i]);
		}

	/*
	 * {rows to anonymise, rows changed, changed rows still personal}: a row
	 * a trigger or rule skipped, or gave its values back, is an error.
	 */
	subject_statement_init(&statement,
						   psprintf("WITH changed AS (UPDATE %1$s t SET %2$s WHERE %4$s"
									" AND (%3$s) RETURNING (%3$s) AS personal) "
									"SELECT ARRAY[(SELECT pg_catalog.count(*) FROM %1$s t"
									" WHERE %4$s AND (%3$s)),"
									" pg_catalog.count(*), pg_catalog.count(*) FILTER (WHERE changed.personal)]"
									"::pg_catalog.int4[] FROM changed",
									table->name, set_list.data, personal.data, rows),
						   ctids->by_key ? 3 : 1, argtypes);
	values[0] = tids_array(ctids);
	if (rights_run_as_owner(kind, &statement, false, table->owner, table->name, true,
							values, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not anonymise rows");
	d = rights_result(1, &isnull);
	deconstruct_array(DatumGetArrayTypeP(d), INT4OID, 4, true, TYPALIGN_INT, &counts, &nulls, &ncounts);
	if (DatumGetInt32(counts[1]) < DatumGetInt32(counts[0]) || DatumGetInt32(counts[2]) > 0)
		erasure_rows_kept_error(table);
	return DatumGetInt32(counts[1]);
}

/* The reference of a hold on the table or the subject, or NULL. */
static char *
hold_reference(SubjectKind *kind, SubjectTable *table, const char *key)
{
	Oid			argtypes[3] = {TEXTOID, TEXTOID, REGCLASSOID};
	Datum		values[3];
	bool		isnull;
	Datum		d;

	values[0] = CStringGetTextDatum(kind->name);
	values[1] = CStringGetTextDatum(key);
	values[2] = ObjectIdGetDatum(table->relid);
	if (rights_run_kept(&hold_plan, "SELECT privacy_internal._hold_reference($1, $2, $3)",
						3, argtypes, values, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not look the holds up");
	d = rights_result(1, &isnull);
	return isnull ? NULL : TextDatumGetCString(d);
}

/*
 * The rows of kept (with route, see anonymize_rows()) that a legal minimum
 * of the rule still keeps, by key, and the latest end of their minimums:
 * the rows' anchors are read from the table and the minimums computed on
 * this node, which holds the retention rules (a Citus worker holds none).
 */
static void
kept_by_key(SubjectKind *kind, SubjectRule *rule, Tids *kept, Datum route, Datum *until, bool *until_null)
{
	Oid			argtypes[3] = {TEXTOID, TEXTARRAYOID, TIMESTAMPTZARRAYOID};
	Datum		values[3];
	char		nulls[3] = {' ', ' ', ' '};
	bool		isnull;

	values[0] = tids_array(kept);
	values[1] = route;
	if (rights_run(kind, &rule->kept, values, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not find the rows a legal minimum keeps");
	values[0] = CStringGetTextDatum(rule->name);
	values[1] = rights_result(1, &isnull);
	if (isnull)
		nulls[1] = 'n';
	values[2] = rights_result(2, &isnull);
	if (isnull)
		nulls[2] = 'n';
	if (rights_run_kept(&kept_plan,
						"SELECT pg_catalog.array_agg(u.i) FILTER (WHERE u.e OPERATOR(pg_catalog.>) pg_catalog.now()),"
						" pg_catalog.to_jsonb(pg_catalog.max(u.e) FILTER (WHERE u.e OPERATOR(pg_catalog.>) pg_catalog.now())"
						"::pg_catalog.date)"
						" FROM (SELECT r.i, privacy_internal._minimum_end($1, r.a) AS e"
						" FROM ROWS FROM (pg_catalog.unnest($2), pg_catalog.unnest($3)) r(i, a)) u",
						3, argtypes, values, nulls, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not find the rows a legal minimum keeps");
	read_tids(1, true, kept);
	*until = rights_result(2, until_null);
}

/*
 * Erases the subject's rows of the table the careful way (see the file's
 * header) and describes it in *line; false if the subject has no row there.
 */
bool
erasure_erase_table(SubjectKind *kind, SubjectTable *table, const char *key, ErasureLine *line)
{
	Datum		key_value[1] = {CStringGetTextDatum(key)};
	Tids		ctids;
	Tids		retained = {0, NULL, table->rows_by_key};
	Datum		route = (Datum) 0;
	char	   *hold;
	const char *anonymize_rule = NULL;

	if (!table->personal)
		return false;
	/* A table Citus took over after the statements were built: never by ctid. */
	if (!table->rows_by_key && privacy_citus_installed() && privacy_citus_table(table->relid))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("table %s was distributed by Citus after this session prepared its statements for it",
						table->name),
				 errhint("Run the erasure again.")));
	if (table->rows_by_key && table->nkey_columns == 0)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot erase the rows of table %s one by one because it has no primary key",
						table->name),
				 errdetail("Citus distributes the table, so a row's ctid names it only within one shard; the erasure names such rows by their primary key."),
				 errhint("Add a primary key to the table (it includes the distribution column).")));
	if (rights_run_as_owner(kind, &table->lock_rows, true, table->owner, table->name, true,
							key_value, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not lock a subject's rows");
	if (result_is_null(1))
		return false;
	read_tids(1, table->rows_by_key, &ctids);
	if (table->rows_by_key)
	{
		bool		isnull;

		route = rights_result(2, &isnull);
	}
	memset(line, 0, sizeof(ErasureLine));
	line->table = table->name;
	line->has_rows = true;
	line->rows = ctids.n;

	hold = hold_reference(kind, table, key);
	if (hold != NULL)
	{
		line->has_held = true;
		line->held = ctids.n;
		line->hold_reference = hold;
		return true;
	}

	/* Rows a legal minimum still keeps stay untouched, with their end date. */
	for (int i = 0; i < table->nrules; i++)
	{
		SubjectRule *rule = &table->rules[i];
		Datum		values[1];
		Tids		kept;
		bool		isnull;
		Datum		until;

		if (!rule->has_minimum)
			continue;
		if (table->rows_by_key)
		{
			kept = ctids;
			kept_by_key(kind, rule, &kept, route, &until, &isnull);
			if (kept.n == 0)
				continue;
		}
		else
		{
			values[0] = tids_array(&ctids);
			if (rights_run(kind, &rule->kept, values, NULL, false, 0) != SPI_OK_SELECT)
				elog(ERROR, "could not find the rows a legal minimum keeps");
			if (result_is_null(1))
				continue;
			read_tids(1, false, &kept);
			values[0] = tids_array(&kept);
			if (rights_run(kind, &rule->kept_until, values, NULL, false, 0) != SPI_OK_SELECT)
				elog(ERROR, "could not find when a legal minimum ends");
			until = rights_result(1, &isnull);
		}
		remove_tids(&ctids, &kept);
		append_tids(&retained, &kept);
		line->has_retained = true;
		line->retained = kept.n;
		line->retained_until = isnull ? NULL : DatumGetJsonbPCopy(until);
		line->retention_rule = rule->name;
		line->basis = rule->legal_basis;
	}

	for (int i = 0; i < table->nrules && anonymize_rule == NULL; i++)
		if (table->rules[i].anonymize)
			anonymize_rule = table->rules[i].name;

	if (anonymize_rule == NULL && ctids.n > 0)
	{
		Datum		values[2];
		Tids		deleted;

		/* Delete what no remaining row references. */
		values[0] = tids_array(&ctids);
		values[1] = route;
		if (rights_run_as_owner(kind, &table->delete_unreferenced, true, table->owner, table->name, true,
								values, NULL, false, 0) != SPI_OK_SELECT)
			elog(ERROR, "could not delete a subject's rows");
		read_tids(1, table->rows_by_key, &deleted);
		remove_tids(&ctids, &deleted);
		line->has_deleted = true;
		line->deleted = deleted.n;

		/*
		 * Every row of the subject left, but those retained, must be one
		 * that rows kept elsewhere reference (the rows are locked: only a
		 * trigger or rule can have kept another, perhaps as a new version).
		 */
		if (erasure_rows_may_be_kept(table->relid))
		{
			bool		isnull;

			values[0] = key_value[0];
			values[1] = tids_array(&retained);
			if (rights_run_as_owner(kind, &table->rows_left, true, table->owner, table->name, true,
									values, NULL, false, 0) != SPI_OK_SELECT)
				elog(ERROR, "could not check a subject's rows");
			if (DatumGetBool(rights_result(1, &isnull)))
				erasure_rows_kept_error(table);
		}
	}

	if (ctids.n > 0)
	{
		line->has_anonymized = true;
		line->anonymized = anonymize_rows(kind, table, &ctids, route);
		line->kept_anonymous = ctids.n;
		line->anonymized_because = anonymize_rule != NULL ?
			psprintf("retention rule \"%s\" keeps the rows without the person", anonymize_rule) :
			"rows that are kept reference them";
	}
	return true;
}
