// bulk_ingest_register() and bulk_ingest_unregister(): declaring sources.
#include "pg/pg_prelude.h"

#include "pg/catalog/catalog.h"
#include "pg/catalog/catalog_version.h"
#include "pg/functions/cron.h"
#include "pg/catalog/declaration.h"
#include "pg/load/shape.h"
#include "pg/guard.h"
#include "pg/rights.h"
#include "pg/worker/shared_state.h"

extern "C" {
#include "catalog/namespace.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/regproc.h"
}

static char *RequiredText(FunctionCallInfo fcinfo, int argno, const char *name) {
    if (PG_ARGISNULL(argno)) {
        ereport(ERROR,
                (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("bulk_ingest_register: %s must not be NULL", name)));
    }
    return text_to_cstring(PG_GETARG_TEXT_PP(argno));
}

static char *RequiredJson(FunctionCallInfo fcinfo, int argno, const char *name) {
    if (PG_ARGISNULL(argno)) {
        ereport(ERROR,
                (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("bulk_ingest_register: %s must not be NULL", name)));
    }
    Jsonb *jsonb = PG_GETARG_JSONB_P(argno);
    return JsonbToCString(NULL, &jsonb->root, VARSIZE(jsonb));
}

// The target's name with its schema. A name without one is resolved now, with the caller's search_path, as CREATE
// TABLE or INSERT would resolve it (the table it names, else the schema a new table would go to); runs resolve nothing
// through a search_path (rights.h), so the stored name must be complete.
static char *QualifiedTarget(const char *source, const char *target) {
    List *names = stringToQualifiedNameList(target);
    if (list_length(names) == 2 && !OidIsValid(LookupNamespaceNoError(strVal(linitial(names))))) {
        // A run creates the table, never its schema (which needs privileges and a decision of its own): a
        // declaration whose schema is missing could not run.
        const char *schema = strVal(linitial(names));
        ereport(ERROR, (errcode(ERRCODE_INVALID_SCHEMA_NAME),
                        errmsg("source \"%s\": target \"%s\": schema \"%s\" does not exist", source, target, schema),
                        errhint("Create it first (CREATE SCHEMA %s): a run creates the target table, not its schema.",
                                quote_identifier(schema))));
    }
    if (list_length(names) != 1) {
        return pstrdup(target);  // qualified (or invalid: ResolveDeclaration says so)
    }
    RangeVar *relation = makeRangeVarFromNameList(names);
    Oid relid = RangeVarGetRelid(relation, NoLock, true);
    Oid namespace_oid = OidIsValid(relid) ? get_rel_namespace(relid) : RangeVarGetCreationNamespace(relation);
    if (isAnyTempNamespace(namespace_oid)) {
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("source \"%s\": target \"%s\" is a temporary table", source, target),
                        errdetail("A run loads in a session of its own, which cannot see this session's tables.")));
    }
    return quote_qualified_identifier(get_namespace_name(namespace_oid), relation->relname);
}

