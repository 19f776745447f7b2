// Proposing a source's "columns" declaration from a sample of its records (bulk_ingest_infer_columns).
//
// The sample is the start of the first page, held in memory (bounded by the caller). Each record's top-level keys
// (JSON formats) or header columns (CSV) become columns, in the order they first appear; their values decide:
//   - the type: boolean, bigint, numeric, date, timestamptz, uuid, text, jsonb, or an array of one of them.
//     JSON numbers are bigint (when they all fit) or numeric; JSON strings are looked at: UUIDs, dates, ISO 8601
//     timestamps and decimal numbers ("12.50", as APIs send amounts) get their type, strings of digits stay text
//     (they may be codes with leading zeros); CSV fields are text looked at the same way, integers and booleans
//     (true/false) included. Values of different kinds widen: bigint and numeric to numeric, date and timestamptz to
//     timestamptz, objects or mixed arrays to jsonb, anything else to text. Integers in a column named like a time
//     (…_at, …time, …date) that all lie in 2000-2100 as seconds or milliseconds since 1970 become timestamptz with
//     "format": "epoch" or "epoch_ms".
//   - nullability: "nullable": false when every sampled record has a non-null value.
//   - the primary key: a column that is unique and never null in the sample, of type bigint, text or uuid, and
//     named like a key ("id", "uuid", "key"; or the first column when it ends in "id", "key", "uuid" or "code").
//   - the high watermark column: a timestamp (or epoch) column never null in the sample, named like an update time
//     first ("updated_at", "modified", "last_changed", ...), then any time, then "created…" (which misses later
//     changes); failing that, an integer key that increases with every record (an append-only source).
// Every guess is explained in the result.
#pragma once

#include <cstddef>
#include <string>

#include "declaration.h"

namespace bulk_ingest {

// The sample's bounds: the caller reads at most kInferenceSampleBytes of the first page's body, and at most
// kInferenceSampleRecords records of it are looked at.
constexpr size_t kInferenceSampleBytes = 4 * 1024 * 1024;
constexpr size_t kInferenceSampleRecords = 1000;

// Proposes a declaration for the records of format ("ndjson", "json", "csv") in body, read with options (records_path,
// csv). truncated: body is the start of a longer response (then the last, partial record is not used). Returns a
// JSON object (text):
//   {"columns": [...],                       a declaration bulk_ingest_register accepts as is
//    "high_watermark_column": "..." | null,
//    "reasons": {"<column>": "...", ...},     why each column got its type, nullability and key
//    "primary_key_reason": "...", "high_watermark_reason": "...",
//    "sample": {"records": n, "bytes": n, "truncated": bool}}
// Throws Error when the sample holds no record, and RecordError for a record that cannot be read.
std::string InferColumns(const std::string &format, const std::string &body, bool truncated,
                         const SourceOptions &options, size_t max_records = kInferenceSampleRecords);

}  // namespace bulk_ingest
