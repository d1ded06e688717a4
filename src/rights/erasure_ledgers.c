/*
 * erasure_ledgers.c
 *		Forgetting an erased subject in the consent ledger and the
 *		disclosure log: their entries keep proving what happened, under the
 *		subject's reference instead of its key and with their evidence,
 *		details and references replaced by keyed hashes, and the current
 *		consent state moves to the reference. Part of every erasure, and
 *		privacy_internal._forget_subject_in_ledgers(kind, subject) for the ledger's
 *		own use.
 *
 * The subject's ledger lock (privacy._subject_locks, scope consent_ledger)
 * is taken first, so that an event or disclosure being recorded for the
 * subject either commits before and is forgotten too, or waits and finds
 * the subject erased.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "utils/builtins.h"

#include "consent/consent_changes.h"
#include "rights/rights.h"

PG_FUNCTION_INFO_V1(privacy_forget_subject_in_ledgers);

static SPIPlanPtr forget_plans[3];
static SPIPlanPtr state_delete_plan = NULL;
static SPIPlanPtr state_insert_plan = NULL;

/*
 * What the erasure also does to the subject's requests and holds, in the
 * same statement (see ForgetRelease).
 */
static const char *const release_sql[3] = {
	"",
	" requests AS (UPDATE privacy.subject_requests sr SET subject = NULL"
	" WHERE sr.kind OPERATOR(pg_catalog.=) $1 AND sr.subject_ref OPERATOR(pg_catalog.=) $3),"
	" holds AS (UPDATE privacy.legal_holds h SET subject = NULL"
	" WHERE h.kind OPERATOR(pg_catalog.=) $1 AND h.subject_ref OPERATOR(pg_catalog.=) $3"
	" AND h.subject IS NOT NULL),",
	" requests AS (UPDATE privacy.subject_requests sr SET subject = NULL,"
	" outcome = CASE WHEN sr.outcome OPERATOR(pg_catalog.?) 'note'"
	"  THEN (sr.outcome OPERATOR(pg_catalog.-) 'note'::pg_catalog.text) OPERATOR(pg_catalog.||)"
	"  pg_catalog.jsonb_build_object('note_ref', privacy_internal._note_ref(sr.outcome OPERATOR(pg_catalog.->) 'note'))"
	"  ELSE sr.outcome END,"
	" extension_reason = privacy_internal._redacted_text('request.extension', sr.extension_reason)"
	" WHERE sr.kind OPERATOR(pg_catalog.=) $1 AND sr.subject_ref OPERATOR(pg_catalog.=) $3),"
	" holds AS (UPDATE privacy.legal_holds h SET subject = NULL,"
	" reason = CASE WHEN h.released_at IS NOT NULL"
	"  THEN privacy_internal._redacted_text('hold.reason', h.reason) ELSE h.reason END,"
	" reference = CASE WHEN h.released_at IS NOT NULL"
	"  THEN privacy_internal._redacted_text('hold.reference', h.reference) ELSE h.reference END,"
	" release_reason = CASE WHEN h.released_at IS NOT NULL"
	"  THEN privacy_internal._redacted_text('hold.release_reason', h.release_reason) ELSE h.release_reason END"
	" WHERE h.kind OPERATOR(pg_catalog.=) $1 AND h.subject_ref OPERATOR(pg_catalog.=) $3"
	" AND (h.subject IS NOT NULL OR h.released_at IS NOT NULL)),"
};

/*
 * Forgets the subject (canonical key, reference) in the ledgers and, for
 * an erasure, releases its requests and holds, taking the subject's ledger
 * lock unless the caller holds it (locked); returns {consent_ledger:
 * events forgotten, ledger_state: state rows moved, and disclosures:
 * disclosures forgotten if there were any}. Must be called inside
 * SPI_connect. The erasure calls it only where its first statement
 * (erase_frame, subject_statements.c) found a row these statements change,
 * by the same conditions: a change to them is a change to both.
 */
