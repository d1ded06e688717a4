/*
 * policy_document.c
 *		privacy.apply_policy(document text): the backend side of loading a
 *		policy-as-code document.
 *
 * The document is parsed and validated by the pure parser in policy_json.c
 * (libjson-c, no backend headers); this file supplies the built-in names it
 * needs, turns its errors into ereports naming line, column and JSON path,
 * checks every table and column the document names against the catalog
 * (refusing tables a policy may not name, and subject keys that do not name
 * one row), and hands the canonical document to privacy_internal._apply_document(),
 * which writes the catalog tables as the extension's owner once it has
 * checked that the caller owns every table whose entries the document
 * changes.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/catalog.h"
#include "catalog/namespace.h"
#include "catalog/pg_index.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/lsyscache.h"
#include "utils/regproc.h"
#include "utils/rel.h"
#include "utils/relcache.h"
#include "utils/syscache.h"

#include "base/compat.h"
#include "base/extension_objects.h"
#include "policy/policy.h"
#include "pure/policy_json.h"

PG_FUNCTION_INFO_V1(privacy_apply_policy);

/* Documents larger than this are refused before parsing. */
#define MAX_POLICY_DOCUMENT_BYTES (16 * 1024 * 1024)

/* Names the catalog seeds, which a document may use without declaring. */
typedef struct BuiltinNames
{
	const char **categories;
	int			ncategories;
	const char **special;
	int			nspecial;
	const char **sources;
	int			nsources;
} BuiltinNames;

/* Reads the built-in category and source names from the catalog. */
static void
load_builtins(BuiltinNames *names)
{
	uint64		i;

	if (SPI_execute("SELECT c.name, c.special FROM privacy.categories c WHERE c.builtin ORDER BY c.name",
					true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read built-in categories");
	names->categories = palloc(sizeof(char *) * (SPI_processed + 1));
	names->special = palloc(sizeof(char *) * (SPI_processed + 1));
	names->ncategories = names->nspecial = 0;
	for (i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tuple = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		char	   *name = SPI_getvalue(tuple, desc, 1);
		char	   *special = SPI_getvalue(tuple, desc, 2);

		if (special[0] == 't')
			names->special[names->nspecial++] = name;
		else
			names->categories[names->ncategories++] = name;
	}

	if (SPI_execute("SELECT s.name FROM privacy.sources s WHERE s.builtin ORDER BY s.name",
					true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read built-in sources");
	names->sources = palloc(sizeof(char *) * (SPI_processed + 1));
	names->nsources = 0;
	for (i = 0; i < SPI_processed; i++)
		names->sources[names->nsources++] =
			SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1);
}

/* Reports a document the parser rejected. */
static void
report_parse_error(const PolicyParseError *err)
{
	bool		syntax = (err->path[0] == '\0');

	ereport(ERROR,
			(errcode(syntax ? ERRCODE_INVALID_TEXT_REPRESENTATION : ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid policy document: %s", err->message),
			 err->line > 0 ?
			 (syntax ?
			  errdetail("The problem is at line %d, column %d.", err->line, err->column) :
			  errdetail("The problem is at line %d, column %d, in %s.",
						err->line, err->column, err->path)) : 0,
			 err->hint[0] ? errhint("%s", err->hint) : 0));
}

/*
 * Refuses a table a policy may not name: the retention job deletes and
 * rewrites rows of the tables it names, and export reads them, with rights
 * the document's author may not have. System catalogs, the information
 * schema, TOAST tables and the extension's own tables are never the
 * application's personal data; a temporary table is gone (and its rule
 * dangling) when the session that created it ends, and no other session,
 * the retention job's included, can read it.
 */
static void
check_table_allowed(const PolicyRef *ref, Oid relid)
{
	Oid			nsp = get_rel_namespace(relid);

	if (get_rel_persistence(relid) == RELPERSISTENCE_TEMP || isAnyTempNamespace(nsp))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("invalid policy document: \"%s\" is a temporary table", ref->table),
				 errdetail("The problem is at line %d, column %d, in %s. A temporary table disappears with the session that created it, and no other session can read it.",
						   ref->line, ref->column_no, ref->path),
				 errhint("Name a permanent table.")));
	if (IsCatalogNamespace(nsp) || IsToastNamespace(nsp) ||
		nsp == get_namespace_oid("information_schema", true) ||
		nsp == get_namespace_oid(PRIVACY_SCHEMA, true))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("invalid policy document: table \"%s\" is in schema \"%s\", which a policy cannot name",
						ref->table, get_namespace_name(nsp)),
				 errdetail("The problem is at line %d, column %d, in %s.",
						   ref->line, ref->column_no, ref->path),
				 errhint("A policy declares the application's own tables, never system catalogs or the extension's own tables.")));
}

/*
 * Resolves a table named by the document (as SQL would: optionally
 * schema-qualified and quoted, through search_path) and checks it is a table.
 */
