/*
 * audit_rectification.c
 *		The rectification trigger of protected tables: one audit log entry
 *		per changed row, naming its subject and the changed columns (never
 *		their values), written as one row per UPDATE and set of columns.
 *
 * privacy.protect() installs privacy_internal._audit_rectification() on each
 * protected table holding personal data as
 *
 *		CREATE TRIGGER privacy_rectification AFTER UPDATE ON t
 *			REFERENCING OLD TABLE AS privacy_old NEW TABLE AS privacy_new
 *			FOR EACH STATEMENT EXECUTE FUNCTION
 *			privacy_internal._audit_rectification(kind, key expression, ...)
 *
 * with, per subject kind the table is protected for, the SQL expression that
 * yields a row's subject key (privacy_internal._subject_key_sql(), reading the
 * row's columns under the table's own name). The trigger reads the old and
 * the new rows side by side (the two transition tables hold them in the same
 * order), finds the columns each row changed by comparing their stored
 * values, and writes the entries of the rows that changed the same columns
 * as one row of privacy._audit_unsealed: the row's subject_refs holds, in
 * order, each changed row's subject reference per kind
 * (privacy.subject_ref(kind, key)), and the sealer seals one entry per
 * element (audit_seal.c). So an UPDATE of many rows writes one row, not one
 * per changed row, and the chain still gets one entry per changed row and
 * kind.
 *
 * Where every key expression is a column of the row (alias.column, as for a
 * table that references its subjects directly) of a type whose cast to text
 * is its output function, the fast path reads the keys and computes the
 * references in C as it compares the rows, and inserts the row directly
 * (heap and primary key). Otherwise one INSERT ... SELECT over the changed
 * new rows (an ephemeral named relation), run as the log's owner, evaluates
 * the key expressions, which follow the subject path through other tables.
 *
 * Entries written this way are part of the statement's subtransaction (a
 * savepoint rolled back takes them along) and are sealed after commit like
 * every other entry (audit_seal.c). What the trigger needs (the check, the
 * key columns or the statement) is found once per trigger and backend, and
 * forgotten when the table's relcache entry is
 * invalidated (its triggers or columns changed, or it was protected or
 * unprotected again).
 *
 * The function refuses to run as anything but that trigger of a protected
 * table (statement level, after UPDATE, with transition tables, named
 * privacy_rectification, naming kinds the table is protected for).
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/index.h"
#include "catalog/namespace.h"
#include "catalog/pg_collation.h"
#include "catalog/pg_type.h"
#include "commands/sequence.h"
#include "commands/trigger.h"
#include "executor/executor.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "nodes/bitmapset.h"
#include "utils/array.h"
#include "utils/fmgroids.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/queryenvironment.h"
#include "utils/rel.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"
#include "utils/varlena.h"

#include "audit/audit.h"
#include "base/citus.h"
#include "base/compat.h"
#include "base/extension_objects.h"
#include "base/keys.h"
#include "base/qualified_name.h"
#include "base/relcache_callbacks.h"

PG_FUNCTION_INFO_V1(privacy_audit_rectification);

/* The name under which the statement reads the rows to log. */
#define ROWS_RELATION "privacy_rows"

/* What a trigger's statement needs, per trigger, for this backend. */
typedef struct RectificationTrigger
{
	Oid			tgoid;			/* hash key */
	Oid			relid;
	bool		valid;
	SPIPlanPtr	plan;
	char	   *table_name;		/* quoted and qualified, for the summary */
	Bitmapset  *last_columns;	/* the changed columns of the last summary */
	Jsonb	   *last_summary;	/* ... and that summary, in CacheMemoryContext */
	bool		recorded_elsewhere; /* a worker's copy of a shard the coordinator
									 * holds too, whose copy records the change */
	/*
	 * When every key expression is a column of the row itself of a type
	 * whose cast to text is its output function: the columns, read in C
	 * without the statement (the fast path).
	 */
	bool		fast;
	MemoryContext fast_cxt;		/* what the fast path's fields point to */
	int			nkinds;
	char	  **kinds;
	AttrNumber *key_attnums;
	FmgrInfo   *key_out;
} RectificationTrigger;

