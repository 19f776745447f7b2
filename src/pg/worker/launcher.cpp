#include "pg/worker/launcher.h"

#include "pg/catalog/catalog_version.h"
#include "pg/guard.h"
#include "pg/worker/launcher_registry.h"
#include "pg/worker/supervisor.h"
#include "pg/rights.h"
#include "pg/worker/run_slot.h"
#include "pg/settings.h"
#include "pg/worker/shared_state.h"
#include "pg/worker/source_lock.h"
#include "pg/worker/worker.h"

extern "C" {
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "tcop/tcopprot.h"
#include "commands/dbcommands.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

PGDLLEXPORT void bulk_ingest_launcher_main(Datum main_arg);
}

// How long to wait before retrying when no background worker slot was free.
static const long kRetryMs = 1000;
// The launcher's database, and its name for messages.
static Oid launcher_database = InvalidOid;
static char *launcher_database_name = NULL;
// Set when the extension is not created in the database: the launcher leaves (the supervisor starts one again when
// CREATE EXTENSION commits), or waits for it when it is the one launcher of bulk_ingest.database_name.
static bool extension_missing = false;
// How long the launcher of bulk_ingest.database_name sleeps while the extension is not created (CREATE EXTENSION
// wakes it before).
static const long kNoExtensionMs = 60000;

// The workers this launcher started and has not seen exit.
typedef struct Launched {
    int64 run_id;
    BackgroundWorkerHandle *handle;
} Launched;

static Launched *launched = NULL;
static int nlaunched = 0;
static int maxlaunched = 0;

static int64 SpiInt64(int row, int col) {
    bool isnull;
    Datum d = SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col, &isnull);
    return isnull ? 0 : DatumGetInt64(d);
}

static char *SpiText(int row, int col) {
    return SPI_getvalue(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col);
}

// Runs one of the launcher's catalog statements, with search_path pinned (rights.h).
static void Exec(const char *sql, int nargs, Oid *types, Datum *values, bool read_only) {
    int rc = 0;
    RunRestricted(GetUserId(), [&] { rc = SPI_execute_with_args(sql, nargs, types, values, NULL, read_only, 0); });
    if (rc < 0) {
        elog(ERROR, "pg_bulk_ingest launcher: statement failed (%s): %s", SPI_result_code_string(rc), sql);
    }
}

// Forgets workers that have exited; a run they never claimed is failed (its worker could not start it).
static void ReapWorkers(void) {
    for (int i = 0; i < nlaunched;) {
        pid_t pid;
        if (GetBackgroundWorkerPid(launched[i].handle, &pid) == BGWH_STOPPED) {
            Oid types[] = {INT8OID};
            Datum values[] = {Int64GetDatum(launched[i].run_id)};
            Exec(
                "UPDATE bulk_ingest.runs SET status = 'failed', finished_at = clock_timestamp(),"
                " error = 'the worker exited before starting the run (see the server log; the owner of the source "
                "must be able to log in)' WHERE id = $1 AND status = 'queued'",
                1, types, values, false);
            pfree(launched[i].handle);
            launched[i] = launched[--nlaunched];
        } else {
            i++;
        }
    }
}

// Runs left 'running' whose worker is gone (the server restarted, or a worker crashed) are failed, so that the
// history tells the truth and the source can run again.
static void FailStaleRunsAtStart(void) {
    Exec("SELECT DISTINCT source FROM bulk_ingest.runs WHERE status = 'running'", 0, NULL, NULL, true);
    int n = (int)SPI_processed;
    char **sources = (char **)palloc(sizeof(char *) * Max(n, 1));
    for (int i = 0; i < n; i++) {
        sources[i] = SpiText(i, 1);
    }
    for (int i = 0; i < n; i++) {
        if (!TryLockSource(sources[i])) {
            continue;  // a worker is running it right now
        }
        Oid types[] = {TEXTOID};
        Datum values[] = {CStringGetTextDatum(sources[i])};
        Exec(
            "UPDATE bulk_ingest.runs SET status = 'failed', finished_at = clock_timestamp(),"
            " error = 'the server restarted (or the run''s worker crashed) during the run; the batches it committed"
            " stay, the one in flight (if any) was rolled back' WHERE source = $1 AND status = 'running'",
            1, types, values, false);
        UnlockSource(sources[i]);
        ereport(LOG,
                (errmsg("pg_bulk_ingest launcher: marked the interrupted run of source \"%s\" as failed", sources[i])));
    }
}

