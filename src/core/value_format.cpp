// Value conversions: JSON arrays into PostgreSQL array literals, epoch seconds/milliseconds into ISO 8601 timestamps,
// base64 into bytea hex. Exact decimal arithmetic (no floating point); no allocation beyond the output's growth.
#include "value_format.h"

#include <cstdio>
#include <cstring>

#include "error.h"
#include "text.h"

namespace bulk_ingest {

const std::vector<std::string> kValueFormats = {"base64", "epoch", "epoch_ms"};

namespace {

constexpr size_t kKeepBytes = size_t(4) << 20;  // buffers larger than this are released after a long value
constexpr size_t kMaxShownBytes = 100;          // the longest value quoted whole in an error message
constexpr size_t kMaxDepth = 1000;              // nesting limit of arrays (the JSON parser's limit, too)

// PostgreSQL's timestamp range in seconds since 1970-01-01 UTC: [4714-11-24 00:00:00 BC, 294277-01-01 00:00:00).
constexpr int64_t kMinEpochSeconds = -210866803200LL;
constexpr int64_t kEndEpochSeconds = 9224318016000LL;

inline bool IsDigit(char c) {
    return c >= '0' && c <= '9';
}

inline bool IsSpace(char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
}

// The value, quoted, for an error message (cut after kMaxShownBytes bytes, on a UTF-8 character boundary).
std::string Shown(std::string_view text) {
    if (text.size() <= kMaxShownBytes) {
        return "\"" + std::string(text) + "\"";
    }
    size_t cut = kMaxShownBytes;
    while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) {
        cut--;
    }
    return "\"" + std::string(text.substr(0, cut)) + "\"... (" + std::to_string(text.size()) + " bytes)";
}

void AppendUtf8(std::string *out, uint32_t cp) {
    if (cp < 0x80) {
        out->push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
        out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
        out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
        out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
        out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
        out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
        out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
        out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
        out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
        out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
}

void AppendPgQuoted(std::string *out, std::string_view text) {
    out->push_back('"');
    for (char c : text) {
        if (c == '"' || c == '\\') {
            out->push_back('\\');
        }
        out->push_back(c);
    }
    out->push_back('"');
}

// Days since 1970-01-01 -> proleptic Gregorian date (H. Hinnant's civil_from_days).
void CivilFromDays(int64_t days, int64_t *year, int *month, int *day) {
    int64_t z = days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *day = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
    *month = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
    *year = yoe + era * 400 + (*month <= 2 ? 1 : 0);
}

int Base64Value(char c) {
    if (c >= 'A' && c <= 'Z') {
        return c - 'A';
    }
    if (c >= 'a' && c <= 'z') {
        return c - 'a' + 26;
    }
    if (c >= '0' && c <= '9') {
        return c - '0' + 52;
    }
    if (c == '+' || c == '-') {
        return 62;
    }
    if (c == '/' || c == '_') {
        return 63;
    }
    return -1;
}

// Converts JSON array text into a PostgreSQL array literal (see AppendPgArrayFromJson).
class ArrayConverter {
  public:
    // scratch and converted are work buffers (reused by ValueConverter, so that no row allocates).
    ArrayConverter(std::string_view json, ValueFormat format, std::string *out, std::string *error,
                   std::string *scratch, std::string *converted)
        : s_(json), format_(format), out_(out), error_(error), scratch_(*scratch), converted_(*converted) {}

    bool Run() {
        SkipSpace();
        if (Peek() != '[') {
            return Fail("expected a JSON array");
        }
        if (!Array(0)) {
            return false;
        }
        SkipSpace();
        if (i_ != s_.size()) {
            return Fail("unexpected text after the array");
        }
        return true;
    }

  private:
    char Peek() const { return i_ < s_.size() ? s_[i_] : '\0'; }
    void SkipSpace() {
        while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\r' || s_[i_] == '\n')) {
            i_++;
        }
    }
    bool Fail(const std::string &what) {
        *error_ = what + " at byte " + std::to_string(i_) + " of the array";
        return false;
    }

    bool Array(size_t depth) {
        if (depth >= kMaxDepth) {
            return Fail("arrays nested deeper than " + std::to_string(kMaxDepth) + " levels");
        }
        i_++;  // '['
        size_t start = out_->size();
        out_->push_back('{');
        SkipSpace();
        if (Peek() == ']') {
            i_++;
            out_->push_back('}');
            return true;
        }
        for (;;) {
            SkipSpace();
            if (!Element(depth)) {
                return false;
            }
            SkipSpace();
            char c = Peek();
            i_++;
            if (c == ']') {
                out_->push_back('}');
                // PostgreSQL has no empty inner dimension ({{}} and {{},{}} are malformed): an array of empty
                // arrays is the empty array.
                if (depth == 0 || (*out_)[start + 1] == '{') {
                    size_t k = start;
                    while (k < out_->size() && ((*out_)[k] == '{' || (*out_)[k] == '}' || (*out_)[k] == ',')) {
                        k++;
                    }
                    if (k == out_->size()) {
                        out_->resize(start);
                        out_->append("{}");
                    }
                }
                return true;
            }
            if (c != ',') {
                i_--;
                return Fail("expected ',' or ']'");
            }
            out_->push_back(',');
        }
    }

    bool Element(size_t depth) {
        char c = Peek();
        if (c == '[') {
            return Array(depth + 1);
        }
        if (c == '{') {
            return Fail("an object is not allowed as an array element");
        }
        if (c == '"') {
            scratch_.clear();
            if (!String(&scratch_)) {
                return false;
            }
            return Scalar(scratch_);
        }
        if (Literal("null")) {
            out_->append("NULL");
            return true;
        }
        if (Literal("true") || Literal("false")) {
            if (format_ != ValueFormat::kNone) {
                return Scalar(s_.substr(i_ - (c == 't' ? 4 : 5), c == 't' ? 4 : 5));
            }
            out_->append(c == 't' ? "true" : "false");
            return true;
        }
        size_t start = i_;
        if (Peek() == '-') {
            i_++;
        }
        while (i_ < s_.size() &&
               (IsDigit(s_[i_]) || s_[i_] == '.' || s_[i_] == 'e' || s_[i_] == 'E' || s_[i_] == '+' || s_[i_] == '-')) {
            i_++;
        }
        if (i_ == start || !IsDigit(s_[i_ - 1])) {
            i_ = start;
            return Fail("invalid JSON value");
        }
        std::string_view number = s_.substr(start, i_ - start);
        if (format_ != ValueFormat::kNone) {
            return Scalar(number);
        }
        out_->append(number.data(), number.size());
        return true;
    }

    bool Literal(const char *word) {
        size_t n = strlen(word);
        if (s_.compare(i_, n, word) == 0) {
            i_ += n;
            return true;
        }
        return false;
    }

    // A string or another non-null scalar: converted by the format, then quoted.
    bool Scalar(std::string_view text) {
        if (format_ == ValueFormat::kNone) {
            AppendPgQuoted(out_, text);
            return true;
        }
        converted_.clear();
        if (!AppendFormatted(format_, text, &converted_, error_)) {
            *error_ = "an array element: " + *error_;
            return false;
        }
        AppendPgQuoted(out_, converted_);
        return true;
    }

    // The JSON string at i_ (opening quote), unescaped into *value.
    bool String(std::string *value) {
        i_++;
        for (;;) {
            if (i_ >= s_.size()) {
                return Fail("unterminated string");
            }
            char c = s_[i_];
            if (c == '"') {
                i_++;
                return true;
            }
            if (static_cast<unsigned char>(c) < 0x20) {
                return Fail("a control character in a string");
            }
            if (c != '\\') {
                value->push_back(c);
                i_++;
                continue;
            }
            char e = i_ + 1 < s_.size() ? s_[i_ + 1] : '\0';
            i_ += 2;
            switch (e) {
                case '"':
                case '\\':
                case '/':
                    value->push_back(e);
                    break;
                case 'b':
                    value->push_back('\b');
                    break;
                case 'f':
                    value->push_back('\f');
                    break;
                case 'n':
                    value->push_back('\n');
                    break;
                case 'r':
                    value->push_back('\r');
                    break;
                case 't':
                    value->push_back('\t');
                    break;
                case 'u': {
                    uint32_t cp = 0;
                    if (!Hex4(&cp)) {
                        return false;
                    }
                    if (cp >= 0xD800 && cp <= 0xDBFF) {
                        uint32_t low = 0;
                        if (s_.compare(i_, 2, "\\u") != 0 || (i_ += 2, !Hex4(&low)) || low < 0xDC00 || low > 0xDFFF) {
                            return Fail("a lone surrogate in a string");
                        }
                        cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
                    } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                        return Fail("a lone surrogate in a string");
                    } else if (cp == 0) {
                        return Fail("\\u0000 in a string, which PostgreSQL text cannot hold,");
                    }
                    AppendUtf8(value, cp);
                    break;
                }
                default:
                    i_ -= 2;
                    return Fail("an invalid escape in a string");
            }
        }
    }

