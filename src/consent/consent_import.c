/*
 * consent_import.c
 *		privacy.import_consents(): the consents of many subjects, read from a
 *		staging table the caller filled (by COPY or a query), recorded in
 *		the consent ledger in one set-based operation.
 *
 * The caller must be able to read the staging table without row security
 * (checked here, as the caller); the import itself runs as the extension's
 * owner, with search_path pinned. One statement reads the staging table
 * once, into its canonical keys; counts the rows with each problem (a
 * subject named twice, granted_at in the future, evidence that is not an
 * object, a subject that does not exist and was not erased), comparing the
 * keys with the kind's anchor table and the ledger as joins rather than a
 * lookup per row; and, only when there is no problem, returns one event
 * per subject that exists and has no event for the purpose yet. Its rows
 * are read through a cursor, a batch at a time: the errors are raised from
 * the counts in the first batch, before anything is written, and the
 * events and their state are appended to the ledger and the state as COPY
 * appends rows (ledger_append.h). A state row already there for a subject
 * without history (a concurrent event a REPEATABLE READ snapshot did not
 * see, or a state changed by hand) stops the import with an error that
 * names no subject. The staging table's subject column is cast to text as
 * the owner: a user-defined cast, which would run a function its author
 * chose with the owner's rights, is refused.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/pg_class.h"
#include "catalog/pg_language.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "parser/parse_coerce.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/regproc.h"
#include "utils/rel.h"
#include "utils/relcache.h"
#include "utils/rls.h"
#include "utils/syscache.h"

#include "audit/audit.h"
#include "base/extension_objects.h"
#include "consent/ledger_append.h"
#include "policy/policy.h"
#include "subject/subject.h"

PG_FUNCTION_INFO_V1(privacy_import_consents);
PG_FUNCTION_INFO_V1(privacy_import_key);

/* The kind whose consents the import's statement records, while it runs. */
static SubjectKind *importing_kind = NULL;

/* The columns of the import statement's rows: the counts, then an event's. */
enum
{
	N_ROWS = 1, N_DISTINCT, N_FUTURE, N_BAD_EVIDENCE, N_ABSENT, N_ERASED, EVENT_SUBJECT, EVENT_EVIDENCE
};

/* The events read and appended at a time. */
#define IMPORT_BATCH 1000

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

/*
 * Refuses a subject column whose cast to text calls a function that is not
 * built in or written in C: the import casts it as the extension's owner.
 */
static void
check_subject_cast(Oid relid, Oid type)
{
	Oid			funcid = InvalidOid;
	HeapTuple	proc;
	Oid			language;

	if (find_coercion_pathway(TEXTOID, type, COERCION_EXPLICIT, &funcid) != COERCION_PATH_FUNC)
		return;
	proc = SearchSysCache1(PROCOID, ObjectIdGetDatum(funcid));
	if (!HeapTupleIsValid(proc))
		elog(ERROR, "cache lookup failed for function %u", funcid);
	language = ((Form_pg_proc) GETSTRUCT(proc))->prolang;
	ReleaseSysCache(proc);
	if (language != INTERNALlanguageId && language != ClanguageId)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("cannot import consents from \"%s\": its column \"subject\" is cast to text by function %s",
						get_rel_name(relid), format_procedure(funcid)),
				 errdetail("The import reads the staging table as the extension's owner, which runs no function a user wrote."),
				 errhint("Load the subject keys into a column of type text, or of the subject kind's key type.")));
}

/* Checks that the caller may read every row of the staging table. */
static void
check_staging_table(Oid relid)
{
	char		relkind = get_rel_relkind(relid);
	AclResult	acl;
	AttrNumber	subject;

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
	subject = get_attnum(relid, "subject");
	if (subject == InvalidAttrNumber)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("staging table \"%s\" has no column \"subject\"", get_rel_name(relid)),
				 errhint("The staging table holds one row per subject: subject, and optionally granted_at (timestamptz) and evidence (jsonb).")));
	check_subject_cast(relid, get_atttype(relid, subject));
}

/* Whether a key matches at most one row of the kind's anchor table. */
static bool
anchor_key_is_unique(SubjectKind *kind)
{
	Relation	anchor = table_open(kind->anchor, AccessShareLock);
	bool		unique = column_is_unique(anchor, get_attnum(kind->anchor, kind->key_column));

	table_close(anchor, AccessShareLock);
	return unique;
}

/*
 * The import's statement: $1 kind, $2 purpose, $3 the import's evidence.
 */
