/*
 * audit_direct.c
 *		Rows of the audit tables written without a statement: the unsealed
 *		entries a transaction writes at commit, their deletion once sealed,
 *		and the sealed entries a seal inserts into privacy.audit_log.
 *
 * These are the audit log's hot paths (every audited commit, and every
 * entry's seal). A statement would plan or start an executor for each; an
 * INSERT ... SELECT over arrays unnested in a function scan, as a seal's
 * was, copies every entry through a tuplestore per column. So the rows are
 * formed here and written with the heap access method, a heap row and its
 * index entries each, as the executor would write them for a table that
 * has no trigger on INSERT and no CHECK constraint. No user code can run:
 * nothing the tables' owner or the caller defined is involved, so no
 * switch of user is needed.
 *
 * privacy._audit_unsealed is the extension's own table, readable by its
 * owner only; its writers keep its CHECK constraint by construction. The
 * sealed entries go to privacy.audit_log directly only while it is as the
 * extension created it: a plain table with its columns and their NOT NULL
 * constraints, no trigger on INSERT, no CHECK constraint, no row security,
 * indexes on plain columns and no exclusion constraint, not a table Citus
 * manages. A DBA who attached a trigger to it, say to ship entries
 * elsewhere, keeps it firing, as the seal then inserts with a statement
 * (audit_seal.c).
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/index.h"
#include "catalog/pg_type.h"
#include "utils/rel.h"

#include "audit/audit.h"
#include "base/citus.h"
#include "base/extension_objects.h"

/* The columns of privacy.audit_log, in their order, and which are NOT NULL. */
static const Oid sealed_types[PRIVACY_AUDIT_SEALED_COLUMNS] = {INT8OID, TIMESTAMPTZOID, TEXTOID, TEXTOID,
TEXTOID, TEXTOID, INT8OID, JSONBOID, BYTEAOID, BYTEAOID};
static const bool sealed_not_null[PRIVACY_AUDIT_SEALED_COLUMNS] = {true, true, true, true,
true, false, false, true, true, true};

/* Inserts a heap tuple's entries into rel's indexes, as the executor would. */
static void
insert_index_entries(Relation rel, HeapTuple tuple, Relation *indexes, IndexInfo **infos,
					 int nindexes)
{
	for (int i = 0; i < nindexes; i++)
	{
		Datum		values[INDEX_MAX_KEYS];
		bool		nulls[INDEX_MAX_KEYS];

		if (!infos[i]->ii_ReadyForInserts)
			continue;			/* being built concurrently: left to the build */
		for (int k = 0; k < infos[i]->ii_NumIndexAttrs; k++)
			values[k] = heap_getattr(tuple, infos[i]->ii_IndexAttrNumbers[k],
									 RelationGetDescr(rel), &nulls[k]);
		index_insert(indexes[i], values, nulls, &tuple->t_self, rel,
					 indexes[i]->rd_index->indisunique ? UNIQUE_CHECK_YES : UNIQUE_CHECK_NO,
					 false, infos[i]);
	}
}

/*
 * Opens rel's indexes (RowExclusiveLock) with their IndexInfo; returns
 * false if one has an expression or a predicate, which only the executor
 * evaluates, or is an exclusion constraint's, which only the executor
 * checks. The caller closes them either way.
 */
static bool
open_indexes(Relation rel, Relation **indexes, IndexInfo ***infos, int *nindexes)
{
	List	   *oids = RelationGetIndexList(rel);
	ListCell   *lc;
	bool		plain = true;

	*nindexes = 0;
	*indexes = palloc(sizeof(Relation) * Max(list_length(oids), 1));
	*infos = palloc(sizeof(IndexInfo *) * Max(list_length(oids), 1));
	foreach(lc, oids)
	{
		Relation	index = index_open(lfirst_oid(lc), RowExclusiveLock);
		IndexInfo  *info = BuildIndexInfo(index);

		if (info->ii_Expressions != NIL || info->ii_Predicate != NIL ||
			info->ii_ExclusionOps != NULL)
			plain = false;
		(*indexes)[*nindexes] = index;
		(*infos)[*nindexes] = info;
		(*nindexes)++;
	}
	list_free(oids);
	return plain;
}

