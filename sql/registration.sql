-- bulk_ingest_register: a declaration is checked whole at registration, not at run time.
-- The sources below are on loopback, which the default bulk_ingest.allowed_hosts (public) refuses; whatever the
-- server's configuration, this session and the runs' workers (new sessions of this database) allow 127.0.0.1 only.
SET bulk_ingest.allowed_hosts = '127.0.0.1';
SELECT format('ALTER DATABASE %I SET bulk_ingest.allowed_hosts = %L', current_database(), '127.0.0.1') \gexec
SELECT bulk_ingest_register('refused', 'http://127.0.0.2:8080/x', 'public.refused', '[{"name": "a", "type": "text"}]');
SELECT bulk_ingest_register('refused', 'http://[::1]:8080/x', 'public.refused', '[{"name": "a", "type": "text"}]');
SET bulk_ingest.allowed_hosts = '127.0.0.1, 10.0.0.0/33';
CREATE SCHEMA shop;
SELECT source, url, target, format, high_watermark_column, upsert, "delete", options, owner = current_user::regrole AS owned
  FROM bulk_ingest_register(
    source  => 'orders',
    url     => 'http://127.0.0.1:8080/orders?since={high_watermark}',
    target  => 'shop.orders',
    columns => '[{"name": "id",         "type": "bigint", "primary_key": true},
                 {"name": "customer",   "type": "text",   "nullable": false},
                 {"name": "amount",     "type": "numeric(12,2)"},
                 {"name": "updated_at", "type": "timestamptz"},
                 {"name": "details",    "type": "jsonb",  "path": "/meta"}]',
    high_watermark_column => 'updated_at');
SELECT jsonb_array_length(columns) FROM bulk_ingest.sources WHERE source = 'orders';

-- Re-declaring replaces the declaration (the declaration is the truth) and keeps the creation time.
SELECT created_at AS first_created FROM bulk_ingest.sources WHERE source = 'orders' \gset
SELECT source, url, upsert, options FROM bulk_ingest_register('orders', 'https://example.invalid/v2/orders',
    'shop.orders', '[{"name": "id", "type": "bigint", "primary_key": true}]', upsert => 'off',
    options => '{"batch_rows": 500}');
SELECT created_at = :'first_created' AS created_at_kept, updated_at >= created_at AS updated
  FROM bulk_ingest.sources WHERE source = 'orders';
SELECT count(*) FROM bulk_ingest.sources;

-- Each invalid argument is refused with a message that names it.
SELECT bulk_ingest_register('bad', 'http://h/', 't', '[{"name": "a", "type": "text"}]', format => 'xml');
SELECT bulk_ingest_register('bad', 'http://h/', 't', '[{"name": "a", "type": "text"}]', upsert => 'always');
SELECT bulk_ingest_register('bad', 'http://h/', 't', '[{"name": "a", "type": "text"}]', "delete" => 'sometimes');
SELECT bulk_ingest_register('bad', 'http://h/', 't', '[{"name": "a", "type": "no_such_type"}]');
SELECT bulk_ingest_register('bad', 'http://h/', 't', '[{"name": "a", "type": "int); DROP TABLE x; --"}]');
SELECT bulk_ingest_register('bad', 'http://h/', 't', '[{"name": "a", "type": "text", "path": "no/slash"}]');
SELECT bulk_ingest_register('bad', 'http://h/', 't', '[{"name": "a", "type": "text", "path": "/bad~2escape"}]');
SELECT bulk_ingest_register('bad', 'http://h/', 't', '[]');
SELECT bulk_ingest_register('bad', 'http://h/', 't', '{"a": "text"}');
SELECT bulk_ingest_register('bad', 'http://h/', 't', '[{"name": "a", "type": "text"}, {"name": "a", "type": "int"}]');
SELECT bulk_ingest_register('bad', 'http://h/', 't', '[{"name": "a", "type": "text", "unique": true}]');
SELECT bulk_ingest_register('bad', 'file:///etc/passwd', 't', '[{"name": "a", "type": "text"}]');
SELECT bulk_ingest_register('bad', 'ftp://h/x', 't', '[{"name": "a", "type": "text"}]');
SELECT bulk_ingest_register('bad', 'not a url', 't', '[{"name": "a", "type": "text"}]');
SELECT bulk_ingest_register('bad', 'http://h/', 'a.b.c.d', '[{"name": "a", "type": "text"}]');
SELECT bulk_ingest_register('bad', 'http://h/', 't', '[{"name": "a", "type": "text"}]', high_watermark_column => 'b');
SELECT bulk_ingest_register('bad', 'http://h/', 't', '[{"name": "a", "type": "json"}]', high_watermark_column => 'a');
SELECT bulk_ingest_register('bad', 'http://h/', 't', '[{"name": "a", "type": "text"}]', options => '{"batch_rows": 0}');
SELECT bulk_ingest_register('bad', 'http://h/', 't', '[{"name": "a", "type": "text"}]', options => '{"retries": 3}');
SELECT bulk_ingest_register('', 'http://h/', 't', '[{"name": "a", "type": "text"}]');
SELECT bulk_ingest_register(NULL, 'http://h/', 't', '[{"name": "a", "type": "text"}]');
SELECT count(*) AS nothing_registered FROM bulk_ingest.sources WHERE source IN ('bad', '');

