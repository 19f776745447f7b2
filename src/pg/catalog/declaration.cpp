#include "pg/catalog/declaration.h"

#include "pg/http/allowlist.h"
#include "pg/guard.h"
#include "pg/sql.h"
#include "pg/load/watermark_value.h"
#include "core/formats.h"
#include "core/secrets.h"
#include "core/url.h"

extern "C" {
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "nodes/value.h"
#include "parser/parse_type.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/regproc.h"
#include "utils/timestamp.h"
#include "utils/typcache.h"
}

using pg_bulk_ingest::CallCore;
using pg_bulk_ingest::NewInMemoryContext;

typedef struct ColumnErrorContext {
    const char *source;
    const char *column;
} ColumnErrorContext;

static void ColumnErrorCallback(void *arg) {
    ColumnErrorContext *context = (ColumnErrorContext *)arg;
    errcontext("column \"%s\" declared by source \"%s\"", context->column, context->source);
}

static bool IsJsonType(Oid type_oid) {
    Oid base = getBaseType(type_oid);
    return base == JSONOID || base == JSONBOID;
}

// A declared type that does not resolve. Types are looked up with the pinned search_path (rights.h), so a type of
// the user's own must be named with its schema: say which schemas have a type of that name.
static void RaiseUnknownType(const char *source, const char *column, const char *type) {
    size_t len = strcspn(type, "([ ");
    char *name = pnstrdup(type, len);
    char *found = NULL;
    if (strchr(name, '.') == NULL && strchr(name, '"') == NULL) {
        Oid types[] = {NAMEOID};
        Datum values[] = {CStringGetDatum(name)};
        SPI_connect();
        QuerySql(
            "SELECT string_agg(pg_catalog.format('%I.%I', n.nspname, t.typname), ', ' ORDER BY n.nspname)"
            "  FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace"
            " WHERE t.typname = $1 AND NOT pg_catalog.pg_is_other_temp_schema(n.oid)",
            1, types, values, NULL);
        found = ResultText(0, 1, CurrentMemoryContext);
        SPI_finish();
    }
    ereport(ERROR, (errcode(ERRCODE_UNDEFINED_OBJECT),
                    errmsg("source \"%s\": column \"%s\": type %s does not exist", source, column, type),
                    found ? errhint("Types outside pg_catalog are named with their schema (runs resolve nothing "
                                    "through a search_path): did you mean %s?",
                                    found)
                          : errhint("Types outside pg_catalog are named with their schema (runs resolve nothing "
                                    "through a search_path).")));
}