static void PruneHistory(void) {
    if (bulk_ingest_history_retention <= 0) {
        return;
    }
    Oid types[] = {INT4OID};
    Datum values[] = {Int32GetDatum(bulk_ingest_history_retention)};
    Exec("DELETE FROM bulk_ingest.runs WHERE finished_at < now() - make_interval(secs => $1)", 1, types, values, false);
}

// Queues a run of every source whose schedule is due; a source whose previous run is still queued or running gets
// a 'skipped' run instead, so a slow source is not queued again and again. Ticks that find the same run in flight
// count on one skipped row (skip_count, from started_at to finished_at): 20 sources due every second with 2 workers
// would otherwise write about 20 rows a second.
static void QueueDueSources(void) {
    Exec(
        "SELECT source FROM bulk_ingest.sources WHERE schedule IS NOT NULL AND next_run_at <= now()"
        " ORDER BY next_run_at",
        0, NULL, NULL, true);
    int n = (int)SPI_processed;
    char **sources = (char **)palloc(sizeof(char *) * Max(n, 1));
    for (int i = 0; i < n; i++) {
        sources[i] = SpiText(i, 1);
    }
    for (int i = 0; i < n; i++) {
        Oid types[] = {TEXTOID};
        Datum values[] = {CStringGetTextDatum(sources[i])};
        Exec(
            "INSERT INTO bulk_ingest.runs (source, status, \"trigger\", owner)"
            " VALUES ($1, 'queued', 'schedule', (SELECT owner FROM bulk_ingest.sources WHERE source = $1))"
            " ON CONFLICT (source) WHERE status IN ('queued', 'running') DO NOTHING",
            1, types, values, false);
        if (SPI_processed == 0) {
            // The newest row of the source is a skipped row only while the run it found in flight still is: a
            // new run (queued, started or run directly) would be newer.
            Exec(
                "UPDATE bulk_ingest.runs SET skip_count = skip_count + 1, finished_at = clock_timestamp()"
                " WHERE id = (SELECT max(id) FROM bulk_ingest.runs WHERE source = $1) AND status = 'skipped'",
                1, types, values, false);
        }
        if (SPI_processed == 0) {
            Exec(
                "INSERT INTO bulk_ingest.runs (source, status, \"trigger\", finished_at, error, owner, skip_count)"
                " SELECT $1, 'skipped', 'schedule', clock_timestamp(),"
                "        format('skipped: run %s of the source was still %s', id, status), owner, 1"
                "   FROM bulk_ingest.runs WHERE source = $1 AND status IN ('queued', 'running')",
                1, types, values, false);
        }
        // The next tick keeps the schedule's phase when it can, and never lies in the past.
        Exec(
            "UPDATE bulk_ingest.sources SET next_run_at = CASE WHEN next_run_at + schedule > now()"
            " THEN next_run_at + schedule ELSE now() + schedule END WHERE source = $1",
            1, types, values, false);
    }
}

static bool AlreadyLaunched(int64 run_id) {
    for (int i = 0; i < nlaunched; i++) {
        if (launched[i].run_id == run_id) {
            return true;
        }
    }
    return false;
}

// Starts workers for queued runs, oldest first, up to max_workers at once. Returns false when it had to stop for
// lack of a free background worker slot.
static bool LaunchQueuedRuns(void) {
    // A queued run of a source that was unregistered meanwhile can never run.
    Exec(
        "UPDATE bulk_ingest.runs r SET status = 'failed', finished_at = clock_timestamp(),"
        " error = 'the source was unregistered before the run started'"
        " WHERE status = 'queued' AND NOT EXISTS (SELECT FROM bulk_ingest.sources s WHERE s.source = r.source)",
        0, NULL, NULL, false);
    if (nlaunched >= bulk_ingest_max_workers) {
        return true;
    }
    Exec(
        "SELECT r.id, s.owner::oid::int8 FROM bulk_ingest.runs r JOIN bulk_ingest.sources s USING (source)"
        " WHERE r.status = 'queued' ORDER BY r.id",
        0, NULL, NULL, true);
    for (uint64 i = 0; i < SPI_processed && nlaunched < bulk_ingest_max_workers; i++) {
        int64 run_id = SpiInt64((int)i, 1);
        if (AlreadyLaunched(run_id)) {
            continue;
        }
        char name[BGW_MAXLEN];
        snprintf(name, sizeof(name), "pg_bulk_ingest run " INT64_FORMAT, run_id);
        BackgroundWorker worker;
        DescribeRunWorker(&worker, "bulk_ingest_queued_run_main", name, Int64GetDatum(run_id));
        QueuedRunTarget target = {MyDatabaseId, (Oid)SpiInt64((int)i, 2)};
        memcpy(worker.bgw_extra, &target, sizeof(target));
        // The handle must outlive this transaction: allocate it (RegisterDynamicBackgroundWorker pallocs it) in
        // the launcher's top memory context.
        BackgroundWorkerHandle *handle;
        MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);
        bool registered = RegisterDynamicBackgroundWorker(&worker, &handle);
        MemoryContextSwitchTo(old);
        if (!registered) {
            ereport(LOG, (errmsg("pg_bulk_ingest launcher: no free background worker slot for run " INT64_FORMAT
                                 "; retrying (raise max_worker_processes)",
                                 run_id)));
            return false;
        }
        if (nlaunched == maxlaunched) {
            maxlaunched = Max(8, maxlaunched * 2);
            launched = launched == NULL
                           ? (Launched *)MemoryContextAlloc(TopMemoryContext, sizeof(Launched) * maxlaunched)
                           : (Launched *)repalloc(launched, sizeof(Launched) * maxlaunched);
        }
        launched[nlaunched].run_id = run_id;
        launched[nlaunched].handle = handle;
        nlaunched++;
    }
    return true;
}

