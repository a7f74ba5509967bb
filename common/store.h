/* store.h - the `tickets` collection: blocking calls for worker threads.
 *
 * A tk_store_t holds a mongoc_client_pool_t and a database name. It is
 * thread-safe: every call pops a client from the pool, works, and pushes it
 * back, so several threads (libuv's threadpool, see store_async.h) may call
 * in at once. When all pool_max clients are busy a call waits for one, so
 * pool_max should be at least the number of threads that call in (for
 * uv_queue_work that is UV_THREADPOOL_SIZE, 4 unless set).
 *
 * The calls block on the network; never make them on a libuv loop thread.
 *
 * Everything here uses only what both MongoDB 7 and FerretDB 1.24 (SQLite
 * and PostgreSQL backends) support; the places where FerretDB dictated the shape are said in
 * store.c.
 *
 * Errors: server and driver failures are TK_ERR_MONGO with the bson_error_t
 * code; a missing ticket is TK_ERR_NOT_FOUND; bad arguments TK_ERR_INVALID.
 */
#ifndef TK_STORE_H
#define TK_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <bson/bson.h>

#include "error.h"
#include "ticket.h"

typedef struct tk_store tk_store_t;

/* ---- lifetime ----------------------------------------------------------- */

/* Connects lazily to uri (a mongodb:// URI; its options, such as
 * serverSelectionTimeoutMS or appname, are passed straight to libmongoc).
 * db_name NULL takes the database from the URI path, else "triage".
 * pool_max is the most clients open at once; 0 means 16. Calls mongoc_init
 * (idempotent); the process calls mongoc_cleanup at exit if it wants to.
 * Returns a store to free with tk_store_destroy, or NULL and err. */
tk_store_t *tk_store_new (const char *uri, const char *db_name, uint32_t pool_max,
                          tk_error_t *err);

/* Closes the pool. No call may be in flight. Accepts NULL. */
void tk_store_destroy (tk_store_t *store);

/* The database name in use; borrowed, valid until tk_store_destroy. */
const char *tk_store_db_name (const tk_store_t *store);

/* Round trip to the server ({ping:1}); true when it answers. */
bool tk_store_ping (tk_store_t *store, tk_error_t *err);

/* Creates the indexes of `tickets` that the server in use needs, if they
 * are missing, each under its default name ("id_1", ...): the set
 * tk_store_index lists for FerretDB when the server's buildInfo names
 * FerretDB, else MongoDB's. Idempotent. */
bool tk_store_ensure_indexes (tk_store_t *store, tk_error_t *err);

/* tk_store_ensure_indexes with the server kind given instead of asked:
 * makes the FerretDB set (ferretdb true) or the MongoDB set whatever the
 * server is. For tests, which check the MongoDB set on FerretDB. */
bool tk_store_ensure_indexes_as (tk_store_t *store, bool ferretdb, tk_error_t *err);

/* Fields in an index key, at most. */
#define TK_STORE_INDEX_KEY_MAX 3

/* One index of `tickets`: its key, field by field in order (field NULL
 * after the last), and its default name, each field and direction joined
 * by '_' ("processed_1_created_at_-1_id_-1"). */
typedef struct {
   const char *name;
   struct {
      const char *field;
      int dir; /* 1 or -1 */
   } key[TK_STORE_INDEX_KEY_MAX];
   bool unique;
} tk_store_index_t;

/* The i-th index (from 0) that tk_store_ensure_indexes makes on FerretDB
 * (ferretdb true) or on MongoDB, or NULL past the last. Static, never
 * freed.
 *
 * Both: {id:1} unique, and nothing else in common. FerretDB 1.24 serves a
 * filter from an index only for an equality on a top-level field and
 * sorts in Go, so it keeps the set it has always had: {processed:1,
 * created_at:-1}, {"processing_metadata.processed_at":-1} and one
 * single-field index per label ({"classification.priority":1}, ...). MongoDB
 * gets one compound index per list the api serves, equality fields then
 * the sort (docs/decisions/0017, "On MongoDB (compose)"), and
 * {processed:1, stored_at:1} for the fetch of new tickets; see store.c. */
