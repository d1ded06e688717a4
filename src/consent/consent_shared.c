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
 * On a Citus worker the sessions share the copy of the coordinator's state
 * the same way (node_state.c), by the coordinator's version: the first
 * session that needs a version reads it from the coordinator (or only the
 * changes since the published one) and publishes it; the others copy it
 * from shared memory. The copy's erasures are a block of their own, which
 * the next version keeps, or into which its added erasures are merged,
 * where it is.
 *
 * The counter is raised by each transaction that changed the state, after
 * its commit is visible and before its cache invalidations are sent, so a
 * session that has processed the invalidation of a change also sees it
 * counted. With the count, the change records in a ring the subjects whose
 * state it touched (or that it may have touched any), under the ring's
 * lock: a session whose own image reflects the changes up to some count
 * learns which subjects to look up again to bring it up to date, as long
 * as the ring still holds every change since. Transactions that changed
 * the state cannot be prepared for two-phase commit (their later commit
 * would not be counted), and a hot standby, where changes arrive by WAL
 * replay, shares nothing.
 */
#include "postgres.h"

#include "access/xlog.h"
#include "miscadmin.h"
#include "port/atomics.h"
#include "pgstat.h"
#include "storage/condition_variable.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/dsa.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "consent/consent_shared.h"

#define TRANCHE_NAME "opendims_privacy"

/* Databases whose images are kept at once; the least recent is replaced. */
#define SHARED_SLOTS 16

/* Images larger than this are not shared (each session reads the state). */
#define MAX_SHARED_IMAGE ((Size) 256 * 1024 * 1024)

/*
 * A slot holds, for one database, either this server's image (with the
 * ledger state table and the counter it was built at) or, on a Citus
 * worker, the copy of the coordinator's state (with the coordinator's
 * version it was read at): a NodeCopy.
 */
typedef struct SharedSlot
{
	Oid			database;
	bool		node_copy;		/* the coordinator's state, not this server's */
	Oid			ledger_relid;	/* the privacy._ledger_state it was read from */
	uint64		changes;		/* the counter before its snapshot */
	char		version[64];	/* a node copy's version */
	uint64		published;		/* publication clock, for replacement */
	dsa_pointer image;
	dsa_pointer erasures;		/* a node copy's ErasureBlock */
} SharedSlot;

/*
 * The subjects whose state recent changes touched, oldest first, in a ring:
 * entry i of all those ever recorded is at i % CHANGE_RING_SIZE. A change
 * that touched subjects not named (too many, or any subject of a statement
 * the extension did not write itself) records one entry with all set.
 */
#define CHANGE_RING_SIZE 4096

typedef struct ChangeRingEntry
{
	uint64		change;			/* the counter's value the change made */
	Oid			database;
	bool		all;			/* any subject of the database may have changed */
	bool		erasures;		/* privacy.erasures changed (no subject) */
	ConsentChangedSubject subject;
} ChangeRingEntry;

/*
 * A copy of the coordinator's state: its other parts as JSON, then the
 * image. Its erasures are a block of their own in the slot, which the copy
 * of the next version keeps when no erasure was added meanwhile: a consent
 * change costs no copy of them, however many there are.
 */
typedef struct NodeCopy
{
	Size		size;			/* of the whole, this header included */
	Size		image_offset;	/* from the start, MAXALIGNed */
	char		rest[FLEXIBLE_ARRAY_MEMBER];	/* NUL-terminated */
} NodeCopy;

/*
 * The erasures of a copy: strings one after the other, each
 * NUL-terminated, sorted, copied apart and only by a session that checks a
 * row to write, which points into its copy instead of parsing them
 * (copying 100,000 erasures as JSON took each worker session about a
 * second).
 */
typedef struct ErasureBlock
{
	Size		size;			/* of the strings */
	int			n;
	char		strings[FLEXIBLE_ARRAY_MEMBER];
} ErasureBlock;

/*
 * A worker session reading the coordinator's state of a version for its
 * database: sessions of that database that need the same version wait for
 * it to publish that version rather than ask the coordinator too (after a
 * change, a query over several shards of a worker opens several sessions
 * there, and each would ask at once).
 */
