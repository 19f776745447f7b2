// Unit tests of HttpStream against a small real HTTP/1.1 server running in a thread of the test (127.0.0.1, an
// ephemeral port): bodies with Content-Length, chunked and gzip; headers and Link pagination; redirects; error
// statuses; refused connections; transfers broken mid-body; the abort hook; the bounded buffer. And the defence
// against server-side request forgery, with servers on other loopback addresses (127.0.0.2, ::1): the allowlist
// for every connection and every redirect hop, headers kept from other origins, no proxies, header injection.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "error.h"
#include "host_allowlist.h"
#include "http_stream.h"
#include "retry_policy.h"

// Built with AddressSanitizer (g++ says so with __SANITIZE_ADDRESS__, clang with __has_feature).
#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif

using bulk_ingest::HttpError;
using bulk_ingest::HttpOptions;
using bulk_ingest::HttpStream;
using bulk_ingest::Interrupted;

namespace {

using Clock = std::chrono::steady_clock;

std::string Lower(std::string s) {
    for (char &c : s) {
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    return s;
}

bool Contains(const std::string &haystack, const std::string &needle) {
    return haystack.find(needle) != std::string::npos;
}

struct Request {
    std::string method;
    std::string target;
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;  // as long as its Content-Length says

    std::string Header(const std::string &name) const {
        for (const auto &h : headers) {
            if (Lower(h.first) == Lower(name)) {
                return h.second;
            }
        }
        return "";
    }
};

// One accepted connection, handed to the test's handler after the request has been read.
struct Exchange {
    int fd;
    const Request &request;
    const std::atomic<bool> &stopping;

    // Sends everything; false when the client has gone.
    bool Send(const std::string &data) const { return Send(data.data(), data.size()); }
    bool Send(const char *data, size_t size) const {
        while (size > 0) {
            ssize_t n = ::send(fd, data, size, MSG_NOSIGNAL);
            if (n <= 0) {
                return false;
            }
            data += n;
            size -= static_cast<size_t>(n);
        }
        return true;
    }
    // Waits (without answering) until the server stops or the client goes away.
    void Stall() const {
        while (!stopping) {
            pollfd p{fd, POLLIN, 0};
            if (::poll(&p, 1, 10) > 0) {
                char c;
                if (::recv(fd, &c, 1, MSG_DONTWAIT) == 0) {
                    return;  // the client closed the connection
                }
            }
        }
    }
    // Ends the connection with a TCP reset instead of an orderly close.
    void Reset() const {
        linger l{1, 0};
        ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    }
};

using Handler = std::function<void(const Exchange &)>;

// A sequential HTTP/1.1 server: one request per connection (responses say "Connection: close"). It listens on a
// loopback address (127.0.0.1 by default; any of 127.0.0.0/8, or ::1) and an ephemeral port.
class TestServer {
  public:
    explicit TestServer(Handler handler, const std::string &address = "127.0.0.1")
        : handler_(std::move(handler)), address_(address) {
        sockaddr_storage storage{};
        socklen_t size = 0;
        auto *in = reinterpret_cast<sockaddr_in *>(&storage);
        auto *in6 = reinterpret_cast<sockaddr_in6 *>(&storage);
        if (::inet_pton(AF_INET, address.c_str(), &in->sin_addr) == 1) {
            in->sin_family = AF_INET;
            size = sizeof *in;
        } else if (::inet_pton(AF_INET6, address.c_str(), &in6->sin6_addr) == 1) {
            in6->sin6_family = AF_INET6;
            size = sizeof *in6;
        } else {
            ADD_FAILURE() << "not an address: " << address;
        }
        listen_fd_ = ::socket(storage.ss_family, SOCK_STREAM, 0);
        int one = 1;
        ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (::bind(listen_fd_, reinterpret_cast<sockaddr *>(&storage), size) != 0 || ::listen(listen_fd_, 16) != 0) {
            ADD_FAILURE() << "cannot listen on " << address << ": " << std::strerror(errno);
        }
        socklen_t len = sizeof storage;
        ::getsockname(listen_fd_, reinterpret_cast<sockaddr *>(&storage), &len);
        port_ = ntohs(storage.ss_family == AF_INET ? in->sin_port : in6->sin6_port);
        thread_ = std::thread([this] { Loop(); });
    }
    ~TestServer() {
        stopping_ = true;
        thread_.join();
        ::close(listen_fd_);
    }

    std::string Url(const std::string &path) const {
        return Origin(Contains(address_, ":") ? "[" + address_ + "]" : address_) + path;
    }
    // The URL of path with another spelling of the host ("localhost", "[::ffff:127.0.0.1]").
    std::string UrlAs(const std::string &host, const std::string &path) const { return Origin(host) + path; }
    int Port() const { return port_; }
    std::vector<Request> Requests() const {
        std::lock_guard<std::mutex> lock(mutex_);
        return requests_;
    }
    // The connections accepted so far, after a pause that lets a connection in the backlog be accepted: 0 proves
    // that no connection reached the server.
    int Accepted() const {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        return accepted_;
    }

  private:
    void Loop() {
        while (!stopping_) {
            pollfd p{listen_fd_, POLLIN, 0};
            if (::poll(&p, 1, 10) <= 0) {
                continue;
            }
            int fd = ::accept(listen_fd_, nullptr, nullptr);
            if (fd < 0) {
                continue;
            }
            accepted_++;
            Request request;
            if (ReadRequest(fd, &request)) {
                {
                    std::lock_guard<std::mutex> lock(mutex_);
                    requests_.push_back(request);
                }
                handler_(Exchange{fd, request, stopping_});
            }
            ::close(fd);
        }
    }

    bool ReadRequest(int fd, Request *request) {
        std::string data;
        while (!Contains(data, "\r\n\r\n")) {
            pollfd p{fd, POLLIN, 0};
            if (stopping_) {
                return false;
            }
            if (::poll(&p, 1, 10) <= 0) {
                continue;
            }
            char buf[4096];
            ssize_t n = ::recv(fd, buf, sizeof buf, 0);
            if (n <= 0) {
                return false;
            }
            data.append(buf, static_cast<size_t>(n));
        }
        size_t line_end = data.find("\r\n");
        std::string line = data.substr(0, line_end);
        size_t sp1 = line.find(' ');
        size_t sp2 = line.find(' ', sp1 + 1);
        request->method = line.substr(0, sp1);
        request->target = line.substr(sp1 + 1, sp2 - sp1 - 1);
        size_t pos = line_end + 2;
        for (;;) {
            size_t end = data.find("\r\n", pos);
            if (end == pos) {
                break;
            }
            std::string header = data.substr(pos, end - pos);
            size_t colon = header.find(':');
            size_t value = header.find_first_not_of(' ', colon + 1);
            request->headers.emplace_back(header.substr(0, colon),
                                          value == std::string::npos ? "" : header.substr(value));
            pos = end + 2;
        }
        const std::string length = request->Header("Content-Length");
        const size_t want = length.empty() ? 0 : std::stoul(length);
        request->body = data.substr(pos + 2);
        while (request->body.size() < want && !stopping_) {
            pollfd p{fd, POLLIN, 0};
            if (::poll(&p, 1, 10) <= 0) {
                continue;
            }
            char buf[4096];
            ssize_t n = ::recv(fd, buf, sizeof buf, 0);
            if (n <= 0) {
                return false;
            }
            request->body.append(buf, static_cast<size_t>(n));
        }
        return true;
    }

    std::string Origin(const std::string &host) const { return "http://" + host + ":" + std::to_string(port_); }

    Handler handler_;
    std::string address_;
    int listen_fd_ = -1;
    int port_ = 0;
    std::atomic<int> accepted_{0};
    std::atomic<bool> stopping_{false};
    std::thread thread_;
    mutable std::mutex mutex_;
    std::vector<Request> requests_;
};

std::string Head(int status, const std::string &reason, const std::vector<std::string> &headers) {
    std::string head = "HTTP/1.1 " + std::to_string(status) + " " + reason + "\r\n";
    for (const std::string &h : headers) {
        head += h + "\r\n";
    }
    head += "Connection: close\r\n\r\n";
    return head;
}

std::string Response(int status, const std::string &reason, std::vector<std::string> headers, const std::string &body) {
    headers.push_back("Content-Length: " + std::to_string(body.size()));
    return Head(status, reason, headers) + body;
}

std::string Chunk(const std::string &data) {
    char size[32];
    std::snprintf(size, sizeof size, "%zx\r\n", data.size());
    return size + data + "\r\n";
}

// Options that keep failing tests short.
HttpOptions QuickOptions() {
    HttpOptions options;
    options.connect_timeout_ms = 2000;
    options.total_timeout_ms = 20000;
    options.abort_check_interval_ms = 20;
    return options;
}

struct ReadResult {
    std::string body;
    std::string error;  // what() of the HttpError that ended the read, if any
    long error_status = -1;
};

ReadResult ReadAll(HttpStream &stream, size_t chunk = 1000) {
    ReadResult result;
    std::vector<char> buf(chunk);
    try {
        for (;;) {
            size_t n = stream.Read(buf.data(), buf.size());
            if (n == 0) {
                break;
            }
            EXPECT_LE(n, chunk);
            result.body.append(buf.data(), n);
        }
    } catch (const HttpError &e) {
        result.error = e.what();
        result.error_status = e.status();
    }
    return result;
}

std::string NumberedLines(int count) {
    std::string body;
    for (int i = 0; i < count; i++) {
        body += "{\"id\": " + std::to_string(i) + ", \"name\": \"row " + std::to_string(i) + "\"}\n";
    }
    return body;
}

TEST(HttpStream, ReadsABodyWithContentLength) {
    const std::string body = NumberedLines(5000);  // ~150 KB: many libcurl chunks
    TestServer server(
        [&](const Exchange &ex) { ex.Send(Response(200, "OK", {"Content-Type: application/x-ndjson"}, body)); });
    HttpStream stream(server.Url("/orders?since=2024"), QuickOptions());
    EXPECT_EQ(stream.Status(), 0);
    stream.Start();
    EXPECT_EQ(stream.Status(), 200);
    EXPECT_EQ(stream.Header("content-type").value_or(""), "application/x-ndjson");
    char buf[1];
    EXPECT_EQ(stream.Read(buf, 0), 0u);  // max 0 is not the end of the stream
    ReadResult result = ReadAll(stream, 777);
    EXPECT_EQ(result.error, "");
    EXPECT_EQ(result.body, body);
    EXPECT_EQ(stream.BodyBytesRead(), body.size());
    EXPECT_EQ(stream.Read(buf, 1), 0u);  // still the end
    EXPECT_GT(stream.MaxBufferedBytes(), 0u);
    EXPECT_LE(stream.MaxBufferedBytes(), static_cast<size_t>(CURL_MAX_WRITE_SIZE));
    EXPECT_EQ(stream.Url(), server.Url("/orders?since=2024"));
    ASSERT_EQ(server.Requests().size(), 1u);
    EXPECT_EQ(server.Requests()[0].method, "GET");
    EXPECT_EQ(server.Requests()[0].target, "/orders?since=2024");
}

TEST(HttpStream, ReadCallsStartItself) {
    TestServer server([](const Exchange &ex) { ex.Send(Response(200, "OK", {}, "abc\n")); });
    HttpStream stream(server.Url("/x"), QuickOptions());
    char buf[16];
    size_t n = stream.Read(buf, sizeof buf);
    EXPECT_EQ(std::string(buf, n), "abc\n");
    EXPECT_EQ(stream.Status(), 200);
    stream.Start();  // a second Start is harmless
    EXPECT_EQ(stream.Read(buf, sizeof buf), 0u);
}

TEST(HttpStream, ReadsAChunkedBody) {
    const std::string big(100000, 'x');
    TestServer server([&](const Exchange &ex) {
        ex.Send(Head(200, "OK", {"Transfer-Encoding: chunked"}));
        ex.Send(Chunk("first line\n") + Chunk("a") + Chunk("\n"));
        ex.Send(Chunk(big));
        ex.Send(Chunk("\nlast\n") + "0\r\n\r\n");
    });
    HttpStream stream(server.Url("/chunked"), QuickOptions());
    ReadResult result = ReadAll(stream);
    EXPECT_EQ(result.error, "");
    EXPECT_EQ(result.body, "first line\na\n" + big + "\nlast\n");
    EXPECT_LE(stream.MaxBufferedBytes(), static_cast<size_t>(CURL_MAX_WRITE_SIZE));
}

TEST(HttpStream, ReadsABodyDelimitedByTheConnectionClosing) {
    TestServer server([](const Exchange &ex) { ex.Send("HTTP/1.0 200 OK\r\n\r\nno length\n"); });
    HttpStream stream(server.Url("/old"), QuickOptions());
    ReadResult result = ReadAll(stream);
    EXPECT_EQ(result.error, "");
    EXPECT_EQ(result.body, "no length\n");
}

// gzip of 10,000 copies of {"id": 1, "name": "same row"}\n (300,000 bytes in 798): the body of 145 identical
// 5-byte groups is spelled out as a loop.
std::string GzipSample() {
    static const unsigned char kHead[] = {0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x03, 0xed, 0xc9, 0x31,
                                          0x0a, 0x80, 0x30, 0x10, 0x00, 0xc1, 0xde, 0x57, 0x1c, 0x57, 0xdb, 0xd8, 0xfa,
                                          0x1b, 0x21, 0x16, 0x29, 0x54, 0xd0, 0x22, 0x45, 0xf0, 0xef, 0xe6, 0x1b, 0xc2,
                                          0x54, 0xbb, 0x30, 0x3d, 0x6b, 0xc9, 0x35, 0x96, 0x39, 0xf2, 0xdc, 0x8e, 0x7d,
                                          0x6c, 0x3e, 0xa3, 0x71, 0x5f, 0x2d, 0xdf, 0xa9, 0x53};
    static const unsigned char kRepeat[] = {0x4a, 0x29, 0xa5, 0x94, 0x52};
    static const unsigned char kTail[] = {0xfa, 0x2b, 0xfd, 0x00, 0x3d, 0xb6, 0x9c, 0x01, 0xe0, 0x93, 0x04, 0x00};
    std::string gz(reinterpret_cast<const char *>(kHead), sizeof kHead);
    for (int i = 0; i < 145; i++) {
        gz.append(reinterpret_cast<const char *>(kRepeat), sizeof kRepeat);
    }
    gz.append(reinterpret_cast<const char *>(kTail), sizeof kTail);
    return gz;
}

TEST(HttpStream, DecodesAGzipBody) {
    const std::string gz = GzipSample();
    ASSERT_EQ(gz.size(), 798u);
    TestServer server([&](const Exchange &ex) {
        if (Contains(ex.request.Header("Accept-Encoding"), "gzip")) {
            ex.Send(Response(200, "OK", {"Content-Encoding: gzip"}, gz));
        } else {
            ex.Send(Response(406, "Not Acceptable", {}, "gzip expected\n"));
        }
    });
    HttpStream stream(server.Url("/gz"), QuickOptions());
    ReadResult result = ReadAll(stream, 4096);
    EXPECT_EQ(result.error, "");
    std::string expected;
    for (int i = 0; i < 10000; i++) {
        expected += "{\"id\": 1, \"name\": \"same row\"}\n";
    }
    EXPECT_EQ(result.body.size(), expected.size());
    EXPECT_TRUE(result.body == expected);
    EXPECT_EQ(stream.BodyBytesRead(), expected.size());
    // 798 bytes on the wire inflate to 300,000: still at most one write chunk held.
    EXPECT_LE(stream.MaxBufferedBytes(), static_cast<size_t>(CURL_MAX_WRITE_SIZE));
}

TEST(HttpStream, SendsUserAgentAndExtraHeaders) {
    TestServer server([](const Exchange &ex) { ex.Send(Response(200, "OK", {}, "")); });
    HttpOptions options = QuickOptions();
    options.user_agent = "pg_bulk_ingest/test";
    options.headers = {"Authorization: Bearer t0ken", "X-Trace: 42"};
    HttpStream stream(server.Url("/h"), options);
    EXPECT_EQ(ReadAll(stream).body, "");
    auto requests = server.Requests();
    ASSERT_EQ(requests.size(), 1u);
    EXPECT_EQ(requests[0].Header("User-Agent"), "pg_bulk_ingest/test");
    EXPECT_EQ(requests[0].Header("Authorization"), "Bearer t0ken");
    EXPECT_EQ(requests[0].Header("X-Trace"), "42");
    EXPECT_TRUE(Contains(requests[0].Header("Accept-Encoding"), "gzip")) << requests[0].Header("Accept-Encoding");
}

TEST(HttpStream, HeadersAreCaseInsensitiveAndRepeatedOnesAreJoined) {
    TestServer server([](const Exchange &ex) {
        ex.Send(Response(200, "OK", {"X-Multi: a", "x-multi:b  ", "X-Empty:", "X-Spaced:   v w  "}, "body"));
    });
    HttpStream stream(server.Url("/h"), QuickOptions());
    stream.Start();
    EXPECT_EQ(stream.Header("X-MULTI").value_or("?"), "a, b");
    EXPECT_EQ(stream.Header("x-empty").value_or("?"), "");
    EXPECT_EQ(stream.Header("X-Spaced").value_or("?"), "v w");
    EXPECT_FALSE(stream.Header("X-Absent").has_value());
    EXPECT_EQ(stream.Header("Content-Length").value_or("?"), "4");
}

TEST(HttpStream, NextPageComesFromTheLinkHeaders) {
    TestServer server([](const Exchange &ex) {
        if (ex.request.target == "/data?page=2") {
            ex.Send(Response(200, "OK",
                             {"Link: <https://elsewhere.example/p1>; rel=\"prev\"",
                              "Link: </data?page=3>; rel=\"next\", <https://elsewhere.example/last>; rel=last"},
                             "{}\n"));
        } else {
            ex.Send(Response(200, "OK", {"Link: </data?page=1>; rel=\"first\""}, "{}\n"));
        }
    });
    HttpStream page2(server.Url("/data?page=2"), QuickOptions());
    page2.Start();
    EXPECT_EQ(page2.NextPageUrl().value_or(""), server.Url("/data?page=3"));
    HttpStream last(server.Url("/data?page=3"), QuickOptions());
    last.Start();
    EXPECT_FALSE(last.NextPageUrl().has_value());
}

TEST(HttpStream, FollowsRedirectsAndKeepsOnlyTheLastResponse) {
    TestServer server([](const Exchange &ex) {
        if (ex.request.target == "/start") {
            ex.Send(Response(302, "Found", {"Location: /dir/final", "X-Hop: first", "Link: </wrong>; rel=next"},
                             "redirect body\n"));
        } else if (ex.request.target == "/dir/final") {
            ex.Send(Response(200, "OK", {"X-Hop: last", "Link: <next?page=2>; rel=next"}, "final body\n"));
        } else {
            ex.Send(Response(404, "Not Found", {}, ""));
        }
    });
    HttpStream stream(server.Url("/start"), QuickOptions());
    stream.Start();
    EXPECT_EQ(stream.Status(), 200);
    EXPECT_EQ(stream.Header("X-Hop").value_or("?"), "last");
    EXPECT_FALSE(stream.Header("Location").has_value());
    // Relative links resolve against the URL the response came from.
    EXPECT_EQ(stream.NextPageUrl().value_or(""), server.Url("/dir/next?page=2"));
    // Url() is the URL the final response came from (what pagination resolves relative links against).
    EXPECT_EQ(stream.Url(), server.Url("/dir/final"));
    // The redirect's body is dropped, not counted.
    EXPECT_EQ(ReadAll(stream).body, "final body\n");
    EXPECT_EQ(stream.BodyBytesRead(), std::string("final body\n").size());
    EXPECT_EQ(server.Requests().size(), 2u);
}

TEST(HttpStream, InformationalResponsesAreNotTheResponse) {
    // A 103 Early Hints carries Link headers of its own (preloads): they must not be taken for the page's links.
    TestServer server([](const Exchange &ex) {
        ex.Send("HTTP/1.1 103 Early Hints\r\nLink: </early>; rel=next\r\nX-Hop: early\r\n\r\n");
        ex.Send(Response(200, "OK", {"X-Hop: final"}, "body\n"));
    });
    HttpStream stream(server.Url("/hints"), QuickOptions());
    stream.Start();
    EXPECT_EQ(stream.Status(), 200);
    EXPECT_EQ(stream.Header("X-Hop").value_or("?"), "final");
    EXPECT_FALSE(stream.NextPageUrl().has_value());
    EXPECT_EQ(ReadAll(stream).body, "body\n");
}

TEST(HttpStream, RefusesARedirectToAnotherProtocol) {
    TestServer server(
        [](const Exchange &ex) { ex.Send(Response(302, "Found", {"Location: file:///etc/passwd"}, "")); });
    HttpStream stream(server.Url("/evil"), QuickOptions());
    try {
        stream.Start();
        FAIL() << "a redirect to file:// was followed";
    } catch (const HttpError &e) {
        EXPECT_EQ(e.status(), 0);
        EXPECT_TRUE(Contains(e.what(), server.Url("/evil"))) << e.what();
        EXPECT_TRUE(Contains(Lower(e.what()), "file")) << e.what();
    }
    char buf[64];
    EXPECT_THROW(stream.Read(buf, sizeof buf), HttpError);  // the failure sticks
}

TEST(HttpStream, GivesUpAfterTenRedirects) {
    TestServer server([](const Exchange &ex) { ex.Send(Response(302, "Found", {"Location: /loop"}, "")); });
    HttpStream stream(server.Url("/loop"), QuickOptions());
    try {
        stream.Start();
        FAIL() << "an endless redirect loop succeeded";
    } catch (const HttpError &e) {
        EXPECT_TRUE(Contains(Lower(e.what()), "redirect")) << e.what();
        EXPECT_TRUE(Contains(e.what(), server.Url("/loop"))) << e.what();
    }
    EXPECT_EQ(server.Requests().size(), 11u);  // the request and 10 redirects
}

TEST(HttpStream, Status404NamesTheUrlTheStatusAndTheBody) {
    TestServer server([](const Exchange &ex) {
        ex.Send(Response(404, "Not Found", {"Content-Type: text/plain"}, "no such dataset: orders\n"));
    });
    const std::string url = server.Url("/no/such/dataset?since=");
    HttpStream stream(url, QuickOptions());
    try {
        stream.Start();
        FAIL() << "404 accepted";
    } catch (const HttpError &e) {
        EXPECT_EQ(e.status(), 404);
        EXPECT_EQ(std::string(e.what()), "HTTP status 404 (Not Found) from \"" + url + "\": no such dataset: orders");
    }
    EXPECT_EQ(stream.Status(), 404);
    // Read() reports the same failure.
    char buf[64];
    try {
        stream.Read(buf, sizeof buf);
        FAIL() << "Read after a 404 succeeded";
    } catch (const HttpError &e) {
        EXPECT_EQ(e.status(), 404);
    }
}

TEST(HttpStream, ErrorStatusSeenByReadWithoutStart) {
    TestServer server([](const Exchange &ex) { ex.Send(Response(503, "Service Unavailable", {}, "")); });
    HttpStream stream(server.Url("/busy"), QuickOptions());
    char buf[64];
    try {
        stream.Read(buf, sizeof buf);
        FAIL() << "503 accepted";
    } catch (const HttpError &e) {
        EXPECT_EQ(e.status(), 503);
        EXPECT_EQ(std::string(e.what()), "HTTP status 503 (Service Unavailable) from \"" + server.Url("/busy") + "\"");
    }
}

TEST(HttpStream, ErrorBodyIsCutAt1KiBAndMadePrintable) {
    const std::string body = "oops\x01\xff\r\n" + std::string(5000, 'x') + "END";
    TestServer server([&](const Exchange &ex) {
        ex.Send(Head(500, "Internal Server Error", {"Transfer-Encoding: chunked"}));
        ex.Send(Chunk(body) + "0\r\n\r\n");
    });
    HttpStream stream(server.Url("/fail"), QuickOptions());
    try {
        stream.Start();
        FAIL() << "500 accepted";
    } catch (const HttpError &e) {
        std::string message = e.what();
        EXPECT_EQ(e.status(), 500);
        const std::string start = "HTTP status 500 (Internal Server Error) from \"" + server.Url("/fail") + "\": ";
        // 1024 bytes of body: "oops", a control character and an invalid byte (" ?"), CR LF (blanks), 1016 x.
        EXPECT_EQ(message, start + "oops ?  " + std::string(1016, 'x') + "...");
        EXPECT_FALSE(Contains(message, "END"));
    }
}

TEST(HttpStream, ConnectionRefused) {
    // A bound socket that does not listen: connecting to it is refused, and no other test can take the port.
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr *>(&addr), sizeof addr), 0);
    socklen_t len = sizeof addr;
    ::getsockname(fd, reinterpret_cast<sockaddr *>(&addr), &len);
    const std::string url = "http://127.0.0.1:" + std::to_string(ntohs(addr.sin_port)) + "/x";
    HttpStream stream(url, QuickOptions());
    try {
        stream.Start();
        FAIL() << "connected to a port nobody listens on";
    } catch (const HttpError &e) {
        EXPECT_EQ(e.status(), 0);
        std::string message = e.what();
        EXPECT_TRUE(Contains(message, "could not fetch \"" + url + "\"")) << message;
        EXPECT_TRUE(Contains(Lower(message), "connection refused")) << message;
    }
    ::close(fd);
}

