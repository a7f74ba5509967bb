/* store.c - the `tickets` collection over a mongoc_client_pool_t: the
 * store's lifetime, its indexes, and raw access to the pool.
 *
 * The store's other files (they share store_internal.h):
 * - store_insert.c: inserting and upserting raw tickets in bulk.
 * - store_update.c: storing a classification, recording a failure.
 * - store_read.c: reading tickets back.
 * - store_stats.c: processing statistics.
 * - store_stored_at.c: giving stored_at to tickets written before it existed.
 *
 * Shaped by FerretDB 1.24 (SQLite backend), found by experiment against it:
 *
 * - A createIndexes command listing several indexes that all exist already
 *   makes FerretDB drop the connection (MongoDB answers "all indexes already
 *   exist"). One index per createIndexes command works on both, so
 *   tk_store_ensure_indexes sends one command per index.
 * - FerretDB runs an `update` command as ordered even when ordered=false: it
 *   stops at the first write error. An unordered bulk of upserts that relies
 *   on duplicate-key errors therefore loses the operations after the first
 *   error. The upsert is an unordered bulk *insert* (FerretDB honours
 *   ordered=false there and reports every duplicate by index, code 11000,
 *   like MongoDB) followed by one plain update_one per already-stored ticket.
 * - Its secondary indexes serve no filter but an equality on a top-level
 *   field (decision 0017), and creating one on a large existing table, a
 *   long DDL, holds FerretDB's metadata lock: with writes to the same
 *   collection under way it can stall the whole server. An index that only
 *   MongoDB would use, added after databases exist (processed_1_stored_at_1_id_1,
 *   the compound indexes of the lists), is therefore created on MongoDB
 *   only; FerretDB keeps the single-field set it has always had.
 * - $dateToString and the other date operators are not implemented in
 *   aggregation, and $group knows only $sum and $count: the statistics are
 *   one scan counted in C (ticket_tally.h).
 */
#include "store_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TK_STORE_DEFAULT_DB "triage"
#define TK_STORE_DEFAULT_POOL 16

/* ---- shared by the store's files ---------------------------------------- */

/* Milliseconds since the Unix epoch, UTC. */
int64_t
tk_store__now_ms (void)
{
   struct timespec ts;
   clock_gettime (CLOCK_REALTIME, &ts);
   return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
tk_store__set_mongo_error (tk_error_t *err, const bson_error_t *e, const char *what)
{
   tk_error_set (err, TK_ERR_MONGO, (int) e->code, "%s: %s", what, e->message);
}

void
tk_store__conn_open (tk_store_t *store, tk_store_conn_t *c)
{
   c->client = mongoc_client_pool_pop (store->pool);
   c->coll = mongoc_client_get_collection (c->client, store->db_name, TK_STORE_COLLECTION);
}

void
tk_store__conn_close (tk_store_t *store, tk_store_conn_t *c)
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
      tk_store__set_mongo_error (err, &e, "ping");
   }
   mongoc_client_pool_push (store->pool, client);
   bson_destroy (cmd);
   return ok;
}

/* Whether the server is FerretDB: its buildInfo names its own version. */
static bool
server_is_ferretdb (mongoc_client_t *client, bool *ferretdb, tk_error_t *err)
{
   bson_t *cmd = BCON_NEW ("buildInfo", BCON_INT32 (1));
   bson_t reply;
   bson_error_t e;
   bson_iter_t it;
   bool ok = mongoc_client_command_simple (client, "admin", cmd, NULL, &reply, &e);
   if (ok) {
      *ferretdb = bson_iter_init_find (&it, &reply, "ferretdbVersion");
   } else {
      tk_store__set_mongo_error (err, &e, "buildInfo");
   }
   bson_destroy (&reply);
   bson_destroy (cmd);
   return ok;
}

bool
tk_store_server_is_ferretdb (tk_store_t *store, bool *ferretdb, tk_error_t *err)
{
   mongoc_client_t *client = mongoc_client_pool_pop (store->pool);
   bool ok = server_is_ferretdb (client, ferretdb, err);
   mongoc_client_pool_push (store->pool, client);
   return ok;
}

