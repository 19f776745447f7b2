// A set of at most N bytes, and the search for the first byte of a text that is in it: what a reader's scans for
// the bytes that end a run (a CSV field's delimiter, quote and line breaks; a JSON record's brackets and quotes) do
// on every byte of their input. With SSE2 (every x86-64) sixteen bytes are compared at a time; elsewhere, and for a
// text's last few bytes, one at a time against a table.
#pragma once

#include <cstddef>
#include <initializer_list>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace bulk_ingest {

template <size_t N>
class ByteSet {
  public:
    // bytes: one to N bytes (a byte given twice counts once).
    ByteSet(std::initializer_list<char> bytes) {
        size_t i = 0;
        for (char c : bytes) {
            member_[static_cast<unsigned char>(c)] = true;
#if defined(__SSE2__)
            if (i < N) {
                needles_[i++] = _mm_set1_epi8(c);
            }
#endif
        }
#if defined(__SSE2__)
        for (; i < N; i++) {
            needles_[i] = needles_[0];  // bytes.size() < N: the first byte again
        }
#else
        (void)i;
#endif
    }

    // The first byte of [p, end) in the set, or end.
    const char *Find(const char *p, const char *end) const {
#if defined(__SSE2__)
        while (end - p >= 16) {
            __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i *>(p));
            __m128i hit = _mm_cmpeq_epi8(v, needles_[0]);
            for (size_t k = 1; k < N; k++) {
                hit = _mm_or_si128(hit, _mm_cmpeq_epi8(v, needles_[k]));
            }
            int mask = _mm_movemask_epi8(hit);
            if (mask != 0) {
                return p + __builtin_ctz(static_cast<unsigned>(mask));
            }
            p += 16;
        }
#endif
        while (p < end && !member_[static_cast<unsigned char>(*p)]) {
            p++;
        }
        return p;
    }

  private:
    bool member_[256] = {};
#if defined(__SSE2__)
    __m128i needles_[N];
#endif
};

}  // namespace bulk_ingest
