#include "pg/rebuild/rebuild.h"

#include "pg/rebuild/carry.h"
#include "pg/load/shape.h"
#include "pg/worker/shared_state.h"
#include "pg/sql.h"
#include "pg/worker/test_pause.h"

extern "C" {
#include "access/table.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "commands/defrem.h"
#include "lib/stringinfo.h"
#include "parser/parse_coerce.h"
#include "storage/lmgr.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
}

bool DeclarationReplaces(const Declaration *decl) {
    return strcmp(decl->row->delete_mode, "before_first_batch") == 0;
}

static bool OwnsTable(Oid relid) {
#if PG_VERSION_NUM >= 160000
    return object_ownercheck(RelationRelationId, relid, GetUserId());
#else
    return pg_class_ownercheck(relid, GetUserId());
#endif
}

static bool TableIsEmpty(Oid relid) {
    SPI_connect();
    char *sql = psprintf("SELECT NOT EXISTS (SELECT FROM ONLY %s)",
                         quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)), get_rel_name(relid)));
    QuerySql(sql, 0, NULL, NULL, NULL);
    bool empty = strcmp(ResultText(0, 1, CurrentMemoryContext), "t") == 0;
    SPI_finish();
    return empty;
}

// "{3,5}": an int2[] literal of attribute numbers.
static char *AttnumArray(const List *attnums) {
    StringInfoData text;
    initStringInfo(&text);
    appendStringInfoChar(&text, '{');
    const ListCell *cell;
    foreach (cell, attnums) {
        appendStringInfo(&text, "%s%d", text.len > 1 ? "," : "", lfirst_int(cell));
    }
    appendStringInfoChar(&text, '}');
    return text.data;
}

// The views whose query a rebuild cannot carry over as it is, "; "-separated, or NULL:
// - those that use a column the declaration drops (their query would no longer parse);
// - those that use a column whose type the declaration changes, directly or through other views, and belong to a
//   role whose privileges the source's owner does not have. Recreated over the new type, their query could resolve
//   to functions the source's owner chose (a cast or an operator of a type it owns), which the view's owner would
//   then run when it refreshes or reads it: PostgreSQL itself refuses to change the type of a column a view uses.
static char *ViewsOfChangedColumns(const Declaration *decl, Oid relid) {
    List *dropped = NIL, *retyped = NIL;
    Relation rel = table_open(relid, AccessShareLock);
    TupleDesc desc = RelationGetDescr(rel);
    for (int i = 0; i < desc->natts; i++) {
        Form_pg_attribute att = TupleDescAttr(desc, i);
        if (att->attisdropped) {
            continue;
        }
        const DeclaredColumn *declared = NULL;
        for (int c = 0; c < decl->ncolumns; c++) {
            if (strcmp(decl->columns[c].name, NameStr(att->attname)) == 0) {
                declared = &decl->columns[c];
            }
        }
        if (declared == NULL) {
            dropped = lappend_int(dropped, att->attnum);
        } else if (declared->type_oid != att->atttypid || declared->typmod != att->atttypmod) {
            retyped = lappend_int(retyped, att->attnum);
        }
    }
    table_close(rel, NoLock);
    if (dropped == NIL && retyped == NIL) {
        return NULL;
    }
    Oid types[] = {OIDOID, TEXTOID, TEXTOID};
    Datum values[] = {ObjectIdGetDatum(relid), CStringGetTextDatum(AttnumArray(dropped)),
                      CStringGetTextDatum(AttnumArray(retyped))};
    MemoryContext cxt = CurrentMemoryContext;
    SPI_connect();
    uint64 n = QuerySql(
        "WITH RECURSIVE direct AS ("
        "  SELECT r.ev_class AS view, a.attname, a.attnum"
        "    FROM pg_catalog.pg_depend d JOIN pg_catalog.pg_rewrite r ON r.oid = d.objid"
        "    JOIN pg_catalog.pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid"
        "   WHERE d.classid = 'pg_catalog.pg_rewrite'::regclass AND d.refclassid = 'pg_catalog.pg_class'::regclass"
        "     AND d.refobjid = $1 AND r.ev_class <> $1),"
        " affected(view, attname) AS ("
        "  SELECT view, attname FROM direct WHERE attnum = ANY ($3::int2[])"
        "  UNION"
        "  SELECT r.ev_class, af.attname"
        "    FROM affected af JOIN pg_catalog.pg_depend d ON d.refobjid = af.view"
        "     AND d.classid = 'pg_catalog.pg_rewrite'::regclass AND d.refclassid = 'pg_catalog.pg_class'::regclass"
        "    JOIN pg_catalog.pg_rewrite r ON r.oid = d.objid"
        "   WHERE r.ev_class <> af.view AND r.ev_class <> $1)"
        "SELECT string_agg(DISTINCT m, '; ') FROM ("
        "  SELECT format('%s uses column %I, which the declaration drops',"
        "                pg_catalog.pg_describe_object('pg_catalog.pg_class'::regclass, view, 0), attname) AS m"
        "    FROM direct WHERE attnum = ANY ($2::int2[])"
        "  UNION ALL"
        "  SELECT format('%s, owned by role %I, uses column %I, whose type the declaration changes (the owner of"
        " the source does not have the privileges of role %I, whose view''s query would then run what the new type"
        " resolves to)', pg_catalog.pg_describe_object('pg_catalog.pg_class'::regclass, af.view, 0),"
        "                pg_catalog.pg_get_userbyid(c.relowner), af.attname, pg_catalog.pg_get_userbyid(c.relowner))"
        "    FROM affected af JOIN pg_catalog.pg_class c ON c.oid = af.view"
        "   WHERE NOT pg_catalog.pg_has_role(c.relowner, 'USAGE')) problems",
        3, types, values, NULL);
    char *problems = n > 0 ? ResultText(0, 1, cxt) : NULL;
    SPI_finish();
    return problems;
}

