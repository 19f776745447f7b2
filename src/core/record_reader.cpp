// Messages shared by the record readers.
#include "record_reader.h"

#include "text.h"

namespace bulk_ingest {

std::string FormatBytes(uint64_t bytes) {
    static const char *const kUnits[] = {"kB", "MB", "GB", "TB"};
    if (bytes == 0 || bytes % 1024 != 0) {
        return std::to_string(bytes) + " bytes";
    }
    uint64_t value = bytes / 1024;
    int unit = 0;
    while (unit < 3 && value % 1024 == 0) {
        value /= 1024;
        unit++;
    }
    return std::to_string(value) + " " + kUnits[unit];
}

std::string Excerpt(const char *text, size_t len, size_t at, size_t radius) {
    const unsigned char *s = reinterpret_cast<const unsigned char *>(text);
    at = at > len ? len : at;
    size_t start = at > radius ? at - radius : 0;
    while (start > 0 && start < len && (s[start] & 0xC0) == 0x80 && at - start < radius + 3) {
        start--;  // not in the middle of a character
    }
    size_t end = len - at > radius ? at + radius : len;
    std::string out = start > 0 ? "..." : "";
    static const char kHex[] = "0123456789ABCDEF";
    size_t i = start;
    while (i < end) {
        unsigned char c = s[i];
        size_t n = Utf8Length(s + i, len - i);
        if (n == 0) {
            out += "\\x";
            out += kHex[c >> 4];
            out += kHex[c & 15];
            i++;
        } else if (n > 1) {
            out.append(text + i, n);  // may run past end: a character is not cut
            i += n;
        } else if (c == '"' || c == '\\') {
            out += '\\';
            out += static_cast<char>(c);
            i++;
        } else if (c == '\n') {
            out += "\\n";
            i++;
        } else if (c == '\r') {
            out += "\\r";
            i++;
        } else if (c == '\t') {
            out += "\\t";
            i++;
        } else if (c < 0x20 || c == 0x7F) {
            out += "\\u00";
            out += kHex[c >> 4];
            out += kHex[c & 15];
            i++;
        } else {
            out += static_cast<char>(c);
            i++;
        }
    }
    if (i < len) {
        out += "...";
    }
    return out;
}

std::string RecordTooLong(const char *what, size_t limit) {
    return std::string("the ") + what + " is longer than " + FormatBytes(limit) +
           ", the largest record allowed (bulk_ingest.max_record_size)";
}

}  // namespace bulk_ingest
