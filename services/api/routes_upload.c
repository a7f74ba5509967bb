/* routes_upload.c - POST /api/tickets/upload: hands an upload on to
 * triage-ingest's POST /v1/tickets and relays its answer.
 *
 * The API never writes raw tickets itself: ingest validates, stores and
 * publishes them, and its per-row report comes back to the client as it
 * is (status and body). The body goes on unchanged with its Content-Type,
 * ?dry_run and the client's Authorization header (ingest may check the same
 * key).
 *
 * The forwarding is libcurl's multi-socket interface on the API's loop:
 * curl says which sockets to watch (watched with uv_poll) and when to wake
 * it (a uv_timer), so no call blocks the loop and any number of uploads can
 * be in flight. The request body is not copied: curl reads it straight from
 * the HTTP request, which stays alive until the answer is sent. The call's
 * audit record is written after ingest has answered, so it holds the status
 * the client gets, ingest's counts, and the ids of the tickets ingest
 * stored or updated (read from its report off the loop).
 *
 * Errors of our own: 415 for a content type ingest does not take, 400 for a
 * query parameter other than dry_run, 502 when ingest cannot be reached or
 * answers nonsense, 504 when it takes longer than TRIAGE_API_UPLOAD_TIMEOUT. */
#include "api.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "store_async.h"

#define UPLOAD_RESPONSE_MAX (64 * 1024 * 1024)
#define UPLOAD_CONNECT_TIMEOUT_MS 5000L

typedef struct api_upload {
   api_t *api;
   CURLM *multi;
   uv_timer_t timer;
   size_t in_flight;
   size_t open_handles; /* the timer and the polls not closed yet */
   bool closing;
   void *shutdown_token; /* set while the shutdown step waits */
} upload_t;

/* One watched socket; freed in its close callback. */
typedef struct {
   uv_poll_t poll;
   curl_socket_t fd;
   upload_t *up;
} watch_t;

/* One forwarded upload. */
typedef struct {
   upload_t *up;
   api_call_t *call; /* owned until the answer is sent */
   CURL *easy;
   struct curl_slist *headers;
   tk_buf_t response;
   char retry_after[32]; /* ingest's Retry-After (503 while MongoDB is down) */
   bool too_big;
   char errbuf[CURL_ERROR_SIZE];
   bool dry_run;
} forward_t;

static void maybe_finish_shutdown (upload_t *up);

/* ---- libcurl on the loop ------------------------------------------------- */

static void
handle_closed (uv_handle_t *h)
{
   upload_t *up = h->data;
   if ((uv_handle_t *) &up->timer != h) {
      watch_t *w = (watch_t *) h;
      up = w->up;
      free (w);
   }
   up->open_handles--;
   maybe_finish_shutdown (up);
}

static void forward_finished (forward_t *f, CURLcode code);

static void
drain (upload_t *up)
{
   CURLMsg *msg;
   int left;
   while (up->multi && (msg = curl_multi_info_read (up->multi, &left))) {
      if (msg->msg == CURLMSG_DONE) {
         forward_t *f = NULL;
         curl_easy_getinfo (msg->easy_handle, CURLINFO_PRIVATE, (char **) &f);
         forward_finished (f, msg->data.result);
      }
   }
   maybe_finish_shutdown (up);
}

static void
on_poll (uv_poll_t *p, int status, int events)
{
   watch_t *w = (watch_t *) p;
   int flags = status < 0 ? CURL_CSELECT_ERR
                          : ((events & UV_READABLE) ? CURL_CSELECT_IN : 0) |
                               ((events & UV_WRITABLE) ? CURL_CSELECT_OUT : 0);
   int running;
   curl_multi_socket_action (w->up->multi, w->fd, flags, &running);
   drain (w->up);
}

static int
on_socket (CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
   (void) easy;
   upload_t *up = userp;
   watch_t *w = socketp;
   if (what == CURL_POLL_REMOVE) {
      if (w) {
         uv_poll_stop (&w->poll);
         uv_close ((uv_handle_t *) &w->poll, handle_closed);
         curl_multi_assign (up->multi, fd, NULL);
      }
      return 0;
   }
   if (!w) {
      if (!(w = calloc (1, sizeof *w))) {
         return -1;
      }
      if (uv_poll_init_socket (up->api->app->loop, &w->poll, fd) != 0) {
         free (w);
         return -1;
      }
      w->fd = fd;
      w->up = up;
      w->poll.data = up;
      up->open_handles++;
      curl_multi_assign (up->multi, fd, w);
   }
   int events = (what & CURL_POLL_IN ? UV_READABLE : 0) | (what & CURL_POLL_OUT ? UV_WRITABLE : 0);
   uv_poll_start (&w->poll, events, on_poll);
   return 0;
}

