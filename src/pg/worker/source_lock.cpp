#include "pg/worker/source_lock.h"

#include "pg/sql.h"

extern "C" {
#include "common/hashfn.h"
#include "executor/spi.h"
#include "catalog/pg_type.h"
#include "storage/lock.h"
}

// The advisory lock's fields: (hash of the name, this magic number), in a key space of our own (field 4 = 3: the SQL
// advisory lock functions use 1 and 2), so that no session can take a source's lock with pg_advisory_lock() and
// block its runs. pg_locks shows it as classid, objid, objsubid = 3.
static const uint32 kSourceLockMagic = 0x424b494e;
static const uint16 kSourceLockSpace = 3;

static void SourceLockTag(LOCKTAG *tag, const char *source) {
    uint32 key = DatumGetUInt32(hash_any((const unsigned char *)source, strlen(source)));
    SET_LOCKTAG_ADVISORY(*tag, MyDatabaseId, key, kSourceLockMagic, kSourceLockSpace);
}

bool TryLockSource(const char *source) {
    LOCKTAG tag;
    SourceLockTag(&tag, source);
    return LockAcquire(&tag, ExclusiveLock, true, true) != LOCKACQUIRE_NOT_AVAIL;
}

void UnlockSource(const char *source) {
    LOCKTAG tag;
    SourceLockTag(&tag, source);
    LockRelease(&tag, ExclusiveLock, true);
}

int SourceLockHolder(const char *source) {
    LOCKTAG tag;
    SourceLockTag(&tag, source);
    Oid types[] = {OIDOID, OIDOID, OIDOID};
    Datum values[] = {ObjectIdGetDatum(MyDatabaseId), ObjectIdGetDatum(tag.locktag_field2),
                      ObjectIdGetDatum(tag.locktag_field3)};
    SPI_connect();
    QuerySql(
        "SELECT pid FROM pg_catalog.pg_locks WHERE locktype = 'advisory' AND granted"
        " AND database OPERATOR(pg_catalog.=) $1 AND classid OPERATOR(pg_catalog.=) $2"
        " AND objid OPERATOR(pg_catalog.=) $3 AND objsubid OPERATOR(pg_catalog.=) 3 LIMIT 1",
        3, types, values, NULL);
    int pid = 0;
    if (SPI_processed == 1) {
        bool isnull;
        pid = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
    }
    SPI_finish();
    return pid;
}
