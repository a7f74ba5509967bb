/* TRIAGE_STORE_MASKED on the real stack: a ticket carrying an e-mail
 * address, a phone number, a card number and a password is sent to a
 * running triage-ingest by upload (JSON, CSV) and through Kafka, and to
 * triage-api's POST /api/processed-tickets; the documents are then read
 * straight from the database with libmongoc. With the setting on none of
 * the personal data is stored and the placeholders are; with it off the
 * text is stored exactly as given. The dry-run preview shows the masked
 * text that would be stored. */
#include "test_support.h"

#include "ingest_fixture.h"
#include "kafka_io.h"
#include "service_proc.h"
#include "store.h"

#include <cjson/cJSON.h>
#include <librdkafka/rdkafka.h>
#include <mongoc/mongoc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ADMIN_KEY TRIAGE_TEST_ADMIN_KEY /* random per build: tests/CMakeLists.txt */

#define EMAIL "jane.doe@example.com"
#define PHONE "+1 415 555 0134"
#define CARD "4111 1111 1111 1111"
#define PASSWORD "hunter2Secret"

/* The subject and body every path sends: PII in both fields. */
#define SUBJECT "Refund to " CARD " please"
#define BODY                                                                                       \
   "Mail me at " EMAIL " or call " PHONE ". My login is password=" PASSWORD " if you need it."

static tk_ingest_fx_t fx;

static int
before_each (void **state)
{
   (void) state;
   return tk_ingest_fx_setup (&fx, "triage_test_masked") ? 0 : -1;
}

static int
after_each (void **state)
{
   (void) state;
   tk_ingest_fx_teardown (&fx);
   return 0;
}

/* ---- reading the stored document straight from the database ------------- */

typedef struct {
   char *subject;
   char *body;
} stored_t;

static void
stored_free (stored_t *s)
{
   free (s->subject);
   free (s->body);
}

static char *
utf8_field (const bson_t *doc, const char *key)
{
   bson_iter_t it;
   assert_true (bson_iter_init_find (&it, doc, key));
   assert_true (BSON_ITER_HOLDS_UTF8 (&it));
   return strdup (bson_iter_utf8 (&it, NULL));
}

/* Polls (up to 60 s) until ticket id is stored and returns its text. */
static stored_t
read_stored (const char *id)
{
   stored_t out = {NULL, NULL};
   uint64_t deadline = tk_test_now_ms () + 60000;
   while (!out.subject && tk_test_now_ms () < deadline) {
      mongoc_client_t *client = tk_store_client_pop (fx.store);
      mongoc_collection_t *coll = mongoc_client_get_collection (client, fx.db, "tickets");
      bson_t *filter = BCON_NEW ("id", BCON_UTF8 (id));
      mongoc_cursor_t *cur = mongoc_collection_find_with_opts (coll, filter, NULL, NULL);
      const bson_t *doc;
      if (mongoc_cursor_next (cur, &doc)) {
         out.subject = utf8_field (doc, "subject");
         out.body = utf8_field (doc, "body");
      }
      bson_error_t e;
      if (mongoc_cursor_error (cur, &e)) {
         fail_msg ("find %s: %s", id, e.message);
      }
      mongoc_cursor_destroy (cur);
      bson_destroy (filter);
      mongoc_collection_destroy (coll);
      tk_store_client_push (fx.store, client);
      if (!out.subject) {
         usleep (100 * 1000);
      }
   }
   if (!out.subject) {
      fail_msg ("ticket %s was never stored", id);
   }
   return out;
}

static void
assert_masked (const char *what, const char *subject, const char *body)
{
   char all[4096];
   snprintf (all, sizeof all, "%s\n%s", subject, body);
   const char *raw[] = {EMAIL, "jane.doe", PHONE, "555 0134", CARD, "1111 1111", PASSWORD};
   for (size_t i = 0; i < sizeof raw / sizeof raw[0]; i++) {
      if (strstr (all, raw[i])) {
         fail_msg ("%s: \"%s\" is stored: %s", what, raw[i], all);
      }
   }
   const char *placeholders[] = {"[EMAIL]", "[PHONE]", "[CARD]", "[SECRET]"};
   for (size_t i = 0; i < sizeof placeholders / sizeof placeholders[0]; i++) {
      if (!strstr (all, placeholders[i])) {
         fail_msg ("%s: no %s in %s", what, placeholders[i], all);
      }
   }
   /* The rest of the text is kept. */
   assert_non_null (strstr (subject, "Refund to "));
   assert_non_null (strstr (body, "Mail me at "));
   assert_non_null (strstr (body, " if you need it."));
}

