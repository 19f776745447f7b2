#include "pg/load/merge.h"

#include "pg/sql.h"
#include "pg/load/target.h"

extern "C" {
#include "access/genam.h"
#include "access/htup_details.h"
#include "catalog/pg_class.h"
#include "catalog/pg_operator.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"
}

// The equality operator of key column `i` of the primary key, schema-qualified ("OPERATOR(pg_catalog.=)"): the one
// of the index's operator family, so that the filter finds exactly the rows ON CONFLICT would, whatever the
// search_path (which is pinned) and whatever schema the type's operators live in.
static char *KeyEqualityOperator(Relation index, int i) {
    HeapTuple tuple = SearchSysCache1(OPEROID, ObjectIdGetDatum(KeyEqualityOperatorOid(index, i)));
    if (!HeapTupleIsValid(tuple)) {
        elog(ERROR, "pg_bulk_ingest: no equality operator in the operator family of the primary key");
    }
    Form_pg_operator op = (Form_pg_operator)GETSTRUCT(tuple);
    char *text =
        psprintf("OPERATOR(%s.%s)", quote_identifier(get_namespace_name(op->oprnamespace)), NameStr(op->oprname));
    ReleaseSysCache(tuple);
    return text;
}

static bool IsCardinalityViolation(const ErrorData *edata) {
    return edata->sqlerrcode == ERRCODE_CARDINALITY_VIOLATION;
}

// Kinds of statement over the staging table.
typedef enum MergeSqlKind {
    kMergeAll,       // INSERT ... ON CONFLICT of every staged row
    kMergeChanged,   // the same, leaving out the rows equal to the existing ones
    kCountUnchanged  // how many of the first kProbeRows staged rows equal the existing ones
} MergeSqlKind;

// Rows the probe of a batch looks at before it decides whether leaving out unchanged rows is worth it.
static const int kProbeRows = 1000;

static char *MergeSql(const Declaration *decl, Relation target, const char *staging, bool dedupe, MergeSqlKind kind) {
    const char *table = QuotedTargetName(decl);
    StringInfoData columns, keys, updates, key_match, old_values, existing_values, staged_values, excluded_values, sql;
    initStringInfo(&columns);
    initStringInfo(&keys);
    initStringInfo(&updates);
    initStringInfo(&key_match);
    initStringInfo(&old_values);
    initStringInfo(&existing_values);
    initStringInfo(&staged_values);
    initStringInfo(&excluded_values);
    initStringInfo(&sql);
    Relation index = index_open(RelationGetPrimaryKeyIndex(target), AccessShareLock);
    int key_position = 0;
    for (int i = 0; i < decl->ncolumns; i++) {
        const char *name = quote_identifier(decl->columns[i].name);
        appendStringInfo(&columns, "%s%s", i > 0 ? ", " : "", name);
        appendStringInfo(&staged_values, "%ss.%s", i > 0 ? ", " : "", name);
        if (decl->columns[i].primary_key) {
            appendStringInfo(&keys, "%s%s", keys.len > 0 ? ", " : "", name);
            // The index's key columns in its order: find this column's position there.
            AttrNumber attnum = get_attnum(RelationGetRelid(target), decl->columns[i].name);
            for (key_position = 0; key_position < index->rd_index->indnkeyatts; key_position++) {
                if (index->rd_index->indkey.values[key_position] == attnum) {
                    break;
                }
            }
            appendStringInfo(&key_match, "%so.%s %s s.%s", key_match.len > 0 ? " AND " : "", name,
                             KeyEqualityOperator(index, key_position), name);
        } else {
            appendStringInfo(&updates, "%s%s = excluded.%s", updates.len > 0 ? ", " : "", name, name);
            appendStringInfo(&old_values, "%st.%s", old_values.len > 0 ? ", " : "", name);
            appendStringInfo(&excluded_values, "%sexcluded.%s", excluded_values.len > 0 ? ", " : "", name);
            appendStringInfo(&existing_values, "%so.%s", existing_values.len > 0 ? ", " : "", name);
        }
    }
    index_close(index, AccessShareLock);
    if (kind == kCountUnchanged) {
        appendStringInfo(&sql, "SELECT count(*) FROM (SELECT * FROM pg_temp.%s LIMIT %d) s", staging, kProbeRows);
    } else {
        appendStringInfo(&sql, "INSERT INTO %s AS t (%s) SELECT %s FROM ", table, columns.data, staged_values.data);
        if (dedupe) {
            appendStringInfo(&sql, "(SELECT DISTINCT ON (%s) * FROM pg_temp.%s ORDER BY %s, ctid DESC) s", keys.data,
                             staging, keys.data);
        } else {
            appendStringInfo(&sql, "pg_temp.%s s", staging);
        }
    }
    if (kind != kMergeAll) {
        // ONLY: rows of inheritance children are no conflicts of ON CONFLICT either. A partitioned table's rows
        // are all in its partitions.
        bool partitioned = target->rd_rel->relkind == RELKIND_PARTITIONED_TABLE;
        appendStringInfo(&sql, " WHERE %sEXISTS (SELECT FROM %s%s o WHERE %s", kind == kMergeChanged ? "NOT " : "",
                         partitioned ? "" : "ONLY ", table, key_match.data);
        if (updates.len > 0) {
            // The function, not the operator *=: ROW(...) op ROW(...) would compare column by column with each
            // type's own operator, which json, for one, does not have.
            appendStringInfo(&sql, " AND pg_catalog.record_image_eq(ROW(%s), ROW(", existing_values.data);
            for (int i = 0, n = 0; i < decl->ncolumns; i++) {
                if (!decl->columns[i].primary_key) {
                    appendStringInfo(&sql, "%ss.%s", n++ > 0 ? ", " : "", quote_identifier(decl->columns[i].name));
                }
            }
            appendStringInfoString(&sql, "))");
        }
        appendStringInfoChar(&sql, ')');
    }
    if (kind == kCountUnchanged) {
        return sql.data;
    }
    appendStringInfo(&sql, " ON CONFLICT (%s) DO ", keys.data);
    if (updates.len > 0) {
        appendStringInfo(&sql, "UPDATE SET %s WHERE pg_catalog.record_image_ne(ROW(%s), ROW(%s))", updates.data,
                         old_values.data, excluded_values.data);
    } else {
        appendStringInfoString(&sql, "NOTHING");
    }
    return sql.data;
}

