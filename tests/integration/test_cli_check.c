/* triagectl check against a real database: a consistent collection passes;
 * each kind of damage is reported by id and makes it exit 1. */
#include "store_fixture.h"
#include "test_support.h"

#include "store.h"
#include "ticket.h"

#include <mongoc/mongoc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

static char db[64];
static tk_store_t *store;

static int
run_check (char *out, size_t cap)
{
   char cmd[1024];
   snprintf (cmd, sizeof cmd, "%s/triagectl check --mongo-uri '%s' --mongo-db %s 2>&1",
             TRIAGE_BIN_DIR, tk_test_mongo_uri (), db);
   return tk_test_shell (cmd, out, cap);
}

static void
seed (void)
{
   tk_error_t err;
   tk_ticket_t *t[3];
   for (int i = 0; i < 3; i++) {
      t[i] = tk_ticket_new ();
      char id[32];
      snprintf (id, sizeof id, "CHK-%d", i);
      t[i]->id = strdup (id);
      t[i]->subject = strdup ("Snowflake connector fails");
      t[i]->body = strdup ("The nightly sync stopped with an auth error.");
   }
   tk_insert_result_t res;
   assert_true (tk_store_insert_tickets (store, t, 3, &res, &err));
   assert_int_equal (res.n_stored, 3);
   tk_insert_result_cleanup (&res);
   tk_classification_t c = {0};
   c.topic_tags[0] = strdup ("Connector");
   c.n_topic_tags = 1;
   c.sentiment = strdup ("Frustrated");
   c.priority = strdup ("P1 (Medium)");
   tk_confidence_t conf = {0.9, 0.8, 0.7};
   tk_processing_metadata_t meta = {.processed_at = 1764300000000, .model_version = "test-1",
                                    .processing_time_ms = 3, .agent_version = "1.0"};
   assert_true (tk_store_update_ticket_with_classification (store, "CHK-0", &c, &conf, &meta, &err));
   tk_classification_clear (&c);
   for (int i = 0; i < 3; i++) {
      tk_ticket_destroy (t[i]);
   }
}

/* Writes a raw update straight into the collection, as a bug or a hand edit
 * would. */
static void
damage (const char *id, bson_t *update)
{
   mongoc_client_t *client = tk_store_client_pop (store);
   mongoc_collection_t *coll = mongoc_client_get_collection (client, db, "tickets");
   bson_t *filter = BCON_NEW ("id", BCON_UTF8 (id));
   bson_error_t e;
   assert_true (mongoc_collection_update_one (coll, filter, update, NULL, NULL, &e));
   bson_destroy (filter);
   bson_destroy (update);
   mongoc_collection_destroy (coll);
   tk_store_client_push (store, client);
}

static void
test_consistent_then_damaged (void **state)
{
   (void) state;
   static char out[65536];
   seed ();
   assert_int_equal (run_check (out, sizeof out), 0);
   assert_non_null (strstr (out, "3 tickets: 1 processed, 2 unprocessed"));
   assert_non_null (strstr (out, "consistent"));

   /* A label outside the taxonomy. */
   damage ("CHK-0", BCON_NEW ("$set", "{", "classification.priority", BCON_UTF8 ("P9 (Panic)"),
                              "}"));
   /* A confidence above 1 can only be seen on a processed ticket: make CHK-1
    * processed with a bad score but otherwise whole. */
   damage ("CHK-1",
           BCON_NEW ("$set", "{", "processed", BCON_BOOL (true), "classification", "{",
                     "topic_tags", "[", BCON_UTF8 ("SSO"), "]", "sentiment", BCON_UTF8 ("Angry"),
                     "priority", BCON_UTF8 ("P0 (High)"), "}", "confidence_scores", "{", "topic",
                     BCON_DOUBLE (1.5), "sentiment", BCON_DOUBLE (0.5), "priority",
                     BCON_DOUBLE (0.5), "}", "processing_metadata", "{", "processed_at",
                     BCON_DATE_TIME (1764300000000), "model_version", BCON_UTF8 ("x"), "}", "}"));
   /* Failure bookkeeping without its error. */
   damage ("CHK-2", BCON_NEW ("$set", "{", "processing_attempts", BCON_INT32 (2), "}"));

   int rc = run_check (out, sizeof out);
   assert_int_equal (rc, 1);
   assert_non_null (strstr (out, "CHK-0"));
   assert_non_null (strstr (out, "P9 (Panic)"));
   assert_non_null (strstr (out, "CHK-1"));
   assert_non_null (strstr (out, "outside [0, 1]"));
   assert_non_null (strstr (out, "CHK-2"));
   assert_non_null (strstr (out, "without last_error"));
   assert_non_null (strstr (out, "3 problem(s) found"));
}

static int
setup (void **state)
{
   (void) state;
   store = tk_test_store_open ("triage_test_check", db, sizeof db, 2);
   return store ? 0 : -1;
}

static int
teardown (void **state)
{
   (void) state;
   return tk_test_store_drop (store) ? 0 : -1;
}

/* Without --mongo-db or TRIAGE_MONGO_DB, the database named in the URI is
 * the one used (issue 16: the default "triage" used to win over it, so
 * TRIAGE_MONGO_URI=mongodb://db/support silently read and wrote "triage");
 * set, TRIAGE_MONGO_DB still wins. */
static void
test_database_named_in_the_uri (void **state)
{
   (void) state;
   static char out[65536];
   char expect[128], cmd[2048], uri[512];
   /* The test server's URI with the database as its path (before any
    * options). */
   const char *base = tk_test_mongo_uri ();
   const char *opts = strchr (base, '?');
   int host_len = opts ? (int) (opts - base) : (int) strlen (base);
   snprintf (uri, sizeof uri, "%.*s%s%s%s", host_len, base,
             host_len > 0 && base[host_len - 1] == '/' ? "" : "/", db, opts ? opts : "");
   snprintf (cmd, sizeof cmd, "env -u TRIAGE_MONGO_DB %s/triagectl check --mongo-uri '%s' 2>&1",
             TRIAGE_BIN_DIR, uri);
   tk_test_shell (cmd, out, sizeof out);
   snprintf (expect, sizeof expect, "Checking database \"%s\"", db);
   if (!strstr (out, expect)) {
      fail_msg ("expected '%s'; triagectl check printed:\n%s", expect, out);
   }
   snprintf (cmd, sizeof cmd,
             "env TRIAGE_MONGO_DB=%s_other %s/triagectl check --mongo-uri '%s' 2>&1", db,
             TRIAGE_BIN_DIR, uri);
   tk_test_shell (cmd, out, sizeof out);
   snprintf (expect, sizeof expect, "Checking database \"%s_other\"", db);
   if (!strstr (out, expect)) {
      fail_msg ("expected '%s'; triagectl check printed:\n%s", expect, out);
   }
   /* The other database, whether the check made it or not. */
   char other[96];
   tk_error_t err;
   snprintf (other, sizeof other, "%s_other", db);
   tk_store_t *o = tk_store_new (tk_test_mongo_uri (), other, 1, &err);
   assert_non_null (o);
   assert_true (tk_test_store_drop (o));
}

int
main (void)
{
   const struct CMUnitTest tests[] = {
      cmocka_unit_test (test_consistent_then_damaged),
      cmocka_unit_test (test_database_named_in_the_uri),
   };
   return cmocka_run_group_tests (tests, setup, teardown);
}