static void
assert_stored_masked (const char *id)
{
   stored_t s = read_stored (id);
   assert_masked (id, s.subject, s.body);
   stored_free (&s);
}

static void
assert_stored_as_given (const char *id)
{
   stored_t s = read_stored (id);
   assert_string_equal (s.subject, SUBJECT);
   assert_string_equal (s.body, BODY);
   stored_free (&s);
}

/* ---- sending ------------------------------------------------------------ */

static char *
ticket_json (const char *id)
{
   cJSON *o = cJSON_CreateObject ();
   cJSON_AddStringToObject (o, "id", id);
   cJSON_AddStringToObject (o, "subject", SUBJECT);
   cJSON_AddStringToObject (o, "body", BODY);
   char *s = cJSON_PrintUnformatted (o);
   cJSON_Delete (o);
   return s;
}

/* POSTs body to ingest's /v1/tickets; returns the parsed report. */
static cJSON *
upload (const tk_test_service_t *svc, const char *query, const char *content_type,
        const char *body, long want_status)
{
   char url[256], ct[128];
   snprintf (url, sizeof url, "%s/v1/tickets%s", svc->base_url, query);
   snprintf (ct, sizeof ct, "Content-Type: %s", content_type);
   const char *headers[] = {ct, NULL};
   tk_test_http_response_t r;
   assert_true (tk_test_http ("POST", url, body, strlen (body), headers, &r));
   if (r.status != want_status) {
      fprintf (stderr, "upload -> %ld %s\n", r.status, r.body);
   }
   assert_int_equal (r.status, want_status);
   cJSON *j = cJSON_Parse (r.body);
   assert_non_null (j);
   tk_test_http_free (&r);
   return j;
}

static void
upload_json_and_csv (const tk_test_service_t *svc)
{
   char *json = ticket_json ("MASK-JSON");
   cJSON *rep = upload (svc, "", "application/json", json, 201);
   cJSON_Delete (rep);
   free (json);
   /* CSV quotes the fields: the body has commas and dots. */
   const char *csv = "id,subject,body\r\nMASK-CSV,\"" SUBJECT "\",\"" BODY "\"\r\n";
   rep = upload (svc, "", "text/csv", csv, 200);
   assert_int_equal (cJSON_GetObjectItem (rep, "stored")->valueint, 1);
   cJSON_Delete (rep);
}

static void
produce_ticket (const char *id)
{
   rd_kafka_t *rk = tk_test_kafka_producer_new ();
   char *json = ticket_json (id);
   tk_test_kafka_produce (rk, fx.inbound, id, strlen (id), json, strlen (json));
   tk_test_kafka_producer_finish (rk);
   free (json);
}

/* ---- ingest --------------------------------------------------------------- */

static void
test_ingest_masked_stores_no_pii (void **state)
{
   (void) state;
   tk_test_service_t svc;
   const char *extra[] = {"TRIAGE_STORE_MASKED=true", "TRIAGE_AUTO_CLASSIFY=false", NULL};
   tk_ingest_fx_start (&fx, &svc, extra, true);

   /* The dry run previews the masked text and stores nothing. */
   char *json = ticket_json ("MASK-DRY");
   cJSON *rep = upload (&svc, "?dry_run=true", "application/json", json, 200);
   free (json);
   assert_true (cJSON_IsTrue (cJSON_GetObjectItem (rep, "store_masked")));
   cJSON *row = cJSON_GetArrayItem (cJSON_GetObjectItem (rep, "results"), 0);
   assert_string_equal (cJSON_GetObjectItem (row, "status")->valuestring, "valid");
   assert_true (cJSON_GetObjectItem (row, "masked")->valueint >= 4);
   assert_masked ("dry run", cJSON_GetObjectItem (row, "subject")->valuestring,
                  cJSON_GetObjectItem (row, "body")->valuestring);
   cJSON_Delete (rep);

   upload_json_and_csv (&svc);
   /* NDJSON too. */
   char *line = ticket_json ("MASK-NDJSON");
   rep = upload (&svc, "", "application/x-ndjson", line, 200);
   assert_int_equal (cJSON_GetObjectItem (rep, "stored")->valueint, 1);
   assert_true (cJSON_GetObjectItem (cJSON_GetArrayItem (cJSON_GetObjectItem (rep, "results"), 0),
                                     "masked")
                   ->valueint >= 4);
   cJSON_Delete (rep);
   free (line);
   produce_ticket ("MASK-KAFKA");

   assert_stored_masked ("MASK-JSON");
   assert_stored_masked ("MASK-CSV");
   assert_stored_masked ("MASK-NDJSON");
   assert_stored_masked ("MASK-KAFKA");
   assert_int_equal (tk_ingest_fx_count (&fx), 4); /* the dry run stored nothing */
   tk_ingest_fx_stop (&svc);
}

