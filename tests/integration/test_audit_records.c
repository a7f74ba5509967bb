/* Audit records and upload reports on the real stack (issue 14): a
 * triage-ingest (TRIAGE_ON_DUPLICATE=update) and a triage-api forwarding
 * uploads to it (TRIAGE_STORE_MASKED=true), on one fresh database; the
 * audit_log collection is read straight from the database.
 *
 * - An upload to ingest names the key, its role, the client's address and
 *   the tickets it stored (the first 100, and the count), and an upload
 *   that rewrites tickets names exactly the ones it changed.
 * - The api's record of an upload it forwarded names the tickets ingest
 *   stored.
 * - Reading the keys or the audit log is recorded; a correction, a delete
 *   and a processing job name their tickets, and a correction's note is
 *   masked like ticket text.
 * - An upload report lists at most 1,000 rejected rows and counts the rest
 *   by reason; in the plain build, a 4 MB body of two million bad rows
 *   leaves ingest's peak memory within 64 MB of where it started (it once
 *   took 470 MB more). */
#include "test_support.h"

#include "api_fixture.h"
#include "buf.h"

#include <cjson/cJSON.h>
#include <mongoc/mongoc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ADMIN_KEY TRIAGE_TEST_ADMIN_KEY /* random per build: tests/CMakeLists.txt */

static tk_api_fx_t fx;
static tk_test_service_t ingest;
static char env_inbound[160], env_group[160], env_ingest_url[160];
static char op_key[128], op_key_id[64];

/* ---- setup ------------------------------------------------------------------ */

static int
setup (void **state)
{
   (void) state;
   if (!tk_api_fx_setup (&fx, "triage_test_auditrec", "test.auditrec.classify", ADMIN_KEY)) {
      return -1;
   }
   char base[96];
   tk_test_unique_name ("test.auditrec", base, sizeof base);
   snprintf (env_inbound, sizeof env_inbound, "TRIAGE_TOPIC_INBOUND=%s.inbound", base);
   snprintf (env_group, sizeof env_group, "TRIAGE_KAFKA_GROUP=%s.group", base);
   const char *ingest_env[] = {env_inbound, env_group, "TRIAGE_ON_DUPLICATE=update",
                               "TRIAGE_AUTO_CLASSIFY=false", NULL};
   if (!tk_api_fx_start (&fx, &ingest, "ingest", ingest_env)) {
      return -1;
   }
   snprintf (env_ingest_url, sizeof env_ingest_url, "TRIAGE_INGEST_URL=%s", ingest.base_url);
   const char *api_env[] = {env_ingest_url, "TRIAGE_STORE_MASKED=true", NULL};
   if (!tk_api_fx_start (&fx, &fx.svc, "api", api_env)) {
      return -1;
   }
   tk_api_fx_make_role_keys (&fx);
   tk_api_fx_resp_t r = tk_api_fx_call (&fx.svc, "POST", "/api/keys", ADMIN_KEY,
                                        "{\"role\":\"operator\",\"name\":\"uploader\"}");
   assert_int_equal (r.status, 201);
   snprintf (op_key, sizeof op_key, "%s", tk_api_fx_str (r.json, "key"));
   snprintf (op_key_id, sizeof op_key_id, "%s", tk_api_fx_str (r.json, "id"));
   tk_api_fx_resp_free (&r);
   return 0;
}

static int
teardown (void **state)
{
   (void) state;
   int rc = tk_api_fx_stop (&ingest);
   return tk_api_fx_teardown (&fx) == 0 && rc == 0 ? 0 : -1;
}

/* ---- reading audit_log ------------------------------------------------------- */

/* The newest record of service and action that also matches also (may be
 * NULL; destroyed here), polled for up to 30 s: records are written off
 * the loop, right after (ingest) or before (api) the answer. Caller
 * destroys the copy. */
