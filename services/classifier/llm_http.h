/* llm_http.h - HTTP POSTs to LLM providers with libcurl's multi-socket
 * interface on a libuv loop.
 *
 * curl tells us which sockets to watch (CURLMOPT_SOCKETFUNCTION, watched
 * with uv_poll) and when to wake it (CURLMOPT_TIMERFUNCTION, a uv_timer), so
 * any number of requests run on the loop thread without blocking it.
 */
#ifndef CL_LLM_HTTP_H
#define CL_LLM_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "error.h"

typedef struct cl_http cl_http_t;
typedef struct cl_http_req cl_http_req_t;

/* The outcome of one request, borrowed for the duration of the callback. */
typedef struct {
   long status;            /* HTTP status; 0 when no response arrived */
   int curl_code;          /* CURLcode; 0 on a complete response */
   bool timed_out;         /* the connect or total timeout fired */
   const char *error;      /* curl's error text, "" if none */
   const char *body;       /* the response body (NUL-terminated) */
   size_t body_len;
   const char *retry_after; /* the Retry-After header, NULL if absent */
   double total_ms;        /* time the request took */
} cl_http_result_t;

typedef void (*cl_http_cb) (const cl_http_result_t *res, void *user_data);

/* A client on loop (borrowed). NULL with err on failure. */
cl_http_t *cl_http_new (uv_loop_t *loop, tk_error_t *err);

/* Starts a POST of body (copied) to url with headers (a NULL-terminated list
 * of "Name: value", copied). cb runs once on the loop thread, never from
 * inside this call, unless the request is cancelled first. Returns a handle
 * valid until cb has run or cl_http_cancel is called, or NULL with err. */
cl_http_req_t *cl_http_post (cl_http_t *http, const char *url, const char *const *headers,
                             const char *body, size_t len, int64_t connect_timeout_ms,
                             int64_t timeout_ms, cl_http_cb cb, void *user_data,
                             tk_error_t *err);

/* Aborts a request; its callback is not called. */
void cl_http_cancel (cl_http_req_t *req);

/* Requests in flight. */
size_t cl_http_in_flight (const cl_http_t *http);

/* Cancels whatever is in flight (no callbacks), closes the handles and frees
 * http, then calls closed(user_data) (may be NULL). Accepts NULL. */
void cl_http_close (cl_http_t *http, void (*closed) (void *user_data), void *user_data);

#endif
