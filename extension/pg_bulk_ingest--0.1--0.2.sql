-- pg_bulk_ingest 0.1 -> 0.2: who may use the extension, and what each role sees (docs/security.md).
--
-- * Nothing is executable by PUBLIC. Members of the role bulk_ingest_user may register and run sources; a source
--   belongs to the role that registered it, and only that role, its members and superusers may act on it.
-- * The catalog shows each role only the rows of the sources it may act on (row-level security); the secrets stay
--   readable by superusers only.
\echo Use "ALTER EXTENSION pg_bulk_ingest UPDATE TO '0.2'" to load this file. \quit

-- Roles are shared by the databases of a cluster: the role may exist already (another database's extension, or a
-- DBA who made it first). It is not a member of the extension, so DROP EXTENSION leaves it.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname OPERATOR(pg_catalog.=) 'bulk_ingest_user') THEN
        CREATE ROLE bulk_ingest_user NOLOGIN;
    END IF;
END
$$;
COMMENT ON ROLE bulk_ingest_user IS
    'pg_bulk_ingest: members may register, run and schedule sources of their own (GRANT bulk_ingest_user TO role)';

-- ---- functions: none for PUBLIC ------------------------------------------------------------------------------
REVOKE ALL ON FUNCTION @extschema@.bulk_ingest_register(text, text, text, jsonb, text, text, text, text, jsonb),
                       @extschema@.bulk_ingest_unregister(text),
                       @extschema@.bulk_ingest_run(text, text),
                       @extschema@.bulk_ingest_set_secret(text, text, text),
                       @extschema@.bulk_ingest_get_secret(text, text),
                       @extschema@.bulk_ingest_start(text, text),
                       @extschema@.bulk_ingest_cancel(bigint),
                       @extschema@.bulk_ingest_schedule(text, interval),
                       bulk_ingest._progress()
    FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.bulk_ingest_register(text, text, text, jsonb, text, text, text, text, jsonb),
                          @extschema@.bulk_ingest_unregister(text),
                          @extschema@.bulk_ingest_run(text, text),
                          @extschema@.bulk_ingest_set_secret(text, text, text),
                          @extschema@.bulk_ingest_get_secret(text, text),
                          @extschema@.bulk_ingest_start(text, text),
                          @extschema@.bulk_ingest_cancel(bigint),
                          @extschema@.bulk_ingest_schedule(text, interval),
                          bulk_ingest._progress()
    TO bulk_ingest_user;

-- A superuser hands a source to another role (its owner from then on).
CREATE FUNCTION @extschema@.bulk_ingest_set_owner(source text, new_owner regrole)
RETURNS void
LANGUAGE C STRICT VOLATILE
AS 'MODULE_PATHNAME', 'bulk_ingest_set_owner';
REVOKE ALL ON FUNCTION @extschema@.bulk_ingest_set_owner(text, regrole) FROM PUBLIC;
COMMENT ON FUNCTION @extschema@.bulk_ingest_set_owner IS
    'Make another role the owner of a source (superusers only): its runs execute as that role from then on';

-- ---- the catalog: each role sees its own sources ---------------------------------------------------------------
-- A run's owner is kept with the run, so that the history of a source stays visible to its owner after the source
-- is unregistered.
ALTER TABLE bulk_ingest.runs ADD COLUMN owner regrole;
UPDATE bulk_ingest.runs r SET owner = s.owner FROM bulk_ingest.sources s WHERE s.source OPERATOR(pg_catalog.=) r.source;
COMMENT ON COLUMN bulk_ingest.runs.owner IS 'The role the run executed as: the owner of its source when it was queued';

-- Runs load as their owner: a target named without a schema would be resolved through a search_path, which runs no
-- longer use. Sources registered by 0.1 get the schema the name resolves to now (public when it names no table).
UPDATE bulk_ingest.sources s
   SET target = pg_catalog.quote_ident(coalesce(
                    (SELECT n.nspname FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
                      WHERE c.relname OPERATOR(pg_catalog.=) (pg_catalog.parse_ident(s.target))[1]
                        AND pg_catalog.pg_table_is_visible(c.oid)),
                    'public')) OPERATOR(pg_catalog.||) '.' OPERATOR(pg_catalog.||) s.target
 WHERE pg_catalog.array_length(pg_catalog.parse_ident(s.target), 1) OPERATOR(pg_catalog.=) 1;

