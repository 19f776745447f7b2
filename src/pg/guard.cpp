#include "pg/guard.h"

#include <cstring>
#include <new>

#include "core/error.h"

extern "C" {
#include "utils/elog.h"
}

namespace pg_bulk_ingest {

static void SetMessage(CoreFailure *failure, const char *message) {
    strlcpy(failure->message, message, sizeof(failure->message));
}

void CaptureCurrentException(CoreFailure *failure) noexcept {
    failure->sqlerrcode = ERRCODE_INTERNAL_ERROR;
    failure->interrupted = false;
    try {
        throw;
    } catch (const bulk_ingest::Interrupted &e) {
        failure->sqlerrcode = ERRCODE_QUERY_CANCELED;
        failure->interrupted = true;
        SetMessage(failure, "the transfer was interrupted");
    } catch (const bulk_ingest::RecordError &e) {
        failure->sqlerrcode = ERRCODE_DATA_EXCEPTION;
        SetMessage(failure, e.what());
    } catch (const bulk_ingest::HttpError &e) {
        failure->sqlerrcode = ERRCODE_CONNECTION_FAILURE;
        SetMessage(failure, e.what());
    } catch (const bulk_ingest::Error &e) {
        failure->sqlerrcode = ERRCODE_INVALID_PARAMETER_VALUE;
        SetMessage(failure, e.what());
    } catch (const std::bad_alloc &) {
        failure->sqlerrcode = ERRCODE_OUT_OF_MEMORY;
        SetMessage(failure, "out of memory");
    } catch (const std::exception &e) {
        SetMessage(failure, e.what());
    } catch (...) {
        SetMessage(failure, "unknown C++ exception");
    }
}

void RaiseCoreFailure(const CoreFailure *failure, const char *prefix) {
    if (failure->interrupted) {
        CHECK_FOR_INTERRUPTS();
    }
    ereport(ERROR, (errcode(failure->sqlerrcode), errmsg("%s%s", prefix ? prefix : "", failure->message)));
    pg_unreachable();
}

}  // namespace pg_bulk_ingest
