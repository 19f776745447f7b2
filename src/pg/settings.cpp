#include "pg/pg_prelude.h"

#include "pg/settings.h"

#include <climits>

extern "C" {
#include "utils/guc.h"
}

char *bulk_ingest_database_name = NULL;
int bulk_ingest_max_workers = 4;
int bulk_ingest_history_retention = 7 * 24 * 3600;

void DefineSettings(void) {
    DefineCustomStringVariable(
        "bulk_ingest.database_name", "Database in which the pg_bulk_ingest launcher runs scheduled and queued runs.",
        NULL, &bulk_ingest_database_name, "postgres", PGC_POSTMASTER, GUC_SUPERUSER_ONLY, NULL, NULL, NULL);
    DefineCustomIntVariable("bulk_ingest.max_workers",
                            "Maximum number of runs the pg_bulk_ingest launcher runs at once.",
                            "Each run is a background worker: keep max_worker_processes above this.",
                            &bulk_ingest_max_workers, 4, 1, 1024, PGC_SIGHUP, 0, NULL, NULL, NULL);
    DefineCustomIntVariable("bulk_ingest.history_retention", "How long finished runs are kept in bulk_ingest.runs.",
                            "0 keeps them forever.", &bulk_ingest_history_retention, 7 * 24 * 3600, 0, INT_MAX,
                            PGC_SIGHUP, GUC_UNIT_S, NULL, NULL, NULL);
    MarkGUCPrefixReserved("bulk_ingest");
}
