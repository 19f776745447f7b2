// options.window: a run asks for one window of time after another ({window_start}, {window_end}), from where the
// last window ended up to the time the run started, and commits where it is after each window, so that a long
// backfill resumes with the window it had not finished.
#pragma once

#include "pg/pg_prelude.h"

#include "core/watermark_format.h"
#include "pg/catalog/declaration.h"

extern "C" {
#include "datatype/timestamp.h"
}

typedef struct WindowCursor {
    TimestampTz start;  // the current window: [start, end)
    TimestampTz end;
    TimestampTz stop;  // the run's start: no window ends later
    Interval *step;
} WindowCursor;

// The first window of a run: from position (a timestamptz's text where the last window ended, NULL when none), else
// options.window.start; minus options.lag (late records) when apply_lag. Returns false when it starts at or after the
// stop (the run started too soon after the last one to have a window to ask for).
bool FirstWindow(const Declaration *decl, const char *position, bool apply_lag, TimestampTz stop, WindowCursor *window);

// Moves to the window after the current one; false when there is none before the stop.
bool NextWindow(WindowCursor *window);

// The text of t for the catalog (resume points): ISO 8601 in UTC to the microsecond, which PostgreSQL reads back
// the same whatever the session's DateStyle and TimeZone.
char *TimestampTzText(TimestampTz t);

// The value of {window_start} or {window_end} for the bound t, in the current memory context: a timestamptz, written
// by default the way the source writes its watermark (source_value, its declared epoch format) or else in ISO 8601.
bulk_ingest::TemplateValue *WindowBound(const Declaration *decl, TimestampTz t, const char *source_value);
