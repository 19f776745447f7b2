// The JSON record parser shared by the NDJSON and JSON readers.
//
// Design
// - Parsing: the record is checked for UTF-8, copied into parse_buf_ (one memcpy, cheap next to parsing) and parsed
//   there by RapidJSON's SAX Reader in insitu mode (with its SSE2 string scanning): strings are unescaped in place, so
//   a string value is a view into parse_buf_ and no string is copied again. Numbers and the raw JSON text of json
//   columns / objects / arrays are views into the caller's (pristine) text. Positions come from the stream: RapidJSON
//   works on our InsituStringStream itself in objects and arrays (so Tell() is exact in the Start/End handlers) and
//   on a copy inside a string or a number (so Tell() is still at the value's first byte in String/RawNumber).
// - Extraction: the declared JSON pointers form a trie. The handler keeps a stack of the trie nodes of the
//   containers it is in; a container outside every declared path is skipped by counting its depth only.
// - Numbers: kParseNumbersAsStringsFlag keeps their text. RapidJSON still refuses numbers beyond double's range
//   (1e400, a 400-digit integer) with kParseErrorNumberTooBig; such a number is replaced, in the parse copy only, by a
//   number of the same length that RapidJSON accepts, and the record is parsed again. Its value is still taken from
//   the pristine text, so it keeps every digit as written.
#include "json_record.h"

#include <algorithm>
#include <cstring>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

// This file's own copy of RapidJSON, in its own namespace, so that it may use SSE2 without making the instantiations
// of the other users of RapidJSON differ from these (an ODR violation).
#define RAPIDJSON_NAMESPACE bulk_ingest_ndjson_rapidjson
#define RAPIDJSON_NAMESPACE_BEGIN namespace bulk_ingest_ndjson_rapidjson {
#define RAPIDJSON_NAMESPACE_END }
#if defined(__SSE2__) && !defined(RAPIDJSON_SSE2)
#define RAPIDJSON_SSE2
#endif
#include <rapidjson/error/en.h>
#include <rapidjson/reader.h>

#include "error.h"
#include "text.h"
#include "value_format.h"