void PlanRebuild(const Declaration *decl, const TargetState *target, bool first_batch, bool created,
                 RebuildPlan *plan) {
    memset(plan, 0, sizeof(*plan));
    plan->old_relid = target->relid;
    bool fast_path = false;
    if (target->differences != NULL) {
        if (target->partitioned) {
            ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                            errmsg("source \"%s\": partitioned table %s does not match the declaration",
                                   decl->row->source, QuotedTargetName(decl)),
                            errdetail("%s.", target->differences),
                            errhint("Partitioned targets are not migrated: change the table or the declaration so "
                                    "that they match.")));
        }
        plan->reason = target->differences;
        plan->copy_rows = !DeclarationReplaces(decl);
    } else if (first_batch && DeclarationReplaces(decl)) {
        plan->reason = "delete => before_first_batch";
    } else if (first_batch && !target->partitioned && TableIsEmpty(target->relid)) {
        plan->reason = created ? "the table is new" : "the table is empty";
        plan->copy_rows = true;  // rows another session adds meanwhile are not lost
        plan->empty = true;
        fast_path = true;
    }
    if (plan->reason == NULL) {
        return;
    }
    if (!OwnsTable(target->relid)) {
        if (fast_path) {
            plan->reason = NULL;  // load in place: only the owner may rebuild
            return;
        }
        ereport(ERROR, (errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
                        errmsg("source \"%s\": table %s must be rebuilt, which only its owner may do",
                               decl->row->source, QuotedTargetName(decl)),
                        errdetail("Rebuilt because: %s. Role \"%s\" is not a member of the table's owner \"%s\".",
                                  plan->reason, GetUserNameFromId(GetUserId(), false),
                                  GetUserNameFromId(RelationOwner(target->relid), false)),
                        errhint("Let the table's owner (or a member of its role) own the source.")));
    }
    Oid namespace_oid = get_rel_namespace(target->relid);
    if (pg_namespace_aclcheck(namespace_oid, GetUserId(), ACL_CREATE) != ACLCHECK_OK) {
        if (fast_path) {
            plan->reason = NULL;  // the rebuilt table could not be created next to it: load in place
            return;
        }
        ereport(ERROR,
                (errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
                 errmsg("source \"%s\": role \"%s\" lacks CREATE privilege on schema %s, which rebuilding "
                        "table %s needs",
                        decl->row->source, GetUserNameFromId(GetUserId(), false),
                        quote_identifier(get_namespace_name(namespace_oid)), QuotedTargetName(decl)),
                 errdetail("Rebuilt because: %s. The rebuilt table is created in the same schema.", plan->reason)));
    }
    char *uncarriable = UncarriableObjects(target->relid);
    if (plan->copy_rows || DeclarationReplaces(decl)) {
        char *lost = ViewsOfChangedColumns(decl, target->relid);
        if (lost != NULL) {
            uncarriable = uncarriable ? psprintf("%s; %s", uncarriable, lost) : lost;
        }
    }
    if (uncarriable == NULL) {
        return;
    }
    if (fast_path) {
        plan->reason = NULL;  // loading in place loses nothing
        return;
    }
    ereport(ERROR,
            (errcode(ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST),
             errmsg("source \"%s\": table %s must be rebuilt, but objects that depend on it cannot be carried over",
                    decl->row->source, QuotedTargetName(decl)),
             errdetail("Rebuilt because: %s. Cannot be carried over: %s.", plan->reason, uncarriable),
             errhint("Drop or change them (a foreign key can reference the table again after the run), or change the "
                     "declaration to match the table. Nothing was changed.")));
}

