#include "pg/load/target.h"

#include "pg/load/shape.h"
#include "pg/sql.h"

extern "C" {
#include "access/genam.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "catalog/index.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "executor/executor.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "nodes/makefuncs.h"
#include "nodes/parsenodes.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/rls.h"
#include "access/xact.h"
#include "tcop/utility.h"
#include "utils/acl.h"
}

bool DeclarationUpserts(const Declaration *decl) {
    return strcmp(decl->row->upsert, "if_primary_key") == 0 && decl->primary_key_columns > 0;
}

void CheckCanCreateTarget(const Declaration *decl, Oid namespace_oid) {
    if (pg_namespace_aclcheck(namespace_oid, GetUserId(), ACL_CREATE) != ACLCHECK_OK) {
        ereport(ERROR, (errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
                        errmsg("source \"%s\": role \"%s\" lacks CREATE privilege on schema %s, which creating "
                               "table %s needs",
                               decl->row->source, GetUserNameFromId(GetUserId(), false),
                               quote_identifier(get_namespace_name(namespace_oid)), QuotedTargetName(decl)),
                        errdetail("A run executes as the owner of its source."),
                        errhint("GRANT CREATE ON SCHEMA %s TO %s, or create the table first.",
                                quote_identifier(get_namespace_name(namespace_oid)),
                                quote_identifier(GetUserNameFromId(GetUserId(), false)))));
    }
}

static void CreateTarget(const Declaration *decl, Oid namespace_oid) {
    CheckCanCreateTarget(decl, namespace_oid);
    SPI_connect();
    char *doing = psprintf("source \"%s\": creating table %s", decl->row->source, QuotedTargetName(decl));
    ExecuteSql(doing, CreateTableSql(decl, QuotedTargetName(decl), true, false, NULL));
    for (size_t i = 0; i < decl->options->indexes.size(); i++) {
        ExecuteSql(doing, CreateIndexSql(decl, (int)i, QuotedTargetName(decl)));
    }
    SPI_finish();
    ereport(NOTICE, (errmsg("source \"%s\": created table %s", decl->row->source, QuotedTargetName(decl))));
}

// Names of the primary key's columns, "a, b", or NULL when the table has none.
static char *PrimaryKeyColumns(Relation rel) {
    Oid index_oid = RelationGetPrimaryKeyIndex(rel);
    if (!OidIsValid(index_oid)) {
        return NULL;
    }
    Relation index = index_open(index_oid, AccessShareLock);
    StringInfoData names;
    initStringInfo(&names);
    for (int i = 0; i < index->rd_index->indnkeyatts; i++) {
        AttrNumber attnum = index->rd_index->indkey.values[i];
        appendStringInfo(&names, "%s%s", i > 0 ? ", " : "",
                         quote_identifier(NameStr(TupleDescAttr(RelationGetDescr(rel), attnum - 1)->attname)));
    }
    index_close(index, AccessShareLock);
    return names.data;
}

static bool ListHasString(List *list, const char *value) {
    ListCell *cell;
    foreach (cell, list) {
        if (strcmp((const char *)lfirst(cell), value) == 0) {
            return true;
        }
    }
    return false;
}

#define DIFF(...)                                \
    do {                                         \
        if (diffs->len > 0)                      \
            appendStringInfoString(diffs, "; "); \
        appendStringInfo(diffs, __VA_ARGS__);    \
    } while (0)

