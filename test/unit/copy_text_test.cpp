#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "copy_text.h"
#include "record_reader.h"

using bulk_ingest::AppendCopyEscaped;
using bulk_ingest::AppendCopyRow;
using bulk_ingest::FieldValue;

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

class FixedReader : public bulk_ingest::RecordReader {
  public:
    explicit FixedReader(std::vector<FieldValue> fields) : fields_(std::move(fields)) {}
    bool Next() override { return false; }
    const FieldValue &Field(size_t column) const override { return fields_[column]; }
    size_t ColumnCount() const override { return fields_.size(); }
    uint64_t Line() const override { return 1; }
    uint64_t BytesConsumed() const override { return 0; }
    uint64_t PositionReached() const override { return 2; }

  private:
    std::vector<FieldValue> fields_;
};

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
