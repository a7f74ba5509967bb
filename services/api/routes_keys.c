/* routes_keys.c - API key management for admins (what `triagectl keys`
 * calls): POST /api/keys creates a key and shows it once, GET /api/keys
 * lists keys (never their hashes), DELETE /api/keys/{id} revokes one. */
#include "api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "timeutil.h"

typedef struct {
   char key_id[TK_AUTH_KEY_ID_MAX];
   char key[TK_AUTH_KEY_MAX]; /* the plain key: only in memory, only in the 201 answer */
   char hash[TK_KEY_HASH_HEX];
   char name[128];
   tk_role_t role;
} key_data_t;

static void
create_work (api_call_t *call, mongoc_client_t *client, const char *db)
{
   key_data_t *d = call->data;
   mongoc_collection_t *coll = mongoc_client_get_collection (client, db, "api_keys");
   bson_t *doc = BCON_NEW ("key_id", BCON_UTF8 (d->key_id), "name", BCON_UTF8 (d->name), "role",
                           BCON_UTF8 (tk_role_name (d->role)), "hash", BCON_UTF8 (d->hash),
                           "created_at", BCON_DATE_TIME (tk_time_now_ms ()), "created_by",
                           BCON_UTF8 (call->key_id), "revoked", BCON_BOOL (false));
   bson_error_t e;
   call->audit_detail = cJSON_CreateObject ();
   cJSON_AddStringToObject (call->audit_detail, "key_id", d->key_id);
   cJSON_AddStringToObject (call->audit_detail, "role", tk_role_name (d->role));
   if (!mongoc_collection_insert_one (coll, doc, NULL, NULL, &e)) {
      api_call_fail (call, 503, "unavailable", NULL, "database: %s", e.message);
   } else {
      cJSON *out = cJSON_CreateObject ();
      cJSON_AddStringToObject (out, "id", d->key_id);
      cJSON_AddStringToObject (out, "key", d->key);
      cJSON_AddStringToObject (out, "role", tk_role_name (d->role));
      cJSON_AddStringToObject (out, "name", d->name);
      api_call_ok (call, 201, out);
   }
   bson_destroy (doc);
   mongoc_collection_destroy (coll);
}

static void
keys_create (tk_http_request_t *req, void *user_data)
{
   if (!api_check_request (req, true)) {
      return;
   }
   cJSON *body = api_parse_body (req, 4096);
   if (!body) {
      return;
   }
   cJSON *role = cJSON_GetObjectItemCaseSensitive (body, "role");
   cJSON *name = cJSON_GetObjectItemCaseSensitive (body, "name");
   key_data_t *d = calloc (1, sizeof *d);
   if (!d) {
      api_respond_error (req, 500, "internal", NULL, "out of memory");
      goto done;
   }
   if (!cJSON_IsString (role) || !(d->role = tk_role_parse (role->valuestring))) {
      api_respond_error (req, 400, "invalid", "role", "role: must be viewer, operator or admin");
      goto done;
   }
   if (name && (!cJSON_IsString (name) || strlen (name->valuestring) >= sizeof d->name)) {
      api_respond_error (req, 400, "invalid", "name", "name: a string of at most 127 bytes");
      goto done;
   }
   if (!tk_auth_new_key (d->key, d->hash) || !tk_auth_new_key_id (d->key_id)) {
      api_respond_error (req, 500, "internal", NULL, "no randomness available");
      goto done;
   }
   snprintf (d->name, sizeof d->name, "%s", name ? name->valuestring : "");
   api_call_t *call = api_call_new (user_data, req, "keys.create", TK_ROLE_ADMIN, true,
                                    create_work);
   call->data = d;
   call->free_data = free;
   d = NULL;
   api_call_run (call);
done:
   free (d);
   cJSON_Delete (body);
}

