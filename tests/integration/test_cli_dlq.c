/* triagectl dlq against a real api, Kafka and MongoDB-protocol server. The
 * test's own DLQ topic gets what the services write there (built with
 * messages.h, the one builder): a ticket the classifier gave up on, an
 * inbound message ingest refused (no ticket), and a message that is no DLQ
 * record at all. list shows all three newest first (and audits the read),
 * show prints one with its original message, replay of the ticket's entry
 * republishes its classification request, replay of the refused message
 * is refused with the reason and sends nothing, a DLQ topic that does not
 * exist yet lists nothing, and a viewer key gets 403. */
#include "test_support.h"

#include "api_fixture.h"
#include "cli_run.h"
#include "kafka.h"
#include "kafka_io.h"
#include "messages.h"
#include "timeutil.h"

#include <cjson/cJSON.h>
#include <mongoc/mongoc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ADMIN_KEY TRIAGE_TEST_ADMIN_KEY /* random per build: tests/CMakeLists.txt */

static tk_api_fx_t fx;
static char dlq_topic[96];
static char out[1 << 18], err[1 << 16];

/* `triagectl dlq ARGS` against the fixture's api with key. */
static int
dlq (const char *key, const char *args)
{
   return tk_test_triagectl_api ("dlq", fx.svc.base_url, key, args, out, sizeof out, err,
                                 sizeof err);
}

/* `triagectl dlq ARGS` with the admin key; fails the test unless it exits
 * 0. */
static void
dlq_ok (const char *args)
{
   int rc = dlq (ADMIN_KEY, args);
   if (rc != 0) {
      fail_msg ("dlq %s: exit %d: %s", args, rc, err);
   }
}

/* dlq_ok of args (with --json), its stdout parsed; the caller deletes it. */
static cJSON *
dlq_json (const char *args)
{
   dlq_ok (args);
   cJSON *doc = cJSON_Parse (out);
   assert_non_null (doc);
   return doc;
}

/* Produces the record of f to the DLQ topic. */
static void
put_record (rd_kafka_t *rk, const tk_msg_dlq_fields_t *f)
{
   tk_error_t e;
   size_t len;
   char *text = tk_msg_dlq_build (f, &len, &e);
   assert_non_null (text);
   tk_test_kafka_produce (rk, dlq_topic, f->id, f->id ? strlen (f->id) : 0, text, len);
   free (text);
}

/* Entry 0:0, the classifier's; 0:1, ingest's refused message; 0:2, not a
 * DLQ record. One partition, produced in that order (the same moment is
 * listed in offset order, newest first). */
static void
fill_dlq (void)
{
   const char *request = "{\"id\":\"D-FAIL\",\"reason\":\"ingest\","
                         "\"requested_at\":\"2026-01-01T00:00:00Z\"}";
   const char *refused = "{\"subject\": \"no id, no body\"";
   int64_t now = tk_time_now_ms ();
   rd_kafka_t *rk = tk_test_kafka_producer_new ();
   put_record (rk, &(tk_msg_dlq_fields_t) {.id = "D-FAIL",
                                           .error = "openai: HTTP 401: invalid api key",
                                           .attempts = 4,
                                           .failed_at = now - 2000,
                                           .provider = "openai",
                                           .message = request,
                                           .message_len = strlen (request),
                                           .encoding = TK_MSG_DLQ_JSON});
   put_record (rk, &(tk_msg_dlq_fields_t) {.error = "malformed: not JSON",
                                           .attempts = 1,
                                           .failed_at = now - 1000,
                                           .source_topic = "tickets.inbound",
                                           .source_partition = 0,
                                           .source_offset = 7,
                                           .message = refused,
                                           .message_len = strlen (refused),
                                           .encoding = TK_MSG_DLQ_TEXT});
   tk_test_kafka_produce (rk, dlq_topic, NULL, 0, "hello", 5);
   tk_test_kafka_producer_finish (rk);
}

static int
setup (void **state)
{
   *state = &fx;
   tk_error_t e;
   if (!tk_api_fx_setup (&fx, "triage_test_clidlq", "test.clidlq.classify", ADMIN_KEY)) {
      return -1;
   }
   tk_test_unique_name ("test.clidlq.dlq", dlq_topic, sizeof dlq_topic);
   const char *names[] = {dlq_topic};
   assert_true (tk_kafka_create_topics (tk_test_kafka_brokers (), NULL, names, 1, 1, -1, 20000,
                                        &e));
   char env_dlq[160];
   snprintf (env_dlq, sizeof env_dlq, "TRIAGE_TOPIC_DLQ=%s", dlq_topic);
   const char *extra[] = {env_dlq, NULL};
   if (!tk_api_fx_start (&fx, &fx.svc, "api", extra)) {
      return -1;
   }
   tk_api_fx_seed (&fx, "D-FAIL", "Login broken", "SSO fails for every user since 9:00.",
                   1764000000000);
   fill_dlq ();
   return 0;
}

static int
teardown (void **state)
{
   tk_error_t e;
   const char *names[] = {dlq_topic};
   tk_kafka_delete_topics (tk_test_kafka_brokers (), NULL, names, 1, 20000, &e);
   return tk_api_fx_group_teardown (state);
}

