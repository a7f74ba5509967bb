/* http_response.c - dispatching requests to routes, building and writing
 * responses (whole or streamed), the health endpoints and per-route
 * statistics. */
#include "http_internal.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

const uint64_t tk_http_latency_bounds_us[TK_HTTP_LATENCY_BUCKETS] = {
   1000, 5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000, 2500000, 5000000, 10000000,
};

/* --- writing ------------------------------------------------------------ */

typedef struct {
   uv_write_t w;
   tk_http_conn_t *conn;
   tk_http_request_t *req; /* a streamed chunk's request, else NULL */
   tk_http_stream_written_cb cb;
   void *user_data;
   char *data;             /* freed after the write when owned */
   bool owned;
   bool final;             /* the last write of a response */
} write_req_t;

static void
on_write (uv_write_t *w, int status)
{
   write_req_t *wr = (write_req_t *) w;
   tk_http_conn_t *conn = wr->conn;
   tk_http_request_t *req = wr->req;
   tk_http_stream_written_cb cb = wr->cb;
   void *ud = wr->user_data;
   bool final = wr->final;
   if (wr->owned) {
      free (wr->data);
   }
   free (wr);

   /* conn stays allocated until its handles' close callbacks, which libuv
    * runs only after every pending write has called back. */
   if (status < 0) {
      tk_http__conn_close (conn);
   } else if (final) {
      tk_http__conn_response_finished (conn);
   }
   if (req) {
      req->pending_writes--;
      if (!req->ended) {
         if (cb) {
            cb (req, status, ud); /* may end (and free) req: do not touch it after */
         }
      } else if (req->pending_writes == 0) {
         tk_http__request_free (req);
      }
   }
}

/* Queues len bytes of data (freed by us when owned, even on failure). */
static int
conn_write (tk_http_conn_t *conn, char *data, size_t len, bool owned, bool final,
            tk_http_request_t *req, tk_http_stream_written_cb cb, void *ud)
{
   write_req_t *wr = calloc (1, sizeof *wr);
   if (!wr) {
      if (owned) {
         free (data);
      }
      return UV_ENOMEM;
   }
   wr->conn = conn;
   wr->req = req;
   wr->cb = cb;
   wr->user_data = ud;
   wr->data = data;
   wr->owned = owned;
   wr->final = final;
   uv_buf_t b = uv_buf_init (data ? data : (char *) "", (unsigned) len);
   int rc = uv_write (&wr->w, (uv_stream_t *) &conn->tcp, &b, 1, on_write);
   if (rc != 0) {
      if (owned) {
         free (data);
      }
      free (wr);
      return rc;
   }
   if (req) {
      req->pending_writes++;
   }
   return 0;
}

int
tk_http__write_raw (tk_http_conn_t *conn, const char *s, bool final)
{
   int rc = conn_write (conn, (char *) s, strlen (s), false, final, NULL, NULL, NULL);
   if (rc != 0) {
      tk_http__conn_close (conn);
   }
   return rc;
}

/* --- statistics --------------------------------------------------------- */

static void
record (tk_http_server_t *server, tk_http_route_stats_t *st, const char *method, int status,
        uint64_t start_ns)
{
   uint64_t us = (uv_hrtime () - start_ns) / 1000u;
   int cls = status / 100;
   st->count++;
   st->by_class[cls >= 1 && cls <= 5 ? cls : 5]++;
   st->latency_sum_us += us;
   size_t b = 0;
   while (b < TK_HTTP_LATENCY_BUCKETS && us > tk_http_latency_bounds_us[b]) {
      b++;
   }
   st->latency_buckets[b]++;
   if (server->hook) {
      server->hook (st->route, method, status, us, server->hook_ud);
   }
}

static void
record_request (tk_http_request_t *req, int status)
{
   tk_http_route_stats_t *st = req->match.route
                                  ? &((tk_http_route_t *) req->match.route)->stats
                                  : &req->server->unmatched;
   record (req->server, st, tk_http_request_method (req), status, req->start_ns);
}

