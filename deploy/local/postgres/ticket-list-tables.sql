-- ticket-list-tables.sql - side tables that answer the api's filtered
-- lists and search at a million tickets on the local stack
-- (docs/decisions/0017). Applied by deploy/local/stack-up to the FerretDB
-- database on every start, after ferretdb-lookup-indexes.sql; idempotent.
--
-- FerretDB keeps a collection as one table <db>.<collection>_<8 hex> with
-- one jsonb column, _jsonb: the document as JSON plus its type map under
-- "$s" (a date is its milliseconds, typed "date"). For the `tickets`
-- collection of each database an api asked for (triage_list_enable, at its
-- start) this file keeps, in the same schema:
--
--   triage_ticket_list    one narrow row per ticket: the fields the api's
--                         filters and sorts read, with the indexes they need
--                         (stored_at and corrected came later: an older
--                         install gets them, filled from the documents, when
--                         this file is applied again, see triage_list_install);
--                         `exact` is false for a document of another shape
--                         (a date that is not a date, an array where a
--                         string belongs...), and while any row is not
--                         exact the api answers from the collection instead;
--   triage_ticket_text    the ticket's searchable text (id, subject, body),
--                         ASCII-lower-cased, under a pg_trgm index; rewritten
--                         only when that text changes, so classifying a
--                         ticket never touches the trigram index;
--   triage_ticket_labels  every label value ever stored (a superset), so a
--                         search can tell which labels it matches.
--
-- A row trigger on FerretDB's table (a function in the table's schema, made
-- from triage_list_sync_source) keeps them in step with every write, by
-- whatever writer (a service, a script, a restore): the trigger runs in the
-- writer's transaction. An event trigger installs all of this when FerretDB
-- creates a tickets table and drops it with the table. Nothing here ever
-- fails a write: a value of an unexpected type is stored as NULL with
-- exact = false.

