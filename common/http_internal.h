/* http_internal.h - what the HTTP server's files share: http_server.c (the
 * server, accepting), http_conn.c (connection lifetime, reading),
 * http_intake.c (parsing, admission), http_request.c (accessors) and
 * http_response.c (dispatch, responses, statistics). Not for services.
 */
#ifndef TK_HTTP_INTERNAL_H
#define TK_HTTP_INTERNAL_H

#include <http_parser.h>
#include <stddef.h>

#include "buf.h"
#include "client_addr.h"
#include "http_router.h"
#include "http_server.h"
#include "http_strict.h"

typedef struct tk_http_conn_s tk_http_conn_t;

typedef enum {
   TK_CONN_IDLE = 0, /* between requests (or before the first) */
   TK_CONN_READING,  /* a request's head or body is arriving */
   TK_CONN_AUTH,     /* head complete; the authenticator decides (not read) */
   TK_CONN_ACTIVE,   /* a handler holds the request */
   TK_CONN_SENDING,  /* the response's last write is in flight */
   TK_CONN_LINGER,   /* half-closed, draining input before closing */
} tk_http_conn_state_t;

/* How many connections one client address holds (http_server.c). */
typedef struct tk_http_client_s {
   struct tk_http_client_s *next;
   unsigned conns;
   char addr[TK_CLIENT_ADDR_MAX];
} tk_http_client_t;

#define TK_HTTP_CLIENT_BUCKETS 1024

typedef struct {
   tk_http_ready_fn ready_cb;
   void *ready_ud;
   tk_http_metrics_fn metrics_cb;
   void *metrics_ud;
} tk_http_health_t;

struct tk_http_server_s {
   uv_loop_t *loop;
   tk_http_options_t opts;
   char *host;
   int port;
   uv_tcp_t listener;
   bool listener_open;
   bool closing;
   bool notified;
   tk_http_closed_cb on_closed;
   void *closed_ud;
   http_parser_settings settings;
   tk_http_router_t router;
   tk_http_conn_t *conns; /* every open connection */
   unsigned n_conns;
   unsigned n_active;     /* those counted against max_connections */
   size_t live_requests;  /* requests not yet freed */
   tk_http_request_done_cb hook;
   void *hook_ud;
   tk_http_route_stats_t unmatched;
   tk_http_health_t *health;
   tk_cidr_list_t trusted;       /* opts.trusted_proxies, parsed */
   tk_http_authenticate_fn authenticate;
   void *authenticate_ud;
   tk_http_client_t *clients[TK_HTTP_CLIENT_BUCKETS];
   char date[40];
   time_t date_sec;
   char read_buf[65536];
};

struct tk_http_conn_s {
   uv_tcp_t tcp; /* first: the handle's memory is the connection's */
   uv_timer_t timer;
   uv_shutdown_t shutdown;
   tk_http_server_t *server;
   tk_http_conn_t *prev, *next;
   http_parser parser;
   tk_buf_t in;             /* received, not yet parsed */
   tk_buf_t hfield, hvalue; /* the header being parsed */
   bool in_value;
   int error_status;        /* set by a parser callback that fails */
   tk_http_request_t *req;  /* being parsed or answered; NULL otherwise */
   tk_http_conn_state_t state;
   bool in_body;            /* READING: the head is done, the body arrives */
   bool message_done;       /* http-parser has seen the request's end */
   bool processing;         /* inside conn_process_input */
   tk_http_head_scan_t head;
   tk_http_chunk_scan_t chunk;
   uint64_t body_left;      /* Content-Length bytes not yet fed to the parser */
   unsigned open_handles;
   bool reading;
   bool peer_eof;
   bool closing;
   bool close_after;        /* close once the current response is sent */
   bool counted_active;
   tk_http_client_t *client; /* the address this connection counts against */
   char peer_ip[TK_CLIENT_ADDR_MAX];
   char peer[64];           /* "ip:port" */
};

