// Whether and when to retry a failed HTTP request: exponential backoff with jitter, Retry-After, a retry limit and a
// time budget, and the history of the attempts for the run's record.
//
// Pure logic: nothing here sleeps or does I/O. The caller asks OnFailure() after each failed attempt and, when the
// answer is to retry, waits the given delay itself (interruptibly) before the next attempt. The clock and the random
// source are injectable, so tests are deterministic.
//
// One RetryPolicy serves one request (a page): its retry count and time budget start with the first attempt and
// cover every attempt of it, whatever fails (no response, an error status, a body that breaks off after a 2xx
// status), so its retries are bounded in count and time however the failures alternate. Call NextRequest() only
// when moving on to the next page (it keeps the history, so one policy can record a whole run), and OnSuccess()
// only once the page was read whole: an attempt is one request, from its first byte to its last.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "error.h"

namespace bulk_ingest {

enum class Jitter {
    kFull,          // delay = random(0, min(cap, base * 2^retry))
    kDecorrelated,  // delay = min(cap, random(base, 3 * previous delay)), the first previous delay being base
    kNone,          // delay = min(cap, base * 2^retry) (for tests and debugging)
};

struct RetryOptions {
    int max_retries = 5;               // retries after the first attempt; 0 = never retry
    int64_t base_delay_ms = 1000;      // the backoff's first step
    int64_t max_delay_ms = 60000;      // the cap of one backoff delay (not of a server's Retry-After)
    int64_t total_budget_ms = 600000;  // attempts and waits of one request; 0 = no limit
    Jitter jitter = Jitter::kFull;
    // Applied to every history line (e.g. to hide a secret in a URL or a message); identity when empty.
    std::function<std::string(const std::string &)> redact;
};

// The answer of RetryPolicy::OnFailure.
struct RetryDecision {
    bool retry = false;
    int64_t delay_ms = 0;  // when retry: wait this long before the next attempt
    // When !retry: why not, a phrase to append to the error's own message, e.g. "HTTP status 404 is not retried
    // (not found)" or "gave up after 5 retries (max_retries)".
    std::string reason;
};

class RetryPolicy {
  public:
    using Clock = std::function<int64_t()>;  // milliseconds since the Unix epoch (wall clock)
    using Random = std::function<double()>;  // uniform in [0, 1)

    // An empty clock is the system clock; an empty random source is a Mersenne Twister seeded from the system.
    // Throws bulk_ingest::Error for negative limits or delays.
    explicit RetryPolicy(RetryOptions options = RetryOptions(), Clock clock = Clock(), Random random = Random());

    // Starts over for another request (the next page): the retry count and the budget start again, the history
    // stays. Calling it is optional for the first request: the budget starts with the first OnFailure or
    // OnSuccess when NextRequest was never called.
    void NextRequest();

    // Records a failed attempt of url and decides. Not retried: a status other than 408, 429 and 5xx; a refused
    // redirect to another protocol, an invalid URL, too many redirects, a TLS verification failure, an address the
    // allowlist refuses (kNotAllowed). Retried otherwise (connection errors, timeouts, a transfer broken off, 408,
    // 429, 5xx), unless max_retries retries were made or the wait would end beyond the time budget. The delay honours
    // the error's Retry-After (seconds or an HTTP-date), else comes from the backoff.
    RetryDecision OnFailure(const std::string &url, const HttpError &error);
    RetryDecision OnFailure(const std::string &url, long status, HttpErrorKind kind, const std::string &message,
                            const std::optional<std::string> &retry_after = std::nullopt);

    // Records a successful attempt (only when an earlier attempt of this request failed: a history of clean runs
    // stays empty).
    void OnSuccess(const std::string &url);

    int RetriesOfThisRequest() const { return retries_; }
    int TotalFailures() const { return total_failures_; }
    // One line per recorded attempt, oldest first:
    //   2024-05-01T12:00:00.123Z attempt 1 of http://h/x: HTTP 503: <message>; retrying in 1234 ms
    //   2024-05-01T12:00:01.400Z attempt 2 of http://h/x: no response (timeout): <message>; giving up: <reason>
    //   2024-05-01T12:00:03.000Z attempt 3 of http://h/x: succeeded
    const std::vector<std::string> &History() const { return history_; }
    // The history lines joined with '\n' (no trailing newline).
    std::string HistoryText() const;

    // Whether a failure of this status and kind may succeed on another attempt (the rule of OnFailure, without
    // the limits).
    static bool IsRetryable(long status, HttpErrorKind kind);

  private:
    int64_t Backoff();
    void Record(const std::string &line);

    RetryOptions options_;
    Clock clock_;
    Random random_;
    std::mt19937_64 engine_;
    bool started_ = false;
    int64_t request_start_ms_ = 0;
    int attempts_ = 0;  // attempts of this request recorded so far
    int retries_ = 0;   // retries granted for this request
    int total_failures_ = 0;
    int64_t previous_delay_ms_ = 0;  // decorrelated jitter
    std::vector<std::string> history_;
};

// Parses a Retry-After value (RFC 9110, section 10.2.3): delay-seconds (1*DIGIT) or an HTTP-date (IMF-fixdate,
// or the obsolete RFC 850 and asctime forms). Returns the delay in milliseconds from now_ms (0 for a date in the
// past; huge values saturate at about 100 years), or nullopt for anything else (garbage, negative, fractional).
std::optional<int64_t> ParseRetryAfter(const std::string &value, int64_t now_ms);

// Parses an HTTP-date (RFC 9110, section 5.6.7) into seconds since the Unix epoch; nullopt when it is not one.
// Surrounding blanks are allowed and day and month names are matched ignoring case; a two-digit RFC 850 year is
// read as 1970-2069. The time zone must be GMT (UTC); the date and time must exist (a leap second 60 is allowed).
std::optional<int64_t> ParseHttpDate(const std::string &value);

// Formats milliseconds since the Unix epoch as ISO 8601 UTC with milliseconds: 2024-05-01T12:00:00.123Z.
std::string FormatUtcMillis(int64_t epoch_ms);

}  // namespace bulk_ingest
