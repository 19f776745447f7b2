#include "pg/rights.h"

extern "C" {
#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/pg_extension.h"
#include "commands/extension.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/rel.h"
}

int PinSearchPath(void) {
    int nest_level = NewGUCNestLevel();
    (void)set_config_option("search_path", BULK_INGEST_SAFE_SEARCH_PATH, PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE,
                            true, 0, false);
    return nest_level;
}

void UnpinSearchPath(int nest_level) {
    // As PostgreSQL does after running index functions: not a commit of the level, so that a SET done by user code
    // inside (which would otherwise turn our saved entry into its own and outlive the region) is undone too.
    AtEOXact_GUC(false, nest_level);
}

void BeginRestricted(RestrictedRegion *region, Oid role) {
    GetUserIdAndSecContext(&region->saved_user, &region->saved_context);
    SetUserIdAndSecContext(role, region->saved_context | SECURITY_LOCAL_USERID_CHANGE | SECURITY_RESTRICTED_OPERATION);
    region->nest_level = PinSearchPath();
}

void EndRestricted(const RestrictedRegion *region) {
    UnpinSearchPath(region->nest_level);
    SetUserIdAndSecContext(region->saved_user, region->saved_context);
}

void UseSafeSearchPathForSession(void) {
    (void)set_config_option("search_path", BULK_INGEST_SAFE_SEARCH_PATH, PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SET,
                            true, 0, false);
}

Oid ExtensionOwner(void) {
    Oid ext_oid = get_extension_oid("pg_bulk_ingest", false);
    Relation rel = table_open(ExtensionRelationId, AccessShareLock);
    ScanKeyData key;
    ScanKeyInit(&key, Anum_pg_extension_oid, BTEqualStrategyNumber, F_OIDEQ, ObjectIdGetDatum(ext_oid));
    SysScanDesc scan = systable_beginscan(rel, ExtensionOidIndexId, true, NULL, 1, &key);
    HeapTuple tuple = systable_getnext(scan);
    if (!HeapTupleIsValid(tuple)) {
        elog(ERROR, "pg_bulk_ingest: extension %u has no catalog row", ext_oid);
    }
    Oid owner = ((Form_pg_extension)GETSTRUCT(tuple))->extowner;
    systable_endscan(scan);
    table_close(rel, AccessShareLock);
    return owner;
}
