// The background worker that performs one run (src/pg/worker/worker.cpp), as its starters see it.
#pragma once

#include "pg/pg_prelude.h"

extern "C" {
#include "postmaster/bgworker.h"
}

// Describes a run worker: entry point function_name ("bulk_ingest_worker_main" for bulk_ingest_run(), with the
// run's dynamic shared memory handle as argument; "bulk_ingest_queued_run_main" for the launcher, with the run id),
// named name, never restarted, notifying this process when it starts and stops.
void DescribeRunWorker(BackgroundWorker *worker, const char *function_name, const char *name, Datum main_arg);
