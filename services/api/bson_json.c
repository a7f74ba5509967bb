/* bson_json.c - documents to JSON for responses: plain values as they are,
 * dates as ISO-8601 strings, _id left out; and ticket documents with the
 * API's own fields (stored_at, corrections) that tk_ticket_to_json does not
 * know. */
#include "api.h"

#include <stdio.h>
#include <string.h>

#include "ticket_bson.h"
#include "ticket_json.h"
#include "timeutil.h"

static cJSON *iter_to_json (bson_iter_t *it);

static cJSON *
container_to_json (bson_iter_t *it, bool array)
{
   bson_iter_t child;
   cJSON *out = array ? cJSON_CreateArray () : cJSON_CreateObject ();
   if (!out || !bson_iter_recurse (it, &child)) {
      return out;
   }
   while (bson_iter_next (&child)) {
      if (!array && !strcmp (bson_iter_key (&child), "_id")) {
         continue;
      }
      cJSON *v = iter_to_json (&child);
      if (!v) {
         continue;
      }
      if (array) {
         cJSON_AddItemToArray (out, v);
      } else {
         cJSON_AddItemToObject (out, bson_iter_key (&child), v);
      }
   }
   return out;
}

static cJSON *
iter_to_json (bson_iter_t *it)
{
   char iso[TK_TIME_ISO_BUFSIZE];
   switch (bson_iter_type (it)) {
   case BSON_TYPE_UTF8: return cJSON_CreateString (bson_iter_utf8 (it, NULL));
   case BSON_TYPE_INT32: return cJSON_CreateNumber (bson_iter_int32 (it));
   case BSON_TYPE_INT64: return cJSON_CreateNumber ((double) bson_iter_int64 (it));
   case BSON_TYPE_DOUBLE: return cJSON_CreateNumber (bson_iter_double (it));
   case BSON_TYPE_BOOL: return cJSON_CreateBool (bson_iter_bool (it));
   case BSON_TYPE_NULL: return cJSON_CreateNull ();
   case BSON_TYPE_DATE_TIME:
      if (!tk_time_format_iso (bson_iter_date_time (it), iso, sizeof iso)) {
         return cJSON_CreateNull ();
      }
      return cJSON_CreateString (iso);
   case BSON_TYPE_DOCUMENT: return container_to_json (it, false);
   case BSON_TYPE_ARRAY: return container_to_json (it, true);
   default: return NULL;
   }
}

cJSON *
api_bson_to_json (const bson_t *doc)
{
   bson_iter_t it;
   cJSON *out = cJSON_CreateObject ();
   if (!out || !bson_iter_init (&it, doc)) {
      return out;
   }
   while (bson_iter_next (&it)) {
      if (!strcmp (bson_iter_key (&it), "_id")) {
         continue;
      }
      cJSON *v = iter_to_json (&it);
      if (v) {
         cJSON_AddItemToObject (out, bson_iter_key (&it), v);
      }
   }
   return out;
}

cJSON *
api_ticket_doc_json (const bson_t *doc, tk_error_t *err)
{
   tk_ticket_t *t = NULL;
   cJSON *json = NULL;
   bson_iter_t it;
   if (!tk_ticket_from_bson (doc, &t, err) || !(json = tk_ticket_to_json (t, err))) {
      goto done;
   }
   /* When the store first held it (store.h): set by the insert alone. */
   if (bson_iter_init_find (&it, doc, TK_STORE_STORED_AT) && BSON_ITER_HOLDS_DATE_TIME (&it)) {
      cJSON_AddItemToObject (json, TK_STORE_STORED_AT, iter_to_json (&it));
   }
   /* Who corrected the labels by hand, and when: kept in the document
    * beside the model's metadata, not part of tk_ticket_t. */
   static const char *const corrected[] = {"corrected_by", "corrected_by_name", "corrected_at"};
   cJSON *meta = cJSON_GetObjectItemCaseSensitive (json, "processing_metadata");
   for (size_t i = 0; meta && i < sizeof corrected / sizeof corrected[0]; i++) {
      char path[64];
      snprintf (path, sizeof path, "processing_metadata.%s", corrected[i]);
      if (bson_iter_init (&it, doc) && bson_iter_find_descendant (&it, path, &it) &&
          (BSON_ITER_HOLDS_UTF8 (&it) || BSON_ITER_HOLDS_DATE_TIME (&it))) {
         cJSON_AddItemToObject (meta, corrected[i], iter_to_json (&it));
      }
   }
   if (bson_iter_init_find (&it, doc, "corrections") && BSON_ITER_HOLDS_ARRAY (&it)) {
      cJSON_AddItemToObject (json, "corrections", iter_to_json (&it));
   }
done:
   tk_ticket_destroy (t);
   return json;
}

bool
api_bson_cursor_to_json (mongoc_cursor_t *cursor, cJSON *items, bson_error_t *e)
{
   const bson_t *doc;
   while (mongoc_cursor_next (cursor, &doc)) {
      cJSON_AddItemToArray (items, api_bson_to_json (doc));
   }
   return !mongoc_cursor_error (cursor, e);
}
