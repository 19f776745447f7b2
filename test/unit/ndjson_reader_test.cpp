#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <new>
#include <optional>
#include <string>
#include <vector>

#include "copy_text.h"
#include "error.h"
#include "piece_source.h"
#include "json_pointer.h"
#include "ndjson_reader.h"

// Counts the heap allocations of this test binary, to check that reading needs none once warmed up.
static std::atomic<uint64_t> g_allocations{0};

[[gnu::noinline]] void *operator new(size_t size) {
    g_allocations.fetch_add(1, std::memory_order_relaxed);
    if (void *p = std::malloc(size == 0 ? 1 : size)) {
        return p;
    }
    throw std::bad_alloc();
}
[[gnu::noinline]] void operator delete(void *p) noexcept {
    std::free(p);
}
[[gnu::noinline]] void operator delete(void *p, size_t) noexcept {
    std::free(p);
}

using bulk_ingest::ByteSource;
using bulk_ingest::ColumnSpec;
using bulk_ingest::NdjsonReader;
using bulk_ingest::ParseJsonPointer;
using bulk_ingest::RecordError;

using bulk_ingest::testing::kPatterns;
using bulk_ingest::testing::PieceSource;

namespace {

using Value = std::optional<std::string>;  // nullopt: SQL NULL
using Row = std::vector<Value>;

struct Result {
    std::vector<Row> rows;
    std::vector<uint64_t> lines;
    std::vector<uint64_t> bytes;  // BytesConsumed() after each record
    std::string error;            // what() of the RecordError that ended the read, if any
    uint64_t error_line = 0;
    bool operator==(const Result &o) const {
        return rows == o.rows && lines == o.lines && bytes == o.bytes && error == o.error && error_line == o.error_line;
    }
};

ColumnSpec Col(const std::string &name, const std::string &pointer, bool json = false, bool nullable = true) {
    ColumnSpec c;
    c.name = name;
    c.pointer = ParseJsonPointer(pointer);
    c.json = json;
    c.nullable = nullable;
    return c;
}

ColumnSpec Json(const std::string &name, const std::string &pointer) {
    return Col(name, pointer, true);
}

Result ReadWith(const std::string &data, const std::vector<ColumnSpec> &columns, const std::vector<size_t> &pattern) {
    PieceSource source(data, pattern);
    NdjsonReader reader(source, columns);
    EXPECT_EQ(reader.ColumnCount(), columns.size());
    Result result;
    try {
        while (reader.Next()) {
            Row row;
            for (size_t i = 0; i < reader.ColumnCount(); i++) {
                const bulk_ingest::FieldValue &f = reader.Field(i);
                row.push_back(f.is_null ? Value() : Value(std::string(f.text)));
            }
            result.rows.push_back(row);
            result.lines.push_back(reader.Line());
            result.bytes.push_back(reader.BytesConsumed());
        }
        EXPECT_EQ(reader.BytesConsumed(), data.size());
    } catch (const RecordError &e) {
        result.error = e.what();
        result.error_line = e.line();
    }
    return result;
}

// Reads data with every piece pattern, checks they all agree, and returns the result.
Result Read(const std::string &data, const std::vector<ColumnSpec> &columns) {
    Result first = ReadWith(data, columns, kPatterns[0]);
    for (size_t p = 1; p < kPatterns.size(); p++) {
        EXPECT_TRUE(ReadWith(data, columns, kPatterns[p]) == first) << "piece pattern " << p;
    }
    return first;
}

std::vector<Row> Rows(const std::string &data, const std::vector<ColumnSpec> &columns) {
    Result r = Read(data, columns);
    EXPECT_EQ(r.error, "");
    return r.rows;
}

// The single row of a one-line input.
Row One(const std::string &line, const std::vector<ColumnSpec> &columns) {
    std::vector<Row> rows = Rows(line + "\n", columns);
    EXPECT_EQ(rows.size(), 1u);
    return rows.empty() ? Row() : rows[0];
}

std::string ErrorOf(const std::string &data, const std::vector<ColumnSpec> &columns) {
    return Read(data, columns).error;
}

const Value N;  // NULL

}  // namespace

TEST(NdjsonReader, ReadsTheDeclaredColumns) {
    std::vector<ColumnSpec> cols = {Col("id", "/id"), Col("customer", "/customer"), Col("amount", "/amount"),
                                    Col("updated_at", "/updated_at"), Json("details", "/meta")};
    std::string data =
        "{\"id\": 1, \"customer\": \"alice\", \"amount\": 12.50, \"updated_at\": \"2024-01-01T00:00:00Z\", "
        "\"meta\": {\"tags\": [\"a\", \"b\"], \"n\": 1}, \"ignored\": [1, {\"x\": 2}]}\n"
        "{\"customer\":\"bob\",\"id\":2,\"amount\":-3,\"updated_at\":\"2024-01-02\"}\n";
    std::vector<Row> rows = Rows(data, cols);
    ASSERT_EQ(rows.size(), 2u);
    EXPECT_EQ(rows[0], (Row{"1", "alice", "12.50", "2024-01-01T00:00:00Z", "{\"tags\": [\"a\", \"b\"], \"n\": 1}"}));
    EXPECT_EQ(rows[1], (Row{"2", "bob", "-3", "2024-01-02", N}));
}

TEST(NdjsonReader, NestedPointers) {
    std::vector<ColumnSpec> cols = {Col("city", "/customer/address/city"), Col("zip", "/customer/address/zip"),
                                    Col("name", "/customer/name"), Col("deep", "/a/b/c/d/e")};
    Row row =
        One("{\"customer\": {\"name\": \"A\", \"address\": {\"zip\": \"123\", \"city\": \"Oslo\", \"other\": {}}}, "
            "\"a\": {\"b\": {\"c\": {\"d\": {\"e\": true}}}}}",
            cols);
    EXPECT_EQ(row, (Row{"Oslo", "123", "A", "true"}));
    // A path through a value that is not an object finds nothing.
    EXPECT_EQ(One("{\"customer\": \"flat\", \"a\": {\"b\": [1, 2]}}", cols), (Row{N, N, N, N}));
    EXPECT_EQ(One("{\"customer\": {\"address\": null}, \"a\": {\"b\": {\"c\": 5}}}", cols), (Row{N, N, N, N}));
}

