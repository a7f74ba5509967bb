/* Integration tests for common/http_server.c: the server runs on the test's
 * loop on an ephemeral port of 127.0.0.1; a client thread talks to it over
 * real TCP sockets with blocking calls (each read has a deadline) and
 * records what it saw; the main thread asserts once the thread is joined.
 * No external server is needed. */
#include "test_support.h"

#include "http_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

/* --- a tiny blocking HTTP client ------------------------------------------ */

typedef struct {
   int fd;
   char buf[1 << 16];
   size_t len;
} cli_t;

typedef struct {
   int status;
   char head[8192]; /* the header block, lines joined by \r\n */
   char *body;      /* malloc'd, NUL-terminated */
   size_t body_len;
   bool chunked;
} resp_t;

/* Connects from the local address from (a 127.x.y.z address: every one of
 * them is loopback on Linux), so one test can be several clients. */
static bool
cli_connect_from (cli_t *c, int port, const char *from)
{
   memset (c, 0, sizeof *c);
   c->fd = socket (AF_INET, SOCK_STREAM, 0);
   struct timeval tv = {5, 0};
   setsockopt (c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
   if (from) {
      struct sockaddr_in src = {0};
      src.sin_family = AF_INET;
      inet_pton (AF_INET, from, &src.sin_addr);
      if (bind (c->fd, (struct sockaddr *) &src, sizeof src) != 0) {
         return false;
      }
   }
   struct sockaddr_in a = {0};
   a.sin_family = AF_INET;
   a.sin_port = htons ((uint16_t) port);
   a.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
   return connect (c->fd, (struct sockaddr *) &a, sizeof a) == 0;
}

static bool
cli_connect (cli_t *c, int port)
{
   return cli_connect_from (c, port, NULL);
}

static bool
cli_send (cli_t *c, const char *data, size_t len)
{
   while (len) {
      ssize_t n = send (c->fd, data, len, MSG_NOSIGNAL);
      if (n <= 0) {
         return false;
      }
      data += n;
      len -= (size_t) n;
   }
   return true;
}

static bool
cli_send_str (cli_t *c, const char *s)
{
   return cli_send (c, s, strlen (s));
}

/* Reads more into the buffer; false on EOF, error or timeout. */
static bool
cli_fill (cli_t *c)
{
   if (c->len == sizeof c->buf) {
      return false;
   }
   ssize_t n = recv (c->fd, c->buf + c->len, sizeof c->buf - c->len, 0);
   if (n <= 0) {
      return false;
   }
   c->len += (size_t) n;
   return true;
}

static void
cli_consume (cli_t *c, size_t n)
{
   memmove (c->buf, c->buf + n, c->len - n);
   c->len -= n;
}

/* Waits for a line ending in CRLF at the start of the buffer. */
static char *
cli_line (cli_t *c, size_t *line_len)
{
   for (;;) {
      char *e = memmem (c->buf, c->len, "\r\n", 2);
      if (e) {
         *line_len = (size_t) (e - c->buf);
         return c->buf;
      }
      if (!cli_fill (c)) {
         return NULL;
      }
   }
}

static bool
cli_read_exact (cli_t *c, size_t n, char *out)
{
   while (c->len < n) {
      if (!cli_fill (c)) {
         return false;
      }
   }
   memcpy (out, c->buf, n);
   cli_consume (c, n);
   return true;
}

static const char *
resp_header (const resp_t *r, const char *name)
{
   static __thread char value[512];
   size_t nl = strlen (name);
   for (const char *p = r->head; *p;) {
      const char *e = strstr (p, "\r\n");
      size_t ll = e ? (size_t) (e - p) : strlen (p);
      if (ll > nl + 1 && strncasecmp (p, name, nl) == 0 && p[nl] == ':') {
         const char *v = p + nl + 1;
         while (*v == ' ') {
            v++;
         }
         snprintf (value, sizeof value, "%.*s", (int) (ll - (size_t) (v - p)), v);
         return value;
      }
      p = e ? e + 2 : p + ll;
   }
   return NULL;
}

/* Reads one response (skipping 100 Continue when skip_100). head_only: the
 * request was HEAD, so no body follows. */
static bool
cli_read_response_ex (cli_t *c, resp_t *r, bool head_only, bool skip_100)
{
   memset (r, 0, sizeof *r);
   size_t ll;
   char *line;
   for (;;) {
      if (!(line = cli_line (c, &ll))) {
         return false;
      }
      if (sscanf (line, "HTTP/1.1 %d", &r->status) != 1) {
         return false;
      }
      cli_consume (c, ll + 2);
      size_t hl = 0;
      for (;;) {
         if (!(line = cli_line (c, &ll))) {
            return false;
         }
         if (ll == 0) {
            cli_consume (c, 2);
            break;
         }
         if (hl + ll + 3 < sizeof r->head) {
            memcpy (r->head + hl, line, ll);
            memcpy (r->head + hl + ll, "\r\n", 3);
            hl += ll + 2;
         }
         cli_consume (c, ll + 2);
      }
      if (r->status == 100 && skip_100) {
         memset (r->head, 0, sizeof r->head);
         continue;
      }
      break;
   }
   const char *te = resp_header (r, "Transfer-Encoding");
   if (head_only || r->status == 100 || r->status == 204) {
      r->body = calloc (1, 1);
      return true;
   }
   if (te && strcasecmp (te, "chunked") == 0) {
      r->chunked = true;
      size_t cap = 1 << 16;
      r->body = malloc (cap);
      for (;;) {
         if (!(line = cli_line (c, &ll))) {
            return false;
         }
         size_t n = strtoul (line, NULL, 16);
         cli_consume (c, ll + 2);
         if (n == 0) {
            if (!(line = cli_line (c, &ll)) || ll != 0) {
               return false;
            }
            cli_consume (c, 2);
            break;
         }
         while (r->body_len + n + 1 > cap) {
            cap *= 2;
            r->body = realloc (r->body, cap);
         }
         char crlf[2];
         if (!cli_read_exact (c, n, r->body + r->body_len) || !cli_read_exact (c, 2, crlf)) {
            return false;
         }
         r->body_len += n;
      }
      r->body[r->body_len] = '\0';
      return true;
   }
   const char *cl = resp_header (r, "Content-Length");
   if (!cl) {
      return false; /* every non-streamed response must have one */
   }
   r->body_len = strtoul (cl, NULL, 10);
   r->body = malloc (r->body_len + 1);
   r->body[r->body_len] = '\0';
   return cli_read_exact (c, r->body_len, r->body);
}

static bool
cli_read_response (cli_t *c, resp_t *r)
{
   return cli_read_response_ex (c, r, false, true);
}

/* True if the server closes the connection (EOF or reset) within 5 s and
 * sends nothing more. */
static bool
cli_sees_close (cli_t *c)
{
   if (c->len) {
      return false;
   }
   char b[256];
   ssize_t n = recv (c->fd, b, sizeof b, 0);
   return n == 0 || (n < 0 && errno == ECONNRESET);
}

static void
cli_close (cli_t *c)
{
   if (c->fd >= 0) {
      close (c->fd);
      c->fd = -1;
   }
}

static void
resp_free (resp_t *r)
{
   free (r->body);
   r->body = NULL;
}

/* --- the fixture ---------------------------------------------------------- */

#define MAX_RESP 8

typedef struct fixture_s fixture_t;
typedef void (*client_fn) (fixture_t *f);

struct fixture_s {
   uv_loop_t loop;
   tk_http_server_t *server;
   int port;
   uv_async_t client_done_async;
   uv_thread_t thread;
   client_fn client;
   bool client_done;
   bool closed;
   /* what the client saw */
   resp_t resp[MAX_RESP];
   bool got[MAX_RESP];
   bool saw_close[MAX_RESP];
   uint64_t elapsed_ms;
   bool connect_refused;
   /* loop-side state for handlers */
   uv_timer_t timer;
   bool timer_open;
   tk_http_request_t *pending;
   int async_rc;
   bool async_gone;
   bool async_done;
   atomic_int handler_calls;
   int stream_rows;
   int stream_next;
   int stream_outstanding;
   int stream_max_outstanding;
   int stream_errors;
   bool close_in_handler;
   bool closed_before_response;
   int hook_calls;
   int hook_last_status;
   char hook_last_route[64];
   /* the test authenticator */
   uv_timer_t auth_timer;
   tk_http_request_t *auth_pending;
   bool auth_pending_ok;
   int auth_calls;
   size_t body_at_auth; /* body bytes the request held when it was judged */
   char last_client[64];
   char last_principal[64];
   int last_role;
};

static void
client_done_cb (uv_async_t *a)
{
   fixture_t *f = a->data;
   f->client_done = true;
}

static void
client_thread (void *arg)
{
   fixture_t *f = arg;
   f->client (f);
   uv_async_send (&f->client_done_async);
}

static void
on_closed (void *ud)
{
   fixture_t *f = ud;
   f->closed = true;
}

static void
hook_cb (const char *route, const char *method, int status, uint64_t duration_us, void *ud)
{
   fixture_t *f = ud;
   f->hook_calls++;
   f->hook_last_status = status;
   snprintf (f->hook_last_route, sizeof f->hook_last_route, "%s", route);
}

static void routes_register (fixture_t *f);

static fixture_t *
fixture_new (const tk_http_options_t *opts)
{
   fixture_t *f = calloc (1, sizeof *f);
   assert_int_equal (uv_loop_init (&f->loop), 0);
   tk_error_t err;
   tk_http_options_t o = opts ? *opts : (tk_http_options_t){0};
   o.host = "127.0.0.1";
   o.port = 0;
   f->server = tk_http_server_new (&f->loop, &o, &err);
   assert_non_null (f->server);
   routes_register (f);
   tk_http_server_set_request_hook (f->server, hook_cb, f);
   assert_true (tk_http_server_listen (f->server, &err));
   f->port = tk_http_server_port (f->server);
   assert_true (f->port > 0);
   uv_async_init (&f->loop, &f->client_done_async, client_done_cb);
   f->client_done_async.data = f;
   uv_timer_init (&f->loop, &f->timer);
   f->timer.data = f;
   f->timer_open = true;
   uv_timer_init (&f->loop, &f->auth_timer);
   f->auth_timer.data = f;
   return f;
}

/* Runs fn on the client thread while the loop serves; joins it. */
static void
fixture_run_client (fixture_t *f, client_fn fn)
{
   f->client = fn;
   f->client_done = false;
   assert_int_equal (uv_thread_create (&f->thread, client_thread, f), 0);
   bool ok = tk_test_run_until (&f->loop, &f->client_done, 20000);
   uv_thread_join (&f->thread);
   assert_true (ok);
}

static void
fixture_destroy (fixture_t *f)
{
   if (!f->closed && f->server) {
      tk_http_server_close (f->server, on_closed, f);
   }
   assert_true (tk_test_run_until (&f->loop, &f->closed, 5000));
   uv_close ((uv_handle_t *) &f->client_done_async, NULL);
   uv_close ((uv_handle_t *) &f->timer, NULL);
   uv_close ((uv_handle_t *) &f->auth_timer, NULL);
   tk_test_loop_close (&f->loop);
   for (int i = 0; i < MAX_RESP; i++) {
      resp_free (&f->resp[i]);
   }
   free (f);
}

/* --- handlers --------------------------------------------------------------- */

static void
h_hello (tk_http_request_t *req, void *ud)
{
   fixture_t *f = ud;
   f->handler_calls++;
   snprintf (f->last_client, sizeof f->last_client, "%s", tk_http_request_remote_addr (req));
   snprintf (f->last_principal, sizeof f->last_principal, "%s", tk_http_request_principal (req));
   f->last_role = tk_http_request_role (req);
   char body[256];
   int n = snprintf (body, sizeof body, "hello %s from %s", tk_http_request_path (req),
                     tk_http_request_remote_addr (req));
   tk_http_respond (req, 200, "text/plain", body, (size_t) n);
}

static void
h_ticket (tk_http_request_t *req, void *ud)
{
   cJSON *j = cJSON_CreateObject ();
   cJSON_AddStringToObject (j, "id", tk_http_request_param (req, "id"));
   cJSON_AddStringToObject (j, "route", tk_http_request_route (req));
   tk_http_respond_json (req, 200, j);
}

static void
h_search (tk_http_request_t *req, void *ud)
{
   cJSON *j = cJSON_CreateObject ();
   cJSON *tags = cJSON_AddArrayToObject (j, "tag");
   size_t cur = 0;
   const char *v;
   while ((v = tk_http_query_next (req, "tag", &cur, NULL))) {
      cJSON_AddItemToArray (tags, cJSON_CreateString (v));
   }
   const char *q = tk_http_query_get (req, "q");
   cJSON_AddStringToObject (j, "q", q ? q : "(none)");
   cJSON_AddBoolToObject (j, "missing_is_null", tk_http_query_get (req, "nope") == NULL);
   tk_http_respond_json (req, 200, j);
}

static void
h_echo (tk_http_request_t *req, void *ud)
{
   size_t len;
   const char *body = tk_http_request_body (req, &len);
   const char *ct = tk_http_request_header (req, "content-TYPE");
   tk_http_add_header (req, "X-Body-Length", "set");
   tk_http_respond (req, 201, ct ? ct : "application/octet-stream", body, len);
}

static void
async_timer_cb (uv_timer_t *t)
{
   fixture_t *f = t->data;
   tk_http_request_t *req = f->pending;
   f->pending = NULL;
   f->async_gone = tk_http_request_is_gone (req);
   f->closed_before_response = f->closed;
   f->async_rc = tk_http_respond (req, 200, "text/plain", "late", 4);
   f->async_done = true;
}

/* Answers after 200 ms; optionally starts a graceful close meanwhile. */
static void
h_slow (tk_http_request_t *req, void *ud)
{
   fixture_t *f = ud;
   f->handler_calls++;
   f->pending = req;
   uv_timer_start (&f->timer, async_timer_cb, 200, 0);
   if (f->close_in_handler) {
      tk_http_server_close (f->server, on_closed, f);
   }
}

static void stream_written (tk_http_request_t *req, int status, void *ud);

static void
stream_next (tk_http_request_t *req, fixture_t *f)
{
   if (f->stream_next == f->stream_rows) {
      tk_http_stream_end (req);
      f->async_done = true;
      return;
   }
   char row[1100];
   int n = snprintf (row, sizeof row, "%d,", f->stream_next);
   memset (row + n, 'x', 1000);
   row[n + 1000] = '\n';
   f->stream_next++;
   f->stream_outstanding++;
   if (f->stream_outstanding > f->stream_max_outstanding) {
      f->stream_max_outstanding = f->stream_outstanding;
   }
   if (tk_http_stream_write (req, row, (size_t) n + 1001, stream_written, f) != 0) {
      f->stream_errors++;
      tk_http_stream_end (req);
      f->async_done = true;
   }
}

static void
stream_written (tk_http_request_t *req, int status, void *ud)
{
   fixture_t *f = ud;
   f->stream_outstanding--;
   if (status < 0) {
      f->stream_errors++;
      tk_http_stream_end (req);
      f->async_done = true;
      return;
   }
   stream_next (req, f);
}

static void
h_stream (tk_http_request_t *req, void *ud)
{
   fixture_t *f = ud;
   assert_int_equal (tk_http_stream_begin (req, 200, "text/csv"), 0);
   stream_next (req, f);
}

static void
ready_cb (tk_http_request_t *req, void *ud)
{
   tk_http_respond_ready (req, "mongo", "connection refused");
}

/* --- a test authenticator --------------------------------------------------
 * "Bearer viewer" is role 1, "Bearer operator" role 2, both at once;
 * "Bearer slow-operator" is role 2 and "Bearer slow-bad" refused, each after
 * 200 ms; anything else is refused at once. */

static void
auth_timer_cb (uv_timer_t *t)
{
   fixture_t *f = t->data;
   tk_http_request_t *req = f->auth_pending;
   f->auth_pending = NULL;
   if (f->auth_pending_ok) {
      tk_http_grant (req, 2, "k-slow");
   } else {
      tk_http_respond_error (req, 401, "unauthorized", "no", NULL);
   }
}

static void
test_authenticate (tk_http_request_t *req, void *ud)
{
   fixture_t *f = ud;
   f->auth_calls++;
   tk_http_request_body (req, &f->body_at_auth);
   const char *a = tk_http_request_header (req, "Authorization");
   if (a && !strcmp (a, "Bearer viewer")) {
      tk_http_grant (req, 1, "k-viewer");
   } else if (a && !strcmp (a, "Bearer operator")) {
      tk_http_grant (req, 2, "k-operator");
   } else if (a && !strncmp (a, "Bearer slow-", 12)) {
      f->auth_pending = req;
      f->auth_pending_ok = !strcmp (a + 12, "operator");
      uv_timer_start (&f->auth_timer, auth_timer_cb, 200, 0);
   } else {
      tk_http_respond_error (req, 401, "unauthorized", "send a key", NULL);
   }
}

static void
routes_register (fixture_t *f)
{
   tk_error_t err;
   tk_http_server_t *s = f->server;
   tk_http_server_set_authenticator (s, test_authenticate, f);
   assert_true (tk_http_route_with (s, "GET", "/private", (tk_http_access_t){.min_role = 1},
                                    h_hello, f, &err));
   assert_true (tk_http_route_with (s, "POST", "/json",
                                    (tk_http_access_t){.min_role = 1,
                                                       .max_body = TK_HTTP_BODY_JSON},
                                    h_echo, f, &err));
   assert_true (tk_http_route_with (s, "POST", "/upload",
                                    (tk_http_access_t){.min_role = 2,
                                                       .max_body = TK_HTTP_BODY_LARGE},
                                    h_echo, f, &err));
   assert_true (tk_http_route (s, "GET", "/hello", h_hello, f, &err));
   assert_true (tk_http_route (s, "GET", "/fast", h_hello, f, &err));
   assert_true (tk_http_route (s, "GET", "/api/tickets/{id}", h_ticket, f, &err));
   assert_true (tk_http_route (s, "DELETE", "/api/tickets/{id}", h_ticket, f, &err));
   assert_true (tk_http_route (s, "GET", "/search", h_search, f, &err));
   assert_true (tk_http_route_with (s, "POST", "/echo",
                                    (tk_http_access_t){.max_body = TK_HTTP_BODY_LARGE}, h_echo, f,
                                    &err));
   assert_true (tk_http_route (s, "GET", "/slow", h_slow, f, &err));
   assert_true (tk_http_route (s, "GET", "/stream", h_stream, f, &err));
   assert_true (tk_http_add_health_routes (s, ready_cb, f, &err));
   assert_true (tk_http_add_metrics_route (s, NULL, NULL, &err));
}

/* --- client scenarios and tests ------------------------------------------ */

static const char GET_HELLO[] = "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n";

static void
c_keep_alive (fixture_t *f)
{
   cli_t c;
   if (!cli_connect (&c, f->port)) {
      return;
   }
   for (int i = 0; i < 2; i++) {
      f->got[i] = cli_send_str (&c, GET_HELLO) && cli_read_response (&c, &f->resp[i]);
   }
   /* HTTP/1.0 with keep-alive asked for keeps the connection too. */
   f->got[2] = cli_send_str (&c, "GET /fast HTTP/1.0\r\nConnection: keep-alive\r\n\r\n") &&
               cli_read_response (&c, &f->resp[2]);
   f->got[3] = cli_send_str (&c, "HEAD /hello HTTP/1.1\r\nConnection: close\r\n\r\n") &&
               cli_read_response_ex (&c, &f->resp[3], true, false);
   f->saw_close[3] = cli_sees_close (&c);
   cli_close (&c);
}

static void
test_keep_alive (void **state)
{
   fixture_t *f = fixture_new (NULL);
   fixture_run_client (f, c_keep_alive);
   for (int i = 0; i < 4; i++) {
      assert_true (f->got[i]);
      assert_int_equal (f->resp[i].status, 200);
   }
   assert_int_equal (f->handler_calls, 4);
   /* One connection served all four: the remote port is the same. */
   assert_string_equal (strstr (f->resp[0].body, " from "), strstr (f->resp[1].body, " from "));
   assert_string_equal (strstr (f->resp[0].body, " from "), strstr (f->resp[2].body, " from "));
   assert_non_null (resp_header (&f->resp[0], "Date"));
   assert_string_equal (resp_header (&f->resp[0], "Server"), "triage");
   assert_null (resp_header (&f->resp[0], "Connection"));
   assert_string_equal (resp_header (&f->resp[2], "Connection"), "keep-alive");
   /* HEAD: the GET's length, no body, then the asked-for close. */
   assert_string_equal (resp_header (&f->resp[3], "Content-Length"),
                        resp_header (&f->resp[0], "Content-Length"));
   assert_string_equal (resp_header (&f->resp[3], "Connection"), "close");
   assert_true (f->saw_close[3]);
   assert_int_equal (f->hook_calls, 4);
   assert_string_equal (f->hook_last_route, "/hello");
   fixture_destroy (f);
}

static void
c_pipelining (fixture_t *f)
{
   cli_t c;
   if (!cli_connect (&c, f->port)) {
      return;
   }
   /* The first answer comes late (timer); the second must still follow it. */
   const char both[] = "GET /slow HTTP/1.1\r\nHost: t\r\n\r\nGET /fast HTTP/1.1\r\nHost: t\r\n\r\n";
   if (cli_send_str (&c, both)) {
      f->got[0] = cli_read_response (&c, &f->resp[0]);
      f->got[1] = cli_read_response (&c, &f->resp[1]);
   }
   cli_close (&c);
}

static void
test_pipelining (void **state)
{
   fixture_t *f = fixture_new (NULL);
   fixture_run_client (f, c_pipelining);
   assert_true (f->got[0] && f->got[1]);
   assert_string_equal (f->resp[0].body, "late");
   assert_non_null (strstr (f->resp[1].body, "hello /fast"));
   fixture_destroy (f);
}

static void
c_body_limits (fixture_t *f)
{
   cli_t c;
   /* 0: Content-Length over the limit: 413 before any body is sent. */
   if (cli_connect (&c, f->port)) {
      f->got[0] = cli_send_str (&c, "POST /echo HTTP/1.1\r\nContent-Length: 5000\r\n\r\n") &&
                  cli_read_response (&c, &f->resp[0]);
      f->saw_close[0] = cli_sees_close (&c);
      cli_close (&c);
   }
   /* 1: with Expect: 100-continue, no 100 but a 413 straight away. */
   if (cli_connect (&c, f->port)) {
      f->got[1] = cli_send_str (&c, "POST /echo HTTP/1.1\r\nContent-Length: 5000\r\n"
                                    "Expect: 100-continue\r\n\r\n") &&
                  cli_read_response_ex (&c, &f->resp[1], false, false);
      f->saw_close[1] = cli_sees_close (&c);
      cli_close (&c);
   }
   /* 2: a chunked body that grows over the limit. */
   if (cli_connect (&c, f->port)) {
      bool ok = cli_send_str (&c, "POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n");
      char chunk[600];
      memset (chunk, 'a', sizeof chunk);
      for (int i = 0; ok && i < 3; i++) {
         ok = cli_send_str (&c, "258\r\n") && cli_send (&c, chunk, sizeof chunk) &&
              cli_send_str (&c, "\r\n");
      }
      f->got[2] = cli_read_response (&c, &f->resp[2]);
      f->saw_close[2] = cli_sees_close (&c);
      cli_close (&c);
   }
   /* 4: 100-continue within the limit: 100 first, then the answer. */
   if (cli_connect (&c, f->port)) {
      f->got[4] = cli_send_str (&c, "POST /echo HTTP/1.1\r\nContent-Length: 3\r\n"
                                    "Expect: 100-continue\r\n\r\n") &&
                  cli_read_response_ex (&c, &f->resp[4], false, false) &&
                  cli_send_str (&c, "abc") && cli_read_response (&c, &f->resp[5]);
      cli_close (&c);
   }
}

static void
test_body_limits (void **state)
{
   tk_http_options_t o = {.max_body_bytes = 1024};
   fixture_t *f = fixture_new (&o);
   fixture_run_client (f, c_body_limits);
   for (int i = 0; i < 3; i++) {
      assert_true (f->got[i]);
      assert_int_equal (f->resp[i].status, 413);
      assert_true (f->saw_close[i]);
      assert_non_null (strstr (f->resp[i].body, "\"payload_too_large\""));
   }
   assert_true (f->got[4]);
   assert_int_equal (f->resp[4].status, 100);
   assert_int_equal (f->resp[5].status, 201);
   assert_string_equal (f->resp[5].body, "abc");
   assert_int_equal (f->handler_calls, 0);
   fixture_destroy (f);
}

static void
c_chunked_echo (fixture_t *f)
{
   cli_t c;
   if (cli_connect (&c, f->port)) {
      static const char req[] = "POST /echo HTTP/1.1\r\nContent-Type: text/x\r\n"
                                "Transfer-Encoding: chunked\r\n\r\n"
                                "5\r\nhello\r\n6\r\n w\0rld\r\n0\r\n\r\n";
      f->got[0] = cli_send (&c, req, sizeof req - 1) && cli_read_response (&c, &f->resp[0]);
      cli_close (&c);
   }
}

static void
test_chunked_request_body (void **state)
{
   fixture_t *f = fixture_new (NULL);
   fixture_run_client (f, c_chunked_echo);
   assert_true (f->got[0]);
   assert_int_equal (f->resp[0].status, 201);
   assert_string_equal (resp_header (&f->resp[0], "Content-Type"), "text/x");
   assert_string_equal (resp_header (&f->resp[0], "X-Body-Length"), "set");
   assert_int_equal (f->resp[0].body_len, 11);
   assert_memory_equal (f->resp[0].body, "hello w\0rld", 11);
   fixture_destroy (f);
}

static void
c_huge_headers (fixture_t *f)
{
   cli_t c;
   if (cli_connect (&c, f->port)) {
      char *h = malloc (20000);
      memset (h, 'v', 20000);
      bool ok = cli_send_str (&c, "GET /hello HTTP/1.1\r\nX-Big: ");
      /* The server may close mid-send: only the response matters. */
      if (ok) {
         cli_send (&c, h, 20000);
         cli_send_str (&c, "\r\n\r\n");
      }
      f->got[0] = cli_read_response (&c, &f->resp[0]);
      f->saw_close[0] = cli_sees_close (&c);
      free (h);
      cli_close (&c);
   }
}

static void
test_huge_headers_431 (void **state)
{
   fixture_t *f = fixture_new (NULL);
   fixture_run_client (f, c_huge_headers);
   assert_true (f->got[0]);
   assert_int_equal (f->resp[0].status, 431);
   assert_true (f->saw_close[0]);
   assert_int_equal (f->handler_calls, 0);
   fixture_destroy (f);
}

static void
c_slowloris (fixture_t *f)
{
   cli_t c;
   if (cli_connect (&c, f->port)) {
      uint64_t t0 = tk_test_now_ms ();
      cli_send_str (&c, "GET /hel");
      f->got[0] = cli_read_response (&c, &f->resp[0]);
      f->elapsed_ms = tk_test_now_ms () - t0;
      f->saw_close[0] = cli_sees_close (&c);
      cli_close (&c);
   }
}

static void
test_slow_client_408 (void **state)
{
   tk_http_options_t o = {.header_timeout_ms = 300};
   fixture_t *f = fixture_new (&o);
   fixture_run_client (f, c_slowloris);
   assert_true (f->got[0]);
   assert_int_equal (f->resp[0].status, 408);
   assert_true (f->saw_close[0]);
   assert_true (f->elapsed_ms >= 250);
   assert_true (f->elapsed_ms < 2000);
   assert_int_equal (f->hook_last_status, 408);
   fixture_destroy (f);
}

static void
c_errors (fixture_t *f)
{
   cli_t c;
   static const char *reqs[] = {
      "GET /a b c HTTP/1.1\r\n\r\n",                      /* 0: malformed line */
      "GET /nope HTTP/1.1\r\n\r\n",                       /* 1: 404 */
      "DELETE /hello HTTP/1.1\r\nContent-Length: 0\r\n\r\n",  /* 2: 405 */
      "CONNECT x:1 HTTP/1.1\r\n\r\n",                    /* 3: never served */
      "GET /hello HTTP/1.1\r\nBad Header\r\n\r\n",        /* 4: malformed header */
      "GET /api/tickets/a%00b HTTP/1.1\r\n\r\n",          /* 5: NUL in a param */
      "GET /search?q=%zz HTTP/1.1\r\n\r\n",               /* 6: bad query escape */
   };
   for (int i = 0; i < 7; i++) {
      if (cli_connect (&c, f->port)) {
         f->got[i] = cli_send_str (&c, reqs[i]) && cli_read_response (&c, &f->resp[i]);
         cli_close (&c);
      }
   }
}

static void
test_errors (void **state)
{
   fixture_t *f = fixture_new (NULL);
   fixture_run_client (f, c_errors);
   int want[] = {400, 404, 405, 501, 400, 400, 400};
   for (int i = 0; i < 7; i++) {
      assert_true (f->got[i]);
      assert_int_equal (f->resp[i].status, want[i]);
      cJSON *j = cJSON_Parse (f->resp[i].body);
      assert_non_null (j);
      assert_non_null (cJSON_GetObjectItem (cJSON_GetObjectItem (j, "error"), "code"));
      cJSON_Delete (j);
   }
   assert_string_equal (resp_header (&f->resp[2], "Allow"), "GET, HEAD");
   assert_non_null (strstr (f->resp[1].body, "\"not_found\""));
   assert_non_null (strstr (f->resp[6].body, "\"field\":\"query\""));
   fixture_destroy (f);
}

static void
c_params_query (fixture_t *f)
{
   cli_t c;
   if (cli_connect (&c, f->port)) {
      f->got[0] = cli_send_str (&c, "GET /api/tickets/TICKET%2D246%2Fx%20y HTTP/1.1\r\n\r\n") &&
                  cli_read_response (&c, &f->resp[0]);
      f->got[1] = cli_send_str (&c, "GET /search?tag=SSO&q=a+b%26c&tag=API%2FSDK&&tag= "
                                    "HTTP/1.1\r\n\r\n") &&
                  cli_read_response (&c, &f->resp[1]);
      f->got[2] = cli_send_str (&c, "GET /search HTTP/1.1\r\n\r\n") &&
                  cli_read_response (&c, &f->resp[2]);
      cli_close (&c);
   }
}

static void
test_params_and_query (void **state)
{
   fixture_t *f = fixture_new (NULL);
   fixture_run_client (f, c_params_query);
   assert_true (f->got[0] && f->got[1] && f->got[2]);
   assert_string_equal (f->resp[0].body, "{\"id\":\"TICKET-246/x y\",\"route\":\"/api/tickets/{id}\"}");
   assert_string_equal (f->resp[1].body,
                        "{\"tag\":[\"SSO\",\"API/SDK\",\"\"],\"q\":\"a b&c\",\"missing_is_null\":true}");
   assert_string_equal (f->resp[2].body, "{\"tag\":[],\"q\":\"(none)\",\"missing_is_null\":true}");
   assert_string_equal (resp_header (&f->resp[0], "Content-Type"), "application/json");
   fixture_destroy (f);
}

static void
c_async (fixture_t *f)
{
   cli_t c;
   if (cli_connect (&c, f->port)) {
      uint64_t t0 = tk_test_now_ms ();
      f->got[0] = cli_send_str (&c, "GET /slow HTTP/1.1\r\n\r\n") &&
                  cli_read_response (&c, &f->resp[0]);
      f->elapsed_ms = tk_test_now_ms () - t0;
      cli_close (&c);
   }
}

static void
test_async_response (void **state)
{
   fixture_t *f = fixture_new (NULL);
   fixture_run_client (f, c_async);
   assert_true (f->got[0]);
   assert_int_equal (f->resp[0].status, 200);
   assert_string_equal (f->resp[0].body, "late");
   assert_true (f->elapsed_ms >= 150);
   assert_int_equal (f->async_rc, 0);
   assert_false (f->async_gone);
   fixture_destroy (f);
}

static void
c_disconnect (fixture_t *f)
{
   cli_t c;
   if (cli_connect (&c, f->port)) {
      cli_send_str (&c, "GET /slow HTTP/1.1\r\n\r\n");
      /* Wait until the handler holds the request, then reset. */
      uint64_t deadline = tk_test_now_ms () + 5000;
      while (atomic_load (&f->handler_calls) == 0 && tk_test_now_ms () < deadline) {
         usleep (1000);
      }
      struct linger l = {1, 0};
      setsockopt (c.fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
      cli_close (&c);
   }
}

static void
test_client_gone_before_async_response (void **state)
{
   fixture_t *f = fixture_new (NULL);
   fixture_run_client (f, c_disconnect);
   assert_true (tk_test_run_until (&f->loop, &f->async_done, 5000));
   assert_true (f->async_gone);
   assert_int_equal (f->async_rc, UV_ECONNRESET);
   assert_int_equal (tk_http_server_connection_count (f->server), 0);
   assert_int_equal (f->hook_last_status, 200);
   fixture_destroy (f);
}

static void
c_stream (fixture_t *f)
{
   cli_t c;
   if (cli_connect (&c, f->port)) {
      f->got[0] = cli_send_str (&c, "GET /stream HTTP/1.1\r\n\r\n") &&
                  cli_read_response (&c, &f->resp[0]);
      /* The connection stays usable after a streamed response. */
      f->got[1] = cli_send_str (&c, GET_HELLO) && cli_read_response (&c, &f->resp[1]);
      cli_close (&c);
   }
}

static void
test_streaming_with_backpressure (void **state)
{
   fixture_t *f = fixture_new (NULL);
   f->stream_rows = 3000;
   fixture_run_client (f, c_stream);
   assert_true (f->got[0]);
   assert_true (f->resp[0].chunked);
   assert_null (resp_header (&f->resp[0], "Content-Length"));
   assert_int_equal (f->stream_errors, 0);
   assert_int_equal (f->stream_max_outstanding, 1);
   /* Every row arrived, in order. */
   const char *p = f->resp[0].body;
   int rows = 0;
   while (*p) {
      assert_int_equal (atoi (p), rows);
      const char *nl = strchr (p, '\n');
      assert_non_null (nl);
      p = nl + 1;
      rows++;
   }
   assert_int_equal (rows, 3000);
   assert_true (f->got[1]);
   assert_int_equal (f->resp[1].status, 200);
   fixture_destroy (f);
}

static void
c_graceful (fixture_t *f)
{
   cli_t idle, busy, late;
   if (!cli_connect (&idle, f->port) || !cli_connect (&busy, f->port)) {
      return;
   }
   f->got[0] = cli_send_str (&idle, GET_HELLO) && cli_read_response (&idle, &f->resp[0]);
   f->got[1] = cli_send_str (&busy, "GET /slow HTTP/1.1\r\n\r\n") &&
               cli_read_response (&busy, &f->resp[1]);
   f->saw_close[0] = cli_sees_close (&idle);
   f->saw_close[1] = cli_sees_close (&busy);
   f->connect_refused = !cli_connect (&late, f->port);
   cli_close (&late);
   cli_close (&idle);
   cli_close (&busy);
}

static void
test_graceful_close (void **state)
{
   fixture_t *f = fixture_new (NULL);
   f->close_in_handler = true;
   fixture_run_client (f, c_graceful);
   assert_true (f->got[0] && f->got[1]);
   assert_string_equal (f->resp[1].body, "late");
   assert_string_equal (resp_header (&f->resp[1], "Connection"), "close");
   assert_false (f->closed_before_response);
   assert_true (f->saw_close[0]);
   assert_true (f->saw_close[1]);
   assert_true (f->connect_refused);
   assert_true (tk_test_run_until (&f->loop, &f->closed, 5000));
   f->server = NULL;
   fixture_destroy (f);
}

static void
c_max_conns (fixture_t *f)
{
   cli_t a, b, c;
   if (!cli_connect (&a, f->port) || !cli_connect (&b, f->port)) {
      return;
   }
   /* Both are accepted and counted once they have been answered. */
   f->got[0] = cli_send_str (&a, GET_HELLO) && cli_read_response (&a, &f->resp[0]);
   f->got[1] = cli_send_str (&b, GET_HELLO) && cli_read_response (&b, &f->resp[1]);
   if (cli_connect (&c, f->port)) {
      f->got[2] = cli_read_response (&c, &f->resp[2]);
      f->saw_close[2] = cli_sees_close (&c);
      cli_close (&c);
   }
   /* A slot frees up when one closes. */
   cli_close (&a);
   uint64_t deadline = tk_test_now_ms () + 5000;
   while (tk_test_now_ms () < deadline) {
      cli_t d;
      if (!cli_connect (&d, f->port)) {
         break;
      }
      bool ok = cli_send_str (&d, GET_HELLO) && cli_read_response (&d, &f->resp[3]);
      cli_close (&d);
      if (ok && f->resp[3].status == 200) {
         f->got[3] = true;
         break;
      }
      resp_free (&f->resp[3]);
      usleep (20000);
   }
   cli_close (&b);
}

static void
test_max_connections_503 (void **state)
{
   tk_http_options_t o = {.max_connections = 2};
   fixture_t *f = fixture_new (&o);
   fixture_run_client (f, c_max_conns);
   assert_true (f->got[0] && f->got[1] && f->got[2]);
   assert_int_equal (f->resp[0].status, 200);
   assert_int_equal (f->resp[1].status, 200);
   assert_int_equal (f->resp[2].status, 503);
   assert_true (f->saw_close[2]);
   assert_true (f->got[3]);
   fixture_destroy (f);
}

static void
c_health (fixture_t *f)
{
   cli_t c;
   if (cli_connect (&c, f->port)) {
      f->got[0] = cli_send_str (&c, "GET /healthz HTTP/1.1\r\n\r\n") &&
                  cli_read_response (&c, &f->resp[0]);
      f->got[1] = cli_send_str (&c, "GET /readyz HTTP/1.1\r\n\r\n") &&
                  cli_read_response (&c, &f->resp[1]);
      f->got[2] = cli_send_str (&c, "GET /metrics HTTP/1.1\r\n\r\n") &&
                  cli_read_response (&c, &f->resp[2]);
      cli_close (&c);
   }
}

static void
test_health_routes (void **state)
{
   fixture_t *f = fixture_new (NULL);
   fixture_run_client (f, c_health);
   assert_true (f->got[0] && f->got[1] && f->got[2]);
   assert_int_equal (f->resp[0].status, 200);
   assert_string_equal (f->resp[0].body, "{\"status\":\"ok\"}");
   assert_int_equal (f->resp[1].status, 503);
   assert_non_null (strstr (f->resp[1].body, "\"failed\":\"mongo\""));
   assert_int_equal (f->resp[2].status, 200);
   assert_string_equal (resp_header (&f->resp[2], "Content-Type"),
                        "text/plain; version=0.0.4; charset=utf-8");
   assert_non_null (strstr (f->resp[2].body, "triage_http_requests_total{route=\"/healthz\","
                                             "method=\"GET\",code=\"2xx\"} 1"));
   assert_non_null (strstr (f->resp[2].body, "route=\"/readyz\",method=\"GET\",code=\"5xx\"} 1"));
   fixture_destroy (f);
}


/* --- strict parsing (issue 14, item 9) ------------------------------------- */

/* Each is answered 400 (or as given) and nothing after it: the requests
 * http-parser alone accepted, some hiding a second request. */
static const struct {
   const char *req;
   int status;
} strict_cases[] = {
   {"POST /echo HTTP/1.1\r\nContent-Length : 5\r\n\r\nhelloGET /hello HTTP/1.1\r\n\r\n", 400},
   {"GET /hello HTTP/1.1\r\nX: a\r\n b\r\n\r\nGET /hello HTTP/1.1\r\n\r\n", 400},
   {"GET /hello HTTP/1.1\nHost: x\n\nGET /hello HTTP/1.1\r\n\r\n", 400},
   {"GET /hello\r\n\r\n", 400},
   {"GARBAGE\r\n\r\n", 400},
   {"POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcXX0\r\n\r\n"
    "GET /hello HTTP/1.1\r\n\r\n", 400},
   {"POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: a\r\n b\r\n\r\n"
    "GET /hello HTTP/1.1\r\n\r\n", 400},
   {"GET /hello HTTP/2.0\r\n\r\n", 505},
   {"POST /echo HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", 501},
   /* Methods no route of the path serves: 405 with Allow, from the head
    * alone (the announced body never comes), for tokens http-parser does
    * not know too (QUERY); an unknown token on an unknown path: 404. */
   {"QUERY /hello HTTP/1.1\r\n\r\n", 405},
   {"QUERY /nope HTTP/1.1\r\n\r\n", 404},
   {"PATCH /hello HTTP/1.1\r\nContent-Length: 100\r\n\r\n", 405},
   {"PUT /hello HTTP/1.1\r\nContent-Length: 100\r\n\r\n", 405},
   {"TRACE /hello HTTP/1.1\r\n\r\n", 405},
   {"CONNECT 127.0.0.1:80 HTTP/1.1\r\n\r\n", 501},
};
#define N_STRICT (sizeof strict_cases / sizeof strict_cases[0])

static resp_t strict_resp[N_STRICT];
static bool strict_got[N_STRICT], strict_closed[N_STRICT];

static void
c_strict (fixture_t *f)
{
   for (size_t i = 0; i < N_STRICT; i++) {
      cli_t c;
      if (cli_connect (&c, f->port)) {
         /* The body a head announces is never sent: the answer must come
          * from the head alone. */
         strict_got[i] = cli_send_str (&c, strict_cases[i].req) &&
                         cli_read_response (&c, &strict_resp[i]);
         strict_closed[i] = cli_sees_close (&c);
         cli_close (&c);
      }
   }
}

static void
test_strict_parsing (void **state)
{
   fixture_t *f = fixture_new (NULL);
   fixture_run_client (f, c_strict);
   for (size_t i = 0; i < N_STRICT; i++) {
      if (!strict_got[i] || strict_resp[i].status != strict_cases[i].status ||
          !strict_closed[i]) {
         fail_msg ("case %zu: got %d (answered %d, closed %d), want %d then close", i,
                   strict_resp[i].status, strict_got[i], strict_closed[i],
                   strict_cases[i].status);
      }
      assert_non_null (strstr (strict_resp[i].body, "\"error\""));
      resp_free (&strict_resp[i]);
   }
   assert_int_equal (f->handler_calls, 0);
   fixture_destroy (f);
}

static void
c_methods (fixture_t *f)
{
   cli_t c;
   /* 405 with Allow before the announced body, which never comes. */
   if (cli_connect (&c, f->port)) {
      f->got[0] = cli_send_str (&c, "DELETE /hello HTTP/1.1\r\nContent-Length: 5000\r\n\r\n") &&
                  cli_read_response (&c, &f->resp[0]);
      f->saw_close[0] = cli_sees_close (&c);
      cli_close (&c);
   }
   /* Without a body the connection stays open after a 404 or 405. */
   if (cli_connect (&c, f->port)) {
      f->got[1] = cli_send_str (&c, "GET /nope HTTP/1.1\r\n\r\n") &&
                  cli_read_response (&c, &f->resp[1]) &&
                  cli_send_str (&c, "OPTIONS /hello HTTP/1.1\r\n\r\n") &&
                  cli_read_response (&c, &f->resp[2]) && cli_send_str (&c, GET_HELLO) &&
                  cli_read_response (&c, &f->resp[3]);
      cli_close (&c);
   }
   /* 404 for an unknown path with a huge body announced, not read. */
   if (cli_connect (&c, f->port)) {
      f->got[4] = cli_send_str (&c, "POST /nope HTTP/1.1\r\nContent-Length: 40000000\r\n\r\n") &&
                  cli_read_response (&c, &f->resp[4]);
      f->saw_close[4] = cli_sees_close (&c);
      cli_close (&c);
   }
}

static void
test_404_405_before_the_body (void **state)
{
   fixture_t *f = fixture_new (NULL);
   fixture_run_client (f, c_methods);
   assert_true (f->got[0] && f->got[1] && f->got[4]);
   assert_int_equal (f->resp[0].status, 405);
   assert_string_equal (resp_header (&f->resp[0], "Allow"), "GET, HEAD");
   assert_true (f->saw_close[0]);
   assert_int_equal (f->resp[1].status, 404);
   assert_int_equal (f->resp[2].status, 204);
   assert_string_equal (resp_header (&f->resp[2], "Allow"), "GET, HEAD");
   assert_int_equal (f->resp[3].status, 200);
   assert_int_equal (f->resp[4].status, 404);
   assert_true (f->saw_close[4]);
   fixture_destroy (f);
}

/* --- authentication before the body ---------------------------------------- */

static void
c_auth (fixture_t *f)
{
   cli_t c;
   /* 0: no key, 40 MB announced with 100-continue: 401 without a 100, and
    * the connection closes (the body is never read). */
   if (cli_connect (&c, f->port)) {
      f->got[0] = cli_send_str (&c, "POST /upload HTTP/1.1\r\nContent-Length: 40000000\r\n"
                                    "Expect: 100-continue\r\n\r\n") &&
                  cli_read_response_ex (&c, &f->resp[0], false, false);
      f->saw_close[0] = cli_sees_close (&c);
      cli_close (&c);
   }
   /* 1, 2: a slow key check that passes: the 100 comes only after it. */
   if (cli_connect (&c, f->port)) {
      uint64_t t0 = tk_test_now_ms ();
      f->got[1] = cli_send_str (&c, "POST /upload HTTP/1.1\r\nContent-Length: 3\r\n"
                                    "Authorization: Bearer slow-operator\r\n"
                                    "Expect: 100-continue\r\n\r\n") &&
                  cli_read_response_ex (&c, &f->resp[1], false, false);
      f->elapsed_ms = tk_test_now_ms () - t0;
      f->got[2] = cli_send_str (&c, "abc") && cli_read_response (&c, &f->resp[2]);
      cli_close (&c);
   }
   /* 3: a slow key check that fails: 401, never a 100. */
   if (cli_connect (&c, f->port)) {
      f->got[3] = cli_send_str (&c, "POST /upload HTTP/1.1\r\nContent-Length: 3\r\n"
                                    "Authorization: Bearer slow-bad\r\n"
                                    "Expect: 100-continue\r\n\r\n") &&
                  cli_read_response_ex (&c, &f->resp[3], false, false);
      f->saw_close[3] = cli_sees_close (&c);
      cli_close (&c);
   }
   /* 4: a role too low: 403 before the body. */
   if (cli_connect (&c, f->port)) {
      f->got[4] = cli_send_str (&c, "POST /upload HTTP/1.1\r\nContent-Length: 40000000\r\n"
                                    "Authorization: Bearer viewer\r\n\r\n") &&
                  cli_read_response (&c, &f->resp[4]);
      cli_close (&c);
   }
   /* 5: per-route limit: 2 KB is over the JSON route's 1 KB, answered 413
    * as soon as the head says so; 6: no key on the same request is 401
    * first (nothing is told before the key is checked). */
   if (cli_connect (&c, f->port)) {
      f->got[5] = cli_send_str (&c, "POST /json HTTP/1.1\r\nContent-Length: 2048\r\n"
                                    "Authorization: Bearer viewer\r\n\r\n") &&
                  cli_read_response (&c, &f->resp[5]);
      f->saw_close[5] = cli_sees_close (&c);
      cli_close (&c);
   }
   if (cli_connect (&c, f->port)) {
      f->got[6] = cli_send_str (&c, "POST /json HTTP/1.1\r\nContent-Length: 2048\r\n\r\n") &&
                  cli_read_response (&c, &f->resp[6]);
      cli_close (&c);
   }
   /* 7: the same 2 KB on the upload route (its limit is max_body_bytes)
    * with an operator key; the identity reaches the handler. */
   if (cli_connect (&c, f->port)) {
      char body[2048];
      memset (body, 'u', sizeof body);
      f->got[7] = cli_send_str (&c, "POST /upload HTTP/1.1\r\nContent-Length: 2048\r\n"
                                    "Content-Type: text/x\r\n"
                                    "Authorization: Bearer operator\r\n\r\n") &&
                  cli_send (&c, body, sizeof body) && cli_read_response (&c, &f->resp[7]);
      cli_close (&c);
   }
}

static void
test_key_checked_before_the_body (void **state)
{
   tk_http_options_t o = {.json_body_bytes = 1024, .max_body_bytes = 64 * 1024};
   fixture_t *f = fixture_new (&o);
   fixture_run_client (f, c_auth);
   for (int i = 0; i < 8; i++) {
      if (!f->got[i]) {
         fail_msg ("no answer to request %d", i);
      }
   }
   assert_int_equal (f->resp[0].status, 401);
   assert_true (f->saw_close[0]);
   assert_int_equal (f->resp[1].status, 100);
   assert_true (f->elapsed_ms >= 150);
   assert_int_equal (f->resp[2].status, 201);
   assert_string_equal (f->resp[2].body, "abc");
   assert_int_equal (f->resp[3].status, 401);
   assert_true (f->saw_close[3]);
   assert_int_equal (f->resp[4].status, 403);
   assert_int_equal (f->resp[5].status, 413);
   assert_true (f->saw_close[5]);
   assert_int_equal (f->resp[6].status, 401);
   assert_int_equal (f->resp[7].status, 201);
   assert_int_equal (f->resp[7].body_len, 2048);
   /* The authenticator never saw a body byte. */
   assert_int_equal (f->body_at_auth, 0);
   fixture_destroy (f);
}

static void
c_identity (fixture_t *f)
{
   cli_t c;
   if (cli_connect (&c, f->port)) {
      f->got[0] =
         cli_send_str (&c, "GET /private HTTP/1.1\r\nAuthorization: Bearer viewer\r\n\r\n") &&
         cli_read_response (&c, &f->resp[0]);
      /* Refused without a body: the connection stays usable. */
      f->got[1] = cli_send_str (&c, "GET /private HTTP/1.1\r\n\r\n") &&
                  cli_read_response (&c, &f->resp[1]) && cli_send_str (&c, GET_HELLO) &&
                  cli_read_response (&c, &f->resp[2]);
      cli_close (&c);
   }
}

static void
test_identity_reaches_the_handler (void **state)
{
   fixture_t *f = fixture_new (NULL);
   fixture_run_client (f, c_identity);
   assert_true (f->got[0] && f->got[1]);
   assert_int_equal (f->resp[0].status, 200);
   assert_int_equal (f->resp[1].status, 401);
   assert_int_equal (f->resp[2].status, 200);
   assert_int_equal (f->last_role, 0); /* the last, /hello, is open */
   assert_string_equal (f->last_client, "127.0.0.1");
   fixture_destroy (f);
}

/* --- clients: the per-address cap, the head timeout, X-Forwarded-For ------- */

static void
c_client_cap (fixture_t *f)
{
   enum { N = 12 };
   cli_t idle[N];
   int opened = 0, refused = 0;
   /* One address opens more sockets than it may hold and sends nothing. */
   for (int i = 0; i < N; i++) {
      if (!cli_connect_from (&idle[i], f->port, "127.0.0.2")) {
         continue;
      }
      opened++;
   }
   /* Another client is served all the same. */
   cli_t c;
   if (cli_connect (&c, f->port)) {
      f->got[0] = cli_send_str (&c, GET_HELLO) && cli_read_response (&c, &f->resp[0]);
      cli_close (&c);
   }
   for (int i = 0; i < opened; i++) {
      resp_t r;
      struct timeval tv = {0, 200 * 1000};
      setsockopt (idle[i].fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      if (cli_read_response (&idle[i], &r)) {
         refused += r.status == 503;
         resp_free (&r);
      }
   }
   f->stream_rows = refused;
   /* Those let in are closed after the head timeout, silently. */
   uint64_t t0 = tk_test_now_ms ();
   int closed = 0;
   for (int i = 0; i < opened; i++) {
      struct timeval tv = {3, 0};
      setsockopt (idle[i].fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      char b[64];
      ssize_t n = recv (idle[i].fd, b, sizeof b, 0);
      closed += n == 0 || (n < 0 && errno == ECONNRESET);
      cli_close (&idle[i]);
   }
   f->elapsed_ms = tk_test_now_ms () - t0;
   f->stream_next = closed;
   f->stream_errors = opened;
}

static void
test_client_cap_and_head_timeout (void **state)
{
   tk_http_options_t o = {.max_client_connections = 4, .header_timeout_ms = 500};
   fixture_t *f = fixture_new (&o);
   fixture_run_client (f, c_client_cap);
   assert_int_equal (f->stream_errors, 12);
   assert_int_equal (f->stream_rows, 8); /* all past the cap of 4 */
   assert_true (f->got[0]);
   assert_int_equal (f->resp[0].status, 200);
   assert_int_equal (f->stream_next, 12);
   assert_true (f->elapsed_ms < 2500);
   fixture_destroy (f);
}

static void
c_xff (fixture_t *f)
{
   static const struct {
      const char *from, *xff;
   } cases[] = {
      {NULL, "198.51.100.1"},                    /* trusted peer: believed */
      {NULL, "203.0.113.9, 198.51.100.2, 127.0.0.1"}, /* right-most untrusted */
      {"127.0.0.2", "198.51.100.3"},             /* untrusted peer: ignored */
      {NULL, NULL},                              /* no header: the peer */
   };
   for (int i = 0; i < 4; i++) {
      cli_t c;
      if (!cli_connect_from (&c, f->port, cases[i].from)) {
         continue;
      }
      char req[256];
      snprintf (req, sizeof req, "GET /hello HTTP/1.1\r\n%s%s%s\r\n",
                cases[i].xff ? "X-Forwarded-For: " : "", cases[i].xff ? cases[i].xff : "",
                cases[i].xff ? "\r\n" : "");
      f->got[i] = cli_send_str (&c, req) && cli_read_response (&c, &f->resp[i]);
      cli_close (&c);
   }
}

static void
test_forwarded_for_only_from_trusted_proxies (void **state)
{
   tk_http_options_t o = {.trusted_proxies = "127.0.0.1"};
   fixture_t *f = fixture_new (&o);
   fixture_run_client (f, c_xff);
   static const char *const want[] = {"198.51.100.1", "198.51.100.2", "127.0.0.2", "127.0.0.1"};
   for (int i = 0; i < 4; i++) {
      assert_true (f->got[i]);
      const char *from = strstr (f->resp[i].body, " from ");
      assert_non_null (from);
      assert_string_equal (from + 6, want[i]);
   }
   fixture_destroy (f);
}

static void
c_headers (fixture_t *f)
{
   cli_t c;
   if (cli_connect (&c, f->port)) {
      f->got[0] = cli_send_str (&c, "GET /api/tickets/9 HTTP/1.1\r\n\r\n") &&
                  cli_read_response (&c, &f->resp[0]);
      f->got[1] = cli_send_str (&c, "GET /nope HTTP/1.1\r\n\r\n") &&
                  cli_read_response (&c, &f->resp[1]);
      cli_close (&c);
   }
   if (cli_connect (&c, f->port)) {
      f->got[2] = cli_send_str (&c, "BREW /x HTTP/1.1\r\n\r\n") &&
                  cli_read_response (&c, &f->resp[2]);
      cli_close (&c);
   }
}

static void
test_json_responses_are_not_sniffed_or_stored (void **state)
{
   fixture_t *f = fixture_new (NULL);
   fixture_run_client (f, c_headers);
   for (int i = 0; i < 3; i++) {
      assert_true (f->got[i]);
      assert_string_equal (resp_header (&f->resp[i], "X-Content-Type-Options"), "nosniff");
      assert_string_equal (resp_header (&f->resp[i], "Cache-Control"), "no-store");
   }
   fixture_destroy (f);
}

int
main (void)
{
   const struct CMUnitTest tests[] = {
      cmocka_unit_test (test_strict_parsing),
      cmocka_unit_test (test_404_405_before_the_body),
      cmocka_unit_test (test_key_checked_before_the_body),
      cmocka_unit_test (test_identity_reaches_the_handler),
      cmocka_unit_test (test_client_cap_and_head_timeout),
      cmocka_unit_test (test_forwarded_for_only_from_trusted_proxies),
      cmocka_unit_test (test_json_responses_are_not_sniffed_or_stored),
      cmocka_unit_test (test_keep_alive),
      cmocka_unit_test (test_pipelining),
      cmocka_unit_test (test_body_limits),
      cmocka_unit_test (test_chunked_request_body),
      cmocka_unit_test (test_huge_headers_431),
      cmocka_unit_test (test_slow_client_408),
      cmocka_unit_test (test_errors),
      cmocka_unit_test (test_params_and_query),
      cmocka_unit_test (test_async_response),
      cmocka_unit_test (test_client_gone_before_async_response),
      cmocka_unit_test (test_streaming_with_backpressure),
      cmocka_unit_test (test_graceful_close),
      cmocka_unit_test (test_max_connections_503),
      cmocka_unit_test (test_health_routes),
   };
   return cmocka_run_group_tests (tests, NULL, NULL);
}
