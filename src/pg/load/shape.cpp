#include "pg/load/shape.h"

#include "pg/sql.h"

extern "C" {
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "lib/stringinfo.h"
#include "nodes/parsenodes.h"
#include "parser/parser.h"
#include "utils/builtins.h"
#include "utils/regproc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
}

char *DeclaredPrimaryKey(const Declaration *decl) {
    if (decl->primary_key_columns == 0) {
        return NULL;
    }
    StringInfoData names;
    initStringInfo(&names);
    for (int i = 0; i < decl->ncolumns; i++) {
        if (decl->columns[i].primary_key) {
            appendStringInfo(&names, "%s%s", names.len > 0 ? ", " : "", quote_identifier(decl->columns[i].name));
        }
    }
    return names.data;
}

char *CreateTableSql(const Declaration *decl, const char *qualified_name, bool primary_key, bool unlogged,
                     const char *suffix) {
    StringInfoData sql;
    initStringInfo(&sql);
    appendStringInfo(&sql, "CREATE %sTABLE %s (", unlogged ? "UNLOGGED " : "", qualified_name);
    for (int i = 0; i < decl->ncolumns; i++) {
        const DeclaredColumn *column = &decl->columns[i];
        appendStringInfo(&sql, "%s%s %s%s", i > 0 ? ", " : "", quote_identifier(column->name),
                         format_type_with_typemod(column->type_oid, column->typmod),
                         column->nullable ? "" : " NOT NULL");
    }
    char *key = primary_key ? DeclaredPrimaryKey(decl) : NULL;
    if (key != NULL) {
        appendStringInfo(&sql, ", PRIMARY KEY (%s)", key);
    }
    appendStringInfoChar(&sql, ')');
    if (!decl->options->partition_by.empty()) {
        appendStringInfo(&sql, " PARTITION BY %s", decl->options->partition_by.c_str());
    }
    if (suffix != NULL) {
        appendStringInfo(&sql, " %s", suffix);
    }
    return sql.data;
}

char *CreateIndexSql(const Declaration *decl, int i, const char *qualified_table) {
    const bulk_ingest::IndexDecl &index = decl->options->indexes[i];
    StringInfoData sql;
    initStringInfo(&sql);
    appendStringInfo(&sql, "CREATE %sINDEX ON %s USING %s (", index.unique ? "UNIQUE " : "", qualified_table,
                     quote_identifier(index.method.c_str()));
    if (!index.expression.empty()) {
        appendStringInfo(&sql, "(%s\n)", index.expression.c_str());
    } else {
        for (size_t c = 0; c < index.columns.size(); c++) {
            appendStringInfo(&sql, "%s%s", c > 0 ? ", " : "", quote_identifier(index.columns[c].c_str()));
        }
    }
    appendStringInfoChar(&sql, ')');
    if (!index.where.empty()) {
        appendStringInfo(&sql, " WHERE (%s\n)", index.where.c_str());
    }
    return sql.data;
}

// For errors of parsing our wrapper around the option's text: their position would point into the user's statement.
static void ParseErrorCallback(void *arg) {
    if (geterrposition() > 0) {
        errposition(0);
    }
    errcontext("%s", (const char *)arg);
}

