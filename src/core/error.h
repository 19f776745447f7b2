// Errors raised by the PostgreSQL-free core.
//
// The core reports every failure by throwing one of these. The PostgreSQL layer catches them at the boundary
// (src/pg/guard.h) and turns them into ereport(ERROR): no exception ever reaches PostgreSQL's C code.
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>

namespace bulk_ingest {

// A failure the user can act on; what() is a complete, human-readable message.
class Error : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

// A record of the source could not be turned into a row: bad JSON, a NULL in a non-nullable column, ...
// line is the 1-based line of the response body where the record starts.
class RecordError : public Error {
  public:
    RecordError(uint64_t line, const std::string &message) : RecordError("line", line, message) {}
    // A position of another kind ("record 5: ..." for the elements of a JSON array); line() returns it.
    RecordError(const char *unit, uint64_t position, const std::string &message)
        : Error(std::string(unit) + " " + std::to_string(position) + ": " + message), line_(position) {}
    // excerpt: the text of the record near the error, printable (record_reader.h: Excerpt); not part of what().
    RecordError(const char *unit, uint64_t position, const std::string &message, std::string excerpt)
        : RecordError(unit, position, message) {
        excerpt_ = std::move(excerpt);
    }
    uint64_t line() const { return line_; }
    const std::string &excerpt() const { return excerpt_; }

  private:
    uint64_t line_;
    std::string excerpt_;
};

// A record error after which the reader cannot go on to the next record (it does not know where that starts): it
// fails the batch even when bad records are skipped (options.on_error = 'skip').
class FatalRecordError : public RecordError {
  public:
    using RecordError::RecordError;
};

// A record longer than the largest record allowed (bulk_ingest.max_record_size).
class RecordTooLongError : public FatalRecordError {
  public:
    using FatalRecordError::FatalRecordError;
};

// What kind of failure an HttpError is; the retry policy (retry_policy.h) decides by it.
enum class HttpErrorKind {
    kStatus,            // the server answered with a non-2xx status (status())
    kConnection,        // no response or a broken transfer: resolve/connect/send/receive failed, reset, cut short
    kTimeout,           // a connect, low-speed or total timeout
    kForbiddenScheme,   // a redirect to (or a URL of) a protocol other than http/https was refused
    kInvalidUrl,        // the URL (or a redirect's Location) is not a valid URL
    kTooManyRedirects,  // the redirect limit was reached
    kTls,               // TLS verification failed (certificate, host name, pinned key)
    kNotAllowed,        // bulk_ingest.allowed_hosts refused the address (of the URL or of a redirect's target)
    kOther,             // anything else (out of memory, a libcurl setup failure, ...)
};

// The HTTP request failed: connection refused, timeout, a non-2xx status, a broken transfer.
// status is the HTTP status code, or 0 when no response was received.
class HttpError : public Error {
  public:
    // kind defaults to kStatus for a status outside 2xx, kConnection otherwise (0 or a transfer broken after a
    // 2xx status).
    HttpError(long status, const std::string &message) : Error(message), status_(status), kind_(DefaultKind(status)) {}
    // retry_after is the raw value of the response's Retry-After header, when it had one.
    HttpError(long status, const std::string &message, HttpErrorKind kind,
              std::optional<std::string> retry_after = std::nullopt)
        : Error(message), status_(status), kind_(kind), retry_after_(std::move(retry_after)) {}
    long status() const { return status_; }
    HttpErrorKind kind() const { return kind_; }
    const std::optional<std::string> &retry_after() const { return retry_after_; }

    static HttpErrorKind DefaultKind(long status) {
        return (status == 0 || (status >= 200 && status <= 299)) ? HttpErrorKind::kConnection : HttpErrorKind::kStatus;
    }

  private:
    long status_;
    HttpErrorKind kind_;
    std::optional<std::string> retry_after_;
};

// The transfer was stopped because the caller's abort check said so (a cancel or a shutdown request).
// The PostgreSQL layer reacts by processing the pending interrupt.
class Interrupted : public Error {
  public:
    Interrupted() : Error("interrupted") {}
};

}  // namespace bulk_ingest
