/*
 * event_policy.c
 *		What the policy says a consent event is checked against, read once
 *		per session and again after it changes.
 *
 * Recording a consent event checks that its purpose rests on the action's
 * legal basis and that its source is declared, and records the version of
 * the policy in force (consent_record.c). Those come from three small
 * tables that change when a policy is applied: privacy.purposes,
 * privacy.sources and privacy.policy_versions. They are read together at
 * the first event a session records, with the latest snapshot as a
 * catalog cache is, and kept until one of the three changes: each has a
 * statement trigger that invalidates its relcache entry
 * (privacy_internal._invalidate_consent_cache() on the purposes,
 * _invalidate_subject_cache() on the other two), and the callback here
 * marks what is kept stale. Invalidations are accepted at every lookup, so
 * a change another session commits is seen by the next event recorded in
 * every session, and one made by the same transaction by its next command
 * (and its rollback by the next command after it).
 */
#include "postgres.h"

#include "executor/spi.h"
#include "utils/inval.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"

#include "base/extension_objects.h"
#include "base/relcache_callbacks.h"
#include "consent/event_policy.h"

/* A purpose and its legal basis. */
typedef struct PurposeBasis
{
	char	   *purpose;
	char	   *legal_basis;
} PurposeBasis;

/* What is kept, allocated in policy_context. */
static PurposeBasis *purposes = NULL;
static int	npurposes = 0;
static char **sources = NULL;
static int	nsources = 0;
static char *policy_version = NULL;

static MemoryContext policy_context = NULL;
static bool callback_registered = false;

/* The tables read, whose invalidation makes what is kept stale. */
static Oid	policy_relids[3];

/*
 * Whether what is kept was read to the end, and whether a table it was read
 * from changed since the read began.
 */
static bool policy_complete = false;
static bool policy_stale = true;

static void
event_policy_relcache_callback(Datum arg, Oid relid)
{
	if (!OidIsValid(relid))
		policy_stale = true;
	for (int i = 0; i < lengthof(policy_relids); i++)
		if (relid == policy_relids[i])
			policy_stale = true;
}

/* Runs a query of the extension's tables with the latest snapshot. */
static void
read_latest(const char *sql)
{
	int			rc;

	PushActiveSnapshot(GetLatestSnapshot());
	rc = SPI_execute(sql, true, 0);
	PopActiveSnapshot();
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "could not read the policy of consent events: %s", SPI_result_code_string(rc));
}

/* Column column of row row of the last query's result, copied into policy_context; NULL for a null. */
static char *
kept_value(uint64 row, int column)
{
	char	   *value = SPI_getvalue(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, column);

	return value == NULL ? NULL : MemoryContextStrdup(policy_context, value);
}

/*
 * Reads the three tables. An invalidation that arrives while they are read
 * leaves what was read stale, to be read again at the next lookup.
 */
static void
read_policy(void)
{
	policy_complete = false;
	policy_stale = false;
	policy_relids[0] = privacy_required_relid("purposes");
	policy_relids[1] = privacy_required_relid("sources");
	policy_relids[2] = privacy_required_relid("policy_versions");
	if (policy_context == NULL)
		policy_context = AllocSetContextCreate(TopMemoryContext, "opendims_privacy consent event policy",
											   ALLOCSET_SMALL_SIZES);
	else
		MemoryContextReset(policy_context);

	read_latest("SELECT p.name, p.legal_basis FROM privacy.purposes p");
	npurposes = (int) SPI_processed;
	purposes = MemoryContextAlloc(policy_context, sizeof(PurposeBasis) * Max(npurposes, 1));
	for (int i = 0; i < npurposes; i++)
	{
		purposes[i].purpose = kept_value(i, 1);
		purposes[i].legal_basis = kept_value(i, 2);
	}

	read_latest("SELECT s.name FROM privacy.sources s");
	nsources = (int) SPI_processed;
	sources = MemoryContextAlloc(policy_context, sizeof(char *) * Max(nsources, 1));
	for (int i = 0; i < nsources; i++)
		sources[i] = kept_value(i, 1);

	read_latest("SELECT pv.version FROM privacy.policy_versions pv ORDER BY pv.id DESC LIMIT 1");
	policy_version = SPI_processed == 1 ? kept_value(0, 1) : NULL;

	policy_complete = true;
}

/* Makes what is kept current. */
static void
refresh(void)
{
	if (!callback_registered)
	{
		privacy_register_relcache_callback(event_policy_relcache_callback);
		callback_registered = true;
	}
	AcceptInvalidationMessages();
	if (policy_stale || !policy_complete)
		read_policy();
}

const char *
event_policy_legal_basis(const char *purpose)
{
	refresh();
	for (int i = 0; i < npurposes; i++)
		if (strcmp(purposes[i].purpose, purpose) == 0)
			return purposes[i].legal_basis;
	return NULL;
}

bool
event_policy_source_declared(const char *source)
{
	refresh();
	for (int i = 0; i < nsources; i++)
		if (strcmp(sources[i], source) == 0)
			return true;
	return false;
}

const char *
event_policy_version(void)
{
	refresh();
	return policy_version;
}