Oid CreateRebuildTable(const Declaration *decl, const RebuildPlan *plan) {
    Oid old = plan->old_relid;
    Oid namespace_oid = get_rel_namespace(old);
    char *name = psprintf("bulk_ingest_rebuild_%u", old);
    char *qualified = quote_qualified_identifier(get_namespace_name(namespace_oid), name);
    Oid types[] = {OIDOID};
    Datum values[] = {ObjectIdGetDatum(old)};
    SPI_connect();
    QuerySql(
        "SELECT c.relpersistence = 'u',"
        "       coalesce('WITH (' || (SELECT string_agg(format('%s = %L', split_part(o, '=', 1),"
        "                                                     substr(o, strpos(o, '=') + 1)), ', ')"
        "                               FROM unnest(c.reloptions) o) || ')', '') ||"
        "       coalesce(' TABLESPACE ' || (SELECT pg_catalog.quote_ident(spcname) FROM pg_catalog.pg_tablespace"
        "                                    WHERE oid = c.reltablespace), '')"
        "  FROM pg_catalog.pg_class c WHERE c.oid = $1",
        1, types, values, NULL);
    bool unlogged = strcmp(ResultText(0, 1, CurrentMemoryContext), "t") == 0;
    char *suffix = ResultText(0, 2, CurrentMemoryContext);
    ExecuteSql(psprintf("source \"%s\": creating the rebuilt table", decl->row->source),
               CreateTableSql(decl, qualified, false, unlogged, suffix));
    SPI_finish();
    CommandCounterIncrement();
    return get_relname_relid(name, namespace_oid);
}

static bool IsUniqueViolation(const ErrorData *edata) {
    return edata->sqlerrcode == ERRCODE_UNIQUE_VIOLATION;
}

// Builds the primary key. With upserts, a batch that repeats a key keeps its last row: rows of a table created in
// this transaction are appended in the order COPY read them (it skips the free space map), so ctid order is
// arrival order.
static void AddPrimaryKey(const Declaration *decl, const char *table, bool upsert) {
    char *key = DeclaredPrimaryKey(decl);
    if (key == NULL) {
        return;
    }
    char *add = psprintf("ALTER TABLE %s ADD PRIMARY KEY (%s)", table, key);
    const char *doing = psprintf("source \"%s\": building the primary key (%s)", decl->row->source, key);
    ErrorData *duplicates = ExecuteSqlCatching(doing, add, IsUniqueViolation);
    if (duplicates == NULL) {
        return;
    }
    if (!upsert) {
        ereport(ERROR, (errcode(ERRCODE_UNIQUE_VIOLATION),
                        errmsg("source \"%s\": duplicate key value violates the primary key (%s) of %s",
                               decl->row->source, key, QuotedTargetName(decl)),
                        duplicates->detail ? errdetail("%s", duplicates->detail) : 0,
                        errhint("With upsert => 'off' rows are appended, so a key must not repeat; upsert => "
                                "'if_primary_key' keeps the last row of each key.")));
    }
    FreeErrorData(duplicates);
    SPI_connect();
    ExecuteSql(psprintf("source \"%s\": keeping the last row of each key", decl->row->source),
               psprintf("DELETE FROM %s t USING (SELECT ctid AS row_ctid, row_number() OVER (PARTITION BY %s ORDER BY "
                        "ctid DESC) AS rank FROM %s) r WHERE t.ctid = r.row_ctid AND r.rank > 1",
                        table, key, table));
    ExecuteSql(doing, add);
    SPI_finish();
}

typedef struct CopiedColumn {
    const char *name;
    char *expression;  // over o.<name>
    bool cast;         // the type changes
    const char *from_type;
    const char *to_type;
} CopiedColumn;

