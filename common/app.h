/* app.h - the runtime every triage service is built on.
 *
 * One loop, one configuration, one store (libmongoc pool, used off the loop),
 * one Kafka producer, one HTTP listener with /healthz and /readyz (and, for
 * the api and ingest, the API key check of key_gate.h installed on it), a
 * second listener with /metrics alone (TRIAGE_METRICS_HOST/_PORT, for
 * Prometheus, no key), one metrics registry and a graceful shutdown on
 * SIGINT/SIGTERM. A service's main() is then:
 *
 *    tk_app_t app;
 *    tk_error_t err;
 *    switch (tk_app_init (&app, TK_SVC_INGEST, argc, argv, &err)) { ... }
 *    ... register routes on app.http, start consumers, add shutdown steps ...
 *    return tk_app_run (&app);
 *
 * Shutdown order: stop accepting HTTP connections (in-flight requests
 * finish), then the service's own steps in the order it added them (stop
 * consuming, finish in-flight work), then flush and close the Kafka producer.
 * When the loop has stopped, tk_app_run frees everything.
 */
#ifndef TK_APP_H
#define TK_APP_H

#include <stdbool.h>
#include <uv.h>

#include "config.h"
#include "error.h"
#include "http_server.h"
#include "kafka.h"
#include "key_gate.h"
#include "metrics.h"
#include "shutdown.h"
#include "store.h"
#include "taxonomy.h"

#define TK_APP_MAX_STEPS 12

typedef struct tk_app {
   uv_loop_t *loop;              /* the default loop */
   tk_config_t cfg;
   tk_service_t service;
   const char *name;             /* "ingest", "classifier", "api" */
   tk_metrics_t *metrics;
   tk_store_t *store;
   tk_kafka_producer_t *producer;      /* NULL once closed */
   tk_kafka_passthrough_t kafka_pt;    /* views into cfg.kafka_config */
   tk_http_server_t *http;             /* NULL once closed */
   tk_http_server_t *metrics_http;     /* GET /metrics alone; NULL if off or closed */
   tk_key_gate_t *gate;                /* API keys on http (ingest, api); else NULL */
   tk_shutdown_t *shutdown;
   tk_taxonomy_t *taxonomy;            /* the default, or loaded from cfg.taxonomy */

   /* Set by the runtime, read by services. */
   bool indexes_ready;           /* ensure_indexes has succeeded */
   bool stopping;                /* shutdown has begun: take no new work */
   bool abandoned;               /* the shutdown deadline passed */

   /* Internal. */
   struct {
      const char *name;
      tk_shutdown_step_fn fn;
      void *user_data;
   } steps[TK_APP_MAX_STEPS];
   size_t n_steps;
   uv_timer_t index_retry;
   const char **pt_keys;
   const char **pt_values;
   int exit_code;
} tk_app_t;

typedef enum {
   TK_APP_OK = 0,    /* go on: register routes, then tk_app_run */
   TK_APP_EXIT = 1,  /* --help was printed: exit 0 */
   TK_APP_ERROR = 2, /* err says why (a bad setting names its variable): exit 2 */
} tk_app_init_result_t;

/* Loads the configuration for svc from argv and the environment, sets up
 * logging (with libmongoc's and librdkafka's logs routed into it), the
 * taxonomy, the store (indexes are ensured in the background, retried until
 * the database answers), the producer, the HTTP server with its health
 * routes, and the signal handlers. Nothing listens until tk_app_run. On
 * TK_APP_ERROR everything already set up has been released. */
tk_app_init_result_t tk_app_init (tk_app_t *app, tk_service_t svc, int argc, char **argv,
                                  tk_error_t *err);

/* Adds a shutdown step that runs after the HTTP listener has stopped and
 * before the producer is flushed. Call before tk_app_run. */
bool tk_app_add_shutdown_step (tk_app_t *app, const char *name, tk_shutdown_step_fn fn,
                               void *user_data);

/* Binds the listener, runs the loop until shutdown completes, frees
 * everything and returns the process exit code (0 after a clean shutdown). */
int tk_app_run (tk_app_t *app);

/* Starts the shutdown as a signal would (e.g. on a fatal Kafka error). */
void tk_app_stop (tk_app_t *app, const char *reason, int exit_code);

#endif
