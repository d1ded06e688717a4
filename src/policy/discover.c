/*
 * discover.c
 *		privacy.discover(): finds unclassified columns that hold personal
 *		data, by sampling the text columns of user tables and scanning the
 *		values with the personal-data scanner (pii_scan.c).
 *
 * Which tables: ordinary and partitioned tables (a partitioned table is
 * sampled as a whole, not partition by partition) outside the system
 * schemas, the extension's own schema and other sessions' temporary schemas,
 * and not members of any extension. Which columns: text, character varying,
 * character, json, jsonb, citext and domains over them, that
 * privacy.classified_columns does not list and that the caller may read;
 * unreadable columns and tables in schemas without USAGE are skipped.
 *
 * How rows are sampled: a table whose planner estimates (pg_class.reltuples
 * and relpages) exceed ten times the sample and 128 pages is read with
 * TABLESAMPLE SYSTEM, at twice the sample's share of the rows but at least
 * 32 pages, and LIMIT sample_rows. SYSTEM picks random pages, so the sample
 * covers old and new rows while reading only a few pages; rows on one page
 * are alike, which matters little for spotting a pattern. Smaller tables,
 * and tables never analyzed, are read with LIMIT alone, in physical order:
 * block sampling there would often return too few rows, and reading the
 * first rows costs no more than the sample.
 *
 * A column is reported for a category when a sampled value contains a match:
 * for CPR and payment card numbers, which the policy refuses, one row is
 * enough; for the other categories at least 1% of the sampled rows must
 * match. hit_ratio is the share of sampled rows whose value has a match.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/dependency.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/syscache.h"

#include "base/compat.h"
#include "base/extension_objects.h"
#include "pure/pii_scan.h"
#include "types/text_types.h"

PG_FUNCTION_INFO_V1(privacy_discover);

/* Rows fetched from the cursor at a time. */
#define DISCOVER_BATCH_ROWS		256

/* Share of sampled rows a non-sensitive category needs to be reported. */
#define DISCOVER_MIN_RATIO		0.01

/*
 * Tables estimated above this many times the sample, and above four times
 * the minimum pages, are block-sampled; a block sample reads twice the
 * sample's share of the table's rows, and at least the minimum pages.
 */
#define DISCOVER_BLOCK_SAMPLE_FACTOR	10.0
#define DISCOVER_MIN_PAGES		32.0

typedef struct DiscoverColumn
{
	AttrNumber	attnum;
	char	   *attname;
	int64		hits[PII_NUM_KINDS];
} DiscoverColumn;

typedef struct DiscoverTable
{
	Oid			relid;
	char		relkind;
	char	   *nspname;
	char	   *relname;
	double		reltuples;
	int32		relpages;
	List	   *columns;		/* DiscoverColumn *, in attnum order */
} DiscoverTable;

/*
 * The candidate columns: of user tables, not classified, in schemas the
 * caller may use. Types and column privileges are checked in C.
 */
static const char *const candidates_sql =
"SELECT c.oid, c.relkind, n.nspname, c.relname, c.reltuples::pg_catalog.float8,"
"       c.relpages, a.attnum, a.attname, a.atttypid"
"  FROM pg_catalog.pg_class c"
"  JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace"
"  JOIN pg_catalog.pg_attribute a ON a.attrelid OPERATOR(pg_catalog.=) c.oid"
" WHERE c.relkind OPERATOR(pg_catalog.=) ANY ('{r,p}'::pg_catalog.\"char\"[])"
"   AND NOT c.relispartition"
"   AND a.attnum OPERATOR(pg_catalog.>) 0 AND NOT a.attisdropped"
"   AND n.nspname OPERATOR(pg_catalog.<>) ALL ('{information_schema,privacy}'::pg_catalog.name[])"
"   AND (NOT pg_catalog.starts_with(n.nspname::pg_catalog.text, 'pg_')"
"        OR n.oid OPERATOR(pg_catalog.=) pg_catalog.pg_my_temp_schema())"
"   AND pg_catalog.has_schema_privilege(n.oid, 'USAGE')"
"   AND NOT EXISTS (SELECT FROM pg_catalog.pg_depend d"
"                    WHERE d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass"
"                      AND d.objid OPERATOR(pg_catalog.=) c.oid"
"                      AND d.deptype OPERATOR(pg_catalog.=) 'e')"
"   AND NOT EXISTS (SELECT FROM privacy.classified_columns cc"
"                    WHERE cc.table_name OPERATOR(pg_catalog.=) c.oid"
"                      AND cc.column_name OPERATOR(pg_catalog.=) a.attname)"
" ORDER BY n.nspname, c.relname, a.attnum";

