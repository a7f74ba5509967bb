/* The api's newest-tickets window (services/api/newest.h), without a
 * server: the collector keeps the `keep` newest documents offered, in the
 * listing's order (created_at, then id, descending); a page of the default
 * listing is rendered from the window, or declined when the window cannot
 * tell it; the api's own writes patch the window. All of newest.h is pure;
 * what needs a store is the scan that feeds it (tk_tally_scan with the window as its each) and the
 * snapshot that owns it (snapshot.c), covered by the api's integration
 * tests. */
#include "test_support.h"

#include "api.h"
#include "newest.h"
#include "query_filter.h"
#include "taxonomy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bson_t *
ticket_doc (const char *id, int64_t created_ms)
{
   return BCON_NEW ("id", BCON_UTF8 (id), "subject", "Login fails", "body", "SSO loop",
                    "processed", BCON_BOOL (false), "created_at", BCON_DATE_TIME (created_ms));
}

static void
offer (api_newest_t *n, bson_t *doc)
{
   assert_true (api_newest_add (n, doc));
   bson_destroy (doc);
}

/* A window of keep, offered tickets T-<i> created at 1000 * i for i in
 * [0, count), in a scrambled order. */
static api_newest_t *
window (size_t keep, int count)
{
   api_newest_t *n = api_newest_new (keep);
   for (int k = 0; k < count; k++) {
      int i = (k * 7) % count; /* 7 is prime to the counts used */
      char id[16];
      snprintf (id, sizeof id, "T-%02d", i);
      offer (n, ticket_doc (id, 1000 * (int64_t) i));
   }
   assert_true (api_newest_finish (n));
   return n;
}

/* The default listing's query: no filter, newest first, limit, and the
 * cursor (NULL: none). */
static void
query (tk_query_t *q, unsigned limit, const char *cursor)
{
   char lim[16];
   snprintf (lim, sizeof lim, "%u", limit);
   tk_query_param_t params[2] = {{"limit", lim}, {"cursor", cursor}};
   tk_error_t err;
   assert_true (tk_query_build (q, params, cursor ? 2 : 1, tk_taxonomy_default (),
                                TK_QUERY_ALLOW_PAGING, NULL, &err));
}

/* The page for (limit, cursor) parsed, or NULL when the window declines. */
static cJSON *
page (const api_newest_t *n, unsigned limit, const char *cursor)
{
   tk_query_t q;
   query (&q, limit, cursor);
   char *body = NULL;
   size_t len = 0;
   uint32_t returned = 0;
   bool ok = api_newest_page (n, &q, &body, &len, &returned);
   tk_query_cleanup (&q);
   if (!ok) {
      return NULL;
   }
   assert_int_equal (strlen (body), len);
   cJSON *json = cJSON_Parse (body);
   assert_non_null (json);
   free (body);
   assert_int_equal (cJSON_GetArraySize (cJSON_GetObjectItem (json, "items")), returned);
   return json;
}

/* Checks the ids of the page's items, in order ("T-09,T-08"). */
static void
assert_ids (const cJSON *pg, const char *want)
{
   char got[256] = "";
   const cJSON *item;
   cJSON_ArrayForEach (item, cJSON_GetObjectItem (pg, "items"))
   {
      if (got[0]) {
         strcat (got, ",");
      }
      strcat (got, cJSON_GetStringValue (cJSON_GetObjectItem (item, "id")));
   }
   assert_string_equal (got, want);
}

static const char *
next_cursor (const cJSON *pg)
{
   return cJSON_GetStringValue (cJSON_GetObjectItem (pg, "next_cursor"));
}

/* ---- the collector --------------------------------------------------------- */

static void
test_keeps_the_newest_in_listing_order (void **state)
{
   (void) state;
   api_newest_t *n = window (4, 10);
   assert_int_equal (api_newest_count (n), 4);
   cJSON *pg = page (n, 3, NULL);
   assert_non_null (pg);
   assert_ids (pg, "T-09,T-08,T-07");
   assert_int_equal (cJSON_GetObjectItem (pg, "count")->valueint, 3);
   assert_int_equal (cJSON_GetObjectItem (pg, "limit")->valueint, 3);
   assert_non_null (next_cursor (pg));
   cJSON_Delete (pg);
   api_newest_destroy (n);
   api_newest_destroy (NULL);
}

