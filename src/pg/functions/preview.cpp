// bulk_ingest_preview(): a dry run of a source. It checks what a run would check before its first request (the
// declaration, the target, the owner's privileges), decides what the run's first batch would do to the target
// (create it, load in place, or rebuild it, and why), fetches the first page and converts its first n records
// exactly as a run would (the declared types' input functions, through COPY) into the temporary table
// pg_temp.bulk_ingest_preview, which has the target's declared shape. The target, the watermark and the run history
// are left alone.
//
// It executes in the caller's session, as the caller, with search_path pinned (rights.h); the target and the
// privileges are judged as the source's owner, whom a run executes as; its request is built by the same functions
// as a run's (http_request.h).
#include "pg/pg_prelude.h"

#include <string>

#include "core/charset.h"
#include "core/error.h"
#include "core/formats.h"
#include "core/http_stream.h"
#include "core/paginator.h"
#include "core/secrets.h"
#include "core/url.h"
#include "pg/catalog/catalog.h"
#include "pg/catalog/declaration.h"
#include "pg/guard.h"
#include "pg/http/http_request.h"
#include "pg/load/watermark_value.h"
#include "pg/http/oauth2.h"
#include "pg/load/loader.h"
#include "pg/rebuild/rebuild.h"
#include "pg/rights.h"
#include "pg/load/shape.h"
#include "pg/settings.h"
#include "pg/sql.h"
#include "pg/load/target.h"

extern "C" {
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/namespace.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "nodes/makefuncs.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
}

using pg_bulk_ingest::CallCore;
using pg_bulk_ingest::CallCoreForText;
using pg_bulk_ingest::NewInMemoryContext;

static const char *const kPreviewTable = "bulk_ingest_preview";

typedef struct PreviewPlan {
    const char *action;  // "create", "load in place", "rebuild"; "unchanged" once the first page answered 304
    const char *reason;  // why (NULL for a load in place)
    bool in_place;
} PreviewPlan;

// What the run's first batch would do to the target, decided as the run decides it, and raising the errors the run
// would raise before its first request. Called as the source's owner.
static PreviewPlan PlanTarget(const Declaration *decl) {
    PreviewPlan plan = {"load in place", NULL, true};
    RangeVar *target = makeRangeVarFromNameList(decl->target_names);
    Oid relid = RangeVarGetRelid(target, AccessShareLock, true);
    if (!OidIsValid(relid)) {
        CheckCanCreateTarget(decl, RangeVarGetCreationNamespace(target));
        plan.action = "create";
        plan.reason = psprintf(
            "table %s does not exist: the run creates it with the declared shape, and loads its "
            "first batch into it before building its indexes",
            QuotedTargetName(decl));
        plan.in_place = false;
        return plan;
    }
    TargetState state = InspectTarget(decl);  // it exists: nothing is created
    CheckLoadPrivileges(decl, state.relid);
    RebuildPlan rebuild;
    PlanRebuild(decl, &state, true, false, &rebuild);
    if (rebuild.reason != NULL) {
        plan.action = "rebuild";
        plan.reason = rebuild.reason;
        plan.in_place = false;
    } else {
        Relation rel = table_open(state.relid, AccessShareLock);
        CheckCanLoad(decl, rel, DeclarationUpserts(decl));  // row-level security, as the load would check it
        table_close(rel, NoLock);
    }
    return plan;
}

// The temporary table the records are converted into: the declared columns, types and NOT NULL, in the caller's
// session (no primary key: the records are shown as they come, a run merges duplicates of a key).
static Oid CreatePreviewTable(const Declaration *decl) {
    StringInfoData sql;
    initStringInfo(&sql);
    appendStringInfo(&sql, "CREATE TEMPORARY TABLE %s (", kPreviewTable);
    for (int i = 0; i < decl->ncolumns; i++) {
        const DeclaredColumn *column = &decl->columns[i];
        appendStringInfo(&sql, "%s%s %s%s", i > 0 ? ", " : "", quote_identifier(column->name),
                         format_type_with_typemod(column->type_oid, column->typmod),
                         column->nullable ? "" : " NOT NULL");
    }
    appendStringInfoChar(&sql, ')');
    RangeVar *name = makeRangeVar((char *)"pg_temp", (char *)kPreviewTable, -1);
    SPI_connect();
    if (OidIsValid(RangeVarGetRelid(name, NoLock, true))) {
        ExecuteSqlCreatingTemp("dropping the previous preview", psprintf("DROP TABLE pg_temp.%s", kPreviewTable));
    }
    ExecuteSqlCreatingTemp("creating the preview table", sql.data);
    SPI_finish();
    CommandCounterIncrement();
    return RangeVarGetRelid(name, NoLock, false);
}

