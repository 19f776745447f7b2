// Cron schedules ("*/5 * * * *"), as pg_cron reads them: for checking a schedule before it is handed to pg_cron,
// and for telling when it next fires (bulk_ingest.source_status.next_run_at).
//
// Five fields, separated by blanks: minute (0-59), hour (0-23), day of month (1-31), month (1-12 or jan-dec), day of
// week (0-7 or sun-sat; 0 and 7 are Sunday). Each field is "*", a number, a range "a-b", any of them with a step
// "/n", or a comma-separated list of those. When both the day of month and the day of week are restricted (neither
// starts with "*"), a day matches either (Vixie cron's rule). "@yearly" (or "@annually"), "@monthly", "@weekly",
// "@daily" (or "@midnight") and "@hourly" stand for their five-field forms. Times are UTC, as pg_cron 1.4 reads them.
#pragma once

#include <bitset>
#include <cstdint>
#include <string>

namespace bulk_ingest {

struct CronSchedule {
    std::bitset<60> minutes;
    std::bitset<24> hours;
    std::bitset<32> days_of_month;   // 1-31
    std::bitset<13> months;          // 1-12
    std::bitset<7> days_of_week;     // 0-6, Sunday = 0
    bool day_of_month_star = false;  // the field starts with "*"
    bool day_of_week_star = false;
};

// Whether text is written as a cron schedule (five fields, or "@..."), as opposed to an interval ("15 minutes").
bool LooksLikeCronSchedule(const std::string &text);

// Parses a cron schedule. Throws Error naming the field and what is wrong with it.
CronSchedule ParseCronSchedule(const std::string &text);

// The first time (seconds since 1970-01-01 UTC, a whole minute) strictly after `after` at which the schedule fires;
// -1 when it never does (a day that no month has, "0 0 31 2 *").
int64_t NextCronTime(const CronSchedule &schedule, int64_t after);

}  // namespace bulk_ingest
