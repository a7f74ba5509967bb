/* auth_gate.c - API keys on ingest's upload route.
 *
 * The same keys as the api (common/auth.h), checked by the listener's key
 * gate (common/key_gate.h) once a request's head is complete and before any
 * of its body is read: the upload route is registered for the operator role
 * and the large body limit, so an upload without a valid operator or admin
 * key is refused (401, 403, 429) without a byte of its body in memory.
 * What the gate refuses is recorded in audit_log here (unknown keys at most
 * once a minute per client address). /healthz and /readyz are open; /metrics
 * is on the metrics listener.
 */
#include "ingest.h"

#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What the gate refuses goes to audit_log through ingest_audit.c, with the
 * same fields as every other record (common/audit_log.h), so one query of
 * audit_log finds refusals on both services. */
static void
audit_refusal (tk_http_request_t *req, int status, unsigned failures, const char *key_id,
               tk_role_t role, void *user_data)
{
   ingest_auth_t *a = user_data;
   ingest_who_t who = {.role = role};
   snprintf (who.key_id, sizeof who.key_id, "%s", key_id && key_id[0] ? key_id : "unknown");
   bson_t detail = BSON_INITIALIZER;
   /* In detail too, as the api's refusal records have it. */
   BSON_APPEND_UTF8 (&detail, "client", tk_http_request_remote_addr (req));
   if (failures > 0) {
      BSON_APPEND_INT64 (&detail, "failures", (int64_t) failures);
   }
   bson_t *record = ingest_audit_record (req, &who, status == 403 ? "auth.forbidden" : "auth.failed",
                                         status, &detail, NULL);
   bson_destroy (&detail);
   ingest_audit_write (a->app, record);
}

void
ingest_auth_init (ingest_auth_t *a, tk_app_t *app)
{
   memset (a, 0, sizeof *a);
   a->app = app;
   if (app->cfg.auth == TK_AUTH_OFF) {
      TK_WARN ("auth", "TRIAGE_AUTH=off: ANYONE WHO CAN REACH THIS LISTENER CAN UPLOAD TICKETS "
                       "WITHOUT A KEY. For the local demo only; never expose this listener.");
   } else if (!app->cfg.admin_key || !app->cfg.admin_key[0]) {
      TK_WARN ("auth", "no TRIAGE_ADMIN_KEY is set: only operator or admin keys already in "
                       "api_keys can upload");
   }
   if (app->gate) {
      tk_key_gate_set_refused_hook (app->gate, audit_refusal, a);
   }
}

void
ingest_auth_check (ingest_auth_t *a, tk_http_request_t *req, tk_role_t need,
                   ingest_authorized_fn next, void *user_data)
{
   /* The key gate has granted at least the route's role; a route whose
    * handler asks for more than it was registered with is refused here. */
   (void) a;
   tk_role_t role = (tk_role_t) tk_http_request_role (req);
   if (role < need) {
      char msg[128];
      snprintf (msg, sizeof msg, "this route needs the %s role; the key has %s",
                tk_role_name (need), tk_role_name (role));
      tk_http_respond_error (req, 403, "forbidden", msg, NULL);
      return;
   }
   ingest_who_t who = {.role = role};
   const char *principal = tk_http_request_principal (req);
   /* "bootstrap", "auth-off" or the api_keys id, as the gate named it. */
   snprintf (who.key_id, sizeof who.key_id, "%s", principal[0] ? principal : "unknown");
   next (req, &who, user_data);
}
