/*
 * consent_check.c
 *		The per-row check of the row policies that privacy.protect() puts on
 *		tables: may the purpose in force process this subject's data now?
 *
 * Policies call privacy_internal._may_process(kind, subject, owned) (USING) and
 * privacy_internal._may_write(kind, subject, owned) (WITH CHECK, which refuses a row
 * with one error, whatever the reason, so that a refused write tells
 * nothing of the subject's consent, objection or restriction); owned is
 * false for a row that belongs to no subject of the kind, which any
 * declared purpose may process. A row whose subject was erased (its kept
 * rows are anonymised) may be read but not written: privacy.erasures knows
 * the erased subjects by reference, and each write check looks the row's
 * subject up there once per cache generation. Each call
 * site keeps, in fn_extra, the resolved purpose and pointers to the sets of
 * subjects it needs: those who consented (for a consent purpose) or
 * objected (legitimate interest), and those whose processing is restricted
 * (unless the purpose is allowed under restriction). The check per row is
 * then a bit test or a hash lookup or two.
 *
 * The sets live in a per-backend cache. A session that holds an image of
 * the whole state brings it up to date with the changes committed since,
 * when it knows their subjects (consent_changes.c): it reads those
 * subjects' rows again and patches or rebuilds its image, which it then
 * shares. Otherwise the cache starts from the image of the whole state
 * that another session shared (consent_shared.c) when that image is
 * current; otherwise from privacy._ledger_state: a subject not yet
 * known is looked up with one index probe, so that a session doing point
 * lookups reads only the state of the subjects it touches; once a
 * generation's probes have cost about as much as reading the whole state
 * would, the whole state is read in one sequential scan into an image
 * (consent_state.c), which is shared, and every later lookup stays in
 * memory. Parallel workers start from the shared image too.
 *
 * Every change of the ledger state, the purposes, the purpose grants, the
 * subject kinds or the erasures fires a statement trigger that invalidates the relcache
 * entry of its table (for the ledger state and the erasures, that of the
 * view privacy.consent_state); the relcache callback here bumps the cache
 * generation, and each call site compares generations before it uses its
 * sets. Invalidations are accepted at the first call of every statement
 * and, once a session has checked rows, at the start of every run of an
 * executor (every statement, and every FETCH from a cursor, in SQL or in
 * PL/pgSQL), so a change committed by another session is honoured by the
 * next statement or FETCH of every session: a cursor opened before a
 * withdrawal does not return the rows it reads after it. Rows it had
 * already read (into a sort, a hash or the store of a WITH HOLD cursor)
 * were checked when they were read. The state is read with the latest snapshot
 * (in parallel mode, the statement's, and then only for that transaction),
 * like catalog caches, so it never lags behind a commit whose invalidation
 * was already processed.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/parallel.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_collation.h"
#include "catalog/pg_index.h"
#include "commands/trigger.h"
#include "common/hashfn.h"
#include "executor/executor.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/bufmgr.h"
#include "storage/lmgr.h"
#include "storage/sinval.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

#include "base/citus.h"
#include "base/compat.h"
#include "consent/consent_changes.h"
#include "consent/consent_check.h"
#include "consent/consent_shared.h"
#include "consent/consent_state.h"
#include "base/extension_objects.h"
#include "base/keys.h"
#include "base/relcache_callbacks.h"
#include "consent/node_state.h"
#include "consent/purpose.h"

PG_FUNCTION_INFO_V1(privacy_may_process_int8);
PG_FUNCTION_INFO_V1(privacy_may_process_text);
PG_FUNCTION_INFO_V1(privacy_may_write_int8);
PG_FUNCTION_INFO_V1(privacy_may_write_text);
PG_FUNCTION_INFO_V1(privacy_invalidate_consent_cache);
PG_FUNCTION_INFO_V1(privacy_consent_cache_status);

/* Subjects whose key is a canonical integer, and all others. */
typedef struct IntEntry
{
	int64		key;
	char		status;			/* simplehash's slot status */
	bool		present;		/* in the set, or known not to be */
} IntEntry;

#define SH_PREFIX subj_int
#define SH_ELEMENT_TYPE IntEntry
#define SH_KEY_TYPE int64
#define SH_KEY key
#define SH_HASH_KEY(tb, k) murmurhash32((uint32) (k) ^ (uint32) ((uint64) (k) >> 32))
#define SH_EQUAL(tb, a, b) ((a) == (b))
#define SH_SCOPE static inline
#define SH_DECLARE
#define SH_DEFINE
#include "lib/simplehash.h"

typedef struct TextEntry
{
	const char *key;
	uint32		hash;
	char		status;			/* simplehash's slot status */
	bool		present;		/* in the set, or known not to be */
} TextEntry;

#define SH_PREFIX subj_text
#define SH_ELEMENT_TYPE TextEntry
#define SH_KEY_TYPE const char *
#define SH_KEY key
#define SH_HASH_KEY(tb, k) string_hash(k, 0)
#define SH_EQUAL(tb, a, b) (strcmp(a, b) == 0)
#define SH_STORE_HASH
#define SH_GET_HASH(tb, a) ((a)->hash)
#define SH_SCOPE static inline
#define SH_DECLARE
#define SH_DEFINE
#include "lib/simplehash.h"

/*
 * The subjects of one kind that have one status for one purpose: until the
 * whole ledger state is read, the subjects looked up so far, each known to
 * be in the set or not; then the set in the image of the whole state (NULL
 * if it is empty).
 */
typedef struct SubjectSet
{
	char		kind[NAMEDATALEN];
	char		purpose[NAMEDATALEN];
	char		status[CONSENT_STATUS_LEN];
	subj_int_hash *ints;
	subj_text_hash *texts;
	const StateImageSet *image_set;
	bool		none;			/* an erased set known to be empty */
	struct SubjectSet *next;
} SubjectSet;

/* Why a row may or may not be processed. */
typedef enum CheckResult
{
	CHECK_OK,
	CHECK_NO_PURPOSE,
	CHECK_NO_SUBJECT,
	CHECK_RESTRICTED,
	CHECK_NO_CONSENT,
	CHECK_OBJECTED,
	CHECK_ERASED
} CheckResult;

/*
 * A set of integer keys as a bitmap of the image of the whole state, or
 * empty (bits 0), copied into a call site so that a row's check is one bit
 * test per set.
 */
typedef struct SiteBitmap
{
	const uint64 *words;
	int64		base;			/* key of bit 0 */
	uint64		bits;
} SiteBitmap;

