/* Horizontal scale: three triage-classifier workers in one consumer group
 * share 3,000 tickets on a 6-partition classify topic (real Kafka, the real
 * MongoDB-protocol server, the fake LLM answering after a short latency).
 * Halfway through, one worker is killed with SIGKILL: it gets no chance to
 * finish or commit anything. The group rebalances, the survivors redo the
 * dead worker's uncommitted messages, and every ticket must end classified
 * exactly once in effect: one stored, valid classification per ticket, none
 * left unprocessed, none sent to the DLQ. */
#include "test_classifier_harness.h"

#include "timeutil.h"

#define N_WORKERS 3

/* 3,000 tickets by default; TRIAGE_TEST_SCALE_TICKETS overrides (the
 * MongoDB-protocol server sets the pace: FerretDB on SQLite is far slower
 * than MongoDB). */
static int N_TICKETS = 300;

static tk_test_service_t fake, workers[N_WORKERS];

static void
test_three_workers_one_killed (void **state)
{
   (void) state;
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
                        "TRIAGE_CLASSIFIER_CONCURRENCY=8",
                        "TRIAGE_RETRY_BASE=50ms",
                        "TRIAGE_LLM_TIMEOUT=10s",
                        "TRIAGE_KAFKA_CONFIG=session.timeout.ms=6000,heartbeat.interval.ms=500",
                        "TRIAGE_LOG_LEVEL=info",
                        NULL};
   for (int i = 0; i < N_WORKERS; i++) {
      h_start_classifier (&workers[i], env);
   }
   h_insert_many ("SCALE", N_TICKETS, "Connector sync fails",
                  "The Snowflake connector fails to sync since yesterday.");
   uint64_t t0 = tk_test_now_ms ();
   h_request_many ("SCALE", 0, N_TICKETS, "ingest");

   /* Kill one worker halfway; it must be holding work of its own then. */
   assert_true (h_wait_processed (N_TICKETS / 2, 240000));
   double held = h_metric (&workers[0], "triage_classifier_messages_held");
   int rc = tk_test_service_stop (&workers[0], SIGKILL, 10000);
   assert_int_equal (rc, 128 + SIGKILL);
   int64_t at_kill = h_processed_count ();
   fprintf (stderr, "# killed worker 0 at %lld processed, holding %.0f message(s)\n",
            (long long) at_kill, held);

   if (!h_wait_processed (N_TICKETS, 240000)) {
      tk_test_service_dump_log (&workers[1]);
      fail_msg ("only %lld of %d tickets processed", (long long) h_processed_count (),
                N_TICKETS);
   }
   uint64_t t1 = tk_test_now_ms ();

   /* One stored classification per ticket, all valid, none unprocessed. */
   tk_processing_stats_t st;
   tk_error_t err;
   assert_true (tk_store_get_processing_stats (h.store, &st, &err));
   assert_int_equal (st.total, N_TICKETS);
   assert_int_equal (st.processed, N_TICKETS);
   assert_int_equal (st.unprocessed, 0);
   tk_ticket_list_t list = {0};
   assert_true (tk_store_get_processed_tickets (h.store, 0, &list, &err));
   assert_int_equal (list.n, N_TICKETS);
   for (size_t i = 0; i < list.n; i++) {
      const tk_ticket_t *t = list.items[i];
      if (!tk_taxonomy_validate_classification (tk_taxonomy_default (), &t->classification,
                                                &err)) {
         fail_msg ("ticket %s: %s", t->id, err.message);
      }
      assert_string_equal (t->metadata.model_version, "fake-model");
      assert_int_equal (t->processing_attempts, 0);
   }
   tk_ticket_list_destroy (&list);

   /* Every ticket's result reached the classified topic (at least once:
    * redelivery after the kill may publish a result twice), none the DLQ. */
   uint64_t deadline = tk_test_now_ms () + 30000;
   size_t missing = N_TICKETS;
   size_t dup = 0;
   while (tk_test_now_ms () < deadline) {
      h_pump (300);
      missing = 0;
      dup = 0;
      for (int i = 0; i < N_TICKETS && missing < 50; i++) {
         char id[32];
         snprintf (id, sizeof id, "SCALE-%d", i);
         size_t c = h_seen_count (h.classified, id);
         missing += c == 0;
         dup += c > 1 ? c - 1 : 0;
      }
      if (missing == 0) {
         break;
      }
   }
   assert_int_equal (missing, 0);
   for (size_t i = 0; i < h.n_seen; i++) {
      assert_string_not_equal (h.seen[i].topic, h.dlq);
   }
   fprintf (stderr,
            "# %d tickets by %d workers (one killed) in %.1f s; %zu result(s) published twice\n",
            N_TICKETS, N_WORKERS, (double) (t1 - t0) / 1000.0, dup);

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