static bson_t *
wait_record (const char *service, const char *action, bson_t *also)
{
   bson_t *filter = BCON_NEW ("service", BCON_UTF8 (service), "action", BCON_UTF8 (action));
   if (also) {
      bson_concat (filter, also);
      bson_destroy (also);
   }
   bson_t *opts = BCON_NEW ("sort", "{", "_id", BCON_INT32 (-1), "}", "limit", BCON_INT64 (1));
   bson_t *found = NULL;
   uint64_t deadline = tk_test_now_ms () + 30000;
   while (!found && tk_test_now_ms () < deadline) {
      mongoc_collection_t *coll = tk_api_fx_collection (&fx, "audit_log");
      mongoc_cursor_t *cur = mongoc_collection_find_with_opts (coll, filter, opts, NULL);
      const bson_t *doc;
      if (mongoc_cursor_next (cur, &doc)) {
         found = bson_copy (doc);
      }
      mongoc_cursor_destroy (cur);
      tk_api_fx_collection_release (&fx, coll);
      if (!found) {
         usleep (50 * 1000);
      }
   }
   if (!found) {
      char *text = bson_as_relaxed_extended_json (filter, NULL);
      fail_msg ("no audit record matching %s", text);
   }
   bson_destroy (opts);
   bson_destroy (filter);
   return found;
}

static const char *
str_at (const bson_t *doc, const char *path)
{
   bson_iter_t it, f;
   if (bson_iter_init (&it, doc) && bson_iter_find_descendant (&it, path, &f) &&
       BSON_ITER_HOLDS_UTF8 (&f)) {
      return bson_iter_utf8 (&f, NULL);
   }
   fail_msg ("no string at %s", path);
   return NULL;
}

static int64_t
int_at (const bson_t *doc, const char *path)
{
   bson_iter_t it, f;
   if (bson_iter_init (&it, doc) && bson_iter_find_descendant (&it, path, &f) &&
       BSON_ITER_HOLDS_NUMBER (&f)) {
      return bson_iter_as_int64 (&f);
   }
   fail_msg ("no number at %s", path);
   return -1;
}

/* The ticket_ids of rec, joined with ',' into buf (in order). Returns how
 * many there are. */
static size_t
ticket_ids (const bson_t *rec, char *buf, size_t cap)
{
   bson_iter_t it, arr;
   size_t n = 0, used = 0;
   buf[0] = '\0';
   assert_true (bson_iter_init_find (&it, rec, "ticket_ids") && BSON_ITER_HOLDS_ARRAY (&it));
   assert_true (bson_iter_recurse (&it, &arr));
   while (bson_iter_next (&arr)) {
      assert_true (BSON_ITER_HOLDS_UTF8 (&arr));
      used += (size_t) snprintf (buf + used, used < cap ? cap - used : 0, "%s%s", n ? "," : "",
                                 bson_iter_utf8 (&arr, NULL));
      n++;
   }
   return n;
}

/* The record names the key, its role and a loopback client address. */
static void
assert_identity (const bson_t *rec, const char *key_id, const char *role)
{
   assert_string_equal (str_at (rec, "key_id"), key_id);
   assert_string_equal (str_at (rec, "role"), role);
   const char *client = str_at (rec, "client");
   if (strncmp (client, "127.0.0.1", 9) != 0) {
      fail_msg ("client address \"%s\" is not the test's (127.0.0.1)", client);
   }
}

static tk_api_fx_resp_t
post_ingest (const char *key, const char *body, size_t len)
{
   return tk_api_fx_request (&ingest, "POST", "/v1/tickets", key, body, len,
                             "application/x-ndjson");
}

/* ---- ingest -------------------------------------------------------------------- */

