/*
 * consent_record.c
 *		Records one event in the consent ledger: a consent given or withdrawn,
 *		an objection, a restriction or a lifted restriction, validated,
 *		ordered per subject and audited.
 *
 * privacy.grant_consent(), withdraw_consent(), object(), restrict() and
 * lift_restriction(), and privacy_internal._record() that
 * privacy.unsubscribe() uses, run here as the extension's owner (SECURITY
 * DEFINER, search_path pinned), each statement prepared once per session.
 * The subject's key is made canonical (and must exist, except to withdraw),
 * the purpose must rest on the action's legal basis, the source must be
 * declared and the evidence must be a JSON object.
 *
 * Two events of one subject are ordered: the subject's ledger lock
 * (subject_lock_take(), docs/internals.md) is taken before the event gets
 * its id and is held to the end of the transaction. The lock takes no
 * entry in the lock manager, so one transaction may record events for any
 * number of subjects. The statement that inserts the event also applies
 * it to privacy._ledger_state (ledger_state.h), whose change every
 * session's row check learns of at commit (consent_check.c), for this
 * subject only (consent_changes.h); nothing else is locked beyond the
 * subject. The purposes, sources and policy version an event is checked
 * against are kept for the session (event_policy.h).
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/snapmgr.h"

#include "audit/audit.h"
#include "base/spi_statements.h"
#include "consent/consent_changes.h"
#include "consent/event_policy.h"
#include "consent/ledger_state.h"
#include "subject/subject.h"

PG_FUNCTION_INFO_V1(privacy_grant_consent);
PG_FUNCTION_INFO_V1(privacy_withdraw_consent);
PG_FUNCTION_INFO_V1(privacy_object);
PG_FUNCTION_INFO_V1(privacy_lift_restriction);
PG_FUNCTION_INFO_V1(privacy_record);

extern PGDLLEXPORT Datum privacy_canonical_subject(PG_FUNCTION_ARGS);

/* One event to record; NULL fields are SQL NULLs. */
typedef struct ConsentEvent
{
	const char *action;
	text	   *kind;
	text	   *subject;
	text	   *purpose;
	text	   *source;
	Jsonb	   *evidence;
} ConsentEvent;

/* The statements, prepared once per session. */
static SPIPlanPtr erased_plan = NULL;
static SPIPlanPtr restricted_plan = NULL;
static SPIPlanPtr insert_plan = NULL;
static SPIPlanPtr insert_ending_plan = NULL;
static SPIPlanPtr purpose_error_plan = NULL;

/* Runs a statement whose plan is kept for the session (prepared on first use). */
static int
run_kept(SPIPlanPtr *plan, const char *sql, int nargs, Oid *argtypes,
		 Datum *values, const char *nulls, int expected)
{
	int			rc = SPI_execute_plan(privacy_kept_plan(plan, sql, nargs, argtypes),
									  values, nulls, false, 0);

	if (rc != expected)
		elog(ERROR, "could not run a consent ledger statement: %s", SPI_result_code_string(rc));
	return rc;
}

/* The first column of the only row of the last statement's result. */
static Datum
result_value(int column, bool *isnull)
{
	if (SPI_processed != 1)
		elog(ERROR, "a consent ledger statement returned %llu rows",
			 (unsigned long long) SPI_processed);
	return SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, column, isnull);
}

/*
 * The canonical text of the event's subject key, checked against its kind
 * (and, with must_exist, its anchor table), by
 * privacy_internal._canonical_subject(), which also gives the errors.
 */
static char *
canonical_key(const ConsentEvent *event, bool must_exist)
{
	LOCAL_FCINFO(fcinfo, 3);
	Datum		result;

	InitFunctionCallInfoData(*fcinfo, NULL, 3, InvalidOid, NULL, NULL);
	fcinfo->args[0].value = PointerGetDatum(event->kind);
	fcinfo->args[0].isnull = event->kind == NULL;
	fcinfo->args[1].value = PointerGetDatum(event->subject);
	fcinfo->args[1].isnull = event->subject == NULL;
	fcinfo->args[2].value = BoolGetDatum(must_exist);
	fcinfo->args[2].isnull = false;
	result = privacy_canonical_subject(fcinfo);
	return TextDatumGetCString(result);
}

/* The role on whose behalf the event is recorded, as privacy_internal._acting_role(). */
static char *
acting_role(void)
{
	const char *role = GetConfigOption("role", false, false);

	if (role != NULL && strcmp(role, "none") != 0)
		return pstrdup(role);
	return GetUserNameFromId(GetSessionUserId(), false);
}

