/* Audit log entries cannot be altered through any route (issue #8, item 5).
 * A real triage-api on its own database writes some audit entries; then,
 * with the administrator's key, every plausible way to change or delete
 * them over HTTP is tried: PUT/PATCH/DELETE/POST on /api/audit and
 * /api/audit/{id} (a real entry's id), look-alike paths, operator and regex
 * injection in the audit query parameters, and the routes that take an id,
 * a job or a body naming a collection, aimed at the audit collection. Each
 * attempt must be refused with a 4xx, and the audit_log collection, read
 * straight from the database, must still hold every earlier entry
 * byte for byte: only new entries (the attempts' own records) appended. */
#include "test_support.h"

#include "api_fixture.h"

#include <cjson/cJSON.h>
#include <mongoc/mongoc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ADMIN_KEY TRIAGE_TEST_ADMIN_KEY /* random per build: tests/CMakeLists.txt */

static tk_api_fx_t fx;

/* ---- helpers ------------------------------------------------------------ */

static long
call (const char *method, const char *path, const char *body, char **out_body)
{
   tk_api_fx_resp_t r = tk_api_fx_request (&fx.svc, method, path, ADMIN_KEY, body,
                                           body ? strlen (body) : 0, "application/json");
   long status = r.status;
   if (out_body) {
      *out_body = r.body;
      r.body = NULL;
   }
   tk_api_fx_resp_free (&r);
   return status;
}

/* The audit collection as stored: each document's raw BSON bytes, in _id
 * order (ObjectIds grow with insertion). */
typedef struct {
   bson_t **docs;
   size_t n;
} snapshot_t;

static snapshot_t
snapshot (void)
{
   snapshot_t s = {NULL, 0};
   mongoc_collection_t *coll = tk_api_fx_collection (&fx, "audit_log");
   bson_t filter = BSON_INITIALIZER;
   bson_t *opts = BCON_NEW ("sort", "{", "_id", BCON_INT32 (1), "}");
   mongoc_cursor_t *cur = mongoc_collection_find_with_opts (coll, &filter, opts, NULL);
   const bson_t *doc;
   while (mongoc_cursor_next (cur, &doc)) {
      s.docs = realloc (s.docs, (s.n + 1) * sizeof *s.docs);
      s.docs[s.n++] = bson_copy (doc);
   }
   bson_error_t e;
   if (mongoc_cursor_error (cur, &e)) {
      fail_msg ("read audit_log: %s", e.message);
   }
   mongoc_cursor_destroy (cur);
   bson_destroy (opts);
   tk_api_fx_collection_release (&fx, coll);
   return s;
}

static void
snapshot_free (snapshot_t *s)
{
   for (size_t i = 0; i < s->n; i++) {
      bson_destroy (s->docs[i]);
   }
   free (s->docs);
}

static bool
same_id (const bson_t *a, const bson_t *b)
{
   bson_iter_t ia, ib;
   if (!bson_iter_init_find (&ia, a, "_id") || !bson_iter_init_find (&ib, b, "_id") ||
       !BSON_ITER_HOLDS_OID (&ia) || !BSON_ITER_HOLDS_OID (&ib)) {
      return false;
   }
   return bson_oid_equal (bson_iter_oid (&ia), bson_iter_oid (&ib));
}

/* Every entry of before is in after, unchanged to the byte; after has only
 * new entries besides. */
static void
assert_only_appended (const snapshot_t *before, const snapshot_t *after)
{
   assert_true (after->n >= before->n);
   for (size_t i = 0; i < before->n; i++) {
      const bson_t *was = before->docs[i];
      const bson_t *now = NULL;
      for (size_t j = 0; j < after->n && !now; j++) {
         if (same_id (was, after->docs[j])) {
            now = after->docs[j];
         }
      }
      char *text = bson_as_canonical_extended_json (was, NULL);
      if (!now) {
         fail_msg ("audit entry gone: %s", text);
      }
      if (now->len != was->len || memcmp (bson_get_data (now), bson_get_data (was), was->len)) {
         char *changed = bson_as_canonical_extended_json (now, NULL);
         fail_msg ("audit entry altered:\n was %s\n now %s", text, changed);
      }
      bson_free (text);
   }
}

static void
oid_of (const bson_t *doc, char *hex)
{
   bson_iter_t it;
   assert_true (bson_iter_init_find (&it, doc, "_id") && BSON_ITER_HOLDS_OID (&it));
   bson_oid_to_string (bson_iter_oid (&it), hex);
}

/* ---- setup -------------------------------------------------------------- */

static int
setup (void **state)
{
   *state = &fx;
   if (!tk_api_fx_setup (&fx, "triage_test_audit", "test.audit.classify", ADMIN_KEY)) {
      return -1;
   }
   const char *env[] = {"TRIAGE_API_CACHE_TTL=0", NULL};
   return tk_api_fx_start (&fx, &fx.svc, "api", env) ? 0 : -1;
}

