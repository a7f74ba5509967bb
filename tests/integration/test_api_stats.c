/* GET /api/processing-stats and the statistics snapshot on the real stack:
 * known tickets seeded straight into the store, a triage-api child process
 * on its own database, and the figures checked over HTTP: every number of
 * the single scan, a snapshot that keeps serving the old figures until it is
 * refreshed (by POST /api/analytics/refresh, or by its timer), and the
 * triage_api_tickets_* gauges on /metrics. */
#include "test_support.h"

#include "service_proc.h"
#include "store.h"
#include "ticket.h"
#include "timeutil.h"

#include <cjson/cJSON.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ADMIN_KEY "test-admin-key-stats-0123456789"

static char db_name[64];
static char env_db[128], env_mongo[256], env_brokers[256];
static tk_test_service_t svc; /* TRIAGE_API_CACHE_TTL=1h: refreshed only on request */
static tk_store_t *store;

typedef struct {
   long status;
   cJSON *json;
   char *text;
} resp_t;

static resp_t
call_on (const tk_test_service_t *s, const char *method, const char *path)
{
   char url[1024];
   const char *headers[] = {"Authorization: Bearer " ADMIN_KEY, NULL};
   snprintf (url, sizeof url, "%s%s", s->base_url, path);
   tk_test_http_response_t r;
   assert_true (tk_test_http (method, url, NULL, 0, headers, &r));
   resp_t out = {r.status, r.body ? cJSON_Parse (r.body) : NULL, r.body};
   r.body = NULL;
   tk_test_http_free (&r);
   return out;
}

static void
resp_free (resp_t *r)
{
   cJSON_Delete (r->json);
   free (r->text);
}

static double
num (const cJSON *obj, const char *key)
{
   cJSON *v = cJSON_GetObjectItem (obj, key);
   if (!cJSON_IsNumber (v)) {
      fprintf (stderr, "no number %s\n", key);
   }
   assert_true (cJSON_IsNumber (v));
   return v->valuedouble;
}

static int
total_of (const tk_test_service_t *s)
{
   resp_t r = call_on (s, "GET", "/api/processing-stats");
   assert_int_equal (r.status, 200);
   int n = (int) num (r.json, "total");
   resp_free (&r);
   return n;
}

/* The value of an unlabelled series on /metrics, or -1. */
static double
metric (const tk_test_service_t *s, const char *name)
{
   char url[256], key[128];
   snprintf (url, sizeof url, "%s/metrics", s->base_url);
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
   tk_ticket_t *t = tk_ticket_new ();
   t->id = strdup (id);
   t->subject = strdup ("subject");
   t->body = strdup ("body");
   t->created_at = created_at;
   tk_insert_result_t res;
   tk_error_t err;
   assert_true (tk_store_insert_tickets (store, &t, 1, &res, &err));
   assert_int_equal (res.n_stored, 1);
   tk_insert_result_cleanup (&res);
   tk_ticket_destroy (t);
}

static void
classify (const char *id, const char *tag1, const char *tag2, const char *sentiment,
          const char *priority, double ct, double cs, double cp, int64_t time_ms,
          int64_t processed_at)
{
   tk_classification_t c = {{(char *) tag1, (char *) tag2}, tag2 ? 2 : 1, (char *) sentiment,
                            (char *) priority};
   tk_confidence_t cf = {ct, cs, cp};
   tk_processing_metadata_t m = {processed_at, "m-1", time_ms, "1.0"};
   tk_error_t err;
   assert_true (tk_store_update_ticket_with_classification (store, id, &c, &cf, &m, &err));
}

