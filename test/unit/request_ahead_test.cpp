// Unit tests of requests sent ahead: a failure is kept for the thread that takes the stream, a stop ends a request
// that waits for its turn at once, and the pages in line are taken in order or dropped on a mismatch.
#include <gtest/gtest.h>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <string>

#include "error.h"
#include "http_stream.h"
#include "prefetch.h"
#include "request_ahead.h"

using bulk_ingest::HttpOptions;
using bulk_ingest::HttpStream;
using bulk_ingest::PagesAhead;
using bulk_ingest::RequestAhead;

namespace {

// A port on 127.0.0.1 that refuses connections (bound, never listening) while the object lives.
class ClosedPort {
  public:
    ClosedPort() : fd_(socket(AF_INET, SOCK_STREAM, 0)) {
        sockaddr_in address{};
        address.sin_family = AF_INET;
        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        bind(fd_, reinterpret_cast<sockaddr *>(&address), sizeof(address));
        socklen_t length = sizeof(address);
        getsockname(fd_, reinterpret_cast<sockaddr *>(&address), &length);
        port_ = ntohs(address.sin_port);
    }
    ~ClosedPort() { close(fd_); }
    std::string Url(const std::string &path) const { return "http://127.0.0.1:" + std::to_string(port_) + path; }

  private:
    int fd_;
    int port_ = 0;
};

std::unique_ptr<HttpStream> Stream(const std::string &url) {
    HttpOptions options;
    options.should_abort = bulk_ingest::ProducerShouldStop;  // as the PostgreSQL layer's check does on such threads
    options.abort_check_interval_ms = 20;
    return std::make_unique<HttpStream>(url, options);
}

}  // namespace

TEST(RequestAhead, AFailureIsThrownAgainByTheThreadThatTakesTheStream) {
    ClosedPort port;
    RequestAhead request(Stream(port.Url("/p?page=2")), "", 0);
    request.Wait(nullptr);
    EXPECT_TRUE(request.Done());
    std::unique_ptr<HttpStream> stream = request.Take();
    ASSERT_NE(stream, nullptr);
    try {
        stream->Start();
        ADD_FAILURE() << "no error";
    } catch (const bulk_ingest::HttpError &e) {
        EXPECT_EQ(e.kind(), bulk_ingest::HttpErrorKind::kConnection);
        EXPECT_NE(std::string(e.what()).find("page=2"), std::string::npos) << e.what();
    }
}

TEST(RequestAhead, AStopEndsARequestThatWaitsForItsTurn) {
    ClosedPort port;
    const auto started = std::chrono::steady_clock::now();
    {
        // Its turn is an hour away: it is never sent.
        RequestAhead request(Stream(port.Url("/p")), "", bulk_ingest::UnixNowMicroseconds() + 3600LL * 1000000);
        EXPECT_FALSE(request.Done());
        EXPECT_THROW(request.Wait([] { return true; }, 10), bulk_ingest::Interrupted);
    }
    EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(5));
}

TEST(PagesAhead, TakesThePagesInOrderAndDropsThemAllOnAMismatch) {
    ClosedPort port;
    PagesAhead ahead;
    for (int page = 2; page <= 4; page++) {
        std::string url = port.Url("/p?page=" + std::to_string(page));
        ahead.Push(std::make_unique<RequestAhead>(Stream(url), "", 0));
    }
    EXPECT_TRUE(ahead.Has(port.Url("/p?page=3"), ""));
    EXPECT_FALSE(ahead.Has(port.Url("/p?page=3"), "{\"page\": 3}"));
    EXPECT_FALSE(ahead.Select(port.Url("/p?page=3"), ""));  // page 2 is first in line: not page 3's turn
    EXPECT_EQ(ahead.Size(), 0u);                            // ... and the guesses after it are dropped
    ahead.Push(std::make_unique<RequestAhead>(Stream(port.Url("/p?page=5")), "", 0));
    ASSERT_TRUE(ahead.Select(port.Url("/p?page=5"), ""));
    std::unique_ptr<HttpStream> stream(ahead.TakeSelected(nullptr));
    ASSERT_NE(stream, nullptr);
    EXPECT_EQ(stream->Url(), port.Url("/p?page=5"));
    EXPECT_THROW(stream->Start(), bulk_ingest::HttpError);
    EXPECT_EQ(ahead.TakeSelected(nullptr), nullptr);
}

TEST(BodyWithParameters, SetsEachParameter) {
    std::vector<bulk_ingest::BodyParameter> parameters = {{"page", "3", true}, {"/filter/cursor", "c9", false}};
    EXPECT_EQ(bulk_ingest::BodyWithParameters(R"({"q": 1})", parameters),
              R"({"q":1,"page":3,"filter":{"cursor":"c9"}})");
}
