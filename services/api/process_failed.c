/* process_failed.c - a processing job whose classification requests could
 * not all be published: its record in `jobs` gets status "failed" with the
 * reason and the counts, so that GET /api/process/{job} (every replica's)
 * says so instead of waiting for tickets nobody was asked to classify.
 * The write runs on the threadpool; the route's answer follows it. */
#include "api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "store_async.h"
#include "timeutil.h"

typedef struct {
   api_call_t *call; /* borrowed: the route answers it in then */
   void (*then) (api_call_t *call);
   char job_id[48];
   char reason[640];
   int64_t published, failed, at;
   bool ok;
   bson_error_t e;
} mark_t;

static void
mark_work (tk_store_t *store, void *ctx)
{
   mark_t *m = ctx;
   mongoc_client_t *client = tk_store_client_pop (store);
   mongoc_collection_t *jobs =
      mongoc_client_get_collection (client, tk_store_db_name (store), "jobs");
   bson_t *filter = BCON_NEW ("job_id", BCON_UTF8 (m->job_id));
   bson_t *update = BCON_NEW ("$set", "{", "status", BCON_UTF8 ("failed"), "reason",
                              BCON_UTF8 (m->reason), "published", BCON_INT64 (m->published),
                              "publish_failed", BCON_INT64 (m->failed), "failed_at",
                              BCON_DATE_TIME (m->at), "}");
   m->ok = mongoc_collection_update_one (jobs, filter, update, NULL, NULL, &m->e);
   bson_destroy (update);
   bson_destroy (filter);
   mongoc_collection_destroy (jobs);
   tk_store_client_push (store, client);
}

static void
mark_done (int status, void *ctx)
{
   mark_t *m = ctx;
   if (status != 0 || !m->ok) {
      TK_WARN ("api", "job %s: cannot record that it failed: %s", m->job_id,
               status != 0 ? "cancelled" : m->e.message);
   }
   m->then (m->call);
   free (m);
}

void
api_process_mark_failed (api_call_t *call, const char *job_id, int64_t published, int64_t failed,
                         const char *reason, void (*then) (api_call_t *))
{
   mark_t *m = calloc (1, sizeof *m);
   if (!m) {
      TK_WARN ("api", "job %s: out of memory recording that it failed", job_id);
      then (call);
      return;
   }
   m->call = call;
   m->then = then;
   snprintf (m->job_id, sizeof m->job_id, "%s", job_id);
   snprintf (m->reason, sizeof m->reason, "%s", reason);
   m->published = published;
   m->failed = failed;
   m->at = tk_time_now_ms ();
   tk_app_t *app = call->api->app;
   int rc = tk_store_async (app->loop, app->store, mark_work, mark_done, m);
   if (rc != 0) {
      TK_WARN ("api", "job %s: cannot queue the record that it failed: %s", job_id,
               uv_strerror (rc));
      free (m);
      then (call);
   }
}
