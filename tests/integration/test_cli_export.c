/* triagectl export against a real api and MongoDB-protocol server: 1,210
 * tickets (more than one of the api's export batches) streamed as CSV to a
 * file and as NDJSON to stdout, each row the right ticket, the filters
 * passed on (a priority, a status, --filter); a filter the api refuses, and
 * a viewer key, exit 1 with the api's message and leave neither the file
 * nor its .tmp behind. */
#include "test_support.h"

#include "api_fixture.h"
#include "cli_run.h"
#include "store.h"
#include "ticket.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define ADMIN_KEY TRIAGE_TEST_ADMIN_KEY /* random per build: tests/CMakeLists.txt */
#define N_RAW 1200 /* unprocessed, E-U-<i> */
#define N_HIGH 6   /* processed P0 (High), E-H-<i> */
#define N_LOW 4    /* processed P2 (Low), E-L-<i> */

static tk_api_fx_t fx;
static char out[1 << 22], err[1 << 16];
static char dir[64];

/* `triagectl export ARGS` against the fixture's api with key. */
static int
run_export (const char *key, const char *args)
{
   return tk_test_triagectl_api ("export", fx.svc.base_url, key, args, out, sizeof out, err,
                                 sizeof err);
}

/* Stores n raw tickets "<prefix>-<i>", in batches. */
static void
seed_many (const char *prefix, size_t n)
{
   for (size_t done = 0; done < n;) {
      size_t k = n - done > 400 ? 400 : n - done;
      tk_ticket_t **ts = calloc (k, sizeof *ts);
      for (size_t i = 0; i < k; i++) {
         char id[32];
         snprintf (id, sizeof id, "%s-%zu", prefix, done + i);
         ts[i] = tk_ticket_new ();
         ts[i]->id = strdup (id);
         ts[i]->subject = strdup ("Connector keeps timing out");
         ts[i]->body = strdup ("The Postgres connector times out after 30 s, since Monday.");
      }
      tk_insert_result_t res;
      tk_error_t e;
      assert_true (tk_store_insert_tickets (fx.store, ts, k, &res, &e));
      assert_int_equal (res.n_stored, k);
      tk_insert_result_cleanup (&res);
      for (size_t i = 0; i < k; i++) {
         tk_ticket_destroy (ts[i]);
      }
      free (ts);
      done += k;
   }
}

static void
seed_processed (const char *prefix, int n, const char *priority)
{
   for (int i = 0; i < n; i++) {
      char id[32];
      snprintf (id, sizeof id, "%s-%d", prefix, i);
      tk_api_fx_seed (&fx, id, "SSO login loop", "Okta sends me back to the login page.",
                      1764000000000 + i);
      tk_api_fx_classify (&fx, id, "SSO", NULL, "Frustrated", priority, 0.9, 0.8, 0.7, 12,
                          "test-model", 1764000100000 + i);
   }
}

static int
setup (void **state)
{
   *state = &fx;
   if (!tk_api_fx_setup (&fx, "triage_test_cliexp", NULL, ADMIN_KEY) ||
       !tk_api_fx_start (&fx, &fx.svc, "api", NULL)) {
      return -1;
   }
   seed_many ("E-U", N_RAW);
   seed_processed ("E-H", N_HIGH, "P0 (High)");
   seed_processed ("E-L", N_LOW, "P2 (Low)");
   tk_test_unique_name ("/tmp/triage-cliexp", dir, sizeof dir);
   assert_int_equal (mkdir (dir, 0700), 0);
   return 0;
}

static int
teardown (void **state)
{
   char cmd[128];
   snprintf (cmd, sizeof cmd, "rm -rf %s", dir);
   tk_test_shell (cmd, out, sizeof out);
   return tk_api_fx_group_teardown (state);
}

/* How many CSV rows of text (after the header) have an id starting with
 * prefix; every row must end in CRLF and start with an E- id. */
