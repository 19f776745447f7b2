// The largest record (max_record_bytes) of every reader, where reading stopped when the input fails
// (PositionReached), giving a long record's memory back (ReleaseRecord), and GrowBuffer.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "csv_reader.h"
#include "error.h"
#include "formats.h"
#include "grow_buffer.h"
#include "json_pointer.h"
#include "json_reader.h"
#include "ndjson_reader.h"
#include "piece_source.h"

using bulk_ingest::ColumnSpec;
using bulk_ingest::Error;
using bulk_ingest::GrowBuffer;
using bulk_ingest::RecordError;
using bulk_ingest::RecordReader;
using bulk_ingest::testing::kPatterns;
using bulk_ingest::testing::PieceSource;

namespace {

std::vector<ColumnSpec> Columns() {
    std::vector<ColumnSpec> columns(2);
    columns[0].name = "id";
    columns[0].pointer = bulk_ingest::ParseJsonPointer("/id");
    columns[1].name = "v";
    columns[1].pointer = bulk_ingest::ParseJsonPointer("/v");
    return columns;
}

std::unique_ptr<RecordReader> Reader(const std::string &format, bulk_ingest::ByteSource &source, size_t limit) {
    bulk_ingest::SourceOptions options;
    return bulk_ingest::MakeRecordReader(format, source, Columns(), options, limit);
}

// The body of format with a record whose v is `value` after a short one.
std::string Body(const std::string &format, const std::string &value) {
    if (format == "ndjson") {
        return "{\"id\": 1, \"v\": \"a\"}\n{\"id\": 2, \"v\": \"" + value + "\"}\n{\"id\": 3, \"v\": \"c\"}\n";
    }
    if (format == "json") {
        return "[{\"id\": 1, \"v\": \"a\"}, {\"id\": 2, \"v\": \"" + value + "\"}, {\"id\": 3, \"v\": \"c\"}]";
    }
    return "id,v\n1,a\n2," + value + "\n3,c\n";
}

// The error of reading the whole body, or "".
std::string ReadAll(const std::string &format, const std::string &body, size_t limit,
                    const std::vector<size_t> &pattern, uint64_t *line = nullptr) {
    PieceSource source(body, pattern);
    auto reader = Reader(format, source, limit);
    try {
        while (reader->Next()) {
        }
    } catch (const RecordError &e) {
        if (line != nullptr) {
            *line = e.line();
        }
        return e.what();
    }
    return "";
}

}  // namespace

TEST(RecordLimits, FormatBytes) {
    EXPECT_EQ(bulk_ingest::FormatBytes(64u << 20), "64 MB");
    EXPECT_EQ(bulk_ingest::FormatBytes(1u << 30), "1 GB");
    EXPECT_EQ(bulk_ingest::FormatBytes(1536u << 10), "1536 kB");
    EXPECT_EQ(bulk_ingest::FormatBytes(1000), "1000 bytes");
}

TEST(RecordLimits, DefaultIs64MB) {
    EXPECT_EQ(bulk_ingest::kDefaultMaxRecordBytes, size_t(64) << 20);
}

TEST(RecordLimits, ARecordLongerThanTheLimitIsARecordErrorOfEveryReader) {
    const std::string value(5000, 'x');
    for (const char *format : {"ndjson", "json", "csv"}) {
        for (const auto &pattern : kPatterns) {
            uint64_t line = 0;
            std::string error = ReadAll(format, Body(format, value), 4096, pattern, &line);
            EXPECT_NE(error.find("is longer than 4 kB, the largest record allowed (bulk_ingest.max_record_size)"),
                      std::string::npos)
                << format << ": " << error;
            EXPECT_EQ(line, std::string(format) == "csv" ? 3u : 2u) << format;
            // At the limit it is read.
            EXPECT_EQ(ReadAll(format, Body(format, value), 8192, pattern), "") << format;
        }
    }
}

TEST(RecordLimits, ALineInsideOneReadBlockIsCheckedToo) {
    // NDJSON uses a line found inside one read block where it is: the limit applies all the same.
    std::string error = ReadAll("ndjson", Body("ndjson", std::string(200, 'y')), 100, kPatterns[0]);
    EXPECT_NE(error.find("line 2: the line is longer than 100 bytes"), std::string::npos) << error;
}

namespace {

// Serves its data, then fails like a transfer that breaks off.
class BreakingSource : public bulk_ingest::ByteSource {
  public:
    explicit BreakingSource(std::string data) : data_(std::move(data)) {}
    size_t Read(char *buf, size_t max) override {
        if (pos_ == data_.size()) {
            throw bulk_ingest::HttpError(200, "the transfer broke off");
        }
        size_t n = std::min(max, data_.size() - pos_);
        memcpy(buf, data_.data() + pos_, n);
        pos_ += n;
        return n;
    }

  private:
    std::string data_;
    size_t pos_ = 0;
};

uint64_t PositionWhenBroken(const std::string &format, const std::string &data, int *records) {
    BreakingSource source(data);
    auto reader = Reader(format, source, bulk_ingest::kDefaultMaxRecordBytes);
    *records = 0;
    try {
        while (reader->Next()) {
            (*records)++;
        }
    } catch (const bulk_ingest::HttpError &) {
        return reader->PositionReached();
    }
    ADD_FAILURE() << format << ": the transfer did not break";
    return 0;
}

}  // namespace