TEST(HttpStream, ServerClosingInTheMiddleOfTheBodyIsAnError) {
    const std::string half(50000, 'h');
    TestServer server([&](const Exchange &ex) {
        ex.Send(Head(200, "OK", {"Content-Length: 100000"}));
        ex.Send(half);
    });
    HttpStream stream(server.Url("/cut"), QuickOptions());
    ReadResult result = ReadAll(stream);
    EXPECT_EQ(result.body, half);  // everything that arrived was delivered before the error
    EXPECT_EQ(result.error_status, 200);
    EXPECT_TRUE(Contains(result.error, "the transfer from \"" + server.Url("/cut") + "\" broke off after 50000 bytes"))
        << result.error;
    char buf[8];
    EXPECT_THROW(stream.Read(buf, sizeof buf), HttpError);  // and it sticks
}

TEST(HttpStream, ChunkedBodyCutShortIsAnError) {
    TestServer server([](const Exchange &ex) {
        ex.Send(Head(200, "OK", {"Transfer-Encoding: chunked"}));
        ex.Send(Chunk("{\"id\": 1}\n") + "ff\r\npartial");
    });
    HttpStream stream(server.Url("/chunk-cut"), QuickOptions());
    ReadResult result = ReadAll(stream);
    EXPECT_EQ(result.body.substr(0, 10), "{\"id\": 1}\n");
    EXPECT_TRUE(Contains(result.error, "broke off")) << result.error;
}