static void AddSecret(void *arg, const char *name, const char *value) {
    CallCore([&] { (*static_cast<bulk_ingest::SecretMap *>(arg))[name] = value; });
}

// Loads the first n records of the first page into the preview table; *rows gets how many, *unchanged whether the
// page answered 304 Not Modified to the conditional request a run would send. Returns the first page's URL as it
// may be shown (secrets redacted).
static char *FetchFirstPage(const SourceRow *row, const Declaration *decl, int n, Oid preview, int64 *rows,
                            bool *unchanged, WatermarkState *watermark, char **header_watermark) {
    MemoryContext caller_cxt = CurrentMemoryContext;
    const bulk_ingest::SourceOptions *options = decl->options;
    bulk_ingest::SecretMap *secrets =
        NewInMemoryContext<bulk_ingest::SecretMap>([] { return new bulk_ingest::SecretMap(); });
    LoadSecrets(row->source, AddSecret, secrets);
    const char *prefix = psprintf("source \"%s\": preview: ", row->source);
    // The first request as a run's first would be: the stored watermark in its source form, the OAuth 2 token,
    // the headers, the body with the pagination's parameters.
    const char *stored = row->watermark;
    char *source_value, *resume;
    LoadWatermarkExtras(row->source, &source_value, &resume);
    bulk_ingest::TemplateValue *high_watermark = MakeWatermarkValue(decl, stored, source_value, true);
    char *bearer_token = NULL;
    if (options->request.oauth2) {
        bearer_token = SourceBearerToken(decl, secrets, false, ShouldAbortTransfer);
        const char *token = bearer_token;
        CallCore([&] { (*secrets)[BULK_INGEST_TOKEN_SECRET] = token; });
    }
    bulk_ingest::TemplateValues values;
    values.high_watermark = high_watermark;
    values.secrets = secrets;
    SourceHeaders *headers = NewInMemoryContext<SourceHeaders>(
        [&] { return new SourceHeaders(SourceRequestHeaders(*options, values, bearer_token)); }, prefix);
    bulk_ingest::Paginator *paginator = NewInMemoryContext<bulk_ingest::Paginator>(
        [&] {
            return new bulk_ingest::Paginator(
                options->pagination, bulk_ingest::ExpandTemplate(row->url, values, bulk_ingest::TemplateEncoding::kUrl),
                options->max_pages);
        },
        prefix);
    char *url = CallCoreForText(
        caller_cxt, [&] { return paginator->FirstUrl(); }, prefix);
    char *request_body = !options->request.body ? NULL : CallCoreForText(caller_cxt, [&] {
        std::string text = bulk_ingest::ExpandJsonTemplate(*options->request.body, values);
        for (const bulk_ingest::BodyParameter &parameter : paginator->BodyParameters()) {
            text = bulk_ingest::SetBodyParameter(text, parameter.name, parameter.value, parameter.number);
        }
        return text;
    });
    bool body_sensitive = false;
    if (request_body != NULL) {
        CallCore([&] { body_sensitive = !bulk_ingest::SecretReferences(*options->request.body).empty(); });
    }
    char *shown = CallCoreForText(caller_cxt, [&] { return bulk_ingest::RedactSecrets(url, *secrets); });
    const char *conditional = NULL;
    if (!options->high_watermark_header.empty() && stored != NULL) {
        conditional = psprintf(
            "%s: %s", options->high_watermark_header == "ETag" ? "If-None-Match" : "If-Modified-Since", stored);
    }
    bulk_ingest::HttpStream *stream = NewInMemoryContext<bulk_ingest::HttpStream>(
        [&] {
            bulk_ingest::HttpOptions http =
                SourceHttpOptions(*options, &headers->plain, &headers->sensitive, conditional);
            if (request_body != NULL) {
                http.post_body = request_body;
                http.post_body_sensitive = body_sensitive;
            }
            return new bulk_ingest::HttpStream(url, http);
        },
        prefix);
    *unchanged = false;
    CallCore(
        [&] {
            try {
                stream->Start();
            } catch (const bulk_ingest::HttpError &e) {
                if (conditional != NULL && e.status() == 304) {
                    *unchanged = true;
                    return;
                }
                throw bulk_ingest::Error(bulk_ingest::RedactSecrets(e.what(), *secrets));
            }
        },
        prefix);
    *rows = 0;
    if (*unchanged) {
        return shown;
    }
    const std::string &watermark_header = options->high_watermark_header;
    if (!watermark_header.empty()) {
        *header_watermark = CallCoreForText(caller_cxt, [&]() -> std::optional<std::string> {
            auto value = stream->Header(watermark_header);
            return value && !value->empty() ? value : std::nullopt;
        });
    }
    // A body declared in another charset is converted to UTF-8 as it streams, as in a run.
    bulk_ingest::ByteSource *body = stream;
    char *charset = CallCoreForText(caller_cxt, [&]() -> std::optional<std::string> {
        auto content_type = stream->Header("Content-Type");
        auto declared = content_type ? bulk_ingest::CharsetFromContentType(*content_type) : std::nullopt;
        return declared && !bulk_ingest::IsUtf8Charset(*declared) ? declared : std::nullopt;
    });
    if (charset != NULL) {
        body = NewInMemoryContext<bulk_ingest::TranscodingSource>(
            [&] { return new bulk_ingest::TranscodingSource(*stream, charset); }, prefix);
    }
    BatchSource source;
    memset(&source, 0, sizeof(source));
    source.decl = decl;
    source.reader = NewInMemoryContext<bulk_ingest::RecordReader>(
        [&] {
            return bulk_ingest::MakeRecordReader(row->format, *body, DeclaredColumnSpecs(decl), *options,
                                                 (size_t)bulk_ingest_max_record_size * 1024)
                .release();
        },
        prefix);
    source.row_buffer = NewInMemoryContext<bulk_ingest::GrowBuffer>([] { return new bulk_ingest::GrowBuffer(); });
    // A preview shows records as a run would load them; with on_error = 'skip' it fails on the first bad one (its
    // rejects have no run to belong to).
    source.reject_cxt =
        AllocSetContextCreate(CurrentMemoryContext, "bulk_ingest preview rejects", ALLOCSET_SMALL_SIZES);
    source.max_rows = n;
    source.merge = false;
    source.watermark = watermark;

    // Errors name the page, the line and the column, as a run's do.
    PG_TRY();
    { *rows = LoadBatch(&source, preview); }
    PG_CATCH();
    {
        MemoryContextSwitchTo(caller_cxt);
        ErrorData *edata = CopyErrorData();
        FlushErrorState();
        if (edata->sqlerrcode == ERRCODE_QUERY_CANCELED) {
            ReThrowError(edata);
        }
        StringInfoData message;
        initStringInfo(&message);
        appendStringInfo(&message, "%s%s: ", prefix, shown);
        const char *unit = bulk_ingest::PositionUnit(row->format);
        if (source.error_line > 0 && strncmp(edata->message, unit, strlen(unit)) != 0) {
            appendStringInfo(&message, "%s " UINT64_FORMAT, unit, source.error_line);
            if (source.error_column != NULL) {
                appendStringInfo(&message, ", column \"%s\"", source.error_column);
            }
            appendStringInfoString(&message, ": ");
        }
        appendStringInfoString(&message, edata->message);
        edata->message =
            CallCoreForText(caller_cxt, [&] { return bulk_ingest::RedactSecrets(message.data, *secrets); });
        edata->detail =
            edata->detail
                ? CallCoreForText(caller_cxt, [&] { return bulk_ingest::RedactSecrets(edata->detail, *secrets); })
                : NULL;
        edata->context = NULL;
        ReThrowError(edata);
    }
    PG_END_TRY();
    return shown;
}

