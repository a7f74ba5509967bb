/* GET /api/analytics and POST /api/analytics/refresh on the real stack: a
 * triage-api child process on its own database, a handful of tickets seeded
 * straight into the store with hand-picked dates (across UTC day
 * boundaries), labels, times and confidences, and every figure of the
 * answer compared with the count worked out here from the seed table. */
#include "test_support.h"

#include "api_fixture.h"
#include "timeutil.h"
#include "timezone.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ADMIN_KEY TRIAGE_TEST_ADMIN_KEY /* random per build: tests/CMakeLists.txt */

static tk_api_fx_t fx;
static const char *const viewer_key = fx.viewer_key, *const operator_key = fx.operator_key;
static int64_t day0; /* 2025-03-01T00:00:00Z */

static tk_api_fx_resp_t
call (const char *method, const char *path, const char *key, const char *body)
{
   return tk_api_fx_call (&fx.svc, method, path, key, body);
}

/* A label count of a distribution object; 0 when the label is absent. */
static int
dist (const cJSON *out, const char *which, const char *label)
{
   cJSON *d = cJSON_GetObjectItemCaseSensitive (out, which);
   assert_true (cJSON_IsObject (d));
   cJSON *v = cJSON_GetObjectItemCaseSensitive (d, label);
   return cJSON_IsNumber (v) ? (int) v->valuedouble : 0;
}

/* A day series rendered "YYYY-MM-DD=n,..." for one comparison. */
static void
series (const cJSON *out, const char *which, char *buf, size_t cap)
{
   cJSON *arr = cJSON_GetObjectItemCaseSensitive (out, which), *it;
   assert_true (cJSON_IsArray (arr));
   buf[0] = '\0';
   cJSON_ArrayForEach (it, arr)
   {
      size_t len = strlen (buf);
      snprintf (buf + len, cap - len, "%s%s=%d", len ? "," : "",
                cJSON_GetObjectItem (it, "date")->valuestring,
                (int) cJSON_GetObjectItem (it, "count")->valuedouble);
   }
}

/* The counts of a histogram's buckets, "a,b,c,...". */
static void
buckets (const cJSON *hist, char *buf, size_t cap)
{
   cJSON *arr = cJSON_GetObjectItemCaseSensitive (hist, "buckets"), *it;
   assert_true (cJSON_IsArray (arr));
   buf[0] = '\0';
   cJSON_ArrayForEach (it, arr)
   {
      size_t len = strlen (buf);
      snprintf (buf + len, cap - len, "%s%d", len ? "," : "",
                (int) cJSON_GetObjectItem (it, "count")->valuedouble);
   }
}

static tk_api_fx_resp_t
analytics (const char *query)
{
   char path[512];
   snprintf (path, sizeof path, "/api/analytics%s", query);
   tk_api_fx_resp_t r = call ("GET", path, viewer_key, NULL);
   if (r.status != 200) {
      fprintf (stderr, "GET %s -> %ld %s\n", path, r.status, r.body);
   }
   assert_int_equal (r.status, 200);
   return r;
}

/* ---- seeding ---------------------------------------------------------------- */

static void
seed (const char *id, int64_t created_at)
{
   tk_api_fx_seed (&fx, id, "subject", "body", created_at);
}

#define H 3600000LL
#define DAY 86400000LL

