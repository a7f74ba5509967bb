/* The classifier end to end: real Kafka, the real MongoDB-protocol server,
 * the real triage-classifier binary, and the fake LLM server (the only fake)
 * speaking the OpenAI wire format. Each test inserts tickets with the store,
 * produces classification requests to this run's own classify topic, and
 * checks what a user would: the stored documents, the classified and DLQ
 * topics, and what the LLM was sent. */
#include "test_classifier_harness.h"

#define WAIT_MS 90000

static tk_test_service_t fake, svc;

static int
setup (void **state)
{
   (void) state;
   h_setup ("triage_test_cls", 3);
   h_start_fake (&fake, NULL, false);
   const char *env[] = {"TRIAGE_LLM_PROVIDER=openai", "TRIAGE_LLM_MODEL=fake-model",
                        "TRIAGE_LLM_API_KEY=sk-test-key", H_GROUP_ENV, NULL};
   h_start_classifier (&svc, env);
   return 0;
}

static int
teardown (void **state)
{
   (void) state;
   return h_teardown_group (&svc, &fake);
}

/* ---- helpers ------------------------------------------------------------- */

/* Requests the fake LLM received whose body contains needle. */
static int
fake_count (const char *needle, char **all_out)
{
   char url[256];
   snprintf (url, sizeof url, "%s/_fake/received", fake.base_url);
   tk_test_http_response_t r;
   assert_true (tk_test_http ("GET", url, NULL, 0, NULL, &r));
   assert_int_equal (r.status, 200);
   cJSON *o = cJSON_Parse (r.body);
   int n = 0;
   const cJSON *req;
   cJSON_ArrayForEach (req, cJSON_GetObjectItemCaseSensitive (o, "requests"))
   {
      const cJSON *b = cJSON_GetObjectItemCaseSensitive (req, "body");
      if (cJSON_IsString (b) && strstr (b->valuestring, needle)) {
         n++;
      }
   }
   cJSON_Delete (o);
   if (all_out) {
      *all_out = r.body;
   } else {
      tk_test_http_free (&r);
   }
   return n;
}

static void
assert_valid_classification (const tk_ticket_t *t)
{
   h_assert_classified (t);
   assert_string_equal (t->metadata.model_version, "fake-model");
}

/* ---- tests --------------------------------------------------------------- */

static void
test_happy_path (void **state)
{
   (void) state;
   enum { N = 30 };
   char id[N][32];
   for (int i = 0; i < N; i++) {
      snprintf (id[i], sizeof id[i], "HAPPY-%d", i);
      h_insert (id[i], "Connector failing", "How do I set up the Snowflake connector? It fails.");
   }
   for (int i = 0; i < N; i++) {
      h_request (id[i], "ingest");
   }
   for (int i = 0; i < N; i++) {
      tk_ticket_t *t = h_wait_outcome (&svc, id[i], false, WAIT_MS);
      assert_valid_classification (t);
      /* The fake answers "how-to": stored in the taxonomy's spelling; its
       * priority confidence of 1.3 is clamped. */
      assert_int_equal (t->classification.n_topic_tags, 2);
      assert_string_equal (t->classification.topic_tags[1], "How-to");
      assert_true (t->confidence.priority == 1.0);
      tk_ticket_destroy (t);
      cJSON *m = h_find_seen (h.classified, id[i]);
      assert_non_null (m);
      const cJSON *md = cJSON_GetObjectItemCaseSensitive (m, "processing_metadata");
      assert_true (cJSON_IsString (cJSON_GetObjectItemCaseSensitive (md, "processed_at")));
      assert_string_equal (
         cJSON_GetObjectItemCaseSensitive (cJSON_GetObjectItemCaseSensitive (m, "classification"),
                                           "sentiment")
            ->valuestring,
         "Curious");
      cJSON_Delete (m);
   }
   /* What was sent: the model, temperature 0, the taxonomy in the prompt,
    * a JSON schema, and the key as a bearer token. */
   char *all = NULL;
   assert_true (fake_count ("HAPPY-0\\n", &all) >= 1);
   assert_non_null (strstr (all, "\\\"temperature\\\":0"));
   assert_non_null (strstr (all, "\\\"model\\\":\\\"fake-model\\\""));
   assert_non_null (strstr (all, "Sensitive data"));
   assert_non_null (strstr (all, "json_schema"));
   assert_non_null (strstr (all, "\"auth\":\"Bearer sk-test-key\""));
   free (all);
}

typedef struct {
   const char *id;
   const char *directive;
   bool dlq;
   int requests; /* expected requests for this ticket */
} fault_case_t;

