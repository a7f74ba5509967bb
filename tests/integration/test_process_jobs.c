/* Jobs that always end (issue 15): a processing job counts the tickets the
 * classifier would skip (already processed) as skipped instead of waiting
 * for them, so a job of such tickets is done at once; a job whose tickets
 * nobody classifies is reported `stalled` with the reason after
 * TRIAGE_JOB_STALL_AFTER, and `running` then `done` once a classifier
 * starts. Real api, real classifier (the fake LLM behind it), real Kafka
 * and the real MongoDB-protocol server. */
#include "test_classifier_harness.h"

#include "api_fixture.h"
#include "timeutil.h"

#define WAIT_MS 90000
#define ADMIN_KEY TRIAGE_TEST_ADMIN_KEY /* random per build: tests/CMakeLists.txt */

static tk_test_service_t fake, svc, api;

static tk_api_fx_resp_t
call (const char *method, const char *path, const char *body)
{
   return tk_api_fx_call (&api, method, path, ADMIN_KEY, body);
}

/* POSTs body to /api/process, asserts 202 and the counts, and copies the
 * job's id into job. */
static void
start (const char *body, int requested, int skipped, char *job, size_t cap)
{
   tk_api_fx_resp_t r = call ("POST", "/api/process", body);
   assert_int_equal (r.status, 202);
   assert_int_equal ((int) tk_api_fx_num (r.json, "requested"), requested);
   assert_int_equal ((int) tk_api_fx_num (r.json, "skipped"), skipped);
   snprintf (job, cap, "%s", tk_api_fx_str (r.json, "job_id"));
   tk_api_fx_resp_free (&r);
}

/* GET /api/process/{job}; the caller frees. */
static tk_api_fx_resp_t
status (const char *job)
{
   char path[128];
   snprintf (path, sizeof path, "/api/process/%s", job);
   tk_api_fx_resp_t r = call ("GET", path, NULL);
   assert_int_equal (r.status, 200);
   return r;
}

static bool
state_is (const tk_api_fx_resp_t *r, const char *want)
{
   const char *s = tk_api_fx_str (r->json, "state");
   return s && !strcmp (s, want);
}

/* Polls the job until its state is want. */
static tk_api_fx_resp_t
wait_state (const char *job, const char *want)
{
   uint64_t deadline = tk_test_now_ms () + WAIT_MS;
   for (;;) {
      tk_api_fx_resp_t r = status (job);
      if (state_is (&r, want)) {
         return r;
      }
      if (tk_test_now_ms () > deadline) {
         fail_msg ("job %s never %s: %s", job, want, r.body);
      }
      tk_api_fx_resp_free (&r);
      h_pump (100);
   }
}

static int
setup (void **state)
{
   (void) state;
   h_setup ("triage_test_jobs", 3);
   h_start_fake (&fake, NULL, false);
   const char *api_env[] = {"TRIAGE_JOB_STALL_AFTER=2s", NULL};
   h_start_api (&api, ADMIN_KEY, api_env);
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
test_jobs_always_end (void **state)
{
   (void) state;
   h_insert ("J-NEW", "Lineage", "How do I see the lineage of a dbt model?");
   h_insert ("J-DONE", "Lineage", "The lineage graph is empty.");
   tk_classification_t c = {.n_topic_tags = 1, .sentiment = "Neutral", .priority = "P2 (Low)"};
   c.topic_tags[0] = "Lineage";
   tk_confidence_t conf = {0.9, 0.9, 0.9};
   tk_processing_metadata_t md = {.processed_at = tk_time_now_ms () - 60000,
                                  .model_version = "m-1"};
   tk_error_t err;
   assert_true (tk_store_update_ticket_with_classification (h.store, "J-DONE", &c, &conf, &md,
                                                            &err));

   /* Only an already processed ticket: nothing to wait for. */
   char job[64];
   start ("{\"mode\":\"ids\",\"ids\":[\"J-DONE\"]}", 0, 1, job, sizeof job);
   tk_api_fx_resp_t r = status (job);
   assert_true (state_is (&r, "done"));
   assert_int_equal ((int) tk_api_fx_num (r.json, "skipped"), 1);
   assert_int_equal ((int) tk_api_fx_num (r.json, "pending"), 0);
   tk_api_fx_resp_free (&r);

   /* One to classify, one skipped, one unknown; no classifier runs yet. */
   start ("{\"mode\":\"ids\",\"ids\":[\"J-NEW\",\"J-DONE\",\"J-NOPE\"]}", 1, 1, job, sizeof job);
   r = status (job);
   assert_true (state_is (&r, "running"));
   assert_int_equal ((int) tk_api_fx_num (r.json, "pending"), 1);
   tk_api_fx_resp_free (&r);
   r = wait_state (job, "stalled");
   const char *reason = tk_api_fx_str (r.json, "reason");
   assert_non_null (reason);
   assert_non_null (strstr (reason, "classifier"));
   tk_api_fx_resp_free (&r);

   /* A classifier starts: the job ends, with what it skipped. */
   const char *env[] = {"TRIAGE_LLM_PROVIDER=openai", "TRIAGE_LLM_MODEL=fake-model",
                        "TRIAGE_LLM_API_KEY=sk-test-key", NULL};
   h_start_classifier (&svc, env);
   r = wait_state (job, "done");
   assert_int_equal ((int) tk_api_fx_num (r.json, "classified"), 1);
   assert_int_equal ((int) tk_api_fx_num (r.json, "skipped"), 1);
   assert_int_equal ((int) tk_api_fx_num (r.json, "failed"), 0);
   tk_api_fx_resp_free (&r);
}

int
main (void)
{
   const struct CMUnitTest tests[] = {
      cmocka_unit_test (test_jobs_always_end),
   };
   return cmocka_run_group_tests (tests, setup, teardown);
}