-- Nothing is executable by PUBLIC: a role that is not a member of bulk_ingest_user may call nothing.
CREATE ROLE regress_outsider LOGIN;
SET ROLE regress_outsider;
SELECT bulk_ingest_register('mine', 'http://127.0.0.1:1/x', 'public.mine', '[{"name": "id", "type": "bigint"}]');
SELECT bulk_ingest_run('orders');
SELECT bulk_ingest_get_secret('orders', 'token');
RESET ROLE;
DROP ROLE regress_outsider;

-- Only the owner (or a member, or a superuser) may re-declare, run or unregister a source.
CREATE ROLE regress_intruder LOGIN IN ROLE bulk_ingest_user;
GRANT CREATE ON SCHEMA public TO regress_intruder;
SET ROLE regress_intruder;
SELECT bulk_ingest_register('orders', 'http://evil.invalid/', 'public.stolen', '[{"name": "id", "type": "bigint"}]');
SELECT bulk_ingest_run('orders');
SELECT bulk_ingest_unregister('orders');
SELECT bulk_ingest_run('no_such_source');
-- A source belongs to whoever registers it.
SELECT source, owner FROM bulk_ingest_register('mine', 'http://127.0.0.1:1/x', 'public.mine',
    '[{"name": "id", "type": "bigint"}]');
-- ... and each role sees its own sources only.
SELECT source FROM bulk_ingest.sources ORDER BY source;
RESET ROLE;
SELECT source FROM bulk_ingest.sources ORDER BY source;

-- A run that cannot connect fails cleanly: the error says why, and the run is recorded.
SELECT source FROM bulk_ingest_register('unreachable', 'http://127.0.0.1:1/data?since={high_watermark}',
    'public.unreachable', '[{"name": "id", "type": "bigint"}]', options => '{"max_retries": 0}');
DO $$
BEGIN
    PERFORM bulk_ingest_run('unreachable');
    RAISE EXCEPTION 'the run should have failed';
EXCEPTION WHEN external_routine_exception THEN
    RAISE NOTICE 'run failed as expected: %', SQLERRM ~ 'batch 1 \(http://127\.0\.0\.1:1/data\?since=\): .*(refused|connect)';
END $$;
SELECT status, batches, rows, error ~ 'refused|connect' AS says_why, finished_at IS NOT NULL AS finished
  FROM bulk_ingest.runs WHERE source = 'unreachable';

-- Unregistering forgets the declaration and the watermark, and keeps the history.
SELECT bulk_ingest_unregister('unreachable');
SELECT count(*) AS sources FROM bulk_ingest.sources WHERE source = 'unreachable';
SELECT count(*) AS runs_kept FROM bulk_ingest.runs WHERE source = 'unreachable';
SELECT bulk_ingest_unregister('unreachable');
SELECT bulk_ingest_unregister('mine');
REVOKE CREATE ON SCHEMA public FROM regress_intruder;
DROP ROLE regress_intruder;

-- options.indexes and options.partition_by are built on a scratch table at registration: every mistake names the
-- option, and SQL text is one expression, never more. A refusal is shown as its SQLSTATE, PostgreSQL's message and
-- the option it names (in the message or its context); the SQL the extension generates to check a declaration is
-- not part of its interface, so it is not shown.
CREATE FUNCTION pg_temp.register_refused(columns jsonb, options jsonb, delete_mode text DEFAULT 'off')
RETURNS TABLE (state text, message text, names text) LANGUAGE plpgsql AS $$
DECLARE
    context text;
BEGIN
    PERFORM bulk_ingest_register('ix', 'http://h/', 'ix_t', columns, "delete" => delete_mode, options => options);
    state := 'accepted';
    RETURN NEXT;
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, message = MESSAGE_TEXT, context = PG_EXCEPTION_CONTEXT;
    names := substring(message || ' ' || context FROM 'options\.[a-z_]+(?:\[[0-9]+\])?(?:\.[a-z_]+)?');
    RETURN NEXT;
