// Deletes at the source (options.deleted_path): the rows whose keys a batch's deleted records gave are deleted from
// the target in the batch's transaction, after its rows are merged (or its rebuild swapped in).
#pragma once

#include "pg/pg_prelude.h"

#include "pg/load/loader.h"

// Deletes the keys of source->deletes from the target; returns how many rows it deleted. Runs as
// the current user (the source's owner) with the pinned search_path, restricted (the table's triggers are user code).
int64 ApplyDeletes(const Declaration *decl, BatchSource *source);

// Adds a batch's deleted rows to the run's count (runs.deleted), in the batch's transaction.
void RecordDeletes(int64 run_id, int64 deleted);
