/*
 * citus.c
 *		The extension inside a Citus cluster: which tables Citus manages,
 *		whether this node is a worker, and how generated statements are
 *		planned so that Citus can route them.
 *
 * Nothing here links against Citus: its catalog tables are read with SPI
 * when the citus extension exists in the database, so the library loads
 * and works the same without it. A worker takes the coordinator's keys
 * (keys.c), so that subject references and pseudonyms are one value on
 * every node, also on a node added later.
 */
#include "postgres.h"

#include "catalog/pg_namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "nodes/parsenodes.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "base/citus.h"

PG_FUNCTION_INFO_V1(privacy_citus_table_sql);

/* This node's Citus group, read once per session: -1 not read yet, 0 the coordinator. */
static int	local_group = -1;

/*
 * Citus keeps its metadata in pg_catalog.pg_dist_partition, a table only
 * its extension script can create there and that DROP EXTENSION removes:
 * looking its name up is a syscache probe, where looking the extension up
 * in pg_extension is a catalog scan (and this is asked for every query
 * level the planner hook walks and every consent change).
 */
bool
privacy_citus_installed(void)
{
	return OidIsValid(get_relname_relid("pg_dist_partition", PG_CATALOG_NAMESPACE));
}

/* The single boolean result of sql with nargs arguments, run with SPI. */
static bool
spi_boolean(const char *sql, int nargs, Oid *argtypes, Datum *args)
{
	bool		result = false;
	bool		isnull;

	SPI_connect();
	if (SPI_execute_with_args(sql, nargs, argtypes, args, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read the Citus catalog");
	if (SPI_processed == 1)
		result = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull)) &&
			!isnull;
	SPI_finish();
	return result;
}

bool
privacy_citus_table(Oid relid)
{
	Oid			argtype = REGCLASSOID;
	Datum		arg = ObjectIdGetDatum(relid);

	if (!privacy_citus_installed())
		return false;
	return spi_boolean("SELECT EXISTS (SELECT FROM pg_catalog.pg_dist_partition p"
					   " WHERE p.logicalrelid OPERATOR(pg_catalog.=) $1)",
					   1, &argtype, &arg);
}

/*
 * The shard id in a relation's name (name_<digits>, 0 if none) and, through
 * table, the name before it.
 */
static int64
shard_id_in_name(Relation rel, char **table)
{
	const char *name = RelationGetRelationName(rel);
	const char *suffix = strrchr(name, '_');
	const char *c;

	if (suffix == NULL || suffix == name || suffix[1] == '\0' || strlen(suffix + 1) > 18)
		return 0;
	for (c = suffix + 1; *c != '\0'; c++)
		if (!isdigit((unsigned char) *c))
			return 0;
	*table = pnstrdup(name, suffix - name);
	return pg_strtoint64(suffix + 1);
}

const char *
privacy_citus_shard_of(Relation rel)
{
	char	   *table = NULL;
	Oid			argtypes[2] = {INT8OID, REGCLASSOID};
	Datum		args[2];
	int64		shard = shard_id_in_name(rel, &table);

	if (shard == 0 || !privacy_citus_installed())
		return NULL;
	args[0] = Int64GetDatum(shard);
	args[1] = ObjectIdGetDatum(get_relname_relid(table, RelationGetNamespace(rel)));
	if (!OidIsValid(DatumGetObjectId(args[1])) ||
		!spi_boolean("SELECT EXISTS (SELECT FROM pg_catalog.pg_dist_shard s"
					 " WHERE s.shardid OPERATOR(pg_catalog.=) $1"
					 " AND s.logicalrelid OPERATOR(pg_catalog.=) $2)",
					 2, argtypes, args))
		return NULL;
	return table;
}

bool
privacy_citus_shard_on_coordinator_too(Relation rel)
{
	char	   *table = NULL;
	Oid			argtypes[2] = {INT8OID, INT4OID};
	Datum		args[2];
	int64		shard = shard_id_in_name(rel, &table);

	if (shard == 0 || !privacy_citus_worker())
		return false;
	args[0] = Int64GetDatum(shard);
	args[1] = Int32GetDatum(0);
	return spi_boolean("SELECT EXISTS (SELECT FROM pg_catalog.pg_dist_placement p"
					   " WHERE p.shardid OPERATOR(pg_catalog.=) $1"
					   " AND p.groupid OPERATOR(pg_catalog.=) $2)",
					   2, argtypes, args);
}