static HTAB *triggers = NULL;

/* Forgets the statements of a table's triggers (all, for InvalidOid). */
static void
invalidate_triggers(Datum arg, Oid relid)
{
	HASH_SEQ_STATUS status;
	RectificationTrigger *entry;

	if (triggers == NULL)
		return;
	hash_seq_init(&status, triggers);
	while ((entry = hash_seq_search(&status)) != NULL)
		if (!OidIsValid(relid) || entry->relid == relid)
			entry->valid = false;
}

static void
refuse(const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("privacy_internal._audit_rectification() may only run as the rectification trigger of a protected table"),
			 detail ? errdetail("%s", detail) : 0,
			 errhint("privacy.protect() installs this trigger.")));
}

/* The kinds a non-temporary table is protected for (NULL if none); runs inside SPI. */
static ArrayType *
protected_kinds(Oid relid)
{
	Oid			argtypes[1] = {OIDOID};
	Datum		values[1] = {ObjectIdGetDatum(relid)};
	bool		isnull;
	Datum		kinds;

	if (SPI_execute_with_args("SELECT pt.kinds FROM privacy.protected_tables pt"
							  " JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) pt.table_name"
							  " WHERE pt.table_name OPERATOR(pg_catalog.=) $1::pg_catalog.regclass"
							  " AND c.relpersistence OPERATOR(pg_catalog.<>) 't'",
							  1, argtypes, values, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read privacy.protected_tables");
	if (SPI_processed == 0)
		return NULL;
	kinds = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	return isnull ? NULL : DatumGetArrayTypePCopy(kinds);
}

/*
 * The kinds the table of a Citus shard is protected for, as the
 * coordinator's catalog says (NULL if none): the catalog is the
 * coordinator's.
 */
static ArrayType *
coordinator_protected_kinds(const char *qualified_table)
{
	char	   *kinds;

	kinds = privacy_citus_coordinator_result(psprintf("SELECT pt.kinds FROM privacy.protected_tables pt"
													  " WHERE pt.table_name OPERATOR(pg_catalog.=) %s::pg_catalog.regclass",
													  quote_literal_cstr(qualified_table)),
											 psprintf("read the protection of table %s", qualified_table));
	if (kinds == NULL)
		return NULL;
	return DatumGetArrayTypeP(OidInputFunctionCall(F_ARRAY_IN, kinds, TEXTOID, -1));
}

static bool
array_has_text(ArrayType *array, const char *value)
{
	Datum	   *elems;
	bool	   *nulls;
	int			n;

	deconstruct_array(array, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
	for (int i = 0; i < n; i++)
		if (!nulls[i] && strcmp(TextDatumGetCString(elems[i]), value) == 0)
			return true;
	return false;
}

/* Whether a key of this type reads as text through its output function. */
static bool
plain_key_type(Oid type)
{
	switch (type)
	{
		case INT2OID:
		case INT4OID:
		case INT8OID:
		case NUMERICOID:
		case TEXTOID:
		case VARCHAROID:
		case UUIDOID:
			return true;
		default:
			return false;
	}
}

/*
 * Sets up the fast path when each key expression is alias.column (as
 * privacy_internal._subject_key_sql() writes it for a table that
 * references its subject directly) of a plain key type.
 */
static void
find_key_columns(RectificationTrigger *entry, Trigger *trigger, Relation rel, const char *alias)
{
	TupleDesc	desc = RelationGetDescr(rel);
	int			nkinds = trigger->tgnargs / 2;
	MemoryContext old;

	if (entry->fast_cxt == NULL)
		entry->fast_cxt = AllocSetContextCreate(CacheMemoryContext, "rectification trigger keys",
												ALLOCSET_SMALL_SIZES);
	else
		MemoryContextReset(entry->fast_cxt);
	old = MemoryContextSwitchTo(entry->fast_cxt);
	entry->fast = false;
	entry->nkinds = nkinds;
	entry->kinds = palloc(sizeof(char *) * nkinds);
	entry->key_attnums = palloc(sizeof(AttrNumber) * nkinds);
	entry->key_out = palloc(sizeof(FmgrInfo) * nkinds);
	MemoryContextSwitchTo(old);

	for (int k = 0; k < nkinds; k++)
	{
		const char *expr = trigger->tgargs[2 * k + 1];
		AttrNumber	found = InvalidAttrNumber;

		for (int a = 0; a < desc->natts && found == InvalidAttrNumber; a++)
		{
			Form_pg_attribute att = TupleDescAttr(desc, a);
			char	   *column;

			if (att->attisdropped || !plain_key_type(att->atttypid))
				continue;
			column = psprintf("%s.%s", alias, quote_identifier(NameStr(att->attname)));
			if (strcmp(column, expr) == 0)
			{
				Oid			output;
				bool		varlena;

				found = att->attnum;
				getTypeOutputInfo(att->atttypid, &output, &varlena);
				fmgr_info_cxt(output, &entry->key_out[k], entry->fast_cxt);
			}
			pfree(column);
		}
		if (found == InvalidAttrNumber)
			return;
		entry->key_attnums[k] = found;
		old = MemoryContextSwitchTo(entry->fast_cxt);
		entry->kinds[k] = pstrdup(trigger->tgargs[2 * k]);
		MemoryContextSwitchTo(old);
	}
	entry->fast = true;
}

/*
 * Checks that the trigger is the rectification trigger of a protected table
 * and prepares its statement; runs inside SPI, as the log's owner, with the
 * rows registered under ROWS_RELATION.
 */
static void
build_trigger(RectificationTrigger *entry, TriggerData *trigdata)
{
	Trigger    *trigger = trigdata->tg_trigger;
	Relation	rel = trigdata->tg_relation;
	ArrayType  *kinds;
	StringInfoData sql;
	Oid			argtypes[4] = {TIMESTAMPTZOID, TEXTOID, TEXTOID, JSONBOID};
	SPIPlanPtr	plan;
	const char *shard_of = privacy_citus_shard_of(rel);
	char	   *table_name;
	const char *alias;
	const char *trigger_name = "privacy_rectification";

	/*
	 * On a Citus shard the trigger and the key expressions are its table's:
	 * Citus names the shard's trigger after the shard (name_<shard id>).
	 */
	if (shard_of != NULL)
	{
		alias = quote_identifier(shard_of);
		trigger_name = psprintf("privacy_rectification%s",
								RelationGetRelationName(rel) + strlen(shard_of));
	}
	else
		alias = quote_identifier(RelationGetRelationName(rel));

	if (strcmp(trigger->tgname, trigger_name) != 0 ||
		!TRIGGER_FIRED_AFTER(trigdata->tg_event) ||
		!TRIGGER_FIRED_FOR_STATEMENT(trigdata->tg_event) ||
		!TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event) ||
		trigdata->tg_oldtable == NULL || trigdata->tg_newtable == NULL ||
		trigger->tgnargs < 2 || trigger->tgnargs % 2 != 0)
		refuse(NULL);

	/*
	 * Citus runs an UPDATE of a table it manages on the table's shards, on
	 * the workers, where the entries go to the worker's log, which is
	 * forwarded to the coordinator's (audit_forward.c). A shard is audited
	 * as its table, which the coordinator protects (a shard on the
	 * coordinator itself is checked there directly). A reference table has
	 * a copy on every node: the coordinator's copy records the change.
	 */
	entry->recorded_elsewhere = false;
	if (shard_of != NULL)
	{
		entry->recorded_elsewhere = privacy_citus_shard_on_coordinator_too(rel);
		table_name = quote_qualified_identifier(get_namespace_name(RelationGetNamespace(rel)), shard_of);
		kinds = privacy_citus_worker() ? coordinator_protected_kinds(table_name) :
			protected_kinds(get_relname_relid(shard_of, RelationGetNamespace(rel)));
	}
	else
	{
		table_name = privacy_qualified_name(RelationGetRelid(rel));
		kinds = protected_kinds(RelationGetRelid(rel));
	}
	if (kinds == NULL)
		refuse(NULL);
	for (int i = 0; i < trigger->tgnargs; i += 2)
		if (!array_has_text(kinds, trigger->tgargs[i]))
			refuse("The trigger names a subject kind the table is not protected for.");

	initStringInfo(&sql);
	appendStringInfoString(&sql,
						   "INSERT INTO privacy._audit_unsealed"
						   " (logged_at, actor, session_role, action, request_id, summary, subject_refs)"
						   " SELECT $1, $2, $3, 'rectification', NULL, $4, r.refs"
						   " FROM (SELECT pg_catalog.array_agg(privacy.subject_ref(k.kind, k.subject)) AS refs"
						   " FROM " ROWS_RELATION " AS ");
	appendStringInfo(&sql, "%s CROSS JOIN LATERAL (VALUES ", alias);
	for (int i = 0; i < trigger->tgnargs; i += 2)
		appendStringInfo(&sql, "%s(%s::pg_catalog.text, (%s)::pg_catalog.text)",
						 i > 0 ? ", " : "", quote_literal_cstr(trigger->tgargs[i]),
						 trigger->tgargs[i + 1]);
	appendStringInfoString(&sql, ") AS k(kind, subject)) AS r");

	plan = SPI_prepare(sql.data, 4, argtypes);
	if (plan == NULL)
		elog(ERROR, "could not prepare the rectification trigger's statement: %s",
			 SPI_result_code_string(SPI_result));
	if (SPI_keepplan(plan) != 0)
		elog(ERROR, "could not keep the rectification trigger's statement");

	if (entry->plan != NULL)
		SPI_freeplan(entry->plan);
	if (entry->table_name != NULL)
		pfree(entry->table_name);
	if (entry->last_columns != NULL)
		bms_free(entry->last_columns);
	if (entry->last_summary != NULL)
		pfree(entry->last_summary);
	entry->last_columns = NULL;
	entry->last_summary = NULL;
	entry->plan = plan;
	entry->table_name = MemoryContextStrdup(CacheMemoryContext, table_name);
	entry->relid = RelationGetRelid(rel);
	find_key_columns(entry, trigger, rel, alias);
	entry->valid = true;
}

/* Whether two stored values are the same; a toasted value unchanged is not read. */
static bool
same_value(Datum a, Datum b, Form_pg_attribute att)
{
	if (att->attlen == -1 &&
		VARATT_IS_EXTERNAL_ONDISK(DatumGetPointer(a)) &&
		VARATT_IS_EXTERNAL_ONDISK(DatumGetPointer(b)) &&
		VARSIZE_ANY(DatumGetPointer(a)) == VARSIZE_ANY(DatumGetPointer(b)) &&
		memcmp(DatumGetPointer(a), DatumGetPointer(b), VARSIZE_ANY(DatumGetPointer(a))) == 0)
		return true;
	return datum_image_eq(a, b, att->attbyval, att->attlen);
}

/* The columns a row changed (NULL if none). */
static Bitmapset *
changed_columns(TupleTableSlot *old_slot, TupleTableSlot *new_slot, TupleDesc desc)
{
	Bitmapset  *changed = NULL;

	slot_getallattrs(old_slot);
	slot_getallattrs(new_slot);
	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);
		bool		old_null = old_slot->tts_isnull[i];
		bool		new_null = new_slot->tts_isnull[i];

		if (att->attisdropped)
			continue;
		if (old_null != new_null ||
			(!old_null && !same_value(old_slot->tts_values[i], new_slot->tts_values[i], att)))
			changed = bms_add_member(changed, i);
	}
	return changed;
}