namespace bulk_ingest {

namespace rapidjson = ::bulk_ingest_ndjson_rapidjson;

namespace {

constexpr size_t kKeepBytes = size_t(4) << 20;  // buffers larger than this are released after a long line
constexpr size_t kPadding = 32;                 // NULs after the parse copy (RapidJSON's SSE2 scans read 16)
constexpr size_t kMaxDepth = 1000;              // nesting limit: RapidJSON's parser is recursive
constexpr size_t kLinearLookupMax = 8;          // trie nodes with more children use a hash table
constexpr uint64_t kMaxDirectIndex = 4096;      // array-index children below this are found by direct lookup

// No kParseValidateEncodingFlag: it would turn off RapidJSON's SIMD string scanning and cost a third of the time.
// The whole line is checked for UTF-8 before parsing instead (FindInvalidUtf8), which covers every string.
constexpr unsigned kParseFlags =
    rapidjson::kParseInsituFlag | rapidjson::kParseNumbersAsStringsFlag | rapidjson::kParseStopWhenDoneFlag;

inline bool IsDigit(char c) {
    return c >= '0' && c <= '9';
}

// A node of the trie of declared pointers. The root is the whole record.
struct Node {
    struct Child {
        std::string key;
        Node *node;
    };
    std::vector<Child> children;   // by reference token
    std::vector<int32_t> slots;    // open-addressing hash of children (when there are many), -1 = empty
    std::vector<Node *> by_index;  // children whose token is an array index < kMaxDirectIndex
    std::vector<std::pair<uint64_t, Node *>> big_index;  // children whose token is a larger array index
    std::vector<uint32_t> columns;                       // columns whose pointer ends here
    std::vector<uint32_t> subtree;                       // columns whose pointer ends here or below
    uint64_t seen_in = 0;  // the object (JsonRecordParser::Impl::object_serial_) in which this key was last seen
    bool HasIndexChildren() const { return !by_index.empty() || !big_index.empty(); }
};

uint64_t HashKey(const char *s, size_t len) {
    uint64_t h = 1469598103934665603ULL;  // FNV-1a
    for (size_t i = 0; i < len; i++) {
        h = (h ^ static_cast<unsigned char>(s[i])) * 1099511628211ULL;
    }
    return h;
}

}  // namespace

const char *DescribeJsonValue(char first) {
    switch (first) {
        case '{':
            return "an object";
        case '[':
            return "an array";
        case '"':
            return "a string";
        case 't':
        case 'f':
            return "a boolean";
        case 'n':
            return "null";
        default:
            return "a number";
    }
}

namespace {

// The number grammar of RFC 8259; RapidJSON's error codes.
rapidjson::ParseErrorCode ScanNumber(const char *text, size_t len, size_t offset, size_t *end) {
    size_t i = offset;
    auto at = [&](size_t k) { return k < len ? text[k] : '\0'; };
    rapidjson::ParseErrorCode code = rapidjson::kParseErrorNone;
    if (at(i) == '-') {
        i++;
    }
    if (at(i) == '0') {
        i++;
    } else if (at(i) >= '1' && at(i) <= '9') {
        while (IsDigit(at(i))) {
            i++;
        }
    } else {
        code = rapidjson::kParseErrorValueInvalid;
    }
    if (code == rapidjson::kParseErrorNone && at(i) == '.') {
        i++;
        if (!IsDigit(at(i))) {
            code = rapidjson::kParseErrorNumberMissFraction;
        }
        while (IsDigit(at(i))) {
            i++;
        }
    }
    if (code == rapidjson::kParseErrorNone && (at(i) == 'e' || at(i) == 'E')) {
        i++;
        if (at(i) == '+' || at(i) == '-') {
            i++;
        }
        if (!IsDigit(at(i))) {
            code = rapidjson::kParseErrorNumberMissExponent;
        }
        while (IsDigit(at(i))) {
            i++;
        }
    }
    *end = i;
    return code;
}

// Captures the one string of a document made of a string token.
struct StringCapture {
    std::string *out;
    bool Null() { return false; }
    bool Bool(bool) { return false; }
    bool Int(int) { return false; }
    bool Uint(unsigned) { return false; }
    bool Int64(int64_t) { return false; }
    bool Uint64(uint64_t) { return false; }
    bool Double(double) { return false; }
    bool RawNumber(const char *, rapidjson::SizeType, bool) { return false; }
    bool String(const char *str, rapidjson::SizeType length, bool) {
        out->assign(str, length);
        return true;
    }
    bool StartObject() { return false; }
    bool Key(const char *, rapidjson::SizeType, bool) { return false; }
    bool EndObject(rapidjson::SizeType) { return false; }
    bool StartArray() { return false; }
    bool EndArray(rapidjson::SizeType) { return false; }
};

}  // namespace

// An RFC 6901 array index: "0" or digits without a leading zero. Returns false for anything else.
bool JsonArrayIndex(const std::string &token, uint64_t *index) {
    if (token.empty() || token.size() > 18 || (token.size() > 1 && token[0] == '0')) {
        return false;
    }
    uint64_t value = 0;
    for (char c : token) {
        if (!IsDigit(c)) {
            return false;
        }
        value = value * 10 + static_cast<uint64_t>(c - '0');
    }
    *index = value;
    return true;
}

// Returns the offset of the first byte of text that does not start a valid UTF-8 sequence (RFC 3629: no overlong
// forms, no surrogates, nothing above U+10FFFF), or len when the whole text is valid.
size_t FindInvalidUtf8(const char *text, size_t len) {
    const unsigned char *s = reinterpret_cast<const unsigned char *>(text);
    size_t i = 0;
    while (i < len) {
#if defined(__SSE2__)
        if (i + 16 <= len && _mm_movemask_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i *>(s + i))) == 0) {
            i += 16;  // sixteen ASCII bytes
            continue;
        }
#endif
        if (i + 8 <= len) {
            uint64_t word;
            memcpy(&word, s + i, 8);
            if ((word & 0x8080808080808080ULL) == 0) {
                i += 8;  // eight ASCII bytes
                continue;
            }
        }
        unsigned char c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t n = Utf8Length(s + i, len - i);
        if (n == 0) {
            return i;
        }
        i += n;
    }
    return len;
}

