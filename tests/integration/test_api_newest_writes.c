/* The api's own writes (PUT, DELETE, POST /api/processed-tickets) show at
 * once on GET /api/tickets served from the newest tickets kept in the
 * statistics snapshot (services/api/newest.h, snapshot.h), on the real
 * stack. Three triage-api children on one database: `snap` keeps the newest
 * KEEP of the N_SEED tickets (a window that is not the whole collection),
 * `full` keeps up to 1000 (the whole collection), both with
 * TRIAGE_API_CACHE_TTL=1h so that no timed refresh runs during the test,
 * and `live` keeps nothing (TRIAGE_API_CACHE_TTL=0: every listing queries
 * the database). Every write goes to `snap` or `full`; afterwards the
 * affected page must come from the snapshot (X-Triage-Source) and be byte
 * for byte what `live` answers, and walking every page must agree with
 * `live` on both. Without the patching the snapshot keeps serving the old
 * rows until the next refresh, an hour away. */
#include "test_support.h"

#include "api_fixture.h"
#include "timeutil.h"

#include <cjson/cJSON.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ADMIN_KEY TRIAGE_TEST_ADMIN_KEY /* random per build: tests/CMakeLists.txt */
#define N_SEED 60
#define KEEP 40

static tk_api_fx_t fx;
static tk_test_service_t *const snap = &fx.svc; /* keeps the newest KEEP */
static tk_test_service_t full;                  /* keeps them all */
static tk_test_service_t live;                  /* the database path */
static int64_t base_ms;

static tk_api_fx_resp_t
call (const tk_test_service_t *s, const char *method, const char *path, const char *json)
{
   return tk_api_fx_call (s, method, path, ADMIN_KEY, json);
}

/* Which path answered: the X-Triage-Source header. Good until the next call. */
static const char *
source (const tk_api_fx_resp_t *r)
{
   static char buf[32];
   return tk_api_fx_header (r, "X-Triage-Source", buf, sizeof buf);
}

static int
setup (void **state)
{
   (void) state;
   if (!tk_api_fx_setup (&fx, "triage_test_api_newest_w", NULL, ADMIN_KEY)) {
      return -1;
   }
   tk_time_parse_iso ("2025-06-01T00:00:00Z", 20, &base_ms);
   /* W-0000 .. W-0059, one minute apart, W-0059 the newest; every third
    * one classified. */
   for (int i = 0; i < N_SEED; i++) {
      char id[16];
      snprintf (id, sizeof id, "W-%04d", i);
      int64_t at = base_ms + (int64_t) i * 60000;
      tk_api_fx_seed (&fx, id, "subject", "a body with \"quotes\" and ünïcödé", at);
      if (i % 3 == 0) {
         tk_api_fx_classify (&fx, id, "SSO", "API/SDK", "Curious", "P1 (Medium)", 0.91, 0.62,
                             0.333, 123, "m-1", at + 5000);
      }
   }
   const char *env_snap[] = {"TRIAGE_API_CACHE_TTL=1h", "TRIAGE_API_NEWEST_KEEP=40", NULL};
   const char *env_full[] = {"TRIAGE_API_CACHE_TTL=1h", "TRIAGE_API_NEWEST_KEEP=1000", NULL};
   const char *env_live[] = {"TRIAGE_API_CACHE_TTL=0", NULL};
   if (!tk_api_fx_start (&fx, snap, "api", env_snap) ||
       !tk_api_fx_start (&fx, &full, "api", env_full) ||
       !tk_api_fx_start (&fx, &live, "api", env_live)) {
      return -1;
   }
   /* Wait for the first snapshots: the statistics route waits for them. */
   const tk_test_service_t *kept[] = {snap, &full};
   for (int k = 0; k < 2; k++) {
      tk_api_fx_resp_t r = call (kept[k], "GET", "/api/processing-stats", NULL);
      long status = r.status;
      tk_api_fx_resp_free (&r);
      if (status != 200) {
         return -1;
      }
   }
   return 0;
}

static int
teardown (void **state)
{
   (void) state;
   int rc_full = tk_api_fx_stop (&full);
   int rc_live = tk_api_fx_stop (&live);
   int rc = tk_api_fx_teardown (&fx);
   return rc == 0 && rc_live == 0 && rc_full == 0 ? 0 : -1;
}

