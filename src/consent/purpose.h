/*
 * purpose.h
 *		The purpose a session processes personal data for (privacy.purpose,
 *		privacy.default_purpose) and the roles allowed each purpose; shared
 *		with the per-row check in consent_check.c.
 */
#ifndef PRIVACY_PURPOSE_H
#define PRIVACY_PURPOSE_H

#include "miscadmin.h"

/* A purpose's legal basis, as the row check needs it. */
typedef enum PurposeBasis
{
	PURPOSE_BASIS_CONTRACT,
	PURPOSE_BASIS_LEGITIMATE_INTEREST,
	PURPOSE_BASIS_CONSENT,
	PURPOSE_BASIS_LEGAL_OBLIGATION
} PurposeBasis;

/* The legal basis named basis (as privacy.purposes spells it). */
extern PurposeBasis privacy_purpose_basis(const char *basis);

/* The purpose in force for the current statement, checked. */
typedef struct ResolvedPurpose
{
	bool		none;			/* no purpose declared and no default */
	bool		is_default;		/* from privacy.default_purpose */
	char		name[NAMEDATALEN];
	PurposeBasis basis;
	bool		allowed_under_restriction;
} ResolvedPurpose;

/*
 * Identifies the inputs of privacy_resolve_purpose(): a resolution stays
 * valid while the stamp is unchanged and no catalog change was signalled.
 */
typedef struct PurposeStamp
{
	uint64		generation;		/* bumped whenever either setting changes */
	Oid			userid;			/* GetUserId() */
	Oid			outer_userid;	/* GetOuterUserId() */
} PurposeStamp;

/* Bumped whenever privacy.purpose or privacy.default_purpose changes. */
extern uint64 privacy_purpose_generation;

extern void privacy_purpose_stamp(PurposeStamp *stamp);
extern bool privacy_purpose_stamp_equal(const PurposeStamp *a, const PurposeStamp *b);

/* Whether a stamp still describes the current settings and roles (per row). */
static inline bool
privacy_purpose_stamp_current(const PurposeStamp *stamp)
{
	return stamp->generation == privacy_purpose_generation &&
		stamp->userid == GetUserId() && stamp->outer_userid == GetOuterUserId();
}

/*
 * Resolves the purpose in force for the current role, re-validating it:
 * an error (42501) if the role, or the role that set it, is not allowed it.
 */
extern void privacy_resolve_purpose(ResolvedPurpose *out);

/* purpose_scope.c: defines privacy.purpose_scope and its checks. */
extern void PurposeScopeInit(void);

/*
 * purpose_scope.c: an error (42501) if privacy.purpose_scope is
 * "transaction" and the purpose in force outlives the transaction.
 */
extern void privacy_purpose_check_scope(void);

/* consent_check.c: registers the cache invalidation callbacks. */
extern void ConsentCheckInit(void);

#endif							/* PRIVACY_PURPOSE_H */