Declaration *ResolveDeclaration(const SourceRow *row) {
    Declaration *decl = (Declaration *)palloc0(sizeof(Declaration));
    decl->row = row;
    decl->shape = (DeclaredShapeCache *)palloc0(sizeof(DeclaredShapeCache));
    char prefix[NAMEDATALEN * 2 + 32];
    snprintf(prefix, sizeof(prefix), "source \"%s\": ", row->source);

    if (row->source[0] == '\0') {
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("a source needs a non-empty name")));
    }
    CallCore(
        [&] {
            bulk_ingest::SecretReferences(row->url);  // checks the {secret:name} syntax
            bulk_ingest::ValidateSourceUrl(row->url);
            bulk_ingest::CheckUrlHostAllowed(row->url, *CurrentAllowlist());
        },
        prefix);
    CallCore([&] { bulk_ingest::CheckOneOf("format", row->format, bulk_ingest::kFormats); }, prefix);
    CallCore([&] { bulk_ingest::CheckOneOf("upsert mode", row->upsert, bulk_ingest::kUpsertModes); }, prefix);
    CallCore([&] { bulk_ingest::CheckOneOf("delete mode", row->delete_mode, bulk_ingest::kDeleteModes); }, prefix);
    decl->options = NewInMemoryContext<bulk_ingest::SourceOptions>(
        [&] { return new bulk_ingest::SourceOptions(bulk_ingest::ParseSourceOptions(row->options)); }, prefix);

    if (decl->options->schedule) {
        decl->schedule = pstrdup(decl->options->schedule->c_str());
        Interval *every = DatumGetIntervalP(DirectFunctionCall3(interval_in, CStringGetDatum(decl->schedule),
                                                                ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1)));
        if (every->month <= 0 && every->day <= 0 && every->time <= 0) {
            ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                            errmsg("source \"%s\": options: \"schedule\" must be a positive interval, not \"%s\"",
                                   row->source, decl->schedule)));
        }
    }

    decl->target_names = stringToQualifiedNameList(row->target);
    if (list_length(decl->target_names) > 2) {
        ereport(ERROR, (errcode(ERRCODE_INVALID_NAME),
                        errmsg("source \"%s\": target \"%s\" must be a table name, optionally schema-qualified",
                               row->source, row->target)));
    }

    decl->decls = NewInMemoryContext<std::vector<bulk_ingest::ColumnDecl>>(
        [&] { return new std::vector<bulk_ingest::ColumnDecl>(bulk_ingest::ParseColumnDecls(row->columns)); }, prefix);
    decl->ncolumns = (int)decl->decls->size();
    decl->columns = (DeclaredColumn *)palloc0(sizeof(DeclaredColumn) * decl->ncolumns);
    decl->watermark_column = -1;
    for (int i = 0; i < decl->ncolumns; i++) {
        const bulk_ingest::ColumnDecl &source_column = (*decl->decls)[i];
        DeclaredColumn *column = &decl->columns[i];
        column->name = source_column.name.c_str();
        column->primary_key = source_column.primary_key;
        column->nullable = source_column.nullable;

        ColumnErrorContext context = {row->source, column->name};
        ErrorContextCallback callback = {error_context_stack, ColumnErrorCallback, &context};
        error_context_stack = &callback;
        parseTypeString(source_column.type.c_str(), &column->type_oid, &column->typmod, true);
        error_context_stack = callback.previous;
        if (!OidIsValid(column->type_oid)) {
            RaiseUnknownType(row->source, column->name, source_column.type.c_str());
        }

        column->is_json = IsJsonType(column->type_oid);
        column->is_array = !column->is_json && OidIsValid(get_element_type(getBaseType(column->type_oid)));
        if (column->primary_key) {
            decl->primary_key_columns++;
        }
        if (row->high_watermark_column != NULL && strcmp(row->high_watermark_column, column->name) == 0) {
            decl->watermark_column = i;
        }
    }

    CallCore([&] { bulk_ingest::CheckIndexColumns(decl->options->indexes, *decl->decls); }, prefix);
    if (!decl->options->partition_by.empty() && strcmp(row->delete_mode, "before_first_batch") == 0) {
        ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                        errmsg("source \"%s\": delete => 'before_first_batch' does not apply to a partitioned target "
                               "(options.partition_by)",
                               row->source),
                        errhint("Replace mode swaps a whole table; partitions are managed by you.")));
    }

    // The format's reader, built over no input, checks the column paths and the format's options now.
    CallCore([&] { bulk_ingest::ValidateRecordFormat(row->format, DeclaredColumnSpecs(decl), *decl->options); },
             prefix);

    if (row->high_watermark_column != NULL && !decl->options->high_watermark_header.empty()) {
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("source \"%s\": declare either high_watermark_column or options.high_watermark_path, "
                               "not both",
                               row->source)));
    }
    if (row->high_watermark_column != NULL) {
        if (decl->watermark_column < 0) {
            ereport(ERROR, (errcode(ERRCODE_UNDEFINED_COLUMN),
                            errmsg("source \"%s\": high_watermark_column \"%s\" is not one of the declared columns",
                                   row->source, row->high_watermark_column)));
        }
        Oid type_oid = decl->columns[decl->watermark_column].type_oid;
        TypeCacheEntry *type = lookup_type_cache(type_oid, TYPECACHE_CMP_PROC);
        if (!OidIsValid(type->cmp_proc)) {
            ereport(ERROR, (errcode(ERRCODE_UNDEFINED_FUNCTION),
                            errmsg("source \"%s\": high_watermark_column \"%s\" has type %s, which has no ordering",
                                   row->source, row->high_watermark_column, format_type_be(type_oid)),
                            errhint("A watermark must be comparable: use a type with a btree operator class, such "
                                    "as timestamptz, bigint, numeric, date or text.")));
        }
    }
    CheckRequestOptions(decl);
    return decl;
}

char *QuotedTargetName(const Declaration *decl) {
    return NameListToQuotedString(decl->target_names);
}
