/* Corrections that stick (issue 15): a ticket a person corrected keeps
 * their labels through "Reprocess by filter" and through any reprocess
 * request on the classify topic, unless the request says
 * override_corrections. Real api, real classifier (the fake LLM answers
 * "Curious"), real Kafka and the real MongoDB-protocol server: the test
 * corrects one of four classified tickets through the api, asks the api
 * what a reprocess of everything would touch (dry run), reprocesses,
 * produces a raw reprocess request for the corrected ticket, and finally
 * overrides, checking the stored documents each time. */
#include "test_classifier_harness.h"

#include "api_fixture.h"

#define WAIT_MS 90000
#define ADMIN_KEY TRIAGE_TEST_ADMIN_KEY /* random per build: tests/CMakeLists.txt */

static tk_test_service_t fake, svc, api;

static const char *const ids[] = {"CS-1", "CS-2", "CS-3", "CS-4"};
enum { N = 4 };

static tk_api_fx_resp_t
call (const char *method, const char *path, const char *body)
{
   return tk_api_fx_call (&api, method, path, ADMIN_KEY, body);
}

/* processed_at of id as stored. */
static int64_t
processed_at (const char *id)
{
   tk_ticket_t *t = h_get (id);
   int64_t at = t->metadata.processed_at;
   tk_ticket_destroy (t);
   return at;
}

/* Waits until every id in want[0..n) has a processed_at after `after`. */
static void
wait_reclassified (const char *const *want, size_t n, int64_t after)
{
   uint64_t deadline = tk_test_now_ms () + WAIT_MS;
   for (size_t i = 0; i < n; i++) {
      while (processed_at (want[i]) <= after) {
         if (tk_test_now_ms () > deadline) {
            tk_test_service_dump_log (&svc);
            fail_msg ("%s was not classified again", want[i]);
         }
         h_pump (50);
      }
   }
}

/* The stored document of id as the api shows it (GET by id). */
static cJSON *
shown (const char *id)
{
   char path[128];
   snprintf (path, sizeof path, "/api/processed-tickets/%s", id);
   tk_api_fx_resp_t r = call ("GET", path, NULL);
   assert_int_equal (r.status, 200);
   cJSON *doc = r.json;
   r.json = NULL;
   tk_api_fx_resp_free (&r);
   return doc;
}

static const char *
sentiment_of (const cJSON *doc)
{
   return cJSON_GetObjectItemCaseSensitive (cJSON_GetObjectItemCaseSensitive (doc, "classification"),
                                            "sentiment")
      ->valuestring;
}

static bool
is_corrected (const cJSON *doc)
{
   const cJSON *md = cJSON_GetObjectItemCaseSensitive (doc, "processing_metadata");
   return cJSON_GetObjectItemCaseSensitive (md, "corrected_at") != NULL;
}

static int
setup (void **state)
{
   (void) state;
   h_setup ("triage_test_corrections", 3);
   h_start_fake (&fake, NULL, false);
   const char *env[] = {"TRIAGE_LLM_PROVIDER=openai", "TRIAGE_LLM_MODEL=fake-model",
                        "TRIAGE_LLM_API_KEY=sk-test-key", NULL};
   h_start_classifier (&svc, env);
   h_start_api (&api, ADMIN_KEY, NULL);
   return 0;
}

static int
teardown (void **state)
{
   (void) state;
   tk_api_fx_stop (&api);
   return h_teardown_group (&svc, &fake);
}