void
tk_http_server_stats_foreach (const tk_http_server_t *server,
                              void (*cb) (const tk_http_route_stats_t *st, void *ud), void *ud)
{
   for (size_t i = 0; i < server->router.n; i++) {
      cb (&server->router.routes[i]->stats, ud);
   }
   cb (&server->unmatched, ud);
}

typedef struct {
   const char *prefix;
   tk_buf_t *out;
   bool ok;
   int pass;
} render_ctx_t;

static void
render_one (const tk_http_route_stats_t *st, void *ud)
{
   render_ctx_t *c = ud;
   static const char *classes[] = {"", "1xx", "2xx", "3xx", "4xx", "5xx"};
   if (c->pass == 0) {
      for (int k = 1; k <= 5; k++) {
         if (st->by_class[k]) {
            c->ok &= tk_buf_appendf (c->out,
                                     "%s_requests_total{route=\"%s\",method=\"%s\",code=\"%s\"} "
                                     "%" PRIu64 "\n",
                                     c->prefix, st->route, st->method, classes[k],
                                     st->by_class[k]);
         }
      }
      return;
   }
   if (!st->count) {
      return;
   }
   uint64_t cum = 0;
   for (size_t b = 0; b <= TK_HTTP_LATENCY_BUCKETS; b++) {
      cum += st->latency_buckets[b];
      char le[32];
      if (b < TK_HTTP_LATENCY_BUCKETS) {
         snprintf (le, sizeof le, "%g", (double) tk_http_latency_bounds_us[b] / 1e6);
      } else {
         snprintf (le, sizeof le, "+Inf");
      }
      c->ok &= tk_buf_appendf (c->out,
                               "%s_request_duration_seconds_bucket{route=\"%s\",method=\"%s\","
                               "le=\"%s\"} %" PRIu64 "\n",
                               c->prefix, st->route, st->method, le, cum);
   }
   c->ok &= tk_buf_appendf (c->out,
                            "%s_request_duration_seconds_sum{route=\"%s\",method=\"%s\"} %.6f\n"
                            "%s_request_duration_seconds_count{route=\"%s\",method=\"%s\"} "
                            "%" PRIu64 "\n",
                            c->prefix, st->route, st->method, (double) st->latency_sum_us / 1e6,
                            c->prefix, st->route, st->method, st->count);
}

bool
tk_http_server_render_stats (const tk_http_server_t *server, const char *prefix, tk_buf_t *out)
{
   render_ctx_t c = {prefix, out, true, 0};
   c.ok &= tk_buf_appendf (out, "# TYPE %s_requests_total counter\n", prefix);
   tk_http_server_stats_foreach (server, render_one, &c);
   c.pass = 1;
   c.ok &= tk_buf_appendf (out, "# TYPE %s_request_duration_seconds histogram\n", prefix);
   tk_http_server_stats_foreach (server, render_one, &c);
   return c.ok;
}

/* --- building responses ------------------------------------------------- */

static const char *
http_date (tk_http_server_t *server)
{
   static const char *days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
   static const char *months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                  "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
   time_t now = time (NULL);
   if (now != server->date_sec) {
      struct tm tm;
      gmtime_r (&now, &tm);
      snprintf (server->date, sizeof server->date, "%s, %02d %s %04d %02d:%02d:%02d GMT",
                days[tm.tm_wday], tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour,
                tm.tm_min, tm.tm_sec);
      server->date_sec = now;
   }
   return server->date;
}

static bool
status_has_body (int status)
{
   return status >= 200 && status != 204 && status != 304;
}

static const char *
reason (int status)
{
   const char *r = http_status_str ((enum http_status) status);
   return r && r[0] != '<' ? r : "Unknown";
}

/* Appends the status line and headers. content_length < 0: none (chunked
 * or read-until-close). */
