// Unit tests of pagination: the declaration's validation, query parameters, every pagination type, the stopping
// rules and max_pages.
#include <gtest/gtest.h>

#include <cctype>
#include <optional>
#include <string>
#include <vector>

#include "error.h"
#include "paginator.h"

using bulk_ingest::Error;
using bulk_ingest::PageInfo;
using bulk_ingest::PaginationSpec;
using bulk_ingest::PaginationType;
using bulk_ingest::PaginationTypeName;
using bulk_ingest::Paginator;
using bulk_ingest::ParsePagination;
using bulk_ingest::SetQueryParameter;

namespace {

bool Contains(const std::string &haystack, const std::string &needle) {
    return haystack.find(needle) != std::string::npos;
}

// Upper-cases the hex digits of every %XX: libcurl 7.88 spells them in lower case when it rebuilds a URL, which is
// equivalent (RFC 3986, section 2.1); other versions may keep the upper case.
std::string Hex(std::string url) {
    for (size_t i = 0; i + 2 < url.size(); i++) {
        if (url[i] == '%') {
            url[i + 1] = static_cast<char>(std::toupper(static_cast<unsigned char>(url[i + 1])));
            url[i + 2] = static_cast<char>(std::toupper(static_cast<unsigned char>(url[i + 2])));
        }
    }
    return url;
}

std::string ParseError(const std::string &json) {
    try {
        ParsePagination(json);
    } catch (const Error &e) {
        return e.what();
    }
    return "";
}

PageInfo Page(uint64_t records, std::optional<std::string> body_value = std::nullopt,
              std::optional<std::string> link = std::nullopt) {
    PageInfo page;
    page.records = records;
    page.body_value = std::move(body_value);
    page.link_header = std::move(link);
    return page;
}

// ---- the declaration ----

TEST(ParsePagination, EveryTypeOfTheIssue) {
    PaginationSpec link = ParsePagination(R"({"type": "link_header"})");
    EXPECT_EQ(link.type, PaginationType::kLinkHeader);
    EXPECT_FALSE(link.NeedsBodyValue());

    PaginationSpec next = ParsePagination(R"({"type": "next_url", "path": "/links/next"})");
    EXPECT_EQ(next.type, PaginationType::kNextUrl);
    EXPECT_EQ(next.path, "/links/next");
    EXPECT_EQ(next.pointer, (std::vector<std::string>{"links", "next"}));
    EXPECT_TRUE(next.NeedsBodyValue());

    PaginationSpec cursor = ParsePagination(R"({"type": "cursor", "path": "/meta/next~1cursor", "param": "cursor"})");
    EXPECT_EQ(cursor.type, PaginationType::kCursor);
    EXPECT_EQ(cursor.pointer, (std::vector<std::string>{"meta", "next/cursor"}));
    EXPECT_EQ(cursor.param, "cursor");
    EXPECT_TRUE(cursor.NeedsBodyValue());

    PaginationSpec offset =
        ParsePagination(R"({"type": "offset", "param": "offset", "limit_param": "limit", "limit": 1000})");
    EXPECT_EQ(offset.type, PaginationType::kOffset);
    EXPECT_EQ(offset.param, "offset");
    EXPECT_EQ(offset.limit_param, "limit");
    EXPECT_EQ(offset.limit, 1000);
    EXPECT_EQ(offset.start, 0);
    EXPECT_FALSE(offset.NeedsBodyValue());

    PaginationSpec page = ParsePagination(R"({"type": "page", "param": "page", "start": 1})");
    EXPECT_EQ(page.type, PaginationType::kPage);
    EXPECT_EQ(page.param, "page");
    EXPECT_EQ(page.start, 1);
    EXPECT_EQ(page.limit, 0);
    EXPECT_EQ(ParsePagination(R"({"type": "page", "param": "p"})").start, 1);  // the default
    EXPECT_EQ(ParsePagination(R"({"type": "page", "param": "p", "start": 0})").start, 0);
    EXPECT_EQ(ParsePagination(R"({"type": "offset", "param": "o"})").limit, 0);  // limit is optional

    EXPECT_STREQ(PaginationTypeName(PaginationType::kCursor), "cursor");
    EXPECT_STREQ(PaginationTypeName(PaginationType::kNone), "none");
}

TEST(ParsePagination, NotJsonOrNotAnObject) {
    EXPECT_TRUE(Contains(ParseError("{"), "options.pagination is not valid JSON at byte")) << ParseError("{");
    for (const char *json : {"[]", "\"link_header\"", "null", "1"}) {
        EXPECT_EQ(ParseError(json), "options.pagination must be a JSON object, e.g. {\"type\": \"link_header\"}");
    }
}

TEST(ParsePagination, MissingWrongOrUnknownType) {
    EXPECT_EQ(ParseError("{}"),
              "options.pagination needs \"type\", one of: link_header, next_url, cursor, offset, page");
    EXPECT_EQ(ParseError(R"({"type": 1})"),
              "options.pagination \"type\" must be a string, one of: link_header, next_url, cursor, offset, page");
    EXPECT_EQ(ParseError(R"({"type": "links"})"),
              "unknown options.pagination type \"links\"; expected one of: link_header, next_url, cursor, offset, "
              "page");
    EXPECT_FALSE(ParseError(R"({"type": "Link_Header"})").empty());  // type names are exact
}

TEST(ParsePagination, MissingOrBadPath) {
    EXPECT_EQ(ParseError(R"({"type": "next_url"})"),
              "options.pagination of type \"next_url\" needs \"path\", the JSON Pointer of the next page's URL in the "
              "response body (e.g. \"/links/next\")");
    EXPECT_EQ(ParseError(R"({"type": "cursor", "param": "c"})"),
              "options.pagination of type \"cursor\" needs \"path\", the JSON Pointer of the next cursor in the "
              "response body (e.g. \"/meta/next_cursor\")");
    EXPECT_EQ(ParseError(R"({"type": "cursor", "path": 5, "param": "c"})"),
              "options.pagination of type \"cursor\": \"path\" must be a string");
    EXPECT_EQ(ParseError(R"({"type": "next_url", "path": ""})"),
              "options.pagination of type \"next_url\": \"path\" must not be empty");
    std::string bad = ParseError(R"({"type": "next_url", "path": "links/next"})");
    EXPECT_TRUE(Contains(bad, "options.pagination of type \"next_url\": \"path\": ")) << bad;
    EXPECT_TRUE(Contains(bad, "links/next")) << bad;
    EXPECT_FALSE(ParseError(R"({"type": "next_url", "path": "/a~2"})").empty());
}

TEST(ParsePagination, MissingOrBadParam) {
    EXPECT_EQ(ParseError(R"({"type": "cursor", "path": "/c"})"),
              "options.pagination of type \"cursor\" needs \"param\", the query parameter that carries the cursor");
    EXPECT_EQ(ParseError(R"({"type": "offset"})"),
              "options.pagination of type \"offset\" needs \"param\", the query parameter that carries the offset");
    EXPECT_EQ(ParseError(R"({"type": "page"})"),
              "options.pagination of type \"page\" needs \"param\", the query parameter that carries the page number");
    EXPECT_EQ(ParseError(R"({"type": "page", "param": ["p"]})"),
              "options.pagination of type \"page\": \"param\" must be a string");
    EXPECT_EQ(ParseError(R"({"type": "page", "param": ""})"),
              "options.pagination of type \"page\": \"param\" must not be empty");
}

TEST(ParsePagination, BadLimitStartAndLimitParam) {
    for (const char *limit : {"0", "-5", "1.5", "\"1000\"", "true", "null", "1e3", "99999999999999999999"}) {
        std::string json = std::string(R"({"type": "offset", "param": "o", "limit": )") + limit + "}";
        EXPECT_EQ(ParseError(json),
                  "options.pagination of type \"offset\": \"limit\" must be a positive integer (the records per page)")
            << json;
    }
    for (const char *start : {"-1", "\"1\"", "0.5"}) {
        std::string json = std::string(R"({"type": "page", "param": "p", "start": )") + start + "}";
        EXPECT_EQ(ParseError(json), "options.pagination of type \"page\": \"start\" must be a non-negative integer")
            << json;
    }
    EXPECT_EQ(ParseError(R"({"type": "offset", "param": "o", "limit_param": "limit"})"),
              "options.pagination of type \"offset\" needs \"limit\" (the records per page) with \"limit_param\"");
    EXPECT_EQ(ParseError(R"({"type": "offset", "param": "o", "limit_param": 5, "limit": 5})"),
              "options.pagination of type \"offset\": \"limit_param\" must be a string");
    EXPECT_EQ(ParseError(R"({"type": "offset", "param": "o", "limit_param": "o", "limit": 5})"),
              "options.pagination of type \"offset\": \"limit_param\" and \"param\" must differ");
}

TEST(ParsePagination, KeysTheTypeDoesNotTake) {
    EXPECT_EQ(ParseError(R"({"type": "link_header", "path": "/next"})"),
              "options.pagination of type \"link_header\" does not take \"path\"; it takes: type");
    EXPECT_EQ(ParseError(R"({"type": "page", "param": "p", "path": "/x"})"),
              "options.pagination of type \"page\" does not take \"path\"; it takes: type, param, start, limit, "
              "limit_param");
    EXPECT_EQ(ParseError(R"({"type": "cursor", "path": "/c", "param": "c", "limit": 10})"),
              "options.pagination of type \"cursor\" does not take \"limit\"; it takes: type, path, param");
    EXPECT_EQ(ParseError(R"({"type": "next_url", "path": "/n", "pth": "/n"})"),
              "options.pagination of type \"next_url\" does not take \"pth\"; it takes: type, path");
}

// ---- query parameters ----

TEST(SetQueryParameter, AddsToAUrlWithoutAQuery) {
    EXPECT_EQ(SetQueryParameter("http://h/items", "page", "2"), "http://h/items?page=2");
    EXPECT_EQ(SetQueryParameter("http://h", "page", "2"), "http://h/?page=2");
}

TEST(SetQueryParameter, AppendsKeepingTheOtherParameters) {
    EXPECT_EQ(SetQueryParameter("http://h/items?since=2024&sort=id", "page", "2"),
              "http://h/items?since=2024&sort=id&page=2");
}

TEST(SetQueryParameter, ReplacesEveryOccurrenceOfTheName) {
    EXPECT_EQ(SetQueryParameter("http://h/items?page=1&sort=id", "page", "2"), "http://h/items?sort=id&page=2");
    EXPECT_EQ(SetQueryParameter("http://h/items?page=1&page=7&x=1&page", "page", "2"), "http://h/items?x=1&page=2");
    // Only the exact name: "pages", "xpage" and a value "page" are other parameters.
    EXPECT_EQ(SetQueryParameter("http://h/i?pages=1&xpage=2&q=page", "page", "3"),
              "http://h/i?pages=1&xpage=2&q=page&page=3");
    // A percent-encoded name is the same name.
    EXPECT_EQ(SetQueryParameter("http://h/i?%70age=1&a=b", "page", "2"), "http://h/i?a=b&page=2");
    EXPECT_EQ(SetQueryParameter("http://h/i?next+cursor=1", "next cursor", "2"), "http://h/i?next%20cursor=2");
    // Empty parts are dropped.
    EXPECT_EQ(SetQueryParameter("http://h/i?&&a=b&", "c", "d"), "http://h/i?a=b&c=d");
    // The only parameter replaced.
    EXPECT_EQ(SetQueryParameter("http://h/i?cursor=abc", "cursor", "def"), "http://h/i?cursor=def");
}

TEST(SetQueryParameter, PercentEncodesTheValue) {
    EXPECT_EQ(Hex(SetQueryParameter("http://h/i", "cursor", "a b&c=d/e?f#g%h+i")),
              "http://h/i?cursor=a%20b%26c%3Dd%2Fe%3Ff%23g%25h%2Bi");
    EXPECT_EQ(Hex(SetQueryParameter("http://h/i", "cursor", "eyJpZCI6MTB9==")), "http://h/i?cursor=eyJpZCI6MTB9%3D%3D");
    EXPECT_EQ(Hex(SetQueryParameter("http://h/i", "c", "\xC3\xA9")), "http://h/i?c=%C3%A9");
    EXPECT_EQ(Hex(SetQueryParameter("http://h/i", "c", "")), "http://h/i?c=");
    EXPECT_EQ(Hex(SetQueryParameter("http://h/i", "c", "AZaz09-._~")), "http://h/i?c=AZaz09-._~");
}

TEST(SetQueryParameter, KeepsTheRestOfTheUrl) {
    EXPECT_EQ(Hex(SetQueryParameter("https://user:pw@h:8443/a/b%20c?x=%2F#frag", "p", "1")),
              "https://user:pw@h:8443/a/b%20c?x=%2F&p=1#frag");
}

TEST(SetQueryParameter, InvalidUrl) {
    try {
        SetQueryParameter("not a url", "p", "1");
        FAIL() << "accepted";
    } catch (const Error &e) {
        EXPECT_TRUE(Contains(e.what(), "cannot set the query parameter \"p\" of \"not a url\"")) << e.what();
    }
}

// ---- no pagination ----

TEST(Paginator, WithoutPaginationThereIsOnePage) {
    Paginator paginator(PaginationSpec(), "http://h/items?page=1");
    EXPECT_EQ(paginator.FirstUrl(), "http://h/items?page=1");
    EXPECT_FALSE(paginator.Next(Page(100)).has_value());
    EXPECT_TRUE(paginator.Done());
    EXPECT_EQ(paginator.Pages(), 1);
    EXPECT_EQ(paginator.StopReason(), "the source has a single page (no pagination)");
}

// ---- link_header ----

TEST(Paginator, LinkHeaderFollowsRelNextResolvedAgainstThePage) {
    Paginator paginator(ParsePagination(R"({"type": "link_header"})"), "http://h/api/items");
    EXPECT_EQ(paginator.FirstUrl(), "http://h/api/items");
    EXPECT_EQ(paginator.Next(Page(10, std::nullopt, std::string("<?page=2>; rel=\"next\", </x>; rel=\"last\""))),
              "http://h/api/items?page=2");
    // Relative to the URL the response came from (after a redirect).
    PageInfo page = Page(10, std::nullopt, std::string("<page3>; rel=next"));
    page.url = "http://h/v2/items?page=2";
    EXPECT_EQ(paginator.Next(page), "http://h/v2/page3");
    EXPECT_FALSE(paginator.Next(Page(10, std::nullopt, std::string("</first>; rel=\"first\""))).has_value());
    EXPECT_EQ(paginator.StopReason(), "page 3 has no Link header with rel=\"next\"");
    EXPECT_FALSE(paginator.StoppedAtMaxPages());
}

TEST(Paginator, LinkHeaderStopsWithoutAHeaderAndOnAnEmptyPage) {
    Paginator no_header(ParsePagination(R"({"type": "link_header"})"), "http://h/items");
    EXPECT_FALSE(no_header.Next(Page(10)).has_value());
    EXPECT_EQ(no_header.StopReason(), "page 1 has no Link header with rel=\"next\"");

    Paginator empty(ParsePagination(R"({"type": "link_header"})"), "http://h/items");
    EXPECT_FALSE(empty.Next(Page(0, std::nullopt, std::string("<?page=2>; rel=next"))).has_value());
    EXPECT_EQ(empty.StopReason(), "page 1 was empty");
}

TEST(Paginator, LinkHeaderToAnotherProtocolIsAnError) {
    Paginator paginator(ParsePagination(R"({"type": "link_header"})"), "http://h/items");
    EXPECT_THROW(paginator.Next(Page(1, std::nullopt, std::string("<file:///etc/passwd>; rel=next"))), Error);
}

TEST(Paginator, ALinkToThePageItselfStops) {
    Paginator paginator(ParsePagination(R"({"type": "link_header"})"), "http://h/items?page=1");
    EXPECT_FALSE(paginator.Next(Page(5, std::nullopt, std::string("<?page=1>; rel=next"))).has_value());
    EXPECT_EQ(paginator.StopReason(), "page 1 links to itself (http://h/items?page=1)");
}

// ---- next_url ----

TEST(Paginator, NextUrlAbsoluteAndRelative) {
    Paginator paginator(ParsePagination(R"({"type": "next_url", "path": "/links/next"})"), "https://h/api/v1/items");
    EXPECT_EQ(paginator.Next(Page(3, std::string("https://h/api/v1/items?after=3"))), "https://h/api/v1/items?after=3");
    EXPECT_EQ(paginator.Next(Page(3, std::string("/api/v1/items?after=6"))), "https://h/api/v1/items?after=6");
    EXPECT_EQ(paginator.Next(Page(3, std::string("?after=9"))), "https://h/api/v1/items?after=9");
    EXPECT_EQ(paginator.Next(Page(3, std::string("more?after=12"))), "https://h/api/v1/more?after=12");
    EXPECT_EQ(paginator.Next(Page(3, std::string("//other.example/x"))), "https://other.example/x");
    EXPECT_EQ(paginator.Next(Page(3, std::string("  http://h2/y  "))), "http://h2/y");
    EXPECT_EQ(paginator.Pages(), 6);
}

TEST(Paginator, NextUrlStopsWhenAbsentNullOrEmpty) {
    const PaginationSpec spec = ParsePagination(R"({"type": "next_url", "path": "/links/next"})");
    for (const std::optional<std::string> &value :
         {std::optional<std::string>(), std::optional<std::string>(""), std::optional<std::string>("  ")}) {
        Paginator paginator(spec, "http://h/items");
        EXPECT_FALSE(paginator.Next(Page(3, value)).has_value());
        EXPECT_EQ(paginator.StopReason(), "page 1 has no next URL at \"/links/next\"");
    }
    Paginator empty(spec, "http://h/items");
    EXPECT_FALSE(empty.Next(Page(0, std::string("http://h/items?p=2"))).has_value());
    EXPECT_EQ(empty.StopReason(), "page 1 was empty");
}

TEST(Paginator, NextUrlMustBeHttp) {
    const PaginationSpec spec = ParsePagination(R"({"type": "next_url", "path": "/links/next"})");
    for (const char *target : {"file:///etc/passwd", "ftp://h/x", "gopher://h/"}) {
        Paginator paginator(spec, "http://h/items");
        try {
            paginator.Next(Page(3, std::string(target)));
            FAIL() << "followed " << target;
        } catch (const Error &e) {
            EXPECT_TRUE(Contains(e.what(), "only http:// and https://")) << e.what();
        }
    }
}

TEST(Paginator, NextUrlEqualToTheCurrentPageStops) {
    Paginator paginator(ParsePagination(R"({"type": "next_url", "path": "/next"})"), "http://h/items?p=1");
    EXPECT_FALSE(paginator.Next(Page(3, std::string("?p=1"))).has_value());
    EXPECT_TRUE(Contains(paginator.StopReason(), "links to itself")) << paginator.StopReason();
}

// ---- cursor ----

TEST(Paginator, CursorSetsAndReplacesTheParameter) {
    Paginator paginator(ParsePagination(R"({"type": "cursor", "path": "/meta/next_cursor", "param": "cursor"})"),
                        "http://h/items?limit=100");
    EXPECT_EQ(paginator.FirstUrl(), "http://h/items?limit=100");
    EXPECT_EQ(paginator.Next(Page(100, std::string("abc"))), "http://h/items?limit=100&cursor=abc");
    EXPECT_EQ(Hex(*paginator.Next(Page(100, std::string("d e/f==")))),
              "http://h/items?limit=100&cursor=d%20e%2Ff%3D%3D");
    EXPECT_FALSE(paginator.Next(Page(42, std::nullopt)).has_value());
    EXPECT_EQ(paginator.StopReason(), "page 3 has no next cursor at \"/meta/next_cursor\"");
}

TEST(Paginator, CursorReplacesOneAlreadyInTheSourceUrl) {
    Paginator paginator(ParsePagination(R"({"type": "cursor", "path": "/c", "param": "cursor"})"),
                        "http://h/items?cursor=start&x=1");
    EXPECT_EQ(paginator.Next(Page(1, std::string("n1"))), "http://h/items?x=1&cursor=n1");
}

TEST(Paginator, CursorStopsWhenEmptyRepeatedOrThePageIsEmpty) {
    const PaginationSpec spec = ParsePagination(R"({"type": "cursor", "path": "/c", "param": "cursor"})");
    Paginator empty_cursor(spec, "http://h/items");
    EXPECT_FALSE(empty_cursor.Next(Page(5, std::string(""))).has_value());

    Paginator repeated(spec, "http://h/items");
    EXPECT_TRUE(repeated.Next(Page(5, std::string("c1"))).has_value());
    EXPECT_FALSE(repeated.Next(Page(5, std::string("c1"))).has_value());
    EXPECT_EQ(repeated.StopReason(), "page 2 repeats the cursor \"c1\"");

    Paginator empty_page(spec, "http://h/items");
    EXPECT_FALSE(empty_page.Next(Page(0, std::string("c1"))).has_value());
    EXPECT_EQ(empty_page.StopReason(), "page 1 was empty");
}

// ---- offset ----

TEST(Paginator, OffsetStartsAtZeroAndAdvancesByTheRecordsRead) {
    Paginator paginator(
        ParsePagination(R"({"type": "offset", "param": "offset", "limit_param": "limit", "limit": 1000})"),
        "http://h/items?sort=id");
    EXPECT_EQ(paginator.FirstUrl(), "http://h/items?sort=id&offset=0&limit=1000");
    EXPECT_EQ(paginator.Next(Page(1000)), "http://h/items?sort=id&limit=1000&offset=1000");
    EXPECT_EQ(paginator.Next(Page(1000)), "http://h/items?sort=id&limit=1000&offset=2000");
    EXPECT_FALSE(paginator.Next(Page(999)).has_value());  // a short page is the last
    EXPECT_EQ(paginator.StopReason(), "page 3 had 999 records, fewer than the limit of 1000");
    EXPECT_FALSE(paginator.Next(Page(1000)).has_value());  // stays stopped
    EXPECT_EQ(paginator.Pages(), 3);
}

TEST(Paginator, OffsetReplacesParametersOfTheSourceUrl) {
    Paginator paginator(ParsePagination(R"({"type": "offset", "param": "offset", "limit_param": "limit", "limit": 2})"),
                        "http://h/items?offset=50&limit=7");
    EXPECT_EQ(paginator.FirstUrl(), "http://h/items?offset=0&limit=2");
}

TEST(Paginator, OffsetWithoutALimitStopsOnlyOnAnEmptyPage) {
    Paginator paginator(ParsePagination(R"({"type": "offset", "param": "skip", "start": 10})"), "http://h/items");
    EXPECT_EQ(paginator.FirstUrl(), "http://h/items?skip=10");
    EXPECT_EQ(paginator.Next(Page(7)), "http://h/items?skip=17");
    EXPECT_EQ(paginator.Next(Page(3)), "http://h/items?skip=20");
    EXPECT_FALSE(paginator.Next(Page(0)).has_value());
    EXPECT_EQ(paginator.StopReason(), "page 3 was empty");
}

TEST(Paginator, OffsetWithALimitButNoLimitParam) {
    Paginator paginator(ParsePagination(R"({"type": "offset", "param": "offset", "limit": 50})"), "http://h/items");
    EXPECT_EQ(paginator.FirstUrl(), "http://h/items?offset=0");
    EXPECT_EQ(paginator.Next(Page(50)), "http://h/items?offset=50");
    EXPECT_FALSE(paginator.Next(Page(49)).has_value());
}

// ---- page ----

TEST(Paginator, PageNumbersFromStart) {
    Paginator paginator(ParsePagination(R"({"type": "page", "param": "page", "start": 1})"), "http://h/items?q=x");
    EXPECT_EQ(paginator.FirstUrl(), "http://h/items?q=x&page=1");
    EXPECT_EQ(paginator.Next(Page(20)), "http://h/items?q=x&page=2");
    EXPECT_EQ(paginator.Next(Page(20)), "http://h/items?q=x&page=3");
    EXPECT_EQ(paginator.Next(Page(5)), "http://h/items?q=x&page=4");  // no limit declared: only empty stops
    EXPECT_FALSE(paginator.Next(Page(0)).has_value());
    EXPECT_EQ(paginator.StopReason(), "page 4 was empty");
}

TEST(Paginator, PageFromZeroWithAPageSize) {
    Paginator paginator(
        ParsePagination(R"({"type": "page", "param": "p", "start": 0, "limit": 10, "limit_param": "per_page"})"),
        "http://h/items?p=9");
    EXPECT_EQ(paginator.FirstUrl(), "http://h/items?p=0&per_page=10");
    EXPECT_EQ(paginator.Next(Page(10)), "http://h/items?per_page=10&p=1");
    EXPECT_FALSE(paginator.Next(Page(9)).has_value());
    EXPECT_EQ(paginator.StopReason(), "page 2 had 9 records, fewer than the limit of 10");
}

// ---- max_pages ----

TEST(Paginator, MaxPagesStopsARunThatHasMorePages) {
    Paginator paginator(ParsePagination(R"({"type": "page", "param": "page"})"), "http://h/items", 3);
    EXPECT_TRUE(paginator.Next(Page(10)).has_value());
    EXPECT_TRUE(paginator.Next(Page(10)).has_value());
    EXPECT_FALSE(paginator.Next(Page(10)).has_value());
    EXPECT_TRUE(paginator.StoppedAtMaxPages());
    EXPECT_EQ(paginator.StopReason(), "max_pages (3) reached; the source has more pages");
    EXPECT_EQ(paginator.Pages(), 3);
}

TEST(Paginator, MaxPagesIsNotReportedWhenTheLastPageEndsTheSourceAnyway) {
    Paginator paginator(ParsePagination(R"({"type": "link_header"})"), "http://h/items", 2);
    EXPECT_TRUE(paginator.Next(Page(10, std::nullopt, std::string("<?p=2>; rel=next"))).has_value());
    EXPECT_FALSE(paginator.Next(Page(10)).has_value());
    EXPECT_FALSE(paginator.StoppedAtMaxPages());
    EXPECT_EQ(paginator.StopReason(), "page 2 has no Link header with rel=\"next\"");
}

TEST(Paginator, MaxPagesOneAndNoLimit) {
    Paginator one(ParsePagination(R"({"type": "cursor", "path": "/c", "param": "c"})"), "http://h/items", 1);
    EXPECT_FALSE(one.Next(Page(10, std::string("next"))).has_value());
    EXPECT_TRUE(one.StoppedAtMaxPages());

    Paginator unlimited(ParsePagination(R"({"type": "page", "param": "page"})"), "http://h/items", 0);
    for (int i = 0; i < 10000; i++) {
        ASSERT_TRUE(unlimited.Next(Page(1)).has_value());
    }
    EXPECT_EQ(unlimited.Next(Page(1)), "http://h/items?page=10002");
}

TEST(Paginator, NegativeMaxPagesAndInvalidFirstUrl) {
    EXPECT_THROW(Paginator(PaginationSpec(), "http://h/items", -1), Error);
    EXPECT_THROW(Paginator(ParsePagination(R"({"type": "page", "param": "page"})"), "::not a url"), Error);
}

}  // namespace
