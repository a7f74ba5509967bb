/* app.c - the shared service runtime: configuration, logging, store,
 * producer, HTTP listener with health routes, metrics and shutdown. */
#include "app.h"

#include "log.h"
#include "store_async.h"

#include <mongoc/mongoc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define APP_INDEX_RETRY_MS 2000
#define APP_READY_KAFKA_TIMEOUT_MS 2000

static const char *
app_service_name (tk_service_t svc)
{
   switch (svc) {
   case TK_SVC_INGEST: return "ingest";
   case TK_SVC_CLASSIFIER: return "classifier";
   case TK_SVC_API: return "api";
   default: return "triagectl";
   }
}

/* ---- background index creation --------------------------------------- */

typedef struct {
   tk_app_t *app;
   bool ok;
   tk_error_t err;
} index_job_t;

static void app_ensure_indexes (tk_app_t *app);

static void
index_work (tk_store_t *store, void *ctx)
{
   index_job_t *job = ctx;
   job->ok = tk_store_ensure_indexes (store, &job->err);
}

static void
index_retry_cb (uv_timer_t *t)
{
   app_ensure_indexes (t->data);
}

static void
index_done (int status, void *ctx)
{
   index_job_t *job = ctx;
   tk_app_t *app = job->app;
   if (status == 0 && job->ok) {
      app->indexes_ready = true;
      TK_INFO ("store", "indexes ready in database \"%s\"", tk_store_db_name (app->store));
   } else if (!app->stopping) {
      TK_WARN ("store", "cannot reach MongoDB yet (%s); retrying in %d ms", job->err.message,
               APP_INDEX_RETRY_MS);
      uv_timer_start (&app->index_retry, index_retry_cb, APP_INDEX_RETRY_MS, 0);
   }
   free (job);
}

static void
app_ensure_indexes (tk_app_t *app)
{
   index_job_t *job = calloc (1, sizeof *job);
   if (!job) {
      return;
   }
   job->app = app;
   if (tk_store_async (app->loop, app->store, index_work, index_done, job) != 0) {
      free (job);
   }
}

/* ---- /readyz: Mongo ping and a Kafka metadata request, off the loop ---- */

typedef struct {
   tk_app_t *app;
   tk_http_request_t *req;
   tk_kafka_producer_t *producer;
   const char *failed;
   tk_error_t err;
} ready_job_t;

static void
ready_work (tk_store_t *store, void *ctx)
{
   ready_job_t *job = ctx;
   if (!tk_store_ping (store, &job->err)) {
      job->failed = "mongo";
   } else if (job->producer &&
              !tk_kafka_producer_check_brokers (job->producer, APP_READY_KAFKA_TIMEOUT_MS,
                                                &job->err)) {
      job->failed = "kafka";
   }
}

static void
ready_done (int status, void *ctx)
{
   ready_job_t *job = ctx;
   if (status != 0) {
      tk_http_respond_ready (job->req, "shutdown", "the service is stopping");
   } else if (!job->failed && !job->app->indexes_ready) {
      tk_http_respond_ready (job->req, "mongo", "indexes not created yet");
   } else {
      tk_http_respond_ready (job->req, job->failed, job->failed ? job->err.message : NULL);
   }
   free (job);
}

static void
app_ready (tk_http_request_t *req, void *user_data)
{
   tk_app_t *app = user_data;
   if (app->stopping) {
      tk_http_respond_ready (req, "shutdown", "the service is stopping");
      return;
   }
   ready_job_t *job = calloc (1, sizeof *job);
   if (!job) {
      tk_http_respond_ready (req, "memory", "out of memory");
      return;
   }
   job->app = app;
   job->req = req;
   job->producer = app->producer;
   if (tk_store_async (app->loop, app->store, ready_work, ready_done, job) != 0) {
      free (job);
      tk_http_respond_ready (req, "threadpool", "cannot queue the check");
   }
}

/* ---- /metrics --------------------------------------------------------- */

static bool
app_metrics (tk_buf_t *out, void *user_data)
{
   tk_app_t *app = user_data;
   size_t len = 0;
   char *text = tk_metrics_render (app->metrics, &len);
   if (!text) {
      return false;
   }
   bool ok = tk_buf_append (out, text, len);
   free (text);
   char prefix[48];
   snprintf (prefix, sizeof prefix, "triage_%s_http", app->name);
   return ok && (!app->http || tk_http_server_render_stats (app->http, prefix, out));
}

/* ---- shutdown steps ---------------------------------------------------- */

static void
step_http_closed (void *token)
{
   tk_shutdown_step_done (token);
}

