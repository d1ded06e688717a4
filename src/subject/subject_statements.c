/*
 * subject_statements.c
 *		The statements generated from a kind's subject map: how a table's
 *		rows of a subject are found (its path joined up to the anchor), read
 *		for the export, deleted or anonymised by the erasure, and which of
 *		their values the planner's statistics can hold.
 *
 * Tables are named schema-qualified and quoted, columns quoted; a join
 * along a foreign key compares with the constraint's own equality
 * operators and the key with its type's, each as OPERATOR(schema.op); types
 * and functions are schema-qualified. A row's path is joined with aliases
 * t0 (the table), t1, t2, ... (the tables up the path); the subject's
 * canonical key is $1 (text), cast to the key's type.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "lib/stringinfo.h"
#include "nodes/parsenodes.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/syscache.h"

#include "base/citus.h"
#include "base/qualified_name.h"
#include "subject/subject.h"

/* "parent.col OPERATOR(...) child.col AND ..." for a foreign key. */
char *
subject_join_condition(const SubjectForeignKey *fk, const char *parent_alias, const char *child_alias)
{
	StringInfoData buf;

	initStringInfo(&buf);
	for (int i = 0; i < fk->ncolumns; i++)
		appendStringInfo(&buf, "%s%s.%s %s %s.%s", i > 0 ? " AND " : "",
						 parent_alias, fk->parent_columns[i], fk->operators[i],
						 child_alias, fk->child_columns[i]);
	return buf.data;
}

/*
 * " AND NOT EXISTS (...)" for each foreign key referencing the table: the
 * row alias names a row no other row references.
 */
char *
subject_unreferenced_condition(const SubjectTable *table, const char *alias)
{
	StringInfoData buf;

	initStringInfo(&buf);
	for (int i = 0; i < table->nreferencing; i++)
		appendStringInfo(&buf, " AND NOT EXISTS (SELECT FROM %s r WHERE %s)",
						 table->referencing[i].child_name,
						 subject_join_condition(&table->referencing[i], alias, "r"));
	return buf.data;
}

/* The index of the kind's key column among the parent columns of fk, or -1. */
static int
key_position(const SubjectKind *kind, const SubjectForeignKey *fk)
{
	for (int i = 0; i < fk->ncolumns; i++)
		if (strcmp(fk->parent_attnames[i], kind->key_column) == 0)
			return i;
	return -1;
}

/*
 * Where Citus manages the table: the column of t0 that holds the subject's
 * key, followed back along the path through foreign keys that always hold
 * (SubjectForeignKey.enforced), or NULL. Compared with the key directly,
 * without the path's joins, the table's rows of the subject are a query of
 * one table by its distribution column, which Citus plans on its fast path.
 */
static const char *
key_column_of_table(SubjectKind *kind, SubjectTable *t, const SubjectForeignKey *fks)
{
	const SubjectForeignKey *last = &fks[t->nhops - 1];
	int			pos = key_position(kind, last);
	const char *column;
	int			hop;

	if (!privacy_citus_table(t->relid))
		return NULL;
	if (pos >= 0)
	{
		column = last->child_columns[pos];
		hop = t->nhops - 2;
	}
	else
	{
		column = quote_identifier(kind->key_column);
		hop = t->nhops - 1;
	}
	for (; hop >= 0; hop--)
	{
		const SubjectForeignKey *fk = &fks[hop];
		const char *child = NULL;

		if (!fk->enforced)
			return NULL;
		for (int i = 0; i < fk->ncolumns && child == NULL; i++)
			if (strcmp(fk->parent_columns[i], column) == 0)
				child = fk->child_columns[i];
		if (child == NULL)
			return NULL;
		column = child;
	}
	return column;
}

/*
 * The tables joined on a table's path and the conditions that tie its row
 * t0 to the subject $1; a path whose last foreign key holds the key stops
 * there, without joining the anchor.
 */
