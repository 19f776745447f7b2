// What a table carries that a rebuild must not lose: owner, privileges (table and column, PUBLIC included),
// comments, row-level security and its policies, check and foreign key constraints, triggers, extended statistics,
// and the views that depend on it (plain and materialized, at any depth, with their owners, options, privileges,
// comments, indexes and data).
//
// Table-level state is copied onto the new table before the swap (under the old table's SHARE lock, which keeps it
// from changing); views and privileges are captured inside the swap, once the ACCESS EXCLUSIVE locks make them
// stable, and recreated after the old table is dropped.
#pragma once

#include "pg/pg_prelude.h"

extern "C" {
#include "nodes/pg_list.h"
}

typedef struct TableCarry TableCarry;

// The owner of a relation.
Oid RelationOwner(Oid relid);
typedef struct SwapCarry SwapCarry;

// The objects that depend on the table (or on its dependent views) and cannot be carried across a rebuild, "; "
// separated, or NULL when there are none: foreign keys that reference it, functions with SQL-standard bodies, rules
// of other tables, publications, temporary views, ...
char *UncarriableObjects(Oid relid);

// The table's dependent views, outermost first, then the table: the order in which the swap locks them (the order
// in which readers of the views lock them, so that the swap and a reader never wait for each other in a cycle).
List *SwapLockOrder(Oid relid);

// Captures the table-level state of old_relid and applies it to new_relid (named new_name): owner, comments, row
// level security and policies, constraints. Returns what must be applied after the rename (triggers, statistics).
TableCarry *CarryTableState(Oid old_relid, Oid new_relid, const char *new_name);

// Inside the swap (the locks held): captures the dependent views of old_relid and the privileges of the table,
// which GRANT can change without a lock.
SwapCarry *CaptureInsideSwap(Oid old_relid);

// After the old table is dropped and the new one renamed: privileges, triggers, statistics, then the views.
void RestoreAfterSwap(TableCarry *table, SwapCarry *swap, Oid new_relid);