TEST(HttpStream, ConnectionResetInTheMiddleOfTheBodyIsAnError) {
    TestServer server([](const Exchange &ex) {
        ex.Send(Head(200, "OK", {"Content-Length: 100000"}));
        ex.Send(std::string(1000, 'r'));
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        ex.Reset();
    });
    HttpStream stream(server.Url("/reset"), QuickOptions());
    ReadResult result = ReadAll(stream);
    EXPECT_LE(result.body.size(), 1000u);
    EXPECT_TRUE(Contains(result.error, "broke off")) << result.error;
}

TEST(HttpStream, EmptyBody) {
    TestServer server([](const Exchange &ex) { ex.Send(Head(204, "No Content", {})); });
    HttpStream stream(server.Url("/nothing"), QuickOptions());
    char buf[8];
    EXPECT_EQ(stream.Read(buf, sizeof buf), 0u);
    EXPECT_EQ(stream.Status(), 204);
    EXPECT_EQ(stream.BodyBytesRead(), 0u);
}

TEST(HttpStream, AbortWhileTheServerStalls) {
    TestServer server([](const Exchange &ex) {
        ex.Send(Head(200, "OK", {"Content-Length: 1000000"}));
        ex.Send("partial");
        ex.Stall();
    });
    HttpOptions options = QuickOptions();
    std::atomic<int> calls{0};
    std::atomic<bool> abort{false};
    options.should_abort = [&] {
        calls++;
        return abort.load();
    };
    HttpStream stream(server.Url("/stall"), options);
    char buf[64];
    size_t n = stream.Read(buf, sizeof buf);
    EXPECT_EQ(std::string(buf, n), "partial");

    // Raise the abort flag from another thread after a while: Read must notice it within about one interval.
    Clock::time_point raised;
    std::thread raiser([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(150));
        raised = Clock::now();
        abort = true;
    });
    EXPECT_THROW(stream.Read(buf, sizeof buf), Interrupted);
    Clock::time_point thrown = Clock::now();
    raiser.join();
    // While waiting, should_abort was asked repeatedly (every 20 ms: about 7 times in 150 ms).
    EXPECT_GE(calls.load(), 2);
    auto latency = std::chrono::duration_cast<std::chrono::milliseconds>(thrown - raised).count();
    EXPECT_LT(latency, 1000) << "Read noticed the abort only after " << latency << " ms";
    EXPECT_THROW(stream.Read(buf, sizeof buf), Interrupted);  // the stream stays stopped
}

