// Unit tests of the declaration parser: what registration accepts and the errors it gives.
#include <gtest/gtest.h>

#include "declaration.h"
#include "error.h"

using bulk_ingest::ColumnDecl;
using bulk_ingest::Error;
using bulk_ingest::ParseColumnDecls;
using bulk_ingest::ParseSourceOptions;

namespace {

std::string ErrorOf(const std::string &columns_json) {
    try {
        ParseColumnDecls(columns_json);
    } catch (const Error &e) {
        return e.what();
    }
    return "";
}

TEST(ColumnDecls, DefaultsAndExplicitKeys) {
    auto decls = ParseColumnDecls(R"([
        {"name": "id", "type": "bigint", "primary_key": true},
        {"name": "customer", "type": "text", "nullable": false},
        {"name": "details", "type": "jsonb", "path": "/meta"}])");
    ASSERT_EQ(decls.size(), 3u);
    EXPECT_EQ(decls[0].name, "id");
    EXPECT_TRUE(decls[0].primary_key);
    EXPECT_FALSE(decls[0].nullable);  // a primary key is never nullable
    EXPECT_EQ(decls[0].path, "/id");
    EXPECT_EQ(decls[1].type, "text");
    EXPECT_FALSE(decls[1].nullable);
    EXPECT_TRUE(decls[2].nullable);
    EXPECT_EQ(decls[2].pointer, std::vector<std::string>{"meta"});
}

TEST(ColumnDecls, DefaultPathEscapesTheName) {
    auto decls = ParseColumnDecls(R"([{"name": "a/b~c", "type": "text"}])");
    EXPECT_EQ(decls[0].path, "/a~1b~0c");
    EXPECT_EQ(decls[0].pointer, std::vector<std::string>{"a/b~c"});
}

TEST(ColumnDecls, Rejections) {
    EXPECT_NE(ErrorOf("{}").find("must be a JSON array"), std::string::npos);
    EXPECT_NE(ErrorOf("[]").find("at least one column"), std::string::npos);
    EXPECT_NE(ErrorOf("[1]").find("columns[0] must be an object"), std::string::npos);
    EXPECT_NE(ErrorOf(R"([{"type": "int"}])").find("needs a \"name\""), std::string::npos);
    EXPECT_NE(ErrorOf(R"([{"name": "a"}])").find("columns[0] (\"a\") needs a \"type\""), std::string::npos);
    EXPECT_NE(ErrorOf(R"([{"name": "a", "type": 5}])").find("\"type\" must be a string"), std::string::npos);
    EXPECT_NE(ErrorOf(R"([{"name": "a", "type": "int", "pk": true}])").find("unknown key \"pk\""), std::string::npos);
    EXPECT_NE(ErrorOf(R"([{"name": "a", "type": "int", "path": "a"}])").find("columns[0] (\"a\"): \"path\""),
              std::string::npos);
    EXPECT_NE(ErrorOf(R"([{"name": "a", "type": "int"}, {"name": "a", "type": "text"}])").find("more than once"),
              std::string::npos);
    EXPECT_NE(ErrorOf(R"([{"name": "a", "type": "int", "primary_key": true, "nullable": true}])")
                  .find("cannot be \"nullable\": true"),
              std::string::npos);
    EXPECT_NE(ErrorOf("[{").find("not valid JSON"), std::string::npos);
}

TEST(SourceOptions, BatchRows) {
    EXPECT_EQ(ParseSourceOptions("{}").batch_rows, 100000);
    EXPECT_EQ(ParseSourceOptions(R"({"batch_rows": 7})").batch_rows, 7);
    EXPECT_THROW(ParseSourceOptions(R"({"batch_rows": 0})"), Error);
    EXPECT_THROW(ParseSourceOptions(R"({"batch_rows": "7"})"), Error);
    EXPECT_THROW(ParseSourceOptions(R"({"bogus": 1})"), Error);
    EXPECT_THROW(ParseSourceOptions("[]"), Error);
}

TEST(SourceOptions, Concurrency) {
    EXPECT_EQ(ParseSourceOptions("{}").concurrency, 1);
    const std::string page = R"("pagination": {"type": "page", "param": "page"})";
    EXPECT_EQ(ParseSourceOptions("{" + page + R"(, "concurrency": 16})").concurrency, 16);
    EXPECT_EQ(ParseSourceOptions(R"({"concurrency": 1})").concurrency, 1);  // one at a time: any pagination
    for (const char *bad : {"0", "17", "2.5", "\"4\""}) {
        try {
            ParseSourceOptions("{" + page + ", \"concurrency\": " + bad + "}");
            ADD_FAILURE() << bad;
        } catch (const bulk_ingest::Error &e) {
            EXPECT_NE(std::string(e.what()).find("\"concurrency\" must be an integer from 1 to 16"), std::string::npos)
                << e.what();
        }
    }
    for (const char *pagination : {"", R"("pagination": {"type": "cursor", "path": "/c", "param": "c"}, )"}) {
        try {
            ParseSourceOptions(std::string("{") + pagination + R"("concurrency": 2})");
            ADD_FAILURE() << pagination;
        } catch (const bulk_ingest::Error &e) {
            EXPECT_NE(std::string(e.what()).find("applies to \"offset\" and \"page\" pagination"), std::string::npos)
                << e.what();
        }
    }
}

