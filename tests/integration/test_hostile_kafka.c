/* Hostile Kafka messages on the inbound topic of a running triage-ingest:
 * empty, a tombstone (no value), binary noise, a message far over the
 * ticket size limit, keys with NUL bytes and no key at all. Each must end
 * as a DLQ record saying why; the valid ticket sent after them is stored;
 * the service stays up and its memory comes back near its baseline.
 */
#include "test_support.h"

#include <cjson/cJSON.h>
#include <librdkafka/rdkafka.h>

#include "kafka_io.h"
#include "service_proc.h"
#include "store.h"
#include "ticket.h"
#include "ticket_json.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PARTITIONS 1
#define RSS_SLACK_KB (96 * 1024)

static char db_name[64];
static tk_test_topics_t topics;
static char env_db[128], env_mongo[256], env_brokers[256];
static tk_store_t *store;
static tk_test_service_t svc;
static bool started;

static int
setup (void **state)
{
   (void) state;
   tk_error_t err;
   tk_test_unique_name ("triage_test_hkafka", db_name, sizeof db_name);
   if (!tk_test_topics_create (&topics, "test.hkafka", PARTITIONS)) {
      return -1;
   }
   snprintf (env_db, sizeof env_db, "TRIAGE_MONGO_DB=%s", db_name);
   snprintf (env_mongo, sizeof env_mongo, "TRIAGE_MONGO_URI=%s", tk_test_mongo_uri ());
   snprintf (env_brokers, sizeof env_brokers, "TRIAGE_KAFKA_BROKERS=%s", tk_test_kafka_brokers ());
   store = tk_store_new (tk_test_mongo_uri (), db_name, 2, &err);
   if (!store) {
      return -1;
   }
   const char *env[] = {env_db,        env_mongo,     env_brokers,   topics.env[0],
                        topics.env[1], topics.env[2], topics.env[3], "TRIAGE_AUTH=off",
                        NULL};
   if (!tk_test_service_start (&svc, "ingest", env, 30000)) {
      return -1;
   }
   started = true;
   if (!tk_test_service_wait_ready (&svc, 30000)) {
      tk_test_service_dump_log (&svc);
      return -1;
   }
   return 0;
}

static int
teardown (void **state)
{
   (void) state;
   tk_error_t err;
   int rc = 0;
   if (started && tk_test_service_stop (&svc, SIGTERM, 20000) != 0) {
      tk_test_service_dump_log (&svc);
      rc = -1;
   }
   if (store) {
      tk_store_drop_database (store, &err);
   }
   tk_store_destroy (store);
   tk_test_topics_delete (&topics);
   return rc;
}

/* One message to the inbound topic. */
static void
produce (rd_kafka_t *rk, const void *key, size_t key_len, const void *value, size_t len)
{
   tk_test_kafka_produce (rk, topics.names[TK_TEST_TOPIC_INBOUND], key, key_len, value, len);
}

static void
test_binary_empty_and_enormous_messages_go_to_the_dlq (void **state)
{
   (void) state;
   long baseline = tk_test_rss_kb (svc.pid);
   rd_kafka_t *rk = tk_test_kafka_producer_new ();

   produce (rk, "EMPTY", 5, "", 0);
   produce (rk, "TOMBSTONE", 9, NULL, 0);
   unsigned char noise[4096];
   unsigned seed = 12345;
   for (size_t i = 0; i < sizeof noise; i++) {
      seed = seed * 1103515245u + 12345u;
      noise[i] = (unsigned char) (seed >> 16);
   }
   produce (rk, "BINARY", 6, noise, sizeof noise);
   produce (rk, "NUL\0KEY", 7, "{\"id\":", 6);
   produce (rk, NULL, 0, "[1,2,3]", 7);
   /* A ticket of 900 KB: valid JSON, over TK_TICKET_JSON_MAX. */
   size_t big_len = 900 * 1024;
   char *big = malloc (big_len + 1);
   assert_non_null (big);
   int n = snprintf (big, big_len, "{\"id\":\"BIG\",\"subject\":\"s\",\"body\":\"");
   memset (big + n, 'x', big_len - (size_t) n - 2);
   memcpy (big + big_len - 2, "\"}", 2);
   produce (rk, "BIG", 3, big, big_len);
   free (big);
   const char *good = "{\"id\":\"OK-1\",\"subject\":\"s\",\"body\":\"after the noise\"}";
   produce (rk, "OK-1", 4, good, strlen (good));
   tk_test_kafka_producer_finish (rk);

   /* The good ticket is stored: consumption went past all of it. */
   tk_error_t err;
   tk_ticket_t *t = NULL;
   bool found = false;
   for (int i = 0; i < 300 && !found; i++) {
      found = tk_store_get_ticket (store, "OK-1", &t, &err);
      if (!found) {
         usleep (100 * 1000);
      }
   }
   if (!found) {
      tk_test_service_dump_log (&svc);
      fail_msg ("OK-1 was never stored");
   }
   tk_ticket_destroy (t);

   /* Six refusals, each with a reason. */
   cJSON *dlq = tk_test_kafka_read_until (topics.names[TK_TEST_TOPIC_DLQ], PARTITIONS, 6);
   printf ("  DLQ records: %d\n", cJSON_GetArraySize (dlq));
   assert_int_equal (cJSON_GetArraySize (dlq), 6);
   const cJSON *m;
   cJSON_ArrayForEach (m, dlq)
   {
      const cJSON *e = cJSON_GetObjectItem (m, "error");
      assert_true (cJSON_IsString (e) && strlen (e->valuestring) > 0);
      const cJSON *id = cJSON_GetObjectItem (m, "id");
      printf ("  DLQ: id %s: %s\n", cJSON_IsString (id) ? id->valuestring : "(none)",
              e->valuestring);
   }
   cJSON_Delete (dlq);
   assert_false (tk_store_get_ticket (store, "BIG", &t, &err));

   char url[128];
   snprintf (url, sizeof url, "%s/healthz", svc.base_url);
   tk_test_http_response_t r;
   assert_true (tk_test_http ("GET", url, NULL, 0, NULL, &r));
   assert_int_equal (r.status, 200);
   tk_test_http_free (&r);
   long kb = tk_test_rss_kb (svc.pid);
   printf ("  triage-ingest VmRSS %ld kB (baseline %ld kB)\n", kb, baseline);
   assert_true (kb <= baseline + RSS_SLACK_KB);
}

int
main (void)
{
   const struct CMUnitTest tests[] = {
      cmocka_unit_test (test_binary_empty_and_enormous_messages_go_to_the_dlq),
   };
   return cmocka_run_group_tests (tests, setup, teardown);
}
