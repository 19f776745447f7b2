// libFuzzer target: the CSV reader, with delimiter, quote, escape, NULL string and header chosen by the input.
#include "csv_reader.h"
#include "error.h"
#include "fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz::Input in(data, size);
    uint8_t choice = in.Byte();
    uint8_t pattern = in.Byte();
    bulk_ingest::CsvReaderOptions options;
    std::vector<bulk_ingest::ColumnSpec> columns;
    fuzz::CsvChoice(choice, &options, &columns);
    fuzz::PieceSource source(in.Rest(), in.RestSize(), pattern);
    std::unique_ptr<bulk_ingest::CsvReader> reader;
    try {
        reader.reset(new bulk_ingest::CsvReader(source, columns, options, 1 << 16));
    } catch (const bulk_ingest::Error &) {
        return 0;
    }
    for (int records = 0; records < 100000; records++) {
        try {
            if (!reader->Next()) {
                break;
            }
            fuzz::CheckRecord(*reader);
            (void)reader->RecordText();
        } catch (const bulk_ingest::FatalRecordError &) {
            break;
        } catch (const bulk_ingest::RecordError &) {
            (void)reader->RecordText();
        } catch (const bulk_ingest::Error &) {
            break;  // a header that does not match the columns
        }
    }
    return 0;
}
