// The background worker that performs one run of a source: fetch page after page, load each batch in its own
// transaction together with the run's counters and the watermark, and record the outcome.
#include "pg/pg_prelude.h"

#include <string>

#include "pg/http/allowlist.h"
#include "pg/catalog/catalog.h"
#include "pg/catalog/declaration.h"
#include "pg/load/deletes.h"
#include "pg/guard.h"
#include "core/http_stream.h"
#include "pg/http/http_request.h"
#include "pg/load/loader.h"
#include "pg/http/oauth2.h"
#include "pg/http/pacing.h"
#include "pg/rebuild/rebuild.h"
#include "pg/catalog/rejects.h"
#include "pg/rights.h"
#include "core/charset.h"
#include "core/formats.h"
#include "pg/worker/run_slot.h"
#include "pg/settings.h"
#include "pg/worker/shared_state.h"
#include "pg/worker/source_lock.h"
#include "pg/load/target.h"
#include "pg/worker/test_pause.h"
#include "pg/load/watermark_value.h"
#include "pg/http/window.h"
#include "pg/worker/worker.h"
#include "core/paginator.h"
#include "core/prefetch.h"
#include "pg/load/binary_rows.h"
#include "core/request_ahead.h"
#include "core/rate_limit.h"
#include "core/request_options.h"
#include "core/resume_state.h"
#include "core/watermark_format.h"
#include "core/retry_policy.h"
#include "core/request_header.h"
#include "core/secrets.h"
#include "core/url.h"

