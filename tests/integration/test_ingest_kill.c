/* An inbound offset is committed only once the classification request of
 * its ticket is delivered, so a SIGKILL between storing a ticket and
 * delivering its request never leaves the ticket unclassified for good.
 *
 * The request is made undeliverable for real: triage-ingest is pointed at a
 * classify topic that does not exist yet (the broker does not create topics
 * by itself), so librdkafka fails each attempt with an unknown topic and
 * ingest retries it. The test reads the group's committed offsets from the
 * broker while that goes on, then creates the topic and watches the offset
 * become committed (or, in the second test, SIGKILLs ingest first and
 * watches the next run read the message again and request the ticket). An
 * upload waits for its request the same way, up to a bound, and says how
 * many requests were still pending when it answered. */
#include "test_support.h"

#include "ingest_fixture.h"
#include "kafka_io.h"
#include "kafka.h"
#include "service_proc.h"

#include <cjson/cJSON.h>
#include <librdkafka/rdkafka.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static tk_ingest_fx_t fx;
static tk_test_service_t svc; /* stopped by after_each if a test failed mid-way */
static char late[128];        /* the classify topic, created only mid-test */
static char env_classify[192];
static char env_kafka[256];

static int
before_each (void **state)
{
   (void) state;
   memset (&svc, 0, sizeof svc);
   if (!tk_ingest_fx_setup (&fx, "triage_test_ingkill")) {
      return -1;
   }
   snprintf (late, sizeof late, "%s.late", fx.classify);
   snprintf (env_classify, sizeof env_classify, "TRIAGE_TOPIC_CLASSIFY=%s", late);
   /* librdkafka fails a message for a missing topic once it has waited
    * topic.metadata.propagation.max.ms (30 s by default) for it to appear. */
   snprintf (env_kafka, sizeof env_kafka,
             "TRIAGE_KAFKA_CONFIG=session.timeout.ms=6000,heartbeat.interval.ms=1000,"
             "topic.metadata.propagation.max.ms=1000");
   return 0;
}

static int
after_each (void **state)
{
   (void) state;
   if (svc.pid > 0) {
      tk_test_service_dump_log (&svc);
      tk_test_service_stop (&svc, SIGKILL, 5000);
   }
   tk_error_t err;
   const char *topics[] = {late};
   tk_kafka_delete_topics (tk_test_kafka_brokers (), NULL, topics, 1, 30000, &err);
   tk_ingest_fx_teardown (&fx);
   return 0;
}

static void
start (void)
{
   const char *extra[] = {env_classify, env_kafka, NULL};
   tk_ingest_fx_start (&fx, &svc, extra, true);
}

static void
create_late_topic (void)
{
   tk_error_t err;
   const char *topics[] = {late};
   if (!tk_kafka_create_topics (tk_test_kafka_brokers (), NULL, topics, 1, TK_FX_PARTITIONS, 1,
                                30000, &err)) {
      fail_msg ("create %s: %s", late, err.message);
   }
}

/* ---- Kafka --------------------------------------------------------------------- */

static char *
ticket_json (const char *id)
{
   char *s = NULL;
   cJSON *o = cJSON_CreateObject ();
   cJSON_AddStringToObject (o, "id", id);
   cJSON_AddStringToObject (o, "subject", "Invoice missing");
   cJSON_AddStringToObject (o, "body", "The March invoice never arrived.");
   s = cJSON_PrintUnformatted (o);
   cJSON_Delete (o);
   return s;
}

static void
publish (const char *id)
{
   rd_kafka_t *rk = tk_test_kafka_producer_new ();
   char *json = ticket_json (id);
   tk_test_kafka_produce (rk, fx.inbound, id, strlen (id), json, strlen (json));
   free (json);
   tk_test_kafka_producer_finish (rk);
}

/* Messages of the inbound topic the ingest group has committed: the sum
 * over the partitions of the committed offset (0 where none is). */
