// Unit tests of the request options of issue 12: lag, window, method and body, on_status, and body parameters.
#include <gtest/gtest.h>

#include <string>

#include "declaration.h"
#include "error.h"
#include "request_options.h"

using bulk_ingest::ActionFor;
using bulk_ingest::Error;
using bulk_ingest::ParseSourceOptions;
using bulk_ingest::SetBodyParameter;
using bulk_ingest::StatusAction;

namespace {

std::string OptionsError(const std::string &json) {
    try {
        ParseSourceOptions(json);
    } catch (const Error &e) {
        return e.what();
    }
    return "";
}

}  // namespace

TEST(RequestOptions, LagAndWindow) {
    auto time = ParseSourceOptions(R"({"lag": "2 hours", "window": {"step": "1 day", "start": "2024-01-01"}})");
    EXPECT_EQ(time.request.lag, std::optional<std::string>("2 hours"));
    EXPECT_FALSE(time.request.lag_is_number);
    ASSERT_TRUE(time.request.window);
    EXPECT_EQ(time.request.window->step, "1 day");
    EXPECT_EQ(time.request.window->start, std::optional<std::string>("2024-01-01"));
    auto number = ParseSourceOptions(R"({"lag": 100})");
    EXPECT_EQ(number.request.lag, std::optional<std::string>("100"));
    EXPECT_TRUE(number.request.lag_is_number);
    EXPECT_NE(OptionsError(R"({"lag": -1})"), "");
    EXPECT_NE(OptionsError(R"({"lag": ""})"), "");
    EXPECT_NE(OptionsError(R"({"lag": true})"), "");
    EXPECT_EQ(OptionsError(R"({"window": {"start": "2024-01-01"}})"),
              "options: \"window\" needs \"step\", the length of a window, such as \"1 day\"");
    EXPECT_EQ(OptionsError(R"({"window": {"step": "1 day", "size": 3}})"),
              "options: \"window\": unknown key \"size\"; known keys: start (a timestamp), step (an interval)");
    EXPECT_NE(OptionsError(R"({"window": "1 day"})"), "");
}

TEST(RequestOptions, MethodAndBody) {
    EXPECT_EQ(ParseSourceOptions("{}").request.method, "GET");
    auto body = ParseSourceOptions(R"({"body": {"q": "{high_watermark}"}})");
    EXPECT_EQ(body.request.method, "POST");  // a body is posted
    EXPECT_EQ(body.request.body, std::optional<std::string>("{\"q\":\"{high_watermark}\"}"));
    EXPECT_EQ(ParseSourceOptions(R"({"method": "POST"})").request.body, std::optional<std::string>("{}"));
    EXPECT_EQ(OptionsError(R"({"method": "GET", "body": {}})"),
              "options: \"body\" is sent with \"method\": \"POST\", not GET");
    EXPECT_EQ(OptionsError(R"({"method": "PUT"})"), "options: \"method\" must be \"GET\" or \"POST\"");
    EXPECT_NE(OptionsError(R"({"body": "text"})"), "");
    EXPECT_EQ(OptionsError(R"({"pagination": {"type": "page", "param": "p", "in": "body"}})"),
              "options: \"pagination\" with \"in\": \"body\" carries its parameters in a JSON request body: declare "
              "\"method\": \"POST\" (and \"body\", {} by default)");
    EXPECT_EQ(OptionsError(R"({"pagination": {"type": "page", "param": "p", "in": "body"}, "method": "POST"})"), "");
}

TEST(RequestOptions, OnStatus) {
    auto options = ParseSourceOptions(R"({"on_status": {"404": "end", "204": "end", "403": "retry", "500": "fail"}})");
    EXPECT_EQ(ActionFor(options.request, 404), StatusAction::kEnd);
    EXPECT_EQ(ActionFor(options.request, 204), StatusAction::kEnd);
    EXPECT_EQ(ActionFor(options.request, 403), StatusAction::kRetry);
    EXPECT_EQ(ActionFor(options.request, 500), StatusAction::kFail);
    EXPECT_FALSE(ActionFor(options.request, 401).has_value());
    for (const char *status : {"200", "302", "600", "4o4", "99", "1000"}) {
        EXPECT_EQ(OptionsError(std::string(R"({"on_status": {")") + status + R"(": "end"}})"),
                  std::string("options: \"on_status\": \"") + status +
                      "\" is not a status it can apply to: 204 or 400 to 599");
    }
    EXPECT_NE(OptionsError(R"({"on_status": {"404": "ignore"}})"), "");
    EXPECT_NE(OptionsError(R"({"on_status": ["404"]})"), "");
}

TEST(RequestOptions, UnknownKeysListTheRequestOptions) {
    const std::string error = OptionsError(R"({"retries": 1})");
    EXPECT_NE(error.find("known keys: auth, basic_auth, batch_rows, body, concurrency, connect_timeout_ms"),
              std::string::npos)
        << error;
    EXPECT_NE(error.find("lag"), std::string::npos) << error;
    EXPECT_NE(error.find("on_status"), std::string::npos) << error;
    EXPECT_NE(error.find("window"), std::string::npos) << error;
}

TEST(SetBodyParameter, KeysPointersNumbersAndStrings) {
    EXPECT_EQ(SetBodyParameter("{\"q\":1}", "page", "2", true), "{\"q\":1,\"page\":2}");
    EXPECT_EQ(SetBodyParameter("{\"page\":1}", "page", "3", true), "{\"page\":3}");
    EXPECT_EQ(SetBodyParameter("{}", "cursor", "a\"b", false), "{\"cursor\":\"a\\\"b\"}");
    EXPECT_EQ(SetBodyParameter("{\"paging\":{\"size\":5}}", "/paging/after", "x", false),
              "{\"paging\":{\"size\":5,\"after\":\"x\"}}");
    EXPECT_EQ(SetBodyParameter("{}", "/a/b", "1", true), "{\"a\":{\"b\":1}}");
    EXPECT_THROW(SetBodyParameter("[1]", "page", "1", true), Error);
    EXPECT_THROW(SetBodyParameter("{\"a\":1}", "/a/b", "1", true), Error);
}

TEST(RequestOptions, DeletedPath) {
    auto options = ParseSourceOptions(R"({"deleted_path": "/meta/deleted"})");
    EXPECT_EQ(options.request.deleted_path, "/meta/deleted");
    EXPECT_EQ(options.request.deleted_pointer, (std::vector<std::string>{"meta", "deleted"}));
    EXPECT_NE(OptionsError(R"({"deleted_path": "deleted"})"), "");
    EXPECT_NE(OptionsError(R"({"deleted_path": true})"), "");
    for (const char *yes : {"true", "TRUE", " t ", "yes", "Y", "on", "1"}) {
        EXPECT_TRUE(bulk_ingest::IsTrueText(yes)) << yes;
    }
    for (const char *no : {"false", "f", "0", "no", "", "2", "truth", "null"}) {
        EXPECT_FALSE(bulk_ingest::IsTrueText(no)) << no;
    }
}