static int
setup (void **state)
{
   (void) state;
   tk_error_t err;
   tk_test_unique_name ("triage_test_api_stats", db_name, sizeof db_name);
   snprintf (env_db, sizeof env_db, "TRIAGE_MONGO_DB=%s", db_name);
   snprintf (env_mongo, sizeof env_mongo, "TRIAGE_MONGO_URI=%s", tk_test_mongo_uri ());
   snprintf (env_brokers, sizeof env_brokers, "TRIAGE_KAFKA_BROKERS=%s", tk_test_kafka_brokers ());
   store = tk_store_new (tk_test_mongo_uri (), db_name, 2, &err);
   if (!store || !tk_store_ensure_indexes (store, &err)) {
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
   classify ("S1", "SSO", "API/SDK", "Angry", "P0 (High)", 0.9, 0.8, 0.7, 100, day0 + 86400000);
   classify ("S2", "SSO", NULL, "Curious", "P1 (Medium)", 0.5, 0.6, 0.5, 200, day0 + 86400000);
   classify ("S3", "Lineage", NULL, "Angry", "P0 (High)", 0.4, 0.4, 0.3, 300, now - 1000);
   classify ("S4", "Connector", NULL, "Neutral", "P2 (Low)", 0.2, 0.2, 0.1, 400, now - 500);
   assert_true (tk_store_record_failure (store, "S5", "llm timed out", &err));
   classify ("S5", "Glossary", NULL, "Frustrated", "P1 (Medium)", 1.0, 1.0, 0.4, 1000,
             day0 + 2 * 86400000);
   assert_true (tk_store_record_failure (store, "S6", "llm timed out", &err));

   const char *env[] = {env_db, env_mongo, env_brokers, "TRIAGE_ADMIN_KEY=" ADMIN_KEY,
                        "TRIAGE_API_CACHE_TTL=1h", NULL};
   return tk_test_service_start (&svc, "api", env, 20000) ? 0 : -1;
}

static int
teardown (void **state)
{
   (void) state;
   tk_error_t err;
   int rc = tk_test_service_stop (&svc, SIGTERM, 15000);
   if (rc != 0) {
      tk_test_service_dump_log (&svc);
   }
   if (store) {
      tk_store_drop_database (store, &err);
   }
   tk_store_destroy (store);
   return rc == 0 ? 0 : -1;
}

/* Every figure of the statistics, from the one scan, against the seed. */
static void
test_stats_figures_match_the_seed (void **state)
{
   (void) state;
   resp_t r = call_on (&svc, "GET", "/api/processing-stats");
   assert_int_equal (r.status, 200);
   cJSON *o = r.json;
   assert_int_equal ((int) num (o, "total"), 8);
   assert_int_equal ((int) num (o, "processed"), 5);
   assert_int_equal ((int) num (o, "unprocessed"), 3);
   assert_int_equal ((int) num (o, "processed_today"), 2);
   assert_int_equal ((int) num (o, "failed"), 1); /* S6; S5 failed once but is processed */
   cJSON *prio = cJSON_GetObjectItem (o, "priority_distribution");
   assert_int_equal ((int) num (prio, "P0 (High)"), 2);
   assert_int_equal ((int) num (prio, "P1 (Medium)"), 2);
   assert_int_equal ((int) num (prio, "P2 (Low)"), 1);
   assert_int_equal (cJSON_GetArraySize (prio), 3);
   cJSON *sent = cJSON_GetObjectItem (o, "sentiment_distribution");
   assert_int_equal ((int) num (sent, "Angry"), 2);
   assert_int_equal ((int) num (sent, "Curious"), 1);
   assert_int_equal ((int) num (sent, "Neutral"), 1);
   assert_int_equal ((int) num (sent, "Frustrated"), 1);
   cJSON *topic = cJSON_GetObjectItem (o, "topic_distribution");
   assert_int_equal ((int) num (topic, "SSO"), 2);
   assert_int_equal ((int) num (topic, "API/SDK"), 1);
   assert_int_equal ((int) num (topic, "Lineage"), 1);
   assert_int_equal ((int) num (topic, "Connector"), 1);
   assert_int_equal ((int) num (topic, "Glossary"), 1);
   assert_int_equal (cJSON_GetArraySize (topic), 5);
   assert_true (num (o, "average_processing_time_ms") == (100 + 200 + 300 + 400 + 1000) / 5.0);
   cJSON *conf = cJSON_GetObjectItem (o, "average_confidence");
   assert_true (num (conf, "topic") > 0.6 - 1e-9 && num (conf, "topic") < 0.6 + 1e-9);
   assert_true (num (conf, "sentiment") > 0.6 - 1e-9 && num (conf, "sentiment") < 0.6 + 1e-9);
   assert_true (num (conf, "priority") > 0.4 - 1e-9 && num (conf, "priority") < 0.4 + 1e-9);
   resp_free (&r);

   /* The unfiltered analytics come from the same snapshot and agree. */
   r = call_on (&svc, "GET", "/api/analytics");
   assert_int_equal (r.status, 200);
   assert_int_equal ((int) num (r.json, "total"), 8);
   assert_int_equal ((int) num (r.json, "processed"), 5);
   assert_int_equal ((int) num (r.json, "failed"), 1);
   resp_free (&r);
}

/* The gauges follow the snapshot. */
static void
test_ticket_gauges_on_metrics (void **state)
{
   (void) state;
   int total = total_of (&svc); /* the snapshot exists once this answered */
   assert_true (metric (&svc, "triage_api_tickets_total") == total);
   assert_true (metric (&svc, "triage_api_tickets_processed") == 5);
   assert_true (metric (&svc, "triage_api_tickets_unprocessed") == total - 5);
}

/* A new ticket is not in the snapshot until POST /api/analytics/refresh,
 * which answers once the new snapshot is there. */
static void
test_refresh_picks_up_new_tickets (void **state)
{
   (void) state;
   int before = total_of (&svc);
   seed ("S-new-1", tk_time_now_ms ());
   assert_int_equal (total_of (&svc), before); /* TTL 1h: still the old snapshot */
   resp_t r = call_on (&svc, "POST", "/api/analytics/refresh");
   assert_int_equal (r.status, 200);
   assert_true (cJSON_IsTrue (cJSON_GetObjectItem (r.json, "refreshed")));
   assert_int_equal ((int) num (r.json, "total"), before + 1);
   resp_free (&r);
   assert_int_equal (total_of (&svc), before + 1);
   r = call_on (&svc, "GET", "/api/analytics");
   assert_int_equal ((int) num (r.json, "total"), before + 1);
   resp_free (&r);
   assert_true (metric (&svc, "triage_api_tickets_total") == before + 1);
}

/* With a short interval the snapshot refreshes by itself. */
static void
test_snapshot_refreshes_after_the_interval (void **state)
{
   (void) state;
   tk_test_service_t quick;
   const char *env[] = {env_db, env_mongo, env_brokers, "TRIAGE_ADMIN_KEY=" ADMIN_KEY,
                        "TRIAGE_API_CACHE_TTL=1s", NULL};
   assert_true (tk_test_service_start (&quick, "api", env, 20000));
   int before = total_of (&quick);
   seed ("S-new-2", tk_time_now_ms ());
   /* Poll (no timing assertion: the deadline only stops a hung test). */
   int now = before;
   for (int i = 0; i < 600 && now == before; i++) {
      usleep (100 * 1000);
      now = total_of (&quick);
   }
   assert_int_equal (now, before + 1);
   assert_int_equal (tk_test_service_stop (&quick, SIGTERM, 15000), 0);
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
   return cmocka_run_group_tests (tests, setup, teardown);
}
