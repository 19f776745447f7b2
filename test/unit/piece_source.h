// A ByteSource for reader tests: serves its data in pieces whose sizes cycle through a pattern, so that every
// reader is tested with records split at every possible place.
#pragma once

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "byte_source.h"

namespace bulk_ingest::testing {

class PieceSource : public ByteSource {
  public:
    PieceSource(std::string data, std::vector<size_t> pattern) : data_(std::move(data)), pattern_(std::move(pattern)) {}
    size_t Read(char *buf, size_t max) override {
        if (pos_ == data_.size()) {
            return 0;
        }
        size_t n = std::min({pattern_[reads_++ % pattern_.size()], max, data_.size() - pos_});
        memcpy(buf, data_.data() + pos_, n);
        pos_ += n;
        return n;
    }

  private:
    std::string data_;
    std::vector<size_t> pattern_;
    size_t pos_ = 0;
    size_t reads_ = 0;
};

// The read patterns every reader test runs with.
inline const std::vector<std::vector<size_t>> kPatterns = {
    {size_t(1) << 30},       // as much as the reader asks for
    {1},                     // one byte at a time
    {1, 2, 3, 4, 5, 6, 7},   // tiny uneven pieces
    {7, 3, 1, 65536, 5, 2},  // mixed
};

}  // namespace bulk_ingest::testing
