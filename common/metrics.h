/* metrics.h - counters, gauges and histograms in Prometheus text format.
 *
 * A registry (tk_metrics_t) holds metric families; a family has a name, help
 * text, optional label names and, for histograms, fixed bucket bounds. Each
 * combination of label values is a series, created on first use and kept
 * until the registry is destroyed, so a caller may look a series up once and
 * keep the pointer:
 *
 *    tk_metric_t *rejected = tk_metrics_counter (reg, "tickets_rejected_total",
 *       "Tickets refused at ingest.", (const char *[]) {"reason", NULL});
 *    tk_counter_inc (tk_metric_labels (rejected, "missing_field"));
 *
 * Every name is exposed with the prefix "triage_" (the example renders as
 * triage_tickets_rejected_total{reason="missing_field"} 1).
 *
 * Threads: every update and lookup may be called from any thread (the loop
 * thread and uv_queue_work threads). Updates are lock-free C11 atomics;
 * looking up a labelled series takes the registry's mutex, so a hot path
 * should keep the series pointer. Registering families and rendering also
 * take the mutex.
 *
 * Misuse (a bad name, a family re-registered with another type or labels, a
 * wrong label count) is a programming error: the call returns NULL, and every
 * update accepts a NULL series and does nothing, so a metrics mistake never
 * takes a service down. The unit tests catch such mistakes.
 */
#ifndef TK_METRICS_H
#define TK_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct tk_metrics tk_metrics_t; /* a registry */
typedef struct tk_metric tk_metric_t;   /* a family: name, help, labels */
typedef struct tk_series tk_series_t;   /* one set of label values */

/* A new empty registry, or NULL if out of memory. Free with
 * tk_metrics_destroy. */
tk_metrics_t *tk_metrics_new (void);

/* Frees the registry with every family and series in it; their pointers die
 * with it. No other thread may use it any more. Accepts NULL. */
void tk_metrics_destroy (tk_metrics_t *reg);

/* Registers a family and returns it (borrowed; valid until the registry is
 * destroyed). name is without the "triage_" prefix; label_names is a
 * NULL-terminated array or NULL for none. Registering the same name again
 * with the same type, labels (and buckets) returns the existing family.
 * Returns NULL on a bad name, a conflicting registration or out of memory.
 * Strings are copied. A family without labels has its one series from the
 * start, so it renders 0 before its first update. */
tk_metric_t *tk_metrics_counter (tk_metrics_t *reg, const char *name, const char *help,
                                 const char *const *label_names);
tk_metric_t *tk_metrics_gauge (tk_metrics_t *reg, const char *name, const char *help,
                               const char *const *label_names);

/* bounds: nbounds finite upper bounds in increasing order (copied); the +Inf
 * bucket is implicit. "le" cannot be a label name. */
tk_metric_t *tk_metrics_histogram (tk_metrics_t *reg, const char *name, const char *help,
                                   const char *const *label_names, const double *bounds,
                                   size_t nbounds);

/* The series of metric for one set of label values, created on first use
 * (values are copied). Pass exactly as many const char * values as the
 * family has label names (none for an unlabelled family). Returns a borrowed
 * pointer valid until the registry is destroyed, or NULL if metric is NULL,
 * a value is NULL, or out of memory. */
tk_series_t *tk_metric_labels (tk_metric_t *metric, ...);

/* Same, with the values in an array of the family's label count. */
tk_series_t *tk_metric_series (tk_metric_t *metric, const char *const *values);

/* Updates; each accepts NULL and ignores a series of another type. */
void tk_counter_inc (tk_series_t *s);
void tk_counter_add (tk_series_t *s, uint64_t n);
void tk_gauge_set (tk_series_t *s, double v);
void tk_gauge_add (tk_series_t *s, double delta); /* negative to decrease */
void tk_gauge_inc (tk_series_t *s);
void tk_gauge_dec (tk_series_t *s);
void tk_histogram_observe (tk_series_t *s, double v);

/* Current values, for tests and health reports. 0 for NULL or another type. */
uint64_t tk_counter_get (const tk_series_t *s);
double tk_gauge_get (const tk_series_t *s);
uint64_t tk_histogram_count (const tk_series_t *s);
double tk_histogram_sum (const tk_series_t *s);

/* Renders the whole registry in the Prometheus text exposition format 0.0.4
 * (Content-Type: text/plain; version=0.0.4): for each family in registration
 * order its # HELP and # TYPE lines, then its series in creation order.
 * Returns a NUL-terminated malloc'd buffer the caller frees, its length in
 * *len (may be NULL), or NULL if out of memory. */
char *tk_metrics_render (tk_metrics_t *reg, size_t *len);

/* The content type to serve the rendering with. */
#define TK_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

#endif
