-- The arguments of every function, and every error a user can meet without a network: each refusal names what is
-- wrong, and changes nothing.
CREATE SCHEMA fn;
SELECT source FROM bulk_ingest_register('fn_orders', 'http://127.0.0.1:1/orders?since={high_watermark}', 'fn.orders',
    '[{"name": "id", "type": "bigint", "primary_key": true}, {"name": "at", "type": "timestamptz"}]',
    high_watermark_column => 'at', options => '{"max_retries": 0}');

-- bulk_ingest_run, bulk_ingest_start, bulk_ingest_cancel, bulk_ingest_unregister, bulk_ingest_get_secret are STRICT:
-- a NULL argument gives NULL and does nothing.
SELECT bulk_ingest_run(NULL) IS NULL AS run_null, bulk_ingest_start(NULL) IS NULL AS start_null,
       bulk_ingest_cancel(NULL) IS NULL AS cancel_null, bulk_ingest_get_secret('fn_orders', NULL) IS NULL AS secret_null;
SELECT bulk_ingest_run('no_such_source');
SELECT bulk_ingest_start('no_such_source');
SELECT bulk_ingest_cancel(-1);
SELECT bulk_ingest_unregister('no_such_source');

-- bulk_ingest_schedule: an interval (the launcher) or a cron schedule (pg_cron), as an interval or as text.
SELECT bulk_ingest_schedule(NULL, interval '1 hour');
SELECT bulk_ingest_schedule(NULL, '1 hour');
SELECT bulk_ingest_schedule('no_such_source', interval '1 hour');
SELECT bulk_ingest_schedule('fn_orders', interval '-1 hour');
SELECT bulk_ingest_schedule('fn_orders', interval '0');
SELECT bulk_ingest_schedule('fn_orders', 'every fortnight');
SELECT bulk_ingest_schedule('fn_orders', '61 * * * *');
SELECT bulk_ingest_schedule('fn_orders', '* * * * 8');
SELECT bulk_ingest_schedule('fn_orders', '* * * *  * *');
SELECT bulk_ingest_schedule('fn_orders', '@sometimes');
SELECT bulk_ingest_schedule('fn_orders', '*/5 * * * *');
SELECT schedule, next_run_at FROM bulk_ingest.sources WHERE source = 'fn_orders';
SET client_min_messages = error;  -- without the launcher, scheduling warns that nothing runs the schedule
SELECT bulk_ingest_schedule('fn_orders', '90 minutes');
RESET client_min_messages;
SELECT schedule, next_run_at IS NOT NULL AS due FROM bulk_ingest.sources WHERE source = 'fn_orders';
SELECT bulk_ingest_schedule('fn_orders', NULL);
SELECT schedule, next_run_at FROM bulk_ingest.sources WHERE source = 'fn_orders';

-- Secrets.
SELECT bulk_ingest_set_secret(NULL, 'token', 'v');
SELECT bulk_ingest_set_secret('fn_orders', NULL, 'v');
SELECT bulk_ingest_set_secret('no_such_source', 'token', 'v');
SELECT bulk_ingest_set_secret('fn_orders', 'not a name!', 'value-never-shown');
SELECT bulk_ingest_set_secret('fn_orders', repeat('x', 65), 'value-never-shown');
SELECT bulk_ingest_set_secret('fn_orders', '', 'value-never-shown');
SELECT bulk_ingest_set_secret('fn_orders', 'token', 's3cr3t');
SELECT bulk_ingest_get_secret('fn_orders', 'token'), bulk_ingest_get_secret('fn_orders', 'other');
SELECT bulk_ingest_set_secret('fn_orders', 'token', NULL);
SELECT bulk_ingest_get_secret('fn_orders', 'token');
SELECT bulk_ingest_get_secret('no_such_source', 'token');
-- A reference to a secret that is not set fails the run before any request, naming it.
SELECT source FROM bulk_ingest_register('fn_secret', 'http://127.0.0.1:1/s?key={secret:api_key}', 'fn.secret',
    '[{"name": "id", "type": "bigint"}]');
SELECT bulk_ingest_preview('fn_secret');

-- bulk_ingest_set_owner is for superusers.
CREATE ROLE regress_fn_member LOGIN IN ROLE bulk_ingest_user;
SELECT bulk_ingest_set_owner('fn_orders', 'regress_no_such_role');
SELECT bulk_ingest_set_owner('no_such_source', 'regress_fn_member');
SELECT bulk_ingest_set_owner(NULL, 'regress_fn_member') IS NULL AS set_owner_null;
SET ROLE regress_fn_member;
SELECT bulk_ingest_set_owner('fn_orders', 'regress_fn_member');
SELECT bulk_ingest_preview('fn_orders');
SELECT bulk_ingest_schedule('fn_orders', '1 hour');
SELECT bulk_ingest_set_secret('fn_orders', 'token', 'v');
SELECT bulk_ingest_get_secret('fn_orders', 'token');
RESET ROLE;