const tk_store_index_t *tk_store_index (bool ferretdb, size_t i);

/* Whether the server is FerretDB rather than MongoDB (its buildInfo). */
bool tk_store_server_is_ferretdb (tk_store_t *store, bool *ferretdb, tk_error_t *err);

/* Called between batches of tk_store_backfill_stored_at with the number of
 * tickets given a stored_at so far; false stops the backfill early. */
typedef bool (*tk_store_backfill_fn) (int64_t done, void *ctx);

/* Gives every ticket without stored_at one: its created_at, else its
 * updated_at, else now (documents written before stored_at existed). One
 * pass over those tickets, written in bulks of up to batch (0: 500)
 * update_one's, each conditional on stored_at still missing, so running it
 * twice, or on two processes at once, changes nothing already set.
 * progress (may be NULL) is called after each bulk. *updated (may be NULL)
 * gets how many tickets were given one. false with err when the database
 * fails (the tickets done before stay done). Blocking. */
bool tk_store_backfill_stored_at (tk_store_t *store, uint32_t batch,
                                  tk_store_backfill_fn progress, void *ctx, int64_t *updated,
                                  tk_error_t *err);

/* Drops the whole database (tests, and `triagectl` resets). */
bool tk_store_drop_database (tk_store_t *store, tk_error_t *err);

/* ---- writing raw tickets ------------------------------------------------ */

typedef enum {
   TK_INSERT_STORED = 0, /* a new document was written */
   TK_INSERT_DUPLICATE,  /* insert: the id was already stored; nothing changed */
   TK_INSERT_CHANGED,    /* upsert: stored before; subject/body replaced */
   TK_INSERT_UNCHANGED,  /* upsert: stored before with the same text; no-op */
   TK_INSERT_FAILED,     /* not written; see message */
} tk_insert_outcome_t;

typedef struct {
   tk_insert_outcome_t outcome;
   int code;          /* the server's error code for FAILED, else 0 */
   char message[160]; /* why, for FAILED; "" otherwise */
} tk_insert_item_t;

/* What happened to each ticket of a batch, by index in the batch. The caller
 * owns the struct (usually on its stack); items is allocated by the store
 * call and freed by tk_insert_result_cleanup. */
typedef struct {
   tk_insert_item_t *items; /* n entries */
   size_t n;
   size_t n_stored, n_duplicate, n_changed, n_unchanged, n_failed;
} tk_insert_result_t;

/* Frees res->items and zeroes res. Accepts NULL and a zeroed result. */
void tk_insert_result_cleanup (tk_insert_result_t *res);

/* A static name for an outcome: "stored", "duplicate", ... */
const char *tk_insert_outcome_name (tk_insert_outcome_t outcome);

/* The field every insert writes: when the store first held the ticket (a
 * BSON date, the writer's clock), never changed afterwards. Fetches of new
 * tickets follow it (a ticket whose created_at lies in the past, stored
 * late, is still new); created_at is the ticket's own time. */
#define TK_STORE_STORED_AT "stored_at"

/* Stores n raw tickets in ONE unordered bulk insert. Each document holds id,
 * subject, body, source (if set), processed=false, created_at (the ticket's,
 * or now when 0), updated_at=now and stored_at=now (TK_STORE_STORED_AT, the
 * same now for the whole batch); classification and failure fields of
 * the tickets are ignored. A ticket whose id is already stored, or appears
 * earlier in the same batch, is reported TK_INSERT_DUPLICATE and overwrites
 * nothing (the unique {id:1} index decides, so call tk_store_ensure_indexes
 * first). For each ticket reported STORED, created_at and updated_at are
 * written back into the ticket, which is why the tickets are not const.
 *
 * res is always initialised (zeroed on entry). Returns true when every
 * ticket has an outcome, even if some are DUPLICATE or FAILED; false (with
 * err, and every item FAILED) when the server could not be reached or the
 * outcome is unknown, e.g. a network error or a write-concern error. */