// Raises an error unless text is exactly one SQL expression: "SELECT (<text>)" must parse to a bare one-column
// SELECT, so that text cannot close the parenthesis and add clauses or statements to the DDL it is put into.
static void CheckExpression(const char *what, const char *text) {
    char *sql = psprintf("SELECT (%s\n)", text);
    ErrorContextCallback callback = {error_context_stack, ParseErrorCallback, (void *)what};
    error_context_stack = &callback;
    List *parsed = raw_parser(sql, RAW_PARSE_DEFAULT);
    error_context_stack = callback.previous;
    bool ok = list_length(parsed) == 1;
    if (ok) {
        Node *stmt = ((RawStmt *)linitial(parsed))->stmt;
        SelectStmt *select = IsA(stmt, SelectStmt) ? (SelectStmt *)stmt : NULL;
        ok = select != NULL && select->op == SETOP_NONE && list_length(select->targetList) == 1 &&
             select->fromClause == NIL && select->whereClause == NULL && select->groupClause == NIL &&
             select->havingClause == NULL && select->windowClause == NIL && select->sortClause == NIL &&
             select->limitCount == NULL && select->limitOffset == NULL && select->lockingClause == NIL &&
             select->withClause == NULL && select->intoClause == NULL && select->distinctClause == NIL &&
             select->valuesLists == NIL;
    }
    if (!ok) {
        ereport(ERROR,
                (errcode(ERRCODE_SYNTAX_ERROR), errmsg("%s must be one SQL expression, not \"%s\"", what, text)));
    }
}

// Raises an error unless text is exactly a partitioning clause ("RANGE (updated_at)").
static void CheckPartitionBy(const char *what, const char *text) {
    char *sql = psprintf("CREATE TABLE bulk_ingest_check () PARTITION BY %s\n", text);
    ErrorContextCallback callback = {error_context_stack, ParseErrorCallback, (void *)what};
    error_context_stack = &callback;
    List *parsed = raw_parser(sql, RAW_PARSE_DEFAULT);
    error_context_stack = callback.previous;
    bool ok = list_length(parsed) == 1 && IsA(((RawStmt *)linitial(parsed))->stmt, CreateStmt);
    if (ok) {
        CreateStmt *create = (CreateStmt *)((RawStmt *)linitial(parsed))->stmt;
        ok = create->partspec != NULL && create->tableElts == NIL && create->options == NIL &&
             create->tablespacename == NULL && create->accessMethod == NULL && create->inhRelations == NIL;
    }
    if (!ok) {
        ereport(ERROR,
                (errcode(ERRCODE_SYNTAX_ERROR),
                 errmsg("%s must be a partitioning clause such as \"RANGE (updated_at)\", not \"%s\"", what, text)));
    }
}

static const char *const kIndexFormsSql =
    "SELECT format('%s%s (%s)%s%s', CASE WHEN i.indisunique THEN 'UNIQUE ' ELSE '' END, am.amname,"
    "              (SELECT string_agg(pg_catalog.pg_get_indexdef(i.indexrelid, k, false), ', ' ORDER BY k)"
    "                 FROM generate_series(1, i.indnkeyatts) k),"
    "              coalesce(' WHERE ' || pg_catalog.pg_get_expr(i.indpred, i.indrelid), ''),"
    "              CASE WHEN i.indisvalid THEN '' ELSE ' (invalid)' END), c.relname, i.indisprimary,"
    "       (SELECT a.attname FROM pg_catalog.pg_attribute a WHERE a.attrelid = i.indexrelid AND a.attnum = 1)"
    "  FROM pg_catalog.pg_index i"
    "  JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid"
    "  JOIN pg_catalog.pg_am am ON am.oid = c.relam"
    " WHERE i.indrelid = $1"
    " ORDER BY 1";

// The canonical forms of the table's indexes other than the primary key (with their names, when names is given).
static List *IndexForms(Oid relid, MemoryContext cxt, List **names, char **primary_key, List **first_columns) {
    Oid types[] = {OIDOID};
    Datum values[] = {ObjectIdGetDatum(relid)};
    uint64 n = QuerySql(kIndexFormsSql, 1, types, values, NULL);
    List *forms = NIL;
    for (uint64 r = 0; r < n; r++) {
        char *form = ResultText(r, 1, cxt);
        char *name = ResultText(r, 2, cxt);
        if (strcmp(ResultText(r, 3, cxt), "t") == 0) {
            if (primary_key != NULL) {
                *primary_key = name;
            }
            continue;
        }
        MemoryContext old = MemoryContextSwitchTo(cxt);
        forms = lappend(forms, form);
        if (names != NULL) {
            *names = lappend(*names, name);
            if (first_columns != NULL) {
                *first_columns = lappend(*first_columns, ResultText(r, 4, cxt));
            }
        }
        MemoryContextSwitchTo(old);
    }
    return forms;
}

