// The shape a declaration gives its target table, as SQL, and in canonical forms that compare a live table with it.
//
// Index expressions, predicates and partition keys are the user's SQL text: they are parsed first (one expression,
// nothing more, so that a declaration cannot smuggle statements into the DDL), and compared in the form PostgreSQL
// deparses them to (so "amount > 0" matches "(amount > (0)::numeric)", and "float" matches double precision).
#pragma once

#include "pg/pg_prelude.h"

#include "pg/catalog/declaration.h"

extern "C" {
#include "nodes/pg_list.h"
}

// "CREATE [UNLOGGED] TABLE <name> (<declared columns>[, PRIMARY KEY (...)]) [PARTITION BY ...] <suffix>".
char *CreateTableSql(const Declaration *decl, const char *qualified_name, bool primary_key, bool unlogged,
                     const char *suffix);

// "CREATE [UNIQUE] INDEX ON <table> USING <method> (...) [WHERE ...]" for options.indexes[i].
char *CreateIndexSql(const Declaration *decl, int i, const char *qualified_table);

// The declared primary key's columns, quoted ("a, b"), or NULL when none is declared.
char *DeclaredPrimaryKey(const Declaration *decl);

// Checks the SQL text of options.indexes and options.partition_by, then builds the declared shape on a scratch
// temporary table in a subtransaction that is rolled back: every error (unknown function, access method, a unique
// index of a partitioned table without the partition key, ...) is raised now, naming the option. Returns the
// canonical forms of the declared indexes (sorted) and sets *partition_key ("" when not partitioned). Computed once
// per declaration (decl->shape); later calls return the same lists.
List *DeclaredShape(const Declaration *decl, char **partition_key);

// The canonical forms of the indexes of a table, except its primary key, sorted: "UNIQUE btree (lower(email)) WHERE
// (...)".
List *LiveIndexForms(Oid relid);

// The same forms and, in the same order, the names of those indexes and of their first columns ("lower" for an
// expression; first_columns may be NULL); *primary_key gets the primary key's name (NULL when none).
void LiveIndexNames(Oid relid, List **forms, List **names, char **primary_key, List **first_columns);

// The table's partition key as PostgreSQL deparses it ("RANGE (updated_at)"), "" when it is not partitioned.
char *LivePartitionKey(Oid relid);
