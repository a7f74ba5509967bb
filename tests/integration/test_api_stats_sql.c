/* The statistics snapshot read from FerretDB's table in PostgreSQL
 * (tk_tally_scan_sql, services/api/snapshot.c, docs/decisions/0006), on the
 * real stack: 3,000 tickets of varied shapes written straight into the
 * collection (not through the services), two triage-api children on the
 * same database, one with TRIAGE_LIST_SQL_URL (its scans read the table in
 * SQL) and one without (its scans are finds through FerretDB). Every figure
 * of GET /api/processing-stats and GET /api/analytics (in UTC and in another
 * zone), and the newest tickets the snapshot keeps, must be the same from
 * both, and triage_api_statistics_reads_total{via} must say where each
 * scan read. Writes made afterwards by another writer show in both after
 * POST /api/analytics/refresh; a document ferretdb_doc.c refuses (a long
 * beyond 2^53) makes the SQL api's scan read the collection instead, with
 * the same figures, and the next scan after it is gone reads SQL again. */
#include "test_support.h"

#include "api_fixture.h"
#include "pg_sessions.h"
#include "timeutil.h"

#include <cjson/cJSON.h>
#include <mongoc/mongoc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ADMIN_KEY TRIAGE_TEST_ADMIN_KEY /* random per build: tests/CMakeLists.txt */
#define N_SEED 3000
#define N_LATER 200

static tk_api_fx_t fx;                       /* fx.svc: TRIAGE_LIST_SQL_URL set */
static tk_test_service_t *const sql = &fx.svc;
static tk_test_service_t plain;              /* no TRIAGE_LIST_SQL_URL: the collection */
static int64_t base_ms;
static int n_stored, n_processed;            /* what the collection holds, by the seed */
static char app_name[64];                    /* the SQL api's PostgreSQL connections */

static const char *const topics[] = {"SSO",       "API/SDK", "Glossary", "Lineage",
                                     "Connector", "Product", "How-to",   "Sensitive data"};
static const char *const sentiments[] = {"Angry", "Frustrated", "Curious", "Neutral",
                                         "Zufrieden \xe2\x9c\x93"}; /* not in the taxonomy */
static const char *const priorities[] = {"P0 (High)", "P1 (Medium)", "P2 (Low)", "P9 (Custom)"};
static const char *const models[] = {"nb-2026.11", "encoder-3", "llm:gpt-4o-mini"};

static tk_api_fx_resp_t
call (const tk_test_service_t *s, const char *method, const char *path)
{
   return tk_api_fx_request (s, method, path, ADMIN_KEY, NULL, 0, NULL);
}

#define VIA_SQL "triage_api_statistics_reads_total{via=\"sql\"}"
#define VIA_COLLECTION "triage_api_statistics_reads_total{via=\"collection\"}"

/* Ticket i of a batch named prefix, in the shapes the services and older
 * versions stored: one in four unprocessed (a third of those with failed
 * attempts, as an int32 or an int64), the rest classified, some by a model
 * outside the taxonomy's labels or with no priority at all; confidences as
 * doubles, one in 17 an int32 1; processing times as int64, int32 or
 * double; a correction on one in 11; created_at over 40 days, missing on
 * one ticket in 101; topic_tags empty on one in 23. Counts what it makes
 * into n_stored and n_processed. */
