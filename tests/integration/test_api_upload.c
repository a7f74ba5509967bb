/* POST /api/tickets/upload on the real stack: a triage-api child process
 * forwards uploads to ingest's POST /v1/tickets.
 *
 * If build/bin/triage-ingest serves /v1/tickets, it is started as a child
 * on the same database and the uploaded tickets are looked for in the
 * store. Otherwise (ingest is still the stub on this branch) the peer is a
 * small HTTP server in this process, built on common/http_server.h and run
 * on its own loop thread, that records exactly what it received and answers
 * as scripted: a real HTTP peer, so the forwarding is checked byte for byte
 * (body, content type, dry_run, the Authorization header) together with the
 * relay of ingest's status and body. */
#include "test_support.h"

#include "api_fixture.h"
#include "http_server.h"

#include <cjson/cJSON.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ADMIN_KEY TRIAGE_TEST_ADMIN_KEY /* random per build: tests/CMakeLists.txt */

static tk_api_fx_t fx;
static tk_test_service_t *const api = &fx.svc;
static tk_test_service_t ingest;
static char env_ingest[128];
static bool real_ingest;
static const char *const viewer_key = fx.viewer_key, *const operator_key = fx.operator_key;

/* ---- the recording peer (its own loop thread) ------------------------------- */

typedef struct {
   char query[256];
   char content_type[128];
   char authorization[256];
   char *body;
   size_t body_len;
} seen_t;

static struct {
   uv_loop_t loop;
   uv_async_t stop;
   pthread_t thread;
   tk_http_server_t *server;
   int port;
   pthread_mutex_t mu;
   seen_t seen[16];
   size_t n_seen;
} peer;

static void
peer_handler (tk_http_request_t *req, void *ud)
{
   (void) ud;
   size_t len = 0;
   const char *body = tk_http_request_body (req, &len);
   const char *ct = tk_http_request_header (req, "Content-Type");
   const char *auth = tk_http_request_header (req, "Authorization");
   pthread_mutex_lock (&peer.mu);
   if (peer.n_seen < 16) {
      seen_t *s = &peer.seen[peer.n_seen++];
      snprintf (s->query, sizeof s->query, "%s", tk_http_request_query_string (req));
      snprintf (s->content_type, sizeof s->content_type, "%s", ct ? ct : "");
      snprintf (s->authorization, sizeof s->authorization, "%s", auth ? auth : "");
      s->body = malloc (len + 1);
      memcpy (s->body, body, len + 1);
      s->body_len = len;
   }
   pthread_mutex_unlock (&peer.mu);
   /* Scripted like ingest: a body containing "REJECT" gets a 422 report. */
   char answer[512];
   if (memmem (body, len, "REJECT", 6)) {
      snprintf (answer, sizeof answer,
                "{\"error\":{\"code\":\"invalid\",\"message\":\"row 1: subject: missing\","
                "\"field\":\"subject\"}}");
      tk_http_respond (req, 422, "application/json", answer, strlen (answer));
      return;
   }
   bool dry = strstr (tk_http_request_query_string (req), "dry_run=true") != NULL;
   snprintf (answer, sizeof answer, "{\"dry_run\":%s,\"received_bytes\":%zu,\"rows\":[]}",
             dry ? "true" : "false", len);
   tk_http_respond (req, dry ? 200 : 201, "application/json", answer, strlen (answer));
}

static void
peer_stop (uv_async_t *a)
{
   tk_http_server_close (peer.server, NULL, NULL);
   uv_close ((uv_handle_t *) a, NULL);
}

static void *
peer_main (void *arg)
{
   (void) arg;
   uv_run (&peer.loop, UV_RUN_DEFAULT);
   return NULL;
}

static bool
peer_start (void)
{
   tk_error_t err;
   tk_http_options_t opts = {.host = "127.0.0.1", .port = 0};
   pthread_mutex_init (&peer.mu, NULL);
   uv_loop_init (&peer.loop);
   uv_async_init (&peer.loop, &peer.stop, peer_stop);
   if (!(peer.server = tk_http_server_new (&peer.loop, &opts, &err)) ||
       !tk_http_route (peer.server, "POST", "/v1/tickets", peer_handler, NULL, &err) ||
       !tk_http_server_listen (peer.server, &err)) {
      fprintf (stderr, "peer: %s\n", err.message);
      return false;
   }
   peer.port = tk_http_server_port (peer.server);
   return pthread_create (&peer.thread, NULL, peer_main, NULL) == 0;
}

