// Pagination of a source: the next page's URL and when to stop (see paginator.h).
#include "paginator.h"

#include "text.h"

#include <curl/curl.h>
#include <rapidjson/document.h>
#include <rapidjson/error/en.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "error.h"
#include "json_pointer.h"
#include "url.h"

namespace bulk_ingest {

namespace {

const char kWhat[] = "options.pagination";

struct TypeInfo {
    PaginationType type;
    const char *name;
    std::vector<std::string> keys;  // the keys this type takes, "type" first
};

const std::vector<TypeInfo> &Types() {
    static const std::vector<TypeInfo> kTypes = {
        {PaginationType::kLinkHeader, "link_header", {"type"}},
        {PaginationType::kNextUrl, "next_url", {"type", "path", "has_more_path"}},
        {PaginationType::kCursor, "cursor", {"type", "path", "header", "param", "initial", "in", "has_more_path"}},
        {PaginationType::kOffset,
         "offset",
         {"type", "param", "limit_param", "limit", "start", "in", "has_more_path", "total_path"}},
        {PaginationType::kPage,
         "page",
         {"type", "param", "start", "limit", "limit_param", "in", "has_more_path", "total_path", "total_pages_path"}},
    };
    return kTypes;
}

std::string TypeNames() {
    std::vector<std::string> names;
    for (const TypeInfo &info : Types()) {
        names.push_back(info.name);
    }
    return Join(names);
}

// Owns a CURLU handle.
class UrlHandle {
  public:
    UrlHandle() : handle_(curl_url()) {
        if (handle_ == nullptr) {
            throw Error("out of memory while building a URL");
        }
    }
    ~UrlHandle() { curl_url_cleanup(handle_); }
    UrlHandle(const UrlHandle &) = delete;
    UrlHandle &operator=(const UrlHandle &) = delete;
    CURLU *get() const { return handle_; }

