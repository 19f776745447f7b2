// Shared memory of pg_bulk_ingest (present only when the library is in shared_preload_libraries): one progress slot
// per run in flight, behind bulk_ingest.progress (the launchers' pids are in launcher_registry.h).
#pragma once

#include "pg/pg_prelude.h"

extern "C" {
#include "datatype/timestamp.h"
#include "storage/spin.h"
}

#define PROGRESS_URL_LEN 1024
#define PROGRESS_SOURCE_LEN 256

typedef struct ProgressSlot {
    slock_t mutex;
    bool in_use;
    Oid database;
    Oid owner;  // the source's owner: only roles with its privileges (and superusers) see the slot
    int64 run_id;
    int pid;
    char source[PROGRESS_SOURCE_LEN];
    char phase[32];
    char url[PROGRESS_URL_LEN];
    uint64 batches;
    uint64 rows;   // rows read so far: committed ones and those of the batch in flight
    uint64 bytes;  // bytes of the responses read so far
    TimestampTz started_at;
} ProgressSlot;

// Called from _PG_init while preloading: requests the shared memory and installs the hooks.
void RequestSharedState(void);

// Whether the shared memory exists (the library was preloaded).
bool SharedStateAvailable(void);

// Wakes the launcher of this database when the current transaction commits (no-op without the launchers); with no
// launcher there yet, the supervisor starts one.
void WakeLauncherAtCommit(void);
// Called when database is about to be dropped: our workers connected to it leave at once (runs are cancelled, its
// launcher exits), so that they never block DROP DATABASE.
void StopWorkersOfDatabase(Oid database);

// This process's progress slot (NULL when none): taken for the duration of a run, released at exit.
extern ProgressSlot *MyProgress;
void ProgressBegin(int64 run_id, const char *source, Oid owner);
void ProgressSetPhase(const char *phase, const char *url);  // url may be NULL (unchanged)
void ProgressAddRead(uint64 rows, uint64 bytes);            // rows and bytes read, committed or not
void ProgressBatchCommitted(void);
void ProgressEnd(void);

// The pid running run_id in this database, or 0.
int ProgressPidOfRun(int64 run_id);
// Copies the slots in use of this database into out (at most max); returns how many.
int ProgressSnapshot(ProgressSlot *out, int max);
int ProgressSlotCount(void);
