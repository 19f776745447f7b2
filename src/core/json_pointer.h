// JSON Pointer (RFC 6901) parsing.
#pragma once

#include <string>
#include <vector>

namespace bulk_ingest {

// Splits a JSON Pointer into its unescaped reference tokens: "" -> {}, "/a/b~1c/~0" -> {"a", "b/c", "~"}.
// Throws bulk_ingest::Error naming the pointer when it does not start with '/' (and is not empty) or holds an
// invalid escape ('~' not followed by '0' or '1').
std::vector<std::string> ParseJsonPointer(const std::string &pointer);

}  // namespace bulk_ingest
