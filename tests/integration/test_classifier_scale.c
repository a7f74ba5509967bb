/* Horizontal scale: three triage-classifier workers in one consumer group
 * share 3,000 tickets on a 6-partition classify topic (real Kafka, the real
 * MongoDB-protocol server, the fake LLM answering after a short latency).
 * Halfway through, one worker is killed with SIGKILL while it has tickets in
 * flight: it gets no chance to finish or commit anything. The group
 * rebalances, the survivors redo the dead worker's uncommitted messages, and
 * every ticket must end classified exactly once in effect:
 *  - in Mongo: exactly one document per ticket id, each processed=true with
 *    one valid classification, none unprocessed, no failure bookkeeping;
 *  - on tickets.classified: every ticket's result at least once. Delivery is
 *    at least once, so a result the dead worker published but had not
 *    committed may be published again by the survivor that redoes it; such a
 *    duplicate must carry the same classification as the stored document,
 *    so a consumer that applies results by id ends in the same state;
 *  - nothing on the DLQ.
 * It also asserts that each of the three workers classified some tickets
 * (the dead one before it died). */
#include "test_classifier_harness.h"

#include "timeutil.h"

#define N_WORKERS 3

/* 3,000 tickets, as the issue asks; TRIAGE_TEST_SCALE_TICKETS overrides. On
 * FerretDB/PostgreSQL the classification takes 25-35 s (45 s under ASan;
 * the whole binary 43 s, 57 s under ASan), well inside ctest's 300 s. The
 * concurrency of 32 per worker (8 before) is what makes it fit: the
 * database, not the fake's 40 ms, sets the pace. */
static int N_TICKETS = 3000;

static tk_test_service_t fake, workers[N_WORKERS];

#define CLASSIFIED_SERIES "triage_classifier_tickets_total{provider=\"openai\",outcome=\"classified\"}"

static int
str_cmp (const void *a, const void *b)
{
   return strcmp (*(char *const *) a, *(char *const *) b);
}

/* The stored classification of a ticket as the compact JSON the classifier
 * publishes, for comparing with what was on the output topic. */
static char *
classification_json (const tk_classification_t *c)
{
   cJSON *o = cJSON_CreateObject (), *tags = cJSON_AddArrayToObject (o, "topic_tags");
   for (size_t i = 0; i < c->n_topic_tags; i++) {
      cJSON_AddItemToArray (tags, cJSON_CreateString (c->topic_tags[i]));
   }
   cJSON_AddStringToObject (o, "sentiment", c->sentiment);
   cJSON_AddStringToObject (o, "priority", c->priority);
   char *s = cJSON_PrintUnformatted (o);
   cJSON_Delete (o);
   return s;
}

typedef struct {
   char *id;
   char *classification; /* compact JSON */
} result_t;

static int
result_cmp (const void *a, const void *b)
{
   return strcmp (((const result_t *) a)->id, ((const result_t *) b)->id);
}