static void
list_work (api_call_t *call, mongoc_client_t *client, const char *db)
{
   mongoc_collection_t *coll = mongoc_client_get_collection (client, db, "api_keys");
   bson_t filter = BSON_INITIALIZER;
   bson_t *opts = BCON_NEW ("projection", "{", "hash", BCON_INT32 (0), "}", "sort", "{",
                            "created_at", BCON_INT32 (1), "}");
   mongoc_cursor_t *cursor = mongoc_collection_find_with_opts (coll, &filter, opts, NULL);
   cJSON *out = cJSON_CreateObject ();
   cJSON *items = cJSON_AddArrayToObject (out, "items");
   bson_error_t e;
   if (!api_bson_cursor_to_json (cursor, items, &e)) {
      cJSON_Delete (out);
      api_call_fail (call, 503, "unavailable", NULL, "database: %s", e.message);
   } else {
      /* The projection leaves hashes out already; a key's hash must never
       * be shown, so this is checked once more. */
      cJSON *k;
      cJSON_ArrayForEach (k, items) {
         cJSON_DeleteItemFromObjectCaseSensitive (k, "hash");
      }
      api_call_ok (call, 200, out);
   }
   mongoc_cursor_destroy (cursor);
   bson_destroy (opts);
   mongoc_collection_destroy (coll);
}

static void
keys_list (tk_http_request_t *req, void *user_data)
{
   if (!api_check_request (req, false)) {
      return;
   }
   /* Listing keys is recorded like changing them: who looked. */
   api_call_run (api_call_new (user_data, req, "keys.list", TK_ROLE_ADMIN, true, list_work));
}

static void
revoke_work (api_call_t *call, mongoc_client_t *client, const char *db)
{
   key_data_t *d = call->data;
   mongoc_collection_t *coll = mongoc_client_get_collection (client, db, "api_keys");
   bson_t *filter = BCON_NEW ("key_id", BCON_UTF8 (d->key_id));
   bson_t *update = BCON_NEW ("$set", "{", "revoked", BCON_BOOL (true), "revoked_at",
                              BCON_DATE_TIME (tk_time_now_ms ()), "}");
   bson_t reply;
   bson_error_t e;
   bson_iter_t it;
   call->audit_detail = cJSON_CreateObject ();
   cJSON_AddStringToObject (call->audit_detail, "key_id", d->key_id);
   if (!mongoc_collection_update_one (coll, filter, update, NULL, &reply, &e)) {
      api_call_fail (call, 503, "unavailable", NULL, "database: %s", e.message);
   } else if (!bson_iter_init_find (&it, &reply, "matchedCount") || bson_iter_as_int64 (&it) == 0) {
      api_call_fail (call, 404, "not_found", "id", "no API key with this id");
   } else {
      cJSON *out = cJSON_CreateObject ();
      cJSON_AddStringToObject (out, "revoked", d->key_id);
      api_call_ok (call, 200, out);
   }
   bson_destroy (&reply);
   bson_destroy (update);
   bson_destroy (filter);
   mongoc_collection_destroy (coll);
}

static void
keys_revoke (tk_http_request_t *req, void *user_data)
{
   if (!api_check_request (req, false)) {
      return;
   }
   const char *id = tk_http_request_param (req, "id");
   if (!id || !api_id_valid (id) || strlen (id) >= TK_AUTH_KEY_ID_MAX) {
      api_respond_error (req, 400, "invalid", "id", "id: not a key id");
      return;
   }
   key_data_t *d = calloc (1, sizeof *d);
   if (!d) {
      api_respond_error (req, 500, "internal", NULL, "out of memory");
      return;
   }
   snprintf (d->key_id, sizeof d->key_id, "%s", id);
   api_call_t *call = api_call_new (user_data, req, "keys.revoke", TK_ROLE_ADMIN, true,
                                    revoke_work);
   call->data = d;
   call->free_data = free;
   api_call_run (call);
}

bool
api_routes_keys (api_t *api, tk_error_t *err)
{
   return api_route (api, "POST", "/api/keys", TK_ROLE_ADMIN, TK_HTTP_BODY_JSON,
                     keys_create, err) &&
          api_route (api, "GET", "/api/keys", TK_ROLE_ADMIN, TK_HTTP_BODY_NONE, keys_list, err) &&
          api_route (api, "DELETE", "/api/keys/{id}", TK_ROLE_ADMIN, TK_HTTP_BODY_NONE,
                     keys_revoke, err);
}
