#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "batch_keys.h"
#include "record_reader.h"

using bulk_ingest::BatchKeys;
using bulk_ingest::FieldValue;
using bulk_ingest::RecordReader;

namespace {

// A record of fixed values (nullopt: NULL), set by the test before each Add.
class Record : public RecordReader {
  public:
    void Set(std::vector<const char *> values) {
        storage_.assign(values.size(), std::string());
        fields_.assign(values.size(), FieldValue());
        for (size_t i = 0; i < values.size(); i++) {
            if (values[i] != nullptr) {
                storage_[i] = values[i];
                fields_[i].is_null = false;
                fields_[i].text = storage_[i];
            }
        }
    }
    bool Next() override { return false; }
    const FieldValue &Field(size_t column) const override { return fields_.at(column); }
    size_t ColumnCount() const override { return fields_.size(); }
    uint64_t Line() const override { return 0; }
    uint64_t BytesConsumed() const override { return 0; }
    uint64_t PositionReached() const override { return 0; }

  private:
    std::vector<std::string> storage_;
    std::vector<FieldValue> fields_;
};

bool MayRepeat(BatchKeys &keys, const std::vector<std::vector<const char *>> &records) {
    Record record;
    keys.Clear();
    for (const auto &values : records) {
        record.Set(values);
        keys.Add(record);
    }
    return keys.MayRepeat();
}

}  // namespace

TEST(BatchKeys, DistinctKeysDoNotRepeat) {
    BatchKeys keys({0}, 1000);
    EXPECT_FALSE(MayRepeat(keys, {{"1", "a"}, {"2", "a"}, {"3", "b"}}));
    std::vector<std::vector<const char *>> many;
    std::vector<std::string> texts;
    for (int i = 0; i < 900; i++) {
        texts.push_back(std::to_string(i));
    }
    for (const auto &t : texts) {
        many.push_back({t.c_str(), "x"});
    }
    EXPECT_FALSE(MayRepeat(keys, many));
}

TEST(BatchKeys, ARepeatedKeyIsFoundWhereverItIs) {
    BatchKeys keys({0}, 1000);
    EXPECT_TRUE(MayRepeat(keys, {{"1", "a"}, {"1", "b"}}));
    EXPECT_TRUE(MayRepeat(keys, {{"7", "a"}, {"2", "a"}, {"3", "a"}, {"7", "z"}}));
}

TEST(BatchKeys, OnlyTheKeyColumnsCount) {
    BatchKeys keys({1}, 1000);
    EXPECT_FALSE(MayRepeat(keys, {{"1", "a"}, {"1", "b"}}));
    EXPECT_TRUE(MayRepeat(keys, {{"1", "a"}, {"2", "a"}}));
}

TEST(BatchKeys, CompositeKeysKeepTheirColumnsApart) {
    BatchKeys keys({0, 1}, 1000);
    EXPECT_FALSE(MayRepeat(keys, {{"ab", "c"}, {"a", "bc"}}));
    EXPECT_FALSE(MayRepeat(keys, {{"1", "2"}, {"2", "1"}}));
    EXPECT_TRUE(MayRepeat(keys, {{"1", "2"}, {"3", "4"}, {"1", "2"}}));
}

TEST(BatchKeys, NullIsNotTheEmptyString) {
    BatchKeys keys({0, 1}, 1000);
    EXPECT_FALSE(MayRepeat(keys, {{"1", nullptr}, {"1", ""}}));
    EXPECT_TRUE(MayRepeat(keys, {{"1", nullptr}, {"1", nullptr}}));
}

TEST(BatchKeys, ClearForgetsThePreviousBatch) {
    BatchKeys keys({0}, 1000);
    EXPECT_FALSE(MayRepeat(keys, {{"1"}}));
    EXPECT_FALSE(MayRepeat(keys, {{"1"}}));
}

TEST(BatchKeys, MoreKeysThanItRemembersMayRepeat) {
    BatchKeys keys({0}, 3);
    EXPECT_FALSE(MayRepeat(keys, {{"1"}, {"2"}, {"3"}}));
    EXPECT_TRUE(MayRepeat(keys, {{"1"}, {"2"}, {"3"}, {"4"}}));
    EXPECT_FALSE(MayRepeat(keys, {{"1"}, {"2"}}));  // a new batch starts afresh
}
