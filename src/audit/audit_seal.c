/*
 * audit_seal.c
 *		Seals committed unsealed audit log entries into the hash chain.
 *
 * Writers leave their entries in privacy._audit_unsealed (audit_pending.c,
 * audit_rectification.c) when they commit, taking no lock that another
 * writer waits for. Sealing moves them into privacy.audit_log: under the
 * chain's head lock (SHARE ROW EXCLUSIVE on privacy._audit_head, which
 * conflicts with itself) and with a snapshot taken after the lock is
 * granted, it reads the oldest unsealed entries it can see in the order of
 * their ids, gives each the next id of the log and its hash chained to the
 * one before (sha256(previous hash || the entry's canonical text), the
 * definition privacy.verify_audit_log() recomputes through
 * privacy_internal._audit_entry_hash() and _audit_entry_text(); the text is
 * built here in C the same way), inserts them, deletes them from the
 * unsealed entries and moves the head, all in one transaction.
 *
 * So a crash at any point leaves each entry either unsealed or sealed, never
 * both; the snapshot sees only committed entries (and the sealing
 * transaction's own, which commit or vanish with the seal); and a second
 * sealer waits for the first's commit and then no longer sees what it
 * sealed. The chain is in seal order.
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "commands/sequence.h"
#include "commands/trigger.h"
#include "common/cryptohash.h"
#include "common/sha2.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "parser/parse_func.h"
#include "storage/lmgr.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/datetime.h"
#include "utils/jsonb.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "audit/audit.h"
#include "base/citus.h"
#include "base/compat.h"
#include "base/extension_objects.h"
#include "base/spi_statements.h"

PG_FUNCTION_INFO_V1(privacy_seal_audit_log);
PG_FUNCTION_INFO_V1(privacy_audit_unsealed_is_append_only);

bool		privacy_audit_sealing = false;

/* The columns of an entry, in the order the statements below use them. */
#define N_FIELDS 8
enum
{
	F_ID, F_LOGGED_AT, F_ACTOR, F_SESSION_ROLE, F_ACTION, F_SUBJECT_REF, F_REQUEST_ID, F_SUMMARY
};

static const Oid field_types[N_FIELDS] = {INT8OID, TIMESTAMPTZOID, TEXTOID, TEXTOID,
TEXTOID, TEXTOID, INT8OID, JSONBOID};

static const char *const head_sql =
"SELECT h.last_hash FROM privacy._audit_head h FOR UPDATE";

static const char *const batch_sql =
"SELECT u.id, u.logged_at, u.actor, u.session_role, u.action, u.subject_ref, u.request_id, u.summary,"
" u.subject_refs, u.ctid FROM privacy._audit_unsealed u ORDER BY u.id LIMIT $1";

static const char *const insert_sql =
"INSERT INTO privacy.audit_log"
" (id, logged_at, actor, session_role, action, subject_ref, request_id, summary, prev_hash, hash)"
" SELECT * FROM ROWS FROM (pg_catalog.unnest($1::pg_catalog.int8[]), pg_catalog.unnest($2::pg_catalog.timestamptz[]),"
" pg_catalog.unnest($3::pg_catalog.text[]), pg_catalog.unnest($4::pg_catalog.text[]),"
" pg_catalog.unnest($5::pg_catalog.text[]), pg_catalog.unnest($6::pg_catalog.text[]),"
" pg_catalog.unnest($7::pg_catalog.int8[]), pg_catalog.unnest($8::pg_catalog.jsonb[]),"
" pg_catalog.unnest($9::pg_catalog.bytea[]), pg_catalog.unnest($10::pg_catalog.bytea[]))";

static const char *const move_head_sql =
"UPDATE privacy._audit_head SET last_id = $1, last_hash = $2";

/* The statements above, prepared once per session. */
#define N_STATEMENTS 5
static struct
{
	const char *sql;
	SPIPlanPtr	plan;
}			prepared[N_STATEMENTS];

/*
 * Runs one of the statements above with the sealer's snapshot; an error
 * unless it returns expected. Each statement fires its own AFTER triggers
 * (a DBA's, such as one on INSERT into the log: the extension has none on
 * these tables), as the sealer runs outside any query that would.
 */
