// bulk_ingest_reset(source, high_watermark DEFAULT NULL): sets or clears the stored watermark of a source, and where
// its runs stopped (a kept page, the next window), for a backfill; recorded in bulk_ingest.runs as a run with the
// trigger 'reset'.
#include "pg/pg_prelude.h"

#include "pg/catalog/catalog.h"
#include "pg/catalog/declaration.h"
#include "pg/guard.h"
#include "pg/rights.h"
#include "pg/sql.h"
#include "pg/load/watermark_value.h"

extern "C" {
#include "executor/spi.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
}

// PostgreSQL's text of value as the watermark column's type; raises an error naming the source and the type.
static char *WatermarkInColumnType(const Declaration *decl, const char *value) {
    const DeclaredColumn *column = &decl->columns[decl->watermark_column];
    Oid input_fn, input_param, output_fn;
    bool is_varlena;
    getTypeInputInfo(column->type_oid, &input_fn, &input_param);
    getTypeOutputInfo(column->type_oid, &output_fn, &is_varlena);
    char *text = NULL;
    auto parse = [&] {
        // A domain's check constraints are user code.
        RunRestricted(GetUserId(), [&] {
            text = OidOutputFunctionCall(output_fn,
                                         OidInputFunctionCall(input_fn, pstrdup(value), input_param, column->typmod));
        });
    };
    ErrorData *error = InSubtransaction(parse, CatchesAnyError);
    if (error != NULL) {
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("source \"%s\": the watermark \"%s\" is not a value of high_watermark_column \"%s\" "
                               "(%s)",
                               decl->row->source, value, column->name, format_type_be(column->type_oid)),
                        errdetail("%s", error->message)));
    }
    return text;
}

BULK_INGEST_FUNCTION(bulk_ingest_reset) {
    if (PG_ARGISNULL(0)) {
        ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("bulk_ingest_reset: source must not be NULL")));
    }
    char *source = text_to_cstring(PG_GETARG_TEXT_PP(0));
    char *value = PG_ARGISNULL(1) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(1));
    SourceRow *row = LoadSource(source, false);
    CheckSourceOwnership(row, "reset");

    int nest_level = PinSearchPath();
    Declaration *decl = ResolveDeclaration(row);
    char *stored = NULL;
    if (value != NULL) {
        if (decl->watermark_column >= 0) {
            stored = WatermarkInColumnType(decl, value);
        } else if (!decl->options->high_watermark_header.empty()) {
            stored = value;  // an ETag or a date, sent back as it is
        } else {
            ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                            errmsg("source \"%s\" has no watermark to set (no high_watermark_column, no "
                                   "options.high_watermark_path)",
                                   row->source),
                            errhint("bulk_ingest_reset(source) without a value clears where its runs stopped.")));
        }
    }
    UnpinSearchPath(nest_level);

    TupleDesc tupdesc;
    Oid result_type;
    if (get_call_result_type(fcinfo, &result_type, &tupdesc) != TYPEFUNC_COMPOSITE) {
        elog(ERROR, "bulk_ingest_reset must return a composite type");
    }
    // Recorded as a run: the same arbiter refuses it while a run of the source is queued or in progress, whose
    // batches would store their own watermark after it.
    int64 run_id = InsertRun(row->source, "running", "reset", value != NULL ? value : "__EARLIEST__");
    if (run_id == 0) {
        ereport(ERROR, (errcode(ERRCODE_LOCK_NOT_AVAILABLE),
                        errmsg("source \"%s\" is running or has a queued run (run " INT64_FORMAT "): it is not reset",
                               row->source, ActiveRunOf(row->source)),
                        errhint("Wait for the run to end, or cancel it with bulk_ingest_cancel().")));
    }
    SetRunStartWatermark(run_id, row->watermark);
    if (stored != NULL) {
        StoreWatermark(row->source, stored);
        // {high_watermark} sends it as written, like a watermark requested for one run (a header's value is its
        // own form).
        StoreWatermarkSourceValue(row->source, decl->watermark_column >= 0 ? value : NULL);
        StoreResumeState(row->source, NULL);
    } else {
        const char *args[] = {row->source};
        SPI_connect();
        ExecuteAsCatalogOwner("DELETE FROM bulk_ingest.watermarks WHERE source = $1", 1, args, false, 0);
        SPI_finish();
    }
    FinishRun(run_id, "succeeded", NULL, NULL);
    char *run_row = RunRowText(run_id);
    PG_RETURN_DATUM(OidInputFunctionCall(F_RECORD_IN, run_row, result_type, -1));
}
