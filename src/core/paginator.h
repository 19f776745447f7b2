// Pagination of a source (options.pagination): which request to make after each page, and when to stop.
//
//   {"type": "link_header"}                                        the Link header's rel="next" target
//   {"type": "next_url", "path": "/links/next"}                    a URL in the body, resolved against the page's
//   {"type": "cursor", "path": "/meta/next_cursor", "param": "cursor"}    the body's cursor as a query parameter
//   {"type": "cursor", "header": "X-Next-Cursor", "param": "cursor"}      ... or a response header's
//   {"type": "offset", "param": "offset", "limit_param": "limit", "limit": 1000}   offset 0, then += records read
//   {"type": "page", "param": "page", "start": 1}                  page numbers from start
//
// More keys: "initial" (cursor: the cursor of the first request), "in": "body" (cursor, offset, page: the parameters
// go into the JSON request body, options.body, instead of the query), "has_more_path" (a boolean in the body: false
// ends the data), "total_path" (offset, page: the total number of records in the body) and "total_pages_path" (page:
// the number of pages).
//
// Every type stops on an empty page, and on a page without a next link / URL / cursor; offset and page also stop on
// a page shorter than "limit" (when given), and when the declared total is reached. A next URL or a cursor that an
// earlier page of the run had already given is an error: the server's pagination loops, and following it would never
// end (and stopping would hide the pages not read). max_pages limits the pages of one run; a run stopped by it can be
// resumed where it stopped (ResumeState, Resume).
//
// Pure logic: the caller fetches the pages, and the format reader extracts the body's values.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_set>
#include <utility>
#include <vector>

namespace bulk_ingest {

enum class PaginationType { kNone, kLinkHeader, kNextUrl, kCursor, kOffset, kPage };

struct PaginationSpec {
    PaginationType type = PaginationType::kNone;  // kNone: a single page (no options.pagination)
    std::string path;                             // next_url, cursor: JSON Pointer of the value in the body
    std::vector<std::string> pointer;             // path, parsed (ParseJsonPointer)
    std::string header;                           // cursor: the response header that carries the next cursor
    std::string param;                            // cursor, offset, page: the parameter to set
    bool in_body = false;                         // the parameters go into the JSON request body, not the query
    std::optional<std::string> initial;           // cursor: the cursor of the first request
    std::string limit_param;                      // offset, page: the page size parameter; empty = not sent
    int64_t limit = 0;                            // offset, page: records per page; 0 = not given
    int64_t start = 0;                            // offset: the first offset (0); page: the first page (1)
    std::string has_more_path;                    // a boolean in the body: false = no more pages
    std::string total_path;                       // offset, page: the total number of records
    std::string total_pages_path;                 // page: the total number of pages

    // The JSON Pointers of the body's values the pagination reads (path, has_more_path, total_path,
    // total_pages_path: those declared, in that order).
    std::vector<std::string> BodyPaths() const;
    // Whether the format reader must extract values of the body for each page.
    bool NeedsBodyValue() const { return !BodyPaths().empty(); }
};

// "link_header", "next_url", "cursor", "offset", "page", or "none".
const char *PaginationTypeName(PaginationType type);

// Parses the JSON object of options.pagination (its text). Throws bulk_ingest::Error starting with
// "options.pagination" for: invalid JSON or not an object; a missing, non-string or unknown "type"; a missing,
// empty, non-string or invalid "path" (JSON Pointer) for next_url and cursor (a cursor takes "path" or "header"); a
// missing, empty or non-string "param" for cursor, offset and page; "limit" not a positive integer; "start" not a
// non-negative integer; "limit_param" without "limit"; "in" not "query" or "body"; an invalid pointer of
// has_more_path, total_path or total_pages_path; a key the type does not take (the message lists those it takes).
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
    std::optional<std::string> link_header;    // all Link header values (HttpStream::Header("Link"))
    std::optional<std::string> body_value;     // the body's value at spec.pointer; nullopt when absent or null
    std::optional<std::string> has_more;       // the body's value at has_more_path ("true"/"false")
    std::optional<std::string> total;          // ... at total_path
    std::optional<std::string> total_pages;    // ... at total_pages_path
    std::optional<std::string> cursor_header;  // the response header spec.header
    uint64_t records = 0;                      // records read from the page
};

