/* routes_openapi.c - GET /api/openapi.json (the OpenAPI 3 document kept in
 * the repository as services/api/openapi.json) and GET /api/routes (what
 * the router really has registered), both without a key: they describe the
 * interface, not the data.
 *
 * The document is read once at startup, before the loop runs, from
 * TRIAGE_API_OPENAPI, else <exe dir>/../share/triage/openapi.json (an
 * installation), else <exe dir>/../../services/api/openapi.json (a build
 * tree inside the source tree). It is checked to be JSON then, and the
 * parts the taxonomy decides are written from the api's taxonomy
 * (openapi_taxonomy.c); it is served unformatted. A missing
 * document is not fatal: the route answers 503 and the log says where it
 * looked. The integration test compares the document's paths and methods
 * with /api/routes both ways, so the two cannot drift apart unnoticed. */
#include "api.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

#define OPENAPI_MAX_BYTES (4 * 1024 * 1024)

typedef struct api_openapi {
   char *text; /* NULL when not found */
   size_t len;
   char tried[1024]; /* where it looked, for the 503 and the log */
} openapi_t;

/* Reads path into a malloc'd NUL-terminated string; NULL if it cannot. */
static char *
read_file (const char *path, size_t *len)
{
   FILE *f = fopen (path, "rb");
   char *buf = NULL;
   if (!f) {
      return NULL;
   }
   if (fseek (f, 0, SEEK_END) != 0) {
      goto done;
   }
   long size = ftell (f);
   if (size < 0 || size > OPENAPI_MAX_BYTES || fseek (f, 0, SEEK_SET) != 0) {
      goto done;
   }
   if (!(buf = malloc ((size_t) size + 1))) {
      goto done;
   }
   if (fread (buf, 1, (size_t) size, f) != (size_t) size) {
      free (buf);
      buf = NULL;
      goto done;
   }
   buf[size] = '\0';
   *len = (size_t) size;
done:
   fclose (f);
   return buf;
}

/* cJSON prints a number with 15 significant digits when that reads back
 * within its tolerance, so 9007199254740992 (a bound of the document) would
 * be served as 9007199254740990: whole numbers are written out exactly
 * instead. false when out of memory. */
static bool
integers_exact (cJSON *node)
{
   cJSON *child = node->child;
   while (child) {
      cJSON *next = child->next;
      double v = child->valuedouble;
      if (cJSON_IsNumber (child) && v == (double) (long long) v && fabs (v) >= 1e15 &&
          fabs (v) < 9.2e18) {
         char digits[32];
         snprintf (digits, sizeof digits, "%lld", (long long) v);
         cJSON *raw = cJSON_CreateRaw (digits);
         /* ...ViaPointer keeps no member name: the new item carries it. */
         if (raw && child->string && !(raw->string = strdup (child->string))) {
            cJSON_Delete (raw);
            return false;
         }
         if (!raw || !cJSON_ReplaceItemViaPointer (node, child, raw)) {
            cJSON_Delete (raw);
            return false;
         }
      } else if ((cJSON_IsObject (child) || cJSON_IsArray (child)) && !integers_exact (child)) {
         return false;
      }
      child = next;
   }
   return true;
}

static bool
try_load (openapi_t *oa, const char *path, const tk_taxonomy_t *tax)
{
   size_t used = strlen (oa->tried);
   snprintf (oa->tried + used, sizeof oa->tried - used, "%s%s", used ? ", " : "", path);
   size_t len = 0;
   char *text = read_file (path, &len);
   if (!text) {
      return false;
   }
   cJSON *doc = cJSON_ParseWithLength (text, len);
   free (text);
   bool ok = cJSON_IsObject (doc) && cJSON_IsObject (cJSON_GetObjectItem (doc, "paths"));
   if (!ok) {
      TK_WARN ("openapi", "%s is not an OpenAPI JSON document; ignored", path);
      cJSON_Delete (doc);
      return false;
   }
   /* The labels are the taxonomy's this api validates with. */
   if (!api_openapi_fit_taxonomy (doc, tax) || !api_openapi_fit_zones (doc)) {
      TK_WARN ("openapi", "%s lacks the taxonomy's parameters or Classification schema; ignored",
               path);
      cJSON_Delete (doc);
      return false;
   }
   if (!integers_exact (doc)) {
      cJSON_Delete (doc);
      return false;
   }
   char *out = cJSON_PrintUnformatted (doc);
   cJSON_Delete (doc);
   if (!out || !(oa->text = strdup (out))) {
      cJSON_free (out);
      return false;
   }
   cJSON_free (out);
   oa->len = strlen (oa->text);
   return true;
}

