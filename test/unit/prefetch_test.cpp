#include <gtest/gtest.h>

#include <atomic>
#include <algorithm>
#include <chrono>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "copy_text.h"
#include "error.h"
#include "prefetch.h"
#include "record_reader.h"

using bulk_ingest::FieldValue;
using bulk_ingest::PrefetchingReader;
using bulk_ingest::PrefetchOptions;
using bulk_ingest::RecordReader;

namespace {

// Records i = 1..count with fields ("<i>", NULL or "v<i>"); the source's text of the first is "s<i>" for even i.
// After `fail_after` records (when set) record fail_after + 1 is refused: a RecordError the reader steps over (the
// next call reads the record after it), or with `fatal` a FatalRecordError after which it cannot go on. Blocks
// (until its abort check says stop) after `block_after` records when set, as a stalled network would.
class CountingReader : public RecordReader {
  public:
    CountingReader(int count, int fail_after = -1, int block_after = -1, bool fatal = false)
        : count_(count), fail_after_(fail_after), block_after_(block_after), fatal_(fatal) {}
    bool Next() override {
        reader_thread = std::this_thread::get_id();
        if (i_ == fail_after_ && !failed_) {
            failed_ = true;
            refused_ = "record " + std::to_string(i_ + 1);
            if (fatal_) {
                throw bulk_ingest::FatalRecordError("line", static_cast<uint64_t>(i_ + 1), "truncated");
            }
            i_++;  // stepped over
            throw bulk_ingest::RecordError(static_cast<uint64_t>(i_), "bad record");
        }
        if (i_ == block_after_) {
            while (!bulk_ingest::ProducerShouldStop()) {
                std::this_thread::sleep_for(std::chrono::milliseconds(5));
            }
            stopped = true;
            throw bulk_ingest::Interrupted();
        }
        if (i_ >= count_) {
            return false;
        }
        i_++;
        key_ = std::to_string(i_);
        value_ = "v" + std::to_string(i_);
        fields_[0] = FieldValue{false, key_};
        fields_[1] = i_ % 3 == 0 ? FieldValue{true, {}} : FieldValue{false, value_};
        source_ = "s" + std::to_string(i_);
        refused_.clear();
        return true;
    }
    const FieldValue &Field(size_t column) const override { return fields_[column]; }
    std::string_view SourceText(size_t column) const override {
        return column == 0 && i_ % 2 == 0 ? std::string_view(source_) : fields_[column].text;
    }
    size_t ColumnCount() const override { return 2; }
    uint64_t Line() const override { return static_cast<uint64_t>(i_); }
    uint64_t BytesConsumed() const override { return static_cast<uint64_t>(i_) * 10 + (i_ >= count_ ? 1 : 0); }
    uint64_t PositionReached() const override { return static_cast<uint64_t>(i_) + 1; }
    std::string_view RecordText() const override { return refused_; }

    std::thread::id reader_thread;
    std::atomic<bool> stopped{false};

  private:
    int count_, fail_after_, block_after_;
    bool fatal_;
    bool failed_ = false;
    int i_ = 0;
    std::string key_, value_, source_, refused_;
    FieldValue fields_[2];
};

PrefetchOptions SmallBlocks() {
    PrefetchOptions options;
    options.block_bytes = 64;
    options.max_block_records = 7;
    options.max_blocks = 2;
    options.wait_check_interval_ms = 10;
    return options;
}

}  // namespace

TEST(Prefetch, HandsOverEveryRecordInOrderFromAnotherThread) {
    for (int count : {0, 1, 7, 8, 1000}) {
        CountingReader inner(count);
        PrefetchingReader reader(inner, SmallBlocks());
        ASSERT_EQ(reader.ColumnCount(), 2u);
        for (int i = 1; i <= count; i++) {
            ASSERT_TRUE(reader.Next()) << i;
            EXPECT_EQ(reader.Field(0).text, std::to_string(i));
            EXPECT_FALSE(reader.Field(0).is_null);
            if (i % 3 == 0) {
                EXPECT_TRUE(reader.Field(1).is_null);
            } else {
                EXPECT_EQ(reader.Field(1).text, "v" + std::to_string(i));
            }
            EXPECT_EQ(reader.Line(), static_cast<uint64_t>(i));
            EXPECT_EQ(reader.BytesConsumed(), static_cast<uint64_t>(i) * 10 + (i == count ? 1 : 0));
        }
        EXPECT_FALSE(reader.Next());
        EXPECT_FALSE(reader.Next());
        EXPECT_EQ(reader.BytesConsumed(), static_cast<uint64_t>(count) * 10 + 1);  // the end's count
        if (count > 0) {
            EXPECT_NE(inner.reader_thread, std::this_thread::get_id());
        }
    }
}

