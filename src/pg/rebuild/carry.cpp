#include "pg/rebuild/carry.h"

#include "pg/rights.h"
#include "pg/sql.h"

extern "C" {
#include "access/htup_details.h"
#include "access/relation.h"
#include "catalog/namespace.h"
#include "access/table.h"
#include "catalog/dependency.h"
#include "catalog/indexing.h"
#include "catalog/pg_attribute.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "commands/comment.h"
#include "lib/stringinfo.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/regproc.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"
}

// A relation's privileges and comments, table-level and per column (columns matched by name).
typedef struct RelationGrants {
    bool has_acl;
    Datum acl;
    char *comment;
    int ncolumns;
    char **column_names;
    bool *column_has_acl;
    Datum *column_acls;
    char **column_comments;
} RelationGrants;

typedef struct CarriedView {
    Oid oid;
    char relkind;
    char *name;  // qualified and quoted
    Oid owner;
    char *definition;
    char *options;     // "security_barrier = 'true', ..." or ""
    char *tablespace;  // quoted, or NULL
    bool populated;
    char *placeholder;  // for a view in a cycle: "NULL::type AS column, ..." to create it before its definition
    List *after;        // statements after the view exists: its indexes and triggers
    RelationGrants grants;
} CarriedView;

struct TableCarry {
    List *after_rename;  // triggers (and their enabled state), extended statistics
};

struct SwapCarry {
    RelationGrants table_grants;
    List *views;  // CarriedView *, in creation order (dependencies first)
};

// The deparsed SQL we capture names every object outside pg_catalog with its schema: it is captured and replayed
// under the same pinned search_path (rights.h), so a replay resolves exactly what the catalog held.
static int QualifyNames(void) {
    return PinSearchPath();
}

static List *StatementList(const char *sql, int nargs, const Oid *types, const Datum *values) {
    MemoryContext cxt = CurrentMemoryContext;
    List *statements = NIL;
    SPI_connect();
    uint64 n = QuerySql(sql, nargs, types, values, NULL);
    for (uint64 r = 0; r < n; r++) {
        char *text = ResultText(r, 1, cxt);
        if (text != NULL) {
            MemoryContext old = MemoryContextSwitchTo(cxt);
            statements = lappend(statements, text);
            MemoryContextSwitchTo(old);
        }
    }
    SPI_finish();
    return statements;
}

static void ExecuteAll(const char *doing, List *statements) {
    ListCell *cell;
    SPI_connect();
    foreach (cell, statements) {
        ExecuteSql(doing, (const char *)lfirst(cell));
    }
    SPI_finish();
}

// Runs statements as role, restricted (rights.h).
static void ExecuteAllAs(Oid role, const char *doing, List *statements) {
    RunRestricted(role, [&] { ExecuteAll(doing, statements); });
}

// Replays, as the bootstrap superuser, the only statements a rebuild runs with more rights than the source's owner,
// all deparsed from the catalog: CREATE VIEW, CREATE MATERIALIZED VIEW ... WITH NO DATA, ALTER ... OWNER TO the
// object's owner, and the indexes and triggers of those views. They need it because the owner of a view need not be
// a role the source's owner is a member of, and may lack CREATE on its schema (so may the owner of the table). None
// of them executes user code with the superuser's rights: creating a view only parses and stores its query, WITH NO
// DATA skips planning it, a change of owner and CREATE TRIGGER run nothing, and CREATE INDEX runs the index's
// expressions and predicate (also when it folds constants) as the owner of the view, in a security-restricted
// operation, as PostgreSQL always does. REFRESH runs as the view's owner (below), and all of it under the pinned
// search_path (test_security_user_code.py shows each).
static void ReplayAsSuperuser(const char *doing, List *statements) {
    ExecuteAllAs(BOOTSTRAP_SUPERUSERID, doing, statements);
}

// ---- dependent views ----------------------------------------------------------------------------------------