extern "C" {
#include "access/xact.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
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
    char *has_more;     // the body's has_more_path, total_path and total_pages_path values, NULL when none
    char *total;
    char *total_pages;
    char *cursor_header;  // the response header of a cursor pagination's "header"
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
    int64 page_rows;                 // records of the current page committed so far (rows and rejects)
    int64 page_retry_ms;             // >= 0: the page broke off mid-body and is retried after this long
    char not_retried[512];           // why a page that broke off mid-body was not retried ("" when it was)
    PageOutcome page_outcome;        // what the current page told the paginator
    BatchSource batch_source;
    WatermarkState watermark;
    Oid relid;                          // the target
    bool target_created;                // the run created the target
    bool target_settled;                // a batch has committed: the target is what later batches load into, in place
    bulk_ingest::Paginator *paginator;  // the run's pagination
    const char *resume;                 // where the last run stopped at max_pages (JSON), NULL: none
    bool had_resume;                    // the catalog held such a state when the run started
    bool latest;                        // the run starts from the stored watermark (__LATEST__)
    bulk_ingest::TemplateValue *high_watermark;  // {high_watermark} of this run's requests
    char *body_template;                         // options.body expanded for this window (secrets included)
    bool body_sensitive;                         // it holds a secret: sent to the URL's origin only
    char *page_body;                             // the body of the page's request (with the pagination's parameters)
    bool page_ended;                             // options.on_status said the page's status ends the data
    bool windowed;                               // options.window: the run asks for windows
    TimestampTz window_start;                    // the window being read
    char *bearer_token;                          // options.auth: the OAuth 2 token the requests carry
    char *page_content_type;                     // the Content-Type of the page being read, NULL when none
    int64 pages_read;                            // pages of the run so far (max_pages counts them across windows)
    char *next_window_url;                       // max_pages was reached before this window: the run says so
    bulk_ingest::PagesAhead *ahead;              // requests of the next pages sent while a page loads (NULL: none)
    bool ahead_selected;                         // the page's first request was sent ahead: StartPage takes it
    int64 last_page_records;                     // records of the page before (offset steps without a limit)
} RunState;

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
static int64 LoadAndCommitBatch(RunState *run, bulk_ingest::RecordReader *reader, uint64 *bytes_before,
                                int64 *rejected) {
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
    PausePoint(PAUSE_BEFORE_COPY);
    source->merge = plan.reason == NULL;
    int64 rows = LoadBatch(source, load_into);
    *rejected = list_length(source->rejects);
    // A batch whose records only delete (options.deleted_path) or were all rejected still commits: its deletes, its
    // rejects.
    if (rows == 0 && source->deleted_records == 0 && *rejected == 0) {
        if (plan.reason != NULL) {
            RollbackTransaction();  // a batch with no rows rebuilds nothing
        } else {
            CommitTransaction();
        }
        return 0;
    }
    if (rows == 0 && source->deleted_records == 0 && plan.reason != NULL) {
        // Every record of the batch was rejected: the rejects commit, the table is not rebuilt for nothing.
        RollbackTransaction();
        BeginTransaction("pg_bulk_ingest: recording rejected records");
        plan.reason = NULL;
    }
    if (plan.reason != NULL) {
        SwapLockStats stats;
        memset(&stats, 0, sizeof(stats));
        run->relid = CompleteRebuild(decl, &plan, load_into, &stats);
        RecordRebuild(run->run_id, plan.reason, stats.attempts, stats.wait_ms);
        // The table holds this batch's rows only (it was new or empty, or replace mode left the old rows behind):
        // the next batches try COPY straight into it (see LoadBatch), and merge from the first key that conflicts.
        source->load_directly = plan.empty || !plan.copy_rows;
    }
    int64 deleted = source->deleted_records > 0 ? ApplyDeletes(decl, source) : 0;
    ProgressSetPhase("committing", NULL);
    uint64 bytes_now = 0;
    CallCore([&] { bytes_now = reader->BytesConsumed(); });
    char *watermark = run->watermark.changed ? WatermarkText(&run->watermark) : NULL;
    PausePoint(PAUSE_BEFORE_WATERMARK);
    RecordRejects(run->run_id, run->row->source, run->batch, run->page_url, source->rejects);
    RecordBatch(run->run_id, run->row->source, rows, (int64)(bytes_now - *bytes_before), watermark);
    if (watermark != NULL) {
        StoreWatermarkSourceValue(run->row->source, run->watermark.max_source);
    }
    if (source->deleted_records > 0) {
        RecordDeletes(run->run_id, deleted);
    }
    PausePoint(PAUSE_BEFORE_COMMIT);
    CommitTransaction();
    PausePoint(PAUSE_AFTER_COMMIT);
    source->run_rejected += *rejected;
    source->rejects = NIL;  // their memory goes with the next batch's reset
    run->target_settled = rows > 0 || run->target_settled;
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

// options.auth: a request was answered 401 with the token: a new one from the token endpoint replaces it in the
// requests (and in what messages redact).
static void RefreshBearerToken(RunState *run) {
    if (run->ahead != NULL) {
        CallCore([&] { run->ahead->Clear(); });  // sent with the refused token
        run->ahead_selected = false;
    }
    MemoryContext old = MemoryContextSwitchTo(GetMemoryChunkContext(run));
    char *previous = run->bearer_token;
    run->bearer_token = SourceBearerToken(run->decl, run->secrets, true, ShouldAbortTransfer);
    MemoryContextSwitchTo(old);
    const char *token = run->bearer_token;
    CallCore([&] {
        (*run->secrets)[BULK_INGEST_TOKEN_SECRET] = token;
        for (std::string &header : *run->sensitive_headers) {
            if (header == std::string("Authorization: Bearer ") + previous) {
                header = std::string("Authorization: Bearer ") + token;
            }
        }
    });
    ereport(LOG, (errmsg("pg_bulk_ingest: source \"%s\": the OAuth 2 token was refused (HTTP 401); fetched a new one",
                         run->row->source)));
}

// Sends the request of a page, retrying failures the retry policy deems transient (connection errors, timeouts,
// 429, 5xx) after its backoff, which honours Retry-After. The attempts count against the page's retries, which
// IngestPage started: headers that arrive do not end the attempt (its body may still break off). Returns the started
// stream, owned by *stream_cxt (a child of the current memory context); raises the final error (with the policy's
// reason) otherwise. Returns NULL when the first page answered 304 Not Modified to a conditional request
// (run->unchanged is set).
static bulk_ingest::HttpStream *StartPage(RunState *run, const char *url, MemoryContext *stream_cxt) {
    const char *conditional = run->batch == 1 ? run->conditional_header : NULL;
    bool token_refreshed = false;  // options.auth: a 401 gets a new token once per request
    bulk_ingest::RetryPolicy *policy = run->retry_policy;
    MemoryContext page_cxt = CurrentMemoryContext;
    MemoryContext attempt_cxt = AllocSetContextCreate(page_cxt, "bulk_ingest request", ALLOCSET_SMALL_SIZES);
    for (;;) {
        // The first attempt's request was sent ahead (request_ahead.h), paced when it was: its response is taken.
        bool sent_ahead = run->ahead_selected;
        run->ahead_selected = false;
        if (!sent_ahead) {
            // options.rate_limit, and the host's own limits: every run and worker of the server keeps the host's
            // pace.
            PaceRequest(url, run->decl->options->request.rate_limit);
        }
        MemoryContextSwitchTo(attempt_cxt);
        bulk_ingest::HttpStream *stream = NewInMemoryContext<bulk_ingest::HttpStream>([&] {
            if (sent_ahead) {
                return run->ahead->TakeSelected(ShouldAbortTransfer);
            }
            bulk_ingest::HttpOptions options =
                SourceHttpOptions(*run->decl->options, run->request_headers, run->sensitive_headers, conditional);
            if (run->page_body != NULL) {
                options.post_body = std::string(run->page_body);
                options.post_body_sensitive = run->body_sensitive;
            }
            return new bulk_ingest::HttpStream(url, options);
        });
        int64 retry_in_ms = -1;
        const int64 now_us = UnixMicroseconds();
        int64 hold_until_us = 0;  // the server takes no request before then
        // The request's final failure, raised once the host's hold is recorded (a 429 that ends the run still holds
        // the host for the next runs).
        std::string *failure = NewInMemoryContext<std::string>([] { return new std::string(); });
        long failure_status = 0;
        bulk_ingest::HttpErrorKind failure_kind = bulk_ingest::HttpErrorKind::kOther;
        bool failed = false;
        auto fail = [&](const bulk_ingest::HttpError &e, const std::string &message) {
            *failure = message;
            failure_status = e.status();
            failure_kind = e.kind();
            failed = true;
        };
        CallCore([&] {
            try {
                stream->Start();
                // (Not a success for the retry policy yet: the page counts as one until its body was read whole.)
                auto either = [&](const char *a, const char *b) {
                    std::optional<std::string> value = stream->Header(a);
                    return value ? value : stream->Header(b);
                };
                std::optional<int64_t> until =
                    bulk_ingest::BlockedUntil(either("X-RateLimit-Remaining", "RateLimit-Remaining"),
                                              either("X-RateLimit-Reset", "RateLimit-Reset"), now_us);
                hold_until_us = until.value_or(0);
            } catch (const bulk_ingest::HttpError &e) {
                if (e.retry_after()) {
                    std::optional<int64_t> delay = bulk_ingest::ParseRetryAfter(*e.retry_after(), now_us / 1000);
                    hold_until_us = delay ? now_us + *delay * 1000 : 0;
                }
                if (conditional != NULL && e.status() == 304) {
                    retry_in_ms = -2;  // not modified since the stored watermark
                    return;
                }
                if (e.status() == 401 && run->bearer_token != NULL && !token_refreshed) {
                    retry_in_ms = -4;  // the token expired or was revoked: a new one, once
                    return;
                }
                std::optional<bulk_ingest::StatusAction> action =
                    e.kind() == bulk_ingest::HttpErrorKind::kStatus
                        ? bulk_ingest::ActionFor(run->decl->options->request, e.status())
                        : std::nullopt;
                if (action == bulk_ingest::StatusAction::kEnd) {
                    policy->OnSuccess(url);
                    retry_in_ms = -3;  // options.on_status: this status is the end of the data
                    return;
                }
                if (action == bulk_ingest::StatusAction::kFail) {
                    fail(e, std::string(e.what()) + " (options.on_status: not retried)");
                    return;
                }
                // options.on_status "retry": as a transient failure (the backoff, max_retries, Retry-After)
                bulk_ingest::RetryDecision decision =
                    action == bulk_ingest::StatusAction::kRetry
                        ? policy->OnFailure(url, e.status(), bulk_ingest::HttpErrorKind::kConnection, e.what(),
                                            e.retry_after())
                        : policy->OnFailure(url, e);
                if (e.status() == 401 && token_refreshed) {
                    decision.reason +=
                        "; the OAuth 2 token was refreshed after the first 401, and the new one was refused too";
                }
                if (!decision.retry) {
                    fail(e, std::string(e.what()) + " (" + decision.reason + ")");
                    return;
                }
                retry_in_ms = decision.delay_ms;
            }
        });
        MemoryContextSwitchTo(page_cxt);
        if (hold_until_us > 0) {
            HoldHost(url, hold_until_us);
        }
        if (failed) {
            CallCore([&] { throw bulk_ingest::HttpError(failure_status, *failure, failure_kind); });
        }
        if (retry_in_ms == -2) {
            run->unchanged = true;
            return NULL;
        }
        if (retry_in_ms == -3) {
            run->page_ended = true;
            return NULL;
        }
        if (retry_in_ms == -4) {
            MemoryContextReset(attempt_cxt);
            RefreshBearerToken(run);
            token_refreshed = true;
            continue;
        }
        if (retry_in_ms < 0) {
            *stream_cxt = attempt_cxt;
            return stream;
        }
        MemoryContextReset(attempt_cxt);  // ends the failed request
        ProgressSetPhase("waiting to retry", NULL);
        PausePoint(PAUSE_IN_RETRY_WAIT);
        WaitInterruptibly(retry_in_ms);
        ProgressSetPhase("connecting", NULL);
    }
}

// The options of a request sent ahead: the run's headers (the conditional header is the first page's only) and, for
// a body, its sensitivity (the body itself is set per page). Core code.
static bulk_ingest::HttpOptions AheadHttpOptions(const RunState *run) {
    bulk_ingest::HttpOptions options =
        SourceHttpOptions(*run->decl->options, run->request_headers, run->sensitive_headers, NULL);
    options.post_body_sensitive = run->body_sensitive;
    return options;
}

// Whether the page being read should have the next one requested ahead: pagination may follow it, no request is in
// line for it already (options.concurrency), and max_pages leaves a page after this one.
static bool NextPageWanted(RunState *run) {
    const bulk_ingest::SourceOptions *options = run->decl->options;
    if (run->ahead == NULL || options->pagination.type == bulk_ingest::PaginationType::kNone) {
        return false;
    }
    size_t in_line = 0;
    int64 pages = 0;
    CallCore([&] {
        in_line = run->ahead->Size();
        pages = run->paginator->Pages();
    });
    if (in_line > 0) {
        return false;
    }
    return options->max_pages <= 0 || options->max_pages - run->pages_read - pages > 1;
}

// options.concurrency: the requests of the pages after the one being read, as far as they can be predicted (offset
// and page pagination, every page full), up to concurrency - 1 in line, each paced in its turn.
static void SendPredictedPagesAhead(RunState *run, const char *url) {
    const bulk_ingest::SourceOptions *options = run->decl->options;
    if (run->ahead == NULL || options->concurrency <= 1) {
        return;
    }
    typedef std::vector<std::pair<std::string, std::string>> Requests;  // URL, body
    Requests *predicted = NewInMemoryContext<Requests>([&] {
        auto *requests = new Requests();
        for (auto &[next, parameters] :
             run->paginator->PredictFullPages((size_t)options->concurrency - 1, (uint64_t)run->last_page_records)) {
            std::string body =
                run->body_template != NULL ? bulk_ingest::BodyWithParameters(run->body_template, parameters) : "";
            if (!run->ahead->Has(next, body) && bulk_ingest::HostKey(next) == bulk_ingest::HostKey(url)) {
                requests->emplace_back(next, body);
            }
        }
        return requests;
    });
    for (size_t i = 0; i < predicted->size(); i++) {
        int64 turn = ReserveRequestTurn(url, options->request.rate_limit);
        CallCore([&] {
            const auto &[next, body] = (*predicted)[i];
            bulk_ingest::HttpOptions http = AheadHttpOptions(run);
            if (run->body_template != NULL) {
                http.post_body = body;
            }
            run->ahead->Push(std::make_unique<bulk_ingest::RequestAhead>(
                std::make_unique<bulk_ingest::HttpStream>(next, std::move(http)), body, turn));
        });
    }
}

// Loads every batch of one page (one HTTP response), in page_cxt, which it resets at the end.
static PageOutcome IngestPageOnce(RunState *run, const char *url, MemoryContext page_cxt) {
    MemoryContext run_cxt = MemoryContextSwitchTo(page_cxt);
    PageOutcome outcome;
    memset(&outcome, 0, sizeof(outcome));
    // What messages and the progress view show. It outlives the page (errors after the page's end name it).
    char *shown = Redacted(run, run_cxt, url);
    if (run->page_url != NULL) {
        pfree((void *)run->page_url);
    }
    run->page_url = shown;
    run->batch++;
    ProgressSetPhase("connecting", run->page_url);
    MemoryContext stream_cxt = NULL;
    bulk_ingest::HttpStream *stream = StartPage(run, url, &stream_cxt);
    const Declaration *decl = run->decl;
    if (stream == NULL) {
        run->batch--;
        MemoryContextSwitchTo(run_cxt);
        MemoryContextReset(page_cxt);
        return outcome;
    }
    const std::string &watermark_header = decl->options->high_watermark_header;
    if (!watermark_header.empty()) {
        // A header versions one document: the first page's ETag says nothing of the pages after it, so a source
        // that turns out to paginate would be "unchanged" for ever while its later pages change.
        char *next = CallCoreForText(page_cxt, [&] { return stream->NextPageUrl(); });
        if (next != NULL) {
            ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                            errmsg("the response links to a next page (Link: rel=\"next\"), but the source's "
                                   "watermark is its %s header (options.high_watermark_path), which versions a single "
                                   "document: the first page's %s says nothing of the next pages",
                                   watermark_header.c_str(), watermark_header.c_str()),
                            errhint("Use a high_watermark_column with the source's pagination, or a URL that returns "
                                    "the whole document.")));
        }
    }
    if (!watermark_header.empty() && run->header_watermark == NULL) {
        run->header_watermark = CallCoreForText(run_cxt, [&]() -> std::optional<std::string> {
            auto value = stream->Header(watermark_header);
            return value && !value->empty() ? value : std::nullopt;
        });
    }
    if (run->page_content_type != NULL) {
        pfree(run->page_content_type);
    }
    run->page_content_type = CallCoreForText(run_cxt, [&] { return stream->Header("Content-Type"); });
    // A body declared in another charset (Content-Type: ...; charset=latin1) is converted to UTF-8 as it streams.
    bulk_ingest::ByteSource *body = stream;
    char *charset = CallCoreForText(page_cxt, [&]() -> std::optional<std::string> {
        auto content_type = stream->Header("Content-Type");
        auto declared = content_type ? bulk_ingest::CharsetFromContentType(*content_type) : std::nullopt;
        return declared && !bulk_ingest::IsUtf8Charset(*declared) ? declared : std::nullopt;
    });
    // What reads the stream lives in the stream's own context, created after it, so that it goes first however the
    // page ends: a context's objects are deleted in reverse order of creation, but its child contexts (the stream's)
    // before any of them, which freed the stream under a read-ahead still reading it when a batch failed or was
    // cancelled mid-page (found by scripts/test-asan-integration.sh: a heap-use-after-free on the producer thread).
    MemoryContextSwitchTo(stream_cxt);
    if (charset != NULL) {
        body = NewInMemoryContext<bulk_ingest::TranscodingSource>(
            [&] { return new bulk_ingest::TranscodingSource(*stream, charset); });
    }
    bulk_ingest::RecordReader *records = NewInMemoryContext<bulk_ingest::RecordReader>([&] {
        return bulk_ingest::MakeRecordReader(run->row->format, *body, DeclaredColumnSpecs(decl), *decl->options,
                                             (size_t)bulk_ingest_max_record_size * 1024)
            .release();
    });
    outcome.link_header = CallCoreForText(run_cxt, [&] { return stream->Header("Link"); });
    const std::string &cursor_header = decl->options->pagination.header;
    if (!cursor_header.empty()) {
        outcome.cursor_header = CallCoreForText(run_cxt, [&] { return stream->Header(cursor_header); });
    }
    outcome.url = CallCoreForText(run_cxt, [&] { return stream->Url(); });
    // The next pages' requests go out while this one loads: predicted ones (options.concurrency), or the next page
    // once the read-ahead has read this one whole.
    SendPredictedPagesAhead(run, url);
    int64 next_turn = NextPageWanted(run) ? ReserveRequestTurn(url, decl->options->request.rate_limit) : -1;
    // The transfer and the parsing run on a thread of their own, ahead of COPY (deleted before the reader, the
    // stream and the transcoder it reads: a memory context's objects go in reverse order of creation).
    bulk_ingest::PrefetchingReader *reader = NewInMemoryContext<bulk_ingest::PrefetchingReader>([&] {
        bulk_ingest::PrefetchOptions prefetch;
        prefetch.should_abort = ShouldAbortTransfer;
        prefetch.skips_refused = run->batch_source.skip_bad_records;
        prefetch.copy_row_columns = (size_t)decl->ncolumns;  // COPY's rows are encoded on the read-ahead's core
        if (run->batch_source.binary_rows) {
            prefetch.binary_columns.assign(run->batch_source.binary_columns,
                                           run->batch_source.binary_columns + decl->ncolumns);
        }
        if (next_turn >= 0) {
            bulk_ingest::PageInfo page;
            page.url = outcome.url;
            if (outcome.link_header != NULL) {
                page.link_header = std::string(outcome.link_header);
            }
            if (outcome.cursor_header != NULL) {
                page.cursor_header = std::string(outcome.cursor_header);
            }
            bulk_ingest::NextPagePlan plan{*run->paginator, page,      decl->options,   AheadHttpOptions(run),
                                           std::nullopt,    next_turn, std::string(url)};
            if (run->body_template != NULL) {
                plan.body_template = std::string(run->body_template);
            }
            prefetch.on_end = bulk_ingest::NextPageAhead::OnEnd(run->ahead->Arm(), std::move(plan));
        }
        return new bulk_ingest::PrefetchingReader(*records, prefetch);
    });
    MemoryContextSwitchTo(page_cxt);
    BatchSource *source = &run->batch_source;
    source->reader = reader;
    source->row_buffer = NewInMemoryContext<bulk_ingest::GrowBuffer>([] { return new bulk_ingest::GrowBuffer(); });
    source->deletes = decl->options->request.deleted_path.empty()
                          ? NULL
                          : NewInMemoryContext<std::map<std::string, std::vector<std::string>>>(
                                [] { return new std::map<std::string, std::vector<std::string>>(); });
    source->end_of_page = false;
    source->bytes_reported = 0;
    uint64 bytes_before = 0;
    MemoryContextSwitchTo(run_cxt);

    while (!source->end_of_page) {
        int64 rejected = 0;
        int64 rows = LoadAndCommitBatch(run, reader, &bytes_before, &rejected);
        // Rejected records and deletes are records of the page too (the pagination counts them).
        int64 records = rows + rejected + run->batch_source.deleted_records;
        if (records > 0) {
            outcome.rows += records;
            run->page_rows += records;
            run->batch++;
        }
    }
    run->batch--;  // the batch number taken for the next load was not used by this page
    MemoryContextSwitchTo(page_cxt);
    bulk_ingest::PageInfo *body_values =
        NewInMemoryContext<bulk_ingest::PageInfo>([] { return new bulk_ingest::PageInfo(); });
    CallCore([&] { bulk_ingest::ReadBodyPaginationValues(reader->Inner(), *decl->options, body_values); });
    outcome.body_value = CallCoreForText(run_cxt, [&] { return body_values->body_value; });
    outcome.has_more = CallCoreForText(run_cxt, [&] { return body_values->has_more; });
    outcome.total = CallCoreForText(run_cxt, [&] { return body_values->total; });
    outcome.total_pages = CallCoreForText(run_cxt, [&] { return body_values->total_pages; });
    MemoryContextSwitchTo(run_cxt);
    MemoryContextReset(page_cxt);  // ends the transfer
    return outcome;
}

