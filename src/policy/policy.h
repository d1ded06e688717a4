/*
 * policy.h
 *		The policy area: the policy document, the catalog it is written to,
 *		lint, discovery and the "privacy" security label provider.
 */
#ifndef PRIVACY_POLICY_H
#define PRIVACY_POLICY_H

/* Registers the "privacy" security label provider (security_label.c). */
extern void PolicyInit(void);

#endif							/* PRIVACY_POLICY_H */
