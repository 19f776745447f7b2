// Character sets of response bodies: the charset a Content-Type declares, and a stream converting it to UTF-8.
//
// The readers (ndjson, json, csv) and COPY expect UTF-8. A body whose Content-Type declares another charset
// (charset=ISO-8859-1, windows-1252, UTF-16LE, ...) is read through a TranscodingSource, which converts it with
// glibc's iconv in bounded buffers, so a large body is never held whole.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "byte_source.h"

namespace bulk_ingest {

// The charset parameter of a Content-Type header value ("application/json; charset=ISO-8859-1"), RFC 9110
// section 8.3: the parameter name is case-insensitive, the value a token or a quoted-string (quotes and backslash
// escapes removed), whitespace around parameters ignored. nullopt when the value has no (or an empty) charset.
std::optional<std::string> CharsetFromContentType(const std::string &content_type);

// Whether a body in charset needs no conversion: UTF-8 ("utf-8", "utf8", any case) or US-ASCII (a subset of it).
bool IsUtf8Charset(const std::string &charset);

// A ByteSource that reads another one in charset and yields UTF-8.
//
// Memory is bounded: at most kInputBufferSize bytes of input and kOutputBufferSize bytes of output are held,
// whatever the size of the body and of the caller's reads. A multibyte sequence split across the inner source's
// reads is completed by the next read. A leading byte order mark (U+FEFF) is dropped. Throws Error:
//   - at construction, when iconv does not know charset:
//       unknown charset "x" in the response's Content-Type
//   - from Read(), for input that is not valid in charset, or a body that ends inside a multibyte sequence:
//       invalid byte sequence for charset "windows-1252" at byte 1234 of the response body (0x81)
class TranscodingSource final : public ByteSource {
  public:
    static constexpr size_t kInputBufferSize = 64 * 1024;
    static constexpr size_t kOutputBufferSize = 64 * 1024;

    // inner is not owned and must outlive this source (typically the HttpStream, still needed for its headers).
    TranscodingSource(ByteSource &inner, std::string charset);
    ~TranscodingSource() override;
    TranscodingSource(const TranscodingSource &) = delete;
    TranscodingSource &operator=(const TranscodingSource &) = delete;

    size_t Read(char *buf, size_t max) override;

    const std::string &Charset() const { return charset_; }
    // Bytes of the inner source converted so far.
    uint64_t InputBytesConverted() const { return consumed_; }

  private:
    void Convert();
    void Flush();
    [[noreturn]] void ThrowInvalid(size_t offset_in_buffer, size_t available, bool at_end) const;

    ByteSource &inner_;
    std::string charset_;
    void *cd_;  // iconv_t (a pointer in glibc), kept out of this header
    std::string in_;
    size_t in_pos_ = 0;
    size_t in_len_ = 0;
    std::string out_;
    size_t out_pos_ = 0;
    size_t out_len_ = 0;
    uint64_t consumed_ = 0;  // input bytes before in_[in_pos_]
    bool inner_eof_ = false;
    bool finished_ = false;
    bool first_output_ = true;
};

}  // namespace bulk_ingest
