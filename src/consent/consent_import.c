/*
 * consent_import.c
 *		privacy.import_consents(): the consents of many subjects, read from a
 *		staging table the caller filled (by COPY or a query), recorded in
 *		the consent ledger in one set-based operation.
 *
 * The caller must be able to read the staging table without row security
 * (checked here, as the caller); the import itself runs as the extension's
 * owner, in privacy_internal._import_consents(), which validates every row
 * and writes nothing unless all of them pass. The subject kind's anchor,
 * key column, key type and its equality operator come from the subject
 * cache, quoted and schema-qualified, for the existence check.
 */
#include "postgres.h"

#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/rls.h"

#include "base/extension_objects.h"
#include "subject/subject.h"

PG_FUNCTION_INFO_V1(privacy_import_consents);

/* The staging table's optional column, which must have the given type if present. */
static bool
optional_column(Oid relid, const char *name, Oid type)
{
	AttrNumber	attnum = get_attnum(relid, name);

	if (attnum == InvalidAttrNumber)
		return false;
	if (get_atttype(relid, attnum) != type)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("column \"%s\" of staging table \"%s\" must be of type %s",
						name, get_rel_name(relid), format_type_be(type))));
	return true;
}

/* Checks that the caller may read every row of the staging table. */
static void
check_staging_table(Oid relid)
{
	char		relkind = get_rel_relkind(relid);
	AclResult	acl;

	if (relkind != RELKIND_RELATION && relkind != RELKIND_PARTITIONED_TABLE)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("cannot import consents from \"%s\"", get_rel_name(relid)),
				 errdetail("Consents are imported from a table."),
				 errhint("Load the rows into a table first, with COPY or CREATE TABLE ... AS.")));
	acl = pg_class_aclcheck(relid, GetUserId(), ACL_SELECT);
	if (acl != ACLCHECK_OK)
		aclcheck_error(acl, OBJECT_TABLE, get_rel_name(relid));
	if (check_enable_rls(relid, InvalidOid, true) == RLS_ENABLED)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("cannot import consents from table \"%s\", which has row security for the current role",
						get_rel_name(relid)),
				 errhint("Import from a table whose rows the current role reads without row security.")));
	if (get_attnum(relid, "subject") == InvalidAttrNumber)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("staging table \"%s\" has no column \"subject\"", get_rel_name(relid)),
				 errhint("The staging table holds one row per subject: subject, and optionally granted_at (timestamptz) and evidence (jsonb).")));
}

/*
 * privacy.import_consents(kind, purpose, source, staging regclass, evidence)
 * → jsonb: what was imported and skipped.
 */
Datum
privacy_import_consents(PG_FUNCTION_ARGS)
{
	Oid			relid;
	SubjectKind *kind;
	PrivacyUserContext save;
	Datum		result = (Datum) 0;
	Oid			argtypes[11] = {TEXTOID, TEXTOID, TEXTOID, REGCLASSOID, BOOLOID, BOOLOID,
	JSONBOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID};
	Datum		values[11];
	char		nulls[11];
	bool		isnull;
	int			i;

	if (PG_ARGISNULL(3))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("staging table must not be null")));
	relid = PG_GETARG_OID(3);
	check_staging_table(relid);

	kind = subject_kind_acquire(subject_kind_argument(fcinfo, 0), false);
	PG_TRY();
	{
		for (i = 0; i < 11; i++)
			nulls[i] = ' ';
		for (i = 0; i < 3; i++)
		{
			values[i] = PG_GETARG_DATUM(i);
			if (PG_ARGISNULL(i))
				nulls[i] = 'n';
		}
		values[3] = ObjectIdGetDatum(relid);
		values[4] = BoolGetDatum(optional_column(relid, "granted_at", TIMESTAMPTZOID));
		values[5] = BoolGetDatum(optional_column(relid, "evidence", JSONBOID));
		values[6] = PG_GETARG_DATUM(4);
		if (PG_ARGISNULL(4))
			nulls[6] = 'n';
		values[7] = CStringGetTextDatum(kind->anchor_name);
		values[8] = CStringGetTextDatum(quote_identifier(kind->key_column));
		values[9] = CStringGetTextDatum(kind->key_type_sql);
		values[10] = CStringGetTextDatum(kind->key_operator);

		privacy_begin_as_owner("consent_ledger", &save);
		PG_TRY();
		{
			if (SPI_connect() != SPI_OK_CONNECT)
				elog(ERROR, "could not connect to SPI");
			if (SPI_execute_with_args("SELECT privacy_internal._import_consents($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
									  11, argtypes, values, nulls, false, 1) != SPI_OK_SELECT ||
				SPI_processed != 1)
				elog(ERROR, "could not import consents");
			result = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
			result = SPI_datumTransfer(result, false, -1);
			SPI_finish();
		}
		PG_FINALLY();
		{
			privacy_end_as_owner(&save);
		}
		PG_END_TRY();
	}
	PG_FINALLY();
	{
		subject_kind_release(kind);
	}
	PG_END_TRY();
	PG_RETURN_DATUM(result);
}
