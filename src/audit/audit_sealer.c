/*
 * audit_sealer.c
 *		The sealer's background workers: a launcher, and one worker per
 *		database while that database has entries to seal.
 *
 * Loaded by shared_preload_libraries, the library registers a launcher
 * (connected to no database, so it reads only shared catalogs). When it
 * starts (at server start, and again after a crash) it starts a worker for
 * every database that accepts connections and is not a template, since any
 * of them may hold entries committed but not sealed before the server
 * stopped; after that, a worker for a database is started when a commit
 * there wrote audit log entries. A worker checks that the extension is
 * installed in its database (and exits at once if not), seals every
 * committed entry in batches of privacy.seal_batch_size, one transaction
 * each (audit_seal.c), then waits to be woken again and exits after a
 * couple of seconds without work, so that it holds no connection to a
 * database that is idle (DROP DATABASE waits up to five seconds for other
 * sessions to leave).
 *
 * A committing writer wakes its database's worker through shared memory
 * (privacy_sealer_wake(), called once the commit is visible): it marks the
 * database's slot as wanting a seal and sets the worker's latch, or the
 * launcher's when no worker runs. A woken worker waits privacy.seal_delay
 * before sealing, gathering the commits of that time into one batch; an
 * entry is therefore sealed about privacy.seal_delay after its commit (plus
 * the time the batch takes, and a worker's start when none ran).
 *
 * A transaction prepared for two-phase commit wakes the worker at PREPARE,
 * before its entries are visible (only a Citus worker's part of a
 * distributed transaction may write entries and be prepared): the worker
 * does not exit while prepared transactions of its database wait, and
 * looks again every second.
 *
 * Every SEALER_VACUUM_ENTRIES entries it seals, a worker vacuums the queue
 * of unsealed entries itself (vacuum_queue()).
 *
 * A batch that fails is reported in the server log and rolled back; the
 * worker tries again five seconds later and does not exit meanwhile (on a
 * Citus worker, whose batches go to the coordinator, until the coordinator
 * takes them).
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/pg_database.h"
#include "commands/extension.h"
#include "commands/vacuum.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "tcop/tcopprot.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "audit/audit.h"
#include "base/extension_objects.h"

PGDLLEXPORT void privacy_sealer_launcher_main(Datum main_arg);
PGDLLEXPORT void privacy_sealer_worker_main(Datum main_arg);

/* Settings. */
static int	seal_delay_ms = 200;
int			privacy_seal_batch_size = 10000;
static int	seal_pause_for_tests_ms = 0;

bool		privacy_sealer_preloaded = false;

/* How long a worker waits for work before it exits. */
#define SEALER_IDLE_EXIT_MS 1000

/* How many entries a worker seals between two vacuums of the queue. */
#define SEALER_VACUUM_ENTRIES 20000

/* Entries sealed since this worker last vacuumed the queue. */
static int64 sealed_since_vacuum = 0;

/* How long a worker waits after a failed batch before it tries again. */
#define SEALER_RETRY_MS 5000

/* How soon the launcher starts a database's worker again after the last. */
#define SEALER_RESTART_MS 1000

/* Databases with a worker running or wanted at once; more wait their turn. */
#define SEALER_SLOTS 64

typedef struct SealerSlot
{
	Oid			dboid;			/* InvalidOid: the slot is free */
	bool		wanted;			/* entries were committed since the worker looked */
	bool		started;		/* a worker was registered and has not exited */
	Latch	   *latch;			/* the running worker's latch, or NULL */
} SealerSlot;

typedef struct SealerShared
{
	slock_t		mutex;
	Latch	   *launcher_latch;
	bool		rescan;			/* a database found no free slot */
	SealerSlot	slots[SEALER_SLOTS];
} SealerShared;

static SealerShared *sealer_shared = NULL;

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

static void
sealer_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(MAXALIGN(sizeof(SealerShared)));
}

static void
sealer_shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	sealer_shared = ShmemInitStruct("opendims_privacy audit sealer", sizeof(SealerShared), &found);
	if (!found)
	{
		memset(sealer_shared, 0, sizeof(SealerShared));
		SpinLockInit(&sealer_shared->mutex);
	}
	LWLockRelease(AddinShmemInitLock);
}