TEST(RecordLimits, PositionReachedIsTheRecordAfterTheLastCompleteOne) {
    int records = 0;
    // Broken inside line 3, and right after line 2's newline.
    EXPECT_EQ(PositionWhenBroken("ndjson", "{\"id\": 1}\n{\"id\": 2}\n{\"id\"", &records), 3u);
    EXPECT_EQ(records, 2);
    EXPECT_EQ(PositionWhenBroken("ndjson", "{\"id\": 1}\n{\"id\": 2}\n", &records), 3u);
    EXPECT_EQ(records, 2);
    // JSON: inside record 3, and between records 2 and 3.
    EXPECT_EQ(PositionWhenBroken("json", "[{\"id\": 1}, {\"id\": 2}, {\"id\"", &records), 3u);
    EXPECT_EQ(PositionWhenBroken("json", "[{\"id\": 1}, {\"id\": 2}", &records), 3u);
    EXPECT_EQ(records, 2);
    // CSV: the header is line 1; inside line 4, and right after line 3.
    EXPECT_EQ(PositionWhenBroken("csv", "id,v\n1,a\n2,b\n3,", &records), 4u);
    EXPECT_EQ(records, 2);
    EXPECT_EQ(PositionWhenBroken("csv", "id,v\n1,a\n2,b\n", &records), 4u);
}

TEST(RecordLimits, ReleaseRecordGivesBackALongRecordsMemoryAndReadingGoesOn) {
    const std::string value(6 << 20, 'z');  // above the 4 MB the readers keep
    for (const char *format : {"ndjson", "json", "csv"}) {
        PieceSource source(Body(format, value), kPatterns[0]);
        auto reader = Reader(format, source, bulk_ingest::kDefaultMaxRecordBytes);
        ASSERT_TRUE(reader->Next()) << format;
        reader->ReleaseRecord();  // a short record: nothing to give back, the values stay
        EXPECT_EQ(reader->Field(1).text, "a") << format;
        ASSERT_TRUE(reader->Next()) << format;
        EXPECT_EQ(reader->Field(1).text.size(), value.size()) << format;
        reader->ReleaseRecord();
        size_t held = 0;
        if (auto *json = dynamic_cast<bulk_ingest::JsonReader *>(reader.get())) {
            held = json->BufferBytes();
        } else if (auto *csv = dynamic_cast<bulk_ingest::CsvReader *>(reader.get())) {
            held = csv->BufferBytes();
        }
        EXPECT_LT(held, size_t(1) << 20) << format;
        ASSERT_TRUE(reader->Next()) << format;
        EXPECT_EQ(reader->Field(1).text, "c") << format;
        EXPECT_FALSE(reader->Next()) << format;
    }
}

TEST(GrowBuffer, AppendsClearsAndReleases) {
    GrowBuffer buffer;
    EXPECT_TRUE(buffer.empty());
    std::string expected;
    for (int i = 0; i < 10000; i++) {
        std::string piece = std::to_string(i) + ",";
        buffer.append(piece.data(), piece.size());
        expected += piece;
    }
    buffer.push_back('!');
    expected += '!';
    EXPECT_EQ(std::string(buffer.data(), buffer.size()), expected);
    EXPECT_EQ(buffer.back(), '!');
    EXPECT_EQ(buffer[1], ',');
    size_t capacity = buffer.capacity();
    buffer.clear();
    EXPECT_TRUE(buffer.empty());
    EXPECT_EQ(buffer.capacity(), capacity);
    buffer.release();
    EXPECT_EQ(buffer.capacity(), 0u);
    buffer.append("x", 1);
    EXPECT_EQ(std::string(buffer.data(), buffer.size()), "x");
    buffer.append(nullptr, 0);
    EXPECT_EQ(buffer.size(), 1u);
}

TEST(Excerpt, CutsAtCharactersAndEscapes) {
    using bulk_ingest::Excerpt;
    std::string text = "{\"id\": 2, \"name\": \"a\x01\tb\"}";
    EXPECT_EQ(Excerpt(text.data(), text.size(), 0, 40), "{\\\"id\\\": 2, \\\"name\\\": \\\"a\\u0001\\tb\\\"}");
    std::string long_text(100, 'x');
    EXPECT_EQ(Excerpt(long_text.data(), long_text.size(), 50, 5), "...xxxxxxxxxx...");
    EXPECT_EQ(Excerpt(long_text.data(), long_text.size(), 0, 3), "xxx...");
    EXPECT_EQ(Excerpt(long_text.data(), long_text.size(), 100, 3), "...xxx");
    // Not UTF-8: shown as \xNN; a character is never cut.
    std::string bad = "caf\xe9 ok";
    EXPECT_EQ(Excerpt(bad.data(), bad.size(), 3), "caf\\xE9 ok");
    std::string accents = "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9";
    std::string cut = Excerpt(accents.data(), accents.size(), 4, 1);
    EXPECT_EQ(cut, "...\xc3\xa9\xc3\xa9...") << cut;
    EXPECT_EQ(Excerpt("", 0, 0), "");
}

TEST(Excerpt, RecordErrorsOfTheReadersCarryOne) {
    bulk_ingest::testing::PieceSource source("{\"id\": 1}\n{\"id\": 2 \"x\"}\n", {1 << 20});
    bulk_ingest::NdjsonReader reader(source, Columns());
    ASSERT_TRUE(reader.Next());
    try {
        reader.Next();
        ADD_FAILURE() << "line 2 should fail";
    } catch (const RecordError &e) {
        EXPECT_EQ(std::string(e.what()),
                  "line 2: invalid JSON at byte 9: Missing a comma or '}' after an object member.");
        EXPECT_EQ(e.excerpt(), "{\\\"id\\\": 2 \\\"x\\\"}");
    }
}
