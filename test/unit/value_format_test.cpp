#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "csv_reader.h"
#include "declaration.h"
#include "error.h"
#include "json_pointer.h"
#include "json_reader.h"
#include "json_record.h"
#include "ndjson_reader.h"
#include "value_format.h"

using bulk_ingest::AppendBase64AsBytea;
using bulk_ingest::AppendEpochTimestamp;
using bulk_ingest::AppendPgArrayFromJson;
using bulk_ingest::ColumnSpec;
using bulk_ingest::Error;
using bulk_ingest::JsonRecordParser;
using bulk_ingest::ParseColumnDecls;
using bulk_ingest::RecordError;
using bulk_ingest::ToColumnSpecs;
using bulk_ingest::ValueFormat;

namespace {

std::string Array(const std::string &json, ValueFormat format = ValueFormat::kNone) {
    std::string out, error;
    if (!AppendPgArrayFromJson(json, format, &out, &error)) {
        return "ERROR: " + error;
    }
    return out;
}

std::string Epoch(const std::string &text, int scale = 0) {
    std::string out, error;
    if (!AppendEpochTimestamp(text, scale, &out, &error)) {
        return "ERROR: " + error;
    }
    return out;
}

std::string Base64(const std::string &text) {
    std::string out, error;
    if (!AppendBase64AsBytea(text, &out, &error)) {
        return "ERROR: " + error;
    }
    return out;
}

ColumnSpec Col(const std::string &name, const std::string &pointer, ValueFormat format = ValueFormat::kNone,
               bool array = false) {
    ColumnSpec spec;
    spec.name = name;
    spec.pointer = bulk_ingest::ParseJsonPointer(pointer);
    spec.format = format;
    spec.array = array;
    return spec;
}

class StringSource : public bulk_ingest::ByteSource {
  public:
    explicit StringSource(std::string data) : data_(std::move(data)) {}
    size_t Read(char *buf, size_t max) override {
        size_t n = std::min(max, data_.size() - pos_);
        memcpy(buf, data_.data() + pos_, n);
        pos_ += n;
        return n;
    }

  private:
    std::string data_;
    size_t pos_ = 0;
};

// The error message of parsing the record with the columns, or "" when it parses.
std::string ParseError(const std::vector<ColumnSpec> &columns, const std::string &record) {
    JsonRecordParser parser(columns, "line");
    try {
        parser.Parse(record.data(), record.size(), 7);
    } catch (const RecordError &e) {
        return e.what();
    }
    return "";
}

}  // namespace

TEST(PgArrayFromJson, Scalars) {
    EXPECT_EQ(Array(R"([1, 2, null, "a,b", "q\"x"])"), R"({1,2,NULL,"a,b","q\"x"})");
    EXPECT_EQ(Array("[true,false, -1.5e3 ,0]"), "{true,false,-1.5e3,0}");
    EXPECT_EQ(Array(R"(["back\\slash", "{braces}", "NULL", "", " sp "])"),
              R"({"back\\slash","{braces}","NULL",""," sp "})");
    EXPECT_EQ(Array("[12345678901234567890123456789012345678901234567890]"),
              "{12345678901234567890123456789012345678901234567890}");
}

TEST(PgArrayFromJson, EmptyAndNested) {
    EXPECT_EQ(Array("[]"), "{}");
    EXPECT_EQ(Array(" [ ] "), "{}");
    EXPECT_EQ(Array("[[1,2],[3,null]]"), "{{1,2},{3,NULL}}");
    EXPECT_EQ(Array(R"([[["a"]],[["b"]]])"), R"({{{"a"}},{{"b"}}})");
    // PostgreSQL has no empty inner dimension: arrays of empty arrays are the empty array.
    EXPECT_EQ(Array("[[]]"), "{}");
    EXPECT_EQ(Array("[[], [[]]]"), "{}");
    EXPECT_EQ(Array("[[], [1]]"), "{{},{1}}");  // not rectangular: PostgreSQL's error
    EXPECT_EQ(Array(R"([[""]])"), R"({{""}})");
}