// A parameter of the next request that goes into its JSON body ("in": "body").
struct BodyParameter {
    std::string name;  // a top-level key, or a JSON Pointer ("/page/cursor") when it starts with '/'
    std::string value;
    bool number = false;  // offsets, page numbers and limits are JSON numbers, cursors strings
};

// Where a run stopped at max_pages: enough to make the next request again in another run.
struct PaginatorState {
    std::string url;                    // the next page's URL
    int64_t position = 0;               // offset, page: the next one
    std::optional<std::string> cursor;  // cursor: the next one
    uint64_t records = 0;               // records read since the pagination started (total_path)
};

class Paginator {
  public:
    // first_url: the source's URL, its template already expanded. max_pages: pages per run, 0 = no limit.
    // Throws bulk_ingest::Error when max_pages is negative or (offset, page, cursor in the query) first_url is not a
    // valid URL.
    Paginator(PaginationSpec spec, const std::string &first_url, int64_t max_pages = 0);

    // The URL of the first page: first_url, with param set to start (offset, page) or initial (cursor) and
    // limit_param to limit, unless they go into the body.
    const std::string &FirstUrl() const { return first_url_; }

    // The body parameters of the request whose URL FirstUrl() or Next() returned last (empty unless "in": "body").
    std::vector<BodyParameter> BodyParameters() const;

    // Called after each page has been read whole: the next page's URL, or nullopt to stop (StopReason() says
    // why). After a stop, it keeps returning nullopt. Throws bulk_ingest::Error when a next URL (Link header or
    // body) is invalid or not http(s), when a next URL or a cursor repeats an earlier one of the run, and when a
    // declared has_more/total value is missing or not what it should be.
    std::optional<std::string> Next(const PageInfo &page);

    // offset and page pagination: the requests (URL, body parameters) of the n pages after the one being read, if
    // each of them is full: the page being read and every one after it has `limit` records (records_per_page when
    // no limit is declared, e.g. the size of the pages so far). Fewer when the pagination would stop before (the
    // declared total or page count is reached, max_pages), none for the other types or when Next() would throw.
    // A prediction only: whoever sends these requests checks each against what Next() says once its page is read.
    std::vector<std::pair<std::string, std::vector<BodyParameter>>> PredictFullPages(size_t n,
                                                                                     uint64_t records_per_page) const;

    int64_t Pages() const { return pages_; }  // pages passed to Next
    bool Done() const { return done_; }
    const std::string &StopReason() const { return stop_reason_; }
    // True when the run stopped at max_pages although the source had more pages.
    bool StoppedAtMaxPages() const { return stopped_at_max_pages_; }
    // After StoppedAtMaxPages(): the request the next run continues with.
    const PaginatorState &ResumeState() const { return resume_; }
    // Continues where another run stopped: FirstUrl() becomes state.url. Call it before the first page.
    void Resume(const PaginatorState &state);

  private:
    std::optional<std::string> Stop(std::string reason);
    std::vector<BodyParameter> ParametersAt(int64_t position, const std::optional<std::string> &cursor) const;
    std::string WithParameter(const std::string &url, const std::string &value) const;

    PaginationSpec spec_;
    int64_t max_pages_;
    std::string first_url_;
    std::string current_url_;            // the URL of the page being read
    int64_t position_ = 0;               // offset: the current offset; page: the current page number
    std::optional<std::string> cursor_;  // cursor: the current request's cursor
    uint64_t records_ = 0;               // records read, for total_path
    std::optional<uint64_t> total_;      // the last total the body declared
    std::optional<uint64_t> total_pages_;
    std::unordered_set<std::string> seen_;  // URLs (link_header, next_url) or cursors already requested
    int64_t pages_ = 0;
    bool done_ = false;
    bool stopped_at_max_pages_ = false;
    PaginatorState resume_;
    std::string stop_reason_;
};

}  // namespace bulk_ingest
