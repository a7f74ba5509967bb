/* routes_upload.c - POST /api/tickets/upload: hands an upload on to
 * triage-ingest's POST /v1/tickets and relays its answer.
 *
 * The API never writes raw tickets itself: ingest validates, stores and
 * publishes them, and its per-row report comes back to the client as it
 * is (status and body). The body goes on unchanged with its Content-Type,
 * ?dry_run and the client's Authorization header (ingest may check the same
 * key).
 *
 * The forwarding goes through the services' HTTP client (common/curl_uv.h)
 * on the API's loop, so no call blocks the loop and any number of uploads
 * can be in flight. On shutdown the step waits for every forwarded upload's
 * answer from ingest before it closes the client. The request body is not copied: curl reads it straight from
 * the HTTP request, which stays alive until the answer is sent. The call's
 * audit record is written after ingest has answered, so it holds the status
 * the client gets, ingest's counts, and the ids of the tickets ingest
 * stored or updated (read from its report off the loop).
 *
 * Errors of our own: 415 for a content type ingest does not take, 400 for a
 * query parameter other than dry_run, 502 when ingest cannot be reached or
 * answers nonsense, 504 when it takes longer than TRIAGE_API_UPLOAD_TIMEOUT. */
#include "api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "backoff.h"
#include "curl_uv.h"
#include "log.h"
#include "store_async.h"
#include "timeutil.h"

#define UPLOAD_RESPONSE_MAX (64 * 1024 * 1024)
#define UPLOAD_CONNECT_TIMEOUT_MS 5000

typedef struct api_upload {
   api_t *api;
   tk_curl_uv_t *http; /* NULL once closing */
   bool closing;
   void *shutdown_token; /* set while the shutdown step waits */
} upload_t;

/* One forwarded upload. */
typedef struct {
   upload_t *up;
   api_call_t *call; /* owned until the answer is sent */
   tk_curl_uv_req_t *req; /* until ingest has answered */
   int64_t retry_after_ms; /* ingest's Retry-After (503 while MongoDB is down); -1: none */
   bool dry_run;
} forward_t;

static void maybe_finish_shutdown (upload_t *up);

static void
forward_free (forward_t *f)
{
   if (!f) {
      return;
   }
   tk_curl_uv_cancel (f->req);
   api_call_free (f->call);
   free (f);
}

/* ---- what the upload stored, from ingest's report (threadpool) ----------- */

/* The report is ingest's JSON (services/ingest/upload.c): summary counts,
 * then "results", one small object per row. It may be tens of megabytes,
 * so it is not parsed whole: a scanner walks the top-level members and
 * the results array, and each row alone goes through cJSON. */

static size_t
skip_ws (const char *s, size_t len, size_t i)
{
   while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n')) {
      i++;
   }
   return i;
}

/* The index just past the string starting at s[i] ('"'), or 0 when it is
 * cut short. */
static size_t
skip_string (const char *s, size_t len, size_t i)
{
   for (i++; i < len; i++) {
      if (s[i] == '\\') {
         i++;
      } else if (s[i] == '"') {
         return i + 1;
      }
   }
   return 0;
}

/* The index just past the JSON value at s[i], or 0 when it is cut short.
 * Not a validator: a row that is not JSON fails in cJSON afterwards. */
static size_t
skip_value (const char *s, size_t len, size_t i)
{
   if (i >= len) {
      return 0;
   }
   if (s[i] == '"') {
      return skip_string (s, len, i);
   }
   if (s[i] != '{' && s[i] != '[') {
      while (i < len && !strchr (",}] \t\r\n", s[i])) {
         i++;
      }
      return i;
   }
   size_t depth = 0;
   while (i < len) {
      char c = s[i];
      if (c == '"') {
         if (!(i = skip_string (s, len, i))) {
            return 0;
         }
         continue;
      }
      if (c == '{' || c == '[') {
         depth++;
      } else if ((c == '}' || c == ']') && --depth == 0) {
         return i + 1;
      }
      i++;
   }
   return 0;
}

/* Adds to f's audit record the ids of the rows ingest stored or updated
 * (the first TK_AUDIT_IDS_MAX, and the count) and its summary counts. A
 * report it cannot follow adds what was read up to there. */