static void
ticket_doc (int i, const char *prefix, bson_t *doc)
{
   char id[32], subject[96];
   snprintf (id, sizeof id, "%s-%05d", prefix, i);
   snprintf (subject, sizeof subject, "Ticket %d about %s", i, topics[i % 8]);
   bson_init (doc);
   BSON_APPEND_UTF8 (doc, "_id", id);
   BSON_APPEND_UTF8 (doc, "id", id);
   BSON_APPEND_UTF8 (doc, "subject", subject);
   BSON_APPEND_UTF8 (doc, "body", "Hello,\nsomething is wrong again.\nRegards");
   BSON_APPEND_UTF8 (doc, "source", i % 2 ? "email" : "web");
   int64_t created = base_ms + (int64_t) (i % 40) * 86400000 + (int64_t) (i * 7919 % 86400) * 1000;
   if (i % 101 != 50) {
      BSON_APPEND_DATE_TIME (doc, "created_at", created);
   }
   BSON_APPEND_DATE_TIME (doc, "stored_at", created + 5000);
   bool processed = i % 4 != 0;
   BSON_APPEND_BOOL (doc, "processed", processed);
   n_stored++;
   if (!processed) {
      if (i % 3 == 0) {
         BSON_APPEND_INT32 (doc, "processing_attempts", 1 + i % 5);
         BSON_APPEND_UTF8 (doc, "last_error", "HTTP 503 from the model");
      } else if (i % 3 == 1) {
         BSON_APPEND_INT64 (doc, "processing_attempts", 0);
      }
      return;
   }
   n_processed++;
   if (i % 9 == 0) {
      BSON_APPEND_INT32 (doc, "processing_attempts", 2);
   }
   bson_t c, tags, conf, meta;
   BSON_APPEND_DOCUMENT_BEGIN (doc, "classification", &c);
   if (i % 29 != 0) {
      BSON_APPEND_UTF8 (&c, "priority", priorities[(i / 3) % 4]);
   }
   BSON_APPEND_UTF8 (&c, "sentiment", sentiments[(i / 5) % 5]);
   BSON_APPEND_ARRAY_BEGIN (&c, "topic_tags", &tags);
   if (i % 23 != 0) {
      BSON_APPEND_UTF8 (&tags, "0", topics[(i / 2) % 8]);
      if (i % 3 == 0) {
         BSON_APPEND_UTF8 (&tags, "1", topics[(i / 7) % 8]);
      }
   }
   bson_append_array_end (&c, &tags);
   bson_append_document_end (doc, &c);
   BSON_APPEND_DOCUMENT_BEGIN (doc, "confidence_scores", &conf);
   if (i % 17 == 0) {
      BSON_APPEND_INT32 (&conf, "topic", 1);
   } else {
      BSON_APPEND_DOUBLE (&conf, "topic", 0.31 + (i % 69) / 100.0);
   }
   BSON_APPEND_DOUBLE (&conf, "sentiment", 0.123456789 * (1 + i % 8));
   BSON_APPEND_DOUBLE (&conf, "priority", i % 13 == 0 ? 0.0 : 1.0 / (2 + i % 7));
   bson_append_document_end (doc, &conf);
   BSON_APPEND_BOOL (doc, "needs_review", i % 13 == 0);
   BSON_APPEND_DOCUMENT_BEGIN (doc, "processing_metadata", &meta);
   BSON_APPEND_DATE_TIME (&meta, "processed_at", created + (int64_t) (i % 90) * 60000);
   BSON_APPEND_UTF8 (&meta, "model_version", models[i % 3]);
   if (i % 3 == 0) {
      BSON_APPEND_INT64 (&meta, "processing_time_ms", 40 + i % 900);
   } else if (i % 3 == 1) {
      BSON_APPEND_INT32 (&meta, "processing_time_ms", 5 + i % 70000);
   } else {
      BSON_APPEND_DOUBLE (&meta, "processing_time_ms", 12.5 + (i % 400) * 7.25);
   }
   if (i % 11 == 4) {
      BSON_APPEND_DATE_TIME (&meta, "corrected_at", created + 86400000);
   }
   bson_append_document_end (doc, &meta);
}

/* POST /api/analytics/refresh on s: answered once the new snapshot is in
 * place. Returns its total. */
static int
refresh (const tk_test_service_t *s)
{
   tk_api_fx_resp_t r = call (s, "POST", "/api/analytics/refresh");
   if (r.status != 200) {
      tk_test_service_dump_log (s);
      fail_msg ("refresh: %ld %s", r.status, r.body);
   }
   int total = (int) tk_api_fx_num (r.json, "total");
   tk_api_fx_resp_free (&r);
   return total;
}

/* GET path on both apis: the same figures (generated_at aside; numbers as
 * cJSON_Compare compares them). Returns the SQL api's answer (caller
 * deletes). */
static cJSON *
same_on_both (const char *path)
{
   tk_api_fx_resp_t a = call (sql, "GET", path);
   tk_api_fx_resp_t b = call (&plain, "GET", path);
   assert_int_equal (a.status, 200);
   assert_int_equal (b.status, 200);
   assert_non_null (a.json);
   assert_non_null (b.json);
   cJSON_DeleteItemFromObjectCaseSensitive (a.json, "generated_at");
   cJSON_DeleteItemFromObjectCaseSensitive (b.json, "generated_at");
   if (!cJSON_Compare (a.json, b.json, true)) {
      char *ta = cJSON_PrintUnformatted (a.json), *tb = cJSON_PrintUnformatted (b.json);
      fprintf (stderr, "%s differs:\nsql:        %s\ncollection: %s\n", path, ta, tb);
      cJSON_free (ta);
      cJSON_free (tb);
      fail_msg ("%s: the SQL api's figures differ from the collection's", path);
   }
   cJSON *out = a.json;
   a.json = NULL;
   tk_api_fx_resp_free (&a);
   tk_api_fx_resp_free (&b);
   return out;
}

/* Every route of the snapshot, and one filtered analytics, equal on both;
 * the totals those of the seed. */
