/*
 * bulk_insert.c
 *		Appending many rows to one of the extension's own tables in one
 *		pass, as COPY appends rows (see bulk_insert.h).
 *
 * The executor state is the one COPY FROM sets up: the table as the one
 * entry of a range table and its result relation, with its indexes open.
 * Up to BULK_INSERT_BATCH rows are buffered in slots (made as the first
 * rows need them), their values copied into a memory context that is reset
 * once they are written.
 */
#include "postgres.h"

#include "access/heapam.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/pg_trigger.h"
#include "executor/executor.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "rewrite/prs2lock.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/rls.h"

#include "base/bulk_insert.h"
#include "base/citus.h"

#define BULK_INSERT_BATCH 1000

struct BulkInsert
{
	Relation	rel;
	EState	   *estate;
	ResultRelInfo *result;
	BulkInsertState bistate;
	MemoryContext batch_context;	/* the buffered rows' values */
	int			nbuffered;
	TupleTableSlot *slots[BULK_INSERT_BATCH];
};

/*
 * Refuses a table that an INSERT would treat otherwise than a bulk append
 * does: with an INSERT trigger other than the replaced ones, an INSERT
 * rule, row security for the current role, or its rows in Citus's shards.
 */
static void
check_table(Relation rel, const char *const *replaced_triggers, int nreplaced)
{
	const char *refused = NULL;

	if (rel->trigdesc != NULL)
		for (int i = 0; i < rel->trigdesc->numtriggers && refused == NULL; i++)
		{
			Trigger    *trigger = &rel->trigdesc->triggers[i];
			bool		replaced = false;

			for (int k = 0; k < nreplaced; k++)
				replaced = replaced || strcmp(trigger->tgname, replaced_triggers[k]) == 0;
			if (TRIGGER_FOR_INSERT(trigger->tgtype) && !replaced)
				refused = psprintf("trigger \"%s\"", trigger->tgname);
		}
	if (rel->rd_rules != NULL)
		for (int i = 0; i < rel->rd_rules->numLocks && refused == NULL; i++)
			if (rel->rd_rules->rules[i]->event == CMD_INSERT)
				refused = "an INSERT rule";
	if (refused == NULL && check_enable_rls(RelationGetRelid(rel), InvalidOid, true) == RLS_ENABLED)
		refused = "row security";
	if (refused == NULL && privacy_citus_table(RelationGetRelid(rel)))
		refused = "its rows in shards that Citus manages";
	if (refused != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("cannot append rows to table %s in bulk: it has %s",
						quote_qualified_identifier(get_namespace_name(RelationGetNamespace(rel)),
												   RelationGetRelationName(rel)),
						refused),
				 errdetail("The extension appends rows to its own table directly, as COPY does, and would bypass it."),
				 errhint("Remove it: the extension's tables take no triggers or rules but their own.")));
}

BulkInsert *
bulk_insert_begin(Oid relid, const char *const *replaced_triggers, int nreplaced)
{
	BulkInsert *insert = palloc0(sizeof(BulkInsert));
	RangeTblEntry *rte;

	insert->rel = table_open(relid, RowExclusiveLock);
	check_table(insert->rel, replaced_triggers, nreplaced);

	rte = makeNode(RangeTblEntry);
	rte->rtekind = RTE_RELATION;
	rte->relid = relid;
	rte->relkind = insert->rel->rd_rel->relkind;
	rte->rellockmode = RowExclusiveLock;
	rte->requiredPerms = ACL_INSERT;
	insert->estate = CreateExecutorState();
	ExecInitRangeTable(insert->estate, list_make1(rte));
	insert->result = makeNode(ResultRelInfo);
	ExecInitResultRelation(insert->estate, insert->result, 1);
	CheckValidResultRel(insert->result, CMD_INSERT);
	ExecOpenIndices(insert->result, false);
	insert->bistate = GetBulkInsertState();
	insert->batch_context = AllocSetContextCreate(CurrentMemoryContext, "privacy bulk insert",
												  ALLOCSET_DEFAULT_SIZES);
	return insert;
}

Relation
bulk_insert_relation(BulkInsert *insert)
{
	return insert->rel;
}

AttrNumber
bulk_insert_column(BulkInsert *insert, const char *name)
{
	AttrNumber	attnum = get_attnum(RelationGetRelid(insert->rel), name);

	if (attnum <= 0)
		elog(ERROR, "table %s has no column \"%s\"", RelationGetRelationName(insert->rel), name);
	return attnum;
}

void
bulk_insert_row(BulkInsert *insert, const Datum *values, const bool *isnull)
{
	TupleDesc	desc = RelationGetDescr(insert->rel);
	TupleTableSlot *slot;
	MemoryContext old;

	if (insert->nbuffered == BULK_INSERT_BATCH)
		bulk_insert_flush(insert);
	if (insert->slots[insert->nbuffered] == NULL)
		insert->slots[insert->nbuffered] = table_slot_create(insert->rel, &insert->estate->es_tupleTable);
	slot = insert->slots[insert->nbuffered];
	ExecClearTuple(slot);
	old = MemoryContextSwitchTo(insert->batch_context);
	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		slot->tts_isnull[i] = isnull[i] || att->attisdropped;
		slot->tts_values[i] = slot->tts_isnull[i] ? (Datum) 0 :
			datumCopy(values[i], att->attbyval, att->attlen);
	}
	MemoryContextSwitchTo(old);
	ExecStoreVirtualTuple(slot);
	if (insert->rel->rd_att->constr != NULL)
		ExecConstraints(insert->result, slot, insert->estate);
	ResetPerTupleExprContext(insert->estate);
	insert->nbuffered++;
}

void
bulk_insert_flush(BulkInsert *insert)
{
	if (insert->nbuffered == 0)
		return;
	table_multi_insert(insert->rel, insert->slots, insert->nbuffered,
					   GetCurrentCommandId(true), 0, insert->bistate);
	for (int i = 0; i < insert->nbuffered; i++)
	{
		if (insert->result->ri_NumIndices > 0)
			list_free(ExecInsertIndexTuples(insert->result, insert->slots[i], insert->estate,
											false, false, NULL, NIL));
		ExecClearTuple(insert->slots[i]);
		ResetPerTupleExprContext(insert->estate);
	}
	insert->nbuffered = 0;
	MemoryContextReset(insert->batch_context);
}

void
bulk_insert_end(BulkInsert *insert)
{
	bulk_insert_flush(insert);
	FreeBulkInsertState(insert->bistate);
	ExecResetTupleTable(insert->estate->es_tupleTable, false);
	ExecCloseResultRelations(insert->estate);
	ExecCloseRangeTableRelations(insert->estate);
	FreeExecutorState(insert->estate);
	table_close(insert->rel, NoLock);
	MemoryContextDelete(insert->batch_context);
	pfree(insert);
}
