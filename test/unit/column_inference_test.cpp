// Unit tests of column inference: types, nullability, the primary key, the watermark, and the reasons given.
#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <string>

#include "column_inference.h"
#include "declaration.h"
#include "error.h"

using bulk_ingest::InferColumns;
using bulk_ingest::ParseColumnDecls;
using bulk_ingest::ParseSourceOptions;
using bulk_ingest::SourceOptions;

namespace {

std::string ColumnsText(const rapidjson::Value &doc) {
    rapidjson::StringBuffer buffer;
    rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
    doc["columns"].Accept(w);
    return buffer.GetString();
}

struct Result {
    rapidjson::Document doc;
    std::string text;

    // The proposed column named name, as an object.
    const rapidjson::Value &Column(const std::string &name) const {
        for (const auto &c : doc["columns"].GetArray()) {
            if (name == c["name"].GetString()) {
                return c;
            }
        }
        ADD_FAILURE() << "no column " << name << " in " << text;
        static rapidjson::Value none;
        return none;
    }
    std::string Type(const std::string &name) const { return Column(name)["type"].GetString(); }
    bool Has(const std::string &name, const char *key) const { return Column(name).HasMember(key); }
    std::string Reason(const std::string &name) const { return doc["reasons"][name.c_str()].GetString(); }
    std::string Watermark() const {
        return doc["high_watermark_column"].IsNull() ? "" : doc["high_watermark_column"].GetString();
    }
    std::string Key() const {
        for (const auto &c : doc["columns"].GetArray()) {
            if (c.HasMember("primary_key")) {
                return c["name"].GetString();
            }
        }
        return "";
    }
};

Result Infer(const std::string &format, const std::string &body, const std::string &options = "{}",
             bool truncated = false) {
    Result r;
    r.text = InferColumns(format, body, truncated, ParseSourceOptions(options));
    r.doc.Parse(r.text.c_str());
    EXPECT_FALSE(r.doc.HasParseError()) << r.text;
    // Whatever is proposed is a declaration registration accepts.
    EXPECT_NO_THROW(ParseColumnDecls(ColumnsText(r.doc))) << r.text;
    return r;
}

}  // namespace

TEST(ColumnInference, OrdersFromNdjson) {
    Result r =
        Infer("ndjson",
              R"({"id": 1, "customer": "a", "amount": "10.10", "updated_at": "2024-01-01T11:00:00Z", "meta": {"n": 1}}
{"id": 2, "customer": "b", "amount": "20.02", "updated_at": "2024-01-01T12:00:00Z", "meta": {"n": 2}, "note": "x"}
{"id": 3, "customer": "c", "amount": 30, "updated_at": "2024-01-01T13:00:00+01:00", "meta": null}
)");
    EXPECT_EQ(r.Type("id"), "bigint");
    EXPECT_TRUE(r.Has("id", "primary_key"));
    EXPECT_EQ(r.Key(), "id");
    EXPECT_EQ(r.Type("customer"), "text");
    EXPECT_TRUE(r.Has("customer", "nullable"));
    EXPECT_EQ(r.Type("amount"), "numeric");  // decimal strings and an integer
    EXPECT_EQ(r.Type("updated_at"), "timestamptz");
    EXPECT_EQ(r.Type("meta"), "jsonb");
    EXPECT_FALSE(r.Has("meta", "nullable"));  // null once
    EXPECT_EQ(r.Type("note"), "text");        // missing twice
    EXPECT_EQ(r.Watermark(), "updated_at");
    EXPECT_NE(r.Reason("note").find("null or missing in 2 of 3 records"), std::string::npos) << r.text;
    EXPECT_NE(r.Reason("id").find("primary key"), std::string::npos);
    EXPECT_EQ(r.doc["sample"]["records"].GetInt(), 3);
    // Columns in the order they first appear.
    std::vector<std::string> names;
    for (const auto &c : r.doc["columns"].GetArray()) {
        names.push_back(c["name"].GetString());
    }
    EXPECT_EQ(names, (std::vector<std::string>{"id", "customer", "amount", "updated_at", "meta", "note"}));
}

