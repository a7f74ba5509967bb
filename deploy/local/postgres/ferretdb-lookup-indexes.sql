-- ferretdb-lookup-indexes.sql - makes FerretDB 1.x's equality lookups use an
-- index on the local stack's PostgreSQL (docs/decisions/0008).
--
-- FerretDB turns a pushed-down equality {field: value} into
--     _jsonb -> 'field' @> '"value"'
-- and builds each MongoDB index as a B-tree over (_jsonb -> 'field'). A
-- B-tree cannot answer @>, so every lookup by _id or id was a full table
-- scan (60 ms at 100,000 tickets). Two changes fix that without touching
-- FerretDB:
--
-- 1. For each B-tree FerretDB creates whose first key is a JSON path
--    (_jsonb -> 'a' [-> 'b' ...]), an event trigger creates a GIN index
--    (jsonb_path_ops, which answers @>) on the same expression. The trigger
--    runs in the same transaction as FerretDB's CREATE INDEX, so the two
--    come and go together (a dropped collection drops its table and both).
-- 2. FerretDB sends its queries as prepared statements with the JSON key as
--    a bind parameter; a generic plan cannot match an index expression, so
--    plan_cache_mode = force_custom_plan makes PostgreSQL plan each execution
--    with its values (the planning costs about 0.1 ms).
--
-- Applied by deploy/local/stack-up to the FerretDB database on every start;
-- idempotent. The backfill at the end covers tables created before it. The
-- cluster is the stack's own, so the setting is server-wide, and the reload
-- applies it to sessions that are already open.

SET client_min_messages = warning;
ALTER SYSTEM SET plan_cache_mode = force_custom_plan;
SELECT pg_reload_conf();

CREATE OR REPLACE FUNCTION triage_gin_for(btree_index oid) RETURNS void
LANGUAGE plpgsql AS $fn$
DECLARE
   tbl regclass;
   idx_name text;
   am text;
   first_key text;
   gin_name text;
BEGIN
   SELECT i.indrelid::regclass, c.relname, a.amname,
          pg_get_indexdef(i.indexrelid, 1, false)
     INTO tbl, idx_name, am, first_key
     FROM pg_index i
     JOIN pg_class c ON c.oid = i.indexrelid
     JOIN pg_am a ON a.oid = c.relam
    WHERE i.indexrelid = btree_index;
   IF am IS DISTINCT FROM 'btree' THEN
      RETURN; -- also stops the trigger from recursing on its own GIN index
   END IF;
   -- Only a JSON path over the document: (_jsonb -> 'a'::text) -> 'b'::text ...
   IF first_key !~ '^\(*_jsonb -> ''[^'']+''::text\)*( -> ''[^'']+''::text\)*)*$' THEN
      RETURN;
   END IF;
   gin_name := left(idx_name, 55) || '_triage_gin';
   IF EXISTS (SELECT 1 FROM pg_class c JOIN pg_index i ON i.indexrelid = c.oid
               WHERE c.relname = gin_name AND i.indrelid = tbl) THEN
      RETURN;
   END IF;
   EXECUTE format('CREATE INDEX %I ON %s USING gin ((%s) jsonb_path_ops)',
                  gin_name, tbl, first_key);
END
$fn$;

CREATE OR REPLACE FUNCTION triage_gin_on_create_index() RETURNS event_trigger
LANGUAGE plpgsql AS $fn$
DECLARE
   r record;
BEGIN
   FOR r IN SELECT objid FROM pg_event_trigger_ddl_commands()
             WHERE command_tag = 'CREATE INDEX' AND object_type = 'index' LOOP
      PERFORM triage_gin_for(r.objid);
   END LOOP;
END
$fn$;

DROP EVENT TRIGGER IF EXISTS triage_gin_on_create_index;
CREATE EVENT TRIGGER triage_gin_on_create_index ON ddl_command_end
   WHEN TAG IN ('CREATE INDEX')
   EXECUTE FUNCTION triage_gin_on_create_index();

-- Backfill: indexes FerretDB made before this file was first applied.
SELECT triage_gin_for(i.indexrelid)
  FROM pg_index i
  JOIN pg_class c ON c.oid = i.indexrelid
  JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
   AND c.relname NOT LIKE '%\_triage\_gin';
