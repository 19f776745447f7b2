// Unit tests of the resume state kept for a run stopped at max_pages: round trip, secrets kept out, fingerprints.
#include <gtest/gtest.h>

#include <string>

#include "error.h"
#include "paginator.h"
#include "resume_state.h"

using bulk_ingest::DecodeResumeState;
using bulk_ingest::EncodeResumeState;
using bulk_ingest::PaginatorState;
using bulk_ingest::ParsePagination;
using bulk_ingest::ResumeFingerprint;
using bulk_ingest::SecretMap;

TEST(ResumeState, RoundTripWithoutSecrets) {
    PaginatorState state{"http://h/items?page=3", 3, std::string("c/3"), 40};
    std::string json = EncodeResumeState(state, "fp", {});
    auto back = DecodeResumeState(json, "fp", {});
    ASSERT_TRUE(back);
    EXPECT_EQ(back->url, state.url);
    EXPECT_EQ(back->position, 3);
    EXPECT_EQ(back->cursor, state.cursor);
    EXPECT_EQ(back->records, 40u);
}

TEST(ResumeState, SecretsAreKeptOutAndPutBack) {
    SecretMap secrets = {{"key", "s3cr3t/+"}, {"short", "s3"}};
    PaginatorState state{"http://h/items?api_key=s3cr3t%2F%2B&raw=s3cr3t/+&page=3", 3, std::string("xs3cr3t/+"), 0};
    std::string json = EncodeResumeState(state, "fp", secrets);
    EXPECT_EQ(json.find("s3cr3t"), std::string::npos) << json;  // neither form of the secret, nor its shorter match
    EXPECT_NE(json.find("\"secret\":\"key\""), std::string::npos) << json;
    auto back = DecodeResumeState(json, "fp", secrets);
    ASSERT_TRUE(back);
    EXPECT_EQ(back->url, state.url);
    EXPECT_EQ(back->cursor, state.cursor);
    // A rotated secret: the next run sends the new value.
    SecretMap rotated = {{"key", "new"}, {"short", "s3"}};
    EXPECT_EQ(DecodeResumeState(json, "fp", rotated)->url, "http://h/items?api_key=new&raw=new&page=3");
    // Removed: an error naming it.
    EXPECT_THROW(DecodeResumeState(json, "fp", {}), bulk_ingest::Error);
}

TEST(ResumeState, TextThatLooksLikeAReferenceStaysText) {
    // The server's own "{secret:token}" comes back as that text, never as the secret.
    PaginatorState without{"http://h/x?next={secret:token}", 0, std::nullopt, 0};
    auto back = DecodeResumeState(EncodeResumeState(without, "fp", {{"token", "zzz"}}), "fp", {{"token", "zzz"}});
    EXPECT_EQ(back->url, "http://h/x?next={secret:token}");
}

TEST(ResumeState, AnotherDeclarationOrGarbageIsIgnored) {
    std::string json = EncodeResumeState(PaginatorState{"http://h/x", 1, std::nullopt, 0}, "fp1", {});
    EXPECT_FALSE(DecodeResumeState(json, "fp2", {}));
    EXPECT_FALSE(DecodeResumeState("{", "fp1", {}));
    EXPECT_FALSE(DecodeResumeState("[]", "fp1", {}));
    EXPECT_FALSE(DecodeResumeState("{\"fingerprint\": \"fp1\"}", "fp1", {}));
    auto page = ParsePagination(R"({"type": "page", "param": "page"})");
    auto offset = ParsePagination(R"({"type": "offset", "param": "page"})");
    EXPECT_NE(ResumeFingerprint("http://h/x", page), ResumeFingerprint("http://h/x", offset));
    EXPECT_NE(ResumeFingerprint("http://h/x", page), ResumeFingerprint("http://h/y", page));
    EXPECT_EQ(ResumeFingerprint("http://h/x", page), ResumeFingerprint("http://h/x", page));
}

TEST(ResumeState, PointsWithAWindowAndPages) {
    SecretMap secrets = {{"k", "sekret"}};
    bulk_ingest::ResumePoint point;
    point.window = "2024-01-02 00:00:00+00";
    point.pages = PaginatorState{"http://h/x?k=sekret&page=2", 2, std::nullopt, 10};
    std::string json = bulk_ingest::EncodeResumePoint(point, "fp", secrets);
    EXPECT_EQ(json.find("sekret"), std::string::npos) << json;
    bulk_ingest::ResumePoint back = bulk_ingest::DecodeResumePoint(json, "fp", secrets);
    EXPECT_EQ(back.window, point.window);
    ASSERT_TRUE(back.pages);
    EXPECT_EQ(back.pages->url, "http://h/x?k=sekret&page=2");
    bulk_ingest::ResumePoint window_only;
    window_only.window = "2024-01-03 00:00:00+00";
    back = bulk_ingest::DecodeResumePoint(bulk_ingest::EncodeResumePoint(window_only, "fp", {}), "fp", {});
    EXPECT_EQ(back.window, window_only.window);
    EXPECT_FALSE(back.pages);
    // Another declaration: nothing.
    back = bulk_ingest::DecodeResumePoint(json, "other", secrets);
    EXPECT_FALSE(back.window);
    EXPECT_FALSE(back.pages);
}
