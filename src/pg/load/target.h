// The target table of a source: created when missing, checked against the declaration when it exists, and checked
// for what COPY FROM itself would check (CopyFrom, which we call directly, does none of it).
#pragma once

#include "pg/pg_prelude.h"

#include "pg/catalog/declaration.h"

extern "C" {
#include "utils/rel.h"
}

// What a run finds when it looks at its target.
typedef struct TargetState {
    Oid relid;
    bool created;       // the table did not exist: it was created now, with the declared shape
    bool partitioned;   // a native partitioned table
    char *differences;  // every difference from the declaration ("; "-separated), NULL when it matches
} TargetState;

// Looks at the target, holding AccessShareLock on it until the end of the transaction. When it does not exist it is
// created with the declared columns, primary key, indexes and partitioning (as the current user, who becomes its
// owner); otherwise it is compared with the declaration: columns and their order, types, nullability, primary key,
// indexes and partition key.
TargetState InspectTarget(const Declaration *decl);

// Raises an error unless the current user may create the target in the schema namespace_oid (CREATE on it).
void CheckCanCreateTarget(const Declaration *decl, Oid namespace_oid);

// Raises an error naming the missing privilege (and column) unless the current user may load the declared columns
// into relid the way the source does: INSERT, and with upserts UPDATE and SELECT of the key. Runs check it before
// their first request.
void CheckLoadPrivileges(const Declaration *decl, Oid relid);

// Raises an error unless the current user may load the declared columns into rel the way the source does (INSERT;
// also UPDATE when upserting), row-level security does not apply, and the transaction may write.
void CheckCanLoad(const Declaration *decl, Relation rel, bool upsert);

// The equality operator of key column `column` of index (the primary key): the one of the index's operator family,
// which ON CONFLICT uses. Raises an error when the family has none.
Oid KeyEqualityOperatorOid(Relation index, int column);

// Whether runs of this declaration merge rows on the primary key (else they append).
bool DeclarationUpserts(const Declaration *decl);