static Datum build_summary(const char *table_name, Bitmapset *columns, TupleDesc desc);

static int
compare_names(const void *a, const void *b)
{
	const char *x = *(const char *const *) a;
	const char *y = *(const char *const *) b;

	return varstr_cmp(x, strlen(x), y, strlen(y), DEFAULT_COLLATION_OID);
}

/*
 * The entries' summary: the table and the changed columns, by name in
 * order; the last one is kept with the trigger, since an UPDATE usually
 * changes the columns the one before it changed.
 */
static Datum
summary_of(RectificationTrigger *entry, Bitmapset *columns, TupleDesc desc)
{
	Datum		summary;
	MemoryContext old;

	if (entry->last_summary != NULL && bms_equal(entry->last_columns, columns))
		return JsonbPGetDatum(entry->last_summary);
	summary = build_summary(entry->table_name, columns, desc);
	if (entry->last_columns != NULL)
		bms_free(entry->last_columns);
	if (entry->last_summary != NULL)
		pfree(entry->last_summary);
	old = MemoryContextSwitchTo(CacheMemoryContext);
	entry->last_columns = bms_copy(columns);
	entry->last_summary = DatumGetJsonbPCopy(summary);
	MemoryContextSwitchTo(old);
	return JsonbPGetDatum(entry->last_summary);
}

