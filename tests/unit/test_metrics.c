/* Unit tests for common/metrics.c: the exact Prometheus text exposition,
 * label and HELP escaping, registration rules, and exact sums under
 * concurrent updates from several threads. */
#include "test_support.h"

#include "metrics.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LABELS(...) ((const char *const[]){__VA_ARGS__, NULL})

/* Asserts that text is exactly the given lines, each ended by '\n', and
 * reports the first line that differs. */
static void
assert_lines (const char *text, const char *const *want)
{
   const char *p = text;
   size_t i = 0;
   for (; want[i]; i++) {
      const char *eol = strchr (p, '\n');
      if (!eol) {
         fail_msg ("line %zu missing, wanted: %s", i + 1, want[i]);
      }
      char line[512];
      snprintf (line, sizeof line, "%.*s", (int) (eol - p), p);
      if (strcmp (line, want[i]) != 0) {
         fail_msg ("line %zu:\n   got: %s\nwanted: %s", i + 1, line, want[i]);
      }
      p = eol + 1;
   }
   if (*p) {
      fail_msg ("extra text after line %zu: %s", i, p);
   }
}

static char *
render (tk_metrics_t *reg)
{
   size_t len = 0;
   char *text = tk_metrics_render (reg, &len);
   assert_non_null (text);
   assert_int_equal (len, strlen (text));
   return text;
}

static void
test_counter_and_gauge_exposition (void **state)
{
   (void) state;
   tk_metrics_t *reg = tk_metrics_new ();
   assert_non_null (reg);

   tk_metric_t *ingested =
      tk_metrics_counter (reg, "tickets_ingested_total", "Tickets stored.", NULL);
   tk_metric_t *rejected = tk_metrics_counter (reg, "tickets_rejected_total",
                                               "Tickets refused at ingest.", LABELS ("reason"));
   tk_metric_t *inflight = tk_metrics_gauge (reg, "http_inflight", "Requests in flight.", NULL);
   tk_metric_t *lag = tk_metrics_gauge (reg, "consumer_lag", "Messages behind.",
                                        LABELS ("topic", "partition"));
   tk_metric_t *unused = tk_metrics_counter (reg, "never_total", "Nothing yet.", LABELS ("x"));
   assert_non_null (ingested);
   assert_non_null (rejected);
   assert_non_null (inflight);
   assert_non_null (lag);
   assert_non_null (unused);

   tk_counter_add (tk_metric_labels (ingested), 41);
   tk_counter_inc (tk_metric_labels (ingested));
   tk_counter_inc (tk_metric_labels (rejected, "missing_field"));
   tk_counter_inc (tk_metric_labels (rejected, "too_large"));
   tk_counter_inc (tk_metric_labels (rejected, "missing_field"));
   tk_series_t *g = tk_metric_labels (inflight);
   tk_gauge_set (g, 2.5);
   tk_gauge_inc (g);
   tk_gauge_dec (g);
   tk_gauge_add (g, -0.25);
   tk_gauge_set (tk_metric_labels (lag, "tickets.classify", "3"), 1200);
   tk_gauge_set (tk_metric_labels (lag, "tickets.classify", "0"), 0.1);

   assert_int_equal (tk_counter_get (tk_metric_labels (ingested)), 42);
   assert_true (tk_gauge_get (g) == 2.25);

   char *text = render (reg);
   assert_lines (text, (const char *const[]){
                          "# HELP triage_tickets_ingested_total Tickets stored.",
                          "# TYPE triage_tickets_ingested_total counter",
                          "triage_tickets_ingested_total 42",
                          "# HELP triage_tickets_rejected_total Tickets refused at ingest.",
                          "# TYPE triage_tickets_rejected_total counter",
                          "triage_tickets_rejected_total{reason=\"missing_field\"} 2",
                          "triage_tickets_rejected_total{reason=\"too_large\"} 1",
                          "# HELP triage_http_inflight Requests in flight.",
                          "# TYPE triage_http_inflight gauge",
                          "triage_http_inflight 2.25",
                          "# HELP triage_consumer_lag Messages behind.",
                          "# TYPE triage_consumer_lag gauge",
                          "triage_consumer_lag{topic=\"tickets.classify\",partition=\"3\"} 1200",
                          "triage_consumer_lag{topic=\"tickets.classify\",partition=\"0\"} 0.1",
                          "# HELP triage_never_total Nothing yet.",
                          "# TYPE triage_never_total counter",
                          NULL});
   free (text);
   tk_metrics_destroy (reg);
}