void MergeStaging(const Declaration *decl, Relation target, const char *staging, uint64 staged_rows, bool compared,
                  bool may_repeat, MergeState *state) {
    if (staged_rows == 0) {
        return;  // every row was left out, as it equals the existing one
    }
    bool filter = !compared && !state->skip_filter;
    if (filter) {
        // A look at the first rows: when few of them are unchanged, leaving the unchanged ones out costs more than
        // it saves (a look-up per row), and the conditional update alone keeps them from being rewritten.
        SPI_connect();
        QuerySql(MergeSql(decl, target, staging, false, kCountUnchanged), 0, NULL, NULL, NULL);
        int64 unchanged = pg_strtoint64(ResultText(0, 1, CurrentMemoryContext));
        SPI_finish();
        int64 probed = Min((int64)staged_rows, (int64)kProbeRows);
        filter = unchanged * 5 >= probed;
    }
    const char *doing = "merging the batch into the table";
    uint64 written = 0;
    bool merged = false;
    if (!may_repeat) {
        char *sql = MergeSql(decl, target, staging, false, filter ? kMergeChanged : kMergeAll);
        auto attempt = [&]() {
            SPI_connect();
            written = ExecuteSql(doing, sql);
            SPI_finish();
        };
        ErrorData *repeated = InSubtransaction(attempt, IsCardinalityViolation);
        if (repeated == NULL) {
            merged = true;
        } else {
            FreeErrorData(repeated);  // a key repeats in another spelling: merge with the sort
        }
    }
    if (!merged) {
        SPI_connect();
        written = ExecuteSql(doing, MergeSql(decl, target, staging, true, filter ? kMergeChanged : kMergeAll));
        SPI_finish();
    }
    // Mostly changed rows: the filter found little to leave out, the next batches skip it (and its probe).
    // Mostly unchanged ones (the conditional update skipped them, so fewer rows were written than staged): filter
    // again. (Rows compared while copied decide batch by batch: unchanged_rows.h.)
    if (compared) {
        return;
    }
    if (written * 10 >= staged_rows * 9) {
        state->skip_filter = true;
    } else if (written * 2 < staged_rows) {
        state->skip_filter = false;
    }
}
