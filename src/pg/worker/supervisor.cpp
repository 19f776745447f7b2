// The supervisor: one background worker (started when the library is preloaded), connected to no database, that
// starts a launcher (launcher.cpp) in each database the launchers serve and that has the extension.
//
// It looks at the databases at its start, one at a time (a launcher started in a database without the extension
// says so and exits), then sleeps until a request wakes it: CREATE EXTENSION and ALTER EXTENSION UPDATE in a
// database without a launcher (their script calls bulk_ingest._catalog_changed()), or a launcher that exits. A
// launcher that exits for another reason (an error) is started again, at most every kRestartMs.
#include "pg/worker/supervisor.h"

#include "pg/guard.h"
#include "pg/worker/launcher_registry.h"
#include "pg/settings.h"

extern "C" {
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/pg_database.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
#include "utils/varlena.h"

PGDLLEXPORT void bulk_ingest_supervisor_main(Datum main_arg);
}

static const long kRestartMs = 10000;  // the least time between two starts of a database's launcher
static const long kPollMs = 200;       // while a database is being looked at
static const long kIdleMs = 300000;    // a safety net: look at the databases again at least this often

void RegisterSupervisor(void) {
    BackgroundWorker worker;
    memset(&worker, 0, sizeof(worker));
    if (bulk_ingest_database_name != NULL && bulk_ingest_database_name[0] != '\0' &&
        (bulk_ingest_databases == NULL || strcmp(bulk_ingest_databases, "*") == 0)) {
        // The one database of bulk_ingest.database_name, as in 0.1: its launcher alone, no supervisor (one worker
        // slot, not two).
        worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
        worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
        worker.bgw_restart_time = 10;
        strlcpy(worker.bgw_library_name, "pg_bulk_ingest", BGW_MAXLEN);
        strlcpy(worker.bgw_function_name, "bulk_ingest_launcher_main", BGW_MAXLEN);
        strlcpy(worker.bgw_name, "pg_bulk_ingest launcher", BGW_MAXLEN);
        strlcpy(worker.bgw_type, "pg_bulk_ingest launcher", BGW_MAXLEN);
        worker.bgw_main_arg = ObjectIdGetDatum(InvalidOid);
        RegisterBackgroundWorker(&worker);
        return;
    }
    worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
    worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
    worker.bgw_restart_time = 10;
    strlcpy(worker.bgw_library_name, "pg_bulk_ingest", BGW_MAXLEN);
    strlcpy(worker.bgw_function_name, "bulk_ingest_supervisor_main", BGW_MAXLEN);
    strlcpy(worker.bgw_name, "pg_bulk_ingest supervisor", BGW_MAXLEN);
    strlcpy(worker.bgw_type, "pg_bulk_ingest supervisor", BGW_MAXLEN);
    RegisterBackgroundWorker(&worker);
}

bool DatabaseIsServed(const char *dbname) {
    const char *databases = bulk_ingest_databases != NULL ? bulk_ingest_databases : "*";
    if (strcmp(databases, "*") == 0) {
        // The setting of 0.1, still honoured: one database.
        if (bulk_ingest_database_name != NULL && bulk_ingest_database_name[0] != '\0') {
            return strcmp(dbname, bulk_ingest_database_name) == 0;
        }
        return true;
    }
    char *copy = pstrdup(databases);
    List *names = NIL;
    bool served = false;
    if (SplitGUCList(copy, ',', &names)) {
        ListCell *cell;
        foreach (cell, names) {
            served = served || strcmp((const char *)lfirst(cell), dbname) == 0;
        }
    }
    list_free(names);
    pfree(copy);
    return served;
}

const char *ServedDatabasesSetting(void) {
    if ((bulk_ingest_databases == NULL || strcmp(bulk_ingest_databases, "*") == 0) &&
        bulk_ingest_database_name != NULL && bulk_ingest_database_name[0] != '\0') {
        return psprintf("bulk_ingest.database_name = '%s'", bulk_ingest_database_name);
    }
    return psprintf("bulk_ingest.databases = '%s'", bulk_ingest_databases ? bulk_ingest_databases : "*");
}

// A database the supervisor knows of.
typedef struct Known {
    Oid database;
    BackgroundWorkerHandle *handle;  // its launcher as started by this supervisor (NULL: none)
    TimestampTz last_start;
    bool crashed;  // its launcher exited without saying why (an error): started again after kRestartMs
    bool seen;     // still in pg_database (and served)
} Known;

static Known *known = NULL;
static int nknown = 0;
static int maxknown = 0;

static Known *KnownDatabase(Oid database) {
    for (int i = 0; i < nknown; i++) {
        if (known[i].database == database) {
            return &known[i];
        }
    }
    if (nknown == maxknown) {
        maxknown = Max(16, maxknown * 2);
        known = known == NULL ? (Known *)MemoryContextAllocZero(TopMemoryContext, sizeof(Known) * maxknown)
                              : (Known *)repalloc(known, sizeof(Known) * maxknown);
    }
    memset(&known[nknown], 0, sizeof(Known));
    known[nknown].database = database;
    return &known[nknown++];
}

