/* test_classifier_harness.h - what the classifier's integration tests share:
 * this run's own database, topics and group; starting triage-classifier
 * (and the fake LLM) as child processes against them; producing requests;
 * watching the classified and DLQ topics; reading /metrics and the fake's
 * request log. Header-only (static functions) so each test binary stays one
 * file plus this. Every call asserts: a harness failure fails the test. */
#ifndef TEST_CLASSIFIER_HARNESS_H
#define TEST_CLASSIFIER_HARNESS_H

#include "test_support.h"

#include "kafka.h"
#include "service_proc.h"
#include "store.h"
#include "taxonomy.h"

#include <cjson/cJSON.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define H_MAX_SEEN 16384
#define H_MAX_ENV 48

typedef struct {
   char topic[96];
   char *payload;
} h_seen_t;

static struct {
   char db[64], classify[96], classified[96], dlq[96], group[96];
   char env_db[128], env_brokers[256], env_mongo[256], env_tc[160], env_tcd[160],
      env_tdlq[160], env_group[160], env_url[160];
   tk_store_t *store;
   uv_loop_t loop;
   tk_kafka_producer_t *producer;
   tk_kafka_consumer_t *consumer;
   h_seen_t seen[H_MAX_SEEN];
   size_t n_seen;
   size_t delivered, delivery_failed;
   bool closed;
   bool ready;                     /* h_setup has run */
   tk_test_service_t *started[16]; /* killed by h_teardown if still running */
   size_t n_started;
} h;

static inline void
h_on_out (tk_kafka_consumer_t *c, const tk_kafka_message_t *m, size_t n, void *opaque)
{
   (void) c;
   (void) opaque;
   for (size_t i = 0; i < n && h.n_seen < H_MAX_SEEN; i++) {
      snprintf (h.seen[h.n_seen].topic, sizeof h.seen[h.n_seen].topic, "%s", m[i].topic);
      h.seen[h.n_seen].payload = strndup (m[i].payload ? m[i].payload : "", m[i].len);
      h.n_seen++;
   }
}

/* Creates this run's database and topics (classify with `partitions`
 * partitions) and the test's producer and output consumer. */
static inline void
h_setup (const char *prefix, int partitions)
{
   tk_error_t err;
   memset (&h, 0, sizeof h);
   tk_test_unique_name (prefix, h.db, sizeof h.db);
   tk_test_unique_name ("test.classify", h.classify, sizeof h.classify);
   tk_test_unique_name ("test.classified", h.classified, sizeof h.classified);
   tk_test_unique_name ("test.dlq", h.dlq, sizeof h.dlq);
   tk_test_unique_name ("test-cls-group", h.group, sizeof h.group);
   const char *t1[] = {h.classify};
   const char *t2[] = {h.classified, h.dlq};
   assert_true (tk_kafka_create_topics (tk_test_kafka_brokers (), NULL, t1, 1, partitions, -1,
                                        30000, &err));
   assert_true (tk_kafka_create_topics (tk_test_kafka_brokers (), NULL, t2, 2, 3, -1, 30000,
                                        &err));
   assert_non_null (h.store = tk_store_new (tk_test_mongo_uri (), h.db, 4, &err));
   assert_true (tk_store_ensure_indexes (h.store, &err));
   snprintf (h.env_db, sizeof h.env_db, "TRIAGE_MONGO_DB=%s", h.db);
   snprintf (h.env_brokers, sizeof h.env_brokers, "TRIAGE_KAFKA_BROKERS=%s",
             tk_test_kafka_brokers ());
   snprintf (h.env_mongo, sizeof h.env_mongo, "TRIAGE_MONGO_URI=%s", tk_test_mongo_uri ());
   snprintf (h.env_tc, sizeof h.env_tc, "TRIAGE_TOPIC_CLASSIFY=%s", h.classify);
   snprintf (h.env_tcd, sizeof h.env_tcd, "TRIAGE_TOPIC_CLASSIFIED=%s", h.classified);
   snprintf (h.env_tdlq, sizeof h.env_tdlq, "TRIAGE_TOPIC_DLQ=%s", h.dlq);
   snprintf (h.env_group, sizeof h.env_group, "TRIAGE_KAFKA_GROUP=%s", h.group);

   assert_int_equal (uv_loop_init (&h.loop), 0);
   assert_non_null (h.producer = tk_kafka_producer_new (&h.loop, tk_test_kafka_brokers (), NULL,
                                                        NULL, NULL, &err));
   char out_group[96];
   tk_test_unique_name ("test-cls-out", out_group, sizeof out_group);
   tk_kafka_consumer_opts_t opts = {.brokers = tk_test_kafka_brokers (),
                                    .group_id = out_group,
                                    .topics = t2,
                                    .n_topics = 2,
                                    .batch_max = 512,
                                    .on_messages = h_on_out};
   assert_non_null (h.consumer = tk_kafka_consumer_new (&h.loop, &opts, &err));
   h.ready = true;
}