/* The slot of a database, taking a free one if needed; NULL if none is free. Holds the mutex. */
static SealerSlot *
slot_for(Oid dboid)
{
	SealerSlot *free_slot = NULL;

	for (int i = 0; i < SEALER_SLOTS; i++)
	{
		SealerSlot *slot = &sealer_shared->slots[i];

		if (slot->dboid == dboid)
			return slot;
		if (!OidIsValid(slot->dboid) && free_slot == NULL)
			free_slot = slot;
	}
	if (free_slot != NULL)
	{
		free_slot->dboid = dboid;
		free_slot->wanted = false;
		free_slot->started = false;
		free_slot->latch = NULL;
	}
	return free_slot;
}

/*
 * Marks this database's slot and wakes its worker (or the launcher). Only
 * the first commit after the worker last looked sets a latch: the others
 * find the slot marked already, so that a busy database does not wake its
 * worker thousands of times a second.
 */
void
privacy_sealer_wake(void)
{
	Latch	   *latch;
	SealerSlot *slot;

	if (sealer_shared == NULL)
		return;
	SpinLockAcquire(&sealer_shared->mutex);
	slot = slot_for(MyDatabaseId);
	if (slot != NULL)
	{
		if (slot->wanted && slot->latch != NULL)
			latch = NULL;
		else
			latch = slot->latch != NULL ? slot->latch : sealer_shared->launcher_latch;
		slot->wanted = true;
	}
	else
	{
		sealer_shared->rescan = true;
		latch = sealer_shared->launcher_latch;
	}
	SpinLockRelease(&sealer_shared->mutex);
	if (latch != NULL)
		SetLatch(latch);
}

/* The databases a worker may be needed in: those that accept connections and are not templates. */
static List *
list_databases(void)
{
	List	   *dbs = NIL;
	Relation	rel;
	TableScanDesc scan;
	HeapTuple	tuple;
	MemoryContext caller = CurrentMemoryContext;

	StartTransactionCommand();
	(void) GetTransactionSnapshot();
	rel = table_open(DatabaseRelationId, AccessShareLock);
	scan = table_beginscan_catalog(rel, 0, NULL);
	while ((tuple = heap_getnext(scan, ForwardScanDirection)) != NULL)
	{
		Form_pg_database db = (Form_pg_database) GETSTRUCT(tuple);
		MemoryContext old;

		if (!db->datallowconn || db->datistemplate)
			continue;
		old = MemoryContextSwitchTo(caller);
		dbs = lappend_oid(dbs, db->oid);
		MemoryContextSwitchTo(old);
	}
	table_endscan(scan);
	table_close(rel, AccessShareLock);
	CommitTransactionCommand();
	return dbs;
}

/* Registers the worker of a database; false if no worker slot is free now. */
static bool
start_worker(Oid dboid, BackgroundWorkerHandle **handle)
{
	BackgroundWorker worker;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = BGW_NEVER_RESTART;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "opendims_privacy");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "privacy_sealer_worker_main");
	snprintf(worker.bgw_name, BGW_MAXLEN, "opendims_privacy sealer for database %u", dboid);
	snprintf(worker.bgw_type, BGW_MAXLEN, "opendims_privacy sealer");
	worker.bgw_main_arg = ObjectIdGetDatum(dboid);
	worker.bgw_notify_pid = MyProcPid;
	return RegisterDynamicBackgroundWorker(&worker, handle);
}

/*
 * The launcher: starts a worker for every database at its own start, then
 * for each database whose commits want one.
 */
