// The watermark as requests send it (core/watermark_format.h), from PostgreSQL's side: the value of a run's
// {high_watermark} from the stored (or requested) watermark and the column's type, the checks of the placeholders at
// registration, and the catalog's record of the watermark's source form and of where a run stopped at max_pages.
#pragma once

#include "pg/pg_prelude.h"

#include "core/watermark_format.h"
#include "pg/catalog/declaration.h"

// The kind of the declaration's watermark column (kOther when it has none).
bulk_ingest::ValueKind WatermarkKind(const Declaration *decl);

// Fills *value, a TemplateValue owned by the current memory context, for a watermark text of the declaration's
// column. text NULL: no watermark. stored: text is the stored watermark (PostgreSQL's text form of the column type),
// source_text its source form (may be NULL); otherwise text was requested for this run by the caller, and is sent
// as written by {high_watermark} (and as PostgreSQL reads it by the explicit forms, when it reads as the type).
// In a transaction: the type's input function runs (as the current user, restricted: a domain's checks).
bulk_ingest::TemplateValue *MakeWatermarkValue(const Declaration *decl, const char *text, const char *source_text,
                                               bool stored);

// Checks the request options of a declaration (registration): the placeholders of the URL, the header values and
// the body ({high_watermark:form}, windows: forms that exist and apply to the watermark column's type), options.lag
// (an interval or a number, as the watermark) and options.window (a positive step, a start). Raises an error naming
// the source and the option.
void CheckRequestOptions(const Declaration *decl);

// The source form of the stored watermark, and the state a run stopped at max_pages left (JSON), of the source;
// NULL when there is none. In the caller's memory context.
void LoadWatermarkExtras(const char *source, char **source_value, char **resume);

// Stores the source form of the watermark (NULL when unknown), in the transaction of the batch that stored the value.
void StoreWatermarkSourceValue(const char *source, const char *source_value);

// Stores (NULL: clears) where the source's next run continues, and the page a run stopped at (runs.next_page,
// secrets redacted), in the current transaction.
void StoreResumeState(const char *source, const char *resume_json);
void RecordNextPage(int64 run_id, const char *next_page);

// The NOTICE of bulk_ingest_run when the run (its bulk_ingest.runs row) stopped at max_pages.
void NoticeIfStoppedAtMaxPages(Datum run_row);