/* ---- the test ------------------------------------------------------------- */

static void
test_audit_entries_cannot_be_altered (void **state)
{
   (void) state;
   /* Some audit entries: a read, a key made and revoked, a ticket stored. */
   char *body = NULL;
   assert_int_equal (call ("GET", "/api/tickets", NULL, NULL), 200);
   assert_int_equal (call ("POST", "/api/keys", "{\"role\":\"viewer\",\"name\":\"v\"}", &body),
                     201);
   cJSON *key = cJSON_Parse (body);
   free (body);
   char key_path[256];
   snprintf (key_path, sizeof key_path, "/api/keys/%s",
             cJSON_GetObjectItem (key, "id")->valuestring);
   cJSON_Delete (key);
   assert_int_equal (call ("DELETE", key_path, NULL, NULL), 200);
   assert_int_equal (
      call ("POST", "/api/processed-tickets",
            "{\"id\":\"A-1\",\"subject\":\"s\",\"body\":\"b\",\"classification\":{\"topic_tags\":"
            "[\"Product\"],\"sentiment\":\"Neutral\",\"priority\":\"P2 (Low)\"},"
            "\"confidence_scores\":{\"topic\":1,\"sentiment\":1,\"priority\":1}}",
            NULL),
      201);
   assert_int_equal (call ("GET", "/api/audit", NULL, NULL), 200);

   /* The record is written right after the response: wait for them. */
   snapshot_t before = snapshot ();
   uint64_t deadline = tk_test_now_ms () + 30000;
   while (before.n < 4 && tk_test_now_ms () < deadline) {
      snapshot_free (&before);
      usleep (50 * 1000);
      before = snapshot ();
   }
   if (before.n < 4) {
      fail_msg ("only %zu audit entries", before.n);
   }
   char first[25], last[25];
   oid_of (before.docs[0], first);
   oid_of (before.docs[before.n - 1], last);

   /* Every way in. */
   const char *methods[] = {"PUT", "PATCH", "DELETE", "POST"};
   char paths[12][160];
   size_t n_paths = 0;
   snprintf (paths[n_paths++], sizeof paths[0], "/api/audit");
   snprintf (paths[n_paths++], sizeof paths[0], "/api/audit/%s", first);
   snprintf (paths[n_paths++], sizeof paths[0], "/api/audit/%s", last);
   snprintf (paths[n_paths++], sizeof paths[0], "/api/audit?_id=%s", first);
   snprintf (paths[n_paths++], sizeof paths[0], "/api/audit?action=tickets.list");
   snprintf (paths[n_paths++], sizeof paths[0], "/api/audit/");
   snprintf (paths[n_paths++], sizeof paths[0], "/api/audit_log");
   snprintf (paths[n_paths++], sizeof paths[0], "/api/audit_log/%s", first);
   snprintf (paths[n_paths++], sizeof paths[0], "/api/audit-log");
   snprintf (paths[n_paths++], sizeof paths[0], "/api/audit/%s/..", first);
   snprintf (paths[n_paths++], sizeof paths[0], "/api/%%61udit/%s", first);
   snprintf (paths[n_paths++], sizeof paths[0], "/api/audit/..%%2F..%%2Faudit_log");
   const char *bodies[] = {
      NULL,
      "{\"status\":200,\"action\":\"forged\"}",
      "{\"$set\":{\"action\":\"forged\"}}",
      "[{\"q\":{},\"u\":{\"$set\":{\"status\":0}}}]",
   };
   int attempts = 0, accepted = 0;
   for (size_t p = 0; p < n_paths; p++) {
      for (size_t m = 0; m < sizeof methods / sizeof methods[0]; m++) {
         for (size_t b = 0; b < sizeof bodies / sizeof bodies[0]; b++) {
            long st = call (methods[m], paths[p], bodies[b], NULL);
            /* 501: a method no route of the api serves (PATCH). */
            if ((st < 400 || st >= 500) && st != 501) {
               fail_msg ("%s %s %s -> %ld (want a 4xx or 501 refusal)", methods[m], paths[p],
                         bodies[b] ? bodies[b] : "", st);
            }
            attempts++;
         }
      }
   }

   /* The audit read route: operator and regex injection, and parameters
    * that a careless handler might pass on to a write. */
   const char *reads[] = {
      "/api/audit?key_id[$ne]=x",
      "/api/audit?key_id%5B%24ne%5D=x",
      "/api/audit?action[$regex]=.*",
      "/api/audit?$where=1",
      "/api/audit?%24where=sleep(1)",
      "/api/audit?limit=%24gt",
      "/api/audit?limit=0",
      "/api/audit?delete=true",
      "/api/audit?update=%7B%22%24set%22%3A%7B%7D%7D",
      "/api/audit?_method=DELETE",
   };
   for (size_t i = 0; i < sizeof reads / sizeof reads[0]; i++) {
      long st = call ("GET", reads[i], NULL, NULL);
      if (st != 400) {
         fail_msg ("GET %s -> %ld (want 400)", reads[i], st);
      }
      attempts++;
   }
   /* Values that look like operators are plain strings: nothing matches. */
   char *list = NULL;
   assert_int_equal (call ("GET", "/api/audit?key_id=%7B%22%24ne%22%3A%22x%22%7D", NULL, &list),
                     200);
   cJSON *j = cJSON_Parse (list);
   assert_int_equal (cJSON_GetObjectItem (j, "count")->valueint, 0);
   cJSON_Delete (j);
   free (list);
   assert_int_equal (call ("GET", "/api/audit?action=%5E.*%24", NULL, &list), 200);
   j = cJSON_Parse (list);
   assert_int_equal (cJSON_GetObjectItem (j, "count")->valueint, 0);
   cJSON_Delete (j);
   free (list);

   /* Routes that take an id, a job or a body, aimed at the audit entries. */
   char p1[200], p2[200], p3[200], p4[200], p5[200];
   snprintf (p1, sizeof p1, "/api/processed-tickets/%s", first);
   snprintf (p2, sizeof p2, "/api/keys/%s", first);
   snprintf (p3, sizeof p3, "/api/process/%s", first);
   snprintf (p4, sizeof p4, "/api/tickets/%s", first);
   snprintf (p5, sizeof p5, "/api/processed-tickets/..%%2Faudit_log%%2F%s", first);
   /* may_accept: a route whose own job may go ahead (it ignores fields it
    * does not know); it must still leave the audit entries alone. */
   struct {
      const char *method, *path, *body;
      bool may_accept;
   } aimed[] = {
      {"DELETE", p1, NULL, false},
      {"PUT", p1,
       "{\"classification\":{\"topic_tags\":[\"Product\"],\"sentiment\":\"Neutral\","
       "\"priority\":\"P2 (Low)\"}}", false},
      {"DELETE", "/api/processed-tickets/audit_log", NULL, false},
      {"DELETE", p5, NULL, false},
      {"DELETE", p2, NULL, false},
      {"DELETE", "/api/keys/audit_log", NULL, false},
      {"GET", p3, NULL, false},
      {"DELETE", p4, NULL, false},
      {"PUT", p4, "{\"subject\":\"x\"}", false},
      {"POST", "/api/processed-tickets",
       "{\"id\":\"A-2\",\"collection\":\"audit_log\",\"subject\":\"s\",\"body\":\"b\","
       "\"classification\":{\"$set\":{\"status\":0}}}", false},
      {"POST", "/api/process", "{\"collection\":\"audit_log\",\"ids\":[{\"$ne\":null}]}", false},
      {"POST", "/api/dlq/replay", "{\"collection\":\"audit_log\",\"filter\":{}}", true},
      {"POST", "/api/keys",
       "{\"role\":\"admin\",\"collection\":\"audit_log\",\"_id\":{\"$oid\":\"0\"}}", true},
      {"GET", "/api/tickets?collection=audit_log", NULL, false},
      {"GET", "/api/tickets/export.ndjson?collection=audit_log", NULL, false},
      {"POST", "/api/analytics/refresh?collection=audit_log", NULL, false},
      {"GET", "/static/..%2F..%2Faudit_log", NULL, false},
   };
   for (size_t i = 0; i < sizeof aimed / sizeof aimed[0]; i++) {
      long st = call (aimed[i].method, aimed[i].path, aimed[i].body, NULL);
      fprintf (stderr, "%s %s -> %ld\n", aimed[i].method, aimed[i].path, st);
      accepted += st < 300;
      if ((st < 400 || st >= 500) && !(aimed[i].may_accept && st < 300)) {
         fail_msg ("%s %s %s -> %ld (want a 4xx refusal)", aimed[i].method, aimed[i].path,
                   aimed[i].body ? aimed[i].body : "", st);
      }
      attempts++;
   }
   fprintf (stderr, "%d attempts: %d refused, %d done their own job on tickets or keys\n",
            attempts, attempts - accepted, accepted);

   snapshot_t after = snapshot ();
   assert_only_appended (&before, &after);
   /* The attempts that reached a route were themselves recorded. */
   assert_true (after.n > before.n);
   snapshot_free (&before);
   snapshot_free (&after);
}

int
main (void)
{
   const struct CMUnitTest tests[] = {
      cmocka_unit_test (test_audit_entries_cannot_be_altered),
   };
   return cmocka_run_group_tests (tests, setup, tk_api_fx_group_teardown);
}
