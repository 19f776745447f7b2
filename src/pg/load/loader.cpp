#include "pg/load/loader.h"

#include "core/batch_keys.h"
#include "core/copy_binary.h"
#include "core/copy_text.h"
#include "core/error.h"
#include "core/grow_buffer.h"
#include "pg/guard.h"
#include "pg/load/binary_rows.h"
#include "pg/load/merge.h"
#include "pg/load/unchanged_rows.h"
#include "pg/rights.h"
#include "pg/worker/shared_state.h"
#include "pg/sql.h"
#include "pg/load/target.h"
#include "pg/catalog/rejects.h"
#include "pg/worker/test_pause.h"

extern "C" {
#include "access/genam.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "commands/copy.h"
#include "commands/copyfrom_internal.h"
#include "storage/buffile.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "nodes/makefuncs.h"
#include "parser/parse_relation.h"
#include "storage/buffile.h"
#include "utils/resowner.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/typcache.h"
#include "utils/wait_event.h"
}

using pg_bulk_ingest::CallCore;
using pg_bulk_ingest::CoreFailure;
using pg_bulk_ingest::NewInMemoryContext;
using pg_bulk_ingest::RaiseCoreFailure;
using pg_bulk_ingest::TryCore;

static const char *const kStagingTable = "bulk_ingest_stage";
// A row buffer larger than this is given back after its row (the readers keep the same rule for their buffers).
static const size_t kKeepRowBytes = (size_t)4 << 20;
// Keys remembered per batch to tell whether it repeats one (8 bytes each): beyond, the merge sorts.
static const size_t kMaxBatchKeys = 4 * 1024 * 1024;

// The rows of a batch handed to COPY are also written to a temporary file when the batch may have to be copied again
// (the rows came from the network and cannot be read again):
//  - options.on_error = 'skip': a row COPY refuses is taken out and the batch copied again without it. A clean batch
//    pays for one sequential write of its rows; a batch with k refused rows is copied k + 1 times;
//  - an upsert loaded straight into the target (see LoadBatch): when a key conflicts, the batch is copied again from
//    the spool into the staging table and merged.
typedef struct SpoolEntry {
    off_t offset;  // in the spool file
    int32 len;
    bool rejected;
    uint64 line;  // line (record) of the response
} SpoolEntry;

typedef struct Spool {
    BufFile *file;
    SpoolEntry *entries;
    int64 count;  // rows read from the reader for this batch
    int64 max;
    off_t end;          // where the next row is written
    bool at_end;        // the file's position is end (no seek needed to write)
    int64 replay_next;  // the next entry an attempt hands to COPY again
    int64 *handed;      // this attempt's rows: their entries (COPY's line n is entry handed[n - 1])
    int64 max_handed;
} Spool;

// COPY's data-source callback takes no context argument, so the batch being loaded is module state. Only one COPY
// runs at a time in a backend; it is set for the duration of CopyFrom and cleared in PG_FINALLY.
typedef struct CopyFeed {
    BatchSource *source;
    CopyFromState cstate;
    Spool *spool;                  // the batch's rows, for copying it again (see Spool); NULL otherwise
    bulk_ingest::BatchKeys *keys;  // upserts: the keys of the batch, to tell whether one repeats; NULL otherwise
    // Upserts that compare while copying (unchanged_rows.h): the target, whose existing rows a copy into the staging
    // table leaves out; NULL when every row is staged.
    Relation compare_with;
    uint64 staged;         // rows of this attempt written to copy_rel (fewer than its rows when compared)
    int64 rows;            // rows handed to COPY in this attempt
    int64 deleted;         // records of this batch that delete their row (options.deleted_path)
    size_t buffer_offset;  // bytes of *row_buffer already handed to COPY
    // COPY reads binary rows (the run's binary_rows, and the relation has the declared types); the functions that
    // convert the values the core leaves to PostgreSQL.
    bool binary;
    BinaryConverter converter;
    MemoryContext row_cxt;  // reset for every row's watermark conversion
    // Maps COPY's line numbers back to lines of the response: runs of consecutive lines, one entry per run.
    uint64 *run_copy_line;
    uint64 *run_source_line;
    int nruns;
    int maxruns;
} CopyFeed;

static CopyFeed *feed = NULL;

static void NoteSourceLine(CopyFeed *f, uint64 copy_line, uint64 source_line) {
    if (f->nruns > 0) {
        int last = f->nruns - 1;
        if (f->run_source_line[last] + (copy_line - f->run_copy_line[last]) == source_line) {
            return;
        }
    }
    if (f->nruns == f->maxruns) {
        f->maxruns *= 2;
        f->run_copy_line = (uint64 *)repalloc(f->run_copy_line, sizeof(uint64) * f->maxruns);
        f->run_source_line = (uint64 *)repalloc(f->run_source_line, sizeof(uint64) * f->maxruns);
    }
    f->run_copy_line[f->nruns] = copy_line;
    f->run_source_line[f->nruns] = source_line;
    f->nruns++;
}

