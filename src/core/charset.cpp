#include "charset.h"

#include <iconv.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <type_traits>
#include <utility>

#include "error.h"
#include "text.h"

namespace bulk_ingest {

static_assert(std::is_same_v<iconv_t, void *>, "TranscodingSource keeps the iconv_t as a void *");

namespace {

bool IsSpace(char c) {
    return c == ' ' || c == '\t';
}

// charset as it may appear in a message: printable ASCII, at most 64 characters (it comes from the server).
std::string Printable(const std::string &charset) {
    std::string out;
    for (char c : charset) {
        if (out.size() >= 64) {
            out += "...";
            break;
        }
        out += (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') ? c : '?';
    }
    return out;
}

// A charset name (RFC 2978 mime-charset-chars, less the characters iconv gives a meaning such as "//IGNORE").
bool IsPlausibleCharsetName(const std::string &charset) {
    if (charset.empty() || charset.size() > 64) {
        return false;
    }
    for (char c : charset) {
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
                  c == '.' || c == ':' || c == '+' || c == '(' || c == ')';
        if (!ok) {
            return false;
        }
    }
    return true;
}

}  // namespace

std::optional<std::string> CharsetFromContentType(const std::string &content_type) {
    const size_t n = content_type.size();
    size_t i = content_type.find(';');
    while (i != std::string::npos && i < n) {
        ++i;  // past ';'
        while (i < n && IsSpace(content_type[i])) {
            ++i;
        }
        size_t name_start = i;
        while (i < n && content_type[i] != '=' && content_type[i] != ';') {
            ++i;
        }
        size_t name_end = i;
        while (name_end > name_start && IsSpace(content_type[name_end - 1])) {
            --name_end;
        }
        std::string name = AsciiLowerCase(content_type.substr(name_start, name_end - name_start));
        if (i >= n || content_type[i] == ';') {
            continue;  // a parameter without a value
        }
        ++i;  // past '='
        while (i < n && IsSpace(content_type[i])) {
            ++i;
        }
        std::string value;
        if (i < n && content_type[i] == '"') {
            ++i;
            while (i < n && content_type[i] != '"') {
                if (content_type[i] == '\\' && i + 1 < n) {
                    ++i;
                }
                value += content_type[i++];
            }
            if (i < n) {
                ++i;  // past the closing quote
            }
            while (i < n && content_type[i] != ';') {
                ++i;
            }
        } else {
            size_t value_start = i;
            while (i < n && content_type[i] != ';') {
                ++i;
            }
            size_t value_end = i;
            while (value_end > value_start && IsSpace(content_type[value_end - 1])) {
                --value_end;
            }
            value = content_type.substr(value_start, value_end - value_start);
        }
        if (name == "charset") {
            if (value.empty()) {
                return std::nullopt;
            }
            return value;
        }
    }
    return std::nullopt;
}

bool IsUtf8Charset(const std::string &charset) {
    std::string lower = AsciiLowerCase(charset);
    return lower == "utf-8" || lower == "utf8" || lower == "us-ascii";
}

TranscodingSource::TranscodingSource(ByteSource &inner, std::string charset)
    : inner_(inner), charset_(std::move(charset)), cd_(reinterpret_cast<void *>(-1)) {
    if (IsPlausibleCharsetName(charset_)) {
        cd_ = iconv_open("UTF-8", charset_.c_str());
    }
    if (cd_ == reinterpret_cast<void *>(-1)) {
        throw Error("unknown charset \"" + Printable(charset_) + "\" in the response's Content-Type");
    }
    in_.resize(kInputBufferSize);
    out_.resize(kOutputBufferSize);
}

TranscodingSource::~TranscodingSource() {
    iconv_close(static_cast<iconv_t>(cd_));
}

void TranscodingSource::ThrowInvalid(size_t offset_in_buffer, size_t available, bool at_end) const {
    uint64_t offset = consumed_ + (offset_in_buffer - in_pos_);
    std::string bytes;
    for (size_t k = 0; k < available && k < 4; ++k) {
        char hex[8];
        snprintf(hex, sizeof hex, "%s0x%02x", k ? " " : "", static_cast<unsigned char>(in_[offset_in_buffer + k]));
        bytes += hex;
    }
    throw Error(std::string(at_end ? "incomplete byte sequence at the end of the response body"
                                   : "invalid byte sequence in the response body") +
                " for charset \"" + Printable(charset_) + "\" at byte " + std::to_string(offset) + " (" + bytes + ")");
}

// Converts as much of in_[in_pos_, in_len_) into out_ (empty) as fits; stops at an incomplete sequence.
void TranscodingSource::Convert() {
    char *in = &in_[in_pos_];
    size_t in_left = in_len_ - in_pos_;
    char *out = &out_[0];
    size_t out_left = out_.size();
    size_t rc = iconv(static_cast<iconv_t>(cd_), &in, &in_left, &out, &out_left);
    int err = errno;
    size_t new_pos = in_len_ - in_left;
    out_len_ = out_.size() - out_left;
    if (rc == static_cast<size_t>(-1) && err == EILSEQ) {
        ThrowInvalid(new_pos, in_left, false);
    }
    // EINVAL (an incomplete sequence at the end: kept for the next read) and E2BIG (out_ full) are progress.
    consumed_ += new_pos - in_pos_;
    in_pos_ = new_pos;
}

// The end of the input: the shift sequence of a stateful encoding, if any.
void TranscodingSource::Flush() {
    char *out = &out_[0];
    size_t out_left = out_.size();
    iconv(static_cast<iconv_t>(cd_), nullptr, nullptr, &out, &out_left);
    out_len_ = out_.size() - out_left;
}

size_t TranscodingSource::Read(char *buf, size_t max) {
    if (max == 0) {
        return 0;
    }
    while (true) {
        if (out_pos_ < out_len_) {
            if (first_output_) {
                first_output_ = false;
                // A byte order mark converts to EF BB BF, always within one conversion (a character is atomic).
                if (out_len_ - out_pos_ >= 3 && memcmp(&out_[out_pos_], "\xef\xbb\xbf", 3) == 0) {
                    out_pos_ += 3;
                    continue;
                }
            }
            size_t n = std::min(max, out_len_ - out_pos_);
            memcpy(buf, &out_[out_pos_], n);
            out_pos_ += n;
            return n;
        }
        out_pos_ = out_len_ = 0;
        if (finished_) {
            return 0;
        }
        if (in_pos_ < in_len_) {
            Convert();
            if (out_len_ > 0) {
                continue;
            }
        }
        if (inner_eof_) {
            if (in_pos_ < in_len_) {
                ThrowInvalid(in_pos_, in_len_ - in_pos_, true);
            }
            Flush();
            finished_ = true;
            continue;
        }
        // Keep the unconverted tail (an incomplete multibyte sequence, a few bytes) and read more after it.
        if (in_pos_ > 0) {
            memmove(&in_[0], &in_[in_pos_], in_len_ - in_pos_);
            in_len_ -= in_pos_;
            in_pos_ = 0;
        }
        size_t got = inner_.Read(&in_[in_len_], in_.size() - in_len_);
        if (got == 0) {
            inner_eof_ = true;
        } else {
            in_len_ += got;
        }
    }
}

}  // namespace bulk_ingest
