#include "pg/catalog/catalog_version.h"

#include "pg/guard.h"
#include "pg/worker/shared_state.h"

extern "C" {
#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/pg_extension.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/rel.h"
}

// Calls found(tuple, descriptor) with pg_bulk_ingest's row of pg_extension, when it has one.
template <typename Found>
static void ScanExtension(Found &&found) {
    Relation rel = table_open(ExtensionRelationId, AccessShareLock);
    ScanKeyData key;
    ScanKeyInit(&key, Anum_pg_extension_extname, BTEqualStrategyNumber, F_NAMEEQ, CStringGetDatum("pg_bulk_ingest"));
    SysScanDesc scan = systable_beginscan(rel, ExtensionNameIndexId, true, NULL, 1, &key);
    HeapTuple tuple = systable_getnext(scan);
    if (HeapTupleIsValid(tuple)) {
        found(tuple, RelationGetDescr(rel));
    }
    systable_endscan(scan);
    table_close(rel, AccessShareLock);
}

Oid ExtensionSchema(void) {
    Oid schema = InvalidOid;
    ScanExtension([&](HeapTuple tuple, TupleDesc) { schema = ((Form_pg_extension)GETSTRUCT(tuple))->extnamespace; });
    return schema;
}

char *InstalledExtensionVersion(void) {
    char *version = NULL;
    ScanExtension([&](HeapTuple tuple, TupleDesc desc) {
        bool isnull;
        Datum datum = heap_getattr(tuple, Anum_pg_extension_extversion, desc, &isnull);
        version = isnull ? NULL : TextDatumGetCString(datum);
    });
    return version;
}

void CheckCatalogVersion(void) {
    char *installed = InstalledExtensionVersion();
    if (installed == NULL) {
        ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
                        errmsg("extension \"pg_bulk_ingest\" is not created in this database")));
    }
    if (strcmp(installed, BULK_INGEST_VERSION) != 0) {
        ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
                        errmsg("pg_bulk_ingest's catalog in this database is version %s, but the library loaded is "
                               "version %s",
                               installed, BULK_INGEST_VERSION),
                        errdetail("The library does not use a catalog of another version."),
                        errhint("Run ALTER EXTENSION pg_bulk_ingest UPDATE in this database.")));
    }
}

// bulk_ingest._catalog_changed(): called by the extension's scripts (CREATE EXTENSION, ALTER EXTENSION UPDATE) so
// that a launcher waiting for the catalog looks again as soon as the script commits.
BULK_INGEST_FUNCTION(bulk_ingest_catalog_changed) {
    WakeLauncherAtCommit();
    PG_RETURN_VOID();
}
