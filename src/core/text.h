// Small text helpers shared by the core's error messages.
#pragma once

#include <string>
#include <vector>

namespace bulk_ingest {

// "a, b, c".
inline std::string Join(const std::vector<std::string> &items) {
    std::string out;
    for (const auto &item : items) {
        out += out.empty() ? "" : ", ";
        out += item;
    }
    return out;
}

}  // namespace bulk_ingest