static uint64 SourceLineOf(const CopyFeed *f, uint64 copy_line) {
    for (int i = f->nruns - 1; i >= 0; i--) {
        if (f->run_copy_line[i] <= copy_line) {
            return f->run_source_line[i] + (copy_line - f->run_copy_line[i]);
        }
    }
    return 0;
}

// Folds the current record's watermark value into the run's maximum, in the column's own type, and keeps the
// source's text of the maximum (source, source_len: before the column's format converted it).
static void FoldWatermark(WatermarkState *wm, const char *value, size_t len, const char *source, size_t source_len) {
    MemoryContext old = MemoryContextSwitchTo(feed->row_cxt);
    MemoryContextReset(feed->row_cxt);
    Datum datum = InputFunctionCall(&wm->input, pnstrdup(value, len), wm->input_param, wm->typmod);
    int cmp = wm->has_max ? DatumGetInt32(FunctionCall2Coll(&wm->compare, wm->collation, datum, wm->max)) : 1;
    if (cmp < 0 && wm->max_from_run) {
        wm->descending = true;
    }
    if (cmp > 0) {
        MemoryContextSwitchTo(wm->cxt);
        if (wm->has_max && !wm->typbyval) {
            pfree(DatumGetPointer(wm->max));
        }
        wm->max = datumCopy(datum, wm->typbyval, wm->typlen);
        if (wm->max_source != NULL) {
            pfree(wm->max_source);
        }
        wm->max_source = pnstrdup(source, source_len);
        wm->has_max = true;
        wm->max_from_run = true;
        wm->changed = true;
    }
    MemoryContextSwitchTo(old);
}

static void NoteHanded(Spool *spool, int64 n, int64 entry) {
    if (n > spool->max_handed) {
        spool->max_handed = Max(n, spool->max_handed * 2);
        spool->handed = (int64 *)repalloc(spool->handed, sizeof(int64) * spool->max_handed);
    }
    spool->handed[n - 1] = entry;
}

// Hands COPY the next row an earlier attempt of the batch read (skipping the rejected ones). Returns false when
// there is none left to replay.
static bool ReplayRow(CopyFeed *f) {
    Spool *spool = f->spool;
    while (spool->replay_next < spool->count && spool->entries[spool->replay_next].rejected) {
        spool->replay_next++;
    }
    if (spool->replay_next == spool->count) {
        return false;
    }
    int64 index = spool->replay_next++;
    const SpoolEntry *entry = &spool->entries[index];
    bulk_ingest::GrowBuffer *buffer = f->source->row_buffer;
    if (buffer->capacity() > kKeepRowBytes) {
        buffer->release();
    } else {
        buffer->clear();
    }
    f->buffer_offset = 0;
    char block[8192];
    spool->at_end = false;
    if (BufFileSeek(spool->file, 0, entry->offset, SEEK_SET) != 0) {
        ereport(ERROR, (errcode_for_file_access(), errmsg("pg_bulk_ingest: could not read back a row of the batch")));
    }
    for (int32 left = entry->len; left > 0;) {
        size_t n = Min((size_t)left, sizeof(block));
        if (BufFileRead(spool->file, block, n) != n) {
            ereport(ERROR, (errcode_for_file_access(), errmsg("pg_bulk_ingest: could not read back a row")));
        }
        CallCore([&] { buffer->append(block, n); });
        left -= (int32)n;
    }
    f->rows++;
    NoteHanded(spool, f->rows, index);
    NoteSourceLine(f, (uint64)f->rows, entry->line);
    return true;
}

// Writes the row just read to the spool.
static void SpoolRow(CopyFeed *f, uint64 line) {
    Spool *spool = f->spool;
    const bulk_ingest::GrowBuffer *buffer = f->source->row_buffer;
    if (spool->count == spool->max) {
        spool->max *= 2;
        spool->entries = (SpoolEntry *)repalloc_huge(spool->entries, sizeof(SpoolEntry) * spool->max);
    }
    SpoolEntry *entry = &spool->entries[spool->count];
    entry->offset = spool->end;
    entry->len = (int32)buffer->size();
    entry->rejected = false;
    entry->line = line;
    if (!spool->at_end && BufFileSeek(spool->file, 0, spool->end, SEEK_SET) != 0) {
        ereport(ERROR, (errcode_for_file_access(), errmsg("pg_bulk_ingest: could not write a row of the batch")));
    }
    spool->at_end = true;
    BufFileWrite(spool->file, (void *)buffer->data(), buffer->size());
    spool->end += (off_t)buffer->size();
    spool->count++;
    spool->replay_next = spool->count;  // rows read now are handed by this attempt
    NoteHanded(spool, f->rows, spool->count - 1);
}

