// Microbenchmark of the hot path: NDJSON lines -> NdjsonReader -> AppendCopyRow (COPY text rows), and the same rows
// as one JSON document (JsonReader, records at /data) and as CSV (CsvReader).
// Rows have the columns of the README example: bigint, text, numeric, timestamptz (a string), jsonb (an object).
#include <benchmark/benchmark.h>

#include <cstring>
#include <string>
#include <vector>

#include "copy_text.h"
#include "csv_reader.h"
#include "json_reader.h"
#include "json_pointer.h"
#include "ndjson_reader.h"

namespace {

class MemorySource : public bulk_ingest::ByteSource {
  public:
    explicit MemorySource(const std::string &data) : data_(data) {}
    size_t Read(char *buf, size_t max) override {
        size_t n = std::min(max, data_.size() - pos_);
        memcpy(buf, data_.data() + pos_, n);
        pos_ += n;
        return n;
    }

  private:
    const std::string &data_;
    size_t pos_ = 0;
};

const size_t kRows = 200000;

const std::string &Data() {
    static const std::string data = [] {
        std::string s;
        for (size_t i = 1; i <= kRows; i++) {
            s += "{\"id\": " + std::to_string(1000000 + i) + ", \"customer\": \"customer " + std::to_string(i % 5000) +
                 (i % 10 == 0 ? " \\\"VIP\\\"" : "") + "\", \"amount\": " + std::to_string(i % 100000) + "." +
                 std::to_string(10 + i % 90) + ", \"updated_at\": \"2024-03-" + std::to_string(10 + i % 18) + "T" +
                 std::to_string(10 + i % 14) +
                 ":15:30.123456+00:00\", \"meta\": {\"channel\": \"web\", \"tags\": "
                 "[\"a\", \"b\"], \"score\": " +
                 std::to_string(i % 7) + ".5, \"ok\": true}, \"extra\": null}\n";
        }
        return s;
    }();
    return data;
}

std::vector<bulk_ingest::ColumnSpec> Columns() {
    std::vector<bulk_ingest::ColumnSpec> cols(5);
    const char *names[] = {"id", "customer", "amount", "updated_at", "details"};
    const char *paths[] = {"/id", "/customer", "/amount", "/updated_at", "/meta"};
    for (int i = 0; i < 5; i++) {
        cols[i].name = names[i];
        cols[i].pointer = bulk_ingest::ParseJsonPointer(paths[i]);
    }
    cols[0].nullable = false;
    cols[4].json = true;
    return cols;
}

void BM_NdjsonToCopyRows(benchmark::State &state) {
    const std::string &data = Data();
    std::vector<bulk_ingest::ColumnSpec> cols = Columns();
    std::string row;
    size_t rows = 0;
    for (auto _ : state) {
        MemorySource source(data);
        bulk_ingest::NdjsonReader reader(source, cols);
        while (reader.Next()) {
            row.clear();
            bulk_ingest::AppendCopyRow(row, reader);
            benchmark::DoNotOptimize(row.data());
            rows++;
        }
    }
    state.SetItemsProcessed(static_cast<int64_t>(rows));
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * data.size()));
    state.counters["bytes_per_row"] = static_cast<double>(data.size()) / kRows;
}
BENCHMARK(BM_NdjsonToCopyRows)->Unit(benchmark::kMillisecond);

void BM_NdjsonReaderOnly(benchmark::State &state) {
    const std::string &data = Data();
    std::vector<bulk_ingest::ColumnSpec> cols = Columns();
    size_t rows = 0;
    for (auto _ : state) {
        MemorySource source(data);
        bulk_ingest::NdjsonReader reader(source, cols);
        while (reader.Next()) {
            benchmark::DoNotOptimize(reader.Field(0).text.data());
            rows++;
        }
    }
    state.SetItemsProcessed(static_cast<int64_t>(rows));
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * data.size()));
}
BENCHMARK(BM_NdjsonReaderOnly)->Unit(benchmark::kMillisecond);

// The same rows as {"data": [ ... ], "links": {"next": ...}}.
const std::string &JsonData() {
    static const std::string data = [] {
        std::string s = "{\"data\": [\n";
        const std::string &lines = Data();
        for (size_t i = 0; i < lines.size(); i++) {
            if (lines[i] == '\n') {
                s += i + 1 == lines.size() ? "\n" : ",\n";
            } else {
                s += lines[i];
            }
        }
        return s + "], \"links\": {\"next\": \"https://example.com/?page=2\"}}";
    }();
    return data;
}

void BM_JsonArrayToCopyRows(benchmark::State &state) {
    const std::string &data = JsonData();
    std::vector<bulk_ingest::ColumnSpec> cols = Columns();
    bulk_ingest::JsonReaderOptions options;
    options.records_path = "/data";
    options.metadata_paths = {"/links/next"};
    std::string row;
    size_t rows = 0;
    for (auto _ : state) {
        MemorySource source(data);
        bulk_ingest::JsonReader reader(source, cols, options);
        while (reader.Next()) {
            row.clear();
            bulk_ingest::AppendCopyRow(row, reader);
            benchmark::DoNotOptimize(row.data());
            rows++;
        }
    }
    state.SetItemsProcessed(static_cast<int64_t>(rows));
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * data.size()));
}
BENCHMARK(BM_JsonArrayToCopyRows)->Unit(benchmark::kMillisecond);

// The same columns as CSV with a header; the customer is quoted (some with doubled quotes), the details are JSON.
const std::string &CsvData() {
    static const std::string data = [] {
        std::string s = "id,customer,amount,updated_at,meta\r\n";
        for (size_t i = 1; i <= kRows; i++) {
            s += std::to_string(1000000 + i) + ",\"customer " + std::to_string(i % 5000) +
                 (i % 10 == 0 ? " \"\"VIP\"\"" : "") + "\"," + std::to_string(i % 100000) + "." +
                 std::to_string(10 + i % 90) + ",2024-03-" + std::to_string(10 + i % 18) + "T" +
                 std::to_string(10 + i % 14) +
                 ":15:30.123456+00:00,\"{\"\"channel\"\": \"\"web\"\", \"\"tags\"\": [\"\"a\"\", \"\"b\"\"], "
                 "\"\"score\"\": " +
                 std::to_string(i % 7) + ".5, \"\"ok\"\": true}\"\r\n";
        }
        return s;
    }();
    return data;
}

void BM_CsvToCopyRows(benchmark::State &state) {
    const std::string &data = CsvData();
    std::vector<bulk_ingest::ColumnSpec> cols = Columns();
    cols[4].pointer = {"meta"};
    std::string row;
    size_t rows = 0;
    for (auto _ : state) {
        MemorySource source(data);
        bulk_ingest::CsvReader reader(source, cols);
        while (reader.Next()) {
            row.clear();
            bulk_ingest::AppendCopyRow(row, reader);
            benchmark::DoNotOptimize(row.data());
            rows++;
        }
    }
    state.SetItemsProcessed(static_cast<int64_t>(rows));
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * data.size()));
    state.counters["bytes_per_row"] = static_cast<double>(data.size()) / kRows;
}
BENCHMARK(BM_CsvToCopyRows)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
