/*
 * coordinator_keys.c
 *		On a Citus worker, the coordinator's token key kept in shared memory
 *		for every session of the database.
 *
 * A worker checks each statement that the coordinator forwards for a
 * protected table against an HMAC under the coordinator's token key
 * (purpose_forward.c). Reading that key opens a connection from the worker
 * to the coordinator (run_command_on_coordinator(), tens of milliseconds).
 * Citus opens new worker sessions for each coordinator session, so a key
 * kept per session made the first protected statement of every coordinator
 * session wait that long on each worker it reached. The first session of a
 * database that reads the key publishes it here and the later sessions copy
 * it from here.
 *
 * Only the token key is shared, because a stale copy of it shows itself: a
 * statement the coordinator signed under a changed key fails its check, and
 * the worker then forgets the copy (here and in the session) and reads the
 * coordinator's key again before it refuses the statement (keys.c,
 * privacy_refresh_coordinator_key()). The other keys are read once per
 * session as before.
 *
 * Without shared_preload_libraries nothing is shared: each session reads
 * the key from the coordinator.
 */
#include "postgres.h"

#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "storage/spin.h"

#include "base/keys.h"

/* Databases (and key names) whose key is kept at once; the least recently used is replaced. */
#define KEY_SLOTS 16

/* The longest key kept; privacy_internal._random_key() makes at most 1024 bytes. */
#define MAX_SHARED_KEY_LEN 1024

typedef struct SharedKeySlot
{
	Oid			database;		/* InvalidOid: free */
	char		name[NAMEDATALEN];
	uint64		used;			/* the clock at its last publication or copy */
	uint32		len;
	char		key[MAX_SHARED_KEY_LEN];
} SharedKeySlot;

typedef struct SharedKeys
{
	slock_t		mutex;			/* protects everything below */
	uint64		clock;
	SharedKeySlot slots[KEY_SLOTS];
} SharedKeys;

static SharedKeys *shared_keys = NULL;
static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

static void
keys_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(MAXALIGN(sizeof(SharedKeys)));
}

static void
keys_shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	shared_keys = ShmemInitStruct("opendims_privacy coordinator keys", sizeof(SharedKeys), &found);
	if (!found)
	{
		SpinLockInit(&shared_keys->mutex);
		shared_keys->clock = 0;
		for (int i = 0; i < KEY_SLOTS; i++)
			shared_keys->slots[i].database = InvalidOid;
	}
	LWLockRelease(AddinShmemInitLock);
}

void
CoordinatorKeysInit(void)
{
	if (!process_shared_preload_libraries_in_progress)
		return;
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = keys_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = keys_shmem_startup;
}

/* The slot of this database's key called name, or NULL; with the mutex held. */
static SharedKeySlot *
slot_of(const char *name)
{
	for (int i = 0; i < KEY_SLOTS; i++)
	{
		SharedKeySlot *slot = &shared_keys->slots[i];

		if (slot->database == MyDatabaseId && strcmp(slot->name, name) == 0)
			return slot;
	}
	return NULL;
}

bytea *
coordinator_key_copy(const char *name, MemoryContext context)
{
	bytea	   *result;
	char		key[MAX_SHARED_KEY_LEN];
	uint32		len = 0;
	SharedKeySlot *slot;

	if (shared_keys == NULL)
		return NULL;
	SpinLockAcquire(&shared_keys->mutex);
	slot = slot_of(name);
	if (slot != NULL)
	{
		len = slot->len;
		memcpy(key, slot->key, len);
		slot->used = ++shared_keys->clock;
	}
	SpinLockRelease(&shared_keys->mutex);
	if (slot == NULL)
		return NULL;
	result = MemoryContextAlloc(context, VARHDRSZ + len);
	SET_VARSIZE(result, VARHDRSZ + len);
	memcpy(VARDATA(result), key, len);
	explicit_bzero(key, sizeof(key));
	return result;
}

void
coordinator_key_publish(const char *name, const bytea *key)
{
	SharedKeySlot *slot;
	uint32		len = VARSIZE_ANY_EXHDR(key);

	if (shared_keys == NULL || len > MAX_SHARED_KEY_LEN || strlen(name) >= NAMEDATALEN)
		return;
	SpinLockAcquire(&shared_keys->mutex);
	slot = slot_of(name);
	for (int i = 0; slot == NULL && i < KEY_SLOTS; i++)
		if (shared_keys->slots[i].database == InvalidOid)
			slot = &shared_keys->slots[i];
	if (slot == NULL)
	{
		slot = &shared_keys->slots[0];
		for (int i = 1; i < KEY_SLOTS; i++)
			if (shared_keys->slots[i].used < slot->used)
				slot = &shared_keys->slots[i];
	}
	slot->database = MyDatabaseId;
	strlcpy(slot->name, name, NAMEDATALEN);
	slot->len = len;
	memcpy(slot->key, VARDATA_ANY(key), len);
	slot->used = ++shared_keys->clock;
	SpinLockRelease(&shared_keys->mutex);
}

void
coordinator_key_forget(const char *name, const bytea *key)
{
	SharedKeySlot *slot;
	uint32		len = VARSIZE_ANY_EXHDR(key);

	if (shared_keys == NULL)
		return;
	SpinLockAcquire(&shared_keys->mutex);
	slot = slot_of(name);
	if (slot != NULL && slot->len == len && memcmp(slot->key, VARDATA_ANY(key), len) == 0)
	{
		slot->database = InvalidOid;
		memset(slot->key, 0, sizeof(slot->key));
	}
	SpinLockRelease(&shared_keys->mutex);
}