static bool
build_head (tk_buf_t *out, tk_http_server_t *server, int status, const char *content_type,
            long long content_length, bool keep_alive, bool http10, bool chunked,
            const tk_buf_t *extra)
{
   bool ok = tk_buf_appendf (out, "HTTP/1.1 %d %s\r\nServer: triage\r\nDate: %s\r\n", status,
                             reason (status), http_date (server));
   if (content_type) {
      ok &= tk_buf_appendf (out, "Content-Type: %s\r\n", content_type);
   }
   if (chunked) {
      ok &= tk_buf_append_str (out, "Transfer-Encoding: chunked\r\n");
   } else if (content_length >= 0 && status != 204 && status >= 200) {
      ok &= tk_buf_appendf (out, "Content-Length: %lld\r\n", content_length);
   }
   if (!keep_alive) {
      ok &= tk_buf_append_str (out, "Connection: close\r\n");
   } else if (http10) {
      ok &= tk_buf_append_str (out, "Connection: keep-alive\r\n");
   }
   /* No response is sniffed into another type, and none is kept by a
    * cache unless its handler says so (the dashboard's static files). */
   bool has_nosniff = false, has_cache_control = false;
   if (extra && extra->len) {
      ok &= tk_buf_append (out, extra->data, extra->len);
      for (const char *p = extra->data, *end = extra->data + extra->len; p < end;) {
         const char *e = memchr (p, '\n', (size_t) (end - p));
         has_nosniff |= strncasecmp (p, "X-Content-Type-Options:", 23) == 0;
         has_cache_control |= strncasecmp (p, "Cache-Control:", 14) == 0;
         p = e ? e + 1 : end;
      }
   }
   if (!has_nosniff) {
      ok &= tk_buf_append_str (out, "X-Content-Type-Options: nosniff\r\n");
   }
   if (!has_cache_control) {
      ok &= tk_buf_append_str (out, "Cache-Control: no-store\r\n");
   }
   ok &= tk_buf_append (out, "\r\n", 2);
   return ok;
}

static const char *
error_code_for (int status)
{
   switch (status) {
   case 400: return "bad_request";
   case 401: return "unauthorized";
   case 403: return "forbidden";
   case 404: return "not_found";
   case 405: return "method_not_allowed";
   case 408: return "request_timeout";
   case 413: return "payload_too_large";
   case 414: return "uri_too_long";
   case 417: return "expectation_failed";
   case 429: return "rate_limited";
   case 431: return "headers_too_large";
   case 501: return "not_implemented";
   case 503: return "unavailable";
   case 505: return "http_version_not_supported";
   default: return status >= 500 ? "internal" : "error";
   }
}

/* {"error":{...}} as a malloc'd string, NULL on out of memory. */
static char *
error_json (const char *code, const char *message, const char *field)
{
   char *s = NULL;
   cJSON *root = cJSON_CreateObject ();
   cJSON *e = cJSON_AddObjectToObject (root, "error");
   if (e && cJSON_AddStringToObject (e, "code", code) &&
       cJSON_AddStringToObject (e, "message", message ? message : "") &&
       (!field || cJSON_AddStringToObject (e, "field", field))) {
      s = cJSON_PrintUnformatted (root);
   }
   cJSON_Delete (root);
   return s;
}

void
tk_http__conn_fail (tk_http_conn_t *conn, int status, const char *message)
{
   tk_http__conn_fail_allow (conn, status, message, NULL);
}

