/*
 * subject_key.c
 *		A subject's key: its canonical text (one spelling per subject, '03'
 *		and '3' of an integer key are the same customer), its reference (the
 *		keyed hash that stands for it in the extension's records), whether
 *		its anchor row exists, and the key of its lock.
 *
 * The canonical text is the key cast to the kind's key type and back to
 * text, as ($1::type)::text does. Integer and text keys, the common ones,
 * are read here directly: an integer exactly as the type's input function
 * reads it (so the result is the same, and anything it would not accept
 * goes the general way, which reports it); other types run the cast in a
 * subtransaction, turning any data exception into one error that names
 * the kind and the key's type but never the key.
 *
 * privacy_internal._canonical_subject() and privacy_internal._subject_exists() are the SQL
 * face of this, for the ledgers, requests, holds and tokens.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/heapam.h"
#include "access/skey.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/index.h"
#include "catalog/pg_am.h"
#include "catalog/pg_type.h"
#include "commands/defrem.h"
#include "common/hashfn.h"
#include "executor/executor.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "tcop/utility.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/relcache.h"
#include "utils/resowner.h"
#include "utils/rls.h"
#include "utils/snapmgr.h"

#include "base/extension_objects.h"
#include "base/keys.h"
#include "subject/subject.h"

PG_FUNCTION_INFO_V1(privacy_canonical_subject);
PG_FUNCTION_INFO_V1(privacy_subject_exists);

/*
 * Reads an integer the way pg_strtoint16/32/64 do (leading and trailing
 * white space, an optional sign, decimal digits); false for anything they
 * would reject or that is outside [min, max].
 */
static bool
read_integer(const char *s, int64 min, int64 max, int64 *result)
{
	const char *ptr = s;
	bool		neg = false;
	uint64		magnitude = 0;
	uint64		limit;

	while (*ptr && isspace((unsigned char) *ptr))
		ptr++;
	if (*ptr == '-')
	{
		neg = true;
		ptr++;
	}
	else if (*ptr == '+')
		ptr++;
	if (!isdigit((unsigned char) *ptr))
		return false;
	limit = neg ? (uint64) (-(min + 1)) + 1 : (uint64) max;
	while (*ptr && isdigit((unsigned char) *ptr))
	{
		int			digit = *ptr++ - '0';

		if (magnitude > (limit - digit) / 10)
			return false;
		magnitude = magnitude * 10 + digit;
	}
	while (*ptr && isspace((unsigned char) *ptr))
		ptr++;
	if (*ptr != '\0')
		return false;
	*result = neg ? (int64) (0 - magnitude) : (int64) magnitude;
	return true;
}

/* The error for a key that is not a value of the kind's key type. */
static void
report_invalid_key(SubjectKind *kind)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid subject key for subject kind \"%s\"", kind->name),
			 errdetail("A key of this kind is a value of type %s, the type of %s.%s.",
					   kind->key_type_name, kind->anchor_name, quote_identifier(kind->key_column))));
}

/*
 * ($1::type)::text in a subtransaction, as the current user with
 * search_path pinned; a data exception becomes report_invalid_key().
 */
static char *
cast_key(SubjectKind *kind, const char *subject)
{
	MemoryContext context = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	int			nestlevel = privacy_pin_search_path();
	char	   *result = NULL;
	ErrorData  *edata = NULL;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(context);
	PG_TRY();
	{
		Datum		values[1] = {CStringGetTextDatum(subject)};
		bool		isnull;
		Datum		d;

		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		if (SPI_execute_plan(subject_statement_plan(kind, &kind->key_cast), values, NULL,
							 true, 1) != SPI_OK_SELECT || SPI_processed != 1)
			elog(ERROR, "could not read a subject key");
		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
		if (isnull)
			elog(ERROR, "a subject key's text is null");
		MemoryContextSwitchTo(context);
		result = TextDatumGetCString(d);
		SPI_finish();
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(context);
		CurrentResourceOwner = owner;
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(context);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(context);
		CurrentResourceOwner = owner;
	}
	PG_END_TRY();
	privacy_unpin_search_path(nestlevel);
	if (edata != NULL)
	{
		if (ERRCODE_TO_CATEGORY(edata->sqlerrcode) == ERRCODE_DATA_EXCEPTION)
			report_invalid_key(kind);
		ReThrowError(edata);
	}
	return result;
}