/* The summary of summary_of(), built. */
static Datum
build_summary(const char *table_name, Bitmapset *columns, TupleDesc desc)
{
	StringInfoData json;
	int			n = bms_num_members(columns);
	const char **names = palloc(sizeof(char *) * n);
	int			i = 0;
	int			col = -1;

	while ((col = bms_next_member(columns, col)) >= 0)
		names[i++] = NameStr(TupleDescAttr(desc, col)->attname);
	qsort(names, n, sizeof(char *), compare_names);

	initStringInfo(&json);
	appendStringInfoString(&json, "{\"table\": ");
	escape_json(&json, table_name);
	appendStringInfoString(&json, ", \"columns\": [");
	for (i = 0; i < n; i++)
	{
		if (i > 0)
			appendStringInfoString(&json, ", ");
		escape_json(&json, names[i]);
	}
	appendStringInfoString(&json, "]}");
	return DirectFunctionCall1(jsonb_in, CStringGetDatum(json.data));
}

/* Registers rows for the statement under ROWS_RELATION. */
static void
register_rows(Relation rel, Tuplestorestate *rows)
{
	EphemeralNamedRelation enr = palloc0(sizeof(EphemeralNamedRelationData));

	enr->md.name = ROWS_RELATION;
	enr->md.reliddesc = RelationGetRelid(rel);
	enr->md.tupdesc = NULL;
	enr->md.enrtype = ENR_NAMED_TUPLESTORE;
	enr->md.enrtuples = tuplestore_tuple_count(rows);
	enr->reldata = rows;
	if (SPI_register_relation(enr) != SPI_OK_REL_REGISTER)
		elog(ERROR, "could not register the rows of the rectification trigger");
}