void
privacy_sealer_launcher_main(Datum main_arg)
{
	BackgroundWorkerHandle *handles[SEALER_SLOTS] = {0};
	TimestampTz last_start[SEALER_SLOTS] = {0};
	List	   *unslotted = NIL;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnection(NULL, NULL, 0);
	pgstat_report_appname("opendims_privacy sealer launcher");

	SpinLockAcquire(&sealer_shared->mutex);
	sealer_shared->launcher_latch = MyLatch;
	sealer_shared->rescan = true;
	SpinLockRelease(&sealer_shared->mutex);

	for (;;)
	{
		bool		rescan;
		TimestampTz now = GetCurrentTimestamp();

		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}

		SpinLockAcquire(&sealer_shared->mutex);
		rescan = sealer_shared->rescan;
		sealer_shared->rescan = false;
		SpinLockRelease(&sealer_shared->mutex);
		if (rescan)
			unslotted = list_concat(unslotted, list_databases());

		/* a worker registered but gone without saying so frees its slot */
		for (int i = 0; i < SEALER_SLOTS; i++)
		{
			pid_t		pid;

			if (handles[i] != NULL &&
				GetBackgroundWorkerPid(handles[i], &pid) == BGWH_STOPPED)
			{
				pfree(handles[i]);
				handles[i] = NULL;
				SpinLockAcquire(&sealer_shared->mutex);
				sealer_shared->slots[i].started = false;
				sealer_shared->slots[i].latch = NULL;
				if (!sealer_shared->slots[i].wanted)
					sealer_shared->slots[i].dboid = InvalidOid;
				SpinLockRelease(&sealer_shared->mutex);
			}
		}

		SpinLockAcquire(&sealer_shared->mutex);
		while (unslotted != NIL)
		{
			SealerSlot *slot = slot_for(linitial_oid(unslotted));

			if (slot == NULL)
				break;
			slot->wanted = true;
			unslotted = list_delete_first(unslotted);
		}
		SpinLockRelease(&sealer_shared->mutex);

		for (int i = 0; i < SEALER_SLOTS; i++)
		{
			SealerSlot *slot = &sealer_shared->slots[i];
			Oid			dboid = InvalidOid;

			SpinLockAcquire(&sealer_shared->mutex);
			if (OidIsValid(slot->dboid) && slot->wanted && !slot->started && handles[i] == NULL &&
				TimestampDifferenceExceeds(last_start[i], now, SEALER_RESTART_MS))
			{
				dboid = slot->dboid;
				slot->started = true;
			}
			SpinLockRelease(&sealer_shared->mutex);
			if (!OidIsValid(dboid))
				continue;
			last_start[i] = now;
			if (!start_worker(dboid, &handles[i]))
			{
				handles[i] = NULL;
				SpinLockAcquire(&sealer_shared->mutex);
				slot->started = false;
				SpinLockRelease(&sealer_shared->mutex);
			}
		}

		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 SEALER_RESTART_MS, PG_WAIT_EXTENSION);
	}
}

/* The worker's slot, found by its database. */
static SealerSlot *my_slot = NULL;

/* On the worker's exit: frees its slot, or asks the launcher for another worker. */
static void
worker_detach(int code, Datum arg)
{
	Latch	   *launcher = NULL;

	if (my_slot == NULL)
		return;
	SpinLockAcquire(&sealer_shared->mutex);
	my_slot->latch = NULL;
	my_slot->started = false;
	if (my_slot->wanted)
		launcher = sealer_shared->launcher_latch;
	else
		my_slot->dboid = InvalidOid;
	SpinLockRelease(&sealer_shared->mutex);
	my_slot = NULL;
	if (launcher != NULL)
		SetLatch(launcher);
}

/*
 * Waits *ms milliseconds from now, or until the postmaster dies;
 * interrupts are served, and a reload of the configuration that changes
 * the setting *ms points to changes the wait.
 */
