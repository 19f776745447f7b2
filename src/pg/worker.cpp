// The background worker that performs one run of a source: fetch page after page, load each batch in its own
// transaction together with the run's counters and the watermark, and record the outcome.
#include "pg/pg_prelude.h"

#include <string>

#include "pg/allowlist.h"
#include "pg/catalog.h"
#include "pg/declaration.h"
#include "pg/guard.h"
#include "core/http_stream.h"
#include "pg/loader.h"
#include "pg/rebuild.h"
#include "pg/rights.h"
#include "core/charset.h"
#include "core/formats.h"
#include "pg/run_slot.h"
#include "pg/settings.h"
#include "pg/shared_state.h"
#include "pg/source_lock.h"
#include "pg/target.h"
#include "pg/worker.h"
#include "core/paginator.h"
#include "core/prefetch.h"
#include "core/retry_policy.h"
#include "core/request_header.h"
#include "core/secrets.h"
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
PGDLLEXPORT void bulk_ingest_queued_run_main(Datum main_arg);
}

using pg_bulk_ingest::CallCore;
using pg_bulk_ingest::CallCoreForText;
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

// What a page told the paginator.
typedef struct PageOutcome {
    int64 rows;
    char *url;          // the URL the response came from, after redirects (relative next links resolve against it)
    char *link_header;  // all Link headers of the response, NULL when none
    char *body_value;   // the next URL or cursor the body gave (body pagination), NULL when none
} PageOutcome;

typedef struct RunState {
    RunSlot *slot;
    const SourceRow *row;
    const Declaration *decl;
    int64 run_id;
    int batch;                                    // the batch being loaded (1-based), 0 outside batches
    const char *page_url;                         // the page being read
    const char *start_watermark;                  // the watermark the first URL is built with (NULL: none)
    bulk_ingest::RetryPolicy *retry_policy;       // decides on retries of failed requests; keeps their history
    bulk_ingest::SecretMap *secrets;              // the source's secrets, for {secret:name} references
    std::vector<std::string> *request_headers;    // options.headers without secrets, sent to every host
    std::vector<std::string> *sensitive_headers;  // credentials and headers with secrets: to the URL's origin only
    const char *conditional_header;  // If-None-Match/If-Modified-Since for the first page (header watermarks)
    char *header_watermark;          // the first page's ETag/Last-Modified, stored when the run succeeds
    bool unchanged;                  // the first page answered 304 Not Modified
    int64 page_rows;                 // rows of the current page committed so far
    int64 page_retry_ms;             // >= 0: the page broke off mid-body and is retried after this long
    PageOutcome page_outcome;        // what the current page told the paginator
    BatchSource batch_source;
    WatermarkState watermark;
    Oid relid;            // the target
    bool target_created;  // the run created the target
    bool target_settled;  // a batch has committed: the target is what later batches load into, in place
} RunState;

