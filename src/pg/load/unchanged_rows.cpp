#include "pg/load/unchanged_rows.h"

#include "pg/load/target.h"

extern "C" {
#include "access/genam.h"
#include "access/heapam.h"
#include "access/relscan.h"
#include "access/stratnum.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/pg_class.h"
#include "commands/copy.h"
#include "executor/executor.h"
#include "miscadmin.h"
#include "utils/datum.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
}

// Rows of a batch compared before the comparing may stop; and it stops when at least 9 in 10 of them were staged.
static const uint64 kProbeRows = 1000;

bool CanCompareWhileCopying(Relation target) {
    return target->rd_rel->relkind == RELKIND_RELATION && OidIsValid(RelationGetPrimaryKeyIndex(target));
}

// A declared non-key column, in the staging table and in the target (their attribute numbers may differ: the
// target may have dropped columns, which LIKE leaves out).
typedef struct ComparedColumn {
    AttrNumber staged;
    AttrNumber existing;
    bool byval;
    int16 len;
} ComparedColumn;

// What looks up and compares a batch's rows.
typedef struct RowComparer {
    Relation index;  // the target's primary key
    Snapshot snapshot;
    IndexScanDesc scan;
    int nkeys;
    ScanKeyData *keys;       // the index's equality on each key column, the argument set per row
    AttrNumber *key_staged;  // the staging table's attribute of each key column
    int ncolumns;
    ComparedColumn *columns;
    TupleTableSlot *existing;  // the target's row of the key
    // The target's rows (their TIDs) that a staged row of this batch changes: a later row of one of their keys is
    // staged even when it equals the existing row, so that the merge keeps the batch's last row of the key. NULL
    // until the first change.
    HTAB *changed;
    // The scan's and the set's memory, which lives as long as the batch's copy (an index scan allocates some of its
    // state lazily, in whatever context it runs in). The comparisons run in the row's own context (detoasted values).
    MemoryContext cxt;
} RowComparer;

static void OpenComparer(RowComparer *c, Relation staging, Relation target, const Declaration *decl) {
    memset(c, 0, sizeof(*c));
    c->cxt = CurrentMemoryContext;
    Oid target_oid = RelationGetRelid(target);
    Oid staging_oid = RelationGetRelid(staging);
    c->index = index_open(RelationGetPrimaryKeyIndex(target), AccessShareLock);
    c->nkeys = c->index->rd_index->indnkeyatts;
    c->keys = (ScanKeyData *)palloc0(sizeof(ScanKeyData) * c->nkeys);
    c->key_staged = (AttrNumber *)palloc(sizeof(AttrNumber) * c->nkeys);
    for (int i = 0; i < c->nkeys; i++) {
        // The equality of the index's operator family: the rows ON CONFLICT finds.
        ScanKeyEntryInitialize(&c->keys[i], 0, (AttrNumber)(i + 1), BTEqualStrategyNumber, InvalidOid,
                               c->index->rd_indcollation[i], get_opcode(KeyEqualityOperatorOid(c->index, i)), (Datum)0);
        const char *name = get_attname(target_oid, c->index->rd_index->indkey.values[i], false);
        c->key_staged[i] = get_attnum(staging_oid, name);
    }
    c->columns = (ComparedColumn *)palloc(sizeof(ComparedColumn) * Max(decl->ncolumns, 1));
    TupleDesc target_desc = RelationGetDescr(target);
    for (int i = 0; i < decl->ncolumns; i++) {
        if (decl->columns[i].primary_key) {
            continue;  // equal by the index's equality (the merge's update leaves the key as it is)
        }
        ComparedColumn *column = &c->columns[c->ncolumns++];
        column->staged = get_attnum(staging_oid, decl->columns[i].name);
        column->existing = get_attnum(target_oid, decl->columns[i].name);
        Form_pg_attribute attr = TupleDescAttr(target_desc, column->existing - 1);
        column->byval = attr->attbyval;
        column->len = attr->attlen;
    }
    c->snapshot = RegisterSnapshot(GetLatestSnapshot());
    c->scan = index_beginscan(target, c->index, c->snapshot, c->nkeys, 0);
    c->existing = table_slot_create(target, NULL);
}

static void CloseComparer(RowComparer *c) {
    ExecDropSingleTupleTableSlot(c->existing);
    index_endscan(c->scan);
    UnregisterSnapshot(c->snapshot);
    index_close(c->index, AccessShareLock);
    if (c->changed != NULL) {
        hash_destroy(c->changed);
    }
}

