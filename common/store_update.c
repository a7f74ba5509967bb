/* store_update.c - updating one stored ticket by id: its classification
 * (tk_store_update_ticket_with_classification) or a failed attempt
 * (tk_store_record_failure).
 */
#include "store_internal.h"

#include <stdlib.h>
#include <string.h>

/* ---- classification ----------------------------------------------------- */

/* Whether a ticket with this id exists (after a conditional update matched
 * nothing: missing, or the condition failed). */
static bool
ticket_exists (mongoc_collection_t *coll, const char *id, bool *exists, bson_error_t *e)
{
   bson_t *filter = tk_store_id_filter (id);
   bson_t *opts = BCON_NEW ("limit", BCON_INT64 (1));
   int64_t n = mongoc_collection_count_documents (coll, filter, opts, NULL, NULL, e);
   bson_destroy (opts);
   bson_destroy (filter);
   *exists = n > 0;
   return n >= 0;
}

/* {id} and, unless_corrected, no corrected_at. Caller destroys. */
static bson_t *
classification_filter (const char *id, bool unless_corrected)
{
   bson_t *filter = tk_store_id_filter (id);
   if (unless_corrected) {
      BCON_APPEND (filter, "processing_metadata.corrected_at", "{", "$exists", BCON_BOOL (false),
                   "}");
   }
   return filter;
}

/* update_one({id} (and, unless_corrected, no corrected_at), update);
 * NOT_FOUND when no such ticket, CONFLICT when it is corrected. */
static bool
update_by_id (tk_store_t *store, const char *id, const bson_t *update, bool unless_corrected,
              const char *what, tk_error_t *err)
{
   bool ok = false, exists = false;
   tk_store_conn_t conn;
   bson_t reply = BSON_INITIALIZER;
   bson_error_t e;
   bson_iter_t it;
   bson_t *filter = classification_filter (id, unless_corrected);

   tk_store__conn_open (store, &conn);
   bson_destroy (&reply);
   if (!mongoc_collection_update_one (conn.coll, filter, update, NULL, &reply, &e)) {
      tk_store__set_mongo_error (err, &e, what);
      goto done;
   }
   if (!bson_iter_init_find (&it, &reply, "matchedCount") || bson_iter_as_int64 (&it) < 1) {
      if (unless_corrected && !ticket_exists (conn.coll, id, &exists, &e)) {
         tk_store__set_mongo_error (err, &e, what);
      } else if (exists) {
         tk_error_set_field (err, TK_ERR_CONFLICT, 0, "id",
                             "%s: ticket \"%s\" was corrected by a person; its labels are kept",
                             what, id);
      } else {
         tk_error_set_field (err, TK_ERR_NOT_FOUND, 0, "id", "%s: no ticket with id \"%s\"",
                             what, id);
      }
      goto done;
   }
   ok = true;
done:
   tk_store__conn_close (store, &conn);
   bson_destroy (&reply);
   bson_destroy (filter);
   return ok;
}

/* The update document of a classification write, into update (initialised
 * by the caller). false with err when the fields are missing or too big. */
static bool
classification_update (const char *id, const tk_classification_t *c,
                       const tk_confidence_t *confidence, const tk_processing_metadata_t *metadata,
                       bson_t *update, tk_error_t *err)
{
   bson_t set;
   if (!id || !c || !confidence || !metadata || !c->sentiment || !c->priority) {
      tk_error_set (err, TK_ERR_INVALID, 0,
                    "classification update needs an id, a sentiment and a priority");
      return false;
   }
   BSON_APPEND_DOCUMENT_BEGIN (update, "$set", &set);
   bool built = BSON_APPEND_BOOL (&set, "processed", true) &&
                tk_classification_append_bson (&set, "classification", c) &&
                tk_confidence_append_bson (&set, "confidence_scores", confidence) &&
                tk_processing_metadata_append_bson (&set, "processing_metadata", metadata) &&
                BSON_APPEND_BOOL (&set, "needs_review", metadata->needs_review) &&
                BSON_APPEND_DATE_TIME (&set, "updated_at", tk_store__now_ms ());
   built = bson_append_document_end (update, &set) && built;
   if (!built) {
      tk_error_set (err, TK_ERR_INVALID, 0, "classification does not fit in a BSON document");
   }
   return built;
}

static bool
update_classification (tk_store_t *store, const char *id, const tk_classification_t *c,
                       const tk_confidence_t *confidence, const tk_processing_metadata_t *metadata,
                       bool unless_corrected, tk_error_t *err)
{
   bson_t update = BSON_INITIALIZER;
   bool ok = classification_update (id, c, confidence, metadata, &update, err) &&
             update_by_id (store, id, &update, unless_corrected, "storing classification", err);
   bson_destroy (&update);
   return ok;
}

/* Adds w's update to bulk; false (w's outcome set) when it cannot be built. */
static bool
bulk_add (mongoc_bulk_operation_t *bulk, tk_store_classification_write_t *w)
{
   bson_t update = BSON_INITIALIZER;
   bson_error_t e;
   bool ok = classification_update (w->id, w->c, w->confidence, w->metadata, &update, &w->err);
   if (ok) {
      bson_t *filter = classification_filter (w->id, w->unless_corrected);
      ok = mongoc_bulk_operation_update_one_with_opts (bulk, filter, &update, NULL, &e);
      if (!ok) {
         tk_error_set (&w->err, TK_ERR_INVALID, 0, "storing classification: %s", e.message);
      }
      bson_destroy (filter);
   }
   bson_destroy (&update);
   return ok;
}

/* How many of the first `tried` items the bulk's reply proves written: all
 * of them when it matched as many documents as it tried, else none. */
