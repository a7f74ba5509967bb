/* triage-ingest as a user runs it, against the real Kafka broker and the
 * real MongoDB-protocol server: uploads with mixed good and bad rows, the
 * same ticket through Kafka and HTTP, malformed messages to the DLQ,
 * classification requests, and a SIGKILL in the middle of a Kafka backlog.
 * Each test gets its own database and topics. */
#include "test_support.h"

#include "kafka.h"
#include "kafka_io.h"
#include "service_proc.h"
#include "store.h"

#include <cjson/cJSON.h>
#include <librdkafka/rdkafka.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PARTITIONS 3

typedef struct {
   char db[64];
   char inbound[96], classify[96], dlq[96], group[96];
   char env_db[128], env_in[160], env_cl[160], env_dlq[160], env_group[160];
   char env_brokers[256], env_mongo[256];
   const char *env[16];
   size_t n_env;
   tk_store_t *store;
} fixture_t;

static fixture_t fx;

static void
env_add (const char *kv)
{
   fx.env[fx.n_env++] = kv;
   fx.env[fx.n_env] = NULL;
}

static int
setup (void **state)
{
   (void) state;
   memset (&fx, 0, sizeof fx);
   tk_error_t err;
   tk_test_unique_name ("triage_test_ingest", fx.db, sizeof fx.db);
   snprintf (fx.env_db, sizeof fx.env_db, "TRIAGE_MONGO_DB=%s", fx.db);
   snprintf (fx.env_brokers, sizeof fx.env_brokers, "TRIAGE_KAFKA_BROKERS=%s",
             tk_test_kafka_brokers ());
   snprintf (fx.env_mongo, sizeof fx.env_mongo, "TRIAGE_MONGO_URI=%s", tk_test_mongo_uri ());
   env_add (fx.env_db);
   env_add (fx.env_in);
   env_add (fx.env_cl);
   env_add (fx.env_dlq);
   env_add (fx.env_group);
   env_add (fx.env_brokers);
   env_add (fx.env_mongo);
   env_add ("TRIAGE_AUTH=off");
   /* A killed member must leave the group quickly for the restart test. */
   env_add ("TRIAGE_KAFKA_CONFIG=session.timeout.ms=6000,heartbeat.interval.ms=1000");
   fx.store = tk_store_new (tk_test_mongo_uri (), fx.db, 2, &err);
   return fx.store ? 0 : -1;
}

static int
teardown (void **state)
{
   (void) state;
   tk_error_t err;
   if (fx.store) {
      tk_store_drop_database (fx.store, &err);
   }
   tk_store_destroy (fx.store);
   return 0;
}

/* Each test starts from an empty collection and its own topics. */
static int
before_each (void **state)
{
   (void) state;
   tk_error_t err;
   char base[64];
   tk_test_unique_name ("triage_test_ingest", base, sizeof base);
   snprintf (fx.inbound, sizeof fx.inbound, "%s.inbound", base);
   snprintf (fx.classify, sizeof fx.classify, "%s.classify", base);
   snprintf (fx.dlq, sizeof fx.dlq, "%s.dlq", base);
   snprintf (fx.group, sizeof fx.group, "%s.group", base);
   snprintf (fx.env_in, sizeof fx.env_in, "TRIAGE_TOPIC_INBOUND=%s", fx.inbound);
   snprintf (fx.env_cl, sizeof fx.env_cl, "TRIAGE_TOPIC_CLASSIFY=%s", fx.classify);
   snprintf (fx.env_dlq, sizeof fx.env_dlq, "TRIAGE_TOPIC_DLQ=%s", fx.dlq);
   snprintf (fx.env_group, sizeof fx.env_group, "TRIAGE_KAFKA_GROUP=%s", fx.group);
   const char *topics[] = {fx.inbound, fx.classify, fx.dlq};
   if (!tk_kafka_create_topics (tk_test_kafka_brokers (), NULL, topics, 3, PARTITIONS, 1, 30000,
                                &err)) {
      fprintf (stderr, "create topics: %s\n", err.message);
      return -1;
   }
   assert_true (tk_store_drop_database (fx.store, &err));
   assert_true (tk_store_ensure_indexes (fx.store, &err));
   return 0;
}

static int
after_each (void **state)
{
   (void) state;
   tk_error_t err;
   const char *topics[] = {fx.inbound, fx.classify, fx.dlq};
   tk_kafka_delete_topics (tk_test_kafka_brokers (), NULL, topics, 3, 30000, &err);
   return 0;
}

