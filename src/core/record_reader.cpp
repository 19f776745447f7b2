// Messages shared by the record readers.
#include "record_reader.h"

namespace bulk_ingest {

std::string FormatBytes(uint64_t bytes) {
    static const char *const kUnits[] = {"kB", "MB", "GB", "TB"};
    if (bytes == 0 || bytes % 1024 != 0) {
        return std::to_string(bytes) + " bytes";
    }
    uint64_t value = bytes / 1024;
    int unit = 0;
    while (unit < 3 && value % 1024 == 0) {
        value /= 1024;
        unit++;
    }
    return std::to_string(value) + " " + kUnits[unit];
}

std::string RecordTooLong(const char *what, size_t limit) {
    return std::string("the ") + what + " is longer than " + FormatBytes(limit) +
           ", the largest record allowed (bulk_ingest.max_record_size)";
}

}  // namespace bulk_ingest
