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
   bson_t *filter = tk_store_id_filter (id);
   if (unless_corrected) {
      BCON_APPEND (filter, "processing_metadata.corrected_at", "{", "$exists", BCON_BOOL (false),
                   "}");
   }

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

static bool
update_classification (tk_store_t *store, const char *id, const tk_classification_t *c,
                       const tk_confidence_t *confidence, const tk_processing_metadata_t *metadata,
                       bool unless_corrected, tk_error_t *err)
{
   bool ok = false;
   bson_t update = BSON_INITIALIZER, set;

   if (!id || !c || !confidence || !metadata || !c->sentiment || !c->priority) {
      tk_error_set (err, TK_ERR_INVALID, 0,
                    "classification update needs an id, a sentiment and a priority");
      goto done;
   }
   BSON_APPEND_DOCUMENT_BEGIN (&update, "$set", &set);
   bool built = BSON_APPEND_BOOL (&set, "processed", true) &&
                tk_classification_append_bson (&set, "classification", c) &&
                tk_confidence_append_bson (&set, "confidence_scores", confidence) &&
                tk_processing_metadata_append_bson (&set, "processing_metadata", metadata) &&
                BSON_APPEND_BOOL (&set, "needs_review", metadata->needs_review) &&
                BSON_APPEND_DATE_TIME (&set, "updated_at", tk_store__now_ms ());
   built = bson_append_document_end (&update, &set) && built;
   if (!built) {
      tk_error_set (err, TK_ERR_INVALID, 0, "classification does not fit in a BSON document");
      goto done;
   }
   ok = update_by_id (store, id, &update, unless_corrected, "storing classification", err);
done:
   bson_destroy (&update);
   return ok;
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