REVOKE ALL ON SCHEMA bulk_ingest FROM PUBLIC;
REVOKE ALL ON ALL TABLES IN SCHEMA bulk_ingest FROM PUBLIC;
GRANT USAGE ON SCHEMA bulk_ingest TO bulk_ingest_user;
GRANT SELECT ON bulk_ingest.sources, bulk_ingest.watermarks, bulk_ingest.runs, bulk_ingest.progress
    TO bulk_ingest_user;

-- The owner's rows, for the owner, its members (pg_has_role USAGE: the privileges of the role, as the extension's
-- functions check them) and superusers (who bypass row-level security). The catalog is written only by the
-- extension's functions, as the extension's owner, to whom these policies do not apply.
ALTER TABLE bulk_ingest.sources ENABLE ROW LEVEL SECURITY;
ALTER TABLE bulk_ingest.watermarks ENABLE ROW LEVEL SECURITY;
ALTER TABLE bulk_ingest.runs ENABLE ROW LEVEL SECURITY;
ALTER TABLE bulk_ingest.secrets ENABLE ROW LEVEL SECURITY;  -- no policy: no row for anyone but superusers
CREATE POLICY owner_rows ON bulk_ingest.sources FOR SELECT
    USING (pg_catalog.pg_has_role(owner::oid, 'USAGE'));
CREATE POLICY owner_rows ON bulk_ingest.watermarks FOR SELECT
    USING (EXISTS (SELECT FROM bulk_ingest.sources s WHERE s.source OPERATOR(pg_catalog.=) watermarks.source));
CREATE POLICY owner_rows ON bulk_ingest.runs FOR SELECT
    USING (pg_catalog.pg_has_role(owner::oid, 'USAGE'));
COMMENT ON TABLE bulk_ingest.sources IS
    'Declared HTTP sources (each role sees its own); write them with bulk_ingest_register/bulk_ingest_unregister';
COMMENT ON TABLE bulk_ingest.secrets IS
    'Secrets of sources, set with bulk_ingest_set_secret(); readable by superusers only (owners read theirs with '
    'bulk_ingest_get_secret)';

-- ==== issue 13: upgrades from 0.1 ===============================================================================
-- Roles that own sources registered under 0.1 (when every role could call the functions) keep the use of them:
-- they become members of bulk_ingest_user. Superusers need no membership. (An extension script's notices are not
-- shown: docs/operations.md says so instead.)
DO $$
DECLARE
    owner_name name;
BEGIN
    FOR owner_name IN
        SELECT DISTINCT r.rolname FROM bulk_ingest.sources s JOIN pg_catalog.pg_roles r ON r.oid OPERATOR(pg_catalog.=) s.owner::oid
         WHERE NOT r.rolsuper AND NOT pg_catalog.pg_has_role(r.oid, 'bulk_ingest_user', 'MEMBER')
    LOOP
        EXECUTE pg_catalog.format('GRANT bulk_ingest_user TO %I', owner_name);
    END LOOP;
END
$$;

-- A launcher that waits for this update (the library is already 0.2) looks again when the update commits.
CREATE FUNCTION bulk_ingest._catalog_changed()
RETURNS void
LANGUAGE C STRICT VOLATILE
AS 'MODULE_PATHNAME', 'bulk_ingest_catalog_changed';
REVOKE ALL ON FUNCTION bulk_ingest._catalog_changed() FROM PUBLIC;
COMMENT ON FUNCTION bulk_ingest._catalog_changed() IS
    'Internal: wakes the launcher when the extension''s script commits (it looks at the catalog again)';
SELECT bulk_ingest._catalog_changed();

-- ==== issue 13: comments on every column, so that \d+ explains the catalog ======================================
COMMENT ON COLUMN bulk_ingest.sources.source IS 'The source''s name, unique in the database';
COMMENT ON COLUMN bulk_ingest.sources.url IS
    'The first page to fetch; {high_watermark} is replaced by the stored watermark, {secret:name} by a secret';
COMMENT ON COLUMN bulk_ingest.sources.target IS 'The table to fill, schema-qualified';
COMMENT ON COLUMN bulk_ingest.sources.columns IS
    'The declared columns: a JSON array of {name, type, primary_key, nullable, path, format}';