/* The rows of "results" (s[i] is its '['): the ids stored or updated go
 * into the record. Returns the index after the array, or 0 when the text is
 * not what ingest writes. */
static size_t
audit_results (api_call_t *call, const char *s, size_t len, size_t i)
{
   i = skip_ws (s, len, i + 1);
   while (i < len && s[i] != ']') {
      size_t end = skip_value (s, len, i);
      if (end <= i) {
         return 0;
      }
      cJSON *row = cJSON_ParseWithLength (s + i, end - i);
      const cJSON *st = cJSON_GetObjectItemCaseSensitive (row, "status");
      const cJSON *id = cJSON_GetObjectItemCaseSensitive (row, "id");
      if (cJSON_IsString (st) && cJSON_IsString (id) &&
          (!strcmp (st->valuestring, "stored") || !strcmp (st->valuestring, "updated"))) {
         tk_audit_ids_add (&call->tickets, id->valuestring);
      }
      cJSON_Delete (row);
      i = skip_ws (s, len, end);
      if (i < len && s[i] == ',') {
         i = skip_ws (s, len, i + 1);
      }
   }
   return i + 1;
}

/* The value at s[i] of the key [key, key + klen): one of the report's
 * counts goes into the record's detail. Returns the index after the value,
 * or 0 when there is none. */
static size_t
audit_count (api_call_t *call, const char *s, size_t len, size_t i, const char *key, size_t klen)
{
   static const char *const counts[] = {"stored", "updated", "duplicates", "rejected", "failed",
                                        NULL};
   size_t end = skip_value (s, len, i);
   if (end <= i) {
      return 0;
   }
   for (size_t c = 0; counts[c]; c++) {
      if (klen == strlen (counts[c]) && !memcmp (key, counts[c], klen)) {
         cJSON_AddNumberToObject (call->audit_detail, counts[c], strtod (s + i, NULL));
      }
   }
   return end;
}

static void
audit_report (forward_t *f)
{
   api_call_t *call = f->call;
   const char *s = call->raw_body;
   size_t len = call->raw_len, i = skip_ws (s, len, 0);
   if (!s || i >= len || s[i] != '{') {
      return;
   }
   i++;
   while ((i = skip_ws (s, len, i)) < len && s[i] == '"') {
      size_t k0 = i + 1, k1 = k0;
      while (k1 < len && s[k1] != '"') {
         k1++;
      }
      i = skip_ws (s, len, k1 + 1);
      if (i >= len || s[i] != ':') {
         return;
      }
      i = skip_ws (s, len, i + 1);
      size_t klen = k1 - k0;
      if (klen == 7 && !memcmp (s + k0, "results", 7) && i < len && s[i] == '[') {
         i = audit_results (call, s, len, i);
      } else {
         i = audit_count (call, s, len, i, s + k0, klen);
      }
      if (i == 0) {
         return;
      }
      i = skip_ws (s, len, i);
      if (i < len && s[i] == ',') {
         i++;
      }
   }
}

static void
audit_work (tk_store_t *store, void *ctx)
{
   forward_t *f = ctx;
   mongoc_client_t *client = tk_store_client_pop (store);
   if (!f->dry_run && f->call->raw_body) {
      audit_report (f);
   }
   api_audit_write (f->call, client, tk_store_db_name (store));
   tk_store_client_push (store, client);
}

/* Sends the answer kept in f->call and frees f (and the call). */
static void
send_answer (forward_t *f)
{
   api_call_t *call = f->call;
   if (f->retry_after_ms >= 0) {
      tk_http_add_retry_after (call->req, f->retry_after_ms);
   }
   if (call->status < 400 || call->raw_body) {
      tk_http_respond (call->req, call->status, "application/json", call->raw_body,
                       call->raw_len);
      forward_free (f);
      return;
   }
   f->call = NULL;
   forward_free (f);
   api_call_respond (call);
}

static void
audit_done (int status, void *ctx)
{
   (void) status; /* a cancelled audit write changes nothing for the client */
   send_answer (ctx);
}

