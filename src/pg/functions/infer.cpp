// bulk_ingest_infer_columns(url, format, options): reads a bounded sample of the first page of a URL and proposes a
// "columns" declaration for it (src/core/column_inference.h decides; this file fetches).
//
// It executes in the caller's session, as the caller, with search_path pinned (rights.h), and its request is built
// by the same functions as a run's (http_request.h): a URL and options that registration would refuse are refused
// here, the superuser limits on requests apply. There is no source, so there are no secrets: a {secret:name}
// reference is refused.
#include "pg/pg_prelude.h"

#include <memory>
#include <string>

#include "core/charset.h"
#include "core/column_inference.h"
#include "core/declaration.h"
#include "core/error.h"
#include "core/formats.h"
#include "core/host_allowlist.h"
#include "core/http_stream.h"
#include "core/paginator.h"
#include "core/secrets.h"
#include "core/url.h"
#include "pg/http/allowlist.h"
#include "pg/catalog/catalog_version.h"
#include "pg/guard.h"
#include "pg/http/http_request.h"
#include "pg/rights.h"

extern "C" {
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
}

using pg_bulk_ingest::CallCore;
using pg_bulk_ingest::CallCoreForText;
using pg_bulk_ingest::NewInMemoryContext;

static const char *const kPrefix = "bulk_ingest_infer_columns: ";

static char *RequiredArgument(FunctionCallInfo fcinfo, int argno, const char *name) {
    if (PG_ARGISNULL(argno)) {
        ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
                        errmsg("bulk_ingest_infer_columns: %s must not be NULL", name)));
    }
    return TextDatumGetCString(PG_GETARG_DATUM(argno));
}

// Secrets belong to sources: there is none here.
static void RefuseSecrets(const std::string &where, const std::string &text) {
    std::vector<std::string> names = bulk_ingest::SecretReferences(text);
    if (!names.empty()) {
        throw bulk_ingest::Error(where + " references {secret:" + names[0] +
                                 "}, but there are no secrets without a source: register the source, set its "
                                 "secrets and call bulk_ingest_preview(), or infer the columns from a URL that needs "
                                 "none");
    }
}

BULK_INGEST_FUNCTION(bulk_ingest_infer_columns) {
    char *url = RequiredArgument(fcinfo, 0, "url");
    char *format = RequiredArgument(fcinfo, 1, "format");
    if (PG_ARGISNULL(2)) {
        ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
                        errmsg("bulk_ingest_infer_columns: options must not be NULL")));
    }
    Jsonb *options_jsonb = PG_GETARG_JSONB_P(2);
    char *options_text = JsonbToCString(NULL, &options_jsonb->root, VARSIZE(options_jsonb));
    CheckCatalogVersion();

    MemoryContext caller_cxt = CurrentMemoryContext;
    MemoryContext infer_cxt = AllocSetContextCreate(caller_cxt, "bulk_ingest infer_columns", ALLOCSET_DEFAULT_SIZES);
    MemoryContextSwitchTo(infer_cxt);
    int nest_level = PinSearchPath();

    // What registration checks of a URL, a format and options, checked the same way.
    bulk_ingest::SourceOptions *options = NewInMemoryContext<bulk_ingest::SourceOptions>(
        [&] {
            bulk_ingest::ValidateSourceUrl(url);
            bulk_ingest::CheckUrlHostAllowed(url, *CurrentAllowlist());
            bulk_ingest::CheckOneOf("format", format, bulk_ingest::kFormats);
            auto *parsed = new bulk_ingest::SourceOptions(bulk_ingest::ParseSourceOptions(options_text));
            std::unique_ptr<bulk_ingest::SourceOptions> owned(parsed);
            bulk_ingest::ValidateRecordFormat(format, {}, *parsed);
            RefuseSecrets("the URL", url);
            for (const auto &[name, value] : parsed->headers) {
                RefuseSecrets("options.headers \"" + name + "\"", value);
            }
            if (parsed->basic_auth) {
                RefuseSecrets("options.basic_auth", parsed->basic_auth->first + parsed->basic_auth->second);
            }
            return owned.release();
        },
        kPrefix);
    bulk_ingest::SecretMap no_secrets;
    bulk_ingest::TemplateValues values;  // an empty {high_watermark}, as a source's first run sends it
    values.secrets = &no_secrets;
    SourceHeaders *headers = NewInMemoryContext<SourceHeaders>(
        [&] { return new SourceHeaders(SourceRequestHeaders(*options, values, NULL)); }, kPrefix);
    // The first page, as a source's first run would request it (an empty {high_watermark}).
    char *first_url = CallCoreForText(
        infer_cxt,
        [&] {
            return bulk_ingest::Paginator(options->pagination, bulk_ingest::ExpandUrlTemplate(url, ""),
                                          options->max_pages)
                .FirstUrl();
        },
        kPrefix);
    bulk_ingest::HttpStream *stream = NewInMemoryContext<bulk_ingest::HttpStream>(
        [&] {
            return new bulk_ingest::HttpStream(first_url,
                                               SourceHttpOptions(*options, &headers->plain, &headers->sensitive, NULL));
        },
        kPrefix);
    CallCore([&] { stream->Start(); }, kPrefix);
    bulk_ingest::ByteSource *body = stream;
    char *charset = CallCoreForText(infer_cxt, [&]() -> std::optional<std::string> {
        auto content_type = stream->Header("Content-Type");
        auto declared = content_type ? bulk_ingest::CharsetFromContentType(*content_type) : std::nullopt;
        return declared && !bulk_ingest::IsUtf8Charset(*declared) ? declared : std::nullopt;
    });
    if (charset != NULL) {
        body = NewInMemoryContext<bulk_ingest::TranscodingSource>(
            [&] { return new bulk_ingest::TranscodingSource(*stream, charset); }, kPrefix);
    }
    // The bounded sample: the start of the body; the rest of the transfer is abandoned.
    std::string *sample = NewInMemoryContext<std::string>([] { return new std::string(); });
    bool truncated = false;
    CallCore(
        [&] {
            char buffer[64 * 1024];
            while (sample->size() < bulk_ingest::kInferenceSampleBytes) {
                size_t n =
                    body->Read(buffer, std::min(sizeof(buffer), bulk_ingest::kInferenceSampleBytes - sample->size()));
                if (n == 0) {
                    return;
                }
                sample->append(buffer, n);
            }
            truncated = body->Read(buffer, 1) > 0;
        },
        kPrefix);
    char *proposal = CallCoreForText(
        caller_cxt, [&] { return bulk_ingest::InferColumns(format, *sample, truncated, *options); },
        psprintf("%s%s: ", kPrefix, first_url));
    UnpinSearchPath(nest_level);
    MemoryContextSwitchTo(caller_cxt);
    MemoryContextDelete(infer_cxt);  // ends the transfer
    PG_RETURN_DATUM(DirectFunctionCall1(jsonb_in, CStringGetDatum(proposal)));
}
