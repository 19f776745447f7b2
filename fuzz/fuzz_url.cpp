// libFuzzer target: URL validation, templates, Link headers, next-page and redirect resolution, query parameters,
// percent-encoding.
#include <optional>
#include <string>

#include "error.h"
#include "fuzz_input.h"
#include "paginator.h"
#include "url.h"

// The input's parts, separated by newlines.
static std::string Part(const std::string &text, int n) {
    size_t start = 0;
    for (int i = 0; i < n; i++) {
        start = text.find('\n', start);
        if (start == std::string::npos) {
            return "";
        }
        start++;
    }
    size_t end = text.find('\n', start);
    return text.substr(start, end == std::string::npos ? std::string::npos : end - start);
}

static void RequireHttpUrl(const std::string &url, const char *what) {
    try {
        // (Not ValidateSourceUrl: that reads {high_watermark} forms, and a next page's URL is no template.)
        bulk_ingest::UrlOrigin origin = bulk_ingest::OriginOf(url);
        fuzz::Require((origin.scheme == "http" || origin.scheme == "https") && !origin.host.empty(), what);
    } catch (const bulk_ingest::Error &) {
        fuzz::Require(false, what);
    }
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    std::string text(reinterpret_cast<const char *>(data), size);
    std::string url = Part(text, 0), other = Part(text, 1), header = Part(text, 2);
    std::string base = "http://127.0.0.1:8080/a/b?x=1";
    try {
        bulk_ingest::ValidateSourceUrl(url);
        base = url;
    } catch (const bulk_ingest::Error &) {
    }
    std::string encoded = bulk_ingest::PercentEncode(other);
    for (char c : encoded) {
        fuzz::Require((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
                          c == '.' || c == '_' || c == '~' || c == '%',
                      "percent-encoding leaves unreserved characters only");
    }
    try {
        (void)bulk_ingest::ExpandUrlTemplate(url, other);
    } catch (const bulk_ingest::Error &) {
    }
    // A next page's URL, from a Link header or from the body, is an http(s) URL with a host, or an error: a server
    // must not steer the next request to another protocol.
    std::optional<std::string> next;
    try {
        next = bulk_ingest::FindNextLink(header, base);
    } catch (const bulk_ingest::Error &) {
    }
    if (next) {
        RequireHttpUrl(*next, "a Link header's next URL is an http(s) URL with a host");
    }
    next.reset();
    try {
        next = bulk_ingest::ResolveNextPageUrl(other, base);
    } catch (const bulk_ingest::Error &) {
    }
    if (next) {
        RequireHttpUrl(*next, "a next page's URL is an http(s) URL with a host");
    }
    // A redirect's Location resolves without its fragment, or is an error. (The result need not parse again: libcurl
    // resolves some Locations into URLs it then refuses, ".http://a b@c" among them; the redirect's origin check,
    // OriginToRequest in http_stream.cpp, refuses those as invalid URLs.)
    try {
        std::string location = bulk_ingest::ResolveRedirectLocation(other, base);
        fuzz::Require(location.find('#') == std::string::npos, "a redirect's target has no fragment");
    } catch (const bulk_ingest::Error &) {
    }
    // A page or offset parameter set from a value the server sent never moves the request to another origin.
    std::optional<std::string> set;
    try {
        set = bulk_ingest::SetQueryParameter(base, other.empty() ? "p" : other, header);
    } catch (const bulk_ingest::Error &) {
    }
    if (set) {
        RequireHttpUrl(*set, "a URL with a parameter set is an http(s) URL with a host");
        fuzz::Require(bulk_ingest::SameOrigin(bulk_ingest::OriginOf(base), bulk_ingest::OriginOf(*set)),
                      "setting a query parameter keeps the origin");
    }
    return 0;
}
