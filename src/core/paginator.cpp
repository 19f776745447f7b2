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
        {PaginationType::kNextUrl, "next_url", {"type", "path"}},
        {PaginationType::kCursor, "cursor", {"type", "path", "param"}},
        {PaginationType::kOffset, "offset", {"type", "param", "limit_param", "limit", "start"}},
        {PaginationType::kPage, "page", {"type", "param", "start", "limit", "limit_param"}},
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

int HexValue(char c) {
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

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

    if (takes("path")) {
        const std::string what = spec.type == PaginationType::kCursor ? "the next cursor" : "the next page's URL";
        spec.path = *string_member(
            "path", "the JSON Pointer of " + what + " in the response body (e.g. " +
                        (spec.type == PaginationType::kCursor ? "\"/meta/next_cursor\")" : "\"/links/next\")"));
        try {
            spec.pointer = ParseJsonPointer(spec.path);
        } catch (const Error &e) {
            throw Error(subject + ": \"path\": " + e.what());
        }
    }
    if (takes("param")) {
        const char *role = spec.type == PaginationType::kCursor   ? "the query parameter that carries the cursor"
                           : spec.type == PaginationType::kOffset ? "the query parameter that carries the offset"
                                                                  : "the query parameter that carries the page number";
        spec.param = *string_member("param", role);
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
    return spec;
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
        first_url_ = SetQueryParameter(first_url_, spec_.param, std::to_string(position_));
        if (!spec_.limit_param.empty()) {
            first_url_ = SetQueryParameter(first_url_, spec_.limit_param, std::to_string(spec_.limit));
        }
    }
    current_url_ = first_url_;
}

std::optional<std::string> Paginator::Stop(std::string reason) {
    done_ = true;
    stop_reason_ = std::move(reason);
    return std::nullopt;
}

std::optional<std::string> Paginator::Next(const PageInfo &page) {
    if (done_) {
        return std::nullopt;
    }
    pages_++;
    const std::string base = page.url.empty() ? current_url_ : page.url;
    if (spec_.type == PaginationType::kNone) {
        return Stop("the source has a single page (no pagination)");
    }
    if (page.records == 0) {
        return Stop("page " + std::to_string(pages_) + " was empty");
    }

    std::optional<std::string> next;
    switch (spec_.type) {
        case PaginationType::kNone:
            break;
        case PaginationType::kLinkHeader:
            if (page.link_header) {
                next = FindNextLink(*page.link_header, base);
            }
            if (!next) {
                return Stop("page " + std::to_string(pages_) + " has no Link header with rel=\"next\"");
            }
            break;
        case PaginationType::kNextUrl: {
            std::string target = page.body_value.value_or("");
            if (target.find_first_not_of(" \t\r\n") == std::string::npos) {
                return Stop("page " + std::to_string(pages_) + " has no next URL at " + Quoted(spec_.path));
            }
            next = ResolveNextPageUrl(target, base);
            break;
        }
        case PaginationType::kCursor: {
            if (!page.body_value || page.body_value->empty()) {
                return Stop("page " + std::to_string(pages_) + " has no next cursor at " + Quoted(spec_.path));
            }
            if (last_cursor_ && *last_cursor_ == *page.body_value) {
                return Stop("page " + std::to_string(pages_) + " repeats the cursor " + Quoted(*page.body_value));
            }
            last_cursor_ = page.body_value;
            next = SetQueryParameter(current_url_, spec_.param, *page.body_value);
            break;
        }
        case PaginationType::kOffset:
        case PaginationType::kPage: {
            if (spec_.limit > 0 && page.records < static_cast<uint64_t>(spec_.limit)) {
                return Stop("page " + std::to_string(pages_) + " had " + std::to_string(page.records) +
                            " records, fewer than the limit of " + std::to_string(spec_.limit));
            }
            const uint64_t step = spec_.type == PaginationType::kOffset ? page.records : 1;
            if (step > static_cast<uint64_t>(INT64_MAX - position_)) {
                return Stop("the " + spec_.param + " parameter would overflow");
            }
            position_ += static_cast<int64_t>(step);
            next = SetQueryParameter(current_url_, spec_.param, std::to_string(position_));
            break;
        }
    }
    if (*next == current_url_ || *next == base) {
        return Stop("page " + std::to_string(pages_) + " links to itself (" + *next + ")");
    }
    if (max_pages_ > 0 && pages_ >= max_pages_) {
        stopped_at_max_pages_ = true;
        return Stop("max_pages (" + std::to_string(max_pages_) + ") reached; the source has more pages");
    }
    current_url_ = *next;
    return next;
}

PaginationSpec LinkHeaderPagination() {
    PaginationSpec spec;
    spec.type = PaginationType::kLinkHeader;
    return spec;
}

}  // namespace bulk_ingest