static void
build_path(SubjectKind *kind, SubjectTable *t)
{
	StringInfoData joined;
	StringInfoData conditions;
	const char *cur = "t0";
	SubjectForeignKey *fks;
	const char *column;

	if (t->nhops == 0)
	{
		t->joined = "";
		t->conditions = psprintf("t0.%s %s $1::%s", quote_identifier(kind->key_column),
								 kind->key_operator, kind->key_type_sql);
		return;
	}
	fks = palloc(sizeof(SubjectForeignKey) * t->nhops);
	fks[0] = *t->first_hop;
	for (int i = 1; i < t->nhops; i++)
		subject_read_foreign_key(kind, t->hops[i], &fks[i]);
	column = key_column_of_table(kind, t, fks);
	if (column != NULL)
	{
		t->joined = "";
		t->conditions = psprintf("$1::%s %s t0.%s", kind->key_type_sql, kind->key_operator, column);
		return;
	}

	initStringInfo(&joined);
	initStringInfo(&conditions);
	for (int i = 0; i < t->nhops; i++)
	{
		const SubjectForeignKey *fk = &fks[i];
		int			pos = key_position(kind, fk);
		char	   *alias;

		if (i == t->nhops - 1 && pos >= 0)
		{
			appendStringInfo(&conditions, "%s$1::%s %s %s.%s",
							 conditions.len > 0 ? " AND " : "",
							 kind->key_type_sql, fk->operators[pos], cur, fk->child_columns[pos]);
			t->joined = joined.data;
			t->conditions = conditions.data;
			return;
		}
		alias = psprintf("t%d", i + 1);
		appendStringInfo(&joined, "%s%s AS %s", joined.len > 0 ? ", " : "", fk->parent_name, alias);
		appendStringInfo(&conditions, "%s%s", conditions.len > 0 ? " AND " : "",
						 subject_join_condition(fk, alias, cur));
		cur = alias;
	}
	appendStringInfo(&conditions, "%s%s.%s %s $1::%s",
					 conditions.len > 0 ? " AND " : "",
					 cur, quote_identifier(kind->key_column), kind->key_operator, kind->key_type_sql);
	t->joined = joined.data;
	t->conditions = conditions.data;
}

/* ", joined" or "" */
static const char *
comma_joined(const SubjectTable *t)
{
	return t->joined[0] != '\0' ? psprintf(", %s", t->joined) : "";
}

/*
 * The CTE "found" of the distinct (statistics entry, value) pairs of the
 * subject's rows, read from the CTE "subject_rows" as r.
 */
static char *
found_cte(const SubjectTable *t)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfoString(&buf, "found AS (SELECT DISTINCT v.i, x.v FROM subject_rows r CROSS JOIN LATERAL (VALUES ");
	for (int i = 0; i < t->nstatistics; i++)
		appendStringInfo(&buf, "%s(%d, %s)", i > 0 ? ", " : "", i + 1, t->statistics[i].values_sql);
	appendStringInfoString(&buf, ") v(i, vals) CROSS JOIN LATERAL pg_catalog.unnest(v.vals) x(v) WHERE x.v IS NOT NULL)");
	return buf.data;
}

static const Oid key_arg[1] = {TEXTOID};
static const Oid tids_arg[1] = {TIDARRAYOID};
static const Oid key_tids_args[2] = {TEXTOID, TIDARRAYOID};
static const Oid ids_args[2] = {TEXTARRAYOID, TEXTARRAYOID};
static const Oid key_ids_args[2] = {TEXTOID, TEXTARRAYOID};

/*
 * Where Citus manages the table, a DELETE of the subject's rows t0 notes
 * each deleted row's values of its classified columns for the statistics
 * of the shard it was deleted from, by a call of
 * privacy_internal._erased_from_shard() (always true), which Citus runs on
 * the shard's node (rights/shard_statistics.c). The call is given the
 * columns' names as one text[] literal and the whole row, whose values it
 * converts to text itself: Citus allows only immutable functions of a row
 * in a DELETE, and the conversion of a date, a time or an array to text
 * is not. The one literal also leaves Citus no function to deparse, and
 * the shard's node none to look up, but this one, for every statement.
 *
 * Where the statement finds the rows by the table's own column of the key
 * (t->joined is empty), the call is the WHERE clause's last condition:
 * declared costly, it is evaluated after the cheap ones, the key's among
 * them, and a row it notes that a costlier condition then keeps (one still
 * referenced, which the erasure anonymises) costs the statistics at most a
 * value that row held, as the scrub's look for values still held can
 * (shard_statistics.c). Elsewhere a condition on t0 alone could be
 * evaluated on every row of the shard before the join finds the subject's,
 * so the call is an item of the RETURNING list, which costs Citus about
 * 30 µs more a statement. shard_statistics_call() is the call, or NULL
 * where there is nothing to note.
 */
