// bulk_ingest_run(): runs a source now, in a background worker, and waits for it.
//
// Each batch commits on its own, so a run cannot live inside the caller's transaction: a dynamic background worker,
// connected as the source's owner, does the run while the caller waits, prints progress, and cancels the worker if
// it is cancelled itself.
#include "pg/pg_prelude.h"

#include "pg/catalog/catalog.h"
#include "pg/guard.h"
#include "pg/worker/run_slot.h"
#include "pg/load/watermark_value.h"
#include "pg/worker/worker.h"

extern "C" {
#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "access/xlog.h"
#include "catalog/pg_authid.h"
#include "funcapi.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "storage/dsm.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "storage/procarray.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
#include "utils/wait_event.h"
}

static const int kProgressIntervalMs = 5000;
// How often the caller looks at what its worker waits for. Reading the worker's wait event is a load from shared
// memory; the lock graph is only walked while the worker waits for a lock. Often, because a swap waits for its lock
// in short attempts (bulk_ingest.lock_timeout) between pauses of up to a second: a wait on the caller is seen only
// by a look that falls inside an attempt.
static const long kWatchIntervalMs = 20;
// The most processes walked through when looking for the caller among the worker's blockers.
static const int kMaxBlockersWalked = 64;
// How long a caller waits for the worker it stopped to record the run and exit.
static const long kStopWaitMs = 10000;

void CheckOwnerCanConnect(const SourceRow *row) {
    HeapTuple tuple = SearchSysCache1(AUTHOID, ObjectIdGetDatum(row->owner));
    if (!HeapTupleIsValid(tuple)) {
        ereport(ERROR, (errmsg("the owner of source \"%s\" no longer exists", row->source)));
    }
    bool can_login = ((Form_pg_authid)GETSTRUCT(tuple))->rolcanlogin;
    char *name = pstrdup(NameStr(((Form_pg_authid)GETSTRUCT(tuple))->rolname));
    ReleaseSysCache(tuple);
    if (!can_login) {
        ereport(ERROR, (errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
                        errmsg("source \"%s\" cannot run: its owner, role \"%s\", cannot log in", row->source, name),
                        errdetail("A run connects as the owner of the source."),
                        errhint("ALTER ROLE %s LOGIN, or re-create the source as a role that can log in.",
                                quote_identifier(name))));
    }
}

static BackgroundWorkerHandle *StartRunWorker(const char *source, dsm_segment *segment) {
    char name[BGW_MAXLEN];
    snprintf(name, sizeof(name), "pg_bulk_ingest run of source \"%s\"", source);
    BackgroundWorker worker;
    DescribeRunWorker(&worker, "bulk_ingest_worker_main", name, UInt32GetDatum(dsm_segment_handle(segment)));

    BackgroundWorkerHandle *handle;
    if (!RegisterDynamicBackgroundWorker(&worker, &handle)) {
        ereport(ERROR,
                (errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
                 errmsg("could not start a background worker for source \"%s\"", source),
                 errdetail("All background worker slots (max_worker_processes = %d) are in use.", max_worker_processes),
                 errhint("Raise max_worker_processes, or run fewer sources at once.")));
    }
    return handle;
}

static void ReportProgress(const RunSlot *slot, TimestampTz started) {
    long secs;
    int usecs;
    TimestampDifference(started, GetCurrentTimestamp(), &secs, &usecs);
    double elapsed = secs + usecs / 1e6;
    uint64 rows = pg_atomic_read_u64((pg_atomic_uint64 *)&slot->rows);
    ereport(NOTICE, (errmsg("source \"%s\", run " INT64_FORMAT ": " UINT64_FORMAT " batches, " UINT64_FORMAT
                            " rows, " UINT64_FORMAT " bytes committed (%.0f rows/s)",
                            slot->source, slot->run_id, pg_atomic_read_u64((pg_atomic_uint64 *)&slot->batches), rows,
                            pg_atomic_read_u64((pg_atomic_uint64 *)&slot->bytes), elapsed > 0 ? rows / elapsed : 0.0)));
}

