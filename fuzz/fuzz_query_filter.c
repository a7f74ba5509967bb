/* fuzz_query_filter.c - the listing query builder (query_filter.h). The
 * input is a query string; it is parsed with the router's query parser
 * and handed to tk_query_build as the api does. Invariants: a built query
 * has a valid BSON filter whose values are never operators taken from the
 * input, a limit in range, and its cursor round-trips. */
#include <bson/bson.h>

#include "fuzz_common.h"
#include "http_router.h"
#include "query_filter.h"
#include "taxonomy.h"

/* True if any key anywhere in the document starts with '$' and is not one
 * the builder itself writes. User text only ever lands in values. */
static bool
has_foreign_operator (const bson_t *doc)
{
   static const char *const ours[] = {"$and", "$or", "$in", "$gte", "$lt", "$gt", "$lte",
                                      "$regex", "$options", "$exists", "$ne", "$elemMatch",
                                      "$nin", "$eq", "$size", "$not", "$type", NULL};
   bson_iter_t it;
   if (!bson_iter_init (&it, doc)) {
      return true;
   }
   while (bson_iter_next (&it)) {
      const char *key = bson_iter_key (&it);
      if (key[0] == '$') {
         bool known = false;
         for (size_t i = 0; ours[i]; i++) {
            known = known || strcmp (key, ours[i]) == 0;
         }
         if (!known) {
            return true;
         }
      }
      if (BSON_ITER_HOLDS_DOCUMENT (&it) || BSON_ITER_HOLDS_ARRAY (&it)) {
         uint32_t dlen;
         const uint8_t *d;
         bson_t sub;
         if (BSON_ITER_HOLDS_DOCUMENT (&it)) {
            bson_iter_document (&it, &dlen, &d);
         } else {
            bson_iter_array (&it, &dlen, &d);
         }
         if (!bson_init_static (&sub, d, dlen) || has_foreign_operator (&sub)) {
            return true;
         }
      }
   }
   return false;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
   tk_http_query_t hq;
   memset (&hq, 0, sizeof hq);
   if (!tk_http_query_parse ((const char *) data, size, &hq, NULL)) {
      return 0;
   }
   tk_query_param_t *params = calloc (hq.n ? hq.n : 1, sizeof *params);
   fuzz_check (params != NULL);
   for (size_t i = 0; i < hq.n; i++) {
      params[i].key = hq.pairs[i].key;
      params[i].value = hq.pairs[i].value;
   }
   static const char *const extra[] = {"format", NULL};
   tk_query_t q;
   tk_error_t err;
   if (tk_query_build (&q, params, hq.n, tk_taxonomy_default (), TK_QUERY_ALLOW_PAGING, extra,
                       &err)) {
      fuzz_check (q.limit >= 1 && q.limit <= TK_QUERY_MAX_LIMIT);
      fuzz_check (bson_validate (&q.filter, BSON_VALIDATE_NONE, NULL));
      fuzz_check (!has_foreign_operator (&q.filter));
      fuzz_check (tk_query_sort_field (&q) != NULL);

      bson_t page, sort;
      tk_query_page_filter (&q, &page);
      fuzz_check (!has_foreign_operator (&page));
      bson_destroy (&page);
      tk_query_sort_doc (&q, &sort);
      bson_destroy (&sort);

      /* A document with every sort's field: its cursor reads back. */
      bson_t *doc = BCON_NEW ("id", BCON_UTF8 ("T-1"), "created_at", BCON_DATE_TIME (1757745527513),
                              "processing_metadata", "{", "processed_at",
                              BCON_DATE_TIME (1757745527513), "}", "classification", "{",
                              "priority", BCON_UTF8 ("P1 (Medium)"), "sentiment",
                              BCON_UTF8 ("Curious"), "}", "confidence_scores", "{", "topic",
                              BCON_DOUBLE (0.25), "sentiment", BCON_DOUBLE (0.5), "priority",
                              BCON_DOUBLE (0.75), "}");
      char cursor[TK_QUERY_CURSOR_MAX];
      fuzz_check (tk_query_cursor_of (&q, doc, cursor, sizeof cursor));
      bson_destroy (doc);
      static const char *const sort_names[TK_SORT_N] = {
         "-created_at", "created_at", "-processed_at", "processed_at",
         "-priority", "priority", "-sentiment", "sentiment",
         "-confidence_topic", "confidence_topic", "-confidence_sentiment",
         "confidence_sentiment", "-confidence_priority", "confidence_priority"};
      tk_query_param_t again[2] = {{"sort", sort_names[q.sort]}, {"cursor", cursor}};
      tk_query_t q2;
      fuzz_check (tk_query_build (&q2, again, 2, tk_taxonomy_default (),
                                  TK_QUERY_ALLOW_PAGING, NULL, &err));
      fuzz_check (q2.has_cursor && q2.cursor_ms == 1757745527513);
      fuzz_check (strcmp (q2.cursor_id, "T-1") == 0);
      tk_query_cleanup (&q2);
      tk_query_cleanup (&q);
   } else {
      fuzz_check (err.message[0] != '\0');
      tk_query_cleanup (&q);
   }

   /* The escaper on the raw text as well. */
   char *raw = fuzz_strndup (data, size);
   char *esc = tk_regex_escape (raw);
   fuzz_check (esc != NULL && strlen (esc) >= strlen (raw));
   bson_free (esc);
   free (raw);

   free (params);
   tk_http_query_cleanup (&hq);
   return 0;
}
