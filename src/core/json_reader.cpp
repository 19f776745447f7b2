// JSON document reader (format "json").
//
// Design
// - The document's skeleton (everything but the records) is read by a small pull tokenizer with an explicit stack,
//   so that Next() can stop after each record: the RapidJSON release this builds against (1.1.0) has no pull API
//   (IterativeParseNext), and its push parser cannot return from the middle of a document. Strings of the skeleton
//   are checked and unescaped by RapidJSON (UnescapeJsonString) and numbers by the JSON number grammar, so the whole
//   document is validated.
// - Each element of the records array is captured whole by a bracket scanner that knows strings and escapes (it
//   looks for the next bracket or quote sixteen bytes at a time: byte_set.h): a record inside one 64 KiB read block
//   is used where it is, one that spans blocks is gathered in record_buf_. The record is then parsed and validated by
//   JsonRecordParser (RapidJSON SAX, insitu), exactly as an NDJSON line is.
// - Memory: the read block, the largest record (or skeleton string) seen recently, and the parser's copy of it.
#include "json_reader.h"

#include <cstring>
#include <deque>
#include <string>
#include <utility>

#include "byte_set.h"
#include "error.h"
#include "grow_buffer.h"
#include "json_pointer.h"
#include "json_record.h"

namespace bulk_ingest {

namespace {

constexpr size_t kBlockBytes = 64 * 1024;
constexpr size_t kKeepBytes = size_t(4) << 20;  // buffers larger than this are released after a long record
constexpr size_t kMaxDepth = 1000;              // nesting limit of the skeleton

// Bytes that matter to the record scanner: outside strings and inside them.
const ByteSet<5> kStructural{'"', '{', '[', '}', ']'};
const ByteSet<2> kInString{'"', '\\'};

bool IsBareChar(int c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-' || c == '+' ||
           c == '.';
}

void ReleaseIfLarge(std::string &buf) {
    if (buf.capacity() > kKeepBytes) {
        std::string().swap(buf);
    } else {
        buf.clear();
    }
}

// A node of the trie of the document pointers (records_path and metadata_paths). The root is the document.
struct OuterNode {
    std::vector<std::pair<std::string, OuterNode *>> children;
    std::vector<size_t> metadata;  // indexes of the metadata paths that end here
    bool records = false;          // records_path ends here
};

}  // namespace

struct JsonReader::Impl {
    Impl(ByteSource &source, std::vector<ColumnSpec> columns, JsonReaderOptions options, size_t max_record_bytes);
    std::string_view RecordText() const {
        return record_ != nullptr ? std::string_view(record_, record_len_) : std::string_view();
    }
    void ReleaseRecord() noexcept {
        if (record_buf_.capacity() > kKeepBytes) {
            record_buf_.release();
            record_ = nullptr;
            record_len_ = 0;
        }
        parser_.ReleaseRecord();
    }

    bool Next();
    size_t BufferBytes() const {
        return kBlockBytes + record_buf_.capacity() + token_.capacity() + parser_.BufferBytes() +
               frames_.capacity() * sizeof(Frame) + brackets_.capacity();
    }

    ByteSource &source_;
    JsonRecordParser parser_;
    JsonReaderOptions options_;
    std::vector<std::optional<std::string>> metadata_;
    uint64_t record_no_ = 0;  // records seen so far: the current one's index
    bool capturing_ = false;  // reading the text of record record_no_ (not yet complete)
    uint64_t consumed_ = 0;   // bytes through the end of the current record

  private:
    enum class State { kStart, kValue, kValueOrEnd, kKeyOrEnd, kKey, kColon, kCommaOrEnd, kDone, kFinished };
    struct Frame {
        OuterNode *node;  // nullptr: nothing declared below
        bool is_array;
        uint64_t next_index;
        bool records;
    };

