#include "column_inference.h"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <memory>
#include <set>
#include <vector>

#include "byte_source.h"
#include "csv_reader.h"
#include "error.h"
#include "formats.h"

namespace bulk_ingest {

namespace {

// The sample, as a byte source for the record readers.
class StringSource final : public ByteSource {
  public:
    explicit StringSource(const std::string &text) : text_(text) {}
    size_t Read(char *buf, size_t max) override {
        size_t n = std::min(max, text_.size() - pos_);
        text_.copy(buf, n, pos_);
        pos_ += n;
        return n;
    }

  private:
    const std::string &text_;
    size_t pos_ = 0;
};

// What a value looks like; Join() widens two kinds to one that holds both.
enum class Kind { kNone, kBool, kInt, kNum, kDate, kTs, kUuid, kText, kJson };

Kind Join(Kind a, Kind b) {
    if (a == Kind::kNone) {
        return b;
    }
    if (b == Kind::kNone || a == b) {
        return a;
    }
    if (a == Kind::kJson || b == Kind::kJson) {
        return Kind::kJson;
    }
    auto either = [&](Kind x, Kind y) { return (a == x && b == y) || (a == y && b == x); };
    if (either(Kind::kInt, Kind::kNum)) {
        return Kind::kNum;
    }
    if (either(Kind::kDate, Kind::kTs)) {
        return Kind::kTs;
    }
    return Kind::kText;
}

const char *TypeName(Kind kind) {
    switch (kind) {
        case Kind::kBool:
            return "boolean";
        case Kind::kInt:
            return "bigint";
        case Kind::kNum:
            return "numeric";
        case Kind::kDate:
            return "date";
        case Kind::kTs:
            return "timestamptz";
        case Kind::kUuid:
            return "uuid";
        case Kind::kJson:
            return "jsonb";
        default:
            return "text";
    }
}

bool AllDigits(const std::string &s, size_t from, size_t to) {
    if (from >= to || to > s.size()) {
        return false;
    }
    for (size_t i = from; i < to; i++) {
        if (!isdigit(static_cast<unsigned char>(s[i]))) {
            return false;
        }
    }
    return true;
}

bool IsUuid(const std::string &s) {
    if (s.size() != 36) {
        return false;
    }
    for (size_t i = 0; i < s.size(); i++) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? s[i] != '-' : !isxdigit(static_cast<unsigned char>(s[i]))) {
            return false;
        }
    }
    return true;
}

bool IsDate(const std::string &s, size_t len) {
    if (len != 10 || s.size() < 10 || s[4] != '-' || s[7] != '-' || !AllDigits(s, 0, 4) || !AllDigits(s, 5, 7) ||
        !AllDigits(s, 8, 10)) {
        return false;
    }
    int month = std::atoi(s.substr(5, 2).c_str());
    int day = std::atoi(s.substr(8, 2).c_str());
    return month >= 1 && month <= 12 && day >= 1 && day <= 31;
}

// An ISO 8601 timestamp: a date, T or a blank, hh:mm[:ss[.fraction]], then Z, ±hh[:mm] or nothing (*zone).
bool IsTimestamp(const std::string &s, bool *zone) {
    if (s.size() < 16 || !IsDate(s, 10) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || s[13] != ':' ||
        !AllDigits(s, 11, 13) || !AllDigits(s, 14, 16)) {
        return false;
    }
    size_t i = 16;
    if (i < s.size() && s[i] == ':') {
        if (!AllDigits(s, i + 1, i + 3)) {
            return false;
        }
        i += 3;
        if (i < s.size() && (s[i] == '.' || s[i] == ',')) {
            size_t start = ++i;
            while (i < s.size() && isdigit(static_cast<unsigned char>(s[i]))) {
                i++;
            }
            if (i == start) {
                return false;
            }
        }
    }
    *zone = i < s.size();
    if (i == s.size()) {
        return true;
    }
    if (s[i] == 'Z' || s[i] == 'z') {
        return i + 1 == s.size();
    }
    if (s[i] == ' ' && i + 1 < s.size()) {
        i++;  // "2024-01-01 10:00:00 +00:00"
    }
    if (s[i] != '+' && s[i] != '-') {
        return false;
    }
    std::string rest = s.substr(i + 1);
    return (rest.size() == 2 && AllDigits(rest, 0, 2)) || (rest.size() == 4 && AllDigits(rest, 0, 4)) ||
           (rest.size() == 5 && rest[2] == ':' && AllDigits(rest, 0, 2) && AllDigits(rest, 3, 5));
}