// Whether the row in slot must be staged: its key is new, or its existing row differs, or an earlier row of the
// batch changed that existing row. Runs in the row's memory context.
static bool MustStage(RowComparer *c, TupleTableSlot *slot) {
    MemoryContext row_cxt = MemoryContextSwitchTo(c->cxt);
    for (int i = 0; i < c->nkeys; i++) {
        int attr = c->key_staged[i] - 1;
        if (slot->tts_isnull[attr]) {
            MemoryContextSwitchTo(row_cxt);
            return true;  // (no such key; the merge refuses it)
        }
        c->keys[i].sk_argument = slot->tts_values[attr];
    }
    index_rescan(c->scan, c->keys, c->nkeys, NULL, 0);
    bool found = index_getnext_slot(c->scan, ForwardScanDirection, c->existing);
    MemoryContextSwitchTo(row_cxt);
    if (!found) {
        return true;
    }
    slot_getallattrs(c->existing);
    bool equal = true;
    for (int i = 0; i < c->ncolumns && equal; i++) {
        const ComparedColumn *column = &c->columns[i];
        bool staged_null = slot->tts_isnull[column->staged - 1];
        bool existing_null = c->existing->tts_isnull[column->existing - 1];
        if (staged_null || existing_null) {
            equal = staged_null && existing_null;
        } else {
            equal = datum_image_eq(slot->tts_values[column->staged - 1], c->existing->tts_values[column->existing - 1],
                                   column->byval, column->len);
        }
    }
    ItemPointerData tid = c->existing->tts_tid;
    ExecClearTuple(c->existing);
    if (!equal) {
        if (c->changed == NULL) {
            HASHCTL ctl;
            memset(&ctl, 0, sizeof(ctl));
            ctl.keysize = sizeof(ItemPointerData);
            ctl.entrysize = sizeof(ItemPointerData);
            ctl.hcxt = c->cxt;
            c->changed = hash_create("bulk_ingest changed rows", 1024, &ctl, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
        }
        (void)hash_search(c->changed, &tid, HASH_ENTER, NULL);
        return true;
    }
    return c->changed != NULL && hash_search(c->changed, &tid, HASH_FIND, NULL) != NULL;
}

uint64 CopyChangedRows(CopyFromState cstate, Relation staging, Relation target, const Declaration *decl,
                       uint64 *staged) {
    MemoryContext batch_cxt = CurrentMemoryContext;
    RowComparer comparer;
    OpenComparer(&comparer, staging, target, decl);
    EState *estate = CreateExecutorState();
    ExprContext *econtext = GetPerTupleExprContext(estate);
    // The staging table's own constraints (NOT NULL, which LIKE copies), checked as CopyFrom checks them.
    ResultRelInfo *result = makeNode(ResultRelInfo);
    InitResultRelInfo(result, staging, 0, NULL, 0);
    TupleConstr *constr = RelationGetDescr(staging)->constr;
    bool check = constr != NULL && (constr->has_not_null || constr->num_check > 0);
    TupleTableSlot *slot = table_slot_create(staging, NULL);
    BulkInsertState bistate = GetBulkInsertState();
    // Appended in arrival order (the table is the transaction's, its free space map skipped): the merge keeps the last
    // row of a key by ctid.
    CommandId cid = GetCurrentCommandId(true);
    ErrorContextCallback callback = {error_context_stack, CopyFromErrorCallback, cstate};
    error_context_stack = &callback;
    uint64 read = 0;
    uint64 written = 0;
    bool comparing = true;
    for (;;) {
        CHECK_FOR_INTERRUPTS();
        ResetPerTupleExprContext(estate);
        MemoryContextSwitchTo(GetPerTupleMemoryContext(estate));
        ExecClearTuple(slot);
        if (!NextCopyFrom(cstate, econtext, slot->tts_values, slot->tts_isnull)) {
            break;
        }
        ExecStoreVirtualTuple(slot);
        read++;
        if (check) {
            ExecConstraints(result, slot, estate);
        }
        if (!comparing || MustStage(&comparer, slot)) {
            table_tuple_insert(staging, slot, cid, TABLE_INSERT_SKIP_FSM, bistate);
            written++;
        }
        if (comparing && read == kProbeRows && written * 10 >= read * 9) {
            comparing = false;  // mostly new or changed rows: the rest is staged without looking
        }
    }
    MemoryContextSwitchTo(batch_cxt);
    error_context_stack = callback.previous;
    FreeBulkInsertState(bistate);
    ExecDropSingleTupleTableSlot(slot);
    FreeExecutorState(estate);
    CloseComparer(&comparer);
    *staged = written;
    return read;
}
