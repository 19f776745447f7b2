#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <optional>
#include <string>

#include "charset.h"
#include "error.h"

using bulk_ingest::ByteSource;
using bulk_ingest::CharsetFromContentType;
using bulk_ingest::Error;
using bulk_ingest::IsUtf8Charset;
using bulk_ingest::TranscodingSource;

namespace {

// Hands out data in reads of at most piece bytes.
class PieceSource : public ByteSource {
  public:
    PieceSource(std::string data, size_t piece) : data_(std::move(data)), piece_(piece) {}
    size_t Read(char *buf, size_t max) override {
        size_t n = std::min({max, piece_, data_.size() - pos_});
        memcpy(buf, data_.data() + pos_, n);
        pos_ += n;
        return n;
    }

  private:
    std::string data_;
    size_t piece_;
    size_t pos_ = 0;
};

// Everything source yields, read in reads of at most chunk bytes.
std::string ReadAll(ByteSource &source, size_t chunk = 4096) {
    std::string out;
    std::string buf(chunk, '\0');
    while (size_t n = source.Read(&buf[0], chunk)) {
        out.append(buf.data(), n);
    }
    return out;
}

std::string Convert(const std::string &charset, const std::string &input, size_t piece = 1 << 20, size_t chunk = 4096) {
    PieceSource inner(input, piece);
    TranscodingSource source(inner, charset);
    return ReadAll(source, chunk);
}

// The message of the Error converting input throws, or "" when none.
std::string ConvertError(const std::string &charset, const std::string &input, size_t piece = 1 << 20) {
    try {
        Convert(charset, input, piece);
    } catch (const Error &e) {
        return e.what();
    }
    return "";
}

}  // namespace

TEST(CharsetFromContentType, ReadsTheCharsetParameter) {
    EXPECT_EQ(CharsetFromContentType("application/json; charset=ISO-8859-1"), "ISO-8859-1");
    EXPECT_EQ(CharsetFromContentType("text/csv;charset=windows-1252"), "windows-1252");
    EXPECT_EQ(CharsetFromContentType("text/csv ;  charset=utf-8  "), "utf-8");
    EXPECT_EQ(CharsetFromContentType("text/csv; CHARSET=Latin1"), "Latin1");
    EXPECT_EQ(CharsetFromContentType("text/csv; Charset = latin1"), "latin1");
}

TEST(CharsetFromContentType, QuotedValues) {
    EXPECT_EQ(CharsetFromContentType("text/plain; charset=\"UTF-16LE\""), "UTF-16LE");
    EXPECT_EQ(CharsetFromContentType("text/plain; charset=\"ut\\f-8\"; format=flowed"), "utf-8");
    EXPECT_EQ(CharsetFromContentType("text/plain; title=\"a; charset=koi8-r\"; charset=latin1"), "latin1");
}

TEST(CharsetFromContentType, OtherParametersAreSkipped) {
    EXPECT_EQ(CharsetFromContentType("application/x-ndjson; header=present; charset=cp1252"), "cp1252");
    EXPECT_EQ(CharsetFromContentType("text/csv; flag; charset=latin1"), "latin1");
    EXPECT_EQ(CharsetFromContentType("text/csv; xcharset=latin1"), std::nullopt);
}

TEST(CharsetFromContentType, AbsentOrEmpty) {
    EXPECT_EQ(CharsetFromContentType(""), std::nullopt);
    EXPECT_EQ(CharsetFromContentType("application/json"), std::nullopt);
    EXPECT_EQ(CharsetFromContentType("application/json;"), std::nullopt);
    EXPECT_EQ(CharsetFromContentType("application/json; charset="), std::nullopt);
    EXPECT_EQ(CharsetFromContentType("application/json; charset=\"\""), std::nullopt);
    EXPECT_EQ(CharsetFromContentType("charset=latin1"), std::nullopt);  // the media type, not a parameter
}

TEST(IsUtf8Charset, Utf8AndAsciiNeedNoConversion) {
    EXPECT_TRUE(IsUtf8Charset("utf-8"));
    EXPECT_TRUE(IsUtf8Charset("UTF-8"));
    EXPECT_TRUE(IsUtf8Charset("Utf8"));
    EXPECT_TRUE(IsUtf8Charset("US-ASCII"));
    EXPECT_FALSE(IsUtf8Charset("ISO-8859-1"));
    EXPECT_FALSE(IsUtf8Charset("utf-16"));
    EXPECT_FALSE(IsUtf8Charset("utf-8x"));
    EXPECT_FALSE(IsUtf8Charset(""));
}

TEST(TranscodingSource, Latin1) {
    EXPECT_EQ(Convert("ISO-8859-1", "{\"name\": \"Jos\xe9 M\xfcller \xa7\"}\n"),
              "{\"name\": \"Jos\xc3\xa9 M\xc3\xbcller \xc2\xa7\"}\n");
    EXPECT_EQ(Convert("latin1", "caf\xe9"), "caf\xc3\xa9");
    EXPECT_EQ(Convert("iso-8859-1", ""), "");
}

