/* TRIAGE_CASCADE=on end to end (real Kafka, the real MongoDB-protocol
 * server, the fake LLM over real HTTP): the built-in model answers first and
 * only the tickets it is unsure of reach the LLM. The test loads the same
 * model file the classifier uses, computes every ticket's confidences
 * itself, and puts the cascade's threshold between two of them, so the
 * expected split is known whatever the model: the fake LLM must have been
 * asked about exactly the unsure tickets, the sure ones are stored with the
 * built-in model's model_version and its very confidences, and every stored
 * ticket's needs_review flag follows TRIAGE_REVIEW_BELOW. */
#include "test_classifier_harness.h"

#include "confidence_threshold.h"
#include "model.h"

#include <math.h>

static tk_test_service_t fake, svc;

static int
setup_each (void **state)
{
   (void) state;
   h_setup ("triage_test_cls_cascade", 3);
   return 0;
}

/* Tickets of every kind: plain ones the model should be sure of and vague
 * or mixed ones it should not. Which is which is computed, not assumed. */
static const char *const subjects[] = {
   "Okta SSO login fails for everyone",      "How do I add a glossary term?",
   "Lineage missing between dbt models",     "API token returns 401",
   "thanks",                                 "question",
   "Snowflake crawler stuck since Monday",   "PII columns not masked in the preview",
   "hello?",                                 "Feature idea: dark mode",
   "Best way to organise domains for 40 teams", "urgent!!",
};
static const char *const bodies[] = {
   "Since this morning nobody can sign in through Okta; SAML assertion errors.",
   "Our stewards want to define terms and link them to columns. Where do I start?",
   "Column-level lineage stops at the staging models after the last dbt Cloud run.",
   "The REST API answers 401 for a token created yesterday; the SDK shows the same.",
   "ok",
   "can you call me",
   "The nightly Snowflake crawl has been running for 30 hours and never finishes.",
   "Email addresses show in clear text in the data preview although the column is tagged PII.",
   "is anyone there",
   "It would be nice to have a dark theme for late work.",
   "We are rolling the catalog out to 40 teams; how should we set up domains and owners?",
   "see subject",
};
#define N_TICKETS (sizeof subjects / sizeof subjects[0])

static double
min_conf (const tk_confidence_t *c)
{
   return fmin (c->topic, fmin (c->sentiment, c->priority));
}

static int
cmp_double (const void *a, const void *b)
{
   double x = *(const double *) a, y = *(const double *) b;
   return (x > y) - (x < y);
}