static int
setup (void **state)
{
   *state = &fx;
   tk_error_t err;
   if (!tk_api_fx_setup (&fx, "triage_test_analytics", NULL, ADMIN_KEY)) {
      return -1;
   }
   assert_true (tk_time_parse_iso ("2025-03-01", 10, &day0));
   /* The seed table; the expected figures in the tests follow from it. */
   seed ("A6", day0);                      /* day 0, 00:00:00.000 */
   seed ("A1", day0 + DAY - 500);          /* day 0, 23:59:59.500 */
   seed ("A2", day0 + DAY);                /* day 1, 00:00:00.000 */
   seed ("A3", day0 + DAY + 10 * H);       /* day 1 */
   seed ("A4", day0 + 3 * DAY);            /* day 3: fails */
   seed ("A5", day0 + 3 * DAY + 5 * H);    /* day 3: waiting */
   tk_api_fx_classify (&fx, "A6", "SSO", NULL, "Neutral", "P2 (Low)", 1.0, 0.99, 0.98, 70000, "m-2",
                       day0 + 1 * H);
   /* A1 is processed just after midnight: day 1. */
   tk_api_fx_classify (&fx, "A1", "SSO", "Lineage", "Angry", "P0 (High)", 0.95, 0.95, 0.95, 80,
                       "m-1", day0 + DAY + 100);
   assert_true (tk_store_record_failure (fx.store, "A2", "llm timed out", &err));
   tk_api_fx_classify (&fx, "A2", "Connector", NULL, "Curious", "P1 (Medium)", 0.45, 0.55, 0.65,
                       300, "m-2", day0 + DAY + 12 * H);
   tk_api_fx_classify (&fx, "A3", "Lineage", NULL, "Frustrated", "P0 (High)", 0.85, 0.15, 0.05,
                       1200, "m-1", day0 + 3 * DAY + H);
   assert_true (tk_store_record_failure (fx.store, "A4", "llm timed out", &err));

   const char *env[] = {"TRIAGE_API_CACHE_TTL=1h", NULL};
   if (!tk_api_fx_start (&fx, &fx.svc, "api", env)) {
      return -1;
   }
   tk_api_fx_make_role_keys (&fx);
   return 0;
}

/* ---- tests ------------------------------------------------------------------ */

static void
test_figures_match_the_seeded_tickets (void **state)
{
   (void) state;
   char buf[1024];
   tk_api_fx_resp_t r = analytics ("");
   cJSON *o = r.json;
   assert_int_equal ((int) tk_api_fx_num (o, "total"), 6);
   assert_int_equal ((int) tk_api_fx_num (o, "processed"), 4);
   assert_int_equal ((int) tk_api_fx_num (o, "unprocessed"), 2);
   assert_int_equal ((int) tk_api_fx_num (o, "failed"), 1);

   assert_int_equal (dist (o, "priority_distribution", "P0 (High)"), 2);
   assert_int_equal (dist (o, "priority_distribution", "P1 (Medium)"), 1);
   assert_int_equal (dist (o, "priority_distribution", "P2 (Low)"), 1);
   assert_int_equal (dist (o, "sentiment_distribution", "Angry"), 1);
   assert_int_equal (dist (o, "sentiment_distribution", "Curious"), 1);
   assert_int_equal (dist (o, "sentiment_distribution", "Frustrated"), 1);
   assert_int_equal (dist (o, "sentiment_distribution", "Neutral"), 1);
   assert_int_equal (cJSON_GetArraySize (cJSON_GetObjectItem (o, "sentiment_distribution")), 4);
   assert_int_equal (dist (o, "topic_distribution", "SSO"), 2);
   assert_int_equal (dist (o, "topic_distribution", "Lineage"), 2);
   assert_int_equal (dist (o, "topic_distribution", "Connector"), 1);
   assert_int_equal (cJSON_GetArraySize (cJSON_GetObjectItem (o, "topic_distribution")), 3);
   assert_int_equal (dist (o, "model_versions", "m-1"), 2);
   assert_int_equal (dist (o, "model_versions", "m-2"), 2);

   /* Per UTC day, with the empty day in between listed as 0: A1 was created
    * half a second before midnight, A2 exactly at it. */
   series (o, "created_per_day", buf, sizeof buf);
   assert_string_equal (buf, "2025-03-01=2,2025-03-02=2,2025-03-03=0,2025-03-04=2");
   series (o, "processed_per_day", buf, sizeof buf);
   assert_string_equal (buf, "2025-03-01=1,2025-03-02=2,2025-03-03=0,2025-03-04=1");

   /* Processing times 80, 300, 1200, 70000 ms in the bins <=100, <=250,
    * <=500, <=1000, <=2500, <=5000, <=10000, <=30000, <=60000, +Inf. */
   cJSON *pt = cJSON_GetObjectItem (o, "processing_time_ms");
   buckets (pt, buf, sizeof buf);
   assert_string_equal (buf, "1,0,1,0,1,0,0,0,0,1");
   assert_int_equal ((int) tk_api_fx_num (pt, "count"), 4);
   assert_true (tk_api_fx_num (pt, "average") == (80 + 300 + 1200 + 70000) / 4.0);

   /* Confidence tenths: topic 1.0, 0.95, 0.45, 0.85; priority 0.98, 0.95,
    * 0.65, 0.05. */
   cJSON *conf = cJSON_GetObjectItem (o, "confidence");
   buckets (cJSON_GetObjectItem (conf, "topic"), buf, sizeof buf);
   assert_string_equal (buf, "0,0,0,0,1,0,0,0,1,2");
   buckets (cJSON_GetObjectItem (conf, "priority"), buf, sizeof buf);
   assert_string_equal (buf, "1,0,0,0,0,0,1,0,0,2");
   double avg = tk_api_fx_num (cJSON_GetObjectItem (conf, "topic"), "average");
   assert_true (avg > (1.0 + 0.95 + 0.45 + 0.85) / 4 - 1e-9 &&
                avg < (1.0 + 0.95 + 0.45 + 0.85) / 4 + 1e-9);

   /* Failure rates: A4 failed and is still unprocessed; A2 failed once and
    * was processed on the retry. */
   cJSON *rates = cJSON_GetObjectItem (o, "error_rates");
   assert_int_equal ((int) tk_api_fx_num (rates, "failed"), 1);
   assert_int_equal ((int) tk_api_fx_num (rates, "retried_then_processed"), 1);
   assert_true (tk_api_fx_num (rates, "failed_of_total") == 1.0 / 6);
   assert_true (tk_api_fx_num (rates, "failed_of_attempted") == 1.0 / 5);
   tk_api_fx_resp_free (&r);
}

