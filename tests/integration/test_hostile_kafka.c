/* Hostile Kafka messages on the inbound topic of a running triage-ingest:
 * empty, a tombstone (no value), binary noise, a message far over the
 * ticket size limit, keys with NUL bytes and no key at all. Each must end
 * as a DLQ record saying why; the valid ticket sent after them is stored;
 * the service stays up and its memory comes back near its baseline.
 */
#include "test_support.h"

#include <cjson/cJSON.h>
#include <librdkafka/rdkafka.h>

#include "kafka.h"
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
static char topics[4][96];
static char env_db[128], env_mongo[256], env_brokers[256];
static char env_topics[4][512];
static tk_store_t *store;
static tk_test_service_t svc;
static bool started;

static long
rss_kb (pid_t pid)
{
   char path[64], line[256];
   snprintf (path, sizeof path, "/proc/%d/status", (int) pid);
   FILE *f = fopen (path, "r");
   assert_non_null (f);
   long kb = -1;
   while (fgets (line, sizeof line, f)) {
      if (sscanf (line, "VmRSS: %ld kB", &kb) == 1) {
         break;
      }
   }
   fclose (f);
   return kb;
}

static int
setup (void **state)
{
   (void) state;
   tk_error_t err;
   tk_test_unique_name ("triage_test_hkafka", db_name, sizeof db_name);
   static const char *const kinds[4][2] = {{"inbound", "TRIAGE_TOPIC_INBOUND"},
                                           {"classify", "TRIAGE_TOPIC_CLASSIFY"},
                                           {"classified", "TRIAGE_TOPIC_CLASSIFIED"},
                                           {"dlq", "TRIAGE_TOPIC_DLQ"}};
   const char *names[4];
   for (int k = 0; k < 4; k++) {
      char prefix[64];
      snprintf (prefix, sizeof prefix, "test.hkafka.%s", kinds[k][0]);
      tk_test_unique_name (prefix, topics[k], sizeof topics[k]);
      snprintf (env_topics[k], sizeof env_topics[k], "%s=%s", kinds[k][1], topics[k]);
      names[k] = topics[k];
   }
   if (!tk_kafka_create_topics (tk_test_kafka_brokers (), NULL, names, 4, PARTITIONS, -1, 20000,
                                &err)) {
      fprintf (stderr, "create topics: %s\n", err.message);
      return -1;
   }
   snprintf (env_db, sizeof env_db, "TRIAGE_MONGO_DB=%s", db_name);
   snprintf (env_mongo, sizeof env_mongo, "TRIAGE_MONGO_URI=%s", tk_test_mongo_uri ());
   snprintf (env_brokers, sizeof env_brokers, "TRIAGE_KAFKA_BROKERS=%s", tk_test_kafka_brokers ());
   store = tk_store_new (tk_test_mongo_uri (), db_name, 2, &err);
   if (!store) {
      return -1;
   }
   const char *env[] = {env_db,        env_mongo,     env_brokers,   env_topics[0],
                        env_topics[1], env_topics[2], env_topics[3], "TRIAGE_AUTH=off",
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
   const char *names[] = {topics[0], topics[1], topics[2], topics[3]};
   tk_kafka_delete_topics (tk_test_kafka_brokers (), NULL, names, 4, 20000, &err);
   return rc;
}

static void
produce (rd_kafka_t *rk, const void *key, size_t key_len, const void *value, size_t len)
{
   rd_kafka_resp_err_t e;
   for (;;) {
      e = rd_kafka_producev (rk, RD_KAFKA_V_TOPIC (topics[0]),
                             RD_KAFKA_V_KEY ((void *) key, key_len),
                             RD_KAFKA_V_VALUE ((void *) value, len),
                             RD_KAFKA_V_MSGFLAGS (RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
      if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
         break;
      }
      rd_kafka_poll (rk, 50);
   }
   assert_int_equal (e, RD_KAFKA_RESP_ERR_NO_ERROR);
}

/* Every DLQ record (parsed) until want arrived or 60 s passed. */
static cJSON *
consume_dlq (int want)
{
   char errstr[256];
   rd_kafka_conf_t *conf = rd_kafka_conf_new ();
   rd_kafka_conf_set (conf, "bootstrap.servers", tk_test_kafka_brokers (), errstr, sizeof errstr);
   rd_kafka_conf_set (conf, "group.id", "unused", errstr, sizeof errstr);
   rd_kafka_conf_set (conf, "fetch.max.bytes", "52428800", errstr, sizeof errstr);
   rd_kafka_t *rk = rd_kafka_new (RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
   assert_non_null (rk);
   rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new (PARTITIONS);
   for (int p = 0; p < PARTITIONS; p++) {
      rd_kafka_topic_partition_list_add (parts, topics[3], p)->offset = RD_KAFKA_OFFSET_BEGINNING;
   }
   assert_int_equal (rd_kafka_assign (rk, parts), 0);
   rd_kafka_topic_partition_list_destroy (parts);
   cJSON *out = cJSON_CreateArray ();
   uint64_t deadline = tk_test_now_ms () + 60000;
   while (cJSON_GetArraySize (out) < want && tk_test_now_ms () < deadline) {
      rd_kafka_message_t *m = rd_kafka_consumer_poll (rk, 200);
      if (!m) {
         continue;
      }
      if (!m->err) {
         cJSON *j = cJSON_ParseWithLength (m->payload, m->len);
         assert_non_null (j);
         cJSON_AddItemToArray (out, j);
      }
      rd_kafka_message_destroy (m);
   }
   rd_kafka_consumer_close (rk);
   rd_kafka_destroy (rk);
   return out;
}

static void
test_binary_empty_and_enormous_messages_go_to_the_dlq (void **state)
{
   (void) state;
   long baseline = rss_kb (svc.pid);
   char errstr[256];
   rd_kafka_conf_t *conf = rd_kafka_conf_new ();
   rd_kafka_conf_set (conf, "bootstrap.servers", tk_test_kafka_brokers (), errstr, sizeof errstr);
   rd_kafka_t *rk = rd_kafka_new (RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
   assert_non_null (rk);

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
   assert_int_equal (rd_kafka_flush (rk, 30000), RD_KAFKA_RESP_ERR_NO_ERROR);
   rd_kafka_destroy (rk);

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
   cJSON *dlq = consume_dlq (6);
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
   long kb = rss_kb (svc.pid);
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
