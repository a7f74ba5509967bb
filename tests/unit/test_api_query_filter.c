/* query_filter: URL parameters to a MongoDB filter, with user text escaped
 * and never an operator. */
#include "test_support.h"

#include "query_filter.h"

#include <string.h>

static char *
build_json (const tk_query_param_t *p, size_t n, tk_error_t *err, bool *ok)
{
   tk_query_t q;
   *ok = tk_query_build (&q, p, n, tk_taxonomy_default (), TK_QUERY_ALLOW_PAGING, NULL, err);
   if (!*ok) {
      return NULL;
   }
   char *s = bson_as_relaxed_extended_json (&q.filter, NULL);
   tk_query_cleanup (&q);
   return s;
}

static void
test_text_is_escaped (void **state)
{
   (void) state;
   tk_query_param_t p[] = {{"q", "a.b*(c)[d]{$gt}^$|?+\\"}};
   tk_error_t err;
   bool ok;
   char *s = build_json (p, 1, &err, &ok);
   assert_true (ok);
   /* Every metacharacter is preceded by a backslash (doubled in JSON). */
   assert_non_null (strstr (s, "a\\\\.b\\\\*\\\\(c\\\\)\\\\[d\\\\]\\\\{\\\\$gt\\\\}"));
   assert_non_null (strstr (s, "\"$options\" : \"i\""));
   bson_free (s);
   char *e = tk_regex_escape ("x.y");
   assert_string_equal (e, "x\\.y");
   bson_free (e);
}

static void
test_labels_are_canonical_or_refused (void **state)
{
   (void) state;
   tk_error_t err;
   bool ok;
   tk_query_param_t good[] = {{"priority", "p0 (high),P2 (Low)"}, {"topic", "sso"}};
   char *s = build_json (good, 2, &err, &ok);
   assert_true (ok);
   assert_non_null (strstr (s, "\"P0 (High)\""));
   assert_non_null (strstr (s, "\"SSO\""));
   bson_free (s);
   tk_query_param_t bad[] = {{"priority", "{\"$gt\":\"\"}"}};
   assert_null (build_json (bad, 1, &err, &ok));
   assert_false (ok);
   assert_string_equal (err.field, "priority");
}

static void
test_limits_and_unknown_keys (void **state)
{
   (void) state;
   tk_error_t err;
   bool ok;
   const char *bad_limits[] = {"0", "1001", "-1", "1e3", "", "12abc"};
   for (size_t i = 0; i < 6; i++) {
      tk_query_param_t p[] = {{"limit", bad_limits[i]}};
      assert_null (build_json (p, 1, &err, &ok));
      assert_string_equal (err.field, "limit");
   }
   tk_query_param_t unk[] = {{"$where", "1"}};
   assert_null (build_json (unk, 1, &err, &ok));
   assert_string_equal (err.field, "$where");
   tk_query_t q;
   assert_true (tk_query_build (&q, NULL, 0, tk_taxonomy_default (), TK_QUERY_ALLOW_PAGING, NULL,
                                &err));
   assert_int_equal (q.limit, 50);
   assert_true (bson_empty (&q.filter));
   tk_query_cleanup (&q);
   tk_query_cleanup (&q); /* twice is harmless */
}

/* sort, limit, cursor, q and the dates are read once: a second one is refused by
 * name, whatever the first was (an empty q= included); labels may repeat. */
static void
test_single_parameters_given_twice (void **state)
{
   (void) state;
   tk_error_t err;
   bool ok;
   const tk_query_param_t twice[][2] = {
      {{"sort", "created_at"}, {"sort", "-created_at"}},
      {{"limit", "5"}, {"limit", "5"}},
      {{"q", ""}, {"q", "refund"}},
      {{"q", "refund"}, {"q", "refund"}},
      {{"created_from", "2026-01-01"}, {"created_from", "2026-02-01"}},
      {{"processed_to", "2026-01-01"}, {"processed_to", "2026-01-01"}},
   };
   for (size_t i = 0; i < sizeof twice / sizeof twice[0]; i++) {
      assert_null (build_json (twice[i], 2, &err, &ok));
      assert_false (ok);
      assert_string_equal (err.field, twice[i][0].key);
      assert_non_null (strstr (err.message, "given twice"));
   }
   tk_query_param_t labels[] = {{"topic", "SSO"}, {"topic", "Connector"}};
   char *s = build_json (labels, 2, &err, &ok);
   assert_true (ok);
   bson_free (s);
}

