/* Hostile input against every HTTP listener, over raw TCP sockets.
 *
 * triage-api, triage-ingest and triage-classifier run as child processes
 * against a unique database and unique topics, with low limits:
 * TRIAGE_HTTP_MAX_BODY=1MB, TRIAGE_HTTP_REQUEST_TIMEOUT=2s,
 * TRIAGE_HTTP_MAX_CONNECTIONS=64. Each case sends what a broken or malicious
 * client would and checks what a user would: a clear 4xx answer (or the
 * connection cut where no answer is possible), then that the service still
 * answers /healthz and that its resident memory (VmRSS) came back near the
 * baseline it had before the attack. No timing is asserted.
 */
#include "test_support.h"

#include <cjson/cJSON.h>

#include "kafka_io.h"
#include "service_proc.h"
#include "store.h"
#include "ticket.h"
#include "timeutil.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#define ADMIN_KEY "hostile-admin-key-0123456789abcdef"
#define N_SVC 3
/* Generous: ASan's quarantine keeps freed memory resident for a while. */
#define RSS_SLACK_KB (96 * 1024)

static const char *const svc_names[N_SVC] = {"api", "ingest", "classifier"};
static tk_test_service_t svcs[N_SVC];
static bool started[N_SVC];
static long baseline_kb[N_SVC];

static char db_name[64];
static tk_test_topics_t topics;
static char env_db[128], env_mongo[256], env_brokers[256];
static tk_store_t *store;

/* ---- raw sockets ---------------------------------------------------------- */

