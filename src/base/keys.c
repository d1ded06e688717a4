/*
 * keys.c
 *		The extension's secret keys and the keyed hashes built on them.
 *
 * Keys live in privacy._keys, created with random contents by the install
 * script, dumped with the database (so pseudonyms, subject references and
 * signed tokens stay valid after a restore) and readable by no ordinary role.
 * C code reads them as the table's owner and keeps them for the session:
 * a statement trigger on the table (privacy_internal._invalidate_key_cache(),
 * enabled always, so that it fires under session_replication_role replica
 * too) queues a relcache invalidation of the table, which marks the kept
 * keys stale in every backend, this one at its next command, the others
 * once the change commits (at their next transaction at the latest). Stale
 * keys are read again at their first use in a later transaction; within a
 * transaction, the keys read first are used to its end, as a caller may
 * still hold one. A Citus worker reads the coordinator's keys instead of its
 * own (citus.c) and keeps them for the session; the token key, which checks
 * the statements the coordinator forwards, once for all its sessions
 * (coordinator_keys.c), read again when a check under it fails.
 */
#include "postgres.h"

#include <openssl/evp.h>

#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "storage/proc.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "base/citus.h"
#include "base/compat.h"
#include "base/extension_objects.h"
#include "base/keys.h"
#include "base/relcache_callbacks.h"
#include "base/spi_statements.h"

PG_FUNCTION_INFO_V1(privacy_random_key);
PG_FUNCTION_INFO_V1(privacy_subject_ref);
PG_FUNCTION_INFO_V1(privacy_invalidate_key_cache);

#define MAX_CACHED_KEYS 8

typedef struct CachedKey
{
	char		name[NAMEDATALEN];
	bytea	   *key;
	/* SHA-256 after the key's inner and outer HMAC pads, once one was needed */
	EVP_MD_CTX *inner;
	EVP_MD_CTX *outer;
	/* On a Citus worker: copied from shared memory, or the transaction that read it */
	bool		shared;
	LocalTransactionId read_lxid;
} CachedKey;

static CachedKey cached_keys[MAX_CACHED_KEYS];
static int	n_cached_keys = 0;
/* The transaction that read the cached keys, and whether they are stale since. */
static LocalTransactionId cached_lxid = InvalidLocalTransactionId;
static bool keys_stale = false;

/* The key table whose invalidation makes the cached keys stale (InvalidOid: any). */
static Oid	keys_relid = InvalidOid;
static bool keys_callback_registered = false;

/* Whether the cached keys are the Citus coordinator's, kept for the session. */
static bool coordinator_keys = false;

/* The statement that reads a key, prepared once per session. */
static SPIPlanPtr read_plan = NULL;

/* Reads one key of this node's key table with SPI; NULL if it has none. */
static bytea *
read_local_key(const char *name)
{
	Oid			argtypes[1] = {TEXTOID};
	Datum		values[1] = {CStringGetTextDatum(name)};
	bytea	   *result = NULL;
	bool		isnull;

	SPI_connect();
	if (SPI_execute_plan(privacy_kept_plan(&read_plan,
										   "SELECT k.key FROM privacy._keys k WHERE k.name OPERATOR(pg_catalog.=) $1",
										   1, argtypes),
						 values, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read key \"%s\"", name);
	if (SPI_processed == 1)
	{
		Datum		d = SPI_getbinval(SPI_tuptable->vals[0],
									  SPI_tuptable->tupdesc, 1, &isnull);

		if (!isnull)
		{
			bytea	   *key = DatumGetByteaPP(d);

			result = MemoryContextAlloc(TopMemoryContext, VARSIZE_ANY(key));
			memcpy(result, key, VARSIZE_ANY(key));
		}
	}
	SPI_finish();
	return result;
}

/*
 * Reads one key as the owner of the key table: a Citus worker the
 * coordinator's, the token key from shared memory if another session read
 * it already (*shared).
 */
static bytea *
read_key(const char *name, bool *shared)
{
	PrivacyUserContext save;
	bytea	   *result = NULL;
	bool		token = strcmp(name, PRIVACY_KEY_TOKEN) == 0;

	*shared = false;
	if (token && privacy_citus_worker() &&
		(result = coordinator_key_copy(name, TopMemoryContext)) != NULL)
	{
		*shared = true;
		coordinator_keys = true;
		elog(DEBUG1, "copied the coordinator's key \"%s\" from another session", name);
		return result;
	}
	privacy_begin_as_owner("_keys", &save);
	PG_TRY();
	{
		if (privacy_citus_worker())
		{
			result = privacy_citus_coordinator_key(name);
			coordinator_keys = true;
			if (result != NULL && token)
				coordinator_key_publish(name, result);
			elog(DEBUG1, "read the coordinator's key \"%s\"", name);
		}
		else
			result = read_local_key(name);
	}
	PG_FINALLY();
	{
		privacy_end_as_owner(&save);
	}
	PG_END_TRY();

	if (result == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("key \"%s\" does not exist", name),
				 errdetail("The table privacy._keys has no row for this key."),
				 errhint("Restore the key from a backup of the database; a new key would invalidate every pseudonym and token made with the old one.")));
	return result;
}