size_t ScanJsonNumber(const char *text, size_t len, size_t offset, const char **error, size_t *error_at) {
    size_t end;
    rapidjson::ParseErrorCode code = ScanNumber(text, len, offset, &end);
    if (code != rapidjson::kParseErrorNone) {
        *error = rapidjson::GetParseError_En(code);
        *error_at = end;
        return 0;
    }
    return end - offset;
}

bool UnescapeJsonString(const char *token, size_t len, std::string *out, const char **error, size_t *error_at) {
    size_t bad = FindInvalidUtf8(token, len);
    if (bad < len) {
        *error = "Invalid encoding in string.";
        *error_at = bad;
        return false;
    }
    if (memchr(token, '\0', len) != nullptr) {
        *error = "Invalid encoding in string.";
        *error_at = static_cast<size_t>(static_cast<const char *>(memchr(token, '\0', len)) - token);
        return false;
    }
    // RapidJSON's SSE2 scan reads 16 bytes at a time: pad the copy (with NULs, which end the text) so that it never
    // reads past the allocation.
    std::string copy(token, len);
    copy.append(16, '\0');
    rapidjson::StringStream stream(copy.c_str());
    rapidjson::Reader reader;
    StringCapture capture{out};
    rapidjson::ParseResult result = reader.Parse<rapidjson::kParseStopWhenDoneFlag>(stream, capture);
    if (result.IsError() || stream.Tell() != len) {
        *error = result.IsError() ? rapidjson::GetParseError_En(result.Code()) : "Invalid value.";
        *error_at = result.IsError() ? result.Offset() : stream.Tell();
        return false;
    }
    return true;
}

struct JsonRecordParser::Impl {
    Impl(std::vector<ColumnSpec> columns, const char *unit);

    void Parse(const char *text, size_t len, uint64_t position);

    // RapidJSON SAX handler.
    bool Null();
    bool Bool(bool value);
    bool Int(int) { return true; }  // never called: numbers arrive as RawNumber
    bool Uint(unsigned) { return true; }
    bool Int64(int64_t) { return true; }
    bool Uint64(uint64_t) { return true; }
    bool Double(double) { return true; }
    bool RawNumber(const char *str, rapidjson::SizeType length, bool copy);
    bool String(const char *str, rapidjson::SizeType length, bool copy);
    bool StartObject();
    bool Key(const char *str, rapidjson::SizeType length, bool copy);
    bool EndObject(rapidjson::SizeType members);
    bool StartArray();
    bool EndArray(rapidjson::SizeType elements);

  private:
    struct Frame {
        Node *node;
        size_t start;         // offset of '{' or '['
        uint64_t next_index;  // arrays: index of the next element
        bool is_array;
        uint64_t serial;  // objects: a number no other object of this parser had (duplicate keys)
    };

    void BuildTrie();
    void EnsureParseCapacity(size_t need);
    size_t CheckBigNumber(size_t offset) const;
    void PatchBigNumber(size_t offset);
    [[noreturn]] void ThrowParseError(rapidjson::ParseErrorCode code, size_t offset) const;
    [[noreturn]] void ThrowNotObject(char first) const;

    Node *FindKey(const Node *node, const char *key, size_t len) const;
    Node *FindIndex(const Node *node, uint64_t index) const;
    Node *ValueNode(char first);
    void Clear(const Node *node);
    void SetString(const Node *node, const char *str, size_t len);
    size_t StringEnd(size_t start) const;
    void SetText(const Node *node, std::string_view text);
    void CheckDepth() const;

  public:
    std::vector<ColumnSpec> columns_;
    std::vector<FieldValue> fields_;
    std::vector<uint32_t> required_;  // columns with nullable = false
    const char *unit_;                // "line" or "record": how RecordErrors name the position
    ValueConverter converter_;        // arrays of array columns, formats

  private:
    std::deque<Node> nodes_;
    Node *root_ = nullptr;

    // The record being parsed (the "pristine" text, unchanged until the next Parse).
    const char *text_ = nullptr;
    size_t text_len_ = 0;
    uint64_t position_ = 0;

  public:
    // Parsing.
    std::unique_ptr<char[]> parse_buf_;
    size_t parse_cap_ = 0;