TEST(Prefetch, ValuesStayValidUntilTheNextRecord) {
    CountingReader inner(100);
    PrefetchingReader reader(inner, SmallBlocks());
    ASSERT_TRUE(reader.Next());
    std::string_view first = reader.Field(0).text;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // the producer fills every block it may
    EXPECT_EQ(first, "1");
}

TEST(Prefetch, ARefusedRecordEndsTheRecordsUnlessTheConsumerSkipsThem) {
    CountingReader inner(100, 42);
    PrefetchingReader reader(inner, SmallBlocks());
    for (int i = 1; i <= 42; i++) {
        ASSERT_TRUE(reader.Next()) << i;
    }
    EXPECT_THROW(reader.Next(), bulk_ingest::RecordError);
    EXPECT_EQ(reader.RecordText(), "record 43");
    EXPECT_FALSE(reader.Next());
    EXPECT_LE(inner.Line(), 43u);  // nothing was read past it
}

TEST(Prefetch, ARefusedRecordArrivesInItsPlaceAndTheRecordsAfterItFollow) {
    CountingReader inner(100, 42);
    PrefetchOptions options = SmallBlocks();
    options.skips_refused = true;
    PrefetchingReader reader(inner, options);
    for (int i = 1; i <= 42; i++) {
        ASSERT_TRUE(reader.Next()) << i;
        EXPECT_EQ(reader.RecordText(), "");
    }
    try {
        reader.Next();
        FAIL() << "no error";
    } catch (const bulk_ingest::RecordError &e) {
        EXPECT_EQ(std::string(e.what()), "line 43: bad record");
    }
    // What the reader said when it refused it (taken on the producer's thread, asked on the consumer's).
    EXPECT_EQ(reader.RecordText(), "record 43");
    EXPECT_EQ(reader.PositionReached(), 44u);
    // Skipped (options.on_error = 'skip'): the next records follow.
    for (int i = 44; i <= 100; i++) {
        ASSERT_TRUE(reader.Next()) << i;
        EXPECT_EQ(reader.Field(0).text, std::to_string(i));
    }
    EXPECT_FALSE(reader.Next());
}

TEST(Prefetch, AFatalErrorEndsTheRecordsAfterTheOnesBeforeIt) {
    CountingReader inner(100, 42, -1, true);
    PrefetchingReader reader(inner, SmallBlocks());
    for (int i = 1; i <= 42; i++) {
        ASSERT_TRUE(reader.Next()) << i;
    }
    EXPECT_THROW(reader.Next(), bulk_ingest::FatalRecordError);
    EXPECT_EQ(reader.PositionReached(), 43u);
    EXPECT_EQ(reader.RecordText(), "record 43");
    EXPECT_FALSE(reader.Next());
}

TEST(Prefetch, SourceTextsCrossWhereTheyDifferFromTheValues) {
    CountingReader inner(50);
    PrefetchingReader reader(inner, SmallBlocks());
    for (int i = 1; i <= 50; i++) {
        ASSERT_TRUE(reader.Next());
        EXPECT_EQ(reader.SourceText(0), i % 2 == 0 ? "s" + std::to_string(i) : std::to_string(i));
        EXPECT_EQ(reader.Field(0).text, std::to_string(i));
        EXPECT_EQ(reader.SourceText(1), reader.Field(1).text);
    }
}

TEST(Prefetch, DestroyingItStopsAProducerBlockedInTheNetwork) {
    CountingReader inner(1000, -1, 12);
    auto started = std::chrono::steady_clock::now();
    {
        PrefetchingReader reader(inner, SmallBlocks());
        for (int i = 1; i <= 10; i++) {
            ASSERT_TRUE(reader.Next());
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(30));  // the producer reaches the stall
    }
    EXPECT_TRUE(inner.stopped);
    EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(5));
}

TEST(Prefetch, DestroyingItUnreadStopsAProducerWaitingForRoom) {
    CountingReader inner(100000);
    {
        PrefetchingReader reader(inner, SmallBlocks());
        ASSERT_TRUE(reader.Next());
    }  // the producer waits for a free block: it is woken and stops
    SUCCEED();
}

TEST(Prefetch, TheConsumerWaitingForAStalledProducerAsksItsAbortCheck) {
    CountingReader inner(1000, -1, 3);
    std::atomic<int> asked{0};
    PrefetchOptions options = SmallBlocks();
    options.max_block_records = 1;
    options.should_abort = [&] { return ++asked >= 3; };
    PrefetchingReader reader(inner, options);
    for (int i = 1; i <= 3; i++) {
        ASSERT_TRUE(reader.Next());
    }
    EXPECT_THROW(reader.Next(), bulk_ingest::Interrupted);
    EXPECT_GE(asked.load(), 3);
}

TEST(Prefetch, ReadAheadIsBounded) {
    // With max_blocks blocks of max_block_records records, the producer is at most that far ahead (plus the block
    // it fills and the consumer's).
    CountingReader inner(100000);
    PrefetchOptions options = SmallBlocks();
    PrefetchingReader reader(inner, options);
    ASSERT_TRUE(reader.Next());
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    EXPECT_LE(inner.Line(), (options.max_blocks + 2) * options.max_block_records + 1);
}

