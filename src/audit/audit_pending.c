/*
 * audit_pending.c
 *		Appends a transaction's audit log entries to the hash chain when the
 *		transaction commits.
 *
 * privacy_internal._audit() computes an entry's fields (time, actor, action, subject
 * reference, summary) and hands them to privacy_internal._audit_append(), which only
 * keeps them in a backend-local list in transaction memory, each tagged with
 * the subtransaction that wrote it. Nothing is locked then: a transaction
 * left open after an audited statement blocks no one.
 *
 * When the transaction commits (XACT_EVENT_PRE_COMMIT, after its deferred
 * triggers have fired), its entries are appended in the order they were
 * written, as the log's owner with search_path pinned: the chain's head
 * (privacy._audit_head) is locked, each entry gets the next id and its hash
 * chained to the one before it (privacy_internal._audit_entry_hash(), the definition
 * privacy.verify_audit_log() recomputes), and the head moves to the last
 * one. The head is held from there to the end of the commit only, so the
 * chain is in commit order and writers queue for the length of an append,
 * never for a client's round trip.
 *
 * The head is locked in SHARE ROW EXCLUSIVE mode (which conflicts with
 * itself) before it is read, and read with a snapshot taken after the lock
 * is granted: the head a committing transaction chains to is the newest
 * one whatever its isolation level, so a REPEATABLE READ transaction is not
 * refused because another one appended since its snapshot.
 *
 * Entries of a subtransaction that rolls back are dropped with it; those of
 * one that commits pass to its parent; a transaction that aborts leaves no
 * entry. A transaction with entries cannot be prepared: they would have to
 * be appended at COMMIT PREPARED, which runs no extension code.
 */
#include "postgres.h"

#include "access/parallel.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "audit/audit.h"
#include "base/extension_objects.h"

PG_FUNCTION_INFO_V1(privacy_audit_append);

/* One entry waiting for its transaction to commit. */
typedef struct PendingEntry
{
	SubTransactionId subid;		/* the subtransaction that wrote it */
	TimestampTz logged_at;
	NameData	actor;
	NameData	session_role;
	text	   *action;
	text	   *subject_ref;	/* NULL when the entry names no subject */
	int64		request_id;
	bool		has_request_id;
	Jsonb	   *summary;
} PendingEntry;

/* The current transaction's entries, oldest first, in TopTransactionContext. */
static List *pending_entries = NIL;

/* The statements of the append, prepared once per backend (SPI_keepplan). */
#define N_ENTRY_ARGS 7
static SPIPlanPtr head_plan = NULL;
static SPIPlanPtr insert_plan = NULL;
static SPIPlanPtr update_plan = NULL;

static const char *const head_sql =
"SELECT h.last_hash FROM privacy._audit_head h FOR UPDATE";

static const char *const insert_sql =
"INSERT INTO privacy.audit_log"
" (id, logged_at, actor, session_role, action, subject_ref, request_id, summary, prev_hash, hash)"
" SELECT e.id, $2, $3, $4, $5, $6, $7, $8, $1,"
" privacy_internal._audit_entry_hash($1, e.id, $2, $3, $4, $5, $6, $7, $8)"
" FROM (SELECT pg_catalog.nextval('privacy.audit_log_id_seq'::pg_catalog.regclass) AS id) e"
" RETURNING id, hash";

static const char *const update_sql =
"UPDATE privacy._audit_head SET last_id = $1, last_hash = $2";

/* Prepares one statement of the append and keeps it for the session. */
static SPIPlanPtr
prepare_kept(const char *sql, int nargs, Oid *argtypes)
{
	SPIPlanPtr	plan = SPI_prepare(sql, nargs, argtypes);

	if (plan == NULL)
		elog(ERROR, "could not prepare audit log statement: %s",
			 SPI_result_code_string(SPI_result));
	if (SPI_keepplan(plan) != 0)
		elog(ERROR, "could not keep audit log statement");
	return plan;
}

static void
prepare_statements(void)
{
	Oid			insert_types[N_ENTRY_ARGS + 1] = {BYTEAOID, TIMESTAMPTZOID, NAMEOID, NAMEOID,
	TEXTOID, TEXTOID, INT8OID, JSONBOID};
	Oid			update_types[2] = {INT8OID, BYTEAOID};

	if (head_plan == NULL)
		head_plan = prepare_kept(head_sql, 0, NULL);
	if (insert_plan == NULL)
		insert_plan = prepare_kept(insert_sql, N_ENTRY_ARGS + 1, insert_types);
	if (update_plan == NULL)
		update_plan = prepare_kept(update_sql, 2, update_types);
}

