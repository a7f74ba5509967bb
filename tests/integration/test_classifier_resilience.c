/* The classifier under stress, end to end on real Kafka and the real
 * MongoDB-protocol server with the fake LLM: a SIGTERM while tickets are in
 * flight finishes and commits them; a 429 storm never pushes requests past
 * the configured rate; an open circuit pauses consumption and loses
 * nothing; the gemini provider works against generateContent; /metrics
 * reports what the issue lists. Each test has its own database, topics and
 * group, and starts its own classifier. */
#include "test_classifier_harness.h"

#include <librdkafka/rdkafka.h>

static tk_test_service_t fake, svc;

static int
setup_each (void **state)
{
   (void) state;
   h_setup ("triage_test_cls_res", 3);
   return 0;
}

static const char *const openai_env[] = {"TRIAGE_LLM_PROVIDER=openai", "TRIAGE_LLM_MODEL=fake-model",
                                         "TRIAGE_LLM_API_KEY=sk-test", NULL};

/* env = openai_env + extra, in buf (NULL-terminated). */
static const char **
with_openai (const char **buf, size_t cap, const char *const *extra)
{
   size_t n = 0;
   for (size_t i = 0; openai_env[i] && n < cap - 1; i++) {
      buf[n++] = openai_env[i];
   }
   for (size_t i = 0; extra && extra[i] && n < cap - 1; i++) {
      buf[n++] = extra[i];
   }
   buf[n] = NULL;
   return buf;
}

/* The offsets the classifier's group has committed on the classify topic,
 * summed over its partitions (read with librdkafka directly, blocking). */
