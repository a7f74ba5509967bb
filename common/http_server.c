/* http_server.c - connections, request parsing and the server's lifetime.
 *
 * A request is taken in two phases (see the steps in http_server.h):
 *
 * - The head. Bytes are checked line by line by http_strict.c as they
 *   arrive and reach http-parser only once the whole head has passed, so
 *   the parser never sees a malformed or ambiguous head. Then, still before
 *   reading on: the client address, the route, the authenticator (while it
 *   decides the connection is not read), the route's body limit, and
 *   "100 Continue".
 * - The body. A chunked body's framing is checked by http_strict.c before
 *   the parser decodes it; a Content-Length body is counted. Either way the
 *   parser is fed exactly the request's bytes, and stops at its end.
 *
 * One connection handles one request at a time: what is pipelined behind a
 * request stays buffered in conn->in until the response has been handed to
 * the kernel. A connection that must close after its response sends FIN
 * first and drains what the client still sends for a moment ("lingering
 * close"), so the client reads the response instead of a reset.
 *
 * Responses are built in http_response.c; both files share http_internal.h.
 */
#include "http_internal.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "hash.h"

#define TK_HTTP_READ_HIGH_WATER (256u * 1024u) /* stop reading above this */
#define TK_HTTP_LINGER_MS 1000u

static void conn_process_input (tk_http_conn_t *conn);

/* --- per-request memory ------------------------------------------------- */

typedef union pool_block {
   union pool_block *next;
   max_align_t align;
} pool_block_t;

void *
tk_http_request_alloc (tk_http_request_t *req, size_t size)
{
   if (size > SIZE_MAX - sizeof (pool_block_t)) {
      return NULL;
   }
   pool_block_t *b = malloc (sizeof *b + size);
   if (!b) {
      return NULL;
   }
   b->next = req->pool;
   req->pool = b;
   return b + 1;
}

static tk_http_request_t *
request_new (tk_http_conn_t *conn)
{
   tk_http_request_t *req = calloc (1, sizeof *req);
   if (!req) {
      return NULL;
   }
   req->server = conn->server;
   req->conn = conn;
   req->start_ns = uv_hrtime ();
   memcpy (req->client, conn->peer_ip, sizeof req->client);
   memcpy (req->peer, conn->peer, sizeof req->peer);
   conn->server->live_requests++;
   return req;
}

/* Frees req and everything it owns; may finish the server's shutdown. */
void
tk_http__request_free (tk_http_request_t *req)
{
   tk_http_server_t *server = req->server;
   if (req->conn && req->conn->req == req) {
      req->conn->req = NULL;
   }
   pool_block_t *b = req->pool;
   while (b) {
      pool_block_t *next = b->next;
      free (b);
      b = next;
   }
   tk_buf_destroy (&req->url);
   tk_buf_destroy (&req->headers);
   tk_buf_destroy (&req->body);
   tk_buf_destroy (&req->resp_headers);
   tk_http_match_cleanup (&req->match);
   tk_http_query_cleanup (&req->query);
   free (req);
   server->live_requests--;
   tk_http__server_maybe_closed (server);
}

/* --- connections per client address ------------------------------------- */

static tk_http_client_t **
client_slot (tk_http_server_t *server, const char *addr)
{
   tk_http_client_t **p = &server->clients[tk_hash_fnv1a_str (addr) % TK_HTTP_CLIENT_BUCKETS];
   while (*p && strcmp ((*p)->addr, addr) != 0) {
      p = &(*p)->next;
   }
   return p;
}

/* Counts conn against addr (releasing what it counted against before).
 * false when addr already holds max_client_connections (conn then counts
 * against no one) or out of memory. */
static bool
client_attach (tk_http_conn_t *conn, const char *addr)
{
   tk_http_server_t *server = conn->server;
   if (conn->client && strcmp (conn->client->addr, addr) == 0) {
      return true;
   }
   if (conn->client) {
      tk_http_client_t **old = client_slot (server, conn->client->addr);
      if (--conn->client->conns == 0) {
         *old = conn->client->next;
         free (conn->client);
      }
      conn->client = NULL;
   }
   tk_http_client_t **slot = client_slot (server, addr);
   tk_http_client_t *c = *slot;
   if (!c) {
      if (!(c = calloc (1, sizeof *c))) {
         return false;
      }
      snprintf (c->addr, sizeof c->addr, "%s", addr);
      *slot = c;
   }
   if (c->conns >= server->opts.max_client_connections) {
      return false;
   }
   c->conns++;
   conn->client = c;
   return true;
}

static void
client_detach (tk_http_conn_t *conn)
{
   if (conn->client) {
      tk_http_client_t **slot = client_slot (conn->server, conn->client->addr);
      if (--conn->client->conns == 0) {
         *slot = conn->client->next;
         free (conn->client);
      }
      conn->client = NULL;
   }
}

/* --- connection lifetime ------------------------------------------------ */