static char *
shard_statistics_call(const SubjectTable *t)
{
	Datum	   *names = palloc(sizeof(Datum) * Max(t->nstatistics, 1));
	int			n = 0;
	char	   *literal;

	if (!t->rows_by_key)
		return NULL;
	for (int i = 0; i < t->nstatistics; i++)
	{
		const SubjectStatistic *s = &t->statistics[i];

		/* the classified columns (the others are index or extended statistics) */
		if (s->row_values_sql != NULL && !s->extended)
			names[n++] = CStringGetTextDatum(s->name);
	}
	if (n == 0)
		return NULL;
	literal = OidOutputFunctionCall(F_ARRAY_OUT,
									PointerGetDatum(construct_array(names, n, TEXTOID, -1, false, TYPALIGN_INT)));
	return psprintf("privacy_internal._erased_from_shard(t0.tableoid::pg_catalog.regclass, %s::pg_catalog.text[], t0.*)",
					quote_literal_cstr(literal));
}

/* The note's condition (shard_statistics_call()), after " AND", or "". */
static const char *
shard_statistics_condition(const SubjectTable *t)
{
	char	   *call = shard_statistics_call(t);

	return call != NULL && t->joined[0] == '\0' ? psprintf(" AND %s", call) : "";
}

/* The note's RETURNING item (shard_statistics_call()), after a comma, or "". */
static const char *
shard_statistics_returned(const SubjectTable *t)
{
	char	   *call = shard_statistics_call(t);

	return call != NULL && t->joined[0] != '\0' ? psprintf(", %s AS noted", call) : "";
}

/*
 * What a DELETE of the subject's rows t0 returns for statistics entry i:
 * the row's values as text[], which the erasure looks up in the table's
 * statistics; NULL where Citus manages the table, whose statistics are the
 * shards' own (shard_statistics_call() notes the values there).
 */
static const char *
returned_values_sql(const SubjectTable *t, int i)
{
	return t->rows_by_key ? "NULL::pg_catalog.text[]" : t->statistics[i].row_values_sql;
}

/*
 * ERASE_DELETE: delete every row of the subject, returning the statistics
 * values of each. Where Citus manages the table and finds the rows by the
 * table's own key column, the rows' values are noted for the shard's
 * statistics as they go and the statement returns nothing: Citus would
 * only carry a NULL per row back from the worker.
 */
static char *
erase_delete(const SubjectTable *t)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfo(&buf, "DELETE FROM %s AS t0%s%s WHERE %s%s",
					 t->name, t->joined[0] != '\0' ? " USING " : "", t->joined, t->conditions,
					 shard_statistics_condition(t));
	if (t->rows_by_key && t->joined[0] == '\0')
		return buf.data;
	for (int i = 0; i < t->nstatistics; i++)
		appendStringInfo(&buf, "%s%s", i > 0 ? ", " : " RETURNING ", returned_values_sql(t, i));
	appendStringInfoString(&buf, shard_statistics_returned(t));
	return buf.data;
}

/* The personal table whose path starts with foreign key fk and then runs as t's does, or NULL. */
static SubjectTable *
path_through(SubjectKind *kind, const SubjectTable *t, const SubjectForeignKey *fk)
{
	for (int i = 0; i < kind->npersonal; i++)
	{
		SubjectTable *c = kind->personal[i];

		if (c->nhops == t->nhops + 1 && c->hops[0] == fk->constraint &&
			memcmp(c->hops + 1, t->hops, sizeof(Oid) * t->nhops) == 0)
			return c;
	}
	return NULL;
}

/*
 * Sets t's referrers if every foreign key to t comes from a personal table
 * whose path runs through that key and then on as t's path does: the rows
 * referencing the subject's rows of t are then exactly that table's rows
 * of the subject. Only keys whose ON DELETE action is NO ACTION, RESTRICT
 * or CASCADE count: were a row attached by a concurrent transaction after
 * the referrer's rows went, deleting t's rows fails on it, or takes it
 * along, rather than leaving it behind with a cleared reference.
 */
static bool
find_referrers(SubjectKind *kind, SubjectTable *t)
{
	int		   *referrers = palloc(sizeof(int) * t->nreferencing);

	for (int i = 0; i < t->nreferencing; i++)
	{
		const SubjectForeignKey *fk = &t->referencing[i];
		SubjectTable *c;

		if (fk->on_delete != FKCONSTR_ACTION_NOACTION && fk->on_delete != FKCONSTR_ACTION_RESTRICT &&
			fk->on_delete != FKCONSTR_ACTION_CASCADE)
			return false;
		c = path_through(kind, t, fk);
		if (c == NULL)
			return false;
		referrers[i] = c->personal_index;
	}
	t->nreferrers = t->nreferencing;
	t->referrers = referrers;
	return true;
}

