// The pace of requests per host (core/rate_limit.h): options.rate_limit and the limits servers announce, shared by
// every run and worker of the server when the library is preloaded (shared memory), else by the runs of one worker.
#pragma once

#include "pg/pg_prelude.h"

// Reserves shared memory for the pacing table (from _PG_init, when preloading).
void RequestPacingSharedMemory(void);

// Waits, interruptibly, until a request to url's host may go: rate requests per second at most (0: none of ours),
// and not while the server said it takes none. Reports the wait in the progress view.
void PaceRequest(const char *url, double rate);

// Reserves a turn for a request to url's host as PaceRequest does, without waiting: returns the earliest time (µs since
// the Unix epoch) it may be sent, for a request sent ahead by another thread (core/request_ahead.h).
int64 ReserveRequestTurn(const char *url, double rate);

// The server of url said it takes no request before until_unix_us (µs since the Unix epoch): a rate-limit header
// with nothing remaining, or a Retry-After.
void HoldHost(const char *url, int64 until_unix_us);

// The current time in µs since the Unix epoch.
int64 UnixMicroseconds(void);

// Sleeps for ms milliseconds, or less when an interrupt (a cancel, a shutdown) arrives: that raises its error.
void WaitInterruptiblyMs(int64 ms);
