/*
 * guard.c
 *		The sensitive-data guard: privacy.guard(table, columns, mode) installs
 *		a row trigger that keeps Danish CPR numbers and payment card numbers
 *		out of the named text columns, and privacy.unguard(table) removes it.
 *
 * The trigger, "privacy_guard", fires BEFORE INSERT OR UPDATE OF the guarded
 * columns and runs privacy_internal._guard_trigger() with the mode and the column
 * names as arguments, so pg_dump restores a guard with its table. In reject
 * mode a value holding such a number fails the statement with SQLSTATE 23514
 * (check_violation); the message names the column and the kind of number,
 * never the value. In redact mode each number is replaced by a marker such
 * as "[redacted national_id]" and the redaction is written to the audit
 * log, again without the value.
 *
 * The columns the trigger examines are those of its UPDATE OF list, which
 * PostgreSQL keeps right when a column is renamed; the names in the
 * arguments are used only for a trigger created without that list.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/relation.h"
#include "catalog/dependency.h"
#include "catalog/objectaddress.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/json.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/syscache.h"

#include "audit/audit.h"
#include "base/citus.h"
#include "base/compat.h"
#include "base/extension_objects.h"
#include "pure/pii_scan.h"
#include "base/qualified_name.h"
#include "types/text_types.h"

PG_FUNCTION_INFO_V1(privacy_guard);
PG_FUNCTION_INFO_V1(privacy_unguard);
PG_FUNCTION_INFO_V1(privacy_guard_trigger);

#define GUARD_TRIGGER_NAME		"privacy_guard"
#define GUARD_FUNCTION			"privacy_internal._guard_trigger"

typedef enum GuardMode
{
	GUARD_REJECT,
	GUARD_REDACT
} GuardMode;

/* Parses a mode name; returns false if it is not one. */
static bool
parse_mode(const char *name, GuardMode *mode)
{
	if (strcmp(name, "reject") == 0)
		*mode = GUARD_REJECT;
	else if (strcmp(name, "redact") == 0)
		*mode = GUARD_REDACT;
	else
		return false;
	return true;
}

/* Errors out unless the current user owns the table (or is superuser). */
static void
check_owner(Relation rel)
{
	if (!superuser() && !has_privs_of_role(GetUserId(), rel->rd_rel->relowner))
		aclcheck_error(ACLCHECK_NOT_OWNER,
					   get_relkind_objtype(rel->rd_rel->relkind),
					   RelationGetRelationName(rel));
}

/* Opens a table to guard or unguard, checking its kind and ownership. */
static Relation
open_guarded_table(Oid relid)
{
	Relation	rel = relation_open(relid, ShareRowExclusiveLock);

	if (rel->rd_rel->relkind != RELKIND_RELATION &&
		rel->rd_rel->relkind != RELKIND_PARTITIONED_TABLE)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("\"%s\" is not a table", RelationGetRelationName(rel)),
				 errdetail("Only ordinary and partitioned tables can be guarded.")));
	check_owner(rel);
	return rel;
}

typedef enum GuardState
{
	GUARD_ABSENT,				/* no trigger named privacy_guard */
	GUARD_PRESENT,				/* a guard */
	GUARD_NAME_TAKEN			/* a trigger of that name that is not a guard */
} GuardState;

/* Whether the table has a guard, or another trigger named privacy_guard. */
static GuardState
guard_state(Relation rel)
{
	Oid			argtypes[2] = {OIDOID, NAMEOID};
	Datum		args[2];
	GuardState	state = GUARD_ABSENT;

	args[0] = ObjectIdGetDatum(RelationGetRelid(rel));
	args[1] = CStringGetDatum(GUARD_TRIGGER_NAME);
	if (SPI_execute_with_args("SELECT t.tgfoid OPERATOR(pg_catalog.=) '" GUARD_FUNCTION "()'::pg_catalog.regprocedure"
							  "  FROM pg_catalog.pg_trigger t"
							  " WHERE t.tgrelid OPERATOR(pg_catalog.=) $1"
							  "   AND t.tgname OPERATOR(pg_catalog.=) $2",
							  2, argtypes, args, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not look up the guard of relation \"%s\"",
			 RelationGetRelationName(rel));
	if (SPI_processed == 1)
	{
		bool		isnull;

		state = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc,
										   1, &isnull)) ? GUARD_PRESENT : GUARD_NAME_TAKEN;
	}
	SPI_freetuptable(SPI_tuptable);
	return state;
}