static void
test_filters_apply (void **state)
{
   (void) state;
   char buf[1024];
   tk_api_fx_resp_t r = analytics ("?priority=p0%20(high)");
   assert_int_equal ((int) tk_api_fx_num (r.json, "total"), 2);
   assert_int_equal (dist (r.json, "topic_distribution", "Lineage"), 2);
   assert_int_equal (dist (r.json, "topic_distribution", "SSO"), 1);
   series (r.json, "created_per_day", buf, sizeof buf);
   assert_string_equal (buf, "2025-03-01=1,2025-03-02=1");
   series (r.json, "processed_per_day", buf, sizeof buf);
   assert_string_equal (buf, "2025-03-02=1,2025-03-03=0,2025-03-04=1");
   tk_api_fx_resp_free (&r);

   r = analytics ("?status=failed");
   assert_int_equal ((int) tk_api_fx_num (r.json, "total"), 1);
   assert_int_equal ((int) tk_api_fx_num (r.json, "failed"), 1);
   assert_int_equal ((int) tk_api_fx_num (r.json, "processed"), 0);
   assert_true (cJSON_IsNull (
      cJSON_GetObjectItem (cJSON_GetObjectItem (r.json, "processing_time_ms"), "average")));
   tk_api_fx_resp_free (&r);

   r = analytics ("?created_from=2025-03-02&created_to=2025-03-04");
   assert_int_equal ((int) tk_api_fx_num (r.json, "total"), 2); /* A2, A3 */
   series (r.json, "created_per_day", buf, sizeof buf);
   assert_string_equal (buf, "2025-03-02=2");
   tk_api_fx_resp_free (&r);

   r = analytics ("?q=zzz-nothing");
   assert_int_equal ((int) tk_api_fx_num (r.json, "total"), 0);
   series (r.json, "created_per_day", buf, sizeof buf);
   assert_string_equal (buf, "");
   tk_api_fx_resp_free (&r);

   /* Bad filters and paging parameters are refused by name. */
   r = call ("GET", "/api/analytics?priority=P9", viewer_key, NULL);
   assert_int_equal (r.status, 400);
   tk_api_fx_resp_free (&r);
   r = call ("GET", "/api/analytics?limit=5", viewer_key, NULL);
   assert_int_equal (r.status, 400);
   tk_api_fx_resp_free (&r);
   r = call ("GET", "/api/analytics?status[$ne]=x", viewer_key, NULL);
   assert_int_equal (r.status, 400);
   tk_api_fx_resp_free (&r);
   r = call ("GET", "/api/analytics", NULL, NULL);
   assert_int_equal (r.status, 401);
   tk_api_fx_resp_free (&r);
}