static void
on_timer (uv_timer_t *t)
{
   upload_t *up = t->data;
   int running;
   curl_multi_socket_action (up->multi, CURL_SOCKET_TIMEOUT, 0, &running);
   drain (up);
}

static int
on_curl_timer (CURLM *multi, long timeout_ms, void *userp)
{
   (void) multi;
   upload_t *up = userp;
   if (timeout_ms < 0) {
      uv_timer_stop (&up->timer);
   } else {
      /* 0 means "now": the timer fires on the next loop turn, never from
       * inside curl's callback. */
      uv_timer_start (&up->timer, on_timer, (uint64_t) timeout_ms, 0);
   }
   return 0;
}

static size_t
on_body (char *data, size_t size, size_t nmemb, void *ud)
{
   forward_t *f = ud;
   size_t n = size * nmemb;
   if (f->response.len + n > UPLOAD_RESPONSE_MAX) {
      f->too_big = true;
      return 0;
   }
   return tk_buf_append (&f->response, data, n) ? n : 0;
}

static size_t
on_header (char *data, size_t size, size_t nmemb, void *ud)
{
   forward_t *f = ud;
   size_t n = size * nmemb;
   static const char name[] = "retry-after:";
   if (n > sizeof name - 1 && !strncasecmp (data, name, sizeof name - 1)) {
      const char *v = data + sizeof name - 1;
      size_t vl = n - (sizeof name - 1);
      while (vl && (*v == ' ' || *v == '\t')) {
         v++;
         vl--;
      }
      while (vl && (v[vl - 1] == '\r' || v[vl - 1] == '\n' || v[vl - 1] == ' ')) {
         vl--;
      }
      if (vl < sizeof f->retry_after) {
         memcpy (f->retry_after, v, vl);
         f->retry_after[vl] = '\0';
      }
   }
   return n;
}

/* ---- one upload ------------------------------------------------------------ */

