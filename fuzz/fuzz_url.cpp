// libFuzzer target: URL validation, templates, Link headers, next-page resolution, query parameters, percent-encoding.
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
    try {
        auto next = bulk_ingest::FindNextLink(header, base);
        if (next) {
            bulk_ingest::ValidateSourceUrl(*next);
        }
    } catch (const bulk_ingest::Error &) {
    }
    try {
        (void)bulk_ingest::ResolveNextPageUrl(other, base);
    } catch (const bulk_ingest::Error &) {
    }
    try {
        std::string set = bulk_ingest::SetQueryParameter(base, other.empty() ? "p" : other, header);
        bulk_ingest::ValidateSourceUrl(set);
    } catch (const bulk_ingest::Error &) {
    }
    return 0;
}
