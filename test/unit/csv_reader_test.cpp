#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "csv_reader.h"
#include "error.h"
#include "piece_source.h"
#include "json_pointer.h"

using bulk_ingest::ByteSource;
using bulk_ingest::ColumnSpec;
using bulk_ingest::CsvReader;
using bulk_ingest::CsvReaderOptions;
using bulk_ingest::ParseJsonPointer;
using bulk_ingest::RecordError;

using bulk_ingest::testing::kPatterns;
using bulk_ingest::testing::PieceSource;

namespace {

using Value = std::optional<std::string>;
using Row = std::vector<Value>;

struct Result {
    std::vector<Row> rows;
    std::vector<uint64_t> lines;
    std::vector<uint64_t> bytes;
    std::vector<std::string> record_errors;
    std::string error;
    bool operator==(const Result &o) const {
        return rows == o.rows && lines == o.lines && bytes == o.bytes && record_errors == o.record_errors &&
               error == o.error;
    }
};

ColumnSpec Col(const std::string &name, const std::string &pointer, bool nullable = true) {
    ColumnSpec c;
    c.name = name;
    c.pointer = ParseJsonPointer(pointer);
    c.nullable = nullable;
    return c;
}

Result ReadWith(const std::string &data, const std::vector<ColumnSpec> &columns, const CsvReaderOptions &options,
                const std::vector<size_t> &pattern) {
    PieceSource source(data, pattern);
    CsvReader reader(source, columns, options);
    Result result;
    for (;;) {
        try {
            if (!reader.Next()) {
                EXPECT_EQ(reader.BytesConsumed(), data.size());
                EXPECT_FALSE(reader.Next());
                break;
            }
        } catch (const RecordError &e) {
            result.record_errors.push_back(e.what());
            if (result.record_errors.size() > 20) {
                break;
            }
            continue;
        } catch (const bulk_ingest::Error &e) {
            result.error = e.what();
            break;
        }
        Row row;
        for (size_t i = 0; i < reader.ColumnCount(); i++) {
            const bulk_ingest::FieldValue &f = reader.Field(i);
            row.push_back(f.is_null ? Value() : Value(std::string(f.text)));
        }
        result.rows.push_back(row);
        result.lines.push_back(reader.Line());
        result.bytes.push_back(reader.BytesConsumed());
    }
    return result;
}

Result Read(const std::string &data, const std::vector<ColumnSpec> &columns, const CsvReaderOptions &options = {}) {
    Result first = ReadWith(data, columns, options, kPatterns[0]);
    for (size_t p = 1; p < kPatterns.size(); p++) {
        EXPECT_TRUE(ReadWith(data, columns, options, kPatterns[p]) == first) << "piece pattern " << p;
    }
    return first;
}

std::vector<Row> Rows(const std::string &data, const std::vector<ColumnSpec> &columns,
                      const CsvReaderOptions &options = {}) {
    Result r = Read(data, columns, options);
    EXPECT_EQ(r.error, "");
    EXPECT_TRUE(r.record_errors.empty()) << r.record_errors[0];
    return r.rows;
}

std::string ErrorOf(const std::string &data, const std::vector<ColumnSpec> &columns,
                    const CsvReaderOptions &options = {}) {
    Result r = Read(data, columns, options);
    return r.record_errors.empty() ? r.error : r.record_errors[0];
}

const Value N;

}  // namespace

TEST(CsvReader, HeaderByNameInAnyOrder) {
    std::vector<ColumnSpec> cols = {Col("id", "/id"), Col("name", "/name"), Col("amount", "/amount")};
    std::string data = "amount,id,extra,name\n12.50,1,x,alice\n-3,2,,\"bob, jr\"\n";
    Result r = Read(data, cols);
    EXPECT_EQ(r.error, "");
    EXPECT_EQ(r.rows, (std::vector<Row>{{"1", "alice", "12.50"}, {"2", "bob, jr", "-3"}}));
    EXPECT_EQ(r.lines, (std::vector<uint64_t>{2, 3}));
    EXPECT_EQ(r.bytes, (std::vector<uint64_t>{data.find("-3"), data.size()}));
}

