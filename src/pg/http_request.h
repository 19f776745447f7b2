// How the extension's HTTP requests are made: one place for a run's pages, a preview's first page and the sample
// of column inference, so that every limit on a run's requests (bulk_ingest.*_limit, and what else HttpOptions
// carries) constrains the others too.
#pragma once

#include "pg/pg_prelude.h"

#include <string>
#include <vector>

#include "core/declaration.h"
#include "core/http_stream.h"
#include "core/secrets.h"

// Whether a transfer must stop: a cancel or a termination of this backend is pending. HttpStream asks it between
// waits for the network, so that a transfer never delays an interrupt for long.
bool ShouldAbortTransfer();

// The request headers of a source ("Name: value"): options.headers and options.basic_auth, with {secret:name}
// expanded. Core code (call it inside CallCore or NewInMemoryContext): throws Error naming a secret that is not set.
std::vector<std::string> SourceRequestHeaders(const bulk_ingest::SourceOptions &options,
                                              const bulk_ingest::SecretMap &secrets);

// The options of one request: the headers (and extra_header when not NULL, e.g. a conditional request's), the
// source's timeouts and response size bounded by the superuser limits, the interrupt check. Core code.
bulk_ingest::HttpOptions SourceHttpOptions(const bulk_ingest::SourceOptions &declared,
                                           const std::vector<std::string> *headers, const char *extra_header);