static void
test_three_workers_one_killed (void **state)
{
   (void) state;
   tk_error_t err;
   const char *n_env = getenv ("TRIAGE_TEST_SCALE_TICKETS");
   if (n_env && atoi (n_env) > 0) {
      N_TICKETS = atoi (n_env);
   }
   h_setup ("triage_test_cls_scale", 6);
   const char *fake_env[] = {"TRIAGE_FAKE_LATENCY_MS=40", NULL};
   h_start_fake (&fake, fake_env, false);
   /* A short session timeout so the group notices the dead member within
    * seconds rather than librdkafka's default 45 s. */
   const char *env[] = {"TRIAGE_LLM_PROVIDER=openai",
                        "TRIAGE_LLM_MODEL=fake-model",
                        "TRIAGE_LLM_API_KEY=sk-test",
                        "TRIAGE_CLASSIFIER_CONCURRENCY=32",
                        "TRIAGE_RETRY_BASE=50ms",
                        "TRIAGE_LLM_TIMEOUT=10s",
                        "TRIAGE_KAFKA_CONFIG=session.timeout.ms=6000,heartbeat.interval.ms=500",
                        "TRIAGE_LOG_LEVEL=info",
                        NULL};
   for (int i = 0; i < N_WORKERS; i++) {
      h_start_classifier (&workers[i], env);
   }
   h_insert_many ("SCALE", (size_t) N_TICKETS, "Connector sync fails",
                  "The Snowflake connector fails to sync since yesterday.");
   uint64_t t0 = tk_test_now_ms ();
   h_request_many ("SCALE", 0, (size_t) N_TICKETS, "ingest");

   /* Halfway, kill worker 0 at a moment it has tickets in flight: it must
    * die mid-work. Progress is read from the classified topic this test
    * consumes (cheap and prompt), not by counting in Mongo, whose
    * aggregation is slow enough under this load to overshoot the middle. */
   uint64_t deadline = tk_test_now_ms () + 240000;
   while (h.n_seen < (size_t) N_TICKETS / 2 && tk_test_now_ms () < deadline) {
      h_pump (20);
   }
   assert_true (h.n_seen >= (size_t) N_TICKETS / 2);
   double in_flight = 0, held = 0, classified0 = 0;
   deadline = tk_test_now_ms () + 20000;
   while (tk_test_now_ms () < deadline) {
      held = h_metric (&workers[0], "triage_classifier_messages_held");
      classified0 = h_metric (&workers[0], CLASSIFIED_SERIES);
      in_flight = h_metric (&workers[0], "triage_classifier_in_flight");
      if (in_flight > 0) {
         break;
      }
      h_pump (5);
   }
   int rc = tk_test_service_stop (&workers[0], SIGKILL, 10000);
   assert_int_equal (rc, 128 + SIGKILL);
   size_t seen_at_kill = h.n_seen;
   int64_t at_kill = h_processed_count ();
   fprintf (stderr,
            "# killed worker 0 with %zu results published and %lld of %d processed, with %.0f ticket(s) in flight and %.0f "
            "message(s) held; it had classified %.0f\n",
            seen_at_kill, (long long) at_kill, N_TICKETS, in_flight, held, classified0);
   assert_true (in_flight > 0);
   assert_true (classified0 > 0);
   assert_true (at_kill < N_TICKETS);

   if (!h_wait_processed (N_TICKETS, 240000)) {
      tk_test_service_dump_log (&workers[1]);
      fail_msg ("only %lld of %d tickets processed", (long long) h_processed_count (),
                N_TICKETS);
   }
   uint64_t t1 = tk_test_now_ms ();

   /* Mongo: exactly one processed document per ticket id, all valid. */
   tk_processing_stats_t st;
   assert_true (tk_store_get_processing_stats (h.store, &st, &err));
   assert_int_equal (st.total, N_TICKETS);
   assert_int_equal (st.processed, N_TICKETS);
   assert_int_equal (st.unprocessed, 0);
   tk_ticket_list_t list = {0};
   assert_true (tk_store_get_processed_tickets (h.store, 0, &list, &err));
   assert_int_equal (list.n, N_TICKETS);
   result_t *stored = calloc (list.n, sizeof *stored);
   for (size_t i = 0; i < list.n; i++) {
      const tk_ticket_t *t = list.items[i];
      if (!tk_taxonomy_validate_classification (tk_taxonomy_default (), &t->classification,
                                                &err)) {
         fail_msg ("ticket %s: %s", t->id, err.message);
      }
      assert_true (t->processed);
      assert_string_equal (t->metadata.model_version, "fake-model");
      assert_int_equal (t->processing_attempts, 0);
      assert_null (t->last_error);
      stored[i].id = t->id;
      stored[i].classification = classification_json (&t->classification);
   }
   qsort (stored, list.n, sizeof *stored, result_cmp);
   for (size_t i = 0; i < list.n; i++) {
      char want[32];
      if (i > 0 && !strcmp (stored[i - 1].id, stored[i].id)) {
         fail_msg ("ticket %s is stored twice", stored[i].id);
      }
      /* Each of SCALE-0 .. SCALE-(N-1) once: N distinct ids of that form. */
      int k = -1;
      assert_int_equal (sscanf (stored[i].id, "SCALE-%d", &k), 1);
      assert_true (k >= 0 && k < N_TICKETS);
      snprintf (want, sizeof want, "SCALE-%d", k);
      assert_string_equal (stored[i].id, want);
   }

   /* The classified topic: every ticket at least once, a duplicate only
    * with the stored classification; nothing on the DLQ. */
   size_t missing = (size_t) N_TICKETS, dup = 0, n_out = 0;
   char **ids = calloc (H_MAX_SEEN, sizeof *ids);
   deadline = tk_test_now_ms () + 60000;
   while (tk_test_now_ms () < deadline) {
      h_pump (300);
      for (; n_out < h.n_seen; n_out++) {
         assert_string_not_equal (h.seen[n_out].topic, h.dlq);
         cJSON *msg = cJSON_Parse (h.seen[n_out].payload);
         assert_non_null (msg);
         cJSON *id = cJSON_GetObjectItem (msg, "id");
         assert_true (cJSON_IsString (id));
         result_t key = {.id = id->valuestring}, *found;
         found = bsearch (&key, stored, list.n, sizeof *stored, result_cmp);
         if (!found) {
            fail_msg ("a result for %s, which is not a ticket of this run", id->valuestring);
         }
         char *got = cJSON_PrintUnformatted (cJSON_GetObjectItem (msg, "classification"));
         if (strcmp (got, found->classification) != 0) {
            fail_msg ("ticket %s: published %s, stored %s", found->id, got, found->classification);
         }
         free (got);
         ids[n_out] = found->id;
         cJSON_Delete (msg);
      }
      char **sorted = calloc (n_out ? n_out : 1, sizeof *sorted);
      memcpy (sorted, ids, n_out * sizeof *sorted);
      qsort (sorted, n_out, sizeof *sorted, str_cmp);
      size_t distinct = 0;
      for (size_t i = 0; i < n_out; i++) {
         distinct += i == 0 || strcmp (sorted[i - 1], sorted[i]) != 0;
      }
      free (sorted);
      missing = (size_t) N_TICKETS - distinct;
      dup = n_out - distinct;
      if (missing == 0) {
         break;
      }
   }
   assert_int_equal (missing, 0);
   free (ids);

   /* Each worker did a share (the dead one's count as read just before the
    * kill). */
   double classified1 = h_metric (&workers[1], CLASSIFIED_SERIES);
   double classified2 = h_metric (&workers[2], CLASSIFIED_SERIES);
   fprintf (stderr,
            "# %d tickets by %d workers (one killed) in %.1f s; classified by worker: %.0f "
            "(killed), %.0f, %.0f; %zu result(s) published more than once\n",
            N_TICKETS, N_WORKERS, (double) (t1 - t0) / 1000.0, classified0, classified1,
            classified2, dup);
   assert_true (classified1 > 0);
   assert_true (classified2 > 0);

   for (size_t i = 0; i < list.n; i++) {
      free (stored[i].classification);
   }
   free (stored);
   tk_ticket_list_destroy (&list);
   for (int i = 1; i < N_WORKERS; i++) {
      h_stop_classifier (&workers[i]);
   }
   tk_test_service_stop (&fake, SIGTERM, 5000);
}

int
main (void)
{
   const struct CMUnitTest tests[] = {
      cmocka_unit_test_teardown (test_three_workers_one_killed, h_teardown_cb),
   };
   return cmocka_run_group_tests (tests, NULL, NULL);
}