static void
test_cache_and_refresh (void **state)
{
   (void) state;
   tk_api_fx_resp_t r = analytics (""); /* cached since the first test */
   assert_int_equal ((int) tk_api_fx_num (r.json, "total"), 6);
   tk_api_fx_resp_free (&r);
   /* A new ticket is not seen while the answer is cached... */
   seed ("A7", day0 + 4 * DAY);
   r = analytics ("");
   assert_int_equal ((int) tk_api_fx_num (r.json, "total"), 6);
   tk_api_fx_resp_free (&r);
   /* ...a viewer may not drop the cache, an operator may... */
   r = call ("POST", "/api/analytics/refresh", viewer_key, NULL);
   assert_int_equal (r.status, 403);
   tk_api_fx_resp_free (&r);
   r = call ("POST", "/api/analytics/refresh", operator_key, NULL);
   assert_int_equal (r.status, 200);
   assert_true (tk_api_fx_num (r.json, "dropped") >= 1);
   tk_api_fx_resp_free (&r);
   /* ...and then it is. */
   r = analytics ("");
   assert_int_equal ((int) tk_api_fx_num (r.json, "total"), 7);
   tk_api_fx_resp_free (&r);

   /* Hits and misses are counted on /metrics. */
   tk_test_http_response_t m;
   char url[256];
   snprintf (url, sizeof url, "%s", fx.svc.metrics_url);
   assert_true (tk_test_http ("GET", url, NULL, 0, NULL, &m));
   assert_int_equal (m.status, 200);
   const char *hit = strstr (m.body, "triage_api_cache_total{result=\"hit\"} ");
   const char *miss = strstr (m.body, "triage_api_cache_total{result=\"miss\"} ");
   if (!hit || !miss) {
      fprintf (stderr, "%s\n", m.body);
   }
   assert_non_null (hit);
   assert_non_null (miss);
   assert_true (atoi (strchr (hit, '}') + 2) >= 2);
   assert_true (atoi (strchr (miss, '}') + 2) >= 5);
   tk_test_http_free (&m);

   /* The refresh is audited with the operator's key, and the viewer's
    * attempt as refused by the key check (before the route ran). */
   r = call ("GET", "/api/audit?action=analytics.refresh", ADMIN_KEY, NULL);
   assert_int_equal (r.status, 200);
   assert_int_equal ((int) tk_api_fx_num (r.json, "count"), 1);
   tk_api_fx_resp_free (&r);
   r = call ("GET", "/api/audit?action=auth.forbidden", ADMIN_KEY, NULL);
   assert_int_equal (r.status, 200);
   bool saw_viewer = false;
   cJSON *it;
   cJSON_ArrayForEach (it, cJSON_GetObjectItem (r.json, "items"))
   {
      saw_viewer |= !strcmp (cJSON_GetObjectItem (it, "route")->valuestring,
                             "/api/analytics/refresh") &&
                    !strcmp (cJSON_GetObjectItem (it, "role")->valuestring, "viewer");
   }
   assert_true (saw_viewer);
   tk_api_fx_resp_free (&r);
}

/* The days of the caller's zone (tz): the seed counted by Los Angeles and
 * Kathmandu days, on the snapshot (no filter) and on a filtered scan; and
 * "processed today" from the Los Angeles midnight of the real today. */