static void
test_ingest_upload_names_key_client_and_tickets (void **state)
{
   (void) state;
   tk_buf_t body = TK_BUF_INIT;
   for (int i = 0; i < 150; i++) {
      assert_true (tk_buf_appendf (&body, "{\"id\":\"AU-%03d\",\"subject\":\"s%d\",\"body\":\"b\"}\n",
                                   i, i));
   }
   assert_true (tk_buf_append_str (&body, "not json\n[1]\n"));
   tk_api_fx_resp_t r = post_ingest (op_key, body.data, body.len);
   assert_int_equal (r.status, 200);
   assert_int_equal ((int) tk_api_fx_num (r.json, "stored"), 150);
   tk_api_fx_resp_free (&r);
   tk_buf_destroy (&body);

   bson_t *rec = wait_record ("ingest", "tickets.upload", NULL);
   assert_identity (rec, op_key_id, "operator");
   assert_int_equal (int_at (rec, "status"), 200);
   assert_string_equal (str_at (rec, "route"), "/v1/tickets");
   char ids[4096];
   assert_int_equal (ticket_ids (rec, ids, sizeof ids), 100); /* the bound */
   assert_int_equal (int_at (rec, "ticket_count"), 150);
   assert_true (strncmp (ids, "AU-000,AU-001,", 14) == 0);
   assert_int_equal (int_at (rec, "detail.stored"), 150);
   assert_int_equal (int_at (rec, "detail.rejected"), 2);
   bson_destroy (rec);

   /* TRIAGE_ON_DUPLICATE=update: an upload that rewrites three tickets'
    * text and sends a fourth unchanged names exactly the three. */
   const char rewrite[] = "{\"id\":\"AU-007\",\"subject\":\"s7\",\"body\":\"rewritten\"}\n"
                          "{\"id\":\"AU-008\",\"subject\":\"s8\",\"body\":\"rewritten\"}\n"
                          "{\"id\":\"AU-009\",\"subject\":\"s9\",\"body\":\"b\"}\n"
                          "{\"id\":\"AU-140\",\"subject\":\"s140\",\"body\":\"rewritten\"}\n";
   r = post_ingest (ADMIN_KEY, rewrite, strlen (rewrite));
   assert_int_equal (r.status, 200);
   assert_int_equal ((int) tk_api_fx_num (r.json, "updated"), 3);
   tk_api_fx_resp_free (&r);
   rec = wait_record ("ingest", "tickets.upload", BCON_NEW ("detail.updated", BCON_INT64 (3)));
   assert_identity (rec, "bootstrap", "admin");
   assert_int_equal (ticket_ids (rec, ids, sizeof ids), 3);
   assert_string_equal (ids, "AU-007,AU-008,AU-140");
   assert_int_equal (int_at (rec, "ticket_count"), 3);
   assert_int_equal (int_at (rec, "detail.unchanged"), 1);
   bson_destroy (rec);
}

/* At most 1,000 rejected rows are listed; all are counted, by reason; the
 * valid rows keep their place ("index") in the body. */
