#include "pg/load/watermark_value.h"

#include "core/host_allowlist.h"
#include "pg/http/allowlist.h"
#include "pg/catalog/catalog.h"
#include "pg/guard.h"
#include "pg/rights.h"
#include "pg/sql.h"

extern "C" {
#include "catalog/pg_type.h"
#include "common/int.h"
#include "datatype/timestamp.h"
#include "executor/executor.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/numeric.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"
}

using pg_bulk_ingest::CallCore;
using pg_bulk_ingest::NewInMemoryContext;

// Microseconds between 1970-01-01 (Unix) and 2000-01-01 (PostgreSQL's epoch).
static const int64 kUnixToPostgresUs = (int64)(POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * USECS_PER_DAY;

bulk_ingest::ValueKind WatermarkKind(const Declaration *decl) {
    if (decl->watermark_column < 0) {
        return bulk_ingest::ValueKind::kOther;
    }
    switch (getBaseType(decl->columns[decl->watermark_column].type_oid)) {
        case TIMESTAMPTZOID:
            return bulk_ingest::ValueKind::kTimestampTz;
        case TIMESTAMPOID:
            return bulk_ingest::ValueKind::kTimestamp;
        case DATEOID:
            return bulk_ingest::ValueKind::kDate;
        case INT2OID:
        case INT4OID:
        case INT8OID:
        case NUMERICOID:
        case FLOAT4OID:
        case FLOAT8OID:
            return bulk_ingest::ValueKind::kNumber;
        default:
            return bulk_ingest::ValueKind::kOther;
    }
}

// What PostgreSQL reads in a watermark text: its own text form, and the instant of a time kind.
typedef struct ParsedWatermark {
    bool parsed;
    char *pg_text;
    bool finite;
    int64 epoch_us;
} ParsedWatermark;

// value minus options.lag, in the column's type: an interval for times (calendar arithmetic in UTC, whatever the
// session's time zone), a number for numbers (integers rounded down: asking from earlier is safe, later is not).
static Datum MinusLag(const Declaration *decl, bulk_ingest::ValueKind kind, Datum value, const char *lag) {
    switch (kind) {
        case bulk_ingest::ValueKind::kTimestampTz:
        case bulk_ingest::ValueKind::kTimestamp:
        case bulk_ingest::ValueKind::kDate: {
            Datum interval =
                DirectFunctionCall3(interval_in, CStringGetDatum(lag), ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1));
            Datum ts = kind == bulk_ingest::ValueKind::kDate ? DirectFunctionCall1(date_timestamp, value) : value;
            Datum lagged = DirectFunctionCall2(timestamp_mi_interval, ts, interval);
            return kind == bulk_ingest::ValueKind::kDate ? DirectFunctionCall1(timestamp_date, lagged) : lagged;
        }
        case bulk_ingest::ValueKind::kNumber: {
            const DeclaredColumn *column = &decl->columns[decl->watermark_column];
            Oid base = getBaseType(column->type_oid);
            Oid output_fn;
            bool is_varlena;
            getTypeOutputInfo(column->type_oid, &output_fn, &is_varlena);
            Datum number = DirectFunctionCall3(numeric_in, CStringGetDatum(OidOutputFunctionCall(output_fn, value)),
                                               ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1));
            Datum amount =
                DirectFunctionCall3(numeric_in, CStringGetDatum(lag), ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1));
            Datum lagged = DirectFunctionCall2(numeric_sub, number, amount);
            if (base == INT2OID || base == INT4OID || base == INT8OID) {
                lagged = DirectFunctionCall1(numeric_floor, lagged);
            }
            Oid input_fn, input_param;
            getTypeInputInfo(column->type_oid, &input_fn, &input_param);
            return OidInputFunctionCall(input_fn, DatumGetCString(DirectFunctionCall1(numeric_out, lagged)),
                                        input_param, column->typmod);
        }
        default:
            return value;
    }
}

