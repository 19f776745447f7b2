// bulk_ingest_schedule(source, schedule text): a cron schedule through pg_cron, or an interval through the launcher.
#include "pg/functions/cron.h"

#include <string>

#include "core/cron_schedule.h"
#include "pg/catalog/catalog.h"
#include "pg/catalog/catalog_version.h"
#include "pg/guard.h"
#include "pg/worker/shared_state.h"

extern "C" {
#include "catalog/pg_type.h"
#include "commands/dbcommands.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"

// The interval form (requests.cpp).
Datum bulk_ingest_schedule(PG_FUNCTION_ARGS);
}

using pg_bulk_ingest::CallCore;

static bool CronInstalled(void) {
    return OidIsValid(get_extension_oid("pg_cron", true));
}

// The name of the source's job: cron.job.jobname is a name (at most NAMEDATALEN - 1 bytes).
static char *CronJobName(const char *source) {
    char *name = psprintf("bulk_ingest:%s", source);
    if (strlen(name) >= NAMEDATALEN) {
        ereport(ERROR, (errcode(ERRCODE_NAME_TOO_LONG),
                        errmsg("source \"%s\": the name is too long for a pg_cron job (\"bulk_ingest:<source>\" "
                               "must fit in %d bytes)",
                               source, NAMEDATALEN - 1),
                        errhint("Schedule it with an interval (the launcher), or register it under a shorter name.")));
    }
    return name;
}

// The source's job (its id, 0 when none) and its schedule.
static int64 FindCronJob(const char *job_name, char **schedule) {
    const char *args[] = {job_name};
    MemoryContext cxt = CurrentMemoryContext;
    SPI_connect();
    ExecuteAsCatalogOwner(
        "SELECT jobid, schedule FROM cron.job WHERE jobname = $1 AND database = pg_catalog.current_database()"
        " ORDER BY jobid LIMIT 1",
        1, args, true, 0);
    int64 job_id = 0;
    if (SPI_processed == 1) {
        job_id = strtoll(SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1), NULL, 10);
        if (schedule != NULL) {
            *schedule = MemoryContextStrdup(cxt, SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2));
        }
    }
    SPI_finish();
    return job_id;
}

void UnscheduleCronJob(const char *source) {
    if (!CronInstalled() || strlen(source) + strlen("bulk_ingest:") >= NAMEDATALEN) {
        return;
    }
    const char *args[] = {CronJobName(source)};
    SPI_connect();
    ExecuteAsCatalogOwner(
        "SELECT cron.unschedule(jobid) FROM cron.job WHERE jobname = $1 AND database = pg_catalog.current_database()",
        1, args, false, 0);
    SPI_finish();
}

void ReownCronJob(const char *source, Oid new_owner) {
    if (!CronInstalled() || strlen(source) + strlen("bulk_ingest:") >= NAMEDATALEN) {
        return;
    }
    const char *args[] = {CronJobName(source), GetUserNameFromId(new_owner, false)};
    SPI_connect();
    ExecuteAsCatalogOwner(
        "SELECT cron.alter_job(jobid, username => $2) FROM cron.job"
        " WHERE jobname = $1 AND database = pg_catalog.current_database()",
        2, args, false, 0);
    SPI_finish();
}

// Makes or moves the source's job: every tick runs the source as its owner, in this database.
static void ScheduleCronJob(const SourceRow *row, const char *schedule) {
    if (!CronInstalled()) {
        const char *cron_database = GetConfigOption("cron.database_name", true, false);
        ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
                        errmsg("source \"%s\": a cron schedule needs pg_cron, which is not created in this database",
                               row->source),
                        cron_database != NULL
                            ? errhint("pg_cron schedules from database \"%s\" (cron.database_name): there, run "
                                      "SELECT cron.schedule_in_database('bulk_ingest:%s', '%s', "
                                      "'SELECT bulk_ingest_run(%s)', '%s'); or give an interval instead.",
                                      cron_database, row->source, schedule, quote_literal_cstr(row->source),
                                      get_database_name(MyDatabaseId))
                            : errhint("Install pg_cron (shared_preload_libraries, cron.database_name = '%s', CREATE "
                                      "EXTENSION pg_cron), or give an interval (the launcher runs it).",
                                      get_database_name(MyDatabaseId))));
    }
    CheckOwnerCanConnect(row);
    char *job_name = CronJobName(row->source);
    Oid schema = ExtensionSchema();
    // The job runs as the source's owner, who may run it; the function is named with its schema (pg_cron's session
    // has its own search_path).
    char *command = psprintf("SELECT %s.bulk_ingest_run(%s)", quote_identifier(get_namespace_name(schema)),
                             quote_literal_cstr(row->source));
    char *owner = GetUserNameFromId(row->owner, false);
    char *database = get_database_name(MyDatabaseId);
    int64 job_id = FindCronJob(job_name, NULL);
    SPI_connect();
    if (job_id != 0) {
        char id_text[32];
        snprintf(id_text, sizeof(id_text), INT64_FORMAT, job_id);
        const char *args[] = {id_text, schedule, command, database, owner};
        ExecuteAsCatalogOwner(
            "SELECT cron.alter_job($1::bigint, schedule => $2, command => $3, database => $4, username => $5,"
            " active => true)",
            5, args, false, 0);
    } else {
        const char *args[] = {job_name, schedule, command, database, owner};
        ExecuteAsCatalogOwner("SELECT cron.schedule_in_database($1, $2, $3, $4, $5, true)", 5, args, false, 0);
    }
    // One schedule at a time: the launcher's interval stops.
    const char *args[] = {row->source};
    ExecuteAsCatalogOwner(
        "UPDATE bulk_ingest.sources SET schedule = NULL, next_run_at = NULL, updated_at = now() WHERE source = $1", 1,
        args, false, 0);
    SPI_finish();
}