static void
test_only_unsure_tickets_reach_the_llm (void **state)
{
   (void) state;
   tk_error_t err;
   tk_model_t *model = tk_model_load (TRIAGE_BIN_DIR "/../share/triage/model.bin", &err);
   if (!model) {
      fail_msg ("cannot load the built-in model: %s", err.message);
   }
   tk_confidence_t conf[N_TICKETS];
   double mins[N_TICKETS];
   for (size_t i = 0; i < N_TICKETS; i++) {
      tk_classification_t c = {0};
      assert_true (tk_model_classify (model, subjects[i], bodies[i], &c, &conf[i]));
      tk_classification_clear (&c);
      mins[i] = min_conf (&conf[i]);
   }
   const char *local_version = tk_model_version (model);
   char version[128];
   snprintf (version, sizeof version, "%s", local_version);
   tk_model_destroy (model);

   /* The threshold between the two middle distinct values: both sides
    * hold tickets, and none sits on the edge. */
   double sorted[N_TICKETS];
   memcpy (sorted, mins, sizeof sorted);
   qsort (sorted, N_TICKETS, sizeof sorted[0], cmp_double);
   size_t mid = N_TICKETS / 2;
   while (mid + 1 < N_TICKETS && sorted[mid] == sorted[mid - 1]) {
      mid++;
   }
   if (sorted[mid] == sorted[mid - 1]) {
      fail_msg ("the model gives every ticket the same confidence (%g): no split to test",
                sorted[0]);
   }
   double threshold = (sorted[mid - 1] + sorted[mid]) / 2;
   char env_cascade[96], env_review[96];
   snprintf (env_cascade, sizeof env_cascade, "TRIAGE_CASCADE_BELOW=%.17g", threshold);
   /* Review: a topic confidence under 0.9 is flagged, so the fake LLM's
    * answers (topic 0.85) are, and some of the model's may be. */
   snprintf (env_review, sizeof env_review, "TRIAGE_REVIEW_BELOW=topic=0.9,sentiment=0.3");
   tk_threshold_t review;
   char why[128];
   assert_true (tk_threshold_parse ("topic=0.9,sentiment=0.3", &review, why, sizeof why));

   h_start_fake (&fake, NULL, false);
   const char *env[] = {"TRIAGE_LLM_PROVIDER=openai", "TRIAGE_LLM_MODEL=fake-model",
                        "TRIAGE_LLM_API_KEY=sk-test", "TRIAGE_CASCADE=on", env_cascade,
                        env_review, NULL};
   h_start_classifier (&svc, env);
   for (size_t i = 0; i < N_TICKETS; i++) {
      char id[32];
      snprintf (id, sizeof id, "CASC-%zu", i);
      h_insert (id, subjects[i], bodies[i]);
      h_request (id, "ingest");
   }
   if (!h_wait_processed ((int64_t) N_TICKETS, 60000)) {
      tk_test_service_dump_log (&svc);
      fail_msg ("only %lld of %zu tickets processed", (long long) h_processed_count (),
                (size_t) N_TICKETS);
   }

   /* Which ids the fake LLM was asked about. */
   bool asked[N_TICKETS] = {false};
   cJSON *log = h_fake_requests (&fake);
   const cJSON *reqs = cJSON_GetObjectItemCaseSensitive (log, "requests"), *r;
   cJSON_ArrayForEach (r, reqs)
   {
      const cJSON *ids = cJSON_GetObjectItemCaseSensitive (r, "ids"), *id;
      cJSON_ArrayForEach (id, ids)
      {
         unsigned k;
         if (cJSON_IsString (id) && sscanf (id->valuestring, "CASC-%u", &k) == 1 &&
             k < N_TICKETS) {
            asked[k] = true;
         }
      }
   }
   cJSON_Delete (log);

   size_t n_local = 0, n_llm = 0;
   for (size_t i = 0; i < N_TICKETS; i++) {
      char id[32];
      snprintf (id, sizeof id, "CASC-%zu", i);
      bool unsure = mins[i] < threshold;
      tk_ticket_t *t = h_get (id);
      assert_non_null (t);
      assert_true (t->processed);
      h_assert_classified (t);
      if (asked[i] != unsure) {
         fail_msg ("%s (lowest confidence %.3f, threshold %.3f): %s the LLM", id, mins[i],
                   threshold, asked[i] ? "sent to" : "kept from");
      }
      if (unsure) {
         n_llm++;
         assert_string_equal (t->metadata.model_version, "fake-model");
      } else {
         n_local++;
         assert_string_equal (t->metadata.model_version, version);
         assert_true (fabs (t->confidence.topic - conf[i].topic) < 1e-9);
         assert_true (fabs (t->confidence.sentiment - conf[i].sentiment) < 1e-9);
         assert_true (fabs (t->confidence.priority - conf[i].priority) < 1e-9);
      }
      bool want_review = tk_threshold_any_below (&t->confidence, &review);
      if (t->metadata.needs_review != want_review) {
         fail_msg ("%s: needs_review is %d with confidences %.3f/%.3f/%.3f", id,
                   t->metadata.needs_review, t->confidence.topic, t->confidence.sentiment,
                   t->confidence.priority);
      }
      tk_ticket_destroy (t);
   }
   assert_true (n_local > 0 && n_llm > 0);
   assert_true (h_metric (&svc, "triage_classifier_cascade_total{answered_by=\"local\"}") ==
                (double) n_local);
   assert_true (h_metric (&svc, "triage_classifier_cascade_total{answered_by=\"llm\"}") ==
                (double) n_llm);
   h_stop_classifier (&svc);
}

/* Without the cascade every ticket goes to the LLM: the cascade is what
 * keeps them. */
static void
test_cascade_off_sends_everything (void **state)
{
   (void) state;
   h_start_fake (&fake, NULL, false);
   const char *env[] = {"TRIAGE_LLM_PROVIDER=openai", "TRIAGE_LLM_MODEL=fake-model",
                        "TRIAGE_LLM_API_KEY=sk-test", NULL};
   h_start_classifier (&svc, env);
   h_insert_many ("NOCASC", 4, "Okta SSO login fails for everyone",
                  "Since this morning nobody can sign in through Okta.");
   h_request_many ("NOCASC", 0, 4, "ingest");
   assert_true (h_wait_processed (4, 60000));
   cJSON *log = h_fake_requests (&fake);
   assert_int_equal (cJSON_GetObjectItemCaseSensitive (log, "count")->valueint, 4);
   cJSON_Delete (log);
   h_stop_classifier (&svc);
}

int
main (void)
{
   const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown (test_only_unsure_tickets_reach_the_llm, setup_each,
                                       h_teardown_cb),
      cmocka_unit_test_setup_teardown (test_cascade_off_sends_everything, setup_each,
                                       h_teardown_cb),
   };
   return cmocka_run_group_tests (tests, NULL, NULL);
}
