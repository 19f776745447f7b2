// The background worker that performs one run of a source: fetch page after page, load each batch in its own
// transaction together with the run's counters and the watermark, and record the outcome.
#include "pg/pg_prelude.h"

#include <string>

#include "pg/catalog.h"
#include "pg/declaration.h"
#include "pg/guard.h"
#include "core/http_stream.h"
#include "pg/loader.h"
#include "core/ndjson_reader.h"
#include "pg/run_slot.h"
#include "pg/target.h"
#include "core/url.h"

extern "C" {
#include "access/xact.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "storage/dsm.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lmgr.h"
#include "storage/lock.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "common/hashfn.h"

PGDLLEXPORT void bulk_ingest_worker_main(Datum main_arg);
}

using pg_bulk_ingest::CallCore;
using pg_bulk_ingest::NewInMemoryContext;

static volatile sig_atomic_t got_sigterm = false;

// SIGTERM (bulk_ingest_run cancelled, pg_terminate_backend, shutdown) cancels the run like a query cancel, so the
// batch in flight is rolled back and the run is recorded as cancelled before the worker exits.
static void HandleSigterm(SIGNAL_ARGS) {
    int save_errno = errno;
    got_sigterm = true;
    if (!proc_exit_inprogress) {
        InterruptPending = true;
        QueryCancelPending = true;
    }
    SetLatch(MyLatch);
    errno = save_errno;
}

typedef struct RunState {
    RunSlot *slot;
    const SourceRow *row;
    const Declaration *decl;
    int64 run_id;
    int batch;             // the batch being loaded (1-based), 0 outside batches
    const char *page_url;  // the page being read
    BatchSource batch_source;
    WatermarkState watermark;
} RunState;

static bool ShouldAbortTransfer() {
    return InterruptPending && (QueryCancelPending || ProcDiePending);
}

static void BeginTransaction(const char *activity) {
    SetCurrentStatementStartTimestamp();
    StartTransactionCommand();
    PushActiveSnapshot(GetTransactionSnapshot());
    pgstat_report_activity(STATE_RUNNING, activity);
}

static void CommitTransaction() {
    PopActiveSnapshot();
    CommitTransactionCommand();
    pgstat_report_stat(false);
    pgstat_report_activity(STATE_IDLE, NULL);
}

// Loads every batch of one page (one HTTP response); returns the URL of the next page or NULL.
static char *IngestPage(RunState *run, const char *url, Oid relid, MemoryContext page_cxt) {
    MemoryContext run_cxt = MemoryContextSwitchTo(page_cxt);
    run->page_url = url;
    run->batch++;
    bulk_ingest::HttpStream *stream = NewInMemoryContext<bulk_ingest::HttpStream>([&] {
        bulk_ingest::HttpOptions options;
        options.should_abort = ShouldAbortTransfer;
        return new bulk_ingest::HttpStream(url, options);
    });
    CallCore([&] { stream->Start(); });
    const Declaration *decl = run->decl;
    std::vector<bool> *is_json = NewInMemoryContext<std::vector<bool>>(
        [&] { return new std::vector<bool>(decl->ncolumns, false); });
    for (int i = 0; i < decl->ncolumns; i++) {
        (*is_json)[i] = decl->columns[i].is_json;
    }
    bulk_ingest::RecordReader *reader = NewInMemoryContext<bulk_ingest::NdjsonReader>([&] {
        return new bulk_ingest::NdjsonReader(*stream, bulk_ingest::ToColumnSpecs(*decl->decls, *is_json));
    });
    BatchSource *source = &run->batch_source;
    source->reader = reader;
    source->row_buffer = NewInMemoryContext<std::string>([] { return new std::string(); });
    source->end_of_page = false;
    uint64 bytes_before = 0;
    MemoryContextSwitchTo(run_cxt);

    while (!source->end_of_page) {
        BeginTransaction("pg_bulk_ingest: loading a batch");
        int64 rows = LoadBatch(source, relid);
        if (rows > 0) {
            uint64 bytes_now = 0;
            CallCore([&] { bytes_now = reader->BytesConsumed(); });
            char *watermark = run->watermark.changed ? WatermarkText(&run->watermark) : NULL;
            RecordBatch(run->run_id, run->row->source, rows, (int64)(bytes_now - bytes_before), watermark);
            CommitTransaction();
            run->watermark.changed = false;
            pg_atomic_fetch_add_u64(&run->slot->batches, 1);
            pg_atomic_fetch_add_u64(&run->slot->rows, (uint64)rows);
            pg_atomic_fetch_add_u64(&run->slot->bytes, bytes_now - bytes_before);
            bytes_before = bytes_now;
            run->batch++;
        } else {
            CommitTransaction();
        }
    }
    run->batch--;  // the batch number taken for the next load was not used by this page

    char *next = NULL;
    std::string *next_url = NewInMemoryContext<std::string>([] { return new std::string(); });
    CallCore([&] {
        auto link = stream->NextPageUrl();
        if (link) {
            *next_url = *link;
        }
    });
    if (!next_url->empty()) {
        next = MemoryContextStrdup(run_cxt, next_url->c_str());
    }
    MemoryContextReset(page_cxt);  // ends the transfer
    return next;
}