#define NODE_READS 32

/* How long a session waits for another's read, and when a read is stale. */
#define NODE_READ_WAIT_MS 10000

typedef struct NodeRead
{
	Oid			database;		/* InvalidOid: a free entry */
	int			pid;
	char		version[64];
	TimestampTz started;
} NodeRead;

typedef struct ConsentShared
{
	LWLock	   *lock;			/* protects everything below but the counter
								 * and the ring */
	LWLock	   *ring_lock;		/* the ring; the counter changes under it */
	pg_atomic_uint64 changes;
	uint64		ring_next;		/* entries ever recorded */
	uint64		ring_forgotten; /* changes up to this may have lost entries */
	ChangeRingEntry ring[CHANGE_RING_SIZE];
	dsa_handle area_handle;
	uint64		publications;
	SharedSlot	slots[SHARED_SLOTS];
	NodeRead	reads[NODE_READS];
	ConditionVariable read_ended;	/* a NodeRead was given up */
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
	RequestNamedLWLockTranche(TRANCHE_NAME, 2);
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

		LWLockPadded *locks = GetNamedLWLockTranche(TRANCHE_NAME);

		shared->lock = &locks[0].lock;
		shared->ring_lock = &locks[1].lock;
		pg_atomic_init_u64(&shared->changes, 1);
		shared->ring_next = 0;
		shared->ring_forgotten = 1;
		shared->area_handle = DSM_HANDLE_INVALID;
		shared->publications = 0;
		for (i = 0; i < SHARED_SLOTS; i++)
		{
			shared->slots[i].database = InvalidOid;
			shared->slots[i].node_copy = false;
			shared->slots[i].version[0] = '\0';
			shared->slots[i].published = 0;
			shared->slots[i].image = InvalidDsaPointer;
			shared->slots[i].erasures = InvalidDsaPointer;
		}
		for (i = 0; i < NODE_READS; i++)
			shared->reads[i].database = InvalidOid;
		ConditionVariableInit(&shared->read_ended);
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

/* Appends one entry to the ring; the caller holds the ring's lock exclusively. */
static void
ring_append(uint64 change, bool all, bool erasures, const ConsentChangedSubject *subject)
{
	ChangeRingEntry *entry = &shared->ring[shared->ring_next % CHANGE_RING_SIZE];

	if (shared->ring_next >= CHANGE_RING_SIZE)
		shared->ring_forgotten = Max(shared->ring_forgotten, entry->change);
	entry->change = change;
	entry->database = MyDatabaseId;
	entry->all = all;
	entry->erasures = erasures;
	if (subject != NULL)
		entry->subject = *subject;
	else
		memset(&entry->subject, 0, sizeof(entry->subject));
	shared->ring_next++;
}

void
consent_shared_count_change(const ConsentChangedSubject *subjects, int n, bool all,
							const ConsentChangedSubject *erasures, int n_erasures, bool any_erasure)
{
	uint64		change;
	int			i;

	if (shared == NULL)
		return;
	LWLockAcquire(shared->ring_lock, LW_EXCLUSIVE);
	change = pg_atomic_read_u64(&shared->changes) + 1;
	if (all)
		ring_append(change, true, false, NULL);
	else
	{
		for (i = 0; i < n; i++)
			ring_append(change, false, false, &subjects[i]);
		/* an erasure entry without a kind: any erasure */
		if (any_erasure)
			ring_append(change, false, true, NULL);
		else
			for (i = 0; i < n_erasures; i++)
				ring_append(change, false, true, &erasures[i]);
	}
	pg_atomic_write_u64(&shared->changes, change);
	LWLockRelease(shared->ring_lock);
}

/* Whether a ring entry is of an erasure it names (one without a kind may be of any). */
static inline bool
names_erasure(const ChangeRingEntry *entry)
{
	return entry->erasures && entry->subject.kind[0] != '\0';
}

bool
consent_shared_changed_since(uint64 since, uint64 *upto, ConsentChangedSubject **subjects, int *n,
							 ConsentChangedSubject **erasures, int *n_erasures, bool *any_erasure)
{
	uint64		position;
	uint64		oldest;
	bool		known = true;
	int			count = 0;
	int			count_erasures = 0;

	*n = *n_erasures = 0;
	*subjects = *erasures = NULL;
	*any_erasure = false;
	if (!consent_shared_available())
		return false;
	LWLockAcquire(shared->ring_lock, LW_SHARED);
	*upto = pg_atomic_read_u64(&shared->changes);
	if (since < shared->ring_forgotten || since > *upto)
		known = false;
	/*
	 * Newest first, back to the first change after since. The entries the
	 * ring no longer holds are of changes up to ring_forgotten, none after
	 * since.
	 */
	oldest = shared->ring_next > CHANGE_RING_SIZE ? shared->ring_next - CHANGE_RING_SIZE : 0;
	for (position = shared->ring_next; known && position > oldest; position--)
	{
		const ChangeRingEntry *entry = &shared->ring[(position - 1) % CHANGE_RING_SIZE];

		if (entry->change <= since)
			break;
		if (entry->database != MyDatabaseId)
			continue;
		if (entry->all)
			known = false;
		else if (names_erasure(entry))
			count_erasures++;
		else if (entry->erasures)
			*any_erasure = true;
		else
			count++;
	}
	if (known && count + count_erasures > 0)
	{
		uint64		end = shared->ring_next;

		*subjects = palloc(sizeof(ConsentChangedSubject) * Max(count, 1));
		*erasures = palloc(sizeof(ConsentChangedSubject) * Max(count_erasures, 1));
		for (; position < end; position++)
		{
			const ChangeRingEntry *entry = &shared->ring[position % CHANGE_RING_SIZE];

			if (entry->change <= since || entry->database != MyDatabaseId)
				continue;
			if (!entry->erasures && *n < count)
				(*subjects)[(*n)++] = entry->subject;
			else if (names_erasure(entry) && *n_erasures < count_erasures)
				(*erasures)[(*n_erasures)++] = entry->subject;
		}
	}
	LWLockRelease(shared->ring_lock);
	return known;
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
slot_of_database(bool node_copy)
{
	int			i;

	for (i = 0; i < SHARED_SLOTS; i++)
		if (shared->slots[i].database == MyDatabaseId && shared->slots[i].node_copy == node_copy)
			return &shared->slots[i];
	return NULL;
}

/*
 * Puts stored, an allocation of the area, in slot (this database's of that
 * kind, or the least recently published) with the erasures of a node copy
 * (invalid for an image of this server's state), freeing what it held but
 * erasures; the caller holds the lock exclusively and sets the slot's key.
 */
static void
put_in_slot(SharedSlot **slot, bool node_copy, dsa_pointer stored, dsa_pointer erasures)
{
	int			i;

	if (*slot == NULL)
	{
		*slot = &shared->slots[0];
		for (i = 1; i < SHARED_SLOTS; i++)
			if (shared->slots[i].published < (*slot)->published)
				*slot = &shared->slots[i];
	}
	if (DsaPointerIsValid((*slot)->image))
		dsa_free(area, (*slot)->image);
	if (DsaPointerIsValid((*slot)->erasures) && (*slot)->erasures != erasures)
		dsa_free(area, (*slot)->erasures);
	(*slot)->database = MyDatabaseId;
	(*slot)->node_copy = node_copy;
	(*slot)->published = ++shared->publications;
	(*slot)->image = stored;
	(*slot)->erasures = erasures;
}

/* A new allocation of the area (attached), or InvalidDsaPointer. */
static dsa_pointer
allocate_in_area(Size size)
{
	attach_area(true);
	if (size > MAX_SHARED_IMAGE)
		return InvalidDsaPointer;
	return dsa_allocate_extended(area, size, DSA_ALLOC_HUGE | DSA_ALLOC_NO_OOM);
}

StateImage *
consent_shared_fetch(Oid ledger_relid, MemoryContext context, bool current_only, uint64 *changes)
{
	StateImage *copy = NULL;
	SharedSlot *slot;

	if (!consent_shared_available())
		return NULL;
	LWLockAcquire(shared->lock, LW_SHARED);
	slot = slot_of_database(false);
	if (slot != NULL && DsaPointerIsValid(slot->image) && slot->ledger_relid == ledger_relid &&
		(!current_only || slot->changes == consent_shared_changes()) && attach_area(false))
	{
		const StateImage *image = dsa_get_address(area, slot->image);

		copy = MemoryContextAllocHuge(context, image->size);
		memcpy(copy, image, image->size);
		*changes = slot->changes;
	}
	LWLockRelease(shared->lock);
	return copy;
}

/*
 * Whether this database's slot holds an image of that ledger state table
 * reflecting changes or more (another session was first); the caller holds
 * the lock.
 */
static bool
published_already(Oid ledger_relid, uint64 changes)
{
	SharedSlot *slot = slot_of_database(false);

	return slot != NULL && DsaPointerIsValid(slot->image) && slot->ledger_relid == ledger_relid &&
		slot->changes >= changes;
}

void
consent_shared_publish(const StateImage *image, Oid ledger_relid, uint64 changes)
{
	SharedSlot *slot;
	dsa_pointer stored;
	bool		done;

	if (!consent_shared_available() || image->size > MAX_SHARED_IMAGE ||
		changes != consent_shared_changes())
		return;
	/* Usually another session was first: a shared look before the exclusive one. */
	LWLockAcquire(shared->lock, LW_SHARED);
	done = published_already(ledger_relid, changes);
	LWLockRelease(shared->lock);
	if (done)
		return;
	LWLockAcquire(shared->lock, LW_EXCLUSIVE);
	if (published_already(ledger_relid, changes))
	{
		LWLockRelease(shared->lock);
		return;
	}
	slot = slot_of_database(false);
	stored = allocate_in_area(image->size);
	if (DsaPointerIsValid(stored))
	{
		memcpy(dsa_get_address(area, stored), image, image->size);
		put_in_slot(&slot, false, stored, InvalidDsaPointer);
		slot->ledger_relid = ledger_relid;
		slot->changes = changes;
	}
	LWLockRelease(shared->lock);
}

/*
 * This database's slot holding the copy of the coordinator's state of
 * version (NULL: of whichever version is published), or NULL if another
 * version (or none) is published; the caller holds the lock.
 */
static SharedSlot *
published_node_slot(const char *version)
{
	SharedSlot *slot = slot_of_database(true);

	if (slot != NULL && DsaPointerIsValid(slot->image) && DsaPointerIsValid(slot->erasures) &&
		(version == NULL || strcmp(slot->version, version) == 0) && attach_area(false))
		return slot;
	return NULL;
}

bool
consent_shared_fetch_node_copy(const char *version, MemoryContext context,
							   char **rest, StateImage **image)
{
	SharedSlot *slot;
	NodeCopy   *copy = NULL;

	if (!consent_shared_available())
		return false;
	LWLockAcquire(shared->lock, LW_SHARED);
	slot = published_node_slot(version);
	if (slot != NULL)
	{
		const NodeCopy *stored = dsa_get_address(area, slot->image);
		Size		image_size = stored->size - stored->image_offset;

		copy = MemoryContextAlloc(context, stored->image_offset);
		memcpy(copy, stored, stored->image_offset);
		*image = MemoryContextAllocHuge(context, image_size);
		memcpy(*image, (const char *) stored + stored->image_offset, image_size);
	}
	LWLockRelease(shared->lock);
	if (copy == NULL)
		return false;
	*rest = copy->rest;
	return true;
}

bool
consent_shared_fetch_node_erasures(const char *version, MemoryContext context,
								   char **erasures, int *n_erasures)
{
	SharedSlot *slot;

	if (!consent_shared_available())
		return false;
	LWLockAcquire(shared->lock, LW_SHARED);
	slot = published_node_slot(version);
	if (slot != NULL)
	{
		const ErasureBlock *block = dsa_get_address(area, slot->erasures);

		*erasures = MemoryContextAllocHuge(context, Max(block->size, 1));
		memcpy(*erasures, block->strings, block->size);
		*n_erasures = block->n;
	}
	LWLockRelease(shared->lock);
	return slot != NULL;
}

/* A new NodeCopy of rest and image in the area, or InvalidDsaPointer. */
static dsa_pointer
store_node_copy(const char *rest, const StateImage *image)
{
	Size		image_offset = MAXALIGN(offsetof(NodeCopy, rest) + strlen(rest) + 1);
	dsa_pointer stored = allocate_in_area(image_offset + image->size);
	NodeCopy   *copy;

	if (!DsaPointerIsValid(stored))
		return stored;
	copy = dsa_get_address(area, stored);
	copy->size = image_offset + image->size;
	copy->image_offset = image_offset;
	strcpy(copy->rest, rest);
	memcpy((char *) copy + image_offset, image, image->size);
	return stored;
}

void
consent_shared_publish_node_copy(const char *version, const char *rest,
								 char *const *erasures, int n_erasures, const StateImage *image)
{
	SharedSlot *slot;
	Size		erasures_size = 0;
	dsa_pointer stored;
	dsa_pointer block_pointer;

	if (!consent_shared_available() || strlen(version) >= sizeof(slot->version))
		return;
	for (int i = 0; i < n_erasures; i++)
		erasures_size += strlen(erasures[i]) + 1;

	LWLockAcquire(shared->lock, LW_EXCLUSIVE);
	if (published_node_slot(version) == NULL)
	{
		block_pointer = allocate_in_area(offsetof(ErasureBlock, strings) + erasures_size);
		stored = DsaPointerIsValid(block_pointer) ? store_node_copy(rest, image) : InvalidDsaPointer;
		if (DsaPointerIsValid(stored))
		{
			ErasureBlock *block = dsa_get_address(area, block_pointer);
			char	   *next = block->strings;

			block->size = erasures_size;
			block->n = n_erasures;
			for (int i = 0; i < n_erasures; i++)
			{
				Size		len = strlen(erasures[i]) + 1;

				memcpy(next, erasures[i], len);
				next += len;
			}
			slot = slot_of_database(true);
			put_in_slot(&slot, true, stored, block_pointer);
			strlcpy(slot->version, version, sizeof(slot->version));
		}
		else if (DsaPointerIsValid(block_pointer))
			dsa_free(area, block_pointer);
	}
	LWLockRelease(shared->lock);
}

/*
 * Writes into block the strings of old (n_old, one after the other) merged
 * with the sorted strings added, each once, and sets its count and size;
 * *n_new: how many of added old did not hold.
 */
static void
merge_erasures(ErasureBlock *block, const char *old, int n_old, char *const *added, int n_added,
			   int *n_new)
{
	char	   *next = block->strings;
	const char *last = NULL;
	int			n = 0;
	int			i = 0;
	int			j = 0;

	*n_new = 0;
	while (i < n_old || j < n_added)
	{
		const char *take;
		int			cmp = i == n_old ? 1 : j == n_added ? -1 : strcmp(old, added[j]);

		if (cmp <= 0)
		{
			take = old;
			old += strlen(old) + 1;
			i++;
			if (cmp == 0)
				j++;
		}
		else
		{
			take = added[j++];
			if (last != NULL && strcmp(last, take) == 0)
				continue;
			(*n_new)++;
		}
		last = next;
		strcpy(next, take);
		next += strlen(take) + 1;
		n++;
	}
	block->n = n;
	block->size = next - block->strings;
}

/*
 * The erasures of the copy in slot with the sorted ones of added, a new
 * block of the area; InvalidDsaPointer if the area is full. Without any
 * added, the slot's own block.
 */
static dsa_pointer
erasures_with(SharedSlot *slot, char *const *added, int n_added, int *n_new)
{
	const ErasureBlock *old = dsa_get_address(area, slot->erasures);
	Size		size = old->size;
	dsa_pointer merged;

	*n_new = 0;
	if (n_added == 0)
		return slot->erasures;
	for (int i = 0; i < n_added; i++)
		size += strlen(added[i]) + 1;
	merged = allocate_in_area(offsetof(ErasureBlock, strings) + size);
	if (DsaPointerIsValid(merged))
		merge_erasures(dsa_get_address(area, merged), old->strings, old->n, added, n_added, n_new);
	return merged;
}

bool
consent_shared_publish_node_update(const char *previous, const char *version, const char *rest,
								   char *const *added, int n_added, const StateImage *image,
								   int *n_new)
{
	SharedSlot *slot;
	dsa_pointer stored;
	dsa_pointer erasures;
	bool		published = false;

	*n_new = -1;
	if (!consent_shared_available() || strlen(version) >= sizeof(slot->version))
		return false;
	LWLockAcquire(shared->lock, LW_EXCLUSIVE);
	if (published_node_slot(version) != NULL)
		published = true;		/* another session was first */
	else if ((slot = published_node_slot(previous)) != NULL)
	{
		erasures = erasures_with(slot, added, n_added, n_new);
		stored = DsaPointerIsValid(erasures) ? store_node_copy(rest, image) : InvalidDsaPointer;
		if (DsaPointerIsValid(stored))
		{
			put_in_slot(&slot, true, stored, erasures);
			strlcpy(slot->version, version, sizeof(slot->version));
			published = true;
		}
		else
		{
			if (DsaPointerIsValid(erasures) && erasures != slot->erasures)
				dsa_free(area, erasures);
			*n_new = -1;
		}
	}
	LWLockRelease(shared->lock);
	return published;
}

/* The entry of this session's read of the coordinator's state, if it has one. */
static NodeRead *my_node_read = NULL;

/* The read of version for this database in progress, if any; the caller holds the lock. */
static NodeRead *
node_read_of(const char *version)
{
	TimestampTz stale = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), -NODE_READ_WAIT_MS);

	for (int i = 0; i < NODE_READS; i++)
		if (shared->reads[i].database == MyDatabaseId && strcmp(shared->reads[i].version, version) == 0 &&
			shared->reads[i].started > stale)
			return &shared->reads[i];
	return NULL;
}

