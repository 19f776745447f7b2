// The watermark as a request sends it: placeholders and the forms of a value (see watermark_format.h).
#include "watermark_format.h"

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cstdio>
#include <functional>
#include <string>

#include "error.h"
#include "text.h"
#include "url.h"

namespace bulk_ingest {

const std::vector<std::string> kValueFormNames = {"iso8601", "epoch", "epoch_ms", "date", "pg"};

namespace {

constexpr int64_t kUsPerSecond = 1000000;
constexpr int64_t kUsPerDay = 86400 * kUsPerSecond;
constexpr std::string_view kSecretOpen = "{secret:";

bool IsTimeKind(ValueKind kind) {
    return kind == ValueKind::kTimestampTz || kind == ValueKind::kTimestamp || kind == ValueKind::kDate;
}

bool IsDigit(char c) {
    return c >= '0' && c <= '9';
}

int64_t FloorDiv(int64_t a, int64_t b) {
    int64_t q = a / b;
    return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

// The proleptic Gregorian date of a day count since 1970-01-01 (H. Hinnant's civil_from_days).
void CivilFromDays(int64_t days, int64_t *year, int *month, int *day) {
    days += 719468;
    const int64_t era = FloorDiv(days, 146097);
    const int64_t doe = days - era * 146097;
    const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const int64_t mp = (5 * doy + 2) / 153;
    *day = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
    *month = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
    *year = yoe + era * 400 + (*month <= 2 ? 1 : 0);
}

// "<integer>[.<fraction>]" of magnitude / 10^scale_digits, the fraction without trailing zeros.
std::string Decimal(int64_t value, int scale_digits) {
    std::string sign = value < 0 ? "-" : "";
    uint64_t magnitude = value < 0 ? static_cast<uint64_t>(-(value + 1)) + 1 : static_cast<uint64_t>(value);
    uint64_t scale = 1;
    for (int i = 0; i < scale_digits; i++) {
        scale *= 10;
    }
    std::string text = sign + std::to_string(magnitude / scale);
    uint64_t fraction = magnitude % scale;
    if (fraction != 0) {
        std::string digits = std::to_string(fraction);
        digits.insert(0, static_cast<size_t>(scale_digits) - digits.size(), '0');
        while (digits.back() == '0') {
            digits.pop_back();
        }
        text += "." + digits;
    }
    return text;
}

// fraction_digits < 0: as many as needed (none for whole seconds, else up to 6 without trailing zeros).
std::string Format(int64_t epoch_us, const TimestampStyle &style, int fraction_digits) {
    const int64_t days = FloorDiv(epoch_us, kUsPerDay);
    const int64_t of_day = epoch_us - days * kUsPerDay;
    int64_t year;
    int month, day;
    CivilFromDays(days, &year, &month, &day);
    if (year < 1 || year > 9999) {
        throw Error("the year " + std::to_string(year) + " has no ISO 8601 form of four digits");
    }
    char buf[64];
    std::snprintf(buf, sizeof(buf), "%04d-%02d-%02d", static_cast<int>(year), month, day);
    std::string text = buf;
    if (style.date_only) {
        return text;
    }
    const int64_t seconds = of_day / kUsPerSecond;
    const int64_t micros = of_day % kUsPerSecond;
    std::snprintf(buf, sizeof(buf), "%c%02d:%02d", style.separator, static_cast<int>(seconds / 3600),
                  static_cast<int>(seconds / 60 % 60));
    text += buf;
    if (style.seconds) {
        std::snprintf(buf, sizeof(buf), ":%02d", static_cast<int>(seconds % 60));
        text += buf;
        std::snprintf(buf, sizeof(buf), "%06d", static_cast<int>(micros));
        std::string digits = buf;
        if (fraction_digits < 0) {
            while (!digits.empty() && digits.back() == '0') {
                digits.pop_back();
            }
        } else if (fraction_digits <= 6) {
            digits.resize(static_cast<size_t>(fraction_digits));
        } else {
            digits.append(static_cast<size_t>(fraction_digits - 6), '0');
        }
        if (!digits.empty()) {
            text += "." + digits;
        }
    }
    return text + style.zone;
}

std::string Epoch(const TemplateValue &value, int scale_digits) {
    // epoch_us in units of 10^-scale_digits seconds, the rest as a fraction.
    return scale_digits == 0 ? Decimal(value.epoch_us, 6) : Decimal(value.epoch_us, 3);
}

bool IsJsonNumber(const std::string &text) {
    size_t i = 0;
    const size_t n = text.size();
    if (i < n && text[i] == '-') {
        i++;
    }
    if (i >= n || !IsDigit(text[i])) {
        return false;
    }
    if (text[i] == '0') {
        i++;
    } else {
        while (i < n && IsDigit(text[i])) {
            i++;
        }
    }
    if (i < n && text[i] == '.') {
        i++;
        if (i >= n || !IsDigit(text[i])) {
            return false;
        }
        while (i < n && IsDigit(text[i])) {
            i++;
        }
    }
    if (i < n && (text[i] == 'e' || text[i] == 'E')) {
        i++;
        if (i < n && (text[i] == '+' || text[i] == '-')) {
            i++;
        }
        if (i >= n || !IsDigit(text[i])) {
            return false;
        }
        while (i < n && IsDigit(text[i])) {
            i++;
        }
    }
    return i == n;
}

bool IsIdentifierCharacter(char c) {
    return (c >= 'a' && c <= 'z') || c == '_';
}

bool IsSecretNameCharacter(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || IsDigit(c) || c == '_' || c == '-';
}

const PlaceholderName kNames[] = {PlaceholderName::kHighWatermark, PlaceholderName::kWindowStart,
                                  PlaceholderName::kWindowEnd};

// Walks text: literal(from, to) for plain text, secret(name) for {secret:name}, value(placeholder) for a value
// placeholder.
void Scan(const std::string &text, const std::function<void(size_t, size_t)> &literal,
          const std::function<void(const std::string &)> &secret,
          const std::function<void(const Placeholder &)> &value) {
    size_t pos = 0;
    size_t plain = 0;  // start of the pending plain text
    while ((pos = text.find('{', pos)) != std::string::npos) {
        if (text.compare(pos, kSecretOpen.size(), kSecretOpen) == 0) {
            size_t start = pos + kSecretOpen.size();
            size_t end = start;
            while (end < text.size() && IsSecretNameCharacter(text[end])) {
                end++;
            }
            if (end < text.size() && text[end] == '}' && end > start && end - start <= 64) {
                literal(plain, pos);
                secret(text.substr(start, end - start));
                pos = plain = end + 1;
                continue;
            }
            // Not a valid reference: SecretReferences() refuses it at registration, so it is plain text here.
            pos++;
            continue;
        }
        size_t end = pos + 1;
        while (end < text.size() && IsIdentifierCharacter(text[end])) {
            end++;
        }
        const std::string name = text.substr(pos + 1, end - pos - 1);
        const PlaceholderName *found = nullptr;
        for (const PlaceholderName &candidate : kNames) {
            if (name == PlaceholderNameText(candidate)) {
                found = &candidate;
            }
        }
        if (found == nullptr || end >= text.size() || (text[end] != '}' && text[end] != ':')) {
            pos++;
            continue;
        }
        Placeholder placeholder{*found, ValueForm::kSource, ""};
        size_t close = end;
        if (text[end] == ':') {
            close = text.find('}', end);
            const std::string form =
                text.substr(end + 1, close == std::string::npos ? std::string::npos : close - end - 1);
            bool known = false;
            for (size_t i = 0; i < kValueFormNames.size(); i++) {
                if (form == kValueFormNames[i]) {
                    placeholder.form = static_cast<ValueForm>(i + 1);
                    known = true;
                }
            }
            if (!known || close == std::string::npos) {
                throw Error("{" + name + ":" + form + (close == std::string::npos ? "" : "}") + ": unknown form \"" +
                            form + "\" of {" + name + "}; the forms are: " + Join(kValueFormNames) + " (or none: {" +
                            name + "}, the source's own form)");
            }
        }
        placeholder.text = text.substr(pos, close - pos + 1);
        literal(plain, pos);
        value(placeholder);
        pos = plain = close + 1;
    }
    literal(plain, text.size());
}

const TemplateValue *ValueOf(const TemplateValues &values, PlaceholderName name) {
    switch (name) {
        case PlaceholderName::kHighWatermark:
            return values.high_watermark;
        case PlaceholderName::kWindowStart:
            return values.window_start;
        case PlaceholderName::kWindowEnd:
            return values.window_end;
    }
    return nullptr;
}

std::string Render(const Placeholder &placeholder, const TemplateValues &values) {
    const TemplateValue *value = ValueOf(values, placeholder.name);
    if (value == nullptr) {
        return "";
    }
    try {
        return RenderValue(*value, placeholder.form);
    } catch (const Error &e) {
        throw Error(placeholder.text + ": " + e.what());
    }
}

// Whether the placeholder's value goes into a JSON body as a number.
bool RendersAsNumber(const Placeholder &placeholder, const TemplateValue &value, const std::string &text) {
    const ValueForm form = placeholder.form;
    const bool epoch_column = value.declared == ValueFormat::kEpoch || value.declared == ValueFormat::kEpochMs;
    const bool numeric = (value.kind == ValueKind::kNumber && (form == ValueForm::kSource || form == ValueForm::kPg)) ||
                         form == ValueForm::kEpoch || form == ValueForm::kEpochMs ||
                         (form == ValueForm::kSource && IsTimeKind(value.kind) && epoch_column);
    return numeric && IsJsonNumber(text);
}

void WriteExpanded(const rapidjson::Value &node, const TemplateValues &values,
                   rapidjson::Writer<rapidjson::StringBuffer> &writer) {
    if (node.IsObject()) {
        writer.StartObject();
        for (auto m = node.MemberBegin(); m != node.MemberEnd(); ++m) {
            writer.Key(m->name.GetString(), m->name.GetStringLength());
            WriteExpanded(m->value, values, writer);
        }
        writer.EndObject();
        return;
    }
    if (node.IsArray()) {
        writer.StartArray();
        for (const auto &element : node.GetArray()) {
            WriteExpanded(element, values, writer);
        }
        writer.EndArray();
        return;
    }
    if (!node.IsString()) {
        node.Accept(writer);
        return;
    }
    const std::string text(node.GetString(), node.GetStringLength());
    std::vector<Placeholder> placeholders = FindPlaceholders(text);
    if (placeholders.size() == 1 && placeholders[0].text == text) {
        const TemplateValue *value = ValueOf(values, placeholders[0].name);
        if (value == nullptr || !value->present) {
            writer.Null();
            return;
        }
        const std::string rendered = Render(placeholders[0], values);
        if (RendersAsNumber(placeholders[0], *value, rendered)) {
            writer.RawValue(rendered.c_str(), rendered.size(), rapidjson::kNumberType);
        } else {
            writer.String(rendered.c_str(), static_cast<rapidjson::SizeType>(rendered.size()));
        }
        return;
    }
    const std::string expanded = ExpandTemplate(text, values, TemplateEncoding::kRaw);
    writer.String(expanded.c_str(), static_cast<rapidjson::SizeType>(expanded.size()));
}

}  // namespace

const char *FormName(ValueForm form) {
    return form == ValueForm::kSource ? "" : kValueFormNames[static_cast<size_t>(form) - 1].c_str();
}

const char *PlaceholderNameText(PlaceholderName name) {
    switch (name) {
        case PlaceholderName::kHighWatermark:
            return "high_watermark";
        case PlaceholderName::kWindowStart:
            return "window_start";
        case PlaceholderName::kWindowEnd:
            return "window_end";
    }
    return "";
}

bool FormAppliesTo(ValueForm form, ValueKind kind) {
    return form == ValueForm::kSource || form == ValueForm::kPg || IsTimeKind(kind);
}

std::string RenderValue(const TemplateValue &value, ValueForm form) {
    if (!value.present) {
        return "";
    }
    if (!FormAppliesTo(form, value.kind)) {
        throw Error("the form \"" + std::string(FormName(form)) +
                    "\" applies to timestamps and dates, not to the value \"" + value.pg_text + "\"");
    }
    const bool time = IsTimeKind(value.kind);
    switch (form) {
        case ValueForm::kSource: {
            if (value.source_text) {
                return *value.source_text;
            }
            if (time && value.declared == ValueFormat::kEpoch) {
                return Epoch(value, 0);
            }
            if (time && value.declared == ValueFormat::kEpochMs) {
                return Epoch(value, 3);
            }
            if (time && value.source_sample) {
                std::optional<TimestampStyle> style = DetectTimestampStyle(*value.source_sample);
                if (style) {
                    style->date_only = style->date_only || value.kind == ValueKind::kDate;
                    return FormatTimestamp(value.epoch_us, *style);
                }
            }
            return value.pg_text;
        }
        case ValueForm::kIso8601: {
            TimestampStyle style;
            style.date_only = value.kind == ValueKind::kDate;
            style.zone = value.kind == ValueKind::kTimestampTz ? "Z" : "";
            return Format(value.epoch_us, style, -1);
        }
        case ValueForm::kEpoch:
            return Epoch(value, 0);
        case ValueForm::kEpochMs:
            return Epoch(value, 3);
        case ValueForm::kDate: {
            TimestampStyle style;
            style.date_only = true;
            return Format(value.epoch_us, style, -1);
        }
        case ValueForm::kPg:
            return value.pg_text;
    }
    return value.pg_text;
}

std::vector<Placeholder> FindPlaceholders(const std::string &text) {
    std::vector<Placeholder> found;
    Scan(
        text, [](size_t, size_t) {}, [](const std::string &) {},
        [&](const Placeholder &placeholder) { found.push_back(placeholder); });
    return found;
}

std::string ExpandTemplate(const std::string &text, const TemplateValues &values, TemplateEncoding encoding) {
    std::string out;
    auto encode = [&](const std::string &value) {
        return encoding == TemplateEncoding::kUrl ? PercentEncode(value) : value;
    };
    Scan(
        text, [&](size_t from, size_t to) { out.append(text, from, to - from); },
        [&](const std::string &name) {
            if (values.secrets == nullptr) {
                out += "{secret:" + name + "}";
                return;
            }
            auto it = values.secrets->find(name);
            if (it == values.secrets->end()) {
                throw Error("secret \"" + name + "\" is not set; set it with bulk_ingest_set_secret()");
            }
            out += encode(it->second);
        },
        [&](const Placeholder &placeholder) { out += encode(Render(placeholder, values)); });
    return out;
}

std::vector<Placeholder> FindJsonPlaceholders(const std::string &json) {
    rapidjson::Document doc;
    doc.Parse(json.c_str(), json.size());
    if (doc.HasParseError()) {
        throw Error("the body template is not valid JSON at byte " + std::to_string(doc.GetErrorOffset()) + ": " +
                    rapidjson::GetParseError_En(doc.GetParseError()));
    }
    std::vector<Placeholder> found;
    std::function<void(const rapidjson::Value &)> walk = [&](const rapidjson::Value &node) {
        if (node.IsObject()) {
            for (auto m = node.MemberBegin(); m != node.MemberEnd(); ++m) {
                walk(m->value);
            }
        } else if (node.IsArray()) {
            for (const auto &element : node.GetArray()) {
                walk(element);
            }
        } else if (node.IsString()) {
            for (Placeholder &placeholder : FindPlaceholders(std::string(node.GetString(), node.GetStringLength()))) {
                found.push_back(std::move(placeholder));
            }
        }
    };
    walk(doc);
    return found;
}

std::string BlankPlaceholders(const std::string &text, const std::string &replacement) {
    std::string out;
    Scan(
        text, [&](size_t from, size_t to) { out.append(text, from, to - from); },
        [&](const std::string &name) { out += "{secret:" + name + "}"; },
        [&](const Placeholder &) { out += replacement; });
    return out;
}

std::string ExpandJsonTemplate(const std::string &json_template, const TemplateValues &values) {
    rapidjson::Document doc;
    doc.Parse(json_template.c_str(), json_template.size());
    if (doc.HasParseError()) {
        throw Error("the body template is not valid JSON at byte " + std::to_string(doc.GetErrorOffset()) + ": " +
                    rapidjson::GetParseError_En(doc.GetParseError()));
    }
    rapidjson::StringBuffer buffer;
    rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
    WriteExpanded(doc, values, writer);
    return std::string(buffer.GetString(), buffer.GetSize());
}

std::optional<TimestampStyle> DetectTimestampStyle(std::string_view text) {
    auto digits = [&](size_t at, size_t count) {
        if (at + count > text.size()) {
            return false;
        }
        for (size_t i = at; i < at + count; i++) {
            if (!IsDigit(text[i])) {
                return false;
            }
        }
        return true;
    };
    TimestampStyle style;
    if (!digits(0, 4) || text.size() < 10 || text[4] != '-' || !digits(5, 2) || text[7] != '-' || !digits(8, 2)) {
        return std::nullopt;
    }
    if (text.size() == 10) {
        style.date_only = true;
        return style;
    }
    const char separator = text[10];
    if (separator != 'T' && separator != 't' && separator != ' ') {
        return std::nullopt;
    }
    style.separator = separator;
    if (!digits(11, 2) || text.size() < 16 || text[13] != ':' || !digits(14, 2)) {
        return std::nullopt;
    }
    size_t pos = 16;
    style.seconds = pos < text.size() && text[pos] == ':';
    if (style.seconds) {
        if (!digits(pos + 1, 2)) {
            return std::nullopt;
        }
        pos += 3;
        if (pos < text.size() && (text[pos] == '.' || text[pos] == ',')) {
            size_t start = ++pos;
            while (pos < text.size() && IsDigit(text[pos])) {
                pos++;
            }
            if (pos == start) {
                return std::nullopt;
            }
            style.fraction_digits = static_cast<int>(pos - start);
        }
    }
    const std::string_view zone = text.substr(pos);
    if (zone.empty()) {
        style.zone = "";
    } else if (zone == "Z" || zone == "z") {
        style.zone = std::string(zone);
    } else if ((zone[0] == '+' || zone[0] == '-') && digits(pos + 1, 2)) {
        const std::string_view rest = zone.substr(3);
        if (rest.empty()) {
            style.zone = "+00";
        } else if (rest.size() == 3 && rest[0] == ':' && digits(pos + 4, 2)) {
            style.zone = "+00:00";
        } else if (rest.size() == 2 && digits(pos + 3, 2)) {
            style.zone = "+0000";
        } else {
            return std::nullopt;
        }
    } else {
        return std::nullopt;
    }
    return style;
}

std::string FormatTimestamp(int64_t epoch_us, const TimestampStyle &style) {
    return Format(epoch_us, style, style.fraction_digits);
}

}  // namespace bulk_ingest
