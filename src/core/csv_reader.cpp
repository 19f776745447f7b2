// CSV reader (format "csv").
//
// Design: the ByteSource is read in 64 KiB blocks; a state machine splits each record into fields, appending their
// (unquoted, unescaped) text to one record buffer with the end offset of each field. Runs of ordinary bytes are found
// sixteen bytes at a time (byte_set.h) and appended at once. Field values are views into the record buffer, valid until
// the next call to Next().
#include "csv_reader.h"

#include <cstring>
#include <string>
#include <utility>

#include "byte_set.h"
#include "error.h"
#include "grow_buffer.h"
#include "json_record.h"
#include "value_format.h"

namespace bulk_ingest {

namespace {

constexpr size_t kBlockBytes = 64 * 1024;
constexpr size_t kKeepBytes = size_t(4) << 20;  // buffers larger than this are released after a long record

std::string Quoted(const std::string &s) {
    return "\"" + s + "\"";
}

std::string Printable(char c) {
    switch (c) {
        case '\t':
            return "'\\t'";
        case '\r':
            return "'\\r'";
        case '\n':
            return "'\\n'";
        default:
            return std::string("'") + c + "'";
    }
}

}  // namespace

struct CsvReader::Impl {
    Impl(ByteSource &source, std::vector<ColumnSpec> columns, CsvReaderOptions options, size_t max_record_bytes);
    void ReleaseRecord() noexcept {
        if (buf_.capacity() > kKeepBytes) {
            buf_.release();
            ends_.clear();
            quoted_.clear();
        }
    }

    bool Next();
    size_t BufferBytes() const { return kBlockBytes + buf_.capacity() + ends_.capacity() * sizeof(size_t); }

    ByteSource &source_;
    std::vector<ColumnSpec> columns_;
    CsvReaderOptions options_;
    char escape_;
    std::vector<FieldValue> fields_;
    ValueConverter converter_;  // formats (a CSV field is never converted as an array)
    std::vector<std::string> header_;
    uint64_t record_line_ = 0;  // line where the current record starts
    uint64_t consumed_ = 0;

  private:
    enum class State { kFieldStart, kUnquoted, kQuoted, kEscape, kQuoteInQuoted, kAfterClose };

    bool Fill();
    bool ReadRecord();
    void Append(const char *data, size_t len);
    void EndField(bool quoted) {
        ends_.push_back(buf_.size());
        quoted_.push_back(quoted);
    }
    bool EndLine();
    std::string_view FieldText(size_t i) const {
        size_t start = i == 0 ? 0 : ends_[i - 1];
        return std::string_view(buf_.data() + start, ends_[i] - start);
    }
    void ReadHeader();
    void CheckUtf8() const;

  public:
    // The current record's fields joined by the delimiter (for bulk_ingest.rejects).
    std::string_view JoinedText() const {
        text_.clear();
        for (size_t i = 0; i < ends_.size(); i++) {
            if (i > 0) {
                text_ += options_.delimiter;
            }
            text_ += FieldText(i);
        }
        return text_;
    }

  private:
    mutable std::string text_;
    // The start of the current record, its fields joined by the delimiter (for messages).
    std::string RecordExcerpt() const {
        std::string joined;
        for (size_t i = 0; i < ends_.size() && joined.size() < 60; i++) {
            if (i > 0) {
                joined += options_.delimiter;
            }
            joined += FieldText(i);
        }
        return Excerpt(joined.data(), joined.size(), 0, 40);
    }

    // Column mapping: 0-based field index of each column, or by name until the header is read.
    std::vector<size_t> index_;
    std::vector<std::string> names_;  // "" when the column is given by number
    bool started_ = false;
    size_t expected_ = 0;  // fields per record (0: not known yet)

