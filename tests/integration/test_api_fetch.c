/* Fetch by ingestion time (issue 15): every insert gives a ticket an
 * immutable stored_at, tickets written before it existed get one at api
 * start (from created_at, else updated_at), and POST /api/fetch hands out
 * the unprocessed tickets stored since the calling key's cursor, kept in
 * the database, without losing one that shares the cursor's stored_at or
 * becomes visible a little late, and without handing one out twice. A real
 * triage-api child on the real MongoDB-protocol server. */
#include "test_support.h"

#include "api_fixture.h"
#include "pg_sessions.h"
#include "timeutil.h"

#include <mongoc/mongoc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ADMIN_KEY TRIAGE_TEST_ADMIN_KEY /* random per build: tests/CMakeLists.txt */
#define MS_PER_DAY INT64_C (86400000)

static tk_api_fx_t fx;
static tk_test_service_t *const api = &fx.svc;
static int64_t old_created, old_updated; /* the dates of the documents written before */

/* Writes a ticket document straight into the collection, as a writer
 * without stored_at (stored_at 0) or one with its own clock would. */
static void
put_doc (const char *id, int64_t created_at, int64_t updated_at, int64_t stored_at)
{
   bson_t *doc = BCON_NEW ("_id", BCON_UTF8 (id), "id", BCON_UTF8 (id), "subject",
                           BCON_UTF8 ("Lineage"), "body", BCON_UTF8 ("The lineage graph is empty."),
                           "processed", BCON_BOOL (false));
   if (created_at) {
      BSON_APPEND_DATE_TIME (doc, "created_at", created_at);
   }
   if (updated_at) {
      BSON_APPEND_DATE_TIME (doc, "updated_at", updated_at);
   }
   if (stored_at) {
      BSON_APPEND_DATE_TIME (doc, "stored_at", stored_at);
   }
   mongoc_collection_t *coll = tk_api_fx_collection (&fx, "tickets");
   bson_error_t e;
   bool ok = mongoc_collection_insert_one (coll, doc, NULL, NULL, &e);
   tk_api_fx_collection_release (&fx, coll);
   bson_destroy (doc);
   if (!ok) {
      fail_msg ("insert %s: %s", id, e.message);
   }
}

static int
setup (void **state)
{
   (void) state;
   if (!tk_api_fx_setup (&fx, "triage_test_fetch", NULL, ADMIN_KEY)) {
      return -1;
   }
   /* Written before stored_at existed: the api's start gives them one. */
   old_created = tk_time_now_ms () - 30 * MS_PER_DAY;
   old_updated = old_created + 5000;
   put_doc ("OLD-1", old_created, old_updated, 0);
   put_doc ("OLD-2", 0, old_updated, 0);
   /* As make demo runs it on the local stack: with the PostgreSQL under
    * FerretDB, which tells whether any ticket lacks a stored_at. */
   static char url[512];
   tk_test_pg_list_sql_env (NULL, url, sizeof url);
   const char *env[] = {url, NULL};
   if (!tk_api_fx_start (&fx, api, "api", env)) {
      return -1;
   }
   tk_api_fx_make_role_keys (&fx);
   return 0;
}

static int
teardown (void **state)
{
   (void) state;
   return tk_api_fx_teardown (&fx);
}

static tk_api_fx_resp_t
fetch (const char *key, const char *mode, int limit, int want_status)
{
   char body[160];
   snprintf (body, sizeof body, "{\"mode\":\"%s\",\"limit\":%d}", mode, limit);
   tk_api_fx_resp_t r = tk_api_fx_call (api, "POST", "/api/fetch", key, body);
   if (r.status != want_status) {
      fail_msg ("POST /api/fetch %s: %ld %s", body, r.status, r.body);
   }
   return r;
}

/* The ids of a fetch's answer, comma-joined in order, into buf; returns
 * the count (checked against the answer's). */
static int
fetched (const tk_api_fx_resp_t *r, char *buf, size_t cap)
{
   const cJSON *ids = cJSON_GetObjectItemCaseSensitive (r->json, "ids"), *id;
   int n = 0;
   buf[0] = '\0';
   cJSON_ArrayForEach (id, ids)
   {
      assert_true (cJSON_IsString (id));
      size_t len = strlen (buf);
      snprintf (buf + len, cap - len, "%s%s", n ? "," : "", id->valuestring);
      n++;
   }
   assert_int_equal (n, (int) tk_api_fx_num (r->json, "count"));
   return n;
}

static bool
more (const tk_api_fx_resp_t *r)
{
   return cJSON_IsTrue (cJSON_GetObjectItemCaseSensitive (r->json, "more"));
}