// Decides, inside the error handler of a failed page, whether the failure is a transfer that broke off mid-body
// before any batch of the page committed, and the retry policy allows another try. Must not raise errors.
static bool ShouldRetryPage(RunState *run, const char *url) {
    const BatchSource *source = &run->batch_source;
    if (!source->http_failed || run->retry_policy == NULL) {
        return false;
    }
    if (run->page_rows > 0) {
        strlcpy(run->not_retried,
                "not retried: batches of this page had committed, and reading it again would load them twice",
                sizeof(run->not_retried));
        return false;
    }
    int64 delay = -1;
    char reason[512] = "";
    pg_bulk_ingest::CoreFailure failure;
    bool ok = pg_bulk_ingest::TryCore(
        [&] {
            bulk_ingest::RetryDecision decision = run->retry_policy->OnFailure(
                url, source->http_status, static_cast<bulk_ingest::HttpErrorKind>(source->http_kind),
                source->http_message);
            delay = decision.retry ? decision.delay_ms : -1;
            strlcpy(reason, decision.reason.c_str(), sizeof(reason));
        },
        &failure);
    run->page_retry_ms = ok ? delay : -1;
    if (run->page_retry_ms < 0) {
        strlcpy(run->not_retried, reason, sizeof(run->not_retried));
    }
    return run->page_retry_ms >= 0;
}