static bool ShouldAbortTransfer() {
    if (bulk_ingest::OnProducerThread()) {
        return bulk_ingest::ProducerShouldStop();  // the read-ahead thread: its consumer decides (prefetch.h)
    }
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

static void RollbackTransaction() {
    PopActiveSnapshot();
    AbortCurrentTransaction();
    pgstat_report_activity(STATE_IDLE, NULL);
}

// Loads one batch in its own transaction and commits it with its counters and watermark. Until a batch of the run
// has committed, each batch first looks at the target: its first batch with rows may rebuild it (migration,
// replace mode, or the fast path of a new or empty table), and a batch with no rows then changes nothing.
static int64 LoadAndCommitBatch(RunState *run, bulk_ingest::RecordReader *reader, uint64 *bytes_before) {
    BatchSource *source = &run->batch_source;
    const Declaration *decl = run->decl;
    BeginTransaction("pg_bulk_ingest: loading a batch");
    RebuildPlan plan;
    memset(&plan, 0, sizeof(plan));
    if (!run->target_settled) {
        ProgressSetPhase("checking the target", NULL);
        TargetState target = InspectTarget(decl);
        run->relid = target.relid;
        PlanRebuild(decl, &target, true, run->target_created, &plan);
    }
    Oid load_into = plan.reason != NULL ? CreateRebuildTable(decl, &plan) : run->relid;
    ProgressSetPhase("loading", NULL);
    source->merge = plan.reason == NULL;
    int64 rows = LoadBatch(source, load_into);
    if (rows == 0) {
        if (plan.reason != NULL) {
            RollbackTransaction();  // a batch with no rows rebuilds nothing
        } else {
            CommitTransaction();
        }
        return 0;
    }
    if (plan.reason != NULL) {
        SwapLockStats stats;
        memset(&stats, 0, sizeof(stats));
        run->relid = CompleteRebuild(decl, &plan, load_into, &stats);
        RecordRebuild(run->run_id, plan.reason, stats.attempts, stats.wait_ms);
        // The table holds this batch's rows only: the next batches try COPY straight into it (see LoadBatch).
        source->load_directly = plan.empty;
    }
    ProgressSetPhase("committing", NULL);
    uint64 bytes_now = 0;
    CallCore([&] { bytes_now = reader->BytesConsumed(); });
    char *watermark = run->watermark.changed ? WatermarkText(&run->watermark) : NULL;
    RecordBatch(run->run_id, run->row->source, rows, (int64)(bytes_now - *bytes_before), watermark);
    CommitTransaction();
    run->target_settled = true;
    run->watermark.changed = false;
    ProgressBatchCommitted();
    if (run->slot != NULL) {
        pg_atomic_fetch_add_u64(&run->slot->batches, 1);
        pg_atomic_fetch_add_u64(&run->slot->rows, (uint64)rows);
        pg_atomic_fetch_add_u64(&run->slot->bytes, bytes_now - *bytes_before);
    }
    *bytes_before = bytes_now;
    return rows;
}

// text with the source's secrets replaced by "***", in memory context into: what may be shown or stored.
static char *Redacted(const RunState *run, MemoryContext into, const char *text) {
    if (run->secrets == NULL || text == NULL) {
        return text ? MemoryContextStrdup(into, text) : NULL;
    }
    return CallCoreForText(into, [&] { return bulk_ingest::RedactSecrets(text, *run->secrets); });
}

// A source's value (0: unlimited) bounded by a superuser limit (0: none).
static int64 Bounded(int64 value, int64 limit) {
    if (limit <= 0) {
        return value;
    }
    return value <= 0 ? limit : Min(value, limit);
}

// Sleeps for ms milliseconds, or less if an interrupt (a cancel, a shutdown) arrives: that raises its error.
static void WaitInterruptibly(int64 ms) {
    TimestampTz end = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), ms);
    for (;;) {
        long left = (long)((end - GetCurrentTimestamp()) / 1000);
        if (left <= 0) {
            return;
        }
        (void)WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, left, PG_WAIT_EXTENSION);
        ResetLatch(MyLatch);
        CHECK_FOR_INTERRUPTS();
    }
}