TEST(TranscodingSource, Windows1252) {
    // 0x80 is the euro sign, 0x93/0x94 curly quotes: not Latin-1.
    EXPECT_EQ(Convert("windows-1252", "\x80 5, \x93quoted\x94"), "\xe2\x82\xac 5, \xe2\x80\x9cquoted\xe2\x80\x9d");
    EXPECT_EQ(Convert("CP1252", "\x80"), "\xe2\x82\xac");
}

TEST(TranscodingSource, Utf16LittleEndian) {
    const std::string input("a\0\xe9\0\xac\x20\x3d\xd8\x00\xde", 10);  // a é € U+1F600 (a surrogate pair)
    EXPECT_EQ(Convert("UTF-16LE", input), "a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
}

TEST(TranscodingSource, AByteOrderMarkIsDropped) {
    EXPECT_EQ(Convert("UTF-16LE", std::string("\xff\xfe[\0]\0", 6)), "[]");
    EXPECT_EQ(Convert("UTF-16", std::string("\xff\xfe[\0]\0", 6)), "[]");
    EXPECT_EQ(Convert("UTF-16", std::string("\xfe\xff\0[\0]", 6)), "[]");
    // Only a leading one.
    EXPECT_EQ(Convert("UTF-16LE", std::string("[\0\xff\xfe]\0", 6)), "[\xef\xbb\xbf]");
}

TEST(TranscodingSource, SequencesSplitAcrossReads) {
    const std::string input("\xff\xfe{\0\xe9\0\xac\x20\x3d\xd8\x00\xde}\0", 14);
    const std::string expected("{\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80}");
    for (size_t piece : {1, 2, 3, 5}) {
        for (size_t chunk : {1, 2, 7}) {
            EXPECT_EQ(Convert("UTF-16LE", input, piece, chunk), expected) << piece << " " << chunk;
        }
    }
    EXPECT_EQ(Convert("windows-1252", "\x80\xe9\x80", 1, 1), "\xe2\x82\xac\xc3\xa9\xe2\x82\xac");
}

TEST(TranscodingSource, LargeBodiesStreamInBoundedBuffers) {
    // Larger than both buffers, in odd reads, with every character expanding to two or three bytes.
    std::string input;
    std::string expected;
    for (int i = 0; i < 100000; ++i) {
        input += "\xe9\x80\n";
        expected += "\xc3\xa9\xe2\x82\xac\n";
    }
    EXPECT_EQ(Convert("windows-1252", input, 7777, 3333), expected);
    EXPECT_EQ(Convert("windows-1252", input, 1 << 20, 1 << 20), expected);
}

TEST(TranscodingSource, InvalidInputNamesTheCharsetAndTheOffset) {
    // 0x81 is not a character of windows-1252.
    EXPECT_EQ(ConvertError("windows-1252", "abc\x81xyz"),
              "invalid byte sequence in the response body for charset \"windows-1252\" at byte 3 (0x81 0x78 0x79 "
              "0x7a)");
    EXPECT_EQ(ConvertError("windows-1252", "abc\x81", 1),
              "invalid byte sequence in the response body for charset \"windows-1252\" at byte 3 (0x81)");
    // An unpaired surrogate after a BOM, read a byte at a time.
    std::string message = ConvertError("UTF-16LE",
                                       std::string("\xff\xfe"
                                                   "a\0\x00\xdc"
                                                   "b\0",
                                                   8),
                                       1);
    EXPECT_NE(message.find("charset \"UTF-16LE\" at byte 4"), std::string::npos) << message;
}

TEST(TranscodingSource, ABodyEndingInsideASequenceIsAnError) {
    EXPECT_EQ(ConvertError("UTF-16LE", std::string("a\0b", 3)),
              "incomplete byte sequence at the end of the response body for charset \"UTF-16LE\" at byte 2 (0x62)");
    EXPECT_EQ(ConvertError("UTF-16LE", std::string("a\0\x3d\xd8", 4), 1),
              "incomplete byte sequence at the end of the response body for charset \"UTF-16LE\" at byte 2 (0x3d "
              "0xd8)");
}

TEST(TranscodingSource, UnknownCharsetIsAnErrorAtConstruction) {
    PieceSource inner("x", 1);
    try {
        TranscodingSource source(inner, "no-such-charset");
        FAIL() << "no error";
    } catch (const Error &e) {
        EXPECT_STREQ(e.what(), "unknown charset \"no-such-charset\" in the response's Content-Type");
    }
    // iconv's suffixes are not accepted from a server.
    EXPECT_EQ(ConvertError("latin1//IGNORE", "x"), "unknown charset \"latin1//IGNORE\" in the response's Content-Type");
    EXPECT_EQ(ConvertError("", "x"), "unknown charset \"\" in the response's Content-Type");
    EXPECT_EQ(ConvertError("bad\"name\n", "x"), "unknown charset \"bad?name?\" in the response's Content-Type");
}

TEST(TranscodingSource, ReadOfZeroBytesReturnsZeroWithoutReading) {
    PieceSource inner("\xe9", 1);
    TranscodingSource source(inner, "latin1");
    char c;
    EXPECT_EQ(source.Read(&c, 0), 0u);
    EXPECT_EQ(ReadAll(source), "\xc3\xa9");
    EXPECT_EQ(source.Read(&c, 1), 0u);
    EXPECT_EQ(source.InputBytesConverted(), 1u);
}
