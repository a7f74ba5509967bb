/* http_server.h - a small HTTP/1.1 server on libuv and http-parser.
 *
 * The services use it for their REST APIs, uploads, /healthz, /readyz and
 * /metrics. Everything runs on the loop thread that owns the server; no call
 * here blocks, and no function may be called from another thread.
 *
 * A request goes through these steps, each of which may answer it and stop:
 * 1. its head (request line and headers) is checked against RFC 9112
 *    (http_strict.h): 400 for anything malformed or ambiguous, 501 for a
 *    method no route serves, 505 for another HTTP version; 414 / 431 when
 *    it outgrows max_header_bytes; 408 when it takes longer than
 *    header_timeout_ms;
 * 2. its route is found: 404, or 405 with Allow;
 * 3. for a route that needs a role, the server's authenticator decides who
 *    sent it (401, 403, 429 ...);
 * 4. its announced body is checked against the route's limit: 413;
 * 5. only then is "100 Continue" sent (when asked for) and the body read,
 *    up to the route's limit (413 when a chunked body outgrows it);
 * 6. the route's handler runs.
 * Steps 1-4 happen before a byte of the body is read, so a request that is
 * refused costs no memory for its body; such an answer closes the
 * connection.
 *
 * Lifetimes:
 * - The server is created with tk_http_server_new and released with
 *   tk_http_server_close, whose callback runs once every connection handle is
 *   closed and every request has been answered; memory is freed only then.
 * - A request is handed to its handler and stays valid until the handler (or
 *   whoever it passed the request to) calls exactly one of tk_http_respond,
 *   tk_http_respond_json, tk_http_respond_error, tk_http_respond_ready or,
 *   for a streamed response, tk_http_stream_end. Those calls always release
 *   the request, even when the client has gone away in the meantime (then
 *   nothing is sent and they return UV_ECONNRESET), so an answer computed
 *   on a uv_queue_work thread may be delivered late without any check.
 * - Strings returned by the request accessors are borrowed from the request
 *   and valid until it is released.
 */
#ifndef TK_HTTP_SERVER_H
#define TK_HTTP_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>
#include <uv.h>

#include "buf.h"
#include "error.h"

typedef struct tk_http_server_s tk_http_server_t;
typedef struct tk_http_request_s tk_http_request_t;

/* Listener settings. Zero fields take the defaults given beside them. */
typedef struct {
   const char *host;             /* "127.0.0.1"; "0.0.0.0" or "::" for all */
   int port;                     /* 0: an ephemeral port (tk_http_server_port) */
   size_t max_body_bytes;        /* 50 MB: the limit of TK_HTTP_BODY_LARGE routes */
   size_t json_body_bytes;       /* 1 MB: the limit of TK_HTTP_BODY_JSON routes */
   size_t max_header_bytes;      /* 16 KB for request line + headers; 431 */
   uint64_t header_timeout_ms;   /* 10 s: a request's head must arrive within it
                                    (from the connection's accept, or from the
                                    request's first byte), else 408 / close */
   uint64_t idle_timeout_ms;     /* 5 s: an idle keep-alive connection closes */
   uint64_t request_timeout_ms;  /* 30 s: a body must arrive within it once the
                                    request is let in, else 408 and close */
   unsigned max_connections;     /* 1024; more are accepted, sent 503, closed */
   unsigned max_client_connections; /* 64: the most one client address holds;
                                    more from it are sent 503 and closed */
   const char *trusted_proxies;  /* "": peers whose X-Forwarded-For names the
                                    client (addresses / CIDR blocks, see
                                    client_addr.h) */
} tk_http_options_t;

/* Called when a matched request is ready (body read). Must eventually lead
 * to one respond / stream_end call on req. */
typedef void (*tk_http_handler_t) (tk_http_request_t *req, void *user_data);

/* Body limits a route can ask for (tk_http_access_t.max_body). */
#define TK_HTTP_BODY_NONE ((size_t) 0)          /* no body (413 for any) */
#define TK_HTTP_BODY_JSON (SIZE_MAX - 1)        /* opts.json_body_bytes */
#define TK_HTTP_BODY_LARGE SIZE_MAX             /* opts.max_body_bytes: uploads */

