// Running the SQL the extension builds (DDL of rebuilds and swaps), with error contexts that say what it was doing,
// and subtransactions for the few errors we recover from.
#pragma once

#include "pg/pg_prelude.h"

extern "C" {
#include "executor/spi.h"
#include "nodes/pg_list.h"
#include "utils/elog.h"
}

// Executes sql (built by us: one statement) through SPI; `doing` ("creating index ...") is the error context.
// The caller must be connected to SPI. Returns SPI_processed. It runs as the current user in a security-restricted
// operation with search_path pinned (rights.h), so that the user code it fires cannot take it over.
uint64 ExecuteSql(const char *doing, const char *sql);

// The same for a statement of ours that creates a temporary table, which a security-restricted operation may not:
// search_path pinned, not restricted. It must fire no user code (CREATE TEMPORARY TABLE of declared columns).
uint64 ExecuteSqlCreatingTemp(const char *doing, const char *sql);

// Runs a query with parameters through SPI (the caller is connected), as ExecuteSql runs a statement; returns
// SPI_processed, with the rows in SPI_tuptable. nulls may be NULL.
uint64 QuerySql(const char *sql, int nargs, const Oid *types, const Datum *values, const char *nulls);

// An oid[] Datum holding the OIDs of a list, for query parameters.
Datum OidArrayDatum(List *oids);

// Executes one statement in a subtransaction, with its own SPI connection: NULL when it succeeded, else its error
// when catches(edata) accepts it (the statement's work rolled back); other errors propagate.
ErrorData *ExecuteSqlCatching(const char *doing, const char *sql, bool (*catches)(const ErrorData *));

// Column `col` (1-based) of row `row` of SPI_tuptable as text copied into `cxt`; NULL for SQL NULL.
char *ResultText(uint64 row, int col, MemoryContext cxt);

// catches: every error except cancels and shutdowns (which must never be swallowed).
bool CatchesAnyError(const ErrorData *edata);

// Runs body(arg) in a subtransaction. Returns NULL when it succeeded (its work joins the current transaction).
// When it raises an error that catches(edata) accepts, the subtransaction is rolled back and the error is returned
// (allocated in the caller's memory context); any other error rolls it back and propagates.
// With discard, the subtransaction is rolled back even when body succeeds (a scratch computation).
ErrorData *RunInSubtransaction(void (*body)(void *), void *arg, bool (*catches)(const ErrorData *), bool discard);

template <typename Body>
ErrorData *InSubtransaction(Body &body, bool (*catches)(const ErrorData *)) {
    return RunInSubtransaction([](void *fn) { (*static_cast<Body *>(fn))(); }, &body, catches, false);
}

// Runs body in a subtransaction that is always rolled back; returns its error (NULL when it succeeded), except a
// cancel or shutdown, which propagates.
template <typename Body>
ErrorData *TryInScratchSubtransaction(Body &body) {
    return RunInSubtransaction([](void *fn) { (*static_cast<Body *>(fn))(); }, &body, CatchesAnyError, true);
}

// Runs body in a subtransaction that is always rolled back; its errors propagate.
template <typename Body>
void InScratchSubtransaction(Body &body) {
    RunInSubtransaction([](void *fn) { (*static_cast<Body *>(fn))(); }, &body, [](const ErrorData *) { return false; },
                        true);
}
