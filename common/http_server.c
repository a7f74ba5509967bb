/* http_server.c - the server's lifetime: creating it, listening,
 * accepting connections, counting connections per client address, routes
 * and hooks, and closing.
 *
 * How the HTTP server's files divide the work (they share http_internal.h):
 *
 * - http_server.c (this file): the server and accepting connections.
 * - http_conn.c: per-request memory and a connection's lifetime: timers,
 *   reading, the lingering close, the way back to idle after a response.
 * - http_intake.c: a request's arrival: the head and body checked by
 *   http_strict.c, http-parser fed only checked bytes, then the admission
 *   steps (client address, route, authenticator, body limit, "100 Continue").
 * - http_request.c: the request accessors handlers use.
 * - http_response.c: dispatch, responses and statistics.
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
 */
#include "http_internal.h"

#include <stdlib.h>
#include <string.h>

#include "hash.h"

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
bool
tk_http__client_attach (tk_http_conn_t *conn, const char *addr)
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

void
tk_http__client_detach (tk_http_conn_t *conn)
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
       !tk_http__client_attach (conn, conn->peer_ip)) {
      tk_http__conn_fail (conn, 503, "too many connections from this client");
      return;
   }
   conn->counted_active = true;
   server->n_active++;
   conn->state = TK_CONN_IDLE;
   tk_http__conn_start_timer (conn, server->opts.header_timeout_ms);
   tk_http__conn_read_start (conn);
}

/* --- server ------------------------------------------------------------- */

/* Fills the limits and timeouts left at 0 with their defaults. */
static void
options_default_limits (tk_http_options_t *o)
{
   o->max_body_bytes = o->max_body_bytes ? o->max_body_bytes : 50u * 1024u * 1024u;
   o->json_body_bytes = o->json_body_bytes ? o->json_body_bytes : 1024u * 1024u;
   o->max_header_bytes = o->max_header_bytes ? o->max_header_bytes : 16u * 1024u;
   o->header_timeout_ms = o->header_timeout_ms ? o->header_timeout_ms : 10000u;
   o->idle_timeout_ms = o->idle_timeout_ms ? o->idle_timeout_ms : 5000u;
   o->request_timeout_ms = o->request_timeout_ms ? o->request_timeout_ms : 30000u;
   o->max_connections = o->max_connections ? o->max_connections : 1024u;
   o->max_client_connections = o->max_client_connections ? o->max_client_connections : 64u;
}

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
   options_default_limits (o);
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
   tk_http__parser_settings_init (&server->settings);

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

