// How the extension's HTTP requests are made: one place for a run's pages, a preview's first page and the sample
// of column inference, so that every limit on a run's requests (bulk_ingest.allowed_hosts, bulk_ingest.*_limit, the
// headers kept to the source's origin) constrains the others too.
#pragma once

#include "pg/pg_prelude.h"

#include <string>
#include <vector>

#include "core/declaration.h"
#include "core/http_stream.h"
#include "core/secrets.h"
#include "core/watermark_format.h"

// Whether a transfer must stop: a cancel or a termination of this backend is pending. HttpStream asks it between
// waits for the network, so that a transfer never delays an interrupt for long.
bool ShouldAbortTransfer();

// The request headers of a source ("Name: value"), from options.headers (their placeholders and {secret:name}
// references expanded from values, in one pass), options.basic_auth, a JSON Content-Type for a request body, and the
// OAuth 2 bearer token (NULL when none).
typedef struct SourceHeaders {
    std::vector<std::string> plain;      // headers without secrets: sent to every host the request goes to
    std::vector<std::string> sensitive;  // credentials and headers with secrets: to the URL's origin only
} SourceHeaders;

// Core code (call it inside CallCore or NewInMemoryContext): throws Error naming a secret that is not set.
SourceHeaders SourceRequestHeaders(const bulk_ingest::SourceOptions &options, const bulk_ingest::TemplateValues &values,
                                   const char *bearer_token);

// The options of one request: the headers (plain and sensitive may be NULL; extra_header, e.g. a conditional
// request's, when not NULL), the allowlist of bulk_ingest.allowed_hosts, the source's timeouts and response size
// bounded by the superuser limits, the interrupt check. Core code.
bulk_ingest::HttpOptions SourceHttpOptions(const bulk_ingest::SourceOptions &declared,
                                           const std::vector<std::string> *plain,
                                           const std::vector<std::string> *sensitive, const char *extra_header);