/* A read pointer at the start of a transition table, selected. */
static void
rewind_rows(Tuplestorestate *rows)
{
	int			ptr = tuplestore_alloc_read_pointer(rows, EXEC_FLAG_REWIND);

	tuplestore_select_read_pointer(rows, ptr);
	tuplestore_rescan(rows);
}

/* One entry per changed row and kind, for the rows with the same changed columns. */
static void
write_entries(RectificationTrigger *entry, TriggerData *trigdata, Tuplestorestate *rows,
			  Datum *params)
{
	int			rc;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "could not connect to SPI");
	register_rows(trigdata->tg_relation, rows);
	rc = SPI_execute_plan(entry->plan, params, NULL, false, 0);
	if (rc != SPI_OK_INSERT)
		elog(ERROR, "could not write the rectification entries: %s", SPI_result_code_string(rc));
	SPI_finish();
}

/* A subject reference as a text datum: its header, then its hex digits. */
#define REF_TEXT_SIZE MAXALIGN(VARHDRSZ + PRIVACY_SUBJECT_REF_HEX_LEN)

/*
 * One distinct set of changed columns, with its rows' subject references on
 * the fast path: text datums of REF_TEXT_SIZE bytes each, side by side in
 * one allocation (the place of a null reference is left unset).
 */
