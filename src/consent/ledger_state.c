/*
 * ledger_state.c
 *		The consent ledger's statement trigger, which applies the events a
 *		statement inserted to privacy._ledger_state, and the bracket inside
 *		which the extension's own writers apply them themselves.
 *
 * The latest event of each (kind, subject, purpose) decides its state: a
 * consent, an objection or a restriction is its status; a withdrawal or a
 * lifted restriction ends it (the row is deleted). A statement that
 * inserted one event (as grant_consent() and the other ledger functions
 * did before they wrote the state themselves, and as a DBA's INSERT may)
 * is applied by one of two statements prepared once per session; more
 * events (a restore, a bulk INSERT) by one set-based statement over the
 * transition table.
 *
 * The trigger function has no SET clause, which would cost every event a
 * configuration save and restore: its statements name every table,
 * function and operator with its schema, so the caller's search_path
 * cannot reach them. It runs as the role that inserted the events, as the
 * PL/pgSQL function it replaces did; only the extension's owner (and
 * superusers) may insert into the ledger.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "executor/tuptable.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/rel.h"
#include "utils/tuplestore.h"

#include "base/spi_statements.h"
#include "consent/ledger_state.h"

PG_FUNCTION_INFO_V1(privacy_maintain_ledger_state);
PG_FUNCTION_INFO_V1(privacy_ledger_event_is_valid);

/* The statement of this backend that writes its events' state itself. */
static struct
{
	bool		active;
	int			fired;			/* times the trigger fired during it */
	uint64		events;			/* events it was fired for */
} own_write;

/* The statements applying one event, prepared once per session. */
static SPIPlanPtr upsert_plan = NULL;
static SPIPlanPtr delete_plan = NULL;

/* The events of a statement, applied in one statement over the transition table. */
static const char *const apply_events_sql =
"WITH latest AS ("
"	SELECT DISTINCT ON (e.kind, e.subject, COALESCE(e.purpose, ''))"
"		   e.kind, e.subject, COALESCE(e.purpose, '') AS purpose, e.id,"
"		   CASE WHEN e.action OPERATOR(pg_catalog.=) 'consent.grant' THEN 'granted'"
"				WHEN e.action OPERATOR(pg_catalog.=) 'objection' THEN 'objected'"
"				WHEN e.action OPERATOR(pg_catalog.=) 'restriction' THEN 'restricted' END AS status"
"	  FROM new_events e"
"	 ORDER BY e.kind, e.subject, COALESCE(e.purpose, ''), e.id DESC),"
" ended AS ("
"	DELETE FROM privacy._ledger_state s"
"	 USING latest l"
"	 WHERE l.status IS NULL"
"	   AND s.kind OPERATOR(pg_catalog.=) l.kind AND s.subject OPERATOR(pg_catalog.=) l.subject"
"	   AND s.purpose OPERATOR(pg_catalog.=) l.purpose)"
" INSERT INTO privacy._ledger_state AS s (kind, purpose, subject, status, event_id)"
" SELECT l.kind, l.purpose, l.subject, l.status, l.id FROM latest l WHERE l.status IS NOT NULL"
" ON CONFLICT (kind, subject, purpose)"
" DO UPDATE SET status = EXCLUDED.status, event_id = EXCLUDED.event_id";

void
ledger_state_begin_own_write(void)
{
	if (own_write.active)
		elog(ERROR, "a statement writing the consent ledger's state is running already");
	own_write.active = true;
	own_write.fired = 0;
	own_write.events = 0;
}

void
ledger_state_end_own_write(uint64 nevents)
{
	bool		applied = own_write.fired == 1 && own_write.events == nevents;

	own_write.active = false;
	if (!applied)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("consent ledger events were inserted whose state was not written"),
				 errdetail("Another statement inserted events into privacy.consent_ledger while the extension recorded its own."),
				 errhint("Remove the triggers or rules that insert into privacy.consent_ledger.")));
}

void
ledger_state_cancel_own_write(void)
{
	own_write.active = false;
}

/* A text column of the event, or NULL. */
static char *
event_text(TupleTableSlot *slot, TupleDesc desc, const char *column)
{
	int			attnum = SPI_fnumber(desc, column);
	bool		isnull;
	Datum		value;

	if (attnum <= 0)
		elog(ERROR, "the consent ledger has no column \"%s\"", column);
	value = slot_getattr(slot, attnum, &isnull);
	return isnull ? NULL : TextDatumGetCString(value);
}