static void IngestSource(RunState *run, const char *first_url) {
    BeginTransaction("pg_bulk_ingest: preparing the target");
    Oid relid = EnsureTarget(run->decl);
    CommitTransaction();

    MemoryContext page_cxt = AllocSetContextCreate(CurrentMemoryContext, "bulk_ingest page", ALLOCSET_DEFAULT_SIZES);
    run->batch_source.decl = run->decl;
    run->batch_source.max_rows = run->decl->options->batch_rows;
    run->batch_source.watermark = &run->watermark;
    char *url = pstrdup(first_url);
    while (url != NULL) {
        url = IngestPage(run, url, relid, page_cxt);
    }
    run->batch = 0;
    MemoryContextDelete(page_cxt);
}

// The message recorded for a failed run: where it failed (batch, URL, line, column), then what went wrong.
static char *DescribeFailure(const RunState *run, const ErrorData *edata) {
    StringInfoData message;
    initStringInfo(&message);
    if (got_sigterm) {
        appendStringInfoString(&message, "cancelled: the run's worker was asked to stop (bulk_ingest_run cancelled, "
                                         "pg_terminate_backend or server shutdown)");
        if (run->batch > 0) {
            appendStringInfo(&message, "; batch %d was rolled back", run->batch);
        }
        return message.data;
    }
    if (run->batch > 0) {
        appendStringInfo(&message, "batch %d (%s): ", run->batch, run->page_url);
        const BatchSource *source = &run->batch_source;
        if (source->error_line > 0 && strncmp(edata->message, "line ", 5) != 0) {
            appendStringInfo(&message, "line " UINT64_FORMAT, source->error_line);
            if (source->error_column != NULL) {
                appendStringInfo(&message, ", column \"%s\"", source->error_column);
            }
            appendStringInfoString(&message, ": ");
        }
    }
    appendStringInfoString(&message, edata->message);
    if (edata->detail != NULL) {
        appendStringInfo(&message, " (%s)", edata->detail);
    }
    return message.data;
}

static void ReportOutcome(RunState *run, bool succeeded, const char *error) {
    RunSlot *slot = run->slot;
    if (run->run_id != 0) {
        char *row_text = RunRowText(run->run_id);
        strlcpy(slot->run_row, row_text ? row_text : "", sizeof(slot->run_row));
    }
    strlcpy(slot->error, error ? error : "", sizeof(slot->error));
    slot->succeeded = succeeded;
    pg_memory_barrier();
    slot->finished = true;
}

// Takes the session-level lock that allows one run per source at a time; false when another run holds it.
static bool LockSource(const char *source) {
    LOCKTAG tag;
    uint32 key = DatumGetUInt32(hash_any((const unsigned char *)source, strlen(source)));
    SET_LOCKTAG_ADVISORY(tag, MyDatabaseId, key, 0x424b494e, 3);
    return LockAcquire(&tag, ExclusiveLock, true, true) != LOCKACQUIRE_NOT_AVAIL;
}

