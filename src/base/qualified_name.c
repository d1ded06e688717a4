/*
 * qualified_name.c
 *		The schema-qualified, quoted name of a table, for C callers and as
 *		privacy_internal._qualified_name(regclass) for the dynamic SQL the extension
 *		builds. Export, erasure and retention call it for every table on
 *		every call, so it reads the syscache instead of running a query.
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"

#include "base/qualified_name.h"

PG_FUNCTION_INFO_V1(privacy_qualified_name_sql);

char *
privacy_qualified_name(Oid relid)
{
	char	   *relname = get_rel_name(relid);
	char	   *nspname;

	if (relname == NULL)
		return NULL;
	nspname = get_namespace_name(get_rel_namespace(relid));
	if (nspname == NULL)
		return NULL;
	return quote_qualified_identifier(nspname, relname);
}

/* privacy_internal._qualified_name(rel regclass) → text, NULL if there is no such table */
Datum
privacy_qualified_name_sql(PG_FUNCTION_ARGS)
{
	char	   *name = privacy_qualified_name(PG_GETARG_OID(0));

	if (name == NULL)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text(name));
}