/* Which servers an index is made on (see the FerretDB notes at the top). */
typedef enum { ON_BOTH, ON_FERRETDB, ON_MONGODB } index_server_t;

/* The indexes of tk_store_ensure_indexes, each under its default name, so
 * that an index someone created by hand with the same key does not
 * conflict.
 *
 * FerretDB keeps the single-field indexes it has always had: it uses an
 * index only for an equality on a top-level field, sorts in Go, and pays
 * a B-tree and a GIN twin per index on every update (decision 0008).
 *
 * MongoDB gets, for each list the api serves (query_filter.c's equality
 * filters, query_sort.c's sorts), an index whose key is the filter's
 * equality field followed by the sort's keys, so that a page is read in
 * index order without a blocking SORT stage (decision 0017, "On MongoDB
 * (compose)"; tests/unit/test_store_indexes.c checks every sort against
 * this table). An index is walked either way, so each one serves its
 * sort in both directions, but not a sort with mixed directions: a label
 * or confidence sort is {field: d, created_at: d, id: d}, hence the
 * field's -1 below. The single-field indexes FerretDB gets are prefixes
 * of these, which serve everything they would, so MongoDB does not get
 * them (a database made before keeps them until dropped by hand). */
static const struct {
   tk_store_index_t ix;
   index_server_t on;
} store_indexes[] = {
   {{"id_1", {{"id", 1}}, true}, ON_BOTH},
   {{"processed_1_created_at_-1", {{"processed", 1}, {"created_at", -1}}, false}, ON_FERRETDB},
   {{"processing_metadata.processed_at_-1", {{"processing_metadata.processed_at", -1}}, false},
    ON_FERRETDB},
   {{"classification.priority_1", {{"classification.priority", 1}}, false}, ON_FERRETDB},
   {{"classification.topic_tags_1", {{"classification.topic_tags", 1}}, false}, ON_FERRETDB},
   {{"classification.sentiment_1", {{"classification.sentiment", 1}}, false}, ON_FERRETDB},
   /* sort=-created_at (the default) and created_at, unfiltered or with
    * filters no index below starts with (confidence_below, failed, a
    * date range, corrected); retention's created_at range. */
   {{"created_at_-1_id_-1", {{"created_at", -1}, {"id", -1}}, false}, ON_MONGODB},
   /* status=processed|unprocessed, newest or oldest first (also the
    * classifier's and triagectl's reads of unprocessed tickets). */
   {{"processed_1_created_at_-1_id_-1", {{"processed", 1}, {"created_at", -1}, {"id", -1}}, false},
    ON_MONGODB},
   /* sort=-processed_at and processed_at; processed_from/to. */
   {{"processing_metadata.processed_at_-1_id_-1",
     {{"processing_metadata.processed_at", -1}, {"id", -1}},
     false},
    ON_MONGODB},
   /* priority=..., sentiment=... (one value or several: a SORT_MERGE of
    * one scan per value), and sort=±priority, ±sentiment. */
   {{"classification.priority_-1_created_at_-1_id_-1",
     {{"classification.priority", -1}, {"created_at", -1}, {"id", -1}},
     false},
    ON_MONGODB},
   {{"classification.sentiment_-1_created_at_-1_id_-1",
     {{"classification.sentiment", -1}, {"created_at", -1}, {"id", -1}},
     false},
    ON_MONGODB},
   /* topic=... (multikey: the sort is on the other, single-valued fields,
    * which MongoDB allows). */
   {{"classification.topic_tags_1_created_at_-1_id_-1",
     {{"classification.topic_tags", 1}, {"created_at", -1}, {"id", -1}},
     false},
    ON_MONGODB},
   /* needs_review=true (needs_review=false, a $ne, walks created_at). */
   {{"needs_review_1_created_at_-1_id_-1",
     {{"needs_review", 1}, {"created_at", -1}, {"id", -1}},
     false},
    ON_MONGODB},
   /* sort=±confidence_topic, ±confidence_sentiment, ±confidence_priority
    * (the dashboard's "least sure first" and its column headers). */
   {{"confidence_scores.topic_-1_created_at_-1_id_-1",
     {{"confidence_scores.topic", -1}, {"created_at", -1}, {"id", -1}},
     false},
    ON_MONGODB},
   {{"confidence_scores.sentiment_-1_created_at_-1_id_-1",
     {{"confidence_scores.sentiment", -1}, {"created_at", -1}, {"id", -1}},
     false},
    ON_MONGODB},
   {{"confidence_scores.priority_-1_created_at_-1_id_-1",
     {{"confidence_scores.priority", -1}, {"created_at", -1}, {"id", -1}},
     false},
    ON_MONGODB},
   /* POST /api/fetch: unprocessed tickets in the order they were stored,
    * sorted {stored_at: 1, id: 1} (routes_fetch.c), which the id in the
    * key serves without a sort. The first version, processed_1_stored_at_1
    * (no id), stays in the databases made before until dropped by hand. */
   {{"processed_1_stored_at_1_id_1", {{"processed", 1}, {TK_STORE_STORED_AT, 1}, {"id", 1}}, false},
    ON_MONGODB},
};