/* Whether the current user may read the column. */
static bool
column_readable(Oid relid, AttrNumber attnum)
{
	Oid			userid = GetUserId();

	return pg_class_aclcheck(relid, userid, ACL_SELECT) == ACLCHECK_OK ||
		pg_attribute_aclcheck(relid, attnum, userid, ACL_SELECT) == ACLCHECK_OK;
}

/* Reads the candidate columns, grouped by table, into a list in cxt. */
static List *
candidate_tables(MemoryContext cxt)
{
	List	   *tables = NIL;
	DiscoverTable *table = NULL;

	if (SPI_execute(candidates_sql, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not list the columns to discover");

	for (uint64 row = 0; row < SPI_processed; row++)
	{
		HeapTuple	tuple = SPI_tuptable->vals[row];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		Oid			relid = DatumGetObjectId(SPI_getbinval(tuple, desc, 1, &isnull));
		AttrNumber	attnum = DatumGetInt16(SPI_getbinval(tuple, desc, 7, &isnull));
		Oid			typid = DatumGetObjectId(SPI_getbinval(tuple, desc, 9, &isnull));
		MemoryContext old;
		DiscoverColumn *column;

		if (!privacy_is_text_type(typid, true) || !column_readable(relid, attnum))
			continue;

		old = MemoryContextSwitchTo(cxt);
		if (table == NULL || table->relid != relid)
		{
			table = palloc0(sizeof(DiscoverTable));
			table->relid = relid;
			table->relkind = DatumGetChar(SPI_getbinval(tuple, desc, 2, &isnull));
			table->nspname = SPI_getvalue(tuple, desc, 3);
			table->relname = SPI_getvalue(tuple, desc, 4);
			table->reltuples = DatumGetFloat8(SPI_getbinval(tuple, desc, 5, &isnull));
			table->relpages = DatumGetInt32(SPI_getbinval(tuple, desc, 6, &isnull));
			tables = lappend(tables, table);
		}
		column = palloc0(sizeof(DiscoverColumn));
		column->attnum = attnum;
		column->attname = SPI_getvalue(tuple, desc, 8);
		table->columns = lappend(table->columns, column);
		MemoryContextSwitchTo(old);
	}
	SPI_freetuptable(SPI_tuptable);
	return tables;
}

/*
 * Samples up to sample_rows rows of the table, counting in each column the
 * rows whose value holds each kind; returns the number of rows sampled.
 */
static int64
sample_table(DiscoverTable *table, int32 sample_rows, MemoryContext batch_cxt)
{
	StringInfoData sql;
	ListCell   *lc;
	Oid			argtypes[2] = {INT8OID, FLOAT8OID};
	Datum		args[2];
	int			nargs = 1;
	bool		block_sample;
	Portal		portal;
	int64		sampled = 0;

	/* Lock first, so that a table dropped meanwhile is skipped quietly. */
	LockRelationOid(table->relid, AccessShareLock);
	if (!SearchSysCacheExists1(RELOID, ObjectIdGetDatum(table->relid)))
	{
		UnlockRelationOid(table->relid, AccessShareLock);
		return 0;
	}

	initStringInfo(&sql);
	appendStringInfoString(&sql, "SELECT ");
	foreach(lc, table->columns)
	{
		DiscoverColumn *column = (DiscoverColumn *) lfirst(lc);

		appendStringInfo(&sql, "%sCAST(%s AS pg_catalog.text)",
						 foreach_current_index(lc) > 0 ? ", " : "",
						 quote_identifier(column->attname));
	}
	appendStringInfo(&sql, " FROM %s%s",
					 table->relkind == RELKIND_RELATION ? "ONLY " : "",
					 quote_qualified_identifier(table->nspname, table->relname));

	block_sample = table->reltuples > DISCOVER_BLOCK_SAMPLE_FACTOR * sample_rows &&
		table->relpages > 4 * DISCOVER_MIN_PAGES;
	if (block_sample)
	{
		double		share = Max(2.0 * sample_rows / table->reltuples,
								DISCOVER_MIN_PAGES / table->relpages);

		appendStringInfoString(&sql, " TABLESAMPLE pg_catalog.system ($2)");
		args[1] = Float8GetDatum(Min(100.0, 100.0 * share));
		nargs = 2;
	}
	appendStringInfoString(&sql, " LIMIT $1");
	args[0] = Int64GetDatum(sample_rows);

	portal = SPI_cursor_open_with_args(NULL, sql.data, nargs, argtypes, args,
									   NULL, true, 0);
	for (;;)
	{
		MemoryContext old;

		CHECK_FOR_INTERRUPTS();
		SPI_cursor_fetch(portal, true, DISCOVER_BATCH_ROWS);
		if (SPI_processed == 0)
			break;

		old = MemoryContextSwitchTo(batch_cxt);
		for (uint64 row = 0; row < SPI_processed; row++)
		{
			HeapTuple	tuple = SPI_tuptable->vals[row];

			foreach(lc, table->columns)
			{
				DiscoverColumn *column = (DiscoverColumn *) lfirst(lc);
				bool		isnull;
				Datum		value;
				text	   *t;
				unsigned	found;

				value = SPI_getbinval(tuple, SPI_tuptable->tupdesc,
									  foreach_current_index(lc) + 1, &isnull);
				if (isnull)
					continue;
				t = DatumGetTextPP(value);
				found = pii_scan_kinds(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t),
									   PII_ALL_KINDS);
				for (int kind = PII_EMAIL; kind < PII_NUM_KINDS; kind++)
					if (found & PII_MASK(kind))
						column->hits[kind]++;
			}
		}
		sampled += SPI_processed;
		MemoryContextSwitchTo(old);
		MemoryContextReset(batch_cxt);
		SPI_freetuptable(SPI_tuptable);
	}
	SPI_cursor_close(portal);
	pfree(sql.data);
	return sampled;
}

/* Whether a column's hits of a kind are enough to report it. */
static bool
worth_reporting(PiiKind kind, int64 hits, int64 sampled)
{
	if (hits == 0)
		return false;
	if (kind == PII_CPR || kind == PII_CARD)
		return true;
	return (double) hits >= DISCOVER_MIN_RATIO * (double) sampled;
}

/* Samples every candidate table and reports its columns' hits in rsinfo. */
static void
discover_tables(ReturnSetInfo *rsinfo, int32 sample_rows,
				MemoryContext work_cxt, MemoryContext batch_cxt)
{
	List	   *tables;
	ListCell   *lc;

	SPI_connect();
	tables = candidate_tables(work_cxt);
	foreach(lc, tables)
	{
		DiscoverTable *table = (DiscoverTable *) lfirst(lc);
		int64		sampled = sample_table(table, sample_rows, batch_cxt);
		ListCell   *cc;

		foreach(cc, table->columns)
		{
			DiscoverColumn *column = (DiscoverColumn *) lfirst(cc);

			for (int kind = PII_EMAIL; kind < PII_NUM_KINDS; kind++)
			{
				Datum		values[5];
				bool		nulls[5] = {false, false, false, false, false};
				NameData	attname;

				if (!worth_reporting((PiiKind) kind, column->hits[kind], sampled))
					continue;
				namestrcpy(&attname, column->attname);
				values[0] = ObjectIdGetDatum(table->relid);
				values[1] = NameGetDatum(&attname);
				values[2] = CStringGetTextDatum(pii_kind_category((PiiKind) kind));
				values[3] = Float8GetDatum((double) column->hits[kind] / (double) sampled);
				values[4] = Int64GetDatum(sampled);
				tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
			}
		}
	}
	SPI_finish();
}

/*
 * privacy.discover(sample_rows integer) returns table (table_name regclass,
 * column_name name, suspected_category text, hit_ratio float8,
 * rows_sampled bigint)
 */
Datum
privacy_discover(PG_FUNCTION_ARGS)
{
	int32		sample_rows = PG_GETARG_INT32(0);
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	MemoryContext work_cxt;
	MemoryContext batch_cxt;
	int			nestlevel;

	if (sample_rows <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("sample_rows must be greater than zero"),
				 errdetail("The value given was %d.", sample_rows)));

	InitMaterializedSRF(fcinfo, 0);
	work_cxt = AllocSetContextCreate(CurrentMemoryContext, "privacy.discover",
									 ALLOCSET_DEFAULT_SIZES);
	batch_cxt = AllocSetContextCreate(work_cxt, "privacy.discover batch",
									  ALLOCSET_DEFAULT_SIZES);

	nestlevel = privacy_pin_search_path();
	PG_TRY();
	{
		discover_tables(rsinfo, sample_rows, work_cxt, batch_cxt);
	}
	PG_FINALLY();
	{
		privacy_unpin_search_path(nestlevel);
	}
	PG_END_TRY();
	MemoryContextDelete(work_cxt);
	return (Datum) 0;
}
