/*
 * retention_cron.c
 *		Registering the retention job with pg_cron from any database.
 *
 * pg_cron keeps its jobs in the database cron.database_name names, and a
 * backend cannot run SQL in another database. So each request (schedule,
 * unschedule, list) is carried out by a short-lived background worker
 * connected to pg_cron's database as the bootstrap superuser, which calls
 * cron.schedule_in_database() (pg_cron 1.4 or later) for the requesting
 * database and role and reads cron.job. The request and its result travel
 * in a dynamic shared memory segment; an error in the worker is raised
 * again, with its SQLSTATE, in the requesting backend.
 *
 * The worker runs only statements fixed here: the command is always
 * CALL privacy.enforce_retention(), the database the requesting one, the
 * job's role the one the caller (privacy.schedule_retention(), itself
 * granted by the DBA) passes. The worker commits on its own: a job
 * registered stays registered if the requesting transaction rolls back.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_type.h"
#include "commands/dbcommands.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "postmaster/bgworker.h"
#include "storage/dsm.h"
#include "storage/ipc.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/resowner.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "retention/retention.h"

PG_FUNCTION_INFO_V1(privacy_retention_cron);

PGDLLEXPORT void privacy_retention_cron_worker(Datum main_arg);

/* The job's name in pg_cron's own database; elsewhere ":<database>" follows. */
#define CRON_JOB_NAME "opendims_privacy_retention"
#define CRON_JOB_COMMAND "CALL privacy.enforce_retention()"
#define CRON_SCHEDULE_LEN 256
#define CRON_MESSAGE_LEN 1024
#define CRON_MAX_JOBS 16

typedef enum CronOperation
{
	CRON_SCHEDULE,
	CRON_UNSCHEDULE,
	CRON_LIST
} CronOperation;

/* One row of cron.job for this database's retention job. */
typedef struct CronJob
{
	int64		jobid;
	char		schedule[CRON_SCHEDULE_LEN];
	char		username[NAMEDATALEN];
	bool		active;
	bool		has_last_run;
	char		last_status[NAMEDATALEN];
	TimestampTz last_start;
} CronJob;

/* The request and its result, in the shared memory segment. */
typedef struct CronRequest
{
	CronOperation operation;
	char		cron_database[NAMEDATALEN];
	char		database[NAMEDATALEN];
	char		jobname[NAMEDATALEN];
	char		username[NAMEDATALEN];
	char		schedule[CRON_SCHEDULE_LEN];

	bool		finished;
	int			sqlerrcode;
	char		message[CRON_MESSAGE_LEN];
	char		detail[CRON_MESSAGE_LEN];
	char		hint[CRON_MESSAGE_LEN];
	int			njobs;
	CronJob		jobs[CRON_MAX_JOBS];
} CronRequest;

/* The worker's statements: every name qualified, search_path pinned too. */
static const char *const cron_check_sql =
"SELECT EXISTS (SELECT FROM pg_catalog.pg_extension e WHERE e.extname OPERATOR(pg_catalog.=) 'pg_cron'), "
"pg_catalog.to_regprocedure('cron.schedule_in_database(text,text,text,text,text,boolean)') IS NOT NULL";

static const char *const cron_schedule_sql =
"SELECT cron.schedule_in_database($1, $2, $3, $4, $5)";

static const char *const cron_unschedule_sql =
"SELECT cron.unschedule(j.jobid) FROM cron.job j "
"WHERE j.database OPERATOR(pg_catalog.=) $1 AND j.jobname::pg_catalog.text OPERATOR(pg_catalog.=) $2 "
"AND j.username OPERATOR(pg_catalog.=) $3";

static const char *const cron_list_sql =
"SELECT j.jobid, j.schedule, j.username, j.active, d.status, d.start_time "
"FROM cron.job j LEFT JOIN LATERAL ("
" SELECT r.status, r.start_time FROM cron.job_run_details r "
" WHERE r.jobid OPERATOR(pg_catalog.=) j.jobid ORDER BY r.runid DESC LIMIT 1) d ON true "
"WHERE j.database OPERATOR(pg_catalog.=) $1 AND j.jobname::pg_catalog.text OPERATOR(pg_catalog.=) $2 "
"AND ($3 IS NULL OR j.username OPERATOR(pg_catalog.=) $3) ORDER BY j.jobid";