// Sends the request of a page, retrying failures the retry policy deems transient (connection errors, timeouts,
// 429, 5xx) after its backoff, which honours Retry-After. Returns the started stream, owned by the current memory
// context; raises the final error (with the policy's reason) otherwise.
// Returns NULL when the first page answered 304 Not Modified to a conditional request (run->unchanged is set).
static bulk_ingest::HttpStream *StartPage(RunState *run, const char *url) {
    const char *conditional = run->batch == 1 ? run->conditional_header : NULL;
    bulk_ingest::RetryPolicy *policy = run->retry_policy;
    CallCore([&] { policy->NextRequest(); });
    MemoryContext page_cxt = CurrentMemoryContext;
    MemoryContext attempt_cxt = AllocSetContextCreate(page_cxt, "bulk_ingest request", ALLOCSET_SMALL_SIZES);
    for (;;) {
        MemoryContextSwitchTo(attempt_cxt);
        bulk_ingest::HttpStream *stream = NewInMemoryContext<bulk_ingest::HttpStream>([&] {
            bulk_ingest::HttpOptions options;
            options.should_abort = ShouldAbortTransfer;
            options.allowlist = CurrentAllowlist();
            if (run->sensitive_headers != NULL) {
                options.sensitive_headers = *run->sensitive_headers;
            }
            if (run->request_headers != NULL) {
                options.headers = *run->request_headers;
            }
            if (conditional != NULL) {
                options.headers.push_back(conditional);
            }
            const bulk_ingest::SourceOptions *declared = run->decl->options;
            options.connect_timeout_ms = (long)Bounded(declared->connect_timeout_ms, bulk_ingest_connect_timeout_limit);
            options.total_timeout_ms = (long)Bounded(declared->timeout_ms, bulk_ingest_request_timeout_limit);
            options.max_body_bytes =
                (uint64_t)Bounded(declared->max_response_bytes, (int64)bulk_ingest_response_size_limit * 1024);
            return new bulk_ingest::HttpStream(url, options);
        });
        int64 retry_in_ms = -1;
        CallCore([&] {
            try {
                stream->Start();
                policy->OnSuccess(url);
            } catch (const bulk_ingest::HttpError &e) {
                if (conditional != NULL && e.status() == 304) {
                    retry_in_ms = -2;  // not modified since the stored watermark
                    return;
                }
                bulk_ingest::RetryDecision decision = policy->OnFailure(url, e);
                if (!decision.retry) {
                    throw bulk_ingest::HttpError(e.status(), std::string(e.what()) + " (" + decision.reason + ")",
                                                 e.kind());
                }
                retry_in_ms = decision.delay_ms;
            }
        });
        MemoryContextSwitchTo(page_cxt);
        if (retry_in_ms == -2) {
            run->unchanged = true;
            return NULL;
        }
        if (retry_in_ms < 0) {
            return stream;
        }
        MemoryContextReset(attempt_cxt);  // ends the failed request
        ProgressSetPhase("waiting to retry", NULL);
        WaitInterruptibly(retry_in_ms);
        ProgressSetPhase("connecting", NULL);
    }
}

