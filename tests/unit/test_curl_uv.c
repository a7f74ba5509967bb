/* Unit tests for common/curl_uv.c, the libcurl-multi-on-libuv client,
 * against a tiny listener on 127.0.0.1 (one thread with blocking sockets,
 * one connection per server): an answer with its Retry-After and body, a
 * response over the size cap refused, a timeout reported, and close freeing
 * whatever is in flight without calling back (the loop must close with no
 * handle left; the sanitizer build checks that nothing leaks). */
#include "test_support.h"

#include "curl_uv.h"
#include "log.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* ---- the listener ------------------------------------------------------------ */

typedef enum {
   SRV_ANSWER, /* 503, Retry-After, a short body */
   SRV_BIG,    /* 200 with a body of 100,000 bytes */
   SRV_SILENT, /* reads the request and never answers */
} srv_mode_t;

typedef struct {
   int fd;
   int port;
   srv_mode_t mode;
   pthread_t thread;
   char request[4096]; /* what it read, NUL-terminated */
} srv_t;

static void
send_all (int fd, const char *data, size_t len)
{
   while (len > 0) {
      ssize_t n = send (fd, data, len, MSG_NOSIGNAL);
      if (n <= 0) {
         return; /* the client has gone: fine for SRV_BIG */
      }
      data += n;
      len -= (size_t) n;
   }
}

static void *
srv_main (void *ud)
{
   srv_t *s = ud;
   int c = accept (s->fd, NULL, NULL);
   if (c < 0) {
      return NULL;
   }
   size_t got = 0;
   while (got < sizeof s->request - 1 && !strstr (s->request, "\r\n\r\nping")) {
      ssize_t n = recv (c, s->request + got, sizeof s->request - 1 - got, 0);
      if (n <= 0) {
         break;
      }
      got += (size_t) n;
      s->request[got] = '\0';
   }
   if (s->mode == SRV_ANSWER) {
      static const char answer[] = "HTTP/1.1 503 Service Unavailable\r\n"
                                   "Retry-After:  7 \r\n"
                                   "Content-Length: 5\r\n"
                                   "Connection: close\r\n\r\nhello";
      send_all (c, answer, sizeof answer - 1);
   } else if (s->mode == SRV_BIG) {
      static const char head[] = "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n";
      char chunk[4000];
      memset (chunk, 'x', sizeof chunk);
      send_all (c, head, sizeof head - 1);
      for (int i = 0; i < 25; i++) {
         send_all (c, chunk, sizeof chunk);
      }
   }
   /* Until the client closes the connection. */
   char sink[512];
   while (recv (c, sink, sizeof sink, 0) > 0) {
   }
   close (c);
   return NULL;
}

static void
srv_start (srv_t *s, srv_mode_t mode)
{
   memset (s, 0, sizeof *s);
   s->mode = mode;
   s->fd = socket (AF_INET, SOCK_STREAM, 0);
   assert_true (s->fd >= 0);
   struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
   a.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
   assert_int_equal (bind (s->fd, (struct sockaddr *) &a, sizeof a), 0);
   assert_int_equal (listen (s->fd, 4), 0);
   socklen_t alen = sizeof a;
   assert_int_equal (getsockname (s->fd, (struct sockaddr *) &a, &alen), 0);
   s->port = ntohs (a.sin_port);
   assert_int_equal (pthread_create (&s->thread, NULL, srv_main, s), 0);
}

static void
srv_stop (srv_t *s)
{
   /* Wakes an accept that never got a connection. */
   shutdown (s->fd, SHUT_RDWR);
   pthread_join (s->thread, NULL);
   close (s->fd);
}

/* ---- the client's side --------------------------------------------------------- */

typedef struct {
   bool called;
   int calls;
   tk_curl_uv_result_t res; /* strings below, copied */
   char error[256];
   char retry_after[64];
   bool has_retry_after;
   char *body; /* taken */
   size_t body_len;
   tk_curl_uv_t *close_from_cb; /* closes this client from the callback */
} outcome_t;

