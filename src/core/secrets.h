// Secrets of a source (API tokens, passwords): referenced as {secret:name} in the URL and in options.headers, set
// with bulk_ingest_set_secret(), and never shown: every message that could carry one goes through RedactSecrets().
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace bulk_ingest {

using SecretMap = std::map<std::string, std::string>;

// The names of the {secret:name} references in text, in order. Throws Error for a malformed reference (a name
// must be 1-64 characters of letters, digits, '_' and '-').
std::vector<std::string> SecretReferences(const std::string &text);

// Replaces every {secret:name} in text with the secret's value, percent-encoded when url_encode. Throws Error naming
// the secret when it is not set.
std::string ExpandSecrets(const std::string &text, const SecretMap &secrets, bool url_encode);

// Replaces every occurrence of a secret's value in text with "***", in any URL encoding of it as well (%XX with
// either case of hex digit, '+' for a space): a server may echo it into its next-page links encoded its own way.
std::string RedactSecrets(std::string text, const SecretMap &secrets);

// RFC 4648 base64 (standard alphabet, padded), for HTTP basic authentication.
std::string Base64Encode(std::string_view data);

}  // namespace bulk_ingest