static void
close_indexes(Relation *indexes, int nindexes)
{
	for (int i = 0; i < nindexes; i++)
		index_close(indexes[i], NoLock);
}

/*
 * Inserts one row into privacy._audit_unsealed directly (see audit.h and
 * the file's header).
 */
void
privacy_audit_insert_unsealed(Datum *values, bool *nulls)
{
	Relation	rel = table_open(privacy_required_relid("_audit_unsealed"), RowExclusiveLock);
	Relation   *indexes;
	IndexInfo **infos;
	int			nindexes;
	HeapTuple	tuple;

	if (RelationGetDescr(rel)->natts != PRIVACY_AUDIT_UNSEALED_COLUMNS)
		elog(ERROR, "privacy._audit_unsealed does not have the columns it was created with");
	if (!open_indexes(rel, &indexes, &infos, &nindexes))
		elog(ERROR, "privacy._audit_unsealed has an index its writers cannot maintain");
	tuple = heap_form_tuple(RelationGetDescr(rel), values, nulls);
	simple_heap_insert(rel, tuple);
	insert_index_entries(rel, tuple, indexes, infos, nindexes);
	close_indexes(indexes, nindexes);
	heap_freetuple(tuple);
	table_close(rel, NoLock);
}

/*
 * Deletes sealed rows from privacy._audit_unsealed directly, by their
 * places (see audit.h).
 */
void
privacy_audit_delete_unsealed(ItemPointerData *places, int n)
{
	Relation	rel = table_open(privacy_required_relid("_audit_unsealed"), RowExclusiveLock);

	for (int i = 0; i < n; i++)
		simple_heap_delete(rel, &places[i]);
	table_close(rel, NoLock);
}

/* Whether privacy.audit_log is as the extension created it (see the file's header). */
static bool
sealed_log_plain(Relation rel)
{
	TupleDesc	desc = RelationGetDescr(rel);
	TriggerDesc *triggers = rel->trigdesc;

	if (rel->rd_rel->relkind != RELKIND_RELATION || rel->rd_rel->relrowsecurity ||
		privacy_citus_table(RelationGetRelid(rel)))
		return false;
	if (desc->natts != PRIVACY_AUDIT_SEALED_COLUMNS)
		return false;
	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (att->attisdropped || att->atttypid != sealed_types[i] || att->attgenerated ||
			att->attnotnull != sealed_not_null[i])
			return false;
	}
	if (desc->constr != NULL && desc->constr->num_check > 0)
		return false;
	if (triggers != NULL &&
		(triggers->trig_insert_before_row || triggers->trig_insert_after_row ||
		 triggers->trig_insert_instead_row || triggers->trig_insert_before_statement ||
		 triggers->trig_insert_after_statement || triggers->trig_insert_new_table))
		return false;
	return true;
}

bool
privacy_audit_insert_sealed(Datum **columns, bool **nulls, int n)
{
	Relation	rel = table_open(privacy_required_relid("audit_log"), RowExclusiveLock);
	TupleDesc	desc = RelationGetDescr(rel);
	CommandId	cid = GetCurrentCommandId(true);
	Relation   *indexes;
	IndexInfo **infos;
	int			nindexes;

	if (!sealed_log_plain(rel))
	{
		table_close(rel, NoLock);
		return false;
	}
	if (!open_indexes(rel, &indexes, &infos, &nindexes))
	{
		close_indexes(indexes, nindexes);
		table_close(rel, NoLock);
		return false;
	}
	for (int e = 0; e < n; e++)
	{
		Datum		values[PRIVACY_AUDIT_SEALED_COLUMNS];
		bool		isnull[PRIVACY_AUDIT_SEALED_COLUMNS];
		HeapTuple	tuple;

		for (int f = 0; f < PRIVACY_AUDIT_SEALED_COLUMNS; f++)
		{
			values[f] = columns[f][e];
			isnull[f] = nulls[f][e];
		}
		tuple = heap_form_tuple(desc, values, isnull);
		heap_insert(rel, tuple, cid, 0, NULL);
		insert_index_entries(rel, tuple, indexes, infos, nindexes);
		heap_freetuple(tuple);
	}
	close_indexes(indexes, nindexes);
	table_close(rel, NoLock);
	return true;
}