static void RunSource(RunSlot *slot) {
    MemoryContext run_cxt = AllocSetContextCreate(TopMemoryContext, "bulk_ingest run", ALLOCSET_DEFAULT_SIZES);
    MemoryContextSwitchTo(run_cxt);
    RunState *run = (RunState *)palloc0(sizeof(RunState));
    run->slot = slot;

    BeginTransaction("pg_bulk_ingest: starting a run");
    MemoryContextSwitchTo(run_cxt);
    run->row = LoadSource(slot->source, true);
    if (run->row == NULL) {
        CommitTransaction();
        ReportOutcome(run, false, psprintf("source \"%s\" does not exist (if it was registered in the calling "
                                           "transaction, commit that first)", slot->source));
        return;
    }
    if (!LockSource(run->row->source)) {
        CommitTransaction();
        ReportOutcome(run, false, psprintf("source \"%s\" is already running; wait for that run to end (see "
                                           "bulk_ingest.runs)", slot->source));
        return;
    }
    const char *watermark = run->row->watermark;
    if (strcmp(slot->high_watermark, "__EARLIEST__") == 0) {
        watermark = NULL;
    } else if (strcmp(slot->high_watermark, "__LATEST__") != 0) {
        watermark = pstrdup(slot->high_watermark);
    }
    run->run_id = InsertRun(run->row->source, watermark);
    CommitTransaction();
    slot->run_id = run->run_id;

    char *first_url = NULL;
    PG_TRY();
    {
        BeginTransaction("pg_bulk_ingest: starting a run");
        MemoryContextSwitchTo(run_cxt);
        run->decl = ResolveDeclaration(run->row);
        InitWatermark(&run->watermark, run->decl, run->row->watermark);
        std::string *url = NewInMemoryContext<std::string>([&] {
            return new std::string(bulk_ingest::ExpandUrlTemplate(run->row->url, watermark ? watermark : ""));
        });
        first_url = pstrdup(url->c_str());
        CommitTransaction();
        MemoryContextSwitchTo(run_cxt);

        IngestSource(run, first_url);

        BeginTransaction("pg_bulk_ingest: finishing a run");
        FinishRun(run->run_id, "succeeded", NULL);
        MemoryContextSwitchTo(run_cxt);
        ReportOutcome(run, true, NULL);
        CommitTransaction();
    }
    PG_CATCH();
    {
        HOLD_INTERRUPTS();
        MemoryContextSwitchTo(run_cxt);
        ErrorData *edata = CopyErrorData();
        FlushErrorState();
        AbortOutOfAnyTransaction();
        bool cancelled = got_sigterm || edata->sqlerrcode == ERRCODE_QUERY_CANCELED;
        char *message = DescribeFailure(run, edata);
        QueryCancelPending = false;

        BeginTransaction("pg_bulk_ingest: recording a failed run");
        FinishRun(run->run_id, cancelled ? "cancelled" : "failed", message);
        MemoryContextSwitchTo(run_cxt);
        ReportOutcome(run, false, message);
        CommitTransaction();
        ereport(LOG, (errmsg("pg_bulk_ingest: run " INT64_FORMAT " of source \"%s\" %s: %s", run->run_id,
                             run->row->source, cancelled ? "was cancelled" : "failed", message)));
        RESUME_INTERRUPTS();
    }
    PG_END_TRY();
    MemoryContextSwitchTo(TopMemoryContext);
    MemoryContextDelete(run_cxt);
}

static void WorkerMain(Datum main_arg) {
    pqsignal(SIGTERM, HandleSigterm);
    BackgroundWorkerUnblockSignals();

    dsm_segment *segment = dsm_attach(DatumGetUInt32(main_arg));
    if (segment == NULL) {
        ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
                        errmsg("pg_bulk_ingest: the caller of this run has gone away")));
    }
    RunSlot *slot = (RunSlot *)dsm_segment_address(segment);
    if (slot->magic != RUN_SLOT_MAGIC) {
        ereport(ERROR, (errmsg("pg_bulk_ingest: bad run slot in shared memory")));
    }
    BackgroundWorkerInitializeConnectionByOid(slot->database, slot->owner, 0);
    pgstat_report_appname("pg_bulk_ingest");
    RunSource(slot);
    dsm_detach(segment);
}

void bulk_ingest_worker_main(Datum main_arg) {
    pg_bulk_ingest::CoreFailure failure;
    if (!pg_bulk_ingest::TryCore([&] { WorkerMain(main_arg); }, &failure)) {
        pg_bulk_ingest::RaiseCoreFailure(&failure, "pg_bulk_ingest worker: ");
    }
}
