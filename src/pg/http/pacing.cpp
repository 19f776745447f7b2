#include "pg/http/pacing.h"

#include "core/rate_limit.h"
#include "pg/guard.h"
#include "pg/worker/shared_state.h"

extern "C" {
#include "datatype/timestamp.h"
#include "pgstat.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"
}

using pg_bulk_ingest::CallCore;
using pg_bulk_ingest::CallCoreForText;

// Hosts whose pace is kept: enough for the hosts the server's sources talk to; the least recently used entry makes
// room for a new host (its pace starts over, which only lets one request go early).
#define PACING_HOSTS 256
#define PACING_HOST_LEN 256

typedef struct PacingEntry {
    char host[PACING_HOST_LEN];  // HostKey(); "" = free
    int64 next_us;
    int64 blocked_until_us;
    int64 used_us;
} PacingEntry;

typedef struct PacingTable {
    slock_t mutex;
    PacingEntry entries[PACING_HOSTS];
} PacingTable;

static PacingTable *pacing = NULL;
static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

static const int64 kUnixToPostgresUs = (int64)(POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * USECS_PER_DAY;

int64 UnixMicroseconds(void) {
    return GetCurrentTimestamp() + kUnixToPostgresUs;
}

void WaitInterruptiblyMs(int64 ms) {
    TimestampTz end = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), ms);
    for (;;) {
        long left = (long)((end - GetCurrentTimestamp()) / 1000);
        if (left <= 0) {
            return;
        }
        (void)WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, left, PG_WAIT_EXTENSION);
        ResetLatch(MyLatch);
        CHECK_FOR_INTERRUPTS();
    }
}

static void PacingRequest(void) {
    if (prev_shmem_request_hook) {
        prev_shmem_request_hook();
    }
    RequestAddinShmemSpace(sizeof(PacingTable));
}

static void PacingStartup(void) {
    if (prev_shmem_startup_hook) {
        prev_shmem_startup_hook();
    }
    LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
    bool found;
    pacing = (PacingTable *)ShmemInitStruct("pg_bulk_ingest pacing", sizeof(PacingTable), &found);
    if (!found) {
        memset(pacing, 0, sizeof(PacingTable));
        SpinLockInit(&pacing->mutex);
    }
    LWLockRelease(AddinShmemInitLock);
}

void RequestPacingSharedMemory(void) {
    prev_shmem_request_hook = shmem_request_hook;
    shmem_request_hook = PacingRequest;
    prev_shmem_startup_hook = shmem_startup_hook;
    shmem_startup_hook = PacingStartup;
}

// The table: shared memory when preloaded, else this process's (the runs of one worker share it).
static PacingTable *Table(void) {
    if (pacing == NULL) {
        pacing = (PacingTable *)MemoryContextAllocZero(TopMemoryContext, sizeof(PacingTable));
        SpinLockInit(&pacing->mutex);
    }
    return pacing;
}

// The entry of host, made when missing (in place of the least recently used). Call with the mutex held.
static PacingEntry *EntryOf(PacingTable *table, const char *host, int64 now_us) {
    PacingEntry *oldest = &table->entries[0];
    for (int i = 0; i < PACING_HOSTS; i++) {
        PacingEntry *entry = &table->entries[i];
        if (strcmp(entry->host, host) == 0) {
            entry->used_us = now_us;
            return entry;
        }
        if (entry->used_us < oldest->used_us) {
            oldest = entry;
        }
    }
    memset(oldest, 0, sizeof(*oldest));
    strlcpy(oldest->host, host, sizeof(oldest->host));
    oldest->used_us = now_us;
    return oldest;
}

static char *HostOf(const char *url) {
    return CallCoreForText(CurrentMemoryContext, [&] { return bulk_ingest::HostKey(url); });
}

int64 ReserveRequestTurn(const char *url, double rate) {
    char *host = HostOf(url);
    PacingTable *table = Table();
    int64 now = UnixMicroseconds();
    int64 wait_us = 0;
    SpinLockAcquire(&table->mutex);
    PacingEntry *entry = EntryOf(table, host, now);
    bulk_ingest::HostPacing record;
    record.next_us = entry->next_us;
    record.blocked_until_us = entry->blocked_until_us;
    wait_us = bulk_ingest::ReserveRequest(&record, rate, now);  // noexcept arithmetic: safe under the spinlock
    entry->next_us = record.next_us;
    SpinLockRelease(&table->mutex);
    pfree(host);
    return now + wait_us;
}

void PaceRequest(const char *url, double rate) {
    int64 wait_us = ReserveRequestTurn(url, rate) - UnixMicroseconds();
    if (wait_us > 0) {
        ProgressSetPhase("waiting for the rate limit", NULL);
        WaitInterruptiblyMs((wait_us + 999) / 1000);
        ProgressSetPhase("connecting", NULL);
    }
}

void HoldHost(const char *url, int64 until_unix_us) {
    char *host = HostOf(url);
    PacingTable *table = Table();
    SpinLockAcquire(&table->mutex);
    PacingEntry *entry = EntryOf(table, host, UnixMicroseconds());
    entry->blocked_until_us = Max(entry->blocked_until_us, until_unix_us);
    SpinLockRelease(&table->mutex);
}