/* The ticket's stored_at as the api serves it, into buf ("" if none). */
static const char *
stored_at_of (const char *id, char *buf, size_t cap)
{
   char path[96];
   snprintf (path, sizeof path, "/api/tickets/%s", id);
   tk_api_fx_resp_t r = tk_api_fx_call (api, "GET", path, ADMIN_KEY, NULL);
   assert_int_equal (r.status, 200);
   const char *s = tk_api_fx_str (r.json, "stored_at");
   snprintf (buf, cap, "%s", s ? s : "");
   tk_api_fx_resp_free (&r);
   return buf;
}

static void
iso (int64_t ms, char *buf, size_t cap)
{
   assert_true (tk_time_format_iso (ms, buf, cap));
}

/* The documents written before stored_at existed get one at start: the
 * created_at, else the updated_at. */
static void
test_backfill_at_start (void **state)
{
   (void) state;
   char want1[64], want2[64], got[64];
   iso (old_created, want1, sizeof want1);
   iso (old_updated, want2, sizeof want2);
   uint64_t deadline = tk_test_now_ms () + 30000;
   while (!*stored_at_of ("OLD-2", got, sizeof got) && tk_test_now_ms () < deadline) {
      usleep (200 * 1000);
   }
   assert_string_equal (stored_at_of ("OLD-1", got, sizeof got), want1);
   assert_string_equal (stored_at_of ("OLD-2", got, sizeof got), want2);
}

/* The line of svc's log that says how its backfill ended, into buf ("" when
 * it has not ended within 30 s). */
static const char *
backfill_line (const tk_test_service_t *svc, char *buf, size_t cap)
{
   buf[0] = '\0';
   uint64_t deadline = tk_test_now_ms () + 30000;
   while (!buf[0] && tk_test_now_ms () < deadline) {
      FILE *f = fopen (svc->log_path, "r");
      char line[2048];
      while (f && fgets (line, sizeof line, f)) {
         if (strstr (line, "written before it existed")) {
            snprintf (buf, cap, "%s", line);
         }
      }
      if (f) {
         fclose (f);
      }
      if (!buf[0]) {
         usleep (200 * 1000);
      }
   }
   return buf;
}

/* Once every ticket has one, an api started on the local stack learns it
 * from PostgreSQL (FerretDB's table), without the find that reads the
 * whole collection (a minute and a half at a million tickets); the one
 * above, started while two tickets lacked one, ran the find. */
static void
test_backfill_checked_in_postgresql (void **state)
{
   (void) state;
   char line[2048];
   const char *first = backfill_line (api, line, sizeof line);
   assert_non_null (strstr (first, "given to 2 ticket(s)"));
   assert_null (strstr (first, "checked in PostgreSQL"));

   tk_test_service_t again;
   static char url[512];
   tk_test_pg_list_sql_env (NULL, url, sizeof url);
   const char *env[] = {url, NULL};
   assert_true (tk_api_fx_start (&fx, &again, "api", env));
   const char *second = backfill_line (&again, line, sizeof line);
   bool checked = strstr (second, "given to 0 ticket(s)") &&
                  strstr (second, "checked in PostgreSQL");
   assert_int_equal (tk_api_fx_stop (&again), 0);
   if (!checked) {
      fail_msg ("the second api's backfill: %s", second[0] ? second : "(no line)");
   }
}

/* A batch stored in one bulk shares one stored_at: fetched two at a time,
 * none is lost or given twice, and the late ticket (created three days
 * ago) is among them. Then tickets that became visible after the fetch
 * with the cursor's own stored_at, or a little before it, still come. */
