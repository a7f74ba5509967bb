/* auth.c - API keys: SHA-256 hashes, the bootstrap admin key, lookups in
 * the api_keys collection, roles.
 *
 * Keys are never stored: only their SHA-256 (hex) is, in api_keys
 * {key_id, name, role, hash, created_at, revoked}. The bootstrap key from
 * TRIAGE_ADMIN_KEY is hashed at start-up and compared in constant time
 * (CRYPTO_memcmp) on the loop, so the admin path needs no database round
 * trip; other keys are found by their hash, which reveals nothing about the
 * key to a timing observer.
 */
#include "api.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#define API_TOKEN_MAX 512

const char *
api_role_name (api_role_t role)
{
   switch (role) {
   case API_ROLE_VIEWER: return "viewer";
   case API_ROLE_OPERATOR: return "operator";
   case API_ROLE_ADMIN: return "admin";
   default: return "none";
   }
}

api_role_t
api_role_parse (const char *name)
{
   if (!name) {
      return API_ROLE_NONE;
   }
   if (!strcmp (name, "viewer")) {
      return API_ROLE_VIEWER;
   }
   if (!strcmp (name, "operator")) {
      return API_ROLE_OPERATOR;
   }
   if (!strcmp (name, "admin")) {
      return API_ROLE_ADMIN;
   }
   return API_ROLE_NONE;
}

void
api_hash_token (const char *token, size_t len, char out[API_KEY_HASH_HEX])
{
   unsigned char md[EVP_MAX_MD_SIZE];
   unsigned int md_len = 0;
   if (!EVP_Digest (token, len, md, &md_len, EVP_sha256 (), NULL) || md_len != 32) {
      out[0] = '\0';
      return;
   }
   for (unsigned i = 0; i < 32; i++) {
      snprintf (out + 2 * i, 3, "%02x", md[i]);
   }
}

bool
api_random_hex (char *out, size_t nbytes)
{
   unsigned char raw[64];
   if (nbytes > sizeof raw || RAND_bytes (raw, (int) nbytes) != 1) {
      return false;
   }
   for (size_t i = 0; i < nbytes; i++) {
      snprintf (out + 2 * i, 3, "%02x", raw[i]);
   }
   return true;
}

void
api_auth_begin (api_call_t *call)
{
   api_t *api = call->api;
   if (api->auth_off) {
      call->role = API_ROLE_ADMIN;
      snprintf (call->key_id, sizeof call->key_id, "auth-off");
      return;
   }
   const char *h = tk_http_request_header (call->req, "Authorization");
   if (!h || strncasecmp (h, "Bearer ", 7) != 0) {
      return;
   }
   const char *token = h + 7;
   while (*token == ' ') {
      token++;
   }
   size_t len = strlen (token);
   if (len == 0 || len > API_TOKEN_MAX) {
      return;
   }
   call->has_token = true;
   api_hash_token (token, len, call->key_hash);
   if (api->has_admin_key &&
       CRYPTO_memcmp (call->key_hash, api->admin_hash, API_KEY_HASH_HEX - 1) == 0) {
      call->role = API_ROLE_ADMIN;
      snprintf (call->key_id, sizeof call->key_id, "bootstrap");
      return;
   }
   call->need_lookup = true;
}

bool
api_auth_lookup (api_call_t *call, mongoc_client_t *client, const char *db)
{
   bool ok = false;
   mongoc_collection_t *coll = mongoc_client_get_collection (client, db, "api_keys");
   bson_t *filter = BCON_NEW ("hash", BCON_UTF8 (call->key_hash));
   bson_t *opts = BCON_NEW ("limit", BCON_INT64 (1));
   mongoc_cursor_t *cursor = mongoc_collection_find_with_opts (coll, filter, opts, NULL);
   const bson_t *doc;
   bson_error_t e;
   if (mongoc_cursor_next (cursor, &doc)) {
      bson_iter_t it;
      bool revoked = bson_iter_init_find (&it, doc, "revoked") && bson_iter_as_bool (&it);
      const char *role = NULL, *key_id = NULL;
      if (bson_iter_init_find (&it, doc, "role") && BSON_ITER_HOLDS_UTF8 (&it)) {
         role = bson_iter_utf8 (&it, NULL);
      }
      if (bson_iter_init_find (&it, doc, "key_id") && BSON_ITER_HOLDS_UTF8 (&it)) {
         key_id = bson_iter_utf8 (&it, NULL);
      }
      if (!revoked && role && key_id) {
         call->role = api_role_parse (role);
         snprintf (call->key_id, sizeof call->key_id, "%s", key_id);
      }
   }
   if (mongoc_cursor_error (cursor, &e)) {
      api_call_fail (call, 503, "unavailable", NULL, "cannot check the API key: %s", e.message);
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
