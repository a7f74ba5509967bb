/* Jobs that fail (issue 15): when a job's classification requests cannot be
 * published to Kafka, the job is recorded as `failed` with the reason and
 * the counts, GET /api/process/{job} says so, and POST /api/process answers
 * an error with the reason when not one request went out. The api is
 * pointed at a classify topic that does not exist on a broker that does
 * not create topics (deploy/local: auto.create.topics.enable=false), with
 * a short message.timeout.ms, so every delivery report is an error. And a
 * job only some of whose requests the broker takes: a classify topic whose
 * max.message.bytes admits the request of a ticket with a short id and not
 * that of a ticket with a long one (ids go into the message twice, key and
 * body), each request in its own batch, so the broker judges each alone.
 * Real triage-api, real Kafka, the real MongoDB-protocol server. */
#include "test_support.h"

#include "api_fixture.h"
#include "kafka.h"
#include "kafka_io.h"

#include <librdkafka/rdkafka.h>
#include <mongoc/mongoc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ADMIN_KEY TRIAGE_TEST_ADMIN_KEY /* random per build: tests/CMakeLists.txt */

static tk_api_fx_t fx;
static tk_test_service_t *const api = &fx.svc;
static char env_topic[160];
static tk_test_service_t api_small; /* its classify topic takes small messages only */
static char small_topic[96];

static int
setup (void **state)
{
   (void) state;
   if (!tk_api_fx_setup (&fx, "triage_test_jobfail", NULL, ADMIN_KEY)) {
      return -1;
   }
   char topic[96];
   tk_test_unique_name ("test.classify.missing", topic, sizeof topic);
   snprintf (env_topic, sizeof env_topic, "TRIAGE_TOPIC_CLASSIFY=%s", topic);
   const char *env[] = {env_topic, "TRIAGE_KAFKA_CONFIG=message.timeout.ms=3000", NULL};
   return tk_api_fx_start (&fx, api, "api", env) ? 0 : -1;
}

static int
teardown (void **state)
{
   (void) state;
   int rc = 0;
   if (api_small.pid > 0) {
      rc = tk_api_fx_stop (&api_small);
   }
   if (small_topic[0]) {
      tk_error_t err;
      const char *names[] = {small_topic};
      tk_kafka_delete_topics (tk_test_kafka_brokers (), NULL, names, 1, 20000, &err);
   }
   return tk_api_fx_teardown (&fx) == 0 && rc == 0 ? 0 : -1;
}

/* Creates topic name with one partition and the broker's replication, its
 * max.message.bytes set to max_bytes; fails the test when the broker
 * refuses. */
