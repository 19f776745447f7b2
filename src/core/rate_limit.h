// Client-side rate limits (options.rate_limit: requests per second to a host) and the limits a server announces
// (X-RateLimit-Remaining / X-RateLimit-Reset, RateLimit-Remaining / RateLimit-Reset, Retry-After): when the next
// request to a host may be sent.
//
// Pure logic over one host's pacing record; the PostgreSQL layer keeps the records in shared memory, so that every
// run and worker of the server shares the pace of a host, and sleeps (interruptibly) as long as this says.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace bulk_ingest {

struct HostPacing {
    int64_t next_us = 0;           // the earliest time (µs since the Unix epoch) the rate lets the next request go
    int64_t blocked_until_us = 0;  // the server said: no request before then
};

// Reserves a request to the host at now_us, at most rate requests per second (0: no rate of ours; a server's block
// still applies): returns how long to wait before sending it (µs, 0: at once) and moves the pace on, so that
// requests reserved together go one interval apart, whoever reserved them.
int64_t ReserveRequest(HostPacing *pacing, double rate, int64_t now_us) noexcept;

// When a response's rate-limit headers say the host takes no more requests: remaining 0 and a reset, either seconds
// from now (the IETF RateLimit fields, GitHub's delta form) or, for a number that can only be a time (above 10^9),
// seconds since the Unix epoch (GitHub's, Twitter's X-RateLimit-Reset). nullopt when they say nothing of the kind
// (remaining above 0, absent, or a reset that is not a number). A reset further than an hour away is taken as an
// hour: the next run may try again.
std::optional<int64_t> BlockedUntil(const std::optional<std::string> &remaining,
                                    const std::optional<std::string> &reset, int64_t now_us);

// The key of a URL's host in the pacing table: the host in lower case and the port ("api.example.com:443").
// Throws Error for an invalid URL.
std::string HostKey(const std::string &url);

}  // namespace bulk_ingest
