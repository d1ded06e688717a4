/*
 * audit.h
 *		Writing to the tamper-evident audit log (privacy.audit_log) from C.
 *
 * An entry is written, when its transaction commits, to the unsealed
 * entries (privacy._audit_unsealed) without any lock shared with other
 * writers; the sealer (audit_seal.c), run by the background worker of the
 * preloaded library (audit_sealer.c) or by privacy.seal_audit_log(), chains
 * the committed ones into the log afterwards. See docs/audit.md.
 */
#ifndef PRIVACY_AUDIT_H
#define PRIVACY_AUDIT_H

#include "storage/itemptr.h"
#include "utils/jsonb.h"

/*
 * Writes one entry to privacy.audit_log (written when the transaction
 * commits, sealed after), as the log's owner, so it works for callers with
 * no privilege on the log. kind and subject may be NULL (the entry then
 * names no data subject); summary_json is a JSON object that must hold no
 * personal values.
 */
extern void privacy_audit_event(const char *action, const char *kind,
								const char *subject, const char *summary_json);

/*
 * Queues one entry of the current transaction directly, with the fields
 * privacy_internal._audit() gives it: the time now, actor (NULL: the
 * session user), the session user, action, the subject's reference (kind
 * and subject may be NULL) and summary (a JSON object that must hold no
 * personal values). For C code that has checked its caller itself and runs
 * inside the audited action; others use privacy_audit_event().
 */
extern void privacy_audit_queue(const char *actor, const char *action, const char *kind,
								const char *subject, Jsonb *summary);

/* The same for a subject whose reference the caller computed (or NULL). */
extern void privacy_audit_queue_ref(const char *actor, const char *action, text *subject_ref,
									Jsonb *summary);

/*
 * Notes that the current (sub)transaction wrote rows to the unsealed
 * entries directly (the rectification trigger does): the transaction is
 * then refused PREPARE, and its commit wakes the sealer.
 */
extern void privacy_audit_note_unsealed_write(void);

/*
 * The id of a new entry: its place in the order of entries (the next value
 * of privacy._audit_unsealed_id_seq).
 */
extern int64 privacy_audit_next_id(void);

/* The columns of privacy._audit_unsealed and of privacy.audit_log. */
#define PRIVACY_AUDIT_UNSEALED_COLUMNS 9
#define PRIVACY_AUDIT_SEALED_COLUMNS 10

/*
 * Inserts one row into privacy._audit_unsealed directly, with its index
 * entries; values and nulls are its nine columns, id included
 * (audit_direct.c).
 */
extern void privacy_audit_insert_unsealed(Datum *values, bool *nulls);

/*
 * Inserts n sealed entries into privacy.audit_log directly, with their
 * index entries: columns[f][e] and nulls[f][e] are column f (the log's ten,
 * in order) of entry e. Returns false, having written nothing, if the log
 * is not as the extension created it (a trigger on INSERT, a constraint,
 * row security, other columns: audit_direct.c lists them), for the caller
 * to insert with a statement.
 */
extern bool privacy_audit_insert_sealed(Datum **columns, bool **nulls, int n);

/*
 * Deletes n rows of privacy._audit_unsealed directly, by their places: the
 * rows the sealer has just sealed under the chain's head lock. Without a
 * statement, so the table's append-only trigger, which is there for other
 * writers, neither fires nor locks each row (a WAL record per entry).
 */
extern void privacy_audit_delete_unsealed(ItemPointerData *places, int n);

/*
 * Seals committed unsealed entries into the hash chain: about max_entries
 * of them (0: every one visible), in batches of about batch_size (a
 * set-based write's entries are sealed together), in the order of
 * their ids, inside the current transaction and as the log's owner. Takes
 * the chain's head lock (SHARE ROW EXCLUSIVE on privacy._audit_head) first,
 * then reads with a snapshot taken after it, so two sealers never seal the
 * same entry. Returns how many it sealed.
 */
extern int64 privacy_seal_entries(int64 max_entries, int batch_size);

/*
 * On a Citus worker, what sealing does instead (audit_forward.c): hands
 * about max_entries committed entries (0: every one visible) to the
 * coordinator's log in batches of about batch_size, and deletes them here
 * once the coordinator took them. Inside SPI, as the log's owner; takes the
 * head lock as sealing does. Returns how many entries it handed over.
 */
extern int64 privacy_forward_entries(Oid head_relid, int64 max_entries, int batch_size);

/* Whether this backend's forwarding is what deletes unsealed entries now. */
extern bool privacy_audit_sealing;

/*
 * Whether the library was loaded by shared_preload_libraries, so that the
 * sealer's background worker runs; without it, a committing transaction
 * seals the backlog itself (audit_pending.c).
 */
extern bool privacy_sealer_preloaded;

/* Wakes this database's sealer; safe to call after commit (no allocation). */
extern void privacy_sealer_wake(void);

/* Settings of the sealer (audit_sealer.c). */
extern int	privacy_seal_batch_size;

/*
 * The audit area's initialisation, called first by _PG_init: registers the
 * transaction callbacks that write a transaction's entries when it commits
 * (audit_pending.c), the sealer's settings and, when preloaded, its shared
 * memory and launcher (audit_sealer.c).
 */
extern void AuditInit(void);
extern void SealerInit(void);

#endif							/* PRIVACY_AUDIT_H */