static void
create_small_topic (const char *name, const char *max_bytes)
{
   char errstr[256];
   rd_kafka_conf_t *conf = rd_kafka_conf_new ();
   assert_int_equal (rd_kafka_conf_set (conf, "bootstrap.servers", tk_test_kafka_brokers (),
                                        errstr, sizeof errstr),
                     RD_KAFKA_CONF_OK);
   rd_kafka_t *rk = rd_kafka_new (RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
   assert_non_null (rk); /* took conf */
   rd_kafka_NewTopic_t *nt = rd_kafka_NewTopic_new (name, 1, -1, errstr, sizeof errstr);
   assert_non_null (nt);
   assert_int_equal (rd_kafka_NewTopic_set_config (nt, "max.message.bytes", max_bytes),
                     RD_KAFKA_RESP_ERR_NO_ERROR);
   rd_kafka_queue_t *q = rd_kafka_queue_new (rk);
   rd_kafka_AdminOptions_t *opts = rd_kafka_AdminOptions_new (rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
   rd_kafka_AdminOptions_set_operation_timeout (opts, 20000, errstr, sizeof errstr);
   rd_kafka_CreateTopics (rk, &nt, 1, opts, q);
   rd_kafka_event_t *ev = rd_kafka_queue_poll (q, 30000);
   assert_non_null (ev);
   if (rd_kafka_event_error (ev)) {
      fail_msg ("create %s: %s", name, rd_kafka_event_error_string (ev));
   }
   size_t n = 0;
   const rd_kafka_topic_result_t **res =
      rd_kafka_CreateTopics_result_topics (rd_kafka_event_CreateTopics_result (ev), &n);
   assert_int_equal (n, 1);
   if (rd_kafka_topic_result_error (res[0])) {
      fail_msg ("create %s: %s", name, rd_kafka_topic_result_error_string (res[0]));
   }
   rd_kafka_event_destroy (ev);
   rd_kafka_AdminOptions_destroy (opts);
   rd_kafka_NewTopic_destroy (nt);
   rd_kafka_queue_destroy (q);
   rd_kafka_destroy (rk);
}

/* The job id named in an error message ("job job_<hex> failed: ..."). */
static void
job_in (const char *message, char *job, size_t cap)
{
   const char *at = strstr (message, "job_");
   assert_non_null (at);
   size_t n = strspn (at, "job_0123456789abcdef");
   assert_true (n > 4 && n < cap);
   memcpy (job, at, n);
   job[n] = '\0';
}

static void
test_unpublished_job_fails (void **state)
{
   (void) state;
   tk_api_fx_seed (&fx, "F-1", "Lineage", "The lineage graph is empty.", 0);
   tk_api_fx_seed (&fx, "F-2", "Connector", "The Snowflake connector fails.", 0);
   tk_api_fx_seed (&fx, "F-3", "SSO", "SAML login loops.", 0);
   tk_api_fx_resp_t r = tk_api_fx_call (api, "POST", "/api/process", ADMIN_KEY,
                                        "{\"mode\":\"unprocessed\"}");
   assert_int_equal (r.status, 503);
   const cJSON *error = cJSON_GetObjectItemCaseSensitive (r.json, "error");
   assert_string_equal (tk_api_fx_str (error, "code"), "publish_failed");
   const char *message = tk_api_fx_str (error, "message");
   assert_non_null (message);
   assert_non_null (strstr (message, "none of its 3 classification requests"));
   assert_non_null (strstr (message, env_topic + strlen ("TRIAGE_TOPIC_CLASSIFY=")));
   char job[64], path[128];
   job_in (message, job, sizeof job);
   tk_api_fx_resp_free (&r);

   snprintf (path, sizeof path, "/api/process/%s", job);
   r = tk_api_fx_call (api, "GET", path, ADMIN_KEY, NULL);
   assert_int_equal (r.status, 200);
   assert_string_equal (tk_api_fx_str (r.json, "state"), "failed");
   const char *reason = tk_api_fx_str (r.json, "reason");
   assert_non_null (reason);
   assert_non_null (strstr (reason, "3 of 3 classification requests could not be published"));
   assert_int_equal ((int) tk_api_fx_num (r.json, "published"), 0);
   assert_int_equal ((int) tk_api_fx_num (r.json, "publish_failed"), 3);
   assert_int_equal ((int) tk_api_fx_num (r.json, "requested"), 3);
   tk_api_fx_resp_free (&r);

   /* The record holds it, for every replica. */
   mongoc_collection_t *jobs = tk_api_fx_collection (&fx, "jobs");
   bson_t *filter = BCON_NEW ("job_id", BCON_UTF8 (job), "status", BCON_UTF8 ("failed"));
   bson_error_t e;
   int64_t n = mongoc_collection_count_documents (jobs, filter, NULL, NULL, NULL, &e);
   bson_destroy (filter);
   tk_api_fx_collection_release (&fx, jobs);
   assert_int_equal (n, 1);
}

/* Three short ids, two long ones (120 bytes): the broker takes the
 * requests of the first and refuses those of the others (message too
 * large). The job answers 202 (some went out) saying failed, and its record
 * says failed with 3 published and 2 not; the topic holds the 3. */
static void
test_partly_published_job_fails (void **state)
{
   (void) state;
   tk_test_unique_name ("test.classify.small", small_topic, sizeof small_topic);
   /* A short id's request is a batch of about 200 bytes, a long id's about
    * 430 (record batch header, key and body, which both hold the id). */
   create_small_topic (small_topic, "320");
   char topic_env[160];
   snprintf (topic_env, sizeof topic_env, "TRIAGE_TOPIC_CLASSIFY=%s", small_topic);
   /* One request per batch, one batch in flight: the broker judges each
    * request alone, whatever the timing. */
   const char *env[] = {topic_env,
                        "TRIAGE_KAFKA_CONFIG=linger.ms=0,batch.num.messages=1,"
                        "max.in.flight.requests.per.connection=1,message.timeout.ms=15000",
                        NULL};
   assert_true (tk_api_fx_start (&fx, &api_small, "api", env));

   char long_a[128], long_b[128];
   snprintf (long_a, sizeof long_a, "LONG-A-%0113d", 0);
   snprintf (long_b, sizeof long_b, "LONG-B-%0113d", 0);
   assert_int_equal (strlen (long_a), 120);
   tk_api_fx_seed (&fx, "S-1", "Lineage", "The lineage graph is empty.", 0);
   tk_api_fx_seed (&fx, long_a, "Connector", "The Snowflake connector fails.", 0);
   tk_api_fx_seed (&fx, "S-2", "SSO", "SAML login loops.", 0);
   tk_api_fx_seed (&fx, long_b, "Glossary", "Glossary terms vanished.", 0);
   tk_api_fx_seed (&fx, "S-3", "API", "How do we rotate the API token?", 0);
   char body[512];
   snprintf (body, sizeof body,
             "{\"mode\":\"ids\",\"ids\":[\"S-1\",\"%s\",\"S-2\",\"%s\",\"S-3\"]}", long_a,
             long_b);
   tk_api_fx_resp_t r = tk_api_fx_call (&api_small, "POST", "/api/process", ADMIN_KEY, body);
   if (r.status != 202) {
      fail_msg ("POST /api/process: %d %s", r.status, r.body);
   }
   assert_string_equal (tk_api_fx_str (r.json, "state"), "failed");
   assert_int_equal ((int) tk_api_fx_num (r.json, "requested"), 5);
   assert_int_equal ((int) tk_api_fx_num (r.json, "published"), 3);
   assert_int_equal ((int) tk_api_fx_num (r.json, "publish_failed"), 2);
   fprintf (stderr, "# the answer's reason: %s\n", tk_api_fx_str (r.json, "reason"));
   char job[64], path[128];
   snprintf (job, sizeof job, "%s", tk_api_fx_str (r.json, "job_id"));
   tk_api_fx_resp_free (&r);

   /* Any replica (here the first api, on the same database) reads it. */
   snprintf (path, sizeof path, "/api/process/%s", job);
   r = tk_api_fx_call (api, "GET", path, ADMIN_KEY, NULL);
   assert_int_equal (r.status, 200);
   assert_string_equal (tk_api_fx_str (r.json, "state"), "failed");
   const char *reason = tk_api_fx_str (r.json, "reason");
   assert_non_null (reason);
   assert_non_null (strstr (reason, "2 of 5 classification requests could not be published"));
   assert_non_null (strstr (reason, small_topic));
   assert_int_equal ((int) tk_api_fx_num (r.json, "published"), 3);
   assert_int_equal ((int) tk_api_fx_num (r.json, "publish_failed"), 2);
   assert_int_equal ((int) tk_api_fx_num (r.json, "requested"), 5);
   tk_api_fx_resp_free (&r);

   mongoc_collection_t *jobs = tk_api_fx_collection (&fx, "jobs");
   bson_t *filter = BCON_NEW ("job_id", BCON_UTF8 (job), "status", BCON_UTF8 ("failed"),
                              "published", BCON_INT64 (3), "publish_failed", BCON_INT64 (2));
   bson_error_t e;
   int64_t n = mongoc_collection_count_documents (jobs, filter, NULL, NULL, NULL, &e);
   bson_destroy (filter);
   tk_api_fx_collection_release (&fx, jobs);
   assert_int_equal (n, 1);

   /* What the topic holds: the three short ids' requests, nothing else. */
   cJSON *msgs = tk_test_kafka_read_to_end (small_topic, 1);
   assert_int_equal (cJSON_GetArraySize (msgs), 3);
   const cJSON *m;
   cJSON_ArrayForEach (m, msgs)
   {
      const char *id = tk_api_fx_str (m, "id");
      assert_non_null (id);
      assert_true (!strcmp (id, "S-1") || !strcmp (id, "S-2") || !strcmp (id, "S-3"));
   }
   cJSON_Delete (msgs);
}

int
main (void)
{
   const struct CMUnitTest tests[] = {
      cmocka_unit_test (test_unpublished_job_fails),
      cmocka_unit_test (test_partly_published_job_fails),
   };
   return cmocka_run_group_tests (tests, setup, teardown);
}
