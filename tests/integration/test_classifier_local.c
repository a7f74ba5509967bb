/* The classifier with its default provider, the built-in model: real Kafka,
 * the real MongoDB-protocol server, the real triage-classifier binary, no
 * network LLM at all. Each test inserts tickets with the store,
 * produces classification requests to this run's own classify topic, and
 * checks what a user would: the stored documents, the classified and DLQ
 * topics, and what the LLM was sent. */
#include "test_support.h"

#include "kafka.h"
#include "service_proc.h"
#include "store.h"
#include "taxonomy.h"

#include <cjson/cJSON.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WAIT_MS 90000

static char db_name[64], topic_classify[96], topic_classified[96], topic_dlq[96], group[96];
static char env_db[128], env_brokers[256], env_mongo[256], env_tc[160],
   env_tcd[160], env_tdlq[160], env_group[160];
static tk_test_service_t svc;
static tk_store_t *store;
static uv_loop_t loop;
static tk_kafka_producer_t *producer;
static tk_kafka_consumer_t *consumer;

/* Messages seen on the classified and DLQ topics. */
typedef struct {
   char topic[96];
   char *payload;
} seen_t;
static seen_t seen[4096];
static size_t n_seen;

static void
on_out (tk_kafka_consumer_t *c, const tk_kafka_message_t *m, size_t n, void *opaque)
{
   (void) c;
   (void) opaque;
   for (size_t i = 0; i < n && n_seen < 4096; i++) {
      snprintf (seen[n_seen].topic, sizeof seen[n_seen].topic, "%s", m[i].topic);
      seen[n_seen].payload = strndup (m[i].payload ? m[i].payload : "", m[i].len);
      n_seen++;
   }
}

/* The JSON message on topic about ticket id, or NULL. Caller frees. */
static cJSON *
find_seen (const char *topic, const char *id)
{
   for (size_t i = 0; i < n_seen; i++) {
      if (strcmp (seen[i].topic, topic) != 0) {
         continue;
      }
      cJSON *o = cJSON_Parse (seen[i].payload);
      const cJSON *jid = cJSON_GetObjectItemCaseSensitive (o, "id");
      if (cJSON_IsString (jid) && strcmp (jid->valuestring, id) == 0) {
         return o;
      }
      cJSON_Delete (o);
   }
   return NULL;
}

