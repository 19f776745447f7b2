#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "copy_text.h"
#include "fixed_reader.h"
#include "record_reader.h"

using bulk_ingest::AppendCopyEscaped;
using bulk_ingest::AppendCopyRow;
using bulk_ingest::FieldValue;
using bulk_ingest::testing::FixedReader;

static std::string Escaped(std::string_view text) {
    std::string out;
    AppendCopyEscaped(out, text);
    return out;
}

TEST(CopyText, PlainTextIsCopiedAsIs) {
    EXPECT_EQ(Escaped(""), "");
    EXPECT_EQ(Escaped("hello, world; 'quotes' \"double\" {json: [1]}"),
              "hello, world; 'quotes' \"double\" {json: [1]}");
    EXPECT_EQ(Escaped("\xc3\xa9 \xe2\x9c\x93 \xf0\x9f\x98\x80"), "\xc3\xa9 \xe2\x9c\x93 \xf0\x9f\x98\x80");
}

TEST(CopyText, EscapesBackslashTabNewlineCarriageReturn) {
    EXPECT_EQ(Escaped("\\"), "\\\\");
    EXPECT_EQ(Escaped("\t"), "\\t");
    EXPECT_EQ(Escaped("\n"), "\\n");
    EXPECT_EQ(Escaped("\r"), "\\r");
    EXPECT_EQ(Escaped("a\tb\nc\rd\\e"), "a\\tb\\nc\\rd\\\\e");
    EXPECT_EQ(Escaped("\r\n\r\n"), "\\r\\n\\r\\n");
    EXPECT_EQ(Escaped("end\\"), "end\\\\");
}

TEST(CopyText, TheTextBackslashNIsNotNull) {
    EXPECT_EQ(Escaped("\\N"), "\\\\N");
    EXPECT_EQ(Escaped("\\."), "\\\\.");
}

TEST(CopyText, OtherControlCharactersAndNulBytesPassThrough) {
    std::string text("\x01\x08\x0b\x0c\x1f\x7f", 6);
    EXPECT_EQ(Escaped(text), text);
    EXPECT_EQ(Escaped(std::string_view("a\0b", 3)), std::string("a\0b", 3));
}

TEST(CopyText, AppendsWithoutClearing) {
    std::string out = "prefix|";
    AppendCopyEscaped(out, "x\ty");
    AppendCopyEscaped(out, "z");
    EXPECT_EQ(out, "prefix|x\\tyz");
}

TEST(CopyText, LongTextWithEscapesEverywhere) {
    std::string text, expected;
    for (int i = 0; i < 10000; i++) {
        text += "abc\\def\tghi\n";
        expected += "abc\\\\def\\tghi\\n";
    }
    EXPECT_EQ(Escaped(text), expected);
}

// Byte by byte, as the COPY documentation describes it.
static std::string ReferenceEscape(std::string_view text) {
    std::string out;
    for (char c : text) {
        switch (c) {
            case '\\':
                out += "\\\\";
                break;
            case '\t':
                out += "\\t";
                break;
            case '\n':
                out += "\\n";
                break;
            case '\r':
                out += "\\r";
                break;
            default:
                out += c;
        }
    }
    return out;
}

TEST(CopyText, AgreesWithByteByByteEscapingOnEveryByteValueAndAlignment) {
    // Every byte value at every position of a word, runs of them, and texts of every length up to 40.
    std::string all;
    for (int b = 0; b < 256; b++) {
        all += static_cast<char>(b);
    }
    for (size_t shift = 0; shift < 9; shift++) {
        std::string text = std::string(shift, 'x') + all + all;
        EXPECT_EQ(Escaped(text), ReferenceEscape(text)) << "shift " << shift;
    }
    uint32_t seed = 12345;
    auto next = [&seed] { return seed = seed * 1103515245u + 12345u; };
    const char interesting[] = {'\\', '\t',   '\n',   '\r',   '\x0b', '\x0c', '\x0e', '\x01',
                                '\0', '\x7f', '\x80', '\xdc', '\xff', 'a',    '\x5b', '\x5d'};
    for (int round = 0; round < 2000; round++) {
        std::string text;
        size_t len = next() % 41;
        for (size_t i = 0; i < len; i++) {
            text +=
                (next() >> 8) % 3 == 0 ? interesting[(next() >> 8) % sizeof(interesting)] : 'a' + (next() >> 8) % 26;
        }
        ASSERT_EQ(Escaped(text), ReferenceEscape(text)) << "round " << round;
    }
}

namespace {

FieldValue Text(std::string_view text) {
    return FieldValue{false, text};
}
FieldValue Null() {
    return FieldValue{true, {}};
}

}  // namespace

TEST(CopyText, RowSeparatesFieldsWithTabsAndEndsWithNewline) {
    FixedReader reader({Text("1"), Text("alice"), Text("12.50")});
    std::string out;
    AppendCopyRow(out, reader);
    EXPECT_EQ(out, "1\talice\t12.50\n");
}

TEST(CopyText, RowWritesNullAsBackslashN) {
    FixedReader reader({Null(), Text(""), Null(), Text("\\N")});
    std::string out;
    AppendCopyRow(out, reader);
    EXPECT_EQ(out, "\\N\t\t\\N\t\\\\N\n");
}

TEST(CopyText, RowEscapesEachField) {
    FixedReader reader({Text("a\tb"), Text("{\"k\": \"line1\\nline2\"}"), Text("x\ny")});
    std::string out = "previous row\n";
    AppendCopyRow(out, reader);
    EXPECT_EQ(out, "previous row\na\\tb\t{\"k\": \"line1\\\\nline2\"}\tx\\ny\n");
}

TEST(CopyText, RowOfNoColumnsIsAnEmptyLine) {
    FixedReader reader({});
    std::string out;
    AppendCopyRow(out, reader);
    EXPECT_EQ(out, "\n");
}

// Rows and values short enough are written in place (room for their longest form, then cut), longer ones run by
// run: both ways give the same text, in a string and in a GrowBuffer, after what the buffer held, on either side of
// the limit (64 kB of longest form) and at it.
TEST(CopyText, RowsWrittenInPlaceAndRunByRunAgree) {
    for (size_t size : {size_t(0), size_t(1), size_t(15), size_t(16), size_t(17), size_t(16383), size_t(16384),
                        size_t(32767), size_t(32768), size_t(32769), size_t(40000), size_t(70000)}) {
        std::string value;
        for (size_t i = 0; i < size; i++) {
            value += "ab\tc\\d\ne\rfghijklmnopq"[i % 21];
        }
        std::string third = value.substr(0, size / 3);
        FixedReader reader({Text(value), Null(), Text(third)});
        std::string expected = "held\n" + ReferenceEscape(value) + "\t\\N\t" + ReferenceEscape(third) + "\n";
        std::string out = "held\n";
        AppendCopyRow(out, reader);
        EXPECT_EQ(out, expected) << size;
        bulk_ingest::GrowBuffer buffer;
        buffer.append("held\n", 5);
        AppendCopyRow(buffer, reader);
        EXPECT_EQ(std::string(buffer.data(), buffer.size()), expected) << size;
        std::string escaped = "held\n";
        AppendCopyEscaped(escaped, value);
        bulk_ingest::GrowBuffer escaped_buffer;
        escaped_buffer.append("held\n", 5);
        AppendCopyEscaped(escaped_buffer, value);
        EXPECT_EQ(escaped, "held\n" + ReferenceEscape(value)) << size;
        EXPECT_EQ(std::string(escaped_buffer.data(), escaped_buffer.size()), escaped) << size;
    }
}
