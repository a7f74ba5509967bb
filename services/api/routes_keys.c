/* routes_keys.c - API key management for admins (what `triagectl keys`
 * calls): POST /api/keys creates a key and shows it once, GET /api/keys
 * lists keys (never their hashes), DELETE /api/keys/{id} revokes one. */
#include "api.h"

#include "key_store.h"

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
   const tk_key_record_t k = {.key_id = d->key_id,
                              .name = d->name,
                              .hash = d->hash,
                              .created_by = call->key_id,
                              .role = d->role};
   bson_error_t e;
   call->audit_detail = cJSON_CreateObject ();
   cJSON_AddStringToObject (call->audit_detail, "key_id", d->key_id);
   cJSON_AddStringToObject (call->audit_detail, "role", tk_role_name (d->role));
   if (!tk_key_store_insert (client, db, &k, &e)) {
      api_call_fail (call, 503, "unavailable", NULL, "database: %s", e.message);
   } else {
      cJSON *out = cJSON_CreateObject ();
      cJSON_AddStringToObject (out, "id", d->key_id);
      cJSON_AddStringToObject (out, "key", d->key);
      cJSON_AddStringToObject (out, "role", tk_role_name (d->role));
      cJSON_AddStringToObject (out, "name", d->name);
      api_call_ok (call, 201, out);
   }
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
   mongoc_cursor_t *cursor = tk_key_store_list (client, db);
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
   int64_t matched = 0;
   bson_error_t e;
   call->audit_detail = cJSON_CreateObject ();
   cJSON_AddStringToObject (call->audit_detail, "key_id", d->key_id);
   if (!tk_key_store_change (client, db, d->key_id, NULL, false, NULL, &matched, &e)) {
      api_call_fail (call, 503, "unavailable", NULL, "database: %s", e.message);
   } else if (matched == 0) {
      api_call_fail (call, 404, "not_found", "id", "no API key with this id");
   } else {
      cJSON *out = cJSON_CreateObject ();
      cJSON_AddStringToObject (out, "revoked", d->key_id);
      api_call_ok (call, 200, out);
   }
}

static void
keys_revoke (tk_http_request_t *req, void *user_data)
{
   if (!api_check_request (req, false)) {
      return;
   }
   const char *id = tk_http_request_param (req, "id");
   if (!api_safe_id_valid (id, TK_AUTH_KEY_ID_MAX - 1)) {
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
