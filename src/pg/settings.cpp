#include "pg/pg_prelude.h"

#include "pg/settings.h"
#include "pg/worker/test_pause.h"

#include "pg/http/allowlist.h"

#include <climits>

extern "C" {
#include "utils/guc.h"
#include "utils/varlena.h"
}

// bulk_ingest.databases is '*' or a comma-separated list of database names (quoted as identifiers when needed).
static bool CheckDatabases(char **newval, void **extra, GucSource source) {
    if (strcmp(*newval, "*") == 0) {
        return true;
    }
    char *copy = pstrdup(*newval);
    List *names = NIL;
    bool ok = SplitGUCList(copy, ',', &names) && names != NIL;
    list_free(names);
    pfree(copy);
    if (!ok) {
        GUC_check_errdetail("Give '*' or a comma-separated list of database names.");
    }
    return ok;
}

char *bulk_ingest_databases = NULL;
char *bulk_ingest_database_name = NULL;
int bulk_ingest_max_workers = 4;
int bulk_ingest_history_retention = 7 * 24 * 3600;
int bulk_ingest_connect_timeout_limit = 60000;
int bulk_ingest_request_timeout_limit = 0;
int bulk_ingest_response_size_limit = 0;
int bulk_ingest_max_record_size = 64 * 1024;
int bulk_ingest_lock_timeout = 100;
int bulk_ingest_terminate_blockers_after = 0;
bool bulk_ingest_binary_copy = true;

void DefineSettings(bool preloading) {
    DefineAllowedHostsSetting();
    DefineCustomBoolVariable("bulk_ingest.binary_copy",
                             "Loads rows through COPY's binary format when every column's type allows it.",
                             "Off: every row goes through COPY's text format and the types' input functions (slower; "
                             "the same rows).",
                             &bulk_ingest_binary_copy, true, PGC_SUSET, 0, NULL, NULL, NULL);
    DefineCustomIntVariable("bulk_ingest.connect_timeout_limit",
                            "Longest connect timeout a source may ask for (options.connect_timeout_ms).", NULL,
                            &bulk_ingest_connect_timeout_limit, 60000, 1, INT_MAX, PGC_SUSET, GUC_UNIT_MS, NULL, NULL,
                            NULL);
    DefineCustomIntVariable(
        "bulk_ingest.request_timeout_limit", "Longest time one request may take, whatever options.timeout_ms says.",
        "0: no limit (stalled transfers still fail after 60 s without data).", &bulk_ingest_request_timeout_limit, 0, 0,
        INT_MAX, PGC_SUSET, GUC_UNIT_MS, NULL, NULL, NULL);
    DefineCustomIntVariable("bulk_ingest.response_size_limit",
                            "Largest response body accepted, whatever options.max_response_bytes says.", "0: no limit.",
                            &bulk_ingest_response_size_limit, 0, 0, INT_MAX, PGC_SUSET, GUC_UNIT_KB, NULL, NULL, NULL);
    // A run holds a record whole, and loading it makes a few more copies of it (see docs/operations.md): this
    // bounds a worker's memory, and fails a longer record clearly, naming the source, the batch and the line.
    DefineCustomIntVariable(
        "bulk_ingest.max_record_size", "Largest record (NDJSON line, JSON array element, CSV record) a run reads.",
        "A longer record fails its batch. A worker needs a few times this much memory for a "
        "record this long.",
        &bulk_ingest_max_record_size, 64 * 1024, 64, 1024 * 1024, PGC_SUSET, GUC_UNIT_KB, NULL, NULL, NULL);
    DefineCustomIntVariable(
        "bulk_ingest.lock_timeout", "Longest wait of each attempt to take the lock that swaps a rebuilt table in.",
        "Sessions that need the table queue behind a pending attempt, so this bounds how long they can be stalled; "
        "a failed attempt is retried after a jittered backoff.",
        &bulk_ingest_lock_timeout, 100, 1, INT_MAX, PGC_SUSET, GUC_UNIT_MS, NULL, NULL, NULL);
    DefineCustomIntVariable("bulk_ingest.terminate_blockers_after",
                            "How long sessions may block the swap of a rebuilt table before they are cancelled, "
                            "then terminated.",
                            "0: never; sessions are only waited for.", &bulk_ingest_terminate_blockers_after, 0, 0,
                            INT_MAX, PGC_SUSET, GUC_UNIT_MS, NULL, NULL, NULL);
    DefineCustomStringVariable("bulk_ingest.test_pause_at",
                               "Testing aid: the point at which a run stops and waits (see docs/reliability.md).",
                               "Empty (the default) in production. A paused run resumes on SIGUSR2 or when a reloaded "
                               "configuration no longer names the point.",
                               &bulk_ingest_test_pause_at, "", PGC_SUSET, GUC_NOT_IN_SAMPLE, NULL, NULL, NULL);
    if (!preloading) {
        return;
    }
    DefineCustomStringVariable(
        "bulk_ingest.databases", "Databases whose scheduled and queued runs pg_bulk_ingest's launchers run.",
        "'*': every database where the extension is created (one launcher each); or a "
        "comma-separated list of database names.",
        &bulk_ingest_databases, "*", PGC_SIGHUP, GUC_LIST_INPUT | GUC_SUPERUSER_ONLY, CheckDatabases, NULL, NULL);
    DefineCustomStringVariable("bulk_ingest.database_name",
                               "The one database served by the launcher, as in version 0.1 (deprecated).",
                               "When set, and bulk_ingest.databases is '*', only this database is served.",
                               &bulk_ingest_database_name, "", PGC_POSTMASTER, GUC_SUPERUSER_ONLY, NULL, NULL, NULL);
    DefineCustomIntVariable("bulk_ingest.max_workers",
                            "Maximum number of runs the pg_bulk_ingest launcher of a database runs at once.",
                            "Each run is a background worker: keep max_worker_processes above this.",
                            &bulk_ingest_max_workers, 4, 1, 1024, PGC_SIGHUP, 0, NULL, NULL, NULL);
    DefineCustomIntVariable("bulk_ingest.history_retention", "How long finished runs are kept in bulk_ingest.runs.",
                            "0 keeps them forever.", &bulk_ingest_history_retention, 7 * 24 * 3600, 0, INT_MAX,
                            PGC_SIGHUP, GUC_UNIT_S, NULL, NULL, NULL);
    MarkGUCPrefixReserved("bulk_ingest");
}
