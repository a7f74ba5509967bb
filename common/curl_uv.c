/* curl_uv.c - libcurl multi-socket on uv_poll and uv_timer. */
#include "curl_uv.h"

#include "buf.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct tk_curl_uv {
   uv_loop_t *loop;
   CURLM *multi;
   uv_timer_t timer;
   tk_curl_uv_req_t *reqs; /* doubly linked list of requests in flight */
   struct sock_s *socks;   /* sockets being watched */
   size_t n_reqs;
   unsigned in_cb;         /* callbacks running (a close waits for them) */
   bool closing;           /* tk_curl_uv_close was called */
   bool closed_down;       /* the handles are closing */
   void (*closed) (void *);
   void *closed_ud;
};

struct tk_curl_uv_req {
   tk_curl_uv_t *c;
   CURL *easy;
   struct curl_slist *headers;
   char *body; /* our copy, NULL when borrowed */
   size_t response_max;
   tk_buf_t response;
   char retry_after[128];
   bool has_retry_after;
   bool too_big;
   bool linked; /* in c->reqs (until its callback starts) */
   char errbuf[CURL_ERROR_SIZE];
   tk_curl_uv_cb cb;
   void *user_data;
   tk_curl_uv_req_t *prev, *next;
};

/* One watched socket; freed in its close callback. */
typedef struct sock_s {
   uv_poll_t poll;
   curl_socket_t fd;
   tk_curl_uv_t *c;
   struct sock_s *prev, *next;
} sock_t;

/* ---- sockets and the timer ------------------------------------------------ */

static void
sock_closed (uv_handle_t *h)
{
   free (h->data);
}

static void
sock_close (sock_t *s)
{
   tk_curl_uv_t *c = s->c;
   if (s->prev) {
      s->prev->next = s->next;
   } else {
      c->socks = s->next;
   }
   if (s->next) {
      s->next->prev = s->prev;
   }
   uv_poll_stop (&s->poll);
   uv_close ((uv_handle_t *) &s->poll, sock_closed);
}

static void check_done (tk_curl_uv_t *c);

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
   tk_curl_uv_t *c = s->c;
   int running;
   curl_multi_socket_action (c->multi, s->fd, flags, &running);
   check_done (c);
}

static int
socket_cb (CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
   (void) easy;
   tk_curl_uv_t *c = userp;
   sock_t *s = socketp;
   if (what == CURL_POLL_REMOVE) {
      if (s) {
         sock_close (s);
         if (!c->closed_down) {
            curl_multi_assign (c->multi, fd, NULL);
         }
      }
      return 0;
   }
   if (!s) {
      if (!(s = calloc (1, sizeof *s))) {
         return -1;
      }
      s->fd = fd;
      s->c = c;
      if (uv_poll_init_socket (c->loop, &s->poll, fd) != 0) {
         free (s);
         return -1;
      }
      s->poll.data = s;
      s->next = c->socks;
      if (c->socks) {
         c->socks->prev = s;
      }
      c->socks = s;
      curl_multi_assign (c->multi, fd, s);
   }
   int events = 0;
   events |= (what & CURL_POLL_IN) ? UV_READABLE : 0;
   events |= (what & CURL_POLL_OUT) ? UV_WRITABLE : 0;
   uv_poll_start (&s->poll, events, on_poll);
   return 0;
}