static void
test_upload_report_is_bounded (void **state)
{
   (void) state;
   tk_buf_t body = TK_BUF_INIT;
   for (int i = 0; i < 5003; i++) {
      if (i == 0 || i == 2500 || i == 5002) {
         assert_true (tk_buf_appendf (&body, "{\"id\":\"BR-%d\",\"subject\":\"s\",\"body\":\"b\"}\n", i));
      } else if (i % 2) {
         assert_true (tk_buf_append_str (&body, "1\n"));
      } else {
         assert_true (tk_buf_append_str (&body, "{\"id\":\"x\"}\n"));
      }
   }
   tk_api_fx_resp_t r = post_ingest (op_key, body.data, body.len);
   tk_buf_destroy (&body);
   assert_int_equal (r.status, 200);
   assert_int_equal ((int) tk_api_fx_num (r.json, "total"), 5003);
   assert_int_equal ((int) tk_api_fx_num (r.json, "stored"), 3);
   assert_int_equal ((int) tk_api_fx_num (r.json, "rejected"), 5000);
   assert_int_equal ((int) tk_api_fx_num (r.json, "rejected_not_listed"), 4000);
   cJSON *reasons = cJSON_GetObjectItem (r.json, "rejected_by_reason");
   assert_int_equal ((int) tk_api_fx_num (reasons, "not_object"), 2501);
   assert_int_equal ((int) tk_api_fx_num (reasons, "invalid_field"), 2499);
   cJSON *results = cJSON_GetObjectItem (r.json, "results"), *row;
   assert_int_equal (cJSON_GetArraySize (results), 1003);
   int stored = 0;
   cJSON_ArrayForEach (row, results)
   {
      if (!strcmp (tk_api_fx_str (row, "status"), "stored")) {
         char want[32];
         snprintf (want, sizeof want, "BR-%d", (int) tk_api_fx_num (row, "index"));
         assert_string_equal (tk_api_fx_str (row, "id"), want);
         stored++;
      }
   }
   assert_int_equal (stored, 3);
   tk_api_fx_resp_free (&r);

#if defined(__SANITIZE_ADDRESS__)
   /* Memory figures mean nothing under ASan (its shadow memory and
    * quarantine): the plain build asserts them. */
#else
   /* Two million bad rows in 4 MB: ingest's memory must not follow them. */
   const size_t rows = 2000000;
   char *big = malloc (rows * 2);
   assert_non_null (big);
   for (size_t i = 0; i < rows; i++) {
      big[2 * i] = '1';
      big[2 * i + 1] = '\n';
   }
   char path[64], line[256];
   snprintf (path, sizeof path, "/proc/%d/status", (int) ingest.pid);
   long rss_before = -1, hwm_after = -1;
   FILE *f = fopen (path, "r");
   assert_non_null (f);
   while (fgets (line, sizeof line, f)) {
      sscanf (line, "VmRSS: %ld", &rss_before);
   }
   fclose (f);
   r = post_ingest (op_key, big, rows * 2);
   free (big);
   assert_int_equal (r.status, 200);
   assert_int_equal ((int) tk_api_fx_num (r.json, "rejected_not_listed"), (int) rows - 1000);
   assert_true (r.body_len < 1024 * 1024);
   tk_api_fx_resp_free (&r);
   f = fopen (path, "r");
   assert_non_null (f);
   while (fgets (line, sizeof line, f)) {
      sscanf (line, "VmHWM: %ld", &hwm_after);
   }
   fclose (f);
   fprintf (stderr, "ingest RSS before %ld kB, peak after two million bad rows %ld kB\n",
            rss_before, hwm_after);
   if (hwm_after - rss_before > 64 * 1024) {
      fail_msg ("ingest's peak RSS grew by %ld kB for a 4 MB body of bad rows",
                hwm_after - rss_before);
   }
#endif
}

/* ---- api ------------------------------------------------------------------------- */

static void
test_api_upload_record_lists_the_tickets (void **state)
{
   (void) state;
   const char csv[] = "id,subject,body\r\nAP-1,one,first\r\nAP-2,two,second\r\nAP-3,,\r\n";
   tk_api_fx_resp_t r = tk_api_fx_request (&fx.svc, "POST", "/api/tickets/upload", op_key, csv,
                                           strlen (csv), "text/csv");
   assert_int_equal (r.status, 200);
   tk_api_fx_resp_free (&r);
   bson_t *rec = wait_record ("api", "tickets.upload", NULL);
   assert_identity (rec, op_key_id, "operator");
   char ids[256];
   assert_int_equal (ticket_ids (rec, ids, sizeof ids), 2);
   assert_string_equal (ids, "AP-1,AP-2");
   assert_int_equal (int_at (rec, "ticket_count"), 2);
   assert_int_equal (int_at (rec, "detail.stored"), 2);
   assert_int_equal (int_at (rec, "detail.rejected"), 1);
   assert_int_equal (int_at (rec, "detail.ingest_status"), 200);
   bson_destroy (rec);
}

