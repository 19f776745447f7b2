-- pg_bulk_ingest 0.1: the catalog (schema bulk_ingest) and the SQL interface (the extension's schema).
\echo Use "CREATE EXTENSION pg_bulk_ingest" to load this file. \quit

CREATE SCHEMA bulk_ingest;
COMMENT ON SCHEMA bulk_ingest IS 'pg_bulk_ingest: declared sources, their high watermarks and their run history';

-- One row per declared source. The declaration is the truth: bulk_ingest_register replaces it whole.
CREATE TABLE bulk_ingest.sources (
    source                text PRIMARY KEY CHECK (source <> ''),
    url                   text NOT NULL,
    target                text NOT NULL,
    columns               jsonb NOT NULL,
    format                text NOT NULL,
    high_watermark_column text,
    upsert                text NOT NULL,
    "delete"              text NOT NULL,
    options               jsonb NOT NULL DEFAULT '{}',
    owner                 regrole NOT NULL,
    schedule              interval CHECK (schedule > interval '0'),
    next_run_at           timestamptz,
    created_at            timestamptz NOT NULL DEFAULT now(),
    updated_at            timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE bulk_ingest.sources IS 'Declared HTTP sources; write them with bulk_ingest_register/bulk_ingest_unregister';

-- The high watermark of each source, committed in the same transaction as the batch that advanced it.
CREATE TABLE bulk_ingest.watermarks (
    source     text PRIMARY KEY REFERENCES bulk_ingest.sources (source) ON DELETE CASCADE,
    value      text,
    updated_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE bulk_ingest.watermarks IS 'High watermark of each source: the maximum of its high_watermark_column ingested so far';

-- Run history. A run's counters are updated in the transaction of each batch, so they always describe exactly what
-- is committed in the target.
CREATE TABLE bulk_ingest.runs (
    id                    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    source                text NOT NULL,
    status                text NOT NULL DEFAULT 'running'
                          CHECK (status IN ('queued', 'running', 'succeeded', 'unchanged', 'failed', 'cancelled', 'skipped')),
    started_at            timestamptz NOT NULL DEFAULT now(),
    finished_at           timestamptz,
    batches               integer NOT NULL DEFAULT 0,
    rows                  bigint NOT NULL DEFAULT 0,
    bytes                 bigint NOT NULL DEFAULT 0,
    high_watermark_before text,
    high_watermark_after  text,
    error                 text,
    "trigger"             text NOT NULL DEFAULT 'run' CHECK ("trigger" IN ('run', 'start', 'schedule')),
    requested_high_watermark text NOT NULL DEFAULT '__LATEST__',
    attempts              text, -- failed requests and their retries, one line each (NULL: none failed)
    -- Why the run rebuilt the target in its first batch (the differences from the declaration, replace mode, or the
    -- fast path of a new or empty table); NULL when it loaded into the table in place.
    rebuild               text,
    lock_attempts         integer,          -- attempts to take the swap's ACCESS EXCLUSIVE lock (NULL: no swap)
    lock_wait_ms          double precision  -- time from the first attempt until the swap's lock was held
);
CREATE INDEX runs_source_started_at_idx ON bulk_ingest.runs (source, started_at);
-- One queued or running run per source: the arbiter that refuses a second one.
CREATE UNIQUE INDEX runs_one_active_per_source ON bulk_ingest.runs (source) WHERE status IN ('queued', 'running');
CREATE INDEX runs_finished_at_idx ON bulk_ingest.runs (finished_at);
COMMENT ON TABLE bulk_ingest.runs IS 'History of ingest runs: status, counters, watermarks and the error of failed runs';

-- Secrets referenced as {secret:name} by a source's URL and headers. Only the extension's functions read the table:
-- the source's owner sets and reads its secrets through bulk_ingest_set_secret/bulk_ingest_get_secret.
CREATE TABLE bulk_ingest.secrets (
    source     text NOT NULL REFERENCES bulk_ingest.sources (source) ON DELETE CASCADE,
    name       text NOT NULL CHECK (name ~ '^[A-Za-z0-9_-]{1,64}$'),
    value      text NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (source, name)
);
COMMENT ON TABLE bulk_ingest.secrets IS 'Secrets of sources, set with bulk_ingest_set_secret(); readable by superusers only';

-- The catalog is written only by the extension's functions (as the extension's owner); everyone may read it.
REVOKE ALL ON ALL TABLES IN SCHEMA bulk_ingest FROM PUBLIC;
GRANT USAGE ON SCHEMA bulk_ingest TO PUBLIC;
GRANT SELECT ON bulk_ingest.sources, bulk_ingest.watermarks, bulk_ingest.runs TO PUBLIC;

SELECT pg_catalog.pg_extension_config_dump('bulk_ingest.sources', '');
SELECT pg_catalog.pg_extension_config_dump('bulk_ingest.watermarks', '');

CREATE FUNCTION bulk_ingest_register(
    source                text,
    url                   text,
    target                text,
    columns               jsonb,
    format                text DEFAULT 'ndjson',
    high_watermark_column text DEFAULT NULL,
    upsert                text DEFAULT 'if_primary_key',
    "delete"              text DEFAULT 'off',
    options               jsonb DEFAULT '{}')
RETURNS bulk_ingest.sources
LANGUAGE C CALLED ON NULL INPUT VOLATILE
AS 'MODULE_PATHNAME', 'bulk_ingest_register';
COMMENT ON FUNCTION bulk_ingest_register IS
    'Declare (or re-declare) an HTTP source: where to fetch, which table to fill, and the columns to extract';

CREATE FUNCTION bulk_ingest_unregister(source text)
RETURNS void
LANGUAGE C STRICT VOLATILE
AS 'MODULE_PATHNAME', 'bulk_ingest_unregister';
COMMENT ON FUNCTION bulk_ingest_unregister IS
    'Forget a source and its watermark (its run history and its target table are kept)';

CREATE FUNCTION bulk_ingest_run(source text, high_watermark text DEFAULT '__LATEST__')
RETURNS bulk_ingest.runs
LANGUAGE C STRICT VOLATILE
AS 'MODULE_PATHNAME', 'bulk_ingest_run';
COMMENT ON FUNCTION bulk_ingest_run IS
    'Ingest a source now in a background worker, one transaction per batch, and return the run''s summary';

CREATE FUNCTION bulk_ingest_set_secret(source text, name text, value text)
RETURNS void
LANGUAGE C CALLED ON NULL INPUT VOLATILE
AS 'MODULE_PATHNAME', 'bulk_ingest_set_secret';
COMMENT ON FUNCTION bulk_ingest_set_secret IS
    'Set (or with NULL remove) a secret of a source, referenced as {secret:name} in its URL and options';

CREATE FUNCTION bulk_ingest_get_secret(source text, name text)
RETURNS text
LANGUAGE C STRICT VOLATILE
AS 'MODULE_PATHNAME', 'bulk_ingest_get_secret';
COMMENT ON FUNCTION bulk_ingest_get_secret IS
    'The value of a secret of a source (NULL when not set); for the source''s owner, its members and superusers';

CREATE FUNCTION bulk_ingest_start(source text, high_watermark text DEFAULT '__LATEST__')
RETURNS bigint
LANGUAGE C STRICT VOLATILE
AS 'MODULE_PATHNAME', 'bulk_ingest_start';
COMMENT ON FUNCTION bulk_ingest_start IS
    'Queue a run of a source and return its id at once; the launcher starts it when the transaction commits';

CREATE FUNCTION bulk_ingest_cancel(run_id bigint)
RETURNS boolean
LANGUAGE C STRICT VOLATILE
AS 'MODULE_PATHNAME', 'bulk_ingest_cancel';
COMMENT ON FUNCTION bulk_ingest_cancel IS
    'Cancel a queued or running run: its batch in flight is rolled back; true when there was a run to cancel';

CREATE FUNCTION bulk_ingest_schedule(source text, every interval)
RETURNS void
LANGUAGE C CALLED ON NULL INPUT VOLATILE
AS 'MODULE_PATHNAME', 'bulk_ingest_schedule';
COMMENT ON FUNCTION bulk_ingest_schedule IS
    'Run a source every given interval (NULL: stop scheduling it); a newly scheduled source is due at once';

CREATE FUNCTION bulk_ingest._progress(
    OUT run_id bigint, OUT source text, OUT pid integer, OUT phase text, OUT batches bigint, OUT rows bigint,
    OUT bytes bigint, OUT url text, OUT started_at timestamptz)
RETURNS SETOF record
LANGUAGE C STRICT VOLATILE
AS 'MODULE_PATHNAME', 'bulk_ingest_progress';

-- Runs in flight, from shared memory (empty unless pg_bulk_ingest is in shared_preload_libraries).
CREATE VIEW bulk_ingest.progress AS
SELECT run_id, source, pid, phase, batches, rows, bytes,
       CASE WHEN clock_timestamp() > started_at
            THEN rows / extract(epoch FROM clock_timestamp() - started_at) END::double precision AS rows_per_second,
       url, started_at
  FROM bulk_ingest._progress();
GRANT SELECT ON bulk_ingest.progress TO PUBLIC;
COMMENT ON VIEW bulk_ingest.progress IS
    'Runs in flight: phase, committed batches, rows and bytes read so far, rate and the URL being read';