static void
on_done (tk_curl_uv_result_t *res, void *ud)
{
   outcome_t *o = ud;
   o->called = true;
   o->calls++;
   o->res = *res;
   snprintf (o->error, sizeof o->error, "%s", res->error);
   o->has_retry_after = res->retry_after != NULL;
   snprintf (o->retry_after, sizeof o->retry_after, "%s", res->retry_after ? res->retry_after : "");
   o->body = tk_curl_uv_take_body (res, &o->body_len);
   if (o->close_from_cb) {
      tk_curl_uv_close (o->close_from_cb, NULL, NULL);
      /* Closing: no new request is taken. */
      tk_error_t err;
      tk_curl_uv_post_t post = {.url = "http://127.0.0.1:1/"};
      assert_null (tk_curl_uv_post (o->close_from_cb, &post, on_done, o, &err));
   }
}

static void
on_closed (void *ud)
{
   *(bool *) ud = true;
}

static tk_curl_uv_req_t *
post_to (tk_curl_uv_t *c, const srv_t *s, size_t response_max, int64_t timeout_ms, outcome_t *o)
{
   char url[64], body[8];
   snprintf (url, sizeof url, "http://127.0.0.1:%d/v1/x", s->port);
   snprintf (body, sizeof body, "ping");
   const char *headers[] = {"Content-Type: text/plain", "X-Test: 1", NULL};
   tk_curl_uv_post_t post = {
      .url = url,
      .headers = headers,
      .body = body,
      .body_len = 4,
      .connect_timeout_ms = 2000,
      .timeout_ms = timeout_ms,
      .response_max = response_max,
   };
   tk_error_t err;
   tk_curl_uv_req_t *r = tk_curl_uv_post (c, &post, on_done, o, &err);
   assert_non_null (r);
   memset (body, 0, sizeof body); /* the body was copied */
   return r;
}

/* Closes c, waits for its closed callback, and checks the loop has nothing
 * left open. */
static void
close_and_check (uv_loop_t *loop, tk_curl_uv_t *c)
{
   bool closed = false;
   tk_curl_uv_close (c, on_closed, &closed);
   uv_run (loop, UV_RUN_DEFAULT);
   assert_true (closed);
   assert_int_equal (uv_loop_close (loop), 0);
}

/* ---- the tests ------------------------------------------------------------------- */

static void
test_answer_with_retry_after (void **state)
{
   (void) state;
   uv_loop_t loop;
   uv_loop_init (&loop);
   srv_t s;
   srv_start (&s, SRV_ANSWER);
   tk_error_t err;
   tk_curl_uv_t *c = tk_curl_uv_new (&loop, &err);
   assert_non_null (c);
   outcome_t o = {0};
   post_to (c, &s, 0, 5000, &o);
   assert_int_equal (tk_curl_uv_in_flight (c), 1);
   assert_false (o.called); /* never from inside the post */
   assert_true (tk_test_run_until (&loop, &o.called, 5000));
   assert_int_equal (tk_curl_uv_in_flight (c), 0);
   assert_int_equal (o.res.status, 503);
   assert_int_equal (o.res.curl_code, 0);
   assert_false (o.res.timed_out);
   assert_false (o.res.too_big);
   assert_true (o.has_retry_after);
   assert_string_equal (o.retry_after, "7");
   assert_int_equal (o.body_len, 5);
   assert_memory_equal (o.body, "hello", 5);
   free (o.body);
   close_and_check (&loop, c);
   srv_stop (&s);
   assert_non_null (strstr (s.request, "POST /v1/x HTTP/1.1\r\n"));
   assert_non_null (strstr (s.request, "X-Test: 1\r\n"));
   assert_non_null (strstr (s.request, "\r\n\r\nping"));
}

static void
test_response_over_the_cap_is_refused (void **state)
{
   (void) state;
   uv_loop_t loop;
   uv_loop_init (&loop);
   srv_t s;
   srv_start (&s, SRV_BIG);
   tk_error_t err;
   tk_curl_uv_t *c = tk_curl_uv_new (&loop, &err);
   assert_non_null (c);
   outcome_t o = {0};
   post_to (c, &s, 1000, 5000, &o);
   assert_true (tk_test_run_until (&loop, &o.called, 5000));
   assert_true (o.res.too_big);
   assert_int_equal (o.res.status, 0);
   assert_int_not_equal (o.res.curl_code, 0);
   assert_false (o.res.timed_out);
   assert_non_null (strstr (o.error, "larger than 1000 bytes"));
   assert_true (o.body_len <= 1000);
   free (o.body);
   close_and_check (&loop, c);
   srv_stop (&s);
}