static void
peer_shutdown (void)
{
   uv_async_send (&peer.stop);
   pthread_join (peer.thread, NULL);
   tk_test_loop_close (&peer.loop);
   for (size_t i = 0; i < peer.n_seen; i++) {
      free (peer.seen[i].body);
   }
   pthread_mutex_destroy (&peer.mu);
}

static size_t
peer_count (void)
{
   pthread_mutex_lock (&peer.mu);
   size_t n = peer.n_seen;
   pthread_mutex_unlock (&peer.mu);
   return n;
}

/* ---- HTTP helpers --------------------------------------------------------------- */

static tk_api_fx_resp_t
upload (const char *query, const char *key, const char *body, size_t len, const char *ct)
{
   char path[256];
   snprintf (path, sizeof path, "/api/tickets/upload%s", query);
   return tk_api_fx_request (api, "POST", path, key, body, len, ct);
}

/* ---- setup ------------------------------------------------------------------------ */

/* Starts triage-ingest and asks whether it serves POST /v1/tickets. */
static bool
ingest_has_upload_route (void)
{
   const char *env[] = {"TRIAGE_AUTO_CLASSIFY=false", NULL};
   if (!tk_api_fx_start (&fx, &ingest, "ingest", env)) {
      return false;
   }
   const char *probe = "{\"id\":\"probe-1\",\"subject\":\"s\",\"body\":\"b\"}";
   tk_api_fx_resp_t r =
      tk_api_fx_call (&ingest, "POST", "/v1/tickets?dry_run=true", ADMIN_KEY, probe);
   bool has = r.status != 404 && r.status != 405 && r.status != 0;
   tk_api_fx_resp_free (&r);
   if (!has) {
      tk_api_fx_stop (&ingest);
   }
   return has;
}

static int
setup (void **state)
{
   (void) state;
   if (!tk_api_fx_setup (&fx, "triage_test_upload", NULL, ADMIN_KEY)) {
      return -1;
   }
   real_ingest = ingest_has_upload_route ();
   if (real_ingest) {
      snprintf (env_ingest, sizeof env_ingest, "TRIAGE_INGEST_URL=%s", ingest.base_url);
   } else {
      if (!peer_start ()) {
         return -1;
      }
      snprintf (env_ingest, sizeof env_ingest, "TRIAGE_INGEST_URL=http://127.0.0.1:%d/",
                peer.port);
   }
   fprintf (stderr, "forwarding to %s\n", real_ingest ? "triage-ingest" : "the recording peer");
   const char *env[] = {env_ingest, NULL};
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
   if (real_ingest) {
      tk_api_fx_stop (&ingest);
   } else {
      peer_shutdown ();
   }
   return tk_api_fx_teardown (&fx);
}

/* ---- tests -------------------------------------------------------------------------- */

static const char csv_body[] =
   "id,subject,body\r\n"
   "U-1,\"Login, again\",\"He said \"\"no\"\"\nthen left\"\r\n"
   "U-2,Plain,caf\xc3\xa9\r\n";

static void
check_seen (size_t i, const char *query, const char *ct, const char *key, const char *body,
            size_t len)
{
   char auth[256];
   snprintf (auth, sizeof auth, "Bearer %s", key);
   pthread_mutex_lock (&peer.mu);
   assert_true (i < peer.n_seen);
   seen_t *s = &peer.seen[i];
   assert_string_equal (s->query, query);
   assert_string_equal (s->content_type, ct);
   assert_string_equal (s->authorization, auth);
   assert_int_equal (s->body_len, len);
   assert_memory_equal (s->body, body, len);
   pthread_mutex_unlock (&peer.mu);
}