/* Same created_at: the id decides, descending, compared bytewise. */
static void
test_ties_broken_by_id (void **state)
{
   (void) state;
   api_newest_t *n = api_newest_new (3);
   offer (n, ticket_doc ("B", 5000));
   offer (n, ticket_doc ("a", 5000));
   offer (n, ticket_doc ("C", 5000));
   offer (n, ticket_doc ("A", 5000));
   assert_true (api_newest_finish (n));
   assert_int_equal (api_newest_count (n), 3); /* "A" let go */
   cJSON *pg = page (n, 2, NULL);
   assert_non_null (pg);
   assert_ids (pg, "a,C"); /* 'a' (0x61) sorts after 'C' (0x43) */
   cJSON_Delete (pg);
   api_newest_destroy (n);
}

/* Items are rendered as the database path renders them
 * (api_ticket_doc_json, unformatted). */
static void
test_items_rendered_like_the_database_path (void **state)
{
   (void) state;
   api_newest_t *n = api_newest_new (2);
   bson_t *doc = ticket_doc ("T-1", 1234);
   assert_true (api_newest_add (n, doc));
   assert_true (api_newest_finish (n));
   tk_error_t err;
   cJSON *want = api_ticket_doc_json (doc, &err);
   assert_non_null (want);
   cJSON *pg = page (n, 10, NULL);
   assert_true (cJSON_Compare (cJSON_GetArrayItem (cJSON_GetObjectItem (pg, "items"), 0), want,
                               true));
   cJSON_Delete (want);
   cJSON_Delete (pg);
   bson_destroy (doc);
   api_newest_destroy (n);
}

/* ---- pages ------------------------------------------------------------------- */

/* Following next_cursor walks the window; the page that would reach past
 * a window that is not the whole collection is declined. */
static void
test_pages_follow_the_cursor_then_decline (void **state)
{
   (void) state;
   api_newest_t *n = window (5, 10);
   cJSON *p1 = page (n, 2, NULL);
   assert_ids (p1, "T-09,T-08");
   cJSON *p2 = page (n, 2, next_cursor (p1));
   assert_non_null (p2);
   assert_ids (p2, "T-07,T-06");
   /* T-05 is kept but what follows it is not: the database must say
    * whether a ticket follows. */
   assert_null (page (n, 2, next_cursor (p2)));
   assert_null (page (n, 5, NULL)); /* the page plus one more must fit */
   cJSON *p4 = page (n, 4, NULL);
   assert_non_null (p4);
   cJSON_Delete (p4);
   cJSON_Delete (p1);
   cJSON_Delete (p2);
   api_newest_destroy (n);
}

/* A window holding every ticket answers the last page too, with no next
 * cursor. */
static void
test_complete_window_answers_the_last_page (void **state)
{
   (void) state;
   api_newest_t *n = window (10, 3);
   cJSON *p1 = page (n, 2, NULL);
   assert_ids (p1, "T-02,T-01");
   cJSON *p2 = page (n, 2, next_cursor (p1));
   assert_non_null (p2);
   assert_ids (p2, "T-00");
   assert_true (cJSON_IsNull (cJSON_GetObjectItem (p2, "next_cursor")));
   cJSON *all = page (n, 50, NULL);
   assert_non_null (all);
   assert_ids (all, "T-02,T-01,T-00");
   cJSON_Delete (p1);
   cJSON_Delete (p2);
   cJSON_Delete (all);
   api_newest_destroy (n);
}

/* A document without a date created_at or a string id is not kept, and the
 * window no longer claims to be the whole collection. */
static void
test_unplaceable_document_makes_the_window_partial (void **state)
{
   (void) state;
   api_newest_t *n = api_newest_new (10);
   offer (n, ticket_doc ("T-1", 1000));
   offer (n, BCON_NEW ("id", "T-2", "subject", "s", "body", "b", "created_at", "yesterday"));
   assert_true (api_newest_finish (n));
   assert_int_equal (api_newest_count (n), 1);
   assert_null (page (n, 50, NULL));
   api_newest_destroy (n);
}

/* A kept document that renders no valid ticket is skipped, as the database
 * path skips it. */
static void
test_invalid_ticket_skipped (void **state)
{
   (void) state;
   api_newest_t *n = api_newest_new (10);
   offer (n, ticket_doc ("T-1", 1000));
   offer (n, BCON_NEW ("id", "T-2", "created_at", BCON_DATE_TIME (2000))); /* no subject, body */
   assert_true (api_newest_finish (n));
   assert_int_equal (api_newest_count (n), 2);
   cJSON *pg = page (n, 50, NULL);
   assert_non_null (pg);
   assert_ids (pg, "T-1");
   assert_int_equal (cJSON_GetObjectItem (pg, "count")->valueint, 1);
   cJSON_Delete (pg);
   api_newest_destroy (n);
}