static Oid
resolve_table(const PolicyRef *ref)
{
	List	   *names;
	Oid			relid;
	char		relkind;

	names = privacy_string_to_qualified_name_list(ref->table);
	relid = RangeVarGetRelid(makeRangeVarFromNameList(names), NoLock, true);
	if (!OidIsValid(relid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("invalid policy document: relation \"%s\" does not exist", ref->table),
				 errdetail("The problem is at line %d, column %d, in %s.",
						   ref->line, ref->column_no, ref->path),
				 errhint("Name the table as SQL would, schema-qualified if it is not on the search_path.")));
	relkind = get_rel_relkind(relid);
	if (relkind != RELKIND_RELATION && relkind != RELKIND_PARTITIONED_TABLE)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("invalid policy document: \"%s\" is not a table", ref->table),
				 errdetail("The problem is at line %d, column %d, in %s.",
						   ref->line, ref->column_no, ref->path)));
	check_table_allowed(ref, relid);
	return relid;
}

/*
 * Whether column attnum of rel alone is covered by a unique index without a
 * predicate or an expression that is valid and checked immediately: only
 * then does a key value name at most one row.
 */
bool
column_is_unique(Relation rel, AttrNumber attnum)
{
	List	   *indexes = RelationGetIndexList(rel);
	ListCell   *lc;
	bool		unique = false;

	foreach(lc, indexes)
	{
		HeapTuple	tuple = SearchSysCache1(INDEXRELID, ObjectIdGetDatum(lfirst_oid(lc)));
		Form_pg_index index;

		if (!HeapTupleIsValid(tuple))
			elog(ERROR, "cache lookup failed for index %u", lfirst_oid(lc));
		index = (Form_pg_index) GETSTRUCT(tuple);
		unique = index->indisunique && index->indimmediate && index->indisvalid &&
			index->indnkeyatts == 1 && index->indkey.values[0] == attnum &&
			heap_attisnull(tuple, Anum_pg_index_indpred, NULL) &&
			heap_attisnull(tuple, Anum_pg_index_indexprs, NULL);
		ReleaseSysCache(tuple);
		if (unique)
			break;
	}
	list_free(indexes);
	return unique;
}

/*
 * Checks that a subject kind's key column names at most one row per value:
 * NOT NULL and unique on its own. Otherwise export would return several
 * people as one subject, and erasure would erase them all.
 */
static void
check_subject_key(const PolicyRef *ref, Oid relid)
{
	Relation	rel = table_open(relid, AccessShareLock);
	AttrNumber	attnum = get_attnum(relid, ref->column);
	bool		notnull = TupleDescAttr(RelationGetDescr(rel), attnum - 1)->attnotnull;
	bool		unique = column_is_unique(rel, attnum);

	Oid			keytype = TupleDescAttr(RelationGetDescr(rel), attnum - 1)->atttypid;
	HeapTuple	typtup;
	Oid			keytypnsp;

	table_close(rel, AccessShareLock);

	/*
	 * The key is converted to its canonical text (through its type's casts,
	 * and a domain's checks) by every call that names a subject, whoever
	 * makes it: only the built-in types and the extension's own can be
	 * trusted not to run a table owner's code there.
	 */
	typtup = SearchSysCache1(TYPEOID, ObjectIdGetDatum(keytype));
	if (!HeapTupleIsValid(typtup))
		elog(ERROR, "cache lookup failed for type %u", keytype);
	keytypnsp = ((Form_pg_type) GETSTRUCT(typtup))->typnamespace;
	ReleaseSysCache(typtup);
	if (keytypnsp != PG_CATALOG_NAMESPACE &&
		keytypnsp != get_namespace_oid(PRIVACY_SCHEMA, false))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid policy document: subject key column \"%s\" of relation \"%s\" is of type %s, which is not a built-in type",
						ref->column, ref->table, format_type_be_qualified(keytype)),
				 errdetail("The problem is at line %d, column %d, in %s. A subject key is converted to its canonical text for every call that names a subject, whoever makes it; a cast or domain check of a type defined in the database would run there.",
						   ref->line, ref->column_no, ref->path),
				 errhint("Key subjects on a column of a built-in type (integer, bigint, text, uuid, ...) or of privacy.email, privacy.phone or privacy.ip_address.")));
	if (!unique)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid policy document: subject key column \"%s\" of relation \"%s\" is not unique",
						ref->column, ref->table),
				 errdetail("The problem is at line %d, column %d, in %s. A subject key must name one person: export and erasure would treat every row sharing a key value as one subject.",
						   ref->line, ref->column_no, ref->path),
				 errhint("Name a column that is unique on its own (a primary key, or a UNIQUE constraint without a WHERE clause), or add one: ALTER TABLE %s ADD UNIQUE (%s);",
						 ref->table, quote_identifier(ref->column))));
	if (!notnull)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid policy document: subject key column \"%s\" of relation \"%s\" allows NULL",
						ref->column, ref->table),
				 errdetail("The problem is at line %d, column %d, in %s. A row without a key belongs to no subject that export or erasure can name.",
						   ref->line, ref->column_no, ref->path),
				 errhint("Make the column NOT NULL: ALTER TABLE %s ALTER COLUMN %s SET NOT NULL;",
						 ref->table, quote_identifier(ref->column))));
}

