// Unit tests of source URLs: validation, the {high_watermark} template and Link-header pagination.
#include <gtest/gtest.h>

#include <string>

#include "error.h"
#include "url.h"

using bulk_ingest::Error;
using bulk_ingest::ExpandUrlTemplate;
using bulk_ingest::FindNextLink;
using bulk_ingest::ValidateSourceUrl;

namespace {

std::string ValidationError(const std::string &url) {
    try {
        ValidateSourceUrl(url);
    } catch (const Error &e) {
        return e.what();
    }
    return "";
}

TEST(ValidateSourceUrl, AcceptsHttpAndHttpsWithAHost) {
    EXPECT_NO_THROW(ValidateSourceUrl("http://127.0.0.1:8080/orders?since={high_watermark}"));
    EXPECT_NO_THROW(ValidateSourceUrl("https://api.example.com/v1/orders"));
    EXPECT_NO_THROW(ValidateSourceUrl("HTTPS://API.example.com"));
    EXPECT_NO_THROW(ValidateSourceUrl("http://[::1]:8080/x"));
    EXPECT_NO_THROW(ValidateSourceUrl("http://user:secret@example.com/x"));
    EXPECT_NO_THROW(ValidateSourceUrl("http://example.com/{high_watermark}/{high_watermark}"));
}

TEST(ValidateSourceUrl, RefusesOtherSchemesNamingTheUrl) {
    EXPECT_EQ(ValidationError("file:///etc/passwd"),
              "URL \"file:///etc/passwd\" is not allowed: only http:// and https:// URLs can be sources");
    for (const char *url : {"ftp://example.com/data.json", "gopher://example.com/x", "FILE:///etc/passwd",
                            "dict://127.0.0.1:11211/stat", "ldap://example.com/", "scp://example.com/x"}) {
        std::string message = ValidationError(url);
        EXPECT_NE(message.find(std::string("\"") + url + "\""), std::string::npos) << message;
        EXPECT_NE(message.find("only http:// and https://"), std::string::npos) << message;
    }
}

TEST(ValidateSourceUrl, RefusesUrlsThatAreNotAbsoluteOrHaveNoHost) {
    for (const char *url : {"", "example.com/orders", "/orders", "http://", "http:///orders",
                            "https:", "http://exa mple.com/", "http://example.com:99999/", "{high_watermark}"}) {
        std::string message = ValidationError(url);
        EXPECT_FALSE(message.empty()) << "accepted: " << url;
        EXPECT_NE(message.find(std::string("URL \"") + url + "\" is not allowed"), std::string::npos) << message;
    }
    EXPECT_NE(ValidationError("http:///orders").find("no host"), std::string::npos);
}

TEST(ExpandUrlTemplate, PercentEncodesTheValueKeepingUnreservedCharacters) {
    EXPECT_EQ(ExpandUrlTemplate("http://h/o?since={high_watermark}", "2024-01-02T03:04:05.678+00:00"),
              "http://h/o?since=2024-01-02T03%3A04%3A05.678%2B00%3A00");
    EXPECT_EQ(ExpandUrlTemplate("http://h/?v={high_watermark}", "AZaz09-._~"), "http://h/?v=AZaz09-._~");
    EXPECT_EQ(ExpandUrlTemplate("http://h/?v={high_watermark}", "a b&c=d/e?f#g%h"),
              "http://h/?v=a%20b%26c%3Dd%2Fe%3Ff%23g%25h");
    // Non-ASCII: every UTF-8 byte is encoded, upper-case hex.
    EXPECT_EQ(ExpandUrlTemplate("http://h/?v={high_watermark}", "\xC3\xA9\xE2\x82\xAC"), "http://h/?v=%C3%A9%E2%82%AC");
}

TEST(ExpandUrlTemplate, EmptyValueEveryOccurrenceAndNoPlaceholder) {
    EXPECT_EQ(ExpandUrlTemplate("http://h/o?since={high_watermark}", ""), "http://h/o?since=");
    EXPECT_EQ(ExpandUrlTemplate("http://h/{high_watermark}?a={high_watermark}&b={high_watermark}", "7"),
              "http://h/7?a=7&b=7");
    EXPECT_EQ(ExpandUrlTemplate("http://h/o?x={other}", "7"), "http://h/o?x={other}");
    // The value is not expanded again, even when it spells the placeholder.
    EXPECT_EQ(ExpandUrlTemplate("http://h/?v={high_watermark}", "{high_watermark}"),
              "http://h/?v=%7Bhigh_watermark%7D");
    EXPECT_EQ(ExpandUrlTemplate("http://h/?v={high_watermark", "7"), "http://h/?v={high_watermark");
}

TEST(FindNextLink, SimpleAbsoluteAndRelativeTargets) {
    EXPECT_EQ(FindNextLink("<http://h/o?page=2>; rel=\"next\"", "http://h/o").value(), "http://h/o?page=2");
    EXPECT_EQ(FindNextLink("<?page=3>; rel=next", "http://h/api/orders?page=2").value(), "http://h/api/orders?page=3");
    EXPECT_EQ(FindNextLink("<page3>; rel=next", "http://h/api/orders?page=2").value(), "http://h/api/page3");
    EXPECT_EQ(FindNextLink("</v2/orders?cursor=abc>; rel=next", "https://h:8443/v1/orders").value(),
              "https://h:8443/v2/orders?cursor=abc");
    EXPECT_EQ(FindNextLink("<../up?x=1>; rel=next", "http://h/a/b/c").value(), "http://h/a/up?x=1");
    EXPECT_EQ(FindNextLink("<//other.example/p>; rel=next", "https://h/a").value(), "https://other.example/p");
    EXPECT_EQ(FindNextLink("<https://other.example/p?a=1>; rel=next", "http://h/a").value(),
              "https://other.example/p?a=1");
}

TEST(FindNextLink, SeveralLinksParametersAndQuoting) {
    // GitHub-style: several links in one value, next not first.
    const std::string github =
        "<https://api.github.com/repos/o/r/issues?page=1>; rel=\"prev\", "
        "<https://api.github.com/repos/o/r/issues?page=3>; rel=\"next\", "
        "<https://api.github.com/repos/o/r/issues?page=9>; rel=\"last\"";
    EXPECT_EQ(FindNextLink(github, "https://api.github.com/repos/o/r/issues?page=2").value(),
              "https://api.github.com/repos/o/r/issues?page=3");
    // Several relation types in one rel, any case, odd spacing.
    EXPECT_EQ(FindNextLink("<http://h/2>;rel=\"prefetch  NEXT\"", "http://h/1").value(), "http://h/2");
    EXPECT_EQ(FindNextLink("<http://h/2> ;\tREL = Next", "http://h/1").value(), "http://h/2");
    // Other parameters before rel, with commas and semicolons inside quoted strings.
    EXPECT_EQ(FindNextLink("<http://h/x>; title=\"a, b; rel=next\"; rel=prev, <http://h/2>; title=\"c,d\"; "
                           "type=\"application/json\"; rel=\"next\"",
                           "http://h/1")
                  .value(),
              "http://h/2");
    // Commas inside the target do not split links.
    EXPECT_EQ(FindNextLink("<http://h/o?ids=1,2,3&page=2>; rel=next", "http://h/o").value(),
              "http://h/o?ids=1,2,3&page=2");
    // Values of several Link headers joined with ", " (as HttpStream::Header returns them).
    EXPECT_EQ(FindNextLink("<http://h/first>; rel=first, <http://h/n>; rel=next", "http://h/1").value(), "http://h/n");
    // An escaped quote inside a quoted parameter.
    EXPECT_EQ(FindNextLink("<http://h/x>; title=\"say \\\"hi\\\", ok\"; rel=next", "http://h/1").value(), "http://h/x");
}

TEST(FindNextLink, NoNextLink) {
    EXPECT_FALSE(FindNextLink("", "http://h/1").has_value());
    EXPECT_FALSE(FindNextLink("   ,  , ", "http://h/1").has_value());
    EXPECT_FALSE(FindNextLink("<http://h/0>; rel=prev, <http://h/9>; rel=\"last\"", "http://h/1").has_value());
    EXPECT_FALSE(FindNextLink("<http://h/2>; rel=\"nextpage\"", "http://h/1").has_value());
    EXPECT_FALSE(FindNextLink("<http://h/2>; title=next", "http://h/1").has_value());
    EXPECT_FALSE(FindNextLink("<http://h/2>; rel", "http://h/1").has_value());
    // Only the first rel parameter counts (RFC 8288, section 3.3).
    EXPECT_FALSE(FindNextLink("<http://h/2>; rel=prev; rel=next", "http://h/1").has_value());
    // Garbage and an unterminated target do not crash the parser.
    EXPECT_FALSE(FindNextLink("garbage; rel=next", "http://h/1").has_value());
    EXPECT_FALSE(FindNextLink("<http://h/2; rel=next", "http://h/1").has_value());
}

TEST(FindNextLink, GarbageBeforeAValidLinkIsSkipped) {
    EXPECT_EQ(FindNextLink("junk \"quoted, text\", <http://h/2>; rel=next", "http://h/1").value(), "http://h/2");
}

TEST(FindNextLink, RefusesANextLinkThatIsNotHttp) {
    try {
        FindNextLink("<file:///etc/passwd>; rel=next", "http://h/1");
        FAIL() << "a file:// next link was accepted";
    } catch (const Error &e) {
        std::string message = e.what();
        EXPECT_NE(message.find("file:///etc/passwd"), std::string::npos) << message;
        EXPECT_NE(message.find("http://h/1"), std::string::npos) << message;
        EXPECT_NE(message.find("only http:// and https://"), std::string::npos) << message;
    }
    EXPECT_THROW(FindNextLink("<gopher://h/x>; rel=next", "http://h/1"), Error);
}

}  // namespace