static void
test_cursor_round_trip (void **state)
{
   (void) state;
   tk_query_t q;
   tk_error_t err;
   assert_true (tk_query_build (&q, NULL, 0, tk_taxonomy_default (), TK_QUERY_ALLOW_PAGING, NULL,
                                &err));
   char cur[300];
   assert_true (tk_query_cursor_encode (&q, 1736467200000, "a/b?&=", cur, sizeof cur));
   tk_query_cleanup (&q);
   tk_query_param_t p[] = {{"cursor", cur}};
   assert_true (tk_query_build (&q, p, 1, tk_taxonomy_default (), TK_QUERY_ALLOW_PAGING, NULL,
                                &err));
   assert_true (q.has_cursor);
   assert_int_equal (q.cursor_ms, 1736467200000);
   assert_string_equal (q.cursor_id, "a/b?&=");
   bson_t f;
   tk_query_page_filter (&q, &f);
   char *s = bson_as_relaxed_extended_json (&f, NULL);
   assert_non_null (strstr (s, "\"$lt\" : \"a/b?&=\""));
   bson_free (s);
   bson_destroy (&f);
   tk_query_cleanup (&q);
   /* a cursor of another sort is refused */
   tk_query_param_t p2[] = {{"cursor", cur}, {"sort", "created_at"}};
   assert_false (tk_query_build (&q, p2, 2, tk_taxonomy_default (), TK_QUERY_ALLOW_PAGING, NULL,
                                 &err));
   assert_string_equal (err.field, "cursor");
   /* the largest key a cursor can carry is int64's; one more is refused,
    * not wrapped (found by fuzz_query_filter under UBSan) */
   char big[64];
   snprintf (big, sizeof big, "%c9223372036854775807.61", cur[0]);
   tk_query_param_t p3[] = {{"cursor", big}};
   assert_true (tk_query_build (&q, p3, 1, tk_taxonomy_default (), TK_QUERY_ALLOW_PAGING, NULL,
                                &err));
   assert_int_equal (q.cursor_ms, INT64_MAX);
   tk_query_cleanup (&q);
   snprintf (big, sizeof big, "%c9223372036854775808.61", cur[0]);
   assert_false (tk_query_build (&q, p3, 1, tk_taxonomy_default (), TK_QUERY_ALLOW_PAGING, NULL,
                                 &err));
   assert_string_equal (err.field, "cursor");
   snprintf (big, sizeof big, "%c9452753715774552713.61", cur[0]);
   assert_false (tk_query_build (&q, p3, 1, tk_taxonomy_default (), TK_QUERY_ALLOW_PAGING, NULL,
                                 &err));
}

/* A label or confidence sort's cursor carries the value, created_at and
 * id of the document it continues after, and its
 * page filter continues after exactly that. */
static void
test_keyed_sort_cursors (void **state)
{
   (void) state;
   tk_error_t err;
   static const struct {
      const char *sort, *doc, *want_in_filter;
   } cases[] = {
      {"priority", "{\"id\": \"T-1\", \"created_at\": {\"$date\": 5000}, "
                   "\"classification\": {\"priority\": \"P1 (Medium)\"}}",
       "\"classification.priority\" : { \"$gt\" : \"P1 (Medium)\" }"},
      {"-sentiment", "{\"id\": \"T-2\", \"created_at\": {\"$date\": 5000}, "
                     "\"classification\": {\"sentiment\": \"Curious\"}}",
       "\"classification.sentiment\" : { \"$type\" : \"string\" }"},
      {"confidence_topic", "{\"id\": \"T-4\", \"created_at\": {\"$date\": 5000}, "
                           "\"confidence_scores\": {\"topic\": 0.1}}",
       "\"confidence_scores.topic\" : { \"$gt\" : 0.1000000000000000"},
   };
   for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
      tk_query_t q;
      tk_query_param_t ps[] = {{"sort", cases[i].sort}};
      assert_true (tk_query_build (&q, ps, 1, tk_taxonomy_default (), TK_QUERY_ALLOW_PAGING, NULL,
                                   &err));
      bson_error_t e;
      bson_t *doc = bson_new_from_json ((const uint8_t *) cases[i].doc, -1, &e);
      assert_non_null (doc);
      char cur[TK_QUERY_CURSOR_MAX];
      assert_true (tk_query_cursor_of (&q, doc, cur, sizeof cur));
      tk_query_cleanup (&q);
      tk_query_param_t pc[] = {{"sort", cases[i].sort}, {"cursor", cur}};
      assert_true (tk_query_build (&q, pc, 2, tk_taxonomy_default (), TK_QUERY_ALLOW_PAGING, NULL,
                                   &err));
      assert_int_equal (q.cursor_ms, 5000);
      bson_iter_t it;
      assert_true (bson_iter_init_find (&it, doc, "id"));
      assert_string_equal (q.cursor_id, bson_iter_utf8 (&it, NULL));
      bson_t f;
      tk_query_page_filter (&q, &f);
      char *s = bson_as_relaxed_extended_json (&f, NULL);
      if (!strstr (s, cases[i].want_in_filter)) {
         fail_msg ("%s: %s lacks %s", cases[i].sort, s, cases[i].want_in_filter);
      }
      bson_free (s);
      bson_destroy (&f);
      tk_query_cleanup (&q);
      /* the cursor of one sort is refused by another */
      tk_query_param_t pw[] = {{"sort", "-created_at"}, {"cursor", cur}};
      assert_false (tk_query_build (&q, pw, 2, tk_taxonomy_default (), TK_QUERY_ALLOW_PAGING,
                                    NULL, &err));
      bson_destroy (doc);
   }
   /* a ticket without the sort's field gives no cursor (it is not listed) */
   {
      tk_query_t q;
      tk_query_param_t ps[] = {{"sort", "priority"}};
      assert_true (tk_query_build (&q, ps, 1, tk_taxonomy_default (), TK_QUERY_ALLOW_PAGING, NULL,
                                   &err));
      bson_t *doc = BCON_NEW ("id", BCON_UTF8 ("T-3"), "created_at", BCON_DATE_TIME (5000));
      char cur[TK_QUERY_CURSOR_MAX];
      assert_false (tk_query_cursor_of (&q, doc, cur, sizeof cur));
      bson_destroy (doc);
      tk_query_cleanup (&q);
   }
   /* a number cursor that is not a number is refused */
   tk_query_t q;
   tk_query_param_t bad[] = {{"sort", "confidence_topic"}, {"cursor", "T7a.5000.54"}};
   assert_false (tk_query_build (&q, bad, 2, tk_taxonomy_default (), TK_QUERY_ALLOW_PAGING, NULL,
                                 &err));
   assert_string_equal (err.field, "cursor");
}