// Every view depending on the table, directly or through other views. UNION (not UNION ALL) keeps the recursion
// to one row per view, however many columns and paths connect them, and ends on cycles. Only the rules that are a
// view's query (_RETURN) make a view: another rule that uses the table (ON INSERT TO some_table DO ALSO ...) belongs
// to a table, which cannot be recreated from a view definition; UncarriableObjects refuses it.
static const char *const kDependentViewsSql =
    "WITH RECURSIVE dep(oid) AS ("
    "  SELECT r.ev_class"
    "    FROM pg_catalog.pg_depend d JOIN pg_catalog.pg_rewrite r ON r.oid = d.objid"
    "   WHERE d.classid = 'pg_catalog.pg_rewrite'::regclass AND d.refclassid = 'pg_catalog.pg_class'::regclass"
    "     AND d.refobjid = $1 AND r.ev_class <> $1 AND r.rulename = '_RETURN'"
    "  UNION"
    "  SELECT r.ev_class"
    "    FROM dep JOIN pg_catalog.pg_depend d ON d.refobjid = dep.oid"
    "     AND d.classid = 'pg_catalog.pg_rewrite'::regclass AND d.refclassid = 'pg_catalog.pg_class'::regclass"
    "    JOIN pg_catalog.pg_rewrite r ON r.oid = d.objid"
    "   WHERE r.ev_class <> dep.oid AND r.ev_class <> $1 AND r.rulename = '_RETURN'"
    ") "
    "SELECT oid FROM dep ORDER BY oid";

// Which of the views use which (pairs of array positions), from one query.
static const char *const kViewEdgesSql =
    "SELECT DISTINCT array_position($1, r.ev_class) - 1, array_position($1, d.refobjid) - 1"
    "  FROM pg_catalog.pg_depend d JOIN pg_catalog.pg_rewrite r ON r.oid = d.objid"
    " WHERE d.classid = 'pg_catalog.pg_rewrite'::regclass AND d.refclassid = 'pg_catalog.pg_class'::regclass"
    "   AND r.ev_class = ANY ($1) AND d.refobjid = ANY ($1) AND r.ev_class <> d.refobjid AND r.rulename = '_RETURN'";

// The dependent views of relid in creation order (every view after the views it uses). Views in a cycle (possible
// with CREATE OR REPLACE VIEW), and those that use them, come last, in OID order, flagged in *cyclic (may be NULL):
// they are created as placeholders first, then replaced.
static List *DependentViews(Oid relid, List **cyclic) {
    MemoryContext cxt = CurrentMemoryContext;
    Oid types[] = {OIDOID};
    Datum values[] = {ObjectIdGetDatum(relid)};
    SPI_connect();
    uint64 n = QuerySql(kDependentViewsSql, 1, types, values, NULL);
    Oid *oids = (Oid *)MemoryContextAlloc(cxt, sizeof(Oid) * Max(n, 1));
    List *set = NIL;
    for (uint64 r = 0; r < n; r++) {
        bool isnull;
        oids[r] = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 1, &isnull));
        set = lappend_oid(set, oids[r]);
    }
    // needs[i * n + j]: view i uses view j; waiting[i]: how many of the views i uses are not created yet
    bool *needs = (bool *)MemoryContextAllocZero(cxt, sizeof(bool) * Max(n * n, 1));
    int *waiting = (int *)MemoryContextAllocZero(cxt, sizeof(int) * Max(n, 1));
    if (n > 0) {
        Oid edge_types[] = {OIDARRAYOID};
        Datum edge_values[] = {OidArrayDatum(set)};
        uint64 nedges = QuerySql(kViewEdgesSql, 1, edge_types, edge_values, NULL);
        for (uint64 e = 0; e < nedges; e++) {
            bool isnull;
            int from = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[e], SPI_tuptable->tupdesc, 1, &isnull));
            int to = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[e], SPI_tuptable->tupdesc, 2, &isnull));
            needs[(uint64)from * n + (uint64)to] = true;
            waiting[from]++;
        }
    }
    SPI_finish();

    // Kahn's algorithm, O(n^2) over the matrix; what is never ready is a cycle and what depends on it.
    uint64 *ready = (uint64 *)palloc(sizeof(uint64) * Max(n, 1));
    bool *done = (bool *)palloc0(sizeof(bool) * Max(n, 1));
    uint64 nready = 0;
    for (uint64 i = 0; i < n; i++) {
        if (waiting[i] == 0) {
            ready[nready++] = i;
        }
    }
    List *order = NIL;
    MemoryContext old = MemoryContextSwitchTo(cxt);
    for (uint64 next = 0; next < nready; next++) {
        uint64 j = ready[next];
        done[j] = true;
        order = lappend_oid(order, oids[j]);
        for (uint64 i = 0; i < n; i++) {
            if (needs[i * n + j] && --waiting[i] == 0) {
                ready[nready++] = i;
            }
        }
    }
    for (uint64 i = 0; i < n; i++) {
        if (!done[i]) {
            order = lappend_oid(order, oids[i]);
            if (cyclic != NULL) {
                *cyclic = lappend_oid(*cyclic, oids[i]);
            }
        }
    }
    MemoryContextSwitchTo(old);
    return order;
}