static void
conn_handle_closed (uv_handle_t *h)
{
   tk_http_conn_t *conn = h->data;
   if (--conn->open_handles > 0) {
      return;
   }
   tk_http_server_t *server = conn->server;
   tk_buf_destroy (&conn->in);
   tk_buf_destroy (&conn->hfield);
   tk_buf_destroy (&conn->hvalue);
   if (conn->prev) {
      conn->prev->next = conn->next;
   } else {
      server->conns = conn->next;
   }
   if (conn->next) {
      conn->next->prev = conn->prev;
   }
   server->n_conns--;
   if (conn->counted_active) {
      server->n_active--;
   }
   client_detach (conn);
   free (conn);
   tk_http__server_maybe_closed (server);
}

/* Closes at once. A request being parsed is freed; one a handler (or the
 * authenticator) holds is only detached (its holder still has to answer,
 * which then sends nothing). Pending writes call back with UV_ECANCELED
 * before the handles' close callbacks, so conn outlives them. */
void
tk_http__conn_close (tk_http_conn_t *conn)
{
   if (conn->closing) {
      return;
   }
   conn->closing = true;
   tk_http_request_t *req = conn->req;
   conn->req = NULL;
   if (req) {
      req->conn = NULL;
      if (!req->dispatched) {
         tk_http__request_free (req);
      }
   }
   uv_close ((uv_handle_t *) &conn->timer, conn_handle_closed);
   uv_close ((uv_handle_t *) &conn->tcp, conn_handle_closed);
}

static void
conn_timer_cb (uv_timer_t *t)
{
   tk_http_conn_t *conn = t->data;
   if (conn->state == TK_CONN_READING) {
      /* A request started but did not arrive in time (slowloris). */
      tk_http__conn_fail (conn, 408, NULL);
   } else if (conn->state == TK_CONN_IDLE || conn->state == TK_CONN_LINGER) {
      tk_http__conn_close (conn);
   }
}

static void
conn_start_timer (tk_http_conn_t *conn, uint64_t ms)
{
   uv_timer_start (&conn->timer, conn_timer_cb, ms, 0);
}

static void
shutdown_cb (uv_shutdown_t *sr, int status)
{
   tk_http_conn_t *conn = sr->data;
   if (status < 0 || conn->peer_eof) {
      tk_http__conn_close (conn);
   }
}

static void conn_read_cb (uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);
static void conn_alloc_cb (uv_handle_t *h, size_t suggested, uv_buf_t *buf);

static void
conn_read_start (tk_http_conn_t *conn)
{
   if (!conn->reading && !conn->peer_eof && !conn->closing) {
      if (uv_read_start ((uv_stream_t *) &conn->tcp, conn_alloc_cb, conn_read_cb) == 0) {
         conn->reading = true;
      }
   }
}

static void
conn_read_stop (tk_http_conn_t *conn)
{
   if (conn->reading) {
      uv_read_stop ((uv_stream_t *) &conn->tcp);
      conn->reading = false;
   }
}

/* Half-closes after the queued writes and drains input until the client
 * closes too or TK_HTTP_LINGER_MS pass. What is drained is dropped. */
static void
conn_linger (tk_http_conn_t *conn)
{
   if (conn->closing || conn->state == TK_CONN_LINGER) {
      return;
   }
   conn->state = TK_CONN_LINGER;
   tk_buf_reset (&conn->in);
   conn->shutdown.data = conn;
   if (uv_shutdown (&conn->shutdown, (uv_stream_t *) &conn->tcp, shutdown_cb) != 0) {
      tk_http__conn_close (conn);
      return;
   }
   conn_start_timer (conn, TK_HTTP_LINGER_MS);
   conn_read_start (conn);
}

/* The final write of a response has completed. */
void
tk_http__conn_response_finished (tk_http_conn_t *conn)
{
   if (conn->closing) {
      return;
   }
   if (conn->close_after || conn->server->closing) {
      conn_linger (conn);
      return;
   }
   conn->state = TK_CONN_IDLE;
   conn->in_body = false;
   conn->message_done = false;
   conn_start_timer (conn, conn->server->opts.idle_timeout_ms);
   conn_read_start (conn);
   conn_process_input (conn);
   if (!conn->closing && conn->peer_eof && conn->state == TK_CONN_IDLE) {
      tk_http__conn_close (conn); /* nothing more can arrive */
   }
}

/* --- reading ------------------------------------------------------------- */

static void
conn_alloc_cb (uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
   tk_http_conn_t *conn = h->data;
   tk_http_server_t *server = conn->server;
   /* The loop runs one read callback at a time, so one buffer serves all
    * connections; conn_read_cb copies what it keeps. While a head is
    * awaited, no more is read than a head may hold: what comes after it
    * (a body nobody has let in yet) stays in the kernel. */
   buf->base = server->read_buf;
   buf->len = sizeof server->read_buf;
   if ((conn->state == TK_CONN_IDLE || conn->state == TK_CONN_READING) && !conn->in_body) {
      size_t room = server->opts.max_header_bytes + 1;
      room = conn->in.len < room ? room - conn->in.len : 1;
      if (room < buf->len) {
         buf->len = room;
      }
   }
}