bool tk_store_insert_tickets (tk_store_t *store, tk_ticket_t *const *tickets, size_t n,
                              tk_insert_result_t *res, tk_error_t *err);

/* on_duplicate=update: like tk_store_insert_tickets (one unordered bulk
 * insert), then each ticket already stored is updated with one
 * update_one({id, $or:[{subject:{$ne:s}},{body:{$ne:b}}]},
 * {$set:{subject, body, updated_at}}): CHANGED if its text differed,
 * UNCHANGED (nothing written) if not. Nothing else is touched, so a stored
 * classification, processed flag, created_at, stored_at and failure history
 * survive a re-sent ticket. A duplicate within the batch is applied in batch
 * order. */
bool tk_store_upsert_tickets (tk_store_t *store, tk_ticket_t *const *tickets, size_t n,
                              tk_insert_result_t *res, tk_error_t *err);

/* ---- classification ----------------------------------------------------- */

/* Marks ticket id processed, in place: sets processed=true, classification,
 * confidence_scores, processing_metadata, needs_review (metadata->needs_review,
 * top-level) and updated_at=now. Idempotent:
 * doing it again rewrites the same values. c->sentiment and c->priority must
 * be set (TK_ERR_INVALID otherwise); labels are not checked against the
 * taxonomy here, the caller does that. TK_ERR_NOT_FOUND if no such id. */
bool tk_store_update_ticket_with_classification (tk_store_t *store, const char *id,
                                                 const tk_classification_t *c,
                                                 const tk_confidence_t *confidence,
                                                 const tk_processing_metadata_t *metadata,
                                                 tk_error_t *err);

/* The same write, but never over a person's correction: it applies only
 * while the ticket has no processing_metadata.corrected_at (the condition is
 * part of the update's filter, so a correction stored after the ticket was
 * read still wins). TK_ERR_CONFLICT if the ticket is corrected,
 * TK_ERR_NOT_FOUND if no such id. */
bool tk_store_update_ticket_unless_corrected (tk_store_t *store, const char *id,
                                              const tk_classification_t *c,
                                              const tk_confidence_t *confidence,
                                              const tk_processing_metadata_t *metadata,
                                              tk_error_t *err);

/* One classification to store with tk_store_update_tickets (the fields of
 * tk_store_update_ticket_with_classification / _unless_corrected); ok and err
 * are its outcome. */
typedef struct {
   const char *id;
   const tk_classification_t *c;
   const tk_confidence_t *confidence;
   const tk_processing_metadata_t *metadata;
   bool unless_corrected;
   bool ok;        /* out */
   tk_error_t err; /* out, when !ok */
} tk_store_classification_write_t;

/* Stores n classifications with one ordered bulk write (one round trip
 * instead of n). Each item's outcome is exactly what the one-ticket call
 * would give: when the reply leaves an item in doubt (an error stops an
 * ordered bulk there; a total matched count under the items tried does not
 * say which missed), each such item is written again alone, which is
 * idempotent. */
void tk_store_update_tickets (tk_store_t *store, tk_store_classification_write_t *w, size_t n);

/* Failure bookkeeping: increments processing_attempts, sets last_error
 * (copied) and updated_at; processed stays as it is. TK_ERR_NOT_FOUND if no
 * such id. */
bool tk_store_record_failure (tk_store_t *store, const char *id, const char *error_text,
                              tk_error_t *err);

/* ---- reading ------------------------------------------------------------ */

/* Tickets read from the store. The caller owns the struct (usually on its
 * stack); the reading calls fill it, and the tickets it holds are freed by
 * tk_ticket_list_destroy. */
