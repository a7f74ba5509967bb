/* Other services' writes show in the default listing served from the
 * snapshot (services/api/follow.h), on the real stack: a real triage-ingest
 * stores tickets, a real triage-classifier (the built-in model) classifies
 * them, and a triage-api with TRIAGE_API_CACHE_TTL=1h (no timed refresh
 * during the test) and TRIAGE_API_FOLLOW_REFRESH=0 (no refresh asked by the
 * follower either) must show each step on GET /api/tickets within a few
 * seconds, answered from the snapshot (X-Triage-Source) and byte for byte
 * what a TRIAGE_API_CACHE_TTL=0 api reads from the database. Only the
 * follower can bring them: without it the snapshot keeps the tickets of its
 * first scan for an hour. A third api with the default
 * TRIAGE_API_FOLLOW_REFRESH checks that the statistics follow too.
 * Own database and topics (test_classifier_harness.h). */
#include "test_classifier_harness.h"

#include "api_fixture.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ADMIN_KEY TRIAGE_TEST_ADMIN_KEY /* random per build: tests/CMakeLists.txt */
#define N_SEED 5
#define N_UPLOAD 8
/* How long a write may take to show: the follower reads within a second
 * or so; the slack is for the sanitized build on two shared cores. */
#define SHOW_WITHIN_MS 15000

static tk_test_service_t snap;  /* TTL=1h, follows, no refresh asked */
static tk_test_service_t live;  /* TTL=0: the database path */
static tk_test_service_t stats; /* TTL=1h, follows, statistics refreshed */
static tk_test_service_t ingest, classifier;

static tk_api_fx_resp_t
get (const tk_test_service_t *s, const char *path)
{
   return tk_api_fx_call (s, "GET", path, ADMIN_KEY, NULL);
}

/* Polls until series on s reaches want; fails the test after timeout_ms. */
static void
wait_metric (const tk_test_service_t *s, const char *series, double want, int timeout_ms)
{
   uint64_t deadline = tk_test_now_ms () + (uint64_t) timeout_ms;
   double v = -1;
   while ((v = tk_api_fx_metric (s, series)) < want && tk_test_now_ms () < deadline) {
      usleep (50 * 1000);
   }
   if (v < want) {
      tk_test_service_dump_log (s);
      fail_msg ("%s is %g after %d ms, want %g", series, v, timeout_ms, want);
   }
}

static int
setup (void **state)
{
   (void) state;
   h_setup ("triage_test_api_follow", 2);
   h_insert_many ("SEED", N_SEED, "an old ticket", "stored before the api started");
   const char *env_snap[] = {h.env_tcd, "TRIAGE_API_CACHE_TTL=1h", "TRIAGE_API_FOLLOW=on",
                             "TRIAGE_API_FOLLOW_REFRESH=0", NULL};
   const char *env_live[] = {h.env_tcd, "TRIAGE_API_CACHE_TTL=0", NULL};
   const char *env_stats[] = {h.env_tcd, "TRIAGE_API_CACHE_TTL=1h", "TRIAGE_API_FOLLOW=on",
                              "TRIAGE_API_FOLLOW_REFRESH=1s", NULL};
   h_start_api (&snap, ADMIN_KEY, env_snap);
   h_start_api (&live, ADMIN_KEY, env_live);
   h_start_api (&stats, ADMIN_KEY, env_stats);
   /* The first snapshots: the statistics route waits for them. */
   const tk_test_service_t *kept[] = {&snap, &stats};
   for (int k = 0; k < 2; k++) {
      tk_api_fx_resp_t r = get (kept[k], "/api/processing-stats");
      assert_int_equal (r.status, 200);
      assert_int_equal ((int) tk_api_fx_num (r.json, "total_tickets"), N_SEED);
      tk_api_fx_resp_free (&r);
   }
   /* The followers have joined: every partition of both topics assigned
    * (2 of classify, 3 of classified). From there on they read from the
    * end of the topics, which nothing below has written to yet. */
   wait_metric (&snap, "triage_api_follow_partitions", 5, 60000);
   wait_metric (&stats, "triage_api_follow_partitions", 5, 60000);
   /* stats asks for a refresh once assigned (what was written before it
    * joined); wait for it, so that the refresh counted below is the
    * follower's. */
   wait_metric (&stats, "triage_api_statistics_scans_total{result=\"ok\"}", 2, 30000);
   return 0;
}

