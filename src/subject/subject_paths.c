/*
 * subject_paths.c
 *		Reads a subject kind from the catalog: its anchor table and key, the
 *		tables of its subject map with their foreign-key paths to the anchor
 *		(privacy_internal._subject_paths(), which honours the paths the policy pins),
 *		which of them hold personal data and in which columns, the foreign
 *		keys that reference them, their retention rules, the statistics that
 *		can hold their values, and what the export reports besides the rows.
 *
 * Runs inside SPI as the owner of the extension's catalog, with search_path
 * pinned (subject_cache.c); each query reads with the latest snapshot, as a
 * catalog cache does, so that a kind built inside an old snapshot is not
 * older than the invalidations already taken in. Every relation read is
 * recorded as a dependency of the kind, with its signature.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/pg_class.h"
#include "catalog/pg_constraint.h"
#include "catalog/pg_index.h"
#include "catalog/pg_inherits.h"
#include "catalog/pg_operator.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/relcache.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/typcache.h"

#include "base/citus.h"
#include "base/qualified_name.h"
#include "subject/subject.h"

/*
 * Runs a read-only catalog query with the latest snapshot, into
 * SPI_tuptable; the caller's memory context stays current (SPI would leave
 * its own).
 */
static void
catalog_query(const char *sql, int nargs, Oid *argtypes, Datum *values)
{
	MemoryContext context = CurrentMemoryContext;
	SPIPlanPtr	plan = SPI_prepare(sql, nargs, argtypes);

	if (plan == NULL)
		elog(ERROR, "could not prepare a subject catalog query: %s",
			 SPI_result_code_string(SPI_result));
	if (SPI_execute_snapshot(plan, values, NULL, GetLatestSnapshot(), InvalidSnapshot,
							 true, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not run a subject catalog query");
	SPI_freeplan(plan);
	MemoryContextSwitchTo(context);
}

static Datum
result_datum(int row, int col, bool *isnull)
{
	return SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col, isnull);
}

/* A text column of the result, copied; NULL if null. */
static char *
result_text(int row, int col)
{
	bool		isnull;
	Datum		d = result_datum(row, col, &isnull);

	return isnull ? NULL : TextDatumGetCString(d);
}

/* A text[] column of the result, as strings (nulls left out). */
static char **
result_text_array(int row, int col, int *n)
{
	bool		isnull;
	Datum		d = result_datum(row, col, &isnull);
	Datum	   *elems;
	bool	   *nulls;
	int			nelems;
	char	  **result;
	int			k = 0;

	*n = 0;
	if (isnull)
		return NULL;
	deconstruct_array(DatumGetArrayTypeP(d), TEXTOID, -1, false, TYPALIGN_INT,
					  &elems, &nulls, &nelems);
	result = palloc(sizeof(char *) * Max(nelems, 1));
	for (int i = 0; i < nelems; i++)
		if (!nulls[i])
			result[k++] = TextDatumGetCString(elems[i]);
	*n = k;
	return result;
}

/* An int4[] or oid[] column of the result. */
static void *
result_int_array(int row, int col, Oid elemtype, int *n)
{
	bool		isnull;
	Datum		d = result_datum(row, col, &isnull);
	Datum	   *elems;
	bool	   *nulls;
	int			nelems;
	int32	   *result;

	*n = 0;
	if (isnull)
		return NULL;
	deconstruct_array(DatumGetArrayTypeP(d), elemtype, 4, true, TYPALIGN_INT,
					  &elems, &nulls, &nelems);
	result = palloc(sizeof(int32) * Max(nelems, 1));
	for (int i = 0; i < nelems; i++)
		result[i] = DatumGetInt32(elems[i]);
	*n = nelems;
	return result;
}

static Jsonb *
result_jsonb(int row, int col)
{
	bool		isnull;
	Datum		d = result_datum(row, col, &isnull);

	return isnull ? NULL : DatumGetJsonbPCopy(d);
}

/* "OPERATOR(schema.name)" of an operator. */
static char *
operator_sql(Oid opno)
{
	HeapTuple	tuple = SearchSysCache1(OPEROID, ObjectIdGetDatum(opno));
	Form_pg_operator op;
	char	   *result;

	if (!HeapTupleIsValid(tuple))
		elog(ERROR, "cache lookup failed for operator %u", opno);
	op = (Form_pg_operator) GETSTRUCT(tuple);
	result = psprintf("OPERATOR(%s.%s)",
					  quote_identifier(get_namespace_name(op->oprnamespace)),
					  NameStr(op->oprname));
	ReleaseSysCache(tuple);
	return result;
}

static bool
attribute_not_null(Oid relid, AttrNumber attnum)
{
	HeapTuple	tuple = SearchSysCache2(ATTNUM, ObjectIdGetDatum(relid), Int16GetDatum(attnum));
	bool		result;

	if (!HeapTupleIsValid(tuple))
		elog(ERROR, "cache lookup failed for attribute %d of relation %u", attnum, relid);
	result = ((Form_pg_attribute) GETSTRUCT(tuple))->attnotnull;
	ReleaseSysCache(tuple);
	return result;
}

/* The name of a table for generated SQL; an error if it is gone. */
static char *
table_name(Oid relid)
{
	char	   *name = privacy_qualified_name(relid);

	if (name == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation with OID %u does not exist", relid)));
	return name;
}

/* Reads a foreign-key constraint, and records the kind's dependence on it. */
void
subject_read_foreign_key(SubjectKind *kind, Oid conoid, SubjectForeignKey *fk)
{
	HeapTuple	tuple = SearchSysCache1(CONSTROID, ObjectIdGetDatum(conoid));
	Form_pg_constraint con;
	AttrNumber	conkey[INDEX_MAX_KEYS];
	AttrNumber	confkey[INDEX_MAX_KEYS];
	Oid			pfeqop[INDEX_MAX_KEYS];
	Oid			ppeqop[INDEX_MAX_KEYS];
	Oid			ffeqop[INDEX_MAX_KEYS];
	int			n;

	if (!HeapTupleIsValid(tuple))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("foreign key with OID %u does not exist", conoid)));
	con = (Form_pg_constraint) GETSTRUCT(tuple);
	if (con->contype != CONSTRAINT_FOREIGN)
		elog(ERROR, "constraint %u is not a foreign key", conoid);
	DeconstructFkConstraintRow(tuple, &n, conkey, confkey, pfeqop, ppeqop, ffeqop, NULL, NULL);
	fk->constraint = conoid;
	fk->child = con->conrelid;
	fk->parent = con->confrelid;
	fk->on_delete = con->confdeltype;
	fk->enforced = con->convalidated && !con->condeferrable;
	ReleaseSysCache(tuple);

	fk->child_name = table_name(fk->child);
	fk->parent_name = table_name(fk->parent);
	fk->ncolumns = n;
	fk->child_columns = palloc(sizeof(char *) * n);
	fk->parent_columns = palloc(sizeof(char *) * n);
	fk->parent_attnames = palloc(sizeof(char *) * n);
	fk->operators = palloc(sizeof(char *) * n);
	fk->child_nullable = true;
	for (int i = 0; i < n; i++)
	{
		fk->child_columns[i] = pstrdup(quote_identifier(get_attname(fk->child, conkey[i], false)));
		fk->parent_attnames[i] = get_attname(fk->parent, confkey[i], false);
		fk->parent_columns[i] = pstrdup(quote_identifier(fk->parent_attnames[i]));
		fk->operators[i] = operator_sql(pfeqop[i]);
		if (attribute_not_null(fk->child, conkey[i]))
			fk->child_nullable = false;
		else
			fk->enforced = false;
	}
	subject_depend_on_constraint(kind, conoid);
	subject_depend_on_relation(kind, fk->child);
	subject_depend_on_relation(kind, fk->parent);
}

