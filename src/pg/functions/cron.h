// Schedules in cron syntax, run by pg_cron: bulk_ingest_schedule(source, '*/5 * * * *') makes (or moves) a cron.job
// named "bulk_ingest:<source>" that runs the source as its owner; an interval schedule, NULL or unregistering the
// source removes it. pg_cron must be created in this database (its cron.database_name).
#pragma once

#include "pg/pg_prelude.h"

// Removes the pg_cron job of the source, if pg_cron is created in this database and the source has one.
void UnscheduleCronJob(const char *source);

// Makes the source's pg_cron job (if any) run as new_owner, the source's owner from now on.
void ReownCronJob(const char *source, Oid new_owner);