static void
conn_read_cb (uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
   tk_http_conn_t *conn = s->data;
   if (conn->closing) {
      return;
   }
   if (nread < 0) {
      conn_read_stop (conn);
      conn->peer_eof = true;
      if (nread == UV_EOF && (conn->state == TK_CONN_ACTIVE || conn->state == TK_CONN_SENDING)) {
         /* The client may have only half-closed: its response still goes
          * out, then the connection closes. */
         return;
      }
      tk_http__conn_close (conn);
      return;
   }
   if (nread == 0) {
      return;
   }
   if (conn->state == TK_CONN_LINGER) {
      return; /* drained and dropped */
   }
   if (!tk_buf_append (&conn->in, buf->base, (size_t) nread)) {
      tk_http__conn_close (conn);
      return;
   }
   if (conn->state != TK_CONN_IDLE && conn->state != TK_CONN_READING) {
      /* Pipelined input waits; stop reading if too much piles up. */
      if (conn->in.len > TK_HTTP_READ_HIGH_WATER) {
         conn_read_stop (conn);
      }
      return;
   }
   conn_process_input (conn);
}

/* --- feeding http-parser --------------------------------------------------- */

static int
map_parser_error (enum http_errno e)
{
   switch (e) {
   case HPE_HEADER_OVERFLOW:
      return 431;
   case HPE_INVALID_METHOD:
      return 501;
   default:
      return 400;
   }
}

/* Feeds len bytes of conn->in (already checked) to the parser and consumes
 * them. false when the parser refused them (the connection has been failed
 * then). Sets conn->message_done when the request ended within them. */
static bool
feed_parser (tk_http_conn_t *conn, size_t len)
{
   if (len == 0) {
      return true; /* http-parser reads a zero length as the end of input */
   }
   size_t n = http_parser_execute (&conn->parser, &conn->server->settings, conn->in.data, len);
   enum http_errno e = HTTP_PARSER_ERRNO (&conn->parser);
   if (conn->closing) {
      return false;
   }
   if (e == HPE_PAUSED) {
      http_parser_pause (&conn->parser, 0);
   } else if (e != HPE_OK) {
      tk_http__conn_fail (conn, conn->error_status ? conn->error_status : map_parser_error (e),
                          NULL);
      return false;
   }
   if (n != len) {
      /* The parser stopped before bytes the scanners put inside the
       * request: the two disagree about the framing, so neither is
       * believed. */
      tk_http__conn_fail (conn, 400, "the request's framing is ambiguous");
      return false;
   }
   tk_buf_consume (&conn->in, n);
   return true;
}

/* --- the head is complete ---------------------------------------------------- */

static size_t
body_limit_of (const tk_http_server_t *server, size_t max_body)
{
   if (max_body == TK_HTTP_BODY_LARGE) {
      return server->opts.max_body_bytes;
   }
   if (max_body == TK_HTTP_BODY_JSON) {
      return server->opts.json_body_bytes;
   }
   return max_body;
}

/* Answers req before its body is read, from the head's checks. The
 * connection closes after the answer when a body was announced (it is not
 * read: the lingering close drops it). */
static void
refuse_early (tk_http_request_t *req, int status, const char *code, const char *message)
{
   req->dispatched = true;
   tk_http_respond_error (req, status, code, message, NULL);
}

/* The body comes next (or the request is complete): let it in. */
static void
admit (tk_http_conn_t *conn)
{
   tk_http_request_t *req = conn->req;
   tk_http_server_t *server = conn->server;
   if (req->has_body && conn->head.has_length && conn->head.content_length > req->body_limit) {
      refuse_early (req, 413, "payload_too_large",
                    req->body_limit ? "the request body is larger than this route takes"
                                    : "this route takes no request body");
      return;
   }
   const char *expect = tk_http_request_header (req, "Expect");
   if (expect && !req->http10) {
      if (strcasecmp (expect, "100-continue") != 0) {
         refuse_early (req, 417, "expectation_failed", "only Expect: 100-continue is understood");
         return;
      }
      if (req->has_body && tk_http__write_raw (conn, "HTTP/1.1 100 Continue\r\n\r\n", false) != 0) {
         return; /* the connection is closed */
      }
   }
   if (conn->message_done) {
      conn->state = TK_CONN_ACTIVE;
      tk_http__dispatch (conn);
      return;
   }
   conn->state = TK_CONN_READING;
   conn->in_body = true;
   conn->body_left = conn->head.has_length ? conn->head.content_length : 0;
   tk_http_chunk_scan_init (&conn->chunk);
   conn_start_timer (conn, server->opts.request_timeout_ms);
   if (!conn->processing) {
      conn_read_start (conn);
      conn_process_input (conn);
   }
}

void
tk_http_grant (tk_http_request_t *req, int role, const char *principal)
{
   tk_http_conn_t *conn = req->conn;
   req->role = role;
   snprintf (req->principal, sizeof req->principal, "%s", principal ? principal : "");
   if (!conn) {
      tk_http__request_free (req); /* the client went away meanwhile */
      return;
   }
   int need = req->match.route ? req->match.route->access.min_role : 0;
   if (role < need) {
      refuse_early (req, 403, "forbidden", "the API key's role is not allowed on this route");
      return;
   }
   req->dispatched = false;
   admit (conn);
}

