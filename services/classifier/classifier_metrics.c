/* classifier_metrics.c - the classifier's Prometheus series. */
#include "classifier_metrics.h"

bool
cl_metrics_init (cl_metrics_t *m, tk_metrics_t *reg, tk_error_t *err)
{
   static const char *const provider_outcome[] = {"provider", "outcome", NULL};
   static const char *const provider[] = {"provider", NULL};
   static const char *const reason[] = {"reason", NULL};
   static const char *const partition[] = {"partition", NULL};
   static const double bounds[] = {0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60};
   m->tickets = tk_metrics_counter (reg, "classifier_tickets_total",
                                    "Classification requests by outcome.", provider_outcome);
   m->attempts = tk_metrics_counter (reg, "classifier_attempts_total",
                                     "Provider calls made.", provider);
   m->retries = tk_metrics_counter (reg, "classifier_retries_total",
                                    "Attempts retried, by the reason of the failure.", reason);
   m->latency = tk_metrics_histogram (reg, "classifier_provider_latency_seconds",
                                      "Duration of provider calls.", provider, bounds,
                                      sizeof bounds / sizeof bounds[0]);
   m->in_flight = tk_metric_labels (tk_metrics_gauge (reg, "classifier_in_flight",
                                                      "Tickets being classified now.", NULL));
   m->jobs = tk_metric_labels (tk_metrics_gauge (reg, "classifier_messages_held",
                                                 "Classify messages held, done or not, until "
                                                 "their offsets are committed.",
                                                 NULL));
   m->circuit = tk_metric_labels (tk_metrics_gauge (reg, "classifier_circuit_open",
                                                    "1 while the provider circuit is open.", NULL));
   m->rate_waits = tk_metric_labels (tk_metrics_counter (
      reg, "classifier_rate_limit_waits_total", "Attempts delayed by the client-side rate limit.",
      NULL));
   m->pii_masked = tk_metric_labels (tk_metrics_counter (
      reg, "classifier_pii_masked_total", "Personal data items masked before leaving.", NULL));
   m->lag = tk_metrics_gauge (reg, "classifier_consumer_lag",
                              "Classify messages not yet committed (high watermark minus the "
                              "committed offset), per partition this worker owns.",
                              partition);
   m->fallbacks = tk_metrics_counter (reg, "classifier_fallbacks_total",
                                      "Tickets the remote provider failed for the last time "
                                      "and the fallback provider classified, by the reason of "
                                      "the last failure.",
                                      reason);
   static const char *const answered_by[] = {"answered_by", NULL};
   m->cascade = tk_metrics_counter (reg, "classifier_cascade_total",
                                    "Tickets the cascade (TRIAGE_CASCADE=on) kept with the "
                                    "built-in model's answer (local) or sent on to the LLM (llm).",
                                    answered_by);
   static const char *const model[] = {"model", NULL};
   m->needs_review = tk_metrics_counter (reg, "classifier_needs_review_total",
                                         "Classifications stored with needs_review=true (a "
                                         "confidence under TRIAGE_REVIEW_BELOW), by model_version.",
                                         model);
   m->provider_cpu = tk_metrics_counter (
      reg, "classifier_provider_cpu_microseconds_total",
      "CPU time this process spent in the provider's own work (the built-in model on the "
      "thread pool; 0 for remote providers), microseconds.",
      provider);
   static const double batch_bounds[] = {1, 2, 4, 8, 12, 16, 20};
   m->batch_size = tk_metric_labels (tk_metrics_histogram (
      reg, "classifier_batch_size", "Tickets per batched provider call.", NULL, batch_bounds,
      sizeof batch_bounds / sizeof batch_bounds[0]));
   static const double save_bounds[] = {1, 2, 4, 8, 16, 32};
   m->save_batch = tk_metric_labels (tk_metrics_histogram (
      reg, "classifier_save_batch_size", "Classifications stored per bulk write.", NULL,
      save_bounds, sizeof save_bounds / sizeof save_bounds[0]));
   static const char *const via[] = {"via", NULL};
   m->reads = tk_metrics_counter (reg, "classifier_ticket_reads_total",
                                  "Tickets read before classifying, by where from: sql (a batch "
                                  "read in one statement from FerretDB's table, "
                                  "TRIAGE_LIST_SQL_URL) or collection.",
                                  via);
   if (!m->reads || !m->save_batch || !m->provider_cpu || !m->cascade || !m->needs_review || !m->fallbacks || !m->batch_size || !m->lag || !m->tickets || !m->attempts || !m->retries || !m->latency || !m->in_flight || !m->jobs ||
       !m->circuit || !m->rate_waits || !m->pii_masked) {
      tk_error_set (err, TK_ERR_NOMEM, 0, "cannot register the classifier's metrics");
      return false;
   }
   return true;
}
