/* TRIAGE_LLM_BATCH end to end (real Kafka, the real MongoDB-protocol
 * server, the fake LLM answering batches per id): many tickets share a
 * request; a ticket whose entry in a batch answer is missing or invalid is
 * asked about again alone and ends classified, while the others of its
 * batch are never asked again. */
#include "test_classifier_harness.h"

static tk_test_service_t fake, svc;

static int
setup_each (void **state)
{
   (void) state;
   h_setup ("triage_test_cls_batch", 3);
   return 0;
}

/* How many requests the fake got, and in how many of them id was asked
 * about (ids as the fake read them from the prompt). */
static int
requests_for (const cJSON *log, const char *id)
{
   int n = 0;
   const cJSON *r;
   cJSON_ArrayForEach (r, cJSON_GetObjectItemCaseSensitive (log, "requests"))
   {
      const cJSON *x;
      cJSON_ArrayForEach (x, cJSON_GetObjectItemCaseSensitive (r, "ids"))
      {
         n += cJSON_IsString (x) && strcmp (x->valuestring, id) == 0;
      }
   }
   return n;
}

static void
wait_all (size_t total)
{
   if (!h_wait_processed ((int64_t) total, 90000)) {
      tk_test_service_dump_log (&svc);
      fail_msg ("only %lld of %zu tickets processed", (long long) h_processed_count (), total);
   }
}

static void
run_many (bool gemini)
{
   enum { N = 100, BATCH = 8 };
   h_start_fake (&fake, NULL, gemini);
   const char *env[] = {gemini ? "TRIAGE_LLM_PROVIDER=gemini" : "TRIAGE_LLM_PROVIDER=openai",
                        "TRIAGE_LLM_MODEL=fake-model", "TRIAGE_LLM_API_KEY=sk-test",
                        "TRIAGE_LLM_BATCH=8", "TRIAGE_LLM_BATCH_WINDOW=200ms",
                        "TRIAGE_CLASSIFIER_CONCURRENCY=32", NULL};
   h_start_classifier (&svc, env);
   h_insert_many ("BATCH", N, "Connector setup", "How do I configure the Snowflake connector?");
   h_request_many ("BATCH", 0, N, "ingest");
   wait_all (N);
   cJSON *log = h_fake_requests (&fake);
   int count = cJSON_GetObjectItemCaseSensitive (log, "count")->valueint;
   /* Batches of up to 8 (a window may close on fewer): far fewer requests
    * than tickets, and never more than 8 tickets in one. */
   print_message ("%d tickets, %d requests to the fake LLM\n", N, count);
   if (count > N / 4) {
      fail_msg ("%d requests for %d tickets", count, N);
   }
   int biggest = 0;
   const cJSON *r;
   cJSON_ArrayForEach (r, cJSON_GetObjectItemCaseSensitive (log, "requests"))
   {
      int k = cJSON_GetArraySize (cJSON_GetObjectItemCaseSensitive (r, "ids"));
      assert_true (k >= 1 && k <= BATCH);
      biggest = k > biggest ? k : biggest;
      /* The batch schema went with it. */
      if (k > 1) {
         const char *body = cJSON_GetObjectItemCaseSensitive (r, "body")->valuestring;
         assert_non_null (strstr (body, "answers"));
         assert_non_null (strstr (body, gemini ? "responseSchema" : "json_schema"));
      }
   }
   assert_int_equal (biggest, BATCH);
   for (int i = 0; i < N; i++) {
      char id[64];
      snprintf (id, sizeof id, "BATCH-%d", i);
      assert_int_equal (requests_for (log, id), 1);
      tk_ticket_t *t = h_get (id);
      assert_true (t->processed);
      assert_string_equal (t->metadata.model_version, "fake-model");
      assert_string_equal (t->classification.sentiment, "Curious");
      assert_int_equal (t->processing_attempts, 0);
      tk_ticket_destroy (t);
   }
   cJSON_Delete (log);
   assert_true (h_metric (&svc, "triage_classifier_batch_size_count") >= 1);
   h_stop_classifier (&svc);
}

static void
test_batch_openai (void **state)
{
   (void) state;
   run_many (false);
}

static void
test_batch_gemini (void **state)
{
   (void) state;
   run_many (true);
}