static void
run(const char *sql, int nargs, Oid *argtypes, Datum *values, const char *nulls,
	Snapshot snapshot, int expected)
{
	SPIPlanPtr	plan = NULL;
	int			i;
	int			rc;

	for (i = 0; i < N_STATEMENTS && prepared[i].sql != NULL; i++)
		if (prepared[i].sql == sql)
		{
			plan = prepared[i].plan;
			break;
		}
	if (plan == NULL)
	{
		if (i == N_STATEMENTS)
			elog(ERROR, "too many audit log sealing statements");
		plan = privacy_kept_plan(&prepared[i].plan, sql, nargs, argtypes);
		prepared[i].sql = sql;
	}
	rc = SPI_execute_snapshot(plan, values, nulls, snapshot, InvalidSnapshot, false, true, 0);
	if (rc != expected)
		elog(ERROR, "audit log sealing statement failed: %s", SPI_result_code_string(rc));
}

/* Appends a text value to buf. */
static void
append_text(StringInfo buf, Datum value)
{
	text	   *t = DatumGetTextPP(value);

	appendBinaryStringInfo(buf, VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t));
}

/*
 * An entry's canonical text, as privacy_internal._audit_entry_text() (the
 * definition privacy.verify_audit_log() recomputes) spells it: the fields
 * joined by 0x1f, the time in UTC as YYYY-MM-DDTHH24:MI:SS.USZ, absent
 * subject and request as empty strings, the summary as jsonb prints it, in
 * UTF-8. Built here for speed; a time outside the years 1 to 9999, which
 * to_char() spells otherwise, is left to the SQL function.
 */
static bytea *
entry_text(Datum *fields, bool *nulls, FmgrInfo *text_fn)
{
	StringInfoData buf;
	struct pg_tm tm;
	fsec_t		fsec;
	Timestamp	ts = DatumGetTimestampTz(fields[F_LOGGED_AT]);
	char	   *utf8;
	bytea	   *result;
	const char	sep = '\x1f';

	if (TIMESTAMP_NOT_FINITE(ts) ||
		timestamp2tm(ts, NULL, &tm, &fsec, NULL, NULL) != 0 ||
		tm.tm_year < 1 || tm.tm_year > 9999)
	{
		LOCAL_FCINFO(fcinfo, N_FIELDS);
		Datum		text;

		InitFunctionCallInfoData(*fcinfo, text_fn, N_FIELDS, InvalidOid, NULL, NULL);
		for (int f = 0; f < N_FIELDS; f++)
		{
			fcinfo->args[f].value = fields[f];
			fcinfo->args[f].isnull = nulls[f];
		}
		text = FunctionCallInvoke(fcinfo);
		if (fcinfo->isnull)
			elog(ERROR, "an audit log entry has no text");
		return DatumGetByteaPP(text);
	}

	initStringInfo(&buf);
	appendStringInfo(&buf, INT64_FORMAT, DatumGetInt64(fields[F_ID]));
	appendStringInfoChar(&buf, sep);
	appendStringInfo(&buf, "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ",
					 tm.tm_year, tm.tm_mon, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int) fsec);
	appendStringInfoChar(&buf, sep);
	append_text(&buf, fields[F_ACTOR]);
	appendStringInfoChar(&buf, sep);
	append_text(&buf, fields[F_SESSION_ROLE]);
	appendStringInfoChar(&buf, sep);
	append_text(&buf, fields[F_ACTION]);
	appendStringInfoChar(&buf, sep);
	if (!nulls[F_SUBJECT_REF])
		append_text(&buf, fields[F_SUBJECT_REF]);
	appendStringInfoChar(&buf, sep);
	if (!nulls[F_REQUEST_ID])
		appendStringInfo(&buf, INT64_FORMAT, DatumGetInt64(fields[F_REQUEST_ID]));
	appendStringInfoChar(&buf, sep);
	appendStringInfoString(&buf, DatumGetCString(DirectFunctionCall1(jsonb_out, fields[F_SUMMARY])));

	utf8 = pg_server_to_any(buf.data, buf.len, PG_UTF8);
	result = palloc(VARHDRSZ + strlen(utf8));
	SET_VARSIZE(result, VARHDRSZ + strlen(utf8));
	memcpy(VARDATA(result), utf8, strlen(utf8));
	return result;
}