static void
test_corrections_stick (void **state)
{
   (void) state;
   for (size_t i = 0; i < N; i++) {
      h_insert (ids[i], "Lineage", "How do I see the lineage of a dbt model?");
      h_request (ids[i], "ingest");
   }
   for (size_t i = 0; i < N; i++) {
      tk_ticket_destroy (h_wait_outcome (&svc, ids[i], false, WAIT_MS));
   }

   /* A person corrects CS-2. */
   tk_api_fx_resp_t r =
      call ("PUT", "/api/processed-tickets/CS-2",
            "{\"classification\":{\"topic_tags\":[\"Lineage\"],\"sentiment\":\"Frustrated\","
            "\"priority\":\"P0 (High)\"},\"note\":\"customer blocked\"}");
   assert_int_equal (r.status, 200);
   tk_api_fx_resp_free (&r);

   /* What "Reprocess all" would touch, before anything is sent. */
   r = call ("POST", "/api/process", "{\"mode\":\"reprocess\",\"filter\":{},\"dry_run\":true}");
   assert_int_equal (r.status, 200);
   assert_int_equal ((int) tk_api_fx_num (r.json, "would_request"), N - 1);
   assert_int_equal ((int) tk_api_fx_num (r.json, "kept_corrected"), 1);
   tk_api_fx_resp_free (&r);
   r = call ("POST", "/api/process",
             "{\"mode\":\"reprocess\",\"filter\":{},\"override_corrections\":\"yes\"}");
   assert_int_equal (r.status, 400);
   tk_api_fx_resp_free (&r);

   /* Reprocess all: the three others are classified again, CS-2 is not. */
   int64_t before = processed_at ("CS-4");
   int64_t corrected_before = processed_at ("CS-2");
   r = call ("POST", "/api/process", "{\"mode\":\"reprocess\",\"filter\":{}}");
   assert_int_equal (r.status, 202);
   assert_int_equal ((int) tk_api_fx_num (r.json, "requested"), N - 1);
   assert_int_equal ((int) tk_api_fx_num (r.json, "kept_corrected"), 1);
   tk_api_fx_resp_free (&r);
   const char *others[] = {"CS-1", "CS-3", "CS-4"};
   wait_reclassified (others, 3, before);

   /* A reprocess request from elsewhere on the classify topic (another
    * system, a script) is refused the same way by the classifier. */
   const char *series = "triage_classifier_tickets_total{provider=\"openai\",outcome=\"skipped\"}";
   double skipped = h_metric (&svc, series);
   skipped = skipped < 0 ? 0 : skipped; /* not written before the first */
   h_request ("CS-2", "reprocess");
   uint64_t deadline = tk_test_now_ms () + WAIT_MS;
   while (h_metric (&svc, series) < skipped + 1) {
      assert_true (tk_test_now_ms () < deadline);
      h_pump (50);
   }
   cJSON *doc = shown ("CS-2");
   assert_string_equal (sentiment_of (doc), "Frustrated");
   assert_true (is_corrected (doc));
   cJSON_Delete (doc);
   assert_int_equal (processed_at ("CS-2"), corrected_before);

   /* Overridden on purpose: the model's labels replace the person's, whose
    * correction stays in the ticket's history. */
   r = call ("POST", "/api/process",
             "{\"mode\":\"reprocess\",\"filter\":{},\"override_corrections\":true,"
             "\"dry_run\":true}");
   assert_int_equal (r.status, 200);
   assert_int_equal ((int) tk_api_fx_num (r.json, "would_request"), N);
   assert_int_equal ((int) tk_api_fx_num (r.json, "kept_corrected"), 0);
   tk_api_fx_resp_free (&r);
   r = call ("POST", "/api/process",
             "{\"mode\":\"reprocess\",\"filter\":{},\"override_corrections\":true}");
   assert_int_equal (r.status, 202);
   assert_int_equal ((int) tk_api_fx_num (r.json, "requested"), N);
   tk_api_fx_resp_free (&r);
   const char *corrected[] = {"CS-2"};
   wait_reclassified (corrected, 1, corrected_before);
   doc = shown ("CS-2");
   assert_string_equal (sentiment_of (doc), "Curious");
   assert_false (is_corrected (doc));
   const cJSON *history = cJSON_GetObjectItemCaseSensitive (doc, "corrections");
   assert_int_equal (cJSON_GetArraySize (history), 1);
   cJSON_Delete (doc);
}

int
main (void)
{
   const struct CMUnitTest tests[] = {
      cmocka_unit_test (test_corrections_stick),
   };
   return cmocka_run_group_tests (tests, setup, teardown);
}