/* The value of one series on the service's /metrics, -1 if absent. */
static double
metric (const tk_test_service_t *svc, const char *series)
{
   char url[256];
   snprintf (url, sizeof url, "%s", svc->metrics_url);
   tk_test_http_response_t r;
   assert_true (tk_test_http ("GET", url, NULL, 0, NULL, &r));
   double v = -1;
   for (char *line = strtok (r.body, "\n"); line; line = strtok (NULL, "\n")) {
      size_t n = strlen (series);
      if (strncmp (line, series, n) == 0 && line[n] == ' ') {
         v = strtod (line + n + 1, NULL);
      }
   }
   tk_test_http_free (&r);
   return v;
}

/* Polls a series until it reaches want (or 60 s pass); returns the last value. */
static double
wait_metric (const tk_test_service_t *svc, const char *series, double want)
{
   double v = -1;
   for (int i = 0; i < 600 && (v = metric (svc, series)) < want; i++) {
      usleep (100 * 1000);
   }
   return v;
}

static void
start_ingest (tk_test_service_t *svc, const char *extra1, const char *extra2)
{
   const char *env[20];
   size_t n = 0;
   for (; fx.env[n]; n++) {
      env[n] = fx.env[n];
   }
   if (extra1) {
      env[n++] = extra1;
   }
   if (extra2) {
      env[n++] = extra2;
   }
   env[n] = NULL;
   assert_true (tk_test_service_start (svc, "ingest", env, 20000));
   if (!tk_test_service_wait_ready (svc, 30000)) {
      tk_test_service_dump_log (svc);
      fail_msg ("triage-ingest never became ready");
   }
}

static void
stop_ingest (tk_test_service_t *svc)
{
   int rc = tk_test_service_stop (svc, SIGTERM, 20000);
   if (rc != 0) {
      tk_test_service_dump_log (svc);
   }
   assert_int_equal (rc, 0);
}

static int64_t
count_tickets (void)
{
   tk_processing_stats_t st;
   tk_error_t err;
   assert_true (tk_store_get_processing_stats (fx.store, &st, &err));
   return st.total;
}

static bool
ticket_stored (const char *id, tk_ticket_t **out)
{
   tk_error_t err;
   tk_ticket_t *t = NULL;
   bool ok = tk_store_get_ticket (fx.store, id, &t, &err);
   if (out) {
      *out = t;
   } else {
      tk_ticket_destroy (t);
   }
   return ok;
}

/* Polls until the collection holds want tickets (or 60 s pass). */
static int64_t
wait_count (int64_t want)
{
   int64_t n = 0;
   for (int i = 0; i < 600; i++) {
      if ((n = count_tickets ()) >= want) {
         return n;
      }
      usleep (100 * 1000);
   }
   return n;
}

static char *
read_file (const char *rel, size_t *len)
{
   char path[1024];
   snprintf (path, sizeof path, "%s/%s", TRIAGE_SOURCE_DIR, rel);
   return tk_test_read_file (path, len);
}

static cJSON *
post (const tk_test_service_t *svc, const char *query, const char *ctype, const char *body,
      size_t len, long *status)
{
   char url[256], hdr[128];
   snprintf (url, sizeof url, "%s/v1/tickets%s", svc->base_url, query ? query : "");
   snprintf (hdr, sizeof hdr, "Content-Type: %s", ctype);
   const char *headers[] = {hdr, NULL};
   tk_test_http_response_t r;
   assert_true (tk_test_http ("POST", url, body, len, headers, &r));
   *status = r.status;
   cJSON *json = cJSON_Parse (r.body);
   if (!json) {
      fprintf (stderr, "not JSON: %s\n", r.body);
   }
   tk_test_http_free (&r);
   return json;
}

/* The result row for a given line of the upload. */
static const cJSON *
row_at_line (const cJSON *report, int line)
{
   const cJSON *row;
   cJSON_ArrayForEach (row, cJSON_GetObjectItem (report, "results"))
   {
      if (cJSON_GetObjectItem (row, "line")->valueint == line) {
         return row;
      }
   }
   fail_msg ("no result for line %d", line);
   return NULL;
}

static const char *
str_of (const cJSON *obj, const char *key)
{
   const cJSON *v = cJSON_GetObjectItem (obj, key);
   return cJSON_IsString (v) ? v->valuestring : "";
}

