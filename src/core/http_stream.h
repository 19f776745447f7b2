// An HTTP GET (or POST) whose response body is read as a pull stream (libcurl multi interface, driven from Read()).
//
// The body is never held whole: libcurl hands over at most one network chunk at a time, and the transfer is
// paused while that chunk is unread. Between waits, should_abort is asked whether to give up (a cancel or a
// shutdown of the backend), so a transfer never blocks interrupts for longer than abort_check_interval_ms.
//
// Where it connects (the defence against server-side request forgery): every connection, of the URL and of each
// redirect hop, is checked against the allowlist after name resolution and before a packet is sent; redirects are
// followed here, not by libcurl, so that each hop is a request of its own (its own host checked, its own headers);
// proxies are never used. Request headers are checked before anything is sent (request_header.h).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "byte_source.h"

namespace bulk_ingest {

class HostAllowlist;

struct HttpOptions {
    // Extra request headers, "Name: value", sent to every host the request is redirected to; except Authorization,
    // Proxy-Authorization and Cookie, which are sent only to the URL's origin, like sensitive_headers.
    std::vector<std::string> headers;
    // Request headers sent only while the request's origin (scheme, host and port) is the URL's: credentials and
    // other secret-bearing headers, which a redirect to another server must not carry away.
    std::vector<std::string> sensitive_headers;
    // Which addresses the request may connect to (bulk_ingest.allowed_hosts); nullptr = any (unit tests of other
    // things; the PostgreSQL layer always sets it).
    std::shared_ptr<const HostAllowlist> allowlist;
    long connect_timeout_ms = 10000;     // connecting, including TLS
    long low_speed_timeout_s = 60;       // abort when under 1 byte/s for this long (a stalled server)
    long total_timeout_ms = 0;           // the whole transfer; 0 = no limit (large downloads)
    long abort_check_interval_ms = 100;  // how often should_abort is asked while waiting for the network
    uint64_t max_body_bytes = 0;         // a longer response body is an HttpError (not retried); 0 = no limit
    std::string user_agent = "pg_bulk_ingest";
    // POST with this body (nullopt: GET). A 301, 302 or 303 redirect continues with a GET without it (as browsers
    // and libcurl do); 307 and 308 send it again.
    std::optional<std::string> post_body;
    // The body carries a secret: a redirect that would send it to another origin is refused (kNotAllowed).
    bool post_body_sensitive = false;
    std::function<bool()> should_abort;  // returns true to stop: Read()/Start() then throw Interrupted
};

class HttpStream final : public ByteSource {
  public:
    // Throws bulk_ingest::Error, before anything is sent, when a request header (of headers or sensitive_headers)
    // fails CheckRequestHeaderLine; the message names the header, never its value.
    HttpStream(std::string url, HttpOptions options);
    ~HttpStream() override;
    HttpStream(const HttpStream &) = delete;
    HttpStream &operator=(const HttpStream &) = delete;

    // Sends the request, follows redirects (301, 302, 303, 307 and 308 with a Location, at most 10, to http and
    // https only; the body of a redirect is discarded) and waits for the final response's status and headers.
    // Throws HttpError when no response arrives (message names the URL and libcurl's reason), when the allowlist
    // refuses a connection (kNotAllowed, message: could not fetch "<url>": host "h" (addr) is not allowed by
    // bulk_ingest.allowed_hosts), for a refused redirect (kTooManyRedirects, kForbiddenScheme, kInvalidUrl) or when
    // the status is not 2xx (message names the URL, the status and the start of the response body). Messages name
    // the URL the stream was made with, and the hop's URL after a redirect. Read() calls it when it has not been
    // called.
    void Start();

    size_t Read(char *buf, size_t max) override;

    long Status() const;
    // All values of the header (case-insensitive name) joined with ", ", or nullopt when absent.
    std::optional<std::string> Header(const std::string &name) const;
    // The next page from the Link header, resolved against Url(); nullopt when there is none.
    std::optional<std::string> NextPageUrl() const;
    // The URL of the response: the URL the stream was made with until a redirect is followed, then the URL of the
    // last hop (after Start(), the one the final response came from). Relative links of the page (Link headers,
    // next_url pagination) resolve against it (PageInfo::url).
    const std::string &Url() const;
    uint64_t BodyBytesRead() const;
    // The most body bytes the stream has held at once (a test hook for the bounded-memory promise): at most one
    // libcurl write chunk (CURL_MAX_WRITE_SIZE), however large the body and however slow the reader.
    size_t MaxBufferedBytes() const;

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace bulk_ingest