static void
compare_all (void)
{
   cJSON *stats = same_on_both ("/api/processing-stats");
   assert_int_equal ((int) tk_api_fx_num (stats, "total_tickets"), n_stored);
   assert_int_equal ((int) tk_api_fx_num (stats, "total_processed"), n_processed);
   cJSON_Delete (stats);
   cJSON *an = same_on_both ("/api/analytics");
   assert_int_equal ((int) tk_api_fx_num (an, "total"), n_stored);
   assert_true (tk_api_fx_num (an, "failed") > 0);
   cJSON_Delete (an);
   cJSON_Delete (same_on_both ("/api/analytics?tz=Asia/Kolkata"));
   cJSON_Delete (same_on_both ("/api/processing-stats?tz=America/New_York"));
   cJSON_Delete (same_on_both ("/api/analytics?status=processed&priority=P1%20(Medium)"));
   /* The newest tickets the snapshot keeps, fed by the same scan. */
   tk_api_fx_resp_t a = call (sql, "GET", "/api/tickets?limit=100");
   tk_api_fx_resp_t b = call (&plain, "GET", "/api/tickets?limit=100");
   char src_a[32], src_b[32];
   assert_int_equal (a.status, 200);
   assert_string_equal (tk_api_fx_header (&a, "X-Triage-Source", src_a, sizeof src_a), "snapshot");
   assert_string_equal (tk_api_fx_header (&b, "X-Triage-Source", src_b, sizeof src_b), "snapshot");
   assert_string_equal (a.body, b.body);
   tk_api_fx_resp_free (&a);
   tk_api_fx_resp_free (&b);
}

static int
setup (void **state)
{
   (void) state;
   if (!tk_api_fx_setup (&fx, "triage_test_stats_sql", NULL, ADMIN_KEY)) {
      return -1;
   }
   tk_time_parse_iso ("2026-09-01T00:00:00Z", 20, &base_ms);
   tk_api_fx_insert_range (&fx, ticket_doc, "SQ", 0, N_SEED);
   char url[512];
   /* Its connections named, to be found in pg_stat_activity. */
   snprintf (app_name, sizeof app_name, "triage_test_stats_sql_%d", (int) getpid ());
   tk_test_pg_list_sql_env (app_name, url, sizeof url);
   /* No timed scan and no follower's refresh during the test: every scan
    * after the first is one that the test asks for. */
   const char *env_sql[] = {"TRIAGE_API_CACHE_TTL=1h", "TRIAGE_API_FOLLOW=off", url, NULL};
   const char *env_plain[] = {"TRIAGE_API_CACHE_TTL=1h", "TRIAGE_API_FOLLOW=off", NULL};
   if (!tk_api_fx_start (&fx, sql, "api", env_sql) ||
       !tk_api_fx_start (&fx, &plain, "api", env_plain)) {
      return -1;
   }
   return 0;
}

static int
teardown (void **state)
{
   (void) state;
   int rc_plain = tk_api_fx_stop (&plain);
   int rc = tk_api_fx_teardown (&fx);
   return rc == 0 && rc_plain == 0 ? 0 : -1;
}

/* The figures of both apis agree with each other and with the seed, and the
 * SQL api's scans read SQL, the other's the collection. */
static void
test_figures_equal_the_collection (void **state)
{
   (void) state;
   assert_int_equal (refresh (sql), n_stored);
   assert_int_equal (refresh (&plain), n_stored);
   compare_all ();
   /* The first scan at start and the refresh. */
   assert_true (tk_api_fx_metric (sql, VIA_SQL) >= 2);
   assert_int_equal ((int) tk_api_fx_metric (sql, VIA_COLLECTION), 0);
   assert_true (tk_api_fx_metric (&plain, VIA_COLLECTION) >= 2);
   assert_int_equal ((int) tk_api_fx_metric (&plain, VIA_SQL), 0);
}

/* Another writer inserts, classifies, corrects and deletes after both apis
 * started: the snapshots show it only after a refresh, and then both the
 * same. */
