// The setting bulk_ingest.allowed_hosts: parsing, and the decision for one connection (see host_allowlist.h).
#include "host_allowlist.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <cstring>
#include <string>

#include "error.h"
#include "text.h"
#include "url.h"
#include "watermark_format.h"

namespace bulk_ingest {

namespace {

const char kSetting[] = "bulk_ingest.allowed_hosts";
const char kAccepted[] =
    "expected a comma-separated list of host names (api.example.com), wildcard names (*.example.com), IP addresses "
    "(192.0.2.10, ::1, [::1]), CIDR ranges (10.0.0.0/8, fd00::/8) and the word public (any publicly routable "
    "address)";

// An address as the checks see it: IPv4-mapped IPv6 addresses (::ffff:a.b.c.d) are the IPv4 address they map, so
// that listing 127.0.0.1 (or refusing it) covers both spellings.
struct Address {
    int family = AF_UNSPEC;  // AF_INET, AF_INET6, or AF_UNSPEC for anything else
    uint8_t bytes[16] = {0};
};

bool IsV4Mapped(const uint8_t *b) {
    static const uint8_t kPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    return std::memcmp(b, kPrefix, sizeof kPrefix) == 0;
}

Address FromBytes(int family, const uint8_t *bytes) {
    Address a;
    if (family == AF_INET6 && IsV4Mapped(bytes)) {
        a.family = AF_INET;
        std::memcpy(a.bytes, bytes + 12, 4);
    } else {
        a.family = family;
        std::memcpy(a.bytes, bytes, family == AF_INET ? 4 : 16);
    }
    return a;
}

Address FromSockaddr(const struct sockaddr *addr) {
    if (addr != nullptr && addr->sa_family == AF_INET) {
        const auto *in = reinterpret_cast<const sockaddr_in *>(addr);
        return FromBytes(AF_INET, reinterpret_cast<const uint8_t *>(&in->sin_addr));
    }
    if (addr != nullptr && addr->sa_family == AF_INET6) {
        const auto *in6 = reinterpret_cast<const sockaddr_in6 *>(addr);
        return FromBytes(AF_INET6, reinterpret_cast<const uint8_t *>(&in6->sin6_addr));
    }
    return Address();
}

// Whether the first `prefix` bits of a and b are equal.
bool PrefixMatches(const uint8_t *a, const uint8_t *b, int prefix) {
    int full = prefix / 8;
    if (std::memcmp(a, b, static_cast<size_t>(full)) != 0) {
        return false;
    }
    int rest = prefix % 8;
    if (rest == 0) {
        return true;
    }
    uint8_t mask = static_cast<uint8_t>(0xFF << (8 - rest));
    return (a[full] & mask) == (b[full] & mask);
}

struct Block {
    uint8_t bytes[16];
    int prefix;
};

// IPv4 blocks that are not publicly routable (IANA IPv4 Special-Purpose Address Registry, the blocks that are not
// globally reachable, and multicast and reserved space).
const Block kNonPublicV4[] = {
    {{0, 0, 0, 0}, 8},        // "this network" (0.0.0.0 is the unspecified address)
    {{10, 0, 0, 0}, 8},       // private
    {{100, 64, 0, 0}, 10},    // shared address space (carrier-grade NAT)
    {{127, 0, 0, 0}, 8},      // loopback
    {{169, 254, 0, 0}, 16},   // link-local (cloud metadata endpoints live here)
    {{172, 16, 0, 0}, 12},    // private
    {{192, 0, 0, 0}, 24},     // IETF protocol assignments
    {{192, 0, 2, 0}, 24},     // documentation (TEST-NET-1)
    {{192, 88, 99, 0}, 24},   // deprecated 6to4 relay anycast
    {{192, 168, 0, 0}, 16},   // private
    {{198, 18, 0, 0}, 15},    // benchmarking
    {{198, 51, 100, 0}, 24},  // documentation (TEST-NET-2)
    {{203, 0, 113, 0}, 24},   // documentation (TEST-NET-3)
    {{224, 0, 0, 0}, 4},      // multicast
    {{240, 0, 0, 0}, 4},      // reserved, and the limited broadcast 255.255.255.255
};

// IPv6 blocks inside global unicast (2000::/3) that are not publicly routable. Everything outside 2000::/3 is not
// public either (loopback, unspecified, unique-local fc00::/7, link-local fe80::/10, site-local fec0::/10,
// multicast ff00::/8, discard 100::/64, ...), except the forms that embed an IPv4 address (judged by it).
const Block kNonPublicV6[] = {
    {{0x20, 0x01, 0x00, 0x00}, 23},  // IETF protocol assignments (Teredo, benchmarking, ORCHID, ...)
    {{0x20, 0x01, 0x0d, 0xb8}, 32},  // documentation
    {{0x3f, 0xff, 0x00, 0x00}, 20},  // documentation (RFC 9637)
};

bool IsPublicV4(const uint8_t *b) {
    for (const Block &block : kNonPublicV4) {
        if (PrefixMatches(b, block.bytes, block.prefix)) {
            return false;
        }
    }
    return true;
}

bool IsPublicV6(const uint8_t *b) {
    static const uint8_t kZero[16] = {0};
    static const uint8_t kNat64[12] = {0x00, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0};
    if (std::memcmp(b, kZero, 12) == 0) {
        // :: and ::1, then the deprecated IPv4-compatible ::a.b.c.d, which a stack may route to a.b.c.d.
        if (std::memcmp(b, kZero, 15) == 0 && (b[15] == 0 || b[15] == 1)) {
            return false;
        }
        return IsPublicV4(b + 12);
    }
    if (std::memcmp(b, kNat64, sizeof kNat64) == 0) {
        return IsPublicV4(b + 12);  // NAT64 well-known prefix: a translator forwards to the embedded address
    }
    if (b[0] == 0x20 && b[1] == 0x02) {
        return IsPublicV4(b + 2);  // 6to4: 2002:aabb:ccdd::/48 is the site of a.b.c.d
    }
    if ((b[0] & 0xE0) != 0x20) {
        return false;  // outside global unicast 2000::/3
    }
    for (const Block &block : kNonPublicV6) {
        if (PrefixMatches(b, block.bytes, block.prefix)) {
            return false;
        }
    }
    return true;
}

bool IsPublic(const Address &a) {
    if (a.family == AF_INET) {
        return IsPublicV4(a.bytes);
    }
    if (a.family == AF_INET6) {
        return IsPublicV6(a.bytes);
    }
    return false;
}

bool IsDigit(char c) {
    return c >= '0' && c <= '9';
}

// Whether a lower-case label could be read as a number by an IPv4 parser (decimal, octal or 0x hex).
bool IsNumericLabel(const std::string &label) {
    if (label.size() >= 2 && label[0] == '0' && label[1] == 'x') {
        for (size_t i = 2; i < label.size(); i++) {
            if (!IsDigit(label[i]) && !(label[i] >= 'a' && label[i] <= 'f')) {
                return false;
            }
        }
        return true;
    }
    for (char c : label) {
        if (!IsDigit(c)) {
            return false;
        }
    }
    return true;
}

// Whether a lower-case name without a trailing dot is a DNS host name: labels of 1-63 letters, digits, '-' and '_'
// (not starting or ending with '-'), at most 253 characters, and a last label that is not a number (libcurl reads
// "127.1" or "0x7f" as an IPv4 address, never as a name).
bool IsHostName(const std::string &name) {
    if (name.empty() || name.size() > 253) {
        return false;
    }
    size_t start = 0;
    for (;;) {
        size_t dot = name.find('.', start);
        size_t end = dot == std::string::npos ? name.size() : dot;
        std::string label = name.substr(start, end - start);
        if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') {
            return false;
        }
        for (char c : label) {
            if (!((c >= 'a' && c <= 'z') || IsDigit(c) || c == '-' || c == '_')) {
                return false;
            }
        }
        if (dot == std::string::npos) {
            return !IsNumericLabel(label);
        }
        start = dot + 1;
    }
}

// The name as entries and hosts are compared: lower case, without one trailing dot.
std::string CanonicalName(const std::string &host) {
    std::string name = AsciiLowerCase(host);
    if (!name.empty() && name.back() == '.') {
        name.pop_back();
    }
    return name;
}

// Parses an IP address literal (IPv6 in brackets or not); false when text is not one.
bool ParseAddress(const std::string &text, int *family, uint8_t *bytes) {
    std::string inner = text;
    if (inner.size() >= 2 && inner.front() == '[' && inner.back() == ']') {
        inner = inner.substr(1, inner.size() - 2);
        *family = AF_INET6;
        return inet_pton(AF_INET6, inner.c_str(), bytes) == 1;
    }
    if (inet_pton(AF_INET, inner.c_str(), bytes) == 1) {
        *family = AF_INET;
        return true;
    }
    if (inet_pton(AF_INET6, inner.c_str(), bytes) == 1) {
        *family = AF_INET6;
        return true;
    }
    return false;
}

[[noreturn]] void BadEntry(const std::string &entry, const std::string &reason) {
    throw Error(std::string(kSetting) + ": invalid entry \"" + entry + "\": " + reason + "; " + kAccepted);
}

std::string BytesText(int family, const uint8_t *bytes) {
    char text[INET6_ADDRSTRLEN] = {0};
    if (inet_ntop(family, bytes, text, sizeof text) == nullptr) {
        return "?";
    }
    return text;
}

}  // namespace

