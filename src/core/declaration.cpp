#include "declaration.h"

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <strings.h>

#include <cctype>
#include <set>

#include "error.h"
#include "json_pointer.h"
#include "request_header.h"
#include "secrets.h"
#include "text.h"
#include "value_format.h"

namespace bulk_ingest {

const std::vector<std::string> kFormats = {"ndjson", "json", "csv"};
const std::vector<std::string> kUpsertModes = {"if_primary_key", "off"};
const std::vector<std::string> kDeleteModes = {"off", "before_first_batch"};

namespace {

rapidjson::Document ParseJson(const std::string &what, const std::string &text) {
    rapidjson::Document doc;
    doc.Parse(text.c_str(), text.size());
    if (doc.HasParseError()) {
        throw Error(what + " is not valid JSON at byte " + std::to_string(doc.GetErrorOffset()) + ": " +
                    rapidjson::GetParseError_En(doc.GetParseError()));
    }
    return doc;
}

// "/" + the name with '~' and '/' escaped, so that the default path of any column name points at that key.
std::string DefaultPath(const std::string &name) {
    std::string path = "/";
    for (char c : name) {
        if (c == '~') {
            path += "~0";
        } else if (c == '/') {
            path += "~1";
        } else {
            path += c;
        }
    }
    return path;
}

// One character of a CSV option (delimiter, quote, escape).
char CsvCharacter(const rapidjson::Value &value, const std::string &key) {
    if (!value.IsString() || value.GetStringLength() != 1) {
        throw Error("options: \"csv\": \"" + key + "\" must be a string of one character");
    }
    return value.GetString()[0];
}

CsvReaderOptions ParseCsvOptions(const rapidjson::Value &object) {
    if (!object.IsObject()) {
        throw Error("options: \"csv\" must be an object such as {\"delimiter\": \";\", \"header\": true}");
    }
    CsvReaderOptions csv;
    for (auto m = object.MemberBegin(); m != object.MemberEnd(); ++m) {
        std::string key(m->name.GetString(), m->name.GetStringLength());
        const auto &value = m->value;
        if (key == "delimiter") {
            csv.delimiter = CsvCharacter(value, key);
        } else if (key == "quote") {
            csv.quote = CsvCharacter(value, key);
        } else if (key == "escape") {
            csv.escape = CsvCharacter(value, key);
        } else if (key == "null") {
            if (!value.IsString()) {
                throw Error("options: \"csv\": \"null\" must be a string");
            }
            csv.null_string.assign(value.GetString(), value.GetStringLength());
        } else if (key == "header") {
            if (!value.IsBool()) {
                throw Error("options: \"csv\": \"header\" must be true or false");
            }
            csv.header = value.GetBool();
        } else if (key == "missing_fields" || key == "extra_fields") {
            const bool missing = key == "missing_fields";
            const char *accept = missing ? "null" : "ignore";
            std::string text = value.IsString() ? std::string(value.GetString(), value.GetStringLength()) : "";
            if (text != "error" && text != accept) {
                throw Error("options: \"csv\": \"" + key + "\" must be \"error\" (the default: a record with " +
                            (missing ? "fewer" : "more") + " fields than the header fails the batch) or \"" + accept +
                            "\" (" +
                            (missing ? "the missing trailing fields are NULL" : "the extra fields are ignored") + ")");
            }
            (missing ? csv.missing_fields_null : csv.extra_fields_ignore) = text == accept;
        } else {
            throw Error("options: \"csv\": unknown key \"" + key +
                        "\"; known keys: delimiter, escape, extra_fields, header, missing_fields, null, quote");
        }
    }
    return csv;
}

}  // namespace

void CheckOneOf(const std::string &what, const std::string &value, const std::vector<std::string> &known) {
    for (const auto &k : known) {
        if (k == value) {
            return;
        }
    }
    throw Error("unknown " + what + " \"" + value + "\"; expected one of: " + Join(known));
}

std::vector<ColumnDecl> ParseColumnDecls(const std::string &columns_json) {
    rapidjson::Document doc = ParseJson("columns", columns_json);
    if (!doc.IsArray()) {
        throw Error("columns must be a JSON array of column objects");
    }
    if (doc.Empty()) {
        throw Error("columns must declare at least one column");
    }
    std::vector<ColumnDecl> decls;
    std::set<std::string> names;
    for (rapidjson::SizeType i = 0; i < doc.Size(); i++) {
        const auto &element = doc[i];
        std::string where = "columns[" + std::to_string(i) + "]";
        if (!element.IsObject()) {
            throw Error(where + " must be an object like {\"name\": \"id\", \"type\": \"bigint\"}");
        }
        ColumnDecl decl;
        bool has_path = false;
        bool nullable_given = false;
        auto name_it = element.FindMember("name");
        if (name_it == element.MemberEnd() || !name_it->value.IsString() || name_it->value.GetStringLength() == 0) {
            throw Error(where + " needs a \"name\": a non-empty string");
        }
        decl.name.assign(name_it->value.GetString(), name_it->value.GetStringLength());
        where += " (\"" + decl.name + "\")";
        for (auto m = element.MemberBegin(); m != element.MemberEnd(); ++m) {
            std::string key(m->name.GetString(), m->name.GetStringLength());
            const auto &value = m->value;
            if (key == "name") {
                continue;
            } else if (key == "type" || key == "path") {
                if (!value.IsString()) {
                    throw Error(where + ": \"" + key + "\" must be a string");
                }
                (key == "type" ? decl.type : decl.path).assign(value.GetString(), value.GetStringLength());
                has_path = has_path || key == "path";
            } else if (key == "format") {
                if (!value.IsString()) {
                    throw Error(where + ": \"format\" must be a string, one of: " + Join(kValueFormats));
                }
                decl.format.assign(value.GetString(), value.GetStringLength());
                if (!ValueFormatFromName(decl.format, &decl.value_format)) {
                    throw Error(where + ": unknown \"format\" \"" + decl.format +
                                "\"; known formats: " + Join(kValueFormats));
                }
            } else if (key == "primary_key" || key == "nullable") {
                if (!value.IsBool()) {
                    throw Error(where + ": \"" + key + "\" must be true or false");
                }
                if (key == "primary_key") {
                    decl.primary_key = value.GetBool();
                } else {
                    decl.nullable = value.GetBool();
                    nullable_given = true;
                }
            } else {
                throw Error(where + ": unknown key \"" + key +
                            "\"; known keys: name, type, primary_key, nullable, path, format");
            }
        }
        if (decl.type.empty()) {
            throw Error(where + " needs a \"type\": a PostgreSQL type name such as \"bigint\" or \"numeric(12,2)\"");
        }
        if (decl.primary_key) {
            if (nullable_given && decl.nullable) {
                throw Error(where + " is part of the primary key, so it cannot be \"nullable\": true");
            }
            decl.nullable = false;
        }
        if (!has_path) {
            decl.path = DefaultPath(decl.name);
        }
        try {
            decl.pointer = ParseJsonPointer(decl.path);
        } catch (const Error &e) {
            throw Error(where + ": \"path\": " + e.what());
        }
        if (!names.insert(decl.name).second) {
            throw Error("columns: the name \"" + decl.name + "\" is declared more than once");
        }
        decls.push_back(std::move(decl));
    }
    return decls;
}

// options.indexes: [{"columns": [...]} | {"expression": "..."}, with "using", "unique" and "where"].
static std::vector<IndexDecl> ParseIndexDecls(const rapidjson::Value &value) {
    if (!value.IsArray()) {
        throw Error("options: \"indexes\" must be an array such as [{\"columns\": [\"customer\"]}]");
    }
    std::vector<IndexDecl> indexes;
    for (rapidjson::SizeType i = 0; i < value.Size(); i++) {
        const rapidjson::Value &entry = value[i];
        std::string where = "options.indexes[" + std::to_string(i) + "]";
        if (!entry.IsObject()) {
            throw Error(where + " must be an object such as {\"columns\": [\"customer\"], \"unique\": true}");
        }
        IndexDecl index;
        bool has_columns = false;
        for (auto m = entry.MemberBegin(); m != entry.MemberEnd(); ++m) {
            std::string key(m->name.GetString(), m->name.GetStringLength());
            const rapidjson::Value &v = m->value;
            auto text = [&](std::string &into) {
                if (!v.IsString() || v.GetStringLength() == 0) {
                    throw Error(where + ": \"" + key + "\" must be a non-empty string");
                }
                into.assign(v.GetString(), v.GetStringLength());
            };
            if (key == "columns") {
                if (!v.IsArray() || v.Empty()) {
                    throw Error(where + ": \"columns\" must be a non-empty array of declared column names");
                }
                for (const auto &name : v.GetArray()) {
                    if (!name.IsString()) {
                        throw Error(where + ": \"columns\" must be a non-empty array of declared column names");
                    }
                    index.columns.emplace_back(name.GetString(), name.GetStringLength());
                }
                has_columns = true;
            } else if (key == "expression") {
                text(index.expression);
            } else if (key == "using") {
                text(index.method);
            } else if (key == "where") {
                text(index.where);
            } else if (key == "unique") {
                if (!v.IsBool()) {
                    throw Error(where + ": \"unique\" must be true or false");
                }
                index.unique = v.GetBool();
            } else {
                throw Error(where + ": unknown key \"" + key +
                            "\"; known keys: columns, expression, using, unique, where");
            }
        }
        if (has_columns == !index.expression.empty()) {
            throw Error(where + " needs either \"columns\" or \"expression\" (not both)");
        }
        indexes.push_back(std::move(index));
    }
    return indexes;
}

void CheckIndexColumns(const std::vector<IndexDecl> &indexes, const std::vector<ColumnDecl> &columns) {
    for (size_t i = 0; i < indexes.size(); i++) {
        for (const std::string &name : indexes[i].columns) {
            bool declared = false;
            for (const ColumnDecl &column : columns) {
                declared = declared || column.name == name;
            }
            if (!declared) {
                throw Error("options.indexes[" + std::to_string(i) + "]: \"" + name + "\" is not a declared column");
            }
        }
    }
}

namespace {
constexpr int64_t kMaxConcurrency = 16;
}  // namespace

SourceOptions ParseSourceOptions(const std::string &options_json) {
    rapidjson::Document doc = ParseJson("options", options_json);
    if (!doc.IsObject()) {
        throw Error("options must be a JSON object");
    }
    SourceOptions options;
    bool method_given = false;
    for (auto m = doc.MemberBegin(); m != doc.MemberEnd(); ++m) {
        std::string key(m->name.GetString(), m->name.GetStringLength());
        const auto &value = m->value;
        method_given = method_given || key == "method";
        if (ParseRequestOption(key, value, &options.request)) {
            continue;
        }
        if (key == "batch_rows") {
            if (!value.IsInt64() || value.GetInt64() < 1) {
                throw Error("options: \"batch_rows\" must be a positive integer");
            }
            options.batch_rows = value.GetInt64();
        } else if (key == "pagination") {
            rapidjson::StringBuffer text;
            rapidjson::Writer<rapidjson::StringBuffer> writer(text);
            value.Accept(writer);
            options.pagination = ParsePagination(text.GetString());
            options.pagination_given = true;
        } else if (key == "connect_timeout_ms" || key == "timeout_ms" || key == "max_response_bytes") {
            if (!value.IsInt64() || value.GetInt64() < 0 || (key == "connect_timeout_ms" && value.GetInt64() == 0)) {
                throw Error("options: \"" + key + "\" must be a " +
                            (key == "connect_timeout_ms" ? "positive" : "non-negative (0: no limit)") + " integer");
            }
            int64_t &field = key == "connect_timeout_ms" ? options.connect_timeout_ms
                             : key == "timeout_ms"       ? options.timeout_ms
                                                         : options.max_response_bytes;
            field = value.GetInt64();
        } else if (key == "on_error") {
            std::string mode = value.IsString() ? std::string(value.GetString(), value.GetStringLength()) : "";
            if (mode != "abort" && mode != "skip") {
                throw Error(
                    "options: \"on_error\" must be \"abort\" (a bad record fails its batch) or \"skip\" "
                    "(it goes to bulk_ingest.rejects and the run goes on)");
            }
            options.skip_bad_records = mode == "skip";
        } else if (key == "max_rejects") {
            if (!value.IsInt64() || value.GetInt64() < 0) {
                throw Error("options: \"max_rejects\" must be a non-negative integer");
            }
            options.max_rejects = value.GetInt64();
        } else if (key == "max_retry_time_ms") {
            if (!value.IsInt64() || value.GetInt64() < 1) {
                throw Error("options: \"max_retry_time_ms\" must be a positive integer (milliseconds)");
            }
            options.max_retry_time_ms = value.GetInt64();
        } else if (key == "high_watermark_path") {
            std::string path = value.IsString() ? std::string(value.GetString(), value.GetStringLength()) : "";
            std::string lower = path;
            for (char &c : lower) {
                c = static_cast<char>(tolower(static_cast<unsigned char>(c)));
            }
            if (lower == "header:etag") {
                options.high_watermark_header = "ETag";
            } else if (lower == "header:last-modified") {
                options.high_watermark_header = "Last-Modified";
            } else {
                throw Error("options: \"high_watermark_path\" must be \"header:ETag\" or \"header:Last-Modified\"");
            }
        } else if (key == "max_pages" || key == "max_retries") {
            if (!value.IsInt64() || value.GetInt64() < 0 || (key == "max_retries" && value.GetInt64() > 100)) {
                throw Error("options: \"" + key + "\" must be an integer from 0 to " +
                            (key == "max_retries" ? "100" : "2^63"));
            }
            if (key == "max_pages") {
                options.max_pages = value.GetInt64();
            } else {
                options.max_retries = static_cast<int>(value.GetInt64());
            }
        } else if (key == "concurrency") {
            if (!value.IsInt64() || value.GetInt64() < 1 || value.GetInt64() > kMaxConcurrency) {
                throw Error("options: \"concurrency\" must be an integer from 1 to " + std::to_string(kMaxConcurrency) +
                            " (the requests in flight at once)");
            }
            options.concurrency = static_cast<int>(value.GetInt64());
        } else if (key == "records_path") {
            if (!value.IsString()) {
                throw Error("options: \"records_path\" must be a JSON Pointer string, such as \"/data/items\"");
            }
            options.records_path.assign(value.GetString(), value.GetStringLength());
            try {
                ParseJsonPointer(options.records_path);
            } catch (const Error &e) {
                throw Error(std::string("options: \"records_path\": ") + e.what());
            }
        } else if (key == "headers") {
            if (!value.IsObject()) {
                throw Error(
                    "options: \"headers\" must be an object such as {\"Authorization\": \"Bearer {secret:token}\"}");
            }
            for (auto h = value.MemberBegin(); h != value.MemberEnd(); ++h) {
                std::string name(h->name.GetString(), h->name.GetStringLength());
                if (!h->value.IsString()) {
                    throw Error("options: \"headers\": the value of \"" + name + "\" must be a string");
                }
                std::string header_value(h->value.GetString(), h->value.GetStringLength());
                // The check every request makes again (with the secrets expanded): refused here, a header never
                // gets as far as a run.
                try {
                    CheckRequestHeader(name, header_value);
                } catch (const Error &e) {
                    throw Error(std::string("options: \"headers\": ") + e.what());
                }
                SecretReferences(header_value);  // checks the {secret:name} syntax
                options.headers.emplace_back(name, header_value);
            }
        } else if (key == "basic_auth") {
            auto username = value.IsObject() ? value.FindMember("username") : value.MemberEnd();
            auto password = value.IsObject() ? value.FindMember("password") : value.MemberEnd();
            if (!value.IsObject() || value.MemberCount() != 2 || username == value.MemberEnd() ||
                password == value.MemberEnd() || !username->value.IsString() || !password->value.IsString()) {
                throw Error("options: \"basic_auth\" must be {\"username\": \"...\", \"password\": \"{secret:name}\"}");
            }
            options.basic_auth.emplace(std::string(username->value.GetString(), username->value.GetStringLength()),
                                       std::string(password->value.GetString(), password->value.GetStringLength()));
            SecretReferences(options.basic_auth->first);
            SecretReferences(options.basic_auth->second);
        } else if (key == "csv") {
            options.csv = ParseCsvOptions(value);
            options.csv_given = true;
        } else if (key == "indexes") {
            options.indexes = ParseIndexDecls(value);
        } else if (key == "partition_by") {
            if (!value.IsString() || value.GetStringLength() == 0) {
                throw Error(
                    "options: \"partition_by\" must be a partitioning clause as a string, such as "
                    "\"RANGE (updated_at)\"");
            }
            options.partition_by.assign(value.GetString(), value.GetStringLength());
        } else if (key == "schedule") {
            if (!value.IsString()) {
                throw Error("options: \"schedule\" must be an interval as a string, such as \"15 minutes\"");
            }
            options.schedule = std::string(value.GetString(), value.GetStringLength());
        } else {
            std::vector<std::string> known = {"basic_auth",
                                              "batch_rows",
                                              "concurrency",
                                              "connect_timeout_ms",
                                              "csv",
                                              "headers",
                                              "high_watermark_path",
                                              "indexes",
                                              "max_pages",
                                              "max_rejects",
                                              "max_response_bytes",
                                              "max_retries",
                                              "max_retry_time_ms",
                                              "on_error",
                                              "pagination",
                                              "partition_by",
                                              "records_path",
                                              "schedule",
                                              "timeout_ms"};
            known.insert(known.end(), kRequestOptionKeys.begin(), kRequestOptionKeys.end());
            std::sort(known.begin(), known.end());
            throw Error("options: unknown key \"" + key + "\"; known keys: " + Join(known));
        }
    }
    RequestOptions &request = options.request;
    if (request.body && !method_given) {
        request.method = "POST";  // a body is posted
    }
    if (request.body && request.method != "POST") {
        throw Error("options: \"body\" is sent with \"method\": \"POST\", not " + request.method);
    }
    if (options.pagination.in_body && request.method != "POST") {
        throw Error(
            "options: \"pagination\" with \"in\": \"body\" carries its parameters in a JSON request body: "
            "declare \"method\": \"POST\" (and \"body\", {} by default)");
    }
    if (request.oauth2 && options.basic_auth) {
        throw Error("options: \"auth\" and \"basic_auth\" both authenticate the requests: declare one");
    }
    for (const auto &header : options.headers) {
        if (request.oauth2 && strcasecmp(header.first.c_str(), "Authorization") == 0) {
            throw Error(
                "options: \"auth\" sends the Authorization header (the bearer token): options.headers must "
                "not set it too");
        }
    }
    if (request.method == "POST" && !request.body) {
        request.body = "{}";
    }
    if (options.concurrency > 1 && options.pagination.type != PaginationType::kOffset &&
        options.pagination.type != PaginationType::kPage) {
        // The next URL of the other types is only known once the page before it is read.
        throw Error(std::string("options: \"concurrency\" applies to \"offset\" and \"page\" pagination, whose next "
                                "pages are known before a page is read; with ") +
                    (options.pagination_given ? "\"" + std::string(PaginationTypeName(options.pagination.type)) + "\""
                                              : "the default pagination (Link headers)") +
                    " pagination each page says where the next one is, and the next page is already requested while "
                    "a page is loaded");
    }
    if (!options.high_watermark_header.empty() && (options.pagination_given || options.max_pages > 0)) {
        // The header of the first page versions that page only: with more pages, a 304 of the first page would hide
        // the changes of the others for ever.
        throw Error("options: \"high_watermark_path\" (header:" + options.high_watermark_header +
                    ") versions a single " + "document: the first page's " + options.high_watermark_header +
                    " says nothing of the pages after it, so it cannot be combined with " +
                    (options.pagination_given ? "\"pagination\"" : "\"max_pages\"") +
                    "; use a high_watermark_column to read a paginated source incrementally");
    }
    return options;
}

std::vector<ColumnSpec> ToColumnSpecs(const std::vector<ColumnDecl> &decls, const std::vector<bool> &is_json) {
    std::vector<ColumnSpec> specs;
    specs.reserve(decls.size());
    for (size_t i = 0; i < decls.size(); i++) {
        ColumnSpec spec;
        spec.name = decls[i].name;
        spec.pointer = decls[i].pointer;
        spec.nullable = decls[i].nullable;
        spec.json = i < is_json.size() && is_json[i];
        spec.format = decls[i].value_format;
        if (spec.json && spec.format != ValueFormat::kNone) {
            throw Error("column \"" + spec.name + "\": \"format\": \"" + decls[i].format +
                        "\" does not apply to a json/jsonb column");
        }
        specs.push_back(std::move(spec));
    }
    return specs;
}

}  // namespace bulk_ingest
