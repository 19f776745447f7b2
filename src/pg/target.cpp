#include "pg/target.h"

extern "C" {
#include "access/genam.h"
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

static void CreateTarget(const Declaration *decl) {
    StringInfoData sql;
    initStringInfo(&sql);
    appendStringInfo(&sql, "CREATE TABLE %s (", QuotedTargetName(decl));
    for (int i = 0; i < decl->ncolumns; i++) {
        const DeclaredColumn *column = &decl->columns[i];
        appendStringInfo(&sql, "%s%s %s%s", i > 0 ? ", " : "", quote_identifier(column->name),
                         format_type_with_typemod(column->type_oid, column->typmod),
                         column->nullable ? "" : " NOT NULL");
    }
    if (decl->primary_key_columns > 0) {
        appendStringInfoString(&sql, ", PRIMARY KEY (");
        bool first = true;
        for (int i = 0; i < decl->ncolumns; i++) {
            if (decl->columns[i].primary_key) {
                appendStringInfo(&sql, "%s%s", first ? "" : ", ", quote_identifier(decl->columns[i].name));
                first = false;
            }
        }
        appendStringInfoChar(&sql, ')');
    }
    appendStringInfoChar(&sql, ')');
    SPI_connect();
    if (SPI_execute(sql.data, false, 0) != SPI_OK_UTILITY) {
        elog(ERROR, "pg_bulk_ingest: could not create the target: %s", sql.data);
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

static char *DeclaredPrimaryKey(const Declaration *decl) {
    if (decl->primary_key_columns == 0) {
        return NULL;
    }
    StringInfoData names;
    initStringInfo(&names);
    for (int i = 0; i < decl->ncolumns; i++) {
        if (decl->columns[i].primary_key) {
            appendStringInfo(&names, "%s%s", names.len > 0 ? ", " : "", quote_identifier(decl->columns[i].name));
        }
    }
    return names.data;
}

// Appends every difference between rel and the declaration to diffs, one "; "-separated clause each.
static void DescribeDifferences(const Declaration *decl, Relation rel, StringInfo diffs) {
    TupleDesc desc = RelationGetDescr(rel);
    StringInfoData table_order, declared_order;
    initStringInfo(&table_order);
    initStringInfo(&declared_order);
    bool *declared = (bool *)palloc0(sizeof(bool) * desc->natts);

#define DIFF(...)                                \
    do {                                         \
        if (diffs->len > 0)                      \
            appendStringInfoString(diffs, "; "); \
        appendStringInfo(diffs, __VA_ARGS__);    \
    } while (0)

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
#undef DIFF
}

Oid EnsureTarget(const Declaration *decl) {
    RangeVar *target = makeRangeVarFromNameList(decl->target_names);
    Oid relid = RangeVarGetRelid(target, AccessShareLock, true);
    if (!OidIsValid(relid)) {
        CreateTarget(decl);
        CommandCounterIncrement();
        return RangeVarGetRelid(target, AccessShareLock, false);
    }
    Relation rel = table_open(relid, AccessShareLock);
    char relkind = rel->rd_rel->relkind;
    if (relkind != RELKIND_RELATION && relkind != RELKIND_PARTITIONED_TABLE) {
        ereport(ERROR, (errcode(ERRCODE_WRONG_OBJECT_TYPE),
                        errmsg("source \"%s\": target %s is not a table", decl->row->source, QuotedTargetName(decl))));
    }
    StringInfoData diffs;
    initStringInfo(&diffs);
    DescribeDifferences(decl, rel, &diffs);
    if (diffs.len > 0) {
        ereport(ERROR, (errcode(ERRCODE_DATATYPE_MISMATCH),
                        errmsg("source \"%s\": table %s does not match the declared columns", decl->row->source,
                               QuotedTargetName(decl)),
                        errdetail("%s.", diffs.data),
                        errhint("Change the table or the declaration so that they match; this version does not "
                                "migrate existing tables.")));
    }
    table_close(rel, AccessShareLock);
    return relid;
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
