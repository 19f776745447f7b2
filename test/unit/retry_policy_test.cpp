// Unit tests of the retry policy: which failures are retried, backoff and jitter, Retry-After (seconds, HTTP-date,
// garbage), max_retries, the time budget and the history of attempts. A fake clock and a fake random source make
// every delay exact.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "error.h"
#include "retry_policy.h"

using bulk_ingest::Error;
using bulk_ingest::FormatUtcMillis;
using bulk_ingest::HttpError;
using bulk_ingest::HttpErrorKind;
using bulk_ingest::Jitter;
using bulk_ingest::ParseHttpDate;
using bulk_ingest::ParseRetryAfter;
using bulk_ingest::RetryDecision;
using bulk_ingest::RetryOptions;
using bulk_ingest::RetryPolicy;

namespace {

// 1994-11-06T08:49:37Z, the RFC's example date.
constexpr int64_t kRfcExample = 784111777;
constexpr int64_t kNow = kRfcExample * 1000;  // the fake clock's start
const std::string kUrl = "http://h/orders";

bool Contains(const std::string &haystack, const std::string &needle) {
    return haystack.find(needle) != std::string::npos;
}

// A fake world: a clock the test moves and a random source that returns the queued values (then 0.5).
struct World {
    int64_t now = kNow;
    std::vector<double> randoms;
    size_t next_random = 0;