/*
 * Reads the kind's anchor table and key column, and how its keys are made
 * canonical; an error if the kind is not declared.
 */
void
subject_read_kind(SubjectKind *kind)
{
	Oid			argtypes[1] = {TEXTOID};
	Datum		values[1] = {CStringGetTextDatum(kind->name)};
	bool		isnull;
	TypeCacheEntry *typentry;

	catalog_query("SELECT sk.table_name::pg_catalog.oid, sk.key_column::pg_catalog.text,"
				  " a.atttypid, a.atttypmod, pg_catalog.format_type(a.atttypid, a.atttypmod)"
				  " FROM privacy.subject_kinds sk"
				  " JOIN pg_catalog.pg_attribute a ON a.attrelid OPERATOR(pg_catalog.=) sk.table_name"
				  " AND a.attname OPERATOR(pg_catalog.=) sk.key_column AND NOT a.attisdropped"
				  " WHERE sk.name OPERATOR(pg_catalog.=) $1",
				  1, argtypes, values);
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unrecognized subject kind \"%s\"", kind->name),
				 errhint("Subject kinds are declared by the policy document; privacy.subject_kinds lists them.")));
	kind->anchor = DatumGetObjectId(result_datum(0, 1, &isnull));
	kind->key_column = result_text(0, 2);
	kind->key_type = DatumGetObjectId(result_datum(0, 3, &isnull));
	kind->key_typmod = DatumGetInt32(result_datum(0, 4, &isnull));
	kind->key_type_name = result_text(0, 5);
	kind->key_type_sql = format_type_extended(kind->key_type, kind->key_typmod,
											  FORMAT_TYPE_TYPEMOD_GIVEN | FORMAT_TYPE_FORCE_QUALIFY);
	kind->anchor_name = table_name(kind->anchor);

	typentry = lookup_type_cache(kind->key_type, TYPECACHE_EQ_OPR);
	if (!OidIsValid(typentry->eq_opr))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_FUNCTION),
				 errmsg("could not identify an equality operator for type %s", kind->key_type_name)));
	kind->key_operator = operator_sql(typentry->eq_opr);

	switch (kind->key_type)
	{
		case INT2OID:
			kind->key_form = SUBJECT_KEY_INT2;
			break;
		case INT4OID:
			kind->key_form = SUBJECT_KEY_INT4;
			break;
		case INT8OID:
			kind->key_form = SUBJECT_KEY_INT8;
			break;
		case TEXTOID:
			kind->key_form = SUBJECT_KEY_TEXT;
			break;
		case VARCHAROID:
			kind->key_form = kind->key_typmod < 0 ? SUBJECT_KEY_TEXT : SUBJECT_KEY_CAST;
			break;
		default:
			kind->key_form = SUBJECT_KEY_CAST;
			break;
	}
	subject_depend_on_relation(kind, kind->anchor);
}

