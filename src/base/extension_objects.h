/*
 * extension_objects.h
 *		Finding the extension's own tables from C, and acting as their owner.
 */
#ifndef PRIVACY_EXTENSION_OBJECTS_H
#define PRIVACY_EXTENSION_OBJECTS_H

#include "fmgr.h"

/* The schema of the extension's public objects (not relocatable). */
#define PRIVACY_SCHEMA "privacy"

/* The schema of the functions only the extension calls. */
#define PRIVACY_INTERNAL_SCHEMA "privacy_internal"

/* The OID of privacy.<relname>, or InvalidOid when it does not exist. */
extern Oid	privacy_relid(const char *relname);

/* The OID of privacy.<relname>; an error if it does not exist. */
extern Oid	privacy_required_relid(const char *relname);

/* The OID of the owner of relation relid (which must exist). */
extern Oid	privacy_relation_owner(Oid relid);

/* The OID of the owner of table privacy.<relname>; an error if it is missing. */
extern Oid	privacy_table_owner(const char *relname);

/*
 * Statements the extension runs on someone's behalf resolve names in
 * pg_catalog only, then pg_temp: privacy_pin_search_path() sets search_path
 * to "pg_catalog, pg_temp" the way a function's SET clause does and returns
 * the GUC nest level that privacy_unpin_search_path() restores the caller's
 * value from; the unpin must run in PG_FINALLY. (Unqualified, pg_temp would
 * be searched first for types and relations, and any schema of the caller's
 * path for operators and functions.)
 */
#define PRIVACY_PINNED_SEARCH_PATH "pg_catalog, pg_temp"

extern int	privacy_pin_search_path(void);
extern void privacy_unpin_search_path(int nestlevel);

/*
 * Switches the current user to the owner of privacy.<relname>, in a
 * restricted security context and with search_path pinned as above;
 * privacy_end_as_owner() switches back and must run in PG_FINALLY. The
 * caller's user and settings are saved in *save.
 */
typedef struct PrivacyUserContext
{
	Oid			userid;
	int			sec_context;
	int			guc_nestlevel;
} PrivacyUserContext;

extern void privacy_begin_as_owner(const char *relname, PrivacyUserContext *save);
extern void privacy_end_as_owner(const PrivacyUserContext *save);

/*
 * The same for any role (a table's owner, for statements run on its table),
 * with extra security-context flags such as SECURITY_NOFORCE_RLS; ended by
 * privacy_end_as_owner().
 */
extern void privacy_begin_as_role(Oid role, int extra_sec_context, PrivacyUserContext *save);

/*
 * The body of a statement trigger that tells every backend its table
 * changed: queues a relcache invalidation of the table (processed by this
 * backend at its next command, by the others once the change commits);
 * function names the SQL function in the error raised when fcinfo is not a
 * trigger call.
 */
extern void privacy_invalidate_trigger_relation(FunctionCallInfo fcinfo, const char *function);

#endif							/* PRIVACY_EXTENSION_OBJECTS_H */