static void
drop_guard(Relation rel)
{
	char	   *sql = psprintf("DROP TRIGGER %s ON %s",
							   quote_identifier(GUARD_TRIGGER_NAME), privacy_qualified_name(RelationGetRelid(rel)));

	if (SPI_execute(sql, false, 0) != SPI_OK_UTILITY)
		elog(ERROR, "could not drop the guard of relation \"%s\"",
			 RelationGetRelationName(rel));
}

/* Checks the columns argument; returns the column names, in order. */
static List *
check_columns(Relation rel, ArrayType *columns)
{
	Datum	   *elems;
	bool	   *elem_nulls;
	int			nelems;
	List	   *names = NIL;

	if (ARR_NDIM(columns) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("columns must be a one-dimensional array")));
	deconstruct_array(columns, TEXTOID, -1, false, TYPALIGN_INT,
					  &elems, &elem_nulls, &nelems);
	if (nelems == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("columns must name at least one column")));

	for (int i = 0; i < nelems; i++)
	{
		char	   *name;
		AttrNumber	attnum;
		Form_pg_attribute attr;
		ListCell   *lc;

		if (elem_nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("columns must not contain null")));
		name = TextDatumGetCString(elems[i]);
		attnum = get_attnum(RelationGetRelid(rel), name);
		if (attnum == InvalidAttrNumber)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("column \"%s\" of relation \"%s\" does not exist",
							name, RelationGetRelationName(rel))));
		if (attnum < 0)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("cannot guard system column \"%s\"", name)));
		attr = TupleDescAttr(RelationGetDescr(rel), attnum - 1);
		if (!privacy_is_text_type(attr->atttypid, false))
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("column \"%s\" of relation \"%s\" is of type %s",
							name, RelationGetRelationName(rel),
							format_type_be(attr->atttypid)),
					 errdetail("A guard examines columns of type text, character varying, character or citext.")));
		if (attr->attgenerated)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("cannot guard generated column \"%s\"", name),
					 errdetail("A row trigger runs before generated columns are computed.")));
		foreach(lc, names)
		{
			if (strcmp((char *) lfirst(lc), name) == 0)
				ereport(ERROR,
						(errcode(ERRCODE_DUPLICATE_COLUMN),
						 errmsg("column \"%s\" specified more than once", name)));
		}
		names = lappend(names, name);
	}
	return names;
}

/*
 * privacy.guard(table_name regclass, columns text[], mode text) returns void
 */
