// Unit tests of cron schedules: what is accepted, the errors, and when a schedule next fires.
#include <gtest/gtest.h>

#include <ctime>
#include <string>

#include "cron_schedule.h"
#include "error.h"

using bulk_ingest::LooksLikeCronSchedule;
using bulk_ingest::NextCronTime;
using bulk_ingest::ParseCronSchedule;

namespace {

// "YYYY-MM-DD HH:MM" (UTC) <-> seconds since 1970.
int64_t At(const std::string &text) {
    struct tm tm = {};
    strptime(text.c_str(), "%Y-%m-%d %H:%M", &tm);
    return static_cast<int64_t>(timegm(&tm));
}

std::string Text(int64_t t) {
    if (t < 0) {
        return "never";
    }
    time_t tt = static_cast<time_t>(t);
    struct tm tm;
    gmtime_r(&tt, &tm);
    char buf[32];
    strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M", &tm);
    return buf;
}

std::string Next(const std::string &schedule, const std::string &after) {
    return Text(NextCronTime(ParseCronSchedule(schedule), At(after)));
}

std::string ErrorOf(const std::string &schedule) {
    try {
        ParseCronSchedule(schedule);
    } catch (const bulk_ingest::Error &e) {
        return e.what();
    }
    return "";
}

}  // namespace

TEST(CronSchedule, CronOrInterval) {
    EXPECT_TRUE(LooksLikeCronSchedule("*/5 * * * *"));
    EXPECT_TRUE(LooksLikeCronSchedule(" 0  3 * * mon "));
    EXPECT_TRUE(LooksLikeCronSchedule("@daily"));
    EXPECT_FALSE(LooksLikeCronSchedule("15 minutes"));
    EXPECT_FALSE(LooksLikeCronSchedule("1 day 2 hours"));
    EXPECT_FALSE(LooksLikeCronSchedule(""));
}

TEST(CronSchedule, NextTimes) {
    EXPECT_EQ(Next("* * * * *", "2024-01-01 10:00"), "2024-01-01 10:01");  // strictly after
    EXPECT_EQ(Next("*/5 * * * *", "2024-01-01 10:03"), "2024-01-01 10:05");
    EXPECT_EQ(Next("*/5 * * * *", "2024-01-01 23:58"), "2024-01-02 00:00");
    EXPECT_EQ(Next("7,37 * * * *", "2024-01-01 10:08"), "2024-01-01 10:37");
    EXPECT_EQ(Next("0 3 * * *", "2024-01-01 03:00"), "2024-01-02 03:00");
    EXPECT_EQ(Next("30 9-17/4 * * *", "2024-01-01 10:00"), "2024-01-01 13:30");
    EXPECT_EQ(Next("0 0 1 * *", "2024-01-15 12:00"), "2024-02-01 00:00");
    EXPECT_EQ(Next("0 0 31 * *", "2024-04-01 00:00"), "2024-05-31 00:00");  // April has no 31st
    EXPECT_EQ(Next("0 0 29 2 *", "2024-03-01 00:00"), "2028-02-29 00:00");
    EXPECT_EQ(Next("0 12 * * mon", "2024-01-03 00:00"), "2024-01-08 12:00");  // Wednesday -> Monday
    EXPECT_EQ(Next("0 12 * * 7", "2024-01-03 00:00"), "2024-01-07 12:00");    // 7 is Sunday
    EXPECT_EQ(Next("0 0 * DEC *", "2024-01-03 00:00"), "2024-12-01 00:00");
    EXPECT_EQ(Next("0 0 31 12 *", "2024-12-31 00:00"), "2025-12-31 00:00");
    // Both days restricted: either matches (the 13th, or a Friday).
    EXPECT_EQ(Next("0 0 13 * 5", "2024-01-01 00:00"), "2024-01-05 00:00");
    EXPECT_EQ(Next("0 0 13 * 5", "2024-01-12 00:00"), "2024-01-13 00:00");
    // A day of week after "*/2" in the day of month: both must match.
    EXPECT_EQ(Next("0 0 */2 * 1", "2024-01-01 00:00"), "2024-01-15 00:00");
    EXPECT_EQ(Next("@hourly", "2024-01-01 10:30"), "2024-01-01 11:00");
    EXPECT_EQ(Next("@weekly", "2024-01-01 10:30"), "2024-01-07 00:00");
    EXPECT_EQ(Next("@yearly", "2024-01-01 10:30"), "2025-01-01 00:00");
    EXPECT_EQ(Next("0 0 30 2 *", "2024-01-01 00:00"), "never");
}

TEST(CronSchedule, Errors) {
    EXPECT_NE(ErrorOf("* * * *").find("needs 5 fields"), std::string::npos);
    EXPECT_NE(ErrorOf("60 * * * *").find("minute field \"60\": 60 is outside 0-59"), std::string::npos);
    EXPECT_NE(ErrorOf("* 24 * * *").find("hour field"), std::string::npos);
    EXPECT_NE(ErrorOf("* * 0 * *").find("day-of-month field \"0\""), std::string::npos);
    EXPECT_NE(ErrorOf("* * * 13 *").find("month field"), std::string::npos);
    EXPECT_NE(ErrorOf("* * * foo *").find("\"foo\" is not a name"), std::string::npos);
    EXPECT_NE(ErrorOf("* * * * 8").find("day-of-week field"), std::string::npos);
    EXPECT_NE(ErrorOf("5-1 * * * *").find("ends before it starts"), std::string::npos);
    EXPECT_NE(ErrorOf("*/0 * * * *").find("outside 1-59"), std::string::npos);
    EXPECT_NE(ErrorOf("1,,2 * * * *").find("a value is missing"), std::string::npos);
    EXPECT_NE(ErrorOf("x * * * *").find("\"x\" is not a number"), std::string::npos);
    EXPECT_NE(ErrorOf("@sometimes").find("known macros"), std::string::npos);
}
