// bulk_ingest_start(), bulk_ingest_cancel(), bulk_ingest_schedule() and the progress view: the requests served by
// the launcher and the workers.
#include "pg/pg_prelude.h"

#include <csignal>

#include "pg/catalog/catalog.h"
#include "pg/functions/cron.h"
#include "pg/guard.h"
#include "pg/settings.h"
#include "pg/worker/shared_state.h"
#include "pg/worker/source_lock.h"
#include "pg/worker/supervisor.h"

extern "C" {
#include "catalog/pg_type.h"
#include "commands/dbcommands.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"
}

BULK_INGEST_FUNCTION(bulk_ingest_start) {
    char *source = text_to_cstring(PG_GETARG_TEXT_PP(0));
    char *high_watermark = text_to_cstring(PG_GETARG_TEXT_PP(1));
    if (!SharedStateAvailable()) {
        ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
                        errmsg("bulk_ingest_start needs the pg_bulk_ingest launcher"),
                        errhint("Add pg_bulk_ingest to shared_preload_libraries and restart, or use "
                                "bulk_ingest_run(), which does not need it.")));
    }
    if (!DatabaseIsServed(get_database_name(MyDatabaseId))) {
        ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
                        errmsg("the pg_bulk_ingest launchers do not serve database \"%s\" (%s)",
                               get_database_name(MyDatabaseId), ServedDatabasesSetting()),
                        errhint("Add it to bulk_ingest.databases (and reload), or use bulk_ingest_run() here.")));
    }
    SourceRow *row = LoadSource(source, false);
    CheckSourceOwnership(row, "run");
    CheckOwnerCanConnect(row);
    int64 run_id = InsertRun(row->source, "queued", "start", high_watermark);
    if (run_id == 0) {
        ereport(ERROR, (errcode(ERRCODE_LOCK_NOT_AVAILABLE),
                        errmsg("source \"%s\" already has a queued or running run (run " INT64_FORMAT ")", source,
                               ActiveRunOf(row->source)),
                        errhint("Wait for it to end, or cancel it with bulk_ingest_cancel().")));
    }
    WakeLauncherAtCommit();
    PG_RETURN_INT64(run_id);
}

BULK_INGEST_FUNCTION(bulk_ingest_cancel) {
    int64 run_id = PG_GETARG_INT64(0);
    MemoryContext cxt = CurrentMemoryContext;
    char id_text[32];
    snprintf(id_text, sizeof(id_text), INT64_FORMAT, run_id);
    const char *args[] = {id_text};
    SPI_connect();
    ExecuteAsCatalogOwner("SELECT source, status FROM bulk_ingest.runs WHERE id = $1::bigint", 1, args, true, 1);
    if (SPI_processed == 0) {
        ereport(ERROR, (errcode(ERRCODE_UNDEFINED_OBJECT), errmsg("run " INT64_FORMAT " does not exist", run_id)));
    }
    char *source = MemoryContextStrdup(cxt, SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1));
    char *status = MemoryContextStrdup(cxt, SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2));
    SPI_finish();

    SourceRow *row = LoadSource(source, true);
    if (row != NULL) {
        CheckSourceOwnership(row, "cancel a run of");
    } else if (!superuser()) {
        ereport(ERROR, (errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
                        errmsg("permission denied to cancel run " INT64_FORMAT, run_id),
                        errdetail("Its source no longer exists; only superusers may cancel it.")));
    }

    bool cancelled = false;
    if (strcmp(status, "queued") == 0) {
        SPI_connect();
        ExecuteAsCatalogOwner(
            "UPDATE bulk_ingest.runs SET status = 'cancelled', finished_at = clock_timestamp(),"
            " error = 'cancelled before it started (bulk_ingest_cancel)' WHERE id = $1::bigint AND status = 'queued'",
            1, args, false, 0);
        cancelled = SPI_processed == 1;
        SPI_finish();
        if (!cancelled) {
            status = pstrdup("running");  // its worker took it meanwhile
        }
    }
    if (!cancelled && strcmp(status, "running") == 0) {
        // The worker running the source holds its run lock: SIGTERM makes it roll back its batch and record the run
        // as cancelled.
        int pid = SourceLockHolder(source);
        if (pid != 0 && kill(pid, SIGTERM) == 0) {
            cancelled = true;
        }
    }
    PG_RETURN_BOOL(cancelled);
}