static inline void
h_on_closed (void *ud)
{
   (void) ud;
   h.closed = true;
}

/* Stops whatever the test left running (a failed assertion skips the
 * test's own stops) and drops this run's database and topics. */
static inline void
h_teardown (void)
{
   tk_error_t err;
   for (size_t i = 0; i < h.n_started; i++) {
      tk_test_service_stop (h.started[i], SIGKILL, 5000);
   }
   h.n_started = 0;
   if (!h.ready) {
      return;
   }
   h.ready = false;
   h.closed = false;
   tk_kafka_consumer_close (h.consumer, h_on_closed, NULL);
   tk_test_run_until (&h.loop, &h.closed, 20000);
   h.closed = false;
   tk_kafka_producer_close (h.producer, 5000, h_on_closed, NULL);
   tk_test_run_until (&h.loop, &h.closed, 20000);
   tk_test_loop_close (&h.loop);
   for (size_t i = 0; i < h.n_seen; i++) {
      free (h.seen[i].payload);
   }
   const char *topics[] = {h.classify, h.classified, h.dlq};
   tk_kafka_delete_topics (tk_test_kafka_brokers (), NULL, topics, 3, 30000, &err);
   tk_store_drop_database (h.store, &err);
   tk_store_destroy (h.store);
}

static inline int
h_teardown_cb (void **state)
{
   (void) state;
   h_teardown ();
   return 0;
}

/* The settings of the groups that keep one classifier running for all
 * their tests: quick retries, a short LLM timeout, a circuit that stays
 * closed, 16 tickets in flight and debug logs. For an env array's
 * initializer. */
#define H_GROUP_ENV                                                                    \
   "TRIAGE_RETRY_BASE=50ms", "TRIAGE_RETRY_CAP=1s", "TRIAGE_RETRY_MAX_ATTEMPTS=4",     \
      "TRIAGE_LLM_TIMEOUT=1500ms", "TRIAGE_CIRCUIT_THRESHOLD=1000",                    \
      "TRIAGE_CLASSIFIER_CONCURRENCY=16", "TRIAGE_LOG_LEVEL=debug"

/* The teardown of such a group: stops svc with SIGTERM (its log dumped
 * unless it exited cleanly), then fake (NULL if none), drops this run's
 * database and topics, and asserts the classifier's clean exit. */
static inline int
h_teardown_group (tk_test_service_t *svc, tk_test_service_t *fake)
{
   int rc = tk_test_service_stop (svc, SIGTERM, 20000);
   if (rc != 0) {
      tk_test_service_dump_log (svc);
   }
   if (fake) {
      tk_test_service_stop (fake, SIGTERM, 5000);
   }
   h_teardown ();
   assert_int_equal (rc, 0); /* the classifier stopped cleanly on SIGTERM */
   return 0;
}

/* Starts the fake LLM (extra env may be NULL) and points TRIAGE_LLM_URL at
 * it (openai's base; gemini_url for gemini's). */
static inline void
h_start_fake (tk_test_service_t *fake, const char *const *env, bool gemini_url)
{
   assert_true (tk_test_service_start (fake, "fake-llm", env, 10000));
   h.started[h.n_started++] = fake;
   snprintf (h.env_url, sizeof h.env_url, "TRIAGE_LLM_URL=%s/%s", fake->base_url,
             gemini_url ? "v1beta" : "v1");
}

/* Starts a classifier on this run's database, topics and group with extra
 * settings (NULL-terminated, may be NULL) and waits until it is ready. */
