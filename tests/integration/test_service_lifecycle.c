/* The three service binaries as a user runs them: --help, a bad setting,
 * health, readiness against the real stack, metrics, and a graceful stop on
 * SIGTERM. */
#include "test_support.h"

#include "service_proc.h"
#include "kafka.h"
#include "store.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

static const char *const services[] = {"ingest", "classifier", "api"};

static char db_name[64];
static char db_env[128];
static char brokers_env[256];
static char mongo_env[256];
/* Each run has its own topics and consumer group: a service started here
 * must never join the group of a real deployment (or of a parallel test)
 * and take its partitions. */
static char topics[4][96];
static char topic_env[4][224];
static char group_env[160];
static const char *const topic_vars[4] = {"TRIAGE_TOPIC_INBOUND", "TRIAGE_TOPIC_CLASSIFY",
                                          "TRIAGE_TOPIC_CLASSIFIED", "TRIAGE_TOPIC_DLQ"};

static int
setup (void **state)
{
   (void) state;
   tk_test_unique_name ("triage_test_life", db_name, sizeof db_name);
   snprintf (db_env, sizeof db_env, "TRIAGE_MONGO_DB=%s", db_name);
   snprintf (brokers_env, sizeof brokers_env, "TRIAGE_KAFKA_BROKERS=%s", tk_test_kafka_brokers ());
   snprintf (mongo_env, sizeof mongo_env, "TRIAGE_MONGO_URI=%s", tk_test_mongo_uri ());
   const char *names[4];
   for (int i = 0; i < 4; i++) {
      tk_test_unique_name ("life", topics[i], sizeof topics[i]);
      snprintf (topic_env[i], sizeof topic_env[i], "%s=%.90s", topic_vars[i], topics[i]);
      names[i] = topics[i];
   }
   char group[64];
   tk_test_unique_name ("life_group", group, sizeof group);
   snprintf (group_env, sizeof group_env, "TRIAGE_KAFKA_GROUP=%s", group);
   tk_error_t err;
   if (!tk_kafka_create_topics (tk_test_kafka_brokers (), NULL, names, 4, 2, 1, 30000, &err)) {
      fprintf (stderr, "cannot create topics: %s\n", err.message);
      return -1;
   }
   return 0;
}

/* Runs a binary with extra environment, returns its exit code, and its
 * combined output in out. */
static int
run_capture (const char *name, const char *args, const char *env, char *out, size_t cap)
{
   char cmd[1024];
   snprintf (cmd, sizeof cmd, "%s %s/triage-%s %s 2>&1", env ? env : "", TRIAGE_BIN_DIR, name,
             args);
   return tk_test_shell (cmd, out, cap);
}

static void
test_help_lists_settings (void **state)
{
   (void) state;
   static char out[65536];
   for (size_t i = 0; i < 3; i++) {
      assert_int_equal (run_capture (services[i], "--help", NULL, out, sizeof out), 0);
      assert_non_null (strstr (out, "TRIAGE_MONGO_URI"));
      assert_non_null (strstr (out, "TRIAGE_HTTP_PORT"));
   }
}

static void
test_bad_setting_names_the_variable (void **state)
{
   (void) state;
   char out[4096];
   for (size_t i = 0; i < 3; i++) {
      int rc = run_capture (services[i], "", "TRIAGE_MONGO_POOL_SIZE=lots", out, sizeof out);
      assert_int_equal (rc, 2);
      assert_non_null (strstr (out, "TRIAGE_MONGO_POOL_SIZE"));
      rc = run_capture (services[i], "--no-such-flag 1", NULL, out, sizeof out);
      assert_int_equal (rc, 2);
      assert_non_null (strstr (out, "--no-such-flag"));
   }
}

/* The api and ingest refuse to start with a weak or documented admin key
 * (issue 14): the message names the variable and says how to make one. */