TEST(NdjsonReader, ArrayIndexes) {
    std::vector<ColumnSpec> cols = {Col("first", "/arr/0"),         Col("third", "/arr/2"),    Col("tenth", "/arr/10"),
                                    Col("leading_zero", "/arr/01"), Col("nested", "/arr/1/k"), Col("matrix", "/m/1/0"),
                                    Col("dash", "/arr/-")};
    Row row =
        One("{\"arr\": [\"a\", {\"k\": \"v\"}, 3, [4], null, 6, 7, 8, 9, 10, \"eleventh\"], "
            "\"m\": [[1, 2], [3, 4]]}",
            cols);
    EXPECT_EQ(row, (Row{"a", "3", "eleventh", N, "v", "3", N}));
    EXPECT_EQ(One("{\"arr\": []}", cols), (Row{N, N, N, N, N, N, N}));
    // On an object the index token is a plain key.
    EXPECT_EQ(One("{\"arr\": {\"0\": \"zero\", \"01\": \"oh-one\", \"-\": \"dash\"}}", cols),
              (Row{"zero", N, N, "oh-one", N, N, "dash"}));
}

TEST(NdjsonReader, LargeArrayIndex) {
    std::vector<ColumnSpec> cols = {Col("i5000", "/a/5000"), Col("i3", "/a/3")};
    std::string line = "{\"a\": [";
    for (int i = 0; i < 6000; i++) {
        line += (i ? "," : "") + std::to_string(i * 2);
    }
    line += "]}";
    EXPECT_EQ(One(line, cols), (Row{"10000", "6"}));
}

TEST(NdjsonReader, EscapedPointerTokensAndEscapedKeys) {
    std::vector<ColumnSpec> cols = {Col("slash", "/a~1b"), Col("tilde", "/m~0n"), Col("empty", "/"),
                                    Col("unicode", "/caf\xc3\xa9"), Col("space", "/with space")};
    Row row = One("{\"a/b\": 1, \"m~n\": 2, \"\": 3, \"caf\\u00e9\": 4, \"with\\u0020space\": 5}", cols);
    EXPECT_EQ(row, (Row{"1", "2", "3", "4", "5"}));
    // Keys that look like the escaped pointer are other keys.
    EXPECT_EQ(One("{\"a~1b\": 1, \"m~0n\": 2}", cols), (Row{N, N, N, N, N}));
}

TEST(NdjsonReader, DuplicateDeclaredKeysAreRefused) {
    // Which of two values of a key was meant cannot be known: a key a declared path goes through may occur once.
    std::vector<ColumnSpec> cols = {Col("a", "/a"), Col("id", "/meta/id"), Json("meta", "/meta")};
    EXPECT_EQ(ErrorOf("{\"a\": 1, \"a\": \"two\"}\n", cols),
              "line 1: invalid JSON at byte 9: the key \"a\" occurs more than once in one object (which value is meant "
              "is unknown)");
    EXPECT_NE(ErrorOf("{\"a\": 1, \"a\": null}\n", cols).find("the key \"a\" occurs more than once"),
              std::string::npos);
    EXPECT_NE(ErrorOf("{\"meta\": {\"id\": 1}, \"meta\": 5}\n", cols).find("\"meta\" occurs more than once"),
              std::string::npos);
    EXPECT_NE(ErrorOf("{\"meta\": {\"id\": 1, \"id\": 2}}\n", cols).find("\"id\" occurs more than once"),
              std::string::npos);
    // The same key in different objects is no duplicate, nor in the objects of one array, nor on the next line.
    std::vector<ColumnSpec> items = {Col("first", "/items/0/id"), Col("second", "/items/1/id")};
    EXPECT_EQ(One("{\"items\": [{\"id\": 1}, {\"id\": 2}]}", items), (Row{"1", "2"}));
    EXPECT_EQ(Rows("{\"a\": 1}\n{\"a\": 2}\n", cols), (std::vector<Row>{{"1", N, N}, {"2", N, N}}));
    // Keys no declared path goes through are not checked: they change nothing that is loaded. A json column's
    // document is passed on as written (jsonb keeps the last value of a key).
    EXPECT_EQ(One("{\"a\": 1, \"x\": 1, \"x\": 2}", cols), (Row{"1", N, N}));
    std::vector<ColumnSpec> doc = {Json("doc", "/doc")};
    EXPECT_EQ(One("{\"doc\": {\"k\": 1, \"k\": 2}}", doc), (Row{"{\"k\": 1, \"k\": 2}"}));
    // The line is refused as a whole; the next line is read.
    Result r = Read("{\"a\": 1, \"a\": 2}\n{\"a\": 3}\n", cols);
    EXPECT_EQ(r.error_line, 1u);
}

TEST(NdjsonReader, StringEscapesAreDecoded) {
    std::vector<ColumnSpec> cols = {Col("s", "/s")};
    EXPECT_EQ(One("{\"s\": \"q\\\"b\\\\s\\/f\\b\\f\\n\\r\\t.\"}", cols), (Row{"q\"b\\s/f\b\f\n\r\t."}));
    EXPECT_EQ(One("{\"s\": \"\"}", cols), (Row{""}));  // the empty string is not NULL
    EXPECT_EQ(One("{\"s\": \"\\\\N\"}", cols), (Row{"\\N"}));
    // Escapes at the very start and end of a string, several in a row.
    EXPECT_EQ(One("{\"s\": \"\\n\\n\\nabc\\t\"}", cols), (Row{"\n\n\nabc\t"}));
}

TEST(NdjsonReader, UnicodeEscapesAndRawUtf8) {
    std::vector<ColumnSpec> cols = {Col("s", "/s")};
    EXPECT_EQ(One("{\"s\": \"caf\\u00e9\"}", cols), (Row{"caf\xc3\xa9"}));
    EXPECT_EQ(One("{\"s\": \"\\u00E9\\u2713\"}", cols), (Row{"\xc3\xa9\xe2\x9c\x93"}));
    EXPECT_EQ(One("{\"s\": \"\\ud83d\\ude00!\"}", cols), (Row{"\xf0\x9f\x98\x80!"}));  // surrogate pair: U+1F600
    EXPECT_EQ(One("{\"s\": \"\\u0001\\u001f\"}", cols), (Row{"\x01\x1f"}));
    EXPECT_EQ(One("{\"s\": \"raw caf\xc3\xa9 \xe2\x9c\x93 \xf0\x9f\x98\x80\"}", cols),
              (Row{"raw caf\xc3\xa9 \xe2\x9c\x93 \xf0\x9f\x98\x80"}));
}

