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
              "response body (e.g. \"/meta/next_cursor\"), or \"header\", the response header that carries it");
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
              "limit_param, in, has_more_path, total_path, total_pages_path");
    EXPECT_EQ(ParseError(R"({"type": "cursor", "path": "/c", "param": "c", "limit": 10})"),
              "options.pagination of type \"cursor\" does not take \"limit\"; it takes: type, path, header, param, "
              "initial, in, has_more_path");
    EXPECT_EQ(ParseError(R"({"type": "next_url", "path": "/n", "pth": "/n"})"),
              "options.pagination of type \"next_url\" does not take \"pth\"; it takes: type, path, has_more_path");
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

TEST(Paginator, ALinkToThePageItselfOrAnEarlierPageFails) {
    Paginator paginator(ParsePagination(R"({"type": "link_header"})"), "http://h/items?page=1");
    try {
        paginator.Next(Page(5, std::nullopt, std::string("<?page=1>; rel=next")));
        FAIL() << "followed a link to itself";
    } catch (const Error &e) {
        EXPECT_STREQ(e.what(),
                     "page 1 links to itself (http://h/items?page=1): the server's pagination loops (a run would "
                     "never end)");
    }
    Paginator cycle(ParsePagination(R"({"type": "link_header"})"), "http://h/items?page=1");
    EXPECT_EQ(cycle.Next(Page(5, std::nullopt, std::string("<?page=2>; rel=next"))), "http://h/items?page=2");
    EXPECT_EQ(cycle.Next(Page(5, std::nullopt, std::string("<?page=3>; rel=next"))), "http://h/items?page=3");
    try {
        cycle.Next(Page(5, std::nullopt, std::string("<?page=1>; rel=next")));
        FAIL() << "followed a cycle";
    } catch (const Error &e) {
        EXPECT_STREQ(e.what(),
                     "page 3 links to an earlier page (http://h/items?page=1): the server's pagination loops (a run "
                     "would never end)");
    }
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

TEST(Paginator, NextUrlEqualToTheCurrentPageFails) {
    Paginator paginator(ParsePagination(R"({"type": "next_url", "path": "/next"})"), "http://h/items?p=1");
    try {
        paginator.Next(Page(3, std::string("?p=1")));
        FAIL() << "followed a link to itself";
    } catch (const Error &e) {
        EXPECT_TRUE(Contains(e.what(), "links to itself")) << e.what();
    }
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

TEST(Paginator, CursorStopsWhenEmptyOrThePageIsEmptyAndFailsWhenItRepeats) {
    const PaginationSpec spec = ParsePagination(R"({"type": "cursor", "path": "/c", "param": "cursor"})");
    Paginator empty_cursor(spec, "http://h/items");
    EXPECT_FALSE(empty_cursor.Next(Page(5, std::string(""))).has_value());

    Paginator repeated(spec, "http://h/items");
    EXPECT_TRUE(repeated.Next(Page(5, std::string("c1"))).has_value());
    try {
        repeated.Next(Page(5, std::string("c1")));
        FAIL() << "followed a repeated cursor";
    } catch (const Error &e) {
        EXPECT_STREQ(e.what(),
                     "page 2 gives the cursor \"c1\" at \"/c\" again: the server's pagination loops (a run would "
                     "never end)");
    }
    // Not only the last one: any cursor the run has sent.
    Paginator cycle(spec, "http://h/items");
    EXPECT_TRUE(cycle.Next(Page(5, std::string("a"))).has_value());
    EXPECT_TRUE(cycle.Next(Page(5, std::string("b"))).has_value());
    EXPECT_THROW(cycle.Next(Page(5, std::string("a"))), Error);

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

// ---- has_more, totals, header cursors, initial cursors, body parameters (issue 12) ----

TEST(ParsePagination, TheKeysOfIssue12) {
    PaginationSpec spec = ParsePagination(
        R"({"type": "page", "param": "p", "in": "body", "has_more_path": "/more", "total_path": "/n",
            "total_pages_path": "/pages"})");
    EXPECT_TRUE(spec.in_body);
    EXPECT_EQ(spec.BodyPaths(), (std::vector<std::string>{"/more", "/n", "/pages"}));
    EXPECT_TRUE(spec.NeedsBodyValue());
    PaginationSpec header = ParsePagination(R"({"type": "cursor", "header": "X-Next", "param": "c", "initial": "0"})");
    EXPECT_EQ(header.header, "X-Next");
    EXPECT_EQ(header.initial, std::optional<std::string>("0"));
    EXPECT_FALSE(header.NeedsBodyValue());
    EXPECT_EQ(ParseError(R"({"type": "cursor", "header": "X", "path": "/c", "param": "c"})"),
              "options.pagination of type \"cursor\" takes \"path\" (the cursor in the body) or \"header\" (in a "
              "response header), not both");
    EXPECT_EQ(ParseError(R"({"type": "page", "param": "p", "in": "form"})"),
              "options.pagination of type \"page\": \"in\" must be \"query\" (the default) or \"body\" (the JSON "
              "request body)");
    EXPECT_TRUE(Contains(ParseError(R"({"type": "page", "param": "p", "has_more_path": "more"})"),
                         "options.pagination of type \"page\": \"has_more_path\": "));
    EXPECT_EQ(ParseError(R"({"type": "cursor", "path": "/c", "param": "c", "initial": 1})"),
              "options.pagination of type \"cursor\": \"initial\" must be a string (the cursor of the first request)");
    EXPECT_EQ(ParseError(R"({"type": "offset", "param": "o", "total_pages_path": "/p"})"),
              "options.pagination of type \"offset\" does not take \"total_pages_path\"; it takes: type, param, "
              "limit_param, limit, start, in, has_more_path, total_path");
}

TEST(Paginator, HasMoreEndsTheData) {
    Paginator paginator(ParsePagination(R"({"type": "page", "param": "p", "has_more_path": "/more"})"), "http://h/i");
    PageInfo more = Page(10);
    more.has_more = "true";
    EXPECT_EQ(paginator.Next(more), "http://h/i?p=2");
    PageInfo last = Page(10);
    last.has_more = "false";
    EXPECT_FALSE(paginator.Next(last).has_value());
    EXPECT_EQ(paginator.StopReason(), "page 2 says there is no more data (/more is false)");
    // Declared but absent, or not a boolean: an error, not a silent stop.
    Paginator absent(ParsePagination(R"({"type": "page", "param": "p", "has_more_path": "/more"})"), "http://h/i");
    EXPECT_THROW(absent.Next(Page(10)), Error);
    PageInfo odd = Page(10);
    odd.has_more = "yes";
    Paginator wrong(ParsePagination(R"({"type": "page", "param": "p", "has_more_path": "/more"})"), "http://h/i");
    try {
        wrong.Next(odd);
        FAIL();
    } catch (const Error &e) {
        EXPECT_STREQ(e.what(), "page 1 has no boolean at \"/more\" (has_more_path): it has \"yes\"");
    }
}

TEST(Paginator, TotalsStopAtTheLastPage) {
    Paginator offset(ParsePagination(R"({"type": "offset", "param": "o", "total_path": "/total"})"), "http://h/i");
    PageInfo first = Page(4);
    first.total = "10";
    EXPECT_EQ(offset.Next(first), "http://h/i?o=4");
    EXPECT_EQ(offset.Next(Page(4)), "http://h/i?o=8");  // the total of an earlier page holds
    EXPECT_FALSE(offset.Next(Page(2)).has_value());
    EXPECT_EQ(offset.StopReason(), "page 3 reached the total of 10 records");

    Paginator pages(ParsePagination(R"({"type": "page", "param": "p", "start": 0, "total_pages_path": "/pages"})"),
                    "http://h/i");
    PageInfo page = Page(5);
    page.total_pages = "2";
    EXPECT_EQ(pages.Next(page), "http://h/i?p=1");
    EXPECT_FALSE(pages.Next(page).has_value());
    EXPECT_EQ(pages.StopReason(), "page 2 is the last of 2 pages");

    Paginator no_total(ParsePagination(R"({"type": "page", "param": "p", "total_path": "/total"})"), "http://h/i");
    EXPECT_THROW(no_total.Next(Page(5)), Error);
    PageInfo bad = Page(5);
    bad.total = "many";
    Paginator bad_total(ParsePagination(R"({"type": "page", "param": "p", "total_path": "/total"})"), "http://h/i");
    EXPECT_THROW(bad_total.Next(bad), Error);
}

TEST(Paginator, CursorFromAHeaderWithAnInitialValue) {
    Paginator paginator(ParsePagination(R"({"type": "cursor", "header": "X-Next", "param": "c", "initial": "0"})"),
                        "http://h/i");
    EXPECT_EQ(paginator.FirstUrl(), "http://h/i?c=0");
    PageInfo page = Page(3);
    page.cursor_header = "abc";
    EXPECT_EQ(paginator.Next(page), "http://h/i?c=abc");
    EXPECT_FALSE(paginator.Next(Page(3)).has_value());
    EXPECT_EQ(paginator.StopReason(), "page 2 has no next cursor in the header X-Next");
    // The initial cursor counts as sent: a server answering with it again loops.
    Paginator loop(ParsePagination(R"({"type": "cursor", "header": "X-Next", "param": "c", "initial": "0"})"),
                   "http://h/i");
    PageInfo again = Page(3);
    again.cursor_header = "0";
    EXPECT_THROW(loop.Next(again), Error);
}

TEST(Paginator, ParametersInTheBody) {
    Paginator paginator(
        ParsePagination(
            R"({"type": "offset", "param": "offset", "limit_param": "/page/size", "limit": 2, "in": "body"})"),
        "http://h/search");
    EXPECT_EQ(paginator.FirstUrl(), "http://h/search");  // the URL does not change
    auto params = paginator.BodyParameters();
    ASSERT_EQ(params.size(), 2u);
    EXPECT_EQ(params[0].name, "offset");
    EXPECT_EQ(params[0].value, "0");
    EXPECT_TRUE(params[0].number);
    EXPECT_EQ(params[1].name, "/page/size");
    EXPECT_EQ(paginator.Next(Page(2)), "http://h/search");
    EXPECT_EQ(paginator.BodyParameters()[0].value, "2");
    EXPECT_FALSE(paginator.Next(Page(1)).has_value());

    Paginator cursor(ParsePagination(R"({"type": "cursor", "path": "/next", "param": "after", "in": "body"})"),
                     "http://h/search");
    EXPECT_TRUE(cursor.BodyParameters().empty());  // no cursor yet
    EXPECT_EQ(cursor.Next(Page(1, std::string("x1"))), "http://h/search");
    ASSERT_EQ(cursor.BodyParameters().size(), 1u);
    EXPECT_EQ(cursor.BodyParameters()[0].value, "x1");
    EXPECT_FALSE(cursor.BodyParameters()[0].number);
}

TEST(Paginator, ResumesWhereMaxPagesStopped) {
    const PaginationSpec spec = ParsePagination(R"({"type": "offset", "param": "o", "limit": 2, "total_path": "/t"})");
    Paginator first(spec, "http://h/i", 2);
    PageInfo page = Page(2);
    page.total = "7";
    EXPECT_EQ(first.Next(page), "http://h/i?o=2");
    EXPECT_FALSE(first.Next(page).has_value());
    ASSERT_TRUE(first.StoppedAtMaxPages());
    const bulk_ingest::PaginatorState state = first.ResumeState();
    EXPECT_EQ(state.url, "http://h/i?o=4");
    EXPECT_EQ(state.position, 4);
    EXPECT_EQ(state.records, 4u);

    Paginator second(spec, "http://h/i", 2);
    second.Resume(state);
    EXPECT_EQ(second.FirstUrl(), "http://h/i?o=4");
    EXPECT_EQ(second.Next(page), "http://h/i?o=6");
    EXPECT_FALSE(second.Next(Page(1)).has_value());
    EXPECT_FALSE(second.StoppedAtMaxPages());
    EXPECT_EQ(second.StopReason(), "page 2 reached the total of 7 records");

    Paginator cursor(ParsePagination(R"({"type": "cursor", "path": "/c", "param": "c"})"), "http://h/i", 1);
    EXPECT_FALSE(cursor.Next(Page(1, std::string("k2"))).has_value());
    EXPECT_EQ(cursor.ResumeState().cursor, std::optional<std::string>("k2"));
    EXPECT_EQ(cursor.ResumeState().url, "http://h/i?c=k2");
}

// options.concurrency: the pages after the one being read, if each is full.
TEST(PredictFullPages, OffsetPagesFollowTheLimitAndStopAtMaxPages) {
    Paginator offset(ParsePagination(R"({"type": "offset", "param": "offset", "limit_param": "limit", "limit": 10})"),
                     "http://h/p", 4);
    auto predicted = offset.PredictFullPages(5, 0);
    ASSERT_EQ(predicted.size(), 3u);  // pages 2, 3 and 4: max_pages is 4
    EXPECT_EQ(predicted[0].first, "http://h/p?limit=10&offset=10");
    EXPECT_EQ(predicted[2].first, "http://h/p?limit=10&offset=30");
    // The paginator itself has not moved: its next page is still the second.
    PageInfo full;
    full.records = 10;
    EXPECT_EQ(offset.Next(full).value(), predicted[0].first);
    EXPECT_EQ(offset.PredictFullPages(5, 0).size(), 2u);
}

TEST(PredictFullPages, WithoutALimitTheStepIsThePageSizeSeen) {
    Paginator offset(ParsePagination(R"({"type": "offset", "param": "offset"})"), "http://h/p");
    EXPECT_TRUE(offset.PredictFullPages(3, 0).empty());  // nothing known of the pages yet
    auto predicted = offset.PredictFullPages(2, 25);
    ASSERT_EQ(predicted.size(), 2u);
    EXPECT_EQ(predicted[1].first, "http://h/p?offset=50");
    Paginator page(ParsePagination(R"({"type": "page", "param": "page", "start": 1})"), "http://h/p");
    auto pages = page.PredictFullPages(2, 1);
    ASSERT_EQ(pages.size(), 2u);
    EXPECT_EQ(pages[0].first, "http://h/p?page=2");
    EXPECT_EQ(pages[1].first, "http://h/p?page=3");
}

TEST(PredictFullPages, BodyParametersAndDeclaredTotals) {
    Paginator body(ParsePagination(R"({"type": "page", "param": "page", "in": "body", "limit": 5,
                                      "total_pages_path": "/pages"})"),
                   "http://h/p");
    EXPECT_TRUE(body.PredictFullPages(3, 0).empty());  // the page count is not known before the first page
    PageInfo first;
    first.records = 5;
    first.total_pages = "3";
    ASSERT_TRUE(body.Next(first));
    auto predicted = body.PredictFullPages(4, 0);
    ASSERT_EQ(predicted.size(), 1u);  // page 3 is the last of 3
    EXPECT_EQ(predicted[0].first, "http://h/p");
    ASSERT_EQ(predicted[0].second.size(), 1u);
    EXPECT_EQ(predicted[0].second[0].name, "page");
    EXPECT_EQ(predicted[0].second[0].value, "3");
}

TEST(PredictFullPages, NothingForPaginationThatDependsOnThePage) {
    Paginator link(bulk_ingest::LinkHeaderPagination(), "http://h/p");
    EXPECT_TRUE(link.PredictFullPages(3, 100).empty());
    Paginator cursor(ParsePagination(R"({"type": "cursor", "path": "/c", "param": "c"})"), "http://h/p");
    EXPECT_TRUE(cursor.PredictFullPages(3, 100).empty());
}