static void
step_close_http (void *user_data, void *token)
{
   tk_app_t *app = user_data;
   app->stopping = true;
   uv_timer_stop (&app->index_retry);
   /* The metrics listener serves to the end of this step: it holds no
    * requests that outlive their answer, so closing it needs no wait. */
   tk_http_server_close (app->metrics_http, NULL, NULL);
   app->metrics_http = NULL;
   tk_http_server_t *http = app->http;
   app->http = NULL;
   tk_http_server_close (http, step_http_closed, token);
}

static void
step_producer_closed (void *token)
{
   tk_shutdown_step_done (token);
}

static void
step_close_producer (void *user_data, void *token)
{
   tk_app_t *app = user_data;
   tk_kafka_producer_t *p = app->producer;
   app->producer = NULL;
   if (!p) {
      tk_shutdown_step_done (token);
      return;
   }
   uint64_t budget = (uint64_t) app->cfg.shutdown_timeout_ms / 2;
   tk_kafka_producer_close (p, budget, step_producer_closed, token);
}

static void
app_shutdown_complete (bool timed_out, void *user_data)
{
   tk_app_t *app = user_data;
   if (timed_out) {
      /* Work that did not finish in time still owns handles and threadpool
       * requests; closing them under its feet would be unsafe. tk_app_run
       * sees this flag and exits the process without tearing down. */
      app->abandoned = true;
      if (app->exit_code == 0) {
         app->exit_code = 1;
      }
      uv_stop (app->loop);
      return;
   }
   uv_close ((uv_handle_t *) &app->index_retry, NULL);
}

static void
app_producer_error (int code, bool fatal, const char *reason, void *opaque)
{
   tk_app_t *app = opaque;
   if (fatal) {
      TK_ERROR ("kafka", "fatal producer error: %s", reason);
      tk_app_stop (app, "fatal Kafka producer error", 1);
   } else {
      TK_WARN ("kafka", "producer: %s", reason);
   }
}

/* ---- lifetime ---------------------------------------------------------- */

static void
app_release (tk_app_t *app)
{
   /* After the HTTP server has closed: no key lookup is in flight. */
   tk_key_gate_destroy (app->gate);
   app->gate = NULL;
   tk_store_destroy (app->store);
   app->store = NULL;
   tk_metrics_destroy (app->metrics);
   app->metrics = NULL;
   tk_taxonomy_destroy (app->taxonomy);
   app->taxonomy = NULL;
   free (app->pt_keys);
   free (app->pt_values);
   app->pt_keys = app->pt_values = NULL;
   tk_config_destroy (&app->cfg);
   mongoc_cleanup ();
}

/* The Kafka producer, with the configuration's pass-through settings
 * handed to librdkafka as two parallel arrays of views into it. */
static bool
app_start_producer (tk_app_t *app, tk_error_t *err)
{
   size_t n = app->cfg.kafka_config.len;
   app->pt_keys = calloc (n + 1, sizeof *app->pt_keys);
   app->pt_values = calloc (n + 1, sizeof *app->pt_values);
   if (!app->pt_keys || !app->pt_values) {
      tk_error_set (err, TK_ERR_NOMEM, 0, "out of memory");
      return false;
   }
   for (size_t i = 0; i < n; i++) {
      app->pt_keys[i] = app->cfg.kafka_config.items[i].key;
      app->pt_values[i] = app->cfg.kafka_config.items[i].value;
   }
   app->kafka_pt = (tk_kafka_passthrough_t) {app->pt_keys, app->pt_values, n};
   app->producer = tk_kafka_producer_new (app->loop, app->cfg.kafka_brokers, &app->kafka_pt,
                                          app_producer_error, app, err);
   return app->producer != NULL;
}

/* The public listener with its health routes. */
static bool
app_start_public_http (tk_app_t *app, tk_error_t *err)
{
   tk_http_options_t http_opts = {
      .host = app->cfg.http_host,
      .port = app->cfg.http_port,
      .max_body_bytes = (size_t) app->cfg.http_max_body,
      .json_body_bytes = (size_t) (app->cfg.http_max_json_body < app->cfg.http_max_body
                                      ? app->cfg.http_max_json_body
                                      : app->cfg.http_max_body),
      .max_header_bytes = (size_t) app->cfg.http_max_header,
      .header_timeout_ms = (uint64_t) app->cfg.http_header_timeout_ms,
      .idle_timeout_ms = (uint64_t) app->cfg.http_idle_timeout_ms,
      .request_timeout_ms = (uint64_t) app->cfg.http_request_timeout_ms,
      .max_connections = (unsigned) app->cfg.http_max_connections,
      .max_client_connections = (unsigned) app->cfg.http_max_client_connections,
      .trusted_proxies = app->cfg.trusted_proxies,
   };
   if (!(app->http = tk_http_server_new (app->loop, &http_opts, err))) {
      if (err->field[0] && !strcmp (err->field, "trusted_proxies")) {
         char msg[sizeof err->message];
         snprintf (msg, sizeof msg, "%s", err->message);
         tk_error_set_field (err, TK_ERR_CONFIG, 0, "TRIAGE_TRUSTED_PROXIES",
                             "TRIAGE_TRUSTED_PROXIES: %s", msg);
      }
      return false;
   }
   return tk_http_add_health_routes (app->http, app_ready, app, err);
}