namespace {

TEST(ResolveNextPageUrl, ResolvesAndRefusesOtherProtocols) {
    using bulk_ingest::ResolveNextPageUrl;
    EXPECT_EQ(ResolveNextPageUrl("?page=2", "http://h/api/items?page=1"), "http://h/api/items?page=2");
    EXPECT_EQ(ResolveNextPageUrl(" /v2/items ", "https://h:8443/v1/items#top"), "https://h:8443/v2/items");
    EXPECT_EQ(ResolveNextPageUrl("https://other/x", "http://h/"), "https://other/x");
    EXPECT_EQ(ResolveNextPageUrl("", "http://h/a?b=1#frag"), "http://h/a?b=1");
    for (const char *target : {"file:///etc/passwd", "ftp://h/x"}) {
        try {
            ResolveNextPageUrl(target, "http://h/");
            FAIL() << "resolved " << target;
        } catch (const Error &e) {
            EXPECT_NE(std::string(e.what()).find("only http:// and https://"), std::string::npos) << e.what();
        }
    }
}

TEST(PercentEncode, KeepsOnlyUnreservedCharacters) {
    EXPECT_EQ(bulk_ingest::PercentEncode("AZaz09-._~"), "AZaz09-._~");
    EXPECT_EQ(bulk_ingest::PercentEncode("a b/?#&=+%"), "a%20b%2F%3F%23%26%3D%2B%25");
    EXPECT_EQ(bulk_ingest::PercentEncode("\xC3\xA9"), "%C3%A9");
    EXPECT_EQ(bulk_ingest::PercentEncode(""), "");
}

}  // namespace