/* Copies a text column of the current SPI row into buf ("" for NULL). */
static void
cron_copy_text(char *buf, size_t len, HeapTuple tuple, int column)
{
	char	   *value = SPI_getvalue(tuple, SPI_tuptable->tupdesc, column);

	strlcpy(buf, value ? value : "", len);
}

/* Reads this database's retention jobs (of one role, if username is set). */
static void
cron_worker_list(CronRequest *req, bool one_role)
{
	Oid			types[3] = {TEXTOID, TEXTOID, TEXTOID};
	Datum		values[3];
	char		nulls[3] = {' ', ' ', one_role ? ' ' : 'n'};
	uint64		i;

	values[0] = CStringGetTextDatum(req->database);
	values[1] = CStringGetTextDatum(req->jobname);
	values[2] = CStringGetTextDatum(req->username);
	if (SPI_execute_with_args(cron_list_sql, 3, types, values, nulls, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read cron.job");
	req->njobs = 0;
	for (i = 0; i < SPI_processed && i < CRON_MAX_JOBS; i++)
	{
		HeapTuple	tuple = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		CronJob    *job = &req->jobs[req->njobs++];
		bool		isnull;
		Datum		start;

		job->jobid = DatumGetInt64(SPI_getbinval(tuple, desc, 1, &isnull));
		cron_copy_text(job->schedule, sizeof(job->schedule), tuple, 2);
		cron_copy_text(job->username, sizeof(job->username), tuple, 3);
		job->active = DatumGetBool(SPI_getbinval(tuple, desc, 4, &isnull));
		cron_copy_text(job->last_status, sizeof(job->last_status), tuple, 5);
		start = SPI_getbinval(tuple, desc, 6, &isnull);
		job->has_last_run = !isnull;
		job->last_start = isnull ? 0 : DatumGetTimestampTz(start);
	}
}

/* Carries out the request in pg_cron's database, inside a transaction. */
static void
cron_worker_run(CronRequest *req)
{
	bool		isnull;

	if (SPI_execute(cron_check_sql, true, 1) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "could not look for pg_cron");
	if (!DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull)))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("extension \"pg_cron\" is not installed in database \"%s\"", req->cron_database),
				 errdetail("The retention job is scheduled with pg_cron, which keeps its jobs in the database that cron.database_name names."),
				 errhint("Run CREATE EXTENSION pg_cron in database \"%s\"; or call privacy.enforce_retention() from another scheduler.",
						 req->cron_database)));
	if (!DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull)))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("pg_cron in database \"%s\" has no function cron.schedule_in_database()", req->cron_database),
				 errdetail("Scheduling the retention job needs pg_cron 1.4 or later."),
				 errhint("Run ALTER EXTENSION pg_cron UPDATE in database \"%s\".", req->cron_database)));

	if (req->operation == CRON_SCHEDULE)
	{
		Oid			types[5] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID};
		Datum		values[5];

		values[0] = CStringGetTextDatum(req->jobname);
		values[1] = CStringGetTextDatum(req->schedule);
		values[2] = CStringGetTextDatum(CRON_JOB_COMMAND);
		values[3] = CStringGetTextDatum(req->database);
		values[4] = CStringGetTextDatum(req->username);
		if (SPI_execute_with_args(cron_schedule_sql, 5, types, values, NULL, false, 0) != SPI_OK_SELECT)
			elog(ERROR, "could not schedule the retention job");
	}
	else if (req->operation == CRON_UNSCHEDULE)
	{
		/* What is removed is what the role had scheduled here. */
		cron_worker_list(req, true);
		if (req->njobs > 0)
		{
			Oid			types[3] = {TEXTOID, TEXTOID, TEXTOID};
			Datum		values[3];

			values[0] = CStringGetTextDatum(req->database);
			values[1] = CStringGetTextDatum(req->jobname);
			values[2] = CStringGetTextDatum(req->username);
			if (SPI_execute_with_args(cron_unschedule_sql, 3, types, values, NULL, false, 0) != SPI_OK_SELECT)
				elog(ERROR, "could not unschedule the retention job");
		}
		return;
	}
	cron_worker_list(req, req->operation == CRON_SCHEDULE);
}

/*
 * The background worker: connects to pg_cron's database, carries out the
 * request in one transaction and leaves the result, or its error, in the
 * shared memory segment.
 */
