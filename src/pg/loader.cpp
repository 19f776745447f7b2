#include "pg/loader.h"

#include "core/batch_keys.h"
#include "core/copy_text.h"
#include "core/error.h"
#include "pg/guard.h"
#include "pg/merge.h"
#include "pg/rights.h"
#include "pg/shared_state.h"
#include "pg/sql.h"
#include "pg/target.h"

extern "C" {
#include "access/genam.h"
#include "access/table.h"
#include "catalog/namespace.h"
#include "commands/copy.h"
#include "commands/copyfrom_internal.h"
#include "storage/buffile.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "nodes/makefuncs.h"
#include "parser/parse_relation.h"
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
// Keys remembered per batch to tell whether it repeats one (8 bytes each): beyond, the merge sorts.
static const size_t kMaxBatchKeys = 4 * 1024 * 1024;

// COPY's data-source callback takes no context argument, so the batch being loaded is module state. Only one COPY
// runs at a time in a backend; it is set for the duration of CopyFrom and cleared in PG_FINALLY.
typedef struct CopyFeed {
    BatchSource *source;
    CopyFromState cstate;
    bulk_ingest::BatchKeys *keys;  // upserts: the keys of the batch, to tell whether one repeats
    // Loading straight into the target (see LoadBatch): every row handed to COPY is also written to the spool, so
    // that the batch can be loaded again through the staging table if a key conflicts.
    BufFile *spool;
    bool spooling;          // rows read from the reader are appended to the spool
    bool replaying;         // COPY reads the spool first, then the reader
    uint64 spooled;         // bytes in the spool
    uint64 replayed;        // bytes of the spool handed to COPY again
    int64 rows;             // rows handed to COPY in this batch
    size_t buffer_offset;   // bytes of *row_buffer already handed to COPY
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

// Folds the current record's watermark value into the run's maximum, in the column's own type.
static void FoldWatermark(WatermarkState *wm, const char *value, size_t len) {
    MemoryContext old = MemoryContextSwitchTo(feed->row_cxt);
    MemoryContextReset(feed->row_cxt);
    Datum datum = InputFunctionCall(&wm->input, pnstrdup(value, len), wm->input_param, wm->typmod);
    if (!wm->has_max || DatumGetInt32(FunctionCall2Coll(&wm->compare, wm->collation, datum, wm->max)) > 0) {
        MemoryContextSwitchTo(wm->cxt);
        if (wm->has_max && !wm->typbyval) {
            pfree(DatumGetPointer(wm->max));
        }
        wm->max = datumCopy(datum, wm->typbyval, wm->typlen);
        wm->has_max = true;
        wm->changed = true;
    }
    MemoryContextSwitchTo(old);
}

// Reads the next record into the row buffer. Returns false at the end of the batch.
static bool NextRow(CopyFeed *f) {
    BatchSource *source = f->source;
    if (source->end_of_page || f->rows >= source->max_rows) {
        return false;
    }
    bool have_row = false;
    const char *wm_value = NULL;
    size_t wm_len = 0;
    uint64 line = 0;
    uint64 consumed = 0;
    bulk_ingest::BatchKeys *keys = f->keys;
    int wm_column = source->watermark->enabled ? source->decl->watermark_column : -1;
    f->buffer_offset = 0;  // the buffer is about to be cleared
    CoreFailure failure;
    pgstat_report_wait_start(PG_WAIT_EXTENSION);
    bool ok = TryCore(
        [&] {
            bulk_ingest::RecordReader &reader = *source->reader;
            std::string &buffer = *source->row_buffer;
            buffer.clear();
            try {
                have_row = reader.Next();
            } catch (const bulk_ingest::HttpError &e) {
                source->http_failed = true;
                source->http_status = e.status();
                source->http_kind = static_cast<int>(e.kind());
                strlcpy(source->http_message, e.what(), sizeof(source->http_message));
                throw;
            }
            if (!have_row) {
                return;
            }
            line = reader.Line();
            consumed = reader.BytesConsumed();
            bulk_ingest::AppendCopyRow(buffer, reader);
            if (keys != NULL) {
                keys->Add(reader);
            }
            if (wm_column >= 0 && !reader.Field(wm_column).is_null) {
                wm_value = reader.Field(wm_column).text.data();
                wm_len = reader.Field(wm_column).text.size();
            }
        },
        &failure);
    pgstat_report_wait_end();
    if (!ok) {
        RaiseCoreFailure(&failure, NULL);
    }
    if (!have_row) {
        source->end_of_page = true;
        return false;
    }
    f->rows++;
    if (f->spooling) {
        std::string *buffer = source->row_buffer;
        BufFileWrite(f->spool, buffer->data(), buffer->size());
        f->spooled += buffer->size();
    }
    if ((f->rows & 1023) == 0) {
        ProgressAddRead(1024, consumed - source->bytes_reported);
        source->bytes_reported = consumed;
    }
    NoteSourceLine(f, (uint64)f->rows, line);
    if (wm_value != NULL) {
        source->error_line = line;
        source->error_column = source->decl->columns[wm_column].name;
        FoldWatermark(source->watermark, wm_value, wm_len);
        source->error_line = 0;
        source->error_column = NULL;
    }
    return true;
}

// COPY's data source: fills outbuf with encoded rows; returns 0 at the end of the batch.
static int FeedCopy(void *outbuf, int minread, int maxread) {
    char *out = (char *)outbuf;
    int written = 0;
    (void)minread;
    while (written < maxread) {
        if (feed->replaying) {
            if (feed->replayed < feed->spooled) {
                size_t n = Min(feed->spooled - feed->replayed, (uint64)(maxread - written));
                if (BufFileRead(feed->spool, out + written, n) != n) {
                    ereport(ERROR, (errcode_for_file_access(), errmsg("could not read the batch's spool file: %m")));
                }
                feed->replayed += n;
                written += (int)n;
                continue;
            }
            // The spool holds whole rows: the row being handed out when the first COPY stopped is in it too.
            feed->replaying = false;
            feed->buffer_offset = feed->source->row_buffer->size();
        }
        std::string *buffer = feed->source->row_buffer;
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

// Error context of a batch: records where in the response the error is, for the run's message.
static void BatchErrorCallback(void *arg) {
    CopyFeed *f = (CopyFeed *)arg;
    BatchSource *source = f->source;
    if (source->error_line == 0 && f->cstate != NULL && f->cstate->cur_lineno > 0) {
        source->error_line = SourceLineOf(f, f->cstate->cur_lineno);
        source->error_column = f->cstate->cur_attname;
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

// One COPY of the batch's rows into rel (the spool first when replaying, then the reader), as the source's owner in
// a restricted region: triggers, check constraints and type input functions are user code.
static uint64 CopyRows(CopyFeed *state, Relation rel, List *attnames, List *options) {
    ParseState *pstate = make_parsestate(NULL);
    addRangeTableEntryForRelation(pstate, rel, RowExclusiveLock, NULL, false, false);
    uint64 rows = 0;
    RunRestricted(GetUserId(), [&] {
        state->cstate = BeginCopyFrom(pstate, rel, NULL, NULL, false, FeedCopy, attnames, options);
        rows = CopyFrom(state->cstate);
        EndCopyFrom(state->cstate);
    });
    state->cstate = NULL;
    return rows;
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

int64 LoadBatch(BatchSource *source, Oid relid) {
    const Declaration *decl = source->decl;
    bool upsert = source->merge && DeclarationUpserts(decl);
    Relation target = table_open(relid, RowExclusiveLock);
    CheckCanLoad(decl, target, DeclarationUpserts(decl));

    List *attnames = NIL;
    for (int i = 0; i < decl->ncolumns; i++) {
        attnames = lappend(attnames, makeString(pstrdup(decl->columns[i].name)));
    }
    // COPY must not decode our bytes with the session's client_encoding: they are UTF-8.
    List *options = list_make1(makeDefElem(pstrdup("encoding"), (Node *)makeString(pstrdup("UTF8")), -1));

    CopyFeed state;
    memset(&state, 0, sizeof(state));
    state.source = source;
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
    bool direct = upsert && MayLoadDirectly(source, target);
    if (direct) {
        state.spool = BufFileCreateTemp(false);
        state.spooling = true;
    }
    state.maxruns = 16;
    state.run_copy_line = (uint64 *)palloc(sizeof(uint64) * state.maxruns);
    state.run_source_line = (uint64 *)palloc(sizeof(uint64) * state.maxruns);
    state.row_cxt = AllocSetContextCreate(CurrentMemoryContext, "bulk_ingest row", ALLOCSET_SMALL_SIZES);
    source->row_buffer->clear();
    source->error_line = 0;
    source->error_column = NULL;
    source->http_failed = false;

    if (feed != NULL) {
        elog(ERROR, "pg_bulk_ingest: a batch is already being loaded in this backend");
    }
    ErrorContextCallback callback = {error_context_stack, BatchErrorCallback, &state};
    uint64 rows = 0;
    bool merge = upsert;
    Relation staging = NULL;
    PG_TRY();
    {
        feed = &state;
        error_context_stack = &callback;
        if (direct) {
            // Into the target itself, in a subtransaction: when every key is new (the run filled the table and
            // nobody else wrote the keys) the batch is loaded at COPY's own speed, with no staging table and no
            // merge. A key that exists, or repeats in the batch, stops it; it is then rolled back and the batch
            // loaded again through the staging table from the spool (and the rest of the response), and the run
            // merges from then on.
            auto attempt = [&]() { rows = CopyRows(&state, target, attnames, options); };
            ErrorData *conflict = InSubtransaction(attempt, IsUniqueViolation);
            if (conflict == NULL) {
                merge = false;
            } else {
                FreeErrorData(conflict);
                source->load_directly = false;
                source->error_line = 0;
                source->error_column = NULL;
                state.cstate = NULL;
                state.spooling = false;
                state.replaying = true;
                if (BufFileSeek(state.spool, 0, 0, SEEK_SET) != 0) {
                    ereport(ERROR, (errcode_for_file_access(), errmsg("could not rewind the batch's spool file: %m")));
                }
            }
        }
        if (merge) {
            staging = table_open(CreateStagingTable(decl), RowExclusiveLock);
            rows = CopyRows(&state, staging, attnames, options);
        } else if (!direct) {
            rows = CopyRows(&state, target, attnames, options);
        }
        error_context_stack = callback.previous;
    }
    PG_FINALLY();
    { feed = NULL; }
    PG_END_TRY();

    uint64 consumed = 0;
    CallCore([&] { consumed = source->reader->BytesConsumed(); });
    ProgressAddRead(rows & 1023, consumed - source->bytes_reported);
    source->bytes_reported = consumed;
    if (state.spool != NULL) {
        BufFileClose(state.spool);
    }
    if (staging != NULL) {
        table_close(staging, NoLock);
        if (rows > 0) {
            bool may_repeat = true;
            CallCore([&] { may_repeat = state.keys->MayRepeat(); });
            MergeStaging(decl, target, kStagingTable, rows, may_repeat, &source->merge_state);
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
