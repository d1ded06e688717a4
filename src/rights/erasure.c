/*
 * erasure.c
 *		privacy.erase_subject(kind, subject, reason) and
 *		privacy_internal._erase_subject(kind, subject, reason, request_id): erases a
 *		subject across its kind's subject map in foreign-key order (children
 *		first), in the caller's transaction, and returns a receipt without
 *		personal data: rows deleted, anonymised, retained under a legal
 *		obligation (with the date their retention ends) and held. Idempotent:
 *		a subject erased before gets the note that nothing more was found.
 *		An erasure that legal holds kept rows from stays pending (the
 *		subject's key is kept in privacy._held_erasures, which only the
 *		extension reads) and is completed when its holds are released: the
 *		completing receipt names the erasure it continues.
 *
 * One erasure of a subject at a time: the subject's lock
 * (privacy._subject_locks, scope erase, by reference) is taken first,
 * together with its ledger lock (erasure_ledgers.c), and the anchor row
 * locked, so that no new row can be attached to the subject until the
 * erasure commits. The first statement after the locks also tells which
 * of the ledgers, requests, holds, disclosures and erasures name the
 * subject, so that those that do not cost no statement (the ledger lock
 * keeps new consent events and disclosures out, the erasure lock new
 * requests and holds). Most tables take one statement: delete the
 * subject's rows that no row references, counting those that are
 * referenced, which rows kept elsewhere still need and are anonymised the
 * careful way (erasure_table.c); a table referenced only by tables whose
 * rows of the subject all went before it takes a plain DELETE (its
 * referrers, subject_statements.c). Tables under a hold or with a rule that
 * keeps rows, tables whose triggers or rules can keep rows, and every table
 * while the subject is held take the careful way from the start. Each
 * table's statements run as the table's owner.
 *
 * Values of the subject's rows that the planner's statistics hold and that
 * the erasure took out of the table are removed from the statistics
 * (erasure_statistics.c); the subject is forgotten in the consent ledger
 * and the disclosure log (erasure_ledgers.c); requests and holds keep only
 * its reference; the receipt names the recipients its data was disclosed
 * to, who must be told (GDPR Art. 19), and is recorded in privacy.erasures
 * and its digest in the audit log.
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_collation.h"
#include "catalog/pg_type.h"
#include "common/cryptohash.h"
#include "common/sha2.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/json.h"
#include "utils/timestamp.h"

#include "consent/consent_changes.h"
#include "rights/erasure.h"


PG_FUNCTION_INFO_V1(privacy_erase_subject);
PG_FUNCTION_INFO_V1(privacy_erase_subject_for_request);

extern PGDLLEXPORT Datum privacy_allow_protected_changes(PG_FUNCTION_ARGS);

static SPIPlanPtr record_plan = NULL;
static SPIPlanPtr last_erasure_plan = NULL;
static SPIPlanPtr redact_plan = NULL;
static SPIPlanPtr grounds_plan = NULL;
static SPIPlanPtr held_plan = NULL;
static SPIPlanPtr track_plan = NULL;
static SPIPlanPtr notify_plan = NULL;

/* Takes the subject's lock of a scope until the transaction ends (subject_lock_take()). */
void
rights_lock_subject(const char *scope, const char *kind, const char *subject)
{
	subject_lock_take(subject_lock_key(scope, kind, subject));
}

/*
 * Takes the subject's erasure lock (scope erase, by reference) and then its
 * ledger lock (scope consent_ledger, by key; erasure_ledgers.c).
 */
static void
lock_for_erasure(const char *kind, const char *key, text *ref)
{
	rights_lock_subject("erase", kind, text_to_cstring(ref));
	rights_lock_subject("consent_ledger", kind, key);
}