void
tk_http__conn_fail_allow (tk_http_conn_t *conn, int status, const char *message,
                          const char *allow)
{
   if (conn->closing || conn->state == TK_CONN_LINGER || conn->state == TK_CONN_SENDING) {
      return;
   }
   tk_http_server_t *server = conn->server;
   uv_timer_stop (&conn->timer);
   uint64_t start = uv_hrtime ();
   const char *method = "-";
   tk_http_request_t *req = conn->req;
   if (req && !req->dispatched) {
      conn->req = NULL;
      start = req->start_ns;
      if (req->url.len) {
         method = http_method_str ((enum http_method) conn->parser.method);
      }
      tk_http__request_free (req); /* conn is open, so the server stays */
   }
   record (server, &server->unmatched, method, status, start);

   char msg[160];
   snprintf (msg, sizeof msg, "%s", message ? message : reason (status));
   char *body = error_json (error_code_for (status), msg, NULL);
   tk_buf_t out = TK_BUF_INIT;
   size_t blen = body ? strlen (body) : 0;
   tk_buf_t extra = TK_BUF_INIT;
   bool ok = (!allow || tk_buf_appendf (&extra, "Allow: %s\r\n", allow)) &&
             build_head (&out, server, status, "application/json", (long long) blen, false, false,
                         false, allow ? &extra : NULL) &&
             tk_buf_append (&out, body, blen);
   tk_buf_destroy (&extra);
   free (body);
   if (!ok) {
      tk_buf_destroy (&out);
      tk_http__conn_close (conn);
      return;
   }
   conn->close_after = true;
   conn->state = TK_CONN_SENDING;
   /* Stop parsing and buffering: what follows is drained while lingering. */
   uv_read_stop ((uv_stream_t *) &conn->tcp);
   conn->reading = false;
   tk_buf_reset (&conn->in);
   size_t len = 0;
   char *data = tk_buf_steal (&out, &len);
   if (conn_write (conn, data, len, true, true, NULL, NULL, NULL) != 0) {
      tk_http__conn_close (conn);
   }
}

bool
tk_http_add_header (tk_http_request_t *req, const char *name, const char *value)
{
   static const char *reserved[] = {"Content-Length", "Transfer-Encoding", "Connection", "Date",
                                    "Server"};
   if (!name || !value || !*name || strpbrk (name, "\r\n: ") || strpbrk (value, "\r\n")) {
      return false;
   }
   for (size_t i = 0; i < sizeof reserved / sizeof reserved[0]; i++) {
      if (strcasecmp (name, reserved[i]) == 0) {
         return false;
      }
   }
   return tk_buf_appendf (&req->resp_headers, "%s: %s\r\n", name, value);
}

bool
tk_http_add_retry_after (tk_http_request_t *req, int64_t wait_ms)
{
   char secs[24];
   snprintf (secs, sizeof secs, "%lld", (long long) (wait_ms > 0 ? (wait_ms + 999) / 1000 : 0));
   return tk_http_add_header (req, "Retry-After", secs);
}

/* A request answered before its body was read (a refusal) closes the
 * connection: the body is dropped while lingering, never parsed. */
static bool
response_keep_alive (const tk_http_request_t *req, const tk_http_conn_t *conn)
{
   return req->keep_alive && !conn->close_after && !conn->peer_eof && !req->server->closing &&
          conn->message_done;
}

int
tk_http_respond (tk_http_request_t *req, int status, const char *content_type, const void *body,
                 size_t len)
{
   if (req->ended || req->streaming) {
      return UV_EINVAL;
   }
   req->ended = true;
   tk_http_conn_t *conn = req->conn;
   int rc = UV_ECONNRESET;
   if (conn) {
      bool ka = response_keep_alive (req, conn);
      tk_buf_t out = TK_BUF_INIT;
      bool send_body = !req->head && status_has_body (status);
      bool ok = build_head (&out, req->server, status, content_type, (long long) len, ka,
                            req->http10, false, &req->resp_headers) &&
                (!send_body || tk_buf_append (&out, body, len));
      conn->req = NULL;
      req->conn = NULL;
      if (!ok) {
         tk_buf_destroy (&out);
         tk_http__conn_close (conn);
         rc = UV_ENOMEM;
      } else {
         conn->close_after = !ka;
         conn->state = TK_CONN_SENDING;
         size_t n = 0;
         char *data = tk_buf_steal (&out, &n);
         if ((rc = conn_write (conn, data, n, true, true, NULL, NULL, NULL)) != 0) {
            tk_http__conn_close (conn);
         }
      }
   }
   record_request (req, status);
   tk_http__request_free (req);
   return rc;
}

