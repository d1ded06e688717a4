/*
 * consent_changes.h
 *		The subjects whose consent state the current transaction changed,
 *		told to the other sessions when it commits (consent_shared.h).
 */
#ifndef PRIVACY_CONSENT_CHANGES_H
#define PRIVACY_CONSENT_CHANGES_H

/*
 * Brackets statements that write the state of the subjects named only:
 * their writes of privacy._ledger_state are counted as touching those
 * subjects. Call begin again, before the statements, to name another
 * subject they write; end it also when a statement fails.
 */
extern void consent_changes_begin_subject(const text *kind, const text *subject);
extern void consent_changes_end_subject(void);

/*
 * From the state's invalidation trigger: a statement wrote
 * privacy._ledger_state; outside a bracket, it may have touched any subject.
 */
extern void consent_changes_state_written(void);

/*
 * Brackets the statement that records the erasure of the subject of kind
 * with reference subject_ref in privacy.erasures: its write is counted as
 * adding that erasure (a Citus worker's copy of the coordinator's erasures
 * then asks for it alone). End it also when the statement fails.
 */
extern void consent_changes_begin_erasure(const char *kind, const char *subject_ref);
extern void consent_changes_end_erasure(void);

/*
 * From the erasures' invalidation trigger: a statement wrote
 * privacy.erasures; outside a bracket, it may have written any erasure.
 */
extern void consent_changes_erasures_written(void);

/* At commit, after it is visible: counts the transaction's change. */
extern void consent_changes_count(void);

/* At the end of every transaction, after counting: forgets what it noted. */
extern void consent_changes_reset(void);

#endif							/* PRIVACY_CONSENT_CHANGES_H */