static void
test_forwards_each_format_and_relays_the_answer (void **state)
{
   (void) state;
   if (real_ingest) {
      /* Ingest stores the rows: they must show up in the store. */
      tk_api_fx_resp_t r =
         upload ("", operator_key, csv_body, strlen (csv_body), "text/csv");
      assert_true (r.status >= 200 && r.status < 300);
      tk_api_fx_resp_free (&r);
      tk_ticket_t *t = NULL;
      tk_error_t err;
      assert_true (tk_store_get_ticket (fx.store, "U-1", &t, &err));
      assert_string_equal (t->body, "He said \"no\"\nthen left");
      tk_ticket_destroy (t);
      /* A dry run reports without storing. */
      const char nd[] = "{\"id\":\"DRY-1\",\"subject\":\"a\",\"body\":\"b\"}\n";
      r = upload ("?dry_run=true", operator_key, nd, strlen (nd), "application/x-ndjson");
      assert_int_equal (r.status, 200);
      cJSON *report = cJSON_Parse (r.body);
      assert_non_null (report);
      cJSON_Delete (report);
      tk_api_fx_resp_free (&r);
      t = NULL;
      assert_false (tk_store_get_ticket (fx.store, "DRY-1", &t, &err));
      assert_int_equal (err.domain, TK_ERR_NOT_FOUND);
      return;
   }
   size_t before = peer_count ();
   tk_api_fx_resp_t r = upload ("", operator_key, csv_body, strlen (csv_body), "text/csv");
   assert_int_equal (r.status, 201);
   char expect[256];
   snprintf (expect, sizeof expect, "{\"dry_run\":false,\"received_bytes\":%zu,\"rows\":[]}",
             strlen (csv_body));
   assert_string_equal (r.body, expect);
   tk_api_fx_resp_free (&r);
   check_seen (before, "", "text/csv", operator_key, csv_body, strlen (csv_body));

   const char ndjson[] = "{\"id\":\"N-1\",\"subject\":\"a\",\"body\":\"b\"}\n"
                         "{\"id\":\"N-2\",\"subject\":\"c\",\"body\":\"d\"}\n";
   r = upload ("?dry_run=true", operator_key, ndjson, strlen (ndjson), "application/x-ndjson");
   assert_int_equal (r.status, 200);
   assert_non_null (strstr (r.body, "\"dry_run\":true"));
   tk_api_fx_resp_free (&r);
   check_seen (before + 1, "dry_run=true", "application/x-ndjson", operator_key, ndjson,
               strlen (ndjson));

   /* A 2 MB JSON array arrives byte for byte. */
   size_t big_len = 2 * 1024 * 1024;
   char *big = malloc (big_len + 1);
   size_t off = (size_t) snprintf (big, big_len, "[{\"id\":\"B-1\",\"subject\":\"s\",\"body\":\"");
   while (off < big_len - 4) {
      big[off] = (char) ('a' + off % 26);
      off++;
   }
   memcpy (big + off, "\"}]", 3);
   big_len = off + 3;
   big[big_len] = '\0';
   r = upload ("", ADMIN_KEY, big, big_len, "application/json; charset=utf-8");
   assert_int_equal (r.status, 201);
   tk_api_fx_resp_free (&r);
   check_seen (before + 2, "", "application/json; charset=utf-8", ADMIN_KEY, big, big_len);
   free (big);

   /* Ingest's refusal comes back as it is, status and body. */
   const char bad[] = "[{\"id\":\"REJECT\"}]";
   r = upload ("", operator_key, bad, strlen (bad), "application/json");
   assert_int_equal (r.status, 422);
   assert_string_equal (r.body, "{\"error\":{\"code\":\"invalid\",\"message\":\"row 1: subject: "
                                "missing\",\"field\":\"subject\"}}");
   tk_api_fx_resp_free (&r);
   assert_int_equal (peer_count (), before + 4);
}