  private:
    std::vector<size_t> patches_;  // offsets of numbers beyond double's range in the current record
    rapidjson::Reader reader_;
    rapidjson::InsituStringStream *stream_ = nullptr;  // the stream being parsed (see StringEnd)
    std::vector<Frame> frames_;
    size_t skip_depth_ = 0;       // > 0: inside a container that holds no declared path
    Node *pending_ = nullptr;     // the node of the member whose key was just read
    uint64_t object_serial_ = 0;  // objects entered so far, over every record
};

JsonRecordParser::Impl::Impl(std::vector<ColumnSpec> columns, const char *unit)
    : columns_(std::move(columns)), fields_(columns_.size()), unit_(unit), converter_(columns_, true) {
    for (size_t i = 0; i < columns_.size(); i++) {
        if (!columns_[i].nullable) {
            required_.push_back(static_cast<uint32_t>(i));
        }
    }
    BuildTrie();
    frames_.reserve(16);
}

void JsonRecordParser::Impl::BuildTrie() {
    nodes_.emplace_back();
    root_ = &nodes_.back();
    for (size_t c = 0; c < columns_.size(); c++) {
        Node *node = root_;
        node->subtree.push_back(static_cast<uint32_t>(c));
        for (const std::string &token : columns_[c].pointer) {
            Node *child = nullptr;
            for (const Node::Child &existing : node->children) {
                if (existing.key == token) {
                    child = existing.node;
                }
            }
            if (child == nullptr) {
                nodes_.emplace_back();
                child = &nodes_.back();
                node->children.push_back(Node::Child{token, child});
                uint64_t index;
                if (JsonArrayIndex(token, &index)) {
                    if (index < kMaxDirectIndex) {
                        if (node->by_index.size() <= index) {
                            node->by_index.resize(index + 1, nullptr);
                        }
                        node->by_index[index] = child;
                    } else {
                        node->big_index.emplace_back(index, child);
                    }
                }
            }
            node = child;
            node->subtree.push_back(static_cast<uint32_t>(c));
        }
        node->columns.push_back(static_cast<uint32_t>(c));
    }
    for (Node &node : nodes_) {
        if (node.children.size() > kLinearLookupMax) {
            size_t size = 16;
            while (size < node.children.size() * 2) {
                size *= 2;
            }
            node.slots.assign(size, -1);
            for (size_t i = 0; i < node.children.size(); i++) {
                const std::string &key = node.children[i].key;
                size_t h = HashKey(key.data(), key.size()) & (size - 1);
                while (node.slots[h] >= 0) {
                    h = (h + 1) & (size - 1);
                }
                node.slots[h] = static_cast<int32_t>(i);
            }
        }
    }
}

void JsonRecordParser::Impl::EnsureParseCapacity(size_t need) {
    size_t cap;
    if (need > parse_cap_) {
        cap = std::max({need, parse_cap_ * 2, size_t(4096)});
    } else if (parse_cap_ > kKeepBytes && need <= kKeepBytes / 4) {
        cap = std::max(need * 2, size_t(4096));  // release the memory of an earlier long line
    } else {
        return;
    }
    parse_buf_.reset(new char[cap]);
    parse_cap_ = cap;
}

void JsonRecordParser::Impl::Parse(const char *text, size_t len, uint64_t position) {
    text_ = text;
    text_len_ = len;
    position_ = position;
    size_t bad = FindInvalidUtf8(text_, text_len_);
    if (bad < text_len_) {
        throw RecordError(unit_, position_,
                          "invalid UTF-8 at byte " + std::to_string(bad) + " (the input must be UTF-8)",
                          Excerpt(text_, text_len_, bad));
    }
    EnsureParseCapacity(text_len_ + kPadding);
    patches_.clear();
    for (;;) {
        char *buf = parse_buf_.get();
        memcpy(buf, text_, text_len_);
        memset(buf + text_len_, 0, kPadding);
        for (size_t offset : patches_) {
            PatchBigNumber(offset);
        }
        rapidjson::InsituStringStream stream(buf);
        stream_ = &stream;
        frames_.clear();
        skip_depth_ = 0;
        pending_ = nullptr;
        rapidjson::ParseResult result = reader_.Parse<kParseFlags>(stream, *this);
        if (result.IsError()) {
            if (result.Code() == rapidjson::kParseErrorNumberTooBig &&
                std::find(patches_.begin(), patches_.end(), result.Offset()) == patches_.end()) {
                CheckBigNumber(result.Offset());
                patches_.push_back(result.Offset());
                continue;
            }
            ThrowParseError(result.Code(), result.Offset());
        }
        for (size_t i = stream.Tell(); i < text_len_; i++) {
            if (!IsJsonSpace(text_[i])) {
                ThrowParseError(rapidjson::kParseErrorDocumentRootNotSingular, i);
            }
        }
        break;
    }
    converter_.ApplyFormats(fields_, unit_, position_);
    for (uint32_t c : required_) {
        if (fields_[c].is_null) {
            throw RecordError(unit_, position_,
                              "column \"" + columns_[c].name + "\" is null, but it is declared \"nullable\": false");
        }
    }
}

