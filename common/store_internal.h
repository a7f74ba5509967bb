/* store_internal.h - what the store's files share: store.c (lifetime,
 * indexes, the pool), store_insert.c, store_update.c, store_read.c and
 * store_stats.c. Not for services; they use store.h.
 */
#ifndef TK_STORE_INTERNAL_H
#define TK_STORE_INTERNAL_H

#include <stdint.h>

#include <mongoc/mongoc.h>

#include "store.h"
#include "ticket_bson.h"

#define TK_STORE_COLLECTION "tickets"
#define TK_MONGO_DUPLICATE_KEY 11000
#define TK_MS_PER_DAY INT64_C (86400000)

struct tk_store {
   mongoc_client_pool_t *pool;
   char *db_name;
};

/* A pooled client and the tickets collection, for the length of one call. */
typedef struct {
   mongoc_client_t *client;
   mongoc_collection_t *coll;
} tk_store_conn_t;

/* Milliseconds since the Unix epoch, UTC. */
int64_t tk_store__now_ms (void);

/* Fills err (domain TK_ERR_MONGO) with "what: e's message". */
void tk_store__set_mongo_error (tk_error_t *err, const bson_error_t *e, const char *what);

/* Pops a client from the pool and opens the tickets collection on it; blocks
 * while the pool is exhausted. Every tk_store__conn_open is paired with a
 * tk_store__conn_close, which returns the client. */
void tk_store__conn_open (tk_store_t *store, tk_store_conn_t *c);
void tk_store__conn_close (tk_store_t *store, tk_store_conn_t *c);

#endif