HostAllowlist HostAllowlist::Parse(const std::string &text) {
    HostAllowlist list;
    if (TrimBlanks(text).empty()) {
        return list;  // nothing is allowed
    }
    size_t start = 0;
    int number = 0;
    for (;;) {
        size_t comma = text.find(',', start);
        std::string entry =
            TrimBlanks(text.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
        number++;
        if (entry.empty()) {
            throw Error(std::string(kSetting) + ": entry " + std::to_string(number) +
                        " is empty (two commas in a row, or a comma at an end); " + kAccepted);
        }
        const std::string lower = AsciiLowerCase(entry);
        int family = AF_UNSPEC;
        uint8_t bytes[16] = {0};
        size_t slash = entry.find('/');
        if (lower == "public") {
            list.allow_public_ = true;
        } else if (slash != std::string::npos) {
            const std::string address = entry.substr(0, slash);
            const std::string bits = entry.substr(slash + 1);
            if (!ParseAddress(address, &family, bytes)) {
                BadEntry(entry, "\"" + address + "\" is not an IP address");
            }
            const int max_bits = family == AF_INET ? 32 : 128;
            int prefix = 0;
            bool ok = !bits.empty() && bits.size() <= 3;
            for (char c : bits) {
                ok = ok && IsDigit(c);
                prefix = prefix * 10 + (c - '0');
            }
            if (!ok || prefix > max_bits) {
                BadEntry(entry, "the prefix length must be a number from 0 to " + std::to_string(max_bits));
            }
            uint8_t network[16] = {0};
            for (int i = 0; i < max_bits / 8; i++) {
                int keep = std::min(8, std::max(0, prefix - i * 8));
                network[i] = static_cast<uint8_t>(bytes[i] & (keep == 0 ? 0 : (0xFF << (8 - keep))));
            }
            if (std::memcmp(network, bytes, static_cast<size_t>(max_bits / 8)) != 0) {
                // 10.1.2.3/8 is most likely a typo: say which range it would be rather than guess.
                BadEntry(entry, "it has bits set to the right of the prefix length (the range is " +
                                    BytesText(family, network) + "/" + std::to_string(prefix) + ")");
            }
            Range range{family, {}, prefix};
            std::memcpy(range.address.data(), bytes, 16);
            if (family == AF_INET6 && prefix >= 96 && IsV4Mapped(bytes)) {
                // ::ffff:10.0.0.0/104 is 10.0.0.0/8: addresses are compared in their IPv4 form.
                range.family = AF_INET;
                range.prefix = prefix - 96;
                std::memset(range.address.data(), 0, 16);
                std::memcpy(range.address.data(), bytes + 12, 4);
            }
            list.ranges_.push_back(range);
        } else if (ParseAddress(entry, &family, bytes)) {
            Address a = FromBytes(family, bytes);
            Range range{a.family, {}, a.family == AF_INET ? 32 : 128};
            std::memcpy(range.address.data(), a.bytes, 16);
            list.ranges_.push_back(range);
        } else if (lower.size() > 2 && lower[0] == '*' && lower[1] == '.') {
            const std::string base = CanonicalName(lower.substr(2));
            if (!IsHostName(base)) {
                BadEntry(entry, "\"" + entry.substr(2) + "\" is not a host name");
            }
            list.suffixes_.push_back("." + base);
        } else {
            const std::string name = CanonicalName(lower);
            if (!IsHostName(name)) {
                BadEntry(entry, "not a host name, IP address or CIDR range");
            }
            list.names_.push_back(name);
        }
        if (comma == std::string::npos) {
            break;
        }
        start = comma + 1;
    }
    return list;
}

bool HostAllowlist::MatchesName(const std::string &host) const {
    const std::string name = CanonicalName(host);
    // An IP literal ("[::1]", "127.0.0.1") or something else than a plain ASCII host name (which a resolver might
    // read differently than a comparison of text) is never matched by name: only its addresses can allow it.
    if (!IsHostName(name)) {
        return false;
    }
    for (const std::string &entry : names_) {
        if (name == entry) {
            return true;
        }
    }
    for (const std::string &suffix : suffixes_) {
        if (name.size() > suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0) {
            return true;
        }
    }
    return false;
}

bool HostAllowlist::ContainsAddress(const struct sockaddr *addr) const {
    const Address a = FromSockaddr(addr);
    for (const Range &range : ranges_) {
        if (range.family == a.family && PrefixMatches(a.bytes, range.address.data(), range.prefix)) {
            return true;
        }
    }
    return false;
}

bool HostAllowlist::Allows(const std::string &host, const struct sockaddr *addr) const {
    const Address a = FromSockaddr(addr);
    if (a.family == AF_UNSPEC) {
        return false;  // a Unix socket or another family: never a source
    }
    if (MatchesName(host)) {
        return true;
    }
    if (ContainsAddress(addr)) {
        return true;
    }
    return allow_public_ && IsPublic(a);
}

std::optional<std::string> HostAllowlist::Refusal(const std::string &host, const struct sockaddr *addr) const {
    if (Allows(host, addr)) {
        return std::nullopt;
    }
    return RefusalMessage(host, addr);
}

bool IsPubliclyRoutable(const struct sockaddr *addr) {
    return IsPublic(FromSockaddr(addr));
}

std::string AddressText(const struct sockaddr *addr) {
    if (addr != nullptr && addr->sa_family == AF_INET) {
        const auto *in = reinterpret_cast<const sockaddr_in *>(addr);
        return BytesText(AF_INET, reinterpret_cast<const uint8_t *>(&in->sin_addr));
    }
    if (addr != nullptr && addr->sa_family == AF_INET6) {
        const auto *in6 = reinterpret_cast<const sockaddr_in6 *>(addr);
        return BytesText(AF_INET6, reinterpret_cast<const uint8_t *>(&in6->sin6_addr));
    }
    return "?";
}

std::string RefusalMessage(const std::string &host, const struct sockaddr *addr) {
    return "host \"" + host + "\" (" + AddressText(addr) + ") is not allowed by " + kSetting;
}

void CheckUrlHostAllowed(const std::string &url, const HostAllowlist &allowlist) {
    // The placeholders as ValidateSourceUrl replaces them: they cannot be part of a valid host anyway.
    const std::string host = OriginOf(BlankPlaceholders(url, "0")).host;
    if (host.empty()) {
        return;  // not a URL a request is ever made to: ValidateSourceUrl refuses it
    }
    int family = AF_UNSPEC;
    uint8_t bytes[16] = {0};
    if (ParseAddress(host, &family, bytes)) {
        sockaddr_storage storage{};
        if (family == AF_INET) {
            auto *in = reinterpret_cast<sockaddr_in *>(&storage);
            in->sin_family = AF_INET;
            std::memcpy(&in->sin_addr, bytes, 4);
        } else {
            auto *in6 = reinterpret_cast<sockaddr_in6 *>(&storage);
            in6->sin6_family = AF_INET6;
            std::memcpy(&in6->sin6_addr, bytes, 16);
        }
        const auto *addr = reinterpret_cast<const sockaddr *>(&storage);
        if (!allowlist.Allows(host, addr)) {
            throw Error(RefusalMessage(host, addr) + "; to allow it, a superuser can add \"" + AddressText(addr) +
                        "\" (or a CIDR range that contains it) to " + kSetting);
        }
        return;
    }
    if (!allowlist.MatchesName(host) && !allowlist.HasAddressEntries()) {
        throw Error("host \"" + host + "\" is not allowed by " + kSetting +
                    ": no entry names it and the list has no IP address, CIDR range or public; to allow it, a "
                    "superuser can add \"" +
                    CanonicalName(host) + "\" to " + kSetting);
    }
}

}  // namespace bulk_ingest