// The rejects of the run so far (committed and pending) against options.max_rejects.
static void CheckRejectLimit(BatchSource *source, const Reject *last) {
    int64 total = source->run_rejected + list_length(source->rejects);
    if (total > source->max_rejects) {
        source->fatal_error = true;
        ereport(ERROR, (errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
                        errmsg("more than max_rejects (" INT64_FORMAT ") records were rejected in this run; the "
                               "batch was rolled back (the last: line " UINT64_FORMAT ": %s)",
                               source->max_rejects, last->line, last->error)));
    }
}

// Keeps a rejected record for the batch's transaction (in the rejects' own memory context, which survives the
// subtransactions of the batch's attempts).
static void AddReject(BatchSource *source, uint64 line, const char *column, const char *error, const char *record,
                      size_t record_len) {
    MemoryContext old = MemoryContextSwitchTo(source->reject_cxt);
    Reject *reject = MakeReject(line, column, error, record, record_len);
    source->rejects = lappend(source->rejects, reject);
    MemoryContextSwitchTo(old);
    CheckRejectLimit(source, reject);
}

static void ValueExcerpt(char *out, size_t size, const char *value);
static void ClearErrorPosition(BatchSource *source);

// Appends the current record as a binary row when a value is one the core leaves to PostgreSQL: each such value is
// converted by its type's input function (which raises the error for a bad one, named like a refused value of COPY:
// the line, the column and the value) and written by its send function.
static void AppendRowConverting(CopyFeed *f, uint64 line) {
    BatchSource *source = f->source;
    const Declaration *decl = source->decl;
    bulk_ingest::RecordReader *reader = source->reader;
    bulk_ingest::GrowBuffer *buffer = source->row_buffer;
    CallCore([&] { bulk_ingest::AppendBinaryRowStart(*buffer, (size_t)decl->ncolumns); });
    for (int c = 0; c < decl->ncolumns; c++) {
        const bulk_ingest::FieldValue &field = reader->Field((size_t)c);
        bool done = false;
        CallCore([&] {
            if (field.is_null) {
                bulk_ingest::AppendBinaryNull(*buffer);
                done = true;
            } else {
                done = bulk_ingest::AppendBinaryValue(*buffer, source->binary_columns[c], field.text);
            }
        });
        if (done) {
            continue;
        }
        MemoryContext old = MemoryContextSwitchTo(f->row_cxt);
        MemoryContextReset(f->row_cxt);
        source->error_line = line;
        source->error_copy_line = (uint64)f->rows + 1;  // the row being read
        source->error_column = decl->columns[c].name;
        char *text = (char *)palloc(field.text.size() + 1);
        memcpy(text, field.text.data(), field.text.size());
        text[field.text.size()] = '\0';
        ValueExcerpt(source->error_value, sizeof(source->error_value), text);
        if (memchr(field.text.data(), '\0', field.text.size()) != NULL) {
            // What COPY's text format says of it (an input function would see the text cut at the NUL).
            pg_verify_mbstr(PG_UTF8, field.text.data(), (int)field.text.size(), false);
        }
        AppendConvertedValue(&f->converter, decl, c, text, buffer);
        ClearErrorPosition(source);
        MemoryContextSwitchTo(old);
    }
}