static void
wait_ms(const int *ms)
{
	TimestampTz start = GetCurrentTimestamp();

	for (;;)
	{
		long		left;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		left = TimestampDifferenceMilliseconds(GetCurrentTimestamp(),
											   TimestampTzPlusMilliseconds(start, *ms));
		if (left <= 0)
			break;
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 left, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}

/* Whether the extension is installed in this database. */
static bool
extension_installed(void)
{
	bool		installed;

	StartTransactionCommand();
	installed = OidIsValid(get_extension_oid("opendims_privacy", true));
	CommitTransactionCommand();
	return installed;
}

/*
 * Whether prepared transactions of this database wait for COMMIT PREPARED,
 * which may make entries visible without waking the sealer (a Citus
 * worker's part of a distributed transaction).
 */
static bool
prepared_transactions_wait(void)
{
	bool		waiting = false;
	bool		isnull;

	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "could not connect to SPI");
	if (SPI_execute("SELECT EXISTS (SELECT FROM pg_catalog.pg_prepared_xacts p"
					" WHERE p.database OPERATOR(pg_catalog.=) pg_catalog.current_database())",
					true, 1) == SPI_OK_SELECT && SPI_processed == 1)
		waiting = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	return waiting;
}

/* Seals every committed entry, one transaction per batch; returns how many. */
static int64
seal_backlog(void)
{
	int64		total = 0;

	for (;;)
	{
		int			batch = privacy_seal_batch_size;
		int64		sealed;

		SetCurrentStatementStartTimestamp();
		StartTransactionCommand();
		PushActiveSnapshot(GetTransactionSnapshot());
		pgstat_report_activity(STATE_RUNNING, "sealing audit log entries");
		sealed = privacy_seal_entries(batch, batch);
		/* for the crash tests: a batch sealed but not committed */
		if (sealed > 0 && seal_pause_for_tests_ms > 0)
			wait_ms(&seal_pause_for_tests_ms);
		PopActiveSnapshot();
		CommitTransactionCommand();
		pgstat_report_activity(STATE_IDLE, NULL);
		pgstat_report_stat(false);
		total += sealed;
		if (sealed == 0)
			break;
		CHECK_FOR_INTERRUPTS();
	}
	return total;
}

/*
 * Vacuums the queue of unsealed entries, without truncating it (which would
 * take a lock the writers wait for): every sealed entry leaves a dead row
 * there, and at thousands of entries a second autovacuum, which visits a
 * database once a minute, lets hundreds of thousands of them pile up, which
 * the writers and every seal then step over. Skipped if another vacuum
 * holds the table.
 */
static void
vacuum_queue(void)
{
	VacuumParams params;
	Oid			relid;

	StartTransactionCommand();
	relid = privacy_relid("_audit_unsealed");
	if (OidIsValid(relid))
	{
		memset(&params, 0, sizeof(params));
		params.options = VACOPT_VACUUM | VACOPT_PROCESS_TOAST | VACOPT_SKIP_LOCKED;
		params.freeze_min_age = -1;
		params.freeze_table_age = -1;
		params.multixact_freeze_min_age = -1;
		params.multixact_freeze_table_age = -1;
		params.is_wraparound = false;
		params.log_min_duration = -1;
		params.index_cleanup = VACOPTVALUE_UNSPECIFIED;
		params.truncate = VACOPTVALUE_DISABLED;
		params.nworkers = -1;
		pgstat_report_activity(STATE_RUNNING, "vacuuming the unsealed audit log entries");
		/* vacuum() commits this transaction and starts the one committed below */
		vacuum(list_make1(makeVacuumRelation(NULL, relid, NIL)), &params, NULL, true);
		pgstat_report_activity(STATE_IDLE, NULL);
	}
	CommitTransactionCommand();
}

/*
 * Seals the backlog; whether there was work. A batch that fails (on a Citus
 * worker, when the coordinator cannot take the entries) is reported, rolled
 * back and tried again after SEALER_RETRY_MS, the worker staying on meanwhile.
 */
static bool
seal_backlog_or_report(void)
{
	MemoryContext context = CurrentMemoryContext;
	bool		failed = false;
	int64		sealed = 0;

	PG_TRY();
	{
		sealed = seal_backlog();
		sealed_since_vacuum += sealed;
		if (sealed_since_vacuum >= SEALER_VACUUM_ENTRIES)
		{
			sealed_since_vacuum = 0;
			vacuum_queue();
		}
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(context);
		HOLD_INTERRUPTS();
		EmitErrorReport();
		FlushErrorState();
		AbortCurrentTransaction();
		pgstat_report_activity(STATE_IDLE, NULL);
		RESUME_INTERRUPTS();
		failed = true;
	}
	PG_END_TRY();
	if (failed)
	{
		int			retry_ms = SEALER_RETRY_MS;

		wait_ms(&retry_ms);
	}
	return failed || sealed > 0;
}

