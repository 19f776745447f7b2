// Unit tests of secret references: expansion, redaction, and the base64 of basic authentication.
#include <gtest/gtest.h>

#include "error.h"
#include "secrets.h"

using bulk_ingest::Base64Encode;
using bulk_ingest::Error;
using bulk_ingest::ExpandSecrets;
using bulk_ingest::RedactSecrets;
using bulk_ingest::SecretMap;
using bulk_ingest::SecretReferences;

namespace {

TEST(Secrets, References) {
    EXPECT_EQ(SecretReferences("Bearer {secret:token}"), std::vector<std::string>{"token"});
    EXPECT_EQ(SecretReferences("{secret:a}{secret:b-2}x{secret:c_3}"), (std::vector<std::string>{"a", "b-2", "c_3"}));
    EXPECT_TRUE(SecretReferences("no {secrets} here").empty());
    EXPECT_THROW(SecretReferences("{secret:bad name}"), Error);
    EXPECT_THROW(SecretReferences("{secret:}"), Error);
    EXPECT_THROW(SecretReferences("{secret:open"), Error);
}

TEST(Secrets, ExpandsAndEncodesForUrls) {
    SecretMap secrets{{"token", "s3cr3t/+ key"}};
    EXPECT_EQ(ExpandSecrets("Bearer {secret:token}", secrets, false), "Bearer s3cr3t/+ key");
    EXPECT_EQ(ExpandSecrets("http://h/x?key={secret:token}&a=1", secrets, true),
              "http://h/x?key=s3cr3t%2F%2B%20key&a=1");
    try {
        ExpandSecrets("{secret:missing}", secrets, false);
        FAIL();
    } catch (const Error &e) {
        EXPECT_NE(std::string(e.what()).find("\"missing\" is not set"), std::string::npos);
    }
}

TEST(Secrets, RedactsPlainAndEncodedValues) {
    SecretMap secrets{{"token", "s3cr3t/+ key"}, {"pin", "12"}};
    EXPECT_EQ(RedactSecrets("GET http://h/x?key=s3cr3t%2F%2B%20key failed; header s3cr3t/+ key", secrets),
              "GET http://h/x?key=*** failed; header ***");
    EXPECT_EQ(RedactSecrets("page 12", secrets), "page 12");  // too short to redact without mangling text
}

TEST(Secrets, RedactsEveryUrlEncodingOfAValue) {
    // A server echoes the query into its next-page links encoded its own way: form encoding (a space as '+'),
    // lowercase hex digits, or characters left unencoded that the extension would encode.
    SecretMap secrets{{"key", "key/+ 7c41"}};
    EXPECT_EQ(RedactSecrets("?api_key=key%2F%2B+7c41&page=2", secrets), "?api_key=***&page=2");
    EXPECT_EQ(RedactSecrets("?api_key=key%2f%2b%207c41", secrets), "?api_key=***");
    EXPECT_EQ(RedactSecrets("?api_key=key/%2B%207c41&x=key/+ 7c41", secrets), "?api_key=***&x=***");
    EXPECT_EQ(RedactSecrets("?api_key=key/+ 7c4", secrets), "?api_key=key/+ 7c4");  // not the whole value
    EXPECT_EQ(RedactSecrets("%%2 key%2F%2B%2", secrets), "%%2 key%2F%2B%2");        // broken escapes
    SecretMap plus{{"pw", "a+b+c+d"}};
    EXPECT_EQ(RedactSecrets("pw=a%2Bb%2bc+d", plus), "pw=***");  // a "+" of the value matches "+" and %2B
}

TEST(Secrets, Base64) {
    EXPECT_EQ(Base64Encode(""), "");
    EXPECT_EQ(Base64Encode("f"), "Zg==");
    EXPECT_EQ(Base64Encode("fo"), "Zm8=");
    EXPECT_EQ(Base64Encode("foo"), "Zm9v");
    EXPECT_EQ(Base64Encode("user:pa ss"), "dXNlcjpwYSBzcw==");
    EXPECT_EQ(Base64Encode(std::string("\xff\xfe\x00", 3)), "//4A");
}

}  // namespace
