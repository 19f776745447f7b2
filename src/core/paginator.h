// Pagination of a source (options.pagination): which URL to fetch after each page, and when to stop.
//
//   {"type": "link_header"}                                        the Link header's rel="next" target
//   {"type": "next_url", "path": "/links/next"}                    a URL in the body, resolved against the page's
//   {"type": "cursor", "path": "/meta/next_cursor", "param": "cursor"}    the body's cursor as a query parameter
//   {"type": "offset", "param": "offset", "limit_param": "limit", "limit": 1000}   offset 0, then += records read
//   {"type": "page", "param": "page", "start": 1}                  page numbers from start
//
// Every type stops on an empty page, and on a page without a next link / URL / cursor; offset and page also stop on
// a page shorter than "limit" (when given). A next URL equal to the current one (or a cursor equal to the last one)
// also stops, so a server cannot keep a run in a loop. max_pages limits the pages of one run.
//
// Pure logic: the caller fetches the pages, and the format reader extracts the body's value at path.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace bulk_ingest {

enum class PaginationType { kNone, kLinkHeader, kNextUrl, kCursor, kOffset, kPage };

struct PaginationSpec {
    PaginationType type = PaginationType::kNone;  // kNone: a single page (no options.pagination)
    std::string path;                             // next_url, cursor: JSON Pointer of the value in the body
    std::vector<std::string> pointer;             // path, parsed (ParseJsonPointer)
    std::string param;                            // cursor, offset, page: the query parameter to set
    std::string limit_param;                      // offset, page: the page size parameter; empty = not sent
    int64_t limit = 0;                            // offset, page: records per page; 0 = not given
    int64_t start = 0;                            // offset: the first offset (0); page: the first page (1)

    // Whether the format reader must extract a value of the body (at pointer) for each page.
    bool NeedsBodyValue() const { return type == PaginationType::kNextUrl || type == PaginationType::kCursor; }
};

// "link_header", "next_url", "cursor", "offset", "page", or "none".
const char *PaginationTypeName(PaginationType type);

// Parses the JSON object of options.pagination (its text). Throws bulk_ingest::Error starting with
// "options.pagination" for: invalid JSON or not an object; a missing, non-string or unknown "type"; a missing,
// empty, non-string or invalid "path" (JSON Pointer) for next_url and cursor; a missing, empty or non-string
// "param" for cursor, offset and page; "limit" not a positive integer; "start" not a non-negative integer;
// "limit_param" without "limit"; a key the type does not take (the message lists those it takes).
PaginationSpec ParsePagination(const std::string &pagination_json);

// The default when a source declares no pagination: follow Link: <...>; rel="next" headers.
PaginationSpec LinkHeaderPagination();

// Returns url with the query parameter name set to value: every existing occurrence of name (compared after
// percent-decoding) is removed and name=value is appended, percent-encoded (RFC 3986 unreserved characters kept).
// Other parameters keep their order and spelling. Throws bulk_ingest::Error when url is not a valid URL.
std::string SetQueryParameter(const std::string &url, const std::string &name, const std::string &value);

// What the caller learnt from one page.
struct PageInfo {
    // The URL the response came from, after redirects (relative Link and next_url targets are resolved against
    // it); empty = the URL the paginator asked for.
    std::string url;
    std::optional<std::string> link_header;  // all Link header values (HttpStream::Header("Link"))
    std::optional<std::string> body_value;   // the body's value at spec.pointer; nullopt when absent or null
    uint64_t records = 0;                    // records read from the page
};

class Paginator {
  public:
    // first_url: the source's URL, its template already expanded. max_pages: pages per run, 0 = no limit.
    // Throws bulk_ingest::Error when max_pages is negative or (offset, page) first_url is not a valid URL.
    Paginator(PaginationSpec spec, const std::string &first_url, int64_t max_pages = 0);

    // The URL of the first page: first_url, with param set to start (offset, page) and limit_param to limit.
    const std::string &FirstUrl() const { return first_url_; }

    // Called after each page has been read whole: the next page's URL, or nullopt to stop (StopReason() says
    // why). After a stop, it keeps returning nullopt. Throws bulk_ingest::Error when a next URL (Link header or
    // body) is invalid or not http(s).
    std::optional<std::string> Next(const PageInfo &page);

    int64_t Pages() const { return pages_; }  // pages passed to Next
    bool Done() const { return done_; }
    const std::string &StopReason() const { return stop_reason_; }
    // True when the run stopped at max_pages although the source had more pages.
    bool StoppedAtMaxPages() const { return stopped_at_max_pages_; }

  private:
    std::optional<std::string> Stop(std::string reason);

    PaginationSpec spec_;
    int64_t max_pages_;
    std::string first_url_;
    std::string current_url_;  // the URL of the page being read
    int64_t position_ = 0;     // offset: the current offset; page: the current page number
    std::optional<std::string> last_cursor_;
    int64_t pages_ = 0;
    bool done_ = false;
    bool stopped_at_max_pages_ = false;
    std::string stop_reason_;
};

}  // namespace bulk_ingest
