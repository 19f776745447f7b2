#include "formats.h"

#include "csv_reader.h"
#include "error.h"
#include "json_reader.h"
#include "ndjson_reader.h"

namespace bulk_ingest {

namespace {

class EmptySource final : public ByteSource {
  public:
    size_t Read(char *, size_t) override { return 0; }
};

}  // namespace

std::unique_ptr<RecordReader> MakeRecordReader(const std::string &format, ByteSource &source,
                                               std::vector<ColumnSpec> columns, const SourceOptions &options,
                                               size_t max_record_bytes) {
    if (format == "ndjson") {
        return std::make_unique<NdjsonReader>(source, std::move(columns), max_record_bytes);
    }
    if (format == "json") {
        JsonReaderOptions json;
        json.records_path = options.records_path;
        json.metadata_paths = options.pagination.BodyPaths();
        return std::make_unique<JsonReader>(source, std::move(columns), json, max_record_bytes);
    }
    if (format == "csv") {
        return std::make_unique<CsvReader>(source, std::move(columns), options.csv, max_record_bytes);
    }
    CheckOneOf("format", format, kFormats);
    throw Error("format \"" + format + "\" has no reader");
}

void ValidateRecordFormat(const std::string &format, std::vector<ColumnSpec> columns, const SourceOptions &options) {
    if (format != "json" && !options.records_path.empty()) {
        throw Error("options: \"records_path\" applies to format \"json\" only");
    }
    if (format != "csv" && options.csv_given) {
        throw Error("options: \"csv\" applies to format \"csv\" only");
    }
    if (format != "json" && options.pagination.NeedsBodyValue()) {
        throw Error(std::string("pagination type \"") + PaginationTypeName(options.pagination.type) +
                    "\" reads the next page from the response body, which needs format \"json\"; use \"link_header\", "
                    "\"offset\" or \"page\" pagination with format \"" +
                    format + "\"");
    }
    EmptySource empty;
    MakeRecordReader(format, empty, std::move(columns), options);
}

std::optional<std::string> BodyPaginationValue(const RecordReader &reader, const SourceOptions &options) {
    if (options.pagination.path.empty()) {
        return std::nullopt;
    }
    const auto *json = dynamic_cast<const JsonReader *>(&reader);
    return json ? json->Metadata(0) : std::nullopt;
}

void ReadBodyPaginationValues(const RecordReader &reader, const SourceOptions &options, PageInfo *page) {
    const auto *json = dynamic_cast<const JsonReader *>(&reader);
    if (json == nullptr) {
        return;
    }
    const PaginationSpec &spec = options.pagination;
    size_t i = 0;
    for (auto [path, into] :
         {std::pair<const std::string *, std::optional<std::string> *>{&spec.path, &page->body_value},
          {&spec.has_more_path, &page->has_more},
          {&spec.total_path, &page->total},
          {&spec.total_pages_path, &page->total_pages}}) {
        if (!path->empty()) {
            *into = json->Metadata(i++);
        }
    }
}

const char *PositionUnit(const std::string &format) {
    return format == "json" ? "record" : "line";
}

}  // namespace bulk_ingest
