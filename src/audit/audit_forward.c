/*
 * audit_forward.c
 *		On a Citus cluster, one audit log: a worker hands its audit log
 *		entries to the coordinator's log instead of sealing them into a chain
 *		of its own.
 *
 * What the extension audits on a worker (a rectification of a shard of a
 * protected table, by a user's UPDATE or by an erasure or retention run that
 * anonymises rows; a guard's redaction) is written to the worker's
 * privacy._audit_unsealed as on one server, in the shard's part of the
 * distributed transaction, so it commits or vanishes with the change. The
 * worker's sealer (audit_sealer.c, privacy_seal_entries()) then forwards
 * instead of sealing: under the worker's head lock, with a snapshot taken
 * after it, it reads the oldest committed entries, sends them in one
 * statement through Citus's connection to the coordinator, as the
 * extension's owner,
 *
 *     SELECT privacy_internal._audit_receive(group, entries jsonb)
 *
 * and, once the coordinator has committed them, deletes them from the
 * worker's unsealed entries. The coordinator inserts them into its own
 * unsealed entries, in the worker's order, where its sealer chains them
 * like its own.
 *
 * The two commits are separate, so either may be lost in a crash between
 * them; the coordinator keeps the ids it took from each worker group
 * (privacy._audit_received) and takes an entry only once: a batch that
 * reaches it again (the worker's deletion did not commit) adds nothing.
 * A batch is always the oldest entries the worker sees, in the order of
 * their ids, so ids the coordinator took that are older than a batch's
 * oldest are gone from the worker and are forgotten then.
 *
 * A worker's transaction is usually prepared and committed by the
 * coordinator (two-phase commit), which runs no extension code on the
 * worker at commit: the worker's sealer is woken at PREPARE and keeps
 * looking while prepared transactions of its database wait
 * (audit_sealer.c).
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/snapmgr.h"

#include "audit/audit.h"
#include "base/citus.h"
#include "base/extension_objects.h"
#include "base/spi_statements.h"

PG_FUNCTION_INFO_V1(privacy_audit_receive);

/*
 * The oldest entries, as JSON, their ids and how many entries they hold:
 * rows in id order while the entries before each (a rectification row holds
 * one per element of subject_refs) number fewer than $1, at least one row.
 */
static const char *const outbox_sql =
"SELECT pg_catalog.json_agg(e ORDER BY e.id)::pg_catalog.text, pg_catalog.array_agg(e.id ORDER BY e.id),"
" pg_catalog.sum(COALESCE(pg_catalog.cardinality(e.subject_refs), 1))::pg_catalog.int8"
" FROM (SELECT w.id, w.logged_at, w.actor, w.session_role, w.action, w.subject_ref, w.request_id,"
" w.summary, w.subject_refs"
" FROM (SELECT u.*, pg_catalog.sum(COALESCE(pg_catalog.cardinality(u.subject_refs), 1))"
" OVER (ORDER BY u.id) OPERATOR(pg_catalog.-) COALESCE(pg_catalog.cardinality(u.subject_refs), 1) AS before"
" FROM (SELECT u.* FROM privacy._audit_unsealed u ORDER BY u.id LIMIT $1) u) w"
" WHERE w.before OPERATOR(pg_catalog.<) $1) e";

static const char *const forwarded_sql =
"DELETE FROM privacy._audit_unsealed u WHERE u.id OPERATOR(pg_catalog.=) ANY ($1::pg_catalog.int8[])";

static const char *const receive_sql =
"WITH batch AS ("
" SELECT x.* FROM pg_catalog.jsonb_to_recordset($2) AS x(id pg_catalog.int8,"
" logged_at pg_catalog.timestamptz, actor pg_catalog.text, session_role pg_catalog.text,"
" action pg_catalog.text, subject_ref pg_catalog.text, request_id pg_catalog.int8,"
" summary pg_catalog.jsonb, subject_refs pg_catalog.text[])),"
" forgotten AS (DELETE FROM privacy._audit_received r"
" WHERE r.node_group OPERATOR(pg_catalog.=) $1"
" AND r.remote_id OPERATOR(pg_catalog.<) (SELECT pg_catalog.min(b.id) FROM batch b)),"
" fresh AS (INSERT INTO privacy._audit_received (node_group, remote_id)"
" SELECT $1, b.id FROM batch b ON CONFLICT DO NOTHING RETURNING remote_id)"
" INSERT INTO privacy._audit_unsealed"
" (logged_at, actor, session_role, action, subject_ref, request_id, summary, subject_refs)"
" SELECT b.logged_at, b.actor, b.session_role, b.action, b.subject_ref, b.request_id, b.summary,"
" b.subject_refs FROM batch b JOIN fresh f ON f.remote_id OPERATOR(pg_catalog.=) b.id ORDER BY b.id";