static void
test_reads_of_keys_and_audit_are_audited (void **state)
{
   (void) state;
   tk_api_fx_resp_t r = tk_api_fx_call (&fx.svc, "GET", "/api/keys", ADMIN_KEY, NULL);
   assert_int_equal (r.status, 200);
   tk_api_fx_resp_free (&r);
   bson_t *rec = wait_record ("api", "keys.list", NULL);
   assert_identity (rec, "bootstrap", "admin");
   assert_int_equal (int_at (rec, "status"), 200);
   bson_destroy (rec);
   /* A refused look is recorded too: the listener's key gate refuses a
    * role too low before the route runs, as auth.forbidden with the route. */
   r = tk_api_fx_call (&fx.svc, "GET", "/api/keys", fx.viewer_key, NULL);
   assert_int_equal (r.status, 403);
   tk_api_fx_resp_free (&r);
   rec = wait_record ("api", "auth.forbidden",
                      BCON_NEW ("status", BCON_INT32 (403), "route", BCON_UTF8 ("/api/keys")));
   assert_string_equal (str_at (rec, "role"), "viewer");
   bson_destroy (rec);

   r = tk_api_fx_call (&fx.svc, "GET", "/api/audit?action=keys.list&limit=5", ADMIN_KEY, NULL);
   assert_int_equal (r.status, 200);
   tk_api_fx_resp_free (&r);
   rec = wait_record ("api", "audit.list", NULL);
   assert_identity (rec, "bootstrap", "admin");
   assert_string_equal (str_at (rec, "query"), "action=keys.list&limit=5");
   bson_destroy (rec);
}

/* Refusals are written to audit_log after their answers, in batches
 * (services/api/audit_queue.c); GET /api/audit waits for the ones queued
 * before it, so an admin who looks right after sees every one. (Before the
 * wait, the last batch was often still being written: CI once saw a list
 * without the refusal answered a moment before.) */
static void
test_audit_list_shows_refusals_answered_just_before (void **state)
{
   (void) state;
   enum { ROUNDS = 5, REFUSALS = 60 };
   for (int round = 0; round < ROUNDS; round++) {
      for (int i = 0; i < REFUSALS; i++) {
         char path[96];
         snprintf (path, sizeof path, "/api/keys?round=%d&n=%d", round, i);
         tk_api_fx_resp_t r = tk_api_fx_call (&fx.svc, "GET", path, fx.viewer_key, NULL);
         assert_int_equal (r.status, 403);
         tk_api_fx_resp_free (&r);
      }
      tk_api_fx_resp_t r = tk_api_fx_call (
         &fx.svc, "GET", "/api/audit?action=auth.forbidden&limit=1000", ADMIN_KEY, NULL);
      assert_int_equal (r.status, 200);
      char prefix[32];
      snprintf (prefix, sizeof prefix, "round=%d&", round);
      int seen = 0;
      cJSON *it;
      cJSON_ArrayForEach (it, cJSON_GetObjectItem (r.json, "items"))
      {
         const cJSON *query = cJSON_GetObjectItem (it, "query");
         if (cJSON_IsString (query) && !strncmp (query->valuestring, prefix, strlen (prefix))) {
            const cJSON *count = cJSON_GetObjectItem (it, "count");
            seen += cJSON_IsNumber (count) ? (int) count->valuedouble : 1;
         }
      }
      tk_api_fx_resp_free (&r);
      if (seen != REFUSALS) {
         fail_msg ("round %d: the audit list shows %d of the %d refusals answered before it", round,
                   seen, REFUSALS);
      }
   }
}

