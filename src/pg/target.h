// The target table of a source: created when missing, checked against the declaration when it exists, and checked
// for what COPY FROM itself would check (CopyFrom, which we call directly, does none of it).
#pragma once

#include "pg/pg_prelude.h"

#include "pg/declaration.h"

extern "C" {
#include "utils/rel.h"
}

// Creates the target with the declared columns and primary key when it does not exist (as the current user, who
// becomes its owner); otherwise raises an error that lists every difference between the table and the declaration.
// Returns the table's OID.
Oid EnsureTarget(const Declaration *decl);

// Raises an error unless the current user may load the declared columns into rel the way the source does (INSERT;
// also UPDATE when upserting), row-level security does not apply, and the transaction may write.
void CheckCanLoad(const Declaration *decl, Relation rel, bool upsert);

// Whether runs of this declaration merge rows on the primary key (else they append).
bool DeclarationUpserts(const Declaration *decl);