TEST(ColumnInference, ScalarTypesOfJson) {
    Result r = Infer(
        "ndjson",
        R"({"b": true, "u": "0b7e3bfa-1f7e-4c8e-9f0e-2d1c4b5a6e7f", "d": "2024-02-29", "n": 1.5, "big": 99999999999999999999, "z": "00123", "s": 1, "ts": "2024-01-01 10:00:00"}
{"b": false, "u": "0B7E3BFA-1F7E-4C8E-9F0E-2D1C4B5A6E70", "d": "2024-03-01", "n": 2, "big": 1, "z": "00124", "s": "x", "ts": "2024-01-01 10:00:00.123"}
)");
    EXPECT_EQ(r.Type("b"), "boolean");
    EXPECT_EQ(r.Type("u"), "uuid");
    EXPECT_EQ(r.Type("d"), "date");
    EXPECT_EQ(r.Type("n"), "numeric");
    EXPECT_EQ(r.Type("big"), "numeric");  // beyond bigint
    EXPECT_EQ(r.Type("z"), "text");       // strings of digits: codes
    EXPECT_NE(r.Reason("z").find("leading zeros"), std::string::npos);
    EXPECT_EQ(r.Type("s"), "text");  // a number and a string
    EXPECT_EQ(r.Type("ts"), "timestamptz");
    EXPECT_NE(r.Reason("ts").find("without a time zone"), std::string::npos);
}

TEST(ColumnInference, ArraysAndMixedValues) {
    Result r = Infer("ndjson", R"({"tags": ["a", "b"], "ids": [1, 2], "mixed": [1, {"x": 1}], "odd": [1], "e": []}
{"tags": [], "ids": [3, null], "mixed": [], "odd": 5, "e": []}
)");
    EXPECT_EQ(r.Type("tags"), "text[]");
    EXPECT_EQ(r.Type("ids"), "bigint[]");
    EXPECT_EQ(r.Type("mixed"), "jsonb");
    EXPECT_EQ(r.Type("odd"), "jsonb");  // an array once, a number once
    EXPECT_EQ(r.Type("e"), "text[]");   // only empty arrays
}

TEST(ColumnInference, EpochTimestampsInColumnsNamedLikeTimes) {
    Result r = Infer("ndjson", R"({"id": 1, "created_at": 1704103200, "ms_time": 1704103200123, "count": 1704103200}
{"id": 2, "created_at": 1704106800, "ms_time": 1704106800123, "count": 1704106800}
)");
    EXPECT_EQ(r.Type("created_at"), "timestamptz");
    EXPECT_EQ(r.Column("created_at")["format"].GetString(), std::string("epoch"));
    EXPECT_EQ(r.Column("ms_time")["format"].GetString(), std::string("epoch_ms"));
    EXPECT_EQ(r.Type("count"), "bigint");  // not named like a time
    // A creation time is a watermark of last resort, and the reason says why.
    EXPECT_EQ(r.Watermark(), "ms_time");
    Result c = Infer("ndjson", R"({"id": 1, "created_at": "2024-01-01T10:00:00Z"}
{"id": 2, "created_at": "2024-01-01T11:00:00Z"}
)");
    EXPECT_EQ(c.Watermark(), "created_at");
    EXPECT_NE(std::string(c.doc["high_watermark_reason"].GetString()).find("will not see later changes"),
              std::string::npos);
}

TEST(ColumnInference, PrimaryKeysNeedUniqueNonNullValuesAndAKeyName) {
    Result dup = Infer("ndjson", "{\"id\": 1}\n{\"id\": 1}\n");
    EXPECT_EQ(dup.Key(), "");
    EXPECT_EQ(dup.Type("id"), "bigint");
    Result null_id = Infer("ndjson", "{\"id\": 1}\n{\"id\": null}\n");
    EXPECT_EQ(null_id.Key(), "");
    Result unnamed = Infer("ndjson", "{\"name\": \"a\", \"n\": 1}\n{\"name\": \"b\", \"n\": 2}\n");
    EXPECT_EQ(unnamed.Key(), "");
    EXPECT_NE(std::string(unnamed.doc["primary_key_reason"].GetString()).find("\"name\", \"n\" are unique"),
              std::string::npos)
        << unnamed.text;
    Result first =
        Infer("ndjson", "{\"order_id\": \"A1\", \"customer_id\": 7}\n{\"order_id\": \"A2\", \"customer_id\": 8}\n");
    EXPECT_EQ(first.Key(), "order_id");  // the first column, named like a key
    // An append-only source: the increasing integer key is the watermark.
    Result log = Infer("ndjson", "{\"id\": 5, \"msg\": \"a\"}\n{\"id\": 9, \"msg\": \"b\"}\n");
    EXPECT_EQ(log.Watermark(), "id");
    Result shuffled = Infer("ndjson", "{\"id\": 9, \"msg\": \"a\"}\n{\"id\": 5, \"msg\": \"b\"}\n");
    EXPECT_EQ(shuffled.Watermark(), "");
}