    bool Step();
    int Peek() {
        if (pos_ == end_ && !Fill()) {
            return -1;
        }
        return static_cast<unsigned char>(block_[pos_]);
    }
    bool Fill();
    uint64_t Offset() const { return base_ + pos_; }
    void SkipSpace();
    void ReadValue(int c, OuterNode *node);
    void ReadString();
    void ReadBare();
    void AppendToken(const char *data, size_t len);
    void CaptureRecord();
    void ValueDone() { state_ = frames_.empty() ? State::kDone : State::kCommaOrEnd; }
    OuterNode *Child(const OuterNode *node, bool is_array, uint64_t index) const;
    [[noreturn]] void Fail(const std::string &message, uint64_t at) const;
    [[noreturn]] void Fail(const std::string &message) const { Fail(message, Offset()); }

    std::deque<OuterNode> nodes_;
    OuterNode *root_ = nullptr;

    // Input.
    std::unique_ptr<char[]> block_;
    size_t pos_ = 0;
    size_t end_ = 0;
    uint64_t base_ = 0;  // document offset of block_[0]
    bool eof_ = false;
    size_t max_record_bytes_;
    GrowBuffer record_buf_;         // a record that spans read blocks
    std::string token_;             // the current skeleton string or bare token, as written
    std::vector<char> brackets_;    // the open brackets of the record being captured
    const char *record_ = nullptr;  // the captured record: in block_ or record_buf_
    size_t record_len_ = 0;

    // Skeleton.
    State state_ = State::kStart;
    std::vector<Frame> frames_;
    OuterNode *pending_ = nullptr;  // the node of the member whose key was just read
    bool records_seen_ = false;

