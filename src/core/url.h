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

// Where a request to an absolute URL goes, as libcurl reads the URL (the reader libcurl connects with, so that a
// check of the host sees what libcurl will connect to).
struct UrlOrigin {
    std::string scheme;  // lower case: "http", "https", ...
    // As libcurl normalises it: percent-decoded, IPv4 numbers in dotted-quad form ("http://2130706433/" is
    // 127.0.0.1), IPv6 addresses in brackets ("[::1]", without a zone id); the case of names is kept.
    std::string host;
    long port = 0;  // the scheme's default port when the URL has none
};

// Throws bulk_ingest::Error when url is not a valid absolute URL (any scheme). host is empty when the URL has none
// (file:///etc/passwd).
UrlOrigin OriginOf(const std::string &url);

// Whether two origins are the same (RFC 6454: scheme, host and port; the scheme and the host compared ignoring
// case, a trailing dot of the host ignored).
bool SameOrigin(const UrlOrigin &a, const UrlOrigin &b);

// Resolves the Location of a redirect (absolute or relative, surrounding blanks ignored; spaces and non-ASCII bytes
// percent-encoded, as libcurl does when it follows a redirect itself) against base_url, the URL that answered with
// the redirect, and drops the fragment. Any scheme may result: the caller decides which ones it follows. Throws
// bulk_ingest::Error naming both when location is not a valid URL.
std::string ResolveRedirectLocation(const std::string &location, const std::string &base_url);

// RFC 3986 percent-encoding of every byte that is not unreserved (A-Z a-z 0-9 - . _ ~), upper-case hex.
std::string PercentEncode(const std::string &value);

}  // namespace bulk_ingest
