// Loading one batch through PostgreSQL's internal COPY API.
//
// The rows of a batch stream from the record reader (and so from the HTTP response) into COPY's data-source
// callback; nothing holds more than the current row. With upserts the batch is copied into a temporary staging
// table and merged on the primary key, the last row of a key winning.
#pragma once

#include "pg/pg_prelude.h"

#include "pg/declaration.h"
#include "pg/merge.h"
#include "core/record_reader.h"

extern "C" {
#include "fmgr.h"
}

// The watermark of a run: the maximum of the high_watermark_column, compared in the column's type.
typedef struct WatermarkState {
    bool enabled;
    Oid type_oid;
    FmgrInfo input;  // the type's input function
    Oid input_param;
    int32 typmod;
    FmgrInfo compare;  // the type's btree comparison function
    Oid collation;
    int16 typlen;
    bool typbyval;
    MemoryContext cxt;  // holds max; lives as long as the run
    bool has_max;
    Datum max;
    bool changed;  // max grew in the current batch
} WatermarkState;

// Where a batch's rows come from, and what it reports. Lives across the batches of a page.
typedef struct BatchSource {
    const Declaration *decl;
    bulk_ingest::RecordReader *reader;
    std::string *row_buffer;  // the encoded row being handed to COPY (owned by the page's memory context)
    int64 max_rows;
    bool merge;        // merge upserted rows into the table (false: the table is being rebuilt, rows are appended)
    bool end_of_page;  // set when the reader reached the end of the response
    MergeState merge_state;  // what the run's merges learnt (zeroed with the run)
    // Upserts try COPY straight into the target first (the run filled a new or empty table, and no key has
    // conflicted since): set by the run, cleared by the first conflict.
    bool load_directly;
    WatermarkState *watermark;
    uint64 bytes_reported;  // bytes of the response already counted in the progress slot
    // Set when the batch failed because the HTTP transfer broke (so that the page may be retried).
    bool http_failed;
    long http_status;
    int http_kind;  // a bulk_ingest::HttpErrorKind
    char http_message[1024];
    // Where an error happened, for the run's error message (0 / NULL when unknown).
    uint64 error_line;
    const char *error_column;
} BatchSource;

// Loads at most source->max_rows rows into the table relid in the current transaction. With source->merge (upserts
// into a table in place) they go through a staging table and are merged on the primary key; otherwise COPY appends
// them. Returns the number of rows loaded; sets source->end_of_page when the response has no more records.
int64 LoadBatch(BatchSource *source, Oid relid);

// Prepares the watermark of a run from the declaration and the stored value (NULL when none).
void InitWatermark(WatermarkState *state, const Declaration *decl, const char *stored_value);

// The watermark's text, in the current memory context, or NULL when there is none.
char *WatermarkText(const WatermarkState *state);