TEST(PgArrayFromJson, Unicode) {
    EXPECT_EQ(Array("[\"h\xC3\xA9llo\", \"\\u00e9\", \"\\ud83d\\ude00\", \"\xF0\x9F\x98\x80\"]"),
              "{\"h\xC3\xA9llo\",\"\xC3\xA9\",\"\xF0\x9F\x98\x80\",\"\xF0\x9F\x98\x80\"}");
    EXPECT_EQ(Array(R"(["tab\there", "nl\n", "\/"])"), "{\"tab\there\",\"nl\n\",\"/\"}");
}

TEST(PgArrayFromJson, Errors) {
    EXPECT_EQ(Array(R"([1, {"a": 1}])"), "ERROR: an object is not allowed as an array element at byte 4 of the array");
    EXPECT_NE(Array(R"(["\u0000"])").find("\\u0000"), std::string::npos);
    EXPECT_NE(Array(R"(["\udc00"])").find("lone surrogate"), std::string::npos);
    EXPECT_NE(Array(R"(["\ud800x"])").find("lone surrogate"), std::string::npos);
    EXPECT_NE(Array("{}").find("expected a JSON array"), std::string::npos);
    EXPECT_NE(Array("[1,]").find("ERROR"), std::string::npos);
    EXPECT_NE(Array("[1 2]").find("expected ',' or ']'"), std::string::npos);
    EXPECT_NE(Array("[1").find("ERROR"), std::string::npos);
    EXPECT_NE(Array("[\"abc").find("unterminated"), std::string::npos);
    EXPECT_NE(Array(std::string(1001, '[') + std::string(1001, ']')).find("deeper"), std::string::npos);
    EXPECT_EQ(Array(std::string(999, '[') + "1" + std::string(999, ']')),
              std::string(999, '{') + "1" + std::string(999, '}'));
}

TEST(PgArrayFromJson, ElementFormats) {
    EXPECT_EQ(Array(R"([0, "86400.5", null])", ValueFormat::kEpoch),
              R"({"1970-01-01T00:00:00Z","1970-01-02T00:00:00.5Z",NULL})");
    EXPECT_EQ(Array(R"(["AQI=", "_w"])", ValueFormat::kBase64), R"({"\\x0102","\\xff"})");
    EXPECT_NE(Array("[true]", ValueFormat::kEpoch).find("an array element: \"true\" is not a number"),
              std::string::npos);
}

TEST(EpochTimestamp, Integers) {
    EXPECT_EQ(Epoch("0"), "1970-01-01T00:00:00Z");
    EXPECT_EQ(Epoch("1704103200"), "2024-01-01T10:00:00Z");
    EXPECT_EQ(Epoch("951782400"), "2000-02-29T00:00:00Z");
    EXPECT_EQ(Epoch("-1"), "1969-12-31T23:59:59Z");
    EXPECT_EQ(Epoch("-86400"), "1969-12-31T00:00:00Z");
    EXPECT_EQ(Epoch("253402300799"), "9999-12-31T23:59:59Z");
    EXPECT_EQ(Epoch("253402300800"), "10000-01-01T00:00:00Z");
    EXPECT_EQ(Epoch("-62135596800"), "0001-01-01T00:00:00Z");
    EXPECT_EQ(Epoch("-62135596801"), "0001-12-31 23:59:59+00 BC");
}

TEST(EpochTimestamp, Fractions) {
    EXPECT_EQ(Epoch("1704103200.5"), "2024-01-01T10:00:00.5Z");
    EXPECT_EQ(Epoch("1704103200.000001"), "2024-01-01T10:00:00.000001Z");
    EXPECT_EQ(Epoch("1704103200.0000004"), "2024-01-01T10:00:00Z");
    EXPECT_EQ(Epoch("1704103200.0000005"), "2024-01-01T10:00:00.000001Z");
    EXPECT_EQ(Epoch("1704103199.9999999"), "2024-01-01T10:00:00Z");
    EXPECT_EQ(Epoch("-0.5"), "1969-12-31T23:59:59.5Z");
    EXPECT_EQ(Epoch("-1.25"), "1969-12-31T23:59:58.75Z");
    EXPECT_EQ(Epoch("1.7041032e9"), "2024-01-01T10:00:00Z");
    EXPECT_EQ(Epoch("17041032005E-1"), "2024-01-01T10:00:00.5Z");
    EXPECT_EQ(Epoch("0.0"), "1970-01-01T00:00:00Z");
    EXPECT_EQ(Epoch("-0"), "1970-01-01T00:00:00Z");
    EXPECT_EQ(Epoch("0e999999999999"), "1970-01-01T00:00:00Z");
    EXPECT_EQ(Epoch("1e-999999999999"), "1970-01-01T00:00:00Z");
}

