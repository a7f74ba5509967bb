/* store_stored_at.c - giving stored_at to the tickets written before it
 * existed (see tk_store_backfill_stored_at in store.h).
 *
 * Each ticket needs its own value (its created_at, else its updated_at), and
 * neither MongoDB's update pipelines nor $$NOW exist on FerretDB 1.24, so
 * the tickets are read with a projection of the two dates and written back
 * in bulks of update_one's by _id (the cheap filter on both servers,
 * decision 0005). Every update also asks that stored_at be still missing: a
 * ticket an insert or another backfill gave one meanwhile keeps it, which is
 * what makes the backfill safe to repeat.
 *
 * Never a write while a cursor on the collection is open: read a page of up
 * to BACKFILL_PAGE tickets to the end (the cursor closed), then write it,
 * then read the next page. The first version wrote each bulk while its
 * cursor stayed open, and on FerretDB 1.24 (PostgreSQL) two apis starting
 * at once on the same database wedged the whole server: the open cursors'
 * queries waited for their clients, the clients for their updates, and
 * FerretDB's connection pool and metadata lock for them, for good.
 */
#include "store_internal.h"

#include <stdlib.h>
#include <string.h>

#define BACKFILL_DEFAULT_BATCH 500
/* Tickets read before any is written: the cursor is drained and closed
 * first (see the top of the file). */
#define BACKFILL_PAGE 20000

/* One ticket to give a stored_at: its _id and the value. */
typedef struct {
   bson_value_t id; /* copied; bson_value_destroy */
   int64_t at;
} pending_t;

typedef struct {
   pending_t *items;
   size_t n, cap;
} page_t;

static void
page_clear (page_t *pg)
{
   for (size_t i = 0; i < pg->n; i++) {
      bson_value_destroy (&pg->items[i].id);
   }
   pg->n = 0;
}

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

/* Reads up to BACKFILL_PAGE tickets without stored_at into pg, draining
 * and closing the cursor before returning. false with err on failure. */
static bool
page_read (tk_store_conn_t *conn, int64_t now, uint32_t batch, page_t *pg, tk_error_t *err)
{
   bson_t *filter = BCON_NEW (TK_STORE_STORED_AT, "{", "$exists", BCON_BOOL (false), "}");
   bson_t *opts = BCON_NEW ("projection", "{", "created_at", BCON_INT32 (1), "updated_at",
                            BCON_INT32 (1), "}", "limit", BCON_INT64 (BACKFILL_PAGE),
                            "batchSize", BCON_INT32 ((int32_t) batch));
   mongoc_cursor_t *cursor = mongoc_collection_find_with_opts (conn->coll, filter, opts, NULL);
   const bson_t *doc;
   bson_iter_t id;
   bson_error_t e;
   bool ok = true;
   while (ok && mongoc_cursor_next (cursor, &doc)) {
      if (!bson_iter_init_find (&id, doc, "_id")) {
         continue;
      }
      if (pg->n == pg->cap) {
         size_t cap = pg->cap ? pg->cap * 2 : 1024;
         pending_t *items = realloc (pg->items, cap * sizeof *items);
         if (!items) {
            tk_error_set (err, TK_ERR_NOMEM, 0, "out of memory");
            ok = false;
            break;
         }
         pg->items = items;
         pg->cap = cap;
      }
      bson_value_copy (bson_iter_value (&id), &pg->items[pg->n].id);
      pg->items[pg->n++].at = backfill_value (doc, now);
   }
   if (ok && mongoc_cursor_error (cursor, &e)) {
      tk_store__set_mongo_error (err, &e, "reading tickets without stored_at");
      ok = false;
   }
   mongoc_cursor_destroy (cursor);
   bson_destroy (opts);
   bson_destroy (filter);
   return ok;
}

/* Writes items[0, n) in one bulk of update_one's, each by _id and only
 * while stored_at is still missing; adds the tickets changed to *updated. */
static bool
bulk_write (tk_store_conn_t *conn, const pending_t *items, size_t n, int64_t *updated,
            tk_error_t *err)
{
   bson_t *bulk_opts = BCON_NEW ("ordered", BCON_BOOL (false));
   mongoc_bulk_operation_t *bulk =
      mongoc_collection_create_bulk_operation_with_opts (conn->coll, bulk_opts);
   bson_t reply;
   bson_error_t e;
   bson_iter_t it;
   for (size_t i = 0; i < n; i++) {
      bson_t filter = BSON_INITIALIZER, cond, update = BSON_INITIALIZER, set;
      bson_append_value (&filter, "_id", -1, &items[i].id);
      BSON_APPEND_DOCUMENT_BEGIN (&filter, TK_STORE_STORED_AT, &cond);
      BSON_APPEND_BOOL (&cond, "$exists", false);
      bson_append_document_end (&filter, &cond);
      BSON_APPEND_DOCUMENT_BEGIN (&update, "$set", &set);
      BSON_APPEND_DATE_TIME (&set, TK_STORE_STORED_AT, items[i].at);
      bson_append_document_end (&update, &set);
      mongoc_bulk_operation_update_one_with_opts (bulk, &filter, &update, NULL, &e);
      bson_destroy (&update);
      bson_destroy (&filter);
   }
   bool ok = mongoc_bulk_operation_execute (bulk, &reply, &e);
   if (ok && bson_iter_init_find (&it, &reply, "nModified") && BSON_ITER_HOLDS_NUMBER (&it)) {
      *updated += bson_iter_as_int64 (&it);
   } else if (!ok) {
      tk_store__set_mongo_error (err, &e, "giving tickets a stored_at");
   }
   bson_destroy (&reply);
   mongoc_bulk_operation_destroy (bulk);
   bson_destroy (bulk_opts);
   return ok;
}

/* Writes a page in bulks of batch. *stop is set when progress says so. */
static bool
page_write (tk_store_conn_t *conn, const page_t *pg, uint32_t batch,
            tk_store_backfill_fn progress, void *ctx, int64_t *done, bool *stop,
            tk_error_t *err)
{
   for (size_t i = 0; i < pg->n && !*stop; i += batch) {
      size_t k = pg->n - i < batch ? pg->n - i : batch;
      if (!bulk_write (conn, pg->items + i, k, done, err)) {
         return false;
      }
      *stop = progress && !progress (*done, ctx);
   }
   return true;
}

bool
tk_store_backfill_stored_at (tk_store_t *store, uint32_t batch, tk_store_backfill_fn progress,
                             void *ctx, int64_t *updated, tk_error_t *err)
{
   int64_t done = 0, now = tk_store__now_ms ();
   uint32_t max = batch ? batch : BACKFILL_DEFAULT_BATCH;
   page_t pg = {0};
   bool ok = true, stop = false;
   tk_store_conn_t conn;
   tk_store__conn_open (store, &conn);
   while (ok && !stop) {
      int64_t before = done;
      page_clear (&pg);
      ok = page_read (&conn, now, max, &pg, err) &&
           page_write (&conn, &pg, max, progress, ctx, &done, &stop, err);
      /* The last page, or one of tickets none of which could be written
       * (read again, they would come back forever). */
      stop = stop || pg.n < BACKFILL_PAGE || done == before;
   }
   page_clear (&pg);
   free (pg.items);
   tk_store__conn_close (store, &conn);
   if (updated) {
      *updated = done;
   }
   return ok;
}
