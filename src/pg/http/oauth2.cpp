#include "pg/http/oauth2.h"

#include "core/http_stream.h"
#include "core/oauth2.h"
#include "core/retry_policy.h"
#include "pg/http/allowlist.h"
#include "pg/catalog/catalog.h"
#include "pg/guard.h"
#include "pg/http/pacing.h"
#include "pg/settings.h"
#include "pg/sql.h"

extern "C" {
#include "access/xact.h"
#include "executor/spi.h"
#include "pgstat.h"
#include "storage/latch.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
}

using pg_bulk_ingest::CallCore;
using pg_bulk_ingest::CallCoreForText;
using pg_bulk_ingest::NewInMemoryContext;

// The most of a token endpoint's answer read: a token response is a few hundred bytes.
static const uint64_t kMaxTokenResponseBytes = 64 * 1024;

static char *CachedToken(const char *source, const char *fingerprint, MemoryContext into) {
    const char *args[] = {source, fingerprint};
    SPI_connect();
    // A token that expires within a minute is not handed out again: a run's requests would carry it past its end.
    ExecuteAsCatalogOwner(
        "SELECT access_token FROM bulk_ingest.tokens WHERE source = $1 AND fingerprint = $2"
        "   AND (expires_at IS NULL OR expires_at > now() + interval '60 seconds')",
        2, args, true, 1);
    char *token = SPI_processed == 1 ? ResultText(0, 1, into) : NULL;
    SPI_finish();
    return token;
}

static void StoreToken(const char *source, const char *fingerprint, const char *token, int64 expires_in_s) {
    char expires_text[32];
    snprintf(expires_text, sizeof(expires_text), INT64_FORMAT, expires_in_s);
    const char *args[] = {source, token, expires_in_s > 0 ? expires_text : NULL, fingerprint};
    SPI_connect();
    ExecuteAsCatalogOwner(
        "INSERT INTO bulk_ingest.tokens AS t (source, access_token, expires_at, fingerprint)"
        " VALUES ($1, $2, now() + $3::bigint * interval '1 second', $4)"
        " ON CONFLICT (source) DO UPDATE SET access_token = excluded.access_token, expires_at = excluded.expires_at,"
        "     fingerprint = excluded.fingerprint, fetched_at = now()",
        4, args, false, 0);
    SPI_finish();
}

// Asks the token endpoint, retrying transient failures like a page (options.max_retries, the backoff,
// Retry-After). Sets *token and *expires_in_s.
static void FetchToken(const Declaration *decl, const bulk_ingest::SecretMap *secrets, bool (*should_abort)(),
                       MemoryContext into, char **token, int64 *expires_in_s) {
    const bulk_ingest::OAuth2Spec &spec = *decl->options->request.oauth2;
    const bulk_ingest::SourceOptions *options = decl->options;
    MemoryContext cxt = AllocSetContextCreate(CurrentMemoryContext, "bulk_ingest token", ALLOCSET_SMALL_SIZES);
    MemoryContext old = MemoryContextSwitchTo(cxt);
    bulk_ingest::RetryPolicy *policy = NewInMemoryContext<bulk_ingest::RetryPolicy>([&] {
        bulk_ingest::RetryOptions retry;
        retry.max_retries = options->max_retries;
        return new bulk_ingest::RetryPolicy(retry);
    });
    bulk_ingest::Token *result = NewInMemoryContext<bulk_ingest::Token>([] { return new bulk_ingest::Token(); });
    char prefix[1024];
    snprintf(prefix, sizeof(prefix), "source \"%s\": the token endpoint \"%s\": ", decl->row->source,
             spec.token_url.c_str());
    for (;;) {
        int64 retry_in_ms = -1;
        MemoryContext attempt = AllocSetContextCreate(cxt, "bulk_ingest token request", ALLOCSET_SMALL_SIZES);
        MemoryContextSwitchTo(attempt);
        bulk_ingest::HttpStream *stream = NewInMemoryContext<bulk_ingest::HttpStream>(
            [&] {
                bulk_ingest::TokenRequest request = bulk_ingest::BuildTokenRequest(spec, *secrets);
                bulk_ingest::HttpOptions http;
                http.should_abort = should_abort;
                http.allowlist = CurrentAllowlist();
                // The credentials go to the endpoint's origin only, and so does the body that may carry them.
                http.sensitive_headers = request.headers;
                http.post_body = request.body;
                http.post_body_sensitive = true;
                http.connect_timeout_ms = options->connect_timeout_ms;
                http.total_timeout_ms = options->timeout_ms > 0 ? options->timeout_ms : 60000;
                http.max_body_bytes = kMaxTokenResponseBytes;
                return new bulk_ingest::HttpStream(spec.token_url, http);
            },
            prefix);
        CallCore(
            [&] {
                try {
                    stream->Start();
                    std::string body;
                    char buf[8192];
                    for (size_t n; (n = stream->Read(buf, sizeof(buf))) > 0;) {
                        body.append(buf, n);
                    }
                    *result = bulk_ingest::ParseTokenResponse(body);
                } catch (const bulk_ingest::HttpError &e) {
                    bulk_ingest::RetryDecision decision = policy->OnFailure(spec.token_url, e);
                    if (!decision.retry) {
                        throw bulk_ingest::HttpError(e.status(), std::string(e.what()) + " (" + decision.reason + ")",
                                                     e.kind());
                    }
                    retry_in_ms = decision.delay_ms;
                }
            },
            prefix);
        MemoryContextSwitchTo(cxt);
        MemoryContextDelete(attempt);
        if (retry_in_ms < 0) {
            break;
        }
        WaitInterruptiblyMs(retry_in_ms);
    }
    *token = CallCoreForText(into, [&] { return result->access_token; });
    *expires_in_s = result->expires_in_s;
    MemoryContextSwitchTo(old);
    MemoryContextDelete(cxt);
}

char *SourceBearerToken(const Declaration *decl, const bulk_ingest::SecretMap *secrets, bool force,
                        bool (*should_abort)()) {
    MemoryContext caller = CurrentMemoryContext;
    bool own = !IsTransactionState();
    if (own) {
        StartTransactionCommand();
        PushActiveSnapshot(GetTransactionSnapshot());
    }
    const char *source = decl->row->source;
    char *fingerprint =
        CallCoreForText(caller, [&] { return bulk_ingest::OAuth2Fingerprint(*decl->options->request.oauth2); });
    char *token = force ? NULL : CachedToken(source, fingerprint, caller);
    if (token == NULL) {
        int64 expires_in_s = 0;
        FetchToken(decl, secrets, should_abort, caller, &token, &expires_in_s);
        StoreToken(source, fingerprint, token, expires_in_s);
    }
    if (own) {
        PopActiveSnapshot();
        CommitTransactionCommand();
    }
    MemoryContextSwitchTo(caller);
    return token;
}