// Reads the next record into the row buffer. Returns false at the end of the batch.
static bool NextRow(CopyFeed *f) {
    BatchSource *source = f->source;
    Spool *spool = f->spool;
    if (spool != NULL && spool->replay_next < spool->count && ReplayRow(f)) {
        return true;
    }
    int64 read = spool != NULL ? spool->count : f->rows;  // rows of this batch read from the reader
    if (source->end_of_page || read + f->deleted >= source->max_rows) {
        return false;  // (the last row stays in the buffer, handed already)
    }
    f->buffer_offset = 0;  // the buffer is about to be cleared
    bool deleted = false;
    const Declaration *decl = source->decl;
    std::map<std::string, std::vector<std::string>> *deletes = source->deletes;
    bool have_row = false;
    bool rejected = false;
    bool convert = false;
    const char *wm_value = NULL;
    size_t wm_len = 0;
    const char *wm_source = NULL;
    size_t wm_source_len = 0;
    uint64 line = 0;
    uint64 consumed = 0;
    bulk_ingest::BatchKeys *keys = f->keys;
    bool skip = source->skip_bad_records;
    int wm_column = source->watermark->enabled ? source->decl->watermark_column : -1;
    CoreFailure failure;
    for (;;) {  // until a record is read that is not rejected
        rejected = false;
        pgstat_report_wait_start(PG_WAIT_EXTENSION);
        bool ok = TryCore(
            [&] {
                bulk_ingest::RecordReader &reader = *source->reader;
                bulk_ingest::GrowBuffer &buffer = *source->row_buffer;
                // COPY has the previous row by now: a long one's memory goes back at once.
                if (buffer.capacity() > kKeepRowBytes) {
                    buffer.release();
                } else {
                    buffer.clear();
                }
                try {
                    have_row = reader.Next();
                } catch (const bulk_ingest::FatalRecordError &e) {
                    strlcpy(source->error_excerpt, e.excerpt().c_str(), sizeof(source->error_excerpt));
                    throw;  // names its own line; the reader cannot go on
                } catch (const bulk_ingest::RecordError &e) {
                    if (!skip) {
                        strlcpy(source->error_excerpt, e.excerpt().c_str(), sizeof(source->error_excerpt));
                        throw;  // names its own line
                    }
                    // Skipped: kept for bulk_ingest.rejects once out of this C++ frame.
                    rejected = true;
                    source->reject_line = e.line();
                    strlcpy(source->reject_error, e.what(), sizeof(source->reject_error));
                    std::string_view text = reader.RecordText();
                    if (text.empty()) {
                        text = e.excerpt();
                    }
                    source->reject_text_len = Min(text.size(), sizeof(source->reject_text) - 1);
                    memcpy(source->reject_text, text.data(), source->reject_text_len);
                    return;
                } catch (const bulk_ingest::HttpError &e) {
                    source->http_failed = true;
                    source->http_status = e.status();
                    source->http_kind = static_cast<int>(e.kind());
                    strlcpy(source->http_message, e.what(), sizeof(source->http_message));
                    source->error_line = reader.PositionReached();
                    throw;
                } catch (const bulk_ingest::Error &) {
                    source->error_line = reader.PositionReached();  // a failure of the input, not of a record
                    throw;
                }
                if (!have_row) {
                    return;
                }
                line = reader.Line();
                consumed = reader.BytesConsumed();
                if (deletes != nullptr) {
                    // The record's key, and whether it deletes the row (options.deleted_path: after the columns).
                    const bulk_ingest::FieldValue &flag = reader.Field(static_cast<size_t>(decl->ncolumns));
                    deleted = !flag.is_null && bulk_ingest::IsTrueText(flag.text);
                    std::string key;
                    std::vector<std::string> values;
                    for (int c = 0; c < decl->ncolumns; c++) {
                        if (decl->columns[c].primary_key) {
                            bulk_ingest::AppendCopyEscaped(key, reader.Field(static_cast<size_t>(c)).text);
                            key += '\t';
                            values.emplace_back(reader.Field(static_cast<size_t>(c)).text);
                        }
                    }
                    if (deleted) {
                        (*deletes)[key] = std::move(values);
                    } else if (!deletes->empty()) {
                        deletes->erase(key);  // a later record of the key: it is not deleted
                    }
                }
                if (!deleted) {
                    // Encoded by the read-ahead on its own core when it could (options.copy_row_columns and
                    // binary_columns): binary rows when the run loads them (source->binary_rows).
                    std::string_view row = reader.CopyRow();
                    bool ahead = !row.empty() && source->binary_rows == f->binary;
                    if (ahead) {
                        buffer.append(row.data(), row.size());
                    } else if (!f->binary) {
                        bulk_ingest::AppendCopyRow(buffer, reader, static_cast<size_t>(decl->ncolumns));
                    } else if (!bulk_ingest::AppendBinaryRow(buffer, reader, source->binary_columns,
                                                             static_cast<size_t>(decl->ncolumns))) {
                        convert = true;  // a value for PostgreSQL's input function, out of this C++ frame
                    }
                }
                if (keys != nullptr && !deleted) {
                    keys->Add(reader);
                }
                if (wm_column >= 0 && !reader.Field(wm_column).is_null) {
                    wm_value = reader.Field(wm_column).text.data();
                    wm_len = reader.Field(wm_column).text.size();
                    std::string_view source_text = reader.SourceText(wm_column);
                    wm_source = source_text.data();
                    wm_source_len = source_text.size();
                }
            },
            &failure);
        pgstat_report_wait_end();
        if (!ok) {
            source->fatal_error = true;  // a failure of the input or a record the reader cannot step over
            RaiseCoreFailure(&failure, NULL);
        }
        if (rejected) {
            // The message without its "line N: " (the reject has the line).
            const char *error = source->reject_error;
            const char *colon = strstr(error, ": ");
            AddReject(source, source->reject_line, NULL, colon ? colon + 2 : error, source->reject_text,
                      source->reject_text_len);
            continue;
        }
        break;
    }
    if (!have_row) {
        source->end_of_page = true;
        return false;
    }
    if (convert && !deleted) {
        AppendRowConverting(f, line);
    }
    if (deleted) {
        f->deleted++;  // no COPY row: the batch deletes the key instead
    } else {
        f->rows++;
        if (spool != NULL) {
            SpoolRow(f, line);
        }
    }
    if (!deleted && (f->rows & 1023) == 0) {  // (a delete leaves f->rows as it was)
        ProgressAddRead(1024, consumed - source->bytes_reported);
        source->bytes_reported = consumed;
    }
    if (!deleted) {
        NoteSourceLine(f, (uint64)f->rows, line);
        if (f->rows == 1) {
            PausePoint(PAUSE_MID_COPY);
        }
    }
    if (wm_value != NULL) {
        source->error_line = line;
        source->error_copy_line = (uint64)f->rows;
        source->error_column = source->decl->columns[wm_column].name;
        FoldWatermark(source->watermark, wm_value, wm_len, wm_source, wm_source_len);
        source->error_line = 0;
        source->error_copy_line = 0;
        source->error_column = NULL;
    }
    // The row is encoded and its watermark folded: the reader's copies of a long record are not needed while COPY
    // loads it.
    source->reader->ReleaseRecord();
    return true;
}