static SPIPlanPtr outbox_plan = NULL;
static SPIPlanPtr forwarded_plan = NULL;
static SPIPlanPtr receive_plan = NULL;

int64
privacy_forward_entries(Oid head_relid, int64 max_entries, int batch_size)
{
	int64		total = 0;
	int32		group = privacy_citus_group();

	/* one forwarder at a time on this worker; the snapshot after the lock */
	LockRelationOid(head_relid, ShareRowExclusiveLock);
	PushActiveSnapshot(GetLatestSnapshot());
	for (;;)
	{
		int			limit = batch_size;
		Oid			limit_type = INT4OID;
		Datum		limit_value;
		Oid			ids_type = INT8ARRAYOID;
		Datum		ids;
		bool		isnull;
		char	   *entries;
		int64		n;
		uint64		rows;

		if (max_entries > 0 && max_entries - total < limit)
			limit = (int) (max_entries - total);
		if (limit <= 0)
			break;
		limit_value = Int32GetDatum(limit);
		if (SPI_execute_snapshot(privacy_kept_plan(&outbox_plan, outbox_sql, 1, &limit_type),
								 &limit_value, NULL, GetActiveSnapshot(), InvalidSnapshot,
								 true, false, 1) != SPI_OK_SELECT)
			elog(ERROR, "could not read the unsealed audit log entries");
		entries = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
		if (entries == NULL)
			break;
		ids = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull);
		ids = PointerGetDatum(DatumGetArrayTypePCopy(ids));
		n = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3, &isnull));

		(void) privacy_citus_coordinator_result(psprintf("SELECT privacy_internal._audit_receive(%d, %s::pg_catalog.jsonb)",
														 group, quote_literal_cstr(entries)),
												"hand this worker's audit log entries to the audit log");

		privacy_audit_sealing = true;
		if (SPI_execute_snapshot(privacy_kept_plan(&forwarded_plan, forwarded_sql, 1, &ids_type),
								 &ids, NULL, GetActiveSnapshot(), InvalidSnapshot,
								 false, false, 0) != SPI_OK_DELETE)
			elog(ERROR, "could not remove forwarded entries from the unsealed audit log entries");
		privacy_audit_sealing = false;
		rows = SPI_processed;
		total += n;
		if (rows == 0)
			break;
		CHECK_FOR_INTERRUPTS();
	}
	PopActiveSnapshot();
	return total;
}

/*
 * privacy_internal._audit_receive(node_group integer, entries jsonb) →
 * bigint: on the coordinator, takes the audit log entries a worker of that
 * group forwards (the rows of its privacy._audit_unsealed, as JSON), each
 * once, into the unsealed entries; returns how many rows it took.
 */
Datum
privacy_audit_receive(PG_FUNCTION_ARGS)
{
	Oid			argtypes[2] = {INT4OID, JSONBOID};
	Datum		values[2];
	PrivacyUserContext save;
	uint64		taken = 0;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("node group and entries must not be null")));
	if (!privacy_citus_installed() || privacy_citus_worker())
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("only the Citus coordinator takes audit log entries from other nodes")));
	PreventCommandIfReadOnly("privacy_internal._audit_receive()");
	values[0] = PG_GETARG_DATUM(0);
	values[1] = PG_GETARG_DATUM(1);

	privacy_begin_as_owner("audit_log", &save);
	PG_TRY();
	{
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "could not connect to SPI");
		if (SPI_execute_plan(privacy_kept_plan(&receive_plan, receive_sql, 2, argtypes),
							 values, NULL, false, 0) != SPI_OK_INSERT)
			elog(ERROR, "could not take the forwarded audit log entries");
		taken = SPI_processed;
		SPI_finish();
	}
	PG_FINALLY();
	{
		privacy_end_as_owner(&save);
	}
	PG_END_TRY();
	if (taken > 0)
		privacy_audit_note_unsealed_write();
	PG_RETURN_INT64((int64) taken);
}
