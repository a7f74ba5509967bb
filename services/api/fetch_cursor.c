/* fetch_cursor.c - the `fetch_cursors` collection: each API key's cursor
 * for POST /api/fetch (see fetch_cursor.h). */
#include "fetch_cursor.h"

#include <stdlib.h>
#include <string.h>

#define FETCH_CURSORS "fetch_cursors"
#define MONGO_DUPLICATE_KEY 11000

void
api_fetch_cursor_cleanup (api_fetch_cursor_t *c)
{
   if (!c) {
      return;
   }
   for (size_t i = 0; i < c->n_seen; i++) {
      free (c->seen[i].id);
   }
   free (c->seen);
   memset (c, 0, sizeof *c);
}

bool
api_fetch_cursor_add (api_fetch_cursor_t *c, const char *id, int64_t stored_at)
{
   if (c->n_seen == c->cap_seen) {
      size_t cap = c->cap_seen ? c->cap_seen * 2 : 64;
      api_fetch_seen_t *seen = realloc (c->seen, cap * sizeof *seen);
      if (!seen) {
         return false;
      }
      c->seen = seen;
      c->cap_seen = cap;
   }
   if (!(c->seen[c->n_seen].id = strdup (id))) {
      return false;
   }
   c->seen[c->n_seen++].stored_at = stored_at;
   if (!c->has_stored_at || stored_at > c->stored_at) {
      c->has_stored_at = true;
      c->stored_at = stored_at;
   }
   return true;
}

static int
by_id (const void *a, const void *b)
{
   return strcmp (((const api_fetch_seen_t *) a)->id, ((const api_fetch_seen_t *) b)->id);
}

/* Newest first, then by id: what is kept when seen is too long. */
static int
by_newest (const void *a, const void *b)
{
   const api_fetch_seen_t *x = a, *y = b;
   if (x->stored_at != y->stored_at) {
      return x->stored_at > y->stored_at ? -1 : 1;
   }
   return strcmp (x->id, y->id);
}

bool
api_fetch_cursor_seen (const api_fetch_cursor_t *c, const char *id)
{
   api_fetch_seen_t key = {.id = (char *) id};
   return c->n_read && bsearch (&key, c->seen, c->n_read, sizeof key, by_id);
}

/* Reads the record's `seen` array (it is on the array) into c. */
static bool
read_seen (bson_iter_t *arr, api_fetch_cursor_t *c)
{
   bson_iter_t item;
   while (bson_iter_next (arr)) {
      const char *id = NULL;
      int64_t at = 0;
      if (!BSON_ITER_HOLDS_DOCUMENT (arr) || !bson_iter_recurse (arr, &item)) {
         continue;
      }
      while (bson_iter_next (&item)) {
         if (!strcmp (bson_iter_key (&item), "i") && BSON_ITER_HOLDS_UTF8 (&item)) {
            id = bson_iter_utf8 (&item, NULL);
         } else if (!strcmp (bson_iter_key (&item), "s") && BSON_ITER_HOLDS_DATE_TIME (&item)) {
            at = bson_iter_date_time (&item);
         }
      }
      if (id && !api_fetch_cursor_add (c, id, at)) {
         return false;
      }
   }
   return true;
}

/* The fields of a record into c; false when out of memory. */
static bool
read_record (const bson_t *doc, api_fetch_cursor_t *c)
{
   bson_iter_t it, arr;
   c->exists = true;
   if (bson_iter_init_find (&it, doc, "seq") && BSON_ITER_HOLDS_NUMBER (&it)) {
      c->seq = bson_iter_as_int64 (&it);
   }
   if (bson_iter_init_find (&it, doc, "seen") && BSON_ITER_HOLDS_ARRAY (&it) &&
       bson_iter_recurse (&it, &arr) && !read_seen (&arr, c)) {
      return false;
   }
   /* The stored cursor wins over what the seen tickets say. */
   c->has_stored_at = false;
   if (bson_iter_init_find (&it, doc, "stored_at") && BSON_ITER_HOLDS_DATE_TIME (&it)) {
      c->has_stored_at = true;
      c->stored_at = bson_iter_date_time (&it);
   }
   c->n_read = c->n_seen;
   if (c->n_read > 1) { /* seen is NULL when there are none, and qsort's base may not be */
      qsort (c->seen, c->n_read, sizeof *c->seen, by_id);
   }
   return true;
}