typedef struct ChangedSet
{
	Bitmapset  *columns;
	char	   *ref_texts;
	bool	   *ref_nulls;
	int			nrefs;
	int			capacity;
} ChangedSet;

/* The decimal digits of an integer key, as its output function writes them; NULL for other types. */
static const char *
integer_key_text(Datum key, Oid type, char *buf)
{
	switch (type)
	{
		case INT2OID:
			pg_lltoa((int64) DatumGetInt16(key), buf);
			return buf;
		case INT4OID:
			pg_lltoa((int64) DatumGetInt32(key), buf);
			return buf;
		case INT8OID:
			pg_lltoa(DatumGetInt64(key), buf);
			return buf;
		default:
			return NULL;
	}
}

/*
 * Adds the subject references of a changed row to its set (fast path):
 * privacy.subject_ref(kind, key::text), computed in place. A set is first
 * sized for first_capacity references, then doubled as needed.
 */
static void
add_refs(ChangedSet *set, RectificationTrigger *entry, TupleTableSlot *row, int64 first_capacity)
{
	TupleDesc	desc = row->tts_tupleDescriptor;

	for (int k = 0; k < entry->nkinds; k++)
	{
		bool		isnull;
		Datum		key = slot_getattr(row, entry->key_attnums[k], &isnull);
		char	   *ref;

		if (set->nrefs == set->capacity)
		{
			int64		capacity = set->capacity == 0 ? Max(first_capacity, 8) : (int64) set->capacity * 2;

			/*
			 * Allocated beyond 1 GB if need be, so that the limit an UPDATE
			 * of very many rows reaches is the one of the text[] the
			 * references become (construct_md_array's), as before.
			 */
			capacity = Min(capacity, (int64) (MaxAllocHugeSize / REF_TEXT_SIZE));
			if (capacity > PG_INT32_MAX || capacity <= set->nrefs)
				ereport(ERROR,
						(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
						 errmsg("too many rows changed by one UPDATE to record their rectification"),
						 errhint("Update the rows in smaller batches.")));
			set->capacity = (int) capacity;
			set->ref_texts = set->ref_texts == NULL
				? MemoryContextAllocHuge(CurrentMemoryContext, REF_TEXT_SIZE * (Size) set->capacity)
				: repalloc_huge(set->ref_texts, REF_TEXT_SIZE * (Size) set->capacity);
			set->ref_nulls = set->ref_nulls == NULL
				? MemoryContextAllocHuge(CurrentMemoryContext, sizeof(bool) * (Size) set->capacity)
				: repalloc_huge(set->ref_nulls, sizeof(bool) * (Size) set->capacity);
		}
		ref = set->ref_texts + (Size) set->nrefs * REF_TEXT_SIZE;
		set->ref_nulls[set->nrefs] = isnull;
		if (!isnull)
		{
			char		digits[MAXINT8LEN + 1];
			char		hex[PRIVACY_SUBJECT_REF_HEX_LEN + 1];
			const char *subject = integer_key_text(key, TupleDescAttr(desc, entry->key_attnums[k] - 1)->atttypid,
												   digits);

			if (subject != NULL)
				privacy_subject_ref_hex(entry->kinds[k], subject, strlen(subject), hex);
			else
			{
				char	   *text = OutputFunctionCall(&entry->key_out[k], key);

				privacy_subject_ref_hex(entry->kinds[k], text, strlen(text), hex);
				pfree(text);
			}
			SET_VARSIZE(ref, VARHDRSZ + PRIVACY_SUBJECT_REF_HEX_LEN);
			memcpy(VARDATA(ref), hex, PRIVACY_SUBJECT_REF_HEX_LEN);
		}
		set->nrefs++;
	}
}

