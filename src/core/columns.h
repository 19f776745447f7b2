// The declared columns, as the core needs them: where each value is found and how it is rendered.
#pragma once

#include <string>
#include <vector>

namespace bulk_ingest {

// A conversion of a column's value that PostgreSQL's input function cannot do from the text alone, declared with the
// column's "format" key (value_format.h).
enum class ValueFormat {
    kNone,
    kEpoch,    // "epoch": seconds since 1970-01-01 UTC (a number or a numeric string) -> ISO 8601 UTC timestamp text
    kEpochMs,  // "epoch_ms": the same in milliseconds
    kBase64,   // "base64": RFC 4648 base64 (standard or URL-safe alphabet, padding optional) -> bytea hex "\x..."
};

struct ColumnSpec {
    std::string name;                  // column name, for error messages
    std::vector<std::string> pointer;  // JSON Pointer reference tokens, already unescaped ("/a~1b" -> {"a/b"})
    bool nullable = true;              // false: a missing key or JSON null is a RecordError naming the column
    bool json = false;                 // true (json/jsonb columns): the value's JSON text, strings keep quotes
    bool array = false;  // true (array-typed columns): a JSON array becomes a PostgreSQL array literal {1,"a",NULL}
    ValueFormat format = ValueFormat::kNone;  // applied to non-null values (to each element of a converted array)
};

}  // namespace bulk_ingest