/* Where a trusted proxy's client is known only once a head has come: count
 * the connection against it. false when the connection was refused. */
static bool
resolve_client (tk_http_conn_t *conn)
{
   tk_http_server_t *server = conn->server;
   tk_http_request_t *req = conn->req;
   if (server->trusted.n == 0 || !tk_cidr_list_contains (&server->trusted, conn->peer_ip)) {
      return true; /* the peer is the client, counted at accept */
   }
   tk_buf_t xff = TK_BUF_INIT;
   bool ok = true;
   const char *p = req->headers.data;
   const char *end = p ? p + req->headers.len : NULL;
   while (ok && p && p < end) {
      const char *value = p + strlen (p) + 1;
      if (strcasecmp (p, "X-Forwarded-For") == 0) {
         ok = (xff.len == 0 || tk_buf_append (&xff, ",", 1)) && tk_buf_append_str (&xff, value);
      }
      p = value + strlen (value) + 1;
   }
   if (!ok) {
      tk_buf_destroy (&xff);
      tk_http__conn_fail (conn, 500, NULL);
      return false;
   }
   tk_client_addr_resolve (&server->trusted, conn->peer_ip, xff.len ? xff.data : NULL,
                           req->client);
   tk_buf_destroy (&xff);
   if (!client_attach (conn, req->client)) {
      tk_http__conn_fail (conn, 503, "too many connections from this client");
      return false;
   }
   return true;
}

/* The head has passed the scanner and the parser: client, route, sender,
 * body limit (see the steps in http_server.h). */
static void
head_complete (tk_http_conn_t *conn)
{
   tk_http_request_t *req = conn->req;
   tk_http_server_t *server = conn->server;
   if (!resolve_client (conn)) {
      return;
   }
   if (!req->url.data || req->url.data[0] != '/') {
      tk_http__conn_fail (conn, 400, "only origin-form request targets (\"/path\") are served");
      return;
   }
   const char *q = memchr (req->url.data, '?', req->url.len);
   req->path_len = q ? (size_t) (q - req->url.data) : req->url.len;
   if (!(req->path = tk_http_request_alloc (req, req->path_len + 1))) {
      tk_http__conn_fail (conn, 500, NULL);
      return;
   }
   memcpy (req->path, req->url.data, req->path_len);
   req->path[req->path_len] = '\0';
   req->has_body = conn->head.chunked || (conn->head.has_length && conn->head.content_length > 0);

   switch (tk_http_router_match (&server->router, req->method, req->url.data, req->path_len,
                                 &req->match)) {
   case TK_HTTP_MATCH_FOUND:
      break;
   case TK_HTTP_MATCH_NOMEM:
      refuse_early (req, 500, "internal", "out of memory");
      return;
   case TK_HTTP_MATCH_BAD_PATH:
      refuse_early (req, 400, "bad_request", "the path is not validly percent-encoded");
      return;
   case TK_HTTP_MATCH_NOT_FOUND:
      refuse_early (req, 404, "not_found", "no such resource");
      return;
   case TK_HTTP_MATCH_BAD_METHOD:
      tk_http__add_allow (req);
      if (req->method == HTTP_OPTIONS) {
         req->dispatched = true;
         tk_http_respond (req, 204, NULL, NULL, 0);
      } else {
         refuse_early (req, 405, "method_not_allowed",
                       "the resource does not support this method");
      }
      return;
   }
   const tk_http_access_t *access = &req->match.route->access;
   req->body_limit = body_limit_of (server, access->max_body);
   if (access->min_role <= 0 && !access->identify) {
      admit (conn);
      return;
   }
   if (!server->authenticate) {
      refuse_early (req, 500, "internal", "this route needs a key, and nothing checks keys");
      return;
   }
   /* The authenticator owns the request until it grants or answers; the
    * connection is not read meanwhile. */
   conn->state = TK_CONN_AUTH;
   uv_timer_stop (&conn->timer);
   conn_read_stop (conn);
   req->dispatched = true;
   server->authenticate (req, server->authenticate_ud);
}

/* A method some route serves (HEAD with GET; OPTIONS everywhere). */
static bool
method_implemented (const tk_http_server_t *server, int m)
{
   if (m < 0 || m == HTTP_CONNECT || m >= 64) {
      return false;
   }
   if (m == HTTP_OPTIONS || (server->methods >> m) & 1u) {
      return true;
   }
   return m == HTTP_HEAD && ((server->methods >> HTTP_GET) & 1u);
}