void
privacy_retention_cron_worker(Datum main_arg)
{
	dsm_segment *seg;
	CronRequest *req;
	MemoryContext worker_context;

	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();

	CurrentResourceOwner = ResourceOwnerCreate(NULL, "opendims_privacy pg_cron worker");
	seg = dsm_attach(DatumGetUInt32(main_arg));
	if (seg == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("could not map the shared memory segment of a pg_cron request")));
	dsm_pin_mapping(seg);
	req = dsm_segment_address(seg);

	BackgroundWorkerInitializeConnection(req->cron_database, NULL, 0);
	SetConfigOption("search_path", "pg_catalog, pg_temp", PGC_SUSET, PGC_S_OVERRIDE);
	worker_context = CurrentMemoryContext;

	StartTransactionCommand();
	PG_TRY();
	{
		SPI_connect();
		PushActiveSnapshot(GetTransactionSnapshot());
		cron_worker_run(req);
		SPI_finish();
		PopActiveSnapshot();
		CommitTransactionCommand();
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(worker_context);
		edata = CopyErrorData();
		FlushErrorState();
		req->sqlerrcode = edata->sqlerrcode;
		strlcpy(req->message, edata->message ? edata->message : "", sizeof(req->message));
		strlcpy(req->detail, edata->detail ? edata->detail : "", sizeof(req->detail));
		strlcpy(req->hint, edata->hint ? edata->hint : "", sizeof(req->hint));
		AbortCurrentTransaction();
	}
	PG_END_TRY();
	req->finished = true;
	proc_exit(0);
}

/* Starts the worker for a request and waits until it has exited. */
static void
cron_request_run(CronRequest *req)
{
	BackgroundWorker worker;
	BackgroundWorkerHandle *handle;
	BgwHandleStatus status;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = BGW_NEVER_RESTART;
	strlcpy(worker.bgw_library_name, "opendims_privacy", BGW_MAXLEN);
	strlcpy(worker.bgw_function_name, "privacy_retention_cron_worker", BGW_MAXLEN);
	strlcpy(worker.bgw_name, "opendims_privacy pg_cron request", BGW_MAXLEN);
	strlcpy(worker.bgw_type, "opendims_privacy pg_cron request", BGW_MAXLEN);
	worker.bgw_notify_pid = MyProcPid;

	{
		dsm_segment *seg = dsm_create(sizeof(CronRequest), 0);
		CronRequest *shared = dsm_segment_address(seg);

		memcpy(shared, req, sizeof(CronRequest));
		worker.bgw_main_arg = UInt32GetDatum(dsm_segment_handle(seg));
		if (!RegisterDynamicBackgroundWorker(&worker, &handle))
			ereport(ERROR,
					(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
					 errmsg("could not start a background worker to reach pg_cron's database \"%s\"",
							req->cron_database),
					 errhint("Raise max_worker_processes, or try again when fewer background workers run.")));
		status = WaitForBackgroundWorkerShutdown(handle);
		if (status != BGWH_STOPPED)
			ereport(ERROR,
					(errcode(ERRCODE_ADMIN_SHUTDOWN),
					 errmsg("could not reach pg_cron's database \"%s\": the server is shutting down",
							req->cron_database)));
		memcpy(req, shared, sizeof(CronRequest));
		dsm_detach(seg);
	}

	if (!req->finished)
		ereport(ERROR,
				(errcode(ERRCODE_CONNECTION_FAILURE),
				 errmsg("could not reach pg_cron's database \"%s\"", req->cron_database),
				 errhint("The server log says why the background worker connecting to it failed; cron.database_name must name a database that accepts connections.")));
	if (req->sqlerrcode != 0)
		ereport(ERROR,
				(errcode(req->sqlerrcode),
				 errmsg_internal("%s", req->message),
				 req->detail[0] ? errdetail_internal("%s", req->detail) : 0,
				 req->hint[0] ? errhint("%s", req->hint) : 0,
				 errcontext("pg_cron request in database \"%s\"", req->cron_database)));
}

/* Whether a role may log in, as pg_cron must to run a job as it. */
static void
cron_require_login(const char *username)
{
	HeapTuple	tuple = SearchSysCache1(AUTHNAME, CStringGetDatum(username));
	bool		can_login;

	if (!HeapTupleIsValid(tuple))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("role \"%s\" does not exist", username)));
	can_login = ((Form_pg_authid) GETSTRUCT(tuple))->rolcanlogin;
	ReleaseSysCache(tuple);
	if (!can_login)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("role \"%s\" cannot log in, so pg_cron could not run the retention job as it", username),
				 errdetail("pg_cron runs each job in a session of the role that scheduled it."),
				 errhint("Schedule the job as a role with LOGIN that has been granted the job.")));
}

