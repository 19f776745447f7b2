// Errors raised by the PostgreSQL-free core.
//
// The core reports every failure by throwing one of these. The PostgreSQL layer catches them at the boundary
// (src/pg/guard.h) and turns them into ereport(ERROR): no exception ever reaches PostgreSQL's C code.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>

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
    RecordError(uint64_t line, const std::string &message)
        : Error("line " + std::to_string(line) + ": " + message), line_(line) {}
    uint64_t line() const { return line_; }

  private:
    uint64_t line_;
};

// The HTTP request failed: connection refused, timeout, a non-2xx status, a broken transfer.
// status is the HTTP status code, or 0 when no response was received.
class HttpError : public Error {
  public:
    HttpError(long status, const std::string &message) : Error(message), status_(status) {}
    long status() const { return status_; }

  private:
    long status_;
};

// The transfer was stopped because the caller's abort check said so (a cancel or a shutdown request).
// The PostgreSQL layer reacts by processing the pending interrupt.
class Interrupted : public Error {
  public:
    Interrupted() : Error("interrupted") {}
};

}  // namespace bulk_ingest
