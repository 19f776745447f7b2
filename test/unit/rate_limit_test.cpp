// Unit tests of the pacing of requests per host: our rate, the server's announced limits.
#include <gtest/gtest.h>

#include <string>

#include "rate_limit.h"

using bulk_ingest::BlockedUntil;
using bulk_ingest::HostKey;
using bulk_ingest::HostPacing;
using bulk_ingest::ReserveRequest;

constexpr int64_t kS = 1000000;

TEST(RateLimit, RequestsGoOneIntervalApartWhoeverReservesThem) {
    HostPacing pacing;
    const int64_t t0 = 1700000000 * kS;
    EXPECT_EQ(ReserveRequest(&pacing, 4, t0), 0);       // the first goes at once
    EXPECT_EQ(ReserveRequest(&pacing, 4, t0), kS / 4);  // the next one a quarter second later
    EXPECT_EQ(ReserveRequest(&pacing, 4, t0 + kS / 10), kS / 2 - kS / 10);
    EXPECT_EQ(ReserveRequest(&pacing, 4, t0 + 10 * kS), 0);         // after a pause, at once again (no burst saved)
    EXPECT_EQ(ReserveRequest(&pacing, 0.5, t0 + 10 * kS), kS / 4);  // the pace of the last reservation holds
    EXPECT_EQ(ReserveRequest(&pacing, 0.5, t0 + 10 * kS), kS / 4 + 2 * kS);
    HostPacing none;
    EXPECT_EQ(ReserveRequest(&none, 0, t0), 0);
    EXPECT_EQ(ReserveRequest(&none, 0, t0), 0);  // no rate: no wait
}

TEST(RateLimit, AServersBlockHoldsEveryRequest) {
    HostPacing pacing;
    const int64_t t0 = 1700000000 * kS;
    pacing.blocked_until_us = t0 + 3 * kS;
    EXPECT_EQ(ReserveRequest(&pacing, 0, t0), 3 * kS);
    EXPECT_EQ(ReserveRequest(&pacing, 0, t0 + 4 * kS), 0);
}

TEST(RateLimit, BlockedUntilReadsTheHeaderForms) {
    const int64_t now = 1700000000 * kS;
    EXPECT_EQ(BlockedUntil(std::string("0"), std::string("30"), now), now + 30 * kS);          // delta seconds
    EXPECT_EQ(BlockedUntil(std::string("0"), std::string("1700000060"), now), now + 60 * kS);  // an epoch time
    EXPECT_EQ(BlockedUntil(std::string(" 0 "), std::string("1699999999"), now), now);          // already past
    EXPECT_EQ(BlockedUntil(std::string("0"), std::string("999999"), now), now + 3600 * kS);    // at most an hour
    EXPECT_FALSE(BlockedUntil(std::string("5"), std::string("30"), now));
    EXPECT_FALSE(BlockedUntil(std::nullopt, std::string("30"), now));
    EXPECT_FALSE(BlockedUntil(std::string("0"), std::nullopt, now));
    EXPECT_FALSE(BlockedUntil(std::string("0"), std::string("Wed, 21 Oct 2015 07:28:00 GMT"), now));
    EXPECT_FALSE(BlockedUntil(std::string("-1"), std::string("30"), now));
}

TEST(RateLimit, HostKeys) {
    EXPECT_EQ(HostKey("https://API.Example.com/x?y=1"), "api.example.com:443");
    EXPECT_EQ(HostKey("http://127.0.0.1:8080/a"), "127.0.0.1:8080");
    EXPECT_NE(HostKey("http://h:1/"), HostKey("http://h:2/"));
}