static void
on_timer (uv_timer_t *t)
{
   tk_curl_uv_t *c = t->data;
   int running;
   curl_multi_socket_action (c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
   check_done (c);
}

static int
timer_cb (CURLM *multi, long timeout_ms, void *userp)
{
   (void) multi;
   tk_curl_uv_t *c = userp;
   if (timeout_ms < 0) {
      uv_timer_stop (&c->timer);
   } else {
      /* 0 means "as soon as possible": the timer fires on the next loop
       * iteration, never from inside this callback. */
      uv_timer_start (&c->timer, on_timer, (uint64_t) timeout_ms, 0);
   }
   return 0;
}

tk_curl_uv_t *
tk_curl_uv_new (uv_loop_t *loop, tk_error_t *err)
{
   tk_curl_uv_t *c = calloc (1, sizeof *c);
   if (!c || !(c->multi = curl_multi_init ())) {
      free (c);
      tk_error_set (err, TK_ERR_NOMEM, 0, "cannot create a libcurl multi handle");
      return NULL;
   }
   c->loop = loop;
   uv_timer_init (loop, &c->timer);
   c->timer.data = c;
   curl_multi_setopt (c->multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
   curl_multi_setopt (c->multi, CURLMOPT_SOCKETDATA, c);
   curl_multi_setopt (c->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
   curl_multi_setopt (c->multi, CURLMOPT_TIMERDATA, c);
   return c;
}

/* ---- one request ------------------------------------------------------------ */

static size_t
on_body (char *data, size_t size, size_t nmemb, void *ud)
{
   tk_curl_uv_req_t *r = ud;
   size_t n = size * nmemb;
   if (r->response.len + n > r->response_max) {
      r->too_big = true;
      return 0; /* aborts the transfer */
   }
   return tk_buf_append (&r->response, data, n) ? n : 0;
}

static size_t
on_header (char *data, size_t size, size_t nmemb, void *ud)
{
   tk_curl_uv_req_t *r = ud;
   size_t n = size * nmemb;
   static const char name[] = "retry-after:";
   if (n > sizeof name - 1 && strncasecmp (data, name, sizeof name - 1) == 0) {
      const char *v = data + sizeof name - 1;
      size_t vl = n - (sizeof name - 1);
      while (vl && (*v == ' ' || *v == '\t')) {
         v++;
         vl--;
      }
      while (vl && (v[vl - 1] == '\r' || v[vl - 1] == '\n' || v[vl - 1] == ' ' ||
                    v[vl - 1] == '\t')) {
         vl--;
      }
      if (vl >= sizeof r->retry_after) {
         vl = sizeof r->retry_after - 1;
      }
      memcpy (r->retry_after, v, vl);
      r->retry_after[vl] = '\0';
      r->has_retry_after = true;
   }
   return n;
}

static void
req_unlink (tk_curl_uv_req_t *r)
{
   tk_curl_uv_t *c = r->c;
   if (!r->linked) {
      return;
   }
   if (r->prev) {
      r->prev->next = r->next;
   } else {
      c->reqs = r->next;
   }
   if (r->next) {
      r->next->prev = r->prev;
   }
   r->linked = false;
   c->n_reqs--;
}

static void
req_free (tk_curl_uv_req_t *r)
{
   req_unlink (r);
   if (r->easy) {
      curl_multi_remove_handle (r->c->multi, r->easy);
      curl_easy_cleanup (r->easy);
   }
   curl_slist_free_all (r->headers);
   free (r->body);
   tk_buf_destroy (&r->response);
   free (r);
}

/* Fills r's headers from a NULL-terminated list; false when out of memory. */
static bool
req_headers (tk_curl_uv_req_t *r, const char *const *headers)
{
   for (size_t i = 0; headers && headers[i]; i++) {
      struct curl_slist *h = curl_slist_append (r->headers, headers[i]);
      if (!h) {
         return false;
      }
      r->headers = h;
   }
   return true;
}

static void
req_setopt (tk_curl_uv_req_t *r, const tk_curl_uv_post_t *post, const char *body)
{
   CURL *e = r->easy;
   curl_easy_setopt (e, CURLOPT_URL, post->url);
   curl_easy_setopt (e, CURLOPT_PROTOCOLS_STR, "http,https");
   curl_easy_setopt (e, CURLOPT_POST, 1L);
   curl_easy_setopt (e, CURLOPT_POSTFIELDS, body ? body : "");
   curl_easy_setopt (e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) post->body_len);
   curl_easy_setopt (e, CURLOPT_HTTPHEADER, r->headers);
   curl_easy_setopt (e, CURLOPT_WRITEFUNCTION, on_body);
   curl_easy_setopt (e, CURLOPT_WRITEDATA, r);
   curl_easy_setopt (e, CURLOPT_HEADERFUNCTION, on_header);
   curl_easy_setopt (e, CURLOPT_HEADERDATA, r);
   curl_easy_setopt (e, CURLOPT_ERRORBUFFER, r->errbuf);
   curl_easy_setopt (e, CURLOPT_PRIVATE, r);
   curl_easy_setopt (e, CURLOPT_NOSIGNAL, 1L);
   if (post->connect_timeout_ms > 0) {
      curl_easy_setopt (e, CURLOPT_CONNECTTIMEOUT_MS, (long) post->connect_timeout_ms);
   }
   if (post->timeout_ms > 0) {
      curl_easy_setopt (e, CURLOPT_TIMEOUT_MS, (long) post->timeout_ms);
   }
   if (post->decompress) {
      curl_easy_setopt (e, CURLOPT_ACCEPT_ENCODING, "");
   }
}

tk_curl_uv_req_t *
tk_curl_uv_post (tk_curl_uv_t *c, const tk_curl_uv_post_t *post, tk_curl_uv_cb cb,
                 void *user_data, tk_error_t *err)
{
   if (c->closing) {
      tk_error_set (err, TK_ERR_HTTP, 0, "the HTTP client is closing");
      return NULL;
   }
   const char *body = post->body;
   tk_curl_uv_req_t *r = calloc (1, sizeof *r);
   if (!r) {
      tk_error_set (err, TK_ERR_NOMEM, 0, "out of memory");
      return NULL;
   }
   r->c = c;
   r->cb = cb;
   r->user_data = user_data;
   r->response_max = post->response_max ? post->response_max : TK_CURL_UV_RESPONSE_MAX;
   if (!post->body_borrowed) {
      if (!(r->body = malloc (post->body_len + 1))) {
         goto nomem;
      }
      if (post->body_len) {
         memcpy (r->body, post->body, post->body_len);
      }
      r->body[post->body_len] = '\0';
      body = r->body;
   }
   if (!req_headers (r, post->headers) || !(r->easy = curl_easy_init ())) {
      goto nomem;
   }
   req_setopt (r, post, body);
   r->next = c->reqs;
   if (c->reqs) {
      c->reqs->prev = r;
   }
   c->reqs = r;
   r->linked = true;
   c->n_reqs++;
   CURLMcode mc = curl_multi_add_handle (c->multi, r->easy);
   if (mc != CURLM_OK) {
      tk_error_set (err, TK_ERR_HTTP, (int) mc, "curl_multi_add_handle: %s",
                    curl_multi_strerror (mc));
      req_free (r);
      return NULL;
   }
   return r;
nomem:
   req_free (r);
   tk_error_set (err, TK_ERR_NOMEM, 0, "out of memory");
   return NULL;
}

/* ---- completion ------------------------------------------------------------- */

static void close_down (tk_curl_uv_t *c);

/* Fills res from r, finished with code. */
static void
req_result (tk_curl_uv_req_t *r, CURLcode code, tk_curl_uv_result_t *res)
{
   memset (res, 0, sizeof *res);
   curl_easy_getinfo (r->easy, CURLINFO_RESPONSE_CODE, &res->status);
   double secs = 0;
   curl_easy_getinfo (r->easy, CURLINFO_TOTAL_TIME, &secs);
   res->total_ms = secs * 1000.0;
   res->curl_code = (int) code;
   res->timed_out = code == CURLE_OPERATION_TIMEDOUT;
   res->too_big = r->too_big;
   if (code != CURLE_OK) {
      if (r->too_big) {
         snprintf (r->errbuf, sizeof r->errbuf, "response larger than %zu bytes",
                   r->response_max);
      } else if (!r->errbuf[0]) {
         snprintf (r->errbuf, sizeof r->errbuf, "%s", curl_easy_strerror (code));
      }
      res->status = 0;
   }
   res->error = r->errbuf;
   res->body = r->response.data ? r->response.data : "";
   res->body_len = r->response.len;
   res->retry_after = r->has_retry_after ? r->retry_after : NULL;
   res->priv_ = r;
}

static void
check_done (tk_curl_uv_t *c)
{
   CURLMsg *msg;
   int left;
   while (!c->closing && (msg = curl_multi_info_read (c->multi, &left))) {
      if (msg->msg != CURLMSG_DONE) {
         continue;
      }
      tk_curl_uv_req_t *r = NULL;
      curl_easy_getinfo (msg->easy_handle, CURLINFO_PRIVATE, (char **) &r);
      tk_curl_uv_result_t res;
      req_result (r, msg->data.result, &res);
      /* The request leaves the in-flight list before its callback, which may
       * start new requests (curl_multi_add_handle is fine here: we are
       * outside curl's own callbacks), cancel others, or close the client. */
      req_unlink (r);
      c->in_cb++;
      r->cb (&res, r->user_data);
      c->in_cb--;
      req_free (r);
   }
   if (c->closing && !c->closed_down && c->in_cb == 0) {
      close_down (c);
   }
}

char *
tk_curl_uv_take_body (tk_curl_uv_result_t *res, size_t *len)
{
   tk_curl_uv_req_t *r = res->priv_;
   size_t n = 0;
   char *body = r && r->response.len ? tk_buf_steal (&r->response, &n) : NULL;
   res->body = "";
   res->body_len = 0;
   if (len) {
      *len = body ? n : 0;
   }
   return body;
}

void
tk_curl_uv_cancel (tk_curl_uv_req_t *req)
{
   if (req) {
      req_free (req);
   }
}

size_t
tk_curl_uv_in_flight (const tk_curl_uv_t *c)
{
   return c->n_reqs;
}

/* ---- shutdown ----------------------------------------------------------------- */

static void
timer_closed (uv_handle_t *h)
{
   tk_curl_uv_t *c = h->data;
   void (*closed) (void *) = c->closed;
   void *ud = c->closed_ud;
   free (c);
   if (closed) {
      closed (ud);
   }
}

static void
close_down (tk_curl_uv_t *c)
{
   c->closed_down = true;
   while (c->reqs) {
      req_free (c->reqs);
   }
   /* Removing the last easy handle made curl ask us to stop watching its
    * sockets (their poll handles are closing now); cleanup closes the
    * connections it kept, and we stop watching whatever is left. */
   curl_multi_cleanup (c->multi);
   c->multi = NULL;
   while (c->socks) {
      sock_close (c->socks);
   }
   uv_timer_stop (&c->timer);
   uv_close ((uv_handle_t *) &c->timer, timer_closed);
}

void
tk_curl_uv_close (tk_curl_uv_t *c, void (*closed) (void *user_data), void *user_data)
{
   if (!c) {
      if (closed) {
         closed (user_data);
      }
      return;
   }
   if (c->closing) {
      return;
   }
   c->closing = true;
   c->closed = closed;
   c->closed_ud = user_data;
   if (c->in_cb == 0) {
      close_down (c);
   }
}