/* Finds the table of the kind with this oid (NULL if it is not in the map). */
static SubjectTable *
find_table(SubjectKind *kind, Oid relid)
{
	for (int i = 0; i < kind->ntables; i++)
		if (kind->tables[i].relid == relid)
			return &kind->tables[i];
	return NULL;
}

/* An oid[] (or regclass[]) of the personal tables, in the map's order. */
static Datum
personal_array(SubjectKind *kind, Oid elemtype)
{
	Datum	   *elems = palloc(sizeof(Datum) * Max(kind->npersonal, 1));

	for (int i = 0; i < kind->npersonal; i++)
		elems[i] = ObjectIdGetDatum(kind->personal[i]->relid);
	return PointerGetDatum(construct_array(elems, kind->npersonal, elemtype, sizeof(Oid), true, TYPALIGN_INT));
}

/*
 * The tables of the map with their paths, in the order of the map (depth,
 * then name). A table reached by more than one path is an error, raised by
 * privacy_internal._subject_path() so that it reads as everywhere else.
 */
static void
read_map(SubjectKind *kind)
{
	Oid			argtypes[2] = {TEXTOID, OIDOID};
	Datum		values[2] = {CStringGetTextDatum(kind->name), (Datum) 0};
	int			n;

	catalog_query("SELECT p.table_name::pg_catalog.oid, p.hops, p.status"
				  " FROM privacy_internal._subject_paths() p"
				  " WHERE p.kind OPERATOR(pg_catalog.=) $1"
				  " ORDER BY pg_catalog.cardinality(p.hops), p.table_name::pg_catalog.text",
				  1, argtypes, values);
	n = (int) SPI_processed;
	for (int i = 0; i < n; i++)
	{
		char	   *status = result_text(i, 3);

		if (strcmp(status, "ambiguous") == 0)
		{
			bool		isnull;

			values[1] = result_datum(i, 1, &isnull);
			catalog_query("SELECT privacy_internal._subject_path($1, $2::pg_catalog.regclass)",
						  2, argtypes, values);
			elog(ERROR, "table %u of subject kind \"%s\" has no path", DatumGetObjectId(values[1]),
				 kind->name);
		}
	}

	/* SPI_tuptable is the paths' again: the check above ran no query */
	kind->ntables = n;
	kind->tables = palloc0(sizeof(SubjectTable) * Max(n, 1));
	for (int i = 0; i < n; i++)
	{
		SubjectTable *t = &kind->tables[i];
		bool		isnull;
		int			nhops;
		Oid		   *hops = result_int_array(i, 2, OIDOID, &nhops);

		t->relid = DatumGetObjectId(result_datum(i, 1, &isnull));
		t->nhops = nhops;
		t->hops = hops;
		t->depth = nhops;
	}
	for (int i = 0; i < n; i++)
	{
		SubjectTable *t = &kind->tables[i];
		HeapTuple	tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(t->relid));

		if (!HeapTupleIsValid(tuple))
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_TABLE),
					 errmsg("relation with OID %u does not exist", t->relid)));
		t->owner = ((Form_pg_class) GETSTRUCT(tuple))->relowner;
		ReleaseSysCache(tuple);
		t->name = table_name(t->relid);
		subject_depend_on_relation(kind, t->relid);
		if (t->nhops > 0)
		{
			t->first_hop = palloc0(sizeof(SubjectForeignKey));
			subject_read_foreign_key(kind, t->hops[0], t->first_hop);
		}
	}
}

/* An oid[] of every table of the map. */
static Datum
map_array(SubjectKind *kind)
{
	Datum	   *elems = palloc(sizeof(Datum) * Max(kind->ntables, 1));

	for (int i = 0; i < kind->ntables; i++)
		elems[i] = ObjectIdGetDatum(kind->tables[i].relid);
	return PointerGetDatum(construct_array(elems, kind->ntables, OIDOID, sizeof(Oid), true, TYPALIGN_INT));
}

/*
 * Which tables of the map hold personal data: their classified columns,
 * each column's category, and the categories and sources they use (read
 * once, privacy.classified_columns being costly to compute).
 */
static void
read_columns(SubjectKind *kind)
{
	Oid			argtypes[1] = {OIDARRAYOID};
	Datum		values[1] = {map_array(kind)};
	int			personal = 0;

	catalog_query("SELECT cc.table_name::pg_catalog.oid,"
				  " pg_catalog.array_agg(cc.column_name::pg_catalog.text ORDER BY cc.column_name),"
				  " pg_catalog.jsonb_object_agg(cc.column_name, cc.category ORDER BY cc.column_name),"
				  " pg_catalog.array_agg(DISTINCT cc.category), pg_catalog.array_agg(DISTINCT cc.source)"
				  " FROM privacy.classified_columns cc"
				  " WHERE cc.table_name::pg_catalog.oid OPERATOR(pg_catalog.=) ANY ($1)"
				  " GROUP BY 1",
				  1, argtypes, values);
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		bool		isnull;
		SubjectTable *t = find_table(kind, DatumGetObjectId(result_datum(i, 1, &isnull)));

		if (t == NULL)
			continue;
		t->personal = true;
		t->columns = result_text_array(i, 2, &t->ncolumns);
		t->categories = result_jsonb(i, 3);
		t->category_names = result_text_array(i, 4, &t->ncategory_names);
		t->source_names = result_text_array(i, 5, &t->nsource_names);
	}
	kind->personal = palloc(sizeof(SubjectTable *) * Max(kind->ntables, 1));
	for (int i = 0; i < kind->ntables; i++)
		if (kind->tables[i].personal)
		{
			kind->tables[i].personal_index = personal;
			kind->personal[personal++] = &kind->tables[i];
		}
		else
			kind->tables[i].personal_index = -1;
	kind->npersonal = personal;
}