// Explains why copying the old rows failed: the first column whose values do not convert (with a value that does
// not), or that has NULLs where the declaration says NOT NULL. Returns NULL when no column alone explains it.
static char *ExplainCopyFailure(const Declaration *decl, const char *old_name, const CopiedColumn *columns,
                                int ncolumns) {
    MemoryContext cxt = CurrentMemoryContext;
    char *explanation = NULL;
    for (int c = 0; c < ncolumns && explanation == NULL; c++) {
        const CopiedColumn *column = &columns[c];
        const DeclaredColumn *declared = NULL;
        for (int i = 0; i < decl->ncolumns; i++) {
            if (strcmp(decl->columns[i].name, column->name) == 0) {
                declared = &decl->columns[i];
            }
        }
        if (column->cast) {
            // Probe each distinct value (a bounded number) with the same conversion, in a scratch table.
            ErrorData *failure = NULL;
            char *sample = NULL;
            auto probe = [&]() {
                SPI_connect();
                ExecuteSqlCreatingTemp("probing a conversion",
                                       psprintf("CREATE TEMPORARY TABLE bulk_ingest_probe (%s %s) ON COMMIT DROP",
                                                quote_identifier(column->name), column->to_type));
                SPI_finish();
            };
            auto whole = [&]() {
                probe();
                SPI_connect();
                ExecuteSql("probing a conversion",
                           psprintf("INSERT INTO pg_temp.bulk_ingest_probe SELECT %s FROM ONLY %s o",
                                    column->expression, old_name));
                SPI_finish();
            };
            failure = TryInScratchSubtransaction(whole);
            if (failure == NULL) {
                continue;
            }
            SPI_connect();
            uint64 n = QuerySql(psprintf("SELECT DISTINCT o.%s::text FROM ONLY %s o WHERE o.%s IS NOT NULL LIMIT 10000",
                                         quote_identifier(column->name), old_name, quote_identifier(column->name)),
                                0, NULL, NULL, NULL);
            char **values = (char **)palloc(sizeof(char *) * Max(n, 1));
            for (uint64 r = 0; r < n; r++) {
                values[r] = ResultText(r, 1, cxt);
            }
            SPI_finish();
            for (uint64 r = 0; r < n && sample == NULL; r++) {
                const char *value = values[r];
                auto one = [&]() {
                    probe();
                    SPI_connect();
                    ExecuteSql("probing a conversion",
                               psprintf("INSERT INTO pg_temp.bulk_ingest_probe SELECT %s FROM (SELECT %s::%s AS %s) o",
                                        column->expression, quote_literal_cstr(value), column->from_type,
                                        quote_identifier(column->name)));
                    SPI_finish();
                };
                ErrorData *result = TryInScratchSubtransaction(one);
                if (result != NULL) {
                    sample = pstrdup(value);
                    failure = result;
                }
            }
            explanation =
                psprintf("column %s cannot be converted from %s to %s%s%s: %s", quote_identifier(column->name),
                         column->from_type, column->to_type, sample ? ", for example the value " : "",
                         sample ? quote_literal_cstr(sample) : "", failure->message);
        } else if (declared != NULL && !declared->nullable) {
            SPI_connect();
            QuerySql(
                psprintf("SELECT count(*) FROM ONLY %s o WHERE o.%s IS NULL", old_name, quote_identifier(column->name)),
                0, NULL, NULL, NULL);
            char *nulls = ResultText(0, 1, cxt);
            SPI_finish();
            if (strcmp(nulls, "0") != 0) {
                explanation =
                    psprintf("column %s is declared \"nullable\": false, but %s existing rows have NULL there",
                             quote_identifier(column->name), nulls);
            }
        }
    }
    for (int i = 0; i < decl->ncolumns && explanation == NULL; i++) {
        bool copied = false;
        for (int c = 0; c < ncolumns; c++) {
            copied = copied || strcmp(columns[c].name, decl->columns[i].name) == 0;
        }
        if (!copied && !decl->columns[i].nullable) {
            explanation = psprintf(
                "column %s is new and declared \"nullable\": false, so the existing rows have no "
                "value for it",
                quote_identifier(decl->columns[i].name));
        }
    }
    return explanation;
}