static void ScheduleErrorCallback(void *arg) {
    errcontext(
        "bulk_ingest_schedule: \"%s\" is neither a cron schedule (five fields, or @hourly, @daily...) nor an "
        "interval",
        (const char *)arg);
}

// bulk_ingest_schedule(source text, schedule text): a cron schedule ("*/5 * * * *") through pg_cron; anything else
// is an interval ("15 minutes") for the launcher; NULL stops both.
BULK_INGEST_FUNCTION(bulk_ingest_schedule_text) {
    if (PG_ARGISNULL(0)) {
        ereport(ERROR,
                (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("bulk_ingest_schedule: source must not be NULL")));
    }
    char *source = text_to_cstring(PG_GETARG_TEXT_PP(0));
    char *schedule = PG_ARGISNULL(1) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(1));
    bool cron = false;
    if (schedule != NULL) {
        CallCore([&] { cron = bulk_ingest::LooksLikeCronSchedule(schedule); });
    }
    if (cron) {
        CallCore([&] { (void)bulk_ingest::ParseCronSchedule(schedule); }, psprintf("source \"%s\": ", source));
        SourceRow *row = LoadSource(source, false);
        CheckSourceOwnership(row, "schedule");
        ScheduleCronJob(row, schedule);
        WakeLauncherAtCommit();
        PG_RETURN_VOID();
    }
    // An interval, or NULL: the launcher's schedule (which removes the cron job).
    LOCAL_FCINFO(call, 2);
    InitFunctionCallInfoData(*call, NULL, 2, InvalidOid, NULL, NULL);
    call->args[0].value = PG_GETARG_DATUM(0);
    call->args[0].isnull = false;
    call->args[1].isnull = schedule == NULL;
    if (schedule != NULL) {
        ErrorContextCallback callback = {error_context_stack, ScheduleErrorCallback, schedule};
        error_context_stack = &callback;
        call->args[1].value = DirectFunctionCall3(interval_in, CStringGetDatum(schedule), ObjectIdGetDatum(InvalidOid),
                                                  Int32GetDatum(-1));
        error_context_stack = callback.previous;
    }
    bulk_ingest_schedule(call);
    PG_RETURN_VOID();
}

// bulk_ingest._cron_schedule(source): the schedule of the source's pg_cron job, NULL when it has none (or the caller
// may not see the source).
BULK_INGEST_FUNCTION(bulk_ingest_cron_schedule) {
    char *source = text_to_cstring(PG_GETARG_TEXT_PP(0));
    if (!CronInstalled() || strlen(source) + strlen("bulk_ingest:") >= NAMEDATALEN) {
        PG_RETURN_NULL();
    }
    SourceRow *row = LoadSource(source, true);
    if (row == NULL || !has_privs_of_role(GetUserId(), row->owner)) {
        PG_RETURN_NULL();
    }
    char *schedule = NULL;
    if (FindCronJob(CronJobName(source), &schedule) == 0 || schedule == NULL) {
        PG_RETURN_NULL();
    }
    PG_RETURN_TEXT_P(cstring_to_text(schedule));
}

// bulk_ingest._cron_next_run(schedule, after): when a cron schedule next fires after a time (UTC, as pg_cron 1.4).
BULK_INGEST_FUNCTION(bulk_ingest_cron_next_run) {
    char *schedule = text_to_cstring(PG_GETARG_TEXT_PP(0));
    TimestampTz after = PG_GETARG_TIMESTAMPTZ(1);
    int64 after_unix = (int64)timestamptz_to_time_t(after);
    int64 next = -1;
    bool valid = true;
    CallCore([&] {
        try {
            next = bulk_ingest::NextCronTime(bulk_ingest::ParseCronSchedule(schedule), after_unix);
        } catch (const std::exception &) {
            valid = false;  // pg_cron's own syntax beyond ours ("30 seconds" in later versions): no prediction
        }
    });
    if (!valid || next < 0) {
        PG_RETURN_NULL();
    }
    PG_RETURN_TIMESTAMPTZ(time_t_to_timestamptz((pg_time_t)next));
}