/* GET path on s must come from the snapshot and equal the database path's
 * answer. Returns the parsed body (caller frees). */
static cJSON *
page_from_snapshot (const tk_test_service_t *s, const char *path)
{
   tk_api_fx_resp_t a = call (s, "GET", path, NULL);
   tk_api_fx_resp_t b = call (&live, "GET", path, NULL);
   assert_int_equal (a.status, 200);
   assert_int_equal (b.status, 200);
   if (strcmp (a.body, b.body) != 0) {
      fprintf (stderr, "%s (%s) differs from the database:\n%s\n---\n%s\n", path, source (&a),
               a.body, b.body);
   }
   assert_string_equal (source (&a), "snapshot");
   assert_string_equal (a.body, b.body);
   cJSON *j = cJSON_Parse (a.body);
   assert_non_null (j);
   tk_api_fx_resp_free (&a);
   tk_api_fx_resp_free (&b);
   return j;
}

/* The item with id on page j, or NULL. */
static cJSON *
item (cJSON *j, const char *id)
{
   cJSON *it;
   cJSON_ArrayForEach (it, cJSON_GetObjectItem (j, "items"))
   {
      const char *got = tk_api_fx_str (it, "id");
      if (got && !strcmp (got, id)) {
         return it;
      }
   }
   return NULL;
}

/* Walks every page of the listing on s with limit, each page equal to the
 * database path's (so a cursor from either continues on either). window:
 * the tickets kept by s, when they are not the whole collection: the pages
 * (plus one ticket) within it come from the snapshot, floor((window - 1) /
 * limit) of them; 0: s keeps the whole collection and serves every page.
 * Returns the number of tickets listed. */
static int
walk (const tk_test_service_t *s, int limit, int window)
{
   char path[512], next[256] = "";
   int pages = 0, from_snap = 0, seen = 0;
   for (;;) {
      if (next[0]) {
         snprintf (path, sizeof path, "/api/tickets?limit=%d&cursor=%s", limit, next);
      } else {
         snprintf (path, sizeof path, "/api/tickets?limit=%d", limit);
      }
      tk_api_fx_resp_t a = call (s, "GET", path, NULL);
      tk_api_fx_resp_t b = call (&live, "GET", path, NULL);
      assert_int_equal (a.status, 200);
      assert_int_equal (b.status, 200);
      if (strcmp (a.body, b.body) != 0) {
         fprintf (stderr, "page %d (%s, %s) differs:\n%s\n---\n%s\n", pages, path, source (&a),
                  a.body, b.body);
      }
      assert_string_equal (a.body, b.body);
      from_snap += strcmp (source (&a), "snapshot") == 0;
      cJSON *j = cJSON_Parse (a.body);
      assert_non_null (j);
      seen += cJSON_GetArraySize (cJSON_GetObjectItem (j, "items"));
      const char *cur = tk_api_fx_str (j, "next_cursor");
      snprintf (next, sizeof next, "%s", cur ? cur : "");
      cJSON_Delete (j);
      tk_api_fx_resp_free (&a);
      tk_api_fx_resp_free (&b);
      pages++;
      if (!next[0]) {
         break;
      }
      assert_true (pages < 2 * N_SEED);
   }
   assert_int_equal (from_snap, window ? (window - 1) / limit : pages);
   return seen;
}

/* POST /api/analytics/refresh on s: its window is rescanned (for the
 * writes made through another api, which it does not see). */
static void
refresh (const tk_test_service_t *s)
{
   tk_api_fx_resp_t r = call (s, "POST", "/api/analytics/refresh", "");
   assert_int_equal (r.status, 200);
   tk_api_fx_resp_free (&r);
}

static const char *
priority_of (cJSON *it)
{
   assert_non_null (it);
   return tk_api_fx_str (cJSON_GetObjectItem (it, "classification"), "priority");
}

static const char *
first_id (cJSON *page)
{
   return tk_api_fx_str (cJSON_GetArrayItem (cJSON_GetObjectItem (page, "items"), 0), "id");
}

static void
expect_status (const tk_test_service_t *s, const char *method, const char *path,
               const char *json, long status)
{
   tk_api_fx_resp_t r = call (s, method, path, json);
   if (r.status != status) {
      fprintf (stderr, "%s %s: %ld %s\n", method, path, r.status, r.body);
   }
   assert_int_equal (r.status, status);
   tk_api_fx_resp_free (&r);
}