/* What a route asks of a request before its body is read. */
typedef struct {
   int min_role;    /* 0: open to anyone; else the least role (the application's
                       levels: tk_role_t of auth.h) the authenticator must grant */
   size_t max_body; /* bytes, or one of the TK_HTTP_BODY_ limits */
   bool identify;   /* with min_role 0: still ask the authenticator, which may
                       grant role 0 to a request without credentials but refuses
                       bad ones (a page that shows who is signed in) */
} tk_http_access_t;

/* Decides who sent a request for a route whose min_role is above 0, once
 * its head is complete and before any of its body is read (the connection
 * is not read meanwhile). Must lead, on the loop, now or later, to exactly
 * one tk_http_grant, or to one tk_http_respond / tk_http_respond_error that
 * refuses the request (401, 429, 503 ...): a refusal closes the connection
 * and the body is never read. If the client goes away meanwhile, the call
 * is still required (it then sends nothing and frees the request). */
typedef void (*tk_http_authenticate_fn) (tk_http_request_t *req, void *user_data);

/* Called once per finished response (after it was handed to the socket, or
 * dropped when the client had gone). route is the matched pattern, or
 * "(unmatched)" for 404s and protocol errors; method as sent by the client. */
typedef void (*tk_http_request_done_cb) (const char *route, const char *method, int status,
                                         uint64_t duration_us, void *user_data);

/* Called by tk_http_server_close once everything is closed and freed. */
typedef void (*tk_http_closed_cb) (void *user_data);

/* --- server ------------------------------------------------------------ */

/* Creates a server on loop (borrowed; must outlive the server). opts may be
 * NULL for all defaults; it is copied. Returns NULL and fills err on a bad
 * option or out of memory. Nothing is bound until tk_http_server_listen. */
tk_http_server_t *tk_http_server_new (uv_loop_t *loop, const tk_http_options_t *opts,
                                      tk_error_t *err);

/* Binds and starts accepting. false with err filled (TK_ERR_HTTP, code the
 * negative libuv error) if the address cannot be bound. */
bool tk_http_server_listen (tk_http_server_t *server, tk_error_t *err);

/* The bound port after listen (useful with port 0), else 0. */
int tk_http_server_port (const tk_http_server_t *server);

/* Connections currently open, including ones being rejected or closed. */
unsigned tk_http_server_connection_count (const tk_http_server_t *server);

/* Graceful shutdown: stops accepting, closes idle keep-alive connections,
 * lets requests in progress finish (their responses are sent, with
 * Connection: close), then calls on_closed (may be NULL) and frees the
 * server. server must not be used after this call. Accepts NULL. */
void tk_http_server_close (tk_http_server_t *server, tk_http_closed_cb on_closed,
                           void *user_data);

/* Registers a handler open to anyone, taking no body (tk_http_route_with
 * and {0, TK_HTTP_BODY_NONE}). method is "GET", "POST" ... or "*" for any. pattern
 * is a path of literal segments and {name} segments capturing one segment
 * each ("/api/tickets/{id}"), or ends in a "*" segment to match every path
 * under a prefix ("/static/" then "*", the rest is the parameter "*"). Registration order
 * does not matter: a route with more literal segments wins, a prefix route
 * loses to any exact one. HEAD is served by GET routes (without the body).
 * false with err filled for a malformed pattern or unknown method. */
bool tk_http_route (tk_http_server_t *server, const char *method, const char *pattern,
                    tk_http_handler_t handler, void *user_data, tk_error_t *err);

/* Registers a handler with what its requests must bring (see
 * tk_http_access_t and the steps at the top). */
bool tk_http_route_with (tk_http_server_t *server, const char *method, const char *pattern,
                         tk_http_access_t access, tk_http_handler_t handler, void *user_data,
                         tk_error_t *err);

/* Installs the authenticator of routes that need a role (replacing any).
 * Without one, such routes answer 500. */
void tk_http_server_set_authenticator (tk_http_server_t *server, tk_http_authenticate_fn fn,
                                       void *user_data);