const tk_store_index_t *
tk_store_index (bool ferretdb, size_t i)
{
   for (size_t j = 0; j < sizeof store_indexes / sizeof store_indexes[0]; j++) {
      index_server_t on = store_indexes[j].on;
      if (on == ON_BOTH || on == (ferretdb ? ON_FERRETDB : ON_MONGODB)) {
         if (i-- == 0) {
            return &store_indexes[j].ix;
         }
      }
   }
   return NULL;
}

/* One createIndexes command for ix (one index per command: see the FerretDB
 * note at the top of the file). */
static bool
create_index (mongoc_database_t *db, const tk_store_index_t *ix, tk_error_t *err)
{
   bson_t cmd, list, spec, key;
   bson_error_t e;
   bson_init (&cmd);
   BSON_APPEND_UTF8 (&cmd, "createIndexes", TK_STORE_COLLECTION);
   BSON_APPEND_ARRAY_BEGIN (&cmd, "indexes", &list);
   BSON_APPEND_DOCUMENT_BEGIN (&list, "0", &spec);
   BSON_APPEND_DOCUMENT_BEGIN (&spec, "key", &key);
   for (size_t k = 0; k < TK_STORE_INDEX_KEY_MAX && ix->key[k].field; k++) {
      BSON_APPEND_INT32 (&key, ix->key[k].field, ix->key[k].dir);
   }
   bson_append_document_end (&spec, &key);
   BSON_APPEND_UTF8 (&spec, "name", ix->name);
   if (ix->unique) {
      BSON_APPEND_BOOL (&spec, "unique", true);
   }
   bson_append_document_end (&list, &spec);
   bson_append_array_end (&cmd, &list);
   bool created = mongoc_database_write_command_with_opts (db, &cmd, NULL, NULL, &e);
   bson_destroy (&cmd);
   if (!created) {
      char what[96];
      snprintf (what, sizeof what, "creating index %s", ix->name);
      tk_store__set_mongo_error (err, &e, what);
   }
   return created;
}

static bool
ensure_indexes (mongoc_client_t *client, const char *db_name, bool ferretdb, tk_error_t *err)
{
   mongoc_database_t *db = mongoc_client_get_database (client, db_name);
   const tk_store_index_t *ix;
   bool ok = true;
   for (size_t i = 0; ok && (ix = tk_store_index (ferretdb, i)); i++) {
      ok = create_index (db, ix, err);
   }
   mongoc_database_destroy (db);
   return ok;
}

bool
tk_store_ensure_indexes (tk_store_t *store, tk_error_t *err)
{
   bool ferretdb = false;
   mongoc_client_t *client = mongoc_client_pool_pop (store->pool);
   bool ok = server_is_ferretdb (client, &ferretdb, err) &&
             ensure_indexes (client, store->db_name, ferretdb, err);
   mongoc_client_pool_push (store->pool, client);
   return ok;
}

bool
tk_store_ensure_indexes_as (tk_store_t *store, bool ferretdb, tk_error_t *err)
{
   mongoc_client_t *client = mongoc_client_pool_pop (store->pool);
   bool ok = ensure_indexes (client, store->db_name, ferretdb, err);
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
      tk_store__set_mongo_error (err, &e, "dropping database");
   }
   mongoc_database_destroy (db);
   mongoc_client_pool_push (store->pool, client);
   return ok;
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