/* The api's and ingest's key check on the public listener. */
static bool
app_start_key_gate (tk_app_t *app, tk_error_t *err)
{
   char prefix[32];
   snprintf (prefix, sizeof prefix, "%s_auth", app->name);
   tk_key_gate_options_t gate_opts = {
      .off = app->cfg.auth == TK_AUTH_OFF,
      .admin_key = app->cfg.admin_key,
      .rate_per_second = app->cfg.api_rate_limit,
      .rate_burst = app->cfg.api_rate_burst,
      .failures_per_minute = app->cfg.auth_failures_per_minute,
      .metrics_prefix = prefix,
   };
   if (!(app->gate = tk_key_gate_new (app->loop, app->store, app->metrics, &gate_opts))) {
      tk_error_set (err, TK_ERR_NOMEM, 0, "out of memory");
      return false;
   }
   tk_http_server_set_authenticator (app->http, tk_key_gate_authenticate, app->gate);
   return true;
}

/* The metrics listener. Prometheus scrapes without a key, so the figures
 * are served only there (loopback by default), never on the public one. */
static bool
app_start_metrics_http (tk_app_t *app, tk_error_t *err)
{
   tk_http_options_t metrics_opts = {
      .host = app->cfg.metrics_host,
      .port = app->cfg.metrics_port,
      .max_header_bytes = 8 * 1024,
      .header_timeout_ms = (uint64_t) app->cfg.http_header_timeout_ms,
      .idle_timeout_ms = (uint64_t) app->cfg.http_idle_timeout_ms,
      .request_timeout_ms = (uint64_t) app->cfg.http_request_timeout_ms,
      .max_connections = 64,
      .max_client_connections = 16,
   };
   return (app->metrics_http = tk_http_server_new (app->loop, &metrics_opts, err)) &&
          tk_http_add_metrics_route (app->metrics_http, app_metrics, app, err);
}

/* Every listener of the service, and the key check where it has one. */
static bool
app_start_http (tk_app_t *app, tk_error_t *err)
{
   if (!app_start_public_http (app, err)) {
      return false;
   }
   if ((app->service == TK_SVC_API || app->service == TK_SVC_INGEST) &&
       !app_start_key_gate (app, err)) {
      return false;
   }
   return app->cfg.metrics_port == 0 || app_start_metrics_http (app, err);
}

/* A failed tk_app_init: nothing has run on the loop yet, so what was
 * created is closed, the loop reaps it, and the rest is released. */
static void
app_abort_init (tk_app_t *app)
{
   if (app->http) {
      tk_http_server_close (app->http, NULL, NULL);
      app->http = NULL;
   }
   if (app->metrics_http) {
      tk_http_server_close (app->metrics_http, NULL, NULL);
      app->metrics_http = NULL;
   }
   if (app->producer) {
      tk_kafka_producer_close (app->producer, 0, NULL, NULL);
      app->producer = NULL;
   }
   uv_run (app->loop, UV_RUN_DEFAULT);
   app_release (app);
}