/* The canonical text of a subject's key (see the file's header). */
char *
subject_canonical_key(SubjectKind *kind, const char *subject)
{
	int64		value;

	switch (kind->key_form)
	{
		case SUBJECT_KEY_INT2:
			if (read_integer(subject, PG_INT16_MIN, PG_INT16_MAX, &value))
				return psprintf(INT64_FORMAT, value);
			break;
		case SUBJECT_KEY_INT4:
			if (read_integer(subject, PG_INT32_MIN, PG_INT32_MAX, &value))
				return psprintf(INT64_FORMAT, value);
			break;
		case SUBJECT_KEY_INT8:
			if (read_integer(subject, PG_INT64_MIN, PG_INT64_MAX, &value))
				return psprintf(INT64_FORMAT, value);
			break;
		case SUBJECT_KEY_TEXT:
			return pstrdup(subject);
		case SUBJECT_KEY_CAST:
			break;
	}
	return cast_key(kind, subject);
}

/* The subject's reference: privacy.subject_ref(kind, key). */
text *
subject_reference(const char *kind, const char *key)
{
	char		hex[PRIVACY_SUBJECT_REF_HEX_LEN + 1];

	privacy_subject_ref_hex(kind, key, strlen(key), hex);
	return cstring_to_text_with_len(hex, PRIVACY_SUBJECT_REF_HEX_LEN);
}

/*
 * Whether index, of the anchor rel, is the kind's key alone under the
 * operator class and collation its = uses, so that an equality search of
 * it finds what the statement kind->exists finds.
 */
static bool
index_is_key(SubjectKind *kind, Relation rel, Relation index)
{
	Form_pg_index form = index->rd_index;
	AttrNumber	attnum = get_attnum(kind->anchor, kind->key_column);
	Oid			opclass = GetDefaultOpClass(kind->key_type, BTREE_AM_OID);

	return form->indnkeyatts == 1 && form->indkey.values[0] == attnum && attnum > 0 &&
		index->rd_rel->relam == BTREE_AM_OID && OidIsValid(opclass) &&
		index->rd_opfamily[0] == get_opclass_family(opclass) &&
		index->rd_opcintype[0] == get_opclass_input_type(opclass) &&
		index->rd_indcollation[0] == TupleDescAttr(RelationGetDescr(rel), attnum - 1)->attcollation;
}

/* The canonical key as a value of the key's type (an integer or text form). */
static Datum
key_value(SubjectKind *kind, const char *key)
{
	switch (kind->key_form)
	{
		case SUBJECT_KEY_INT2:
			return DirectFunctionCall1(int2in, CStringGetDatum(key));
		case SUBJECT_KEY_INT4:
			return DirectFunctionCall1(int4in, CStringGetDatum(key));
		case SUBJECT_KEY_INT8:
			return DirectFunctionCall1(int8in, CStringGetDatum(key));
		default:
			return CStringGetTextDatum(key);
	}
}

/*
 * Looks the key up in the anchor's primary key directly, as the statement
 * kind->exists would read it (with a snapshot taken as SPI takes one,
 * after advancing the command counter): for an integer or text key that
 * is the anchor's primary key alone, of a plain table without children,
 * without row security for the current user and not managed by Citus,
 * which the current user may read. Returns false, leaving *found alone,
 * when any of that does not hold; the statement answers then.
 */
