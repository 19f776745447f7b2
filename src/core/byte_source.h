// A pull-based stream of bytes: the shape of everything between the socket and COPY.
#pragma once

#include <cstddef>

namespace bulk_ingest {

class ByteSource {
  public:
    virtual ~ByteSource() = default;
    // Copies up to max bytes into buf and returns how many; returns 0 only at the end of the stream.
    // Blocks until at least one byte is available. Throws bulk_ingest::Error on failure.
    virtual size_t Read(char *buf, size_t max) = 0;
};

}  // namespace bulk_ingest