// An integer as written: an optional sign and digits, no leading zero (but "0"). *fits: it fits a bigint.
bool IsInteger(const std::string &s, bool *fits) {
    size_t start = !s.empty() && (s[0] == '-' || s[0] == '+') ? 1 : 0;
    if (!AllDigits(s, start, s.size()) || (s[start] == '0' && s.size() > start + 1)) {
        return false;
    }
    errno = 0;
    (void)std::strtoll(s.c_str(), nullptr, 10);
    *fits = errno != ERANGE;
    return true;
}

// A decimal number with a fraction or an exponent, no leading zero: "12.50", "-0.5", "1e10".
bool IsDecimal(const std::string &s) {
    size_t i = !s.empty() && (s[0] == '-' || s[0] == '+') ? 1 : 0;
    size_t digits = i;
    while (i < s.size() && isdigit(static_cast<unsigned char>(s[i]))) {
        i++;
    }
    if (i == digits || (s[digits] == '0' && i > digits + 1)) {
        return false;
    }
    bool fraction = false, exponent = false;
    if (i < s.size() && s[i] == '.') {
        size_t start = ++i;
        while (i < s.size() && isdigit(static_cast<unsigned char>(s[i]))) {
            i++;
        }
        if (i == start) {
            return false;
        }
        fraction = true;
    }
    if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < s.size() && (s[i] == '+' || s[i] == '-')) {
            i++;
        }
        size_t start = i;
        while (i < s.size() && isdigit(static_cast<unsigned char>(s[i]))) {
            i++;
        }
        if (i == start) {
            return false;
        }
        exponent = true;
    }
    return i == s.size() && (fraction || exponent);
}

std::string Lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(tolower(c)); });
    return s;
}

