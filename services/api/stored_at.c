/* stored_at.c - at start, once the indexes are made, gives the tickets
 * written before stored_at existed one (tk_store_backfill_stored_at: from
 * created_at, else updated_at), on the threadpool, in bulks, and logs how
 * many. Until it has
 * run, such a ticket is not listed by POST /api/fetch's time modes. When
 * the database cannot be reached the run is tried again a little later;
 * on shutdown a run stops after its current bulk. */
#include "api.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "list_sql.h"
#include "log.h"
#include "store_async.h"
#include "timeutil.h"

#define BACKFILL_BATCH 100
#define BACKFILL_RETRY_MS 5000
#define BACKFILL_WAIT_MS 250

typedef struct {
   api_t *api;
   uv_timer_t timer;
   bool running;    /* a run is on the threadpool */
   void *stop_token; /* the shutdown step waiting for the run */
   atomic_bool stopping; /* read by the run between bulks */
   /* The run's results (written on the threadpool, read in done). */
   bool ok;
   bool checked_in_sql; /* PostgreSQL said no ticket lacks one: no find ran */
   int64_t updated, duration_ms;
   tk_error_t err;
} backfill_t;

static backfill_t job;

/* Threadpool, between bulks: go on unless the api is stopping. */
static bool
keep_going (int64_t done, void *ctx)
{
   backfill_t *b = ctx;
   TK_DEBUG ("store", "stored_at given to %lld ticket(s) so far", (long long) done);
   return !atomic_load (&b->stopping);
}

static void
run_work (tk_store_t *store, void *ctx)
{
   backfill_t *b = ctx;
   int64_t t0 = tk_time_now_ms ();
   /* On the local stack, FerretDB's table says at once whether any ticket
    * lacks one; the find below reads the whole collection in Go to learn
    * it (91 s at a million tickets). When PostgreSQL cannot tell, the find
    * decides. */
   bool any = true;
   tk_error_t e = {0};
   b->checked_in_sql =
      b->api->list_sql &&
      tk_list_sql_any_missing (b->api->list_sql, tk_store_db_name (store), TK_STORE_STORED_AT,
                               &any, &e) &&
      !any;
   if (b->checked_in_sql) {
      b->ok = true;
      b->updated = 0;
   } else {
      b->ok = tk_store_backfill_stored_at (store, BACKFILL_BATCH, keep_going, b, &b->updated,
                                           &b->err);
   }
   b->duration_ms = tk_time_now_ms () - t0;
}

static void on_timer (uv_timer_t *t);

static void
run_done (int status, void *ctx)
{
   backfill_t *b = ctx;
   b->running = false;
   if (status == 0 && b->ok) {
      TK_INFO ("store", "stored_at given to %lld ticket(s) written before it existed, in %lld ms%s",
               (long long) b->updated, (long long) b->duration_ms,
               b->checked_in_sql ? " (none lacks one: checked in PostgreSQL)" : "");
   } else if (status == 0) {
      TK_WARN ("store", "giving tickets a stored_at failed after %lld: %s (retrying in %d ms)",
               (long long) b->updated, b->err.message, BACKFILL_RETRY_MS);
   }
   if (b->stop_token) {
      void *token = b->stop_token;
      b->stop_token = NULL;
      tk_shutdown_step_done (token);
   } else if (status == 0 && !b->ok && !atomic_load (&b->stopping)) {
      uv_timer_start (&b->timer, on_timer, BACKFILL_RETRY_MS, 0);
   }
}

static void
on_timer (uv_timer_t *t)
{
   backfill_t *b = t->data;
   if (b->running || atomic_load (&b->stopping) || b->api->app->stopping) {
      return;
   }
   if (!b->api->app->indexes_ready) {
      /* Never write while this process may still be creating an index on
       * the collection (FerretDB: store.c). */
      uv_timer_start (&b->timer, on_timer, BACKFILL_WAIT_MS, 0);
      return;
   }
   b->ok = false;
   b->updated = b->duration_ms = 0;
   tk_error_clear (&b->err);
   int rc = tk_store_async (b->api->app->loop, b->api->app->store, run_work, run_done, b);
   if (rc != 0) {
      TK_WARN ("store", "cannot queue the stored_at backfill: %s", uv_strerror (rc));
      return;
   }
   b->running = true;
}

static void
stop_step (void *user_data, void *token)
{
   backfill_t *b = user_data;
   atomic_store (&b->stopping, true);
   uv_timer_stop (&b->timer);
   uv_close ((uv_handle_t *) &b->timer, NULL);
   if (b->running) {
      b->stop_token = token; /* run_done finishes the step */
   } else {
      tk_shutdown_step_done (token);
   }
}

bool
api_stored_at_start (api_t *api, tk_error_t *err)
{
   memset (&job, 0, sizeof job);
   atomic_init (&job.stopping, false);
   job.api = api;
   int rc = uv_timer_init (api->app->loop, &job.timer);
   if (rc == 0) {
      job.timer.data = &job;
      rc = uv_timer_start (&job.timer, on_timer, 0, 0);
   }
   if (rc != 0) {
      tk_error_set (err, TK_ERR_IO, rc, "stored_at backfill timer: %s", uv_strerror (rc));
      return false;
   }
   uv_unref ((uv_handle_t *) &job.timer);
   if (!tk_app_add_shutdown_step (api->app, "stored_at", stop_step, &job)) {
      tk_error_set (err, TK_ERR_IO, 0, "stored_at backfill: no room for a shutdown step");
      return false;
   }
   return true;
}
