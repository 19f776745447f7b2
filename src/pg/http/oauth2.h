// OAuth 2 client credentials for a source declared with options.auth (core/oauth2.h): its bearer token, cached in
// bulk_ingest.tokens until shortly before it expires (across pages and runs), fetched from the token endpoint through
// HttpStream (so through bulk_ingest.allowed_hosts, like every connection of a run) when missing, about to expire or
// refused.
#pragma once

#include "pg/pg_prelude.h"

#include "core/secrets.h"
#include "pg/catalog/declaration.h"

// The name under which a run keeps its bearer token in its secrets: never a {secret:...} reference (the name has a
// blank), but redacted from every message like the secrets.
#define BULK_INGEST_TOKEN_SECRET "oauth2 access token"

// The source's bearer token, in the current memory context: the cached one while it is valid for more than a
// minute, else (and always when force: a request was answered 401 with the cached one) a new one from the token
// endpoint, stored in the catalog. Starts and commits a transaction of its own when called outside one. Raises an
// error naming the token endpoint (never a secret or a token) when it cannot get one.
char *SourceBearerToken(const Declaration *decl, const bulk_ingest::SecretMap *secrets, bool force,
                        bool (*should_abort)());