// Loads one page; a transfer that breaks off in the middle of the body is retried from the start of the page
// (its batch in flight rolled back), as long as no batch of the page has committed: re-reading it then would load
// committed rows twice.
static PageOutcome IngestPage(RunState *run, const char *url, MemoryContext page_cxt) {
    MemoryContext run_cxt = CurrentMemoryContext;
    int first_batch = run->batch;
    // One retry count and one time budget for every attempt of the page, whichever way each one fails.
    bulk_ingest::RetryPolicy *policy = run->retry_policy;
    CallCore([&] { policy->NextRequest(); });
    for (;;) {
        run->page_rows = 0;
        run->page_retry_ms = -1;
        run->not_retried[0] = '\0';
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
            CallCore([&] { policy->OnSuccess(url); });  // the page was read whole
            return run->page_outcome;
        }
        run->batch = first_batch;
        ereport(
            LOG,
            (errmsg("pg_bulk_ingest: source \"%s\": the transfer of %s broke off; retrying the page in " INT64_FORMAT
                    " ms",
                    run->row->source, run->page_url, run->page_retry_ms)));
        ProgressSetPhase("waiting to retry", NULL);
        PausePoint(PAUSE_IN_RETRY_WAIT);
        WaitInterruptibly(run->page_retry_ms);
    }
}