/* What one call site (one policy expression in one plan) has resolved. */
typedef struct CheckSite
{
	uint64		cache_generation;
	PurposeStamp stamp;
	Datum		kind_arg;		/* the kind argument it was resolved for, if
								 * that is the same datum in every call (a
								 * constant); else 0 */
	char		kind[NAMEDATALEN];
	ResolvedPurpose purpose;
	SubjectSet *needed;			/* consented (consent) or objected (legitimate interest) */
	SubjectSet *restricted;		/* NULL if the purpose is allowed under restriction */
	bool		bitmaps;		/* whether both sets are in the bitmaps below */
	SiteBitmap	needed_bitmap;
	SiteBitmap	restricted_bitmap;
} CheckSite;

static uint64 cache_generation = 1;
static MemoryContext cache_context = NULL;
static uint64 cache_context_generation = 0;
static SubjectSet *subject_sets = NULL;

/* Per kind, the subjects looked up in privacy.erasures (status "erased"). */
static SubjectSet *erased_sets = NULL;
static bool sets_snapshot_bound = false;

/* The whole state, once read or copied from shared memory (else NULL). */
static StateImage *cache_image = NULL;

/*
 * This session's own image of the whole state, kept across generations in
 * CacheMemoryContext so that it can be brought up to date for the subjects
 * changed since (update_own_image), with the count of changes it reflects
 * and the privacy._ledger_state it was read from; a count of 0 if it was
 * read with a statement's snapshot or by a transaction that had changed the
 * state itself, when it cannot be brought up to date.
 */
static StateImage *own_image = NULL;
static uint64 own_image_changes = 0;
static Oid	own_image_relid = InvalidOid;

/*
 * A copy of it brought up to date by a parallel plan's leader with the
 * statement's snapshot, for that statement only; freed with the next
 * generation.
 */
static StateImage *statement_image = NULL;

/*
 * Past this many changed subjects, a current image that another session
 * shared is copied rather than the subjects looked up.
 */
#define MAX_UPDATED_SUBJECTS 32

/* How the cache was filled: empty, probed, read, shared or updated. */
static const char *cache_source = "empty";

/* Whether the current transaction changed the state (see xact_callback). */
static bool state_changed_in_xact = false;

/* Whether this session has resolved a call site (see executor_run). */
static bool sites_resolved = false;

static ExecutorRun_hook_type prev_executor_run = NULL;

/*
 * A few subjects are looked up one by one (an index probe each); once the
 * probes since the state was last read (with shared memory) or of this
 * generation (without) pass the budget, the whole state is read in one
 * sequential scan instead, which costs about as much as budget probes.
 */
static uint64 probes_done = 0;
static uint64 probe_budget = 0;

/* The last purpose resolution, valid for its stamp and cache generation. */
static ResolvedPurpose memo_purpose;
static PurposeStamp memo_stamp;
static uint64 memo_generation = 0;

/*
 * The relations whose invalidation invalidates the cache, as last looked
 * up. A change of privacy._ledger_state invalidates the view
 * privacy.consent_state (see privacy_invalidate_consent_cache), not the
 * table itself, whose own invalidation is left to DDL.
 */
#define N_WATCHED 6
static const char *const watched_names[N_WATCHED] = {
	"_ledger_state", "purposes", "purpose_grants", "subject_kinds", "erasures", "consent_state"
};
static Oid	watched_oids[N_WATCHED];
static uint64 watched_generation = 0;	/* the cache generation they were looked up in */

/*
 * With Citus installed, the view whose invalidation a committed change of
 * the state sends again once it is counted (see xact_callback).
 */
static Oid	citus_state_view = InvalidOid;

void
consent_cache_invalidate(void)
{
	cache_generation++;
}

static void
relcache_callback(Datum arg, Oid relid)
{
	int			i;

	if (!OidIsValid(relid))
	{
		cache_generation++;
		privacy_forwarded_plans_reset();
		return;
	}
	for (i = 0; i < N_WATCHED; i++)
		if (watched_oids[i] == relid)
		{
			cache_generation++;
			privacy_forwarded_plans_reset();
			return;
		}
}

/* Role memberships and attributes decide which purposes a role has. */
static void
syscache_callback(Datum arg, int cacheid, uint32 hashvalue)
{
	cache_generation++;
	privacy_forwarded_plans_reset();
}

/*
 * Sends the invalidation of the consent state view once more, outside the
 * transaction: a plan that carries the consent state version to Citus
 * workers (purpose_forward.c) and was made after the change's own
 * invalidation but before the change was counted is made again.
 */
static void
resend_state_invalidation(void)
{
	SharedInvalidationMessage msg;

	memset(&msg, 0, sizeof(msg));
	msg.rc.id = SHAREDINVALRELCACHE_ID;
	msg.rc.dbId = MyDatabaseId;
	msg.rc.relId = citus_state_view;
	SendSharedInvalidMessages(&msg, 1);
}

/*
 * Sets read with a statement's snapshot are good for that transaction only.
 * A committed change of the state is counted for the shared image once it
 * is visible; one that would be committed later by COMMIT PREPARED could
 * not be, so such a transaction cannot be prepared.
 */
static void
xact_callback(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_PRE_PREPARE && state_changed_in_xact)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot PREPARE a transaction that has changed consent, objection or restriction state"),
				 errdetail("Sessions share the consent state in memory and must learn of each change when it commits.")));
	if (event == XACT_EVENT_COMMIT && state_changed_in_xact)
	{
		consent_changes_count();
		if (OidIsValid(citus_state_view))
			resend_state_invalidation();
	}
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT || event == XACT_EVENT_PREPARE)
	{
		consent_changes_reset();
		state_changed_in_xact = false;
		citus_state_view = InvalidOid;
	}
	if (sets_snapshot_bound &&
		(event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT ||
		 event == XACT_EVENT_PARALLEL_COMMIT || event == XACT_EVENT_PARALLEL_ABORT))
	{
		sets_snapshot_bound = false;
		cache_generation++;
	}
}

static void refresh_watched(uint64 generation);
static void ensure_cache_current(void);

/*
 * A cursor's executor runs once per FETCH, within a transaction that may
 * take no new lock (and so process no invalidation) between two FETCHes:
 * take in the changes other sessions have committed before each run, so
 * that its row checks use a state no older than the run's start.
 */
