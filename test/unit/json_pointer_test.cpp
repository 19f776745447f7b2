#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "error.h"
#include "json_pointer.h"

using bulk_ingest::Error;
using bulk_ingest::ParseJsonPointer;
using Tokens = std::vector<std::string>;

TEST(JsonPointer, EmptyPointerIsTheWholeDocument) {
    EXPECT_EQ(ParseJsonPointer(""), Tokens{});
}

TEST(JsonPointer, SplitsReferenceTokens) {
    EXPECT_EQ(ParseJsonPointer("/a"), Tokens{"a"});
    EXPECT_EQ(ParseJsonPointer("/a/b/c"), (Tokens{"a", "b", "c"}));
    EXPECT_EQ(ParseJsonPointer("/items/0/name"), (Tokens{"items", "0", "name"}));
}

TEST(JsonPointer, EmptyTokensAreKept) {
    EXPECT_EQ(ParseJsonPointer("/"), Tokens{""});
    EXPECT_EQ(ParseJsonPointer("//"), (Tokens{"", ""}));
    EXPECT_EQ(ParseJsonPointer("/a/"), (Tokens{"a", ""}));
}

TEST(JsonPointer, UnescapesTildeAndSlash) {
    EXPECT_EQ(ParseJsonPointer("/a~1b"), Tokens{"a/b"});
    EXPECT_EQ(ParseJsonPointer("/~0"), Tokens{"~"});
    EXPECT_EQ(ParseJsonPointer("/a/b~1c/~0"), (Tokens{"a", "b/c", "~"}));
    // RFC 6901: ~01 is "~1" (unescape ~1 first would wrongly give "/"), ~10 is "/0".
    EXPECT_EQ(ParseJsonPointer("/~01"), Tokens{"~1"});
    EXPECT_EQ(ParseJsonPointer("/~10"), Tokens{"/0"});
    EXPECT_EQ(ParseJsonPointer("/~0~0~1~1"), Tokens{"~~//"});
}

TEST(JsonPointer, OtherCharactersAreTakenAsIs) {
    EXPECT_EQ(ParseJsonPointer("/a b/%25/\xc3\xa9/\"q\"/\\"), (Tokens{"a b", "%25", "\xc3\xa9", "\"q\"", "\\"}));
}

static std::string ErrorOf(const std::string &pointer) {
    try {
        ParseJsonPointer(pointer);
    } catch (const Error &e) {
        return e.what();
    }
    return "(no error)";
}

TEST(JsonPointer, RejectsAPointerNotStartingWithSlash) {
    EXPECT_EQ(ErrorOf("a/b"), "\"a/b\" is not a JSON Pointer: it must be empty or start with '/'");
    EXPECT_NE(ErrorOf("#/a").find("\"#/a\""), std::string::npos);
    EXPECT_NE(ErrorOf("no/slash").find("start with '/'"), std::string::npos);
}

TEST(JsonPointer, RejectsInvalidEscapes) {
    EXPECT_EQ(ErrorOf("/bad~2escape"),
              "\"/bad~2escape\" is not a valid JSON Pointer: '~' at character 5 must be followed by '0' (for '~') or "
              "'1' (for '/')");
    EXPECT_NE(ErrorOf("/a~").find("\"/a~\""), std::string::npos);
    EXPECT_NE(ErrorOf("/~/x").find("character 2"), std::string::npos);
}
