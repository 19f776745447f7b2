// Requests of pages sent ahead of their turn (see request_ahead.h).
#include "request_ahead.h"

#include <chrono>
#include <utility>

#include "error.h"
#include "formats.h"
#include "rate_limit.h"
#include "request_options.h"

namespace bulk_ingest {

int64_t UnixNowMicroseconds() {
    return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

std::string BodyWithParameters(const std::string &body_template, const std::vector<BodyParameter> &parameters) {
    std::string body = body_template;
    for (const BodyParameter &parameter : parameters) {
        body = SetBodyParameter(body, parameter.name, parameter.value, parameter.number);
    }
    return body;
}

RequestAhead::RequestAhead(std::unique_ptr<HttpStream> stream, std::string body, int64_t not_before_us)
    : stream_(std::move(stream)), url_(stream_->Url()), body_(std::move(body)), not_before_us_(not_before_us) {
    thread_ = StartThreadWithoutSignals([this] { Run(); });
}

RequestAhead::~RequestAhead() {
    RequestStop();
    if (thread_.joinable()) {
        thread_.join();
    }
}

void RequestAhead::Run() {
    SetProducerThread(this);  // the stream's abort check asks this request's stop flag
    {
        // The turn the pacing reserved: not a moment before it.
        std::unique_lock<std::mutex> lock(mutex_);
        const auto until = std::chrono::system_clock::time_point(std::chrono::microseconds(not_before_us_));
        changed_.wait_until(lock, until, [this] { return stop_.load(); });
    }
    if (!stop_) {
        try {
            stream_->Start();
        } catch (...) {
            // Kept by the stream: its Start() throws it again on the thread that takes it.
        }
    }
    {
        std::lock_guard<std::mutex> lock(mutex_);
        done_ = true;
    }
    changed_.notify_all();
}

void RequestAhead::RequestStop() {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        stop_ = true;
    }
    changed_.notify_all();
}

bool RequestAhead::Done() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return done_;
}

void RequestAhead::Wait(const std::function<bool()> &should_abort, long interval_ms) {
    std::unique_lock<std::mutex> lock(mutex_);
    while (!done_) {
        changed_.wait_for(lock, std::chrono::milliseconds(interval_ms > 0 ? interval_ms : 1));
        if (!done_ && should_abort) {
            lock.unlock();
            if (should_abort()) {
                throw Interrupted();
            }
            lock.lock();
        }
    }
}

std::unique_ptr<HttpStream> RequestAhead::Take() {
    if (thread_.joinable()) {
        thread_.join();  // done: returns at once
    }
    return std::move(stream_);
}

std::function<void(RecordReader &, uint64_t)> NextPageAhead::OnEnd(std::shared_ptr<NextPageAhead> self,
                                                                   NextPagePlan plan) {
    auto shared_plan = std::make_shared<NextPagePlan>(std::move(plan));
    return [self, shared_plan](RecordReader &inner, uint64_t records) {
        NextPagePlan &p = *shared_plan;
        PageInfo info = p.page;
        ReadBodyPaginationValues(inner, *p.options, &info);
        info.records = records;
        std::optional<std::string> next = p.paginator.Next(info);  // throws: the run's paginator will say why
        if (!next || HostKey(*next) != HostKey(p.paced_url)) {
            return;  // the end of the data, or a host whose pace was not reserved: the main thread decides
        }
        HttpOptions http = p.http;
        std::string body;
        if (p.body_template) {
            body = BodyWithParameters(*p.body_template, p.paginator.BodyParameters());
            http.post_body = body;
        }
        auto request =
            std::make_unique<RequestAhead>(std::make_unique<HttpStream>(*next, std::move(http)), body, p.not_before_us);
        std::lock_guard<std::mutex> lock(self->mutex_);
        self->request_ = std::move(request);
    };
}

std::unique_ptr<RequestAhead> NextPageAhead::Take() {
    std::lock_guard<std::mutex> lock(mutex_);
    return std::move(request_);
}

PagesAhead::~PagesAhead() {
    Clear();
}

void PagesAhead::Clear() {
    // Every request is told to stop first, so that they all stop together rather than one after the other.
    for (auto &request : queue_) {
        request->RequestStop();
    }
    if (selected_) {
        selected_->RequestStop();
    }
    std::unique_ptr<RequestAhead> armed = armed_ ? armed_->Take() : nullptr;
    if (armed) {
        armed->RequestStop();
    }
    queue_.clear();
    selected_.reset();
    armed.reset();
    armed_.reset();
}

std::shared_ptr<NextPageAhead> PagesAhead::Arm() {
    CollectArmed();
    armed_ = std::make_shared<NextPageAhead>();
    return armed_;
}

void PagesAhead::CollectArmed() {
    if (!armed_) {
        return;
    }
    std::unique_ptr<RequestAhead> request = armed_->Take();
    armed_.reset();
    if (request) {
        queue_.push_back(std::move(request));
    }
}

bool PagesAhead::Select(const std::string &url, const std::string &body) {
    CollectArmed();
    selected_.reset();
    if (queue_.empty()) {
        return false;
    }
    if (queue_.front()->Url() != url || queue_.front()->Body() != body) {
        Clear();
        return false;
    }
    selected_ = std::move(queue_.front());
    queue_.pop_front();
    return true;
}

HttpStream *PagesAhead::TakeSelected(const std::function<bool()> &should_abort) {
    if (!selected_) {
        return nullptr;
    }
    selected_->Wait(should_abort);
    std::unique_ptr<HttpStream> stream = selected_->Take();
    selected_.reset();
    return stream.release();
}

bool PagesAhead::Has(const std::string &url, const std::string &body) const {
    for (const auto &request : queue_) {
        if (request->Url() == url && request->Body() == body) {
            return true;
        }
    }
    return false;
}

}  // namespace bulk_ingest