// Copies the rows of the old table into the new one; with upserts, the batch's rows win over the old ones.
static void CopyOldRows(const Declaration *decl, Oid old_relid, const char *new_name, bool upsert) {
    const char *old_name = QuotedTargetName(decl);
    Relation old = table_open(old_relid, NoLock);
    TupleDesc desc = RelationGetDescr(old);
    CopiedColumn *columns = (CopiedColumn *)palloc0(sizeof(CopiedColumn) * decl->ncolumns);
    int ncolumns = 0;
    StringInfoData insert_list, select_list;
    initStringInfo(&insert_list);
    initStringInfo(&select_list);
    for (int i = 0; i < decl->ncolumns; i++) {
        const DeclaredColumn *column = &decl->columns[i];
        AttrNumber attnum = get_attnum(old_relid, column->name);
        if (attnum <= 0) {
            continue;
        }
        Form_pg_attribute att = TupleDescAttr(desc, attnum - 1);
        CopiedColumn *copied = &columns[ncolumns++];
        copied->name = column->name;
        copied->cast = att->atttypid != column->type_oid || att->atttypmod != column->typmod;
        copied->from_type = format_type_with_typemod(att->atttypid, att->atttypmod);
        copied->to_type = format_type_with_typemod(column->type_oid, column->typmod);
        // The assignment cast when there is one (it refuses to truncate varchar(10) into varchar(5)), else the
        // explicit cast (text to integer, ...).
        Oid from = att->atttypid;
        bool assignable = !copied->cast || can_coerce_type(1, &from, (Oid *)&column->type_oid, COERCION_ASSIGNMENT);
        copied->expression = assignable ? psprintf("o.%s", quote_identifier(column->name))
                                        : psprintf("CAST(o.%s AS %s)", quote_identifier(column->name), copied->to_type);
        appendStringInfo(&insert_list, "%s%s", insert_list.len > 0 ? ", " : "", quote_identifier(column->name));
        appendStringInfo(&select_list, "%s%s", select_list.len > 0 ? ", " : "", copied->expression);
    }
    table_close(old, NoLock);
    if (ncolumns == 0) {
        return;  // nothing in common: the old rows have nothing to keep
    }
    char *key = DeclaredPrimaryKey(decl);
    char *sql = psprintf("INSERT INTO %s (%s) SELECT %s FROM ONLY %s o%s%s%s", new_name, insert_list.data,
                         select_list.data, old_name, upsert && key ? " ON CONFLICT (" : "", upsert && key ? key : "",
                         upsert && key ? ") DO NOTHING" : "");
    const char *doing =
        psprintf("source \"%s\": copying the rows of %s into its rebuilt version", decl->row->source, old_name);
    ErrorData *failure = ExecuteSqlCatching(doing, sql, CatchesAnyError);
    if (failure == NULL) {
        return;
    }
    if (failure->sqlerrcode == ERRCODE_UNIQUE_VIOLATION) {
        ReThrowError(failure);
    }
    char *explanation = ExplainCopyFailure(decl, old_name, columns, ncolumns);
    if (explanation == NULL) {
        ReThrowError(failure);
    }
    ereport(ERROR, (errcode(failure->sqlerrcode),
                    errmsg("source \"%s\": cannot migrate table %s: %s", decl->row->source, old_name, explanation),
                    errhint("Change the declaration, or fix the rows of the table. Nothing was changed.")));
}

// Gives the rebuilt table's indexes their final names, once the old table (and so its index names) is gone: the
// old index's name for the same form, else a name PostgreSQL would choose.
static void NameIndexes(Oid relid, List *old_forms, List *old_names, const char *old_primary_key) {
    List *forms, *names, *first_columns;
    char *primary_key;
    LiveIndexNames(relid, &forms, &names, &primary_key, &first_columns);
    Oid namespace_oid = get_rel_namespace(relid);
    char *schema = get_namespace_name(namespace_oid);
    char *table = get_rel_name(relid);
    SPI_connect();
    const char *doing = "naming the indexes of the rebuilt table";
    if (primary_key != NULL) {
        char *name =
            old_primary_key ? pstrdup(old_primary_key) : ChooseRelationName(table, NULL, "pkey", namespace_oid, true);
        ExecuteSql(doing, psprintf("ALTER INDEX %s RENAME TO %s", quote_qualified_identifier(schema, primary_key),
                                   quote_identifier(name)));
        CommandCounterIncrement();
    }
    ListCell *form_cell, *name_cell, *column_cell;
    forthree(form_cell, forms, name_cell, names, column_cell, first_columns) {
        const char *form = (const char *)lfirst(form_cell);
        char *name = NULL;
        ListCell *old_form, *old_name;
        forboth(old_form, old_forms, old_name, old_names) {
            if (name == NULL && strcmp((const char *)lfirst(old_form), form) == 0) {
                name = (char *)lfirst(old_name);
                // one old name serves one new index
                lfirst(old_form) = (void *)"";
            }
        }
        if (name == NULL) {
            name = ChooseRelationName(table, (const char *)lfirst(column_cell),
                                      strncmp(form, "UNIQUE ", 7) == 0 ? "key" : "idx", namespace_oid, false);
        }
        ExecuteSql(doing, psprintf("ALTER INDEX %s RENAME TO %s",
                                   quote_qualified_identifier(schema, (const char *)lfirst(name_cell)),
                                   quote_identifier(name)));
        CommandCounterIncrement();
    }
    SPI_finish();
}