TEST(CsvReader, Rfc4180Quoting) {
    std::vector<ColumnSpec> cols = {Col("a", "/a"), Col("b", "/b"), Col("c", "/c")};
    std::string data =
        "a,b,c\r\n"
        "\"x, y\",\"say \"\"hi\"\"\",\"two\r\nlines\"\r\n"
        "\"\",,\"\"\"\"\r\n"
        "plain,5'11\",\"multi\n\nline\"\r\n"
        "last,no,newline";
    Result r = Read(data, cols);
    EXPECT_EQ(r.error, "");
    EXPECT_EQ(r.rows, (std::vector<Row>{{"x, y", "say \"hi\"", "two\r\nlines"},
                                        {"", N, "\""},
                                        {"plain", "5'11\"", "multi\n\nline"},
                                        {"last", "no", "newline"}}));
    EXPECT_EQ(r.lines, (std::vector<uint64_t>{2, 4, 5, 8}));
}

TEST(CsvReader, LineBreaksLfCrlfCr) {
    std::vector<ColumnSpec> cols = {Col("a", "/a"), Col("b", "/b")};
    EXPECT_EQ(Rows("a,b\n1,2\n3,4\n", cols), (std::vector<Row>{{"1", "2"}, {"3", "4"}}));
    EXPECT_EQ(Rows("a,b\r\n1,2\r\n3,4\r\n", cols), (std::vector<Row>{{"1", "2"}, {"3", "4"}}));
    EXPECT_EQ(Rows("a,b\r1,2\r3,4", cols), (std::vector<Row>{{"1", "2"}, {"3", "4"}}));
    Result r = Read("a,b\r1,\"x\ry\"\r\n3,4\n\n5,6\r\n", cols);
    EXPECT_EQ(r.rows, (std::vector<Row>{{"1", "x\ry"}, {"3", "4"}, {"5", "6"}}));
    EXPECT_EQ(r.lines, (std::vector<uint64_t>{2, 4, 6}));
}

TEST(CsvReader, EmptyLines) {
    std::vector<ColumnSpec> cols = {Col("a", "/a"), Col("b", "/b")};
    Result r = Read("\n\na,b\n\n1,2\n\r\n\n3,4\n\n", cols);
    EXPECT_EQ(r.rows, (std::vector<Row>{{"1", "2"}, {"3", "4"}}));
    EXPECT_EQ(r.lines, (std::vector<uint64_t>{5, 8}));
    // With a single field per record an empty line is an empty field.
    std::vector<ColumnSpec> one = {Col("a", "/a")};
    EXPECT_EQ(Rows("a\n1\n\n\"\"\n3\n", one), (std::vector<Row>{{"1"}, {N}, {""}, {"3"}}));
    EXPECT_TRUE(Rows("", cols).empty());
    EXPECT_TRUE(Rows("a,b\n", cols).empty());
    EXPECT_TRUE(Rows("a,b", cols).empty());
}

TEST(CsvReader, NullString) {
    std::vector<ColumnSpec> cols = {Col("a", "/a"), Col("b", "/b")};
    EXPECT_EQ(Rows("a,b\n,\"\"\n", cols), (std::vector<Row>{{N, ""}}));
    CsvReaderOptions o;
    o.null_string = "\\N";
    EXPECT_EQ(Rows("a,b\n\\N,\"\\N\"\n,x\n", cols, o), (std::vector<Row>{{N, "\\N"}, {"", "x"}}));
    o.null_string = "NULL";
    EXPECT_EQ(Rows("a,b\nNULL,null\n", cols, o), (std::vector<Row>{{N, "null"}}));
}

TEST(CsvReader, DelimiterQuoteEscapeOptions) {
    std::vector<ColumnSpec> cols = {Col("a", "/a"), Col("b", "/b")};
    CsvReaderOptions o;
    o.delimiter = ';';
    EXPECT_EQ(Rows("a;b\n1,5;\"x;y\"\n", cols, o), (std::vector<Row>{{"1,5", "x;y"}}));
    o.delimiter = '\t';
    EXPECT_EQ(Rows("a\tb\nx y\t\"q\tq\"\n", cols, o), (std::vector<Row>{{"x y", "q\tq"}}));
    o = CsvReaderOptions();
    o.quote = '\'';
    EXPECT_EQ(Rows("a,b\n'it''s','\"'\n", cols, o), (std::vector<Row>{{"it's", "\""}}));
    o = CsvReaderOptions();
    o.escape = '\\';
    EXPECT_EQ(Rows("a,b\n\"q\\\"x\\\\y\",\"a\\nb\"\n", cols, o), (std::vector<Row>{{"q\"x\\y", "a\\nb"}}));
    EXPECT_EQ(ErrorOf("a,b\n\"q\"\"x\",1\n", cols, o),
              "line 2: field 1: '\"' after the closing quote (expected ',' or the end of the line)");
    o = CsvReaderOptions();
    o.delimiter = '"';
    PieceSource source("", {1});
    EXPECT_THROW(CsvReader(source, cols, o), bulk_ingest::Error);
    o.delimiter = '\n';
    EXPECT_THROW(CsvReader(source, cols, o), bulk_ingest::Error);
}