List *SwapLockOrder(Oid relid) {
    // Outermost first: the reverse of the creation order.
    List *creation = DependentViews(relid, NULL);
    List *order = NIL;
    for (int i = list_length(creation) - 1; i >= 0; i--) {
        order = lappend_oid(order, list_nth_oid(creation, i));
    }
    return lappend_oid(order, relid);
}

char *UncarriableObjects(Oid relid) {
    List *set = lappend_oid(DependentViews(relid, NULL), relid);
    Oid types[] = {OIDARRAYOID};
    Datum values[] = {OidArrayDatum(set)};
    List *blockers = StatementList(
        "WITH s AS (SELECT c.oid, c.reltype, c.relnamespace FROM pg_catalog.pg_class c WHERE c.oid = ANY ($1)) "
        "SELECT pg_catalog.pg_describe_object(d.classid, d.objid, d.objsubid)"
        "  FROM pg_catalog.pg_depend d"
        " WHERE d.deptype = 'n'"
        "   AND ((d.refclassid = 'pg_catalog.pg_class'::regclass AND d.refobjid IN (SELECT oid FROM s))"
        "     OR (d.refclassid = 'pg_catalog.pg_type'::regclass AND d.refobjid IN (SELECT reltype FROM s)))"
        "   AND NOT (d.classid = 'pg_catalog.pg_rewrite'::regclass"
        "            AND (SELECT ev_class FROM pg_catalog.pg_rewrite WHERE oid = d.objid) IN (SELECT oid FROM s))"
        "   AND NOT (d.classid = 'pg_catalog.pg_class'::regclass AND d.objid IN (SELECT oid FROM s))"
        "   AND NOT (d.classid = 'pg_catalog.pg_type'::regclass AND d.objid IN (SELECT reltype FROM s))"
        "   AND NOT (d.classid = 'pg_catalog.pg_policy'::regclass AND EXISTS (SELECT FROM pg_catalog.pg_policy p"
        "            WHERE p.oid = d.objid AND p.polrelid IN (SELECT oid FROM s)))"
        "   AND NOT (d.classid = 'pg_catalog.pg_trigger'::regclass AND EXISTS (SELECT FROM pg_catalog.pg_trigger t"
        "            WHERE t.oid = d.objid AND t.tgrelid IN (SELECT oid FROM s)))"
        "   AND NOT (d.classid = 'pg_catalog.pg_statistic_ext'::regclass AND EXISTS (SELECT FROM"
        "            pg_catalog.pg_statistic_ext x WHERE x.oid = d.objid AND x.stxrelid IN (SELECT oid FROM s)))"
        "   AND NOT (d.classid = 'pg_catalog.pg_constraint'::regclass AND EXISTS (SELECT FROM pg_catalog.pg_constraint"
        "            k WHERE k.oid = d.objid AND k.conrelid IN (SELECT oid FROM s) AND k.confrelid <> ALL ($1)))"
        " UNION "  // rules of the table and of its views other than a view's query: nothing recreates them
        "SELECT pg_catalog.pg_describe_object('pg_catalog.pg_rewrite'::regclass, r.oid, 0)"
        "  FROM pg_catalog.pg_rewrite r WHERE r.ev_class IN (SELECT oid FROM s) AND r.rulename <> '_RETURN'"
        " UNION "
        "SELECT 'publication ' || pg_catalog.quote_ident(p.pubname)"
        "  FROM pg_catalog.pg_publication_rel pr JOIN pg_catalog.pg_publication p ON p.oid = pr.prpubid"
        " WHERE pr.prrelid = $1[array_upper($1, 1)]"
        " UNION "
        "SELECT 'temporary ' || pg_catalog.pg_describe_object('pg_catalog.pg_class'::regclass, s.oid, 0)"
        "  FROM s WHERE pg_catalog.pg_is_other_temp_schema(s.relnamespace)"
        "     OR s.relnamespace = pg_catalog.pg_my_temp_schema()"
        " ORDER BY 1",
        1, types, values);
    if (blockers == NIL) {
        return NULL;
    }
    StringInfoData list;
    initStringInfo(&list);
    ListCell *cell;
    foreach (cell, blockers) {
        appendStringInfo(&list, "%s%s", list.len > 0 ? "; " : "", (const char *)lfirst(cell));
    }
    return list.data;
}