int
tk_http_respond_json (tk_http_request_t *req, int status, cJSON *json)
{
   char *s = json ? cJSON_PrintUnformatted (json) : NULL;
   cJSON_Delete (json);
   if (!s) {
      return tk_http_respond_error (req, 500, "internal", "could not render the response", NULL);
   }
   int rc = tk_http_respond (req, status, "application/json", s, strlen (s));
   cJSON_free (s);
   return rc;
}

int
tk_http_respond_error (tk_http_request_t *req, int status, const char *code, const char *message,
                       const char *field)
{
   char *s = error_json (code ? code : error_code_for (status), message, field);
   if (!s) {
      return tk_http_respond (req, 500, NULL, NULL, 0);
   }
   int rc = tk_http_respond (req, status, "application/json", s, strlen (s));
   cJSON_free (s);
   return rc;
}

/* --- streaming ---------------------------------------------------------- */

int
tk_http_stream_begin (tk_http_request_t *req, int status, const char *content_type)
{
   if (req->ended || req->streaming) {
      return UV_EINVAL;
   }
   req->streaming = true;
   req->chunked = !req->http10;
   req->stream_status = status;
   tk_http_conn_t *conn = req->conn;
   if (!conn) {
      return UV_ECONNRESET;
   }
   bool ka = response_keep_alive (req, conn) && req->chunked;
   conn->close_after = !ka;
   tk_buf_t out = TK_BUF_INIT;
   if (!build_head (&out, req->server, status, content_type, -1, ka, req->http10, req->chunked,
                    &req->resp_headers)) {
      tk_buf_destroy (&out);
      tk_http__conn_close (conn);
      return UV_ENOMEM;
   }
   size_t n = 0;
   char *data = tk_buf_steal (&out, &n);
   int rc = conn_write (conn, data, n, true, false, NULL, NULL, NULL);
   if (rc != 0) {
      tk_http__conn_close (conn);
   }
   return rc;
}

int
tk_http_stream_write (tk_http_request_t *req, const void *data, size_t len,
                      tk_http_stream_written_cb cb, void *user_data)
{
   if (!req->streaming || req->ended) {
      return UV_EINVAL;
   }
   tk_http_conn_t *conn = req->conn;
   if (!conn) {
      return UV_ECONNRESET;
   }
   tk_buf_t out = TK_BUF_INIT;
   /* HEAD and empty chunks still go through a (zero-length) write, so the
    * callback always comes from the loop, never from inside this call. */
   if (len && !req->head) {
      bool ok = req->chunked ? tk_buf_appendf (&out, "%zx\r\n", len) &&
                                  tk_buf_append (&out, data, len) &&
                                  tk_buf_append (&out, "\r\n", 2)
                             : tk_buf_append (&out, data, len);
      if (!ok) {
         tk_buf_destroy (&out);
         return UV_ENOMEM;
      }
   }
   size_t n = 0;
   char *buf = tk_buf_steal (&out, &n);
   int rc = conn_write (conn, buf, n, true, false, req, cb, user_data);
   if (rc != 0) {
      tk_http__conn_close (conn);
   }
   return rc;
}

int
tk_http_stream_end (tk_http_request_t *req)
{
   if (!req->streaming || req->ended) {
      return UV_EINVAL;
   }
   req->ended = true;
   tk_http_conn_t *conn = req->conn;
   int rc = UV_ECONNRESET;
   if (conn) {
      conn->req = NULL;
      req->conn = NULL;
      conn->state = TK_CONN_SENDING;
      const char *tail = req->chunked && !req->head ? "0\r\n\r\n" : "";
      rc = tk_http__write_raw (conn, tail, true);
   }
   record_request (req, req->stream_status);
   if (req->pending_writes == 0) {
      tk_http__request_free (req);
   }
   return rc;
}

