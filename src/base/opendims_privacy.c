/*
 * opendims_privacy.c
 *		Module entry point: calls each area's initialisation when the
 *		library loads.
 *
 * The library works whether it is loaded by shared_preload_libraries,
 * session_preload_libraries, or on first use of one of its functions;
 * docs/operations.md ("Preloading the library") explains what each choice
 * means.
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/guc.h"

#include "audit/audit.h"
#include "base/citus.h"
#include "base/keys.h"
#include "consent/consent.h"
#include "policy/policy.h"
#include "protection/protection.h"
#include "retention/retention.h"
#include "subject/subject.h"
#include "types/types.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

/*
 * Areas without settings, callbacks, hooks or shared memory (rights, guard)
 * have nothing to register here.
 */
void
_PG_init(void)
{
	/*
	 * First, because PostgreSQL calls the most recently registered
	 * transaction callbacks first: the audit log's entries are appended after
	 * the other areas' pre-commit work, and a more specific refusal of
	 * PREPARE TRANSACTION is reported before the audit log's.
	 */
	AuditInit();
	PolicyInit();
	TypesInit();
	ConsentInit();
	ProtectionInit();
	RetentionInit();
	SubjectInit();
	CitusTriggersInit();
	CoordinatorKeysInit();

	MarkGUCPrefixReserved("privacy");
}
