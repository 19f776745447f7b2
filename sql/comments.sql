-- Every function, table, view, column and setting of the extension has a comment, so that \df+, \d+ and
-- \dconfig+ (pg_settings) explain themselves. Each query lists what lacks one: it must list nothing.
LOAD 'pg_bulk_ingest';
SELECT pg_describe_object(d.classid, d.objid, 0) AS uncommented
  FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'pg_bulk_ingest'
 WHERE d.deptype = 'e'
   AND ((d.classid = 'pg_proc'::regclass AND obj_description(d.objid, 'pg_proc') IS NULL)
     OR (d.classid = 'pg_namespace'::regclass AND obj_description(d.objid, 'pg_namespace') IS NULL)
     OR (d.classid = 'pg_class'::regclass AND obj_description(d.objid, 'pg_class') IS NULL
         AND (SELECT relkind FROM pg_class WHERE oid = d.objid) IN ('r', 'v', 'm', 'p')))
 ORDER BY 1;
SELECT c.relname, a.attname AS uncommented_column
  FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
 WHERE c.relnamespace = 'bulk_ingest'::regnamespace AND c.relkind IN ('r', 'v')
   AND col_description(c.oid, a.attnum) IS NULL
 ORDER BY 1, 2;
SELECT name AS undescribed_setting FROM pg_settings
 WHERE name LIKE 'bulk_ingest.%' AND coalesce(short_desc, '') = '';
SELECT shobj_description('bulk_ingest_user'::regrole, 'pg_authid') IS NOT NULL AS role_commented;