// docs/sql-reference.md, timeout_ms: "a transfer that stalls below 1 byte/s for 60 s fails whatever this says". The
// run's worker keeps the default (src/pg sets no low_speed_timeout_s); here it is 1 s so as not to wait a minute.
TEST(HttpStream, AStalledTransferFailsAfterTheLowSpeedTimeWithoutAnyTimeout) {
    EXPECT_EQ(HttpOptions{}.low_speed_timeout_s, 60);
    TestServer server([](const Exchange &ex) {
        ex.Send(Head(200, "OK", {"Content-Length: 1000"}));
        ex.Stall();  // not one byte of the body
    });
    HttpOptions options = QuickOptions();
    options.total_timeout_ms = 0;  // no limit on the request: only the stall rule ends it
    options.low_speed_timeout_s = 1;
    HttpStream stream(server.Url("/stall"), options);
    char buf[64];
    Clock::time_point start = Clock::now();
    try {
        while (stream.Read(buf, sizeof buf) > 0) {
        }
        FAIL() << "a stalled body was accepted";
    } catch (const HttpError &e) {
        EXPECT_EQ(e.kind(), bulk_ingest::HttpErrorKind::kTimeout) << e.what();
        EXPECT_TRUE(Contains(e.what(), "/stall")) << e.what();
    }
    auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
    EXPECT_GE(waited, 900) << "it failed before the stall lasted the low-speed time";
}

TEST(HttpStream, AbortBeforeTheResponseArrives) {
    TestServer server([](const Exchange &ex) { ex.Stall(); });
    HttpOptions options = QuickOptions();
    int calls = 0;
    options.should_abort = [&] { return ++calls > 5; };
    HttpStream stream(server.Url("/silent"), options);
    Clock::time_point start = Clock::now();
    EXPECT_THROW(stream.Start(), Interrupted);
    auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
    EXPECT_EQ(calls, 6);
    EXPECT_LT(elapsed, 2000);
    EXPECT_EQ(stream.Status(), 0);
}

TEST(HttpStream, TotalTimeout) {
    TestServer server([](const Exchange &ex) {
        ex.Send(Head(200, "OK", {"Content-Length: 100"}));
        ex.Stall();
    });
    HttpOptions options = QuickOptions();
    options.total_timeout_ms = 300;
    HttpStream stream(server.Url("/slow"), options);
    ReadResult result = ReadAll(stream);
    EXPECT_TRUE(Contains(Lower(result.error), "timed out")) << result.error;
}