struct tk_http_request_s {
   tk_http_server_t *server;
   tk_http_conn_t *conn; /* NULL once the connection is gone */
   void *pool;           /* tk_http_request_alloc blocks */
   int method;
   tk_buf_t url;         /* raw request target */
   size_t path_len;      /* url.data[0, path_len) is the path */
   char *path;           /* NUL-terminated copy, from the pool */
   tk_buf_t headers;     /* "name\0value\0" pairs */
   tk_buf_t body;
   tk_buf_t resp_headers;
   tk_http_match_t match;
   tk_http_query_t query;
   char client[TK_CLIENT_ADDR_MAX]; /* tk_http_request_remote_addr */
   char peer[64];
   int role;             /* granted by the authenticator */
   char principal[64];
   size_t body_limit;    /* the route's, in bytes */
   bool has_body;        /* Content-Length > 0 or chunked */
   uint64_t start_ns;
   bool http10;
   bool head;
   bool keep_alive;
   bool dispatched;      /* a handler (or an automatic answer) owns it */
   bool streaming;
   bool chunked;
   bool ended;           /* responded / stream ended; freed when writes drain */
   int stream_status;
   unsigned pending_writes;
};

/* Reading stops while more than this much pipelined input is buffered. */
#define TK_HTTP_READ_HIGH_WATER (256u * 1024u)

/* --- http_conn.c ---------------------------------------------------------- */

/* A new request on conn (counted in server->live_requests); NULL when out
 * of memory. Freed with tk_http__request_free. */
tk_http_request_t *tk_http__request_new (tk_http_conn_t *conn);
void tk_http__request_free (tk_http_request_t *req);
/* (Re)arms the connection's one timer; what it does depends on conn->state. */
void tk_http__conn_start_timer (tk_http_conn_t *conn, uint64_t ms);
void tk_http__conn_read_start (tk_http_conn_t *conn);
void tk_http__conn_read_stop (tk_http_conn_t *conn);
void tk_http__conn_close (tk_http_conn_t *conn);
void tk_http__conn_response_finished (tk_http_conn_t *conn);

/* --- http_server.c -------------------------------------------------------- */

void tk_http__server_maybe_closed (tk_http_server_t *server);

/* Counts conn against addr (releasing what it counted against before).
 * false when addr already holds max_client_connections (conn then counts
 * against no one) or out of memory. */
bool tk_http__client_attach (tk_http_conn_t *conn, const char *addr);
void tk_http__client_detach (tk_http_conn_t *conn);

/* --- http_intake.c -------------------------------------------------------- */

/* Takes what conn->in holds while the connection is idle or reading a
 * request: head, admission, body, and dispatch once the request is whole. */
void tk_http__conn_process_input (tk_http_conn_t *conn);

/* Fills settings with the parser callbacks that build a request. */
void tk_http__parser_settings_init (http_parser_settings *settings);

/* --- http_response.c ------------------------------------------------------ */

/* Hands a completed request (head checked, route matched, sender
 * authenticated, body read) to its route's handler. */
void tk_http__dispatch (tk_http_conn_t *conn);

/* Answers a protocol error (400, 408, 413, 431, 501, 503 ...) with
 * Connection: close, dropping any partial request. message (may be NULL:
 * the status's reason phrase) is copied into the error document. */
void tk_http__conn_fail (tk_http_conn_t *conn, int status, const char *message);

/* tk_http__conn_fail with an Allow header (allow: "GET, HEAD"; NULL for
 * none). */
void tk_http__conn_fail_allow (tk_http_conn_t *conn, int status, const char *message,
                               const char *allow);

/* Adds the response header of a refused method (405, or 204 to OPTIONS). */
bool tk_http__add_allow (tk_http_request_t *req);

/* Writes a static string (e.g. "100 Continue"); final marks the end of a
 * response. Returns 0 or a negative libuv error. */
int tk_http__write_raw (tk_http_conn_t *conn, const char *s, bool final);

#endif