static void ParseWatermark(const Declaration *decl, bulk_ingest::ValueKind kind, const char *text, const char *lag,
                           ParsedWatermark *out) {
    const DeclaredColumn *column = &decl->columns[decl->watermark_column];
    Oid input_fn, input_param, output_fn;
    bool is_varlena;
    getTypeInputInfo(column->type_oid, &input_fn, &input_param);
    getTypeOutputInfo(column->type_oid, &output_fn, &is_varlena);
    // A domain's check constraints are user code.
    Datum value = (Datum)0;
    RunRestricted(GetUserId(), [&] {
        value = OidInputFunctionCall(input_fn, pstrdup(text), input_param, column->typmod);
        if (lag != NULL) {
            value = MinusLag(decl, kind, value, lag);
        }
    });
    out->parsed = true;
    out->pg_text = OidOutputFunctionCall(output_fn, value);
    out->finite = true;
    out->epoch_us = 0;
    if (kind == bulk_ingest::ValueKind::kTimestampTz || kind == bulk_ingest::ValueKind::kTimestamp) {
        Timestamp ts = DatumGetTimestamp(value);
        out->finite = !TIMESTAMP_NOT_FINITE(ts) && !pg_add_s64_overflow(ts, kUnixToPostgresUs, &out->epoch_us);
    } else if (kind == bulk_ingest::ValueKind::kDate) {
        DateADT date = DatumGetDateADT(value);
        out->finite = !DATE_NOT_FINITE(date);
        out->epoch_us = (int64)date * USECS_PER_DAY + kUnixToPostgresUs;
    }
}

bulk_ingest::TemplateValue *MakeWatermarkValue(const Declaration *decl, const char *text, const char *source_text,
                                               bool stored) {
    // The lag applies to the stored watermark (a value requested for a run is used as asked).
    const std::optional<std::string> &lag_option = decl->options->request.lag;
    const char *lag = stored && lag_option && decl->watermark_column >= 0 ? lag_option->c_str() : NULL;
    bulk_ingest::TemplateValue *value =
        NewInMemoryContext<bulk_ingest::TemplateValue>([] { return new bulk_ingest::TemplateValue(); });
    if (text == NULL) {
        return value;
    }
    bulk_ingest::ValueKind kind = WatermarkKind(decl);
    ParsedWatermark parsed;
    memset(&parsed, 0, sizeof(parsed));
    if (decl->watermark_column >= 0) {
        if (stored) {
            ParseWatermark(decl, kind, text, lag, &parsed);
        } else {
            // A value the caller asked for: used as written even when it does not read as the column's type.
            auto parse = [&] { ParseWatermark(decl, kind, text, NULL, &parsed); };
            if (InSubtransaction(parse, CatchesAnyError) != NULL) {
                parsed.parsed = false;
            }
        }
    }
    bulk_ingest::ValueFormat declared = decl->watermark_column >= 0
                                            ? (*decl->decls)[decl->watermark_column].value_format
                                            : bulk_ingest::ValueFormat::kNone;
    CallCore([&] {
        value->present = true;
        value->kind = parsed.parsed && parsed.finite                             ? kind
                      : parsed.parsed && kind == bulk_ingest::ValueKind::kNumber ? kind
                                                                                 : bulk_ingest::ValueKind::kOther;
        value->pg_text = parsed.parsed ? parsed.pg_text : text;
        value->epoch_us = parsed.epoch_us;
        value->declared = declared;
        if (!stored) {
            value->source_text = std::string(text);  // the caller's own form
        } else if (source_text != NULL && lag == NULL) {
            value->source_text = std::string(source_text);
        } else if (source_text != NULL) {
            value->source_sample = std::string(source_text);  // another value, written the same way
        }
    });
    return value;
}

