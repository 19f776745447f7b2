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

// Inserts a 'running' run for the source and returns its id.
int64 InsertRun(const char *source, const char *high_watermark_before);

// Adds a committed batch to the run's counters and stores the new watermark (when not NULL), in the current
// transaction: the caller commits them together with the batch's rows.
void RecordBatch(int64 run_id, const char *source, int64 rows, int64 bytes, const char *new_watermark);

// Ends the run with status ('succeeded', 'failed' or 'cancelled'); error may be NULL.
void FinishRun(int64 run_id, const char *status, const char *error);

// The run's row as the text of a record of type bulk_ingest.runs, in the caller's memory context.
char *RunRowText(int64 run_id);

// Runs SQL with text parameters (NULL pointers are SQL NULLs) as the extension's owner. Returns SPI's result code;
// the caller must be connected to SPI.
int ExecuteAsCatalogOwner(const char *sql, int nargs, const char *const *args, bool read_only, long count);
