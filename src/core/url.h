// URLs of HTTP sources: validation, the {high_watermark} template, and Link-header pagination.
#pragma once

#include <optional>
#include <string>

namespace bulk_ingest {

// Throws bulk_ingest::Error unless url (after removing template placeholders) is an absolute http:// or https://
// URL with a host. Other schemes (file://, ftp://, gopher://, ...) are refused: a source must be an HTTP server.
void ValidateSourceUrl(const std::string &url);

// Replaces every "{high_watermark}" in url_template with value, percent-encoded (RFC 3986 unreserved characters
// kept). An absent watermark is passed as the empty string.
std::string ExpandUrlTemplate(const std::string &url_template, const std::string &value);

// Given the values of all Link headers of a response (RFC 8288), returns the target of the link with
// rel="next" (rel may list several relation types; case-insensitive), resolved against base_url.
std::optional<std::string> FindNextLink(const std::string &link_header_values, const std::string &base_url);

// Resolves a next page's URL (absolute or relative, surrounding blanks ignored) against base_url, the URL of the
// current page, without its fragment. Throws bulk_ingest::Error naming both unless the result is an http:// or
// https:// URL with a host: a server must not steer the next request to file:// or another protocol.
std::string ResolveNextPageUrl(const std::string &target, const std::string &base_url);

// RFC 3986 percent-encoding of every byte that is not unreserved (A-Z a-z 0-9 - . _ ~), upper-case hex.
std::string PercentEncode(const std::string &value);

}  // namespace bulk_ingest
