-- The upgrade path, walked as pg_cron's regression walks its own: the first released version (0.1) with what it
-- held, then ALTER EXTENSION UPDATE.
DROP EXTENSION pg_bulk_ingest;
CREATE EXTENSION pg_bulk_ingest VERSION '0.1';
SELECT extversion FROM pg_extension WHERE extname = 'pg_bulk_ingest';
CREATE ROLE regress_upgrade_owner LOGIN;
-- What 0.1 wrote: a source of an ordinary role, with a target named without a schema, its watermark, its history and
-- its secret.
INSERT INTO bulk_ingest.sources (source, url, target, columns, format, high_watermark_column, upsert, "delete",
                                 options, owner, schedule, next_run_at)
VALUES ('legacy', 'http://127.0.0.1:1/legacy?since={high_watermark}', 'legacy_orders',
        '[{"name": "id", "type": "bigint", "primary_key": true}, {"name": "at", "type": "timestamptz"}]', 'ndjson',
        'at', 'if_primary_key', 'off', '{"headers": {"Authorization": "Bearer {secret:token}"}}',
        'regress_upgrade_owner', '1 hour', now() + interval '1 hour');
INSERT INTO bulk_ingest.watermarks (source, value) VALUES ('legacy', '2024-01-01 10:00:00+00');
INSERT INTO bulk_ingest.runs (source, status, finished_at, batches, rows, high_watermark_after)
VALUES ('legacy', 'succeeded', now(), 2, 10, '2024-01-01 10:00:00+00'),
       ('legacy', 'failed', now(), 0, 0, '2024-01-01 10:00:00+00');
INSERT INTO bulk_ingest.secrets (source, name, value) VALUES ('legacy', 'token', 'legacy-t0ken');

-- This library does not touch a catalog of another version, and says what to do.
SELECT bulk_ingest_run('legacy');
SELECT bulk_ingest_register('x', 'http://127.0.0.1:1/', 'public.x', '[{"name": "a", "type": "text"}]');
SELECT bulk_ingest_unregister('legacy');

ALTER EXTENSION pg_bulk_ingest UPDATE;
SELECT extversion FROM pg_extension WHERE extname = 'pg_bulk_ingest';
SELECT source, url, target, format, high_watermark_column, options, owner, schedule FROM bulk_ingest.sources;
SELECT source, value FROM bulk_ingest.watermarks;
SELECT id, source, status, batches, rows, high_watermark_after, owner FROM bulk_ingest.runs ORDER BY id;
SELECT pg_has_role('regress_upgrade_owner', 'bulk_ingest_user', 'MEMBER') AS owner_is_a_member;
SELECT bulk_ingest_get_secret('legacy', 'token');
SET ROLE regress_upgrade_owner;
SELECT source, state, last_status, consecutive_failures, high_watermark FROM bulk_ingest.source_status;
SELECT bulk_ingest_get_secret('legacy', 'token');
RESET ROLE;
SELECT bulk_ingest_unregister('legacy');

ALTER EXTENSION pg_bulk_ingest UPDATE;
SELECT extversion FROM pg_extension WHERE extname = 'pg_bulk_ingest';
SELECT source, url, target, format, high_watermark_column, options, owner, schedule FROM bulk_ingest.sources;
SELECT source, value FROM bulk_ingest.watermarks;
SELECT id, source, status, batches, rows, high_watermark_after, owner FROM bulk_ingest.runs ORDER BY id;
SELECT pg_has_role('regress_upgrade_owner', 'bulk_ingest_user', 'MEMBER') AS owner_is_a_member;
SELECT bulk_ingest_get_secret('legacy', 'token');
SET ROLE regress_upgrade_owner;
SELECT source, state, last_status, consecutive_failures, high_watermark FROM bulk_ingest.source_status;
SELECT bulk_ingest_get_secret('legacy', 'token');
RESET ROLE;
-- The upgraded extension has the objects a fresh one has.
SELECT count(*) AS functions FROM pg_proc p JOIN pg_depend d ON d.objid = p.oid AND d.deptype = 'e'
  JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'pg_bulk_ingest';
SELECT bulk_ingest_unregister('legacy');
DELETE FROM bulk_ingest.runs;
REVOKE bulk_ingest_user FROM regress_upgrade_owner;
DROP ROLE regress_upgrade_owner;
