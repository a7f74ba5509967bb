/* main.c - triage-ingest: tickets in from Kafka and HTTP uploads, stored
 * once, then handed to the classifier. See ingest.h for the pieces. */
#include "app.h"
#include "ingest.h"
#include "log.h"

#include <stdio.h>

typedef struct {
   tk_app_t *app;
   ingest_metrics_t metrics;
   ingest_batcher_t batcher;
   ingest_classify_t classify;
   ingest_intake_t *intake;
   ingest_upload_t upload;
   ingest_auth_t auth;
} ingest_t;

static void
on_batcher_state (ingest_batcher_t *b, void *user_data)
{
   (void) b;
   ingest_t *ing = user_data;
   ingest_intake_check_flow (ing->intake);
}

static void
request_settled (void *opaque, bool delivered)
{
   ingest_item_t *item = opaque;
   item->awaiting_request = false;
   item->requested (item, delivered);
}

static void
on_durable (ingest_batcher_t *b, ingest_item_t *item, tk_insert_outcome_t outcome,
            void *user_data)
{
   (void) b;
   ingest_t *ing = user_data;
   const tk_ticket_t *t = item->ticket;
   if (!ing->app->cfg.auto_classify) {
      return;
   }
   /* A duplicate handed on here is stored but still unprocessed. If this
    * run did not ask for it, its request may have died with a previous run,
    * so it is asked again as an ordinary "ingest" request (the classifier
    * skips a ticket processed meanwhile). */
   if ((outcome == TK_INSERT_DUPLICATE || outcome == TK_INSERT_UNCHANGED) &&
       ingest_classify_requested (&ing->classify, t->id)) {
      return; /* this run asked already: delivered, or still being retried */
   }
   /* The item's owner waits for the delivery before it commits the Kafka
    * offset or answers the upload. */
   item->awaiting_request = true;
   ingest_classify_request (&ing->classify, t->id,
                            outcome == TK_INSERT_CHANGED ? "reprocess" : "ingest",
                            request_settled, item);
}

static void
step_batcher_closed (void *token)
{
   tk_shutdown_step_done (token);
}

static void
step_drain_batcher (void *user_data, void *token)
{
   ingest_t *ing = user_data;
   ingest_batcher_close (&ing->batcher, step_batcher_closed, token);
}

static void
step_close_classify (void *user_data, void *token)
{
   ingest_t *ing = user_data;
   ingest_classify_close (&ing->classify);
   tk_shutdown_step_done (token);
}

int
main (int argc, char **argv)
{
   static ingest_t ing;
   tk_app_t app;
   tk_error_t err;
   switch (tk_app_init (&app, TK_SVC_INGEST, argc, argv, &err)) {
   case TK_APP_EXIT: return 0;
   case TK_APP_ERROR:
      fprintf (stderr, "triage-ingest: %s\n", err.message);
      return 2;
   case TK_APP_OK: break;
   }
   ing.app = &app;
   if (!ingest_metrics_init (&ing.metrics, app.metrics)) {
      TK_ERROR (NULL, "cannot register the metrics");
      tk_app_stop (&app, "start-up failed", 2);
      return tk_app_run (&app);
   }
   if (ingest_batcher_init (&ing.batcher, app.loop, app.store, &ing.metrics, &app.indexes_ready,
                            (size_t) app.cfg.ingest_batch_size,
                            (uint64_t) app.cfg.ingest_linger_ms, 1000,
                            app.cfg.on_duplicate == 1) != 0 ||
       ingest_classify_init (&ing.classify, &app, &ing.metrics) != 0) {
      TK_ERROR (NULL, "cannot create the ingest timers");
      tk_app_stop (&app, "start-up failed", 2);
      return tk_app_run (&app);
   }
   ing.batcher.on_state = on_batcher_state;
   ing.batcher.on_durable = on_durable;
   ing.batcher.redeliver_unprocessed = app.cfg.auto_classify;
   ing.batcher.user_data = &ing;

   ingest_auth_init (&ing.auth, &app);
   ing.upload = (ingest_upload_t){&app, &ing.batcher, &ing.metrics, &ing.auth};
   if (!ingest_upload_register (&ing.upload, &err)) {
      TK_ERROR (NULL, "cannot register the upload route: %s", err.message);
      tk_app_stop (&app, "start-up failed", 2);
   }
   if (app.cfg.ingest_consume) {
      if (!(ing.intake = ingest_intake_new (&app, &ing.batcher, &ing.metrics, &err))) {
         TK_ERROR (NULL, "cannot consume %s: %s", app.cfg.topic_inbound, err.message);
         tk_app_stop (&app, "start-up failed", 2);
      } else {
         tk_app_add_shutdown_step (&app, "stop consuming and commit what is durable",
                                   ingest_intake_shutdown, ing.intake);
      }
   }
   tk_app_add_shutdown_step (&app, "finish the writes in flight", step_drain_batcher, &ing);
   tk_app_add_shutdown_step (&app, "stop retrying classification requests", step_close_classify,
                             &ing);
   TK_INFO (NULL, "ingest: topic %s -> database, on duplicate %s, auto-classify %s -> %s",
            app.cfg.ingest_consume ? app.cfg.topic_inbound : "(not consumed)",
            app.cfg.on_duplicate == 1 ? "update" : "skip", app.cfg.auto_classify ? "on" : "off",
            app.cfg.topic_classify);
   return tk_app_run (&app);
}