// COPY's data source: fills outbuf with encoded rows; returns 0 at the end of the batch.
static int FeedCopy(void *outbuf, int minread, int maxread) {
    char *out = (char *)outbuf;
    int written = 0;
    (void)minread;
    while (written < maxread) {
        bulk_ingest::GrowBuffer *buffer = feed->source->row_buffer;
        size_t pending = buffer->size() - feed->buffer_offset;
        if (pending == 0) {
            if (!NextRow(feed)) {
                break;
            }
            continue;
        }
        size_t n = Min(pending, (size_t)(maxread - written));
        memcpy(out + written, buffer->data() + feed->buffer_offset, n);
        feed->buffer_offset += n;
        written += (int)n;
    }
    return written;
}

// A short excerpt of value (in the server's encoding) into out: at most about 40 bytes, whole characters,
// control characters, quotes and backslashes escaped, "..." when cut. Raises no error (an error callback uses it).
static void ValueExcerpt(char *out, size_t size, const char *value) {
    size_t len = strlen(value);
    size_t keep = (size_t)pg_mbcliplen(value, (int)Min(len, (size_t)1024), 40);
    size_t o = 0;
    for (size_t i = 0; i < keep && o + 8 < size; i++) {
        unsigned char c = (unsigned char)value[i];
        if (c == '"' || c == '\\') {
            out[o++] = '\\';
            out[o++] = (char)c;
        } else if (c < 0x20 || c == 0x7F) {
            o += snprintf(out + o, size - o, "\\u%04X", c);
        } else {
            out[o++] = (char)c;
        }
    }
    if (keep < len && o + 4 < size) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o] = '\0';
}

// Error context of a batch: records where in the response the error is, and the value COPY was converting, for
// the run's message.
static void BatchErrorCallback(void *arg) {
    CopyFeed *f = (CopyFeed *)arg;
    BatchSource *source = f->source;
    if (source->error_line == 0 && f->cstate != NULL && f->cstate->cur_lineno > 0) {
        source->error_line = SourceLineOf(f, f->cstate->cur_lineno);
        source->error_copy_line = f->cstate->cur_lineno;
        source->error_column = f->cstate->cur_attname;
        if (f->cstate->cur_attval != NULL) {
            ValueExcerpt(source->error_value, sizeof(source->error_value), f->cstate->cur_attval);
        }
    }
}

// The staging table of a batch. Created in the batch's transaction, it is filled in COPY's order (COPY skips the
// free space map for it), so ctid order is arrival order: the merge keeps the last row of a key by it.
static Oid CreateStagingTable(const Declaration *decl) {
    StringInfoData sql;
    initStringInfo(&sql);
    appendStringInfo(&sql, "CREATE TEMPORARY TABLE %s (LIKE %s INCLUDING DEFAULTS) ON COMMIT DROP", kStagingTable,
                     QuotedTargetName(decl));
    SPI_connect();
    ExecuteSqlCreatingTemp("creating the staging table of a batch", sql.data);
    SPI_finish();
    CommandCounterIncrement();
    return RangeVarGetRelid(makeRangeVar((char *)"pg_temp", (char *)kStagingTable, -1), NoLock, false);
}

static bool IsUniqueViolation(const ErrorData *edata) {
    return edata->sqlerrcode == ERRCODE_UNIQUE_VIOLATION;
}

