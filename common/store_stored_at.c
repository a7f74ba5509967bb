/* store_stored_at.c - giving stored_at to the tickets written before it
 * existed (see tk_store_backfill_stored_at in store.h).
 *
 * Each ticket needs its own value (its created_at, else its updated_at), and
 * neither MongoDB's update pipelines nor $$NOW exist on FerretDB 1.24, so
 * the tickets are read once, with a projection of the two dates, and
 * written back in bulks of update_one's by _id (the cheap filter on both
 * servers, decision 0005). Every update also asks that stored_at be still
 * missing: a ticket an insert or another backfill gave one meanwhile keeps
 * it, which is what makes the backfill safe to repeat.
 */
#include "store_internal.h"

#include <string.h>

#define BACKFILL_DEFAULT_BATCH 500

/* The value a ticket without stored_at gets: created_at, else updated_at,
 * else now. */
static int64_t
backfill_value (const bson_t *doc, int64_t now)
{
   static const char *const fields[] = {"created_at", "updated_at"};
   bson_iter_t it;
   for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
      if (bson_iter_init_find (&it, doc, fields[i]) && BSON_ITER_HOLDS_DATE_TIME (&it)) {
         return bson_iter_date_time (&it);
      }
   }
   return now;
}

/* Adds the update of doc to bulk. false when doc has no usable _id. */
static bool
bulk_add_one (mongoc_bulk_operation_t *bulk, const bson_t *doc, int64_t now, bson_error_t *e)
{
   bson_iter_t id;
   if (!bson_iter_init_find (&id, doc, "_id")) {
      return false;
   }
   bson_t filter = BSON_INITIALIZER, cond, update = BSON_INITIALIZER, set;
   bson_append_iter (&filter, "_id", -1, &id);
   BSON_APPEND_DOCUMENT_BEGIN (&filter, TK_STORE_STORED_AT, &cond);
   BSON_APPEND_BOOL (&cond, "$exists", false);
   bson_append_document_end (&filter, &cond);
   BSON_APPEND_DOCUMENT_BEGIN (&update, "$set", &set);
   BSON_APPEND_DATE_TIME (&set, TK_STORE_STORED_AT, backfill_value (doc, now));
   bson_append_document_end (&update, &set);
   bool ok = mongoc_bulk_operation_update_one_with_opts (bulk, &filter, &update, NULL, e);
   bson_destroy (&update);
   bson_destroy (&filter);
   return ok;
}

/* Runs bulk (which holds n updates) and adds the tickets it changed to
 * *updated. Destroys bulk. */
static bool
bulk_run (mongoc_bulk_operation_t *bulk, size_t n, int64_t *updated, tk_error_t *err)
{
   bson_t reply;
   bson_error_t e;
   bson_iter_t it;
   bool ok = n == 0 || mongoc_bulk_operation_execute (bulk, &reply, &e);
   if (n > 0) {
      if (ok && bson_iter_init_find (&it, &reply, "nModified") && BSON_ITER_HOLDS_NUMBER (&it)) {
         *updated += bson_iter_as_int64 (&it);
      } else if (!ok) {
         tk_store__set_mongo_error (err, &e, "giving tickets a stored_at");
      }
      bson_destroy (&reply);
   }
   mongoc_bulk_operation_destroy (bulk);
   return ok;
}

bool
tk_store_backfill_stored_at (tk_store_t *store, uint32_t batch, tk_store_backfill_fn progress,
                             void *ctx, int64_t *updated, tk_error_t *err)
{
   int64_t done = 0, now = tk_store__now_ms ();
   uint32_t max = batch ? batch : BACKFILL_DEFAULT_BATCH;
   bson_t *filter = BCON_NEW (TK_STORE_STORED_AT, "{", "$exists", BCON_BOOL (false), "}");
   bson_t *opts = BCON_NEW ("projection", "{", "created_at", BCON_INT32 (1), "updated_at",
                            BCON_INT32 (1), "}", "batchSize", BCON_INT32 ((int32_t) max));
   bson_t *bulk_opts = BCON_NEW ("ordered", BCON_BOOL (false));
   tk_store_conn_t conn;
   tk_store__conn_open (store, &conn);
   mongoc_cursor_t *cursor = mongoc_collection_find_with_opts (conn.coll, filter, opts, NULL);
   mongoc_bulk_operation_t *bulk = NULL;
   const bson_t *doc;
   bson_error_t e;
   size_t n = 0;
   bool ok = true, more = true;
   while (ok && more) {
      more = mongoc_cursor_next (cursor, &doc);
      if (more) {
         if (!bulk) {
            bulk = mongoc_collection_create_bulk_operation_with_opts (conn.coll, bulk_opts);
         }
         n += bulk_add_one (bulk, doc, now, &e);
      }
      if (n > 0 && (n == max || !more)) {
         ok = bulk_run (bulk, n, &done, err);
         more = more && ok && (!progress || progress (done, ctx));
         bulk = NULL;
         n = 0;
      }
   }
   if (ok && mongoc_cursor_error (cursor, &e)) {
      tk_store__set_mongo_error (err, &e, "reading tickets without stored_at");
      ok = false;
   }
   mongoc_bulk_operation_destroy (bulk);
   mongoc_cursor_destroy (cursor);
   tk_store__conn_close (store, &conn);
   bson_destroy (bulk_opts);
   bson_destroy (opts);
   bson_destroy (filter);
   if (updated) {
      *updated = done;
   }
   return ok;
}