Oid RelationOwner(Oid relid) {
    HeapTuple tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
    if (!HeapTupleIsValid(tuple)) {
        elog(ERROR, "pg_bulk_ingest: cache lookup failed for relation %u", relid);
    }
    Oid owner = ((Form_pg_class)GETSTRUCT(tuple))->relowner;
    ReleaseSysCache(tuple);
    return owner;
}

// ---- privileges and comments ----------------------------------------------------------------------------------

static bool AclOf(Oid relid, AttrNumber attnum, Datum *acl) {
    HeapTuple tuple = attnum == 0 ? SearchSysCache1(RELOID, ObjectIdGetDatum(relid))
                                  : SearchSysCache2(ATTNUM, ObjectIdGetDatum(relid), Int16GetDatum(attnum));
    if (!HeapTupleIsValid(tuple)) {
        elog(ERROR, "pg_bulk_ingest: cache lookup failed for relation %u column %d", relid, attnum);
    }
    bool isnull;
    Datum value = attnum == 0 ? SysCacheGetAttr(RELOID, tuple, Anum_pg_class_relacl, &isnull)
                              : SysCacheGetAttr(ATTNUM, tuple, Anum_pg_attribute_attacl, &isnull);
    if (!isnull) {
        *acl = PointerGetDatum(DatumGetAclPCopy(value));
    }
    ReleaseSysCache(tuple);
    return !isnull;
}

// Sets the privileges of a relation (attnum 0) or of one of its columns, and their shared dependencies, directly
// in the catalog: GRANT would record the replaying role as grantor, not the original one.
static void SetAcl(Oid relid, AttrNumber attnum, bool has_acl, Datum acl) {
    Datum previous = (Datum)0;
    bool had_acl = AclOf(relid, attnum, &previous);
    if (!had_acl && !has_acl) {
        return;
    }
    Oid catalog = attnum == 0 ? RelationRelationId : AttributeRelationId;
    Relation rel = table_open(catalog, RowExclusiveLock);
    HeapTuple tuple = attnum == 0 ? SearchSysCacheCopy1(RELOID, ObjectIdGetDatum(relid))
                                  : SearchSysCacheCopy2(ATTNUM, ObjectIdGetDatum(relid), Int16GetDatum(attnum));
    int natts = RelationGetDescr(rel)->natts;
    Datum *values = (Datum *)palloc0(sizeof(Datum) * natts);
    bool *nulls = (bool *)palloc0(sizeof(bool) * natts);
    bool *replace = (bool *)palloc0(sizeof(bool) * natts);
    int column = (attnum == 0 ? Anum_pg_class_relacl : Anum_pg_attribute_attacl) - 1;
    replace[column] = true;
    values[column] = acl;
    nulls[column] = !has_acl;
    HeapTuple updated = heap_modify_tuple(tuple, RelationGetDescr(rel), values, nulls, replace);
    CatalogTupleUpdate(rel, &updated->t_self, updated);
    table_close(rel, RowExclusiveLock);

    Oid *old_members = NULL, *new_members = NULL;
    int nold = had_acl ? aclmembers(DatumGetAclP(previous), &old_members) : 0;
    int nnew = has_acl ? aclmembers(DatumGetAclP(acl), &new_members) : 0;
    updateAclDependencies(RelationRelationId, relid, attnum, RelationOwner(relid), nold, old_members, nnew,
                          new_members);
    CommandCounterIncrement();
}

