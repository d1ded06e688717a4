/*
 * keys.h
 *		Access to the extension's secret keys (table privacy._keys), which no
 *		ordinary role can read, and the keyed hashes built on them.
 */
#ifndef PRIVACY_KEYS_H
#define PRIVACY_KEYS_H

#include "pure/hmac_sha256.h"

/* Names of the keys created by the install script. */
#define PRIVACY_KEY_PSEUDONYM	"pseudonym"
#define PRIVACY_KEY_SUBJECT_REF	"subject_ref"
#define PRIVACY_KEY_TOKEN		"token"

/*
 * Returns the key called name (cached for the life of the backend until the
 * key table changes); the caller needs no privilege on the key table. The
 * result lives in TopMemoryContext: do not pfree it.
 */
extern const bytea *privacy_get_key(const char *name);

/* HMAC-SHA-256 of data under the named key. */
extern void privacy_keyed_hash(const char *key_name, const void *data, size_t len,
							   uint8_t out[PRIVACY_HMAC_LEN]);

/* Length of a subject reference (privacy.subject_ref()) in hex digits. */
#define PRIVACY_SUBJECT_REF_HEX_LEN (PRIVACY_HMAC_LEN * 2)

/*
 * The subject reference of subject (subject_len bytes) of kind: the keyed
 * hash privacy.subject_ref() returns, as PRIVACY_SUBJECT_REF_HEX_LEN hex
 * digits and a NUL written to out.
 */
extern void privacy_subject_ref_hex(const char *kind, const char *subject, size_t subject_len,
									char *out);

/*
 * On a Citus worker, after a check under the coordinator's key called name
 * failed: whether the key in hand may be older than the coordinator's (it
 * was copied from shared memory, or read in an earlier transaction); if so
 * it is forgotten, here and in shared memory, and its next use reads the
 * coordinator's key again.
 */
extern bool privacy_refresh_coordinator_key(const char *name);

/*
 * The coordinator's token key kept in a worker's shared memory for every
 * session of the database (coordinator_keys.c); all do nothing without
 * shared_preload_libraries.
 */
extern void CoordinatorKeysInit(void);
/* A copy in context of this database's key called name, or NULL if none is kept. */
extern bytea *coordinator_key_copy(const char *name, MemoryContext context);
/* Keeps key as this database's key called name. */
extern void coordinator_key_publish(const char *name, const bytea *key);
/* Forgets this database's key called name if it is key. */
extern void coordinator_key_forget(const char *name, const bytea *key);

#endif							/* PRIVACY_KEYS_H */
