#include "pg/sql.h"

#include "pg/rights.h"

extern "C" {
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/resowner.h"
}

static void DoingErrorCallback(void *arg) {
    errcontext("%s", (const char *)arg);
}

static uint64 Execute(const char *doing, const char *sql, bool restricted) {
    ErrorContextCallback callback = {error_context_stack, DoingErrorCallback, (void *)doing};
    error_context_stack = &callback;
    int rc = 0;
    if (restricted) {
        RunRestricted(GetUserId(), [&] { rc = SPI_execute(sql, false, 0); });
    } else {
        int nest_level = PinSearchPath();
        rc = SPI_execute(sql, false, 0);
        UnpinSearchPath(nest_level);
    }
    error_context_stack = callback.previous;
    if (rc < 0) {
        elog(ERROR, "pg_bulk_ingest: %s failed (%s): %s", doing, SPI_result_code_string(rc), sql);
    }
    return SPI_processed;
}

uint64 ExecuteSql(const char *doing, const char *sql) {
    return Execute(doing, sql, true);
}

uint64 ExecuteSqlCreatingTemp(const char *doing, const char *sql) {
    return Execute(doing, sql, false);
}

uint64 QuerySql(const char *sql, int nargs, const Oid *types, const Datum *values, const char *nulls) {
    // Not read-only: a read-only query would use the transaction's first snapshot, blind to the DDL we just ran.
    int rc = 0;
    RunRestricted(GetUserId(),
                  [&] { rc = SPI_execute_with_args(sql, nargs, (Oid *)types, (Datum *)values, nulls, false, 0); });
    if (rc != SPI_OK_SELECT) {
        elog(ERROR, "pg_bulk_ingest: query failed (%s): %s", SPI_result_code_string(rc), sql);
    }
    return SPI_processed;
}

char *ResultText(uint64 row, int col, MemoryContext cxt) {
    char *value = SPI_getvalue(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col);
    return value == NULL ? NULL : MemoryContextStrdup(cxt, value);
}

bool CatchesAnyError(const ErrorData *edata) {
    return edata->sqlerrcode != ERRCODE_QUERY_CANCELED && edata->sqlerrcode != ERRCODE_ADMIN_SHUTDOWN &&
           edata->elevel == ERROR;
}

ErrorData *RunInSubtransaction(void (*body)(void *), void *arg, bool (*catches)(const ErrorData *), bool discard) {
    MemoryContext cxt = CurrentMemoryContext;
    ResourceOwner owner = CurrentResourceOwner;
    ErrorData *volatile caught = NULL;
    BeginInternalSubTransaction(NULL);
    MemoryContextSwitchTo(cxt);
    PG_TRY();
    {
        body(arg);
        if (discard) {
            RollbackAndReleaseCurrentSubTransaction();
        } else {
            ReleaseCurrentSubTransaction();
        }
    }
    PG_CATCH();
    {
        MemoryContextSwitchTo(cxt);
        ErrorData *edata = CopyErrorData();
        FlushErrorState();
        RollbackAndReleaseCurrentSubTransaction();
        MemoryContextSwitchTo(cxt);
        CurrentResourceOwner = owner;
        if (!catches(edata)) {
            ReThrowError(edata);
        }
        caught = edata;
    }
    PG_END_TRY();
    MemoryContextSwitchTo(cxt);
    CurrentResourceOwner = owner;
    return caught;
}

Datum OidArrayDatum(List *oids) {
    Datum *elems = (Datum *)palloc(sizeof(Datum) * Max(list_length(oids), 1));
    int n = 0;
    ListCell *cell;
    foreach (cell, oids) {
        elems[n++] = ObjectIdGetDatum(lfirst_oid(cell));
    }
    return PointerGetDatum(construct_array(elems, n, OIDOID, sizeof(Oid), true, TYPALIGN_INT));
}

ErrorData *ExecuteSqlCatching(const char *doing, const char *sql, bool (*catches)(const ErrorData *)) {
    auto execute = [&]() {
        SPI_connect();
        ExecuteSql(doing, sql);
        SPI_finish();
    };
    return InSubtransaction(execute, catches);
}
