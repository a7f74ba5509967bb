/* Clients of triage-ingest, against the real Kafka broker and MongoDB-wire
 * server: API keys on the upload route (roles from api_keys, the bootstrap
 * admin key), `triagectl upload` in chunks with file line numbers and a dry
 * run, and `triagectl publish` to the inbound topic. */
#include "test_support.h"

#include "auth.h"
#include "ingest_fixture.h"
#include "service_proc.h"
#include "store.h"

#include <cjson/cJSON.h>
#include <mongoc/mongoc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static tk_ingest_fx_t fx;

static int
before_each (void **state)
{
   (void) state;
   return tk_ingest_fx_setup (&fx, "triage_test_ingcli") ? 0 : -1;
}

static int
after_each (void **state)
{
   (void) state;
   tk_ingest_fx_teardown (&fx);
   return 0;
}

static long
post_one (const tk_test_service_t *svc, const char *auth_header, const char *id)
{
   char url[256], body[160];
   snprintf (url, sizeof url, "%s/v1/tickets", svc->base_url);
   int n = snprintf (body, sizeof body, "{\"id\":\"%s\",\"subject\":\"s\",\"body\":\"b\"}", id);
   const char *headers[] = {"Content-Type: application/json", auth_header, NULL};
   tk_test_http_response_t r;
   assert_true (tk_test_http ("POST", url, body, (size_t) n, headers, &r));
   long status = r.status;
   tk_test_http_free (&r);
   return status;
}

static long
get_status (const tk_test_service_t *svc, const char *path)
{
   char url[256];
   snprintf (url, sizeof url, "%s%s", svc->base_url, path);
   tk_test_http_response_t r;
   assert_true (tk_test_http ("GET", url, NULL, 0, NULL, &r));
   long status = r.status;
   tk_test_http_free (&r);
   return status;
}

static void
add_key (const char *key, const char *key_id, const char *role, bool revoked)
{
   char hash[TK_KEY_HASH_HEX];
   assert_true (tk_auth_hash_key (key, strlen (key), hash));
   mongoc_client_t *client = tk_store_client_pop (fx.store);
   mongoc_collection_t *coll = mongoc_client_get_collection (client, fx.db, "api_keys");
   bson_t *doc = BCON_NEW ("key_id", BCON_UTF8 (key_id), "name", BCON_UTF8 (key_id), "role",
                           BCON_UTF8 (role), "hash", BCON_UTF8 (hash), "revoked",
                           BCON_BOOL (revoked));
   bson_error_t e;
   assert_true (mongoc_collection_insert_one (coll, doc, NULL, NULL, &e));
   bson_destroy (doc);
   mongoc_collection_destroy (coll);
   tk_store_client_push (fx.store, client);
}

static bool
stored (const char *id)
{
   tk_error_t err;
   tk_ticket_t *t = NULL;
   bool ok = tk_store_get_ticket (fx.store, id, &t, &err);
   tk_ticket_destroy (t);
   return ok;
}

static void
test_upload_needs_an_operator_key (void **state)
{
   (void) state;
   add_key ("viewer-key-1", "k-viewer", "viewer", false);
   add_key ("operator-key-1", "k-operator", "operator", false);
   add_key ("operator-key-revoked", "k-revoked", "operator", true);
   tk_test_service_t svc;
   const char *extra[] = {"TRIAGE_AUTH=on", "TRIAGE_ADMIN_KEY=" TRIAGE_TEST_ADMIN_KEY,
                          "TRIAGE_INGEST_CONSUME=false", NULL};
   tk_ingest_fx_start (&fx, &svc, extra, true);

   assert_int_equal (post_one (&svc, NULL, "AUTH-0"), 401);
   assert_int_equal (post_one (&svc, "Authorization: Bearer nobody-knows-me", "AUTH-0"), 401);
   assert_int_equal (post_one (&svc, "Authorization: Basic dXNlcjpwYXNz", "AUTH-0"), 401);
   assert_int_equal (post_one (&svc, "Authorization: Bearer operator-key-revoked", "AUTH-0"), 401);
   assert_int_equal (post_one (&svc, "Authorization: Bearer viewer-key-1", "AUTH-0"), 403);
   assert_false (stored ("AUTH-0"));
   assert_int_equal (post_one (&svc, "Authorization: Bearer operator-key-1", "AUTH-1"), 201);
   assert_int_equal (post_one (&svc, "Authorization: Bearer " TRIAGE_TEST_ADMIN_KEY, "AUTH-2"), 201);
   assert_true (stored ("AUTH-1"));
   assert_true (stored ("AUTH-2"));
   /* Health stays open; the metrics are on their own listener. */
   assert_int_equal (get_status (&svc, "/healthz"), 200);
   assert_int_equal (get_status (&svc, "/readyz"), 200);
   assert_int_equal (get_status (&svc, "/metrics"), 404);
   tk_test_http_response_t m;
   assert_true (tk_test_http ("GET", svc.metrics_url, NULL, 0, NULL, &m));
   assert_int_equal (m.status, 200);
   tk_test_http_free (&m);

   /* triagectl sends TRIAGE_API_KEY, and fails without a key. */
   const char *nd = "{\"id\":\"AUTH-3\",\"subject\":\"s\",\"body\":\"b\"}\n";
   char path[256];
   tk_ingest_fx_write_temp (".ndjson", nd, strlen (nd), path, sizeof path);
   const char *argv[] = {"upload", "--url", svc.base_url, "--quiet", path, NULL};
   const char *no_key[] = {"TRIAGE_API_KEY=", NULL};
   char *out = NULL;
   assert_int_equal (tk_ingest_fx_triagectl (argv, no_key, &out), 1);
   free (out);
   assert_false (stored ("AUTH-3"));
   const char *with_key[] = {"TRIAGE_API_KEY=operator-key-1", NULL};
   assert_int_equal (tk_ingest_fx_triagectl (argv, with_key, &out), 0);
   assert_non_null (strstr (out, "1 stored"));
   free (out);
   assert_true (stored ("AUTH-3"));
   unlink (path);
   tk_ingest_fx_stop (&svc);
}

