// A byte buffer grown with realloc, for the text of a record, which can be long.
//
// std::string grows by allocating a larger block, copying and freeing the old one, so while a 300 MB line grows from
// 256 MB both blocks are resident. glibc's realloc moves a large (mmap'ed) block with mremap instead: the pages move,
// nothing is copied, and the peak stays at the size of the text. Pages of the capacity that were never written are
// not resident either.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>

namespace bulk_ingest {

class GrowBuffer {
  public:
    GrowBuffer() = default;
    ~GrowBuffer() { std::free(data_); }
    GrowBuffer(const GrowBuffer &) = delete;
    GrowBuffer &operator=(const GrowBuffer &) = delete;

    const char *data() const { return data_; }
    char *data() { return data_; }
    size_t size() const { return size_; }
    size_t capacity() const { return capacity_; }
    bool empty() const { return size_ == 0; }
    char &back() { return data_[size_ - 1]; }
    char operator[](size_t i) const { return data_[i]; }

    void append(const char *text, size_t len) {
        if (len > capacity_ - size_) {
            Grow(size_ + len);
        }
        if (len > 0) {
            std::memcpy(data_ + size_, text, len);
        }
        size_ += len;
    }
    void push_back(char c) { append(&c, 1); }
    void clear() { size_ = 0; }
    // Gives the memory back (clear() keeps it for the next record).
    void release() {
        std::free(data_);
        data_ = nullptr;
        size_ = capacity_ = 0;
    }

  private:
    void Grow(size_t need) {
        size_t capacity = capacity_ < 4096 ? 4096 : capacity_;
        while (capacity < need) {
            capacity = capacity > (SIZE_MAX / 2) ? need : capacity * 2;
        }
        void *grown = std::realloc(data_, capacity);
        if (grown == nullptr) {
            throw std::bad_alloc();
        }
        data_ = static_cast<char *>(grown);
        capacity_ = capacity;
    }

    char *data_ = nullptr;
    size_t size_ = 0;
    size_t capacity_ = 0;
};

}  // namespace bulk_ingest
