// Leaving a batch's unchanged rows out while COPY reads them (upserts into a table in place).
//
// A re-ingest mostly sends rows the table already holds. Instead of copying every row into the staging table and
// leaving the unchanged ones out in the merge's SQL (a second pass: the staging table read back, a ROW built and
// compared per row), each row COPY has converted is looked up in the target's primary key index at once and
// compared with the existing row, column by column, byte for byte (datum_image_eq: the comparison
// record_image_eq makes, so "unchanged" means what the merge's conditional update means). Only new and changed
// rows reach the staging table; a batch that changes nothing stages nothing and is not merged at all.
//
// The last row of a key still wins: a row equal to the existing one is staged after all when an earlier row of the
// batch matched the same existing row (and so was staged as a change), so that the merge's last row is the batch's.
//
// A look-up costs about as much as the merge's own conflict check, so a batch of changed rows would pay it twice:
// when nearly all of the first rows of a batch are new or changed, the rest of the batch is staged without looking
// (the merge's update, conditional on a difference, still leaves unchanged rows unwritten).
#pragma once

#include "pg/pg_prelude.h"

#include "pg/catalog/declaration.h"

extern "C" {
#include "commands/copyfrom_internal.h"
#include "utils/rel.h"
}

// Whether the rows bound for target can be compared while they are copied: a plain table (not partitioned: its
// primary key is an index of each partition) with a primary key.
bool CanCompareWhileCopying(Relation target);

// Copies the rows of cstate (begun on staging, the batch's staging table, LIKE target) into staging, leaving out
// each row whose key exists in target with every declared non-key column equal. Returns the rows COPY read; sets
// *staged to the rows written to staging. Errors name COPY's line as CopyFrom's do.
uint64 CopyChangedRows(CopyFromState cstate, Relation staging, Relation target, const Declaration *decl,
                       uint64 *staged);