static int64_t
committed_inbound (void)
{
   char errstr[256];
   rd_kafka_conf_t *conf = rd_kafka_conf_new ();
   rd_kafka_conf_set (conf, "bootstrap.servers", tk_test_kafka_brokers (), errstr, sizeof errstr);
   rd_kafka_conf_set (conf, "group.id", fx.group, errstr, sizeof errstr);
   rd_kafka_t *rk = rd_kafka_new (RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
   assert_non_null (rk);
   rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new (TK_FX_PARTITIONS);
   for (int p = 0; p < TK_FX_PARTITIONS; p++) {
      rd_kafka_topic_partition_list_add (parts, fx.inbound, p);
   }
   rd_kafka_resp_err_t rc = rd_kafka_committed (rk, parts, 15000);
   if (rc != RD_KAFKA_RESP_ERR_NO_ERROR) {
      fail_msg ("committed offsets of %s: %s", fx.group, rd_kafka_err2str (rc));
   }
   int64_t total = 0;
   for (int i = 0; i < parts->cnt; i++) {
      assert_int_equal (parts->elems[i].err, RD_KAFKA_RESP_ERR_NO_ERROR);
      if (parts->elems[i].offset > 0) {
         total += parts->elems[i].offset;
      }
   }
   rd_kafka_topic_partition_list_destroy (parts);
   rd_kafka_destroy (rk);
   return total;
}

static int64_t
wait_committed (int64_t want)
{
   int64_t n = -1;
   uint64_t deadline = tk_test_now_ms () + 90000;
   while (tk_test_now_ms () < deadline && (n = committed_inbound ()) < want) {
      usleep (200 * 1000);
   }
   return n;
}

/* Every message on the late classify topic; called after ingest has
 * stopped, so the end of each partition is final. */
static cJSON *
classify_requests (void)
{
   cJSON *out = tk_test_kafka_read_to_end (late, TK_FX_PARTITIONS);
   char *text = cJSON_PrintUnformatted (out);
   fprintf (stderr, "classify requests: %s\n", text);
   free (text);
   return out;
}

static int
requests_for (const cJSON *reqs, const char *id)
{
   int n = 0;
   const cJSON *m;
   cJSON_ArrayForEach (m, reqs)
   {
      const cJSON *v = cJSON_GetObjectItem (m, "id");
      if (cJSON_IsString (v) && strcmp (v->valuestring, id) == 0) {
         n++;
      }
   }
   return n;
}

#define STORED_KAFKA "triage_ingest_tickets_written_total{source=\"kafka\",outcome=\"stored\"}"
#define RETRIED "triage_ingest_classify_requests_total{result=\"retried\"}"
#define DELIVERED "triage_ingest_classify_requests_total{result=\"delivered\"}"

/* Starts ingest and sends it id over Kafka while the classify topic is
 * missing: the ticket is durable, its request has failed at least once, and
 * the inbound offset is still uncommitted. */
static void
start_with_undelivered_request (const char *id)
{
   start ();
   publish (id);
   assert_int_equal (tk_ingest_fx_wait_metric (&svc, STORED_KAFKA, 1), 1);
   assert_true (tk_ingest_fx_wait_metric (&svc, RETRIED, 1) >= 1);
   assert_int_equal (committed_inbound (), 0);
}

/* ---- tests --------------------------------------------------------------------- */

static void
test_offset_is_committed_only_after_the_request_is_delivered (void **state)
{
   (void) state;
   start_with_undelivered_request ("KILL-1");

   /* An upload answers with the row stored, after waiting a bounded time
    * for its request, and says it is still pending. */
   char url[256];
   snprintf (url, sizeof url, "%s/v1/tickets", svc.base_url);
   const char *headers[] = {"Content-Type: application/json", NULL};
   char *json = ticket_json ("KILL-UP");
   tk_test_http_response_t r;
   assert_true (tk_test_http ("POST", url, json, strlen (json), headers, &r));
   free (json);
   assert_int_equal (r.status, 201);
   cJSON *rep = cJSON_Parse (r.body);
   assert_non_null (rep);
   assert_int_equal (cJSON_GetObjectItem (rep, "stored")->valueint, 1);
   assert_int_equal (cJSON_GetObjectItem (rep, "classify_pending")->valueint, 1);
   cJSON_Delete (rep);
   tk_test_http_free (&r);
   /* Still undeliverable, still not committed. */
   assert_int_equal (committed_inbound (), 0);

   /* triagectl upload tells its user the same. */
   char path[] = "/tmp/triage-kill-XXXXXX";
   int fd = mkstemp (path);
   assert_true (fd >= 0);
   json = ticket_json ("KILL-CLI");
   FILE *f = fdopen (fd, "w");
   assert_non_null (f);
   fprintf (f, "%s\n", json);
   fclose (f);
   free (json);
   char cmd[1024];
   snprintf (cmd, sizeof cmd, "%s/triagectl upload --format ndjson --quiet --url '%s' '%s' 2>&1",
             TRIAGE_BIN_DIR, svc.base_url, path);
   char out[2048];
   int st = tk_test_shell (cmd, out, sizeof out);
   unlink (path);
   if (!strstr (out, "1 rows: 1 stored") ||
       !strstr (out, "1 stored row(s) still wait for their classification request")) {
      fail_msg ("triagectl upload printed:\n%s", out);
   }
   assert_int_equal (st, 0);

   create_late_topic ();
   assert_int_equal (wait_committed (1), 1);
   assert_true (tk_ingest_fx_wait_metric (&svc, DELIVERED, 2) >= 2);

   /* Once deliveries go through, an upload's answer waits for its own. */
   json = ticket_json ("KILL-UP2");
   assert_true (tk_test_http ("POST", url, json, strlen (json), headers, &r));
   free (json);
   assert_int_equal (r.status, 201);
   rep = cJSON_Parse (r.body);
   assert_non_null (rep);
   assert_int_equal (cJSON_GetObjectItem (rep, "classify_pending")->valueint, 0);
   cJSON_Delete (rep);
   tk_test_http_free (&r);
   tk_ingest_fx_stop (&svc);

   cJSON *reqs = classify_requests ();
   assert_int_equal (requests_for (reqs, "KILL-1"), 1);
   assert_int_equal (requests_for (reqs, "KILL-UP"), 1);
   assert_int_equal (requests_for (reqs, "KILL-UP2"), 1);
   assert_int_equal (requests_for (reqs, "KILL-CLI"), 1);
   assert_int_equal (cJSON_GetArraySize (reqs), 4);
   cJSON_Delete (reqs);
   assert_int_equal (tk_ingest_fx_count (&fx), 4);
}

static void
test_sigkill_before_delivery_is_requested_by_the_next_run (void **state)
{
   (void) state;
   start_with_undelivered_request ("KILL-2");
   assert_int_equal (tk_test_service_stop (&svc, SIGKILL, 10000), 128 + SIGKILL);
   /* What the killed run left: the ticket stored, unprocessed, no request. */
   tk_processing_stats_t st;
   tk_error_t err;
   assert_true (tk_store_get_processing_stats (fx.store, &st, &err));
   assert_int_equal (st.total, 1);
   assert_int_equal (st.processed, 0);
   assert_int_equal (committed_inbound (), 0);

   create_late_topic ();
   start ();
   assert_int_equal (wait_committed (1), 1);
   tk_ingest_fx_stop (&svc);
   cJSON *reqs = classify_requests ();
   assert_int_equal (requests_for (reqs, "KILL-2"), 1);
   assert_int_equal (cJSON_GetArraySize (reqs), 1);
   cJSON_Delete (reqs);
   assert_int_equal (tk_ingest_fx_count (&fx), 1);
}

int
main (void)
{
   const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown (test_offset_is_committed_only_after_the_request_is_delivered,
                                       before_each, after_each),
      cmocka_unit_test_setup_teardown (test_sigkill_before_delivery_is_requested_by_the_next_run,
                                       before_each, after_each),
   };
   return cmocka_run_group_tests (tests, NULL, NULL);
}