/*
 * The careful way's statements of a table whose rows are named by ctid
 * (see SubjectTable.rows_by_key); unreferenced is the condition that the
 * row t0 is referenced by no row.
 */
static void
build_ctid_statements(SubjectTable *t, const char *unreferenced)
{
	subject_statement_init(&t->lock_rows,
						   psprintf("SELECT pg_catalog.array_agg(s.ctid) FROM (SELECT t0.ctid %s FOR UPDATE OF t0) s",
									t->rows_sql),
						   1, key_arg);
	subject_statement_init(&t->delete_unreferenced,
						   psprintf("WITH gone AS (DELETE FROM %s t WHERE t.ctid OPERATOR(pg_catalog.=) ANY ($1)%s RETURNING t.ctid) "
									"SELECT COALESCE(pg_catalog.array_agg(gone.ctid), '{}') FROM gone",
									t->name, subject_unreferenced_condition(t, "t")),
						   1, tids_arg);
	subject_statement_init(&t->rows_left,
						   psprintf("SELECT pg_catalog.count(*) OPERATOR(pg_catalog.>) 0 %s"
									" AND t0.ctid OPERATOR(pg_catalog.<>) ALL ($2)%s",
									t->rows_sql, unreferenced),
						   2, key_tids_args);
	for (int i = 0; i < t->nrules; i++)
	{
		SubjectRule *rule = &t->rules[i];

		if (!rule->has_minimum)
			continue;
		subject_statement_init(&rule->kept,
							   psprintf("SELECT pg_catalog.array_agg(t.ctid) FROM %s t"
										" WHERE t.ctid OPERATOR(pg_catalog.=) ANY ($1)"
										" AND privacy_internal._minimum_end(%s, t.%s::pg_catalog.timestamptz)"
										" OPERATOR(pg_catalog.>) pg_catalog.now()",
										t->name, quote_literal_cstr(rule->name), quote_identifier(rule->anchor)),
							   1, tids_arg);
		subject_statement_init(&rule->kept_until,
							   psprintf("SELECT pg_catalog.to_jsonb(pg_catalog.max(privacy_internal._minimum_end(%s,"
										" t.%s::pg_catalog.timestamptz))::pg_catalog.date) FROM %s t"
										" WHERE t.ctid OPERATOR(pg_catalog.=) ANY ($1)",
										quote_literal_cstr(rule->name), quote_identifier(rule->anchor), t->name),
							   1, tids_arg);
	}
}


/* "alias.c1, alias.c2, ..." of the primary key's columns */
static char *
key_columns_of(const SubjectTable *t, const char *alias)
{
	StringInfoData buf;

	initStringInfo(&buf);
	for (int i = 0; i < t->nkey_columns; i++)
		appendStringInfo(&buf, "%s%s.%s", i > 0 ? ", " : "", alias, t->key_columns[i]);
	return buf.data;
}

/*
 * Key column i of row alias of a table whose rows are named by key, as
 * text computed by immutable functions only, the same on every node: Citus
 * refuses a function of a column in an UPDATE unless it is immutable. The
 * column's text, or where that depends on settings (a time's on the time
 * zone) the hexadecimal digits of its binary form.
 */
char *
subject_key_text(const SubjectTable *t, int i, const char *alias)
{
	if (t->key_send_functions[i] == NULL)
		return psprintf("%s.%s::pg_catalog.text", alias, t->key_columns[i]);
	return psprintf("pg_catalog.encode(%s(%s.%s), 'hex')", t->key_send_functions[i], alias, t->key_columns[i]);
}

/*
 * The row id of row alias of a table whose rows are named by key: its
 * primary key as the text of a jsonb array.
 */
char *
subject_row_id(const SubjectTable *t, const char *alias)
{
	return psprintf("pg_catalog.jsonb_build_array(%s)::pg_catalog.text", key_columns_of(t, alias));
}

/*
 * The condition that row alias of a table whose rows are named by key is
 * one of the row ids in $param (text[]). The row's columns are compared
 * with values of their types taken from the ids, never passed to a
 * function: Citus refuses a stable function of a column in an UPDATE or
 * DELETE.
 */
char *
subject_row_match(const SubjectTable *t, const char *alias, int param)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfo(&buf, "EXISTS (SELECT FROM pg_catalog.unnest($%d) k(i) WHERE ", param);
	for (int i = 0; i < t->nkey_columns; i++)
		appendStringInfo(&buf, "%s%s.%s %s (k.i::pg_catalog.jsonb OPERATOR(pg_catalog.->>) %d)::%s",
						 i > 0 ? " AND " : "", alias, t->key_columns[i], t->key_operators[i], i,
						 t->key_types_sql[i]);
	appendStringInfoChar(&buf, ')');
	return buf.data;
}

