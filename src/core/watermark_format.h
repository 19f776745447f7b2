// The watermark (and a window's bounds) as a request sends it: the placeholders of URLs, headers and bodies, and the
// forms a value takes in them.
//
//   {high_watermark}            the form the source itself uses: the text of the value as it appeared in the record
//                               that holds the maximum; a value the run computed (minus options.lag, a window's
//                               bound) in the same form (epoch stays epoch, "2024-01-01T10:00:00+00:00" stays ISO
//                               8601 with that offset style); PostgreSQL's text when nothing says more
//   {high_watermark:iso8601}    2024-01-01T10:00:00Z (UTC; a timestamp without time zone has no Z; a date is a date)
//   {high_watermark:epoch}      seconds since 1970-01-01 UTC, with a fraction only when there is one (1704103200.5)
//   {high_watermark:epoch_ms}   milliseconds since 1970-01-01 UTC (1704103200500)
//   {high_watermark:date}       the (UTC) date, 2024-01-01
//   {high_watermark:pg}         PostgreSQL's text form of the column type (2024-01-01 10:00:00+00)
//   {window_start}, {window_end}   the bounds of the current window (options.window), with the same forms
//
// Values are substituted in one pass with the secret references ({secret:name}): a substituted value is never read
// again, so a watermark that contains "{secret:token}" is sent as that text and never expands a secret.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "columns.h"
#include "secrets.h"

namespace bulk_ingest {

enum class ValueForm { kSource, kIso8601, kEpoch, kEpochMs, kDate, kPg };

// "iso8601", "epoch", "epoch_ms", "date", "pg": the names of the explicit forms.
extern const std::vector<std::string> kValueFormNames;
const char *FormName(ValueForm form);  // "" for kSource

// What kind of value it is, for the forms that convert it.
enum class ValueKind {
    kTimestampTz,  // timestamptz: epoch_us is the instant
    kTimestamp,    // timestamp without time zone: epoch_us reads its fields as if they were UTC
    kDate,         // date: epoch_us is its midnight (UTC)
    kNumber,       // integers, numeric, floating point
    kOther,        // text and anything else; also an infinite timestamp or date
};

// A value to substitute: a run's watermark, or a window's bound.
struct TemplateValue {
    bool present = false;  // false: there is none (the first run): substituted as "" (JSON null in a body)
    ValueKind kind = ValueKind::kOther;
    std::string pg_text;                        // PostgreSQL's text form (the type's output function)
    std::optional<std::string> source_text;     // this very value as the source wrote it
    std::optional<std::string> source_sample;   // the source's text of another value of the field: its form
    int64_t epoch_us = 0;                       // time kinds: microseconds since 1970-01-01 00:00:00 UTC
    ValueFormat declared = ValueFormat::kNone;  // the column's declared "format" (epoch, epoch_ms)
};

// The text of value in form ("" when it is not present). Throws Error when the form does not apply to the value (an
// epoch of a text column, of an infinite timestamp).
std::string RenderValue(const TemplateValue &value, ValueForm form);

// Whether form can render values of kind (iso8601, epoch, epoch_ms and date need a time kind).
bool FormAppliesTo(ValueForm form, ValueKind kind);

enum class PlaceholderName { kHighWatermark, kWindowStart, kWindowEnd };
const char *PlaceholderNameText(PlaceholderName name);  // "high_watermark", ...

struct Placeholder {
    PlaceholderName name;
    ValueForm form;
    std::string text;  // as written, "{high_watermark:epoch}"
};

// The value placeholders of text, in order. A '{' that starts neither a placeholder nor a secret reference is plain
// text; a placeholder name with an unknown form ({high_watermark:epoc}) is an Error listing the forms.
std::vector<Placeholder> FindPlaceholders(const std::string &text);

enum class TemplateEncoding {
    kUrl,         // values and secrets percent-encoded (RFC 3986 unreserved characters kept)
    kRaw,         // as they are (header values: the request checks them for line breaks)
    kJsonString,  // escaped for the inside of a JSON string
};

struct TemplateValues {
    const TemplateValue *high_watermark = nullptr;  // nullptr: the placeholder is substituted as ""
    const TemplateValue *window_start = nullptr;
    const TemplateValue *window_end = nullptr;
    const SecretMap *secrets = nullptr;  // nullptr: secret references stay as written
};

// text with its placeholders and secret references replaced, encoded, in one pass. Throws Error for a secret that is
// not set and for a form that does not apply to its value.
std::string ExpandTemplate(const std::string &text, const TemplateValues &values, TemplateEncoding encoding);

// The value placeholders of every string of a JSON text (options.body); throws Error like FindPlaceholders, and for
// text that is not JSON.
std::vector<Placeholder> FindJsonPlaceholders(const std::string &json);

// text with every value placeholder replaced by replacement (secret references kept): for checking a template's
// syntax (a URL) without values.
std::string BlankPlaceholders(const std::string &text, const std::string &replacement);

// The JSON text of json_template (a JSON value, options.body) with every string expanded. A string that is exactly
// one value placeholder becomes the value as JSON: null when there is none, a number when the value is a number in
// that form (a numeric column's value, an epoch), else a string. Throws Error when json_template is not JSON.
std::string ExpandJsonTemplate(const std::string &json_template, const TemplateValues &values);

// The form of a timestamp's text, so that a computed value can be written the way the source writes its own.
struct TimestampStyle {
    bool date_only = false;  // 2024-01-01
    char separator = 'T';    // between date and time: 'T', 't' or ' '
    bool seconds = true;     // HH:MM:SS, or HH:MM
    int fraction_digits = 0;
    // The zone as written: "" (none), "Z", "z", "+00:00", "+0000" or "+00" (written for UTC in that style).
    std::string zone;
};

// The style of an ISO 8601 / RFC 3339 timestamp or date text ("2024-01-01T10:00:00.123+02:00"); nullopt for any
// other text (epochs, RFC 2822 dates, ...).
std::optional<TimestampStyle> DetectTimestampStyle(std::string_view text);

// epoch_us (UTC) in style; a fraction is cut (not rounded) to the style's digits, and a date-only style gives the
// UTC date. Throws Error for years outside 1..9999.
std::string FormatTimestamp(int64_t epoch_us, const TimestampStyle &style);

}  // namespace bulk_ingest