static void
executor_run(PRIVACY_EXECUTOR_RUN_PARAMS)
{
	if (sites_resolved)
		AcceptInvalidationMessages();
	/*
	 * A parallel plan's leader cannot read the state with the latest
	 * snapshot once in parallel mode: it brings its image up to date now,
	 * and shares it with its workers.
	 */
	if (sites_resolved && queryDesc->plannedstmt->parallelModeNeeded && !IsInParallelMode() &&
		consent_shared_available())
	{
		refresh_watched(cache_generation);
		ensure_cache_current();
	}
	consent_qual_prepare(queryDesc->planstate);
	if (prev_executor_run)
		prev_executor_run(PRIVACY_EXECUTOR_RUN_ARGS);
	else
		standard_ExecutorRun(PRIVACY_EXECUTOR_RUN_ARGS);
}

void
ConsentCheckInit(void)
{
	privacy_register_relcache_callback(relcache_callback);
	CacheRegisterSyscacheCallback(AUTHMEMROLEMEM, syscache_callback, (Datum) 0);
	CacheRegisterSyscacheCallback(AUTHOID, syscache_callback, (Datum) 0);
	RegisterXactCallback(xact_callback, NULL);
	prev_executor_run = ExecutorRun_hook;
	ExecutorRun_hook = executor_run;
}

/*
 * Looks up the OIDs of the watched tables (InvalidOid where missing), unless
 * they were looked up in this cache generation and all found: dropping or
 * renaming one invalidates it and so starts a new generation.
 */
static void
refresh_watched(uint64 generation)
{
	Oid			nsp;
	int			i;

	for (i = 0; i < N_WATCHED; i++)
		if (!OidIsValid(watched_oids[i]))
			break;
	if (i == N_WATCHED && watched_generation == generation)
		return;
	nsp = get_namespace_oid(PRIVACY_SCHEMA, true);
	for (i = 0; i < N_WATCHED; i++)
		watched_oids[i] = OidIsValid(nsp) ? get_relname_relid(watched_names[i], nsp) : InvalidOid;
	watched_generation = generation;
}

/* Makes the image the cache: every set, present or later, is looked up in it. */
static void
install_image(StateImage *image)
{
	SubjectSet *set;

	cache_image = image;
	for (set = subject_sets; set != NULL; set = set->next)
	{
		set->image_set = state_image_find_set(image, set->kind, set->purpose, set->status);
		set->ints = NULL;
		set->texts = NULL;
	}
}

static bool update_own_image(Oid ledger_relid, bool many);

/*
 * Makes image, just read, copied or rebuilt and allocated in
 * CacheMemoryContext, this session's own, reflecting changes (0 if it
 * cannot be brought up to date later), and the cache's.
 */
static void
keep_own_image(StateImage *image, uint64 changes, Oid ledger_relid)
{
	if (own_image != NULL && own_image != image)
		pfree(own_image);
	own_image = image;
	own_image_changes = changes;
	own_image_relid = ledger_relid;
	install_image(image);
}

/*
 * Empties the cache if its generation is out of date; starts it from this
 * session's image brought up to date, or from the shared image of the
 * state when there is a current one.
 */
static void
ensure_cache_current(void)
{
	if (cache_context == NULL)
		cache_context = AllocSetContextCreate(CacheMemoryContext, "privacy consent cache",
											  ALLOCSET_DEFAULT_SIZES);
	if (cache_context_generation != cache_generation)
	{
		StateImage *image;

		MemoryContextReset(cache_context);
		subject_sets = NULL;
		erased_sets = NULL;
		cache_image = NULL;
		if (statement_image != NULL)
		{
			pfree(statement_image);
			statement_image = NULL;
		}
		cache_source = "empty";
		cache_context_generation = cache_generation;
		/*
		 * Where an image, once read, can be kept up to date (shared
		 * memory), probes count towards reading it across generations: a
		 * session of point lookups under a stream of consent changes reads
		 * the state once, rather than probing after every change.
		 */
		if (!consent_shared_available())
			probes_done = 0;
		probe_budget = 0;
		/*
		 * A statement the Citus coordinator forwarded reads the
		 * coordinator's state. A transaction that changed the state must
		 * see its own changes; a parallel worker cannot tell whether its
		 * leader's did, unless the leader has written nothing at all.
		 */
		if (privacy_node_state_active())
		{
			if (privacy_node_image() == NULL)
				elog(ERROR, "the copy of the coordinator's consent state is missing");
			install_image(privacy_node_image());
			cache_source = "coordinator";
		}
		else if (OidIsValid(watched_oids[0]) && !state_changed_in_xact &&
				 !(IsParallelWorker() && TransactionIdIsValid(GetTopTransactionIdIfAny())))
		{
			uint64		changes;

			if (update_own_image(watched_oids[0], false))
				cache_source = "updated";
			else if ((image = consent_shared_fetch(watched_oids[0], CacheMemoryContext, true, &changes)) != NULL)
			{
				keep_own_image(image, changes, watched_oids[0]);
				cache_source = "shared";
			}
			else if (update_own_image(watched_oids[0], true))
				cache_source = "updated";
			else if ((!IsInParallelMode() || IsParallelWorker()) &&
					 (image = consent_shared_fetch(watched_oids[0], CacheMemoryContext, false, &changes)) != NULL)
			{
				/*
				 * An older shared image, brought up to date if it can be;
				 * otherwise of no use, and freed.
				 */
				keep_own_image(image, changes, watched_oids[0]);
				if (update_own_image(watched_oids[0], true))
					cache_source = "updated";
				else
				{
					pfree(own_image);
					own_image = NULL;
					own_image_changes = 0;
					cache_image = NULL;
				}
			}
		}
	}
}

/*
 * Records whether one subject, given as text, is in a set; allocations go
 * to the cache.
 */
static void
set_record(SubjectSet *set, const char *subject, size_t len, bool present)
{
	int64		ikey;
	bool		found;

	if (consent_subject_int_key(subject, len, &ikey))
	{
		IntEntry   *e;

		if (set->ints == NULL)
			set->ints = subj_int_create(cache_context, 64, NULL);
		e = subj_int_insert(set->ints, ikey, &found);
		e->present = present || (found && e->present);
	}
	else
	{
		char	   *copy = MemoryContextAlloc(cache_context, len + 1);
		TextEntry  *e;

		memcpy(copy, subject, len);
		copy[len] = '\0';
		if (set->texts == NULL)
			set->texts = subj_text_create(cache_context, 64, NULL);
		e = subj_text_insert(set->texts, copy, &found);
		if (found)
			pfree(copy);
		e->present = present || (found && e->present);
	}
}

