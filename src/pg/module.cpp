// The shared library's entry: module magic, settings, shared memory and the launcher.
//
// Without shared_preload_libraries the extension still works: bulk_ingest_run() starts a worker per run. Preloading
// adds the launcher (schedules, bulk_ingest_start), the settings and the progress view.
#include "pg/pg_prelude.h"

#include "pg/worker/launcher_registry.h"
#include "pg/http/pacing.h"
#include "pg/worker/supervisor.h"
#include "pg/settings.h"
#include "pg/worker/shared_state.h"

extern "C" {
#include "catalog/objectaccess.h"
#include "catalog/pg_database.h"
#include "catalog/pg_extension.h"
#include "commands/extension.h"

PG_MODULE_MAGIC;

void _PG_init(void);
}

static object_access_hook_type prev_object_access_hook = NULL;

// DROP DATABASE waits a few seconds for the other sessions of the database to leave, then fails; its DROP hook runs
// before that wait, so our workers connected to the database leave at once instead of blocking it.
static void OnObjectAccess(ObjectAccessType access, Oid class_id, Oid object_id, int sub_id, void *arg) {
    if (prev_object_access_hook) {
        prev_object_access_hook(access, class_id, object_id, sub_id, arg);
    }
    if (access == OAT_DROP && class_id == DatabaseRelationId) {
        StopWorkersOfDatabase(object_id);
    }
    // DROP EXTENSION pg_bulk_ingest: the database's launcher looks again when it commits, and leaves.
    if (access == OAT_DROP && class_id == ExtensionRelationId && sub_id == 0) {
        char *name = get_extension_name(object_id);
        if (name != NULL && strcmp(name, "pg_bulk_ingest") == 0) {
            WakeLauncherAtCommit();
        }
    }
}

void _PG_init(void) {
    DefineSettings(process_shared_preload_libraries_in_progress);
    if (!process_shared_preload_libraries_in_progress) {
        return;
    }
    RequestSharedState();
    RequestLauncherRegistry();
    RequestPacingSharedMemory();
    RegisterSupervisor();
    prev_object_access_hook = object_access_hook;
    object_access_hook = OnObjectAccess;
}