/* The OID of privacy.<relname>, or InvalidOid when it does not exist. */
static Oid
privacy_relid(const char *relname)
{
	Oid			nsp = get_namespace_oid(PRIVACY_SCHEMA, true);

	return OidIsValid(nsp) ? get_relname_relid(relname, nsp) : InvalidOid;
}

/*
 * Inserts one entry chained to prev_hash; returns its hash and sets *id.
 * The entry's hash is computed by privacy_internal._audit_entry_hash(), the
 * definition privacy.verify_audit_log() recomputes.
 */
static Datum
insert_entry(const PendingEntry *entry, Datum prev_hash, Snapshot snapshot, int64 *id)
{
	Datum		values[N_ENTRY_ARGS + 1];
	char		nulls[N_ENTRY_ARGS + 1];
	bool		isnull;

	memset(nulls, ' ', sizeof(nulls));
	values[0] = prev_hash;
	values[1] = TimestampTzGetDatum(entry->logged_at);
	values[2] = NameGetDatum(&entry->actor);
	values[3] = NameGetDatum(&entry->session_role);
	values[4] = PointerGetDatum(entry->action);
	values[5] = PointerGetDatum(entry->subject_ref);
	if (entry->subject_ref == NULL)
		nulls[5] = 'n';
	values[6] = Int64GetDatum(entry->request_id);
	if (!entry->has_request_id)
		nulls[6] = 'n';
	values[7] = JsonbPGetDatum(entry->summary);

	if (SPI_execute_snapshot(insert_plan, values, nulls, snapshot, InvalidSnapshot,
							 false, true, 0) != SPI_OK_INSERT_RETURNING ||
		SPI_processed != 1)
		elog(ERROR, "could not append an entry to the audit log");
	*id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	return SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull);
}

/*
 * Appends the pending entries to the chain; runs as the log's owner inside
 * SPI, with the head locked and a snapshot taken after the lock.
 */
static void
append_pending_entries(Oid head_relid)
{
	Datum		hash;
	Datum		head_values[2];
	bool		isnull;
	int64		last_id = 0;
	Snapshot	snapshot;

	/*
	 * The lock comes first: preparing the head's UPDATE takes a ROW
	 * EXCLUSIVE lock on it, which two backends preparing at once would each
	 * hold while waiting for the other's SHARE ROW EXCLUSIVE lock.
	 */
	LockRelationOid(head_relid, ShareRowExclusiveLock);
	prepare_statements();
	PushActiveSnapshot(GetLatestSnapshot());
	snapshot = GetActiveSnapshot();

	if (SPI_execute_snapshot(head_plan, NULL, NULL, snapshot, InvalidSnapshot,
							 false, false, 0) != SPI_OK_SELECT || SPI_processed != 1)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("the audit log's head row is missing"),
				 errdetail("The table privacy._audit_head must hold exactly one row."),
				 errhint("Restore the table from a backup; privacy.verify_audit_log() then reports whether the chain is intact.")));
	hash = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	if (isnull)
		elog(ERROR, "the audit log's head has no hash");

	/* the statements run here write no entry; should one, it is appended too */
	while (pending_entries != NIL)
	{
		List	   *batch = pending_entries;
		ListCell   *lc;

		pending_entries = NIL;
		foreach(lc, batch)
			hash = insert_entry((PendingEntry *) lfirst(lc), hash, snapshot, &last_id);
	}

	head_values[0] = Int64GetDatum(last_id);
	head_values[1] = hash;
	if (SPI_execute_snapshot(update_plan, head_values, NULL, snapshot, InvalidSnapshot,
							 false, true, 0) != SPI_OK_UPDATE || SPI_processed != 1)
		elog(ERROR, "could not move the audit log's head");
	PopActiveSnapshot();
}

/*
 * Appends the transaction's entries at pre-commit. Without the log (the
 * extension was dropped in this transaction) they go with it, as entries
 * already in the log would have.
 */