static int
int_of (const cJSON *obj, const char *key)
{
   const cJSON *v = cJSON_GetObjectItem (obj, key);
   return cJSON_IsNumber (v) ? v->valueint : -1;
}

/* ---- Kafka helpers (plain librdkafka, blocking: test code only) ---------- */

/* One message to the inbound topic (key may be NULL). */
static void
produce (rd_kafka_t *rk, const char *key, const void *value, size_t len)
{
   tk_test_kafka_produce (rk, fx.inbound, key, key ? strlen (key) : 0, value, len);
}

/* ---- tests ------------------------------------------------------------------ */

static void
test_mixed_csv_upload_stores_exactly_the_good_rows (void **state)
{
   (void) state;
   tk_test_service_t svc;
   start_ingest (&svc, NULL, NULL);
   size_t len;
   char *csv = read_file ("tests/data/ingest/mixed.csv", &len);
   long status;

   /* A dry run reports the rows and stores nothing. */
   cJSON *dry = post (&svc, "?dry_run=true", "text/csv", csv, len, &status);
   assert_int_equal (status, 200);
   assert_true (cJSON_IsTrue (cJSON_GetObjectItem (dry, "dry_run")));
   assert_string_equal (str_of (row_at_line (dry, 2), "status"), "valid");
   assert_string_equal (str_of (row_at_line (dry, 9), "status"), "rejected");
   cJSON_Delete (dry);
   assert_int_equal (count_tickets (), 0);

   cJSON *rep = post (&svc, NULL, "text/csv", csv, len, &status);
   assert_int_equal (status, 200);
   assert_non_null (rep);
   /* Line 2: a quoted subject with a comma, a body over three lines. */
   assert_string_equal (str_of (row_at_line (rep, 2), "status"), "stored");
   assert_string_equal (str_of (row_at_line (rep, 5), "status"), "stored");
   assert_string_equal (str_of (row_at_line (rep, 6), "status"), "duplicate");
   assert_string_equal (str_of (row_at_line (rep, 6), "id"), "MIX-1");
   const cJSON *r = row_at_line (rep, 7);
   assert_string_equal (str_of (r, "status"), "rejected");
   assert_string_equal (str_of (r, "field"), "body");
   r = row_at_line (rep, 8);
   assert_string_equal (str_of (r, "reason"), "wrong_columns");
   r = row_at_line (rep, 9);
   assert_string_equal (str_of (r, "field"), "id");
   r = row_at_line (rep, 10);
   assert_string_equal (str_of (r, "field"), "created_at");
   assert_string_equal (str_of (row_at_line (rep, 11), "status"), "stored");
   assert_int_equal (int_of (rep, "stored"), 3);
   assert_int_equal (int_of (rep, "duplicates"), 1);
   assert_int_equal (int_of (rep, "rejected"), 4);
   cJSON_Delete (rep);
   free (csv);

   assert_int_equal (count_tickets (), 3);
   tk_ticket_t *t = NULL;
   assert_true (ticket_stored ("MIX-1", &t));
   assert_string_equal (t->subject, "Login fails, again");
   assert_string_equal (t->body, "line one\nline two, with a comma\nline three");
   assert_false (t->processed);
   tk_ticket_destroy (t);
   /* created_at from the row when given, now otherwise. */
   assert_true (ticket_stored ("MIX-3", &t));
   assert_int_equal (t->created_at, INT64_C (1757745527513)); /* 2025-09-13T06:38:47.513Z */
   tk_ticket_destroy (t);
   assert_true (ticket_stored ("MIX-2", &t));
   assert_true (t->created_at > INT64_C (1757745527513));
   tk_ticket_destroy (t);

   /* NDJSON and a JSON array report bad rows by line too. */
   const char *nd = "{\"id\":\"ND-1\",\"subject\":\"s\",\"body\":\"b\"}\n"
                    "{not json}\n"
                    "[1,2]\n"
                    "{\"id\":\"ND-2\",\"subject\":\"s\",\"body\":\"b\"}\n";
   rep = post (&svc, NULL, "application/x-ndjson", nd, strlen (nd), &status);
   assert_int_equal (status, 200);
   assert_string_equal (str_of (row_at_line (rep, 2), "reason"), "malformed");
   assert_string_equal (str_of (row_at_line (rep, 3), "reason"), "not_object");
   assert_int_equal (int_of (rep, "stored"), 2);
   cJSON_Delete (rep);
   const char *arr = "[{\"id\":\"AR-1\",\"subject\":\"s\",\"body\":\"b\"},\n"
                     " {\"id\":\"AR-2\",\"subject\":\"s\"}]";
   rep = post (&svc, NULL, "application/json", arr, strlen (arr), &status);
   assert_int_equal (status, 200);
   assert_string_equal (str_of (row_at_line (rep, 2), "field"), "body");
   cJSON_Delete (rep);
   assert_int_equal (count_tickets (), 6);

   /* One bad object: 422 with the field; an unknown type: 415; a body that
    * cannot be walked: 400 and nothing stored. */
   const char *one = "{\"id\":\"ONE\",\"subject\":\"s\"}";
   rep = post (&svc, NULL, "application/json", one, strlen (one), &status);
   assert_int_equal (status, 422);
   assert_string_equal (str_of (cJSON_GetObjectItem (rep, "error"), "field"), "body");
   cJSON_Delete (rep);
   rep = post (&svc, NULL, "text/plain", "hello", 5, &status);
   assert_int_equal (status, 415);
   cJSON_Delete (rep);
   const char *broken = "[{\"id\":\"BR-1\",\"subject\":\"s\",\"body\":\"b\"},";
   rep = post (&svc, NULL, "application/json", broken, strlen (broken), &status);
   assert_int_equal (status, 400);
   cJSON_Delete (rep);
   assert_false (ticket_stored ("BR-1", NULL));
   stop_ingest (&svc);
}