/* The foreign keys that reference each table of the map, by name. */
static void
read_referencing(SubjectKind *kind)
{
	Oid			argtypes[1] = {OIDARRAYOID};
	Datum		values[1] = {map_array(kind)};
	int			n;
	Oid		   *to;
	Oid		   *constraints;

	catalog_query("SELECT f.to_table::pg_catalog.oid, f.constraint_oid FROM privacy.foreign_keys f"
				  " WHERE f.to_table::pg_catalog.oid OPERATOR(pg_catalog.=) ANY ($1)"
				  " ORDER BY 1, f.constraint_name",
				  1, argtypes, values);
	n = (int) SPI_processed;
	to = palloc(sizeof(Oid) * Max(n, 1));
	constraints = palloc(sizeof(Oid) * Max(n, 1));
	for (int i = 0; i < n; i++)
	{
		bool		isnull;

		to[i] = DatumGetObjectId(result_datum(i, 1, &isnull));
		constraints[i] = DatumGetObjectId(result_datum(i, 2, &isnull));
	}
	for (int i = 0; i < n;)
	{
		SubjectTable *t = find_table(kind, to[i]);
		int			j = i;

		while (j < n && to[j] == to[i])
			j++;
		t->nreferencing = j - i;
		t->referencing = palloc0(sizeof(SubjectForeignKey) * (j - i));
		for (int k = i; k < j; k++)
			subject_read_foreign_key(kind, constraints[k], &t->referencing[k - i]);
		i = j;
	}
}

/*
 * The retention rules of the personal tables, and the tables any rule keeps
 * rows of (a legal minimum, or anonymisation).
 */
static void
read_rules(SubjectKind *kind)
{
	int			n;

	catalog_query("SELECT rr.table_name::pg_catalog.oid, rr.name, rr.anchor::pg_catalog.text, rr.legal_basis,"
				  " rr.minimum IS NOT NULL, rr.action OPERATOR(pg_catalog.=) 'anonymize',"
				  " rr.columns::pg_catalog.text[]"
				  " FROM privacy.retention_rules rr ORDER BY rr.name",
				  0, NULL, NULL);
	n = (int) SPI_processed;
	kind->careful = palloc(sizeof(Oid) * Max(n, 1));
	kind->ncareful = 0;
	for (int i = 0; i < n; i++)
	{
		bool		isnull;
		Oid			relid = DatumGetObjectId(result_datum(i, 1, &isnull));
		bool		minimum = DatumGetBool(result_datum(i, 5, &isnull));
		bool		anonymize = DatumGetBool(result_datum(i, 6, &isnull));
		SubjectTable *t = find_table(kind, relid);
		SubjectRule *rule;

		if (minimum || anonymize)
			kind->careful[kind->ncareful++] = relid;
		if (t == NULL || !t->personal)
			continue;
		if (t->rules == NULL)
			t->rules = palloc0(sizeof(SubjectRule) * n);
		rule = &t->rules[t->nrules++];
		rule->name = result_text(i, 2);
		rule->anchor = result_text(i, 3);
		rule->legal_basis = result_text(i, 4);
		rule->has_minimum = minimum;
		rule->anonymize = anonymize;
		rule->columns = result_text_array(i, 7, &rule->ncolumns);
	}
}

/* Ends a table's statistics entries: which of them are columns only. */
static void
end_statistics(SubjectTable *t, int entries)
{
	t->nstatistics = entries;
	t->statistics_of_columns = true;
	for (int i = 0; i < entries; i++)
		if (t->statistics[i].row_values_sql == NULL)
			t->statistics_of_columns = false;
}

/*
 * The statistics that can hold values of the personal tables' rows: their
 * classified columns (in each table and its partitions), index
 * expressions, expressions of extended statistics and their MCV lists.
 */