/* A CSV of n rows where every 100th row has a quoted, multi-line body,
 * row 250 is invalid (no subject or body), row 400 repeats row 10's id and
 * row 777 has too few columns. Returns the file line of each data row. */
static char *
big_csv (int n, size_t *len, int *line_of)
{
   size_t cap = (size_t) n * 120 + 64;
   char *s = malloc (cap);
   assert_non_null (s);
   size_t o = (size_t) snprintf (s, cap, "id,subject,body\n");
   int line = 2;
   for (int i = 1; i <= n; i++) {
      line_of[i] = line;
      if (i == 250) {
         o += (size_t) snprintf (s + o, cap - o, "CSV-%05d,,\n", i);
      } else if (i == 400) {
         o += (size_t) snprintf (s + o, cap - o, "CSV-%05d,Repeat,of row 10\n", 10);
      } else if (i == 777) {
         o += (size_t) snprintf (s + o, cap - o, "CSV-%05d,only two\n", i);
      } else if (i % 100 == 0) {
         o += (size_t) snprintf (s + o, cap - o, "CSV-%05d,\"Quoted, subject\",\"first\nsecond\"\n",
                                 i);
         line++;
      } else {
         o += (size_t) snprintf (s + o, cap - o, "CSV-%05d,Subject %d,Body %d\n", i, i, i);
      }
      line++;
   }
   *len = o;
   return s;
}

static void
test_triagectl_upload_in_chunks_reports_file_lines (void **state)
{
   (void) state;
   enum { N = 1234 };
   int line_of[N + 1];
   size_t len;
   char *csv = big_csv (N, &len, line_of);
   char path[256];
   tk_ingest_fx_write_temp (".csv", csv, len, path, sizeof path);
   free (csv);
   tk_test_service_t svc;
   const char *extra[] = {"TRIAGE_INGEST_CONSUME=false", "TRIAGE_AUTO_CLASSIFY=false", NULL};
   tk_ingest_fx_start (&fx, &svc, extra, true);

   /* Chunks of 100 rows: the quoted newlines and the header per chunk must
    * not shift a row, and lines are the file's. */
   const char *argv[] = {"upload", "--url", svc.base_url, "--chunk-rows", "100", path, NULL};
   char *out = NULL;
   assert_int_equal (tk_ingest_fx_triagectl (argv, NULL, &out), 1);
   assert_non_null (strstr (out, "1234 rows: 1231 stored, 1 duplicates, 2 rejected"));
   char want[64];
   snprintf (want, sizeof want, "line %d (id CSV-00250): invalid_field", line_of[250]);
   assert_non_null (strstr (out, want));
   snprintf (want, sizeof want, "line %d (id CSV-00777): wrong_columns", line_of[777]);
   assert_non_null (strstr (out, want));
   free (out);
   assert_int_equal (tk_ingest_fx_count (&fx), 1231);
   tk_ticket_t *t = NULL;
   tk_error_t err;
   assert_true (tk_store_get_ticket (fx.store, "CSV-00300", &t, &err));
   assert_string_equal (t->subject, "Quoted, subject");
   assert_string_equal (t->body, "first\nsecond");
   tk_ticket_destroy (t);

   /* A dry run of the same file now finds every valid row stored. */
   const char *dry[] = {"upload", "--url", svc.base_url, "--dry-run", "--quiet", path, NULL};
   assert_int_equal (tk_ingest_fx_triagectl (dry, NULL, &out), 1); /* the 2 rejected rows */
   assert_non_null (strstr (out, "dry run: 1234 rows: 0 valid, 1232 already stored, 2 rejected"));
   free (out);
   unlink (path);

   /* A JSON array in chunks of 3 elements, with nesting and brackets in
    * strings, a bad element on line 4; nothing else changes. */
   const char *arr = "[\n"
                     " {\"id\":\"ARR-1\",\"subject\":\"a [b] {c}\",\"body\":\"x, y\"},\n"
                     " {\"id\":\"ARR-2\",\"subject\":\"s\",\"body\":\"b\",\"source\":\"crm\"},\n"
                     " {\"id\":\"ARR-3\",\"subject\":\"s\"},\n"
                     " {\"id\":\"ARR-4\",\"subject\":\"s\",\"body\":\"b\"},\n"
                     " {\"id\":\"ARR-5\",\"subject\":\"s\",\"body\":\"b\"}\n"
                     "]\n";
   tk_ingest_fx_write_temp (".json", arr, strlen (arr), path, sizeof path);
   const char *jargv[] = {"upload", "--url", svc.base_url, "--chunk-rows", "3", path, NULL};
   assert_int_equal (tk_ingest_fx_triagectl (jargv, NULL, &out), 1);
   assert_non_null (strstr (out, "5 rows: 4 stored, 0 duplicates, 1 rejected"));
   assert_non_null (strstr (out, "line 4 (id ARR-3): invalid_field"));
   free (out);
   assert_true (stored ("ARR-1") && stored ("ARR-5"));
   unlink (path);

   /* A clean file exits 0; a missing ingest exits 1. */
   const char *nd = "{\"id\":\"OK-1\",\"subject\":\"s\",\"body\":\"b\"}\n";
   tk_ingest_fx_write_temp (".ndjson", nd, strlen (nd), path, sizeof path);
   const char *ok_argv[] = {"upload", "--url", svc.base_url, path, NULL};
   assert_int_equal (tk_ingest_fx_triagectl (ok_argv, NULL, &out), 0);
   free (out);
   tk_ingest_fx_stop (&svc);
   const char *gone[] = {"upload", "--url", "http://127.0.0.1:1", path, NULL};
   assert_int_equal (tk_ingest_fx_triagectl (gone, NULL, &out), 1);
   free (out);
   unlink (path);
}