/* The receipt's line of a table. */
static void
push_line(JsonbParseState **state, const ErasureLine *line)
{
	pushJsonbValue(state, WJB_BEGIN_OBJECT, NULL);
	rights_push_pair_string(state, "table", line->table);
	if (line->has_rows)
		rights_push_pair_int(state, "rows", line->rows);
	if (line->has_held)
	{
		rights_push_pair_int(state, "held", line->held);
		rights_push_pair_string(state, "hold_reference", line->hold_reference);
	}
	if (line->has_retained)
	{
		rights_push_pair_int(state, "retained", line->retained);
		rights_push_pair_jsonb(state, "retained_until", line->retained_until);
		rights_push_pair_string(state, "retention_rule", line->retention_rule);
		rights_push_pair_string(state, "basis", line->basis);
	}
	if (line->has_deleted)
		rights_push_pair_int(state, "deleted", line->deleted);
	if (line->has_anonymized)
	{
		rights_push_pair_int(state, "anonymized", line->anonymized);
		rights_push_pair_int(state, "kept_anonymous", line->kept_anonymous);
		rights_push_pair_string(state, "anonymized_because", line->anonymized_because);
	}
	pushJsonbValue(state, WJB_END_OBJECT, NULL);
}

/* A table whose statistics lost values of the subject. */
typedef struct StaleTable
{
	SubjectTable *table;
	Jsonb	   *gone;
} StaleTable;

static int
compare_stale(const void *a, const void *b)
{
	Oid			x = ((const StaleTable *) a)->table->relid;
	Oid			y = ((const StaleTable *) b)->table->relid;

	return x < y ? -1 : x > y ? 1 : 0;
}

/* The order the tables are erased in: deepest first, then by name. */
static SubjectTable **
erasure_order(SubjectKind *kind)
{
	SubjectTable **order = palloc(sizeof(SubjectTable *) * Max(kind->npersonal, 1));
	int			k = 0;
	int			end = kind->npersonal;

	while (end > 0)
	{
		int			start = end;

		while (start > 0 && kind->personal[start - 1]->depth == kind->personal[end - 1]->depth)
			start--;
		for (int i = start; i < end; i++)
			order[k++] = kind->personal[i];
		end = start;
	}
	return order;
}

static bool
oid_in(Oid relid, const Oid *oids, int n)
{
	for (int i = 0; i < n; i++)
		if (oids[i] == relid)
			return true;
	return false;
}

/*
 * Runs the table's erasure statement (see SubjectEraseForm), or with
 * referrers_gone its statement for when the subject's rows of every
 * referrer are gone: sets *all to the subject's rows, *deleted to those
 * deleted, and found to the statistics values of the rows deleted, or of
 * all for ERASE_VALUES_FIRST.
 */
static void
delete_unreferenced(SubjectKind *kind, SubjectTable *t, const char *key, bool referrers_gone,
					int64 *all, int64 *deleted, StatisticsValues *found)
{
	Datum		values[1] = {CStringGetTextDatum(key)};
	SubjectStatement *statement = referrers_gone ? &t->erase_unreferenced : &t->erase;
	int			rc = rights_run_as_owner(kind, statement, true, t->owner, t->name, true,
										 values, NULL, false, 0);
	bool		isnull;

	found->n = 0;
	found->entries = NULL;
	found->values = NULL;
	switch (referrers_gone ? ERASE_DELETE : t->erase_form)
	{
		case ERASE_DELETE:
			if (rc != SPI_OK_DELETE && rc != SPI_OK_DELETE_RETURNING)
				elog(ERROR, "could not erase a subject's rows");
			*all = *deleted = (int64) SPI_processed;
			/* (nothing returned where Citus notes the values on the shard) */
			if (t->nstatistics > 0 && rc == SPI_OK_DELETE_RETURNING)
				erasure_statistics_read_rows(t, 0, 1, found);
			break;
		case ERASE_DELETE_COUNTED:
			if (rc != SPI_OK_SELECT || SPI_processed < 1)
				elog(ERROR, "could not erase a subject's rows");
			*all = DatumGetInt64(rights_result(1, &isnull));
			*deleted = 0;
			for (uint64 row = 0; row < SPI_processed; row++)
			{
				(void) SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, 2, &isnull);
				if (!isnull)
					(*deleted)++;
			}
			if (t->nstatistics > 0)
				erasure_statistics_read_rows(t, 2, 3, found);
			break;
		case ERASE_VALUES_FIRST:
			{
				Datum	   *counts;
				bool	   *nulls;
				int			ncounts;

				if (rc != SPI_OK_SELECT || SPI_processed != 1)
					elog(ERROR, "could not erase a subject's rows");
				deconstruct_array(DatumGetArrayTypeP(rights_result(1, &isnull)), INT4OID, 4, true,
								  TYPALIGN_INT, &counts, &nulls, &ncounts);
				*all = DatumGetInt32(counts[0]);
				*deleted = DatumGetInt32(counts[1]);
				erasure_statistics_read(2, 3, found);
			}
			break;
	}
}