BULK_INGEST_FUNCTION(bulk_ingest_preview) {
    if (PG_ARGISNULL(0) || PG_ARGISNULL(1)) {
        ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
                        errmsg("bulk_ingest_preview: source and n must not be NULL")));
    }
    char *source = text_to_cstring(PG_GETARG_TEXT_PP(0));
    int32 n = PG_GETARG_INT32(1);
    if (n < 0) {
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("bulk_ingest_preview: n must be 0 or more, not %d", n),
                        errhint("n = 0 checks the source and its target without a request.")));
    }
    TupleDesc tupdesc;
    if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE) {
        elog(ERROR, "bulk_ingest_preview must return a composite type");
    }
    SourceRow *row = LoadSource(source, false);
    CheckSourceOwnership(row, "preview");
    CheckOwnerCanConnect(row);

    MemoryContext preview_cxt =
        AllocSetContextCreate(CurrentMemoryContext, "bulk_ingest preview", ALLOCSET_DEFAULT_SIZES);
    MemoryContext caller_cxt = MemoryContextSwitchTo(preview_cxt);
    int nest_level = PinSearchPath();
    Declaration *decl = ResolveDeclaration(row);
    // The declared shape is built on a scratch temporary table, which the owner's restricted region below may not
    // create: as in a registration, it is built first (and kept with the declaration).
    char *partition_key;
    (void)DeclaredShape(decl, &partition_key);
    PreviewPlan plan;
    RunRestricted(row->owner, [&] { plan = PlanTarget(decl); });
    WatermarkState watermark;
    char *high_watermark = NULL;
    int64 rows = 0;
    char *url = NULL;
    Oid preview = InvalidOid;
    bool unchanged = false;
    // The records are converted as a run converts them, as the owner (a domain's checks are user code, and a
    // superuser's preview must not run the owner's code with its own rights); the preview table is the owner's.
    RunAs(row->owner, [&] {
        InitWatermark(&watermark, decl, row->watermark);
        if (n > 0) {
            preview = CreatePreviewTable(decl);
            url = FetchFirstPage(row, decl, n, preview, &rows, &unchanged, &watermark, &high_watermark);
        }
    });
    if (n > 0) {
        if (unchanged) {
            plan.action = "unchanged";
            plan.reason = psprintf(
                "the first page answered 304 Not Modified to the stored %s: a run ends "
                "unchanged, without a batch",
                decl->options->high_watermark_header.c_str());
        }
    }
    // The watermark a run would store after these records: the greatest value so far, or the version the first
    // page names (stored when the run succeeds).
    if (decl->watermark_column >= 0) {
        high_watermark = WatermarkText(&watermark);
    } else if (high_watermark == NULL) {
        high_watermark = row->watermark;
    }
    UnpinSearchPath(nest_level);

    MemoryContextSwitchTo(caller_cxt);
    Datum values[6];
    bool nulls[6] = {false};
    values[0] = CStringGetTextDatum(plan.action);
    nulls[1] = plan.reason == NULL;
    values[1] = nulls[1] ? (Datum)0 : CStringGetTextDatum(plan.reason);
    nulls[2] = url == NULL;
    values[2] = nulls[2] ? (Datum)0 : CStringGetTextDatum(url);
    values[3] = Int64GetDatum(rows);
    nulls[4] = high_watermark == NULL;
    values[4] = nulls[4] ? (Datum)0 : CStringGetTextDatum(high_watermark);
    nulls[5] = !OidIsValid(preview);
    values[5] = ObjectIdGetDatum(preview);
    HeapTuple tuple = heap_form_tuple(tupdesc, values, nulls);
    MemoryContextDelete(preview_cxt);  // ends the transfer
    PG_RETURN_DATUM(HeapTupleGetDatum(tuple));
}