static void
test_histogram_exposition (void **state)
{
   (void) state;
   tk_metrics_t *reg = tk_metrics_new ();
   static const double bounds[] = {0.125, 0.5, 1, 2.5};
   tk_metric_t *h = tk_metrics_histogram (reg, "mongo_write_seconds", "Time per write.", NULL,
                                          bounds, 4);
   tk_metric_t *hl = tk_metrics_histogram (reg, "http_request_seconds", "Time per request.",
                                           LABELS ("route"), bounds, 4);
   assert_non_null (h);
   assert_non_null (hl);

   /* Exactly representable values, so the sum is exact. 0.125 sits on a
    * bound and counts in that bucket (le means "less than or equal"). */
   static const double seen[] = {0.0625, 0.125, 0.25, 1, 3};
   tk_series_t *s = tk_metric_labels (h);
   for (size_t i = 0; i < 5; i++) {
      tk_histogram_observe (s, seen[i]);
   }
   tk_histogram_observe (tk_metric_labels (hl, "/tickets"), 0.75);
   assert_int_equal (tk_histogram_count (s), 5);
   assert_true (tk_histogram_sum (s) == 4.4375);

   char *text = render (reg);
   assert_lines (text, (const char *const[]){
                          "# HELP triage_mongo_write_seconds Time per write.",
                          "# TYPE triage_mongo_write_seconds histogram",
                          "triage_mongo_write_seconds_bucket{le=\"0.125\"} 2",
                          "triage_mongo_write_seconds_bucket{le=\"0.5\"} 3",
                          "triage_mongo_write_seconds_bucket{le=\"1\"} 4",
                          "triage_mongo_write_seconds_bucket{le=\"2.5\"} 4",
                          "triage_mongo_write_seconds_bucket{le=\"+Inf\"} 5",
                          "triage_mongo_write_seconds_sum 4.4375",
                          "triage_mongo_write_seconds_count 5",
                          "# HELP triage_http_request_seconds Time per request.",
                          "# TYPE triage_http_request_seconds histogram",
                          "triage_http_request_seconds_bucket{route=\"/tickets\",le=\"0.125\"} 0",
                          "triage_http_request_seconds_bucket{route=\"/tickets\",le=\"0.5\"} 0",
                          "triage_http_request_seconds_bucket{route=\"/tickets\",le=\"1\"} 1",
                          "triage_http_request_seconds_bucket{route=\"/tickets\",le=\"2.5\"} 1",
                          "triage_http_request_seconds_bucket{route=\"/tickets\",le=\"+Inf\"} 1",
                          "triage_http_request_seconds_sum{route=\"/tickets\"} 0.75",
                          "triage_http_request_seconds_count{route=\"/tickets\"} 1",
                          NULL});
   free (text);
   tk_metrics_destroy (reg);
}

static void
test_escaping (void **state)
{
   (void) state;
   tk_metrics_t *reg = tk_metrics_new ();
   tk_metric_t *c = tk_metrics_counter (reg, "errors_total",
                                        "Errors by \"kind\".\nSecond line \\ done.",
                                        LABELS ("kind"));
   tk_counter_inc (tk_metric_labels (c, "quote \" backslash \\ newline \n end"));
   tk_counter_inc (tk_metric_labels (c, "plain"));
   char *text = render (reg);
   assert_lines (text,
                 (const char *const[]){
                    "# HELP triage_errors_total Errors by \"kind\".\\nSecond line \\\\ done.",
                    "# TYPE triage_errors_total counter",
                    "triage_errors_total{kind=\"quote \\\" backslash \\\\ newline \\n end\"} 1",
                    "triage_errors_total{kind=\"plain\"} 1",
                    NULL});
   free (text);
   tk_metrics_destroy (reg);
}

