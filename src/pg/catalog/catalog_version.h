// Which version of the extension's SQL objects (its catalog and functions) this library works with.
//
// The library and the SQL objects are upgraded separately: the package replaces the library (loaded by a server
// restart when preloaded), then ALTER EXTENSION pg_bulk_ingest UPDATE brings each database's catalog to the same
// version. In between, the library must not write a catalog it does not know: its functions refuse with an error
// that says what to run, and the launcher waits for the update without failing.
#pragma once

#include "pg/pg_prelude.h"

// The version this library was built for: default_version of pg_bulk_ingest.control (the Makefile passes it).
#ifndef BULK_INGEST_VERSION
#error "BULK_INGEST_VERSION must be defined (the Makefile takes it from pg_bulk_ingest.control)"
#endif

// The version of pg_bulk_ingest created in the current database (palloc'd), or NULL when it is not created.
char *InstalledExtensionVersion(void);

// The schema pg_bulk_ingest is created in (InvalidOid when it is not created).
Oid ExtensionSchema(void);

// Raises an error naming both versions and the statement to run unless the extension in the current database is
// at the library's version.
void CheckCatalogVersion(void);
