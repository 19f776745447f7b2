#include "pg/worker/shared_state.h"

#include "pg/worker/launcher_registry.h"

extern "C" {
#include "access/xact.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/timestamp.h"
}

#include <csignal>

typedef struct SharedState {
    int nslots;
    ProgressSlot slots[FLEXIBLE_ARRAY_MEMBER];
} SharedState;

static SharedState *shared = NULL;
static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;
ProgressSlot *MyProgress = NULL;

// One slot per possible background worker is enough: every run is one.
static int SlotCount(void) {
    return max_worker_processes;
}

static Size SharedStateSize(void) {
    return add_size(offsetof(SharedState, slots), mul_size(SlotCount(), sizeof(ProgressSlot)));
}

static void SharedStateRequest(void) {
    if (prev_shmem_request_hook) {
        prev_shmem_request_hook();
    }
    RequestAddinShmemSpace(SharedStateSize());
}

static void SharedStateStartup(void) {
    if (prev_shmem_startup_hook) {
        prev_shmem_startup_hook();
    }
    LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
    bool found;
    shared = (SharedState *)ShmemInitStruct("pg_bulk_ingest", SharedStateSize(), &found);
    if (!found) {
        memset(shared, 0, SharedStateSize());
        shared->nslots = SlotCount();
        for (int i = 0; i < shared->nslots; i++) {
            SpinLockInit(&shared->slots[i].mutex);
        }
    }
    LWLockRelease(AddinShmemInitLock);
}

void RequestSharedState(void) {
    prev_shmem_request_hook = shmem_request_hook;
    shmem_request_hook = SharedStateRequest;
    prev_shmem_startup_hook = shmem_startup_hook;
    shmem_startup_hook = SharedStateStartup;
}

bool SharedStateAvailable(void) {
    return shared != NULL;
}

void StopWorkersOfDatabase(Oid database) {
    if (!shared) {
        return;
    }
    StopLauncherOf(database);
    for (int i = 0; i < shared->nslots; i++) {
        ProgressSlot *slot = &shared->slots[i];
        int pid = 0;
        SpinLockAcquire(&slot->mutex);
        if (slot->in_use && slot->database == database) {
            pid = slot->pid;
        }
        SpinLockRelease(&slot->mutex);
        if (pid != 0) {
            kill(pid, SIGTERM);  // the run is cancelled and recorded (the database is about to go anyway)
        }
    }
}

static bool wake_at_commit = false;
static bool xact_callback_registered = false;

static void WakeLauncherCallback(XactEvent event, void *arg) {
    if (event == XACT_EVENT_COMMIT && wake_at_commit) {
        WakeLauncherOf(MyDatabaseId);  // or the supervisor, when the database has no launcher yet
    }
    if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT) {
        wake_at_commit = false;
    }
}

void WakeLauncherAtCommit(void) {
    if (!shared) {
        return;
    }
    if (!xact_callback_registered) {
        RegisterXactCallback(WakeLauncherCallback, NULL);
        xact_callback_registered = true;
    }
    wake_at_commit = true;
}

static void ReleaseProgressAtExit(int code, Datum arg) {
    ProgressEnd();
}

void ProgressBegin(int64 run_id, const char *source, Oid owner) {
    if (!shared || MyProgress) {
        return;
    }
    for (int i = 0; i < shared->nslots; i++) {
        ProgressSlot *slot = &shared->slots[i];
        SpinLockAcquire(&slot->mutex);
        if (!slot->in_use) {
            slot->in_use = true;
            slot->database = MyDatabaseId;
            slot->owner = owner;
            slot->run_id = run_id;
            slot->pid = MyProcPid;
            strlcpy(slot->source, source, sizeof(slot->source));
            strlcpy(slot->phase, "starting", sizeof(slot->phase));
            slot->url[0] = '\0';
            slot->batches = slot->rows = slot->bytes = 0;
            slot->started_at = GetCurrentTimestamp();
            SpinLockRelease(&slot->mutex);
            MyProgress = slot;
            before_shmem_exit(ReleaseProgressAtExit, (Datum)0);
            return;
        }
        SpinLockRelease(&slot->mutex);
    }
}

void ProgressSetPhase(const char *phase, const char *url) {
    if (!MyProgress) {
        return;
    }
    SpinLockAcquire(&MyProgress->mutex);
    strlcpy(MyProgress->phase, phase, sizeof(MyProgress->phase));
    if (url) {
        strlcpy(MyProgress->url, url, sizeof(MyProgress->url));
    }
    SpinLockRelease(&MyProgress->mutex);
}

void ProgressAddRead(uint64 rows, uint64 bytes) {
    if (!MyProgress) {
        return;
    }
    SpinLockAcquire(&MyProgress->mutex);
    MyProgress->rows += rows;
    MyProgress->bytes += bytes;
    SpinLockRelease(&MyProgress->mutex);
}

void ProgressBatchCommitted(void) {
    if (!MyProgress) {
        return;
    }
    SpinLockAcquire(&MyProgress->mutex);
    MyProgress->batches++;
    SpinLockRelease(&MyProgress->mutex);
}

void ProgressEnd(void) {
    if (!MyProgress) {
        return;
    }
    SpinLockAcquire(&MyProgress->mutex);
    MyProgress->in_use = false;
    SpinLockRelease(&MyProgress->mutex);
    MyProgress = NULL;
}

int ProgressPidOfRun(int64 run_id) {
    int pid = 0;
    for (int i = 0; shared && i < shared->nslots && pid == 0; i++) {
        ProgressSlot *slot = &shared->slots[i];
        SpinLockAcquire(&slot->mutex);
        if (slot->in_use && slot->database == MyDatabaseId && slot->run_id == run_id) {
            pid = slot->pid;
        }
        SpinLockRelease(&slot->mutex);
    }
    return pid;
}

int ProgressSnapshot(ProgressSlot *out, int max) {
    int n = 0;
    for (int i = 0; shared && i < shared->nslots && n < max; i++) {
        ProgressSlot *slot = &shared->slots[i];
        SpinLockAcquire(&slot->mutex);
        if (slot->in_use && slot->database == MyDatabaseId) {
            memcpy(&out[n++], slot, sizeof(ProgressSlot));
        }
        SpinLockRelease(&slot->mutex);
    }
    return n;
}

int ProgressSlotCount(void) {
    return shared ? shared->nslots : 0;
}