/* Ingest has answered (or not): keeps the answer in f->call, then writes
 * the audit record off the loop and sends the answer. */
static void
on_forwarded (tk_curl_uv_result_t *res, void *ud)
{
   forward_t *f = ud;
   upload_t *up = f->up;
   api_call_t *call = f->call;
   f->req = NULL; /* curl_uv frees it when this returns */
   if (!res->retry_after ||
       !tk_retry_after_parse (res->retry_after, tk_time_now_ms (), &f->retry_after_ms)) {
      f->retry_after_ms = -1;
   }
   const char *url = up->api->app->cfg.ingest_url;
   if (res->timed_out) {
      api_call_fail (call, 504, "gateway_timeout", NULL, "ingest at %s did not answer in time",
                     url);
   } else if (res->curl_code != 0 || res->status < 100) {
      api_call_fail (call, 502, "bad_gateway", NULL, "ingest at %s: %s", url,
                     res->too_big ? "answer too large" : res->error);
   } else {
      call->status = (int) res->status;
      call->raw_body = tk_curl_uv_take_body (res, &call->raw_len);
   }
   cJSON_AddNumberToObject (call->audit_detail, "ingest_status", (double) res->status);
   if (tk_store_async (up->api->app->loop, up->api->app->store, audit_work, audit_done, f) != 0) {
      send_answer (f); /* frees f */
   }
   maybe_finish_shutdown (up);
}

static bool
forward_start (forward_t *f, tk_error_t *err)
{
   upload_t *up = f->up;
   api_t *api = up->api;
   tk_http_request_t *req = f->call->req;
   char ct_line[2048], auth_line[2048], url[2048];
   const char *ct = tk_http_request_header (req, "Content-Type");
   const char *auth = tk_http_request_header (req, "Authorization");
   size_t len = 0;
   const char *body = tk_http_request_body (req, &len);
   snprintf (ct_line, sizeof ct_line, "Content-Type: %s", ct);
   /* No "Expect: 100-continue" round trip: the body is already here. */
   const char *headers[5] = {ct_line, "Expect:", "Accept: application/json", NULL, NULL};
   if (auth) {
      snprintf (auth_line, sizeof auth_line, "Authorization: %s", auth);
      headers[3] = auth_line;
   }
   const char *base = api->app->cfg.ingest_url;
   size_t blen = strlen (base);
   while (blen && base[blen - 1] == '/') {
      blen--;
   }
   snprintf (url, sizeof url, "%.*s/v1/tickets%s", (int) blen, base,
             f->dry_run ? "?dry_run=true" : "");
   /* The body is not copied: curl reads it straight from the HTTP request,
    * which stays alive until the answer is sent. */
   tk_curl_uv_post_t post = {
      .url = url,
      .headers = headers,
      .body = body,
      .body_len = len,
      .body_borrowed = true,
      .connect_timeout_ms = UPLOAD_CONNECT_TIMEOUT_MS,
      .timeout_ms = api->app->cfg.api_upload_timeout_ms,
      .response_max = UPLOAD_RESPONSE_MAX,
   };
   return (f->req = tk_curl_uv_post (up->http, &post, on_forwarded, f, err)) != NULL;
}

/* ---- the route ---------------------------------------------------------------- */

static void
upload_work (api_call_t *call, mongoc_client_t *client, const char *db)
{
   (void) client;
   (void) db;
   call->status = 200; /* the key is good enough: forward on the loop */
   call->audit = false; /* written once ingest has answered */
}

static void
upload_forward (api_call_t *call)
{
   upload_t *up = call->api->upload;
   tk_error_t err;
   if (up->closing) {
      api_call_fail (call, 503, "unavailable", NULL, "the service is shutting down");
      api_call_respond (call);
      return;
   }
   forward_t *f = calloc (1, sizeof *f);
   if (!f) {
      api_call_fail (call, 500, "internal", NULL, "out of memory");
      api_call_respond (call);
      return;
   }
   f->up = up;
   f->call = call;
   f->retry_after_ms = -1;
   f->dry_run = call->data != NULL;
   if (!forward_start (f, &err)) {
      f->call = NULL;
      forward_free (f);
      api_call_fail (call, 500, "internal", NULL, "cannot forward the upload: %s", err.message);
      api_call_respond (call);
   }
}