// Validates the number at offset of the pristine text (RapidJSON stopped at it before its end) and returns its
// length. Throws the error RapidJSON would have reported for a malformed one.
size_t JsonRecordParser::Impl::CheckBigNumber(size_t offset) const {
    size_t end;
    rapidjson::ParseErrorCode code = ScanNumber(text_, text_len_, offset, &end);
    if (code != rapidjson::kParseErrorNone) {
        ThrowParseError(code, end);
    }
    return end - offset;
}

// Rewrites the (valid) number at offset in the parse copy into one of the same length within double's range:
// "12345.67e400" -> "1.34506e000". Only the parse copy changes; the value is read from the pristine line.
void JsonRecordParser::Impl::PatchBigNumber(size_t offset) {
    char *p = parse_buf_.get() + offset;
    char *end = p + CheckBigNumber(offset);
    if (*p == '-') {
        p++;
    }
    char *int_end = p;
    while (int_end < end && IsDigit(*int_end)) {
        int_end++;
    }
    bool shortened = int_end - p >= 3;
    if (shortened) {
        p[1] = '.';  // d.ddd: at most one digit before the point
    }
    for (char *q = int_end; q < end; q++) {
        if (*q == '.' && shortened) {
            *q = '0';
        } else if (*q == 'e' || *q == 'E') {
            for (q++; q < end; q++) {
                if (IsDigit(*q)) {
                    *q = '0';  // exponent 0
                }
            }
            break;
        }
    }
}

void JsonRecordParser::Impl::ThrowParseError(rapidjson::ParseErrorCode code, size_t offset) const {
    throw RecordError(unit_, position_,
                      "invalid JSON at byte " + std::to_string(offset) + ": " + rapidjson::GetParseError_En(code),
                      Excerpt(text_, text_len_, offset));
}

void JsonRecordParser::Impl::ThrowNotObject(char first) const {
    throw RecordError(unit_, position_, std::string("expected a JSON object, found ") + DescribeJsonValue(first),
                      Excerpt(text_, text_len_, 0));
}

void JsonRecordParser::Impl::CheckDepth() const {
    if (frames_.size() + skip_depth_ > kMaxDepth) {
        throw RecordError(unit_, position_,
                          "invalid JSON at byte " + std::to_string(stream_->Tell() - 1) + ": nested deeper than " +
                              std::to_string(kMaxDepth) + " levels");
    }
}

Node *JsonRecordParser::Impl::FindKey(const Node *node, const char *key, size_t len) const {
    if (node->slots.empty()) {
        for (const Node::Child &child : node->children) {
            if (child.key.size() == len && memcmp(child.key.data(), key, len) == 0) {
                return child.node;
            }
        }
        return nullptr;
    }
    size_t mask = node->slots.size() - 1;
    for (size_t h = HashKey(key, len) & mask;; h = (h + 1) & mask) {
        int32_t i = node->slots[h];
        if (i < 0) {
            return nullptr;
        }
        const Node::Child &child = node->children[static_cast<size_t>(i)];
        if (child.key.size() == len && memcmp(child.key.data(), key, len) == 0) {
            return child.node;
        }
    }
}

