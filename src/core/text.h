// Small text helpers shared by the core: ASCII case folding and trimming (HTTP header names, URL schemes and hosts,
// setting values are ASCII by definition; no locale is consulted), and the lists of error messages.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace bulk_ingest {

inline char AsciiLower(char c) {
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

inline std::string AsciiLowerCase(std::string_view text) {
    std::string out(text);
    for (char &c : out) {
        c = AsciiLower(c);
    }
    return out;
}

inline bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) {
        return false;
    }
    for (size_t i = 0; i < a.size(); i++) {
        if (AsciiLower(a[i]) != AsciiLower(b[i])) {
            return false;
        }
    }
    return true;
}

// Space, tab, CR and LF: the blanks around header values and list entries.
inline bool IsBlank(char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

inline std::string TrimBlanks(std::string_view text) {
    size_t start = 0;
    size_t end = text.size();
    while (start < end && IsBlank(text[start])) {
        start++;
    }
    while (end > start && IsBlank(text[end - 1])) {
        end--;
    }
    return std::string(text.substr(start, end - start));
}

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
