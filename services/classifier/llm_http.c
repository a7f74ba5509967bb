/* llm_http.c - libcurl multi-socket on uv_poll and uv_timer. */
#include "llm_http.h"

#include "buf.h"
#include "llm_parse.h"

#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct cl_http {
   uv_loop_t *loop;
   CURLM *multi;
   uv_timer_t timer;
   cl_http_req_t *reqs; /* doubly linked list of requests in flight */
   struct sock_s *socks; /* sockets being watched */
   size_t n_reqs;
   bool closing;
   void (*closed) (void *);
   void *closed_ud;
};

struct cl_http_req {
   cl_http_t *http;
   CURL *easy;
   struct curl_slist *headers;
   char *body;
   tk_buf_t response;
   char retry_after[128];
   bool has_retry_after;
   bool too_big;
   char errbuf[CURL_ERROR_SIZE];
   cl_http_cb cb;
   void *user_data;
   cl_http_req_t *prev, *next;
};

/* One watched socket; freed in its close callback. */
typedef struct sock_s {
   uv_poll_t poll;
   curl_socket_t fd;
   cl_http_t *http;
   struct sock_s *prev, *next;
} sock_t;

static void
sock_closed (uv_handle_t *h)
{
   free (h->data);
}

static void
sock_close (sock_t *s)
{
   cl_http_t *http = s->http;
   if (s->prev) {
      s->prev->next = s->next;
   } else {
      http->socks = s->next;
   }
   if (s->next) {
      s->next->prev = s->prev;
   }
   uv_poll_stop (&s->poll);
   uv_close ((uv_handle_t *) &s->poll, sock_closed);
}

static void check_done (cl_http_t *http);

static void
on_poll (uv_poll_t *p, int status, int events)
{
   sock_t *s = p->data;
   int flags = 0;
   if (status < 0) {
      flags = CURL_CSELECT_ERR;
   } else {
      flags |= (events & UV_READABLE) ? CURL_CSELECT_IN : 0;
      flags |= (events & UV_WRITABLE) ? CURL_CSELECT_OUT : 0;
   }
   cl_http_t *http = s->http;
   int running;
   curl_multi_socket_action (http->multi, s->fd, flags, &running);
   check_done (http);
}

static int
socket_cb (CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
   (void) easy;
   cl_http_t *http = userp;
   sock_t *s = socketp;
   if (what == CURL_POLL_REMOVE) {
      if (s) {
         sock_close (s);
         if (!http->closing) {
            curl_multi_assign (http->multi, fd, NULL);
         }
      }
      return 0;
   }
   if (!s) {
      if (!(s = calloc (1, sizeof *s))) {
         return -1;
      }
      s->fd = fd;
      s->http = http;
      if (uv_poll_init_socket (http->loop, &s->poll, fd) != 0) {
         free (s);
         return -1;
      }
      s->poll.data = s;
      s->next = http->socks;
      if (http->socks) {
         http->socks->prev = s;
      }
      http->socks = s;
      curl_multi_assign (http->multi, fd, s);
   }
   int events = 0;
   events |= (what == CURL_POLL_IN || what == CURL_POLL_INOUT) ? UV_READABLE : 0;
   events |= (what == CURL_POLL_OUT || what == CURL_POLL_INOUT) ? UV_WRITABLE : 0;
   uv_poll_start (&s->poll, events, on_poll);
   return 0;
}

static void
on_timer (uv_timer_t *t)
{
   cl_http_t *http = t->data;
   int running;
   curl_multi_socket_action (http->multi, CURL_SOCKET_TIMEOUT, 0, &running);
   check_done (http);
}

static int
timer_cb (CURLM *multi, long timeout_ms, void *userp)
{
   (void) multi;
   cl_http_t *http = userp;
   if (timeout_ms < 0) {
      uv_timer_stop (&http->timer);
   } else {
      /* 0 means "as soon as possible": the timer fires on the next loop
       * iteration, never from inside this callback. */
      uv_timer_start (&http->timer, on_timer, (uint64_t) timeout_ms, 0);
   }
   return 0;
}

