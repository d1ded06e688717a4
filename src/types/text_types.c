/*
 * text_types.c
 *		Which column types hold free text that can be scanned for personal
 *		data (discovery, the sensitive-data guard).
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/dependency.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"

#include "types/text_types.h"

/* Whether typid is the citext type of the citext extension. */
static bool
is_citext(Oid typid)
{
	Oid			citext_ext = get_extension_oid("citext", true);
	HeapTuple	tup;
	bool		named_citext;

	if (!OidIsValid(citext_ext))
		return false;
	tup = SearchSysCache1(TYPEOID, ObjectIdGetDatum(typid));
	if (!HeapTupleIsValid(tup))
		return false;
	named_citext = strcmp(NameStr(((Form_pg_type) GETSTRUCT(tup))->typname), "citext") == 0;
	ReleaseSysCache(tup);
	return named_citext && getExtensionOfObject(TypeRelationId, typid) == citext_ext;
}

bool
privacy_is_text_type(Oid typid, bool include_json)
{
	Oid			base = getBaseType(typid);

	switch (base)
	{
		case TEXTOID:
		case VARCHAROID:
		case BPCHAROID:
			return true;
		case JSONOID:
		case JSONBOID:
			return include_json;
		default:
			return is_citext(base);
	}
}
