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
#include "store_async.h"
#include "timeutil.h"
#include "utf8.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A refusal's audit record, on its way to audit_log. */
typedef struct {
   bson_t *doc;
} refusal_t;

static void
refusal_work (tk_store_t *store, void *ctx)
{
   refusal_t *r = ctx;
   mongoc_client_t *client = tk_store_client_pop (store);
   mongoc_collection_t *coll =
      mongoc_client_get_collection (client, tk_store_db_name (store), "audit_log");
   bson_error_t e;
   if (!mongoc_collection_insert_one (coll, r->doc, NULL, NULL, &e)) {
      TK_WARN ("audit", "cannot write the audit record of a refused key: %s", e.message);
   }
   mongoc_collection_destroy (coll);
   tk_store_client_push (store, client);
}

static void
refusal_done (int status, void *ctx)
{
   refusal_t *r = ctx;
   bson_destroy (r->doc);
   free (r);
}

/* The record has the fields of the api's (services/api/audit.c), so one
 * query of audit_log finds refusals on both services. */
static void
audit_refusal (tk_http_request_t *req, int status, unsigned failures, const char *key_id,
               tk_role_t role, void *user_data)
{
   ingest_auth_t *a = user_data;
   refusal_t *r = calloc (1, sizeof *r);
   if (!r || !(r->doc = bson_new ())) {
      free (r);
      return;
   }
   const char *route = tk_http_request_route (req);
   const char *path = tk_http_request_path (req);
   bson_t detail;
   BSON_APPEND_DATE_TIME (r->doc, "at", tk_time_now_ms ());
   BSON_APPEND_UTF8 (r->doc, "key_id", key_id && key_id[0] ? key_id : "unknown");
   BSON_APPEND_UTF8 (r->doc, "role", tk_role_name (role));
   BSON_APPEND_UTF8 (r->doc, "service", "ingest");
   BSON_APPEND_UTF8 (r->doc, "method", tk_http_request_method (req));
   BSON_APPEND_UTF8 (r->doc, "route", route ? route : "");
   if (tk_utf8_valid (path, strlen (path), NULL)) {
      BSON_APPEND_UTF8 (r->doc, "path", path);
   }
   BSON_APPEND_UTF8 (r->doc, "action", status == 403 ? "auth.forbidden" : "auth.failed");
   BSON_APPEND_INT32 (r->doc, "status", status);
   BSON_APPEND_DOCUMENT_BEGIN (r->doc, "detail", &detail);
   BSON_APPEND_UTF8 (&detail, "client", tk_http_request_remote_addr (req));
   if (failures > 0) {
      BSON_APPEND_INT64 (&detail, "failures", (int64_t) failures);
   }
   bson_append_document_end (r->doc, &detail);
   if (tk_store_async (a->app->loop, a->app->store, refusal_work, refusal_done, r) != 0) {
      refusal_done (0, r);
   }
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
   tk_role_t role = (tk_role_t) tk_http_request_role (req);
   if (role < need) {
      char msg[128];
      snprintf (msg, sizeof msg, "this route needs the %s role; the key has %s",
                tk_role_name (need), tk_role_name (role));
      tk_http_respond_error (req, 403, "forbidden", msg, NULL);
      return;
   }
   next (req, user_data);
}
