/*
 * ledger_append.c
 *		Appending many consents to the consent ledger with their state, in
 *		one pass (see ledger_append.h).
 *
 * Each table's row is kept as one array of values that the rows share
 * (the kind, the purpose, the actor...), set once, into which each grant
 * sets its own (the subject, the event's id, time and evidence).
 */
#include "postgres.h"

#include "catalog/dependency.h"
#include "commands/sequence.h"
#include "utils/builtins.h"
#include "utils/rel.h"
#include "utils/timestamp.h"

#include "base/bulk_insert.h"
#include "base/extension_objects.h"
#include "consent/consent_check.h"
#include "consent/ledger_append.h"

/* The columns of privacy.consent_ledger, all of which an event fills. */
enum
{
	L_ID, L_RECORDED_AT, L_ACTOR, L_KIND, L_SUBJECT, L_FORGOTTEN, L_ACTION, L_PURPOSE, L_SOURCE,
	L_POLICY_VERSION, L_EVIDENCE, L_NCOLUMNS
};
static const char *const ledger_columns[L_NCOLUMNS] = {
	"id", "recorded_at", "actor", "kind", "subject", "forgotten", "action", "purpose", "source",
	"policy_version", "evidence"
};

/* The columns of privacy._ledger_state. */
enum
{
	S_KIND, S_PURPOSE, S_SUBJECT, S_STATUS, S_EVENT_ID, S_NCOLUMNS
};
static const char *const state_columns[S_NCOLUMNS] = {"kind", "purpose", "subject", "status", "event_id"};

/* The triggers whose work this file does. */
static const char *const ledger_triggers[] = {"maintain_state"};
static const char *const state_triggers[] = {"invalidate_consent_cache", "invalidate_consent_cache_on_apply"};

/* A row of one of the tables, in its column order, and its columns' numbers. */
typedef struct AppendedRow
{
	BulkInsert *insert;
	AttrNumber *attnums;		/* by the enum above */
	Datum	   *values;
	bool	   *nulls;
} AppendedRow;

struct LedgerAppend
{
	AppendedRow ledger;
	AppendedRow state;
	Oid			id_sequence;
	bool		state_written;
};

/*
 * Opens the table for appending, with a row of nulls; an error unless its
 * columns are exactly the n named: a column the append did not know would
 * be left null.
 */
static void
open_row(AppendedRow *row, const char *relname, const char *const *triggers, int ntriggers,
		 const char *const *columns, int n)
{
	TupleDesc	desc;
	int			live = 0;

	row->insert = bulk_insert_begin(privacy_required_relid(relname), triggers, ntriggers);
	desc = RelationGetDescr(bulk_insert_relation(row->insert));
	for (int i = 0; i < desc->natts; i++)
		if (!TupleDescAttr(desc, i)->attisdropped)
			live++;
	if (live != n)
		elog(ERROR, "table %s.%s has columns the consent import does not fill", PRIVACY_SCHEMA, relname);
	row->attnums = palloc(sizeof(AttrNumber) * n);
	for (int i = 0; i < n; i++)
		row->attnums[i] = bulk_insert_column(row->insert, columns[i]);
	row->values = palloc0(sizeof(Datum) * desc->natts);
	row->nulls = palloc(sizeof(bool) * desc->natts);
	memset(row->nulls, true, sizeof(bool) * desc->natts);
}

/* Sets a column of the row to value, or to null. */
static void
set_column(AppendedRow *row, int column, Datum value, bool isnull)
{
	row->values[row->attnums[column] - 1] = value;
	row->nulls[row->attnums[column] - 1] = isnull;
}

LedgerAppend *
ledger_append_begin(const LedgerGrants *grants)
{
	LedgerAppend *append = palloc0(sizeof(LedgerAppend));
	AppendedRow *ledger = &append->ledger;
	AppendedRow *state = &append->state;

	open_row(ledger, "consent_ledger", ledger_triggers, lengthof(ledger_triggers),
			 ledger_columns, L_NCOLUMNS);
	open_row(state, "_ledger_state", state_triggers, lengthof(state_triggers),
			 state_columns, S_NCOLUMNS);
	append->id_sequence = getIdentitySequence(RelationGetRelid(bulk_insert_relation(ledger->insert)),
											  ledger->attnums[L_ID], false);

	set_column(ledger, L_ACTOR, PointerGetDatum(grants->actor), false);
	set_column(ledger, L_KIND, PointerGetDatum(grants->kind), false);
	set_column(ledger, L_FORGOTTEN, BoolGetDatum(false), false);
	set_column(ledger, L_ACTION, CStringGetTextDatum("consent.grant"), false);
	set_column(ledger, L_PURPOSE, PointerGetDatum(grants->purpose), false);
	set_column(ledger, L_SOURCE, PointerGetDatum(grants->source), false);
	set_column(ledger, L_POLICY_VERSION, PointerGetDatum(grants->policy_version),
			   grants->policy_version == NULL);
	set_column(state, S_KIND, PointerGetDatum(grants->kind), false);
	set_column(state, S_PURPOSE, PointerGetDatum(grants->purpose), false);
	set_column(state, S_STATUS, CStringGetTextDatum("granted"), false);
	return append;
}

int64
ledger_append_grant(LedgerAppend *append, Datum subject, Datum evidence)
{
	int64		id = nextval_internal(append->id_sequence, false);

	set_column(&append->ledger, L_ID, Int64GetDatum(id), false);
	set_column(&append->ledger, L_RECORDED_AT, TimestampTzGetDatum(GetCurrentTimestamp()), false);
	set_column(&append->ledger, L_SUBJECT, subject, false);
	set_column(&append->ledger, L_EVIDENCE, evidence, false);
	bulk_insert_row(append->ledger.insert, append->ledger.values, append->ledger.nulls);

	set_column(&append->state, S_SUBJECT, subject, false);
	set_column(&append->state, S_EVENT_ID, Int64GetDatum(id), false);
	bulk_insert_row(append->state.insert, append->state.values, append->state.nulls);
	append->state_written = true;
	return id;
}

void
ledger_append_end(LedgerAppend *append)
{
	bulk_insert_end(append->ledger.insert);
	bulk_insert_flush(append->state.insert);
	if (append->state_written)
		consent_cache_table_written(bulk_insert_relation(append->state.insert));
	bulk_insert_end(append->state.insert);
	pfree(append);
}