static void
test_timeout_is_reported (void **state)
{
   (void) state;
   uv_loop_t loop;
   uv_loop_init (&loop);
   srv_t s;
   srv_start (&s, SRV_SILENT);
   tk_error_t err;
   tk_curl_uv_t *c = tk_curl_uv_new (&loop, &err);
   assert_non_null (c);
   outcome_t o = {0};
   uint64_t t0 = tk_test_now_ms ();
   post_to (c, &s, 0, 300, &o);
   assert_true (tk_test_run_until (&loop, &o.called, 5000));
   uint64_t took = tk_test_now_ms () - t0;
   assert_true (o.res.timed_out);
   assert_int_equal (o.res.status, 0);
   assert_int_equal (o.res.curl_code, CURLE_OPERATION_TIMEDOUT);
   assert_true (took >= 250 && took < 3000);
   free (o.body);
   close_and_check (&loop, c);
   srv_stop (&s);
}

static void
test_close_cancels_in_flight (void **state)
{
   (void) state;
   uv_loop_t loop;
   uv_loop_init (&loop);
   srv_t s1, s2;
   srv_start (&s1, SRV_SILENT);
   srv_start (&s2, SRV_SILENT);
   tk_error_t err;
   tk_curl_uv_t *c = tk_curl_uv_new (&loop, &err);
   assert_non_null (c);
   outcome_t o1 = {0}, o2 = {0};
   post_to (c, &s1, 0, 0, &o1);
   tk_curl_uv_req_t *r2 = post_to (c, &s2, 0, 0, &o2);
   /* Let both connect and send; neither is answered. */
   const bool never = false;
   tk_test_run_until (&loop, &never, 200);
   assert_int_equal (tk_curl_uv_in_flight (c), 2);
   tk_curl_uv_cancel (r2);
   assert_int_equal (tk_curl_uv_in_flight (c), 1);
   close_and_check (&loop, c);
   assert_false (o1.called);
   assert_false (o2.called);
   srv_stop (&s1);
   srv_stop (&s2);
}

static void
test_close_from_a_callback (void **state)
{
   (void) state;
   uv_loop_t loop;
   uv_loop_init (&loop);
   srv_t s1, s2;
   srv_start (&s1, SRV_ANSWER);
   srv_start (&s2, SRV_SILENT);
   tk_error_t err;
   tk_curl_uv_t *c = tk_curl_uv_new (&loop, &err);
   assert_non_null (c);
   outcome_t o1 = {0}, o2 = {0};
   o1.close_from_cb = c;
   post_to (c, &s1, 0, 0, &o1);
   post_to (c, &s2, 0, 0, &o2);
   uv_run (&loop, UV_RUN_DEFAULT); /* ends once the client has closed */
   assert_int_equal (o1.calls, 1);
   assert_false (o2.called);
   free (o1.body);
   assert_int_equal (uv_loop_close (&loop), 0);
   srv_stop (&s1);
   srv_stop (&s2);
}

static void
test_close_null (void **state)
{
   (void) state;
   bool closed = false;
   tk_curl_uv_close (NULL, on_closed, &closed);
   assert_true (closed);
}

int
main (void)
{
   tk_log_init ("test", TK_LOG_ERROR);
   curl_global_init (CURL_GLOBAL_DEFAULT);
   const struct CMUnitTest tests[] = {
      cmocka_unit_test (test_answer_with_retry_after),
      cmocka_unit_test (test_response_over_the_cap_is_refused),
      cmocka_unit_test (test_timeout_is_reported),
      cmocka_unit_test (test_close_cancels_in_flight),
      cmocka_unit_test (test_close_from_a_callback),
      cmocka_unit_test (test_close_null),
   };
   int rc = cmocka_run_group_tests (tests, NULL, NULL);
   curl_global_cleanup ();
   return rc;
}