/* sha256(prev || text) into out. */
static void
chain_hash(const uint8 *prev, const bytea *text, uint8 *out)
{
	pg_cryptohash_ctx *ctx = pg_cryptohash_create(PG_SHA256);

	if (ctx == NULL ||
		pg_cryptohash_init(ctx) < 0 ||
		pg_cryptohash_update(ctx, prev, PG_SHA256_DIGEST_LENGTH) < 0 ||
		pg_cryptohash_update(ctx, (const uint8 *) VARDATA_ANY(text), VARSIZE_ANY_EXHDR(text)) < 0 ||
		pg_cryptohash_final(ctx, out, PG_SHA256_DIGEST_LENGTH) < 0)
		elog(ERROR, "could not compute an audit log entry's hash");
	pg_cryptohash_free(ctx);
}

static bytea *
digest_to_bytea(const uint8 *digest)
{
	bytea	   *b = palloc(VARHDRSZ + PG_SHA256_DIGEST_LENGTH);

	SET_VARSIZE(b, VARHDRSZ + PG_SHA256_DIGEST_LENGTH);
	memcpy(VARDATA(b), digest, PG_SHA256_DIGEST_LENGTH);
	return b;
}

/*
 * Seals one batch of about limit entries chained to *head (updated): the
 * oldest unsealed rows, each one entry or, for a set-based write, one per
 * element of its subject_refs, as many rows as fit in limit entries but at
 * least one. Returns how many entries it sealed, sets *last_id and *more
 * (whether rows were left that this batch could have taken).
 */
static int
seal_batch(int limit, uint8 *head, Oid seq_relid, FmgrInfo *text_fn,
		   Snapshot snapshot, int64 *last_id, bool *more)
{
	Oid			limit_type = INT4OID;
	Datum		limit_value = Int32GetDatum(limit);
	SPITupleTable *batch;
	int			nrows;
	int			taken = 0;
	int			n = 0;
	int			e = 0;
	Datum	  **refs;
	bool	  **ref_nulls;
	int		   *nrefs;
	Datum	   *columns[N_FIELDS + 2];
	bool	   *column_nulls[N_FIELDS + 2];
	ItemPointerData *places;
	Datum		values[N_FIELDS + 2];
	Oid			types[N_FIELDS + 2];
	uint8		hash[PG_SHA256_DIGEST_LENGTH];

	StaticAssertStmt(N_FIELDS + 2 == PRIVACY_AUDIT_SEALED_COLUMNS,
					 "a sealed entry is its fields, its previous hash and its hash");
	*more = false;
	run(batch_sql, 1, &limit_type, &limit_value, NULL, snapshot, SPI_OK_SELECT);
	batch = SPI_tuptable;
	nrows = (int) SPI_processed;
	if (nrows == 0)
		return 0;

	/* the rows that fit, with their entries' subjects */
	refs = palloc0(sizeof(Datum *) * nrows);
	ref_nulls = palloc0(sizeof(bool *) * nrows);
	nrefs = palloc0(sizeof(int) * nrows);
	for (taken = 0; taken < nrows; taken++)
	{
		bool		isnull;
		Datum		array = SPI_getbinval(batch->vals[taken], batch->tupdesc, N_FIELDS + 1, &isnull);
		int			entries = 1;

		if (!isnull)
		{
			deconstruct_array(DatumGetArrayTypeP(array), TEXTOID, -1, false, TYPALIGN_INT,
							  &refs[taken], &ref_nulls[taken], &nrefs[taken]);
			entries = nrefs[taken];
		}
		if (taken > 0 && n + entries > limit)
			break;
		n += entries;
	}
	*more = taken < nrows || nrows == limit;
	if (n == 0)
		elog(ERROR, "an unsealed audit log entry holds no subject");

	for (int f = 0; f < N_FIELDS + 2; f++)
	{
		columns[f] = palloc(sizeof(Datum) * n);
		column_nulls[f] = palloc0(sizeof(bool) * n);
	}
	places = palloc(sizeof(ItemPointerData) * taken);

	for (int r = 0; r < taken; r++)
	{
		HeapTuple	tuple = batch->vals[r];
		Datum		row[N_FIELDS];
		bool		row_nulls[N_FIELDS];
		int			entries = refs[r] != NULL ? nrefs[r] : 1;

		bool		isnull;

		for (int f = 0; f < N_FIELDS; f++)
			row[f] = SPI_getbinval(tuple, batch->tupdesc, f + 1, &row_nulls[f]);
		/* the row, deleted by its place (the head's lock keeps it there) */
		places[r] = *(ItemPointer) DatumGetPointer(SPI_getbinval(tuple, batch->tupdesc, N_FIELDS + 2, &isnull));

		for (int i = 0; i < entries; i++, e++)
		{
			Datum		fields[N_FIELDS];
			bool		field_nulls[N_FIELDS];

			for (int f = 0; f < N_FIELDS; f++)
			{
				columns[f][e] = row[f];
				column_nulls[f][e] = row_nulls[f];
			}
			if (refs[r] != NULL)
			{
				columns[F_SUBJECT_REF][e] = refs[r][i];
				column_nulls[F_SUBJECT_REF][e] = ref_nulls[r][i];
			}
			/* the entry's id in the log */
			columns[F_ID][e] = Int64GetDatum(nextval_internal(seq_relid, false));
			*last_id = DatumGetInt64(columns[F_ID][e]);

			for (int f = 0; f < N_FIELDS; f++)
			{
				fields[f] = columns[f][e];
				field_nulls[f] = column_nulls[f][e];
			}
			columns[N_FIELDS][e] = PointerGetDatum(digest_to_bytea(head));
			chain_hash(head, entry_text(fields, field_nulls, text_fn), hash);
			memcpy(head, hash, PG_SHA256_DIGEST_LENGTH);
			columns[N_FIELDS + 1][e] = PointerGetDatum(digest_to_bytea(hash));
		}
	}

	if (!privacy_audit_insert_sealed(columns, column_nulls, n))
	{
		/* the log has a trigger or constraint of its own: a statement */
		for (int f = 0; f < N_FIELDS + 2; f++)
		{
			Oid			type = f < N_FIELDS ? field_types[f] : BYTEAOID;

			values[f] = privacy_array_arg(columns[f], column_nulls[f], n, type);
			types[f] = get_array_type(type);
		}
		run(insert_sql, N_FIELDS + 2, types, values, NULL, snapshot, SPI_OK_INSERT);
		if (SPI_processed != (uint64) n)
			elog(ERROR, "could not seal audit log entries");
	}

	privacy_audit_delete_unsealed(places, taken);
	SPI_freetuptable(batch);
	return n;
}

