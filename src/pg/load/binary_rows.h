// Rows in COPY's binary format (core/copy_binary.h): which runs load them, and the values the core leaves to
// PostgreSQL, converted here with the column type's own input function, then its send function.
#pragma once

#include "pg/pg_prelude.h"

#include "core/copy_binary.h"
#include "core/grow_buffer.h"
#include "pg/catalog/declaration.h"

extern "C" {
#include "fmgr.h"
#include "utils/rel.h"
}

// Whether the runs of decl may load binary rows, and how each column's values are converted (columns: ncolumns
// entries): bulk_ingest.binary_copy is on, every column's type is one the core converts (not a domain, nor an
// array), and text reaches the receive functions unconverted (a UTF-8 database, and a client_encoding of UTF8 or
// SQL_ASCII: textrecv converts from the client's encoding, where COPY's text format honours its ENCODING option).
bool DeclarationTakesBinaryRows(const Declaration *decl, bulk_ingest::BinaryColumn *columns);

// Whether rel's columns named by decl have the declared types and typmods (a binary value is read by the column's
// receive function, so it must be the type the core wrote).
bool RelationTakesBinaryRows(const Declaration *decl, Relation rel);

// The input and send functions of decl's columns, in the current memory context.
typedef struct BinaryConverter {
    FmgrInfo *input;
    Oid *input_param;
    FmgrInfo *send;
} BinaryConverter;

void InitBinaryConverter(BinaryConverter *converter, const Declaration *decl);

// Converts text (NUL-terminated) as column's input function does, and appends its binary field to out. Raises the
// type's error for a value it refuses; allocates in the current memory context.
void AppendConvertedValue(const BinaryConverter *converter, const Declaration *decl, int column, char *text,
                          bulk_ingest::GrowBuffer *out);