TEST(CsvReader, ColumnsByNumber) {
    std::vector<ColumnSpec> cols = {Col("third", "/#3"), Col("first", "/#1")};
    CsvReaderOptions o;
    o.header = false;
    Result r = Read("1,2,3\n4,5,6\n", cols, o);
    EXPECT_EQ(r.rows, (std::vector<Row>{{"3", "1"}, {"6", "4"}}));
    EXPECT_EQ(r.lines, (std::vector<uint64_t>{1, 2}));
    // With a header too; a number may be mixed with names.
    std::vector<ColumnSpec> mixed = {Col("x", "/#2"), Col("y", "/c")};
    EXPECT_EQ(Rows("a,b,c\n1,2,3\n", mixed), (std::vector<Row>{{"2", "3"}}));
    // Escaped names.
    std::vector<ColumnSpec> escaped = {Col("x", "/a~1b"), Col("y", "/~0")};
    EXPECT_EQ(Rows("a/b,~\n1,2\n", escaped), (std::vector<Row>{{"1", "2"}}));
}

TEST(CsvReader, ColumnPathErrors) {
    PieceSource source("", {1});
    CsvReaderOptions no_header;
    no_header.header = false;
    auto message = [&](const std::vector<ColumnSpec> &cols, const CsvReaderOptions &o) {
        try {
            CsvReader reader(source, cols, o);
        } catch (const bulk_ingest::Error &e) {
            return std::string(e.what());
        }
        return std::string();
    };
    EXPECT_EQ(message({Col("x", "/a/b")}, {}),
              "column \"x\": the path of a csv column must be \"/<header name>\" or \"/#<column number>\"");
    EXPECT_EQ(message({Col("x", "")}, {}),
              "column \"x\": the path of a csv column must be \"/<header name>\" or \"/#<column number>\"");
    EXPECT_EQ(message({Col("x", "/#0")}, {}), "column \"x\": csv column numbers start at 1");
    EXPECT_EQ(message({Col("x", "/name")}, no_header),
              "column \"x\": path \"/name\" names a csv header column, but the options say there is no header row; "
              "use \"/#<column number>\"");
    EXPECT_EQ(ErrorOf("1,2\n", {Col("x", "/#3")}, no_header),
              "column \"x\": path \"/#3\" is beyond the 2 fields of the first record");
}

TEST(CsvReader, HeaderMismatch) {
    std::vector<ColumnSpec> cols = {Col("id", "/id"), Col("customer", "/Name"), Col("total", "/amount")};
    EXPECT_EQ(ErrorOf("id,name,total\n1,a,2\n", cols),
              "the CSV header has no column \"Name\" (column \"customer\"), \"amount\" (column \"total\"); its columns "
              "are: \"id\", \"name\", \"total\"");
    EXPECT_EQ(ErrorOf("id,Name,amount,id\n", cols),
              "the CSV header names more than one column \"id\"; its columns are: \"id\", \"Name\", \"amount\", "
              "\"id\"");
    EXPECT_EQ(ErrorOf("id,Name\n", {Col("x", "/#3")}),
              "column \"x\": the CSV header has only 2 columns; its columns are: \"id\", \"Name\"");
    // A byte order mark is not part of the first name.
    EXPECT_EQ(Rows("\xEF\xBB\xBFid,Name,amount\n1,2,3\n", cols), (std::vector<Row>{{"1", "2", "3"}}));
}

TEST(CsvReader, WrongFieldCounts) {
    std::vector<ColumnSpec> cols = {Col("a", "/a"), Col("b", "/b")};
    Result r = Read("a,b\n1,2\n1,2,3\n\"x\ny\"\n5,6\n", cols);
    EXPECT_EQ(r.rows, (std::vector<Row>{{"1", "2"}, {"5", "6"}}));
    EXPECT_EQ(r.lines, (std::vector<uint64_t>{2, 6}));
    const std::string more = " (options.csv.extra_fields = 'ignore' ignores the extra fields)";
    const std::string fewer = " (options.csv.missing_fields = 'null' makes missing trailing fields NULL)";
    EXPECT_EQ(r.record_errors,
              (std::vector<std::string>{"line 3: expected 2 fields (as in the header), found 3" + more,
                                        "line 4: expected 2 fields (as in the header), found 1" + fewer}));
    CsvReaderOptions o;
    o.header = false;
    EXPECT_EQ(ErrorOf("1,2\n3\n", {Col("a", "/#1")}, o),
              "line 2: expected 2 fields (as in the first record), found 1" + fewer);
}