// Marks the served databases that allow connections as seen.
static void ListDatabases(void) {
    for (int i = 0; i < nknown; i++) {
        known[i].seen = false;
    }
    SetCurrentStatementStartTimestamp();
    StartTransactionCommand();
    PushActiveSnapshot(GetTransactionSnapshot());
    Relation rel = table_open(DatabaseRelationId, AccessShareLock);
    TableScanDesc scan = table_beginscan_catalog(rel, 0, NULL);
    HeapTuple tuple;
    while ((tuple = heap_getnext(scan, ForwardScanDirection)) != NULL) {
        Form_pg_database form = (Form_pg_database)GETSTRUCT(tuple);
        if (!form->datallowconn || form->datistemplate || !DatabaseIsServed(NameStr(form->datname))) {
            continue;
        }
        KnownDatabase(form->oid)->seen = true;
    }
    table_endscan(scan);
    table_close(rel, AccessShareLock);
    PopActiveSnapshot();
    CommitTransactionCommand();
}

static bool StillSeen(Oid database, void *arg) {
    for (int i = 0; i < nknown; i++) {
        if (known[i].database == database) {
            return known[i].seen;
        }
    }
    return false;
}

static bool StartLauncherOf(Known *db) {
    BackgroundWorker worker;
    memset(&worker, 0, sizeof(worker));
    worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
    worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
    worker.bgw_restart_time = BGW_NEVER_RESTART;
    strlcpy(worker.bgw_library_name, "pg_bulk_ingest", BGW_MAXLEN);
    strlcpy(worker.bgw_function_name, "bulk_ingest_launcher_main", BGW_MAXLEN);
    snprintf(worker.bgw_name, BGW_MAXLEN, "pg_bulk_ingest launcher of database %u", db->database);
    strlcpy(worker.bgw_type, "pg_bulk_ingest launcher", BGW_MAXLEN);
    worker.bgw_main_arg = ObjectIdGetDatum(db->database);
    worker.bgw_notify_pid = MyProcPid;
    MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);
    BackgroundWorkerHandle *handle;
    bool registered = RegisterDynamicBackgroundWorker(&worker, &handle);
    MemoryContextSwitchTo(old);
    if (!registered) {
        return false;
    }
    db->handle = handle;
    db->last_start = GetCurrentTimestamp();
    SetLauncherState(db->database, LAUNCHER_STARTING, 0);
    return true;
}

// One pass; returns how long to sleep (-1: until woken).
static long SupervisorTick(void) {
    ListDatabases();
    ForgetLaunchersExcept(StillSeen, NULL);
    bool probing = false;
    // Launchers that exited: a database whose launcher left without saying why is looked at again.
    for (int i = 0; i < nknown; i++) {
        Known *db = &known[i];
        if (db->handle == NULL) {
            continue;
        }
        pid_t pid;
        if (GetBackgroundWorkerPid(db->handle, &pid) == BGWH_STOPPED) {
            pfree(db->handle);
            db->handle = NULL;
            LauncherState state = LauncherStateOf(db->database, NULL);
            db->crashed = state == LAUNCHER_STARTING || state == LAUNCHER_RUNNING;
            if (db->crashed) {
                SetLauncherState(db->database, LAUNCHER_UNKNOWN, 0);
            }
        } else if (LauncherStateOf(db->database, NULL) == LAUNCHER_STARTING) {
            probing = true;
        }
    }
    long sleep_ms = kIdleMs;
    TimestampTz now = GetCurrentTimestamp();
    for (int i = 0; i < nknown; i++) {
        Known *db = &known[i];
        if (!db->seen || db->handle != NULL || LauncherStateOf(db->database, NULL) != LAUNCHER_UNKNOWN) {
            continue;
        }
        long since_ms = !db->crashed ? kRestartMs : (long)((now - db->last_start) / 1000);
        if (probing || since_ms < kRestartMs) {
            sleep_ms = Min(sleep_ms, probing ? kPollMs : kRestartMs - since_ms);
            continue;
        }
        if (!StartLauncherOf(db)) {
            sleep_ms = Min(sleep_ms, kRestartMs);  // no free worker slot: later
            continue;
        }
        probing = true;
        sleep_ms = Min(sleep_ms, kPollMs);
    }
    if (probing) {
        sleep_ms = Min(sleep_ms, kPollMs);
    }
    return sleep_ms;
}

static void SupervisorMain(void) {
    pqsignal(SIGHUP, SignalHandlerForConfigReload);
    pqsignal(SIGTERM, SignalHandlerForShutdownRequest);
    BackgroundWorkerUnblockSignals();
    BackgroundWorkerInitializeConnection(NULL, NULL, 0);  // shared catalogs only: pg_database
    pgstat_report_appname("pg_bulk_ingest supervisor");
    SetSupervisorPid(MyProcPid);
    ereport(LOG, (errmsg("pg_bulk_ingest supervisor started (%s)", ServedDatabasesSetting())));
    while (!ShutdownRequestPending) {
        if (ConfigReloadPending) {
            ConfigReloadPending = false;
            ProcessConfigFile(PGC_SIGHUP);
        }
        long sleep_ms = SupervisorTick();
        (void)WaitLatch(MyLatch, WL_LATCH_SET | WL_EXIT_ON_PM_DEATH | WL_TIMEOUT, sleep_ms, PG_WAIT_EXTENSION);
        ResetLatch(MyLatch);
        CHECK_FOR_INTERRUPTS();
    }
    SetSupervisorPid(0);
    proc_exit(0);
}

void bulk_ingest_supervisor_main(Datum main_arg) {
    pg_bulk_ingest::CoreFailure failure;
    if (!pg_bulk_ingest::TryCore([&] { SupervisorMain(); }, &failure)) {
        pg_bulk_ingest::RaiseCoreFailure(&failure, "pg_bulk_ingest supervisor: ");
    }
}
