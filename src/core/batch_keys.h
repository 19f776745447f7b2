// Whether a batch repeats a primary key, told from the keys' text as the records arrive.
//
// A batch whose keys are all distinct can be merged without sorting it for last-row-wins. Keys are compared as
// the text the type's input function will see, hashed to 64 bits: two texts that the type takes for the same value
// ("1" and "01" for a bigint) or a hash collision make the batch look as if it had no repeat or a repeat. The first
// is caught by PostgreSQL (ON CONFLICT DO UPDATE refuses to affect a row twice) and the merge is redone with the
// sort; the second only costs the sort. So the answer is a hint, and every answer is safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "record_reader.h"

namespace bulk_ingest {

class BatchKeys {
  public:
    // key_columns: the reader's column indexes of the primary key. At most max_keys keys are remembered; a batch
    // with more is reported as possibly repeating (a bounded memory of 8 bytes a key).
    BatchKeys(std::vector<size_t> key_columns, size_t max_keys);

    // Forgets the keys of the previous batch.
    void Clear();
    // Remembers the key of the reader's current record.
    void Add(const RecordReader &reader);
    // Whether a key may repeat among those added since Clear().
    bool MayRepeat();

  private:
    std::vector<size_t> key_columns_;
    size_t max_keys_;
    std::vector<uint64_t> hashes_;
    bool overflow_ = false;
};

}  // namespace bulk_ingest
