/*
 * consent.h
 *		The consent area: purpose-bound sessions, the consent ledger's state
 *		and the per-row check that row security calls.
 */
#ifndef PRIVACY_CONSENT_H
#define PRIVACY_CONSENT_H

/*
 * Defines the privacy.purpose and privacy.default_purpose settings and the
 * row check's caches (purpose.c), and requests the shared memory the
 * consent state is shared through when the library is preloaded
 * (consent_shared.c).
 */
extern void ConsentInit(void);

#endif							/* PRIVACY_CONSENT_H */