// The requests of the run (or of one window): the headers and the body template with the watermark, the window's
// bounds and the secrets substituted (in one pass: a value's text never expands a secret), in the current memory
// context. Returns the first page's URL.
static char *PrepareRequests(RunState *run, const bulk_ingest::TemplateValue *window_start,
                             const bulk_ingest::TemplateValue *window_end) {
    const bulk_ingest::SourceOptions *options = run->decl->options;
    const bulk_ingest::SecretMap *secrets = run->secrets;
    bulk_ingest::TemplateValues values;
    values.high_watermark = run->high_watermark;
    values.window_start = window_start;
    values.window_end = window_end;
    values.secrets = secrets;
    const char *bearer_token = run->bearer_token;
    SourceHeaders *headers = NewInMemoryContext<SourceHeaders>(
        [&] { return new SourceHeaders(SourceRequestHeaders(*options, values, bearer_token)); });
    run->request_headers = &headers->plain;
    run->sensitive_headers = &headers->sensitive;
    run->body_template = NULL;
    if (options->request.body) {
        run->body_template = CallCoreForText(
            CurrentMemoryContext, [&] { return bulk_ingest::ExpandJsonTemplate(*options->request.body, values); });
        bool sensitive_body = false;
        CallCore([&] { sensitive_body = !bulk_ingest::SecretReferences(*options->request.body).empty(); });
        run->body_sensitive = sensitive_body;
    }
    return CallCoreForText(CurrentMemoryContext, [&] {
        return bulk_ingest::ExpandTemplate(run->row->url, values, bulk_ingest::TemplateEncoding::kUrl);
    });
}