static void CaptureGrants(Oid relid, RelationGrants *grants) {
    memset(grants, 0, sizeof(*grants));
    grants->has_acl = AclOf(relid, 0, &grants->acl);
    grants->comment = GetComment(relid, RelationRelationId, 0);
    Relation rel = relation_open(relid, NoLock);
    TupleDesc desc = RelationGetDescr(rel);
    grants->column_names = (char **)palloc0(sizeof(char *) * desc->natts);
    grants->column_has_acl = (bool *)palloc0(sizeof(bool) * desc->natts);
    grants->column_acls = (Datum *)palloc0(sizeof(Datum) * desc->natts);
    grants->column_comments = (char **)palloc0(sizeof(char *) * desc->natts);
    for (int i = 0; i < desc->natts; i++) {
        Form_pg_attribute att = TupleDescAttr(desc, i);
        if (att->attisdropped) {
            continue;
        }
        int c = grants->ncolumns++;
        grants->column_names[c] = pstrdup(NameStr(att->attname));
        grants->column_has_acl[c] = AclOf(relid, att->attnum, &grants->column_acls[c]);
        grants->column_comments[c] = GetComment(relid, RelationRelationId, att->attnum);
    }
    relation_close(rel, NoLock);
}

// Applies captured grants and comments to relid; columns that no longer exist are skipped.
static void RestoreGrants(Oid relid, const RelationGrants *grants) {
    SetAcl(relid, 0, grants->has_acl, grants->acl);
    CreateComments(relid, RelationRelationId, 0, grants->comment);
    for (int c = 0; c < grants->ncolumns; c++) {
        AttrNumber attnum = get_attnum(relid, grants->column_names[c]);
        if (attnum <= 0) {
            continue;
        }
        SetAcl(relid, attnum, grants->column_has_acl[c], grants->column_acls[c]);
        CreateComments(relid, RelationRelationId, attnum, grants->column_comments[c]);
    }
    CommandCounterIncrement();
}

// ---- the table's own state ------------------------------------------------------------------------------------

