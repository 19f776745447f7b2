#include "pg/worker/launcher_registry.h"

#include <csignal>

extern "C" {
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "storage/spin.h"
}

typedef struct LauncherEntry {
    Oid database;  // InvalidOid: a free entry
    LauncherState state;
    int pid;
    bool must_leave;
    bool recheck;  // woken while its launcher was starting: look again even if it finds no extension
} LauncherEntry;

typedef struct LauncherRegistry {
    slock_t mutex;
    int supervisor_pid;
    int nentries;
    LauncherEntry entries[FLEXIBLE_ARRAY_MEMBER];
} LauncherRegistry;

static LauncherRegistry *registry = NULL;
static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

// A launcher is a background worker: there can be no more of them than worker processes.
static int EntryCount(void) {
    return max_worker_processes;
}

static Size RegistrySize(void) {
    return add_size(offsetof(LauncherRegistry, entries), mul_size(EntryCount(), sizeof(LauncherEntry)));
}

static void RegistryRequest(void) {
    if (prev_shmem_request_hook) {
        prev_shmem_request_hook();
    }
    RequestAddinShmemSpace(RegistrySize());
}

static void RegistryStartup(void) {
    if (prev_shmem_startup_hook) {
        prev_shmem_startup_hook();
    }
    LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
    bool found;
    registry = (LauncherRegistry *)ShmemInitStruct("pg_bulk_ingest launchers", RegistrySize(), &found);
    if (!found) {
        memset(registry, 0, RegistrySize());
        SpinLockInit(&registry->mutex);
        registry->nentries = EntryCount();
    }
    LWLockRelease(AddinShmemInitLock);
}

void RequestLauncherRegistry(void) {
    prev_shmem_request_hook = shmem_request_hook;
    shmem_request_hook = RegistryRequest;
    prev_shmem_startup_hook = shmem_startup_hook;
    shmem_startup_hook = RegistryStartup;
}

bool LauncherRegistryAvailable(void) {
    return registry != NULL;
}

void SetSupervisorPid(int pid) {
    if (registry) {
        SpinLockAcquire(&registry->mutex);
        registry->supervisor_pid = pid;
        SpinLockRelease(&registry->mutex);
    }
}

int SupervisorPid(void) {
    if (!registry) {
        return 0;
    }
    SpinLockAcquire(&registry->mutex);
    int pid = registry->supervisor_pid;
    SpinLockRelease(&registry->mutex);
    return pid;
}

// The entry of database, or NULL; with create, a free entry is taken for it. Called with the mutex held.
static LauncherEntry *Find(Oid database, bool create) {
    LauncherEntry *free_entry = NULL;
    for (int i = 0; i < registry->nentries; i++) {
        LauncherEntry *entry = &registry->entries[i];
        if (entry->database == database) {
            return entry;
        }
        if (free_entry == NULL && entry->database == InvalidOid) {
            free_entry = entry;
        }
    }
    if (create && free_entry != NULL) {
        memset(free_entry, 0, sizeof(*free_entry));
        free_entry->database = database;
        return free_entry;
    }
    return NULL;
}

LauncherState LauncherStateOf(Oid database, int *pid) {
    LauncherState state = LAUNCHER_UNKNOWN;
    int found_pid = 0;
    if (registry) {
        SpinLockAcquire(&registry->mutex);
        LauncherEntry *entry = Find(database, false);
        if (entry != NULL) {
            state = entry->state;
            found_pid = entry->pid;
        }
        SpinLockRelease(&registry->mutex);
    }
    if (pid != NULL) {
        *pid = found_pid;
    }
    return state;
}

bool SetLauncherState(Oid database, LauncherState state, int pid) {
    if (!registry) {
        return false;
    }
    SpinLockAcquire(&registry->mutex);
    LauncherEntry *entry = Find(database, true);
    if (entry != NULL) {
        // A request that came while the launcher was looking (CREATE EXTENSION committing meanwhile) is not lost.
        entry->state = state == LAUNCHER_ABSENT && entry->recheck ? LAUNCHER_UNKNOWN : state;
        entry->pid = pid;
        if (state == LAUNCHER_STARTING || state == LAUNCHER_ABSENT) {
            entry->recheck = false;  // a fresh look starts now
        }
        if (state != LAUNCHER_LEAVING) {
            entry->must_leave = false;
        }
    }
    SpinLockRelease(&registry->mutex);
    return entry != NULL;
}

void ForgetLaunchersExcept(bool (*keep)(Oid database, void *arg), void *arg) {
    if (!registry) {
        return;
    }
    // keep() may not be called with a spinlock held: take the list first.
    Oid *databases = (Oid *)palloc(sizeof(Oid) * registry->nentries);
    int n = 0;
    SpinLockAcquire(&registry->mutex);
    for (int i = 0; i < registry->nentries; i++) {
        if (registry->entries[i].database != InvalidOid && registry->entries[i].pid == 0) {
            databases[n++] = registry->entries[i].database;
        }
    }
    SpinLockRelease(&registry->mutex);
    for (int i = 0; i < n; i++) {
        if (keep(databases[i], arg)) {
            continue;
        }
        SpinLockAcquire(&registry->mutex);
        LauncherEntry *entry = Find(databases[i], false);
        if (entry != NULL && entry->pid == 0) {
            entry->database = InvalidOid;
        }
        SpinLockRelease(&registry->mutex);
    }
    pfree(databases);
}

void WakeLauncherOf(Oid database) {
    if (!registry) {
        return;
    }
    int pid = 0;
    SpinLockAcquire(&registry->mutex);
    LauncherEntry *entry = Find(database, true);
    if (entry != NULL) {
        // Not lost when the launcher is starting, or leaving because it found no extension a moment ago.
        entry->recheck = true;
    }
    if (entry != NULL && entry->state == LAUNCHER_RUNNING && entry->pid != 0) {
        pid = entry->pid;
    } else {
        if (entry != NULL && entry->state != LAUNCHER_STARTING) {
            entry->state = LAUNCHER_UNKNOWN;  // the supervisor looks at it again
        }
        pid = registry->supervisor_pid;
    }
    SpinLockRelease(&registry->mutex);
    if (pid != 0) {
        kill(pid, SIGUSR1);  // both handle SIGUSR1 by setting their latch
    }
}

void StopLauncherOf(Oid database) {
    if (!registry) {
        return;
    }
    int pid = 0;
    SpinLockAcquire(&registry->mutex);
    LauncherEntry *entry = Find(database, false);
    if (entry != NULL) {
        entry->must_leave = true;
        entry->state = LAUNCHER_LEAVING;
        pid = entry->pid;
    }
    SpinLockRelease(&registry->mutex);
    if (pid != 0) {
        kill(pid, SIGTERM);
    }
}

bool LauncherMustLeave(Oid database) {
    if (!registry) {
        return false;
    }
    SpinLockAcquire(&registry->mutex);
    LauncherEntry *entry = Find(database, false);
    bool leave = entry != NULL && entry->must_leave;
    SpinLockRelease(&registry->mutex);
    return leave;
}

bool TakeLauncherRecheck(Oid database) {
    if (!registry) {
        return false;
    }
    SpinLockAcquire(&registry->mutex);
    LauncherEntry *entry = Find(database, false);
    bool recheck = entry != NULL && entry->recheck;
    if (entry != NULL) {
        entry->recheck = false;
    }
    SpinLockRelease(&registry->mutex);
    return recheck;
}
