/* The per-ticket lookups every service makes ({_id} for the classifier's
 * update and the api's reads, {id} for ingest's duplicate check) are served
 * by an index, not a scan of the collection: the server's own `explain` of
 * them names an index. On MongoDB that is an IXSCAN (or its _id fast
 * path); on the local stack's FerretDB it holds only because stack-up
 * gives PostgreSQL GIN twins of FerretDB's indexes and custom plans
 * (docs/decisions/0008) - without them both plans are a "Seq Scan". */
#include "store_fixture.h"
#include "test_support.h"

#include "store.h"

#include <mongoc/mongoc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N_DOCS 5000

typedef struct {
   tk_store_t *store;
   char db[96];
} fixture_t;

static int
setup (void **state)
{
   fixture_t *f = calloc (1, sizeof *f);
   f->store = tk_test_store_open ("triage_test_plan", f->db, sizeof f->db, 2);
   if (!f->store) {
      free (f);
      return -1;
   }
   *state = f;
   return 0;
}

static int
teardown (void **state)
{
   fixture_t *f = *state;
   bool dropped = tk_test_store_drop (f->store);
   free (f);
   return dropped ? 0 : -1;
}

/* Inserts N_DOCS ticket-shaped documents, so that a scan and an index
 * lookup have clearly different costs for the planner. */
static void
fill (mongoc_collection_t *coll)
{
   bson_t *docs[500];
   int64_t now = 1764000000000;
   for (int base = 0; base < N_DOCS; base += 500) {
      for (int i = 0; i < 500; i++) {
         char id[32];
         snprintf (id, sizeof id, "PLAN-%06d", base + i);
         docs[i] = BCON_NEW ("_id", BCON_UTF8 (id), "id", BCON_UTF8 (id), "subject",
                             BCON_UTF8 ("Cannot log in after the update"), "body",
                             BCON_UTF8 ("The login page spins and then shows an error."),
                             "processed", BCON_BOOL (false), "created_at",
                             BCON_DATE_TIME (now + base + i));
      }
      bson_error_t berr;
      bool ok = mongoc_collection_insert_many (coll, (const bson_t **) docs, 500, NULL, NULL,
                                               &berr);
      for (int i = 0; i < 500; i++) {
         bson_destroy (docs[i]);
      }
      if (!ok) {
         fail_msg ("insert_many: %s", berr.message);
      }
   }
}

/* The server's explain of find(filter) on tickets, as relaxed JSON. */
static char *
explain_find (mongoc_database_t *db, const bson_t *filter)
{
   bson_t *cmd = BCON_NEW ("explain", "{", "find", BCON_UTF8 ("tickets"), "filter",
                           BCON_DOCUMENT (filter), "limit", BCON_INT32 (1), "}");
   bson_t reply;
   bson_error_t berr;
   bool ok = mongoc_database_command_simple (db, cmd, NULL, &reply, &berr);
   bson_destroy (cmd);
   if (!ok) {
      bson_destroy (&reply);
      fail_msg ("explain: %s", berr.message);
   }
   char *json = bson_as_relaxed_extended_json (&reply, NULL);
   bson_destroy (&reply);
   return json;
}

/* An index answers the plan: MongoDB's IXSCAN / IDHACK / EXPRESS_IXSCAN, or
 * PostgreSQL's Index Scan / Bitmap Index Scan under FerretDB. */
static bool
plan_uses_index (const char *plan)
{
   return strstr (plan, "IXSCAN") || strstr (plan, "IDHACK") || strstr (plan, "Index Scan");
}

static void
check_lookup (mongoc_database_t *db, const char *field)
{
   bson_t *filter = BCON_NEW (field, BCON_UTF8 ("PLAN-002500"));
   char *plan = explain_find (db, filter);
   bson_destroy (filter);
   if (!plan_uses_index (plan) || strstr (plan, "COLLSCAN") || strstr (plan, "\"Seq Scan\"")) {
      fprintf (stderr, "explain of {%s: ...}: %s\n", field, plan);
      bson_free (plan);
      fail_msg ("the lookup by %s scans the collection instead of using an index", field);
   }
   bson_free (plan);
}

static void
test_lookups_by_id_use_an_index (void **state)
{
   fixture_t *f = *state;
   mongoc_client_t *client = tk_store_client_pop (f->store);
   assert_non_null (client);
   mongoc_database_t *db = mongoc_client_get_database (client, f->db);
   mongoc_collection_t *coll = mongoc_client_get_collection (client, f->db, "tickets");
   fill (coll);

   check_lookup (db, "_id");
   check_lookup (db, "id");

   /* And the lookup still finds exactly the one document. */
   bson_t *filter = BCON_NEW ("_id", BCON_UTF8 ("PLAN-002500"));
   bson_error_t berr;
   int64_t n = mongoc_collection_count_documents (coll, filter, NULL, NULL, NULL, &berr);
   bson_destroy (filter);
   assert_int_equal (n, 1);

   mongoc_collection_destroy (coll);
   mongoc_database_destroy (db);
   tk_store_client_push (f->store, client);
}

int
main (void)
{
   const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown (test_lookups_by_id_use_an_index, setup, teardown),
   };
   return cmocka_run_group_tests (tests, NULL, NULL);
}