static void
test_faults (void **state)
{
   (void) state;
   /* TRIAGE_RETRY_MAX_ATTEMPTS=4, LLM timeout 1.5 s. */
   static const fault_case_t cases[] = {
      {"F-429", "[[fake 429 times=2 retry_after=1 F-429]]", false, 3},
      {"F-503", "[[fake 503 times=1 retry_after=1 F-503]]", false, 2},
      {"F-500", "[[fake 500 times=2 F-500]]", false, 3},
      {"F-HANG", "[[fake hang times=1 F-HANG]]", false, 2},
      {"F-TRUNC", "[[fake truncated times=1 F-TRUNC]]", false, 2},
      {"F-BADLABEL", "[[fake badlabel times=1 F-BADLABEL]]", false, 2},
      {"F-MISSING", "[[fake missing times=1 F-MISSING]]", false, 2},
      {"F-GARBAGE", "[[fake garbage times=0 F-GARBAGE]]", true, 4},
      {"F-500-ALWAYS", "[[fake 500 times=0 F-500-ALWAYS]]", true, 4},
      {"F-400", "[[fake 400 times=0 F-400]]", true, 1},
      {"F-401", "[[fake 401 times=0 F-401]]", true, 1},
   };
   size_t n = sizeof cases / sizeof cases[0];
   for (size_t i = 0; i < n; i++) {
      char body[256];
      snprintf (body, sizeof body, "Lineage graph is empty. %s", cases[i].directive);
      h_insert (cases[i].id, "Lineage question", body);
      h_request (cases[i].id, "ingest");
   }
   for (size_t i = 0; i < n; i++) {
      const fault_case_t *fc = &cases[i];
      tk_ticket_t *t = h_wait_outcome (&svc, fc->id, fc->dlq, WAIT_MS);
      if (fc->dlq) {
         assert_false (t->processed);
         assert_int_equal (t->processing_attempts, 1);
         assert_non_null (t->last_error);
         cJSON *m = h_find_seen (h.dlq, fc->id);
         assert_non_null (m);
         assert_int_equal (cJSON_GetObjectItemCaseSensitive (m, "attempts")->valueint,
                           fc->requests);
         assert_true (cJSON_IsString (cJSON_GetObjectItemCaseSensitive (m, "error")));
         assert_true (cJSON_IsObject (cJSON_GetObjectItemCaseSensitive (m, "message")));
         cJSON_Delete (m);
      } else {
         assert_valid_classification (t);
         assert_null (h_find_seen (h.dlq, fc->id));
      }
      tk_ticket_destroy (t);
      int got = fake_count (fc->directive, NULL);
      if (got != fc->requests) {
         tk_test_service_dump_log (&svc);
         fail_msg ("%s: the LLM got %d request(s), expected %d", fc->id, got, fc->requests);
      }
   }
   /* The repair request quoted the error back to the model. */
   char *all = NULL;
   fake_count ("F-BADLABEL", &all);
   assert_non_null (strstr (all, "That answer was rejected"));
   assert_non_null (strstr (all, "Ecstatic"));
   free (all);
}

static void
test_pii_never_leaves (void **state)
{
   (void) state;
   static const char *const secrets[] = {
      "jane.doe@example.com", "+1 415 555 0134", "4111 1111 1111 1111", "192.168.10.42",
      "hunter2hunter2", "eyJhbGciOiJIUzI1NiJ9.abcdefgh", "sk-abcdefghijklmnopqrstuvwx"};
   h_insert ("PII-1", "Login broken for jane.doe@example.com",
           "Call me at +1 415 555 0134. I paid with 4111 1111 1111 1111 from 192.168.10.42. "
           "My config has password=hunter2hunter2 and Authorization: Bearer "
           "eyJhbGciOiJIUzI1NiJ9.abcdefgh and api key sk-abcdefghijklmnopqrstuvwx");
   h_request ("PII-1", "ingest");
   tk_ticket_t *t = h_wait_outcome (&svc, "PII-1", false, WAIT_MS);
   /* The stored ticket keeps the original text. */
   assert_non_null (strstr (t->body, "4111 1111 1111 1111"));
   tk_ticket_destroy (t);
   char *all = NULL;
   assert_true (fake_count ("PII-1", &all) >= 1);
   for (size_t i = 0; i < sizeof secrets / sizeof secrets[0]; i++) {
      if (strstr (all, secrets[i])) {
         fail_msg ("\"%s\" reached the LLM", secrets[i]);
      }
   }
   assert_non_null (strstr (all, "[EMAIL]"));
   assert_non_null (strstr (all, "[CARD]"));
   assert_non_null (strstr (all, "[PHONE]"));
   assert_non_null (strstr (all, "[IP]"));
   assert_non_null (strstr (all, "[SECRET]"));
   free (all);
}

static void
test_reprocess_and_skip (void **state)
{
   (void) state;
   h_insert ("RE-1", "SSO question", "How do I configure Okta SSO?");
   h_request ("RE-1", "ingest");
   tk_ticket_t *t = h_wait_outcome (&svc, "RE-1", false, WAIT_MS);
   int64_t first = t->metadata.processed_at;
   tk_ticket_destroy (t);
   int before = fake_count ("Ticket RE-1\\n", NULL);
   assert_int_equal (before, 1);

   /* A plain request for a processed ticket is skipped, a reprocess request
    * classifies it again; a request for a missing ticket is dropped and
    * does not hold up the others. */
   h_request ("RE-1", "manual");
   h_request ("NO-SUCH-TICKET", "ingest");
   h_request ("RE-1", "reprocess");
   uint64_t deadline = tk_test_now_ms () + WAIT_MS;
   for (;;) {
      t = h_get ("RE-1");
      bool again = t->metadata.processed_at > first;
      tk_ticket_destroy (t);
      if (again) {
         break;
      }
      assert_true (tk_test_now_ms () < deadline);
      h_pump (100);
   }
   h_insert ("RE-2", "After", "A later ticket on any partition still gets done.");
   h_request ("RE-2", "ingest");
   tk_ticket_destroy (h_wait_outcome (&svc, "RE-2", false, WAIT_MS));
   assert_int_equal (fake_count ("Ticket RE-1\\n", NULL), 2);
   assert_int_equal (fake_count ("NO-SUCH-TICKET", NULL), 0);
}

int
main (void)
{
   const struct CMUnitTest tests[] = {
      cmocka_unit_test (test_happy_path),
      cmocka_unit_test (test_faults),
      cmocka_unit_test (test_pii_never_leaves),
      cmocka_unit_test (test_reprocess_and_skip),
   };
   return cmocka_run_group_tests (tests, setup, teardown);
}