Oid CompleteRebuild(const Declaration *decl, const RebuildPlan *plan, Oid new_relid, SwapLockStats *stats) {
    Oid old_relid = plan->old_relid;
    const char *source = decl->row->source;
    const char *target = QuotedTargetName(decl);
    char *new_name =
        quote_qualified_identifier(get_namespace_name(get_rel_namespace(new_relid)), get_rel_name(new_relid));
    bool upsert = DeclarationUpserts(decl);

    // Writers wait from here to the commit (their rows would be lost); readers do not.
    ProgressSetPhase("rebuilding", NULL);
    LockRelationOid(old_relid, ShareLock);
    AddPrimaryKey(decl, new_name, upsert);
    if (plan->copy_rows) {
        CopyOldRows(decl, old_relid, new_name, upsert);
    }
    for (size_t i = 0; i < decl->options->indexes.size(); i++) {
        ErrorData *duplicates = ExecuteSqlCatching(psprintf("source \"%s\": building options.indexes[%zu]", source, i),
                                                   CreateIndexSql(decl, (int)i, new_name), IsUniqueViolation);
        if (duplicates != NULL) {
            ereport(ERROR, (errcode(ERRCODE_UNIQUE_VIOLATION),
                            errmsg("source \"%s\": unique index options.indexes[%zu] of %s cannot be built: the rows "
                                   "repeat a value",
                                   source, i, target),
                            duplicates->detail ? errdetail("%s", duplicates->detail) : 0,
                            errhint("Nothing was changed. Remove the duplicates at the source, or declare the index "
                                    "without \"unique\": true.")));
        }
    }
    CommandCounterIncrement();
    PausePoint(PAUSE_MID_REBUILD);
    TableCarry *table_carry = CarryTableState(old_relid, new_relid, new_name);
    List *old_forms, *old_names;
    char *old_primary_key;
    LiveIndexNames(old_relid, &old_forms, &old_names, &old_primary_key, NULL);

    // The swap: ACCESS EXCLUSIVE on the dependent views and the table, then drop, rename and recreate.
    ProgressSetPhase("waiting for the swap's lock", NULL);
    char *what = psprintf("source \"%s\": swapping the rebuilt table %s in", source, target);
    PausePoint(PAUSE_BEFORE_SWAP);
    List *locked = SwapLockOrder(old_relid);
    LockForSwap(locked, what, stats);
    for (;;) {
        // A view created between listing and locking is locked too; once the table is locked no new one can be.
        List *now = SwapLockOrder(old_relid);
        List *missing = list_difference_oid(now, locked);
        if (missing == NIL) {
            break;
        }
        SwapLockStats more;
        LockForSwap(missing, what, &more);
        stats->attempts += more.attempts;
        stats->wait_ms += more.wait_ms;
        locked = list_concat(locked, missing);
    }
    ProgressSetPhase("swapping", NULL);
    SwapCarry *swap_carry = CaptureInsideSwap(old_relid);
    char *old_relname = pstrdup(get_rel_name(old_relid));
    SPI_connect();
    ExecuteSql(what, psprintf("DROP TABLE %s CASCADE", target));
    ExecuteSql(what, psprintf("ALTER TABLE %s RENAME TO %s", new_name, quote_identifier(old_relname)));
    SPI_finish();
    CommandCounterIncrement();
    NameIndexes(new_relid, old_forms, old_names, old_primary_key);
    RestoreAfterSwap(table_carry, swap_carry, new_relid);
    PausePoint(PAUSE_AFTER_SWAP);
    ereport(LOG, (errmsg("pg_bulk_ingest: source \"%s\": rebuilt table %s (%s)", source, target, plan->reason)));
    return new_relid;
}