    bool Hex4(uint32_t *cp) {
        if (i_ + 4 > s_.size()) {
            return Fail("an invalid \\u escape");
        }
        uint32_t v = 0;
        for (size_t k = 0; k < 4; k++) {
            int h = HexValue(s_[i_ + k]);
            if (h < 0) {
                return Fail("an invalid \\u escape");
            }
            v = v * 16 + static_cast<uint32_t>(h);
        }
        i_ += 4;
        *cp = v;
        return true;
    }

    std::string_view s_;
    size_t i_ = 0;
    ValueFormat format_;
    std::string *out_;
    std::string *error_;
    std::string &scratch_;
    std::string &converted_;
};

}  // namespace

bool ValueFormatFromName(const std::string &name, ValueFormat *format) {
    if (name == "epoch") {
        *format = ValueFormat::kEpoch;
    } else if (name == "epoch_ms") {
        *format = ValueFormat::kEpochMs;
    } else if (name == "base64") {
        *format = ValueFormat::kBase64;
    } else {
        return false;
    }
    return true;
}

const char *ValueFormatName(ValueFormat format) {
    switch (format) {
        case ValueFormat::kEpoch:
            return "epoch";
        case ValueFormat::kEpochMs:
            return "epoch_ms";
        case ValueFormat::kBase64:
            return "base64";
        case ValueFormat::kNone:
            break;
    }
    return "";
}

