// Whether and when to retry a failed HTTP request (see retry_policy.h).
#include "retry_policy.h"

#include "text.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <string>
#include <utility>

namespace bulk_ingest {

namespace {

// About 100 years: Retry-After values saturate here, so that no arithmetic overflows.
constexpr int64_t kMaxDelayMs = 100LL * 366 * 24 * 3600 * 1000;

int64_t SystemNowMs() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil).
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = static_cast<unsigned>(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

void CivilFromDays(int64_t z, int64_t *y, unsigned *m, unsigned *d) {
    z += 719468;
    const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const unsigned doe = static_cast<unsigned>(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = static_cast<int64_t>(yoe) + era * 400 + (*m <= 2);
}

bool IsLeapYear(int64_t y) {
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

unsigned DaysInMonth(int64_t y, unsigned m) {
    static const unsigned kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return (m == 2 && IsLeapYear(y)) ? 29 : kDays[m - 1];
}

const char *const kShortDays[] = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
const char *const kLongDays[] = {"Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"};
const char *const kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

// A cursor over the text of a date, each step consuming exactly what the grammar allows.
class DateScanner {
  public:
    explicit DateScanner(const std::string &text) : s_(text) {}

    bool AtEnd() const { return pos_ == s_.size(); }

    bool Literal(const char *text) {
        size_t i = 0;
        while (text[i] != '\0') {
            if (pos_ + i >= s_.size() || s_[pos_ + i] != text[i]) {
                return false;
            }
            i++;
        }
        pos_ += i;
        return true;
    }

    // Exactly count digits.
    bool Digits(int count, int *value) {
        int result = 0;
        for (int i = 0; i < count; i++) {
            if (pos_ >= s_.size() || s_[pos_] < '0' || s_[pos_] > '9') {
                return false;
            }
            result = result * 10 + (s_[pos_] - '0');
            pos_++;
        }
        *value = result;
        return true;
    }

    // A run of letters matched (ignoring case) against names; the index, or -1.
    int Name(const char *const *names, int count) {
        size_t start = pos_;
        while (pos_ < s_.size() && ((s_[pos_] >= 'A' && s_[pos_] <= 'Z') || (s_[pos_] >= 'a' && s_[pos_] <= 'z'))) {
            pos_++;
        }
        std::string word = s_.substr(start, pos_ - start);
        for (int i = 0; i < count; i++) {
            if (EqualsIgnoreCase(word, names[i])) {
                return i;
            }
        }
        return -1;
    }

    // "HH:MM:SS"
    bool TimeOfDay(int *hour, int *minute, int *second) {
        return Digits(2, hour) && Literal(":") && Digits(2, minute) && Literal(":") && Digits(2, second);
    }

  private:
    const std::string &s_;
    size_t pos_ = 0;
};

std::optional<int64_t> ToEpochSeconds(int64_t year, int month, int day, int hour, int minute, int second) {
    if (month < 1 || month > 12 || day < 1 || static_cast<unsigned>(day) > DaysInMonth(year, month) || hour > 23 ||
        minute > 59 || second > 60) {
        return std::nullopt;
    }
    return DaysFromCivil(year, static_cast<unsigned>(month), static_cast<unsigned>(day)) * 86400 +
           int64_t{hour} * 3600 + int64_t{minute} * 60 + second;
}

// IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT"
std::optional<int64_t> ParseImfFixdate(const std::string &text) {
    DateScanner scan(text);
    int day, month, year, hour, minute, second;
    if (scan.Name(kShortDays, 7) < 0 || !scan.Literal(", ") || !scan.Digits(2, &day) || !scan.Literal(" ") ||
        (month = scan.Name(kMonths, 12)) < 0 || !scan.Literal(" ") || !scan.Digits(4, &year) || !scan.Literal(" ") ||
        !scan.TimeOfDay(&hour, &minute, &second) || !scan.Literal(" GMT") || !scan.AtEnd()) {
        return std::nullopt;
    }
    return ToEpochSeconds(year, month + 1, day, hour, minute, second);
}

// rfc850-date: "Sunday, 06-Nov-94 08:49:37 GMT"
std::optional<int64_t> ParseRfc850Date(const std::string &text) {
    DateScanner scan(text);
    int day, month, year, hour, minute, second;
    if (scan.Name(kLongDays, 7) < 0 || !scan.Literal(", ") || !scan.Digits(2, &day) || !scan.Literal("-") ||
        (month = scan.Name(kMonths, 12)) < 0 || !scan.Literal("-") || !scan.Digits(2, &year) || !scan.Literal(" ") ||
        !scan.TimeOfDay(&hour, &minute, &second) || !scan.Literal(" GMT") || !scan.AtEnd()) {
        return std::nullopt;
    }
    return ToEpochSeconds(year < 70 ? 2000 + year : 1900 + year, month + 1, day, hour, minute, second);
}

// asctime-date: "Sun Nov  6 08:49:37 1994" (the day is two digits or a blank and one digit)
std::optional<int64_t> ParseAsctimeDate(const std::string &text) {
    DateScanner scan(text);
    int day, month, year, hour, minute, second;
    if (scan.Name(kShortDays, 7) < 0 || !scan.Literal(" ") || (month = scan.Name(kMonths, 12)) < 0 ||
        !scan.Literal(" ") || !(scan.Literal(" ") ? scan.Digits(1, &day) : scan.Digits(2, &day)) ||
        !scan.Literal(" ") || !scan.TimeOfDay(&hour, &minute, &second) || !scan.Literal(" ") ||
        !scan.Digits(4, &year) || !scan.AtEnd()) {
        return std::nullopt;
    }
    return ToEpochSeconds(year, month + 1, day, hour, minute, second);
}

std::string KindName(HttpErrorKind kind) {
    switch (kind) {
        case HttpErrorKind::kStatus:
            return "error status";
        case HttpErrorKind::kConnection:
            return "connection error";
        case HttpErrorKind::kTimeout:
            return "timeout";
        case HttpErrorKind::kForbiddenScheme:
            return "forbidden protocol";
        case HttpErrorKind::kInvalidUrl:
            return "invalid URL";
        case HttpErrorKind::kTooManyRedirects:
            return "too many redirects";
        case HttpErrorKind::kTls:
            return "TLS verification";
        case HttpErrorKind::kNotAllowed:
            return "not allowed";
        case HttpErrorKind::kOther:
            break;
    }
    return "error";
}

// "HTTP 503", "no response (timeout)", "HTTP 200, then connection error"
std::string Outcome(long status, HttpErrorKind kind) {
    if (kind == HttpErrorKind::kStatus) {
        return "HTTP " + std::to_string(status);
    }
    if (status == 0) {
        return "no response (" + KindName(kind) + ")";
    }
    return "HTTP " + std::to_string(status) + ", then " + KindName(kind);
}

std::string NotRetriedReason(long status, HttpErrorKind kind) {
    switch (kind) {
        case HttpErrorKind::kStatus:
            break;
        case HttpErrorKind::kForbiddenScheme:
            return "a redirect to (or a URL of) a protocol other than http/https is not retried";
        case HttpErrorKind::kInvalidUrl:
            return "an invalid URL is not retried";
        case HttpErrorKind::kTooManyRedirects:
            return "too many redirects are not retried";
        case HttpErrorKind::kTls:
            return "a TLS verification failure is not retried";
        case HttpErrorKind::kNotAllowed:
            return "an address bulk_ingest.allowed_hosts refuses is not retried";
        case HttpErrorKind::kConnection:
        case HttpErrorKind::kTimeout:
        case HttpErrorKind::kOther:
            return "this error is not retried";
    }
    std::string prefix = "HTTP status " + std::to_string(status) + " is not retried";
    switch (status) {
        case 400:
            return prefix + " (bad request: check the URL and its parameters)";
        case 401:
            return prefix + " (authentication failed: check the credentials in the source's headers and secrets)";
        case 403:
            return prefix + " (access forbidden: check the credentials and what they are allowed to read)";
        case 404:
            return prefix + " (not found: check the URL)";
        case 410:
            return prefix + " (gone: the resource no longer exists)";
        default:
            break;
    }
    if (status >= 400 && status <= 499) {
        return prefix + " (a client error)";
    }
    return prefix;
}

std::string Seconds(int64_t ms) {
    // Whole seconds when exact, else one decimal.
    if (ms % 1000 == 0) {
        return std::to_string(ms / 1000) + " s";
    }
    char buf[48];
    std::snprintf(buf, sizeof buf, "%.1f s", static_cast<double>(ms) / 1000.0);
    return buf;
}

}  // namespace

std::optional<int64_t> ParseHttpDate(const std::string &value) {
    std::string text = TrimBlanks(value);
    if (auto t = ParseImfFixdate(text)) {
        return t;
    }
    if (auto t = ParseRfc850Date(text)) {
        return t;
    }
    return ParseAsctimeDate(text);
}

std::optional<int64_t> ParseRetryAfter(const std::string &value, int64_t now_ms) {
    std::string text = TrimBlanks(value);
    if (text.empty()) {
        return std::nullopt;
    }
    bool all_digits = true;
    for (char c : text) {
        if (c < '0' || c > '9') {
            all_digits = false;
            break;
        }
    }
    if (all_digits) {
        int64_t ms = 0;
        for (char c : text) {
            ms = ms * 10 + int64_t{c - '0'} * 1000;
            if (ms >= kMaxDelayMs) {
                return kMaxDelayMs;
            }
        }
        return std::min(ms, kMaxDelayMs);
    }
    std::optional<int64_t> date = ParseHttpDate(text);
    if (!date) {
        return std::nullopt;
    }
    int64_t delay = *date * 1000 - now_ms;
    return std::max<int64_t>(0, std::min(delay, kMaxDelayMs));
}

std::string FormatUtcMillis(int64_t epoch_ms) {
    int64_t days = epoch_ms >= 0 ? epoch_ms / 86400000 : -((-epoch_ms + 86399999) / 86400000);
    int64_t ms_of_day = epoch_ms - days * 86400000;
    int64_t year;
    unsigned month, day;
    CivilFromDays(days, &year, &month, &day);
    char buf[64];
    std::snprintf(buf, sizeof buf, "%04lld-%02u-%02uT%02lld:%02lld:%02lld.%03lldZ", static_cast<long long>(year), month,
                  day, static_cast<long long>(ms_of_day / 3600000), static_cast<long long>(ms_of_day / 60000 % 60),
                  static_cast<long long>(ms_of_day / 1000 % 60), static_cast<long long>(ms_of_day % 1000));
    return buf;
}

bool RetryPolicy::IsRetryable(long status, HttpErrorKind kind) {
    switch (kind) {
        case HttpErrorKind::kConnection:
        case HttpErrorKind::kTimeout:
            return true;
        case HttpErrorKind::kStatus:
            return status == 408 || status == 429 || (status >= 500 && status <= 599);
        case HttpErrorKind::kNotAllowed:
            return false;  // the same name resolves to the same refused address: another attempt only adds load
        default:
            return false;
    }
}

RetryPolicy::RetryPolicy(RetryOptions options, Clock clock, Random random)
    : options_(std::move(options)), clock_(std::move(clock)), random_(std::move(random)) {
    if (options_.max_retries < 0) {
        throw Error("max_retries must not be negative");
    }
    if (options_.base_delay_ms < 0 || options_.max_delay_ms < 0 || options_.total_budget_ms < 0) {
        throw Error("retry delays and the retry time budget must not be negative");
    }
    if (!clock_) {
        clock_ = SystemNowMs;
    }
    if (!random_) {
        engine_.seed(std::random_device{}());
    }
}

void RetryPolicy::NextRequest() {
    started_ = true;
    request_start_ms_ = clock_();
    attempts_ = 0;
    retries_ = 0;
    previous_delay_ms_ = 0;
}

int64_t RetryPolicy::Backoff() {
    const int64_t base = options_.base_delay_ms;
    const int64_t cap = options_.max_delay_ms;
    double r = random_ ? random_() : std::uniform_real_distribution<double>(0.0, 1.0)(engine_);
    if (!(r >= 0.0)) {  // also NaN
        r = 0.0;
    }
    if (r >= 1.0) {
        r = std::nextafter(1.0, 0.0);
    }
    if (options_.jitter == Jitter::kDecorrelated) {
        int64_t previous = previous_delay_ms_ > 0 ? previous_delay_ms_ : base;
        double high = std::max(static_cast<double>(base), 3.0 * static_cast<double>(previous));
        double delay = static_cast<double>(base) + r * (high - static_cast<double>(base));
        int64_t result = static_cast<int64_t>(std::min(static_cast<double>(cap), delay));
        previous_delay_ms_ = std::max<int64_t>(result, 1);
        return result;
    }
    // base * 2^retries, saturating at cap.
    int64_t exponential = base;
    for (int i = 0; i < retries_ && exponential < cap; i++) {
        exponential = exponential > cap / 2 ? cap : exponential * 2;
    }
    exponential = std::min(exponential, cap);
    if (options_.jitter == Jitter::kNone) {
        return exponential;
    }
    return static_cast<int64_t>(r * static_cast<double>(exponential));
}

void RetryPolicy::Record(const std::string &line) {
    history_.push_back(options_.redact ? options_.redact(line) : line);
}

RetryDecision RetryPolicy::OnFailure(const std::string &url, const HttpError &error) {
    return OnFailure(url, error.status(), error.kind(), error.what(), error.retry_after());
}

RetryDecision RetryPolicy::OnFailure(const std::string &url, long status, HttpErrorKind kind,
                                     const std::string &message, const std::optional<std::string> &retry_after) {
    if (!started_) {
        NextRequest();
    }
    const int64_t now = clock_();
    attempts_++;
    total_failures_++;
    std::string line = FormatUtcMillis(now) + " attempt " + std::to_string(attempts_) + " of " + url + ": " +
                       Outcome(status, kind) + ": " + message;

    RetryDecision decision;
    auto give_up = [&](std::string reason) {
        decision.retry = false;
        decision.delay_ms = 0;
        decision.reason = std::move(reason);
        Record(line + "; giving up: " + decision.reason);
        return decision;
    };

    if (!IsRetryable(status, kind)) {
        return give_up(NotRetriedReason(status, kind));
    }
    if (retries_ >= options_.max_retries) {
        if (options_.max_retries == 0) {
            return give_up("retries are off (max_retries 0)");
        }
        return give_up("gave up after " + std::to_string(retries_) + (retries_ == 1 ? " retry" : " retries") +
                       " (max_retries " + std::to_string(options_.max_retries) + ")");
    }

    std::optional<int64_t> server_delay;
    std::string note;
    if (retry_after) {
        server_delay = ParseRetryAfter(*retry_after, now);
        if (!server_delay) {
            note = " (ignored the invalid Retry-After \"" + TrimBlanks(*retry_after) + "\")";
        }
    }
    int64_t delay = server_delay ? *server_delay : Backoff();
    const int64_t elapsed = std::max<int64_t>(0, now - request_start_ms_);
    if (options_.total_budget_ms > 0 && elapsed + delay > options_.total_budget_ms) {
        const int64_t left = std::max<int64_t>(0, options_.total_budget_ms - elapsed);
        if (server_delay) {
            return give_up("gave up: the server asked to wait " + Seconds(delay) +
                           " (Retry-After) and the retry time budget of " + Seconds(options_.total_budget_ms) +
                           " (max_retry_time_ms) ends in " + Seconds(left));
        }
        return give_up("gave up: waiting " + Seconds(delay) + " more would exceed the retry time budget of " +
                       Seconds(options_.total_budget_ms) + " (max_retry_time_ms; " + Seconds(elapsed) + " spent)");
    }

    retries_++;
    decision.retry = true;
    decision.delay_ms = delay;
    Record(line + "; retrying in " + std::to_string(delay) + " ms" + (server_delay ? " (Retry-After)" : "") + note);
    return decision;
}

void RetryPolicy::OnSuccess(const std::string &url) {
    if (!started_) {
        NextRequest();
    }
    attempts_++;
    if (attempts_ > 1) {
        Record(FormatUtcMillis(clock_()) + " attempt " + std::to_string(attempts_) + " of " + url + ": succeeded");
    }
}

std::string RetryPolicy::HistoryText() const {
    std::string text;
    for (const std::string &line : history_) {
        if (!text.empty()) {
            text += '\n';
        }
        text += line;
    }
    return text;
}

}  // namespace bulk_ingest
