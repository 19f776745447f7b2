// The run lock of a source: a session-level advisory lock held by the worker running it, for as long as it lives.
// It serialises runs of a source, proves that a 'running' run whose lock is free is stale (its worker is gone), and
// tells who runs a source (pg_locks).
#pragma once

#include "pg/pg_prelude.h"

// Takes the lock for the rest of this session; false when another backend holds it.
bool TryLockSource(const char *source);
// Releases a lock taken by TryLockSource.
void UnlockSource(const char *source);
// The pid of the backend holding the source's lock in this database, or 0. Needs a transaction.
int SourceLockHolder(const char *source);