-- bulk_ingest_preview: n = 0 checks without a request. What a run would do, and the errors a run would raise first.
SELECT bulk_ingest_preview(NULL);
SELECT bulk_ingest_preview('fn_orders', NULL);
SELECT bulk_ingest_preview('fn_orders', -1);
SELECT bulk_ingest_preview('no_such_source');
SELECT action, reason, url, rows, high_watermark, preview FROM bulk_ingest_preview('fn_orders', 0);
CREATE TABLE fn.orders (id bigint PRIMARY KEY, at timestamptz);
SELECT action, reason FROM bulk_ingest_preview('fn_orders', 0);
INSERT INTO fn.orders VALUES (1, '2024-01-01 00:00:00+00');
SELECT action, reason FROM bulk_ingest_preview('fn_orders', 0);
ALTER TABLE fn.orders ADD COLUMN extra text;
SELECT action, reason FROM bulk_ingest_preview('fn_orders', 0);
DROP TABLE fn.orders;
CREATE VIEW fn.orders AS SELECT 1 AS id, now() AS at;
SELECT bulk_ingest_preview('fn_orders', 0);
DROP VIEW fn.orders;
-- A target in a schema that does not exist is refused at registration; one whose schema went away since, by the preview.
SELECT source FROM bulk_ingest_register('fn_noschema', 'http://127.0.0.1:1/', 'no_such_schema.t',
    '[{"name": "id", "type": "bigint"}]');
CREATE SCHEMA fn_gone;
SELECT source FROM bulk_ingest_register('fn_noschema', 'http://127.0.0.1:1/', 'fn_gone.t',
    '[{"name": "id", "type": "bigint"}]');
DROP SCHEMA fn_gone;
SELECT bulk_ingest_preview('fn_noschema', 0);
-- As the owner: no CREATE on the schema, then no INSERT on the table.
GRANT CREATE ON SCHEMA public TO regress_fn_member;
SET ROLE regress_fn_member;
SELECT source FROM bulk_ingest_register('fn_member', 'http://127.0.0.1:1/', 'fn.member',
    '[{"name": "id", "type": "bigint", "primary_key": true}]');
SELECT bulk_ingest_preview('fn_member', 0);
RESET ROLE;
CREATE TABLE fn.member (id bigint PRIMARY KEY);
GRANT USAGE ON SCHEMA fn TO regress_fn_member;
SET ROLE regress_fn_member;
SELECT bulk_ingest_preview('fn_member', 0);
RESET ROLE;
GRANT INSERT ON fn.member TO regress_fn_member;
SET ROLE regress_fn_member;
SELECT bulk_ingest_preview('fn_member', 0);
RESET ROLE;
GRANT UPDATE, SELECT ON fn.member TO regress_fn_member;
SET ROLE regress_fn_member;
SELECT action, reason FROM bulk_ingest_preview('fn_member', 0);
RESET ROLE;
-- The request itself: connection refused on port 1 is named with the URL.
DO $$
BEGIN
    PERFORM bulk_ingest_preview('fn_orders', 1);
EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE 'preview failed: %', SQLERRM ~ '^source "fn_orders": preview: .*http://127\.0\.0\.1:1/orders\?since=';
END $$;
SELECT count(*) AS nothing_ran FROM bulk_ingest.runs WHERE source IN ('fn_orders', 'fn_member', 'fn_secret');

-- bulk_ingest_infer_columns: the URL and the options are checked as registration checks them, before any request.
SELECT bulk_ingest_infer_columns(NULL);
SELECT bulk_ingest_infer_columns('http://127.0.0.1:1/', NULL);
SELECT bulk_ingest_infer_columns('http://127.0.0.1:1/', 'ndjson', NULL);
SELECT bulk_ingest_infer_columns('http://127.0.0.1:1/', 'xml');
SELECT bulk_ingest_infer_columns('file:///etc/passwd');
SELECT bulk_ingest_infer_columns('ftp://127.0.0.1/x');
SELECT bulk_ingest_infer_columns('not a url');
SELECT bulk_ingest_infer_columns('http://127.0.0.1:1/', options => '{"retries": 1}');
SELECT bulk_ingest_infer_columns('http://127.0.0.1:1/', options => '[]');
SELECT bulk_ingest_infer_columns('http://127.0.0.1:1/', options => '{"records_path": "/data"}');
SELECT bulk_ingest_infer_columns('http://127.0.0.1:1/', 'csv', options => '{"csv": {"delimiter": "ab"}}');
SELECT bulk_ingest_infer_columns('http://127.0.0.1:1/', options => '{"pagination": {"type": "next_url", "path": "/n"}}');
SELECT bulk_ingest_infer_columns('http://127.0.0.1:1/?key={secret:k}');
SELECT bulk_ingest_infer_columns('http://127.0.0.1:1/', options => '{"headers": {"Authorization": "Bearer {secret:t}"}}');
SELECT bulk_ingest_infer_columns('http://127.0.0.1:1/', options => '{"basic_auth": {"username": "u", "password": "{secret:pw}"}}');
DO $$
BEGIN
    PERFORM bulk_ingest_infer_columns('http://127.0.0.1:1/');
EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE 'infer failed: %', SQLERRM ~ '^bulk_ingest_infer_columns: could not fetch "http://127\.0\.0\.1:1/": .*refused';
END $$;

-- The views: every registered source has a status; nothing is in flight.
SELECT source, state, last_run_id, consecutive_failures, rows_last_24h, schedule, cron_schedule, next_run_at
  FROM bulk_ingest.source_status WHERE source LIKE 'fn\_%' ORDER BY source;
SELECT count(*) AS in_flight FROM bulk_ingest.progress;

SELECT bulk_ingest_unregister(source) FROM bulk_ingest.sources WHERE source LIKE 'fn\_%' ORDER BY source;
REVOKE CREATE ON SCHEMA public FROM regress_fn_member;
DROP OWNED BY regress_fn_member;
DROP ROLE regress_fn_member;
DROP SCHEMA fn CASCADE;