/* privacy_internal._citus_table(rel regclass) → boolean: whether Citus manages rel. */
Datum
privacy_citus_table_sql(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(privacy_citus_table(PG_GETARG_OID(0)));
}

char *
privacy_citus_distribution_column(Oid relid)
{
	Oid			argtype = REGCLASSOID;
	Datum		arg = ObjectIdGetDatum(relid);
	char	   *result = NULL;
	MemoryContext context = CurrentMemoryContext;

	if (!privacy_citus_installed())
		return NULL;
	SPI_connect();
	if (SPI_execute_with_args("SELECT pg_catalog.column_to_column_name(p.logicalrelid, p.partkey)"
							  " FROM pg_catalog.pg_dist_partition p"
							  " WHERE p.logicalrelid OPERATOR(pg_catalog.=) $1 AND p.partkey IS NOT NULL",
							  1, &argtype, &arg, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read the Citus catalog");
	if (SPI_processed == 1)
	{
		char	   *name = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);

		if (name != NULL)
			result = MemoryContextStrdup(context, name);
	}
	SPI_finish();
	return result;
}

int32
privacy_citus_group(void)
{
	if (local_group < 0)
	{
		Datum		group = (Datum) 0;
		bool		isnull = true;

		if (!privacy_citus_installed())
			return 0;
		SPI_connect();
		if (SPI_execute("SELECT g.groupid FROM pg_catalog.pg_dist_local_group g", true, 1) != SPI_OK_SELECT)
			elog(ERROR, "could not read the Citus catalog");
		if (SPI_processed == 1)
			group = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
		local_group = isnull ? 0 : DatumGetInt32(group);
		SPI_finish();
	}
	return local_group;
}

bool
privacy_citus_worker(void)
{
	return privacy_citus_group() > 0;
}

int
privacy_statement_plan_options(void)
{
	return privacy_citus_installed() ? CURSOR_OPT_CUSTOM_PLAN : CURSOR_OPT_GENERIC_PLAN;
}

char *
privacy_citus_coordinator_result(const char *command, const char *what)
{
	Oid			argtype = TEXTOID;
	Datum		arg = CStringGetTextDatum(command);
	char	   *result = NULL;
	MemoryContext context = CurrentMemoryContext;
	bool		isnull;

	SPI_connect();
	if (SPI_execute_with_args("SELECT r.success, r.result FROM pg_catalog.run_command_on_coordinator($1) r",
							  1, &argtype, &arg, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not run a statement on the Citus coordinator");
	if (SPI_processed != 1 ||
		!DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull)))
		ereport(ERROR,
				(errcode(ERRCODE_CONNECTION_FAILURE),
				 errmsg("could not %s on the Citus coordinator", what),
				 errdetail("A worker node uses the coordinator's keys, catalog and audit log, so that every node acts on one policy and one log."),
				 errhint("Check that the coordinator is in the Citus metadata (citus_set_coordinator_host()) and accepts connections from this node as the extension's owner.")));
	else
	{
		char	   *value = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);

		if (value != NULL && value[0] != '\0')
			result = MemoryContextStrdup(context, value);
	}
	SPI_finish();
	return result;
}

bytea *
privacy_citus_coordinator_key(const char *name)
{
	char	   *hex;
	bytea	   *result = NULL;

	hex = privacy_citus_coordinator_result(psprintf("SELECT pg_catalog.encode(k.key, 'hex') FROM privacy._keys k"
													" WHERE k.name OPERATOR(pg_catalog.=) %s",
													quote_literal_cstr(name)),
										   psprintf("read key \"%s\"", name));
	if (hex != NULL)
	{
		int			len = strlen(hex) / 2;

		result = MemoryContextAlloc(TopMemoryContext, VARHDRSZ + len);
		SET_VARSIZE(result, VARHDRSZ + hex_decode(hex, strlen(hex), VARDATA(result)));
	}
	return result;
}
