// COPY text format (the default format of COPY FROM): tab-separated fields, \N for NULL, one row per line.
#pragma once

#include <string>
#include <string_view>

#include "grow_buffer.h"
#include "record_reader.h"

namespace bulk_ingest {

// Appends text with COPY's text-format escapes (backslash, tab, newline, carriage return).
void AppendCopyEscaped(std::string &out, std::string_view text);
void AppendCopyEscaped(GrowBuffer &out, std::string_view text);

// Appends the current record of reader as one COPY text row, terminated by '\n'.
void AppendCopyRow(std::string &out, const RecordReader &reader);
void AppendCopyRow(GrowBuffer &out, const RecordReader &reader);
// The same with the first columns of the record only (the reader reads more: options.deleted_path).
void AppendCopyRow(std::string &out, const RecordReader &reader, size_t columns);
void AppendCopyRow(GrowBuffer &out, const RecordReader &reader, size_t columns);

}  // namespace bulk_ingest