static void
test_special_values (void **state)
{
   (void) state;
   tk_metrics_t *reg = tk_metrics_new ();
   tk_metric_t *g = tk_metrics_gauge (reg, "g", "", LABELS ("v"));
   tk_gauge_set (tk_metric_labels (g, "inf"), INFINITY);
   tk_gauge_set (tk_metric_labels (g, "ninf"), -INFINITY);
   tk_gauge_set (tk_metric_labels (g, "nan"), NAN);
   tk_gauge_set (tk_metric_labels (g, "third"), 1.0 / 3.0);
   tk_gauge_set (tk_metric_labels (g, "big"), 1e21);
   tk_gauge_set (tk_metric_labels (g, "neg"), -7);
   char *text = render (reg);
   assert_lines (text, (const char *const[]){
                          "# HELP triage_g ",
                          "# TYPE triage_g gauge",
                          "triage_g{v=\"inf\"} +Inf",
                          "triage_g{v=\"ninf\"} -Inf",
                          "triage_g{v=\"nan\"} NaN",
                          "triage_g{v=\"third\"} 0.3333333333333333",
                          "triage_g{v=\"big\"} 1e+21",
                          "triage_g{v=\"neg\"} -7",
                          NULL});
   free (text);
   tk_metrics_destroy (reg);
}

static void
test_registration_rules (void **state)
{
   (void) state;
   tk_metrics_t *reg = tk_metrics_new ();
   static const double bounds[] = {1, 2};
   static const double unsorted[] = {2, 1};

   tk_metric_t *c = tk_metrics_counter (reg, "a_total", "A.", LABELS ("x"));
   assert_non_null (c);
   /* Same shape: the same family. Another type or labels: refused. */
   assert_ptr_equal (tk_metrics_counter (reg, "a_total", "A again.", LABELS ("x")), c);
   assert_null (tk_metrics_gauge (reg, "a_total", "A.", LABELS ("x")));
   assert_null (tk_metrics_counter (reg, "a_total", "A.", LABELS ("y")));
   assert_null (tk_metrics_counter (reg, "a_total", "A.", NULL));

   assert_null (tk_metrics_counter (reg, "bad-name", "", NULL));
   assert_null (tk_metrics_counter (reg, "9lives", "", NULL));
   assert_null (tk_metrics_counter (reg, "", "", NULL));
   assert_null (tk_metrics_counter (reg, "ok", "", LABELS ("__reserved")));
   assert_null (tk_metrics_counter (reg, "ok", "", LABELS ("a:b")));
   assert_null (tk_metrics_counter (reg, "ok", "", LABELS ("dup", "dup")));
   assert_null (tk_metrics_histogram (reg, "h", "", LABELS ("le"), bounds, 2));
   assert_null (tk_metrics_histogram (reg, "h", "", NULL, unsorted, 2));
   assert_non_null (tk_metrics_histogram (reg, "h", "", NULL, bounds, 2));
   assert_null (tk_metrics_histogram (reg, "h", "", NULL, bounds, 1)); /* other buckets */
   assert_null (tk_metrics_counter (NULL, "ok", "", NULL));

   /* A series is created once per set of values. */
   tk_series_t *s = tk_metric_labels (c, "one");
   assert_non_null (s);
   assert_ptr_equal (tk_metric_labels (c, "one"), s);
   assert_ptr_not_equal (tk_metric_labels (c, "two"), s);
   assert_ptr_equal (tk_metric_series (c, (const char *const[]){"one"}), s);
   assert_null (tk_metric_series (c, (const char *const[]){NULL}));
   assert_null (tk_metric_labels (NULL));

   /* Updates on NULL or on a series of another type change nothing. */
   tk_counter_inc (NULL);
   tk_gauge_set (NULL, 1);
   tk_histogram_observe (NULL, 1);
   tk_gauge_set (s, 5);
   tk_histogram_observe (s, 5);
   tk_counter_inc (s);
   assert_int_equal (tk_counter_get (s), 1);
   assert_true (tk_gauge_get (s) == 0.0);

   /* Only valid families were kept. */
   char *text = render (reg);
   assert_lines (text, (const char *const[]){
                          "# HELP triage_a_total A.",
                          "# TYPE triage_a_total counter",
                          "triage_a_total{x=\"one\"} 1",
                          "triage_a_total{x=\"two\"} 0",
                          "# HELP triage_h ",
                          "# TYPE triage_h histogram",
                          "triage_h_bucket{le=\"1\"} 0",
                          "triage_h_bucket{le=\"2\"} 0",
                          "triage_h_bucket{le=\"+Inf\"} 0",
                          "triage_h_sum 0",
                          "triage_h_count 0",
                          NULL});
   free (text);
   tk_metrics_destroy (reg);
}

static void
test_empty_and_null (void **state)
{
   (void) state;
   tk_metrics_t *reg = tk_metrics_new ();
   size_t len = 99;
   char *text = tk_metrics_render (reg, &len);
   assert_non_null (text);
   assert_string_equal (text, "");
   assert_int_equal (len, 0);
   free (text);
   tk_metrics_destroy (reg);
   tk_metrics_destroy (NULL);
   assert_null (tk_metrics_render (NULL, NULL));
}

