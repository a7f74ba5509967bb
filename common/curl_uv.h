/* curl_uv.h - HTTP POSTs with libcurl's multi-socket interface on a libuv
 * loop: the one HTTP client the services use (the classifier's remote LLM
 * providers, triagectl eval's remote predictions, the api's upload
 * forwarding to ingest).
 *
 * curl says which sockets to watch (CURLMOPT_SOCKETFUNCTION, watched with
 * uv_poll) and when to wake it (CURLMOPT_TIMERFUNCTION, a uv_timer), so any
 * number of requests run on the loop thread and no call here blocks it.
 *
 * Threads: every function, and every callback, runs on the loop thread of
 * the loop the client was made on. Nothing here may be called from another
 * thread.
 *
 * Process set-up: the caller's main calls curl_global_init once before the
 * first tk_curl_uv_new and curl_global_cleanup after the last client has
 * closed (curl's global state is not thread-safe to set up lazily).
 *
 * Ownership:
 * - The client owns the multi handle, its timer and its socket watchers. It
 *   is released by tk_curl_uv_close, whose closed callback runs once every
 *   libuv handle it opened has closed; its memory is freed only then.
 * - Each request owns its easy handle, its copies of the URL and headers,
 *   its copy of the body (unless body_borrowed) and its response buffer.
 *   All of it is freed right after its callback returns, or at once by
 *   tk_curl_uv_cancel or tk_curl_uv_close (no callback then).
 * - The result passed to the callback is borrowed for the callback's
 *   duration; the body may be taken with tk_curl_uv_take_body.
 */
#ifndef TK_CURL_UV_H
#define TK_CURL_UV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "error.h"

/* The response-size cap when a request names none. */
#define TK_CURL_UV_RESPONSE_MAX (4 * 1024 * 1024)

typedef struct tk_curl_uv tk_curl_uv_t;
typedef struct tk_curl_uv_req tk_curl_uv_req_t;

/* One POST. Only url is required; zero fields take the defaults given. */
typedef struct {
   const char *url;            /* http:// or https:// only; copied */
   const char *const *headers; /* NULL-terminated "Name: value" list, copied; NULL: none */
   const char *body;           /* the request body; NULL with body_len 0 for none */
   size_t body_len;
   bool body_borrowed;         /* false: body is copied. true: read in place, so it must
                                * stay valid until the callback runs or the request is
                                * cancelled (saves a copy of a large upload) */
   int64_t connect_timeout_ms; /* 0: curl's default (300 s) */
   int64_t timeout_ms;         /* the whole transfer; 0: no limit */
   size_t response_max;        /* the most body bytes accepted; 0: TK_CURL_UV_RESPONSE_MAX.
                                * A longer answer aborts the transfer (too_big) */
   bool decompress;            /* offer Accept-Encoding and decode the answer */
} tk_curl_uv_post_t;

/* The outcome of one request, borrowed for the duration of the callback. */
typedef struct {
   long status;             /* HTTP status; 0 when no complete response arrived */
   int curl_code;           /* CURLcode; 0 on a complete response */
   bool timed_out;          /* the connect or total timeout fired */
   bool too_big;            /* the body outgrew response_max */
   const char *error;       /* what went wrong, "" if nothing */
   const char *body;        /* the response body (NUL-terminated, "" if none) */
   size_t body_len;
   const char *retry_after; /* the Retry-After header, trimmed; NULL if absent */
   double total_ms;         /* time the request took */
   void *priv_;             /* the request; for tk_curl_uv_take_body */
} tk_curl_uv_result_t;

typedef void (*tk_curl_uv_cb) (tk_curl_uv_result_t *res, void *user_data);

/* A client on loop (borrowed, must outlive the client). NULL with err. */
tk_curl_uv_t *tk_curl_uv_new (uv_loop_t *loop, tk_error_t *err);

/* Starts the POST described by post (borrowed for this call, but for a
 * borrowed body). cb runs exactly once on the loop thread, never from inside
 * this call, unless the request is cancelled or the client closed first.
 * Returns a handle valid until cb starts or tk_curl_uv_cancel is called, or
 * NULL with err (also once the client is closing). */
tk_curl_uv_req_t *tk_curl_uv_post (tk_curl_uv_t *c, const tk_curl_uv_post_t *post,
                                   tk_curl_uv_cb cb, void *user_data, tk_error_t *err);

/* Aborts a request and frees it; its callback is not called. Accepts NULL.
 * Not for a request whose callback has started. */
void tk_curl_uv_cancel (tk_curl_uv_req_t *req);

/* Takes the response body out of res, for a callback that keeps it: the
 * caller frees it. NULL (and *len 0) when there was none. res->body is ""
 * afterwards. */
char *tk_curl_uv_take_body (tk_curl_uv_result_t *res, size_t *len);

/* Requests started and whose callback has not started yet. */
size_t tk_curl_uv_in_flight (const tk_curl_uv_t *c);

/* Cancels whatever is in flight (no callbacks), closes the handles, frees c,
 * then calls closed(user_data) (may be NULL) from the loop. May be called
 * from inside a request's callback (the close then happens as it returns).
 * Accepts NULL (closed is then called at once). Call once. */
void tk_curl_uv_close (tk_curl_uv_t *c, void (*closed) (void *user_data), void *user_data);

#endif