Jsonb *
rights_forget_in_ledgers(const char *kind, const char *key, text *ref, ForgetRelease release,
						 bool locked)
{
	Oid			argtypes[3] = {TEXTOID, TEXTOID, TEXTOID};
	Datum		values[3];
	bool		isnull;
	int64		events;
	bool		state;
	int64		moved = 0;
	int64		disclosures;

	if (!locked)
		rights_lock_subject("consent_ledger", kind, key);
	values[0] = CStringGetTextDatum(kind);
	values[1] = CStringGetTextDatum(key);
	values[2] = PointerGetDatum(ref);
	if (rights_run_kept(&forget_plans[release],
						psprintf("WITH%s"
								 " forgotten AS (UPDATE privacy.consent_ledger l"
								 " SET subject = $3, forgotten = true, evidence = privacy_internal._redacted_evidence(l.evidence)"
								 " WHERE l.kind OPERATOR(pg_catalog.=) $1 AND l.subject OPERATOR(pg_catalog.=) $2"
								 " AND NOT l.forgotten RETURNING 1),"
								 " disclosed AS (UPDATE privacy.disclosures d SET subject = NULL,"
								 " details = privacy_internal._redacted_evidence(d.details),"
								 " reference = privacy_internal._redacted_text('disclosure.reference', d.reference)"
								 " WHERE d.kind OPERATOR(pg_catalog.=) $1 AND d.subject_ref OPERATOR(pg_catalog.=) $3"
								 " AND d.subject IS NOT NULL RETURNING 1)"
								 " SELECT (SELECT pg_catalog.count(*) FROM forgotten),"
								 " EXISTS (SELECT FROM privacy._ledger_state s"
								 " WHERE s.kind OPERATOR(pg_catalog.=) $1 AND s.subject OPERATOR(pg_catalog.=) $2),"
								 " (SELECT pg_catalog.count(*) FROM disclosed)",
								 release_sql[release]),
						3, argtypes, values, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not forget a subject in the consent ledger");
	events = DatumGetInt64(rights_result(1, &isnull));
	state = DatumGetBool(rights_result(2, &isnull));
	disclosures = DatumGetInt64(rights_result(3, &isnull));

	/*
	 * The state moves to the reference; a subject who never consented or
	 * objected changes nothing (so sessions keep their cached state).
	 */
	if (events > 0 || state)
	{
		/* The two statements write the state of the key and the reference only. */
		consent_changes_begin_subject(DatumGetTextPP(values[0]), DatumGetTextPP(values[1]));
		consent_changes_begin_subject(DatumGetTextPP(values[0]), DatumGetTextPP(values[2]));
		PG_TRY();
		{
			if (rights_run_kept(&state_delete_plan,
								"DELETE FROM privacy._ledger_state s WHERE s.kind OPERATOR(pg_catalog.=) $1"
								" AND s.subject OPERATOR(pg_catalog.=) ANY (ARRAY[$2, $3])",
								3, argtypes, values, NULL, false, 0) != SPI_OK_DELETE)
				elog(ERROR, "could not move a subject's consent state");
			values[1] = values[2];
			if (rights_run_kept(&state_insert_plan,
								"INSERT INTO privacy._ledger_state (kind, purpose, subject, status, event_id)"
								" SELECT cs.kind, cs.purpose, cs.subject, cs.status, cs.event_id"
								" FROM privacy.consent_state cs"
								" WHERE cs.kind OPERATOR(pg_catalog.=) $1 AND cs.subject OPERATOR(pg_catalog.=) $2",
								2, argtypes, values, NULL, false, 0) != SPI_OK_INSERT)
				elog(ERROR, "could not move a subject's consent state");
			moved = (int64) SPI_processed;
		}
		PG_FINALLY();
		{
			consent_changes_end_subject();
		}
		PG_END_TRY();
	}

	return rights_ledger_counts(events, moved, disclosures);
}

Jsonb *
rights_ledger_counts(int64 events, int64 moved, int64 disclosures)
{
	JsonbParseState *json = NULL;

	pushJsonbValue(&json, WJB_BEGIN_OBJECT, NULL);
	rights_push_pair_int(&json, "consent_ledger", events);
	rights_push_pair_int(&json, "ledger_state", moved);
	if (disclosures > 0)
		rights_push_pair_int(&json, "disclosures", disclosures);
	return rights_finish_object(&json);
}

/*
 * privacy_internal._forget_subject_in_ledgers(kind text, subject text) → jsonb: the
 * ledger part of an erasure, for a subject given by any spelling of its key.
 */
Datum
privacy_forget_subject_in_ledgers(PG_FUNCTION_ARGS)
{
	MemoryContext context = CurrentMemoryContext;
	char	   *name = subject_kind_argument(fcinfo, 0);
	SubjectKind *kind = subject_kind_acquire(name, false);
	Jsonb	   *result = NULL;

	PG_TRY();
	{
		char	   *key = subject_key_argument(fcinfo, 1, kind);
		text	   *ref = subject_reference(name, key);
		Jsonb	   *counts;

		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		counts = rights_forget_in_ledgers(name, key, ref, FORGET_ONLY, false);
		MemoryContextSwitchTo(context);
		result = DatumGetJsonbPCopy(JsonbPGetDatum(counts));
		SPI_finish();
	}
	PG_FINALLY();
	{
		subject_kind_release(kind);
	}
	PG_END_TRY();
	PG_RETURN_JSONB_P(result);
}