static void
test_since_last_fetch_ties (void **state)
{
   (void) state;
   char ids[2048], all[4096] = "", since[64];
   /* The first fetch of the key: everything unprocessed, the old two. */
   tk_api_fx_resp_t r = fetch (ADMIN_KEY, "since_last_fetch", 1000, 200);
   assert_int_equal (fetched (&r, ids, sizeof ids), 2);
   assert_string_equal (ids, "OLD-1,OLD-2");
   assert_true (cJSON_IsNull (cJSON_GetObjectItemCaseSensitive (r.json, "since")));
   iso (old_updated, since, sizeof since);
   assert_string_equal (tk_api_fx_str (r.json, "cursor"), since);
   tk_api_fx_resp_free (&r);

   int64_t now = tk_time_now_ms ();
   tk_ticket_t *batch[5];
   for (int i = 0; i < 5; i++) {
      char id[16];
      snprintf (id, sizeof id, "B-%d", i);
      batch[i] = tk_ticket_new ();
      batch[i]->id = strdup (id);
      batch[i]->subject = strdup ("Connector");
      batch[i]->body = strdup ("The Snowflake connector fails.");
      batch[i]->created_at = i == 3 ? now - 3 * MS_PER_DAY : now;
   }
   tk_insert_result_t res;
   tk_error_t err;
   assert_true (tk_store_insert_tickets (fx.store, batch, 5, &res, &err));
   assert_int_equal (res.n_stored, 5);
   tk_insert_result_cleanup (&res);
   for (int i = 0; i < 5; i++) {
      tk_ticket_destroy (batch[i]);
   }

   int total = 0;
   for (int round = 0; round < 3; round++) {
      r = fetch (ADMIN_KEY, "since_last_fetch", 2, 200);
      int n = fetched (&r, ids, sizeof ids);
      assert_int_equal (n, round < 2 ? 2 : 1);
      assert_int_equal (more (&r), round < 2);
      snprintf (all + strlen (all), sizeof all - strlen (all), "%s%s", total ? "," : "", ids);
      total += n;
      tk_api_fx_resp_free (&r);
   }
   assert_string_equal (all, "B-0,B-1,B-2,B-3,B-4");
   r = fetch (ADMIN_KEY, "since_last_fetch", 2, 200);
   assert_int_equal (fetched (&r, ids, sizeof ids), 0);
   assert_false (more (&r));
   /* The cursor is the batch's stored_at, as the api serves it. */
   char batch_at[64];
   stored_at_of ("B-0", batch_at, sizeof batch_at);
   assert_string_equal (tk_api_fx_str (r.json, "cursor"), batch_at);
   assert_string_equal (tk_api_fx_str (r.json, "since"), batch_at);
   tk_api_fx_resp_free (&r);

   /* Seen after the fetch: one with the cursor's very stored_at and an id
    * sorting before the batch's, one stored three seconds before it. */
   int64_t t = 0;
   assert_true (tk_time_parse_iso (batch_at, strlen (batch_at), &t));
   put_doc ("A-TIE", now, now, t);
   put_doc ("A-LAG", now, now, t - 3000);
   r = fetch (ADMIN_KEY, "since_last_fetch", 10, 200);
   assert_int_equal (fetched (&r, ids, sizeof ids), 2);
   assert_string_equal (ids, "A-LAG,A-TIE");
   assert_string_equal (tk_api_fx_str (r.json, "cursor"), batch_at);
   tk_api_fx_resp_free (&r);
   r = fetch (ADMIN_KEY, "since_last_fetch", 10, 200);
   assert_int_equal (fetched (&r, ids, sizeof ids), 0);
   tk_api_fx_resp_free (&r);
}

/* The cursor is the key's: another key starts from nothing. The time modes
 * go by stored_at (the late ticket is in the last day) and move no cursor;
 * processed tickets are never listed. */
static void
test_modes_and_keys (void **state)
{
   (void) state;
   char ids[2048];
   tk_api_fx_resp_t r = fetch (fx.operator_key, "since_last_fetch", 100, 200);
   assert_int_equal (fetched (&r, ids, sizeof ids), 9);
   tk_api_fx_resp_free (&r);

   tk_api_fx_classify (&fx, "B-1", "Connector", NULL, "Neutral", "P2 (Low)", 0.9, 0.9, 0.9, 10,
                       "m-1", tk_time_now_ms ());
   r = fetch (ADMIN_KEY, "last_24h", 100, 200);
   assert_int_equal (fetched (&r, ids, sizeof ids), 6);
   assert_non_null (strstr (ids, "B-3")); /* created three days ago, stored now */
   assert_null (strstr (ids, "B-1"));
   char cursor[64];
   snprintf (cursor, sizeof cursor, "%s", tk_api_fx_str (r.json, "cursor"));
   tk_api_fx_resp_free (&r);
   r = fetch (ADMIN_KEY, "last_7d", 100, 200);
   assert_int_equal (fetched (&r, ids, sizeof ids), 6);
   tk_api_fx_resp_free (&r);
   r = fetch (ADMIN_KEY, "unprocessed", 3, 200);
   assert_int_equal (fetched (&r, ids, sizeof ids), 3);
   assert_true (more (&r));
   assert_string_equal (ids, "OLD-1,OLD-2,A-LAG"); /* oldest stored first */
   assert_true (cJSON_IsNull (cJSON_GetObjectItemCaseSensitive (r.json, "since")));
   assert_string_equal (tk_api_fx_str (r.json, "cursor"), cursor); /* not moved */
   tk_api_fx_resp_free (&r);
   r = fetch (ADMIN_KEY, "since_last_fetch", 100, 200);
   assert_int_equal (fetched (&r, ids, sizeof ids), 0);
   tk_api_fx_resp_free (&r);
}

/* stored_at never changes: not by a re-sent ticket (upsert), a
 * classification or a correction; POST /api/processed-tickets sets it; the
 * list filters on it. */
