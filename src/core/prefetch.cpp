#include "prefetch.h"

#include <signal.h>

#include <algorithm>
#include <chrono>

#include "copy_text.h"
#include "error.h"

namespace bulk_ingest {

namespace {

// The producer that runs on this thread (nullptr elsewhere).
thread_local ProducerThread *producer = nullptr;

constexpr uint32_t kNull = UINT32_MAX;

}  // namespace

bool ProducerShouldStop() {
    if (producer == nullptr) {
        return false;
    }
    producer->OnProducerWait();
    return producer->StopRequested();
}

bool OnProducerThread() {
    return producer != nullptr;
}

void SetProducerThread(ProducerThread *thread) {
    producer = thread;
}

std::thread StartThreadWithoutSignals(std::function<void()> body) {
    sigset_t all, previous;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &previous);
    try {
        std::thread thread(std::move(body));
        pthread_sigmask(SIG_SETMASK, &previous, nullptr);
        return thread;
    } catch (...) {
        pthread_sigmask(SIG_SETMASK, &previous, nullptr);
        throw;
    }
}

void PrefetchingReader::OnProducerWait() {
    // The reader is about to wait for the network: the records read so far must not wait with it (a slow source
    // would hold back rows the consumer could load, and the end of a batch with them).
    if (block_ == nullptr || block_->records.empty()) {
        return;
    }
    std::unique_ptr<Block> fresh = TakeFreeBlock();  // first: when it throws, block_ stays as it is
    {
        std::lock_guard<std::mutex> lock(mutex_);
        if (queue_.size() >= options_.max_blocks) {
            free_.push_back(std::move(fresh));
            return;  // the consumer has enough to do
        }
        queue_.push_back(std::move(block_));
        block_ = std::move(fresh);
    }
    ready_.notify_one();
}

void PrefetchingReader::Block::Clear(size_t block_bytes) {
    if (text.capacity() > 4 * block_bytes) {
        std::string().swap(text);  // a long record's memory is not kept by a block that waits for reuse
    } else {
        text.clear();
    }
    offsets.clear();
    lengths.clear();
    records.clear();
    refused.clear();
    end = false;
    failure = Failure();
    end_consumed = 0;
}

PrefetchingReader::PrefetchingReader(RecordReader &inner, PrefetchOptions options)
    : inner_(inner),
      options_(std::move(options)),
      columns_(inner.ColumnCount()),
      fields_(columns_),
      source_texts_(columns_) {
    if (options_.max_blocks < 1) {
        options_.max_blocks = 1;
    }
    options_.copy_row_columns = std::min(options_.copy_row_columns, columns_);
    if (options_.binary_columns.size() > columns_) {
        options_.binary_columns.resize(columns_);
    }
}

PrefetchingReader::~PrefetchingReader() {
    Stop();
}

void PrefetchingReader::Stop() {
    if (!started_) {
        return;
    }
    {
        std::lock_guard<std::mutex> lock(mutex_);
        stop_ = true;
    }
    space_.notify_all();
    if (thread_.joinable()) {
        thread_.join();
    }
}

std::unique_ptr<PrefetchingReader::Block> PrefetchingReader::TakeFreeBlock() {
    std::lock_guard<std::mutex> lock(mutex_);
    if (free_.empty()) {
        return std::make_unique<Block>();
    }
    std::unique_ptr<Block> block = std::move(free_.back());
    free_.pop_back();
    block->Clear(options_.block_bytes);
    return block;
}

void PrefetchingReader::Produce() {
    SetProducerThread(this);
    try {
        ProduceBlocks();
    } catch (...) {
        // Only allocation failures get here (the reader's own errors travel in blocks).
        std::lock_guard<std::mutex> lock(mutex_);
        fatal_ = std::current_exception();
    }
    ready_.notify_one();
}

