/*
 * policy.h
 *		The policy area: the policy document, the catalog it is written to,
 *		lint, discovery and the "privacy" security label provider.
 */
#ifndef PRIVACY_POLICY_H
#define PRIVACY_POLICY_H

#include "utils/relcache.h"

/* Registers the "privacy" security label provider (security_label.c). */
extern void PolicyInit(void);

/*
 * Whether column attnum of rel alone is covered by a valid, immediate unique
 * index without a predicate or an expression, so that a value of it names
 * at most one row (policy_document.c).
 */
extern bool column_is_unique(Relation rel, AttrNumber attnum);

#endif							/* PRIVACY_POLICY_H */
