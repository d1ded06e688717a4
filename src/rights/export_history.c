/*
 * export_history.c
 *		The consent history and the disclosures of a subject in its export:
 *		the events of privacy.consent_ledger and privacy.disclosures that
 *		concern the subject, oldest first, read through the subject index of
 *		each and built into jsonb directly.
 *
 * Each event is the object jsonb_build_object() makes of the same columns
 * (as privacy_internal._consent_history_sql() does for the ledger): each
 * value in the form jsonb_build_object() gives its column's type
 * (timestamps as JSON timestamps, arrays of text as arrays, NULL as null).
 * The ledger's events of the subject are those recorded under its
 * canonical key and not forgotten, and those forgotten (an erasure replaced
 * the key by the reference) under its reference; the disclosures are
 * recorded under the reference alone. Both are read with the snapshot of
 * the statement that called the export, as the export's other statements
 * are, so the export sees the subject whole or not at all.
 *
 * The tables are the extension's own and read as its owner would: no
 * privilege is checked beyond the caller's right to run the export, and
 * neither table has row security.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/json.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include "base/extension_objects.h"
#include "rights/rights.h"

/* A field of an event: its key in the export and the column it shows. */
typedef struct EventField
{
	const char *key;
	const char *column;
} EventField;

/* A log of events about subjects, read by kind and subject. */
typedef struct EventLog
{
	const char *table;
	const char *index;			/* on (kind, subject_column, ...) */
	const char *subject_column;
	int			nfields;
	const EventField *fields;
} EventLog;

static const EventField ledger_fields[] = {
	{"time", "recorded_at"}, {"action", "action"}, {"purpose", "purpose"},
	{"source", "source"}, {"policy_version", "policy_version"},
	{"evidence", "evidence"}, {"recorded_by", "actor"}
};

static const EventLog consent_ledger = {
	"consent_ledger", "consent_ledger_subject_idx", "subject",
	lengthof(ledger_fields), ledger_fields
};

static const EventField disclosure_fields[] = {
	{"time", "disclosed_at"}, {"recipient", "recipient"}, {"categories", "categories"},
	{"legal_basis", "legal_basis"}, {"reference", "reference"}, {"details", "details"},
	{"recorded_by", "actor"}
};

static const EventLog disclosure_log = {
	"disclosures", "disclosures_subject_idx", "subject_ref",
	lengthof(disclosure_fields), disclosure_fields
};

/* An event read, and the id it is ordered by. */
typedef struct Event
{
	int64		id;
	HeapTuple	tuple;
} Event;

/* The events read from one log. */
typedef struct EventList
{
	int			n;
	int			capacity;
	Event	   *events;
} EventList;

/* One log, open, with the numbers of the columns it is read by. */
typedef struct OpenLog
{
	const EventLog *log;
	Relation	rel;
	Oid			index;
	AttrNumber	id;
	AttrNumber	kind;
	AttrNumber	subject;
	AttrNumber *fields;
} OpenLog;

/* The number of column name of rel; an error if it has none. */
static AttrNumber
column_number(Relation rel, const char *name)
{
	AttrNumber	attnum = get_attnum(RelationGetRelid(rel), name);

	if (attnum <= 0)
		elog(ERROR, "table %s.%s has no column \"%s\"", PRIVACY_SCHEMA, RelationGetRelationName(rel), name);
	return attnum;
}

/*
 * Opens the log and checks that its index is valid and leads with (kind,
 * subject): an index that is not would leave events out.
 */
static void
open_log(const EventLog *log, OpenLog *open)
{
	Oid			nsp = get_namespace_oid(PRIVACY_SCHEMA, false);
	Oid			relid = get_relname_relid(log->table, nsp);
	Relation	index;

	open->index = get_relname_relid(log->index, nsp);
	if (!OidIsValid(relid) || !OidIsValid(open->index))
		elog(ERROR, "table %s.%s or its index \"%s\" is missing", PRIVACY_SCHEMA, log->table, log->index);
	open->log = log;
	open->rel = table_open(relid, AccessShareLock);
	open->id = column_number(open->rel, "id");
	open->kind = column_number(open->rel, "kind");
	open->subject = column_number(open->rel, log->subject_column);
	open->fields = palloc(sizeof(AttrNumber) * log->nfields);
	for (int i = 0; i < log->nfields; i++)
		open->fields[i] = column_number(open->rel, log->fields[i].column);

	index = index_open(open->index, AccessShareLock);
	if (index->rd_index->indrelid != relid ||
		!index->rd_index->indisvalid || !index->rd_index->indisready ||
		index->rd_index->indnkeyatts < 2 ||
		index->rd_index->indkey.values[0] != open->kind ||
		index->rd_index->indkey.values[1] != open->subject)
		elog(ERROR, "index \"%s\" of table %s.%s is not a valid index on its kind and %s",
			 log->index, PRIVACY_SCHEMA, log->table, log->subject_column);
	index_close(index, NoLock);
}

/* An equality key on a text column of the open log, in that column's collation. */
static void
text_key(OpenLog *open, ScanKey key, AttrNumber attnum, Datum value)
{
	ScanKeyInit(key, attnum, BTEqualStrategyNumber, F_TEXTEQ, value);
	key->sk_collation = TupleDescAttr(RelationGetDescr(open->rel), attnum - 1)->attcollation;
}

/*
 * Adds to events the log's events of kind recorded under subject; with
 * forgotten_column, only those whose boolean column of that name is
 * forgotten.
 */
