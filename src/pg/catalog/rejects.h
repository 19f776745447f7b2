// Rejected records (options.on_error = 'skip'): kept in bulk_ingest.rejects with where they were and why, written
// in the transaction of their batch so that they commit (or roll back) with it.
#pragma once

#include "pg/pg_prelude.h"

extern "C" {
#include "nodes/pg_list.h"
}

// At most this much of a rejected record is kept.
#define REJECT_RECORD_MAX 1024

typedef struct Reject {
    uint64 line;   // line (ndjson, csv) or record (json) of the response; 0 when unknown
    char *column;  // the column whose value was refused, or NULL
    char *error;
    char *record;  // the record (at most REJECT_RECORD_MAX bytes, whole characters) or the text near the error
} Reject;

// A Reject in the current memory context; record is cut to REJECT_RECORD_MAX bytes (whole characters).
Reject *MakeReject(uint64 line, const char *column, const char *error, const char *record, size_t record_len);

// Inserts the rejects (a List of Reject *) of batch `batch` of the run, read from url, and adds their number to the
// run's counter, in the current transaction.
void RecordRejects(int64 run_id, const char *source, int batch, const char *url, List *rejects);