TEST(NdjsonReader, NumbersKeepEveryDigitAsWritten) {
    std::vector<ColumnSpec> cols = {Col("n", "/n")};
    for (const char *number :
         {"0", "-0", "2.0", "-0.0", "123456789012345678901234567890123456789",
          "-123456789012345678901234567890.123456789", "0.1000000000000000000000000000000000000001",
          "18446744073709551616", "-9223372036854775809", "1e400", "1E+400", "-1.5e-400", "2.50E-3", "1e0308",
          "9.99e308", "1.7976931348623157e309", "12345678901234567890123.456e400", "100e306", "123e-00007"}) {
        EXPECT_EQ(One(std::string("{\"n\": ") + number + "}", cols), (Row{number})) << number;
    }
    std::string huge(400, '7');  // beyond double's range as an integer
    EXPECT_EQ(One("{\"n\": " + huge + "}", cols), (Row{huge}));
    EXPECT_EQ(One("{\"n\": -" + huge + ".5e+999}", cols), (Row{"-" + huge + ".5e+999"}));
}

TEST(NdjsonReader, SeveralHugeNumbersInALine) {
    std::vector<ColumnSpec> cols = {Col("a", "/a"), Col("b", "/b/0"), Json("j", "/j"), Col("c", "/c")};
    std::string big(320, '9');
    Row row =
        One("{\"a\": 1e400, \"x\": 2e999, \"b\": [" + big + "], \"j\": {\"k\": [3e500, \"s\\n\"]}, \"c\": 4}", cols);
    EXPECT_EQ(row, (Row{"1e400", big, "{\"k\": [3e500, \"s\\n\"]}", "4"}));
}

TEST(NdjsonReader, MalformedHugeNumbersAreStillErrors) {
    std::vector<ColumnSpec> cols = {Col("n", "/n")};
    std::string big(400, '1');
    EXPECT_EQ(ErrorOf("{\"n\": " + big + ".}\n", cols),
              "line 1: invalid JSON at byte 407: Miss fraction part in number.");
    EXPECT_EQ(ErrorOf("{\"n\": " + big + "e}\n", cols), "line 1: invalid JSON at byte 407: Miss exponent in number.");
    EXPECT_EQ(ErrorOf("{\"n\": 1e400x}\n", cols),
              "line 1: invalid JSON at byte 11: Missing a comma or '}' after an "
              "object member.");
    EXPECT_EQ(ErrorOf("{\"n\": 01}\n", cols),
              "line 1: invalid JSON at byte 7: Missing a comma or '}' after an "
              "object member.");
}

TEST(NdjsonReader, BooleansNullsAndMissingKeys) {
    std::vector<ColumnSpec> cols = {Col("t", "/t"),
                                    Col("f", "/f"),
                                    Col("n", "/n"),
                                    Col("missing", "/missing"),
                                    Json("jt", "/t"),
                                    Json("jn", "/n"),
                                    Json("jmissing", "/missing")};
    EXPECT_EQ(One("{\"t\": true, \"f\": false, \"n\": null}", cols), (Row{"true", "false", N, N, "true", N, N}));
    EXPECT_EQ(One("{}", cols), (Row{N, N, N, N, N, N, N}));
}

TEST(NdjsonReader, JsonColumnsGetTheRawJsonText) {
    std::vector<ColumnSpec> cols = {Json("obj", "/obj"), Json("arr", "/arr"), Json("str", "/str"),
                                    Json("num", "/num"), Json("esc", "/esc"), Json("empty", "/empty")};
    Row row =
        One("{\"obj\": { \"a\" : [1, 2.50, {\"b\": \"x\\\"y\"}], \"c\": null } , \"arr\": [ \"\\u00e9\", [], {} ], "
            "\"str\": \"a\\\"b\", \"num\": 1.10, \"esc\": \"tab\\there\\u00e9\", \"empty\": \"\"}",
            cols);
    EXPECT_EQ(row, (Row{"{ \"a\" : [1, 2.50, {\"b\": \"x\\\"y\"}], \"c\": null }", "[ \"\\u00e9\", [], {} ]",
                        "\"a\\\"b\"", "1.10", "\"tab\\there\\u00e9\"", "\"\""}));
}

TEST(NdjsonReader, AJsonColumnAndATextColumnOnTheSameString) {
    std::vector<ColumnSpec> cols = {Json("raw", "/s"), Col("text", "/s")};
    EXPECT_EQ(One("{\"s\": \"a\\\"b\\u00e9\"}", cols), (Row{"\"a\\\"b\\u00e9\"", "a\"b\xc3\xa9"}));
}

TEST(NdjsonReader, ObjectsAndArraysInTextColumnsAreTheirJsonText) {
    std::vector<ColumnSpec> cols = {Col("o", "/o"), Col("a", "/a")};
    EXPECT_EQ(One("{\"o\": {\"k\": \"v\\n\"}, \"a\": [1,2 , 3]}", cols), (Row{"{\"k\": \"v\\n\"}", "[1,2 , 3]"}));
}

TEST(NdjsonReader, APathThatIsALeafAndAPrefix) {
    std::vector<ColumnSpec> cols = {Json("meta", "/meta"), Col("id", "/meta/id"), Col("tag0", "/meta/tags/0"),
                                    Json("tags", "/meta/tags")};
    EXPECT_EQ(One("{\"meta\": {\"id\": 7, \"tags\": [\"x\", \"y\"]}}", cols),
              (Row{"{\"id\": 7, \"tags\": [\"x\", \"y\"]}", "7", "x", "[\"x\", \"y\"]"}));
    EXPECT_EQ(One("{\"meta\": \"plain\"}", cols), (Row{"\"plain\"", N, N, N}));
}

TEST(NdjsonReader, TwoColumnsOnTheSamePath) {
    std::vector<ColumnSpec> cols = {Col("a", "/v"), Col("b", "/v"), Json("c", "/v")};
    EXPECT_EQ(One("{\"v\": \"x\\ty\"}", cols), (Row{"x\ty", "x\ty", "\"x\\ty\""}));
}

TEST(NdjsonReader, EmptyPointerIsTheWholeRecord) {
    std::vector<ColumnSpec> cols = {Json("doc", ""), Col("id", "/id")};
    std::string line = "{\"id\": 1, \"s\": \"a\\\"b\", \"o\": {\"x\": [1]}}";
    EXPECT_EQ(One("  " + line + "  ", cols), (Row{line, "1"}));
}

