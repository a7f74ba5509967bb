/* store.c's index sets (tk_store_index), checked against the lists the api
 * can ask for: on MongoDB every sort of query_sort.c, alone or after an
 * equality filter of query_filter.c, must have an index whose key is the
 * filter's equality fields followed by the sort's keys (or by their
 * reverse: an index is walked either way), so that a page is read in
 * index order without a blocking SORT stage (decision 0017). The sort
 * keys and the filters come from the code (tk_query_sort_doc,
 * tk_query_build), not from a copy. No server: the integration test
 * test_store checks the same sets on the real one. */
#include "test_support.h"

#include "query_filter.h"
#include "store.h"

#include <stdio.h>
#include <string.h>

/* A request's index key wanted: equality fields (any direction), then the
 * sort's fields with their directions. */
typedef struct {
   char eq[2][64];
   size_t n_eq;
   char sort[TK_STORE_INDEX_KEY_MAX][64];
   int dir[TK_STORE_INDEX_KEY_MAX];
   size_t n_sort;
   char what[160]; /* the request, for messages */
} want_t;

static size_t
key_len (const tk_store_index_t *ix)
{
   size_t n = 0;
   while (n < TK_STORE_INDEX_KEY_MAX && ix->key[n].field) {
      n++;
   }
   return n;
}

/* Whether ix's key is w's equality fields then w's sort, forwards or
 * backwards. */
static bool
serves (const tk_store_index_t *ix, const want_t *w)
{
   if (key_len (ix) != w->n_eq + w->n_sort) {
      return false;
   }
   for (size_t i = 0; i < w->n_eq; i++) {
      if (strcmp (ix->key[i].field, w->eq[i])) {
         return false;
      }
   }
   bool forwards = true, backwards = true;
   for (size_t i = 0; i < w->n_sort; i++) {
      const int dir = ix->key[w->n_eq + i].dir;
      if (strcmp (ix->key[w->n_eq + i].field, w->sort[i])) {
         return false;
      }
      forwards = forwards && dir == w->dir[i];
      backwards = backwards && dir == -w->dir[i];
   }
   return forwards || backwards;
}

/* The field of one $and clause of a built filter when the clause is an
 * equality, or a set of them: {f: v}, {f: {$in: [...]}}, or an $or of
 * {f: v} on one field (status). NULL for anything else. */
static const char *
equality_field (const bson_t *clause)
{
   bson_iter_t it, sub, alt;
   const char *field = NULL;
   if (!bson_iter_init (&it, clause) || !bson_iter_next (&it)) {
      return NULL;
   }
   const char *key = bson_iter_key (&it);
   if (!strcmp (key, "$or")) {
      if (!BSON_ITER_HOLDS_ARRAY (&it) || !bson_iter_recurse (&it, &sub)) {
         return NULL;
      }
      while (bson_iter_next (&sub)) {
         if (!BSON_ITER_HOLDS_DOCUMENT (&sub) || !bson_iter_recurse (&sub, &alt) ||
             !bson_iter_next (&alt) || BSON_ITER_HOLDS_DOCUMENT (&alt) ||
             (field && strcmp (field, bson_iter_key (&alt)))) {
            return NULL;
         }
         field = bson_iter_key (&alt);
         if (bson_iter_next (&alt)) {
            return NULL; /* a second condition: not one equality */
         }
      }
   } else if (key[0] != '$') {
      field = key;
      if (BSON_ITER_HOLDS_DOCUMENT (&it)) {
         if (!bson_iter_recurse (&it, &sub) || !bson_iter_next (&sub) ||
             strcmp (bson_iter_key (&sub), "$in") || bson_iter_next (&sub)) {
            return NULL;
         }
      }
   }
   return bson_iter_next (&it) ? NULL : field;
}

/* Fills w->eq from the equality clauses of q's filter; fails the test if
 * the filter has a clause of another kind (the cases below are chosen to
 * be pure equalities). */