static void
test_body_limit_gives_413 (void **state)
{
   (void) state;
   tk_test_service_t svc;
   start_ingest (&svc, "TRIAGE_HTTP_MAX_BODY=64KB", "TRIAGE_INGEST_CONSUME=false");
   size_t len = 200 * 1024;
   char *big = malloc (len);
   assert_non_null (big);
   memset (big, ' ', len);
   big[0] = '[';
   big[len - 1] = ']';
   char url[256];
   snprintf (url, sizeof url, "%s/v1/tickets", svc.base_url);
   const char *headers[] = {"Content-Type: application/json", NULL};
   tk_test_http_response_t r;
   assert_true (tk_test_http ("POST", url, big, len, headers, &r));
   assert_int_equal (r.status, 413);
   tk_test_http_free (&r);
   free (big);
   stop_ingest (&svc);
}

static void
test_same_ticket_via_kafka_twice_and_http_once_is_stored_once (void **state)
{
   (void) state;
   tk_test_service_t svc;
   start_ingest (&svc, NULL, NULL);
   const char *ticket = "{\"id\":\"DUP-1\",\"subject\":\"Export\",\"body\":\"How do I export?\"}";
   rd_kafka_t *rk = tk_test_kafka_producer_new ();
   produce (rk, "DUP-1", ticket, strlen (ticket));
   produce (rk, "DUP-1", ticket, strlen (ticket));
   const char *other = "{\"id\":\"DUP-2\",\"subject\":\"s\",\"body\":\"b\"}";
   produce (rk, "DUP-2", other, strlen (other));
   tk_test_kafka_producer_finish (rk);
   assert_int_equal (wait_count (2), 2);
   /* Both Kafka copies were handled: one stored, one duplicate. */
   assert_int_equal (
      wait_metric (&svc, "triage_ingest_tickets_written_total{source=\"kafka\",outcome=\"duplicate\"}",
                   1),
      1);

   long status;
   cJSON *rep = post (&svc, NULL, "application/json", ticket, strlen (ticket), &status);
   assert_int_equal (status, 200);
   assert_string_equal (str_of (row_at_line (rep, 1), "status"), "duplicate");
   cJSON_Delete (rep);
   assert_int_equal (count_tickets (), 2);

   /* One classification request per stored ticket, none for duplicates. */
   assert_int_equal (
      wait_metric (&svc, "triage_ingest_classify_requests_total{result=\"delivered\"}", 2), 2);
   cJSON *reqs = tk_test_kafka_read_until (fx.classify, PARTITIONS, 2);
   assert_int_equal (cJSON_GetArraySize (reqs), 2);
   int seen1 = 0, seen2 = 0;
   const cJSON *m;
   cJSON_ArrayForEach (m, reqs)
   {
      seen1 += strcmp (str_of (m, "id"), "DUP-1") == 0;
      seen2 += strcmp (str_of (m, "id"), "DUP-2") == 0;
      assert_string_equal (str_of (m, "reason"), "ingest");
      assert_true (strlen (str_of (m, "requested_at")) > 0);
   }
   assert_int_equal (seen1, 1);
   assert_int_equal (seen2, 1);
   cJSON_Delete (reqs);
   stop_ingest (&svc);
}

