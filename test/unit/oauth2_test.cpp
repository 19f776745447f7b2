// Unit tests of OAuth 2 client credentials: the declaration, the token request, the token response.
#include <gtest/gtest.h>

#include <rapidjson/document.h>

#include <string>

#include "error.h"
#include "oauth2.h"
#include "secrets.h"

using bulk_ingest::BuildTokenRequest;
using bulk_ingest::Error;
using bulk_ingest::FormEncode;
using bulk_ingest::OAuth2Spec;
using bulk_ingest::ParseOAuth2;
using bulk_ingest::ParseTokenResponse;

namespace {

OAuth2Spec Parse(const std::string &json) {
    rapidjson::Document doc;
    doc.Parse(json.c_str());
    return ParseOAuth2(doc);
}

std::string ParseError(const std::string &json) {
    try {
        Parse(json);
    } catch (const Error &e) {
        return e.what();
    }
    return "";
}

const char kSpec[] =
    R"({"type": "oauth2_client_credentials", "token_url": "https://auth.example.com/token",
        "client_id": "{secret:id}", "client_secret": "{secret:secret}", "scope": "read write"})";

}  // namespace

TEST(OAuth2, Declaration) {
    OAuth2Spec spec = Parse(kSpec);
    EXPECT_EQ(spec.token_url, "https://auth.example.com/token");
    EXPECT_EQ(spec.scope, std::optional<std::string>("read write"));
    EXPECT_TRUE(spec.client_auth_basic);
    EXPECT_FALSE(Parse(R"({"type": "oauth2_client_credentials", "token_url": "http://h/t", "client_id": "a",
                            "client_secret": "b", "client_auth": "post"})")
                     .client_auth_basic);
    EXPECT_EQ(ParseError(R"({"type": "oauth2_password"})"),
              "options: \"auth\": unknown \"type\" \"oauth2_password\"; the one known is oauth2_client_credentials");
    EXPECT_EQ(ParseError(R"({"type": "oauth2_client_credentials", "token_url": "http://h/t", "client_id": "a"})"),
              "options: \"auth\": needs \"client_secret\"");
    EXPECT_NE(ParseError(R"({"type": "oauth2_client_credentials", "token_url": "ftp://h/t", "client_id": "a",
                              "client_secret": "b"})")
                  .find("\"token_url\": URL \"ftp://h/t\" is not allowed"),
              std::string::npos);
    EXPECT_NE(ParseError(R"({"type": "oauth2_client_credentials", "token_url": "http://h/t", "client_id": "a",
                              "client_secret": "b", "grant": "x"})"),
              "");
    EXPECT_NE(
        ParseError(R"({"type": "oauth2_client_credentials", "token_url": "http://h/t", "client_id": "{secret:a b}",
                              "client_secret": "b"})"),
        "");
    EXPECT_NE(ParseError("[]"), "");
}

TEST(OAuth2, TokenRequestWithBasicCredentials) {
    bulk_ingest::SecretMap secrets = {{"id", "my client"}, {"secret", "s:e/c+r=t"}};
    auto request = BuildTokenRequest(Parse(kSpec), secrets);
    EXPECT_EQ(request.body, "grant_type=client_credentials&scope=read+write");
    // RFC 6749 2.3.1: form-encoded, then basic: base64("my+client:s%3Ae%2Fc%2Br%3Dt")
    EXPECT_EQ(request.headers[0], "Authorization: Basic " + bulk_ingest::Base64Encode("my+client:s%3Ae%2Fc%2Br%3Dt"));
    EXPECT_EQ(request.headers[1], "Content-Type: application/x-www-form-urlencoded");
}

TEST(OAuth2, TokenRequestWithCredentialsInTheBody) {
    OAuth2Spec spec = Parse(kSpec);
    spec.client_auth_basic = false;
    spec.scope.reset();
    auto request = BuildTokenRequest(spec, {{"id", "a b"}, {"secret", "&x="}});
    EXPECT_EQ(request.body, "grant_type=client_credentials&client_id=a+b&client_secret=%26x%3D");
    for (const std::string &header : request.headers) {
        EXPECT_EQ(header.find("Authorization"), std::string::npos);
    }
    EXPECT_THROW(BuildTokenRequest(spec, {}), Error);  // a secret that is not set
}

TEST(OAuth2, TokenResponse) {
    auto token = ParseTokenResponse(R"({"access_token": "abc", "token_type": "Bearer", "expires_in": 3600})");
    EXPECT_EQ(token.access_token, "abc");
    EXPECT_EQ(token.expires_in_s, 3600);
    EXPECT_EQ(ParseTokenResponse(R"({"access_token": "abc", "token_type": "bearer"})").expires_in_s, 0);
    EXPECT_EQ(ParseTokenResponse(R"({"access_token": "abc", "expires_in": "60"})").expires_in_s, 60);
    for (const char *bad :
         {"", "[]", R"({"token": "abc"})", R"({"access_token": ""})", R"({"access_token": "a", "token_type": "mac"})",
          R"({"access_token": "a\r\nX: y"})", R"({"access_token": "a", "expires_in": true})"}) {
        try {
            ParseTokenResponse(bad);
            FAIL() << bad;
        } catch (const Error &e) {
            EXPECT_EQ(std::string(e.what()).find("a\r\n"), std::string::npos);  // never the token itself
        }
    }
    EXPECT_EQ(FormEncode("a b+c"), "a+b%2Bc");
}
