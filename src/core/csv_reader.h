// CSV (format "csv", RFC 4180), read as a stream: memory holds one record plus a read block.
//
// Syntax
// - Fields are separated by options.delimiter; records end at LF, CRLF or CR. A field that starts with
//   options.quote is quoted: it may hold delimiters, line breaks and quotes; it ends at the next quote that is not
//   escaped, which must be followed by a delimiter, a line break or the end of the input. In a quoted field the
//   escape character (options.escape, the quote itself by default: "" stands for ") followed by the quote or the
//   escape character stands for that character; before any other character it is an ordinary character. A quote
//   inside an unquoted field is an ordinary character.
// - NULL: an unquoted field equal to options.null_string (default "": an empty unquoted field) is NULL; a quoted
//   field never is ("" is an empty string).
// - An empty line is skipped, unless records have a single field: then it is that field, empty (NULL by default).
// - A UTF-8 byte order mark at the start is skipped. The text must be UTF-8 (invalid bytes are a RecordError).
//
// Columns
// - Each declared column's JSON Pointer (ColumnSpec::pointer) must have exactly one reference token:
//     "/<name>"     the header column named <name> (exact, case-sensitive; "/a~1b" names "a/b", as JSON Pointer)
//     "/#<number>"  the column at that 1-based position (works with or without a header row)
// - With options.header (the default) the first record is the header. A declared name the header lacks, or holds
//   twice, or a number beyond the header's width, is an Error naming the columns and listing the header's names.
//   Header columns that no declared column uses are ignored.
// - Every record must have as many fields as the header (or, without a header, as the first record); otherwise it
//   is a RecordError naming the line, both counts and the option that would accept it. options.missing_fields_null
//   accepts shorter records (the missing trailing fields are NULL), options.extra_fields_ignore longer ones (the
//   fields beyond the header's are ignored).
// - json columns get the field's text unchanged (it must be JSON for PostgreSQL to accept it).
//
// Positions: Line() is the physical (1-based) line where the current record starts (quoted line breaks count);
// RecordErrors say "line N: ...".
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "byte_source.h"
#include "columns.h"
#include "record_reader.h"

namespace bulk_ingest {

struct CsvReaderOptions {
    char delimiter = ',';
    char quote = '"';
    std::optional<char> escape;        // nullopt: the quote character (RFC 4180 doubling)
    std::string null_string;           // an unquoted field equal to this is NULL
    bool header = true;                // the first record names the columns
    bool missing_fields_null = false;  // a record with fewer fields: the missing trailing ones are NULL
    bool extra_fields_ignore = false;  // a record with more fields: the extra ones are ignored
};

class CsvReader final : public RecordReader {
  public:
    // Throws Error for invalid options or column paths (see above). A record longer than max_record_bytes is a
    // RecordError.
    CsvReader(ByteSource &source, std::vector<ColumnSpec> columns, CsvReaderOptions options = {},
              size_t max_record_bytes = kDefaultMaxRecordBytes);
    ~CsvReader() override;

    // The first call reads the header (when options.header) and throws Error when it does not match the columns.
    bool Next() override;
    const FieldValue &Field(size_t column) const override;
    std::string_view SourceText(size_t column) const override;
    size_t ColumnCount() const override;
    uint64_t Line() const override;
    uint64_t BytesConsumed() const override;
    uint64_t PositionReached() const override;
    void ReleaseRecord() noexcept override;
    std::string_view RecordText() const override;

    // The header's names (empty before the first Next() or without a header row).
    const std::vector<std::string> &Header() const;
    // Bytes held by the reader's buffers (read block and record buffer): for memory checks.
    size_t BufferBytes() const;

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace bulk_ingest
