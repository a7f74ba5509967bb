/* classifier_metrics.h - the classifier's Prometheus series. */
#ifndef CL_CLASSIFIER_METRICS_H
#define CL_CLASSIFIER_METRICS_H

#include "error.h"
#include "metrics.h"

typedef struct {
   tk_metric_t *tickets;   /* {provider, outcome}: classified, fallback, dlq, skipped, missing, bad_request */
   tk_metric_t *attempts;  /* {provider} */
   tk_metric_t *retries;   /* {reason} */
   tk_metric_t *latency;   /* {provider}, seconds */
   tk_series_t *in_flight; /* tickets being worked on */
   tk_series_t *jobs;      /* messages held, including done ones awaiting their commit */
   tk_series_t *circuit;   /* 1 open, 0 closed */
   tk_series_t *rate_waits;
   tk_series_t *pii_masked;
   tk_metric_t *lag;       /* {partition}: high watermark - committed, for owned partitions */
   tk_metric_t *fallbacks; /* {reason}: tickets the fallback provider classified */
   tk_series_t *batch_size; /* tickets per batched provider call */
   tk_series_t *save_batch; /* classifications per bulk write */
   tk_metric_t *reads;      /* {via}: tickets read, by sql (a batch's statement) or collection */
   tk_metric_t *cascade;    /* {answered_by}: local, llm (TRIAGE_CASCADE=on) */
   tk_metric_t *needs_review; /* {model}: tickets stored with needs_review=true */
   tk_metric_t *provider_cpu; /* {provider}: CPU µs of the provider's own work here */
} cl_metrics_t;

/* Registers the families in reg (borrowed). false with err on failure. */
bool cl_metrics_init (cl_metrics_t *m, tk_metrics_t *reg, tk_error_t *err);

#endif
