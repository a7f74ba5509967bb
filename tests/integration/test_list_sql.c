/* common/list_sql.c called directly, on the local stack's PostgreSQL, for
 * a database FerretDB has not made yet (an api's first moments on a new
 * one, before its indexes create the collection): it holds no ticket, and
 * saying so is not a failure (the statistics scan would otherwise warn
 * and read the collection, and the stored_at check run the find). */
#include "test_support.h"

#include "list_sql.h"
#include "pg_sessions.h"

#include <stdio.h>
#include <string.h>

static bool
count_doc (void *ud, const char *json, size_t len, tk_error_t *err)
{
   (void) json;
   (void) len;
   (void) err;
   (*(int *) ud)++;
   return true;
}

static void
test_a_database_not_made_yet_holds_nothing (void **state)
{
   (void) state;
   char db[64];
   tk_test_unique_name ("triage_test_list_sql", db, sizeof db);
   tk_list_sql_t *s = tk_list_sql_new (tk_test_pg_url (), 2);
   assert_non_null (s);
   tk_error_t err = {0};
   int docs = 0;
   if (!tk_list_sql_each_document (s, db, count_doc, &docs, &err)) {
      fail_msg ("each_document on %s: %s", db, err.message);
   }
   assert_int_equal (docs, 0);
   bool any = true;
   if (!tk_list_sql_any_missing (s, db, "stored_at", &any, &err)) {
      fail_msg ("any_missing on %s: %s", db, err.message);
   }
   assert_false (any);
   tk_list_sql_destroy (s);
}

int
main (void)
{
   const struct CMUnitTest tests[] = {
      cmocka_unit_test (test_a_database_not_made_yet_holds_nothing),
   };
   return cmocka_run_group_tests (tests, NULL, NULL);
}
