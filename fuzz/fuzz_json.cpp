// libFuzzer target: the JSON document reader (records at a pointer, metadata elsewhere).
#include "error.h"
#include "fuzz_input.h"
#include "json_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz::Input in(data, size);
    auto columns = fuzz::JsonColumns(in.Byte());
    uint8_t shape = in.Byte();
    uint8_t pattern = in.Byte();
    bulk_ingest::JsonReaderOptions options;
    static const char *const kRecords[] = {"", "/data", "/a/items", "/0"};
    options.records_path = kRecords[shape % 4];
    if (shape & 4) {
        options.metadata_paths.push_back(options.records_path == "/data" ? "/next" : "/meta/next");
    }
    fuzz::PieceSource source(in.Rest(), in.RestSize(), pattern);
    std::unique_ptr<bulk_ingest::JsonReader> reader;
    try {
        reader.reset(new bulk_ingest::JsonReader(source, columns, options, 1 << 16));
    } catch (const bulk_ingest::Error &) {
        return 0;  // options the reader refuses (a metadata path inside the records)
    }
    for (int records = 0; records < 100000; records++) {
        try {
            if (!reader->Next()) {
                break;
            }
            fuzz::CheckRecord(*reader);
        } catch (const bulk_ingest::RecordError &e) {
            if (dynamic_cast<const bulk_ingest::FatalRecordError *>(&e) != nullptr) {
                break;
            }
        } catch (const bulk_ingest::Error &) {
            break;  // the document itself is broken: the reader stays failed
        }
    }
    if (!options.metadata_paths.empty() && reader->Metadata(0)) {
        const std::string &value = *reader->Metadata(0);
        fuzz::Require(fuzz::ValidUtf8(value.data(), value.size()), "metadata is valid UTF-8");
    }
    return 0;
}