static void
test_list_newest_first (void **state)
{
   (void) state;
   dlq_ok ("list");
   char head[160];
   snprintf (head, sizeof head, "3 of 3 dead letters in %s, newest first", dlq_topic);
   assert_non_null (strstr (out, head));
   char *e2 = strstr (out, "\n0:2 "), *e1 = strstr (out, "\n0:1 "), *e0 = strstr (out, "\n0:0 ");
   assert_true (e2 && e1 && e0 && e2 < e1 && e1 < e0);
   assert_non_null (strstr (e0, "classifier"));
   assert_non_null (strstr (e0, "D-FAIL"));
   assert_non_null (strstr (e0, "invalid api key"));
   assert_non_null (strstr (e1, "ingest"));

   cJSON *doc = dlq_json ("list --limit 2 --json");
   cJSON *items = cJSON_GetObjectItem (doc, "items");
   assert_int_equal (cJSON_GetArraySize (items), 2);
   assert_string_equal (tk_api_fx_str (cJSON_GetArrayItem (items, 0), "entry"), "0:2");
   assert_string_equal (tk_api_fx_str (cJSON_GetArrayItem (items, 0), "origin"), "unknown");
   assert_string_equal (tk_api_fx_str (cJSON_GetArrayItem (items, 1), "entry"), "0:1");
   assert_true (cJSON_IsNull (cJSON_GetObjectItem (cJSON_GetArrayItem (items, 1), "id")));
   assert_int_equal ((int) tk_api_fx_num (doc, "retained"), 3);
   cJSON_Delete (doc);

   /* The reads are in the audit log. */
   mongoc_collection_t *audit = tk_api_fx_collection (&fx, "audit_log");
   bson_t *filter = BCON_NEW ("action", BCON_UTF8 ("dlq.list"));
   bson_error_t be;
   int64_t n = mongoc_collection_count_documents (audit, filter, NULL, NULL, NULL, &be);
   bson_destroy (filter);
   tk_api_fx_collection_release (&fx, audit);
   assert_int_equal (n, 2);
}

static void
test_show_one (void **state)
{
   (void) state;
   dlq_ok ("show 0:1");
   assert_non_null (strstr (out, "origin          ingest"));
   assert_non_null (strstr (out, "malformed: not JSON"));
   assert_non_null (strstr (out, "{\"subject\": \"no id, no body\""));
   assert_non_null (strstr (out, "not_replayable"));

   cJSON *doc = dlq_json ("show 0:0 --json");
   assert_string_equal (tk_api_fx_str (doc, "id"), "D-FAIL");
   assert_string_equal (tk_api_fx_str (doc, "provider"), "openai");
   assert_string_equal (tk_api_fx_str (cJSON_GetObjectItem (doc, "message"), "id"), "D-FAIL");
   cJSON_Delete (doc);

   assert_int_equal (dlq (ADMIN_KEY, "show 0:9"), 1);
   assert_non_null (strstr (err, "HTTP 404"));
}

static void
test_replay (void **state)
{
   (void) state;
   /* The refused inbound message has no ticket: refused, nothing sent. */
   assert_int_equal (dlq (ADMIN_KEY, "replay 0:1 --no-wait"), 1);
   assert_non_null (strstr (err, "entry 0:1 cannot be replayed"));
   assert_non_null (strstr (err, "publish it again"));

   /* The ticket's entry: its classification request goes out again. */
   dlq_ok ("replay 0:0 --no-wait");
   assert_non_null (strstr (out, "started: requested 1"));
   cJSON *sent = tk_test_kafka_read_until (fx.topic, 3, 1);
   assert_int_equal (cJSON_GetArraySize (sent), 1);
   cJSON *req = cJSON_GetArrayItem (sent, 0);
   assert_string_equal (tk_api_fx_str (req, "id"), "D-FAIL");
   assert_non_null (tk_api_fx_str (req, "job_id"));
   cJSON_Delete (sent);
}

/* An api whose DLQ topic does not exist yet (nothing ever failed) lists
 * nothing, and does not create it. */
static void
test_no_topic_yet (void **state)
{
   (void) state;
   char topic[96], env_dlq[160];
   tk_test_unique_name ("test.clidlq.none", topic, sizeof topic);
   snprintf (env_dlq, sizeof env_dlq, "TRIAGE_TOPIC_DLQ=%s", topic);
   const char *extra[] = {env_dlq, NULL};
   tk_test_service_t other;
   assert_true (tk_api_fx_start (&fx, &other, "api", extra));
   int rc = tk_test_triagectl_api ("dlq", other.base_url, ADMIN_KEY, "list --json", out,
                                   sizeof out, err, sizeof err);
   assert_int_equal (tk_api_fx_stop (&other), 0);
   if (rc != 0) {
      fail_msg ("exit %d: %s", rc, err);
   }
   cJSON *doc = cJSON_Parse (out);
   assert_non_null (doc);
   assert_int_equal ((int) tk_api_fx_num (doc, "partitions"), 0);
   assert_int_equal (cJSON_GetArraySize (cJSON_GetObjectItem (doc, "items")), 0);
   cJSON_Delete (doc);
   tk_error_t e;
   const char *names[] = {topic};
   tk_kafka_delete_topics (tk_test_kafka_brokers (), NULL, names, 1, 20000, &e);
}

static void
test_viewer_refused (void **state)
{
   (void) state;
   tk_api_fx_make_role_keys (&fx);
   assert_int_equal (dlq (fx.viewer_key, "list"), 1);
   assert_non_null (strstr (err, "HTTP 403"));
   assert_int_equal (dlq (fx.viewer_key, "replay D-FAIL --no-wait"), 1);
   assert_non_null (strstr (err, "HTTP 403"));
   assert_int_equal (dlq (ADMIN_KEY, "replay"), 2);
}

int
main (void)
{
   const struct CMUnitTest tests[] = {
      cmocka_unit_test (test_list_newest_first),
      cmocka_unit_test (test_show_one),
      cmocka_unit_test (test_replay),
      cmocka_unit_test (test_no_topic_yet),
      cmocka_unit_test (test_viewer_refused),
   };
   return cmocka_run_group_tests (tests, setup, teardown);
}
