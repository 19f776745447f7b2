// Reads records of one format from a ByteSource and exposes the declared columns' values.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace bulk_ingest {

// The largest record a reader gathers unless told otherwise (bytes of the record's text: an NDJSON line, an
// element of a JSON array, a CSV record). Every reader holds a record whole, and loading it makes a few more copies
// of it (COPY's line, its fields, the datum): the limit bounds a run's memory and fails the record clearly
// instead. The PostgreSQL layer sets it from bulk_ingest.max_record_size.
constexpr size_t kDefaultMaxRecordBytes = size_t(64) << 20;

// "the line is longer than 64 MB, the largest record allowed (bulk_ingest.max_record_size)"
std::string RecordTooLong(const char *what, size_t limit);

// A size as PostgreSQL shows memory settings (1024-based units): "64 MB", "512 kB", "1000 bytes".
std::string FormatBytes(uint64_t bytes);

// A short, printable excerpt of text around byte at, for an error message: about radius bytes on either side, cut at
// UTF-8 character boundaries, "..." where text was cut; control characters, quotes and backslashes escaped as in
// JSON (\n, \u0001, \", \\), bytes that are not UTF-8 as \xE9.
std::string Excerpt(const char *text, size_t len, size_t at, size_t radius = 20);

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
    // Where reading stands, for an error of the input itself (a broken transfer, bytes that are not in the declared
    // charset): the 1-based position (line, or record for JSON) of the record being read when Next() threw, which
    // is the one after the last complete record.
    virtual uint64_t PositionReached() const = 0;
    // The values of the current record are no longer needed: the memory a long record took may be given back now
    // rather than at the next Next(), so that it is not held while the record is loaded. Field() must not be used
    // again before the next Next().
    virtual void ReleaseRecord() noexcept {}
    // The text of the record Next() last read or refused, when the reader has it (for bulk_ingest.rejects): an
    // NDJSON line, a JSON record, a CSV record's fields joined by the delimiter. Valid until the next Next().
    virtual std::string_view RecordText() const { return std::string_view(); }
    // The current record's row in COPY's text format (copy_text.h), newline included, when the reader encoded it
    // ahead (the read-ahead does, on its own thread: prefetch.h); empty when the caller is to encode it. Valid until
    // the next Next() or ReleaseRecord().
    virtual std::string_view CopyRow() const { return std::string_view(); }
};

}  // namespace bulk_ingest