/*
 * " AND alias.column = ANY ($param)" on the distribution column of a table
 * whose rows are named by key, with $param the text[] of its values, so
 * that Citus routes the statement to their shards; "" for a reference
 * table.
 */
char *
subject_row_route(const SubjectTable *t, const char *alias, int param)
{
	if (t->route_column == NULL)
		return "";
	return psprintf(" AND %s.%s %s ANY ($%d::pg_catalog.text[]::%s[])",
					alias, t->route_column, t->route_operator, param, t->route_type_sql);
}

/*
 * The careful way's statements of a table whose rows are named by key (see
 * SubjectTable.rows_by_key); none without a primary key, which the erasure
 * refuses there.
 */
static void
build_keyed_statements(SubjectKind *kind, SubjectTable *t, const char *unreferenced)
{
	char	   *id_t = subject_row_id(t, "t");
	char	   *route_t = subject_row_route(t, "t", 2);

	if (t->nkey_columns == 0)
		return;
	subject_key_statement_init(kind, &t->lock_rows,
						   psprintf("SELECT pg_catalog.array_agg(s.i), pg_catalog.array_agg(DISTINCT s.r)"
									" FROM (SELECT %s AS i, %s AS r %s FOR UPDATE OF t0) s",
									subject_row_id(t, "t0"),
									t->route_column != NULL ? psprintf("t0.%s::pg_catalog.text", t->route_column) :
									"NULL::pg_catalog.text",
									t->rows_sql),
						   1, key_arg);
	/* (Citus allows only immutable functions in RETURNING.) */
	subject_statement_init(&t->delete_unreferenced,
						   psprintf("WITH gone AS (DELETE FROM %s t WHERE %s%s%s RETURNING %s) "
									"SELECT COALESCE(pg_catalog.array_agg(%s), '{}') FROM gone",
									t->name, subject_row_match(t, "t", 1), route_t, subject_unreferenced_condition(t, "t"),
									key_columns_of(t, "t"), subject_row_id(t, "gone")),
						   2, ids_args);
	subject_key_statement_init(kind, &t->rows_left,
						   psprintf("SELECT pg_catalog.count(*) OPERATOR(pg_catalog.>) 0 %s"
									" AND %s OPERATOR(pg_catalog.<>) ALL ($2)%s",
									t->rows_sql, subject_row_id(t, "t0"), unreferenced),
						   2, key_ids_args);

	/*
	 * A rule's legal minimum is computed on the coordinator, from the rows'
	 * anchors (erasure_table.c): a worker holds no retention rules.
	 */
	for (int i = 0; i < t->nrules; i++)
	{
		SubjectRule *rule = &t->rules[i];

		if (!rule->has_minimum)
			continue;
		subject_statement_init(&rule->kept,
							   psprintf("SELECT pg_catalog.array_agg(%s), pg_catalog.array_agg(t.%s::pg_catalog.timestamptz)"
										" FROM %s t WHERE %s OPERATOR(pg_catalog.=) ANY ($1)%s",
										id_t, quote_identifier(rule->anchor), t->name, id_t, route_t),
							   2, ids_args);
	}
}

