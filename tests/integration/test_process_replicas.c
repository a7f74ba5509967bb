/* Two api replicas on one database report a processing job the same way:
 * a job started on replica A (POST /api/process) is answered by
 * GET /api/process/{job} on replica B with the same state and counts, at
 * every step of its life — running, stalled (TRIAGE_JOB_STALL_AFTER, no
 * classifier yet), running again once one of its tickets is classified,
 * done once the classifier has the rest. The progress mark lives in the
 * job's record (routes_process_status.c), not in either process, which is
 * what this checks. Real apis, a real classifier (the fake LLM behind it),
 * real Kafka and the real MongoDB-protocol server. */
#include "test_classifier_harness.h"

#include "api_fixture.h"
#include "timeutil.h"

#define WAIT_MS 90000
#define ADMIN_KEY TRIAGE_TEST_ADMIN_KEY /* random per build: tests/CMakeLists.txt */

static tk_test_service_t fake, svc, api_a, api_b;

/* GET /api/process/{job} on replica r; the caller frees. */
static tk_api_fx_resp_t
status_on (tk_test_service_t *r, const char *job)
{
   char path[128];
   snprintf (path, sizeof path, "/api/process/%s", job);
   tk_api_fx_resp_t resp = tk_api_fx_call (r, "GET", path, ADMIN_KEY, NULL);
   assert_int_equal (resp.status, 200);
   return resp;
}

static const char *
state_of (const tk_api_fx_resp_t *r)
{
   const char *s = tk_api_fx_str (r->json, "state");
   return s ? s : "(none)";
}

/* Asks both replicas about job, A then B, and asserts that they say the
 * same: state, counts, progress mark, and the reason's words (its number
 * of seconds may tick between the two requests). Returns the state. */
static const char *
both_say (const char *job, const char *want)
{
   static char state[32];
   tk_api_fx_resp_t a = status_on (&api_a, job);
   tk_api_fx_resp_t b = status_on (&api_b, job);
   if (strcmp (state_of (&a), state_of (&b)) != 0) {
      fail_msg ("job %s: replica A says %s, replica B %s\nA: %s\nB: %s", job, state_of (&a),
                state_of (&b), a.body, b.body);
   }
   static const char *const counts[] = {"requested", "classified", "failed",
                                        "skipped",   "pending",    "published",
                                        "publish_failed"};
   for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++) {
      /* published and publish_failed come with a failed job only */
      const cJSON *x = cJSON_GetObjectItemCaseSensitive (a.json, counts[i]);
      const cJSON *y = cJSON_GetObjectItemCaseSensitive (b.json, counts[i]);
      if (cJSON_IsNumber (x) != cJSON_IsNumber (y) ||
          (cJSON_IsNumber (x) && x->valuedouble != y->valuedouble)) {
         fail_msg ("job %s: %s differs\nA: %s\nB: %s", job, counts[i], a.body, b.body);
      }
   }
   assert_true (cJSON_IsNumber (cJSON_GetObjectItemCaseSensitive (a.json, "pending")));
   static const char *const strings[] = {"job_id", "mode", "requested_at", "progress_at"};
   for (size_t i = 0; i < sizeof strings / sizeof strings[0]; i++) {
      const char *x = tk_api_fx_str (a.json, strings[i]), *y = tk_api_fx_str (b.json, strings[i]);
      assert_non_null (x);
      assert_non_null (y);
      assert_string_equal (x, y);
   }
   const char *ra = tk_api_fx_str (a.json, "reason"), *rb = tk_api_fx_str (b.json, "reason");
   assert_true ((ra == NULL) == (rb == NULL));
   if (ra) {
      size_t n = strcspn (ra, "0123456789");
      assert_true (strncmp (ra, rb, n) == 0);
   }
   snprintf (state, sizeof state, "%s", state_of (&a));
   if (want && strcmp (state, want) != 0) {
      fail_msg ("job %s: %s, not %s: %s", job, state, want, a.body);
   }
   tk_api_fx_resp_free (&a);
   tk_api_fx_resp_free (&b);
   return state;
}

/* Polls replica r until the job's state is want, then checks that both
 * replicas say so. */