static void
test_ticket_writes_name_their_tickets (void **state)
{
   (void) state;
   tk_api_fx_seed (&fx, "W-1", "subject", "body", tk_test_now_ms ());
   const char put[] =
      "{\"classification\":{\"topic_tags\":[\"SSO\"],\"sentiment\":\"Neutral\","
      "\"priority\":\"P2 (Low)\"},\"note\":\"customer jane.doe@example.com paid with "
      "4111 1111 1111 1111, password=hunter2\"}";
   tk_api_fx_resp_t r = tk_api_fx_call (&fx.svc, "PUT", "/api/processed-tickets/W-1", ADMIN_KEY,
                                        put);
   assert_int_equal (r.status, 200);
   tk_api_fx_resp_free (&r);
   bson_t *rec = wait_record ("api", "processed.correct", NULL);
   char ids[256];
   assert_int_equal (ticket_ids (rec, ids, sizeof ids), 1);
   assert_string_equal (ids, "W-1");
   assert_int_equal (int_at (rec, "ticket_count"), 1);
   bson_destroy (rec);

   /* The note is stored masked, like ticket text, and a viewer reads it so. */
   r = tk_api_fx_call (&fx.svc, "GET", "/api/tickets/W-1", fx.viewer_key, NULL);
   assert_int_equal (r.status, 200);
   cJSON *corr = cJSON_GetArrayItem (cJSON_GetObjectItem (r.json, "corrections"), 0);
   const char *note = tk_api_fx_str (corr, "note");
   assert_non_null (note);
   if (strstr (note, "jane.doe") || strstr (note, "4111") || strstr (note, "hunter2") ||
       !strstr (note, "[EMAIL]") || !strstr (note, "[CARD]") || !strstr (note, "[SECRET]")) {
      fail_msg ("the note is not masked: %s", note);
   }
   tk_api_fx_resp_free (&r);
   mongoc_collection_t *coll = tk_api_fx_collection (&fx, "tickets");
   bson_t *filter = BCON_NEW ("id", BCON_UTF8 ("W-1"));
   mongoc_cursor_t *cur = mongoc_collection_find_with_opts (coll, filter, NULL, NULL);
   const bson_t *doc;
   assert_true (mongoc_cursor_next (cur, &doc));
   char *stored = bson_as_relaxed_extended_json (doc, NULL);
   assert_null (strstr (stored, "jane.doe"));
   assert_null (strstr (stored, "4111"));
   bson_free (stored);
   mongoc_cursor_destroy (cur);
   bson_destroy (filter);
   tk_api_fx_collection_release (&fx, coll);

   /* A processing job names the tickets it sends back for classifying
    * (W-2; W-1, corrected above, is processed: skipped, not sent). */
   tk_api_fx_seed (&fx, "W-2", "subject", "body", tk_test_now_ms ());
   r = tk_api_fx_call (&fx.svc, "POST", "/api/process", op_key,
                       "{\"mode\":\"ids\",\"ids\":[\"W-1\",\"W-2\",\"W-unknown\"]}");
   assert_int_equal (r.status, 202);
   tk_api_fx_resp_free (&r);
   rec = wait_record ("api", "process.start", NULL);
   assert_identity (rec, op_key_id, "operator");
   assert_int_equal (ticket_ids (rec, ids, sizeof ids), 1);
   assert_string_equal (ids, "W-2");
   assert_int_equal (int_at (rec, "detail.skipped"), 1);
   bson_destroy (rec);

   /* A delete names its ticket; one that finds nothing names none. */
   r = tk_api_fx_call (&fx.svc, "DELETE", "/api/processed-tickets/W-1", ADMIN_KEY, NULL);
   assert_int_equal (r.status, 200);
   tk_api_fx_resp_free (&r);
   rec = wait_record ("api", "processed.delete", BCON_NEW ("status", BCON_INT32 (200)));
   assert_int_equal (ticket_ids (rec, ids, sizeof ids), 1);
   assert_string_equal (ids, "W-1");
   bson_destroy (rec);
   r = tk_api_fx_call (&fx.svc, "DELETE", "/api/processed-tickets/W-1", ADMIN_KEY, NULL);
   assert_int_equal (r.status, 404);
   tk_api_fx_resp_free (&r);
   rec = wait_record ("api", "processed.delete", BCON_NEW ("status", BCON_INT32 (404)));
   assert_int_equal (ticket_ids (rec, ids, sizeof ids), 0);
   assert_int_equal (int_at (rec, "ticket_count"), 0);
   bson_destroy (rec);
}

int
main (void)
{
   const struct CMUnitTest tests[] = {
      cmocka_unit_test (test_ingest_upload_names_key_client_and_tickets),
      cmocka_unit_test (test_upload_report_is_bounded),
      cmocka_unit_test (test_api_upload_record_lists_the_tickets),
      cmocka_unit_test (test_reads_of_keys_and_audit_are_audited),
      cmocka_unit_test (test_audit_list_shows_refusals_answered_just_before),
      cmocka_unit_test (test_ticket_writes_name_their_tickets),
   };
   return cmocka_run_group_tests (tests, setup, teardown);
}
