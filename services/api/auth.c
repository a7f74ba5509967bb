/* auth.c - the api's side of API keys: reads the Bearer key of a call on
 * the loop and, when it is not the bootstrap key, looks it up in api_keys on
 * the worker thread. Hashing, comparison, parsing and the lookup itself are
 * common/auth.h's.
 *
 * Keys are never stored: only their SHA-256 (hex) is, in api_keys
 * {key_id, name, role, hash, created_at, revoked}. The bootstrap key from
 * TRIAGE_ADMIN_KEY is hashed at start-up and compared in constant time
 * (tk_auth_hash_equal) on the loop, so the admin path needs no database
 * round trip; other keys are found by their hash, which reveals nothing
 * about the key to a timing observer.
 */
#include "api.h"

#include <stdio.h>

#include "auth.h"

void
api_auth_begin (api_call_t *call)
{
   api_t *api = call->api;
   if (api->auth_off) {
      call->role = TK_ROLE_ADMIN;
      snprintf (call->key_id, sizeof call->key_id, "auth-off");
      return;
   }
   const char *token;
   size_t len;
   if (!tk_auth_bearer_token (tk_http_request_header (call->req, "Authorization"), &token,
                              &len)) {
      return;
   }
   call->has_token = true;
   /* A failed digest leaves key_hash empty, which matches no key: the
    * lookup then answers 401. */
   (void) tk_auth_hash_key (token, len, call->key_hash);
   if (api->has_admin_key && tk_auth_hash_equal (call->key_hash, api->admin_hash)) {
      call->role = TK_ROLE_ADMIN;
      snprintf (call->key_id, sizeof call->key_id, "bootstrap");
      return;
   }
   call->need_lookup = true;
}

bool
api_auth_lookup (api_call_t *call, mongoc_client_t *client, const char *db)
{
   tk_error_t err;
   if (!tk_auth_lookup_key_with_client (client, db, call->key_hash, &call->role, call->key_id,
                                        sizeof call->key_id, &err)) {
      api_call_fail (call, 503, "unavailable", NULL, "%s", err.message);
      return false;
   }
   return true;
}
