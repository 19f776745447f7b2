// libFuzzer target: options.pagination parsing, and a paginator driven through pages the input describes.
#include <string>

#include "error.h"
#include "fuzz_input.h"
#include "paginator.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    std::string text(reinterpret_cast<const char *>(data), size);
    size_t split = text.find('\n');
    std::string spec_json = text.substr(0, split);
    std::string pages = split == std::string::npos ? "" : text.substr(split + 1);
    bulk_ingest::PaginationSpec spec;
    try {
        spec = bulk_ingest::ParsePagination(spec_json);
    } catch (const bulk_ingest::Error &) {
        spec = bulk_ingest::LinkHeaderPagination();
    }
    try {
        bulk_ingest::Paginator paginator(spec, "http://127.0.0.1:8080/items?since=1", 50);
        std::string url = paginator.FirstUrl();
        // Each line of the rest is a page: "<records> <link header or body value>".
        size_t pos = 0;
        for (int page = 0; page < 60 && pos <= pages.size(); page++) {
            size_t end = pages.find('\n', pos);
            std::string line = pages.substr(pos, end == std::string::npos ? std::string::npos : end - pos);
            pos = end == std::string::npos ? pages.size() + 1 : end + 1;
            bulk_ingest::PageInfo info;
            info.url = url;
            info.records = line.empty() ? 0 : static_cast<unsigned char>(line[0]) % 5;
            std::string rest = line.size() > 1 ? line.substr(1) : "";
            if (spec.NeedsBodyValue()) {
                info.body_value = rest;
            } else {
                info.link_header = rest;
            }
            auto next = paginator.Next(info);
            if (!next) {
                fuzz::Require(paginator.Done(), "a stop is final");
                fuzz::Require(!paginator.Next(info), "after a stop, nothing more");
                break;
            }
            url = *next;
        }
        fuzz::Require(paginator.Pages() <= 51, "max_pages holds");
    } catch (const bulk_ingest::Error &) {
    }
    return 0;
}
