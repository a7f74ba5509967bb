/* retention.c - the scheduled retention job: purge or anonymise tickets
 * older than TRIAGE_RETENTION_DAYS, one audit record per run (see
 * retention.h). */
#include "retention.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "pii_mask.h"
#include "snapshot.h"
#include "store_async.h"
#include "timeutil.h"

#define MS_PER_DAY INT64_C (86400000)
#define FIRST_RUN_DELAY_MS 2000
#define ANONYMISE_BATCH 500
#define ANONYMISE_MAX_PER_RUN 100000 /* the next run continues */

typedef struct {
   api_t *api;
   uv_timer_t timer;
   bool running;       /* a run is on the threadpool */
   bool stopping;
   void *stop_token;   /* the shutdown step waiting for the run */
   /* The run's inputs and results (written on the threadpool, read in done). */
   int64_t cutoff_ms;
   bool anonymise;
   int64_t matched;
   int64_t changed;
   int64_t duration_ms;
   bool ok;
   char error[768];
} retention_t;

static retention_t job;

/* purge: one delete_many. */
static bool
run_purge (mongoc_client_t *client, const char *db, retention_t *r, bson_error_t *e)
{
   bson_t *filter = BCON_NEW ("created_at", "{", "$lt", BCON_DATE_TIME (r->cutoff_ms), "}");
   int64_t deleted = 0;
   bool ok = tk_store_tickets_delete (client, db, filter, true, &deleted, e);
   r->changed = r->matched = deleted;
   bson_destroy (filter);
   return ok;
}

/* Sets field (subject or body) of update to the masked text of doc's. */
static void
append_masked (bson_t *set, const bson_t *doc, const char *field)
{
   bson_iter_t it;
   if (!bson_iter_init_find (&it, doc, field) || !BSON_ITER_HOLDS_UTF8 (&it)) {
      return;
   }
   uint32_t len;
   const char *text = bson_iter_utf8 (&it, &len);
   char *masked = tk_pii_mask (text, len, NULL);
   BSON_APPEND_UTF8 (set, field, masked ? masked : "[REDACTED]");
   free (masked);
}

/* anonymise: batches of old tickets not yet anonymised, each rewritten by
 * its _id (the ticket id, decision 0005). */
static bool
run_anonymise (mongoc_client_t *client, const char *db, retention_t *r, bson_error_t *e)
{
   bson_t *filter = BCON_NEW ("created_at", "{", "$lt", BCON_DATE_TIME (r->cutoff_ms), "}",
                              "anonymised_at", "{", "$exists", BCON_BOOL (false), "}");
   bson_t *projection = BCON_NEW ("subject", BCON_INT32 (1), "body", BCON_INT32 (1));
   const tk_ticket_query_t q = {.filter = filter, .projection = projection,
                                .limit = ANONYMISE_BATCH};
   bool ok = true;
   while (ok && r->matched < ANONYMISE_MAX_PER_RUN) {
      mongoc_cursor_t *cur = tk_store_tickets_find (client, db, &q);
      const bson_t *doc;
      int64_t in_batch = 0;
      while (ok && mongoc_cursor_next (cur, &doc)) {
         bson_iter_t id;
         in_batch++;
         r->matched++;
         if (!bson_iter_init_find (&id, doc, "_id")) {
            continue;
         }
         bson_t sel = BSON_INITIALIZER, update = BSON_INITIALIZER, set;
         bson_append_iter (&sel, "_id", 3, &id);
         BSON_APPEND_DOCUMENT_BEGIN (&update, "$set", &set);
         append_masked (&set, doc, "subject");
         append_masked (&set, doc, "body");
         int64_t now = tk_time_now_ms ();
         BSON_APPEND_DATE_TIME (&set, "anonymised_at", now);
         BSON_APPEND_DATE_TIME (&set, "updated_at", now);
         bson_append_document_end (&update, &set);
         if (tk_store_tickets_update_one (client, db, &sel, &update, NULL, e)) {
            r->changed++;
         } else {
            ok = false;
         }
         bson_destroy (&update);
         bson_destroy (&sel);
      }
      if (ok && mongoc_cursor_error (cur, e)) {
         ok = false;
      }
      mongoc_cursor_destroy (cur);
      if (in_batch < ANONYMISE_BATCH) {
         break;
      }
   }
   bson_destroy (projection);
   bson_destroy (filter);
   return ok;
}