typedef struct {
   tk_ticket_t **items; /* n tickets, owned */
   size_t n;
   size_t cap;
} tk_ticket_list_t;

/* Frees every ticket the list holds and its array, and zeroes the list (the
 * struct itself is the caller's). Accepts NULL and a zeroed list. */
void tk_ticket_list_destroy (tk_ticket_list_t *list);

/* In every reading call, limit 0 means no limit, and out is zeroed on entry
 * and left empty on failure (destroying it is still harmless). */

/* One ticket by id. *out is a new ticket the caller frees with
 * tk_ticket_destroy; TK_ERR_NOT_FOUND if there is none. */
bool tk_store_get_ticket (tk_store_t *store, const char *id, tk_ticket_t **out,
                          tk_error_t *err);

/* Unprocessed tickets, OLDEST first (created_at ascending): the order in
 * which a backlog should be worked off. Served by {processed:1,created_at:-1}. */
bool tk_store_get_unprocessed_tickets (tk_store_t *store, uint32_t limit,
                                       tk_ticket_list_t *out, tk_error_t *err);

/* Processed tickets, most recently processed first
 * (processing_metadata.processed_at descending). */
bool tk_store_get_processed_tickets (tk_store_t *store, uint32_t limit,
                                     tk_ticket_list_t *out, tk_error_t *err);

/* Tickets with processed == processed, NEWEST first (created_at descending),
 * the order a dashboard lists them in. */
bool tk_store_get_tickets_by_status (tk_store_t *store, bool processed, uint32_t limit,
                                     tk_ticket_list_t *out, tk_error_t *err);

/* ---- statistics --------------------------------------------------------- */

#define TK_STATS_MAX_PRIORITIES 32

typedef struct {
   char label[TK_LABEL_MAX + 1]; /* the stored priority label, e.g. "P0 (High)" */
   int64_t count;
} tk_priority_count_t;

typedef struct {
   int64_t total;
   int64_t processed;
   int64_t unprocessed;
   int64_t processed_today; /* processing_metadata.processed_at >= 00:00 UTC today */
   /* Processed tickets per priority label, sorted by label; labels are
    * whatever is stored, so a custom taxonomy works. Processed tickets with
    * no priority, and labels beyond the first TK_STATS_MAX_PRIORITIES, are
    * counted in priority_other. */
   tk_priority_count_t priorities[TK_STATS_MAX_PRIORITIES];
   size_t n_priorities;
   int64_t priority_other;
} tk_processing_stats_t;

/* Fills *out (a plain struct, nothing to free) from one pass over the
 * collection (ticket_tally.h): every figure from the same documents. */
bool tk_store_get_processing_stats (tk_store_t *store, tk_processing_stats_t *out,
                                    tk_error_t *err);

/* The count for one priority label in stats, 0 if absent. */
int64_t tk_processing_stats_priority (const tk_processing_stats_t *stats, const char *label);

/* ---- raw access ----------------------------------------------------------
 * For modules that run their own queries on the same pool (the API's
 * filters, aggregations and other collections). Blocking: worker threads
 * only. */

/* The filter that finds one ticket by its id: {_id: id}. Tickets are stored
 * with their id as _id (docs/decisions/0005); MongoDB uses its _id index.
 * FerretDB 1.24 uses no index for it on either backend: it scans the table
 * in SQL without decoding documents in Go (docs/decisions/0007). Free with
 * bson_destroy. */
bson_t *tk_store_id_filter (const char *id);

struct _mongoc_client_t;

/* Pops a pooled client, waiting for one if all are busy. The caller gives it
 * back with tk_store_client_push and must not destroy it. */
struct _mongoc_client_t *tk_store_client_pop (tk_store_t *store);

/* Returns a client popped with tk_store_client_pop. Accepts NULL. */
void tk_store_client_push (tk_store_t *store, struct _mongoc_client_t *client);

#endif
