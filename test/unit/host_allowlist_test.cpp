// Unit tests of bulk_ingest.allowed_hosts: parsing and its errors, every special-purpose range on both sides of its
// boundaries, names and wildcards, IP and CIDR entries (edges, IPv4-mapped forms), the refusal message, and the
// registration-time check of a URL.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <cstring>
#include <string>

#include "error.h"
#include "host_allowlist.h"

using bulk_ingest::CheckUrlHostAllowed;
using bulk_ingest::Error;
using bulk_ingest::HostAllowlist;
using bulk_ingest::IsPubliclyRoutable;

namespace {

// A socket address of an IP address literal (IPv4 or IPv6, no brackets).
struct Addr {
    sockaddr_storage storage{};
    explicit Addr(const std::string &text) {
        auto *in = reinterpret_cast<sockaddr_in *>(&storage);
        auto *in6 = reinterpret_cast<sockaddr_in6 *>(&storage);
        if (inet_pton(AF_INET, text.c_str(), &in->sin_addr) == 1) {
            in->sin_family = AF_INET;
            in->sin_port = htons(80);
        } else if (inet_pton(AF_INET6, text.c_str(), &in6->sin6_addr) == 1) {
            in6->sin6_family = AF_INET6;
            in6->sin6_port = htons(80);
        } else {
            ADD_FAILURE() << "not an address: " << text;
        }
    }
    const sockaddr *get() const { return reinterpret_cast<const sockaddr *>(&storage); }
};

bool Public(const std::string &address) {
    return IsPubliclyRoutable(Addr(address).get());
}

std::string ParseError(const std::string &text) {
    try {
        HostAllowlist::Parse(text);
    } catch (const Error &e) {
        return e.what();
    }
    return "";
}

std::string UrlError(const std::string &url, const std::string &list) {
    try {
        CheckUrlHostAllowed(url, HostAllowlist::Parse(list));
    } catch (const Error &e) {
        return e.what();
    }
    return "";
}

bool Contains(const std::string &haystack, const std::string &needle) {
    return haystack.find(needle) != std::string::npos;
}

// A host name that names nothing the lists below name, so that only the address decides.
const char kSomeName[] = "data.example.org";

TEST(HostAllowlist, ParseErrorsNameTheEntryAndWhatIsAccepted) {
    for (const char *bad : {"bogus entry",
                            "http://api.example.com",
                            "api.example.com:443",
                            "*",
                            "*.",
                            "**.a.com",
                            "a.*.com",
                            "-a.example.com",
                            "a-.example.com",
                            "a..example.com",
                            ".example.com",
                            "127.1",
                            "0x7f",
                            "10.0.0.256",
                            "1.2.3.4.5",
                            "fe80::1%eth0",
                            "[127.0.0.1]",
                            "[::1",
                            "::1]",
                            "10.0.0.0/33",
                            "::/129",
                            "10.0.0.0/",
                            "/8",
                            "10.0.0.0/8/8",
                            "10.0.0.0/-1",
                            "10.0.0.0/+8",
                            "10.0.0.0/ 8",
                            "host.example/8",
                            "bücher.example",
                            "a_b%2e.com",
                            "10.0.0.0/0008"}) {
        std::string message = ParseError(bad);
        EXPECT_TRUE(Contains(message, std::string("bulk_ingest.allowed_hosts: invalid entry \"") + bad + "\""))
            << bad << ": " << message;
        EXPECT_TRUE(Contains(message,
                             "expected a comma-separated list of host names (api.example.com), wildcard "
                             "names (*.example.com), IP addresses (192.0.2.10, ::1, [::1]), CIDR ranges "
                             "(10.0.0.0/8, fd00::/8) and the word public"))
            << bad << ": " << message;
    }
    // The bad entry is named among good ones, trimmed.
    EXPECT_TRUE(Contains(ParseError("public, api.example.com ,  not valid! , 10.0.0.0/8"),
                         "invalid entry \"not valid!\": not a host name, IP address or CIDR range"));
    EXPECT_TRUE(Contains(ParseError("10.0.0.0/33"), "the prefix length must be a number from 0 to 32"));
    EXPECT_TRUE(Contains(ParseError("fd00::/129"), "the prefix length must be a number from 0 to 128"));
    EXPECT_TRUE(Contains(ParseError("[nope]/8"), "\"[nope]\" is not an IP address"));
    // Host bits right of the prefix: most likely a typo, so the message says which range it would be.
    EXPECT_TRUE(Contains(ParseError("10.1.2.3/8"),
                         "invalid entry \"10.1.2.3/8\": it has bits set to the right of the prefix length (the range "
                         "is 10.0.0.0/8)"))
        << ParseError("10.1.2.3/8");
    EXPECT_TRUE(Contains(ParseError("fd00::1/8"), "(the range is fd00::/8)")) << ParseError("fd00::1/8");
    EXPECT_TRUE(Contains(ParseError("172.17.0.0/12"), "(the range is 172.16.0.0/12)"));
    // Empty entries are errors (a list that is empty as a whole is not: it allows nothing).
    EXPECT_TRUE(Contains(ParseError("public,,127.0.0.1"), "bulk_ingest.allowed_hosts: entry 2 is empty"));
    EXPECT_TRUE(Contains(ParseError("public,"), "entry 2 is empty"));
    EXPECT_TRUE(Contains(ParseError(" , public"), "entry 1 is empty"));
}

TEST(HostAllowlist, ParsesEveryKindOfEntry) {
    for (const char *good : {"public",
                             "PUBLIC",
                             " Public ",
                             "api.example.com",
                             "API.Example.COM.",
                             "*.example.com",
                             "*.EXAMPLE.com",
                             "localhost",
                             "my_host.internal",
                             "127.0.0.1",
                             "::1",
                             "[::1]",
                             "[fd00::]/8",
                             "127.0.0.0/8",
                             "0.0.0.0/0",
                             "::/0",
                             "fd00::/8",
                             "10.0.0.0/08",
                             "::ffff:127.0.0.1",
                             "1.2.3.4/32",
                             "2001:db8::/32",
                             "xn--bcher-kva.example",
                             " public ,\tapi.example.com , 10.0.0.0/8 ,\n[::1] "}) {
        EXPECT_EQ(ParseError(good), "") << good;
    }
}

TEST(HostAllowlist, AnEmptyListAllowsNothing) {
    for (const char *text : {"", "   ", " \t\n"}) {
        HostAllowlist list = HostAllowlist::Parse(text);
        EXPECT_TRUE(list.Empty());
        EXPECT_FALSE(list.HasAddressEntries());
        EXPECT_FALSE(list.Allows("dns.google", Addr("8.8.8.8").get()));
        EXPECT_FALSE(list.Allows("localhost", Addr("127.0.0.1").get()));
        EXPECT_FALSE(list.Allows("[::1]", Addr("::1").get()));
    }
    EXPECT_FALSE(HostAllowlist::Parse("public").Empty());
    EXPECT_FALSE(HostAllowlist::Parse("a.example").Empty());
    EXPECT_FALSE(HostAllowlist::Parse("::1").Empty());
}

// Each special-purpose block on both sides of both boundaries; the neighbours of a block are public unless they
// belong to another block.
TEST(HostAllowlist, IPv4SpecialRangesAreNotPublic) {
    struct Case {
        const char *address;
        bool is_public;
    };
    const Case cases[] = {
        // "this network" 0.0.0.0/8 (0.0.0.0 is the unspecified address)
        {"0.0.0.0", false},
        {"0.0.0.1", false},
        {"0.255.255.255", false},
        {"1.0.0.0", true},
        // private 10.0.0.0/8
        {"9.255.255.255", true},
        {"10.0.0.0", false},
        {"10.255.255.255", false},
        {"11.0.0.0", true},
        // shared 100.64.0.0/10
        {"100.63.255.255", true},
        {"100.64.0.0", false},
        {"100.127.255.255", false},
        {"100.128.0.0", true},
        // loopback 127.0.0.0/8
        {"126.255.255.255", true},
        {"127.0.0.0", false},
        {"127.0.0.1", false},
        {"127.0.0.2", false},
        {"127.255.255.255", false},
        {"128.0.0.0", true},
        // link-local 169.254.0.0/16 (the cloud metadata endpoint)
        {"169.253.255.255", true},
        {"169.254.0.0", false},
        {"169.254.169.254", false},
        {"169.254.255.255", false},
        {"169.255.0.0", true},
        // private 172.16.0.0/12
        {"172.15.255.255", true},
        {"172.16.0.0", false},
        {"172.31.255.255", false},
        {"172.32.0.0", true},
        // IETF protocol assignments 192.0.0.0/24, documentation 192.0.2.0/24
        {"191.255.255.255", true},
        {"192.0.0.0", false},
        {"192.0.0.255", false},
        {"192.0.1.0", true},
        {"192.0.1.255", true},
        {"192.0.2.0", false},
        {"192.0.2.255", false},
        {"192.0.3.0", true},
        // deprecated 6to4 relay anycast 192.88.99.0/24
        {"192.88.98.255", true},
        {"192.88.99.0", false},
        {"192.88.99.255", false},
        {"192.88.100.0", true},
        // private 192.168.0.0/16
        {"192.167.255.255", true},
        {"192.168.0.0", false},
        {"192.168.255.255", false},
        {"192.169.0.0", true},
        // benchmarking 198.18.0.0/15
        {"198.17.255.255", true},
        {"198.18.0.0", false},
        {"198.19.255.255", false},
        {"198.20.0.0", true},
        // documentation 198.51.100.0/24, 203.0.113.0/24
        {"198.51.99.255", true},
        {"198.51.100.0", false},
        {"198.51.100.255", false},
        {"198.51.101.0", true},
        {"203.0.112.255", true},
        {"203.0.113.0", false},
        {"203.0.113.255", false},
        {"203.0.114.0", true},
        // multicast 224.0.0.0/4, reserved 240.0.0.0/4, broadcast
        {"223.255.255.255", true},
        {"224.0.0.0", false},
        {"239.255.255.255", false},
        {"240.0.0.0", false},
        {"255.255.255.254", false},
        {"255.255.255.255", false},
        // ordinary public addresses
        {"8.8.8.8", true},
        {"1.1.1.1", true},
        {"93.184.216.34", true},
        {"192.31.196.1", true},
    };
    for (const Case &c : cases) {
        EXPECT_EQ(Public(c.address), c.is_public) << c.address;
    }
}

TEST(HostAllowlist, IPv6SpecialRangesAreNotPublic) {
    struct Case {
        const char *address;
        bool is_public;
    };
    const Case cases[] = {
        {"::", false},
        {"::1", false},
        // outside global unicast 2000::/3: unique-local fc00::/7, link-local fe80::/10, site-local fec0::/10,
        // multicast ff00::/8, discard 100::/64, and the rest
        {"fc00::", false},
        {"fd00::1", false},
        {"fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", false},
        {"fe80::", false},
        {"fe80::1", false},
        {"febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff", false},
        {"fec0::1", false},
        {"feff::1", false},
        {"ff00::", false},
        {"ff02::1", false},
        {"ff0e::1", false},
        {"100::", false},
        {"100::ffff:ffff:ffff:ffff", false},
        {"64:ff9b:1::1", false},
        // the edges of 2000::/3
        {"1fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", false},
        {"2000::", true},
        {"3fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", true},
        {"4000::", false},
        // IETF protocol assignments 2001::/23 (Teredo 2001::/32, benchmarking 2001:2::/48, ORCHID)
        {"2000:ffff:ffff:ffff:ffff:ffff:ffff:ffff", true},
        {"2001::", false},
        {"2001::1", false},
        {"2001:2::1", false},
        {"2001:1ff:ffff:ffff:ffff:ffff:ffff:ffff", false},
        {"2001:200::", true},
        // documentation 2001:db8::/32
        {"2001:db7:ffff:ffff:ffff:ffff:ffff:ffff", true},
        {"2001:db8::", false},
        {"2001:db8::1", false},
        {"2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", false},
        {"2001:db9::", true},
        // documentation 3fff::/20
        {"3ffe:ffff:ffff:ffff:ffff:ffff:ffff:ffff", true},
        {"3fff::", false},
        {"3fff:fff:ffff:ffff:ffff:ffff:ffff:ffff", false},
        {"3fff:1000::", true},
        // ordinary public addresses
        {"2606:4700:4700::1111", true},
        {"2a00:1450:4001:80b::200e", true},
        {"2001:4860:4860::8888", true},
    };
    for (const Case &c : cases) {
        EXPECT_EQ(Public(c.address), c.is_public) << c.address;
    }
}

TEST(HostAllowlist, AddressesThatEmbedIPv4AreJudgedByIt) {
    struct Case {
        const char *address;
        bool is_public;
    };
    const Case cases[] = {
        // IPv4-mapped
        {"::ffff:127.0.0.1", false},
        {"::ffff:10.0.0.1", false},
        {"::ffff:169.254.169.254", false},
        {"::ffff:0.0.0.0", false},
        {"::ffff:8.8.8.8", true},
        {"::ffff:172.32.0.0", true},
        // IPv4-compatible (deprecated)
        {"::127.0.0.1", false},
        {"::0.0.0.2", false},
        {"::10.0.0.1", false},
        {"::8.8.8.8", true},
        // NAT64 64:ff9b::/96
        {"64:ff9b::127.0.0.1", false},
        {"64:ff9b::10.0.0.1", false},
        {"64:ff9b::a9fe:a9fe", false},
        {"64:ff9b::8.8.8.8", true},
        // 6to4 2002::/16: 2002:AABB:CCDD::/48 embeds A.B.C.D
        {"2002:7f00:1::1", false},
        {"2002:a9fe:a9fe::", false},
        {"2002:c0a8:101::1", false},
        {"2002:808:808::1", true},
        {"2001:ffff:ffff:ffff:ffff:ffff:ffff:ffff", true},
        {"2003::", true},
    };
    for (const Case &c : cases) {
        EXPECT_EQ(Public(c.address), c.is_public) << c.address;
    }
}

TEST(HostAllowlist, PublicAllowsPublicAddressesOnly) {
    HostAllowlist list = HostAllowlist::Parse("PUBLIC");
    EXPECT_TRUE(list.HasAddressEntries());
    EXPECT_TRUE(list.Allows(kSomeName, Addr("8.8.8.8").get()));
    EXPECT_TRUE(list.Allows(kSomeName, Addr("2606:4700:4700::1111").get()));
    EXPECT_FALSE(list.Allows(kSomeName, Addr("127.0.0.1").get()));
    EXPECT_FALSE(list.Allows("localhost", Addr("127.0.0.1").get()));
    EXPECT_FALSE(list.Allows(kSomeName, Addr("::1").get()));
    EXPECT_FALSE(list.Allows(kSomeName, Addr("::ffff:127.0.0.1").get()));
    EXPECT_FALSE(list.Allows(kSomeName, Addr("169.254.169.254").get()));
    EXPECT_FALSE(list.Allows(kSomeName, Addr("fd00::1").get()));
}

TEST(HostAllowlist, ExactNamesMatchWhateverTheyResolveTo) {
    HostAllowlist list = HostAllowlist::Parse("api.example.com, localhost");
    EXPECT_FALSE(list.HasAddressEntries());
    // The DBA trusts the name, including to a private address.
    for (const char *host : {"api.example.com", "API.Example.COM", "api.example.com."}) {
        EXPECT_TRUE(list.MatchesName(host)) << host;
        EXPECT_TRUE(list.Allows(host, Addr("10.1.2.3").get())) << host;
        EXPECT_TRUE(list.Allows(host, Addr("8.8.8.8").get())) << host;
    }
    EXPECT_TRUE(list.Allows("localhost", Addr("127.0.0.1").get()));
    EXPECT_TRUE(list.Allows("localhost", Addr("::1").get()));
    for (const char *host : {"x.api.example.com", "api.example.co", "api.example.com.evil", "pi.example.com",
                             "api-example.com", "localhost.example", "api.example.com..", "[::1]", "127.0.0.1"}) {
        EXPECT_FALSE(list.MatchesName(host)) << host;
        EXPECT_FALSE(list.Allows(host, Addr("8.8.8.8").get())) << host;
    }
}

TEST(HostAllowlist, WildcardsMatchSubdomainsOnly) {
    HostAllowlist list = HostAllowlist::Parse("*.example.com");
    for (const char *host :
         {"a.example.com", "A.EXAMPLE.COM", "a.b.example.com", "a.example.com.", "x-1.example.com"}) {
        EXPECT_TRUE(list.MatchesName(host)) << host;
        EXPECT_TRUE(list.Allows(host, Addr("127.0.0.1").get())) << host;
    }
    for (const char *host :
         {"example.com", "example.com.", "badexample.com", "example.com.evil.org", "a.example.com.evil.org",
          "a.example.org", ".example.com", "b\xc3\xbc.example.com", "a%2eexample.com", "a example.com"}) {
        EXPECT_FALSE(list.MatchesName(host)) << host;
        EXPECT_FALSE(list.Allows(host, Addr("8.8.8.8").get())) << host;
    }
}

TEST(HostAllowlist, IPEntriesMatchTheAddressWhateverTheName) {
    HostAllowlist list = HostAllowlist::Parse("127.0.0.2, [::1]");
    EXPECT_TRUE(list.HasAddressEntries());
    EXPECT_TRUE(list.Allows(kSomeName, Addr("127.0.0.2").get()));
    EXPECT_TRUE(list.Allows("127.0.0.2", Addr("127.0.0.2").get()));
    EXPECT_TRUE(list.Allows(kSomeName, Addr("::1").get()));
    // The IPv4-mapped form of a listed IPv4 address is that address.
    EXPECT_TRUE(list.Allows(kSomeName, Addr("::ffff:127.0.0.2").get()));
    EXPECT_FALSE(list.Allows(kSomeName, Addr("127.0.0.1").get()));
    EXPECT_FALSE(list.Allows(kSomeName, Addr("127.0.0.3").get()));
    EXPECT_FALSE(list.Allows(kSomeName, Addr("::ffff:127.0.0.1").get()));
    EXPECT_FALSE(list.Allows(kSomeName, Addr("::2").get()));
    EXPECT_FALSE(list.Allows(kSomeName, Addr("8.8.8.8").get()));  // no "public"
    // The mapped spelling of an entry is its IPv4 address, too.
    HostAllowlist mapped = HostAllowlist::Parse("::ffff:127.0.0.2");
    EXPECT_TRUE(mapped.Allows(kSomeName, Addr("127.0.0.2").get()));
    EXPECT_TRUE(mapped.Allows(kSomeName, Addr("::ffff:127.0.0.2").get()));
    EXPECT_FALSE(mapped.Allows(kSomeName, Addr("127.0.0.3").get()));
    // IPv4-compatible and NAT64 forms are other addresses: only "public" judges them by their IPv4 address.
    EXPECT_FALSE(list.Allows(kSomeName, Addr("::127.0.0.2").get()));
    EXPECT_FALSE(list.Allows(kSomeName, Addr("64:ff9b::127.0.0.2").get()));
}

TEST(HostAllowlist, CidrEdges) {
    struct Case {
        const char *list;
        const char *address;
        bool allowed;
    };
    const Case cases[] = {
        {"10.0.0.0/8", "9.255.255.255", false},
        {"10.0.0.0/8", "10.0.0.0", true},
        {"10.0.0.0/8", "10.255.255.255", true},
        {"10.0.0.0/8", "11.0.0.0", false},
        {"10.0.0.0/8", "::ffff:10.1.2.3", true},
        {"172.16.0.0/12", "172.15.255.255", false},
        {"172.16.0.0/12", "172.16.0.0", true},
        {"172.16.0.0/12", "172.31.255.255", true},
        {"172.16.0.0/12", "172.32.0.0", false},
        {"127.0.0.2/31", "127.0.0.1", false},
        {"127.0.0.2/31", "127.0.0.2", true},
        {"127.0.0.2/31", "127.0.0.3", true},
        {"127.0.0.2/31", "127.0.0.4", false},
        {"127.0.0.2/32", "127.0.0.2", true},
        {"127.0.0.2/32", "127.0.0.3", false},
        {"128.0.0.0/1", "127.255.255.255", false},
        {"128.0.0.0/1", "128.0.0.0", true},
        {"128.0.0.0/1", "255.255.255.255", true},
        {"0.0.0.0/0", "127.0.0.1", true},
        {"0.0.0.0/0", "::ffff:127.0.0.1", true},
        {"0.0.0.0/0", "::1", false},
        {"fd00::/8", "fcff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", false},
        {"fd00::/8", "fd00::", true},
        {"fd00::/8", "fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", true},
        {"fd00::/8", "fe00::", false},
        {"[fd00::]/8", "fd12::1", true},
        {"2001:db8::/127", "2001:db8::1", true},
        {"2001:db8::/127", "2001:db8::2", false},
        {"2001:db8:0:0:8000::/65", "2001:db8::8000:0:0:0", true},
        {"2001:db8:0:0:8000::/65", "2001:db8::7fff:ffff:ffff:ffff", false},
        {"::1/128", "::1", true},
        {"::1/128", "::", false},
        // ::/0 is every IPv6 address but not an IPv4 one, nor an IPv4-mapped one (which is its IPv4 address).
        {"::/0", "fd00::1", true},
        {"::/0", "127.0.0.1", false},
        {"::/0", "::ffff:127.0.0.1", false},
        {"::ffff:10.0.0.0/104", "10.255.255.255", true},
        {"::ffff:10.0.0.0/104", "11.0.0.0", false},
    };
    for (const Case &c : cases) {
        EXPECT_EQ(HostAllowlist::Parse(c.list).Allows(kSomeName, Addr(c.address).get()), c.allowed)
            << c.list << " " << c.address;
    }
}

TEST(HostAllowlist, OtherAddressFamiliesAreRefused) {
    sockaddr_un un{};
    un.sun_family = AF_UNIX;
    std::strcpy(un.sun_path, "/var/run/postgresql/.s.PGSQL.5432");
    const auto *addr = reinterpret_cast<const sockaddr *>(&un);
    EXPECT_FALSE(HostAllowlist::Parse("public, 0.0.0.0/0, ::/0, localhost").Allows("localhost", addr));
    EXPECT_FALSE(IsPubliclyRoutable(addr));
}

TEST(HostAllowlist, TheRefusalMessage) {
    HostAllowlist list = HostAllowlist::Parse("public");
    EXPECT_EQ(list.Refusal("x", Addr("127.0.0.2").get()).value_or(""),
              "host \"x\" (127.0.0.2) is not allowed by bulk_ingest.allowed_hosts");
    EXPECT_EQ(list.Refusal("localhost", Addr("::1").get()).value_or(""),
              "host \"localhost\" (::1) is not allowed by bulk_ingest.allowed_hosts");
    EXPECT_EQ(list.Refusal("[::ffff:127.0.0.1]", Addr("::ffff:127.0.0.1").get()).value_or(""),
              "host \"[::ffff:127.0.0.1]\" (::ffff:127.0.0.1) is not allowed by bulk_ingest.allowed_hosts");
    EXPECT_FALSE(list.Refusal("dns.google", Addr("8.8.8.8").get()).has_value());
    EXPECT_EQ(bulk_ingest::RefusalMessage("API.example.com", Addr("10.0.0.1").get()),
              "host \"API.example.com\" (10.0.0.1) is not allowed by bulk_ingest.allowed_hosts");
}

TEST(CheckUrlHostAllowed, RefusesAnAddressLiteralTheListRefuses) {
    EXPECT_EQ(UrlError("http://127.0.0.2:8080/x?since={high_watermark}", "public"),
              "host \"127.0.0.2\" (127.0.0.2) is not allowed by bulk_ingest.allowed_hosts; to allow it, a superuser "
              "can add \"127.0.0.2\" (or a CIDR range that contains it) to bulk_ingest.allowed_hosts");
    EXPECT_EQ(UrlError("http://[::1]:8080/x", "public"),
              "host \"[::1]\" (::1) is not allowed by bulk_ingest.allowed_hosts; to allow it, a superuser can add "
              "\"::1\" (or a CIDR range that contains it) to bulk_ingest.allowed_hosts");
    // libcurl's readings of an address are the ones checked: 2130706433 and 0x7f.1 are 127.0.0.1.
    EXPECT_TRUE(Contains(UrlError("http://2130706433/", "public"), "host \"127.0.0.1\" (127.0.0.1) is not allowed"));
    EXPECT_TRUE(Contains(UrlError("http://0x7f.1/", "public"), "(127.0.0.1) is not allowed"));
    EXPECT_TRUE(Contains(UrlError("http://[::ffff:127.0.0.1]/", "public"), "(::ffff:127.0.0.1) is not allowed"));
    EXPECT_TRUE(Contains(UrlError("http://169.254.169.254/latest/meta-data/", "public, *.example.com"),
                         "(169.254.169.254) is not allowed"));
    EXPECT_TRUE(Contains(UrlError("http://127.0.0.2/", ""), "(127.0.0.2) is not allowed"));
    EXPECT_TRUE(Contains(UrlError("http://8.8.8.8/", "api.example.com"), "(8.8.8.8) is not allowed"));
    // Allowed ones pass.
    EXPECT_EQ(UrlError("http://127.0.0.2:8080/x", "127.0.0.0/8"), "");
    EXPECT_EQ(UrlError("http://[::1]:8080/x", "::1"), "");
    EXPECT_EQ(UrlError("https://8.8.8.8/x", "public"), "");
}

TEST(CheckUrlHostAllowed, RefusesANameOnlyWhenNoEntryCouldAllowIt) {
    // A matching name entry: allowed.
    EXPECT_EQ(UrlError("https://API.example.com/v1", "api.example.com"), "");
    EXPECT_EQ(UrlError("https://eu.api.example.com/v1", "*.example.com"), "");
    // Any address entry: the connection decides, by what the name resolves to.
    EXPECT_EQ(UrlError("https://data.example.org/v1", "public"), "");
    EXPECT_EQ(UrlError("http://localhost:8080/v1", "127.0.0.0/8"), "");
    EXPECT_EQ(UrlError("http://localhost:8080/v1", "public"), "");
    // No entry could ever allow it.
    EXPECT_EQ(UrlError("https://data.example.org/v1", "api.example.com, *.example.com"),
              "host \"data.example.org\" is not allowed by bulk_ingest.allowed_hosts: no entry names it and the list "
              "has no IP address, CIDR range or public; to allow it, a superuser can add \"data.example.org\" to "
              "bulk_ingest.allowed_hosts");
    EXPECT_TRUE(Contains(UrlError("https://Data.Example.org./v1", ""), "host \"Data.Example.org.\" is not allowed"));
    // An invalid URL is an error of its own (ValidateSourceUrl says more); one without a host has nothing to check.
    EXPECT_NE(UrlError("http://[::1/", "public"), "");
    EXPECT_EQ(UrlError("file:///etc/passwd", ""), "");
}

}  // namespace
