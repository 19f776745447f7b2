// COPY binary format encoding: the conversions the core is certain of (copy_binary.h says which, and why).
#include "copy_binary.h"

#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>
#include <system_error>
#include <type_traits>

#include "text.h"

namespace bulk_ingest {

namespace {

// The header: signature, flags (no OIDs), header extension length 0.
constexpr char kHeader[19] = {'P', 'G', 'C', 'O', 'P', 'Y', '\n', '\xff', '\r', '\n', '\0', 0, 0, 0, 0, 0, 0, 0, 0};

// Days from 1970-01-01 to the date of the proleptic Gregorian calendar (H. Hinnant's days_from_civil).
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = static_cast<unsigned>(y - era * 400);
    const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

// PostgreSQL's dates and timestamps count from 2000-01-01.
constexpr int64_t kPostgresEpochDays = 10957;  // DaysFromCivil(2000, 1, 1)
constexpr int64_t kMicrosPerDay = int64_t(86400) * 1000000;

bool IsDigit(char c) {
    return c >= '0' && c <= '9';
}

// n digits at text[at], into *value.
bool Digits(std::string_view text, size_t at, size_t n, unsigned *value) {
    if (at + n > text.size()) {
        return false;
    }
    unsigned v = 0;
    for (size_t i = at; i < at + n; i++) {
        if (!IsDigit(text[i])) {
            return false;
        }
        v = v * 10 + static_cast<unsigned>(text[i] - '0');
    }
    *value = v;
    return true;
}

bool IsLeapYear(unsigned y) {
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

unsigned DaysInMonth(unsigned y, unsigned m) {
    static const unsigned kDays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && IsLeapYear(y) ? 29 : kDays[m - 1];
}

// "YYYY-MM-DD" at the start of text (years 1 to 9999): days since 2000-01-01.
bool ParseDate(std::string_view text, int64_t *days) {
    unsigned y, m, d;
    if (text.size() < 10 || text[4] != '-' || text[7] != '-' || !Digits(text, 0, 4, &y) || !Digits(text, 5, 2, &m) ||
        !Digits(text, 8, 2, &d)) {
        return false;
    }
    if (y < 1 || m < 1 || m > 12 || d < 1 || d > DaysInMonth(y, m)) {
        return false;  // (PostgreSQL's error, or its reading of year 0 as 1 BC)
    }
    *days = DaysFromCivil(y, m, d) - kPostgresEpochDays;
    return true;
}

// "YYYY-MM-DD[T ]HH:MM:SS[.f{1,6}]" then, with_offset, "Z" or "+HH", "+HHMM", "+HH:MM" (and "-"): microseconds since
// 2000-01-01 (UTC with an offset). Hour 24, second 60 and more than six fractional digits (which PostgreSQL rounds
// through a double) are left to PostgreSQL.
bool ParseTimestamp(std::string_view text, bool with_offset, int64_t *micros) {
    int64_t days;
    unsigned h, mi, s;
    if (!ParseDate(text, &days) || text.size() < 19 || (text[10] != 'T' && text[10] != ' ') || text[13] != ':' ||
        text[16] != ':' || !Digits(text, 11, 2, &h) || !Digits(text, 14, 2, &mi) || !Digits(text, 17, 2, &s) ||
        h > 23 || mi > 59 || s > 59) {
        return false;
    }
    size_t at = 19;
    int64_t fraction = 0;
    if (at < text.size() && text[at] == '.') {
        size_t start = ++at;
        while (at < text.size() && IsDigit(text[at])) {
            at++;
        }
        size_t n = at - start;
        if (n == 0 || n > 6) {
            return false;
        }
        unsigned f;
        Digits(text, start, n, &f);
        fraction = f;
        for (size_t i = n; i < 6; i++) {
            fraction *= 10;
        }
    }
    int64_t offset_seconds = 0;
    if (with_offset) {
        if (at == text.size()) {
            return false;  // the session's TimeZone would decide
        }
        if (text[at] == 'Z') {
            at++;
        } else if (text[at] == '+' || text[at] == '-') {
            bool west = text[at] == '-';
            unsigned oh, om = 0;
            if (!Digits(text, at + 1, 2, &oh)) {
                return false;
            }
            at += 3;
            if (at < text.size() && text[at] == ':') {
                at++;
            }
            if (at < text.size()) {
                if (!Digits(text, at, 2, &om)) {
                    return false;
                }
                at += 2;
            }
            if (oh > 15 || om > 59) {
                return false;
            }
            offset_seconds = (static_cast<int64_t>(oh) * 60 + om) * 60 * (west ? -1 : 1);
        } else {
            return false;
        }
    }
    if (at != text.size()) {
        return false;
    }
    int64_t seconds = (static_cast<int64_t>(h) * 60 + mi) * 60 + s - offset_seconds;
    *micros = days * kMicrosPerDay + seconds * 1000000 + fraction;
    return true;
}

// A decimal integer: "-" or nothing, then 1 to 19 digits, in [min, max].
bool ParseInteger(std::string_view text, int64_t min, int64_t max, int64_t *value) {
    size_t at = 0;
    bool negative = !text.empty() && text[0] == '-';
    at += negative;
    size_t n = text.size() - at;
    if (n == 0 || n > 19) {
        return false;
    }
    uint64_t v = 0;
    for (size_t i = at; i < text.size(); i++) {
        if (!IsDigit(text[i])) {
            return false;
        }
        uint64_t digit = static_cast<uint64_t>(text[i] - '0');
        if (v > (UINT64_MAX - digit) / 10) {
            return false;
        }
        v = v * 10 + digit;
    }
    if (negative) {
        // -(min + 1) + 1 is |min|, written so that it does not overflow.
        if (v > static_cast<uint64_t>(-(min + 1)) + 1) {
            return false;
        }
        *value = v == 0 ? 0 : -static_cast<int64_t>(v - 1) - 1;
    } else {
        if (v > static_cast<uint64_t>(max)) {
            return false;
        }
        *value = static_cast<int64_t>(v);
    }
    return true;
}

// "-" or nothing, digits, then optionally "." and digits, then optionally an exponent: the spellings of a JSON
// number (and "1." / "-0"), which strtod and from_chars read alike.
bool IsPlainFloat(std::string_view text) {
    size_t at = !text.empty() && text[0] == '-';
    size_t start = at;
    while (at < text.size() && IsDigit(text[at])) {
        at++;
    }
    if (at == start) {
        return false;
    }
    if (at < text.size() && text[at] == '.') {
        at++;
        while (at < text.size() && IsDigit(text[at])) {
            at++;
        }
    }
    if (at < text.size() && (text[at] == 'e' || text[at] == 'E')) {
        at++;
        if (at < text.size() && (text[at] == '+' || text[at] == '-')) {
            at++;
        }
        size_t exponent = at;
        while (at < text.size() && IsDigit(text[at])) {
            at++;
        }
        if (at == exponent) {
            return false;
        }
    }
    return at == text.size();
}

char *Put16(char *p, uint16_t v) {
    p[0] = static_cast<char>(v >> 8);
    p[1] = static_cast<char>(v);
    return p + 2;
}

char *Put32(char *p, uint32_t v) {
    for (int i = 3; i >= 0; i--) {
        p[3 - i] = static_cast<char>(v >> (8 * i));
    }
    return p + 4;
}

char *Put64(char *p, uint64_t v) {
    for (int i = 7; i >= 0; i--) {
        p[7 - i] = static_cast<char>(v >> (8 * i));
    }
    return p + 8;
}

// A field of a fixed-size value: length, then the value's bytes.
template <typename Out>
void PutFixed(Out &out, uint64_t v, int bytes) {
    char field[12];
    char *p = Put32(field, static_cast<uint32_t>(bytes));
    switch (bytes) {
        case 1:
            *p = static_cast<char>(v);
            break;
        case 2:
            Put16(p, static_cast<uint16_t>(v));
            break;
        case 4:
            Put32(p, static_cast<uint32_t>(v));
            break;
        default:
            Put64(p, v);
            break;
    }
    out.append(field, 4 + static_cast<size_t>(bytes));
}

template <typename Out>
void PutBytes(Out &out, const char *prefix, size_t prefix_len, std::string_view text) {
    char length[4];
    Put32(length, static_cast<uint32_t>(prefix_len + text.size()));
    out.append(length, 4);
    if (prefix_len > 0) {
        out.append(prefix, prefix_len);
    }
    out.append(text.data(), text.size());
}

// numeric's external binary form (numeric_recv): digit count, weight, sign, display scale, then base-10000 digits
// (weight: the power of 10000 of the first). numeric_recv applies the column's typmod, rounding as numeric_in does;
// only values whose rounding cannot overflow it are converted here.
template <typename Out>
bool PutNumeric(Out &out, const BinaryColumn &column, std::string_view text) {
    constexpr size_t kMaxDigits = 1000;
    size_t at = 0;
    bool negative = !text.empty() && text[0] == '-';
    at += negative;
    size_t int_start = at;
    while (at < text.size() && IsDigit(text[at])) {
        at++;
    }
    size_t int_end = at;
    if (int_end == int_start) {
        return false;
    }
    size_t frac_start = at, frac_end = at;
    if (at < text.size() && text[at] == '.') {
        frac_start = ++at;
        while (at < text.size() && IsDigit(text[at])) {
            at++;
        }
        frac_end = at;
    }
    if (at != text.size()) {
        return false;  // an exponent, "NaN", spaces, ...
    }
    while (int_start < int_end && text[int_start] == '0') {
        int_start++;
    }
    size_t int_digits = int_end - int_start, frac_digits = frac_end - frac_start;
    if (int_digits + frac_digits > kMaxDigits) {
        return false;
    }
    // Rounding to the scale adds an integer digit at most (9.995 -> 10.00).
    if (column.numeric_precision >= 0 &&
        static_cast<int64_t>(int_digits) >= int64_t(column.numeric_precision) - column.numeric_scale) {
        return false;
    }
    uint16_t digits[kMaxDigits / 4 + 2];
    size_t n = 0;
    size_t int_groups = (int_digits + 3) / 4;
    size_t p = int_start;
    for (size_t g = 0; g < int_groups; g++) {
        size_t take = g == 0 ? int_digits - 4 * (int_groups - 1) : 4;
        unsigned v = 0;
        for (size_t i = 0; i < take; i++) {
            v = v * 10 + static_cast<unsigned>(text[p++] - '0');
        }
        digits[n++] = static_cast<uint16_t>(v);
    }
    for (p = frac_start; p < frac_end; p += 4) {
        unsigned v = 0;
        for (size_t i = 0; i < 4; i++) {
            v = v * 10 + (p + i < frac_end ? static_cast<unsigned>(text[p + i] - '0') : 0);
        }
        digits[n++] = static_cast<uint16_t>(v);
    }
    int weight = static_cast<int>(int_groups) - 1;
    size_t first = 0;
    while (first < n && digits[first] == 0) {
        first++;
        weight--;
    }
    while (n > first && digits[n - 1] == 0) {
        n--;
    }
    size_t count = n - first;
    uint16_t sign = negative ? 0x4000 : 0x0000;
    if (count == 0) {
        weight = 0;
        sign = 0x0000;  // zero is positive
    }
    char head[12];
    char *h = Put32(head, static_cast<uint32_t>(8 + 2 * count));
    h = Put16(h, static_cast<uint16_t>(count));
    h = Put16(h, static_cast<uint16_t>(static_cast<int16_t>(weight)));
    h = Put16(h, sign);
    Put16(h, static_cast<uint16_t>(frac_digits));
    out.append(head, sizeof(head));
    char body[2 * (kMaxDigits / 4 + 2)];
    char *b = body;
    for (size_t i = first; i < n; i++) {
        b = Put16(b, digits[i]);
    }
    out.append(body, static_cast<size_t>(b - body));
    return true;
}

// The canonical spelling only: 8-4-4-4-12 hexadecimal digits.
template <typename Out>
bool PutUuid(Out &out, std::string_view text) {
    if (text.size() != 36) {
        return false;
    }
    char field[20];
    char *p = Put32(field, 16);
    size_t at = 0;
    for (int byte = 0; byte < 16; byte++) {
        if (at == 8 || at == 13 || at == 18 || at == 23) {
            if (text[at] != '-') {
                return false;
            }
            at++;
        }
        int hi = HexValue(text[at]), lo = HexValue(text[at + 1]);
        if (hi < 0 || lo < 0) {
            return false;
        }
        *p++ = static_cast<char>(hi * 16 + lo);
        at += 2;
    }
    out.append(field, sizeof(field));
    return true;
}

template <typename Out>
bool PutText(Out &out, const BinaryColumn &column, std::string_view text) {
    if (std::memchr(text.data(), '\0', text.size()) != nullptr) {
        return false;  // PostgreSQL's error (text cannot hold it)
    }
    if (column.max_chars >= 0 && text.size() > static_cast<size_t>(column.max_chars)) {
        size_t chars = 0;  // UTF-8: the bytes that start a character
        for (char c : text) {
            chars += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
        }
        if (chars > static_cast<size_t>(column.max_chars)) {
            return false;  // varchar(n)'s own rule (trailing spaces cut, or its error)
        }
    }
    PutBytes(out, nullptr, 0, text);
    return true;
}

template <typename Out>
bool AppendValue(Out &out, const BinaryColumn &column, std::string_view text) {
    int64_t i;
    switch (column.kind) {
        case BinaryKind::kText:
            return PutText(out, column, text);
        case BinaryKind::kJson:
            PutBytes(out, nullptr, 0, text);
            return true;
        case BinaryKind::kJsonb:
            PutBytes(out, "\x01", 1, text);
            return true;
        case BinaryKind::kInt2:
            if (!ParseInteger(text, INT16_MIN, INT16_MAX, &i)) {
                return false;
            }
            PutFixed(out, static_cast<uint64_t>(i), 2);
            return true;
        case BinaryKind::kInt4:
            if (!ParseInteger(text, INT32_MIN, INT32_MAX, &i)) {
                return false;
            }
            PutFixed(out, static_cast<uint64_t>(i), 4);
            return true;
        case BinaryKind::kInt8:
            if (!ParseInteger(text, INT64_MIN, INT64_MAX, &i)) {
                return false;
            }
            PutFixed(out, static_cast<uint64_t>(i), 8);
            return true;
        case BinaryKind::kNumeric:
            return PutNumeric(out, column, text);
        case BinaryKind::kFloat4:
        case BinaryKind::kFloat8: {
            if (!IsPlainFloat(text)) {
                return false;
            }
            bool single = column.kind == BinaryKind::kFloat4;
            double d = 0;
            float f = 0;
            std::from_chars_result r = single ? std::from_chars(text.data(), text.data() + text.size(), f)
                                              : std::from_chars(text.data(), text.data() + text.size(), d);
            if (r.ec != std::errc() || r.ptr != text.data() + text.size()) {
                return false;  // out of range: PostgreSQL's error
            }
            // Subnormal results are PostgreSQL's to judge (strtod reports them as out of range).
            int cls = single ? std::fpclassify(f) : std::fpclassify(d);
            if (cls != FP_NORMAL && cls != FP_ZERO) {
                return false;
            }
            if (single) {
                uint32_t bits;
                std::memcpy(&bits, &f, 4);
                PutFixed(out, bits, 4);
            } else {
                uint64_t bits;
                std::memcpy(&bits, &d, 8);
                PutFixed(out, bits, 8);
            }
            return true;
        }
        case BinaryKind::kBool:
            if (text == "true" || text == "t") {
                PutFixed(out, 1, 1);
            } else if (text == "false" || text == "f") {
                PutFixed(out, 0, 1);
            } else {
                return false;
            }
            return true;
        case BinaryKind::kDate: {
            int64_t days;
            if (text.size() != 10 || !ParseDate(text, &days)) {
                return false;
            }
            PutFixed(out, static_cast<uint64_t>(days), 4);
            return true;
        }
        case BinaryKind::kTimestamp:
        case BinaryKind::kTimestamptz: {
            int64_t micros;
            if (!ParseTimestamp(text, column.kind == BinaryKind::kTimestamptz, &micros)) {
                return false;
            }
            PutFixed(out, static_cast<uint64_t>(micros), 8);
            return true;
        }
        case BinaryKind::kUuid:
            return PutUuid(out, text);
    }
    return false;
}

template <typename Out>
void AppendNull(Out &out) {
    out.append("\xff\xff\xff\xff", 4);
}

template <typename Out>
void AppendRowStart(Out &out, size_t fields) {
    char count[2];
    Put16(count, static_cast<uint16_t>(fields));
    out.append(count, 2);
}

template <typename Out>
bool AppendRow(Out &out, const RecordReader &reader, const BinaryColumn *columns, size_t count) {
    size_t start = out.size();
    AppendRowStart(out, count);
    for (size_t c = 0; c < count; c++) {
        const FieldValue &field = reader.Field(c);
        if (field.is_null) {
            AppendNull(out);
        } else if (!AppendValue(out, columns[c], field.text)) {
            if constexpr (std::is_same_v<Out, std::string>) {
                out.resize(start);
            } else {
                out.Truncate(start);
            }
            return false;
        }
    }
    return true;
}

}  // namespace

std::string_view CopyBinaryHeader() {
    return std::string_view(kHeader, sizeof(kHeader));
}

bool AppendBinaryValue(std::string &out, const BinaryColumn &column, std::string_view text) {
    return AppendValue(out, column, text);
}
bool AppendBinaryValue(GrowBuffer &out, const BinaryColumn &column, std::string_view text) {
    return AppendValue(out, column, text);
}

void AppendBinaryNull(std::string &out) {
    AppendNull(out);
}
void AppendBinaryNull(GrowBuffer &out) {
    AppendNull(out);
}

void AppendBinaryRowStart(std::string &out, size_t fields) {
    AppendRowStart(out, fields);
}
void AppendBinaryRowStart(GrowBuffer &out, size_t fields) {
    AppendRowStart(out, fields);
}

bool AppendBinaryRow(std::string &out, const RecordReader &reader, const BinaryColumn *columns, size_t count) {
    return AppendRow(out, reader, columns, count);
}
bool AppendBinaryRow(GrowBuffer &out, const RecordReader &reader, const BinaryColumn *columns, size_t count) {
    return AppendRow(out, reader, columns, count);
}

}  // namespace bulk_ingest