/*
 * Raises privacy_internal._require_purpose()'s error for a purpose that does not
 * exist or does not rest on the action's legal basis. It reads the latest
 * policy, as event_policy.c does (a REPEATABLE READ snapshot may still see
 * the policy before); should that policy differ from the one just checked,
 * a policy was applied in between, and the event is refused as a
 * serialization failure, to be recorded again.
 */
static void
purpose_error(const ConsentEvent *event)
{
	Oid			argtypes[3] = {TEXTOID, TEXTARRAYOID, TEXTOID};
	Datum		values[3];
	char		nulls[3] = {' ', ' ', ' '};
	bool		objection = strcmp(event->action, "objection") == 0;
	Datum		basis = CStringGetTextDatum(objection ? "legitimate_interest" : "consent");

	values[0] = PointerGetDatum(event->purpose);
	if (event->purpose == NULL)
		nulls[0] = 'n';
	values[1] = PointerGetDatum(construct_array(&basis, 1, TEXTOID, -1, false, TYPALIGN_INT));
	values[2] = CStringGetTextDatum(objection ? "record an objection to" :
									strcmp(event->action, "consent.grant") == 0 ?
									"record consent for" : "withdraw consent for");
	if (SPI_execute_snapshot(privacy_kept_plan(&purpose_error_plan,
											   "SELECT privacy_internal._require_purpose($1, $2, $3)",
											   3, argtypes),
							 values, nulls, GetLatestSnapshot(), InvalidSnapshot, true, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not check a purpose");
	ereport(ERROR,
			(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
			 errmsg("could not record the event: the policy changed while it was checked"),
			 errhint("Record the event again.")));
}

/*
 * Checks the purpose (but for restrictions), the source and the evidence
 * against the policy (event_policy.h); returns the version of the policy in
 * force, or NULL if none was applied.
 */
static const char *
check_event_policy(const ConsentEvent *event)
{
	const char *version;
	bool		needs_purpose = strncmp(event->action, "restriction", 11) != 0;

	if (needs_purpose)
	{
		const char *wanted = strcmp(event->action, "objection") == 0 ? "legitimate_interest" : "consent";
		const char *basis = event->purpose == NULL ? NULL :
			event_policy_legal_basis(text_to_cstring(event->purpose));

		if (basis == NULL || strcmp(basis, wanted) != 0)
			purpose_error(event);
	}
	if (event->source == NULL || !event_policy_source_declared(text_to_cstring(event->source)))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unrecognized source \"%s\"",
						event->source ? text_to_cstring(event->source) : "<NULL>"),
				 errhint("Sources are declared by the policy document; privacy.sources lists them.")));
	if (event->evidence == NULL || !JB_ROOT_IS_OBJECT(event->evidence))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("evidence must be a JSON object"),
				 errhint("Describe how the event was captured, for example {\"form\": \"signup\", \"text_version\": \"3\"}.")));
	version = event_policy_version();
	/* copied: a nested event (a trigger's) may read the policy again */
	return version == NULL ? NULL : pstrdup(version);
}

/* Checks that apply once the subject is locked. */
static void
check_locked_subject(const ConsentEvent *event, const char *kind, Datum *values)
{
	Oid			argtypes[2] = {TEXTOID, TEXTOID};
	bool		isnull;

	if (strcmp(event->action, "consent.withdraw") == 0)
	{
		run_kept(&erased_plan, "SELECT privacy_internal._subject_erased($1, $2)",
				 2, argtypes, values, NULL, SPI_OK_SELECT);
		if (DatumGetBool(result_value(1, &isnull)))
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("cannot withdraw consent for a subject of kind \"%s\" that was erased", kind),
					 errdetail("The erasure ended every consent of the subject; the ledger keeps its events under the subject's reference only."),
					 errhint("privacy.erasures holds the receipt of the erasure.")));
	}
	else if (strcmp(event->action, "restriction.lift") == 0)
	{
		run_kept(&restricted_plan,
				 "SELECT EXISTS (SELECT FROM privacy._ledger_state s"
				 " WHERE s.kind OPERATOR(pg_catalog.=) $1 AND s.subject OPERATOR(pg_catalog.=) $2"
				 " AND s.purpose OPERATOR(pg_catalog.=) '')",
				 2, argtypes, values, NULL, SPI_OK_SELECT);
		if (!DatumGetBool(result_value(1, &isnull)))
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("processing of this subject of kind \"%s\" is not restricted", kind),
					 errhint("privacy.consent_history() shows the subject's restrictions.")));
	}
}

/*
 * The status an event leaves its subject's (kind, purpose) in, or NULL for
 * a withdrawal or a lifted restriction, which end it.
 */
static const char *
event_status(const char *action)
{
	if (strcmp(action, "consent.grant") == 0)
		return "granted";
	if (strcmp(action, "objection") == 0)
		return "objected";
	if (strcmp(action, "restriction") == 0)
		return "restricted";
	return NULL;
}