/* Applies the one event in the transition table to the state. */
static void
apply_one_event(Tuplestorestate *events, Relation ledger)
{
	TupleDesc	desc = RelationGetDescr(ledger);
	TupleTableSlot *slot = MakeSingleTupleTableSlot(desc, &TTSOpsMinimalTuple);
	char	   *action;
	const char *status;
	char	   *purpose;
	Datum		values[5];
	Oid			argtypes[5] = {TEXTOID, TEXTOID, TEXTOID, INT8OID, TEXTOID};
	bool		isnull;
	int			attnum;

	tuplestore_rescan(events);
	if (!tuplestore_gettupleslot(events, true, false, slot))
		elog(ERROR, "the consent ledger's transition table is empty");
	action = event_text(slot, desc, "action");
	purpose = event_text(slot, desc, "purpose");
	values[0] = CStringGetTextDatum(event_text(slot, desc, "kind"));
	values[1] = CStringGetTextDatum(event_text(slot, desc, "subject"));
	values[2] = CStringGetTextDatum(purpose ? purpose : "");
	attnum = SPI_fnumber(desc, "id");
	values[3] = slot_getattr(slot, attnum, &isnull);
	status = action == NULL ? NULL :
		strcmp(action, "consent.grant") == 0 ? "granted" :
		strcmp(action, "objection") == 0 ? "objected" :
		strcmp(action, "restriction") == 0 ? "restricted" : NULL;

	if (status != NULL)
	{
		values[4] = CStringGetTextDatum(status);
		if (SPI_execute_plan(privacy_kept_plan(&upsert_plan,
											   "INSERT INTO privacy._ledger_state AS s (kind, subject, purpose, event_id, status)"
											   " VALUES ($1, $2, $3, $4, $5)"
											   " ON CONFLICT (kind, subject, purpose)"
											   " DO UPDATE SET status = EXCLUDED.status, event_id = EXCLUDED.event_id",
											   5, argtypes),
							 values, NULL, false, 0) != SPI_OK_INSERT)
			elog(ERROR, "could not apply a consent ledger event to its state");
	}
	else if (SPI_execute_plan(privacy_kept_plan(&delete_plan,
												"DELETE FROM privacy._ledger_state s"
												" WHERE s.kind OPERATOR(pg_catalog.=) $1"
												" AND s.subject OPERATOR(pg_catalog.=) $2"
												" AND s.purpose OPERATOR(pg_catalog.=) $3",
												3, argtypes),
							  values, NULL, false, 0) != SPI_OK_DELETE)
		elog(ERROR, "could not apply a consent ledger event to its state");
	ExecDropSingleTupleTableSlot(slot);
}

/*
 * privacy_internal._maintain_ledger_state(): AFTER INSERT statement trigger
 * on privacy.consent_ledger, with the inserted events as new_events.
 */
Datum
privacy_maintain_ledger_state(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	Tuplestorestate *events;
	int64		nevents;

	if (!CALLED_AS_TRIGGER(fcinfo) ||
		!TRIGGER_FIRED_BY_INSERT(trigdata->tg_event) ||
		!TRIGGER_FIRED_FOR_STATEMENT(trigdata->tg_event) ||
		trigdata->tg_newtable == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("privacy_internal._maintain_ledger_state() must be called as an INSERT statement trigger with a transition table")));
	events = trigdata->tg_newtable;
	nevents = tuplestore_tuple_count(events);

	if (own_write.active)
	{
		own_write.fired++;
		own_write.events += nevents;
		return PointerGetDatum(NULL);
	}
	if (nevents == 0)
		return PointerGetDatum(NULL);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "could not connect to SPI");
	if (nevents == 1)
		apply_one_event(events, trigdata->tg_relation);
	else
	{
		if (SPI_register_trigger_data(trigdata) != SPI_OK_TD_REGISTER)
			elog(ERROR, "could not register the consent ledger's transition table");
		if (SPI_execute(apply_events_sql, false, 0) != SPI_OK_INSERT)
			elog(ERROR, "could not apply consent ledger events to their state");
	}
	SPI_finish();
	return PointerGetDatum(NULL);
}

/*
 * privacy_internal._ledger_event_is_valid(action, purpose, evidence) →
 * boolean: the ledger's CHECK constraint. The action is one of the five,
 * a restriction or lifted restriction has no purpose and every other event
 * has one, and the evidence is a JSON object. NULL when the action or the
 * evidence is null, which the columns' NOT NULL constraints refuse.
 *
 * One C function rather than three expressions: a CHECK expression is
 * read back from the catalog and planned once per statement, which cost a
 * single recorded event more than the rest of its insert.
 */
Datum
privacy_ledger_event_is_valid(PG_FUNCTION_ARGS)
{
	static const char *const with_purpose[] = {"consent.grant", "consent.withdraw", "objection"};
	static const char *const without_purpose[] = {"restriction", "restriction.lift"};
	char	   *action;
	bool		purpose_null = PG_ARGISNULL(1);
	int			i;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(2))
		PG_RETURN_NULL();
	if (!JB_ROOT_IS_OBJECT(PG_GETARG_JSONB_P(2)))
		PG_RETURN_BOOL(false);
	action = text_to_cstring(PG_GETARG_TEXT_PP(0));
	for (i = 0; i < lengthof(with_purpose); i++)
		if (strcmp(action, with_purpose[i]) == 0)
			PG_RETURN_BOOL(!purpose_null);
	for (i = 0; i < lengthof(without_purpose); i++)
		if (strcmp(action, without_purpose[i]) == 0)
			PG_RETURN_BOOL(purpose_null);
	PG_RETURN_BOOL(false);
}
