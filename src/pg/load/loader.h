// Loading one batch through PostgreSQL's internal COPY API.
//
// The rows of a batch stream from the record reader (and so from the HTTP response) into COPY's data-source
// callback; nothing holds more than the current row, and the reader gives a long row's memory back once the row is
// encoded, before COPY makes its own copies of it. With upserts the batch is copied into a temporary staging
// table and merged on the primary key, the last row of a key winning.
#pragma once

#include "pg/pg_prelude.h"

#include <map>
#include <string>
#include <vector>

#include "pg/catalog/declaration.h"
#include "core/copy_binary.h"
#include "core/grow_buffer.h"
#include "pg/load/merge.h"
#include "core/record_reader.h"

extern "C" {
#include "fmgr.h"
#include "nodes/pg_list.h"
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
    // The value that holds max as the source wrote it (before a declared format), in cxt; NULL when unknown: what
    // {high_watermark} sends back.
    char *max_source;
    bool max_from_run;  // max is a value of this run's records (not the stored one)
    bool descending;    // a record of this run was below an earlier record's maximum: records are not in order
} WatermarkState;

// Where a batch's rows come from, and what it reports. Lives across the batches of a page.
typedef struct BatchSource {
    const Declaration *decl;
    bulk_ingest::RecordReader *reader;
    bulk_ingest::GrowBuffer *row_buffer;  // the encoded row being handed to COPY (owned by the page's memory context)
    int64 max_rows;
    // The run loads binary rows (binary_rows.h): how each column's values are converted (ncolumns entries), and the
    // reader's CopyRow() rows are binary ones. False: COPY text rows.
    bool binary_rows;
    bulk_ingest::BinaryColumn *binary_columns;
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
    // Where an error happened, for the run's error message (0 / NULL when unknown). For a failure of the input
    // itself (the transfer broke off, a charset conversion failed) error_line is where reading stopped.
    uint64 error_line;
    const char *error_column;
    // options.deleted_path: the keys (their columns' texts) of this batch's records that delete their row, by the
    // key's COPY text; the last record of a key decides (a later row of the key takes it off). NULL without it.
    std::map<std::string, std::vector<std::string>> *deletes;
    int64 deleted_records;    // records of the batch that were deletes
    char error_value[160];    // a short excerpt of the value COPY could not take ("" when none)
    char error_excerpt[160];  // the text near a record's error (RecordError::excerpt), "" when none
    uint64 error_copy_line;   // COPY's line (of the attempt) of the row that failed, 0 when unknown
    bool fatal_error;         // the failure is not a row's (the input failed, too many rejects): never skipped
    // options.on_error = 'skip': rejected records go to bulk_ingest.rejects (rejects.h) instead of failing the batch.
    bool skip_bad_records;
    int64 max_rejects;         // the most rejects of the run
    int64 run_rejected;        // rejects of the run's committed batches
    List *rejects;             // the batch's rejects (Reject *), in reject_cxt, for the batch's transaction
    MemoryContext reject_cxt;  // reset when a batch starts
    uint64 reject_line;        // a record the reader refused, on its way out of the C++ frame
    char reject_error[1024];
    char reject_text[1025];
    size_t reject_text_len;
} BatchSource;

// Loads at most source->max_rows rows into the table relid in the current transaction. With source->merge (upserts
// into a table in place) they go through a staging table and are merged on the primary key; otherwise COPY appends
// them. Returns the number of rows loaded; sets source->end_of_page when the response has no more records.
int64 LoadBatch(BatchSource *source, Oid relid);

// Prepares the watermark of a run from the declaration and the stored value (NULL when none).
void InitWatermark(WatermarkState *state, const Declaration *decl, const char *stored_value);

// The watermark's text, in the current memory context, or NULL when there is none.
char *WatermarkText(const WatermarkState *state);
