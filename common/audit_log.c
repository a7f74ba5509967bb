/* audit_log.c - the audit_log collection (see audit_log.h). */
#include "audit_log.h"

#include <stdlib.h>
#include <string.h>

#include "timeutil.h"
#include "utf8.h"

bool
tk_audit_ids_add (tk_audit_ids_t *ids, const char *id)
{
   ids->total++;
   if (ids->n >= TK_AUDIT_IDS_MAX || !id) {
      return true;
   }
   if (!ids->ids && !(ids->ids = calloc (TK_AUDIT_IDS_MAX, sizeof *ids->ids))) {
      return false;
   }
   if (!(ids->ids[ids->n] = strdup (id))) {
      return false;
   }
   ids->n++;
   return true;
}

void
tk_audit_ids_cleanup (tk_audit_ids_t *ids)
{
   if (!ids) {
      return;
   }
   for (size_t i = 0; i < ids->n; i++) {
      free (ids->ids[i]);
   }
   free (ids->ids);
   memset (ids, 0, sizeof *ids);
}

/* Appends s under key when it is set and valid UTF-8; at most max bytes of
 * it (whole code points). */
static void
append_text (bson_t *doc, const char *key, const char *s, size_t max)
{
   if (!s) {
      return;
   }
   size_t len = strlen (s);
   if (!tk_utf8_valid (s, len, NULL)) {
      return;
   }
   if (len > max) {
      len = tk_utf8_prefix_len (s, len, max);
   }
   bson_append_utf8 (doc, key, -1, s, (int) len);
}

bson_t *
tk_audit_record_new (const tk_audit_entry_t *e)
{
   bson_t *doc = bson_new ();
   BSON_APPEND_DATE_TIME (doc, "at", tk_time_now_ms ());
   append_text (doc, "service", e->service, 64);
   BSON_APPEND_UTF8 (doc, "key_id", e->key_id && e->key_id[0] ? e->key_id : "unknown");
   BSON_APPEND_UTF8 (doc, "role", e->role && e->role[0] ? e->role : "none");
   append_text (doc, "client", e->client, 256);
   append_text (doc, "method", e->method, 32);
   append_text (doc, "route", e->route, 512);
   append_text (doc, "path", e->path, 4096);
   append_text (doc, "query", e->query, TK_AUDIT_QUERY_MAX);
   append_text (doc, "action", e->action, 128);
   BSON_APPEND_INT32 (doc, "status", e->status ? e->status : 200);
   if (e->detail) {
      BSON_APPEND_DOCUMENT (doc, "detail", e->detail);
   }
   if (e->tickets) {
      bson_t arr;
      BSON_APPEND_ARRAY_BEGIN (doc, "ticket_ids", &arr);
      for (size_t i = 0; i < e->tickets->n; i++) {
         char k[16];
         const char *key;
         bson_uint32_to_string ((uint32_t) i, &key, k, sizeof k);
         if (tk_utf8_valid (e->tickets->ids[i], strlen (e->tickets->ids[i]), NULL)) {
            bson_append_utf8 (&arr, key, -1, e->tickets->ids[i], -1);
         }
      }
      bson_append_array_end (doc, &arr);
      BSON_APPEND_INT64 (doc, "ticket_count", (int64_t) e->tickets->total);
   }
   return doc;
}

bool
tk_audit_insert (mongoc_client_t *client, const char *db, const bson_t *record,
                 tk_error_t *err)
{
   mongoc_collection_t *coll = mongoc_client_get_collection (client, db, TK_AUDIT_COLLECTION);
   bson_error_t e;
   bool ok = mongoc_collection_insert_one (coll, record, NULL, NULL, &e);
   if (!ok) {
      tk_error_set (err, TK_ERR_MONGO, (int) e.code, "%s", e.message);
   }
   mongoc_collection_destroy (coll);
   return ok;
}

bool
tk_audit_insert_many (mongoc_client_t *client, const char *db, const bson_t *const *records,
                      size_t n, tk_error_t *err)
{
   mongoc_collection_t *coll = mongoc_client_get_collection (client, db, TK_AUDIT_COLLECTION);
   bson_t opts = BSON_INITIALIZER;
   bson_error_t e;
   BSON_APPEND_BOOL (&opts, "ordered", false);
   bool ok = mongoc_collection_insert_many (coll, (const bson_t **) records, n, &opts, NULL, &e);
   if (!ok) {
      tk_error_set (err, TK_ERR_MONGO, (int) e.code, "%s", e.message);
   }
   bson_destroy (&opts);
   mongoc_collection_destroy (coll);
   return ok;
}

mongoc_cursor_t *
tk_audit_find (mongoc_client_t *client, const char *db, const char *key_id, const char *action,
               int64_t limit)
{
   mongoc_collection_t *coll = mongoc_client_get_collection (client, db, TK_AUDIT_COLLECTION);
   bson_t filter = BSON_INITIALIZER;
   if (key_id) {
      BSON_APPEND_UTF8 (&filter, "key_id", key_id);
   }
   if (action) {
      BSON_APPEND_UTF8 (&filter, "action", action);
   }
   bson_t *opts = BCON_NEW ("sort", "{", "at", BCON_INT32 (-1), "}", "limit", BCON_INT64 (limit));
   mongoc_cursor_t *cursor = mongoc_collection_find_with_opts (coll, &filter, opts, NULL);
   bson_destroy (opts);
   bson_destroy (&filter);
   mongoc_collection_destroy (coll);
   return cursor;
}