static int
teardown (void **state)
{
   (void) state;
   int rc[3] = {tk_api_fx_stop (&snap), tk_api_fx_stop (&live), tk_api_fx_stop (&stats)};
   h_teardown (); /* kills what a failed test left running */
   return rc[0] == 0 && rc[1] == 0 && rc[2] == 0 ? 0 : -1;
}

/* How many items of the listing body j have an id starting with prefix,
 * and how many of those are processed with a classification. */
static void
count_items (const cJSON *j, const char *prefix, int *n, int *classified)
{
   *n = *classified = 0;
   const cJSON *it;
   cJSON_ArrayForEach (it, cJSON_GetObjectItem (j, "items"))
   {
      const char *id = tk_api_fx_str (it, "id");
      if (!id || strncmp (id, prefix, strlen (prefix)) != 0) {
         continue;
      }
      (*n)++;
      const cJSON *c = cJSON_GetObjectItem (it, "classification");
      const char *priority = c ? tk_api_fx_str (c, "priority") : NULL;
      if (cJSON_IsTrue (cJSON_GetObjectItem (it, "processed")) && priority && priority[0]) {
         (*classified)++;
      }
   }
}

/* Polls GET /api/tickets on snap until it comes from the snapshot, equals
 * the database path's answer and lists want tickets with ids starting with
 * prefix, want_classified of them classified. Returns the milliseconds it
 * took from since_ms; fails the test after SHOW_WITHIN_MS. */
static uint64_t
wait_listing (const char *prefix, int want, int want_classified, uint64_t since_ms)
{
   uint64_t deadline = tk_test_now_ms () + SHOW_WITHIN_MS;
   char src[32] = "", last_a[4096] = "", last_b[4096] = "";
   int n = 0, classified = 0;
   for (;;) {
      tk_api_fx_resp_t a = get (&snap, "/api/tickets?limit=50");
      tk_api_fx_resp_t b = get (&live, "/api/tickets?limit=50");
      assert_int_equal (a.status, 200);
      assert_int_equal (b.status, 200);
      tk_api_fx_header (&a, "X-Triage-Source", src, sizeof src);
      count_items (a.json, prefix, &n, &classified);
      bool same = strcmp (a.body, b.body) == 0;
      snprintf (last_a, sizeof last_a, "%s", a.body);
      snprintf (last_b, sizeof last_b, "%s", b.body);
      tk_api_fx_resp_free (&a);
      tk_api_fx_resp_free (&b);
      if (same && !strcmp (src, "snapshot") && n == want && classified == want_classified) {
         return tk_test_now_ms () - since_ms;
      }
      if (tk_test_now_ms () > deadline) {
         tk_test_service_dump_log (&snap);
         fail_msg ("after %d ms the listing (%s) shows %d of %d %s tickets, %d of %d "
                   "classified, %s the database's:\n%s\n---\n%s",
                   SHOW_WITHIN_MS, src, n, want, prefix, classified, want_classified,
                   same ? "equal to" : "unlike", last_a, last_b);
      }
      usleep (50 * 1000);
   }
}