bool AppendEpochTimestamp(std::string_view text, int scale_digits, std::string *out, std::string *error) {
    const char *unit = scale_digits == 0 ? "seconds" : "milliseconds";
    auto invalid = [&]() {
        *error = Shown(text) + " is not a number of " + unit + " since 1970-01-01 UTC";
        return false;
    };
    size_t i = 0, n = text.size();
    while (i < n && IsSpace(text[i])) {
        i++;
    }
    while (n > i && IsSpace(text[n - 1])) {
        n--;
    }
    bool negative = false;
    if (i < n && (text[i] == '-' || text[i] == '+')) {
        negative = text[i] == '-';
        i++;
    }
    size_t int_begin = i;
    while (i < n && IsDigit(text[i])) {
        i++;
    }
    size_t int_end = i, frac_begin = i, frac_end = i;
    if (i < n && text[i] == '.') {
        frac_begin = ++i;
        while (i < n && IsDigit(text[i])) {
            i++;
        }
        frac_end = i;
    }
    if (int_end == int_begin && frac_end == frac_begin) {
        return invalid();
    }
    int64_t exponent = 0;
    if (i < n && (text[i] == 'e' || text[i] == 'E')) {
        i++;
        bool exp_negative = false;
        if (i < n && (text[i] == '-' || text[i] == '+')) {
            exp_negative = text[i] == '-';
            i++;
        }
        if (i == n || !IsDigit(text[i])) {
            return invalid();
        }
        while (i < n && IsDigit(text[i])) {
            if (exponent < 1000000000) {
                exponent = exponent * 10 + (text[i] - '0');
            }
            i++;
        }
        exponent = exp_negative ? -exponent : exponent;
    }
    if (i != n) {
        return invalid();
    }
    // The digits D (integer then fraction digits) have the decimal point after p of them; digit k's place is
    // 10^(p-1-k).
    int64_t int_digits = static_cast<int64_t>(int_end - int_begin);
    int64_t count = int_digits + static_cast<int64_t>(frac_end - frac_begin);
    int64_t p = int_digits + exponent - scale_digits;
    auto digit = [&](int64_t k) -> int64_t {
        if (k < 0 || k >= count) {
            return 0;
        }
        return k < int_digits ? text[int_begin + static_cast<size_t>(k)] - '0'
                              : text[frac_begin + static_cast<size_t>(k - int_digits)] - '0';
    };
    int64_t first_nonzero = 0;
    while (first_nonzero < count && digit(first_nonzero) == 0) {
        first_nonzero++;
    }
    int64_t seconds = 0, micros = 0;
    if (first_nonzero < count) {
        if (p - 1 - first_nonzero > 14) {
            *error = Shown(text) + " " + unit + " since 1970-01-01 UTC is out of the range of timestamps";
            return false;
        }
        for (int64_t place = 14; place >= 0; place--) {
            seconds = seconds * 10 + digit(p - 1 - place);
        }
        for (int64_t place = -1; place >= -6; place--) {
            micros = micros * 10 + digit(p - 1 - place);
        }
        if (digit(p + 6) >= 5) {  // place -7: round half away from zero
            if (++micros == 1000000) {
                micros = 0;
                seconds++;
            }
        }
        if (negative) {
            seconds = -seconds;
            if (micros > 0) {
                micros = 1000000 - micros;
                seconds--;
            }
        }
    }
    if (seconds < kMinEpochSeconds || seconds >= kEndEpochSeconds) {
        *error = Shown(text) + " " + unit + " since 1970-01-01 UTC is out of the range of timestamps";
        return false;
    }
    int64_t days = seconds / 86400;
    int64_t second_of_day = seconds % 86400;
    if (second_of_day < 0) {
        second_of_day += 86400;
        days--;
    }
    int64_t year;
    int month, day;
    CivilFromDays(days, &year, &month, &day);
    bool bc = year <= 0;
    char buf[64];
    int len =
        snprintf(buf, sizeof buf, "%04lld-%02d-%02d%c%02d:%02d:%02d", static_cast<long long>(bc ? 1 - year : year),
                 month, day, bc ? ' ' : 'T', static_cast<int>(second_of_day / 3600),
                 static_cast<int>(second_of_day / 60 % 60), static_cast<int>(second_of_day % 60));
    out->append(buf, static_cast<size_t>(len));
    if (micros > 0) {
        len = snprintf(buf, sizeof buf, ".%06d", static_cast<int>(micros));
        while (buf[len - 1] == '0') {
            len--;
        }
        out->append(buf, static_cast<size_t>(len));
    }
    out->append(bc ? "+00 BC" : "Z");
    return true;
}

