/*
 * audit_pending.c
 *		Writes a transaction's audit log entries to the unsealed entries when
 *		the transaction commits, and wakes the sealer after.
 *
 * privacy_internal._audit() computes an entry's fields (time, actor, action,
 * subject reference, summary) and hands them to
 * privacy_internal._audit_append(), which takes the entry's place in the
 * order of entries (the next value of privacy._audit_unsealed_id_seq) and
 * keeps it in a backend-local list in transaction memory, tagged with the
 * subtransaction that wrote it. Nothing is locked then: a transaction left
 * open after an audited statement blocks no one.
 *
 * When the transaction commits (XACT_EVENT_PRE_COMMIT, after its deferred
 * triggers have fired), its entries are inserted into
 * privacy._audit_unsealed directly, heap row and index entry, without a
 * statement (privacy_audit_insert_unsealed(), audit_direct.c). That takes
 * no lock another writer waits for and computes no hash: the entries are
 * sealed into the chain after the commit (audit_seal.c), by the background
 * worker of the preloaded library, which the commit wakes (audit_sealer.c).
 * Without the library preloaded there is no worker, and the committing
 * transaction seals the backlog itself at pre-commit, under the chain's
 * head lock, as releases before 2.0 did.
 *
 * Entries of a subtransaction that rolls back are dropped with it; those of
 * one that commits pass to its parent; a transaction that aborts leaves no
 * entry. The rectification trigger (audit_rectification.c) inserts its
 * entries into privacy._audit_unsealed as it fires, where the
 * subtransaction's own fate decides theirs, and notes that it did
 * (privacy_audit_note_unsealed_write()). A transaction with entries cannot
 * be prepared: COMMIT PREPARED runs no extension code, so nothing would wake
 * the sealer, or seal, when it commits. The exception is a Citus worker's
 * part of a distributed transaction, with the library preloaded: its
 * entries are written at PREPARE and the worker's sealer, woken then, looks
 * again while prepared transactions wait (audit_forward.c).
 */
#include "postgres.h"

#include "access/parallel.h"
#include "access/xact.h"
#include "commands/sequence.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "audit/audit.h"
#include "base/citus.h"
#include "base/extension_objects.h"
#include "subject/subject.h"

PG_FUNCTION_INFO_V1(privacy_audit_append);

/* One entry waiting for its transaction to commit. */
typedef struct PendingEntry
{
	SubTransactionId subid;		/* the subtransaction that wrote it */
	int64		id;				/* its place in the order of entries */
	TimestampTz logged_at;
	text	   *actor;			/* role names, as text (the log's columns) */
	text	   *session_role;
	text	   *action;
	text	   *subject_ref;	/* NULL when the entry names no subject */
	int64		request_id;
	bool		has_request_id;
	Jsonb	   *summary;
} PendingEntry;

/* The current transaction's entries, oldest first, in TopTransactionContext. */
static List *pending_entries = NIL;

/*
 * The subtransactions (oldest first, each once) that inserted entries into
 * privacy._audit_unsealed directly, in TopTransactionContext; and whether
 * the transaction committing now wrote any entry.
 */
static List *unsealed_writers = NIL;
static bool wrote_unsealed = false;

int64
privacy_audit_next_id(void)
{
	return nextval_internal(privacy_required_relid("_audit_unsealed_id_seq"), false);
}

/*
 * Writes the transaction's entries at pre-commit, in the order of their
 * ids. Without the log (the extension was dropped in this transaction)
 * they go with it, as entries already in the log would have.
 */
static void
flush_pending_entries(void)
{
	ListCell   *lc;

	if (!OidIsValid(privacy_relid("_audit_unsealed")))
	{
		pending_entries = NIL;
		return;
	}

	foreach(lc, pending_entries)
	{
		PendingEntry *entry = (PendingEntry *) lfirst(lc);
		Datum		values[PRIVACY_AUDIT_UNSEALED_COLUMNS];
		bool		nulls[PRIVACY_AUDIT_UNSEALED_COLUMNS] = {false};

		values[0] = Int64GetDatum(entry->id);
		values[1] = TimestampTzGetDatum(entry->logged_at);
		values[2] = PointerGetDatum(entry->actor);
		values[3] = PointerGetDatum(entry->session_role);
		values[4] = PointerGetDatum(entry->action);
		values[5] = PointerGetDatum(entry->subject_ref);
		nulls[5] = entry->subject_ref == NULL;
		values[6] = Int64GetDatum(entry->request_id);
		nulls[6] = !entry->has_request_id;
		values[7] = JsonbPGetDatum(entry->summary);
		values[8] = (Datum) 0;
		nulls[8] = true;
		privacy_audit_insert_unsealed(values, nulls);
	}
	pending_entries = NIL;
	wrote_unsealed = true;
}

void
privacy_audit_note_unsealed_write(void)
{
	SubTransactionId subid = GetCurrentSubTransactionId();
	MemoryContext old;

	if (unsealed_writers != NIL &&
		llast_int(unsealed_writers) == (int) subid)
		return;
	old = MemoryContextSwitchTo(TopTransactionContext);
	unsealed_writers = lappend_int(unsealed_writers, (int) subid);
	MemoryContextSwitchTo(old);
}

/* Writes the entries, and seals them when no worker will (see above). */
static void
audit_pre_commit(void)
{
	if (pending_entries != NIL)
		flush_pending_entries();
	if (unsealed_writers != NIL)
		wrote_unsealed = true;
	if (wrote_unsealed && !privacy_sealer_preloaded)
		(void) privacy_seal_entries(0, privacy_seal_batch_size);
}