static inline void
h_start_classifier (tk_test_service_t *svc, const char *const *extra)
{
   const char *env[H_MAX_ENV];
   size_t n = 0;
   env[n++] = h.env_db;
   env[n++] = h.env_brokers;
   env[n++] = h.env_mongo;
   env[n++] = h.env_tc;
   env[n++] = h.env_tcd;
   env[n++] = h.env_tdlq;
   env[n++] = h.env_group;
   if (h.env_url[0]) {
      env[n++] = h.env_url;
   }
   for (size_t i = 0; extra && extra[i] && n < H_MAX_ENV - 1; i++) {
      env[n++] = extra[i];
   }
   env[n] = NULL;
   assert_true (tk_test_service_start (svc, "classifier", env, 20000));
   h.started[h.n_started++] = svc;
   if (!tk_test_service_wait_ready (svc, 30000)) {
      tk_test_service_dump_log (svc);
      fail_msg ("the classifier never became ready");
   }
}

/* Starts a triage-api on this run's database and classify topic with
 * admin_key and extra settings (NULL-terminated, may be NULL): the api's
 * processing jobs then reach this run's classifier. Stopped by
 * h_teardown if the test does not stop it. */
static inline void
h_start_api (tk_test_service_t *svc, const char *admin_key, const char *const *extra)
{
   char admin[256];
   snprintf (admin, sizeof admin, "TRIAGE_ADMIN_KEY=%s", admin_key);
   const char *env[H_MAX_ENV];
   size_t n = 0;
   env[n++] = h.env_db;
   env[n++] = h.env_brokers;
   env[n++] = h.env_mongo;
   env[n++] = h.env_tc;
   env[n++] = admin;
   for (size_t i = 0; extra && extra[i] && n < H_MAX_ENV - 1; i++) {
      env[n++] = extra[i];
   }
   env[n] = NULL;
   assert_true (tk_test_service_start (svc, "api", env, 20000));
   h.started[h.n_started++] = svc;
}

/* Stops svc with SIGTERM and asserts a clean exit. */
static inline void
h_stop_classifier (tk_test_service_t *svc)
{
   int rc = tk_test_service_stop (svc, SIGTERM, 30000);
   if (rc != 0) {
      tk_test_service_dump_log (svc);
      fail_msg ("the classifier exited with %d after SIGTERM", rc);
   }
}

static inline void
h_pump (int ms)
{
   bool never = false;
   tk_test_run_until (&h.loop, &never, (uint64_t) ms);
}

/* Inserts n tickets "<prefix>-<i>" whose body is body followed by
 * " (ticket <i>)". */
static inline void
h_insert_many (const char *prefix, size_t n, const char *subject, const char *body_text)
{
   size_t done = 0;
   while (done < n) {
      size_t k = n - done > 500 ? 500 : n - done;
      tk_ticket_t **ts = calloc (k, sizeof *ts);
      for (size_t i = 0; i < k; i++) {
         char id[64], body[1024];
         snprintf (id, sizeof id, "%s-%zu", prefix, done + i);
         snprintf (body, sizeof body, "%s (ticket %zu)", body_text, done + i);
         ts[i] = tk_ticket_new ();
         ts[i]->id = strdup (id);
         ts[i]->subject = strdup (subject);
         ts[i]->body = strdup (body);
      }
      tk_insert_result_t res;
      tk_error_t err;
      assert_true (tk_store_insert_tickets (h.store, ts, k, &res, &err));
      assert_int_equal (res.n_stored, k);
      tk_insert_result_cleanup (&res);
      for (size_t i = 0; i < k; i++) {
         tk_ticket_destroy (ts[i]);
      }
      free (ts);
      done += k;
   }
}

/* Inserts one unprocessed ticket. */
static inline void
h_insert (const char *id, const char *subject, const char *body)
{
   tk_ticket_t *t = tk_ticket_new ();
   t->id = strdup (id);
   t->subject = strdup (subject);
   t->body = strdup (body);
   tk_insert_result_t res;
   tk_error_t err;
   assert_true (tk_store_insert_tickets (h.store, &t, 1, &res, &err));
   assert_int_equal (res.n_stored, 1);
   tk_insert_result_cleanup (&res);
   tk_ticket_destroy (t);
}

static inline void
h_on_delivered (tk_kafka_producer_t *p, const tk_kafka_delivery_t *d, void *opaque)
{
   (void) p;
   (void) opaque;
   if (d->code == 0) {
      h.delivered++;
   } else {
      h.delivery_failed++;
   }
}

