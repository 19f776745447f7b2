// Conversions of values that PostgreSQL's input functions cannot do from the source's text alone: JSON arrays into
// PostgreSQL array literals (array-typed columns) and the per-column "format"s epoch, epoch_ms and base64.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "columns.h"
#include "record_reader.h"

namespace bulk_ingest {

// The names of the known formats ("base64", "epoch", "epoch_ms"), for declarations and error messages.
extern const std::vector<std::string> kValueFormats;

// The format called name; false when there is none.
bool ValueFormatFromName(const std::string &name, ValueFormat *format);
// The name of format ("" for kNone).
const char *ValueFormatName(ValueFormat format);

// Each Append* function appends the converted text to *out and returns true, or returns false with *error set to a
// message that names the value (not the column) and leaves *out in an unspecified state.

// A decimal number (JSON number syntax; also a leading '+', ".5", "5." and surrounding ASCII spaces) of seconds
// (scale_digits 0) or milliseconds (3) since 1970-01-01 00:00:00 UTC -> "2024-01-01T10:00:00.5Z", rounded to the
// microsecond (half away from zero). Years after 9999 have more digits; years before 1 AD are written
// "0044-03-15 12:00:00+00 BC" (PostgreSQL's own form). Out of range: before 4714-11-24 BC or from 294277 AD on.
bool AppendEpochTimestamp(std::string_view text, int scale_digits, std::string *out, std::string *error);

// RFC 4648 base64, standard (+/) or URL-safe (-_) alphabet, '=' padding optional, ASCII whitespace ignored ->
// PostgreSQL bytea hex text "\x0102ff".
bool AppendBase64AsBytea(std::string_view text, std::string *out, std::string *error);

// Applies format (kNone: copies text).
bool AppendFormatted(ValueFormat format, std::string_view text, std::string *out, std::string *error);

// The JSON text of an array -> a PostgreSQL array literal: [1, null, "a,b", true, [2]] -> {1,NULL,"a,b",true,{2}}.
// Strings are always double-quoted with '"' and '\' backslash-escaped; numbers as written; null -> NULL. A non-null
// scalar element is converted by element_format first (then quoted). An object element, \u0000 or a lone surrogate
// in a string, or text that is not a JSON array is an error.
bool AppendPgArrayFromJson(std::string_view json, ValueFormat element_format, std::string *out, std::string *error);

// The conversions of the declared columns for a record reader, with one reusable buffer per converted column (no
// heap allocation in steady state). Errors are RecordErrors "<unit> <position>: column "<name>": ...".
class ValueConverter {
  public:
    // json_values: the values are JSON (NDJSON, JSON), so array columns get JSON arrays converted. Otherwise (CSV)
    // the text of an array column is already a PostgreSQL array literal: it is neither converted nor formatted.
    ValueConverter(const std::vector<ColumnSpec> &columns, bool json_values);

    // Whether column c is an array column (array && !json) whose JSON arrays become array literals.
    bool ConvertsArrays(size_t c) const { return array_[c]; }

    // Converts the JSON array text json of column c (ConvertsArrays(c)) and returns the literal, valid until the
    // next conversion of column c.
    std::string_view ConvertArray(size_t c, std::string_view json, const char *unit, uint64_t position);

    // Applies the formats to the non-null fields of the record, except values produced by ConvertArray (whose
    // elements were converted already). fields[c] belongs to column c.
    void ApplyFormats(std::vector<FieldValue> &fields, const char *unit, uint64_t position);

    // The text of column c before ApplyFormats converted it (field: the column's current value).
    std::string_view SourceText(size_t c, const FieldValue &field) const {
        return source_[c].data() != nullptr ? source_[c] : field.text;
    }

  private:
    std::string &Buffer(size_t c, size_t need);

    std::vector<ColumnSpec> columns_;
    std::vector<bool> array_;
    std::vector<uint32_t> formatted_;  // columns with a format (not json)
    std::vector<std::string> buffers_;
    std::vector<std::string_view> source_;  // per column: the text before its format, when one was applied
    std::string scratch_, converted_;       // work buffers of array conversions
    std::string error_;
};

}  // namespace bulk_ingest