static void
flush_pending_entries(void)
{
	Oid			head_relid = privacy_relid("_audit_head");
	PrivacyUserContext save;

	if (!OidIsValid(head_relid) || !OidIsValid(privacy_relid("audit_log")))
	{
		pending_entries = NIL;
		return;
	}

	privacy_begin_as_owner("audit_log", &save);
	PG_TRY();
	{
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "could not connect to SPI");
		append_pending_entries(head_relid);
		SPI_finish();
	}
	PG_FINALLY();
	{
		privacy_end_as_owner(&save);
	}
	PG_END_TRY();
	pending_entries = NIL;
}

static void
audit_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_PRE_COMMIT:
			if (pending_entries != NIL)
				flush_pending_entries();
			break;
		case XACT_EVENT_PRE_PREPARE:
			if (pending_entries != NIL)
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("cannot PREPARE a transaction that wrote audit log entries"),
						 errdetail("A transaction's audit log entries are appended to the hash chain when it commits, which COMMIT PREPARED cannot do."),
						 errhint("Run the audited statements in a transaction that commits directly.")));
			break;
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
		case XACT_EVENT_PREPARE:
			/* the list lived in the transaction's memory */
			pending_entries = NIL;
			break;
		default:
			break;
	}
}

/*
 * Drops the entries of a subtransaction that rolls back; hands those of one
 * that commits to its parent.
 */
static void
audit_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
					   SubTransactionId parentSubid, void *arg)
{
	ListCell   *lc;

	if (pending_entries == NIL)
		return;
	if (event == SUBXACT_EVENT_ABORT_SUB)
	{
		foreach(lc, pending_entries)
		{
			PendingEntry *entry = (PendingEntry *) lfirst(lc);

			if (entry->subid == mySubid)
				pending_entries = foreach_delete_current(pending_entries, lc);
		}
	}
	else if (event == SUBXACT_EVENT_COMMIT_SUB)
	{
		foreach(lc, pending_entries)
		{
			PendingEntry *entry = (PendingEntry *) lfirst(lc);

			if (entry->subid == mySubid)
				entry->subid = parentSubid;
		}
	}
}

/* A copy of a varlena argument in the transaction's memory. */
static void *
copy_arg(FunctionCallInfo fcinfo, int argno)
{
	return PG_DETOAST_DATUM_COPY(PG_GETARG_DATUM(argno));
}

/*
 * privacy_internal._audit_append(logged_at, actor, session_role, action, subject_ref,
 * request_id, summary): queues one entry, to be appended to the log when the
 * transaction commits. Called by privacy_internal._audit() only.
 */
Datum
privacy_audit_append(PG_FUNCTION_ARGS)
{
	MemoryContext old;
	PendingEntry *entry;

	if (IsParallelWorker())
		elog(ERROR, "audit log entries cannot be written by a parallel worker");
	/* refused now, before the audited action returns anything, not at commit */
	PreventCommandIfReadOnly("privacy_internal._audit()");
	PreventCommandDuringRecovery("privacy_internal._audit()");
	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2) ||
		PG_ARGISNULL(3) || PG_ARGISNULL(6))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("an audit log entry needs a time, an actor, a session role, an action and a summary")));

	old = MemoryContextSwitchTo(TopTransactionContext);
	entry = palloc0(sizeof(PendingEntry));
	entry->subid = GetCurrentSubTransactionId();
	entry->logged_at = PG_GETARG_TIMESTAMPTZ(0);
	namestrcpy(&entry->actor, NameStr(*PG_GETARG_NAME(1)));
	namestrcpy(&entry->session_role, NameStr(*PG_GETARG_NAME(2)));
	entry->action = copy_arg(fcinfo, 3);
	entry->subject_ref = PG_ARGISNULL(4) ? NULL : copy_arg(fcinfo, 4);
	entry->has_request_id = !PG_ARGISNULL(5);
	entry->request_id = entry->has_request_id ? PG_GETARG_INT64(5) : 0;
	entry->summary = copy_arg(fcinfo, 6);
	pending_entries = lappend(pending_entries, entry);
	MemoryContextSwitchTo(old);

	PG_RETURN_VOID();
}

void
AuditInit(void)
{
	RegisterXactCallback(audit_xact_callback, NULL);
	RegisterSubXactCallback(audit_subxact_callback, NULL);
}
