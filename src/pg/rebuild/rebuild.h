// Rebuilding a target in the transaction of a run's first batch, and swapping it in.
//
// A run rebuilds its target when the table differs from the declaration (auto-migration), in replace mode
// (delete => 'before_first_batch'), and as the fast path for a new or empty table. The batch is loaded into a new
// table with no index; then, still in the batch's transaction: duplicates of the primary key are removed (last row
// wins) and the key is built, the old rows are copied over (with casts), the declared indexes are built, everything
// the old table carries is carried over, and only then is ACCESS EXCLUSIVE taken (see swap_lock.h) to drop the old
// table, rename the new one and recreate the dependent views. Readers see the old table until the batch commits,
// together with its watermark; a run with no batch rebuilds nothing.
#pragma once

#include "pg/pg_prelude.h"

#include "pg/catalog/declaration.h"
#include "pg/rebuild/swap_lock.h"
#include "pg/load/target.h"

typedef struct RebuildPlan {
    const char *reason;  // why the batch rebuilds the target; NULL when it loads into the table in place
    Oid old_relid;
    bool copy_rows;  // copy the old table's rows into the new one (not in replace mode)
    bool empty;      // the fast path: the table is new or empty, so the run's rows are the only ones in it
} RebuildPlan;

// Whether this run replaces its target's contents with its first batch (delete => 'before_first_batch').
bool DeclarationReplaces(const Declaration *decl);

// Decides whether the next batch rebuilds the target (first_batch: it is the run's first batch; created: the run
// created the table). Raises the errors that make a needed rebuild impossible before anything changes.
void PlanRebuild(const Declaration *decl, const TargetState *target, bool first_batch, bool created, RebuildPlan *plan);

// Creates the table the batch is loaded into: the declared columns, no primary key, no index, in the old table's
// schema and tablespace, with its persistence and storage options. Returns its OID.
Oid CreateRebuildTable(const Declaration *decl, const RebuildPlan *plan);

// Completes the rebuild once the batch is in new_relid, and swaps the table in. Returns the target's new OID.
Oid CompleteRebuild(const Declaration *decl, const RebuildPlan *plan, Oid new_relid, SwapLockStats *stats);