// The bounded-memory promise: 200 MB through a reader that is slower than the network, and the stream never holds
// more than one libcurl write chunk.
TEST(HttpStream, LargeBodyThroughASlowReaderKeepsMemoryFlat) {
    constexpr size_t kPeriod = 251;  // a prime: a lost or repeated chunk shifts the pattern
    constexpr size_t kBlock = kPeriod * 4096;
    constexpr size_t kBlocks = 200;
    constexpr size_t kTotal = kBlock * kBlocks;  // ~206 MB
    std::string block(kBlock, '\0');
    for (size_t i = 0; i < kBlock; i++) {
        block[i] = static_cast<char>(i % kPeriod);
    }
    TestServer server([&](const Exchange &ex) {
        if (!ex.Send(Head(200, "OK", {"Content-Length: " + std::to_string(kTotal)}))) {
            return;
        }
        for (size_t b = 0; b < kBlocks && !ex.stopping; b++) {
            if (!ex.Send(block)) {
                return;
            }
        }
    });
#if !defined(UNDER_ASAN)
    rusage before{};
    ::getrusage(RUSAGE_SELF, &before);
#endif

    HttpStream stream(server.Url("/big"), QuickOptions());
    std::vector<char> buf(4096);
    uint64_t total = 0;
    uint64_t reads = 0;
    bool content_ok = true;
    for (;;) {
        size_t n = stream.Read(buf.data(), buf.size());
        if (n == 0) {
            break;
        }
        if (std::memcmp(buf.data(), block.data() + total % kPeriod, n) != 0) {
            content_ok = false;
        }
        total += n;
        reads++;
        // A slow reader: the network is ahead, so libcurl has to be paused while a chunk waits to be read.
        if (reads == 1) {
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        } else if (reads % 2000 == 0) {
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
    }
    EXPECT_EQ(total, kTotal);
    EXPECT_TRUE(content_ok);
    EXPECT_EQ(stream.BodyBytesRead(), kTotal);
    EXPECT_GT(stream.MaxBufferedBytes(), 0u);
    EXPECT_LE(stream.MaxBufferedBytes(), static_cast<size_t>(CURL_MAX_WRITE_SIZE));

    // The whole process's peak resident memory grew by far less than the body (ru_maxrss is in KiB). Not under
    // AddressSanitizer: its quarantine keeps freed memory (libcurl's copies of paused chunks) resident.
#if !defined(UNDER_ASAN)
    rusage after{};
    ::getrusage(RUSAGE_SELF, &after);
    EXPECT_LT(after.ru_maxrss - before.ru_maxrss, 64 * 1024);
#endif
}

// ---- the kind of a failure and Retry-After, for the retry policy ----

TEST(HttpStream, ErrorKinds) {
    {
        TestServer server(
            [](const Exchange &ex) { ex.Send(Response(302, "Found", {"Location: file:///etc/passwd"}, "")); });
        HttpStream stream(server.Url("/evil"), QuickOptions());
        try {
            stream.Start();
            FAIL() << "a redirect to file:// was followed";
        } catch (const HttpError &e) {
            EXPECT_EQ(e.kind(), bulk_ingest::HttpErrorKind::kForbiddenScheme) << e.what();
        }
    }
    {
        TestServer server([](const Exchange &ex) { ex.Send(Response(302, "Found", {"Location: /loop"}, "")); });
        HttpStream stream(server.Url("/loop"), QuickOptions());
        try {
            stream.Start();
            FAIL() << "an endless redirect loop succeeded";
        } catch (const HttpError &e) {
            EXPECT_EQ(e.kind(), bulk_ingest::HttpErrorKind::kTooManyRedirects) << e.what();
        }
    }
    {
        TestServer server([](const Exchange &ex) {
            ex.Send(Head(200, "OK", {"Content-Length: 100000"}));
            ex.Send(std::string(1000, 'h'));
        });
        HttpStream stream(server.Url("/cut"), QuickOptions());
        std::vector<char> buf(4096);
        try {
            while (stream.Read(buf.data(), buf.size()) > 0) {
            }
            FAIL() << "a body cut short was accepted";
        } catch (const HttpError &e) {
            EXPECT_EQ(e.status(), 200);
            EXPECT_EQ(e.kind(), bulk_ingest::HttpErrorKind::kConnection) << e.what();
        }
    }
    {
        TestServer server([](const Exchange &ex) {
            ex.Send(Head(200, "OK", {"Content-Length: 100"}));
            ex.Stall();
        });
        HttpOptions options = QuickOptions();
        options.total_timeout_ms = 300;
        HttpStream stream(server.Url("/slow"), options);
        char buf[64];
        try {
            while (stream.Read(buf, sizeof buf) > 0) {
            }
            FAIL() << "a stalled body was accepted";
        } catch (const HttpError &e) {
            EXPECT_EQ(e.kind(), bulk_ingest::HttpErrorKind::kTimeout) << e.what();
        }
    }
    {
        // A bound socket that does not listen: connecting to it is refused.
        int fd = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr *>(&addr), sizeof addr), 0);
        socklen_t len = sizeof addr;
        ::getsockname(fd, reinterpret_cast<sockaddr *>(&addr), &len);
        HttpStream stream("http://127.0.0.1:" + std::to_string(ntohs(addr.sin_port)) + "/x", QuickOptions());
        try {
            stream.Start();
            FAIL() << "connected to a port nobody listens on";
        } catch (const HttpError &e) {
            EXPECT_EQ(e.status(), 0);
            EXPECT_EQ(e.kind(), bulk_ingest::HttpErrorKind::kConnection) << e.what();
        }
        ::close(fd);
    }
}

TEST(HttpStream, AnErrorStatusCarriesRetryAfterAndTheHeadersStayReadable) {
    TestServer server([](const Exchange &ex) {
        ex.Send(Response(429, "Too Many Requests", {"Retry-After:  120 ", "X-RateLimit-Remaining: 0"}, "slow down"));
    });
    HttpStream stream(server.Url("/limited"), QuickOptions());
    try {
        stream.Start();
        FAIL() << "429 accepted";
    } catch (const HttpError &e) {
        EXPECT_EQ(e.status(), 429);
        EXPECT_EQ(e.kind(), bulk_ingest::HttpErrorKind::kStatus);
        ASSERT_TRUE(e.retry_after().has_value());
        EXPECT_EQ(*e.retry_after(), "120");
    }
    EXPECT_EQ(stream.Header("retry-after").value_or(""), "120");
    EXPECT_EQ(stream.Header("X-RateLimit-Remaining").value_or(""), "0");
}

TEST(HttpStream, AnErrorStatusWithoutRetryAfter) {
    TestServer server([](const Exchange &ex) { ex.Send(Response(503, "Service Unavailable", {}, "")); });
    HttpStream stream(server.Url("/busy"), QuickOptions());
    try {
        stream.Start();
        FAIL() << "503 accepted";
    } catch (const HttpError &e) {
        EXPECT_EQ(e.kind(), bulk_ingest::HttpErrorKind::kStatus);
        EXPECT_FALSE(e.retry_after().has_value());
    }
}

}  // namespace

namespace {

TEST(HttpStream, ABodyOverTheMaximumSizeIsAnErrorThatIsNotRetried) {
    const std::string body = NumberedLines(5000);  // ~150 KB
    TestServer server([&](const Exchange &ex) { ex.Send(Response(200, "OK", {}, body)); });
    HttpOptions options = QuickOptions();
    options.max_body_bytes = 50000;
    HttpStream stream(server.Url("/big"), options);
    ReadResult result = ReadAll(stream, 4096);
    EXPECT_NE(result.error.find("larger than the maximum of 50000 bytes"), std::string::npos) << result.error;
    EXPECT_LE(result.body.size(), 50000u + CURL_MAX_WRITE_SIZE);  // stopped at the first chunk over the limit
    try {
        stream.Read(nullptr, 1);
        FAIL() << "the failure must stick";
    } catch (const bulk_ingest::HttpError &e) {
        EXPECT_FALSE(bulk_ingest::RetryPolicy::IsRetryable(e.status(), e.kind()));
    }

    HttpOptions roomy = QuickOptions();
    roomy.max_body_bytes = body.size();  // exactly the size is allowed
    HttpStream fits(server.Url("/big"), roomy);
    EXPECT_EQ(ReadAll(fits, 4096).body, body);
}

}  // namespace

