#include "batch_keys.h"

#include <algorithm>
#include <cstring>

namespace bulk_ingest {

namespace {

// 64-bit FNV-1a, then a final mix (the low bits of plain FNV-1a are weak for short, similar keys).
uint64_t Hash(uint64_t h, const char *data, size_t len) {
    for (size_t i = 0; i < len; i++) {
        h ^= static_cast<unsigned char>(data[i]);
        h *= 0x100000001b3ULL;
    }
    return h;
}

uint64_t Mix(uint64_t h) {
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
}

}  // namespace

BatchKeys::BatchKeys(std::vector<size_t> key_columns, size_t max_keys)
    : key_columns_(std::move(key_columns)), max_keys_(max_keys) {}

void BatchKeys::Clear() {
    hashes_.clear();
    overflow_ = false;
}

void BatchKeys::Add(const RecordReader &reader) {
    if (overflow_) {
        return;
    }
    if (hashes_.size() >= max_keys_) {
        overflow_ = true;
        hashes_.clear();
        hashes_.shrink_to_fit();
        return;
    }
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t column : key_columns_) {
        const FieldValue &field = reader.Field(column);
        // A length prefix keeps ("ab", "c") and ("a", "bc") apart; NULL is its own value.
        uint64_t len = field.is_null ? UINT64_MAX : field.text.size();
        h = Hash(h, reinterpret_cast<const char *>(&len), sizeof(len));
        if (!field.is_null) {
            h = Hash(h, field.text.data(), field.text.size());
        }
    }
    hashes_.push_back(Mix(h));
}

bool BatchKeys::MayRepeat() {
    if (overflow_) {
        return true;
    }
    std::sort(hashes_.begin(), hashes_.end());
    return std::adjacent_find(hashes_.begin(), hashes_.end()) != hashes_.end();
}

}  // namespace bulk_ingest