/*
 * Runs the statement that records an event and writes its state, prepared
 * once per session. In REPEATABLE READ or SERIALIZABLE it reads the state
 * with a snapshot taken now, after the subject's lock was taken, and
 * checks every row it changes against the transaction's snapshot, as
 * foreign-key checks do: a state row another transaction committed after
 * that snapshot would otherwise be invisible, and a withdrawal would leave
 * it granted. Such a race is a serialization failure.
 */
static void
run_event_statement(SPIPlanPtr *plan, const char *sql, int nargs, Oid *argtypes,
					Datum *values, const char *nulls)
{
	SPIPlanPtr	kept = privacy_kept_plan(plan, sql, nargs, argtypes);
	int			rc;

	if (IsolationUsesXactSnapshot())
		rc = SPI_execute_snapshot(kept, values, nulls, GetLatestSnapshot(),
								  GetTransactionSnapshot(), false, true, 0);
	else
		rc = SPI_execute_plan(kept, values, nulls, false, 0);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "could not record a consent ledger event: %s", SPI_result_code_string(rc));
}

/*
 * The statement that records an event, given the clause that applies it to
 * the state ($9: the status it leaves, for the statements that keep one).
 */
#define EVENT_SQL(state_clause) \
	"WITH event AS (INSERT INTO privacy.consent_ledger (actor, kind, subject, action, purpose, source, policy_version, evidence)" \
	" VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id, kind, subject, purpose)," \
	state_clause \
	" SELECT e.id FROM event e"

/*
 * The event's audit entry: the fields privacy_internal._audit() gives one
 * (the session user, the subject's reference) with a summary of event id,
 * purpose, source and policy version (those that are not NULL). Queued
 * now, it takes its place in the order of entries now and is written to
 * the unsealed entries when the transaction commits, like every audited
 * action's (audit_pending.c).
 */
static void
queue_audit_entry(const ConsentEvent *event, const char *actor, text *subject_ref,
				  int64 event_id, const char *version)
{
	StringInfoData summary;

	initStringInfo(&summary);
	appendStringInfo(&summary, "{\"event_id\": " INT64_FORMAT, event_id);
	if (event->purpose != NULL)
	{
		appendStringInfoString(&summary, ", \"purpose\": ");
		escape_json(&summary, text_to_cstring(event->purpose));
	}
	if (event->source != NULL)
	{
		appendStringInfoString(&summary, ", \"source\": ");
		escape_json(&summary, text_to_cstring(event->source));
	}
	if (version != NULL)
	{
		appendStringInfoString(&summary, ", \"policy_version\": ");
		escape_json(&summary, version);
	}
	appendStringInfoChar(&summary, '}');
	privacy_audit_queue_ref(actor, event->action, subject_ref,
							DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(summary.data))));
}

/*
 * Inserts the event (values and nulls: $1-$8 of the statements below) and
 * applies it to the ledger's state, in one statement; returns the event's
 * id.
 */
static int64
insert_event(const ConsentEvent *event, Datum *values, char *nulls)
{
	Oid			argtypes[9] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID,
	JSONBOID, TEXTOID};
	const char *status = event_status(event->action);
	bool		isnull;
	int64		event_id;

	ledger_state_begin_own_write();
	consent_changes_begin_subject(DatumGetTextPP(values[1]), DatumGetTextPP(values[2]));
	PG_TRY();
	{
		if (status != NULL)
		{
			values[8] = CStringGetTextDatum(status);
			nulls[8] = ' ';
			run_event_statement(&insert_plan,
								EVENT_SQL(" state AS (INSERT INTO privacy._ledger_state AS s (kind, purpose, subject, status, event_id)"
										  " SELECT e.kind, COALESCE(e.purpose, ''), e.subject, $9, e.id FROM event e"
										  " ON CONFLICT (kind, subject, purpose)"
										  " DO UPDATE SET status = EXCLUDED.status, event_id = EXCLUDED.event_id)"),
								9, argtypes, values, nulls);
		}
		else
			run_event_statement(&insert_ending_plan,
								EVENT_SQL(" state AS (DELETE FROM privacy._ledger_state s USING event e"
										  " WHERE s.kind OPERATOR(pg_catalog.=) e.kind AND s.subject OPERATOR(pg_catalog.=) e.subject"
										  " AND s.purpose OPERATOR(pg_catalog.=) COALESCE(e.purpose, ''))"),
								9, argtypes, values, nulls);
		event_id = DatumGetInt64(result_value(1, &isnull));
	}
	PG_CATCH();
	{
		ledger_state_cancel_own_write();
		consent_changes_end_subject();
		PG_RE_THROW();
	}
	PG_END_TRY();
	consent_changes_end_subject();
	ledger_state_end_own_write(1);
	return event_id;
}