static void
test_refused_before_forwarding (void **state)
{
   (void) state;
   size_t before = real_ingest ? 0 : peer_count ();
   tk_api_fx_resp_t r = upload ("", viewer_key, csv_body, strlen (csv_body), "text/csv");
   assert_int_equal (r.status, 403);
   tk_api_fx_resp_free (&r);
   r = upload ("", NULL, csv_body, strlen (csv_body), "text/csv");
   assert_int_equal (r.status, 401);
   tk_api_fx_resp_free (&r);
   r = upload ("", "not-a-key", csv_body, strlen (csv_body), "text/csv");
   assert_int_equal (r.status, 401);
   tk_api_fx_resp_free (&r);
   r = upload ("", operator_key, csv_body, strlen (csv_body), "text/plain");
   assert_int_equal (r.status, 415);
   tk_api_fx_resp_free (&r);
   r = upload ("", operator_key, csv_body, strlen (csv_body), NULL);
   assert_int_equal (r.status, 415);
   tk_api_fx_resp_free (&r);
   r = upload ("?dry_run=maybe", operator_key, csv_body, strlen (csv_body), "text/csv");
   assert_int_equal (r.status, 400);
   tk_api_fx_resp_free (&r);
   r = upload ("?target=http://evil", operator_key, csv_body, strlen (csv_body), "text/csv");
   assert_int_equal (r.status, 400);
   tk_api_fx_resp_free (&r);
   if (!real_ingest) {
      assert_int_equal (peer_count (), before);
   }
}

static void
test_audited_with_ingest_status (void **state)
{
   (void) state;
   tk_api_fx_resp_t r =
      tk_api_fx_request (api, "GET", "/api/audit?action=tickets.upload", ADMIN_KEY, NULL, 0, NULL);
   assert_int_equal (r.status, 200);
   cJSON *j = cJSON_Parse (r.body), *it;
   int accepted = 0, refused = 0, rejected = 0;
   cJSON_ArrayForEach (it, cJSON_GetObjectItem (j, "items"))
   {
      int status = (int) cJSON_GetObjectItem (it, "status")->valuedouble;
      cJSON *detail = cJSON_GetObjectItem (it, "detail");
      if (strcmp (cJSON_GetObjectItem (it, "service")->valuestring, "api") != 0) {
         continue; /* ingest's own record of the forwarded upload */
      }
      if (status == 401 || status == 403) {
         refused++; /* cannot happen: refused by the key check, below */
         continue;
      }
      assert_int_equal ((int) cJSON_GetObjectItem (detail, "ingest_status")->valuedouble, status);
      accepted += status >= 200 && status < 300;
      rejected += status == 422;
   }
   assert_int_equal (refused, 0);
   assert_true (accepted >= 1);
   if (!real_ingest) {
      assert_int_equal (accepted, 2);
      assert_int_equal (rejected, 1);
   }
   cJSON_Delete (j);
   tk_api_fx_resp_free (&r);
   /* The viewer's and the unknown key's uploads were refused by the key
    * check before their bodies were read, never forwarded, and audited as
    * such (unknown keys once a minute per address). */
   r = tk_api_fx_request (api, "GET", "/api/audit?action=auth.forbidden", ADMIN_KEY, NULL, 0,
                          NULL);
   assert_int_equal (r.status, 200);
   j = cJSON_Parse (r.body);
   int forbidden = 0;
   cJSON_ArrayForEach (it, cJSON_GetObjectItem (j, "items"))
   {
      forbidden += !strcmp (cJSON_GetObjectItem (it, "route")->valuestring, "/api/tickets/upload");
   }
   assert_int_equal (forbidden, 1);
   cJSON_Delete (j);
   tk_api_fx_resp_free (&r);
   r = tk_api_fx_request (api, "GET", "/api/audit?action=auth.failed", ADMIN_KEY, NULL, 0, NULL);
   assert_int_equal (r.status, 200);
   j = cJSON_Parse (r.body);
   assert_true (cJSON_GetArraySize (cJSON_GetObjectItem (j, "items")) >= 1);
   cJSON_Delete (j);
   tk_api_fx_resp_free (&r);
}

/* Ingest down: a clear 502 naming it, and the API itself stays up. */
/* The row of ingest's report for line `line`, or NULL. */
static const cJSON *
report_row (const cJSON *report, int line)
{
   const cJSON *row;
   cJSON_ArrayForEach (row, cJSON_GetObjectItemCaseSensitive (report, "results"))
   {
      if ((int) tk_api_fx_num (row, "line") == line) {
         return row;
      }
   }
   return NULL;
}

