// bulk_ingest.test_pause_at (see test_pause.h).
#include "pg/worker/test_pause.h"

#include "pg/worker/shared_state.h"

extern "C" {
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/interrupt.h"
#include "storage/latch.h"
#include "utils/guc.h"
#include "utils/wait_event.h"
}

char *bulk_ingest_test_pause_at = NULL;

static volatile sig_atomic_t resume_requested = false;

// How many times this process reached each point (a worker does one run).
typedef struct PointCount {
    char name[32];
    int count;
} PointCount;
static PointCount counts[32];
static int ncounts = 0;

void HandleTestResume(SIGNAL_ARGS) {
    int save_errno = errno;
    resume_requested = true;
    SetLatch(MyLatch);
    errno = save_errno;
}

// Whether the setting names point for its occurrence-th time ('name' is the first time, 'name:N' the N-th).
static bool Names(const char *setting, const char *point, int occurrence) {
    size_t len = strlen(point);
    if (setting == NULL || strncmp(setting, point, len) != 0) {
        return false;
    }
    if (setting[len] == '\0') {
        return occurrence == 1;
    }
    return setting[len] == ':' && atoi(setting + len + 1) == occurrence;
}

void TestPause(const char *point) {
    int i = 0;
    while (i < ncounts && strcmp(counts[i].name, point) != 0) {
        i++;
    }
    if (i == ncounts) {
        if (ncounts == lengthof(counts)) {
            return;
        }
        strlcpy(counts[i].name, point, sizeof(counts[i].name));
        counts[i].count = 0;
        ncounts++;
    }
    int occurrence = ++counts[i].count;
    if (!Names(bulk_ingest_test_pause_at, point, occurrence)) {
        return;
    }
    char activity[64];
    snprintf(activity, sizeof(activity), "pg_bulk_ingest: paused at %s", point);
    char phase[32];
    snprintf(phase, sizeof(phase), "paused at %s", point);
    ereport(LOG, (errmsg("pg_bulk_ingest: run paused at %s (bulk_ingest.test_pause_at = '%s')", point,
                         bulk_ingest_test_pause_at)));
    pgstat_report_activity(STATE_RUNNING, activity);
    ProgressSetPhase(phase, NULL);
    resume_requested = false;
    for (;;) {
        (void)WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, 1000, PG_WAIT_EXTENSION);
        ResetLatch(MyLatch);
        CHECK_FOR_INTERRUPTS();
        if (resume_requested) {
            break;
        }
        if (ConfigReloadPending) {
            ConfigReloadPending = false;
            ProcessConfigFile(PGC_SIGHUP);
            if (!Names(bulk_ingest_test_pause_at, point, occurrence)) {
                break;
            }
        }
    }
    resume_requested = false;
    ereport(LOG, (errmsg("pg_bulk_ingest: run resumed at %s", point)));
    pgstat_report_activity(STATE_RUNNING, "pg_bulk_ingest: resumed");
}
