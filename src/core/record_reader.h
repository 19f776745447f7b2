// Reads records of one format from a ByteSource and exposes the declared columns' values.
#pragma once

#include <cstdint>
#include <string_view>

namespace bulk_ingest {

// One column's value in the current record. Valid until the next call to Next().
struct FieldValue {
    bool is_null = true;    // JSON null or a missing key
    std::string_view text;  // the value as PostgreSQL's input function should see it (not COPY-escaped)
};

class RecordReader {
  public:
    virtual ~RecordReader() = default;
    // Advances to the next record. Returns false at the end of the input. Throws RecordError for a record that
    // cannot be read (the line number is in the error) and Error/HttpError for failures of the byte source.
    virtual bool Next() = 0;
    // Values of the declared columns for the current record, in declaration order.
    virtual const FieldValue &Field(size_t column) const = 0;
    virtual size_t ColumnCount() const = 0;
    // The value of column as the source wrote it, before its declared "format" converted it (an epoch's number),
    // for a watermark sent back in the source's own form. Valid until the next call to Next().
    virtual std::string_view SourceText(size_t column) const { return Field(column).text; }
    // 1-based line of the input where the current record starts.
    virtual uint64_t Line() const = 0;
    // Bytes of input consumed so far.
    virtual uint64_t BytesConsumed() const = 0;
};

}  // namespace bulk_ingest