TEST(NdjsonReader, ManyDeclaredKeysInOneObject) {
    std::vector<ColumnSpec> cols;
    std::string line = "{";
    Row expected;
    for (int i = 0; i < 40; i++) {
        cols.push_back(Col("c" + std::to_string(i), "/k" + std::to_string(i)));
        if (i % 3 != 0) {
            line += (line.size() > 1 ? ", " : "") + std::string("\"k") + std::to_string(i) + "\": " + std::to_string(i);
            expected.push_back(std::to_string(i));
        } else {
            expected.push_back(N);
        }
    }
    line += ", \"k\": 1, \"k400\": 2, \"other\": 3}";
    EXPECT_EQ(One(line, cols), expected);
}

TEST(NdjsonReader, CrLfLineEnds) {
    std::vector<ColumnSpec> cols = {Col("s", "/s"), Json("j", "/j")};
    Result r = Read("{\"s\": \"a\", \"j\": [1]}\r\n{\"s\": \"b\\r\"}\r\n\r\n{\"s\": \"c\"}\r\n", cols);
    EXPECT_EQ(r.error, "");
    EXPECT_EQ(r.rows, (std::vector<Row>{{"a", "[1]"}, {"b\r", N}, {"c", N}}));
    EXPECT_EQ(r.lines, (std::vector<uint64_t>{1, 2, 4}));
}

TEST(NdjsonReader, BlankLinesAreSkippedAndLinesStillCounted) {
    std::vector<ColumnSpec> cols = {Col("id", "/id")};
    std::string data = "\n  \n{\"id\": 1}\n\t \r\n\n{\"id\": 2}\n{\"id\": 3}\n\n   ";
    Result r = Read(data, cols);
    EXPECT_EQ(r.error, "");
    EXPECT_EQ(r.rows, (std::vector<Row>{{"1"}, {"2"}, {"3"}}));
    EXPECT_EQ(r.lines, (std::vector<uint64_t>{3, 6, 7}));
    EXPECT_EQ(r.bytes, (std::vector<uint64_t>{14, 29, 39}));
}

TEST(NdjsonReader, LastLineWithoutNewlineIsARecord) {
    std::vector<ColumnSpec> cols = {Col("id", "/id")};
    Result r = Read("{\"id\": 1}\n{\"id\": 2}", cols);
    EXPECT_EQ(r.rows, (std::vector<Row>{{"1"}, {"2"}}));
    EXPECT_EQ(r.lines, (std::vector<uint64_t>{1, 2}));
    EXPECT_EQ(r.bytes, (std::vector<uint64_t>{10, 19}));
}

TEST(NdjsonReader, EmptyInputs) {
    std::vector<ColumnSpec> cols = {Col("id", "/id")};
    EXPECT_TRUE(Read("", cols).rows.empty());
    EXPECT_TRUE(Read("\n\n \r\n", cols).rows.empty());
    EXPECT_EQ(Read("\n\n \r\n", cols).error, "");
}

TEST(NdjsonReader, ByteOrderMarkAtTheStartIsIgnored) {
    std::vector<ColumnSpec> cols = {Col("id", "/id")};
    Result r = Read("\xEF\xBB\xBF{\"id\": 1}\n{\"id\": 2}\n", cols);
    EXPECT_EQ(r.error, "");
    EXPECT_EQ(r.rows, (std::vector<Row>{{"1"}, {"2"}}));
    // Only at the start of the input.
    EXPECT_EQ(ErrorOf("{\"id\": 1}\n\xEF\xBB\xBF{\"id\": 2}\n", cols),
              "line 2: invalid JSON at byte 0: Invalid value.");
}

TEST(NdjsonReader, AFiveMegabyteLine) {
    std::vector<ColumnSpec> cols = {Col("id", "/id"), Col("big", "/big"), Json("raw", "/arr"), Col("after", "/after")};
    std::string big, escaped;
    for (size_t i = 0; big.size() < 5u * 1024 * 1024; i++) {
        big += "chunk " + std::to_string(i) + (i % 1000 == 0 ? "\n\"\\" : " ");
    }
    for (char c : big) {
        escaped += c == '\n'   ? std::string("\\n")
                   : c == '"'  ? std::string("\\\"")
                   : c == '\\' ? "\\\\"
                               : std::string(1, c);
    }
    std::string arr = "[";
    for (int i = 0; i < 100000; i++) {
        arr += (i ? "," : "") + std::to_string(i);
    }
    arr += "]";
    std::string data = "{\"id\": 1}\n{\"id\": 2, \"big\": \"" + escaped + "\", \"arr\": " + arr +
                       ", \"after\": \"x\"}\n{\"id\": 3, \"after\": \"y\"}";
    for (const std::vector<size_t> &pattern :
         std::vector<std::vector<size_t>>{{size_t(1) << 30}, {1, 2, 3, 4, 5, 6, 7}, {4093}}) {
        Result r = ReadWith(data, cols, pattern);
        EXPECT_EQ(r.error, "");
        ASSERT_EQ(r.rows.size(), 3u);
        EXPECT_EQ(r.rows[0], (Row{"1", N, N, N}));
        EXPECT_EQ(r.rows[1][0], "2");
        EXPECT_TRUE(r.rows[1][1] == big);
        EXPECT_TRUE(r.rows[1][2] == arr);
        EXPECT_EQ(r.rows[1][3], "x");
        EXPECT_EQ(r.rows[2], (Row{"3", N, N, "y"}));
        EXPECT_EQ(r.lines, (std::vector<uint64_t>{1, 2, 3}));
    }
}

TEST(NdjsonReader, ValuesStayValidUntilTheNextRecord) {
    std::vector<ColumnSpec> cols = {Col("a", "/a"), Json("b", "/b"), Col("c", "/c")};
    std::string data = "{\"a\": \"x\\ty\", \"b\": {\"k\": 1}, \"c\": 12}\n{\"a\": \"second\"}\n";
    PieceSource source(data, {3});
    NdjsonReader reader(source, cols);
    ASSERT_TRUE(reader.Next());
    std::string_view a = reader.Field(0).text, b = reader.Field(1).text, c = reader.Field(2).text;
    std::string row;
    bulk_ingest::AppendCopyRow(row, reader);
    EXPECT_EQ(a, "x\ty");
    EXPECT_EQ(b, "{\"k\": 1}");
    EXPECT_EQ(c, "12");
    EXPECT_EQ(row, "x\\ty\t{\"k\": 1}\t12\n");
    ASSERT_TRUE(reader.Next());
    row.clear();
    bulk_ingest::AppendCopyRow(row, reader);
    EXPECT_EQ(row, "second\t\\N\t\\N\n");
    EXPECT_FALSE(reader.Next());
    EXPECT_FALSE(reader.Next());  // stays at the end
}