// Loads every batch of one page (one HTTP response), in page_cxt, which it resets at the end.
static PageOutcome IngestPageOnce(RunState *run, const char *url, MemoryContext page_cxt) {
    MemoryContext run_cxt = MemoryContextSwitchTo(page_cxt);
    PageOutcome outcome = {0, NULL, NULL, NULL};
    // What messages and the progress view show. It outlives the page (errors after the page's end name it).
    char *shown = Redacted(run, run_cxt, url);
    if (run->page_url != NULL) {
        pfree((void *)run->page_url);
    }
    run->page_url = shown;
    run->batch++;
    ProgressSetPhase("connecting", run->page_url);
    bulk_ingest::HttpStream *stream = StartPage(run, url);
    const Declaration *decl = run->decl;
    if (stream == NULL) {
        run->batch--;
        MemoryContextSwitchTo(run_cxt);
        MemoryContextReset(page_cxt);
        return outcome;
    }
    const std::string &watermark_header = decl->options->high_watermark_header;
    if (!watermark_header.empty() && run->header_watermark == NULL) {
        run->header_watermark = CallCoreForText(run_cxt, [&]() -> std::optional<std::string> {
            auto value = stream->Header(watermark_header);
            return value && !value->empty() ? value : std::nullopt;
        });
    }
    // A body declared in another charset (Content-Type: ...; charset=latin1) is converted to UTF-8 as it streams.
    bulk_ingest::ByteSource *body = stream;
    char *charset = CallCoreForText(page_cxt, [&]() -> std::optional<std::string> {
        auto content_type = stream->Header("Content-Type");
        auto declared = content_type ? bulk_ingest::CharsetFromContentType(*content_type) : std::nullopt;
        return declared && !bulk_ingest::IsUtf8Charset(*declared) ? declared : std::nullopt;
    });
    if (charset != NULL) {
        body = NewInMemoryContext<bulk_ingest::TranscodingSource>(
            [&] { return new bulk_ingest::TranscodingSource(*stream, charset); });
    }
    bulk_ingest::RecordReader *records = NewInMemoryContext<bulk_ingest::RecordReader>([&] {
        return bulk_ingest::MakeRecordReader(run->row->format, *body, DeclaredColumnSpecs(decl), *decl->options)
            .release();
    });
    // The transfer and the parsing run on a thread of their own, ahead of COPY (deleted before the reader, the
    // stream and the transcoder it reads: a memory context's objects go in reverse order of creation).
    bulk_ingest::PrefetchingReader *reader = NewInMemoryContext<bulk_ingest::PrefetchingReader>([&] {
        bulk_ingest::PrefetchOptions prefetch;
        prefetch.should_abort = ShouldAbortTransfer;
        return new bulk_ingest::PrefetchingReader(*records, prefetch);
    });
    BatchSource *source = &run->batch_source;
    source->reader = reader;
    source->row_buffer = NewInMemoryContext<std::string>([] { return new std::string(); });
    source->end_of_page = false;
    source->bytes_reported = 0;
    outcome.link_header = CallCoreForText(run_cxt, [&] { return stream->Header("Link"); });
    outcome.url = CallCoreForText(run_cxt, [&] { return stream->Url(); });
    uint64 bytes_before = 0;
    MemoryContextSwitchTo(run_cxt);

    while (!source->end_of_page) {
        int64 rows = LoadAndCommitBatch(run, reader, &bytes_before);
        if (rows > 0) {
            outcome.rows += rows;
            run->page_rows += rows;
            run->batch++;
        }
    }
    run->batch--;  // the batch number taken for the next load was not used by this page
    MemoryContextSwitchTo(page_cxt);
    outcome.body_value =
        CallCoreForText(run_cxt, [&] { return bulk_ingest::BodyPaginationValue(reader->Inner(), *decl->options); });
    MemoryContextSwitchTo(run_cxt);
    MemoryContextReset(page_cxt);  // ends the transfer
    return outcome;
}

// Decides, inside the error handler of a failed page, whether the failure is a transfer that broke off mid-body
// before any batch of the page committed, and the retry policy allows another try. Must not raise errors.
static bool ShouldRetryPage(RunState *run, const char *url) {
    const BatchSource *source = &run->batch_source;
    if (!source->http_failed || run->page_rows > 0 || run->retry_policy == NULL) {
        return false;
    }
    int64 delay = -1;
    pg_bulk_ingest::CoreFailure failure;
    bool ok = pg_bulk_ingest::TryCore(
        [&] {
            bulk_ingest::RetryDecision decision = run->retry_policy->OnFailure(
                url, source->http_status, static_cast<bulk_ingest::HttpErrorKind>(source->http_kind),
                source->http_message);
            delay = decision.retry ? decision.delay_ms : -1;
        },
        &failure);
    run->page_retry_ms = ok ? delay : -1;
    return run->page_retry_ms >= 0;
}