TEST(EpochTimestamp, StringForms) {
    EXPECT_EQ(Epoch(" 1704103200 "), "2024-01-01T10:00:00Z");
    EXPECT_EQ(Epoch("+1704103200"), "2024-01-01T10:00:00Z");
    EXPECT_EQ(Epoch(".5"), "1970-01-01T00:00:00.5Z");
    EXPECT_EQ(Epoch("5."), "1970-01-01T00:00:05Z");
    EXPECT_EQ(Epoch("00001704103200"), "2024-01-01T10:00:00Z");
}

TEST(EpochTimestamp, Milliseconds) {
    EXPECT_EQ(Epoch("1704103200500", 3), "2024-01-01T10:00:00.5Z");
    EXPECT_EQ(Epoch("1704103200000", 3), "2024-01-01T10:00:00Z");
    EXPECT_EQ(Epoch("1.5", 3), "1970-01-01T00:00:00.0015Z");
    EXPECT_EQ(Epoch("-1", 3), "1969-12-31T23:59:59.999Z");
    EXPECT_EQ(Epoch("1.7041032005e12", 3), "2024-01-01T10:00:00.5Z");
}

TEST(EpochTimestamp, RangeAndHuge) {
    EXPECT_EQ(Epoch("-210866803200"), "4714-11-24 00:00:00+00 BC");
    EXPECT_NE(Epoch("-210866803201").find("out of the range"), std::string::npos);
    EXPECT_EQ(Epoch("9224318015999.999999"), "294276-12-31T23:59:59.999999Z");
    EXPECT_NE(Epoch("9224318016000").find("out of the range"), std::string::npos);
    EXPECT_NE(Epoch("1e15").find("out of the range"), std::string::npos);
    EXPECT_NE(Epoch("1e400").find("out of the range"), std::string::npos);
    EXPECT_NE(Epoch(std::string(400, '9')).find("out of the range"), std::string::npos);
    EXPECT_NE(Epoch("-1e999999999999").find("out of the range"), std::string::npos);
    EXPECT_EQ(Epoch("9224318015999999", 3), "294276-12-31T23:59:59.999Z");
}

TEST(EpochTimestamp, Invalid) {
    for (const char *bad : {"", " ", "abc", "1704103200x", "1,5", "--1", "1e", "1e+", ".", "-", "true", "0x10", "1 2",
                            "NaN", "Infinity", "2024-01-01"}) {
        std::string result = Epoch(bad);
        EXPECT_EQ(result, std::string("ERROR: \"") + bad + "\" is not a number of seconds since 1970-01-01 UTC") << bad;
    }
    EXPECT_EQ(Epoch("x", 3), "ERROR: \"x\" is not a number of milliseconds since 1970-01-01 UTC");
    std::string long_value(300, 'z');
    EXPECT_EQ(Epoch(long_value), "ERROR: \"" + std::string(100, 'z') +
                                     "\"... (300 bytes) is not a number of seconds since 1970-01-01 UTC");
}

