/* store_insert.c - writing raw tickets: an unordered bulk insert, and the
 * upsert built on it (bulk insert, then one update_one per ticket already
 * stored, because FerretDB runs an unordered `update` as ordered; see
 * store.c). Per-ticket outcomes go into a tk_insert_result_t.
 */
#include "store_internal.h"

#include <stdlib.h>
#include <string.h>

/* ---- writing raw tickets ------------------------------------------------ */

void
tk_insert_result_cleanup (tk_insert_result_t *res)
{
   if (res) {
      free (res->items);
      memset (res, 0, sizeof *res);
   }
}

const char *
tk_insert_outcome_name (tk_insert_outcome_t outcome)
{
   switch (outcome) {
   case TK_INSERT_STORED: return "stored";
   case TK_INSERT_DUPLICATE: return "duplicate";
   case TK_INSERT_CHANGED: return "changed";
   case TK_INSERT_UNCHANGED: return "unchanged";
   case TK_INSERT_FAILED: return "failed";
   default: return "unknown";
   }
}

static void
item_fail (tk_insert_item_t *item, int code, const char *message)
{
   item->outcome = TK_INSERT_FAILED;
   item->code = code;
   /* Truncation is fine: the message is for people. */
   size_t len = strnlen (message, sizeof item->message - 1);
   memcpy (item->message, message, len);
   item->message[len] = '\0';
}

static void
result_count (tk_insert_result_t *res)
{
   res->n_stored = res->n_duplicate = res->n_changed = res->n_unchanged = res->n_failed = 0;
   for (size_t i = 0; i < res->n; i++) {
      switch (res->items[i].outcome) {
      case TK_INSERT_STORED: res->n_stored++; break;
      case TK_INSERT_DUPLICATE: res->n_duplicate++; break;
      case TK_INSERT_CHANGED: res->n_changed++; break;
      case TK_INSERT_UNCHANGED: res->n_unchanged++; break;
      default: res->n_failed++; break;
      }
   }
}

/* Every item not yet settled becomes FAILED with the call's error. */
static void
result_fail_rest (tk_insert_result_t *res, const bool *settled, const tk_error_t *err)
{
   for (size_t i = 0; i < res->n; i++) {
      if (!settled[i]) {
         item_fail (&res->items[i], err->code, err->message);
      }
   }
}

/* Whether the reply holds writeConcernErrors: the tickets were written,
 * but not as durably as asked. */
static bool
has_write_concern_errors (const bson_t *reply)
{
   bson_iter_t it, wce;
   return bson_iter_init_find (&it, reply, "writeConcernErrors") && BSON_ITER_HOLDS_ARRAY (&it) &&
          bson_iter_recurse (&it, &wce) && bson_iter_next (&wce);
}

/* Reads one entry of writeErrors (errors is on it): its index, code and
 * errmsg (borrowed from the reply; left as they are when absent). Returns
 * false if the entry is not a document. */
static bool
read_write_error (const bson_iter_t *errors, int64_t *index, int32_t *code, const char **msg)
{
   bson_iter_t one;
   if (!BSON_ITER_HOLDS_DOCUMENT (errors) || !bson_iter_recurse (errors, &one)) {
      return false;
   }
   while (bson_iter_next (&one)) {
      const char *key = bson_iter_key (&one);
      if (!strcmp (key, "index") && BSON_ITER_HOLDS_NUMBER (&one)) {
         *index = bson_iter_as_int64 (&one);
      } else if (!strcmp (key, "code") && BSON_ITER_HOLDS_NUMBER (&one)) {
         *code = (int32_t) bson_iter_as_int64 (&one);
      } else if (!strcmp (key, "errmsg") && BSON_ITER_HOLDS_UTF8 (&one)) {
         *msg = bson_iter_utf8 (&one, NULL);
      }
   }
   return true;
}