TEST(CsvReader, MissingFieldsNull) {
    CsvReaderOptions o;
    o.missing_fields_null = true;
    std::vector<ColumnSpec> cols = {Col("c", "/c"), Col("a", "/a"), Col("b", "/b")};
    // The Debian release table's shape: later columns absent from older rows.
    EXPECT_EQ(Rows("a,b,c\n1,2,3\n4,5\n6\n7,,\n", cols, o),
              (std::vector<Row>{{"3", "1", "2"}, {N, "4", "5"}, {N, "6", N}, {N, "7", N}}));
    // A quoted empty last field is there (an empty string), a missing one is not.
    EXPECT_EQ(Rows("a,b,c\n1,\"\"\n", cols, o), (std::vector<Row>{{N, "1", ""}}));
    // Longer records are still refused unless extra fields are ignored too.
    EXPECT_EQ(ErrorOf("a,b,c\n1,2,3,4\n", cols, o),
              "line 2: expected 3 fields (as in the header), found 4 (options.csv.extra_fields = 'ignore' ignores the "
              "extra fields)");
    // A declared NOT NULL column that is missing names itself.
    EXPECT_EQ(ErrorOf("a,b,c\n1,2\n", {Col("a", "/a"), Col("c", "/c", false)}, o),
              "line 2: column \"c\" is missing (the record has 2 fields), but it is declared \"nullable\": false");
    // Without a header, the first record's width is the expected one.
    o.header = false;
    EXPECT_EQ(Rows("1,2,3\n4\n", {Col("x", "/#3"), Col("y", "/#1")}, o), (std::vector<Row>{{"3", "1"}, {N, "4"}}));
}

TEST(CsvReader, ExtraFieldsIgnored) {
    CsvReaderOptions o;
    o.extra_fields_ignore = true;
    std::vector<ColumnSpec> cols = {Col("a", "/a"), Col("b", "/b")};
    EXPECT_EQ(Rows("a,b\n1,2\n3,4,5,\"6,7\"\n", cols, o), (std::vector<Row>{{"1", "2"}, {"3", "4"}}));
    EXPECT_EQ(ErrorOf("a,b\n1\n", cols, o),
              "line 2: expected 2 fields (as in the header), found 1 (options.csv.missing_fields = 'null' makes "
              "missing trailing fields NULL)");
}

TEST(CsvReader, SyntaxErrors) {
    std::vector<ColumnSpec> cols = {Col("a", "/a"), Col("b", "/b")};
    EXPECT_EQ(ErrorOf("a,b\n1,\"open\n\n", cols),
              "line 2: the input ends inside the quoted field 2 (a quote is missing)");
    EXPECT_EQ(ErrorOf("a,b\n\"x\"y,2\n", cols),
              "line 2: field 1: 'y' after the closing quote (expected ',' or the end of the line)");
    EXPECT_EQ(ErrorOf("a,b\n1,\"x\" \n", cols),
              "line 2: field 2: ' ' after the closing quote (expected ',' or the end of the line)");
}

TEST(CsvReader, Utf8) {
    std::vector<ColumnSpec> cols = {Col("a", "/a"), Col("b", "/b")};
    EXPECT_EQ(Rows("a,b\n\xC3\xA9t\xC3\xA9,\"\xF0\x9F\x98\x80\"\n", cols),
              (std::vector<Row>{{"\xC3\xA9t\xC3\xA9", "\xF0\x9F\x98\x80"}}));
    EXPECT_EQ(ErrorOf("a,b\n1,x\xFFy\n", cols), "line 2: invalid UTF-8 in field 2 at byte 1 (the input must be UTF-8)");
    EXPECT_EQ(ErrorOf("a,b\nok,\"\xED\xA0\x80\"\n", cols),
              "line 2: invalid UTF-8 in field 2 at byte 0 (the input must be UTF-8)");
    // A sequence split by a delimiter is invalid in both fields.
    EXPECT_EQ(ErrorOf("a,b\n\xC3,\xA9\n", cols),
              "line 2: invalid UTF-8 in field 1 at byte 0 (the input must be UTF-8)");
}