/* Takes the head from conn->in as far as it has come. */
static void
read_head (tk_http_conn_t *conn)
{
   tk_http_server_t *server = conn->server;
   if (conn->state == TK_CONN_IDLE) {
      conn->state = TK_CONN_READING;
      tk_http_head_scan_init (&conn->head);
      conn_start_timer (conn, server->opts.header_timeout_ms);
   }
   tk_http_scan_result_t r = tk_http_head_scan (&conn->head, conn->in.data, conn->in.len);
   if (r == TK_HTTP_SCAN_ERROR) {
      tk_http__conn_fail (conn, conn->head.status, conn->head.reason);
      return;
   }
   size_t head_len = r == TK_HTTP_SCAN_DONE ? conn->head.head_len : conn->in.len;
   if (head_len > server->opts.max_header_bytes) {
      tk_http__conn_fail (conn, conn->head.lines == 0 ? 414 : 431, NULL);
      return;
   }
   if (r == TK_HTTP_SCAN_MORE) {
      return;
   }
   /* A well-formed method no route serves: 501 (RFC 9110 9.1), also for
    * tokens http-parser does not know ("QUERY"), which it could not parse. */
   char method[32] = "";
   if (conn->head.method_len < sizeof method) {
      memcpy (method, conn->in.data + conn->head.method_off, conn->head.method_len);
      method[conn->head.method_len] = '\0';
   }
   if (!method_implemented (server, method[0] ? tk_http_method_from_name (method) : -1)) {
      tk_http__conn_fail (conn, 501, "the server does not implement this method");
      return;
   }
   if (!feed_parser (conn, head_len)) {
      return;
   }
   if (!conn->req) {
      tk_http__conn_fail (conn, 400, NULL); /* only empty lines: cannot happen */
      return;
   }
   head_complete (conn);
}

/* Takes body bytes from conn->in as far as they have come. */
static void
read_body (tk_http_conn_t *conn)
{
   tk_http_request_t *req = conn->req;
   size_t len = conn->in.len;
   if (conn->head.chunked) {
      size_t used = 0;
      tk_http_scan_result_t r = tk_http_chunk_scan (&conn->chunk, conn->in.data, len, &used);
      if (r == TK_HTTP_SCAN_ERROR) {
         tk_http__conn_fail (conn, 400, conn->chunk.reason);
         return;
      }
      if (conn->chunk.total > req->body_limit) {
         tk_http__conn_fail (conn, 413, req->body_limit ? NULL : "this route takes no body");
         return;
      }
      if (!feed_parser (conn, used)) {
         return;
      }
      if (r == TK_HTTP_SCAN_DONE && !conn->message_done) {
         tk_http__conn_fail (conn, 400, "the request's framing is ambiguous");
         return;
      }
   } else {
      size_t take = conn->body_left < len ? (size_t) conn->body_left : len;
      if (!feed_parser (conn, take)) {
         return;
      }
      conn->body_left -= take;
   }
   if (conn->message_done) {
      uv_timer_stop (&conn->timer);
      conn->state = TK_CONN_ACTIVE;
      conn->in_body = false;
      tk_http__dispatch (conn);
   }
}

static void
conn_process_input (tk_http_conn_t *conn)
{
   conn->processing = true;
   while (!conn->closing && conn->in.len > 0 &&
          (conn->state == TK_CONN_IDLE || conn->state == TK_CONN_READING)) {
      size_t before = conn->in.len;
      tk_http_conn_state_t state = conn->state;
      if (conn->in_body) {
         read_body (conn);
      } else {
         read_head (conn);
      }
      if (!conn->closing && conn->state == state && conn->in.len == before) {
         break; /* waiting for more input */
      }
   }
   conn->processing = false;
   if (!conn->closing && conn->in.len <= TK_HTTP_READ_HIGH_WATER &&
       (conn->state == TK_CONN_IDLE || conn->state == TK_CONN_READING)) {
      conn_read_start (conn);
   }
}

/* --- http-parser callbacks (fed only checked bytes) ------------------------ */

static tk_http_conn_t *
parser_conn (http_parser *p)
{
   return p->data;
}

static int
on_message_begin (http_parser *p)
{
   tk_http_conn_t *conn = parser_conn (p);
   if (!(conn->req = request_new (conn))) {
      conn->error_status = 500;
      return -1;
   }
   conn->in_value = false;
   conn->message_done = false;
   tk_buf_reset (&conn->hfield);
   tk_buf_reset (&conn->hvalue);
   return 0;
}

static int
on_url (http_parser *p, const char *at, size_t len)
{
   tk_http_conn_t *conn = parser_conn (p);
   if (!tk_buf_append (&conn->req->url, at, len)) {
      conn->error_status = 500;
      return -1;
   }
   return 0;
}

/* Moves the header collected so far into the request. */
static bool
commit_header (tk_http_conn_t *conn)
{
   tk_http_request_t *req = conn->req;
   bool ok = tk_buf_append (&req->headers, conn->hfield.data ? conn->hfield.data : "",
                            conn->hfield.len + 1) &&
             tk_buf_append (&req->headers, conn->hvalue.data ? conn->hvalue.data : "",
                            conn->hvalue.len + 1);
   tk_buf_reset (&conn->hfield);
   tk_buf_reset (&conn->hvalue);
   conn->in_value = false;
   return ok;
}