TEST(NdjsonReader, MalformedJsonInTheMiddle) {
    std::vector<ColumnSpec> cols = {Col("id", "/id")};
    std::string data = "{\"id\": 1}\n\n{\"id\": 2}\n{\"id\": 3 \"x\": 4}\n{\"id\": 5}\n";
    Result r = Read(data, cols);
    EXPECT_EQ(r.rows, (std::vector<Row>{{"1"}, {"2"}}));
    EXPECT_EQ(r.error, "line 4: invalid JSON at byte 9: Missing a comma or '}' after an object member.");
    EXPECT_EQ(r.error_line, 4u);
}

TEST(NdjsonReader, VariousSyntaxErrors) {
    std::vector<ColumnSpec> cols = {Col("id", "/id")};
    EXPECT_EQ(ErrorOf("{\"id\": 1,}\n", cols), "line 1: invalid JSON at byte 9: Missing a name for object member.");
    EXPECT_EQ(ErrorOf("{\"id\" 1}\n", cols),
              "line 1: invalid JSON at byte 6: Missing a colon after a name of object "
              "member.");
    EXPECT_EQ(ErrorOf("{\"id\": 1\n", cols),
              "line 1: invalid JSON at byte 8: Missing a comma or '}' after an object "
              "member.");
    EXPECT_EQ(ErrorOf("{\"id\": \"abc}\n", cols),
              "line 1: invalid JSON at byte 12: Missing a closing quotation mark "
              "in string.");
    EXPECT_EQ(ErrorOf("{\"id\": tru}\n", cols), "line 1: invalid JSON at byte 10: Invalid value.");
    EXPECT_EQ(ErrorOf("{'id': 1}\n", cols), "line 1: invalid JSON at byte 1: Missing a name for object member.");
    EXPECT_EQ(ErrorOf("{\"id\": \"a\tb\"}\n", cols),
              "line 1: invalid JSON at byte 9: Invalid escape character in "
              "string.");
    EXPECT_EQ(ErrorOf("{\"id\": \"\\x\"}\n", cols),
              "line 1: invalid JSON at byte 8: Invalid escape character in "
              "string.");
    EXPECT_EQ(ErrorOf("{\"id\": [1, 2}\n", cols),
              "line 1: invalid JSON at byte 12: Missing a comma or ']' after an "
              "array element.");
    EXPECT_EQ(ErrorOf("xyz\n", cols), "line 1: invalid JSON at byte 0: Invalid value.");
    EXPECT_EQ(ErrorOf("nonsense\n", cols), "line 1: invalid JSON at byte 1: Invalid value.");
}

TEST(NdjsonReader, ANulByteInALineIsAnError) {
    std::vector<ColumnSpec> cols = {Col("id", "/id")};
    EXPECT_EQ(ErrorOf(std::string("{\"id\": 1}\0{\n", 12), cols),
              "line 1: invalid JSON at byte 9: The document root must not be followed by other values.");
    EXPECT_EQ(ErrorOf(std::string("{\"id\": \"a\0b\"}\n", 14), cols),
              "line 1: invalid JSON at byte 9: Missing a closing quotation mark in string.");
}

TEST(NdjsonReader, TrailingGarbageAfterTheObject) {
    std::vector<ColumnSpec> cols = {Col("id", "/id")};
    EXPECT_EQ(ErrorOf("{\"id\": 1}\n{\"id\": 2} x\n", cols),
              "line 2: invalid JSON at byte 10: The document root must not be followed by other values.");
    EXPECT_EQ(ErrorOf("{\"id\": 1}{\"id\": 2}\n", cols),
              "line 1: invalid JSON at byte 9: The document root must not be followed by other values.");
    EXPECT_EQ(ErrorOf("{\"id\": 1},\n", cols),
              "line 1: invalid JSON at byte 9: The document root must not be followed by other values.");
    // Whitespace after the object is fine.
    EXPECT_EQ(Rows("{\"id\": 1} \t \r\n", cols), (std::vector<Row>{{"1"}}));
}

TEST(NdjsonReader, LinesThatAreNotObjects) {
    std::vector<ColumnSpec> cols = {Col("id", "/id")};
    EXPECT_EQ(ErrorOf("{\"id\": 1}\n{\"id\": 2}\n[1, 2]\n", cols), "line 3: expected a JSON object, found an array");
    EXPECT_EQ(ErrorOf("\"text\"\n", cols), "line 1: expected a JSON object, found a string");
    EXPECT_EQ(ErrorOf("  42\n", cols), "line 1: expected a JSON object, found a number");
    EXPECT_EQ(ErrorOf("-1.5\n", cols), "line 1: expected a JSON object, found a number");
    EXPECT_EQ(ErrorOf("true\n", cols), "line 1: expected a JSON object, found a boolean");
    EXPECT_EQ(ErrorOf("false\n", cols), "line 1: expected a JSON object, found a boolean");
    EXPECT_EQ(ErrorOf("null\n", cols), "line 1: expected a JSON object, found null");
    Result r = Read("{\"id\": 1}\n[{\"id\": 2}]\n", cols);
    EXPECT_EQ(r.rows, (std::vector<Row>{{"1"}}));
    EXPECT_EQ(r.error_line, 2u);
}

TEST(NdjsonReader, InvalidUtf8IsRejected) {
    std::vector<ColumnSpec> cols = {Col("s", "/s")};
    EXPECT_EQ(ErrorOf("{\"s\": \"ok\"}\n{\"s\": \"a\xff\"}\n", cols),
              "line 2: invalid UTF-8 at byte 8 (the input must be UTF-8)");
    EXPECT_EQ(ErrorOf("{\"s\": \"\xc0\xaf\"}\n", cols),  // overlong "/"
              "line 1: invalid UTF-8 at byte 7 (the input must be UTF-8)");
    EXPECT_EQ(ErrorOf("{\"s\": \"\xed\xa0\x80\"}\n", cols),  // an encoded surrogate
              "line 1: invalid UTF-8 at byte 7 (the input must be UTF-8)");
    EXPECT_EQ(ErrorOf("{\"s\": \"\xf4\x90\x80\x80\"}\n", cols),  // beyond U+10FFFF
              "line 1: invalid UTF-8 at byte 7 (the input must be UTF-8)");
    EXPECT_EQ(ErrorOf("{\"s\": \"ab\xe2\x82\"}\n", cols),  // truncated sequence
              "line 1: invalid UTF-8 at byte 9 (the input must be UTF-8)");
    EXPECT_EQ(ErrorOf("{\"s\": \"\xe2\x82", cols),  // truncated at the very end of the input
              "line 1: invalid UTF-8 at byte 7 (the input must be UTF-8)");
    EXPECT_EQ(ErrorOf("{\"k\xfe\": 1}\n", cols), "line 1: invalid UTF-8 at byte 3 (the input must be UTF-8)");
    EXPECT_EQ(ErrorOf("{\"s\": 1, \xff}\n", cols), "line 1: invalid UTF-8 at byte 9 (the input must be UTF-8)");
    // Undeclared values are checked too.
    EXPECT_EQ(ErrorOf("{\"other\": [\"\x80\"]}\n", cols), "line 1: invalid UTF-8 at byte 12 (the input must be UTF-8)");
}