Datum
privacy_guard(PG_FUNCTION_ARGS)
{
	Relation	rel;
	char	   *mode_name;
	GuardMode	mode;
	List	   *columns;
	ListCell   *lc;
	StringInfoData sql;
	GuardState	state;
	PrivacyUserContext owner;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("table_name must not be null")));
	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("columns must not be null")));
	if (PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("mode must not be null")));
	mode_name = text_to_cstring(PG_GETARG_TEXT_PP(2));
	if (!parse_mode(mode_name, &mode))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unrecognized guard mode \"%s\"", mode_name),
				 errhint("The mode is \"reject\" or \"redact\".")));

	rel = open_guarded_table(PG_GETARG_OID(0));
	columns = check_columns(rel, PG_GETARG_ARRAYTYPE_P(1));
	initStringInfo(&sql);
	appendStringInfo(&sql, "CREATE TRIGGER %s BEFORE INSERT OR UPDATE OF ",
					 quote_identifier(GUARD_TRIGGER_NAME));
	foreach(lc, columns)
		appendStringInfo(&sql, "%s%s", foreach_current_index(lc) > 0 ? ", " : "",
						 quote_identifier((char *) lfirst(lc)));
	appendStringInfo(&sql, " ON %s FOR EACH ROW EXECUTE FUNCTION " GUARD_FUNCTION "(%s",
					 privacy_qualified_name(RelationGetRelid(rel)), quote_literal_cstr(mode_name));
	foreach(lc, columns)
		appendStringInfo(&sql, ", %s", quote_literal_cstr((char *) lfirst(lc)));
	appendStringInfoChar(&sql, ')');

	/*
	 * The trigger is created as the extension's owner: no other role may
	 * execute the trigger function, so no role can attach it to a table of
	 * its choosing and have it write audit entries.
	 */
	privacy_begin_as_owner("audit_log", &owner);
	PG_TRY();
	{
		SPI_connect();
		state = guard_state(rel);
		if (state == GUARD_NAME_TAKEN)
			ereport(ERROR,
					(errcode(ERRCODE_DUPLICATE_OBJECT),
					 errmsg("trigger \"%s\" for relation \"%s\" already exists",
							GUARD_TRIGGER_NAME, RelationGetRelationName(rel)),
					 errdetail("The trigger is not a guard installed by privacy.guard()."),
					 errhint("Rename or drop that trigger first.")));
		if (state == GUARD_PRESENT)
			drop_guard(rel);
		if (SPI_execute(sql.data, false, 0) != SPI_OK_UTILITY)
			elog(ERROR, "could not create the guard of relation \"%s\"",
				 RelationGetRelationName(rel));
		SPI_finish();
	}
	PG_FINALLY();
	{
		privacy_end_as_owner(&owner);
	}
	PG_END_TRY();

	if (state == GUARD_PRESENT)
		ereport(NOTICE,
				(errmsg("replaced the existing guard of table \"%s\"",
						RelationGetRelationName(rel))));

	relation_close(rel, NoLock);
	PG_RETURN_VOID();
}

/*
 * privacy.unguard(table_name regclass) returns void
 */
Datum
privacy_unguard(PG_FUNCTION_ARGS)
{
	Relation	rel;
	GuardState	state;
	PrivacyUserContext owner;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("table_name must not be null")));
	rel = open_guarded_table(PG_GETARG_OID(0));

	privacy_begin_as_owner("audit_log", &owner);
	PG_TRY();
	{
		SPI_connect();
		state = guard_state(rel);
		if (state != GUARD_PRESENT)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("table \"%s\" is not guarded", RelationGetRelationName(rel)),
					 state == GUARD_NAME_TAKEN ?
					 errdetail("Its trigger \"%s\" is not a guard installed by privacy.guard().",
							   GUARD_TRIGGER_NAME) : 0,
					 errhint("The view privacy.guards lists the guarded tables.")));
		drop_guard(rel);
		SPI_finish();
	}
	PG_FINALLY();
	{
		privacy_end_as_owner(&owner);
	}
	PG_END_TRY();

	relation_close(rel, NoLock);
	PG_RETURN_VOID();
}

typedef struct SpanBuffer
{
	PiiSpan    *spans;
	int			count;
	int			capacity;
} SpanBuffer;

/* Visitor for reject mode: keeps the first match and stops. */
static bool
first_span(const PiiSpan *span, void *arg)
{
	*(PiiSpan *) arg = *span;
	return false;
}

/* Visitor for redact mode: collects every match. */
static bool
add_span(const PiiSpan *span, void *arg)
{
	SpanBuffer *buf = (SpanBuffer *) arg;

	if (buf->count == buf->capacity)
	{
		buf->capacity = buf->capacity ? buf->capacity * 2 : 8;
		buf->spans = buf->spans ?
			repalloc(buf->spans, buf->capacity * sizeof(PiiSpan)) :
			palloc(buf->capacity * sizeof(PiiSpan));
	}
	buf->spans[buf->count++] = *span;
	return true;
}

/* Refuses a value holding a sensitive number, naming only its kind. */
static void
reject_value(Relation rel, AttrNumber attnum, PiiKind kind)
{
	const char *column = NameStr(TupleDescAttr(RelationGetDescr(rel), attnum - 1)->attname);

	ereport(ERROR,
			(errcode(ERRCODE_CHECK_VIOLATION),
			 errmsg("value of column \"%s\" contains %s", column, pii_kind_description(kind)),
			 errdetail("Column \"%s\" of table \"%s\" is guarded against CPR numbers and payment card numbers, which the privacy policy does not allow; the value is not shown.",
					   column, RelationGetRelationName(rel)),
			 errhint("Remove the number from the value, or guard the column in redact mode to have such numbers replaced."),
			 errtablecol(rel, attnum)));
}

