-- The catalog and the SQL interface: names are fixed, later work and users rely on them.
\dt bulk_ingest.*
\d bulk_ingest.sources
\d bulk_ingest.watermarks
\d bulk_ingest.runs
SELECT p.proname, pg_get_function_arguments(p.oid) AS arguments, pg_get_function_result(p.oid) AS result
  FROM pg_proc p JOIN pg_depend d ON d.objid = p.oid AND d.deptype = 'e'
  JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'pg_bulk_ingest'
 ORDER BY p.proname;

-- Everyone may read the catalog; nobody but the extension writes it.
CREATE ROLE catalog_reader LOGIN;
SET ROLE catalog_reader;
SELECT count(*) FROM bulk_ingest.sources;
SELECT count(*) FROM bulk_ingest.runs;
INSERT INTO bulk_ingest.sources (source, url, target, columns, format, upsert, "delete", owner)
VALUES ('forged', 'http://x/', 't', '[]', 'ndjson', 'off', 'off', 'catalog_reader');
UPDATE bulk_ingest.watermarks SET value = 'forged';
DELETE FROM bulk_ingest.runs;
RESET ROLE;
DROP ROLE catalog_reader;
