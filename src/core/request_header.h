// Checks of the request headers a source sends (options.headers at registration, every header line before a
// request): one rule, so that what registration accepts is what a request sends.
#pragma once

#include <string>

namespace bulk_ingest {

// Throws bulk_ingest::Error naming the header (never its value: values carry credentials) when
//  - name is not an RFC 9110 token (letters, digits and !#$%&'*+-.^_`|~; not empty),
//  - value contains CR, LF or NUL (a line break would end the header and inject others, or a request),
//  - name is one of the headers that frame the message or the connection, which libcurl sets itself: Host,
//    Content-Length, Transfer-Encoding, Connection, Keep-Alive, Upgrade, TE, Trailer, Expect, Proxy-Connection
//    (compared ignoring case). Overriding Host would send the request for one virtual host to the address of
//    another; the others could desynchronise the framing of the request.
void CheckRequestHeader(const std::string &name, const std::string &value);

// The same check of a header line "Name: value" (as HttpOptions::headers holds them). Also throws when the line has
// no colon.
void CheckRequestHeaderLine(const std::string &line);

// Whether name is one of the headers that carry credentials, which are never sent to another origin than the one
// of the source's URL, whichever list they come in: Authorization, Proxy-Authorization, Cookie (what libcurl
// itself refuses to send to another host when it follows a redirect).
bool IsCredentialHeader(const std::string &name);

}  // namespace bulk_ingest
