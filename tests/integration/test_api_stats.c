/* GET /api/processing-stats and the statistics snapshot on the real stack:
 * known tickets seeded straight into the store, a triage-api child process
 * on its own database, and the figures checked over HTTP: every number of
 * the single scan, a snapshot that keeps serving the old figures until it is
 * refreshed (by POST /api/analytics/refresh, or by its timer), and the
 * triage_api_tickets_* gauges on /metrics. */
#include "test_support.h"

#include "api_fixture.h"
#include "taxonomy.h"
#include "timeutil.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ADMIN_KEY TRIAGE_TEST_ADMIN_KEY /* random per build: tests/CMakeLists.txt */

static tk_api_fx_t fx; /* fx.svc: TRIAGE_API_CACHE_TTL=1h, refreshed only on request */
static tk_test_service_t *const svc = &fx.svc;

static tk_api_fx_resp_t
call_on (const tk_test_service_t *s, const char *method, const char *path)
{
   return tk_api_fx_request (s, method, path, ADMIN_KEY, NULL, 0, NULL);
}

static int
total_of (const tk_test_service_t *s)
{
   tk_api_fx_resp_t r = call_on (s, "GET", "/api/processing-stats");
   assert_int_equal (r.status, 200);
   int n = (int) tk_api_fx_num (r.json, "total_tickets");
   tk_api_fx_resp_free (&r);
   return n;
}

/* The value of an unlabelled series on /metrics, or -1. */
static double
metric (const tk_test_service_t *s, const char *name)
{
   char url[256], key[128];
   snprintf (url, sizeof url, "%s", s->metrics_url);
   snprintf (key, sizeof key, "\n%s ", name);
   tk_test_http_response_t m;
   assert_true (tk_test_http ("GET", url, NULL, 0, NULL, &m));
   const char *at = m.body ? strstr (m.body, key) : NULL;
   double v = at ? atof (at + strlen (key)) : -1;
   tk_test_http_free (&m);
   return v;
}

static void
seed (const char *id, int64_t created_at)
{
   tk_api_fx_seed (&fx, id, "subject", "body", created_at);
}

static int
setup (void **state)
{
   *state = &fx;
   tk_error_t err;
   if (!tk_api_fx_setup (&fx, "triage_test_api_stats", NULL, ADMIN_KEY)) {
      return -1;
   }
   int64_t day0, now = tk_time_now_ms ();
   tk_time_parse_iso ("2025-03-01", 10, &day0);
   /* Eight tickets: five processed (two of them today), one failed and
    * never processed, one failed then processed, one untouched. */
   for (int i = 1; i <= 8; i++) {
      char id[16];
      snprintf (id, sizeof id, "S%d", i);
      seed (id, day0 + i * 3600000LL);
   }
   tk_api_fx_classify (&fx, "S1", "SSO", "API/SDK", "Angry", "P0 (High)", 0.9, 0.8, 0.7, 100, "m-1",
                       day0 + 86400000);
   tk_api_fx_classify (&fx, "S2", "SSO", NULL, "Curious", "P1 (Medium)", 0.5, 0.6, 0.5, 200, "m-1",
                       day0 + 86400000);
   tk_api_fx_classify (&fx, "S3", "Lineage", NULL, "Angry", "P0 (High)", 0.4, 0.4, 0.3, 300, "m-1",
                       now - 1000);
   tk_api_fx_classify (&fx, "S4", "Connector", NULL, "Neutral", "P2 (Low)", 0.2, 0.2, 0.1, 400,
                       "m-1", now - 500);
   assert_true (tk_store_record_failure (fx.store, "S5", "llm timed out", &err));
   tk_api_fx_classify (&fx, "S5", "Glossary", NULL, "Frustrated", "P1 (Medium)", 1.0, 1.0, 0.4,
                       1000, "m-1", day0 + 2 * 86400000);
   assert_true (tk_store_record_failure (fx.store, "S6", "llm timed out", &err));

   const char *env[] = {"TRIAGE_API_CACHE_TTL=1h", NULL};
   return tk_api_fx_start (&fx, svc, "api", env) ? 0 : -1;
}

