/* api_call.c - the request runner: identity, work off the loop, audit,
 * response (see api.h). */
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
   call->work (call, client, db);
   if (call->audit) {
      api_audit_write (call, client, db);
   }
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

void
api_call_run (api_call_t *call)
{
   api_t *api = call->api;
   /* The listener's key check has run (the route was registered with
    * api_route): the request carries the key's role and id. */
   call->role = (tk_role_t) tk_http_request_role (call->req);
   snprintf (call->key_id, sizeof call->key_id, "%s", tk_http_request_principal (call->req));
   if (call->role < call->need) {
      /* A route registered for a lesser role than its handler asks. */
      api_call_fail (call, 403, "forbidden", NULL, "this route needs the %s role; the key has %s",
                     tk_role_name (call->need), tk_role_name (call->role));
      api_call_respond (call);
      return;
   }
   if (call->fast && call->fast (call)) {
      api_call_free (call);
      return;
   }
   int rc = tk_store_async (api->app->loop, api->app->store, call_work, call_done, call);
   if (rc != 0) {
      api_call_fail (call, 503, "unavailable", NULL, "cannot queue the request: %s",
                     uv_strerror (rc));
      api_call_respond (call);
   }
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

static int
compare_names (const void *a, const void *b)
{
   return strcmp (*(const char *const *) a, *(const char *const *) b);
}

/* The repeated member name of an object anywhere in item, or NULL. With
 * duplicates, which value counts depends on the parser: {"role":"admin",
 * "role":"viewer"} must not mean admin here and viewer elsewhere. Tickets
 * check their own fields (ticket_json.c); this covers every other body.
 * Names are compared decoded ("\u0072ole" is "role"); the depth is bounded
 * by tk_json_parse. *nomem is set when the check could not run. */
static const char *
repeated_name (const cJSON *item, bool *nomem)
{
   if (!cJSON_IsObject (item) && !cJSON_IsArray (item)) {
      return NULL;
   }
   size_t n = 0;
   const cJSON *child;
   const char *dup = NULL;
   cJSON_ArrayForEach (child, item)
   {
      n++;
      if ((dup = repeated_name (child, nomem)) || *nomem) {
         return dup;
      }
   }
   if (!cJSON_IsObject (item) || n < 2) {
      return NULL;
   }
   const char *small[16];
   const char **names = n <= 16 ? small : malloc (n * sizeof *names);
   if (!names) {
      *nomem = true;
      return NULL;
   }
   size_t k = 0;
   cJSON_ArrayForEach (child, item)
   {
      names[k++] = child->string ? child->string : "";
   }
   qsort (names, n, sizeof *names, compare_names);
   for (size_t i = 1; i < n && !dup; i++) {
      if (strcmp (names[i - 1], names[i]) == 0) {
         dup = names[i];
      }
   }
   if (names != small) {
      free (names);
   }
   return dup;
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
      return NULL;
   }
   bool nomem = false;
   const char *dup = repeated_name (json, &nomem);
   if (dup || nomem) {
      char msg[160];
      snprintf (msg, sizeof msg, "%.64s: appears more than once in the body", dup ? dup : "?");
      if (nomem) {
         api_respond_error (req, 500, "internal", NULL, "out of memory");
      } else {
         api_respond_error (req, 400, "invalid", dup, msg);
      }
      cJSON_Delete (json);
      return NULL;
   }
   return json;
}

int
api_path_id_status (const char *id)
{
   size_t len = id ? strlen (id) : 0;
   if (len == 0) {
      return 400;
   }
   for (size_t i = 0; i < len; i++) {
      unsigned char c = (unsigned char) id[i];
      if (c < 0x20 || c == 0x7f) {
         return 400;
      }
   }
   if (!tk_utf8_valid (id, len, NULL)) {
      return 400;
   }
   return len > TK_TICKET_ID_MAX ? 404 : 200;
}

bool
api_path_id_ok (tk_http_request_t *req, const char *id)
{
   switch (api_path_id_status (id)) {
   case 200: return true;
   case 404:
      /* Longer than any stored id can be (ingest refuses them): no ticket
       * has it, whatever the length limit is counted in. */
      api_respond_error (req, 404, "not_found", "id", "no ticket with this id");
      return false;
   default:
      api_respond_error (req, 400, "invalid", "id",
                         "id: must be 1 to 128 bytes of UTF-8 without control characters");
      return false;
   }
}

bool
api_safe_id_valid (const char *id, size_t max)
{
   size_t len = id ? strlen (id) : 0;
   if (len == 0 || len > max) {
      return false;
   }
   for (size_t i = 0; i < len; i++) {
      char c = id[i];
      if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '_' || c == '-' || c == '.')) {
         return false;
      }
   }
   return true;
}

bool
api_id_valid (const char *id)
{
   return api_path_id_status (id) == 200;
}
