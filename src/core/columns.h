// The declared columns, as the core needs them: where each value is found and how it is rendered.
#pragma once

#include <string>
#include <vector>

namespace bulk_ingest {

struct ColumnSpec {
    std::string name;                  // column name, for error messages
    std::vector<std::string> pointer;  // JSON Pointer reference tokens, already unescaped ("/a~1b" -> {"a/b"})
    bool nullable = true;              // false: a missing key or JSON null is a RecordError naming the column
    bool json = false;                 // true (json/jsonb columns): the value's JSON text, strings keep quotes
};

}  // namespace bulk_ingest
