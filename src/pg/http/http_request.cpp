#include "pg/http/http_request.h"

#include "core/prefetch.h"
#include "core/request_header.h"
#include "core/text.h"
#include "pg/http/allowlist.h"
#include "pg/settings.h"

// A source's value (0: unlimited) bounded by a superuser limit (0: none).
static int64 Bounded(int64 value, int64 limit) {
    if (limit <= 0) {
        return value;
    }
    return value <= 0 ? limit : Min(value, limit);
}

bool ShouldAbortTransfer() {
    if (bulk_ingest::OnProducerThread()) {
        // A read-ahead thread (prefetch.h) must not look at PostgreSQL's state: its consumer decides.
        return bulk_ingest::ProducerShouldStop();
    }
    return InterruptPending && (QueryCancelPending || ProcDiePending);
}

SourceHeaders SourceRequestHeaders(const bulk_ingest::SourceOptions &options, const bulk_ingest::TemplateValues &values,
                                   const char *bearer_token) {
    SourceHeaders headers;
    const bulk_ingest::SecretMap empty;
    const bulk_ingest::SecretMap &secrets = values.secrets != nullptr ? *values.secrets : empty;
    bool content_type = false;
    // A header that carries a secret, or credentials, is sent to the source's own origin only: never to another
    // host a redirect leads to.
    for (const auto &[name, value] : options.headers) {
        bool secret = !bulk_ingest::SecretReferences(value).empty() || bulk_ingest::IsCredentialHeader(name);
        (secret ? headers.sensitive : headers.plain)
            .push_back(name + ": " + bulk_ingest::ExpandTemplate(value, values, bulk_ingest::TemplateEncoding::kRaw));
        content_type = content_type || bulk_ingest::EqualsIgnoreCase(name, "Content-Type");
    }
    if (options.basic_auth) {
        std::string credentials = bulk_ingest::ExpandSecrets(options.basic_auth->first, secrets, false) + ":" +
                                  bulk_ingest::ExpandSecrets(options.basic_auth->second, secrets, false);
        headers.sensitive.push_back("Authorization: Basic " + bulk_ingest::Base64Encode(credentials));
    }
    if (options.request.body && !content_type) {
        headers.plain.push_back("Content-Type: application/json");
    }
    if (bearer_token != NULL) {
        headers.sensitive.push_back(std::string("Authorization: Bearer ") + bearer_token);
    }
    return headers;
}

bulk_ingest::HttpOptions SourceHttpOptions(const bulk_ingest::SourceOptions &declared,
                                           const std::vector<std::string> *plain,
                                           const std::vector<std::string> *sensitive, const char *extra_header) {
    bulk_ingest::HttpOptions options;
    options.should_abort = ShouldAbortTransfer;
    options.allowlist = CurrentAllowlist();
    if (plain != NULL) {
        options.headers = *plain;
    }
    if (sensitive != NULL) {
        options.sensitive_headers = *sensitive;
    }
    if (extra_header != NULL) {
        options.headers.push_back(extra_header);
    }
    options.connect_timeout_ms = (long)Bounded(declared.connect_timeout_ms, bulk_ingest_connect_timeout_limit);
    options.total_timeout_ms = (long)Bounded(declared.timeout_ms, bulk_ingest_request_timeout_limit);
    options.max_body_bytes =
        (uint64_t)Bounded(declared.max_response_bytes, (int64)bulk_ingest_response_size_limit * 1024);
    return options;
}
