#include "pg/rebuild/swap_lock.h"

#include "pg/settings.h"
#include "pg/sql.h"

#include <signal.h>

extern "C" {
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "common/pg_prng.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "storage/latch.h"
#include "storage/lmgr.h"
#include "storage/procarray.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/timestamp.h"
#include "utils/wait_event.h"
}

static bool IsLockTimeout(const ErrorData *edata) {
    return edata->sqlerrcode == ERRCODE_LOCK_NOT_AVAILABLE;
}

// One attempt: every lock, each waited for at most bulk_ingest.lock_timeout.
static bool TryLocks(List *relids) {
    auto attempt = [&]() {
        int nest = NewGUCNestLevel();
        char timeout[32];
        snprintf(timeout, sizeof(timeout), "%d", bulk_ingest_lock_timeout);
        (void)set_config_option("lock_timeout", timeout, PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
        ListCell *cell;
        foreach (cell, relids) {
            LockRelationOid(lfirst_oid(cell), AccessExclusiveLock);
        }
        AtEOXact_GUC(true, nest);
    };
    ErrorData *edata = InSubtransaction(attempt, IsLockTimeout);
    if (edata != NULL) {
        FreeErrorData(edata);
        return false;
    }
    return true;
}

// Cancels (or, with terminate, terminates) the sessions holding a lock on one of relids.
static void SignalBlockers(List *relids, const char *what, bool terminate, long blocked_ms) {
    // Never the run's own caller (bulk_ingest_run waits for the run; if it holds a lock on the table, that is the
    // caller's own doing, and terminating it would end the run too).
    int caller = MyBgworkerEntry != NULL ? (int)MyBgworkerEntry->bgw_notify_pid : 0;
    Oid types[] = {OIDARRAYOID, INT4OID, INT4OID};
    Datum values[] = {OidArrayDatum(relids), Int32GetDatum(MyProcPid), Int32GetDatum(caller)};
    SPI_connect();
    uint64 n = QuerySql(
        "SELECT DISTINCT pid FROM pg_catalog.pg_locks"
        " WHERE locktype = 'relation' AND granted AND relation = ANY($1) AND pid <> $2 AND pid <> $3"
        "   AND database = (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database())",
        3, types, values, NULL);
    for (uint64 r = 0; r < n; r++) {
        bool isnull;
        int pid = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 1, &isnull));
        if (isnull || BackendPidGetProc(pid) == NULL) {
            continue;
        }
        ereport(LOG, (errmsg("pg_bulk_ingest: %s: %s process %d, which has blocked it for %ld ms", what,
                             terminate ? "terminating" : "cancelling", pid, blocked_ms),
                      errhint("bulk_ingest.terminate_blockers_after is %d ms.", bulk_ingest_terminate_blockers_after)));
        // The superuser who set bulk_ingest.terminate_blockers_after asked for this, whoever the session belongs to.
        if (kill(pid, terminate ? SIGTERM : SIGINT) != 0) {
            ereport(WARNING, (errmsg("pg_bulk_ingest: could not signal process %d: %m", pid)));
        }
    }
    SPI_finish();
}

void LockForSwap(List *relids, const char *what, SwapLockStats *stats) {
    TimestampTz start = GetCurrentTimestamp();
    TimestampTz last_log = start;
    bool cancelled = false;
    stats->attempts = 0;
    for (;;) {
        stats->attempts++;
        if (TryLocks(relids)) {
            break;
        }
        TimestampTz now = GetCurrentTimestamp();
        long blocked_ms = (long)((now - start) / 1000);
        if (TimestampDifferenceExceeds(last_log, now, 10000)) {
            ereport(LOG, (errmsg("pg_bulk_ingest: %s: still waiting for the lock after %d attempts (%ld ms)", what,
                                 stats->attempts, blocked_ms)));
            last_log = now;
        }
        int limit = bulk_ingest_terminate_blockers_after;
        if (limit > 0 && blocked_ms >= limit) {
            bool terminate = cancelled && blocked_ms >= 2L * limit;
            if (!cancelled || terminate) {
                SignalBlockers(relids, what, terminate, blocked_ms);
                cancelled = true;
            }
        }
        // Full jitter over a ceiling that doubles from 10 ms to 1 s: the queue behind a failed attempt drains, and
        // several waiting swaps do not retry in step.
        int shift = Min(stats->attempts - 1, 7);
        uint32 ceiling = Min((uint32)10 << shift, (uint32)1000);
        long pause = (long)pg_prng_uint64_range(&pg_global_prng_state, 1, ceiling);
        pgstat_report_activity(STATE_RUNNING, "pg_bulk_ingest: waiting to swap a rebuilt table in");
        (void)WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, pause, PG_WAIT_EXTENSION);
        ResetLatch(MyLatch);
        CHECK_FOR_INTERRUPTS();
    }
    stats->wait_ms = (double)(GetCurrentTimestamp() - start) / 1000.0;
}
