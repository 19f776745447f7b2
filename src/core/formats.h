// The record formats of a source (ndjson, json, csv): one place that builds the reader a declaration asks for.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "byte_source.h"
#include "columns.h"
#include "declaration.h"
#include "record_reader.h"

namespace bulk_ingest {

// A reader of format over source for the declared columns and options. Throws Error for options or column paths
// the format cannot use (a CSV column path that is not a header name or number, a records_path inside metadata...).
// A record longer than max_record_bytes is a RecordError.
std::unique_ptr<RecordReader> MakeRecordReader(const std::string &format, ByteSource &source,
                                               std::vector<ColumnSpec> columns, const SourceOptions &options,
                                               size_t max_record_bytes = kDefaultMaxRecordBytes);

// Checks everything MakeRecordReader would check, without any input; throws Error like it. For registration.
void ValidateRecordFormat(const std::string &format, std::vector<ColumnSpec> columns, const SourceOptions &options);

// The value the pagination reads from the body of the page just read (next URL or cursor), when it reads one.
std::optional<std::string> BodyPaginationValue(const RecordReader &reader, const SourceOptions &options);

// Every value the pagination reads from the body (next URL or cursor, has_more, total, total_pages) into page.
void ReadBodyPaginationValues(const RecordReader &reader, const SourceOptions &options, PageInfo *page);

// What a reader's positions count, for messages: "line" (ndjson, csv) or "record" (json).
const char *PositionUnit(const std::string &format);

}  // namespace bulk_ingest