// Whether an upsert batch may first try COPY straight into the target: the run filled an empty table and no key
// has conflicted yet, and the primary key is checked row by row (a deferred one would fail only at commit).
static bool MayLoadDirectly(const BatchSource *source, Relation target) {
    if (!source->load_directly) {
        return false;
    }
    Oid index_oid = RelationGetPrimaryKeyIndex(target);
    if (!OidIsValid(index_oid)) {
        return false;
    }
    Relation index = index_open(index_oid, AccessShareLock);
    bool immediate = index->rd_index->indimmediate;
    index_close(index, AccessShareLock);
    return immediate;
}

// A spool for the rows of one batch, in the batch's memory context and resource owner (it outlives the
// subtransactions of the batch's attempts).
static void OpenSpool(Spool *spool) {
    memset(spool, 0, sizeof(*spool));
    spool->file = BufFileCreateTemp(false);
    spool->at_end = true;
    spool->max = 1024;
    spool->entries = (SpoolEntry *)palloc(sizeof(SpoolEntry) * spool->max);
    spool->max_handed = 1024;
    spool->handed = (int64 *)palloc(sizeof(int64) * spool->max_handed);
}

// Makes the next attempt of the batch start over: the spool's rows first, then on from the reader.
static void RestartAttempt(CopyFeed *state) {
    state->rows = 0;
    state->nruns = 0;
    state->buffer_offset = 0;
    state->spool->replay_next = 0;
    state->source->row_buffer->clear();
}

static void ClearErrorPosition(BatchSource *source) {
    source->error_line = 0;
    source->error_copy_line = 0;
    source->error_column = NULL;
    source->error_value[0] = '\0';
    source->error_excerpt[0] = '\0';
}

// One COPY of the batch into copy_rel (the spool's rows first when an attempt replays them, then the reader's).
// Returns the rows copied.
static uint64 CopyAttempt(CopyFeed *state, Relation copy_rel, List *attnames, List *options) {
    ErrorContextCallback callback = {error_context_stack, BatchErrorCallback, state};
    ParseState *pstate = make_parsestate(NULL);
    addRangeTableEntryForRelation(pstate, copy_rel, RowExclusiveLock, NULL, false, false);
    uint64 rows = 0;
    if (state->binary) {
        // Every COPY of binary rows starts with the format's header (ahead of the rows, or of the spool's replay).
        bulk_ingest::GrowBuffer *buffer = state->source->row_buffer;
        buffer->clear();
        state->buffer_offset = 0;
        CallCore([&] {
            std::string_view header = bulk_ingest::CopyBinaryHeader();
            buffer->append(header.data(), header.size());
        });
    }
    PG_TRY();
    {
        feed = state;
        error_context_stack = &callback;
        // Triggers, check constraints and type input functions are user code: they run as the owner, restricted.
        RunRestricted(GetUserId(), [&] {
            state->cstate = BeginCopyFrom(pstate, copy_rel, NULL, NULL, false, FeedCopy, attnames, options);
            if (state->compare_with != NULL && RelationGetRelid(copy_rel) != RelationGetRelid(state->compare_with)) {
                rows =
                    CopyChangedRows(state->cstate, copy_rel, state->compare_with, state->source->decl, &state->staged);
            } else {
                rows = CopyFrom(state->cstate);
                state->staged = rows;
            }
            EndCopyFrom(state->cstate);
        });
        state->cstate = NULL;
        error_context_stack = callback.previous;
    }
    PG_FINALLY();
    { feed = NULL; }
    PG_END_TRY();
    return rows;
}

// Whether a failed attempt's error is a row's: a value its type refuses, NULL for NOT NULL, a check or a unique
// key that fails (SQLSTATE classes 22 and 23), raised while COPY took a row it can name. Failures of the input and
// of the rejects' own limit are not (fatal_error).
static bool IsRowError(const ErrorData *edata, const BatchSource *source) {
    int category = ERRCODE_TO_CATEGORY(edata->sqlerrcode);
    return !source->fatal_error && source->error_copy_line > 0 &&
           (category == ERRCODE_DATA_EXCEPTION || category == ERRCODE_INTEGRITY_CONSTRAINT_VIOLATION);
}

