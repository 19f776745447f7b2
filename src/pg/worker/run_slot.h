// The dynamic shared memory segment shared by bulk_ingest_run() (the caller) and the worker that does the run.
#pragma once

#include "pg/pg_prelude.h"

extern "C" {
#include "port/atomics.h"
}

#define RUN_SLOT_MAGIC 0x424b494e  // "BKIN"

typedef struct RunSlot {
    uint32 magic;
    // Set by the caller before the worker starts.
    Oid database;
    Oid owner;
    char source[1024];
    char high_watermark[8192];  // '__LATEST__', '__EARLIEST__' or an explicit value
    // Progress, written by the worker after each committed batch.
    pg_atomic_uint64 batches;
    pg_atomic_uint64 rows;
    pg_atomic_uint64 bytes;
    int64 run_id;  // 0 until the run is recorded
    // The outcome, written by the worker just before it exits.
    bool finished;
    bool succeeded;
    char run_row[16384];  // the run's row as record text ('' when no run was recorded)
    char error[16384];    // the error message when not succeeded
    // Written by the caller before it stops the worker for a reason of its own (the run waits for a lock the
    // caller holds): the worker records the run as failed with this message rather than as cancelled.
    char abort_reason[1024];
} RunSlot;

// What the launcher tells a worker it starts for a queued run (in bgw_extra; the run id is the main argument).
typedef struct QueuedRunTarget {
    Oid database;
    Oid owner;
} QueuedRunTarget;