static void
test_malformed_kafka_messages_land_in_the_dlq (void **state)
{
   (void) state;
   tk_test_service_t svc;
   start_ingest (&svc, NULL, NULL);
   rd_kafka_t *rk = tk_test_kafka_producer_new ();
   produce (rk, "BAD-JSON", "{this is not json", 17);
   const char *missing = "{\"id\":\"BAD-FIELD\",\"subject\":\"no body\"}";
   produce (rk, "BAD-FIELD", missing, strlen (missing));
   const char bad_utf8[] = "{\"id\":\"BAD-UTF8\",\"subject\":\"\xff\xfe\",\"body\":\"b\"}";
   produce (rk, "BAD-UTF8", bad_utf8, sizeof bad_utf8 - 1);
   const char *good = "{\"id\":\"GOOD-1\",\"subject\":\"s\",\"body\":\"b\"}";
   produce (rk, "GOOD-1", good, strlen (good));
   tk_test_kafka_producer_finish (rk);

   cJSON *dlq = tk_test_kafka_read_until (fx.dlq, PARTITIONS, 3);
   assert_int_equal (cJSON_GetArraySize (dlq), 3);
   const cJSON *m;
   int found = 0;
   cJSON_ArrayForEach (m, dlq)
   {
      const char *id = str_of (m, "id");
      assert_int_equal (int_of (m, "attempts"), 1);
      assert_true (strlen (str_of (m, "failed_at")) > 0);
      if (strcmp (id, "BAD-JSON") == 0) {
         assert_string_equal (str_of (m, "message"), "{this is not json");
         found++;
      } else if (strcmp (id, "BAD-FIELD") == 0) {
         assert_non_null (strstr (str_of (m, "error"), "body"));
         assert_string_equal (str_of (m, "message"), missing);
         found++;
      } else if (strcmp (id, "BAD-UTF8") == 0) {
         assert_non_null (strstr (str_of (m, "error"), "UTF-8"));
         assert_true (cJSON_IsNull (cJSON_GetObjectItem (m, "message")));
         assert_true (strlen (str_of (m, "message_base64")) > 0);
         found++;
      }
   }
   assert_int_equal (found, 3);
   cJSON_Delete (dlq);
   /* Consumption went on past the bad messages. */
   assert_int_equal (wait_count (1), 1);
   assert_true (ticket_stored ("GOOD-1", NULL));
   stop_ingest (&svc);
}

static void
test_sigkill_mid_backlog_then_restart_stores_all_exactly_once (void **state)
{
   (void) state;
   enum { N = 10000 }; /* issue 3: a 10,000-ticket Kafka backlog */
   rd_kafka_t *rk = tk_test_kafka_producer_new ();
   for (int i = 0; i < N; i++) {
      char id[32], body[160];
      snprintf (id, sizeof id, "KILL-%05d", i);
      int n = snprintf (body, sizeof body,
                        "{\"id\":\"%s\",\"subject\":\"Ticket %d\",\"body\":\"Body of ticket %d\"}",
                        id, i, i);
      produce (rk, id, body, (size_t) n);
   }
   tk_test_kafka_producer_finish (rk);

   tk_test_service_t svc;
   /* Small batches so the kill lands between writes. */
   start_ingest (&svc, "TRIAGE_INGEST_BATCH_SIZE=50", "TRIAGE_AUTO_CLASSIFY=false");
   int64_t seen = 0;
   for (int i = 0; i < 600 && (seen = count_tickets ()) == 0; i++) {
      usleep (10 * 1000);
   }
   assert_true (seen > 0);
   assert_int_equal (tk_test_service_stop (&svc, SIGKILL, 10000), 128 + SIGKILL);
   int64_t at_kill = count_tickets ();
   assert_true (at_kill < N); /* the kill really landed mid-backlog */

   start_ingest (&svc, "TRIAGE_INGEST_BATCH_SIZE=50", "TRIAGE_AUTO_CLASSIFY=false");
   assert_int_equal (wait_count (N), N);
   /* Nothing more arrives: every id once (the unique index forbids more,
    * and the total is exactly N). */
   stop_ingest (&svc);
   assert_int_equal (count_tickets (), N);
   tk_ticket_list_t list = {0};
   tk_error_t err;
   assert_true (tk_store_get_tickets_by_status (fx.store, false, 0, &list, &err));
   assert_int_equal (list.n, N);
   tk_ticket_list_destroy (&list);
   fprintf (stderr, "  (killed with %lld of %d stored)\n", (long long) at_kill, N);
}

