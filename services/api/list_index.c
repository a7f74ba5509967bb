/* list_index.c - the api's side tables on the local stack (list_sql.h):
 * at start, on the threadpool, asks PostgreSQL for them on this api's
 * database (made and filled now if the collection exists, else when
 * FerretDB creates it) and logs the outcome. Until they are ready, list
 * pages read the collection. */
#include "api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "list_sql.h"
#include "log.h"

typedef struct {
   uv_work_t work;
   api_t *api;
   char db[128];
   char state[16];
   bool ok;
   tk_error_t err;
} enable_t;

static void
enable_work (uv_work_t *w)
{
   enable_t *e = w->data;
   e->ok = tk_list_sql_enable (e->api->list_sql, e->db, e->state, sizeof e->state, &e->err);
}

static void
enable_done (uv_work_t *w, int status)
{
   enable_t *e = w->data;
   if (status != 0) {
      /* cancelled: the api is stopping */
   } else if (!e->ok) {
      TK_WARN ("api", "side tables for database \"%s\" not made, lists read the collection: %s",
               e->db, e->err.message);
   } else if (!strcmp (e->state, "ready")) {
      TK_INFO ("api", "side tables for database \"%s\" ready: filtered lists and search by index",
               e->db);
   } else {
      TK_INFO ("api", "side tables for database \"%s\" will be made with its tickets collection",
               e->db);
   }
   free (e);
}

bool
api_list_index_start (api_t *api)
{
   if (!api->list_sql) {
      return true;
   }
   enable_t *e = calloc (1, sizeof *e);
   if (!e) {
      return false;
   }
   e->api = api;
   e->work.data = e;
   snprintf (e->db, sizeof e->db, "%s", tk_store_db_name (api->app->store));
   if (uv_queue_work (api->app->loop, &e->work, enable_work, enable_done) != 0) {
      free (e);
      return false;
   }
   return true;
}
