/* store.c - the `tickets` collection over a mongoc_client_pool_t.
 *
 * Shaped by FerretDB 1.24 (SQLite backend), found by experiment against it:
 *
 * - A createIndexes command listing several indexes that all exist already
 *   makes FerretDB drop the connection (MongoDB answers "all indexes already
 *   exist"). One index per createIndexes command works on both, so
 *   tk_store_ensure_indexes sends six commands.
 * - FerretDB runs an `update` command as ordered even when ordered=false: it
 *   stops at the first write error. An unordered bulk of upserts that relies
 *   on duplicate-key errors therefore loses the operations after the first
 *   error. The upsert is an unordered bulk *insert* (FerretDB honours
 *   ordered=false there and reports every duplicate by index, code 11000,
 *   like MongoDB) followed by one plain update_one per already-stored ticket.
 * - $dateToString and the other date operators are not implemented in
 *   aggregation, and $group knows only $sum and $count: "processed today" is a
 *   count_documents with a date range, the priority distribution a $group
 *   with $sum.
 */
#include "store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mongoc/mongoc.h>

#include "ticket_bson.h"

#define TK_STORE_COLLECTION "tickets"
#define TK_STORE_DEFAULT_DB "triage"
#define TK_STORE_DEFAULT_POOL 16
#define TK_MONGO_DUPLICATE_KEY 11000
#define TK_MS_PER_DAY INT64_C (86400000)

struct tk_store {
   mongoc_client_pool_t *pool;
   char *db_name;
};

