// bulk_ingest.test_pause_at: a testing aid that stops a run at a named point, so that a test can kill the worker, the
// launcher or the server there deterministically instead of by timing luck.
//
// The setting (superuser only) names a point, optionally with the how-many-th time the run reaches it:
// 'before_commit' (the first time), 'before_commit:2' (the second batch). A run that reaches it reports
// "paused at <point>" in bulk_ingest.progress.phase and "pg_bulk_ingest: paused at <point>" in
// pg_stat_activity.query, logs it, and waits on its latch until it is sent SIGUSR2, until a reloaded configuration
// (SIGHUP) no longer names the point, or until it is cancelled or terminated.
//
// When the setting is empty (always, outside tests) a point costs one load and one compare: PausePoint is inline
// and the rest is out of line.
#pragma once

#include "pg/pg_prelude.h"

extern char *bulk_ingest_test_pause_at;  // bulk_ingest.test_pause_at ("" or NULL: off)

// The points, in the order a run reaches them.
#define PAUSE_BEFORE_FIRST_REQUEST "before_first_request"  // the run is recorded, nothing requested yet
#define PAUSE_IN_RETRY_WAIT "in_retry_wait"                // waiting before the retry of a failed request
#define PAUSE_BEFORE_COPY "before_copy"                    // a batch's transaction started, the target checked
#define PAUSE_MID_COPY "mid_copy"                          // COPY has the first row of the batch
#define PAUSE_AFTER_COPY "after_copy"                      // every row of the batch is in COPY's table
#define PAUSE_BEFORE_MERGE "before_merge"                  // upserts: the batch is staged, not merged
#define PAUSE_AFTER_MERGE "after_merge"                    // upserts: the batch is merged into the target
#define PAUSE_MID_REBUILD "mid_rebuild"                    // the rebuilt table has its key and the old rows
#define PAUSE_BEFORE_SWAP "before_swap"                    // the rebuilt table is ready, not swapped in
#define PAUSE_AFTER_SWAP "after_swap"                      // swapped in, not committed
#define PAUSE_BEFORE_WATERMARK "before_watermark"          // the batch is loaded, its counters and watermark not
#define PAUSE_BEFORE_COMMIT "before_commit"                // everything of the batch written, not committed
#define PAUSE_AFTER_COMMIT "after_commit"                  // the batch committed
#define PAUSE_BETWEEN_PAGES "between_pages"                // a page is done, the next not requested
#define PAUSE_BEFORE_FINISH "before_finish"                // every page done, the run not yet recorded as finished

void TestPause(const char *point);

static inline void PausePoint(const char *point) {
    if (unlikely(bulk_ingest_test_pause_at != NULL && bulk_ingest_test_pause_at[0] != '\0')) {
        TestPause(point);
    }
}

// SIGUSR2 in a run's worker: resume a paused run.
void HandleTestResume(SIGNAL_ARGS);