/* The cached set of (kind, purpose, status); created empty if new. */
static SubjectSet *
get_set(const char *kind, const char *purpose, const char *status)
{
	SubjectSet *set;

	for (set = subject_sets; set != NULL; set = set->next)
		if (strcmp(set->kind, kind) == 0 && strcmp(set->purpose, purpose) == 0 &&
			strcmp(set->status, status) == 0)
			return set;
	set = MemoryContextAllocZero(cache_context, sizeof(SubjectSet));
	strlcpy(set->kind, kind, NAMEDATALEN);
	strlcpy(set->purpose, purpose, NAMEDATALEN);
	strlcpy(set->status, status, sizeof(set->status));
	if (cache_image != NULL)
		set->image_set = state_image_find_set(cache_image, kind, purpose, status);
	set->next = subject_sets;
	subject_sets = set;
	return set;
}

/* Opens privacy._ledger_state; the lock is kept to the end of the transaction. */
static Relation
open_ledger_state(void)
{
	Oid			nsp = get_namespace_oid(PRIVACY_SCHEMA, false);
	Oid			relid = get_relname_relid("_ledger_state", nsp);

	if (!OidIsValid(relid))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("relation \"%s._ledger_state\" does not exist", PRIVACY_SCHEMA),
				 errhint("Update the extension with ALTER EXTENSION opendims_privacy UPDATE.")));
	return table_open(relid, AccessShareLock);
}

/*
 * The snapshot to read the state with: the latest, like a catalog cache,
 * except in parallel mode, where only the statement's snapshot may be used
 * (and what is read with it is dropped at the end of the transaction).
 */
static Snapshot
state_snapshot(void)
{
	if (IsInParallelMode())
	{
		sets_snapshot_bound = true;
		return RegisterSnapshot(ActiveSnapshotSet() ? GetActiveSnapshot() : GetTransactionSnapshot());
	}
	return RegisterSnapshot(GetLatestSnapshot());
}

static bool
text_equals(const text *t, const char *s)
{
	return VARSIZE_ANY_EXHDR(t) == strlen(s) && memcmp(VARDATA_ANY(t), s, VARSIZE_ANY_EXHDR(t)) == 0;
}

/*
 * Reads every row of the state, in one sequential scan, into an image that
 * becomes the cache, and offers it to the other sessions when it was read
 * with the latest snapshot by a transaction that has changed nothing (so
 * that it holds only committed changes, all of them counted), where
 * changes are counted at all: not on a hot standby, whose image could not
 * be brought up to date after a promotion.
 */
static void
load_all_sets(void)
{
	Relation	rel = open_ledger_state();
	TupleDesc	desc = RelationGetDescr(rel);
	uint64		changes = consent_shared_changes();
	bool		shareable = consent_shared_available() && !IsInParallelMode() &&
		!TransactionIdIsValid(GetTopTransactionIdIfAny());
	Snapshot	snapshot = state_snapshot();
	TableScanDesc scan = table_beginscan(rel, snapshot, 0, NULL);
	StateImageBuilder *builder = state_image_builder_create();
	StateImage *image;
	HeapTuple	tuple;

	while ((tuple = heap_getnext(scan, ForwardScanDirection)) != NULL)
	{
		bool		isnull;
		text	   *kind = DatumGetTextPP(heap_getattr(tuple, 1, desc, &isnull));
		text	   *purpose = DatumGetTextPP(heap_getattr(tuple, 2, desc, &isnull));
		text	   *subject = DatumGetTextPP(heap_getattr(tuple, 3, desc, &isnull));
		text	   *status = DatumGetTextPP(heap_getattr(tuple, 4, desc, &isnull));

		state_image_builder_add(builder,
								VARDATA_ANY(kind), VARSIZE_ANY_EXHDR(kind),
								VARDATA_ANY(purpose), VARSIZE_ANY_EXHDR(purpose),
								VARDATA_ANY(status), VARSIZE_ANY_EXHDR(status),
								VARDATA_ANY(subject), VARSIZE_ANY_EXHDR(subject));
	}
	table_endscan(scan);
	UnregisterSnapshot(snapshot);
	image = state_image_builder_finish(builder, CacheMemoryContext);
	if (shareable)
		consent_shared_publish(image, RelationGetRelid(rel), changes);
	keep_own_image(image, shareable ? changes : 0, RelationGetRelid(rel));
	table_close(rel, NoLock);
	cache_source = "read";
	probes_done = 0;
}

/*
 * One subject's rows of the state, as they are in snapshot, into *out
 * (allocated in the current memory context).
 */
static void
read_subject_rows(Relation rel, Snapshot snapshot, const ConsentChangedSubject *changed,
				  StateImageSubject *out)
{
	TupleDesc	desc = RelationGetDescr(rel);
	ScanKeyData keys[2];
	SysScanDesc scan;
	HeapTuple	tuple;
	int			capacity = 4;

	out->kind = changed->kind;
	out->subject = changed->subject;
	out->n_rows = 0;
	out->purposes = palloc(sizeof(char *) * capacity);
	out->statuses = palloc(sizeof(char *) * capacity);
	/* in the order of the key's columns: subject, kind */
	ScanKeyEntryInitialize(&keys[0], 0, 3, BTEqualStrategyNumber, InvalidOid,
						   DEFAULT_COLLATION_OID, F_TEXTEQ, CStringGetTextDatum(changed->subject));
	ScanKeyEntryInitialize(&keys[1], 0, 1, BTEqualStrategyNumber, InvalidOid,
						   DEFAULT_COLLATION_OID, F_TEXTEQ, CStringGetTextDatum(changed->kind));
	scan = systable_beginscan(rel, RelationGetPrimaryKeyIndex(rel), true, snapshot, 2, keys);
	while ((tuple = systable_getnext(scan)) != NULL)
	{
		bool		purpose_null;
		bool		status_null;
		Datum		purpose = heap_getattr(tuple, 2, desc, &purpose_null);
		Datum		status = heap_getattr(tuple, 4, desc, &status_null);

		if (purpose_null || status_null)
			continue;
		if (out->n_rows == capacity)
		{
			capacity *= 2;
			out->purposes = repalloc(out->purposes, sizeof(char *) * capacity);
			out->statuses = repalloc(out->statuses, sizeof(char *) * capacity);
		}
		out->purposes[out->n_rows] = TextDatumGetCString(purpose);
		out->statuses[out->n_rows] = TextDatumGetCString(status);
		out->n_rows++;
	}
	systable_endscan(scan);
}

