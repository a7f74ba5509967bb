/* store_query.c - the api's and triagectl's queries on `tickets`
 * (store_query.h): a query description turned into find options, and the
 * few writes they make, each on a collection handle opened for the call. */
#include "store_query.h"

#include "store.h"
#include "store_internal.h"

static mongoc_collection_t *
tickets (mongoc_client_t *client, const char *db)
{
   return mongoc_client_get_collection (client, db, TK_STORE_COLLECTION);
}

mongoc_cursor_t *
tk_store_tickets_find (mongoc_client_t *client, const char *db, const tk_ticket_query_t *q)
{
   bson_t opts = BSON_INITIALIZER, empty = BSON_INITIALIZER;
   if (q->sort) {
      BSON_APPEND_DOCUMENT (&opts, "sort", q->sort);
   }
   if (q->projection) {
      BSON_APPEND_DOCUMENT (&opts, "projection", q->projection);
   }
   if (q->limit > 0) {
      BSON_APPEND_INT64 (&opts, "limit", q->limit);
   }
   if (q->skip > 0) {
      BSON_APPEND_INT64 (&opts, "skip", q->skip);
   }
   if (q->batch_size > 0) {
      BSON_APPEND_INT32 (&opts, "batchSize", q->batch_size);
   }
   mongoc_collection_t *coll = tickets (client, db);
   /* The cursor keeps what it needs of the collection (libmongoc copies the
    * namespace and read preferences), so the handle goes at once. */
   mongoc_cursor_t *cursor =
      mongoc_collection_find_with_opts (coll, q->filter ? q->filter : &empty, &opts, NULL);
   mongoc_collection_destroy (coll);
   bson_destroy (&opts);
   return cursor;
}

mongoc_cursor_t *
tk_store_tickets_find_id (mongoc_client_t *client, const char *db, const char *id)
{
   bson_t *filter = tk_store_id_filter (id);
   tk_ticket_query_t q = {.filter = filter, .limit = 1};
   mongoc_cursor_t *cursor = tk_store_tickets_find (client, db, &q);
   bson_destroy (filter);
   return cursor;
}

int64_t
tk_store_tickets_count (mongoc_client_t *client, const char *db, const bson_t *filter,
                        bson_error_t *e)
{
   bson_t empty = BSON_INITIALIZER;
   mongoc_collection_t *coll = tickets (client, db);
   int64_t n =
      mongoc_collection_count_documents (coll, filter ? filter : &empty, NULL, NULL, NULL, e);
   mongoc_collection_destroy (coll);
   return n;
}

/* The int64 at key of reply, 0 if absent. */
static int64_t
reply_count (const bson_t *reply, const char *key)
{
   bson_iter_t it;
   return bson_iter_init_find (&it, reply, key) ? bson_iter_as_int64 (&it) : 0;
}

bool
tk_store_tickets_update_one (mongoc_client_t *client, const char *db, const bson_t *filter,
                             const bson_t *update, int64_t *matched, bson_error_t *e)
{
   bson_t reply;
   mongoc_collection_t *coll = tickets (client, db);
   bool ok = mongoc_collection_update_one (coll, filter, update, NULL, &reply, e);
   if (matched) {
      *matched = ok ? reply_count (&reply, "matchedCount") : 0;
   }
   bson_destroy (&reply);
   mongoc_collection_destroy (coll);
   return ok;
}

bool
tk_store_tickets_delete (mongoc_client_t *client, const char *db, const bson_t *filter, bool many,
                         int64_t *deleted, bson_error_t *e)
{
   bson_t reply;
   mongoc_collection_t *coll = tickets (client, db);
   bool ok = many ? mongoc_collection_delete_many (coll, filter, NULL, &reply, e)
                  : mongoc_collection_delete_one (coll, filter, NULL, &reply, e);
   if (deleted) {
      *deleted = ok ? reply_count (&reply, "deletedCount") : 0;
   }
   bson_destroy (&reply);
   mongoc_collection_destroy (coll);
   return ok;
}

mongoc_cursor_t *
tk_store_tickets_indexes (mongoc_client_t *client, const char *db)
{
   mongoc_collection_t *coll = tickets (client, db);
   mongoc_cursor_t *cursor = mongoc_collection_find_indexes_with_opts (coll, NULL);
   mongoc_collection_destroy (coll);
   return cursor;
}