// Milliseconds until something is due: the next scheduled source or the next run to prune; -1 for never.
static long MillisecondsUntilDue(void) {
    Oid types[] = {INT4OID};
    Datum values[] = {Int32GetDatum(bulk_ingest_history_retention)};
    Exec(
        "SELECT ceil(extract(epoch FROM least("
        "   (SELECT min(next_run_at) FROM bulk_ingest.sources WHERE schedule IS NOT NULL),"
        "   (SELECT min(finished_at) + make_interval(secs => $1) FROM bulk_ingest.runs WHERE $1 > 0))"
        " - now()) * 1000)::int8",
        1, types, values, true);
    bool isnull;
    Datum d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
    if (isnull) {
        return -1;
    }
    return (long)Max(DatumGetInt64(d), 0);
}

// Whether the extension is created in the launcher's database at the library's version. A catalog of another
// version (the library was upgraded, ALTER EXTENSION pg_bulk_ingest UPDATE not run yet) is left alone: the launcher
// says so once and waits; the update's script wakes it (bulk_ingest._catalog_changed()).
static bool CatalogIsUsable(void) {
    static char *reported_version = NULL;
    char *version = InstalledExtensionVersion();
    extension_missing = version == NULL;
    if (version == NULL || strcmp(version, BULK_INGEST_VERSION) == 0) {
        return version != NULL;
    }
    if (reported_version == NULL || strcmp(reported_version, version) != 0) {
        ereport(LOG, (errmsg("pg_bulk_ingest launcher: the extension in database \"%s\" is version %s, the library "
                             "is version %s: no source runs until ALTER EXTENSION pg_bulk_ingest UPDATE",
                             launcher_database_name, version, BULK_INGEST_VERSION)));
        if (reported_version != NULL) {
            pfree(reported_version);
        }
        reported_version = MemoryContextStrdup(TopMemoryContext, version);
    }
    return false;
}

// One pass of the launcher, in one transaction. Returns how long it may sleep (-1: until woken).
static long LauncherTick(bool *recovered) {
    SetCurrentStatementStartTimestamp();
    StartTransactionCommand();
    PushActiveSnapshot(GetTransactionSnapshot());
    pgstat_report_activity(STATE_RUNNING, "pg_bulk_ingest launcher: checking sources");
    long sleep_ms = -1;  // a catalog of another version: until the update wakes it
    if (CatalogIsUsable()) {
        SPI_connect();
        ReapWorkers();
        if (!*recovered) {
            FailStaleRunsAtStart();
            *recovered = true;
        }
        PruneHistory();
        QueueDueSources();
        bool all_started = LaunchQueuedRuns();
        sleep_ms = MillisecondsUntilDue();
        if (!all_started && (sleep_ms < 0 || sleep_ms > kRetryMs)) {
            sleep_ms = kRetryMs;
        }
        SPI_finish();
    }
    PopActiveSnapshot();
    CommitTransactionCommand();
    pgstat_report_stat(false);
    pgstat_report_activity(STATE_IDLE, NULL);
    return sleep_ms;
}

// Says why the launcher leaves, so that the supervisor knows whether to start it again.
static void LeaveRegistry(int code, Datum arg) {
    LauncherState state = LAUNCHER_UNKNOWN;  // a shutdown, or the database is no longer served
    if (code != 0) {
        // An error: the entry stays as it was (running, or starting), which tells the supervisor that it failed;
        // it starts the launcher again after a while.
        state = LauncherStateOf(launcher_database, NULL);
    } else if (LauncherMustLeave(launcher_database)) {
        state = LAUNCHER_LEAVING;
    } else if (extension_missing) {
        state = LAUNCHER_ABSENT;
    }
    SetLauncherState(launcher_database, state, 0);
    int supervisor = SupervisorPid();
    if (supervisor != 0) {
        kill(supervisor, SIGUSR1);
    }
}