static void
test_weak_admin_key_refused (void **state)
{
   (void) state;
   static const char *const weak[] = {
      "TRIAGE_ADMIN_KEY=change-me-to-a-long-random-key",     /* the old deploy/.env's */
      "TRIAGE_ADMIN_KEY=short-key-123",                      /* too short */
      "TRIAGE_ADMIN_KEY=abababababababababababababababababab", /* 2 distinct characters */
   };
   const char *servers[] = {"api", "ingest"};
   char out[4096];
   for (size_t s = 0; s < 2; s++) {
      for (size_t i = 0; i < sizeof weak / sizeof weak[0]; i++) {
         int rc = run_capture (servers[s], "", weak[i], out, sizeof out);
         if (rc != 2 || !strstr (out, "TRIAGE_ADMIN_KEY") || !strstr (out, "openssl rand -hex 24")) {
            fail_msg ("triage-%s with %s: exit %d, output: %s", servers[s], weak[i], rc, out);
         }
      }
   }
}

static void
test_health_ready_metrics_and_sigterm (void **state)
{
   (void) state;
   for (size_t i = 0; i < 3; i++) {
      const char *env[] = {db_env,       brokers_env,  mongo_env,    group_env, topic_env[0],
                           topic_env[1], topic_env[2], topic_env[3], NULL};
      tk_test_service_t svc;
      assert_true (tk_test_service_start (&svc, services[i], env, 20000));
      if (!tk_test_service_wait_ready (&svc, 20000)) {
         tk_test_service_dump_log (&svc);
         fail_msg ("triage-%s never became ready", services[i]);
      }

      char url[256];
      tk_test_http_response_t r;
      snprintf (url, sizeof url, "%s", svc.metrics_url);
      assert_true (tk_test_http ("GET", url, NULL, 0, NULL, &r));
      assert_int_equal (r.status, 200);
      assert_non_null (strstr (r.content_type, "text/plain"));
      char series[128];
      snprintf (series, sizeof series, "triage_%s_http_requests_total{route=\"/readyz\"",
                services[i]);
      assert_non_null (strstr (r.body, series));
      tk_test_http_free (&r);

      snprintf (url, sizeof url, "%s/no/such/route", svc.base_url);
      assert_true (tk_test_http ("GET", url, NULL, 0, NULL, &r));
      assert_int_equal (r.status, 404);
      assert_non_null (strstr (r.body, "\"error\""));
      tk_test_http_free (&r);

      int rc = tk_test_service_stop (&svc, SIGTERM, 15000);
      if (rc != 0) {
         tk_test_service_dump_log (&svc);
      }
      assert_int_equal (rc, 0);
   }
}

static void
test_not_ready_without_mongo (void **state)
{
   (void) state;
   /* Nothing listens on port 1: the service starts, stays alive, and says it
    * is not ready, naming MongoDB. */
   const char *env[] = {db_env,       brokers_env,  group_env,    topic_env[0], topic_env[1],
                        topic_env[2], topic_env[3],
                        "TRIAGE_MONGO_URI=mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=300",
                        NULL};
   tk_test_service_t svc;
   assert_true (tk_test_service_start (&svc, "api", env, 20000));
   char url[256];
   snprintf (url, sizeof url, "%s/readyz", svc.base_url);
   tk_test_http_response_t r;
   assert_true (tk_test_http ("GET", url, NULL, 0, NULL, &r));
   assert_int_equal (r.status, 503);
   assert_non_null (strstr (r.body, "\"failed\":\"mongo\""));
   tk_test_http_free (&r);
   assert_int_equal (tk_test_service_stop (&svc, SIGTERM, 15000), 0);
}

static int
teardown (void **state)
{
   (void) state;
   tk_error_t err;
   tk_store_t *store = tk_store_new (tk_test_mongo_uri (), db_name, 1, &err);
   if (store) {
      tk_store_drop_database (store, &err);
   }
   tk_store_destroy (store);
   const char *names[4] = {topics[0], topics[1], topics[2], topics[3]};
   tk_kafka_delete_topics (tk_test_kafka_brokers (), NULL, names, 4, 30000, &err);
   return 0;
}

int
main (void)
{
   const struct CMUnitTest tests[] = {
      cmocka_unit_test (test_help_lists_settings),
      cmocka_unit_test (test_bad_setting_names_the_variable),
      cmocka_unit_test (test_weak_admin_key_refused),
      cmocka_unit_test (test_health_ready_metrics_and_sigterm),
      cmocka_unit_test (test_not_ready_without_mongo),
   };
   return cmocka_run_group_tests (tests, setup, teardown);
}