static void
read_statistics(SubjectKind *kind)
{
	Oid			argtypes[3] = {OIDARRAYOID, TEXTARRAYOID, OIDARRAYOID};
	Datum		values[3];
	Datum	   *relids;
	Datum	   *cols;
	int			ncols = 0;
	int			n;
	SubjectTable *t = NULL;
	int			entries = 0;

	for (int i = 0; i < kind->npersonal; i++)
		ncols += kind->personal[i]->ncolumns;
	relids = palloc(sizeof(Datum) * Max(ncols, 1));
	cols = palloc(sizeof(Datum) * Max(ncols, 1));
	ncols = 0;
	for (int i = 0; i < kind->npersonal; i++)
		for (int k = 0; k < kind->personal[i]->ncolumns; k++)
		{
			relids[ncols] = ObjectIdGetDatum(kind->personal[i]->relid);
			cols[ncols++] = CStringGetTextDatum(kind->personal[i]->columns[k]);
		}
	values[0] = PointerGetDatum(construct_array(relids, ncols, OIDOID, sizeof(Oid), true, TYPALIGN_INT));
	values[1] = PointerGetDatum(construct_array(cols, ncols, TEXTOID, -1, false, TYPALIGN_INT));
	values[2] = personal_array(kind, OIDOID);
	catalog_query("WITH input AS (SELECT i.relid, i.col FROM ROWS FROM (pg_catalog.unnest($1), pg_catalog.unnest($2)) i(relid, col)),"
				  " rels AS MATERIALIZED ("
				  "  SELECT b.base, COALESCE(NULLIF(ARRAY(SELECT pt.relid::pg_catalog.oid"
				  "   FROM pg_catalog.pg_partition_tree(b.base::pg_catalog.regclass) pt), '{}'), ARRAY[b.base]) AS relids"
				  "  FROM pg_catalog.unnest($3) b(base)),"
				  " stats (base, name, relid, attnum, relation, vals, cond, extended, row_vals) AS ("
				  "  SELECT rels.base, a.attname::pg_catalog.text, pa.attrelid, pa.attnum,"
				  "   privacy_internal._qualified_name(pa.attrelid::pg_catalog.regclass),"
				  "   pg_catalog.format('ARRAY[r.%1$I::pg_catalog.text]%2$s', a.attname,"
				  "    CASE WHEN t.typcategory OPERATOR(pg_catalog.=) 'A'"
				  "     THEN pg_catalog.format(' OPERATOR(pg_catalog.||) r.%I::pg_catalog.text[]', a.attname) END),"
				  "   pg_catalog.format('r.%1$I::pg_catalog.text OPERATOR(pg_catalog.=) $1%2$s', a.attname,"
				  "    CASE WHEN t.typcategory OPERATOR(pg_catalog.=) 'A'"
				  "     THEN pg_catalog.format(' OR $1 OPERATOR(pg_catalog.=) ANY (r.%I::pg_catalog.text[])', a.attname) END),"
				  "   false,"
				  "   pg_catalog.format('ARRAY[t0.%1$I::pg_catalog.text]%2$s', a.attname,"
				  "    CASE WHEN t.typcategory OPERATOR(pg_catalog.=) 'A'"
				  "     THEN pg_catalog.format(' OPERATOR(pg_catalog.||) t0.%I::pg_catalog.text[]', a.attname) END)"
				  "  FROM rels"
				  "  JOIN pg_catalog.pg_attribute a ON a.attrelid OPERATOR(pg_catalog.=) rels.base"
				  "  JOIN pg_catalog.pg_type t ON t.oid OPERATOR(pg_catalog.=) a.atttypid"
				  "  JOIN pg_catalog.pg_attribute pa ON pa.attrelid OPERATOR(pg_catalog.=) ANY (rels.relids)"
				  "   AND pa.attname OPERATOR(pg_catalog.=) a.attname AND NOT pa.attisdropped"
				  "  WHERE EXISTS (SELECT FROM input WHERE input.relid OPERATOR(pg_catalog.=) rels.base"
				  "   AND input.col OPERATOR(pg_catalog.=) a.attname::pg_catalog.text)"
				  "   AND a.attnum OPERATOR(pg_catalog.>) 0 AND NOT a.attisdropped"
				  "  UNION ALL"
				  "  SELECT rels.base, 'i' OPERATOR(pg_catalog.||) i.indexrelid OPERATOR(pg_catalog.||) '.' OPERATOR(pg_catalog.||) k.n,"
				  "   i.indexrelid, k.n::pg_catalog.int2,"
				  "   privacy_internal._qualified_name(i.indexrelid::pg_catalog.regclass),"
				  "   pg_catalog.format('ARRAY[%s(%s)::pg_catalog.text%s]',"
				  "    CASE WHEN i.indpred IS NOT NULL"
				  "     THEN pg_catalog.format('CASE WHEN %s THEN ', pg_catalog.pg_get_expr(i.indpred, i.indrelid, false)) END,"
				  "    pg_catalog.pg_get_indexdef(i.indexrelid, k.n::pg_catalog.int4, true),"
				  "    CASE WHEN i.indpred IS NOT NULL THEN ' END' END),"
				  "   pg_catalog.format('%s(%s)::pg_catalog.text OPERATOR(pg_catalog.=) $1',"
				  "    CASE WHEN i.indpred IS NOT NULL"
				  "     THEN pg_catalog.format('(%s) AND ', pg_catalog.pg_get_expr(i.indpred, i.indrelid, false)) END,"
				  "    pg_catalog.pg_get_indexdef(i.indexrelid, k.n::pg_catalog.int4, true)),"
				  "   false, NULL"
				  "  FROM rels"
				  "  JOIN pg_catalog.pg_index i ON i.indrelid OPERATOR(pg_catalog.=) ANY (rels.relids)"
				  "  CROSS JOIN LATERAL pg_catalog.unnest(i.indkey::pg_catalog.int2[]) WITH ORDINALITY k(attnum, n)"
				  "  WHERE k.attnum OPERATOR(pg_catalog.=) 0"
				  "  UNION ALL"
				  "  SELECT rels.base, 'e' OPERATOR(pg_catalog.||) x.oid OPERATOR(pg_catalog.||) '.' OPERATOR(pg_catalog.||) e.n,"
				  "   NULL, NULL, NULL,"
				  "   pg_catalog.format('ARRAY[(%s)::pg_catalog.text]', e.expr),"
				  "   pg_catalog.format('(%s)::pg_catalog.text OPERATOR(pg_catalog.=) $1', e.expr),"
				  "   true, NULL"
				  "  FROM rels"
				  "  JOIN pg_catalog.pg_statistic_ext x ON x.stxrelid OPERATOR(pg_catalog.=) ANY (rels.relids)"
				  "  CROSS JOIN LATERAL pg_catalog.unnest(pg_catalog.pg_get_statisticsobjdef_expressions(x.oid))"
				  "   WITH ORDINALITY e(expr, n)"
				  "  UNION ALL"
				  "  SELECT rels.base, 'mcv', NULL, NULL, NULL,"
				  "   pg_catalog.format('ARRAY[%s]', pg_catalog.string_agg(pg_catalog.format('r.%I::pg_catalog.text', a.attname),"
				  "    ', ' ORDER BY a.attnum)),"
				  "   pg_catalog.string_agg(pg_catalog.format('r.%I::pg_catalog.text OPERATOR(pg_catalog.=) $1', a.attname),"
				  "    ' OR ' ORDER BY a.attnum),"
				  "   true, NULL"
				  "  FROM rels"
				  "  JOIN pg_catalog.pg_attribute a ON a.attrelid OPERATOR(pg_catalog.=) rels.base"
				  "  WHERE EXISTS (SELECT FROM input WHERE input.relid OPERATOR(pg_catalog.=) rels.base"
				  "   AND input.col OPERATOR(pg_catalog.=) a.attname::pg_catalog.text)"
				  "   AND a.attnum OPERATOR(pg_catalog.>) 0 AND NOT a.attisdropped"
				  "   AND EXISTS (SELECT FROM pg_catalog.pg_statistic_ext x"
				  "    WHERE x.stxrelid OPERATOR(pg_catalog.=) ANY (rels.relids)"
				  "     AND 'm' OPERATOR(pg_catalog.=) ANY (x.stxkind))"
				  "  GROUP BY rels.base)"
				  " SELECT s.base, s.name, s.relid, s.attnum, s.relation, s.vals, s.cond, s.extended, s.row_vals, r.relids"
				  " FROM stats s JOIN rels r ON r.base OPERATOR(pg_catalog.=) s.base"
				  " ORDER BY s.base, s.name, s.relation, s.attnum",
				  3, argtypes, values);
	n = (int) SPI_processed;
	for (int i = 0; i < n; i++)
	{
		bool		isnull;
		Oid			base = DatumGetObjectId(result_datum(i, 1, &isnull));
		char	   *name = result_text(i, 2);
		SubjectStatistic *s;
		Datum		relid;

		if (t == NULL || t->relid != base)
		{
			int			nrels;
			Oid		   *rels = result_int_array(i, 10, OIDOID, &nrels);

			if (t != NULL)
				end_statistics(t, entries);
			t = find_table(kind, base);
			t->statistics = palloc0(sizeof(SubjectStatistic) * n);
			entries = 0;
			/* the partitions are where the rows are, and where the statistics are */
			for (int k = 0; k < nrels; k++)
				subject_depend_on_relation(kind, rels[k]);
		}
		if (entries == 0 || strcmp(t->statistics[entries - 1].name, name) != 0)
		{
			s = &t->statistics[entries++];
			s->name = name;
			s->values_sql = result_text(i, 6);
			s->condition_sql = result_text(i, 7);
			s->extended = DatumGetBool(result_datum(i, 8, &isnull));
			s->row_values_sql = result_text(i, 9);
			s->target_names = palloc(sizeof(char *) * n);
			s->target_relids = palloc(sizeof(Oid) * n);
			s->target_attnums = palloc(sizeof(int16) * n);
		}
		s = &t->statistics[entries - 1];
		relid = result_datum(i, 3, &isnull);
		if (!isnull && !s->extended)
		{
			s->target_relids[s->ntargets] = DatumGetObjectId(relid);
			s->target_attnums[s->ntargets] = DatumGetInt16(result_datum(i, 4, &isnull));
			s->target_names[s->ntargets] = result_text(i, 5);
			s->ntargets++;
		}
	}
	if (t != NULL)
		end_statistics(t, entries);
}