// ---- where a request may connect: bulk_ingest.allowed_hosts, redirects, headers, proxies ----

namespace {

using bulk_ingest::HttpErrorKind;

HttpOptions Allowing(const std::string &allowed_hosts) {
    HttpOptions options = QuickOptions();
    options.allowlist =
        std::make_shared<const bulk_ingest::HostAllowlist>(bulk_ingest::HostAllowlist::Parse(allowed_hosts));
    return options;
}

// The HttpError of Start(), or a failure when it succeeded.
HttpError StartError(HttpStream &stream) {
    try {
        stream.Start();
    } catch (const HttpError &e) {
        return e;
    }
    ADD_FAILURE() << "the request to " << stream.Url() << " succeeded";
    return HttpError(-1, "no error", HttpErrorKind::kOther);
}

// The Error of making a stream, or "" when it was made.
std::string ConstructionError(const std::string &url, const HttpOptions &options) {
    try {
        HttpStream stream(url, options);
    } catch (const HttpError &e) {
        return std::string("HttpError: ") + e.what();
    } catch (const bulk_ingest::Error &e) {
        return e.what();
    }
    return "";
}

Handler Answer(const std::string &body) {
    return [body](const Exchange &ex) { ex.Send(Response(200, "OK", {}, body)); };
}

Handler RedirectTo(const std::string &location, int status = 302) {
    return [location, status](const Exchange &ex) {
        ex.Send(Response(status, "Redirect", {"Location: " + location}, ""));
    };
}

TEST(HttpStreamAllowlist, ARefusedAddressNeverReceivesAConnection) {
    TestServer refused(Answer("secret\n"), "127.0.0.2");
    const std::string url = refused.Url("/internal");
    for (const char *list : {"public", "127.0.0.1", "localhost", "*.example.com", "127.0.0.3, 127.0.0.4/31", ""}) {
        HttpStream stream(url, Allowing(list));
        HttpError e = StartError(stream);
        EXPECT_EQ(e.kind(), HttpErrorKind::kNotAllowed) << list << ": " << e.what();
        EXPECT_EQ(e.status(), 0);
        EXPECT_EQ(std::string(e.what()), "could not fetch \"" + url +
                                             "\": host \"127.0.0.2\" (127.0.0.2) is not allowed by "
                                             "bulk_ingest.allowed_hosts")
            << list;
        EXPECT_FALSE(bulk_ingest::RetryPolicy::IsRetryable(e.status(), e.kind()));
        char buf[16];
        EXPECT_THROW(stream.Read(buf, sizeof buf), HttpError);  // the refusal sticks
    }
    EXPECT_EQ(refused.Accepted(), 0);
    EXPECT_TRUE(refused.Requests().empty());
}

TEST(HttpStreamAllowlist, AnAllowedAddressIsFetched) {
    TestServer server(Answer("allowed\n"), "127.0.0.2");
    for (const char *list : {"127.0.0.2", "127.0.0.0/8", "public, 127.0.0.2/32", "::ffff:127.0.0.2"}) {
        HttpStream stream(server.Url("/x"), Allowing(list));
        ReadResult result = ReadAll(stream);
        EXPECT_EQ(result.error, "") << list;
        EXPECT_EQ(result.body, "allowed\n") << list;
    }
    EXPECT_EQ(server.Requests().size(), 4u);
}

// Whether this machine's loopback has IPv6 (::1).
bool HasIPv6Loopback() {
    int fd = ::socket(AF_INET6, SOCK_STREAM, 0);
    if (fd < 0) {
        return false;
    }
    sockaddr_in6 addr{};
    addr.sin6_family = AF_INET6;
    addr.sin6_addr = in6addr_loopback;
    bool ok = ::bind(fd, reinterpret_cast<sockaddr *>(&addr), sizeof addr) == 0;
    ::close(fd);
    return ok;
}

TEST(HttpStreamAllowlist, OtherSpellingsOfARefusedAddressAreRefused) {
    if (!HasIPv6Loopback()) {
        GTEST_SKIP() << "no IPv6 loopback (::1) on this machine";
    }
    TestServer v4(Answer("v4\n"), "127.0.0.1");
    TestServer v6(Answer("v6\n"), "::1");
    // IPv4-mapped (connects to the IPv4 listener through an IPv6 socket), decimal, IPv6 loopback.
    for (const std::string &url :
         {v4.UrlAs("[::ffff:127.0.0.1]", "/x"), v4.UrlAs("2130706433", "/x"), v4.UrlAs("0x7f.1", "/x"), v6.Url("/x")}) {
        HttpStream stream(url, Allowing("public"));
        HttpError e = StartError(stream);
        EXPECT_EQ(e.kind(), HttpErrorKind::kNotAllowed) << url << ": " << e.what();
        EXPECT_TRUE(Contains(e.what(), "is not allowed by bulk_ingest.allowed_hosts")) << e.what();
    }
    EXPECT_EQ(v4.Accepted(), 0);
    EXPECT_EQ(v6.Accepted(), 0);
    // Listed, they are fetched: the IPv6 loopback, and the IPv4-mapped form by its IPv4 address.
    HttpStream allowed_v6(v6.Url("/x"), Allowing("::1"));
    EXPECT_EQ(ReadAll(allowed_v6).body, "v6\n");
    HttpStream allowed_mapped(v4.UrlAs("[::ffff:127.0.0.1]", "/x"), Allowing("127.0.0.1"));
    EXPECT_EQ(ReadAll(allowed_mapped).body, "v4\n");
}

TEST(HttpStreamAllowlist, ANameThatResolvesToARefusedAddressIsRefusedUnlessListedByName) {
    TestServer server(Answer("local\n"), "127.0.0.1");
    const std::string url = server.UrlAs("localhost", "/x");
    for (const char *list : {"public", "*.localhost", "localhost.example", "10.0.0.0/8"}) {
        HttpStream stream(url, Allowing(list));
        HttpError e = StartError(stream);
        EXPECT_EQ(e.kind(), HttpErrorKind::kNotAllowed) << list << ": " << e.what();
        // localhost is 127.0.0.1 and ::1: the message names the first address refused.
        EXPECT_TRUE(Contains(e.what(), "could not fetch \"" + url + "\": host \"localhost\" (")) << e.what();
        EXPECT_TRUE(Contains(e.what(), ") is not allowed by bulk_ingest.allowed_hosts")) << e.what();
    }
    EXPECT_EQ(server.Accepted(), 0);
    // The DBA trusts the name, whatever it resolves to.
    for (const char *list : {"localhost", "LocalHost", "public, localhost."}) {
        HttpStream stream(url, Allowing(list));
        EXPECT_EQ(ReadAll(stream).body, "local\n") << list;
    }
    EXPECT_EQ(server.Requests().size(), 3u);
}

TEST(HttpStreamAllowlist, ARedirectToARefusedAddressIsRefused) {
    TestServer refused(Answer("metadata\n"), "127.0.0.2");
    TestServer allowed(RedirectTo(refused.Url("/latest/meta-data")), "127.0.0.1");
    const std::string url = allowed.Url("/start");
    HttpStream stream(url, Allowing("127.0.0.1"));
    HttpError e = StartError(stream);
    EXPECT_EQ(e.kind(), HttpErrorKind::kNotAllowed) << e.what();
    EXPECT_EQ(e.status(), 0);
    EXPECT_EQ(std::string(e.what()), "could not fetch \"" + url + "\" (redirected to \"" +
                                         refused.Url("/latest/meta-data") +
                                         "\"): host \"127.0.0.2\" (127.0.0.2) is not allowed by "
                                         "bulk_ingest.allowed_hosts");
    EXPECT_EQ(allowed.Requests().size(), 1u);
    EXPECT_EQ(refused.Accepted(), 0);
    EXPECT_TRUE(refused.Requests().empty());
}

TEST(HttpStreamAllowlist, ARedirectToALocalNameIsRefused) {
    TestServer local(Answer("local\n"), "127.0.0.1");
    TestServer allowed(RedirectTo(local.UrlAs("localhost", "/admin")), "127.0.0.2");
    HttpStream stream(allowed.Url("/start"), Allowing("127.0.0.2"));
    HttpError e = StartError(stream);
    EXPECT_EQ(e.kind(), HttpErrorKind::kNotAllowed) << e.what();
    EXPECT_TRUE(Contains(e.what(), "host \"localhost\" (")) << e.what();
    EXPECT_EQ(local.Accepted(), 0);
}

// Handles /r/N by redirecting to /r/N+1 until N reaches hops, then answers.
Handler Chain(int hops) {
    return [hops](const Exchange &ex) {
        int n = std::atoi(ex.request.target.substr(3).c_str());
        if (n < hops) {
            ex.Send(Response(302, "Found", {"Location: /r/" + std::to_string(n + 1)}, "hop body\n"));
        } else {
            ex.Send(Response(200, "OK", {}, "end of chain\n"));
        }
    };
}

TEST(HttpStreamRedirects, TenRedirectsAreFollowedNotEleven) {
    TestServer ten(Chain(10));
    HttpStream ok(ten.Url("/r/0"), Allowing("127.0.0.1"));
    EXPECT_EQ(ReadAll(ok).body, "end of chain\n");
    EXPECT_EQ(ok.Url(), ten.Url("/r/10"));
    EXPECT_EQ(ten.Requests().size(), 11u);

    TestServer eleven(Chain(11));
    HttpStream stream(eleven.Url("/r/0"), Allowing("127.0.0.1"));
    HttpError e = StartError(stream);
    EXPECT_EQ(e.kind(), HttpErrorKind::kTooManyRedirects) << e.what();
    EXPECT_EQ(std::string(e.what()), "could not fetch \"" + eleven.Url("/r/0") + "\" (redirected to \"" +
                                         eleven.Url("/r/10") +
                                         "\"): gave up after 10 redirects (HTTP 302 to \"/r/11\")");
    EXPECT_EQ(eleven.Requests().size(), 11u);  // /r/11 was never asked for
    EXPECT_EQ(eleven.Requests().back().target, "/r/10");
}

TEST(HttpStreamRedirects, ARedirectToAnotherProtocolIsRefused) {
    for (const char *location : {"ftp://127.0.0.1/data.json", "FTP://127.0.0.1:21/x", "gopher://127.0.0.1/",
                                 "file:///etc/passwd", "dict://127.0.0.1:11211/stat"}) {
        TestServer server(RedirectTo(location));
        HttpStream stream(server.Url("/start"), Allowing("public, 127.0.0.1"));
        HttpError e = StartError(stream);
        EXPECT_EQ(e.kind(), HttpErrorKind::kForbiddenScheme) << location << ": " << e.what();
        EXPECT_TRUE(Contains(e.what(), "could not fetch \"" + server.Url("/start") + "\": the redirect to \""))
            << e.what();
        EXPECT_TRUE(Contains(e.what(), "is not allowed (only http and https)")) << e.what();
        EXPECT_EQ(server.Requests().size(), 1u);
    }
}

TEST(HttpStreamRedirects, RelativeAndSchemeRelativeLocationsResolveAgainstTheCurrentUrl) {
    TestServer other(Answer("other\n"), "127.0.0.2");
    TestServer server([&](const Exchange &ex) {
        const std::string &t = ex.request.target;
        if (t == "/a/b/start") {
            ex.Send(Response(301, "Moved", {"Location: ../c/next?x=1#frag"}, ""));
        } else if (t == "/a/c/next?x=1") {
            ex.Send(Response(303, "See Other", {"Location: final"}, ""));
        } else if (t == "/a/c/final") {
            ex.Send(Response(307, "Temporary", {"Location: //127.0.0.2:" + std::to_string(other.Port()) + "/o"}, ""));
        } else {
            ex.Send(Response(404, "Not Found", {}, ""));
        }
    });
    HttpStream stream(server.Url("/a/b/start"), Allowing("127.0.0.1, 127.0.0.2"));
    EXPECT_EQ(ReadAll(stream).body, "other\n");
    EXPECT_EQ(stream.Url(), other.Url("/o"));
    ASSERT_EQ(server.Requests().size(), 3u);
    EXPECT_EQ(server.Requests()[1].target, "/a/c/next?x=1");
    EXPECT_EQ(server.Requests()[2].target, "/a/c/final");
}

TEST(HttpStreamRedirects, EveryRedirectStatusIsFollowedAndOnlyThose) {
    for (int status : {301, 302, 303, 307, 308}) {
        TestServer server([status](const Exchange &ex) {
            if (ex.request.target == "/start") {
                ex.Send(Response(status, "Redirect", {"Location: /end"}, "redirect body\n"));
            } else {
                ex.Send(Response(200, "OK", {}, "end\n"));
            }
        });
        HttpStream stream(server.Url("/start"), Allowing("127.0.0.1"));
        EXPECT_EQ(ReadAll(stream).body, "end\n") << status;
        EXPECT_EQ(stream.BodyBytesRead(), 4u) << status;
    }
    // 300 and 304 are responses (not followed): non-2xx statuses. A redirect without a Location is one too.
    for (int status : {300, 304, 305}) {
        TestServer server([status](const Exchange &ex) { ex.Send(Response(status, "Other", {"Location: /end"}, "")); });
        HttpStream stream(server.Url("/start"), Allowing("127.0.0.1"));
        HttpError e = StartError(stream);
        EXPECT_EQ(e.status(), status) << e.what();
        EXPECT_EQ(server.Requests().size(), 1u);
    }
    TestServer no_location([](const Exchange &ex) { ex.Send(Response(302, "Found", {}, "")); });
    HttpStream stream(no_location.Url("/start"), Allowing("127.0.0.1"));
    EXPECT_EQ(StartError(stream).status(), 302);
}

TEST(HttpStreamRedirects, AnInvalidLocationIsAnInvalidUrl) {
    TestServer server(RedirectTo("http://[::1"));
    HttpStream stream(server.Url("/start"), Allowing("127.0.0.1"));
    HttpError e = StartError(stream);
    EXPECT_EQ(e.kind(), HttpErrorKind::kInvalidUrl) << e.what();
    EXPECT_TRUE(Contains(e.what(), "could not fetch \"" + server.Url("/start") + "\": the redirect to <http://[::1>"))
        << e.what();
}

// Records the headers each server saw.
Handler RecordAndRedirect(const std::string &location) {
    return [location](const Exchange &ex) {
        if (ex.request.target == "/start") {
            ex.Send(Response(302, "Found", {"Location: " + location}, ""));
        } else {
            ex.Send(Response(200, "OK", {}, "done\n"));
        }
    };
}

HttpOptions WithHeaders(const std::string &allowed_hosts) {
    HttpOptions options = Allowing(allowed_hosts);
    options.headers = {"X-Trace: 42", "Authorization: Bearer header-token", "Cookie: session=c00kie"};
    options.sensitive_headers = {"X-Api-Key: s3cr3t"};
    return options;
}

TEST(HttpStreamRedirects, SensitiveHeadersStayWithTheOriginalOrigin) {
    TestServer other_address(Answer("other\n"), "127.0.0.2");
    TestServer other_port(Answer("port\n"), "127.0.0.1");
    for (TestServer *target : {&other_address, &other_port}) {
        TestServer first(RecordAndRedirect(target->Url("/landing")), "127.0.0.1");
        HttpStream stream(first.Url("/start"), WithHeaders("127.0.0.0/8"));
        EXPECT_EQ(ReadAll(stream).error, "");
        ASSERT_EQ(first.Requests().size(), 1u);
        const Request there = first.Requests()[0];
        EXPECT_EQ(there.Header("X-Api-Key"), "s3cr3t");
        EXPECT_EQ(there.Header("Authorization"), "Bearer header-token");
        EXPECT_EQ(there.Header("Cookie"), "session=c00kie");
        EXPECT_EQ(there.Header("X-Trace"), "42");
        ASSERT_FALSE(target->Requests().empty());
        const Request elsewhere = target->Requests().back();
        EXPECT_EQ(elsewhere.target, "/landing");
        EXPECT_EQ(elsewhere.Header("X-Trace"), "42");  // not sensitive: sent everywhere
        for (const char *name : {"X-Api-Key", "Authorization", "Cookie"}) {
            EXPECT_EQ(elsewhere.Header(name), "") << name << " reached " << target->Url("/landing");
        }
    }
}

TEST(HttpStreamRedirects, SensitiveHeadersAreKeptOnASameOriginRedirect) {
    TestServer server(RecordAndRedirect("/next"));
    HttpStream stream(server.Url("/start"), WithHeaders("127.0.0.1"));
    EXPECT_EQ(ReadAll(stream).body, "done\n");
    auto requests = server.Requests();
    ASSERT_EQ(requests.size(), 2u);
    EXPECT_EQ(requests[1].target, "/next");
    for (const Request &request : requests) {
        EXPECT_EQ(request.Header("X-Api-Key"), "s3cr3t");
        EXPECT_EQ(request.Header("Authorization"), "Bearer header-token");
        EXPECT_EQ(request.Header("X-Trace"), "42");
    }
}

TEST(HttpStreamHeaders, ALineBreakInAHeaderIsRefusedBeforeAnyConnection) {
    TestServer server(Answer("x\n"));
    struct Case {
        std::vector<std::string> headers;
        std::vector<std::string> sensitive;
        const char *message;
    };
    const Case cases[] = {
        {{"X-Trace: 1\r\nX-Injected: yes"},
         {},
         "the value of request header \"X-Trace\" contains a line break (CR or LF) or a NUL byte"},
        {{},
         {"Authorization: Bearer s3cr3t\r\n\r\nGET /admin HTTP/1.1"},
         "the value of request header \"Authorization\" contains a line break (CR or LF) or a NUL byte"},
        {{"X-Key: a\nb"}, {}, "the value of request header \"X-Key\" contains a line break (CR or LF) or a NUL byte"},
        {{std::string("X-Key: a\0b", 10)},
         {},
         "the value of request header \"X-Key\" contains a line break (CR or LF) or a NUL byte"},
        {{"Host: internal.example"}, {}, "request header \"Host\" cannot be set"},
        {{}, {"host: internal.example"}, "request header \"host\" cannot be set"},
        {{"Transfer-Encoding: chunked"}, {}, "request header \"Transfer-Encoding\" cannot be set"},
        {{"Content-Length: 5"}, {}, "request header \"Content-Length\" cannot be set"},
        {{"Connection: keep-alive"}, {}, "request header \"Connection\" cannot be set"},
        {{"Bad Name: v"}, {}, "\"Bad Name\" is not a valid request header name"},
        {{"no colon s3cr3t"}, {}, "a request header is not of the form \"Name: value\""},
    };
    for (const Case &c : cases) {
        HttpOptions options = Allowing("127.0.0.1");
        options.headers = c.headers;
        options.sensitive_headers = c.sensitive;
        std::string message = ConstructionError(server.Url("/x"), options);
        EXPECT_TRUE(Contains(message, c.message)) << message;
        EXPECT_FALSE(Contains(message, "s3cr3t")) << message;
        EXPECT_FALSE(Contains(message, "HttpError")) << message;
    }
    EXPECT_EQ(server.Accepted(), 0);
}

// http_proxy, HTTPS_PROXY and ALL_PROXY of the server's environment would make libcurl connect to the proxy, whose
// address the allowlist would judge instead of the source's.
TEST(HttpStreamProxies, TheEnvironmentsProxiesAreNeverUsed) {
    TestServer proxy(Answer("from the proxy\n"), "127.0.0.2");
    TestServer server(Answer("direct\n"), "127.0.0.1");
    const std::string proxy_url = proxy.Url("");
    ::setenv("http_proxy", proxy_url.c_str(), 1);
    ::setenv("ALL_PROXY", proxy_url.c_str(), 1);
    ::setenv("all_proxy", proxy_url.c_str(), 1);
    ::unsetenv("no_proxy");
    ::unsetenv("NO_PROXY");
    HttpStream stream(server.Url("/x"), Allowing("127.0.0.1, 127.0.0.2"));
    ReadResult result = ReadAll(stream);
    ::unsetenv("http_proxy");
    ::unsetenv("ALL_PROXY");
    ::unsetenv("all_proxy");
    EXPECT_EQ(result.body, "direct\n") << result.error;
    EXPECT_EQ(server.Requests().size(), 1u);
    EXPECT_EQ(proxy.Accepted(), 0);
}

TEST(HttpStreamAllowlist, NoAllowlistChecksNothing) {
    TestServer server(Answer("open\n"), "127.0.0.2");
    HttpStream stream(server.Url("/x"), QuickOptions());
    EXPECT_EQ(ReadAll(stream).body, "open\n");
}

}  // namespace