/*
 * Brings this session's own image up to date with the changes counted
 * since it was read, when their subjects are all known and there are at
 * most MAX_UPDATED_SUBJECTS of them (any number if many): those subjects'
 * rows are read again with a snapshot taken after the count, and the image
 * patched or rebuilt, then shared. The result reflects every change
 * counted, like an image read whole. In parallel mode they are read with
 * the statement's snapshot, and the result (a parallel worker's own image,
 * or a copy of the leader's) serves that statement only: it reflects every
 * change whose invalidation the leader had taken in when the statement
 * started, all of them counted by then and visible to its snapshot. False,
 * changing nothing, when it cannot be done.
 */
static bool
update_own_image(Oid ledger_relid, bool many)
{
	ConsentChangedSubject *changed;
	int			n;
	ConsentChangedSubject *erasures;	/* not part of the image */
	int			n_erasures;
	bool		any_erasure;
	uint64		upto;
	MemoryContext work;
	MemoryContext old;
	Relation	rel;
	Snapshot	snapshot;
	StateImageSubject *subjects;
	StateImage *target;
	int			i;

	/*
	 * In parallel mode only the statement's snapshot may be used, and what
	 * is read with it serves that statement only: a parallel worker brings
	 * its own image up to date with it, the leader a copy of its own (which
	 * stays a base to bring up to date later).
	 */
	bool		bound = IsInParallelMode();
	bool		leader_bound = bound && !IsParallelWorker();

	if (own_image == NULL || own_image_changes == 0 || own_image_relid != ledger_relid)
		return false;
	work = AllocSetContextCreate(CurrentMemoryContext, "privacy consent state update",
								 ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(work);
	if (!consent_shared_changed_since(own_image_changes, &upto, &changed, &n, &erasures, &n_erasures,
									  &any_erasure) ||
		(n > MAX_UPDATED_SUBJECTS && !many))
	{
		MemoryContextSwitchTo(old);
		MemoryContextDelete(work);
		return false;
	}
	target = own_image;
	if (leader_bound)
	{
		target = MemoryContextAllocHuge(CacheMemoryContext, own_image->size);
		memcpy(target, own_image, own_image->size);
	}
	if (n > 0)
	{
		rel = open_ledger_state();
		snapshot = bound ? state_snapshot() : RegisterSnapshot(GetLatestSnapshot());
		subjects = palloc(sizeof(StateImageSubject) * n);
		for (i = 0; i < n; i++)
			read_subject_rows(rel, snapshot, &changed[i], &subjects[i]);
		UnregisterSnapshot(snapshot);
		table_close(rel, NoLock);
		if (!state_image_patch(target, subjects, n))
		{
			StateImage *rebuilt = state_image_rebuild(target, subjects, n, CacheMemoryContext);

			pfree(target);
			target = rebuilt;
		}
	}
	MemoryContextSwitchTo(old);
	MemoryContextDelete(work);
	if (leader_bound)
	{
		statement_image = target;
		install_image(target);
		return true;
	}
	own_image = target;
	own_image_changes = bound ? 0 : upto;
	if (!bound)
		consent_shared_publish(own_image, ledger_relid, upto);
	install_image(own_image);
	return true;
}

/*
 * Looks one subject up in the state with an index probe on its primary key
 * and records the answer; past the budget, reads the whole state instead.
 */
static bool
probe_subject(SubjectSet *set, const char *subject, size_t len)
{
	Relation	rel;
	Snapshot	snapshot;
	SysScanDesc scan;
	ScanKeyData keys[3];
	HeapTuple	tuple;
	bool		present = false;

	rel = open_ledger_state();
	if (probe_budget == 0)
		probe_budget = Max(64, (uint64) RelationGetNumberOfBlocks(rel));
	if (probes_done >= probe_budget)
	{
		table_close(rel, NoLock);
		load_all_sets();
		return false;
	}
	probes_done++;
	cache_source = "probed";

	snapshot = state_snapshot();
	/* in the order of the key's columns: subject, kind, purpose */
	ScanKeyEntryInitialize(&keys[0], 0, 3, BTEqualStrategyNumber, InvalidOid,
						   DEFAULT_COLLATION_OID, F_TEXTEQ,
						   PointerGetDatum(cstring_to_text_with_len(subject, len)));
	ScanKeyEntryInitialize(&keys[1], 0, 1, BTEqualStrategyNumber, InvalidOid,
						   DEFAULT_COLLATION_OID, F_TEXTEQ, CStringGetTextDatum(set->kind));
	ScanKeyEntryInitialize(&keys[2], 0, 2, BTEqualStrategyNumber, InvalidOid,
						   DEFAULT_COLLATION_OID, F_TEXTEQ, CStringGetTextDatum(set->purpose));
	scan = systable_beginscan(rel, RelationGetPrimaryKeyIndex(rel), true, snapshot, 3, keys);
	if ((tuple = systable_getnext(scan)) != NULL)
	{
		bool		isnull;
		Datum		st = heap_getattr(tuple, 4, RelationGetDescr(rel), &isnull);

		present = !isnull && text_equals(DatumGetTextPP(st), set->status);
	}
	systable_endscan(scan);
	UnregisterSnapshot(snapshot);
	table_close(rel, NoLock);
	set_record(set, subject, len, present);
	return true;
}

static bool set_has_int(SubjectSet *set, int64 key);

/*
 * Whether the subject with this integer key is in the set, while the whole
 * state is not in memory: from the subjects looked up so far, or probed.
 */
static pg_noinline bool
probed_set_has_int(SubjectSet *set, int64 key)
{
	IntEntry   *e;
	char		buf[MAXINT8LEN + 1];
	int			len;

	e = set->ints ? subj_int_lookup(set->ints, key) : NULL;
	if (e != NULL)
		return e->present;
	len = pg_lltoa(key, buf);
	if (!probe_subject(set, buf, len))
		return set_has_int(set, key);
	return subj_int_lookup(set->ints, key)->present;
}

/* Whether the subject with this integer key is in the set: a bit test, once the state is read. */
static inline bool
set_has_int(SubjectSet *set, int64 key)
{
	if (likely(cache_image != NULL))
		return set->image_set != NULL && state_image_set_has_int(cache_image, set->image_set, key);
	return probed_set_has_int(set, key);
}

/* Whether the subject with this text key is in the set. */
static bool
set_has_text(SubjectSet *set, const char *key, size_t len)
{
	int64		ikey;
	char	   *copy;
	TextEntry  *e;
	bool		present;

	if (consent_subject_int_key(key, len, &ikey))
		return set_has_int(set, ikey);
	if (cache_image != NULL)
		return set->image_set != NULL && state_image_set_has_text(cache_image, set->image_set, key, len);
	copy = pnstrdup(key, len);
	e = set->texts ? subj_text_lookup(set->texts, copy) : NULL;
	if (e != NULL)
		present = e->present;
	else if (!probe_subject(set, copy, len))
		present = set_has_text(set, key, len);
	else
		present = subj_text_lookup(set->texts, copy)->present;
	pfree(copy);
	return present;
}

/*
 * The index of privacy.erasures on (kind, subject_ref), or InvalidOid if
 * there is none (the lookup then scans the table).
 */
static Oid
erasures_index(Relation rel, AttrNumber kind_att, AttrNumber ref_att)
{
	List	   *indexes = RelationGetIndexList(rel);
	ListCell   *lc;
	Oid			result = InvalidOid;

	foreach(lc, indexes)
	{
		HeapTuple	tuple = SearchSysCache1(INDEXRELID, ObjectIdGetDatum(lfirst_oid(lc)));
		Form_pg_index index;

		if (!HeapTupleIsValid(tuple))
			continue;
		index = (Form_pg_index) GETSTRUCT(tuple);
		if (index->indnkeyatts >= 2 && index->indkey.values[0] == kind_att &&
			index->indkey.values[1] == ref_att &&
			heap_attisnull(tuple, Anum_pg_index_indexprs, NULL) &&
			heap_attisnull(tuple, Anum_pg_index_indpred, NULL))
			result = index->indexrelid;
		ReleaseSysCache(tuple);
		if (OidIsValid(result))
			break;
	}
	list_free(indexes);
	return result;
}

/*
 * Whether privacy.erasures has a receipt for the subject: one index probe
 * for its reference (the keyed hash erasure records it by). With subject
 * NULL: whether it has one for any subject of the kind.
 */
static bool
probe_erasures(const char *kind, const char *subject, size_t len)
{
	Oid			nsp = get_namespace_oid(PRIVACY_SCHEMA, false);
	Oid			relid = get_relname_relid("erasures", nsp);
	char		hex[PRIVACY_SUBJECT_REF_HEX_LEN + 1];
	AttrNumber	kind_att;
	AttrNumber	ref_att;
	Relation	rel;
	Snapshot	snapshot;
	SysScanDesc scan;
	ScanKeyData keys[2];
	bool		found;

	if (!OidIsValid(relid))
		return false;
	if (subject != NULL)
		privacy_subject_ref_hex(kind, subject, len, hex);
	/* A statement the Citus coordinator forwarded: the coordinator's erasures. */
	if (privacy_node_state_active())
		return privacy_node_erased(kind, subject != NULL ? hex : NULL);

	kind_att = get_attnum(relid, "kind");
	ref_att = get_attnum(relid, "subject_ref");
	if (kind_att == InvalidAttrNumber || ref_att == InvalidAttrNumber)
		elog(ERROR, "table \"%s.erasures\" lacks its kind or subject_ref column", PRIVACY_SCHEMA);
	rel = table_open(relid, AccessShareLock);
	snapshot = state_snapshot();
	ScanKeyEntryInitialize(&keys[0], 0, kind_att, BTEqualStrategyNumber, InvalidOid,
						   DEFAULT_COLLATION_OID, F_TEXTEQ, CStringGetTextDatum(kind));
	if (subject != NULL)
		ScanKeyEntryInitialize(&keys[1], 0, ref_att, BTEqualStrategyNumber, InvalidOid,
							   DEFAULT_COLLATION_OID, F_TEXTEQ, CStringGetTextDatum(hex));
	{
		Oid			index = erasures_index(rel, kind_att, ref_att);

		scan = systable_beginscan(rel, index, OidIsValid(index), snapshot,
								  subject != NULL ? 2 : 1, keys);
	}
	found = HeapTupleIsValid(systable_getnext(scan));
	systable_endscan(scan);
	UnregisterSnapshot(snapshot);
	table_close(rel, NoLock);
	return found;
}

/*
 * Whether the subject (key as text) of the kind was erased; each subject is
 * looked up once per cache generation, none at all while no subject of the
 * kind was erased.
 */
static bool
subject_erased(const char *kind, const char *subject, size_t len)
{
	SubjectSet *set;
	int64		ikey;
	bool		present;

	for (set = erased_sets; set != NULL; set = set->next)
		if (strcmp(set->kind, kind) == 0)
			break;
	if (set == NULL)
	{
		set = MemoryContextAllocZero(cache_context, sizeof(SubjectSet));
		strlcpy(set->kind, kind, NAMEDATALEN);
		strlcpy(set->status, "erased", sizeof(set->status));
		set->none = !probe_erasures(kind, NULL, 0);
		set->next = erased_sets;
		erased_sets = set;
	}
	if (set->none)
		return false;
	if (consent_subject_int_key(subject, len, &ikey))
	{
		IntEntry   *e = set->ints ? subj_int_lookup(set->ints, ikey) : NULL;

		if (e != NULL)
			return e->present;
	}
	else if (set->texts != NULL)
	{
		char	   *copy = pnstrdup(subject, len);
		TextEntry  *e = subj_text_lookup(set->texts, copy);

		pfree(copy);
		if (e != NULL)
			return e->present;
	}
	present = probe_erasures(kind, subject, len);
	set_record(set, subject, len, present);
	return present;
}

/*
 * Copies a set of the image into a site's bitmap, if it is a bitmap or
 * absent (empty); false if its integer keys are a sorted array.
 */
static bool
site_bitmap(SiteBitmap *out, const SubjectSet *set)
{
	const StateImageSet *image_set = set != NULL ? set->image_set : NULL;

	memset(out, 0, sizeof(SiteBitmap));
	if (image_set == NULL)
		return true;
	if (image_set->bitmap_bits == 0)
		return image_set->n_ints == 0;
	out->words = (const uint64 *) ((const char *) cache_image + image_set->bitmap_offset);
	out->base = image_set->bitmap_base;
	out->bits = image_set->bitmap_bits;
	return true;
}

/* Whether a key is in a site's bitmap. */
static pg_attribute_always_inline bool
site_bitmap_has(const SiteBitmap *bitmap, int64 key)
{
	uint64		bit = (uint64) key - (uint64) bitmap->base;

	return bit < bitmap->bits && (bitmap->words[bit / 64] & (UINT64CONST(1) << (bit % 64))) != 0;
}

/* (Re)resolves a call site for the current purpose, role and cache. */
static void
resolve_site(CheckSite *site, FunctionCallInfo fcinfo, text *kind, bool first_call)
{
	size_t		kind_len = VARSIZE_ANY_EXHDR(kind);

	if (kind_len >= NAMEDATALEN)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("subject kind name is too long"),
				 errdetail("Subject kind names are at most %d bytes long.", NAMEDATALEN - 1)));
	memcpy(site->kind, VARDATA_ANY(kind), kind_len);
	site->kind[kind_len] = '\0';
	site->kind_arg = get_fn_expr_arg_stable(fcinfo->flinfo, 0) ? PG_GETARG_DATUM(0) : (Datum) 0;
	sites_resolved = true;

	if (first_call)
		AcceptInvalidationMessages();

	for (;;)
	{
		uint64		generation = cache_generation;

		refresh_watched(generation);
		ensure_cache_current();
		privacy_purpose_stamp(&site->stamp);
		if (memo_generation != generation || !privacy_purpose_stamp_equal(&memo_stamp, &site->stamp))
		{
			memo_generation = 0;
			privacy_resolve_purpose(&memo_purpose);
			memo_stamp = site->stamp;
			memo_generation = generation;
		}
		site->purpose = memo_purpose;
		site->needed = NULL;
		site->restricted = NULL;
		if (!site->purpose.none)
		{
			if (site->purpose.basis == PURPOSE_BASIS_CONSENT)
				site->needed = get_set(site->kind, site->purpose.name, "granted");
			else if (site->purpose.basis == PURPOSE_BASIS_LEGITIMATE_INTEREST)
				site->needed = get_set(site->kind, site->purpose.name, "objected");
			if (!site->purpose.allowed_under_restriction)
				site->restricted = get_set(site->kind, "", "restricted");
		}
		site->bitmaps = cache_image != NULL &&
			site_bitmap(&site->needed_bitmap, site->needed) &&
			site_bitmap(&site->restricted_bitmap, site->restricted);
		/* An invalidation processed while reading means: read again. */
		if (generation == cache_generation)
		{
			site->cache_generation = generation;
			return;
		}
	}
}