static bool
probe_primary_key(SubjectKind *kind, const char *key, bool *found)
{
	Relation	rel;
	Relation	index;
	Oid			index_oid;
	Snapshot	snapshot;
	ScanKeyData scankey;
	IndexScanDesc scan;
	TupleTableSlot *slot;

	if (kind->key_form == SUBJECT_KEY_CAST || kind->anchor_distributed ||
		pg_class_aclcheck(kind->anchor, GetUserId(), ACL_SELECT) != ACLCHECK_OK ||
		check_enable_rls(kind->anchor, InvalidOid, true) == RLS_ENABLED)
		return false;
	rel = table_open(kind->anchor, AccessShareLock);
	index_oid = RelationGetPrimaryKeyIndex(rel);
	if (rel->rd_rel->relkind != RELKIND_RELATION || rel->rd_rel->relhassubclass || !OidIsValid(index_oid) ||
		(kind->key_index_known && index_oid != kind->key_index))
	{
		table_close(rel, NoLock);
		return false;
	}
	index = index_open(index_oid, AccessShareLock);
	if (!kind->key_index_known)
	{
		/* once per kind: the operator class lookup reads pg_opclass */
		kind->key_index = index_is_key(kind, rel, index) ? index_oid : InvalidOid;
		if (OidIsValid(kind->key_index))
			kind->key_index_equal =
				get_opcode(get_opfamily_member(index->rd_opfamily[0], index->rd_opcintype[0],
											   index->rd_opcintype[0], BTEqualStrategyNumber));
		kind->key_index_known = true;
	}
	/* validity can change without a new index: checked at every call */
	if (index_oid != kind->key_index || !index->rd_index->indisvalid)
	{
		index_close(index, NoLock);
		table_close(rel, NoLock);
		return false;
	}

	ScanKeyEntryInitialize(&scankey, 0, 1, BTEqualStrategyNumber, index->rd_opcintype[0],
						   index->rd_indcollation[0], kind->key_index_equal, key_value(kind, key));
	CommandCounterIncrement();
	snapshot = RegisterSnapshot(GetTransactionSnapshot());
	scan = index_beginscan(rel, index, snapshot, 1, 0);
	index_rescan(scan, &scankey, 1, NULL, 0);
	slot = table_slot_create(rel, NULL);
	*found = index_getnext_slot(scan, ForwardScanDirection, slot);
	index_endscan(scan);
	ExecDropSingleTupleTableSlot(slot);
	UnregisterSnapshot(snapshot);
	index_close(index, NoLock);
	table_close(rel, NoLock);
	return true;
}

/*
 * Whether the anchor holds a row of the (canonical) key, locking it if
 * asked; as the current user: through the anchor's primary key where
 * probe_primary_key() can, else by the kind's statement. Must be called
 * inside SPI_connect.
 */
bool
subject_exists(SubjectKind *kind, const char *key, bool lock_it)
{
	Datum		values[1] = {CStringGetTextDatum(key)};
	SubjectStatement *statement = lock_it ? &kind->exists_locked : &kind->exists;
	bool		isnull;
	bool		result;

	if (!lock_it && probe_primary_key(kind, key, &result))
		return result;
	if (SPI_execute_plan(subject_statement_plan(kind, statement), subject_statement_arguments(kind, statement, values),
						 NULL, false, 1) != SPI_OK_SELECT ||
		SPI_processed != 1)
		elog(ERROR, "could not look a subject up");
	result = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	return !isnull && result;
}

/*
 * The key of privacy._subject_locks that stands for (scope, kind, subject),
 * as privacy_internal._lock_subject() computes it:
 * hashtextextended(scope || E'\x1f' || kind || E'\x1f' || subject, 0).
 */
int64
subject_lock_key(const char *scope, const char *kind, const char *subject)
{
	char	   *key = psprintf("%s\x1f%s\x1f%s", scope, kind, subject);

	return DatumGetInt64(hash_any_extended((const unsigned char *) key, strlen(key), 0));
}

/*
 * Locks key (subject_lock_key()) until the transaction ends, waiting while
 * another transaction holds it. The lock is a row of privacy._subject_locks
 * (unlogged): inserted as an INSERT would, whose check of the table's
 * primary key waits for a transaction that inserted the same key and has
 * not ended, and deleted again at once, so that the table stays empty
 * between transactions. Deleted by this transaction, the row keeps the key
 * locked until it ends: no other transaction's insert gets past it. The
 * lock takes no entry in the lock manager, so a transaction may hold any
 * number of them; taking one this transaction already holds does not wait.
 * An error (or a rolled-back savepoint) after it leaves the row dead.
 */
