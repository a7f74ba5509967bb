/* routes_stats.c - GET /api/processing-stats: the spec's counts (total,
 * processed, unprocessed, processed today, priority distribution) plus the
 * sentiment and topic distributions, average processing time, average
 * confidence per field and the failure count.
 *
 * Served from the snapshot (snapshot.h): one projected scan counted in C,
 * refreshed in the background, shared with GET /api/analytics. A request
 * is answered at once from it; only before the first snapshot exists (or
 * with TRIAGE_API_CACHE_TTL=0) does a request wait for a scan. */
#include "snapshot.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
stats_nowork (api_call_t *call, mongoc_client_t *client, const char *db)
{
   (void) client;
   (void) db;
   call->status = 200;
}

/* call->data: the zone ("" for UTC). */
static void
stats_done (api_call_t *call)
{
   api_snapshot_serve (call->api, call, API_SNAPSHOT_STATS, call->data);
}

static bool
stats_fast (api_call_t *call)
{
   return api_snapshot_serve_now (call->api, call, API_SNAPSHOT_STATS, call->data);
}

static void
stats_get (tk_http_request_t *req, void *user_data)
{
   tk_query_param_t *params = NULL;
   size_t n = 0;
   char tz[TK_ZONE_NAME_MAX + 1];
   if (!api_check_request (req, false) || !api_query_params (req, &params, &n) ||
       !api_zone_param (req, params, n, tz, sizeof tz)) {
      return;
   }
   for (size_t i = 0; i < n; i++) {
      if (strcmp (params[i].key, "tz") != 0) {
         char msg[160];
         snprintf (msg, sizeof msg, "unknown parameter '%.100s' (this route takes only tz)",
                   params[i].key);
         api_respond_error (req, 400, "invalid", params[i].key, msg);
         return;
      }
   }
   char *zone = strdup (tz);
   if (!zone) {
      api_respond_error (req, 500, "internal", NULL, "out of memory");
      return;
   }
   api_call_t *call = api_call_new (user_data, req, "stats.get", TK_ROLE_VIEWER, false,
                                    stats_nowork);
   call->data = zone;
   call->free_data = free;
   call->done = stats_done;
   call->fast = stats_fast;
   api_call_run (call);
}

bool
api_routes_stats (api_t *api, tk_error_t *err)
{
   return api_route (api, "GET", "/api/processing-stats", TK_ROLE_VIEWER, TK_HTTP_BODY_NONE,
                     stats_get, err);
}
