// OAuth 2 client credentials (RFC 6749, section 4.4), the core's part: the declaration (options.auth), the token
// request, and the token response. The PostgreSQL layer sends the request (through HttpStream and the allowlist),
// caches the token in the catalog, and refreshes it on a 401.
//
//   "auth": {"type": "oauth2_client_credentials", "token_url": "https://auth.example.com/oauth/token",
//            "client_id": "{secret:client_id}", "client_secret": "{secret:client_secret}",
//            "scope": "read:orders", "client_auth": "basic" | "post"}
#pragma once

#include <rapidjson/document.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "secrets.h"

namespace bulk_ingest {

struct OAuth2Spec {
    std::string token_url;
    std::string client_id;      // may reference {secret:name}
    std::string client_secret;  // may reference {secret:name}
    std::optional<std::string> scope;
    bool client_auth_basic = true;  // "basic" (HTTP basic authentication, RFC 6749 2.3.1) or "post" (in the form)
};

// Parses options.auth. Throws Error "options: \"auth\": ..." for an unknown type, a missing or invalid key, a token
// URL that is not http(s), a malformed secret reference.
OAuth2Spec ParseOAuth2(const rapidjson::Value &value);

// What identifies the token a spec gets (its endpoint, client, scope and client authentication), to tell a cached
// token of another declaration.
std::string OAuth2Fingerprint(const OAuth2Spec &spec);

struct TokenRequest {
    std::string body;                  // application/x-www-form-urlencoded
    std::vector<std::string> headers;  // "Name: value": the basic credentials (sensitive) and the content types
};

// The token request, with the client's secrets expanded. Throws Error for a secret that is not set.
TokenRequest BuildTokenRequest(const OAuth2Spec &spec, const SecretMap &secrets);

struct Token {
    std::string access_token;
    int64_t expires_in_s = 0;  // 0: the response did not say
};

// Reads the token endpoint's JSON answer. Throws Error (naming what is wrong, never the token) for a body that is not
// a JSON object with a string access_token, a token_type other than bearer, an expires_in that is not a number.
Token ParseTokenResponse(const std::string &body);

// application/x-www-form-urlencoded encoding of a value (RFC 6749, appendix B: spaces as '+').
std::string FormEncode(const std::string &value);

}  // namespace bulk_ingest