cl_http_t *
cl_http_new (uv_loop_t *loop, tk_error_t *err)
{
   cl_http_t *http = calloc (1, sizeof *http);
   if (!http || !(http->multi = curl_multi_init ())) {
      free (http);
      tk_error_set (err, TK_ERR_NOMEM, 0, "cannot create a libcurl multi handle");
      return NULL;
   }
   http->loop = loop;
   uv_timer_init (loop, &http->timer);
   http->timer.data = http;
   curl_multi_setopt (http->multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
   curl_multi_setopt (http->multi, CURLMOPT_SOCKETDATA, http);
   curl_multi_setopt (http->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
   curl_multi_setopt (http->multi, CURLMOPT_TIMERDATA, http);
   return http;
}

static size_t
on_body (char *data, size_t size, size_t nmemb, void *ud)
{
   cl_http_req_t *r = ud;
   size_t n = size * nmemb;
   if (r->response.len + n > TK_LLM_RESPONSE_MAX) {
      r->too_big = true;
      return 0; /* aborts the transfer */
   }
   return tk_buf_append (&r->response, data, n) ? n : 0;
}

static size_t
on_header (char *data, size_t size, size_t nmemb, void *ud)
{
   cl_http_req_t *r = ud;
   size_t n = size * nmemb;
   static const char name[] = "retry-after:";
   if (n > sizeof name - 1 && strncasecmp (data, name, sizeof name - 1) == 0) {
      size_t vlen = n - (sizeof name - 1);
      if (vlen >= sizeof r->retry_after) {
         vlen = sizeof r->retry_after - 1;
      }
      memcpy (r->retry_after, data + sizeof name - 1, vlen);
      r->retry_after[vlen] = '\0';
      /* Trim CRLF; tk_retry_after_parse trims the rest. */
      char *cr = strpbrk (r->retry_after, "\r\n");
      if (cr) {
         *cr = '\0';
      }
      r->has_retry_after = true;
   }
   return n;
}

static void
req_free (cl_http_req_t *r)
{
   cl_http_t *http = r->http;
   if (r->prev) {
      r->prev->next = r->next;
   } else {
      http->reqs = r->next;
   }
   if (r->next) {
      r->next->prev = r->prev;
   }
   http->n_reqs--;
   curl_multi_remove_handle (http->multi, r->easy);
   curl_easy_cleanup (r->easy);
   curl_slist_free_all (r->headers);
   free (r->body);
   tk_buf_destroy (&r->response);
   free (r);
}

cl_http_req_t *
cl_http_post (cl_http_t *http, const char *url, const char *const *headers, const char *body,
              size_t len, int64_t connect_timeout_ms, int64_t timeout_ms, cl_http_cb cb,
              void *user_data, tk_error_t *err)
{
   if (http->closing) {
      tk_error_set (err, TK_ERR_HTTP, 0, "the HTTP client is closing");
      return NULL;
   }
   cl_http_req_t *r = calloc (1, sizeof *r);
   if (!r || !(r->easy = curl_easy_init ()) || !(r->body = malloc (len + 1))) {
      if (r) {
         curl_easy_cleanup (r->easy);
      }
      free (r);
      tk_error_set (err, TK_ERR_NOMEM, 0, "out of memory");
      return NULL;
   }
   memcpy (r->body, body, len);
   r->body[len] = '\0';
   r->http = http;
   r->cb = cb;
   r->user_data = user_data;
   for (size_t i = 0; headers && headers[i]; i++) {
      struct curl_slist *h = curl_slist_append (r->headers, headers[i]);
      if (!h) {
         curl_slist_free_all (r->headers);
         curl_easy_cleanup (r->easy);
         free (r->body);
         free (r);
         tk_error_set (err, TK_ERR_NOMEM, 0, "out of memory");
         return NULL;
      }
      r->headers = h;
   }
   CURL *e = r->easy;
   curl_easy_setopt (e, CURLOPT_URL, url);
   curl_easy_setopt (e, CURLOPT_POST, 1L);
   curl_easy_setopt (e, CURLOPT_POSTFIELDS, r->body);
   curl_easy_setopt (e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) len);
   curl_easy_setopt (e, CURLOPT_HTTPHEADER, r->headers);
   curl_easy_setopt (e, CURLOPT_WRITEFUNCTION, on_body);
   curl_easy_setopt (e, CURLOPT_WRITEDATA, r);
   curl_easy_setopt (e, CURLOPT_HEADERFUNCTION, on_header);
   curl_easy_setopt (e, CURLOPT_HEADERDATA, r);
   curl_easy_setopt (e, CURLOPT_ERRORBUFFER, r->errbuf);
   curl_easy_setopt (e, CURLOPT_PRIVATE, r);
   curl_easy_setopt (e, CURLOPT_NOSIGNAL, 1L);
   curl_easy_setopt (e, CURLOPT_CONNECTTIMEOUT_MS, (long) connect_timeout_ms);
   curl_easy_setopt (e, CURLOPT_TIMEOUT_MS, (long) timeout_ms);
   curl_easy_setopt (e, CURLOPT_ACCEPT_ENCODING, "");
   r->next = http->reqs;
   if (http->reqs) {
      http->reqs->prev = r;
   }
   http->reqs = r;
   http->n_reqs++;
   CURLMcode mc = curl_multi_add_handle (http->multi, e);
   if (mc != CURLM_OK) {
      tk_error_set (err, TK_ERR_HTTP, (int) mc, "curl_multi_add_handle: %s",
                    curl_multi_strerror (mc));
      req_free (r);
      return NULL;
   }
   return r;
}

static void
check_done (cl_http_t *http)
{
   CURLMsg *msg;
   int left;
   while ((msg = curl_multi_info_read (http->multi, &left))) {
      if (msg->msg != CURLMSG_DONE) {
         continue;
      }
      cl_http_req_t *r = NULL;
      curl_easy_getinfo (msg->easy_handle, CURLINFO_PRIVATE, (char **) &r);
      CURLcode code = msg->data.result;
      cl_http_result_t res;
      memset (&res, 0, sizeof res);
      curl_easy_getinfo (r->easy, CURLINFO_RESPONSE_CODE, &res.status);
      double secs = 0;
      curl_easy_getinfo (r->easy, CURLINFO_TOTAL_TIME, &secs);
      res.total_ms = secs * 1000.0;
      res.curl_code = (int) code;
      res.timed_out = code == CURLE_OPERATION_TIMEDOUT;
      if (code != CURLE_OK) {
         if (r->too_big) {
            snprintf (r->errbuf, sizeof r->errbuf, "response larger than %d bytes",
                      TK_LLM_RESPONSE_MAX);
         } else if (!r->errbuf[0]) {
            snprintf (r->errbuf, sizeof r->errbuf, "%s", curl_easy_strerror (code));
         }
         res.status = 0;
      }
      res.error = r->errbuf;
      res.body = r->response.data ? r->response.data : "";
      res.body_len = r->response.len;
      res.retry_after = r->has_retry_after ? r->retry_after : NULL;
      cl_http_cb cb = r->cb;
      void *ud = r->user_data;
      /* The callback may start new requests (curl_multi_add_handle is fine
       * here: we are outside curl's own callbacks) but must not see r. */
      cb (&res, ud);
      req_free (r);
   }
}

void
cl_http_cancel (cl_http_req_t *req)
{
   if (req) {
      req_free (req);
   }
}

size_t
cl_http_in_flight (const cl_http_t *http)
{
   return http->n_reqs;
}

static void
http_timer_closed (uv_handle_t *h)
{
   cl_http_t *http = h->data;
   void (*closed) (void *) = http->closed;
   void *ud = http->closed_ud;
   free (http);
   if (closed) {
      closed (ud);
   }
}

void
cl_http_close (cl_http_t *http, void (*closed) (void *user_data), void *user_data)
{
   if (!http) {
      if (closed) {
         closed (user_data);
      }
      return;
   }
   http->closing = true;
   http->closed = closed;
   http->closed_ud = user_data;
   while (http->reqs) {
      req_free (http->reqs);
   }
   /* Removing the last easy handle made curl ask us to stop watching its
    * sockets (their poll handles are closing now); cleanup closes the rest. */
   curl_multi_cleanup (http->multi);
   http->multi = NULL;
   while (http->socks) {
      sock_close (http->socks);
   }
   uv_timer_stop (&http->timer);
   uv_close ((uv_handle_t *) &http->timer, http_timer_closed);
}
