/* GET /api/tickets served from the newest tickets kept in the statistics
 * snapshot (services/api/newest.h), on the real stack: tickets seeded
 * straight into the store, two triage-api children on the same database,
 * one keeping the newest 100 tickets in its snapshot (TRIAGE_API_CACHE_TTL=1h,
 * refreshed only on request) and one keeping nothing
 * (TRIAGE_API_CACHE_TTL=0: every listing queries the database). Pages of
 * the first must equal those of the second byte for byte, cursors from
 * either must continue on either, and walking every page must cross from
 * the snapshot into the database without losing or repeating a ticket.
 * Which one answered is read from the X-Triage-Source response header. */
#include "test_support.h"

#include "service_proc.h"
#include "store.h"
#include "ticket.h"
#include "timeutil.h"

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define ADMIN_KEY "test-admin-key-newest-0123456789"
#define N_SEED 300
#define KEEP 100

static char db_name[64];
static char env_db[128], env_mongo[256], env_brokers[256];
static tk_test_service_t snap; /* keeps the newest KEEP tickets */
static tk_test_service_t live; /* TRIAGE_API_CACHE_TTL=0: the database path */
static tk_store_t *store;
static int64_t base_ms;
/* The seeded ids in the listing's order (created_at, then id, descending). */
static char expected[N_SEED][16];

typedef struct {
   long status;
   char *body;
   size_t len;
   char source[32]; /* X-Triage-Source */
} resp_t;

static size_t
on_body (char *data, size_t size, size_t n, void *user)
{
   resp_t *r = user;
   size_t add = size * n;
   char *grown = realloc (r->body, r->len + add + 1);
   assert_non_null (grown);
   memcpy (grown + r->len, data, add);
   r->len += add;
   grown[r->len] = '\0';
   r->body = grown;
   return add;
}

static size_t
on_header (char *data, size_t size, size_t n, void *user)
{
   resp_t *r = user;
   size_t len = size * n;
   static const char name[] = "X-Triage-Source:";
   if (len > sizeof name && !strncasecmp (data, name, sizeof name - 1)) {
      const char *v = data + sizeof name - 1;
      while (*v == ' ') {
         v++;
      }
      size_t vlen = (size_t) (data + len - v);
      while (vlen && (v[vlen - 1] == '\r' || v[vlen - 1] == '\n')) {
         vlen--;
      }
      snprintf (r->source, sizeof r->source, "%.*s", (int) vlen, v);
   }
   return len;
}

/* One request with the admin key; the test's own libcurl call because
 * tk_test_http does not return response headers. */
static resp_t
request (const tk_test_service_t *s, const char *method, const char *path)
{
   char url[2048];
   snprintf (url, sizeof url, "%s%s", s->base_url, path);
   resp_t r;
   memset (&r, 0, sizeof r);
   CURL *c = curl_easy_init ();
   assert_non_null (c);
   struct curl_slist *hl = curl_slist_append (NULL, "Authorization: Bearer " ADMIN_KEY);
   curl_easy_setopt (c, CURLOPT_URL, url);
   curl_easy_setopt (c, CURLOPT_CUSTOMREQUEST, method);
   curl_easy_setopt (c, CURLOPT_HTTPHEADER, hl);
   curl_easy_setopt (c, CURLOPT_WRITEFUNCTION, on_body);
   curl_easy_setopt (c, CURLOPT_WRITEDATA, &r);
   curl_easy_setopt (c, CURLOPT_HEADERFUNCTION, on_header);
   curl_easy_setopt (c, CURLOPT_HEADERDATA, &r);
   curl_easy_setopt (c, CURLOPT_TIMEOUT, 120L);
   if (!strcmp (method, "POST")) {
      curl_easy_setopt (c, CURLOPT_POSTFIELDS, "");
   }
   assert_int_equal (curl_easy_perform (c), CURLE_OK);
   curl_easy_getinfo (c, CURLINFO_RESPONSE_CODE, &r.status);
   curl_slist_free_all (hl);
   curl_easy_cleanup (c);
   if (!r.body) {
      r.body = calloc (1, 1);
   }
   return r;
}

static void
resp_free (resp_t *r)
{
   free (r->body);
   r->body = NULL;
}

static void
seed (const char *id, int64_t created_at)
{
   tk_ticket_t *t = tk_ticket_new ();
   t->id = strdup (id);
   t->subject = strdup ("subject of a ticket");
   t->body = strdup ("a body with \"quotes\", a tab\t and ünïcödé");
   t->created_at = created_at;
   tk_insert_result_t res;
   tk_error_t err;
   assert_true (tk_store_insert_tickets (store, &t, 1, &res, &err));
   assert_int_equal (res.n_stored, 1);
   tk_insert_result_cleanup (&res);
   tk_ticket_destroy (t);
}

