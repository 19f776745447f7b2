// Checks of request headers (see request_header.h).
#include "request_header.h"

#include <cstddef>
#include <string>

#include "error.h"
#include "text.h"

namespace bulk_ingest {

namespace {

// Headers libcurl writes itself and that say where the message ends or what becomes of the connection.
const char *const kFramingHeaders[] = {
    "Host",    "Content-Length", "Transfer-Encoding", "Connection", "Keep-Alive", "Upgrade", "TE",
    "Trailer", "Expect",         "Proxy-Connection"};

const char *const kCredentialHeaders[] = {"Authorization", "Proxy-Authorization", "Cookie"};

// RFC 9110, section 5.6.2: tchar.
bool IsTokenChar(char c) {
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
        return true;
    }
    switch (c) {
        case '!':
        case '#':
        case '$':
        case '%':
        case '&':
        case '\'':
        case '*':
        case '+':
        case '-':
        case '.':
        case '^':
        case '_':
        case '`':
        case '|':
        case '~':
            return true;
        default:
            return false;
    }
}

bool IsToken(const std::string &text) {
    if (text.empty()) {
        return false;
    }
    for (char c : text) {
        if (!IsTokenChar(c)) {
            return false;
        }
    }
    return true;
}

// The name made safe to quote in a message: it may be the very text that failed the check.
std::string Printable(const std::string &name) {
    std::string out;
    for (char c : name) {
        unsigned char u = static_cast<unsigned char>(c);
        out += (u < 0x20 || u == 0x7F) ? '?' : c;
    }
    return out;
}

bool IsSpaceOrTab(char c) {
    return c == ' ' || c == '\t';
}

}  // namespace

void CheckRequestHeader(const std::string &name, const std::string &value) {
    if (!IsToken(name)) {
        throw Error("\"" + Printable(name) +
                    "\" is not a valid request header name (a token: letters, digits and !#$%&'*+-.^_`|~)");
    }
    for (const char *framing : kFramingHeaders) {
        if (EqualsIgnoreCase(name, framing)) {
            throw Error("request header \"" + name +
                        "\" cannot be set: the HTTP client sets it itself (Host, Content-Length, Transfer-Encoding, "
                        "Connection, Keep-Alive, Upgrade, TE, Trailer, Expect and Proxy-Connection cannot be set)");
        }
    }
    if (value.find_first_of(std::string("\r\n\0", 3)) != std::string::npos) {
        throw Error("the value of request header \"" + name + "\" contains a line break (CR or LF) or a NUL byte");
    }
}

void CheckRequestHeaderLine(const std::string &line) {
    size_t colon = line.find(':');
    if (colon == std::string::npos) {
        // Quoting the line could show a secret: it has no name to quote.
        throw Error("a request header is not of the form \"Name: value\" (it has no colon)");
    }
    size_t start = colon + 1;
    while (start < line.size() && IsSpaceOrTab(line[start])) {
        start++;
    }
    CheckRequestHeader(line.substr(0, colon), line.substr(start));
}

bool IsCredentialHeader(const std::string &name) {
    for (const char *credential : kCredentialHeaders) {
        if (EqualsIgnoreCase(name, credential)) {
            return true;
        }
    }
    return false;
}

}  // namespace bulk_ingest