    // Input.
    std::unique_ptr<char[]> block_;
    size_t pos_ = 0;
    size_t end_ = 0;
    uint64_t base_ = 0;  // input offset of block_[0]
    bool eof_ = false;
    ByteSet<3> special_;         // bytes that end a run in an unquoted field
    ByteSet<4> quoted_special_;  // ... in a quoted field
    uint64_t line_no_ = 0;       // line breaks consumed so far
    bool after_cr_ = false;      // the last byte consumed was a CR (a following LF is the same line break)

    // The current record.
    size_t max_record_bytes_;
    GrowBuffer buf_;
    std::vector<size_t> ends_;
    std::vector<bool> quoted_;
};

CsvReader::Impl::Impl(ByteSource &source, std::vector<ColumnSpec> columns, CsvReaderOptions options,
                      size_t max_record_bytes)
    : source_(source),
      columns_(std::move(columns)),
      options_(std::move(options)),
      escape_(options_.escape.value_or(options_.quote)),
      fields_(columns_.size()),
      converter_(columns_, false),
      block_(new char[kBlockBytes]),
      special_{options_.delimiter, '\r', '\n'},
      quoted_special_{options_.quote, escape_, '\r', '\n'},
      max_record_bytes_(max_record_bytes) {
    auto bad = [](char c) { return c == '\r' || c == '\n' || c == '\0'; };
    if (bad(options_.delimiter) || bad(options_.quote) || bad(escape_)) {
        throw Error("csv options: the delimiter, quote and escape characters cannot be a line break or NUL");
    }
    if (options_.delimiter == options_.quote || options_.delimiter == escape_) {
        throw Error("csv options: the delimiter " + Printable(options_.delimiter) +
                    " must differ from the quote and escape characters");
    }
    for (const ColumnSpec &column : columns_) {
        const std::vector<std::string> &p = column.pointer;
        if (p.size() != 1 || p[0].empty()) {
            throw Error("column \"" + column.name +
                        "\": the path of a csv column must be \"/<header name>\" or \"/#<column number>\"");
        }
        const std::string &token = p[0];
        bool number = token.size() > 1 && token[0] == '#' &&
                      token.find_first_not_of("0123456789", 1) == std::string::npos && token.size() <= 10;
        if (number) {
            size_t n = std::stoul(token.substr(1));
            if (n == 0) {
                throw Error("column \"" + column.name + "\": csv column numbers start at 1");
            }
            index_.push_back(n - 1);
            names_.emplace_back();
        } else {
            if (!options_.header) {
                throw Error("column \"" + column.name + "\": path \"/" + token +
                            "\" names a csv header column, but the options say there is no header row; use "
                            "\"/#<column number>\"");
            }
            index_.push_back(0);
            names_.push_back(token);
        }
    }
}

bool CsvReader::Impl::Fill() {
    if (eof_) {
        return false;
    }
    base_ += end_;
    pos_ = end_ = 0;
    size_t n = source_.Read(block_.get(), kBlockBytes);
    if (n == 0) {
        eof_ = true;
        return false;
    }
    end_ = n;
    return true;
}

inline void CsvReader::Impl::Append(const char *data, size_t len) {
    if (len > max_record_bytes_ - buf_.size()) {
        throw RecordTooLongError(record_line_, RecordTooLong("record", max_record_bytes_));
    }
    buf_.append(data, len);
}

// At a line break that ends a record: returns false when the record is an empty line to skip.
bool CsvReader::Impl::EndLine() {
    if (ends_.size() == 1 && ends_[0] == 0 && !quoted_[0] && expected_ != 1) {
        ends_.clear();
        quoted_.clear();
        record_line_ = line_no_ + 1;
        return false;
    }
    return true;
}

// Reads the next record into buf_/ends_/quoted_. Returns false at the end of the input.
bool CsvReader::Impl::ReadRecord() {
    if (buf_.capacity() > kKeepBytes) {
        buf_.release();
    } else {
        buf_.clear();
    }
    ends_.clear();
    quoted_.clear();
    record_line_ = line_no_ + 1;
    State state = State::kFieldStart;
    const char quote = options_.quote;
    const char delimiter = options_.delimiter;
    for (;;) {
        if (pos_ == end_ && !Fill()) {
            switch (state) {
                case State::kFieldStart:
                    if (ends_.empty()) {
                        return false;  // nothing since the last line break
                    }
                    EndField(false);
                    return true;
                case State::kUnquoted:
                    EndField(false);
                    return EndLine() || ReadRecord();
                case State::kQuoted:
                case State::kEscape:
                    throw RecordError(record_line_, "the input ends inside the quoted field " +
                                                        std::to_string(ends_.size() + 1) + " (a quote is missing)");
                case State::kQuoteInQuoted:
                case State::kAfterClose:
                    EndField(true);
                    return true;
            }
        }
        if (after_cr_) {
            after_cr_ = false;
            if (block_[pos_] == '\n') {
                pos_++;
                continue;
            }
        }
        switch (state) {
            case State::kFieldStart:
                if (block_[pos_] == quote) {
                    pos_++;
                    state = State::kQuoted;
                    continue;
                }
                state = State::kUnquoted;
                [[fallthrough]];
            case State::kUnquoted: {
                size_t start = pos_;
                pos_ = static_cast<size_t>(special_.Find(block_.get() + pos_, block_.get() + end_) - block_.get());
                Append(block_.get() + start, pos_ - start);
                if (pos_ == end_) {
                    continue;
                }
                char c = block_[pos_++];
                EndField(false);
                if (c == delimiter) {
                    state = State::kFieldStart;
                    continue;
                }
                line_no_++;  // CR or LF
                after_cr_ = c == '\r';
                if (EndLine()) {
                    return true;
                }
                state = State::kFieldStart;
                continue;
            }
            case State::kQuoted: {
                size_t start = pos_;
                for (;;) {
                    pos_ = static_cast<size_t>(quoted_special_.Find(block_.get() + pos_, block_.get() + end_) -
                                               block_.get());
                    // A doubled quote inside the block is one quote of the value: appended with the run before it,
                    // and the scan goes on (JSON in a CSV field doubles every quote it has).
                    if (pos_ + 1 < end_ && block_[pos_] == quote && escape_ == quote && block_[pos_ + 1] == quote) {
                        Append(block_.get() + start, pos_ + 1 - start);
                        pos_ += 2;
                        start = pos_;
                        continue;
                    }
                    break;
                }
                Append(block_.get() + start, pos_ - start);
                if (pos_ == end_) {
                    continue;
                }
                char c = block_[pos_++];
                if (c == '\n' || c == '\r') {
                    line_no_++;
                    Append(&c, 1);
                    if (c == '\r') {
                        // A CRLF inside the field is one line break; its LF is kept in the value.
                        if (pos_ == end_ && !Fill()) {
                            continue;
                        }
                        if (block_[pos_] == '\n') {
                            Append(block_.get() + pos_, 1);
                            pos_++;
                        }
                    }
                } else if (c == escape_ && escape_ != quote) {
                    state = State::kEscape;
                } else {
                    state = escape_ == quote ? State::kQuoteInQuoted : State::kAfterClose;
                }
                continue;
            }
            case State::kEscape: {
                char c = block_[pos_];
                if (c == quote || c == escape_) {
                    Append(&c, 1);
                    pos_++;
                } else {
                    Append(&escape_, 1);
                }
                state = State::kQuoted;
                continue;
            }
            case State::kQuoteInQuoted:
                if (block_[pos_] == quote) {
                    Append(&quote, 1);
                    pos_++;
                    state = State::kQuoted;
                    continue;
                }
                state = State::kAfterClose;
                [[fallthrough]];
            case State::kAfterClose: {
                char c = block_[pos_++];
                if (c == delimiter) {
                    EndField(true);
                    state = State::kFieldStart;
                    continue;
                }
                if (c == '\n' || c == '\r') {
                    EndField(true);
                    line_no_++;
                    after_cr_ = c == '\r';
                    return true;
                }
                throw RecordError(record_line_, "field " + std::to_string(ends_.size() + 1) + ": " + Printable(c) +
                                                    " after the closing quote (expected " + Printable(delimiter) +
                                                    " or the end of the line)");
            }
        }
    }
}

void CsvReader::Impl::CheckUtf8() const {
    size_t bad = FindInvalidUtf8(buf_.data(), buf_.size());
    size_t field = 0;
    if (bad == buf_.size()) {
        // Valid as a whole: a field may still end inside a sequence that the next one completes.
        for (field = 0; field + 1 < ends_.size(); field++) {
            size_t at = ends_[field];
            if (at < buf_.size() && (static_cast<unsigned char>(buf_[at]) & 0xC0) == 0x80) {
                bad = at - 1;
                break;
            }
        }
        if (bad == buf_.size()) {
            return;
        }
    }
    field = 0;
    while (ends_[field] <= bad) {
        field++;
    }
    size_t start = field == 0 ? 0 : ends_[field - 1];
    throw RecordError("line", record_line_,
                      "invalid UTF-8 in field " + std::to_string(field + 1) + " at byte " +
                          std::to_string(bad - start) + " (the input must be UTF-8)",
                      Excerpt(buf_.data() + start, ends_[field] - start, bad - start));
}

void CsvReader::Impl::ReadHeader() {
    if (!ReadRecord()) {
        return;
    }
    CheckUtf8();
    for (size_t i = 0; i < ends_.size(); i++) {
        header_.emplace_back(FieldText(i));
    }
    expected_ = header_.size();
    std::string missing, twice;
    for (size_t c = 0; c < columns_.size(); c++) {
        if (names_[c].empty()) {
            continue;
        }
        size_t found = header_.size();
        int count = 0;
        for (size_t i = 0; i < header_.size(); i++) {
            if (header_[i] == names_[c]) {
                found = count++ == 0 ? i : found;
            }
        }
        if (count == 0) {
            missing += (missing.empty() ? "" : ", ") + Quoted(names_[c]) + " (column " + Quoted(columns_[c].name) + ")";
        } else if (count > 1) {
            twice += (twice.empty() ? "" : ", ") + Quoted(names_[c]);
        }
        index_[c] = found;
    }
    std::string listed;
    for (const std::string &name : header_) {
        listed += (listed.empty() ? "" : ", ") + Quoted(name);
    }
    if (!missing.empty()) {
        throw Error("the CSV header has no column " + missing + "; its columns are: " + listed);
    }
    if (!twice.empty()) {
        throw Error("the CSV header names more than one column " + twice + "; its columns are: " + listed);
    }
    for (size_t c = 0; c < columns_.size(); c++) {
        if (index_[c] >= header_.size()) {
            throw Error("column \"" + columns_[c].name + "\": the CSV header has only " +
                        std::to_string(header_.size()) + " columns; its columns are: " + listed);
        }
    }
}

bool CsvReader::Impl::Next() {
    if (!started_) {
        started_ = true;
        // A UTF-8 byte order mark.
        static const char kBom[] = "\xEF\xBB\xBF";
        for (int i = 0; i < 3; i++) {
            if (pos_ == end_ && !Fill()) {
                break;
            }
            if (block_[pos_] != kBom[i]) {
                if (i > 0) {
                    throw RecordError(1, "invalid UTF-8 at the start of the input (the input must be UTF-8)");
                }
                break;
            }
            pos_++;
        }
        if (options_.header) {
            ReadHeader();
            if (header_.empty()) {
                consumed_ = base_ + pos_;
                return false;
            }
        }
    }
    if (!ReadRecord()) {
        consumed_ = base_ + pos_;
        return false;
    }
    consumed_ = base_ + pos_;
    if (expected_ == 0) {
        expected_ = ends_.size();
        for (size_t c = 0; c < columns_.size(); c++) {
            if (index_[c] >= expected_) {
                throw Error("column \"" + columns_[c].name + "\": path \"/" + columns_[c].pointer[0] +
                            "\" is beyond the " + std::to_string(expected_) + " fields of the first record");
            }
        }
    }
    const bool fewer = ends_.size() < expected_ && !options_.missing_fields_null;
    const bool more = ends_.size() > expected_ && !options_.extra_fields_ignore;
    if (fewer || more) {
        throw RecordError("line", record_line_,
                          "expected " + std::to_string(expected_) + " fields" +
                              (options_.header ? " (as in the header)" : " (as in the first record)") + ", found " +
                              std::to_string(ends_.size()) +
                              (fewer ? " (options.csv.missing_fields = 'null' makes missing trailing fields NULL)"
                                     : " (options.csv.extra_fields = 'ignore' ignores the extra fields)"),
                          RecordExcerpt());
    }
    CheckUtf8();
    for (size_t c = 0; c < columns_.size(); c++) {
        size_t i = index_[c];
        FieldValue &field = fields_[c];
        if (i >= ends_.size()) {
            // A missing trailing field (options.missing_fields_null): NULL.
            field.text = std::string_view();
            field.is_null = true;
            if (!columns_[c].nullable) {
                throw RecordError(record_line_, "column \"" + columns_[c].name + "\" is missing (the record has " +
                                                    std::to_string(ends_.size()) +
                                                    " fields), but it is declared \"nullable\": false");
            }
            continue;
        }
        field.text = FieldText(i);
        // NUL is valid UTF-8 but no PostgreSQL text can hold it (found by fuzz/fuzz_csv.cpp).
        const void *nul = field.text.empty() ? nullptr : memchr(field.text.data(), 0, field.text.size());
        if (nul != nullptr) {
            size_t at = static_cast<size_t>(static_cast<const char *>(nul) - field.text.data());
            throw RecordError("line", record_line_,
                              "column \"" + columns_[c].name + "\" (field " + std::to_string(i + 1) +
                                  ") contains a NUL byte at byte " + std::to_string(at) +
                                  ", which PostgreSQL text cannot hold",
                              Excerpt(field.text.data(), field.text.size(), at));
        }
        field.is_null = !quoted_[i] && field.text == options_.null_string;
        if (field.is_null) {
            field.text = std::string_view();
            if (!columns_[c].nullable) {
                throw RecordError(record_line_, "column \"" + columns_[c].name +
                                                    "\" is null, but it is declared \"nullable\": false");
            }
        }
    }
    converter_.ApplyFormats(fields_, "line", record_line_);
    return true;
}

CsvReader::CsvReader(ByteSource &source, std::vector<ColumnSpec> columns, CsvReaderOptions options,
                     size_t max_record_bytes)
    : impl_(new Impl(source, std::move(columns), std::move(options), max_record_bytes)) {}

CsvReader::~CsvReader() = default;

bool CsvReader::Next() {
    return impl_->Next();
}

const FieldValue &CsvReader::Field(size_t column) const {
    return impl_->fields_[column];
}

std::string_view CsvReader::SourceText(size_t column) const {
    return impl_->converter_.SourceText(column, impl_->fields_[column]);
}

size_t CsvReader::ColumnCount() const {
    return impl_->fields_.size();
}

uint64_t CsvReader::Line() const {
    return impl_->record_line_;
}

uint64_t CsvReader::BytesConsumed() const {
    return impl_->consumed_;
}

uint64_t CsvReader::PositionReached() const {
    return impl_->record_line_;  // set when a record starts to be read
}

std::string_view CsvReader::RecordText() const {
    return impl_->JoinedText();
}

void CsvReader::ReleaseRecord() noexcept {
    impl_->ReleaseRecord();
}

const std::vector<std::string> &CsvReader::Header() const {
    return impl_->header_;
}

size_t CsvReader::BufferBytes() const {
    return impl_->BufferBytes();
}

}  // namespace bulk_ingest