/* Checks that a column named by the document exists in its table. */
static void
check_column(const PolicyRef *ref, Oid relid)
{
	AttrNumber	attnum = get_attnum(relid, ref->column);

	if (attnum == InvalidAttrNumber || attnum < 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("invalid policy document: column \"%s\" of relation \"%s\" does not exist",
						ref->column, ref->table),
				 errdetail("The problem is at line %d, column %d, in %s.",
						   ref->line, ref->column_no, ref->path),
				 errhint("Column names are written exactly as stored, without quotes.")));
}

/*
 * Checks every reference of the document against the catalog and returns a
 * JSON object mapping each table name as written to its OID.
 */
static char *
check_references(const PolicyParsed *parsed)
{
	StringInfoData map;
	int			i;
	bool		first = true;

	initStringInfo(&map);
	appendStringInfoChar(&map, '{');
	for (i = 0; i < parsed->nrefs; i++)
	{
		const PolicyRef *ref = &parsed->refs[i];
		Oid			relid = resolve_table(ref);

		if (ref->kind == POLICY_REF_COLUMN)
		{
			check_column(ref, relid);
			if (ref->subject_key)
				check_subject_key(ref, relid);
		}
		else
		{
			if (!first)
				appendStringInfoChar(&map, ',');
			escape_json(&map, ref->table);
			appendStringInfo(&map, ":%u", relid);
			first = false;
		}
	}
	appendStringInfoChar(&map, '}');
	return map.data;
}

/* Copies the parser's malloc'ed result into palloc'ed memory and frees it. */
static void
copy_parsed(PolicyParsed *from, PolicyParsed *to)
{
	int			i;

	to->canonical = pstrdup(from->canonical);
	to->nrefs = from->nrefs;
	to->refs = palloc0(sizeof(PolicyRef) * (from->nrefs + 1));
	for (i = 0; i < from->nrefs; i++)
	{
		to->refs[i] = from->refs[i];
		to->refs[i].table = pstrdup(from->refs[i].table);
		to->refs[i].column = from->refs[i].column ? pstrdup(from->refs[i].column) : NULL;
		to->refs[i].path = pstrdup(from->refs[i].path);
	}
	policy_parsed_free(from);
}

/* privacy.apply_policy(document text) → jsonb */
Datum
privacy_apply_policy(PG_FUNCTION_ARGS)
{
	text	   *document = PG_GETARG_TEXT_PP(0);
	size_t		len = VARSIZE_ANY_EXHDR(document);
	BuiltinNames names;
	PolicyBuiltins builtins;
	PolicyParsed raw;
	PolicyParsed parsed;
	PolicyParseError err;
	char	   *tables;
	char	   *actor = GetUserNameFromId(GetUserId(), false);
	Oid			argtypes[3] = {TEXTOID, TEXTOID, NAMEOID};
	Datum		values[3];
	Datum		result;
	bool		isnull;

	if (len > MAX_POLICY_DOCUMENT_BYTES)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("policy document is too large"),
				 errdetail("The document has %zu bytes; the limit is %d.",
						   len, MAX_POLICY_DOCUMENT_BYTES)));

	SPI_connect();
	{
		int			nestlevel = privacy_pin_search_path();

		PG_TRY();
		{
			load_builtins(&names);
		}
		PG_FINALLY();
		{
			privacy_unpin_search_path(nestlevel);
		}
		PG_END_TRY();
	}
	builtins.categories = names.categories;
	builtins.ncategories = names.ncategories;
	builtins.special_categories = names.special;
	builtins.nspecial = names.nspecial;
	builtins.sources = names.sources;
	builtins.nsources = names.nsources;

	memset(&raw, 0, sizeof(raw));
	memset(&err, 0, sizeof(err));
	if (!policy_parse(VARDATA_ANY(document), len, &builtins, &raw, &err))
		report_parse_error(&err);
	copy_parsed(&raw, &parsed);

	tables = check_references(&parsed);

	values[0] = CStringGetTextDatum(parsed.canonical);
	values[1] = CStringGetTextDatum(tables);
	values[2] = DirectFunctionCall1(namein, CStringGetDatum(actor));

	/*
	 * The catalog is written by its owner, so that a DBA who is granted this
	 * function needs no other privilege; the actor is recorded as the caller.
	 */
	{
		PrivacyUserContext save;

		privacy_begin_as_owner("policy_versions", &save);
		PG_TRY();
		{
			if (SPI_execute_with_args("SELECT privacy_internal._apply_document($1::pg_catalog.jsonb, $2::pg_catalog.jsonb, $3)",
									  3, argtypes, values, NULL, false, 1) != SPI_OK_SELECT ||
				SPI_processed != 1)
				elog(ERROR, "could not apply policy document");
		}
		PG_FINALLY();
		{
			privacy_end_as_owner(&save);
		}
		PG_END_TRY();
	}

	result = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	result = SPI_datumTransfer(result, false, -1);
	SPI_finish();
	PG_RETURN_DATUM(result);
}
