/* main.c - triage-api: the REST API over the tickets collection, processing
 * control through Kafka, API keys and the audit log. */
#include "api.h"
#include "follow.h"
#include "list_sql.h"
#include "snapshot.h"

#include <curl/curl.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "retention.h"

static void
api_stop_step (void *user_data, void *token)
{
   api_t *api = user_data;
   api_cache_clear (api);
   api_audit_queue_destroy (api->audit_queue);
   api->audit_queue = NULL;
   tk_shutdown_step_done (token);
}

/* Every route group, in the order they are registered. */
static bool (*const route_groups[]) (api_t *, tk_error_t *) = {
   api_routes_tickets,  api_routes_processed, api_routes_stats,  api_routes_process,
   api_routes_keys,     api_routes_audit,     api_routes_static, api_routes_session,
   api_routes_analytics, api_routes_export,   api_routes_upload, api_routes_openapi,
   api_routes_dlq,
   api_routes_fetch,
};

/* The routes, the statistics snapshot, the follower of the topics,
 * retention, the stored_at backfill, and the shutdown steps (the follower,
 * the snapshot, then the audit queue's last records, then the api). */
static bool
api_start (api_t *api, tk_error_t *err)
{
   for (size_t i = 0; i < sizeof route_groups / sizeof route_groups[0]; i++) {
      if (!route_groups[i](api, err)) {
         return false;
      }
   }
   if (!api_snapshot_start (api, err) || !api_follow_start (api, err) ||
       !api_retention_start (api, err) || !api_stored_at_start (api, err)) {
      return false;
   }
   if (!tk_app_add_shutdown_step (api->app, "follow", api_follow_stop, api) ||
       !tk_app_add_shutdown_step (api->app, "snapshot", api_snapshot_stop, api) ||
       !tk_app_add_shutdown_step (api->app, "audit", api_audit_queue_stop, api) ||
       !tk_app_add_shutdown_step (api->app, "api", api_stop_step, api)) {
      tk_error_set (err, TK_ERR_NOMEM, 0, "too many shutdown steps");
      return false;
   }
   return true;
}

/* The api's own counters (the service's common ones come with tk_app). */
static void
api_metrics (api_t *api, tk_metrics_t *metrics)
{
   api->cache_hits = tk_metrics_counter (metrics, "api_cache_total",
                                        "Statistics and analytics answers by cache result.",
                                        (const char *[]) {"result", NULL});
   api->published = tk_metrics_counter (metrics, "api_classify_requests_total",
                                       "Classification requests published, by outcome.",
                                       (const char *[]) {"result", NULL});

   api->list_pages = tk_metrics_counter (metrics, "api_list_pages_total",
                                        "Ticket list pages by what answered them (snapshot, "
                                        "index: the side tables of TRIAGE_LIST_SQL_URL, "
                                        "database: the collection).",
                                        (const char *[]) {"source", NULL});
   api->list_documents = tk_metrics_counter (
      metrics, "api_list_documents_total",
      "Documents of the pages the side tables answered, by how each was read (page: with the "
      "page in SQL; collection: by _id from the collection, when the first could not).",
      (const char *[]) {"read", NULL});
   api->search_pages = tk_metrics_counter (
      metrics, "api_search_pages_total",
      "Search pages the side tables answered, by how (newest: among the newest tickets of the "
      "order; matches: the trigram index's matches, sorted; walk: the order read on).",
      (const char *[]) {"plan", NULL});
}

int
main (int argc, char **argv)
{
   tk_app_t app;
   tk_error_t err;
   static api_t api;
   switch (tk_app_init (&app, TK_SVC_API, argc, argv, &err)) {
   case TK_APP_EXIT: return 0;
   case TK_APP_ERROR:
      fprintf (stderr, "triage-api: %s\n", err.message);
      return 2;
   case TK_APP_OK: break;
   }
   api.app = &app;
   api.tax = app.taxonomy;
   /* Once per process, before the upload forwarding's client (curl_uv.h). */
   if (curl_global_init (CURL_GLOBAL_DEFAULT) != CURLE_OK) {
      fprintf (stderr, "triage-api: curl_global_init failed\n");
      return 2;
   }
   if (app.cfg.auth == TK_AUTH_OFF) {
      TK_WARN ("auth", "TRIAGE_AUTH=off: EVERY REQUEST IS SERVED AS ADMIN WITHOUT A KEY. "
                       "For the local demo only; never expose this listener.");
   } else if (!app.cfg.admin_key[0]) {
      TK_WARN ("auth", "no TRIAGE_ADMIN_KEY is set: only keys already in api_keys can log in");
   }
   api_metrics (&api, app.metrics);
   if (app.cfg.list_sql_url[0]) {
      /* One connection per threadpool thread at most stays open. */
      api.list_sql = tk_list_sql_new (app.cfg.list_sql_url, 8);
      if (!api.list_sql) {
         fprintf (stderr, "triage-api: out of memory\n");
         return 2;
      }
      TK_INFO ("api", "filtered lists and search read their ids from the side tables at "
                      "TRIAGE_LIST_SQL_URL");
   }
   api.audit_queue = api_audit_queue_new (app.loop, app.store);
   if (!api.audit_queue) {
      fprintf (stderr, "triage-api: out of memory\n");
      return 2;
   }
   api_auth_audit_refusals (&api);
   if (!api_start (&api, &err)) {
      fprintf (stderr, "triage-api: cannot register routes: %s\n", err.message);
      return 2;
   }
   if (!api_list_index_start (&api)) {
      fprintf (stderr, "triage-api: out of memory\n");
      return 2;
   }
   int rc = tk_app_run (&app);
   tk_list_sql_destroy (api.list_sql);
   curl_global_cleanup ();
   return rc;
}
