/* TRIAGE_FALLBACK_PROVIDER=local end to end (real Kafka, the real
 * MongoDB-protocol server, the fake LLM): tickets the remote provider fails
 * for the last time (5xx until the attempts are used up, a 4xx, invalid
 * answers after the repair, a non-JSON body) are classified by the built-in
 * model instead of going to the DLQ, stored processed with a model_version
 * that says so, while processing_attempts and last_error keep what the
 * remote provider did. (Without the setting such tickets go to the DLQ:
 * test_classifier_pipeline's test_faults.) */
#include "test_classifier_harness.h"

static tk_test_service_t fake, svc;

static int
setup_each (void **state)
{
   (void) state;
   h_setup ("triage_test_cls_fb", 3);
   return 0;
}

typedef struct {
   const char *prefix;
   const char *directive;
   size_t n;
   const char *reason;   /* classifier_fallbacks_total label */
   const char *attempts; /* in last_error */
} fb_case_t;

static void
test_fallback_instead_of_dlq (void **state)
{
   (void) state;
   static const fb_case_t cases[] = {
      {"FB500", "[[fake 500 times=0 FB500]]", 4, "http_5xx", "after 3 attempt(s)"},
      {"FB400", "[[fake 400 times=0 FB400]]", 3, "http_4xx", "after 1 attempt(s)"},
      {"FBBAD", "[[fake badlabel times=0 FBBAD]]", 3, "invalid_answer", "after 3 attempt(s)"},
      {"FBGARB", "[[fake garbage times=0 FBGARB]]", 2, "invalid_answer", "after 3 attempt(s)"},
   };
   const size_t n_cases = sizeof cases / sizeof cases[0];
   h_start_fake (&fake, NULL, false);
   /* The circuit stays closed (its threshold is out of reach): this test
    * is about tickets that fail, not about an outage. */
   const char *env[] = {"TRIAGE_LLM_PROVIDER=openai", "TRIAGE_LLM_MODEL=fake-model",
                        "TRIAGE_LLM_API_KEY=sk-test", "TRIAGE_FALLBACK_PROVIDER=local",
                        "TRIAGE_RETRY_MAX_ATTEMPTS=3", "TRIAGE_RETRY_BASE=10ms",
                        "TRIAGE_RETRY_CAP=50ms", "TRIAGE_CIRCUIT_THRESHOLD=100000", NULL};
   h_start_classifier (&svc, env);
   size_t total = 0;
   for (size_t c = 0; c < n_cases; c++) {
      char body[256];
      snprintf (body, sizeof body, "My SSO login with Okta fails every morning. %s",
                cases[c].directive);
      h_insert_many (cases[c].prefix, cases[c].n, "SSO login broken", body);
      h_request_many (cases[c].prefix, 0, cases[c].n, "ingest");
      total += cases[c].n;
   }
   if (!h_wait_processed ((int64_t) total, 60000)) {
      tk_test_service_dump_log (&svc);
      fail_msg ("only %lld of %zu tickets processed", (long long) h_processed_count (), total);
   }
   /* Every classified message has arrived once every ticket is stored:
    * wait for them (the topic is read by the harness's consumer). */
   uint64_t deadline = tk_test_now_ms () + 30000;
   size_t seen = 0;
   while (tk_test_now_ms () < deadline) {
      seen = 0;
      for (size_t i = 0; i < h.n_seen; i++) {
         seen += strcmp (h.seen[i].topic, h.classified) == 0;
      }
      if (seen >= total) {
         break;
      }
      h_pump (200);
   }
   assert_int_equal (seen, total);
   for (size_t c = 0; c < n_cases; c++) {
      for (size_t i = 0; i < cases[c].n; i++) {
         char id[64];
         snprintf (id, sizeof id, "%s-%zu", cases[c].prefix, i);
         tk_ticket_t *t = h_get (id);
         assert_non_null (t);
         assert_true (t->processed);
         /* Labels from the built-in model, within the taxonomy. */
         assert_true (t->classification.n_topic_tags >= 1);
         assert_non_null (tk_taxonomy_canonical (tk_taxonomy_default (), TK_TAXONOMY_SENTIMENT,
                                                 t->classification.sentiment, NULL));
         assert_non_null (tk_taxonomy_canonical (tk_taxonomy_default (), TK_TAXONOMY_PRIORITY,
                                                 t->classification.priority, NULL));
         assert_non_null (t->metadata.model_version);
         if (strncmp (t->metadata.model_version, "fallback:local-", 15) != 0) {
            fail_msg ("%s: model_version is \"%s\"", id, t->metadata.model_version);
         }
         /* What the remote provider did is kept. */
         assert_int_equal (t->processing_attempts, 1);
         assert_non_null (t->last_error);
         if (!strstr (t->last_error, cases[c].attempts)) {
            fail_msg ("%s: last_error is \"%s\"", id, t->last_error);
         }
         tk_ticket_destroy (t);
         assert_int_equal (h_seen_count (h.classified, id), 1);
         assert_int_equal (h_seen_count (h.dlq, id), 0);
      }
   }
   /* The published result names the fallback too. */
   for (size_t i = 0; i < h.n_seen; i++) {
      if (strcmp (h.seen[i].topic, h.classified) == 0) {
         assert_non_null (strstr (h.seen[i].payload, "\"model_version\":\"fallback:local-"));
      }
   }
   /* Counted by the reason the remote provider gave up. */
   assert_true (h_metric (&svc, "triage_classifier_fallbacks_total{reason=\"http_5xx\"}") == 4);
   assert_true (h_metric (&svc, "triage_classifier_fallbacks_total{reason=\"http_4xx\"}") == 3);
   assert_true (h_metric (&svc, "triage_classifier_fallbacks_total{reason=\"invalid_answer\"}") ==
                5);
   assert_true (h_metric (&svc, "triage_classifier_tickets_total{provider=\"openai\",outcome="
                                "\"fallback\"}") == (double) total);
   assert_true (h_metric (&svc, "triage_classifier_tickets_total{provider=\"openai\",outcome="
                                "\"dlq\"}") <= 0);
   h_stop_classifier (&svc);
}

int
main (void)
{
   const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown (test_fallback_instead_of_dlq, setup_each, h_teardown_cb),
   };
   return cmocka_run_group_tests (tests, NULL, NULL);
}