  public:
    std::string failed_;  // the message of the error that stopped the reader, if any
};

JsonReader::Impl::Impl(ByteSource &source, std::vector<ColumnSpec> columns, JsonReaderOptions options,
                       size_t max_record_bytes)
    : source_(source),
      parser_(std::move(columns), "record"),
      options_(std::move(options)),
      metadata_(options_.metadata_paths.size()),
      block_(new char[kBlockBytes]),
      max_record_bytes_(max_record_bytes) {
    nodes_.emplace_back();
    root_ = &nodes_.back();
    auto insert = [&](const std::vector<std::string> &tokens) {
        OuterNode *node = root_;
        for (const std::string &token : tokens) {
            OuterNode *child = nullptr;
            for (const auto &existing : node->children) {
                if (existing.first == token) {
                    child = existing.second;
                }
            }
            if (child == nullptr) {
                nodes_.emplace_back();
                child = &nodes_.back();
                node->children.emplace_back(token, child);
            }
            node = child;
        }
        return node;
    };
    std::vector<std::string> records = ParseJsonPointer(options_.records_path);
    insert(records)->records = true;
    for (size_t i = 0; i < options_.metadata_paths.size(); i++) {
        const std::string &path = options_.metadata_paths[i];
        std::vector<std::string> tokens = ParseJsonPointer(path);
        size_t common = std::min(tokens.size(), records.size());
        if (std::equal(tokens.begin(), tokens.begin() + static_cast<ptrdiff_t>(common), records.begin())) {
            throw Error("metadata path \"" + path + "\" overlaps records_path \"" + options_.records_path +
                        "\": it must point to a value outside the records");
        }
        insert(tokens)->metadata.push_back(i);
    }
    frames_.reserve(16);
}

bool JsonReader::Impl::Fill() {
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

void JsonReader::Impl::Fail(const std::string &message, uint64_t at) const {
    std::string where = record_no_ > 0 ? " (after record " + std::to_string(record_no_) + ")" : "";
    throw Error("invalid JSON at byte " + std::to_string(at) + where + ": " + message);
}

void JsonReader::Impl::SkipSpace() {
    for (;;) {
        while (pos_ < end_ && IsJsonSpace(block_[pos_])) {
            pos_++;
        }
        if (pos_ < end_ || !Fill()) {
            return;
        }
    }
}

OuterNode *JsonReader::Impl::Child(const OuterNode *node, bool is_array, uint64_t index) const {
    if (node == nullptr) {
        return nullptr;
    }
    for (const auto &child : node->children) {
        uint64_t i;
        if (is_array ? (JsonArrayIndex(child.first, &i) && i == index) : child.first == token_) {
            return child.second;
        }
    }
    return nullptr;
}

bool JsonReader::Impl::Next() {
    if (!failed_.empty()) {
        throw Error(failed_);
    }
    bool have;
    try {
        have = Step();
    } catch (const Error &e) {
        failed_ = e.what();
        throw;
    }
    if (!have) {
        return false;
    }
    // A record that is not valid is reported, but the skeleton is intact: the next call reads the next record.
    consumed_ = Offset();
    parser_.Parse(record_, record_len_, record_no_);
    return true;
}

// Reads the skeleton up to the next record and captures it (returns true), or to the end of the document.
bool JsonReader::Impl::Step() {
    for (;;) {
        if (state_ == State::kStart) {
            if (Peek() == 0xEF) {  // a UTF-8 byte order mark
                for (int expected : {0xEF, 0xBB, 0xBF}) {
                    if (Peek() != expected) {
                        Fail("Invalid value.");
                    }
                    pos_++;
                }
            }
            SkipSpace();
            if (Peek() < 0) {
                throw Error("the JSON document is empty");
            }
            state_ = State::kValue;
        }
        SkipSpace();
        int c = Peek();
        if (c < 0 && state_ != State::kDone && state_ != State::kFinished) {
            Fail("the document ends early (truncated?)");
        }
        switch (state_) {
            case State::kFinished:
                return false;
            case State::kDone:
                if (c >= 0) {
                    Fail("The document root must not be followed by other values.");
                }
                consumed_ = Offset();
                state_ = State::kFinished;
                if (!records_seen_) {
                    throw Error("records_path \"" + options_.records_path + "\" is not in the JSON document");
                }
                return false;
            case State::kValueOrEnd:
                if (c == ']') {
                    pos_++;
                    frames_.pop_back();
                    ValueDone();
                    continue;
                }
                [[fallthrough]];
            case State::kValue: {
                OuterNode *node;
                if (frames_.empty()) {
                    node = root_;
                } else if (!frames_.back().is_array) {
                    node = pending_;
                } else if (frames_.back().records) {
                    record_no_++;
                    if (c != '{') {
                        // The skeleton cannot step over a value it did not read: the reader stops here.
                        throw FatalRecordError(
                            "record", record_no_,
                            std::string("expected a JSON object, found ") + DescribeJsonValue(static_cast<char>(c)));
                    }
                    capturing_ = true;
                    CaptureRecord();
                    capturing_ = false;
                    state_ = State::kCommaOrEnd;
                    return true;
                } else {
                    Frame &frame = frames_.back();
                    node = Child(frame.node, true, frame.next_index++);
                }
                ReadValue(c, node);
                continue;
            }
            case State::kKeyOrEnd:
                if (c == '}') {
                    pos_++;
                    frames_.pop_back();
                    ValueDone();
                    continue;
                }
                [[fallthrough]];
            case State::kKey:
                if (c != '"') {
                    Fail("Missing a name for object member.");
                }
                ReadString();
                pending_ = Child(frames_.back().node, false, 0);
                state_ = State::kColon;
                continue;
            case State::kColon:
                if (c != ':') {
                    Fail("Missing a colon after a name of object member.");
                }
                pos_++;
                state_ = State::kValue;
                continue;
            case State::kCommaOrEnd: {
                bool is_array = frames_.back().is_array;
                if (c == ',') {
                    pos_++;
                    state_ = is_array ? State::kValue : State::kKey;
                    continue;
                }
                if (c == (is_array ? ']' : '}')) {
                    pos_++;
                    frames_.pop_back();
                    ValueDone();
                    continue;
                }
                Fail(is_array ? "Missing a comma or ']' after an array element."
                              : "Missing a comma or '}' after an object member.");
            }
            case State::kStart:
                break;
        }
    }
}

// Reads a value of the skeleton (not a record) that starts with c; node is its trie node (nullptr: not declared).
void JsonReader::Impl::ReadValue(int c, OuterNode *node) {
    if (node != nullptr && node->records) {
        if (c != '[') {
            throw Error("records_path \"" + options_.records_path + "\" is " + DescribeJsonValue(static_cast<char>(c)) +
                        " in the JSON document, not an array");
        }
        if (records_seen_) {
            throw Error("records_path \"" + options_.records_path + "\" occurs twice in the JSON document");
        }
        records_seen_ = true;
    }
    if (node != nullptr && !node->metadata.empty() && (c == '{' || c == '[')) {
        throw Error("metadata path \"" + options_.metadata_paths[node->metadata[0]] + "\" is " +
                    DescribeJsonValue(static_cast<char>(c)) +
                    " in the JSON document; it must be a string, a number or a boolean");
    }
    std::optional<std::string> value;
    switch (c) {
        case '{':
        case '[':
            if (frames_.size() >= kMaxDepth) {
                Fail("nested deeper than " + std::to_string(kMaxDepth) + " levels");
            }
            pos_++;
            frames_.push_back(Frame{node != nullptr && !node->children.empty() ? node : nullptr, c == '[', 0,
                                    node != nullptr && node->records});
            state_ = c == '[' ? State::kValueOrEnd : State::kKeyOrEnd;
            return;
        case '"':
            ReadString();
            value = token_;
            break;
        case 't':
        case 'f':
        case 'n': {
            uint64_t at = Offset();
            ReadBare();
            if (token_ != "true" && token_ != "false" && token_ != "null") {
                Fail("Invalid value.", at);
            }
            if (token_ != "null") {
                value = token_;
            }
            break;
        }
        default: {
            if (c != '-' && (c < '0' || c > '9')) {
                Fail("Invalid value.");
            }
            uint64_t at = Offset();
            ReadBare();
            const char *error = nullptr;
            size_t error_at = 0;
            size_t len = ScanJsonNumber(token_.data(), token_.size(), 0, &error, &error_at);
            if (len == 0) {
                Fail(error, at + error_at);
            }
            if (len != token_.size()) {
                Fail("Invalid value.", at + len);
            }
            value = token_;
            break;
        }
    }
    if (node != nullptr) {
        for (size_t i : node->metadata) {
            metadata_[i] = value;
        }
    }
    ValueDone();
}

void JsonReader::Impl::AppendToken(const char *data, size_t len) {
    if (len > max_record_bytes_ - token_.size()) {
        Fail("a value of the document outside the records is longer than " + FormatBytes(max_record_bytes_) +
             ", the largest record allowed (bulk_ingest.max_record_size)");
    }
    token_.append(data, len);
}

// Reads the string token at the current position; leaves its unescaped value in token_.
void JsonReader::Impl::ReadString() {
    uint64_t at = Offset();
    ReleaseIfLarge(token_);
    token_ += '"';
    pos_++;
    bool escaped = false;
    for (;;) {
        if (pos_ == end_ && !Fill()) {
            Fail("Missing a closing quotation mark in string.", at);
        }
        size_t start = pos_;
        bool closed = false;
        while (pos_ < end_) {
            char ch = block_[pos_++];
            if (escaped) {
                escaped = false;
            } else if (ch == '\\') {
                escaped = true;
            } else if (ch == '"') {
                closed = true;
                break;
            }
        }
        AppendToken(block_.get() + start, pos_ - start);
        if (closed) {
            break;
        }
    }
    std::string raw;
    raw.swap(token_);
    const char *error = nullptr;
    size_t error_at = 0;
    if (!UnescapeJsonString(raw.data(), raw.size(), &token_, &error, &error_at)) {
        Fail(error, at + error_at);
    }
}

// Reads a number or literal token at the current position into token_ (as written).
void JsonReader::Impl::ReadBare() {
    ReleaseIfLarge(token_);
    for (;;) {
        if (pos_ == end_ && !Fill()) {
            return;
        }
        size_t start = pos_;
        while (pos_ < end_ && IsBareChar(static_cast<unsigned char>(block_[pos_]))) {
            pos_++;
        }
        AppendToken(block_.get() + start, pos_ - start);
        if (pos_ < end_) {
            return;
        }
    }
}

// Captures the record (an object) at the current position, through its closing bracket, and parses it.
void JsonReader::Impl::CaptureRecord() {
    if (record_buf_.capacity() > kKeepBytes) {
        record_buf_.release();
    } else {
        record_buf_.clear();
    }
    brackets_.clear();
    bool in_string = false;
    bool escaped = false;
    size_t start = pos_;
    for (;;) {
        const unsigned char *p = reinterpret_cast<const unsigned char *>(block_.get()) + pos_;
        const unsigned char *e = reinterpret_cast<const unsigned char *>(block_.get()) + end_;
        bool done = false;
        while (p < e) {
            if (in_string) {
                if (escaped) {
                    escaped = false;
                    p++;
                    continue;
                }
                p = reinterpret_cast<const unsigned char *>(
                    kInString.Find(reinterpret_cast<const char *>(p), reinterpret_cast<const char *>(e)));
                if (p == e) {
                    break;
                }
                if (*p == '"') {
                    in_string = false;
                } else {
                    escaped = true;
                }
                p++;
                continue;
            }
            p = reinterpret_cast<const unsigned char *>(
                kStructural.Find(reinterpret_cast<const char *>(p), reinterpret_cast<const char *>(e)));
            if (p == e) {
                break;
            }
            unsigned char ch = *p++;
            if (ch == '"') {
                in_string = true;
            } else if (ch == '{' || ch == '[') {
                brackets_.push_back(static_cast<char>(ch));
            } else if (brackets_.back() != (ch == '}' ? '{' : '[') || (brackets_.pop_back(), brackets_.empty())) {
                // The record's closing bracket, or a mismatched one: the record ends here (the parser says what is
                // wrong with a mismatched one, and the next record can still be read).
                done = true;
                break;
            }
        }
        pos_ = static_cast<size_t>(p - reinterpret_cast<const unsigned char *>(block_.get()));
        if (done) {
            break;
        }
        if (pos_ - start > max_record_bytes_ - record_buf_.size()) {
            throw RecordTooLongError("record", record_no_, RecordTooLong("record", max_record_bytes_));
        }
        record_buf_.append(block_.get() + start, pos_ - start);
        if (!Fill()) {
            throw Error("invalid JSON at byte " + std::to_string(Offset()) + ": the document ends inside record " +
                        std::to_string(record_no_) + " (truncated?)");
        }
        start = 0;
    }
    const char *text;
    size_t len;
    if (pos_ - start > max_record_bytes_ - record_buf_.size()) {
        throw RecordTooLongError("record", record_no_, RecordTooLong("record", max_record_bytes_));
    }
    if (record_buf_.empty()) {
        text = block_.get() + start;
        len = pos_ - start;
    } else {
        record_buf_.append(block_.get() + start, pos_ - start);
        text = record_buf_.data();
        len = record_buf_.size();
    }
    record_ = text;
    record_len_ = len;
}

JsonReader::JsonReader(ByteSource &source, std::vector<ColumnSpec> columns, JsonReaderOptions options,
                       size_t max_record_bytes)
    : impl_(new Impl(source, std::move(columns), std::move(options), max_record_bytes)) {}

JsonReader::~JsonReader() = default;

bool JsonReader::Next() {
    return impl_->Next();
}

const FieldValue &JsonReader::Field(size_t column) const {
    return impl_->parser_.Field(column);
}

std::string_view JsonReader::SourceText(size_t column) const {
    return impl_->parser_.SourceText(column);
}

size_t JsonReader::ColumnCount() const {
    return impl_->parser_.ColumnCount();
}

uint64_t JsonReader::Line() const {
    return impl_->record_no_;
}

uint64_t JsonReader::BytesConsumed() const {
    return impl_->consumed_;
}

uint64_t JsonReader::PositionReached() const {
    return impl_->capturing_ ? impl_->record_no_ : impl_->record_no_ + 1;
}

std::string_view JsonReader::RecordText() const {
    return impl_->RecordText();
}

void JsonReader::ReleaseRecord() noexcept {
    impl_->ReleaseRecord();
}

const std::optional<std::string> &JsonReader::Metadata(size_t i) const {
    return impl_->metadata_[i];
}

size_t JsonReader::BufferBytes() const {
    return impl_->BufferBytes();
}

}  // namespace bulk_ingest