/* The erasure's and the statistics check's statements of a personal table. */
static void
build_table_statements(SubjectKind *kind, SubjectTable *t)
{
	const char *joined = comma_joined(t);
	char	   *unreferenced = subject_unreferenced_condition(t, "t0");
	bool		stats = t->nstatistics > 0;
	StringInfoData buf;

	/* whether Citus manages the table, and its rows' key there */
	subject_read_row_key(t);

	/*
	 * The common case of the erasure: delete the subject's rows that no row
	 * references, counting all of them where rows reference the table (those
	 * referenced by rows kept elsewhere are anonymised instead) and, where
	 * the statistics may hold their values, reading those values as they go
	 * (or, for index expressions and extended statistics, before).
	 */
	initStringInfo(&buf);
	if (stats && !t->statistics_of_columns)
	{
		t->erase_form = ERASE_VALUES_FIRST;
		appendStringInfo(&buf, "WITH subject_rows AS (SELECT t0.* %s), %s, ", t->rows_sql, found_cte(t));
		appendStringInfo(&buf, "gone AS (DELETE FROM %s AS t0%s%s WHERE %s%s%s RETURNING 1%s) ",
						 t->name, t->joined[0] != '\0' ? " USING " : "", t->joined,
						 t->conditions, unreferenced, shard_statistics_condition(t),
						 shard_statistics_returned(t));
		appendStringInfo(&buf, "SELECT ARRAY[%s, g.n]::pg_catalog.int4[], f.i, f.v "
						 "FROM (SELECT pg_catalog.count(*) AS n FROM gone) g, "
						 "(SELECT pg_catalog.array_agg(found.i) AS i, pg_catalog.array_agg(found.v) AS v FROM found) f",
						 t->nreferencing == 0 ? "g.n" : "(SELECT pg_catalog.count(*) FROM subject_rows)");
	}
	else if (t->nreferencing == 0)
	{
		t->erase_form = ERASE_DELETE;
		appendStringInfoString(&buf, erase_delete(t));
	}
	else
	{
		t->erase_form = ERASE_DELETE_COUNTED;
		appendStringInfo(&buf, "WITH gone AS (DELETE FROM %s AS t0%s%s WHERE %s%s%s RETURNING true AS d",
						 t->name, t->joined[0] != '\0' ? " USING " : "", t->joined,
						 t->conditions, unreferenced, shard_statistics_condition(t));
		for (int i = 0; i < t->nstatistics; i++)
			appendStringInfo(&buf, ", %s AS v%d", returned_values_sql(t, i), i + 1);
		appendStringInfoString(&buf, shard_statistics_returned(t));
		appendStringInfo(&buf, ") SELECT (SELECT pg_catalog.count(*) FROM %s AS t0%s WHERE %s), g.d",
						 t->name, joined, t->conditions);
		for (int i = 0; i < t->nstatistics; i++)
			appendStringInfo(&buf, ", g.v%d", i + 1);
		appendStringInfoString(&buf, " FROM (SELECT) one LEFT JOIN gone g ON true");
		if (find_referrers(kind, t))
			subject_key_statement_init(kind, &t->erase_unreferenced, erase_delete(t), 1, key_arg);
	}
	subject_key_statement_init(kind, &t->erase, buf.data, 1, key_arg);

	if (stats)
	{
		subject_key_statement_init(kind, &t->statistics_values,
							   psprintf("WITH subject_rows AS (SELECT t0.* %s), %s "
										"SELECT pg_catalog.array_agg(found.i), pg_catalog.array_agg(found.v) FROM found",
										t->rows_sql, found_cte(t)),
							   1, key_arg);
		for (int i = 0; i < t->nstatistics; i++)
			subject_statement_init(&t->statistics[i].still_there,
								   psprintf("SELECT EXISTS (SELECT FROM (SELECT * FROM %s LIMIT 1000) r WHERE %s)",
											t->name, t->statistics[i].condition_sql),
								   1, key_arg);
	}

	/* The careful way, row set by row set (erasure_table.c). */
	if (t->rows_by_key)
		build_keyed_statements(kind, t, unreferenced);
	else
		build_ctid_statements(t, unreferenced);
}

/* The anchor's rows of the subject whose key is $1, as a subquery. */
static char *
anchor_match(const SubjectKind *kind)
{
	return psprintf("SELECT FROM %s t WHERE t.%s %s $1::%s",
					kind->anchor_name, quote_identifier(kind->key_column),
					kind->key_operator, kind->key_type_sql);
}

/*
 * The export reads the personal tables of one owner in one statement, as
 * that owner: one jsonb array of rows (NULL for none) per table. The
 * statement of the anchor's owner comes first and tells whether the anchor
 * holds the subject: by the anchor's rows where the anchor is personal,
 * else by a first column, EXISTS (anchor_match, the anchor's rows of key
 * $1), except where Citus manages the anchor and the statement reads other
 * tables (the export then asks with the kind's exists statement, which
 * Citus routes to the subject's shard); it reads no other table when that
 * owner has no personal table.
 */