static char *
import_sql(Oid relid, SubjectKind *kind)
{
	StringInfoData sql;
	char	   *match;
	char	   *staged;

	match = psprintf("a.%s %s s.key::%s", quote_identifier(kind->key_column),
					 kind->key_operator, kind->key_type_sql);
	initStringInfo(&sql);

	/*
	 * Each staged row with its canonical key (an invalid or null key is an
	 * error), computed once, and whether the subject exists: one join with
	 * the anchor table.
	 */
	staged = psprintf("SELECT privacy_internal._import_key(x.subject::pg_catalog.text) AS key,"
					  " %s AS granted_at, %s AS evidence FROM %s x",
					  optional_column(relid, "granted_at", TIMESTAMPTZOID) ? "x.granted_at" : "NULL::pg_catalog.timestamptz",
					  optional_column(relid, "evidence", JSONBOID) ? "x.evidence" : "NULL::pg_catalog.jsonb",
					  quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)),
												 get_rel_name(relid)));
	if (anchor_key_is_unique(kind))
		appendStringInfo(&sql,
						 "WITH classified AS MATERIALIZED ("
						 " SELECT s.*, a.%s IS NOT NULL AS present FROM (%s OFFSET 0) s LEFT JOIN %s a ON %s),",
						 quote_identifier(kind->key_column), staged, kind->anchor_name, match);
	else
		appendStringInfo(&sql,
						 "WITH staged AS MATERIALIZED (%s),"
						 " classified AS MATERIALIZED ("
						 " SELECT s.*, true AS present FROM staged s WHERE EXISTS (SELECT FROM %s a WHERE %s)"
						 " UNION ALL"
						 " SELECT s.*, false FROM staged s WHERE NOT EXISTS (SELECT FROM %s a WHERE %s)),",
						 staged, kind->anchor_name, match, kind->anchor_name, match);
	/*
	 * The rows with each problem; a subject that does not exist may have
	 * been erased since the previous store recorded it, and is skipped.
	 */
	appendStringInfoString(&sql,
						   " checked AS MATERIALIZED ("
						   " SELECT pg_catalog.count(*) AS n_rows,"
						   " (SELECT pg_catalog.count(*) FROM (SELECT DISTINCT d.key FROM classified d) d) AS n_distinct,"
						   " pg_catalog.count(*) FILTER (WHERE c.granted_at OPERATOR(pg_catalog.>) pg_catalog.now()) AS n_future,"
						   " pg_catalog.count(*) FILTER (WHERE pg_catalog.jsonb_typeof(c.evidence) OPERATOR(pg_catalog.<>) 'object') AS n_bad_evidence,"
						   " pg_catalog.count(*) FILTER (WHERE NOT c.present) AS n_absent,"
						   " pg_catalog.count(*) FILTER (WHERE NOT c.present AND privacy_internal._subject_erased($1, c.key)) AS n_erased"
						   " FROM classified c)");

	/*
	 * Only if no row has a problem: one event per subject that exists and
	 * whose ledger holds no event for the purpose (its history stands),
	 * with its evidence: the import's, the row's, and that it was imported
	 * (when granted). Each row carries the counts; without an event, one
	 * row carries them alone.
	 */
	appendStringInfoString(&sql,
						   " SELECT k.n_rows, k.n_distinct, k.n_future, k.n_bad_evidence, k.n_absent, k.n_erased,"
						   " e.key, e.evidence"
						   " FROM checked k LEFT JOIN LATERAL ("
						   " SELECT c.key,"
						   " $3 OPERATOR(pg_catalog.||) COALESCE(c.evidence, '{}')"
						   " OPERATOR(pg_catalog.||) CASE WHEN c.granted_at IS NULL THEN '{\"imported\": true}'::pg_catalog.jsonb"
						   " ELSE pg_catalog.jsonb_build_object('imported', true, 'granted_at', c.granted_at) END AS evidence"
						   " FROM classified c"
						   " WHERE k.n_distinct OPERATOR(pg_catalog.=) k.n_rows AND k.n_future OPERATOR(pg_catalog.=) 0"
						   " AND k.n_bad_evidence OPERATOR(pg_catalog.=) 0 AND k.n_erased OPERATOR(pg_catalog.=) k.n_absent"
						   " AND c.present"
						   " AND NOT EXISTS (SELECT FROM privacy.consent_ledger l"
						   " WHERE l.kind OPERATOR(pg_catalog.=) $1 AND l.subject OPERATOR(pg_catalog.=) c.key"
						   " AND l.purpose OPERATOR(pg_catalog.=) $2 AND NOT l.forgotten)) e ON true");
	return sql.data;
}

