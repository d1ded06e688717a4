/*
 * opendims_privacy.c
 *		Module entry point: registers each subsystem when the library loads.
 *
 * The library works whether it is loaded by shared_preload_libraries,
 * session_preload_libraries, or on first use of one of its functions; the
 * README explains what each choice means for the security label provider.
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/guc.h"

#include "consent_shared.h"
#include "opendims_privacy.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

void
_PG_init(void)
{
	/*
	 * First, because PostgreSQL calls the most recently registered
	 * transaction callbacks first: the audit log's entries are appended after
	 * the other subsystems' pre-commit work, and a more specific refusal of
	 * PREPARE TRANSACTION is reported before the audit log's.
	 */
	AuditInit();
	SecurityLabelInit();
	PhoneInit();
	PurposeInit();
	RetentionJobInit();
	ConsentSharedInit();
	SubjectCacheInit();

	MarkGUCPrefixReserved("privacy");
}
