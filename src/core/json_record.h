// Parsing one JSON object record into the declared columns' values: the machinery shared by NdjsonReader and
// JsonReader (RapidJSON SAX in insitu mode, a trie of the declared pointers, numbers exact as written, raw JSON text
// for json columns and for objects/arrays, UTF-8 validation), and small JSON helpers for the readers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "columns.h"
#include "record_reader.h"

namespace bulk_ingest {

inline bool IsJsonSpace(char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

// An RFC 6901 array index: "0" or digits without a leading zero. Returns false for anything else.
bool JsonArrayIndex(const std::string &token, uint64_t *index);

// Returns the offset of the first byte of text that does not start a valid UTF-8 sequence (RFC 3629: no overlong
// forms, no surrogates, nothing above U+10FFFF), or len when the whole text is valid.
size_t FindInvalidUtf8(const char *text, size_t len);

// Validates the JSON number that starts at text[offset] (the number ends at the first byte that cannot continue it,
// or at len). Returns its length, or 0 with *error (RapidJSON's wording) and *error_at (an offset in text) set.
size_t ScanJsonNumber(const char *text, size_t len, size_t offset, const char **error, size_t *error_at);

// Validates the JSON string token text[0, len) (quotes included: UTF-8, escapes, no raw control characters) and
// stores its unescaped value in *out. Returns false with *error and *error_at (an offset in the token) when invalid.
bool UnescapeJsonString(const char *token, size_t len, std::string *out, const char **error, size_t *error_at);

// Parses one record: a JSON object (whitespace around it allowed) into the values of the declared columns.
// - strings unescaped; numbers exactly as written (also beyond double's range); booleans true/false; objects and
//   arrays as their JSON text; json columns get the JSON text of every value (strings keep their quotes);
//   null or a missing key is NULL; a NULL in a non-nullable column is a RecordError naming the column.
// - a key that a declared path goes through may occur only once in its object: {"id": 3, "id": 4} is a RecordError
//   naming the key (which value was meant cannot be known, and RFC 8259 leaves it to the implementation). Keys no
//   declared path goes through are not checked: they change nothing that is loaded. The text of a json/jsonb value
//   is passed on as it is (jsonb keeps the last value of a duplicate key, as PostgreSQL does).
// - errors are RecordErrors "<unit> <position>: ..." with byte offsets relative to the record's text.
class JsonRecordParser {
  public:
    // unit names the position in errors: "line" (NDJSON) or "record" (JSON). It must outlive the parser.
    JsonRecordParser(std::vector<ColumnSpec> columns, const char *unit);
    ~JsonRecordParser();
    JsonRecordParser(const JsonRecordParser &) = delete;
    JsonRecordParser &operator=(const JsonRecordParser &) = delete;

    // Parses text[0, len). The text must stay valid and unchanged until the next Parse: values may point into it.
    // Throws RecordError(unit, position, ...) when the record is invalid.
    void Parse(const char *text, size_t len, uint64_t position);

    const FieldValue &Field(size_t column) const { return (*fields_)[column]; }
    // The column's text before its declared format converted it (RecordReader::SourceText).
    std::string_view SourceText(size_t column) const;
    size_t ColumnCount() const { return fields_->size(); }
    const std::vector<ColumnSpec> &Columns() const;
    // Bytes held by the parse buffer (for memory checks).
    size_t BufferBytes() const;
    // Gives back the parse buffer when a long record made it large (the values of the record become invalid).
    void ReleaseRecord() noexcept;

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
    const std::vector<FieldValue> *fields_;
};

// How a JSON value starting with the character first is called in messages: "an object", "an array", "a string"...
const char *DescribeJsonValue(char first);

}  // namespace bulk_ingest