/* Every figure of the statistics, from the one scan, against the seed. */
static void
test_stats_figures_match_the_seed (void **state)
{
   (void) state;
   tk_api_fx_resp_t r = call_on (svc, "GET", "/api/processing-stats");
   assert_int_equal (r.status, 200);
   cJSON *o = r.json;
   assert_int_equal ((int) tk_api_fx_num (o, "processed_today"), 2);
   /* S6; S5 failed once but is processed. */
   assert_int_equal ((int) tk_api_fx_num (o, "failed"), 1);
   cJSON *prio = cJSON_GetObjectItem (o, "priority_distribution");
   assert_int_equal ((int) tk_api_fx_num (prio, "P0 (High)"), 2);
   assert_int_equal ((int) tk_api_fx_num (prio, "P1 (Medium)"), 2);
   assert_int_equal ((int) tk_api_fx_num (prio, "P2 (Low)"), 1);
   assert_int_equal (cJSON_GetArraySize (prio), 3);
   /* The spec's names (get_processing_stats): stats['total_processed']. */
   assert_int_equal ((int) tk_api_fx_num (o, "total_tickets"), 8);
   assert_int_equal ((int) tk_api_fx_num (o, "total_processed"), 5);
   assert_int_equal ((int) tk_api_fx_num (o, "total_unprocessed"), 3);
   cJSON *sent = cJSON_GetObjectItem (o, "sentiment_distribution");
   assert_int_equal ((int) tk_api_fx_num (sent, "Angry"), 2);
   assert_int_equal ((int) tk_api_fx_num (sent, "Curious"), 1);
   assert_int_equal ((int) tk_api_fx_num (sent, "Neutral"), 1);
   assert_int_equal ((int) tk_api_fx_num (sent, "Frustrated"), 1);
   cJSON *topic = cJSON_GetObjectItem (o, "topic_distribution");
   assert_int_equal ((int) tk_api_fx_num (topic, "SSO"), 2);
   assert_int_equal ((int) tk_api_fx_num (topic, "API/SDK"), 1);
   assert_int_equal ((int) tk_api_fx_num (topic, "Lineage"), 1);
   assert_int_equal ((int) tk_api_fx_num (topic, "Connector"), 1);
   assert_int_equal ((int) tk_api_fx_num (topic, "Glossary"), 1);
   /* Every label of the taxonomy, 0 when no ticket has it
    * (stats['topic_distribution']['Billing'] must not fail). */
   const tk_taxonomy_t *tax = tk_taxonomy_default ();
   assert_int_equal (cJSON_GetArraySize (topic),
                     (int) tk_taxonomy_count (tax, TK_TAXONOMY_TOPIC));
   int zero = 0;
   for (size_t i = 0; i < tk_taxonomy_count (tax, TK_TAXONOMY_TOPIC); i++) {
      zero += tk_api_fx_num (topic, tk_taxonomy_label (tax, TK_TAXONOMY_TOPIC, i)) == 0;
   }
   assert_int_equal (zero, (int) tk_taxonomy_count (tax, TK_TAXONOMY_TOPIC) - 5);
   assert_true (tk_api_fx_num (o, "average_processing_time_ms") ==
                (100 + 200 + 300 + 400 + 1000) / 5.0);
   cJSON *conf = cJSON_GetObjectItem (o, "average_confidence");
   assert_true (tk_api_fx_num (conf, "topic") > 0.6 - 1e-9 &&
                tk_api_fx_num (conf, "topic") < 0.6 + 1e-9);
   assert_true (tk_api_fx_num (conf, "sentiment") > 0.6 - 1e-9 &&
                tk_api_fx_num (conf, "sentiment") < 0.6 + 1e-9);
   assert_true (tk_api_fx_num (conf, "priority") > 0.4 - 1e-9 &&
                tk_api_fx_num (conf, "priority") < 0.4 + 1e-9);
   tk_api_fx_resp_free (&r);

   /* The unfiltered analytics come from the same snapshot and agree. */
   r = call_on (svc, "GET", "/api/analytics");
   assert_int_equal (r.status, 200);
   assert_int_equal ((int) tk_api_fx_num (r.json, "total"), 8);
   assert_int_equal ((int) tk_api_fx_num (r.json, "processed"), 5);
   assert_int_equal ((int) tk_api_fx_num (r.json, "failed"), 1);
   tk_api_fx_resp_free (&r);
}

/* The gauges follow the snapshot. */
static void
test_ticket_gauges_on_metrics (void **state)
{
   (void) state;
   int total = total_of (svc); /* the snapshot exists once this answered */
   assert_true (metric (svc, "triage_api_tickets_total") == total);
   assert_true (metric (svc, "triage_api_tickets_processed") == 5);
   assert_true (metric (svc, "triage_api_tickets_unprocessed") == total - 5);
}

/* A new ticket is not in the snapshot until POST /api/analytics/refresh,
 * which answers once the new snapshot is there. */
static void
test_refresh_picks_up_new_tickets (void **state)
{
   (void) state;
   int before = total_of (svc);
   seed ("S-new-1", tk_time_now_ms ());
   assert_int_equal (total_of (svc), before); /* TTL 1h: still the old snapshot */
   tk_api_fx_resp_t r = call_on (svc, "POST", "/api/analytics/refresh");
   assert_int_equal (r.status, 200);
   assert_true (cJSON_IsTrue (cJSON_GetObjectItem (r.json, "refreshed")));
   assert_int_equal ((int) tk_api_fx_num (r.json, "total"), before + 1);
   tk_api_fx_resp_free (&r);
   assert_int_equal (total_of (svc), before + 1);
   r = call_on (svc, "GET", "/api/analytics");
   assert_int_equal ((int) tk_api_fx_num (r.json, "total"), before + 1);
   tk_api_fx_resp_free (&r);
   assert_true (metric (svc, "triage_api_tickets_total") == before + 1);
}

/* With a short interval the snapshot refreshes by itself. */
static void
test_snapshot_refreshes_after_the_interval (void **state)
{
   (void) state;
   tk_test_service_t quick;
   const char *env[] = {"TRIAGE_API_CACHE_TTL=1s", NULL};
   assert_true (tk_api_fx_start (&fx, &quick, "api", env));
   int before = total_of (&quick);
   seed ("S-new-2", tk_time_now_ms ());
   /* Poll (no timing assertion: the deadline only stops a hung test). */
   int now = before;
   for (int i = 0; i < 600 && now == before; i++) {
      usleep (100 * 1000);
      now = total_of (&quick);
   }
   assert_int_equal (now, before + 1);
   assert_int_equal (tk_api_fx_stop (&quick), 0);
}

int
main (void)
{
   const struct CMUnitTest tests[] = {
      cmocka_unit_test (test_stats_figures_match_the_seed),
      cmocka_unit_test (test_ticket_gauges_on_metrics),
      cmocka_unit_test (test_refresh_picks_up_new_tickets),
      cmocka_unit_test (test_snapshot_refreshes_after_the_interval),
   };
   return cmocka_run_group_tests (tests, setup, tk_api_fx_group_teardown);
}
