/* routes_session.c - GET /api/session: what the dashboard needs to know
 * before it draws anything, without triggering an error response.
 *
 *   {"auth": true|false,            is a key required at all
 *    "role": "viewer"|"operator"|"admin"|null,   the sent key's role (null
 *                                    when auth is on and no key was sent)
 *    "key_id": "..."|null,
 *    "routes": ["GET /api/tickets", ...],   every route this server has, so
 *                                    the page can hide what is missing
 *    "taxonomy": {"topic_tags": [...], "sentiment": [...], "priority": [...]}}
 *
 * Open to anyone, but the listener's key check still runs: without an
 * Authorization header (and auth on) it answers with role null; a wrong key
 * gets 401 there. Not audited: it reads no ticket data. */
#include "api.h"

#include <stdio.h>
#include <string.h>

static void
add_route (const tk_http_route_stats_t *st, void *ud)
{
   cJSON *routes = ud;
   char line[300];
   if (strcmp (st->route, "(unmatched)") != 0) {
      snprintf (line, sizeof line, "%s %s", st->method, st->route);
      cJSON_AddItemToArray (routes, cJSON_CreateString (line));
   }
}

static cJSON *
session_json (api_t *api, const char *role, const char *key_id)
{
   cJSON *out = cJSON_CreateObject ();
   cJSON_AddBoolToObject (out, "auth", api->app->cfg.auth != TK_AUTH_OFF);
   if (role) {
      cJSON_AddStringToObject (out, "role", role);
   } else {
      cJSON_AddNullToObject (out, "role");
   }
   if (key_id) {
      cJSON_AddStringToObject (out, "key_id", key_id);
   } else {
      cJSON_AddNullToObject (out, "key_id");
   }
   cJSON *routes = cJSON_AddArrayToObject (out, "routes");
   tk_http_server_stats_foreach (api->app->http, add_route, routes);
   cJSON *tax = cJSON_AddObjectToObject (out, "taxonomy");
   static const tk_taxonomy_kind_t kinds[] = {TK_TAXONOMY_TOPIC, TK_TAXONOMY_SENTIMENT,
                                              TK_TAXONOMY_PRIORITY};
   static const char *const names[] = {"topic_tags", "sentiment", "priority"};
   for (size_t k = 0; k < 3; k++) {
      cJSON *list = cJSON_AddArrayToObject (tax, names[k]);
      for (size_t i = 0; i < tk_taxonomy_count (api->tax, kinds[k]); i++) {
         cJSON_AddItemToArray (list, cJSON_CreateString (tk_taxonomy_label (api->tax, kinds[k], i)));
      }
   }
   return out;
}

/* Loop: the key is resolved and good enough; answer from here. */
static void
session_done (api_call_t *call)
{
   cJSON *out = session_json (call->api, tk_role_name (call->role), call->key_id);
   api_call_ok (call, 200, out);
   api_call_respond (call);
}

static void
session_work (api_call_t *call, mongoc_client_t *client, const char *db)
{
   (void) call;
   (void) client;
   (void) db;
}

static void
session_get (tk_http_request_t *req, void *user_data)
{
   api_t *api = user_data;
   if (!api_check_request (req, false)) {
      return;
   }
   if (tk_http_request_role (req) == TK_ROLE_NONE) {
      tk_http_respond_json (req, 200, session_json (api, NULL, NULL));
      return;
   }
   api_call_t *call = api_call_new (api, req, "session.get", TK_ROLE_VIEWER, false, session_work);
   call->done = session_done;
   api_call_run (call);
}

bool
api_routes_session (api_t *api, tk_error_t *err)
{
   return api_route (api, "GET", "/api/session", TK_ROLE_NONE, TK_HTTP_BODY_NONE, session_get, err);
}