static size_t
csv_rows (const char *text, const char *prefix, size_t *total)
{
   const char *header = "id,subject,body,";
   assert_memory_equal (text, header, strlen (header));
   size_t n = 0;
   *total = 0;
   for (const char *line = strstr (text, "\r\n") + 2; *line; line = strstr (line, "\r\n") + 2) {
      assert_non_null (strstr (line, "\r\n"));
      assert_memory_equal (line, "E-", 2);
      n += strncmp (line, prefix, strlen (prefix)) == 0;
      ++*total;
   }
   return n;
}

static char *
read_file (const char *path)
{
   size_t len;
   return tk_test_read_file (path, &len);
}

static void
test_csv_to_a_file (void **state)
{
   (void) state;
   char path[128], args[256];
   size_t total;
   snprintf (path, sizeof path, "%s/all.csv", dir);
   snprintf (args, sizeof args, "-o %s", path);
   int rc = run_export (ADMIN_KEY, args);
   if (rc != 0) {
      fail_msg ("exit %d: %s", rc, err);
   }
   char *csv = read_file (path);
   assert_int_equal (csv_rows (csv, "E-U-", &total), N_RAW);
   assert_int_equal (total, N_RAW + N_HIGH + N_LOW);
   free (csv);

   /* A priority filter: only its tickets. */
   snprintf (path, sizeof path, "%s/high.csv", dir);
   snprintf (args, sizeof args, "--priority 'P0 (High)' --sort created_at -o %s", path);
   assert_int_equal (run_export (ADMIN_KEY, args), 0);
   csv = read_file (path);
   assert_int_equal (csv_rows (csv, "E-H-", &total), N_HIGH);
   assert_int_equal (total, N_HIGH);
   free (csv);
}

static void
test_ndjson_to_stdout (void **state)
{
   (void) state;
   int rc =
      run_export (ADMIN_KEY, "--format ndjson --status processed --filter 'priority=P2 (Low)'");
   if (rc != 0) {
      fail_msg ("exit %d: %s", rc, err);
   }
   size_t n = 0;
   char *save = NULL;
   for (char *line = strtok_r (out, "\n", &save); line; line = strtok_r (NULL, "\n", &save)) {
      cJSON *t = cJSON_Parse (line);
      assert_non_null (t);
      assert_memory_equal (tk_api_fx_str (t, "id"), "E-L-", 4);
      assert_true (cJSON_IsTrue (cJSON_GetObjectItem (t, "processed")));
      cJSON_Delete (t);
      n++;
   }
   assert_int_equal (n, N_LOW);
}

/* Neither path nor path.tmp exists. */
static void
assert_no_file (const char *path)
{
   char tmp[160];
   snprintf (tmp, sizeof tmp, "%s.tmp", path);
   assert_int_not_equal (access (path, F_OK), 0);
   assert_int_not_equal (access (tmp, F_OK), 0);
}

static void
test_refusals_leave_no_file (void **state)
{
   (void) state;
   char path[128], args[256];
   snprintf (path, sizeof path, "%s/bad.csv", dir);
   snprintf (args, sizeof args, "--priority P9 -o %s", path);
   assert_int_equal (run_export (ADMIN_KEY, args), 1);
   assert_non_null (strstr (err, "HTTP 400"));
   assert_non_null (strstr (err, "priority"));
   assert_no_file (path);

   tk_api_fx_make_role_keys (&fx);
   snprintf (args, sizeof args, "--format ndjson -o %s", path);
   assert_int_equal (run_export (fx.viewer_key, args), 1);
   assert_non_null (strstr (err, "HTTP 403"));
   assert_no_file (path);

   assert_int_equal (run_export (ADMIN_KEY, "--format xml"), 2);
}

int
main (void)
{
   const struct CMUnitTest tests[] = {
      cmocka_unit_test (test_csv_to_a_file),
      cmocka_unit_test (test_ndjson_to_stdout),
      cmocka_unit_test (test_refusals_leave_no_file),
   };
   return cmocka_run_group_tests (tests, setup, teardown);
}
