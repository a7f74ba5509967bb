/* routes_analytics.c - GET /api/analytics and POST /api/analytics/refresh.
 *
 * For the filters of /api/tickets (query_filter.h, without the paging
 * parameters) the answer holds the priority, sentiment and topic
 * distributions, tickets created and processed per UTC day, histograms of
 * processing time and of each confidence score, the model versions in use
 * and the failure rates.
 *
 * How it is computed: one projected scan counted in C (tally.c, shared with
 * GET /api/processing-stats). Without parameters the answer comes from the
 * snapshot the api refreshes in the background (snapshot.h), so a request
 * never waits for a scan once the first snapshot exists. With filters it
 * costs a pass over the matching tickets, so the answer is cached for
 * TRIAGE_API_CACHE_TTL per distinct query string. POST /api/analytics/refresh
 * drops that cache and refreshes the snapshot, answering once the new
 * snapshot is there. */
#include "snapshot.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "timeutil.h"

#define ANALYTICS_CACHE_PREFIX "analytics?"

typedef struct {
   tk_query_t q;
   char *cache_key; /* owned */
   bool unfiltered; /* no parameters but tz: served from the snapshot */
   char tz[TK_ZONE_NAME_MAX + 1]; /* the zone of the days, "" for UTC */
} analytics_data_t;

static void
analytics_data_free (void *p)
{
   analytics_data_t *d = p;
   if (d) {
      tk_query_cleanup (&d->q);
      free (d->cache_key);
      free (d);
   }
}

/* ---- the routes ------------------------------------------------------------ */

static void
analytics_work (api_call_t *call, mongoc_client_t *client, const char *db)
{
   analytics_data_t *d = call->data;
   tk_tally_t *t = tk_tally_new (tk_time_now_ms ());
   tk_error_t err;
   tk_zone_t *zone = NULL;
   if (d->tz[0] && !(zone = tk_zone_open (d->tz, &err))) {
      api_call_fail (call, 500, "internal", NULL, "%s", err.message);
   } else if (tk_tally_scan (t, client, db, &d->q.filter, NULL, NULL, NULL, &err)) {
      cJSON *out = tk_tally_analytics_json (t, zone);
      if (out) {
         api_call_ok (call, 200, out);
      } else {
         api_call_fail (call, 500, "internal", NULL, "out of memory rendering the analytics");
      }
   } else if (err.domain == TK_ERR_MONGO) {
      api_call_fail (call, 503, "unavailable", NULL, "database: %s", err.message);
   } else {
      api_call_fail (call, 500, "internal", NULL, "%s", err.message);
   }
   tk_zone_close (zone);
   tk_tally_destroy (t);
}

/* The unfiltered answer needs no work of its own: the key was checked on the
 * way here, and the snapshot does the scan. */
static void
analytics_nowork (api_call_t *call, mongoc_client_t *client, const char *db)
{
   (void) client;
   (void) db;
   call->status = 200;
}

static void
analytics_done (api_call_t *call)
{
   analytics_data_t *d = call->data;
   if (d->unfiltered) {
      api_snapshot_serve (call->api, call, API_SNAPSHOT_ANALYTICS, d->tz);
      return;
   }
   char *text = cJSON_PrintUnformatted (call->json);
   if (text) {
      size_t len = strlen (text);
      api_cache_put (call->api, d->cache_key, text, len);
      if ((call->raw_body = malloc (len + 1))) {
         memcpy (call->raw_body, text, len + 1);
         call->raw_len = len;
      }
      cJSON_free (text);
   }
   tk_counter_inc (tk_metric_labels (call->api->cache_hits, "miss"));
   api_call_respond (call);
}

static bool
analytics_fast (api_call_t *call)
{
   analytics_data_t *d = call->data;
   if (d->unfiltered) {
      return api_snapshot_serve_now (call->api, call, API_SNAPSHOT_ANALYTICS, d->tz);
   }
   const api_cache_entry_t *e = api_cache_get (call->api, d->cache_key);
   if (!e) {
      return false;
   }
   tk_counter_inc (tk_metric_labels (call->api->cache_hits, "hit"));
   tk_http_respond (call->req, 200, "application/json", e->body, e->len);
   return true;
}

static void
analytics_get (tk_http_request_t *req, void *user_data)
{
   api_t *api = user_data;
   tk_query_param_t *params = NULL;
   size_t n = 0;
   tk_error_t err;
   if (!api_check_request (req, false) || !api_query_params (req, &params, &n)) {
      return;
   }
   analytics_data_t *d = calloc (1, sizeof *d);
   const char *qs = tk_http_request_query_string (req);
   if (!d || !(d->cache_key = malloc (sizeof ANALYTICS_CACHE_PREFIX + strlen (qs)))) {
      free (d);
      api_respond_error (req, 500, "internal", NULL, "out of memory");
      return;
   }
   memcpy (d->cache_key, ANALYTICS_CACHE_PREFIX, sizeof ANALYTICS_CACHE_PREFIX - 1);
   memcpy (d->cache_key + sizeof ANALYTICS_CACHE_PREFIX - 1, qs, strlen (qs) + 1);
   static const char *const extra[] = {"tz", NULL};
   if (!api_zone_param (req, params, n, d->tz, sizeof d->tz)) {
      free (d->cache_key);
      free (d);
      return;
   }
   if (!tk_query_build (&d->q, params, n, api->tax, 0, extra, &err)) {
      free (d->cache_key);
      free (d);
      api_respond_error (req, 400, "invalid", err.field, err.message);
      return;
   }
   bool only_tz = true;
   for (size_t i = 0; i < n; i++) {
      only_tz = only_tz && !strcmp (params[i].key, "tz");
   }
   d->unfiltered = only_tz;
   api_call_t *call = api_call_new (api, req, "analytics.get", TK_ROLE_VIEWER, false,
                                    d->unfiltered ? analytics_nowork : analytics_work);
   call->data = d;
   call->free_data = analytics_data_free;
   call->done = analytics_done;
   call->fast = analytics_fast;
   api_call_run (call);
}

static void
refresh_done (api_call_t *call)
{
   api_snapshot_refresh (call->api, call);
}

static void
analytics_refresh (tk_http_request_t *req, void *user_data)
{
   if (!api_check_request (req, false)) {
      return;
   }
   if (tk_http_request_query_string (req)[0]) {
      api_respond_error (req, 400, "invalid", NULL, "this route takes no query parameters");
      return;
   }
   api_call_t *call = api_call_new (user_data, req, "analytics.refresh", TK_ROLE_OPERATOR, true,
                                    analytics_nowork);
   call->done = refresh_done;
   api_call_run (call);
}

bool
api_routes_analytics (api_t *api, tk_error_t *err)
{
   return api_route (api, "GET", "/api/analytics", TK_ROLE_VIEWER, TK_HTTP_BODY_NONE,
                     analytics_get, err) &&
          api_route (api, "POST", "/api/analytics/refresh", TK_ROLE_OPERATOR, TK_HTTP_BODY_JSON,
                     analytics_refresh, err);
}