static void
build_export_groups(SubjectKind *kind, const char *anchor_match)
{
	HeapTuple	tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(kind->anchor));

	if (!HeapTupleIsValid(tuple))
		elog(ERROR, "cache lookup failed for relation %u", kind->anchor);
	kind->groups = palloc0(sizeof(ExportGroup) * (kind->npersonal + 1));
	kind->groups[0].owner = ((Form_pg_class) GETSTRUCT(tuple))->relowner;
	kind->groups[0].finds_subject = true;
	kind->groups[0].anchor_table = -1;
	kind->groups[0].tables = palloc(sizeof(int) * Max(kind->npersonal, 1));
	kind->ngroups = 1;
	ReleaseSysCache(tuple);
	for (int i = 0; i < kind->npersonal; i++)
	{
		SubjectTable *t = kind->personal[i];
		ExportGroup *g = NULL;

		for (int k = 0; k < kind->ngroups; k++)
			if (kind->groups[k].owner == t->owner)
				g = &kind->groups[k];
		if (g == NULL)
		{
			g = &kind->groups[kind->ngroups++];
			g->owner = t->owner;
			g->tables = palloc(sizeof(int) * kind->npersonal);
		}
		if (t->relid == kind->anchor)
			g->anchor_table = g->ntables;
		g->tables[g->ntables++] = i;
	}
	for (int k = 0; k < kind->ngroups; k++)
	{
		ExportGroup *g = &kind->groups[k];
		StringInfoData sql;
		StringInfoData names;
		const char *separator = "";

		initStringInfo(&sql);
		initStringInfo(&names);
		appendStringInfoString(&sql, "SELECT ");
		g->exists_column = g->finds_subject && g->anchor_table < 0 &&
			(!kind->anchor_distributed || g->ntables == 0);
		if (g->exists_column)
		{
			appendStringInfo(&sql, "EXISTS (%s)", anchor_match);
			separator = ", ";
		}
		for (int j = 0; j < g->ntables; j++)
		{
			SubjectTable *t = kind->personal[g->tables[j]];

			appendStringInfo(&sql, "%s(SELECT pg_catalog.jsonb_agg(pg_catalog.to_jsonb(t0)) %s)",
							 separator, t->rows_sql);
			separator = ", ";
			appendStringInfo(&names, "%s%s", j > 0 ? ", " : "", t->name);
		}
		if (g->ntables == 0)
			appendStringInfoString(&names, kind->anchor_name);
		g->single = g->ntables <= 1;
		g->description = names.data;
		subject_key_statement_init(kind, &g->read, sql.data, 1, key_arg);
	}
}

/* Builds every statement of the kind from what subject_paths.c read. */
void
subject_build_statements(SubjectKind *kind)
{
	for (int i = 0; i < kind->ntables; i++)
	{
		SubjectTable *t = &kind->tables[i];

		build_path(kind, t);
		t->rows_sql = psprintf("FROM %s AS t0%s WHERE %s", t->name, comma_joined(t), t->conditions);
	}
	for (int i = 0; i < kind->npersonal; i++)
		build_table_statements(kind, kind->personal[i]);
	build_export_groups(kind, anchor_match(kind));
}

/*
 * The statements about the anchor alone: the key's cast, the subject's
 * existence, the erasure's first look at the subject.
 */