static int
raw_connect (int port)
{
   int fd = socket (AF_INET, SOCK_STREAM, 0);
   assert_true (fd >= 0);
   struct sockaddr_in a;
   memset (&a, 0, sizeof a);
   a.sin_family = AF_INET;
   a.sin_port = htons ((uint16_t) port);
   a.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
   /* A bound on every blocking call, so a server that never answers fails
    * the test instead of hanging it. */
   struct timeval tv = {15, 0};
   setsockopt (fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
   setsockopt (fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
   assert_int_equal (connect (fd, (struct sockaddr *) &a, sizeof a), 0);
   return fd;
}

/* Sends len bytes; returns how many went out before an error (the server
 * may close early, e.g. after a 413: that is not a failure here). */
static size_t
raw_send (int fd, const void *data, size_t len)
{
   size_t off = 0;
   while (off < len) {
      ssize_t n = send (fd, (const char *) data + off, len - off, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) {
         continue;
      }
      if (n <= 0) {
         break;
      }
      off += (size_t) n;
   }
   return off;
}

/* Reads until EOF, a reset, the receive timeout, or cap - 1 bytes. */
static size_t
raw_recv_all (int fd, char *out, size_t cap)
{
   size_t off = 0;
   while (off + 1 < cap) {
      ssize_t n = recv (fd, out + off, cap - 1 - off, 0);
      if (n < 0 && errno == EINTR) {
         continue;
      }
      if (n <= 0) {
         break;
      }
      off += (size_t) n;
   }
   out[off] = '\0';
   return off;
}

/* The status of the first response in text, 0 if there is none. */
static int
status_of (const char *text)
{
   int status = 0;
   if (sscanf (text, "HTTP/1.%*d %d", &status) != 1) {
      return 0;
   }
   return status;
}

/* Sends a whole request stream, then reads every answer until the server
 * closes. Returns the status of the first answer. */
static int
exchange (int port, const void *data, size_t len, char *out, size_t cap)
{
   int fd = raw_connect (port);
   raw_send (fd, data, len);
   raw_recv_all (fd, out, cap);
   close (fd);
   return status_of (out);
}

static int
exchange_str (int port, const char *s, char *out, size_t cap)
{
   return exchange (port, s, strlen (s), out, cap);
}

/* ---- health and memory ---------------------------------------------------- */

static long
rss_kb (pid_t pid)
{
   long kb = tk_test_rss_kb (pid);
   assert_true (kb > 0);
   return kb;
}

/* GET /healthz answers 200 (retried for a while: connections the attack
 * left may still be closing), and memory is back near the baseline. */
static void
assert_still_well (int i, const char *after)
{
   char url[128];
   snprintf (url, sizeof url, "%s/healthz", svcs[i].base_url);
   long status = 0;
   for (int attempt = 0; attempt < 100 && status != 200; attempt++) {
      tk_test_http_response_t r;
      if (tk_test_http ("GET", url, NULL, 0, NULL, &r)) {
         status = r.status;
         tk_test_http_free (&r);
      }
      if (status != 200) {
         usleep (100 * 1000);
      }
   }
   if (status != 200) {
      tk_test_service_dump_log (&svcs[i]);
      fail_msg ("triage-%s stopped answering /healthz after %s", svc_names[i], after);
   }
   long kb = 0;
   for (int attempt = 0; attempt < 50; attempt++) {
      kb = rss_kb (svcs[i].pid);
      if (kb <= baseline_kb[i] + RSS_SLACK_KB) {
         break;
      }
      usleep (100 * 1000);
   }
   printf ("  triage-%s after %s: /healthz 200, VmRSS %ld kB (baseline %ld kB)\n", svc_names[i],
           after, kb, baseline_kb[i]);
   if (kb > baseline_kb[i] + RSS_SLACK_KB) {
      fail_msg ("triage-%s RSS %ld kB after %s, baseline %ld kB", svc_names[i], kb, after,
                baseline_kb[i]);
   }
}

static void
assert_4xx (int status, const char *what, const char *resp)
{
   if (status < 400 || status > 499) {
      fail_msg ("%s: expected a 4xx, got %d: %.200s", what, status, resp);
   }
}

/* A refused request line: a 4xx, or 501 when its first word is not a method
 * the server knows (RFC 9110 15.6.2; "GARBAGE" and a TLS hello are parsed
 * as such a method). Either way the answer is the JSON error document. */
static void
assert_refused (int status, const char *what, const char *resp)
{
   if (status != 501) {
      assert_4xx (status, what, resp);
   }
   if (!strstr (resp, "{\"error\":")) {
      fail_msg ("%s: no error document in %.300s", what, resp);
   }
}

/* ---- setup ---------------------------------------------------------------- */

static int
setup (void **state)
{
   (void) state;
   tk_error_t err;
   /* A thousand sockets of our own need more than the usual 1024 fds. */
   struct rlimit rl;
   if (getrlimit (RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 4096) {
      rl.rlim_cur = rl.rlim_max < 4096 ? rl.rlim_max : 4096;
      setrlimit (RLIMIT_NOFILE, &rl);
   }
   signal (SIGPIPE, SIG_IGN);

   tk_test_unique_name ("triage_test_hostile", db_name, sizeof db_name);
   if (!tk_test_topics_create (&topics, "test.hostile", 1)) {
      return -1;
   }
   snprintf (env_db, sizeof env_db, "TRIAGE_MONGO_DB=%s", db_name);
   snprintf (env_mongo, sizeof env_mongo, "TRIAGE_MONGO_URI=%s", tk_test_mongo_uri ());
   snprintf (env_brokers, sizeof env_brokers, "TRIAGE_KAFKA_BROKERS=%s", tk_test_kafka_brokers ());

   /* Two tickets, so a regex that escaped its quoting would match them. */
   store = tk_store_new (tk_test_mongo_uri (), db_name, 2, &err);
   if (!store || !tk_store_ensure_indexes (store, &err)) {
      fprintf (stderr, "store: %s\n", err.message);
      return -1;
   }
   tk_ticket_t *seed[2];
   for (int n = 0; n < 2; n++) {
      char id[16];
      snprintf (id, sizeof id, "H-%d", n);
      seed[n] = tk_ticket_new ();
      seed[n]->id = strdup (id);
      seed[n]->subject = strdup ("Login fails");
      seed[n]->body = strdup ("Cannot sign in since the update");
      seed[n]->created_at = tk_time_now_ms ();
   }
   tk_insert_result_t res;
   bool ok = tk_store_insert_tickets (store, seed, 2, &res, &err);
   tk_insert_result_cleanup (&res);
   tk_ticket_destroy (seed[0]);
   tk_ticket_destroy (seed[1]);
   if (!ok) {
      fprintf (stderr, "seed: %s\n", err.message);
      return -1;
   }

   const char *env[] = {env_db,
                        env_mongo,
                        env_brokers,
                        topics.env[0],
                        topics.env[1],
                        topics.env[2],
                        topics.env[3],
                        "TRIAGE_ADMIN_KEY=" ADMIN_KEY,
                        "TRIAGE_HTTP_MAX_BODY=1MB",
                        "TRIAGE_HTTP_MAX_HEADER=16KB",
                        "TRIAGE_HTTP_REQUEST_TIMEOUT=2s",
                        "TRIAGE_HTTP_IDLE_TIMEOUT=2s",
                        "TRIAGE_HTTP_MAX_CONNECTIONS=64",
                        "TRIAGE_API_CACHE_TTL=0",
                        NULL};
   for (int i = 0; i < N_SVC; i++) {
      if (!tk_test_service_start (&svcs[i], svc_names[i], env, 30000)) {
         fprintf (stderr, "triage-%s did not start\n", svc_names[i]);
         return -1;
      }
      started[i] = true;
   }
   /* Warm up each (first requests allocate lazily), then take the baseline. */
   for (int i = 0; i < N_SVC; i++) {
      char url[128];
      snprintf (url, sizeof url, "%s", svcs[i].metrics_url);
      for (int k = 0; k < 20; k++) {
         tk_test_http_response_t r;
         if (tk_test_http ("GET", url, NULL, 0, NULL, &r)) {
            tk_test_http_free (&r);
         }
      }
      baseline_kb[i] = rss_kb (svcs[i].pid);
      printf ("  triage-%s baseline VmRSS %ld kB\n", svc_names[i], baseline_kb[i]);
   }
   return 0;
}

static int
teardown (void **state)
{
   (void) state;
   tk_error_t err;
   int rc = 0;
   for (int i = 0; i < N_SVC; i++) {
      if (started[i]) {
         int code = tk_test_service_stop (&svcs[i], SIGTERM, 20000);
         if (code != 0) {
            fprintf (stderr, "triage-%s exited with %d\n", svc_names[i], code);
            tk_test_service_dump_log (&svcs[i]);
            rc = -1;
         }
      }
   }
   if (store) {
      tk_store_drop_database (store, &err);
   }
   tk_store_destroy (store);
   tk_test_topics_delete (&topics);
   return rc;
}

/* ---- malformed HTTP, every listener --------------------------------------- */

static char resp[1 << 20];

static void
test_bad_request_lines (void **state)
{
   (void) state;
#define RAW(s) {s, sizeof s - 1} /* keeps embedded NULs */
   static const struct {
      const char *s;
      size_t len;
   } bad[] = {
      RAW ("GARBAGE\r\n\r\n"),
      RAW ("GET\r\n\r\n"),
      RAW ("GET /healthz HTTP/1.1 extra\r\n\r\n"),
      RAW ("GET healthz HTTP/1.1\r\nHost: x\r\n\r\n"),
      RAW ("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 TLS hello\r\n\r\n"),
      RAW ("GET /healthz HTTP/1.1\r\nHost x\r\n\r\n"),
      RAW ("GET /heal\x00thz HTTP/1.1\r\n\r\n"),
      RAW ("GET /healthz HTTP/1.1\r\nX: a\r\n b\x01\r\n\r\n"),
      RAW ("POST /healthz HTTP/1.1\r\nContent-Length: -5\r\n\r\n"),
      RAW ("POST /healthz HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd"),
   };
#undef RAW
   for (int i = 0; i < N_SVC; i++) {
      for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
         int st = exchange (svcs[i].port, bad[k].s, bad[k].len, resp, sizeof resp);
         char what[96];
         snprintf (what, sizeof what, "triage-%s, bad request #%zu", svc_names[i], k);
         assert_refused (st, what, resp);
      }
      assert_still_well (i, "bad request lines");
   }
}

static void
test_huge_headers_and_uris (void **state)
{
   (void) state;
   size_t big = 256 * 1024;
   char *req = malloc (big + 256);
   assert_non_null (req);
   for (int i = 0; i < N_SVC; i++) {
      /* One header far over 16 KB. */
      int n = snprintf (req, 256, "GET /healthz HTTP/1.1\r\nX-Big: ");
      memset (req + n, 'a', big);
      memcpy (req + n + big, "\r\n\r\n", 5);
      int st = exchange_str (svcs[i].port, req, resp, sizeof resp);
      assert_int_equal (st, 431);
      /* Thousands of small headers. */
      size_t off = (size_t) snprintf (req, 256, "GET /healthz HTTP/1.1\r\n");
      while (off + 16 < big) {
         off += (size_t) snprintf (req + off, 16, "X-%05zu: v\r\n", off % 100000);
      }
      memcpy (req + off, "\r\n", 3);
      st = exchange_str (svcs[i].port, req, resp, sizeof resp);
      assert_int_equal (st, 431);
      /* A 256 KB URI. */
      n = snprintf (req, 256, "GET /");
      memset (req + n, 'u', big);
      memcpy (req + n + big, " HTTP/1.1\r\n\r\n", 14);
      st = exchange_str (svcs[i].port, req, resp, sizeof resp);
      if (st != 414 && st != 431) {
         fail_msg ("triage-%s: huge URI gave %d, expected 414 or 431", svc_names[i], st);
      }
      assert_still_well (i, "huge headers and URIs");
   }
   free (req);
}

static void
test_invalid_chunked_and_pipelined_garbage (void **state)
{
   (void) state;
   static const char *const bad[] = {
      "POST /healthz HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n",
      "POST /healthz HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
      "FFFFFFFFFFFFFFFFFFFF\r\nabc\r\n",
      "POST /healthz HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcdef\r\n0\r\n\r\n",
      "POST /healthz HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n"
      "0\r\n\r\n",
   };
   for (int i = 0; i < N_SVC; i++) {
      for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
         int st = exchange_str (svcs[i].port, bad[k], resp, sizeof resp);
         char what[96];
         snprintf (what, sizeof what, "triage-%s, bad chunked body #%zu", svc_names[i], k);
         assert_4xx (st, what, resp);
      }
      /* A good request, then garbage on the same connection: the first is
       * answered, the garbage gets a 400 and the connection closes. */
      const char *pipelined = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
                              "\x01\x02\x03 NOT HTTP \xff\xfe\r\n\r\n"
                              "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
      int st = exchange_str (svcs[i].port, pipelined, resp, sizeof resp);
      assert_int_equal (st, 200);
      const char *second = strstr (resp + 12, "HTTP/1.1 ");
      assert_non_null (second);
      assert_refused (status_of (second), "pipelined garbage", second);
      /* Nothing is answered after the garbage. */
      assert_null (strstr (second + 12, "HTTP/1.1 "));
      assert_still_well (i, "invalid chunked encoding and pipelined garbage");
   }
}

static void
test_slowloris_is_cut_off (void **state)
{
   (void) state;
   for (int i = 0; i < N_SVC; i++) {
      int fd = raw_connect (svcs[i].port);
      raw_send (fd, "GET /healthz HTTP/1.1\r\nHost: x\r\n", 32);
      /* One header byte every 200 ms, for up to 30 s: the server (2 s
       * request timeout) must give up on us long before we finish. */
      const char *drip = "X-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                         "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                         "aaaaaaaaaaaaaaaaaa";
      bool cut = false;
      for (size_t k = 0; k < 150 && !cut; k++) {
         struct pollfd p = {fd, POLLIN, 0};
         if (poll (&p, 1, 200) > 0) {
            cut = true;
            break;
         }
         if (send (fd, drip + (k % strlen (drip)), 1, MSG_NOSIGNAL) != 1) {
            cut = true;
         }
      }
      assert_true (cut);
      raw_recv_all (fd, resp, sizeof resp);
      close (fd);
      int st = status_of (resp);
      if (st != 408 && st != 0) {
         fail_msg ("triage-%s: slowloris got %d, expected 408 or a closed connection",
                   svc_names[i], st);
      }
      assert_still_well (i, "slowloris");
   }
}

static void
test_a_thousand_idle_connections (void **state)
{
   (void) state;
   enum { N = 1000 };
   static int fds[N];
   for (int i = 0; i < N_SVC; i++) {
      int opened = 0;
      for (int k = 0; k < N; k++) {
         fds[k] = raw_connect (svcs[i].port);
         opened++;
      }
      /* Past the limit of 64, connections are answered 503 and closed;
       * those within it sit idle until the request timeout cuts them. */
      int answered_503 = 0, closed = 0;
      for (int k = 0; k < N; k++) {
         size_t n = raw_recv_all (fds[k], resp, 4096);
         if (n > 0 && status_of (resp) == 503) {
            answered_503++;
         } else {
            closed++;
         }
         close (fds[k]);
      }
      printf ("  triage-%s: %d idle connections: %d answered 503, %d closed or timed out\n",
              svc_names[i], opened, answered_503, closed);
      assert_true (answered_503 >= N - 64 - 16);
      assert_still_well (i, "a thousand idle connections");
   }
}

/* ---- bodies ---------------------------------------------------------------- */

/* Sends a request head announcing a body and then body_len bytes of it;
 * returns the status. */
static int
send_body (int port, const char *head, const char *body, size_t body_len)
{
   int fd = raw_connect (port);
   raw_send (fd, head, strlen (head));
   raw_send (fd, body, body_len);
   raw_recv_all (fd, resp, sizeof resp);
   close (fd);
   return status_of (resp);
}

static void
test_body_far_over_the_limit (void **state)
{
   (void) state;
   size_t total = 20 * 1024 * 1024;
   char *body = malloc (total);
   assert_non_null (body);
   memset (body, '[', total);
   for (int i = 0; i < N_SVC; i++) {
      char head[512];
      snprintf (head, sizeof head,
                "POST /api/processed-tickets HTTP/1.1\r\nHost: x\r\n"
                "Authorization: Bearer " ADMIN_KEY "\r\n"
                "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
                total);
      int fd = raw_connect (svcs[i].port);
      raw_send (fd, head, strlen (head));
      size_t sent = raw_send (fd, body, total);
      raw_recv_all (fd, resp, sizeof resp);
      close (fd);
      printf ("  triage-%s: 20 MB body with Content-Length: %d after %zu bytes sent\n",
              svc_names[i], status_of (resp), sent);
      assert_int_equal (status_of (resp), 413);
      assert_non_null (strstr (resp, "\"error\""));
      assert_still_well (i, "a 20 MB body with Content-Length");

      /* The same without a length (chunked): cut off at the limit. */
      fd = raw_connect (svcs[i].port);
      const char *chead = "POST /api/processed-tickets HTTP/1.1\r\nHost: x\r\n"
                          "Authorization: Bearer " ADMIN_KEY "\r\n"
                          "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
      raw_send (fd, chead, strlen (chead));
      size_t chunk = 64 * 1024;
      sent = 0;
      char size_line[32];
      snprintf (size_line, sizeof size_line, "%zx\r\n", chunk);
      while (sent < total) {
         if (raw_send (fd, size_line, strlen (size_line)) != strlen (size_line) ||
             raw_send (fd, body, chunk) != chunk || raw_send (fd, "\r\n", 2) != 2) {
            break;
         }
         sent += chunk;
      }
      raw_recv_all (fd, resp, sizeof resp);
      close (fd);
      printf ("  triage-%s: 20 MB chunked body: %d after %zu bytes sent\n", svc_names[i],
              status_of (resp), sent);
      assert_int_equal (status_of (resp), 413);
      assert_still_well (i, "a 20 MB chunked body");
   }
   free (body);
}

/* POSTs body as a processed ticket to the api and returns the status. */
static int
post_ticket (const char *body, size_t len)
{
   char head[512];
   snprintf (head, sizeof head,
             "POST /api/processed-tickets HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
             "Authorization: Bearer " ADMIN_KEY "\r\n"
             "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
             len);
   return send_body (svcs[0].port, head, body, len);
}

static void
test_invalid_utf8_nul_and_deep_json (void **state)
{
   (void) state;
   static const char prefix[] =
      "{\"id\":\"X-1\",\"subject\":\"s\",\"classification\":{\"topic_tags\":[\"Connector\"],"
      "\"sentiment\":\"Curious\",\"priority\":\"P1 (Medium)\"},\"confidence_scores\":"
      "{\"topic\":0.5,\"sentiment\":0.5,\"priority\":0.5},\"body\":\"";
#define RAW(s) {s, sizeof s - 1}
   static const struct {
      const char *s;
      size_t len;
   } bad_bodies[] = {RAW ("\xff\xfe bad"), RAW ("over\xc0\xaflong"), RAW ("nul\0byte"),
                     RAW ("surrogate \xed\xa0\x80"), RAW ("escaped \\u0000 nul")};
#undef RAW
   char doc[1024];
   for (size_t k = 0; k < sizeof bad_bodies / sizeof bad_bodies[0]; k++) {
      size_t n = strlen (prefix);
      memcpy (doc, prefix, n);
      memcpy (doc + n, bad_bodies[k].s, bad_bodies[k].len);
      n += bad_bodies[k].len;
      memcpy (doc + n, "\"}", 2);
      n += 2;
      int st = post_ticket (doc, n);
      if (st != 400) {
         fail_msg ("bad body #%zu: expected 400, got %d: %.300s", k, st, resp);
      }
      assert_non_null (strstr (resp, "\"error\""));
   }
   /* Nothing of that was stored. */
   tk_error_t err;
   tk_ticket_t *t = NULL;
   assert_false (tk_store_get_ticket (store, "X-1", &t, &err));
   assert_int_equal (err.domain, TK_ERR_NOT_FOUND);
   assert_null (t);

   /* 200,000 levels of nesting, and an object nested as deep. */
   size_t depth = 200000;
   char *deep = malloc (2 * depth + 1);
   assert_non_null (deep);
   memset (deep, '[', depth);
   memset (deep + depth, ']', depth);
   assert_int_equal (post_ticket (deep, 2 * depth), 400);
   assert_non_null (strstr (resp, "\"error\""));
   size_t off = 0;
   for (size_t k = 0; k < depth / 8; k++) {
      memcpy (deep + off, "{\"a\":", 5);
      off += 5;
   }
   assert_int_equal (post_ticket (deep, off), 400);
   free (deep);
   assert_still_well (0, "invalid UTF-8, NUL bytes and deeply nested JSON");
}

/* ---- injection in every query parameter of /api/tickets ------------------- */

static void
test_operator_and_regex_injection (void **state)
{
   (void) state;
   static const char *const params[] = {"status", "priority", "sentiment", "topic",
                                        "created_from", "created_to", "processed_from",
                                        "processed_to", "confidence_below", "q", "sort",
                                        "limit", "cursor"};
   /* Percent-encoded hostile values. */
   static const char *const values[] = {
      "%7B%22%24gt%22%3A%22%22%7D",               /* {"$gt":""} */
      "%7B%22%24ne%22%3Anull%7D",                 /* {"$ne":null} */
      "%24where",                                 /* $where */
      ".*",                                       /* regex: everything */
      "%5E.*%24",                                 /* ^.*$ */
      "(a%2B)%2B%24",                             /* (a+)+$ */
      "%27%3B%20db.dropDatabase()%3B%20%27",      /* '; db.dropDatabase(); ' */
      "%00",                                      /* NUL */
      "%FF%FE",                                   /* invalid UTF-8 */
   };
   size_t n_params = sizeof params / sizeof params[0];
   size_t n_values = sizeof values / sizeof values[0];
   char req[2048];
   for (size_t p = 0; p < n_params; p++) {
      for (size_t v = 0; v < n_values; v++) {
         snprintf (req, sizeof req,
                   "GET /api/tickets?%s=%s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                   "Authorization: Bearer " ADMIN_KEY "\r\n\r\n",
                   params[p], values[v]);
         int st = exchange_str (svcs[0].port, req, resp, sizeof resp);
         if (!strcmp (params[p], "q") && st == 200) {
            /* Text search takes any valid text, literally: nothing stored
             * contains these strings, so a match means it was interpreted. */
            const char *body = strstr (resp, "\r\n\r\n");
            assert_non_null (body);
            if (!strstr (body, "\"count\":0")) {
               fail_msg ("q=%s matched tickets: %.300s", values[v], body);
            }
            continue;
         }
         char what[128];
         snprintf (what, sizeof what, "/api/tickets?%s=%s", params[p], values[v]);
         assert_4xx (st, what, resp);
         assert_non_null (strstr (resp, "\"error\""));
      }
      /* Operator syntax in the key itself: status[$ne]=x. */
      snprintf (req, sizeof req,
                "GET /api/tickets?%s%%5B%%24ne%%5D=x HTTP/1.1\r\nHost: x\r\n"
                "Connection: close\r\nAuthorization: Bearer " ADMIN_KEY "\r\n\r\n",
                params[p]);
      assert_4xx (exchange_str (svcs[0].port, req, resp, sizeof resp), "operator key", resp);
   }
   /* The database is still there with both tickets. */
   tk_error_t err;
   tk_ticket_t *t = NULL;
   assert_true (tk_store_get_ticket (store, "H-1", &t, &err));
   assert_non_null (t);
   tk_ticket_destroy (t);
   assert_still_well (0, "operator and regex injection");
}

/* ---- path traversal on the api's static file route ----------------------- */

static void
test_static_path_traversal (void **state)
{
   (void) state;
   static const char *const paths[] = {
      "/static/../../../../etc/passwd",
      "/static/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
      "/static/..%2f..%2f..%2fetc%2fpasswd",
      "/static/%252e%252e/%252e%252e/etc/passwd",
      "/static//etc/passwd",
      "/static/./../../etc/passwd",
      "/static/..\\..\\etc\\passwd",
      "/static/index.html%00.js",
      "/static/%c0%ae%c0%ae/%c0%ae%c0%ae/etc/passwd",
      "/static/" "....//....//etc/passwd",
      "/../../etc/passwd",
   };
   char req[512];
   for (size_t k = 0; k < sizeof paths / sizeof paths[0]; k++) {
      snprintf (req, sizeof req, "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                paths[k]);
      int st = exchange_str (svcs[0].port, req, resp, sizeof resp);
      char what[160];
      snprintf (what, sizeof what, "GET %s", paths[k]);
      assert_4xx (st, what, resp);
      if (strstr (resp, "root:")) {
         fail_msg ("%s served a file outside the web root", paths[k]);
      }
   }
   assert_still_well (0, "path traversal on /static");
}

/* ---- hostile uploads to the ingest service ------------------------------- */

static cJSON *
upload (const char *ctype, const char *body, size_t len, long *status)
{
   char url[256], hdr[128];
   snprintf (url, sizeof url, "%s/v1/tickets", svcs[1].base_url);
   snprintf (hdr, sizeof hdr, "Content-Type: %s", ctype);
   const char *headers[] = {hdr, "Authorization: Bearer " ADMIN_KEY, NULL};
   tk_test_http_response_t r;
   assert_true (tk_test_http ("POST", url, body, len, headers, &r));
   *status = r.status;
   cJSON *json = r.body ? cJSON_Parse (r.body) : NULL;
   if (!json) {
      fail_msg ("upload answered %ld with no JSON: %.300s", r.status, r.body ? r.body : "");
   }
   tk_test_http_free (&r);
   return json;
}

static int
count_of (const cJSON *report, const char *key)
{
   const cJSON *v = cJSON_GetObjectItem (report, key);
   assert_non_null (v);
   return v->valueint;
}

static bool
stored (const char *id)
{
   tk_error_t err;
   tk_ticket_t *t = NULL;
   bool found = tk_store_get_ticket (store, id, &t, &err);
   if (!found) {
      assert_int_equal (err.domain, TK_ERR_NOT_FOUND);
   }
   tk_ticket_destroy (t);
   return found;
}

static void
test_hostile_uploads (void **state)
{
   (void) state;
   long st = 0;
   cJSON *rep;

   /* An unterminated quoted CSV field: the file cannot be walked, 400. */
   const char *unbalanced = "id,subject,body\nU-1,ok,fine\nU-2,\"never closed,x\nU-3,a,b\n";
   rep = upload ("text/csv", unbalanced, strlen (unbalanced), &st);
   assert_int_equal (st, 400);
   assert_non_null (cJSON_GetObjectItem (rep, "error"));
   cJSON_Delete (rep);
   assert_false (stored ("U-2"));
   assert_false (stored ("U-3"));

   /* Ragged rows: each refused on its own, the good ones stored. */
   const char *ragged = "id,subject,body\nR-1,a,b\nR-2,only\nR-3,a,b,c,d\nR-4,x,y\n";
   rep = upload ("text/csv", ragged, strlen (ragged), &st);
   assert_int_equal (st, 200);
   assert_int_equal (count_of (rep, "stored"), 2);
   assert_int_equal (count_of (rep, "rejected"), 2);
   cJSON_Delete (rep);
   assert_true (stored ("R-1"));
   assert_true (stored ("R-4"));
   assert_false (stored ("R-2"));
   assert_false (stored ("R-3"));

   /* NDJSON with a NUL byte, invalid UTF-8 and an operator for an id. */
   static const char nd[] = "{\"id\":\"N-1\",\"subject\":\"a\",\"body\":\"nul\0here\"}\n"
                            "{\"id\":\"N-2\",\"subject\":\"\xff\xfe\",\"body\":\"b\"}\n"
                            "{\"id\":{\"$gt\":\"\"},\"subject\":\"a\",\"body\":\"b\"}\n"
                            "{\"id\":\"N-4\",\"subject\":\"a\",\"body\":\"b\"}\n";
   rep = upload ("application/x-ndjson", nd, sizeof nd - 1, &st);
   assert_int_equal (st, 200);
   assert_int_equal (count_of (rep, "stored"), 1);
   assert_int_equal (count_of (rep, "rejected"), 3);
   cJSON_Delete (rep);
   assert_true (stored ("N-4"));
   assert_false (stored ("N-1"));
   assert_false (stored ("N-2"));

   /* One object whose id is an operator: refused, naming the field. */
   const char *op = "{\"id\":{\"$ne\":null},\"subject\":\"a\",\"body\":\"b\"}";
   rep = upload ("application/json", op, strlen (op), &st);
   assert_int_equal (st, 422);
   assert_non_null (cJSON_GetObjectItem (rep, "error"));
   cJSON_Delete (rep);

   /* A JSON array that never closes, and one with a row nested 100,000 deep. */
   const char *open_array = "[{\"id\":\"A-1\",\"subject\":\"a\",\"body\":\"b\"},";
   rep = upload ("application/json", open_array, strlen (open_array), &st);
   assert_int_equal (st, 400);
   cJSON_Delete (rep);
   size_t depth = 100000;
   const char *good = "[{\"id\":\"D-1\",\"subject\":\"a\",\"body\":\"b\"},";
   size_t glen = strlen (good);
   char *deep = malloc (glen + 2 * depth + 2);
   assert_non_null (deep);
   memcpy (deep, good, glen);
   memset (deep + glen, '[', depth);
   memset (deep + glen + depth, ']', depth);
   memcpy (deep + glen + 2 * depth, "]", 2);
   rep = upload ("application/json", deep, glen + 2 * depth + 1, &st);
   free (deep);
   if (st == 200) {
      assert_int_equal (count_of (rep, "rejected"), 1);
      assert_true (stored ("D-1"));
   } else {
      assert_int_equal (st, 400);
   }
   cJSON_Delete (rep);

   /* A type it does not take. */
   rep = upload ("application/x-evil", "x", 1, &st);
   assert_int_equal (st, 415);
   cJSON_Delete (rep);

   assert_still_well (1, "hostile uploads");
}

int
main (void)
{
   const struct CMUnitTest tests[] = {
      cmocka_unit_test (test_bad_request_lines),
      cmocka_unit_test (test_huge_headers_and_uris),
      cmocka_unit_test (test_invalid_chunked_and_pipelined_garbage),
      cmocka_unit_test (test_invalid_utf8_nul_and_deep_json),
      cmocka_unit_test (test_operator_and_regex_injection),
      cmocka_unit_test (test_hostile_uploads),
      cmocka_unit_test (test_static_path_traversal),
      cmocka_unit_test (test_body_far_over_the_limit),
      cmocka_unit_test (test_slowloris_is_cut_off),
      cmocka_unit_test (test_a_thousand_idle_connections),
   };
   return cmocka_run_group_tests (tests, setup, teardown);
}
