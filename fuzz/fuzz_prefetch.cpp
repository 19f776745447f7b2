// libFuzzer target: the read-ahead (src/core/prefetch.h). A reader (NDJSON, JSON or CSV, chosen by the input) over
// the fuzzed bytes is read directly, and a second one over the same bytes behind a PrefetchingReader (block size,
// records per block and queue length chosen by the input); both must tell the same story: every record's values and
// source texts, its COPY row (encoded ahead by the read-ahead), its line and the bytes consumed; every refused record
// in its place with its error's type, text, line and excerpt, what PositionReached and RecordText said then, and the
// records after it (as with options.on_error = 'skip'); the failure that ends the input (a broken transfer is
// simulated at a byte the input chooses) with its position; the bytes consumed at the end. The byte source can also
// say it is about to wait for the network, which makes the producer hand over a part-filled block, as a slow server
// does.
#include <cstdio>
#include <memory>
#include <string>
#include <typeinfo>

#include "copy_text.h"
#include "csv_reader.h"
#include "error.h"
#include "fuzz_input.h"
#include "json_reader.h"
#include "ndjson_reader.h"
#include "prefetch.h"

namespace {

// The input's body served in pieces, announcing a network wait before some reads, and failing after fail_at bytes
// as a transfer that breaks off does.
class WaitingSource final : public bulk_ingest::ByteSource {
  public:
    WaitingSource(const char *data, size_t size, uint8_t pattern, uint8_t waits, size_t fail_at)
        : pieces_(data, size < fail_at ? size : fail_at, pattern), waits_(waits), fail_(fail_at < size) {}
    size_t Read(char *buf, size_t max) override {
        if (waits_ != 0 && reads_++ % waits_ == 0 && bulk_ingest::ProducerShouldStop()) {
            throw bulk_ingest::Interrupted();
        }
        size_t n = pieces_.Read(buf, max);
        if (n == 0 && fail_) {
            throw bulk_ingest::HttpError(0, "the transfer broke off", bulk_ingest::HttpErrorKind::kConnection);
        }
        return n;
    }