    RetryPolicy Policy(RetryOptions options = RetryOptions()) {
        return RetryPolicy(
            options, [this] { return now; },
            [this] { return next_random < randoms.size() ? randoms[next_random++] : 0.5; });
    }
};

HttpError Status(long status, std::optional<std::string> retry_after = std::nullopt) {
    return HttpError(status, "HTTP status " + std::to_string(status) + " from \"" + kUrl + "\"", HttpErrorKind::kStatus,
                     std::move(retry_after));
}

HttpError NoResponse(HttpErrorKind kind) {
    return HttpError(0, "could not fetch \"" + kUrl + "\": something", kind);
}

RetryOptions NoJitter() {
    RetryOptions options;
    options.jitter = Jitter::kNone;
    options.base_delay_ms = 1000;
    options.max_delay_ms = 60000;
    options.total_budget_ms = 0;
    options.max_retries = 10;
    return options;
}

// ---- which failures are retried ----

TEST(RetryPolicy, ConnectionErrorsAndTimeoutsAreRetried) {
    EXPECT_TRUE(RetryPolicy::IsRetryable(0, HttpErrorKind::kConnection));
    EXPECT_TRUE(RetryPolicy::IsRetryable(0, HttpErrorKind::kTimeout));
    // A transfer broken off after a 200 (a reset in the middle of the body).
    EXPECT_TRUE(RetryPolicy::IsRetryable(200, HttpErrorKind::kConnection));
    EXPECT_TRUE(RetryPolicy::IsRetryable(200, HttpErrorKind::kTimeout));
    World world;
    RetryPolicy policy = world.Policy();
    EXPECT_TRUE(policy.OnFailure(kUrl, NoResponse(HttpErrorKind::kConnection)).retry);
    EXPECT_TRUE(policy.OnFailure(kUrl, NoResponse(HttpErrorKind::kTimeout)).retry);
}

TEST(RetryPolicy, RefusedRedirectsInvalidUrlsAndTlsFailuresAreNotRetried) {
    struct Case {
        HttpErrorKind kind;
        const char *reason;
    };
    for (const Case &c : {Case{HttpErrorKind::kForbiddenScheme, "protocol other than http/https is not retried"},
                          Case{HttpErrorKind::kInvalidUrl, "an invalid URL is not retried"},
                          Case{HttpErrorKind::kTooManyRedirects, "too many redirects are not retried"},
                          Case{HttpErrorKind::kTls, "TLS verification failure is not retried"},
                          Case{HttpErrorKind::kNotAllowed, "bulk_ingest.allowed_hosts refuses is not retried"},
                          Case{HttpErrorKind::kOther, "this error is not retried"}}) {
        EXPECT_FALSE(RetryPolicy::IsRetryable(0, c.kind));
        World world;
        RetryPolicy policy = world.Policy();
        RetryDecision decision = policy.OnFailure(kUrl, NoResponse(c.kind));
        EXPECT_FALSE(decision.retry);
        EXPECT_TRUE(Contains(decision.reason, c.reason)) << decision.reason;
    }
}

// An address bulk_ingest.allowed_hosts refuses stays refused: retrying would only knock again, whatever the limits
// and whatever Retry-After the refused request might carry.
TEST(RetryPolicy, AnAddressTheAllowlistRefusesIsNeverRetried) {
    EXPECT_FALSE(RetryPolicy::IsRetryable(0, HttpErrorKind::kNotAllowed));
    EXPECT_FALSE(RetryPolicy::IsRetryable(503, HttpErrorKind::kNotAllowed));
    World world;
    RetryOptions options = NoJitter();
    options.max_retries = 100;
    options.total_budget_ms = 0;
    RetryPolicy policy = world.Policy(options);
    HttpError refused(
        0,
        "could not fetch \"" + kUrl + "\": host \"localhost\" (127.0.0.1) is not allowed by bulk_ingest.allowed_hosts",
        HttpErrorKind::kNotAllowed, std::string("1"));
    RetryDecision decision = policy.OnFailure(kUrl, refused);
    EXPECT_FALSE(decision.retry);
    EXPECT_EQ(decision.reason, "an address bulk_ingest.allowed_hosts refuses is not retried");
    ASSERT_EQ(policy.History().size(), 1u);
    EXPECT_TRUE(Contains(policy.History()[0], "no response (not allowed)")) << policy.History()[0];
    EXPECT_EQ(policy.RetriesOfThisRequest(), 0);
}

TEST(RetryPolicy, RetriedStatuses) {
    for (long status : {408L, 429L, 500L, 502L, 503L, 504L, 501L, 507L, 599L}) {
        EXPECT_TRUE(RetryPolicy::IsRetryable(status, HttpErrorKind::kStatus)) << status;
        World world;
        RetryPolicy policy = world.Policy();
        EXPECT_TRUE(policy.OnFailure(kUrl, Status(status)).retry) << status;
    }
}

TEST(RetryPolicy, ClientErrorsFailAtOnceWithAClearReason) {
    struct Case {
        long status;
        const char *reason;
    };
    for (const Case &c :
         {Case{401, "HTTP status 401 is not retried (authentication failed: check the credentials"},
          Case{403, "HTTP status 403 is not retried (access forbidden"},
          Case{404, "HTTP status 404 is not retried (not found: check the URL)"},
          Case{400, "HTTP status 400 is not retried (bad request"}, Case{410, "HTTP status 410 is not retried (gone"},
          Case{422, "HTTP status 422 is not retried (a client error)"},
          Case{451, "HTTP status 451 is not retried (a client error)"}}) {
        EXPECT_FALSE(RetryPolicy::IsRetryable(c.status, HttpErrorKind::kStatus));
        World world;
        RetryPolicy policy = world.Policy();
        RetryDecision decision = policy.OnFailure(kUrl, Status(c.status));
        EXPECT_FALSE(decision.retry) << c.status;
        EXPECT_EQ(decision.delay_ms, 0);
        EXPECT_TRUE(Contains(decision.reason, c.reason)) << decision.reason;
        EXPECT_EQ(policy.RetriesOfThisRequest(), 0);
    }
}

TEST(RetryPolicy, OtherStatusesAreNotRetried) {
    for (long status : {100L, 301L, 304L, 600L}) {
        EXPECT_FALSE(RetryPolicy::IsRetryable(status, HttpErrorKind::kStatus)) << status;
    }
    World world;
    RetryPolicy policy = world.Policy();
    EXPECT_EQ(policy.OnFailure(kUrl, Status(302)).reason, "HTTP status 302 is not retried");
}

TEST(RetryPolicy, A401WithRetryAfterIsStillNotRetried) {
    World world;
    RetryPolicy policy = world.Policy();
    EXPECT_FALSE(policy.OnFailure(kUrl, Status(401, std::string("1"))).retry);
}

TEST(HttpError, DefaultKindFollowsTheStatus) {
    EXPECT_EQ(HttpError(0, "x").kind(), HttpErrorKind::kConnection);
    EXPECT_EQ(HttpError(200, "x").kind(), HttpErrorKind::kConnection);
    EXPECT_EQ(HttpError(503, "x").kind(), HttpErrorKind::kStatus);
    EXPECT_EQ(HttpError(404, "x").kind(), HttpErrorKind::kStatus);
    EXPECT_FALSE(HttpError(503, "x").retry_after().has_value());
    EXPECT_EQ(HttpError(503, "x", HttpErrorKind::kStatus, std::string("7")).retry_after().value(), "7");
}

// ---- backoff and jitter ----

TEST(RetryPolicy, ExponentialBackoffWithoutJitterDoublesUpToTheCap) {
    World world;
    RetryOptions options = NoJitter();
    options.max_delay_ms = 10000;
    RetryPolicy policy = world.Policy(options);
    std::vector<int64_t> delays;
    for (int i = 0; i < 7; i++) {
        RetryDecision decision = policy.OnFailure(kUrl, Status(503));
        ASSERT_TRUE(decision.retry);
        delays.push_back(decision.delay_ms);
    }
    EXPECT_EQ(delays, (std::vector<int64_t>{1000, 2000, 4000, 8000, 10000, 10000, 10000}));
}

TEST(RetryPolicy, BackoffDoesNotOverflowAfterManyRetries) {
    World world;
    RetryOptions options = NoJitter();
    options.max_retries = 200;
    options.max_delay_ms = INT64_MAX / 2;
    RetryPolicy policy = world.Policy(options);
    int64_t last = 0;
    for (int i = 0; i < 100; i++) {
        RetryDecision decision = policy.OnFailure(kUrl, Status(503));
        ASSERT_TRUE(decision.retry);
        ASSERT_GE(decision.delay_ms, last);
        last = decision.delay_ms;
    }
    EXPECT_LE(last, INT64_MAX / 2);
}

TEST(RetryPolicy, FullJitterIsBetweenZeroAndTheExponentialDelay) {
    World world;
    RetryOptions options = NoJitter();
    options.jitter = Jitter::kFull;
    options.max_delay_ms = 5000;
    world.randoms = {0.0, 0.999999, 0.5, 0.25, 0.999999, 0.0};
    RetryPolicy policy = world.Policy(options);
    std::vector<int64_t> delays;
    for (int i = 0; i < 6; i++) {
        delays.push_back(policy.OnFailure(kUrl, NoResponse(HttpErrorKind::kTimeout)).delay_ms);
    }
    // Exponential steps 1000, 2000, 4000, 5000 (cap), 5000, 5000, times the random value.
    EXPECT_EQ(delays, (std::vector<int64_t>{0, 1999, 2000, 1250, 4999, 0}));
}

TEST(RetryPolicy, FullJitterWithTheRealRandomSourceStaysInBounds) {
    RetryOptions options = NoJitter();
    options.jitter = Jitter::kFull;
    options.max_retries = 1000;
    options.max_delay_ms = 8000;
    RetryPolicy policy(options);  // system clock, real random source
    for (int i = 0; i < 1000; i++) {
        RetryDecision decision = policy.OnFailure(kUrl, Status(502));
        ASSERT_TRUE(decision.retry);
        int64_t bound = i < 3 ? (1000LL << i) : 8000;
        ASSERT_GE(decision.delay_ms, 0);
        ASSERT_LT(decision.delay_ms, bound) << i;
    }
}

TEST(RetryPolicy, DecorrelatedJitterStaysBetweenBaseAndThreeTimesThePreviousCapped) {
    World world;
    RetryOptions options = NoJitter();
    options.jitter = Jitter::kDecorrelated;
    options.max_delay_ms = 20000;
    // previous 1000: [1000, 3000); previous 3000 (r~1): [1000, 9000); ...
    world.randoms = {0.0, 0.999999, 0.999999, 0.5, 0.999999, 0.999999};
    RetryPolicy policy = world.Policy(options);
    std::vector<int64_t> delays;
    for (int i = 0; i < 6; i++) {
        delays.push_back(policy.OnFailure(kUrl, Status(500)).delay_ms);
    }
    EXPECT_EQ(delays[0], 1000);  // random 0: the base
    EXPECT_EQ(delays[1], 2999);  // up to 3 * 1000
    EXPECT_EQ(delays[2], 8996);  // up to 3 * 2999
    EXPECT_EQ(delays[3], 1000 + (3 * 8996 - 1000) / 2);
    EXPECT_EQ(delays[4], 20000);  // capped
    EXPECT_EQ(delays[5], 20000);
}

TEST(RetryPolicy, DecorrelatedJitterWithTheRealRandomSourceStaysInBounds) {
    RetryOptions options = NoJitter();
    options.jitter = Jitter::kDecorrelated;
    options.max_retries = 1000;
    options.base_delay_ms = 100;
    options.max_delay_ms = 5000;
    RetryPolicy policy(options);
    int64_t previous = 100;
    for (int i = 0; i < 1000; i++) {
        RetryDecision decision = policy.OnFailure(kUrl, Status(503));
        ASSERT_GE(decision.delay_ms, 100);
        ASSERT_LE(decision.delay_ms, std::min<int64_t>(5000, 3 * previous));
        previous = decision.delay_ms;
    }
}

TEST(RetryPolicy, RandomValuesOutOfRangeAreClamped) {
    World world;
    RetryOptions options = NoJitter();
    options.jitter = Jitter::kFull;
    world.randoms = {-3.0, 7.0, std::numeric_limits<double>::quiet_NaN()};
    RetryPolicy policy = world.Policy(options);
    EXPECT_EQ(policy.OnFailure(kUrl, Status(503)).delay_ms, 0);
    EXPECT_EQ(policy.OnFailure(kUrl, Status(503)).delay_ms, 1999);
    EXPECT_EQ(policy.OnFailure(kUrl, Status(503)).delay_ms, 0);
}

// ---- Retry-After ----

TEST(ParseRetryAfter, DelaySeconds) {
    EXPECT_EQ(ParseRetryAfter("120", kNow).value(), 120000);
    EXPECT_EQ(ParseRetryAfter("0", kNow).value(), 0);
    EXPECT_EQ(ParseRetryAfter("  7 \t", kNow).value(), 7000);
    EXPECT_EQ(ParseRetryAfter("007", kNow).value(), 7000);
    // Huge values saturate (about 100 years) instead of overflowing.
    int64_t huge = ParseRetryAfter("99999999999999999999999999999", kNow).value();
    EXPECT_GT(huge, 100LL * 365 * 24 * 3600 * 1000);
    EXPECT_LT(huge, 101LL * 365 * 24 * 3600 * 1000);
}

TEST(ParseRetryAfter, HttpDateInTheFutureAndInThePast) {
    EXPECT_EQ(ParseRetryAfter("Sun, 06 Nov 1994 08:50:07 GMT", kNow).value(), 30000);
    EXPECT_EQ(ParseRetryAfter("Sun, 06 Nov 1994 08:49:37 GMT", kNow + 250).value(), 0);  // now: no wait
    EXPECT_EQ(ParseRetryAfter("Sun, 06 Nov 1994 08:49:37 GMT", kNow - 250).value(), 250);
    EXPECT_EQ(ParseRetryAfter("Sat, 05 Nov 1994 08:49:37 GMT", kNow).value(), 0);  // in the past
    EXPECT_EQ(ParseRetryAfter("Sunday, 06-Nov-94 08:51:37 GMT", kNow).value(), 120000);
    EXPECT_EQ(ParseRetryAfter("Sun Nov  6 08:49:47 1994", kNow).value(), 10000);
}

TEST(ParseRetryAfter, GarbageIsRejected) {
    for (const char *value : {"",
                              "   ",
                              "-1",
                              "+5",
                              "1.5",
                              "1e3",
                              "5s",
                              "soon",
                              "0x10",
                              "12 34",
                              "Sun, 06 Nov 1994 08:49:37 UTC",
                              "Sun, 06 Nov 1994 08:49:37",
                              "06 Nov 1994 08:49:37 GMT",
                              "Sun, 6 Nov 1994 08:49:37 GMT",
                              "Sun, 31 Nov 1994 08:49:37 GMT",
                              "Sun, 06 Nov 1994 24:00:00 GMT",
                              "Sun, 06 Nov 1994 08:60:00 GMT",
                              "Sun, 06 Foo 1994 08:49:37 GMT",
                              "Xyz, 06 Nov 1994 08:49:37 GMT",
                              "Sun, 06 Nov 1994 08:49:37 GMT trailing",
                              "Sun,  06 Nov 1994 08:49:37 GMT",
                              "2024-05-01T12:00:00Z"}) {
        EXPECT_FALSE(ParseRetryAfter(value, kNow).has_value()) << value;
    }
}

TEST(ParseHttpDate, TheThreeFormsOfRfc9110) {
    EXPECT_EQ(ParseHttpDate("Sun, 06 Nov 1994 08:49:37 GMT").value(), kRfcExample);
    EXPECT_EQ(ParseHttpDate("Sunday, 06-Nov-94 08:49:37 GMT").value(), kRfcExample);
    EXPECT_EQ(ParseHttpDate("Sun Nov  6 08:49:37 1994").value(), kRfcExample);
    EXPECT_EQ(ParseHttpDate("Thu, 01 Jan 1970 00:00:00 GMT").value(), 0);
    EXPECT_EQ(ParseHttpDate("Tue, 29 Feb 2028 12:00:00 GMT").value(), 1835438400);
    EXPECT_EQ(ParseHttpDate("sun, 06 nov 1994 08:49:37 GMT").value(), kRfcExample);     // names ignoring case
    EXPECT_EQ(ParseHttpDate("Wednesday, 01-Jan-25 00:00:00 GMT").value(), 1735689600);  // two digits: 2025
    EXPECT_EQ(ParseHttpDate("Fri Dec 31 23:59:59 1999").value(), 946684799);
    EXPECT_EQ(ParseHttpDate("Sat, 31 Dec 2016 23:59:60 GMT").value(), 1483228800);  // a leap second
    EXPECT_FALSE(ParseHttpDate("Mon, 29 Feb 2027 12:00:00 GMT").has_value());       // not a leap year
    EXPECT_FALSE(ParseHttpDate("Sun Nov 6 08:49:37 1994").has_value());             // asctime pads with a blank
}

TEST(RetryPolicy, HonoursRetryAfterSecondsInsteadOfTheBackoff) {
    World world;
    RetryPolicy policy = world.Policy(NoJitter());
    RetryDecision decision = policy.OnFailure(kUrl, Status(429, std::string("42")));
    EXPECT_TRUE(decision.retry);
    EXPECT_EQ(decision.delay_ms, 42000);
    // Retry-After beyond the backoff cap is still honoured (the cap is for our own backoff).
    decision = policy.OnFailure(kUrl, Status(503, std::string("120")));
    EXPECT_EQ(decision.delay_ms, 120000);
    EXPECT_TRUE(Contains(policy.History().back(), "retrying in 120000 ms (Retry-After)")) << policy.History().back();
}

TEST(RetryPolicy, HonoursRetryAfterHttpDateAgainstTheClock) {
    World world;
    RetryPolicy policy = world.Policy(NoJitter());
    world.now = kNow + 5000;
    RetryDecision decision = policy.OnFailure(kUrl, Status(503, std::string("Sun, 06 Nov 1994 08:50:07 GMT")));
    EXPECT_TRUE(decision.retry);
    EXPECT_EQ(decision.delay_ms, 25000);
    // A date already past: retry at once.
    decision = policy.OnFailure(kUrl, Status(503, std::string("Sun, 06 Nov 1994 08:00:00 GMT")));
    EXPECT_TRUE(decision.retry);
    EXPECT_EQ(decision.delay_ms, 0);
}

TEST(RetryPolicy, GarbageRetryAfterFallsBackToTheBackoffAndIsNoted) {
    World world;
    RetryPolicy policy = world.Policy(NoJitter());
    RetryDecision decision = policy.OnFailure(kUrl, Status(503, std::string("in a while")));
    EXPECT_TRUE(decision.retry);
    EXPECT_EQ(decision.delay_ms, 1000);
    EXPECT_TRUE(
        Contains(policy.History().back(), "retrying in 1000 ms (ignored the invalid Retry-After \"in a while\")"))
        << policy.History().back();
}

TEST(RetryPolicy, RetryAfterBeyondTheBudgetGivesUp) {
    World world;
    RetryOptions options = NoJitter();
    options.total_budget_ms = 60000;
    RetryPolicy policy = world.Policy(options);
    RetryDecision decision = policy.OnFailure(kUrl, Status(429, std::string("3600")));
    EXPECT_FALSE(decision.retry);
    EXPECT_EQ(
        decision.reason,
        "gave up: the server asked to wait 3600 s (Retry-After) and the retry time budget of 60 s (max_retry_time_ms) "
        "ends in 60 s");
}

// ---- limits ----

TEST(RetryPolicy, MaxRetriesDefaultsToFive) {
    EXPECT_EQ(RetryOptions().max_retries, 5);
    World world;
    RetryOptions options;
    options.total_budget_ms = 0;
    RetryPolicy policy = world.Policy(options);
    for (int i = 0; i < 5; i++) {
        ASSERT_TRUE(policy.OnFailure(kUrl, Status(503)).retry) << i;
    }
    EXPECT_EQ(policy.RetriesOfThisRequest(), 5);
    RetryDecision decision = policy.OnFailure(kUrl, Status(503));
    EXPECT_FALSE(decision.retry);
    EXPECT_EQ(decision.reason, "gave up after 5 retries (max_retries 5)");
    EXPECT_EQ(policy.TotalFailures(), 6);
}

TEST(RetryPolicy, MaxRetriesOneAndZero) {
    World world;
    RetryOptions options = NoJitter();
    options.max_retries = 1;
    RetryPolicy one = world.Policy(options);
    EXPECT_TRUE(one.OnFailure(kUrl, Status(503)).retry);
    EXPECT_EQ(one.OnFailure(kUrl, Status(503)).reason, "gave up after 1 retry (max_retries 1)");
    options.max_retries = 0;
    RetryPolicy zero = world.Policy(options);
    RetryDecision decision = zero.OnFailure(kUrl, NoResponse(HttpErrorKind::kConnection));
    EXPECT_FALSE(decision.retry);
    EXPECT_EQ(decision.reason, "retries are off (max_retries 0)");
}

TEST(RetryPolicy, TimeBudgetCountsAttemptsAndWaits) {
    World world;
    RetryOptions options = NoJitter();
    options.total_budget_ms = 10000;
    RetryPolicy policy = world.Policy(options);
    policy.NextRequest();  // the first attempt starts now
    world.now += 2000;     // it fails after 2 s
    RetryDecision decision = policy.OnFailure(kUrl, Status(503));
    ASSERT_TRUE(decision.retry);  // 2 s + 1 s
    world.now += decision.delay_ms + 3000;
    decision = policy.OnFailure(kUrl, Status(503));
    ASSERT_TRUE(decision.retry);  // 6 s + 2 s
    EXPECT_EQ(decision.delay_ms, 2000);
    world.now += decision.delay_ms + 1000;
    decision = policy.OnFailure(kUrl, Status(503));  // 9 s + 4 s > 10 s
    EXPECT_FALSE(decision.retry);
    EXPECT_EQ(decision.reason,
              "gave up: waiting 4 s more would exceed the retry time budget of 10 s (max_retry_time_ms; 9 s spent)");
}

TEST(RetryPolicy, BudgetStartsWithTheFirstFailureWithoutNextRequest) {
    World world;
    RetryOptions options = NoJitter();
    options.total_budget_ms = 1500;
    RetryPolicy policy = world.Policy(options);
    EXPECT_TRUE(policy.OnFailure(kUrl, Status(503)).retry);  // 0 + 1 s
    world.now += 1000;
    EXPECT_FALSE(policy.OnFailure(kUrl, Status(503)).retry);  // 1 s + 2 s
}

TEST(RetryPolicy, NextRequestStartsOverAndKeepsTheHistory) {
    World world;
    RetryOptions options = NoJitter();
    options.max_retries = 2;
    options.total_budget_ms = 10000;
    RetryPolicy policy = world.Policy(options);
    policy.NextRequest();
    EXPECT_TRUE(policy.OnFailure(kUrl, Status(503)).retry);
    EXPECT_TRUE(policy.OnFailure(kUrl, Status(503)).retry);
    EXPECT_FALSE(policy.OnFailure(kUrl, Status(503)).retry);
    world.now += 60000;  // far beyond the first request's budget
    policy.NextRequest();
    EXPECT_EQ(policy.RetriesOfThisRequest(), 0);
    RetryDecision decision = policy.OnFailure(kUrl + "?page=2", Status(503));
    EXPECT_TRUE(decision.retry);
    EXPECT_EQ(decision.delay_ms, 1000);  // the backoff starts over too
    EXPECT_EQ(policy.History().size(), 4u);
    EXPECT_TRUE(Contains(policy.History()[3], "attempt 1 of http://h/orders?page=2")) << policy.History()[3];
}

TEST(RetryPolicy, NegativeOptionsAreRefused) {
    RetryOptions options;
    options.max_retries = -1;
    EXPECT_THROW(RetryPolicy{options}, Error);
    options = RetryOptions();
    options.base_delay_ms = -1;
    EXPECT_THROW(RetryPolicy{options}, Error);
    options = RetryOptions();
    options.total_budget_ms = -5;
    EXPECT_THROW(RetryPolicy{options}, Error);
}

// ---- history ----

TEST(RetryPolicy, HistoryLinesHaveTimeUrlStatusMessageAndDecision) {
    World world;
    RetryOptions options = NoJitter();
    options.max_retries = 2;
    RetryPolicy policy = world.Policy(options);
    policy.NextRequest();
    policy.OnSuccess(kUrl);  // a first attempt that succeeds leaves no trace
    EXPECT_TRUE(policy.History().empty());
    EXPECT_EQ(policy.HistoryText(), "");

    policy.NextRequest();
    policy.OnFailure(
        kUrl, HttpError(0, "could not fetch \"http://h/orders\": Connection refused", HttpErrorKind::kConnection));
    world.now += 1500;
    policy.OnFailure(kUrl, HttpError(200, "the transfer broke off", HttpErrorKind::kTimeout));
    world.now += 2000;
    policy.OnSuccess(kUrl);
    world.now += 100;
    policy.NextRequest();
    policy.OnFailure(kUrl, Status(404));

    const std::vector<std::string> expected = {
        "1994-11-06T08:49:37.000Z attempt 1 of http://h/orders: no response (connection error): could not fetch "
        "\"http://h/orders\": Connection refused; retrying in 1000 ms",
        "1994-11-06T08:49:38.500Z attempt 2 of http://h/orders: HTTP 200, then timeout: the transfer broke off; "
        "retrying in 2000 ms",
        "1994-11-06T08:49:40.500Z attempt 3 of http://h/orders: succeeded",
        "1994-11-06T08:49:40.600Z attempt 1 of http://h/orders: HTTP 404: HTTP status 404 from \"http://h/orders\"; "
        "giving up: HTTP status 404 is not retried (not found: check the URL)",
    };
    EXPECT_EQ(policy.History(), expected);
    EXPECT_EQ(policy.HistoryText(), expected[0] + "\n" + expected[1] + "\n" + expected[2] + "\n" + expected[3]);
}

TEST(RetryPolicy, HistoryIsRedacted) {
    World world;
    RetryOptions options = NoJitter();
    options.redact = [](const std::string &line) {
        std::string out = line;
        for (size_t pos; (pos = out.find("s3cr3t")) != std::string::npos;) {
            out.replace(pos, 6, "***");
        }
        return out;
    };
    RetryPolicy policy = world.Policy(options);
    policy.OnFailure("http://h/x?api_key=s3cr3t", HttpError(503, "HTTP status 503 from \"http://h/x?api_key=s3cr3t\""));
    ASSERT_EQ(policy.History().size(), 1u);
    EXPECT_FALSE(Contains(policy.HistoryText(), "s3cr3t")) << policy.HistoryText();
    EXPECT_TRUE(Contains(policy.HistoryText(), "http://h/x?api_key=***")) << policy.HistoryText();
}

TEST(FormatUtcMillis, Iso8601) {
    EXPECT_EQ(FormatUtcMillis(0), "1970-01-01T00:00:00.000Z");
    EXPECT_EQ(FormatUtcMillis(kNow + 7), "1994-11-06T08:49:37.007Z");
    EXPECT_EQ(FormatUtcMillis(1709208000123), "2024-02-29T12:00:00.123Z");
    EXPECT_EQ(FormatUtcMillis(-1), "1969-12-31T23:59:59.999Z");
}

TEST(RetryPolicy, SystemClockAndRandomByDefault) {
    RetryPolicy policy;
    RetryDecision decision = policy.OnFailure(kUrl, Status(503));
    EXPECT_TRUE(decision.retry);
    EXPECT_GE(decision.delay_ms, 0);
    EXPECT_LT(decision.delay_ms, 1000);
    ASSERT_EQ(policy.History().size(), 1u);
    EXPECT_EQ(policy.History()[0].substr(0, 2), "20");  // this century
}

}  // namespace