/* Produces classification requests for "<prefix>-<first..first+n-1>" and
 * waits until the broker has every one. */
static inline void
h_request_many (const char *prefix, size_t first, size_t n, const char *reason)
{
   size_t before = h.delivered;
   for (size_t i = first; i < first + n; i++) {
      char id[64], msg[256];
      snprintf (id, sizeof id, "%s-%zu", prefix, i);
      snprintf (msg, sizeof msg,
                "{\"id\":\"%s\",\"reason\":\"%s\",\"requested_at\":\"2025-01-01T00:00:00Z\"}", id,
                reason);
      tk_error_t err;
      while (!tk_kafka_produce (h.producer, h.classify, id, strlen (id), msg, strlen (msg),
                                h_on_delivered, NULL, &err)) {
         assert_int_equal (err.code, RD_KAFKA_RESP_ERR__QUEUE_FULL);
         h_pump (10);
      }
   }
   uint64_t deadline = tk_test_now_ms () + 30000;
   while (h.delivered < before + n && tk_test_now_ms () < deadline) {
      h_pump (10);
   }
   assert_int_equal (h.delivery_failed, 0);
   assert_int_equal (h.delivered, before + n);
}

/* Produces one classification request for id and waits until the broker
 * has it. */
static inline void
h_request (const char *id, const char *reason)
{
   char msg[1024];
   int len = snprintf (msg, sizeof msg,
                       "{\"id\":\"%s\",\"reason\":\"%s\",\"requested_at\":"
                       "\"2025-01-01T00:00:00Z\"}",
                       id, reason);
   assert_true (len > 0 && (size_t) len < sizeof msg);
   tk_error_t err;
   size_t before = h.delivered;
   assert_true (tk_kafka_produce (h.producer, h.classify, id, strlen (id), msg, strlen (msg),
                                  h_on_delivered, NULL, &err));
   uint64_t deadline = tk_test_now_ms () + 20000;
   while (h.delivered == before && h.delivery_failed == 0 && tk_test_now_ms () < deadline) {
      h_pump (20);
   }
   assert_int_equal (h.delivery_failed, 0);
   assert_int_equal (h.delivered, before + 1);
}

static inline tk_ticket_t *
h_get (const char *id)
{
   tk_ticket_t *t = NULL;
   tk_error_t err;
   assert_true (tk_store_get_ticket (h.store, id, &t, &err));
   return t;
}

static int64_t
h_processed_count (void)
{
   tk_processing_stats_t st;
   tk_error_t err;
   memset (&st, 0, sizeof st);
   assert_true (tk_store_get_processing_stats (h.store, &st, &err));
   int64_t n = st.processed;
   return n;
}

/* Asserts that stored ticket t is processed with a valid classification
 * (the default taxonomy's labels), confidences in 0..1 and complete
 * processing metadata; the model_version's value is the caller's to check. */
static inline void
h_assert_classified (const tk_ticket_t *t)
{
   tk_error_t err;
   assert_true (t->processed);
   if (!tk_taxonomy_validate_classification (tk_taxonomy_default (), &t->classification, &err)) {
      fail_msg ("ticket %s: %s", t->id, err.message);
   }
   assert_true (t->confidence.topic >= 0 && t->confidence.topic <= 1);
   assert_true (t->confidence.priority >= 0 && t->confidence.priority <= 1);
   assert_non_null (t->metadata.model_version);
   assert_non_null (t->metadata.agent_version);
   assert_true (t->metadata.processed_at > 0);
   assert_true (t->metadata.processing_time_ms >= 0);
}

/* Waits (pumping the output consumer) until `want` tickets are processed. */
static inline bool
h_wait_processed (int64_t want, int timeout_ms)
{
   uint64_t deadline = tk_test_now_ms () + (uint64_t) timeout_ms;
   while (tk_test_now_ms () < deadline) {
      if (h_processed_count () >= want) {
         return true;
      }
      h_pump (1000);
   }
   return false;
}

