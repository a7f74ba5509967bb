/* auth_gate.c - API keys on ingest's upload route.
 *
 * The same keys as the api (common/auth.h): the bootstrap TRIAGE_ADMIN_KEY
 * is recognised on the loop by its hash, any other key is looked up in
 * `api_keys` on the threadpool. Uploading needs the operator role;
 * /healthz, /readyz and /metrics are registered by the app runtime and
 * never pass through here.
 */
#include "ingest.h"

#include "log.h"
#include "store_async.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
   ingest_auth_t *auth;
   tk_http_request_t *req;
   tk_role_t need;
   ingest_authorized_fn next;
   void *user_data;
   char hash[TK_KEY_HASH_HEX];
   ingest_who_t who;
   bool ok;
   tk_error_t err;
} lookup_t;

void
ingest_auth_init (ingest_auth_t *a, tk_app_t *app)
{
   memset (a, 0, sizeof *a);
   a->app = app;
   a->off = app->cfg.auth == TK_AUTH_OFF;
   if (app->cfg.admin_key && app->cfg.admin_key[0]) {
      a->has_admin_key =
         tk_auth_hash_key (app->cfg.admin_key, strlen (app->cfg.admin_key), a->admin_hash);
   }
   if (a->off) {
      TK_WARN ("auth", "TRIAGE_AUTH=off: ANYONE WHO CAN REACH THIS LISTENER CAN UPLOAD TICKETS "
                       "WITHOUT A KEY. For the local demo only; never expose this listener.");
   } else if (!a->has_admin_key) {
      TK_WARN ("auth", "no TRIAGE_ADMIN_KEY is set: only operator or admin keys already in "
                       "api_keys can upload");
   }
}

static void
refuse (ingest_auth_t *a, tk_http_request_t *req, tk_role_t need, tk_role_t role)
{
   if (role == TK_ROLE_NONE) {
      tk_http_add_header (req, "WWW-Authenticate", "Bearer");
      tk_http_respond_error (req, 401, "unauthorized", "unknown or revoked API key", NULL);
      return;
   }
   char msg[128];
   snprintf (msg, sizeof msg, "this route needs the %s role; the key has %s", tk_role_name (need),
             tk_role_name (role));
   tk_http_respond_error (req, 403, "forbidden", msg, NULL);
}

static void
lookup_work (tk_store_t *store, void *ctx)
{
   lookup_t *l = ctx;
   l->ok = tk_auth_lookup_key (store, l->hash, &l->who.role, l->who.key_id,
                               sizeof l->who.key_id, &l->err);
}

static void
lookup_done (int status, void *ctx)
{
   lookup_t *l = ctx;
   if (status != 0 || !l->ok) {
      char secs[32];
      snprintf (secs, sizeof secs, "%lld",
                (long long) ((l->auth->app->cfg.ingest_retry_after_ms + 999) / 1000));
      tk_http_add_header (l->req, "Retry-After", secs);
      tk_http_respond_error (l->req, 503, "store_unavailable",
                             status != 0 ? "the service is stopping" : l->err.message, NULL);
   } else if (l->who.role < l->need) {
      refuse (l->auth, l->req, l->need, l->who.role);
   } else {
      l->next (l->req, &l->who, l->user_data);
   }
   free (l);
}

void
ingest_auth_check (ingest_auth_t *a, tk_http_request_t *req, tk_role_t need,
                   ingest_authorized_fn next, void *user_data)
{
   if (a->off) {
      ingest_who_t who = {"auth-off", TK_ROLE_ADMIN};
      next (req, &who, user_data);
      return;
   }
   const char *token;
   size_t len;
   if (!tk_auth_bearer_token (tk_http_request_header (req, "Authorization"), &token, &len)) {
      tk_http_add_header (req, "WWW-Authenticate", "Bearer");
      tk_http_respond_error (req, 401, "unauthorized",
                             "send an API key as \"Authorization: Bearer <key>\"", NULL);
      return;
   }
   char hash[TK_KEY_HASH_HEX];
   if (!tk_auth_hash_key (token, len, hash)) {
      tk_http_respond_error (req, 500, "internal", "cannot hash the API key", NULL);
      return;
   }
   if (a->has_admin_key && tk_auth_hash_equal (hash, a->admin_hash)) {
      ingest_who_t who = {"bootstrap", TK_ROLE_ADMIN};
      next (req, &who, user_data);
      return;
   }
   lookup_t *l = calloc (1, sizeof *l);
   if (!l) {
      tk_http_respond_error (req, 500, "internal", "out of memory", NULL);
      return;
   }
   *l = (lookup_t){.auth = a, .req = req, .need = need, .next = next, .user_data = user_data};
   memcpy (l->hash, hash, sizeof hash);
   int rc = tk_store_async (tk_http_request_loop (req), a->app->store, lookup_work, lookup_done, l);
   if (rc != 0) {
      tk_http_respond_error (req, 503, "busy", "cannot check the API key now", NULL);
      free (l);
   }
}