TEST(NdjsonReader, InvalidUnicodeEscapes) {
    std::vector<ColumnSpec> cols = {Col("s", "/s"), Json("j", "/j")};
    EXPECT_EQ(ErrorOf("{\"s\": \"\\ud800\"}\n", cols),
              "line 1: invalid JSON at byte 7: The surrogate pair in string is invalid.");
    EXPECT_EQ(ErrorOf("{\"s\": \"\\ud800\\u0041\"}\n", cols),
              "line 1: invalid JSON at byte 7: The surrogate pair in string is invalid.");
    EXPECT_EQ(ErrorOf("{\"s\": \"\\u12G4\"}\n", cols),
              "line 1: invalid JSON at byte 7: Incorrect hex digit after \\u escape in string.");
    // A lone low surrogate: RapidJSON would produce bytes that are not UTF-8.
    EXPECT_EQ(ErrorOf("{\"s\": \"x\\udc00\"}\n", cols),
              "line 1: invalid JSON at byte 6: The surrogate pair in string is invalid.");
    // \u0000 cannot be stored in text; a json column gets the escape as written (jsonb decides).
    EXPECT_EQ(ErrorOf("{\"s\": \"a\\u0000b\"}\n", cols),
              "line 1: column \"s\": the string at byte 6 contains \\u0000, which PostgreSQL text cannot hold");
    EXPECT_EQ(One("{\"j\": \"a\\u0000b\"}", cols), (Row{N, "\"a\\u0000b\""}));
}

TEST(NdjsonReader, NonNullableColumns) {
    std::vector<ColumnSpec> cols = {Col("id", "/id", false, false), Col("customer", "/customer", false, false),
                                    Col("note", "/note")};
    std::string data =
        "{\"id\": 1, \"customer\": \"a\"}\n{\"id\": 2, \"customer\": \"\"}\n\n\n"
        "{\"id\": 3, \"customer\": null}\n";
    Result r = Read(data, cols);
    EXPECT_EQ(r.rows, (std::vector<Row>{{"1", "a", N}, {"2", "", N}}));
    EXPECT_EQ(r.error, "line 5: column \"customer\" is null, but it is declared \"nullable\": false");
    EXPECT_EQ(r.error_line, 5u);
    EXPECT_EQ(ErrorOf("{\"customer\": \"a\"}\n", cols),
              "line 1: column \"id\" is null, but it is declared \"nullable\": false");
}

TEST(NdjsonReader, ReadingContinuesAfterARecordError) {
    std::vector<ColumnSpec> cols = {Col("id", "/id", false, false)};
    PieceSource source("{\"id\": 1}\n{\"id\": \n[]\n{}\n{\"id\": 5}\n", {2});
    NdjsonReader reader(source, cols);
    ASSERT_TRUE(reader.Next());
    EXPECT_EQ(reader.Field(0).text, "1");
    for (uint64_t line : {2, 3, 4}) {
        try {
            reader.Next();
            ADD_FAILURE() << "line " << line << " should fail";
        } catch (const RecordError &e) {
            EXPECT_EQ(e.line(), line);
        }
    }
    ASSERT_TRUE(reader.Next());
    EXPECT_EQ(reader.Field(0).text, "5");
    EXPECT_EQ(reader.Line(), 5u);
    EXPECT_FALSE(reader.Next());
}

TEST(NdjsonReader, DeepNestingIsAnErrorNotACrash) {
    std::vector<ColumnSpec> cols = {Col("a", "/a")};
    std::string deep = "{\"a\": 1, \"x\": " + std::string(100000, '[') + std::string(100000, ']') + "}\n";
    EXPECT_EQ(ErrorOf(deep, cols), "line 1: invalid JSON at byte 1013: nested deeper than 1000 levels");
    std::string declared = "{\"a\": " + std::string(5000, '[') + std::string(5000, ']') + "}\n";
    EXPECT_NE(ErrorOf(declared, cols).find("nested deeper than 1000 levels"), std::string::npos);
    std::string ok = "{\"a\": 1, \"x\": " + std::string(900, '[') + std::string(900, ']') + "}\n";
    EXPECT_EQ(Rows(ok, cols), (std::vector<Row>{{"1"}}));
}

TEST(NdjsonReader, UndeclaredContainersAreSkippedWhateverTheyHold) {
    std::vector<ColumnSpec> cols = {Col("id", "/id"), Col("z", "/x/y/1/z")};
    Row row =
        One("{\"x\": {\"y\": [{\"z\": 0}, {\"w\": {\"z\": 9}, \"z\": [1, {\"id\": 5}]}], \"id\": 8}, "
            "\"other\": {\"id\": 7, \"x\": {\"y\": 1}}, \"id\": 3}",
            cols);
    EXPECT_EQ(row, (Row{"3", "[1, {\"id\": 5}]"}));
}

TEST(NdjsonReader, BytesConsumedCountsWholeLines) {
    std::vector<ColumnSpec> cols = {Col("id", "/id")};
    std::string data = "{\"id\": 1}\r\n\n{\"id\": 22}\n{\"id\": 333}";
    Result r = Read(data, cols);
    EXPECT_EQ(r.bytes, (std::vector<uint64_t>{11, 23, 34}));
}

