/* `triagectl stats` lists priorities and sentiments in the taxonomy's order
 * (P0, P1, P2), whatever order the api's JSON gives them in, the api's own
 * taxonomy (GET /api/session) when it tells it (issue 15). The api here is
 * a small HTTP server on its own loop thread that answers the two routes
 * as scripted, counts first, the way a JSON object may come from any api;
 * build/bin/triagectl is run against it. No Kafka or database needed. */
#include "test_support.h"

#include "http_server.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct {
   uv_loop_t loop;
   uv_async_t stop;
   pthread_t thread;
   tk_http_server_t *server;
   int port;
   const char *session; /* the /api/session body, or NULL: 404 */
} fake;

/* Counts first, as a JSON object may list them: P2 (the most), P0, P1. */
static const char stats_body[] =
   "{\"total_tickets\":10,\"total_processed\":10,\"total_unprocessed\":0,\"processed_today\":10,"
   "\"failed\":0,"
   "\"priority_distribution\":{\"P2 (Low)\":6,\"P0 (High)\":3,\"P1 (Medium)\":1},"
   "\"sentiment_distribution\":{\"Neutral\":5,\"Angry\":3,\"Curious\":1,\"Frustrated\":1},"
   "\"topic_distribution\":{\"Product\":10}}";

static void
on_stats (tk_http_request_t *req, void *ud)
{
   (void) ud;
   tk_http_respond (req, 200, "application/json", stats_body, strlen (stats_body));
}

static void
on_session (tk_http_request_t *req, void *ud)
{
   (void) ud;
   if (!fake.session) {
      tk_http_respond_error (req, 404, "not_found", "no such resource", NULL);
      return;
   }
   tk_http_respond (req, 200, "application/json", fake.session, strlen (fake.session));
}

static void
fake_stop (uv_async_t *a)
{
   tk_http_server_close (fake.server, NULL, NULL);
   uv_close ((uv_handle_t *) a, NULL);
}

static void *
fake_main (void *arg)
{
   (void) arg;
   uv_run (&fake.loop, UV_RUN_DEFAULT);
   return NULL;
}

static int
setup (void **state)
{
   (void) state;
   tk_error_t err;
   tk_http_options_t opts = {.host = "127.0.0.1", .port = 0};
   uv_loop_init (&fake.loop);
   uv_async_init (&fake.loop, &fake.stop, fake_stop);
   if (!(fake.server = tk_http_server_new (&fake.loop, &opts, &err)) ||
       !tk_http_route (fake.server, "GET", "/api/processing-stats", on_stats, NULL, &err) ||
       !tk_http_route (fake.server, "GET", "/api/session", on_session, NULL, &err) ||
       !tk_http_server_listen (fake.server, &err)) {
      fprintf (stderr, "fake api: %s\n", err.message);
      return -1;
   }
   fake.port = tk_http_server_port (fake.server);
   return pthread_create (&fake.thread, NULL, fake_main, NULL) == 0 ? 0 : -1;
}

static int
teardown (void **state)
{
   (void) state;
   uv_async_send (&fake.stop);
   pthread_join (fake.thread, NULL);
   tk_test_loop_close (&fake.loop);
   return 0;
}

/* triagectl stats against the fake; its output into out. */
static void
stats (char *out, size_t cap)
{
   char cmd[512];
   snprintf (cmd, sizeof cmd, "%s/triagectl stats --url http://127.0.0.1:%d --key k 2>&1",
             TRIAGE_BIN_DIR, fake.port);
   int rc = tk_test_shell (cmd, out, cap);
   if (rc != 0) {
      fail_msg ("triagectl stats exited with %d: %s", rc, out);
   }
}

/* Asserts that the labels appear in out in this order. */
static void
in_order (const char *out, const char *const *labels, size_t n)
{
   const char *at = out;
   for (size_t i = 0; i < n; i++) {
      const char *next = strstr (at, labels[i]);
      if (!next) {
         fail_msg ("\"%s\" missing or out of order in:\n%s", labels[i], out);
      }
      at = next + strlen (labels[i]);
   }
}

/* An api that does not tell its taxonomy: the built-in one's order. */
static void
test_builtin_taxonomy_order (void **state)
{
   (void) state;
   char out[8192];
   fake.session = NULL;
   stats (out, sizeof out);
   const char *priorities[] = {"Priority", "P0 (High)", "P1 (Medium)", "P2 (Low)", "Sentiment"};
   in_order (out, priorities, 5);
   const char *sentiments[] = {"Sentiment", "Frustrated", "Curious", "Angry", "Neutral", "Topic"};
   in_order (out, sentiments, 6);
}

/* The api's own taxonomy decides, and a label it does not list comes
 * after those it does. */
static void
test_api_taxonomy_order (void **state)
{
   (void) state;
   char out[8192];
   fake.session = "{\"auth\":true,\"role\":\"viewer\",\"taxonomy\":{\"topic_tags\":[\"Product\"],"
                  "\"sentiment\":[\"Angry\",\"Neutral\",\"Curious\"],"
                  "\"priority\":[\"P0 (High)\",\"P1 (Medium)\"]}}";
   stats (out, sizeof out);
   const char *priorities[] = {"P0 (High)", "P1 (Medium)", "P2 (Low)", "Sentiment"};
   in_order (out, priorities, 4);
   const char *sentiments[] = {"Sentiment", "Angry", "Neutral", "Curious", "Frustrated", "Topic"};
   in_order (out, sentiments, 6);
}

int
main (void)
{
   const struct CMUnitTest tests[] = {
      cmocka_unit_test (test_builtin_taxonomy_order),
      cmocka_unit_test (test_api_taxonomy_order),
   };
   return cmocka_run_group_tests (tests, setup, teardown);
}