  private:
    fuzz::PieceSource pieces_;
    uint8_t waits_;
    bool fail_;
    size_t reads_ = 0;
};

struct Choices {
    uint8_t format, columns, options, pattern, waits, fail;
};

std::unique_ptr<bulk_ingest::RecordReader> MakeReader(const Choices &c, bulk_ingest::ByteSource &source) {
    switch (c.format % 3) {
        case 0:
            return std::make_unique<bulk_ingest::NdjsonReader>(source, fuzz::JsonColumns(c.columns), 1 << 12);
        case 1: {
            bulk_ingest::JsonReaderOptions options;
            static const char *const kRecords[] = {"", "/data", "/a/items", "/0"};
            options.records_path = kRecords[c.options % 4];
            if (c.options & 4) {
                options.metadata_paths.push_back(options.records_path == "/data" ? "/next" : "/meta/next");
            }
            return std::make_unique<bulk_ingest::JsonReader>(source, fuzz::JsonColumns(c.columns), options, 1 << 12);
        }
        default: {
            bulk_ingest::CsvReaderOptions options;
            std::vector<bulk_ingest::ColumnSpec> columns;
            fuzz::CsvChoice(c.options, &options, &columns);
            return std::make_unique<bulk_ingest::CsvReader>(source, columns, options, 1 << 12);
        }
    }
}

void Append(std::string &trace, const char *label, std::string_view text) {
    trace += label;
    trace += std::to_string(text.size());
    trace += ':';
    trace.append(text.data(), text.size());
    trace += ' ';
}

void Append(std::string &trace, const char *label, uint64_t n) {
    trace += label;
    trace += std::to_string(n);
    trace += ' ';
}

// Everything a caller (src/pg/loader.cpp) reads of the reader, as text, until the end or a failure it cannot step
// over, with the COPY row of each record's first copy_columns values as the caller feeds it (encoded ahead by the
// read-ahead, or by the caller); at most max_records calls.
std::string Trace(bulk_ingest::RecordReader &reader, size_t copy_columns, int max_records) {
    std::string trace;
    for (int i = 0; i < max_records; i++) {
        try {
            if (!reader.Next()) {
                Append(trace, "end consumed=", reader.BytesConsumed());
                return trace;
            }
            Append(trace, "\nrecord line=", reader.Line());
            Append(trace, "consumed=", reader.BytesConsumed());
            for (size_t c = 0; c < reader.ColumnCount(); c++) {
                const bulk_ingest::FieldValue &f = reader.Field(c);
                if (f.is_null) {
                    trace += "NULL ";
                } else {
                    Append(trace, "value=", f.text);
                }
                Append(trace, "source=", reader.SourceText(c));
            }
            std::string row(reader.CopyRow());
            if (row.empty()) {
                bulk_ingest::AppendCopyRow(row, reader, copy_columns);
            }
            Append(trace, "copy=", row);
        } catch (const bulk_ingest::RecordError &e) {
            bool fatal = dynamic_cast<const bulk_ingest::FatalRecordError *>(&e) != nullptr;
            trace += fatal ? "\nfatal " : "\nrefused ";
            trace += typeid(e).name();
            Append(trace, " what=", e.what());
            Append(trace, "line=", e.line());
            Append(trace, "excerpt=", e.excerpt());
            Append(trace, "position=", reader.PositionReached());
            Append(trace, "text=", reader.RecordText());
            if (fatal) {
                return trace;
            }
        } catch (const bulk_ingest::HttpError &e) {
            trace += "\nhttp error ";
            Append(trace, "what=", e.what());
            Append(trace, "status=", static_cast<uint64_t>(e.status()));
            Append(trace, "kind=", static_cast<uint64_t>(e.kind()));
            Append(trace, "position=", reader.PositionReached());
            return trace;
        } catch (const bulk_ingest::Error &e) {
            trace += "\nerror ";
            trace += typeid(e).name();
            Append(trace, " what=", e.what());
            Append(trace, "position=", reader.PositionReached());
            return trace;
        }
    }
    return trace + "\n(stopped)";
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz::Input in(data, size);
    Choices c{in.Byte(), in.Byte(), in.Byte(), in.Byte(), in.Byte(), in.Byte()};
    uint8_t block = in.Byte();
    size_t fail_at = c.fail < 200 ? SIZE_MAX : static_cast<size_t>(c.fail - 200) * in.RestSize() / 55;
    const int kMaxRecords = 2000;

    std::string direct, prefetched;
    size_t copy_columns = 0;
    {
        WaitingSource source(in.Rest(), in.RestSize(), c.pattern, c.waits % 4, fail_at);
        std::unique_ptr<bulk_ingest::RecordReader> reader;
        try {
            reader = MakeReader(c, source);
        } catch (const bulk_ingest::Error &) {
            return 0;  // options the reader refuses
        }
        // The COPY row of every column, or of all but the last (as with options.deleted_path).
        copy_columns = reader->ColumnCount() - (reader->ColumnCount() > 0 ? c.columns & 1 : 0);
        direct = Trace(*reader, copy_columns, kMaxRecords);
    }
    {
        WaitingSource source(in.Rest(), in.RestSize(), c.pattern, c.waits % 4, fail_at);
        std::unique_ptr<bulk_ingest::RecordReader> inner = MakeReader(c, source);
        bulk_ingest::PrefetchOptions options;
        options.block_bytes = 1 + (block & 7) * 37;
        options.max_block_records = 1 + ((block >> 3) & 7);
        options.max_blocks = 1 + ((block >> 6) & 3);
        options.wait_check_interval_ms = 1;
        options.skips_refused = true;  // the trace reads on past refused records, as on_error = 'skip' does
        options.copy_row_columns = copy_columns;
        bulk_ingest::PrefetchingReader reader(*inner, options);
        prefetched = Trace(reader, copy_columns, kMaxRecords);
    }
    if (direct != prefetched) {
        fprintf(stderr, "---- read directly:\n%s\n---- read ahead:\n%s\n", direct.c_str(), prefetched.c_str());
        fuzz::Require(false, "the read-ahead hands over what the reader gives");
    }
    return 0;
}