COMMENT ON COLUMN bulk_ingest.sources.format IS 'ndjson, json or csv';
COMMENT ON COLUMN bulk_ingest.sources.high_watermark_column IS
    'The column whose maximum is the watermark (NULL: none, or a header watermark in options)';
COMMENT ON COLUMN bulk_ingest.sources.upsert IS
    'if_primary_key: rows replace those with the same key; off: rows are appended';
COMMENT ON COLUMN bulk_ingest.sources."delete" IS
    'off: rows are added or merged; before_first_batch: each run replaces the table''s rows';
COMMENT ON COLUMN bulk_ingest.sources.options IS
    'Batching, pagination, retries, limits, headers, authentication, indexes, partitioning, format options (JSON)';
COMMENT ON COLUMN bulk_ingest.sources.owner IS 'The role that owns the source: its runs execute as this role';
COMMENT ON COLUMN bulk_ingest.sources.schedule IS 'Run every this long by the launcher (NULL: not scheduled)';
COMMENT ON COLUMN bulk_ingest.sources.next_run_at IS 'When the launcher next queues a run (NULL: not scheduled)';
COMMENT ON COLUMN bulk_ingest.sources.created_at IS 'When the source was first registered';
COMMENT ON COLUMN bulk_ingest.sources.updated_at IS 'When the declaration, schedule or owner last changed';
COMMENT ON COLUMN bulk_ingest.watermarks.source IS 'The source';
COMMENT ON COLUMN bulk_ingest.watermarks.value IS
    'The watermark as text: the maximum of high_watermark_column so far, or the ETag/Last-Modified of the last run';
COMMENT ON COLUMN bulk_ingest.watermarks.updated_at IS 'When the watermark last changed';
COMMENT ON COLUMN bulk_ingest.runs.id IS 'The run''s id (bulk_ingest_start returns it; bulk_ingest_cancel takes it)';
COMMENT ON COLUMN bulk_ingest.runs.source IS 'The source run (the history stays when the source is unregistered)';
COMMENT ON COLUMN bulk_ingest.runs.status IS
    'queued, running, succeeded, unchanged (304 Not Modified), failed, cancelled, or skipped (a schedule tick that '
    'found the previous run still in flight)';
COMMENT ON COLUMN bulk_ingest.runs.started_at IS 'When the run started (or was queued, while queued)';
COMMENT ON COLUMN bulk_ingest.runs.finished_at IS 'When the run ended; NULL while queued or running';
COMMENT ON COLUMN bulk_ingest.runs.batches IS 'Batches committed';
COMMENT ON COLUMN bulk_ingest.runs.rows IS 'Rows committed';
COMMENT ON COLUMN bulk_ingest.runs.bytes IS 'Bytes of the response bodies of the committed batches';
COMMENT ON COLUMN bulk_ingest.runs.high_watermark_before IS 'The watermark the run started from';
COMMENT ON COLUMN bulk_ingest.runs.high_watermark_after IS 'The stored watermark when the run ended';
COMMENT ON COLUMN bulk_ingest.runs.error IS
    'Why the run failed or was cancelled: the batch, the URL, the line and column, and the error (secrets redacted)';
COMMENT ON COLUMN bulk_ingest.runs."trigger" IS
    'run (bulk_ingest_run), start (bulk_ingest_start) or schedule (the launcher)';
COMMENT ON COLUMN bulk_ingest.runs.requested_high_watermark IS
    'The high_watermark argument: __LATEST__ (the stored one), __EARLIEST__ (none) or a value';
COMMENT ON COLUMN bulk_ingest.runs.attempts IS 'Failed requests and their retries, one line each (NULL: none failed)';
COMMENT ON COLUMN bulk_ingest.runs.rebuild IS
    'Why the run rebuilt its target (the differences, replace mode, or a new or empty table); NULL: loaded in place';
COMMENT ON COLUMN bulk_ingest.runs.lock_attempts IS
    'Attempts to take the ACCESS EXCLUSIVE lock of the swap of a rebuilt table (NULL: no swap)';
COMMENT ON COLUMN bulk_ingest.runs.lock_wait_ms IS
    'Milliseconds from the first attempt at the swap''s lock until it was held (NULL: no swap)';