// Reads the pages of the run (or of one window) from first_url, or from where resume says the last run stopped.
// max_pages bounds the pages of the whole run, windows included.
static void IngestPages(RunState *run, const char *first_url, const bulk_ingest::PaginatorState *resume) {
    MemoryContext run_cxt = CurrentMemoryContext;
    const bulk_ingest::SourceOptions *options = run->decl->options;
    int64 max_pages = options->max_pages > 0 ? options->max_pages - run->pages_read : 0;
    bulk_ingest::Paginator *paginator = NewInMemoryContext<bulk_ingest::Paginator>(
        [&] { return new bulk_ingest::Paginator(options->pagination, first_url, max_pages); });
    run->paginator = paginator;
    if (resume != NULL) {
        CallCore([&] { paginator->Resume(*resume); });  // continues with the page the last run did not read
    }
    MemoryContext page_cxt = AllocSetContextCreate(run_cxt, "bulk_ingest page", ALLOCSET_DEFAULT_SIZES);
    // The requests sent ahead of their pages live as long as these pages, not longer: their threads stop with them.
    MemoryContext ahead_cxt = AllocSetContextCreate(run_cxt, "bulk_ingest requests ahead", ALLOCSET_SMALL_SIZES);
    MemoryContextSwitchTo(ahead_cxt);
    run->ahead = NewInMemoryContext<bulk_ingest::PagesAhead>([] { return new bulk_ingest::PagesAhead(); });
    run->ahead_selected = false;
    run->last_page_records = 0;
    MemoryContextSwitchTo(run_cxt);
    // offset and page pagination add their parameters to the first URL
    char *url = CallCoreForText(run_cxt, [&] { return paginator->FirstUrl(); });
    if (run->pages_read == 0) {
        PausePoint(PAUSE_BEFORE_FIRST_REQUEST);  // (a later window's first page is a page between pages)
    }
    for (bool first = true; url != NULL; first = false) {
        if (!first || run->pages_read > 0) {
            PausePoint(PAUSE_BETWEEN_PAGES);
        }
        MemoryContextSwitchTo(page_cxt);
        // The request's body: the template with the pagination's parameters ("in": "body").
        run->page_body = run->body_template == NULL ? NULL : CallCoreForText(page_cxt, [&] {
            return bulk_ingest::BodyWithParameters(run->body_template, paginator->BodyParameters());
        });
        char *page_body = run->page_body != NULL ? MemoryContextStrdup(run_cxt, run->page_body) : NULL;
        MemoryContextSwitchTo(run_cxt);
        run->page_body = page_body;  // outlives the page's context, which IngestPage resets
        run->page_ended = false;
        // The page's request may have been sent ahead: taken if it is this one, else whatever was sent is dropped.
        bool selected = false;
        CallCore([&] { selected = run->ahead->Select(url, page_body != NULL ? page_body : ""); });
        run->ahead_selected = selected;
        PageOutcome page = IngestPage(run, url, page_cxt);
        run->ahead_selected = false;
        run->last_page_records = page.rows;
        if (page_body != NULL) {
            pfree(page_body);
            run->page_body = NULL;
        }
        if (run->unchanged) {
            break;
        }
        MemoryContextSwitchTo(page_cxt);  // the intermediate text goes with the next page's reset
        url = CallCoreForText(run_cxt, [&] {
            bulk_ingest::PageInfo info;
            info.url = page.url != NULL ? page.url : url;
            auto set = [](std::optional<std::string> *into, const char *value) {
                if (value != NULL) {
                    *into = std::string(value);
                }
            };
            set(&info.link_header, page.link_header);
            set(&info.body_value, page.body_value);
            set(&info.has_more, page.has_more);
            set(&info.total, page.total);
            set(&info.total_pages, page.total_pages);
            set(&info.cursor_header, page.cursor_header);
            info.records = (uint64_t)page.rows;
            return paginator->Next(info);
        });
        MemoryContextSwitchTo(run_cxt);
    }
    CallCore([&] { run->pages_read += paginator->Pages(); });
    run->ahead = NULL;
    run->ahead_selected = false;
    MemoryContextDelete(ahead_cxt);  // requests sent for pages that are not read: dropped
    MemoryContextDelete(page_cxt);
}

// Where the next run continues, in the catalog, in a transaction of its own: the next window after one was read.
static void StoreWindowPosition(RunState *run, TimestampTz next_window) {
    BeginTransaction("pg_bulk_ingest: a window was read");
    char *position = TimestampTzText(next_window);
    const bulk_ingest::PaginationSpec &pagination = run->decl->options->pagination;
    char *point = CallCoreForText(CurrentMemoryContext, [&] {
        bulk_ingest::ResumePoint resume;
        resume.window = std::string(position);
        return bulk_ingest::EncodeResumePoint(resume, bulk_ingest::ResumeFingerprint(run->row->url, pagination),
                                              *run->secrets);
    });
    StoreResumeState(run->row->source, point);
    CommitTransaction();
}

