/*
 * consent_shared.h
 *		The consent state image shared by all sessions of a server, so that a
 *		new session, or a parallel worker, starts with the state in memory
 *		instead of reading the ledger state again.
 */
#ifndef PRIVACY_CONSENT_SHARED_H
#define PRIVACY_CONSENT_SHARED_H

#include "consent/consent_state.h"

/* Requests the shared memory; from _PG_init under shared_preload_libraries. */
extern void ConsentSharedInit(void);

/*
 * Whether images can be shared here: the library was preloaded and the
 * server is not a hot standby (whose changes arrive by WAL replay, which
 * the commit-time counting below does not see).
 */
extern bool consent_shared_available(void);

/*
 * The number of committed transactions that changed the consent state, as
 * counted so far. Read it before taking the snapshot an image is built
 * from, and publish the image with it.
 */
extern uint64 consent_shared_changes(void);

/* A subject whose consent state a committed change touched. */
#define CONSENT_CHANGED_SUBJECT_LEN 128

typedef struct ConsentChangedSubject
{
	char		kind[NAMEDATALEN];
	char		subject[CONSENT_CHANGED_SUBJECT_LEN];	/* NUL-terminated */
} ConsentChangedSubject;

/*
 * Counts one committed change of this database; called after the commit is
 * visible, with the subjects whose privacy._ledger_state rows it touched
 * (none for a change of purposes or grants only), or all if it may have
 * touched any, and the erasures it wrote to privacy.erasures (their kind
 * and reference in subject), or any_erasure if it may have written any.
 */
extern void consent_shared_count_change(const ConsentChangedSubject *subjects, int n, bool all,
										const ConsentChangedSubject *erasures, int n_erasures,
										bool any_erasure);

/*
 * The subjects of this database whose state the changes counted after
 * since touched (into *subjects, palloc'd, and *n; a subject may repeat),
 * the erasures they wrote (likewise into *erasures and *n_erasures), or
 * *any_erasure if one of them may have written any, and in *upto the count
 * they go up to: false if they are not all known, because a change may
 * have touched any subject or the record of an old change was overwritten.
 */
extern bool consent_shared_changed_since(uint64 since, uint64 *upto,
										 ConsentChangedSubject **subjects, int *n,
										 ConsentChangedSubject **erasures, int *n_erasures,
										 bool *any_erasure);

/*
 * A private copy, in context, of this database's image if it was built
 * from the given ledger state table and, if current_only, reflects every
 * counted change; with the count of changes it reflects in *changes. NULL
 * if there is none.
 */
extern StateImage *consent_shared_fetch(Oid ledger_relid, MemoryContext context, bool current_only,
										uint64 *changes);

/* Offers an image built after changes had been counted. */
extern void consent_shared_publish(const StateImage *image, Oid ledger_relid, uint64 changes);

/*
 * On a Citus worker: a private copy, in context, of the coordinator's state
 * of version (NULL: of any version) another session of this database
 * published: its parts but the consent state and the erasures as JSON
 * (*rest, which holds its version) and the consent state's image (*image);
 * false if there is none of that version. The erasures, which only a check
 * of a row to write needs, are copied apart.
 */
extern bool consent_shared_fetch_node_copy(const char *version, MemoryContext context,
										   char **rest, StateImage **image);

/*
 * The erasures of that copy, in context: *n_erasures strings one after the
 * other, each NUL-terminated, in the order published; false if the copy of
 * version is no longer published.
 */
extern bool consent_shared_fetch_node_erasures(const char *version, MemoryContext context,
											   char **erasures, int *n_erasures);

/* Offers the copy of the coordinator's state of version. */
extern void consent_shared_publish_node_copy(const char *version, const char *rest,
											 char *const *erasures, int n_erasures,
											 const StateImage *image);

/*
 * Publishes the copy of version brought up to date from the copy of
 * previous that is published, whose erasures the session never read: rest
 * and image as given, and as erasures those of the published copy, kept
 * where they are, with the n_added sorted ones of added it does not hold
 * (*n_new of them; -1 when another session published version first)
 * merged into a new block there: the session copies none, and a change
 * without erasures copies none at all. Whether version is published now;
 * false if previous no longer is.
 */
extern bool consent_shared_publish_node_update(const char *previous, const char *version, const char *rest,
											   char *const *added, int n_added, const StateImage *image,
											   int *n_new);

/*
 * On a Citus worker, before this session reads the coordinator's state of
 * version: true if it is to read it (then consent_shared_end_node_read()
 * once it published it, or failed); false after another session of this
 * database that was reading that version ended its read, which published
 * it if it did not fail: look for it in shared memory again. Waits for the
 * other session's read at most 10 s.
 */
extern bool consent_shared_begin_node_read(const char *version);

/* This session's read begun by consent_shared_begin_node_read() ended. */
extern void consent_shared_end_node_read(void);

#endif							/* PRIVACY_CONSENT_SHARED_H */
