// The extension's catalog (schema bulk_ingest): reading declarations, writing runs and watermarks.
//
// The catalog tables are writable only by the extension's owner. Every write below switches to that role for the
// duration of the statement, so users change the catalog only through the extension's functions, which check
// ownership of the source first.
#pragma once

#include "pg/pg_prelude.h"

// A row of bulk_ingest.sources plus its stored watermark, as C strings in the caller's memory context.
typedef struct SourceRow {
    char *source;
    char *url;
    char *target;
    char *columns;  // JSON text
    char *format;
    char *high_watermark_column;  // NULL when not declared
    char *upsert;
    char *delete_mode;
    char *options;  // JSON text
    Oid owner;
    char *watermark;  // NULL when the source has none yet
} SourceRow;

// Loads a source. Raises an error naming the source when it does not exist, unless missing_ok (then NULL).
SourceRow *LoadSource(const char *source, bool missing_ok);

// Raises an error unless the current user is the source's owner, a member of it, or a superuser.
void CheckSourceOwnership(const SourceRow *row, const char *action);

// Raises an error unless the source's owner can log in (a run connects as the owner).
void CheckOwnerCanConnect(const SourceRow *row);

// Inserts a run of the source with status ('running' or 'queued') and trigger ('run', 'start', 'schedule'), and
// returns its id; returns 0 when the source already has a queued or running run (one at a time).
int64 InsertRun(const char *source, const char *status, const char *trigger, const char *requested_high_watermark);

// The id of the source's queued or running run, or 0.
int64 ActiveRunOf(const char *source);

// Marks the source's 'running' runs as failed with reason: called by whoever holds the source's run lock, which
// proves that no worker is running them any more (it crashed, or the server restarted).
void FailStaleRuns(const char *source, const char *reason);

// The source of a queued run, or NULL when the run is no longer queued.
char *QueuedRunSource(int64 run_id);

// Takes a queued run for execution (status 'running', started now). Returns false when it is no longer queued (it
// was cancelled). Sets *source and *requested_high_watermark (in the caller's memory context).
bool ClaimQueuedRun(int64 run_id, char **source, char **requested_high_watermark);

// Records the watermark the run starts from (the one its first URL is built with).
void SetRunStartWatermark(int64 run_id, const char *high_watermark_before);

// Adds a committed batch to the run's counters and stores the new watermark (when not NULL), in the current
// transaction: the caller commits them together with the batch's rows.
void RecordBatch(int64 run_id, const char *source, int64 rows, int64 bytes, const char *new_watermark);

// Records why the run rebuilt its target, and how the swap's lock was taken (attempts < 0: no swap), in the
// transaction of the batch that swapped the table in.
void RecordRebuild(int64 run_id, const char *reason, int lock_attempts, double lock_wait_ms);

// Stores the source's watermark (in the current transaction).
void StoreWatermark(const char *source, const char *value);

// Ends the run with status ('succeeded', 'failed' or 'cancelled'); error may be NULL, and so may attempts (the
// history of failed requests and their retries).
void FinishRun(int64 run_id, const char *status, const char *error, const char *attempts);

// The run's row as the text of a record of type bulk_ingest.runs, in the caller's memory context.
char *RunRowText(int64 run_id);

// Calls add(name, value) for each secret of the source (read as the extension's owner).
void LoadSecrets(const char *source, void (*add)(void *arg, const char *name, const char *value), void *arg);

// Runs SQL with text parameters (NULL pointers are SQL NULLs) as the extension's owner. Returns SPI's result code;
// the caller must be connected to SPI.
int ExecuteAsCatalogOwner(const char *sql, int nargs, const char *const *args, bool read_only, long count);