bool AppendBase64AsBytea(std::string_view text, std::string *out, std::string *error) {
    static const char kHex[] = "0123456789abcdef";
    out->reserve(out->size() + 2 + text.size() * 3 / 2 + 2);
    out->append("\\x");
    uint32_t bits = 0;
    int nbits = 0;
    size_t symbols = 0, padding = 0;
    for (size_t i = 0; i < text.size(); i++) {
        char c = text[i];
        if (IsSpace(c)) {
            continue;
        }
        if (c == '=') {
            padding++;
            continue;
        }
        int v = Base64Value(c);
        if (v < 0 || padding > 0) {
            *error = Shown(text) + " is not valid base64 (" +
                     (v < 0 ? "the character at byte " + std::to_string(i) + " is not in the base64 alphabet"
                            : std::string("'=' padding is only allowed at the end")) +
                     ")";
            return false;
        }
        symbols++;
        bits = (bits << 6) | static_cast<uint32_t>(v);
        nbits += 6;
        if (nbits >= 8) {
            nbits -= 8;
            unsigned byte = (bits >> nbits) & 0xFF;
            out->push_back(kHex[byte >> 4]);
            out->push_back(kHex[byte & 0xF]);
        }
    }
    if (symbols % 4 == 1 || (padding > 0 && (symbols + padding) % 4 != 0) || padding > 2) {
        *error = Shown(text) + " is not valid base64 (its length is not that of base64 text)";
        return false;
    }
    return true;
}