/* Names the column in errors raised while fitting a redacted value. */
static void
redact_error_context(void *arg)
{
	errcontext("redacting column \"%s\" in privacy guard", (const char *) arg);
}

/*
 * Replaces the spans of a value with their markers, fits the result to the
 * column's type (length limit, domain constraints) and counts the spans of
 * each kind.
 */
static Datum
redact_value(Relation rel, AttrNumber attnum, const char *data, size_t len,
			 const SpanBuffer *buf, int *counts)
{
	Form_pg_attribute attr = TupleDescAttr(RelationGetDescr(rel), attnum - 1);
	StringInfoData out;
	size_t		done = 0;
	int32		typmod = attr->atttypmod;
	Oid			base = getBaseTypeAndTypmod(attr->atttypid, &typmod);
	Datum		result;
	ErrorContextCallback context;

	initStringInfo(&out);
	for (int i = 0; i < buf->count; i++)
	{
		appendBinaryStringInfo(&out, data + done, buf->spans[i].start - done);
		appendStringInfoString(&out, pii_kind_marker(buf->spans[i].kind));
		done = buf->spans[i].end;
		counts[buf->spans[i].kind]++;
	}
	appendBinaryStringInfo(&out, data + done, len - done);
	result = PointerGetDatum(cstring_to_text_with_len(out.data, out.len));

	context.callback = redact_error_context;
	context.arg = NameStr(attr->attname);
	context.previous = error_context_stack;
	error_context_stack = &context;
	if (typmod >= 0 && base == VARCHAROID)
		result = DirectFunctionCall3(varchar, result, Int32GetDatum(typmod),
									 BoolGetDatum(false));
	else if (typmod >= 0 && base == BPCHAROID)
		result = DirectFunctionCall3(bpchar, result, Int32GetDatum(typmod),
									 BoolGetDatum(false));
	if (base != attr->atttypid)
		domain_check(result, false, attr->atttypid, NULL, CurrentMemoryContext);
	error_context_stack = context.previous;
	return result;
}

/*
 * Writes one audit entry per category redacted in a column. On a Citus
 * shard the entry names the distributed table (and goes to the
 * coordinator's log, audit_forward.c); a worker's copy of a reference
 * table's shard leaves it to the coordinator's copy, which redacts the same.
 */
static void
audit_redaction(Relation rel, AttrNumber attnum, const int *counts)
{
	const char *shard_of = privacy_citus_shard_of(rel);
	char	   *table;
	const char *column = NameStr(TupleDescAttr(RelationGetDescr(rel), attnum - 1)->attname);

	if (shard_of != NULL && privacy_citus_shard_on_coordinator_too(rel))
		return;
	table = shard_of != NULL ?
		quote_qualified_identifier(get_namespace_name(RelationGetNamespace(rel)), shard_of) :
		privacy_qualified_name(RelationGetRelid(rel));

	for (int kind = PII_EMAIL; kind < PII_NUM_KINDS; kind++)
	{
		StringInfoData json;

		if (counts[kind] == 0)
			continue;
		initStringInfo(&json);
		appendStringInfoString(&json, "{\"table\": ");
		escape_json(&json, table);
		appendStringInfoString(&json, ", \"column\": ");
		escape_json(&json, column);
		appendStringInfoString(&json, ", \"category\": ");
		escape_json(&json, pii_kind_category((PiiKind) kind));
		appendStringInfo(&json, ", \"count\": %d}", counts[kind]);
		privacy_audit_event("guard.redact", NULL, NULL, json.data);
		pfree(json.data);
	}
}