/* The personal tables (indexes into kind->personal) that use a category or source. */
static void
entry_tables(SubjectKind *kind, ExportEntry *e, const char *name, bool source)
{
	e->tables = palloc(sizeof(int) * Max(kind->npersonal, 1));
	e->ntables = 0;
	for (int i = 0; i < kind->npersonal; i++)
	{
		SubjectTable *t = kind->personal[i];
		char	  **names = source ? t->source_names : t->category_names;
		int			n = source ? t->nsource_names : t->ncategory_names;

		for (int k = 0; k < n; k++)
			if (strcmp(names[k], name) == 0)
			{
				e->tables[e->ntables++] = i;
				break;
			}
	}
}

/*
 * The entries of one of the categories and sources sections, in name
 * order, from a query returning (name, entry) of the names in $1.
 */
static void
read_named_entries(SubjectKind *kind, ExportSection section, const char *sql)
{
	bool		source = section == EXPORT_SOURCES;
	Datum	   *names;
	int			nnames = 0;
	Oid			argtypes[1] = {TEXTARRAYOID};
	Datum		values[1];
	int			n;

	for (int i = 0; i < kind->npersonal; i++)
		nnames += source ? kind->personal[i]->nsource_names : kind->personal[i]->ncategory_names;
	names = palloc(sizeof(Datum) * Max(nnames, 1));
	nnames = 0;
	for (int i = 0; i < kind->npersonal; i++)
	{
		SubjectTable *t = kind->personal[i];
		int			count = source ? t->nsource_names : t->ncategory_names;

		for (int k = 0; k < count; k++)
			names[nnames++] = CStringGetTextDatum(source ? t->source_names[k] : t->category_names[k]);
	}
	values[0] = PointerGetDatum(construct_array(names, nnames, TEXTOID, -1, false, TYPALIGN_INT));
	catalog_query(sql, 1, argtypes, values);
	n = (int) SPI_processed;
	kind->entries[section] = palloc0(sizeof(ExportEntry) * Max(n, 1));
	kind->nentries[section] = n;
	for (int i = 0; i < n; i++)
	{
		ExportEntry *e = &kind->entries[section][i];

		entry_tables(kind, e, result_text(i, 1), source);
		e->entry = result_jsonb(i, 2);
	}
}