static void
test_ingest_unmasked_stores_text_as_given (void **state)
{
   (void) state;
   tk_test_service_t svc;
   const char *extra[] = {"TRIAGE_AUTO_CLASSIFY=false", NULL}; /* TRIAGE_STORE_MASKED defaults off */
   tk_ingest_fx_start (&fx, &svc, extra, true);
   char *json = ticket_json ("PLAIN-DRY");
   cJSON *rep = upload (&svc, "?dry_run=true", "application/json", json, 200);
   free (json);
   assert_true (cJSON_IsFalse (cJSON_GetObjectItem (rep, "store_masked")));
   cJSON *row = cJSON_GetArrayItem (cJSON_GetObjectItem (rep, "results"), 0);
   assert_null (cJSON_GetObjectItem (row, "masked"));
   cJSON_Delete (rep);

   upload_json_and_csv (&svc);
   produce_ticket ("MASK-KAFKA");
   assert_stored_as_given ("MASK-JSON");
   assert_stored_as_given ("MASK-CSV");
   assert_stored_as_given ("MASK-KAFKA");
   tk_ingest_fx_stop (&svc);
}

/* A refused Kafka message is logged by its place, a hash of its bytes and
 * the reason: with masking on, none of what it holds (its key, its id, the
 * value at fault, its text) reaches ingest's log, at any level. */
static void
test_refused_kafka_message_logs_no_field_value (void **state)
{
   (void) state;
   tk_test_service_t svc;
   const char *extra[] = {"TRIAGE_STORE_MASKED=true", "TRIAGE_AUTO_CLASSIFY=false",
                          "TRIAGE_LOG_LEVEL=debug", NULL};
   tk_ingest_fx_start (&fx, &svc, extra, true);
   rd_kafka_t *rk = tk_test_kafka_producer_new ();
   /* Keyed by an e-mail address; the id is one too, created_at a card number. */
   const char m1[] = "{\"id\":\"" EMAIL "\",\"subject\":\"s\",\"body\":\"b\",\"created_at\":\"" CARD
                     "\"}";
   tk_test_kafka_produce (rk, fx.inbound, EMAIL, strlen (EMAIL), m1, strlen (m1));
   /* No key; the id is the card number, the subject a password, no body. */
   const char m2[] = "{\"id\":\"" CARD "\",\"subject\":\"" PASSWORD "\"}";
   tk_test_kafka_produce (rk, fx.inbound, NULL, 0, m2, strlen (m2));
   /* Not JSON at all. */
   const char m3[] = "mail " EMAIL " password=" PASSWORD;
   tk_test_kafka_produce (rk, fx.inbound, PHONE, strlen (PHONE), m3, strlen (m3));
   tk_test_kafka_producer_finish (rk);
   assert_true (tk_ingest_fx_wait_metric (
                   &svc, "triage_ingest_tickets_rejected_total{source=\"kafka\",reason=\"invalid_field\"}",
                   2) >= 2);
   assert_true (tk_ingest_fx_wait_metric (
                   &svc, "triage_ingest_tickets_rejected_total{source=\"kafka\",reason=\"malformed\"}",
                   1) >= 1);
   tk_ingest_fx_stop (&svc);

   FILE *f = fopen (svc.log_path, "r");
   assert_non_null (f);
   char line[8192];
   size_t refusals = 0;
   const char *raw[] = {EMAIL, "jane.doe", CARD, "4111", PASSWORD, PHONE, "555 0134"};
   while (fgets (line, sizeof line, f)) {
      refusals += strstr (line, "\"component\":\"intake\"") && strstr (line, "refused");
      for (size_t i = 0; i < sizeof raw / sizeof raw[0]; i++) {
         if (strstr (line, raw[i])) {
            fail_msg ("\"%s\" is in ingest's log: %s", raw[i], line);
         }
      }
   }
   fclose (f);
   /* The refusals themselves are logged (with a reason to act on). */
   assert_true (refusals >= 3);
}