static int
on_header_field (http_parser *p, const char *at, size_t len)
{
   tk_http_conn_t *conn = parser_conn (p);
   if (conn->in_body) {
      return 0; /* a chunked body's trailer: not a header of the request */
   }
   if (conn->in_value && !commit_header (conn)) {
      conn->error_status = 500;
      return -1;
   }
   if (!tk_buf_append (&conn->hfield, at, len)) {
      conn->error_status = 500;
      return -1;
   }
   return 0;
}

static int
on_header_value (http_parser *p, const char *at, size_t len)
{
   tk_http_conn_t *conn = parser_conn (p);
   if (conn->in_body) {
      return 0;
   }
   conn->in_value = true;
   /* tk_buf_append with len 0 still makes data non-NULL for commit. */
   if (!tk_buf_append (&conn->hvalue, at, len)) {
      conn->error_status = 500;
      return -1;
   }
   return 0;
}

static int
on_headers_complete (http_parser *p)
{
   tk_http_conn_t *conn = parser_conn (p);
   tk_http_request_t *req = conn->req;
   if (conn->in_body) {
      return 0; /* a chunked body's trailers: the head's work is done */
   }
   if (conn->in_value && !commit_header (conn)) {
      conn->error_status = 500;
      return -1;
   }
   req->method = (int) p->method;
   req->http10 = p->http_major == 1 && p->http_minor == 0;
   req->keep_alive = http_should_keep_alive (p) && !(p->flags & F_UPGRADE);
   req->head = p->method == HTTP_HEAD;
   return 0;
}

static int
on_body (http_parser *p, const char *at, size_t len)
{
   tk_http_conn_t *conn = parser_conn (p);
   tk_http_request_t *req = conn->req;
   if (len > req->body_limit - req->body.len) {
      conn->error_status = 413; /* the scanners keep this from happening */
      return -1;
   }
   if (!tk_buf_append (&req->body, at, len)) {
      conn->error_status = 500;
      return -1;
   }
   return 0;
}

static int
on_message_complete (http_parser *p)
{
   tk_http_conn_t *conn = parser_conn (p);
   conn->message_done = true;
   /* Stop here: a pipelined request behind this one waits in conn->in. */
   http_parser_pause (p, 1);
   return 0;
}

/* --- accepting ---------------------------------------------------------- */

static void
format_peer (tk_http_conn_t *conn)
{
   struct sockaddr_storage ss;
   int len = sizeof ss;
   char ip[INET6_ADDRSTRLEN] = "?";
   int port = 0;
   if (uv_tcp_getpeername (&conn->tcp, (struct sockaddr *) &ss, &len) == 0) {
      if (ss.ss_family == AF_INET) {
         const struct sockaddr_in *a = (const struct sockaddr_in *) &ss;
         uv_ip4_name (a, ip, sizeof ip);
         port = ntohs (a->sin_port);
      } else if (ss.ss_family == AF_INET6) {
         const struct sockaddr_in6 *a = (const struct sockaddr_in6 *) &ss;
         uv_ip6_name (a, ip, sizeof ip);
         port = ntohs (a->sin6_port);
      }
   }
   if (!tk_client_addr_normalize (ip, strlen (ip), conn->peer_ip)) {
      snprintf (conn->peer_ip, sizeof conn->peer_ip, "?");
   }
   snprintf (conn->peer, sizeof conn->peer, strchr (conn->peer_ip, ':') ? "[%s]:%d" : "%s:%d",
             conn->peer_ip, port);
}

static void
on_connection (uv_stream_t *listener, int status)
{
   tk_http_server_t *server = listener->data;
   if (status < 0) {
      return; /* e.g. EMFILE: nothing to accept; the loop carries on */
   }
   tk_http_conn_t *conn = calloc (1, sizeof *conn);
   if (!conn) {
      return;
   }
   conn->server = server;
   uv_tcp_init (server->loop, &conn->tcp);
   uv_timer_init (server->loop, &conn->timer);
   conn->tcp.data = conn;
   conn->timer.data = conn;
   conn->open_handles = 2;
   conn->next = server->conns;
   if (server->conns) {
      server->conns->prev = conn;
   }
   server->conns = conn;
   server->n_conns++;
   http_parser_init (&conn->parser, HTTP_REQUEST);
   conn->parser.data = conn;

   if (uv_accept (listener, (uv_stream_t *) &conn->tcp) != 0 || server->closing) {
      tk_http__conn_close (conn);
      return;
   }
   uv_tcp_nodelay (&conn->tcp, 1);
   format_peer (conn);
   if (server->n_active >= server->opts.max_connections) {
      tk_http__conn_fail (conn, 503, "the server has too many connections");
      return;
   }
   /* A peer that is a trusted proxy speaks for many clients: it is counted
    * against the client its X-Forwarded-For names, once a head has come. */
   if (!tk_cidr_list_contains (&server->trusted, conn->peer_ip) &&
       !client_attach (conn, conn->peer_ip)) {
      tk_http__conn_fail (conn, 503, "too many connections from this client");
      return;
   }
   conn->counted_active = true;
   server->n_active++;
   conn->state = TK_CONN_IDLE;
   conn_start_timer (conn, server->opts.header_timeout_ms);
   conn_read_start (conn);
}