/* PUT: the corrected ticket keeps its place on page 1 and shows the new
 * classification, the corrector and the history, on either window; every
 * page still equals the database's. */
static void
test_correction_shows_at_once (void **state)
{
   (void) state;
   const tk_test_service_t *kept[] = {snap, &full};
   for (int k = 0; k < 2; k++) {
      cJSON *before = page_from_snapshot (kept[k], "/api/tickets?limit=10");
      assert_string_equal (priority_of (item (before, "W-0057")), "P1 (Medium)");
      cJSON_Delete (before);
   }
   const char *fixes[] = {"{\"classification\":{\"topic_tags\":[\"Product\"],\"sentiment\":"
                          "\"Neutral\",\"priority\":\"P0 (High)\"},\"note\":\"misrouted\"}",
                          "{\"classification\":{\"topic_tags\":[\"Product\"],\"sentiment\":"
                          "\"Neutral\",\"priority\":\"P2 (Low)\"}}"};
   const char *want[] = {"P0 (High)", "P2 (Low)"};
   for (int f = 0; f < 2; f++) {
      for (int k = 0; k < 2; k++) {
         expect_status (kept[k], "PUT", "/api/processed-tickets/W-0057", fixes[f], 200);
         cJSON *after = page_from_snapshot (kept[k], "/api/tickets?limit=10");
         cJSON *it = item (after, "W-0057");
         assert_ptr_equal (it, cJSON_GetArrayItem (cJSON_GetObjectItem (after, "items"), 2));
         assert_string_equal (priority_of (it), want[f]);
         assert_string_equal (
            tk_api_fx_str (cJSON_GetObjectItem (it, "processing_metadata"), "corrected_by"),
            "bootstrap");
         assert_int_equal (cJSON_GetArraySize (cJSON_GetObjectItem (it, "corrections")),
                           2 * f + k + 1);
         cJSON_Delete (after);
         walk (kept[k], 7, k == 0 ? KEEP : 0);
         refresh (kept[1 - k]); /* it saw none of this api's writes */
      }
   }
   /* An unprocessed ticket, corrected, shows processed. */
   expect_status (snap, "PUT", "/api/processed-tickets/W-0056", fixes[0], 200);
   cJSON *after = page_from_snapshot (snap, "/api/tickets?limit=5");
   assert_true (cJSON_IsTrue (cJSON_GetObjectItem (item (after, "W-0056"), "processed")));
   cJSON_Delete (after);
   assert_int_equal (walk (snap, 7, KEEP), N_SEED);
   refresh (&full);
}

/* DELETE: the ticket leaves page 1 at once, a cursor handed out before the
 * delete still continues exactly as on the database path, and every page
 * still equals the database's. */
static void
test_delete_leaves_at_once (void **state)
{
   (void) state;
   cJSON *p1 = page_from_snapshot (snap, "/api/tickets?limit=10");
   char cursor[256], page2[512];
   snprintf (cursor, sizeof cursor, "%s", tk_api_fx_str (p1, "next_cursor"));
   snprintf (page2, sizeof page2, "/api/tickets?limit=10&cursor=%s", cursor);
   assert_string_equal (first_id (p1), "W-0059");
   cJSON_Delete (p1);

   /* The newest ticket, from the window of `snap` (KEEP - 1 left). */
   expect_status (snap, "DELETE", "/api/processed-tickets/W-0059", NULL, 200);
   cJSON *after = page_from_snapshot (snap, "/api/tickets?limit=10");
   assert_null (item (after, "W-0059"));
   assert_string_equal (first_id (after), "W-0058");
   cJSON_Delete (after);
   cJSON *p2 = page_from_snapshot (snap, page2);
   cJSON_Delete (p2);
   assert_int_equal (walk (snap, 7, KEEP - 1), N_SEED - 1);
   assert_int_equal (walk (snap, 10, KEEP - 1), N_SEED - 1);
   /* A ticket older than the window: the window does not change. */
   expect_status (snap, "DELETE", "/api/processed-tickets/W-0005", NULL, 200);
   assert_int_equal (walk (snap, 7, KEEP - 1), N_SEED - 2);
   refresh (&full);

   /* One on page 2, from the whole collection kept by `full`. */
   expect_status (&full, "DELETE", "/api/processed-tickets/W-0045", NULL, 200);
   expect_status (&full, "DELETE", "/api/processed-tickets/W-0045", NULL, 404);
   p2 = page_from_snapshot (&full, page2);
   assert_null (item (p2, "W-0045"));
   cJSON_Delete (p2);
   assert_int_equal (walk (&full, 7, 0), N_SEED - 3);
   refresh (snap);
}