  private:
    CURLU *handle_;
};

// Decodes %XX (and '+' as a blank, as forms encode it) in a query parameter's name.
std::string DecodeQueryName(const std::string &text) {
    std::string out;
    for (size_t i = 0; i < text.size(); i++) {
        if (text[i] == '+') {
            out += ' ';
        } else if (text[i] == '%' && i + 2 < text.size() && HexValue(text[i + 1]) >= 0 && HexValue(text[i + 2]) >= 0) {
            out += static_cast<char>(HexValue(text[i + 1]) * 16 + HexValue(text[i + 2]));
            i += 2;
        } else {
            out += text[i];
        }
    }
    return out;
}

std::string Quoted(const std::string &text) {
    return "\"" + text + "\"";
}

}  // namespace

const char *PaginationTypeName(PaginationType type) {
    for (const TypeInfo &info : Types()) {
        if (info.type == type) {
            return info.name;
        }
    }
    return "none";
}

PaginationSpec ParsePagination(const std::string &pagination_json) {
    rapidjson::Document doc;
    doc.Parse(pagination_json.c_str(), pagination_json.size());
    if (doc.HasParseError()) {
        throw Error(std::string(kWhat) + " is not valid JSON at byte " + std::to_string(doc.GetErrorOffset()) + ": " +
                    rapidjson::GetParseError_En(doc.GetParseError()));
    }
    if (!doc.IsObject()) {
        throw Error(std::string(kWhat) + " must be a JSON object, e.g. {\"type\": \"link_header\"}");
    }
    auto type_member = doc.FindMember("type");
    if (type_member == doc.MemberEnd()) {
        throw Error(std::string(kWhat) + " needs \"type\", one of: " + TypeNames());
    }
    if (!type_member->value.IsString()) {
        throw Error(std::string(kWhat) + " \"type\" must be a string, one of: " + TypeNames());
    }
    const std::string type_name(type_member->value.GetString(), type_member->value.GetStringLength());
    const TypeInfo *info = nullptr;
    for (const TypeInfo &candidate : Types()) {
        if (type_name == candidate.name) {
            info = &candidate;
        }
    }
    if (info == nullptr) {
        throw Error("unknown " + std::string(kWhat) + " type " + Quoted(type_name) +
                    "; expected one of: " + TypeNames());
    }
    const std::string subject = std::string(kWhat) + " of type " + Quoted(type_name);

    // Keys the type does not take: a typo or a key of another type; either way the declaration is not understood.
    for (auto it = doc.MemberBegin(); it != doc.MemberEnd(); ++it) {
        const std::string key(it->name.GetString(), it->name.GetStringLength());
        bool known = false;
        for (const std::string &k : info->keys) {
            known = known || k == key;
        }
        if (!known) {
            throw Error(subject + " does not take " + Quoted(key) + "; it takes: " + Join(info->keys));
        }
    }

    PaginationSpec spec;
    spec.type = info->type;
    auto takes = [&](const char *key) {
        for (const std::string &k : info->keys) {
            if (k == key) {
                return true;
            }
        }
        return false;
    };
    // A required or optional string member that must not be empty; nullopt when absent.
    auto string_member = [&](const char *key, const std::string &needed_for) -> std::optional<std::string> {
        auto member = doc.FindMember(key);
        if (member == doc.MemberEnd()) {
            if (!needed_for.empty()) {
                throw Error(subject + " needs " + Quoted(key) + ", " + needed_for);
            }
            return std::nullopt;
        }
        if (!member->value.IsString()) {
            throw Error(subject + ": " + Quoted(key) + " must be a string");
        }
        std::string value(member->value.GetString(), member->value.GetStringLength());
        if (value.empty()) {
            throw Error(subject + ": " + Quoted(key) + " must not be empty");
        }
        return value;
    };
    auto integer_member = [&](const char *key, int64_t min, const char *expected) -> std::optional<int64_t> {
        auto member = doc.FindMember(key);
        if (member == doc.MemberEnd()) {
            return std::nullopt;
        }
        if (!member->value.IsInt64() || member->value.GetInt64() < min) {
            throw Error(subject + ": " + Quoted(key) + " must be " + expected);
        }
        return member->value.GetInt64();
    };

    auto pointer_member = [&](const char *key, std::string *into) {
        std::optional<std::string> value = string_member(key, "");
        if (!value) {
            return;
        }
        try {
            ParseJsonPointer(*value);
        } catch (const Error &e) {
            throw Error(subject + ": " + Quoted(key) + ": " + e.what());
        }
        *into = *value;
    };

    if (spec.type == PaginationType::kCursor) {
        // The next cursor is in the body (path) or in a response header (header).
        spec.header = string_member("header", "").value_or("");
        if (!spec.header.empty() && doc.HasMember("path")) {
            throw Error(subject +
                        " takes \"path\" (the cursor in the body) or \"header\" (in a response header), not "
                        "both");
        }
    }
    if (takes("path") && spec.header.empty()) {
        const std::string what = spec.type == PaginationType::kCursor ? "the next cursor" : "the next page's URL";
        spec.path = *string_member(
            "path", "the JSON Pointer of " + what + " in the response body (e.g. " +
                        (spec.type == PaginationType::kCursor ? "\"/meta/next_cursor\"), or \"header\", the response "
                                                                "header that carries it"
                                                              : "\"/links/next\")"));
        try {
            spec.pointer = ParseJsonPointer(spec.path);
        } catch (const Error &e) {
            throw Error(subject + ": \"path\": " + e.what());
        }
    }
    if (takes("in")) {
        std::optional<std::string> in = string_member("in", "");
        if (in && *in != "query" && *in != "body") {
            throw Error(subject + ": \"in\" must be \"query\" (the default) or \"body\" (the JSON request body)");
        }
        spec.in_body = in && *in == "body";
    }
    if (takes("param")) {
        const std::string where = spec.in_body ? "the body key" : "the query parameter";
        const char *role = spec.type == PaginationType::kCursor   ? " that carries the cursor"
                           : spec.type == PaginationType::kOffset ? " that carries the offset"
                                                                  : " that carries the page number";
        spec.param = *string_member("param", where + role);
    }
    if (takes("initial")) {
        auto member = doc.FindMember("initial");
        if (member != doc.MemberEnd()) {
            if (!member->value.IsString()) {
                throw Error(subject + ": \"initial\" must be a string (the cursor of the first request)");
            }
            spec.initial = std::string(member->value.GetString(), member->value.GetStringLength());
        }
    }
    if (takes("limit_param")) {
        spec.limit_param = string_member("limit_param", "").value_or("");
    }
    if (takes("limit")) {
        spec.limit = integer_member("limit", 1, "a positive integer (the records per page)").value_or(0);
        if (!spec.limit_param.empty() && spec.limit == 0) {
            throw Error(subject + " needs \"limit\" (the records per page) with \"limit_param\"");
        }
        if (spec.limit_param == spec.param && !spec.param.empty()) {
            throw Error(subject + ": \"limit_param\" and \"param\" must differ");
        }
    }
    if (takes("start")) {
        const int64_t default_start = spec.type == PaginationType::kPage ? 1 : 0;
        spec.start = integer_member("start", 0, "a non-negative integer").value_or(default_start);
    }
    if (takes("has_more_path")) {
        pointer_member("has_more_path", &spec.has_more_path);
    }
    if (takes("total_path")) {
        pointer_member("total_path", &spec.total_path);
    }
    if (takes("total_pages_path")) {
        pointer_member("total_pages_path", &spec.total_pages_path);
    }
    return spec;
}

std::vector<std::string> PaginationSpec::BodyPaths() const {
    std::vector<std::string> paths;
    for (const std::string *path : {&this->path, &has_more_path, &total_path, &total_pages_path}) {
        if (!path->empty()) {
            paths.push_back(*path);
        }
    }
    return paths;
}

std::string SetQueryParameter(const std::string &url, const std::string &name, const std::string &value) {
    UrlHandle handle;
    CURLUcode rc = curl_url_set(handle.get(), CURLUPART_URL, url.c_str(), 0);
    if (rc != CURLUE_OK) {
        throw Error("cannot set the query parameter \"" + name + "\" of \"" + url + "\": it is not a valid URL (" +
                    curl_url_strerror(rc) + ")");
    }
    std::string kept;
    char *query = nullptr;
    if (curl_url_get(handle.get(), CURLUPART_QUERY, &query, 0) == CURLUE_OK && query != nullptr) {
        const std::string text(query);
        curl_free(query);
        size_t start = 0;
        while (start <= text.size()) {
            size_t end = text.find('&', start);
            if (end == std::string::npos) {
                end = text.size();
            }
            const std::string part = text.substr(start, end - start);
            const std::string part_name = part.substr(0, part.find('='));
            if (!part.empty() && DecodeQueryName(part_name) != name) {
                kept += kept.empty() ? "" : "&";
                kept += part;
            }
            start = end + 1;
        }
    }
    rc = curl_url_set(handle.get(), CURLUPART_QUERY, kept.empty() ? nullptr : kept.c_str(), 0);
    if (rc == CURLUE_OK) {
        const std::string pair = PercentEncode(name) + "=" + PercentEncode(value);
        rc = curl_url_set(handle.get(), CURLUPART_QUERY, pair.c_str(), CURLU_APPENDQUERY);
    }
    char *result = nullptr;
    if (rc == CURLUE_OK) {
        rc = curl_url_get(handle.get(), CURLUPART_URL, &result, 0);
    }
    if (rc != CURLUE_OK || result == nullptr) {
        throw Error("cannot set the query parameter \"" + name + "\" of \"" + url + "\": " + curl_url_strerror(rc));
    }
    std::string out(result);
    curl_free(result);
    return out;
}

Paginator::Paginator(PaginationSpec spec, const std::string &first_url, int64_t max_pages)
    : spec_(std::move(spec)), max_pages_(max_pages), first_url_(first_url) {
    if (max_pages_ < 0) {
        throw Error("max_pages must not be negative");
    }
    if (spec_.type == PaginationType::kOffset || spec_.type == PaginationType::kPage) {
        position_ = spec_.start;
        if (!spec_.in_body) {
            first_url_ = SetQueryParameter(first_url_, spec_.param, std::to_string(position_));
            if (!spec_.limit_param.empty()) {
                first_url_ = SetQueryParameter(first_url_, spec_.limit_param, std::to_string(spec_.limit));
            }
        }
    }
    if (spec_.type == PaginationType::kCursor && spec_.initial) {
        cursor_ = spec_.initial;
        if (!spec_.in_body) {
            first_url_ = SetQueryParameter(first_url_, spec_.param, *cursor_);
        }
    }
    current_url_ = first_url_;
}

void Paginator::Resume(const PaginatorState &state) {
    first_url_ = current_url_ = state.url;
    position_ = state.position;
    cursor_ = state.cursor;
    records_ = state.records;
}

std::optional<std::string> Paginator::Stop(std::string reason) {
    done_ = true;
    stop_reason_ = std::move(reason);
    return std::nullopt;
}

std::vector<BodyParameter> Paginator::ParametersAt(int64_t position, const std::optional<std::string> &cursor) const {
    std::vector<BodyParameter> parameters;
    if (!spec_.in_body) {
        return parameters;
    }
    if (spec_.type == PaginationType::kOffset || spec_.type == PaginationType::kPage) {
        parameters.push_back({spec_.param, std::to_string(position), true});
        if (!spec_.limit_param.empty()) {
            parameters.push_back({spec_.limit_param, std::to_string(spec_.limit), true});
        }
    } else if (spec_.type == PaginationType::kCursor && cursor) {
        parameters.push_back({spec_.param, *cursor, false});
    }
    return parameters;
}

std::vector<BodyParameter> Paginator::BodyParameters() const {
    return ParametersAt(position_, cursor_);
}

std::string Paginator::WithParameter(const std::string &url, const std::string &value) const {
    return spec_.in_body ? url : SetQueryParameter(url, spec_.param, value);
}

namespace {

// A non-negative integer of the body (a total), or an Error naming the page and the path.
uint64_t CountOf(const std::string &value, const std::string &path, int64_t page) {
    std::string digits = value;
    while (!digits.empty() && (digits.back() == ' ')) {
        digits.pop_back();
    }
    if (digits.empty() || digits.size() > 18 || digits.find_first_not_of("0123456789") != std::string::npos) {
        throw Error("page " + std::to_string(page) + ": the value at " + Quoted(path) +
                    " is not a count: " + Quoted(value));
    }
    return std::stoull(digits);
}

}  // namespace

std::optional<std::string> Paginator::Next(const PageInfo &page) {
    if (done_) {
        return std::nullopt;
    }
    pages_++;
    records_ += page.records;
    const std::string base = page.url.empty() ? current_url_ : page.url;
    const std::string at = "page " + std::to_string(pages_);
    if (spec_.type == PaginationType::kNone) {
        return Stop("the source has a single page (no pagination)");
    }
    if (page.records == 0) {
        return Stop(at + " was empty");
    }
    if (!spec_.has_more_path.empty()) {
        if (!page.has_more || (*page.has_more != "true" && *page.has_more != "false")) {
            throw Error(at + " has no boolean at " + Quoted(spec_.has_more_path) + " (has_more_path)" +
                        (page.has_more ? ": it has " + Quoted(*page.has_more) : ""));
        }
        if (*page.has_more == "false") {
            return Stop(at + " says there is no more data (" + spec_.has_more_path + " is false)");
        }
    }
    if (!spec_.total_path.empty() && page.total) {
        total_ = CountOf(*page.total, spec_.total_path, pages_);
    }
    if (!spec_.total_pages_path.empty() && page.total_pages) {
        total_pages_ = CountOf(*page.total_pages, spec_.total_pages_path, pages_);
    }
    if (!spec_.total_path.empty()) {
        if (!total_) {
            throw Error(at + " has no total at " + Quoted(spec_.total_path) + " (total_path)");
        }
        const uint64_t read = spec_.type == PaginationType::kOffset
                                  ? static_cast<uint64_t>(position_ - spec_.start) + page.records
                                  : records_;
        if (read >= *total_) {
            return Stop(at + " reached the total of " + std::to_string(*total_) + " records");
        }
    }
    if (!spec_.total_pages_path.empty()) {
        if (!total_pages_) {
            throw Error(at + " has no page count at " + Quoted(spec_.total_pages_path) + " (total_pages_path)");
        }
        if (static_cast<uint64_t>(position_ - spec_.start + 1) >= *total_pages_) {
            return Stop(at + " is the last of " + std::to_string(*total_pages_) + " pages");
        }
    }

    std::optional<std::string> next;
    std::optional<std::string> next_cursor = cursor_;
    int64_t next_position = position_;
    switch (spec_.type) {
        case PaginationType::kNone:
            break;
        case PaginationType::kLinkHeader:
            if (page.link_header) {
                next = FindNextLink(*page.link_header, base);
            }
            if (!next) {
                return Stop(at + " has no Link header with rel=\"next\"");
            }
            break;
        case PaginationType::kNextUrl: {
            std::string target = page.body_value.value_or("");
            if (target.find_first_not_of(" \t\r\n") == std::string::npos) {
                return Stop(at + " has no next URL at " + Quoted(spec_.path));
            }
            next = ResolveNextPageUrl(target, base);
            break;
        }
        case PaginationType::kCursor: {
            const std::optional<std::string> &value = spec_.header.empty() ? page.body_value : page.cursor_header;
            const std::string where =
                spec_.header.empty() ? "at " + Quoted(spec_.path) : "in the header " + spec_.header;
            if (!value || value->empty()) {
                return Stop(at + " has no next cursor " + where);
            }
            if (cursor_) {
                seen_.insert(*cursor_);
            }
            if (seen_.count(*value) > 0) {
                throw Error(at + " gives the cursor " + Quoted(*value) + " " + where +
                            " again: the server's pagination loops (a run would never end)");
            }
            next_cursor = *value;
            next = WithParameter(current_url_, *value);
            break;
        }
        case PaginationType::kOffset:
        case PaginationType::kPage: {
            if (spec_.limit > 0 && page.records < static_cast<uint64_t>(spec_.limit)) {
                return Stop(at + " had " + std::to_string(page.records) + " records, fewer than the limit of " +
                            std::to_string(spec_.limit));
            }
            const uint64_t step = spec_.type == PaginationType::kOffset ? page.records : 1;
            if (step > static_cast<uint64_t>(INT64_MAX - position_)) {
                return Stop("the " + spec_.param + " parameter would overflow");
            }
            next_position = position_ + static_cast<int64_t>(step);
            next = WithParameter(current_url_, std::to_string(next_position));
            break;
        }
    }
    if (spec_.type == PaginationType::kLinkHeader || spec_.type == PaginationType::kNextUrl) {
        seen_.insert(current_url_);
        seen_.insert(base);
        if (seen_.count(*next) > 0) {
            throw Error(at + " links to " + (*next == current_url_ || *next == base ? "itself" : "an earlier page") +
                        " (" + *next + "): the server's pagination loops (a run would never end)");
        }
    }
    position_ = next_position;
    cursor_ = next_cursor;
    if (max_pages_ > 0 && pages_ >= max_pages_) {
        stopped_at_max_pages_ = true;
        resume_ = PaginatorState{*next, position_, cursor_, records_};
        return Stop("max_pages (" + std::to_string(max_pages_) + ") reached; the source has more pages");
    }
    current_url_ = *next;
    return next;
}

std::vector<std::pair<std::string, std::vector<BodyParameter>>> Paginator::PredictFullPages(
    size_t n, uint64_t records_per_page) const {
    std::vector<std::pair<std::string, std::vector<BodyParameter>>> predicted;
    if (spec_.type != PaginationType::kOffset && spec_.type != PaginationType::kPage) {
        return predicted;
    }
    const uint64_t records = spec_.limit > 0 ? static_cast<uint64_t>(spec_.limit) : records_per_page;
    if (records == 0) {
        return predicted;
    }
    Paginator ahead = *this;
    PageInfo full;
    full.records = records;
    if (!spec_.has_more_path.empty()) {
        full.has_more = "true";
    }
    try {
        for (size_t i = 0; i < n; i++) {
            std::optional<std::string> next = ahead.Next(full);
            if (!next) {
                break;
            }
            predicted.emplace_back(*next, ahead.BodyParameters());
        }
    } catch (const Error &) {
        // (a total not declared yet, say: the pages are then requested one after the other)
    }
    return predicted;
}

PaginationSpec LinkHeaderPagination() {
    PaginationSpec spec;
    spec.type = PaginationType::kLinkHeader;
    return spec;
}

}  // namespace bulk_ingest
