#include "rate_limit.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <string>

#include "url.h"

namespace bulk_ingest {

namespace {

constexpr int64_t kUsPerSecond = 1000000;
constexpr int64_t kLongestBlockUs = 3600 * kUsPerSecond;

std::optional<int64_t> Integer(const std::optional<std::string> &text) {
    if (!text) {
        return std::nullopt;
    }
    std::string digits;
    for (char c : *text) {
        if (c != ' ' && c != '\t') {
            digits += c;
        }
    }
    if (digits.empty() || digits.size() > 18 || digits.find_first_not_of("0123456789") != std::string::npos) {
        return std::nullopt;
    }
    return std::stoll(digits);
}

}  // namespace

int64_t ReserveRequest(HostPacing *pacing, double rate, int64_t now_us) noexcept {
    int64_t at = std::max({now_us, pacing->next_us, pacing->blocked_until_us});
    if (rate > 0) {
        const int64_t interval = static_cast<int64_t>(std::ceil(static_cast<double>(kUsPerSecond) / rate));
        pacing->next_us = at + interval;
    }
    return at - now_us;
}

std::optional<int64_t> BlockedUntil(const std::optional<std::string> &remaining,
                                    const std::optional<std::string> &reset, int64_t now_us) {
    std::optional<int64_t> left = Integer(remaining);
    std::optional<int64_t> when = Integer(reset);
    if (!left || *left > 0 || !when) {
        return std::nullopt;
    }
    int64_t until = *when > 1000000000 ? *when * kUsPerSecond : now_us + *when * kUsPerSecond;
    return std::min(std::max(until, now_us), now_us + kLongestBlockUs);
}

std::string HostKey(const std::string &url) {
    UrlOrigin origin = OriginOf(url);
    std::string host = origin.host;
    for (char &c : host) {
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    return host + ":" + std::to_string(origin.port);
}

}  // namespace bulk_ingest