TEST(CheckOneOf, NamesTheKnownValues) {
    try {
        bulk_ingest::CheckOneOf("format", "xml", bulk_ingest::kFormats);
        FAIL() << "expected an error";
    } catch (const Error &e) {
        EXPECT_STREQ(e.what(), "unknown format \"xml\"; expected one of: ndjson, json, csv");
    }
    EXPECT_NO_THROW(bulk_ingest::CheckOneOf("upsert mode", "off", bulk_ingest::kUpsertModes));
}

}  // namespace

namespace {

TEST(SourceOptions, PaginationRetriesAndPages) {
    auto defaults = ParseSourceOptions("{}");
    EXPECT_EQ(defaults.pagination.type, bulk_ingest::PaginationType::kLinkHeader);  // issue 2's behaviour
    EXPECT_EQ(defaults.max_pages, 0);
    EXPECT_EQ(defaults.max_retries, 5);
    auto options = ParseSourceOptions(
        R"({"pagination": {"type": "offset", "param": "offset", "limit_param": "limit", "limit": 10},
            "max_pages": 3, "max_retries": 0})");
    EXPECT_EQ(options.pagination.type, bulk_ingest::PaginationType::kOffset);
    EXPECT_EQ(options.pagination.limit, 10);
    EXPECT_EQ(options.max_pages, 3);
    EXPECT_EQ(options.max_retries, 0);
    EXPECT_THROW(ParseSourceOptions(R"({"pagination": {"type": "telepathy"}})"), Error);
    EXPECT_THROW(ParseSourceOptions(R"({"max_retries": 1000})"), Error);
    EXPECT_THROW(ParseSourceOptions(R"({"max_pages": -1})"), Error);
    EXPECT_EQ(defaults.max_retry_time_ms, 600000);
    EXPECT_EQ(ParseSourceOptions(R"({"max_retry_time_ms": 2500})").max_retry_time_ms, 2500);
    EXPECT_THROW(ParseSourceOptions(R"({"max_retry_time_ms": 0})"), Error);
    EXPECT_THROW(ParseSourceOptions(R"({"max_retry_time_ms": "1s"})"), Error);
    EXPECT_FALSE(defaults.skip_bad_records);
    EXPECT_EQ(defaults.max_rejects, 1000);
    auto skip = ParseSourceOptions(R"({"on_error": "skip", "max_rejects": 0})");
    EXPECT_TRUE(skip.skip_bad_records);
    EXPECT_EQ(skip.max_rejects, 0);
    EXPECT_FALSE(ParseSourceOptions(R"({"on_error": "abort"})").skip_bad_records);
    EXPECT_THROW(ParseSourceOptions(R"({"on_error": "ignore"})"), Error);
    EXPECT_THROW(ParseSourceOptions(R"({"max_rejects": -1})"), Error);
}

}  // namespace

namespace {

std::string OptionsErrorOf(const std::string &options_json) {
    try {
        ParseSourceOptions(options_json);
    } catch (const Error &e) {
        return e.what();
    }
    return "";
}

}  // namespace

TEST(SourceOptions, Indexes) {
    auto options = ParseSourceOptions(
        R"J({"indexes": [{"columns": ["customer"]}, {"columns": ["tags"], "using": "gin"},
                        {"columns": ["email"], "unique": true}, {"expression": "lower(customer)"},
                        {"columns": ["amount", "id"], "where": "amount > 0"}]})J");
    ASSERT_EQ(options.indexes.size(), 5u);
    EXPECT_EQ(options.indexes[0].columns, std::vector<std::string>{"customer"});
    EXPECT_EQ(options.indexes[0].method, "btree");
    EXPECT_FALSE(options.indexes[0].unique);
    EXPECT_EQ(options.indexes[1].method, "gin");
    EXPECT_TRUE(options.indexes[2].unique);
    EXPECT_TRUE(options.indexes[3].columns.empty());
    EXPECT_EQ(options.indexes[3].expression, "lower(customer)");
    EXPECT_EQ(options.indexes[4].columns, (std::vector<std::string>{"amount", "id"}));
    EXPECT_EQ(options.indexes[4].where, "amount > 0");
}