// Checks the placeholders of one template; where names it in messages ("url", "options.headers \"X-Since\"").
static void CheckTemplate(const Declaration *decl, const std::string &text, bool json, const char *where) {
    const char *source = decl->row->source;
    char prefix[NAMEDATALEN * 2 + 128];
    snprintf(prefix, sizeof(prefix), "source \"%s\": %s: ", source, where);
    std::vector<bulk_ingest::Placeholder> *found = NewInMemoryContext<std::vector<bulk_ingest::Placeholder>>(
        [&] {
            return new std::vector<bulk_ingest::Placeholder>(json ? bulk_ingest::FindJsonPlaceholders(text)
                                                                  : bulk_ingest::FindPlaceholders(text));
        },
        prefix);
    bulk_ingest::ValueKind kind = WatermarkKind(decl);
    for (const bulk_ingest::Placeholder &placeholder : *found) {
        const char *shown = placeholder.text.c_str();
        if (placeholder.name != bulk_ingest::PlaceholderName::kHighWatermark) {
            if (!decl->options->request.window) {
                ereport(ERROR,
                        (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("%s%s needs options.window", prefix, shown),
                         errhint("Declare the windows a run asks for, e.g. options.window = {\"step\": \"1 day\", "
                                 "\"start\": \"2024-01-01T00:00:00Z\"}.")));
            }
            continue;  // a window's bound is a timestamp: every form applies
        }
        if (!bulk_ingest::FormAppliesTo(placeholder.form, kind)) {
            const char *type =
                decl->watermark_column >= 0 ? format_type_be(decl->columns[decl->watermark_column].type_oid) : NULL;
            ereport(ERROR,
                    (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                     type != NULL
                         ? errmsg("%s%s applies to a timestamp or date watermark; high_watermark_column \"%s\" is %s",
                                  prefix, shown, decl->row->high_watermark_column, type)
                         : errmsg("%s%s needs a high_watermark_column of a timestamp or date type", prefix, shown),
                     errhint("{high_watermark} sends the watermark in the source's own form, {high_watermark:pg} in "
                             "PostgreSQL's.")));
        }
    }
}

// The text of an interval option, read by PostgreSQL; raises an error naming the option unless it is positive
// (or, allow_zero, zero).
static Interval *IntervalOption(const Declaration *decl, const char *option, const char *text, bool allow_zero) {
    Interval *interval = NULL;
    auto parse = [&] {
        interval = DatumGetIntervalP(
            DirectFunctionCall3(interval_in, CStringGetDatum(text), ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1)));
    };
    ErrorData *error = InSubtransaction(parse, CatchesAnyError);
    Interval zero;
    memset(&zero, 0, sizeof(zero));
    int sign =
        error == NULL
            ? DatumGetInt32(DirectFunctionCall2(interval_cmp, IntervalPGetDatum(interval), IntervalPGetDatum(&zero)))
            : -1;
    if (error != NULL || sign < 0 || (sign == 0 && !allow_zero)) {
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("source \"%s\": options: %s must be a %s interval such as \"1 day\", not \"%s\"",
                               decl->row->source, option, allow_zero ? "non-negative" : "positive", text),
                        error != NULL ? errdetail("%s", error->message) : 0));
    }
    return interval;
}

void CheckRequestOptions(const Declaration *decl) {
    const bulk_ingest::RequestOptions &request = decl->options->request;
    const char *source = decl->row->source;
    CheckTemplate(decl, decl->row->url, false, "url");
    for (const auto &header : decl->options->headers) {
        char where[256];
        snprintf(where, sizeof(where), "options.headers \"%s\"", header.first.c_str());
        CheckTemplate(decl, header.second, false, where);
    }
    if (request.body) {
        CheckTemplate(decl, *request.body, true, "options.body");
    }
    if (!request.deleted_path.empty() && (decl->primary_key_columns == 0 || strcmp(decl->row->upsert, "off") == 0)) {
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("source \"%s\": options.deleted_path deletes rows by their primary key: it needs a "
                               "primary key and upsert => 'if_primary_key'",
                               source)));
    }
    if (request.oauth2) {
        // The token endpoint is a connection of the run like any other: its literal address must be allowed.
        char prefix[NAMEDATALEN + 64];
        snprintf(prefix, sizeof(prefix), "source \"%s\": options: \"auth\": \"token_url\": ", source);
        CallCore([&] { bulk_ingest::CheckUrlHostAllowed(request.oauth2->token_url, *CurrentAllowlist()); }, prefix);
    }
    bulk_ingest::ValueKind kind = WatermarkKind(decl);
    bool time = kind == bulk_ingest::ValueKind::kTimestampTz || kind == bulk_ingest::ValueKind::kTimestamp ||
                kind == bulk_ingest::ValueKind::kDate;
    if (request.lag) {
        if (decl->watermark_column < 0 && !request.window) {
            ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                            errmsg("source \"%s\": options.lag needs a high_watermark_column (or options.window): it "
                                   "is subtracted from the watermark a request asks from",
                                   source)));
        }
        if (decl->watermark_column >= 0 && !time && kind != bulk_ingest::ValueKind::kNumber) {
            ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                            errmsg("source \"%s\": options.lag applies to a timestamp or numeric watermark; "
                                   "high_watermark_column \"%s\" is %s",
                                   source, decl->row->high_watermark_column,
                                   format_type_be(decl->columns[decl->watermark_column].type_oid))));
        }
        if (kind == bulk_ingest::ValueKind::kNumber && !request.lag_is_number) {
            ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                            errmsg("source \"%s\": options.lag must be a number for the numeric watermark \"%s\", not "
                                   "\"%s\"",
                                   source, decl->row->high_watermark_column, request.lag->c_str())));
        }
        if (kind != bulk_ingest::ValueKind::kNumber) {
            if (request.lag_is_number) {
                ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                                errmsg("source \"%s\": options.lag must be an interval such as \"2 hours\" for a time "
                                       "watermark or window, not the number %s",
                                       source, request.lag->c_str())));
            }
            (void)IntervalOption(decl, "\"lag\"", request.lag->c_str(), true);
        }
    }
    if (request.window) {
        (void)IntervalOption(decl, "\"window\": \"step\"", request.window->step.c_str(), false);
        if (!request.window->start) {
            ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                            errmsg("source \"%s\": options.window needs \"start\", where the first window starts "
                                   "(a timestamp such as \"2024-01-01T00:00:00Z\")",
                                   source)));
        }
        const char *start = request.window->start->c_str();
        auto parse = [&] {
            (void)DirectFunctionCall3(timestamptz_in, CStringGetDatum(start), ObjectIdGetDatum(InvalidOid),
                                      Int32GetDatum(-1));
        };
        ErrorData *error = InSubtransaction(parse, CatchesAnyError);
        if (error != NULL) {
            ereport(ERROR,
                    (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                     errmsg("source \"%s\": options.window: \"start\" must be a timestamp, not \"%s\"", source, start),
                     errdetail("%s", error->message)));
        }
    }
}