static size_t
bulk_proven (const bson_t *reply, size_t tried)
{
   bson_iter_t it;
   if (bson_iter_init_find (&it, reply, "nMatched") && bson_iter_as_int64 (&it) == (int64_t) tried) {
      return tried;
   }
   return 0;
}

/* The index of the bulk's first write error, or n when there is none. */
static size_t
bulk_first_error (const bson_t *reply, size_t n)
{
   bson_iter_t it, errs, idx;
   if (bson_iter_init_find (&it, reply, "writeErrors") && BSON_ITER_HOLDS_ARRAY (&it) &&
       bson_iter_recurse (&it, &errs) && bson_iter_next (&errs) && BSON_ITER_HOLDS_DOCUMENT (&errs) &&
       bson_iter_recurse (&errs, &idx) && bson_iter_find (&idx, "index")) {
      int64_t i = bson_iter_as_int64 (&idx);
      return i >= 0 && (size_t) i < n ? (size_t) i : 0;
   }
   return n;
}

/* Whether the reply reports a write concern that was not met: then no item
 * is proven durable, whatever matched. */
static bool
bulk_concern_failed (const bson_t *reply)
{
   bson_iter_t it, errs;
   return bson_iter_init_find (&it, reply, "writeConcernErrors") && BSON_ITER_HOLDS_ARRAY (&it) &&
          bson_iter_recurse (&it, &errs) && bson_iter_next (&errs);
}

void
tk_store_update_tickets (tk_store_t *store, tk_store_classification_write_t *w, size_t n)
{
   size_t in_bulk = 0, proven = 0;
   bool failed_whole = false;
   size_t *slot = calloc (n ? n : 1, sizeof *slot); /* bulk position -> item */
   tk_store_conn_t conn;
   bson_t reply = BSON_INITIALIZER;
   bson_error_t e;
   for (size_t i = 0; i < n; i++) {
      w[i].ok = false;
      memset (&w[i].err, 0, sizeof w[i].err);
   }
   tk_store__conn_open (store, &conn);
   bson_t *opts = BCON_NEW ("ordered", BCON_BOOL (true));
   mongoc_bulk_operation_t *bulk =
      slot ? mongoc_collection_create_bulk_operation_with_opts (conn.coll, opts) : NULL;
   for (size_t i = 0; bulk && i < n; i++) {
      if (bulk_add (bulk, &w[i])) {
         slot[in_bulk++] = i;
      } else {
         w[i].ok = false; /* its err says why; not written */
      }
   }
   if (bulk && in_bulk > 0) {
      bson_destroy (&reply);
      /* Success only when every item matched: then each one is written. On
       * an error, the items before it were tried, and the reply proves them
       * only when they all matched; the rest were not tried. */
      bool done = mongoc_bulk_operation_execute (bulk, &reply, &e) != 0;
      size_t first_error = bulk_first_error (&reply, in_bulk);
      if ((!done && first_error == in_bulk) || bulk_concern_failed (&reply)) {
         /* Not one item's error (the server unreachable, a write concern
          * not met): nothing is proven, and writing each item again would
          * wait out the same failure once per item. Each fails with it
          * (its job retries later, as after a one-ticket write). */
         failed_whole = true;
         for (size_t k = 0; k < in_bulk; k++) {
            tk_store__set_mongo_error (&w[slot[k]].err, &e, "storing classification");
         }
      } else {
         proven = bulk_proven (&reply, done ? in_bulk : first_error);
         for (size_t k = 0; k < proven; k++) {
            w[slot[k]].ok = true;
         }
      }
   }
   tk_store__conn_close (store, &conn);
   /* Every item in doubt, alone: the one-ticket call says what happened. */
   for (size_t k = proven; !failed_whole && k < in_bulk; k++) {
      tk_store_classification_write_t *x = &w[slot[k]];
      x->ok = update_classification (store, x->id, x->c, x->confidence, x->metadata,
                                     x->unless_corrected, &x->err);
   }
   if (!slot || !bulk) {
      for (size_t i = 0; i < n; i++) {
         w[i].ok = update_classification (store, w[i].id, w[i].c, w[i].confidence, w[i].metadata,
                                          w[i].unless_corrected, &w[i].err);
      }
   }
   if (bulk) {
      mongoc_bulk_operation_destroy (bulk);
   }
   bson_destroy (opts);
   bson_destroy (&reply);
   free (slot);
}

bool
tk_store_update_ticket_with_classification (tk_store_t *store, const char *id,
                                            const tk_classification_t *c,
                                            const tk_confidence_t *confidence,
                                            const tk_processing_metadata_t *metadata,
                                            tk_error_t *err)
{
   return update_classification (store, id, c, confidence, metadata, false, err);
}

bool
tk_store_update_ticket_unless_corrected (tk_store_t *store, const char *id,
                                         const tk_classification_t *c,
                                         const tk_confidence_t *confidence,
                                         const tk_processing_metadata_t *metadata,
                                         tk_error_t *err)
{
   return update_classification (store, id, c, confidence, metadata, true, err);
}

bool
tk_store_record_failure (tk_store_t *store, const char *id, const char *error_text,
                         tk_error_t *err)
{
   if (!id || !error_text) {
      tk_error_set (err, TK_ERR_INVALID, 0, "failure record needs an id and an error text");
      return false;
   }
   bson_t *update = BCON_NEW ("$inc", "{", "processing_attempts", BCON_INT32 (1), "}", "$set",
                              "{", "last_error", BCON_UTF8 (error_text), "updated_at",
                              BCON_DATE_TIME (tk_store__now_ms ()), "}");
   bool ok = update_by_id (store, id, update, false, "recording failure", err);
   bson_destroy (update);
   return ok;
}

