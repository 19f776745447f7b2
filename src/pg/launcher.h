// The launcher: a background worker (started when the library is preloaded) that runs queued and scheduled runs of
// the sources of one database (bulk_ingest.database_name), at most bulk_ingest.max_workers at once.
//
// It sleeps on its latch until the next source is due, until a request commits (bulk_ingest_start,
// bulk_ingest_schedule and bulk_ingest_register wake it), or until one of its workers exits: idle, it costs nothing.
#pragma once

#include "pg/pg_prelude.h"

void RegisterLauncher(void);
