/*
 * security_label.c
 *		The "privacy" security label provider:
 *			SECURITY LABEL FOR privacy ON COLUMN t.c IS 'contact.email';
 *		classifies a column into a category of the policy's taxonomy.
 *
 * Labels are stored by PostgreSQL in pg_seclabel (and so kept by pg_dump) and
 * read back by the view privacy.classified_columns. The provider exists once
 * the library is loaded: by shared_preload_libraries or
 * session_preload_libraries, or by the first call of one of the extension's
 * functions in the session.
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "commands/seclabel.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"

#include "base/extension_objects.h"
#include "policy/policy.h"

/* Looks a category up: false if it does not exist, else *special is set. */
static bool
lookup_category(const char *name, bool *special)
{
	Oid			argtypes[1] = {TEXTOID};
	Datum		values[1] = {CStringGetTextDatum(name)};
	bool		found = false;
	int			nestlevel = privacy_pin_search_path();

	PG_TRY();
	{
		SPI_connect();
		if (SPI_execute_with_args("SELECT c.special FROM privacy.categories c WHERE c.name OPERATOR(pg_catalog.=) $1",
								  1, argtypes, values, NULL, true, 1) != SPI_OK_SELECT)
			elog(ERROR, "could not look up category \"%s\"", name);
		if (SPI_processed == 1)
		{
			bool		isnull;

			*special = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0],
												  SPI_tuptable->tupdesc, 1, &isnull));
			found = true;
		}
		SPI_finish();
	}
	PG_FINALLY();
	{
		privacy_unpin_search_path(nestlevel);
	}
	PG_END_TRY();
	return found;
}

/*
 * A label classifies a column like a row of privacy.classifications does:
 * the subject cache of every session learns of it through that table's
 * relcache entry (subject_cache.c).
 */
static void
invalidate_classifications(void)
{
	Oid			nsp = get_namespace_oid(PRIVACY_SCHEMA, true);
	Oid			relid = OidIsValid(nsp) ? get_relname_relid("classifications", nsp) : InvalidOid;

	if (OidIsValid(relid))
		CacheInvalidateRelcacheByRelid(relid);
}

/* Checks a label before PostgreSQL stores it. */
static void
privacy_object_relabel(const ObjectAddress *object, const char *seclabel)
{
	char		relkind;
	bool		special = false;

	/* Removing a label (IS NULL) is always allowed. */
	if (seclabel == NULL)
	{
		invalidate_classifications();
		return;
	}

	if (object->classId != RelationRelationId || object->objectSubId == 0)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("security label provider \"privacy\" labels only columns of tables"),
				 errhint("Use SECURITY LABEL FOR privacy ON COLUMN table.column IS 'category'.")));

	relkind = get_rel_relkind(object->objectId);
	if (relkind != RELKIND_RELATION && relkind != RELKIND_PARTITIONED_TABLE)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("security label provider \"privacy\" labels only columns of tables"),
				 errdetail("\"%s\" is not a table.", get_rel_name(object->objectId))));

	if (!OidIsValid(get_extension_oid("opendims_privacy", true)))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("extension \"opendims_privacy\" is not installed in this database"),
				 errhint("Run CREATE EXTENSION opendims_privacy CASCADE first.")));

	if (!lookup_category(seclabel, &special))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unrecognized privacy category \"%s\"", seclabel),
				 errhint("Use a category of the policy in force; privacy.categories lists them.")));
	if (special)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("category \"%s\" is a special category", seclabel),
				 errdetail("The policy in force refuses to hold data of this category."),
				 errhint("Do not store such data; see privacy.discover() and privacy.guard() to find and keep it out.")));
	invalidate_classifications();
}

void
PolicyInit(void)
{
	register_label_provider("privacy", privacy_object_relabel);
}