TableCarry *CarryTableState(Oid old_relid, Oid new_relid, const char *new_name) {
    TableCarry *carry = (TableCarry *)palloc0(sizeof(TableCarry));
    int nest = QualifyNames();
    Oid types[] = {OIDOID, TEXTOID};
    Datum values[] = {ObjectIdGetDatum(old_relid), CStringGetTextDatum(new_name)};

    // Owner first: policies, constraints and grants are then recorded under the right owner.
    List *owner = StatementList(
        "SELECT format('ALTER TABLE %s OWNER TO %I', $2, pg_catalog.pg_get_userbyid(c.relowner))"
        "  FROM pg_catalog.pg_class c WHERE c.oid = $1 AND c.relowner <> (SELECT relowner FROM pg_catalog.pg_class"
        "  WHERE oid = pg_catalog.to_regclass($2))",
        2, types, values);
    List *before = StatementList(
        "SELECT format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', $2) FROM pg_catalog.pg_class"
        " WHERE oid = $1 AND relrowsecurity"
        " UNION ALL "
        "SELECT format('ALTER TABLE %s FORCE ROW LEVEL SECURITY', $2) FROM pg_catalog.pg_class"
        " WHERE oid = $1 AND relforcerowsecurity"
        " UNION ALL "
        "(SELECT format('CREATE POLICY %I ON %s AS %s FOR %s TO %s%s%s', p.polname, $2,"
        "        CASE WHEN p.polpermissive THEN 'PERMISSIVE' ELSE 'RESTRICTIVE' END,"
        "        CASE p.polcmd WHEN 'r' THEN 'SELECT' WHEN 'a' THEN 'INSERT' WHEN 'w' THEN 'UPDATE'"
        "                      WHEN 'd' THEN 'DELETE' ELSE 'ALL' END,"
        "        (SELECT string_agg(CASE WHEN r = 0 THEN 'PUBLIC'"
        "                                ELSE pg_catalog.quote_ident(pg_catalog.pg_get_userbyid(r)) END, ', ')"
        "           FROM unnest(p.polroles) r),"
        "        ' USING (' || pg_catalog.pg_get_expr(p.polqual, p.polrelid) || ')',"
        "        ' WITH CHECK (' || pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid) || ')')"
        "   FROM pg_catalog.pg_policy p WHERE p.polrelid = $1 ORDER BY p.polname)"
        " UNION ALL "
        "(SELECT format('ALTER TABLE %s ADD CONSTRAINT %I %s', $2, k.conname, pg_catalog.pg_get_constraintdef(k.oid))"
        "   FROM pg_catalog.pg_constraint k WHERE k.conrelid = $1 AND k.contype IN ('c', 'f') ORDER BY k.conname)",
        2, types, values);
    carry->after_rename = StatementList(
        "(SELECT pg_catalog.pg_get_triggerdef(t.oid) || CASE t.tgenabled"
        "        WHEN 'D' THEN format('; ALTER TABLE %s DISABLE TRIGGER %I', t.tgrelid::regclass, t.tgname)"
        "        WHEN 'R' THEN format('; ALTER TABLE %s ENABLE REPLICA TRIGGER %I', t.tgrelid::regclass, t.tgname)"
        "        WHEN 'A' THEN format('; ALTER TABLE %s ENABLE ALWAYS TRIGGER %I', t.tgrelid::regclass, t.tgname)"
        "        ELSE '' END"
        "   FROM pg_catalog.pg_trigger t WHERE t.tgrelid = $1 AND NOT t.tgisinternal ORDER BY t.tgname)"
        " UNION ALL "
        "(SELECT pg_catalog.pg_get_statisticsobjdef(s.oid) FROM pg_catalog.pg_statistic_ext s"
        "  WHERE s.stxrelid = $1 ORDER BY s.stxname)",
        1, types, values);
    UnpinSearchPath(nest);

    char *doing = psprintf("carrying the state of table %s over to its rebuilt version", get_rel_name(old_relid));
    ReplayAsSuperuser(doing, owner);
    CommandCounterIncrement();
    ExecuteAll(doing, before);
    // Comments now; privileges again inside the swap (GRANT takes no lock that would keep them from changing).
    RelationGrants grants;
    CaptureGrants(old_relid, &grants);
    RestoreGrants(new_relid, &grants);
    return carry;
}

// ---- inside the swap ------------------------------------------------------------------------------------------

SwapCarry *CaptureInsideSwap(Oid old_relid) {
    SwapCarry *carry = (SwapCarry *)palloc0(sizeof(SwapCarry));
    CaptureGrants(old_relid, &carry->table_grants);
    int nest = QualifyNames();
    List *cyclic = NIL;
    List *oids = DependentViews(old_relid, &cyclic);
    ListCell *cell;
    foreach (cell, oids) {
        Oid oid = lfirst_oid(cell);
        CarriedView *view = (CarriedView *)palloc0(sizeof(CarriedView));
        view->oid = oid;
        MemoryContext cxt = CurrentMemoryContext;
        Oid types[] = {OIDOID};
        Datum values[] = {ObjectIdGetDatum(oid)};
        SPI_connect();
        if (list_member_oid(cyclic, oid)) {
            QuerySql(
                "SELECT string_agg(format('NULL::%s AS %I', pg_catalog.format_type(atttypid, atttypmod), attname),"
                "                  ', ' ORDER BY attnum)"
                "  FROM pg_catalog.pg_attribute WHERE attrelid = $1 AND attnum > 0 AND NOT attisdropped",
                1, types, values, NULL);
            view->placeholder = ResultText(0, 1, cxt);
        }
        QuerySql(
            "SELECT c.relkind::text, pg_catalog.quote_ident(n.nspname) || '.' || pg_catalog.quote_ident(c.relname),"
            "       c.relowner::text, pg_catalog.rtrim(pg_catalog.pg_get_viewdef(c.oid), '; '),"
            "       coalesce((SELECT string_agg(format('%s = %L', split_part(o, '=', 1),"
            "                                          substr(o, strpos(o, '=') + 1)), ', ')"
            "                   FROM unnest(c.reloptions) o), ''),"
            "       (SELECT pg_catalog.quote_ident(spcname) FROM pg_catalog.pg_tablespace"
            "         WHERE oid = c.reltablespace),"
            "       c.relispopulated::text"
            "  FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
            " WHERE c.oid = $1",
            1, types, values, NULL);
        view->relkind = ResultText(0, 1, cxt)[0];
        view->name = ResultText(0, 2, cxt);
        view->owner = (Oid)strtoul(ResultText(0, 3, cxt), NULL, 10);
        view->definition = ResultText(0, 4, cxt);
        view->options = ResultText(0, 5, cxt);
        view->tablespace = ResultText(0, 6, cxt);
        view->populated = strcmp(ResultText(0, 7, cxt), "true") == 0;
        SPI_finish();
        view->after = StatementList(
            "(SELECT pg_catalog.pg_get_indexdef(i.indexrelid) FROM pg_catalog.pg_index i WHERE i.indrelid = $1"
            "  ORDER BY i.indexrelid)"
            " UNION ALL "
            "(SELECT pg_catalog.pg_get_triggerdef(t.oid) FROM pg_catalog.pg_trigger t"
            "  WHERE t.tgrelid = $1 AND NOT t.tgisinternal ORDER BY t.tgname)",
            1, types, values);
        CaptureGrants(oid, &view->grants);
        carry->views = lappend(carry->views, view);
    }
    UnpinSearchPath(nest);
    return carry;
}

