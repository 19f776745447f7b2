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

// Copies n bytes. Most copies here are short (a field's run of bytes): up to 16 bytes are copied with two overlapping
// loads and stores inline, where a call to memcpy would cost more than the copy.
inline void CopyBytes(char *dst, const char *src, size_t n) {
    if (n >= 8 && n <= 16) {
        uint64_t head, tail;
        std::memcpy(&head, src, 8);
        std::memcpy(&tail, src + n - 8, 8);
        std::memcpy(dst, &head, 8);
        std::memcpy(dst + n - 8, &tail, 8);
    } else if (n >= 4 && n < 8) {
        uint32_t head, tail;
        std::memcpy(&head, src, 4);
        std::memcpy(&tail, src + n - 4, 4);
        std::memcpy(dst, &head, 4);
        std::memcpy(dst + n - 4, &tail, 4);
    } else if (n < 4) {
        for (size_t i = 0; i < n; i++) {
            dst[i] = src[i];
        }
    } else {
        std::memcpy(dst, src, n);
    }
}

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
        CopyBytes(data_ + size_, text, len);
        size_ += len;
    }
    // Makes the buffer n bytes longer and returns the first of them, for the caller to write (at most n bytes).
    char *Extend(size_t n) {
        if (n > capacity_ - size_) {
            Grow(size_ + n);
        }
        char *at = data_ + size_;
        size_ += n;
        return at;
    }
    // Shortens the buffer to size bytes (size <= size()).
    void Truncate(size_t size) { size_ = size; }
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
