// Taking ACCESS EXCLUSIVE for a swap without stalling readers for long.
//
// A pending ACCESS EXCLUSIVE request makes every later reader of the table queue behind it, so an unbounded wait
// for a long-running reader stalls all the others (pg-bulk-ingest can stall them for minutes). Each attempt here
// waits at most bulk_ingest.lock_timeout, then gives up (letting the queue drain) and retries after a jittered,
// growing pause. With bulk_ingest.terminate_blockers_after, sessions that keep blocking the swap that long are
// cancelled, then terminated.
#pragma once

#include "pg/pg_prelude.h"

extern "C" {
#include "nodes/pg_list.h"
}

typedef struct SwapLockStats {
    int attempts;
    double wait_ms;  // from the first attempt until every lock was held
} SwapLockStats;

// Takes ACCESS EXCLUSIVE on every relation of relids (an OID list), in order, all or none per attempt; returns when
// they are all held (until the end of the transaction). `what` names the swap in messages. Cancellable.
void LockForSwap(List *relids, const char *what, SwapLockStats *stats);
