// The options of a source that shape its requests beyond the URL (issue 12): the lag and the windows of the
// watermark, the method and body, what a status means, authentication by OAuth 2, rate limits and deletes.
//
//   "lag": "2 hours" | 100                       ask from the watermark minus this (an interval, or a number)
//   "window": {"step": "1 day", "start": "2024-01-01T00:00:00Z"}   {window_start}/{window_end}, one window after
//                                                                   another up to now, committed per window
//   "method": "POST", "body": {...}              a JSON body, its strings templates ({high_watermark}, windows,
//                                                secrets; a string that is one placeholder becomes the value)
//   "on_status": {"404": "end"}                  end (no more data), retry (as transient) or fail
//   "auth": {"type": "oauth2_client_credentials", ...}   a bearer token from a token endpoint (oauth2.h)
//   "rate_limit": 5                              at most 5 requests per second to a host (rate_limit.h)
//   "deleted_path": "/deleted"                   a record true there deletes the row with its key (upserts)
//
// Parsed by ParseSourceOptions (declaration.h); checks that need the column types are the PostgreSQL layer's.
#pragma once

#include <rapidjson/document.h>

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "oauth2.h"

namespace bulk_ingest {

enum class StatusAction { kEnd, kRetry, kFail };

struct WindowSpec {
    std::string step;                  // an interval ("1 day"), checked by the PostgreSQL layer
    std::optional<std::string> start;  // the first window's start when nothing is stored (a timestamp's text)
};

struct RequestOptions {
    std::optional<std::string> lag;  // options.lag: an interval's text, or a number's
    bool lag_is_number = false;      // given as a JSON number
    std::optional<WindowSpec> window;
    std::string method = "GET";
    std::optional<std::string> body;  // options.body: its JSON text
    std::map<long, StatusAction> on_status;
    std::optional<OAuth2Spec> oauth2;          // options.auth (oauth2.h)
    double rate_limit = 0;                     // options.rate_limit: requests per second to a host; 0 = none of ours
    std::string deleted_path;                  // options.deleted_path: a JSON Pointer (or CSV column); "" = none
    std::vector<std::string> deleted_pointer;  // deleted_path, parsed
};

// Parses key of options into *options when it is one of the request options; false when it is not.
// Throws Error "options: ..." for a value of the wrong type or range.
bool ParseRequestOption(const std::string &key, const rapidjson::Value &value, RequestOptions *options);

// The keys ParseRequestOption takes, for the message of an unknown key.
extern const std::vector<std::string> kRequestOptionKeys;

// Whether the text of a deleted_path value means true, as PostgreSQL's boolean input reads it (true, t, yes, y, on, 1;
// any case, surrounding blanks ignored).
bool IsTrueText(std::string_view text);

// The action for an HTTP status, when options.on_status declares one.
std::optional<StatusAction> ActionFor(const RequestOptions &options, long status);

// The JSON Pointer (or top-level key) name set to value in the JSON text body: a pagination parameter carried in the
// body. An object is created on the way of a pointer. Throws Error when body is not a JSON object (or the pointer
// crosses a non-object).
std::string SetBodyParameter(const std::string &body, const std::string &name, const std::string &value, bool number);

}  // namespace bulk_ingest
