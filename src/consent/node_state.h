/*
 * node_state.h
 *		The purpose and consent state that a statement the Citus coordinator
 *		sends to a worker carries there (purpose_forward.c), and the worker's
 *		copy of the coordinator's purposes, purpose grants, consent state and
 *		erasures that the row check reads while such a statement runs
 *		(node_state.c).
 */
#ifndef PRIVACY_NODE_STATE_H
#define PRIVACY_NODE_STATE_H

#include "consent/consent_state.h"
#include "consent/purpose.h"

/*
 * Whether the current transaction runs a statement forwarded by the
 * coordinator: the row check then reads the coordinator's state and the
 * forwarded purpose instead of this node's tables and settings.
 */
extern bool privacy_node_state_active(void);

/*
 * How a forwarded purpose is spelled: a declared purpose by its name, the
 * coordinator's privacy.default_purpose as PRIVACY_FORWARDED_DEFAULT and
 * its name (no purpose name starts with it), none as "". At most
 * PRIVACY_CLAIM_LEN bytes with the terminating zero.
 */
#define PRIVACY_FORWARDED_DEFAULT '='
#define PRIVACY_CLAIM_LEN (NAMEDATALEN + 1)

/* The purpose the coordinator forwarded, spelled as above; while active. */
extern const char *privacy_node_claim(void);

/*
 * Takes in a forwarded statement's purpose and state version: copies the
 * coordinator's state again if the version differs from the copy's.
 */
extern void privacy_node_state_accept(const char *claim, const char *version);

/* The coordinator's consent state as an image; while active. */
extern StateImage *privacy_node_image(void);

/*
 * Looks a purpose up in the coordinator's purposes and grants, as
 * purpose_lookup() does in this node's tables; role InvalidOid skips the
 * grant.
 */
extern bool privacy_node_purpose_lookup(const char *name, Oid role, PurposeBasis *basis,
										bool *allowed_under_restriction, bool *allowed);

/* Whether the coordinator has an erasure of the subject reference (NULL: of any subject of the kind). */
extern bool privacy_node_erased(const char *kind, const char *subject_ref);

/*
 * The coordinator's consent state version: it changes with every committed
 * change of the state, the purposes or the purpose grants, and with a
 * restart of the server.
 */
extern char *privacy_state_version(void);

/*
 * purpose_forward.c: invalidates the cached plans of this session that
 * carry a forwarded purpose and state version, if it made any; called when
 * either changes.
 */
extern void privacy_forwarded_plans_reset(void);

/* node_state.c and purpose_forward.c: the callbacks and the planner hook. */
extern void NodeStateInit(void);
extern void PurposeForwardInit(void);

/* consent_check.c: starts a new cache generation (every call site resolves again). */
extern void consent_cache_invalidate(void);

#endif							/* PRIVACY_NODE_STATE_H */