Node *JsonRecordParser::Impl::FindIndex(const Node *node, uint64_t index) const {
    if (index < node->by_index.size()) {
        return node->by_index[index];
    }
    for (const auto &entry : node->big_index) {
        if (entry.first == index) {
            return entry.second;
        }
    }
    return nullptr;
}

// The trie node of the value that starts now (nullptr: not declared), when not skipping. first is the value's
// first character, to name it when a line's top-level value is not an object.
inline Node *JsonRecordParser::Impl::ValueNode(char first) {
    if (frames_.empty()) {
        if (first != '{') {
            ThrowNotObject(first);
        }
        return root_;
    }
    Frame &frame = frames_.back();
    if (!frame.is_array) {
        return pending_;
    }
    return FindIndex(frame.node, frame.next_index++);
}

// A value replaces whatever an earlier duplicate key gave this node and everything below it.
inline void JsonRecordParser::Impl::Clear(const Node *node) {
    for (uint32_t c : node->subtree) {
        fields_[c].is_null = true;
        fields_[c].text = std::string_view();
    }
}

inline void JsonRecordParser::Impl::SetText(const Node *node, std::string_view text) {
    for (uint32_t c : node->columns) {
        fields_[c].is_null = false;
        fields_[c].text = text;
    }
}

bool JsonRecordParser::Impl::Null() {
    if (skip_depth_ > 0) {
        return true;
    }
    Node *node = ValueNode('n');
    if (node != nullptr) {
        Clear(node);
    }
    return true;
}

bool JsonRecordParser::Impl::Bool(bool value) {
    if (skip_depth_ > 0) {
        return true;
    }
    Node *node = ValueNode(value ? 't' : 'f');
    if (node != nullptr) {
        Clear(node);
        SetText(node, value ? std::string_view("true", 4) : std::string_view("false", 5));
    }
    return true;
}

bool JsonRecordParser::Impl::RawNumber(const char *str, rapidjson::SizeType length, bool) {
    if (skip_depth_ > 0) {
        return true;
    }
    Node *node = ValueNode('0');
    if (node != nullptr) {
        Clear(node);
        // str is where the number starts in the parse copy; its text is taken from the pristine line, which a
        // patched number (see PatchBigNumber) does not change.
        SetText(node, std::string_view(text_ + (str - parse_buf_.get()), length));
    }
    return true;
}

bool JsonRecordParser::Impl::String(const char *str, rapidjson::SizeType length, bool) {
    if (skip_depth_ > 0) {
        return true;
    }
    Node *node = ValueNode('"');
    if (node != nullptr) {
        Clear(node);
        SetString(node, str, length);
    }
    return true;
}

void JsonRecordParser::Impl::SetString(const Node *node, const char *str, size_t len) {
    // RapidJSON parses a string on a copy of the stream and updates stream_ afterwards: stream_ is still at the
    // opening quote.
    size_t start = stream_->Tell();
    for (uint32_t c : node->columns) {
        FieldValue &field = fields_[c];
        field.is_null = false;
        if (columns_[c].json) {
            field.text = std::string_view(text_ + start, StringEnd(start) - start);
            continue;
        }
        // A string without escapes has no backslash in its first len bytes; one with escapes does (the text
        // before the first escape is the same in both, and each escape decodes to at least one byte).
        if (memchr(text_ + start + 1, '\\', len) != nullptr) {
            // Escapes can produce what UTF-8 text cannot hold: NUL (\u0000) and a lone low surrogate (\udc00,
            // which RapidJSON encodes as ED B0 80). Say so here rather than let COPY fail on the bytes.
            for (size_t i = 0; i < len; i++) {
                unsigned char b = static_cast<unsigned char>(str[i]);
                if (b == 0) {
                    throw RecordError(unit_, position_,
                                      "column \"" + columns_[c].name + "\": the string at byte " +
                                          std::to_string(start) +
                                          " contains \\u0000, which PostgreSQL text cannot hold",
                                      Excerpt(text_, text_len_, start));
                }
                if (b == 0xED && i + 1 < len && static_cast<unsigned char>(str[i + 1]) >= 0xA0) {
                    ThrowParseError(rapidjson::kParseErrorStringUnicodeSurrogateInvalid, start);
                }
            }
        }
        field.text = std::string_view(str, len);
    }
}