/* How many messages about id are on topic (classified or DLQ) so far. */
static inline size_t
h_seen_count (const char *topic, const char *id)
{
   size_t n = 0;
   char needle[96];
   snprintf (needle, sizeof needle, "\"id\":\"%s\"", id);
   for (size_t i = 0; i < h.n_seen; i++) {
      if (strcmp (h.seen[i].topic, topic) == 0 && strstr (h.seen[i].payload, needle)) {
         n++;
      }
   }
   return n;
}

/* The first message on topic whose "id" is id, parsed; NULL if none so far.
 * Caller frees with cJSON_Delete. */
static inline cJSON *
h_find_seen (const char *topic, const char *id)
{
   for (size_t i = 0; i < h.n_seen; i++) {
      if (strcmp (h.seen[i].topic, topic) != 0) {
         continue;
      }
      cJSON *o = cJSON_Parse (h.seen[i].payload);
      const cJSON *jid = cJSON_GetObjectItemCaseSensitive (o, "id");
      if (cJSON_IsString (jid) && strcmp (jid->valuestring, id) == 0) {
         return o;
      }
      cJSON_Delete (o);
   }
   return NULL;
}

/* Waits until ticket id is processed (or, with want_failure, has a failure
 * recorded) and its message is on the classified (or DLQ) topic; returns
 * the stored ticket (caller frees). Fails the test, with svc's log, after
 * timeout_ms. */
static inline tk_ticket_t *
h_wait_outcome (const tk_test_service_t *svc, const char *id, bool want_failure, int timeout_ms)
{
   const char *topic = want_failure ? h.dlq : h.classified;
   uint64_t deadline = tk_test_now_ms () + (uint64_t) timeout_ms;
   while (tk_test_now_ms () < deadline) {
      h_pump (100);
      tk_ticket_t *t = h_get (id);
      bool stored = want_failure ? t->processing_attempts > 0 : t->processed;
      cJSON *m = stored ? h_find_seen (topic, id) : NULL;
      if (m) {
         cJSON_Delete (m);
         return t;
      }
      tk_ticket_destroy (t);
   }
   tk_test_service_dump_log (svc);
   fail_msg ("ticket %s: no %s outcome within %d ms", id, want_failure ? "DLQ" : "classified",
             timeout_ms);
   return NULL;
}

/* GET url; asserts 200 and returns the body (caller frees). */
static inline char *
h_http_get (const char *url)
{
   tk_test_http_response_t r;
   assert_true (tk_test_http ("GET", url, NULL, 0, NULL, &r));
   assert_int_equal (r.status, 200);
   return r.body;
}

/* The fake's request log (caller frees with cJSON_Delete). */
static inline cJSON *
h_fake_requests (const tk_test_service_t *fake)
{
   char url[256];
   snprintf (url, sizeof url, "%s/_fake/received", fake->base_url);
   char *body = h_http_get (url);
   cJSON *o = cJSON_Parse (body);
   free (body);
   assert_non_null (o);
   return o;
}

static inline void
h_fake_post (const tk_test_service_t *fake, const char *path)
{
   char url[256];
   snprintf (url, sizeof url, "%s%s", fake->base_url, path);
   tk_test_http_response_t r;
   assert_true (tk_test_http ("POST", url, "", 0, NULL, &r));
   assert_int_equal (r.status, 200);
   tk_test_http_free (&r);
}

/* The value of the first /metrics sample whose line starts with `series`
 * (a name, or a name with its labels as Prometheus prints them); -1 if none. */
static inline double
h_metric (const tk_test_service_t *svc, const char *series)
{
   char url[256];
   snprintf (url, sizeof url, "%s", svc->metrics_url);
   char *body = h_http_get (url);
   double v = -1;
   size_t n = strlen (series);
   for (char *line = body; line && *line;) {
      char *nl = strchr (line, '\n');
      if (strncmp (line, series, n) == 0 && (line[n] == ' ' || line[n] == '{')) {
         char *sp = strrchr (line, ' ');
         if (nl) {
            *nl = '\0';
            sp = strrchr (line, ' ');
         }
         v = sp ? strtod (sp + 1, NULL) : -1;
         break;
      }
      line = nl ? nl + 1 : NULL;
   }
   free (body);
   return v;
}

/* The whole /metrics text (caller frees). */
static inline char *
h_metrics_text (const tk_test_service_t *svc)
{
   char url[256];
   snprintf (url, sizeof url, "%s", svc->metrics_url);
   return h_http_get (url);
}

#endif