// Loads one page; a transfer that breaks off in the middle of the body is retried from the start of the page
// (its batch in flight rolled back), as long as no batch of the page has committed: re-reading it then would load
// committed rows twice.
static PageOutcome IngestPage(RunState *run, const char *url, MemoryContext page_cxt) {
    MemoryContext run_cxt = CurrentMemoryContext;
    int first_batch = run->batch;
    for (;;) {
        run->page_rows = 0;
        run->page_retry_ms = -1;
        PG_TRY();
        { run->page_outcome = IngestPageOnce(run, url, page_cxt); }
        PG_CATCH();
        {
            if (!ShouldRetryPage(run, url)) {
                PG_RE_THROW();
            }
            MemoryContextSwitchTo(run_cxt);
            FlushErrorState();
            AbortCurrentTransaction();
            MemoryContextSwitchTo(run_cxt);
            MemoryContextReset(page_cxt);  // ends the broken transfer
        }
        PG_END_TRY();
        if (run->page_retry_ms < 0) {
            return run->page_outcome;
        }
        run->batch = first_batch;
        ereport(
            LOG,
            (errmsg("pg_bulk_ingest: source \"%s\": the transfer of %s broke off; retrying the page in " INT64_FORMAT
                    " ms",
                    run->row->source, run->page_url, run->page_retry_ms)));
        ProgressSetPhase("waiting to retry", NULL);
        WaitInterruptibly(run->page_retry_ms);
    }
}

static void IngestSource(RunState *run, const char *first_url) {
    MemoryContext run_cxt = CurrentMemoryContext;
    const bulk_ingest::SourceOptions *options = run->decl->options;
    bulk_ingest::Paginator *paginator = NewInMemoryContext<bulk_ingest::Paginator>(
        [&] { return new bulk_ingest::Paginator(options->pagination, first_url, options->max_pages); });

    // The target is created (when missing) and checked now, so that a declaration that cannot be applied fails
    // before any request; the rebuild itself happens in the first batch's transaction.
    BeginTransaction("pg_bulk_ingest: preparing the target");
    TargetState target = InspectTarget(run->decl);
    run->relid = target.relid;
    run->target_created = target.created;
    CheckLoadPrivileges(run->decl, run->relid);
    RebuildPlan plan;
    PlanRebuild(run->decl, &target, false, target.created, &plan);
    CommitTransaction();

    MemoryContext page_cxt = AllocSetContextCreate(run_cxt, "bulk_ingest page", ALLOCSET_DEFAULT_SIZES);
    MemoryContextSwitchTo(run_cxt);
    run->batch_source.decl = run->decl;
    run->batch_source.max_rows = options->batch_rows;
    run->batch_source.watermark = &run->watermark;
    // offset and page pagination add their parameters to the first URL
    char *url = CallCoreForText(run_cxt, [&] { return paginator->FirstUrl(); });
    while (url != NULL) {
        PageOutcome page = IngestPage(run, url, page_cxt);
        if (run->unchanged) {
            break;
        }
        MemoryContextSwitchTo(page_cxt);  // the intermediate text goes with the next page's reset
        url = CallCoreForText(run_cxt, [&] {
            bulk_ingest::PageInfo info;
            info.url = page.url != NULL ? page.url : url;
            if (page.link_header != NULL) {
                info.link_header = std::string(page.link_header);
            }
            if (page.body_value != NULL) {
                info.body_value = std::string(page.body_value);
            }
            info.records = (uint64_t)page.rows;
            return paginator->Next(info);
        });
        MemoryContextSwitchTo(run_cxt);
    }
    run->batch = 0;
    MemoryContextDelete(page_cxt);
}

// The history of the run's failed requests (and their retries), or NULL when every request succeeded at once.
static char *AttemptsText(const RunState *run) {
    if (run->retry_policy == NULL) {
        return NULL;
    }
    return CallCoreForText(CurrentMemoryContext, [&]() -> std::optional<std::string> {
        std::string history = run->retry_policy->TotalFailures() > 0 ? run->retry_policy->HistoryText() : "";
        return history.empty() ? std::nullopt : std::optional<std::string>(history);
    });
}