/* The authenticator's verdict: req's sender holds role, and is named
 * principal (copied; e.g. an API key's id, "" if none). Below the route's
 * min_role the answer is 403; otherwise the request goes on (body limit,
 * 100 Continue, body, handler). Releases req if its client has gone. */
void tk_http_grant (tk_http_request_t *req, int role, const char *principal);

/* Installs a hook called for every finished request (see
 * tk_http_request_done_cb); NULL removes it. */
void tk_http_server_set_request_hook (tk_http_server_t *server, tk_http_request_done_cb cb,
                                      void *user_data);

/* Built-in per-route statistics, kept whether or not a hook is installed. */
#define TK_HTTP_LATENCY_BUCKETS 12
extern const uint64_t tk_http_latency_bounds_us[TK_HTTP_LATENCY_BUCKETS]; /* upper bounds */

typedef struct {
   const char *route;  /* pattern, or "(unmatched)" */
   const char *method; /* as registered, "*" for any */
   uint64_t by_class[6]; /* [1] 1xx ... [5] 5xx; [0] unused */
   uint64_t count;
   uint64_t latency_sum_us;
   uint64_t latency_buckets[TK_HTTP_LATENCY_BUCKETS + 1]; /* not cumulative; last is +Inf */
} tk_http_route_stats_t;

/* Calls cb for each route's statistics (borrowed, valid during the call). */
void tk_http_server_stats_foreach (const tk_http_server_t *server,
                                   void (*cb) (const tk_http_route_stats_t *st, void *ud),
                                   void *ud);

/* Appends the statistics in Prometheus text format (metric names prefixed
 * with prefix, e.g. "triage_api_http"). false on out of memory. */
bool tk_http_server_render_stats (const tk_http_server_t *server, const char *prefix,
                                  tk_buf_t *out);

/* --- health endpoints -------------------------------------------------- */

/* A readiness check: must end with tk_http_respond_ready(req, ...),
 * possibly later (after asking Mongo and Kafka on a worker thread). */
typedef void (*tk_http_ready_fn) (tk_http_request_t *req, void *user_data);

/* Renders metrics text into out; false gives a 500. */
typedef bool (*tk_http_metrics_fn) (tk_buf_t *out, void *user_data);

/* Registers GET /healthz (always 200 {"status":"ok"}) and GET /readyz
 * (ready_cb; NULL means always ready), open to anyone. */
bool tk_http_add_health_routes (tk_http_server_t *server, tk_http_ready_fn ready_cb,
                                void *user_data, tk_error_t *err);

/* Registers GET /metrics (metrics_cb, text/plain; version=0.0.4; NULL
 * renders the server's own route statistics), open to anyone: register it
 * on a listener of its own that only Prometheus reaches (the services'
 * TRIAGE_METRICS_HOST / TRIAGE_METRICS_PORT). */
bool tk_http_add_metrics_route (tk_http_server_t *server, tk_http_metrics_fn metrics_cb,
                                void *user_data, tk_error_t *err);

/* Answers a readiness check: failed_dependency NULL gives 200
 * {"status":"ready"}, else 503 {"status":"unavailable","failed":"<dep>",
 * "detail":"<detail>"} (detail may be NULL). Releases req. */
int tk_http_respond_ready (tk_http_request_t *req, const char *failed_dependency,
                           const char *detail);

/* --- request accessors (borrowed strings, valid until req is released) -- */

const char *tk_http_request_method (const tk_http_request_t *req); /* "GET" */
/* The raw (still percent-encoded) path, without the query string. */
const char *tk_http_request_path (const tk_http_request_t *req);
/* The raw query string after '?', "" if none. */
const char *tk_http_request_query_string (const tk_http_request_t *req);
/* The matched route pattern, NULL if none matched. */
const char *tk_http_request_route (const tk_http_request_t *req);
/* A captured path parameter, percent-decoded; NULL if the route has none by
 * that name. A prefix route's remainder is named "*". */
const char *tk_http_request_param (const tk_http_request_t *req, const char *name);
/* The first value of a query key (decoded, '+' as space), NULL if absent. */
const char *tk_http_query_get (const tk_http_request_t *req, const char *key);
/* Iterates the values of key in order: start with *cursor = 0, call until it
 * returns NULL. With key NULL, iterates every pair and sets *key_out. */