namespace {

using bulk_ingest::OriginOf;
using bulk_ingest::ResolveRedirectLocation;
using bulk_ingest::SameOrigin;

// The host is read as libcurl reads it when it connects: the allowlist checks what libcurl will resolve.
TEST(OriginOf, ReadsTheHostAsLibcurlConnectsToIt) {
    auto origin = OriginOf("HTTPS://API.Example.com/v1?x=1");
    EXPECT_EQ(origin.scheme, "https");
    EXPECT_EQ(origin.host, "API.Example.com");
    EXPECT_EQ(origin.port, 443);
    EXPECT_EQ(OriginOf("http://a.example:8080/").port, 8080);
    EXPECT_EQ(OriginOf("http://a.example/").port, 80);
    EXPECT_EQ(OriginOf("http://[::1]:8080/x").host, "[::1]");
    EXPECT_EQ(OriginOf("http://2130706433/").host, "127.0.0.1");
    EXPECT_EQ(OriginOf("http://0x7f.1/").host, "127.0.0.1");
    EXPECT_EQ(OriginOf("http://%6c%6fcalhost/").host, "localhost");
    EXPECT_EQ(OriginOf("http://user:pw@h.example/").host, "h.example");
    EXPECT_EQ(OriginOf("file:///etc/passwd").host, "");
    EXPECT_EQ(OriginOf("ftp://h.example/x").scheme, "ftp");
    EXPECT_THROW(OriginOf("http://[::1/"), Error);
    EXPECT_THROW(OriginOf("/relative"), Error);
}

TEST(SameOrigin, SchemeHostAndPort) {
    EXPECT_TRUE(SameOrigin(OriginOf("http://a.example/x"), OriginOf("HTTP://A.EXAMPLE:80/y")));
    EXPECT_TRUE(SameOrigin(OriginOf("http://a.example./x"), OriginOf("http://a.example/y")));
    EXPECT_FALSE(SameOrigin(OriginOf("http://a.example/"), OriginOf("https://a.example/")));
    EXPECT_FALSE(SameOrigin(OriginOf("http://a.example/"), OriginOf("http://a.example:8080/")));
    EXPECT_FALSE(SameOrigin(OriginOf("http://a.example/"), OriginOf("http://b.a.example/")));
    EXPECT_FALSE(SameOrigin(OriginOf("http://127.0.0.1/"), OriginOf("http://localhost/")));
}

TEST(ResolveRedirectLocation, RelativeAbsoluteAndInvalid) {
    const std::string base = "http://user:pw@h.example:8080/dir/page?x#f";
    EXPECT_EQ(ResolveRedirectLocation("/new", base), "http://user:pw@h.example:8080/new");
    EXPECT_EQ(ResolveRedirectLocation(" next?q=1 ", base), "http://user:pw@h.example:8080/dir/next?q=1");
    EXPECT_EQ(ResolveRedirectLocation("../up#frag", base), "http://user:pw@h.example:8080/up");
    // Another authority carries none of the base's credentials.
    EXPECT_EQ(ResolveRedirectLocation("//other.example:81/x", base), "http://other.example:81/x");
    EXPECT_EQ(ResolveRedirectLocation("https://other.example/a b", base), "https://other.example/a%20b");
    // Any scheme resolves: the caller refuses it by name.
    EXPECT_EQ(ResolveRedirectLocation("ftp://other.example/x", base), "ftp://other.example/x");
    EXPECT_EQ(ResolveRedirectLocation("file:///etc/passwd", base), "file:///etc/passwd");
    EXPECT_THROW(ResolveRedirectLocation("http://[::1", base), Error);
    EXPECT_THROW(ResolveRedirectLocation("  ", base), Error);
}

}  // namespace
