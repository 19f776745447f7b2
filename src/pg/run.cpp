// bulk_ingest_run(): runs a source now, in a background worker, and waits for it.
//
// Each batch commits on its own, so a run cannot live inside the caller's transaction: a dynamic background worker,
// connected as the source's owner, does the run while the caller waits, prints progress, and cancels the worker if
// it is cancelled itself.
#include "pg/pg_prelude.h"

#include "pg/catalog.h"
#include "pg/guard.h"
#include "pg/run_slot.h"
#include "pg/watermark_value.h"
#include "pg/worker.h"

extern "C" {
#include "access/htup_details.h"
#include "access/xlog.h"
#include "catalog/pg_authid.h"
#include "funcapi.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "storage/dsm.h"
#include "storage/latch.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
#include "utils/wait_event.h"
}

static const int kProgressIntervalMs = 5000;

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

// Waits until the worker has exited, reporting progress every few seconds. Interrupts (a cancel) are processed
// here; the caller terminates the worker when this raises an error.
static void WaitForRun(BackgroundWorkerHandle *handle, const RunSlot *slot) {
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
        (void)WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, 1000, PG_WAIT_EXTENSION);
        ResetLatch(MyLatch);
        CHECK_FOR_INTERRUPTS();
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
        // Cancelling the caller cancels the run: the worker rolls back its batch and records the run.
        TerminateBackgroundWorker(handle);
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