SET client_min_messages = warning;
-- Everything below lives in public, whatever the session's search_path
-- (the user triage would otherwise put it in FerretDB's schema triage).
SET search_path = public;
CREATE EXTENSION IF NOT EXISTS pg_trgm;

-- The type FerretDB recorded for a top-level field ("date", "string"...),
-- or NULL when the field is absent.
CREATE OR REPLACE FUNCTION triage_type(doc jsonb, field text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$ SELECT doc -> '$s' -> 'p' -> field ->> 't' $$;

-- The same for a field of a sub-document (doc.sub.field).
CREATE OR REPLACE FUNCTION triage_type2(doc jsonb, sub text, field text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$ SELECT doc -> '$s' -> 'p' -> sub -> '$s' -> 'p' -> field ->> 't' $$;

-- ASCII letters lower-cased, and the two non-ASCII letters whose simple
-- case folding is an ASCII letter (U+017F long s, U+212A Kelvin sign) as
-- that letter: what a case-blind match of an ASCII pattern needs, exactly
-- as FerretDB's (?i) regular expressions fold (Go's regexp, simple folding).
CREATE OR REPLACE FUNCTION triage_fold(s text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
   SELECT translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ' || chr(383) || chr(8490),
                       'abcdefghijklmnopqrstuvwxyzsk')
$$;

-- A number field as float8, NULL unless it is a JSON number.
CREATE OR REPLACE FUNCTION triage_num(v jsonb) RETURNS float8
LANGUAGE sql IMMUTABLE AS $$
   SELECT CASE WHEN jsonb_typeof(v) = 'number' THEN (v #>> '{}')::float8 END
$$;

-- A date field (its milliseconds) as bigint, NULL unless typed "date".
CREATE OR REPLACE FUNCTION triage_ms(v jsonb, t text) RETURNS bigint
LANGUAGE sql IMMUTABLE AS $$
   SELECT CASE WHEN t = 'date' AND jsonb_typeof(v) = 'number'
               THEN trunc((v #>> '{}')::numeric)::bigint END
$$;

CREATE OR REPLACE FUNCTION triage_text_of(d jsonb) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
   SELECT triage_fold(coalesce(CASE WHEN jsonb_typeof(d -> 'id') = 'string' THEN d ->> 'id' END, '')
                      || chr(1) || coalesce(CASE WHEN jsonb_typeof(d -> 'subject') = 'string' THEN d ->> 'subject' END, '')
                      || chr(1) || coalesce(CASE WHEN jsonb_typeof(d -> 'body') = 'string' THEN d ->> 'body' END, ''))
$$;

-- The row of triage_ticket_list for document d (key: its _id), but for
-- the columns added later (triage_list_extra). PL/pgSQL
-- with each sub-document read once into a variable: a document of a few
-- kB is stored compressed, and every -> on it decompresses it again (the
-- same in plain SQL functions took 0.6 ms per row; this one, 0.0x ms).
CREATE OR REPLACE FUNCTION triage_list_row(doc jsonb, OUT key text, OUT id text,
                                           OUT created_at bigint, OUT processed boolean,
                                           OUT processed_at bigint, OUT priority text,
                                           OUT sentiment text, OUT topics text[],
                                           OUT conf_topic float8, OUT conf_sentiment float8,
                                           OUT conf_priority float8, OUT needs_review boolean,
                                           OUT attempts float8, OUT exact boolean)
LANGUAGE plpgsql IMMUTABLE AS $fn$
DECLARE
   d jsonb := doc || '{}'; -- decompressed once
   t jsonb := d -> '$s' -> 'p'; -- the type map of the top-level fields
   c jsonb := d -> 'classification';
   ct jsonb := t -> 'classification' -> '$s' -> 'p';
   cs jsonb := d -> 'confidence_scores';
   cst jsonb := t -> 'confidence_scores' -> '$s' -> 'p';
   pm jsonb := d -> 'processing_metadata';
   pmt jsonb := t -> 'processing_metadata' -> '$s' -> 'p';
BEGIN
   key := d ->> '_id';
   id := CASE WHEN jsonb_typeof(d -> 'id') = 'string' THEN d ->> 'id' END;
   created_at := triage_ms(d -> 'created_at', t -> 'created_at' ->> 't');
   processed := CASE WHEN jsonb_typeof(d -> 'processed') = 'boolean' THEN (d -> 'processed') = 'true' END;
   processed_at := triage_ms(pm -> 'processed_at', pmt -> 'processed_at' ->> 't');
   priority := CASE WHEN jsonb_typeof(c -> 'priority') = 'string' THEN c ->> 'priority' END;
   sentiment := CASE WHEN jsonb_typeof(c -> 'sentiment') = 'string' THEN c ->> 'sentiment' END;
   topics := CASE WHEN jsonb_typeof(c -> 'topic_tags') = 'array'
                  THEN ARRAY(SELECT e #>> '{}' FROM jsonb_array_elements(c -> 'topic_tags') e
                              WHERE jsonb_typeof(e) = 'string')
                  ELSE '{}' END;
   conf_topic := triage_num(cs -> 'topic');
   conf_sentiment := triage_num(cs -> 'sentiment');
   conf_priority := triage_num(cs -> 'priority');
   needs_review := coalesce((d -> 'needs_review') = 'true', false);
   attempts := coalesce(triage_num(d -> 'processing_attempts'), 0);
   -- Whether every field read has the type the api's filters assume (else
   -- the collection answers: MongoDB's semantics for other types differ).
   exact := t -> 'id' ->> 't' = 'string' AND t -> '_id' ->> 't' = 'string'
      AND d ->> 'id' = d ->> '_id'
      AND t -> 'subject' ->> 't' = 'string' AND t -> 'body' ->> 't' = 'string'
      AND t -> 'created_at' ->> 't' = 'date' AND t -> 'processed' ->> 't' = 'bool'
      AND coalesce(t -> 'needs_review' ->> 't', 'bool') = 'bool'
      AND coalesce(t -> 'processing_attempts' ->> 't', 'int') IN ('int', 'long', 'double')
      AND coalesce(t -> 'classification' ->> 't', 'object') = 'object'
      AND coalesce(ct -> 'priority' ->> 't', 'string') IN ('string', 'null')
      AND coalesce(ct -> 'sentiment' ->> 't', 'string') IN ('string', 'null')
      AND coalesce(ct -> 'topic_tags' ->> 't', 'array') = 'array'
      AND coalesce(cardinality(topics), 0) = coalesce(jsonb_array_length(
             CASE WHEN jsonb_typeof(c -> 'topic_tags') = 'array' THEN c -> 'topic_tags' END), 0)
      AND coalesce(t -> 'confidence_scores' ->> 't', 'object') = 'object'
      AND coalesce(cst -> 'topic' ->> 't', 'double') IN ('double', 'int', 'long')
      AND coalesce(cst -> 'sentiment' ->> 't', 'double') IN ('double', 'int', 'long')
      AND coalesce(cst -> 'priority' ->> 't', 'double') IN ('double', 'int', 'long')
      AND coalesce(t -> 'processing_metadata' ->> 't', 'object') = 'object'
      AND coalesce(pmt -> 'processed_at' ->> 't', 'date') = 'date';
   exact := coalesce(exact, false);
END
$fn$;

-- The columns of triage_ticket_list added after the others, for document
-- d, and whether they are exact too (the row's `exact` is both). A function
-- of its own rather than more result columns of triage_list_row: those
-- cannot change in place (CREATE OR REPLACE refuses), and an older copy
-- of this file applied to the same server would then fail.
--   stored_at  its milliseconds when a date, else NULL (no range matches
--              it, as in MongoDB); another type than a date is inexact (an
--              array of dates would match a range element by element);
--   corrected  {"processing_metadata.corrected_at": {$exists: true}}: the
--              key present, whatever its value (null included).
CREATE OR REPLACE FUNCTION triage_list_extra(doc jsonb, OUT stored_at bigint,
                                             OUT corrected boolean, OUT exact boolean)
LANGUAGE plpgsql IMMUTABLE AS $fn$
DECLARE
   d jsonb := doc || '{}'; -- decompressed once
   pm jsonb := d -> 'processing_metadata';
   st text := d -> '$s' -> 'p' -> 'stored_at' ->> 't';
BEGIN
   stored_at := triage_ms(d -> 'stored_at', st);
   corrected := coalesce(jsonb_typeof(pm) = 'object' AND pm ? 'corrected_at', false);
   exact := coalesce(st, 'date') = 'date';
END
$fn$;

-- Every label value of a row of triage_ticket_list.
CREATE OR REPLACE FUNCTION triage_labels_of(priority text, sentiment text, topics text[]) RETURNS text[]
LANGUAGE sql IMMUTABLE AS $$ SELECT array_cat(ARRAY[priority, sentiment], topics) $$;

-- The row trigger of the tickets table in schema s: a function of that
-- schema with static SQL (PostgreSQL keeps its plans per session, where
-- dynamic SQL would plan every statement of every row again: 1.1 ms per
-- updated row against 0.04 ms without a trigger, measured).
CREATE OR REPLACE FUNCTION triage_list_sync_source(s text) RETURNS text
LANGUAGE sql IMMUTABLE AS $src$
   SELECT format($fn$
CREATE OR REPLACE FUNCTION %1$s.triage_list_sync() RETURNS trigger
LANGUAGE plpgsql AS $body$
DECLARE
   d jsonb;
   k text;
   o jsonb;
   r record;
   x record;
BEGIN
   IF TG_OP <> 'INSERT' THEN
      o := OLD._jsonb || '{}'; -- decompressed once
      k := o ->> '_id';
      IF TG_OP = 'DELETE' OR k IS DISTINCT FROM NEW._jsonb ->> '_id' THEN
         DELETE FROM %1$s.triage_ticket_list WHERE key = k;
         DELETE FROM %1$s.triage_ticket_text WHERE key = k;
         o := NULL;
      END IF;
      IF TG_OP = 'DELETE' THEN
         RETURN NULL;
      END IF;
   END IF;
   d := NEW._jsonb || '{}';
   k := d ->> '_id';
   IF k IS NULL THEN
      RETURN NULL;
   END IF;
   SELECT * INTO r FROM public.triage_list_row(d);
   SELECT * INTO x FROM public.triage_list_extra(d);
   INSERT INTO %1$s.triage_ticket_list AS l
      (key, id, created_at, processed, processed_at, priority, sentiment, topics, conf_topic,
       conf_sentiment, conf_priority, needs_review, attempts, exact, stored_at, corrected)
   VALUES (r.key, r.id, r.created_at, r.processed, r.processed_at, r.priority, r.sentiment,
           r.topics, r.conf_topic, r.conf_sentiment, r.conf_priority, r.needs_review,
           r.attempts, r.exact AND x.exact, x.stored_at, x.corrected)
   ON CONFLICT (key) DO UPDATE SET
      id = excluded.id, created_at = excluded.created_at, processed = excluded.processed,
      processed_at = excluded.processed_at, priority = excluded.priority,
      sentiment = excluded.sentiment, topics = excluded.topics,
      conf_topic = excluded.conf_topic, conf_sentiment = excluded.conf_sentiment,
      conf_priority = excluded.conf_priority, needs_review = excluded.needs_review,
      attempts = excluded.attempts, exact = excluded.exact, stored_at = excluded.stored_at,
      corrected = excluded.corrected;
   -- The text only when it (or the order a search reads it in) changed:
   -- classifying never touches its indexes. (The api checks that this
   -- function writes the text table's created_at and id, by the column
   -- list below, before a search reads that table alone.)
   IF o IS NULL OR d -> 'id' IS DISTINCT FROM o -> 'id'
      OR d -> 'subject' IS DISTINCT FROM o -> 'subject' OR d -> 'body' IS DISTINCT FROM o -> 'body'
      OR d -> 'created_at' IS DISTINCT FROM o -> 'created_at'
      -- a date and a number are the same JSON: the type map tells them apart
      OR d -> '$s' -> 'p' -> 'created_at' IS DISTINCT FROM o -> '$s' -> 'p' -> 'created_at' THEN
      INSERT INTO %1$s.triage_ticket_text (key, text, created_at, id)
      VALUES (k, public.triage_text_of(d), r.created_at, r.id)
      ON CONFLICT (key) DO UPDATE SET
         text = excluded.text, created_at = excluded.created_at, id = excluded.id;
   END IF;
   IF d -> 'classification' IS NOT NULL
      AND (o IS NULL OR d -> 'classification' IS DISTINCT FROM o -> 'classification') THEN
      -- In one order, so that two writers adding the same new labels
      -- cannot deadlock.
      INSERT INTO %1$s.triage_ticket_labels
      SELECT DISTINCT v FROM unnest(public.triage_labels_of(r.priority, r.sentiment, r.topics)) v
      WHERE v IS NOT NULL ORDER BY v
      ON CONFLICT DO NOTHING;
   END IF;
   RETURN NULL;
EXCEPTION WHEN OTHERS THEN
   -- Never fail the writer's write. The ticket's row says it cannot be
   -- trusted (exact = false: the api reads the collection while it is
   -- there); if even that fails, the tables are broken and the api's
   -- query of them fails too, with the same effect.
   RAISE WARNING 'triage_list_sync on %%: %%', TG_TABLE_NAME, SQLERRM;
   BEGIN
      INSERT INTO %1$s.triage_ticket_list (key, topics, needs_review, attempts, exact)
      VALUES (coalesce(k, ''), '{}', false, 0, false)
      ON CONFLICT (key) DO UPDATE SET exact = false;
   EXCEPTION WHEN OTHERS THEN
      NULL;
   END;
   RETURN NULL;
END
$body$;
$fn$, s)
$src$;

-- Creates the side tables of tickets table tbl (if missing), fills them
-- from it and installs the row trigger. Idempotent. Side tables made by an
-- older version of this file are brought up to date: the columns added
-- since (stored_at, corrected) are added and filled from the stored
-- documents, with `exact` computed again by today's rules.
CREATE OR REPLACE FUNCTION triage_list_install(tbl regclass) RETURNS void
LANGUAGE plpgsql AS $fn$
DECLARE
   s text;
   fresh boolean;
   upgrade boolean;
   text_fresh boolean;
BEGIN
   SELECT quote_ident(n.nspname) INTO s
     FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = tbl;
   fresh := to_regclass(s || '.triage_ticket_list') IS NULL;
   upgrade := NOT fresh AND (SELECT count(*) < 2 FROM pg_attribute
                              WHERE attrelid = to_regclass(s || '.triage_ticket_list')
                                AND attname IN ('stored_at', 'corrected') AND NOT attisdropped);
   -- No write between the side tables' state and the trigger's (CREATE
   -- TRIGGER locks the table too). Taken first, before any lock on a side
   -- table: a writer holds the tickets table's lock while its trigger waits
   -- for the side table's, and the other order deadlocks. Taken by every
   -- install, as it also mends the text table's order columns below, which
   -- an older copy of this file applied meanwhile would have left stale
   -- (its trigger does not write them).
   EXECUTE format('LOCK TABLE %s IN SHARE ROW EXCLUSIVE MODE', tbl);
   -- The text table came first without created_at and id (a search's
   -- order); such a one is made again from the documents. Decided under
   -- the lock: two installs at once (a stack-up and an api's start) would
   -- otherwise both make it again.
   text_fresh := to_regclass(s || '.triage_ticket_text') IS NULL
      OR NOT EXISTS (SELECT 1 FROM pg_attribute
                      WHERE attrelid = to_regclass(s || '.triage_ticket_text')
                        AND attname = 'created_at' AND NOT attisdropped);
   IF text_fresh THEN
      EXECUTE format('DROP TABLE IF EXISTS %s.triage_ticket_text', s);
   END IF;
   EXECUTE format($q$
      CREATE TABLE IF NOT EXISTS %1$s.triage_ticket_list (
         key text COLLATE "C" PRIMARY KEY, -- _id
         id text COLLATE "C",              -- byte order, as MongoDB compares strings
         created_at bigint, processed boolean, processed_at bigint,
         priority text, sentiment text, topics text[] NOT NULL,
         conf_topic float8, conf_sentiment float8, conf_priority float8,
         needs_review boolean NOT NULL, attempts float8 NOT NULL, exact boolean NOT NULL,
         stored_at bigint,                          -- milliseconds, NULL when absent
         corrected boolean NOT NULL DEFAULT false); -- processing_metadata.corrected_at present
      ALTER TABLE %1$s.triage_ticket_list
         ADD COLUMN IF NOT EXISTS stored_at bigint,
         ADD COLUMN IF NOT EXISTS corrected boolean NOT NULL DEFAULT false;
      CREATE INDEX IF NOT EXISTS triage_list_created ON %1$s.triage_ticket_list (created_at, id);
      CREATE INDEX IF NOT EXISTS triage_list_processed_at ON %1$s.triage_ticket_list (processed_at, id)
         WHERE processed_at IS NOT NULL;
      CREATE INDEX IF NOT EXISTS triage_list_status ON %1$s.triage_ticket_list (processed, created_at, id);
      CREATE INDEX IF NOT EXISTS triage_list_priority ON %1$s.triage_ticket_list (priority, created_at, id);
      CREATE INDEX IF NOT EXISTS triage_list_sentiment ON %1$s.triage_ticket_list (sentiment, created_at, id);
      CREATE INDEX IF NOT EXISTS triage_list_topics ON %1$s.triage_ticket_list USING gin (topics);
      CREATE INDEX IF NOT EXISTS triage_list_review ON %1$s.triage_ticket_list (created_at, id) WHERE needs_review;
      CREATE INDEX IF NOT EXISTS triage_list_failed ON %1$s.triage_ticket_list (created_at, id)
         WHERE NOT processed AND attempts > 0;
      CREATE INDEX IF NOT EXISTS triage_list_inexact ON %1$s.triage_ticket_list (key) WHERE NOT exact;
      -- stored_from / stored_to (a recent window: the few tickets stored
      -- since a moment, then sorted), and corrected=true (a person corrects
      -- few tickets: a walk of the created_at index would scan far).
      CREATE INDEX IF NOT EXISTS triage_list_stored ON %1$s.triage_ticket_list (stored_at);
      CREATE INDEX IF NOT EXISTS triage_list_corrected ON %1$s.triage_ticket_list (created_at, id)
         WHERE corrected;
      -- created_at and id as in triage_ticket_list: a search with no other
      -- filter reads this table alone, newest first.
      CREATE TABLE IF NOT EXISTS %1$s.triage_ticket_text (
         key text COLLATE "C" PRIMARY KEY, text text NOT NULL,
         created_at bigint, id text COLLATE "C");
      CREATE TABLE IF NOT EXISTS %1$s.triage_ticket_labels (label text PRIMARY KEY);
   $q$, s);
   EXECUTE triage_list_sync_source(s);
   EXECUTE format('DROP TRIGGER IF EXISTS triage_list_sync ON %s', tbl);
   EXECUTE format('CREATE TRIGGER triage_list_sync AFTER INSERT OR UPDATE OR DELETE ON %s
                   FOR EACH ROW EXECUTE FUNCTION %s.triage_list_sync()', tbl, s);
   IF fresh THEN
      EXECUTE format($q$
         INSERT INTO %1$s.triage_ticket_list
            (key, id, created_at, processed, processed_at, priority, sentiment, topics, conf_topic,
             conf_sentiment, conf_priority, needs_review, attempts, exact, stored_at, corrected)
         SELECT r.key, r.id, r.created_at, r.processed, r.processed_at, r.priority, r.sentiment,
                r.topics, r.conf_topic, r.conf_sentiment, r.conf_priority, r.needs_review,
                r.attempts, r.exact AND x.exact, x.stored_at, x.corrected
           FROM %2$s, triage_list_row(_jsonb) r, triage_list_extra(_jsonb) x
          WHERE _jsonb ->> '_id' IS NOT NULL
         ON CONFLICT (key) DO NOTHING;
         INSERT INTO %1$s.triage_ticket_labels
         SELECT DISTINCT v FROM %1$s.triage_ticket_list,
                unnest(triage_labels_of(priority, sentiment, topics)) v WHERE v IS NOT NULL
         ON CONFLICT DO NOTHING;
         ANALYZE %1$s.triage_ticket_list;
      $q$, s, tbl);
   END IF;
   IF fresh OR text_fresh THEN
      -- Filled first, indexed after: one index build instead of a
      -- trigram index kept up row by row.
      EXECUTE format($q$
         INSERT INTO %1$s.triage_ticket_text (key, text, created_at, id)
         SELECT r.key, triage_text_of(_jsonb), r.created_at, r.id
           FROM %2$s, triage_list_row(_jsonb) r WHERE _jsonb ->> '_id' IS NOT NULL
         ON CONFLICT (key) DO NOTHING;
      $q$, s, tbl);
   ELSE
      EXECUTE format($q$
         UPDATE %1$s.triage_ticket_text x SET created_at = l.created_at, id = l.id
           FROM %1$s.triage_ticket_list l
          WHERE l.key = x.key AND (x.created_at IS DISTINCT FROM l.created_at OR x.id IS DISTINCT FROM l.id);
      $q$, s);
   END IF;
   EXECUTE format($q$
      CREATE INDEX IF NOT EXISTS triage_text_trgm ON %1$s.triage_ticket_text USING gin (text gin_trgm_ops);
      CREATE INDEX IF NOT EXISTS triage_text_created ON %1$s.triage_ticket_text (created_at, id);
   $q$, s);
   IF fresh OR text_fresh THEN
      EXECUTE format('ANALYZE %s.triage_ticket_text', s);
   END IF;
   IF upgrade THEN
      -- The new columns from the documents (about a minute at a million
      -- tickets, writes waiting meanwhile); `exact` too, as it now also
      -- asks stored_at to be a date. Only rows that change are written.
      EXECUTE format($q$
         UPDATE %1$s.triage_ticket_list l
            SET stored_at = x.stored_at, corrected = x.corrected, exact = r.exact AND x.exact
           FROM %2$s t, triage_list_row(t._jsonb) r, triage_list_extra(t._jsonb) x
          WHERE t._jsonb ->> '_id' IS NOT NULL AND l.key = r.key
            AND (l.stored_at IS DISTINCT FROM x.stored_at OR l.corrected <> x.corrected
                 OR l.exact <> (r.exact AND x.exact));
         ANALYZE %1$s.triage_ticket_list;
      $q$, s, tbl);
   END IF;
END
$fn$;

-- The FerretDB databases (schemas) whose tickets collection has side
-- tables: each api started with TRIAGE_LIST_SQL_URL asks for its own with
-- triage_list_enable. Only those pay the trigger on every write (about
-- 0.12 ms per updated ticket, more per insert for the trigram index);
-- every other database on the stack (the test suite makes hundreds) is
-- left as FerretDB made it.
CREATE TABLE IF NOT EXISTS triage_list_schemas (schema text PRIMARY KEY);

-- Whether tbl is the table of a collection named `tickets` (FerretDB names
-- it tickets_<8 hex> in a schema that has its metadata table) in a schema
-- that asked for side tables.
CREATE OR REPLACE FUNCTION triage_is_tickets_table(tbl regclass) RETURNS boolean
LANGUAGE sql STABLE AS $$
   SELECT c.relkind = 'r' AND c.relname ~ '^tickets_[0-9a-f]{8}$'
          AND to_regclass(quote_ident(n.nspname) || '._ferretdb_database_metadata') IS NOT NULL
          AND EXISTS (SELECT 1 FROM public.triage_list_schemas WHERE schema = n.nspname)
     FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = tbl
$$;

-- Side tables for database db's tickets collection: now, when it exists
-- (filled from it: at a million tickets this takes minutes, during which
-- writes to the collection wait), else as soon as FerretDB creates it.
-- Side tables of an older version are upgraded (triage_list_install).
-- Returns 'ready' or 'waiting'. Idempotent: 'ready' at once when they exist.
CREATE OR REPLACE FUNCTION triage_list_enable(db text) RETURNS text
LANGUAGE plpgsql AS $fn$
DECLARE
   tbl regclass;
BEGIN
   INSERT INTO public.triage_list_schemas VALUES (db) ON CONFLICT DO NOTHING;
   SELECT c.oid::regclass INTO tbl
     FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = db AND c.relname ~ '^tickets_[0-9a-f]{8}$' AND c.relkind = 'r'
      AND public.triage_is_tickets_table(c.oid::regclass)
    LIMIT 1;
   IF tbl IS NULL THEN
      RETURN 'waiting';
   END IF;
   -- Also when the side tables predate a column this file adds (the last
   -- one added: corrected): the api's start brings its own up to date.
   IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = tbl AND tgname = 'triage_list_sync')
      OR NOT EXISTS (SELECT 1 FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
                      WHERE c.relnamespace = (SELECT relnamespace FROM pg_class WHERE oid = tbl)
                        AND c.relname = 'triage_ticket_list' AND a.attname = 'corrected'
                        AND NOT a.attisdropped)
      OR NOT EXISTS (SELECT 1 FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
                      WHERE c.relnamespace = (SELECT relnamespace FROM pg_class WHERE oid = tbl)
                        AND c.relname = 'triage_ticket_text' AND a.attname = 'created_at'
                        AND NOT a.attisdropped) THEN
      PERFORM public.triage_list_install(tbl);
   END IF;
   RETURN 'ready';
END
$fn$;

CREATE OR REPLACE FUNCTION triage_list_on_create_table() RETURNS event_trigger
LANGUAGE plpgsql AS $fn$
DECLARE
   r record;
BEGIN
   FOR r IN SELECT objid FROM pg_event_trigger_ddl_commands()
             WHERE command_tag = 'CREATE TABLE' AND object_type = 'table' LOOP
      IF triage_is_tickets_table(r.objid::regclass) THEN
         PERFORM triage_list_install(r.objid::regclass);
      END IF;
   END LOOP;
END
$fn$;

-- A dropped tickets collection takes its side tables with it (a dropped
-- database drops its whole schema, side tables included).
CREATE OR REPLACE FUNCTION triage_list_on_drop_table() RETURNS event_trigger
LANGUAGE plpgsql AS $fn$
DECLARE
   r record;
BEGIN
   FOR r IN SELECT schema_name, object_name FROM pg_event_trigger_dropped_objects()
             WHERE object_type = 'table' AND original AND object_name ~ '^tickets_[0-9a-f]{8}$' LOOP
      IF to_regnamespace(quote_ident(r.schema_name)) IS NOT NULL THEN
         EXECUTE format('DROP TABLE IF EXISTS %1$s.triage_ticket_list, %1$s.triage_ticket_text,
                                              %1$s.triage_ticket_labels',
                        quote_ident(r.schema_name));
      END IF;
   END LOOP;
END
$fn$;

DROP EVENT TRIGGER IF EXISTS triage_list_on_create_table;
CREATE EVENT TRIGGER triage_list_on_create_table ON ddl_command_end
   WHEN TAG IN ('CREATE TABLE')
   EXECUTE FUNCTION triage_list_on_create_table();
DROP EVENT TRIGGER IF EXISTS triage_list_on_drop_table;
CREATE EVENT TRIGGER triage_list_on_drop_table ON sql_drop
   WHEN TAG IN ('DROP TABLE')
   EXECUTE FUNCTION triage_list_on_drop_table();

-- Tickets tables of the enabled databases again: this file's trigger
-- function replaces an older one (idempotent otherwise).
SELECT triage_list_install(c.oid::regclass)
  FROM pg_class c
 WHERE c.relkind = 'r' AND c.relname ~ '^tickets_[0-9a-f]{8}$' AND triage_is_tickets_table(c.oid::regclass);
