/* store_query.h - the api's and triagectl's own queries on the `tickets`
 * collection.
 *
 * store.h has the spec's calls, which ingest and the classifier use: insert,
 * classify, record a failure, read by id, by status, statistics. The api and
 * triagectl need more: listings and exports with filters, sorts and paging,
 * the analytics scan, choosing tickets to process, counting a job's progress,
 * corrections, deletes, retention, and the checks of `triagectl check`. They
 * describe what they want with a tk_ticket_query_t (or a filter) and these
 * calls run it, so the collection's name and every driver call on it live in
 * common/store* and nowhere else.
 *
 * Threads: blocking; worker threads only (uv_queue_work, store_async.h),
 * with a client popped from the store's pool (tk_store_client_pop) and the
 * store's database name (tk_store_db_name). A returned cursor belongs to the
 * caller, who destroys it with mongoc_cursor_destroy before pushing the client
 * back.
 *
 * Errors: the bson_error_t of the driver, as the callers report it (a 503
 * naming the database for the api, a message for triagectl).
 */
#ifndef TK_STORE_QUERY_H
#define TK_STORE_QUERY_H

#include <stdbool.h>
#include <stdint.h>

#include <mongoc/mongoc.h>

/* What to read. Every member may be left zero: the whole collection, in the
 * server's order, whole documents, no limit. The documents are borrowed for
 * the call. */
typedef struct {
   const bson_t *filter;     /* NULL: every ticket */
   const bson_t *sort;       /* NULL: the server's order */
   const bson_t *projection; /* NULL: whole documents */
   int64_t limit;            /* 0: no limit */
   int64_t skip;             /* 0: from the first */
   int32_t batch_size;       /* 0: the driver's default */
} tk_ticket_query_t;

/* A cursor over the tickets q selects (errors surface from the cursor:
 * mongoc_cursor_error). Never NULL. */
mongoc_cursor_t *tk_store_tickets_find (mongoc_client_t *client, const char *db,
                                        const tk_ticket_query_t *q);

/* The ticket with this id (at most one document), as a cursor. Never NULL. */
mongoc_cursor_t *tk_store_tickets_find_id (mongoc_client_t *client, const char *db,
                                           const char *id);

/* How many tickets filter (NULL: all) selects; -1 with e on failure. */
int64_t tk_store_tickets_count (mongoc_client_t *client, const char *db, const bson_t *filter,
                                bson_error_t *e);

/* update_one(filter, update). *matched (may be NULL) gets the number of
 * tickets the filter matched (0 or 1). false with e on failure. */
bool tk_store_tickets_update_one (mongoc_client_t *client, const char *db, const bson_t *filter,
                                  const bson_t *update, int64_t *matched, bson_error_t *e);

/* delete_one (many false) or delete_many (many true) of filter. *deleted (may
 * be NULL) gets how many went. false with e on failure. */
bool tk_store_tickets_delete (mongoc_client_t *client, const char *db, const bson_t *filter,
                              bool many, int64_t *deleted, bson_error_t *e);

/* A cursor over the collection's index descriptions ({name, key, unique,
 * ...}). Never NULL. */
mongoc_cursor_t *tk_store_tickets_indexes (mongoc_client_t *client, const char *db);

#endif
