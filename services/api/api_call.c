/* api_call.c - the request runner: key, role, rate limit, work off the loop,
 * audit, response (see api.h). */
#include "api.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "store_async.h"
#include "ticket_json.h"
#include "utf8.h"

#include <strings.h>

api_call_t *
api_call_new (api_t *api, tk_http_request_t *req, const char *action, tk_role_t need,
              bool audit, api_work_fn work)
{
   api_call_t *call = calloc (1, sizeof *call);
   if (!call) {
      abort ();
   }
   call->api = api;
   call->req = req;
   call->action = action;
   call->need = need;
   call->audit = audit;
   call->work = work;
   return call;
}

void
api_call_free (api_call_t *call)
{
   if (!call) {
      return;
   }
   if (call->free_data) {
      call->free_data (call->data);
   }
   cJSON_Delete (call->json);
   cJSON_Delete (call->audit_detail);
   tk_audit_ids_cleanup (&call->tickets);
   free (call->raw_body);
   free (call);
}

void
api_call_ok (api_call_t *call, int status, cJSON *json)
{
   call->status = status;
   cJSON_Delete (call->json);
   call->json = json;
}

void
api_call_fail (api_call_t *call, int status, const char *code, const char *field, const char *fmt,
               ...)
{
   va_list ap;
   call->status = status;
   snprintf (call->err_code, sizeof call->err_code, "%s", code);
   snprintf (call->err_field, sizeof call->err_field, "%s", field ? field : "");
   va_start (ap, fmt);
   vsnprintf (call->err_msg, sizeof call->err_msg, fmt, ap);
   va_end (ap);
}

void
api_call_fail_err (api_call_t *call, const tk_error_t *err)
{
   const char *field = err->field[0] ? err->field : NULL;
   switch (err->domain) {
   case TK_ERR_INVALID: api_call_fail (call, 400, "invalid", field, "%s", err->message); break;
   case TK_ERR_NOT_FOUND: api_call_fail (call, 404, "not_found", field, "%s", err->message); break;
   case TK_ERR_DUPLICATE: api_call_fail (call, 409, "conflict", field, "%s", err->message); break;
   case TK_ERR_MONGO:
      api_call_fail (call, 503, "unavailable", NULL, "database: %s", err->message);
      break;
   default: api_call_fail (call, 500, "internal", NULL, "%s", err->message); break;
   }
}

int
api_respond_error (tk_http_request_t *req, int status, const char *code, const char *field,
                   const char *message)
{
   return tk_http_respond_error (req, status, code, message, field);
}

void
api_call_respond (api_call_t *call)
{
   tk_http_request_t *req = call->req;
   if (call->status >= 400) {
      if (call->status >= 500) {
         TK_WARN ("api", "%s %s: %d %s", tk_http_request_method (req), call->action, call->status,
                  call->err_msg);
      }
      tk_http_respond_error (req, call->status, call->err_code, call->err_msg,
                             call->err_field[0] ? call->err_field : NULL);
   } else if (call->raw_body) {
      tk_http_respond (req, call->status ? call->status : 200, "application/json",
                       call->raw_body, call->raw_len);
   } else if (call->json) {
      cJSON *json = call->json;
      call->json = NULL;
      tk_http_respond_json (req, call->status ? call->status : 200, json);
   } else {
      tk_http_respond (req, call->status ? call->status : 204, NULL, NULL, 0);
   }
   api_call_free (call);
}

/* ---- the runner ---------------------------------------------------------- */

static void
call_work (tk_store_t *store, void *ctx)
{
   api_call_t *call = ctx;
   mongoc_client_t *client = tk_store_client_pop (store);
   const char *db = tk_store_db_name (store);
   if (call->need_lookup && !api_auth_lookup (call, client, db)) {
      goto done;
   }
   if (call->role == TK_ROLE_NONE) {
      api_call_fail (call, 401, "unauthorized", NULL, "unknown or revoked API key");
   } else if (call->role < call->need) {
      api_call_fail (call, 403, "forbidden", NULL, "this route needs the %s role; the key has %s",
                     tk_role_name (call->need), tk_role_name (call->role));
   } else {
      call->work (call, client, db);
   }
   if (call->audit) {
      api_audit_write (call, client, db);
   }
done:
   tk_store_client_push (store, client);
}

static void
call_done (int status, void *ctx)
{
   api_call_t *call = ctx;
   if (status != 0) {
      api_call_fail (call, 503, "unavailable", NULL, "the request was cancelled");
   }
   if (call->status < 400 && call->done) {
      call->done (call);
      return;
   }
   api_call_respond (call);
}

/* Runs work and then done for call on the store's threadpool; when that
 * cannot be queued, answers 503 at once (and frees the call). */
static void
queue_or_fail (api_call_t *call, tk_store_work_fn work, tk_store_done_fn done)
{
   api_t *api = call->api;
   int rc = tk_store_async (api->app->loop, api->app->store, work, done, call);
   if (rc != 0) {
      api_call_fail (call, 503, "unavailable", NULL, "cannot queue the request: %s",
                     uv_strerror (rc));
      api_call_respond (call);
   }
}

