// libFuzzer target: the charset converter (iconv in bounded buffers), and the Content-Type charset parser.
#include <string>

#include "charset.h"
#include "error.h"
#include "fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz::Input in(data, size);
    uint8_t choice = in.Byte();
    uint8_t pattern = in.Byte();
    static const char *const kCharsets[] = {"windows-1252", "ISO-8859-1", "UTF-16LE", "UTF-16BE", "UTF-16",
                                            "SHIFT_JIS",    "EUC-JP",     "GB18030",  "KOI8-R",   "UTF-32"};
    // The Content-Type parser on the start of the input.
    std::string header(in.Rest(), in.RestSize() < 64 ? in.RestSize() : 64);
    auto declared = bulk_ingest::CharsetFromContentType(header);
    if (declared) {
        (void)bulk_ingest::IsUtf8Charset(*declared);
    }
    fuzz::PieceSource inner(in.Rest(), in.RestSize(), pattern);
    bulk_ingest::TranscodingSource source(inner, kCharsets[choice % 10]);
    std::string out;
    char buf[4096];
    try {
        for (;;) {
            size_t n = source.Read(buf, 1 + choice % sizeof(buf));
            if (n == 0) {
                break;
            }
            out.append(buf, n);
        }
    } catch (const bulk_ingest::Error &) {
        // invalid in that charset
    }
    fuzz::Require(fuzz::ValidUtf8(out.data(), out.size()), "the converter yields UTF-8");
    return 0;
}