static void
forward_free (forward_t *f)
{
   if (!f) {
      return;
   }
   if (f->easy) {
      curl_multi_remove_handle (f->up->multi, f->easy);
      curl_easy_cleanup (f->easy);
      f->up->in_flight--;
   }
   curl_slist_free_all (f->headers);
   tk_buf_destroy (&f->response);
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
         i = skip_ws (s, len, i + 1);
         while (i < len && s[i] != ']') {
            size_t end = skip_value (s, len, i);
            if (end <= i) {
               return;
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
         i++;
      } else {
         static const char *const counts[] = {"stored", "updated", "duplicates", "rejected",
                                              "failed", NULL};
         size_t end = skip_value (s, len, i);
         if (end <= i) {
            return;
         }
         for (size_t c = 0; counts[c]; c++) {
            if (klen == strlen (counts[c]) && !memcmp (s + k0, counts[c], klen)) {
               cJSON_AddNumberToObject (call->audit_detail, counts[c], strtod (s + i, NULL));
            }
         }
         i = end;
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
   if (f->retry_after[0]) {
      tk_http_add_header (call->req, "Retry-After", f->retry_after);
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

static void
forward_finished (forward_t *f, CURLcode code)
{
   api_call_t *call = f->call;
   long status = 0;
   curl_easy_getinfo (f->easy, CURLINFO_RESPONSE_CODE, &status);
   /* The easy handle is done: release it now, the answer is in f. */
   curl_multi_remove_handle (f->up->multi, f->easy);
   curl_easy_cleanup (f->easy);
   f->easy = NULL;
   f->up->in_flight--;
   const char *url = f->up->api->app->cfg.ingest_url;
   if (code == CURLE_OPERATION_TIMEDOUT) {
      api_call_fail (call, 504, "gateway_timeout", NULL, "ingest at %s did not answer in time",
                     url);
   } else if (code != CURLE_OK || status < 100) {
      api_call_fail (call, 502, "bad_gateway", NULL, "ingest at %s: %s", url,
                     f->too_big ? "answer too large"
                                : (f->errbuf[0] ? f->errbuf : curl_easy_strerror (code)));
   } else {
      call->status = (int) status;
      call->raw_len = f->response.len;
      call->raw_body = tk_buf_steal (&f->response, NULL);
      if (!call->raw_body) {
         call->raw_len = 0;
      }
   }
   cJSON_AddNumberToObject (call->audit_detail, "ingest_status", (double) status);
   if (tk_store_async (f->up->api->app->loop, f->up->api->app->store, audit_work, audit_done, f) !=
       0) {
      send_answer (f);
   }
}

static bool
forward_start (forward_t *f, tk_error_t *err)
{
   upload_t *up = f->up;
   api_t *api = up->api;
   tk_http_request_t *req = f->call->req;
   char line[2048];
   const char *ct = tk_http_request_header (req, "Content-Type");
   const char *auth = tk_http_request_header (req, "Authorization");
   size_t len = 0;
   const char *body = tk_http_request_body (req, &len);
   snprintf (line, sizeof line, "Content-Type: %s", ct);
   struct curl_slist *h = curl_slist_append (NULL, line);
   if (h && auth) {
      snprintf (line, sizeof line, "Authorization: %s", auth);
      h = curl_slist_append (h, line) ? h : NULL;
   }
   /* No "Expect: 100-continue" round trip: the body is already here. */
   if (h && !curl_slist_append (h, "Expect:")) {
      h = NULL;
   }
   if (h && !curl_slist_append (h, "Accept: application/json")) {
      h = NULL;
   }
   f->headers = h;
   if (!h || !(f->easy = curl_easy_init ())) {
      tk_error_set (err, TK_ERR_NOMEM, 0, "out of memory");
      return false;
   }
   up->in_flight++;
   const char *base = api->app->cfg.ingest_url;
   size_t blen = strlen (base);
   while (blen && base[blen - 1] == '/') {
      blen--;
   }
   snprintf (line, sizeof line, "%.*s/v1/tickets%s", (int) blen, base,
             f->dry_run ? "?dry_run=true" : "");
   CURL *e = f->easy;
   curl_easy_setopt (e, CURLOPT_URL, line);
   curl_easy_setopt (e, CURLOPT_POST, 1L);
   curl_easy_setopt (e, CURLOPT_POSTFIELDS, body);
   curl_easy_setopt (e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) len);
   curl_easy_setopt (e, CURLOPT_HTTPHEADER, f->headers);
   curl_easy_setopt (e, CURLOPT_WRITEFUNCTION, on_body);
   curl_easy_setopt (e, CURLOPT_WRITEDATA, f);
   curl_easy_setopt (e, CURLOPT_HEADERFUNCTION, on_header);
   curl_easy_setopt (e, CURLOPT_HEADERDATA, f);
   curl_easy_setopt (e, CURLOPT_ERRORBUFFER, f->errbuf);
   curl_easy_setopt (e, CURLOPT_PRIVATE, f);
   curl_easy_setopt (e, CURLOPT_NOSIGNAL, 1L);
   curl_easy_setopt (e, CURLOPT_CONNECTTIMEOUT_MS, UPLOAD_CONNECT_TIMEOUT_MS);
   curl_easy_setopt (e, CURLOPT_TIMEOUT_MS, (long) api->app->cfg.api_upload_timeout_ms);
   curl_easy_setopt (e, CURLOPT_PROTOCOLS_STR, "http,https");
   CURLMcode mc = curl_multi_add_handle (up->multi, e);
   if (mc != CURLM_OK) {
      tk_error_set (err, TK_ERR_HTTP, (int) mc, "%s", curl_multi_strerror (mc));
      return false;
   }
   return true;
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
maybe_finish_shutdown (upload_t *up)
{
   if (!up->closing || up->in_flight > 0) {
      return;
   }
   if (up->multi) {
      curl_multi_cleanup (up->multi); /* closes the sockets curl still holds */
      up->multi = NULL;
      uv_timer_stop (&up->timer);
      uv_close ((uv_handle_t *) &up->timer, handle_closed);
      return;
   }
   if (up->open_handles == 0 && up->shutdown_token) {
      void *token = up->shutdown_token;
      up->shutdown_token = NULL;
      up->api->upload = NULL;
      free (up);
      curl_global_cleanup ();
      tk_shutdown_step_done (token);
   }
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
   if (curl_global_init (CURL_GLOBAL_DEFAULT) != CURLE_OK) {
      tk_error_set (err, TK_ERR_HTTP, 0, "curl_global_init failed");
      return false;
   }
   upload_t *up = calloc (1, sizeof *up);
   if (!up || !(up->multi = curl_multi_init ())) {
      free (up);
      curl_global_cleanup ();
      tk_error_set (err, TK_ERR_NOMEM, 0, "cannot create a libcurl multi handle");
      return false;
   }
   up->api = api;
   uv_timer_init (api->app->loop, &up->timer);
   up->timer.data = up;
   up->open_handles = 1;
   curl_multi_setopt (up->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
   curl_multi_setopt (up->multi, CURLMOPT_SOCKETDATA, up);
   curl_multi_setopt (up->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
   curl_multi_setopt (up->multi, CURLMOPT_TIMERDATA, up);
   api->upload = up;
   if (!tk_app_add_shutdown_step (api->app, "upload forwarding", upload_stop_step, api)) {
      tk_error_set (err, TK_ERR_INVALID, 0, "too many shutdown steps");
      return false;
   }
   return api_route (api, "POST", "/api/tickets/upload", TK_ROLE_OPERATOR, TK_HTTP_BODY_LARGE,
                     upload_post, err);
}