bool AppendFormatted(ValueFormat format, std::string_view text, std::string *out, std::string *error) {
    switch (format) {
        case ValueFormat::kEpoch:
            return AppendEpochTimestamp(text, 0, out, error);
        case ValueFormat::kEpochMs:
            return AppendEpochTimestamp(text, 3, out, error);
        case ValueFormat::kBase64:
            return AppendBase64AsBytea(text, out, error);
        case ValueFormat::kNone:
            break;
    }
    out->append(text.data(), text.size());
    return true;
}

bool AppendPgArrayFromJson(std::string_view json, ValueFormat element_format, std::string *out, std::string *error) {
    std::string scratch, converted;
    ArrayConverter converter(json, element_format, out, error, &scratch, &converted);
    return converter.Run();
}

ValueConverter::ValueConverter(const std::vector<ColumnSpec> &columns, bool json_values)
    : columns_(columns), array_(columns.size()), buffers_(columns.size()), source_(columns.size()) {
    for (size_t c = 0; c < columns_.size(); c++) {
        array_[c] = json_values && columns_[c].array && !columns_[c].json;
        if (columns_[c].format != ValueFormat::kNone && !columns_[c].json && (json_values || !columns_[c].array)) {
            formatted_.push_back(static_cast<uint32_t>(c));
        }
    }
}

std::string &ValueConverter::Buffer(size_t c, size_t need) {
    std::string &buf = buffers_[c];
    if (buf.capacity() > kKeepBytes && need < kKeepBytes / 4) {
        std::string().swap(buf);  // release the memory of an earlier long value
    }
    buf.clear();
    return buf;
}

std::string_view ValueConverter::ConvertArray(size_t c, std::string_view json, const char *unit, uint64_t position) {
    std::string &buf = Buffer(c, json.size());
    ArrayConverter converter(json, columns_[c].format, &buf, &error_, &scratch_, &converted_);
    if (!converter.Run()) {
        throw RecordError(unit, position, "column \"" + columns_[c].name + "\": " + error_);
    }
    return buf;
}

void ValueConverter::ApplyFormats(std::vector<FieldValue> &fields, const char *unit, uint64_t position) {
    for (uint32_t c : formatted_) {
        FieldValue &field = fields[c];
        source_[c] = std::string_view();
        if (field.is_null || (array_[c] && field.text.data() == buffers_[c].data())) {
            continue;
        }
        source_[c] = field.text;
        std::string &buf = Buffer(c, field.text.size());
        if (!AppendFormatted(columns_[c].format, field.text, &buf, &error_)) {
            throw RecordError(unit, position,
                              "column \"" + columns_[c].name + "\" (format \"" + ValueFormatName(columns_[c].format) +
                                  "\"): " + error_);
        }
        field.text = buf;
    }
}

}  // namespace bulk_ingest
