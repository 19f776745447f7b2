// Unit tests of the request header check (request_header.h), and of its use at registration (options.headers).
#include <gtest/gtest.h>

#include <string>

#include "declaration.h"
#include "error.h"
#include "request_header.h"

using bulk_ingest::CheckRequestHeader;
using bulk_ingest::CheckRequestHeaderLine;
using bulk_ingest::Error;

namespace {

std::string HeaderError(const std::string &name, const std::string &value) {
    try {
        CheckRequestHeader(name, value);
    } catch (const Error &e) {
        return e.what();
    }
    return "";
}

std::string LineError(const std::string &line) {
    try {
        CheckRequestHeaderLine(line);
    } catch (const Error &e) {
        return e.what();
    }
    return "";
}

std::string OptionsError(const std::string &options_json) {
    try {
        bulk_ingest::ParseSourceOptions(options_json);
    } catch (const Error &e) {
        return e.what();
    }
    return "";
}

bool Contains(const std::string &haystack, const std::string &needle) {
    return haystack.find(needle) != std::string::npos;
}

TEST(CheckRequestHeader, AcceptsOrdinaryHeaders) {
    EXPECT_EQ(HeaderError("Authorization", "Bearer abc.def"), "");
    EXPECT_EQ(HeaderError("X-Api-Key", ""), "");
    EXPECT_EQ(HeaderError("Accept", "application/json; q=0.9, */*"), "");
    EXPECT_EQ(HeaderError("x!#$%&'*+-.^_`|~1", "tab\tand unicode \xc3\xa9"), "");
    EXPECT_EQ(LineError("Authorization: Bearer abc"), "");
    EXPECT_EQ(LineError("X-Empty:"), "");
    EXPECT_EQ(LineError("X-Trace:42"), "");
}

TEST(CheckRequestHeader, RefusesLineBreaksAndNulNamingOnlyTheHeader) {
    for (const std::string &value : {std::string("secret\r\nHost: 127.0.0.1"), std::string("a\nb"), std::string("a\rb"),
                                     std::string("a\0b", 3), std::string("\r\n\r\nGET /admin HTTP/1.1")}) {
        std::string message = HeaderError("X-Api-Key", value);
        EXPECT_EQ(message, "the value of request header \"X-Api-Key\" contains a line break (CR or LF) or a NUL byte");
        EXPECT_FALSE(Contains(message, "secret"));
    }
    std::string line = LineError("Authorization: Bearer s3cr3t\r\nX-Injected: 1");
    EXPECT_EQ(line, "the value of request header \"Authorization\" contains a line break (CR or LF) or a NUL byte");
}

TEST(CheckRequestHeader, RefusesNamesThatAreNotTokens) {
    for (const char *name : {"", "Bad Name", "Bad:Name", "X(y)", "X\"y", "X/y", "X@y", "X[y]", "X{y}", "X,y", "X;y",
                             "X=y", "X?y", "X\\y", "\xc3\xa9t\xc3\xa9"}) {
        std::string message = HeaderError(name, "v");
        EXPECT_TRUE(Contains(message, "is not a valid request header name")) << name << ": " << message;
    }
    // A name with a line break is quoted without it.
    EXPECT_EQ(HeaderError("X\r\nHost", "v"),
              "\"X??Host\" is not a valid request header name (a token: letters, digits and !#$%&'*+-.^_`|~)");
    EXPECT_TRUE(Contains(LineError(" X-Leading: v"), "\" X-Leading\" is not a valid request header name"));
    EXPECT_TRUE(Contains(LineError("X-Space : v"), "\"X-Space \" is not a valid request header name"));
    // No colon: nothing of the line is quoted (it may be all secret).
    EXPECT_EQ(LineError("Bearer s3cr3t"), "a request header is not of the form \"Name: value\" (it has no colon)");
    EXPECT_EQ(LineError("X-Curl-Empty;"), "a request header is not of the form \"Name: value\" (it has no colon)");
}

TEST(CheckRequestHeader, RefusesTheHeadersThatFrameTheRequest) {
    for (const char *name : {"Host", "host", "HOST", "Content-Length", "transfer-encoding", "Connection", "Keep-Alive",
                             "Upgrade", "TE", "Trailer", "Expect", "Proxy-Connection"}) {
        std::string message = HeaderError(name, "x");
        EXPECT_TRUE(Contains(
            message, std::string("request header \"") + name + "\" cannot be set: the HTTP client sets it itself"))
            << message;
        EXPECT_FALSE(LineError(std::string(name) + ": x").empty()) << name;
    }
    EXPECT_EQ(HeaderError("X-Host", "x"), "");
    EXPECT_EQ(HeaderError("Hosts", "x"), "");
}

TEST(CheckRequestHeader, CredentialHeaders) {
    for (const char *name : {"Authorization", "authorization", "Proxy-Authorization", "COOKIE"}) {
        EXPECT_TRUE(bulk_ingest::IsCredentialHeader(name)) << name;
    }
    for (const char *name : {"X-Api-Key", "Authorization2", "Set-Cookie", ""}) {
        EXPECT_FALSE(bulk_ingest::IsCredentialHeader(name)) << name;
    }
}

// Registration refuses what a request would refuse, with the option's name in front.
TEST(SourceOptions, HeadersAreCheckedAtRegistration) {
    auto options = bulk_ingest::ParseSourceOptions(
        R"({"headers": {"Authorization": "Bearer {secret:token}", "X-Empty": "", "Accept": "text/csv"}})");
    ASSERT_EQ(options.headers.size(), 3u);
    EXPECT_EQ(options.headers[0].first, "Authorization");
    EXPECT_EQ(options.headers[0].second, "Bearer {secret:token}");

    EXPECT_EQ(OptionsError(R"({"headers": {"Host": "internal.example"}})"),
              "options: \"headers\": request header \"Host\" cannot be set: the HTTP client sets it itself (Host, "
              "Content-Length, Transfer-Encoding, Connection, Keep-Alive, Upgrade, TE, Trailer, Expect and "
              "Proxy-Connection cannot be set)");
    EXPECT_TRUE(Contains(OptionsError(R"({"headers": {"transfer-encoding": "chunked"}})"),
                         "options: \"headers\": request header \"transfer-encoding\" cannot be set"));
    EXPECT_TRUE(Contains(OptionsError(R"({"headers": {"Content-Length": "0"}})"), "\"Content-Length\" cannot be set"));
    EXPECT_TRUE(Contains(OptionsError(R"({"headers": {"Connection": "close"}})"), "\"Connection\" cannot be set"));
    EXPECT_EQ(OptionsError(R"({"headers": {"X-Key": "abc\r\nHost: evil"}})"),
              "options: \"headers\": the value of request header \"X-Key\" contains a line break (CR or LF) or a NUL "
              "byte");
    EXPECT_TRUE(Contains(OptionsError(R"({"headers": {"X-Key": "abc\u0000def"}})"), "a NUL byte"));
    EXPECT_TRUE(Contains(OptionsError(R"({"headers": {"X-Key": "one\nline"}})"), "contains a line break"));
    EXPECT_EQ(OptionsError(R"({"headers": {"Bad Name": "v"}})"),
              "options: \"headers\": \"Bad Name\" is not a valid request header name (a token: letters, digits and "
              "!#$%&'*+-.^_`|~)");
    EXPECT_TRUE(Contains(OptionsError(R"({"headers": {"": "v"}})"), "is not a valid request header name"));
    EXPECT_TRUE(Contains(OptionsError(R"({"headers": {"X:Y": "v"}})"), "is not a valid request header name"));
    EXPECT_TRUE(Contains(OptionsError(R"({"headers": {"X-Key": 5}})"), "the value of \"X-Key\" must be a string"));
}

}  // namespace
