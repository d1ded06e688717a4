/*
 * keys.c
 *		The extension's secret keys and the keyed hashes built on them.
 *
 * Keys live in privacy._keys, created with random contents by the install
 * script, dumped with the database (so pseudonyms, subject references and
 * signed tokens stay valid after a restore) and readable by no ordinary role.
 * C code reads them directly through the table's primary key, as its owner
 * would, and caches them for the rest of the transaction. A Citus worker
 * reads the coordinator's keys instead of its own (citus.c) and keeps them
 * for the session.
 */
#include "postgres.h"

#include <openssl/evp.h>

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "storage/proc.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include "base/citus.h"
#include "base/compat.h"
#include "base/extension_objects.h"
#include "base/keys.h"

PG_FUNCTION_INFO_V1(privacy_random_key);
PG_FUNCTION_INFO_V1(privacy_subject_ref);

#define MAX_CACHED_KEYS 8

typedef struct CachedKey
{
	char		name[NAMEDATALEN];
	bytea	   *key;
	/* SHA-256 after the key's inner and outer HMAC pads, once one was needed */
	EVP_MD_CTX *inner;
	EVP_MD_CTX *outer;
} CachedKey;

static CachedKey cached_keys[MAX_CACHED_KEYS];
static int	n_cached_keys = 0;
static LocalTransactionId cached_lxid = InvalidLocalTransactionId;

/* Whether the cached keys are the Citus coordinator's, kept for the session. */
static bool coordinator_keys = false;

/*
 * Reads one key of this node's key table, through its primary key, with
 * the statement's snapshot; NULL if it has none. A direct read, as the
 * table's owner would read it: no SQL runs, so nothing of the caller's can.
 */
static bytea *
read_local_key(const char *name)
{
	Oid			nsp = get_namespace_oid(PRIVACY_SCHEMA, false);
	Oid			relid = get_relname_relid("_keys", nsp);
	Relation	rel;
	ScanKeyData key;
	SysScanDesc scan;
	Snapshot	snapshot;
	HeapTuple	tuple;
	bytea	   *result = NULL;

	if (!OidIsValid(relid))
		elog(ERROR, "table %s._keys is missing", PRIVACY_SCHEMA);
	rel = table_open(relid, AccessShareLock);
	if (RelationGetDescr(rel)->natts != 2)
		elog(ERROR, "table %s._keys does not have the columns it was created with", PRIVACY_SCHEMA);
	ScanKeyInit(&key, 1, BTEqualStrategyNumber, F_TEXTEQ, CStringGetTextDatum(name));
	key.sk_collation = TupleDescAttr(RelationGetDescr(rel), 0)->attcollation;
	snapshot = RegisterSnapshot(ActiveSnapshotSet() ? GetActiveSnapshot() : GetTransactionSnapshot());
	scan = systable_beginscan(rel, RelationGetPrimaryKeyIndex(rel), true, snapshot, 1, &key);
	if (HeapTupleIsValid(tuple = systable_getnext(scan)))
	{
		bool		isnull;
		Datum		d = heap_getattr(tuple, 2, RelationGetDescr(rel), &isnull);

		if (!isnull)
		{
			bytea	   *k = DatumGetByteaPP(d);

			result = MemoryContextAlloc(TopMemoryContext, VARSIZE_ANY(k));
			memcpy(result, k, VARSIZE_ANY(k));
		}
	}
	systable_endscan(scan);
	UnregisterSnapshot(snapshot);
	table_close(rel, NoLock);
	return result;
}

/*
 * Reads one key: this node's, or on a Citus worker the coordinator's, read
 * as the owner of the key table through Citus.
 */
static bytea *
read_key(const char *name)
{
	PrivacyUserContext save;
	bytea	   *result = NULL;

	if (!privacy_citus_installed())
		result = read_local_key(name);
	else
	{
		privacy_begin_as_owner("_keys", &save);
		PG_TRY();
		{
			if (privacy_citus_worker())
			{
				result = privacy_citus_coordinator_key(name);
				coordinator_keys = true;
			}
			else
				result = read_local_key(name);
		}
		PG_FINALLY();
		{
			privacy_end_as_owner(&save);
		}
		PG_END_TRY();
	}

	if (result == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("key \"%s\" does not exist", name),
				 errdetail("The table privacy._keys has no row for this key."),
				 errhint("Restore the key from a backup of the database; a new key would invalidate every pseudonym and token made with the old one.")));
	return result;
}

/* The cached entry of a key, read once per transaction. */
static CachedKey *
cached_key(const char *name)
{
	int			i;

	if (cached_lxid != PRIVACY_LOCAL_XID() && !coordinator_keys)
	{
		for (i = 0; i < n_cached_keys; i++)
		{
			pfree(cached_keys[i].key);
			EVP_MD_CTX_free(cached_keys[i].inner);
			EVP_MD_CTX_free(cached_keys[i].outer);
		}
		n_cached_keys = 0;
		cached_lxid = PRIVACY_LOCAL_XID();
	}
	for (i = 0; i < n_cached_keys; i++)
		if (strcmp(cached_keys[i].name, name) == 0)
			return &cached_keys[i];

	if (n_cached_keys == MAX_CACHED_KEYS)
		elog(ERROR, "too many distinct keys requested in one transaction");
	cached_keys[n_cached_keys].key = read_key(name);
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
 * transaction: the same result as HMAC(), at a fraction of the cost per
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

/*
 * privacy.subject_ref(kind text, subject text) → text: the keyed hash that
 * stands for a data subject in the audit log and the ledgers, so that they
 * hold no raw identifier.
 */
Datum
privacy_subject_ref(PG_FUNCTION_ARGS)
{
	text	   *kind = PG_GETARG_TEXT_PP(0);
	text	   *subject = PG_GETARG_TEXT_PP(1);
	StringInfoData buf;
	uint8_t		mac[PRIVACY_HMAC_LEN];
	char		hex[PRIVACY_HMAC_LEN * 2 + 1];

	initStringInfo(&buf);
	appendBinaryStringInfo(&buf, VARDATA_ANY(kind), VARSIZE_ANY_EXHDR(kind));
	appendStringInfoChar(&buf, '\0');
	appendBinaryStringInfo(&buf, VARDATA_ANY(subject), VARSIZE_ANY_EXHDR(subject));
	privacy_keyed_hash(PRIVACY_KEY_SUBJECT_REF, buf.data, buf.len, mac);
	hex[hex_encode((const char *) mac, PRIVACY_HMAC_LEN, hex)] = '\0';
	PG_RETURN_TEXT_P(cstring_to_text(hex));
}