static void
test_another_writer_shows_after_refresh (void **state)
{
   (void) state;
   double sql_reads = tk_api_fx_metric (sql, VIA_SQL);
   tk_api_fx_insert_range (&fx, ticket_doc, "LATER", 0, N_LATER);
   mongoc_collection_t *coll = tk_api_fx_collection (&fx, "tickets");
   bson_error_t e;
   /* SQ-00000 (unprocessed) classified; SQ-00001 deleted. */
   bson_t *sel = BCON_NEW ("_id", BCON_UTF8 ("SQ-00000"));
   bson_t *upd = BCON_NEW ("$set", "{", "processed", BCON_BOOL (true), "classification", "{",
                           "priority", BCON_UTF8 ("P0 (High)"), "sentiment", BCON_UTF8 ("Angry"),
                           "topic_tags", "[", BCON_UTF8 ("SSO"), "]", "}",
                           "processing_metadata.processed_at", BCON_DATE_TIME (base_ms),
                           "processing_metadata.processing_time_ms", BCON_INT64 (77), "}");
   assert_true (mongoc_collection_update_one (coll, sel, upd, NULL, NULL, &e));
   bson_destroy (sel);
   bson_destroy (upd);
   sel = BCON_NEW ("_id", BCON_UTF8 ("SQ-00001"));
   assert_true (mongoc_collection_delete_one (coll, sel, NULL, NULL, &e));
   bson_destroy (sel);
   tk_api_fx_collection_release (&fx, coll);
   n_processed++; /* SQ-00000; SQ-00001 was processed: */
   n_stored--;
   n_processed--;

   /* Not yet: the snapshot is an hour's. */
   tk_api_fx_resp_t r = call (sql, "GET", "/api/processing-stats");
   assert_int_equal (r.status, 200);
   assert_int_equal ((int) tk_api_fx_num (r.json, "total_tickets"), N_SEED);
   tk_api_fx_resp_free (&r);

   assert_int_equal (refresh (sql), n_stored);
   assert_int_equal (refresh (&plain), n_stored);
   compare_all ();
   assert_true (tk_api_fx_metric (sql, VIA_SQL) == sql_reads + 1);
   assert_int_equal ((int) tk_api_fx_metric (sql, VIA_COLLECTION), 0);
}

/* A stored document that ferretdb_doc.c cannot read back exactly: the SQL
 * api's scan reads the collection instead (counted as such), with the same
 * figures; once it is gone, the next scan reads SQL again. */
static void
test_refused_document_reads_the_collection (void **state)
{
   (void) state;
   double sql_reads = tk_api_fx_metric (sql, VIA_SQL);
   double coll_reads = tk_api_fx_metric (sql, VIA_COLLECTION);
   mongoc_collection_t *coll = tk_api_fx_collection (&fx, "tickets");
   bson_t doc;
   ticket_doc (7, "ODD", &doc); /* processed */
   BSON_APPEND_INT64 (&doc, "legacy_ref", INT64_C (9007199254740993)); /* 2^53 + 1 */
   bson_error_t e;
   assert_true (mongoc_collection_insert_one (coll, &doc, NULL, NULL, &e));
   bson_destroy (&doc);
   tk_api_fx_collection_release (&fx, coll);

   assert_int_equal (refresh (sql), n_stored);
   assert_int_equal (refresh (&plain), n_stored);
   compare_all ();
   assert_true (tk_api_fx_metric (sql, VIA_COLLECTION) == coll_reads + 1);
   assert_true (tk_api_fx_metric (sql, VIA_SQL) == sql_reads);

   coll = tk_api_fx_collection (&fx, "tickets");
   bson_t *sel = BCON_NEW ("_id", BCON_UTF8 ("ODD-00007"));
   assert_true (mongoc_collection_delete_one (coll, sel, NULL, NULL, &e));
   bson_destroy (sel);
   tk_api_fx_collection_release (&fx, coll);
   n_stored--;
   n_processed--;
   assert_int_equal (refresh (sql), n_stored);
   assert_int_equal (refresh (&plain), n_stored);
   compare_all ();
   assert_true (tk_api_fx_metric (sql, VIA_SQL) == sql_reads + 1);
}

/* The server closes the connections the api keeps idle between calls (a
 * restart, an idle timeout): the next scan still reads PostgreSQL, on a
 * new one, rather than starting again through FerretDB (minutes at a
 * million tickets). */
static void
test_closed_connections_are_replaced (void **state)
{
   (void) state;
   assert_int_equal (refresh (sql), n_stored);
   double sql_reads = tk_api_fx_metric (sql, VIA_SQL);
   double coll_reads = tk_api_fx_metric (sql, VIA_COLLECTION);
   assert_true (tk_test_pg_close_idle (app_name) > 0);
   assert_int_equal (refresh (sql), n_stored);
   assert_true (tk_api_fx_metric (sql, VIA_SQL) == sql_reads + 1);
   assert_true (tk_api_fx_metric (sql, VIA_COLLECTION) == coll_reads);
}

int
main (void)
{
   const struct CMUnitTest tests[] = {
      cmocka_unit_test (test_figures_equal_the_collection),
      cmocka_unit_test (test_another_writer_shows_after_refresh),
      cmocka_unit_test (test_refused_document_reads_the_collection),
      cmocka_unit_test (test_closed_connections_are_replaced),
   };
   return cmocka_run_group_tests (tests, setup, teardown);
}