/*
 * The call site of this call, resolved and current, when it is not known
 * to be current already: resolved on the first call of the site, again
 * after a change of the cache, the purpose, the role or the kind.
 */
static pg_noinline CheckSite *
refresh_site(FunctionCallInfo fcinfo)
{
	CheckSite  *site = (CheckSite *) fcinfo->flinfo->fn_extra;
	text	   *kind;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("subject kind must not be null")));
	kind = PG_GETARG_TEXT_PP(0);
	if (site == NULL)
	{
		site = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(CheckSite));
		fcinfo->flinfo->fn_extra = site;
		resolve_site(site, fcinfo, kind, true);
		return site;
	}
	if (site->cache_generation != cache_generation ||
		!privacy_purpose_stamp_current(&site->stamp) ||
		VARSIZE_ANY_EXHDR(kind) != strlen(site->kind) ||
		memcmp(VARDATA_ANY(kind), site->kind, VARSIZE_ANY_EXHDR(kind)) != 0)
		resolve_site(site, fcinfo, kind, false);
	return site;
}

/*
 * The call site of this call, resolved and current. Per row, while nothing
 * changed, that is a few comparisons: the same cache generation, purpose
 * settings and roles, and the same kind (the same datum, where the kind is
 * a constant of the expression, as in every policy protect() installs).
 */