/* Reads the writeErrors of a bulk reply into the items. bulk_to_ticket maps
 * a bulk operation index to a ticket index. Returns false if the reply holds
 * something else that makes the outcome unknown. */
static bool
apply_write_errors (const bson_t *reply, const size_t *bulk_to_ticket, size_t n_bulk,
                    tk_insert_result_t *res, bool *settled)
{
   bson_iter_t it, errors;
   bool any = false;

   if (has_write_concern_errors (reply)) {
      return false;
   }
   if (!bson_iter_init_find (&it, reply, "writeErrors") || !BSON_ITER_HOLDS_ARRAY (&it) ||
       !bson_iter_recurse (&it, &errors)) {
      return false;
   }
   while (bson_iter_next (&errors)) {
      int64_t index = -1;
      int32_t code = 0;
      const char *msg = "write error";
      if (!read_write_error (&errors, &index, &code, &msg)) {
         return false;
      }
      if (index < 0 || (size_t) index >= n_bulk) {
         return false;
      }
      size_t t = bulk_to_ticket[index];
      if (code == TK_MONGO_DUPLICATE_KEY) {
         res->items[t].outcome = TK_INSERT_DUPLICATE;
      } else {
         item_fail (&res->items[t], code, msg);
      }
      settled[t] = true;
      any = true;
   }
   return any;
}

static bool
ticket_writable (const tk_ticket_t *t, tk_insert_item_t *item)
{
   if (!t || !t->id || !t->subject || !t->body) {
      item_fail (item, 0, "ticket lacks id, subject or body");
      return false;
   }
   return true;
}

/* Adds an insert of every writable ticket to bulk, as a raw ticket written
 * at now; bulk_to_ticket[b] gets the ticket index of operation b. A ticket
 * that cannot be added is settled as FAILED. Returns the number added. */
static size_t
bulk_add_tickets (mongoc_bulk_operation_t *bulk, tk_ticket_t *const *tickets, size_t n,
                  int64_t now, tk_insert_result_t *res, bool *settled, size_t *bulk_to_ticket)
{
   size_t n_bulk = 0;
   bson_error_t e;
   for (size_t i = 0; i < n; i++) {
      if (!ticket_writable (tickets[i], &res->items[i])) {
         settled[i] = true;
         continue;
      }
      const tk_ticket_t *t = tickets[i];
      tk_ticket_t raw = {
         .id = t->id,
         .subject = t->subject,
         .body = t->body,
         .source = t->source,
         .created_at = t->created_at ? t->created_at : now,
         .updated_at = now,
      };
      bson_t doc = BSON_INITIALIZER;
      /* stored_at: when this store first held the ticket. Only an insert
       * writes it (a duplicate writes nothing, the upsert's update_text sets
       * only the text), so it never changes afterwards. */
      bool added = tk_ticket_to_bson (&raw, &doc) &&
                   BSON_APPEND_DATE_TIME (&doc, TK_STORE_STORED_AT, now) &&
                   mongoc_bulk_operation_insert_with_opts (bulk, &doc, NULL, &e);
      bson_destroy (&doc);
      if (!added) {
         item_fail (&res->items[i], 0, "ticket does not fit in a BSON document");
         settled[i] = true;
         continue;
      }
      bulk_to_ticket[n_bulk++] = i;
   }
   return n_bulk;
}

/* Every ticket of the bulk not settled by a write error was stored at now:
 * it is settled as STORED and gets the timestamps it was written with. */
static void
settle_stored (tk_ticket_t *const *tickets, const size_t *bulk_to_ticket, size_t n_bulk,
               int64_t now, tk_insert_result_t *res, bool *settled)
{
   for (size_t b = 0; b < n_bulk; b++) {
      size_t i = bulk_to_ticket[b];
      if (!settled[i]) {
         res->items[i].outcome = TK_INSERT_STORED;
         settled[i] = true;
         if (!tickets[i]->created_at) {
            tickets[i]->created_at = now;
         }
         tickets[i]->updated_at = now;
      }
   }
}

