/* triagectl process against a real api, classifier (the fake LLM behind
 * it), Kafka and MongoDB-protocol server: a job is started through the api
 * and followed to `done`, its counts printed (the summary line, or the job
 * document with --json); a job that makes no progress for a while is said
 * to be stalled, with the reason, and one not done within --timeout exits
 * 1; a dry run of a reprocess passes the filters on and sends nothing; a
 * ticket that fails makes the job exit 1, and its dead letter, written by
 * the classifier, is listed by `triagectl dlq list` and replayed to done by
 * `triagectl dlq replay`; a viewer key is refused (403) and exits 1; a mode
 * the api does not have is a usage error. */
#include "test_classifier_harness.h"

#include "api_fixture.h"
#include "cli_run.h"
#include "timeutil.h"

#define ADMIN_KEY TRIAGE_TEST_ADMIN_KEY /* random per build: tests/CMakeLists.txt */

static tk_test_service_t fake, svc, api;
static char out[1 << 16], err[1 << 16];

/* `triagectl process ARGS` against this run's api with key; its exit
 * status (stdout in out, stderr in err). */
static int
process (const char *key, const char *args)
{
   return tk_test_triagectl_api ("process", api.base_url, key, args, out, sizeof out, err,
                                 sizeof err);
}

static int
setup (void **state)
{
   (void) state;
   h_setup ("triage_test_cliproc", 3);
   h_start_fake (&fake, NULL, false);
   /* dlq list reads this run's DLQ; a job is stalled after 1 s without
    * progress. */
   const char *api_env[] = {h.env_tdlq, "TRIAGE_JOB_STALL_AFTER=1s", NULL};
   h_start_api (&api, ADMIN_KEY, api_env);
   const char *env[] = {"TRIAGE_LLM_PROVIDER=openai", "TRIAGE_LLM_MODEL=fake-model",
                        "TRIAGE_LLM_API_KEY=sk-test-key", NULL};
   h_start_classifier (&svc, env);
   return 0;
}

static int
teardown (void **state)
{
   (void) state;
   int api_rc = tk_api_fx_stop (&api); /* 0: a clean exit (no leak under ASan) */
   int rc = h_teardown_group (&svc, &fake);
   return api_rc == 0 ? rc : -1;
}

static void
test_follows_a_job_to_done (void **state)
{
   (void) state;
   h_insert ("CP-1", "Lineage", "How do I see the lineage of a dbt model?");
   h_insert ("CP-2", "SSO", "Okta login fails with a SAML error since this morning.");
   h_insert ("CP-3", "Connector", "The Snowflake connector times out on large schemas.");
   int rc = process (ADMIN_KEY, "--mode unprocessed --timeout 120");
   if (rc != 0) {
      fail_msg ("exit %d; stdout: %s; stderr: %s", rc, out, err);
   }
   assert_non_null (strstr (out, " done: requested 3, classified 3, failed 0, skipped 0"));
   assert_int_equal (h_processed_count (), 3);

   /* The same tickets again by id: all skipped (already processed), done
    * at once; --json prints the final job document. */
   rc = process (ADMIN_KEY, "--mode selected --ids CP-1,CP-2,CP-NOPE --json");
   if (rc != 0) {
      fail_msg ("exit %d; stdout: %s; stderr: %s", rc, out, err);
   }
   cJSON *job = cJSON_Parse (out);
   assert_non_null (job);
   assert_string_equal (tk_api_fx_str (job, "state"), "done");
   assert_int_equal ((int) tk_api_fx_num (job, "requested"), 0);
   assert_int_equal ((int) tk_api_fx_num (job, "skipped"), 2);
   cJSON_Delete (job);
}

static void
test_stalled_then_done_and_timeout (void **state)
{
   (void) state;
   /* The fake answers these after 4 s: the job is stalled meanwhile. */
   h_insert ("CP-SLOW", "Lineage", "The lineage graph is slow [[fake slow delay=4000 cp-slow]]");
   h_insert ("CP-SLOWER", "Lineage", "Still slow [[fake slow delay=4000 cp-slower]]");
   int rc = process (ADMIN_KEY, "--mode ids --ids CP-SLOW --timeout 120");
   if (rc != 0) {
      fail_msg ("exit %d; stdout: %s; stderr: %s", rc, out, err);
   }
   assert_non_null (strstr (err, " stalled: no ticket of this job classified or failed"));
   assert_non_null (strstr (out, " done: requested 1, classified 1, failed 0"));

   /* Not done within --timeout: exit 1, the job goes on. */
   assert_int_equal (process (ADMIN_KEY, "--mode ids --ids CP-SLOWER --timeout 1"), 1);
   assert_non_null (strstr (err, "not done after 1 s"));
   assert_true (h_wait_processed (h_processed_count () + 1, 30000));
}