// ---- POST (options.method, options.body) ----

TEST(HttpStreamPost, SendsTheBodyWithoutWaitingFor100Continue) {
    TestServer server([](const Exchange &ex) { ex.Send(Response(200, "OK", {}, "[]")); });
    HttpOptions options = QuickOptions();
    options.post_body = std::string(5000, 'x');  // larger than libcurl's threshold for Expect: 100-continue
    options.headers = {"Content-Type: application/json"};
    HttpStream stream(server.Url("/search"), options);
    EXPECT_EQ(ReadAll(stream).body, "[]");
    auto requests = server.Requests();
    ASSERT_EQ(requests.size(), 1u);
    EXPECT_EQ(requests[0].method, "POST");
    EXPECT_EQ(requests[0].body, std::string(5000, 'x'));
    EXPECT_EQ(requests[0].Header("Content-Length"), "5000");
    EXPECT_EQ(requests[0].Header("Expect"), "");
    EXPECT_EQ(requests[0].Header("Content-Type"), "application/json");
}

TEST(HttpStreamPost, RedirectsThatKeepTheMethodSendTheBodyAgainOthersContinueWithAGet) {
    for (int status : {301, 302, 303, 307, 308}) {
        TestServer server([status](const Exchange &ex) {
            if (ex.request.target == "/start") {
                ex.Send(Response(status, "Moved", {"Location: /final"}, ""));
            } else {
                ex.Send(Response(200, "OK", {}, ex.request.method + ":" + ex.request.body));
            }
        });
        HttpOptions options = QuickOptions();
        options.post_body = std::string("{\"a\":1}");
        HttpStream stream(server.Url("/start"), options);
        const bool keeps = status == 307 || status == 308;
        EXPECT_EQ(ReadAll(stream).body, keeps ? "POST:{\"a\":1}" : "GET:") << status;
    }
}

TEST(HttpStreamPost, ABodyWithASecretNeverGoesToAnotherOrigin) {
    TestServer other([](const Exchange &ex) { ex.Send(Response(200, "OK", {}, "stolen " + ex.request.body)); },
                     "127.0.0.2");
    const std::string elsewhere = other.Url("/steal");
    TestServer server([&](const Exchange &ex) { ex.Send(Response(307, "Temporary", {"Location: " + elsewhere}, "")); });
    HttpOptions options = QuickOptions();
    options.post_body = std::string("{\"token\":\"s3cret\"}");
    options.post_body_sensitive = true;
    HttpStream stream(server.Url("/start"), options);
    try {
        stream.Start();
        FAIL() << "followed";
    } catch (const HttpError &e) {
        EXPECT_EQ(e.kind(), bulk_ingest::HttpErrorKind::kNotAllowed);
        EXPECT_TRUE(Contains(e.what(), "would carry the request body, which holds a secret")) << e.what();
    }
    EXPECT_EQ(other.Requests().size(), 0u);
}