/* --- server ------------------------------------------------------------- */

tk_http_server_t *
tk_http_server_new (uv_loop_t *loop, const tk_http_options_t *opts, tk_error_t *err)
{
   tk_http_server_t *server = NULL;
   tk_http_server_t *ret = NULL;

   if (!loop) {
      tk_error_set (err, TK_ERR_INVALID, 0, "HTTP server needs a loop");
      goto done;
   }
   if (!(server = calloc (1, sizeof *server))) {
      tk_error_set (err, TK_ERR_NOMEM, 0, "out of memory creating the HTTP server");
      goto done;
   }
   server->loop = loop;
   if (opts) {
      server->opts = *opts;
   }
   tk_http_options_t *o = &server->opts;
   if (!(server->host = strdup (o->host && *o->host ? o->host : "127.0.0.1"))) {
      tk_error_set (err, TK_ERR_NOMEM, 0, "out of memory creating the HTTP server");
      goto done;
   }
   o->host = server->host;
   if (o->port < 0 || o->port > 65535) {
      tk_error_set_field (err, TK_ERR_CONFIG, 0, "port", "HTTP port %d is out of range", o->port);
      goto done;
   }
   o->max_body_bytes = o->max_body_bytes ? o->max_body_bytes : 50u * 1024u * 1024u;
   o->json_body_bytes = o->json_body_bytes ? o->json_body_bytes : 1024u * 1024u;
   o->max_header_bytes = o->max_header_bytes ? o->max_header_bytes : 16u * 1024u;
   o->header_timeout_ms = o->header_timeout_ms ? o->header_timeout_ms : 10000u;
   o->idle_timeout_ms = o->idle_timeout_ms ? o->idle_timeout_ms : 5000u;
   o->request_timeout_ms = o->request_timeout_ms ? o->request_timeout_ms : 30000u;
   o->max_connections = o->max_connections ? o->max_connections : 1024u;
   o->max_client_connections = o->max_client_connections ? o->max_client_connections : 64u;
   if (!tk_cidr_list_parse (o->trusted_proxies, &server->trusted, err)) {
      if (err) {
         snprintf (err->field, sizeof err->field, "trusted_proxies");
      }
      goto done;
   }
   o->trusted_proxies = NULL; /* parsed; the text is not kept */

   tk_http_router_init (&server->router);
   server->unmatched.route = "(unmatched)";
   server->unmatched.method = "*";
   http_parser_settings_init (&server->settings);
   server->settings.on_message_begin = on_message_begin;
   server->settings.on_url = on_url;
   server->settings.on_header_field = on_header_field;
   server->settings.on_header_value = on_header_value;
   server->settings.on_headers_complete = on_headers_complete;
   server->settings.on_body = on_body;
   server->settings.on_message_complete = on_message_complete;

   uv_tcp_init (loop, &server->listener);
   server->listener.data = server;
   server->listener_open = true;
   ret = server;
   server = NULL;
done:
   if (server) {
      tk_cidr_list_cleanup (&server->trusted);
      free (server->host);
      free (server);
   }
   return ret;
}

bool
tk_http_server_listen (tk_http_server_t *server, tk_error_t *err)
{
   struct sockaddr_storage addr;
   int rc = uv_ip4_addr (server->opts.host, server->opts.port, (struct sockaddr_in *) &addr);
   if (rc != 0) {
      rc = uv_ip6_addr (server->opts.host, server->opts.port, (struct sockaddr_in6 *) &addr);
   }
   if (rc != 0) {
      tk_error_set_field (err, TK_ERR_CONFIG, rc, "host", "\"%s\" is not an IP address",
                          server->opts.host);
      return false;
   }
   if ((rc = uv_tcp_bind (&server->listener, (const struct sockaddr *) &addr, 0)) != 0 ||
       (rc = uv_listen ((uv_stream_t *) &server->listener, 511, on_connection)) != 0) {
      tk_error_set (err, TK_ERR_HTTP, rc, "cannot listen on %s:%d: %s", server->opts.host,
                    server->opts.port, uv_strerror (rc));
      return false;
   }
   struct sockaddr_storage bound;
   int len = sizeof bound;
   if (uv_tcp_getsockname (&server->listener, (struct sockaddr *) &bound, &len) == 0) {
      server->port = ntohs (bound.ss_family == AF_INET6
                               ? ((struct sockaddr_in6 *) &bound)->sin6_port
                               : ((struct sockaddr_in *) &bound)->sin_port);
   }
   return true;
}

int
tk_http_server_port (const tk_http_server_t *server)
{
   return server->port;
}

unsigned
tk_http_server_connection_count (const tk_http_server_t *server)
{
   return server->n_conns;
}

void
tk_http__server_maybe_closed (tk_http_server_t *server)
{
   if (!server->closing || server->listener_open || server->n_conns > 0 ||
       server->live_requests > 0 || server->notified) {
      return;
   }
   server->notified = true;
   if (server->on_closed) {
      server->on_closed (server->closed_ud);
   }
   tk_http_router_cleanup (&server->router);
   tk_cidr_list_cleanup (&server->trusted);
   free (server->health);
   free (server->host);
   free (server);
}