BULK_INGEST_FUNCTION(bulk_ingest_schedule) {
    if (PG_ARGISNULL(0)) {
        ereport(ERROR,
                (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("bulk_ingest_schedule: source must not be NULL")));
    }
    char *source = text_to_cstring(PG_GETARG_TEXT_PP(0));
    const char *every = NULL;
    if (!PG_ARGISNULL(1)) {
        Interval *interval = PG_GETARG_INTERVAL_P(1);
        if (interval->month <= 0 && interval->day <= 0 && interval->time <= 0) {
            ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                            errmsg("source \"%s\": a schedule must be a positive interval", source)));
        }
        every = DatumGetCString(DirectFunctionCall1(interval_out, IntervalPGetDatum(interval)));
    }
    SourceRow *row = LoadSource(source, false);
    CheckSourceOwnership(row, "schedule");
    UnscheduleCronJob(row->source);  // one schedule at a time: an interval (or NULL) replaces a cron schedule
    const char *args[] = {row->source, every};
    SPI_connect();
    ExecuteAsCatalogOwner(
        "UPDATE bulk_ingest.sources SET schedule = $2::interval,"
        " next_run_at = CASE WHEN $2 IS NULL THEN NULL ELSE now() END, updated_at = now() WHERE source = $1",
        2, args, false, 0);
    SPI_finish();
    if (every != NULL && (!SharedStateAvailable() || !DatabaseIsServed(get_database_name(MyDatabaseId)))) {
        ereport(WARNING,
                (errmsg("source \"%s\" is scheduled, but the launcher that runs schedules is not running", source),
                 errhint("Add pg_bulk_ingest to shared_preload_libraries, or schedule "
                         "bulk_ingest_run() with pg_cron.")));
    }
    WakeLauncherAtCommit();
    PG_RETURN_VOID();
}

BULK_INGEST_FUNCTION(bulk_ingest_progress) {
    InitMaterializedSRF(fcinfo, 0);
    ReturnSetInfo *rsinfo = (ReturnSetInfo *)fcinfo->resultinfo;
    int max = ProgressSlotCount();
    if (max == 0) {
        return (Datum)0;
    }
    ProgressSlot *slots = (ProgressSlot *)palloc(sizeof(ProgressSlot) * max);
    int n = ProgressSnapshot(slots, max);
    for (int i = 0; i < n; i++) {
        if (!has_privs_of_role(GetUserId(), slots[i].owner)) {
            continue;  // another role's run: its URL and counters are not ours to see
        }
        Datum values[9];
        bool nulls[9] = {false};
        values[0] = Int64GetDatum(slots[i].run_id);
        values[1] = CStringGetTextDatum(slots[i].source);
        values[2] = Int32GetDatum(slots[i].pid);
        values[3] = CStringGetTextDatum(slots[i].phase);
        values[4] = Int64GetDatum((int64)slots[i].batches);
        values[5] = Int64GetDatum((int64)slots[i].rows);
        values[6] = Int64GetDatum((int64)slots[i].bytes);
        values[7] = CStringGetTextDatum(slots[i].url);
        nulls[7] = slots[i].url[0] == '\0';
        values[8] = TimestampTzGetDatum(slots[i].started_at);
        tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
    }
    return (Datum)0;
}

BULK_INGEST_FUNCTION(bulk_ingest_set_secret) {
    if (PG_ARGISNULL(0) || PG_ARGISNULL(1)) {
        ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
                        errmsg("bulk_ingest_set_secret: source and name must not be NULL")));
    }
    char *source = text_to_cstring(PG_GETARG_TEXT_PP(0));
    char *name = text_to_cstring(PG_GETARG_TEXT_PP(1));
    SourceRow *row = LoadSource(source, false);
    CheckSourceOwnership(row, "set a secret of");
    // Checked here rather than by the table's CHECK constraint, whose error would show the row, its value included.
    size_t length = strlen(name);
    if (length == 0 || length > 64 ||
        strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-") != length) {
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("source \"%s\": invalid secret name \"%s\"", row->source, name),
                        errdetail("A secret's name is 1 to 64 letters, digits, '_' or '-' (it is referenced as "
                                  "{secret:name}).")));
    }
    SPI_connect();
    if (PG_ARGISNULL(2)) {
        const char *args[] = {row->source, name};
        ExecuteAsCatalogOwner("DELETE FROM bulk_ingest.secrets WHERE source = $1 AND name = $2", 2, args, false, 0);
    } else {
        // The value travels as a parameter, so it never appears in a statement's text.
        char *value = text_to_cstring(PG_GETARG_TEXT_PP(2));
        const char *args[] = {row->source, name, value};
        ExecuteAsCatalogOwner(
            "INSERT INTO bulk_ingest.secrets (source, name, value) VALUES ($1, $2, $3)"
            " ON CONFLICT (source, name) DO UPDATE SET value = excluded.value, updated_at = now()",
            3, args, false, 0);
    }
    SPI_finish();
    PG_RETURN_VOID();
}

BULK_INGEST_FUNCTION(bulk_ingest_get_secret) {
    char *source = text_to_cstring(PG_GETARG_TEXT_PP(0));
    char *name = text_to_cstring(PG_GETARG_TEXT_PP(1));
    SourceRow *row = LoadSource(source, false);
    CheckSourceOwnership(row, "read a secret of");
    MemoryContext cxt = CurrentMemoryContext;
    const char *args[] = {row->source, name};
    SPI_connect();
    ExecuteAsCatalogOwner("SELECT value FROM bulk_ingest.secrets WHERE source = $1 AND name = $2", 2, args, true, 1);
    char *value = NULL;
    if (SPI_processed == 1) {
        value = MemoryContextStrdup(cxt, SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1));
    }
    SPI_finish();
    if (value == NULL) {
        PG_RETURN_NULL();
    }
    PG_RETURN_TEXT_P(cstring_to_text(value));
}