TEST(ColumnInference, JsonRecordsAtARecordsPath) {
    Result r = Infer(
        "json",
        R"({"meta": {"next": null}, "data": {"items": [{"id": "x1", "at": "2024-05-01"}, {"id": "x2", "at": "2024-05-02"}]}})",
        R"({"records_path": "/data/items", "pagination": {"type": "next_url", "path": "/meta/next"}})");
    EXPECT_EQ(r.Type("id"), "text");
    EXPECT_EQ(r.Key(), "id");
    EXPECT_EQ(r.Type("at"), "date");
    EXPECT_EQ(r.doc["sample"]["records"].GetInt(), 2);
}

TEST(ColumnInference, CsvWithAndWithoutAHeader) {
    Result r = Infer("csv", "id,name,price,active,day,,name\n1,a,1.50,true,2024-01-01,x,y\n2,,2,FALSE,2024-01-02,,z\n");
    EXPECT_EQ(r.Type("id"), "bigint");
    EXPECT_EQ(r.Key(), "id");
    EXPECT_EQ(r.Type("name"), "text");
    EXPECT_TRUE(!r.Has("name", "nullable"));  // empty (NULL) once
    EXPECT_EQ(r.Type("price"), "numeric");
    EXPECT_EQ(r.Type("active"), "boolean");
    EXPECT_EQ(r.Type("day"), "date");
    // An empty and a repeated header name get positional names and paths.
    EXPECT_EQ(r.Column("column_6")["path"].GetString(), std::string("/#6"));
    EXPECT_EQ(r.Column("column_7")["path"].GetString(), std::string("/#7"));
    Result bare = Infer("csv", "7;x\n8;y\n", R"({"csv": {"header": false, "delimiter": ";"}})");
    EXPECT_EQ(bare.Type("column_1"), "bigint");
    EXPECT_EQ(bare.Column("column_1")["path"].GetString(), std::string("/#1"));
    EXPECT_EQ(bare.doc["sample"]["records"].GetInt(), 2);
}

TEST(ColumnInference, ATruncatedSampleDropsItsPartialRecord) {
    // Cut in the middle of the third line: the partial line would be a value "2024-0" otherwise.
    std::string body =
        "{\"id\": 1, \"t\": \"2024-01-01\"}\n{\"id\": 2, \"t\": \"2024-01-02\"}\n{\"id\": 3, \"t\": \"2024-0";
    Result r = Infer("ndjson", body, "{}", true);
    EXPECT_EQ(r.doc["sample"]["records"].GetInt(), 2);
    EXPECT_TRUE(r.doc["sample"]["truncated"].GetBool());
    EXPECT_EQ(r.Type("t"), "date");
    Result json = Infer("json", "[{\"id\": 1}, {\"id\": 2}, {\"id\": 3, \"x\": \"abc", "{}", true);
    EXPECT_EQ(json.doc["sample"]["records"].GetInt(), 2);
    Result csv = Infer("csv", "a,b\n1,2\n3,4\n5,\"unterminated", "{}", true);
    EXPECT_EQ(csv.doc["sample"]["records"].GetInt(), 2);
}

TEST(ColumnInference, ErrorsAndLimits) {
    EXPECT_THROW(InferColumns("ndjson", "", false, SourceOptions()), bulk_ingest::Error);
    EXPECT_THROW(InferColumns("csv", "", false, SourceOptions()), bulk_ingest::Error);
    EXPECT_THROW(InferColumns("xml", "<a/>", false, SourceOptions()), bulk_ingest::Error);
    try {
        InferColumns("ndjson", "{\"a\": 1}\n{\"a\": \n", false, SourceOptions());
        FAIL() << "a malformed record of a complete sample is an error";
    } catch (const bulk_ingest::RecordError &e) {
        EXPECT_EQ(e.line(), 2u) << e.what();
    }
    std::string many;
    for (int i = 0; i < 50; i++) {
        many += "{\"id\": " + std::to_string(i) + "}\n";
    }
    rapidjson::Document doc;
    doc.Parse(InferColumns("ndjson", many, false, SourceOptions(), 10).c_str());
    EXPECT_EQ(doc["sample"]["records"].GetInt(), 10);
}
