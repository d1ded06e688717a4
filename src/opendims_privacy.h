/*
 * opendims_privacy.h
 *		Declarations shared between the subsystems of the extension: each
 *		subsystem's initialisation function, called from _PG_init.
 */
#ifndef OPENDIMS_PRIVACY_H
#define OPENDIMS_PRIVACY_H

/* security_label.c: the "privacy" security label provider */
extern void SecurityLabelInit(void);

/* phone.c: the privacy.default_country_code setting */
extern void PhoneInit(void);

/* purpose.c: the privacy.purpose and privacy.default_purpose settings, and the row-check caches */
extern void PurposeInit(void);

/* retention_job.c: the privacy.retention_nice setting */
extern void RetentionJobInit(void);

/* audit_pending.c: a transaction's audit log entries, appended when it commits */
extern void AuditInit(void);

/* subject/subject_cache.c: the invalidation callbacks of the subject cache */
extern void SubjectCacheInit(void);

#endif							/* OPENDIMS_PRIVACY_H */