static void
listener_closed (uv_handle_t *h)
{
   tk_http_server_t *server = h->data;
   server->listener_open = false;
   tk_http__server_maybe_closed (server);
}

void
tk_http_server_close (tk_http_server_t *server, tk_http_closed_cb on_closed, void *user_data)
{
   if (!server || server->closing) {
      return;
   }
   server->closing = true;
   server->on_closed = on_closed;
   server->closed_ud = user_data;
   uv_close ((uv_handle_t *) &server->listener, listener_closed);
   tk_http_conn_t *conn = server->conns;
   while (conn) {
      tk_http_conn_t *next = conn->next;
      if (conn->state == TK_CONN_IDLE) {
         tk_http__conn_close (conn);
      } else {
         conn->close_after = true; /* finishes its request, then closes */
      }
      conn = next;
   }
}

bool
tk_http_route_with (tk_http_server_t *server, const char *method, const char *pattern,
                    tk_http_access_t access, tk_http_handler_t handler, void *user_data,
                    tk_error_t *err)
{
   tk_http_route_t *rt =
      tk_http_router_add (&server->router, method, pattern, handler, user_data, err);
   if (!rt) {
      return false;
   }
   rt->access = access;
   if (rt->method_id < 0) {
      server->methods |= ~(UINT64_C (1) << HTTP_CONNECT);
   } else if (rt->method_id < 64) {
      server->methods |= UINT64_C (1) << rt->method_id;
   }
   return true;
}

bool
tk_http_route (tk_http_server_t *server, const char *method, const char *pattern,
               tk_http_handler_t handler, void *user_data, tk_error_t *err)
{
   return tk_http_route_with (server, method, pattern,
                              (tk_http_access_t){0, TK_HTTP_BODY_NONE, false}, handler, user_data,
                              err);
}

void
tk_http_server_set_authenticator (tk_http_server_t *server, tk_http_authenticate_fn fn,
                                  void *user_data)
{
   server->authenticate = fn;
   server->authenticate_ud = user_data;
}

void
tk_http_server_set_request_hook (tk_http_server_t *server, tk_http_request_done_cb cb,
                                 void *user_data)
{
   server->hook = cb;
   server->hook_ud = user_data;
}

/* --- request accessors -------------------------------------------------- */

const char *
tk_http_request_method (const tk_http_request_t *req)
{
   return http_method_str ((enum http_method) req->method);
}

const char *
tk_http_request_path (const tk_http_request_t *req)
{
   return req->path ? req->path : "";
}

const char *
tk_http_request_query_string (const tk_http_request_t *req)
{
   return req->path_len < req->url.len ? req->url.data + req->path_len + 1 : "";
}

const char *
tk_http_request_route (const tk_http_request_t *req)
{
   return req->match.route ? req->match.route->pattern : NULL;
}

const char *
tk_http_request_param (const tk_http_request_t *req, const char *name)
{
   for (size_t i = 0; i < req->match.n_params; i++) {
      if (strcmp (req->match.params[i].name, name) == 0) {
         return req->match.params[i].value;
      }
   }
   return NULL;
}

const char *
tk_http_query_next (const tk_http_request_t *req, const char *key, size_t *cursor,
                    const char **key_out)
{
   while (*cursor < req->query.n) {
      const tk_http_query_pair_t *p = &req->query.pairs[(*cursor)++];
      if (!key || strcmp (p->key, key) == 0) {
         if (key_out) {
            *key_out = p->key;
         }
         return p->value;
      }
   }
   return NULL;
}

const char *
tk_http_query_get (const tk_http_request_t *req, const char *key)
{
   size_t cursor = 0;
   return tk_http_query_next (req, key, &cursor, NULL);
}

const char *
tk_http_request_header (const tk_http_request_t *req, const char *name)
{
   const char *p = req->headers.data;
   const char *end = p ? p + req->headers.len : NULL;
   while (p && p < end) {
      const char *value = p + strlen (p) + 1;
      if (strcasecmp (p, name) == 0) {
         return value;
      }
      p = value + strlen (value) + 1;
   }
   return NULL;
}

const char *
tk_http_request_body (const tk_http_request_t *req, size_t *len)
{
   if (len) {
      *len = req->body.len;
   }
   return req->body.data ? req->body.data : "";
}

const char *
tk_http_request_remote_addr (const tk_http_request_t *req)
{
   return req->client;
}

const char *
tk_http_request_peer_addr (const tk_http_request_t *req)
{
   return req->peer;
}

int
tk_http_request_min_role (const tk_http_request_t *req)
{
   return req->match.route ? req->match.route->access.min_role : 0;
}

int
tk_http_request_role (const tk_http_request_t *req)
{
   return req->role;
}

const char *
tk_http_request_principal (const tk_http_request_t *req)
{
   return req->principal;
}

bool
tk_http_request_is_gone (const tk_http_request_t *req)
{
   return req->conn == NULL;
}

uv_loop_t *
tk_http_request_loop (const tk_http_request_t *req)
{
   return req->server->loop;
}
