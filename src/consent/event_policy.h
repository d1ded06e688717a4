/*
 * event_policy.h
 *		What the policy says a consent event is checked against: the legal
 *		basis of each purpose, the declared sources and the policy version
 *		in force, kept for the session (event_policy.c).
 */
#ifndef PRIVACY_EVENT_POLICY_H
#define PRIVACY_EVENT_POLICY_H

/*
 * The legal basis of a purpose of privacy.purposes, or NULL if there is no
 * such purpose. Must be called inside SPI_connect, as a role that may read
 * the extension's tables.
 */
extern const char *event_policy_legal_basis(const char *purpose);

/* Whether privacy.sources declares a source (as event_policy_legal_basis()). */
extern bool event_policy_source_declared(const char *source);

/* The version of the latest policy applied, or NULL if none was (as event_policy_legal_basis()). */
extern const char *event_policy_version(void);

#endif							/* PRIVACY_EVENT_POLICY_H */