/* What the export reports besides the rows: policy, categories, sources, retention. */
static void
read_export_sections(SubjectKind *kind)
{
	Oid			argtypes[1] = {REGCLASSARRAYOID};
	Datum		values[1] = {personal_array(kind, REGCLASSOID)};
	int			n;

	catalog_query("SELECT privacy_internal._export_policy_sections()", 0, NULL, NULL);
	kind->policy_sections = result_jsonb(0, 1);

	read_named_entries(kind, EXPORT_CATEGORIES,
					   "SELECT c.name, pg_catalog.jsonb_build_object('category', c.name, 'description', c.description)"
					   " FROM privacy.categories c WHERE c.name OPERATOR(pg_catalog.=) ANY ($1) ORDER BY c.name");
	read_named_entries(kind, EXPORT_SOURCES,
					   "SELECT s.name, pg_catalog.jsonb_build_object('source', s.name, 'description', s.description)"
					   " FROM privacy.sources s WHERE s.name OPERATOR(pg_catalog.=) ANY ($1) ORDER BY s.name");

	catalog_query("SELECT t.n, pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object("
				  " 'table', privacy_internal._qualified_name(rr.table_name), 'period', rr.period,"
				  " 'counted_from', rr.anchor, 'action', rr.action, 'legal_basis', rr.legal_basis,"
				  " 'minimum', rr.minimum,"
				  " 'minimum_from', CASE WHEN rr.minimum IS NOT NULL THEN rr.minimum_from END,"
				  " 'description', NULLIF(rr.description, '')))"
				  " FROM privacy.retention_rules rr"
				  " JOIN pg_catalog.unnest($1) WITH ORDINALITY t(table_name, n)"
				  "  ON t.table_name OPERATOR(pg_catalog.=) rr.table_name"
				  " ORDER BY rr.name",
				  1, argtypes, values);
	n = (int) SPI_processed;
	kind->entries[EXPORT_RETENTION] = palloc0(sizeof(ExportEntry) * Max(n, 1));
	kind->nentries[EXPORT_RETENTION] = n;
	for (int i = 0; i < n; i++)
	{
		ExportEntry *e = &kind->entries[EXPORT_RETENTION][i];
		bool		isnull;

		e->tables = palloc(sizeof(int));
		e->tables[0] = (int) DatumGetInt64(result_datum(i, 1, &isnull)) - 1;
		e->ntables = 1;
		e->entry = result_jsonb(i, 2);
	}
}

/* Reads the kind's subject map and everything the export and erasure need. */
void
subject_read_tables(SubjectKind *kind)
{
	read_map(kind);
	read_columns(kind);
	read_referencing(kind);
	read_rules(kind);
	if (kind->npersonal > 0)
		read_statistics(kind);
	read_export_sections(kind);
}

static void
hash_value(uint64 *h, const void *data, size_t len)
{
	*h = hash_bytes_extended((const unsigned char *) data, (int) len, *h);
}

static void
hash_oid_list(uint64 *h, List *oids)
{
	ListCell   *lc;
	int			n = list_length(oids);

	hash_value(h, &n, sizeof(n));
	foreach(lc, oids)
	{
		Oid			oid = lfirst_oid(lc);

		hash_value(h, &oid, sizeof(oid));
	}
}

/*
 * What a kind's statements depend on in one relation, as a hash: its name,
 * schema, owner and kind, its columns (name, type, NOT NULL), its triggers
 * (a foreign key to it adds some), its foreign keys, indexes, extended
 * statistics and children. 0 if the relation does not exist.
 */
uint64
subject_relation_signature(Oid relid)
{
	Relation	rel = RelationIdGetRelation(relid);
	uint64		h = 1;
	TupleDesc	desc;
	List	   *list;

	if (!RelationIsValid(rel))
		return 0;
	hash_value(&h, NameStr(rel->rd_rel->relname), strlen(NameStr(rel->rd_rel->relname)));
	hash_value(&h, &rel->rd_rel->relnamespace, sizeof(Oid));
	hash_value(&h, &rel->rd_rel->relowner, sizeof(Oid));
	hash_value(&h, &rel->rd_rel->relkind, sizeof(char));
	desc = RelationGetDescr(rel);
	hash_value(&h, &desc->natts, sizeof(int));
	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		hash_value(&h, NameStr(att->attname), strlen(NameStr(att->attname)));
		hash_value(&h, &att->atttypid, sizeof(Oid));
		hash_value(&h, &att->atttypmod, sizeof(int32));
		hash_value(&h, &att->attnotnull, sizeof(bool));
		hash_value(&h, &att->attisdropped, sizeof(bool));
	}
	if (rel->trigdesc != NULL)
	{
		hash_value(&h, &rel->trigdesc->numtriggers, sizeof(int));
		for (int i = 0; i < rel->trigdesc->numtriggers; i++)
			hash_value(&h, &rel->trigdesc->triggers[i].tgoid, sizeof(Oid));
	}
	if (rel->rd_rel->relkind == RELKIND_RELATION ||
		rel->rd_rel->relkind == RELKIND_PARTITIONED_TABLE)
	{
		ListCell   *lc;

		foreach(lc, RelationGetFKeyList(rel))
		{
			ForeignKeyCacheInfo *fk = lfirst(lc);

			hash_value(&h, &fk->conoid, sizeof(Oid));
		}
		list = RelationGetIndexList(rel);
		hash_oid_list(&h, list);
		list_free(list);
		list = RelationGetStatExtList(rel);
		hash_oid_list(&h, list);
		list_free(list);
		if (rel->rd_rel->relhassubclass)
		{
			list = find_inheritance_children(relid, NoLock);
			hash_oid_list(&h, list);
			list_free(list);
		}
	}
	RelationClose(rel);
	return h == 0 ? 1 : h;
}