COMMENT ON COLUMN bulk_ingest.secrets.source IS 'The source the secret belongs to';
COMMENT ON COLUMN bulk_ingest.secrets.name IS 'The name referenced as {secret:name}';
COMMENT ON COLUMN bulk_ingest.secrets.value IS 'The secret (readable by superusers only; never dumped)';
COMMENT ON COLUMN bulk_ingest.secrets.updated_at IS 'When the secret was last set';
COMMENT ON COLUMN bulk_ingest.progress.run_id IS 'The run in flight';
COMMENT ON COLUMN bulk_ingest.progress.source IS 'Its source';
COMMENT ON COLUMN bulk_ingest.progress.pid IS 'The process id of its worker';
COMMENT ON COLUMN bulk_ingest.progress.phase IS
    'starting, connecting, checking the target, loading, rebuilding, waiting for the swap''s lock, swapping, '
    'committing, waiting to retry, finishing';
COMMENT ON COLUMN bulk_ingest.progress.batches IS 'Batches committed so far';
COMMENT ON COLUMN bulk_ingest.progress.rows IS 'Rows read so far, the batch in flight included';
COMMENT ON COLUMN bulk_ingest.progress.bytes IS 'Response bytes read so far';
COMMENT ON COLUMN bulk_ingest.progress.rows_per_second IS 'rows divided by the time since the run started';
COMMENT ON COLUMN bulk_ingest.progress.url IS 'The page being read (secrets redacted)';
COMMENT ON COLUMN bulk_ingest.progress.started_at IS 'When the run started';
COMMENT ON FUNCTION bulk_ingest._progress() IS 'Internal: the runs in flight, from shared memory (see bulk_ingest.progress)';

-- ==== issue 13: a dry run ========================================================================================
CREATE FUNCTION @extschema@.bulk_ingest_preview(
    source text, n integer DEFAULT 10,
    OUT action text, OUT reason text, OUT url text, OUT rows bigint, OUT high_watermark text, OUT preview regclass)