static void
post_ticket (const tk_test_service_t *s, const char *id, const char *created_at)
{
   char body[1024];
   snprintf (body, sizeof body,
             "{\"id\":\"%s\",\"subject\":\"posted\",\"body\":\"a posted ticket\","
             "\"created_at\":\"%s\",\"classification\":{\"topic_tags\":[\"SSO\"],"
             "\"sentiment\":\"Curious\",\"priority\":\"P2 (Low)\"},\"confidence_scores\":"
             "{\"topic\":0.7,\"sentiment\":0.8,\"priority\":0.9}}",
             id, created_at);
   expect_status (s, "POST", "/api/processed-tickets", body, 201);
}

/* POST: a ticket newer than all comes first on page 1 at once; one in the
 * middle of the window takes its place there (a full window lets its
 * oldest go); one older than the window of `snap` is left to the database
 * path, while `full` (the whole collection) lists it last. */
static void
test_new_ticket_appears_first (void **state)
{
   (void) state;
   int n = N_SEED - 3;
   post_ticket (snap, "W-new-a", "2025-06-01T02:00:00Z");
   cJSON *p = page_from_snapshot (snap, "/api/tickets?limit=5");
   assert_string_equal (first_id (p), "W-new-a");
   cJSON_Delete (p);
   assert_int_equal (walk (snap, 7, KEEP), ++n);
   post_ticket (snap, "W-mid", "2025-06-01T00:50:30Z"); /* between W-0050 and W-0051 */
   p = page_from_snapshot (snap, "/api/tickets?limit=15");
   assert_non_null (item (p, "W-mid"));
   cJSON_Delete (p);
   assert_int_equal (walk (snap, 7, KEEP), ++n);
   post_ticket (snap, "W-old", "2025-05-31T00:00:00Z");
   assert_int_equal (walk (snap, 7, KEEP), ++n);
   refresh (&full);

   post_ticket (&full, "W-new-b", "2025-06-01T03:00:00Z");
   p = page_from_snapshot (&full, "/api/tickets?limit=5");
   assert_string_equal (first_id (p), "W-new-b");
   cJSON_Delete (p);
   post_ticket (&full, "W-old-f", "2025-05-30T00:00:00Z");
   n += 2;
   char path[64];
   snprintf (path, sizeof path, "/api/tickets?limit=%d", n);
   p = page_from_snapshot (&full, path);
   assert_string_equal (
      tk_api_fx_str (cJSON_GetArrayItem (cJSON_GetObjectItem (p, "items"), n - 1), "id"),
      "W-old-f");
   cJSON_Delete (p);
   assert_int_equal (walk (&full, 7, 0), n);
   refresh (snap);
}

/* The race: a refresh scanning while a correction is written may read the
 * ticket before the write and finish after it; the window it brings must
 * still show the correction. Each round starts a refresh on another thread
 * and corrects a ticket on this one; once both are answered (the refreshed
 * window is installed before the refresh is answered) page 1 must equal
 * the database. Whether a round hits the interleaving depends on timing;
 * every round checks the result. */
typedef struct {
   char url[512];
   bool ok;
} refresher_t;

static void *
refresher (void *arg)
{
   refresher_t *rf = arg;
   const char *headers[] = {"Authorization: Bearer " ADMIN_KEY, NULL};
   tk_test_http_response_t res;
   rf->ok = tk_test_http ("POST", rf->url, "", 0, headers, &res) && res.status == 200;
   tk_test_http_free (&res);
   return NULL;
}