void PrefetchingReader::ProduceBlocks() {
    block_ = TakeFreeBlock();
    for (;;) {
        bool last = false;
        try {
            if (stop_.load(std::memory_order_relaxed)) {
                return;
            }
            bool more = inner_.Next();
            // Next() may have handed the block over (OnProducerWait) and started another.
            Block *block = block_.get();
            if (!more) {
                if (options_.on_end) {
                    try {
                        options_.on_end(inner_, records_read_);
                    } catch (...) {
                        // (only a head start is lost: the consumer makes the next request itself)
                    }
                }
                block->end = true;
                block->end_consumed = inner_.BytesConsumed();
                last = true;
            } else {
                // The source's texts too when a column's format changed one (an epoch's number, for the watermark).
                bool source_texts = false;
                for (size_t i = 0; i < columns_ && !source_texts; i++) {
                    std::string_view field = inner_.Field(i).text, source = inner_.SourceText(i);
                    source_texts = field.data() != source.data() || field.size() != source.size();
                }
                Record record{inner_.Line(), inner_.BytesConsumed(), static_cast<uint32_t>(block->offsets.size()),
                              source_texts, -1};
                size_t values_start = block->text.size();
                AddValues(*block, false);
                if (source_texts) {
                    AddValues(*block, true);
                }
                if (block->text.size() - values_start <= kMaxEncodedRecordBytes) {
                    size_t row = block->text.size();
                    bool encoded = false;
                    if (!options_.binary_columns.empty()) {
                        encoded = AppendBinaryRow(block->text, inner_, options_.binary_columns.data(),
                                                  options_.binary_columns.size());
                    } else if (options_.copy_row_columns > 0) {
                        AppendCopyRow(block->text, inner_, options_.copy_row_columns);
                        encoded = true;
                    }
                    if (encoded) {
                        record.copy_row = static_cast<uint32_t>(row);
                        record.copy_row_len = static_cast<uint32_t>(block->text.size() - row);
                    }
                }
                block->records.push_back(record);
                inner_.ReleaseRecord();  // the values are in the block: a long record is not held twice
                records_read_++;
            }
        } catch (const FatalRecordError &) {
            if (stop_.load(std::memory_order_relaxed)) {
                return;  // stopped while reading: nobody waits for the outcome
            }
            block_->failure =
                Failure{std::current_exception(), inner_.PositionReached(), std::string(inner_.RecordText())};
            last = true;
        } catch (const RecordError &e) {
            if (stop_.load(std::memory_order_relaxed)) {
                return;
            }
            if (!options_.skips_refused) {
                // The record fails its batch: nothing past it is read (nor the next page requested).
                block_->failure =
                    Failure{std::current_exception(), inner_.PositionReached(), std::string(inner_.RecordText())};
                last = true;
            } else {
                // A record the reader refused and can step over: the consumer skips it and reads on.
                Block *block = block_.get();
                block->refused.push_back(
                    Failure{std::current_exception(), inner_.PositionReached(), std::string(inner_.RecordText())});
                block->records.push_back(Record{e.line(), inner_.BytesConsumed(),
                                                static_cast<uint32_t>(block->offsets.size()), false,
                                                static_cast<int32_t>(block->refused.size() - 1)});
                records_read_++;
            }
        } catch (...) {
            if (stop_.load(std::memory_order_relaxed)) {
                return;  // stopped while reading: nobody waits for the outcome
            }
            block_->failure =
                Failure{std::current_exception(), inner_.PositionReached(), std::string(inner_.RecordText())};
            last = true;
        }
        if (last || block_->text.size() >= options_.block_bytes ||
            block_->records.size() >= options_.max_block_records) {
            std::unique_lock<std::mutex> lock(mutex_);
            space_.wait(lock, [&] { return stop_ || queue_.size() < options_.max_blocks; });
            if (stop_) {
                return;
            }
            queue_.push_back(std::move(block_));
            lock.unlock();
            ready_.notify_one();
            if (last) {
                return;
            }
            block_ = TakeFreeBlock();
        }
    }
}