static void
test_days_in_a_time_zone (void **state)
{
   (void) state;
   char buf[1024];
   /* PST (UTC-8) all along: A6 at 00:00Z is still Feb 28 there, A2 at
    * 00:00Z on day 1 is 16:00 on Mar 1, A3 at 10:00Z on day 1 is Mar 2. */
   tk_api_fx_resp_t r = analytics ("?tz=America/Los_Angeles");
   assert_string_equal (cJSON_GetStringValue (cJSON_GetObjectItem (r.json, "time_zone")),
                        "America/Los_Angeles");
   series (r.json, "created_per_day", buf, sizeof buf);
   assert_string_equal (buf, "2025-02-28=1,2025-03-01=2,2025-03-02=1,2025-03-03=2,2025-03-04=1");
   series (r.json, "processed_per_day", buf, sizeof buf);
   assert_string_equal (buf, "2025-02-28=1,2025-03-01=1,2025-03-02=1,2025-03-03=1");
   tk_api_fx_resp_free (&r);
   r = analytics ("?status=processed&tz=America/Los_Angeles");
   series (r.json, "created_per_day", buf, sizeof buf);
   assert_string_equal (buf, "2025-02-28=1,2025-03-01=2,2025-03-02=1");
   tk_api_fx_resp_free (&r);
   /* UTC+5:45: A1 (23:59:59.5Z) and A2 (00:00Z) are both Mar 2 there. */
   r = analytics ("?tz=Asia/Kathmandu");
   series (r.json, "created_per_day", buf, sizeof buf);
   assert_string_equal (buf, "2025-03-01=1,2025-03-02=3,2025-03-03=0,2025-03-04=2,2025-03-05=1");
   tk_api_fx_resp_free (&r);
   /* Without tz, and with tz=UTC: UTC days, as before. */
   r = analytics ("?tz=UTC");
   series (r.json, "created_per_day", buf, sizeof buf);
   assert_string_equal (buf, "2025-03-01=2,2025-03-02=2,2025-03-03=0,2025-03-04=2,2025-03-05=1");
   assert_string_equal (cJSON_GetStringValue (cJSON_GetObjectItem (r.json, "time_zone")), "UTC");
   tk_api_fx_resp_free (&r);

   /* Processed today: one ticket at the Los Angeles midnight that began
    * today, one a minute before it. */
   tk_error_t err;
   tk_zone_t *la = tk_zone_open ("America/Los_Angeles", &err);
   assert_non_null (la);
   int64_t now = tk_time_now_ms (), today = tk_zone_day (la, now);
   int64_t midnight = today * TK_DAY_MS - tk_zone_offset_ms (la, now);
   while (tk_zone_day (la, midnight - 1) == today) { /* an hour of DST since midnight */
      midnight -= 3600000;
   }
   while (tk_zone_day (la, midnight) < today) {
      midnight += 3600000;
   }
   tk_zone_close (la);
   seed ("Z1", midnight);
   seed ("Z2", midnight - 60000);
   tk_api_fx_classify (&fx, "Z1", "SSO", NULL, "Neutral", "P2 (Low)", .9, .9, .9, 10, "m-2",
                       midnight);
   tk_api_fx_classify (&fx, "Z2", "SSO", NULL, "Neutral", "P2 (Low)", .9, .9, .9, 10, "m-2",
                       midnight - 60000);
   r = call ("POST", "/api/analytics/refresh", operator_key, NULL);
   assert_int_equal (r.status, 200);
   tk_api_fx_resp_free (&r);
   r = call ("GET", "/api/processing-stats?tz=America/Los_Angeles", viewer_key, NULL);
   assert_int_equal (r.status, 200);
   assert_int_equal ((int) tk_api_fx_num (r.json, "processed_today"), 1);
   assert_string_equal (cJSON_GetStringValue (cJSON_GetObjectItem (r.json, "time_zone")),
                        "America/Los_Angeles");
   tk_api_fx_resp_free (&r);
   int64_t utc_midnight = now - now % TK_DAY_MS;
   r = call ("GET", "/api/processing-stats", viewer_key, NULL);
   assert_int_equal (r.status, 200);
   assert_int_equal ((int) tk_api_fx_num (r.json, "processed_today"),
                     (midnight >= utc_midnight) + (midnight - 60000 >= utc_midnight));
   tk_api_fx_resp_free (&r);

   /* What is refused, and says why. */
   static const char *const bad[] = {
      "/api/analytics?tz=Mars%2FOlympus",
      "/api/analytics?tz=Europe%2FParis&tz=UTC",
      "/api/processing-stats?tz=GMT%2B05%3A00",
      "/api/processing-stats?tz=",
      "/api/processing-stats?status=processed",
   };
   for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
      r = call ("GET", bad[i], viewer_key, NULL);
      if (r.status != 400) {
         fprintf (stderr, "GET %s -> %ld %s\n", bad[i], r.status, r.body);
      }
      assert_int_equal (r.status, 400);
      tk_api_fx_resp_free (&r);
   }
}

int
main (void)
{
   const struct CMUnitTest tests[] = {
      cmocka_unit_test (test_figures_match_the_seeded_tickets),
      cmocka_unit_test (test_filters_apply),
      cmocka_unit_test (test_cache_and_refresh),
      cmocka_unit_test (test_days_in_a_time_zone),
   };
   return cmocka_run_group_tests (tests, setup, tk_api_fx_group_teardown);
}
