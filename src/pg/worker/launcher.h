// The launchers: one background worker per database that has the extension (started by the supervisor,
// supervisor.cpp, when the library is preloaded), that runs the database's queued and scheduled runs, at most
// bulk_ingest.max_workers at once.
//
// A launcher sleeps on its latch until the next source is due, until a request commits (bulk_ingest_start,
// bulk_ingest_schedule and bulk_ingest_register wake it), or until one of its workers exits: idle, it costs nothing.
#pragma once

#include "pg/pg_prelude.h"