bool
consent_shared_begin_node_read(const char *version)
{
	TimestampTz deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), NODE_READ_WAIT_MS);
	NodeRead   *read;
	bool		waited = false;

	Assert(my_node_read == NULL);
	if (!consent_shared_available() || strlen(version) >= sizeof(read->version))
		return true;
	for (;;)
	{
		LWLockAcquire(shared->lock, LW_EXCLUSIVE);
		read = node_read_of(version);
		if (read == NULL && waited)
		{
			/* the other read ended: what it published is to be looked at */
			LWLockRelease(shared->lock);
			ConditionVariableCancelSleep();
			return false;
		}
		if (read == NULL)
		{
			/* this session reads it: a free entry, or the oldest */
			read = &shared->reads[0];
			for (int i = 1; i < NODE_READS && read->database != InvalidOid; i++)
				if (shared->reads[i].database == InvalidOid || shared->reads[i].started < read->started)
					read = &shared->reads[i];
			read->database = MyDatabaseId;
			read->pid = MyProcPid;
			strlcpy(read->version, version, sizeof(read->version));
			read->started = GetCurrentTimestamp();
			my_node_read = read;
			LWLockRelease(shared->lock);
			return true;
		}
		LWLockRelease(shared->lock);
		if (GetCurrentTimestamp() >= deadline)
		{
			/* too slow: read it too, without taking the other's place */
			ConditionVariableCancelSleep();
			return true;
		}
		if (!waited)
			elog(DEBUG1, "waiting for another session's read of the coordinator's consent state of version %s",
				 version);
		waited = true;
		(void) ConditionVariableTimedSleep(&shared->read_ended,
										   Max(1, TimestampDifferenceMilliseconds(GetCurrentTimestamp(), deadline)),
										   PG_WAIT_EXTENSION);
	}
}

void
consent_shared_end_node_read(void)
{
	if (my_node_read == NULL)
		return;
	LWLockAcquire(shared->lock, LW_EXCLUSIVE);
	if (my_node_read->database == MyDatabaseId && my_node_read->pid == MyProcPid)
		my_node_read->database = InvalidOid;
	LWLockRelease(shared->lock);
	my_node_read = NULL;
	ConditionVariableBroadcast(&shared->read_ended);
}

