/* route_auth.c - the api's side of API keys: its routes are registered with the
 * role and body they need, so that the listener's key check
 * (common/key_gate.h) runs before a handler and before any body byte is
 * read; and the requests that check refuses are audited.
 *
 * Keys are never stored: only their SHA-256 (hex) is, in api_keys
 * {key_id, name, role, hash, created_at, revoked}; hashing, the lookup and
 * the limits are common/auth.h's and common/key_gate.h's.
 */
#include "api.h"

#include <stdio.h>
#include <string.h>

#include "log.h"

bool
api_route (api_t *api, const char *method, const char *pattern, tk_role_t need, size_t max_body,
           tk_http_handler_t handler, tk_error_t *err)
{
   return tk_http_route_with (api->app->http, method, pattern,
                              (tk_http_access_t){(int) need, max_body, true}, handler, api, err);
}

/* One record per refusal the gate reports: unknown keys at most once a
 * minute per client address (with how many there were), every 403. */
static void
audit_refusal (tk_http_request_t *req, int status, unsigned failures, const char *key_id,
               tk_role_t role, void *user_data)
{
   api_t *api = user_data;
   api_call_t call = {
      .api = api,
      .req = req,
      .action = status == 403 ? "auth.forbidden" : "auth.failed",
      .status = status,
      .role = role,
   };
   snprintf (call.key_id, sizeof call.key_id, "%s", key_id && key_id[0] ? key_id : "unknown");
   call.audit_detail = cJSON_CreateObject ();
   cJSON_AddStringToObject (call.audit_detail, "client", tk_http_request_remote_addr (req));
   if (failures > 0) {
      cJSON_AddNumberToObject (call.audit_detail, "failures", (double) failures);
   }
   bson_t *doc = api_audit_record (&call);
   cJSON_Delete (call.audit_detail);
   if (!api_audit_queue_push (api->audit_queue, doc)) {
      TK_WARN ("audit", "audit queue full: the refusal of %s from %s is not recorded",
               tk_http_request_path (req), tk_http_request_remote_addr (req));
      bson_destroy (doc);
   }
}

void
api_auth_audit_refusals (api_t *api)
{
   if (api->app->gate) {
      tk_key_gate_set_refused_hook (api->app->gate, audit_refusal, api);
   }
}