/* Milliseconds since the Unix epoch, UTC. */
static int64_t
now_ms (void)
{
   struct timespec ts;
   clock_gettime (CLOCK_REALTIME, &ts);
   return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
set_mongo_error (tk_error_t *err, const bson_error_t *e, const char *what)
{
   tk_error_set (err, TK_ERR_MONGO, (int) e->code, "%s: %s", what, e->message);
}

/* A pooled client and the tickets collection, for the length of one call. */
typedef struct {
   mongoc_client_t *client;
   mongoc_collection_t *coll;
} store_conn_t;

static void
conn_open (tk_store_t *store, store_conn_t *c)
{
   c->client = mongoc_client_pool_pop (store->pool);
   c->coll = mongoc_client_get_collection (c->client, store->db_name, TK_STORE_COLLECTION);
}

static void
conn_close (tk_store_t *store, store_conn_t *c)
{
   mongoc_collection_destroy (c->coll);
   if (c->client) {
      mongoc_client_pool_push (store->pool, c->client);
   }
   c->coll = NULL;
   c->client = NULL;
}

static bool
db_name_valid (const char *name)
{
   size_t len = strlen (name);
   return len > 0 && len < 64 && !strpbrk (name, "/\\. \"$*<>:|?");
}

/* ---- lifetime ----------------------------------------------------------- */

tk_store_t *
tk_store_new (const char *uri_string, const char *db_name, uint32_t pool_max, tk_error_t *err)
{
   tk_store_t *store = NULL;
   mongoc_uri_t *uri = NULL;
   bson_error_t e;

   mongoc_init ();
   if (!(uri = mongoc_uri_new_with_error (uri_string, &e))) {
      tk_error_set (err, TK_ERR_CONFIG, (int) e.code, "invalid MongoDB URI: %s", e.message);
      goto done;
   }
   if (!db_name) {
      db_name = mongoc_uri_get_database (uri);
   }
   if (!db_name || !*db_name) {
      db_name = TK_STORE_DEFAULT_DB;
   }
   if (!db_name_valid (db_name)) {
      tk_error_set (err, TK_ERR_CONFIG, 0, "invalid MongoDB database name \"%s\"", db_name);
      goto done;
   }
   if (!mongoc_uri_get_appname (uri)) {
      mongoc_uri_set_appname (uri, "triage");
   }
   /* libmongoc waits 30 s for a server by default; a service whose database
    * is down should find out (and report not-ready, pause intake) in a few
    * seconds instead. A value given in the URI wins. */
   if (!mongoc_uri_has_option (uri, MONGOC_URI_SERVERSELECTIONTIMEOUTMS)) {
      mongoc_uri_set_option_as_int32 (uri, MONGOC_URI_SERVERSELECTIONTIMEOUTMS, 5000);
   }

   store = calloc (1, sizeof *store);
   if (!store || !(store->db_name = strdup (db_name))) {
      tk_error_set (err, TK_ERR_NOMEM, 0, "out of memory");
      goto fail;
   }
   if (!(store->pool = mongoc_client_pool_new_with_error (uri, &e))) {
      tk_error_set (err, TK_ERR_CONFIG, (int) e.code, "MongoDB client pool: %s", e.message);
      goto fail;
   }
   /* Version 2 reports server errors in domain MONGOC_ERROR_SERVER with the
    * server's own code (11000 for a duplicate key). */
   mongoc_client_pool_set_error_api (store->pool, MONGOC_ERROR_API_VERSION_2);
   mongoc_client_pool_max_size (store->pool, pool_max ? pool_max : TK_STORE_DEFAULT_POOL);
   goto done;

fail:
   tk_store_destroy (store);
   store = NULL;
done:
   mongoc_uri_destroy (uri);
   return store;
}

void
tk_store_destroy (tk_store_t *store)
{
   if (!store) {
      return;
   }
   mongoc_client_pool_destroy (store->pool);
   free (store->db_name);
   free (store);
}

const char *
tk_store_db_name (const tk_store_t *store)
{
   return store->db_name;
}

bool
tk_store_ping (tk_store_t *store, tk_error_t *err)
{
   bson_error_t e;
   bson_t *cmd = BCON_NEW ("ping", BCON_INT32 (1));
   mongoc_client_t *client = mongoc_client_pool_pop (store->pool);
   bool ok = mongoc_client_command_simple (client, "admin", cmd, NULL, NULL, &e);
   if (!ok) {
      set_mongo_error (err, &e, "ping");
   }
   mongoc_client_pool_push (store->pool, client);
   bson_destroy (cmd);
   return ok;
}

bool
tk_store_ensure_indexes (tk_store_t *store, tk_error_t *err)
{
   /* Each key with its default name, so an index someone created by hand
    * with the same key does not conflict. */
   static const struct {
      const char *name;
      const char *field1;
      int dir1;
      const char *field2;
      int dir2;
      bool unique;
   } indexes[] = {
      {"id_1", "id", 1, NULL, 0, true},
      {"processed_1_created_at_-1", "processed", 1, "created_at", -1, false},
      {"processing_metadata.processed_at_-1", "processing_metadata.processed_at", -1, NULL, 0,
       false},
      {"classification.priority_1", "classification.priority", 1, NULL, 0, false},
      {"classification.topic_tags_1", "classification.topic_tags", 1, NULL, 0, false},
      {"classification.sentiment_1", "classification.sentiment", 1, NULL, 0, false},
   };
   bool ok = false;
   mongoc_client_t *client = mongoc_client_pool_pop (store->pool);
   mongoc_database_t *db = mongoc_client_get_database (client, store->db_name);

   /* One index per command: see the FerretDB note at the top of the file. */
   for (size_t i = 0; i < sizeof indexes / sizeof indexes[0]; i++) {
      bson_t cmd, list, spec, key;
      bson_error_t e;
      bson_init (&cmd);
      BSON_APPEND_UTF8 (&cmd, "createIndexes", TK_STORE_COLLECTION);
      BSON_APPEND_ARRAY_BEGIN (&cmd, "indexes", &list);
      BSON_APPEND_DOCUMENT_BEGIN (&list, "0", &spec);
      BSON_APPEND_DOCUMENT_BEGIN (&spec, "key", &key);
      BSON_APPEND_INT32 (&key, indexes[i].field1, indexes[i].dir1);
      if (indexes[i].field2) {
         BSON_APPEND_INT32 (&key, indexes[i].field2, indexes[i].dir2);
      }
      bson_append_document_end (&spec, &key);
      BSON_APPEND_UTF8 (&spec, "name", indexes[i].name);
      if (indexes[i].unique) {
         BSON_APPEND_BOOL (&spec, "unique", true);
      }
      bson_append_document_end (&list, &spec);
      bson_append_array_end (&cmd, &list);
      bool created = mongoc_database_write_command_with_opts (db, &cmd, NULL, NULL, &e);
      bson_destroy (&cmd);
      if (!created) {
         char what[96];
         snprintf (what, sizeof what, "creating index %s", indexes[i].name);
         set_mongo_error (err, &e, what);
         goto done;
      }
   }
   ok = true;
done:
   mongoc_database_destroy (db);
   mongoc_client_pool_push (store->pool, client);
   return ok;
}

bool
tk_store_drop_database (tk_store_t *store, tk_error_t *err)
{
   bson_error_t e;
   mongoc_client_t *client = mongoc_client_pool_pop (store->pool);
   mongoc_database_t *db = mongoc_client_get_database (client, store->db_name);
   bool ok = mongoc_database_drop_with_opts (db, NULL, &e);
   if (!ok) {
      set_mongo_error (err, &e, "dropping database");
   }
   mongoc_database_destroy (db);
   mongoc_client_pool_push (store->pool, client);
   return ok;
}

/* ---- writing raw tickets ------------------------------------------------ */

void
tk_insert_result_cleanup (tk_insert_result_t *res)
{
   if (res) {
      free (res->items);
      memset (res, 0, sizeof *res);
   }
}

const char *
tk_insert_outcome_name (tk_insert_outcome_t outcome)
{
   switch (outcome) {
   case TK_INSERT_STORED: return "stored";
   case TK_INSERT_DUPLICATE: return "duplicate";
   case TK_INSERT_CHANGED: return "changed";
   case TK_INSERT_UNCHANGED: return "unchanged";
   case TK_INSERT_FAILED: return "failed";
   default: return "unknown";
   }
}

static void
item_fail (tk_insert_item_t *item, int code, const char *message)
{
   item->outcome = TK_INSERT_FAILED;
   item->code = code;
   /* Truncation is fine: the message is for people. */
   size_t len = strnlen (message, sizeof item->message - 1);
   memcpy (item->message, message, len);
   item->message[len] = '\0';
}

static void
result_count (tk_insert_result_t *res)
{
   res->n_stored = res->n_duplicate = res->n_changed = res->n_unchanged = res->n_failed = 0;
   for (size_t i = 0; i < res->n; i++) {
      switch (res->items[i].outcome) {
      case TK_INSERT_STORED: res->n_stored++; break;
      case TK_INSERT_DUPLICATE: res->n_duplicate++; break;
      case TK_INSERT_CHANGED: res->n_changed++; break;
      case TK_INSERT_UNCHANGED: res->n_unchanged++; break;
      default: res->n_failed++; break;
      }
   }
}

/* Every item not yet settled becomes FAILED with the call's error. */
static void
result_fail_rest (tk_insert_result_t *res, const bool *settled, const tk_error_t *err)
{
   for (size_t i = 0; i < res->n; i++) {
      if (!settled[i]) {
         item_fail (&res->items[i], err->code, err->message);
      }
   }
}

/* Reads the writeErrors of a bulk reply into the items. bulk_to_ticket maps
 * a bulk operation index to a ticket index. Returns false if the reply holds
 * something else that makes the outcome unknown. */
static bool
apply_write_errors (const bson_t *reply, const size_t *bulk_to_ticket, size_t n_bulk,
                    tk_insert_result_t *res, bool *settled)
{
   bson_iter_t it, errors, one;
   bool any = false;

   if (bson_iter_init_find (&it, reply, "writeConcernErrors") && BSON_ITER_HOLDS_ARRAY (&it)) {
      bson_iter_t wce;
      if (bson_iter_recurse (&it, &wce) && bson_iter_next (&wce)) {
         return false; /* written, but not as durably as asked */
      }
   }
   if (!bson_iter_init_find (&it, reply, "writeErrors") || !BSON_ITER_HOLDS_ARRAY (&it) ||
       !bson_iter_recurse (&it, &errors)) {
      return false;
   }
   while (bson_iter_next (&errors)) {
      int64_t index = -1;
      int32_t code = 0;
      const char *msg = "write error";
      if (!BSON_ITER_HOLDS_DOCUMENT (&errors) || !bson_iter_recurse (&errors, &one)) {
         return false;
      }
      while (bson_iter_next (&one)) {
         const char *key = bson_iter_key (&one);
         if (!strcmp (key, "index") && BSON_ITER_HOLDS_NUMBER (&one)) {
            index = bson_iter_as_int64 (&one);
         } else if (!strcmp (key, "code") && BSON_ITER_HOLDS_NUMBER (&one)) {
            code = (int32_t) bson_iter_as_int64 (&one);
         } else if (!strcmp (key, "errmsg") && BSON_ITER_HOLDS_UTF8 (&one)) {
            msg = bson_iter_utf8 (&one, NULL);
         }
      }
      if (index < 0 || (size_t) index >= n_bulk) {
         return false;
      }
      size_t t = bulk_to_ticket[index];
      if (code == TK_MONGO_DUPLICATE_KEY) {
         res->items[t].outcome = TK_INSERT_DUPLICATE;
      } else {
         item_fail (&res->items[t], code, msg);
      }
      settled[t] = true;
      any = true;
   }
   return any;
}

static bool
ticket_writable (const tk_ticket_t *t, tk_insert_item_t *item)
{
   if (!t || !t->id || !t->subject || !t->body) {
      item_fail (item, 0, "ticket lacks id, subject or body");
      return false;
   }
   return true;
}

/* The shared first step of insert and upsert: one unordered bulk insert.
 * settled[i] is set for every ticket whose outcome is final. */
static bool
bulk_insert (store_conn_t *conn, tk_ticket_t *const *tickets, size_t n,
             tk_insert_result_t *res, bool *settled, tk_error_t *err)
{
   bool ok = false;
   mongoc_bulk_operation_t *bulk = NULL;
   bson_t *opts = BCON_NEW ("ordered", BCON_BOOL (false));
   bson_t reply = BSON_INITIALIZER;
   bson_error_t e;
   size_t *bulk_to_ticket = calloc (n ? n : 1, sizeof *bulk_to_ticket);
   size_t n_bulk = 0;
   int64_t now = now_ms ();

   if (!bulk_to_ticket) {
      tk_error_set (err, TK_ERR_NOMEM, 0, "out of memory");
      goto done;
   }
   bulk = mongoc_collection_create_bulk_operation_with_opts (conn->coll, opts);
   for (size_t i = 0; i < n; i++) {
      if (!ticket_writable (tickets[i], &res->items[i])) {
         settled[i] = true;
         continue;
      }
      const tk_ticket_t *t = tickets[i];
      tk_ticket_t raw = {
         .id = t->id,
         .subject = t->subject,
         .body = t->body,
         .source = t->source,
         .created_at = t->created_at ? t->created_at : now,
         .updated_at = now,
      };
      bson_t doc = BSON_INITIALIZER;
      bool added = tk_ticket_to_bson (&raw, &doc) &&
                   mongoc_bulk_operation_insert_with_opts (bulk, &doc, NULL, &e);
      bson_destroy (&doc);
      if (!added) {
         item_fail (&res->items[i], 0, "ticket does not fit in a BSON document");
         settled[i] = true;
         continue;
      }
      bulk_to_ticket[n_bulk++] = i;
   }
   if (n_bulk == 0) {
      ok = true;
      goto done;
   }

   bson_destroy (&reply);
   if (!mongoc_bulk_operation_execute (bulk, &reply, &e) &&
       !(e.domain == MONGOC_ERROR_SERVER &&
         apply_write_errors (&reply, bulk_to_ticket, n_bulk, res, settled))) {
      set_mongo_error (err, &e, "inserting tickets");
      goto done;
   }
   for (size_t b = 0; b < n_bulk; b++) {
      size_t i = bulk_to_ticket[b];
      if (!settled[i]) {
         res->items[i].outcome = TK_INSERT_STORED;
         settled[i] = true;
         if (!tickets[i]->created_at) {
            tickets[i]->created_at = now;
         }
         tickets[i]->updated_at = now;
      }
   }
   ok = true;
done:
   bson_destroy (&reply);
   mongoc_bulk_operation_destroy (bulk);
   bson_destroy (opts);
   free (bulk_to_ticket);
   return ok;
}

static bool
result_init (tk_insert_result_t *res, size_t n, bool **settled, tk_error_t *err)
{
   memset (res, 0, sizeof *res);
   *settled = calloc (n ? n : 1, sizeof **settled);
   res->items = calloc (n ? n : 1, sizeof *res->items);
   if (!*settled || !res->items) {
      free (*settled);
      *settled = NULL;
      tk_insert_result_cleanup (res);
      tk_error_set (err, TK_ERR_NOMEM, 0, "out of memory");
      return false;
   }
   res->n = n;
   return true;
}

bool
tk_store_insert_tickets (tk_store_t *store, tk_ticket_t *const *tickets, size_t n,
                         tk_insert_result_t *res, tk_error_t *err)
{
   bool *settled = NULL;
   store_conn_t conn;
   if (!result_init (res, n, &settled, err)) {
      return false;
   }
   conn_open (store, &conn);
   bool ok = bulk_insert (&conn, tickets, n, res, settled, err);
   conn_close (store, &conn);
   if (!ok) {
      /* The bulk may have been partly applied before the failure: nothing
       * is known for sure, so no ticket keeps an outcome. */
      memset (settled, 0, n * sizeof *settled);
      result_fail_rest (res, settled, err);
   }
   result_count (res);
   free (settled);
   return ok;
}

/* Replaces the text of an already-stored ticket unless it is the same.
 * Returns false only when the outcome is unknown (err set); a write error
 * for this one ticket marks its item FAILED.
 *
 * The stored text is read and compared here rather than with a
 * {subject: {$ne}} filter: FerretDB serves only a filter that is exactly
 * {_id: value} from its primary key and scans the collection for any other
 * (docs/decisions/0005). Ingest is the only writer of ticket text, one
 * batch at a time, so reading and then writing does not race. */
static bool
update_text (store_conn_t *conn, tk_ticket_t *t, tk_insert_item_t *item, tk_error_t *err)
{
   bool ok = false;
   int64_t now = now_ms ();
   bson_t reply = BSON_INITIALIZER;
   bson_error_t e;
   bson_iter_t it;
   bson_t *filter = tk_store_id_filter (t->id);
   bson_t *opts = BCON_NEW ("projection", "{", "subject", BCON_INT32 (1), "body", BCON_INT32 (1),
                            "}", "limit", BCON_INT64 (1));
   bson_t *update = NULL;
   mongoc_cursor_t *cursor = mongoc_collection_find_with_opts (conn->coll, filter, opts, NULL);
   const bson_t *doc = NULL;
   bool found = mongoc_cursor_next (cursor, &doc);
   if (mongoc_cursor_error (cursor, &e)) {
      set_mongo_error (err, &e, "reading ticket text");
      goto done;
   }
   if (found) {
      const char *subject = bson_iter_init_find (&it, doc, "subject") && BSON_ITER_HOLDS_UTF8 (&it)
                               ? bson_iter_utf8 (&it, NULL)
                               : NULL;
      bson_iter_t it2;
      const char *body = bson_iter_init_find (&it2, doc, "body") && BSON_ITER_HOLDS_UTF8 (&it2)
                            ? bson_iter_utf8 (&it2, NULL)
                            : NULL;
      if (subject && body && !strcmp (subject, t->subject) && !strcmp (body, t->body)) {
         item->outcome = TK_INSERT_UNCHANGED; /* a true no-op: updated_at stays */
         ok = true;
         goto done;
      }
   }
   update = BCON_NEW ("$set", "{", "subject", BCON_UTF8 (t->subject), "body", BCON_UTF8 (t->body),
                      "updated_at", BCON_DATE_TIME (now), "}");
   bson_destroy (&reply);
   if (!mongoc_collection_update_one (conn->coll, filter, update, NULL, &reply, &e)) {
      if (e.domain == MONGOC_ERROR_SERVER && bson_iter_init_find (&it, &reply, "writeErrors")) {
         item_fail (item, (int) e.code, e.message);
         ok = true;
      } else {
         set_mongo_error (err, &e, "updating ticket text");
      }
      goto done;
   }
   if (bson_iter_init_find (&it, &reply, "matchedCount") && bson_iter_as_int64 (&it) > 0) {
      item->outcome = TK_INSERT_CHANGED;
      t->updated_at = now;
   } else {
      item->outcome = TK_INSERT_UNCHANGED;
   }
   ok = true;
done:
   mongoc_cursor_destroy (cursor);
   bson_destroy (&reply);
   bson_destroy (filter);
   bson_destroy (opts);
   bson_destroy (update);
   return ok;
}

bool
tk_store_upsert_tickets (tk_store_t *store, tk_ticket_t *const *tickets, size_t n,
                         tk_insert_result_t *res, tk_error_t *err)
{
   bool ok = false;
   bool *settled = NULL;
   store_conn_t conn;
   if (!result_init (res, n, &settled, err)) {
      return false;
   }
   conn_open (store, &conn);
   if (!bulk_insert (&conn, tickets, n, res, settled, err)) {
      memset (settled, 0, n * sizeof *settled);
      goto done;
   }
   /* Duplicates (stored before, or earlier in this batch) get their text
    * compared and replaced, in batch order. */
   for (size_t i = 0; i < n; i++) {
      if (res->items[i].outcome == TK_INSERT_DUPLICATE &&
          !update_text (&conn, tickets[i], &res->items[i], err)) {
         settled[i] = false;
         for (size_t j = i + 1; j < n; j++) {
            if (res->items[j].outcome == TK_INSERT_DUPLICATE) {
               settled[j] = false;
            }
         }
         goto done;
      }
   }
   ok = true;
done:
   conn_close (store, &conn);
   if (!ok) {
      result_fail_rest (res, settled, err);
   }
   result_count (res);
   free (settled);
   return ok;
}

/* ---- classification ----------------------------------------------------- */

/* update_one({id}, update); NOT_FOUND when nothing matched. */
static bool
update_by_id (tk_store_t *store, const char *id, const bson_t *update, const char *what,
              tk_error_t *err)
{
   bool ok = false;
   store_conn_t conn;
   bson_t reply = BSON_INITIALIZER;
   bson_error_t e;
   bson_iter_t it;
   bson_t *filter = tk_store_id_filter (id);

   conn_open (store, &conn);
   bson_destroy (&reply);
   if (!mongoc_collection_update_one (conn.coll, filter, update, NULL, &reply, &e)) {
      set_mongo_error (err, &e, what);
      goto done;
   }
   if (!bson_iter_init_find (&it, &reply, "matchedCount") || bson_iter_as_int64 (&it) < 1) {
      tk_error_set_field (err, TK_ERR_NOT_FOUND, 0, "id", "%s: no ticket with id \"%s\"", what,
                          id);
      goto done;
   }
   ok = true;
done:
   conn_close (store, &conn);
   bson_destroy (&reply);
   bson_destroy (filter);
   return ok;
}

bool
tk_store_update_ticket_with_classification (tk_store_t *store, const char *id,
                                            const tk_classification_t *c,
                                            const tk_confidence_t *confidence,
                                            const tk_processing_metadata_t *metadata,
                                            tk_error_t *err)
{
   bool ok = false;
   bson_t update = BSON_INITIALIZER, set;

   if (!id || !c || !confidence || !metadata || !c->sentiment || !c->priority) {
      tk_error_set (err, TK_ERR_INVALID, 0,
                    "classification update needs an id, a sentiment and a priority");
      goto done;
   }
   BSON_APPEND_DOCUMENT_BEGIN (&update, "$set", &set);
   bool built = BSON_APPEND_BOOL (&set, "processed", true) &&
                tk_classification_append_bson (&set, "classification", c) &&
                tk_confidence_append_bson (&set, "confidence_scores", confidence) &&
                tk_processing_metadata_append_bson (&set, "processing_metadata", metadata) &&
                BSON_APPEND_BOOL (&set, "needs_review", metadata->needs_review) &&
                BSON_APPEND_DATE_TIME (&set, "updated_at", now_ms ());
   built = bson_append_document_end (&update, &set) && built;
   if (!built) {
      tk_error_set (err, TK_ERR_INVALID, 0, "classification does not fit in a BSON document");
      goto done;
   }
   ok = update_by_id (store, id, &update, "storing classification", err);
done:
   bson_destroy (&update);
   return ok;
}

bool
tk_store_record_failure (tk_store_t *store, const char *id, const char *error_text,
                         tk_error_t *err)
{
   if (!id || !error_text) {
      tk_error_set (err, TK_ERR_INVALID, 0, "failure record needs an id and an error text");
      return false;
   }
   bson_t *update = BCON_NEW ("$inc", "{", "processing_attempts", BCON_INT32 (1), "}", "$set",
                              "{", "last_error", BCON_UTF8 (error_text), "updated_at",
                              BCON_DATE_TIME (now_ms ()), "}");
   bool ok = update_by_id (store, id, update, "recording failure", err);
   bson_destroy (update);
   return ok;
}

/* ---- reading ------------------------------------------------------------ */

void
tk_ticket_list_destroy (tk_ticket_list_t *list)
{
   if (!list) {
      return;
   }
   for (size_t i = 0; i < list->n; i++) {
      tk_ticket_destroy (list->items[i]);
   }
   free (list->items);
   memset (list, 0, sizeof *list);
}

static bool
list_push (tk_ticket_list_t *list, tk_ticket_t *t)
{
   if (list->n == list->cap) {
      size_t cap = list->cap ? list->cap * 2 : 16;
      tk_ticket_t **items = realloc (list->items, cap * sizeof *items);
      if (!items) {
         return false;
      }
      list->items = items;
      list->cap = cap;
   }
   list->items[list->n++] = t;
   return true;
}

/* find(filter).sort(sort).limit(limit) into out. */
static bool
find_tickets (tk_store_t *store, const bson_t *filter, const bson_t *sort, uint32_t limit,
              tk_ticket_list_t *out, tk_error_t *err)
{
   bool ok = false;
   store_conn_t conn;
   mongoc_cursor_t *cursor = NULL;
   const bson_t *doc;
   bson_error_t e;
   bson_t opts = BSON_INITIALIZER;

   memset (out, 0, sizeof *out);
   if (sort) {
      BSON_APPEND_DOCUMENT (&opts, "sort", sort);
   }
   if (limit) {
      BSON_APPEND_INT64 (&opts, "limit", limit);
   }
   conn_open (store, &conn);
   cursor = mongoc_collection_find_with_opts (conn.coll, filter, &opts, NULL);
   while (mongoc_cursor_next (cursor, &doc)) {
      tk_ticket_t *t = NULL;
      if (!tk_ticket_from_bson (doc, &t, err)) {
         goto done;
      }
      if (!list_push (out, t)) {
         tk_ticket_destroy (t);
         tk_error_set (err, TK_ERR_NOMEM, 0, "out of memory");
         goto done;
      }
   }
   if (mongoc_cursor_error (cursor, &e)) {
      set_mongo_error (err, &e, "reading tickets");
      goto done;
   }
   ok = true;
done:
   if (!ok) {
      tk_ticket_list_destroy (out);
   }
   mongoc_cursor_destroy (cursor);
   conn_close (store, &conn);
   bson_destroy (&opts);
   return ok;
}

bool
tk_store_get_ticket (tk_store_t *store, const char *id, tk_ticket_t **out, tk_error_t *err)
{
   tk_ticket_list_t list;
   *out = NULL;
   if (!id) {
      tk_error_set (err, TK_ERR_INVALID, 0, "get ticket: no id");
      return false;
   }
   bson_t *filter = tk_store_id_filter (id);
   bool ok = find_tickets (store, filter, NULL, 1, &list, err);
   bson_destroy (filter);
   if (ok && list.n == 0) {
      tk_error_set_field (err, TK_ERR_NOT_FOUND, 0, "id", "no ticket with id \"%s\"", id);
      ok = false;
   }
   if (ok) {
      *out = list.items[0];
      list.n = 0;
   }
   tk_ticket_list_destroy (&list);
   return ok;
}

bool
tk_store_get_unprocessed_tickets (tk_store_t *store, uint32_t limit, tk_ticket_list_t *out,
                                  tk_error_t *err)
{
   bson_t *filter = BCON_NEW ("processed", BCON_BOOL (false));
   bson_t *sort = BCON_NEW ("created_at", BCON_INT32 (1));
   bool ok = find_tickets (store, filter, sort, limit, out, err);
   bson_destroy (filter);
   bson_destroy (sort);
   return ok;
}

bool
tk_store_get_processed_tickets (tk_store_t *store, uint32_t limit, tk_ticket_list_t *out,
                                tk_error_t *err)
{
   bson_t *filter = BCON_NEW ("processed", BCON_BOOL (true));
   bson_t *sort = BCON_NEW ("processing_metadata.processed_at", BCON_INT32 (-1));
   bool ok = find_tickets (store, filter, sort, limit, out, err);
   bson_destroy (filter);
   bson_destroy (sort);
   return ok;
}

bool
tk_store_get_tickets_by_status (tk_store_t *store, bool processed, uint32_t limit,
                                tk_ticket_list_t *out, tk_error_t *err)
{
   bson_t *filter = BCON_NEW ("processed", BCON_BOOL (processed));
   bson_t *sort = BCON_NEW ("created_at", BCON_INT32 (-1));
   bool ok = find_tickets (store, filter, sort, limit, out, err);
   bson_destroy (filter);
   bson_destroy (sort);
   return ok;
}

/* ---- statistics --------------------------------------------------------- */

static bool
count (store_conn_t *conn, const bson_t *filter, int64_t *out, tk_error_t *err)
{
   bson_error_t e;
   *out = mongoc_collection_count_documents (conn->coll, filter, NULL, NULL, NULL, &e);
   if (*out < 0) {
      set_mongo_error (err, &e, "counting tickets");
      return false;
   }
   return true;
}

static bool
priority_distribution (store_conn_t *conn, tk_processing_stats_t *out, tk_error_t *err)
{
   bool ok = false;
   const bson_t *doc;
   bson_error_t e;
   bson_t *pipeline = BCON_NEW (
      "pipeline", "[", "{", "$match", "{", "processed", BCON_BOOL (true), "}", "}", "{",
      "$group", "{", "_id", BCON_UTF8 ("$classification.priority"), "count", "{", "$sum",
      BCON_INT32 (1), "}", "}", "}", "{", "$sort", "{", "_id", BCON_INT32 (1), "}", "}", "]");
   mongoc_cursor_t *cursor =
      mongoc_collection_aggregate (conn->coll, MONGOC_QUERY_NONE, pipeline, NULL, NULL);

   while (mongoc_cursor_next (cursor, &doc)) {
      bson_iter_t it;
      int64_t n = 0;
      if (bson_iter_init_find (&it, doc, "count") && BSON_ITER_HOLDS_NUMBER (&it)) {
         n = bson_iter_as_int64 (&it);
      }
      uint32_t len = 0;
      const char *label = NULL;
      if (bson_iter_init_find (&it, doc, "_id") && BSON_ITER_HOLDS_UTF8 (&it)) {
         label = bson_iter_utf8 (&it, &len);
      }
      if (!label || len > TK_LABEL_MAX || out->n_priorities == TK_STATS_MAX_PRIORITIES) {
         out->priority_other += n;
         continue;
      }
      tk_priority_count_t *p = &out->priorities[out->n_priorities++];
      memcpy (p->label, label, len);
      p->label[len] = '\0';
      p->count = n;
   }
   if (mongoc_cursor_error (cursor, &e)) {
      set_mongo_error (err, &e, "priority distribution");
      goto done;
   }
   ok = true;
done:
   mongoc_cursor_destroy (cursor);
   bson_destroy (pipeline);
   return ok;
}

bool
tk_store_get_processing_stats (tk_store_t *store, tk_processing_stats_t *out, tk_error_t *err)
{
   bool ok = false;
   store_conn_t conn;
   int64_t now = now_ms ();
   int64_t midnight = now - now % TK_MS_PER_DAY; /* Unix time has no leap seconds */
   bson_t *all = bson_new ();
   bson_t *processed = BCON_NEW ("processed", BCON_BOOL (true));
   bson_t *unprocessed = BCON_NEW ("processed", BCON_BOOL (false));
   bson_t *today = BCON_NEW ("processed", BCON_BOOL (true), "processing_metadata.processed_at",
                             "{", "$gte", BCON_DATE_TIME (midnight), "}");

   memset (out, 0, sizeof *out);
   conn_open (store, &conn);
   if (!count (&conn, all, &out->total, err) || !count (&conn, processed, &out->processed, err) ||
       !count (&conn, unprocessed, &out->unprocessed, err) ||
       !count (&conn, today, &out->processed_today, err) ||
       !priority_distribution (&conn, out, err)) {
      memset (out, 0, sizeof *out);
      goto done;
   }
   ok = true;
done:
   conn_close (store, &conn);
   bson_destroy (all);
   bson_destroy (processed);
   bson_destroy (unprocessed);
   bson_destroy (today);
   return ok;
}

int64_t
tk_processing_stats_priority (const tk_processing_stats_t *stats, const char *label)
{
   for (size_t i = 0; i < stats->n_priorities; i++) {
      if (!strcmp (stats->priorities[i].label, label)) {
         return stats->priorities[i].count;
      }
   }
   return 0;
}

/* ---- raw access --------------------------------------------------------- */

mongoc_client_t *
tk_store_client_pop (tk_store_t *store)
{
   return mongoc_client_pool_pop (store->pool);
}

void
tk_store_client_push (tk_store_t *store, mongoc_client_t *client)
{
   if (client) {
      mongoc_client_pool_push (store->pool, client);
   }
}

bson_t *
tk_store_id_filter (const char *id)
{
   return BCON_NEW ("_id", BCON_UTF8 (id));
}