void
subject_build_key_statements(SubjectKind *kind)
{
	Oid			frame_args[3] = {TEXTOID, TEXTOID, TEXTOID};
	char	   *match = anchor_match(kind);

	subject_statement_init(&kind->key_cast,
						   psprintf("SELECT ($1::%s)::pg_catalog.text", kind->key_type_sql), 1, key_arg);
	subject_key_statement_init(kind, &kind->exists, psprintf("SELECT EXISTS (%s)", match), 1, key_arg);
	subject_key_statement_init(kind, &kind->exists_locked, psprintf("SELECT EXISTS (%s FOR UPDATE)", match),
						   1, key_arg);

	/*
	 * The erasure's first look at the subject, once it holds the subject's
	 * locks (its key $1, kind $2 and reference $3): the anchor row, locked;
	 * whether a legal hold names the subject; the tables held as a whole;
	 * whether the ledgers, requests or holds hold anything of the subject
	 * to forget or release (erasure_ledgers.c); whether its data was
	 * disclosed; whether an erasure of it is held pending; whether it was
	 * erased before.
	 * Citus cannot plan a statement that locks rows of a table it
	 * distributes together with the extension's local tables: there the
	 * anchor row is locked by a statement of its own (lock_anchor) and
	 * the first column is NULL.
	 */
	kind->anchor_distributed = privacy_citus_table(kind->anchor);
	subject_key_statement_init(kind, &kind->lock_anchor, psprintf("%s FOR UPDATE OF t", match),
							   1, key_arg);
	subject_statement_init(&kind->erase_frame,
						   psprintf("SELECT %s%s%s, "
									"EXISTS (SELECT FROM privacy.legal_holds h WHERE h.released_at IS NULL"
									" AND h.kind OPERATOR(pg_catalog.=) $2 AND h.subject_ref OPERATOR(pg_catalog.=) $3), "
									"ARRAY(SELECT h.table_name::pg_catalog.oid FROM privacy.legal_holds h"
									" WHERE h.released_at IS NULL AND h.table_name IS NOT NULL), "
									"EXISTS (SELECT FROM privacy.consent_ledger l WHERE l.kind OPERATOR(pg_catalog.=) $2"
									" AND l.subject OPERATOR(pg_catalog.=) $1 AND NOT l.forgotten)"
									" OR EXISTS (SELECT FROM privacy._ledger_state s WHERE s.kind OPERATOR(pg_catalog.=) $2"
									" AND s.subject OPERATOR(pg_catalog.=) $1)"
									" OR EXISTS (SELECT FROM privacy.disclosures d WHERE d.kind OPERATOR(pg_catalog.=) $2"
									" AND d.subject_ref OPERATOR(pg_catalog.=) $3 AND d.subject IS NOT NULL)"
									" OR EXISTS (SELECT FROM privacy.subject_requests r WHERE r.kind OPERATOR(pg_catalog.=) $2"
									" AND r.subject_ref OPERATOR(pg_catalog.=) $3)"
									" OR EXISTS (SELECT FROM privacy.legal_holds h WHERE h.kind OPERATOR(pg_catalog.=) $2"
									" AND h.subject_ref OPERATOR(pg_catalog.=) $3"
									" AND (h.subject IS NOT NULL OR h.released_at IS NOT NULL)), "
									"EXISTS (SELECT FROM privacy.disclosures d WHERE d.kind OPERATOR(pg_catalog.=) $2"
									" AND d.subject_ref OPERATOR(pg_catalog.=) $3), "
									"EXISTS (SELECT FROM privacy._held_erasures e WHERE e.kind OPERATOR(pg_catalog.=) $2"
									" AND e.subject_ref OPERATOR(pg_catalog.=) $3), "
									"EXISTS (SELECT FROM privacy.erasures e WHERE e.kind OPERATOR(pg_catalog.=) $2"
									" AND e.subject_ref OPERATOR(pg_catalog.=) $3)",
									kind->anchor_distributed ? "NULL::pg_catalog.bool" : "EXISTS (",
									kind->anchor_distributed ? "" : match,
									kind->anchor_distributed ? "" : " FOR UPDATE OF t)"),
						   3, frame_args);
	kind->erase_frame.free_plan = kind->anchor_distributed;
}

PG_FUNCTION_INFO_V1(privacy_row_id_sql);

/*
 * privacy_internal._row_id_sql(rel regclass, param integer) → text[]: how
 * a statement on rel (alias t) names rows, for the retention job: {the row
 * id of row t as text, the condition that row t is one of the ids in
 * $param (text[]), the locking clause of the query that picks rows}. A row
 * is its ctid, or where Citus manages the table its primary key (see
 * SubjectTable.rows_by_key); there rows are not picked FOR UPDATE SKIP
 * LOCKED, which Citus cannot run on more than one shard.
 */
Datum
privacy_row_id_sql(PG_FUNCTION_ARGS)
{
	SubjectTable t;
	int			param = PG_GETARG_INT32(1);
	Datum		parts[3];

	memset(&t, 0, sizeof(t));
	t.relid = PG_GETARG_OID(0);
	subject_read_row_key(&t);
	if (!t.rows_by_key)
	{
		parts[0] = CStringGetTextDatum("t.ctid::pg_catalog.text");
		parts[1] = CStringGetTextDatum(psprintf("t.ctid OPERATOR(pg_catalog.=) ANY ($%d::pg_catalog.tid[])", param));
		parts[2] = CStringGetTextDatum(" FOR UPDATE OF t SKIP LOCKED");
	}
	else if (t.nkey_columns == 0)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot enforce retention on table %s row by row because it has no primary key",
						privacy_qualified_name(t.relid)),
				 errdetail("Citus distributes the table, so a row's ctid names it only within one shard; the retention job names such rows by their primary key."),
				 errhint("Add a primary key to the table (it includes the distribution column).")));
	else
	{
		parts[0] = CStringGetTextDatum(subject_row_id(&t, "t"));
		parts[1] = CStringGetTextDatum(subject_row_match(&t, "t", param));
		parts[2] = CStringGetTextDatum("");
	}
	PG_RETURN_ARRAYTYPE_P(construct_array(parts, 3, TEXTOID, -1, false, TYPALIGN_INT));
}