static bool
content_type_ok (const char *ct)
{
   static const char *const types[] = {"application/json", "application/x-ndjson", "text/csv"};
   if (!ct) {
      return false;
   }
   for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
      size_t n = strlen (types[i]);
      if (!strncasecmp (ct, types[i], n) && (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ')) {
         return true;
      }
   }
   return false;
}

static void
upload_post (tk_http_request_t *req, void *user_data)
{
   api_t *api = user_data;
   if (!api_check_request (req, false)) {
      return;
   }
   const char *ct = tk_http_request_header (req, "Content-Type");
   if (!content_type_ok (ct) || strpbrk (ct, "\r\n")) {
      api_respond_error (req, 415, "unsupported_media_type", "Content-Type",
                         "send application/json, application/x-ndjson or text/csv");
      return;
   }
   bool dry_run = false;
   size_t cursor = 0;
   const char *key = NULL, *value;
   while ((value = tk_http_query_next (req, NULL, &cursor, &key))) {
      if (strcmp (key, "dry_run") != 0) {
         api_respond_error (req, 400, "invalid", key, "unknown parameter; only dry_run is taken");
         return;
      }
      if (!strcmp (value, "true") || !strcmp (value, "1") || !strcmp (value, "")) {
         dry_run = true;
      } else if (!strcmp (value, "false") || !strcmp (value, "0")) {
         dry_run = false;
      } else {
         api_respond_error (req, 400, "invalid", "dry_run", "dry_run: must be true or false");
         return;
      }
   }
   api_call_t *call = api_call_new (api, req, dry_run ? "tickets.upload_dry_run" : "tickets.upload",
                                    TK_ROLE_OPERATOR, true, upload_work);
   call->writes = !dry_run; /* the record lists what ingest stored or updated */
   call->data = dry_run ? (void *) 1 : NULL; /* a flag, nothing to free */
   call->done = upload_forward;
   call->audit_detail = cJSON_CreateObject ();
   size_t len = 0;
   tk_http_request_body (req, &len);
   cJSON_AddStringToObject (call->audit_detail, "content_type", ct);
   cJSON_AddNumberToObject (call->audit_detail, "bytes", (double) len);
   cJSON_AddBoolToObject (call->audit_detail, "dry_run", dry_run);
   api_call_run (call);
}

/* ---- lifetime ------------------------------------------------------------------ */

static void
upload_closed (void *user_data)
{
   upload_t *up = user_data;
   void *token = up->shutdown_token;
   up->shutdown_token = NULL;
   up->api->upload = NULL;
   free (up);
   tk_shutdown_step_done (token);
}

/* Once shutting down and every forwarded upload has its answer from ingest,
 * closes the client; the shutdown step is done when it has closed. */
static void
maybe_finish_shutdown (upload_t *up)
{
   if (!up->closing || !up->http || tk_curl_uv_in_flight (up->http) > 0) {
      return;
   }
   tk_curl_uv_t *http = up->http;
   up->http = NULL;
   tk_curl_uv_close (http, upload_closed, up);
}

static void
upload_stop_step (void *user_data, void *token)
{
   api_t *api = user_data;
   upload_t *up = api->upload;
   up->closing = true;
   up->shutdown_token = token;
   maybe_finish_shutdown (up);
}

bool
api_routes_upload (api_t *api, tk_error_t *err)
{
   upload_t *up = calloc (1, sizeof *up);
   if (!up) {
      tk_error_set (err, TK_ERR_NOMEM, 0, "out of memory");
      return false;
   }
   if (!(up->http = tk_curl_uv_new (api->app->loop, err))) {
      free (up);
      return false;
   }
   up->api = api;
   api->upload = up;
   if (!tk_app_add_shutdown_step (api->app, "upload forwarding", upload_stop_step, api)) {
      tk_error_set (err, TK_ERR_INVALID, 0, "too many shutdown steps");
      return false;
   }
   return api_route (api, "POST", "/api/tickets/upload", TK_ROLE_OPERATOR, TK_HTTP_BODY_LARGE,
                     upload_post, err);
}
