/*
 * extension_objects.c
 *		Finding the extension's own tables from C, and acting as their owner.
 *
 * Code that runs on behalf of any role (triggers, type functions, the label
 * provider) sometimes has to read or append to tables that no ordinary role
 * may touch: the secret keys, the audit log, the catalog. It does so as the
 * tables' owner, the way PostgreSQL's own referential-integrity triggers act
 * as the owner of the referenced table.
 *
 * Whatever the extension runs on someone's behalf (as the owner, or as the
 * caller where the result decides what is protected) runs with search_path
 * pinned to pg_catalog, pg_temp, so that no operator, function or type the
 * caller created can be reached through the caller's search_path.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "commands/trigger.h"
#include "miscadmin.h"
#include "utils/guc.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"

#include "base/extension_objects.h"

Oid
privacy_relid(const char *relname)
{
	Oid			nsp = get_namespace_oid(PRIVACY_SCHEMA, true);

	return OidIsValid(nsp) ? get_relname_relid(relname, nsp) : InvalidOid;
}

Oid
privacy_relation_owner(Oid relid)
{
	HeapTuple	tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	Oid			owner;

	if (!HeapTupleIsValid(tuple))
		elog(ERROR, "cache lookup failed for relation %u", relid);
	owner = ((Form_pg_class) GETSTRUCT(tuple))->relowner;
	ReleaseSysCache(tuple);
	return owner;
}

Oid
privacy_required_relid(const char *relname)
{
	Oid			relid = privacy_relid(relname);

	if (!OidIsValid(relid))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("relation \"%s.%s\" does not exist", PRIVACY_SCHEMA, relname),
				 errhint("Install the extension in this database with CREATE EXTENSION opendims_privacy CASCADE.")));
	return relid;
}

Oid
privacy_table_owner(const char *relname)
{
	return privacy_relation_owner(privacy_required_relid(relname));
}

int
privacy_pin_search_path(void)
{
	int			nestlevel = NewGUCNestLevel();

	(void) set_config_option("search_path", PRIVACY_PINNED_SEARCH_PATH,
							 PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	return nestlevel;
}

/*
 * Every setting changed since the pin goes back to its value before it,
 * also one that code run in between set for the session (SET without
 * LOCAL, set_config(..., false)): a table owner's trigger run by the
 * erasure must not change the caller's search_path. PostgreSQL ends its own
 * security-restricted operations (ANALYZE, REFRESH MATERIALIZED VIEW) the
 * same way.
 */
void
privacy_unpin_search_path(int nestlevel)
{
	AtEOXact_GUC(false, nestlevel);
}

void
privacy_begin_as_role(Oid role, int extra_sec_context, PrivacyUserContext *save)
{
	GetUserIdAndSecContext(&save->userid, &save->sec_context);
	save->guc_nestlevel = privacy_pin_search_path();
	SetUserIdAndSecContext(role, save->sec_context |
						   SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION |
						   extra_sec_context);
}

void
privacy_begin_as_owner(const char *relname, PrivacyUserContext *save)
{
	privacy_begin_as_role(privacy_table_owner(relname), 0, save);
}

void
privacy_end_as_owner(const PrivacyUserContext *save)
{
	SetUserIdAndSecContext(save->userid, save->sec_context);
	privacy_unpin_search_path(save->guc_nestlevel);
}

void
privacy_invalidate_trigger_relation(FunctionCallInfo fcinfo, const char *function)
{
	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("%s must be called as a trigger", function)));
	CacheInvalidateRelcache(((TriggerData *) fcinfo->context)->tg_relation);
}