static void
test_dry_run_passes_the_filters (void **state)
{
   (void) state;
   /* A reprocess sends every ticket its filter matches, processed or
    * not: a search matching one ticket (CP-2's body) would send that one. */
   int rc = process (ADMIN_KEY, "--mode reprocess --q Okta --dry-run");
   if (rc != 0) {
      fail_msg ("exit %d; stdout: %s; stderr: %s", rc, out, err);
   }
   assert_non_null (strstr (out, "dry run (reprocess): would request 1, skipped 0"));
   /* A filter the api does not know is its 400, said and exit 1. */
   assert_int_equal (process (ADMIN_KEY, "--mode reprocess --filter colour=red --dry-run"), 1);
   assert_non_null (strstr (err, "HTTP 400"));
}

/* `triagectl dlq ARGS` against this run's api with the admin key. */
static int
dlq (const char *args)
{
   return tk_test_triagectl_api ("dlq", api.base_url, ADMIN_KEY, args, out, sizeof out, err,
                                 sizeof err);
}

/* The entry ("p:o") of ticket id's dead letter in `dlq list --json`. */
static void
dlq_entry_of (const char *id, char *entry, size_t cap)
{
   assert_int_equal (dlq ("list --json"), 0);
   cJSON *doc = cJSON_Parse (out), *e;
   assert_non_null (doc);
   entry[0] = '\0';
   cJSON_ArrayForEach (e, cJSON_GetObjectItem (doc, "items"))
   {
      const char *eid = tk_api_fx_str (e, "id");
      if (eid && !strcmp (eid, id)) {
         assert_string_equal (tk_api_fx_str (e, "origin"), "classifier");
         assert_true (cJSON_IsTrue (cJSON_GetObjectItem (e, "replayable")));
         snprintf (entry, cap, "%s", tk_api_fx_str (e, "entry"));
      }
   }
   cJSON_Delete (doc);
   if (!entry[0]) {
      fail_msg ("no dead letter of %s listed: %s", id, out);
   }
}

static void
test_failure_then_dlq_replay (void **state)
{
   (void) state;
   /* The fake answers 401 (not retried) once for this ticket, then well. */
   h_insert ("CP-BAD", "Billing", "Invoice missing [[fake 401 times=1 cp-bad]]");
   assert_int_equal (process (ADMIN_KEY, "--mode ids --ids CP-BAD --timeout 120"), 1);
   assert_non_null (strstr (out, " done: requested 1, classified 0, failed 1"));
   assert_non_null (strstr (err, "1 ticket(s) failed"));

   char entry[48], args[96];
   dlq_entry_of ("CP-BAD", entry, sizeof entry);
   snprintf (args, sizeof args, "replay %s --timeout 120", entry);
   int rc = dlq (args);
   if (rc != 0) {
      fail_msg ("dlq %s: exit %d; stdout: %s; stderr: %s", args, rc, out, err);
   }
   assert_non_null (strstr (out, " done: requested 1, classified 1, failed 0"));
   tk_ticket_t *t = h_get ("CP-BAD");
   h_assert_classified (t);
   tk_ticket_destroy (t);
}

static void
test_viewer_refused_and_usage (void **state)
{
   (void) state;
   tk_api_fx_resp_t r = tk_api_fx_call (&api, "POST", "/api/keys", ADMIN_KEY,
                                        "{\"role\":\"viewer\",\"name\":\"cli-viewer\"}");
   assert_int_equal (r.status, 201);
   char viewer[128];
   snprintf (viewer, sizeof viewer, "%s", tk_api_fx_str (r.json, "key"));
   tk_api_fx_resp_free (&r);
   assert_int_equal (process (viewer, "--mode unprocessed"), 1);
   assert_non_null (strstr (err, "HTTP 403"));
   assert_int_equal (process (ADMIN_KEY, "--mode everything"), 2);
   assert_int_equal (process (ADMIN_KEY, "--mode ids"), 2); /* no --ids */
   assert_int_equal (process (ADMIN_KEY, "--mode unprocessed --priority P0"), 2);
}

int
main (void)
{
   const struct CMUnitTest tests[] = {
      cmocka_unit_test (test_follows_a_job_to_done),
      cmocka_unit_test (test_stalled_then_done_and_timeout),
      cmocka_unit_test (test_dry_run_passes_the_filters),
      cmocka_unit_test (test_failure_then_dlq_replay),
      cmocka_unit_test (test_viewer_refused_and_usage),
   };
   return cmocka_run_group_tests (tests, setup, teardown);
}
