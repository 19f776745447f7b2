// Merging a batch's staging table into the target on the primary key (upserts into a table in place).
//
// The statement is INSERT ... SELECT ... ON CONFLICT (key) DO UPDATE, with two refinements that keep unchanged rows
// unwritten and spare the sort when it is not needed:
//  - a row equal to the existing row of its key (every declared column, byte for byte: record image equality,
//    which every type has) is left out before the insert, so it is neither locked nor rewritten: a re-ingest of
//    unchanged rows writes no row version and almost no WAL. Into a plain table the rows are compared as they are
//    copied into the staging table (unchanged_rows.h); into a partitioned one, by the merge statement. The update
//    itself is also conditional on a difference, for rows that became equal meanwhile;
//  - the sort that keeps the last row of a repeated key (DISTINCT ON (key) ... ORDER BY key, ctid DESC: the staging
//    table is filled in arrival order) runs only when the batch may repeat a key. When a batch said to have no
//    repeat has one after all (two spellings of one value), PostgreSQL refuses to affect a row twice, and the merge
//    is redone with the sort.
#pragma once

#include "pg/pg_prelude.h"

#include "pg/catalog/declaration.h"

extern "C" {
#include "utils/rel.h"
}

// What a run learnt from its previous merges. Zeroed at the start of a run.
typedef struct MergeState {
    // Into a partitioned table (whose rows the merge statement compares): most rows of the last batches changed, so
    // leaving out unchanged rows (a look-up per row) costs more than it saves, and the merge relies on the
    // conditional update alone (unchanged rows are then locked, but still not rewritten). Plain tables decide batch
    // by batch as their rows are copied (unchanged_rows.h).
    bool skip_filter;
} MergeState;

// Merges pg_temp.<staging> (staged_rows rows, in arrival order) into target: one row per key, the last one,
// replacing an existing row only where it differs. compared: rows equal to the existing ones were left out as they
// were copied (unchanged_rows.h), so no statement looks for them, and a batch with none staged needs no merge.
// may_repeat: the batch may repeat a key.
void MergeStaging(const Declaration *decl, Relation target, const char *staging, uint64 staged_rows, bool compared,
                  bool may_repeat, MergeState *state);
