// The byte layouts of COPY's binary format (what each type's receive function reads), and what the core leaves to
// PostgreSQL's input functions. That every converted value equals what the input function makes of its text is
// tested against a real server (test/integration/test_binary_copy.py).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "copy_binary.h"
#include "grow_buffer.h"
#include "fixed_reader.h"
#include "record_reader.h"

using bulk_ingest::AppendBinaryRow;
using bulk_ingest::AppendBinaryValue;
using bulk_ingest::BinaryColumn;
using bulk_ingest::BinaryKind;
using bulk_ingest::FieldValue;
using bulk_ingest::testing::FixedReader;

namespace {

BinaryColumn Column(BinaryKind kind) {
    BinaryColumn column;
    column.kind = kind;
    return column;
}

// The value's bytes (after the length word) in hexadecimal, "" when the core leaves the value to PostgreSQL.
std::string Field(const BinaryColumn &column, std::string_view text) {
    std::string out = "junk";
    if (!AppendBinaryValue(out, column, text)) {
        EXPECT_EQ(out, "junk") << "a refused value appends nothing";
        return "";
    }
    EXPECT_GE(out.size(), 8u);
    uint32_t length = 0;
    for (size_t i = 4; i < 8; i++) {
        length = length << 8 | static_cast<unsigned char>(out[i]);
    }
    EXPECT_EQ(length, out.size() - 8) << "the length word counts the value's bytes";
    std::string hex;
    static const char kHex[] = "0123456789abcdef";
    for (size_t i = 8; i < out.size(); i++) {
        unsigned char c = static_cast<unsigned char>(out[i]);
        hex += kHex[c >> 4];
        hex += kHex[c & 15];
    }
    return hex;
}

std::string Field(BinaryKind kind, std::string_view text) {
    return Field(Column(kind), text);
}

}  // namespace

TEST(CopyBinary, HeaderIsTheSignatureNoFlagsAndNoExtension) {
    EXPECT_EQ(bulk_ingest::CopyBinaryHeader(), std::string_view("PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0", 19));
}

TEST(CopyBinary, IntegersAreBigEndianOfTheirWidthWithinTheirRange) {
    EXPECT_EQ(Field(BinaryKind::kInt8, "1"), "0000000000000001");
    EXPECT_EQ(Field(BinaryKind::kInt8, "-1"), "ffffffffffffffff");
    EXPECT_EQ(Field(BinaryKind::kInt8, "9223372036854775807"), "7fffffffffffffff");
    EXPECT_EQ(Field(BinaryKind::kInt8, "-9223372036854775808"), "8000000000000000");
    EXPECT_EQ(Field(BinaryKind::kInt8, "9223372036854775808"), "");
    EXPECT_EQ(Field(BinaryKind::kInt8, "-9223372036854775809"), "");
    EXPECT_EQ(Field(BinaryKind::kInt8, "18446744073709551616"), "");
    EXPECT_EQ(Field(BinaryKind::kInt4, "2147483647"), "7fffffff");
    EXPECT_EQ(Field(BinaryKind::kInt4, "-2147483648"), "80000000");
    EXPECT_EQ(Field(BinaryKind::kInt4, "2147483648"), "");
    EXPECT_EQ(Field(BinaryKind::kInt2, "-32768"), "8000");
    EXPECT_EQ(Field(BinaryKind::kInt2, "32768"), "");
    EXPECT_EQ(Field(BinaryKind::kInt2, "007"), "0007");
    EXPECT_EQ(Field(BinaryKind::kInt2, "-0"), "0000");
    for (const char *other : {"", "-", "+1", " 1", "1 ", "1.0", "1e3", "0x10", "1_000", "abc"}) {
        EXPECT_EQ(Field(BinaryKind::kInt8, other), "") << other;
    }
}