// The offset just after the closing quote of the (valid) string whose opening quote is at start.
size_t JsonRecordParser::Impl::StringEnd(size_t start) const {
    size_t i = start + 1;
    while (text_[i] != '"') {
        i += text_[i] == '\\' ? 2 : 1;
    }
    return i + 1;
}

bool JsonRecordParser::Impl::StartObject() {
    if (skip_depth_ > 0) {
        skip_depth_++;
        CheckDepth();
        return true;
    }
    Node *node = ValueNode('{');
    if (node == nullptr) {
        skip_depth_ = 1;
        CheckDepth();
        return true;
    }
    Clear(node);
    frames_.push_back(Frame{node, stream_->Tell() - 1, 0, false, ++object_serial_});
    CheckDepth();
    return true;
}

bool JsonRecordParser::Impl::Key(const char *str, rapidjson::SizeType length, bool) {
    if (skip_depth_ == 0) {
        const Frame &frame = frames_.back();
        pending_ = FindKey(frame.node, str, length);
        if (pending_ != nullptr) {
            if (pending_->seen_in == frame.serial) {
                // RapidJSON reads a key on a copy of the stream: stream_ is still at its opening quote.
                throw RecordError(unit_, position_,
                                  "invalid JSON at byte " + std::to_string(stream_->Tell()) + ": the key \"" +
                                      std::string(str, length) +
                                      "\" occurs more than once in one object (which value is meant is unknown)",
                                  Excerpt(text_, text_len_, stream_->Tell()));
            }
            pending_->seen_in = frame.serial;
        }
    }
    return true;
}

bool JsonRecordParser::Impl::EndObject(rapidjson::SizeType) {
    if (skip_depth_ > 0) {
        skip_depth_--;
        return true;
    }
    const Frame &frame = frames_.back();
    if (!frame.node->columns.empty()) {
        SetText(frame.node, std::string_view(text_ + frame.start, stream_->Tell() - frame.start));
    }
    frames_.pop_back();
    return true;
}

bool JsonRecordParser::Impl::StartArray() {
    if (skip_depth_ > 0) {
        skip_depth_++;
        CheckDepth();
        return true;
    }
    Node *node = ValueNode('[');
    if (node != nullptr) {
        Clear(node);
    }
    if (node == nullptr || (node->columns.empty() && !node->HasIndexChildren())) {
        skip_depth_ = 1;
        CheckDepth();
        return true;
    }
    frames_.push_back(Frame{node, stream_->Tell() - 1, 0, true, 0});
    CheckDepth();
    return true;
}

bool JsonRecordParser::Impl::EndArray(rapidjson::SizeType) {
    if (skip_depth_ > 0) {
        skip_depth_--;
        return true;
    }
    const Frame &frame = frames_.back();
    if (!frame.node->columns.empty()) {
        // The array's JSON text, or (array columns) the PostgreSQL array literal made of it.
        std::string_view json(text_ + frame.start, stream_->Tell() - frame.start);
        for (uint32_t c : frame.node->columns) {
            fields_[c].is_null = false;
            fields_[c].text = converter_.ConvertsArrays(c) ? converter_.ConvertArray(c, json, unit_, position_) : json;
        }
    }
    frames_.pop_back();
    return true;
}
JsonRecordParser::JsonRecordParser(std::vector<ColumnSpec> columns, const char *unit)
    : impl_(new Impl(std::move(columns), unit)) {
    fields_ = &impl_->fields_;
}

JsonRecordParser::~JsonRecordParser() = default;

void JsonRecordParser::Parse(const char *text, size_t len, uint64_t position) {
    impl_->Parse(text, len, position);
}

std::string_view JsonRecordParser::SourceText(size_t column) const {
    return impl_->converter_.SourceText(column, (*fields_)[column]);
}

const std::vector<ColumnSpec> &JsonRecordParser::Columns() const {
    return impl_->columns_;
}

size_t JsonRecordParser::BufferBytes() const {
    return impl_->parse_cap_;
}

void JsonRecordParser::ReleaseRecord() noexcept {
    if (impl_->parse_cap_ > kKeepBytes) {
        impl_->parse_buf_.reset();
        impl_->parse_cap_ = 0;
    }
}

}  // namespace bulk_ingest
