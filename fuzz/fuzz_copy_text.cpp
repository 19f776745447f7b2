// libFuzzer target: COPY's text escaping round-trips every byte string.
#include <string>

#include "copy_text.h"
#include "fuzz_input.h"
#include "grow_buffer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    std::string_view value(reinterpret_cast<const char *>(data), size);
    std::string escaped;
    bulk_ingest::AppendCopyEscaped(escaped, value);
    bulk_ingest::GrowBuffer grown;
    bulk_ingest::AppendCopyEscaped(grown, value);
    fuzz::Require(std::string_view(grown.data(), grown.size()) == escaped, "both buffers encode alike");
    std::string decoded;
    for (size_t i = 0; i < escaped.size(); i++) {
        char c = escaped[i];
        fuzz::Require(c != '\t' && c != '\n' && c != '\r', "no raw separator survives");
        if (c != '\\') {
            decoded += c;
            continue;
        }
        fuzz::Require(i + 1 < escaped.size(), "an escape is complete");
        char e = escaped[++i];
        decoded += e == 't' ? '\t' : e == 'n' ? '\n' : e == 'r' ? '\r' : e;
        fuzz::Require(e == '\\' || e == 't' || e == 'n' || e == 'r', "a known escape");
    }
    fuzz::Require(decoded == value, "COPY decodes what was encoded");
    return 0;
}