/* A database's worker (see the file's header). */
void
privacy_sealer_worker_main(Datum main_arg)
{
	Oid			dboid = DatumGetObjectId(main_arg);
	TimestampTz idle_since;
	bool		first = true;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();

	SpinLockAcquire(&sealer_shared->mutex);
	for (int i = 0; i < SEALER_SLOTS; i++)
		if (sealer_shared->slots[i].dboid == dboid)
			my_slot = &sealer_shared->slots[i];
	if (my_slot != NULL)
		my_slot->latch = MyLatch;
	SpinLockRelease(&sealer_shared->mutex);
	if (my_slot == NULL)
		proc_exit(0);
	before_shmem_exit(worker_detach, (Datum) 0);

	/*
	 * What woke the launcher is taken now: a worker that cannot connect (its
	 * database was dropped) frees its slot instead of being started again
	 * and again; a commit from now on marks the slot again.
	 */
	SpinLockAcquire(&sealer_shared->mutex);
	my_slot->wanted = false;
	SpinLockRelease(&sealer_shared->mutex);

	BackgroundWorkerInitializeConnectionByOid(dboid, InvalidOid, 0);
	pgstat_report_appname("opendims_privacy sealer");
	if (!extension_installed())
	{
		SpinLockAcquire(&sealer_shared->mutex);
		my_slot->wanted = false;
		SpinLockRelease(&sealer_shared->mutex);
		proc_exit(0);
	}

	idle_since = GetCurrentTimestamp();
	for (;;)
	{
		bool		wanted;
		int			rc;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}

		/* commits from now on wake the worker again */
		SpinLockAcquire(&sealer_shared->mutex);
		wanted = my_slot->wanted || first;
		my_slot->wanted = false;
		SpinLockRelease(&sealer_shared->mutex);
		first = false;

		if (seal_backlog_or_report() || wanted)
			idle_since = GetCurrentTimestamp();
		else if (TimestampDifferenceExceeds(idle_since, GetCurrentTimestamp(), SEALER_IDLE_EXIT_MS) &&
				 !prepared_transactions_wait())
			break;

		rc = WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
					   SEALER_IDLE_EXIT_MS, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		/* woken by a commit: gather the commits of the next seal_delay */
		if ((rc & WL_LATCH_SET) && seal_delay_ms > 0)
			wait_ms(&seal_delay_ms);
	}
	proc_exit(0);
}

void
SealerInit(void)
{
	BackgroundWorker worker;

	DefineCustomIntVariable("privacy.seal_delay",
							"How long the audit log's sealer waits after a commit wakes it, gathering entries into one batch.",
							NULL, &seal_delay_ms, 200, 0, 3600 * 1000,
							PGC_SIGHUP, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomIntVariable("privacy.seal_batch_size",
							"How many audit log entries the sealer seals in one transaction.",
							NULL, &privacy_seal_batch_size, 10000, 1, 1000000,
							PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("privacy.seal_pause_for_tests",
							"For the extension's crash tests only: how long the sealer's worker waits after sealing a batch before it commits.",
							NULL, &seal_pause_for_tests_ms, 0, 0, 3600 * 1000,
							PGC_SIGHUP, GUC_UNIT_MS | GUC_NOT_IN_SAMPLE | GUC_NO_SHOW_ALL,
							NULL, NULL, NULL);

	if (!process_shared_preload_libraries_in_progress)
		return;
	privacy_sealer_preloaded = true;

	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = sealer_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = sealer_shmem_startup;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = 10;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "opendims_privacy");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "privacy_sealer_launcher_main");
	snprintf(worker.bgw_name, BGW_MAXLEN, "opendims_privacy sealer launcher");
	snprintf(worker.bgw_type, BGW_MAXLEN, "opendims_privacy sealer launcher");
	RegisterBackgroundWorker(&worker);
}
