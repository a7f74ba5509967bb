/* key_store.c - the api_keys collection (key_store.h). */
#include "key_store.h"

#include <stdio.h>
#include <string.h>

#include "timeutil.h"

#define KEYS_COLLECTION "api_keys"

static mongoc_collection_t *
keys (mongoc_client_t *client, const char *db)
{
   return mongoc_client_get_collection (client, db, KEYS_COLLECTION);
}

bool
tk_key_store_insert (mongoc_client_t *client, const char *db, const tk_key_record_t *k,
                     bson_error_t *e)
{
   bson_t *doc = BCON_NEW ("key_id", BCON_UTF8 (k->key_id), "name", BCON_UTF8 (k->name), "role",
                           BCON_UTF8 (tk_role_name (k->role)), "hash", BCON_UTF8 (k->hash),
                           "created_at", BCON_DATE_TIME (tk_time_now_ms ()), "created_by",
                           BCON_UTF8 (k->created_by), "revoked", BCON_BOOL (false));
   mongoc_collection_t *coll = keys (client, db);
   bool ok = mongoc_collection_insert_one (coll, doc, NULL, NULL, e);
   mongoc_collection_destroy (coll);
   bson_destroy (doc);
   return ok;
}

mongoc_cursor_t *
tk_key_store_list (mongoc_client_t *client, const char *db)
{
   bson_t filter = BSON_INITIALIZER;
   bson_t *opts = BCON_NEW ("projection", "{", "hash", BCON_INT32 (0), "}", "sort", "{",
                            "created_at", BCON_INT32 (1), "}");
   mongoc_collection_t *coll = keys (client, db);
   mongoc_cursor_t *cursor = mongoc_collection_find_with_opts (coll, &filter, opts, NULL);
   mongoc_collection_destroy (coll);
   bson_destroy (opts);
   return cursor;
}

/* The role of the key filter selects, into role ("" when none). */
static void
find_role (mongoc_collection_t *coll, const bson_t *filter, char *role)
{
   bson_t *opts = BCON_NEW ("projection", "{", "role", BCON_INT32 (1), "}", "limit",
                            BCON_INT64 (1));
   mongoc_cursor_t *cur = mongoc_collection_find_with_opts (coll, filter, opts, NULL);
   const bson_t *doc;
   bson_iter_t it;
   role[0] = '\0';
   if (mongoc_cursor_next (cur, &doc) && bson_iter_init_find (&it, doc, "role") &&
       BSON_ITER_HOLDS_UTF8 (&it)) {
      snprintf (role, TK_KEY_ROLE_MAX, "%s", bson_iter_utf8 (&it, NULL));
   }
   mongoc_cursor_destroy (cur);
   bson_destroy (opts);
}

bool
tk_key_store_change (mongoc_client_t *client, const char *db, const char *key_id,
                     const char *new_hash, bool only_active, char *role, int64_t *matched,
                     bson_error_t *e)
{
   bson_t *filter = only_active
                       ? BCON_NEW ("key_id", BCON_UTF8 (key_id), "revoked", BCON_BOOL (false))
                       : BCON_NEW ("key_id", BCON_UTF8 (key_id));
   int64_t now = tk_time_now_ms ();
   bson_t *update = new_hash ? BCON_NEW ("$set", "{", "hash", BCON_UTF8 (new_hash), "rotated_at",
                                         BCON_DATE_TIME (now), "}")
                             : BCON_NEW ("$set", "{", "revoked", BCON_BOOL (true), "revoked_at",
                                         BCON_DATE_TIME (now), "}");
   mongoc_collection_t *coll = keys (client, db);
   bson_t reply;
   bson_iter_t it;
   if (role) {
      find_role (coll, filter, role);
   }
   bool ok = mongoc_collection_update_one (coll, filter, update, NULL, &reply, e);
   if (matched) {
      *matched = ok && bson_iter_init_find (&it, &reply, "matchedCount") ? bson_iter_as_int64 (&it)
                                                                         : 0;
   }
   bson_destroy (&reply);
   mongoc_collection_destroy (coll);
   bson_destroy (update);
   bson_destroy (filter);
   return ok;
}

bool
tk_key_store_lookup (mongoc_client_t *client, const char *db, const char *hash, tk_role_t *role,
                     char *key_id, size_t key_id_cap, tk_error_t *err)
{
   bool ok = false;
   mongoc_collection_t *coll = keys (client, db);
   bson_t *filter = BCON_NEW ("hash", BCON_UTF8 (hash));
   bson_t *opts = BCON_NEW ("limit", BCON_INT64 (1));
   mongoc_cursor_t *cursor = mongoc_collection_find_with_opts (coll, filter, opts, NULL);
   const bson_t *doc;
   bson_error_t e;

   *role = TK_ROLE_NONE;
   if (key_id && key_id_cap) {
      key_id[0] = '\0';
   }
   if (mongoc_cursor_next (cursor, &doc)) {
      bson_iter_t it;
      bool revoked = bson_iter_init_find (&it, doc, "revoked") && bson_iter_as_bool (&it);
      const char *r = NULL, *kid = NULL;
      if (bson_iter_init_find (&it, doc, "role") && BSON_ITER_HOLDS_UTF8 (&it)) {
         r = bson_iter_utf8 (&it, NULL);
      }
      if (bson_iter_init_find (&it, doc, "key_id") && BSON_ITER_HOLDS_UTF8 (&it)) {
         kid = bson_iter_utf8 (&it, NULL);
      }
      if (!revoked && r && kid) {
         *role = tk_role_parse (r);
         if (key_id && key_id_cap) {
            snprintf (key_id, key_id_cap, "%s", kid);
         }
      }
   }
   if (mongoc_cursor_error (cursor, &e)) {
      *role = TK_ROLE_NONE;
      tk_error_set (err, TK_ERR_MONGO, (int) e.code, "cannot check the API key: %s", e.message);
      goto done;
   }
   ok = true;
done:
   mongoc_cursor_destroy (cursor);
   bson_destroy (opts);
   bson_destroy (filter);
   mongoc_collection_destroy (coll);
   return ok;
}


void
tk_key_store_name (mongoc_client_t *client, const char *db, const char *key_id, char *name,
                   size_t cap)
{
   mongoc_collection_t *coll = keys (client, db);
   bson_t *filter = BCON_NEW ("key_id", BCON_UTF8 (key_id));
   bson_t *opts = BCON_NEW ("projection", "{", "name", BCON_INT32 (1), "}", "limit",
                            BCON_INT64 (1));
   mongoc_cursor_t *cursor = mongoc_collection_find_with_opts (coll, filter, opts, NULL);
   const bson_t *doc;
   bson_iter_t it;
   if (cap) {
      name[0] = '\0';
   }
   if (cap && mongoc_cursor_next (cursor, &doc) && bson_iter_init_find (&it, doc, "name") &&
       BSON_ITER_HOLDS_UTF8 (&it)) {
      snprintf (name, cap, "%s", bson_iter_utf8 (&it, NULL));
   }
   mongoc_cursor_destroy (cursor);
   bson_destroy (opts);
   bson_destroy (filter);
   mongoc_collection_destroy (coll);
}