static char *PartitionKeyText(Oid relid, MemoryContext cxt) {
    Oid types[] = {OIDOID};
    Datum values[] = {ObjectIdGetDatum(relid)};
    QuerySql("SELECT coalesce(pg_catalog.pg_get_partkeydef($1), '')", 1, types, values, NULL);
    return ResultText(0, 1, cxt);
}

List *LiveIndexForms(Oid relid) {
    MemoryContext cxt = CurrentMemoryContext;
    SPI_connect();
    List *forms = IndexForms(relid, cxt, NULL, NULL, NULL);
    SPI_finish();
    return forms;
}

void LiveIndexNames(Oid relid, List **forms, List **names, char **primary_key, List **first_columns) {
    MemoryContext cxt = CurrentMemoryContext;
    *names = NIL;
    if (first_columns != NULL) {
        *first_columns = NIL;
    }
    *primary_key = NULL;
    SPI_connect();
    *forms = IndexForms(relid, cxt, names, primary_key, first_columns);
    SPI_finish();
}

char *LivePartitionKey(Oid relid) {
    MemoryContext cxt = CurrentMemoryContext;
    SPI_connect();
    char *key = PartitionKeyText(relid, cxt);
    SPI_finish();
    return key;
}

List *DeclaredShape(const Declaration *decl, char **partition_key) {
    DeclaredShapeCache *cache = decl->shape;
    if (cache->known) {  // a run compares its target before each batch until one commits
        *partition_key = cache->partition_key;
        return cache->index_forms;
    }
    const bulk_ingest::SourceOptions *options = decl->options;
    char what[128];
    for (size_t i = 0; i < options->indexes.size(); i++) {
        const bulk_ingest::IndexDecl &index = options->indexes[i];
        if (!index.expression.empty()) {
            snprintf(what, sizeof(what), "options.indexes[%zu].expression", i);
            CheckExpression(what, index.expression.c_str());
        }
        if (!index.where.empty()) {
            snprintf(what, sizeof(what), "options.indexes[%zu].where", i);
            CheckExpression(what, index.where.c_str());
        }
    }
    if (!options->partition_by.empty()) {
        CheckPartitionBy("options.partition_by", options->partition_by.c_str());
    }

    MemoryContext cxt = GetMemoryChunkContext(cache);  // as long as the declaration
    List *forms = NIL;
    char *key = NULL;
    auto build = [&]() {
        SPI_connect();
        const char *scratch = "pg_temp.bulk_ingest_declared_shape";
        char *doing = psprintf("source \"%s\": options.partition_by", decl->row->source);
        // With the declared primary key, so that PostgreSQL's own rules about it (a partitioned table's key must
        // include the partition key; every key type needs a btree operator class) refuse the declaration now, not
        // at its first run. IndexForms leaves the primary key out of the forms compared with the live table.
        ExecuteSqlCreatingTemp(
            options->partition_by.empty() ? psprintf("source \"%s\": columns", decl->row->source) : doing,
            CreateTableSql(decl, scratch, true, false, NULL));
        for (size_t i = 0; i < options->indexes.size(); i++) {
            ExecuteSql(psprintf("source \"%s\": options.indexes[%zu]", decl->row->source, i),
                       CreateIndexSql(decl, (int)i, scratch));
        }
        Oid relid = RangeVarGetRelid(makeRangeVarFromNameList(stringToQualifiedNameList(scratch)), NoLock, false);
        forms = IndexForms(relid, cxt, NULL, NULL, NULL);
        key = PartitionKeyText(relid, cxt);
        SPI_finish();
    };
    InScratchSubtransaction(build);  // the scratch table must not outlive the check
    cache->index_forms = forms;
    cache->partition_key = key;
    cache->known = true;
    *partition_key = key;
    return forms;
}