static void IngestSource(RunState *run) {
    MemoryContext run_cxt = CurrentMemoryContext;
    const bulk_ingest::SourceOptions *options = run->decl->options;

    // The target is created (when missing) and checked now, so that a declaration that cannot be applied fails
    // before any request; the rebuild itself happens in the first batch's transaction.
    BeginTransaction("pg_bulk_ingest: preparing the target");
    TargetState target = InspectTarget(run->decl);
    run->relid = target.relid;
    run->target_created = target.created;
    CheckLoadPrivileges(run->decl, run->relid);
    RebuildPlan plan;
    PlanRebuild(run->decl, &target, false, target.created, &plan);
    MemoryContextSwitchTo(run_cxt);  // what follows lives as long as the run
    // Where the last run stopped: a window, and a page of it (max_pages).
    bulk_ingest::ResumePoint *resume = NewInMemoryContext<bulk_ingest::ResumePoint>([&] {
        auto *point = new bulk_ingest::ResumePoint();
        if (run->resume != NULL) {
            *point = bulk_ingest::DecodeResumePoint(
                run->resume, bulk_ingest::ResumeFingerprint(run->row->url, options->pagination), *run->secrets);
        }
        return point;
    });
    const bulk_ingest::PaginatorState *pages = resume->pages ? &*resume->pages : NULL;
    char *first_url = NULL;
    WindowCursor window;
    bool has_window = false;
    if (run->windowed) {
        // A window the last run stopped in (max_pages) continues as it was; a new one starts options.lag earlier.
        has_window = FirstWindow(run->decl, resume->window ? resume->window->c_str() : NULL, pages == NULL,
                                 GetCurrentTimestamp(), &window);
    } else {
        first_url = PrepareRequests(run, NULL, NULL);
    }
    CommitTransaction();
    MemoryContextSwitchTo(run_cxt);

    run->batch_source.decl = run->decl;
    run->batch_source.max_rows = options->batch_rows;
    run->batch_source.watermark = &run->watermark;
    run->batch_source.skip_bad_records = options->skip_bad_records;
    // Binary rows (binary_rows.h); not with on_error = 'skip', whose rejects keep the rows' COPY text.
    run->batch_source.binary_columns =
        (bulk_ingest::BinaryColumn *)palloc0(sizeof(bulk_ingest::BinaryColumn) * Max(run->decl->ncolumns, 1));
    run->batch_source.binary_rows =
        !options->skip_bad_records && DeclarationTakesBinaryRows(run->decl, run->batch_source.binary_columns);
    run->batch_source.max_rejects = options->max_rejects;
    run->batch_source.reject_cxt = AllocSetContextCreate(run_cxt, "bulk_ingest rejects", ALLOCSET_SMALL_SIZES);
    if (!run->windowed) {
        IngestPages(run, first_url, pages);
        run->batch = 0;
        return;
    }
    // One window after another; each one's requests in a memory context of its own (the last one's lives on: what
    // the run records at its end).
    MemoryContext window_cxt = AllocSetContextCreate(run_cxt, "bulk_ingest window", ALLOCSET_DEFAULT_SIZES);
    for (bool more = has_window; more; more = NextWindow(&window)) {
        MemoryContextReset(window_cxt);
        MemoryContextSwitchTo(window_cxt);
        run->window_start = window.start;
        BeginTransaction("pg_bulk_ingest: preparing a window");
        MemoryContextSwitchTo(window_cxt);
        bulk_ingest::TemplateValue *start = WindowBound(run->decl, window.start, run->watermark.max_source);
        bulk_ingest::TemplateValue *end = WindowBound(run->decl, window.end, run->watermark.max_source);
        char *url = PrepareRequests(run, start, end);
        CommitTransaction();
        MemoryContextSwitchTo(window_cxt);
        if (options->max_pages > 0 && run->pages_read >= options->max_pages) {
            // The pages of the run are spent with windows left: the next run starts with this one.
            run->next_window_url = MemoryContextStrdup(run_cxt, url);
            break;
        }
        IngestPages(run, url, pages);
        pages = NULL;  // the kept page belongs to the first window only
        MemoryContextSwitchTo(run_cxt);
        if (run->paginator->StoppedAtMaxPages()) {
            break;  // the next run continues with this window, at the page it did not read
        }
        StoreWindowPosition(run, window.end);
        MemoryContextSwitchTo(run_cxt);
    }
    run->batch = 0;
}