static void
test_writes_during_a_refresh_are_kept (void **state)
{
   (void) state;
   const char *prios[] = {"P0 (High)", "P1 (Medium)", "P2 (Low)"};
   for (int round = 0; round < 24; round++) {
      refresher_t rf;
      snprintf (rf.url, sizeof rf.url, "%s/api/analytics/refresh", snap->base_url);
      rf.ok = false;
      pthread_t th;
      assert_int_equal (pthread_create (&th, NULL, refresher, &rf), 0);
      char body[256];
      snprintf (body, sizeof body,
                "{\"classification\":{\"topic_tags\":[\"Product\"],\"sentiment\":\"Neutral\","
                "\"priority\":\"%s\"}}",
                prios[round % 3]);
      tk_api_fx_resp_t r = call (snap, "PUT", "/api/processed-tickets/W-0055", body);
      assert_int_equal (r.status, 200);
      tk_api_fx_resp_free (&r);
      pthread_join (th, NULL);
      assert_true (rf.ok);
      cJSON *p = page_from_snapshot (snap, "/api/tickets?limit=10");
      assert_string_equal (priority_of (item (p, "W-0055")), prios[round % 3]);
      cJSON_Delete (p);
   }
}

/* Two writes of one ticket at once may reach the database in one order and
 * be answered in the other, so the window cannot take the last answer as
 * the last state: each round corrects W-0057 on another thread while this
 * one deletes it, then stores it again; after each step page 1 of `snap`
 * must equal the database's, whichever path answered (an overlap drops the
 * window until the next scan). */
typedef struct {
   char url[512];
   long status;
} corrector_t;

static void *
corrector (void *arg)
{
   corrector_t *c = arg;
   const char *headers[] = {"Authorization: Bearer " ADMIN_KEY,
                            "Content-Type: application/json", NULL};
   const char *body = "{\"classification\":{\"topic_tags\":[\"Lineage\"],\"sentiment\":"
                      "\"Angry\",\"priority\":\"P0 (High)\"}}";
   tk_test_http_response_t res;
   c->status = tk_test_http ("PUT", c->url, body, strlen (body), headers, &res) ? res.status : 0;
   tk_test_http_free (&res);
   return NULL;
}

static void
page_one_equals_database (void)
{
   tk_api_fx_resp_t a = call (snap, "GET", "/api/tickets?limit=10", NULL);
   tk_api_fx_resp_t b = call (&live, "GET", "/api/tickets?limit=10", NULL);
   assert_int_equal (a.status, 200);
   assert_int_equal (b.status, 200);
   if (strcmp (a.body, b.body) != 0) {
      fprintf (stderr, "page 1 (%s) differs from the database:\n%s\n---\n%s\n", source (&a),
               a.body, b.body);
   }
   assert_string_equal (a.body, b.body);
   tk_api_fx_resp_free (&a);
   tk_api_fx_resp_free (&b);
}

static void
test_overlapping_writes_of_one_ticket (void **state)
{
   (void) state;
   for (int round = 0; round < 60; round++) {
      corrector_t c;
      snprintf (c.url, sizeof c.url, "%s/api/processed-tickets/W-0057", snap->base_url);
      c.status = 0;
      pthread_t th;
      assert_int_equal (pthread_create (&th, NULL, corrector, &c), 0);
      /* The DELETE starts from 0 to 5.8 ms after the PUT, so that some
       * rounds land between the PUT's re-read and its answer. */
      usleep ((useconds_t) (round % 30) * 200);
      tk_api_fx_resp_t r = call (snap, "DELETE", "/api/processed-tickets/W-0057", NULL);
      assert_int_equal (r.status, 200);
      tk_api_fx_resp_free (&r);
      pthread_join (th, NULL);
      assert_true (c.status == 200 || c.status == 404);
      page_one_equals_database ();
      post_ticket (snap, "W-0057", "2025-06-01T00:57:00Z");
      page_one_equals_database ();
   }
   refresh (snap);
   cJSON *p = page_from_snapshot (snap, "/api/tickets?limit=10");
   cJSON_Delete (p);
}

int
main (void)
{
   const struct CMUnitTest tests[] = {
      cmocka_unit_test (test_correction_shows_at_once),
      cmocka_unit_test (test_delete_leaves_at_once),
      cmocka_unit_test (test_new_ticket_appears_first),
      cmocka_unit_test (test_writes_during_a_refresh_are_kept),
      cmocka_unit_test (test_overlapping_writes_of_one_ticket),
   };
   return cmocka_run_group_tests (tests, setup, teardown);
}
