-- The catalog and the SQL interface: names are fixed, later work and users rely on them.
\dt bulk_ingest.*
\d bulk_ingest.sources
\d bulk_ingest.watermarks
\d bulk_ingest.runs
\d bulk_ingest.rejects
SELECT p.proname, pg_get_function_arguments(p.oid) AS arguments, pg_get_function_result(p.oid) AS result
  FROM pg_proc p JOIN pg_depend d ON d.objid = p.oid AND d.deptype = 'e'
  JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'pg_bulk_ingest'
 ORDER BY p.proname;

-- The catalog is for members of bulk_ingest_user, who see the rows of their own sources only; nobody but the
-- extension writes it, and only superusers read the secrets.
CREATE ROLE regress_catalog_outsider LOGIN;
SET ROLE regress_catalog_outsider;
SELECT count(*) FROM bulk_ingest.sources;
RESET ROLE;
DROP ROLE regress_catalog_outsider;
SELECT relname, relrowsecurity FROM pg_class WHERE relnamespace = 'bulk_ingest'::regnamespace AND relkind = 'r'
 ORDER BY relname;
SELECT p.proname, has_function_privilege('public', p.oid, 'EXECUTE') AS public_may_execute,
       has_function_privilege('bulk_ingest_user', p.oid, 'EXECUTE') AS users_may_execute
  FROM pg_proc p JOIN pg_depend d ON d.objid = p.oid AND d.deptype = 'e'
  JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'pg_bulk_ingest'
 ORDER BY p.proname;
CREATE ROLE regress_catalog_reader LOGIN IN ROLE bulk_ingest_user;
SET ROLE regress_catalog_reader;
SELECT count(*) FROM bulk_ingest.sources;
SELECT count(*) FROM bulk_ingest.runs;
SELECT count(*) FROM bulk_ingest.secrets;
INSERT INTO bulk_ingest.sources (source, url, target, columns, format, upsert, "delete", owner)
VALUES ('forged', 'http://x/', 't', '[]', 'ndjson', 'off', 'off', 'regress_catalog_reader');
UPDATE bulk_ingest.watermarks SET value = 'forged';
DELETE FROM bulk_ingest.runs;
RESET ROLE;
DROP ROLE regress_catalog_reader;
