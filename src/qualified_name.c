/*
 * qualified_name.c
 *		privacy._qualified_name(regclass): the schema-qualified, quoted name
 *		of a table, for the dynamic SQL the extension builds. Export,
 *		erasure and retention call it for every table on every call, so it
 *		reads the syscache instead of running a query.
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"

PG_FUNCTION_INFO_V1(privacy_qualified_name);

/* privacy._qualified_name(rel regclass) → text, NULL if there is no such table */
Datum
privacy_qualified_name(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	char	   *relname = get_rel_name(relid);
	char	   *nspname;

	if (relname == NULL)
		PG_RETURN_NULL();
	nspname = get_namespace_name(get_rel_namespace(relid));
	if (nspname == NULL)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text(quote_qualified_identifier(nspname, relname)));
}