static void
audit_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_PRE_COMMIT:
			audit_pre_commit();
			break;
		case XACT_EVENT_PRE_PREPARE:
			/*
			 * A Citus worker's part of a distributed transaction is
			 * prepared: its entries are written now, and its sealer, woken
			 * at PREPARE, forwards them once COMMIT PREPARED made them
			 * visible (audit_forward.c).
			 */
			if ((pending_entries != NIL || unsealed_writers != NIL) &&
				privacy_sealer_preloaded && privacy_citus_worker())
			{
				if (pending_entries != NIL)
					flush_pending_entries();
				wrote_unsealed = true;
				break;
			}
			if (pending_entries != NIL || unsealed_writers != NIL)
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("cannot PREPARE a transaction that wrote audit log entries"),
						 errdetail("A transaction's audit log entries are written and sealed into the hash chain when it commits, which COMMIT PREPARED cannot do."),
						 errhint("Run the audited statements in a transaction that commits directly.")));
			break;
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PREPARE:

			/*
			 * The entries are visible now, or (prepared, on a Citus worker)
			 * once COMMIT PREPARED runs: the sealer may take them.
			 */
			if (wrote_unsealed && privacy_sealer_preloaded)
				privacy_sealer_wake();
			/* FALLTHROUGH */
		case XACT_EVENT_PARALLEL_COMMIT:
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
			/* the lists lived in the transaction's memory */
			pending_entries = NIL;
			unsealed_writers = NIL;
			wrote_unsealed = false;
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

	if (unsealed_writers != NIL &&
		(event == SUBXACT_EVENT_ABORT_SUB || event == SUBXACT_EVENT_COMMIT_SUB) &&
		llast_int(unsealed_writers) == (int) mySubid)
	{
		/* the newest writer is the one ending, if any is */
		unsealed_writers = list_delete_last(unsealed_writers);
		if (event == SUBXACT_EVENT_COMMIT_SUB &&
			(unsealed_writers == NIL || llast_int(unsealed_writers) != (int) parentSubid))
		{
			MemoryContext old = MemoryContextSwitchTo(TopTransactionContext);

			unsealed_writers = lappend_int(unsealed_writers, (int) parentSubid);
			MemoryContextSwitchTo(old);
		}
	}
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

/*
 * Queues one entry of the current transaction (action, subject_ref and
 * summary are copied into transaction memory), taking its place in the
 * order of entries now.
 */
static void
queue_entry(TimestampTz logged_at, const char *actor, const char *session_role,
			text *action, text *subject_ref, bool has_request_id, int64 request_id,
			Jsonb *summary)
{
	MemoryContext old;
	PendingEntry *entry;

	if (IsParallelWorker())
		elog(ERROR, "audit log entries cannot be written by a parallel worker");
	/* refused now, before the audited action returns anything, not at commit */
	PreventCommandIfReadOnly("privacy_internal._audit()");
	PreventCommandDuringRecovery("privacy_internal._audit()");

	old = MemoryContextSwitchTo(TopTransactionContext);
	entry = palloc0(sizeof(PendingEntry));
	entry->subid = GetCurrentSubTransactionId();
	entry->id = privacy_audit_next_id();
	entry->logged_at = logged_at;
	entry->actor = cstring_to_text(actor);
	entry->session_role = cstring_to_text(session_role);
	entry->action = (text *) PG_DETOAST_DATUM_COPY(PointerGetDatum(action));
	entry->subject_ref = subject_ref == NULL ? NULL :
		(text *) PG_DETOAST_DATUM_COPY(PointerGetDatum(subject_ref));
	entry->has_request_id = has_request_id;
	entry->request_id = has_request_id ? request_id : 0;
	entry->summary = (Jsonb *) PG_DETOAST_DATUM_COPY(PointerGetDatum(summary));
	pending_entries = lappend(pending_entries, entry);
	MemoryContextSwitchTo(old);
}

/*
 * privacy_internal._audit_append(logged_at, actor, session_role, action, subject_ref,
 * request_id, summary): queues one entry, to be written to the unsealed
 * entries when the transaction commits. Called by privacy_internal._audit()
 * only.
 */
Datum
privacy_audit_append(PG_FUNCTION_ARGS)
{
	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2) ||
		PG_ARGISNULL(3) || PG_ARGISNULL(6))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("an audit log entry needs a time, an actor, a session role, an action and a summary")));
	queue_entry(PG_GETARG_TIMESTAMPTZ(0), NameStr(*PG_GETARG_NAME(1)), NameStr(*PG_GETARG_NAME(2)),
				PG_GETARG_TEXT_PP(3), PG_ARGISNULL(4) ? NULL : PG_GETARG_TEXT_PP(4),
				!PG_ARGISNULL(5), PG_ARGISNULL(5) ? 0 : PG_GETARG_INT64(5),
				PG_GETARG_JSONB_P(6));
	PG_RETURN_VOID();
}

void
privacy_audit_queue(const char *actor, const char *action, const char *kind,
					const char *subject, Jsonb *summary)
{
	privacy_audit_queue_ref(actor, action,
							subject ? subject_reference(kind ? kind : "", subject) : NULL,
							summary);
}

void
privacy_audit_queue_ref(const char *actor, const char *action, text *subject_ref,
						Jsonb *summary)
{
	const char *session_role = GetUserNameFromId(GetSessionUserId(), false);

	queue_entry(GetCurrentTimestamp(), actor ? actor : session_role, session_role,
				cstring_to_text(action), subject_ref, false, 0, summary);
}

void
AuditInit(void)
{
	RegisterXactCallback(audit_xact_callback, NULL);
	RegisterSubXactCallback(audit_subxact_callback, NULL);
	SealerInit();
}
