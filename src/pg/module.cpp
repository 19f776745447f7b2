// The shared library's entry: module magic, settings, shared memory and the launcher.
//
// Without shared_preload_libraries the extension still works: bulk_ingest_run() starts a worker per run. Preloading
// adds the launcher (schedules, bulk_ingest_start), the settings and the progress view.
#include "pg/pg_prelude.h"

#include "pg/launcher.h"
#include "pg/settings.h"
#include "pg/shared_state.h"

extern "C" {
PG_MODULE_MAGIC;

void _PG_init(void);
}

void _PG_init(void) {
    if (!process_shared_preload_libraries_in_progress) {
        return;
    }
    DefineSettings();
    RequestSharedState();
    RegisterLauncher();
}