/* A column's type, schema-qualified, and the OPERATOR(schema.=) of that type. */
static void
column_type(Oid relid, AttrNumber attnum, char **type_sql, char **operator)
{
	Oid			type;
	int32		typmod;
	Oid			collation;
	TypeCacheEntry *typentry;

	get_atttypetypmodcoll(relid, attnum, &type, &typmod, &collation);
	typentry = lookup_type_cache(type, TYPECACHE_EQ_OPR);
	if (!OidIsValid(typentry->eq_opr))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_FUNCTION),
				 errmsg("could not identify an equality operator for type %s", format_type_be(type))));
	*type_sql = format_type_extended(type, typmod, FORMAT_TYPE_TYPEMOD_GIVEN | FORMAT_TYPE_FORCE_QUALIFY);
	*operator = operator_sql(typentry->eq_opr);
}

/*
 * The binary output function of a key column's type, schema-qualified and
 * quoted, where the type's text output is not immutable (a time's depends
 * on the time zone) and the binary output is; else NULL
 * (subject_key_text()).
 */
static char *
key_send_function(Oid type)
{
	HeapTuple	tuple;
	Oid			output;
	Oid			send;

	tuple = SearchSysCache1(TYPEOID, ObjectIdGetDatum(type));
	if (!HeapTupleIsValid(tuple))
		elog(ERROR, "cache lookup failed for type %u", type);
	output = ((Form_pg_type) GETSTRUCT(tuple))->typoutput;
	send = ((Form_pg_type) GETSTRUCT(tuple))->typsend;
	ReleaseSysCache(tuple);
	if (func_volatile(output) == PROVOLATILE_IMMUTABLE || !OidIsValid(send) ||
		func_volatile(send) != PROVOLATILE_IMMUTABLE)
		return NULL;
	return quote_qualified_identifier(get_namespace_name(get_func_namespace(send)), get_func_name(send));
}

/*
 * How the careful way of the erasure names the table's rows (see
 * SubjectTable.rows_by_key): for a table Citus manages, its primary key's
 * columns and its distribution column.
 */
void
subject_read_row_key(SubjectTable *t)
{
	Relation	rel;
	Oid			pk;
	char	   *route;

	t->rows_by_key = privacy_citus_table(t->relid);
	t->nkey_columns = 0;
	t->key_columns = NULL;
	t->key_send_functions = NULL;
	t->route_column = NULL;
	if (!t->rows_by_key)
		return;

	rel = table_open(t->relid, AccessShareLock);
	pk = RelationGetPrimaryKeyIndex(rel);
	table_close(rel, AccessShareLock);
	if (OidIsValid(pk))
	{
		HeapTuple	tuple = SearchSysCache1(INDEXRELID, ObjectIdGetDatum(pk));
		Form_pg_index index;

		if (!HeapTupleIsValid(tuple))
			elog(ERROR, "cache lookup failed for index %u", pk);
		index = (Form_pg_index) GETSTRUCT(tuple);
		t->key_columns = palloc(sizeof(char *) * Max(index->indnkeyatts, 1));
		t->key_types_sql = palloc(sizeof(char *) * Max(index->indnkeyatts, 1));
		t->key_operators = palloc(sizeof(char *) * Max(index->indnkeyatts, 1));
		t->key_send_functions = palloc(sizeof(char *) * Max(index->indnkeyatts, 1));
		for (int i = 0; i < index->indnkeyatts; i++)
		{
			AttrNumber	attnum = index->indkey.values[i];

			t->key_columns[i] = pstrdup(quote_identifier(get_attname(t->relid, attnum, false)));
			column_type(t->relid, attnum, &t->key_types_sql[i], &t->key_operators[i]);
			t->key_send_functions[i] = key_send_function(get_atttype(t->relid, attnum));
			t->nkey_columns++;
		}
		ReleaseSysCache(tuple);
	}

	route = privacy_citus_distribution_column(t->relid);
	if (route != NULL)
	{
		AttrNumber	attnum = get_attnum(t->relid, route);

		if (attnum == InvalidAttrNumber)
			elog(ERROR, "distribution column of relation %u not found", t->relid);
		t->route_column = pstrdup(quote_identifier(route));
		column_type(t->relid, attnum, &t->route_type_sql, &t->route_operator);
	}
}