/* The subject references of a set as a text[] (fast path). */
static Datum
refs_array(const ChangedSet *set)
{
	Datum	   *elems = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(Datum) * Max(set->nrefs, 1));
	int			dims[1] = {set->nrefs};
	int			lbs[1] = {1};

	for (int i = 0; i < set->nrefs; i++)
		elems[i] = set->ref_nulls[i] ? (Datum) 0 :
			PointerGetDatum(set->ref_texts + (Size) i * REF_TEXT_SIZE);
	return PointerGetDatum(construct_md_array(elems, set->ref_nulls, 1, dims, lbs,
											  TEXTOID, -1, false, TYPALIGN_INT));
}

Datum
privacy_audit_rectification(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	Relation	rel;
	TupleDesc	desc;
	RectificationTrigger *entry;
	bool		found;
	MemoryContext work;
	MemoryContext old;
	TupleTableSlot *old_slot;
	TupleTableSlot *new_slot;
	ChangedSet *sets;			/* distinct sets of changed columns */
	int			nsets = 0;
	int			sets_capacity = 4;
	int		   *row_set;		/* each row's set, -1 when it changed nothing */
	int64		nrows;
	int64		i;
	bool		every_row_same;
	Oid			role;
	Datum		params[4];
	PrivacyUserContext save;

	if (!CALLED_AS_TRIGGER(fcinfo))
		refuse(NULL);
	rel = trigdata->tg_relation;
	desc = RelationGetDescr(rel);

	if (triggers == NULL)
	{
		HASHCTL		ctl;

		ctl.keysize = sizeof(Oid);
		ctl.entrysize = sizeof(RectificationTrigger);
		ctl.hcxt = CacheMemoryContext;
		triggers = hash_create("opendims_privacy rectification triggers", 16, &ctl,
							   HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
		privacy_register_relcache_callback(invalidate_triggers);
	}
	entry = hash_search(triggers, &trigdata->tg_trigger->tgoid, HASH_ENTER, &found);
	if (!found)
	{
		entry->relid = RelationGetRelid(rel);
		entry->valid = false;
		entry->plan = NULL;
		entry->table_name = NULL;
		entry->last_columns = NULL;
		entry->last_summary = NULL;
		entry->fast = false;
		entry->fast_cxt = NULL;
		entry->recorded_elsewhere = false;
	}
	/* what only a valid trigger has is checked before anything is read */
	if (!TRIGGER_FIRED_FOR_STATEMENT(trigdata->tg_event) ||
		trigdata->tg_oldtable == NULL || trigdata->tg_newtable == NULL ||
		entry->relid != RelationGetRelid(rel))
		refuse(NULL);

	work = AllocSetContextCreate(CurrentMemoryContext, "rectification trigger",
								 ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(work);

	/* the full check, once per trigger and backend, before any row is read */
	if (!entry->valid)
	{
		Tuplestorestate *none = tuplestore_begin_heap(false, false, work_mem);

		privacy_begin_as_owner("audit_log", &save);
		PG_TRY();
		{
			if (SPI_connect() != SPI_OK_CONNECT)
				elog(ERROR, "could not connect to SPI");
			register_rows(rel, none);
			build_trigger(entry, trigdata);
			SPI_finish();
		}
		PG_FINALLY();
		{
			privacy_end_as_owner(&save);
		}
		PG_END_TRY();
		tuplestore_end(none);
	}

	nrows = tuplestore_tuple_count(trigdata->tg_newtable);
	if (nrows == 0 || entry->recorded_elsewhere)
	{
		MemoryContextSwitchTo(old);
		MemoryContextDelete(work);
		return PointerGetDatum(NULL);
	}

	/* the changed columns of each row, old and new side by side */
	row_set = palloc(sizeof(int) * Max(nrows, 1));
	sets = palloc0(sizeof(ChangedSet) * sets_capacity);
	old_slot = MakeSingleTupleTableSlot(desc, &TTSOpsMinimalTuple);
	new_slot = MakeSingleTupleTableSlot(desc, &TTSOpsMinimalTuple);
	rewind_rows(trigdata->tg_oldtable);
	rewind_rows(trigdata->tg_newtable);
	every_row_same = true;
	for (i = 0; i < nrows; i++)
	{
		Bitmapset  *changed;
		int			set;

		if (!tuplestore_gettupleslot(trigdata->tg_oldtable, true, false, old_slot) ||
			!tuplestore_gettupleslot(trigdata->tg_newtable, true, false, new_slot))
			elog(ERROR, "the transition tables of an UPDATE differ in length");
		changed = changed_columns(old_slot, new_slot, desc);
		row_set[i] = -1;
		if (changed == NULL)
		{
			every_row_same = false;
			continue;
		}
		for (set = 0; set < nsets; set++)
			if (bms_equal(sets[set].columns, changed))
				break;
		if (set == nsets)
		{
			if (nsets == sets_capacity)
			{
				sets_capacity *= 2;
				sets = repalloc(sets, sizeof(ChangedSet) * sets_capacity);
			}
			memset(&sets[nsets], 0, sizeof(ChangedSet));
			sets[nsets++].columns = changed;
		}
		else
			bms_free(changed);
		row_set[i] = set;
		if (entry->fast)
			add_refs(&sets[set], entry, new_slot, set == 0 ? nrows * entry->nkinds : 8);
	}
	if (nsets > 1)
		every_row_same = false;

	if (nsets > 0)
	{
		role = GetCurrentRoleId();
		params[0] = TimestampTzGetDatum(GetCurrentTimestamp());
		params[1] = CStringGetTextDatum(GetUserNameFromId(OidIsValid(role) ? role : GetSessionUserId(), false));
		params[2] = CStringGetTextDatum(GetUserNameFromId(GetSessionUserId(), false));
	}

	if (nsets > 0 && entry->fast)
	{
		/* one row per set of changed columns, inserted directly */
		for (int set = 0; set < nsets; set++)
		{
			Datum		values[9];
			bool		nulls[9] = {false, false, false, false, false, true, true, false, false};

			values[1] = params[0];
			values[2] = params[1];
			values[3] = params[2];
			values[4] = CStringGetTextDatum("rectification");
			values[7] = summary_of(entry, sets[set].columns, desc);
			values[8] = refs_array(&sets[set]);
			values[0] = Int64GetDatum(privacy_audit_next_id());
			privacy_audit_insert_unsealed(values, nulls);
		}
	}
	else if (nsets > 0)
	{
		privacy_begin_as_owner("audit_log", &save);
		PG_TRY();
		{
			if (every_row_same)
			{
				params[3] = summary_of(entry, sets[0].columns, desc);
				rewind_rows(trigdata->tg_newtable);
				write_entries(entry, trigdata, trigdata->tg_newtable, params);
			}
			else
			{
				for (int set = 0; set < nsets; set++)
				{
					Tuplestorestate *rows = tuplestore_begin_heap(false, false, work_mem);

					rewind_rows(trigdata->tg_newtable);
					for (i = 0; i < nrows; i++)
					{
						if (!tuplestore_gettupleslot(trigdata->tg_newtable, true, false, new_slot))
							elog(ERROR, "the transition tables of an UPDATE differ in length");
						if (row_set[i] == set)
							tuplestore_puttupleslot(rows, new_slot);
					}
					params[3] = summary_of(entry, sets[set].columns, desc);
					write_entries(entry, trigdata, rows, params);
					tuplestore_end(rows);
				}
			}
		}
		PG_FINALLY();
		{
			privacy_end_as_owner(&save);
		}
		PG_END_TRY();
	}

	if (nsets > 0)
		privacy_audit_note_unsealed_write();

	ExecDropSingleTupleTableSlot(old_slot);
	ExecDropSingleTupleTableSlot(new_slot);
	MemoryContextSwitchTo(old);
	MemoryContextDelete(work);
	return PointerGetDatum(NULL);
}
