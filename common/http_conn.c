/* http_conn.c - per-request memory and a connection's lifetime: closing,
 * timers, reading from the socket, the lingering close, and the return to
 * idle once a response has gone out. What arrives is handed to
 * tk_http__conn_process_input (http_intake.c). See http_server.c for how the
 * HTTP server's files divide the work.
 */
#include "http_internal.h"

#include <stdlib.h>
#include <string.h>

#define TK_HTTP_LINGER_MS 1000u

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

tk_http_request_t *
tk_http__request_new (tk_http_conn_t *conn)
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
   tk_http__client_detach (conn);
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

void
tk_http__conn_start_timer (tk_http_conn_t *conn, uint64_t ms)
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

void
tk_http__conn_read_start (tk_http_conn_t *conn)
{
   if (!conn->reading && !conn->peer_eof && !conn->closing) {
      if (uv_read_start ((uv_stream_t *) &conn->tcp, conn_alloc_cb, conn_read_cb) == 0) {
         conn->reading = true;
      }
   }
}

void
tk_http__conn_read_stop (tk_http_conn_t *conn)
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
   tk_http__conn_start_timer (conn, TK_HTTP_LINGER_MS);
   tk_http__conn_read_start (conn);
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
   tk_http__conn_start_timer (conn, conn->server->opts.idle_timeout_ms);
   tk_http__conn_read_start (conn);
   tk_http__conn_process_input (conn);
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
      tk_http__conn_read_stop (conn);
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
         tk_http__conn_read_stop (conn);
      }
      return;
   }
   tk_http__conn_process_input (conn);
}

/* --- feeding http-parser --------------------------------------------------- */
