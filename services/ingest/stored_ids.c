/* stored_ids.c - which of a list of ticket ids are stored already.
 *
 * The dry-run upload (which rows would be duplicates) and the batcher (which
 * duplicates still wait for their classification) ask MongoDB the same
 * question: {id: {$in: [...]}}, projected to the id, in queries of at most
 * IDS_PER_QUERY ids so a large batch never builds one huge filter.
 */
#include "ingest.h"

#include <string.h>

#include <mongoc/mongoc.h>

#include "store_query.h"

#define IDS_PER_QUERY 500

/* Looks up the non-NULL ids[from, to); sets found[i] for each one stored
 * (and matching also). An empty group asks nothing. */
static bool
find_group (mongoc_client_t *client, const char *db, const char *const *ids, size_t from, size_t to,
            const bson_t *also, bool *found, tk_error_t *err)
{
   bool ok = false;
   bson_t filter = BSON_INITIALIZER, cond, in;
   bson_t *projection = NULL;
   mongoc_cursor_t *cursor = NULL;
   const bson_t *doc;
   bson_iter_t it;
   bson_error_t e;
   char key[16];
   uint32_t k = 0;
   BSON_APPEND_DOCUMENT_BEGIN (&filter, "id", &cond);
   BSON_APPEND_ARRAY_BEGIN (&cond, "$in", &in);
   for (size_t i = from; i < to; i++) {
      if (ids[i]) {
         const char *kp;
         size_t klen = bson_uint32_to_string (k++, &kp, key, sizeof key);
         bson_append_utf8 (&in, kp, (int) klen, ids[i], -1);
      }
   }
   bson_append_array_end (&cond, &in);
   bson_append_document_end (&filter, &cond);
   if (k == 0) {
      ok = true;
      goto done;
   }
   if (also && !bson_concat (&filter, also)) {
      tk_error_set (err, TK_ERR_NOMEM, 0, "the id lookup's filter is too large");
      goto done;
   }
   projection = BCON_NEW ("id", BCON_INT32 (1), "_id", BCON_INT32 (0));
   cursor = tk_store_tickets_find (client, db,
                                   &(tk_ticket_query_t) {.filter = &filter, .projection = projection});
   while (mongoc_cursor_next (cursor, &doc)) {
      if (!bson_iter_init_find (&it, doc, "id") || !BSON_ITER_HOLDS_UTF8 (&it)) {
         continue;
      }
      const char *id = bson_iter_utf8 (&it, NULL);
      for (size_t i = from; i < to; i++) {
         if (ids[i] && strcmp (ids[i], id) == 0) {
            found[i] = true;
         }
      }
   }
   if (mongoc_cursor_error (cursor, &e)) {
      tk_error_set (err, TK_ERR_MONGO, (int) e.code, "looking up stored ids: %s", e.message);
      goto done;
   }
   ok = true;
done:
   mongoc_cursor_destroy (cursor);
   bson_destroy (projection);
   bson_destroy (&filter);
   return ok;
}

bool
ingest_find_stored_ids (tk_store_t *store, const char *const *ids, size_t n, const bson_t *also,
                        bool *found, tk_error_t *err)
{
   mongoc_client_t *client = tk_store_client_pop (store);
   bool ok = true;
   for (size_t from = 0; ok && from < n; from += IDS_PER_QUERY) {
      size_t to = from + IDS_PER_QUERY < n ? from + IDS_PER_QUERY : n;
      ok = find_group (client, tk_store_db_name (store), ids, from, to, also, found, err);
   }
   tk_store_client_push (store, client);
   return ok;
}
