/* tk_list_sql_documents_by_id (common/list_sql.c) against the real
 * MongoDB-protocol server and its PostgreSQL: the name of FerretDB's table
 * of the tickets collection is looked up once and kept (decision 0022: one
 * statement a batch), and a name that no longer holds (the collection
 * dropped and made again, or renamed and another made in its place) is
 * never read under: the next read finds the tickets where the collection
 * keeps them now. */
#include "store_fixture.h"
#include "test_support.h"

#include "ferretdb_doc.h"
#include "list_sql.h"
#include "ticket.h"
#include "ticket_bson.h"

#include <mongoc/mongoc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N 5

typedef struct {
   tk_store_t *store;
   tk_list_sql_t *sql;
   mongoc_client_t *client;
   char db[96];
} fixture_t;

static const char *
pg_url (void)
{
   const char *u = getenv ("TRIAGE_TEST_PG_URL");
   return u && *u ? u : "postgresql://triage@127.0.0.1:5433/ferretdb";
}

static int
setup (void **state)
{
   fixture_t *f = calloc (1, sizeof *f);
   f->store = tk_test_store_open ("triage_test_sqlr", f->db, sizeof f->db, 2);
   f->sql = tk_list_sql_new (pg_url (), 2);
   f->client = mongoc_client_new (tk_test_mongo_uri ());
   if (!f->store || !f->sql || !f->client) {
      return -1;
   }
   *state = f;
   return 0;
}

static int
teardown (void **state)
{
   fixture_t *f = *state;
   tk_list_sql_destroy (f->sql);
   mongoc_client_destroy (f->client);
   bool dropped = tk_test_store_drop (f->store);
   free (f);
   return dropped ? 0 : -1;
}

/* Stores tickets T-0..T-(N-1) with subject "<subject> i". */
static void
insert (fixture_t *f, const char *subject)
{
   tk_ticket_t *t[N];
   for (int i = 0; i < N; i++) {
      char buf[64];
      t[i] = tk_ticket_new ();
      snprintf (buf, sizeof buf, "T-%d", i);
      t[i]->id = strdup (buf);
      snprintf (buf, sizeof buf, "%s %d", subject, i);
      t[i]->subject = strdup (buf);
      t[i]->body = strdup ("body");
   }
   tk_insert_result_t res;
   tk_error_t err;
   assert_true (tk_store_insert_tickets (f->store, t, N, &res, &err));
   for (int i = 0; i < N; i++) {
      tk_ticket_destroy (t[i]);
   }
}

/* Reads T-0..T-(N-1) in one call and checks that each came from SQL with
 * subject "<subject> i". */
static void
read_all (fixture_t *f, const char *subject)
{
   char ids_buf[N][16];
   const char *ids[N];
   char *docs[N];
   for (int i = 0; i < N; i++) {
      snprintf (ids_buf[i], sizeof ids_buf[i], "T-%d", i);
      ids[i] = ids_buf[i];
   }
   tk_error_t err;
   assert_true (tk_list_sql_documents_by_id (f->sql, f->db, ids, N, docs, &err));
   for (int i = 0; i < N; i++) {
      assert_non_null (docs[i]);
      bson_t doc = BSON_INITIALIZER;
      tk_ticket_t *t = NULL;
      assert_true (tk_ferretdb_doc_to_bson (docs[i], strlen (docs[i]), &doc, &err));
      assert_true (tk_ticket_from_bson (&doc, &t, &err));
      char want[64];
      snprintf (want, sizeof want, "%s %d", subject, i);
      assert_string_equal (t->id, ids[i]);
      assert_string_equal (t->subject, want);
      tk_ticket_destroy (t);
      bson_destroy (&doc);
      free (docs[i]);
   }
}

static mongoc_collection_t *
tickets (fixture_t *f)
{
   return mongoc_client_get_collection (f->client, f->db, "tickets");
}

static void
test_table_name_looked_up_once (void **state)
{
   fixture_t *f = *state;
   insert (f, "first");
   read_all (f, "first");
   read_all (f, "first");
   read_all (f, "first");
   assert_int_equal (tk_list_sql_lookups (f->sql), 1);
}

static void
test_dropped_and_made_again (void **state)
{
   fixture_t *f = *state;
   insert (f, "first");
   read_all (f, "first");
   mongoc_collection_t *c = tickets (f);
   bson_error_t e;
   assert_true (mongoc_collection_drop (c, &e));
   mongoc_collection_destroy (c);
   insert (f, "second");
   read_all (f, "second");
   read_all (f, "second");
}

static void
test_renamed_and_another_made (void **state)
{
   fixture_t *f = *state;
   insert (f, "first");
   read_all (f, "first");
   /* The old table stays, under the old collection; "tickets" gets a new
    * one. Reading the old table under the cached name would bring "first". */
   mongoc_collection_t *c = tickets (f);
   bson_error_t e;
   assert_true (mongoc_collection_rename (c, f->db, "tickets_before", false, &e));
   mongoc_collection_destroy (c);
   insert (f, "second");
   read_all (f, "second");
   read_all (f, "second");
   assert_int_equal (tk_list_sql_lookups (f->sql), 2);
}

int
main (void)
{
   const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown (test_table_name_looked_up_once, setup, teardown),
      cmocka_unit_test_setup_teardown (test_dropped_and_made_again, setup, teardown),
      cmocka_unit_test_setup_teardown (test_renamed_and_another_made, setup, teardown),
   };
   return cmocka_run_group_tests (tests, NULL, NULL);
}