TEST(NdjsonReader, NoHeapAllocationPerRecordOnceWarmedUp) {
    std::vector<ColumnSpec> cols = {
        Col("id", "/id", false, false), Col("name", "/name"),       Col("amount", "/amount"), Col("at", "/at"),
        Json("meta", "/meta"),          Col("tag", "/meta/tags/1"), Json("s", "/s")};
    std::string data;
    for (int i = 0; i < 5000; i++) {
        data += "{\"id\": " + std::to_string(i) + ", \"name\": \"n\\u00e9\\t" + std::to_string(i) +
                "\", \"amount\": 1" + std::string(i % 50, '0') + ".5, \"at\": \"2024-01-01\", \"meta\": {\"tags\": " +
                "[\"a\", \"b\\\"\"], \"deep\": [[1], {\"x\": null}]}, \"s\": \"q\\\"\", \"skip\": [1, 2, 3]}" +
                (i % 7 == 0 ? "\r\n\n" : "\n");
    }
    for (const std::vector<size_t> &pattern : kPatterns) {
        PieceSource source(data, pattern);
        NdjsonReader reader(source, cols);
        std::string row;
        row.reserve(4096);
        // Warm-up: the buffers grow to the longest line and a line that spans two reads.
        for (int i = 0; i < 1000; i++) {
            ASSERT_TRUE(reader.Next());
        }
        uint64_t before = g_allocations.load();
        size_t rows = 1000;
        size_t checksum = 0;
        while (reader.Next()) {
            row.clear();
            bulk_ingest::AppendCopyRow(row, reader);
            checksum += row.size();
            rows++;
        }
        uint64_t allocations = g_allocations.load() - before;
        EXPECT_EQ(rows, 5000u);
        EXPECT_GT(checksum, 4000u * 100);
        EXPECT_EQ(allocations, 0u) << "pattern of " << pattern.size() << " piece sizes";
    }
}

TEST(NdjsonReader, NoHeapAllocationPerRecordWithValueConversions) {
    std::vector<ColumnSpec> cols = {Col("tags", "/tags"), Col("at", "/at"), Col("ms", "/ms"), Col("blob", "/blob"),
                                    Col("times", "/times")};
    cols[0].array = true;
    cols[1].format = bulk_ingest::ValueFormat::kEpoch;
    cols[2].format = bulk_ingest::ValueFormat::kEpochMs;
    cols[3].format = bulk_ingest::ValueFormat::kBase64;
    cols[4].format = bulk_ingest::ValueFormat::kEpoch;
    cols[4].array = true;
    std::string data;
    for (int i = 0; i < 5000; i++) {
        data += "{\"tags\": [" + std::to_string(i) + ", null, \"a long string element, quoted \\\"" +
                std::string(i % 40, 'x') + "\\\"\", [\"\\u00e9\"]], \"at\": 1704103200." + std::to_string(i) +
                ", \"ms\": \"" + std::to_string(1704103200000LL + i) + "\", \"blob\": \"" +
                std::string(4 * (i % 30), 'A') + "AQID\", \"times\": [" + std::to_string(i) + ", \"86400.25\"]}\n";
    }
    PieceSource source(data, {65536});
    NdjsonReader reader(source, cols);
    std::string row;
    row.reserve(4096);
    for (int i = 0; i < 1000; i++) {
        ASSERT_TRUE(reader.Next());
    }
    uint64_t before = g_allocations.load();
    size_t rows = 1000;
    while (reader.Next()) {
        row.clear();
        bulk_ingest::AppendCopyRow(row, reader);
        rows++;
    }
    uint64_t allocations = g_allocations.load() - before;
    EXPECT_EQ(rows, 5000u);
    EXPECT_EQ(allocations, 0u);
    EXPECT_NE(row.find("{4999,NULL,\"a long string element"), std::string::npos) << row;
    EXPECT_NE(row.find("1970-01-02T00:00:00.25Z"), std::string::npos) << row;
}

namespace {

// A random JSON value, serialised with random whitespace and escapes, that knows what each pointer should give.
struct Tree {
    enum Kind { kNull, kBool, kNumber, kString, kObject, kArray } kind = kNull;
    std::string text;                                   // kBool/kNumber: the text; kString: the decoded string
    std::string raw;                                    // the value's JSON text as serialised
    std::vector<std::pair<std::string, Tree>> members;  // kObject (keys may repeat), kArray (keys unused)
};

class TreeMaker {
  public:
    explicit TreeMaker(uint32_t seed) : seed_(seed) {}
    uint32_t Next(uint32_t n) {
        seed_ = seed_ * 1103515245u + 12345u;
        return (seed_ >> 8) % n;
    }
    std::string Space() {
        static const char *spaces[] = {"", "", "", " ", "  ", "\t", " \r "};
        return spaces[Next(7)];
    }
    // Appends a JSON string for one of a few texts, written with or without escapes; returns the decoded text.
    std::string String(std::string &out, const std::vector<std::pair<const char *, const char *>> &pieces) {
        std::string decoded;
        out += '"';
        for (uint32_t n = Next(4); n > 0; n--) {
            const auto &piece = pieces[Next(static_cast<uint32_t>(pieces.size()))];
            out += piece.first;
            decoded += piece.second;
        }
        out += '"';
        return decoded;
    }
    Tree Make(std::string &out, int depth) {
        static const std::vector<std::pair<const char *, const char *>> texts = {{"abc", "abc"},
                                                                                 {"caf\xc3\xa9", "caf\xc3\xa9"},
                                                                                 {"\\u00e9", "\xc3\xa9"},
                                                                                 {"\\n", "\n"},
                                                                                 {"\\\"", "\""},
                                                                                 {"\\\\", "\\"},
                                                                                 {"\\/", "/"},
                                                                                 {"\\t", "\t"},
                                                                                 {"\\ud83d\\ude00", "\xf0\x9f\x98\x80"},
                                                                                 {"{[,:]}", "{[,:]}"},
                                                                                 {" ", " "}};
        static const std::vector<std::pair<const char *, const char *>> keys = {
            {"a", "a"}, {"\\u0061", "a"}, {"b", "b"}, {"0", "0"}, {"1", "1"}, {"x y", "x y"}, {"\\u00e9", "\xc3\xa9"}};
        static const char *numbers[] = {"0",       "-1", "2.0", "1e400", "123456789012345678901234567890123456789",
                                        "-0.5E-3", "42"};
        Tree t;
        size_t begin = out.size();
        uint32_t kind = depth == 0 ? 4 : depth >= 4 ? Next(4) : 2 + Next(4);  // records are objects
        switch (kind) {
            case 0:
                t.kind = Tree::kNull;
                out += "null";
                break;
            case 1:
                t.kind = Tree::kBool;
                t.text = Next(2) ? "true" : "false";
                out += t.text;
                break;
            case 2:
                t.kind = Tree::kNumber;
                t.text = numbers[Next(7)];
                out += t.text;
                break;
            case 3:
                t.kind = Tree::kString;
                t.text = String(out, texts);
                break;
            default: {
                t.kind = kind == 4 ? Tree::kObject : Tree::kArray;
                out += kind == 4 ? '{' : '[';
                std::vector<std::string> used;  // decoded keys of this object
                for (uint32_t n = Next(5) + (depth == 0 ? 3 : 0), i = 0; i < n; i++) {
                    std::string key;
                    if (kind == 4) {
                        // Mostly distinct keys; now and then a duplicate (which the reader may refuse).
                        const auto &pick = keys[Next(static_cast<uint32_t>(keys.size()))];
                        if (std::find(used.begin(), used.end(), pick.second) != used.end() && Next(12) != 0) {
                            continue;
                        }
                        used.push_back(pick.second);
                        out += (t.members.empty() ? "" : ",") + Space();
                        key = String(out, {pick});
                        out += Space() + ":" + Space();
                    } else {
                        out += (i > 0 ? "," : "") + Space();
                    }
                    Tree child = Make(out, depth + 1);
                    t.members.emplace_back(key, std::move(child));
                    out += Space();
                }
                out += kind == 4 ? '}' : ']';
            }
        }
        t.raw = out.substr(begin);
        return t;
    }

