// The supervisor of the launchers (see supervisor.cpp): which databases they serve.
#pragma once

#include "pg/pg_prelude.h"

// Called from _PG_init while preloading: registers the supervisor; or, when bulk_ingest.database_name names the one
// database to serve (and bulk_ingest.databases is '*'), that database's launcher itself, as 0.1 did.
void RegisterSupervisor(void);

// Whether the launchers serve database dbname: bulk_ingest.databases ('*': every database with the extension, or a
// list of names), or the one database of the older bulk_ingest.database_name when it is set.
bool DatabaseIsServed(const char *dbname);

// The setting that decides it, for messages ("bulk_ingest.databases = '*'").
const char *ServedDatabasesSetting(void);