/* --- dispatch ------------------------------------------------------------ */

bool
tk_http__add_allow (tk_http_request_t *req)
{
   char allow[sizeof req->match.allow];
   memcpy (allow, req->match.allow, sizeof allow);
   return tk_http_add_header (req, "Allow", allow);
}

void
tk_http__dispatch (tk_http_conn_t *conn)
{
   tk_http_request_t *req = conn->req;
   req->dispatched = true;
   const char *qs = tk_http_request_query_string (req);
   bool nomem = false;
   if (!tk_http_query_parse (qs, strlen (qs), &req->query, &nomem)) {
      if (nomem) {
         tk_http_respond_error (req, 500, "internal", "out of memory", NULL);
      } else {
         tk_http_respond_error (req, 400, "bad_request",
                                "the query string is not validly percent-encoded", "query");
      }
      return;
   }
   const tk_http_route_t *rt = req->match.route;
   rt->handler (req, rt->user_data);
}

/* --- health endpoints ---------------------------------------------------- */

static void
healthz_handler (tk_http_request_t *req, void *ud)
{
   static const char body[] = "{\"status\":\"ok\"}";
   tk_http_respond (req, 200, "application/json", body, sizeof body - 1);
}

static void
readyz_handler (tk_http_request_t *req, void *ud)
{
   tk_http_health_t *h = ud;
   if (h->ready_cb) {
      h->ready_cb (req, h->ready_ud);
   } else {
      tk_http_respond_ready (req, NULL, NULL);
   }
}

static void
metrics_handler (tk_http_request_t *req, void *ud)
{
   tk_http_health_t *h = ud;
   tk_buf_t out = TK_BUF_INIT;
   bool ok = h->metrics_cb ? h->metrics_cb (&out, h->metrics_ud)
                           : tk_http_server_render_stats (req->server, "triage_http", &out);
   if (ok) {
      tk_http_respond (req, 200, "text/plain; version=0.0.4; charset=utf-8", out.data, out.len);
   } else {
      tk_http_respond_error (req, 500, "internal", "could not render the metrics", NULL);
   }
   tk_buf_destroy (&out);
}

static bool
health_state (tk_http_server_t *server, tk_error_t *err)
{
   if (!server->health && !(server->health = calloc (1, sizeof *server->health))) {
      tk_error_set (err, TK_ERR_NOMEM, 0, "out of memory adding the health routes");
      return false;
   }
   return true;
}

bool
tk_http_add_health_routes (tk_http_server_t *server, tk_http_ready_fn ready_cb, void *user_data,
                           tk_error_t *err)
{
   if (!health_state (server, err)) {
      return false;
   }
   server->health->ready_cb = ready_cb;
   server->health->ready_ud = user_data;
   return tk_http_route (server, "GET", "/healthz", healthz_handler, server->health, err) &&
          tk_http_route (server, "GET", "/readyz", readyz_handler, server->health, err);
}

bool
tk_http_add_metrics_route (tk_http_server_t *server, tk_http_metrics_fn metrics_cb,
                           void *user_data, tk_error_t *err)
{
   if (!health_state (server, err)) {
      return false;
   }
   server->health->metrics_cb = metrics_cb;
   server->health->metrics_ud = user_data;
   return tk_http_route (server, "GET", "/metrics", metrics_handler, server->health, err);
}

int
tk_http_respond_ready (tk_http_request_t *req, const char *failed_dependency, const char *detail)
{
   if (!failed_dependency) {
      static const char body[] = "{\"status\":\"ready\"}";
      return tk_http_respond (req, 200, "application/json", body, sizeof body - 1);
   }
   cJSON *j = cJSON_CreateObject ();
   cJSON_AddStringToObject (j, "status", "unavailable");
   cJSON_AddStringToObject (j, "failed", failed_dependency);
   if (detail) {
      cJSON_AddStringToObject (j, "detail", detail);
   }
   return tk_http_respond_json (req, 503, j);
}
