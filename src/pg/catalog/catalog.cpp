#include "pg/catalog/catalog.h"

#include "pg/catalog/catalog_version.h"
#include "pg/rights.h"

extern "C" {
#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/pg_extension.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"
}

int ExecuteAsCatalogOwner(const char *sql, int nargs, const char *const *args, bool read_only, long count) {
    Oid *types = (Oid *)palloc(sizeof(Oid) * Max(nargs, 1));
    Datum *values = (Datum *)palloc(sizeof(Datum) * Max(nargs, 1));
    char *nulls = (char *)palloc(Max(nargs, 1) + 1);
    for (int i = 0; i < nargs; i++) {
        types[i] = TEXTOID;
        values[i] = args[i] ? CStringGetTextDatum(args[i]) : (Datum)0;
        nulls[i] = args[i] ? ' ' : 'n';
    }
    nulls[nargs] = '\0';

    // As the extension's owner, with search_path pinned, in a security-restricted operation (rights.h). An error
    // aborts the transaction, which restores the user id; no PG_TRY needed to switch back.
    int rc = 0;
    RunRestricted(ExtensionOwner(),
                  [&] { rc = SPI_execute_with_args(sql, nargs, types, values, nulls, read_only, count); });
    if (rc < 0) {
        elog(ERROR, "pg_bulk_ingest: catalog statement failed (%s): %s", SPI_result_code_string(rc), sql);
    }
    return rc;
}

// Value of column `attnum` of the first SPI result row, copied into `cxt`; NULL for SQL NULL.
static char *ResultText(int attnum, MemoryContext cxt) {
    char *value = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, attnum);
    return value ? MemoryContextStrdup(cxt, value) : NULL;
}

SourceRow *LoadSource(const char *source, bool missing_ok) {
    CheckCatalogVersion();  // every function that acts on a source reads it first
    MemoryContext caller_cxt = CurrentMemoryContext;
    SourceRow *row = NULL;
    SPI_connect();
    ExecuteAsCatalogOwner(
        "SELECT s.source, s.url, s.target, s.columns::text, s.format, s.high_watermark_column, s.upsert,"
        "       s.\"delete\", s.options::text, s.owner::oid::text, w.value"
        "  FROM bulk_ingest.sources s LEFT JOIN bulk_ingest.watermarks w USING (source)"
        " WHERE s.source = $1",
        1, &source, true, 1);
    if (SPI_processed == 1) {
        row = (SourceRow *)MemoryContextAllocZero(caller_cxt, sizeof(SourceRow));
        row->source = ResultText(1, caller_cxt);
        row->url = ResultText(2, caller_cxt);
        row->target = ResultText(3, caller_cxt);
        row->columns = ResultText(4, caller_cxt);
        row->format = ResultText(5, caller_cxt);
        row->high_watermark_column = ResultText(6, caller_cxt);
        row->upsert = ResultText(7, caller_cxt);
        row->delete_mode = ResultText(8, caller_cxt);
        row->options = ResultText(9, caller_cxt);
        row->owner = (Oid)strtoul(SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 10), NULL, 10);
        row->watermark = ResultText(11, caller_cxt);
    }
    SPI_finish();
    if (row == NULL && !missing_ok) {
        ereport(ERROR, (errcode(ERRCODE_UNDEFINED_OBJECT), errmsg("source \"%s\" does not exist", source),
                        errhint("Declare it with bulk_ingest_register(); see the table bulk_ingest.sources.")));
    }
    return row;
}

void CheckSourceOwnership(const SourceRow *row, const char *action) {
    if (!has_privs_of_role(GetUserId(), row->owner)) {
        ereport(ERROR,
                (errcode(ERRCODE_INSUFFICIENT_PRIVILEGE), errmsg("permission denied for source \"%s\"", row->source),
                 errdetail("Only the owner of the source (role \"%s\"), its members and superusers may %s it.",
                           GetUserNameFromId(row->owner, true), action)));
    }
}

static int64 ResultInt64(void) {
    return SPI_processed == 1 ? strtoll(SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1), NULL, 10) : 0;
}

static void Int64Text(int64 value, char *buf, size_t size) {
    snprintf(buf, size, INT64_FORMAT, value);
}

int64 InsertRun(const char *source, const char *status, const char *trigger, const char *requested_high_watermark) {
    const char *args[] = {source, status, trigger, requested_high_watermark};
    SPI_connect();
    ExecuteAsCatalogOwner(
        "INSERT INTO bulk_ingest.runs (source, status, \"trigger\", requested_high_watermark, owner)"
        " VALUES ($1, $2, $3, $4, (SELECT owner FROM bulk_ingest.sources WHERE source = $1))"
        " ON CONFLICT (source) WHERE status IN ('queued', 'running') DO NOTHING RETURNING id::text",
        4, args, false, 0);
    int64 id = ResultInt64();
    SPI_finish();
    return id;
}

int64 ActiveRunOf(const char *source) {
    SPI_connect();
    ExecuteAsCatalogOwner("SELECT id::text FROM bulk_ingest.runs WHERE source = $1 AND status IN ('queued', 'running')",
                          1, &source, false, 1);
    int64 id = ResultInt64();
    SPI_finish();
    return id;
}

void FailStaleRuns(const char *source, const char *reason) {
    const char *args[] = {source, reason};
    SPI_connect();
    ExecuteAsCatalogOwner(
        "UPDATE bulk_ingest.runs SET status = 'failed', finished_at = clock_timestamp(), error = $2"
        " WHERE source = $1 AND status = 'running'",
        2, args, false, 0);
    SPI_finish();
}