/*
 * What the erasure does with the subject's rows of one table; false if it
 * has none. *all_gone tells whether every row of the subject in the table
 * was deleted (or there was none); gone[] tells that of the tables erased
 * before, by personal_index.
 */
static bool
erase_table(SubjectKind *kind, SubjectTable *t, const char *key, bool careful,
			const bool *gone, ErasureLine *line, StatisticsValues *found, bool *all_gone)
{
	int64		all;
	int64		deleted;
	bool		referrers_gone = t->referrers != NULL;
	ErasureLine rest;

	found->n = 0;
	*all_gone = false;
	if (careful)
	{
		erasure_statistics_values(kind, t, key, found);
		return erasure_erase_table(kind, t, key, line);
	}

	for (int i = 0; i < t->nreferrers; i++)
		referrers_gone = referrers_gone && gone[t->referrers[i]];
	delete_unreferenced(kind, t, key, referrers_gone, &all, &deleted, found);
	*all_gone = all == deleted;
	if (all > deleted)
	{
		/*
		 * Rows that rows kept elsewhere still reference are anonymised; the
		 * statistics values are those of all the subject's rows.
		 */
		if (t->erase_form != ERASE_VALUES_FIRST && t->nstatistics > 0)
		{
			StatisticsValues left;

			erasure_statistics_values(kind, t, key, &left);
			erasure_statistics_merge(found, &left);
		}
		if (!erasure_erase_table(kind, t, key, &rest))
		{
			memset(&rest, 0, sizeof(rest));
			rest.table = t->name;
		}
		*line = rest;
		line->rows = deleted + (rest.has_rows ? rest.rows : 0);
		line->deleted = deleted + (rest.has_deleted ? rest.deleted : 0);
		line->has_rows = line->has_deleted = true;
		return true;
	}
	if (deleted == 0)
		return false;
	memset(line, 0, sizeof(ErasureLine));
	line->table = t->name;
	line->has_rows = line->has_deleted = true;
	line->rows = line->deleted = deleted;
	return true;
}

/* The receipt of a subject that was erased before and has nothing more to erase. */
static Jsonb *
already_erased_receipt(SubjectKind *kind, text *ref, Jsonb *erased_at)
{
	JsonbParseState *state = NULL;

	pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
	rights_push_pair_string(&state, "kind", kind->name);
	rights_push_pair_string(&state, "subject_ref", text_to_cstring(ref));
	rights_push_pair_bool(&state, "changed", false);
	rights_push_pair_bool(&state, "already_erased", true);
	rights_push_pair_jsonb(&state, "erased_at", erased_at);
	rights_push_key(&state, "tables");
	pushJsonbValue(&state, WJB_BEGIN_ARRAY, NULL);
	pushJsonbValue(&state, WJB_END_ARRAY, NULL);
	rights_push_pair_string(&state, "note", "The subject was erased before; nothing more was found to erase.");
	return rights_finish_object(&state);
}

static Jsonb *
already_erased_summary(void)
{
	JsonbParseState *state = NULL;

	pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
	rights_push_pair_bool(&state, "changed", false);
	rights_push_pair_bool(&state, "already_erased", true);
	return rights_finish_object(&state);
}

/* What the erasure was asked for. */
typedef struct ErasureCall
{
	char	   *kind;
	char	   *subject;
	char	   *reason;
	bool		has_request;
	int64		request_id;
	bool		redact;			/* the public function: also redact free text */
} ErasureCall;

/* Everything an erasure changed, summed over its tables. */
typedef struct ErasureTotals
{
	int64		deleted;
	int64		anonymized;
	int64		retained;
	int64		held;
} ErasureTotals;