TEST(Base64AsBytea, Alphabets) {
    EXPECT_EQ(Base64(""), "\\x");
    EXPECT_EQ(Base64("AQID"), "\\x010203");
    EXPECT_EQ(Base64("aGVsbG8="), "\\x68656c6c6f");
    EXPECT_EQ(Base64("aGVsbG8"), "\\x68656c6c6f");
    EXPECT_EQ(Base64("aGk="), "\\x6869");
    EXPECT_EQ(Base64("aA=="), "\\x68");
    EXPECT_EQ(Base64("aA"), "\\x68");
    EXPECT_EQ(Base64("+/+/"), "\\xfbffbf");
    EXPECT_EQ(Base64("-_-_"), "\\xfbffbf");
    EXPECT_EQ(Base64("//79"), "\\xfffefd");
    EXPECT_EQ(Base64("__79"), "\\xfffefd");
    EXPECT_EQ(Base64("aGVs\r\nbG8="), "\\x68656c6c6f");
}

TEST(Base64AsBytea, Invalid) {
    EXPECT_NE(Base64("aGVsbG8*").find("the character at byte 7 is not in the base64 alphabet"), std::string::npos);
    EXPECT_NE(Base64("a").find("length"), std::string::npos);
    EXPECT_NE(Base64("aGVsb").find("length"), std::string::npos);
    EXPECT_NE(Base64("aA=").find("length"), std::string::npos);
    EXPECT_NE(Base64("aA===").find("length"), std::string::npos);
    EXPECT_NE(Base64("aGk=aGk=").find("padding is only allowed at the end"), std::string::npos);
    EXPECT_NE(Base64("\xC3\xA9").find("not in the base64 alphabet"), std::string::npos);
    EXPECT_EQ(Base64("!").substr(0, 14), "ERROR: \"!\" is ");
}

TEST(ValueFormatRecords, JsonRecordArraysAndFormats) {
    std::vector<ColumnSpec> columns = {
        Col("tags", "/tags", ValueFormat::kNone, true),
        Col("raw", "/tags"),
        Col("ts", "/ts", ValueFormat::kEpoch),
        Col("ms", "/ms", ValueFormat::kEpochMs),
        Col("blob", "/blob", ValueFormat::kBase64),
        Col("times", "/times", ValueFormat::kEpoch, true),
        Col("scalar", "/scalar", ValueFormat::kNone, true),
    };
    JsonRecordParser parser(columns, "line");
    std::string record =
        R"({"tags": [1, null, "a,b", "q\"x", ["n"]], "ts": 1704103200.5, "ms": "1704103200500", "blob": "AQI=",)"
        R"( "times": [0, "60"], "scalar": "[not an array]"})";
    parser.Parse(record.data(), record.size(), 1);
    EXPECT_EQ(parser.Field(0).text, R"({1,NULL,"a,b","q\"x",{"n"}})");
    EXPECT_EQ(parser.Field(1).text, R"([1, null, "a,b", "q\"x", ["n"]])");
    EXPECT_EQ(parser.Field(2).text, "2024-01-01T10:00:00.5Z");
    EXPECT_EQ(parser.Field(3).text, "2024-01-01T10:00:00.5Z");
    EXPECT_EQ(parser.Field(4).text, "\\x0102");
    EXPECT_EQ(parser.Field(5).text, R"({"1970-01-01T00:00:00Z","1970-01-01T00:01:00Z"})");
    EXPECT_EQ(parser.Field(6).text, "[not an array]");

    // Nulls and missing keys stay NULL; a scalar in an array column with a format is formatted.
    std::string second = R"({"tags": null, "ts": null, "blob": null, "times": 86400})";
    parser.Parse(second.data(), second.size(), 2);
    for (size_t c : {0, 1, 2, 3, 4, 6}) {
        EXPECT_TRUE(parser.Field(c).is_null) << c;
    }
    EXPECT_EQ(parser.Field(5).text, "1970-01-02T00:00:00Z");

    // A duplicate declared key is refused, whichever value was converted; the parser goes on with the next record.
    for (const char *dup : {R"({"tags": [1], "tags": "x"})", R"({"times": 120, "times": [180]})"}) {
        std::string text = dup;
        EXPECT_THROW(parser.Parse(text.data(), text.size(), 3), bulk_ingest::RecordError) << dup;
    }
    std::string fourth = R"({"tags": [2, 3], "times": [180]})";
    parser.Parse(fourth.data(), fourth.size(), 4);
    EXPECT_EQ(parser.Field(0).text, "{2,3}");
    EXPECT_EQ(parser.Field(5).text, R"({"1970-01-01T00:03:00Z"})");
}