static void RecreateView(const CarriedView *view) {
    StringInfoData sql;
    initStringInfo(&sql);
    bool materialized = view->relkind == RELKIND_MATVIEW;
    const char *kind = materialized ? "MATERIALIZED VIEW" : "VIEW";
    bool replace = view->placeholder != NULL && !materialized;
    appendStringInfo(&sql, "CREATE %s%s %s", replace ? "OR REPLACE " : "", kind, view->name);
    if (view->options[0] != '\0') {
        appendStringInfo(&sql, " WITH (%s)", view->options);
    }
    if (materialized && view->tablespace != NULL) {
        appendStringInfo(&sql, " TABLESPACE %s", view->tablespace);
    }
    appendStringInfo(&sql, " AS %s", view->definition);
    if (materialized) {
        appendStringInfoString(&sql, " WITH NO DATA");
    }
    char *doing = psprintf("recreating view %s, which depends on the rebuilt table", view->name);
    List *create = list_make2(sql.data, psprintf("ALTER %s %s OWNER TO %s", kind, view->name,
                                                 quote_identifier(GetUserNameFromId(view->owner, false))));
    ReplayAsSuperuser(doing, create);
    if (materialized && view->populated) {
        // The query runs as the view's owner, as REFRESH always does (never as the superuser that recreated it).
        ExecuteAllAs(view->owner, doing, list_make1(psprintf("REFRESH MATERIALIZED VIEW %s", view->name)));
    }
    ReplayAsSuperuser(doing, view->after);  // its indexes and triggers
    CommandCounterIncrement();
    Oid oid = RangeVarGetRelid(makeRangeVarFromNameList(stringToQualifiedNameList(view->name)), NoLock, false);
    RestoreGrants(oid, &view->grants);
}

void RestoreAfterSwap(TableCarry *table, SwapCarry *swap, Oid new_relid) {
    RestoreGrants(new_relid, &swap->table_grants);
    int nest = QualifyNames();
    ExecuteAll("recreating the triggers and statistics of the rebuilt table", table->after_rename);
    ListCell *cell;
    // Views in a cycle exist as placeholders (their columns, no rows) before any of them is defined.
    foreach (cell, swap->views) {
        const CarriedView *view = (const CarriedView *)lfirst(cell);
        if (view->placeholder != NULL && view->relkind == RELKIND_VIEW) {
            ReplayAsSuperuser(psprintf("creating a placeholder for view %s, which is in a cycle of views", view->name),
                              list_make2(psprintf("CREATE VIEW %s AS SELECT %s", view->name, view->placeholder),
                                         psprintf("ALTER VIEW %s OWNER TO %s", view->name,
                                                  quote_identifier(GetUserNameFromId(view->owner, false)))));
        }
    }
    CommandCounterIncrement();
    foreach (cell, swap->views) {
        RecreateView((const CarriedView *)lfirst(cell));
    }
    UnpinSearchPath(nest);
}