/* The shared first step of insert and upsert: one unordered bulk insert.
 * settled[i] is set for every ticket whose outcome is final. */
static bool
bulk_insert (tk_store_conn_t *conn, tk_ticket_t *const *tickets, size_t n,
             tk_insert_result_t *res, bool *settled, tk_error_t *err)
{
   bool ok = false;
   mongoc_bulk_operation_t *bulk = NULL;
   bson_t *opts = BCON_NEW ("ordered", BCON_BOOL (false));
   bson_t reply = BSON_INITIALIZER;
   bson_error_t e;
   size_t *bulk_to_ticket = calloc (n ? n : 1, sizeof *bulk_to_ticket);
   size_t n_bulk = 0;
   int64_t now = tk_store__now_ms ();

   if (!bulk_to_ticket) {
      tk_error_set (err, TK_ERR_NOMEM, 0, "out of memory");
      goto done;
   }
   bulk = mongoc_collection_create_bulk_operation_with_opts (conn->coll, opts);
   n_bulk = bulk_add_tickets (bulk, tickets, n, now, res, settled, bulk_to_ticket);
   if (n_bulk == 0) {
      ok = true;
      goto done;
   }

   bson_destroy (&reply);
   if (!mongoc_bulk_operation_execute (bulk, &reply, &e) &&
       !(e.domain == MONGOC_ERROR_SERVER &&
         apply_write_errors (&reply, bulk_to_ticket, n_bulk, res, settled))) {
      tk_store__set_mongo_error (err, &e, "inserting tickets");
      goto done;
   }
   settle_stored (tickets, bulk_to_ticket, n_bulk, now, res, settled);
   ok = true;
done:
   bson_destroy (&reply);
   mongoc_bulk_operation_destroy (bulk);
   bson_destroy (opts);
   free (bulk_to_ticket);
   return ok;
}

static bool
result_init (tk_insert_result_t *res, size_t n, bool **settled, tk_error_t *err)
{
   memset (res, 0, sizeof *res);
   *settled = calloc (n ? n : 1, sizeof **settled);
   res->items = calloc (n ? n : 1, sizeof *res->items);
   if (!*settled || !res->items) {
      free (*settled);
      *settled = NULL;
      tk_insert_result_cleanup (res);
      tk_error_set (err, TK_ERR_NOMEM, 0, "out of memory");
      return false;
   }
   res->n = n;
   return true;
}

bool
tk_store_insert_tickets (tk_store_t *store, tk_ticket_t *const *tickets, size_t n,
                         tk_insert_result_t *res, tk_error_t *err)
{
   bool *settled = NULL;
   tk_store_conn_t conn;
   if (!result_init (res, n, &settled, err)) {
      return false;
   }
   tk_store__conn_open (store, &conn);
   bool ok = bulk_insert (&conn, tickets, n, res, settled, err);
   tk_store__conn_close (store, &conn);
   if (!ok) {
      /* The bulk may have been partly applied before the failure: nothing
       * is known for sure, so no ticket keeps an outcome. */
      memset (settled, 0, n * sizeof *settled);
      result_fail_rest (res, settled, err);
   }
   result_count (res);
   free (settled);
   return ok;
}

/* Replaces the text of an already-stored ticket unless it is the same.
 * Returns false only when the outcome is unknown (err set); a write error
 * for this one ticket marks its item FAILED.
 *
 * The stored text is read and compared here rather than with a
 * {subject: {$ne}} filter: FerretDB serves only a filter that is exactly
 * {_id: value} from its primary key and scans the collection for any other
 * (docs/decisions/0005). Ingest is the only writer of ticket text, one
 * batch at a time, so reading and then writing does not race. */