static void
read_equalities (const tk_query_t *q, want_t *w)
{
   bson_iter_t it, and;
   w->n_eq = 0;
   if (bson_empty (&q->filter)) {
      return;
   }
   assert_true (bson_iter_init_find (&it, &q->filter, "$and"));
   assert_true (bson_iter_recurse (&it, &and));
   while (bson_iter_next (&and)) {
      uint32_t len;
      const uint8_t *data;
      bson_t clause;
      bson_iter_document (&and, &len, &data);
      assert_true (bson_init_static (&clause, data, len));
      const char *field = equality_field (&clause);
      if (!field) {
         char *json = bson_as_relaxed_extended_json (&clause, NULL);
         fail_msg ("%s: clause %s is not an equality", w->what, json);
      }
      assert_true (w->n_eq < 2);
      snprintf (w->eq[w->n_eq++], sizeof w->eq[0], "%s", field);
   }
}

/* Fills w's sort from tk_query_sort_doc, leaving out a field the filter
 * holds equal (it orders nothing). */
static void
read_sort (const tk_query_t *q, want_t *w)
{
   bson_t sort;
   bson_iter_t it;
   tk_query_sort_doc (q, &sort);
   w->n_sort = 0;
   assert_true (bson_iter_init (&it, &sort));
   while (bson_iter_next (&it)) {
      bool held = false;
      for (size_t i = 0; i < w->n_eq; i++) {
         held = held || !strcmp (w->eq[i], bson_iter_key (&it));
      }
      if (!held) {
         assert_true (w->n_sort < TK_STORE_INDEX_KEY_MAX);
         snprintf (w->sort[w->n_sort], sizeof w->sort[0], "%s", bson_iter_key (&it));
         w->dir[w->n_sort++] = bson_iter_as_int64 (&it) < 0 ? -1 : 1;
      }
   }
   bson_destroy (&sort);
}

/* Returns the MongoDB index serving params (n) sorted by sort, failing
 * the test when there is none. */
static const tk_store_index_t *
index_for (const tk_query_param_t *params, size_t n, tk_query_sort_t sort)
{
   tk_query_t q;
   tk_error_t err = {0};
   want_t w = {0};
   size_t len = 0;
   for (size_t i = 0; i < n; i++) {
      len += (size_t) snprintf (w.what + len, sizeof w.what - len, "%s=%s&", params[i].key,
                                params[i].value);
   }
   if (!tk_query_build (&q, params, n, tk_taxonomy_default (), TK_QUERY_ALLOW_PAGING, NULL,
                        &err)) {
      fail_msg ("%s: %s", w.what, err.message);
   }
   q.sort = sort;
   snprintf (w.what + len, sizeof w.what - len, "sort %s%s", tk_query_sort_desc (&q) ? "-" : "",
             tk_query_sort_field (&q));
   read_equalities (&q, &w);
   read_sort (&q, &w);
   tk_query_cleanup (&q);
   const tk_store_index_t *ix;
   for (size_t i = 0; (ix = tk_store_index (false, i)); i++) {
      if (serves (ix, &w)) {
         return ix;
      }
   }
   fail_msg ("no MongoDB index serves %s", w.what);
   return NULL;
}

static void
mark_used (const tk_store_index_t *ix, bool *used)
{
   const tk_store_index_t *it;
   for (size_t i = 0; (it = tk_store_index (false, i)); i++) {
      used[i] = used[i] || it == ix;
   }
}

/* Every sort alone; every equality filter with the created_at sorts (the
 * default and oldest first) and with its own field's sort; and nothing on
 * MongoDB that none of them (or the two named users) needs. */
