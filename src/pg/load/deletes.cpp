#include "pg/load/deletes.h"

#include "pg/catalog/catalog.h"
#include "pg/guard.h"
#include "pg/sql.h"

extern "C" {
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
}

using pg_bulk_ingest::CallCore;

int64 ApplyDeletes(const Declaration *decl, BatchSource *source) {
    size_t nkeys = 0;
    CallCore([&] { nkeys = source->deletes->size(); });
    if (nkeys == 0) {
        return 0;
    }
    int nkey_columns = decl->primary_key_columns;
    // One text[] per key column: the keys' values as the records wrote them, read by the column types' input
    // functions (casts from text), as COPY reads the rows.
    Datum **values = (Datum **)palloc(sizeof(Datum *) * nkey_columns);
    for (int k = 0; k < nkey_columns; k++) {
        values[k] = (Datum *)palloc(sizeof(Datum) * nkeys);
    }
    size_t row = 0;
    for (const auto &[key, texts] : *source->deletes) {
        for (int k = 0; k < nkey_columns; k++) {
            const std::string &text = texts[(size_t)k];
            values[k][row] = PointerGetDatum(cstring_to_text_with_len(text.data(), (int)text.size()));
        }
        row++;
    }
    StringInfoData sql, names, conditions;
    initStringInfo(&sql);
    initStringInfo(&names);
    initStringInfo(&conditions);
    Oid *types = (Oid *)palloc(sizeof(Oid) * nkey_columns);
    Datum *arrays = (Datum *)palloc(sizeof(Datum) * nkey_columns);
    int k = 0;
    for (int c = 0; c < decl->ncolumns; c++) {
        const DeclaredColumn *column = &decl->columns[c];
        if (!column->primary_key) {
            continue;
        }
        appendStringInfo(&names, "%sk%d", k > 0 ? ", " : "", k);
        appendStringInfo(&conditions, "%st.%s OPERATOR(pg_catalog.=) d.k%d::%s", k > 0 ? " AND " : "",
                         quote_identifier(column->name), k,
                         format_type_extended(column->type_oid, column->typmod,
                                              FORMAT_TYPE_TYPEMOD_GIVEN | FORMAT_TYPE_FORCE_QUALIFY));
        types[k] = TEXTARRAYOID;
        arrays[k] = PointerGetDatum(construct_array(values[k], (int)nkeys, TEXTOID, -1, false, TYPALIGN_INT));
        k++;
    }
    // A query (QuerySql runs queries): the count of the rows the statement deleted.
    appendStringInfo(&sql, "WITH deleted AS (DELETE FROM %s AS t USING pg_catalog.unnest(", QuotedTargetName(decl));
    for (int i = 0; i < nkey_columns; i++) {
        appendStringInfo(&sql, "%s$%d", i > 0 ? ", " : "", i + 1);
    }
    appendStringInfo(&sql, ") AS d(%s) WHERE %s RETURNING 1) SELECT pg_catalog.count(*) FROM deleted", names.data,
                     conditions.data);
    MemoryContext caller = CurrentMemoryContext;
    SPI_connect();
    QuerySql(sql.data, nkey_columns, types, arrays, NULL);
    char *count = ResultText(0, 1, caller);
    SPI_finish();
    return strtoll(count, NULL, 10);
}

void RecordDeletes(int64 run_id, int64 deleted) {
    char id_text[32], deleted_text[32];
    snprintf(id_text, sizeof(id_text), INT64_FORMAT, run_id);
    snprintf(deleted_text, sizeof(deleted_text), INT64_FORMAT, deleted);
    const char *args[] = {id_text, deleted_text};
    SPI_connect();
    ExecuteAsCatalogOwner("UPDATE bulk_ingest.runs SET deleted = deleted + $2::bigint WHERE id = $1::bigint", 2, args,
                          false, 0);
    SPI_finish();
}