static void
wait_both (tk_test_service_t *r, const char *job, const char *want)
{
   uint64_t deadline = tk_test_now_ms () + WAIT_MS;
   for (;;) {
      tk_api_fx_resp_t resp = status_on (r, job);
      bool there = !strcmp (state_of (&resp), want);
      if (!there && tk_test_now_ms () > deadline) {
         fail_msg ("job %s never %s: %s", job, want, resp.body);
      }
      tk_api_fx_resp_free (&resp);
      if (there) {
         break;
      }
      h_pump (100);
   }
   both_say (job, want);
}

static int
setup (void **state)
{
   (void) state;
   h_setup ("triage_test_replicas", 3);
   h_start_fake (&fake, NULL, false);
   const char *api_env[] = {"TRIAGE_JOB_STALL_AFTER=2s", NULL};
   h_start_api (&api_a, ADMIN_KEY, api_env);
   h_start_api (&api_b, ADMIN_KEY, api_env);
   return 0;
}

static int
teardown (void **state)
{
   (void) state;
   tk_api_fx_stop (&api_a);
   tk_api_fx_stop (&api_b);
   return h_teardown_group (&svc, &fake);
}

static void
test_replicas_report_the_same_job (void **state)
{
   (void) state;
   h_insert ("R-1", "Lineage", "How do I see the lineage of a dbt model?");
   h_insert ("R-2", "Connector", "The Snowflake connector fails at night.");
   h_insert ("R-DONE", "SSO", "SAML login loops.");
   tk_classification_t c = {.n_topic_tags = 1, .sentiment = "Neutral", .priority = "P2 (Low)"};
   c.topic_tags[0] = "Lineage";
   tk_confidence_t conf = {0.9, 0.9, 0.9};
   tk_processing_metadata_t md = {.processed_at = tk_time_now_ms () - 60000,
                                  .model_version = "m-1"};
   tk_error_t err;
   assert_true (tk_store_update_ticket_with_classification (h.store, "R-DONE", &c, &conf, &md,
                                                            &err));

   /* Started on A: two to classify, one skipped, one unknown. */
   tk_api_fx_resp_t r = tk_api_fx_call (&api_a, "POST", "/api/process", ADMIN_KEY,
                                        "{\"mode\":\"ids\",\"ids\":[\"R-1\",\"R-2\",\"R-DONE\","
                                        "\"R-NOPE\"]}");
   assert_int_equal (r.status, 202);
   assert_int_equal ((int) tk_api_fx_num (r.json, "requested"), 2);
   assert_int_equal ((int) tk_api_fx_num (r.json, "skipped"), 1);
   char job[64];
   snprintf (job, sizeof job, "%s", tk_api_fx_str (r.json, "job_id"));
   tk_api_fx_resp_free (&r);

   /* B knows it at once, as A does (the stall is 2 s away). */
   both_say (job, "running");

   /* No classifier: stalled, seen first on B, then on both. */
   wait_both (&api_b, job, "stalled");

   /* One ticket classified (as a classifier writes it): running again on
    * both, whichever replica saw the progress first. */
   md.processed_at = tk_time_now_ms ();
   assert_true (
      tk_store_update_ticket_with_classification (h.store, "R-1", &c, &conf, &md, &err));
   wait_both (&api_b, job, "running");
   tk_api_fx_resp_t a = status_on (&api_a, job);
   assert_int_equal ((int) tk_api_fx_num (a.json, "classified"), 1);
   assert_int_equal ((int) tk_api_fx_num (a.json, "pending"), 1);
   tk_api_fx_resp_free (&a);

   /* Quiet again for the stall time: stalled on both again. */
   wait_both (&api_a, job, "stalled");

   /* A classifier starts and takes the other one: done on both. */
   const char *env[] = {"TRIAGE_LLM_PROVIDER=openai", "TRIAGE_LLM_MODEL=fake-model",
                        "TRIAGE_LLM_API_KEY=sk-test-key", NULL};
   h_start_classifier (&svc, env);
   wait_both (&api_a, job, "done");
   a = status_on (&api_b, job);
   assert_int_equal ((int) tk_api_fx_num (a.json, "classified"), 2);
   assert_int_equal ((int) tk_api_fx_num (a.json, "failed"), 0);
   assert_int_equal ((int) tk_api_fx_num (a.json, "skipped"), 1);
   assert_int_equal ((int) tk_api_fx_num (a.json, "pending"), 0);
   tk_api_fx_resp_free (&a);
}

int
main (void)
{
   const struct CMUnitTest tests[] = {
      cmocka_unit_test (test_replicas_report_the_same_job),
   };
   return cmocka_run_group_tests (tests, setup, teardown);
}
