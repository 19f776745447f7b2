// A RecordReader for encoding tests: one record of fixed values, already current.
#pragma once

#include <utility>
#include <vector>

#include "record_reader.h"

namespace bulk_ingest::testing {

class FixedReader : public RecordReader {
  public:
    explicit FixedReader(std::vector<FieldValue> fields) : fields_(std::move(fields)) {}
    bool Next() override { return false; }
    const FieldValue &Field(size_t column) const override { return fields_[column]; }
    size_t ColumnCount() const override { return fields_.size(); }
    uint64_t Line() const override { return 1; }
    uint64_t BytesConsumed() const override { return 0; }
    uint64_t PositionReached() const override { return 2; }

  private:
    std::vector<FieldValue> fields_;
};

}  // namespace bulk_ingest::testing
