// An HTTP GET read as a pull stream, on libcurl's multi interface (see http_stream.h).
//
// Nothing runs in the background: every network step happens inside Start() or Read(), which call
// curl_multi_perform and wait in curl_multi_poll for at most abort_check_interval_ms before asking should_abort
// again. The write callback accepts a chunk only when the previous one has been read; otherwise it pauses the
// transfer (CURL_WRITEFUNC_PAUSE, libcurl keeps the refused chunk and hands it over again), and the transfer is
// resumed when the reader has drained the buffer. So the stream holds at most one libcurl chunk of the body.
//
// libcurl is C: no exception may cross a callback. Callbacks catch everything, store it, and make libcurl stop
// the transfer; Start()/Read() rethrow it.
//
// Redirects are followed here rather than by libcurl (CURLOPT_FOLLOWLOCATION): each hop is a request of its own,
// with the headers its origin may see, and a connection to its host checked by the open-socket callback.
#include "http_stream.h"

#include <curl/curl.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <exception>
#include <optional>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "error.h"
#include "text.h"
#include "host_allowlist.h"
#include "request_header.h"
#include "url.h"

namespace bulk_ingest {

namespace {

constexpr int kMaxRedirects = 10;
constexpr size_t kErrorBodyLimit = 1024;

void GlobalInitOnce() {
    // A function-local static is initialised exactly once, thread-safely.
    static const CURLcode rc = curl_global_init(CURL_GLOBAL_DEFAULT);
    if (rc != CURLE_OK) {
        throw Error(std::string("could not initialise libcurl: ") + curl_easy_strerror(rc));
    }
}

// Length of the valid UTF-8 sequence at s[i], or 0 when it is not one.
size_t Utf8SequenceLength(const std::string &s, size_t i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    size_t len;
    unsigned int min;
    unsigned int cp;
    if (c < 0x80) {
        return 1;
    } else if ((c & 0xE0) == 0xC0) {
        len = 2, min = 0x80, cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
        len = 3, min = 0x800, cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
        len = 4, min = 0x10000, cp = c & 0x07;
    } else {
        return 0;
    }
    if (i + len > s.size()) {
        return 0;
    }
    for (size_t k = 1; k < len; k++) {
        unsigned char cc = static_cast<unsigned char>(s[i + k]);
        if ((cc & 0xC0) != 0x80) {
            return 0;
        }
        cp = (cp << 6) | (cc & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
        return 0;
    }
    return len;
}

// Makes text from the network safe to put in an error message: valid UTF-8 (invalid bytes become '?'), control
// characters become spaces, surrounding blanks removed.
std::string PrintableText(const std::string &raw) {
    std::string out;
    out.reserve(raw.size());
    for (size_t i = 0; i < raw.size();) {
        size_t len = Utf8SequenceLength(raw, i);
        if (len == 0) {
            out += '?';
            i++;
        } else if (len == 1) {
            unsigned char c = static_cast<unsigned char>(raw[i]);
            out += (c < 0x20 || c == 0x7F) ? ' ' : raw[i];
            i++;
        } else {
            out.append(raw, i, len);
            i += len;
        }
    }
    return TrimBlanks(out);
}

// The kind of failure a libcurl result stands for (see HttpErrorKind): what the retry policy decides by.
HttpErrorKind KindOf(CURLcode code) {
    switch (code) {
        case CURLE_OPERATION_TIMEDOUT:
            return HttpErrorKind::kTimeout;
        case CURLE_UNSUPPORTED_PROTOCOL:
            return HttpErrorKind::kForbiddenScheme;
        case CURLE_URL_MALFORMAT:
            return HttpErrorKind::kInvalidUrl;
        case CURLE_TOO_MANY_REDIRECTS:
            return HttpErrorKind::kTooManyRedirects;
        case CURLE_PEER_FAILED_VERIFICATION:
        case CURLE_SSL_CACERT_BADFILE:
        case CURLE_SSL_CERTPROBLEM:
        case CURLE_SSL_CIPHER:
        case CURLE_SSL_ENGINE_NOTFOUND:
        case CURLE_SSL_ENGINE_SETFAILED:
        case CURLE_SSL_ENGINE_INITFAILED:
        case CURLE_SSL_CRL_BADFILE:
        case CURLE_SSL_ISSUER_ERROR:
        case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
        case CURLE_SSL_INVALIDCERTSTATUS:
            return HttpErrorKind::kTls;
        case CURLE_OUT_OF_MEMORY:
        case CURLE_BAD_FUNCTION_ARGUMENT:
        case CURLE_FAILED_INIT:
        case CURLE_NOT_BUILT_IN:
        case CURLE_UNKNOWN_OPTION:
        case CURLE_FILESIZE_EXCEEDED:
        case CURLE_ABORTED_BY_CALLBACK:
        case CURLE_WRITE_ERROR:
        case CURLE_LOGIN_DENIED:
            return HttpErrorKind::kOther;
        default:
            // Resolving, connecting, sending, receiving, a reset, a body cut short, a TLS handshake that broke
            // off, an HTTP/2 stream error: the network, which may work on the next attempt.
            return HttpErrorKind::kConnection;
    }
}

bool IsRedirectStatus(long status) {
    return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

// The name of a header line "Name: value" (CheckRequestHeaderLine has made sure it has one).
std::string HeaderName(const std::string &line) {
    return line.substr(0, line.find(':'));
}

}  // namespace

struct HttpStream::Impl {
    std::string url;  // as given: the URL error messages name
    HttpOptions options;

    // The request in flight: the URL, then each redirect's target.
    std::string current_url;
    UrlOrigin origin;                    // of url: sensitive headers go only there
    UrlOrigin current_origin;            // of current_url: the host the open-socket callback checks
    int redirects = 0;                   // followed so far
    bool redirect_ready = false;         // the response is a redirect to follow and its headers are complete
    std::optional<std::string> refusal;  // the allowlist refused a connection of this hop
    bool post = false;                   // this hop is a POST of options.post_body

    CURL *easy = nullptr;
    CURLM *multi = nullptr;
    curl_slist *request_headers = nullptr;
    char error_buffer[CURL_ERROR_SIZE] = {0};
    bool added = false;  // easy is in multi

    bool started = false;
    bool done = false;  // libcurl reported the end of the transfer
    CURLcode result = CURLE_OK;
    std::exception_ptr failure;         // rethrown by every later Start()/Read()
    std::exception_ptr callback_error;  // thrown inside a callback, rethrown by the caller of libcurl

    // The response headers of the last response (earlier blocks belong to redirects or 1xx responses).
    long status = 0;
    std::string reason;
    std::vector<std::pair<std::string, std::string>> headers;
    bool headers_final = false;  // the final response's headers are complete

    // The body chunk handed over by libcurl and not yet read: buffer[buffer_pos, buffer.size()).
    std::string buffer;
    size_t buffer_pos = 0;
    bool paused = false;
    size_t max_buffered = 0;
    uint64_t body_received = 0;  // accepted from libcurl
    uint64_t body_read = 0;      // handed to the reader

    ~Impl() {
        if (multi != nullptr && easy != nullptr && added) {
            curl_multi_remove_handle(multi, easy);
        }
        if (easy != nullptr) {
            curl_easy_cleanup(easy);
        }
        if (multi != nullptr) {
            curl_multi_cleanup(multi);
        }
        curl_slist_free_all(request_headers);
    }

    bool BufferEmpty() const { return buffer_pos >= buffer.size(); }

    // ---- libcurl callbacks: never throw ----

    static size_t WriteCallback(char *data, size_t size, size_t nmemb, void *userdata) {
        Impl *self = static_cast<Impl *>(userdata);
        size_t n = size * nmemb;
        try {
            if (self->redirect_ready) {
                return n;  // the body of a redirect: not the response's, dropped
            }
            if (!self->BufferEmpty()) {
                self->paused = true;
                return CURL_WRITEFUNC_PAUSE;  // libcurl keeps this chunk and delivers it again after unpausing
            }
            self->headers_final = true;  // body bytes only ever belong to the final response
            self->buffer.assign(data, n);
            self->buffer_pos = 0;
            self->max_buffered = std::max(self->max_buffered, n);
            self->body_received += n;
            return n;
        } catch (...) {
            self->callback_error = std::current_exception();
            return 0;  // anything but n (and not a pause) stops the transfer
        }
    }

    static size_t HeaderCallback(char *data, size_t size, size_t nitems, void *userdata) {
        Impl *self = static_cast<Impl *>(userdata);
        size_t n = size * nitems;
        try {
            self->OnHeaderLine(data, n);
            return n;
        } catch (...) {
            self->callback_error = std::current_exception();
            return 0;
        }
    }

    void OnHeaderLine(const char *data, size_t n) {
        if (n >= 5 && std::memcmp(data, "HTTP/", 5) == 0) {
            // A status line starts a new response: a redirect, a 1xx or a proxy's CONNECT reply came before.
            headers.clear();
            headers_final = false;
            std::string line = TrimBlanks(std::string_view(data, n));
            size_t space = line.find(' ');
            status = 0;
            reason.clear();
            if (space != std::string::npos) {
                size_t pos = space + 1;
                while (pos < line.size() && line[pos] >= '0' && line[pos] <= '9') {
                    status = status * 10 + (line[pos] - '0');
                    pos++;
                }
                reason = TrimBlanks(std::string_view(line).substr(pos));
            }
            return;
        }
        std::string line = TrimBlanks(std::string_view(data, n));
        if (line.empty()) {
            // The end of a header block. 1xx responses and the redirects DoStart follows are not final.
            if (IsRedirectStatus(status) && Location()) {
                redirect_ready = true;
            } else if (status >= 200) {
                headers_final = true;
            }
            return;
        }
        if ((data[0] == ' ' || data[0] == '\t') && !headers.empty()) {
            // obs-fold: a continuation of the previous header's value.
            headers.back().second += ' ';
            headers.back().second += line;
            return;
        }
        size_t colon = line.find(':');
        if (colon == std::string::npos) {
            return;
        }
        headers.emplace_back(TrimBlanks(std::string_view(line).substr(0, colon)),
                             TrimBlanks(std::string_view(line).substr(colon + 1)));
    }

    // The Retry-After header of the response (the first one, trimmed), when it has one.
    std::optional<std::string> RetryAfter() const {
        for (const auto &header : headers) {
            if (EqualsIgnoreCase(header.first, "retry-after")) {
                return header.second;
            }
        }
        return std::nullopt;
    }

    // The response's Location (the first non-empty one), when it has one.
    std::optional<std::string> Location() const {
        for (const auto &header : headers) {
            if (EqualsIgnoreCase(header.first, "location") && !header.second.empty()) {
                return header.second;
            }
        }
        return std::nullopt;
    }

    // Opens the socket of every connection libcurl makes, after name resolution: the one place that sees the address
    // that will actually be connected to (each address of a name, each hop, each retry). Refuses it with
    // CURL_SOCKET_BAD, before a packet is sent, unless the allowlist allows it for the host of this hop's URL;
    // libcurl then tries the name's next address, or fails with CURLE_COULDNT_CONNECT, which DoStart reports as the
    // refusal. libcurl closes the socket itself with close() (no CURLOPT_CLOSESOCKETFUNCTION needed: this is a
    // plain socket()).
    static curl_socket_t OpenSocketCallback(void *clientp, curlsocktype purpose, struct curl_sockaddr *address) {
        Impl *self = static_cast<Impl *>(clientp);
        try {
            if (purpose != CURLSOCKTYPE_IPCXN) {
                return CURL_SOCKET_BAD;  // CURLSOCKTYPE_ACCEPT is FTP's: never ours
            }
            const bool complete = (address->family == AF_INET && address->addrlen >= sizeof(sockaddr_in)) ||
                                  (address->family == AF_INET6 && address->addrlen >= sizeof(sockaddr_in6));
            if (self->options.allowlist && !complete) {
                return CURL_SOCKET_BAD;  // not an IP address the allowlist can judge (never seen: refuse it)
            }
            if (self->options.allowlist) {
                std::optional<std::string> refusal =
                    self->options.allowlist->Refusal(self->current_origin.host, &address->addr);
                if (refusal) {
                    if (!self->refusal) {
                        self->refusal = std::move(refusal);
                    }
                    return CURL_SOCKET_BAD;
                }
            }
            int type = address->socktype;
#ifdef SOCK_CLOEXEC
            type |= SOCK_CLOEXEC;  // a program the backend starts must not inherit the connection
#endif
            return ::socket(address->family, type, address->protocol);
        } catch (...) {
            self->callback_error = std::current_exception();
            return CURL_SOCKET_BAD;
        }
    }

    // ---- driving the transfer ----

    void Setup() {
        GlobalInitOnce();
        easy = curl_easy_init();
        multi = curl_multi_init();
        if (easy == nullptr || multi == nullptr) {
            throw Error("could not create a libcurl handle for \"" + url + "\"");
        }
        // Before anything is sent: a line break in a value (a secret's, expanded) would inject headers or a whole
        // request, and Host would aim the request at another virtual host of the address.
        for (const std::vector<std::string> *list : {&options.headers, &options.sensitive_headers}) {
            for (const std::string &header : *list) {
                CheckRequestHeaderLine(header);
            }
        }
        Set(CURLOPT_ERRORBUFFER, error_buffer);
        Set(CURLOPT_HTTPGET, 1L);
        Set(CURLOPT_NOSIGNAL, 1L);
        Set(CURLOPT_PROTOCOLS_STR, "http,https");
        Set(CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
        // DoStart follows redirects itself (see the top of this file).
        Set(CURLOPT_FOLLOWLOCATION, 0L);
        // Never a proxy, not even one of the environment (http_proxy, https_proxy, all_proxy of the server's
        // environment): libcurl would connect to the proxy's address, the allowlist would judge that address and
        // not the source's, and the proxy would then connect wherever the URL says.
        Set(CURLOPT_PROXY, "");
        Set(CURLOPT_NOPROXY, "*");
        // Credentials of libcurl's own (URL user:password) only for the URL's host (the default, kept explicit).
        Set(CURLOPT_UNRESTRICTED_AUTH, 0L);
        Set(CURLOPT_OPENSOCKETFUNCTION, &Impl::OpenSocketCallback);
        Set(CURLOPT_OPENSOCKETDATA, this);
        Set(CURLOPT_ACCEPT_ENCODING, "");
        Set(CURLOPT_SSL_VERIFYPEER, 1L);
        Set(CURLOPT_SSL_VERIFYHOST, 2L);
        Set(CURLOPT_TCP_KEEPALIVE, 1L);
        Set(CURLOPT_CONNECTTIMEOUT_MS, options.connect_timeout_ms);
        if (options.low_speed_timeout_s > 0) {
            Set(CURLOPT_LOW_SPEED_LIMIT, 1L);
            Set(CURLOPT_LOW_SPEED_TIME, options.low_speed_timeout_s);
        }
        if (options.total_timeout_ms > 0) {
            Set(CURLOPT_TIMEOUT_MS, options.total_timeout_ms);
        }
        Set(CURLOPT_USERAGENT, options.user_agent.c_str());
        Set(CURLOPT_WRITEFUNCTION, &Impl::WriteCallback);
        Set(CURLOPT_WRITEDATA, this);
        Set(CURLOPT_HEADERFUNCTION, &Impl::HeaderCallback);
        Set(CURLOPT_HEADERDATA, this);
    }

    template <typename T>
    void Set(CURLoption option, T value) {
        CURLcode rc = curl_easy_setopt(easy, option, value);
        if (rc != CURLE_OK) {
            throw Error("could not prepare the request to \"" + url + "\": " + curl_easy_strerror(rc));
        }
    }

    void RethrowCallbackError() {
        if (callback_error) {
            std::exception_ptr error = callback_error;
            callback_error = nullptr;
            std::rethrow_exception(error);
        }
    }

    void CollectDone() {
        int queued = 0;
        while (CURLMsg *msg = curl_multi_info_read(multi, &queued)) {
            if (msg->msg == CURLMSG_DONE && msg->easy_handle == easy) {
                done = true;
                result = msg->data.result;
            }
        }
    }

    // Runs the transfer until ready() holds, asking should_abort between waits.
    template <typename Ready>
    void WaitFor(Ready ready) {
        for (;;) {
            if (ready()) {
                return;
            }
            if (options.should_abort && options.should_abort()) {
                throw Interrupted();
            }
            if (paused && BufferEmpty()) {
                paused = false;
                CURLcode rc = curl_easy_pause(easy, CURLPAUSE_CONT);  // may deliver the held chunk at once
                RethrowCallbackError();
                if (rc != CURLE_OK) {
                    throw HttpError(status, "the transfer from \"" + url + "\" failed: " + curl_easy_strerror(rc),
                                    KindOf(rc));
                }
                if (ready()) {
                    return;
                }
            }
            int running = 0;
            CURLMcode mc = curl_multi_perform(multi, &running);
            RethrowCallbackError();
            if (mc != CURLM_OK) {
                throw HttpError(status, "the transfer from \"" + url + "\" failed: " + curl_multi_strerror(mc),
                                HttpErrorKind::kOther);
            }
            CollectDone();
            if (ready()) {
                return;
            }
            long wait_ms = std::min(std::max(1L, options.abort_check_interval_ms), 3600L * 1000L);
            mc = curl_multi_poll(multi, nullptr, 0, static_cast<int>(wait_ms), nullptr);
            if (mc != CURLM_OK) {
                throw HttpError(status, "the transfer from \"" + url + "\" failed: " + curl_multi_strerror(mc),
                                HttpErrorKind::kOther);
            }
        }
    }

    // libcurl's explanation of a failed transfer, with the operating system's reason when it adds one.
    std::string CurlReason() const {
        std::string reason_text = error_buffer[0] != '\0' ? std::string(error_buffer) : curl_easy_strerror(result);
        while (!reason_text.empty() && IsBlank(reason_text.back())) {
            reason_text.pop_back();
        }
        // The OS error explains a failed connect ("Connection refused"); for other failures it may be left over
        // from an earlier connection attempt, and libcurl's text already says what went wrong.
        long os_errno = 0;
        if (result == CURLE_COULDNT_CONNECT && curl_easy_getinfo(easy, CURLINFO_OS_ERRNO, &os_errno) == CURLE_OK &&
            os_errno != 0) {
            std::string os_text = std::error_code(static_cast<int>(os_errno), std::generic_category()).message();
            if (!os_text.empty() && reason_text.find(os_text) == std::string::npos) {
                reason_text += " (" + os_text + ")";
            }
        }
        return reason_text;
    }

    // The URL of the stream, and after a redirect the hop's: "\"<url>\"" or "\"<url>\" (redirected to \"<hop>\")".
    std::string Named() const {
        std::string named = "\"" + url + "\"";
        if (redirects > 0) {
            named += " (redirected to \"" + current_url + "\")";
        }
        return named;
    }

    // The origin of a URL about to be requested; throws HttpError unless it is an http(s) URL with a host.
    // what introduces the reason in the message ("" for the stream's URL, "the redirect to ... was refused: ").
    UrlOrigin OriginToRequest(const std::string &request_url, const std::string &what) const {
        UrlOrigin hop;
        try {
            hop = OriginOf(request_url);
        } catch (const Error &e) {
            throw HttpError(0, "could not fetch " + Named() + ": " + what + e.what(), HttpErrorKind::kInvalidUrl);
        }
        if (hop.scheme != "http" && hop.scheme != "https") {
            throw HttpError(0,
                            "could not fetch " + Named() + ": " + what + "the protocol \"" + hop.scheme +
                                "\" is not allowed (only http and https)",
                            HttpErrorKind::kForbiddenScheme);
        }
        if (hop.host.empty()) {
            throw HttpError(0, "could not fetch " + Named() + ": " + what + "the URL has no host",
                            HttpErrorKind::kInvalidUrl);
        }
        return hop;
    }

    // Prepares the request of the current hop: its URL, the headers its origin may see, a clean response state.
    void PrepareHop() {
        current_origin = OriginToRequest(current_url, redirects == 0 ? "" : "the redirect was refused: ");
        if (redirects == 0) {
            origin = current_origin;
        }
        const bool same_origin = SameOrigin(current_origin, origin);
        curl_slist *list = nullptr;
        auto append = [&](const std::string &header) {
            curl_slist *appended = curl_slist_append(list, header.c_str());
            if (appended == nullptr) {
                curl_slist_free_all(list);
                throw Error("out of memory while preparing the request to " + Named());
            }
            list = appended;
        };
        for (const std::string &header : options.headers) {
            // libcurl itself never sent these to another host on a redirect: keep it so now that it is ours.
            if (same_origin || !IsCredentialHeader(HeaderName(header))) {
                append(header);
            }
        }
        if (same_origin) {
            for (const std::string &header : options.sensitive_headers) {
                append(header);
            }
        }
        if (post) {
            // A body with a secret goes where the headers with secrets go: to the URL's origin only.
            if (options.post_body_sensitive && !same_origin) {
                curl_slist_free_all(list);
                throw HttpError(0,
                                "could not fetch " + Named() +
                                    ": the redirect to another origin would carry the request body, which holds a "
                                    "secret",
                                HttpErrorKind::kNotAllowed);
            }
            append("Expect:");  // no 100-continue round trip before the body
            Set(CURLOPT_POST, 1L);
            Set(CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(options.post_body->size()));
            Set(CURLOPT_COPYPOSTFIELDS, options.post_body->c_str());
        } else {
            Set(CURLOPT_HTTPGET, 1L);
        }
        Set(CURLOPT_HTTPHEADER, list);  // nullptr: none
        curl_slist_free_all(request_headers);
        request_headers = list;
        Set(CURLOPT_URL, current_url.c_str());

        status = 0;
        reason.clear();
        headers.clear();
        headers_final = false;
        redirect_ready = false;
        refusal.reset();
        done = false;
        result = CURLE_OK;
        error_buffer[0] = '\0';
    }

    // Ends the redirect response (its connection is closed unless it was read whole) and aims at its Location.
    void FollowRedirect() {
        const std::string location = Location().value_or("");
        curl_multi_remove_handle(multi, easy);
        added = false;
        if (redirects >= kMaxRedirects) {
            throw HttpError(0,
                            "could not fetch " + Named() + ": gave up after " + std::to_string(kMaxRedirects) +
                                " redirects (HTTP " + std::to_string(status) + " to \"" + PrintableText(location) +
                                "\")",
                            HttpErrorKind::kTooManyRedirects);
        }
        std::string next;
        try {
            next = ResolveRedirectLocation(location, current_url);
        } catch (const Error &e) {
            throw HttpError(0, "could not fetch " + Named() + ": " + e.what(), HttpErrorKind::kInvalidUrl);
        }
        // Checked here too (PrepareHop checks again) so that the message names the hop that redirected.
        OriginToRequest(next, "the redirect to \"" + next + "\" was refused: ");
        if (status == 301 || status == 302 || status == 303) {
            post = false;  // continued as a GET, without the body
        }
        redirects++;
        current_url = next;
    }

    void DoStart() {
        for (;;) {
            PrepareHop();
            CURLMcode mc = curl_multi_add_handle(multi, easy);
            if (mc != CURLM_OK) {
                throw HttpError(0, "could not fetch " + Named() + ": " + curl_multi_strerror(mc),
                                HttpErrorKind::kOther);
            }
            added = true;
            WaitFor([this] { return headers_final || redirect_ready || done; });
            if (!redirect_ready) {
                break;
            }
            FollowRedirect();
        }
        if (!headers_final && done && result == CURLE_OK) {
            headers_final = true;  // the transfer ended before a header block did: what arrived is the response
        }
        if (!headers_final) {
            if (refusal && result == CURLE_COULDNT_CONNECT) {
                // libcurl's reason would be "Could not connect to server": say which address was refused and why.
                throw HttpError(0, "could not fetch " + Named() + ": " + *refusal, HttpErrorKind::kNotAllowed);
            }
            throw HttpError(0, "could not fetch " + Named() + ": " + CurlReason(), KindOf(result));
        }
        if (status < 200 || status > 299) {
            FailOnStatus();
        }
    }

    [[noreturn]] void FailOnStatus() {
        // Read the start of the body: servers usually explain the error there.
        std::string body;
        bool truncated = false;
        for (;;) {
            WaitFor([this] { return !BufferEmpty() || done; });
            if (BufferEmpty()) {
                break;
            }
            size_t take = std::min(kErrorBodyLimit - body.size(), buffer.size() - buffer_pos);
            body.append(buffer, buffer_pos, take);
            buffer_pos += take;
            if (body.size() >= kErrorBodyLimit) {
                truncated = !BufferEmpty() || !done;
                break;
            }
        }
        std::string message = "HTTP status " + std::to_string(status);
        std::string reason_text = PrintableText(reason);
        if (!reason_text.empty()) {
            message += " (" + reason_text + ")";
        }
        message += " from " + Named();
        std::string body_text = PrintableText(body);
        if (!body_text.empty()) {
            message += ": " + body_text + (truncated ? "..." : "");
        }
        throw HttpError(status, message, HttpErrorKind::kStatus, RetryAfter());
    }

    size_t DoRead(char *buf, size_t max) {
        WaitFor([this] { return !BufferEmpty() || done; });
        if (!BufferEmpty()) {
            size_t n = std::min(max, buffer.size() - buffer_pos);
            std::memcpy(buf, buffer.data() + buffer_pos, n);
            buffer_pos += n;
            if (BufferEmpty()) {
                buffer.clear();  // keeps its capacity: the next chunk reuses it
                buffer_pos = 0;
            }
            body_read += n;
            return n;
        }
        if (result != CURLE_OK) {
            throw HttpError(status,
                            "the transfer from " + Named() + " broke off after " + std::to_string(body_received) +
                                " bytes of the response body: " + CurlReason(),
                            KindOf(result));
        }
        return 0;
    }
};

HttpStream::HttpStream(std::string url, HttpOptions options) : impl_(new Impl()) {
    impl_->url = std::move(url);
    impl_->options = std::move(options);
    impl_->current_url = impl_->url;
    impl_->post = impl_->options.post_body.has_value();
    impl_->Setup();
}

HttpStream::~HttpStream() = default;

void HttpStream::Start() {
    if (impl_->failure) {
        std::rethrow_exception(impl_->failure);
    }
    if (impl_->started) {
        return;
    }
    impl_->started = true;
    try {
        impl_->DoStart();
    } catch (...) {
        impl_->failure = std::current_exception();
        throw;
    }
}

size_t HttpStream::Read(char *buf, size_t max) {
    Start();
    if (impl_->failure) {
        std::rethrow_exception(impl_->failure);
    }
    if (max == 0) {
        return 0;
    }
    try {
        size_t n = impl_->DoRead(buf, max);
        uint64_t limit = impl_->options.max_body_bytes;
        if (limit > 0 && impl_->body_read > limit) {
            throw HttpError(impl_->status,
                            "the response from \"" + impl_->url + "\" is larger than the maximum of " +
                                std::to_string(limit) + " bytes (options.max_response_bytes)",
                            HttpErrorKind::kOther);
        }
        return n;
    } catch (...) {
        impl_->failure = std::current_exception();
        throw;
    }
}

long HttpStream::Status() const {
    return impl_->status;
}

std::optional<std::string> HttpStream::Header(const std::string &name) const {
    std::optional<std::string> joined;
    for (const auto &header : impl_->headers) {
        if (EqualsIgnoreCase(header.first, name)) {
            if (joined) {
                *joined += ", ";
                *joined += header.second;
            } else {
                joined = header.second;
            }
        }
    }
    return joined;
}

std::optional<std::string> HttpStream::NextPageUrl() const {
    std::optional<std::string> link = Header("Link");
    if (!link) {
        return std::nullopt;
    }
    return FindNextLink(*link, impl_->current_url);
}

const std::string &HttpStream::Url() const {
    return impl_->current_url;
}

uint64_t HttpStream::BodyBytesRead() const {
    return impl_->body_read;
}

size_t HttpStream::MaxBufferedBytes() const {
    return impl_->max_buffered;
}

}  // namespace bulk_ingest
