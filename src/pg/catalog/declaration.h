// A source's declaration resolved against this database: column types, the primary key, the watermark's ordering.
//
// Registration resolves a declaration to reject it early (an unknown type, a watermark without ordering, ...), and
// the worker resolves the stored one the same way before a run.
#pragma once

#include "pg/pg_prelude.h"

#include "pg/catalog/catalog.h"
#include "core/declaration.h"

extern "C" {
#include "nodes/pg_list.h"
}

typedef struct DeclaredColumn {
    const char *name;
    Oid type_oid;
    int32 typmod;
    bool primary_key;
    bool nullable;
    bool is_json;   // json or jsonb (a domain over them counts): values arrive as JSON text
    bool is_array;  // an array type (or a domain over one): JSON arrays become array literals
} DeclaredColumn;

// The declared indexes and partition key in PostgreSQL's canonical form, computed once per declaration (shape.h).
typedef struct DeclaredShapeCache {
    bool known;
    List *index_forms;
    char *partition_key;
} DeclaredShapeCache;

typedef struct Declaration {
    const SourceRow *row;
    List *target_names;  // the target's qualified name, as a list of String nodes
    int ncolumns;
    DeclaredColumn *columns;
    int primary_key_columns;
    int watermark_column;       // index into columns, -1 when the source has no high_watermark_column
    const char *schedule;       // options.schedule (an interval), NULL when not given
    DeclaredShapeCache *shape;  // filled by DeclaredShape(), in the declaration's memory context
    // Owned by the memory context the declaration was resolved in.
    std::vector<bulk_ingest::ColumnDecl> *decls;
    bulk_ingest::SourceOptions *options;
} Declaration;

// Validates the whole declaration in row and resolves it. Raises a clear error naming the source and the part of the
// declaration at fault.
Declaration *ResolveDeclaration(const SourceRow *row);

// The target's qualified name, quoted for SQL ("My Schema"."Table").
char *QuotedTargetName(const Declaration *decl);

// The core's view of the declared columns (where each value is, and how it is rendered). Core code: call it only
// inside CallCore/NewInMemoryContext.
inline std::vector<bulk_ingest::ColumnSpec> DeclaredColumnSpecs(const Declaration *decl) {
    std::vector<bool> is_json;
    for (int i = 0; i < decl->ncolumns; i++) {
        is_json.push_back(decl->columns[i].is_json);
    }
    std::vector<bulk_ingest::ColumnSpec> specs = bulk_ingest::ToColumnSpecs(*decl->decls, is_json);
    for (int i = 0; i < decl->ncolumns; i++) {
        specs[i].array = decl->columns[i].is_array;
    }
    // options.deleted_path: one more value the reader reads (after the columns), which no column receives.
    const bulk_ingest::RequestOptions &request = decl->options->request;
    if (!request.deleted_path.empty()) {
        bulk_ingest::ColumnSpec deleted;
        deleted.name = "options.deleted_path";
        deleted.pointer = request.deleted_pointer;
        specs.push_back(deleted);
    }
    return specs;
}
