// Small text helpers shared by the core: ASCII case folding and trimming (HTTP header names, URL schemes and hosts,
// setting values are ASCII by definition; no locale is consulted), hex digits, UTF-8 sequences, and the lists of error
// messages.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace bulk_ingest {

// The value of a hexadecimal digit, or -1 when c is none.
inline int HexValue(char c) {
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

// The length of the valid UTF-8 sequence at s[0, n) (RFC 3629: no overlong forms, no surrogates, nothing above
// U+10FFFF), or 0 when none starts there.
inline size_t Utf8Length(const unsigned char *s, size_t n) {
    unsigned char c = s[0];
    size_t tail;
    unsigned char lo = 0x80, hi = 0xBF;  // the range of the second byte
    if (c < 0x80) {
        return 1;
    } else if (c >= 0xC2 && c <= 0xDF) {
        tail = 1;
    } else if (c >= 0xE0 && c <= 0xEF) {
        tail = 2;
        lo = c == 0xE0 ? 0xA0 : 0x80;
        hi = c == 0xED ? 0x9F : 0xBF;
    } else if (c >= 0xF0 && c <= 0xF4) {
        tail = 3;
        lo = c == 0xF0 ? 0x90 : 0x80;
        hi = c == 0xF4 ? 0x8F : 0xBF;
    } else {
        return 0;
    }
    if (tail >= n || s[1] < lo || s[1] > hi) {
        return 0;
    }
    for (size_t k = 2; k <= tail; k++) {
        if ((s[k] & 0xC0) != 0x80) {
            return 0;
        }
    }
    return tail + 1;
}

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