/* Seals under the head lock; runs inside SPI as the log's owner. */
static int64
seal_locked(Oid head_relid, int64 max_entries, int batch_size)
{
	Oid			seq_relid = privacy_relid("audit_log_id_seq");
	Oid			text_argtypes[N_FIELDS];
	Oid			text_fn_oid;
	FmgrInfo	text_fn;
	Snapshot	snapshot;
	uint8		head[PG_SHA256_DIGEST_LENGTH];
	bool		isnull;
	Datum		hash;
	int64		total = 0;
	int64		last_id = 0;
	bool		more = false;
	MemoryContext batch_context;
	MemoryContext old;

	memcpy(text_argtypes, field_types, sizeof(text_argtypes));
	text_fn_oid = LookupFuncName(list_make2(makeString(PRIVACY_INTERNAL_SCHEMA),
											makeString("_audit_entry_text")),
								 N_FIELDS, text_argtypes, false);
	if (!OidIsValid(seq_relid))
		elog(ERROR, "the audit log's sequence is missing");
	fmgr_info(text_fn_oid, &text_fn);

	/*
	 * The lock comes first, and the snapshot after it: what another sealer
	 * committed before the lock was granted is seen as sealed.
	 */
	LockRelationOid(head_relid, ShareRowExclusiveLock);
	PushActiveSnapshot(GetLatestSnapshot());
	snapshot = GetActiveSnapshot();

	run(head_sql, 0, NULL, NULL, NULL, snapshot, SPI_OK_SELECT);
	if (SPI_processed != 1)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("the audit log's head row is missing"),
				 errdetail("The table privacy._audit_head must hold exactly one row."),
				 errhint("Restore the table from a backup; privacy.verify_audit_log() then reports whether the chain is intact.")));
	hash = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	if (isnull || VARSIZE_ANY_EXHDR(DatumGetByteaPP(hash)) != PG_SHA256_DIGEST_LENGTH)
		elog(ERROR, "the audit log's head has no hash");
	memcpy(head, VARDATA_ANY(DatumGetByteaPP(hash)), PG_SHA256_DIGEST_LENGTH);

	batch_context = AllocSetContextCreate(CurrentMemoryContext, "audit log sealing",
										  ALLOCSET_DEFAULT_SIZES);
	for (;;)
	{
		int			limit = batch_size;
		int			n;

		if (max_entries > 0 && max_entries - total < limit)
			limit = (int) (max_entries - total);
		if (limit <= 0)
			break;
		old = MemoryContextSwitchTo(batch_context);
		n = seal_batch(limit, head, seq_relid, &text_fn, snapshot, &last_id, &more);
		MemoryContextSwitchTo(old);
		MemoryContextReset(batch_context);
		total += n;
		if (!more)
			break;
		CHECK_FOR_INTERRUPTS();
	}
	MemoryContextDelete(batch_context);

	if (total > 0)
	{
		Oid			types[2] = {INT8OID, BYTEAOID};
		Datum		values[2];

		values[0] = Int64GetDatum(last_id);
		values[1] = PointerGetDatum(digest_to_bytea(head));
		run(move_head_sql, 2, types, values, NULL, snapshot, SPI_OK_UPDATE);
		if (SPI_processed != 1)
			elog(ERROR, "could not move the audit log's head");
	}
	PopActiveSnapshot();
	return total;
}