static pg_attribute_always_inline CheckSite *
current_site(FunctionCallInfo fcinfo)
{
	CheckSite  *site = (CheckSite *) fcinfo->flinfo->fn_extra;

	if (likely(site != NULL && site->kind_arg == PG_GETARG_DATUM(0) && site->kind_arg != (Datum) 0 &&
			   site->cache_generation == cache_generation &&
			   privacy_purpose_stamp_current(&site->stamp)))
		return site;
	return refresh_site(fcinfo);
}

/* The decision once the subject is known to be in or out of each set. */
static inline CheckResult
decide(const CheckSite *site, bool in_needed, bool in_restricted)
{
	if (in_restricted)
		return CHECK_RESTRICTED;
	if (site->purpose.basis == PURPOSE_BASIS_CONSENT && !in_needed)
		return CHECK_NO_CONSENT;
	if (site->purpose.basis == PURPOSE_BASIS_LEGITIMATE_INTEREST && in_needed)
		return CHECK_OBJECTED;
	return CHECK_OK;
}

/* Whether the row belongs to a subject of the kind (the optional third argument). */
static inline bool
row_is_owned(FunctionCallInfo fcinfo)
{
	return PG_NARGS() < 3 || PG_ARGISNULL(2) || PG_GETARG_BOOL(2);
}

static pg_attribute_always_inline CheckResult
check_int8(FunctionCallInfo fcinfo, CheckSite **site_out)
{
	CheckSite  *site = current_site(fcinfo);
	int64		key;

	*site_out = site;
	if (site->purpose.none)
		return CHECK_NO_PURPOSE;
	if (!row_is_owned(fcinfo))
		return CHECK_OK;
	if (PG_ARGISNULL(1))
		return CHECK_NO_SUBJECT;
	key = PG_GETARG_INT64(1);
	if (likely(site->bitmaps))
		return decide(site, site_bitmap_has(&site->needed_bitmap, key),
					  site_bitmap_has(&site->restricted_bitmap, key));
	return decide(site,
				  site->needed != NULL && set_has_int(site->needed, key),
				  site->restricted != NULL && set_has_int(site->restricted, key));
}

static pg_attribute_always_inline CheckResult
check_text(FunctionCallInfo fcinfo, CheckSite **site_out)
{
	CheckSite  *site = current_site(fcinfo);
	text	   *key;

	*site_out = site;
	if (site->purpose.none)
		return CHECK_NO_PURPOSE;
	if (!row_is_owned(fcinfo))
		return CHECK_OK;
	if (PG_ARGISNULL(1))
		return CHECK_NO_SUBJECT;
	key = PG_GETARG_TEXT_PP(1);
	return decide(site,
				  site->needed != NULL &&
				  set_has_text(site->needed, VARDATA_ANY(key), VARSIZE_ANY_EXHDR(key)),
				  site->restricted != NULL &&
				  set_has_text(site->restricted, VARDATA_ANY(key), VARSIZE_ANY_EXHDR(key)));
}