RETURNS record
LANGUAGE C CALLED ON NULL INPUT VOLATILE
AS 'MODULE_PATHNAME', 'bulk_ingest_preview';
REVOKE ALL ON FUNCTION @extschema@.bulk_ingest_preview(text, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.bulk_ingest_preview(text, integer) TO bulk_ingest_user;
COMMENT ON FUNCTION @extschema@.bulk_ingest_preview(text, integer) IS
    'Dry run: checks the target and the owner''s privileges, says what a run would do to the table (create, load '
    'in place, rebuild and why), and converts the first n records of the first page into the temporary table '
    'pg_temp.bulk_ingest_preview; loads nothing, advances nothing';

-- ==== issue 13: inferred columns =================================================================================
CREATE FUNCTION @extschema@.bulk_ingest_infer_columns(url text, format text DEFAULT 'ndjson',
                                                      options jsonb DEFAULT '{}')
RETURNS jsonb
LANGUAGE C CALLED ON NULL INPUT VOLATILE
AS 'MODULE_PATHNAME', 'bulk_ingest_infer_columns';
REVOKE ALL ON FUNCTION @extschema@.bulk_ingest_infer_columns(text, text, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.bulk_ingest_infer_columns(text, text, jsonb) TO bulk_ingest_user;
COMMENT ON FUNCTION @extschema@.bulk_ingest_infer_columns(text, text, jsonb) IS
    'Reads a bounded sample of the first page of url (at most 1000 records of 4 MB) and proposes a columns '
    'declaration: types, nullability, the likely primary key and high watermark column, with the reasons';

-- ==== issue 13: schedules in cron syntax (pg_cron) ==============================================================
-- A text schedule is a cron schedule ("*/5 * * * *": a cron.job named bulk_ingest:<source>) or an interval ("15
-- minutes": the launcher); NULL stops both.
CREATE FUNCTION @extschema@.bulk_ingest_schedule(source text, schedule text)
RETURNS void
LANGUAGE C CALLED ON NULL INPUT VOLATILE
AS 'MODULE_PATHNAME', 'bulk_ingest_schedule_text';
REVOKE ALL ON FUNCTION @extschema@.bulk_ingest_schedule(text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.bulk_ingest_schedule(text, text) TO bulk_ingest_user;
COMMENT ON FUNCTION @extschema@.bulk_ingest_schedule(text, text) IS
    'Run a source on a cron schedule (''*/5 * * * *'', through pg_cron: a cron.job named bulk_ingest:<source>) or '
    'every interval (''15 minutes'', through the launcher); NULL stops both';

CREATE FUNCTION bulk_ingest._cron_schedule(source text)
RETURNS text
LANGUAGE C STRICT STABLE
AS 'MODULE_PATHNAME', 'bulk_ingest_cron_schedule';
REVOKE ALL ON FUNCTION bulk_ingest._cron_schedule(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bulk_ingest._cron_schedule(text) TO bulk_ingest_user;
COMMENT ON FUNCTION bulk_ingest._cron_schedule(text) IS
    'Internal: the schedule of the source''s pg_cron job (NULL: none, or not the caller''s source)';

CREATE FUNCTION bulk_ingest._cron_next_run(schedule text, after timestamptz)
RETURNS timestamptz
LANGUAGE C STRICT IMMUTABLE
AS 'MODULE_PATHNAME', 'bulk_ingest_cron_next_run';
REVOKE ALL ON FUNCTION bulk_ingest._cron_next_run(text, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bulk_ingest._cron_next_run(text, timestamptz) TO bulk_ingest_user;
COMMENT ON FUNCTION bulk_ingest._cron_next_run(text, timestamptz) IS
    'Internal: when a cron schedule next fires after a time (UTC, as pg_cron reads schedules)';

-- ==== issue 13: status at a glance ==============================================================================
-- The last run of a source, its failures since the last success and its rows of the day are read by source and id.
CREATE INDEX runs_source_id_idx ON bulk_ingest.runs (source, id);

-- One row per source: what on-call people look at first. security_invoker: the caller's privileges and the
-- catalog's row-level security apply, so each role sees the status of its own sources (superusers all of them).
-- Operators are named with their schema: the script runs with a search_path other roles may write to. (All
-- OPERATOR() forms have the same precedence: parentheses group them.)
CREATE VIEW bulk_ingest.source_status WITH (security_invoker = true) AS
SELECT s.source,
       s.owner,
       s.target,
       CASE WHEN active.id IS NOT NULL THEN 'running'
            WHEN last.id IS NULL THEN 'never run'
            WHEN failures.n OPERATOR(pg_catalog.>) 0 THEN 'failing'
            ELSE 'ok' END AS state,
       last.id AS last_run_id,
       last.status AS last_status,
       last.started_at AS last_started_at,
       last.finished_at AS last_finished_at,
       last.rows AS last_rows,
       last.error AS last_error,
       ok.finished_at AS last_success_at,
       pg_catalog.now() OPERATOR(pg_catalog.-) ok.finished_at AS since_last_success,
       failures.n AS consecutive_failures,
       w.value AS high_watermark,
       w.updated_at AS high_watermark_updated_at,
       day.rows AS rows_last_24h,
       active.id AS active_run_id,
       active.status AS active_status,
       s.schedule,
       cron.schedule AS cron_schedule,
       coalesce(s.next_run_at, bulk_ingest._cron_next_run(cron.schedule, pg_catalog.now())) AS next_run_at
  FROM bulk_ingest.sources s
  LEFT JOIN LATERAL (SELECT bulk_ingest._cron_schedule(s.source) AS schedule) cron ON true
  LEFT JOIN bulk_ingest.watermarks w ON w.source OPERATOR(pg_catalog.=) s.source
  LEFT JOIN LATERAL (
        SELECT r.id, r.status, r.started_at, r.finished_at, r.rows, r.error FROM bulk_ingest.runs r
         WHERE r.source OPERATOR(pg_catalog.=) s.source AND r.status OPERATOR(pg_catalog.<>) 'skipped'::text
         ORDER BY r.id DESC LIMIT 1) last ON true
  LEFT JOIN LATERAL (
        SELECT r.id, r.finished_at FROM bulk_ingest.runs r
         WHERE r.source OPERATOR(pg_catalog.=) s.source
           AND r.status OPERATOR(pg_catalog.=) ANY (ARRAY['succeeded', 'unchanged']::text[])
         ORDER BY r.id DESC LIMIT 1) ok ON true
  LEFT JOIN LATERAL (
        SELECT pg_catalog.count(*) AS n FROM bulk_ingest.runs r
         WHERE r.source OPERATOR(pg_catalog.=) s.source AND r.status OPERATOR(pg_catalog.=) 'failed'::text
           AND r.id OPERATOR(pg_catalog.>) coalesce(ok.id, 0)) failures ON true
  LEFT JOIN LATERAL (
        SELECT coalesce(pg_catalog.sum(r.rows), 0)::bigint AS rows FROM bulk_ingest.runs r
         WHERE r.source OPERATOR(pg_catalog.=) s.source
           AND r.started_at OPERATOR(pg_catalog.>=) (pg_catalog.now() OPERATOR(pg_catalog.-) '24 hours'::interval)) day
       ON true
  LEFT JOIN LATERAL (
        SELECT r.id, r.status FROM bulk_ingest.runs r
         WHERE r.source OPERATOR(pg_catalog.=) s.source
           AND r.status OPERATOR(pg_catalog.=) ANY (ARRAY['queued', 'running']::text[])) active ON true;
GRANT SELECT ON bulk_ingest.source_status TO bulk_ingest_user;
COMMENT ON VIEW bulk_ingest.source_status IS
    'One row per source (each role sees its own): state, last run, last success and how long ago, consecutive '
    'failures, watermark, rows of the last 24 hours, run in flight, schedule (interval or cron) and next run';
COMMENT ON COLUMN bulk_ingest.source_status.source IS 'The source''s name';
COMMENT ON COLUMN bulk_ingest.source_status.owner IS 'The role that owns the source: its runs execute as this role';
COMMENT ON COLUMN bulk_ingest.source_status.target IS 'The table the source fills (schema-qualified)';
COMMENT ON COLUMN bulk_ingest.source_status.state IS
    'running (a run is queued or running), never run, failing (failed since its last success), or ok';
COMMENT ON COLUMN bulk_ingest.source_status.last_run_id IS
    'The latest run (skipped schedule ticks aside), whatever its status; NULL when the source never ran';
COMMENT ON COLUMN bulk_ingest.source_status.last_status IS
    'Status of the latest run: queued, running, succeeded, unchanged, failed or cancelled';
COMMENT ON COLUMN bulk_ingest.source_status.last_started_at IS 'When the latest run started (was queued, if queued)';
COMMENT ON COLUMN bulk_ingest.source_status.last_finished_at IS 'When the latest run ended; NULL while in flight';
COMMENT ON COLUMN bulk_ingest.source_status.last_rows IS 'Rows the latest run committed so far';
COMMENT ON COLUMN bulk_ingest.source_status.last_error IS 'The error of the latest run, when it failed or was cancelled';
COMMENT ON COLUMN bulk_ingest.source_status.last_success_at IS
    'When the latest succeeded (or unchanged: 304 Not Modified) run ended; NULL when none is in the history';
COMMENT ON COLUMN bulk_ingest.source_status.since_last_success IS 'How long ago the last success ended';
COMMENT ON COLUMN bulk_ingest.source_status.consecutive_failures IS
    'Failed runs since the last success (cancelled runs and skipped ticks are not failures)';
COMMENT ON COLUMN bulk_ingest.source_status.high_watermark IS 'The stored watermark: where the next run resumes';
COMMENT ON COLUMN bulk_ingest.source_status.high_watermark_updated_at IS 'When the watermark last advanced';
COMMENT ON COLUMN bulk_ingest.source_status.rows_last_24h IS 'Rows committed by the runs started in the last 24 hours';
COMMENT ON COLUMN bulk_ingest.source_status.active_run_id IS 'The queued or running run, if any';
COMMENT ON COLUMN bulk_ingest.source_status.active_status IS 'queued or running (NULL: no run in flight)';
COMMENT ON COLUMN bulk_ingest.source_status.schedule IS
    'The interval the launcher runs the source at (NULL: not scheduled by the launcher)';
COMMENT ON COLUMN bulk_ingest.source_status.cron_schedule IS
    'The schedule of the source''s pg_cron job (bulk_ingest:<source>), NULL when it has none';
COMMENT ON COLUMN bulk_ingest.source_status.next_run_at IS
    'When the source next runs: the launcher''s next tick, or the next time of its cron schedule (UTC); NULL when '
    'it is not scheduled';

-- ---- issue 12: real APIs: the watermark in the source's own form, and runs stopped at max_pages ---------------------
-- {high_watermark} sends the watermark the way the source wrote it in the record that holds the maximum (epoch
-- seconds stay epoch seconds, "2024-01-01T00:00:12+00:00" stays that text), not in PostgreSQL's text form.
ALTER TABLE bulk_ingest.watermarks ADD COLUMN source_value text;
COMMENT ON COLUMN bulk_ingest.watermarks.source_value IS
    'The watermark as the source wrote it in the record that holds the maximum (before a column''s format): what '
    '{high_watermark} sends; NULL when unknown';
-- A run stopped by options.max_pages says so, and the next run continues with the page it did not read.
ALTER TABLE bulk_ingest.watermarks ADD COLUMN resume jsonb;
COMMENT ON COLUMN bulk_ingest.watermarks.resume IS
    'Where the next run continues after a run stopped at max_pages (the next page; secrets kept as references, never '
    'their values); NULL: from the first page';
ALTER TABLE bulk_ingest.runs ADD COLUMN next_page text;
COMMENT ON COLUMN bulk_ingest.runs.next_page IS
    'The page the run did not read because it reached options.max_pages (secrets shown as ***); NULL when it read '
    'every page';
-- OAuth 2 client credentials (options.auth): the bearer token of a source, cached across runs until shortly before
-- it expires. A credential like the secrets: readable by superusers only, never dumped.
CREATE TABLE bulk_ingest.tokens (
    source       text PRIMARY KEY REFERENCES bulk_ingest.sources (source) ON DELETE CASCADE,
    access_token text NOT NULL,
    expires_at   timestamptz,
    fingerprint  text NOT NULL,
    fetched_at   timestamptz NOT NULL DEFAULT now()
);
REVOKE ALL ON bulk_ingest.tokens FROM PUBLIC;
ALTER TABLE bulk_ingest.tokens ENABLE ROW LEVEL SECURITY;  -- no policy: no row for anyone but superusers
COMMENT ON TABLE bulk_ingest.tokens IS
    'OAuth 2 access tokens of sources with options.auth, cached until shortly before they expire; superusers only';
COMMENT ON COLUMN bulk_ingest.tokens.source IS 'The source the token authenticates';
COMMENT ON COLUMN bulk_ingest.tokens.access_token IS 'The bearer token (a credential: never shown elsewhere)';
COMMENT ON COLUMN bulk_ingest.tokens.expires_at IS 'When it expires (from expires_in); NULL: not said, used until refused';
COMMENT ON COLUMN bulk_ingest.tokens.fingerprint IS
    'The token endpoint, client and scope it was issued for: a re-declared source with others fetches a new one';
COMMENT ON COLUMN bulk_ingest.tokens.fetched_at IS 'When it was fetched';
-- bulk_ingest_reset: set or clear a source's watermark (and where its runs stopped) for a backfill, recorded in the
-- run history as a run with the trigger 'reset'.
ALTER TABLE bulk_ingest.runs DROP CONSTRAINT runs_trigger_check;
ALTER TABLE bulk_ingest.runs ADD CONSTRAINT runs_trigger_check
    CHECK ("trigger" IN ('run', 'start', 'schedule', 'reset'));
CREATE FUNCTION @extschema@.bulk_ingest_reset(source text, high_watermark text DEFAULT NULL)
RETURNS bulk_ingest.runs
LANGUAGE C CALLED ON NULL INPUT VOLATILE
AS 'MODULE_PATHNAME', 'bulk_ingest_reset';
REVOKE ALL ON FUNCTION @extschema@.bulk_ingest_reset(text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.bulk_ingest_reset(text, text) TO bulk_ingest_user;
COMMENT ON FUNCTION @extschema@.bulk_ingest_reset IS
    'Set (or with NULL clear) the stored watermark of a source and where its runs stopped, for a backfill; recorded '
    'in bulk_ingest.runs';
-- Deletes at the source (options.deleted_path): the rows a run deleted, beside the rows it loaded.
ALTER TABLE bulk_ingest.runs ADD COLUMN deleted bigint NOT NULL DEFAULT 0;
COMMENT ON COLUMN bulk_ingest.runs.deleted IS
    'Rows the run deleted from the target because their records said so (options.deleted_path)';
-- ---- reliability (issue 10): repeated skipped ticks are one row ---------------------------------------------------
-- Ticks of a schedule that find the same run still in flight count on one 'skipped' row, from its started_at (the
-- first) to its finished_at (the last), instead of a row each.
ALTER TABLE bulk_ingest.runs ADD COLUMN skip_count integer CHECK (skip_count > 0);
UPDATE bulk_ingest.runs SET skip_count = 1 WHERE status OPERATOR(pg_catalog.=) 'skipped';
COMMENT ON COLUMN bulk_ingest.runs.skip_count IS
    'Skipped runs: how many due ticks found the same run still in flight (the first at started_at, the last at finished_at); NULL for other runs';

-- ---- reliability (issue 10): rejected records (options.on_error = 'skip') ----------------------------------------
-- A record that cannot be loaded (not valid JSON, a CSV row of the wrong width, a value its column's type refuses,
-- NULL for NOT NULL, too long for varchar(n), ...) is kept here instead of failing its batch; the rejects of a batch
-- commit with it. A run's rows go when the run is pruned from the history.
CREATE TABLE bulk_ingest.rejects (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id      bigint NOT NULL REFERENCES bulk_ingest.runs (id) ON DELETE CASCADE,
    source      text NOT NULL,
    batch       integer NOT NULL,
    url         text,                 -- the page the record came from (secrets redacted)
    line        bigint,               -- its line in the response (ndjson, csv) or its index in the array (json)
    "column"    text,                 -- the column whose value was refused, when one was
    error       text NOT NULL,
    record      text,                 -- the record as read (at most 1 kB of it), or the text near the error
    owner       regrole NOT NULL,
    rejected_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX rejects_run_id_idx ON bulk_ingest.rejects (run_id);
CREATE INDEX rejects_source_idx ON bulk_ingest.rejects (source, id);
COMMENT ON TABLE bulk_ingest.rejects IS
    'Records that runs with options.on_error = ''skip'' could not load, with where they were and why';
REVOKE ALL ON bulk_ingest.rejects FROM PUBLIC;
GRANT SELECT ON bulk_ingest.rejects TO bulk_ingest_user;
ALTER TABLE bulk_ingest.rejects ENABLE ROW LEVEL SECURITY;
CREATE POLICY owner_rows ON bulk_ingest.rejects FOR SELECT
    USING (pg_catalog.pg_has_role(owner::oid, 'USAGE'));
COMMENT ON COLUMN bulk_ingest.rejects.id IS 'The reject''s id, in the order records were rejected';
COMMENT ON COLUMN bulk_ingest.rejects.run_id IS 'The run that rejected the record (the row goes with the run''s history)';
COMMENT ON COLUMN bulk_ingest.rejects.source IS 'The source the record came from';
COMMENT ON COLUMN bulk_ingest.rejects.batch IS 'The batch of the run the record belonged to (committed with it)';
COMMENT ON COLUMN bulk_ingest.rejects.url IS 'The page the record came from (secrets shown as ***)';
COMMENT ON COLUMN bulk_ingest.rejects.line IS
    'Where the record was: its line in the response (ndjson, csv) or its index in the array (json)';
COMMENT ON COLUMN bulk_ingest.rejects."column" IS 'The column whose value was refused; NULL when the record as a whole was';
COMMENT ON COLUMN bulk_ingest.rejects.error IS 'Why the record could not be loaded';
COMMENT ON COLUMN bulk_ingest.rejects.record IS 'The record as read (at most 1 kB of it), or the text near the error';
COMMENT ON COLUMN bulk_ingest.rejects.owner IS 'The source''s owner when the record was rejected (who may see the row)';
COMMENT ON COLUMN bulk_ingest.rejects.rejected_at IS 'When the record was rejected';

ALTER TABLE bulk_ingest.runs ADD COLUMN rejected bigint NOT NULL DEFAULT 0;
COMMENT ON COLUMN bulk_ingest.runs.rejected IS
    'Records the run rejected (options.on_error = ''skip''), committed with their batches: see bulk_ingest.rejects';
