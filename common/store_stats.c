/* store_stats.c - processing statistics: counts by state, "processed
 * today" (a date-range count: FerretDB has no date operators in
 * aggregation) and the priority distribution (a $group with $sum).
 */
#include "store_internal.h"

#include <stdlib.h>
#include <string.h>

/* ---- statistics --------------------------------------------------------- */

static bool
count (tk_store_conn_t *conn, const bson_t *filter, int64_t *out, tk_error_t *err)
{
   bson_error_t e;
   *out = mongoc_collection_count_documents (conn->coll, filter, NULL, NULL, NULL, &e);
   if (*out < 0) {
      tk_store__set_mongo_error (err, &e, "counting tickets");
      return false;
   }
   return true;
}

static bool
priority_distribution (tk_store_conn_t *conn, tk_processing_stats_t *out, tk_error_t *err)
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
      tk_store__set_mongo_error (err, &e, "priority distribution");
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
   tk_store_conn_t conn;
   int64_t now = tk_store__now_ms ();
   int64_t midnight = now - now % TK_MS_PER_DAY; /* Unix time has no leap seconds */
   bson_t *all = bson_new ();
   bson_t *processed = BCON_NEW ("processed", BCON_BOOL (true));
   bson_t *unprocessed = BCON_NEW ("processed", BCON_BOOL (false));
   bson_t *today = BCON_NEW ("processed", BCON_BOOL (true), "processing_metadata.processed_at",
                             "{", "$gte", BCON_DATE_TIME (midnight), "}");

   memset (out, 0, sizeof *out);
   tk_store__conn_open (store, &conn);
   if (!count (&conn, all, &out->total, err) || !count (&conn, processed, &out->processed, err) ||
       !count (&conn, unprocessed, &out->unprocessed, err) ||
       !count (&conn, today, &out->processed_today, err) ||
       !priority_distribution (&conn, out, err)) {
      memset (out, 0, sizeof *out);
      goto done;
   }
   ok = true;
done:
   tk_store__conn_close (store, &conn);
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