TEST(CsvReader, NonNullable) {
    std::vector<ColumnSpec> cols = {Col("a", "/a", false), Col("b", "/b")};
    Result r = Read("a,b\n1,2\n,3\n\"\",4\n", cols);
    EXPECT_EQ(r.rows, (std::vector<Row>{{"1", "2"}, {"", "4"}}));
    EXPECT_EQ(r.record_errors,
              (std::vector<std::string>{"line 3: column \"a\" is null, but it is declared \"nullable\": false"}));
}

namespace {

class GeneratedCsv : public ByteSource {
  public:
    explicit GeneratedCsv(uint64_t count) : count_(count) { pending_ = "id,name,note,amount\n"; }
    size_t Read(char *buf, size_t max) override {
        if (offset_ == pending_.size()) {
            offset_ = 0;
            pending_.clear();
            for (int i = 0; i < 1000 && next_ <= count_; i++, next_++) {
                pending_ += std::to_string(next_) + ",\"customer \"\"" + std::to_string(next_ % 977) +
                            "\"\"\",\"line one\r\nline two, with a comma\",12345.67\r\n";
            }
            if (pending_.empty()) {
                return 0;
            }
        }
        size_t k = std::min(max, pending_.size() - offset_);
        memcpy(buf, pending_.data() + offset_, k);
        offset_ += k;
        total_ += k;
        return k;
    }
    uint64_t total() const { return total_; }

  private:
    uint64_t count_;
    uint64_t next_ = 1;
    std::string pending_;
    size_t offset_ = 0;
    uint64_t total_ = 0;
};

}  // namespace

TEST(CsvReader, LargeInputInBoundedMemory) {
    const uint64_t count = 2000000;  // about 150 MB
    GeneratedCsv source(count);
    std::vector<ColumnSpec> cols = {Col("id", "/id"), Col("name", "/name"), Col("note", "/note")};
    CsvReader reader(source, cols);
    uint64_t rows = 0;
    size_t max_buffers = 0;
    while (reader.Next()) {
        rows++;
        if (rows % 1000 == 0) {
            max_buffers = std::max(max_buffers, reader.BufferBytes());
        }
        if (reader.Line() != 2 * rows || reader.Field(0).text != std::to_string(rows)) {
            FAIL() << "record " << rows << " line " << reader.Line();
        }
    }
    EXPECT_EQ(rows, count);
    EXPECT_GT(source.total(), uint64_t(100) << 20);
    EXPECT_EQ(reader.BytesConsumed(), source.total());
    EXPECT_LT(max_buffers, size_t(100) << 10);
}

TEST(CsvReader, LongRecordBuffersShrinkAfterwards) {
    std::vector<ColumnSpec> cols = {Col("a", "/a"), Col("b", "/b")};
    std::string big(10 << 20, 'x');
    std::string data = "a,b\n1,\"" + big + "\"\n2,y\n3,z\n";
    PieceSource source(data, {65536});
    CsvReader reader(source, cols);
    ASSERT_TRUE(reader.Next());
    EXPECT_EQ(reader.Field(1).text.size(), big.size());
    ASSERT_TRUE(reader.Next());
    ASSERT_TRUE(reader.Next());
    EXPECT_EQ(reader.Field(1).text, "z");
    EXPECT_LT(reader.BufferBytes(), size_t(1) << 20);
    EXPECT_FALSE(reader.Next());
}

TEST(CsvReader, SourceTextIsTheTextBeforeTheColumnsFormat) {
    const std::string data = "t\n1704067200\n";
    PieceSource source(data, {data.size()});
    ColumnSpec epoch = Col("t", "/t");
    epoch.format = bulk_ingest::ValueFormat::kEpoch;
    CsvReader reader(source, {epoch});
    ASSERT_TRUE(reader.Next());
    EXPECT_EQ(reader.Field(0).text, "2024-01-01T00:00:00Z");
    EXPECT_EQ(reader.SourceText(0), "1704067200");
}

// Found by fuzz/fuzz_csv.cpp: a NUL byte is valid UTF-8 but no PostgreSQL text can hold it.
TEST(CsvReader, ANulByteInADeclaredFieldIsARecordError) {
    std::vector<ColumnSpec> cols = {Col("id", "/id"), Col("name", "/name")};
    EXPECT_EQ(ErrorOf(std::string("id,name\n1,a\0b\n", 14), cols),
              "line 2: column \"name\" (field 2) contains a NUL byte at byte 1, which PostgreSQL text cannot hold");
    // A field no column uses may hold one: it is not loaded.
    std::vector<ColumnSpec> id_only = {Col("id", "/id")};
    EXPECT_EQ(Rows(std::string("id,name\n1,a\0b\n", 14), id_only), (std::vector<Row>{{"1"}}));
}