static void
test_other_services_writes_show (void **state)
{
   (void) state;
   /* The listing from the first snapshot: the seeded tickets only. */
   wait_listing ("SEED", N_SEED, 0, tk_test_now_ms ());

   /* (a) A real ingest stores tickets from an HTTP upload (it publishes a
    * classification request for each once stored). */
   const char *env_ingest[] = {h.env_db,  h.env_brokers, h.env_mongo, h.env_tc,
                               "TRIAGE_AUTH=off", "TRIAGE_INGEST_CONSUME=false", NULL};
   assert_true (tk_test_service_start (&ingest, "ingest", env_ingest, 20000));
   h.started[h.n_started++] = &ingest;
   assert_true (tk_test_service_wait_ready (&ingest, 30000));
   char body[4096];
   size_t off = (size_t) snprintf (body, sizeof body, "[");
   for (int i = 0; i < N_UPLOAD; i++) {
      off += (size_t) snprintf (body + off, sizeof body - off,
                                "%s{\"id\":\"FOLLOW-%02d\",\"subject\":\"cannot log in with SSO\","
                                "\"body\":\"Our Okta SAML login fails since this morning for "
                                "every user (ticket %d). This is urgent.\"}",
                                i ? "," : "", i, i);
   }
   snprintf (body + off, sizeof body - off, "]");
   char url[256];
   snprintf (url, sizeof url, "%s/v1/tickets", ingest.base_url);
   const char *headers[] = {"Content-Type: application/json", NULL};
   tk_test_http_response_t r;
   assert_true (tk_test_http ("POST", url, body, strlen (body), headers, &r));
   uint64_t uploaded = tk_test_now_ms ();
   if (r.status != 200 && r.status != 201) {
      fprintf (stderr, "upload: %ld %s\n", r.status, r.body);
   }
   assert_true (r.status == 200 || r.status == 201);
   tk_test_http_free (&r);
   uint64_t stored_ms = wait_listing ("FOLLOW-", N_UPLOAD, 0, uploaded);
   fprintf (stderr, "uploaded tickets listed from the snapshot %llu ms after the upload\n",
            (unsigned long long) stored_ms);

   /* (b) A real classifier, the built-in model, classifies them. */
   h_start_classifier (&classifier, NULL);
   uint64_t started = tk_test_now_ms ();
   uint64_t classified_ms = wait_listing ("FOLLOW-", N_UPLOAD, N_UPLOAD, started);
   fprintf (stderr, "classifications listed from the snapshot %llu ms after the classifier "
                    "was ready\n",
            (unsigned long long) classified_ms);
   assert_true (tk_api_fx_metric (&snap, "triage_api_follow_reads_total{result=\"patched\"}") >=
                2 * N_UPLOAD);

   /* No refresh ran on snap: the follower's patches did it all. */
   assert_int_equal (
      (int) tk_api_fx_metric (&snap, "triage_api_statistics_scans_total{result=\"ok\"}"), 1);
   tk_api_fx_resp_t s = get (&snap, "/api/processing-stats");
   assert_int_equal ((int) tk_api_fx_num (s.json, "total_tickets"), N_SEED);
   tk_api_fx_resp_free (&s);

   /* The api whose follower asks for refreshes has the new statistics. */
   uint64_t deadline = tk_test_now_ms () + SHOW_WITHIN_MS;
   int total = 0, processed = 0;
   for (;;) {
      s = get (&stats, "/api/processing-stats");
      total = (int) tk_api_fx_num (s.json, "total_tickets");
      processed = (int) tk_api_fx_num (s.json, "total_processed");
      tk_api_fx_resp_free (&s);
      if ((total == N_SEED + N_UPLOAD && processed == N_UPLOAD) || tk_test_now_ms () > deadline) {
         break;
      }
      usleep (100 * 1000);
   }
   assert_int_equal (total, N_SEED + N_UPLOAD);
   assert_int_equal (processed, N_UPLOAD);

   h_stop_classifier (&classifier);
   assert_int_equal (tk_test_service_stop (&ingest, SIGTERM, 20000), 0);
}

int
main (void)
{
   const struct CMUnitTest tests[] = {
      cmocka_unit_test (test_other_services_writes_show),
   };
   return cmocka_run_group_tests (tests, setup, teardown);
}
