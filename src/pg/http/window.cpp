#include "pg/http/window.h"

#include "pg/guard.h"
#include "pg/load/watermark_value.h"

extern "C" {
#include "common/int.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"
}

using pg_bulk_ingest::CallCore;
using pg_bulk_ingest::CallCoreForText;
using pg_bulk_ingest::NewInMemoryContext;

static const int64 kUnixToPostgresUs = (int64)(POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * USECS_PER_DAY;

static Interval *ParseInterval(const char *text) {
    return DatumGetIntervalP(
        DirectFunctionCall3(interval_in, CStringGetDatum(text), ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1)));
}

// Calendar arithmetic on the UTC fields of an instant (a timestamptz is a UTC timestamp): "1 day" is 24 hours and
// "1 month" a calendar month in UTC, whatever the session's time zone and its daylight saving time.
static TimestampTz Plus(TimestampTz t, Interval *step, bool minus) {
    return DatumGetTimestamp(DirectFunctionCall2(minus ? timestamp_mi_interval : timestamp_pl_interval,
                                                 TimestampGetDatum(t), IntervalPGetDatum(step)));
}

static void SetEnd(WindowCursor *window) {
    TimestampTz end = Plus(window->start, window->step, false);
    window->end = end < window->stop ? end : window->stop;
}

bool FirstWindow(const Declaration *decl, const char *position, bool apply_lag, TimestampTz stop,
                 WindowCursor *window) {
    const bulk_ingest::RequestOptions &request = decl->options->request;
    window->step = ParseInterval(request.window->step.c_str());
    window->stop = stop;
    const char *from = position != NULL ? position : request.window->start->c_str();
    window->start = DatumGetTimestampTz(
        DirectFunctionCall3(timestamptz_in, CStringGetDatum(from), ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1)));
    if (position != NULL && apply_lag && request.lag) {
        window->start = Plus(window->start, ParseInterval(request.lag->c_str()), true);
    }
    if (window->start >= window->stop) {
        return false;
    }
    SetEnd(window);
    return true;
}

bool NextWindow(WindowCursor *window) {
    if (window->end >= window->stop) {
        return false;
    }
    window->start = window->end;
    SetEnd(window);
    return true;
}

char *TimestampTzText(TimestampTz t) {
    // ISO 8601 in UTC, to the microsecond: read back the same whatever the session's DateStyle and TimeZone.
    int64 epoch_us = 0;
    if (TIMESTAMP_NOT_FINITE(t) || pg_add_s64_overflow(t, kUnixToPostgresUs, &epoch_us)) {
        return DatumGetCString(DirectFunctionCall1(timestamptz_out, TimestampTzGetDatum(t)));
    }
    return CallCoreForText(CurrentMemoryContext, [&] {
        bulk_ingest::TimestampStyle style;
        style.fraction_digits = 6;
        style.zone = "Z";
        return bulk_ingest::FormatTimestamp(epoch_us, style);
    });
}

bulk_ingest::TemplateValue *WindowBound(const Declaration *decl, TimestampTz t, const char *source_value) {
    bulk_ingest::ValueKind kind = WatermarkKind(decl);
    bool time_watermark = kind == bulk_ingest::ValueKind::kTimestampTz || kind == bulk_ingest::ValueKind::kTimestamp ||
                          kind == bulk_ingest::ValueKind::kDate;
    bulk_ingest::ValueFormat declared =
        time_watermark ? (*decl->decls)[decl->watermark_column].value_format : bulk_ingest::ValueFormat::kNone;
    char *pg_text = DatumGetCString(DirectFunctionCall1(timestamptz_out, TimestampTzGetDatum(t)));
    int64 epoch_us = 0;
    bool finite = !TIMESTAMP_NOT_FINITE(t) && !pg_add_s64_overflow(t, kUnixToPostgresUs, &epoch_us);
    return NewInMemoryContext<bulk_ingest::TemplateValue>([&] {
        auto *value = new bulk_ingest::TemplateValue();
        value->present = true;
        value->kind = finite ? bulk_ingest::ValueKind::kTimestampTz : bulk_ingest::ValueKind::kOther;
        value->pg_text = pg_text;
        value->epoch_us = epoch_us;
        value->declared = declared;
        // Written as the source writes its watermark; a source without one gets ISO 8601 in UTC.
        value->source_sample = time_watermark && source_value != NULL ? source_value : "1970-01-01T00:00:00Z";
        return value;
    });
}