TEST(CopyBinary, NumericIsBase10000DigitsWeightSignAndScale) {
    // ndigits, weight, sign, dscale, digits
    EXPECT_EQ(Field(BinaryKind::kNumeric, "12.50"),
              "0002"
              "0000"
              "0000"
              "0002"
              "000c"
              "1388");
    EXPECT_EQ(Field(BinaryKind::kNumeric, "-12345.6"),
              "0003"
              "0001"
              "4000"
              "0001"
              "0001"
              "0929"
              "1770");
    EXPECT_EQ(Field(BinaryKind::kNumeric, "0.00001"),
              "0001"
              "fffe"
              "0000"
              "0005"
              "03e8");
    EXPECT_EQ(Field(BinaryKind::kNumeric, "100000000"),
              "0001"
              "0002"
              "0000"
              "0000"
              "0001");
    EXPECT_EQ(Field(BinaryKind::kNumeric, "0"),
              "0000"
              "0000"
              "0000"
              "0000");
    EXPECT_EQ(Field(BinaryKind::kNumeric, "-0.00"),
              "0000"
              "0000"
              "0000"
              "0002");
    EXPECT_EQ(Field(BinaryKind::kNumeric, "0007."),
              "0001"
              "0000"
              "0000"
              "0000"
              "0007");
    for (const char *other : {"", "-", ".5", "+1", "1e3", "NaN", "Infinity", " 1", "1,5", "1.2.3"}) {
        EXPECT_EQ(Field(BinaryKind::kNumeric, other), "") << other;
    }
}

TEST(CopyBinary, NumericWithATypmodIsConvertedOnlyWhenRoundingCannotOverflowIt) {
    BinaryColumn money = Column(BinaryKind::kNumeric);
    money.numeric_precision = 5;
    money.numeric_scale = 2;
    EXPECT_NE(Field(money, "99.999"), "");  // rounds to 100.00: fits
    EXPECT_NE(Field(money, "-99"), "");
    EXPECT_EQ(Field(money, "999.99"), "");  // fits, or rounds over: numeric_in's to say
    EXPECT_EQ(Field(money, "1000"), "");    // too large: numeric_in's error
    money.numeric_precision = 2;
    money.numeric_scale = 2;
    EXPECT_EQ(Field(money, "0.5"), "");
}

TEST(CopyBinary, FloatsAreTheirIeeeBitsWhenReadExactly) {
    EXPECT_EQ(Field(BinaryKind::kFloat8, "1.5"), "3ff8000000000000");
    EXPECT_EQ(Field(BinaryKind::kFloat8, "-0"), "8000000000000000");
    EXPECT_EQ(Field(BinaryKind::kFloat8, "1e3"), "408f400000000000");
    EXPECT_EQ(Field(BinaryKind::kFloat8, "0.1"), "3fb999999999999a");
    EXPECT_EQ(Field(BinaryKind::kFloat4, "1.5"), "3fc00000");
    for (const char *other : {"", "NaN", "Infinity", "inf", "1e400", "4.9e-324", ".5", "+1", " 1", "1e", "0x1p3"}) {
        EXPECT_EQ(Field(BinaryKind::kFloat8, other), "") << other;
    }
    EXPECT_EQ(Field(BinaryKind::kFloat4, "1e39"), "");
    EXPECT_EQ(Field(BinaryKind::kFloat4, "1e-40"), "");
}

TEST(CopyBinary, DatesAndTimestampsCountFrom2000) {
    EXPECT_EQ(Field(BinaryKind::kDate, "2000-01-01"), "00000000");
    EXPECT_EQ(Field(BinaryKind::kDate, "1999-12-31"), "ffffffff");
    EXPECT_EQ(Field(BinaryKind::kDate, "2024-02-29"), "00002279");  // 8825 days
    EXPECT_EQ(Field(BinaryKind::kDate, "2023-02-29"), "");
    EXPECT_EQ(Field(BinaryKind::kDate, "0000-01-01"), "");
    EXPECT_EQ(Field(BinaryKind::kDate, "2024-1-01"), "");
    EXPECT_EQ(Field(BinaryKind::kTimestamptz, "2000-01-01T00:00:00Z"), "0000000000000000");
    EXPECT_EQ(Field(BinaryKind::kTimestamptz, "2000-01-01 00:00:01.5+00"), "000000000016e360");
    EXPECT_EQ(Field(BinaryKind::kTimestamptz, "2000-01-01T02:00:00+02:00"), "0000000000000000");
    EXPECT_EQ(Field(BinaryKind::kTimestamptz, "2000-01-01T02:00:00+0200"), "0000000000000000");
    EXPECT_EQ(Field(BinaryKind::kTimestamptz, "1999-12-31T19:00:00-05"), "0000000000000000");
    EXPECT_EQ(Field(BinaryKind::kTimestamptz, "1999-12-31T23:59:59.999999Z"), "ffffffffffffffff");
    EXPECT_EQ(Field(BinaryKind::kTimestamp, "2000-01-01T00:00:00.000001"), "0000000000000001");
    for (const char *other :
         {"2000-01-01T00:00:00", "2000-01-01T24:00:00Z", "2000-01-01T00:00:60Z", "2000-01-01T00:00:00.1234567Z",
          "2000-01-01T00:00Z", "2000-01-01T00:00:00z", "2000-01-01T00:00:00+16:00", "2000-01-01T00:00:00 UTC",
          "2000-01-01T00:00:00+00 BC", "2000-02-30T00:00:00Z", "2000-01-01T00:00:00.Z"}) {
        EXPECT_EQ(Field(BinaryKind::kTimestamptz, other), "") << other;
    }
    EXPECT_EQ(Field(BinaryKind::kTimestamp, "2000-01-01T00:00:00Z"), "") << "timestamp ignores an offset";
}