// A launcher serves one database (the main argument), started by the supervisor: it runs the database's due
// schedules and queued runs while the extension is created there, and leaves when it is not.
static void LauncherMain(Datum main_arg) {
    pqsignal(SIGHUP, SignalHandlerForConfigReload);
    pqsignal(SIGTERM, SignalHandlerForShutdownRequest);
    BackgroundWorkerUnblockSignals();
    // No database in the argument: the one database of bulk_ingest.database_name, served as 0.1 served it (a static
    // worker, no supervisor); it waits for the extension rather than leave.
    bool single = !OidIsValid(DatumGetObjectId(main_arg));
    launcher_database = DatumGetObjectId(main_arg);
    before_shmem_exit(LeaveRegistry, (Datum)0);
    if (single) {
        BackgroundWorkerInitializeConnection(bulk_ingest_database_name, NULL, 0);
        launcher_database = MyDatabaseId;
    } else {
        BackgroundWorkerInitializeConnectionByOid(launcher_database, InvalidOid, 0);
    }
    UseSafeSearchPathForSession();
    pgstat_report_appname("pg_bulk_ingest launcher");
    StartTransactionCommand();
    launcher_database_name = MemoryContextStrdup(TopMemoryContext, get_database_name(MyDatabaseId));
    CommitTransactionCommand();
    if (single) {
        SetLauncherState(launcher_database, LAUNCHER_RUNNING, MyProcPid);  // requests wake it from the start
        ereport(LOG, (errmsg("pg_bulk_ingest launcher started for database \"%s\"", launcher_database_name)));
    }

    bool recovered = false;
    bool announced = single;
    while (!ShutdownRequestPending) {
        if (ConfigReloadPending) {
            ConfigReloadPending = false;
            ProcessConfigFile(PGC_SIGHUP);
            if (!single && !DatabaseIsServed(launcher_database_name)) {
                ereport(LOG, (errmsg("pg_bulk_ingest launcher: database \"%s\" is no longer served (%s), so its "
                                     "launcher stops",
                                     launcher_database_name, ServedDatabasesSetting())));
                break;
            }
        }
        long sleep_ms = LauncherTick(&recovered);
        if (extension_missing && !single) {
            break;  // nothing to serve here
        }
        if (extension_missing) {
            sleep_ms = kNoExtensionMs;  // until CREATE EXTENSION wakes it (its script does)
        }
        if (!announced) {
            SetLauncherState(launcher_database, LAUNCHER_RUNNING, MyProcPid);
            ereport(LOG, (errmsg("pg_bulk_ingest launcher started for database \"%s\"", launcher_database_name)));
            announced = true;
            int supervisor = SupervisorPid();
            if (supervisor != 0) {
                kill(supervisor, SIGUSR1);  // it may look at the next database
            }
            if (TakeLauncherRecheck(launcher_database)) {
                continue;  // a request came while it was starting: look again at once
            }
        }
        int events = WL_LATCH_SET | WL_EXIT_ON_PM_DEATH | (sleep_ms >= 0 ? WL_TIMEOUT : 0);
        (void)WaitLatch(MyLatch, events, sleep_ms, PG_WAIT_EXTENSION);
        ResetLatch(MyLatch);
        CHECK_FOR_INTERRUPTS();
    }
    if (LauncherMustLeave(launcher_database)) {
        // Exit status 0: a static launcher is not started again (it would only fail to connect to the dropped
        // database); the supervisor forgets a dropped database.
        ereport(WARNING, (errmsg("pg_bulk_ingest launcher: database \"%s\" is being dropped, so the launcher stops",
                                 launcher_database_name)));
    } else if (extension_missing && announced) {
        ereport(LOG, (errmsg("pg_bulk_ingest launcher: the extension was dropped from database \"%s\", so its "
                             "launcher stops",
                             launcher_database_name)));
    }
    proc_exit(0);
}

void bulk_ingest_launcher_main(Datum main_arg) {
    pg_bulk_ingest::CoreFailure failure;
    if (!pg_bulk_ingest::TryCore([&] { LauncherMain(main_arg); }, &failure)) {
        pg_bulk_ingest::RaiseCoreFailure(&failure, "pg_bulk_ingest launcher: ");
    }
}