bool
api_fetch_cursor_read (mongoc_client_t *client, const char *db, const char *key_id,
                       api_fetch_cursor_t *c, bson_error_t *e)
{
   memset (c, 0, sizeof *c);
   mongoc_collection_t *coll = mongoc_client_get_collection (client, db, FETCH_CURSORS);
   bson_t *filter = BCON_NEW ("_id", BCON_UTF8 (key_id));
   mongoc_cursor_t *cursor = mongoc_collection_find_with_opts (coll, filter, NULL, NULL);
   const bson_t *doc;
   bool ok = true;
   if (mongoc_cursor_next (cursor, &doc) && !read_record (doc, c)) {
      bson_set_error (e, MONGOC_ERROR_CLIENT, 0, "out of memory reading the fetch cursor");
      ok = false;
   }
   if (ok && mongoc_cursor_error (cursor, e)) {
      ok = false;
   }
   mongoc_cursor_destroy (cursor);
   bson_destroy (filter);
   mongoc_collection_destroy (coll);
   return ok;
}

/* Keeps in c->seen only the tickets stored at or after the cursor minus
 * window_ms, at most max of them (the newest). */
static void
prune_seen (api_fetch_cursor_t *c, int64_t window_ms, size_t max)
{
   size_t kept = 0;
   int64_t from = c->stored_at - window_ms;
   for (size_t i = 0; i < c->n_seen; i++) {
      if (c->has_stored_at && c->seen[i].stored_at >= from) {
         c->seen[kept++] = c->seen[i];
      } else {
         free (c->seen[i].id);
      }
   }
   c->n_seen = kept;
   if (c->n_seen > max) {
      qsort (c->seen, c->n_seen, sizeof *c->seen, by_newest);
      for (size_t i = max; i < c->n_seen; i++) {
         free (c->seen[i].id);
      }
      c->n_seen = max;
   }
   c->n_read = 0; /* no longer sorted by id */
}

/* The record of c for key_id, version seq. */
static void
record_doc (const char *key_id, const api_fetch_cursor_t *c, int64_t now, int64_t seq,
            bson_t *doc)
{
   bson_t arr, item;
   bson_init (doc);
   BSON_APPEND_UTF8 (doc, "_id", key_id);
   BSON_APPEND_UTF8 (doc, "key_id", key_id);
   if (c->has_stored_at) {
      BSON_APPEND_DATE_TIME (doc, "stored_at", c->stored_at);
   }
   BSON_APPEND_DATE_TIME (doc, "at", now);
   BSON_APPEND_INT64 (doc, "seq", seq);
   BSON_APPEND_ARRAY_BEGIN (doc, "seen", &arr);
   for (size_t i = 0; i < c->n_seen; i++) {
      char k[16];
      const char *key;
      bson_uint32_to_string ((uint32_t) i, &key, k, sizeof k);
      bson_append_document_begin (&arr, key, -1, &item);
      BSON_APPEND_UTF8 (&item, "i", c->seen[i].id);
      BSON_APPEND_DATE_TIME (&item, "s", c->seen[i].stored_at);
      bson_append_document_end (&arr, &item);
   }
   bson_append_array_end (doc, &arr);
}

api_fetch_cursor_write_t
api_fetch_cursor_write (mongoc_client_t *client, const char *db, const char *key_id,
                        api_fetch_cursor_t *c, int64_t now, int64_t window_ms, size_t max,
                        bson_error_t *e)
{
   api_fetch_cursor_write_t res = API_FETCH_CURSOR_FAILED;
   mongoc_collection_t *coll = mongoc_client_get_collection (client, db, FETCH_CURSORS);
   bson_t doc, reply = BSON_INITIALIZER;
   bson_iter_t it;
   prune_seen (c, window_ms, max);
   record_doc (key_id, c, now, c->seq + 1, &doc);
   if (!c->exists) {
      /* A second first fetch of the key at once fails on _id. */
      if (mongoc_collection_insert_one (coll, &doc, NULL, NULL, e)) {
         res = API_FETCH_CURSOR_WRITTEN;
      } else if (e->code == MONGO_DUPLICATE_KEY) {
         res = API_FETCH_CURSOR_CONFLICT;
      }
   } else {
      bson_t *filter = BCON_NEW ("_id", BCON_UTF8 (key_id), "seq", BCON_INT64 (c->seq));
      bson_destroy (&reply);
      if (mongoc_collection_replace_one (coll, filter, &doc, NULL, &reply, e)) {
         bool matched = bson_iter_init_find (&it, &reply, "matchedCount") &&
                        bson_iter_as_int64 (&it) > 0;
         res = matched ? API_FETCH_CURSOR_WRITTEN : API_FETCH_CURSOR_CONFLICT;
      }
      bson_destroy (filter);
   }
   bson_destroy (&reply);
   bson_destroy (&doc);
   mongoc_collection_destroy (coll);
   return res;
}
