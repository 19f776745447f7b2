// An HTTP GET whose body is read as a pull stream (libcurl multi interface, driven from Read()).
//
// The body is never held whole: libcurl hands over at most one network chunk at a time, and the transfer is
// paused while that chunk is unread. Between waits, should_abort is asked whether to give up (a cancel or a
// shutdown of the backend), so a transfer never blocks interrupts for longer than abort_check_interval_ms.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "byte_source.h"

namespace bulk_ingest {

struct HttpOptions {
    std::vector<std::string> headers;    // extra request headers, "Name: value"
    long connect_timeout_ms = 10000;     // connecting, including TLS
    long low_speed_timeout_s = 60;       // abort when under 1 byte/s for this long (a stalled server)
    long total_timeout_ms = 0;           // the whole transfer; 0 = no limit (large downloads)
    long abort_check_interval_ms = 100;  // how often should_abort is asked while waiting for the network
    uint64_t max_body_bytes = 0;         // a longer response body is an HttpError (not retried); 0 = no limit
    std::string user_agent = "pg_bulk_ingest";
    std::function<bool()> should_abort;  // returns true to stop: Read()/Start() then throw Interrupted
};

class HttpStream final : public ByteSource {
  public:
    HttpStream(std::string url, HttpOptions options);
    ~HttpStream() override;
    HttpStream(const HttpStream &) = delete;
    HttpStream &operator=(const HttpStream &) = delete;

    // Sends the request and waits for the status and headers. Throws HttpError when no response arrives
    // (message names the URL and libcurl's reason) or when the status is not 2xx (message names the URL, the
    // status and the start of the response body). Read() calls it when it has not been called.
    void Start();

    size_t Read(char *buf, size_t max) override;

    long Status() const;
    // All values of the header (case-insensitive name) joined with ", ", or nullopt when absent.
    std::optional<std::string> Header(const std::string &name) const;
    // The next page from the Link header, resolved against the URL; nullopt when there is none.
    std::optional<std::string> NextPageUrl() const;
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