bool PrefetchingReader::Next() {
    if (finished_) {
        return false;
    }
    if (!started_) {
        started_ = true;
        // The producer must never run a PostgreSQL signal handler: it starts with every signal blocked.
        thread_ = StartThreadWithoutSignals([this] { Produce(); });
    }
    while (current_ == nullptr || next_record_ >= current_->records.size()) {
        if (current_ != nullptr) {
            if (current_->failure.error) {
                finished_ = true;
                Stop();
                Expose(current_->failure);
                std::rethrow_exception(current_->failure.error);
            }
            if (current_->end) {
                consumed_ = current_->end_consumed;
                finished_ = true;
                Stop();
                return false;
            }
            std::lock_guard<std::mutex> lock(mutex_);
            free_.push_back(std::move(current_));
        }
        std::unique_lock<std::mutex> lock(mutex_);
        while (queue_.empty()) {
            if (fatal_) {
                finished_ = true;
                std::exception_ptr fatal = fatal_;
                lock.unlock();
                Stop();
                std::rethrow_exception(fatal);
            }
            ready_.wait_for(lock, std::chrono::milliseconds(options_.wait_check_interval_ms));
            if (queue_.empty() && options_.should_abort) {
                lock.unlock();
                if (options_.should_abort()) {
                    throw Interrupted();
                }
                lock.lock();
            }
        }
        current_ = std::move(queue_.front());
        queue_.pop_front();
        lock.unlock();
        space_.notify_one();
        next_record_ = 0;
    }
    const Record &record = current_->records[next_record_];
    next_record_++;
    line_ = record.line;
    consumed_ = record.consumed;
    if (record.refused >= 0) {
        const Failure &refused = current_->refused[static_cast<size_t>(record.refused)];
        Expose(refused);
        std::rethrow_exception(refused.error);
    }
    record_text_.clear();
    copy_row_ = record.copy_row == kNoCopyRow
                    ? std::string_view()
                    : std::string_view(current_->text.data() + record.copy_row, record.copy_row_len);
    auto value = [&](size_t index) {
        uint32_t length = current_->lengths[index];
        return length == kNull
                   ? FieldValue{true, {}}
                   : FieldValue{false, std::string_view(current_->text.data() + current_->offsets[index], length)};
    };
    size_t first = record.first_value;
    for (size_t i = 0; i < columns_; i++) {
        fields_[i] = value(first + i);
        source_texts_[i] = record.source_texts ? value(first + columns_ + i).text : fields_[i].text;
    }
    position_ = line_ + 1;  // (an approximation for NDJSON records of several lines: the reader's own is exact)
    return true;
}

void PrefetchingReader::ReleaseRecord() noexcept {
    // The last record of a block that a long record made large: its memory goes now, not when the block is reused.
    if (current_ != nullptr && next_record_ == current_->records.size() &&
        current_->text.capacity() > 4 * options_.block_bytes) {
        std::string().swap(current_->text);
        copy_row_ = std::string_view();
        for (size_t i = 0; i < columns_; i++) {
            fields_[i] = FieldValue{true, {}};
            source_texts_[i] = std::string_view();
        }
    }
}

void PrefetchingReader::AddValues(Block &block, bool source) {
    for (size_t i = 0; i < columns_; i++) {
        const FieldValue &field = inner_.Field(i);
        std::string_view text = source ? inner_.SourceText(i) : field.text;
        block.offsets.push_back(static_cast<uint32_t>(block.text.size()));
        if (field.is_null) {
            block.lengths.push_back(kNull);
        } else {
            block.lengths.push_back(static_cast<uint32_t>(text.size()));
            block.text.append(text.data(), text.size());
        }
    }
}

void PrefetchingReader::Expose(const Failure &failure) {
    position_ = failure.position;
    record_text_ = failure.record_text;
}

}  // namespace bulk_ingest
