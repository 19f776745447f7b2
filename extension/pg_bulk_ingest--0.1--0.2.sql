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