/*
 * Refuses a row that may not be written. Without a purpose, says so; for
 * any other reason gives one error, naming the purpose but not the reason:
 * whether the subject withdrew, objected, asked for restriction, was
 * erased or is not visible is not the writer's to learn.
 */
static void
report_refusal(CheckResult result, const CheckSite *site)
{
	if (result == CHECK_OK)
		return;
	if (result == CHECK_NO_PURPOSE)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("cannot write personal data of a subject of kind \"%s\" without a declared purpose",
						site->kind),
				 errdetail("The table is protected by purpose-aware row policies."),
				 errhint("Declare the purpose of the processing with SET privacy.purpose.")));
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("new row belongs to a data subject this purpose may not process"),
			 errdetail("The table is protected by purpose-aware row policies for subjects of kind \"%s\".",
					   site->kind),
			 errhint("Rows are written only for subjects the purpose may process, never for an erased subject; purpose \"%s\" may not write this one.",
					 site->purpose.name)));
}

/*
 * A row the purpose may process may still not be written if its subject
 * was erased: writing it would attach new personal data to the person.
 */
static CheckResult
check_erased_int8(FunctionCallInfo fcinfo, const CheckSite *site, CheckResult result)
{
	char		buf[MAXINT8LEN + 1];
	int			len;

	if (result != CHECK_OK || !row_is_owned(fcinfo) || PG_ARGISNULL(1))
		return result;
	len = pg_lltoa(PG_GETARG_INT64(1), buf);
	return subject_erased(site->kind, buf, len) ? CHECK_ERASED : CHECK_OK;
}

static CheckResult
check_erased_text(FunctionCallInfo fcinfo, const CheckSite *site, CheckResult result)
{
	text	   *key;

	if (result != CHECK_OK || !row_is_owned(fcinfo) || PG_ARGISNULL(1))
		return result;
	key = PG_GETARG_TEXT_PP(1);
	return subject_erased(site->kind, VARDATA_ANY(key), VARSIZE_ANY_EXHDR(key)) ? CHECK_ERASED : CHECK_OK;
}

bool
consent_row_may_process(FunctionCallInfo fcinfo, bool text_key)
{
	CheckSite  *site = NULL;

	if (text_key)
		return check_text(fcinfo, &site) == CHECK_OK;
	return check_int8(fcinfo, &site) == CHECK_OK;
}

/* privacy_internal._may_process(kind text, subject bigint, owned boolean) → boolean */
Datum
privacy_may_process_int8(PG_FUNCTION_ARGS)
{
	CheckSite  *site = NULL;

	PG_RETURN_BOOL(check_int8(fcinfo, &site) == CHECK_OK);
}

/* privacy_internal._may_process(kind text, subject text, owned boolean) → boolean */
Datum
privacy_may_process_text(PG_FUNCTION_ARGS)
{
	CheckSite  *site = NULL;

	PG_RETURN_BOOL(check_text(fcinfo, &site) == CHECK_OK);
}

/* privacy_internal._may_write(kind text, subject bigint, owned boolean) → true, or an error */
Datum
privacy_may_write_int8(PG_FUNCTION_ARGS)
{
	CheckSite  *site = NULL;
	CheckResult result = check_int8(fcinfo, &site);

	report_refusal(check_erased_int8(fcinfo, site, result), site);
	PG_RETURN_BOOL(true);
}

/* privacy_internal._may_write(kind text, subject text, owned boolean) → true, or an error */
Datum
privacy_may_write_text(PG_FUNCTION_ARGS)
{
	CheckSite  *site = NULL;
	CheckResult result = check_text(fcinfo, &site);

	report_refusal(check_erased_text(fcinfo, site, result), site);
	PG_RETURN_BOOL(true);
}

/*
 * Statement trigger on the tables the check depends on: queues a relcache
 * invalidation, which every backend (this one at its next command, the
 * others once the change commits) turns into a new cache generation.
 *
 * A change of the consent state or of the erasures invalidates the view
 * privacy.consent_state rather than privacy._ledger_state or
 * privacy.erasures: no kept plan reads the view on the hot path, while the
 * table's own invalidation would make every session replan each statement
 * on it after every change anywhere: on the state, the ledger's state
 * trigger and the consent functions; on the erasures, every erasure's
 * receipt.
 */
Datum
privacy_invalidate_consent_cache(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("privacy_internal._invalidate_consent_cache() must be called as a trigger")));
	consent_cache_table_written(trigdata->tg_relation);
	return PointerGetDatum(NULL);
}

void
consent_cache_table_written(Relation rel)
{
	bool		is_state;
	bool		is_erasures;
	Oid			view = InvalidOid;

	is_state = strcmp(RelationGetRelationName(rel), "_ledger_state") == 0;
	is_erasures = strcmp(RelationGetRelationName(rel), "erasures") == 0;
	if (is_state || is_erasures)
		view = get_relname_relid("consent_state", RelationGetNamespace(rel));
	if (OidIsValid(view))
		CacheInvalidateRelcacheByRelid(view);
	else
		CacheInvalidateRelcache(rel);
	if (is_state && OidIsValid(view))
		consent_changes_state_written();
	if (is_erasures)
		consent_changes_erasures_written();
	state_changed_in_xact = true;
	if (!OidIsValid(citus_state_view) && privacy_citus_installed())
		citus_state_view = OidIsValid(view) ? view :
			get_relname_relid("consent_state", RelationGetNamespace(rel));
}

/*
 * privacy.consent_cache_status() → (shared_memory, cache, image_bytes): how
 * this session's row-check cache was filled by the last statement that
 * checked rows: "empty", "probed" (subjects looked up one by one), "read"
 * (the whole state read by this session), "shared" (copied from the image
 * another session shared) or "updated" (this session's image brought up to
 * date with the subjects changed since); image_bytes is the size of the whole state in
 * memory, if held.
 */
Datum
privacy_consent_cache_status(PG_FUNCTION_ARGS)
{
	TupleDesc	desc;
	Datum		values[3];
	bool		nulls[3] = {false, false, false};

	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	values[0] = BoolGetDatum(consent_shared_available());
	values[1] = CStringGetTextDatum(cache_context_generation == cache_generation ? cache_source : "empty");
	if (cache_image != NULL && cache_context_generation == cache_generation)
		values[2] = Int64GetDatum((int64) cache_image->size);
	else
		nulls[2] = true;
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(desc), values, nulls)));
}