bool EndsWith(const std::string &s, const std::string &suffix) {
    return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

bool Contains(const std::string &s, const char *part) {
    return s.find(part) != std::string::npos;
}

// What is known of one column across the sample.
struct Stats {
    std::string name;
    std::string path;            // the CSV column's path when the records have no header ("/#3"); "" otherwise
    size_t present = 0;          // records with a non-null value
    Kind kind = Kind::kNone;     // the values that are not arrays
    size_t arrays = 0;           // values that are arrays
    Kind element = Kind::kNone;  // their elements
    bool digit_strings = false;  // JSON strings of digits, kept as text
    bool zoneless = false;       // timestamps without a time zone
    bool int_range_known = false;
    long long min = 0, max = 0;  // integers: their range (epoch detection)
    bool unique = true;          // no value seen twice (while tracked)
    std::set<std::string> seen;  // values seen, while unique
    bool increasing = true;      // integers in record order, each greater than the previous
    bool has_last = false;
    long long last = 0;
};

class Inference {
  public:
    explicit Inference(bool json) : json_(json) {}

    Stats &Column(const std::string &name) {
        for (auto &column : columns_) {
            if (column.name == name) {
                return column;
            }
        }
        columns_.push_back(Stats());
        columns_.back().name = name;
        return columns_.back();
    }

    void StartRecord() { records_++; }

    // A scalar's text: a JSON string (json_string), a JSON number (number), or a CSV field.
    Kind ClassifyText(Stats &column, const std::string &text, bool json_string) {
        bool zone = false, fits = false;
        if (IsUuid(text)) {
            return Kind::kUuid;
        }
        if (IsDate(text, text.size())) {
            return Kind::kDate;
        }
        if (IsTimestamp(text, &zone)) {
            column.zoneless = column.zoneless || !zone;
            return Kind::kTs;
        }
        size_t sign = !text.empty() && (text[0] == '-' || text[0] == '+') ? 1 : 0;
        if (AllDigits(text, sign, text.size()) && (json_string || !IsInteger(text, &fits))) {
            column.digit_strings = true;  // a JSON string of digits, or digits with a leading zero: a code
            return Kind::kText;
        }
        if (IsInteger(text, &fits)) {
            return fits ? Kind::kInt : Kind::kNum;
        }
        if (IsDecimal(text)) {
            return Kind::kNum;
        }
        std::string lower = Lower(text);
        if (!json_string && (lower == "true" || lower == "false")) {
            return Kind::kBool;
        }
        return Kind::kText;
    }

    void NoteInteger(Stats &column, const std::string &text) {
        errno = 0;
        long long value = std::strtoll(text.c_str(), nullptr, 10);
        if (errno == ERANGE) {
            return;
        }
        column.min = column.int_range_known ? std::min(column.min, value) : value;
        column.max = column.int_range_known ? std::max(column.max, value) : value;
        column.int_range_known = true;
        if (column.has_last && value <= column.last) {
            column.increasing = false;
        }
        column.last = value;
        column.has_last = true;
    }

    void NoteValue(Stats &column, Kind kind, const std::string &identity) {
        column.present++;
        column.kind = Join(column.kind, kind);
        if (column.unique && !column.seen.insert(identity).second) {
            column.unique = false;
            column.seen.clear();
        }
    }

    void AddScalar(Stats &column, const std::string &text, bool json_string) {
        Kind kind = ClassifyText(column, text, json_string);
        if (kind == Kind::kInt) {
            NoteInteger(column, text);
        }
        NoteValue(column, kind, text);
    }

    // A JSON value of a top-level key.
    void AddJson(Stats &column, const rapidjson::Value &value) {
        if (value.IsNull()) {
            return;
        }
        if (value.IsArray()) {
            column.present++;
            column.arrays++;
            column.unique = false;
            for (const auto &item : value.GetArray()) {
                column.element = Join(column.element, ScalarKind(column, item));
            }
            return;
        }
        if (value.IsObject()) {
            NoteValue(column, Kind::kJson, "");
            column.unique = false;
            return;
        }
        Kind kind = ScalarKind(column, value);
        std::string identity = value.IsString() ? value.GetString() : NumberText(value);
        if (kind == Kind::kInt) {
            NoteInteger(column, identity);
        }
        NoteValue(column, kind, identity);
    }

    std::string Finish(size_t bytes, bool truncated);

  private:
    static std::string NumberText(const rapidjson::Value &value) {
        if (value.IsInt64()) {
            return std::to_string(value.GetInt64());
        }
        if (value.IsUint64()) {
            return std::to_string(value.GetUint64());
        }
        if (value.IsBool()) {
            return value.GetBool() ? "true" : "false";
        }
        return std::to_string(value.GetDouble());
    }

    Kind ScalarKind(Stats &column, const rapidjson::Value &value) {
        if (value.IsNull()) {
            return Kind::kNone;
        }
        if (value.IsBool()) {
            return Kind::kBool;
        }
        if (value.IsInt64()) {
            return Kind::kInt;
        }
        if (value.IsNumber()) {
            return Kind::kNum;
        }
        if (value.IsString()) {
            return ClassifyText(column, std::string(value.GetString(), value.GetStringLength()), true);
        }
        return Kind::kJson;  // an object or an array inside an array
    }

    bool json_;
    size_t records_ = 0;
    std::vector<Stats> columns_;

  public:
    size_t Records() const { return records_; }
};

bool LooksLikeTime(const std::string &lower) {
    return EndsWith(lower, "_at") || EndsWith(lower, "at") || Contains(lower, "time") || Contains(lower, "date") ||
           EndsWith(lower, "_ts") || Contains(lower, "modified") || Contains(lower, "updated");
}

struct Proposal {
    std::string type;
    std::string format;  // "epoch", "epoch_ms" or ""
    std::string reason;
    bool nullable = true;
    bool primary_key = false;
};

Proposal Propose(const Stats &column, size_t records, bool json) {
    Proposal p;
    std::string n = std::to_string(records) + (records == 1 ? " record" : " records");
    if (column.present == 0) {
        p.type = "text";
        p.reason = "text: null or missing in all " + n + " (declare its real type)";
        return p;
    }
    if (column.arrays == column.present) {
        Kind element = column.element;
        if (element == Kind::kJson) {
            p.type = "jsonb";
            p.reason = "jsonb: arrays holding objects or arrays";
        } else {
            p.type = std::string(TypeName(element == Kind::kNone ? Kind::kText : element)) + "[]";
            p.reason =
                p.type + ": arrays of " + (element == Kind::kNone ? "nulls only" : TypeName(element)) + " values";
        }
    } else if (column.arrays > 0) {
        p.type = "jsonb";
        p.reason = "jsonb: arrays in some records, other values in others";
    } else {
        Kind kind = column.kind;
        p.type = TypeName(kind);
        std::string lower = Lower(column.name);
        const long long kEpoch2000 = 946684800LL, kEpoch2100 = 4102444800LL;
        switch (kind) {
            case Kind::kBool:
                p.reason = json ? "boolean: JSON true/false" : "boolean: true/false";
                break;
            case Kind::kInt:
                if (column.int_range_known && LooksLikeTime(lower) && column.min >= kEpoch2000 &&
                    column.max <= kEpoch2100) {
                    p.type = "timestamptz";
                    p.format = "epoch";
                    p.reason =
                        "timestamptz with \"format\": \"epoch\": integers between 2000 and 2100 as seconds "
                        "since 1970, in a column named like a time";
                } else if (column.int_range_known && LooksLikeTime(lower) && column.min >= kEpoch2000 * 1000 &&
                           column.max <= kEpoch2100 * 1000) {
                    p.type = "timestamptz";
                    p.format = "epoch_ms";
                    p.reason =
                        "timestamptz with \"format\": \"epoch_ms\": integers between 2000 and 2100 as "
                        "milliseconds since 1970, in a column named like a time";
                } else {
                    p.reason = "bigint: integers";
                }
                break;
            case Kind::kNum:
                p.reason = json ? "numeric: numbers with a fraction or beyond bigint, or decimal strings (every digit "
                                  "is kept)"
                                : "numeric: decimal numbers (every digit is kept)";
                break;
            case Kind::kDate:
                p.reason = "date: dates (YYYY-MM-DD)";
                break;
            case Kind::kTs:
                p.reason = "timestamptz: ISO 8601 timestamps";
                if (column.zoneless) {
                    p.reason +=
                        " (some without a time zone: they are read in the server's TimeZone; declare "
                        "timestamp if they are local times)";
                }
                break;
            case Kind::kUuid:
                p.reason = "uuid: UUIDs";
                break;
            case Kind::kJson:
                p.reason = "jsonb: objects (a column with \"path\": \"/" + column.name +
                           "/<key>\" extracts one of their values), or values of several JSON types";
                break;
            default:
                p.reason = "text: strings";
                if (column.digit_strings) {
                    p.reason += json ? " (strings of digits stay text: they may be codes with leading zeros; declare "
                                       "bigint if they are numbers)"
                                     : " (digits with leading zeros stay text: they are codes, not numbers)";
                }
                break;
        }
    }
    p.nullable = column.present < records;
    p.reason += p.nullable ? "; nullable: null or missing in " + std::to_string(records - column.present) + " of " + n
                           : "; not null: present in all " + n;
    return p;
}

// The rank of a column as a primary key by its name (lower is better; -1: not named like one).
int KeyRank(const std::string &name, bool first) {
    std::string lower = Lower(name);
    if (lower == "id" || lower == "uuid" || lower == "key" || lower == "_id") {
        return 0;
    }
    if (first &&
        (EndsWith(lower, "id") || EndsWith(lower, "key") || EndsWith(lower, "uuid") || EndsWith(lower, "code"))) {
        return 1;
    }
    return -1;
}

// The rank of a time column as the watermark by its name (lower is better).
int WatermarkRank(const std::string &name) {
    std::string lower = Lower(name);
    if (Contains(lower, "updat") || Contains(lower, "modif") || Contains(lower, "chang")) {
        return 0;
    }
    if (Contains(lower, "creat") || Contains(lower, "insert")) {
        return 2;
    }
    return 1;
}

std::string Inference::Finish(size_t bytes, bool truncated) {
    if (records_ == 0) {
        throw Error("the sample holds no record: nothing to infer columns from");
    }
    std::vector<Proposal> proposals;
    for (const auto &column : columns_) {
        proposals.push_back(Propose(column, records_, json_));
    }
    std::string n = std::to_string(records_) + (records_ == 1 ? " record" : " records");

    // The primary key.
    int key = -1, key_rank = 99;
    std::vector<std::string> candidates;
    for (size_t i = 0; i < columns_.size(); i++) {
        const std::string &type = proposals[i].type;
        bool keyish_type = type == "bigint" || type == "text" || type == "uuid";
        if (!keyish_type || proposals[i].nullable || !columns_[i].unique || !proposals[i].format.empty()) {
            continue;
        }
        candidates.push_back(columns_[i].name);
        int rank = KeyRank(columns_[i].name, i == 0);
        if (rank >= 0 && rank < key_rank) {
            key = static_cast<int>(i);
            key_rank = rank;
        }
    }
    std::string key_reason;
    if (key >= 0) {
        proposals[key].primary_key = true;
        key_reason = "\"" + columns_[key].name + "\": unique and never null in the " + n + ", and named like a key" +
                     (records_ < 2 ? " (one record proves little: check it)" : "");
        proposals[key].reason += "; primary key (unique and never null in the sample, named like a key)";
    } else if (candidates.empty()) {
        key_reason = "none: no column is unique and never null in the " + n + " (rows will be appended)";
    } else {
        std::string listed;
        for (const auto &c : candidates) {
            listed += (listed.empty() ? "\"" : ", \"") + c + "\"";
        }
        key_reason = "none proposed: " + listed + (candidates.size() == 1 ? " is" : " are") +
                     " unique and never null in the " + n +
                     ", but not named like a key; declare \"primary_key\": true if one is";
    }

    // The high watermark.
    int watermark = -1, watermark_rank = 99;
    for (size_t i = 0; i < columns_.size(); i++) {
        const std::string &type = proposals[i].type;
        if ((type != "timestamptz" && type != "date") || proposals[i].nullable) {
            continue;
        }
        int rank = WatermarkRank(columns_[i].name);
        if (rank < watermark_rank) {
            watermark = static_cast<int>(i);
            watermark_rank = rank;
        }
    }
    std::string watermark_reason;
    if (watermark >= 0) {
        const std::string &name = columns_[watermark].name;
        watermark_reason = "\"" + name + "\": a " + proposals[watermark].type + " never null in the sample";
        watermark_reason += watermark_rank == 0   ? ", named like the time of a record's last change"
                            : watermark_rank == 1 ? "; no column is named like the time of a last change"
                                                  : ", named like a creation time: a run will not see later changes "
                                                    "to a record (prefer an update time if the API has one)";
        watermark_reason += "; the URL must pass {high_watermark} for the API to send only newer records";
    } else if (key >= 0 && proposals[key].type == "bigint" && columns_[key].increasing && records_ > 1) {
        watermark = key;
        watermark_reason = "\"" + columns_[key].name +
                           "\": no time column never null in the sample, and the key increases with every record "
                           "(an append-only source)";
    } else {
        watermark_reason = "none: no time column is never null in the sample (every run would fetch everything)";
    }

    rapidjson::StringBuffer buffer;
    rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
    w.StartObject();
    w.Key("columns");
    w.StartArray();
    for (size_t i = 0; i < columns_.size(); i++) {
        w.StartObject();
        w.Key("name");
        w.String(columns_[i].name.c_str(), static_cast<rapidjson::SizeType>(columns_[i].name.size()));
        w.Key("type");
        w.String(proposals[i].type.c_str());
        if (proposals[i].primary_key) {
            w.Key("primary_key");
            w.Bool(true);
        } else if (!proposals[i].nullable) {
            w.Key("nullable");
            w.Bool(false);
        }
        if (!columns_[i].path.empty()) {
            w.Key("path");
            w.String(columns_[i].path.c_str());
        }
        if (!proposals[i].format.empty()) {
            w.Key("format");
            w.String(proposals[i].format.c_str());
        }
        w.EndObject();
    }
    w.EndArray();
    w.Key("high_watermark_column");
    if (watermark >= 0) {
        w.String(columns_[watermark].name.c_str(), static_cast<rapidjson::SizeType>(columns_[watermark].name.size()));
    } else {
        w.Null();
    }
    w.Key("reasons");
    w.StartObject();
    for (size_t i = 0; i < columns_.size(); i++) {
        w.Key(columns_[i].name.c_str(), static_cast<rapidjson::SizeType>(columns_[i].name.size()));
        w.String(proposals[i].reason.c_str());
    }
    w.EndObject();
    w.Key("primary_key_reason");
    w.String(key_reason.c_str());
    w.Key("high_watermark_reason");
    w.String(watermark_reason.c_str());
    w.Key("sample");
    w.StartObject();
    w.Key("records");
    w.Uint64(records_);
    w.Key("bytes");
    w.Uint64(bytes);
    w.Key("truncated");
    w.Bool(truncated);
    w.EndObject();
    w.EndObject();
    return buffer.GetString();
}

// Reads records with reader until max_records; an error after the last complete record of a truncated sample ends
// the sample instead (it is the cut).
template <typename Each>
void ReadRecords(RecordReader &reader, size_t max_records, bool truncated, Each &&each) {
    size_t read = 0;
    while (read < max_records) {
        try {
            if (!reader.Next()) {
                return;
            }
        } catch (const Error &) {  // a RecordError, or the JSON reader's "the document ends inside record n"
            if (truncated && read > 0) {
                return;
            }
            throw;
        }
        each();
        read++;
    }
}

void InferJson(Inference &inference, const std::string &format, const std::string &body, bool truncated,
               const SourceOptions &options, size_t max_records) {
    StringSource source(body);
    ColumnSpec record;
    record.name = "record";
    record.json = true;  // the whole record (the empty pointer), as JSON text
    std::unique_ptr<RecordReader> reader = MakeRecordReader(format, source, {record}, options);
    ReadRecords(*reader, max_records, truncated, [&] {
        const FieldValue &value = reader->Field(0);
        rapidjson::Document doc;
        doc.Parse(value.text.data(), value.text.size());
        if (doc.HasParseError() || !doc.IsObject()) {
            throw RecordError(PositionUnit(format), reader->Line(), "a record is not a JSON object");
        }
        inference.StartRecord();
        for (const auto &member : doc.GetObject()) {
            std::string key(member.name.GetString(), member.name.GetStringLength());
            if (key.empty()) {
                continue;  // a column needs a name
            }
            inference.AddJson(inference.Column(key), member.value);
        }
    });
}

void InferCsv(Inference &inference, const std::string &body, bool truncated, const SourceOptions &options,
              size_t max_records) {
    // The width: the first record's fields (read as a header, whatever options.csv.header says).
    std::vector<std::string> first;
    {
        StringSource source(body);
        CsvReaderOptions as_header = options.csv;
        as_header.header = true;
        CsvReader reader(source, {}, as_header);
        reader.Next();
        first = reader.Header();
    }
    if (first.empty()) {
        throw Error("the sample holds no record: nothing to infer columns from");
    }
    std::vector<ColumnSpec> columns;
    std::vector<std::string> names;
    for (size_t i = 0; i < first.size(); i++) {
        ColumnSpec spec;
        spec.name = options.csv.header ? first[i] : "column_" + std::to_string(i + 1);
        spec.pointer = {"#" + std::to_string(i + 1)};
        if (spec.name.empty() || std::find(names.begin(), names.end(), spec.name) != names.end()) {
            spec.name = "column_" + std::to_string(i + 1);  // an empty or repeated header name
        }
        names.push_back(spec.name);
        columns.push_back(spec);
    }
    StringSource source(body);
    CsvReader reader(source, columns, options.csv);
    bool positional = !options.csv.header;
    ReadRecords(reader, max_records, truncated, [&] {
        inference.StartRecord();
        for (size_t i = 0; i < names.size(); i++) {
            Stats &column = inference.Column(names[i]);
            if (positional || names[i] != first[i]) {
                column.path = "/#" + std::to_string(i + 1);
            }
            const FieldValue &field = reader.Field(i);
            if (!field.is_null) {
                inference.AddScalar(column, std::string(field.text), false);
            }
        }
    });
}

}  // namespace

std::string InferColumns(const std::string &format, const std::string &body, bool truncated,
                         const SourceOptions &options, size_t max_records) {
    CheckOneOf("format", format, kFormats);
    // A truncated sample ends in the middle of a record: line-based formats drop the partial last line.
    std::string sample = body;
    if (truncated && format != "json") {
        size_t end = sample.rfind('\n');
        sample.resize(end == std::string::npos ? 0 : end + 1);
    }
    Inference inference(format != "csv");
    if (format == "csv") {
        InferCsv(inference, sample, truncated, options, max_records);
    } else {
        InferJson(inference, format, sample, truncated, options, max_records);
    }
    return inference.Finish(body.size(), truncated);
}

}  // namespace bulk_ingest