/* The receipt of an erasure that found the subject. */
static Jsonb *
receipt_of(SubjectKind *kind, text *ref, const char *reason, bool has_request, int64 request_id,
		   bool already_erased, Jsonb *continues, const ErasureTotals *totals,
		   const ErasureLine *lines, int nlines, Jsonb *ledgers, Jsonb *notify,
		   const StaleTable *stale, int nstale)
{
	JsonbParseState *state = NULL;
	char		buf[MAXDATELEN + 1];

	pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
	rights_push_pair_string(&state, "kind", kind->name);
	rights_push_pair_string(&state, "subject_ref", text_to_cstring(ref));
	rights_push_pair_string(&state, "erased_at",
							JsonEncodeDateTime(buf, TimestampTzGetDatum(GetCurrentTransactionStartTimestamp()),
											   TIMESTAMPTZOID, NULL));
	rights_push_pair_string(&state, "reason", reason);
	rights_push_key(&state, "request_id");
	if (has_request)
		rights_push_int(&state, WJB_VALUE, request_id);
	else
		rights_push_null(&state, WJB_VALUE);
	rights_push_pair_bool(&state, "changed", totals->deleted + totals->anonymized > 0);
	rights_push_pair_bool(&state, "already_erased", already_erased && continues == NULL);
	rights_push_pair_bool(&state, "pending", totals->held > 0);
	if (continues != NULL)
		rights_push_pair_jsonb(&state, "continues", continues);
	rights_push_pair_int(&state, "rows_deleted", totals->deleted);
	rights_push_pair_int(&state, "rows_anonymized", totals->anonymized);
	rights_push_pair_int(&state, "rows_retained", totals->retained);
	rights_push_pair_int(&state, "rows_held", totals->held);
	rights_push_key(&state, "tables");
	pushJsonbValue(&state, WJB_BEGIN_ARRAY, NULL);
	for (int i = 0; i < nlines; i++)
		push_line(&state, &lines[i]);
	pushJsonbValue(&state, WJB_END_ARRAY, NULL);
	rights_push_pair_jsonb(&state, "ledgers", ledgers);
	if (notify != NULL)
		rights_push_pair_jsonb(&state, "notify_recipients", notify);
	if (nstale > 0)
	{
		rights_push_key(&state, "statistics_refreshed");
		pushJsonbValue(&state, WJB_BEGIN_ARRAY, NULL);
		for (int i = 0; i < nstale; i++)
			rights_push_string(&state, WJB_ELEM, stale[i].table->name);
		pushJsonbValue(&state, WJB_END_ARRAY, NULL);
	}
	return rights_finish_object(&state);
}

/*
 * The audit entry's summary of an erasure: the receipt without the tables,
 * reference, kind, ledgers and refreshed statistics, with the digest of the
 * receipt's text in UTF-8.
 */
static Jsonb *
erasure_summary(Jsonb *receipt)
{
	static const char *const left_out[] = {"tables", "subject_ref", "kind", "ledgers", "statistics_refreshed"};
	JsonbParseState *state = NULL;
	JsonbIterator *it = JsonbIteratorInit(&receipt->root);
	JsonbValue	v;
	JsonbIteratorToken tok;
	char	   *receipt_text = JsonbToCString(NULL, &receipt->root, VARSIZE(receipt));
	char	   *utf8 = pg_server_to_any(receipt_text, strlen(receipt_text), PG_UTF8);
	pg_cryptohash_ctx *ctx = pg_cryptohash_create(PG_SHA256);
	uint8		digest[PG_SHA256_DIGEST_LENGTH];
	char		hex[PG_SHA256_DIGEST_LENGTH * 2 + 1];

	if (pg_cryptohash_init(ctx) < 0 ||
		pg_cryptohash_update(ctx, (const uint8 *) utf8, strlen(utf8)) < 0 ||
		pg_cryptohash_final(ctx, digest, sizeof(digest)) < 0)
		elog(ERROR, "could not compute SHA-256: %s", pg_cryptohash_error(ctx));
	pg_cryptohash_free(ctx);
	hex[hex_encode((const char *) digest, sizeof(digest), hex)] = '\0';

	pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		JsonbValue	key;
		bool		skip = false;

		if (tok != WJB_KEY)
			continue;
		key = v;
		for (int i = 0; i < lengthof(left_out); i++)
			if (key.val.string.len == strlen(left_out[i]) &&
				memcmp(key.val.string.val, left_out[i], key.val.string.len) == 0)
				skip = true;
		tok = JsonbIteratorNext(&it, &v, true);
		Assert(tok == WJB_VALUE);
		if (skip)
			continue;
		pushJsonbValue(&state, WJB_KEY, &key);
		pushJsonbValue(&state, WJB_VALUE, &v);
	}
	rights_push_pair_string(&state, "receipt_sha256", hex);
	return rights_finish_object(&state);
}