static void
test_stored_at_immutable (void **state)
{
   (void) state;
   char before[64], after[64];
   stored_at_of ("B-2", before, sizeof before);
   assert_true (before[0]);
   tk_ticket_t *t = tk_ticket_new ();
   t->id = strdup ("B-2");
   t->subject = strdup ("Connector (again)");
   t->body = strdup ("The Snowflake connector still fails.");
   tk_insert_result_t res;
   tk_error_t err;
   assert_true (tk_store_upsert_tickets (fx.store, &t, 1, &res, &err));
   assert_int_equal (res.n_changed, 1);
   tk_insert_result_cleanup (&res);
   tk_ticket_destroy (t);
   tk_api_fx_classify (&fx, "B-2", "Connector", NULL, "Neutral", "P2 (Low)", 0.9, 0.9, 0.9, 10,
                       "m-1", tk_time_now_ms ());
   tk_api_fx_resp_t r = tk_api_fx_call (
      api, "PUT", "/api/processed-tickets/B-2", ADMIN_KEY,
      "{\"classification\":{\"topic_tags\":[\"Product\"],\"sentiment\":\"Angry\","
      "\"priority\":\"P0 (High)\"}}");
   assert_int_equal (r.status, 200);
   tk_api_fx_resp_free (&r);
   assert_string_equal (stored_at_of ("B-2", after, sizeof after), before);

   r = tk_api_fx_call (api, "POST", "/api/processed-tickets", ADMIN_KEY,
                       "{\"id\":\"P-1\",\"subject\":\"SSO\",\"body\":\"SAML fails.\","
                       "\"created_at\":\"2020-01-01T00:00:00Z\",\"classification\":"
                       "{\"topic_tags\":[\"SSO\"],\"sentiment\":\"Angry\","
                       "\"priority\":\"P0 (High)\"},\"confidence_scores\":"
                       "{\"topic\":0.9,\"sentiment\":0.9,\"priority\":0.9}}");
   assert_int_equal (r.status, 201);
   char answered[64];
   snprintf (answered, sizeof answered, "%s", tk_api_fx_str (r.json, "stored_at"));
   tk_api_fx_resp_free (&r);
   assert_string_equal (stored_at_of ("P-1", after, sizeof after), answered);
   int64_t at = 0;
   assert_true (tk_time_parse_iso (after, strlen (after), &at));
   assert_true (at > tk_time_now_ms () - 60000);

   char path[256];
   snprintf (path, sizeof path, "/api/tickets?stored_from=%s&stored_to=%s&limit=100", before,
             "2100-01-01T00:00:00Z");
   r = tk_api_fx_call (api, "GET", path, ADMIN_KEY, NULL);
   assert_int_equal (r.status, 200);
   /* The batch (5), A-TIE (stored with the batch's stored_at) and P-1. */
   assert_int_equal ((int) tk_api_fx_num (r.json, "count"), 7);
   tk_api_fx_resp_free (&r);
   snprintf (path, sizeof path, "/api/tickets?stored_to=%s", before);
   r = tk_api_fx_call (api, "GET", path, ADMIN_KEY, NULL);
   assert_int_equal (r.status, 200);
   assert_int_equal ((int) tk_api_fx_num (r.json, "count"), 3); /* OLD-1, OLD-2, A-LAG */
   tk_api_fx_resp_free (&r);
}

/* What the route refuses. */
static void
test_fetch_refusals (void **state)
{
   (void) state;
   tk_api_fx_resp_t r = fetch (ADMIN_KEY, "yesterday", 10, 400);
   assert_string_equal (tk_api_fx_str (cJSON_GetObjectItemCaseSensitive (r.json, "error"),
                                       "field"),
                        "mode");
   tk_api_fx_resp_free (&r);
   r = fetch (ADMIN_KEY, "unprocessed", 0, 400);
   tk_api_fx_resp_free (&r);
   r = fetch (ADMIN_KEY, "unprocessed", 10001, 400);
   tk_api_fx_resp_free (&r);
   r = fetch (fx.viewer_key, "unprocessed", 10, 403);
   tk_api_fx_resp_free (&r);
   r = tk_api_fx_call (api, "POST", "/api/fetch", ADMIN_KEY, "{\"mode\":\"unprocessed\",\"x\":1}");
   assert_int_equal (r.status, 400);
   tk_api_fx_resp_free (&r);
}

int
main (void)
{
   const struct CMUnitTest tests[] = {
      cmocka_unit_test (test_backfill_at_start),
      cmocka_unit_test (test_backfill_checked_in_postgresql),
      cmocka_unit_test (test_since_last_fetch_ties),
      cmocka_unit_test (test_modes_and_keys),
      cmocka_unit_test (test_stored_at_immutable),
      cmocka_unit_test (test_fetch_refusals),
   };
   return cmocka_run_group_tests (tests, setup, teardown);
}
