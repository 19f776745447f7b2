// COPY binary format: a header, then per row a 16-bit field count and per field a 32-bit length (-1 for NULL) and
// the bytes the column type's receive function reads (network byte order).
//
// Why: with text rows, COPY on the backend's main thread splits every line and runs every value through its type's
// input function (numeric_in, timestamptz_in, ...), most of a load's time. Binary rows are converted here instead, on
// the read-ahead's core, and PostgreSQL's receive functions only copy them. A value is converted here only when the
// result is certain to be what the type's input function makes of the text (the canonical forms JSON and CSV sources
// send: "-12", "12.50", "2024-05-01T10:00:00Z", ...); anything else (other spellings, out of range, a timestamp
// without an offset, which depends on the session's TimeZone) is left to PostgreSQL's own input function, which also
// raises the error for a bad value.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "grow_buffer.h"
#include "record_reader.h"

namespace bulk_ingest {

// The column types whose values the core converts (the target column's type, exactly: not a domain over it).
enum class BinaryKind : uint8_t {
    kText,  // text, varchar, bpchar: the bytes (max_chars: the declared length, -1 when none)
    kInt2,
    kInt4,
    kInt8,
    kNumeric,  // numeric_precision / numeric_scale: the declared typmod, precision -1 when none
    kFloat4,
    kFloat8,
    kBool,
    kDate,
    kTimestamp,    // without time zone
    kTimestamptz,  // only texts with an offset ("Z", "+02:00")
    kUuid,
    kJson,   // the JSON text
    kJsonb,  // version 1, then the JSON text
};

struct BinaryColumn {
    BinaryKind kind = BinaryKind::kText;
    int32_t max_chars = -1;
    int32_t numeric_precision = -1;
    int32_t numeric_scale = 0;
};

// The 19 bytes a binary COPY stream starts with.
std::string_view CopyBinaryHeader();

// Appends the field (length and bytes) of a non-null value of the column when the conversion is certain; returns
// false and appends nothing otherwise (PostgreSQL's input function is to convert it).
bool AppendBinaryValue(std::string &out, const BinaryColumn &column, std::string_view text);
bool AppendBinaryValue(GrowBuffer &out, const BinaryColumn &column, std::string_view text);

// Appends a NULL field.
void AppendBinaryNull(std::string &out);
void AppendBinaryNull(GrowBuffer &out);

// Appends the field count of a row.
void AppendBinaryRowStart(std::string &out, size_t fields);
void AppendBinaryRowStart(GrowBuffer &out, size_t fields);

// Appends the current record of reader (its first count values, converted as columns[i]) as one binary row; returns
// false, with out as it was, when a value is not converted here.
bool AppendBinaryRow(std::string &out, const RecordReader &reader, const BinaryColumn *columns, size_t count);
bool AppendBinaryRow(GrowBuffer &out, const RecordReader &reader, const BinaryColumn *columns, size_t count);

}  // namespace bulk_ingest
