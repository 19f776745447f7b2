// Requests of pages sent ahead of their turn, so that a source's latency overlaps the loading of the pages before
// (issue 11: latency-bound APIs).
//
// Every decision stays where it was: the PostgreSQL layer paces each request (rate limits and server holds live in
// PostgreSQL shared memory, so it reserves the request's turn itself and hands over the earliest time it may be sent),
// makes the HttpStream with the run's headers and allowlist, and later takes the stream in page order and checks that
// it is the request the pagination asks for. Only the wait for the response's headers moves to a thread of its own:
// HttpStream::Start(), which connects (every connection checked against the allowlist by the open-socket callback)
// and sends the request. A failure is kept in the stream (its Start() throws it again on the thread that takes it),
// so retries, 429s, Retry-After, 401s and on_status are decided on the main thread as for any request.
//
// Two ways ahead:
//   - NextPageAhead: the page after the one being read, whose URL depends on that page (a Link header, a cursor or a
//     next URL in the body, an offset moved by the records read). The read-ahead thread that reads the page
//     (PrefetchingReader::on_end) works the next URL out on a copy of the run's paginator as soon as it has read the
//     page whole, and sends the request, while the main thread is still loading the page.
//   - offset and page pagination with options.concurrency = N: the URLs of the next pages are known if every page
//     is full (Paginator::PredictFullPages), so up to N - 1 of them are requested while a page is read.
// A request whose page turns out not to be the next one (a short page ended the data, a page gave another cursor) is
// dropped unread: its stream is closed, and the pagination makes the request it needs.
//
// Nothing here touches PostgreSQL. Each libcurl handle is used by one thread at a time: the request's thread until
// its headers arrived, then the thread that takes it.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "declaration.h"
#include "http_stream.h"
#include "paginator.h"
#include "prefetch.h"
#include "record_reader.h"

namespace bulk_ingest {

// The current time in µs since the Unix epoch (the clock of the pacing the PostgreSQL layer reserves).
int64_t UnixNowMicroseconds();

// The JSON request body: template with the pagination's body parameters set (options.pagination "in": "body").
std::string BodyWithParameters(const std::string &body_template, const std::vector<BodyParameter> &parameters);

// One request started on a thread of its own.
class RequestAhead final : public ProducerThread {
  public:
    // stream: made, not started. body: the request's body ("" for a GET), what the taker compares. not_before_us: the
    // earliest time (µs since the Unix epoch) the request may be sent (the turn its pacing reserved; 0: at once).
    RequestAhead(std::unique_ptr<HttpStream> stream, std::string body, int64_t not_before_us);
    // Stops the request (a transfer notices within its abort-check interval) and joins its thread.
    ~RequestAhead() override;
    RequestAhead(const RequestAhead &) = delete;
    RequestAhead &operator=(const RequestAhead &) = delete;

    const std::string &Url() const { return url_; }
    const std::string &Body() const { return body_; }
    bool Done() const;
    // Waits until the response's headers (or the request's failure) arrived, asking should_abort every interval_ms:
    // true throws Interrupted.
    void Wait(const std::function<bool()> &should_abort, long interval_ms = 100);
    // After Wait(): the stream, started, or failed (its Start() throws the failure again). Then the thread is gone.
    std::unique_ptr<HttpStream> Take();

    bool StopRequested() const override { return stop_.load(std::memory_order_relaxed); }
    // Asks the request to stop without waiting for it (the destructor then waits less).
    void RequestStop();

  private:
    void Run();

    std::unique_ptr<HttpStream> stream_;
    std::string url_;
    std::string body_;
    int64_t not_before_us_;
    std::atomic<bool> stop_{false};
    mutable std::mutex mutex_;
    std::condition_variable changed_;
    bool done_ = false;
    std::thread thread_;
};

// What the next page's request needs, made on the main thread before the page is read.
struct NextPagePlan {
    Paginator paginator;                       // a copy of the run's, at the page being read
    PageInfo page;                             // what the page's headers said (url, link_header, cursor_header)
    const SourceOptions *options;              // the source's (body values of the pagination); outlives the page
    HttpOptions http;                          // the next request's options (no body: see body_template)
    std::optional<std::string> body_template;  // options.body, expanded: the next request's body gets its parameters
    int64_t not_before_us = 0;                 // the turn reserved for the next request ...
    std::string paced_url;                     // ... at this URL's host: a next page elsewhere is not requested ahead
};

// The request of the page after the one being read: armed by the main thread, sent from the read-ahead thread when it
// has read the page whole, taken by the main thread when the page is loaded.
class NextPageAhead {
  public:
    // The PrefetchingReader's on_end: works out the next page (on the plan's paginator copy: what the run's paginator
    // will say, unless the page's records are counted otherwise) and sends its request. Does nothing once disarmed.
    static std::function<void(RecordReader &, uint64_t)> OnEnd(std::shared_ptr<NextPageAhead> self, NextPagePlan plan);
    // The request sent (nullptr when none was), in the calling thread's hands. Call it once the reader has ended
    // (its producer thread is joined).
    std::unique_ptr<RequestAhead> Take();

  private:
    std::mutex mutex_;
    std::unique_ptr<RequestAhead> request_;
};

// The requests sent ahead of a run's pages, in page order, and the one selected for the page about to be read.
class PagesAhead {
  public:
    PagesAhead() = default;
    ~PagesAhead();  // stops every request at once, then waits for them (each within its abort-check interval)
    PagesAhead(const PagesAhead &) = delete;
    PagesAhead &operator=(const PagesAhead &) = delete;

    // Drops every request sent ahead (closing their connections), the selected one and an armed next page's.
    void Clear();
    // A slot for the request of the page after the one being read (NextPageAhead::OnEnd); it replaces an earlier one.
    std::shared_ptr<NextPageAhead> Arm();
    // Makes the armed slot's request (when it sent one) the next in line.
    void CollectArmed();
    // Selects the request of the page about to be read when it is the first in line (the same URL and body), and
    // returns whether it did; otherwise every request sent ahead is dropped (the pages after a mismatch are not the
    // ones predicted).
    bool Select(const std::string &url, const std::string &body);
    // The selected request's stream, once its headers arrived (Wait's should_abort applies), in the caller's hands;
    // nullptr when none is selected.
    HttpStream *TakeSelected(const std::function<bool()> &should_abort);
    void Push(std::unique_ptr<RequestAhead> request) { queue_.push_back(std::move(request)); }
    size_t Size() const { return queue_.size(); }
    // Whether a request of that URL and body is in line.
    bool Has(const std::string &url, const std::string &body) const;

  private:
    std::deque<std::unique_ptr<RequestAhead>> queue_;
    std::unique_ptr<RequestAhead> selected_;
    std::shared_ptr<NextPageAhead> armed_;
};

}  // namespace bulk_ingest