// options.on_error = 'skip': copies the batch in a subtransaction; a row COPY refuses is rejected and the batch is
// copied again without it, from the spool, then on from the reader.
static uint64 CopySkippingBadRows(CopyFeed *state, Relation copy_rel, List *attnames, List *options) {
    BatchSource *source = state->source;
    MemoryContext batch_cxt = CurrentMemoryContext;
    ResourceOwner batch_owner = CurrentResourceOwner;
    Spool spool;
    OpenSpool(&spool);
    state->spool = &spool;
    for (;;) {
        RestartAttempt(state);
        ClearErrorPosition(source);
        MemoryContext attempt_cxt =
            AllocSetContextCreate(batch_cxt, "bulk_ingest copy attempt", ALLOCSET_DEFAULT_SIZES);
        BeginInternalSubTransaction(NULL);
        MemoryContextSwitchTo(attempt_cxt);
        ErrorData *volatile edata = NULL;
        volatile uint64 rows = 0;
        PG_TRY();
        {
            rows = CopyAttempt(state, copy_rel, attnames, options);
            ReleaseCurrentSubTransaction();
        }
        PG_CATCH();
        {
            MemoryContextSwitchTo(batch_cxt);
            edata = CopyErrorData();
            FlushErrorState();
            RollbackAndReleaseCurrentSubTransaction();
        }
        PG_END_TRY();
        MemoryContextSwitchTo(batch_cxt);
        CurrentResourceOwner = batch_owner;
        MemoryContextDelete(attempt_cxt);
        if (edata == NULL) {
            BufFileClose(spool.file);
            state->spool = NULL;
            return rows;
        }
        if (!IsRowError(edata, source) || source->error_copy_line > (uint64)state->rows) {
            ReThrowError(edata);
        }
        int64 index = spool.handed[source->error_copy_line - 1];
        SpoolEntry *entry = &spool.entries[index];
        entry->rejected = true;
        // The row as COPY had it (tab-separated), for the reject.
        int32 keep = Min(entry->len, (int32)REJECT_RECORD_MAX * 2);
        char *record = (char *)palloc(keep + 1);
        spool.at_end = false;
        if (BufFileSeek(spool.file, 0, entry->offset, SEEK_SET) != 0 ||
            BufFileRead(spool.file, record, keep) != (size_t)keep) {
            ereport(ERROR, (errcode_for_file_access(), errmsg("pg_bulk_ingest: could not read back a row")));
        }
        while (keep > 0 && (record[keep - 1] == '\n')) {
            keep--;
        }
        StringInfoData error;
        initStringInfo(&error);
        appendStringInfoString(&error, edata->message);
        if (edata->detail != NULL) {
            appendStringInfo(&error, " (%s)", edata->detail);
        }
        AddReject(source, entry->line, source->error_column, error.data, record, (size_t)keep);
        FreeErrorData(edata);
    }
}

// An upsert batch of a run that filled an empty table: COPY straight into the target, in a subtransaction. When every
// key is new (the run filled the table and nobody else wrote the keys) the batch is loaded at COPY's own speed, with
// no staging table and no merge. A key that exists, or repeats in the batch, stops it: it is rolled back, the batch
// is copied again from the spool (and the rest of the response) into the staging table, *staging, which the caller
// merges, and the run merges from then on. Returns the rows copied.
static uint64 CopyDirectly(CopyFeed *state, Relation target, List *attnames, List *options, Relation *staging) {
    BatchSource *source = state->source;
    Spool spool;
    OpenSpool(&spool);
    state->spool = &spool;
    uint64 rows = 0;
    auto attempt = [&]() { rows = CopyAttempt(state, target, attnames, options); };
    ErrorData *conflict = InSubtransaction(attempt, IsUniqueViolation);
    if (conflict != NULL) {
        FreeErrorData(conflict);
        source->load_directly = false;
        ClearErrorPosition(source);
        RestartAttempt(state);
        *staging = table_open(CreateStagingTable(source->decl), RowExclusiveLock);
        rows = CopyAttempt(state, *staging, attnames, options);
    }
    BufFileClose(spool.file);
    state->spool = NULL;
    return rows;
}