static int
setup (void **state)
{
   (void) state;
   tk_error_t err;
   tk_test_unique_name ("triage_test_cls_local", db_name, sizeof db_name);
   tk_test_unique_name ("test.classify", topic_classify, sizeof topic_classify);
   tk_test_unique_name ("test.classified", topic_classified, sizeof topic_classified);
   tk_test_unique_name ("test.dlq", topic_dlq, sizeof topic_dlq);
   tk_test_unique_name ("test-cls-group", group, sizeof group);
   const char *topics[] = {topic_classify, topic_classified, topic_dlq};
   assert_true (tk_kafka_create_topics (tk_test_kafka_brokers (), NULL, topics, 3, 3, -1, 30000,
                                        &err));
   assert_non_null (store = tk_store_new (tk_test_mongo_uri (), db_name, 4, &err));
   assert_true (tk_store_ensure_indexes (store, &err));

   snprintf (env_db, sizeof env_db, "TRIAGE_MONGO_DB=%s", db_name);
   snprintf (env_brokers, sizeof env_brokers, "TRIAGE_KAFKA_BROKERS=%s", tk_test_kafka_brokers ());
   snprintf (env_mongo, sizeof env_mongo, "TRIAGE_MONGO_URI=%s", tk_test_mongo_uri ());
   snprintf (env_tc, sizeof env_tc, "TRIAGE_TOPIC_CLASSIFY=%s", topic_classify);
   snprintf (env_tcd, sizeof env_tcd, "TRIAGE_TOPIC_CLASSIFIED=%s", topic_classified);
   snprintf (env_tdlq, sizeof env_tdlq, "TRIAGE_TOPIC_DLQ=%s", topic_dlq);
   snprintf (env_group, sizeof env_group, "TRIAGE_KAFKA_GROUP=%s", group);
   const char *env[] = {env_db, env_brokers, env_mongo, env_tc, env_tcd, env_tdlq,
                        env_group, "TRIAGE_RETRY_BASE=50ms",
                        "TRIAGE_RETRY_CAP=1s", "TRIAGE_RETRY_MAX_ATTEMPTS=4",
                        "TRIAGE_LLM_TIMEOUT=1500ms", "TRIAGE_CIRCUIT_THRESHOLD=1000",
                        "TRIAGE_CLASSIFIER_CONCURRENCY=16", "TRIAGE_LOG_LEVEL=debug", NULL};
   assert_true (tk_test_service_start (&svc, "classifier", env, 20000));
   if (!tk_test_service_wait_ready (&svc, 30000)) {
      tk_test_service_dump_log (&svc);
      fail_msg ("the classifier never became ready");
   }

   assert_int_equal (uv_loop_init (&loop), 0);
   assert_non_null (producer = tk_kafka_producer_new (&loop, tk_test_kafka_brokers (), NULL, NULL,
                                                      NULL, &err));
   char out_group[96];
   tk_test_unique_name ("test-cls-out", out_group, sizeof out_group);
   const char *out_topics[] = {topic_classified, topic_dlq};
   tk_kafka_consumer_opts_t opts = {.brokers = tk_test_kafka_brokers (), .group_id = out_group,
                                    .topics = out_topics, .n_topics = 2, .on_messages = on_out};
   assert_non_null (consumer = tk_kafka_consumer_new (&loop, &opts, &err));
   return 0;
}

static bool closed_flag;
static void
on_closed (void *ud)
{
   (void) ud;
   closed_flag = true;
}

static int
teardown (void **state)
{
   (void) state;
   tk_error_t err;
   int rc = tk_test_service_stop (&svc, SIGTERM, 20000);
   if (rc != 0) {
      tk_test_service_dump_log (&svc);
   }
   closed_flag = false;
   tk_kafka_consumer_close (consumer, on_closed, NULL);
   tk_test_run_until (&loop, &closed_flag, 20000);
   closed_flag = false;
   tk_kafka_producer_close (producer, 5000, on_closed, NULL);
   tk_test_run_until (&loop, &closed_flag, 20000);
   tk_test_loop_close (&loop);
   for (size_t i = 0; i < n_seen; i++) {
      free (seen[i].payload);
   }
   const char *topics[] = {topic_classify, topic_classified, topic_dlq};
   tk_kafka_delete_topics (tk_test_kafka_brokers (), NULL, topics, 3, 30000, &err);
   tk_store_drop_database (store, &err);
   tk_store_destroy (store);
   assert_int_equal (rc, 0); /* the classifier stopped cleanly on SIGTERM */
   return 0;
}

/* ---- helpers ------------------------------------------------------------- */

static void
insert (const char *id, const char *subject, const char *body)
{
   tk_ticket_t *t = tk_ticket_new ();
   t->id = strdup (id);
   t->subject = strdup (subject);
   t->body = strdup (body);
   tk_insert_result_t res;
   tk_error_t err;
   assert_true (tk_store_insert_tickets (store, &t, 1, &res, &err));
   assert_int_equal (res.n_stored, 1);
   tk_insert_result_cleanup (&res);
   tk_ticket_destroy (t);
}

static size_t delivered;
static void
on_delivered (tk_kafka_producer_t *p, const tk_kafka_delivery_t *d, void *opaque)
{
   (void) p;
   (void) opaque;
   assert_int_equal (d->code, 0);
   delivered++;
}