TEST(SourceOptions, IndexRejectionsNameTheEntry) {
    EXPECT_NE(OptionsErrorOf(R"J({"indexes": {"columns": ["a"]}})J").find("\"indexes\" must be an array"),
              std::string::npos);
    EXPECT_NE(OptionsErrorOf(R"J({"indexes": [{"columns": ["a"]}, 3]})J").find("options.indexes[1] must be an object"),
              std::string::npos);
    EXPECT_NE(OptionsErrorOf(R"J({"indexes": [{}]})J").find("options.indexes[0] needs either"), std::string::npos);
    EXPECT_NE(OptionsErrorOf(R"J({"indexes": [{"columns": ["a"], "expression": "lower(a)"}]})J").find("not both"),
              std::string::npos);
    EXPECT_NE(OptionsErrorOf(R"J({"indexes": [{"columns": []}]})J").find("non-empty array"), std::string::npos);
    EXPECT_NE(OptionsErrorOf(R"J({"indexes": [{"columns": ["a"], "name": "x"}]})J").find("unknown key \"name\""),
              std::string::npos);
    EXPECT_NE(OptionsErrorOf(R"J({"indexes": [{"columns": ["a"], "unique": "yes"}]})J").find("true or false"),
              std::string::npos);
    EXPECT_NE(OptionsErrorOf(R"J({"indexes": [{"columns": ["a"], "using": ""}]})J").find("\"using\" must be"),
              std::string::npos);
}

TEST(SourceOptions, IndexColumnsMustBeDeclared) {
    auto columns = ParseColumnDecls(R"J([{"name": "a", "type": "int"}])J");
    auto options = ParseSourceOptions(R"J({"indexes": [{"columns": ["a"]}, {"columns": ["a", "b"]}]})J");
    try {
        bulk_ingest::CheckIndexColumns(options.indexes, columns);
        FAIL() << "an undeclared column was accepted";
    } catch (const Error &e) {
        EXPECT_STREQ(e.what(), "options.indexes[1]: \"b\" is not a declared column");
    }
}

TEST(SourceOptions, PartitionBy) {
    EXPECT_EQ(ParseSourceOptions(R"J({"partition_by": "RANGE (updated_at)"})J").partition_by, "RANGE (updated_at)");
    EXPECT_TRUE(ParseSourceOptions("{}").partition_by.empty());
    EXPECT_NE(OptionsErrorOf(R"J({"partition_by": ""})J").find("partitioning clause"), std::string::npos);
    EXPECT_NE(OptionsErrorOf(R"J({"partition_by": ["RANGE"]})J").find("partitioning clause"), std::string::npos);
}

TEST(SourceOptions, HeaderWatermarksVersionOneDocument) {
    EXPECT_EQ(ParseSourceOptions(R"({"high_watermark_path": "header:ETag"})").high_watermark_header, "ETag");
    for (const char *json :
         {R"({"high_watermark_path": "header:ETag", "pagination": {"type": "link_header"}})",
          R"({"high_watermark_path": "header:ETag", "pagination": {"type": "page", "param": "p"}})",
          R"({"pagination": {"type": "page", "param": "p"}, "high_watermark_path": "header:ETag"})"}) {
        try {
            ParseSourceOptions(json);
            FAIL() << json;
        } catch (const Error &e) {
            EXPECT_EQ(std::string(e.what()),
                      "options: \"high_watermark_path\" (header:ETag) versions a single document: the first page's "
                      "ETag says nothing of the pages after it, so it cannot be combined with \"pagination\"; use a "
                      "high_watermark_column to read a paginated source incrementally");
        }
    }
    try {
        ParseSourceOptions(R"({"high_watermark_path": "header:Last-Modified", "max_pages": 2})");
        FAIL();
    } catch (const Error &e) {
        EXPECT_NE(std::string(e.what()).find("cannot be combined with \"max_pages\""), std::string::npos) << e.what();
    }
}

TEST(SourceOptions, CsvMissingAndExtraFields) {
    auto options = ParseSourceOptions(R"({"csv": {"missing_fields": "null", "extra_fields": "ignore"}})");
    EXPECT_TRUE(options.csv.missing_fields_null);
    EXPECT_TRUE(options.csv.extra_fields_ignore);
    auto defaults = ParseSourceOptions(R"({"csv": {"missing_fields": "error", "extra_fields": "error"}})");
    EXPECT_FALSE(defaults.csv.missing_fields_null);
    EXPECT_FALSE(defaults.csv.extra_fields_ignore);
    try {
        ParseSourceOptions(R"({"csv": {"missing_fields": "ignore"}})");
        FAIL();
    } catch (const Error &e) {
        EXPECT_EQ(
            std::string(e.what()),
            "options: \"csv\": \"missing_fields\" must be \"error\" (the default: a record with fewer fields than "
            "the header fails the batch) or \"null\" (the missing trailing fields are NULL)");
    }
    EXPECT_THROW(ParseSourceOptions(R"({"csv": {"extra_fields": true}})"), Error);
}