tk_app_init_result_t
tk_app_init (tk_app_t *app, tk_service_t svc, int argc, char **argv, tk_error_t *err)
{
   memset (app, 0, sizeof *app);
   app->loop = uv_default_loop ();
   app->service = svc;
   app->name = app_service_name (svc);

   if (!tk_config_load (&app->cfg, svc, argc, argv, NULL, err)) {
      tk_config_destroy (&app->cfg);
      return TK_APP_ERROR;
   }
   if (app->cfg.help_requested) {
      tk_config_print_help (stdout, svc, argv[0]);
      tk_config_destroy (&app->cfg);
      return TK_APP_EXIT;
   }

   tk_log_init (app->name, (tk_log_level_t) app->cfg.log_level);
   mongoc_init ();
   tk_log_route_mongoc ();

   if (app->cfg.taxonomy && *app->cfg.taxonomy) {
      if (!(app->taxonomy = tk_taxonomy_load_file (app->cfg.taxonomy, err))) {
         goto fail;
      }
   } else {
      app->taxonomy = tk_taxonomy_default ();
   }

   if (!(app->metrics = tk_metrics_new ())) {
      tk_error_set (err, TK_ERR_NOMEM, 0, "out of memory");
      goto fail;
   }

   if (!(app->store = tk_store_new (app->cfg.mongo_uri,
                                    app->cfg.mongo_db && *app->cfg.mongo_db ? app->cfg.mongo_db
                                                                            : NULL,
                                    (uint32_t) app->cfg.mongo_pool_size, err))) {
      goto fail;
   }

   if (!app_start_producer (app, err) || !app_start_http (app, err)) {
      goto fail;
   }

   if (!(app->shutdown = tk_shutdown_new (app->loop, (uint64_t) app->cfg.shutdown_timeout_ms,
                                          app_shutdown_complete, app))) {
      tk_error_set (err, TK_ERR_NOMEM, 0, "cannot install signal handlers");
      goto fail;
   }
   uv_timer_init (app->loop, &app->index_retry);
   app->index_retry.data = app;
   return TK_APP_OK;

fail:
   app_abort_init (app);
   return TK_APP_ERROR;
}

bool
tk_app_add_shutdown_step (tk_app_t *app, const char *name, tk_shutdown_step_fn fn,
                          void *user_data)
{
   if (app->n_steps >= TK_APP_MAX_STEPS) {
      return false;
   }
   app->steps[app->n_steps].name = name;
   app->steps[app->n_steps].fn = fn;
   app->steps[app->n_steps].user_data = user_data;
   app->n_steps++;
   return true;
}

void
tk_app_stop (tk_app_t *app, const char *reason, int exit_code)
{
   if (exit_code && !app->exit_code) {
      app->exit_code = exit_code;
   }
   app->stopping = true;
   tk_shutdown_begin (app->shutdown, reason);
}

int
tk_app_run (tk_app_t *app)
{
   tk_error_t err;
   tk_shutdown_add_step (app->shutdown, "stop accepting HTTP connections", step_close_http, app);
   for (size_t i = 0; i < app->n_steps; i++) {
      tk_shutdown_add_step (app->shutdown, app->steps[i].name, app->steps[i].fn,
                            app->steps[i].user_data);
   }
   tk_shutdown_add_step (app->shutdown, "flush and close the Kafka producer", step_close_producer,
                         app);

   if (!tk_http_server_listen (app->http, &err)) {
      TK_ERROR (NULL, "cannot listen on %s:%d: %s", app->cfg.http_host, app->cfg.http_port,
                err.message);
      app->exit_code = 2;
      tk_app_stop (app, "listen failed", 2);
   } else if (app->metrics_http && !tk_http_server_listen (app->metrics_http, &err)) {
      TK_ERROR (NULL, "cannot listen for /metrics on %s:%d (TRIAGE_METRICS_HOST / "
                      "TRIAGE_METRICS_PORT; 0 turns it off): %s",
                app->cfg.metrics_host, app->cfg.metrics_port, err.message);
      app->exit_code = 2;
      tk_app_stop (app, "listen failed", 2);
   } else {
      if (app->metrics_http) {
         TK_INFO (NULL, "metrics on http://%s:%d/metrics", app->cfg.metrics_host,
                  tk_http_server_port (app->metrics_http));
      }
      TK_INFO (NULL, "triage-%s %s listening on http://%s:%d (database \"%s\", brokers %s)",
               app->name, TRIAGE_VERSION, app->cfg.http_host, tk_http_server_port (app->http),
               tk_store_db_name (app->store), app->cfg.kafka_brokers);
      app_ensure_indexes (app);
   }

   uv_run (app->loop, UV_RUN_DEFAULT);

   if (app->abandoned) {
      /* The shutdown deadline passed (or a second signal came) with work in
       * flight. Everything durable is already committed; what was in flight
       * is redelivered to the next owner. Leave without freeing. */
      TK_WARN (NULL, "exiting with work still in flight (code %d)", app->exit_code);
      _exit (app->exit_code);
   }
   int rc = uv_loop_close (app->loop);
   if (rc != 0) {
      TK_WARN (NULL, "event loop closed with handles still open: %s", uv_strerror (rc));
   }
   tk_shutdown_destroy (app->shutdown);
   app->shutdown = NULL;
   int code = app->exit_code;
   app_release (app);
   TK_INFO (NULL, "exited with code %d", code);
   return code;
}