// Appends every difference between the columns and primary key of rel and the declaration to diffs.
static void DescribeColumnDifferences(const Declaration *decl, Relation rel, StringInfo diffs) {
    TupleDesc desc = RelationGetDescr(rel);
    StringInfoData table_order, declared_order;
    initStringInfo(&table_order);
    initStringInfo(&declared_order);
    bool *declared = (bool *)palloc0(sizeof(bool) * desc->natts);

    for (int i = 0; i < decl->ncolumns; i++) {
        const DeclaredColumn *column = &decl->columns[i];
        appendStringInfo(&declared_order, "%s%s", i > 0 ? ", " : "", quote_identifier(column->name));
        AttrNumber attnum = get_attnum(RelationGetRelid(rel), column->name);
        if (attnum == InvalidAttrNumber || attnum < 0) {
            DIFF("column %s is declared but the table has no such column", quote_identifier(column->name));
            continue;
        }
        Form_pg_attribute att = TupleDescAttr(desc, attnum - 1);
        declared[attnum - 1] = true;
        if (att->atttypid != column->type_oid || att->atttypmod != column->typmod) {
            DIFF("column %s has type %s, declared %s", quote_identifier(column->name),
                 format_type_with_typemod(att->atttypid, att->atttypmod),
                 format_type_with_typemod(column->type_oid, column->typmod));
        }
        if (att->attnotnull && column->nullable) {
            DIFF("column %s is NOT NULL, declared nullable", quote_identifier(column->name));
        } else if (!att->attnotnull && !column->nullable) {
            DIFF("column %s allows NULL, declared \"nullable\": false", quote_identifier(column->name));
        }
    }
    bool all_declared = true;
    for (int i = 0; i < desc->natts; i++) {
        Form_pg_attribute att = TupleDescAttr(desc, i);
        if (att->attisdropped) {
            continue;
        }
        appendStringInfo(&table_order, "%s%s", table_order.len > 0 ? ", " : "",
                         quote_identifier(NameStr(att->attname)));
        if (!declared[i]) {
            all_declared = false;
            DIFF("the table has column %s, which is not declared", quote_identifier(NameStr(att->attname)));
        }
    }
    if (all_declared && diffs->len == 0 && strcmp(table_order.data, declared_order.data) != 0) {
        DIFF("the columns are in another order: the table has (%s), the declaration (%s)", table_order.data,
             declared_order.data);
    }
    char *table_key = PrimaryKeyColumns(rel);
    char *declared_key = DeclaredPrimaryKey(decl);
    if (table_key == NULL && declared_key != NULL) {
        DIFF("the table has no primary key, declared (%s)", declared_key);
    } else if (table_key != NULL && declared_key == NULL) {
        DIFF("the table has primary key (%s), declared none", table_key);
    } else if (table_key != NULL && strcmp(table_key, declared_key) != 0) {
        DIFF("the table has primary key (%s), declared (%s)", table_key, declared_key);
    }
}

// Appends the differences between the indexes and partition key of rel and the declared ones to diffs.
static void DescribeShapeDifferences(const Declaration *decl, Relation rel, StringInfo diffs) {
    char *declared_key = NULL;
    List *declared = DeclaredShape(decl, &declared_key);
    List *live = LiveIndexForms(RelationGetRelid(rel));
    ListCell *cell;
    foreach (cell, declared) {
        if (!ListHasString(live, (const char *)lfirst(cell))) {
            DIFF("index %s is declared but the table has no such index", (const char *)lfirst(cell));
        }
    }
    foreach (cell, live) {
        if (!ListHasString(declared, (const char *)lfirst(cell))) {
            DIFF("the table has index %s, which is not declared", (const char *)lfirst(cell));
        }
    }
    char *live_key = LivePartitionKey(RelationGetRelid(rel));
    if (strcmp(live_key, declared_key) != 0) {
        if (live_key[0] == '\0') {
            DIFF("the table is not partitioned, declared PARTITION BY %s", declared_key);
        } else if (declared_key[0] == '\0') {
            DIFF("the table is partitioned by %s, declared not partitioned", live_key);
        } else {
            DIFF("the table is partitioned by %s, declared %s", live_key, declared_key);
        }
    }
}
#undef DIFF

TargetState InspectTarget(const Declaration *decl) {
    TargetState state;
    memset(&state, 0, sizeof(state));
    RangeVar *target = makeRangeVarFromNameList(decl->target_names);
    state.relid = RangeVarGetRelid(target, AccessShareLock, true);
    if (!OidIsValid(state.relid)) {
        CreateTarget(decl, RangeVarGetCreationNamespace(target));
        CommandCounterIncrement();
        state.relid = RangeVarGetRelid(target, AccessShareLock, false);
        state.created = true;
    }
    Relation rel = table_open(state.relid, AccessShareLock);
    char relkind = rel->rd_rel->relkind;
    if (relkind != RELKIND_RELATION && relkind != RELKIND_PARTITIONED_TABLE) {
        ereport(ERROR, (errcode(ERRCODE_WRONG_OBJECT_TYPE),
                        errmsg("source \"%s\": target %s is not a table", decl->row->source, QuotedTargetName(decl))));
    }
    state.partitioned = relkind == RELKIND_PARTITIONED_TABLE;
    StringInfoData diffs;
    initStringInfo(&diffs);
    DescribeColumnDifferences(decl, rel, &diffs);
    if (diffs.len == 0) {
        // Index expressions and partition keys compare only over the same columns.
        DescribeShapeDifferences(decl, rel, &diffs);
    }
    state.differences = diffs.len > 0 ? diffs.data : NULL;
    table_close(rel, NoLock);
    return state;
}

