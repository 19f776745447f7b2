// libFuzzer target: COPY binary values (copy_binary.h). The first byte picks the column's kind (and a typmod), the
// rest is the value's text. Whatever the core converts must decode back to what the text says: integers as
// from_chars reads them, numerics digit for digit, floats as strtod reads them, dates to the same day; and the field's
// length word counts its bytes.
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <string>

#include "copy_binary.h"
#include "fuzz_input.h"
#include "grow_buffer.h"

namespace {

using bulk_ingest::BinaryColumn;
using bulk_ingest::BinaryKind;

uint64_t Get(const std::string &s, size_t at, int bytes) {
    uint64_t v = 0;
    for (int i = 0; i < bytes; i++) {
        v = v << 8 | static_cast<unsigned char>(s[at + static_cast<size_t>(i)]);
    }
    return v;
}

// The decimal text numeric's binary form stands for: the integer digits without leading zeros ("0" when none), and
// dscale fractional digits.
std::string DecodeNumeric(const std::string &field) {
    size_t n = Get(field, 0, 2);
    int weight = static_cast<int16_t>(Get(field, 2, 2));
    uint16_t sign = static_cast<uint16_t>(Get(field, 4, 2));
    size_t dscale = Get(field, 6, 2);
    fuzz::Require(field.size() == 8 + 2 * n, "numeric's digit count");
    fuzz::Require(sign == 0 || sign == 0x4000, "numeric's sign");
    std::string integer, fraction;
    for (int w = weight; w >= 0; w--) {
        size_t i = static_cast<size_t>(weight - w);
        unsigned d = i < n ? static_cast<unsigned>(Get(field, 8 + 2 * i, 2)) : 0;
        fuzz::Require(d < 10000, "a base-10000 digit");
        char group[5];
        snprintf(group, sizeof group, "%04u", d);
        integer += group;
    }
    for (int w = -1; fraction.size() < dscale; w--) {
        long i = weight - w;
        unsigned d = i >= 0 && static_cast<size_t>(i) < n ? static_cast<unsigned>(Get(field, 8 + 2 * i, 2)) : 0;
        char group[5];
        snprintf(group, sizeof group, "%04u", d);
        fraction += group;
    }
    fraction.resize(dscale);
    size_t first = integer.find_first_not_of('0');
    integer = first == std::string::npos ? "0" : integer.substr(first);
    std::string text = (sign == 0x4000 ? "-" : "") + integer;
    return dscale > 0 ? text + "." + fraction : text;
}

// The text a numeric's form should stand for: no leading zeros, the fraction as written.
std::string CanonicalNumeric(std::string_view text) {
    bool negative = !text.empty() && text[0] == '-';
    std::string_view rest = text.substr(negative);
    size_t dot = rest.find('.');
    std::string integer(rest.substr(0, dot));
    std::string fraction(dot == std::string_view::npos ? "" : rest.substr(dot + 1));
    size_t first = integer.find_first_not_of('0');
    integer = first == std::string::npos ? "0" : integer.substr(first);
    bool zero = integer == "0" && fraction.find_first_not_of('0') == std::string::npos;
    std::string out = (negative && !zero ? "-" : "") + integer;
    return fraction.empty() ? out : out + "." + fraction;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0) {
        return 0;
    }
    static const BinaryKind kKinds[] = {
        BinaryKind::kText,        BinaryKind::kInt2,   BinaryKind::kInt4, BinaryKind::kInt8, BinaryKind::kNumeric,
        BinaryKind::kFloat4,      BinaryKind::kFloat8, BinaryKind::kBool, BinaryKind::kDate, BinaryKind::kTimestamp,
        BinaryKind::kTimestamptz, BinaryKind::kUuid,   BinaryKind::kJson, BinaryKind::kJsonb};
    BinaryColumn column;
    column.kind = kKinds[data[0] % (sizeof(kKinds) / sizeof(kKinds[0]))];
    if (data[0] & 0x80) {
        column.max_chars = data[0] & 7;
        column.numeric_precision = 1 + (data[0] & 15);
        column.numeric_scale = (data[0] >> 4) & 3;
    }
    std::string_view text(reinterpret_cast<const char *>(data + 1), size - 1);
    std::string out;
    bool converted = bulk_ingest::AppendBinaryValue(out, column, text);
    bulk_ingest::GrowBuffer grown;
    fuzz::Require(bulk_ingest::AppendBinaryValue(grown, column, text) == converted, "both buffers agree");
    fuzz::Require(std::string_view(grown.data(), grown.size()) == out, "both buffers encode alike");
    if (!converted) {
        fuzz::Require(out.empty(), "a value left to PostgreSQL appends nothing");
        return 0;
    }
    fuzz::Require(out.size() >= 4 && Get(out, 0, 4) == out.size() - 4, "the length word counts the value's bytes");
    std::string field = out.substr(4);
    switch (column.kind) {
        case BinaryKind::kInt2:
        case BinaryKind::kInt4:
        case BinaryKind::kInt8: {
            int64_t expected = 0;
            auto r = std::from_chars(text.data(), text.data() + text.size(), expected);
            fuzz::Require(r.ec == std::errc() && r.ptr == text.data() + text.size(), "an integer from_chars reads");
            int bytes = static_cast<int>(field.size());
            uint64_t raw = Get(field, 0, bytes);
            int64_t value = bytes == 2   ? static_cast<int16_t>(raw)
                            : bytes == 4 ? static_cast<int32_t>(raw)
                                         : static_cast<int64_t>(raw);
            fuzz::Require(value == expected, "the integer's value");
            break;
        }
        case BinaryKind::kNumeric:
            fuzz::Require(DecodeNumeric(field) == CanonicalNumeric(text), "the numeric's digits");
            break;
        case BinaryKind::kFloat8: {
            std::string copy(text);
            double expected = std::strtod(copy.c_str(), nullptr);
            uint64_t bits;
            std::memcpy(&bits, &expected, 8);
            fuzz::Require(Get(field, 0, 8) == bits, "the double strtod reads");
            break;
        }
        case BinaryKind::kFloat4: {
            std::string copy(text);
            float expected = std::strtof(copy.c_str(), nullptr);
            uint32_t bits;
            std::memcpy(&bits, &expected, 4);
            fuzz::Require(Get(field, 0, 4) == bits, "the float strtof reads");
            break;
        }
        case BinaryKind::kDate: {
            // Days since 2000-01-01 back to the calendar (H. Hinnant's civil_from_days).
            int64_t z = static_cast<int32_t>(Get(field, 0, 4)) + 10957 + 719468;
            int64_t era = (z >= 0 ? z : z - 146096) / 146097;
            int64_t doe = z - era * 146097;
            int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
            int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
            int64_t mp = (5 * doy + 2) / 153;
            int64_t d = doy - (153 * mp + 2) / 5 + 1, m = mp < 10 ? mp + 3 : mp - 9, y = yoe + era * 400 + (m <= 2);
            char back[16];
            snprintf(back, sizeof back, "%04lld-%02lld-%02lld", static_cast<long long>(y), static_cast<long long>(m),
                     static_cast<long long>(d));
            fuzz::Require(text == back, "the date's day");
            break;
        }
        case BinaryKind::kText:
        case BinaryKind::kJson:
            fuzz::Require(field == text, "text as it is");
            break;
        case BinaryKind::kJsonb:
            fuzz::Require(field.size() == text.size() + 1 && field[0] == 1 && field.substr(1) == text, "jsonb v1");
            break;
        default:
            fuzz::Require(field.size() == (column.kind == BinaryKind::kBool   ? 1u
                                           : column.kind == BinaryKind::kUuid ? 16u
                                                                              : 8u),
                          "a fixed-size value");
            break;
    }
    return 0;
}