TEST(ValueFormatRecords, JsonRecordErrorsNameColumnAndValue) {
    std::vector<ColumnSpec> columns = {Col("tags", "/tags", ValueFormat::kNone, true),
                                       Col("ts", "/ts", ValueFormat::kEpoch), Col("blob", "/b", ValueFormat::kBase64)};
    EXPECT_EQ(ParseError(columns, R"({"tags": [{"a": 1}]})"),
              "line 7: column \"tags\": an object is not allowed as an array element at byte 1 of the array");
    EXPECT_EQ(ParseError(columns, R"({"ts": "soon"})"),
              "line 7: column \"ts\" (format \"epoch\"): \"soon\" is not a number of seconds since 1970-01-01 UTC");
    EXPECT_EQ(ParseError(columns, R"({"ts": true})"),
              "line 7: column \"ts\" (format \"epoch\"): \"true\" is not a number of seconds since 1970-01-01 UTC");
    EXPECT_EQ(ParseError(columns, R"({"ts": 1e300})"),
              "line 7: column \"ts\" (format \"epoch\"): \"1e300\" seconds since 1970-01-01 UTC is out of the range "
              "of timestamps");
    EXPECT_NE(
        ParseError(columns, R"({"b": "@@@@"})").find("column \"blob\" (format \"base64\"): \"@@@@\" is not valid"),
        std::string::npos);
    EXPECT_EQ(ParseError(columns, R"({"tags": [], "ts": "0", "b": ""})"), "");
}

TEST(ValueFormatRecords, JsonColumnsAreNotConverted) {
    ColumnSpec json = Col("doc", "/doc", ValueFormat::kNone, true);
    json.json = true;
    JsonRecordParser parser({json}, "record");
    std::string record = R"({"doc": [1, "a"]})";
    parser.Parse(record.data(), record.size(), 1);
    EXPECT_EQ(parser.Field(0).text, R"([1, "a"])");
}

TEST(ValueFormatRecords, NdjsonAndJsonReaders) {
    std::vector<ColumnSpec> columns = {Col("ids", "/ids", ValueFormat::kNone, true),
                                       Col("at", "/at", ValueFormat::kEpochMs)};
    StringSource ndjson("{\"ids\": [1, 2], \"at\": 1000}\n{\"ids\": [], \"at\": \"-1000\"}\n");
    bulk_ingest::NdjsonReader reader(ndjson, columns);
    ASSERT_TRUE(reader.Next());
    EXPECT_EQ(reader.Field(0).text, "{1,2}");
    EXPECT_EQ(reader.Field(1).text, "1970-01-01T00:00:01Z");
    ASSERT_TRUE(reader.Next());
    EXPECT_EQ(reader.Field(0).text, "{}");
    EXPECT_EQ(reader.Field(1).text, "1969-12-31T23:59:59Z");
    EXPECT_FALSE(reader.Next());

    StringSource json(R"([{"ids": [[1], [2]], "at": 1.5}])");
    bulk_ingest::JsonReader json_reader(json, columns);
    ASSERT_TRUE(json_reader.Next());
    EXPECT_EQ(json_reader.Field(0).text, "{{1},{2}}");
    EXPECT_EQ(json_reader.Field(1).text, "1970-01-01T00:00:00.0015Z");
    EXPECT_FALSE(json_reader.Next());
}