// Raises an error naming the privilege (and the column) that role lacks on relid for mode, unless it has it on the
// table or on each of the declared columns.
static void CheckPrivilegeOnColumns(const Declaration *decl, Oid relid, Oid role, AclMode mode, const char *name,
                                    bool key_only) {
    if (pg_class_aclcheck(relid, role, mode) == ACLCHECK_OK) {
        return;
    }
    for (int i = 0; i < decl->ncolumns; i++) {
        if (key_only && !decl->columns[i].primary_key) {
            continue;
        }
        AttrNumber attnum = get_attnum(relid, decl->columns[i].name);
        if (attnum > 0 && pg_attribute_aclcheck(relid, attnum, role, mode) != ACLCHECK_OK) {
            ereport(ERROR,
                    (errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
                     errmsg("source \"%s\": role \"%s\" lacks %s privilege on %s", decl->row->source,
                            GetUserNameFromId(role, false), name,
                            pg_attribute_aclcheck_all(relid, role, mode, ACLMASK_ANY) == ACLCHECK_OK
                                ? psprintf("column \"%s\" of table %s", decl->columns[i].name, QuotedTargetName(decl))
                                : psprintf("table %s", QuotedTargetName(decl))),
                     errdetail("A run executes as the owner of its source, and %s.",
                               strcmp(name, "INSERT") == 0 ? "inserts the declared columns"
                               : strcmp(name, "UPDATE") == 0
                                   ? "with upserts (a primary key and upsert => 'if_primary_key') updates them"
                                   : "with upserts reads the primary key's columns")));
        }
    }
}

void CheckLoadPrivileges(const Declaration *decl, Oid relid) {
    Oid role = GetUserId();
    CheckPrivilegeOnColumns(decl, relid, role, ACL_INSERT, "INSERT", false);
    if (DeclarationUpserts(decl)) {
        CheckPrivilegeOnColumns(decl, relid, role, ACL_UPDATE, "UPDATE", false);
        CheckPrivilegeOnColumns(decl, relid, role, ACL_SELECT, "SELECT", true);
    }
}

void CheckCanLoad(const Declaration *decl, Relation rel, bool upsert) {
    Oid relid = RelationGetRelid(rel);
    Bitmapset *columns = NULL;
    for (int i = 0; i < decl->ncolumns; i++) {
        AttrNumber attnum = get_attnum(relid, decl->columns[i].name);
        columns = bms_add_member(columns, attnum - FirstLowInvalidHeapAttributeNumber);
    }
    AclMode required = ACL_INSERT | (upsert ? ACL_UPDATE : 0);
#if PG_VERSION_NUM >= 160000
    RangeTblEntry *rte = makeNode(RangeTblEntry);
    rte->rtekind = RTE_RELATION;
    rte->relid = relid;
    rte->relkind = rel->rd_rel->relkind;
    rte->rellockmode = RowExclusiveLock;
    RTEPermissionInfo *perminfo = makeNode(RTEPermissionInfo);
    rte->perminfoindex = 1;
    perminfo->relid = relid;
    perminfo->inh = true;
    perminfo->requiredPerms = required;
    perminfo->insertedCols = columns;
    perminfo->updatedCols = upsert ? columns : NULL;
    ExecCheckPermissions(list_make1(rte), list_make1(perminfo), true);
#else
    RangeTblEntry *rte = makeNode(RangeTblEntry);
    rte->rtekind = RTE_RELATION;
    rte->relid = relid;
    rte->relkind = rel->rd_rel->relkind;
    rte->rellockmode = RowExclusiveLock;
    rte->requiredPerms = required;
    rte->insertedCols = columns;
    rte->updatedCols = upsert ? columns : NULL;
    ExecCheckRTPerms(list_make1(rte), true);
#endif
    if (check_enable_rls(relid, InvalidOid, false) == RLS_ENABLED) {
        ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                        errmsg("source \"%s\": row-level security applies to %s for role \"%s\"", decl->row->source,
                               QuotedTargetName(decl), GetUserNameFromId(GetUserId(), false)),
                        errdetail("Loading bypasses policies, as COPY FROM does, so it is refused."),
                        errhint("Let the owner of the table own the source, or grant BYPASSRLS.")));
    }
    if (XactReadOnly && !rel->rd_islocaltemp) {
        PreventCommandIfReadOnly("bulk_ingest_run");
    }
}

Oid KeyEqualityOperatorOid(Relation index, int column) {
    Oid type = index->rd_opcintype[column];
    Oid opno = get_opfamily_member(index->rd_opfamily[column], type, type, BTEqualStrategyNumber);
    if (!OidIsValid(opno)) {
        elog(ERROR, "pg_bulk_ingest: no equality operator in the operator family of the primary key");
    }
    return opno;
}