/* ---- api: POST /api/processed-tickets ------------------------------------- */

static void
api_post (bool masked, const char *id)
{
   char env_db[128], env_mongo[256], env_brokers[256], env_topic[160];
   snprintf (env_db, sizeof env_db, "TRIAGE_MONGO_DB=%s", fx.db);
   snprintf (env_mongo, sizeof env_mongo, "TRIAGE_MONGO_URI=%s", tk_test_mongo_uri ());
   snprintf (env_brokers, sizeof env_brokers, "TRIAGE_KAFKA_BROKERS=%s", tk_test_kafka_brokers ());
   snprintf (env_topic, sizeof env_topic, "TRIAGE_TOPIC_CLASSIFY=%s", fx.classify);
   const char *env[] = {env_db,
                        env_mongo,
                        env_brokers,
                        env_topic,
                        "TRIAGE_ADMIN_KEY=" ADMIN_KEY,
                        masked ? "TRIAGE_STORE_MASKED=true" : "TRIAGE_STORE_MASKED=false",
                        NULL};
   tk_test_service_t api;
   assert_true (tk_test_service_start (&api, "api", env, 20000));

   cJSON *o = cJSON_CreateObject ();
   cJSON_AddStringToObject (o, "id", id);
   cJSON_AddStringToObject (o, "subject", SUBJECT);
   cJSON_AddStringToObject (o, "body", BODY);
   cJSON *c = cJSON_AddObjectToObject (o, "classification");
   cJSON *tags = cJSON_AddArrayToObject (c, "topic_tags");
   cJSON_AddItemToArray (tags, cJSON_CreateString ("How-to"));
   cJSON_AddStringToObject (c, "sentiment", "Neutral");
   cJSON_AddStringToObject (c, "priority", "P2 (Low)");
   cJSON *cs = cJSON_AddObjectToObject (o, "confidence_scores");
   cJSON_AddNumberToObject (cs, "topic", 0.5);
   cJSON_AddNumberToObject (cs, "sentiment", 0.5);
   cJSON_AddNumberToObject (cs, "priority", 0.5);
   char *body = cJSON_PrintUnformatted (o);
   cJSON_Delete (o);

   char url[256];
   snprintf (url, sizeof url, "%s/api/processed-tickets", api.base_url);
   const char *headers[] = {"Content-Type: application/json",
                            "Authorization: Bearer " ADMIN_KEY, NULL};
   tk_test_http_response_t r;
   assert_true (tk_test_http ("POST", url, body, strlen (body), headers, &r));
   if (r.status != 201) {
      fprintf (stderr, "POST -> %ld %s\n", r.status, r.body);
      tk_test_service_dump_log (&api);
   }
   assert_int_equal (r.status, 201);
   /* The answer is the stored ticket. */
   cJSON *j = cJSON_Parse (r.body);
   const char *rs = cJSON_GetObjectItem (j, "subject")->valuestring;
   const char *rb = cJSON_GetObjectItem (j, "body")->valuestring;
   if (masked) {
      assert_masked ("api answer", rs, rb);
   } else {
      assert_string_equal (rs, SUBJECT);
      assert_string_equal (rb, BODY);
   }
   cJSON_Delete (j);
   tk_test_http_free (&r);
   free (body);
   assert_int_equal (tk_test_service_stop (&api, SIGTERM, 15000), 0);

   if (masked) {
      assert_stored_masked (id);
   } else {
      assert_stored_as_given (id);
   }
}

static void
test_api_post_masked (void **state)
{
   (void) state;
   api_post (true, "API-MASKED");
}

static void
test_api_post_unmasked (void **state)
{
   (void) state;
   api_post (false, "API-PLAIN");
}

int
main (void)
{
   const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown (test_ingest_masked_stores_no_pii, before_each, after_each),
      cmocka_unit_test_setup_teardown (test_ingest_unmasked_stores_text_as_given, before_each,
                                       after_each),
      cmocka_unit_test_setup_teardown (test_refused_kafka_message_logs_no_field_value,
                                       before_each, after_each),
      cmocka_unit_test_setup_teardown (test_api_post_masked, before_each, after_each),
      cmocka_unit_test_setup_teardown (test_api_post_unmasked, before_each, after_each),
   };
   return cmocka_run_group_tests (tests, NULL, NULL);
}
