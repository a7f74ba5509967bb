/* store_fixture.c - see store_fixture.h. */
#include "store_fixture.h"

#include <stdio.h>

#include "test_support.h"

tk_store_t *
tk_test_store_open (const char *prefix, char *db, size_t cap, uint32_t pool_max)
{
   tk_error_t err = {0};
   tk_test_unique_name (prefix, db, cap);
   tk_store_t *store = tk_store_new (tk_test_mongo_uri (), db, pool_max, &err);
   if (!store || !tk_store_ensure_indexes (store, &err)) {
      fprintf (stderr, "store on %s: %s\n", db, err.message);
      tk_store_destroy (store);
      return NULL;
   }
   return store;
}

bool
tk_test_store_drop (tk_store_t *store)
{
   if (!store) {
      return true;
   }
   tk_error_t err = {0};
   bool dropped = tk_store_drop_database (store, &err);
   if (!dropped) {
      fprintf (stderr, "drop database: %s\n", err.message);
   }
   tk_store_destroy (store);
   return dropped;
}
