// What the fuzz targets share: the fuzzer's bytes as a ByteSource served in pieces, choices taken from the input,
// and the invariants every reader's output must keep.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "byte_source.h"
#include "columns.h"
#include "copy_text.h"
#include "csv_reader.h"
#include "json_pointer.h"
#include "record_reader.h"

namespace fuzz {

// Takes bytes from the front of the input for decisions; the rest is the body.
class Input {
  public:
    Input(const uint8_t *data, size_t size) : data_(data), size_(size) {}
    uint8_t Byte() {
        if (size_ == 0) {
            return 0;
        }
        size_--;
        return *data_++;
    }
    const char *Rest() const { return reinterpret_cast<const char *>(data_); }
    size_t RestSize() const { return size_; }

  private:
    const uint8_t *data_;
    size_t size_;
};

// The body in pieces whose sizes cycle through a pattern chosen by the input: records split at every place.
class PieceSource final : public bulk_ingest::ByteSource {
  public:
    PieceSource(const char *data, size_t size, uint8_t pattern) : data_(data), size_(size), pattern_(pattern) {}
    size_t Read(char *buf, size_t max) override {
        if (pos_ == size_) {
            return 0;
        }
        static const size_t kSizes[][4] = {
            {1 << 20, 1 << 20, 1 << 20, 1 << 20}, {1, 1, 1, 1}, {1, 2, 3, 7}, {7, 65536, 3, 1}};
        size_t want = kSizes[pattern_ % 4][reads_++ % 4];
        size_t n = want < max ? want : max;
        n = n < size_ - pos_ ? n : size_ - pos_;
        memcpy(buf, data_ + pos_, n);
        pos_ += n;
        return n;
    }

  private:
    const char *data_;
    size_t size_;
    uint8_t pattern_;
    size_t pos_ = 0;
    size_t reads_ = 0;
};

inline bulk_ingest::ColumnSpec Column(const char *name, const char *pointer, bool json = false, bool nullable = true,
                                      bool array = false,
                                      bulk_ingest::ValueFormat format = bulk_ingest::ValueFormat::kNone) {
    bulk_ingest::ColumnSpec c;
    c.name = name;
    c.pointer = bulk_ingest::ParseJsonPointer(pointer);
    c.json = json;
    c.nullable = nullable;
    c.array = array;
    c.format = format;
    return c;
}

// Declarations the JSON readers are fuzzed with.
inline std::vector<bulk_ingest::ColumnSpec> JsonColumns(uint8_t choice) {
    using bulk_ingest::ValueFormat;
    switch (choice % 5) {
        case 0:
            return {Column("id", "/id"), Column("name", "/name")};
        case 1:
            return {Column("id", "/id", false, false), Column("doc", "/doc", true), Column("all", "", true)};
        case 2:
            return {Column("a", "/a/b/0"), Column("b", "/a/b/1"), Column("c", "/x~1y"), Column("d", "/a")};
        case 3:
            return {Column("tags", "/tags", false, true, true),
                    Column("ts", "/ts", false, true, false, ValueFormat::kEpoch),
                    Column("b", "/b", false, true, false, ValueFormat::kBase64)};
        default:
            return {Column("ms", "/ms", false, true, true, ValueFormat::kEpochMs), Column("id", "/0")};
    }
}

// CSV options and declarations the CSV reader is fuzzed with: delimiter, quote, escape, NULL string, header.
inline void CsvChoice(uint8_t choice, bulk_ingest::CsvReaderOptions *options,
                      std::vector<bulk_ingest::ColumnSpec> *columns) {
    static const char kDelimiters[] = {',', ';', '\t', '|'};
    options->delimiter = kDelimiters[choice % 4];
    options->quote = (choice & 4) ? '\'' : '"';
    if (choice & 8) {
        options->escape = '\\';
    }
    options->null_string = (choice & 16) ? "NULL" : "";
    options->header = (choice & 32) == 0;
    if (options->header) {
        *columns = {Column("id", "/id"), Column("name", "/name", false, (choice & 64) == 0)};
    } else {
        *columns = {Column("first", "/#1"), Column("third", "/#3")};
    }
    options->missing_fields_null = (choice & 128) != 0;
}

inline void Require(bool condition, const char *what) {
    if (!condition) {
        fprintf(stderr, "invariant broken: %s\n", what);
        abort();
    }
}

// A valid UTF-8 check independent of the readers' (RFC 3629), for the invariants.
inline bool ValidUtf8(const char *s, size_t n) {
    const unsigned char *p = reinterpret_cast<const unsigned char *>(s);
    for (size_t i = 0; i < n;) {
        unsigned char c = p[i];
        size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        if (len == 0 || i + len > n) {
            return false;
        }
        uint32_t cp = len == 1 ? c : len == 2 ? c & 0x1F : len == 3 ? c & 0x0F : c & 0x07;
        for (size_t k = 1; k < len; k++) {
            if ((p[i + k] & 0xC0) != 0x80) {
                return false;
            }
            cp = (cp << 6) | (p[i + k] & 0x3F);
        }
        if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
            (cp >= 0xD800 && cp <= 0xDFFF)) {
            return false;
        }
        i += len;
    }
    return true;
}

// The invariants of a record a reader returned, checked through its COPY row: one line, one field per column
// (n - 1 unescaped tabs), \N only for NULL, and decoding the escapes gives every value back.
inline void CheckRecord(const bulk_ingest::RecordReader &reader) {
    std::string row;
    bulk_ingest::AppendCopyRow(row, reader);
    Require(!row.empty() && row.back() == '\n', "a COPY row ends with its newline");
    size_t field = 0;
    std::string value;
    for (size_t i = 0; i + 1 < row.size(); i++) {
        char c = row[i];
        Require(c != '\n' && c != '\r', "no raw line break inside a COPY row");
        if (c == '\t') {
            field++;
            continue;
        }
        if (c == '\\') {
            Require(i + 2 < row.size(), "an escape is complete");
            char e = row[++i];
            Require(e == '\\' || e == 't' || e == 'n' || e == 'r' || e == 'N', "a known escape");
        }
    }
    Require(field + 1 == reader.ColumnCount(), "one COPY field per column");
    for (size_t c = 0; c < reader.ColumnCount(); c++) {
        const bulk_ingest::FieldValue &f = reader.Field(c);
        if (!f.is_null) {
            Require(ValidUtf8(f.text.data(), f.text.size()), "a value is valid UTF-8");
            Require(f.text.empty() || memchr(f.text.data(), 0, f.text.size()) == nullptr, "a value holds no NUL");
        }
    }
}

}  // namespace fuzz