// Stops the run's worker and waits (at most kStopWaitMs) until it has exited, so that when the caller returns the run
// is over: its batch in flight rolled back and the run recorded. Interrupts are held: this runs on the way out of an
// error (a cancel) too.
static void StopWorkerAndWait(BackgroundWorkerHandle *handle) {
    TerminateBackgroundWorker(handle);
    HOLD_INTERRUPTS();
    TimestampTz deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), kStopWaitMs);
    pid_t running;
    while (GetBackgroundWorkerPid(handle, &running) != BGWH_STOPPED && GetCurrentTimestamp() < deadline) {
        (void)WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, 10, PG_WAIT_EXTENSION);
        ResetLatch(MyLatch);
    }
    RESUME_INTERRUPTS();
}

// The process through which the worker (pid) waits for this session, or 0 when it does not: the worker waits for a
// lock, and this session is among its blockers or theirs (pg_blocking_pids, walked breadth first). Such a wait never
// ends by itself: this session waits for the worker on a latch, which PostgreSQL's deadlock detector cannot see.
static int WaitsForThisSession(int pid, uint32 *wait_event_info) {
    PGPROC *proc = BackendPidGetProc(pid);
    if (proc == NULL) {
        return 0;
    }
    uint32 event = *((volatile uint32 *)&proc->wait_event_info);
    if ((event & 0xFF000000) != PG_WAIT_LOCK) {
        return 0;
    }
    *wait_event_info = event;
    int walked[kMaxBlockersWalked];
    int nwalked = 0;
    walked[nwalked++] = pid;
    for (int next = 0; next < nwalked; next++) {
        ArrayType *blockers = DatumGetArrayTypeP(DirectFunctionCall1(pg_blocking_pids, Int32GetDatum(walked[next])));
        Datum *elems;
        bool *nulls;
        int n;
        deconstruct_array(blockers, INT4OID, sizeof(int32), true, TYPALIGN_INT, &elems, &nulls, &n);
        for (int i = 0; i < n; i++) {
            int blocker = DatumGetInt32(elems[i]);
            if (blocker == MyProcPid) {
                return walked[next];
            }
            bool seen = false;
            for (int k = 0; k < nwalked && !seen; k++) {
                seen = walked[k] == blocker;
            }
            if (!seen && nwalked < kMaxBlockersWalked) {
                walked[nwalked++] = blocker;
            }
        }
    }
    return 0;
}

// Fails the call when the run's worker waits for a lock this session holds (see WaitsForThisSession). The worker is
// stopped first, and waited for while this session still holds its locks: released earlier, they would let the
// worker's wait end and its batch commit before the signal arrives. It records the run as failed with the reason.
static void CheckNotWaitingForCaller(BackgroundWorkerHandle *handle, int pid, RunSlot *slot) {
    uint32 event = 0;
    int through = WaitsForThisSession(pid, &event);
    if (through == 0) {
        return;
    }
    char via[64] = "";
    if (through != pid) {
        snprintf(via, sizeof(via), " (through process %d)", through);
    }
    const char *lock = pgstat_get_wait_event(event);
    snprintf(slot->abort_reason, sizeof(slot->abort_reason),
             "the run waited for a lock (%s) held by the transaction that called bulk_ingest_run, which waited for "
             "the run; it was stopped. Call bulk_ingest_run outside that transaction, or commit its changes first",
             lock ? lock : "?");
    pg_write_barrier();
    StopWorkerAndWait(handle);
    ereport(ERROR, (errcode(ERRCODE_T_R_DEADLOCK_DETECTED),
                    errmsg("the run of source \"%s\" waits for a lock held by this transaction, so it can never "
                           "finish",
                           slot->source),
                    errdetail("The run's worker (process %d) waits for a lock (%s) that this session (process %d) "
                              "holds%s, while this session waits for the run. The run was stopped.",
                              pid, lock ? lock : "?", MyProcPid, via),
                    errhint("Call bulk_ingest_run outside a transaction block, or commit what this transaction "
                            "changed in the source's target first: each batch of a run commits on its own.")));
}