static void
read_events(OpenLog *open, const char *kind, text *subject, const char *forgotten_column,
			bool forgotten, EventList *events)
{
	TupleDesc	desc = RelationGetDescr(open->rel);
	AttrNumber	forgotten_att = forgotten_column ? column_number(open->rel, forgotten_column) : InvalidAttrNumber;
	ScanKeyData keys[2];
	SysScanDesc scan;
	HeapTuple	tuple;

	text_key(open, &keys[0], open->kind, CStringGetTextDatum(kind));
	text_key(open, &keys[1], open->subject, PointerGetDatum(subject));
	scan = systable_beginscan(open->rel, open->index, true, GetActiveSnapshot(), 2, keys);
	while (HeapTupleIsValid(tuple = systable_getnext(scan)))
	{
		bool		isnull;

		if (forgotten_att != InvalidAttrNumber &&
			DatumGetBool(heap_getattr(tuple, forgotten_att, desc, &isnull)) != forgotten)
			continue;
		if (events->n == events->capacity)
		{
			events->capacity = events->capacity == 0 ? 8 : events->capacity * 2;
			events->events = events->events == NULL ? palloc(sizeof(Event) * events->capacity)
				: repalloc(events->events, sizeof(Event) * events->capacity);
		}
		events->events[events->n].id = DatumGetInt64(heap_getattr(tuple, open->id, desc, &isnull));
		events->events[events->n].tuple = heap_copytuple(tuple);
		events->n++;
	}
	systable_endscan(scan);
}

/* Pushes a column's value as jsonb_build_object() shows a value of its type. */
static void
push_value(JsonbParseState **state, Form_pg_attribute att, Datum value, bool isnull)
{
	if (isnull)
	{
		rights_push_null(state, WJB_VALUE);
		return;
	}
	switch (att->atttypid)
	{
		case TIMESTAMPTZOID:
			rights_push_string(state, WJB_VALUE, JsonEncodeDateTime(NULL, value, TIMESTAMPTZOID, NULL));
			break;
		case TEXTOID:
			rights_push_string(state, WJB_VALUE, TextDatumGetCString(value));
			break;
		case NAMEOID:
			rights_push_string(state, WJB_VALUE, NameStr(*DatumGetName(value)));
			break;
		case JSONBOID:
			rights_push_jsonb(state, WJB_VALUE, DatumGetJsonbP(value));
			break;
		case TEXTARRAYOID:
			{
				Datum	   *elems;
				bool	   *nulls;
				int			n;

				deconstruct_array(DatumGetArrayTypeP(value), TEXTOID, -1, false, TYPALIGN_INT,
								  &elems, &nulls, &n);
				pushJsonbValue(state, WJB_BEGIN_ARRAY, NULL);
				for (int i = 0; i < n; i++)
					rights_push_string(state, WJB_ELEM, nulls[i] ? NULL : TextDatumGetCString(elems[i]));
				pushJsonbValue(state, WJB_END_ARRAY, NULL);
				break;
			}
		default:
			elog(ERROR, "column \"%s\" has a type the export does not show", NameStr(att->attname));
	}
}

/* Orders events by id. */
static int
event_cmp(const void *a, const void *b)
{
	int64		x = ((const Event *) a)->id;
	int64		y = ((const Event *) b)->id;

	return x < y ? -1 : x > y ? 1 : 0;
}

/* The events, oldest (lowest id) first, as a jsonb array of objects. */
static Jsonb *
events_array(OpenLog *open, EventList *events)
{
	TupleDesc	desc = RelationGetDescr(open->rel);
	JsonbParseState *state = NULL;
	JsonbValue *result;

	if (events->n > 1)
		qsort(events->events, events->n, sizeof(Event), event_cmp);
	pushJsonbValue(&state, WJB_BEGIN_ARRAY, NULL);
	for (int i = 0; i < events->n; i++)
	{
		pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
		for (int f = 0; f < open->log->nfields; f++)
		{
			AttrNumber	attnum = open->fields[f];
			bool		isnull;
			Datum		value = heap_getattr(events->events[i].tuple, attnum, desc, &isnull);

			rights_push_key(&state, open->log->fields[f].key);
			push_value(&state, TupleDescAttr(desc, attnum - 1), value, isnull);
		}
		pushJsonbValue(&state, WJB_END_OBJECT, NULL);
	}
	result = pushJsonbValue(&state, WJB_END_ARRAY, NULL);
	return JsonbValueToJsonb(result);
}

Jsonb *
rights_consent_history(const char *kind, const char *key, text *ref)
{
	OpenLog		open;
	EventList	events = {0};
	Jsonb	   *result;

	open_log(&consent_ledger, &open);
	read_events(&open, kind, cstring_to_text(key), "forgotten", false, &events);
	read_events(&open, kind, ref, "forgotten", true, &events);
	result = events_array(&open, &events);
	table_close(open.rel, NoLock);
	return result;
}

Jsonb *
rights_disclosures(const char *kind, text *ref)
{
	OpenLog		open;
	EventList	events = {0};
	Jsonb	   *result;

	open_log(&disclosure_log, &open);
	read_events(&open, kind, ref, NULL, false, &events);
	result = events_array(&open, &events);
	table_close(open.rel, NoLock);
	return result;
}

/* The time the export is generated at (now()), as to_jsonb() shows it. */
char *
rights_generated_at(void)
{
	return JsonEncodeDateTime(NULL, TimestampTzGetDatum(GetCurrentTransactionStartTimestamp()),
							  TIMESTAMPTZOID, NULL);
}