static void
load (openapi_t *oa, const char *configured, const tk_taxonomy_t *tax)
{
   if (configured && configured[0]) {
      try_load (oa, configured, tax);
      return;
   }
   char exe[PATH_MAX], path[PATH_MAX + 64];
   ssize_t n = readlink ("/proc/self/exe", exe, sizeof exe - 1);
   if (n <= 0) {
      return;
   }
   exe[n] = '\0';
   char *slash = strrchr (exe, '/');
   if (!slash) {
      return;
   }
   *slash = '\0';
   snprintf (path, sizeof path, "%s/../share/triage/openapi.json", exe);
   if (try_load (oa, path, tax)) {
      return;
   }
   snprintf (path, sizeof path, "%s/../../services/api/openapi.json", exe);
   try_load (oa, path, tax);
}

static void
openapi_get (tk_http_request_t *req, void *user_data)
{
   api_t *api = user_data;
   const openapi_t *oa = api->openapi;
   if (!oa || !oa->text) {
      char msg[1200];
      snprintf (msg, sizeof msg, "openapi.json is not installed (looked at %s)",
                oa ? oa->tried : "nowhere");
      api_respond_error (req, 503, "unavailable", NULL, msg);
      return;
   }
   tk_http_respond (req, 200, "application/json", oa->text, oa->len);
}

static void
add_route (const tk_http_route_stats_t *st, void *ud)
{
   if (!strcmp (st->route, "(unmatched)")) {
      return;
   }
   cJSON *o = cJSON_CreateObject ();
   cJSON_AddStringToObject (o, "method", st->method);
   cJSON_AddStringToObject (o, "path", st->route);
   cJSON_AddItemToArray (ud, o);
}

static void
routes_get (tk_http_request_t *req, void *user_data)
{
   api_t *api = user_data;
   cJSON *out = cJSON_CreateObject ();
   cJSON *arr = cJSON_AddArrayToObject (out, "routes");
   tk_http_server_stats_foreach (api->app->http, add_route, arr);
   tk_http_respond_json (req, 200, out);
}

static void
openapi_stop_step (void *user_data, void *token)
{
   api_t *api = user_data;
   if (api->openapi) {
      free (api->openapi->text);
      free (api->openapi);
      api->openapi = NULL;
   }
   tk_shutdown_step_done (token);
}

bool
api_routes_openapi (api_t *api, tk_error_t *err)
{
   openapi_t *oa = calloc (1, sizeof *oa);
   if (!oa) {
      tk_error_set (err, TK_ERR_NOMEM, 0, "out of memory");
      return false;
   }
   load (oa, api->app->cfg.api_openapi, api->tax);
   if (!oa->text) {
      TK_WARN ("openapi", "no OpenAPI document found (looked at %s); /api/openapi.json answers 503",
               oa->tried);
   }
   api->openapi = oa;
   if (!tk_app_add_shutdown_step (api->app, "openapi", openapi_stop_step, api)) {
      tk_error_set (err, TK_ERR_INVALID, 0, "too many shutdown steps");
      return false;
   }
   return tk_http_route (api->app->http, "GET", "/api/openapi.json", openapi_get, api, err) &&
          tk_http_route (api->app->http, "GET", "/api/routes", routes_get, api, err);
}
