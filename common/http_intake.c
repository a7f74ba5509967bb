/* http_intake.c - a request's arrival on a connection: the head and the
 * body, checked by http_strict.c before http-parser sees them; the parser's
 * callbacks, which build the request; and the admission steps once the head
 * is complete (client address behind a trusted proxy, route, authenticator,
 * the route's body limit, "Expect: 100-continue"). See http_server.c for how
 * the HTTP server's files divide the work.
 */
#include "http_internal.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

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
   tk_http__conn_start_timer (conn, server->opts.request_timeout_ms);
   if (!conn->processing) {
      tk_http__conn_read_start (conn);
      tk_http__conn_process_input (conn);
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
   if (!tk_http__client_attach (conn, req->client)) {
      tk_http__conn_fail (conn, 503, "too many connections from this client");
      return false;
   }
   return true;
}

/* Matches req's path and method against the routes. false when req has
 * been answered instead (404, 405, 204 to OPTIONS, 400, 500). */
static bool
match_route (tk_http_request_t *req)
{
   switch (tk_http_router_match (&req->server->router, req->method, req->url.data, req->path_len,
                                 &req->match)) {
   case TK_HTTP_MATCH_FOUND:
      return true;
   case TK_HTTP_MATCH_NOMEM:
      refuse_early (req, 500, "internal", "out of memory");
      return false;
   case TK_HTTP_MATCH_BAD_PATH:
      refuse_early (req, 400, "bad_request", "the path is not validly percent-encoded");
      return false;
   case TK_HTTP_MATCH_NOT_FOUND:
      refuse_early (req, 404, "not_found", "no such resource");
      return false;
   case TK_HTTP_MATCH_BAD_METHOD:
      tk_http__add_allow (req);
      if (req->method == HTTP_OPTIONS) {
         req->dispatched = true;
         tk_http_respond (req, 204, NULL, NULL, 0);
      } else {
         refuse_early (req, 405, "method_not_allowed",
                       "the resource does not support this method");
      }
      return false;
   }
   return true; /* as FOUND: the switch names every outcome (-Wswitch) */
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

   if (!match_route (req)) {
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
   tk_http__conn_read_stop (conn);
   req->dispatched = true;
   server->authenticate (req, server->authenticate_ud);
}

/* A method the server knows: every method of http-parser's table but
 * CONNECT (a tunnel, never served). A known method no route of the path
 * serves is answered 405 with Allow by the router (RFC 9110 15.5.6); only a
 * method the server does not know at all is 501 (15.6.2). */
static bool
method_known (int m)
{
   return m >= 0 && m != HTTP_CONNECT && m < 64;
}

/* A method token http-parser does not know ("QUERY", "BREW"): the parser
 * cannot read the request, so it is answered from the request line alone
 * and the connection closes (the body cannot be framed). A path some route
 * has: 405 with the methods it serves in Allow, as for a known method; no
 * such path: 404; a path served for every method: 501. */
static void
refuse_unknown_method (tk_http_conn_t *conn)
{
   const char *line = conn->in.data;
   size_t target = conn->head.method_off + conn->head.method_len + 1, end = target;
   while (end < conn->head.head_len && line[end] != ' ' && line[end] != '?') {
      end++;
   }
   tk_http_match_t match;
   memset (&match, 0, sizeof match);
   tk_http_match_result_t r = TK_HTTP_MATCH_NOT_FOUND;
   if (end > target && line[target] == '/') {
      /* A method number no route has: INT_MAX. */
      r = tk_http_router_match (&conn->server->router, INT_MAX, line + target, end - target,
                                &match);
   }
   switch (r) {
   case TK_HTTP_MATCH_BAD_METHOD:
      tk_http__conn_fail_allow (conn, 405, "the resource does not support this method",
                                match.allow);
      break;
   case TK_HTTP_MATCH_NOT_FOUND: tk_http__conn_fail (conn, 404, "no such resource"); break;
   case TK_HTTP_MATCH_BAD_PATH:
      tk_http__conn_fail (conn, 400, "the path is not validly percent-encoded");
      break;
   case TK_HTTP_MATCH_NOMEM: tk_http__conn_fail (conn, 500, NULL); break;
   case TK_HTTP_MATCH_FOUND:
      tk_http__conn_fail (conn, 501, "the server does not implement this method");
      break;
   }
   tk_http_match_cleanup (&match);
}

/* Takes the head from conn->in as far as it has come. */
static void
read_head (tk_http_conn_t *conn)
{
   tk_http_server_t *server = conn->server;
   if (conn->state == TK_CONN_IDLE) {
      conn->state = TK_CONN_READING;
      tk_http_head_scan_init (&conn->head);
      tk_http__conn_start_timer (conn, server->opts.header_timeout_ms);
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
   /* CONNECT (a tunnel) is never served: 501. A token http-parser does
    * not know cannot be parsed: answered from the request line. */
   char method[32] = "";
   if (conn->head.method_len < sizeof method) {
      memcpy (method, conn->in.data + conn->head.method_off, conn->head.method_len);
      method[conn->head.method_len] = '\0';
   }
   int m = method[0] ? tk_http_method_from_name (method) : -1;
   if (m == HTTP_CONNECT || (m < 0 && !method[0])) {
      tk_http__conn_fail (conn, 501, "the server does not implement this method");
      return;
   }
   if (!method_known (m)) {
      refuse_unknown_method (conn);
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

void
tk_http__conn_process_input (tk_http_conn_t *conn)
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
      tk_http__conn_read_start (conn);
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
   if (!(conn->req = tk_http__request_new (conn))) {
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

void
tk_http__parser_settings_init (http_parser_settings *settings)
{
   http_parser_settings_init (settings);
   settings->on_message_begin = on_message_begin;
   settings->on_url = on_url;
   settings->on_header_field = on_header_field;
   settings->on_header_value = on_header_value;
   settings->on_headers_complete = on_headers_complete;
   settings->on_body = on_body;
   settings->on_message_complete = on_message_complete;
}