static void
classify (const char *id, int64_t processed_at)
{
   tk_classification_t c = {{"SSO", "API/SDK"}, 2, "Curious", "P1 (Medium)"};
   tk_confidence_t cf = {0.91, 0.62, 0.333};
   tk_processing_metadata_t m = {processed_at, "m-1", 123, "1.0"};
   tk_error_t err;
   assert_true (tk_store_update_ticket_with_classification (store, id, &c, &cf, &m, &err));
}

static const char *
json_str (const cJSON *o, const char *key)
{
   const cJSON *v = cJSON_GetObjectItemCaseSensitive (o, key);
   return cJSON_IsString (v) ? v->valuestring : NULL;
}

static int
setup (void **state)
{
   (void) state;
   tk_error_t err;
   curl_global_init (CURL_GLOBAL_DEFAULT);
   tk_test_unique_name ("triage_test_api_newest", db_name, sizeof db_name);
   snprintf (env_db, sizeof env_db, "TRIAGE_MONGO_DB=%s", db_name);
   snprintf (env_mongo, sizeof env_mongo, "TRIAGE_MONGO_URI=%s", tk_test_mongo_uri ());
   snprintf (env_brokers, sizeof env_brokers, "TRIAGE_KAFKA_BROKERS=%s", tk_test_kafka_brokers ());
   store = tk_store_new (tk_test_mongo_uri (), db_name, 2, &err);
   if (!store || !tk_store_ensure_indexes (store, &err)) {
      return -1;
   }
   tk_time_parse_iso ("2025-06-01T00:00:00Z", 20, &base_ms);
   /* N_SEED tickets with distinct created_at, inserted in a shuffled order
    * (so the scan does not see them sorted), except that N3-0089..0091
    * share one created_at: the id breaks the tie, at the edge of the
    * window of KEEP. Every third ticket is processed. */
   int order[N_SEED];
   for (int i = 0; i < N_SEED; i++) {
      order[i] = i;
   }
   for (int i = N_SEED - 1; i > 0; i--) {
      int j = (i * 7919 + 13) % (i + 1);
      int t = order[i];
      order[i] = order[j];
      order[j] = t;
   }
   for (int k = 0; k < N_SEED; k++) {
      int i = order[k];
      char id[16];
      snprintf (id, sizeof id, "N3-%04d", i);
      int64_t at = base_ms + (int64_t) i * 60000;
      if (i >= N_SEED - 91 && i <= N_SEED - 89) {
         at = base_ms + (int64_t) (N_SEED - 90) * 60000;
      }
      seed (id, at);
      if (i % 3 == 0) {
         classify (id, at + 5000);
      }
   }
   for (int i = 0; i < N_SEED; i++) {
      snprintf (expected[i], sizeof expected[i], "N3-%04d", N_SEED - 1 - i);
   }

   const char *env_snap[] = {env_db, env_mongo, env_brokers, "TRIAGE_ADMIN_KEY=" ADMIN_KEY,
                             "TRIAGE_API_CACHE_TTL=1h", "TRIAGE_API_NEWEST_KEEP=100", NULL};
   const char *env_live[] = {env_db, env_mongo, env_brokers, "TRIAGE_ADMIN_KEY=" ADMIN_KEY,
                             "TRIAGE_API_CACHE_TTL=0", NULL};
   if (!tk_test_service_start (&snap, "api", env_snap, 20000)) {
      return -1;
   }
   if (!tk_test_service_start (&live, "api", env_live, 20000)) {
      return -1;
   }
   /* Wait for the first snapshot: the statistics route waits for it. */
   resp_t r = request (&snap, "GET", "/api/processing-stats");
   long status = r.status;
   resp_free (&r);
   return status == 200 ? 0 : -1;
}

static int
teardown (void **state)
{
   (void) state;
   tk_error_t err;
   int rc = tk_test_service_stop (&snap, SIGTERM, 15000);
   int rc2 = tk_test_service_stop (&live, SIGTERM, 15000);
   if (rc != 0) {
      tk_test_service_dump_log (&snap);
   }
   if (rc2 != 0) {
      tk_test_service_dump_log (&live);
   }
   if (store) {
      tk_store_drop_database (store, &err);
   }
   tk_store_destroy (store);
   curl_global_cleanup ();
   return rc == 0 && rc2 == 0 ? 0 : -1;
}

