// Newline-delimited JSON: one JSON object per line. Streams: holds one line (and one read buffer) at a time.
#pragma once

#include <memory>
#include <vector>

#include "byte_source.h"
#include "columns.h"
#include "record_reader.h"

namespace bulk_ingest {

class NdjsonReader final : public RecordReader {
  public:
    // A line longer than max_record_bytes is a RecordError (found before more than that is held).
    NdjsonReader(ByteSource &source, std::vector<ColumnSpec> columns, size_t max_record_bytes = kDefaultMaxRecordBytes);
    ~NdjsonReader() override;

    bool Next() override;
    const FieldValue &Field(size_t column) const override;
    std::string_view SourceText(size_t column) const override;
    size_t ColumnCount() const override;
    uint64_t Line() const override;
    uint64_t BytesConsumed() const override;
    uint64_t PositionReached() const override;
    void ReleaseRecord() noexcept override;
    std::string_view RecordText() const override;

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace bulk_ingest