void LoadWatermarkExtras(const char *source, char **source_value, char **resume) {
    MemoryContext caller_cxt = CurrentMemoryContext;
    *source_value = NULL;
    *resume = NULL;
    SPI_connect();
    ExecuteAsCatalogOwner("SELECT source_value, resume::text FROM bulk_ingest.watermarks WHERE source = $1", 1, &source,
                          true, 1);
    if (SPI_processed == 1) {
        *source_value = ResultText(0, 1, caller_cxt);
        *resume = ResultText(0, 2, caller_cxt);
    }
    SPI_finish();
}

void StoreWatermarkSourceValue(const char *source, const char *source_value) {
    const char *args[] = {source, source_value};
    SPI_connect();
    ExecuteAsCatalogOwner("UPDATE bulk_ingest.watermarks SET source_value = $2 WHERE source = $1", 2, args, false, 0);
    SPI_finish();
}

void StoreResumeState(const char *source, const char *resume_json) {
    const char *args[] = {source, resume_json};
    SPI_connect();
    // A source without a watermark column has no row yet: the row keeps where to continue.
    ExecuteAsCatalogOwner(
        "INSERT INTO bulk_ingest.watermarks AS w (source, value, resume) VALUES ($1, NULL, $2::jsonb)"
        " ON CONFLICT (source) DO UPDATE SET resume = excluded.resume",
        2, args, false, 0);
    SPI_finish();
}

void RecordNextPage(int64 run_id, const char *next_page) {
    char id_text[32];
    snprintf(id_text, sizeof(id_text), INT64_FORMAT, run_id);
    const char *args[] = {id_text, next_page};
    SPI_connect();
    ExecuteAsCatalogOwner("UPDATE bulk_ingest.runs SET next_page = $2 WHERE id = $1::bigint", 2, args, false, 0);
    SPI_finish();
}

void NoticeIfStoppedAtMaxPages(Datum run_row) {
    HeapTupleHeader tuple = DatumGetHeapTupleHeader(run_row);
    bool isnull;
    Datum next_page = GetAttributeByName(tuple, "next_page", &isnull);
    if (isnull) {
        return;
    }
    Datum source = GetAttributeByName(tuple, "source", &isnull);
    Datum id = GetAttributeByName(tuple, "id", &isnull);
    ereport(NOTICE, (errmsg("run " INT64_FORMAT " of source \"%s\" stopped at options.max_pages before %s; the "
                            "next run continues where it stopped",
                            DatumGetInt64(id), TextDatumGetCString(source), TextDatumGetCString(next_page))));
}