/* Walks every page of path (which ends in "?limit=N") on s, checking each
 * page against the same request on the database path and the ids against
 * the seed. Returns how many pages came from the snapshot and from the
 * database through *from_snap and *from_db. */
static void
walk (const tk_test_service_t *s, int limit, int *from_snap, int *from_db)
{
   char path[512], next[256] = "";
   int seen = 0, pages = 0;
   *from_snap = *from_db = 0;
   for (;;) {
      if (next[0]) {
         snprintf (path, sizeof path, "/api/tickets?limit=%d&cursor=%s", limit, next);
      } else {
         snprintf (path, sizeof path, "/api/tickets?limit=%d", limit);
      }
      resp_t a = request (s, "GET", path);
      resp_t b = request (&live, "GET", path);
      assert_int_equal (a.status, 200);
      assert_int_equal (b.status, 200);
      assert_string_equal (b.source, "database");
      if (!strcmp (a.source, "snapshot")) {
         (*from_snap)++;
      } else {
         assert_string_equal (a.source, "database");
         (*from_db)++;
      }
      /* The same bytes, whichever answered. */
      if (strcmp (a.body, b.body) != 0) {
         fprintf (stderr, "page %d (%s) differs:\n%s\n---\n%s\n", pages, path, a.body, b.body);
      }
      assert_string_equal (a.body, b.body);
      cJSON *j = cJSON_Parse (a.body);
      assert_non_null (j);
      cJSON *items = cJSON_GetObjectItem (j, "items");
      int n = cJSON_GetArraySize (items);
      assert_true (n <= limit);
      for (int i = 0; i < n; i++) {
         assert_true (seen < N_SEED);
         assert_string_equal (json_str (cJSON_GetArrayItem (items, i), "id"), expected[seen]);
         seen++;
      }
      const char *cur = json_str (j, "next_cursor");
      snprintf (next, sizeof next, "%s", cur ? cur : "");
      cJSON_Delete (j);
      resp_free (&a);
      resp_free (&b);
      pages++;
      if (!next[0]) {
         break;
      }
      assert_true (pages < N_SEED + 2);
   }
   assert_int_equal (seen, N_SEED); /* every ticket once, in order */
}

/* Page 1 and the pages after it equal the database's, and the walk crosses
 * the window of KEEP tickets into the database path. */
static void
test_pages_equal_the_database_across_the_window (void **state)
{
   (void) state;
   int limits[] = {30, 7, 50};
   for (size_t k = 0; k < sizeof limits / sizeof limits[0]; k++) {
      int from_snap, from_db;
      walk (&snap, limits[k], &from_snap, &from_db);
      /* Pages wholly inside the 100 kept tickets, plus one more ticket to
       * tell whether a next page exists: floor(99 / limit). */
      assert_int_equal (from_snap, (KEEP - 1) / limits[k]);
      assert_true (from_db > 0);
   }
}

/* Filters and other sorts go to the database (and agree with it). */
static void
test_filters_and_sorts_go_to_the_database (void **state)
{
   (void) state;
   const char *paths[] = {"/api/tickets?status=processed&limit=5", "/api/tickets?sort=created_at&limit=5",
                          "/api/tickets?q=N3-0299", "/api/tickets?sort=-processed_at&limit=3",
                          "/api/tickets?limit=1000"};
   for (size_t k = 0; k < sizeof paths / sizeof paths[0]; k++) {
      resp_t a = request (&snap, "GET", paths[k]);
      resp_t b = request (&live, "GET", paths[k]);
      assert_int_equal (a.status, 200);
      assert_string_equal (a.source, "database");
      assert_string_equal (a.body, b.body);
      resp_free (&a);
      resp_free (&b);
   }
   /* The default listing itself is served from the snapshot. */
   resp_t a = request (&snap, "GET", "/api/tickets");
   assert_int_equal (a.status, 200);
   assert_string_equal (a.source, "snapshot");
   resp_free (&a);
}

/* A read answered from the snapshot is audited like any other. Its record
 * is written in a batch just after the response (audit_queue.c), so the
 * test waits for it, up to 10 s. */