TEST(ValueFormatRecords, CsvFields) {
    std::vector<ColumnSpec> columns = {Col("at", "/at", ValueFormat::kEpoch), Col("b", "/b", ValueFormat::kBase64),
                                       Col("ids", "/ids", ValueFormat::kNone, true),
                                       Col("when", "/when", ValueFormat::kEpoch, true)};
    StringSource source("at,b,ids,when\n1704103200,AQI=,\"{1,2}\",{0}\n,,,\n");
    bulk_ingest::CsvReader reader(source, columns);
    ASSERT_TRUE(reader.Next());
    EXPECT_EQ(reader.Field(0).text, "2024-01-01T10:00:00Z");
    EXPECT_EQ(reader.Field(1).text, "\\x0102");
    EXPECT_EQ(reader.Field(2).text, "{1,2}");  // CSV: the text of an array column is already an array literal
    EXPECT_EQ(reader.Field(3).text, "{0}");
    ASSERT_TRUE(reader.Next());
    EXPECT_TRUE(reader.Field(0).is_null);
    EXPECT_TRUE(reader.Field(1).is_null);
    EXPECT_FALSE(reader.Next());

    StringSource bad("at,b,ids,when\n1704103200,AQI=,{},{}\nyesterday,AQI=,{},{}\n");
    bulk_ingest::CsvReader bad_reader(bad, columns);
    ASSERT_TRUE(bad_reader.Next());
    try {
        bad_reader.Next();
        FAIL() << "no error";
    } catch (const RecordError &e) {
        EXPECT_STREQ(e.what(),
                     "line 3: column \"at\" (format \"epoch\"): \"yesterday\" is not a number of seconds since "
                     "1970-01-01 UTC");
    }
}

TEST(ValueFormatDeclarations, FormatKey) {
    auto decls = ParseColumnDecls(R"([{"name": "at", "type": "timestamptz", "format": "epoch"},
                                      {"name": "ms", "type": "timestamp", "format": "epoch_ms"},
                                      {"name": "b", "type": "bytea", "format": "base64"},
                                      {"name": "plain", "type": "text"}])");
    ASSERT_EQ(decls.size(), 4u);
    EXPECT_EQ(decls[0].format, "epoch");
    EXPECT_EQ(decls[0].value_format, ValueFormat::kEpoch);
    EXPECT_EQ(decls[1].value_format, ValueFormat::kEpochMs);
    EXPECT_EQ(decls[2].value_format, ValueFormat::kBase64);
    EXPECT_EQ(decls[3].format, "");
    EXPECT_EQ(decls[3].value_format, ValueFormat::kNone);

    auto specs = ToColumnSpecs(decls, {false, false, false, false});
    EXPECT_EQ(specs[0].format, ValueFormat::kEpoch);
    EXPECT_EQ(specs[1].format, ValueFormat::kEpochMs);
    EXPECT_EQ(specs[2].format, ValueFormat::kBase64);
    EXPECT_EQ(specs[3].format, ValueFormat::kNone);
    for (const auto &spec : specs) {
        EXPECT_FALSE(spec.array);  // set by the PostgreSQL layer
    }
}

TEST(ValueFormatDeclarations, Errors) {
    auto error = [](const std::string &json) -> std::string {
        try {
            ParseColumnDecls(json);
        } catch (const Error &e) {
            return e.what();
        }
        return "";
    };
    EXPECT_EQ(error(R"([{"name": "at", "type": "timestamptz", "format": "unix"}])"),
              "columns[0] (\"at\"): unknown \"format\" \"unix\"; known formats: base64, epoch, epoch_ms");
    EXPECT_EQ(error(R"([{"name": "at", "type": "timestamptz", "format": ""}])"),
              "columns[0] (\"at\"): unknown \"format\" \"\"; known formats: base64, epoch, epoch_ms");
    EXPECT_EQ(error(R"([{"name": "at", "type": "timestamptz", "format": 1}])"),
              "columns[0] (\"at\"): \"format\" must be a string, one of: base64, epoch, epoch_ms");
    EXPECT_NE(error(R"([{"name": "a", "type": "int", "unique": true}])").find("path, format"), std::string::npos);

    auto decls = ParseColumnDecls(R"([{"name": "doc", "type": "jsonb", "format": "base64"}])");
    try {
        ToColumnSpecs(decls, {true});
        FAIL() << "no error";
    } catch (const Error &e) {
        EXPECT_STREQ(e.what(), "column \"doc\": \"format\": \"base64\" does not apply to a json/jsonb column");
    }
}