/* Issue 15: a file that is not CSV, JSON or NDJSON is refused by its
 * bytes, whatever its Content-Type says, with a sentence a person
 * understands; a CSV row with a misplaced quote is refused with its line
 * and why while the good rows are stored, none merged into another. */
static void
test_binary_file_and_misplaced_quotes (void **state)
{
   (void) state;
   if (!real_ingest) {
      skip ();
   }
   static const char png[] = "\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x10\0\0\0\x10\x08\x06\0\0\0";
   const char *types[] = {"application/json", "text/csv", "application/x-ndjson"};
   for (size_t i = 0; i < 3; i++) {
      tk_api_fx_resp_t r = upload ("?dry_run=true", operator_key, png, sizeof png - 1, types[i]);
      assert_int_equal (r.status, 415);
      const cJSON *error = cJSON_GetObjectItemCaseSensitive (r.json, "error");
      const char *message = tk_api_fx_str (error, "message");
      assert_non_null (message);
      assert_non_null (strstr (message, "is not a CSV, JSON or NDJSON file"));
      assert_non_null (strstr (message, "a PNG image"));
      tk_api_fx_resp_free (&r);
   }

   const char csv[] = "id,subject,body\n"
                      "Q-1,\"subject \"with\" quotes\",body\n"
                      "Q-2,fine,fine\n"
                      "Q-3,\"unclosed subject,body\n"
                      "Q-4,also fine,fine\n"
                      "Q-5,\"quoted\",fine\n";
   tk_api_fx_resp_t r = upload ("", operator_key, csv, strlen (csv), "text/csv");
   assert_int_equal (r.status, 200);
   assert_int_equal ((int) tk_api_fx_num (r.json, "stored"), 3);
   assert_int_equal ((int) tk_api_fx_num (r.json, "rejected"), 2);
   const int bad_lines[] = {2, 4};
   for (size_t i = 0; i < 2; i++) {
      const cJSON *row = report_row (r.json, bad_lines[i]);
      assert_non_null (row);
      assert_string_equal (tk_api_fx_str (row, "status"), "rejected");
      assert_string_equal (tk_api_fx_str (row, "reason"), "malformed");
      assert_non_null (strstr (tk_api_fx_str (row, "error"), "quote"));
   }
   tk_api_fx_resp_free (&r);
   const char *good[] = {"Q-2", "Q-4", "Q-5"}, *want[] = {"fine", "also fine", "quoted"};
   for (size_t i = 0; i < 3; i++) {
      tk_ticket_t *t = NULL;
      tk_error_t err;
      assert_true (tk_store_get_ticket (fx.store, good[i], &t, &err));
      assert_string_equal (t->subject, want[i]);
      tk_ticket_destroy (t);
   }
}

static void
test_ingest_unreachable (void **state)
{
   (void) state;
   tk_test_service_t api2;
   char env_url[128];
   snprintf (env_url, sizeof env_url, "TRIAGE_INGEST_URL=http://127.0.0.1:%d",
             tk_test_free_port ());
   const char *env[] = {env_url, NULL};
   assert_true (tk_api_fx_start (&fx, &api2, "api", env));
   tk_api_fx_resp_t r = tk_api_fx_request (&api2, "POST", "/api/tickets/upload", ADMIN_KEY,
                                           csv_body, strlen (csv_body), "text/csv");
   assert_int_equal (r.status, 502);
   assert_non_null (strstr (r.body, "\"bad_gateway\""));
   assert_non_null (strstr (r.body, "ingest at"));
   tk_api_fx_resp_free (&r);
   r = tk_api_fx_request (&api2, "GET", "/healthz", NULL, NULL, 0, NULL);
   assert_int_equal (r.status, 200);
   tk_api_fx_resp_free (&r);
   assert_int_equal (tk_api_fx_stop (&api2), 0);
}

int
main (void)
{
   const struct CMUnitTest tests[] = {
      cmocka_unit_test (test_forwards_each_format_and_relays_the_answer),
      cmocka_unit_test (test_refused_before_forwarding),
      cmocka_unit_test (test_audited_with_ingest_status),
      cmocka_unit_test (test_binary_file_and_misplaced_quotes),
      cmocka_unit_test (test_ingest_unreachable),
   };
   return cmocka_run_group_tests (tests, setup, teardown);
}