/*
 * privacy_internal._import_key(subject text) → text: the canonical key of
 * a staged subject, as _canonical_subject() gives it; for the import's
 * statement only, which runs as the owner with search_path pinned, so
 * that it needs no SET clause of its own to save and restore per row.
 */
Datum
privacy_import_key(PG_FUNCTION_ARGS)
{
	if (importing_kind == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("privacy_internal._import_key() can be called by privacy.import_consents() only")));
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("subject key must not be null")));
	PG_RETURN_TEXT_P(cstring_to_text(subject_canonical_key(importing_kind,
														   text_to_cstring(PG_GETARG_TEXT_PP(0)))));
}

/* The counts of rows with each problem, from the import statement. */
typedef struct ImportCounts
{
	int64		rows;
	int64		distinct;
	int64		future;
	int64		bad_evidence;
	int64		absent;
	int64		erased;
} ImportCounts;

/* A count of the import statement's first row. */
static int64
result_count(int column)
{
	bool		isnull;
	Datum		value = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, column, &isnull);

	return isnull ? 0 : DatumGetInt64(value);
}

/* Reads the counts from the statement's first row. */
static void
read_counts(ImportCounts *counts)
{
	counts->rows = result_count(N_ROWS);
	counts->distinct = result_count(N_DISTINCT);
	counts->future = result_count(N_FUTURE);
	counts->bad_evidence = result_count(N_BAD_EVIDENCE);
	counts->absent = result_count(N_ABSENT);
	counts->erased = result_count(N_ERASED);
}

/* Raises the error for the first problem the counts show, if any. */
static void
report_bad_rows(const ImportCounts *counts, const char *staging, const char *kind, const char *anchor,
				const char *key_column)
{
	if (counts->distinct != counts->rows)
		ereport(ERROR,
				(errcode(ERRCODE_UNIQUE_VIOLATION),
				 errmsg("cannot import consents: \"%s\" names a subject more than once", staging),
				 errdetail("Rows naming a subject that another row names too: " INT64_FORMAT ". Each subject is imported once, with one consent.",
						   counts->rows - counts->distinct),
				 errhint("Keep one row per subject, for example the latest consent of each.")));
	if (counts->future > 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("cannot import consents: \"%s\" has consents granted in the future", staging),
				 errdetail("Rows whose granted_at is later than now: " INT64_FORMAT ". granted_at is when the subject consented in the previous store.",
						   counts->future)));
	if (counts->bad_evidence > 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("cannot import consents: evidence in \"%s\" must be JSON objects", staging),
				 errdetail("Rows whose evidence is not an object: " INT64_FORMAT ".", counts->bad_evidence),
				 errhint("Leave evidence null or make it an object, for example {\"form\": \"signup\"}.")));
	if (counts->erased != counts->absent)
		ereport(ERROR,
				(errcode(ERRCODE_NO_DATA_FOUND),
				 errmsg("cannot import consents: \"%s\" names subjects of kind \"%s\" that do not exist", staging, kind),
				 errdetail("Rows naming a subject that no row of %s has as its %s, and that was not erased: " INT64_FORMAT ".",
						   anchor, key_column, counts->absent - counts->erased),
				 errhint("Remove the rows of subjects that do not exist from the staging table.")));
}

/*
 * Checks the purpose, source and evidence; returns, in values[1..4], the
 * purpose's name, the acting role, the source and the policy version in
 * force (nulls as SPI wants them).
 */