static void
write_audit (mongoc_client_t *client, const char *db, retention_t *r, int days)
{
   bson_t *detail = BCON_NEW ("days", BCON_INT32 (days), "cutoff", BCON_DATE_TIME (r->cutoff_ms),
                              "matched", BCON_INT64 (r->matched), "changed",
                              BCON_INT64 (r->changed), "duration_ms", BCON_INT64 (r->duration_ms),
                              "error", BCON_UTF8 (r->error));
   tk_audit_entry_t entry = {
      .service = "api",
      .key_id = "retention",
      .role = "system",
      .method = "JOB",
      .route = "retention",
      .action = r->anonymise ? "retention.anonymise" : "retention.purge",
      .status = r->ok ? 200 : 503,
      .detail = detail,
   };
   bson_t *doc = tk_audit_record_new (&entry);
   tk_error_t err;
   if (!tk_audit_insert (client, db, doc, &err)) {
      snprintf (r->error + strlen (r->error), sizeof r->error - strlen (r->error),
                "%saudit record not written: %s", r->error[0] ? "; " : "", err.message);
   }
   bson_destroy (doc);
   bson_destroy (detail);
}

/* Threadpool. */
static void
run_work (tk_store_t *store, void *ctx)
{
   retention_t *r = ctx;
   int64_t t0 = tk_time_now_ms ();
   mongoc_client_t *client = tk_store_client_pop (store);
   const char *db = tk_store_db_name (store);
   bson_error_t e;
   r->ok = r->anonymise ? run_anonymise (client, db, r, &e) : run_purge (client, db, r, &e);
   if (!r->ok) {
      snprintf (r->error, sizeof r->error, "%s", e.message);
   }
   r->duration_ms = tk_time_now_ms () - t0;
   write_audit (client, db, r, r->api->app->cfg.retention_days);
   tk_store_client_push (store, client);
}

static void
run_done (int status, void *ctx)
{
   retention_t *r = ctx;
   r->running = false;
   if (r->changed > 0) {
      /* Purged or anonymised tickets may be among the kept newest ones. */
      api_snapshot_tickets_changed (r->api);
   }
   if (status == 0 && r->ok) {
      TK_INFO ("retention", "%s: %lld of %lld ticket(s) created before the cutoff in %lld ms",
               r->anonymise ? "anonymised" : "purged", (long long) r->changed,
               (long long) r->matched, (long long) r->duration_ms);
   } else if (status == 0) {
      TK_WARN ("retention", "run failed after %lld change(s): %s (retried next interval)",
               (long long) r->changed, r->error);
   }
   if (r->stop_token) {
      void *token = r->stop_token;
      r->stop_token = NULL;
      tk_shutdown_step_done (token);
   }
}

static void
on_timer (uv_timer_t *t)
{
   retention_t *r = t->data;
   if (r->running || r->stopping || r->api->app->stopping) {
      return;
   }
   const tk_config_t *cfg = &r->api->app->cfg;
   r->cutoff_ms = tk_time_now_ms () - (int64_t) cfg->retention_days * MS_PER_DAY;
   r->anonymise = cfg->retention_mode == 1;
   r->matched = r->changed = r->duration_ms = 0;
   r->ok = false;
   r->error[0] = '\0';
   int rc = tk_store_async (r->api->app->loop, r->api->app->store, run_work, run_done, r);
   if (rc != 0) {
      TK_WARN ("retention", "cannot queue the run: %s", uv_strerror (rc));
      return;
   }
   r->running = true;
}

static void
stop_step (void *user_data, void *token)
{
   retention_t *r = user_data;
   r->stopping = true;
   uv_timer_stop (&r->timer);
   uv_close ((uv_handle_t *) &r->timer, NULL);
   if (r->running) {
      r->stop_token = token; /* run_done finishes the step */
   } else {
      tk_shutdown_step_done (token);
   }
}

bool
api_retention_start (api_t *api, tk_error_t *err)
{
   const tk_config_t *cfg = &api->app->cfg;
   if (cfg->retention_days <= 0) {
      return true;
   }
   memset (&job, 0, sizeof job);
   job.api = api;
   int rc = uv_timer_init (api->app->loop, &job.timer);
   if (rc == 0) {
      job.timer.data = &job;
      rc = uv_timer_start (&job.timer, on_timer, FIRST_RUN_DELAY_MS,
                           (uint64_t) cfg->retention_interval_ms);
   }
   if (rc != 0) {
      tk_error_set (err, TK_ERR_IO, rc, "retention timer: %s", uv_strerror (rc));
      return false;
   }
   uv_unref ((uv_handle_t *) &job.timer);
   if (!tk_app_add_shutdown_step (api->app, "retention", stop_step, &job)) {
      tk_error_set (err, TK_ERR_IO, 0, "retention: no room for a shutdown step");
      return false;
   }
   TK_INFO ("retention", "tickets older than %d day(s) are %s every %lld s", cfg->retention_days,
            cfg->retention_mode == 1 ? "anonymised" : "purged",
            (long long) (cfg->retention_interval_ms / 1000));
   return true;
}