/* Records the erasure's receipt in privacy.erasures. */
static void
record_erasure(SubjectKind *kind, text *ref, const char *reason, bool has_request,
			   int64 request_id, Jsonb *receipt)
{
	Oid			argtypes[6] = {TEXTOID, TEXTOID, TIMESTAMPTZOID, INT8OID, TEXTOID, JSONBOID};
	Datum		values[6];
	char		nulls[6] = {' ', ' ', ' ', ' ', ' ', ' '};

	values[0] = CStringGetTextDatum(kind->name);
	values[1] = PointerGetDatum(ref);
	values[2] = TimestampTzGetDatum(GetCurrentTransactionStartTimestamp());
	values[3] = Int64GetDatum(request_id);
	if (!has_request)
		nulls[3] = 'n';
	values[4] = CStringGetTextDatum(reason);
	values[5] = JsonbPGetDatum(receipt);
	/* The statement writes this erasure only (a Citus worker then asks for it alone). */
	consent_changes_begin_erasure(kind->name, text_to_cstring(ref));
	PG_TRY();
	{
		if (rights_run_kept(&record_plan,
							"INSERT INTO privacy.erasures (kind, subject_ref, erased_at, request_id, reason, receipt)"
							" VALUES ($1, $2, $3, $4, $5, $6)",
							6, argtypes, values, nulls, false, 0) != SPI_OK_INSERT)
			elog(ERROR, "could not record an erasure");
	}
	PG_FINALLY();
	{
		consent_changes_end_erasure();
	}
	PG_END_TRY();
}