char *QueuedRunSource(int64 run_id) {
    MemoryContext caller_cxt = CurrentMemoryContext;
    char id_text[32];
    Int64Text(run_id, id_text, sizeof(id_text));
    const char *args[] = {id_text};
    SPI_connect();
    ExecuteAsCatalogOwner("SELECT source FROM bulk_ingest.runs WHERE id = $1::bigint AND status = 'queued'", 1, args,
                          true, 1);
    char *source = SPI_processed == 1 ? ResultText(1, caller_cxt) : NULL;
    SPI_finish();
    return source;
}

bool ClaimQueuedRun(int64 run_id, char **source, char **requested_high_watermark) {
    MemoryContext caller_cxt = CurrentMemoryContext;
    char id_text[32];
    Int64Text(run_id, id_text, sizeof(id_text));
    const char *args[] = {id_text};
    SPI_connect();
    ExecuteAsCatalogOwner(
        "UPDATE bulk_ingest.runs SET status = 'running', started_at = clock_timestamp()"
        " WHERE id = $1::bigint AND status = 'queued' RETURNING source, requested_high_watermark",
        1, args, false, 0);
    bool claimed = SPI_processed == 1;
    if (claimed) {
        *source = ResultText(1, caller_cxt);
        *requested_high_watermark = ResultText(2, caller_cxt);
    }
    SPI_finish();
    return claimed;
}

void SetRunStartWatermark(int64 run_id, const char *high_watermark_before) {
    char id_text[32];
    Int64Text(run_id, id_text, sizeof(id_text));
    const char *args[] = {id_text, high_watermark_before};
    SPI_connect();
    ExecuteAsCatalogOwner("UPDATE bulk_ingest.runs SET high_watermark_before = $2 WHERE id = $1::bigint", 2, args,
                          false, 0);
    SPI_finish();
}

void RecordBatch(int64 run_id, const char *source, int64 rows, int64 bytes, const char *new_watermark) {
    char id_text[32], rows_text[32], bytes_text[32];
    snprintf(id_text, sizeof(id_text), INT64_FORMAT, run_id);
    snprintf(rows_text, sizeof(rows_text), INT64_FORMAT, rows);
    snprintf(bytes_text, sizeof(bytes_text), INT64_FORMAT, bytes);
    const char *run_args[] = {id_text, rows_text, bytes_text, new_watermark};
    SPI_connect();
    ExecuteAsCatalogOwner(
        "UPDATE bulk_ingest.runs SET batches = batches + 1, rows = rows + $2::bigint, bytes = bytes + $3::bigint,"
        "       high_watermark_after = coalesce($4, high_watermark_after)"
        " WHERE id = $1::bigint",
        4, run_args, false, 0);
    SPI_finish();
    if (new_watermark != NULL) {
        StoreWatermark(source, new_watermark);
    }
}

void RecordRebuild(int64 run_id, const char *reason, int lock_attempts, double lock_wait_ms) {
    char id_text[32], attempts_text[32], wait_text[64];
    snprintf(id_text, sizeof(id_text), INT64_FORMAT, run_id);
    snprintf(attempts_text, sizeof(attempts_text), "%d", lock_attempts);
    snprintf(wait_text, sizeof(wait_text), "%.3f", lock_wait_ms);
    const char *args[] = {id_text, reason, lock_attempts >= 0 ? attempts_text : NULL,
                          lock_attempts >= 0 ? wait_text : NULL};
    SPI_connect();
    ExecuteAsCatalogOwner(
        "UPDATE bulk_ingest.runs SET rebuild = $2, lock_attempts = $3::integer,"
        "       lock_wait_ms = $4::double precision WHERE id = $1::bigint",
        4, args, false, 0);
    SPI_finish();
}

void StoreWatermark(const char *source, const char *value) {
    const char *args[] = {source, value};
    SPI_connect();
    ExecuteAsCatalogOwner(
        "INSERT INTO bulk_ingest.watermarks AS w (source, value) VALUES ($1, $2)"
        " ON CONFLICT (source) DO UPDATE SET value = excluded.value, updated_at = now()",
        2, args, false, 0);
    SPI_finish();
}

void FinishRun(int64 run_id, const char *status, const char *error, const char *attempts) {
    char id_text[32];
    snprintf(id_text, sizeof(id_text), INT64_FORMAT, run_id);
    const char *args[] = {id_text, status, error, attempts};
    SPI_connect();
    // The run ends with the stored watermark, whatever its batches did (none may have committed).
    ExecuteAsCatalogOwner(
        "UPDATE bulk_ingest.runs SET status = $2, error = $3, attempts = $4, finished_at = clock_timestamp(),"
        "       high_watermark_after = (SELECT value FROM bulk_ingest.watermarks w WHERE w.source = runs.source)"
        " WHERE id = $1::bigint",
        4, args, false, 0);
    SPI_finish();
}

char *RunRowText(int64 run_id) {
    MemoryContext caller_cxt = CurrentMemoryContext;
    char id_text[32];
    snprintf(id_text, sizeof(id_text), INT64_FORMAT, run_id);
    const char *args[] = {id_text};
    SPI_connect();
    ExecuteAsCatalogOwner("SELECT r::text FROM bulk_ingest.runs r WHERE id = $1::bigint", 1, args, false, 1);
    char *text = SPI_processed == 1 ? ResultText(1, caller_cxt) : NULL;
    SPI_finish();
    return text;
}

void LoadSecrets(const char *source, void (*add)(void *arg, const char *name, const char *value), void *arg) {
    SPI_connect();
    ExecuteAsCatalogOwner("SELECT name, value FROM bulk_ingest.secrets WHERE source = $1", 1, &source, true, 0);
    for (uint64 i = 0; i < SPI_processed; i++) {
        add(arg, SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1),
            SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2));
    }
    SPI_finish();
}
