/* store_read.c - reading tickets back: by id, unprocessed, processed, by
 * status, into a tk_ticket_list_t.
 */
#include "store_internal.h"

#include <stdlib.h>
#include <string.h>

/* ---- reading ------------------------------------------------------------ */

void
tk_ticket_list_destroy (tk_ticket_list_t *list)
{
   if (!list) {
      return;
   }
   for (size_t i = 0; i < list->n; i++) {
      tk_ticket_destroy (list->items[i]);
   }
   free (list->items);
   memset (list, 0, sizeof *list);
}

static bool
list_push (tk_ticket_list_t *list, tk_ticket_t *t)
{
   if (list->n == list->cap) {
      size_t cap = list->cap ? list->cap * 2 : 16;
      tk_ticket_t **items = realloc (list->items, cap * sizeof *items);
      if (!items) {
         return false;
      }
      list->items = items;
      list->cap = cap;
   }
   list->items[list->n++] = t;
   return true;
}

/* find(filter).sort(sort).limit(limit) into out. */
static bool
find_tickets (tk_store_t *store, const bson_t *filter, const bson_t *sort, uint32_t limit,
              tk_ticket_list_t *out, tk_error_t *err)
{
   bool ok = false;
   tk_store_conn_t conn;
   mongoc_cursor_t *cursor = NULL;
   const bson_t *doc;
   bson_error_t e;
   bson_t opts = BSON_INITIALIZER;

   memset (out, 0, sizeof *out);
   if (sort) {
      BSON_APPEND_DOCUMENT (&opts, "sort", sort);
   }
   if (limit) {
      BSON_APPEND_INT64 (&opts, "limit", limit);
   }
   tk_store__conn_open (store, &conn);
   cursor = mongoc_collection_find_with_opts (conn.coll, filter, &opts, NULL);
   while (mongoc_cursor_next (cursor, &doc)) {
      tk_ticket_t *t = NULL;
      if (!tk_ticket_from_bson (doc, &t, err)) {
         goto done;
      }
      if (!list_push (out, t)) {
         tk_ticket_destroy (t);
         tk_error_set (err, TK_ERR_NOMEM, 0, "out of memory");
         goto done;
      }
   }
   if (mongoc_cursor_error (cursor, &e)) {
      tk_store__set_mongo_error (err, &e, "reading tickets");
      goto done;
   }
   ok = true;
done:
   if (!ok) {
      tk_ticket_list_destroy (out);
   }
   mongoc_cursor_destroy (cursor);
   tk_store__conn_close (store, &conn);
   bson_destroy (&opts);
   return ok;
}

bool
tk_store_get_ticket (tk_store_t *store, const char *id, tk_ticket_t **out, tk_error_t *err)
{
   tk_ticket_list_t list;
   *out = NULL;
   if (!id) {
      tk_error_set (err, TK_ERR_INVALID, 0, "get ticket: no id");
      return false;
   }
   bson_t *filter = tk_store_id_filter (id);
   bool ok = find_tickets (store, filter, NULL, 1, &list, err);
   bson_destroy (filter);
   if (ok && list.n == 0) {
      tk_error_set_field (err, TK_ERR_NOT_FOUND, 0, "id", "no ticket with id \"%s\"", id);
      ok = false;
   }
   if (ok) {
      *out = list.items[0];
      list.n = 0;
   }
   tk_ticket_list_destroy (&list);
   return ok;
}

bool
tk_store_get_unprocessed_tickets (tk_store_t *store, uint32_t limit, tk_ticket_list_t *out,
                                  tk_error_t *err)
{
   bson_t *filter = BCON_NEW ("processed", BCON_BOOL (false));
   bson_t *sort = BCON_NEW ("created_at", BCON_INT32 (1));
   bool ok = find_tickets (store, filter, sort, limit, out, err);
   bson_destroy (filter);
   bson_destroy (sort);
   return ok;
}

bool
tk_store_get_processed_tickets (tk_store_t *store, uint32_t limit, tk_ticket_list_t *out,
                                tk_error_t *err)
{
   bson_t *filter = BCON_NEW ("processed", BCON_BOOL (true));
   bson_t *sort = BCON_NEW ("processing_metadata.processed_at", BCON_INT32 (-1));
   bool ok = find_tickets (store, filter, sort, limit, out, err);
   bson_destroy (filter);
   bson_destroy (sort);
   return ok;
}

bool
tk_store_get_tickets_by_status (tk_store_t *store, bool processed, uint32_t limit,
                                tk_ticket_list_t *out, tk_error_t *err)
{
   bson_t *filter = BCON_NEW ("processed", BCON_BOOL (processed));
   bson_t *sort = BCON_NEW ("created_at", BCON_INT32 (-1));
   bool ok = find_tickets (store, filter, sort, limit, out, err);
   bson_destroy (filter);
   bson_destroy (sort);
   return ok;
}