/* Validates, orders, records and audits one event; returns its ledger id. */
static int64
record_event(const ConsentEvent *event)
{
	bool		withdraw = strcmp(event->action, "consent.withdraw") == 0;
	char	   *key = canonical_key(event, !withdraw);
	char	   *kind = text_to_cstring(event->kind);
	char	   *actor = acting_role();
	const char *version;
	int64		event_id;
	Datum		values[9];
	char		nulls[9] = {' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', 'n'};
	Datum		subject_values[2];

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "could not connect to SPI");
	version = check_event_policy(event);
	/* the subject's ledger lock, held to the end of the transaction */
	subject_lock_take(subject_lock_key("consent_ledger", kind, key));
	subject_values[0] = PointerGetDatum(event->kind);
	subject_values[1] = CStringGetTextDatum(key);
	check_locked_subject(event, kind, subject_values);

	values[0] = CStringGetTextDatum(actor);
	values[1] = PointerGetDatum(event->kind);
	values[2] = subject_values[1];
	values[3] = CStringGetTextDatum(event->action);
	values[4] = PointerGetDatum(event->purpose);
	if (event->purpose == NULL)
		nulls[4] = 'n';
	values[5] = PointerGetDatum(event->source);
	values[6] = version == NULL ? (Datum) 0 : CStringGetTextDatum(version);
	if (version == NULL)
		nulls[6] = 'n';
	values[7] = JsonbPGetDatum(event->evidence);
	event_id = insert_event(event, values, nulls);
	queue_audit_entry(event, actor, subject_reference(kind, key), event_id, version);
	SPI_finish();
	return event_id;
}

#define ARG_TEXT(n) (PG_ARGISNULL(n) ? NULL : PG_GETARG_TEXT_PP(n))

/* A grant, withdrawal or objection: (kind, subject, purpose, source, evidence). */
static Datum
record_with_purpose(FunctionCallInfo fcinfo, const char *action)
{
	ConsentEvent event = {action, ARG_TEXT(0), ARG_TEXT(1), ARG_TEXT(2), ARG_TEXT(3),
	PG_ARGISNULL(4) ? NULL : PG_GETARG_JSONB_P(4)};

	PG_RETURN_INT64(record_event(&event));
}

/* A restriction or lifted restriction: (kind, subject, reason) with source "direct". */
static Datum
record_restriction(FunctionCallInfo fcinfo, const char *action)
{
	ConsentEvent event = {action, ARG_TEXT(0), ARG_TEXT(1), NULL,
	cstring_to_text("direct"), NULL};
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfoChar(&buf, '{');
	if (!PG_ARGISNULL(2))
	{
		appendStringInfoString(&buf, "\"reason\": ");
		escape_json(&buf, text_to_cstring(PG_GETARG_TEXT_PP(2)));
	}
	appendStringInfoChar(&buf, '}');
	event.evidence = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(buf.data)));
	PG_RETURN_INT64(record_event(&event));
}

/* privacy.grant_consent(kind, subject, purpose, source, evidence) → bigint */
Datum
privacy_grant_consent(PG_FUNCTION_ARGS)
{
	return record_with_purpose(fcinfo, "consent.grant");
}

/* privacy.withdraw_consent(kind, subject, purpose, source, evidence) → bigint */
Datum
privacy_withdraw_consent(PG_FUNCTION_ARGS)
{
	return record_with_purpose(fcinfo, "consent.withdraw");
}

/* privacy.object(kind, subject, purpose, source, evidence) → bigint */
Datum
privacy_object(PG_FUNCTION_ARGS)
{
	return record_with_purpose(fcinfo, "objection");
}

/* privacy.lift_restriction(kind, subject, reason) → bigint */
Datum
privacy_lift_restriction(PG_FUNCTION_ARGS)
{
	return record_restriction(fcinfo, "restriction.lift");
}

/*
 * privacy_internal._record(action, kind, subject, purpose, source, evidence)
 * → bigint: any event, for privacy.unsubscribe().
 */
Datum
privacy_record(PG_FUNCTION_ARGS)
{
	ConsentEvent event = {NULL, ARG_TEXT(1), ARG_TEXT(2), ARG_TEXT(3), ARG_TEXT(4),
	PG_ARGISNULL(5) ? NULL : PG_GETARG_JSONB_P(5)};

	if (PG_ARGISNULL(0))
		elog(ERROR, "a consent ledger event needs an action");
	event.action = text_to_cstring(PG_GETARG_TEXT_PP(0));
	if (strncmp(event.action, "restriction", 11) == 0)
		event.purpose = NULL;
	PG_RETURN_INT64(record_event(&event));
}