static void
queue_call (api_call_t *call)
{
   queue_or_fail (call, call_work, call_done);
}

/* A route with a cache (fast) and a key that must be looked up: the lookup
 * runs first on its own, so that a cached answer can be served to keys
 * from api_keys too, not only to the bootstrap key. */
static void
lookup_work (tk_store_t *store, void *ctx)
{
   api_call_t *call = ctx;
   mongoc_client_t *client = tk_store_client_pop (store);
   if (api_auth_lookup (call, client, tk_store_db_name (store))) {
      call->need_lookup = false;
   }
   tk_store_client_push (store, client);
}

static void
lookup_done (int status, void *ctx)
{
   api_call_t *call = ctx;
   if (status != 0) {
      api_call_fail (call, 503, "unavailable", NULL, "the request was cancelled");
   }
   if (call->status >= 400) {
      api_call_respond (call);
      return;
   }
   if (!call->need_lookup && call->role >= call->need && call->fast (call)) {
      api_call_free (call);
      return;
   }
   queue_call (call);
}

void
api_call_run (api_call_t *call)
{
   api_t *api = call->api;
   api_auth_begin (call);
   if (!call->has_token && call->role == TK_ROLE_NONE) {
      tk_http_add_header (call->req, "WWW-Authenticate", "Bearer");
      api_call_fail (call, 401, "unauthorized", NULL,
                     "send an API key as \"Authorization: Bearer <key>\"");
      api_call_respond (call);
      return;
   }
   unsigned retry_after = 0;
   if (!api_rate_take (api, call->key_hash[0] ? call->key_hash : "anonymous", &retry_after)) {
      char ra[16];
      snprintf (ra, sizeof ra, "%u", retry_after ? retry_after : 1);
      tk_http_add_header (call->req, "Retry-After", ra);
      api_call_fail (call, 429, "rate_limited", NULL,
                     "too many requests for this API key; retry after %s s", ra);
      api_call_respond (call);
      return;
   }
   if (call->fast && call->need_lookup) {
      queue_or_fail (call, lookup_work, lookup_done);
      return;
   }
   if (!call->need_lookup && call->role >= call->need && call->fast && call->fast (call)) {
      api_call_free (call);
      return;
   }
   queue_call (call);
}

/* ---- request helpers ---------------------------------------------------- */

bool
api_request_has_nul (const tk_http_request_t *req)
{
   return strstr (tk_http_request_path (req), "%00") ||
          strstr (tk_http_request_query_string (req), "%00");
}

bool
api_check_request (tk_http_request_t *req, bool json_body)
{
   if (api_request_has_nul (req)) {
      api_respond_error (req, 400, "invalid", NULL, "the URL contains a NUL byte (%00)");
      return false;
   }
   if (json_body) {
      const char *ct = tk_http_request_header (req, "Content-Type");
      if (!ct || strncasecmp (ct, "application/json", 16) != 0 ||
          (ct[16] != '\0' && ct[16] != ';' && ct[16] != ' ')) {
         api_respond_error (req, 415, "unsupported_media_type", "Content-Type",
                            "send the body as Content-Type: application/json");
         return false;
      }
   }
   return true;
}

#define API_MAX_PARAMS 256

bool
api_query_params (tk_http_request_t *req, tk_query_param_t **out, size_t *n)
{
   size_t cursor = 0, count = 0;
   const char *key = NULL;
   while (tk_http_query_next (req, NULL, &cursor, &key)) {
      count++;
   }
   if (count > API_MAX_PARAMS) {
      api_respond_error (req, 400, "invalid", NULL, "too many query parameters");
      return false;
   }
   tk_query_param_t *params = tk_http_request_alloc (req, (count ? count : 1) * sizeof *params);
   if (!params) {
      api_respond_error (req, 500, "internal", NULL, "out of memory");
      return false;
   }
   cursor = 0;
   for (size_t i = 0; i < count; i++) {
      params[i].value = tk_http_query_next (req, NULL, &cursor, &key);
      params[i].key = key;
   }
   *out = params;
   *n = count;
   return true;
}

cJSON *
api_parse_body (tk_http_request_t *req, size_t max_len)
{
   size_t len = 0;
   const char *body = tk_http_request_body (req, &len);
   tk_error_t err;
   if (len > max_len) {
      api_respond_error (req, 413, "too_large", NULL, "the request body is too large");
      return NULL;
   }
   cJSON *json = tk_json_parse (body, len, max_len, &err);
   if (!json) {
      char msg[300];
      snprintf (msg, sizeof msg, "malformed JSON body: %s", err.message);
      api_respond_error (req, 400, "invalid", "body", msg);
   }
   return json;
}

bool
api_id_valid (const char *id)
{
   size_t len = strlen (id);
   if (len == 0 || len > TK_TICKET_ID_MAX) {
      return false;
   }
   for (size_t i = 0; i < len; i++) {
      unsigned char c = (unsigned char) id[i];
      if (c < 0x20 || c == 0x7f) {
         return false;
      }
   }
   return tk_utf8_valid (id, len, NULL);
}
