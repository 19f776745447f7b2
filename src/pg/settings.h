// The configuration parameters (GUCs) of pg_bulk_ingest. Those of a run are defined whenever the library is loaded
// (a run's worker loads it without preloading); the launcher's only when it is preloaded.
#pragma once

extern char *bulk_ingest_databases;        // bulk_ingest.databases: '*' or the databases the launchers serve
extern char *bulk_ingest_database_name;    // bulk_ingest.database_name: the one database of 0.1 ('' when unset)
extern int bulk_ingest_max_workers;        // bulk_ingest.max_workers: runs a launcher runs at once
extern int bulk_ingest_history_retention;  // bulk_ingest.history_retention, seconds: finished runs kept this long

// Superuser limits on what a source's options may ask of a request (0: no limit).
extern int bulk_ingest_connect_timeout_limit;  // bulk_ingest.connect_timeout_limit, ms
extern int bulk_ingest_request_timeout_limit;  // bulk_ingest.request_timeout_limit, ms
extern int bulk_ingest_response_size_limit;    // bulk_ingest.response_size_limit, kB
extern int bulk_ingest_max_record_size;        // bulk_ingest.max_record_size, kB: the largest record a run reads

// The swap of a rebuilt target (see rebuild.h).
extern int bulk_ingest_lock_timeout;              // bulk_ingest.lock_timeout, ms: each attempt at ACCESS EXCLUSIVE
extern int bulk_ingest_terminate_blockers_after;  // bulk_ingest.terminate_blockers_after, ms (0: never)

// bulk_ingest.binary_copy: rows go to COPY in its binary format when the columns' types allow it (binary_rows.h).
extern bool bulk_ingest_binary_copy;

void DefineSettings(bool preloading);
