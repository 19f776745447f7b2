// A RecordReader that reads ahead on a thread of its own, so that the transfer and the parsing of a response
// (libcurl, the JSON/CSV reader, charset conversion) run on one core while PostgreSQL's COPY runs on another.
//
// The producer thread runs the wrapped reader and copies each record's declared values into blocks, handed over
// through a bounded queue (at most max_blocks blocks of about block_bytes: the read-ahead is bounded however large
// the response is). The consumer (the backend's main thread) calls Next()/Field() as on any reader. Nothing on the
// producer thread touches PostgreSQL: the wrapped reader and its byte sources are PostgreSQL-free, and the byte
// source's abort check asks ProducerShouldStop() there (see below) instead of PostgreSQL's interrupt flags.
//
// Errors cross as data: the producer catches whatever the reader throws and stores it after the last good
// record; the consumer receives every record before it, then the same exception is rethrown on the consumer's
// thread. A record the reader refused but can step over (a RecordError that is not a FatalRecordError) is an entry
// of its own, and the producer goes on: the consumer may skip it (options.on_error = 'skip') and read on. What the
// consumer may ask after an error (PositionReached, RecordText) is taken on the producer when the error happens.
// No exception and no longjmp crosses the thread boundary; PostgreSQL signals are blocked on the producer.
//
// Destroying the reader (a page's end, a cancel, an error: the owning memory context is reset) stops the producer
// and joins it; a producer blocked in the network notices within the byte source's abort-check interval.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "copy_binary.h"
#include "record_reader.h"

namespace bulk_ingest {

// A thread that works for the backend's main thread without being PostgreSQL's: the producer of a
// PrefetchingReader, or a request sent ahead (request_ahead.h). Its byte sources ask it, instead of PostgreSQL's
// interrupt flags, whether to stop.
class ProducerThread {
  public:
    virtual ~ProducerThread() = default;
    // The thread is about to wait for the network.
    virtual void OnProducerWait() {}
    virtual bool StopRequested() const = 0;
};

// Makes the calling thread the given producer's (nullptr: none), for ProducerShouldStop() and OnProducerThread().
void SetProducerThread(ProducerThread *thread);

// On a producer thread: whether its consumer asked it to stop. Byte sources ask it whenever they are about to wait
// for the network, which is also when the records read so far are handed over. False on any other thread.
bool ProducerShouldStop();
// Whether the calling thread is a producer thread (of a PrefetchingReader or a request sent ahead).
bool OnProducerThread();

// Starts a thread with every signal blocked: a PostgreSQL signal handler must never run on it.
std::thread StartThreadWithoutSignals(std::function<void()> body);

struct PrefetchOptions {
    size_t block_bytes = 256 * 1024;  // a block is handed over once its values reach this size
    size_t max_block_records = 4096;  // ... or this many records
    size_t max_blocks = 4;            // blocks read ahead at most
    long wait_check_interval_ms = 100;
    // Asked (on the consumer's thread) while it waits for the producer: true stops with Interrupted.
    std::function<bool()> should_abort;
    // Whether the consumer skips records the reader refuses (options.on_error = 'skip'): the producer then reads on
    // past them. Otherwise a refused record ends the read-ahead like any failure (nothing is read, nor requested,
    // past a record that fails its batch).
    bool skips_refused = false;
    // > 0: the producer also encodes each record's first copy_row_columns values as a COPY text row (copy_text.h),
    // which CopyRow() hands out, so that the encoding runs on the producer's core rather than on the consumer's
    // (the backend's main thread, which COPY keeps busy). Records whose values exceed kMaxEncodedRecordBytes are not
    // encoded ahead (a long record is not held twice): CopyRow() is empty for them.
    size_t copy_row_columns = 0;
    // Not empty: the rows encoded ahead are COPY binary rows of these columns (copy_binary.h) instead, and a record
    // with a value the core leaves to PostgreSQL's input function is not encoded ahead (CopyRow() is empty).
    std::vector<BinaryColumn> binary_columns;
    // Called on the producer thread when the wrapped reader has reached its end (the response was read whole), with
    // the reader (its captured body values) and the number of records it gave (refused ones included), before the
    // end is handed over: what lets the next page be requested while this one is still being loaded. What it throws
    // is ignored.
    std::function<void(RecordReader &inner, uint64_t records)> on_end;
};

class PrefetchingReader final : public RecordReader, public ProducerThread {
  public:
    static constexpr size_t kMaxEncodedRecordBytes = size_t(64) * 1024;