END $$;
SELECT count(*) AS relations_before FROM pg_class \gset
\set an '[{"name": "a", "type": "text"}, {"name": "n", "type": "int"}]'
SELECT * FROM pg_temp.register_refused(:'an', '{"indexes": [{"columns": ["a"]}, {"columns": ["b"]}]}');
SELECT * FROM pg_temp.register_refused(:'an', '{"indexes": [{"columns": ["a"], "using": "no_such_method"}]}');
SELECT * FROM pg_temp.register_refused(:'an', '{"indexes": [{"expression": "no_such_function(a)"}]}');
SELECT * FROM pg_temp.register_refused(:'an',
    '{"indexes": [{"expression": "lower(a)); DROP TABLE bulk_ingest.sources; --"}]}');
SELECT * FROM pg_temp.register_refused(:'an',
    '{"indexes": [{"columns": ["a"], "where": "true) WITH (fillfactor = 10"}]}');
SELECT * FROM pg_temp.register_refused(:'an', '{"indexes": [{"columns": ["a"], "where": "a >"}]}');
SELECT * FROM pg_temp.register_refused(:'an', '{"partition_by": "RANGE (n)); DROP TABLE x; --"}');
-- PostgreSQL's rules for partitioned tables: a unique index, and the primary key, must include the partition key.
SELECT * FROM pg_temp.register_refused(
    '[{"name": "a", "type": "text", "primary_key": true}, {"name": "n", "type": "int", "primary_key": true}]',
    '{"partition_by": "RANGE (n)", "indexes": [{"columns": ["a"], "unique": true}]}');
SELECT * FROM pg_temp.register_refused('[{"name": "a", "type": "text", "primary_key": true}, {"name": "n", "type": "int"}]',
    '{"partition_by": "RANGE (n)"}');
SELECT * FROM pg_temp.register_refused(:'an', '{"partition_by": "RANGE (n)"}', 'before_first_batch');
SELECT count(*) AS sources_registered FROM bulk_ingest.sources WHERE source = 'ix';
SELECT (bulk_ingest_register('ix', 'http://h/', 'ix_t', '[{"name": "a", "type": "text"}, {"name": "n", "type": "int"}]',
    options => '{"indexes": [{"expression": "lower(a)"}, {"columns": ["n"], "where": "n > 0", "unique": true}], "partition_by": "LIST (n)"}')).source
    AS registered;
-- Checking a declaration leaves nothing behind: no target yet, no scratch table.
SELECT to_regclass('ix_t') IS NULL AS no_table_yet, (SELECT count(*) FROM pg_class) = :relations_before AS nothing_left;
SELECT bulk_ingest_unregister('ix');

-- Issue 12: what a run could not honour is refused at registration. A run creates its table, never its schema; a
-- header watermark versions one document; the forms of {high_watermark} must apply to its column; window placeholders
-- need windows; options.lag fits its watermark; options.on_status, options.method and options.body say something valid.
SELECT bulk_ingest_register('r12', 'http://h/', 'no_such_schema.t', '[{"name": "a", "type": "text"}]');
SELECT bulk_ingest_register('r12', 'http://h/', 't', '[{"name": "a", "type": "text"}]',
    options => '{"high_watermark_path": "header:ETag", "pagination": {"type": "link_header"}}');
SELECT bulk_ingest_register('r12', 'http://h/?s={high_watermark:epoch}', 't', '[{"name": "n", "type": "bigint"}]',
    high_watermark_column => 'n');
SELECT bulk_ingest_register('r12', 'http://h/?s={high_watermark:epoc}', 't', '[{"name": "n", "type": "timestamptz"}]',
    high_watermark_column => 'n');
SELECT bulk_ingest_register('r12', 'http://h/?from={window_start}', 't', '[{"name": "n", "type": "timestamptz"}]');
SELECT bulk_ingest_register('r12', 'http://h/', 't', '[{"name": "n", "type": "timestamptz"}]',
    high_watermark_column => 'n', options => '{"lag": "two hours"}');
SELECT bulk_ingest_register('r12', 'http://h/', 't', '[{"name": "n", "type": "bigint"}]',
    high_watermark_column => 'n', options => '{"lag": "1 hour"}');
SELECT bulk_ingest_register('r12', 'http://h/?from={window_start}', 't', '[{"name": "n", "type": "timestamptz"}]',
    options => '{"window": {"step": "0 days", "start": "2024-01-01T00:00:00Z"}}');
SELECT bulk_ingest_register('r12', 'http://h/', 't', '[{"name": "n", "type": "timestamptz"}]',
    options => '{"on_status": {"200": "end"}}');
SELECT bulk_ingest_register('r12', 'http://h/', 't', '[{"name": "n", "type": "timestamptz"}]',
    options => '{"method": "GET", "body": {"since": "{high_watermark}"}}');
SELECT bulk_ingest_register('r12', 'http://h/', 't', '[{"name": "n", "type": "timestamptz"}]',
    format => 'csv', options => '{"csv": {"missing_fields": "skip"}}');
SELECT count(*) AS sources_registered FROM bulk_ingest.sources WHERE source = 'r12';
