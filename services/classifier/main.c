/* main.c - triage-classifier: entry point.
 *
 * Builds the provider named by TRIAGE_LLM_PROVIDER, then the worker that
 * consumes classification requests, on the shared service runtime. */
#include "app.h"
#include "curl_uv.h"
#include "log.h"
#include "provider.h"
#include "worker.h"

#include <curl/curl.h>
#include <stdio.h>

static cl_provider_t *
make_provider (tk_app_t *app, tk_curl_uv_t *http, tk_error_t *err)
{
   switch (app->cfg.llm_provider) {
   case TK_LLM_OPENAI: return cl_provider_openai_new (&app->cfg, app->taxonomy, http, err);
   case TK_LLM_GEMINI: return cl_provider_gemini_new (&app->cfg, app->taxonomy, http, err);
   default: return cl_provider_local_new (app->loop, &app->cfg, app->taxonomy, err);
   }
}

int
main (int argc, char **argv)
{
   tk_app_t app;
   tk_error_t err;
   switch (tk_app_init (&app, TK_SVC_CLASSIFIER, argc, argv, &err)) {
   case TK_APP_EXIT: return 0;
   case TK_APP_ERROR:
      fprintf (stderr, "triage-classifier: %s\n", err.message);
      return 2;
   case TK_APP_OK: break;
   }
   curl_global_init (CURL_GLOBAL_DEFAULT);
   tk_curl_uv_t *http = NULL;
   cl_provider_t *provider = NULL, *local = NULL;
   cl_worker_t *worker = NULL;
   bool ok = (http = tk_curl_uv_new (app.loop, &err)) && (provider = make_provider (&app, http, &err));
   if (ok && provider->remote && (app.cfg.fallback_provider == 1 || app.cfg.cascade == 1)) {
      /* The built-in model beside the remote provider: it classifies the
       * tickets the remote provider gives up on (TRIAGE_FALLBACK_PROVIDER=
       * local) and answers first when it is sure (TRIAGE_CASCADE=on). */
      ok = (local = cl_provider_local_new (app.loop, &app.cfg, app.taxonomy, &err)) != NULL;
   }
   if (!ok || !(worker = cl_worker_new (&app, provider, local, http, &err))) {
      fprintf (stderr, "triage-classifier: %s\n", err.message);
      TK_ERROR ("classifier", "cannot start: %s", err.message);
      if (!worker) {
         tk_curl_uv_close (http, NULL, NULL);
         if (provider && provider->close) {
            provider->close (provider, NULL, NULL);
         }
         if (local && local->close) {
            local->close (local, NULL, NULL);
         }
      }
      tk_app_stop (&app, "start-up failed", 2);
   }
   int rc = tk_app_run (&app);
   cl_worker_destroy (worker);
   if (provider) {
      provider->destroy (provider);
   }
   if (local) {
      local->destroy (local);
   }
   curl_global_cleanup ();
   return rc;
}