TEST(CopyBinary, BoolUuidTextAndJson) {
    EXPECT_EQ(Field(BinaryKind::kBool, "true"), "01");
    EXPECT_EQ(Field(BinaryKind::kBool, "f"), "00");
    EXPECT_EQ(Field(BinaryKind::kBool, "yes"), "");
    EXPECT_EQ(Field(BinaryKind::kBool, "TRUE"), "");
    EXPECT_EQ(Field(BinaryKind::kUuid, "0123abcd-4567-89ef-ABCD-0123456789ab"), "0123abcd456789efabcd0123456789ab");
    EXPECT_EQ(Field(BinaryKind::kUuid, "0123abcd456789efabcd0123456789ab"), "");
    EXPECT_EQ(Field(BinaryKind::kUuid, "0123abcd-4567-89ef-ABCD-0123456789ag"), "");
    EXPECT_EQ(Field(BinaryKind::kText, "a\tb"), "610962");
    EXPECT_EQ(Field(BinaryKind::kText, std::string_view("a\0b", 3)), "") << "PostgreSQL's error";
    EXPECT_EQ(Field(BinaryKind::kJson, "[1]"), "5b315d");
    EXPECT_EQ(Field(BinaryKind::kJsonb, "[1]"), "015b315d");
}

TEST(CopyBinary, LimitedTextIsConvertedWhenItsCharactersFit) {
    BinaryColumn code = Column(BinaryKind::kText);
    code.max_chars = 3;
    EXPECT_EQ(Field(code, "abc"), "616263");
    EXPECT_EQ(Field(code, "\xc3\xa9\xc3\xa9\xc3\xa9"), "c3a9c3a9c3a9");  // three characters, six bytes
    EXPECT_EQ(Field(code, "abcd"), "");
}

TEST(CopyBinary, RowIsTheFieldCountThenItsFieldsOrNothingWhenAValueIsLeftToPostgres) {
    std::vector<BinaryColumn> columns = {Column(BinaryKind::kInt4), Column(BinaryKind::kText),
                                         Column(BinaryKind::kBool)};
    FixedReader good({FieldValue{false, "7"}, FieldValue{true, {}}, FieldValue{false, "t"}});
    std::string out = "x";
    ASSERT_TRUE(AppendBinaryRow(out, good, columns.data(), columns.size()));
    EXPECT_EQ(out, std::string("x\0\3"
                               "\0\0\0\4\0\0\0\7"
                               "\xff\xff\xff\xff"
                               "\0\0\0\1\1",
                               1 + 2 + 8 + 4 + 5));
    FixedReader bad({FieldValue{false, "7"}, FieldValue{false, "a"}, FieldValue{false, "maybe"}});
    bulk_ingest::GrowBuffer buffer;
    buffer.append("y", 1);
    EXPECT_FALSE(AppendBinaryRow(buffer, bad, columns.data(), columns.size()));
    EXPECT_EQ(std::string(buffer.data(), buffer.size()), "y");
}