int64
privacy_seal_entries(int64 max_entries, int batch_size)
{
	Oid			head_relid = privacy_relid("_audit_head");
	PrivacyUserContext save;
	int64		sealed = 0;
	bool		worker;

	if (!OidIsValid(head_relid) ||
		!OidIsValid(privacy_relid("_audit_unsealed")) ||
		!OidIsValid(privacy_relid("audit_log")))
		return 0;
	if (batch_size <= 0)
		batch_size = 1;
	/* a Citus worker's entries belong to the coordinator's log */
	worker = privacy_citus_worker();

	privacy_begin_as_owner("audit_log", &save);
	PG_TRY();
	{
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "could not connect to SPI");
		if (worker)
			sealed = privacy_forward_entries(head_relid, max_entries, batch_size);
		else
			sealed = seal_locked(head_relid, max_entries, batch_size);
		SPI_finish();
	}
	PG_FINALLY();
	{
		privacy_audit_sealing = false;
		privacy_end_as_owner(&save);
	}
	PG_END_TRY();
	return sealed;
}

/*
 * privacy.seal_audit_log() → bigint: seals every committed entry now, in
 * the caller's transaction (which holds the chain's head until it ends).
 */
Datum
privacy_seal_audit_log(PG_FUNCTION_ARGS)
{
	PreventCommandIfReadOnly("privacy.seal_audit_log()");
	PreventCommandDuringRecovery("privacy.seal_audit_log()");
	PG_RETURN_INT64(privacy_seal_entries(0, privacy_seal_batch_size));
}

/*
 * Trigger on privacy._audit_unsealed: refuses UPDATE, DELETE and TRUNCATE
 * but a Citus worker's deletion of the entries the coordinator took
 * (audit_forward.c). The sealer deletes the entries it seals without a
 * statement (privacy_audit_delete_unsealed()), so this does not fire then.
 */
Datum
privacy_audit_unsealed_is_append_only(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		elog(ERROR, "privacy_internal._audit_unsealed_is_append_only() must be called as a trigger");
	if (privacy_audit_sealing && TRIGGER_FIRED_BY_DELETE(trigdata->tg_event))
		return PointerGetDatum(trigdata->tg_trigtuple);
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("privacy._audit_unsealed is append-only"),
			 errdetail("%s is not allowed on the unsealed audit log entries.",
					   TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event) ? "UPDATE" :
					   TRIGGER_FIRED_BY_DELETE(trigdata->tg_event) ? "DELETE" : "TRUNCATE"),
			 errhint("Entries leave it only when privacy.seal_audit_log() or the sealer's background worker seals them into privacy.audit_log.")));
	PG_RETURN_NULL();
}
