/* Jobs that fail (issue 15): when a job's classification requests cannot be
 * published to Kafka, the job is recorded as `failed` with the reason and
 * the counts, GET /api/process/{job} says so, and POST /api/process answers
 * an error with the reason when not one request went out. The api is
 * pointed at a classify topic that does not exist on a broker that does
 * not create topics (deploy/local: auto.create.topics.enable=false), with
 * a short message.timeout.ms, so every delivery report is an error. Real
 * triage-api, real Kafka, the real MongoDB-protocol server. */
#include "test_support.h"

#include "api_fixture.h"

#include <mongoc/mongoc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ADMIN_KEY TRIAGE_TEST_ADMIN_KEY /* random per build: tests/CMakeLists.txt */

static tk_api_fx_t fx;
static tk_test_service_t *const api = &fx.svc;
static char env_topic[160];

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
   return tk_api_fx_teardown (&fx);
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

int
main (void)
{
   const struct CMUnitTest tests[] = {
      cmocka_unit_test (test_unpublished_job_fails),
   };
   return cmocka_run_group_tests (tests, setup, teardown);
}
