/* triagectl tickets against a real database: each list comes in the order
 * its store call promises (common/store.h), limited, as the api's JSON with
 * --json; an unknown list is a usage error. */
#include "store_fixture.h"
#include "test_support.h"

#include "store.h"
#include "ticket.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static char db[64];
static tk_store_t *store;

/* Runs `triagectl tickets ARGS` on the test database; its output (stdout
 * and stderr) into out, its exit status returned. */
static int
run_tickets (const char *args, char *out, size_t cap)
{
   char cmd[1024];
   snprintf (cmd, sizeof cmd, "%s/triagectl tickets --mongo-uri '%s' --mongo-db %s %s 2>&1",
             TRIAGE_BIN_DIR, tk_test_mongo_uri (), db, args);
   return tk_test_shell (cmd, out, cap);
}

/* The ids of the --json lines of args, comma-joined, into ids. Only
 * stdout is read: the log (JSON lines too, a libmongoc warning under load
 * among them) goes to stderr, kept in a file and shown if the run fails. */
static void
listed_ids (const char *args, char *ids, size_t cap)
{
   static char out[1 << 16];
   char full[512], err_path[64];
   snprintf (err_path, sizeof err_path, "/tmp/triage-test-cli-tickets-%d.err", (int) getpid ());
   snprintf (full, sizeof full, "%s/triagectl tickets --mongo-uri '%s' --mongo-db %s %s --json 2>%s",
             TRIAGE_BIN_DIR, tk_test_mongo_uri (), db, args, err_path);
   int status = tk_test_shell (full, out, sizeof out);
   if (status != 0) {
      char show[512];
      snprintf (show, sizeof show, "cat %s", err_path);
      tk_test_shell (show, out, sizeof out);
      fail_msg ("triagectl tickets %s --json exited %d: %s", args, status, out);
   }
   unlink (err_path);
   ids[0] = '\0';
   char *save = NULL;
   for (char *line = strtok_r (out, "\n", &save); line; line = strtok_r (NULL, "\n", &save)) {
      cJSON *j = cJSON_Parse (line);
      if (!j) {
         fail_msg ("not JSON: %s", line);
      }
      const cJSON *id = cJSON_GetObjectItem (j, "id");
      if (!cJSON_IsString (id)) {
         fail_msg ("a line without an id: %s", line);
      }
      snprintf (ids + strlen (ids), cap - strlen (ids), "%s%s", ids[0] ? "," : "", id->valuestring);
      cJSON_Delete (j);
   }
}

static void
insert (const char *id, int64_t created_at)
{
   tk_ticket_t *t = tk_ticket_new ();
   t->id = strdup (id);
   t->subject = strdup ("Lineage graph missing a hop");
   t->body = strdup ("The graph stops at the staging table since Monday.");
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
   tk_classification_t c = {0};
   c.topic_tags[0] = strdup ("Lineage");
   c.n_topic_tags = 1;
   c.sentiment = strdup ("Neutral");
   c.priority = strdup ("P2 (Low)");
   tk_confidence_t conf = {0.9, 0.8, 0.7};
   tk_processing_metadata_t meta = {.processed_at = processed_at, .model_version = "test-1",
                                    .processing_time_ms = 3, .agent_version = "1.0"};
   tk_error_t err;
   assert_true (tk_store_update_ticket_with_classification (store, id, &c, &conf, &meta, &err));
   tk_classification_clear (&c);
}

static int
setup (void **state)
{
   (void) state;
   if (!(store = tk_test_store_open ("triage_test_clitk", db, sizeof db, 2))) {
      return -1;
   }
   /* Three waiting (created 1, 2, 3 hours in), two processed: P-1 created
    * before P-2 but processed after it. */
   const int64_t base = 1764000000000, hour = 3600000;
   insert ("U-1", base + 1 * hour);
   insert ("U-2", base + 2 * hour);
   insert ("U-3", base + 3 * hour);
   insert ("P-1", base + 1 * hour + 1);
   insert ("P-2", base + 2 * hour + 1);
   classify ("P-1", base + 9 * hour);
   classify ("P-2", base + 8 * hour);
   return 0;
}

static int
teardown (void **state)
{
   (void) state;
   return tk_test_store_drop (store) ? 0 : -1;
}

static void
test_each_list_in_its_order (void **state)
{
   (void) state;
   char ids[256];
   listed_ids ("backlog", ids, sizeof ids);
   assert_string_equal (ids, "U-1,U-2,U-3"); /* oldest first: the order work is done in */
   listed_ids ("backlog --limit 2", ids, sizeof ids);
   assert_string_equal (ids, "U-1,U-2");
   listed_ids ("processed", ids, sizeof ids);
   assert_string_equal (ids, "P-1,P-2"); /* most recently processed first */
   listed_ids ("newest-unprocessed -n 2", ids, sizeof ids);
   assert_string_equal (ids, "U-3,U-2");
   listed_ids ("newest-processed", ids, sizeof ids);
   assert_string_equal (ids, "P-2,P-1"); /* newest created first */
}

static void
test_table_and_usage (void **state)
{
   (void) state;
   static char out[1 << 16];
   assert_int_equal (run_tickets ("processed", out, sizeof out), 0);
   assert_non_null (strstr (out, "ID"));
   assert_non_null (strstr (out, "P-1"));
   assert_non_null (strstr (out, "P2 (Low)"));
   assert_non_null (strstr (out, "Lineage graph missing a hop"));
   assert_null (strstr (out, "U-1"));
   assert_int_equal (run_tickets ("everything", out, sizeof out), 2);
   assert_non_null (strstr (out, "unknown list 'everything'"));
   assert_int_equal (run_tickets ("backlog --limit 0", out, sizeof out), 2);
   assert_int_equal (run_tickets ("", out, sizeof out), 2);
}

int
main (void)
{
   const struct CMUnitTest tests[] = {
      cmocka_unit_test (test_each_list_in_its_order),
      cmocka_unit_test (test_table_and_usage),
   };
   return cmocka_run_group_tests (tests, setup, teardown);
}
