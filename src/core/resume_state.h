// Where the next run of a source continues, as the catalog keeps it (bulk_ingest.watermarks.resume): the next window
// (options.window), and the next page when a run stopped at max_pages.
//
// The next page's URL (and a cursor) may carry a secret: a server echoes an API key of the query in its next links.
// The catalog must never hold a secret, so every occurrence of a secret's value, and of its percent-encoded form, is
// kept as a reference to the secret, put back when the state is read. Text the server wrote is never read as a
// reference: a next link that spells "{secret:token}" stays that text.
#pragma once

#include <optional>
#include <string>

#include "paginator.h"
#include "secrets.h"

namespace bulk_ingest {

struct ResumePoint {
    std::optional<std::string> window;    // the next window's start (PostgreSQL's text of a timestamptz)
    std::optional<PaginatorState> pages;  // the next page of that window (or of the source), after max_pages
};

// The JSON of a resume point (secrets kept out of its pages); read back by DecodeResumePoint, which gives an empty
// point for another fingerprint or for what is not such a point.
std::string EncodeResumePoint(const ResumePoint &point, const std::string &fingerprint, const SecretMap &secrets);
ResumePoint DecodeResumePoint(const std::string &json, const std::string &fingerprint, const SecretMap &secrets);

// The JSON of state, with secrets kept out. fingerprint: what the state belongs to (the declaration's URL and
// pagination), checked when it is read back.
std::string EncodeResumeState(const PaginatorState &state, const std::string &fingerprint, const SecretMap &secrets);

// The state encoded by EncodeResumeState, with the secrets' current values; nullopt when it belongs to another
// fingerprint (the declaration changed since) or is not such a state. Throws Error for a secret that is no longer set.
std::optional<PaginatorState> DecodeResumeState(const std::string &json, const std::string &fingerprint,
                                                const SecretMap &secrets);

// What a resume state belongs to: the source's URL template and its pagination.
std::string ResumeFingerprint(const std::string &url_template, const PaginationSpec &pagination);

}  // namespace bulk_ingest