static void
test_snapshot_reads_are_audited (void **state)
{
   (void) state;
   resp_t a = request (&snap, "GET", "/api/tickets?limit=3");
   assert_string_equal (a.source, "snapshot");
   resp_free (&a);
   resp_t r = {0};
   cJSON *j = NULL;
   cJSON *rec = NULL;
   uint64_t deadline = tk_test_now_ms () + 10000;
   for (;;) {
      r = request (&snap, "GET", "/api/audit?action=tickets.list&limit=1");
      assert_int_equal (r.status, 200);
      j = cJSON_Parse (r.body);
      rec = cJSON_GetArrayItem (cJSON_GetObjectItem (j, "items"), 0);
      if (rec && json_str (rec, "query") && strcmp (json_str (rec, "query"), "limit=3") == 0) {
         break;
      }
      cJSON_Delete (j);
      resp_free (&r);
      if (tk_test_now_ms () > deadline) {
         fail_msg ("the audit record of the snapshot read did not appear within 10 s");
      }
      usleep (50 * 1000);
   }
   assert_int_equal (cJSON_GetObjectItem (rec, "status")->valueint, 200);
   cJSON *detail = cJSON_GetObjectItem (rec, "detail");
   assert_string_equal (json_str (detail, "source"), "snapshot");
   assert_int_equal (cJSON_GetObjectItem (detail, "returned")->valueint, 3);
   cJSON_Delete (j);
   resp_free (&r);
}

/* Many identical reads from the snapshot may share one audit record (its
 * "count"), but every one of them is counted: the counts of the records of
 * that read add up to the number of requests. */
static void
test_every_snapshot_read_is_counted (void **state)
{
   (void) state;
   enum { N_READS = 300 };
   for (int i = 0; i < N_READS; i++) {
      resp_t a = request (&snap, "GET", "/api/tickets?limit=4");
      assert_int_equal (a.status, 200);
      assert_string_equal (a.source, "snapshot");
      resp_free (&a);
   }
   long counted = 0;
   size_t records = 0;
   uint64_t deadline = tk_test_now_ms () + 15000;
   for (;;) {
      resp_t r = request (&snap, "GET", "/api/audit?action=tickets.list&limit=1000");
      assert_int_equal (r.status, 200);
      cJSON *j = cJSON_Parse (r.body);
      cJSON *rec;
      counted = 0;
      records = 0;
      cJSON_ArrayForEach (rec, cJSON_GetObjectItem (j, "items"))
      {
         const char *q = json_str (rec, "query");
         if (q && strcmp (q, "limit=4") == 0) {
            cJSON *c = cJSON_GetObjectItem (rec, "count");
            counted += cJSON_IsNumber (c) ? (long) c->valuedouble : 1;
            records++;
         }
      }
      cJSON_Delete (j);
      resp_free (&r);
      if (counted >= N_READS || tk_test_now_ms () > deadline) {
         break;
      }
      usleep (100 * 1000);
   }
   print_message ("%d snapshot reads -> %zu audit records\n", N_READS, records);
   assert_int_equal (counted, N_READS);
   assert_true (records >= 1 && records <= N_READS);
}

/* A ticket stored after the snapshot is on page 1 once the snapshot is
 * refreshed (here by POST /api/analytics/refresh; the timer does the same
 * every TRIAGE_API_CACHE_TTL), and the database path has it at once. */
static void
test_new_ticket_appears_after_the_refresh (void **state)
{
   (void) state;
   seed ("N3-new", base_ms + (int64_t) N_SEED * 60000);
   resp_t a = request (&snap, "GET", "/api/tickets?limit=1");
   assert_string_equal (a.source, "snapshot");
   assert_non_null (strstr (a.body, expected[0])); /* still the old page 1 */
   resp_free (&a);
   resp_t b = request (&live, "GET", "/api/tickets?limit=1");
   assert_non_null (strstr (b.body, "\"id\":\"N3-new\""));

   resp_t r = request (&snap, "POST", "/api/analytics/refresh");
   assert_int_equal (r.status, 200);
   resp_free (&r);
   a = request (&snap, "GET", "/api/tickets?limit=1");
   assert_string_equal (a.source, "snapshot");
   assert_string_equal (a.body, b.body);
   resp_free (&a);
   resp_free (&b);
}

int
main (void)
{
   const struct CMUnitTest tests[] = {
      cmocka_unit_test (test_pages_equal_the_database_across_the_window),
      cmocka_unit_test (test_filters_and_sorts_go_to_the_database),
      cmocka_unit_test (test_snapshot_reads_are_audited),
      cmocka_unit_test (test_every_snapshot_read_is_counted),
      cmocka_unit_test (test_new_ticket_appears_after_the_refresh),
   };
   return cmocka_run_group_tests (tests, setup, teardown);
}