TEST(Prefetch, OnlyTheProducerThreadIsOne) {
    EXPECT_FALSE(bulk_ingest::OnProducerThread());
    EXPECT_FALSE(bulk_ingest::ProducerShouldStop());
}

namespace {

// Records given as lists of three values (nullopt: NULL); a record given as {"!refuse"} is refused and stepped over.
class ListReader : public RecordReader {
  public:
    explicit ListReader(std::vector<std::vector<std::optional<std::string>>> records) : records_(std::move(records)) {}
    bool Next() override {
        if (next_ >= records_.size()) {
            return false;
        }
        const std::vector<std::optional<std::string>> &record = records_[next_++];
        if (record.size() == 1 && record[0] == "!refuse") {
            throw bulk_ingest::RecordError(next_, "refused");
        }
        for (size_t i = 0; i < 3; i++) {
            fields_[i] = record[i] ? FieldValue{false, *record[i]} : FieldValue{true, {}};
        }
        return true;
    }
    const FieldValue &Field(size_t column) const override { return fields_[column]; }
    size_t ColumnCount() const override { return 3; }
    uint64_t Line() const override { return next_; }
    uint64_t BytesConsumed() const override { return next_; }
    uint64_t PositionReached() const override { return next_ + 1; }

  private:
    std::vector<std::vector<std::optional<std::string>>> records_;
    size_t next_ = 0;
    FieldValue fields_[3];
};

}  // namespace

TEST(Prefetch, EncodesBinaryRowsOnItsThreadAndLeavesTheRecordsItCannotConvertToTheConsumer) {
    std::string long_value(PrefetchingReader::kMaxEncodedRecordBytes + 1, 'x');
    std::vector<std::vector<std::optional<std::string>>> records = {
        {"1", "one", "extra"},
        {"2", std::nullopt, "extra"},
        {"three", "not an integer: PostgreSQL's input function converts it", "extra"},
        {"4", long_value, "extra"},  // too long to be held twice
        {"5", "five", "extra"},
    };
    ListReader inner(records);
    PrefetchOptions options = SmallBlocks();
    options.copy_row_columns = 3;  // (binary_columns decide)
    options.binary_columns = {bulk_ingest::BinaryColumn{bulk_ingest::BinaryKind::kInt8},
                              bulk_ingest::BinaryColumn{bulk_ingest::BinaryKind::kText}};
    PrefetchingReader reader(inner, options);
    std::vector<bool> encoded;
    while (reader.Next()) {
        std::string expected;
        if (bulk_ingest::AppendBinaryRow(expected, reader, options.binary_columns.data(), 2) &&
            reader.Field(1).text != long_value) {
            EXPECT_EQ(reader.CopyRow(), expected) << "record " << reader.Field(0).text;
        }
        encoded.push_back(!reader.CopyRow().empty());
    }
    EXPECT_EQ(encoded, (std::vector<bool>{true, true, false, false, true}));
}

TEST(Prefetch, EncodesTheCopyRowsOfTheRecordsOnItsThreadWhenAsked) {
    std::string long_value(PrefetchingReader::kMaxEncodedRecordBytes + 1, 'x');
    std::vector<std::vector<std::optional<std::string>>> records = {
        {"1", "tab\there", "third"},
        {"2", std::nullopt, "back\\slash"},
        {"!refuse"},
        {"3", "line\nbreak\r", std::nullopt},
        {"4", long_value, "y"},  // too long to be held twice: the consumer encodes it
        {"5", "", "z"},
    };
    for (size_t columns : {0, 2, 3, 9}) {
        ListReader inner(records);
        PrefetchOptions options = SmallBlocks();
        options.skips_refused = true;
        options.copy_row_columns = columns;
        PrefetchingReader reader(inner, options);
        std::vector<std::string> rows;
        for (;;) {
            try {
                if (!reader.Next()) {
                    break;
                }
            } catch (const bulk_ingest::RecordError &) {
                rows.push_back("refused");
                continue;
            }
            std::string expected;
            bulk_ingest::AppendCopyRow(expected, reader, std::min<size_t>(columns, 3));
            if (columns == 0 || reader.Field(1).text == long_value) {
                EXPECT_EQ(reader.CopyRow(), "") << "record " << reader.Field(0).text << ", " << columns << " columns";
            } else {
                EXPECT_EQ(reader.CopyRow(), expected) << "record " << reader.Field(0).text;
            }
            rows.push_back(std::string(reader.CopyRow()));
        }
        if (columns == 2) {
            EXPECT_EQ(rows, (std::vector<std::string>{"1\ttab\\there\n", "2\t\\N\n", "refused", "3\tline\\nbreak\\r\n",
                                                      "", "5\t\n"}));
        }
    }
}