  private:
    uint32_t seed_;
};

// Whether the reader refuses the record: an object it walks (one a declared path goes into) holds a key twice that
// a declared path goes through. paths are the declared pointers' remaining tokens below t.
bool RefusesDuplicate(const Tree &t, const std::vector<std::vector<std::string>> &paths) {
    if (paths.empty() || (t.kind != Tree::kObject && t.kind != Tree::kArray)) {
        return false;
    }
    for (size_t i = 0; i < t.members.size(); i++) {
        std::string token = t.kind == Tree::kObject ? t.members[i].first : std::to_string(i);
        std::vector<std::vector<std::string>> below;
        bool declared = false;
        for (const auto &path : paths) {
            if (path[0] == token) {
                declared = true;
                if (path.size() > 1) {
                    below.emplace_back(path.begin() + 1, path.end());
                }
            }
        }
        if (!declared) {
            continue;
        }
        if (t.kind == Tree::kObject) {
            for (size_t j = 0; j < i; j++) {
                if (t.members[j].first == token) {
                    return true;  // the second occurrence is refused before anything below it is read
                }
            }
        }
        if (RefusesDuplicate(t.members[i].second, below)) {
            return true;
        }
    }
    return false;
}

// What the column at pointer should hold for the record tree.
Value Expected(const Tree &record, const std::vector<std::string> &pointer, bool json) {
    const Tree *t = &record;
    for (const std::string &token : pointer) {
        const Tree *found = nullptr;
        if (t->kind == Tree::kObject) {
            for (const auto &member : t->members) {
                if (member.first == token) {
                    found = &member.second;  // the last one wins
                }
            }
        } else if (t->kind == Tree::kArray) {
            for (size_t i = 0; i < t->members.size(); i++) {
                if (token == std::to_string(i)) {
                    found = &t->members[i].second;
                }
            }
        }
        if (found == nullptr) {
            return N;
        }
        t = found;
    }
    switch (t->kind) {
        case Tree::kNull:
            return N;
        case Tree::kString:
            return json ? t->raw : t->text;
        case Tree::kBool:
        case Tree::kNumber:
            return t->text;
        default:
            return t->raw;
    }
}

}  // namespace

TEST(NdjsonReader, RandomDocumentsAgreeWithAModel) {
    const char *pointers[] = {"",       "/a",   "/b",        "/0",     "/a/a", "/a/0",   "/a/1",   "/b/a/b",
                              "/0/0/0", "/x y", "/\xc3\xa9", "/a/b/1", "/1/a", "/a/a/a", "/b/x y", "/a/\xc3\xa9/0"};
    TreeMaker maker(2024);
    size_t values = 0, containers = 0, refused = 0;  // the test must not be vacuous
    for (int round = 0; round < 200; round++) {
        std::vector<ColumnSpec> cols;
        std::vector<std::vector<std::string>> paths;
        for (const char *pointer : pointers) {
            cols.push_back(Col(std::string("c") + pointer, pointer, maker.Next(2) == 0));
            if (!cols.back().pointer.empty()) {
                paths.push_back(cols.back().pointer);
            }
        }
        std::string data;
        std::vector<std::vector<Value>> expected;
        uint64_t refused_line = 0;
        for (int line = 0; line < 20 && refused_line == 0; line++) {
            std::string text;
            Tree record = maker.Make(text, 0);
            data += maker.Space() + text + maker.Space() + "\n";
            if (RefusesDuplicate(record, paths)) {
                refused_line = static_cast<uint64_t>(line) + 1;
                refused++;
                break;
            }
            Row row;
            for (const ColumnSpec &col : cols) {
                row.push_back(Expected(record, col.pointer, col.json));
                values += row.back().has_value();
                containers += row.back().has_value() && !col.pointer.empty() &&
                              (row.back()->front() == '{' || row.back()->front() == '[');
            }
            expected.push_back(row);
        }
        Result r = ReadWith(data, cols, kPatterns[round % kPatterns.size()]);
        if (refused_line > 0) {
            ASSERT_EQ(r.error_line, refused_line) << data;
            ASSERT_NE(r.error.find("occurs more than once"), std::string::npos) << r.error;
        } else {
            ASSERT_EQ(r.error, "") << data;
        }
        ASSERT_EQ(r.rows, expected) << data;
    }
    EXPECT_GT(values, 6000u);  // about half of them are whole records
    EXPECT_GT(containers, 1500u);
    EXPECT_GT(refused, 10u);
}

// The watermark goes back to the source in the source's own form: the readers keep a formatted column's text.
TEST(NdjsonReader, SourceTextIsTheTextBeforeTheColumnsFormat) {
    const std::string data = "{\"t\": 1704067200.5, \"s\": \"2024-01-01T00:00:00+00:00\"}\n";
    PieceSource source(data, {data.size()});
    ColumnSpec epoch = Col("t", "/t");
    epoch.format = bulk_ingest::ValueFormat::kEpoch;
    NdjsonReader reader(source, {epoch, Col("s", "/s")});
    ASSERT_TRUE(reader.Next());
    EXPECT_EQ(reader.Field(0).text, "2024-01-01T00:00:00.5Z");
    EXPECT_EQ(reader.SourceText(0), "1704067200.5");
    EXPECT_EQ(reader.SourceText(1), "2024-01-01T00:00:00+00:00");
    EXPECT_EQ(reader.SourceText(1), reader.Field(1).text);
}
