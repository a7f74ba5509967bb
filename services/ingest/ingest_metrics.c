/* ingest_metrics.c - the metric families triage-ingest exposes on /metrics. */
#include "ingest.h"

static const double batch_seconds_bounds[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                              0.5,   1,    2.5,   5,    10};
static const double batch_size_bounds[] = {1, 10, 50, 100, 250, 500, 1000, 5000, 10000};

bool
ingest_metrics_init (ingest_metrics_t *m, tk_metrics_t *reg)
{
   m->received = tk_metrics_counter (reg, "ingest_tickets_received_total",
                                     "Tickets received, valid or not, by source.",
                                     (const char *[]) {"source", NULL});
   m->outcome = tk_metrics_counter (
      reg, "ingest_tickets_written_total",
      "Tickets the store answered for, by source and outcome (stored, duplicate, updated, "
      "unchanged).",
      (const char *[]) {"source", "outcome", NULL});
   m->rejected = tk_metrics_counter (reg, "ingest_tickets_rejected_total",
                                     "Tickets refused as invalid, by source and reason.",
                                     (const char *[]) {"source", "reason", NULL});
   m->failed = tk_metrics_counter (reg, "ingest_tickets_failed_total",
                                   "Tickets the store could not write, by source.",
                                   (const char *[]) {"source", NULL});
   tk_metric_t *dlq = tk_metrics_counter (reg, "ingest_dlq_messages_total",
                                          "Inbound messages delivered to the dead-letter topic.",
                                          NULL);
   m->classify = tk_metrics_counter (reg, "ingest_classify_requests_total",
                                     "Classification requests, by result (delivered, retried, "
                                     "dropped).",
                                     (const char *[]) {"result", NULL});
   tk_metric_t *bs = tk_metrics_histogram (reg, "ingest_batch_duration_seconds",
                                           "Time one bulk write to MongoDB took.", NULL,
                                           batch_seconds_bounds,
                                           sizeof batch_seconds_bounds / sizeof (double));
   tk_metric_t *bz = tk_metrics_histogram (reg, "ingest_batch_size", "Tickets per bulk write.",
                                           NULL, batch_size_bounds,
                                           sizeof batch_size_bounds / sizeof (double));
   tk_metric_t *pending = tk_metrics_gauge (reg, "ingest_pending_tickets",
                                            "Tickets queued for or in a bulk write.", NULL);
   tk_metric_t *up = tk_metrics_gauge (
      reg, "ingest_store_up", "1 while MongoDB accepts writes, 0 while it is unreachable.", NULL);
   tk_metric_t *paused = tk_metrics_gauge (reg, "ingest_consumer_paused",
                                           "1 while the inbound consumer is paused.", NULL);
   m->lag = tk_metrics_gauge (
      reg, "ingest_consumer_lag",
      "Messages of an inbound partition not yet committed: librdkafka's last known high "
      "watermark minus the offset ingest committed (or first read, before its first commit).",
      (const char *[]) {"topic", "partition", NULL});
   m->dlq = tk_metric_labels (dlq);
   m->batch_seconds = tk_metric_labels (bs);
   m->batch_size = tk_metric_labels (bz);
   m->pending = tk_metric_labels (pending);
   m->store_up = tk_metric_labels (up);
   m->consumer_paused = tk_metric_labels (paused);
   tk_gauge_set (m->store_up, 1);
   return m->received && m->outcome && m->rejected && m->failed && m->dlq && m->classify &&
          m->batch_seconds && m->batch_size && m->pending && m->store_up && m->consumer_paused &&
          m->lag;
}
