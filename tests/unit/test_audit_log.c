/* The audit record (common/audit_log): its fields, the bounded ticket
 * list, and what is left out (text that is not UTF-8, a query past its
 * bound). No database: building a record is pure. */
#include "test_support.h"

#include "audit_log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *
utf8_at (const bson_t *doc, const char *key)
{
   bson_iter_t it;
   if (!bson_iter_init_find (&it, doc, key) || !BSON_ITER_HOLDS_UTF8 (&it)) {
      return NULL;
   }
   return bson_iter_utf8 (&it, NULL);
}

static void
test_ids_are_bounded_and_counted (void **state)
{
   (void) state;
   tk_audit_ids_t ids = {0};
   char id[32];
   for (int i = 0; i < 250; i++) {
      snprintf (id, sizeof id, "T-%d", i);
      assert_true (tk_audit_ids_add (&ids, id));
   }
   assert_int_equal (ids.n, TK_AUDIT_IDS_MAX);
   assert_int_equal (ids.total, 250);
   assert_string_equal (ids.ids[0], "T-0");
   assert_string_equal (ids.ids[TK_AUDIT_IDS_MAX - 1], "T-99");

   tk_audit_entry_t e = {.service = "ingest", .key_id = "key_1", .role = "operator",
                         .client = "127.0.0.1:5000", .method = "POST", .route = "/v1/tickets",
                         .path = "/v1/tickets", .query = "", .action = "tickets.upload",
                         .status = 200, .tickets = &ids};
   bson_t *doc = tk_audit_record_new (&e);
   assert_string_equal (utf8_at (doc, "service"), "ingest");
   assert_string_equal (utf8_at (doc, "key_id"), "key_1");
   assert_string_equal (utf8_at (doc, "client"), "127.0.0.1:5000");
   assert_string_equal (utf8_at (doc, "action"), "tickets.upload");
   bson_iter_t it, arr;
   assert_true (bson_iter_init_find (&it, doc, "ticket_ids") && BSON_ITER_HOLDS_ARRAY (&it));
   assert_true (bson_iter_recurse (&it, &arr));
   size_t n = 0;
   while (bson_iter_next (&arr)) {
      n++;
   }
   assert_int_equal (n, TK_AUDIT_IDS_MAX);
   assert_true (bson_iter_init_find (&it, doc, "ticket_count"));
   assert_int_equal (bson_iter_as_int64 (&it), 250);
   assert_true (bson_iter_init_find (&it, doc, "at") && BSON_ITER_HOLDS_DATE_TIME (&it));
   bson_destroy (doc);
   tk_audit_ids_cleanup (&ids);
   assert_int_equal (ids.n, 0);
   tk_audit_ids_cleanup (NULL);
}

/* No tickets given: no ticket fields. A write that touched none lists an
 * empty array and a count of 0. */
static void
test_ticket_fields_only_for_writes (void **state)
{
   (void) state;
   tk_audit_entry_t e = {.service = "api", .action = "keys.list"};
   bson_t *doc = tk_audit_record_new (&e);
   assert_false (bson_has_field (doc, "ticket_ids"));
   assert_false (bson_has_field (doc, "ticket_count"));
   assert_string_equal (utf8_at (doc, "key_id"), "unknown");
   assert_string_equal (utf8_at (doc, "role"), "none");
   bson_destroy (doc);
   tk_audit_ids_t none = {0};
   e.tickets = &none;
   doc = tk_audit_record_new (&e);
   bson_iter_t it;
   assert_true (bson_iter_init_find (&it, doc, "ticket_count"));
   assert_int_equal (bson_iter_as_int64 (&it), 0);
   bson_destroy (doc);
}

static void
test_bad_text_left_out_and_query_cut (void **state)
{
   (void) state;
   char query[TK_AUDIT_QUERY_MAX + 100];
   memset (query, 'q', sizeof query - 1);
   query[sizeof query - 1] = '\0';
   tk_audit_entry_t e = {.service = "api", .action = "tickets.list", .path = "/api/\xff",
                         .query = query};
   bson_t *doc = tk_audit_record_new (&e);
   assert_null (utf8_at (doc, "path"));
   assert_int_equal (strlen (utf8_at (doc, "query")), TK_AUDIT_QUERY_MAX);
   bson_destroy (doc);
}

int
main (void)
{
   const struct CMUnitTest tests[] = {
      cmocka_unit_test (test_ids_are_bounded_and_counted),
      cmocka_unit_test (test_ticket_fields_only_for_writes),
      cmocka_unit_test (test_bad_text_left_out_and_query_cut),
   };
   return cmocka_run_group_tests (tests, NULL, NULL);
}
