// A source's declaration as the core understands it: the columns to extract and the options of a run.
//
// Registration validates a declaration with these functions, and the worker reads it back with the same ones, so
// a declaration that was accepted is always understood the same way. Type names are checked by the PostgreSQL
// layer (the core cannot know which types exist).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "columns.h"
#include "csv_reader.h"
#include "paginator.h"
#include "request_options.h"

namespace bulk_ingest {

struct ColumnDecl {
    std::string name;
    std::string type;  // a PostgreSQL type name, as written by the user
    bool primary_key = false;
    bool nullable = true;              // primary key columns are never nullable
    std::string path;                  // JSON Pointer; "/<name>" (escaped) when not given
    std::vector<std::string> pointer;  // path, parsed
    std::string format;                // "" or one of kValueFormats ("epoch", "epoch_ms", "base64"); parsed into:
    ValueFormat value_format = ValueFormat::kNone;
};

// Parses the "columns" JSON array. Throws bulk_ingest::Error naming the offending element and key for: not an
// array, no columns, an element that is not an object, a missing or empty name, a missing type, a key of the wrong
// JSON type, an unknown key, an invalid JSON Pointer, a duplicate name, a primary key declared nullable, an unknown
// "format" (naming the column and the known formats).
std::vector<ColumnDecl> ParseColumnDecls(const std::string &columns_json);

// One entry of options.indexes: an index the target must have (besides its primary key).
struct IndexDecl {
    std::vector<std::string> columns;  // declared column names; empty when expression is given
    std::string expression;            // an SQL expression ("lower(customer)"); empty when columns are given
    std::string method = "btree";      // "using": the index access method
    bool unique = false;
    std::string where;  // an SQL predicate making a partial index; empty when none
};

struct SourceOptions {
    int64_t batch_rows = 100000;                         // a page is cut into batches of at most this many rows
    std::optional<std::string> schedule;                 // an interval ("15 minutes"); checked by the PostgreSQL layer
    PaginationSpec pagination = LinkHeaderPagination();  // how the next page is found (default: Link headers)
    bool pagination_given = false;                       // options.pagination was declared
    int64_t max_pages = 0;                               // the most pages of one run; 0 = no limit
    int concurrency = 1;  // offset and page pagination: requests in flight at once (the page being read included)
    int max_retries = 5;  // retries of one failed request
    int64_t max_retry_time_ms = 600000;  // the attempts and waits of one page, from its first request
    bool skip_bad_records = false;  // options.on_error: "abort" (false) or "skip" (rejects go to bulk_ingest.rejects)
    int64_t max_rejects = 1000;     // on_error "skip": the most records a run may reject
    int64_t connect_timeout_ms = 10000;  // connecting to the server, TLS included
    int64_t timeout_ms = 0;              // a whole request, body included; 0 = none (a stalled one still fails)
    int64_t max_response_bytes = 0;      // the largest response body accepted; 0 = no limit
    // "ETag" or "Last-Modified": the watermark is that response header, sent back as If-None-Match or
    // If-Modified-Since so that an unchanged source answers 304 ("" = the watermark is a column's maximum).
    std::string high_watermark_header;
    std::string records_path;  // json: JSON Pointer of the records array ("" = the top-level value)
    CsvReaderOptions csv;      // csv: delimiter, quote, escape, null string, header
    bool csv_given = false;    // options.csv was declared
    // Request headers ("Name", "value"); values may reference {secret:name}.
    std::vector<std::pair<std::string, std::string>> headers;
    // HTTP basic authentication (username, password); both may reference {secret:name}.
    std::optional<std::pair<std::string, std::string>> basic_auth;
    std::vector<IndexDecl> indexes;  // options.indexes, in declaration order
    std::string partition_by;        // options.partition_by ("RANGE (updated_at)"); "" = not partitioned
    RequestOptions request;          // lag, window, method and body, on_status (request_options.h)
};

// Parses the "options" JSON object. Throws bulk_ingest::Error for a value of the wrong type or range and for an
// unknown key (listing the known ones). SQL text (index expressions and predicates, partition_by) is checked by the
// PostgreSQL layer; so are index column names against the declared columns (CheckIndexColumns).
SourceOptions ParseSourceOptions(const std::string &options_json);

// Throws bulk_ingest::Error naming options.indexes[i] when an index names a column that is not declared.
void CheckIndexColumns(const std::vector<IndexDecl> &indexes, const std::vector<ColumnDecl> &columns);

// The known values of the enumerated arguments of bulk_ingest_register, for validation and error messages.
extern const std::vector<std::string> kFormats;
extern const std::vector<std::string> kUpsertModes;
extern const std::vector<std::string> kDeleteModes;

// Throws bulk_ingest::Error `unknown <what> "<value>"; expected one of: a, b` unless value is one of known.
void CheckOneOf(const std::string &what, const std::string &value, const std::vector<std::string> &known);

// The core's view of the declared columns, for a record reader. is_json[i] tells whether column i is json/jsonb.
// Throws bulk_ingest::Error for a "format" declared on a json/jsonb column. ColumnSpec::array is left false: the
// PostgreSQL layer sets it for array-typed columns.
std::vector<ColumnSpec> ToColumnSpecs(const std::vector<ColumnDecl> &decls, const std::vector<bool> &is_json);

}  // namespace bulk_ingest