/* Frees a cached key, its bytes zeroed first. */
static void
free_cached_key(CachedKey *ck)
{
	explicit_bzero(VARDATA_ANY(ck->key), VARSIZE_ANY_EXHDR(ck->key));
	pfree(ck->key);
	EVP_MD_CTX_free(ck->inner);
	EVP_MD_CTX_free(ck->outer);
}

/* Marks the cached keys stale when the key table (or every relation) is invalidated. */
static void
keys_relcache_callback(Datum arg, Oid relid)
{
	if (!OidIsValid(relid) || !OidIsValid(keys_relid) || relid == keys_relid)
		keys_stale = true;
}

/*
 * The cached entry of a key: read at its first use, and again at the first
 * use in a transaction after the key table changed.
 */
static CachedKey *
cached_key(const char *name)
{
	int			i;

	if (!keys_callback_registered)
	{
		privacy_register_relcache_callback(keys_relcache_callback);
		keys_callback_registered = true;
		keys_stale = true;
	}
	if (keys_stale && cached_lxid != PRIVACY_LOCAL_XID() && !coordinator_keys)
	{
		for (i = 0; i < n_cached_keys; i++)
			free_cached_key(&cached_keys[i]);
		n_cached_keys = 0;
		cached_lxid = PRIVACY_LOCAL_XID();
		keys_stale = false;
		keys_relid = get_relname_relid("_keys", get_namespace_oid(PRIVACY_SCHEMA, false));
	}
	for (i = 0; i < n_cached_keys; i++)
		if (strcmp(cached_keys[i].name, name) == 0)
			return &cached_keys[i];

	if (n_cached_keys == MAX_CACHED_KEYS)
		elog(ERROR, "too many distinct keys requested");
	cached_keys[n_cached_keys].key = read_key(name, &cached_keys[n_cached_keys].shared);
	cached_keys[n_cached_keys].read_lxid = PRIVACY_LOCAL_XID();
	cached_keys[n_cached_keys].inner = NULL;
	cached_keys[n_cached_keys].outer = NULL;
	strlcpy(cached_keys[n_cached_keys].name, name, NAMEDATALEN);
	return &cached_keys[n_cached_keys++];
}

/*
 * SHA-256 after one of the key's HMAC pads (RFC 2104): the key, hashed
 * first if longer than a block, zero-padded to a block and XORed with pad.
 */