// The message recorded for a failed run: where it failed (batch, URL, line, column), then what went wrong.
static char *DescribeFailure(const RunState *run, const ErrorData *edata) {
    StringInfoData message;
    initStringInfo(&message);
    if (got_sigterm) {
        appendStringInfoString(&message,
                               "cancelled: the run's worker was asked to stop (bulk_ingest_run cancelled, "
                               "pg_terminate_backend or server shutdown)");
        if (run->batch > 0) {
            appendStringInfo(&message, "; batch %d was rolled back", run->batch);
        }
        return message.data;
    }
    if (run->batch > 0) {
        appendStringInfo(&message, "batch %d (%s): ", run->batch, run->page_url);
        const BatchSource *source = &run->batch_source;
        const char *unit = bulk_ingest::PositionUnit(run->row->format);
        if (source->error_line > 0 && strncmp(edata->message, unit, strlen(unit)) != 0) {
            appendStringInfo(&message, "%s " UINT64_FORMAT, unit, source->error_line);
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
    if (slot == NULL) {
        return;  // a queued run: nobody waits for it, the catalog is its report
    }
    if (run->run_id != 0) {
        char *row_text = RunRowText(run->run_id);
        strlcpy(slot->run_row, row_text ? row_text : "", sizeof(slot->run_row));
    }
    strlcpy(slot->error, error ? error : "", sizeof(slot->error));
    slot->succeeded = succeeded;
    pg_memory_barrier();
    slot->finished = true;
}

// Refuses the run (nothing was recorded for it): only a waiting caller hears of it.
static void Refuse(RunState *run, char *message) {
    CommitTransaction();
    ReportOutcome(run, false, message);
}

// Records the run in the catalog and takes the source's run lock. Returns false (after reporting why) when the run
// cannot happen: the source is gone, or another run of it is queued or running.
static bool BeginRun(RunState *run, int64 queued_run_id, MemoryContext run_cxt) {
    RunSlot *slot = run->slot;
    const char *requested;
    BeginTransaction("pg_bulk_ingest: starting a run");
    MemoryContextSwitchTo(run_cxt);
    if (queued_run_id != 0) {
        // The lock first, then the claim: a 'running' run always has its lock held, which is what lets a lock
        // holder tell a stale run from a live one.
        char *source = QueuedRunSource(queued_run_id);
        if (source == NULL) {
            CommitTransaction();  // cancelled before it started
            return false;
        }
        run->run_id = queued_run_id;
        run->row = LoadSource(source, true);
        if (run->row == NULL || !TryLockSource(source)) {
            FinishRun(run->run_id, "failed",
                      run->row == NULL ? "the source was unregistered before the run started"
                                       : "another run of the source was in progress",
                      NULL);
            CommitTransaction();
            return false;
        }
        char *requested_high_watermark;
        if (!ClaimQueuedRun(queued_run_id, &source, &requested_high_watermark)) {
            CommitTransaction();  // cancelled meanwhile
            return false;
        }
        requested = requested_high_watermark;
    } else {
        requested = slot->high_watermark;
        run->row = LoadSource(slot->source, true);
        if (run->row == NULL) {
            Refuse(run, psprintf("source \"%s\" does not exist (if it was registered in the calling transaction, "
                                 "commit that first)",
                                 slot->source));
            return false;
        }
        if (!TryLockSource(run->row->source)) {
            Refuse(run, psprintf("source \"%s\" is already running (run " INT64_FORMAT "); wait for that run to "
                                 "end, or cancel it with bulk_ingest_cancel()",
                                 slot->source, ActiveRunOf(run->row->source)));
            return false;
        }
        // Holding the lock proves that no worker runs this source: a 'running' run left behind is stale.
        FailStaleRuns(run->row->source, "the worker running it disappeared (a crash or a server restart)");
        run->run_id = InsertRun(run->row->source, "running", "run", requested);
        if (run->run_id == 0) {
            Refuse(run, psprintf("source \"%s\" already has a queued run (run " INT64_FORMAT "); wait for it, or "
                                 "cancel it with bulk_ingest_cancel()",
                                 slot->source, ActiveRunOf(slot->source)));
            return false;
        }
        slot->run_id = run->run_id;
    }
    run->start_watermark = run->row->watermark;
    if (strcmp(requested, "__EARLIEST__") == 0) {
        run->start_watermark = NULL;
    } else if (strcmp(requested, "__LATEST__") != 0) {
        run->start_watermark = pstrdup(requested);
    }
    SetRunStartWatermark(run->run_id, run->start_watermark);
    CommitTransaction();
    ProgressBegin(run->run_id, run->row->source, run->row->owner);
    return true;
}

static void AddSecret(void *arg, const char *name, const char *value) {
    CallCore([&] { (*static_cast<bulk_ingest::SecretMap *>(arg))[name] = value; });
}

static void RunSource(RunSlot *slot, int64 queued_run_id) {
    MemoryContext run_cxt = AllocSetContextCreate(TopMemoryContext, "bulk_ingest run", ALLOCSET_DEFAULT_SIZES);
    MemoryContextSwitchTo(run_cxt);
    RunState *run = (RunState *)palloc0(sizeof(RunState));
    run->slot = slot;
    if (!BeginRun(run, queued_run_id, run_cxt)) {
        return;
    }

    PG_TRY();
    {
        BeginTransaction("pg_bulk_ingest: starting a run");
        MemoryContextSwitchTo(run_cxt);
        run->decl = ResolveDeclaration(run->row);
        InitWatermark(&run->watermark, run->decl, run->row->watermark);
        run->secrets = NewInMemoryContext<bulk_ingest::SecretMap>([] { return new bulk_ingest::SecretMap(); });
        LoadSecrets(run->row->source, AddSecret, run->secrets);
        const bulk_ingest::SecretMap *secrets = run->secrets;
        const bulk_ingest::SourceOptions *options = run->decl->options;
        run->request_headers =
            NewInMemoryContext<std::vector<std::string>>([] { return new std::vector<std::string>(); });
        run->sensitive_headers =
            NewInMemoryContext<std::vector<std::string>>([] { return new std::vector<std::string>(); });
        std::vector<std::string> *plain = run->request_headers, *sensitive = run->sensitive_headers;
        CallCore([&] {
            // A header that carries a secret, or credentials, is sent to the source's own origin only: never to
            // another host a redirect leads to.
            for (const auto &[name, value] : options->headers) {
                bool secret = !bulk_ingest::SecretReferences(value).empty() || bulk_ingest::IsCredentialHeader(name);
                (secret ? sensitive : plain)
                    ->push_back(name + ": " + bulk_ingest::ExpandSecrets(value, *secrets, false));
            }
            if (options->basic_auth) {
                std::string credentials = bulk_ingest::ExpandSecrets(options->basic_auth->first, *secrets, false) +
                                          ":" +
                                          bulk_ingest::ExpandSecrets(options->basic_auth->second, *secrets, false);
                sensitive->push_back("Authorization: Basic " + bulk_ingest::Base64Encode(credentials));
            }
        });
        if (!options->high_watermark_header.empty() && run->start_watermark != NULL) {
            run->conditional_header =
                psprintf("%s: %s", options->high_watermark_header == "ETag" ? "If-None-Match" : "If-Modified-Since",
                         run->start_watermark);
        }
        run->retry_policy = NewInMemoryContext<bulk_ingest::RetryPolicy>([&] {
            bulk_ingest::RetryOptions retry;
            retry.max_retries = options->max_retries;
            retry.redact = [secrets](const std::string &text) { return bulk_ingest::RedactSecrets(text, *secrets); };
            return new bulk_ingest::RetryPolicy(retry);
        });
        const char *watermark = run->start_watermark;
        char *first_url = CallCoreForText(run_cxt, [&] {
            return bulk_ingest::ExpandSecrets(bulk_ingest::ExpandUrlTemplate(run->row->url, watermark ? watermark : ""),
                                              *run->secrets, true);
        });
        CommitTransaction();
        MemoryContextSwitchTo(run_cxt);

        IngestSource(run, first_url);

        ProgressSetPhase("finishing", NULL);
        BeginTransaction("pg_bulk_ingest: finishing a run");
        // A source versioned by a header is up to date only once the whole run succeeded.
        if (run->header_watermark != NULL) {
            StoreWatermark(run->row->source, run->header_watermark);
        }
        FinishRun(run->run_id, run->unchanged ? "unchanged" : "succeeded", NULL, AttemptsText(run));
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
        char *message = Redacted(run, CurrentMemoryContext, DescribeFailure(run, edata));
        QueryCancelPending = false;

        BeginTransaction("pg_bulk_ingest: recording a failed run");
        FinishRun(run->run_id, cancelled ? "cancelled" : "failed", message, AttemptsText(run));
        MemoryContextSwitchTo(run_cxt);
        ReportOutcome(run, false, message);
        CommitTransaction();
        ereport(LOG, (errmsg("pg_bulk_ingest: run " INT64_FORMAT " of source \"%s\" %s: %s", run->run_id,
                             run->row->source, cancelled ? "was cancelled" : "failed", message)));
        RESUME_INTERRUPTS();
    }
    PG_END_TRY();
    ProgressEnd();
    MemoryContextSwitchTo(TopMemoryContext);
    MemoryContextDelete(run_cxt);
}

void DescribeRunWorker(BackgroundWorker *worker, const char *function_name, const char *name, Datum main_arg) {
    memset(worker, 0, sizeof(*worker));
    worker->bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
    worker->bgw_start_time = BgWorkerStart_RecoveryFinished;
    worker->bgw_restart_time = BGW_NEVER_RESTART;
    strlcpy(worker->bgw_library_name, "pg_bulk_ingest", BGW_MAXLEN);
    strlcpy(worker->bgw_function_name, function_name, BGW_MAXLEN);
    strlcpy(worker->bgw_name, name, BGW_MAXLEN);
    strlcpy(worker->bgw_type, "pg_bulk_ingest run", BGW_MAXLEN);
    worker->bgw_main_arg = main_arg;
    worker->bgw_notify_pid = MyProcPid;
}

static void SetUpSignals(void) {
    pqsignal(SIGTERM, HandleSigterm);
    BackgroundWorkerUnblockSignals();
}

// A run requested by bulk_ingest_run(): its request and outcome travel through a dynamic shared memory segment.
static void DirectRunMain(Datum main_arg) {
    SetUpSignals();
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
    UseSafeSearchPathForSession();  // the owner's own search_path never applies to a run
    pgstat_report_appname("pg_bulk_ingest");
    RunSource(slot, 0);
    dsm_detach(segment);
}

// A queued run started by the launcher: the run's id is the main argument, the database and the owner are in
// bgw_extra.
static void QueuedRunMain(Datum main_arg) {
    SetUpSignals();
    QueuedRunTarget target;
    memcpy(&target, MyBgworkerEntry->bgw_extra, sizeof(target));
    BackgroundWorkerInitializeConnectionByOid(target.database, target.owner, 0);
    UseSafeSearchPathForSession();  // the owner's own search_path never applies to a run
    pgstat_report_appname("pg_bulk_ingest");
    RunSource(NULL, DatumGetInt64(main_arg));
}

// The worker entry points: no C++ exception may leave them.
void bulk_ingest_worker_main(Datum main_arg) {
    pg_bulk_ingest::CoreFailure failure;
    if (!pg_bulk_ingest::TryCore([&] { DirectRunMain(main_arg); }, &failure)) {
        pg_bulk_ingest::RaiseCoreFailure(&failure, "pg_bulk_ingest worker: ");
    }
}

void bulk_ingest_queued_run_main(Datum main_arg) {
    pg_bulk_ingest::CoreFailure failure;
    if (!pg_bulk_ingest::TryCore([&] { QueuedRunMain(main_arg); }, &failure)) {
        pg_bulk_ingest::RaiseCoreFailure(&failure, "pg_bulk_ingest worker: ");
    }
}