const char *tk_http_query_next (const tk_http_request_t *req, const char *key, size_t *cursor,
                                const char **key_out);
/* A request header, case-insensitive; the first if repeated; NULL if absent. */
const char *tk_http_request_header (const tk_http_request_t *req, const char *name);
/* The body (never NULL, NUL-terminated for convenience, may contain NULs). */
const char *tk_http_request_body (const tk_http_request_t *req, size_t *len);
/* The client's address, without a port: the TCP peer's, or, when the peer
 * is one of opts.trusted_proxies, the one its X-Forwarded-For names (see
 * client_addr.h). What per-client limits and audit records use. */
const char *tk_http_request_remote_addr (const tk_http_request_t *req);
/* The TCP peer as "ip:port" (for logs; a proxy's address behind one). */
const char *tk_http_request_peer_addr (const tk_http_request_t *req);
/* The least role the request's route needs (0: none). */
int tk_http_request_min_role (const tk_http_request_t *req);
/* The role tk_http_grant gave (0 for an open route). */
int tk_http_request_role (const tk_http_request_t *req);
/* The principal tk_http_grant named, "" if none. */
const char *tk_http_request_principal (const tk_http_request_t *req);
/* True once the client connection is gone; responding is still required. */
bool tk_http_request_is_gone (const tk_http_request_t *req);
/* Memory freed together with the request (the per-request arena). NULL on
 * out of memory. Aligned for any type. */
void *tk_http_request_alloc (tk_http_request_t *req, size_t size);
/* The loop the request runs on. */
uv_loop_t *tk_http_request_loop (const tk_http_request_t *req);

/* --- responses ----------------------------------------------------------- */

/* Adds a response header (copied) for the coming response. false if name or
 * value contain CR, LF or NUL, or the name is one the server sets itself
 * (Content-Length, Transfer-Encoding, Connection, Date, Server). Every
 * response carries X-Content-Type-Options: nosniff, and Cache-Control:
 * no-store unless a Cache-Control header is added here. */
bool tk_http_add_header (tk_http_request_t *req, const char *name, const char *value);

/* Adds "Retry-After: <seconds>" for the coming response: wait_ms rounded up
 * to whole seconds (0 when wait_ms <= 0), the only form the services send.
 * false if out of memory. */
bool tk_http_add_retry_after (tk_http_request_t *req, int64_t wait_ms);

/* Sends a complete response (body copied; content_type may be NULL when len
 * is 0) and releases req. Returns 0, or a negative libuv error if the
 * response could not be sent (the client is gone: UV_ECONNRESET). */
int tk_http_respond (tk_http_request_t *req, int status, const char *content_type,
                     const void *body, size_t len);

/* Sends json (takes ownership, may be NULL for a 500) as application/json. */
int tk_http_respond_json (tk_http_request_t *req, int status, cJSON *json);

/* Sends {"error":{"code":code,"message":message,"field":field}}; field is
 * left out when NULL. */
int tk_http_respond_error (tk_http_request_t *req, int status, const char *code,
                           const char *message, const char *field);

/* Called when a chunk has been handed to the kernel (status 0) or dropped
 * (negative libuv error: the client is gone). The producer sends its next
 * chunk from here, so at most one chunk is buffered at a time. Not called
 * after tk_http_stream_end. */
typedef void (*tk_http_stream_written_cb) (tk_http_request_t *req, int status, void *user_data);

/* Starts a streamed response (chunked; to an HTTP/1.0 client the body is
 * sent raw and the connection closed at the end). 0 or negative error. */
int tk_http_stream_begin (tk_http_request_t *req, int status, const char *content_type);

/* Sends one chunk (copied; len 0 is a no-op that still calls back). cb (may
 * be NULL) is called asynchronously. Returns 0, or a negative libuv error
 * without calling cb (client gone: UV_ECONNRESET). */
int tk_http_stream_write (tk_http_request_t *req, const void *data, size_t len,
                          tk_http_stream_written_cb cb, void *user_data);

/* Finishes a streamed response and releases req. */
int tk_http_stream_end (tk_http_request_t *req);

#endif