/*
 * privacy_internal._retention_cron(operation text, username name,
 * schedule text) → SETOF (job_id, job_name, schedule, username, active,
 * last_run_status, last_run_started, cron_database): schedules or
 * unschedules this database's retention job for a role, or lists it, in
 * pg_cron's database; returns the jobs concerned.
 */
Datum
privacy_retention_cron(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	CronRequest *req = palloc0(sizeof(CronRequest));
	char	   *operation;
	const char *cron_database = GetConfigOption("cron.database_name", true, false);
	char	   *database = get_database_name(MyDatabaseId);
	int			i;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("operation must not be null")));
	operation = text_to_cstring(PG_GETARG_TEXT_PP(0));
	if (strcmp(operation, "schedule") == 0)
		req->operation = CRON_SCHEDULE;
	else if (strcmp(operation, "unschedule") == 0)
		req->operation = CRON_UNSCHEDULE;
	else if (strcmp(operation, "list") == 0)
		req->operation = CRON_LIST;
	else
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unrecognized pg_cron operation \"%s\"", operation),
				 errhint("The operations are schedule, unschedule and list.")));

	if (!PG_ARGISNULL(1))
		strlcpy(req->username, NameStr(*PG_GETARG_NAME(1)), NAMEDATALEN);
	if (!PG_ARGISNULL(2))
	{
		char	   *schedule = text_to_cstring(PG_GETARG_TEXT_PP(2));

		if (strlen(schedule) >= CRON_SCHEDULE_LEN)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("schedule is too long"),
					 errdetail("A schedule has at most %d bytes.", CRON_SCHEDULE_LEN - 1)));
		strlcpy(req->schedule, schedule, CRON_SCHEDULE_LEN);
	}
	if (req->operation != CRON_LIST && req->username[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("a role must be given to schedule or unschedule the retention job")));
	if (req->operation == CRON_SCHEDULE)
	{
		if (req->schedule[0] == '\0')
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("schedule must not be null")));
		cron_require_login(req->username);
	}

	if (cron_database == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("pg_cron is not loaded"),
				 errdetail("The retention job is scheduled with pg_cron."),
				 errhint("Add pg_cron to shared_preload_libraries, set cron.database_name, restart the server and run CREATE EXTENSION pg_cron in that database; or call privacy.enforce_retention() from another scheduler.")));
	strlcpy(req->cron_database, cron_database, NAMEDATALEN);
	strlcpy(req->database, database, NAMEDATALEN);
	if (strcmp(cron_database, database) == 0)
		strlcpy(req->jobname, CRON_JOB_NAME, NAMEDATALEN);
	else if (snprintf(req->jobname, NAMEDATALEN, "%s:%s", CRON_JOB_NAME, database) >= NAMEDATALEN)
		ereport(ERROR,
				(errcode(ERRCODE_NAME_TOO_LONG),
				 errmsg("database name \"%s\" is too long for the name of a pg_cron job", database),
				 errdetail("The retention job of a database other than pg_cron's is named \"%s:\" followed by the database name, at most %d bytes in all.",
						   CRON_JOB_NAME, NAMEDATALEN - 1)));

	cron_request_run(req);

	InitMaterializedSRF(fcinfo, 0);
	for (i = 0; i < req->njobs; i++)
	{
		CronJob    *job = &req->jobs[i];
		Datum		values[8];
		bool		nulls[8] = {false};

		values[0] = Int64GetDatum(job->jobid);
		values[1] = CStringGetTextDatum(req->jobname);
		values[2] = CStringGetTextDatum(job->schedule);
		values[3] = DirectFunctionCall1(namein, CStringGetDatum(job->username));
		values[4] = BoolGetDatum(job->active);
		values[5] = CStringGetTextDatum(job->last_status);
		nulls[5] = !job->has_last_run;
		values[6] = TimestampTzGetDatum(job->last_start);
		nulls[6] = !job->has_last_run;
		values[7] = DirectFunctionCall1(namein, CStringGetDatum(req->cron_database));
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
