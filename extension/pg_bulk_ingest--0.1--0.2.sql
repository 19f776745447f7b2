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

ALTER TABLE bulk_ingest.runs ADD COLUMN rejected bigint NOT NULL DEFAULT 0;
COMMENT ON COLUMN bulk_ingest.runs.rejected IS
    'Records the run rejected (options.on_error = ''skip''), committed with their batches: see bulk_ingest.rejects';
