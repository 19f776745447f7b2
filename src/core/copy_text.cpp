// COPY text format encoding.
#include "copy_text.h"

#include <cstdint>
#include <cstring>

namespace bulk_ingest {

namespace {

// For each byte, the letter that follows the backslash in its COPY escape, or 0 when the byte is copied as is.
struct EscapeTable {
    char letter[256] = {};
    constexpr EscapeTable() {
        letter[static_cast<unsigned char>('\\')] = '\\';
        letter[static_cast<unsigned char>('\t')] = 't';
        letter[static_cast<unsigned char>('\n')] = 'n';
        letter[static_cast<unsigned char>('\r')] = 'r';
    }
};
constexpr EscapeTable kEscapes;

// Writes text at dst with COPY's escapes and returns the end: at most 2 * text.size() bytes.
char *WriteEscaped(char *dst, std::string_view text) {
    const char *run = text.data();  // start of the bytes not yet written
    const char *end = run + text.size();
    const char *p = run;
    while (p < end) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        // Eight bytes at a time: flag bytes below 0x0E (tab, newline, carriage return and some other controls) and
        // backslashes; the lowest flagged byte is exact, and the table decides. Most text has no flagged byte.
        if (end - p >= 8) {
            uint64_t word;
            memcpy(&word, p, 8);
            const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
            uint64_t backslash = word ^ (ones * '\\');
            uint64_t flags = ((word - ones * 0x0E) & ~word & highs) | ((backslash - ones) & ~backslash & highs);
            if (flags == 0) {
                p += 8;
                continue;
            }
            p += __builtin_ctzll(flags) / 8;
        }
#endif
        char letter = kEscapes.letter[static_cast<unsigned char>(*p)];
        if (letter != 0) {
            CopyBytes(dst, run, static_cast<size_t>(p - run));
            dst += p - run;
            *dst++ = '\\';
            *dst++ = letter;
            run = p + 1;
        }
        p++;
    }
    CopyBytes(dst, run, static_cast<size_t>(end - run));
    return dst + (end - run);
}

// The most bytes the row of the first n columns of reader's record can take: each value escaped at most doubles, a
// NULL is \N, and the tabs between the values and the newline.
size_t RowBound(const RecordReader &reader, size_t n) {
    size_t bound = n + 1;
    for (size_t i = 0; i < n; i++) {
        const FieldValue &field = reader.Field(i);
        bound += field.is_null ? 2 : 2 * field.text.size();
    }
    return bound;
}

// Writes the row at dst (RowBound bytes of room) and returns its end.
char *WriteRow(char *dst, const RecordReader &reader, size_t n) {
    for (size_t i = 0; i < n; i++) {
        if (i > 0) {
            *dst++ = '\t';
        }
        const FieldValue &field = reader.Field(i);
        if (field.is_null) {
            *dst++ = '\\';
            *dst++ = 'N';
        } else {
            dst = WriteEscaped(dst, field.text);
        }
    }
    *dst++ = '\n';
    return dst;
}

// Rows up to this long are written in place, in room made for their longest form, and the buffer then cut to what
// they took: one growth check per row instead of one append per run of bytes. Longer ones are written value by value,
// a long value in slices, so that a long record never reserves much more than it takes (with vm.overcommit_memory =
// 2, which PostgreSQL's documentation recommends, reserved memory counts whether it is used or not).
constexpr size_t kInPlaceMax = size_t(64) * 1024;

char *Room(std::string &out, size_t n) {
    size_t start = out.size();
    out.resize(start + n);
    return &out[start];
}

char *Room(GrowBuffer &out, size_t n) {
    return out.Extend(n);
}

void Cut(std::string &out, const char *end) {
    out.resize(static_cast<size_t>(end - out.data()));
}

void Cut(GrowBuffer &out, const char *end) {
    out.Truncate(static_cast<size_t>(end - out.data()));
}

// Out is std::string or GrowBuffer (the loader's row buffer, which grows without copying: grow_buffer.h). A long value
// is written in slices, each in room for its longest form.
template <class Out>
void AppendEscaped(Out &out, std::string_view text) {
    do {
        std::string_view slice = text.substr(0, kInPlaceMax / 2);
        Cut(out, WriteEscaped(Room(out, 2 * slice.size()), slice));
        text.remove_prefix(slice.size());
    } while (!text.empty());
}

template <class Out>
void AppendRow(Out &out, const RecordReader &reader, size_t n) {
    size_t bound = RowBound(reader, n);
    if (bound <= kInPlaceMax) {
        Cut(out, WriteRow(Room(out, bound), reader, n));
        return;
    }
    for (size_t i = 0; i < n; i++) {
        if (i > 0) {
            out.push_back('\t');
        }
        const FieldValue &field = reader.Field(i);
        if (field.is_null) {
            out.append("\\N", 2);
        } else {
            AppendEscaped(out, field.text);
        }
    }
    out.push_back('\n');
}

}  // namespace

void AppendCopyEscaped(std::string &out, std::string_view text) {
    AppendEscaped(out, text);
}

void AppendCopyEscaped(GrowBuffer &out, std::string_view text) {
    AppendEscaped(out, text);
}

void AppendCopyRow(std::string &out, const RecordReader &reader) {
    AppendRow(out, reader, reader.ColumnCount());
}

void AppendCopyRow(GrowBuffer &out, const RecordReader &reader) {
    AppendRow(out, reader, reader.ColumnCount());
}

void AppendCopyRow(std::string &out, const RecordReader &reader, size_t columns) {
    AppendRow(out, reader, columns);
}

void AppendCopyRow(GrowBuffer &out, const RecordReader &reader, size_t columns) {
    AppendRow(out, reader, columns);
}

}  // namespace bulk_ingest