static void
check_arguments(FunctionCallInfo fcinfo, Datum *values, char *nulls)
{
	Oid			argtypes[2] = {TEXTOID, TEXTOID};
	Datum		args[2];
	char		argnulls[2] = {' ', ' '};
	bool		isnull;
	Jsonb	   *evidence = PG_ARGISNULL(4) ? NULL : PG_GETARG_JSONB_P(4);

	args[0] = PG_GETARG_DATUM(1);
	argnulls[0] = PG_ARGISNULL(1) ? 'n' : ' ';
	args[1] = PG_GETARG_DATUM(2);
	argnulls[1] = PG_ARGISNULL(2) ? 'n' : ' ';
	if (SPI_execute_with_args("SELECT (privacy_internal._require_purpose($1, '{consent}', 'import consents for')).name,"
							  " privacy_internal._acting_role(),"
							  " EXISTS (SELECT FROM privacy.sources s WHERE s.name OPERATOR(pg_catalog.=) $2),"
							  " privacy_internal._policy_version()",
							  2, argtypes, args, argnulls, true, 1) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "could not check the arguments of a consent import");
	if (PG_ARGISNULL(2) ||
		!DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3, &isnull)))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unrecognized source \"%s\"",
						PG_ARGISNULL(2) ? "<NULL>" : text_to_cstring(PG_GETARG_TEXT_PP(2))),
				 errhint("Sources are declared by the policy document; privacy.sources lists them.")));
	if (evidence == NULL || !JB_ROOT_IS_OBJECT(evidence))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("evidence must be a JSON object"),
				 errhint("Describe how the consents were captured, for example {\"store\": \"crm\", \"form\": \"signup\"}.")));
	values[1] = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	values[1] = SPI_datumTransfer(values[1], false, -1);
	values[2] = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull);
	values[2] = SPI_datumTransfer(values[2], false, NAMEDATALEN);
	values[3] = PG_GETARG_DATUM(2);
	values[4] = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 4, &isnull);
	nulls[4] = isnull ? 'n' : ' ';
	if (!isnull)
		values[4] = SPI_datumTransfer(values[4], false, -1);
	values[5] = JsonbPGetDatum(evidence);
}

/* What the import appended. */
typedef struct ImportResult
{
	ImportCounts counts;
	int64		imported;
	int64		first_id;
	int64		last_id;
} ImportResult;

/*
 * Runs the import statement through a cursor: checks the counts of its
 * first batch, then appends each batch's events to the ledger and writes
 * their state. values: the arguments check_arguments() filled.
 */
static void
import_events(SubjectKind *kind, const char *sql, Datum *values, char *nulls, const char *staging,
			  ImportResult *result)
{
	Oid			argtypes[3] = {TEXTOID, TEXTOID, JSONBOID};
	Datum		args[3] = {values[0], values[1], values[5]};
	LedgerGrants grants;
	LedgerAppend *append = NULL;
	Portal		portal;
	bool		first = true;

	grants.actor = cstring_to_text(NameStr(*DatumGetName(values[2])));
	grants.kind = DatumGetTextPP(values[0]);
	grants.purpose = DatumGetTextPP(values[1]);
	grants.source = DatumGetTextPP(values[3]);
	grants.policy_version = nulls[4] == 'n' ? NULL : DatumGetTextPP(values[4]);
	result->imported = 0;
	result->first_id = result->last_id = 0;

	portal = SPI_cursor_open_with_args(NULL, sql, 3, argtypes, args, NULL, false, 0);
	for (;;)
	{
		SPI_cursor_fetch(portal, true, IMPORT_BATCH);
		if (SPI_processed == 0)
			break;
		if (first)
		{
			read_counts(&result->counts);
			report_bad_rows(&result->counts, staging, kind->name, kind->anchor_name, kind->key_column);
			first = false;
		}
		for (uint64 i = 0; i < SPI_processed; i++)
		{
			bool		isnull;
			Datum		subject = SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, EVENT_SUBJECT, &isnull);
			Datum		evidence;
			int64		id;

			if (isnull)
				continue;		/* the counts' row, without an event */
			evidence = SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, EVENT_EVIDENCE, &isnull);
			if (append == NULL)
				append = ledger_append_begin(&grants);
			id = ledger_append_grant(append, subject, evidence);
			if (result->imported++ == 0)
				result->first_id = id;
			result->last_id = id;
		}
		SPI_freetuptable(SPI_tuptable);
	}
	SPI_cursor_close(portal);
	/* (the counts' aggregate always makes a row) */
	if (first)
		elog(ERROR, "could not import consents");
	if (append != NULL)
		ledger_append_end(append);
}