static void
test_triagectl_publish_reaches_ingest_through_kafka (void **state)
{
   (void) state;
   enum { N = 500 };
   size_t cap = N * 100 + 200, o = 0;
   char *nd = malloc (cap);
   assert_non_null (nd);
   for (int i = 0; i < N; i++) {
      o += (size_t) snprintf (nd + o, cap - o,
                              "{\"id\":\"PUB-%04d\",\"subject\":\"Subject %d\",\"body\":\"Body\","
                              "\"created_at\":\"2025-09-13T06:38:47.513Z\"}\n",
                              i, i);
      if (i == 10) {
         o += (size_t) snprintf (nd + o, cap - o, "{\"id\":\"PUB-BAD\"}\n");
      }
   }
   char path[256];
   tk_ingest_fx_write_temp (".ndjson", nd, o, path, sizeof path);
   free (nd);

   tk_test_service_t svc;
   const char *extra[] = {"TRIAGE_AUTO_CLASSIFY=false", NULL};
   tk_ingest_fx_start (&fx, &svc, extra, true);
   const char *argv[] = {"publish", "--topic", fx.inbound, "--brokers", tk_test_kafka_brokers (),
                         path, NULL};
   char *out = NULL;
   /* One invalid row: listed, not published, exit 1. */
   assert_int_equal (tk_ingest_fx_triagectl (argv, NULL, &out), 1);
   char want[256];
   snprintf (want, sizeof want, "%d rows: %d delivered to %s, 1 invalid", N + 1, N, fx.inbound);
   assert_non_null (strstr (out, want));
   free (out);
   assert_int_equal (tk_ingest_fx_wait_count (&fx, N), N);
   tk_ticket_t *t = NULL;
   tk_error_t err;
   assert_true (tk_store_get_ticket (fx.store, "PUB-0042", &t, &err));
   assert_string_equal (t->subject, "Subject 42");
   assert_int_equal (t->created_at, INT64_C (1757745527513));
   tk_ticket_destroy (t);
   assert_false (stored ("PUB-BAD"));
   /* Publishing the same file again stores nothing new. */
   assert_int_equal (tk_ingest_fx_triagectl (argv, NULL, &out), 1);
   free (out);
   for (int i = 0; i < 600 && tk_ingest_fx_metric (&svc, "triage_ingest_tickets_written_total{"
                                                         "source=\"kafka\",outcome=\"duplicate\"}") <
                                 N;
        i++) {
      usleep (100 * 1000);
   }
   assert_int_equal (tk_ingest_fx_count (&fx), N);
   unlink (path);
   tk_ingest_fx_stop (&svc);
}

int
main (void)
{
   const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown (test_upload_needs_an_operator_key, before_each, after_each),
      cmocka_unit_test_setup_teardown (test_triagectl_upload_in_chunks_reports_file_lines,
                                       before_each, after_each),
      cmocka_unit_test_setup_teardown (test_triagectl_publish_reaches_ingest_through_kafka,
                                       before_each, after_each),
   };
   return cmocka_run_group_tests (tests, NULL, NULL);
}