/* The jsonb value a kept query of a kind and a subject reference returns, or NULL. */
static Jsonb *
subject_lookup(SPIPlanPtr *plan, const char *sql, SubjectKind *kind, text *ref)
{
	Oid			argtypes[2] = {TEXTOID, TEXTOID};
	Datum		values[2] = {CStringGetTextDatum(kind->name), PointerGetDatum(ref)};
	bool		isnull;
	Datum		d;

	if (rights_run_kept(plan, sql, 2, argtypes, values, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not look the subject's erasures up");
	d = rights_result(1, &isnull);
	return isnull ? NULL : DatumGetJsonbP(d);
}

/* When the subject's last erasure was (NULL if it never was). */
static Jsonb *
last_erasure(SubjectKind *kind, text *ref)
{
	return subject_lookup(&last_erasure_plan,
						  "SELECT pg_catalog.to_jsonb(e.erased_at) FROM privacy.erasures e"
						  " WHERE e.kind OPERATOR(pg_catalog.=) $1 AND e.subject_ref OPERATOR(pg_catalog.=) $2"
						  " ORDER BY e.id DESC LIMIT 1", kind, ref);
}

/*
 * The recipients the subject's data was disclosed to, who must be told of
 * the erasure, as a jsonb array (NULL if there are none).
 */
static Jsonb *
recipients_to_notify(SubjectKind *kind, text *ref)
{
	/* as privacy_internal._disclosure_recipients(), with its plan kept */
	return subject_lookup(&notify_plan,
						  "SELECT pg_catalog.to_jsonb(pg_catalog.array_agg(DISTINCT d.recipient ORDER BY d.recipient))"
						  " FROM privacy.disclosures d"
						  " WHERE d.kind OPERATOR(pg_catalog.=) $1 AND d.subject_ref OPERATOR(pg_catalog.=) $2",
						  kind, ref);
}

/*
 * The erasure of the subject that legal holds left pending, as {erasure_id,
 * erased_at, held_tables}, or NULL if there is none.
 */
static Jsonb *
held_erasure(SubjectKind *kind, text *ref)
{
	return subject_lookup(&held_plan, "SELECT privacy_internal._held_erasure($1, $2)", kind, ref);
}

/*
 * Keeps the key of a subject whose erasure legal holds left pending, so that
 * it completes when they are released; forgets it, and completes the
 * requests that waited for it, once an erasure held nothing.
 */
static void
track_held_erasure(SubjectKind *kind, const char *key, text *ref, const ErasureCall *call,
				   Jsonb *receipt)
{
	Oid			argtypes[6] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID, INT8OID, JSONBOID};
	Datum		values[6];
	char		nulls[6] = {' ', ' ', ' ', ' ', ' ', ' '};

	values[0] = CStringGetTextDatum(kind->name);
	values[1] = CStringGetTextDatum(key);
	values[2] = PointerGetDatum(ref);
	values[3] = CStringGetTextDatum(call->reason);
	values[4] = Int64GetDatum(call->request_id);
	if (!call->has_request)
		nulls[4] = 'n';
	values[5] = JsonbPGetDatum(receipt);
	if (rights_run_kept(&track_plan, "SELECT privacy_internal._track_held_erasure($1, $2, $3, $4, $5, $6)",
						6, argtypes, values, nulls, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not record what legal holds keep of an erasure");
}

/* Requests and released holds of the erased subject lose their free text. */
static void
redact_subject_text(const char *kind, text *ref)
{
	Oid			argtypes[2] = {TEXTOID, TEXTOID};
	Datum		values[2] = {CStringGetTextDatum(kind), PointerGetDatum(ref)};

	if (rights_run_kept(&redact_plan, "SELECT privacy_internal._redact_erased_subject_text($1, $2)",
						2, argtypes, values, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not redact an erased subject's text");
}

/*
 * Erases the subject (see the file's header); returns the receipt. *kindp
 * is the kind, read with its subject map once the subject is found.
 */
static Jsonb *
erase(SubjectKind **kindp, const char *key, const ErasureCall *call)
{
	SubjectKind *kind = *kindp;
	text	   *ref = subject_reference(kind->name, key);
	Datum		values[3];
	bool		isnull;
	bool		present;
	bool		subject_held;
	bool		in_ledgers;		/* the ledgers, requests or holds name it */
	bool		disclosed;
	bool		held_pending;	/* an erasure of it is held pending */
	bool		erased_before;
	int			nheld;
	Oid		   *held;
	SubjectTable **order;
	bool	   *gone;			/* by personal_index: all the subject's rows went */
	ErasureLine *lines;
	int			nlines = 0;
	ErasureTotals totals = {0, 0, 0, 0};
	StaleTable *stale;
	int			nstale = 0;
	Jsonb	   *ledgers;
	Jsonb	   *notify;
	Jsonb	   *held_before;	/* the subject's erasure held pending, or NULL */
	Jsonb	   *receipt;
	Jsonb	   *summary;

	lock_for_erasure(kind->name, key, ref);
	values[0] = CStringGetTextDatum(key);
	values[1] = CStringGetTextDatum(kind->name);
	values[2] = PointerGetDatum(ref);
	if (rights_run(kind, &kind->erase_frame, values, NULL, false, 0) != SPI_OK_SELECT ||
		SPI_processed != 1)
		elog(ERROR, "could not look the subject up");
	subject_held = DatumGetBool(rights_result(2, &isnull));
	{
		Datum		d = rights_result(3, &isnull);
		Datum	   *elems;
		bool	   *nulls;

		deconstruct_array(DatumGetArrayTypeP(d), OIDOID, sizeof(Oid), true, TYPALIGN_INT,
						  &elems, &nulls, &nheld);
		held = palloc(sizeof(Oid) * Max(nheld, 1));
		for (int i = 0; i < nheld; i++)
			held[i] = DatumGetObjectId(elems[i]);
	}
	in_ledgers = DatumGetBool(rights_result(4, &isnull));
	disclosed = DatumGetBool(rights_result(5, &isnull));
	held_pending = DatumGetBool(rights_result(6, &isnull));
	erased_before = DatumGetBool(rights_result(7, &isnull));
	/* Citus plans the lock of a distributed anchor's row on its own. */
	if (kind->anchor_distributed)
	{
		if (rights_run(kind, &kind->lock_anchor, values, NULL, false, 0) != SPI_OK_SELECT)
			elog(ERROR, "could not look the subject up");
		present = SPI_processed > 0;
	}
	else
		present = DatumGetBool(rights_result(1, &isnull));
	if (!present)
	{
		Jsonb	   *erased_at = last_erasure(kind, ref);

		if (erased_at == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_NO_DATA_FOUND),
					 errmsg("subject of kind \"%s\" does not exist", kind->name)));
		receipt = already_erased_receipt(kind, ref, erased_at);
		rights_audit("erasure", ref, call->has_request, call->request_id, already_erased_summary());
		if (call->redact)
			redact_subject_text(kind->name, ref);
		return receipt;
	}

	(void) DirectFunctionCall1(privacy_allow_protected_changes, (Datum) 0);
	if (!kind->tables_built)
	{
		subject_kind_release(kind);
		*kindp = NULL;
		*kindp = kind = subject_kind_acquire(call->kind, true);
	}

	order = erasure_order(kind);
	gone = palloc0(sizeof(bool) * Max(kind->npersonal, 1));
	lines = palloc(sizeof(ErasureLine) * Max(kind->npersonal, 1));
	stale = palloc(sizeof(StaleTable) * Max(kind->npersonal, 1));
	for (int i = 0; i < kind->npersonal; i++)
	{
		SubjectTable *t = order[i];
		bool		careful = subject_held || oid_in(t->relid, held, nheld) ||
			oid_in(t->relid, kind->careful, kind->ncareful) || erasure_rows_may_be_kept(t->relid);
		ErasureLine *line = &lines[nlines];
		StatisticsValues found;
		StatisticsValues matches;

		if (!erase_table(kind, t, key, careful, gone, line, &found, &gone[t->personal_index]))
			continue;
		nlines++;
		totals.anonymized += line->has_anonymized ? line->anonymized : 0;
		totals.retained += line->has_retained ? line->retained : 0;
		totals.held += line->has_held ? line->held : 0;
		totals.deleted += line->has_deleted ? line->deleted : 0;
		if (found.n == 0 ||
			!((line->has_deleted && line->deleted > 0) || (line->has_anonymized && line->anonymized > 0)))
			continue;
		erasure_statistics_match(kind, t, &found, &matches);
		if (matches.n > 0)
		{
			Jsonb	   *gone = erasure_statistics_gone(kind, t, &matches);

			if (gone != NULL)
			{
				stale[nstale].table = t;
				stale[nstale].gone = gone;
				nstale++;
			}
		}
	}

	/*
	 * In the order of the tables' oids, so that two erasures never wait for
	 * each other's refresh the other way round.
	 */
	qsort(stale, nstale, sizeof(StaleTable), compare_stale);
	for (int i = 0; i < nstale; i++)
		erasure_statistics_refresh(stale[i].table, stale[i].gone);

	/* What the first statement saw still holds: the locks keep new entries out. */
	ledgers = in_ledgers ?
		rights_forget_in_ledgers(kind->name, key, ref, call->redact ? FORGET_RELEASE_REDACT : FORGET_RELEASE,
								 true) :
		rights_ledger_counts(0, 0, 0);
	notify = disclosed ? recipients_to_notify(kind, ref) : NULL;
	held_before = held_pending ? held_erasure(kind, ref) : NULL;
	receipt = receipt_of(kind, ref, call->reason, call->has_request, call->request_id,
						 erased_before, held_before,
						 &totals, lines, nlines, ledgers, notify, stale, nstale);
	record_erasure(kind, ref, call->reason, call->has_request, call->request_id, receipt);
	/* Nothing pending before or now: no held erasure to keep or end. */
	if (totals.held > 0 || held_before != NULL)
		track_held_erasure(kind, key, ref, call, receipt);
	summary = erasure_summary(receipt);
	rights_audit("erasure", ref, call->has_request, call->request_id, summary);
	return receipt;
}

/*
 * The reason an erasure records: a ground of GDPR Art. 17(1) in its
 * normal spelling, or any other text only as a keyed hash (it may hold
 * personal data). As privacy_internal._erasure_reason().
 */
static char *
erasure_reason(const char *reason)
{
	Datum		normal;
	bool		isnull;
	Datum	   *grounds;
	bool	   *nulls;
	int			ngrounds;
	char	   *normal_text;

	if (reason == NULL || strspn(reason, " ") == strlen(reason))
		return (char *) reason;
	normal = DirectFunctionCall1Coll(btrim1, DEFAULT_COLLATION_OID, CStringGetTextDatum(reason));
	normal = DirectFunctionCall4Coll(textregexreplace, DEFAULT_COLLATION_OID, normal,
									 CStringGetTextDatum("\\s+"), CStringGetTextDatum(" "),
									 CStringGetTextDatum("g"));
	normal = DirectFunctionCall1Coll(lower, DEFAULT_COLLATION_OID, normal);
	normal_text = TextDatumGetCString(normal);
	if (rights_run_kept(&grounds_plan, "SELECT privacy_internal._erasure_grounds()", 0, NULL, NULL, NULL,
						true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read the grounds of erasure");
	deconstruct_array(DatumGetArrayTypeP(rights_result(1, &isnull)), TEXTOID, -1, false, TYPALIGN_INT,
					  &grounds, &nulls, &ngrounds);
	for (int i = 0; i < ngrounds; i++)
		if (!nulls[i] && strcmp(TextDatumGetCString(grounds[i]), normal_text) == 0)
			return normal_text;
	return psprintf("other ground (keyed hash %s)",
					text_to_cstring(subject_reference("erasure.reason", reason)));
}

/* Runs an erasure call, from the checks of its arguments to the receipt. */
static Jsonb *
erasure_call(ErasureCall *call)
{
	MemoryContext context = CurrentMemoryContext;
	SubjectKind *kind = NULL;
	Jsonb	   *receipt = NULL;

	if (call->kind == NULL || call->subject == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("kind and subject must not be null")));
	if (call->reason == NULL || strspn(call->reason, " ") == strlen(call->reason))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("an erasure needs a reason"),
				 errhint("Give the ground of GDPR Art. 17(1), e.g. 'consent withdrawn', without personal data.")));
	PG_TRY();
	{
		char	   *key;

		/* From here on the subject is its canonical key (errors name the kind, never the key). */
		kind = subject_kind_acquire(call->kind, false);
		key = subject_canonical_key(kind, call->subject);
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		receipt = erase(&kind, key, call);
		MemoryContextSwitchTo(context);
		receipt = DatumGetJsonbPCopy(JsonbPGetDatum(receipt));
		SPI_finish();
	}
	PG_FINALLY();
	{
		subject_kind_release(kind);
	}
	PG_END_TRY();
	return receipt;
}

static char *
text_argument(FunctionCallInfo fcinfo, int argno)
{
	return PG_ARGISNULL(argno) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(argno));
}

/* privacy.erase_subject(kind text, subject text, reason text) → jsonb receipt */
Datum
privacy_erase_subject(PG_FUNCTION_ARGS)
{
	ErasureCall call;

	call.kind = text_argument(fcinfo, 0);
	call.subject = text_argument(fcinfo, 1);
	call.has_request = false;
	call.request_id = 0;
	call.redact = true;
	call.reason = text_argument(fcinfo, 2);
	if (call.reason != NULL && strspn(call.reason, " ") != strlen(call.reason))
	{
		MemoryContext context = CurrentMemoryContext;
		char	   *reason;

		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		reason = erasure_reason(call.reason);
		MemoryContextSwitchTo(context);
		call.reason = pstrdup(reason);
		SPI_finish();
	}
	PG_RETURN_JSONB_P(erasure_call(&call));
}

/*
 * privacy_internal._erase_subject(kind text, subject text, reason text, request_id
 * bigint) → jsonb receipt: the erasure, with a reason already in its
 * recorded form, fulfilling the request (NULL: none).
 */
Datum
privacy_erase_subject_for_request(PG_FUNCTION_ARGS)
{
	ErasureCall call;

	call.kind = text_argument(fcinfo, 0);
	call.subject = text_argument(fcinfo, 1);
	call.reason = text_argument(fcinfo, 2);
	call.has_request = !PG_ARGISNULL(3);
	call.request_id = call.has_request ? PG_GETARG_INT64(3) : 0;
	call.redact = false;
	PG_RETURN_JSONB_P(erasure_call(&call));
}