/* The import's summary: what was imported and skipped. */
static Jsonb *
import_summary(Datum *values, char *nulls, const ImportResult *result)
{
	Oid			argtypes[9] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID, INT8OID, INT8OID, INT8OID, INT8OID, INT8OID};
	Datum		args[9];
	char		argnulls[9] = {' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' '};
	bool		isnull;
	Datum		summary;

	args[0] = values[1];
	args[1] = values[3];
	args[2] = values[4];
	argnulls[2] = nulls[4];
	args[3] = values[6];
	args[4] = Int64GetDatum(result->imported);
	args[5] = Int64GetDatum(result->counts.rows - result->counts.absent - result->imported);
	args[6] = Int64GetDatum(result->counts.erased);
	args[7] = Int64GetDatum(result->first_id);
	args[8] = Int64GetDatum(result->last_id);
	argnulls[7] = argnulls[8] = result->imported > 0 ? ' ' : 'n';
	if (SPI_execute_with_args("SELECT pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object("
							  "'purpose', $1, 'source', $2, 'policy_version', $3, 'staging_table', $4,"
							  " 'imported', $5, 'skipped_recorded', $6, 'skipped_erased', $7,"
							  " 'first_event_id', $8, 'last_event_id', $9))",
							  9, argtypes, args, argnulls, true, 1) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "could not summarise a consent import");
	summary = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	return DatumGetJsonbP(SPI_datumTransfer(summary, false, -1));
}

/* As the owner, inside SPI: validates and records; returns the summary. */
static Jsonb *
import_as_owner(FunctionCallInfo fcinfo, Oid relid, SubjectKind *kind)
{
	Datum		values[7];
	char		nulls[7] = {' ', ' ', ' ', ' ', ' ', ' ', ' '};
	char	   *staging = DatumGetCString(DirectFunctionCall1(regclassout, ObjectIdGetDatum(relid)));
	MemoryContext context = CurrentMemoryContext;
	char	   *sql = import_sql(relid, kind);
	ImportResult result;
	Jsonb	   *summary;

	values[0] = CStringGetTextDatum(kind->name);
	check_arguments(fcinfo, values, nulls);
	values[6] = CStringGetTextDatum(staging);

	/*
	 * The import is ordered with every other change of the ledger: events
	 * of single subjects (which lock the ledger in ROW EXCLUSIVE mode when
	 * they insert) and erasures wait for it, and it for them.
	 */
	if (SPI_execute("LOCK TABLE privacy.consent_ledger IN SHARE ROW EXCLUSIVE MODE", false, 0) != SPI_OK_UTILITY)
		elog(ERROR, "could not lock the consent ledger");

	importing_kind = kind;
	PG_TRY();
	{
		import_events(kind, sql, values, nulls, staging, &result);
		importing_kind = NULL;
	}
	PG_CATCH();
	{
		ErrorData  *error;

		importing_kind = NULL;
		MemoryContextSwitchTo(context);
		error = CopyErrorData();

		/*
		 * A state row of a subject whose ledger has no event for the purpose
		 * (the state was changed by hand): its key must not reach the log
		 * in the unique violation's detail.
		 */
		if (error->sqlerrcode == ERRCODE_UNIQUE_VIOLATION && error->constraint_name != NULL &&
			strcmp(error->constraint_name, "_ledger_state_pkey") == 0)
		{
			FlushErrorState();

			/*
			 * In REPEATABLE READ or SERIALIZABLE, the statement read the
			 * ledger with the transaction's snapshot, and an event committed
			 * since (before the ledger was locked) wrote that state.
			 */
			if (IsolationUsesXactSnapshot())
				ereport(ERROR,
						(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
						 errmsg("could not serialize access due to concurrent consent events"),
						 errdetail("A subject to import has an event for purpose \"%s\" that was recorded after the transaction's snapshot was taken.",
								   TextDatumGetCString(values[1])),
						 errhint("Retry the transaction.")));
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("cannot import consents: privacy._ledger_state disagrees with the consent ledger"),
					 errdetail("A subject to import has a state for purpose \"%s\" but no event for it in the ledger.",
							   TextDatumGetCString(values[1])),
					 errhint("Compare privacy._ledger_state with privacy.consent_state, which derives the state from the ledger.")));
		}
		PG_RE_THROW();
	}
	PG_END_TRY();
	summary = import_summary(values, nulls, &result);
	privacy_audit_queue(NameStr(*DatumGetName(values[2])), "consent.import", kind->name, NULL, summary);
	return summary;
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
	Jsonb	   *result = NULL;

	if (PG_ARGISNULL(3))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("staging table must not be null")));
	relid = PG_GETARG_OID(3);
	check_staging_table(relid);

	kind = subject_kind_acquire(subject_kind_argument(fcinfo, 0), false);
	PG_TRY();
	{
		privacy_begin_as_owner("consent_ledger", &save);
		PG_TRY();
		{
			if (SPI_connect() != SPI_OK_CONNECT)
				elog(ERROR, "could not connect to SPI");
			result = import_as_owner(fcinfo, relid, kind);
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
	PG_RETURN_JSONB_P(result);
}
