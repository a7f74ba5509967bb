/* store_stats.c - the spec's processing statistics: a tally of the whole
 * collection (ticket_tally.h, the one statistics implementation) read into
 * tk_processing_stats_t. */
#include "store_internal.h"
#include "ticket_tally.h"

#include <string.h>

bool
tk_store_get_processing_stats (tk_store_t *store, tk_processing_stats_t *out, tk_error_t *err)
{
   memset (out, 0, sizeof *out);
   mongoc_client_t *client = mongoc_client_pool_pop (store->pool);
   tk_tally_t *t = tk_tally_new (tk_store__now_ms ());
   bson_t all = BSON_INITIALIZER;
   bool ok = tk_tally_scan (t, client, store->db_name, &all, NULL, NULL, NULL, err);
   if (ok) {
      tk_tally_processing_stats (t, out);
   }
   tk_tally_destroy (t);
   mongoc_client_pool_push (store->pool, client);
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