static void
start_unready (tk_test_service_t *svc, const char *extra1, const char *extra2)
{
   /* The extras replace the fixture's values for the same variables. */
   const char *env[20];
   size_t n = 0;
   for (size_t i = 0; fx.env[i]; i++) {
      size_t klen = strcspn (fx.env[i], "=") + 1;
      if (strncmp (fx.env[i], extra1, klen) != 0 && strncmp (fx.env[i], extra2, klen) != 0) {
         env[n++] = fx.env[i];
      }
   }
   env[n++] = extra1;
   env[n++] = extra2;
   env[n] = NULL;
   assert_true (tk_test_service_start (svc, "ingest", env, 20000));
}

static void
test_mongo_unreachable_gives_503 (void **state)
{
   (void) state;
   tk_test_service_t svc;
   /* Nothing listens on port 1. Later settings win over the fixture's. */
   start_unready (&svc, "TRIAGE_MONGO_URI=mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=300",
                  "TRIAGE_INGEST_RETRY_AFTER=3s");
   const char *one = "{\"id\":\"DOWN-1\",\"subject\":\"s\",\"body\":\"b\"}";
   long status;
   cJSON *rep = post (&svc, NULL, "application/json", one, strlen (one), &status);
   assert_int_equal (status, 503);
   assert_string_equal (str_of (cJSON_GetObjectItem (rep, "error"), "code"), "store_unavailable");
   cJSON_Delete (rep);
   /* A dry run needs no database. */
   rep = post (&svc, "?dry_run=true", "application/json", one, strlen (one), &status);
   assert_int_equal (status, 200);
   cJSON_Delete (rep);
   assert_int_equal (tk_test_service_stop (&svc, SIGTERM, 20000), 0);
}

static void
test_kafka_unreachable_uploads_still_store (void **state)
{
   (void) state;
   tk_test_service_t svc;
   start_unready (&svc, "TRIAGE_KAFKA_BROKERS=127.0.0.1:1", "TRIAGE_INGEST_CONSUME=false");
   const char *one = "{\"id\":\"NOKAFKA-1\",\"subject\":\"s\",\"body\":\"b\"}";
   long status = 503;
   cJSON *rep = NULL;
   /* The indexes are created in the background just after start. */
   for (int i = 0; i < 100 && status == 503; i++) {
      cJSON_Delete (rep);
      rep = post (&svc, NULL, "application/json", one, strlen (one), &status);
      if (status == 503) {
         usleep (100 * 1000);
      }
   }
   assert_int_equal (status, 201);
   cJSON_Delete (rep);
   assert_true (ticket_stored ("NOKAFKA-1", NULL));
   int rc = tk_test_service_stop (&svc, SIGTERM, 30000);
   assert_true (rc == 0 || rc == 1); /* 1: the producer could not flush in time */
}

int
main (void)
{
   const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown (test_mixed_csv_upload_stores_exactly_the_good_rows, before_each, after_each),
      cmocka_unit_test_setup_teardown (test_body_limit_gives_413, before_each, after_each),
      cmocka_unit_test_setup_teardown (test_same_ticket_via_kafka_twice_and_http_once_is_stored_once,
                              before_each, after_each),
      cmocka_unit_test_setup_teardown (test_malformed_kafka_messages_land_in_the_dlq, before_each, after_each),
      cmocka_unit_test_setup_teardown (test_sigkill_mid_backlog_then_restart_stores_all_exactly_once,
                              before_each, after_each),
      cmocka_unit_test_setup_teardown (test_mongo_unreachable_gives_503, before_each, after_each),
      cmocka_unit_test_setup_teardown (test_kafka_unreachable_uploads_still_store, before_each,
                                       after_each),
   };
   return cmocka_run_group_tests (tests, setup, teardown);
}