/* The columns a guard trigger examines: its UPDATE OF list, or its arguments. */
static int
guarded_columns(TriggerData *trigdata, AttrNumber **attnums)
{
	Trigger    *trigger = trigdata->tg_trigger;
	TupleDesc	desc = RelationGetDescr(trigdata->tg_relation);
	int			n = 0;

	if (trigger->tgnattr > 0)
	{
		*attnums = trigger->tgattr;
		return trigger->tgnattr;
	}
	*attnums = palloc(sizeof(AttrNumber) * Max(trigger->tgnargs - 1, 1));
	for (int i = 1; i < trigger->tgnargs; i++)
	{
		int			attnum = SPI_fnumber(desc, trigger->tgargs[i]);

		if (attnum <= 0)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("column \"%s\" of relation \"%s\" does not exist",
							trigger->tgargs[i], RelationGetRelationName(trigdata->tg_relation)),
					 errdetail("Trigger \"%s\" names it.", trigger->tgname)));
		(*attnums)[n++] = (AttrNumber) attnum;
	}
	return n;
}

/*
 * The guard trigger: BEFORE INSERT OR UPDATE FOR EACH ROW, arguments
 * (mode, column, ...).
 */
Datum
privacy_guard_trigger(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	Relation	rel;
	TupleDesc	desc;
	HeapTuple	tuple;
	GuardMode	mode;
	AttrNumber *attnums;
	int			ncolumns;
	int		   *repl_cols;
	Datum	   *repl_values;
	bool	   *repl_nulls;
	int			nrepl = 0;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("function \"%s\" was not called by trigger manager", GUARD_FUNCTION)));
	if (!TRIGGER_FIRED_BEFORE(trigdata->tg_event) ||
		!TRIGGER_FIRED_FOR_ROW(trigdata->tg_event) ||
		TRIGGER_FIRED_BY_DELETE(trigdata->tg_event) ||
		TRIGGER_FIRED_BY_TRUNCATE(trigdata->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("function \"%s\" must be fired BEFORE INSERT OR UPDATE FOR EACH ROW",
						GUARD_FUNCTION)));

	rel = trigdata->tg_relation;
	desc = RelationGetDescr(rel);
	if (trigdata->tg_trigger->tgnargs < 1 ||
		!parse_mode(trigdata->tg_trigger->tgargs[0], &mode))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("trigger \"%s\" of relation \"%s\" has no valid guard mode",
						trigdata->tg_trigger->tgname, RelationGetRelationName(rel)),
				 errhint("Install guards with privacy.guard().")));

	tuple = TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event) ?
		trigdata->tg_newtuple : trigdata->tg_trigtuple;
	ncolumns = guarded_columns(trigdata, &attnums);
	repl_cols = palloc(sizeof(int) * ncolumns);
	repl_values = palloc(sizeof(Datum) * ncolumns);
	repl_nulls = palloc0(sizeof(bool) * ncolumns);

	for (int i = 0; i < ncolumns; i++)
	{
		AttrNumber	attnum = attnums[i];
		bool		isnull;
		Datum		value;
		text	   *t;
		const char *data;
		size_t		len;

		/* guard() checked the types; PostgreSQL keeps them while guarded */
		if (attnum <= 0 || attnum > desc->natts ||
			TupleDescAttr(desc, attnum - 1)->attlen != -1)
			continue;
		value = heap_getattr(tuple, attnum, desc, &isnull);
		if (isnull)
			continue;
		t = DatumGetTextPP(value);
		data = VARDATA_ANY(t);
		len = VARSIZE_ANY_EXHDR(t);

		if (mode == GUARD_REJECT)
		{
			PiiSpan		span;

			if (pii_scan(data, len, PII_SENSITIVE_KINDS, first_span, &span) > 0)
				reject_value(rel, attnum, span.kind);
		}
		else
		{
			SpanBuffer	buf = {NULL, 0, 0};
			int			counts[PII_NUM_KINDS] = {0};

			pii_scan(data, len, PII_SENSITIVE_KINDS, add_span, &buf);
			if (buf.count == 0)
				continue;
			repl_cols[nrepl] = attnum;
			repl_values[nrepl] = redact_value(rel, attnum, data, len, &buf, counts);
			nrepl++;
			audit_redaction(rel, attnum, counts);
			pfree(buf.spans);
		}
	}

	if (nrepl > 0)
		tuple = heap_modify_tuple_by_cols(tuple, desc, nrepl, repl_cols,
										  repl_values, repl_nulls);
	return PointerGetDatum(tuple);
}
