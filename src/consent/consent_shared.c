/*
 * consent_shared.c
 *		Shares the consent state image between the sessions of a server.
 *
 * Shared memory (reserved when the library is preloaded) holds a counter
 * of committed changes to the consent state and, per database, the last
 * image published, in a dynamic shared memory area, with the value the
 * counter had before its snapshot was taken. An image whose value equals
 * the counter reflects every committed change, so a session may copy it
 * instead of reading privacy._ledger_state; any other image is ignored,
 * and the session that reads the state again publishes the new image.
 *
 * The counter is raised by each transaction that changed the state, after
 * its commit is visible and before its cache invalidations are sent, so a
 * session that has processed the invalidation of a change also sees it
 * counted. Transactions that changed the state cannot be prepared for
 * two-phase commit (their later commit would not be counted), and a hot
 * standby, where changes arrive by WAL replay, shares nothing.
 */
#include "postgres.h"

#include "access/xlog.h"
#include "miscadmin.h"
#include "port/atomics.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/dsa.h"
#include "utils/memutils.h"

#include "consent/consent_shared.h"

#define TRANCHE_NAME "opendims_privacy"

/* Databases whose images are kept at once; the least recent is replaced. */
#define SHARED_SLOTS 8

/* Images larger than this are not shared (each session reads the state). */
#define MAX_SHARED_IMAGE ((Size) 256 * 1024 * 1024)

typedef struct SharedSlot
{
	Oid			database;
	Oid			ledger_relid;	/* the privacy._ledger_state it was read from */
	uint64		changes;		/* the counter before its snapshot */
	uint64		published;		/* publication clock, for replacement */
	dsa_pointer image;
} SharedSlot;

typedef struct ConsentShared
{
	LWLock	   *lock;			/* protects everything below but the counter */
	pg_atomic_uint64 changes;
	dsa_handle area_handle;
	uint64		publications;
	SharedSlot	slots[SHARED_SLOTS];
} ConsentShared;

static ConsentShared *shared = NULL;
static dsa_area *area = NULL;
static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

static void
consent_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(MAXALIGN(sizeof(ConsentShared)));
	RequestNamedLWLockTranche(TRANCHE_NAME, 1);
}

static void
consent_shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	shared = ShmemInitStruct("opendims_privacy consent state", sizeof(ConsentShared), &found);
	if (!found)
	{
		int			i;

		shared->lock = &(GetNamedLWLockTranche(TRANCHE_NAME))->lock;
		pg_atomic_init_u64(&shared->changes, 1);
		shared->area_handle = DSM_HANDLE_INVALID;
		shared->publications = 0;
		for (i = 0; i < SHARED_SLOTS; i++)
		{
			shared->slots[i].database = InvalidOid;
			shared->slots[i].image = InvalidDsaPointer;
		}
	}
	LWLockRelease(AddinShmemInitLock);
}

void
ConsentSharedInit(void)
{
	if (!process_shared_preload_libraries_in_progress)
		return;
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = consent_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = consent_shmem_startup;
}

bool
consent_shared_available(void)
{
	return shared != NULL && !RecoveryInProgress();
}

uint64
consent_shared_changes(void)
{
	uint64		changes = shared ? pg_atomic_read_u64(&shared->changes) : 0;

	pg_memory_barrier();
	return changes;
}

void
consent_shared_count_change(void)
{
	if (shared != NULL)
		pg_atomic_fetch_add_u64(&shared->changes, 1);
}

/*
 * Maps the area into this process (creating it if create), for the rest of
 * the session; the caller holds the lock, exclusively to create.
 */
static bool
attach_area(bool create)
{
	MemoryContext old;

	if (area != NULL)
		return true;
	if (shared->area_handle == DSM_HANDLE_INVALID && !create)
		return false;
	old = MemoryContextSwitchTo(TopMemoryContext);
	if (shared->area_handle == DSM_HANDLE_INVALID)
	{
		area = dsa_create(shared->lock->tranche);
		dsa_pin(area);
		shared->area_handle = dsa_get_handle(area);
	}
	else
		area = dsa_attach(shared->area_handle);
	dsa_pin_mapping(area);
	MemoryContextSwitchTo(old);
	return true;
}

static SharedSlot *
slot_of_database(void)
{
	int			i;

	for (i = 0; i < SHARED_SLOTS; i++)
		if (shared->slots[i].database == MyDatabaseId)
			return &shared->slots[i];
	return NULL;
}

StateImage *
consent_shared_fetch(Oid ledger_relid, MemoryContext context)
{
	StateImage *copy = NULL;
	SharedSlot *slot;

	if (!consent_shared_available())
		return NULL;
	LWLockAcquire(shared->lock, LW_SHARED);
	slot = slot_of_database();
	if (slot != NULL && DsaPointerIsValid(slot->image) && slot->ledger_relid == ledger_relid &&
		slot->changes == consent_shared_changes() && attach_area(false))
	{
		const StateImage *image = dsa_get_address(area, slot->image);

		copy = MemoryContextAllocHuge(context, image->size);
		memcpy(copy, image, image->size);
	}
	LWLockRelease(shared->lock);
	return copy;
}

void
consent_shared_publish(const StateImage *image, Oid ledger_relid, uint64 changes)
{
	SharedSlot *slot;
	dsa_pointer stored;
	int			i;

	if (!consent_shared_available() || image->size > MAX_SHARED_IMAGE ||
		changes != consent_shared_changes())
		return;
	LWLockAcquire(shared->lock, LW_EXCLUSIVE);
	slot = slot_of_database();
	if (slot != NULL && DsaPointerIsValid(slot->image) && slot->ledger_relid == ledger_relid &&
		slot->changes >= changes)
	{
		/* Another session was first. */
		LWLockRelease(shared->lock);
		return;
	}
	if (slot == NULL)
	{
		slot = &shared->slots[0];
		for (i = 1; i < SHARED_SLOTS; i++)
			if (shared->slots[i].published < slot->published)
				slot = &shared->slots[i];
	}
	attach_area(true);
	stored = dsa_allocate_extended(area, image->size, DSA_ALLOC_HUGE | DSA_ALLOC_NO_OOM);
	if (DsaPointerIsValid(stored))
	{
		memcpy(dsa_get_address(area, stored), image, image->size);
		if (DsaPointerIsValid(slot->image))
			dsa_free(area, slot->image);
		slot->database = MyDatabaseId;
		slot->ledger_relid = ledger_relid;
		slot->changes = changes;
		slot->published = ++shared->publications;
		slot->image = stored;
	}
	LWLockRelease(shared->lock);
}
