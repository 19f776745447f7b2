// Rejected records (see rejects.h).
#include "pg/catalog/rejects.h"

#include "pg/catalog/catalog.h"

extern "C" {
#include "executor/spi.h"
#include "mb/pg_wchar.h"
#include "utils/json.h"
}

Reject *MakeReject(uint64 line, const char *column, const char *error, const char *record, size_t record_len) {
    Reject *reject = (Reject *)palloc0(sizeof(Reject));
    reject->line = line;
    reject->column = column ? pstrdup(column) : NULL;
    reject->error = pstrdup(error);
    if (record != NULL) {
        // The record was valid UTF-8 or it would not be here whole; a cut one is cut at a character, and bytes
        // that are not text (an invalid record) are dropped rather than stored.
        size_t keep = record_len;
        if (keep > REJECT_RECORD_MAX) {
            keep = (size_t)pg_mbcliplen(record, (int)Min(record_len, (size_t)REJECT_RECORD_MAX * 2), REJECT_RECORD_MAX);
        }
        char *copy = pnstrdup(record, keep);
        if (!pg_verifymbstr(copy, (int)strlen(copy), true)) {
            copy = pstrdup("(the record is not valid text)");
        }
        reject->record = copy;
    }
    return reject;
}

static int CompareRejectLines(const ListCell *a, const ListCell *b) {
    uint64 x = ((const Reject *)lfirst(a))->line, y = ((const Reject *)lfirst(b))->line;
    return x < y ? -1 : x > y ? 1 : 0;
}

void RecordRejects(int64 run_id, const char *source, int batch, const char *url, List *rejects) {
    if (rejects == NIL) {
        return;
    }
    // In the order of the response (the reader's rejects are found before those COPY refuses).
    list_sort(rejects, CompareRejectLines);
    char id_text[32], batch_text[32], count_text[32];
    snprintf(id_text, sizeof(id_text), INT64_FORMAT, run_id);
    snprintf(batch_text, sizeof(batch_text), "%d", batch);
    snprintf(count_text, sizeof(count_text), "%d", list_length(rejects));
    // One statement for the batch's rejects: they travel as one JSON array.
    StringInfoData json;
    initStringInfo(&json);
    appendStringInfoChar(&json, '[');
    ListCell *cell;
    foreach (cell, rejects) {
        const Reject *reject = (const Reject *)lfirst(cell);
        appendStringInfo(&json, "%s{\"line\": ", foreach_current_index(cell) > 0 ? ", " : "");
        if (reject->line > 0) {
            appendStringInfo(&json, UINT64_FORMAT, reject->line);
        } else {
            appendStringInfoString(&json, "null");
        }
        appendStringInfoString(&json, ", \"column\": ");
        if (reject->column != NULL) {
            escape_json(&json, reject->column);
        } else {
            appendStringInfoString(&json, "null");
        }
        appendStringInfoString(&json, ", \"error\": ");
        escape_json(&json, reject->error);
        appendStringInfoString(&json, ", \"record\": ");
        if (reject->record != NULL) {
            escape_json(&json, reject->record);
        } else {
            appendStringInfoString(&json, "null");
        }
        appendStringInfoChar(&json, '}');
    }
    appendStringInfoChar(&json, ']');
    const char *args[] = {id_text, source, batch_text, url, json.data, count_text};
    SPI_connect();
    ExecuteAsCatalogOwner(
        "INSERT INTO bulk_ingest.rejects (run_id, source, batch, url, line, \"column\", error, record, owner)"
        " SELECT $1::bigint, $2, $3::integer, $4, (e.r ->> 'line')::bigint, e.r ->> 'column', e.r ->> 'error',"
        "        e.r ->> 'record', runs.owner"
        "   FROM bulk_ingest.runs runs, pg_catalog.jsonb_array_elements($5::jsonb) WITH ORDINALITY AS e(r, n)"
        "  WHERE runs.id = $1::bigint ORDER BY e.n",
        5, args, false, 0);
    ExecuteAsCatalogOwner("UPDATE bulk_ingest.runs SET rejected = rejected + $6::bigint WHERE id = $1::bigint", 6, args,
                          false, 0);
    SPI_finish();
}
