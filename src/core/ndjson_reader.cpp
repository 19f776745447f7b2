// Newline-delimited JSON reader.
//
// Input: the ByteSource is read in 64 KiB blocks. A line that lies inside one block is used where it is; a line that
// spans blocks is gathered in line_buf_ (grown with realloc: see grow_buffer.h). Either way that text (the
// "pristine" line) is not modified until the next call to Next(). Each non-blank line is parsed by JsonRecordParser
// (json_record.h). A line longer than max_record_bytes fails as soon as that much of it has arrived.
#include "ndjson_reader.h"

#include <cstring>
#include <memory>
#include <string>
#include <utility>

#include "error.h"
#include "grow_buffer.h"
#include "json_record.h"

namespace bulk_ingest {

namespace {

constexpr size_t kBlockBytes = 64 * 1024;
constexpr size_t kKeepBytes = size_t(4) << 20;  // buffers larger than this are released after a long line

}  // namespace

struct NdjsonReader::Impl {
    Impl(ByteSource &source, std::vector<ColumnSpec> columns, size_t max_record_bytes)
        : source_(source),
          parser_(std::move(columns), "line"),
          max_line_bytes_(max_record_bytes),
          block_(new char[kBlockBytes]) {}

    bool Next();
    void ReleaseRecord() noexcept {
        if (line_buf_.capacity() > kKeepBytes) {
            line_buf_.release();
            line_ = nullptr;
            line_len_ = 0;
        }
        parser_.ReleaseRecord();
    }

  private:
    bool NextLine();
    void AppendToLine(const char *data, size_t len);

  public:
    ByteSource &source_;
    JsonRecordParser parser_;

    std::string_view Text() const { return line_ ? std::string_view(line_, line_len_) : std::string_view(); }

  private:
    size_t max_line_bytes_;

    // Input.
    std::unique_ptr<char[]> block_;
    size_t pos_ = 0;
    size_t end_ = 0;
    bool eof_ = false;
    GrowBuffer line_buf_;
    const char *line_ = nullptr;  // the current line, without its terminator
    size_t line_len_ = 0;

  public:
    uint64_t line_no_ = 0;      // lines seen so far
    uint64_t record_line_ = 0;  // line of the current record
    uint64_t consumed_ = 0;     // bytes through the end of the current line
};

bool NdjsonReader::Impl::Next() {
    for (;;) {
        if (!NextLine()) {
            return false;
        }
        line_no_++;
        if (line_no_ == 1 && line_len_ >= 3 && memcmp(line_, "\xEF\xBB\xBF", 3) == 0) {
            line_ += 3;  // a UTF-8 byte order mark
            line_len_ -= 3;
        }
        if (line_len_ > 0 && line_[line_len_ - 1] == '\r') {
            line_len_--;
        }
        size_t i = 0;
        while (i < line_len_ && IsJsonSpace(line_[i])) {
            i++;
        }
        if (i == line_len_) {
            continue;  // blank line
        }
        record_line_ = line_no_;
        parser_.Parse(line_, line_len_, record_line_);
        return true;
    }
}

void NdjsonReader::Impl::AppendToLine(const char *data, size_t len) {
    if (len > max_line_bytes_ - line_buf_.size()) {
        throw RecordTooLongError(line_no_ + 1, RecordTooLong("line", max_line_bytes_));
    }
    line_buf_.append(data, len);
}

// Finds the next line: sets line_ and line_len_ (without the '\n'). Returns false at the end of the input.
bool NdjsonReader::Impl::NextLine() {
    if (line_buf_.capacity() > kKeepBytes) {
        line_buf_.release();
    } else {
        line_buf_.clear();
    }
    for (;;) {
        if (pos_ < end_) {
            const char *begin = block_.get() + pos_;
            size_t avail = end_ - pos_;
            const char *nl = static_cast<const char *>(memchr(begin, '\n', avail));
            if (nl != nullptr) {
                size_t len = static_cast<size_t>(nl - begin);
                if (line_buf_.empty()) {
                    if (len > max_line_bytes_) {
                        throw RecordTooLongError(line_no_ + 1, RecordTooLong("line", max_line_bytes_));
                    }
                    line_ = begin;
                    line_len_ = len;
                } else {
                    AppendToLine(begin, len);
                    line_ = line_buf_.data();
                    line_len_ = line_buf_.size();
                }
                pos_ += len + 1;
                consumed_ += len + 1;
                return true;
            }
            AppendToLine(begin, avail);
            consumed_ += avail;
            pos_ = end_;
        }
        if (eof_) {
            if (line_buf_.empty()) {
                return false;
            }
            line_ = line_buf_.data();  // the last line has no '\n'
            line_len_ = line_buf_.size();
            return true;
        }
        size_t n = source_.Read(block_.get(), kBlockBytes);
        if (n == 0) {
            eof_ = true;
            continue;
        }
        pos_ = 0;
        end_ = n;
    }
}

NdjsonReader::NdjsonReader(ByteSource &source, std::vector<ColumnSpec> columns, size_t max_record_bytes)
    : impl_(new Impl(source, std::move(columns), max_record_bytes)) {}

NdjsonReader::~NdjsonReader() = default;

bool NdjsonReader::Next() {
    return impl_->Next();
}

const FieldValue &NdjsonReader::Field(size_t column) const {
    return impl_->parser_.Field(column);
}

std::string_view NdjsonReader::SourceText(size_t column) const {
    return impl_->parser_.SourceText(column);
}

size_t NdjsonReader::ColumnCount() const {
    return impl_->parser_.ColumnCount();
}

uint64_t NdjsonReader::Line() const {
    return impl_->record_line_;
}

uint64_t NdjsonReader::BytesConsumed() const {
    return impl_->consumed_;
}

uint64_t NdjsonReader::PositionReached() const {
    return impl_->line_no_ + 1;  // lines seen completely, and the one being read
}

std::string_view NdjsonReader::RecordText() const {
    return impl_->Text();
}

void NdjsonReader::ReleaseRecord() noexcept {
    impl_->ReleaseRecord();
}

}  // namespace bulk_ingest
