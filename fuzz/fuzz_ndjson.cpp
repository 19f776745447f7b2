// libFuzzer target: the NDJSON reader (and the COPY row encoder on what it returns).
#include "error.h"
#include "fuzz_input.h"
#include "ndjson_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz::Input in(data, size);
    auto columns = fuzz::JsonColumns(in.Byte());
    uint8_t pattern = in.Byte();
    fuzz::PieceSource source(in.Rest(), in.RestSize(), pattern);
    bulk_ingest::NdjsonReader reader(source, columns, 1 << 16);
    uint64_t last_line = 0;
    for (int records = 0; records < 100000; records++) {
        try {
            if (!reader.Next()) {
                break;
            }
            fuzz::Require(reader.Line() > last_line, "lines grow");
            last_line = reader.Line();
            fuzz::CheckRecord(reader);
            reader.ReleaseRecord();
        } catch (const bulk_ingest::FatalRecordError &) {
            break;
        } catch (const bulk_ingest::RecordError &e) {
            fuzz::Require(e.line() > last_line, "a refused record is after the last one read");
            fuzz::Require(e.line() < reader.PositionReached(), "a refused record is before where reading stands");
            last_line = e.line();
        }
    }
    return 0;
}
