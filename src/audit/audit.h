/*
 * audit.h
 *		Writing to the tamper-evident audit log (privacy.audit_log) from C.
 */
#ifndef PRIVACY_AUDIT_H
#define PRIVACY_AUDIT_H

/*
 * Writes one entry to privacy.audit_log (appended when the transaction
 * commits), as the log's owner, so it works for callers with no privilege
 * on the log. kind and subject may be NULL (the entry then names no data
 * subject); summary_json is a JSON object that must hold no personal values.
 */
extern void privacy_audit_event(const char *action, const char *kind,
								const char *subject, const char *summary_json);

/*
 * The audit area's initialisation, called first by _PG_init: registers the
 * transaction callbacks that append a transaction's entries to the chain
 * when it commits (audit_pending.c).
 */
extern void AuditInit(void);

#endif							/* PRIVACY_AUDIT_H */