static int64_t
committed_total (int partitions)
{
   char errstr[256];
   rd_kafka_conf_t *conf = rd_kafka_conf_new ();
   assert_int_equal (rd_kafka_conf_set (conf, "bootstrap.servers", tk_test_kafka_brokers (),
                                        errstr, sizeof errstr),
                     RD_KAFKA_CONF_OK);
   assert_int_equal (rd_kafka_conf_set (conf, "group.id", h.group, errstr, sizeof errstr),
                     RD_KAFKA_CONF_OK);
   rd_kafka_t *rk = rd_kafka_new (RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
   assert_non_null (rk);
   rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new (partitions);
   for (int p = 0; p < partitions; p++) {
      rd_kafka_topic_partition_list_add (l, h.classify, p);
   }
   assert_int_equal (rd_kafka_committed (rk, l, 10000), RD_KAFKA_RESP_ERR_NO_ERROR);
   int64_t total = 0;
   for (int i = 0; i < l->cnt; i++) {
      if (l->elems[i].offset >= 0) {
         total += l->elems[i].offset;
      }
   }
   rd_kafka_topic_partition_list_destroy (l);
   rd_kafka_destroy (rk);
   return total;
}

/* The sum of the classifier's consumer-lag gauges over its partitions;
 * -1 if it reports none. */
static double
lag_total (void)
{
   char *text = h_metrics_text (&svc);
   double sum = -1;
   const char *name = "triage_classifier_consumer_lag{";
   for (char *line = text; line && *line;) {
      char *nl = strchr (line, '\n');
      if (nl) {
         *nl = '\0';
      }
      if (strncmp (line, name, strlen (name)) == 0) {
         const char *sp = strrchr (line, ' ');
         sum = (sum < 0 ? 0 : sum) + (sp ? strtod (sp + 1, NULL) : 0);
      }
      line = nl ? nl + 1 : NULL;
   }
   free (text);
   return sum;
}

static int
fake_request_count (void)
{
   cJSON *o = h_fake_requests (&fake);
   int n = cJSON_GetObjectItemCaseSensitive (o, "count")->valueint;
   cJSON_Delete (o);
   return n;
}

/* SIGTERM with tickets in flight at a slow provider: the worker stops
 * consuming, finishes them, commits, and exits 0. */
static void
test_sigterm_finishes_in_flight (void **state)
{
   (void) state;
   enum { N = 10 };
   const char *fenv[] = {"TRIAGE_FAKE_LATENCY_MS=2500", NULL};
   h_start_fake (&fake, fenv, false);
   const char *extra[] = {"TRIAGE_CLASSIFIER_CONCURRENCY=16", "TRIAGE_SHUTDOWN_TIMEOUT=30s",
                          NULL};
   const char *env[16];
   h_start_classifier (&svc, with_openai (env, 16, extra));
   h_insert_many ("DRAIN", N, "Glossary", "How do I add a glossary term?");
   h_request_many ("DRAIN", 0, N, "ingest");
   /* Wait until every ticket's call is at the provider. */
   uint64_t deadline = tk_test_now_ms () + 30000;
   while (fake_request_count () < N && tk_test_now_ms () < deadline) {
      h_pump (50);
   }
   assert_int_equal (fake_request_count (), N);
   assert_int_equal (h_processed_count (), 0);
   h_stop_classifier (&svc); /* SIGTERM; asserts exit 0 */
   assert_int_equal (h_processed_count (), N);
   assert_int_equal (committed_total (3), N);
   /* Each result was published too. */
   deadline = tk_test_now_ms () + 20000;
   size_t seen = 0;
   while (tk_test_now_ms () < deadline) {
      h_pump (200);
      seen = 0;
      for (int i = 0; i < N; i++) {
         char id[32];
         snprintf (id, sizeof id, "DRAIN-%d", i);
         seen += h_seen_count (h.classified, id) > 0;
      }
      if (seen == N) {
         break;
      }
   }
   assert_int_equal (seen, N);
}

/* A ticket stuck at the provider for longer than the shutdown allows: the
 * worker still exits within its timeout, and leaves that ticket's offset
 * uncommitted so the next owner redoes it. */
static void
test_sigterm_bounded_by_timeout (void **state)
{
   (void) state;
   h_start_fake (&fake, NULL, false);
   const char *extra[] = {"TRIAGE_SHUTDOWN_TIMEOUT=3s", "TRIAGE_LLM_TIMEOUT=1h", NULL};
   const char *env[16];
   h_start_classifier (&svc, with_openai (env, 16, extra));
   h_insert_many ("STUCK", 1, "Stuck", "[[fake hang times=0 STUCK]]");
   h_request_many ("STUCK", 0, 1, "ingest");
   uint64_t deadline = tk_test_now_ms () + 30000;
   while (fake_request_count () < 1 && tk_test_now_ms () < deadline) {
      h_pump (50);
   }
   assert_int_equal (fake_request_count (), 1);
   /* Exits (stop waits 30 s at most, far beyond the 3 s timeout). */
   int rc = tk_test_service_stop (&svc, SIGTERM, 30000);
   assert_true (rc == 0 || rc == 1);
   assert_int_equal (h_processed_count (), 0);
   assert_int_equal (committed_total (3), 0);
}

/* Every request gets 429 (Retry-After: 0) a few times: the retries are
 * paced by the client-side rate limit, so in no window do more requests
 * arrive than the bucket allows (its burst plus rate x window). */
static void
test_429_storm_respects_rate (void **state)
{
   (void) state;
   enum { N = 8, TIMES = 3, RPM = 240 };
   h_start_fake (&fake, NULL, false);
   const char *extra[] = {"TRIAGE_LLM_RPM=240", "TRIAGE_RETRY_BASE=10ms",
                          "TRIAGE_RETRY_CAP=50ms", "TRIAGE_RETRY_MAX_ATTEMPTS=10",
                          "TRIAGE_CIRCUIT_THRESHOLD=1000", NULL};
   const char *env[16];
   h_start_classifier (&svc, with_openai (env, 16, extra));
   for (int i = 0; i < N; i++) {
      char id[32], body[128];
      snprintf (id, sizeof id, "STORM-%d", i);
      snprintf (body, sizeof body, "Rate me [[fake 429 times=%d retry_after=0 STORM-%d]]", TIMES,
                i);
      h_insert_many (id, 1, "Storm", body);
   }
   for (int i = 0; i < N; i++) {
      char prefix[32];
      snprintf (prefix, sizeof prefix, "STORM-%d", i);
      h_request_many (prefix, 0, 1, "ingest");
   }
   if (!h_wait_processed (N, 90000)) {
      tk_test_service_dump_log (&svc);
      fail_msg ("not every ticket was classified after the storm");
   }
   cJSON *o = h_fake_requests (&fake);
   const cJSON *reqs = cJSON_GetObjectItemCaseSensitive (o, "requests");
   int n = cJSON_GetArraySize (reqs);
   assert_int_equal (n, N * (TIMES + 1));
   double *at = calloc ((size_t) n, sizeof *at);
   for (int i = 0; i < n; i++) {
      at[i] = cJSON_GetObjectItemCaseSensitive (cJSON_GetArrayItem (reqs, i), "at_ms")->valuedouble;
   }
   /* Burst of a second's worth (RPM/60 = 4); in any window of W ms at most
    * burst + rate x W requests, plus one for clock granularity. */
   const double rate_per_ms = RPM / 60000.0, burst = RPM / 60.0, window = 2000;
   int worst = 0;
   for (int i = 0; i < n; i++) {
      int in = 0;
      for (int k = 0; k < n; k++) {
         in += at[k] >= at[i] && at[k] < at[i] + window;
      }
      worst = in > worst ? in : worst;
   }
   free (at);
   cJSON_Delete (o);
   fprintf (stderr, "# %d requests, at most %d in any %.0f ms window (bound %.0f)\n", n, worst,
            window, burst + rate_per_ms * window + 1);
   assert_true (worst <= (int) (burst + rate_per_ms * window + 1));
   assert_true (h_metric (&svc, "triage_classifier_rate_limit_waits_total") > 0);
   h_stop_classifier (&svc);
}

/* The provider goes down: after TRIAGE_CIRCUIT_THRESHOLD failures the
 * circuit opens, consumption pauses (the worker holds no more than one
 * batch), only probes reach the provider, no ticket goes to the DLQ; when
 * the provider is back, every ticket ends classified. */
static void
test_open_circuit_pauses_and_loses_nothing (void **state)
{
   (void) state;
   enum { N = 40 };
   h_start_fake (&fake, NULL, false);
   const char *extra[] = {"TRIAGE_CIRCUIT_THRESHOLD=3", "TRIAGE_CIRCUIT_PROBE_INTERVAL=300ms",
                          "TRIAGE_CLASSIFIER_CONCURRENCY=4", "TRIAGE_CLASSIFIER_PREFETCH=4",
                          "TRIAGE_RETRY_BASE=20ms",
                          "TRIAGE_RETRY_CAP=100ms", "TRIAGE_RETRY_MAX_ATTEMPTS=3", NULL};
   const char *env[16];
   h_start_classifier (&svc, with_openai (env, 16, extra));
   h_insert_many ("CIRC", N, "Lineage", "The lineage graph is empty.");
   h_fake_post (&fake, "/_fake/down");
   h_request_many ("CIRC", 0, N, "ingest");
   uint64_t deadline = tk_test_now_ms () + 30000;
   while (h_metric (&svc, "triage_classifier_circuit_open") != 1 &&
          tk_test_now_ms () < deadline) {
      h_pump (50);
   }
   assert_true (h_metric (&svc, "triage_classifier_circuit_open") == 1);
   int at_open = fake_request_count ();
   /* Down for 3 s more: consumption stays paused, only probes go out. */
   h_pump (3000);
   int during = fake_request_count () - at_open;
   double held = h_metric (&svc, "triage_classifier_messages_held");
   fprintf (stderr, "# circuit open: %d request(s) at opening, %d probe(s) in 3 s, %.0f held\n",
            at_open, during, held);
   assert_true (during <= 3000 / 300 + 2);
   /* The paused worker reports what it has not committed as lag (on the
    * partitions it has read from: the committed offset of the others is
    * not known to it yet). */
   double lag_open = lag_total ();
   fprintf (stderr, "# consumer lag while open: %.0f\n", lag_open);
   assert_true (lag_open > 4);
   assert_true (held <= 4 + 4); /* concurrency + prefetch: the rest waits in Kafka */
   assert_int_equal (h_processed_count (), 0);
   h_fake_post (&fake, "/_fake/up");
   if (!h_wait_processed (N, 60000)) {
      tk_test_service_dump_log (&svc);
      fail_msg ("not every ticket was classified after the provider came back");
   }
   assert_true (h_metric (&svc, "triage_classifier_circuit_open") == 0);
   /* The metrics the issue lists, as an operator would read them. */
   deadline = tk_test_now_ms () + 20000;
   while (lag_total () != 0 && tk_test_now_ms () < deadline) {
      h_pump (200);
   }
   assert_true (lag_total () == 0);
   assert_true (h_metric (&svc, "triage_classifier_tickets_total{provider=\"openai\",outcome=\"classified\"}") == N);
   assert_true (h_metric (&svc, "triage_classifier_tickets_total{provider=\"openai\",outcome=\"dlq\"}") <= 0);
   double attempts = h_metric (&svc, "triage_classifier_attempts_total{provider=\"openai\"}");
   assert_true (attempts >= N + 3);
   assert_true (h_metric (&svc, "triage_classifier_retries_total{reason=\"http_5xx\"}") >= 1);
   assert_true (h_metric (&svc, "triage_classifier_provider_latency_seconds_count{provider=\"openai\"}") == attempts);
   assert_true (h_metric (&svc, "triage_classifier_in_flight") == 0);
   assert_true (h_metric (&svc, "triage_classifier_rate_limit_waits_total") == 0);
   for (size_t i = 0; i < h.n_seen; i++) {
      assert_string_not_equal (h.seen[i].topic, h.dlq);
   }
   for (int i = 0; i < N; i++) {
      char id[32];
      snprintf (id, sizeof id, "CIRC-%d", i);
      tk_ticket_t *t = h_get (id);
      assert_true (t->processed);
      assert_int_equal (t->processing_attempts, 0);
      tk_ticket_destroy (t);
   }
   h_stop_classifier (&svc);
}

/* One ticket alone against a provider that is down, with as many retries
 * as the circuit's threshold: its own last failure opens the circuit. It
 * must wait for the provider (parked), not end failed in the DLQ; once
 * the provider is back it is classified. (Before the fix it went to the
 * DLQ: seen in CI when one ticket's retries outran the others'.) */
static void
test_circuit_opened_by_last_retry_keeps_ticket (void **state)
{
   (void) state;
   h_start_fake (&fake, NULL, false);
   const char *extra[] = {"TRIAGE_CIRCUIT_THRESHOLD=3", "TRIAGE_CIRCUIT_PROBE_INTERVAL=300ms",
                          "TRIAGE_CLASSIFIER_CONCURRENCY=1", "TRIAGE_RETRY_BASE=10ms",
                          "TRIAGE_RETRY_CAP=20ms", "TRIAGE_RETRY_MAX_ATTEMPTS=3", NULL};
   const char *env[16];
   h_start_classifier (&svc, with_openai (env, 16, extra));
   h_insert_many ("LAST", 1, "Lineage", "The lineage graph is empty.");
   h_fake_post (&fake, "/_fake/down");
   h_request_many ("LAST", 0, 1, "ingest");
   uint64_t deadline = tk_test_now_ms () + 30000;
   while (h_metric (&svc, "triage_classifier_circuit_open") != 1 &&
          tk_test_now_ms () < deadline) {
      h_pump (50);
   }
   assert_true (h_metric (&svc, "triage_classifier_circuit_open") == 1);
   h_pump (1000); /* a few probes fail too */
   assert_int_equal (h_seen_count (h.dlq, "LAST-0"), 0);
   tk_ticket_t *t = h_get ("LAST-0");
   assert_false (t->processed);
   assert_int_equal (t->processing_attempts, 0);
   tk_ticket_destroy (t);
   h_fake_post (&fake, "/_fake/up");
   if (!h_wait_processed (1, 30000)) {
      tk_test_service_dump_log (&svc);
      fail_msg ("the ticket that opened the circuit was not classified once the provider was back");
   }
   assert_int_equal (h_seen_count (h.dlq, "LAST-0"), 0);
   assert_true (h_metric (&svc, "triage_classifier_tickets_total{provider=\"openai\",outcome=\"dlq\"}") <= 0);
   t = h_get ("LAST-0");
   h_assert_classified (t);
   tk_ticket_destroy (t);
   h_stop_classifier (&svc);
}

/* TRIAGE_LLM_PROVIDER=gemini against the fake's generateContent endpoint:
 * the request carries the key header, JSON mime type and a response schema;
 * the answer is stored; retries work the same. */
static void
test_gemini_provider (void **state)
{
   (void) state;
   h_start_fake (&fake, NULL, true);
   const char *env[] = {"TRIAGE_LLM_PROVIDER=gemini", "TRIAGE_LLM_MODEL=gemini-fake",
                        "TRIAGE_LLM_API_KEY=gm-test-key", "TRIAGE_RETRY_BASE=20ms", NULL};
   h_start_classifier (&svc, env);
   h_insert_many ("GEM", 1, "Connector", "How do I set up the dbt connector? jane@example.com");
   h_insert_many ("GEM503", 1, "Connector", "[[fake 503 times=1 retry_after=0 GEM503]]");
   h_request_many ("GEM", 0, 1, "ingest");
   h_request_many ("GEM503", 0, 1, "ingest");
   if (!h_wait_processed (2, 60000)) {
      tk_test_service_dump_log (&svc);
      fail_msg ("gemini tickets not classified");
   }
   tk_ticket_t *t = h_get ("GEM-0");
   assert_string_equal (t->classification.sentiment, "Curious");
   assert_string_equal (t->classification.priority, "P1 (Medium)");
   assert_string_equal (t->metadata.model_version, "gemini-fake");
   tk_ticket_destroy (t);
   cJSON *o = h_fake_requests (&fake);
   const cJSON *r;
   int gem503 = 0, gem = 0;
   cJSON_ArrayForEach (r, cJSON_GetObjectItemCaseSensitive (o, "requests"))
   {
      const char *path = cJSON_GetObjectItemCaseSensitive (r, "path")->valuestring;
      const char *body = cJSON_GetObjectItemCaseSensitive (r, "body")->valuestring;
      const char *auth = cJSON_GetObjectItemCaseSensitive (r, "auth")->valuestring;
      assert_string_equal (path, "/v1beta/models/gemini-fake:generateContent");
      assert_string_equal (auth, "gm-test-key");
      assert_non_null (strstr (body, "\"responseMimeType\":\"application/json\""));
      assert_non_null (strstr (body, "\"responseSchema\""));
      assert_null (strstr (body, "jane@example.com"));
      gem503 += strstr (body, "GEM503") != NULL;
      gem += strstr (body, "GEM-0") != NULL;
   }
   cJSON_Delete (o);
   assert_int_equal (gem, 1);
   assert_int_equal (gem503, 2);
   h_stop_classifier (&svc);
}

int
main (void)
{
   const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown (test_sigterm_finishes_in_flight, setup_each,
                                       h_teardown_cb),
      cmocka_unit_test_setup_teardown (test_sigterm_bounded_by_timeout, setup_each,
                                       h_teardown_cb),
      cmocka_unit_test_setup_teardown (test_429_storm_respects_rate, setup_each, h_teardown_cb),
      cmocka_unit_test_setup_teardown (test_open_circuit_pauses_and_loses_nothing, setup_each,
                                       h_teardown_cb),
      cmocka_unit_test_setup_teardown (test_circuit_opened_by_last_retry_keeps_ticket, setup_each,
                                       h_teardown_cb),
      cmocka_unit_test_setup_teardown (test_gemini_provider, setup_each, h_teardown_cb),
   };
   return cmocka_run_group_tests (tests, NULL, NULL);
}
