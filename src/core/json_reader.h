// JSON documents whose records are the elements of an array at a JSON Pointer (format "json"), read as a stream:
// memory holds one record plus fixed buffers, whatever the size of the document or of the array.
//
// - options.records_path: the JSON Pointer of the array of records; "" (the default) means the document itself is
//   that array. A document without a value there, or with something other than an array there, is an Error naming
//   the pointer.
// - Each element of the array is one record and must be a JSON object (anything else is a RecordError). The declared
//   columns' pointers apply within each record, with NdjsonReader's value rules (json_record.h).
// - Positions: Line() is the 1-based index of the current record in the array, and RecordErrors say "record N: ...",
//   with byte offsets relative to the record. Errors in the rest of the document are Errors "invalid JSON at byte X"
//   (X counts from the start of the document); the reader then stays failed.
// - options.metadata_paths: JSON Pointers of values elsewhere in the document (not inside the records array), for
//   pagination (e.g. /links/next, /meta/next_cursor). Metadata(i) returns the scalar found there: a string
//   unescaped, a number as written, true/false; nullopt when absent or null. An object or array there is an Error.
//   Values that follow the records array are known only once Next() has returned false.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "byte_source.h"
#include "columns.h"
#include "record_reader.h"

namespace bulk_ingest {

struct JsonReaderOptions {
    std::string records_path;                 // JSON Pointer of the array of records; "" = the top-level value
    std::vector<std::string> metadata_paths;  // JSON Pointers of scalars outside the records to capture
};

class JsonReader final : public RecordReader {
  public:
    // Throws Error when a pointer of options is invalid, or a metadata path lies inside (or contains) the records.
    // A record (or a value outside the records) longer than max_record_bytes is an error naming it.
    JsonReader(ByteSource &source, std::vector<ColumnSpec> columns, JsonReaderOptions options = {},
               size_t max_record_bytes = kDefaultMaxRecordBytes);
    ~JsonReader() override;

    bool Next() override;
    const FieldValue &Field(size_t column) const override;
    std::string_view SourceText(size_t column) const override;
    size_t ColumnCount() const override;
    // 1-based index of the current record within the records array.
    uint64_t Line() const override;
    uint64_t BytesConsumed() const override;
    uint64_t PositionReached() const override;
    void ReleaseRecord() noexcept override;
    std::string_view RecordText() const override;

    // The value at options.metadata_paths[i] (see above).
    const std::optional<std::string> &Metadata(size_t i) const;

    // Bytes held by the reader's buffers (read block, record, token and parse buffers): for memory checks.
    size_t BufferBytes() const;

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace bulk_ingest