static bool
update_text (tk_store_conn_t *conn, tk_ticket_t *t, tk_insert_item_t *item, tk_error_t *err)
{
   bool ok = false;
   int64_t now = tk_store__now_ms ();
   bson_t reply = BSON_INITIALIZER;
   bson_error_t e;
   bson_iter_t it;
   bson_t *filter = tk_store_id_filter (t->id);
   bson_t *opts = BCON_NEW ("projection", "{", "subject", BCON_INT32 (1), "body", BCON_INT32 (1),
                            "}", "limit", BCON_INT64 (1));
   bson_t *update = NULL;
   mongoc_cursor_t *cursor = mongoc_collection_find_with_opts (conn->coll, filter, opts, NULL);
   const bson_t *doc = NULL;
   bool found = mongoc_cursor_next (cursor, &doc);
   if (mongoc_cursor_error (cursor, &e)) {
      tk_store__set_mongo_error (err, &e, "reading ticket text");
      goto done;
   }
   if (found) {
      const char *subject = bson_iter_init_find (&it, doc, "subject") && BSON_ITER_HOLDS_UTF8 (&it)
                               ? bson_iter_utf8 (&it, NULL)
                               : NULL;
      bson_iter_t it2;
      const char *body = bson_iter_init_find (&it2, doc, "body") && BSON_ITER_HOLDS_UTF8 (&it2)
                            ? bson_iter_utf8 (&it2, NULL)
                            : NULL;
      if (subject && body && !strcmp (subject, t->subject) && !strcmp (body, t->body)) {
         item->outcome = TK_INSERT_UNCHANGED; /* a true no-op: updated_at stays */
         ok = true;
         goto done;
      }
   }
   update = BCON_NEW ("$set", "{", "subject", BCON_UTF8 (t->subject), "body", BCON_UTF8 (t->body),
                      "updated_at", BCON_DATE_TIME (now), "}");
   bson_destroy (&reply);
   if (!mongoc_collection_update_one (conn->coll, filter, update, NULL, &reply, &e)) {
      if (e.domain == MONGOC_ERROR_SERVER && bson_iter_init_find (&it, &reply, "writeErrors")) {
         item_fail (item, (int) e.code, e.message);
         ok = true;
      } else {
         tk_store__set_mongo_error (err, &e, "updating ticket text");
      }
      goto done;
   }
   if (bson_iter_init_find (&it, &reply, "matchedCount") && bson_iter_as_int64 (&it) > 0) {
      item->outcome = TK_INSERT_CHANGED;
      t->updated_at = now;
   } else {
      item->outcome = TK_INSERT_UNCHANGED;
   }
   ok = true;
done:
   mongoc_cursor_destroy (cursor);
   bson_destroy (&reply);
   bson_destroy (filter);
   bson_destroy (opts);
   bson_destroy (update);
   return ok;
}

bool
tk_store_upsert_tickets (tk_store_t *store, tk_ticket_t *const *tickets, size_t n,
                         tk_insert_result_t *res, tk_error_t *err)
{
   bool ok = false;
   bool *settled = NULL;
   tk_store_conn_t conn;
   if (!result_init (res, n, &settled, err)) {
      return false;
   }
   tk_store__conn_open (store, &conn);
   if (!bulk_insert (&conn, tickets, n, res, settled, err)) {
      memset (settled, 0, n * sizeof *settled);
      goto done;
   }
   /* Duplicates (stored before, or earlier in this batch) get their text
    * compared and replaced, in batch order. */
   for (size_t i = 0; i < n; i++) {
      if (res->items[i].outcome == TK_INSERT_DUPLICATE &&
          !update_text (&conn, tickets[i], &res->items[i], err)) {
         settled[i] = false;
         for (size_t j = i + 1; j < n; j++) {
            if (res->items[j].outcome == TK_INSERT_DUPLICATE) {
               settled[j] = false;
            }
         }
         goto done;
      }
   }
   ok = true;
done:
   tk_store__conn_close (store, &conn);
   if (!ok) {
      result_fail_rest (res, settled, err);
   }
   result_count (res);
   free (settled);
   return ok;
}