static void
request (const char *id, const char *reason)
{
   char msg[1024];
   snprintf (msg, sizeof msg, "{\"id\":\"%s\",\"reason\":\"%s\",\"requested_at\":\"2025-01-01T00:00:00Z\"}",
             id, reason);
   tk_error_t err;
   size_t before = delivered;
   assert_true (tk_kafka_produce (producer, topic_classify, id, strlen (id), msg, strlen (msg),
                                  on_delivered, NULL, &err));
   uint64_t deadline = tk_test_now_ms () + 20000;
   while (delivered == before && tk_test_now_ms () < deadline) {
      bool never = false;
      tk_test_run_until (&loop, &never, 20);
   }
   assert_int_equal (delivered, before + 1);
}

/* Runs the test loop (collecting output messages) for a moment. */
static void
pump (void)
{
   bool never = false;
   tk_test_run_until (&loop, &never, 100);
}

static tk_ticket_t *
get (const char *id)
{
   tk_ticket_t *t = NULL;
   tk_error_t err;
   assert_true (tk_store_get_ticket (store, id, &t, &err));
   return t;
}

/* Waits until ticket id is processed (or, with want_failure, has a failure
 * recorded) and its message is on the output topic. */
static tk_ticket_t *
wait_outcome (const char *id, bool want_failure)
{
   const char *topic = want_failure ? topic_dlq : topic_classified;
   uint64_t deadline = tk_test_now_ms () + WAIT_MS;
   while (tk_test_now_ms () < deadline) {
      pump ();
      tk_ticket_t *t = get (id);
      bool stored = want_failure ? t->processing_attempts > 0 : t->processed;
      cJSON *m = stored ? find_seen (topic, id) : NULL;
      if (m) {
         cJSON_Delete (m);
         return t;
      }
      tk_ticket_destroy (t);
   }
   tk_test_service_dump_log (&svc);
   fail_msg ("ticket %s: no %s outcome within %d ms", id, want_failure ? "DLQ" : "classified",
             WAIT_MS);
   return NULL;
}

static void
assert_valid_classification (const tk_ticket_t *t)
{
   tk_error_t err;
   assert_true (t->processed);
   if (!tk_taxonomy_validate_classification (tk_taxonomy_default (), &t->classification, &err)) {
      fail_msg ("ticket %s: %s", t->id, err.message);
   }
   assert_true (t->confidence.topic >= 0 && t->confidence.topic <= 1);
   assert_true (t->confidence.priority >= 0 && t->confidence.priority <= 1);
   assert_non_null (t->metadata.model_version);
   assert_memory_equal (t->metadata.model_version, "local-nb-", 9);
   assert_non_null (t->metadata.agent_version);
   assert_true (t->metadata.processed_at > 0);
   assert_true (t->metadata.processing_time_ms >= 0);
}

/* ---- tests --------------------------------------------------------------- */

static void
test_local_model_classifies (void **state)
{
   (void) state;
   static const char *const texts[][2] = {
      {"SSO login loop", "Okta SAML login keeps redirecting back to the login page. Urgent, "
                         "nobody on the team can log in!"},
      {"How to add a glossary term", "Where do I create a glossary term and link it to a "
                                     "column? Thanks."},
      {"API pagination", "The REST API returns the same page twice when I pass the cursor. "
                         "Using the Python SDK."},
      {"Snowflake connector fails", "The Snowflake crawler fails with an authentication "
                                    "error since yesterday."},
      {"Lineage missing", "Lineage is not showing for our dbt models, what am I doing wrong?"},
   };
   enum { N = 20 };
   char id[N][32];
   for (int i = 0; i < N; i++) {
      snprintf (id[i], sizeof id[i], "LOCAL-%d", i);
      insert (id[i], texts[i % 5][0], texts[i % 5][1]);
      request (id[i], "ingest");
   }
   for (int i = 0; i < N; i++) {
      tk_ticket_t *t = wait_outcome (id[i], false);
      assert_valid_classification (t);
      tk_ticket_destroy (t);
   }
}

int
main (void)
{
   const struct CMUnitTest tests[] = {
      cmocka_unit_test (test_local_model_classifies),
   };
   return cmocka_run_group_tests (tests, setup, teardown);
}
