#include "resume_state.h"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <string>
#include <utility>
#include <vector>

#include "error.h"
#include "url.h"

namespace bulk_ingest {

namespace {

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

// Writes text as an array of parts: literal strings and {"secret": name, "encoded": bool} for each occurrence of a
// secret's value (the longest match first, so that a secret that contains another is kept whole).
void WriteParts(Writer &writer, const std::string &text, const SecretMap &secrets) {
    struct Needle {
        std::string text;
        std::string name;
        bool encoded;
    };
    std::vector<Needle> needles;
    for (const auto &[name, value] : secrets) {
        if (value.empty()) {
            continue;
        }
        needles.push_back({value, name, false});
        const std::string encoded = PercentEncode(value);
        if (encoded != value) {
            needles.push_back({encoded, name, true});
        }
    }
    writer.StartArray();
    std::string literal;
    size_t pos = 0;
    while (pos < text.size()) {
        const Needle *match = nullptr;
        for (const Needle &needle : needles) {
            if (text.compare(pos, needle.text.size(), needle.text) == 0 &&
                (match == nullptr || needle.text.size() > match->text.size())) {
                match = &needle;
            }
        }
        if (match == nullptr) {
            literal += text[pos++];
            continue;
        }
        if (!literal.empty()) {
            writer.String(literal.c_str(), static_cast<rapidjson::SizeType>(literal.size()));
            literal.clear();
        }
        writer.StartObject();
        writer.Key("secret");
        writer.String(match->name.c_str(), static_cast<rapidjson::SizeType>(match->name.size()));
        writer.Key("encoded");
        writer.Bool(match->encoded);
        writer.EndObject();
        pos += match->text.size();
    }
    if (!literal.empty()) {
        writer.String(literal.c_str(), static_cast<rapidjson::SizeType>(literal.size()));
    }
    writer.EndArray();
}

std::optional<std::string> ReadParts(const rapidjson::Value &parts, const SecretMap &secrets) {
    if (!parts.IsArray()) {
        return std::nullopt;
    }
    std::string text;
    for (const auto &part : parts.GetArray()) {
        if (part.IsString()) {
            text.append(part.GetString(), part.GetStringLength());
            continue;
        }
        if (!part.IsObject() || !part.HasMember("secret") || !part["secret"].IsString()) {
            return std::nullopt;
        }
        const std::string name = part["secret"].GetString();
        auto it = secrets.find(name);
        if (it == secrets.end()) {
            throw Error("secret \"" + name + "\" is not set; set it with bulk_ingest_set_secret()");
        }
        const bool encoded = part.HasMember("encoded") && part["encoded"].IsBool() && part["encoded"].GetBool();
        text += encoded ? PercentEncode(it->second) : it->second;
    }
    return text;
}

}  // namespace

std::string EncodeResumeState(const PaginatorState &state, const std::string &fingerprint, const SecretMap &secrets) {
    rapidjson::StringBuffer buffer;
    Writer writer(buffer);
    writer.StartObject();
    writer.Key("fingerprint");
    writer.String(fingerprint.c_str(), static_cast<rapidjson::SizeType>(fingerprint.size()));
    writer.Key("url");
    WriteParts(writer, state.url, secrets);
    writer.Key("position");
    writer.Int64(state.position);
    writer.Key("cursor");
    if (state.cursor) {
        WriteParts(writer, *state.cursor, secrets);
    } else {
        writer.Null();
    }
    writer.Key("records");
    writer.Uint64(state.records);
    writer.EndObject();
    return std::string(buffer.GetString(), buffer.GetSize());
}

std::optional<PaginatorState> DecodeResumeState(const std::string &json, const std::string &fingerprint,
                                                const SecretMap &secrets) {
    rapidjson::Document doc;
    doc.Parse(json.c_str(), json.size());
    if (doc.HasParseError() || !doc.IsObject() || !doc.HasMember("fingerprint") || !doc["fingerprint"].IsString() ||
        fingerprint != doc["fingerprint"].GetString() || !doc.HasMember("url") || !doc.HasMember("position") ||
        !doc["position"].IsInt64() || !doc.HasMember("records") || !doc["records"].IsUint64()) {
        return std::nullopt;
    }
    PaginatorState state;
    std::optional<std::string> url = ReadParts(doc["url"], secrets);
    if (!url) {
        return std::nullopt;
    }
    state.url = *url;
    state.position = doc["position"].GetInt64();
    state.records = doc["records"].GetUint64();
    if (doc.HasMember("cursor") && !doc["cursor"].IsNull()) {
        state.cursor = ReadParts(doc["cursor"], secrets);
        if (!state.cursor) {
            return std::nullopt;
        }
    }
    return state;
}

std::string EncodeResumePoint(const ResumePoint &point, const std::string &fingerprint, const SecretMap &secrets) {
    rapidjson::StringBuffer buffer;
    Writer writer(buffer);
    writer.StartObject();
    writer.Key("fingerprint");
    writer.String(fingerprint.c_str(), static_cast<rapidjson::SizeType>(fingerprint.size()));
    if (point.window) {
        writer.Key("window");
        writer.String(point.window->c_str(), static_cast<rapidjson::SizeType>(point.window->size()));
    }
    if (point.pages) {
        const std::string pages = EncodeResumeState(*point.pages, fingerprint, secrets);
        writer.Key("pages");
        writer.RawValue(pages.c_str(), pages.size(), rapidjson::kObjectType);
    }
    writer.EndObject();
    return std::string(buffer.GetString(), buffer.GetSize());
}

ResumePoint DecodeResumePoint(const std::string &json, const std::string &fingerprint, const SecretMap &secrets) {
    ResumePoint point;
    rapidjson::Document doc;
    doc.Parse(json.c_str(), json.size());
    if (doc.HasParseError() || !doc.IsObject() || !doc.HasMember("fingerprint") || !doc["fingerprint"].IsString() ||
        fingerprint != doc["fingerprint"].GetString()) {
        return point;
    }
    if (doc.HasMember("window") && doc["window"].IsString()) {
        point.window = doc["window"].GetString();
    }
    if (doc.HasMember("pages") && doc["pages"].IsObject()) {
        rapidjson::StringBuffer buffer;
        Writer writer(buffer);
        doc["pages"].Accept(writer);
        point.pages = DecodeResumeState(std::string(buffer.GetString(), buffer.GetSize()), fingerprint, secrets);
    }
    return point;
}

std::string ResumeFingerprint(const std::string &url_template, const PaginationSpec &p) {
    std::string text = url_template;
    for (const std::string *part :
         {&p.path, &p.header, &p.param, &p.limit_param, &p.has_more_path, &p.total_path, &p.total_pages_path}) {
        text += "\n" + *part;
    }
    text += "\n" + std::string(PaginationTypeName(p.type)) + "\n" + std::to_string(p.limit) + "\n" +
            std::to_string(p.start) + (p.in_body ? "\nbody" : "\nquery");
    return text;
}

}  // namespace bulk_ingest
