#include "request_options.h"

#include <rapidjson/error/en.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cctype>
#include <cmath>

#include "error.h"
#include "json_pointer.h"
#include "text.h"

namespace bulk_ingest {

const std::vector<std::string> kRequestOptionKeys = {"auth",   "body",      "deleted_path", "lag",
                                                     "method", "on_status", "rate_limit",   "window"};

namespace {

std::string Text(const rapidjson::Value &value) {
    return std::string(value.GetString(), value.GetStringLength());
}

std::string JsonText(const rapidjson::Value &value) {
    rapidjson::StringBuffer buffer;
    rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
    value.Accept(writer);
    return std::string(buffer.GetString(), buffer.GetSize());
}

}  // namespace

bool ParseRequestOption(const std::string &key, const rapidjson::Value &value, RequestOptions *options) {
    if (key == "lag") {
        if (value.IsString() && value.GetStringLength() > 0) {
            options->lag = Text(value);
        } else if (value.IsNumber() && value.GetDouble() >= 0 && std::isfinite(value.GetDouble())) {
            options->lag = JsonText(value);
            options->lag_is_number = true;
        } else {
            throw Error(
                "options: \"lag\" must be an interval such as \"2 hours\" (a time watermark) or a "
                "non-negative number (a numeric watermark)");
        }
        return true;
    }
    if (key == "window") {
        if (!value.IsObject()) {
            throw Error(
                "options: \"window\" must be an object such as {\"step\": \"1 day\", \"start\": "
                "\"2024-01-01T00:00:00Z\"}");
        }
        WindowSpec window;
        for (auto m = value.MemberBegin(); m != value.MemberEnd(); ++m) {
            const std::string name = Text(m->name);
            if ((name != "step" && name != "start") || !m->value.IsString() || m->value.GetStringLength() == 0) {
                throw Error(
                    "options: \"window\": " +
                    (name == "step" || name == "start"
                         ? "\"" + name + "\" must be a non-empty string"
                         : "unknown key \"" + name + "\"; known keys: start (a timestamp), step (an interval)"));
            }
            (name == "step" ? window.step : window.start.emplace()) = Text(m->value);
        }
        if (window.step.empty()) {
            throw Error("options: \"window\" needs \"step\", the length of a window, such as \"1 day\"");
        }
        options->window = window;
        return true;
    }
    if (key == "method") {
        const std::string method = value.IsString() ? Text(value) : "";
        if (method != "GET" && method != "POST") {
            throw Error("options: \"method\" must be \"GET\" or \"POST\"");
        }
        options->method = method;
        return true;
    }
    if (key == "body") {
        if (!value.IsObject() && !value.IsArray()) {
            throw Error(
                "options: \"body\" must be a JSON object (or array): the request body, whose strings may hold "
                "{high_watermark}, {window_start}, {window_end} and {secret:name}");
        }
        options->body = JsonText(value);
        return true;
    }
    if (key == "deleted_path") {
        if (!value.IsString() || value.GetStringLength() == 0) {
            throw Error(
                "options: \"deleted_path\" must be a JSON Pointer such as \"/deleted\" (a CSV column: "
                "\"/<header name>\")");
        }
        options->deleted_path = Text(value);
        try {
            options->deleted_pointer = ParseJsonPointer(options->deleted_path);
        } catch (const Error &e) {
            throw Error(std::string("options: \"deleted_path\": ") + e.what());
        }
        return true;
    }
    if (key == "rate_limit") {
        if (!value.IsNumber() || !(value.GetDouble() > 0) || !std::isfinite(value.GetDouble()) ||
            value.GetDouble() > 1000000) {
            throw Error(
                "options: \"rate_limit\" must be a positive number: the most requests per second to the "
                "source's host (0.5: one every two seconds)");
        }
        options->rate_limit = value.GetDouble();
        return true;
    }
    if (key == "auth") {
        options->oauth2 = ParseOAuth2(value);
        return true;
    }
    if (key == "on_status") {
        if (!value.IsObject()) {
            throw Error("options: \"on_status\" must be an object such as {\"404\": \"end\"}");
        }
        for (auto m = value.MemberBegin(); m != value.MemberEnd(); ++m) {
            const std::string status_text = Text(m->name);
            long status = 0;
            bool numeric = status_text.size() == 3 && status_text.find_first_not_of("0123456789") == std::string::npos;
            if (numeric) {
                status = std::stol(status_text);
            }
            // 2xx answers are data (but 204, No Content, may say it ends), 3xx redirects are followed.
            if (!numeric || !(status == 204 || (status >= 400 && status <= 599))) {
                throw Error("options: \"on_status\": \"" + status_text +
                            "\" is not a status it can apply to: 204 or 400 to 599");
            }
            const std::string action = m->value.IsString() ? Text(m->value) : "";
            if (action == "end") {
                options->on_status[status] = StatusAction::kEnd;
            } else if (action == "retry") {
                options->on_status[status] = StatusAction::kRetry;
            } else if (action == "fail") {
                options->on_status[status] = StatusAction::kFail;
            } else {
                throw Error("options: \"on_status\": \"" + status_text +
                            "\" must be \"end\" (the end of the data, not a failure), \"retry\" (retried like a "
                            "transient failure) or \"fail\"");
            }
        }
        return true;
    }
    return false;
}

bool IsTrueText(std::string_view text) {
    while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) {
        text.remove_prefix(1);
    }
    while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) {
        text.remove_suffix(1);
    }
    std::string lower(text);
    for (char &c : lower) {
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    return lower == "true" || lower == "t" || lower == "yes" || lower == "y" || lower == "on" || lower == "1";
}

std::optional<StatusAction> ActionFor(const RequestOptions &options, long status) {
    auto it = options.on_status.find(status);
    if (it == options.on_status.end()) {
        return std::nullopt;
    }
    return it->second;
}

std::string SetBodyParameter(const std::string &body, const std::string &name, const std::string &value, bool number) {
    rapidjson::Document doc;
    doc.Parse(body.c_str(), body.size());
    if (doc.HasParseError() || !doc.IsObject()) {
        throw Error("the request body must be a JSON object to carry the pagination's \"" + name + "\"");
    }
    std::vector<std::string> path =
        name.empty() || name[0] != '/' ? std::vector<std::string>{name} : ParseJsonPointer(name);
    rapidjson::Value *node = &doc;
    auto &allocator = doc.GetAllocator();
    for (size_t i = 0; i < path.size(); i++) {
        if (!node->IsObject()) {
            throw Error("the request body has no object at \"" + name + "\" for the pagination's parameter");
        }
        rapidjson::Value key(path[i].c_str(), static_cast<rapidjson::SizeType>(path[i].size()), allocator);
        auto member = node->FindMember(key);
        if (member == node->MemberEnd()) {
            rapidjson::Value child(rapidjson::kObjectType);
            node->AddMember(key, child, allocator);
            member = node->FindMember(rapidjson::StringRef(path[i].c_str(), path[i].size()));
        }
        node = &member->value;
    }
    if (number) {
        rapidjson::Document parsed;
        parsed.Parse(value.c_str(), value.size());
        node->CopyFrom(parsed, allocator);
    } else {
        node->SetString(value.c_str(), static_cast<rapidjson::SizeType>(value.size()), allocator);
    }
    return JsonText(doc);
}

}  // namespace bulk_ingest