enum { THREADS = 4, ROUNDS = 50000 };

typedef struct {
   tk_metric_t *plain, *labelled, *gauge, *hist;
   int id;
} worker_t;

static void *
worker (void *arg)
{
   worker_t *w = arg;
   char own[16];
   snprintf (own, sizeof own, "t%d", w->id);
   tk_series_t *plain = tk_metric_labels (w->plain);
   tk_series_t *g = tk_metric_labels (w->gauge);
   tk_series_t *h = tk_metric_labels (w->hist);
   for (int i = 0; i < ROUNDS; i++) {
      tk_counter_inc (plain);
      /* Looked up every time, so threads race to create the series. */
      tk_counter_inc (tk_metric_labels (w->labelled, "shared"));
      tk_counter_add (tk_metric_labels (w->labelled, own), 2);
      tk_gauge_inc (g);
      tk_histogram_observe (h, 0.5);
   }
   return NULL;
}

static size_t
count_substr (const char *text, const char *needle)
{
   size_t n = 0;
   for (const char *p = text; (p = strstr (p, needle)); p++) {
      n++;
   }
   return n;
}

static void
test_concurrent_updates_sum_exactly (void **state)
{
   (void) state;
   tk_metrics_t *reg = tk_metrics_new ();
   static const double bounds[] = {0.25, 1};
   worker_t w[THREADS];
   pthread_t threads[THREADS];
   tk_metric_t *plain = tk_metrics_counter (reg, "plain_total", "p", NULL);
   tk_metric_t *labelled = tk_metrics_counter (reg, "labelled_total", "l", LABELS ("who"));
   tk_metric_t *gauge = tk_metrics_gauge (reg, "level", "g", NULL);
   tk_metric_t *hist = tk_metrics_histogram (reg, "size", "h", NULL, bounds, 2);

   for (int i = 0; i < THREADS; i++) {
      w[i] = (worker_t){plain, labelled, gauge, hist, i};
      assert_int_equal (pthread_create (&threads[i], NULL, worker, &w[i]), 0);
   }
   /* Rendering while the workers run must be safe (ASan/TSan material). */
   char *during = tk_metrics_render (reg, NULL);
   assert_non_null (during);
   free (during);
   for (int i = 0; i < THREADS; i++) {
      assert_int_equal (pthread_join (threads[i], NULL), 0);
   }

   const uint64_t total = (uint64_t) THREADS * ROUNDS;
   assert_int_equal (tk_counter_get (tk_metric_labels (plain)), total);
   assert_int_equal (tk_counter_get (tk_metric_labels (labelled, "shared")), total);
   for (int i = 0; i < THREADS; i++) {
      char own[16];
      snprintf (own, sizeof own, "t%d", i);
      assert_int_equal (tk_counter_get (tk_metric_labels (labelled, own)), 2 * ROUNDS);
   }
   assert_true (tk_gauge_get (tk_metric_labels (gauge)) == (double) total);
   assert_int_equal (tk_histogram_count (tk_metric_labels (hist)), total);
   assert_true (tk_histogram_sum (tk_metric_labels (hist)) == 0.5 * (double) total);

   char *text = render (reg);
   assert_int_equal (count_substr (text, "who=\"shared\""), 1); /* one series, not four */
   char line[128];
   snprintf (line, sizeof line, "\ntriage_size_bucket{le=\"1\"} %llu\n",
             (unsigned long long) total);
   assert_non_null (strstr (text, line));
   snprintf (line, sizeof line, "\ntriage_size_bucket{le=\"0.25\"} 0\n");
   assert_non_null (strstr (text, line));
   free (text);
   tk_metrics_destroy (reg);
}

int
main (void)
{
   const struct CMUnitTest tests[] = {
      cmocka_unit_test (test_counter_and_gauge_exposition),
      cmocka_unit_test (test_histogram_exposition),
      cmocka_unit_test (test_escaping),
      cmocka_unit_test (test_special_values),
      cmocka_unit_test (test_registration_rules),
      cmocka_unit_test (test_empty_and_null),
      cmocka_unit_test (test_concurrent_updates_sum_exactly),
   };
   return cmocka_run_group_tests (tests, NULL, NULL);
}