/* stored_from / stored_to: a range on stored_at (when the store first held
 * the ticket), inclusive from, exclusive to, each once. */
static void
test_stored_range (void **state)
{
   (void) state;
   tk_error_t err;
   bool ok;
   tk_query_param_t p[] = {{"stored_from", "2026-12-01T00:00:00Z"},
                           {"stored_to", "2026-12-02T00:00:00Z"}};
   char *s = build_json (p, 2, &err, &ok);
   assert_true (ok);
   assert_non_null (strstr (s, "\"stored_at\" : { \"$gte\" : { \"$date\" : "
                               "\"2026-12-01T00:00:00Z\" }, \"$lt\" : { \"$date\" : "
                               "\"2026-12-02T00:00:00Z\" } }"));
   bson_free (s);
   tk_query_t q;
   assert_true (tk_query_build (&q, p, 1, tk_taxonomy_default (), 0, NULL, &err));
   assert_true (q.where.has_time[TK_QUERY_T_STORED_FROM]);
   assert_false (q.where.has_time[TK_QUERY_T_STORED_TO]);
   tk_query_cleanup (&q);
   tk_query_param_t twice[] = {{"stored_to", "2026-01-01"}, {"stored_to", "2026-01-02"}};
   assert_null (build_json (twice, 2, &err, &ok));
   assert_string_equal (err.field, "stored_to");
   tk_query_param_t bad[] = {{"stored_from", "yesterday"}};
   assert_null (build_json (bad, 1, &err, &ok));
   assert_string_equal (err.field, "stored_from");
}

/* q: at most 256 characters (not bytes), refused past them in words. */
static void
test_search_text_limit (void **state)
{
   (void) state;
   tk_error_t err;
   bool ok;
   char text[3001];
   memset (text, 'a', 3000);
   text[3000] = '\0';
   tk_query_param_t p[] = {{"q", text}};
   assert_null (build_json (p, 1, &err, &ok));
   assert_string_equal (err.field, "q");
   assert_string_equal (err.message,
                        "search text is limited to 256 characters (this one has 3000)");
   text[256] = '\0';
   char *s = build_json (p, 1, &err, &ok);
   assert_true (ok);
   bson_free (s);
   /* 256 two-byte characters (512 bytes) are within the limit; 257 are not. */
   for (int i = 0; i < 257; i++) {
      memcpy (text + 2 * i, "\xc3\xa9", 2);
   }
   text[2 * 256] = '\0';
   s = build_json (p, 1, &err, &ok);
   assert_true (ok);
   bson_free (s);
   memcpy (text + 2 * 256, "\xc3\xa9", 3);
   assert_null (build_json (p, 1, &err, &ok));
   assert_non_null (strstr (err.message, "limited to 256 characters (this one has 257)"));
}

int
main (void)
{
   const struct CMUnitTest tests[] = {
      cmocka_unit_test (test_text_is_escaped),
      cmocka_unit_test (test_labels_are_canonical_or_refused),
      cmocka_unit_test (test_limits_and_unknown_keys),
      cmocka_unit_test (test_single_parameters_given_twice),
      cmocka_unit_test (test_cursor_round_trip),
      cmocka_unit_test (test_keyed_sort_cursors),
      cmocka_unit_test (test_stored_range),
      cmocka_unit_test (test_search_text_limit),
   };
   return cmocka_run_group_tests (tests, NULL, NULL);
}