static void
test_every_list_has_a_mongodb_index (void **state)
{
   (void) state;
   const tk_taxonomy_t *tax = tk_taxonomy_default ();
   const char *priority = tk_taxonomy_label (tax, TK_TAXONOMY_PRIORITY, 0);
   const char *sentiment = tk_taxonomy_label (tax, TK_TAXONOMY_SENTIMENT, 0);
   const char *topic = tk_taxonomy_label (tax, TK_TAXONOMY_TOPIC, 0);
   char two_priorities[128];
   snprintf (two_priorities, sizeof two_priorities, "%s,%s", priority,
             tk_taxonomy_label (tax, TK_TAXONOMY_PRIORITY, 1));
   const tk_query_param_t filters[][1] = {
      {{"status", "processed"}},       {{"status", "unprocessed"}},
      {{"priority", priority}},        {{"priority", two_priorities}},
      {{"sentiment", sentiment}},      {{"topic", topic}},
      {{"needs_review", "true"}},
   };
   bool used[32] = {false};
   size_t n_mongodb = 0;
   while (tk_store_index (false, n_mongodb)) {
      n_mongodb++;
   }
   assert_true (n_mongodb <= 32);

   for (int s = 0; s < TK_SORT_N; s++) {
      mark_used (index_for (NULL, 0, (tk_query_sort_t) s), used);
   }
   for (size_t f = 0; f < sizeof filters / sizeof filters[0]; f++) {
      mark_used (index_for (filters[f], 1, TK_SORT_CREATED_DESC), used);
      mark_used (index_for (filters[f], 1, TK_SORT_CREATED_ASC), used);
      for (int s = 0; s < TK_SORT_N; s++) {
         /* The filter's own sort (priority=P0&sort=-priority). */
         tk_query_t q;
         tk_error_t err = {0};
         assert_true (tk_query_build (&q, filters[f], 1, tax, TK_QUERY_ALLOW_PAGING, NULL, &err));
         q.sort = (tk_query_sort_t) s;
         want_t w = {0};
         read_equalities (&q, &w);
         bool own = !strcmp (w.eq[0], tk_query_sort_field (&q));
         tk_query_cleanup (&q);
         if (own) {
            mark_used (index_for (filters[f], 1, (tk_query_sort_t) s), used);
         }
      }
   }

   /* The two with users outside the listings: the unique id (ingest's
    * upsert, lookups by id) and POST /api/fetch (store.c). */
   for (size_t i = 0; i < n_mongodb; i++) {
      const char *name = tk_store_index (false, i)->name;
      if (!used[i] && strcmp (name, "id_1") && strcmp (name, "processed_1_stored_at_1_id_1")) {
         fail_msg ("MongoDB index %s serves none of the lists", name);
      }
   }
}

/* Each index's name is MongoDB's default one for its key, on both sets,
 * and only id_1 is unique. */
static void
test_names_are_the_default_ones (void **state)
{
   (void) state;
   for (int ferretdb = 0; ferretdb < 2; ferretdb++) {
      const tk_store_index_t *ix;
      size_t i;
      for (i = 0; (ix = tk_store_index (ferretdb, i)); i++) {
         char name[160];
         size_t len = 0;
         for (size_t k = 0; k < key_len (ix); k++) {
            len += (size_t) snprintf (name + len, sizeof name - len, "%s%s_%d", k ? "_" : "",
                                      ix->key[k].field, ix->key[k].dir);
         }
         assert_true (key_len (ix) > 0);
         assert_string_equal (ix->name, name);
         assert_int_equal (ix->unique, !strcmp (ix->name, "id_1"));
      }
      assert_true (i > 1);
   }
}

/* POST /api/fetch (routes_fetch.c): unprocessed tickets (processed = false,
 * and for "since last" a stored_at bound, a range after the equality)
 * sorted {stored_at: 1, id: 1}. Its sort is built there, not by query_sort.c,
 * so the key wanted is spelled here; the fetch test reads it from the
 * server's answers. */
static void
test_fetch_has_a_mongodb_index (void **state)
{
   (void) state;
   want_t w = {.n_eq = 1, .n_sort = 2, .dir = {1, 1}, .what = "POST /api/fetch"};
   snprintf (w.eq[0], sizeof w.eq[0], "processed");
   snprintf (w.sort[0], sizeof w.sort[0], "%s", TK_STORE_STORED_AT);
   snprintf (w.sort[1], sizeof w.sort[1], "id");
   const tk_store_index_t *ix;
   bool found = false;
   for (size_t i = 0; (ix = tk_store_index (false, i)); i++) {
      found = found || serves (ix, &w);
   }
   assert_true (found);
}

int
main (void)
{
   const struct CMUnitTest tests[] = {
      cmocka_unit_test (test_every_list_has_a_mongodb_index),
      cmocka_unit_test (test_names_are_the_default_ones),
      cmocka_unit_test (test_fetch_has_a_mongodb_index),
   };
   return cmocka_run_group_tests (tests, NULL, NULL);
}
