#include "pg/load/binary_rows.h"

#include "pg/guard.h"
#include "pg/settings.h"

extern "C" {
#include "access/tupdesc.h"
#include "catalog/pg_type.h"
#include "mb/pg_wchar.h"
#include "utils/lsyscache.h"
}

using pg_bulk_ingest::CallCore;

// How the core converts a value of the type (and typmod), false for a type it leaves to COPY's text format.
static bool BinaryColumnOf(Oid type, int32 typmod, bulk_ingest::BinaryColumn *column) {
    using bulk_ingest::BinaryKind;
    column->max_chars = -1;
    column->numeric_precision = -1;
    column->numeric_scale = 0;
    switch (type) {
        case TEXTOID:
            column->kind = BinaryKind::kText;
            return true;
        case VARCHAROID:
        case BPCHAROID:
            column->kind = BinaryKind::kText;
            column->max_chars = typmod >= (int32)VARHDRSZ ? typmod - (int32)VARHDRSZ : -1;
            return true;
        case INT2OID:
            column->kind = BinaryKind::kInt2;
            return true;
        case INT4OID:
            column->kind = BinaryKind::kInt4;
            return true;
        case INT8OID:
            column->kind = BinaryKind::kInt8;
            return true;
        case NUMERICOID:
            column->kind = BinaryKind::kNumeric;
            if (typmod >= (int32)VARHDRSZ) {
                // numeric's typmod (utils/adt/numeric.c): precision in the high 16 bits, the scale a signed 11-bit
                // number in the low ones.
                int32 packed = typmod - (int32)VARHDRSZ;
                column->numeric_precision = (packed >> 16) & 0xFFFF;
                column->numeric_scale = (((packed & 0x7FF) ^ 1024) - 1024);
            }
            return true;
        case FLOAT4OID:
            column->kind = BinaryKind::kFloat4;
            return true;
        case FLOAT8OID:
            column->kind = BinaryKind::kFloat8;
            return true;
        case BOOLOID:
            column->kind = BinaryKind::kBool;
            return true;
        case DATEOID:
            column->kind = BinaryKind::kDate;
            return true;
        case TIMESTAMPOID:
            column->kind = BinaryKind::kTimestamp;
            return true;
        case TIMESTAMPTZOID:
            column->kind = BinaryKind::kTimestamptz;
            return true;
        case UUIDOID:
            column->kind = BinaryKind::kUuid;
            return true;
        case JSONOID:
            column->kind = BinaryKind::kJson;
            return true;
        case JSONBOID:
            column->kind = BinaryKind::kJsonb;
            return true;
        default:
            return false;
    }
}

bool DeclarationTakesBinaryRows(const Declaration *decl, bulk_ingest::BinaryColumn *columns) {
    if (!bulk_ingest_binary_copy || GetDatabaseEncoding() != PG_UTF8 ||
        (pg_get_client_encoding() != PG_UTF8 && pg_get_client_encoding() != PG_SQL_ASCII)) {
        return false;
    }
    for (int i = 0; i < decl->ncolumns; i++) {
        if (decl->columns[i].is_array ||
            !BinaryColumnOf(decl->columns[i].type_oid, decl->columns[i].typmod, &columns[i])) {
            return false;
        }
    }
    return true;
}

bool RelationTakesBinaryRows(const Declaration *decl, Relation rel) {
    TupleDesc desc = RelationGetDescr(rel);
    for (int i = 0; i < decl->ncolumns; i++) {
        bool found = false;
        for (int a = 0; a < desc->natts && !found; a++) {
            Form_pg_attribute att = TupleDescAttr(desc, a);
            if (!att->attisdropped && strcmp(NameStr(att->attname), decl->columns[i].name) == 0) {
                if (att->atttypid != decl->columns[i].type_oid || att->atttypmod != decl->columns[i].typmod) {
                    return false;
                }
                found = true;
            }
        }
        if (!found) {
            return false;  // (COPY says which column is missing)
        }
    }
    return true;
}

void InitBinaryConverter(BinaryConverter *converter, const Declaration *decl) {
    converter->input = (FmgrInfo *)palloc0(sizeof(FmgrInfo) * decl->ncolumns);
    converter->input_param = (Oid *)palloc0(sizeof(Oid) * decl->ncolumns);
    converter->send = (FmgrInfo *)palloc0(sizeof(FmgrInfo) * decl->ncolumns);
    for (int i = 0; i < decl->ncolumns; i++) {
        Oid input_fn, send_fn;
        bool is_varlena;
        getTypeInputInfo(decl->columns[i].type_oid, &input_fn, &converter->input_param[i]);
        fmgr_info(input_fn, &converter->input[i]);
        getTypeBinaryOutputInfo(decl->columns[i].type_oid, &send_fn, &is_varlena);
        fmgr_info(send_fn, &converter->send[i]);
    }
}

void AppendConvertedValue(const BinaryConverter *converter, const Declaration *decl, int column, char *text,
                          bulk_ingest::GrowBuffer *out) {
    Datum value = InputFunctionCall(&converter->input[column], text, converter->input_param[column],
                                    decl->columns[column].typmod);
    bytea *bytes = SendFunctionCall(&converter->send[column], value);
    uint32 len = VARSIZE(bytes) - VARHDRSZ;
    char length[4] = {(char)(len >> 24), (char)(len >> 16), (char)(len >> 8), (char)len};
    CallCore([&] {
        out->append(length, 4);
        out->append(VARDATA(bytes), len);
    });
}