void
subject_lock_take(int64 key)
{
	Relation	rel;
	Relation	index;
	IndexInfo  *index_info;
	Datum		value = Int64GetDatum(key);
	bool		isnull = false;
	HeapTuple	tuple;

	/* refused as the INSERT that took the lock before was (also on a standby) */
	PreventCommandIfReadOnly("INSERT");
	rel = table_open(privacy_required_relid("_subject_locks"), RowExclusiveLock);
	index = index_open(RelationGetPrimaryKeyIndex(rel), RowExclusiveLock);
	index_info = BuildIndexInfo(index);
	tuple = heap_form_tuple(RelationGetDescr(rel), &value, &isnull);
	heap_insert(rel, tuple, GetCurrentCommandId(true), 0, NULL);
	index_insert(index, &value, &isnull, &tuple->t_self, rel, UNIQUE_CHECK_YES, false, index_info);
	/* the row inserted is seen by the delete */
	CommandCounterIncrement();
	simple_heap_delete(rel, &tuple->t_self);
	heap_freetuple(tuple);
	index_close(index, NoLock);
	table_close(rel, NoLock);
}

/* The kind argument of a call; a null kind is unrecognized, as in SQL. */
char *
subject_kind_argument(FunctionCallInfo fcinfo, int argno)
{
	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unrecognized subject kind \"%s\"", "<NULL>"),
				 errhint("Subject kinds are declared by the policy document; privacy.subject_kinds lists them.")));
	return text_to_cstring(PG_GETARG_TEXT_PP(argno));
}

/* The canonical key of a call's subject argument, checked. */
char *
subject_key_argument(FunctionCallInfo fcinfo, int argno, SubjectKind *kind)
{
	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("subject key must not be null")));
	return subject_canonical_key(kind, text_to_cstring(PG_GETARG_TEXT_PP(argno)));
}

/* Runs subject_exists() in a SPI connection of its own. */
static bool
exists_now(SubjectKind *kind, const char *key, bool lock_it)
{
	bool		result;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	result = subject_exists(kind, key, lock_it);
	SPI_finish();
	return result;
}

/*
 * privacy_internal._canonical_subject(kind text, subject text, must_exist boolean)
 * → text: the subject's canonical key; with must_exist, an error if the
 * anchor has no row of it.
 */
Datum
privacy_canonical_subject(PG_FUNCTION_ARGS)
{
	char	   *name = subject_kind_argument(fcinfo, 0);
	SubjectKind *kind = subject_kind_acquire(name, false);
	char	   *key = NULL;

	PG_TRY();
	{
		key = subject_key_argument(fcinfo, 1, kind);
		if (!PG_ARGISNULL(2) && PG_GETARG_BOOL(2) && !exists_now(kind, key, false))
			ereport(ERROR,
					(errcode(ERRCODE_NO_DATA_FOUND),
					 errmsg("subject of kind \"%s\" does not exist", kind->name),
					 errdetail("No row of %s has this %s.", kind->anchor_name,
							   quote_identifier(kind->key_column))));
	}
	PG_FINALLY();
	{
		subject_kind_release(kind);
	}
	PG_END_TRY();
	PG_RETURN_TEXT_P(cstring_to_text(key));
}

/*
 * privacy_internal._subject_exists(kind text, subject text, lock_it boolean) →
 * boolean: whether the anchor has a row of the subject's key (locked FOR
 * UPDATE with lock_it).
 */
Datum
privacy_subject_exists(PG_FUNCTION_ARGS)
{
	char	   *name = subject_kind_argument(fcinfo, 0);
	SubjectKind *kind = subject_kind_acquire(name, false);
	bool		result = false;

	PG_TRY();
	{
		char	   *key = subject_key_argument(fcinfo, 1, kind);

		result = exists_now(kind, key, !PG_ARGISNULL(2) && PG_GETARG_BOOL(2));
	}
	PG_FINALLY();
	{
		subject_kind_release(kind);
	}
	PG_END_TRY();
	PG_RETURN_BOOL(result);
}