static EVP_MD_CTX *
padded_key_digest(const bytea *key, uint8_t pad)
{
	uint8_t		block[64];
	size_t		len = VARSIZE_ANY_EXHDR(key);
	EVP_MD_CTX *ctx;

	memset(block, 0, sizeof(block));
	if (len > sizeof(block))
	{
		unsigned int n;

		if (!EVP_Digest(VARDATA_ANY(key), len, block, &n, EVP_sha256(), NULL))
			return NULL;
	}
	else
		memcpy(block, VARDATA_ANY(key), len);
	for (int i = 0; i < (int) sizeof(block); i++)
		block[i] ^= pad;
	ctx = EVP_MD_CTX_new();
	if (ctx == NULL ||
		!EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) ||
		!EVP_DigestUpdate(ctx, block, sizeof(block)))
	{
		EVP_MD_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

/*
 * HMAC-SHA-256 under a cached key, from its pads' digests computed once per
 * reading of the key: the same result as HMAC(), at a fraction of the cost per
 * message (subject references are computed for every row a statement logs).
 */
static bool
cached_hmac(CachedKey *ck, const void *data, size_t len, uint8_t out[PRIVACY_HMAC_LEN])
{
	static EVP_MD_CTX *scratch = NULL;
	uint8_t		inner_hash[PRIVACY_HMAC_LEN];
	unsigned int n = 0;

	if (ck->inner == NULL || ck->outer == NULL)
	{
		EVP_MD_CTX_free(ck->inner);
		EVP_MD_CTX_free(ck->outer);
		ck->inner = padded_key_digest(ck->key, 0x36);
		ck->outer = padded_key_digest(ck->key, 0x5c);
		if (ck->inner == NULL || ck->outer == NULL)
			return false;
	}
	if (scratch == NULL && (scratch = EVP_MD_CTX_new()) == NULL)
		return false;
	if (!EVP_MD_CTX_copy_ex(scratch, ck->inner) ||
		!EVP_DigestUpdate(scratch, data, len) ||
		!EVP_DigestFinal_ex(scratch, inner_hash, &n) || n != PRIVACY_HMAC_LEN ||
		!EVP_MD_CTX_copy_ex(scratch, ck->outer) ||
		!EVP_DigestUpdate(scratch, inner_hash, sizeof(inner_hash)) ||
		!EVP_DigestFinal_ex(scratch, out, &n) || n != PRIVACY_HMAC_LEN)
		return false;
	return true;
}

const bytea *
privacy_get_key(const char *name)
{
	return cached_key(name)->key;
}

void
privacy_keyed_hash(const char *key_name, const void *data, size_t len,
				   uint8_t out[PRIVACY_HMAC_LEN])
{
	if (!cached_hmac(cached_key(key_name), data, len, out))
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not compute HMAC-SHA-256")));
}

bool
privacy_refresh_coordinator_key(const char *name)
{
	for (int i = 0; i < n_cached_keys; i++)
	{
		CachedKey  *ck = &cached_keys[i];

		if (strcmp(ck->name, name) != 0)
			continue;
		if (!coordinator_keys || (!ck->shared && ck->read_lxid == PRIVACY_LOCAL_XID()))
			return false;
		elog(DEBUG1, "a check under the coordinator's key \"%s\" failed: reading the key again", name);
		coordinator_key_forget(name, ck->key);
		free_cached_key(ck);
		cached_keys[i] = cached_keys[--n_cached_keys];
		return true;
	}
	return false;
}

/* privacy_internal._random_key(bytes int) → bytea: a key from the strong random source. */
Datum
privacy_random_key(PG_FUNCTION_ARGS)
{
	int32		nbytes = PG_GETARG_INT32(0);
	bytea	   *result;

	if (nbytes < 16 || nbytes > 1024)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("key length must be between 16 and 1024 bytes")));
	result = palloc(VARHDRSZ + nbytes);
	SET_VARSIZE(result, VARHDRSZ + nbytes);
	if (!pg_strong_random(VARDATA(result), nbytes))
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not generate random key")));
	PG_RETURN_BYTEA_P(result);
}

void
privacy_subject_ref_hex(const char *kind, const char *subject, size_t subject_len, char *out)
{
	char		local[256];
	size_t		kind_len = strlen(kind);
	size_t		len = kind_len + 1 + subject_len;
	char	   *msg = len <= sizeof(local) ? local : palloc(len);
	uint8_t		mac[PRIVACY_HMAC_LEN];

	memcpy(msg, kind, kind_len);
	msg[kind_len] = '\0';
	memcpy(msg + kind_len + 1, subject, subject_len);
	privacy_keyed_hash(PRIVACY_KEY_SUBJECT_REF, msg, len, mac);
	out[hex_encode((const char *) mac, PRIVACY_HMAC_LEN, out)] = '\0';
	if (msg != local)
		pfree(msg);
}

/*
 * privacy.subject_ref(kind text, subject text) → text: the keyed hash that
 * stands for a data subject in the audit log and the ledgers, so that they
 * hold no raw identifier.
 */
Datum
privacy_subject_ref(PG_FUNCTION_ARGS)
{
	char	   *kind = text_to_cstring(PG_GETARG_TEXT_PP(0));
	text	   *subject = PG_GETARG_TEXT_PP(1);
	char		hex[PRIVACY_SUBJECT_REF_HEX_LEN + 1];

	privacy_subject_ref_hex(kind, VARDATA_ANY(subject), VARSIZE_ANY_EXHDR(subject), hex);
	PG_RETURN_TEXT_P(cstring_to_text_with_len(hex, PRIVACY_SUBJECT_REF_HEX_LEN));
}

/*
 * Statement trigger on privacy._keys: queues a relcache invalidation of the
 * table, which marks every backend's cached keys stale.
 */
Datum
privacy_invalidate_key_cache(PG_FUNCTION_ARGS)
{
	privacy_invalidate_trigger_relation(fcinfo, "privacy_internal._invalidate_key_cache()");
	return PointerGetDatum(NULL);
}