    // inner must outlive this reader and must not be used by anyone else until Next() returned false or threw.
    PrefetchingReader(RecordReader &inner, PrefetchOptions options);
    ~PrefetchingReader() override;
    PrefetchingReader(const PrefetchingReader &) = delete;
    PrefetchingReader &operator=(const PrefetchingReader &) = delete;

    bool Next() override;
    const FieldValue &Field(size_t column) const override { return fields_[column]; }
    size_t ColumnCount() const override { return columns_; }
    std::string_view SourceText(size_t column) const override { return source_texts_[column]; }
    uint64_t Line() const override { return line_; }
    uint64_t BytesConsumed() const override { return consumed_; }
    uint64_t PositionReached() const override { return position_; }
    std::string_view RecordText() const override { return record_text_; }
    // The current record's COPY row (options.copy_row_columns or binary_columns), or empty when it was not encoded
    // ahead.
    std::string_view CopyRow() const override { return copy_row_; }
    void ReleaseRecord() noexcept override;

    // The wrapped reader, for what only it can tell (captured body values), once Next() has returned false.
    RecordReader &Inner() { return inner_; }

    // On the producer thread, from ProducerShouldStop(): the reader waits for the network.
    void OnProducerWait() override;
    bool StopRequested() const override { return stop_.load(std::memory_order_relaxed); }

  private:
    static constexpr uint32_t kNoCopyRow = UINT32_MAX;
    struct Record {
        uint64_t line;
        uint64_t consumed;
        uint32_t first_value;            // its first value in offsets/lengths
        bool source_texts;               // columns more values follow its own: the source's texts (SourceText)
        int32_t refused;                 // >= 0: a record the reader refused, errors[refused]; it has no values
        uint32_t copy_row = kNoCopyRow;  // start of its COPY row in text (options.copy_row_columns)
        uint32_t copy_row_len = 0;
    };
    // What the consumer needs of a reader's error: the exception, and what PositionReached/RecordText said then.
    struct Failure {
        std::exception_ptr error;
        uint64_t position = 0;
        std::string record_text;
    };
    struct Block {
        std::string text;               // the values of its records, one after the other
        std::vector<uint32_t> offsets;  // per value: start in text
        std::vector<uint32_t> lengths;  // per value: length, or UINT32_MAX for NULL
        std::vector<Record> records;
        std::vector<Failure> refused;  // the errors of the records the reader refused and stepped over
        bool end = false;              // the reader's end: no record follows
        Failure failure;               // the reader threw after the records of this block, and cannot go on
        uint64_t end_consumed = 0;     // BytesConsumed() at the end
        // Empties it for reuse; a block that grew far beyond block_bytes (a long record) gives its memory back.
        void Clear(size_t block_bytes);
    };
    void AddValues(Block &block, bool source);
    void Expose(const Failure &failure);

    void Produce();
    void ProduceBlocks();
    void Stop();
    std::unique_ptr<Block> TakeFreeBlock();

    std::unique_ptr<Block> block_;  // the block the producer fills (producer thread only)
    uint64_t records_read_ = 0;     // records the wrapped reader gave, refused ones included (producer thread only)

    RecordReader &inner_;
    PrefetchOptions options_;
    size_t columns_;

    std::mutex mutex_;
    std::condition_variable ready_;  // a block was queued (consumer waits)
    std::condition_variable space_;  // a block was taken, or stop (producer waits)
    std::deque<std::unique_ptr<Block>> queue_;
    std::vector<std::unique_ptr<Block>> free_;
    std::atomic<bool> stop_{false};
    std::exception_ptr fatal_;  // the producer failed outside the reader (out of memory)
    std::thread thread_;
    bool started_ = false;
    bool finished_ = false;  // the consumer saw the end or the failure

    // The consumer's current block and record.
    std::unique_ptr<Block> current_;
    size_t next_record_ = 0;
    std::vector<FieldValue> fields_;
    std::vector<std::string_view> source_texts_;
    uint64_t line_ = 0;
    uint64_t consumed_ = 0;
    uint64_t position_ = 1;    // PositionReached(): the record after the last one handed over, or an error's
    std::string record_text_;  // RecordText() of the last error, "" otherwise
    std::string_view copy_row_;
};

}  // namespace bulk_ingest