/* One batch of 8 where four entries go wrong in different ways. */
static void
test_bad_entries_retried_alone (void **state)
{
   (void) state;
   enum { N = 8 };
   static const char *const directive[N] = {
      NULL, "[[fake omit times=1 E1]]", NULL, "[[fake badlabel times=1 E3]]",
      NULL, "[[fake wrongtype times=1 E5]]", "[[fake dupe times=1 E6]]", NULL};
   h_start_fake (&fake, NULL, false);
   /* A batch of exactly N and a window far longer than the eight can take
    * to arrive (each is read from the store first, slow under ASan on a
    * busy machine): the batch fills and goes at once, never split by the
    * window (a 1 s window split it once in CI: six requests). */
   const char *env[] = {"TRIAGE_LLM_PROVIDER=openai", "TRIAGE_LLM_MODEL=fake-model",
                        "TRIAGE_LLM_API_KEY=sk-test", "TRIAGE_LLM_BATCH=8",
                        "TRIAGE_LLM_BATCH_WINDOW=10s", "TRIAGE_RETRY_BASE=50ms",
                        "TRIAGE_RETRY_CAP=200ms", NULL};
   h_start_classifier (&svc, env);
   for (int i = 0; i < N; i++) {
      char prefix[32], body[256];
      snprintf (prefix, sizeof prefix, "E%d", i);
      snprintf (body, sizeof body, "The lineage graph is empty. %s",
                directive[i] ? directive[i] : "");
      h_insert_many (prefix, 1, "Lineage", body);
   }
   /* Produced back to back, so the eight arrive well inside the window. */
   size_t before = h.delivered;
   for (int i = 0; i < N; i++) {
      char id[64], msg[256];
      snprintf (id, sizeof id, "E%d-0", i);
      snprintf (msg, sizeof msg, "{\"id\":\"%s\",\"reason\":\"ingest\"}", id);
      tk_error_t err;
      assert_true (tk_kafka_produce (h.producer, h.classify, id, strlen (id), msg, strlen (msg),
                                     h_on_delivered, NULL, &err));
   }
   uint64_t deadline = tk_test_now_ms () + 30000;
   while (h.delivered < before + N && tk_test_now_ms () < deadline) {
      h_pump (10);
   }
   assert_int_equal (h.delivered, before + N);
   wait_all (N);
   cJSON *log = h_fake_requests (&fake);
   /* One batch, then one request alone for each spoiled entry. */
   assert_int_equal (cJSON_GetObjectItemCaseSensitive (log, "count")->valueint, 1 + 4);
   for (int i = 0; i < N; i++) {
      char id[64];
      snprintf (id, sizeof id, "E%d-0", i);
      int want = directive[i] ? 2 : 1;
      if (requests_for (log, id) != want) {
         fail_msg ("%s was asked about %d time(s), expected %d", id, requests_for (log, id),
                   want);
      }
      tk_ticket_t *t = h_get (id);
      assert_true (t->processed);
      assert_string_equal (t->classification.sentiment, "Curious");
      tk_ticket_destroy (t);
      assert_int_equal (h_seen_count (h.dlq, id), 0);
   }
   /* The invalid entry was repaired: its error quoted back, alone. */
   const cJSON *r;
   bool repaired = false;
   cJSON_ArrayForEach (r, cJSON_GetObjectItemCaseSensitive (log, "requests"))
   {
      const char *body = cJSON_GetObjectItemCaseSensitive (r, "body")->valuestring;
      if (strstr (body, "That answer was rejected") && strstr (body, "Ecstatic")) {
         assert_int_equal (cJSON_GetArraySize (cJSON_GetObjectItemCaseSensitive (r, "ids")), 1);
         repaired = true;
      }
   }
   assert_true (repaired);
   cJSON_Delete (log);
   h_stop_classifier (&svc);
}

int
main (void)
{
   const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown (test_batch_openai, setup_each, h_teardown_cb),
      cmocka_unit_test_setup_teardown (test_batch_gemini, setup_each, h_teardown_cb),
      cmocka_unit_test_setup_teardown (test_bad_entries_retried_alone, setup_each, h_teardown_cb),
   };
   return cmocka_run_group_tests (tests, NULL, NULL);
}