// A run that stopped at max_pages says so (runs.next_page, the caller's NOTICE) and keeps where the next run
// continues: the next page itself, unless the watermark says it (records in the order of the watermark, so asking for
// what is after the stored maximum is asking for the pages not read). A run that read every page clears it.
static void RecordWhereTheRunStopped(RunState *run) {
    bulk_ingest::Paginator *paginator = run->paginator;
    if (paginator == NULL) {
        return;
    }
    if (run->next_window_url != NULL) {
        // max_pages was reached at the end of a window: the next window (its position is stored) is the next page.
        RecordNextPage(run->run_id, Redacted(run, CurrentMemoryContext, run->next_window_url));
        return;
    }
    if (!paginator->StoppedAtMaxPages()) {
        // Read to the end: the next run starts over (windows keep the position each window stored).
        if (run->had_resume && !run->windowed && paginator->Done()) {
            StoreResumeState(run->row->source, NULL);
        }
        return;
    }
    const bulk_ingest::SourceOptions *options = run->decl->options;
    char *next_page = CallCoreForText(CurrentMemoryContext, [&] { return paginator->ResumeState().url; });
    RecordNextPage(run->run_id, Redacted(run, CurrentMemoryContext, next_page));
    bool keep_page = run->windowed || run->decl->watermark_column < 0 || run->watermark.descending;
    char *window = run->windowed ? TimestampTzText(run->window_start) : NULL;
    char *state =
        keep_page ? CallCoreForText(CurrentMemoryContext,
                                    [&] {
                                        bulk_ingest::ResumePoint point;
                                        if (window != NULL) {
                                            point.window = std::string(window);
                                        }
                                        point.pages = paginator->ResumeState();
                                        return bulk_ingest::EncodeResumePoint(
                                            point, bulk_ingest::ResumeFingerprint(run->row->url, options->pagination),
                                            *run->secrets);
                                    })
                  : NULL;
    if (state != NULL || run->had_resume) {
        StoreResumeState(run->row->source, state);
    }
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
                               "cancelled: the run's worker was asked to stop (bulk_ingest_cancel(), a cancelled "
                               "bulk_ingest_run() call, pg_terminate_backend() or a server shutdown)");
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
            // The value, unless the message shows it already (most input functions quote it).
            if (source->error_value[0] != '\0' && strstr(edata->message, source->error_value) == NULL) {
                appendStringInfo(&message, ", value \"%s\"", source->error_value);
            }
            appendStringInfoString(&message, ": ");
        }
    }
    appendStringInfoString(&message, edata->message);
    if (edata->detail != NULL) {
        appendStringInfo(&message, " (%s)", edata->detail);
    }
    if (run->batch > 0 && run->batch_source.error_excerpt[0] != '\0') {
        appendStringInfo(&message, " (near \"%s\")", run->batch_source.error_excerpt);
    }
    if (run->not_retried[0] != '\0') {
        appendStringInfo(&message, " (%s)", run->not_retried);
    }
    // A JSON source that answered with a page of HTML (a login page, a proxy's error page, served with 200) fails
    // as invalid JSON at its first byte: say what the server sent.
    const char *type = run->page_content_type;
    if (run->batch > 0 && type != NULL && strcmp(run->row->format, "csv") != 0 && strstr(edata->message, "JSON") &&
        (pg_strncasecmp(type, "text/html", 9) == 0 || pg_strncasecmp(type, "application/xhtml", 17) == 0 ||
         pg_strncasecmp(type, "text/xml", 8) == 0 || pg_strncasecmp(type, "application/xml", 15) == 0)) {
        appendStringInfo(&message, "; the response's Content-Type is %s, not JSON", type);
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
    run->latest = strcmp(requested, "__LATEST__") == 0;
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
        run->windowed = options->request.window.has_value();
        char *source_value, *resume;
        LoadWatermarkExtras(run->row->source, &source_value, &resume);
        run->watermark.max_source = source_value;
        run->had_resume = resume != NULL;
        run->resume = run->latest ? resume : NULL;  // a requested watermark starts from the first page
        run->high_watermark = MakeWatermarkValue(run->decl, run->start_watermark, source_value, run->latest);
        if (options->request.oauth2) {
            // The cached token, or a new one; never shown: redacted like the secrets.
            run->bearer_token = SourceBearerToken(run->decl, run->secrets, false, ShouldAbortTransfer);
            const char *token = run->bearer_token;
            CallCore([&] { (*run->secrets)[BULK_INGEST_TOKEN_SECRET] = token; });
        }
        if (!options->high_watermark_header.empty() && run->start_watermark != NULL) {
            run->conditional_header =
                psprintf("%s: %s", options->high_watermark_header == "ETag" ? "If-None-Match" : "If-Modified-Since",
                         run->start_watermark);
        }
        run->retry_policy = NewInMemoryContext<bulk_ingest::RetryPolicy>([&] {
            bulk_ingest::RetryOptions retry;
            retry.max_retries = options->max_retries;
            retry.total_budget_ms = options->max_retry_time_ms;
            retry.redact = [secrets](const std::string &text) { return bulk_ingest::RedactSecrets(text, *secrets); };
            return new bulk_ingest::RetryPolicy(retry);
        });
        CommitTransaction();
        MemoryContextSwitchTo(run_cxt);

        IngestSource(run);

        PausePoint(PAUSE_BEFORE_FINISH);
        ProgressSetPhase("finishing", NULL);
        BeginTransaction("pg_bulk_ingest: finishing a run");
        // A source versioned by a header is up to date only once the whole run succeeded.
        if (run->header_watermark != NULL) {
            StoreWatermark(run->row->source, run->header_watermark);
            StoreWatermarkSourceValue(run->row->source, NULL);  // the header's value is its own form
        }
        RecordWhereTheRunStopped(run);
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
        pg_read_barrier();
        if (run->slot != NULL && run->slot->abort_reason[0] != '\0') {
            // The caller stopped the run for a reason it gave (the run waited for the caller's own lock).
            cancelled = false;
            message = run->batch > 0 ? psprintf("batch %d (%s): %s; the batch was rolled back", run->batch,
                                                run->page_url, run->slot->abort_reason)
                                     : pstrdup(run->slot->abort_reason);
        }
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
    pqsignal(SIGHUP, SignalHandlerForConfigReload);  // read only while paused (test_pause.h)
    pqsignal(SIGUSR2, HandleTestResume);
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