BULK_INGEST_FUNCTION(bulk_ingest_register) {
    CheckCatalogVersion();
    SourceRow *row = (SourceRow *)palloc0(sizeof(SourceRow));
    row->source = RequiredText(fcinfo, 0, "source");
    row->url = RequiredText(fcinfo, 1, "url");
    row->target = RequiredText(fcinfo, 2, "target");
    row->columns = RequiredJson(fcinfo, 3, "columns");
    row->format = RequiredText(fcinfo, 4, "format");
    row->high_watermark_column = PG_ARGISNULL(5) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(5));
    row->upsert = RequiredText(fcinfo, 6, "upsert");
    row->delete_mode = RequiredText(fcinfo, 7, "delete");
    row->options = RequiredJson(fcinfo, 8, "options");
    row->owner = GetUserId();
    row->target = QualifiedTarget(row->source, row->target);

    // Everything is checked now, so that a declaration that was accepted can run: with the search_path of a run, so
    // that types and functions resolve as they will then.
    int nest_level = PinSearchPath();
    Declaration *decl = ResolveDeclaration(row);
    char *partition_key;
    (void)DeclaredShape(decl, &partition_key);  // index and partitioning SQL, built on a scratch table
    UnpinSearchPath(nest_level);

    SourceRow *existing = LoadSource(row->source, true);
    if (existing != NULL) {
        CheckSourceOwnership(existing, "re-declare");
    }

    TupleDesc tupdesc;
    if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE) {
        elog(ERROR, "bulk_ingest_register must return a composite type");
    }
    const char *args[] = {
        row->source, row->url,         row->target,  row->columns, row->format,   row->high_watermark_column,
        row->upsert, row->delete_mode, row->options, NULL,         decl->schedule};
    char owner_text[16];
    snprintf(owner_text, sizeof(owner_text), "%u", row->owner);
    args[9] = owner_text;

    SPI_connect();
    // A re-declaration replaces the declaration but keeps the owner, the creation time and the watermark, and the
    // schedule unless options.schedule sets one (bulk_ingest_schedule() manages it too). A new schedule is due now.
    ExecuteAsCatalogOwner(
        "INSERT INTO bulk_ingest.sources AS s (source, url, target, columns, format, high_watermark_column, upsert,"
        "                                      \"delete\", options, owner, schedule, next_run_at)"
        " VALUES ($1, $2, $3, $4::jsonb, $5, $6, $7, $8, $9::jsonb, $10::oid::regrole, $11::interval,"
        "         CASE WHEN $11 IS NOT NULL THEN now() END)"
        " ON CONFLICT (source) DO UPDATE SET url = excluded.url, target = excluded.target,"
        "     columns = excluded.columns, format = excluded.format,"
        "     high_watermark_column = excluded.high_watermark_column, upsert = excluded.upsert,"
        "     \"delete\" = excluded.\"delete\", options = excluded.options, updated_at = now(),"
        "     schedule = coalesce(excluded.schedule, s.schedule),"
        "     next_run_at = CASE WHEN excluded.schedule IS NOT NULL AND excluded.schedule IS DISTINCT FROM s.schedule"
        "                        THEN now() ELSE s.next_run_at END"
        " RETURNING *",
        11, args, false, 0);
    Datum result = PointerGetDatum(SPI_returntuple(SPI_tuptable->vals[0], tupdesc));
    SPI_finish();
    if (decl->schedule != NULL) {
        UnscheduleCronJob(row->source);  // options.schedule (an interval) replaces a cron schedule
    }
    WakeLauncherAtCommit();
    PG_RETURN_DATUM(result);
}

BULK_INGEST_FUNCTION(bulk_ingest_unregister) {
    char *source = text_to_cstring(PG_GETARG_TEXT_PP(0));
    SourceRow *existing = LoadSource(source, false);
    CheckSourceOwnership(existing, "unregister");
    UnscheduleCronJob(existing->source);
    const char *args[] = {source};
    SPI_connect();
    ExecuteAsCatalogOwner("DELETE FROM bulk_ingest.sources WHERE source = $1", 1, args, false, 0);
    SPI_finish();
    PG_RETURN_VOID();
}

BULK_INGEST_FUNCTION(bulk_ingest_set_owner) {
    char *source = text_to_cstring(PG_GETARG_TEXT_PP(0));
    Oid new_owner = PG_GETARG_OID(1);
    if (!superuser()) {
        ereport(ERROR, (errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
                        errmsg("permission denied to change the owner of source \"%s\"", source),
                        errdetail("Only superusers may hand a source to another role.")));
    }
    SourceRow *existing = LoadSource(source, false);
    char owner_text[16];
    snprintf(owner_text, sizeof(owner_text), "%u", new_owner);
    const char *args[] = {existing->source, owner_text};
    SPI_connect();
    ExecuteAsCatalogOwner(
        "UPDATE bulk_ingest.sources SET owner = $2::oid::regrole, updated_at = now() WHERE source = $1", 2, args, false,
        0);
    SPI_finish();
    ReownCronJob(existing->source, new_owner);  // its pg_cron job runs as the new owner too
    PG_RETURN_VOID();
}