/* Only the default listing: a filter or another sort goes to the database. */
static void
test_declines_filters_and_other_sorts (void **state)
{
   (void) state;
   api_newest_t *n = window (10, 3);
   tk_query_t q;
   tk_error_t err;
   char *body = NULL;
   size_t len;
   uint32_t returned;
   tk_query_param_t sorted[] = {{"sort", "created_at"}};
   assert_true (tk_query_build (&q, sorted, 1, tk_taxonomy_default (), TK_QUERY_ALLOW_PAGING,
                                NULL, &err));
   assert_false (api_newest_page (n, &q, &body, &len, &returned));
   tk_query_cleanup (&q);
   tk_query_param_t filtered[] = {{"status", "processed"}};
   assert_true (tk_query_build (&q, filtered, 1, tk_taxonomy_default (), TK_QUERY_ALLOW_PAGING,
                                NULL, &err));
   assert_false (api_newest_page (n, &q, &body, &len, &returned));
   tk_query_cleanup (&q);
   assert_null (body);
   api_newest_destroy (n);
}

/* ---- the api's writes ---------------------------------------------------- */

static void
put (api_newest_t *n, bool placed, int64_t ms, const char *id)
{
   char json[64];
   snprintf (json, sizeof json, "{\"id\":\"%s\"}", id);
   assert_true (api_newest_put (n, placed, ms, id, json, strlen (json)));
}

static void
assert_window (api_newest_t *n, unsigned limit, const char *want)
{
   cJSON *pg = page (n, limit, NULL);
   assert_non_null (pg);
   assert_ids (pg, want);
   cJSON_Delete (pg);
}

static void
test_put_new_changed_and_old (void **state)
{
   (void) state;
   api_newest_t *n = window (4, 10); /* T-09..T-06 of ten */
   put (n, true, 99000, "NEW");      /* newest: first; the full window lets T-06 go */
   assert_int_equal (api_newest_count (n), 4);
   assert_window (n, 3, "NEW,T-09,T-08");
   put (n, true, 1, "OLD"); /* older than the oldest kept: not in the window */
   assert_int_equal (api_newest_count (n), 4);
   put (n, true, 8500, "T-07"); /* its created_at changed: it moves */
   assert_window (n, 3, "NEW,T-09,T-07");
   put (n, true, 99000, "NEW"); /* same key: rendering replaced in place */
   assert_int_equal (api_newest_count (n), 4);
   assert_window (n, 3, "NEW,T-09,T-07");
   api_newest_destroy (n);
}

static void
test_put_unplaced_and_remove (void **state)
{
   (void) state;
   api_newest_t *n = window (10, 3); /* complete: T-02, T-01, T-00 */
   api_newest_remove (n, "T-01");
   api_newest_remove (n, "none"); /* not kept: nothing */
   assert_int_equal (api_newest_count (n), 2);
   assert_window (n, 50, "T-02,T-00"); /* still the whole collection */
   put (n, true, -1000, "OLDEST"); /* complete window: even the oldest goes in */
   assert_window (n, 50, "T-02,T-00,OLDEST");
   /* A write that leaves T-02 without a date: it leaves the window, which is
    * then not the whole collection any more. */
   assert_true (api_newest_put (n, false, 0, "T-02", NULL, 0));
   assert_int_equal (api_newest_count (n), 2);
   assert_null (page (n, 50, NULL));
   assert_window (n, 1, "T-00");
   api_newest_destroy (n);
}

int
main (void)
{
   const struct CMUnitTest tests[] = {
      cmocka_unit_test (test_keeps_the_newest_in_listing_order),
      cmocka_unit_test (test_ties_broken_by_id),
      cmocka_unit_test (test_items_rendered_like_the_database_path),
      cmocka_unit_test (test_pages_follow_the_cursor_then_decline),
      cmocka_unit_test (test_complete_window_answers_the_last_page),
      cmocka_unit_test (test_unplaceable_document_makes_the_window_partial),
      cmocka_unit_test (test_invalid_ticket_skipped),
      cmocka_unit_test (test_declines_filters_and_other_sorts),
      cmocka_unit_test (test_put_new_changed_and_old),
      cmocka_unit_test (test_put_unplaced_and_remove),
   };
   return cmocka_run_group_tests (tests, NULL, NULL);
}
