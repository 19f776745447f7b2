#include "cron_schedule.h"

#include <cctype>
#include <ctime>
#include <sstream>
#include <vector>

#include "error.h"

namespace bulk_ingest {

namespace {

const char *const kMonthNames[] = {"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"};
const char *const kDayNames[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};

struct Field {
    const char *what;
    int min, max;
    const char *const *names;  // names of min, min+1, ... (NULL: numbers only)
    int name_base;             // the value of names[0]
    int nnames;
};

std::vector<std::string> Split(const std::string &text, char separator) {
    std::vector<std::string> parts;
    std::string part;
    std::istringstream in(text);
    while (std::getline(in, part, separator)) {
        parts.push_back(part);
    }
    if (!text.empty() && text.back() == separator) {
        parts.push_back("");
    }
    return parts;
}

[[noreturn]] void Invalid(const Field &field, const std::string &text, const std::string &why) {
    throw Error("invalid cron schedule: " + std::string(field.what) + " field \"" + text + "\": " + why);
}

int Value(const Field &field, const std::string &whole, const std::string &text) {
    if (text.empty()) {
        Invalid(field, whole, "a value is missing");
    }
    if (field.names != nullptr && isalpha(static_cast<unsigned char>(text[0]))) {
        std::string lower;
        for (char c : text) {
            lower += static_cast<char>(tolower(static_cast<unsigned char>(c)));
        }
        for (int i = 0; i < field.nnames; i++) {
            if (lower == field.names[i]) {
                return field.name_base + i;
            }
        }
        Invalid(field, whole, "\"" + text + "\" is not a name it knows");
    }
    int value = 0;
    for (char c : text) {
        if (!isdigit(static_cast<unsigned char>(c)) || value > 1000) {
            Invalid(field, whole, "\"" + text + "\" is not a number");
        }
        value = value * 10 + (c - '0');
    }
    if (value < field.min || value > field.max) {
        Invalid(field, whole,
                std::to_string(value) + " is outside " + std::to_string(field.min) + "-" + std::to_string(field.max));
    }
    return value;
}

// Sets the values of a field in bits (indexed by value); returns whether it starts with "*".
template <size_t N>
bool ParseField(const Field &field, const std::string &text, std::bitset<N> *bits) {
    for (const std::string &item : Split(text, ',')) {
        std::string range = item;
        int step = 1;
        size_t slash = item.find('/');
        if (slash != std::string::npos) {
            range = item.substr(0, slash);
            std::string step_text = item.substr(slash + 1);
            Field steps = {field.what, 1, field.max, nullptr, 0, 0};
            step = Value(steps, text, step_text);
        }
        int low, high;
        if (range == "*") {
            low = field.min;
            high = field.max;
        } else {
            size_t dash = range.find('-');
            low = Value(field, text, range.substr(0, dash));
            high = dash == std::string::npos ? (slash == std::string::npos ? low : field.max)
                                             : Value(field, text, range.substr(dash + 1));
            if (high < low) {
                Invalid(field, text, "the range " + range + " ends before it starts");
            }
        }
        for (int v = low; v <= high; v += step) {
            bits->set(static_cast<size_t>(v));
        }
    }
    return !text.empty() && text[0] == '*';
}

bool DayMatches(const CronSchedule &s, const struct tm &t) {
    bool dom = s.days_of_month.test(static_cast<size_t>(t.tm_mday));
    bool dow = s.days_of_week.test(static_cast<size_t>(t.tm_wday));
    if (s.day_of_month_star || s.day_of_week_star) {
        return dom && dow;
    }
    return dom || dow;
}

}  // namespace

bool LooksLikeCronSchedule(const std::string &text) {
    std::istringstream in(text);
    std::string word;
    int fields = 0;
    while (in >> word) {
        fields++;
    }
    size_t start = text.find_first_not_of(" \t");
    return fields == 5 || (start != std::string::npos && text[start] == '@');
}

CronSchedule ParseCronSchedule(const std::string &text) {
    std::string expression = text;
    size_t start = text.find_first_not_of(" \t");
    if (start != std::string::npos && text[start] == '@') {
        std::string macro = text.substr(start);
        while (!macro.empty() && isspace(static_cast<unsigned char>(macro.back()))) {
            macro.pop_back();
        }
        if (macro == "@yearly" || macro == "@annually") {
            expression = "0 0 1 1 *";
        } else if (macro == "@monthly") {
            expression = "0 0 1 * *";
        } else if (macro == "@weekly") {
            expression = "0 0 * * 0";
        } else if (macro == "@daily" || macro == "@midnight") {
            expression = "0 0 * * *";
        } else if (macro == "@hourly") {
            expression = "0 * * * *";
        } else {
            throw Error("invalid cron schedule \"" + text +
                        "\": the known macros are @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly");
        }
    }
    std::istringstream in(expression);
    std::vector<std::string> fields;
    std::string word;
    while (in >> word) {
        fields.push_back(word);
    }
    if (fields.size() != 5) {
        throw Error("invalid cron schedule \"" + text +
                    "\": it needs 5 fields (minute hour day-of-month month "
                    "day-of-week), it has " +
                    std::to_string(fields.size()));
    }
    CronSchedule s;
    ParseField({"minute", 0, 59, nullptr, 0, 0}, fields[0], &s.minutes);
    ParseField({"hour", 0, 23, nullptr, 0, 0}, fields[1], &s.hours);
    s.day_of_month_star = ParseField({"day-of-month", 1, 31, nullptr, 0, 0}, fields[2], &s.days_of_month);
    ParseField({"month", 1, 12, kMonthNames, 1, 12}, fields[3], &s.months);
    std::bitset<8> week;
    s.day_of_week_star = ParseField({"day-of-week", 0, 7, kDayNames, 0, 7}, fields[4], &week);
    for (size_t d = 0; d < 7; d++) {
        s.days_of_week.set(d, week.test(d) || (d == 0 && week.test(7)));
    }
    return s;
}

int64_t NextCronTime(const CronSchedule &s, int64_t after) {
    time_t t = static_cast<time_t>(after - after % 60 + 60);  // the next whole minute
    // Eight years cover every schedule that fires at all: the rarest day, February 29, comes at least every eight
    // years (1896 to 1904, 2096 to 2104).
    const time_t limit = t + static_cast<time_t>(8) * 366 * 24 * 3600;
    while (t <= limit) {
        struct tm tm;
        gmtime_r(&t, &tm);
        if (!s.months.test(static_cast<size_t>(tm.tm_mon + 1))) {
            tm.tm_mon += 1;  // the first minute of the next month
            tm.tm_mday = 1;
            tm.tm_hour = 0;
            tm.tm_min = 0;
            tm.tm_sec = 0;
            t = timegm(&tm);
            continue;
        }
        if (!DayMatches(s, tm)) {
            t += (24 - tm.tm_hour) * 3600 - tm.tm_min * 60;  // the next midnight
            continue;
        }
        if (!s.hours.test(static_cast<size_t>(tm.tm_hour))) {
            t += 3600 - tm.tm_min * 60;  // the next hour
            continue;
        }
        if (!s.minutes.test(static_cast<size_t>(tm.tm_min))) {
            t += 60;
            continue;
        }
        return static_cast<int64_t>(t);
    }
    return -1;
}

}  // namespace bulk_ingest
