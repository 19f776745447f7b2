// URLs of HTTP sources: validation, the {high_watermark} template, and Link-header pagination (see url.h).
#include "url.h"

#include <curl/curl.h>

#include <cctype>
#include <cstddef>
#include <cstdlib>
#include <string>
#include <vector>

#include "error.h"
#include "text.h"
#include "watermark_format.h"

namespace bulk_ingest {

namespace {

const char kPlaceholder[] = "{high_watermark}";

// Owns a CURLU handle.
class UrlHandle {
  public:
    UrlHandle() : handle_(curl_url()) {
        if (handle_ == nullptr) {
            throw Error("out of memory while parsing a URL");
        }
    }
    ~UrlHandle() { curl_url_cleanup(handle_); }
    UrlHandle(const UrlHandle &) = delete;
    UrlHandle &operator=(const UrlHandle &) = delete;
    CURLU *get() const { return handle_; }

    // The part, or the empty string when the URL has none.
    std::string Part(CURLUPart part) const {
        char *value = nullptr;
        if (curl_url_get(handle_, part, &value, 0) != CURLUE_OK || value == nullptr) {
            return "";
        }
        std::string result(value);
        curl_free(value);
        return result;
    }

  private:
    CURLU *handle_;
};

std::string ReplaceAll(const std::string &text, const std::string &from, const std::string &to) {
    std::string result;
    size_t start = 0;
    for (;;) {
        size_t found = text.find(from, start);
        if (found == std::string::npos) {
            result.append(text, start, std::string::npos);
            return result;
        }
        result.append(text, start, found - start);
        result += to;
        start = found + from.size();
    }
}

bool IsHttpScheme(const std::string &scheme) {
    return EqualsIgnoreCase(scheme, "http") || EqualsIgnoreCase(scheme, "https");
}

const char kOnlyHttp[] = "only http:// and https:// URLs can be sources";

// Throws unless url is an absolute http(s) URL with a host; subject names the URL in messages (URL "...").
void CheckHttpUrl(const std::string &url, const std::string &subject) {
    const std::string prefix = subject + " is not allowed: ";
    if (url.empty()) {
        throw Error(prefix + "it is empty; " + kOnlyHttp);
    }
    UrlHandle handle;
    CURLUcode rc = curl_url_set(handle.get(), CURLUPART_URL, url.c_str(), CURLU_NON_SUPPORT_SCHEME);
    if (rc != CURLUE_OK) {
        throw Error(prefix + "it is not a valid absolute URL (" + curl_url_strerror(rc) + "); " + kOnlyHttp);
    }
    if (!IsHttpScheme(handle.Part(CURLUPART_SCHEME))) {
        throw Error(prefix + kOnlyHttp);
    }
    // libcurl reads "http:///x" as the host x; a source URL must spell its host out.
    size_t authority = url.find("://");
    if (authority == std::string::npos || handle.Part(CURLUPART_HOST).empty() || authority + 3 >= url.size() ||
        url[authority + 3] == '/') {
        throw Error(prefix + "it has no host");
    }
}

bool IsUnreserved(unsigned char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
           c == '_' || c == '~';
}

// ---- Link header (RFC 8288, section 3) ----

bool IsLinkSpace(char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

struct LinkValue {
    std::string target;
    bool has_rel = false;
    std::string rel;
};

class LinkParser {
  public:
    explicit LinkParser(const std::string &text) : s_(text) {}

    // Parses the next link-value; false at the end of the text. Malformed parts are skipped.
    bool Next(LinkValue *link) {
        for (;;) {
            while (pos_ < s_.size() && (IsLinkSpace(s_[pos_]) || s_[pos_] == ',')) {
                pos_++;
            }
            if (pos_ >= s_.size()) {
                return false;
            }
            if (s_[pos_] != '<') {
                SkipToNextLink();  // not a link-value: ignore it
                continue;
            }
            size_t close = s_.find('>', pos_ + 1);
            if (close == std::string::npos) {
                pos_ = s_.size();  // an unterminated target: nothing usable follows
                return false;
            }
            *link = LinkValue();
            link->target = s_.substr(pos_ + 1, close - pos_ - 1);
            pos_ = close + 1;
            ParseParams(link);
            return true;
        }
    }

  private:
    void SkipSpace() {
        while (pos_ < s_.size() && IsLinkSpace(s_[pos_])) {
            pos_++;
        }
    }

    // Skips to the comma that ends the current link-value, stepping over quoted strings.
    void SkipToNextLink() {
        while (pos_ < s_.size() && s_[pos_] != ',') {
            if (s_[pos_] == '"') {
                ReadQuoted();
            } else {
                pos_++;
            }
        }
    }

    // At an opening quote: returns the unescaped content and moves past the closing quote.
    std::string ReadQuoted() {
        std::string value;
        pos_++;
        while (pos_ < s_.size() && s_[pos_] != '"') {
            if (s_[pos_] == '\\' && pos_ + 1 < s_.size()) {
                pos_++;
            }
            value += s_[pos_++];
        }
        if (pos_ < s_.size()) {
            pos_++;
        }
        return value;
    }

    std::string ReadToken() {
        size_t start = pos_;
        while (pos_ < s_.size() && !IsLinkSpace(s_[pos_]) && s_[pos_] != ';' && s_[pos_] != ',' && s_[pos_] != '=' &&
               s_[pos_] != '"') {
            pos_++;
        }
        return s_.substr(start, pos_ - start);
    }

    // Reads "; name[=value]" parameters up to the comma that ends the link-value.
    void ParseParams(LinkValue *link) {
        for (;;) {
            SkipSpace();
            if (pos_ >= s_.size()) {
                return;
            }
            if (s_[pos_] == ',') {
                pos_++;
                return;
            }
            if (s_[pos_] != ';') {
                // Garbage between parameters: skip up to the next parameter or link.
                while (pos_ < s_.size() && s_[pos_] != ';' && s_[pos_] != ',') {
                    if (s_[pos_] == '"') {
                        ReadQuoted();
                    } else {
                        pos_++;
                    }
                }
                continue;
            }
            pos_++;
            SkipSpace();
            std::string name = ReadToken();
            SkipSpace();
            std::string value;
            if (pos_ < s_.size() && s_[pos_] == '=') {
                pos_++;
                SkipSpace();
                if (pos_ < s_.size() && s_[pos_] == '"') {
                    value = ReadQuoted();
                } else {
                    value = ReadToken();
                }
            }
            // RFC 8288: occurrences of rel after the first are ignored.
            if (EqualsIgnoreCase(name, "rel") && !link->has_rel) {
                link->has_rel = true;
                link->rel = value;
            }
        }
    }

    const std::string &s_;
    size_t pos_ = 0;
};

bool RelHasNext(const std::string &rel) {
    size_t pos = 0;
    while (pos < rel.size()) {
        while (pos < rel.size() && IsLinkSpace(rel[pos])) {
            pos++;
        }
        size_t start = pos;
        while (pos < rel.size() && !IsLinkSpace(rel[pos])) {
            pos++;
        }
        if (pos > start && EqualsIgnoreCase(rel.substr(start, pos - start), "next")) {
            return true;
        }
    }
    return false;
}

std::string Trim(const std::string &text) {
    size_t start = 0;
    size_t end = text.size();
    while (start < end && IsLinkSpace(text[start])) {
        start++;
    }
    while (end > start && IsLinkSpace(text[end - 1])) {
        end--;
    }
    return text.substr(start, end - start);
}

// Resolves target against base_url and drops the fragment. subject names target in messages ("the next page link
// <...>"); flags are libcurl's for parsing target.
std::string ResolveReference(const std::string &target, const std::string &base_url, const std::string &subject,
                             unsigned int flags) {
    UrlHandle handle;
    CURLUcode rc = curl_url_set(handle.get(), CURLUPART_URL, base_url.c_str(), CURLU_NON_SUPPORT_SCHEME);
    if (rc != CURLUE_OK) {
        throw Error("cannot resolve " + subject + ": \"" + base_url + "\" is not a valid URL (" +
                    curl_url_strerror(rc) + ")");
    }
    if (!target.empty()) {
        rc = curl_url_set(handle.get(), CURLUPART_URL, target.c_str(), flags);
        if (rc != CURLUE_OK) {
            throw Error(subject + " of \"" + base_url + "\" is not a valid URL (" + curl_url_strerror(rc) + ")");
        }
    }
    // An empty reference is the page itself, without its fragment (RFC 3986, section 5.2.2).
    curl_url_set(handle.get(), CURLUPART_FRAGMENT, nullptr, 0);
    std::string resolved = handle.Part(CURLUPART_URL);
    if (resolved.empty()) {
        throw Error("cannot resolve " + subject + " against \"" + base_url + "\"");
    }
    return resolved;
}

// The host without one trailing dot ("example.com." and "example.com" are the same name), lower case.
std::string CanonicalHost(const std::string &host) {
    std::string lower = AsciiLowerCase(host);
    if (!lower.empty() && lower.back() == '.') {
        lower.pop_back();
    }
    return lower;
}

}  // namespace

std::string PercentEncode(const std::string &value) {
    static const char kHex[] = "0123456789ABCDEF";
    std::string result;
    result.reserve(value.size() * 3);
    for (char ch : value) {
        unsigned char c = static_cast<unsigned char>(ch);
        if (IsUnreserved(c)) {
            result += ch;
        } else {
            result += '%';
            result += kHex[c >> 4];
            result += kHex[c & 0x0F];
        }
    }
    return result;
}

std::string ResolveNextPageUrl(const std::string &target, const std::string &base_url) {
    std::string resolved =
        ResolveReference(Trim(target), base_url, "the next page link <" + Trim(target) + ">", CURLU_NON_SUPPORT_SCHEME);
    CheckHttpUrl(resolved, "the next page link \"" + resolved + "\" of \"" + base_url + "\"");
    return resolved;
}

UrlOrigin OriginOf(const std::string &url) {
    UrlHandle handle;
    CURLUcode rc = curl_url_set(handle.get(), CURLUPART_URL, url.c_str(), CURLU_NON_SUPPORT_SCHEME);
    if (rc != CURLUE_OK) {
        throw Error("URL \"" + url + "\" is not a valid absolute URL (" + curl_url_strerror(rc) + ")");
    }
    UrlOrigin origin;
    origin.scheme = AsciiLowerCase(handle.Part(CURLUPART_SCHEME));
    origin.host = handle.Part(CURLUPART_HOST);
    // CURLU_DEFAULT_PORT: the scheme's port when the URL names none (empty for a scheme libcurl does not know).
    char *port = nullptr;
    if (curl_url_get(handle.get(), CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) == CURLUE_OK && port != nullptr) {
        origin.port = std::strtol(port, nullptr, 10);
        curl_free(port);
    }
    return origin;
}

bool SameOrigin(const UrlOrigin &a, const UrlOrigin &b) {
    return a.scheme == b.scheme && a.port == b.port && CanonicalHost(a.host) == CanonicalHost(b.host);
}

std::string ResolveRedirectLocation(const std::string &location, const std::string &base_url) {
    const std::string target = Trim(location);
    if (target.empty()) {
        throw Error("the redirect of \"" + base_url + "\" has an empty Location");
    }
    // The flags libcurl itself parses a Location with when it follows a redirect (lib/transfer.c, Curl_follow),
    // and CURLU_NON_SUPPORT_SCHEME so that any scheme resolves and the caller can refuse it by name.
    return ResolveReference(target, base_url, "the redirect to <" + target + ">",
                            CURLU_NON_SUPPORT_SCHEME | CURLU_URLENCODE | CURLU_ALLOW_SPACE);
}

void ValidateSourceUrl(const std::string &url) {
    CheckHttpUrl(BlankPlaceholders(url, "0"), "URL \"" + url + "\"");
}

std::string ExpandUrlTemplate(const std::string &url_template, const std::string &value) {
    return ReplaceAll(url_template, kPlaceholder, PercentEncode(value));
}

std::optional<std::string> FindNextLink(const std::string &link_header_values, const std::string &base_url) {
    LinkParser parser(link_header_values);
    LinkValue link;
    while (parser.Next(&link)) {
        if (!link.has_rel || !RelHasNext(link.rel)) {
            continue;
        }
        // A server must not be able to steer the next request to file:// or another protocol.
        return ResolveNextPageUrl(link.target, base_url);
    }
    return std::nullopt;
}

}  // namespace bulk_ingest
