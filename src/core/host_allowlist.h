// Which servers a source may make the database server connect to: the setting bulk_ingest.allowed_hosts.
//
// Without it, any role that may register a source could make the server fetch any address: its own port, other
// services of the machine or of the private network, a cloud metadata endpoint (server-side request forgery). So
// every connection HttpStream opens is checked, after name resolution and before a packet is sent, against this
// list; so is every redirect hop, for its own host.
//
// The setting is a comma-separated list (blanks around entries ignored, host names compared ignoring case) of
//   api.example.com     a host name: a request to this name may connect wherever the name resolves (the DBA trusts
//                       the name, including to a private address)
//   *.example.com       any name ending in .example.com (not example.com itself)
//   192.0.2.10, ::1     an IP address ([::1] accepted too)
//   10.0.0.0/8          a CIDR range (IPv4 or IPv6)
//   public              any publicly routable address (see IsPubliclyRoutable)
// An empty list allows nothing; the project's default is "public".
#pragma once

#include <sys/socket.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace bulk_ingest {

class HostAllowlist {
  public:
    // Parses the text of the setting. Throws bulk_ingest::Error naming the first bad entry and what is accepted.
    static HostAllowlist Parse(const std::string &text);

    // Whether a request whose URL host is host (as in the URL: a name, a dotted IPv4 address or a bracketed IPv6
    // one) may connect to addr (AF_INET or AF_INET6; any other family is refused). Allowed when a host-name entry
    // matches host, an IP/CIDR entry contains addr, or "public" is listed and addr is publicly routable.
    bool Allows(const std::string &host, const struct sockaddr *addr) const;

    // nullopt when Allows(host, addr), else the message that refuses it (RefusalMessage).
    std::optional<std::string> Refusal(const std::string &host, const struct sockaddr *addr) const;

    // Whether a host-name entry (exact or wildcard) matches host; never for an IP address literal.
    bool MatchesName(const std::string &host) const;

    // Whether some IP/CIDR entry or "public" is listed: whether a host name no entry names can ever be allowed
    // (depending on what it resolves to).
    bool HasAddressEntries() const { return allow_public_ || !ranges_.empty(); }

    bool Empty() const { return !HasAddressEntries() && names_.empty() && suffixes_.empty(); }

  private:
    struct Range {
        int family;                       // AF_INET or AF_INET6
        std::array<uint8_t, 16> address;  // the first 4 bytes for AF_INET
        int prefix;                       // bits
    };
    bool ContainsAddress(const struct sockaddr *addr) const;

    std::vector<std::string> names_;     // lower case, without a trailing dot
    std::vector<std::string> suffixes_;  // ".example.com" of "*.example.com"
    std::vector<Range> ranges_;
    bool allow_public_ = false;
};

// Whether addr is a publicly routable unicast address: not loopback, private, shared (CGNAT), link-local,
// unique-local, site-local, unspecified, multicast, broadcast, reserved, documentation or benchmarking, nor another
// IANA special-purpose block that is not globally reachable. IPv6 is public only inside 2000::/3 (global unicast)
// outside those blocks. IPv4-mapped (::ffff:a.b.c.d), IPv4-compatible (::a.b.c.d), NAT64 (64:ff9b::/96) and 6to4
// (2002::/16) addresses are judged by the IPv4 address they embed. False for a family other than AF_INET/AF_INET6.
bool IsPubliclyRoutable(const struct sockaddr *addr);

// The address as text (inet_ntop): "127.0.0.2", "::1", "::ffff:127.0.0.1"; "?" for another family.
std::string AddressText(const struct sockaddr *addr);

// host "x" (127.0.0.2) is not allowed by bulk_ingest.allowed_hosts
std::string RefusalMessage(const std::string &host, const struct sockaddr *addr);

// The check at registration time of a source URL (url as ValidateSourceUrl takes it: {high_watermark} placeholders
// allowed). Throws bulk_ingest::Error
//  - when the host is an IP address literal that the list refuses: the refusal message, with how to allow it;
//  - when the host is a name that no entry could ever allow: no host-name entry matches it and the list has no
//    IP/CIDR entry and no "public".
// A name that may be allowed depending on what it resolves to passes: the connection is checked at run time.
// Throws the error of OriginOf for an invalid URL; does nothing for a URL without a host (ValidateSourceUrl refuses
// both).
void CheckUrlHostAllowed(const std::string &url, const HostAllowlist &allowlist);

}  // namespace bulk_ingest
