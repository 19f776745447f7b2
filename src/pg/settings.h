// The configuration parameters (GUCs) of pg_bulk_ingest, defined when the library is preloaded.
#pragma once

extern char *bulk_ingest_database_name;    // bulk_ingest.database_name: the database the launcher serves
extern int bulk_ingest_max_workers;        // bulk_ingest.max_workers: runs the launcher runs at once
extern int bulk_ingest_history_retention;  // bulk_ingest.history_retention, seconds: finished runs kept this long

void DefineSettings(void);