// Waits until the worker has exited, reporting progress every few seconds. Interrupts (a cancel) are processed
// here; the caller terminates the worker when this raises an error.
static void WaitForRun(BackgroundWorkerHandle *handle, RunSlot *slot) {
    pid_t pid;
    if (WaitForBackgroundWorkerStartup(handle, &pid) == BGWH_POSTMASTER_DIED) {
        ereport(ERROR, (errmsg("the postmaster died while starting the run of source \"%s\"", slot->source)));
    }
    TimestampTz started = GetCurrentTimestamp();
    TimestampTz last_report = started;
    for (;;) {
        if (GetBackgroundWorkerPid(handle, &pid) == BGWH_STOPPED) {
            return;
        }
        (void)WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, kWatchIntervalMs, PG_WAIT_EXTENSION);
        ResetLatch(MyLatch);
        CHECK_FOR_INTERRUPTS();
        CheckNotWaitingForCaller(handle, (int)pid, slot);
        if (TimestampDifferenceExceeds(last_report, GetCurrentTimestamp(), kProgressIntervalMs)) {
            ReportProgress(slot, started);
            last_report = GetCurrentTimestamp();
        }
    }
}

BULK_INGEST_FUNCTION(bulk_ingest_run) {
    char *source = text_to_cstring(PG_GETARG_TEXT_PP(0));
    char *high_watermark = text_to_cstring(PG_GETARG_TEXT_PP(1));
    if (RecoveryInProgress()) {
        ereport(ERROR, (errcode(ERRCODE_READ_ONLY_SQL_TRANSACTION),
                        errmsg("source \"%s\" cannot run during recovery (this server is a standby)", source)));
    }
    SourceRow *row = LoadSource(source, false);
    CheckSourceOwnership(row, "run");
    CheckOwnerCanConnect(row);

    Oid result_type;
    TupleDesc result_desc;
    if (get_call_result_type(fcinfo, &result_type, &result_desc) != TYPEFUNC_COMPOSITE) {
        elog(ERROR, "bulk_ingest_run must return a composite type");
    }

    dsm_segment *segment = dsm_create(sizeof(RunSlot), 0);
    RunSlot *slot = (RunSlot *)dsm_segment_address(segment);
    memset(slot, 0, sizeof(RunSlot));
    slot->magic = RUN_SLOT_MAGIC;
    slot->database = MyDatabaseId;
    slot->owner = row->owner;
    if (strlen(row->source) >= sizeof(slot->source) || strlen(high_watermark) >= sizeof(slot->high_watermark)) {
        ereport(ERROR, (errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
                        errmsg("source name or high watermark of source \"%s\" is too long", source)));
    }
    strlcpy(slot->source, row->source, sizeof(slot->source));
    strlcpy(slot->high_watermark, high_watermark, sizeof(slot->high_watermark));
    pg_atomic_init_u64(&slot->batches, 0);
    pg_atomic_init_u64(&slot->rows, 0);
    pg_atomic_init_u64(&slot->bytes, 0);

    BackgroundWorkerHandle *handle = StartRunWorker(row->source, segment);
    PG_TRY();
    { WaitForRun(handle, slot); }
    PG_CATCH();
    {
        // Cancelling the caller cancels the run: the worker rolls back its batch and records the run, before the
        // caller returns (the postmaster passes the signal on, so the worker could otherwise commit a batch more).
        StopWorkerAndWait(handle);
        PG_RE_THROW();
    }
    PG_END_TRY();

    pg_memory_barrier();
    if (!slot->finished) {
        ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR),
                        errmsg("the worker running source \"%s\" exited without reporting an outcome", source),
                        errhint("See the server log and bulk_ingest.runs.")));
    }
    if (!slot->succeeded) {
        if (slot->run_id != 0) {
            ereport(ERROR,
                    (errcode(ERRCODE_EXTERNAL_ROUTINE_EXCEPTION),
                     errmsg("run " INT64_FORMAT " of source \"%s\" failed: %s", slot->run_id, source, slot->error),
                     errhint("The run is recorded in bulk_ingest.runs; the watermark is that of the last "
                             "committed batch.")));
        }
        ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE), errmsg("%s", slot->error)));
    }
    Datum result = OidInputFunctionCall(F_RECORD_IN, pstrdup(slot->run_row), result_type, -1);
    dsm_detach(segment);
    NoticeIfStoppedAtMaxPages(result);
    PG_RETURN_DATUM(result);
}
