// Which database has a launcher, in shared memory: the supervisor starts one launcher per database that has the
// extension (launcher.h); requests wake the launcher of their database, or the supervisor when there is none yet
// (CREATE EXTENSION, ALTER EXTENSION UPDATE); DROP DATABASE stops the database's launcher.
#pragma once

#include "pg/pg_prelude.h"

// What the supervisor knows of a database.
typedef enum LauncherState {
    LAUNCHER_UNKNOWN = 0,  // not looked at yet, or to look at again: the supervisor starts a launcher for it
    LAUNCHER_STARTING,     // a launcher was started and has not said yet whether the extension is there
    LAUNCHER_RUNNING,      // its launcher runs
    LAUNCHER_ABSENT,       // the extension is not created in it: no launcher until a request wakes the supervisor
    LAUNCHER_LEAVING,      // it is being dropped: its launcher left
} LauncherState;

// Called from _PG_init while preloading.
void RequestLauncherRegistry(void);
bool LauncherRegistryAvailable(void);

void SetSupervisorPid(int pid);
int SupervisorPid(void);

// The state of database's entry (LAUNCHER_UNKNOWN when it has none), and its launcher's pid (0: none).
LauncherState LauncherStateOf(Oid database, int *pid);
// Sets database's entry (made when missing; false when the registry is full).
bool SetLauncherState(Oid database, LauncherState state, int pid);
// Forgets the entries of databases for which keep(database) is false (dropped databases).
void ForgetLaunchersExcept(bool (*keep)(Oid database, void *arg), void *arg);

// Wakes database's launcher; with none running, marks the database to look at and wakes the supervisor.
void WakeLauncherOf(Oid database);
// database is about to be dropped: its launcher leaves now (and is not started again).
void StopLauncherOf(Oid database);
// Whether database's launcher was asked to leave because the database is being dropped.
bool LauncherMustLeave(Oid database);
// Whether a request woke database's launcher while it was starting (clears it): the launcher then looks again at
// once, since that wake went to the supervisor.
bool TakeLauncherRecheck(Oid database);
