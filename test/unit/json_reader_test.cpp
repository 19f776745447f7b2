#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "error.h"
#include "piece_source.h"
#include "json_pointer.h"
#include "json_reader.h"

using bulk_ingest::ByteSource;
using bulk_ingest::ColumnSpec;
using bulk_ingest::JsonReader;
using bulk_ingest::JsonReaderOptions;
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
    std::vector<uint64_t> bytes;
    std::vector<std::string> record_errors;  // RecordErrors the read went on after
    std::string error;                       // what() of the error that ended the read, if any
    std::vector<Value> metadata;
    bool operator==(const Result &o) const {
        return rows == o.rows && lines == o.lines && bytes == o.bytes && record_errors == o.record_errors &&
               error == o.error && metadata == o.metadata;
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

Result ReadWith(const std::string &data, const std::vector<ColumnSpec> &columns, const JsonReaderOptions &options,
                const std::vector<size_t> &pattern) {
    PieceSource source(data, pattern);
    JsonReader reader(source, columns, options);
    EXPECT_EQ(reader.ColumnCount(), columns.size());
    Result result;
    for (;;) {
        try {
            if (!reader.Next()) {
                EXPECT_EQ(reader.BytesConsumed(), data.size());
                EXPECT_FALSE(reader.Next());  // stays at the end
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
            try {
                reader.Next();
                ADD_FAILURE() << "a failed reader must keep failing";
            } catch (const bulk_ingest::Error &again) {
                EXPECT_EQ(std::string(again.what()), result.error);
            }
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
    for (size_t i = 0; i < options.metadata_paths.size(); i++) {
        result.metadata.push_back(reader.Metadata(i));
    }
    return result;
}

// Reads data with every piece pattern, checks they all agree, and returns the result.
Result Read(const std::string &data, const std::vector<ColumnSpec> &columns, const JsonReaderOptions &options = {}) {
    Result first = ReadWith(data, columns, options, kPatterns[0]);
    for (size_t p = 1; p < kPatterns.size(); p++) {
        EXPECT_TRUE(ReadWith(data, columns, options, kPatterns[p]) == first) << "piece pattern " << p;
    }
    return first;
}

std::vector<Row> Rows(const std::string &data, const std::vector<ColumnSpec> &columns,
                      const JsonReaderOptions &options = {}) {
    Result r = Read(data, columns, options);
    EXPECT_EQ(r.error, "");
    EXPECT_TRUE(r.record_errors.empty()) << r.record_errors[0];
    return r.rows;
}

std::string ErrorOf(const std::string &data, const std::vector<ColumnSpec> &columns,
                    const JsonReaderOptions &options = {}) {
    Result r = Read(data, columns, options);
    return r.record_errors.empty() ? r.error : r.record_errors[0];
}

JsonReaderOptions At(const std::string &records, std::vector<std::string> metadata = {}) {
    JsonReaderOptions o;
    o.records_path = records;
    o.metadata_paths = std::move(metadata);
    return o;
}

const Value N;  // NULL

}  // namespace

TEST(JsonReader, TopLevelArray) {
    std::vector<ColumnSpec> cols = {Col("id", "/id"), Col("name", "/name"), Col("meta", "/meta", true)};
    std::string data =
        "[{\"id\": 1, \"name\": \"alice\", \"meta\": {\"tags\": [\"a\", \"b\"]}},\n"
        " {\"name\": \"bob\", \"id\": 2, \"ignored\": [1, {\"x\": [2]}]} , {}\n]\n";
    Result r = Read(data, cols);
    EXPECT_EQ(r.error, "");
    ASSERT_EQ(r.rows.size(), 3u);
    EXPECT_EQ(r.rows[0], (Row{"1", "alice", "{\"tags\": [\"a\", \"b\"]}"}));
    EXPECT_EQ(r.rows[1], (Row{"2", "bob", N}));
    EXPECT_EQ(r.rows[2], (Row{N, N, N}));
    EXPECT_EQ(r.lines, (std::vector<uint64_t>{1, 2, 3}));
    // Bytes through the end of each record.
    EXPECT_EQ(r.bytes[0], data.find("},\n") + 1);
    EXPECT_EQ(r.bytes[2], data.find("{}\n") + 2);
}

TEST(JsonReader, EmptyArraysAndWhitespace) {
    std::vector<ColumnSpec> cols = {Col("id", "/id")};
    EXPECT_TRUE(Rows("[]", cols).empty());
    EXPECT_TRUE(Rows(" \r\n\t[ \n ] \n", cols).empty());
    EXPECT_TRUE(Rows("{\"data\": []}", cols, At("/data")).empty());
    EXPECT_EQ(Rows("\xEF\xBB\xBF[{\"id\": 7}]", cols), (std::vector<Row>{{"7"}}));  // byte order mark
}

TEST(JsonReader, NestedRecordsPathAndMetadata) {
    std::vector<ColumnSpec> cols = {Col("id", "/id"), Col("city", "/address/city")};
    std::string data =
        "{\"meta\": {\"count\": 2, \"next_cursor\": \"c\\u00e9\\\"2\", \"page\": 1.50, \"more\": true,"
        " \"none\": null, \"big\": 123456789012345678901234567890},"
        " \"data\": {\"items\": [{\"id\": 1, \"address\": {\"city\": \"Oslo\"}}, {\"id\": 2}],"
        " \"other\": [1, 2, {\"items\": [{\"id\": 99}]}]},"
        " \"links\": {\"self\": \"/p/1\", \"next\": \"https://example.com/p/2?a=1&b=%2F\"}}";
    JsonReaderOptions o = At("/data/items", {"/links/next", "/meta/next_cursor", "/meta/count", "/meta/page",
                                             "/meta/more", "/meta/none", "/meta/absent", "/meta/big", "/links/next"});
    Result r = Read(data, cols, o);
    EXPECT_EQ(r.error, "");
    EXPECT_EQ(r.rows, (std::vector<Row>{{"1", "Oslo"}, {"2", N}}));
    EXPECT_EQ(r.metadata,
              (std::vector<Value>{"https://example.com/p/2?a=1&b=%2F", "c\xC3\xA9\"2", "2", "1.50", "true", N, N,
                                  "123456789012345678901234567890", "https://example.com/p/2?a=1&b=%2F"}));
}

TEST(JsonReader, MetadataBeforeTheRecordsIsKnownEarly) {
    std::vector<ColumnSpec> cols = {Col("id", "/id")};
    PieceSource source("{\"next\": \"n1\", \"items\": [{\"id\": 1}, {\"id\": 2}], \"after\": 5}", {3});
    JsonReader reader(source, cols, At("/items", {"/next", "/after"}));
    ASSERT_TRUE(reader.Next());
    EXPECT_EQ(reader.Metadata(0), Value("n1"));
    EXPECT_EQ(reader.Metadata(1), N);
    ASSERT_TRUE(reader.Next());
    ASSERT_FALSE(reader.Next());
    EXPECT_EQ(reader.Metadata(1), Value("5"));
}

TEST(JsonReader, MetadataLastDuplicateWinsAndNullClears) {
    std::vector<ColumnSpec> cols = {Col("id", "/id")};
    Result r = Read("{\"n\": \"a\", \"r\": [], \"n\": \"b\", \"m\": 1, \"m\": null}", cols, At("/r", {"/n", "/m"}));
    EXPECT_EQ(r.error, "");
    EXPECT_EQ(r.metadata, (std::vector<Value>{"b", N}));
}

TEST(JsonReader, MetadataMustBeAScalar) {
    std::vector<ColumnSpec> cols = {Col("id", "/id")};
    EXPECT_EQ(ErrorOf("{\"r\": [], \"links\": {\"next\": {\"href\": \"x\"}}}", cols, At("/r", {"/links/next"})),
              "metadata path \"/links/next\" is an object in the JSON document; it must be a string, a number or a "
              "boolean");
    EXPECT_EQ(ErrorOf("{\"r\": [], \"n\": [1]}", cols, At("/r", {"/n"})),
              "metadata path \"/n\" is an array in the JSON document; it must be a string, a number or a boolean");
}

TEST(JsonReader, OptionErrors) {
    std::vector<ColumnSpec> cols = {Col("id", "/id")};
    PieceSource source("[]", {1});
    EXPECT_THROW(JsonReader(source, cols, At("data")), bulk_ingest::Error);  // not a pointer
    try {
        JsonReader reader(source, cols, At("/data", {"/data/next"}));
        ADD_FAILURE();
    } catch (const bulk_ingest::Error &e) {
        EXPECT_STREQ(e.what(),
                     "metadata path \"/data/next\" overlaps records_path \"/data\": it must point to a value outside "
                     "the records");
    }
    EXPECT_THROW(JsonReader(source, cols, At("/data/items", {"/data"})), bulk_ingest::Error);
    EXPECT_THROW(JsonReader(source, cols, At("", {"/next"})), bulk_ingest::Error);
    EXPECT_NO_THROW(JsonReader(source, cols, At("/data/items", {"/data/next"})));
}

TEST(JsonReader, RecordsPathThroughArrays) {
    std::vector<ColumnSpec> cols = {Col("id", "/id")};
    std::string data = "{\"results\": [{\"items\": [{\"id\": 0}]}, {\"items\": [{\"id\": 1}, {\"id\": 2}]}]}";
    EXPECT_EQ(Rows(data, cols, At("/results/1/items")), (std::vector<Row>{{"1"}, {"2"}}));
    EXPECT_EQ(Rows("[[{\"id\": 5}], [{\"id\": 6}]]", cols, At("/0")), (std::vector<Row>{{"5"}}));
    EXPECT_EQ(Rows("{\"a/b\": {\"~\": [{\"id\": 3}]}}", cols, At("/a~1b/~0")), (std::vector<Row>{{"3"}}));
}

TEST(JsonReader, RecordsPathMissingOrNotAnArray) {
    std::vector<ColumnSpec> cols = {Col("id", "/id")};
    EXPECT_EQ(ErrorOf("{\"data\": {\"item\": []}}", cols, At("/data/items")),
              "records_path \"/data/items\" is not in the JSON document");
    EXPECT_EQ(ErrorOf("{\"results\": [{\"items\": []}]}", cols, At("/results/1/items")),
              "records_path \"/results/1/items\" is not in the JSON document");
    EXPECT_EQ(ErrorOf("{\"data\": {\"items\": {\"id\": 1}}}", cols, At("/data/items")),
              "records_path \"/data/items\" is an object in the JSON document, not an array");
    EXPECT_EQ(ErrorOf("{\"data\": null}", cols, At("/data")),
              "records_path \"/data\" is null in the JSON document, not an array");
    EXPECT_EQ(ErrorOf("{\"id\": 1}", cols), "records_path \"\" is an object in the JSON document, not an array");
    EXPECT_EQ(ErrorOf("\"text\"", cols), "records_path \"\" is a string in the JSON document, not an array");
    EXPECT_EQ(ErrorOf("{\"d\": [], \"d\": []}", cols, At("/d")),
              "records_path \"/d\" occurs twice in the JSON document");
    EXPECT_EQ(ErrorOf("", cols), "the JSON document is empty");
    EXPECT_EQ(ErrorOf(" \n ", cols), "the JSON document is empty");
}

TEST(JsonReader, ValueRulesAsNdjson) {
    std::vector<ColumnSpec> cols = {Col("s", "/s"),        Col("n", "/n"),        Col("b", "/b"),
                                    Col("o", "/o"),        Col("a", "/a"),        Col("z", "/z"),
                                    Col("js", "/s", true), Col("jn", "/n", true), Col("e", "/a/1/e")};
    std::string big(400, '9');
    std::string data =
        "[{\"s\": \"tab\\there \\\"q\\\" \\u00e9 \\ud83d\\ude00 }]{[\", \"n\": -0.000120e+5, "
        "\"b\": false, \"o\": {\"k\": [1, \"}\"]}, \"a\": [1, {\"e\": " +
        big + "}], \"z\": null},\n{\"n\": 1e400, \"b\": true}]";
    std::vector<Row> rows = Rows(data, cols);
    ASSERT_EQ(rows.size(), 2u);
    EXPECT_EQ(rows[0], (Row{"tab\there \"q\" \xC3\xA9 \xF0\x9F\x98\x80 }]{[", "-0.000120e+5", "false",
                            "{\"k\": [1, \"}\"]}", "[1, {\"e\": " + big + "}]", N,
                            "\"tab\\there \\\"q\\\" \\u00e9 \\ud83d\\ude00 }]{[\"", "-0.000120e+5", big}));
    EXPECT_EQ(rows[1], (Row{N, "1e400", "true", N, N, N, N, "1e400", N}));
}

TEST(JsonReader, NonNullableColumns) {
    std::vector<ColumnSpec> cols = {Col("id", "/id", false, false), Col("x", "/x")};
    Result r = Read("[{\"id\": 1}, {\"x\": 2}, {\"id\": null}, {\"id\": 4}]", cols);
    EXPECT_EQ(r.error, "");
    EXPECT_EQ(r.rows, (std::vector<Row>{{"1", N}, {"4", N}}));
    EXPECT_EQ(r.lines, (std::vector<uint64_t>{1, 4}));
    EXPECT_EQ(r.record_errors,
              (std::vector<std::string>{"record 2: column \"id\" is null, but it is declared \"nullable\": false",
                                        "record 3: column \"id\" is null, but it is declared \"nullable\": false"}));
}

TEST(JsonReader, InvalidRecordsAreReportedAndSkipped) {
    std::vector<ColumnSpec> cols = {Col("id", "/id")};
    Result r =
        Read("[{\"id\": 1}, {\"id\": }, {\"id\" 3}, {\"id\": [1}, {\"id\": 5}, {\"id\": \"\xFF\"}, {\"id\": 7}]", cols);
    EXPECT_EQ(r.error, "");
    EXPECT_EQ(r.rows, (std::vector<Row>{{"1"}, {"5"}, {"7"}}));
    EXPECT_EQ(r.lines, (std::vector<uint64_t>{1, 5, 7}));
    EXPECT_EQ(r.record_errors, (std::vector<std::string>{
                                   "record 2: invalid JSON at byte 7: Invalid value.",
                                   "record 3: invalid JSON at byte 6: Missing a colon after a name of object member.",
                                   "record 4: invalid JSON at byte 9: Missing a comma or ']' after an array element.",
                                   "record 6: invalid UTF-8 at byte 8 (the input must be UTF-8)",
                               }));
}

TEST(JsonReader, ElementsMustBeObjects) {
    std::vector<ColumnSpec> cols = {Col("id", "/id")};
    EXPECT_EQ(ErrorOf("[{\"id\": 1}, 2]", cols), "record 2: expected a JSON object, found a number");
    EXPECT_EQ(ErrorOf("[[{\"id\": 1}]]", cols), "record 1: expected a JSON object, found an array");
    EXPECT_EQ(ErrorOf("[null]", cols), "record 1: expected a JSON object, found null");
    EXPECT_EQ(ErrorOf("[\"s\"]", cols), "record 1: expected a JSON object, found a string");
    EXPECT_EQ(ErrorOf("[true]", cols), "record 1: expected a JSON object, found a boolean");
    Result r = Read("[{\"id\": 1}, 2, {\"id\": 3}]", cols);
    EXPECT_EQ(r.rows, (std::vector<Row>{{"1"}}));  // the reader stops there
}

TEST(JsonReader, DocumentSyntaxErrors) {
    std::vector<ColumnSpec> cols = {Col("id", "/id")};
    EXPECT_EQ(ErrorOf("[{\"id\": 1} {\"id\": 2}]", cols),
              "invalid JSON at byte 11 (after record 1): Missing a comma or ']' after an array element.");
    EXPECT_EQ(ErrorOf("[{\"id\": 1},]", cols),
              "record 2: expected a JSON object, found a number");  // ']' where a record must be
    EXPECT_EQ(ErrorOf("[{\"id\": 1}] x", cols),
              "invalid JSON at byte 12 (after record 1): The document root must not be followed by other values.");
    EXPECT_EQ(ErrorOf("[{\"id\": 1}][]", cols),
              "invalid JSON at byte 11 (after record 1): The document root must not be followed by other values.");
    EXPECT_EQ(ErrorOf("[{\"id\": 1}, {\"id\": 2}", cols),
              "invalid JSON at byte 21 (after record 2): the document ends early (truncated?)");
    EXPECT_EQ(ErrorOf("[{\"id\": 1}, {\"id\": \"2}]", cols),
              "invalid JSON at byte 23: the document ends inside record 2 (truncated?)");
    EXPECT_EQ(ErrorOf("{\"a\" 1, \"r\": []}", cols, At("/r")),
              "invalid JSON at byte 5: Missing a colon after a name of object member.");
    EXPECT_EQ(ErrorOf("{\"a\": tru, \"r\": []}", cols, At("/r")), "invalid JSON at byte 6: Invalid value.");
    EXPECT_EQ(ErrorOf("{\"a\": 01, \"r\": []}", cols, At("/r")), "invalid JSON at byte 7: Invalid value.");
    EXPECT_EQ(ErrorOf("{\"a\": 1., \"r\": []}", cols, At("/r")),
              "invalid JSON at byte 8: Miss fraction part in number.");
    EXPECT_EQ(ErrorOf("{\"a\": -, \"r\": []}", cols, At("/r")), "invalid JSON at byte 7: Invalid value.");
    EXPECT_EQ(ErrorOf("{\"a\": \"x\\q\", \"r\": []}", cols, At("/r")),
              "invalid JSON at byte 8: Invalid escape character in string.");
    EXPECT_EQ(ErrorOf("{\"a\": \"\xC3\", \"r\": []}", cols, At("/r")),
              "invalid JSON at byte 7: Invalid encoding in string.");
    EXPECT_EQ(ErrorOf("{\"a\": \"x\ny\", \"r\": []}", cols, At("/r")),
              "invalid JSON at byte 8: Invalid escape character in string.");  // RapidJSON's wording
    EXPECT_EQ(ErrorOf("{\"a\": 1, \"r\": [], }", cols, At("/r")),
              "invalid JSON at byte 18: Missing a name for object member.");
    EXPECT_EQ(ErrorOf("{\"r\": [], \"a\": [1 2]}", cols, At("/r")),
              "invalid JSON at byte 18: Missing a comma or ']' after an array element.");
    EXPECT_EQ(ErrorOf("{\"r\": [], \"a\": \"unterminated", cols, At("/r")),
              "invalid JSON at byte 15: Missing a closing quotation mark in string.");
    EXPECT_EQ(ErrorOf(std::string("[{\"id\": 1}]\0", 12), cols).substr(0, 24), "invalid JSON at byte 11 ");
    std::string deep(1001, '[');
    EXPECT_EQ(ErrorOf("{\"x\": " + deep, cols, At("/r")), "invalid JSON at byte 1005: nested deeper than 1000 levels");
}

TEST(JsonReader, SkipsLargeSkeletonValues) {
    std::vector<ColumnSpec> cols = {Col("id", "/id")};
    std::string included = "[";
    for (int i = 0; i < 20000; i++) {
        included += (i ? "," : "") + std::string("{\"type\": \"x\", \"v\": [") + std::to_string(i) + ", \"]\"]}";
    }
    included += "]";
    std::string data = "{\"included\": " + included + ", \"data\": [{\"id\": 1}], \"next\": \"n\"}";
    Result r = Read(data, cols, At("/data", {"/next"}));
    EXPECT_EQ(r.error, "");
    EXPECT_EQ(r.rows, (std::vector<Row>{{"1"}}));
    EXPECT_EQ(r.metadata, (std::vector<Value>{"n"}));
}

TEST(JsonReader, LargeRecordsSpanBlocksAndBuffersShrinkAfterwards) {
    std::vector<ColumnSpec> cols = {Col("id", "/id"), Col("blob", "/blob")};
    std::string blob(10 << 20, 'x');
    for (size_t i = 0; i < blob.size(); i += 1000) {
        blob[i] = i % 2000 == 0 ? '}' : ']';  // brackets inside a string do not end the record
    }
    std::string data = "[{\"id\": 1, \"blob\": \"" + blob + "\"}";
    for (int i = 2; i <= 100; i++) {
        data += ", {\"id\": " + std::to_string(i) + "}";
    }
    data += "]";
    PieceSource source(data, {65536});
    JsonReader reader(source, cols);
    ASSERT_TRUE(reader.Next());
    EXPECT_EQ(reader.Field(1).text, blob);
    EXPECT_GT(reader.BufferBytes(), blob.size());
    for (int i = 2; i <= 100; i++) {
        ASSERT_TRUE(reader.Next());
        EXPECT_EQ(reader.Field(0).text, std::to_string(i));
    }
    EXPECT_LT(reader.BufferBytes(), size_t(1) << 20);
    EXPECT_FALSE(reader.Next());
}

namespace {

// Generates {"meta": {...}, "data": [ <count records> ], "links": {"next": ...}} on the fly.
class GeneratedArray : public ByteSource {
  public:
    explicit GeneratedArray(uint64_t count) : count_(count) {
        pending_ = "{\"meta\": {\"total\": " + std::to_string(count) + "}, \"data\": [";
    }
    size_t Read(char *buf, size_t max) override {
        size_t n = 0;
        while (n < max) {
            if (offset_ == pending_.size()) {
                if (!Refill()) {
                    break;
                }
            }
            size_t k = std::min(max - n, pending_.size() - offset_);
            memcpy(buf + n, pending_.data() + offset_, k);
            n += k;
            offset_ += k;
        }
        total_ += n;
        return n;
    }
    uint64_t total() const { return total_; }

  private:
    bool Refill() {
        offset_ = 0;
        pending_.clear();
        if (done_) {
            return false;
        }
        for (int i = 0; i < 1000 && next_ <= count_; i++, next_++) {
            if (next_ > 1) {
                pending_ += ",\n";
            }
            pending_ += "{\"id\": " + std::to_string(next_) + ", \"name\": \"customer \\\"" +
                        std::to_string(next_ % 977) +
                        "\\\"\", \"amount\": 12345.67, \"tags\": [\"a\", \"b\", {\"c\": [1, 2, 3]}], "
                        "\"at\": \"2024-03-01T10:15:30Z\", \"pad\": \"0123456789012345678901234567890123456789\"}";
        }
        if (next_ > count_) {
            pending_ += "], \"links\": {\"next\": \"https://example.com/?page=2\"}}";
            done_ = true;
        }
        return true;
    }
    uint64_t count_;
    uint64_t next_ = 1;
    bool done_ = false;
    std::string pending_;
    size_t offset_ = 0;
    uint64_t total_ = 0;
};

}  // namespace

TEST(JsonReader, HugeArrayInBoundedMemory) {
    const uint64_t count = 1500000;  // about 300 MB
    GeneratedArray source(count);
    std::vector<ColumnSpec> cols = {Col("id", "/id", false, false), Col("name", "/name"), Col("tags", "/tags", true)};
    JsonReader reader(source, cols, At("/data", {"/links/next", "/meta/total"}));
    uint64_t rows = 0;
    size_t max_buffers = 0;
    while (reader.Next()) {
        rows++;
        if (rows % 1000 == 0) {
            max_buffers = std::max(max_buffers, reader.BufferBytes());
        }
        if (reader.Line() != rows || reader.Field(0).text != std::to_string(rows)) {
            FAIL() << "record " << rows;
        }
    }
    EXPECT_EQ(rows, count);
    EXPECT_GT(source.total(), uint64_t(250) << 20);
    EXPECT_EQ(reader.BytesConsumed(), source.total());
    EXPECT_LT(max_buffers, size_t(200) << 10);  // the 64 KiB read block and a few KiB
    EXPECT_EQ(reader.Metadata(0), Value("https://example.com/?page=2"));
    EXPECT_EQ(reader.Metadata(1), Value(std::to_string(count)));
}