int64 LoadBatch(BatchSource *source, Oid relid) {
    const Declaration *decl = source->decl;
    bool upsert = source->merge && DeclarationUpserts(decl);
    Relation target = table_open(relid, RowExclusiveLock);
    CheckCanLoad(decl, target, DeclarationUpserts(decl));

    List *attnames = NIL;
    for (int i = 0; i < decl->ncolumns; i++) {
        attnames = lappend(attnames, makeString(pstrdup(decl->columns[i].name)));
    }
    CopyFeed state;
    memset(&state, 0, sizeof(state));
    state.source = source;
    // Binary rows spare COPY the splitting of lines and most input functions (binary_rows.h).
    state.binary = source->binary_rows && RelationTakesBinaryRows(decl, target);
    elog(DEBUG1, "pg_bulk_ingest: source \"%s\" loads a batch in COPY's %s format", decl->row->source,
         state.binary ? "binary" : "text");
    List *options;
    if (state.binary) {
        InitBinaryConverter(&state.converter, decl);
        options = list_make1(makeDefElem(pstrdup("format"), (Node *)makeString(pstrdup("binary")), -1));
    } else {
        // COPY must not decode our bytes with the session's client_encoding: they are UTF-8.
        options = list_make1(makeDefElem(pstrdup("encoding"), (Node *)makeString(pstrdup("UTF8")), -1));
    }
    if (upsert) {
        state.keys = NewInMemoryContext<bulk_ingest::BatchKeys>([decl] {
            std::vector<size_t> key_columns;
            for (int i = 0; i < decl->ncolumns; i++) {
                if (decl->columns[i].primary_key) {
                    key_columns.push_back((size_t)i);
                }
            }
            return new bulk_ingest::BatchKeys(std::move(key_columns), kMaxBatchKeys);
        });
    }
    // (Not with on_error = 'skip': its attempts would have to tell conflicts from refused rows. Such a batch goes
    // through the staging table.)
    bool direct = upsert && !source->skip_bad_records && MayLoadDirectly(source, target);
    // Rows equal to the existing ones are left out as they are copied into the staging table (unchanged_rows.h);
    // a partitioned table's by the merge's SQL.
    bool compared = upsert && CanCompareWhileCopying(target);
    state.compare_with = compared ? target : NULL;
    state.maxruns = 16;
    state.run_copy_line = (uint64 *)palloc(sizeof(uint64) * state.maxruns);
    state.run_source_line = (uint64 *)palloc(sizeof(uint64) * state.maxruns);
    state.row_cxt = AllocSetContextCreate(CurrentMemoryContext, "bulk_ingest row", ALLOCSET_SMALL_SIZES);
    source->row_buffer->clear();
    source->deleted_records = 0;
    if (source->deletes != NULL) {
        CallCore([&] { source->deletes->clear(); });
    }
    ClearErrorPosition(source);
    source->http_failed = false;
    source->fatal_error = false;
    MemoryContextReset(source->reject_cxt);
    source->rejects = NIL;

    if (feed != NULL) {
        elog(ERROR, "pg_bulk_ingest: a batch is already being loaded in this backend");
    }
    uint64 rows = 0;
    Relation staging = NULL;
    if (direct) {
        rows = CopyDirectly(&state, target, attnames, options, &staging);
    } else {
        Relation copy_rel = target;
        if (upsert) {
            staging = table_open(CreateStagingTable(decl), RowExclusiveLock);
            copy_rel = staging;
        }
        rows = source->skip_bad_records ? CopySkippingBadRows(&state, copy_rel, attnames, options)
                                        : CopyAttempt(&state, copy_rel, attnames, options);
    }
    source->deleted_records = state.deleted;

    uint64 consumed = 0;
    CallCore([&] { consumed = source->reader->BytesConsumed(); });
    ProgressAddRead(rows & 1023, consumed - source->bytes_reported);
    source->bytes_reported = consumed;
    if (rows > 0) {
        PausePoint(PAUSE_AFTER_COPY);
    }
    if (staging != NULL) {
        table_close(staging, NoLock);
        if (rows > 0) {
            bool may_repeat = true;
            CallCore([&] { may_repeat = state.keys->MayRepeat(); });
            PausePoint(PAUSE_BEFORE_MERGE);
            MergeStaging(decl, target, kStagingTable, state.staged, compared, may_repeat, &source->merge_state);
            PausePoint(PAUSE_AFTER_MERGE);
        }
    }
    table_close(target, NoLock);
    MemoryContextDelete(state.row_cxt);
    return (int64)rows;
}

void InitWatermark(WatermarkState *state, const Declaration *decl, const char *stored_value) {
    memset(state, 0, sizeof(*state));
    if (decl->watermark_column < 0) {
        return;
    }
    const DeclaredColumn *column = &decl->columns[decl->watermark_column];
    state->enabled = true;
    state->type_oid = column->type_oid;
    state->typmod = column->typmod;
    state->cxt = CurrentMemoryContext;
    Oid input_fn;
    getTypeInputInfo(column->type_oid, &input_fn, &state->input_param);
    fmgr_info_cxt(input_fn, &state->input, state->cxt);
    TypeCacheEntry *type = lookup_type_cache(column->type_oid, TYPECACHE_CMP_PROC);
    fmgr_info_cxt(type->cmp_proc, &state->compare, state->cxt);
    state->collation = type->typcollation;
    get_typlenbyval(column->type_oid, &state->typlen, &state->typbyval);
    if (stored_value != NULL) {
        // A domain's check constraints are user code.
        RunRestricted(GetUserId(), [&] {
            state->max = InputFunctionCall(&state->input, pstrdup(stored_value), state->input_param, state->typmod);
        });
        state->has_max = true;
    }
}

char *WatermarkText(const WatermarkState *state) {
    if (!state->enabled || !state->has_max) {
        return NULL;
    }
    Oid output_fn;
    bool is_varlena;
    getTypeOutputInfo(state->type_oid, &output_fn, &is_varlena);
    return OidOutputFunctionCall(output_fn, state->max);
}
